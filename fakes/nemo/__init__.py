"""A loopback Nemo emulator for tests, benchmarks and running the bot by hand."""

from __future__ import annotations

from fakes.nemo.scenarios import EmulatorConfig, RenderScenario, TurnScenario
from fakes.nemo.server import NemoEmulator

__all__ = ["EmulatorConfig", "NemoEmulator", "RenderScenario", "TurnScenario"]
