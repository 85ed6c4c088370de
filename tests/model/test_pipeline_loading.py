"""Loading tiny pipelines of each family through the product's own code, generating with
them, and refusing bad folders and devices in one line."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from backends.model.families import LTX, SVD
from backends.model.generate import Job, Stopped, generate
from backends.model.loader import load, pick_device
from bot.errors import BackendStartError
from tests.model.conftest import model_settings, photo_bytes


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    path.write_bytes(photo_bytes())
    return path


@pytest.mark.parametrize(("family", "expected"), [("ltx", LTX), ("svd", SVD)])
def test_each_family_loads_and_generates_frames_with_progress_per_step(
    tiny_models: dict[str, Path], tmp_path: Path, photo: Path, family: str, expected: object
) -> None:
    model = load(model_settings(tiny_models[family], tmp_path, model_steps=3))
    assert model.family is expected
    assert (model.device, model.dtype) == ("cpu", "float32")
    width, height = (64, 64) if family == "svd" else (64, 32)
    frames_n = 9 if family == "ltx" else 4
    steps: list[tuple[int, int]] = []
    frames = generate(
        model,
        Job(photo, "water flows", width, height, frames_n, seed=1),
        lambda done, total: steps.append((done, total)),
        threading.Event(),
    )
    assert frames.shape == (frames_n, height, width, 3)
    assert str(frames.dtype) == "uint8"
    assert steps == [(1, 3), (2, 3), (3, 3)]


def test_a_stop_is_obeyed_after_the_step_under_way(
    tiny_models: dict[str, Path], tmp_path: Path, photo: Path
) -> None:
    model = load(model_settings(tiny_models["ltx"], tmp_path, model_steps=50))
    stop = threading.Event()
    steps: list[int] = []

    def progress(done: int, total: int) -> None:
        steps.append(done)
        if done == 2:
            stop.set()

    with pytest.raises(Stopped):
        generate(model, Job(photo, "", 64, 32, 9, seed=1), progress, stop)
    assert steps == [1, 2]


def test_family_defaults_and_the_settings_that_change_them(
    tiny_models: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = model_settings(
        tiny_models["svd"], tmp_path, model_frames=None, model_fps=None, model_steps=None
    )
    svd = load(settings)
    # SVD's most frames are its UNet's training length (8 in the tiny one).
    assert (svd.frames, svd.fps, svd.steps) == (8, SVD.fps, SVD.steps)
    with caplog.at_level(logging.WARNING):
        ltx = load(
            model_settings(
                tiny_models["ltx"], tmp_path, model_vae_tiling=True, model_cpu_offload=True
            )
        )
    assert ltx.pipe.vae.use_tiling
    assert "CLIPBOT_MODEL_CPU_OFFLOAD is for CUDA" in caplog.text


def _refusal(settings_folder: Path | str, tmp_path: Path, **overrides: object) -> str:
    with pytest.raises(BackendStartError) as info:
        load(model_settings(Path(settings_folder), tmp_path, **overrides))
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_damaged_weights_file_is_one_line(ltx: Path, tmp_path: Path) -> None:
    weights = ltx / "transformer" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    assert "Could not load the model in" in _refusal(ltx, tmp_path)


def test_a_missing_weights_file_is_one_line(ltx: Path, tmp_path: Path) -> None:
    (ltx / "vae" / "diffusion_pytorch_model.safetensors").unlink()
    assert "Could not load the model in" in _refusal(ltx, tmp_path)


def test_a_hub_id_is_never_downloaded_unless_allowed(tmp_path: Path) -> None:
    message = _refusal("Lightricks/LTX-Video", tmp_path)
    assert "CLIPBOT_MODEL_DOWNLOAD=true" in message
    assert "hf download Lightricks/LTX-Video" in message
    assert not (tmp_path / "models").exists()


def test_no_model_named_is_refused(tmp_path: Path) -> None:
    assert "needs CLIPBOT_MODEL" in _refusal("", tmp_path, model_path=None)


def test_the_device_is_cuda_unless_the_cpu_is_asked_for_by_name() -> None:
    import torch

    if torch.cuda.is_available():
        assert pick_device(None, torch) == "cuda"
        return
    for asked in (None, "", "cuda", "cuda:1"):
        with pytest.raises(BackendStartError, match="CUDA") as info:
            pick_device(asked, torch)
        assert "\n" not in str(info.value)
    with pytest.raises(BackendStartError, match="CLIPBOT_MODEL_DEVICE=cpu"):
        pick_device(None, torch)
    with pytest.raises(BackendStartError, match="not cpu, cuda"):
        pick_device("tpu", torch)
    assert pick_device(" CPU ", torch) == "cpu"


def test_an_unsupported_family_is_refused_before_any_weights_load(
    ltx: Path, tmp_path: Path
) -> None:
    index = ltx / "model_index.json"
    index.write_text(index.read_text().replace("LTXImageToVideoPipeline", "WanPipeline"))
    message = _refusal(ltx, tmp_path)
    assert "holds a WanPipeline, which Clipbot does not run" in message


def test_settings_reach_the_loaded_model(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    model = load(model_settings(tiny_models["ltx"], tmp_path, model_fps=12, model_resolution=64))
    assert (model.fps, model.short_side, model.frames, model.steps) == (12, 64, 9, 2)
    assert replace(model, steps=5).steps == 5
