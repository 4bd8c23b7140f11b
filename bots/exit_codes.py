"""How a `coolthing run bots` process tells the watchdog why it ended.

0   stopped on request (SIGTERM / Ctrl-C): not restarted unless the account still wants one.
78  the account cannot be used (banned, revoked, paused, deleted; ``accounts.status`` says
    which): not a crash, never restarted until the account is active again. 78 is sysexits'
    EX_CONFIG: the configuration, not the program, is what has to change.
anything else (1 for an exception, 2 for a start-up error, 128+N or -N for signal N): a crash.
A FloodWait never ends the process: the worker waits it out, and its heartbeat goes on.
"""

from __future__ import annotations

EXIT_STOPPED = 0
EXIT_ACCOUNT_UNUSABLE = 78
