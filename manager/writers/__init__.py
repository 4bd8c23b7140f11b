"""Writers: the text of the next outbound message of a conversation, as a checked ``Draft``.

``draft`` (what goes in and out), ``templates`` (the offline writer), ``llm`` (the model's turn
through ``core.llm_client`` — endpoint, retries, usage — its checks, and what a failed check leads
to), ``routing`` (which one a turn gets). A draft with ``problems`` goes to an operator, never
out on its own.
"""

from manager.writers.draft import Attempt, Draft, Writer, WriteRequest
from manager.writers.llm import LlmWriter
from manager.writers.routing import RoutingWriter, make_writer
from manager.writers.templates import TemplateWriter, next_stage

__all__ = [
    "Attempt",
    "Draft",
    "LlmWriter",
    "RoutingWriter",
    "TemplateWriter",
    "WriteRequest",
    "Writer",
    "make_writer",
    "next_stage",
]
