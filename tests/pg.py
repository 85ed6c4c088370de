"""A fresh PostgreSQL database per test, on the server `.ci/run` starts.

`CLIPBOT_TEST_DATABASE_URL` names the server (any database on it); each test gets its
own new database, dropped afterwards. Without it, PostgreSQL tests skip with a one-line
reason — except under `CI=true`, where they must run.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from bench._pg import database_on

SERVER = os.environ.get("CLIPBOT_TEST_DATABASE_URL", "")


def require_postgres() -> str:
    """The server URL, or skip (fail under CI) when there is none."""
    if SERVER:
        return SERVER
    if os.environ.get("CI") == "true":
        pytest.fail("CI=true but CLIPBOT_TEST_DATABASE_URL is not set: .ci/run starts PostgreSQL")
    pytest.skip("no PostgreSQL: set CLIPBOT_TEST_DATABASE_URL (.ci/run starts one)")


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A new empty database on the test server; its URL. Dropped at the end."""
    async with database_on(require_postgres(), "clipbot_test") as url:
        yield url
