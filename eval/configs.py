"""Named retrieval configurations that the harness compares side by side.

A configuration is a search mode plus settings overrides. Names can be extended on the command line:
``hybrid@dense_weight=0.3@fusion=rrf`` is ``hybrid`` with two settings changed (handy for tuning sweeps).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from assistant.config import Settings
from assistant.types import SearchMode

# Settings that change what is indexed (and so need their own index build); the rest only change search.
INDEX_SETTINGS = ("embedding_model", "chunk_tokens", "chunk_overlap_tokens")


@dataclass(frozen=True)
class EvalConfig:
    """One configuration under evaluation."""

    name: str
    kind: Literal["eka", "langchain"] = "eka"
    mode: SearchMode = "hybrid"
    overrides: dict[str, Any] = field(default_factory=dict)

    def settings(self, base: Settings) -> Settings:
        """``base`` with this configuration's overrides applied (validated)."""
        return Settings.model_validate({**base.model_dump(), **self.overrides})


BUILTIN: dict[str, EvalConfig] = {
    "lexical": EvalConfig("lexical", mode="lexical", overrides={"reranker": "none"}),
    "dense": EvalConfig("dense", mode="dense", overrides={"reranker": "none"}),
    "hybrid": EvalConfig("hybrid", mode="hybrid", overrides={"reranker": "none"}),
    "hybrid+rerank": EvalConfig(
        "hybrid+rerank", mode="hybrid", overrides={"reranker": "late-interaction", "rerank_weight": 1.0}
    ),
    "langchain-naive": EvalConfig("langchain-naive", kind="langchain"),
}


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
        elif name in BUILTIN:
            config = BUILTIN[name]
        else:
            raise ValueError(f"unknown configuration {name!r}; choose from default, {', '.join(BUILTIN)}")
        overrides = dict(config.overrides)
        for change in changes:
            key, sep, value = change.partition("=")
            if not sep or key not in Settings.model_fields:
                raise ValueError(f"bad override {change!r} in {item!r} (KEY=VALUE with a settings field)")
            overrides[key] = value
        configs.append(EvalConfig(item, config.kind, config.mode, overrides))
    return configs
