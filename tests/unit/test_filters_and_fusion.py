import numpy as np
import pytest

from assistant.filters import FilterError, can_read, matches, parse_filters
from assistant.retrieval import fuse_minmax, fuse_rrf
from assistant.types import Document


def doc(**metadata: object) -> Document:
    return Document(
        "d1",
        "brakes/spec.pdf",
        "sha",
        "Brake spec",
        "application/pdf",
        dict(metadata),
        frozenset({"brakes"}),
        "2026-01-01",
    )


def test_parse_filters_groups_repeated_keys() -> None:
    assert parse_filters(["brand=A", "brand=B", "doc_type=spec"]) == {
        "brand": ("A", "B"),
        "doc_type": ("spec",),
    }
    with pytest.raises(FilterError):
        parse_filters(["brand"])
    with pytest.raises(FilterError):
        parse_filters(["=x"])


def test_filters_match_metadata_case_insensitively_and_glob_sources() -> None:
    document = doc(brand="Aurelis", tags=["abs", "esc"])
    assert matches(document, {"brand": ("aurelis",)})
    assert matches(document, {"brand": ("Kestrel", "Aurelis")})
    assert not matches(document, {"brand": ("Kestrel",)})
    assert matches(document, {"tags": ("ESC",)})
    assert matches(document, {"source": ("brakes/*",)})
    assert not matches(document, {"source": ("chassis/*",)})
    assert not matches(document, {"program": ("X",)})


def test_access_needs_a_shared_group() -> None:
    assert can_read(doc(), frozenset({"brakes", "public"}))
    assert not can_read(doc(), frozenset({"public"}))


def test_minmax_fusion_by_hand() -> None:
    dense = (np.array([1, 2, 3]), np.array([0.9, 0.5, 0.1], dtype=np.float32))
    lexical = (np.array([3, 4]), np.array([10.0, 5.0], dtype=np.float32))
    fused = fuse_minmax([dense, lexical], [0.5, 0.5])
    assert fused[1] == pytest.approx(0.5)
    assert fused[2] == pytest.approx(0.25)
    assert fused[3] == pytest.approx(0.5)  # worst dense (0) + best lexical (0.5)
    assert fused[4] == pytest.approx(0.0)


def test_rrf_fusion_by_hand() -> None:
    fused = fuse_rrf([(np.array([7, 8]), np.zeros(2)), (np.array([8]), np.zeros(1))], [1.0, 1.0], k=60)
    assert fused[7] == pytest.approx(1 / 61)
    assert fused[8] == pytest.approx(1 / 62 + 1 / 61)
