"""Shared fixtures: services that some tests need (PostgreSQL, MQTT).

Under ``CI=true`` a missing service fails the test; elsewhere the test is skipped with a
message naming the missing service.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest
import structlog
from hypothesis import settings

# Under CI the property tests draw the same examples every run (a failure is reproducible
# from the log); elsewhere they explore new ones each time.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
    settings.load_profile("ci")

PG_URL = os.environ.get("DIALER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MQTT_HOST = os.environ.get("DIALER_TEST_MQTT", "127.0.0.1:1883")


def in_ci() -> bool:
    """True when running under CI, where service-backed tests must run, never skip."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (or fail under CI) when ``name`` is not listening on ``host:port``."""
    if _port_open(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if in_ci():
        pytest.fail(f"{message} (CI=true: service tests must run)")
    pytest.skip(f"{message}: start {name} to run this test")


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    """Each test starts and ends with structlog's default configuration."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The URL of a reachable PostgreSQL test database."""
    from sqlalchemy.engine import make_url

    url = make_url(PG_URL)
    require_service("PostgreSQL", url.host or "127.0.0.1", url.port or 5432)
    return PG_URL


@pytest.fixture(scope="session")
def mqtt_addr() -> tuple[str, int]:
    """Host and port of a reachable MQTT broker."""
    host, _, port = MQTT_HOST.partition(":")
    require_service("MQTT broker (Mosquitto)", host, int(port or 1883))
    return host, int(port or 1883)
