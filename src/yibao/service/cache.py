"""Per-process caches for what every gateway call reads and rarely changes.

* credentials and institutions — kept for ``ttl`` seconds, so a revoked credential or a
  changed institution takes effect within that time in every worker;
* sign-ins — a ``sign_no`` once seen valid stays valid (sign-ins are never withdrawn);
* parsed histories — keyed by the person's ``history_version``, which every change to the
  history bumps (:func:`yibao.service.db.models._bump_history_version`), so a stale entry
  is never used;
* coverages — keyed by the same version and the day: coverage is a function of the history,
  the day and the city's policy, which is fixed for the process (a 1101 at registration and
  the 2207 of the same day ask the same question).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

V = TypeVar("V")


class TtlCache(Generic[V]):
    def __init__(self, ttl: float, size: int = 10_000):
        self.ttl, self.size = ttl, size
        self._data: "OrderedDict[Hashable, tuple[float, V]]" = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], V]) -> V:
        now = time.monotonic()
        with self._lock:
            hit = self._data.get(key)
            if hit is not None and (self.ttl <= 0 or now - hit[0] < self.ttl):
                self._data.move_to_end(key)
                return hit[1]
        value = load()
        with self._lock:
            self._data[key] = (now, value)
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class Caches:
    def __init__(self, ttl: float = 30.0):
        self.credentials: TtlCache = TtlCache(ttl, 1_000)
        self.institutions: TtlCache = TtlCache(ttl, 10_000)
        self.sign_ins: TtlCache = TtlCache(0, 10_000)
        self.histories: TtlCache = TtlCache(0, 20_000)
        self.coverages: TtlCache = TtlCache(0, 20_000)
