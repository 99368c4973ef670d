"""Settings load defaults → file → environment and name what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from dialer.config import ConfigError, load_settings

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "dialer.toml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dialer.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_file_is_valid_and_matches_defaults(tmp_path: Path) -> None:
    """The documented example config loads and gives the same values as an empty file."""
    from_example = load_settings(EXAMPLE, environ={})
    from_defaults = load_settings(_write(tmp_path, ""), environ={})
    assert from_example == from_defaults
    assert from_example.database.url == "sqlite:///dialer.db"


def test_environment_overrides_file(tmp_path: Path) -> None:
    """A DIALER_SECTION__KEY variable wins over the file, which wins over defaults."""
    path = _write(tmp_path, '[engine]\nid = "from-file"\nlease_s = 60\n')
    settings = load_settings(path, environ={"DIALER_ENGINE__LEASE_S": "90"})
    assert settings.engine.id == "from-file"
    assert settings.engine.lease_s == 90
    assert settings.engine.tick_s == 1.0


def test_environment_sets_a_server_secret_by_index(tmp_path: Path) -> None:
    """DIALER_ASTERISK__SERVERS__0__SECRET fills the secret of the file's first server."""
    path = _write(
        tmp_path,
        '[[asterisk.servers]]\nname = "pbx1"\nhost = "10.0.0.1"\nusername = "dialer"\n',
    )
    settings = load_settings(path, environ={"DIALER_ASTERISK__SERVERS__0__SECRET": "s3cr3t"})
    server = settings.asterisk.servers[0]
    assert server.host == "10.0.0.1"
    assert server.secret.get_secret_value() == "s3cr3t"


def test_unknown_key_names_file_key_and_allowed_keys(tmp_path: Path) -> None:
    """A misspelt key is rejected with the file, the key path and the keys allowed there."""
    path = _write(tmp_path, "[engine]\nlease_seconds = 60\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    message = str(info.value)
    assert message.startswith(f"{path}: engine.lease_seconds: unknown key")
    assert "drain_s, id, lease_s, overload_lag_s, refused_pause_after, tick_s" in message


def test_unknown_section_lists_sections(tmp_path: Path) -> None:
    """An unknown top-level table lists the sections that exist."""
    path = _write(tmp_path, "[databse]\nurl = 'sqlite://'\n")
    with pytest.raises(ConfigError, match=r"databse: unknown key; expected one of: asterisk"):
        load_settings(path, environ={})


def test_bad_value_says_what_is_expected(tmp_path: Path) -> None:
    """A value of the wrong kind names the key and the expected kind."""
    path = _write(tmp_path, "[engine]\ntick_s = -1\n")
    with pytest.raises(ConfigError, match=r"engine\.tick_s: Input should be greater than 0"):
        load_settings(path, environ={})


def test_bad_env_value_names_the_variable(tmp_path: Path) -> None:
    """A bad value from the environment names the variable, not the file."""
    path = _write(tmp_path, "")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={"DIALER_MQTT__PORT": "abc"})
    assert str(info.value).startswith("environment DIALER_MQTT__PORT: mqtt.port:")


def test_bad_database_url(tmp_path: Path) -> None:
    """An unsupported database URL is rejected with the expected form."""
    path = _write(tmp_path, '[database]\nurl = "mysql://x/y"\n')
    with pytest.raises(ConfigError, match=r"database\.url: .*sqlite or postgresql"):
        load_settings(path, environ={})


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    """A syntax error in the file names the file and the line."""
    path = _write(tmp_path, "[engine\n")
    with pytest.raises(ConfigError, match=r"not valid TOML: .*line 1"):
        load_settings(path, environ={})


def test_missing_explicit_file(tmp_path: Path) -> None:
    """A config path that does not exist is an error, not silently ignored."""
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_bad_server_key_is_named_with_its_index(tmp_path: Path) -> None:
    """A wrong value in the second server table names that table's key."""
    path = _write(
        tmp_path,
        '[[asterisk.servers]]\nname = "a"\n[[asterisk.servers]]\nname = "b"\nport = 99999\n',
    )
    with pytest.raises(ConfigError, match=r"asterisk\.servers\.1\.port"):
        load_settings(path, environ={})


def test_server_settings_are_the_adapter_settings(tmp_path: Path) -> None:
    """A server table accepts every key of the AMI adapter's settings (e.g. amd)."""
    path = _write(tmp_path, '[[asterisk.servers]]\nname = "a"\namd = true\nmax_channels = 9\n')
    server = load_settings(path, environ={}).asterisk.servers[0]
    assert (server.amd, server.max_channels) == (True, 9)


def test_secrets_never_in_repr_or_logs(tmp_path: Path) -> None:
    """Secrets and the database password do not appear in repr, errors or logs."""
    path = _write(
        tmp_path,
        '[database]\nurl = "postgresql+psycopg://u:dbpw123@h/d"\n'
        '[mqtt]\npassword = "mqttpw123"\n'
        '[[asterisk.servers]]\nname = "a"\nhost = "h"\nusername = "u"\nsecret = "amipw123"\n',
    )
    settings = load_settings(path, environ={})
    text = repr(settings) + str(settings)
    with capture_logs() as logs:
        import structlog

        structlog.get_logger().info("settings_loaded", settings=settings)
    text += repr(logs)
    for secret in ("dbpw123", "mqttpw123", "amipw123"):
        assert secret not in text
    assert settings.database.safe_url() == "postgresql+psycopg://u:***@h/d"


def test_other_dialer_variables_are_not_settings(tmp_path: Path) -> None:
    """DIALER_* names without a double underscore (test URLs, AMI secrets) are left alone."""
    path = _write(tmp_path, "")
    environ = {"DIALER_TEST_PG_URL": "postgresql://x", "DIALER_AMI_SECRET_PBX1": "s"}
    assert load_settings(path, environ=environ) == load_settings(path, environ={})


def test_single_underscore_variable_is_reported(tmp_path: Path) -> None:
    """DIALER_DATABASE_URL (one underscore) is refused with the spelling that works."""
    path = _write(tmp_path, "")
    with pytest.raises(ConfigError, match="DIALER_DATABASE__URL"):
        load_settings(path, environ={"DIALER_DATABASE_URL": "sqlite://"})


def test_retention_keeps_five_years_unless_told(tmp_path: Path) -> None:
    """[retention] defaults to 1826 days for both logs; a call-log keeping time shorter
    than the 30-day abandonment window is refused, naming the key."""
    settings = load_settings(_write(tmp_path, ""), environ={})
    assert (settings.retention.call_log_days, settings.retention.audit_days) == (1826, 1826)
    path = _write(tmp_path, "[retention]\ncall_log_days = 10\n")
    with pytest.raises(ConfigError, match=r"retention\.call_log_days"):
        load_settings(path, environ={})
    with pytest.raises(ConfigError, match=r"retention\.run_at"):
        load_settings(_write(tmp_path, '[retention]\nrun_at = "25:00"\n'), environ={})
