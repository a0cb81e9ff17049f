"""eka's chat for engineers: ask, watch the answer stream in, open the cited page.

Run it with ``eka ui`` (or ``streamlit run ui/app.py``). It talks to the answer service over HTTP only,
through `ui.client.EkaClient`; it never opens the store or loads a model. The page reads top to bottom:

    settings → sign-in (API key, or a demo persona) → who am I → sidebar (filters, generator, upload)
    → the conversation (answers, citation chips, sources, provenance, feedback) → the question box → stream

Configuration (environment, set by ``eka ui``): ``EKA_UI_API_URL``, ``EKA_UI_API_KEY`` (sign in as that key's
user), ``EKA_UI_DEMO_KEYS`` (a ``demo-keys.json`` of ``{user: key}``: shows the persona picker) and
``EKA_UI_TIMEOUT_S`` (read timeout of an answer).
"""

from __future__ import annotations

import bisect
import html
import itertools
import json
import logging
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import streamlit as st
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

if __package__ in (None, ""):  # run as a script by `streamlit run ui/app.py`: make `ui` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ui.client import (
    ApiError,
    ApiUnreachable,
    Citation,
    DeltaEvent,
    DocumentList,
    DoneEvent,
    EkaClient,
    ErrorEvent,
    Generators,
    InvalidKey,
    Me,
    Page,
    Source,
    SourcesEvent,
    UploadResult,
)
from ui.examples import EXAMPLES

log = logging.getLogger("eka.ui")

SCOPE = (
    "Answers from the specifications, standards, test reports and service manuals you may read, "
    "each claim cited to its page."
)
FACETS = {
    "brand": "Brand",
    "program": "Program",
    "doc_type": "Document type",
    "revision": "Revision",
    "team": "Team",
}
# The tab's icon, an open book, as inline SVG (Streamlit makes it a data: URL). A ":material/...:" page icon
# would make the browser fetch it from Google's font CDN: the chat makes no request that leaves the machine.
PAGE_ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path fill="#1f6feb" d="'
    "M12 6.5C10.3 5.2 7.9 4.5 5 4.5c-1 0-2 .1-3 .4v14c1-.3 2-.4 3-.4 2.9 0 5.3.7 7 2 1.7-1.3 4.1-2 7-2 "
    "1 0 2 .1 3 .4v-14c-1-.3-2-.4-3-.4-2.9 0-5.3.7-7 2zm-1 12c-1.6-.8-3.6-1.2-6-1.2-.7 0-1.3 0-2 .1V6.3"
    "c.6-.1 1.3-.2 2-.2 2.3 0 4.4.6 6 1.8zm10-1.1c-.7-.1-1.3-.1-2-.1-2.4 0-4.4.4-6 1.2V7.9c1.6-1.2 3.7-1.8 "
    '6-1.8.7 0 1.4.1 2 .2z"/></svg>'
)
UPLOAD_TYPES = ["pdf", "docx", "html", "htm", "md", "markdown", "txt"]
HISTORY_TURNS = 10  # earlier messages sent with a follow-up question
CONTEXT_LINES = 2  # lines shown around a cited passage
ERROR_TEXT = {
    "generator_timeout": "the answer generator timed out",
    "generator_failed": "the answer generator failed",
    "generator_unavailable": "the answer generator is unavailable (choose another in the sidebar)",
    "connection_lost": "the connection to the eka API broke",
    "stream_cut": "the eka API stopped sending",
}


class UiSettings(BaseSettings):
    """The chat's settings, from ``EKA_UI_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="EKA_UI_", extra="ignore")

    api_url: str = "http://127.0.0.1:8000"
    api_key: SecretStr | None = None
    demo_keys: Path | None = None
    timeout_s: float = 300.0


@dataclass
class Turn:
    """One message of the conversation, with everything needed to draw it again."""

    role: str  # "user" | "assistant"
    content: str
    sources: tuple[Source, ...] = ()
    citations: tuple[Citation, ...] = ()
    refused: bool = False
    provenance_id: str | None = None
    generator: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    unsupported: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    incomplete: bool = False  # the stream failed part-way: ``content`` is what arrived
    error: str | None = None  # a message for the user when the answer failed or is incomplete

    @property
    def answered(self) -> bool:
        """Whether this is a finished answer (one that belongs in the history sent with follow-ups)."""
        return self.role == "assistant" and self.error is None and not self.incomplete


# -- small pure helpers --------------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_$~<>#|!])")  # "!" too: no ![image](URL) from a document, no request
_MARKER = re.compile(r"\[(\d{1,2})\]")


def md_text(text: str) -> str:
    """``text`` escaped for Markdown: shown as written, never as formatting, a link target or an image."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def answer_markdown(text: str) -> str:
    """Answer text as safe Markdown, with its ``[n]`` citation markers as small badges."""
    return _MARKER.sub(r":blue-badge[\1]", md_text(text))


def quote_spans(text: str, quote: str) -> list[tuple[int, int]]:
    """Where ``quote`` appears in ``text``, tolerant of line breaks, hyphens and punctuation.

    The quote is matched word by word; when it does not match whole (e.g. a sentence joined across
    sections), each of its sentences is tried on its own.
    """

    def find(words: list[str]) -> tuple[int, int] | None:
        if not words:
            return None
        match = re.search(r"\W*".join(re.escape(w) for w in words), text, flags=re.IGNORECASE)
        return match.span() if match else None

    words = re.findall(r"\w+", quote)
    whole = find(words)
    if whole:
        return [whole]
    spans = []
    for sentence in re.split(r"(?<=[.;:!?])\s+", quote):
        sentence_words = re.findall(r"\w+", sentence)
        if len(sentence_words) >= 4 and (span := find(sentence_words)):
            spans.append(span)
    if not spans and len(words) >= 12:  # at least the opening or the closing words
        spans = [s for s in (find(words[:8]), find(words[-8:])) if s]
    return sorted(spans)


_BOX = (
    "white-space: pre-wrap; line-height: 1.5; font-size: 0.92rem; padding: 0.75rem 1rem; "
    "border: 1px solid rgba(49,51,63,0.2); border-radius: 0.5rem;"
)
_SCROLL = "max-height: 55vh; overflow-y: auto;"
_TINT = "background: rgba(255,214,0,0.06);"


def _marked(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> str:
    """``text[start:end]`` escaped for HTML, with the parts of ``spans`` inside it in ``<mark>``."""
    out, last = [], start
    for a, b in spans:
        a, b = max(a, last), min(b, end)
        if a < b:
            out += [html.escape(text[last:a]), "<mark>", html.escape(text[a:b]), "</mark>"]
            last = b
    out.append(html.escape(text[last:end]))
    return "".join(out)


_TABLE_ROW = re.compile(r"[ \t]*\|.*\|[ \t]*$")
_CELL_EDGE = re.compile(r"(?<!\\)\|")
_TABLE_STYLE = "border-collapse: collapse; margin: 0.25rem 0; font-size: 0.85rem; white-space: normal;"
_CELL_STYLE = "border: 1px solid rgba(49,51,63,0.25); padding: 0.15rem 0.45rem; vertical-align: top;"


def _table_html(text: str, rows: list[tuple[int, int]], spans: list[tuple[int, int]]) -> str:
    """Table rows (``| a | b |`` lines at the given offsets) as an HTML table; the first row is the header."""
    out = [f'<table class="eka-table" style="{_TABLE_STYLE}">']
    for i, (start, end) in enumerate(rows):
        tag = "th" if i == 0 else "td"
        edges = [m.start() for m in _CELL_EDGE.finditer(text, start, end)]
        cells = []
        for a, b in itertools.pairwise(edges):
            a += 1
            while a < b and text[a].isspace():
                a += 1
            while b > a and text[b - 1].isspace():
                b -= 1
            cells.append(f'<{tag} style="{_CELL_STYLE}">{_marked(text, a, b, spans)}</{tag}>')
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "".join(out) + "</table>"


def marked_html(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` escaped for HTML with ``spans`` in ``<mark>``; table rows (``| a | b |``) as a table."""
    out: list[str] = []
    pending = 0  # where the text not yet written begins
    run: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]*(?:\n|$)", text):
        body_end = line.end() - (1 if line.group().endswith("\n") else 0)
        if line.group() and _TABLE_ROW.match(text, line.start(), body_end):
            if not run:
                out.append(_marked(text, pending, line.start(), spans))
            run.append((line.start(), body_end))
            pending = line.end()
            continue
        if run:
            out.append(_table_html(text, run, spans))
            run = []
    if run:
        out.append(_table_html(text, run, spans))
    out.append(_marked(text, pending, len(text), spans))
    return "".join(out)


def page_html(text: str, quote: str) -> tuple[str | None, str]:
    """The cited passage in context (a few lines around it; None if it is not found) and the whole page.

    Both are HTML with the quote in ``<mark>``: the excerpt shows the passage without scrolling, the page
    box (scrollable) shows everything around it.
    """
    spans = quote_spans(text, quote) if quote else []
    whole = f'<div class="eka-page" style="{_BOX} {_SCROLL}">{marked_html(text, spans)}</div>'
    if not spans:
        return None, whole
    starts = [0] + [m.end() for m in re.finditer("\n", text)]  # where each line begins
    first = max(0, bisect.bisect_right(starts, spans[0][0]) - 1 - CONTEXT_LINES)
    header = first
    while header > 0 and header > first - 12 and _TABLE_ROW.match(_line(text, starts, header - 1)):
        header -= 1  # a cited table row is shown under its table's header
    if header < first and _TABLE_ROW.match(_line(text, starts, first)):
        first = header
    last = bisect.bisect_right(starts, spans[-1][1] - 1) - 1 + CONTEXT_LINES
    begin, finish = starts[first], (starts[last + 1] - 1 if last + 1 < len(starts) else len(text))
    excerpt = marked_html(text[begin:finish], [(a - begin, b - begin) for a, b in spans if b <= finish])
    before, after = ("… " if begin > 0 else ""), (" …" if finish < len(text) else "")
    context = f'<div class="eka-excerpt" style="{_BOX} {_TINT}">{before}{excerpt}{after}</div>'
    return context, whole


def _line(text: str, starts: list[int], index: int) -> str:
    end = text.find("\n", starts[index])
    return text[starts[index] : end if end >= 0 else len(text)]


def where(page: int | None, section: str | None) -> str:
    """``p. 4 · 6 Deviation analysis`` for a place in a document."""
    parts = []
    if page is not None:
        parts.append(f"p. {page}")
    if section:
        parts.append(section.split(" > ")[-1])
    return " · ".join(parts)


def short(text: str, limit: int = 44) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def history_of(turns: list[Turn]) -> list[dict[str, str]]:
    """The earlier turns to send with a follow-up: questions and the answers that completed."""
    pairs: list[dict[str, str]] = []
    for i, turn in enumerate(turns):
        if turn.role == "user" and i + 1 < len(turns) and turns[i + 1].answered:
            pairs += [
                {"role": "user", "content": turn.content},
                {"role": "assistant", "content": turns[i + 1].content},
            ]
    return pairs[-HISTORY_TURNS:]


def citations_of(turn: Turn) -> tuple[Citation, ...]:
    """The answer's citations; for an incomplete answer, the sources its ``[n]`` markers point to."""
    if turn.citations or not turn.incomplete:
        return turn.citations
    cited = []
    for marker in sorted({int(m) for m in _MARKER.findall(turn.content)}):
        if 1 <= marker <= len(turn.sources):
            s = turn.sources[marker - 1]
            cited.append(Citation(marker, s.doc_id, s.source, s.title, s.page, s.section, s.text, s.chunk_id))
    return tuple(cited)


def load_demo_keys(path: Path | None) -> dict[str, str]:
    """The demo personas' keys (``{user: key}``) from ``demo-keys.json``, or nothing."""
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        log.warning("cannot read the demo keys in %s", path)
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


# -- session -------------------------------------------------------------------------------------------------


def state() -> Any:
    """``st.session_state`` with this app's defaults."""
    ss = st.session_state
    ss.setdefault("turns", [])
    ss.setdefault("pages", {})  # (doc_id, page) -> Page | error text
    ss.setdefault("provenance", {})  # provenance_id -> record | error text
    ss.setdefault("feedback_sent", {})  # provenance_id -> "up" | "down"
    ss.setdefault("signed_out", False)
    return ss


def client_for(settings: UiSettings, key: str) -> EkaClient:
    """This session's client for ``key`` (kept across reruns so connections are reused)."""
    ss = state()
    cached = ss.get("client")
    if cached is None or ss.get("client_key") != key:
        if cached is not None:
            cached.close()
        ss.client = EkaClient(settings.api_url, key, timeout=settings.timeout_s)
        ss.client_key = key
    return ss.client  # type: ignore[no-any-return]


def sign_in(key: str) -> None:
    """Use ``key`` from now on (checked on the next run)."""
    ss = state()
    ss.api_key = key.strip()
    ss.signed_out = False
    ss.key_error = None
    for name in ("me", "documents", "generators"):
        ss.pop(name, None)


def sign_out() -> None:
    """Forget the key and the conversation."""
    ss = state()
    for name in ("api_key", "me", "documents", "generators", "upload_results", "client_key"):
        ss.pop(name, None)
    ss.turns = []
    ss.signed_out = True


def current_key(settings: UiSettings) -> str | None:
    """The key this session is signed in with: one entered or picked, else the one ``eka ui`` was given."""
    ss = state()
    if ss.get("api_key"):
        return str(ss.api_key)
    if settings.api_key and not ss.signed_out:
        return settings.api_key.get_secret_value()
    return None


# -- states and the sign-in page -----------------------------------------------------------------------------


def header() -> None:
    st.title(":material/menu_book: eka — engineering knowledge assistant", anchor=False)
    st.caption(SCOPE)


def show_unreachable(settings: UiSettings, err: ApiUnreachable) -> None:
    with st.container(key="state-unreachable"):
        st.error(
            f"**The eka API is not reachable** at `{settings.api_url}`.\n\n"
            "Start it with `eka serve` (or `make demo`), or point the chat elsewhere with "
            "`eka ui --api-url URL`.",
            icon=":material/cloud_off:",
        )
        st.button("Try again", icon=":material/refresh:", key="retry")
    log.info("API unreachable: %s", err.detail)


def sign_in_page(settings: UiSettings) -> None:
    """The key form, and in demo mode one card per persona."""
    ss = state()
    if ss.get("key_error"):
        st.error(ss.key_error, icon=":material/key_off:")
    personas = load_demo_keys(settings.demo_keys)
    if personas:
        st.subheader("Sign in as a demo persona", anchor=False)
        st.caption("Each persona reads different documents: the same question gets different sources.")
        cards = st.columns(min(len(personas), 5))
        for i, (user, key) in enumerate(personas.items()):
            with cards[i % len(cards)].container(border=True):
                st.markdown(f"**{user}**")
                profile = persona_profile(settings, key)
                if profile:
                    st.caption(profile)
                st.button(
                    f"Sign in as {user}",
                    key=f"persona-{user}",
                    on_click=sign_in,
                    args=(key,),
                    width="stretch",
                )
        st.divider()
    with st.form("sign-in", border=not personas):
        st.subheader("Sign in with your API key", anchor=False)
        key = st.text_input(
            "API key",
            type="password",
            placeholder="eka_…",
            help="Ask your administrator for a key (`eka keys create --user NAME --groups …`).",
        )
        if st.form_submit_button("Sign in", type="primary") and key.strip():
            sign_in(key)
            st.rerun()


def persona_profile(settings: UiSettings, key: str) -> str:
    """``groups: …; roles: …`` of a demo key (asked once per session; empty if the API does not say)."""
    profiles = state().setdefault("profiles", {})
    if key not in profiles:
        try:
            with EkaClient(settings.api_url, key, timeout=10) as client:
                me = client.me()
            text = "reads: " + ", ".join(me.groups)
            profiles[key] = text + (f" · may {', '.join(me.roles)}" if me.roles else "")
        except ApiError:
            return ""
    return str(profiles[key])


# -- sidebar -------------------------------------------------------------------------------------------------


def sidebar(
    client: EkaClient, me: Me, docs: DocumentList, generators: Generators
) -> tuple[dict[str, list[str]], str | None]:
    """Who is signed in, filters, the generator and (for the ingest role) upload.

    Returns:
        The chosen filters and generator (None: the server's default).
    """
    with st.sidebar:
        with st.container(key="who"):
            st.markdown(f"### :material/person: {md_text(me.user)}")
            st.caption("Reads: " + ", ".join(me.groups))
            if me.roles:
                st.caption("Roles: " + ", ".join(me.roles))
        c1, c2 = st.columns(2)
        c1.button("New chat", icon=":material/add_comment:", on_click=new_chat, width="stretch")
        c2.button("Sign out", icon=":material/logout:", on_click=sign_out, width="stretch")

        st.markdown("#### Filters")
        filters: dict[str, list[str]] = {}
        for key, label in FACETS.items():
            options = docs.facets.get(key)
            if options:
                chosen = st.multiselect(label, options, key=f"filter-{key}", placeholder="Any")
                if chosen:
                    filters[key] = list(chosen)
        matching = [d for d in docs.documents if _matches(d, filters)]
        st.caption(f"Searching {len(matching)} of {len(docs.documents)} documents you may read.")

        generator = generator_picker(generators)

        if "ingest" in me.roles:
            upload_panel(client)
    return filters, generator


def generator_picker(generators: Generators) -> str | None:
    """The generators that can answer as a choice; the others listed as unavailable, with why and the fix.

    Returns:
        The generator to ask (None: the server's default, when it can answer).
    """
    usable, preferred = generators.usable, generators.preferred
    with st.container(key="generators"):
        if len(usable) > 1:
            chosen: str | None = st.selectbox(
                "Answer generator",
                usable,
                index=usable.index(preferred) if preferred in usable else 0,
                key="generator",
                help="`extractive` quotes the best source sentences; an LLM writes a cited answer.",
            )
        else:
            chosen = preferred
            if preferred:
                st.caption(f"Answers by the `{preferred}` generator.")
            else:
                st.warning("No answer generator can answer now; see below.", icon=":material/block:")
        default = generators.info(generators.default)
        if default is not None and not default.available and preferred:
            st.caption(
                f":material/info: The server's default generator `{default.name}` is unavailable, so answers "
                f"come from `{preferred}`."
            )
        for info in generators.unavailable:
            install = f" To enable it: `{info.install}`." if info.install else ""
            st.caption(
                f":material/block: `{info.name}` — unavailable: {md_text(info.reason or 'no reason given')}"
                + install
            )
    return None if chosen == generators.default else chosen


def _matches(document: Mapping[str, Any], filters: Mapping[str, list[str]]) -> bool:
    meta = document.get("metadata") or {}
    return all(str(meta.get(k)) in values for k, values in filters.items())


def new_chat() -> None:
    """An empty conversation; documents and generators are asked for again (they may have changed)."""
    ss = state()
    ss.turns = []
    for name in ("documents", "generators", "viewer"):
        ss.pop(name, None)


def upload_panel(client: EkaClient) -> None:
    ss = state()
    with st.expander("Add documents", icon=":material/upload_file:", expanded=bool(ss.get("upload_results"))):
        with st.form("upload", clear_on_submit=True, border=False):
            files = st.file_uploader("Files", type=UPLOAD_TYPES, accept_multiple_files=True)
            groups = st.text_input(
                "Access groups",
                value="",
                placeholder="your groups",
                help="Comma-separated groups, among your own, that may read these documents. Empty: all your "
                "groups but public. 'public' (everyone) needs the publish role.",
            )
            c1, c2 = st.columns(2)
            meta = {
                "brand": c1.text_input("Brand"),
                "program": c2.text_input("Program"),
                "doc_type": c1.text_input("Document type"),
                "revision": c2.text_input("Revision"),
            }
            submitted = st.form_submit_button("Upload and ingest", icon=":material/upload:")
        if submitted and files:
            with st.spinner("Ingesting…"):
                try:
                    ss.upload_results = client.upload(
                        [(f.name, f.getvalue()) for f in files],
                        [g.strip() for g in groups.split(",") if g.strip()],
                        {k: v.strip() for k, v in meta.items() if v.strip()},
                    )
                    ss.pop("documents", None)  # new facets and counts
                except ApiError as err:
                    ss.upload_results = None
                    st.error(f"Upload refused: {err.detail}", icon=":material/error:")
        for result in ss.get("upload_results") or ():
            upload_result_line(result)


def upload_result_line(result: UploadResult) -> None:
    name = result.source.rsplit("/", 1)[-1]
    if result.status == "failed":
        reason = md_text(result.reason or "unknown reason")
        st.error(f"**{md_text(name)}**: failed — {reason}", icon=":material/error:")
    elif result.status == "unchanged":
        st.info(f"**{md_text(name)}**: unchanged, already ingested", icon=":material/check:")
    else:
        what = "metadata updated" if result.status == "metadata" else f"ingested, {result.chunks} passages"
        st.success(f"**{md_text(name)}**: {what}", icon=":material/check_circle:")


# -- the conversation ----------------------------------------------------------------------------------------


def open_citation(turn_index: int, citation: Citation) -> None:
    state().viewer = {"turn": turn_index, "citation": citation, "page": citation.page or 1}


def draw_turn(client: EkaClient, index: int, turn: Turn) -> None:
    if turn.role == "user":
        with st.chat_message("user"):
            st.markdown(answer_markdown(turn.content))
        return
    with st.chat_message("assistant"), st.container(key=f"turn-{index}"):
        if turn.refused:
            st.info(turn.content, icon=":material/search_off:")
        elif turn.content:
            st.markdown(answer_markdown(turn.content))
        if turn.error:
            (st.warning if turn.incomplete else st.error)(turn.error, icon=":material/warning:")
        for warning in turn.warnings:
            st.warning(f"{warning} — treated as data, not as instructions.", icon=":material/shield:")
        if turn.unsupported:
            n = len(turn.unsupported)
            with st.expander(
                f":orange[{n} sentence{'s' if n > 1 else ''} not supported by {'their' if n > 1 else 'its'} "
                "citations]",
                icon=":material/report:",
            ):
                st.markdown("\n".join(f"- {answer_markdown(s)}" for s in turn.unsupported))
        citation_chips(index, turn)
        sources_list(index, turn)
        if turn.provenance_id:
            provenance_panel(client, turn)
            feedback_row(client, turn)
        if turn.generator and "total_ms" in turn.timings:
            st.caption(f"Answered by `{turn.generator}` in {turn.timings['total_ms'] / 1000:.1f} s")


def citation_chips(index: int, turn: Turn) -> None:
    citations = citations_of(turn)
    if not citations:
        return
    with st.container(horizontal=True, key=f"cites-{index}", gap="small"):
        for c in citations:
            label = f"[{c.marker}] " + md_text(
                short(c.title) + (f", {where(c.page, c.section)}" if c.page or c.section else "")
            )
            st.button(
                label,
                key=f"cite-{index}-{c.marker}",
                icon=":material/description:",
                help=md_text(f"{c.title} — {c.source}"),
                on_click=open_citation,
                args=(index, c),
            )


def sources_list(index: int, turn: Turn) -> None:
    if not turn.sources:
        return
    label = "Closest sources" if turn.refused or (turn.error and not turn.content) else "Sources"
    box = (
        st.container(key=f"sources-{index}")
        if turn.refused
        else st.expander(f"{label} ({len(turn.sources)})")
    )
    with box:
        if turn.refused:
            st.markdown(f"**{label}** — the passages nearest to your question, none of them answers it:")
        for s in turn.sources:
            cols = st.columns([0.84, 0.16], vertical_alignment="center")
            cols[0].markdown(
                f"**{s.rank}.** {md_text(s.title)} — {md_text(where(s.page, s.section) or s.source)} "
                + (
                    f" :gray[(relevance {s.relevance:.2f}, {s.relevance_label})]"
                    if s.relevance is not None
                    else ""
                )
            )
            as_citation = Citation(s.rank, s.doc_id, s.source, s.title, s.page, s.section, s.text, s.chunk_id)
            cols[1].button(
                "Open",
                key=f"src-{index}-{s.rank}",
                on_click=open_citation,
                args=(index, as_citation),
                type="tertiary",
                icon=":material/open_in_new:",
            )


def provenance_panel(client: EkaClient, turn: Turn) -> None:
    with st.expander("How this answer was produced", icon=":material/account_tree:"):
        cache = state().provenance
        pid = turn.provenance_id
        if pid not in cache:
            try:
                cache[pid] = client.provenance(str(pid)).get("record") or {}
            except ApiError as err:
                st.caption(f"The provenance record is not available ({err.detail}).")
                return
        provenance_body(cache[pid], str(pid))


def provenance_body(record: Mapping[str, Any], pid: str) -> None:
    retrieval = record.get("retrieval") or {}
    generator = record.get("generator") or {}
    timings = record.get("timings") or {}
    method = record.get("rewrite_method")
    rewritten = record.get("rewritten_query") or ""
    rerankers = ", ".join(retrieval.get("reranker") or []) or "none"
    known = ["rewrite_ms", "retrieve_ms", "first_token_ms", "generate_ms", "total_ms"]
    timing_order = [k for k in known if k in timings] + sorted(set(timings) - set(known))
    lines = [
        f"- **Search query:** {answer_markdown(rewritten)}"
        + (f" :gray[(rewritten: {method})]" if method not in (None, "none") else ""),
        f"- **Retrieval:** {record.get('mode', 'hybrid')}, {record.get('k', '?')} passages; embedding model "
        f"`{retrieval.get('embedding_model', '?')}`; reranker `{rerankers}`; "
        f"index generation {retrieval.get('index_generation', '?')}",
        f"- **Evidence score:** {retrieval.get('evidence', 0):.2f}"
        + (
            " — the sources do not cover the question, so eka declined to answer"
            if record.get("refused")
            else ""
        ),
        f"- **Generator:** `{generator.get('name', '?')}` — model `{generator.get('model_id', '?')}`"
        + (
            " — " + ", ".join(f"{k}={v}" for k, v in (generator.get("params") or {}).items())
            if generator.get("params")
            else ""
        ),
        f"- **Prompt template:** `{record.get('prompt_template', '?')}`",
        "- **Timings:** "
        + ", ".join(f"{k.removesuffix('_ms').replace('_', ' ')} {timings[k]:,.0f} ms" for k in timing_order),
        f"- **Record:** `{pid}` (in the append-only audit log)",
    ]
    if record.get("filters"):
        lines.insert(
            2,
            "- **Filters:** "
            + "; ".join(
                f"{k} = {', '.join(v) if isinstance(v, list) else v}" for k, v in record["filters"].items()
            ),
        )
    st.markdown("\n".join(lines))
    hits = record.get("hits") or []
    if hits:
        rows = [
            "| # | relevance | rank score | document | page | section |",
            "|---:|---:|---:|---|---:|---|",
        ]
        for h in hits:
            section = (h.get("section") or "").split(" > ")[-1]
            rel = h.get("relevance")
            rows.append(
                f"| {h.get('rank')} | {'' if rel is None else f'{max(0.0, min(1.0, rel)):.2f}'} "
                f"| {h.get('score', 0):.3f} | {_cell(h.get('title') or h.get('source'))} "
                f"| {h.get('page') or ''} | {_cell(section)} |"
            )
        st.markdown("**Retrieved passages**\n\n" + "\n".join(rows))


def _cell(text: object) -> str:
    return md_text(str(text or "")).replace("\n", " ")


def feedback_row(client: EkaClient, turn: Turn) -> None:
    pid = str(turn.provenance_id)
    sent = state().feedback_sent
    if pid in sent:
        st.caption(
            f":material/check: Thanks — your feedback "
            f"({'helpful' if sent[pid] == 'up' else 'not helpful'}) was recorded."
        )
        return
    rating = st.feedback("thumbs", key=f"fb-{pid}")
    if rating is None:
        return
    with st.form(f"fb-form-{pid}", border=False):
        comment = st.text_input(
            "Comment (optional)",
            key=f"fb-comment-{pid}",
            placeholder="What was good or wrong about this answer?",
        )
        if st.form_submit_button("Send feedback"):
            value = "up" if rating == 1 else "down"
            try:
                client.feedback(pid, value, comment.strip() or None)
                sent[pid] = value
                st.rerun()
            except ApiError as err:
                st.error(f"Feedback was not recorded: {err.detail}")


def examples(docs: DocumentList) -> None:
    readable = {d.get("source") for d in docs.documents}
    shown = [q for q, source in EXAMPLES if source in readable][:4]
    if not shown:
        return
    st.markdown("##### Try asking")
    with st.container(key="examples"):
        for i, question in enumerate(shown):
            st.button(
                question,
                key=f"example-{i}",
                icon=":material/lightbulb:",
                on_click=ask_later,
                args=(question,),
            )


def ask_later(question: str) -> None:
    state().pending = question


# -- the citation viewer -------------------------------------------------------------------------------------


def page_of(client: EkaClient, doc_id: str, number: int) -> Page | str:
    cache = state().pages
    if (doc_id, number) not in cache:
        try:
            cache[(doc_id, number)] = client.page(doc_id, number)
        except ApiError as err:
            return (
                "This page cannot be shown."
                if err.status == 404
                else f"The page could not be loaded ({err.detail})."
            )
    return cache[(doc_id, number)]  # type: ignore[no-any-return]


def image_of(client: EkaClient, doc_id: str, number: int) -> bytes | None:
    cache = state().setdefault("images", {})
    if (doc_id, number) not in cache:
        try:
            cache[(doc_id, number)] = client.page_image(doc_id, number)
        except ApiError:
            cache[(doc_id, number)] = None
    image: bytes | None = cache[(doc_id, number)]
    return image


def viewer(client: EkaClient) -> None:
    """The cited page in a side drawer: title, page and section, the page text with the quote highlighted."""
    target = state().get("viewer")
    if not target:
        return
    citation: Citation = target["citation"]

    def body() -> None:
        current = state().get("viewer") or target
        number = int(current["page"])
        page = page_of(client, citation.doc_id, number)
        with st.container(key="viewer"):
            st.caption(f"`{citation.source}`")
            if isinstance(page, str):
                st.warning(page)
                return
            total = f" of {page.pages}" if page.pages else ""
            on_cited_page = number == (citation.page or 1)
            section = md_text(where(None, citation.section)) if citation.section and on_cited_page else ""
            st.markdown(f"**Page {number}{total}**" + (f" · {section}" if section else ""))
            context, whole = page_html(page.text, citation.quote if on_cited_page else "")
            if on_cited_page:
                st.markdown(f"**[{citation.marker}] The cited passage on this page**")
                if context:
                    st.html(context)
                else:
                    st.markdown("> " + md_text(citation.quote).replace("\n", " "))
                    st.caption("The quote could not be located exactly in the page text below.")
                st.markdown("**The whole page**")
            with st.container(key="viewer-page"):
                st.html(whole)
            if citation.source.lower().endswith(".pdf"):
                image = image_of(client, citation.doc_id, number)
                if image is not None:
                    with st.expander("The page as printed", expanded=False):
                        st.image(image, caption=f"{citation.source}, page {number}")
            if page.pages and page.pages > 1:
                c1, _, c2 = st.columns([1, 2, 1])
                c1.button(
                    "Previous page",
                    icon=":material/chevron_left:",
                    disabled=number <= 1,
                    on_click=_turn_page,
                    args=(-1,),
                )
                c2.button(
                    "Next page",
                    icon=":material/chevron_right:",
                    disabled=number >= page.pages,
                    on_click=_turn_page,
                    args=(1,),
                )

    title = md_text(short(citation.title, 80))
    st.dialog(title, width=720, position="right", on_dismiss=_close_viewer)(body)()


def _turn_page(step: int) -> None:
    target = state().get("viewer")
    if target:
        target["page"] = int(target["page"]) + step


def _close_viewer() -> None:
    state().pop("viewer", None)


# -- asking --------------------------------------------------------------------------------------------------


def ask(client: EkaClient, question: str, filters: dict[str, list[str]], generator: str | None) -> Turn:
    """Stream the answer to ``question`` into an assistant message; return it as a `Turn`."""
    ss = state()
    history = history_of(ss.turns)
    turn = Turn("assistant", "")
    with st.chat_message("assistant"), st.container(key="streaming"):
        status = st.empty()
        status.caption(":material/search: Searching your documents…")
        text = st.empty()
        try:
            for event in client.answer_stream(question, history, filters, generator):
                if isinstance(event, SourcesEvent):
                    turn.sources = event.sources
                    status.caption(f":material/edit_note: Writing from {len(event.sources)} passages…")
                elif isinstance(event, DeltaEvent):
                    turn.content += event.text
                    text.markdown(answer_markdown(turn.content) + " ▌")
                elif isinstance(event, DoneEvent):
                    turn = replace(
                        turn,
                        sources=event.sources or turn.sources,
                        content=event.answer,
                        citations=event.citations,
                        refused=event.refused,
                        provenance_id=event.provenance_id,
                        generator=event.generator,
                        timings=event.timings,
                        unsupported=event.unsupported,
                        warnings=event.warnings,
                    )
                elif isinstance(event, ErrorEvent):
                    if event.error == "generator_unavailable":
                        ss.pop("generators", None)  # ask the server again which generators can answer
                    reason = ERROR_TEXT.get(event.error, "the answer could not be completed")
                    turn.provenance_id = event.provenance_id
                    turn.incomplete = bool(turn.content)
                    turn.error = (
                        f"**This answer is incomplete:** {reason}. The text above is what arrived "
                        "before it stopped; ask again to get the full answer."
                        if turn.content
                        else f"**No answer:** {reason}. Please ask again."
                    )
        except InvalidKey:
            turn.error = "**Your API key is no longer accepted** (revoked?). Sign out and sign in again."
        except ApiUnreachable as err:
            turn.error = (
                f"**The eka API is not reachable** at `{err.url}`. Check that it is running and ask again."
            )
        except ApiError as err:
            if err.code == "generator_unavailable":
                ss.pop("generators", None)  # ask the server again which generators can answer
                which = f" `{generator}`" if generator else ""
                turn.error = (
                    f"**The answer generator{which} is unavailable:** {md_text(err.detail)} "
                    "Choose another generator in the sidebar and ask again."
                )
            else:
                turn.error = f"**The question was not answered:** {md_text(err.detail)}" + (
                    " Wait a moment and ask again." if err.status == 429 else ""
                )
        status.empty()
    return turn


# -- the page ------------------------------------------------------------------------------------------------


def load(client: EkaClient) -> tuple[Me, DocumentList, Generators]:
    """Who the key belongs to, what they may read and the generators (each asked once per session)."""
    ss = state()
    if "me" not in ss:
        ss.me = client.me()
    if "documents" not in ss:
        ss.documents = client.documents()
    if "generators" not in ss:
        ss.generators = client.generators()
    return ss.me, ss.documents, ss.generators


def main() -> None:
    st.set_page_config(page_title="eka — engineering knowledge assistant", page_icon=PAGE_ICON, layout="wide")
    settings = UiSettings()
    ss = state()
    header()

    key = current_key(settings)
    if key is None:
        sign_in_page(settings)
        return
    client = client_for(settings, key)
    try:
        me, docs, generators = load(client)
    except ApiUnreachable as err:
        show_unreachable(settings, err)
        return
    except InvalidKey:
        from_env = not ss.get("api_key")
        sign_out()
        ss.key_error = (
            "The API key given to `eka ui` was not accepted: it is unknown or revoked. "
            "Sign in with another key."
            if from_env
            else "This API key was not accepted: it is unknown or revoked. Check it and try again."
        )
        st.rerun()
        return

    filters, generator = sidebar(client, me, docs, generators)

    if not docs.documents:
        with st.container(key="state-empty"):
            st.info(
                "**No documents yet.** There is nothing you may read in the index, so there is nothing to "
                "answer from. An administrator adds documents with `eka ingest PATH`"
                + (", or use *Add documents* in the sidebar." if "ingest" in me.roles else "."),
                icon=":material/inventory_2:",
            )

    for index, turn in enumerate(ss.turns):
        draw_turn(client, index, turn)
    if not ss.turns and docs.documents:
        examples(docs)

    typed = st.chat_input("Ask about your documents…", disabled=not docs.documents, max_chars=4000)
    question = typed or ss.pop("pending", None)
    if question and question.strip():
        ss.turns.append(Turn("user", question.strip()))
        with st.chat_message("user"):
            st.markdown(answer_markdown(question.strip()))
        ss.turns.append(ask(client, question.strip(), filters, generator))
        st.rerun()

    viewer(client)


def run(body: Callable[[], None] = main) -> None:
    """Run the page; anything unexpected becomes a short message (details in the log), never a traceback."""
    try:
        body()
    except Exception:  # the last line of defence (Streamlit's rerun/stop are BaseExceptions and pass)
        log.exception("the chat failed")
        st.error(
            "Something went wrong in the chat. Reload the page; if it happens again, tell your administrator "
            "(details are in the chat's log).",
            icon=":material/error:",
        )


if __name__ == "__main__":  # `streamlit run` and AppTest run the page as __main__
    run()
