"""The program tunes the cyclic garbage collector itself, so `pulumi up` gets it too."""

from __future__ import annotations

import gc

from components.sdk_fixes import gc_tuning
from tools.engine.mock_driver import run_stack


def test_the_program_sets_the_collectors_thresholds() -> None:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's defaults
    try:
        result = run_stack("dev")
        assert result.error is None, result.error
        assert gc.get_threshold() == gc_tuning.THRESHOLDS
        assert gc.isenabled()  # collected less often, never switched off
    finally:
        gc.set_threshold(*before)
