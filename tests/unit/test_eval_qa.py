"""QA relevance judging: page for PDFs, section or evidence otherwise, ``match: any`` versus ``all``."""

from eval.datasets import QAEntry, QAItem
from eval.qa import EvalHit, answered_at, is_relevant, judge


def hit(doc: str, page: int | None = None, section: str | None = None, text: str = "") -> EvalHit:
    return EvalHit(doc, page, section, text, 1.0)


def test_pdf_relevance_needs_the_page() -> None:
    entry = QAEntry("a.pdf", 4, None, "anything")
    assert is_relevant(hit("a.pdf", 4), entry)
    assert not is_relevant(hit("a.pdf", 5, text="anything"), entry)
    assert not is_relevant(hit("b.pdf", 4), entry)


def test_section_or_evidence_for_other_formats() -> None:
    evidence = "The NOP instruction does not change any user-visible state, except for advancing the pc."
    entry = QAEntry("a.md", None, "5.3.6 Failure Conditions", evidence)
    assert is_relevant(hit("a.md", section="5.3.6  Failure  Conditions"), entry)  # whitespace ignored
    assert is_relevant(hit("a.md", section="Other", text=f"before {evidence} after"), entry)
    assert is_relevant(
        hit("a.md", section="Other", text=evidence[: len(evidence) // 2 + 3]), entry
    )  # cut chunk
    assert is_relevant(hit("a.md", text="ﬁrst " + evidence.replace(" ", "\n")), entry)  # NFKC, newlines
    assert not is_relevant(hit("a.md", section="Other", text="unrelated"), entry)


def test_match_any_counts_one_target_and_all_needs_every_entry() -> None:
    any_item = QAItem(
        "q1",
        "table",
        "?",
        "",
        True,
        "any",
        [QAEntry("a.pdf", 1, None, None), QAEntry("a.pdf", 2, None, None)],
    )
    labels = judge(any_item, [hit("x.pdf", 1), hit("a.pdf", 2), hit("a.pdf", 1)])
    assert labels == ["q1~0", "q1#any", "q1~2"]  # the second relevant hit is a duplicate, not a new target
    assert not answered_at(any_item, labels, 1) and answered_at(any_item, labels, 2)

    all_item = QAItem(
        "q2",
        "multi",
        "?",
        "",
        True,
        "all",
        [QAEntry("a.pdf", 1, None, None), QAEntry("b.pdf", 7, None, None)],
    )
    labels = judge(all_item, [hit("a.pdf", 1), hit("c.pdf", 1), hit("b.pdf", 7)])
    assert labels == ["q2#0", "q2~1", "q2#1"]
    assert not answered_at(all_item, labels, 2) and answered_at(all_item, labels, 3)
