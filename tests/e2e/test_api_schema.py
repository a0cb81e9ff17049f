"""Property-based API testing: schemathesis generates requests from the OpenAPI schema and sends them to the
real `eka serve`.

Whatever it sends (valid or not), the server must answer without a 5xx, and every JSON error must be the
documented ``{"error", "detail"}``. Every operation is included, uploads and deletes too: the key used has
the ``ingest`` role, but generated document ids never match a real one and generated uploads are refused
(no supported file name) or are small text files in the fuzz user's own upload folder.

The schema is the app's own (built without starting it), so the tests can be collected before the server
runs; a test checks that the live server serves exactly this schema. (schemathesis 4.32's lazy
``schemathesis.pytest.from_fixture`` fails on pytest 9.2: it sets ``request.node._nodeid``.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from assistant.config import Settings
from eka.server import create
from tests.server import Server

pytestmark = pytest.mark.e2e

# Kept small: this runs on every `make test`, and an answer takes up to a second.
MAX_EXAMPLES = 10

# Building the app does no I/O (the lifespan, which opens the home, never runs here).
OPENAPI = create(Settings(home=Path("never-opened"), _env_file=None)).openapi()  # type: ignore[call-arg]
schema = schemathesis.openapi.from_dict(OPENAPI)


def test_live_server_serves_the_schema_under_test(api: Server) -> None:
    assert httpx.get(f"{api.url}/openapi.json", timeout=30).json() == OPENAPI


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_server_error(case: Any, api: Server) -> None:
    response = case.call(base_url=api.url, headers=api.personas["schema"].headers, timeout=60)
    where = f"{case.method} {case.formatted_path}"
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:500]}"
    content_type = (response.headers.get("content-type") or [""])[0]  # lower-case names, list values
    if response.status_code >= 400 and content_type.startswith("application/json"):
        assert set(response.json()) == {"error", "detail"}, f"{where}: {response.text[:500]}"


# The JSON operations again, with a lone UTF-16 surrogate put into each generated body (issue 11, finding 8:
# a `\ud800` gave a 500 and reset the connection). Such a body is not valid Unicode: always a 4xx.


def _with_surrogate(value: Any) -> Any:
    """``value`` with ``\\ud800`` added to its first string (or, with no string, as a key around it)."""
    if isinstance(value, str):
        return value + "\ud800"
    if isinstance(value, dict) and value:
        key = next(iter(value))
        return {**value, key: _with_surrogate(value[key])}
    if isinstance(value, list) and value:
        return [_with_surrogate(value[0]), *value[1:]]
    return {"\ud800": value if isinstance(value, str | int | float | bool | list | dict) else None}


@schema.include(method="POST", path_regex="^/v1/(search|answer|feedback|chat/completions)$").parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_a_lone_surrogate_in_any_generated_body_is_a_4xx(case: Any, api: Server) -> None:
    body = json.dumps(_with_surrogate(case.body))  # as JSON escapes: "\\ud800" (no client encodes it raw)
    assert "\\ud800" in body
    response = httpx.request(
        case.method,
        f"{api.url}{case.formatted_path}",
        content=body.encode(),
        headers={**api.personas["schema"].headers, "Content-Type": "application/json"},
        timeout=60,
    )
    where = f"{case.method} {case.formatted_path} {body[:300]}"
    assert 400 <= response.status_code < 500, f"{where}: {response.status_code} {response.text[:500]}"
    assert set(response.json()) == {"error", "detail"}, f"{where}: {response.text[:500]}"
