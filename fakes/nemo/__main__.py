"""`python -m fakes.nemo --port 8765`: run the emulator by hand."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from fakes.nemo.scenarios import EmulatorConfig
from fakes.nemo.server import NemoEmulator


async def _serve(host: str, port: int, realistic: bool) -> None:
    config = EmulatorConfig()
    if realistic:
        config.update(
            {
                "text_s": 5.0,
                "edit_s": 15.0,
                "generation_s": 30.0,
                "keepalive_interval_s": 10.0,
                "render_s": 20.0,
                "silent_edit_ratio": 0.3,
            }
        )
    else:
        config.update(
            {
                "text_s": 0.5,
                "edit_s": 2.0,
                "generation_s": 4.0,
                "keepalive_interval_s": 0.5,
                "render_s": 3.0,
                "render_pending_s": 0.5,
            }
        )
    emu = NemoEmulator(config)
    url = await emu.start(host, port)
    print(f"Nemo emulator listening on {url}", flush=True)
    print(f"Run the bot against it: NEMO_BASE_URL={url} CLIPBOT_BACKEND=nemo", flush=True)
    print(
        f"Scenarios: POST {url}/_emulator/next_turn, /fail, /config (see docs/nemo.md)", flush=True
    )
    try:
        await asyncio.Event().wait()
    finally:
        await emu.stop()


def main() -> None:
    """Parse the arguments and serve until interrupted."""
    parser = argparse.ArgumentParser(description="A loopback Nemo API emulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0: any free port")
    parser.add_argument("--realistic", action="store_true", help="the real service's timings")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.realistic))


if __name__ == "__main__":
    main()
