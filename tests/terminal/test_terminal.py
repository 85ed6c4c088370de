"""The terminal chat driven programmatically, on the real engine and SQLite store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from adapters.terminal.conversion import as_path, missing_path, split_attach
from adapters.terminal.runner import TerminalAdapter, queue_lines
from bot.app.core import open_core
from bot.app.oneshot import animate
from bot.cli import main
from bot.config import Settings
from tests.engine.doubles import ScriptedBackend


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load(None, data_dir=tmp_path / "data", status_edit_interval_s=0.01)


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "my photo.jpg"
    path.write_bytes(b"\xff\xd8fake")
    return path


def test_pasted_paths_are_recognised(image: Path) -> None:
    escaped = str(image).replace(" ", "\\ ")
    assert as_path(escaped) == image
    assert as_path(f"'{image}'") == image
    assert as_path(f'"{image}"') == image
    assert as_path(f"file://{str(image).replace(' ', '%20')}") == image
    assert as_path("make it pop") is None
    assert as_path(f"{image} please") is None
    assert split_attach(f" '{image}' zoom in") == (image, "zoom in")
    assert split_attach(" /nope.jpg") == (None, "")


def test_a_path_that_does_not_exist_is_named(tmp_path: Path) -> None:
    assert missing_path("/tmp/does/not/exist.jpg") == "/tmp/does/not/exist.jpg"
    assert missing_path("'~/My Photos/beach.png'") == "~/My Photos/beach.png"
    assert missing_path("holiday.JPG") == "holiday.JPG"
    assert missing_path("file:///no/such%20file.jpg") == "/no/such file.jpg"
    for not_a_path in ("/help", "/new", "make it 9:16", "slower", "export 1080p", ""):
        assert missing_path(not_a_path) is None
    real = tmp_path / "real.jpg"
    real.write_bytes(b"x")
    assert missing_path(str(real)) is None


async def test_a_mistyped_path_gets_a_clear_answer(settings: Settings) -> None:
    backend = ScriptedBackend()
    out: list[str] = []
    async with open_core(settings, backend) as core:
        term = TerminalAdapter(core.engine.handle, settings.data_dir, write=out.append)
        core.engine.add_platform(term)
        await term.feed("/tmp/does/not/exist.jpg")
        await core.engine.idle()
    assert out == [
        "bot> I can't find a file at /tmp/does/not/exist.jpg. Check the path and try again."
    ]
    assert backend.instructions == []
    assert backend.uploads == []


async def _drive(adapter: TerminalAdapter, queue: asyncio.Queue[str | None], *lines: str) -> None:
    for line in lines:
        await queue.put(line)
    await asyncio.sleep(0)


async def test_a_dropped_photo_and_a_caption_deliver_a_saved_video(
    settings: Settings, image: Path
) -> None:
    backend = ScriptedBackend()
    out: list[str] = []
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    async with open_core(settings, backend) as core:
        term = TerminalAdapter(
            core.engine.handle, settings.data_dir, lines=queue_lines(queue), write=out.append
        )
        core.engine.add_platform(term)
        await term.start()
        await _drive(term, queue, str(image).replace(" ", "\\ "), "zoom in slowly")
        while not term.channel.delivered:
            await asyncio.wait_for(term.channel.changed.wait(), 5)
            term.channel.changed.clear()
        await core.engine.idle()
        await queue.put(None)
        await asyncio.wait_for(term.finished.wait(), 5)
        await term.stop()
    assert backend.uploads == [("s1", "my photo.jpg")]
    assert backend.instructions == [("s1", "zoom in slowly")]
    saved = term.channel.delivered[0].path
    assert saved.parent == settings.data_dir / "videos"
    assert saved.read_bytes() == b"\0" * backend.export_size
    printed = "\n".join(out)
    assert "📎 attached my photo.jpg" in printed
    assert f"saved to {saved}" in printed
    assert any(line.startswith("  … ") for line in out)  # the status, edited live
    assert "[Export again]" in printed


async def test_a_restart_keeps_the_session(settings: Settings, image: Path) -> None:
    backend = ScriptedBackend()
    for _ in range(2):
        async with open_core(settings, backend) as core:
            term = TerminalAdapter(core.engine.handle, settings.data_dir, write=lambda _: None)
            core.engine.add_platform(term)
            await term.feed(f"/attach {str(image)!r} make a clip")
            await core.engine.idle()
    assert [sid for sid, _ in backend.instructions] == ["s1", "s1"]


async def test_animate_writes_the_mp4(settings: Settings, image: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "clip.mp4"
    outcome = await animate(settings, [image], "zoom", out, backend=ScriptedBackend(), quiet=True)
    assert outcome.video == out
    assert out.stat().st_size == 2000


async def test_animate_saves_once_to_out_and_shows_no_buttons(
    settings: Settings, image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "clip.mp4"
    outcome = await animate(settings, [image], "zoom", out, backend=ScriptedBackend())
    assert outcome.video == out
    assert out.stat().st_size == 2000
    err = capsys.readouterr().err
    assert f"saved to {out}" in err
    assert "[Export again]" not in err
    assert not (settings.data_dir / "videos").exists()  # no second copy


async def test_animate_reports_the_users_message(settings: Settings, image: Path) -> None:
    backend = ScriptedBackend()
    backend.fail_export = RuntimeError("boom")
    outcome = await animate(
        settings, [image], "", image.with_suffix(".mp4"), backend=backend, quiet=True
    )
    assert outcome.video is None
    assert outcome.message == "Sorry, something went wrong on my side. Please try again."


def test_cli_rejects_a_missing_image(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["animate", "/no/such/image.jpg"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_clipbot_animate_with_the_local_backend(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    monkeypatch.chdir(tmp_path)  # no .env from the repository
    monkeypatch.setenv("CLIPBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CLIPBOT_STATUS_EDIT_INTERVAL", "0.05")
    image = tmp_path / "tiny.png"
    Image.new("RGB", (96, 64), (30, 140, 200)).save(image)
    out = tmp_path / "clip.mp4"
    code = main(["animate", str(image), "--prompt", "a 2-second zoom-in", "--out", str(out),
                 "--backend", "local", "--quiet"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.strip() == str(out)
    assert out.read_bytes()[4:8] == b"ftyp"


def test_clipbot_animate_reports_an_unusable_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CLIPBOT_DATA_DIR", str(tmp_path / "data"))
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image at all")
    code = main(["animate", str(bad), "--backend", "local", "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert "image" in err.lower()
    assert "Traceback" not in err
