"""Review regressions in the Nemo backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.nemo import NemoBackend
from bot.errors import RenderFailed
from fakes.nemo.server import NemoEmulator


async def test_an_unplayable_download_is_not_left_in_the_export_folder(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path, tmp_path: Path
) -> None:
    session = await backend.open_session("en")
    await backend.upload(session, photo, "beach.png")
    [e async for e in backend.instruct(session, "animate it, 1:1, 2 seconds", "en")]
    state = await backend.state(session)
    nemo_emulator.fail_next("download", status=200, html=True)  # a proxy's page, not an MP4
    dest = tmp_path / "out"
    with pytest.raises(RenderFailed):
        [e async for e in backend.export(session, state, dest)]
    assert list(dest.iterdir()) == []
