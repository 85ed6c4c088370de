"""The real bot as a child process (`python -m bot.cli run`), to kill and start again: for
the crash benchmark and the durability tests."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
from pathlib import Path

from PIL import Image

from fakes.telegram.api import TOKEN, FakeBotApi

ROOT = Path(__file__).resolve().parents[1]


class BotProcess:
    """One `clipbot run` (or `clipbot worker`) with the given settings (as environment
    variables); its log goes to `log_path`."""

    def __init__(
        self, env: dict[str, str], workdir: Path, log_path: Path, command: str = "run"
    ) -> None:
        self._env = env
        self._command = command
        self._workdir = workdir
        self.log_path = log_path
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start it (in a folder with no .env, so only `env` configures it)."""
        self._workdir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CLIPBOT_", "NEMO_"))}
        env |= {"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"} | self._env
        log = self.log_path.open("ab")
        try:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", self._command,
                cwd=self._workdir, env=env, stdin=asyncio.subprocess.DEVNULL,
                stdout=log, stderr=log,
            )  # fmt: skip
        finally:
            log.close()

    async def kill(self) -> None:
        """SIGKILL: no goodbye, no cleanup, as when a machine or a container dies."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGKILL)
        await self._proc.wait()

    async def terminate(self, timeout_s: float = 60.0) -> int:
        """SIGTERM, as a deploy does; returns the exit status."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self._proc.wait(), timeout_s)

    @property
    def pid(self) -> int:
        """The process id (its leases' owner names it)."""
        assert self._proc is not None
        return self._proc.pid

    async def stop(self) -> None:
        """Make sure it is gone (end of a test)."""
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
            await self._proc.wait()

    def log(self) -> str:
        """What it wrote so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def jpeg(seed: int) -> bytes:
    """A small photo (its colour from `seed`)."""
    image = Image.new("RGB", (320, 320), (40 * seed % 255, 90, 160))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


def quick_nemo(base_url: str) -> dict[str, str]:
    """`bot_env` extras for a bot on the Nemo emulator at `base_url` that polls renders
    and recovers interrupted turns within a second (for tests that kill it)."""
    return {
        "CLIPBOT_BACKEND": "nemo",
        "NEMO_BASE_URL": base_url,
        "NEMO_RENDER_POLL_FIRST": "0.05",
        "NEMO_RENDER_POLL_MAX": "0.2",
        "CLIPBOT_RECOVERY_FIRST_CHECK": "0.5",
        "CLIPBOT_RECOVERY_INTERVAL": "0.5",
        "CLIPBOT_RECOVERY_MAX_CHECKS": "20",
    }


def bot_env(fake_api: FakeBotApi, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a bot on the fake Bot API and the local renderer (`extra` wins)."""
    return {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake_api.base_url,
        "TELEGRAM_FILE_BASE_URL": fake_api.file_base_url,
        "CLIPBOT_DATA_DIR": str(data_dir),
        "CLIPBOT_BACKEND": "local",
        "CLIPBOT_STATUS_EDIT_INTERVAL": "0.3",
        "CLIPBOT_LOG_LEVEL": "INFO",
        **extra,
    }
