"""The chat end to end in a real browser: Debian's Chromium, headless, driven by Playwright.

The chat runs as `eka ui` runs it (``streamlit run``) against the real `eka serve`. Screenshots and the
measured timings go to ``tests/artifacts/`` (git-ignored).

eka works offline: every test fails if a page it opened made a request (or opened a websocket) to anything
but this machine (the `page` fixture records them). The API's own docs pages are checked the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.ui.conftest import ARTIFACTS, Process

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "Debian's chromium is not installed (apt-get install -y chromium): no browser tests",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402 - after the skip

TC09 = "What maximum cell temperature was reached in the TC-09 re-test with BMS software 4.2.0?"
REPLAY = (
    "How does the telematics unit protect against an attacker replaying a previously recorded remote command?"
)
OFF_TOPIC = "What is the recipe for chocolate cake?"
# What the security-only document would show on the page if it leaked (its program, TCU3, is also named in
# the public glossary's text, so only its metadata facet is checked for that).
RESTRICTED = ("Cybersecurity Requirements Specification - TCU", "tcu-cybersecurity-requirements")
ANSWER_TIMEOUT_MS = 120_000

# Records, in the page's own clock, when the answer's first text appeared and when the finished answer (a new
# answer turn drawn, the streaming placeholder gone) was.
WATCH = """() => {
  window.__eka = {t0: performance.now(), first: null, done: null};
  const answers = () => document.querySelectorAll('[class*="st-key-turn-"]').length;
  const before = answers();
  const observer = new MutationObserver(() => {
    const now = performance.now();
    const live = document.querySelector('.st-key-streaming [data-testid="stMarkdownContainer"]');
    if (window.__eka.first === null && live && live.innerText.trim().length > 0) window.__eka.first = now;
    if (answers() > before && !document.querySelector('.st-key-streaming')) {
      window.__eka.done = now;
      if (window.__eka.first === null) window.__eka.first = now;
      observer.disconnect();
    }
  });
  observer.observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


LOOPBACK = {"127.0.0.1", "localhost", "::1"}
LOCAL_SCHEMES = {"data", "blob", "about"}


def leaves_the_machine(url: str) -> bool:
    """Whether a request to ``url`` would go to another host (``data:``/``blob:`` URLs never do)."""
    parts = urlsplit(url)
    return parts.scheme not in LOCAL_SCHEMES and (parts.hostname or "") not in LOOPBACK


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page; the test fails if anything it loaded asked a host other than this machine."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    outside: list[str] = []
    context.on("request", lambda r: outside.append(r.url) if leaves_the_machine(r.url) else None)
    page = context.new_page()
    page.on("websocket", lambda ws: outside.append(ws.url) if leaves_the_machine(ws.url) else None)
    page.set_default_timeout(60_000)
    yield page
    context.close()
    if outside:
        pytest.fail("the page made requests that leave the machine:\n" + "\n".join(sorted(set(outside))))


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    return path


def sign_in(page: Page, chat: Process, user: str) -> None:
    page.goto(chat.url)
    page.get_by_role("button", name=f"Sign in as {user}").click()
    expect(page.locator(".st-key-who")).to_contain_text(user)


def ask(page: Page, question: str) -> dict[str, float]:
    """Type ``question``, send it, wait for the finished answer; returns ms to first text and to done."""
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    page.evaluate(WATCH)
    box.press("Enter")
    page.wait_for_function("window.__eka.done !== null", timeout=ANSWER_TIMEOUT_MS)
    marks = page.evaluate("window.__eka")
    return {"first_text_ms": marks["first"] - marks["t0"], "answer_ms": marks["done"] - marks["t0"]}


def expand_all(page: Page) -> None:
    for summary in page.locator('[data-testid="stExpander"] summary').all():
        summary.click()
    page.wait_for_timeout(500)


def test_persona_asks_watches_the_answer_and_opens_the_cited_page(page: Page, chat: Process) -> None:
    page.goto(chat.url)
    expect(page.get_by_role("button", name="Sign in as bert")).to_be_visible()
    shot(page, "ui-sign-in.png")
    sign_in(page, chat, "bert")
    expect(page.locator(".st-key-who")).to_contain_text("battery, powertrain, public")

    timings = ask(page, TC09)
    answer = page.locator(".st-key-turn-1")
    expect(answer).to_contain_text("53.1")
    chip = page.locator(".st-key-cites-1 button").first
    chip.scroll_into_view_if_needed()
    shot(page, "ui-answer.png")

    label = chip.inner_text()
    cited_page = int(re.search(r"p\. (\d+)", label).group(1))  # type: ignore[union-attr]
    chip.click()
    drawer = page.get_by_role("dialog")
    expect(drawer).to_contain_text("HV Battery Thermal Validation Test Report")
    expect(drawer).to_contain_text(f"Page {cited_page} of 4")
    expect(drawer).to_contain_text("battery/battery-thermal-test-report.pdf")
    mark = drawer.locator(".eka-excerpt mark")
    expect(mark).to_contain_text("53.1")
    shot(page, "ui-citation.png")

    timings["generator"] = "extractive"  # type: ignore[assignment]
    (ARTIFACTS / "ui-timings.json").write_text(json.dumps(timings, indent=2))
    print(f"\nbrowser timings (extractive): {timings}")


def test_restricted_document_never_appears_for_a_persona_without_access(page: Page, chat: Process) -> None:
    sign_in(page, chat, "pia")
    page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').nth(1).click()  # Program
    programs = page.get_by_role("option").all_inner_texts()
    assert programs and "TCU3" not in programs
    page.keyboard.press("Escape")

    ask(page, REPLAY)
    expand_all(page)
    text = page.locator("body").inner_text()
    assert not [r for r in RESTRICTED if r in text], "a document pia may not read is on her page"
    shot(page, "ui-restricted-pia.png")

    sign_in(page, chat, "sara")  # the same question from the security team does find it
    ask(page, REPLAY)
    expand_all(page)
    assert RESTRICTED[0] in page.locator("body").inner_text()


def test_refusal_shows_the_closest_sources(page: Page, chat: Process) -> None:
    sign_in(page, chat, "pia")
    ask(page, OFF_TOPIC)
    sources = page.locator(".st-key-sources-1")
    expect(sources).to_contain_text("Closest sources")
    expect(page.locator(".st-key-turn-1")).to_contain_text("do not cover")
    sources.scroll_into_view_if_needed()
    shot(page, "ui-refusal.png")


def test_outside_hosts_are_told_from_loopback() -> None:
    assert leaves_the_machine("https://fonts.gstatic.com/s/i/short-term/release/x/24px.svg")
    assert leaves_the_machine("http://10.0.0.8:8000/readyz")
    assert not leaves_the_machine("http://127.0.0.1:8501/_stcore/health")
    assert not leaves_the_machine("ws://localhost:8501/_stcore/stream")
    assert not leaves_the_machine("http://[::1]:8000/docs")
    assert not leaves_the_machine("data:image/svg+xml;base64,PHN2Zz4=")


def test_api_docs_render_from_local_assets(page: Page, api: Process) -> None:
    page.goto(f"{api.url}/docs")
    expect(page.locator(".swagger-ui .opblock-summary-path", has_text="/v1/answer").first).to_be_visible()
    shot(page, "api-docs-swagger.png")

    page.goto(f"{api.url}/redoc")
    expect(page.locator("redoc h1", has_text="eka").first).to_be_visible()
    expect(page.get_by_text("/v1/answer").first).to_be_attached()
    shot(page, "api-docs-redoc.png")
