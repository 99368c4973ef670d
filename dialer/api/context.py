"""What every request handler reaches: settings, the database, live events, the engine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa
from sqlmodel import Session

from dialer.api.hub import EventHub
from dialer.api.throttle import SignInThrottle
from dialer.config import Settings


class EngineLink(Protocol):
    """The engine running in this process, as the API drives it (:class:`Runtime`)."""

    def agent_command(self, agent_id: int, action: str, payload: dict[str, Any]) -> None:
        """Carry out an agent action now; raises DialerError/ValueError when refused."""

    def agent_snapshot(self, agent_id: int) -> dict[str, Any] | None:
        """The agent's live state and current call (None when not logged in)."""

    def campaign_stats(self, campaign_id: int) -> dict[str, Any] | None:
        """Live figures of a campaign the engine runs (None when not loaded)."""

    def campaign_calls(self, campaign_id: int) -> list[dict[str, Any]] | None:
        """The campaign's calls up now (None when the engine does not run it)."""
        ...

    def sync_campaigns(self) -> None:
        """Re-read campaign states and settings from the database now."""

    def work_arrived(self, campaign_id: int) -> None:
        """Work to dial with an agent reserved arrived in the campaign (e.g. an ASAP callback
        request): the engine looks for it at once. Safe to call from any thread."""


@dataclass
class ApiContext:
    """Shared by all requests of one app (``request.app.state.ctx``)."""

    settings: Settings
    db: sa.Engine
    hub: EventHub
    engine: EngineLink | None = None
    throttle: SignInThrottle = field(default_factory=SignInThrottle)
    #: What time it is for the figures (aware UTC); tests set a fixed instant.
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A database session, committed when the block ends without error."""
        with Session(self.db, expire_on_commit=False) as session:
            yield session
            session.commit()
