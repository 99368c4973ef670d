"""Slowing down password guessing at sign-in."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class SignInThrottle:
    """Slows password guessing: after ``max_failures`` wrong passwords for one login within
    ``window_s`` seconds, that login may not sign in until the oldest failure is that old.

    Unknown logins are counted alike (the answer tells nothing about which logins exist).
    Kept in memory per process; ``clock`` is injectable for tests.
    """

    max_failures: int = 5
    window_s: float = 300.0
    clock: Callable[[], float] = time.monotonic
    max_logins: int = 10_000
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, login: str) -> deque[float]:
        now = self.clock()
        times = self._failures.get(login.casefold(), deque())
        while times and now - times[0] >= self.window_s:
            times.popleft()
        return times

    def wait_s(self, login: str) -> float:
        """Seconds before ``login`` may try again (0: now)."""
        times = self._recent(login)
        if len(times) < self.max_failures:
            return 0.0
        return max(0.0, self.window_s - (self.clock() - times[0]))

    def failed(self, login: str) -> None:
        """Count one wrong password for ``login``."""
        if len(self._failures) >= self.max_logins:  # forget the logins quiet longest
            for key in sorted(self._failures, key=lambda k: self._failures[k][-1])[:1000]:
                del self._failures[key]
        times = self._recent(login)
        times.append(self.clock())
        self._failures[login.casefold()] = times

    def succeeded(self, login: str) -> None:
        """Forget the failures of ``login`` (it signed in)."""
        self._failures.pop(login.casefold(), None)
