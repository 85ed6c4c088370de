"""LocalBackend end to end: open_session → upload → instruct → state → export."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backends.local.backend import LocalBackend
from bot.config import Settings
from bot.errors import BadImage, NothingToExport, UnsupportedFile
from bot.ports.backend import Backend, ExportDone, ExportEvent, ExportProgress, TextMessage
from bot.words import Lang
from storage.memory import MemoryStore
from tests.local.conftest import probe


async def _say(backend: LocalBackend, session: object, text: str, lang: Lang = "en") -> str:
    events = [e async for e in backend.instruct(session, text, lang)]  # type: ignore[arg-type]
    assert all(isinstance(e, TextMessage) for e in events)
    return "\n".join(e.text for e in events if isinstance(e, TextMessage))


async def _export(backend: LocalBackend, session: object, dest: Path) -> list[ExportEvent]:
    state = await backend.state(session)  # type: ignore[arg-type]
    return [e async for e in backend.export(session, state, dest)]  # type: ignore[arg-type]


async def test_photo_to_clip_end_to_end(
    settings: Settings, photos: dict[str, Path], music: Path, tmp_path: Path
) -> None:
    store = MemoryStore()
    backend: Backend = LocalBackend(settings, store)
    assert isinstance(backend, LocalBackend)
    session = await backend.open_session("en")
    assert await store.load_project("local", session.session_id) is not None

    up = await backend.upload(session, photos["jpeg"], "coffee.jpg")
    assert (up.kind, up.width, up.height) == ("image", 600, 400)
    assert (await backend.state(session)).draft == {}  # no draft before an instruction
    with pytest.raises(NothingToExport):
        await _export(backend, session, tmp_path)

    reply = await _say(
        backend, session, "zoom in, 9:16, 1 second, 720p, title 'Summer Sale', with music"
    )
    # No audio sent yet: a track of the bundled library.
    assert reply == "Zoom in · 9:16 · 1 s · 720p · title “Summer Sale” · music: calm acoustic"
    up_audio = await backend.upload(session, music, "tone.wav")  # the user's own wins
    assert up_audio.kind == "audio"
    assert up_audio.duration_s == pytest.approx(2.0, abs=0.05)

    state = await backend.state(session)
    draft = state.draft
    assert draft["m"]["width"] == 720
    assert draft["m"]["height"] == 1280
    assert draft["m"]["fps"] == 30
    assert draft["m"]["title"] == "Summer Sale"
    kinds = {t["tt"]: t["sg"] for t in draft["t"]}
    assert kinds[0][0]["n"] == "coffee.jpg"
    assert kinds[0][0]["d"] == 1000
    assert kinds[1][0]["n"] == "tone.wav"
    assert kinds[7][0]["x"] == "Summer Sale"
    assert state.media_count == 2

    events = await _export(backend, session, tmp_path / "out")
    assert events[0] == ExportProgress("rendering", 0.0)
    percents = [e.percent or 0.0 for e in events if isinstance(e, ExportProgress)]
    assert percents == sorted(set(percents))
    assert percents[-1] == 100.0
    done = events[-1]
    assert isinstance(done, ExportDone)
    assert done.url is None
    assert done.path is not None
    assert (done.width, done.height, done.duration_s) == (720, 1280, 1.0)
    p = probe(done.path)
    assert (p.codec, p.width, p.height, p.frames, p.audio_codec) == ("h264", 720, 1280, 30, "aac")
    assert done.size_bytes == done.path.stat().st_size

    assert (await backend.credits()).unlimited
    assert await backend.project_link(session) is None
    # The project survives a restart: a new backend reads the same draft.
    again = LocalBackend(settings, store)
    assert (await again.state(session)).draft == draft


async def test_defaults_follow_the_photo_and_chinese_echo(
    settings: Settings, photos: dict[str, Path]
) -> None:
    backend = LocalBackend(settings, MemoryStore())
    session = await backend.open_session("zh")
    await backend.upload(session, photos["exif"], "IMG_0001.JPG")  # upright 400×600: vertical
    reply = await _say(backend, session, "好的", "zh")
    m = (await backend.state(session)).draft["m"]
    assert (m["width"], m["height"], m["fps"], m["duration_ms"], m["move"]) == (
        1080, 1920, 30, 5000, "zoom_in",
    )  # fmt: skip
    assert reply == ""  # nothing asked for: the engine shows the timeline
    reply = await _say(backend, session, "横屏，十秒，淡入淡出，做个后空翻", "zh")
    assert "16:9 · 10 秒 · 淡入淡出" in reply
    assert "我没听懂" in reply
    assert "后空翻" in reply
    m = (await backend.state(session)).draft["m"]
    assert (m["width"], m["height"], m["duration_ms"]) == (1920, 1080, 10000)


async def test_unknown_and_bad_files_are_refused(settings: Settings, tmp_path: Path) -> None:
    backend = LocalBackend(settings, MemoryStore())
    session = await backend.open_session("en")
    doc = tmp_path / "notes.txt"
    doc.write_text("hello")
    with pytest.raises(UnsupportedFile) as exc:
        await backend.upload(session, doc, "notes.txt")
    assert "jpg" in exc.value.formats
    assert "mp3" in exc.value.formats
    fake = tmp_path / "photo.jpg"
    fake.write_text("not really a jpeg")
    with pytest.raises(BadImage):
        await backend.upload(session, fake, "photo.jpg")
    reply = await _say(backend, session, "zoom in")
    assert "Send a photo first" in reply


async def test_a_second_export_waits_its_turn(
    settings: Settings, photos: dict[str, Path], tmp_path: Path
) -> None:
    backend = LocalBackend(settings, MemoryStore())
    session = await backend.open_session("en")
    await backend.upload(session, photos["png"], "a.png")
    await _say(backend, session, "square, 1 second, 720p, 15 fps")
    state = await backend.state(session)
    first = backend.export(session, state, tmp_path / "a")
    # Once the first export reports encoding, it holds the render slot.
    assert await anext(first) == ExportProgress("rendering", 0.0)

    async def drain(gen: AsyncIterator[ExportEvent]) -> list[ExportEvent]:
        return [e async for e in gen]

    rest, second = await asyncio.gather(drain(first), _export(backend, session, tmp_path / "b"))
    assert second[0] == ExportProgress("queued")
    assert isinstance(rest[-1], ExportDone)
    assert isinstance(second[-1], ExportDone)
    assert rest[-1].path != second[-1].path


async def test_a_title_no_font_can_draw_is_flagged(
    settings: Settings, photos: dict[str, Path]
) -> None:
    from backends.local.overlay import missing_glyphs

    backend = LocalBackend(settings, MemoryStore())
    session = await backend.open_session("en")
    await backend.upload(session, photos["png"], "a.png")
    reply = await _say(backend, session, "title 'Summer Sale'")
    assert "boxes" not in reply
    reply = await _say(backend, session, "title 「夏日特卖」")
    assert "boxes" not in reply  # the bundled font draws Chinese
    reply = await _say(backend, session, "title 'Sale \U000f0001'")
    assert "would show as boxes" in reply
    assert missing_glyphs("Sale \U000f0001") == "\U000f0001"


async def test_several_photos_make_a_slideshow_draft(
    settings: Settings, photos: dict[str, Path], tmp_path: Path
) -> None:
    from bot.errors import BadInput

    backend = LocalBackend(settings, MemoryStore())
    session = await backend.open_session("en")
    await backend.upload(session, photos["png"], "one.png")
    await backend.upload(session, photos["heic"], "two.heic")
    noise = tmp_path / "song.mp3"
    noise.write_bytes(b"ID3 but not really an mp3" * 10)
    with pytest.raises(BadInput, match="audio"):
        await backend.upload(session, noise, "song.mp3")
    await _say(backend, session, "square, 6 seconds")
    video = (await backend.state(session)).draft["t"][0]["sg"]
    assert [(s["n"], s["s"], s["d"], s["m"]["move"]) for s in video] == [
        ("one.png", 0, 3000, "zoom_in"),
        ("two.heic", 3000, 3000, "zoom_out"),
    ]
    # A third photo after the draft exists joins the slideshow at once.
    await backend.upload(session, photos["gif"], "three.gif")
    video = (await backend.state(session)).draft["t"][0]["sg"]
    assert [s["n"] for s in video] == ["one.png", "two.heic", "three.gif"]


async def test_every_echo_asks_for_the_timeline_and_never_for_export(
    settings: Settings, photos: dict[str, Path]
) -> None:
    backend = LocalBackend(settings, MemoryStore())
    session = await backend.open_session("en")
    await backend.upload(session, photos["png"], "a.png")
    for _ in range(2):
        events = [e async for e in backend.instruct(session, "zoom in, 9:16", "en")]
        (message,) = events
        assert isinstance(message, TextMessage)
        assert message == TextMessage("Zoom in · 9:16", show_project=True)


async def test_a_discarded_project_leaves_nothing_on_disk(
    settings: Settings, photos: dict[str, Path]
) -> None:
    from bot.errors import SessionLost

    store = MemoryStore()
    backend = LocalBackend(settings, store)
    kept, dropped = await backend.open_session("en"), await backend.open_session("en")
    for session in (kept, dropped):
        await backend.upload(session, photos["png"], "a.png")
    await backend.discard(dropped)
    projects = sorted(p.name for p in (settings.data_dir / "local").iterdir())
    assert projects == [kept.session_id]
    with pytest.raises(SessionLost):
        await backend.state(dropped)
    assert (await backend.state(kept)).media_count == 1
    assert [k[1] for k in store.project_files] == [kept.session_id]  # nor in the store


async def test_another_process_renders_a_project_it_never_saw(
    settings: Settings, photos: dict[str, Path], tmp_path: Path
) -> None:
    store = MemoryStore()  # the one database; each process has its own disk
    here = LocalBackend(settings.model_copy(update={"data_dir": tmp_path / "a"}), store)
    there = LocalBackend(settings.model_copy(update={"data_dir": tmp_path / "b"}), store)
    session = await here.open_session("en")
    await here.upload(session, photos["png"], "a.png")
    await _say(here, session, "square, 1 second, 720p, 12 fps")
    events = await _export(there, session, tmp_path / "out")
    done = events[-1]
    assert isinstance(done, ExportDone)
    assert (done.width, done.height) == (720, 720)
    assert (tmp_path / "b" / "local" / session.session_id).is_dir()  # cached there now
