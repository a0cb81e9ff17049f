"""Answer correctness on real components: key facts verified against the ingested samples, the harness end to
end, and the regression gate on the extractive generator's answers to the sample questions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.answering import AnswerService
from assistant.app import Assistant
from assistant.audit import SQLiteAuditLog
from assistant.config import Settings
from assistant.embedding import SentenceTransformerEmbedder
from assistant.generation.factory import make_generator
from assistant.types import Principal
from eval.answers.baseline import BASELINES, GENERATOR, QUESTIONS, regressions
from eval.answers.harness import answer_all, evaluate_answers
from eval.answers.keyfacts import Annotation, load_annotations, verify
from eval.answers.report import write
from eval.answers.score import summarise
from eval.datasets import load_qa
from tests.conftest import SAMPLE_GROUPS
from ui.examples import EXAMPLES

pytestmark = pytest.mark.integration


def test_every_sample_key_fact_occurs_in_its_ingested_source(ingested_samples: Assistant) -> None:
    items = load_qa(QUESTIONS)
    notes = load_annotations(QUESTIONS)
    assert all(notes[i.qid].facts for i in items if i.answerable)
    assert verify(ingested_samples.store, items, notes) == []


def test_a_fact_or_entity_the_source_does_not_state_is_reported(ingested_samples: Assistant) -> None:
    items = [i for i in load_qa(QUESTIONS) if i.qid in ("s-022", "s-034")]
    notes = {
        "s-022": Annotation("s-022", (("231 ± 15 N·m",), ("TL-A",)), ("Tamsin TC-2",)),
        "s-034": Annotation("s-034", (("2 years",),)),
    }
    problems = verify(ingested_samples.store, items, notes)
    assert problems == [
        "s-022: key fact ['231 ± 15 N·m'] is not in chassis/kestrel-kv4-torque-specifications.pdf page 2",
        "s-022: entity ['Tamsin TC-2'] is not named by chassis/kestrel-kv4-torque-specifications.pdf page 2",
        "s-034: unanswerable but has key facts",
    ]


@pytest.fixture(scope="module")
def sample_answers(
    ingested_samples: Assistant,
    embedder: SentenceTransformerEmbedder,
    tmp_path_factory: pytest.TempPathFactory,
) -> list[dict[str, object]]:
    """The shipped generator's scored answers to every sample question, asked as a reader of every group."""
    settings = ingested_samples.settings.model_copy(update={"generator": GENERATOR})
    service = AnswerService(
        settings,
        ingested_samples.store,
        ingested_samples.retriever,
        make_generator(settings, embedder),
        SQLiteAuditLog(tmp_path_factory.mktemp("answers") / "audit.sqlite3"),
        ingested_samples.spec.model_id,
    )
    principal = Principal.of("eval", SAMPLE_GROUPS)
    return answer_all(service, principal, load_qa(QUESTIONS), load_annotations(QUESTIONS))


def test_sample_answers_do_not_regress(sample_answers: list[dict[str, object]]) -> None:
    """The gate: correct share, refusal accuracy, false refusals and wrong-entity answers against
    eval/answer_baselines.json (``python -m eval.answers.baseline`` shows the numbers)."""
    baselines = json.loads(BASELINES.read_text())
    assert regressions(summarise(sample_answers), baselines) == []


def test_every_sample_answer_is_scored(sample_answers: list[dict[str, object]]) -> None:
    assert len(sample_answers) == 38
    assert {r["outcome"] for r in sample_answers} <= {"correct", "partial", "wrong", "refused"}
    assert all(r["total_ms"] for r in sample_answers)


def tiny_set(folder: Path) -> tuple[Path, Path]:
    corpus = folder / "docs"
    corpus.mkdir(parents=True)
    (corpus / "torque.md").write_text(
        "# Kestrel KV-4 torque table\n\n## Brakes\n\n"
        "The front caliper carrier bolts of the Kestrel KV-4 are tightened to 230 ± 15 N·m with TL-A "
        "thread-locker.\n\nThe rear caliper guide pins are tightened to 35 ± 3 N·m without thread-locker.\n",
        encoding="utf-8",
    )
    (corpus / "coolant.md").write_text(
        "# Coolant pump\n\n## Control\n\nThe electric coolant pump runs at 3000 rpm when the inverter "
        "exceeds 65 °C.\n",
        encoding="utf-8",
    )
    questions = folder / "tiny.jsonl"
    records = [
        {
            "id": "t-1",
            "kind": "table",
            "question": "What torque is specified for the front caliper carrier bolts of the Kestrel KV-4?",
            "answerable": True,
            "match": "any",
            "relevant": [{"doc": "torque.md", "page": None, "section": "Brakes", "evidence": "230 ± 15 N·m"}],
            "key_facts": [["230 ± 15 N·m"]],
            "entity": ["KV-4"],
            "confusers": ["TC-2"],
        },
        {
            "id": "t-2",
            "kind": "unanswerable",
            "question": "What is the top speed of the Tamsin TC-2 Estate on a German autobahn?",
            "answerable": False,
            "match": None,
            "relevant": [],
        },
    ]
    questions.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return questions, corpus


def test_the_harness_answers_scores_and_skips_a_generator_it_cannot_run(tmp_path: Path) -> None:
    questions, corpus = tiny_set(tmp_path / "set")
    base = Settings(home=tmp_path / "home", openai_base_url="http://127.0.0.1:9/v1", _env_file=None)  # type: ignore[call-arg]
    report = evaluate_answers(
        questions,
        corpus,
        ["extractive", "openai"],
        None,
        base,
        tmp_path / "cache",
        tmp_path / "out",
        None,
        print,
    )
    assert report["generators"]["openai"]["status"] == "skipped"
    assert "127.0.0.1:9" in report["generators"]["openai"]["reason"]
    extractive = report["generators"]["extractive"]
    assert extractive["status"] == "ok"
    rows = {r["qid"]: r for r in extractive["questions"]}
    assert rows["t-1"]["outcome"] == "correct" and rows["t-1"]["cited_relevant"]
    assert extractive["summary"]["answerable"] == 1 and extractive["summary"]["unanswerable"] == 1
    files = write(report, tmp_path / "out")
    assert {f.name for f in files} == {"report.json", "report.md", "answers.png"}
    assert (tmp_path / "out" / "answers.png").read_bytes()[:4] == b"\x89PNG"
    assert "| openai | skipped:" in (tmp_path / "out" / "report.md").read_text()


def test_the_harness_refuses_to_run_on_key_facts_the_sources_do_not_state(tmp_path: Path) -> None:
    questions, corpus = tiny_set(tmp_path / "set")
    side = tmp_path / "side.jsonl"
    side.write_text(json.dumps({"id": "t-1", "key_facts": [["240 ± 15 N·m"]]}) + "\n", encoding="utf-8")
    base = Settings(home=tmp_path / "home", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match=r"t-1: key fact \['240 ± 15 N·m'\] is not in torque.md"):
        evaluate_answers(questions, corpus, ["extractive"], side, base, tmp_path / "cache", tmp_path / "out")


def test_the_chat_examples_are_answered_correctly(sample_answers: list[dict[str, object]]) -> None:
    """Every example question the empty chat offers is a sample question whose answer holds all its key
    facts: the first thing a new user clicks must work."""
    by_question = {str(r["question"]): r for r in sample_answers}
    asked = [by_question[question] for question, _ in EXAMPLES]  # KeyError: an example left the sample set
    assert [(r["qid"], r["outcome"]) for r in asked] == [(r["qid"], "correct") for r in asked]
