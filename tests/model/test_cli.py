"""`clipbot animate --backend model`: a clip from the command line, and bad set-ups
refused in one line with no traceback; a crash mid-generation leaves nothing behind
under a finished file's name."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backends.model import open_backend
from bot.cli import main
from bot.config import Settings
from tests.local.conftest import probe
from tests.model.conftest import leftovers, model_settings, photo_bytes

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a photo and no .env, as the cwd; the model settings in the env."""
    (tmp_path / "photo.png").write_bytes(photo_bytes())
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "CLIPBOT_DATA_DIR": str(tmp_path / "data"),
        "CLIPBOT_MODEL_DEVICE": "cpu",
        "CLIPBOT_MODEL_RESOLUTION": "32",
        "CLIPBOT_MODEL_FRAMES": "9",
        "CLIPBOT_MODEL_FPS": "8",
        "CLIPBOT_MODEL_STEPS": "2",
        "CLIPBOT_RENDER_PRESET": "ultrafast",
    }.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def test_animate_makes_a_clip_with_the_model(
    workdir: Path, tiny_models: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLIPBOT_MODEL", str(tiny_models["ltx"]))
    out = workdir / "clip.mp4"
    code = main(
        ["animate", "photo.png", "--backend", "model", "--quiet", "--out", str(out),
         "--prompt", "the water flows slowly, 16:9, 1 second, 720p"]
    )  # fmt: skip
    assert code == 0
    clip = probe(out)
    assert (clip.codec, clip.width, clip.height) == ("h264", 1280, 720)


def _refused(capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["animate", "photo.png", "--backend", "model", "--prompt", "water flows"])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("clipbot:")]
    assert len(lines) == 1
    return lines[0]


def test_a_missing_folder_is_one_line(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLIPBOT_MODEL", str(workdir / "no-such-model"))
    assert "is not a folder" in _refused(capsys)


def test_an_unsupported_family_is_one_line(
    workdir: Path, ltx: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    index = json.loads((ltx / "model_index.json").read_text())
    index["_class_name"] = "CogVideoXImageToVideoPipeline"
    (ltx / "model_index.json").write_text(json.dumps(index))
    monkeypatch.setenv("CLIPBOT_MODEL", str(ltx))
    line = _refused(capsys)
    assert "CogVideoXImageToVideoPipeline, which Clipbot does not run" in line
    assert "Stable Video Diffusion, LTX-Video" in line


def test_a_corrupt_file_is_one_line(
    workdir: Path, ltx: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (ltx / "text_encoder" / "model.safetensors").write_bytes(b"\x00" * 64)
    monkeypatch.setenv("CLIPBOT_MODEL", str(ltx))
    assert "Could not load the model in" in _refused(capsys)


def test_no_cuda_is_one_line_unless_the_cpu_is_asked_for(
    workdir: Path,
    tiny_models: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the model runs on it")
    monkeypatch.setenv("CLIPBOT_MODEL", str(tiny_models["ltx"]))
    monkeypatch.delenv("CLIPBOT_MODEL_DEVICE")
    assert "set CLIPBOT_MODEL_DEVICE=cpu" in _refused(capsys).replace("Set", "set")


def test_a_crash_mid_generation_leaves_no_finished_file_and_the_next_start_sweeps(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    (tmp_path / "photo.png").write_bytes(photo_bytes())
    data = tmp_path / "data"
    env = {
        **os.environ,
        "CLIPBOT_MODEL": str(tiny_models["ltx"]),
        "CLIPBOT_MODEL_DEVICE": "cpu",
        "CLIPBOT_MODEL_RESOLUTION": "32",
        "CLIPBOT_MODEL_FRAMES": "9",
        "CLIPBOT_MODEL_STEPS": "1000",
        "CLIPBOT_DATA_DIR": str(data),
        "PYTHONPATH": str(ROOT),
    }
    out = tmp_path / "clip.mp4"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "animate", "photo.png", "--backend", "model",
         "--prompt", "water flows", "--out", str(out)],
        cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 90
        for line in proc.stderr:
            if ("Rendering… " in line and "%" in line) or time.monotonic() > deadline:
                break
        assert proc.poll() is None, "the generation ended before it could be interrupted"
        os.kill(proc.pid, signal.SIGKILL)  # a crash: no clean-up code runs
    finally:
        proc.kill()
        proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    assert not out.exists()
    assert list(data.rglob("footage-*.mkv")) == []
    assert list(data.rglob("*.mp4")) == []
    # What a crash may leave is only ever under a temporary name, swept at the next start.
    planted = next((data / "model").iterdir()) / "footage-0123456789abcdef.mkv.part"
    planted.write_bytes(b"half")
    asyncio.run(_start_and_stop(model_settings(tiny_models["ltx"], data)))
    assert leftovers(data) == []


async def _start_and_stop(settings: Settings) -> None:
    backend = await open_backend(settings)
    await backend.aclose()
