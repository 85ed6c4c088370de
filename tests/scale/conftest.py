"""Fixtures of the scale-out tests: a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.pg import fresh_database


@pytest.fixture
async def database() -> AsyncIterator[str]:
    """The URL of a new empty PostgreSQL database (the processes share it)."""
    async with fresh_database() as url:
        yield url
