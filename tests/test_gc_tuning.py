"""The program tunes the cyclic garbage collector itself, so `pulumi up` gets it too."""

from __future__ import annotations

import gc
import sys

import pytest

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


@pytest.mark.parametrize("version", [(3, 10), (3, 12), (3, 13), (3, 14), (4, 0)])
def test_the_tuning_is_a_no_op_where_it_was_not_measured(version: tuple[int, int]) -> None:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        assert gc_tuning.tune(version) is False
        assert gc.get_threshold() == (700, 10, 10)
        assert gc_tuning.tune((3, 11)) is True
        assert gc.get_threshold() == gc_tuning.THRESHOLDS
    finally:
        gc.set_threshold(*before)


def test_the_running_python_is_one_it_was_measured_on() -> None:
    # The project pins Python 3.11 (README); a new one needs bench/plan_scale.py first.
    assert sys.version_info[:2] in gc_tuning.MEASURED_ON
