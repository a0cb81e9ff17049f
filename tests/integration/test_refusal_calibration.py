"""The refusal gate stays where it was calibrated (docs/answering.md) on the sample questions.

The shipped rule (assistant/refusal.py: the best relevance of the hits, ½ (dense cosine + lexical coverage))
and the default ``refusal_threshold`` were measured with ``python -m eval.bench.answer --calibrate``
(issue 12).
On samples/questions.jsonl the rule alone refuses none of the 33 answerable questions and 8 of 10 questions
about other engineering topics (from engdocs-dev, which samples/ does not cover). Its 5 unanswerable questions
are near-domain (another vehicle, an unknown campaign id): before generating, the answer service refuses 1 of
them (s-038, whose campaign no passage mentions), with the rule applied to the passages about the question's
entities. Like the retrieval gate on eval/baselines.json, a change that moves any of these by more than 2
points (here: a single question) fails. Re-measure and update the numbers here and in docs/answering.md when
the change is deliberate.
"""

from __future__ import annotations

import pytest

from assistant.answering import AnswerRequest, AnswerService
from assistant.app import Assistant
from assistant.audit import SQLiteAuditLog
from assistant.config import Settings
from assistant.generation.extractive import ExtractiveGenerator
from assistant.refusal import EvidenceScorer
from assistant.types import Principal
from eval.datasets import load_qa
from tests.conftest import SAMPLE_GROUPS, SAMPLES

pytestmark = pytest.mark.integration

TOLERANCE = 0.02
MEASURED_REFUSAL_ACCURACY = 0.2  # unanswerable sample questions refused before generating (1 of 5: s-038)
MEASURED_FALSE_REFUSAL_RATE = 0.0  # answerable sample questions refused (0 of 33)
MEASURED_OFF_CORPUS_REFUSED = 0.8  # of OFF_CORPUS (8 of 10, as with the MaxSim rule before issue 12)

# engdocs-dev questions (answered by ../shared/data/engineering-docs): the sample corpus does not cover them.
OFF_CORPUS = (
    "What is the canonical encoding of a NOP in the RISC-V base integer ISA?",
    "How long, in minutes, must the side that actively closes a TCP connection stay in TIME-WAIT?",
    "How do the FAA definitions of decision altitude and decision height differ?",
    "What dollar loss makes a mishap Catastrophic rather than Critical in the 882E severity categories?",
    "In a Navy spin test program, what emergency device has to be fitted in case the flight controls fail?",
    "What support level does opendbc list for the 2022-24 Acura RDX?",
    "What is the numeric AlertDescription code of the TLS 1.3 certificate_required alert?",
    "Which DoD HFACS nanocode fits a pilot who pressed on into deteriorating conditions mainly to get home?",
    "Why doesn't SimFil just pad the signal and use an FFT?",
    "What is the wheel lug nut torque specification for a 2020 Toyota Camry?",
)


def _refusals(assistant: Assistant, questions: list[str]) -> list[bool]:
    """Whether the shipped rule refuses each question before generating (as answering.py decides)."""
    threshold = Settings.model_fields["refusal_threshold"].default  # the shipped default, not the environment
    k = Settings.model_fields["answer_k"].default
    scorer = EvidenceScorer(assistant.store, assistant.embedder, assistant.spec.model_id)
    principal = Principal.of("calibration", SAMPLE_GROUPS)
    out = []
    for question in questions:
        hits = assistant.retriever.search(question, principal, k=k)
        out.append(not hits or scorer.evidence(question, hits) < threshold)
    return out


def _refused_before_generating(assistant: Assistant, questions: list[str]) -> list[bool]:
    """Whether the answer service refuses each question before generating: the rule on the passages about
    the question's entities, or no passage about one of them (answering.py ``sources`` and ``refusal``)."""
    settings = Settings(home=assistant.settings.home, _env_file=None)  # type: ignore[call-arg]
    service = AnswerService(
        settings,
        assistant.store,
        assistant.retriever,
        ExtractiveGenerator(assistant.embedder),
        SQLiteAuditLog(assistant.settings.home / "calibration-audit.sqlite3"),
        assistant.spec.model_id,
    )
    principal = Principal.of("calibration", SAMPLE_GROUPS)
    out = []
    for question in questions:
        request = AnswerRequest(question)
        found = tuple(assistant.retriever.search(question, principal, k=settings.answer_k))
        scoped, _sources, evidence = service.sources(question, found, principal, request, settings.answer_k)
        out.append(service.refusal(scoped, evidence, question) is not None)
    return out


@pytest.fixture(scope="module")
def sample_refusals(ingested_samples: Assistant) -> dict[str, list[bool]]:
    """Refusal decisions for the answerable and the unanswerable sample questions."""
    items = load_qa(SAMPLES / "questions.jsonl")
    answerable = [i.question for i in items if i.answerable]
    unanswerable = [i.question for i in items if not i.answerable]
    assert len(answerable) == 33 and len(unanswerable) == 5, "samples/questions.jsonl changed: re-measure"
    return {
        "answerable": _refusals(ingested_samples, answerable),
        "unanswerable": _refused_before_generating(ingested_samples, unanswerable),
    }


def test_unanswerable_sample_questions_are_refused_as_often_as_measured(
    sample_refusals: dict[str, list[bool]],
) -> None:
    refused = sample_refusals["unanswerable"]
    assert sum(refused) / len(refused) >= MEASURED_REFUSAL_ACCURACY - TOLERANCE


def test_answerable_sample_questions_are_not_refused_more_often_than_measured(
    sample_refusals: dict[str, list[bool]],
) -> None:
    refused = sample_refusals["answerable"]
    assert sum(refused) / len(refused) <= MEASURED_FALSE_REFUSAL_RATE + TOLERANCE


def test_questions_about_other_topics_are_refused_as_often_as_measured(ingested_samples: Assistant) -> None:
    refused = _refusals(ingested_samples, list(OFF_CORPUS))
    assert sum(refused) / len(refused) >= MEASURED_OFF_CORPUS_REFUSED - TOLERANCE
