"""The HTTP side server in `clipbot run`: started beside the adapters when
CLIPBOT_HTTP_PORT is set."""

from __future__ import annotations

import logging

from bot.app.core import Core
from bot.web import SideServer

log = logging.getLogger(__name__)


async def start_side_server(core: Core) -> SideServer | None:
    """The side server, listening; None when CLIPBOT_HTTP_PORT is unset."""
    settings = core.settings
    if settings.http_port is None:
        if settings.public_url:
            log.warning(
                "CLIPBOT_PUBLIC_URL is set but CLIPBOT_HTTP_PORT is not: no share links "
                "(the side server would serve them)"
            )
        return None
    if not settings.public_url:
        log.info("CLIPBOT_PUBLIC_URL is unset: clips too big for a chat get no share link")
    server = SideServer(settings, core.store, core.backend, core.engine.pending)
    await server.start()
    return server
