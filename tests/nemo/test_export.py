"""Export through Nemo's render endpoints: shapes, failures, retries, polling."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import Path

import pytest

from backends.nemo import NemoBackend, create_backend
from bot.errors import ExportNotAllowed, NothingToExport, RenderFailed, Unavailable
from bot.ports.backend import BackendSession, ExportDone, ExportEvent, ExportProgress, ProjectState
from fakes.nemo.server import NemoEmulator
from storage.memory import MemoryStore
from tests.nemo_fixtures import nemo_settings


async def _drafted(backend: NemoBackend, photo: Path) -> tuple[BackendSession, ProjectState]:
    session = await backend.open_session("en")
    await backend.upload(session, photo, "beach.png")
    [e async for e in backend.instruct(session, "animate it, 1:1, 2 seconds", "en")]
    return session, await backend.state(session)


async def _export(
    backend: NemoBackend, session: BackendSession, state: ProjectState, dest: Path
) -> list[ExportEvent]:
    return [e async for e in backend.export(session, state, dest)]


@pytest.mark.parametrize("shape", ["data", "top", "alternate"])
async def test_export_in_each_status_shape(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path, tmp_path: Path, shape: str
) -> None:
    nemo_emulator.config.render_status_shape = shape
    session, state = await _drafted(backend, photo)
    events = await _export(backend, session, state, tmp_path / "out")
    progress = [e for e in events if isinstance(e, ExportProgress)]
    assert progress[0].stage == "submitted"
    assert "rendering" in {p.stage for p in progress}
    percents = [p.percent or 0.0 for p in progress if p.stage == "rendering"]
    assert percents == sorted(percents)
    assert len(set(map(tuple, [(p.stage, p.percent) for p in progress]))) == len(progress)
    done = events[-1]
    assert isinstance(done, ExportDone)
    assert done.path is not None
    assert done.path.parent == tmp_path / "out"
    assert (done.width, done.height) == (320, 320)
    assert done.size_bytes == done.path.stat().st_size
    assert done.url is not None
    (submit,) = nemo_emulator.received("/api/render/proxy/lambda")[:1]
    assert submit.json["sessionId"] == session.session_id
    assert submit.json["id"].startswith("render_")
    assert submit.json["output"] == {"format": "mp4", "quality": "high"}
    assert submit.json["id"] in nemo_emulator.render_completed_at


async def test_missing_output_url_uses_the_fallback_download(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path, tmp_path: Path
) -> None:
    session, state = await _drafted(backend, photo)
    nemo_emulator.next_render(no_output_url=True)
    done = (await _export(backend, session, state, tmp_path))[-1]
    assert isinstance(done, ExportDone)
    assert done.url is None
    assert len(nemo_emulator.received("/download")) == 1
    assert done.duration_s > 0


async def test_broken_output_url_falls_back(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path, tmp_path: Path
) -> None:
    session, state = await _drafted(backend, photo)
    nemo_emulator.fail_next("download", status=503)
    done = (await _export(backend, session, state, tmp_path))[-1]
    assert isinstance(done, ExportDone)
    assert done.path is not None
    assert done.path.stat().st_size > 0


async def test_a_failed_render_is_rendered_again_once_with_a_new_id(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path, tmp_path: Path
) -> None:
    session, state = await _drafted(backend, photo)
    nemo_emulator.next_render(fail=True)
    events = await _export(backend, session, state, tmp_path)
    assert isinstance(events[-1], ExportDone)
    submitted = [e.ref for e in events if isinstance(e, ExportProgress) and e.ref]
    posted = [r.json["id"] for r in nemo_emulator.received("/api/render/proxy/lambda")
              if r.method == "POST"]  # fmt: skip
    assert submitted == posted
    assert len(set(posted)) == 2  # a new id for the second render


async def test_a_render_that_fails_twice_is_reported(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path, tmp_path: Path
) -> None:
    session, state = await _drafted(backend, photo)
    nemo_emulator.next_render(fail=True)
    nemo_emulator.next_render(fail=True)
    with pytest.raises(RenderFailed, match="render failed"):
        await _export(backend, session, state, tmp_path)


async def test_a_resumed_export_follows_the_render_it_had_started(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path, tmp_path: Path
) -> None:
    session, state = await _drafted(backend, photo)
    started = aiter(backend.export(session, state, tmp_path / "a"))
    assert isinstance(started, AsyncGenerator)
    ref = None
    async for event in started:
        if isinstance(event, ExportProgress) and event.ref:
            ref = event.ref
            break
    await started.aclose()  # the process died here
    assert ref is not None
    events = [e async for e in backend.export(session, state, tmp_path / "b", resume=ref)]
    assert isinstance(events[-1], ExportDone)
    posted = [r for r in nemo_emulator.received("/api/render/proxy/lambda") if r.method == "POST"]
    assert len(posted) == 1  # never submitted again
    assert events[-1].path is not None
    assert events[-1].path.name == f"{ref}.mp4"


async def test_failed_submit_is_retried_once_with_a_new_id(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path, tmp_path: Path
) -> None:
    session, state = await _drafted(backend, photo)
    nemo_emulator.fail_next("render", status=500)
    assert isinstance((await _export(backend, session, state, tmp_path))[-1], ExportDone)
    first, second = (r.json["id"] for r in nemo_emulator.received("/api/render/proxy/lambda")[:2])
    assert first != second
    nemo_emulator.fail_next("render", status=500, count=2)
    with pytest.raises(Unavailable):
        await _export(backend, session, state, tmp_path)


async def test_nothing_to_export(
    backend: NemoBackend, nemo_emulator: NemoEmulator, tmp_path: Path
) -> None:
    session = await backend.open_session("en")
    with pytest.raises(NothingToExport):
        await _export(backend, session, await backend.state(session), tmp_path)
    empty = ProjectState(draft={"t": [{"tt": 0, "sg": []}]})
    with pytest.raises(NothingToExport):
        await _export(backend, session, empty, tmp_path)
    assert nemo_emulator.received("/render/") == []


async def test_export_without_attribution_is_not_allowed(
    nemo_emulator: NemoEmulator, tmp_path: Path, photo: Path
) -> None:
    settings = nemo_settings(nemo_emulator, tmp_path, nemo_skill_source="")
    nemo = create_backend(settings, MemoryStore())
    try:
        session, state = await _drafted(nemo, photo)
        with pytest.raises(ExportNotAllowed) as info:
            await _export(nemo, session, state, tmp_path)
        assert info.value.status == 402
    finally:
        await nemo.aclose()


async def test_render_timeout_and_poll_pace(
    nemo_emulator: NemoEmulator, tmp_path: Path, photo: Path
) -> None:
    settings = nemo_settings(
        nemo_emulator,
        tmp_path,
        nemo_render_timeout_s=0.3,
        nemo_render_poll_first_s=0.05,
        nemo_render_poll_max_s=0.2,
    )
    nemo = create_backend(settings, MemoryStore())
    nemo_emulator.config.render_s = 5.0
    try:
        session, state = await _drafted(nemo, photo)
        with pytest.raises(RenderFailed, match="ran past"):
            await _export(nemo, session, state, tmp_path)
        submit = nemo_emulator.received("/api/render/proxy/lambda")[0]
        polls = [r.at for r in nemo_emulator.received("/api/render/proxy/lambda/")]
        gaps = [b - a for a, b in zip([submit.at, *polls], polls, strict=False)]
        # The first look comes soon (configured 0.05 s; generous for a loaded machine).
        assert 0.04 <= gaps[0] < 1.0
        # Backing off (0.05, 0.075, 0.11 … s) fits at most 4 looks in the 0.3 s; a fixed
        # 0.05 s pace would make 6.
        assert len(polls) <= 4
    finally:
        await nemo.aclose()
