"""One generation: the photo fitted to the model's size, the pipeline run with a
callback after each denoising step (progress, and the place where a stop is obeyed), the
frames back as 8-bit RGB. Runs on a worker thread.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backends.local import images
from backends.model.loader import LoadedModel
from bot.errors import OutOfMemory, RenderFailed

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray
    from PIL import Image

log = logging.getLogger(__name__)

#: (denoising steps done, steps in all)
StepProgress = Callable[[int, int], None]


class Stopped(RenderFailed):
    """The clip was stopped between two steps (/new, shutdown). A `RenderFailed`, so the
    local renderer, stopped the same way, removes its partial file too."""


@dataclass(frozen=True, slots=True)
class Job:
    """What one generation makes."""

    photo: Path
    prompt: str
    width: int
    height: int
    frames: int
    seed: int


def fitted(photo: Path, width: int, height: int) -> Image.Image:
    """The photo upright, cover-cropped to the model's aspect and resized to its size."""
    from PIL import Image, ImageOps

    def need(pw: int, ph: int) -> tuple[int, int]:
        scale = max(width / pw, height / ph)
        return round(pw * scale), round(ph * scale)

    img = images.load(photo, need)
    return ImageOps.fit(img, (width, height), Image.Resampling.LANCZOS)


def _arguments(model: LoadedModel, job: Job, image: Image.Image) -> dict[str, Any]:
    """The pipeline's keyword arguments for this family."""
    family = model.family
    args: dict[str, Any] = {
        "image": image,
        "width": job.width,
        "height": job.height,
        "num_frames": job.frames,
        "num_inference_steps": model.steps,
        "output_type": "np",
    }
    if family.text:
        args.update(
            prompt=job.prompt,
            negative_prompt=family.negative_prompt,
            guidance_scale=family.guidance,
            frame_rate=model.fps,
        )
    else:
        # SVD: the motion comes from the photo; decoding frames in small chunks is what
        # keeps its VAE within a small card.
        args.update(
            fps=model.fps,
            max_guidance_scale=family.guidance,
            decode_chunk_size=2 if model.vae_tiling else 8,
        )
    return args


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA's out-of-memory error, or the CPU allocator's refusal."""
    import torch

    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text
    )


def free_memory() -> None:
    """Give the memory of a failed generation back (the model itself stays loaded)."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def generate(
    model: LoadedModel, job: Job, progress: StepProgress, stop: threading.Event
) -> NDArray[np.uint8]:
    """The frames of `job` as an (n, height, width, 3) uint8 array. Raises `Stopped` when
    `stop` is set (checked after each step), `OutOfMemory`, or `RenderFailed`."""
    import numpy as np
    import torch

    image = fitted(job.photo, job.width, job.height)
    steps = model.steps

    def after_step(pipe: Any, i: int, t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        progress(i + 1, steps)
        if stop.is_set():
            raise Stopped("stopped between two steps")
        return tensors

    if stop.is_set():
        raise Stopped("stopped before it began")
    generator = torch.Generator("cpu").manual_seed(job.seed)
    detail = ""
    try:
        with torch.inference_mode():
            out = model.pipe(
                **_arguments(model, job, image),
                generator=generator,
                callback_on_step_end=after_step,
            )
        frames = out.frames[0]
    except Stopped:
        raise
    except Exception as exc:  # the pipeline's failures come from many libraries
        if not is_out_of_memory(exc):
            log.exception("the model failed")
            raise RenderFailed(f"The model failed: {exc}") from exc
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    if detail:
        # Outside the handler: the traceback, which holds the step's tensors, is gone.
        free_memory()
        log.warning("out of memory on %s: %s", model.device, detail)
        raise OutOfMemory(f"out of memory on {model.device}: {detail}")
    return np.asarray(np.clip(frames, 0.0, 1.0) * 255.0 + 0.5, dtype=np.uint8)
