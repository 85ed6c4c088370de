"""Fixtures for the model backend: tiny random pipelines of each family, built and saved
in the test session (nothing is downloaded), and settings that load them on the CPU.

Without the `[model]` extra the tests that need it are not collected, and
`test_extra.py` says in one line how to include them; under CI=true it fails instead.
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.config import Settings
from bot.ports.chat import Button, MessageRef, VideoInfo
from tests.engine.doubles import RecordingChannel

EXTRA = ("torch", "diffusers", "transformers", "accelerate")
HAVE_EXTRA = all(importlib.util.find_spec(name) is not None for name in EXTRA)
IN_CI = os.environ.get("CI", "").lower() == "true"

if not HAVE_EXTRA and not IN_CI:
    # Everything that loads a pipeline; the rules (families, prompt, line) still run.
    collect_ignore_glob = ["test_pipeline_*.py", "test_cli.py", "test_chat.py"]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny pipeline folder of each family, made with `save_pretrained`."""
    from fakes.models import save

    root = tmp_path_factory.mktemp("models")
    return {family: save(family, root / family) for family in ("ltx", "svd")}


@pytest.fixture
def ltx(tiny_models: dict[str, Path], tmp_path: Path) -> Path:
    """A copy of the tiny LTX-Video folder this test may damage."""
    return Path(shutil.copytree(tiny_models["ltx"], tmp_path / "ltx-model"))


def model_settings(folder: Path, data_dir: Path, **overrides: Any) -> Settings:
    """Settings that run the tiny model on the CPU, small and fast."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "backend": "model",
        "model_path": str(folder),
        "model_device": "cpu",
        "model_resolution": 32,
        "model_frames": 9,
        "model_fps": 8,
        "model_steps": 2,
        "render_preset": "ultrafast",
        "status_edit_interval_s": 0.01,
    }
    values.update(overrides)
    return Settings.load(None, **values)


def photo_bytes(width: int = 96, height: int = 64) -> bytes:
    """A PNG photo with a gradient (so a crop and a move show)."""
    img = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


class KeepingChannel(RecordingChannel):
    """A recording channel that keeps a copy of each clip (the engine deletes its own)."""

    def __init__(self, keep: Path, chat_id: str = "1") -> None:
        super().__init__(chat_id=chat_id)
        self.keep = keep
        self.videos: list[Path] = []

    async def send_video(
        self,
        path: Path,
        caption: str,
        info: VideoInfo,
        buttons: Sequence[Button] = (),
        *,
        key: str | None = None,
    ) -> MessageRef:
        self.keep.mkdir(parents=True, exist_ok=True)
        kept = Path(shutil.copy(path, self.keep / f"{len(self.videos)}-{path.name}"))
        self.videos.append(kept)
        return await super().send_video(kept, caption, info, buttons, key=key)

    def edits(self) -> list[str]:
        """Every status text shown: first sends and edits."""
        return [s.text for s in self.sent if s.kind in ("text", "edit")]


def leftovers(root: Path) -> list[Path]:
    """Half-written files anywhere under `root`."""
    return sorted(p for pattern in ("*.part", "*.tmp") for p in root.rglob(pattern))
