"""structlog set-up: pretty output on a terminal, JSON lines elsewhere."""

from __future__ import annotations

import logging
import sys
import traceback

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


def _render_exception(
    _logger: object, _method: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """Turn ``exc_info`` into the exception's type, message and traceback (JSON lines).

    ``exc_info=True`` takes the exception being handled; an exception object or a
    ``sys.exc_info()`` tuple is rendered as it is. Without an exception nothing is added.
    """
    exc_info = event_dict.pop("exc_info", None)
    if not exc_info:
        return event_dict
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if not isinstance(exc_info, tuple) or exc_info[1] is None:
        return event_dict
    exc_type, exc, tb = exc_info
    event_dict["error_type"] = exc_type.__name__ if exc_type is not None else type(exc).__name__
    event_dict["error"] = str(exc)
    event_dict["exception"] = "".join(traceback.format_exception(exc_type, exc, tb))
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
    # JSON: the exception becomes fields (type, message, traceback); the console renderer
    # prints the traceback itself from exc_info (type and message on its last line).
    tail: list[structlog.typing.Processor] = (
        [_render_exception, structlog.processors.JSONRenderer(default=str)]
        if as_json
        else [
            structlog.dev.ConsoleRenderer(
                colors=sys.stderr.isatty(),
                exception_formatter=structlog.dev.plain_traceback,
            )
        ]
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact_secrets,
            *tail,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
