"""The model backend (`CLIPBOT_BACKEND=model`): a diffusers image-to-video pipeline on
this machine's GPU. Needs the `[model]` extra; nothing else in Clipbot imports torch,
diffusers, transformers or accelerate. See docs/model.md."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from bot.config import Settings

if TYPE_CHECKING:
    from backends.model.backend import ModelBackend


async def open_backend(settings: Settings) -> ModelBackend:
    """Load the model (in a thread) and return the backend; `BackendStartError` with one
    line for the operator when it cannot start."""
    from backends.model import footage
    from backends.model.backend import ModelBackend
    from backends.model.loader import load

    model = await asyncio.to_thread(load, settings)
    footage.sweep(settings.data_dir / "model")
    return ModelBackend(settings, model)
