"""The chat's behaviour with Streamlit's AppTest, against the real answer service on loopback.

AppTest runs ``ui/app.py`` in this process; the app reaches the API over HTTP as it does in production. The
states the real service cannot be made to show on demand (a stream that fails part-way, an empty index,
several generators) are driven by a scripted stand-in (`stub_api`).
"""

from __future__ import annotations

import socket
import subprocess
from typing import Any

import httpx
import pytest
import typer
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from eka.ui_cli import register
from tests.conftest import ROOT
from tests.ui.conftest import Home, Process, StubApi
from ui.app import Turn, answer_markdown, history_of, marked_html, page_html, quote_spans

pytestmark = pytest.mark.e2e

APP = ROOT / "ui" / "app.py"
TC09 = "What maximum cell temperature was reached in the TC-09 re-test with BMS software 4.2.0?"
OFF_TOPIC = "What is the recipe for chocolate cake?"


def new_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=120)


def signed_in(user: str) -> AppTest:
    at = new_app().run()
    at.button(key=f"persona-{user}").click().run()
    assert not at.exception
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception
    return at


def texts(at: AppTest) -> str:
    """Every text the page shows, joined (markdown, captions, alerts, buttons, expander labels, HTML)."""
    parts: list[Any] = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in (*at.info, *at.warning, *at.error, *at.success)]
    parts += [b.label for b in at.button] + [e.label for e in at.expander]
    parts += [h.value for h in at.get("html")]
    return "\n".join(str(p) for p in parts)


def last_turn(at: AppTest) -> Turn:
    turn: Turn = at.session_state["turns"][-1]
    return turn


def chips(at: AppTest) -> list[str]:
    return [b.label for b in at.button if b.key and b.key.startswith("cite-")]


# -- pure helpers -------------------------------------------------------------------------------------------


def test_quote_is_found_across_line_breaks_and_punctuation() -> None:
    page = "Re-test TC-09R with software 4.2.0 passed (maximum 53.1 °C, charge time 10-80 %\n21 min 05 s)."
    quote = "Re-test TC-09R with software 4.2.0 passed (maximum 53.1 °C, charge time 10-80 % 21 min 05 s)."
    [(start, end)] = quote_spans(page, quote)
    assert page[start:end].startswith("Re-test") and page[start:end].endswith("05 s")


def test_quote_not_on_the_page_highlights_nothing() -> None:
    assert quote_spans("The pad wear threshold is 3 mm.", "The coolant pump ran at 70 % duty") == []


TABLE_PAGE = (
    "3 Brakes\n| Ref. | Torque (N·m) |\n| B-01 | 230 ± 15 |\n| B-02 | 32 ± 3 |\nRe-torque after 50 km."
)


def test_table_rows_on_a_page_are_shown_as_a_table_with_the_quoted_row_marked() -> None:
    page = marked_html(TABLE_PAGE, quote_spans(TABLE_PAGE, "| B-01 | 230 ± 15 |"))
    assert "|" not in page
    assert "<th" in page and ">Torque (N·m)</th>" in page
    assert "><mark>B-01</mark></td>" in page and "><mark>230 ± 15</mark></td>" in page
    assert ">32 ± 3</td>" in page and page.startswith("3 Brakes\n<table")


def test_the_excerpt_of_a_cited_table_row_keeps_its_header() -> None:
    context, _ = page_html(TABLE_PAGE, "B-02 32 ± 3")
    assert context is not None and ">Ref.</th>" in context and "<mark>B-02</mark>" in context


def test_answer_markdown_escapes_markdown_and_badges_markers() -> None:
    assert answer_markdown("Use $5 *bolts* [2].") == r"Use \$5 \*bolts\* :blue-badge[2]."


def test_history_keeps_completed_answers_only() -> None:
    turns = [
        Turn("user", "q1"),
        Turn("assistant", "a1"),
        Turn("user", "q2"),
        Turn("assistant", "half", incomplete=True, error="x"),
    ]
    assert history_of(turns) == [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"}]


def test_eka_ui_runs_streamlit_on_loopback_with_the_api_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr(subprocess, "call", lambda command, env: calls.append((command, env)) or 0)
    cli = typer.Typer()
    cli.callback()(lambda: None)
    register(cli)
    args = ["ui", "--port", "8600", "--api-url", "http://127.0.0.1:9000", "--api-key", "eka_k"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    [(command, env)] = calls
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4].endswith("ui/app.py")
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options["--server.port"] == "8600" and options["--server.address"] == "127.0.0.1"
    assert options["--server.headless"] == "true" and options["--browser.gatherUsageStats"] == "false"
    assert env["EKA_UI_API_URL"] == "http://127.0.0.1:9000" and env["EKA_UI_API_KEY"] == "eka_k"


# -- sign-in ------------------------------------------------------------------------------------------------


def test_demo_mode_offers_a_card_per_persona_and_the_key_form(app_env: Home) -> None:
    at = new_app().run()
    assert not at.exception
    labels = [b.label for b in at.button]
    assert {f"Sign in as {user}" for user in app_env.keys} <= set(labels)
    assert at.text_input[0].label == "API key"
    assert "reads: battery, powertrain, public" in texts(at)


def test_persona_sign_in_shows_user_and_groups(app_env: Home) -> None:
    at = signed_in("bert")
    sidebar = "\n".join([m.value for m in at.sidebar.markdown] + [c.value for c in at.sidebar.caption])
    assert "bert" in sidebar
    assert "Reads: battery, powertrain, public" in sidebar
    assert any(b.key and b.key.startswith("example-") for b in at.button), (
        "example questions on an empty chat"
    )


def test_invalid_key_is_refused_with_a_clear_message(app_env: Home) -> None:
    at = new_app().run()
    at.text_input[0].set_value("eka_not-a-real-key")
    at.button(key="FormSubmitter:sign-in-Sign in").click().run()
    assert not at.exception
    assert any("not accepted" in e.value for e in at.error)
    assert at.text_input[0].label == "API key", "the sign-in form is shown again"
    assert "api_key" not in at.session_state


def test_key_given_to_eka_ui_signs_in_directly(app_env: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EKA_UI_API_KEY", app_env.keys["sara"])
    at = new_app().run()
    assert not at.exception
    assert any("sara" in m.value for m in at.sidebar.markdown)
    assert at.chat_input[0] is not None


def test_unreachable_api_is_a_clear_state(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("EKA_UI_API_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("EKA_UI_API_KEY", "eka_whatever")
    at = new_app().run()
    assert not at.exception
    assert any("not reachable" in e.value for e in at.error)
    assert at.button(key="retry").label == "Try again"


# -- answers ------------------------------------------------------------------------------------------------


def test_answer_is_shown_with_citation_chips_sources_and_provenance(app_env: Home) -> None:
    at = ask(signed_in("bert"), TC09)
    turn = last_turn(at)
    assert not turn.refused and turn.error is None and turn.provenance_id
    assert "53.1" in turn.content
    [answer] = [m for m in at.chat_message if m.name == "assistant"]
    assert "53.1" in answer.markdown[0].value
    assert chips(at) and all("HV Battery Thermal Validation Test Report" in c for c in chips(at))
    assert any(e.label.startswith("Sources (") for e in at.expander)
    page = texts(at)
    assert "How this answer was produced" in page
    assert "Prompt template" in page and "Retrieved passages" in page and "extractive" in page


def test_citation_chip_opens_the_cited_page_with_the_quote_highlighted(app_env: Home) -> None:
    at = ask(signed_in("bert"), TC09)
    citation = last_turn(at).citations[0]
    at.button(key=f"cite-1-{citation.marker}").click().run()
    assert not at.exception
    page = texts(at)
    assert f"Page {citation.page} of 4" in page
    html = "\n".join(h.value for h in at.get("html"))
    assert "<mark>" in html and "53.1" in html.split("<mark>", 1)[1].split("</mark>", 1)[0]


def test_follow_up_is_sent_with_the_history(app_env: Home, api: Process) -> None:
    at = ask(signed_in("bert"), TC09)
    ask(at, "And which ticket fixed it?")
    pid = last_turn(at).provenance_id
    with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {app_env.keys['bert']}"}) as http:
        record = http.get(f"/v1/answers/{pid}").json()["record"]
    assert [t["role"] for t in record["history"]] == ["user", "assistant"]
    assert record["history"][0]["content"] == TC09


def test_refusal_lists_the_closest_sources(app_env: Home) -> None:
    at = ask(signed_in("pia"), OFF_TOPIC)
    turn = last_turn(at)
    assert turn.refused and turn.sources
    assert any("do not cover" in i.value for i in at.info)
    assert "Closest sources" in texts(at)
    assert not chips(at)


def test_filters_from_facets_limit_the_sources(app_env: Home) -> None:
    at = signed_in("bert")
    labels = [m.label for m in at.sidebar.multiselect]
    assert {"Brand", "Program", "Document type", "Revision"} <= set(labels)
    at.sidebar.multiselect(key="filter-doc_type").set_value(["test-report"]).run()
    ask(at, TC09)
    assert {s.source for s in last_turn(at).sources} == {"battery/battery-thermal-test-report.pdf"}


def test_feedback_with_a_comment_is_recorded(app_env: Home, api: Process) -> None:
    at = ask(signed_in("bert"), TC09)
    pid = last_turn(at).provenance_id
    at.feedback(key=f"fb-{pid}").set_value(1).run()
    at.text_input(key=f"fb-comment-{pid}").set_value("exactly the number I needed")
    at.button(key=f"FormSubmitter:fb-form-{pid}-Send feedback").click().run()
    assert not at.exception
    assert "feedback (helpful) was recorded" in texts(at)
    with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {app_env.keys['bert']}"}) as http:
        feedback = http.get(f"/v1/answers/{pid}").json()["feedback"]
    assert any(
        f.get("rating") == "up" and f.get("comment") == "exactly the number I needed" for f in feedback
    )


def test_upload_is_offered_to_the_ingest_role_only_and_reports_each_file(app_env: Home) -> None:
    assert not signed_in("pia").file_uploader, "no upload without the ingest role"
    at = signed_in("quinn")
    at.file_uploader[0].set_value(
        [
            (
                "ui-test-note.md",
                b"# Torque audit\n\nThe UI test note says the audit torque is 42 Nm.\n",
                "text/markdown",
            ),
            ("empty.txt", b"", "text/plain"),
        ]
    )
    at.button(key="FormSubmitter:upload-Upload and ingest").click().run()
    assert not at.exception
    results = {r.source.rsplit("/", 1)[-1]: r for r in at.session_state["upload_results"]}
    assert results["ui-test-note.md"].status == "ingested"
    assert results["empty.txt"].status == "failed"
    assert any("ui-test-note.md" in s.value and "ingested" in s.value for s in at.success)
    assert any("empty.txt" in e.value and "failed" in e.value for e in at.error)


# -- states the stub drives ---------------------------------------------------------------------------------

SOURCE = {
    "rank": 1,
    "score": 0.9,
    "doc_id": "d1",
    "source": "brakes/spec.pdf",
    "title": "Brake System Design Specification",
    "page": 2,
    "section": "4 Pads",
    "chunk_id": "c1",
    "text": "The pad wear warning is set at 3 mm.",
}
DOCUMENT = {
    "doc_id": "d1",
    "source": "brakes/spec.pdf",
    "title": "Brake spec",
    "metadata": {"brand": "Aurelis"},
}


def test_error_mid_stream_keeps_the_partial_answer_marked_incomplete(stub_api: StubApi) -> None:
    stub_api.documents = [DOCUMENT]
    stub_api.answer_events = [
        {"type": "sources", "rewritten_query": "pad wear", "sources": [SOURCE]},
        {"type": "delta", "text": "The pad wear warning is set at 3 mm [1]."},
        {
            "type": "error",
            "error": "generator_timeout",
            "detail": "timed out",
            "status": 504,
            "provenance_id": "ans_x",
        },
    ]
    at = new_app().run()
    ask(at, "When does the pad wear warning come on?")
    turn = last_turn(at)
    assert turn.incomplete and "3 mm" in turn.content
    assert any("incomplete" in w.value and "timed out" in w.value for w in at.warning)
    assert chips(at) == ["[1] Brake System Design Specification, p. 2 · 4 Pads"], "markers still open sources"


def test_stream_cut_without_an_end_event_is_reported(stub_api: StubApi) -> None:
    stub_api.documents = [DOCUMENT]
    stub_api.answer_events = [
        {"type": "sources", "rewritten_query": "q", "sources": [SOURCE]},
        {"type": "delta", "text": "The pad"},
    ]
    at = new_app().run()
    ask(at, "When does the pad wear warning come on?")
    assert last_turn(at).incomplete
    assert any("stopped sending" in w.value for w in at.warning)


def test_empty_index_is_explained_and_the_question_box_disabled(stub_api: StubApi) -> None:
    at = new_app().run()
    assert not at.exception
    assert any("No documents yet" in i.value for i in at.info)
    assert at.chat_input[0].disabled


def test_generator_choice_appears_when_the_server_offers_several(stub_api: StubApi) -> None:
    stub_api.documents = [DOCUMENT]
    stub_api.generators = ["extractive", "local"]
    stub_api.answer_events = [
        {"type": "sources", "rewritten_query": "q", "sources": [SOURCE]},
        {"type": "delta", "text": "Three millimetres [1]."},
        {
            "type": "done",
            "answer": "Three millimetres [1].",
            "citations": [],
            "refused": False,
            "provenance_id": "ans_y",
            "rewritten_query": "q",
            "generator": "local",
        },
    ]
    at = new_app().run()
    at.sidebar.selectbox[0].set_value("local").run()
    ask(at, "pad wear?")
    body = next(b for r, b in stub_api.requests if r == "POST /v1/answer")
    assert body["generator"] == "local"


LOCAL_MISSING = (
    "the local generator needs llama-cpp-python, which is not installed; install it with: make install-llm"
)
GENERATOR_DETAILS = [
    {
        "name": "local",
        "available": False,
        "reason": "the local generator needs llama-cpp-python, which is not installed",
        "install": "make install-llm",
        "model_id": None,
    },
    {"name": "extractive", "available": True, "reason": None, "install": None, "model_id": "extractive"},
]
DONE = {
    "type": "done",
    "answer": "Three millimetres [1].",
    "citations": [],
    "refused": False,
    "provenance_id": "ans_z",
    "rewritten_query": "q",
    "generator": "extractive",
}


def sidebar_texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.sidebar.markdown] + [c.value for c in at.sidebar.caption])


def test_unavailable_default_generator_is_listed_with_its_reason_and_the_first_available_is_used(
    stub_api: StubApi,
) -> None:
    stub_api.documents = [DOCUMENT]
    stub_api.generators = ["extractive"]
    stub_api.default_generator = "local"
    stub_api.generator_details = GENERATOR_DETAILS
    stub_api.answer_events = [{"type": "sources", "rewritten_query": "q", "sources": [SOURCE]}, DONE]
    at = new_app().run()
    assert not at.exception
    sidebar = sidebar_texts(at)
    reason = GENERATOR_DETAILS[0]["reason"]
    assert f"`local` — unavailable: {reason}" in sidebar
    assert "`make install-llm`" in sidebar
    assert "default generator `local` is unavailable, so answers come from `extractive`" in sidebar
    assert not at.sidebar.selectbox, "nothing to choose: only one generator can answer"
    ask(at, "pad wear?")
    body = next(b for r, b in stub_api.requests if r == "POST /v1/answer")
    assert body["generator"] == "extractive"


def test_unavailable_generator_is_never_a_choice(stub_api: StubApi) -> None:
    stub_api.documents = [DOCUMENT]
    stub_api.generators = ["openai", "extractive"]
    stub_api.default_generator = "openai"
    stub_api.generator_details = [
        {"name": "openai", "available": True, "reason": None, "install": None, "model_id": "gpt-4o-mini"},
        *GENERATOR_DETAILS,
    ]
    at = new_app().run()
    assert not at.exception
    [choice] = at.sidebar.selectbox
    assert list(choice.options) == ["openai", "extractive"] and choice.value == "openai"
    assert "`local` — unavailable" in sidebar_texts(at)
    assert "default generator" not in sidebar_texts(at), "the default can answer: nothing to explain"


def test_older_server_without_the_generator_list_still_offers_its_generators(stub_api: StubApi) -> None:
    stub_api.documents = [DOCUMENT]
    stub_api.generators = ["extractive", "local"]
    at = new_app().run()
    assert not at.exception
    assert list(at.sidebar.selectbox[0].options) == ["extractive", "local"]
    assert "unavailable" not in sidebar_texts(at)


def test_generator_unavailable_answer_is_a_clear_message(stub_api: StubApi) -> None:
    stub_api.documents = [DOCUMENT]
    stub_api.answer_error = (503, {"error": "generator_unavailable", "detail": LOCAL_MISSING})
    at = new_app().run()
    ask(at, "pad wear?")
    turn = last_turn(at)
    assert turn.error and not turn.content
    assert any("generator is unavailable" in e.value and LOCAL_MISSING in e.value for e in at.error)
    fetched = [r for r, _ in stub_api.requests if r == "GET /v1/generators"]
    assert len(fetched) == 2, "the generators are asked for again after a 503"
