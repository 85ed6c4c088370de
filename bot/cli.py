"""The `clipbot` command: `run`, `chat` and `animate`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Only the standard library at import time: start-up time matters for `animate`.


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `clipbot`."""
    parser = argparse.ArgumentParser(
        prog="clipbot", description="Turn a photo into an animated MP4 clip, from a chat."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start every configured adapter (the terminal chat if none)")
    sub.add_parser("chat", help="chat with the bot in this terminal")
    sub.add_parser(
        "worker",
        help="only work: run queued requests from the shared database (CLIPBOT_DATABASE_URL)",
    )
    animate = sub.add_parser("animate", help="make one clip from photos, non-interactively")
    animate.add_argument("images", nargs="+", metavar="IMAGE")
    animate.add_argument("--prompt", default="", help="what to make, in words")
    animate.add_argument("--out", default=None, help="where to write the MP4")
    animate.add_argument("--backend", choices=["local", "nemo", "model"], default=None)
    animate.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser


def _settings(**overrides: Any) -> Any:
    from pydantic import ValidationError

    from bot.config import Settings
    from bot.logs import setup_logging

    try:
        settings = Settings.load(".env", **overrides)
    except ValidationError as exc:
        # Named by setting, without the values: the input may hold tokens.
        for error in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(part) for part in error["loc"])
            what = error["msg"].removeprefix("Value error, ")
            print(f"clipbot: {where + ': ' if where else ''}{what}", file=sys.stderr)
        print("clipbot: fix the setting in .env or the environment (.env.example lists "
              "them all)", file=sys.stderr)  # fmt: skip
        raise SystemExit(2) from None
    setup_logging(settings.log_level, settings.secrets(), settings.log_format)
    return settings


def _animate(args: argparse.Namespace) -> int:
    from bot.app.oneshot import animate, default_out

    images = [Path(p).expanduser() for p in args.images]
    missing = [str(p) for p in images if not p.is_file()]
    if missing:
        print(f"clipbot: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    overrides = {"backend": args.backend} if args.backend else {}
    settings = _settings(**overrides)
    out = Path(args.out).expanduser() if args.out else default_out(images[0])
    from bot.errors import BackendStartError

    try:
        outcome = asyncio.run(animate(settings, images, args.prompt, out, quiet=args.quiet))
    except BackendStartError as exc:
        print(f"clipbot: {exc}", file=sys.stderr)
        return 1
    if outcome.video is None:
        print(outcome.message, file=sys.stderr)
        return 1
    print(outcome.video)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    if args.command == "animate":
        return _animate(args)
    from bot.errors import AdapterStartError, BackendStartError

    settings = _settings()
    try:
        if args.command == "worker":
            from bot.app.worker import work

            return asyncio.run(work(settings))
        from bot.app.serve import serve

        return asyncio.run(serve(settings, terminal=args.command == "chat"))
    except (AdapterStartError, BackendStartError) as exc:
        print(f"clipbot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
