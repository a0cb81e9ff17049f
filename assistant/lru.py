"""A least-recently-used cache bounded by entries and by bytes, for caches keyed by what callers send."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class SizedLRU(Generic[K, V]):
    """At most ``max_entries`` entries and ``max_bytes`` bytes (as ``size`` counts them); oldest go first.

    An entry larger than ``max_bytes`` on its own is not kept at all.

    Example:
        >>> cache = SizedLRU[str, bytes](max_entries=2, max_bytes=10, size=lambda k, v: len(k) + len(v))
        >>> cache.put("a", b"1234"); cache.put("b", b"5678"); cache.get("a")
        b'1234'
        >>> cache.put("c", b"0"); cache.get("b") is None  # "b" was the least recently used
        True
    """

    def __init__(self, max_entries: int, max_bytes: int, size: Callable[[K, V], int]) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._size = size
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self.bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get(self, key: K) -> V | None:
        """The value of ``key`` (now the most recently used), or None."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` under ``key``, evicting the least recently used entries past either bound."""
        size = self._size(key, value)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            if size > self.max_bytes:
                return
            self._items[key] = (value, size)
            self.bytes += size
            while len(self._items) > self.max_entries or self.bytes > self.max_bytes:
                _key, (_value, evicted) = self._items.popitem(last=False)
                self.bytes -= evicted

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()
            self.bytes = 0
