"""The renderer's compiled kernels (`warp.py`), loaded before the first clip needs them.

Loading them from Numba's disk cache takes about half a second (importing Numba, then
LLVM linking the cached code), compiling them the very first time about a second. Started
when the local backend is made, that happens on a thread of its own while the process
does other things: a running bot is ready before its first clip, and `clipbot animate`
loads them while it parses the prompt and decodes the photo (LLVM and the JPEG decoder
both let go of the GIL, so the two overlap on two cores).
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)

_lock = threading.Lock()
_thread: threading.Thread | None = None


def start() -> threading.Thread:
    """Begin loading the kernels on a daemon thread, once per process; the thread."""
    global _thread
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=_load, name="render-kernels", daemon=True)
            _thread.start()
        return _thread


def _load() -> None:
    """Warp a tiny luma and chroma plane: every kernel, with the argument types a
    render gives it, so each cached machine-code version is the one loaded."""
    started = time.perf_counter()
    try:
        import numpy as np

        from backends.local.warp import PlaneWarper

        zoom = ((0.75, 0.0, 0.5), (0.0, 0.75, 0.5))
        for channels in (1, 2):
            shape = (8, 8) if channels == 1 else (8, 8, channels)
            warper = PlaneWarper(np.full(shape, 128, np.uint8))
            warper.warp(zoom, np.zeros((4, 4 * channels), np.uint8), 4, 4)
    except Exception:
        # The render loads them itself when it needs them: slower, never wrong.
        log.warning("render kernels could not be loaded ahead", exc_info=True)
        return
    log.debug("render kernels ready in %.2f s", time.perf_counter() - started)
