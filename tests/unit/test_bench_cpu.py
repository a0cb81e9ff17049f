"""eval/bench/cpu.py attributes CPU time to the process tree that spent it (read from /proc)."""

from __future__ import annotations

import subprocess
import sys

from eval.bench import cpu

BURN = (
    "import sys, time\n"
    "started = time.process_time()\n"
    "while time.process_time() - started < 0.3:\n"
    "    pass\n"
    "print('burnt', flush=True)\n"
    "sys.stdin.read()\n"
)


def test_the_cpu_a_child_burns_is_counted_for_its_tree_only() -> None:
    # A shell whose child burns 0.3 s of CPU: the shell's tree is charged, a tree that is not it is not.
    parent = subprocess.Popen(
        ["/bin/sh", "-c", f'"{sys.executable}" -c "$0"; exit $?', BURN],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        groups: dict[str, cpu.Pick] = {
            "tree": lambda processes: cpu.descendants(parent.pid, processes),
            "other": lambda processes: cpu.descendants(1 << 30, processes),  # no such process
        }
        before = cpu.snapshot(groups)
        assert parent.stdout is not None and parent.stdout.readline().strip() == "burnt"
        after = cpu.snapshot(groups)
        assert len(after.seconds["tree"]) == 2  # the shell and its python child
        spent = cpu.used(before, after)
    finally:
        parent.communicate("")
    assert 0.25 <= spent["tree"] <= spent["wall"] + 0.05
    assert spent["other"] == 0
    assert spent["client"] >= 0
