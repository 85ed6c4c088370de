"""Streams a 200 MB upload and a 200 MB download through the Nemo client.

The emulator runs in a separate process so that its memory is not counted. Memory is
measured as the peak resident set size (RSS, from /proc/self/statm) sampled every 2 ms
by a thread, minus the RSS just before each transfer.

    python -m bench.nemo_transfer [--mb 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from backends.nemo import create_backend
from bot.config import Settings
from storage.memory import MemoryStore

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * _PAGE


class PeakRss:
    """Samples RSS in a thread while the block runs; `added` is peak minus start."""

    def __init__(self) -> None:
        self.start = self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, _rss())

    def __enter__(self) -> PeakRss:
        self.start = self.peak = _rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())

    @property
    def added(self) -> int:
        """Bytes added at the peak."""
        return self.peak - self.start


def _start_emulator() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "fakes.nemo", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    found = re.search(r"http://[\d.]+:\d+", line)
    if not found:
        proc.kill()
        raise SystemExit(f"the emulator did not start: {line!r}")
    return proc, found.group(0)


def _write_file(path: Path, size: int) -> None:
    block = os.urandom(1024 * 1024)
    with path.open("wb") as fh:
        for _ in range(size // len(block)):
            fh.write(block)
        fh.write(block[: size % len(block)])


async def _run(mb: int) -> None:
    size = mb * 1024 * 1024
    proc, url = _start_emulator()
    try:
        with tempfile.TemporaryDirectory(prefix="nemo-bench-") as tmp:
            src = Path(tmp) / "upload.mp4"
            _write_file(src, size)
            settings = Settings.load(
                None, nemo_base_url=url, data_dir=Path(tmp), nemo_request_timeout_s=120
            )
            nemo = create_backend(settings, MemoryStore())
            session = await nemo.open_session("en")
            await nemo.credits()  # warm the connection and the token
            with PeakRss() as up:
                t0 = time.perf_counter()
                await nemo.upload(session, src, "upload.mp4")
                up_s = time.perf_counter() - t0
            async with httpx.AsyncClient() as control:
                blob = (await control.post(f"{url}/_emulator/blob", json={"size": size})).json()
            dest = Path(tmp) / "download.bin"
            with PeakRss() as down:
                t0 = time.perf_counter()
                got = await nemo.client.download(blob["url"], dest)
                down_s = time.perf_counter() - t0
            await nemo.aclose()
            assert got == size == dest.stat().st_size
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    print(f"payload: {mb} MB each way (emulator in a separate process)")
    print("memory: peak RSS of this process, sampled every 2 ms, minus RSS before the transfer")
    for name, secs, mem in (("upload", up_s, up), ("download", down_s, down)):
        added = mem.added / 2**20
        print(f"{name:9s} {mb / secs:8.1f} MB/s  {secs:6.2f} s  peak RSS added {added:6.1f} MB")


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    asyncio.run(_run(parser.parse_args().mb))


if __name__ == "__main__":
    main()
