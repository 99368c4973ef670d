"""Errors shared by the campaign services (each module keeps its own otherwise)."""

from __future__ import annotations

from collections.abc import Iterable

from dialer.errors import DialerError


class CampaignNotFoundError(DialerError):
    """No campaign has this name or id; lists the campaigns that exist when known."""

    error_id = "campaign_not_found"

    def __init__(self, key: object, existing: Iterable[str] | None = None) -> None:
        self.key = key
        message = f"campaign {key!r} does not exist"
        if existing is not None:
            names = ", ".join(repr(n) for n in sorted(existing))
            message += f"; existing campaigns: {names or 'none yet (dialer campaign create NAME)'}"
        super().__init__(message)
