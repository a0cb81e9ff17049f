from pathlib import Path

import pytest

from ingest.discover import SidecarError, discover, read_sidecar


def test_discover_skips_sidecars_hidden_and_ignored(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    for name in ("a/x.md", "a/x.md.meta.yaml", ".hidden.md", "notes.txt", "README.md"):
        (tmp_path / name).write_text("text")
    (tmp_path / ".ekaignore").write_text("# not documents\nREADME.md\n")
    assert [c.source for c in discover(tmp_path)] == ["a/x.md", "notes.txt"]


def test_discover_of_a_file_uses_its_name(tmp_path: Path) -> None:
    file = tmp_path / "one.md"
    file.write_text("x")
    (candidate,) = discover(file)
    assert candidate.source == "one.md"
    with pytest.raises(FileNotFoundError):
        discover(tmp_path / "missing")


def test_sidecars_yaml_json_and_errors(tmp_path: Path) -> None:
    doc = tmp_path / "spec.pdf"
    doc.write_bytes(b"%PDF")
    assert read_sidecar(doc) == {}
    (tmp_path / "spec.pdf.meta.yaml").write_text("title: Spec\nacl: [brakes]\n")
    assert read_sidecar(doc) == {"title": "Spec", "acl": ["brakes"]}
    other = tmp_path / "other.md"
    other.write_text("x")
    (tmp_path / "other.meta.json").write_text('{"brand": "Kestrel"}')
    assert read_sidecar(other) == {"brand": "Kestrel"}
    bad = tmp_path / "bad.md"
    bad.write_text("x")
    (tmp_path / "bad.md.meta.yaml").write_text("- just\n- a list\n")
    with pytest.raises(SidecarError, match="not a mapping"):
        read_sidecar(bad)
