"""Lexical tokenisation that keeps engineering identifiers whole.

``MIL-STD-882E``, ``CLOSE-WAIT``, ``25.1309``, ``±0.05``, ``0x19`` and ``C1A27-54`` are each kept as one token
*and* split into their parts, so a query for the full identifier matches it exactly (a rare, high-IDF term)
while a query for a part (``882E``) still finds it. Plain words are lower-cased and Snowball-stemmed.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer

TOKENIZER_VERSION = "tok1"  # bump when tokenisation changes: lexical indexes are then rebuilt

# A run of letters/digits, optionally joined by - _ . / : + (only between alphanumerics), with an optional ±.
_COMPOUND = re.compile(r"±?[^\W_]+(?:[-_./:+][^\W_]+)*")
_PARTS = re.compile(r"[^\W_]+")
_NUMBER = re.compile(r"\d+(?:\.\d+)+")

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
        "what",
        "which",
        "who",
        "whom",
        "how",
        "when",
        "where",
        "why",
        "do",
        "does",
        "did",
        "can",
        "could",
        "should",
        "would",
        "shall",
        "may",
        "might",
        "must",
        "has",
        "have",
        "had",
        "been",
        "being",
        "i",
        "you",
        "he",
        "she",
        "we",
        "our",
        "your",
        "its",
        "from",
        "than",
        "so",
        "also",
        "about",
    ]
)

_stemmer = Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def _cached_stem(word: str) -> str:
    return str(_stemmer.stemWord(word))


def _stem(word: str) -> str:
    # Queries are caller input: only words of ordinary length are cached, so the cache stays a few MB.
    return _cached_stem(word) if len(word) <= 32 else str(_stemmer.stemWord(word))


def _word(part: str) -> str | None:
    if part in STOPWORDS:
        return None
    return _stem(part) if part.isalpha() else part


def _expand(compound: str, tokens: list[str]) -> None:
    """Append a compound, its hyphen/slash segments and their words."""
    tokens.append(compound)
    if compound.startswith("±"):
        tokens.append(compound[1:])
        return
    segments = [s for s in re.split(r"[-_/:+]", compound) if s]
    for segment in segments:
        if len(segments) > 1 and "." in segment:
            tokens.append(segment)
        # A decimal number (25.1309) or version (4.2.1) is one thing; its digits alone mean little.
        if _NUMBER.fullmatch(segment):
            continue
        tokens.extend(w for w in (_word(p) for p in _PARTS.findall(segment)) if w)


def tokenize(text: str) -> list[str]:
    """Split text into lexical tokens: compounds whole plus their parts; words stemmed; stopwords dropped.

    Example:
        >>> tokenize("MIL-STD-882E requires ±0.05 mm")
        ['mil-std-882e', 'mil', 'std', '882e', 'requir', '±0.05', '0.05', 'mm']
    """
    text = unicodedata.normalize("NFKC", text).lower()
    tokens: list[str] = []
    for match in _COMPOUND.finditer(text):
        compound = match.group()
        if compound.isalnum():
            word = _word(compound)
            if word:
                tokens.append(word)
        else:
            _expand(compound, tokens)
    return tokens
