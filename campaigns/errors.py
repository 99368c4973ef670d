"""The root of the campaign room's errors, and errors shared by its services (each module
keeps its own otherwise, all rooted in :class:`CampaignError`).

``campaigns/`` imports nothing of ``dialer/``: the runtime and the API catch the tuple of
room roots (``dialer.errors.ROOT_ERRORS``) at their boundaries.
"""

from __future__ import annotations

from collections.abc import Iterable


class CampaignError(Exception):
    """Root of every error the campaigns package raises on purpose."""

    error_id: str = "campaign_error"


class CampaignNotFoundError(CampaignError):
    """No campaign has this name or id; lists the campaigns that exist when known."""

    error_id = "campaign_not_found"

    def __init__(self, key: object, existing: Iterable[str] | None = None) -> None:
        self.key = key
        message = f"campaign {key!r} does not exist"
        if existing is not None:
            names = ", ".join(repr(n) for n in sorted(existing))
            message += f"; existing campaigns: {names or 'none yet (dialer campaign create NAME)'}"
        super().__init__(message)
