"""CPU time of processes, from /proc (Linux): where a benchmark's cores went (the API workers, the database
server, the load generator), so that a throughput figure can be read against what the machine had."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

Processes = dict[int, tuple[str, int, float]]  # pid -> (command name, parent pid, CPU seconds)
Pick = Callable[[Processes], Iterable[int]]


def _stat(pid: int) -> tuple[str, int, float] | None:
    """(command name, parent pid, user + system CPU seconds) of a live process, else None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return name, int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS


def _processes() -> Processes:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                found[int(entry.name)] = stat
    return found


def descendants(root: int, processes: Processes) -> set[int]:
    """``root`` and every process under it."""
    tree = {root}
    grew = True
    while grew:
        grew = False
        for pid, (_, parent, _) in processes.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return tree


@dataclass(frozen=True)
class Snapshot:
    at: float
    seconds: dict[str, dict[int, float]]  # group -> pid -> CPU seconds so far
    own: float  # this process (the load generator's threads)


def snapshot(groups: dict[str, Pick]) -> Snapshot:
    processes = _processes()
    seconds = {}
    for name, pick in groups.items():
        seconds[name] = {pid: processes[pid][2] for pid in pick(processes) if pid in processes}
    return Snapshot(time.monotonic(), seconds, time.process_time())


def used(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """CPU seconds each group spent between two snapshots (a process started in between counts whole; one
    that ended in between is lost), the load generator's as ``client``, and the wall time as ``wall``."""
    spent = {
        name: sum(now - before.seconds[name].get(pid, 0.0) for pid, now in pids.items())
        for name, pids in after.seconds.items()
    }
    spent["client"] = after.own - before.own
    spent["wall"] = after.at - before.at
    return spent


def api_and_database(server_pid: int) -> dict[str, Pick]:
    """The groups of a search benchmark: the `eka serve` process tree, and every PostgreSQL process."""
    return {
        "api": lambda processes: descendants(server_pid, processes),
        "database": lambda processes: [pid for pid, (name, _, _) in processes.items() if name == "postgres"],
    }
