"""Fixtures for the whole suite."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _root_log_handlers() -> Iterator[None]:
    """Undo what `setup_logging` (run by the CLI entry point) does to the root logger, so
    no test leaves a handler bound to a closed capture stream for the next ones."""
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in saved:
            handler.close()
    root.handlers[:] = saved
    root.setLevel(level)
