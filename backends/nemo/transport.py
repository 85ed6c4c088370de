"""The HTTP under the Nemo client: aiohttp, set up to behave as httpx did (the proxy the
environment names, names and URLs sent as written, timeouts to connect, between reads and
for a whole upload), and the reads of an answer's body.

aiohttp directly, not httpx: on the load benchmark httpx's request and response models
(already on aiohttp's pool) cost about 300 µs of CPU a call, 3-4× aiohttp's own, and one
process makes 8-9 calls per clip (docs/engine.md, "Load benchmark").
"""

from __future__ import annotations

import urllib.request
from collections.abc import AsyncIterator
from typing import BinaryIO
from urllib.parse import urlsplit

import aiohttp
import yarl

from bot.errors import StreamDropped

#: Connections to Nemo at once. Each running turn holds its chat stream's connection for
#: up to 15 minutes: a pool of 100 would make the 101st busy chat's every call (a credits
#: check, a render poll) wait for a stream to end.
MAX_CONNECTIONS = 2000
ERROR_BODY_LIMIT = 64 * 1024


def timeouts(
    connect_s: float, read_s: float, total_s: float | None = None
) -> aiohttp.ClientTimeout:
    """To connect (a pooled connection included), between two reads of the answer, and
    for the whole call (None: no limit)."""
    return aiohttp.ClientTimeout(total=total_s, connect=connect_s, sock_read=read_s)


def open_session(base_url: str, timeout_s: float) -> aiohttp.ClientSession:
    """The pool every call to Nemo shares (open it in the running event loop)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS),
        timeout=timeouts(timeout_s, timeout_s),
        proxy=proxy_for(base_url),
    )


def proxy_for(base_url: str) -> str | None:
    """The proxy the environment names for Nemo (HTTPS_PROXY / HTTP_PROXY, unless
    NO_PROXY covers its host), as httpx used it. Read once: aiohttp's `trust_env` reads
    it, and parses ~/.netrc, on every request (bench.load: the bot's CPU 8.2 s → 15.0 s)."""
    parts = urlsplit(base_url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def file_form(field: str, file: BinaryIO, filename: str, mime: str) -> aiohttp.FormData:
    """A multipart form of one open file, read in chunks while it is sent. The name goes
    as UTF-8 in quotes, as browsers and httpx send it (aiohttp's default percent-encodes
    it, and servers keep "%E5%A4%8F.jpg")."""
    form = aiohttp.FormData(quote_fields=False)
    form.add_field(field, file, filename=filename, content_type=mime)
    return form


def as_given(url: str) -> yarl.URL:
    """A URL from Nemo sent exactly as written when it is already encoded (a signed
    download link: re-encoding its query, as yarl does, can break the signature)."""
    encoded = url.isascii() and not any(c.isspace() for c in url)
    return yarl.URL(url, encoded=encoded)


async def read_limited(response: aiohttp.ClientResponse) -> bytes:
    """At most 64 KiB of an error answer (an HTML page can be big)."""
    buf = bytearray()
    async for chunk in response.content.iter_any():
        buf += chunk
        if len(buf) >= ERROR_BODY_LIMIT:
            break
    return bytes(buf[:ERROR_BODY_LIMIT])


async def stream_chunks(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The body as it arrives; a dropped or silent connection is `StreamDropped`."""
    try:
        async for chunk in response.content.iter_any():
            yield chunk
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise StreamDropped(f"Nemo chat stream broke off: {type(exc).__name__}") from exc
