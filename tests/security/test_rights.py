"""Who may write, replace, delete and publish, against the real server (issue 11, findings 1, 2 and 7).

Each test replays a finding of the security review with keys made by `eka keys create`: an upload's source
cannot collide with another user's, a document is replaced or deleted only by a key that may write it, and
only a key with the ``publish`` role writes to ``public``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from assistant.rights import upload_source
from tests.server import Persona, Server, create_key, eka, eka_env

pytestmark = pytest.mark.e2e


def client(api: Server, persona: Persona) -> httpx.Client:
    return httpx.Client(base_url=api.url, headers=persona.headers, timeout=120)


def upload(api: Server, persona: Persona, name: str, text: bytes, groups: str | None) -> httpx.Response:
    data = {"groups": groups} if groups is not None else {}
    with client(api, persona) as http:
        return http.post("/v1/documents", files=[("files", (name, text, "text/markdown"))], data=data)


def sources(api: Server, persona: Persona) -> dict[str, dict[str, object]]:
    with client(api, persona) as http:
        return {d["source"]: d for d in http.get("/v1/documents").json()["documents"]}


def delete(api: Server, persona: Persona, doc_id: str) -> httpx.Response:
    with client(api, persona) as http:
        return http.delete(f"/v1/documents/{doc_id}")


# -- finding 1: upload namespaces cannot collide -------------------------------------------------------------

LOOK_ALIKE = [("müller", "möller"), ("bob@corp", "bob_corp"), ("田中", "山田")]


@pytest.mark.parametrize(("owner", "intruder"), LOOK_ALIKE)
def test_an_upload_never_replaces_a_look_alike_users_restricted_upload(
    api: Server, owner: str, intruder: str
) -> None:
    first = create_key(api.home, "first", owner, "security", "ingest")
    second = create_key(api.home, "second", intruder, "", "ingest,publish")  # public only, as in the finding
    name = f"alarm-{len(owner)}-{owner.encode().hex()[:8]}.md"
    secret, planted = b"# Alarm\n\nThe alarm code is 4711.\n", b"# Alarm\n\nThe alarm code is 0000.\n"
    mine = upload(api, first, name, secret, "security")
    theirs = upload(api, second, name, planted, "public")
    assert mine.status_code == 200 and theirs.status_code == 200, (mine.text, theirs.text)
    (kept,), (other,) = mine.json()["files"], theirs.json()["files"]
    assert kept["source"] == upload_source(owner, name) != other["source"] == upload_source(intruder, name)
    assert kept["doc_id"] != other["doc_id"]
    # The security upload is unchanged, still restricted, and the intruder can neither read nor delete it.
    listed = sources(api, first)
    assert listed[kept["source"]]["acl"] == ["security"]
    assert listed[kept["source"]]["uploaded_by"] == owner
    assert kept["source"] not in sources(api, second)
    assert delete(api, second, kept["doc_id"]).status_code == 404
    with client(api, first) as http:
        assert "4711" in http.get(f"/v1/documents/{kept['doc_id']}/pages/1").json()["text"]
    # The kept originals under EKA_HOME/uploads are two files with their own bytes.
    assert (api.home / kept["source"]).read_bytes() == secret
    assert (api.home / other["source"]).read_bytes() == planted
    assert delete(api, first, kept["doc_id"]).status_code == 200
    assert delete(api, second, other["doc_id"]).status_code == 200


def test_a_users_key_without_the_groups_of_an_earlier_upload_may_not_replace_it(api: Server) -> None:
    wide = create_key(api.home, "wide", "sasha", "security", "ingest")
    narrow = create_key(api.home, "narrow", "sasha", "", "ingest,publish")
    first = upload(api, wide, "sasha-notes.md", b"# Notes\n\nThe vault opens at 0600.\n", "security")
    assert first.status_code == 200, first.text
    again = upload(api, narrow, "sasha-notes.md", b"# Notes\n\nEveryone may read this.\n", "public")
    assert again.status_code == 403 and "may not replace your earlier upload" in again.json()["detail"]
    (uploaded,) = first.json()["files"]
    assert sources(api, wide)[uploaded["source"]]["acl"] == ["security"]
    assert delete(api, wide, uploaded["doc_id"]).status_code == 200


# -- finding 2: deleting needs the right to write ----------------------------------------------------------


def test_an_ingest_key_may_not_delete_a_public_document_of_the_administrator(api: Server) -> None:
    for persona in (
        create_key(api.home, "uploader", "uma", "", "ingest"),
        api.personas["ingester"],  # ingest and publish, but no admin role
    ):
        listed = sources(api, persona)
        glossary = listed["group/engineering-glossary.md"]
        response = delete(api, persona, str(glossary["doc_id"]))
        assert response.status_code == 403, response.text
        assert "admin" in response.json()["detail"]
        assert "group/engineering-glossary.md" in sources(api, persona)


def test_a_team_may_not_delete_a_document_it_shares_with_another_team(api: Server) -> None:
    battery = api.personas["battery-ingester"]
    notes = sources(api, battery)["software/bms-software-release-notes.md"]
    response = delete(api, battery, str(notes["doc_id"]))
    assert response.status_code == 403 and "software" in response.json()["detail"]
    # The same for an upload shared by two teams: a key in only one of them may not remove it.
    both = create_key(api.home, "both", "bo", "battery,software", "ingest")
    shared = upload(
        api, both, "bms-shared.md", b"# BMS\n\nCell balancing starts at 3.9 V.\n", "battery,software"
    )
    (uploaded,) = shared.json()["files"]
    assert delete(api, battery, uploaded["doc_id"]).status_code == 403
    assert delete(api, both, uploaded["doc_id"]).status_code == 200


def test_an_admin_key_may_delete_a_document_ingested_from_the_cli(api: Server, tmp_path: Path) -> None:
    folder = tmp_path / "extra"
    folder.mkdir()
    (folder / "rights-cli-note.md").write_text("# Note\n\nThe CLI note says the pack fuse is 250 A.\n")
    (folder / "rights-cli-note.md.meta.yaml").write_text("acl: [battery]\n")
    result = eka(api.home, "ingest", str(folder))
    assert result.returncode == 0, result.stderr[-2000:]
    admin = create_key(api.home, "admin", "root", "battery", "ingest,admin")
    note = sources(api, admin)["rights-cli-note.md"]
    assert note["uploaded_by"] is None
    refused = delete(api, api.personas["battery-ingester"], str(note["doc_id"]))
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]
    assert delete(api, admin, str(note["doc_id"])).status_code == 200


def test_an_uploader_may_delete_an_upload_of_its_own_groups(api: Server) -> None:
    bill = api.personas["battery-ingester"]
    response = upload(api, bill, "rights-own.md", b"# Own\n\nThe own note is deleted again.\n", "battery")
    (uploaded,) = response.json()["files"]
    assert delete(api, bill, uploaded["doc_id"]).status_code == 200


# -- finding 7 (publishing): public needs its own role ------------------------------------------------------


def test_uploading_to_public_needs_the_publish_role(api: Server) -> None:
    ingest_only = create_key(api.home, "plain", "paul", "battery", "ingest")
    planted = b"# Torque\n\nThe wheel nut torque is 999 Nm.\n"
    refused = upload(api, ingest_only, "rights-public.md", planted, "public")
    assert refused.status_code == 403 and "publish" in refused.json()["detail"]
    public_only = create_key(api.home, "plain-public", "pete", "", "ingest")
    assert upload(api, public_only, "rights-public.md", planted, None).status_code == 403
    listed = sources(api, api.personas["public"])
    assert not any(s.endswith("/rights-public.md") for s in listed)


def test_an_upload_without_groups_is_readable_by_the_uploaders_own_groups(api: Server) -> None:
    bill = api.personas["battery-ingester"]
    response = upload(
        api, bill, "rights-default.md", b"# Default\n\nThe default note is for battery.\n", None
    )
    assert response.status_code == 200, response.text
    (uploaded,) = response.json()["files"]
    assert sources(api, bill)[uploaded["source"]]["acl"] == ["battery"]
    assert uploaded["source"] not in sources(api, api.personas["public"])
    assert delete(api, bill, uploaded["doc_id"]).status_code == 200


# -- the uploader in provenance ------------------------------------------------------------------------------


def test_provenance_of_an_answer_names_the_uploader_of_its_sources(api: Server) -> None:
    bill = api.personas["battery-ingester"]
    text = b"# Quasar QX-4 relay\n\nThe Quasar QX-4 relay coil resistance is 88 ohm at 20 C.\n"
    response = upload(api, bill, "quasar-qx4.md", text, "battery")
    (uploaded,) = response.json()["files"]
    with api.client("battery") as http:
        answer = http.post("/v1/answer", json={"question": "What is the Quasar QX-4 relay coil resistance?"})
        assert answer.status_code == 200, answer.text
        record = http.get(f"/v1/answers/{answer.json()['provenance_id']}").json()["record"]
    hits = {h["source"]: h for h in record["hits"]}
    assert hits[uploaded["source"]]["uploaded_by"] == "bill"
    assert all(h["uploaded_by"] is None for s, h in hits.items() if not s.startswith("uploads/"))
    assert delete(api, bill, uploaded["doc_id"]).status_code == 200


def test_keys_cli_accepts_the_publish_and_admin_roles(api: Server) -> None:
    result = eka(api.home, "keys", "create", "--user", "rita", "--roles", "publish,admin,ingest", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["roles"] == ["admin", "ingest", "publish"]


def test_keys_cli_refuses_a_group_the_deployment_does_not_list(tmp_path: Path) -> None:
    """With EKA_KNOWN_GROUPS set, a misspelt group is refused (a key for it would read nothing meant)."""

    def create(groups: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "eka", "keys", "create", "--user", "kim", "--groups", groups, "--json"],
            env=eka_env(tmp_path, known_groups="battery,Security"),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    refused = create("battery,securty")
    assert refused.returncode != 0
    assert "unknown group(s) securty" in refused.stderr
    made = create("Battery,security,public")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["groups"] == ["battery", "public", "security"]


# -- finding 5 from the command line: access-list mistakes fail the file, the summary names public ones -----


def test_cli_ingest_fails_a_misspelt_access_list_and_lists_documents_public_by_default(
    tmp_path: Path,
) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "alarm.md").write_text("# Alarm\n\nThe alarm code is rotated monthly.\n")
    (root / "alarm.md.meta.yaml").write_text("ACL: [security]\n")
    (root / "open.md").write_text("# Open\n\nAnyone may read this note.\n")
    report = tmp_path / "r.json"
    home = tmp_path / "home"
    home.mkdir()
    result = eka(home, "ingest", str(root), "--report", str(report))
    assert result.returncode == 1, result.stderr[-2000:]
    data = json.loads(report.read_text())
    files = {f["source"]: f for f in data["files"]}
    assert files["alarm.md"]["status"] == "failed" and "misspelt 'acl'" in files["alarm.md"]["reason"]
    assert files["open.md"]["status"] == "ingested"
    assert data["public_by_default"] == ["open.md"]
    assert "Public by default" in result.stderr and "open.md" in result.stderr
