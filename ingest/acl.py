"""Access lists from ingest metadata, read so that a mistake fails closed instead of publishing a document.

``acl`` (or ``groups``) in a sidecar or ``--meta`` names the groups that may read a document. What counts
as a mistake, reported per file (an error by default; a warning with ``EKA_ACL_MISTAKES=warn``):

- an explicit list with nothing in it: ``acl: []``, ``acl: null``, ``acl: ""``, ``acl: [" "]``, or a blank
  or non-text entry in a list;
- a key that looks like a misspelt ``acl``: ``ACL``, ``Acl``, ``acls``, ``access``, ``access_list``,
  ``Groups``, ``alc``, …;
- a group outside the deployment's known groups (``EKA_KNOWN_GROUPS``), when that list is set.

No access list at all still means ``public``; the ingest report lists those documents.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from assistant.types import PUBLIC_GROUP

ACL_KEYS = ("acl", "groups")
# Normalised (case-folded, without separators) keys that someone who meant ``acl`` may have written.
_ACL_LIKE = frozenset(
    {
        "acl",
        "acls",
        "acllist",
        "aclgroups",
        "access",
        "accesslist",
        "accessgroup",
        "accessgroups",
        "accesscontrol",
        "accesscontrollist",
        "group",
        "groups",
        "readers",
        "readergroups",
        "allowedgroups",
        "permissions",
    }
)


@dataclass(frozen=True, slots=True)
class AccessList:
    """The groups read from metadata, the mistakes found, and whether no list was given at all."""

    groups: frozenset[str]
    problems: tuple[str, ...]
    by_default: bool


def looks_like_acl_key(key: str) -> bool:
    """Whether a metadata key other than ``acl``/``groups`` was probably meant as one of them."""
    if key in ACL_KEYS:
        return False
    folded = re.sub(r"[\W_]+", "", key.casefold())
    return folded in _ACL_LIKE or any(
        len(folded) == len(k) and sorted(folded) == sorted(k) for k in ACL_KEYS
    )  # anagrams: alc, cal, gropus


def _entries(key: str, value: Any) -> tuple[list[str], list[str]]:
    """Group names of one ``acl``/``groups`` value and the problems with it."""
    if value is None:
        return [], [f"'{key}' is empty (null); list the groups that may read the document"]
    items: list[Any]
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        return [], [f"'{key}' must be a list of group names, not {type(value).__name__}"]
    problems: list[str] = []
    groups: list[str] = []
    for item in items:
        if not isinstance(item, str | int):
            problems.append(f"'{key}' holds {type(item).__name__} where a group name should be")
        elif not str(item).strip():
            problems.append(f"'{key}' holds a blank group name")
        else:
            groups.append(str(item).strip().lower())
    if not groups and not problems:
        problems.append(f"'{key}' is an empty list; list the groups that may read the document")
    return groups, problems


def read_access_list(
    metadata: dict[str, Any], override: list[str] | None, known: frozenset[str]
) -> AccessList:
    """Take the access list out of ``metadata`` (its keys are removed) and check it.

    Args:
        metadata: a document's metadata (sidecar plus ``--meta``); ``acl`` and ``groups`` are popped.
        override: groups given for the whole run (``--acl``, an upload's groups); they win over metadata,
            and its access-list keys are then not checked.
        known: the deployment's groups; empty means any group is accepted.

    Returns:
        The groups (``public`` when none could be read), the problems, and whether no list was given.

    Example:
        >>> read_access_list({"ACL": ["security"]}, None, frozenset()).problems[0][:27]
        "metadata key 'ACL' looks li"
    """
    given = {k: metadata.pop(k) for k in ACL_KEYS if k in metadata}
    problems: list[str] = []
    groups: list[str] = []
    if override:
        groups = [g.strip().lower() for g in override if g.strip()]
    else:
        problems += [
            f"metadata key '{k}' looks like a misspelt 'acl' (access list) and would leave the document "
            "public; rename it to 'acl'"
            for k in metadata
            if looks_like_acl_key(k)
        ]
        if given:  # ``acl`` wins over ``groups`` when both are given
            key = next(k for k in ACL_KEYS if k in given)
            groups, wrong = _entries(key, given[key])
            problems += wrong
    if known:
        for group in sorted(set(groups) - known - {PUBLIC_GROUP}):
            close = difflib.get_close_matches(group, sorted(known), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; known groups: {', '.join(sorted(known))}"
            problems.append(f"unknown access group '{group}'{hint}")
    by_default = not override and not given
    return AccessList(frozenset(groups) or frozenset({PUBLIC_GROUP}), tuple(problems), by_default)
