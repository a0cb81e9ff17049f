"""Local LLM benchmark: start-up, prefill and decode speed of the packaged GGUF as eka serves it.

It runs the ``local`` generator exactly as the API does (llama.cpp's server in a supervised child process)
and times, over ``--runs`` answers to a fixed prompt of about 600 tokens: the process start until ready, the
time to the first token (prefill), and the decode rate (streamed pieces per second after the first one; one
piece is one token for llama.cpp's server). It also prints the CPU features llama.cpp was built with, so two
builds (the portable AVX2 wheel, an AVX-512 one) can be compared on one machine.

Usage:
    python -m eval.bench.llm [--model qwen2.5-coder-0.5b] [--runs 5] [--max-tokens 128] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.generation.base import Message, Prompt
from assistant.generation.local import LocalGenerator
from eval.bench import emit

_SOURCE = (
    "The front brake pads of the KV-4 are replaced when the remaining friction material is 3.0 mm or less. "
    "The pad wear sensor closes its circuit at 2.5 mm and the brake module stores DTC C1A27-54 if the wear "
    "counter is not reset after new pads are fitted. Caliper carrier bolts are tightened to 230 ± 15 N·m "
    "with thread-locker TL-A; guide pin bolts to 32 ± 3 N·m. "
)
PROMPT = Prompt(
    "bench",
    (
        Message("system", "Answer from the sources only and cite them like [1]."),
        Message(
            "user", "".join(f"[{i}] {_SOURCE}\n" for i in range(1, 7)) + "Explain how pads are replaced."
        ),
    ),
    "Explain how pads are replaced.",
    (),
)


def system_info() -> str:
    """The CPU features of the installed llama.cpp build (asked in a child: nothing native runs here)."""
    code = "import llama_cpp; print(llama_cpp.llama_print_system_info().decode())"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    return result.stdout.strip() or result.stderr.strip()[-300:]


def run(model: str, runs: int, max_tokens: int) -> dict[str, Any]:
    """Start the model process, answer ``runs`` times and return the timings."""
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        models = Path(".eka") / "models"
        if (models / f"{model}.gguf").exists():  # reuse an assembled model instead of assembling it again
            (home / "models").mkdir()
            for f in models.glob(f"{model}.gguf*"):
                (home / "models" / f.name).symlink_to(f.resolve())
        settings = Settings(
            home=home,
            local_model=model,
            llm_max_tokens=max_tokens,
            _env_file=None,  # type: ignore[call-arg]
        )
        gen = LocalGenerator(settings)
        try:
            started = time.perf_counter()
            gen.prepare()
            start_s = time.perf_counter() - started
            first, rates, pieces = [], [], []
            for _ in range(runs):
                t0 = time.perf_counter()
                stamps = [time.perf_counter() for _ in gen.stream(PROMPT)]
                first.append(stamps[0] - t0)
                pieces.append(len(stamps))
                if len(stamps) > 1:
                    rates.append((len(stamps) - 1) / (stamps[-1] - stamps[0]))
        finally:
            gen.close()
    return {
        "model": model,
        "machine": platform.processor() or platform.machine(),
        "llama_cpp_build": system_info(),
        "runs": runs,
        "start_s": round(start_s, 2),
        "first_token_s_median": round(statistics.median(first), 3),
        "decode_tokens_per_s_median": round(statistics.median(rates), 1) if rates else None,
        "tokens_per_answer_median": statistics.median(pieces),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    report = run(args.model, args.runs, args.max_tokens)
    emit(report, args.out)


if __name__ == "__main__":
    main()
