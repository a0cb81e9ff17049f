"""Named retrieval configurations that the harness compares side by side.

A configuration is a search mode, a storage backend and settings overrides. Names can be extended on the
command line: ``hybrid@dense_weight=0.3@fusion=rrf`` is ``hybrid`` with two settings changed (handy for tuning
sweeps), and ``default@backend=postgres`` (or ``postgres``) is the default search on the PostgreSQL backend
(eval/pg.py gives each corpus its own database).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from assistant.config import Settings
from assistant.types import SearchMode

# Settings that change what is indexed (and so need their own index build); the rest only change search.
INDEX_SETTINGS = ("embedding_model", "chunk_tokens", "chunk_overlap_tokens")
Backend = Literal["embedded", "postgres"]
BACKENDS: tuple[Backend, ...] = ("embedded", "postgres")


@dataclass(frozen=True)
class EvalConfig:
    """One configuration under evaluation."""

    name: str
    kind: Literal["eka", "langchain"] = "eka"
    mode: SearchMode = "hybrid"
    overrides: dict[str, Any] = field(default_factory=dict)
    backend: Backend = "embedded"

    def settings(self, base: Settings) -> Settings:
        """``base`` with this configuration's overrides applied (validated)."""
        return Settings.model_validate({**base.model_dump(), **self.overrides})


BUILTIN: dict[str, EvalConfig] = {
    "lexical": EvalConfig("lexical", mode="lexical", overrides={"reranker": "none"}),
    "dense": EvalConfig("dense", mode="dense", overrides={"reranker": "none"}),
    "hybrid": EvalConfig("hybrid", mode="hybrid", overrides={"reranker": "none"}),
    "hybrid+rerank": EvalConfig(
        "hybrid+rerank",
        mode="hybrid",
        overrides={"reranker": "late-interaction", "rerank_weight": 1.0, "rerank_scope": "results"},
    ),
    "langchain-naive": EvalConfig("langchain-naive", kind="langchain"),
}
ON_POSTGRES = "postgres"  # the default configuration on the PostgreSQL backend


def resolve(spec: str, base: Settings) -> list[EvalConfig]:
    """Parse ``--configs`` (comma-separated names, each optionally with ``@key=value`` overrides).

    Raises:
        ValueError: an unknown name or a malformed override.
    """
    configs = []
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        name, *changes = item.split("@")
        if name == "default":
            config = EvalConfig("default", mode=base.search_mode)
        elif name == ON_POSTGRES:
            config = EvalConfig(ON_POSTGRES, mode=base.search_mode, backend="postgres")
        elif name in BUILTIN:
            config = BUILTIN[name]
        else:
            raise ValueError(
                f"unknown configuration {name!r}; choose from default, {ON_POSTGRES}, {', '.join(BUILTIN)}"
            )
        overrides = dict(config.overrides)
        backend = config.backend
        for change in changes:
            key, sep, value = change.partition("=")
            if sep and key == "backend":
                if value not in BACKENDS:
                    raise ValueError(f"bad backend {value!r} in {item!r}: choose from {', '.join(BACKENDS)}")
                backend = "postgres" if value == "postgres" else "embedded"
                continue
            if not sep or key not in Settings.model_fields or key == "database_url":
                raise ValueError(f"bad override {change!r} in {item!r} (KEY=VALUE with a settings field)")
            overrides[key] = value
        if backend == "postgres" and config.kind != "eka":
            raise ValueError(f"{name!r} has no storage backend to choose")
        configs.append(EvalConfig(item, config.kind, config.mode, overrides, backend))
    return configs
