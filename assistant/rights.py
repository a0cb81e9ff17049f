"""Who may write what: the upload namespace of a user, and the rule for replacing or deleting a document.

Reading is decided by :func:`assistant.filters.can_read`. Writing (replacing or deleting) a document needs
more than reading it:

- every group on its access list must be one of the caller's groups, so a team cannot remove what it
  shares with another team;
- ``public`` on the list needs the ``publish`` role, since every key reads ``public``;
- a document ingested from the command line (it has no ``owner``) needs the ``admin`` role.

Uploads live under ``uploads/<namespace>/<file name>``, where the namespace is derived from the uploader's
user name verbatim (a readable slug plus a hash of the exact name), so two users never share a source.
"""

from __future__ import annotations

import hashlib
import re

from assistant.types import PUBLIC_GROUP, Document

PUBLISH_ROLE = "publish"
ADMIN_ROLE = "admin"
UPLOADS = "uploads"

_SLUG = re.compile(r"[^a-z0-9]+")


def upload_namespace(user: str) -> str:
    """The folder of ``user``'s uploads: ``slug-HASH`` (just ``HASH`` when no slug is left).

    The hash covers the exact user name, so names that look alike (``müller``/``möller``, ``bob@corp``/
    ``bob_corp``, names in any script) get different folders; the slug is only there for people to read.

    Example:
        >>> upload_namespace("bob@corp")
        'bob-corp-b9b4781c867b7060'
    """
    digest = hashlib.sha256(f"eka-upload-user:{user}".encode("utf-8", "surrogatepass")).hexdigest()[:16]
    slug = _SLUG.sub("-", user.lower()).strip("-")[:32].strip("-")
    return f"{slug}-{digest}" if slug else digest


def upload_source(user: str, name: str) -> str:
    """The source of the file ``name`` uploaded by ``user``."""
    return f"{UPLOADS}/{upload_namespace(user)}/{name}"


def write_refusal(document: Document, groups: frozenset[str], roles: frozenset[str]) -> str | None:
    """Why a caller with ``groups`` and ``roles`` may not replace or delete ``document``; None if they may.

    Args:
        document: the stored document.
        groups: the caller's groups (``public`` included, as every key has it).
        roles: the caller's roles.

    Returns:
        A reason safe to show the caller (who can read the document), or None.
    """
    foreign = sorted(document.acl - groups)
    if foreign:
        return f"it is shared with {', '.join(foreign)}, which this key is not in"
    if document.owner is None and ADMIN_ROLE not in roles:
        return "it was ingested from the command line; only a key with the 'admin' role may change it"
    if PUBLIC_GROUP in document.acl and PUBLISH_ROLE not in roles:
        return "it is public; only a key with the 'publish' role may change public documents"
    return None
