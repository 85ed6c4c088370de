"""Run benchmarks: `python -m bench` runs them all, `python -m bench NAME…` some.

Each benchmark is a module of this package with a `main()` that prints its figures.
Benchmarks run one after the other (never side by side) so they do not skew each other.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast


def available() -> list[str]:
    """The names of the benchmark modules."""
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all of them when none is named)."""
    names = argv or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(available())}")
        return 2
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        run = cast(Callable[[], None], module.main)
        sys.argv = [f"bench.{name}"]
        print(f"=== bench.{name}", flush=True)
        started = time.perf_counter()
        run()
        print(f"=== bench.{name} done in {time.perf_counter() - started:.1f} s\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
