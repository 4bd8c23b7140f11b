"""Which writer a turn gets: the LLM when the campaign or the settings name an endpoint, else
the offline template writer."""

from __future__ import annotations

from core.settings import Settings
from manager.writers.draft import Draft, Writer, WriteRequest
from manager.writers.llm import LlmWriter
from manager.writers.templates import TemplateWriter


def make_writer(settings: Settings) -> Writer:
    return RoutingWriter(settings)


class RoutingWriter:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._templates = TemplateWriter()
        self._llm = LlmWriter(settings, fallback=self._templates)

    async def write(self, request: WriteRequest) -> Draft:
        if request.policy.llm_base_url or self._settings.llm_base_url:
            return await self._llm.write(request)
        return await self._templates.write(request)

    async def close(self) -> None:
        await self._llm.close()
