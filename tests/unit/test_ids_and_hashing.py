from pathlib import Path

from assistant.passages import passage_text, text_hash
from ingest.pipeline import chunk_id_for, doc_id_for, file_sha256, normalise_groups


def test_ids_are_deterministic_and_version_specific() -> None:
    assert doc_id_for("a/b.pdf") == doc_id_for("a/b.pdf") != doc_id_for("a/c.pdf")
    doc = doc_id_for("a/b.pdf")
    assert chunk_id_for(doc, "sha1", 0) == chunk_id_for(doc, "sha1", 0)
    assert chunk_id_for(doc, "sha1", 0) != chunk_id_for(doc, "sha2", 0) != chunk_id_for(doc, "sha1", 1)


def test_file_hash_is_sha256_of_bytes(tmp_path: Path) -> None:
    file = tmp_path / "x.txt"
    file.write_bytes(b"abc")
    assert file_sha256(file) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_passage_text_puts_title_and_innermost_heading_first() -> None:
    assert passage_text("Spec", "4 A > 4.1 B", "body") == "Spec | 4.1 B\nbody"
    assert passage_text(None, "4 A", "body") == "4 A\nbody"
    assert passage_text(None, None, "body") == "body"
    assert text_hash("x") == text_hash("x") != text_hash("y")


def test_groups_are_normalised_and_default_to_public() -> None:
    assert normalise_groups(None) == frozenset({"public"})
    assert normalise_groups("Brakes, chassis") == frozenset({"brakes", "chassis"})
    assert normalise_groups(["Security"]) == frozenset({"security"})
    assert normalise_groups([]) == frozenset({"public"})
