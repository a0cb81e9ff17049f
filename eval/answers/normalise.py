"""Text normalisation for key facts: two spellings of the same value compare equal after :func:`normalise`.

The steps, in order: Unicode NFKC; case folding; one hyphen for every dash and minus sign; ``×`` as ``x``;
straight quotes; markdown emphasis, code ticks and table pipes dropped; ``+/-`` and "plus or minus" as
``±``; unit spellings after a number unified (``N·m``, ``N.m``, ``N m``, ``newton metres`` → ``nm``;
``°C``, ``deg C``, ``degrees Celsius`` → ``°c``; ``seconds`` → ``s``; ``percent`` → ``%``; …); digit
grouping commas removed (``1,500`` → ``1500``); whitespace collapsed; no space around ``±``, ``-``, ``=``,
``<=``/``>=`` and between a number and its unit.

:func:`contains` then looks for a normalised fact in a normalised text at word and number boundaries:
``15`` is found in ``code 15.`` but not in ``150``, ``2.15`` or ``C15``; ``3 s`` is found in ``3 seconds``.

Example:
    >>> normalise("230 ± 15 N·m") == normalise("230+/-15 Nm")
    True
    >>> contains(normalise("Torque: 230 +/- 15 N m, TL-A."), normalise("230 ± 15 N·m"))
    True
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["contains", "normalise"]

# Characters replaced one by one after NFKC and case folding.
_CHARS = str.maketrans(
    {
        **dict.fromkeys("‐‑‒–—―−﹘﹣－⁃", "-"),
        "×": "x",
        **dict.fromkeys("‘’‚‛", "'"),
        **dict.fromkeys("“”„‟", '"'),
        "`": None,  # markdown code ticks
        "|": " ",  # markdown table cells
        "≥": ">=",
        "≤": "<=",
    }
)
_BOLD = re.compile(r"\*\*")
_PLUS_MINUS = re.compile(r"\+\s*/?\s*-|plus\s+or\s+minus")
_CARET_EXPONENT = re.compile(r"\^(?=[-+]?\d)")  # 10^-9 → 10-9 (how PDF text shows superscripts)
_DIGIT_GROUP = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_NUMBER_TIMES = re.compile(r"(?<=\d)\s*x\s*(?=\d)")

# Unit spellings after a number (with or without a space), mapped to one canonical unit. Order matters: the
# longer spelling of each family comes first.
_UNIT_ALIASES: tuple[tuple[str, str], ...] = (
    (r"n\s*[·∙⋅.\-]?\s*m|newton[\s-]?met(?:er|re)s?", "nm"),
    (r"(?:degrees?|deg\.?|°)\s*(?:celsius|c)", "°c"),
    (r"(?:degrees?|deg\.?|°)\s*(?:fahrenheit|f)", "°f"),
    (r"degrees?|deg\.?", "°"),
    (r"milliseconds?|msecs?", "ms"),
    (r"seconds?|secs?", "s"),
    (r"minutes?|mins?", "min"),
    (r"hours?|hrs?", "h"),
    (r"percent|per\s+cent", "%"),
    (r"k\s*(?:ohms?|ω)|kilo-?ohms?", "kohm"),
    (r"ohms?|ω", "ohm"),
    (r"millimet(?:er|re)s?", "mm"),
    (r"volts?", "v"),
    (r"amperes?|amps?", "a"),
    (r"knots?|kts?", "kn"),
)
_ALIASES = tuple((re.compile(rf"(?<=\d)\s*(?:{pattern})(?![\w°])"), unit) for pattern, unit in _UNIT_ALIASES)
_UNITS = (
    "°c|°f|°|%|nm|ms|s|min|h|kohm|ohm|mm|cm|km/h|km|m|mph|kn|kv|mv|v|ma|a|kwh|kw|mw|w|ghz|mhz|khz|hz"
    "|mbar|bar|kpa|mpa|pa|psi|kg|g|n|k|l/min|l|rpm|bits?|bytes?|kib|mib|gib|kb|mb|gb"
)
_NUMBER_UNIT_SPACE = re.compile(rf"(?<=\d)\s+(?=(?:{_UNITS})(?![\w°]))")
_TIGHT = re.compile(r"\s*(±|-|=|<=|>=)\s*")


def normalise(text: str) -> str:
    """``text`` in the canonical form facts and answers are compared in (see the module docstring).

    The rewrites are applied until nothing changes (one step can expose a pattern for an earlier one, as in
    ``^ ^0``), so normalising twice changes nothing: ``normalise(normalise(t)) == normalise(t)``.
    """
    out = unicodedata.normalize("NFKC", text).casefold()
    for _ in range(8):
        before, out = out, _rewrite(out)
        if out == before:
            break
    return out


def _rewrite(text: str) -> str:
    out = _BOLD.sub("", text.translate(_CHARS))
    out = _PLUS_MINUS.sub("±", out)
    out = _CARET_EXPONENT.sub("", out)
    out = _DIGIT_GROUP.sub("", out)
    out = " ".join(out.split())
    out = _NUMBER_TIMES.sub("x", out)
    for pattern, unit in _ALIASES:
        out = pattern.sub(unit, out)
    out = _NUMBER_UNIT_SPACE.sub("", out)
    return _TIGHT.sub(r"\1", out).strip()


def contains(text: str, fact: str) -> bool:
    """Whether the normalised ``fact`` occurs in the normalised ``text`` as a whole token sequence.

    A fact that starts (ends) with a letter or digit must not continue a word or number in ``text``: ``15``
    is not in ``150``, ``2.15`` or ``15.5``; ``silent`` is not in ``safety_silent``.
    """
    if not fact:
        return False
    before = r"(?<!\w)(?<!\d\.)" if fact[0].isalnum() else ""
    after = r"(?!\w)(?![.,]\d)" if fact[-1].isalnum() else ""
    return re.search(before + re.escape(fact) + after, text) is not None
