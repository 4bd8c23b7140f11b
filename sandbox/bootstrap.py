"""The one place that assembles the sandbox: the world, the HTTP app, the server.

``build_app`` is what tests and the demo embed; ``serve`` starts it on a port without blocking and
returns a handle to stop it. The same ``World`` can be served again after a stop (a "restart"
that keeps its state), which is how clients are tested for reconnects.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from sandbox import admin, admin_bots, botapi, llm, login, userapi, webview
from sandbox.audience import Audience, AudienceStart
from sandbox.http import RUNTIME, Runtime, error_middleware
from sandbox.lively import LivelyAudience
from sandbox.responder import CannedResponder
from sandbox.state import World

SHUTDOWN_TIMEOUT = 2.0  # seconds; long polls are woken on shutdown, so this is only a safety net


def build_app(world: World | None = None) -> web.Application:
    """The aiohttp application over ``world`` (a fresh one with canned DM replies if None)."""
    world = world if world is not None else World(responder=CannedResponder())
    app = web.Application(middlewares=[error_middleware])
    audience = Audience(world)
    app[RUNTIME] = Runtime(world, audience, LivelyAudience(world, audience.new_person))
    app.add_routes(botapi.routes())
    app.add_routes(userapi.routes())
    app.add_routes(login.routes())
    app.add_routes(admin.routes())
    app.add_routes(admin_bots.routes())
    llm.install(app)
    webview.install(app)  # the read-and-click page at /
    app.on_startup.append(_on_startup)
    app.on_shutdown.append(_on_shutdown)
    return app


async def _on_startup(app: web.Application) -> None:
    app[RUNTIME].stopping = False


async def _on_shutdown(app: web.Application) -> None:
    rt = app[RUNTIME]
    rt.stopping = True
    rt.world.wake_all()
    await rt.audience.stop()


@dataclass
class RunningSandbox:
    """A started sandbox: its address, its world, and how to stop it."""

    runner: web.AppRunner
    world: World
    audience: Audience
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        """Stop serving (idempotent); the world stays usable and can be served again."""
        if self.runner.server is not None:
            await self.runner.cleanup()


async def serve(
    host: str = "127.0.0.1",
    port: int = 8081,
    *,
    audience: bool = False,
    world: World | None = None,
    audience_config: AudienceStart | None = None,
) -> RunningSandbox:
    """Start serving (port 0 picks a free one) and return at once; ``await .stop()`` ends it."""
    app = build_app(world)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    rt = app[RUNTIME]
    bound_port = int(runner.addresses[0][1])
    if audience:
        await rt.audience.start(audience_config or AudienceStart())
    return RunningSandbox(runner, rt.world, rt.audience, host, bound_port)
