"""A request's scratch folder, made and removed off the event loop.

`mkdir`, `mkdtemp` and `rmtree` are blocking file-system calls: on the loop, a burst of
a thousand requests spends its time there while every chat's first reply waits.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path


def _make(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=root))


@asynccontextmanager
async def scratch_dir(root: Path) -> AsyncIterator[Path]:
    """A new folder under `root` for the block, removed (with its files) after it."""
    folder = await asyncio.to_thread(_make, root)
    try:
        yield folder
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)
