"""Loading the pipeline once, at start: the folder (or, only when allowed, a hub id), its
family, the device and dtype, offload and VAE tiling. Every failure is one
`BackendStartError` line for the operator.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backends.model.families import SVD, Family, read_family
from bot.config import Settings
from bot.errors import BackendStartError

log = logging.getLogger(__name__)

_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
EXTRA = "pip install -e '.[model]'"


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A pipeline on its device, with the generation defaults resolved from the settings
    and the family."""

    family: Family
    pipe: Any
    folder: Path
    device: str
    dtype: str
    steps: int
    #: The most frames one clip generates.
    frames: int
    fps: int
    short_side: int
    vae_tiling: bool


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__


def model_folder(settings: Settings) -> Path:
    """The folder CLIPBOT_MODEL names; a hub id is downloaded only when
    CLIPBOT_MODEL_DOWNLOAD=true (into the data dir's model cache)."""
    raw = (settings.model_path or "").strip()
    if not raw:
        raise BackendStartError(
            "CLIPBOT_BACKEND=model needs CLIPBOT_MODEL: the folder of a diffusers "
            "image-to-video pipeline (see docs/model.md)."
        )
    path = Path(raw).expanduser()
    if path.exists() or not _HUB_ID.fullmatch(raw):
        return path
    if not settings.model_download:
        raise BackendStartError(
            f"CLIPBOT_MODEL={raw} is no folder here. Download it once "
            f"(`hf download {raw} --local-dir FOLDER`) and set CLIPBOT_MODEL=FOLDER, or set "
            "CLIPBOT_MODEL_DOWNLOAD=true to let Clipbot download it."
        )
    from huggingface_hub import snapshot_download

    log.info("downloading %s from the Hugging Face hub (CLIPBOT_MODEL_DOWNLOAD=true)", raw)
    try:
        return Path(snapshot_download(raw, cache_dir=settings.data_dir / "models"))
    except Exception as exc:  # any failure of the hub client is the operator's one line
        raise BackendStartError(f"Could not download {raw}: {_one_line(exc)}") from exc


def pick_device(requested: str | None, torch: Any) -> str:
    """The device to run on: CUDA by default; the CPU only when asked for by name."""
    cuda = bool(torch.cuda.is_available())
    if requested is None or not requested.strip():
        if cuda:
            return "cuda"
        raise BackendStartError(
            "The model backend needs a CUDA GPU and torch sees none. Set "
            "CLIPBOT_MODEL_DEVICE=cpu to run it on the CPU on purpose (very slow), or use "
            "CLIPBOT_BACKEND=local."
        )
    device = requested.strip().lower()
    if device.startswith("cuda") and not cuda:
        raise BackendStartError(f"CLIPBOT_MODEL_DEVICE={device}, but torch sees no CUDA GPU.")
    if device == "mps" and not torch.backends.mps.is_available():
        raise BackendStartError("CLIPBOT_MODEL_DEVICE=mps, but this machine has no MPS device.")
    if not (device == "cpu" or device == "mps" or re.fullmatch(r"cuda(:\d+)?", device)):
        raise BackendStartError(f"CLIPBOT_MODEL_DEVICE={device} is not cpu, cuda, cuda:N or mps.")
    return device


def _variant(folder: Path) -> str | None:
    """ "fp16" when the folder holds only half-precision weight files (as some hub
    downloads do), else None."""
    weights = [p.name for p in folder.glob("*/*.safetensors")]
    if weights and all(".fp16." in name for name in weights):
        return "fp16"
    return None


def _quiet_transformers() -> None:
    import transformers

    transformers.utils.logging.disable_progress_bar()


def load(settings: Settings) -> LoadedModel:
    """Load the configured pipeline onto its device; `BackendStartError` if it cannot."""
    try:
        import diffusers
        import torch
    except ImportError as exc:
        raise BackendStartError(
            f"CLIPBOT_BACKEND=model needs the [model] extra ({exc.name} is missing): {EXTRA}"
        ) from None
    folder = model_folder(settings)
    family = read_family(folder)
    device = pick_device(settings.model_device, torch)
    dtype: str = settings.model_dtype
    if dtype == "auto":
        dtype = family.cuda_dtype if device.startswith("cuda") else "float32"
    # The operator gets one log line for the load, not the libraries' progress bars.
    diffusers.utils.logging.disable_progress_bar()
    _quiet_transformers()
    try:
        pipe = getattr(diffusers, family.pipeline).from_pretrained(
            folder,
            dtype=getattr(torch, dtype),
            local_files_only=True,
            variant=_variant(folder),
        )
    except Exception as exc:  # a damaged file fails in many libraries' own ways
        raise BackendStartError(f"Could not load the model in {folder}: {_one_line(exc)}") from exc
    pipe.set_progress_bar_config(disable=True)
    tiling = settings.model_vae_tiling and hasattr(pipe.vae, "enable_tiling")
    if tiling:
        pipe.vae.enable_tiling()
    if settings.model_cpu_offload and device.startswith("cuda"):
        pipe.enable_model_cpu_offload(device=device)
    else:
        if settings.model_cpu_offload:
            log.warning("CLIPBOT_MODEL_CPU_OFFLOAD is for CUDA devices; ignored on %s", device)
        pipe.to(device)
    trained = getattr(getattr(pipe, "unet", None), "config", None)
    most = settings.model_frames or (
        int(getattr(trained, "num_frames", 0) or family.frames) if family is SVD else family.frames
    )
    loaded = LoadedModel(
        family=family,
        pipe=pipe,
        folder=folder,
        device=device,
        dtype=dtype,
        steps=settings.model_steps or family.steps,
        frames=most,
        fps=settings.model_fps or family.fps,
        short_side=settings.model_resolution or family.short_side,
        vae_tiling=settings.model_vae_tiling,
    )
    log.info(
        "model %s (%s) loaded on %s as %s: %d steps, up to %d frames at %d fps, %dp",
        folder.name,
        family.label,
        device,
        dtype,
        loaded.steps,
        loaded.frames,
        loaded.fps,
        loaded.short_side,
    )
    return loaded
