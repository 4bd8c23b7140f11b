"""The world model and the account rules, called directly (no HTTP)."""

from __future__ import annotations

import pytest

from sandbox import accounts
from sandbox.errors import SandboxError
from sandbox.faults import FloodWaitFault, ForbidWritesFault, apply_fault
from sandbox.limits import AccountLimitsConfig, LimitsConfig
from sandbox.state import Log, World, normalize_ref


def test_a_log_keeps_positions_stable_while_dropping_the_oldest_items() -> None:
    log: Log[int] = Log(keep=3)
    for n in range(7):
        assert log.append(n) == n

    assert log.start >= 1 and log.end == 7
    assert log.read(5, 10) == (5, [5, 6])
    start, items = log.read(0, 10)  # a cursor older than what is kept starts at the oldest
    assert start == log.start and items[-1] == 6
    assert log.read(99, 10) == (7, [])  # a cursor from the future is "now"
    assert log.get(6) == 6 and log.get(0) is None


@pytest.mark.parametrize(
    "ref", ["python_ru", "@python_ru", "t.me/python_ru", "https://t.me/Python_RU/", "  @python_ru "]
)
def test_chat_refs_in_every_usual_spelling_name_the_same_chat(ref: str) -> None:
    assert normalize_ref(ref) == "python_ru"


@pytest.mark.parametrize("ref", ["https://t.me/+AbCdEf", "t.me/joinchat/xyz", "ab", "", "1abc"])
def test_invite_links_and_malformed_refs_name_no_public_chat(ref: str) -> None:
    assert normalize_ref(ref) is None


def test_a_chat_message_reaches_member_accounts_but_not_its_author() -> None:
    world = World()
    chat = world.add_chat("python_ru", "Python")
    member, _ = world.add_account("Member")
    author, _ = world.add_account("Author")
    outsider, _ = world.add_account("Outsider")
    for account in (member, author):
        accounts.join(world, account, "@python_ru")

    accounts.send(world, author, "@python_ru", "всем привет")

    assert [m.text for m in member.inbox.read(0, 10)[1]] == ["всем привет"]
    assert author.inbox.end == 0 and outsider.inbox.end == 0
    assert chat.history.get(0) is not None


def test_usernames_and_chat_refs_share_one_namespace() -> None:
    world = World()
    world.add_user("Anna", username="anna_k")

    with pytest.raises(SandboxError) as taken:
        world.add_chat("@Anna_K", "Anna's chat")
    assert taken.value.code == "USERNAME_OCCUPIED"


def test_checks_run_in_order_faults_then_refusals_then_limits() -> None:
    world = World()
    world.add_chat("python_ru", "Python")
    account, _ = world.add_account("Parser")
    apply_fault(world, FloodWaitFault(kind="flood_wait", account=account.user.id, seconds=9))

    with pytest.raises(SandboxError) as refused:
        accounts.send(world, account, "@python_ru", "hi")  # the fault wins over "not a member"
    assert (refused.value.code, refused.value.seconds) == ("FLOOD_WAIT", 9)
    with pytest.raises(SandboxError) as refused:
        accounts.send(world, account, "@python_ru", "hi")
    assert refused.value.code == "CHAT_WRITE_FORBIDDEN"


def test_a_write_ban_for_one_account_leaves_the_others_alone() -> None:
    world = World()
    world.add_chat("python_ru", "Python")
    banned, _ = world.add_account("Banned")
    other, _ = world.add_account("Other")
    for account in (banned, other):
        accounts.join(world, account, "python_ru")
    fault = ForbidWritesFault(kind="forbid_writes", chat="python_ru", account=banned.user.id)
    apply_fault(world, fault)

    with pytest.raises(SandboxError, match="CHAT_WRITE_FORBIDDEN"):
        accounts.send(world, banned, "python_ru", "hi")
    assert accounts.send(world, other, "python_ru", "hi").message_id == 1


def test_channels_are_read_only_for_accounts() -> None:
    world = World()
    world.add_chat("news", "News", "channel")
    account, _ = world.add_account("Reader")
    accounts.join(world, account, "news")

    with pytest.raises(SandboxError, match="CHAT_ADMIN_REQUIRED"):
        accounts.send(world, account, "news", "hi")


def test_sessions_authenticate_until_revoked_and_banned_accounts_are_refused() -> None:
    world = World()
    account, session = world.add_account("Parser")
    header = f"Session {session}"
    assert accounts.authenticate(world, header) is account

    world.revoke_sessions(account.user.id)
    with pytest.raises(SandboxError, match="SESSION_REVOKED"):
        accounts.authenticate(world, header)
    with pytest.raises(SandboxError, match="AUTH_KEY_UNREGISTERED"):
        accounts.authenticate(world, "Session nope")
    account.banned = True
    with pytest.raises(SandboxError, match="USER_DEACTIVATED_BAN"):
        accounts.authenticate(world, f"Session {world.new_session(account.user.id)}")


def test_a_user_who_wrote_first_is_not_a_stranger() -> None:
    world = World(limits=LimitsConfig(account=AccountLimitsConfig(new_dm_burst=1)))
    manager, _ = world.add_account("Manager")
    first, second, writer = (world.add_user(n) for n in ("First", "Second", "Writer"))
    world.deliver_dm(writer, manager.user, "hello, are you the designer?")

    accounts.send(world, manager, first.id, "hi")
    accounts.send(world, manager, writer.id, "yes, hi!")
    with pytest.raises(SandboxError, match="PEER_FLOOD"):
        accounts.send(world, manager, second.id, "hi")
