"""The model families Clipbot runs, read from a folder's `model_index.json`.

A family says which diffusers pipeline class loads the folder, whether the caption is
its prompt, and its defaults (steps, frames, fps, size). Nothing here imports torch: the
folder is checked before anything heavy is loaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bot.errors import BackendStartError


@dataclass(frozen=True, slots=True)
class Family:
    """One supported family of image-to-video pipelines and its defaults."""

    key: str
    label: str
    #: The diffusers class that loads the folder for image-to-video.
    pipeline: str
    #: The `_class_name`s of `model_index.json` this family covers.
    classes: frozenset[str]
    #: True: the caption is the prompt; False: the photo alone drives the motion.
    text: bool
    steps: int
    #: The most frames one clip generates (the model's training length).
    frames: int
    fps: int
    #: The short side of the generated video, in pixels.
    short_side: int
    #: Width and height are multiples of this (the VAE's stride times the patch size).
    multiple: int
    #: Frame counts are `frame_step * k + 1` (the VAE's temporal stride); 1: any count.
    frame_step: int
    #: The dtype on CUDA when CLIPBOT_MODEL_DTYPE=auto (CPU always runs float32).
    cuda_dtype: str
    guidance: float
    negative_prompt: str = ""


SVD = Family(
    key="svd",
    label="Stable Video Diffusion",
    pipeline="StableVideoDiffusionPipeline",
    classes=frozenset({"StableVideoDiffusionPipeline"}),
    text=False,
    steps=25,
    frames=25,
    fps=7,
    short_side=576,
    multiple=64,
    frame_step=1,
    cuda_dtype="float16",
    guidance=3.0,
)

LTX = Family(
    key="ltx",
    label="LTX-Video",
    pipeline="LTXImageToVideoPipeline",
    # The hub's LTX-Video folders name the text-to-video class; the same weights load
    # into the image-to-video pipeline.
    classes=frozenset({"LTXPipeline", "LTXImageToVideoPipeline"}),
    text=True,
    steps=40,
    frames=121,
    fps=24,
    short_side=512,
    multiple=32,
    frame_step=8,
    cuda_dtype="bfloat16",
    guidance=3.0,
    negative_prompt="worst quality, inconsistent motion, blurry, jittery, distorted",
)

FAMILIES = (SVD, LTX)


def _supported() -> str:
    return ", ".join(f.label for f in FAMILIES)


def read_family(folder: Path) -> Family:
    """The family of a model folder, checked: `model_index.json` is there and readable,
    its class is one Clipbot runs, and every component folder it names exists."""
    if not folder.is_dir():
        raise BackendStartError(f"CLIPBOT_MODEL={folder} is not a folder.")
    index_path = folder / "model_index.json"
    if not index_path.is_file():
        raise BackendStartError(
            f"{folder} has no model_index.json: it is not a diffusers pipeline folder "
            "(download one with `hf download REPO --local-dir FOLDER`)."
        )
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BackendStartError(f"{index_path} is damaged ({exc}).") from exc
    name = index.get("_class_name") if isinstance(index, dict) else None
    if not isinstance(name, str):
        raise BackendStartError(f"{index_path} names no pipeline class (_class_name).")
    family = next((f for f in FAMILIES if name in f.classes), None)
    if family is None:
        raise BackendStartError(
            f"{folder} holds a {name}, which Clipbot does not run; it runs {_supported()}."
        )
    missing = [
        key
        for key, value in index.items()
        if not key.startswith("_")
        and isinstance(value, list)
        and value[:1] != [None]
        and not (folder / key).is_dir()
    ]
    if missing:
        raise BackendStartError(
            f"{folder} is incomplete: no {', '.join(missing)} folder (download it again)."
        )
    return family


def frame_count(family: Family, seconds: float, fps: int, most: int) -> int:
    """How many frames to generate for `seconds` at `fps`: the family's rule
    (`frame_step * k + 1`), at least one step, at most `most`."""
    step = family.frame_step
    wanted = max(2, round(seconds * fps))
    if step == 1:
        return max(2, min(most, wanted))
    k = max(1, round((wanted - 1) / step))
    top = max(1, (most - 1) // step)
    return min(k, top) * step + 1


def generation_size(family: Family, short_side: int, aspect: tuple[int, int]) -> tuple[int, int]:
    """Width and height of the generated video: `short_side` on the short side, the
    clip's aspect, both multiples of the family's stride."""
    m = family.multiple
    aw, ah = aspect

    def snap(x: float) -> int:
        return max(m, round(x / m) * m)

    short = snap(short_side)
    if aw >= ah:
        return snap(short * aw / ah), short
    return short, snap(short * ah / aw)
