"""Python's garbage collector, set for a long-lived server process.

Two changes, both measured (bench/notifications.py, bench/intake.py):
- What startup built lives as long as the process: gc.freeze moves it out of the full
  collections' reach, which would otherwise scan it all (tens of ms each); it took the
  intake's p99 from about 55 ms to 17 ms.
- The young generation is collected every GEN0_THRESHOLD allocations instead of every 700:
  a batch of 1,000 notifications allocates hundreds of thousands of short-lived objects, and
  at 700 the collector ran some 600 times per 10,000 reminders, promoting rows still in use
  into the older generations and taking about a quarter of the CPU time.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 10_000
DEFAULT_THRESHOLDS = (700, 10, 10)  # CPython's own


def tune_for_server() -> None:
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)


def restore_defaults() -> None:
    """Undo tune_for_server (tests that start a server app in the test process)."""
    gc.unfreeze()
    gc.set_threshold(*DEFAULT_THRESHOLDS)
