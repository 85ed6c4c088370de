"""A loopback Nemo emulator for tests, benchmarks and running the bot by hand."""

from __future__ import annotations

from tests.nemo_emulator.scenarios import EmulatorConfig, RenderScenario, TurnScenario
from tests.nemo_emulator.server import NemoEmulator

__all__ = ["EmulatorConfig", "NemoEmulator", "RenderScenario", "TurnScenario"]
