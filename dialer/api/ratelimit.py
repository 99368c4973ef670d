"""A sliding-window rate limit per key (callback-request sources, addresses with bad keys).

``hit(key, limit, window_s)`` counts one use and answers 0, or — when ``limit`` uses
already fall within the last ``window_s`` seconds — counts nothing and answers the seconds
until the oldest of them ages out (the ``Retry-After`` of a 429). Kept in memory per
process; ``clock`` is injectable for tests.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field


@dataclass
class WindowLimiter:
    """Uses per key within a sliding window; see the module's text."""

    clock: Callable[[], float] = time.monotonic
    max_keys: int = 10_000
    _uses: dict[Hashable, deque[float]] = field(default_factory=dict)

    def _recent(self, key: Hashable, window_s: float) -> deque[float]:
        now = self.clock()
        times = self._uses.get(key, deque())
        while times and now - times[0] >= window_s:
            times.popleft()
        return times

    def wait_s(self, key: Hashable, limit: int, window_s: float) -> float:
        """Seconds before ``key`` may be used again (0: now); counts nothing."""
        times = self._recent(key, window_s)
        if len(times) < limit:
            return 0.0
        return max(0.0, window_s - (self.clock() - times[len(times) - limit]))

    def hit(self, key: Hashable, limit: int, window_s: float) -> float:
        """Count one use of ``key`` if allowed (returns 0), else the seconds to wait."""
        wait = self.wait_s(key, limit, window_s)
        if wait > 0:
            return wait
        if key not in self._uses and len(self._uses) >= self.max_keys:
            quiet = sorted(self._uses, key=lambda k: self._uses[k][-1] if self._uses[k] else 0)
            for old in quiet[: max(1, self.max_keys // 10)]:
                del self._uses[old]
        times = self._recent(key, window_s)
        times.append(self.clock())
        self._uses[key] = times
        return 0.0
