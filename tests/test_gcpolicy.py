"""strata/gcpolicy.py: what a service has at startup leaves the full collections' walk, and
startup's garbage cycles are collected first, not frozen forever. Each case runs in its own
interpreter (freezing the test process would keep pytest's objects)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO,
                         capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip()


def test_startup_objects_are_frozen_and_garbage_is_not() -> None:
    out = _run("""
        import gc, weakref
        from strata.gcpolicy import freeze_startup

        class Node:
            pass

        keep = [Node() for _ in range(5000)]           # the service's state
        a, b = Node(), Node()
        a.other, b.other = b, a                         # startup garbage: a cycle
        freed = []
        weakref.finalize(a, freed.append, "a")
        del a, b
        gc.disable()                                    # only freeze_startup collects
        frozen = freeze_startup()
        tracked = len(gc.get_objects())
        print(frozen >= 5000, bool(freed), tracked < frozen, gc.get_freeze_count() == frozen)
    """)
    assert out == "True True True True"


def test_a_full_collection_after_freezing_still_frees_new_cycles() -> None:
    out = _run("""
        import gc, weakref
        from strata.gcpolicy import freeze_startup

        class Node:
            pass

        freeze_startup()
        a = Node(); a.self = a
        freed = []
        weakref.finalize(a, freed.append, "a")
        del a
        gc.collect()
        print(bool(freed))
    """)
    assert out == "True"
