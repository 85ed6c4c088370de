"""The `clipbot` command: `run`, `chat` and `animate`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `clipbot`."""
    parser = argparse.ArgumentParser(
        prog="clipbot", description="Turn a photo into an animated MP4 clip, from a chat."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start every configured adapter (the terminal chat if none)")
    sub.add_parser("chat", help="chat with the bot in this terminal")
    animate = sub.add_parser("animate", help="make one clip from photos, non-interactively")
    animate.add_argument("images", nargs="+", metavar="IMAGE")
    animate.add_argument("--prompt", default="", help="what to make, in words")
    animate.add_argument("--out", default=None, help="where to write the MP4")
    animate.add_argument("--backend", choices=["local", "nemo"], default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    print(f"clipbot {args.command}: not implemented yet", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
