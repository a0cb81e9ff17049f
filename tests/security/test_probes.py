"""Generated probes across every output of the API, as several personas: no leak, no 5xx, the right status.

The oracle is black-box. An auditor who reads every sample group lists the documents and reads their pages
over the API; a battery uploader adds a canary document. For each persona, what it may not read is then a
set of secrets: document ids, sources, titles, metadata values and canary words that occur nowhere it may
read, and every 6-word run of the text of those documents that occurs nowhere it may read (and in no probe
input, since a service may echo what it was sent).

The probes, for each persona with a key:

- search in every mode, for the titles, passages and canary of documents it may not read, with filters
  naming their sources and metadata;
- answers (JSON and NDJSON stream) and chat completions (JSON and SSE) to sample questions whose answer is
  in such a document;
- the document list and its facets, every document, its first page and (for PDFs) that page's image;
- the provenance record of every answer of the run (its own and other users'), and feedback on them;
- its statistics; and every operation without a key and with a made-up key.

Every response is checked: no secret of the persona in it (JSON and streams are decoded first), no 5xx,
and the expected status (404 for documents and records it may not read, as for unknown ones, with the same
body). The insider probes are checked too, the other way round: the detector must find the secrets of a
document in the answers of a persona who may read it, or a silent detector would pass everything.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.conftest import SAMPLE_GROUPS, SAMPLES
from tests.server import Persona, Server, create_key

pytestmark = pytest.mark.e2e

SHINGLE = 6  # words in a run of restricted text that counts as a leak
MIN_PROBES = 300
CANARY = "zephyrine quokkalith"  # two made-up words, in no sample
CANARY_TEXT = (
    "# Canary cell report\n\n"
    f"The {CANARY} module holds the secret calibration value 731.4 millivolts for the pouch cells. "
    "Only the battery team may read that the venting threshold of the canary pack is 88 kilopascal.\n"
)
# The shared server's personas that probe (tests/server.py), and "outsider": a group that holds no document.
PROBE_PERSONAS = (
    "public",
    "battery",
    "security",
    "ingester",
    "battery-ingester",
    "auditor-nosec",
    "outsider",
)
ROUTES = ("search", "answer", "stream", "chat", "chat-stream")


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def shingles(text: str) -> set[tuple[str, ...]]:
    tokens = words(text)
    return {tuple(tokens[i : i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1)}


def decoded(response: httpx.Response) -> str:
    """The response as text, with JSON (also per NDJSON or SSE line) decoded, so escapes hide nothing."""
    parts: list[str] = []
    for line in response.text.splitlines() or [response.text]:
        payload = line.removeprefix("data: ").strip()
        try:
            parts.append(json.dumps(json.loads(payload), ensure_ascii=False))
        except ValueError:
            parts.append(line)
    return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class Doc:
    doc_id: str
    source: str
    title: str
    mime: str
    pages: int
    acl: frozenset[str]
    metadata: dict[str, str]
    text: str


@dataclass(frozen=True, slots=True)
class Corpus:
    """What the oracle read, and the probe inputs made from it."""

    docs: list[Doc]  # every sample document and the canary
    restricted: list[Doc]  # those not public
    snippets: dict[str, str]  # doc_id -> four words of its text
    asked: list[str]  # questions whose answer is in a restricted document

    @property
    def inputs(self) -> list[str]:
        return [*(d.title for d in self.restricted), *self.snippets.values(), CANARY, *self.asked]


@dataclass
class Secrets:
    """What one persona may not see, and what it may (for telling echoes from leaks)."""

    ids: set[str]
    phrases: set[str]  # titles, sources, metadata values, canary words: matched as word sequences
    runs: set[tuple[str, ...]]


@dataclass
class Report:
    probes: Counter[str] = field(default_factory=Counter)
    leaks: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    wrong_status: list[str] = field(default_factory=list)

    def summary(self) -> str:
        per_route = ", ".join(f"{k} {v}" for k, v in sorted(self.probes.items()))
        return (
            f"{sum(self.probes.values())} probes ({per_route}); {len(self.leaks)} leaks, "
            f"{len(self.server_errors)} 5xx, {len(self.wrong_status)} unexpected statuses"
        )


class Prober:
    """Sends probes as personas and checks each response against the persona's secrets."""

    def __init__(self, api: Server, personas: dict[str, Persona], corpus: Corpus) -> None:
        self.api = api
        self.personas = personas
        self.corpus = corpus
        self.docs = corpus.docs
        self.report = Report()
        inputs = corpus.inputs
        echo = set().union(*(shingles(text) for text in inputs))
        self.echo_words = [" ".join(words(text)) for text in inputs]
        self.secrets = {name: self._secrets(p, echo) for name, p in personas.items()}
        self.clients = {
            name: httpx.Client(base_url=api.url, headers=p.headers, timeout=120)
            for name, p in personas.items()
        }

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def groups(self, persona: Persona) -> set[str]:
        """What a key reads: its groups and ``public``, which every key reads."""
        return {"public", *(g.lower() for g in persona.groups)}

    def may_read(self, persona: str, doc: Doc) -> bool:
        return not doc.acl.isdisjoint(self.groups(self.personas[persona]))

    def _secrets(self, persona: Persona, echo: set[tuple[str, ...]]) -> Secrets:
        groups = self.groups(persona)
        hidden = [d for d in self.docs if d.acl.isdisjoint(groups)]
        seen = [d for d in self.docs if not d.acl.isdisjoint(groups)]
        seen_words = (
            " "
            + " ".join(
                " ".join(words(" ".join([d.text, d.title, d.source, *d.metadata.values()]))) for d in seen
            )
            + " "
        )
        seen_runs = set().union(*(shingles(d.text) for d in seen)) if seen else set()
        phrases = {
            phrase
            for d in hidden
            for phrase in (d.title, d.source, *d.metadata.values(), *CANARY.split())
            if (joined := " ".join(words(phrase))) and f" {joined} " not in seen_words
        }
        runs = set().union(*(shingles(d.text) for d in hidden)) - seen_runs - echo
        return Secrets({d.doc_id for d in hidden}, phrases, runs)

    def leaks_in(self, persona: str, text: str) -> list[str]:
        secrets = self.secrets[persona]
        found = [f"doc_id {i}" for i in secrets.ids if i in text]
        flat = " " + " ".join(words(text)) + " "
        for echo in self.echo_words:  # what the persona itself sent may come back
            flat = flat.replace(f" {echo} ", " ")
        found += [f"phrase {p!r}" for p in secrets.phrases if f" {' '.join(words(p))} " in flat]
        found += [f"text {' '.join(run)!r}" for run in shingles(flat) & secrets.runs][:3]
        return found

    def send(
        self,
        route: str,
        persona: str | None,
        method: str,
        path: str,
        expect: set[int],
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        self.report.probes[route] += 1
        if persona in self.clients:
            response = self.clients[persona].request(method, path, **kwargs)
        else:
            response = httpx.request(method, f"{self.api.url}{path}", headers=headers, timeout=120, **kwargs)
        where = f"{persona or 'anonymous'} {method} {path} {json.dumps(kwargs.get('json'))[:200]}"
        if response.status_code >= 500:
            self.report.server_errors.append(f"{where}: {response.status_code} {response.text[:300]}")
        elif response.status_code not in expect:
            self.report.wrong_status.append(f"{where}: {response.status_code} (expected {sorted(expect)})")
        if persona in self.secrets and response.headers.get("content-type", "").startswith(
            ("application", "text")
        ):
            text = decoded(response)
            for part in path.split("/"):  # an id the persona sent may come back ("no document 'd1f…'")
                text = text.replace(part, "") if len(part) >= 8 else text
            for leak in self.leaks_in(persona, text):
                self.report.leaks.append(f"{where}: {leak}")
        return response


@pytest.fixture(scope="module")
def prober(api: Server) -> Iterator[Prober]:
    personas = {name: api.personas[name] for name in PROBE_PERSONAS if name in api.personas}
    personas["outsider"] = create_key(api.home, "outsider", "olga", "kitchen")
    everything = create_key(api.home, "oracle", "oscar", ",".join(SAMPLE_GROUPS), "auditor")
    uploader = api.client("battery-ingester")
    uploaded = uploader.post(
        "/v1/documents",
        files={"files": ("canary-cell-report.md", CANARY_TEXT.encode(), "text/markdown")},
        data={"groups": "battery"},
    )
    assert uploaded.status_code == 200, uploaded.text
    canary_id = uploaded.json()["files"][0]["doc_id"]
    with httpx.Client(base_url=api.url, headers=everything.headers, timeout=120) as oracle:
        listed = oracle.get("/v1/documents").json()["documents"]
        docs = []
        for d in listed:
            if not (set(d["acl"]) & set(SAMPLE_GROUPS)) and d["doc_id"] != canary_id:
                continue
            pages = d["pages"] or 1
            text = " ".join(
                oracle.get(f"/v1/documents/{d['doc_id']}/pages/{n}").json().get("text", "")
                for n in range(1, pages + 1)
            )
            metadata = {k: str(v) for k, v in d["metadata"].items() if k != "title"}
            docs.append(
                Doc(
                    d["doc_id"],
                    d["source"],
                    d["title"],
                    d["mime"],
                    pages,
                    frozenset(d["acl"]),
                    metadata,
                    text,
                )
            )
    assert any(d.doc_id == canary_id for d in docs) and len(docs) >= 14
    rng = random.Random(11)
    restricted = [d for d in docs if "public" not in d.acl]
    snippets = {d.doc_id: " ".join(rng.sample(words(d.text), 4)) for d in restricted}
    questions = [
        json.loads(line) for line in (SAMPLES / "questions.jsonl").read_text().splitlines() if line.strip()
    ]
    restricted_sources = {d.source for d in restricted}
    asked = [q["question"] for q in questions if {r["doc"] for r in q["relevant"]} & restricted_sources]
    asked.append(f"What calibration value does the {CANARY} module hold?")
    made = Prober(api, personas, Corpus(docs, restricted, snippets, asked))
    yield made
    made.close()
    assert uploader.delete(f"/v1/documents/{canary_id}").status_code == 200
    uploader.close()


def _search_probes(prober: Prober, persona: str, index: int) -> None:
    corpus = prober.corpus
    queries = [d.title for d in corpus.restricted] + list(corpus.snippets.values()) + [CANARY]
    for n, query in enumerate(queries):
        mode = ("lexical", "dense", "hybrid")[(n + index) % 3]
        prober.send(
            "search", persona, "POST", "/v1/search", {200}, json={"query": query, "k": 20, "mode": mode}
        )
    doc = corpus.restricted[index % len(corpus.restricted)]
    for filters in (
        {"source": doc.source.split("/")[0] + "/*"},
        dict(list(doc.metadata.items())[:1]),
    ):
        body = {"query": doc.title, "k": 20, "filters": filters}
        prober.send("search", persona, "POST", "/v1/search", {200}, json=body)


def _answer_probes(prober: Prober, persona: str, index: int) -> list[str]:
    """Every question, through the four answer routes in turn; the provenance ids of the answers."""
    ids: list[str] = []
    for n, question in enumerate(prober.corpus.asked):
        route = ("answer", "stream", "chat", "chat-stream")[(n + index) % 4]
        if route in ("answer", "stream"):
            response = prober.send(
                route,
                persona,
                "POST",
                "/v1/answer",
                {200},
                json={"question": question, "stream": route == "stream"},
            )
            for line in response.text.splitlines() if route == "stream" else [response.text]:
                event = json.loads(line) if line.strip() else {}
                if event.get("provenance_id"):
                    ids.append(event["provenance_id"])
        else:
            body = {
                "model": "eka",
                "messages": [{"role": "user", "content": question}],
                "stream": route == "chat-stream",
            }
            prober.send(route, persona, "POST", "/v1/chat/completions", {200}, json=body)
    return ids


def _document_probes(prober: Prober, persona: str, unknown: str) -> None:
    listed = prober.send("documents", persona, "GET", "/v1/documents", {200})
    listed_ids = {d["doc_id"] for d in listed.json()["documents"]}
    missing = prober.send("documents", persona, "GET", f"/v1/documents/{unknown}", {404}).json()
    for doc in prober.docs:
        readable = prober.may_read(persona, doc)
        assert (doc.doc_id in listed_ids) == readable, f"{persona} list vs {doc.source}"
        status = {200} if readable else {404}
        got = prober.send("documents", persona, "GET", f"/v1/documents/{doc.doc_id}", status)
        if not readable and got.json() != {
            **missing,
            "detail": missing["detail"].replace(unknown, doc.doc_id),
        }:
            prober.report.leaks.append(f"{persona} GET {doc.doc_id}: differs from an unknown id: {got.text}")
        prober.send("pages", persona, "GET", f"/v1/documents/{doc.doc_id}/pages/1", status)
        if doc.mime == "application/pdf":
            prober.send("page-images", persona, "GET", f"/v1/documents/{doc.doc_id}/pages/1/image", status)
    prober.send("stats", persona, "GET", "/v1/stats", {200})


def test_generated_probes_leak_nothing_and_never_fail(
    prober: Prober, api: Server, record_property: pytest.RecordProperty
) -> None:
    unknown = "d" + uuid.uuid4().hex[:15]
    records: dict[str, list[str]] = {}
    for index, persona in enumerate(prober.personas):
        _search_probes(prober, persona, index)
        records[persona] = _answer_probes(prober, persona, index)
        _document_probes(prober, persona, unknown)
    # Every persona asks for every answer record of the run: its own (200), others' (404; auditors 200).
    for persona, key in prober.personas.items():
        for owner, ids in records.items():
            own = prober.personas[owner].user == key.user
            expect = {200} if own or "auditor" in key.roles else {404}
            for provenance_id in ids:
                prober.send("provenance", persona, "GET", f"/v1/answers/{provenance_id}", expect)
            if not own and ids:
                body = {"provenance_id": ids[0], "rating": "down", "comment": "probe"}
                prober.send("feedback", persona, "POST", "/v1/feedback", {404}, json=body)
    # Without a key, and with a made-up one: 401 on every operation, nothing else said.
    some_doc = prober.docs[0].doc_id
    some_record = next(i for ids in records.values() for i in ids)
    operations = [
        ("GET", "/v1/documents", None),
        ("GET", f"/v1/documents/{some_doc}", None),
        ("GET", f"/v1/documents/{some_doc}/pages/1", None),
        ("GET", f"/v1/documents/{some_doc}/pages/1/image", None),
        ("DELETE", f"/v1/documents/{some_doc}", None),
        ("GET", f"/v1/answers/{some_record}", None),
        ("GET", "/v1/stats", None),
        ("GET", "/v1/me", None),
        ("POST", "/v1/search", {"query": CANARY}),
        ("POST", "/v1/answer", {"question": CANARY}),
        ("POST", "/v1/chat/completions", {"model": "eka", "messages": [{"role": "user", "content": CANARY}]}),
        ("POST", "/v1/feedback", {"provenance_id": some_record, "rating": "up"}),
    ]
    for headers in ({}, {"Authorization": "Bearer eka_" + "x" * 40}):
        for method, path, body in operations:
            response = prober.send("no-key", None, method, path, {401}, headers=headers, json=body)
            if CANARY.split()[0] in response.text or some_doc in response.text.replace(path, ""):
                prober.report.leaks.append(f"anonymous {method} {path}: {response.text[:200]}")

    report = prober.report
    record_property("security_probes", report.summary())
    print(f"\nsecurity probes: {report.summary()}")
    (api.home / "security-probes.json").write_text(
        json.dumps({"summary": report.summary(), **report.__dict__})
    )
    assert sum(report.probes.values()) >= MIN_PROBES, report.summary()
    assert not report.leaks, "\n".join(report.leaks[:30])
    assert not report.server_errors, "\n".join(report.server_errors[:30])
    assert not report.wrong_status, "\n".join(report.wrong_status[:30])


def test_the_leak_detector_finds_what_insiders_may_read(prober: Prober) -> None:
    """The secrets are real: for each restricted document, a reader of it is shown them (so 0 leaks means
    the others were not), in search hits and in answers."""
    restricted = prober.corpus.restricted
    outsiders = [p for p in prober.personas if p != "auditor-nosec"]
    for doc in restricted:
        reader = next(p for p in ("battery", "security", "auditor-nosec") if prober.may_read(p, doc))
        outsider = next(p for p in outsiders if not prober.may_read(p, doc))
        hits = prober.clients[reader].post("/v1/search", json={"query": doc.title, "k": 5}).json()["hits"]
        shown = json.dumps(hits, ensure_ascii=False)
        assert doc.doc_id in shown, f"{reader} does not find {doc.source}"
        assert prober.leaks_in(outsider, shown), f"no secret of {doc.source} detected for {outsider}"
    canary = prober.clients["battery"].post(
        "/v1/answer", json={"question": f"What calibration value does the {CANARY} module hold?"}
    )
    assert "731.4" in canary.json()["answer"]
    assert prober.leaks_in("public", decoded(canary)), "the canary answer carries no detectable secret"
