"""The whole path once: session, upload, generation, state, export."""

from __future__ import annotations

from pathlib import Path

from backends.nemo import NemoBackend
from bot.ports.backend import (
    ExportDone,
    ExportProgress,
    KeepAlive,
    TextDelta,
    TextMessage,
    ToolCall,
)
from fakes.nemo.server import NemoEmulator


async def test_photo_to_clip(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path, tmp_path: Path
) -> None:
    session = await backend.open_session("en")
    assert session.session_id.isdigit()
    assert session.extra["user_id"].startswith("anon_")
    uploaded = await backend.upload(session, photo, "beach.png")
    assert (uploaded.kind, uploaded.width, uploaded.height) == ("image", 64, 48)
    events = [
        e
        async for e in backend.instruct(
            session, "5-second zoom-in, 9:16, title 'Summer Sale' with music", "en"
        )
    ]
    texts = [e for e in events if isinstance(e, TextMessage)]
    assert len(texts) == 1
    assert "Summer Sale" in texts[0].text
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == texts[0].text
    assert any(isinstance(e, ToolCall) for e in events)
    assert any(isinstance(e, KeepAlive) for e in events)
    state = await backend.state(session)
    assert [t["tt"] for t in state.draft["t"]] == [0, 7, 1]
    out = [e async for e in backend.export(session, state, tmp_path / "out")]
    assert isinstance(out[0], ExportProgress)
    done = out[-1]
    assert isinstance(done, ExportDone)
    assert done.path is not None
    assert done.path.is_file()
    assert (done.width, done.height) == (180, 320)
    assert 0.5 <= done.duration_s <= 3.5
    link = await backend.project_link(session)
    assert link is not None
    assert link.startswith("https://nemo.example/workspace/claim?ct=clm_")
