"""Settings are read once into a typed object; secrets never reach a log line."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from bot.config import Settings
from bot.logs import RedactingFilter, redact, setup_logging

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_without_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CLIPBOT_BACKEND", "CLIPBOT_DATA_DIR", "NEMO_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.load(None)
    assert settings.backend == "local"
    assert settings.data_dir == Path("data")
    assert settings.nemo_token is None


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CLIPBOT_BACKEND", "nemo")
    monkeypatch.setenv("CLIPBOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("NEMO_TOKEN", "nmv_usr_fake")
    settings = Settings.load(None)
    assert settings.backend == "nemo"
    assert settings.db_path == tmp_path / "clipbot.sqlite3"
    assert "nmv_usr_fake" not in repr(settings)
    assert settings.secrets() == ["nmv_usr_fake"]


def test_env_example_lists_every_setting() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    names = {line.split("=", 1)[0] for line in example.splitlines() if "=" in line}
    names = {n for n in names if not n.startswith("#")}
    aliases = {str(f.alias) for f in Settings.model_fields.values()}
    assert aliases == names


def test_redaction_of_configured_and_known_shapes() -> None:
    text = "token=nmv_usr_secret123 bot 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw x=s3cr3t"
    out = redact(text, ["s3cr3t"])
    assert "nmv_usr_secret123" not in out
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in out
    assert "s3cr3t" not in out
    assert out.count("[redacted]") == 3


def test_redaction_of_discord_tokens_of_every_era() -> None:
    # The first part is the bot's id in base64: "MT…", "OT…" and "OD…", "Nz…" all occur.
    tail = ".GhIjKl." + "x" * 38
    for head in ("MTA" + "y" * 23, "OTk" + "y" * 21, "Nzk" + "y" * 21):
        assert redact(f"token {head}{tail} used") == "token [redacted] used"


def test_filter_redacts_arguments_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("clipbot.test.redact")
    caplog.handler.addFilter(RedactingFilter(["hunter2"]))
    with caplog.at_level(logging.INFO, logger="clipbot.test.redact"):
        logger.info("calling with %s", "Bearer hunter2")
        try:
            raise RuntimeError("boom hunter2")
        except RuntimeError:
            logger.exception("failed")
    assert "hunter2" not in caplog.text
    assert "[redacted]" in caplog.text


def test_overrides_by_field_name(tmp_path: Path) -> None:
    settings = Settings.load(None, backend="nemo", data_dir=tmp_path)
    assert settings.backend == "nemo"
    assert settings.data_dir == tmp_path


def test_json_logs_are_one_redacted_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", ["hunter2"], "json")
    logger = logging.getLogger("clipbot.test.json")
    logger.info('token %s and nmv_usr_abc123 in a "quoted" line', "hunter2")
    try:
        raise RuntimeError("boom hunter2")
    except RuntimeError:
        logger.exception("failed")
    lines = capsys.readouterr().err.strip().splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == 'token [redacted] and [redacted] in a "quoted" line'
    assert (first["level"], first["logger"]) == ("INFO", "clipbot.test.json")
    assert first["time"].endswith("Z")
    assert second["message"] == "failed"
    assert "RuntimeError: boom [redacted]" in second["exc"]
    assert "hunter2" not in "".join(lines)


def test_lists_of_ids_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIPBOT_ADMINS", "telegram:123, discord:456,")
    monkeypatch.setenv("CLIPBOT_ALLOWED_CHATS", "")
    monkeypatch.setenv("CLIPBOT_HTTP_PORT", "")
    monkeypatch.setenv("CLIPBOT_HTTP_TOKEN", "page-token")
    settings = Settings.load(None)
    assert settings.admins == ("telegram:123", "discord:456")
    assert settings.allowed_chats == ()
    assert settings.http_port is None
    assert settings.quota_clips_per_day == 20  # on by default: a small server is protected
    assert "page-token" in settings.secrets()


def test_discord_shards_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_SHARD_COUNT", "4")
    monkeypatch.setenv("DISCORD_SHARD_IDS", "2, 3")
    settings = Settings.load(None)
    assert (settings.discord_shard_count, settings.discord_shard_ids) == (4, (2, 3))
    monkeypatch.setenv("DISCORD_SHARD_COUNT", "")
    monkeypatch.setenv("DISCORD_SHARD_IDS", "")
    settings = Settings.load(None)
    assert (settings.discord_shard_count, settings.discord_shard_ids) == (None, ())
    monkeypatch.setenv("DISCORD_SHARD_COUNT", "2")
    monkeypatch.setenv("DISCORD_SHARD_IDS", "2")
    with pytest.raises(ValueError, match="from 0 to 1"):
        Settings.load(None)
