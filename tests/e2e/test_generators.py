"""Generators through the real `eka serve`: a local model killed mid-answer, and generators that cannot run.

The service must never die because of a generator: a killed model process ends that answer with an error
event (and a provenance record of the error), and the next answer works after an automatic restart; a
generator whose model is missing, or whose endpoint is unreachable, is listed as unavailable and answers 503
while the others keep working.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server import Server, create_key, free_port, start_server

pytestmark = pytest.mark.e2e

QUESTION = "How must a technician confirm that the high-voltage system is really dead before working on it?"


def model_children(server: Server) -> list[int]:
    """Pids of the server's local model processes (children running assistant.generation.llama_child)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == server.process.pid and b"llama_child" in cmdline and stat[0] != "Z":
            pids.append(int(proc.name))
    return pids


def events(lines: Iterator[str]) -> Iterator[dict[str, object]]:
    for line in lines:
        if line.strip():
            yield json.loads(line)


@pytest.fixture(scope="module")
def local_api(api_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`eka serve` with the packaged 0.5B model as its default generator, over the ingested samples."""
    server = start_server(
        "local-llm",
        api_home,
        generator="local",
        local_model="qwen2.5-coder-0.5b",
        local_context="4096",
        answer_k="3",  # a short prompt: the first token comes soon even on a busy machine
        llm_max_tokens="128",
        llm_timeout_s="600",
        rate_limit_per_minute="1000000",
    )
    server.personas = {"reader": create_key(api_home, "reader", "lina", "public")}
    yield server
    server.stop()


def test_killed_model_process_ends_the_stream_with_an_error_and_the_next_answer_works(
    local_api: Server,
) -> None:
    [model_pid] = model_children(local_api)  # started by the warm-up
    with (
        local_api.client("reader", timeout=300) as client,
        client.stream("POST", "/v1/answer", json={"question": QUESTION, "stream": True}) as response,
    ):
        assert response.status_code == 200
        kinds = []
        for event in events(response.iter_lines()):
            kinds.append(event["type"])
            if event["type"] == "delta" and kinds.count("delta") == 1:
                os.kill(model_pid, signal.SIGKILL)  # in the middle of the streamed answer
            last = event
    assert kinds[0] == "sources" and "delta" in kinds
    assert last["type"] == "error" and last["status"] == 502, last
    assert "signal 9" in str(last["detail"])
    assert local_api.process.poll() is None  # the API is still up

    with local_api.client("reader", timeout=60) as client:
        record = client.get(f"/v1/answers/{last['provenance_id']}").json()["record"]
        assert "stopped during the answer" in record["error"]
        assert record["generator"]["name"] == "local"

    with local_api.client("reader", timeout=300) as client:
        answer = client.post("/v1/answer", json={"question": QUESTION})
    assert answer.status_code == 200, answer.text
    assert answer.json()["generator"] == "local"
    assert answer.json()["answer"].strip()
    children = model_children(local_api)
    assert children and model_pid not in children  # a new model process


def test_frozen_model_process_times_out_with_504_and_is_replaced(api_home: Path) -> None:
    server = start_server(
        "local-llm-hang",
        api_home,
        generator="local",
        local_model="qwen2.5-coder-0.5b",
        llm_timeout_s="60",  # the frozen process is given up on after this; answers kept small to fit
        llm_max_tokens="48",
        answer_k="2",
        rate_limit_per_minute="1000000",
    )
    try:
        server.personas = {"reader": create_key(api_home, "reader", "lena", "public")}
        [frozen] = model_children(server)
        os.kill(frozen, signal.SIGSTOP)
        with server.client("reader", timeout=300) as client:
            response = client.post("/v1/answer", json={"question": QUESTION})
            assert response.status_code == 504, response.text
            assert response.json()["error"] == "generator_timeout"
            assert frozen not in model_children(server)  # killed, not left hanging
            again = client.post("/v1/answer", json={"question": QUESTION})
        assert again.status_code == 200, again.text
        assert again.json()["answer"].strip()
    finally:
        server.stop()


def test_missing_model_leaves_the_service_up_with_the_generator_unavailable(api_home: Path) -> None:
    server = start_server("missing-model", api_home, generator="local", local_model="/nowhere/model.gguf")
    try:
        server.personas = {"reader": create_key(api_home, "reader", "lars", "public")}
        with server.client("reader") as client:
            listed = client.get("/v1/generators").json()
            assert listed["default"] == "local"
            assert listed["available"] == ["extractive"]
            local = next(g for g in listed["generators"] if g["name"] == "local")
            assert local["available"] is False
            assert "/nowhere/model.gguf" in local["reason"]

            refused = client.post("/v1/answer", json={"question": QUESTION})
            assert refused.status_code == 503
            assert refused.json()["error"] == "generator_unavailable"
            assert "/nowhere/model.gguf" in refused.json()["detail"]
            streamed = client.post("/v1/answer", json={"question": QUESTION, "stream": True})
            assert streamed.status_code == 503

            works = client.post("/v1/answer", json={"question": QUESTION, "generator": "extractive"})
            assert works.status_code == 200, works.text
            assert works.json()["generator"] == "extractive"
    finally:
        server.stop()


def test_unreachable_endpoint_is_listed_unavailable_and_answers_503(api_home: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    server = start_server("no-endpoint", api_home, generator="openai", openai_base_url=url)
    try:
        server.personas = {"reader": create_key(api_home, "reader", "liv", "public")}
        with server.client("reader") as client:
            openai = next(
                g for g in client.get("/v1/generators").json()["generators"] if g["name"] == "openai"
            )
            assert openai["available"] is False
            assert url in openai["reason"]
            assert "EKA_OPENAI_BASE_URL" in openai["install"]
            refused = client.post("/v1/answer", json={"question": QUESTION})
            assert refused.status_code == 503
            assert refused.json()["error"] == "generator_unavailable"
            works = client.post("/v1/answer", json={"question": QUESTION, "generator": "extractive"})
            assert works.status_code == 200
    finally:
        server.stop()
