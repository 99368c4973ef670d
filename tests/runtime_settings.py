"""Settings of an engine that runs against the PBX simulator in a test: the database, the
engine's own section, the shipped pacing profiles and one simulated Asterisk server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dialer.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def sim_settings(
    db: Path | str,
    pbx_port: int,
    *,
    engine: dict[str, Any],
    pacing: dict[str, Any] | None = None,
    **sections: dict[str, Any],
) -> Settings:
    """An engine on ``db`` (an SQLite file, or a database URL) placing calls through the
    simulator listening on ``pbx_port``, with ``config/pacing``'s profiles; ``pacing`` adds
    to that section, ``sections`` are further ones (``mqtt``, ``inbound``, ...)."""
    url = db if isinstance(db, str) else f"sqlite:///{db}"
    return Settings.model_validate(
        {
            "database": {"url": url},
            "engine": engine,
            "pacing": {"profiles_dir": str(ROOT / "config/pacing"), **(pacing or {})},
            "asterisk": {"servers": [{"name": "sim", "port": pbx_port}]},
            **sections,
        }
    )
