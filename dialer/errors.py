"""The root of the errors ``dialer/`` raises on purpose, and the tuple of every room's root.

Each room has its own root error with a stable ``error_id``: :class:`DialerError` here,
``CampaignError`` (campaigns), ``PacingError`` (pacing) and ``AsteriskError`` (asterisk);
those rooms import nothing of ``dialer/``. The runtime, the API and the CLI catch
:data:`ROOT_ERRORS` at their boundaries. Each module subclasses its room's root and builds
the message in ``__init__`` so that a user sees what is wrong and where.
"""

from __future__ import annotations

from asterisk.errors import AsteriskError
from campaigns.errors import CampaignError
from pacing.errors import PacingError


class DialerError(Exception):
    """Root error of ``dialer/``: every error it raises deliberately derives from this."""

    error_id: str = "dialer_error"


#: Every room's root error: what a boundary catches as "refused on purpose".
ROOT_ERRORS: tuple[type[Exception], ...] = (DialerError, CampaignError, PacingError, AsteriskError)


def error_id_of(exc: BaseException, default: str = "refused") -> str:
    """The stable ``error_id`` of a room's error (``default`` for any other exception)."""
    if isinstance(exc, ROOT_ERRORS):
        return str(getattr(exc, "error_id", default))
    return default
