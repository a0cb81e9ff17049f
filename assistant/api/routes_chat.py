"""OpenAI-compatible chat completions, so the official ``openai`` client and OpenAI tools can use eka.

The last user message is the question; earlier user and assistant messages are the history. Client system
messages are ignored: eka's own prompt decides how sources are used. The answer's ``[n]`` markers refer to a
"Sources:" list appended to the content; the structured answer is in the extra ``eka`` field.
"""

from __future__ import annotations

import time
import uuid

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse

from assistant.answering import AnswerRequest
from assistant.api.deps import CallerDep, ServicesDep
from assistant.api.routes_answers import answerer
from assistant.api.schemas import (
    MAX_QUESTION,
    AnswerResponse,
    ChatChoice,
    ChatChoiceMessage,
    ChatRequest,
    ChatResponse,
    ChatUsage,
    ModelList,
    ModelOut,
)
from assistant.api.streaming import closing_body, collect, sources_footer, sse
from assistant.generation.base import Message

router = APIRouter(prefix="/v1")


@router.get("/models", response_model=ModelList, summary="The one model: eka")
def models(svc: ServicesDep, caller: CallerDep) -> ModelList:
    return ModelList(data=[ModelOut(id="eka", created=int(svc.started))])


def _invalid(message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", "messages"), "msg": message, "type": "value_error"}])


@router.post(
    "/chat/completions",
    response_model=ChatResponse,
    summary="OpenAI-compatible chat completion (model 'eka'); stream=true gives server-sent events",
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
def chat_completions(
    body: ChatRequest, svc: ServicesDep, caller: CallerDep
) -> ChatResponse | StreamingResponse:
    turns = [m for m in body.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user":
        raise _invalid("the last message must be a user message")
    question = turns[-1].text().strip()
    if not question:
        raise _invalid("the last user message is empty")
    if len(question) > MAX_QUESTION:
        raise _invalid(f"the question is longer than {MAX_QUESTION} characters")
    history = tuple(Message(m.role, m.text()[:20_000]) for m in turns[:-1] if m.text().strip())
    service = answerer(svc, None)
    events = service.stream(AnswerRequest(question=question, history=history), caller.principal)
    if body.stream:
        return StreamingResponse(
            closing_body(sse(events)), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )
    result = collect(events).result
    cited = {c.marker for c in result.citations} if not result.refused else set()
    content = result.text + sources_footer(result.hits, cited)
    return ChatResponse(
        id=f"chatcmpl-{uuid.uuid4().hex[:24]}",
        created=int(time.time()),
        choices=[ChatChoice(message=ChatChoiceMessage(content=content))],
        usage=ChatUsage(),
        eka=AnswerResponse.of(result),
    )
