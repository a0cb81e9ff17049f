"""Two API hosts on one PostgreSQL database hold no state of their own (issue 13).

One fresh database gets the sample corpus from `eka ingest` while two `eka serve` processes with different
EKA_HOME folders start (two hosts, host A with two workers). Everything below goes through HTTP (and the
`eka` command to revoke a key and verify the audit chain): an upload through one host is found through the
other by the first search after the upload has answered, a revoked key is refused by both at once, one rate
limit holds across both, answers written by both hosts form one verified provenance chain, and the
restricted document never reaches an outsider through either.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.pg import db
from assistant.pg.keys import PgKeyStore
from tests.conftest import SAMPLES
from tests.e2e.test_api import PUBLIC_QUESTION, SECURITY_QUESTION, SECURITY_SOURCE, assert_no_trace_of
from tests.factories import make_pdf
from tests.pg import PgServer
from tests.server import Persona, Server, eka, eka_env, free_port, popen, wait_ready

pytestmark = pytest.mark.e2e

RATE_LIMIT = 30  # requests a minute per key, on both hosts
ROUNDS = 12  # requests per check on host A, each on its own connection (the kernel spreads them over workers)
NOTE = b"# Quillon QX-9 damper\n\nThe Quillon QX-9 damper is bled at 6.25 bar for 75 seconds.\n"
NOTE_QUERY = {"query": "Quillon QX-9 damper bleed pressure"}

# name -> (user, groups, roles)
PERSONAS = {
    "writer": ("wanda", "fleet", "ingest"),
    "reader": ("rolf", "fleet", ""),
    "outsider": ("otto", "public", ""),
    "security": ("sam", "security", ""),
    "asker": ("asa", "public", ""),
    "revoked": ("rex", "", ""),
    "limited": ("lim", "", ""),
}


@dataclass
class Hosts:
    """The database, the two hosts and the keys."""

    url: str
    home: Path  # where the CLI runs (a third folder: nothing is shared through files)
    a: Server
    b: Server
    personas: dict[str, Persona]

    def cli(self, *args: str) -> Any:
        return eka(self.home, *args, database_url=self.url, timeout=300)


def launch(name: str, home: Path, url: str, *args: str) -> Server:
    """Start `eka serve` over ``url`` without waiting for it (both hosts load their models at once)."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = home / f"server-{name}.log"
    command = [sys.executable, "-m", "eka", "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    env = eka_env(home, database_url=url, rate_limit_per_minute=str(RATE_LIMIT))
    return Server(name, f"http://127.0.0.1:{port}", popen(command, env, home, log), log, home)


def make_key(url: str, name: str, user: str, groups: str, roles: str) -> Persona:
    """A key made in the database directly (faster than `eka keys create`, which is tested elsewhere)."""
    record, secret = PgKeyStore(db.shared(url)).create(
        user, [g for g in groups.split(",") if g], [r for r in roles.split(",") if r]
    )
    return Persona(name, record.user, secret, record.key_id, record.groups, record.roles)


@pytest.fixture(scope="module")
def hosts(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosts]:
    """The samples go in with `eka ingest` while both hosts start: what a host serves comes from the
    database, not from what it loaded at start."""
    url = pg_server.fresh()
    root = tmp_path_factory.mktemp("pg-hosts")
    cli = root / "cli"
    cli.mkdir()
    ingest = popen(
        [sys.executable, "-m", "eka", "ingest", str(SAMPLES)],
        eka_env(cli, database_url=url),
        cli,
        cli / "ingest.log",
    )
    a = launch("host-a", root / "host-a", url, "--workers", "2")
    b = launch("host-b", root / "host-b", url)
    try:
        personas = {name: make_key(url, name, *spec) for name, spec in PERSONAS.items()}
        assert ingest.wait(timeout=600) == 0, (cli / "ingest.log").read_text()[-3000:]
        wait_ready(a, "/readyz")
        wait_ready(b, "/readyz")
        yield Hosts(url, cli, a, b, personas)
    finally:
        if ingest.poll() is None:
            ingest.kill()
            ingest.wait()
        a.stop()
        b.stop()
        pg_server.drop(url)


def request(server: Server, persona: Persona | None, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request on a connection of its own."""
    headers = persona.headers if persona else {}
    with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
        return client.request(method, path, **kwargs)


def doc_ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [h["doc_id"] for h in response.json()["hits"]]


def test_two_hosts_serve_one_database(hosts: Hosts) -> None:
    for server in (hosts.a, hosts.b):
        ready = httpx.get(server.url + "/readyz", timeout=30)
        assert ready.status_code == 200 and ready.json() == {"status": "ready", "backend": "postgres"}
        assert not list(server.home.glob("*.sqlite3")), list(server.home.iterdir())  # nothing kept locally
    started = re.findall(r"Started server process \[(\d+)\]", hosts.a.log_tail(200_000))
    assert len(set(started)) == 2, hosts.a.log_tail()


def test_an_upload_through_one_host_is_searchable_through_the_other_within_a_second(
    hosts: Hosts, record_property: Any
) -> None:
    writer, reader = hosts.personas["writer"], hosts.personas["reader"]
    assert NOTE_QUERY["query"] and all(
        "quillon" not in d for d in doc_ids(request(hosts.b, reader, "POST", "/v1/search", json=NOTE_QUERY))
    )
    uploaded = request(
        hosts.a,
        writer,
        "POST",
        "/v1/documents",
        files={"files": ("quillon.md", NOTE, "text/markdown")},
        data={"groups": "fleet"},
    )
    answered = time.monotonic()
    assert uploaded.status_code == 200, uploaded.text
    doc_id = uploaded.json()["files"][0]["doc_id"]
    # Nothing is pending once the upload has answered: its transaction committed, and host B reads the
    # committed state, so the very first search through host B finds it (no polling, no clock). The time it
    # took is recorded for the benchmark record, not asserted (eka bench scale measures it).
    first = doc_ids(request(hosts.b, reader, "POST", "/v1/search", json=NOTE_QUERY))
    delay = time.monotonic() - answered
    record_property("searchable_after_s", delay)
    print(f"\nupload through host A found by host B's first search, {delay:.3f} s after it answered")
    assert first[:1] == [doc_id], first
    for _ in range(ROUNDS):  # and through both workers of host A
        assert doc_ids(request(hosts.a, reader, "POST", "/v1/search", json=NOTE_QUERY))[:1] == [doc_id]
    # Deleted through host B: gone from host A at once.
    deleted = request(hosts.b, writer, "DELETE", f"/v1/documents/{doc_id}")
    assert deleted.status_code == 200, deleted.text
    for _ in range(ROUNDS // 2):
        assert doc_id not in doc_ids(request(hosts.a, reader, "POST", "/v1/search", json=NOTE_QUERY))


def test_a_pdf_uploaded_through_one_host_renders_through_the_other(hosts: Hosts, tmp_path: Path) -> None:
    """An upload's original is kept in the database, not on the host that received it: any host renders its
    pages, and it goes with the document."""
    writer, reader = hosts.personas["writer"], hosts.personas["reader"]
    pdf = make_pdf(tmp_path / "quillon-spec.pdf", [["Quillon QX-9 damper specification, page one."]] * 2)
    uploaded = request(
        hosts.a,
        writer,
        "POST",
        "/v1/documents",
        files={"files": (pdf.name, pdf.read_bytes(), "application/pdf")},
        data={"groups": "fleet"},
    )
    assert uploaded.status_code == 200, uploaded.text
    doc_id = uploaded.json()["files"][0]["doc_id"]
    assert not list((hosts.a.home / "uploads").rglob("*.pdf"))  # nothing kept on host A's disk
    image = request(hosts.b, reader, "GET", f"/v1/documents/{doc_id}/pages/2/image")
    assert image.status_code == 200, image.text
    assert image.headers["content-type"] == "image/png" and image.content.startswith(b"\x89PNG")
    assert request(hosts.b, writer, "DELETE", f"/v1/documents/{doc_id}").status_code == 200
    gone = request(hosts.a, reader, "GET", f"/v1/documents/{doc_id}/pages/2/image")
    assert gone.status_code == 404, gone.text


def test_a_revoked_key_is_refused_by_both_hosts_at_once(hosts: Hosts) -> None:
    persona = hosts.personas["revoked"]
    assert request(hosts.a, persona, "GET", "/v1/me").status_code == 200
    assert request(hosts.b, persona, "GET", "/v1/me").status_code == 200
    revoked = hosts.cli("keys", "revoke", persona.key_id)
    assert revoked.returncode == 0, revoked.stderr
    codes = [request(hosts.a, persona, "GET", "/v1/me").status_code for _ in range(ROUNDS)]
    codes.append(request(hosts.b, persona, "GET", "/v1/me").status_code)
    assert set(codes) == {401}, codes


def test_the_rate_limit_holds_across_hosts(hosts: Hosts) -> None:
    """30 a minute for the key: of 45 requests alternating between the hosts within seconds, 30 pass (a
    bucket per host or per worker would let 60 or 90 through), plus what refills meanwhile (one every 2 s)."""
    persona = hosts.personas["limited"]
    started = time.monotonic()
    codes = [request((hosts.a, hosts.b)[i % 2], persona, "GET", "/v1/me").status_code for i in range(45)]
    elapsed = time.monotonic() - started
    assert set(codes) == {200, 429}
    refilled = int(elapsed * RATE_LIMIT / 60) + 1
    assert RATE_LIMIT <= codes.count(200) <= RATE_LIMIT + refilled, (codes, elapsed)
    assert 429 in codes[::2] and 429 in codes[1::2]  # both hosts refuse


def test_answers_from_both_hosts_form_one_verified_provenance_chain(hosts: Hosts) -> None:
    asker = hosts.personas["asker"]
    made = {}
    for server in (hosts.a, hosts.b):
        answered = request(server, asker, "POST", "/v1/answer", json={"question": PUBLIC_QUESTION})
        assert answered.status_code == 200, answered.text
        body = answered.json()
        assert body["citations"] and body["provenance_id"].startswith("ans_")
        made[server.name] = body["provenance_id"]
    # Each record is readable through the other host.
    for writer, reader in ((hosts.a, hosts.b), (hosts.b, hosts.a)):
        record = request(reader, asker, "GET", f"/v1/answers/{made[writer.name]}")
        assert record.status_code == 200, record.text
        assert record.json()["provenance_id"] == made[writer.name]
        assert record.json()["user_id"] == asker.user
        assert PUBLIC_QUESTION in record.text
    verified = hosts.cli("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    found = re.search(r"(\d+) records, chain intact", verified.stdout)
    assert found and int(found.group(1)) >= 2, verified.stdout
    for provenance_id in made.values():
        shown = hosts.cli("audit", "show", provenance_id)
        assert shown.returncode == 0 and provenance_id in shown.stdout, shown.stderr


@pytest.fixture(scope="module")
def security_doc_id(hosts: Hosts) -> str:
    """The restricted document, as its group lists it (through host B)."""
    listed = request(hosts.b, hosts.personas["security"], "GET", "/v1/documents")
    assert listed.status_code == 200, listed.text
    return str(next(d["doc_id"] for d in listed.json()["documents"] if d["source"] == SECURITY_SOURCE))


def test_the_restricted_document_never_reaches_an_outsider_through_either_host(
    hosts: Hosts, security_doc_id: str
) -> None:
    insider, outsider = hosts.personas["security"], hosts.personas["outsider"]
    for server in (hosts.a, hosts.b):
        # Its group finds it through this host (so the outsider's searches below could have found it).
        found = request(server, insider, "POST", "/v1/search", json={"query": SECURITY_QUESTION})
        assert security_doc_id in doc_ids(found)
        for mode in ("hybrid", "lexical", "dense"):
            searched = request(
                server, outsider, "POST", "/v1/search", json={"query": SECURITY_QUESTION, "mode": mode}
            )
            assert searched.status_code == 200, searched.text
            assert_no_trace_of(searched.text, security_doc_id)
        answered = request(server, outsider, "POST", "/v1/answer", json={"question": SECURITY_QUESTION})
        assert answered.status_code == 200, answered.text
        assert_no_trace_of(answered.text, security_doc_id)
        listed = request(server, outsider, "GET", "/v1/documents")
        assert listed.status_code == 200 and security_doc_id not in listed.text
