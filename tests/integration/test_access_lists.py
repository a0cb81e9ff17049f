"""Access lists fail closed; ingest never replaces a document it does not own (issue 11, findings 1, 5)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.app import Assistant
from assistant.types import Principal
from ingest.pipeline import FileOutcome, Ingestor

pytestmark = pytest.mark.integration

SECRET = "# Intrusion alarm\n\nThe intrusion alarm master code is rotated every 30 days.\n"

# Sidecars whose author meant "only security may read this" (finding 5); each used to ingest as public.
MISTAKES = {
    "upper-key": "ACL: [security]\n",
    "plural-key": "acls: [security]\n",
    "capitalised-key": "Acl: [security]\n",
    "synonym-key": "access: [security]\n",
    "anagram-key": "alc: [security]\n",
    "empty-list": "acl: []\n",
    "null": "acl: null\n",
    "bare-key": "acl:\n",
    "blank-entry": 'acl: [" "]\n',
    "blank-string": 'acl: ""\n',
    "mapping": "acl: {security: true}\n",
}


def write(folder: Path, name: str, sidecar: str | None, text: str = SECRET) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text(text)
    if sidecar is not None:
        (folder / f"{name}.md.meta.yaml").write_text(sidecar)
    return path


def outcomes(report_files: list[FileOutcome]) -> dict[str, FileOutcome]:
    return {f.source: f for f in report_files}


@pytest.mark.parametrize("case", sorted(MISTAKES))
def test_access_list_mistake_is_a_per_file_error_never_public(
    make_assistant: Callable[..., Assistant], tmp_path: Path, case: str
) -> None:
    assistant = make_assistant()
    docs = tmp_path / "docs"
    write(docs, "alarm", MISTAKES[case])
    write(docs, "good", "acl: [security]\n", "# Good\n\nThe good file is ingested.\n")
    report = Ingestor(assistant).run([docs])
    files = outcomes(report.files)
    assert files["alarm.md"].status == "failed" and not report.ok
    assert (files["alarm.md"].reason or "").startswith("access list: ")
    assert assistant.store.document_by_source("alarm.md") is None
    assert files["good.md"].status == "ingested"  # the rest of the run goes on
    hits = assistant.retriever.search("intrusion alarm master code", Principal.of("pat"), k=5)
    assert all(h.document.source != "alarm.md" for h in hits)


def test_unknown_group_spelling_is_an_error_when_the_deployment_lists_its_groups(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    assistant = make_assistant(known_groups="security, battery")
    docs = tmp_path / "docs"
    write(docs, "alarm", "acl: [secutiry]\n")
    write(docs, "pack", "acl: [Battery, public]\n", "# Pack\n\nThe pack is rated 400 V.\n")
    files = outcomes(Ingestor(assistant).run([docs]).files)
    assert files["alarm.md"].status == "failed"
    assert "unknown access group 'secutiry'" in (files["alarm.md"].reason or "")
    assert "did you mean 'security'" in (files["alarm.md"].reason or "")
    assert files["pack.md"].status == "ingested"  # known groups in any case, and public, are fine


def test_known_groups_also_check_the_run_wide_acl(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    assistant = make_assistant(known_groups="security")
    path = write(tmp_path / "docs", "alarm", None)
    (outcome,) = Ingestor(assistant).run([path], acl=["securty"]).files
    assert outcome.status == "failed" and "unknown access group 'securty'" in (outcome.reason or "")


def test_warn_setting_ingests_an_access_list_mistake_with_a_warning(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    assistant = make_assistant(acl_mistakes="warn")
    docs = tmp_path / "docs"
    write(docs, "alarm", "ACL: [security]\n")
    report = Ingestor(assistant).run([docs])
    (outcome,) = report.files
    assert outcome.status == "ingested" and report.ok
    assert outcome.warnings and "'ACL' looks like a misspelt 'acl'" in outcome.warnings[0]
    assert report.public_by_default() == ["alarm.md"]
    assert report.to_json()["files"][0]["warnings"] == outcome.warnings


def test_report_lists_documents_that_became_public_by_default(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    assistant = make_assistant()
    docs = tmp_path / "docs"
    write(docs, "open", None, "# Open\n\nAnyone may read the open note.\n")
    write(docs, "chosen", "acl: [public]\n", "# Chosen\n\nThe author chose public.\n")
    write(docs, "team", "groups: [security]\n")
    report = Ingestor(assistant).run([docs])
    assert report.ok
    assert report.public_by_default() == ["open.md"]
    assert json.loads(json.dumps(report.to_json()))["public_by_default"] == ["open.md"]
    stored = assistant.store.document_by_source("team.md")
    assert stored is not None and stored.document.acl == frozenset({"security"})


def test_cli_ingest_never_replaces_an_uploaded_document(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    assistant = make_assistant()
    upload = write(tmp_path / "upload", "alarm", None)
    source = "uploads/sam-1/alarm.md"
    (first,) = Ingestor(assistant).run_file(upload, source, acl=["security"], owner="sam").files
    assert first.status == "ingested"
    # An administrator ingests a folder that happens to hold a file at the same relative path.
    planted = write(tmp_path / "root" / "uploads" / "sam-1", "alarm", None, "# Alarm\n\nNo code needed.\n")
    report = Ingestor(assistant).run([tmp_path / "root"])
    (outcome,) = report.files
    assert planted.exists() and outcome.status == "failed"
    assert "an upload by 'sam' already has this source" in (outcome.reason or "")
    stored = assistant.store.document_by_source(source)
    assert stored is not None and stored.document.owner == "sam"
    assert stored.document.acl == frozenset({"security"})


def test_an_upload_never_replaces_a_document_of_another_owner(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    assistant = make_assistant()
    path = write(tmp_path / "docs", "alarm", "acl: [security]\n")
    assert Ingestor(assistant).run([tmp_path / "docs"]).ok
    other = write(tmp_path / "evil", "alarm", None, "# Alarm\n\nThe code is 0000.\n")
    (by_cli_source,) = Ingestor(assistant).run_file(other, "alarm.md", acl=["public"], owner="mallory").files
    assert by_cli_source.status == "failed" and "ingested from the command line" in (
        by_cli_source.reason or ""
    )
    Ingestor(assistant).run_file(path, "uploads/x/alarm.md", acl=["security"], owner="sam")
    (by_user,) = (
        Ingestor(assistant).run_file(other, "uploads/x/alarm.md", acl=["public"], owner="mallory").files
    )
    assert by_user.status == "failed" and "another user" in (by_user.reason or "")
    stored = assistant.store.document_by_source("uploads/x/alarm.md")
    assert stored is not None and stored.document.acl == frozenset({"security"})
    assert stored.document.owner == "sam"


def test_store_from_before_owners_opens_and_counts_its_documents_as_the_clis(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> None:
    import sqlite3

    home = tmp_path / "old"
    home.mkdir()
    db = sqlite3.connect(home / "eka.sqlite3")
    db.execute(
        "CREATE TABLE documents (doc_id TEXT PRIMARY KEY, source TEXT NOT NULL UNIQUE, root TEXT NOT NULL,"
        " sha256 TEXT NOT NULL, meta_hash TEXT NOT NULL, recipe TEXT NOT NULL, title TEXT NOT NULL,"
        " mime TEXT NOT NULL, metadata TEXT NOT NULL, acl TEXT NOT NULL, pages INTEGER,"
        " size INTEGER NOT NULL, ingested_at TEXT NOT NULL)"
    )
    db.execute(
        "INSERT INTO documents VALUES ('d1', 'uploads/bill/a.md', '/tmp', 'x', 'm', 'r', 'A',"
        " 'text/markdown', '{}', '[\"battery\"]', NULL, 1, '2024-01-01')"
    )
    db.commit()
    db.close()
    assistant = make_assistant("old")
    stored = assistant.store.document_by_source("uploads/bill/a.md")
    assert stored is not None and stored.document.owner is None
