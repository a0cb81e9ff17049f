"""Bounds on caller input: filter limits, the sized cache, surrogate detection."""

from __future__ import annotations

import fnmatch

import pytest

from assistant.api.unicode import has_lone_surrogate
from assistant.filters import FilterError, check_filters, matches, parse_filters
from assistant.lru import SizedLRU
from assistant.types import Document


def doc(source: str) -> Document:
    return Document("d1", source, "0" * 64, "T", "text/plain", {}, frozenset({"public"}), "2024-01-01")


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"brand": ("x" * 201,)}, "at most 200"),
        ({"source": ("*a" * 11,)}, "11 wildcards; at most 10"),
        ({"k" * 101: ("x",)}, "at most 100"),
        ({"brand": tuple(str(i) for i in range(101))}, "101 values"),
        ({f"k{i}": ("x",) for i in range(21)}, "21 filter keys"),
    ],
)
def test_filters_over_a_limit_are_refused_with_the_limit_named(
    filters: dict[str, tuple[str, ...]], message: str
) -> None:
    with pytest.raises(FilterError, match=message):
        check_filters(filters)


def test_cli_filters_are_checked_too() -> None:
    with pytest.raises(FilterError, match="at most 200"):
        parse_filters(["brand=" + "x" * 300])


def test_filters_within_the_limits_pass() -> None:
    check_filters({"source": ("brakes/*/spec-??.pdf",), "brand": ("x" * 200,)})


def test_source_globs_do_not_grow_fnmatchs_unbounded_cache() -> None:
    before = fnmatch._compile_pattern.cache_info().currsize  # type: ignore[attr-defined]
    for i in range(300):
        assert matches(doc(f"brakes/spec-{i}.pdf"), {"source": (f"brakes/spec-{i}.*",)})
    assert fnmatch._compile_pattern.cache_info().currsize == before  # type: ignore[attr-defined]


def test_sized_lru_evicts_by_bytes_as_well_as_entries() -> None:
    cache = SizedLRU[str, bytes](max_entries=100, max_bytes=1000, size=lambda k, v: len(k) + len(v))
    for i in range(50):
        cache.put(f"k{i:02d}", b"x" * 97)  # 100 bytes each
    assert cache.bytes <= 1000 and len(cache) == 10
    assert cache.get("k49") is not None and cache.get("k00") is None
    cache.put("big", b"x" * 2000)  # larger than the whole budget: not kept, nothing evicted for it
    assert "big" not in cache and len(cache) == 10


def test_sized_lru_evicts_the_least_recently_used_entry() -> None:
    cache = SizedLRU[str, int](max_entries=2, max_bytes=10**6, size=lambda k, v: 1)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3


@pytest.mark.parametrize(
    "body",
    [
        b'{"query": "\\ud800"}',
        b'{"query": "x\\uDFFF"}',
        b'{"messages": [{"role": "user", "content": "hi", "\\udc00": 1}]}',
        b'{"query": "\xed\xa0\x80"}',  # a surrogate's UTF-8 bytes
    ],
)
def test_lone_surrogates_are_found_in_values_and_keys(body: bytes) -> None:
    assert has_lone_surrogate(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"query": "\\ud83d\\ude00"}',  # a proper pair: one emoji
        b'{"query": "\\\\ud800"}',  # an escaped backslash, then the text "ud800"
        b'{"query": "pad wear"}',
        b'{"query": ',  # not JSON: left to the route's validation
    ],
)
def test_valid_text_and_non_json_pass(body: bytes) -> None:
    assert not has_lone_surrogate(body)
