"""Slowing down password guessing at sign-in: per login and per client address.

After ``max_failures`` wrong passwords for one login within ``window_s`` seconds that login
is locked until its oldest counted failure is ``window_s`` old; after
``max_failures_per_address`` wrong passwords from one address (for any logins: one
password tried across many logins) that address is locked alike. An administrator lifts a
lock (``POST /api/auth/locks/lift``, the users page). The sign-in route never applies a lock
to the last active administrator signing in from a trusted network
(``http.trusted_networks``), so a guessing attacker cannot lock every administrator out.

Unknown logins are counted like known ones (the answer tells nothing about which logins
exist). Kept in memory per process; ``clock`` is injectable for tests.
"""

from __future__ import annotations

import ipaddress
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

LockKind = Literal["login", "address"]


@dataclass(frozen=True, slots=True)
class Lock:
    """A login or an address that may not sign in for ``wait_s`` more seconds."""

    kind: LockKind
    key: str
    failures: int
    wait_s: float


def in_networks(address: str, networks: Iterable[str]) -> bool:
    """True when ``address`` (an IP address) lies in one of ``networks`` (CIDR)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in networks)


@dataclass
class SignInThrottle:
    """Counts wrong passwords per login and per address; see the module's text."""

    max_failures: int = 5
    window_s: float = 300.0
    max_failures_per_address: int = 20
    clock: Callable[[], float] = time.monotonic
    max_keys: int = 10_000
    _failures: dict[tuple[LockKind, str], deque[float]] = field(default_factory=dict)

    def _limit(self, kind: LockKind) -> int:
        return self.max_failures if kind == "login" else self.max_failures_per_address

    @staticmethod
    def _key(kind: LockKind, key: str) -> tuple[LockKind, str]:
        return kind, key.casefold() if kind == "login" else key

    def _recent(self, kind: LockKind, key: str) -> deque[float]:
        now = self.clock()
        times = self._failures.get(self._key(kind, key), deque())
        while times and now - times[0] >= self.window_s:
            times.popleft()
        return times

    def _wait(self, kind: LockKind, key: str) -> float:
        times = self._recent(kind, key)
        if len(times) < self._limit(kind):
            return 0.0
        # The lock ends when enough failures have aged out to fall under the limit.
        oldest_that_counts = times[len(times) - self._limit(kind)]
        return max(0.0, self.window_s - (self.clock() - oldest_that_counts))

    def wait_s(self, login: str, address: str | None = None) -> tuple[float, LockKind | None]:
        """Seconds before ``login`` may try again from ``address`` (0: now), and which
        lock holds it (``login`` or ``address``; None when free)."""
        by_login = self._wait("login", login)
        by_address = self._wait("address", address) if address else 0.0
        if by_login == 0 and by_address == 0:
            return 0.0, None
        return (by_login, "login") if by_login >= by_address else (by_address, "address")

    def locked(self, login: str) -> bool:
        """True while ``login`` itself is locked (whatever the address)."""
        return self._wait("login", login) > 0

    def failed(self, login: str, address: str | None = None) -> None:
        """Count one wrong password for ``login`` from ``address``."""
        if len(self._failures) >= self.max_keys:  # forget the keys quiet longest
            for key in sorted(self._failures, key=lambda k: self._failures[k][-1])[:1000]:
                del self._failures[key]
        now = self.clock()
        counted: list[tuple[LockKind, str]] = [("login", login)]
        if address:
            counted.append(("address", address))
        for kind, name in counted:
            times = self._recent(kind, name)
            times.append(now)
            self._failures[self._key(kind, name)] = times

    def succeeded(self, login: str) -> None:
        """Forget the failures of ``login`` (it signed in); its address keeps its count."""
        self._failures.pop(self._key("login", login), None)

    def locks(self) -> list[Lock]:
        """Every lock in force, longest wait first."""
        out = []
        for kind, key in list(self._failures):
            wait = self._wait(kind, key)
            if wait > 0:
                out.append(Lock(kind, key, len(self._recent(kind, key)), round(wait, 1)))
        return sorted(out, key=lambda lock: -lock.wait_s)

    def lift(self, kind: LockKind, key: str) -> bool:
        """Lift the lock of a login or an address (its failures are forgotten); False when
        there was none."""
        was = self._wait(kind, key) > 0
        self._failures.pop(self._key(kind, key), None)
        return was
