"""Finding the files to ingest under the paths given, and reading their metadata sidecars."""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SIDECAR_SUFFIXES = (".meta.yaml", ".meta.yml", ".meta.json")
IGNORE_FILE = ".ekaignore"
MAX_NAME_BYTES = 255  # the longest file name Linux file systems (ext4, xfs, btrfs, tmpfs) allow


class SidecarError(ValueError):
    """A metadata sidecar exists but cannot be used."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A file found under a root; ``source`` is its path relative to that root (POSIX separators)."""

    path: Path
    root: Path
    source: str


def is_sidecar(path: Path) -> bool:
    """Whether a file is a metadata sidecar rather than a document."""
    return path.name.endswith(SIDECAR_SUFFIXES)


def _ignored_patterns(root: Path) -> list[str]:
    file = root / IGNORE_FILE
    if not file.is_file():
        return []
    lines = file.read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def discover(path: Path, skip: Path | None = None) -> list[Candidate]:
    """Every document under ``path`` (or ``path`` itself), sorted by source.

    Hidden files and folders, metadata sidecars, files matching patterns in the root's ``.ekaignore`` and
    anything under ``skip`` (eka's own data folder) are left out.

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    if path.is_file():
        return [Candidate(path, path.parent, path.name)]
    if not path.is_dir():
        raise FileNotFoundError(f"no such file or directory: {path}")
    patterns = _ignored_patterns(path)
    skip = skip.resolve() if skip else None
    found: list[Candidate] = []
    for file in sorted(path.rglob("*")):
        relative = file.relative_to(path)
        if any(part.startswith(".") for part in relative.parts) or not file.is_file() or is_sidecar(file):
            continue
        if skip is not None and file.resolve().is_relative_to(skip):
            continue
        source = relative.as_posix()
        if any(fnmatch.fnmatch(source, p) or fnmatch.fnmatch(file.name, p) for p in patterns):
            continue
        found.append(Candidate(file, path, source))
    return found


def read_sidecar(path: Path) -> dict[str, Any]:
    """The metadata in ``NAME.meta.yaml``/``.json`` (or ``STEM.meta.yaml``) beside a document, if any.

    Raises:
        SidecarError: the sidecar is not valid YAML/JSON or not a mapping.
    """
    options = [path.with_name(path.name + s) for s in SIDECAR_SUFFIXES]
    options += [path.with_name(path.stem + s) for s in SIDECAR_SUFFIXES]
    for option in options:
        if len(option.name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
            continue  # a name the file system cannot hold: no such sidecar (stat would raise "too long")
        if not option.is_file():
            continue
        try:
            text = option.read_text(encoding="utf-8")
            data = json.loads(text) if option.suffix == ".json" else yaml.safe_load(text)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as err:
            raise SidecarError(
                f"metadata sidecar {option.name} is unreadable ({type(err).__name__})"
            ) from err
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise SidecarError(f"metadata sidecar {option.name} is not a mapping of keys to values")
        return {str(k): v for k, v in data.items()}
    return {}
