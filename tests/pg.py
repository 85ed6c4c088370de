"""A fresh PostgreSQL database per test, on the server `.ci/run` starts.

`CLIPBOT_TEST_DATABASE_URL` names the server (any database on it); each test gets its
own new database, dropped afterwards. Without it, PostgreSQL tests skip with a one-line
reason — except under `CI=true`, where they must run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest

SERVER = os.environ.get("CLIPBOT_TEST_DATABASE_URL", "")


def require_postgres() -> str:
    """The server URL, or skip (fail under CI) when there is none."""
    if SERVER:
        return SERVER
    if os.environ.get("CI") == "true":
        pytest.fail("CI=true but CLIPBOT_TEST_DATABASE_URL is not set: .ci/run starts PostgreSQL")
    pytest.skip("no PostgreSQL: set CLIPBOT_TEST_DATABASE_URL (.ci/run starts one)")


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A new empty database on the test server; its URL. Dropped at the end."""
    import asyncpg

    server = require_postgres()
    name = f"clipbot_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield _with_database(server, name)
    finally:
        admin = await asyncpg.connect(server)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
