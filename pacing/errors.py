"""Errors raised by the pacing package, rooted in :class:`PacingError`.

``pacing/`` imports nothing else of the project; the runtime catches the tuple of room
roots (``dialer.errors.ROOT_ERRORS``) at its boundaries.
"""

from __future__ import annotations


class PacingError(Exception):
    """Root of the errors the pacing package raises on purpose."""

    error_id: str = "pacing_error"


class ProfileError(PacingError):
    """A pacing profile is invalid: names the file, the key path and the reason."""

    error_id = "pacing_profile_invalid"

    def __init__(self, source: str, key: str, reason: str) -> None:
        self.source = source
        self.key = key
        self.reason = reason
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {reason}")


class PacerParameterError(PacingError):
    """A pacer was built with a parameter outside its valid range."""

    error_id = "pacer_parameter_invalid"

    def __init__(self, name: str, value: object, reason: str) -> None:
        self.name = name
        self.value = value
        self.reason = reason
        super().__init__(f"pacer parameter {name}={value!r}: {reason}")
