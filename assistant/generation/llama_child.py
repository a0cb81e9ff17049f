"""Entry point of the model process: llama.cpp's OpenAI-compatible server, tied to the eka process.

``python -m assistant.generation.llama_child PARENT_PID [llama_cpp.server arguments...]`` runs
``llama_cpp.server`` with those arguments and exits as soon as ``PARENT_PID`` is gone, so a killed API never
leaves a model process (and a gigabyte of memory) behind. Nothing of eka is imported here: a crash in
llama.cpp ends this process only.
"""

from __future__ import annotations

import os
import runpy
import sys
import threading
import time

_WATCH_EVERY_S = 0.5


def _watch(parent: int) -> None:
    """End this process when the parent has gone (re-parented to init or a subreaper)."""
    while True:
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(_WATCH_EVERY_S)


def main() -> None:
    parent = int(sys.argv[1])
    threading.Thread(target=_watch, args=(parent,), name="eka-parent-watch", daemon=True).start()
    sys.argv = ["llama_cpp.server", *sys.argv[2:]]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
