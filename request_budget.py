"""A budget of RegioJet requests per second, shared by every consumer that uses one Huey queue.

The count lives in the queue's storage (a Redis hash, or the SQLite queue file), so consumers on
several hosts draw from one budget. Each window of `window_seconds` allows `limit` requests; a
request over the limit waits for the next window. Counting with the storage's atomic increment
keeps the budget exact inside a window; across a window edge up to twice the limit can pass in one
second, as with any fixed window.
"""

import logging
import math
import time
from typing import Callable

logger = logging.getLogger(__name__)

# A request that cannot get a slot within this many seconds gives up, so that a check backs off
# through the database instead of holding a worker thread.
DEFAULT_MAX_WAIT_SECONDS = 10.0


class RequestBudgetExceeded(Exception):
    """No request slot came free within the wait limit."""


class RequestBudget:
    """A fixed-window request budget kept in Huey storage under `{name}.{window number}` counters."""

    def __init__(
        self,
        storage,
        name: str,
        requests_per_second: float,
        max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if requests_per_second <= 0:
            raise ValueError(f"Invalid request rate {requests_per_second!r}: use a number of requests per second above 0")
        self.storage = storage
        self.name = name
        # Rates below one request per second get a longer window with one request in it.
        self.window_seconds = max(1, math.ceil(1 / requests_per_second))
        self.limit = max(1, math.floor(requests_per_second * self.window_seconds))
        self.max_wait_seconds = max_wait_seconds
        self.clock = clock
        self.sleep = sleep

    def acquire(self) -> float:
        """Take one request slot, waiting for a later window when this one is full.

        Returns the seconds waited. Raises RequestBudgetExceeded after `max_wait_seconds`.
        """
        started = self.clock()
        while True:
            now = self.clock()
            window = int(now // self.window_seconds)
            count = self.storage.incr(self._key(window))
            if count == 1:
                # The first request of a window removes the counter two windows back.
                self.storage.delete_counter(self._key(window - 2))
            if count <= self.limit:
                return now - started

            wait = (window + 1) * self.window_seconds - now
            if now + wait - started > self.max_wait_seconds:
                raise RequestBudgetExceeded(
                    f"no RegioJet request slot came free within {self.max_wait_seconds:g} s "
                    f"(budget {self.limit} per {self.window_seconds} s); raise REGIOJET_MAX_REQUESTS_PER_SECOND "
                    "if RegioJet allows more"
                )
            self.sleep(wait)

    def _key(self, window: int) -> str:
        return f"{self.name}.{window}"
