"""When to ask about a render again: soon at first, then backing off, but just after the
moment the progress reported so far says the render will finish.

Fixed polling every 30 s finds a finished render 15 s late on average; backing off alone
is late by up to its longest gap. The progress percentages Nemo reports give a rate, and
the rate gives a predicted finish: the next look is aimed just past it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Aim this long after the predicted finish, so the look lands after it, not before.
MARGIN_S = 0.3


@dataclass(slots=True)
class PollPacer:
    """Gives the delay before each status check of one render."""

    first_s: float
    max_s: float
    factor: float = 1.5
    floor_s: float = 0.5
    _backoff: float = field(init=False)
    _floor: float = field(init=False)
    _start: tuple[float, float] | None = field(init=False, default=None)
    _latest: tuple[float, float] | None = field(init=False, default=None)
    _last_look: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._backoff = min(self.first_s, self.max_s)
        self._floor = min(self.floor_s, self._backoff)

    def first_delay(self) -> float:
        """The delay before the first check."""
        return self._backoff

    def next_delay(self, now: float, progress: float | None) -> float:
        """The delay before the next check, given the progress (0-100) seen at `now`."""
        self._backoff = min(self._backoff * self.factor, self.max_s)
        # The change happened between the previous look and this one: take the middle,
        # or the prediction runs late by up to a whole gap.
        changed_at = now if self._last_look is None else (self._last_look + now) / 2
        self._last_look = now
        if progress is not None and 0 < progress < 100:
            if self._latest is None or progress > self._latest[1]:
                if self._start is None:
                    self._start = (changed_at, progress)
                self._latest = (changed_at, progress)
                self._floor = min(self.floor_s, self._backoff)
            else:
                # No news since the last look: do not hammer a stalled render.
                self._floor = min(self._floor * 2, self._backoff)
        eta = self._predicted_finish()
        if eta is None:
            return self._backoff
        return max(self._floor, min(self._backoff, eta - now + MARGIN_S))

    def _predicted_finish(self) -> float | None:
        if self._start is None or self._latest is None:
            return None
        (t0, p0), (t1, p1) = self._start, self._latest
        if t1 <= t0 or p1 <= p0:
            return None
        rate = (p1 - p0) / (t1 - t0)
        return t1 + (100.0 - p1) / rate
