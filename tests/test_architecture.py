"""The layers, enforced: the core depends on its ports, never on what implements them.

    adapters/ ──→ bot/ (engine, ports, words …) ←── backends/
                    ↑
                storage/          bot/app/ wires them all together

Each rule is checked on the real tree, and on a planted violation so the check itself is
known to work.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_LIBS = frozenset({"telegram", "discord"})
#: The [model] extra: only the model backend (and the tiny test pipelines) may use it.
MODEL_LIBS = frozenset({"torch", "diffusers", "transformers", "accelerate", "huggingface_hub"})


@dataclass(frozen=True)
class Rule:
    """Modules under `where` (minus `except_in`) may not import any of `forbidden`."""

    name: str
    where: str
    forbidden: frozenset[str]
    except_in: str | None = None


RULES = (
    Rule(
        "the core imports no adapter, backend or storage (but in the composition root)",
        "bot",
        frozenset({"adapters", "backends", "storage"}),
        except_in="bot/app",
    ),
    Rule("the core imports no platform library", "bot", PLATFORM_LIBS),
    Rule("storage imports no adapter or backend", "storage", frozenset({"adapters", "backends"})),
    Rule("storage imports no platform library", "storage", PLATFORM_LIBS),
    Rule("backends import no adapter or storage", "backends", frozenset({"adapters", "storage"})),
    Rule("backends import no platform library", "backends", PLATFORM_LIBS),
    Rule("adapters import no backend or storage", "adapters", frozenset({"backends", "storage"})),
    Rule("the benchmarks import nothing from the tests", "bench", frozenset({"tests"})),
    Rule("the dev servers import nothing from the tests", "fakes", frozenset({"tests"})),
    *(
        Rule(f"{where}/ imports nothing from the tests or the dev servers", where,
             frozenset({"tests", "fakes"}))
        for where in ("bot", "adapters", "backends", "storage")
    ),
    *(
        Rule(f"{where}/ imports no model library (only backends/model/ does)", where,
             MODEL_LIBS)
        for where in ("bot", "adapters", "storage", "backends/local", "backends/nemo")
    ),
)  # fmt: skip


def imported_roots(path: Path) -> set[str]:
    """The top-level packages a module imports, anywhere in it (lazy imports too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def violations(root: Path, rule: Rule) -> dict[str, list[str]]:
    """Module → what it imports against the rule."""
    found: dict[str, list[str]] = {}
    for path in sorted((root / rule.where).rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if rule.except_in and relative.startswith(rule.except_in + "/"):
            continue
        bad = sorted(imported_roots(path) & rule.forbidden)
        if bad:
            found[relative] = bad
    return found


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_the_tree_keeps_the_rule(rule: Rule) -> None:
    assert (ROOT / rule.where).is_dir()
    assert violations(ROOT, rule) == {}


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_a_planted_violation_is_caught(rule: Rule, tmp_path: Path) -> None:
    forbidden = sorted(rule.forbidden)[0]
    planted = tmp_path / rule.where / "sub" / "planted.py"
    planted.parent.mkdir(parents=True)
    # A lazy import inside a function counts as much as one at the top.
    planted.write_text(f"def f() -> None:\n    import {forbidden}.thing\n", encoding="utf-8")
    assert violations(tmp_path, rule) == {f"{rule.where}/sub/planted.py": [forbidden]}


def test_the_composition_root_is_the_one_exception(tmp_path: Path) -> None:
    rule = RULES[0]
    wiring = tmp_path / "bot" / "app" / "core.py"
    wiring.parent.mkdir(parents=True)
    wiring.write_text("from storage.sqlite import SqliteStore\n", encoding="utf-8")
    assert violations(tmp_path, rule) == {}


def test_the_default_paths_load_no_model_library() -> None:
    """Starting the bot, the CLI and every backend but the model's imports no torch (nor
    does naming the model backend, until it is opened)."""
    import subprocess
    import sys

    code = (
        "import sys, bot.cli, bot.app.core, bot.app.serve, backends.local.backend, "
        "backends.nemo.backend, backends.model; "
        f"print(sorted(m for m in {sorted(MODEL_LIBS)!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
