"""Pacing profiles that ops edit while the engine runs.

:class:`ProfileWatcher` looks at the profile files' modification times (cheap enough to do
every tick); a changed file is loaded and validated, and a valid change is handed to the
engine at the next tick. An invalid one is refused with the loader's error, logged, and
the old profile is kept. :class:`PacerHost` lets the engine swap a campaign's pacer for one
built from the new profile without losing what the old one learned: it keeps the recent
pacer events and replays them into the new pacer.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import structlog

from dialer.errors import ROOT_ERRORS, DialerError
from pacing import types as pt
from pacing.trace import TraceWriter

log = structlog.get_logger(__name__)

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class ProfileChange(Generic[P]):
    """One profile file that changed: its new value, or the error that refused it."""

    name: str
    path: Path
    profile: P | None
    error: str | None


class ProfileWatcher(Generic[P]):
    """Loads every ``*.toml`` in a folder and reports the files that changed since."""

    def __init__(self, directory: Path, load: Callable[[Path], P]) -> None:
        self.directory = directory
        self._load = load
        self._seen: dict[Path, tuple[float, int]] = {}
        self.profiles: dict[str, P] = {}
        self.errors: dict[str, str] = {}

    def poll(self) -> list[ProfileChange[P]]:
        """Reload the files whose size or modification time changed."""
        changes: list[ProfileChange[P]] = []
        try:
            paths = sorted(self.directory.glob("*.toml"))
        except OSError as exc:
            log.warning("profiles_unreadable", directory=str(self.directory), error=str(exc))
            return changes
        for path in paths:
            try:
                stat = path.stat()
            except OSError:
                continue
            stamp = (stat.st_mtime, stat.st_size)
            if self._seen.get(path) == stamp:
                continue
            self._seen[path] = stamp
            changes.append(self._reload(path))
        return changes

    def _reload(self, path: Path) -> ProfileChange[P]:
        name = path.stem
        try:
            profile = self._load(path)
        except ROOT_ERRORS as exc:
            self.errors[name] = str(exc)
            kept = "kept the previous profile" if name in self.profiles else "not loaded"
            log.error("profile_refused", profile=name, error=str(exc), action=kept)
            return ProfileChange(name, path, None, str(exc))
        self.errors.pop(name, None)
        self.profiles[name] = profile
        log.info("profile_loaded", profile=name, path=str(path))
        return ProfileChange(name, path, profile, None)

    def get(self, name: str) -> P:
        """The current valid profile ``name``; DialerError when there is none."""
        try:
            return self.profiles[name]
        except KeyError:
            why = self.errors.get(name, "no such file")
            known = ", ".join(sorted(self.profiles)) or "none"
            msg = f"pacing profile {name!r} is not available ({why}); loaded: {known}"
            raise ProfileUnavailableError(msg) from None


class ProfileUnavailableError(DialerError):
    """A campaign names a pacing profile that is missing or invalid."""

    error_id = "profile_unavailable"


class PacerHost:
    """A pacer that can be rebuilt from a new profile and keeps what it learned; with a
    ``trace`` it records what the pacer saw and returned (``[pacing] trace_dir``)."""

    def __init__(
        self, pacer: pt.Pacer, *, history: int = 50_000, trace: TraceWriter | None = None
    ) -> None:
        self.pacer = pacer
        self.trace = trace
        self._events: deque[pt.Event] = deque(maxlen=history)

    def observe(self, event: pt.Event) -> None:
        """Pass the event on, and remember it for a later swap."""
        self._events.append(event)
        self.pacer.observe(event)
        if self.trace is not None:
            try:
                self.trace.event(event)
            except OSError as exc:
                self._trace_failed(exc)

    @property
    def status(self) -> object:
        """The current pacer's last decision (``PacerStatus``), if it keeps one: the
        engine's stats read its reason (the floor's "compliance guard" alert)."""
        return getattr(self.pacer, "status", None)

    def decide(self, view: pt.View) -> int:
        """Ask the current pacer."""
        n = self.pacer.decide(view)
        if self.trace is not None:
            try:
                self.trace.decision(view, n, pt.pacer_reason(self.pacer))
            except OSError as exc:
                self._trace_failed(exc)
        return n

    def _trace_failed(self, exc: OSError) -> None:
        """A trace that cannot be written is given up (logged once): pacing goes on."""
        trace, self.trace = self.trace, None
        if trace is not None:
            log.error("pacer_trace_failed", path=str(trace.path), error=str(exc))
            with contextlib.suppress(OSError):
                trace.close()

    @property
    def first_event_t(self) -> float | None:
        """The time of the oldest event remembered (what :meth:`swap` replays from)."""
        return self._events[0].t if self._events else None

    def swap(self, pacer: pt.Pacer) -> None:
        """Replace the pacer, replaying the remembered events into the new one first."""
        for event in self._events:
            pacer.observe(event)
        self.pacer = pacer

    def close(self) -> None:
        """Close the trace, if any."""
        if self.trace is not None:
            self.trace.close()
