"""Errors of the telephony edge (AMI adapter, pool, scenario files, simulator), rooted in
:class:`AsteriskError`. ``asterisk/`` imports nothing of ``dialer/`` or ``campaigns/``: the
runtime catches the tuple of room roots (``dialer.errors.ROOT_ERRORS``) at its boundaries.
"""

from __future__ import annotations


class AsteriskError(Exception):
    """Root of every error the asterisk package raises on purpose."""

    error_id: str = "asterisk_error"


class AmiError(AsteriskError):
    """Root of every error raised by the Asterisk adapter."""

    error_id = "ami_error"


class AmiNotConnectedError(AmiError):
    """An action was refused because the server's AMI session is not logged in."""

    error_id = "ami_not_connected"

    def __init__(self, server: str) -> None:
        self.server = server
        super().__init__(f"AMI server {server!r} is not connected: action refused, nothing sent")


class AmiCapacityError(AmiError):
    """The server (or every server of a pool) has no free channel."""

    error_id = "ami_capacity_exceeded"

    def __init__(self, server: str, limit: int) -> None:
        self.server = server
        self.limit = limit
        super().__init__(f"AMI server {server!r} is at its max_channels limit ({limit})")


class AmiUnknownCallError(AmiError):
    """An action named a call (or agent seat) this adapter does not track."""

    error_id = "ami_unknown_call"

    def __init__(self, what: str, ident: str, hint: str = "") -> None:
        self.ident = ident
        super().__init__(f"unknown {what} {ident!r}" + (f": {hint}" if hint else ""))


class AmiDuplicateOriginateError(AmiError):
    """An Originate with an ActionID (or call id) already sent was refused: never dial twice."""

    error_id = "ami_duplicate_originate"

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        super().__init__(f"call {call_id!r} was already originated; refusing to dial it twice")


class AmiLoginError(AmiError):
    """The server rejected the username/secret (the secret itself is never shown)."""

    error_id = "ami_login_failed"

    def __init__(self, server: str, username: str, message: str) -> None:
        super().__init__(f"AMI login to {server!r} as {username!r} failed: {message}")


class ScenarioError(AsteriskError):
    """A scenario file is invalid; the message names the file and the key."""

    error_id = "scenario_error"

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")
