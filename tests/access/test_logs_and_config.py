"""Exceptions in logs and config problems: every cause is shown, every problem named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import structlog

from dialer.config import ConfigError, load_settings
from dialer.logging import configure_logging


def _log_a_failure(capsys: pytest.CaptureFixture[str], *, as_json: bool) -> str:
    configure_logging(level="INFO", json=as_json)
    log = structlog.get_logger("test")
    try:
        {"a": 1}["missing-key"]
    except KeyError:
        log.exception("lookup_failed")
    return capsys.readouterr().err


def test_json_log_renders_the_exception_type_message_and_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A JSON log line of an error carries the exception's type, message and traceback."""
    line = _log_a_failure(capsys, as_json=True).strip().splitlines()[-1]
    entry = json.loads(line)
    assert entry.get("exc_info") is not True
    assert entry["error_type"] == "KeyError"
    assert "missing-key" in entry["error"]
    assert "Traceback (most recent call last)" in entry["exception"]
    assert "_log_a_failure" in entry["exception"]


def test_console_log_renders_the_exception(capsys: pytest.CaptureFixture[str]) -> None:
    """The console log of an error shows the traceback with the exception's type and text."""
    text = _log_a_failure(capsys, as_json=False)
    assert "lookup_failed" in text
    assert "KeyError" in text
    assert "missing-key" in text
    assert "_log_a_failure" in text


def test_exception_object_as_exc_info_is_rendered_in_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``exc_info=exc`` outside the handler (as the API's error handler logs) is rendered too."""
    configure_logging(level="INFO", json=True)
    try:
        int("not a number")
    except ValueError as exc:
        caught = exc
    structlog.get_logger("test").error("api_error", exc_info=caught)
    entry = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert entry["error_type"] == "ValueError"
    assert "not a number" in entry["exception"]


def test_binary_config_file_names_the_file_and_the_byte(tmp_path: Path) -> None:
    """A config file that is not UTF-8 is refused naming the file and the byte offset."""
    path = tmp_path / "dialer.toml"
    path.write_bytes(b'[engine]\nid = "x"\n\xff\xfe\x00garbage')
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    message = str(info.value)
    assert str(path) in message
    assert "byte 18" in message
    assert "UTF-8" in message


def test_every_config_problem_is_listed(tmp_path: Path) -> None:
    """Several bad keys in one file are all named, each with its key path."""
    path = tmp_path / "dialer.toml"
    path.write_text(
        '[engine]\ntick_s = -1\nbogus = 1\n[mqtt]\nport = 0\n[logging]\nlevel = "LOUD"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={"DIALER_HTTP__PORT": "99999"})
    message = str(info.value)
    for key in ("engine.tick_s", "engine.bogus", "mqtt.port", "logging.level"):
        assert key in message, key
    assert "environment DIALER_HTTP__PORT: http.port" in message
    assert len(info.value.problems) == 5
