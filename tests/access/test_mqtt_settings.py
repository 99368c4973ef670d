"""The [mqtt] settings: commands can be turned off, TLS options reach the client."""

from __future__ import annotations

import ssl
from pathlib import Path

from dialer.config import MqttSettings, Settings
from dialer.runtime import Runtime
from dialer.runtime.mqtt import mqtt_tls


def _runtime(tmp_path: Path, **mqtt: object) -> Runtime:
    settings = Settings.model_validate(
        {
            "database": {"url": f"sqlite:///{tmp_path / 'x.db'}"},
            "mqtt": {"enabled": True, **mqtt},
            "asterisk": {"servers": [{"name": "pbx", "port": 5038}]},
        }
    )
    return Runtime(settings)


def test_commands_off_keeps_events_and_takes_no_commands(tmp_path: Path) -> None:
    """With [mqtt] commands = false the engine still publishes events but does not
    subscribe to any command topic; by default it does."""
    off = _runtime(tmp_path, commands=False)
    assert off.mqtt is not None
    assert off.sink is off.mqtt
    assert not off.mqtt.takes_commands
    on = _runtime(tmp_path)
    assert on.mqtt is not None
    assert on.mqtt.takes_commands


def test_tls_settings_become_client_tls_parameters(tmp_path: Path) -> None:
    """tls = true gives TLS parameters with the CA, the client certificate and the host
    check; tls = false gives plain TCP."""
    assert mqtt_tls(MqttSettings()) is None
    ca = tmp_path / "ca.pem"
    params = mqtt_tls(
        MqttSettings(tls=True, ca_file=ca, cert_file=tmp_path / "c.pem", key_file=tmp_path / "k")
    )
    assert params is not None
    assert params.ca_certs == str(ca)
    assert params.certfile == str(tmp_path / "c.pem")
    assert params.cert_reqs == ssl.CERT_REQUIRED
    insecure = mqtt_tls(MqttSettings(tls=True, tls_insecure=True))
    assert insecure is not None
    assert insecure.cert_reqs == ssl.CERT_NONE
