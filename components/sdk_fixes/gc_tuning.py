"""The cyclic garbage collector, tuned for a program that builds one large graph of objects.

A rollout of 1000 nodes keeps about 15,000 resources alive, each with its futures, outputs and
protobuf messages, until the program ends. CPython's default thresholds (700, 10, 10) start a
young-generation collection every 700 allocations and, every 100 of those, walk the older
generations again, so the collector's work grows with everything the program has built so far
(a quarter of `pulumi preview` at 1000 nodes: 62 s with the defaults, 45 s with these, the same
peak memory; `bench/plan_scale.py`). Reference counting frees everything that is not part of a
cycle either way; cycles are still collected, only less often.
"""

from __future__ import annotations

import gc
import sys

# Young generation every 50,000 net allocations, the older ones 20 and 100 times rarer.
THRESHOLDS = (50_000, 20, 100)
# The Python versions the thresholds were measured on (bench/plan_scale.py prints the version
# with its figures). Python 3.14's incremental collector gives the second and third threshold
# another meaning (the old generations are scanned in increments), so elsewhere nothing is
# changed until a measurement there says what to set.
MEASURED_ON = ((3, 11),)


def tune(version: tuple[int, int] | None = None) -> bool:
    """Collect less often for the rest of the program run, on a measured Python only (nothing
    else changes); True when the thresholds were set."""
    if (version or sys.version_info[:2]) not in MEASURED_ON:
        return False
    gc.set_threshold(*THRESHOLDS)
    return True
