"""In the terminal chat the log goes to a file, not between the bot's replies."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from bot.app.serve import logs_to_file
from bot.logs import setup_logging


def test_console_log_lines_move_to_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging("INFO", ["nmv_usr_test_secret"])
    assert any(getattr(h, "stream", None) is sys.stderr for h in logging.getLogger().handlers)
    path = tmp_path / "data" / "clipbot.log"
    assert logs_to_file(path)
    logging.getLogger("bot.test").info("render done with token nmv_usr_test_secret")
    assert "render done" not in capsys.readouterr().err
    written = path.read_text(encoding="utf-8")
    assert "INFO bot.test: render done with token" in written
    assert "nmv_usr_test_secret" not in written  # the redaction filter came along
    assert not logs_to_file(path)  # nothing left on the console to move
