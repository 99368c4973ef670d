"""structlog set-up: pretty output on a terminal, JSON lines elsewhere."""

from __future__ import annotations

import logging
import sys

import structlog

_SECRET_KEYS = frozenset({"secret", "password", "passwd", "token", "api_key"})


def _redact_secrets(
    _logger: object, _method: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """Replace the value of any field whose name says it is a secret."""
    for key in event_dict:
        if key.lower() in _SECRET_KEYS or key.lower().endswith("_secret"):
            event_dict[key] = "***"
    return event_dict


class _Stderr:
    """Writes to whatever ``sys.stderr`` is at the time of each write (not at set-up)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(*, level: str = "INFO", json: bool | None = None) -> None:
    """Configure structlog once for the process; ``json`` defaults to "not a TTY"."""
    as_json = (not sys.stderr.isatty()) if json is None else json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
