"""The mock engine's SDK speed-ups change the cost of a run, never its result."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from tools.engine import sdk_speedups
from tools.engine.mock_driver import run_program, stack_config

CYCLE_PROGRAM = Path(__file__).parent / "support" / "programs" / "dependency_cycle.py"


def five_node_rollout() -> tuple[dict[str, str], list[str]]:
    nodes = [{"name": f"w{i}", "host": f"192.0.2.{i}", "pf": "ens1np0"} for i in range(1, 6)]
    return stack_config("dev", {"nodes": nodes, "rollout": {"maxUnavailable": 2}})


def test_speedups_register_exactly_what_the_sdk_registers() -> None:
    config, secret_keys = five_node_rollout()
    fast = run_program(config, stack="dev", secret_keys=secret_keys, speedups=True)
    plain = run_program(config, stack="dev", secret_keys=secret_keys, speedups=False)
    assert fast.error is None and plain.error is None
    assert [r.as_json() for r in fast.resources] == [r.as_json() for r in plain.resources]
    assert fast.outputs == plain.outputs
    assert len(fast.resources) > 40


def test_speedups_report_the_same_source_positions() -> None:
    config, secret_keys = five_node_rollout()
    # From the same line, so the frames of this test are the same in both.
    fast, plain = (
        run_program(config, stack="dev", secret_keys=secret_keys, speedups=speedups)
        for speedups in (True, False)
    )
    traces = {r.urn: r.stack_trace for r in plain.resources}
    assert {r.urn: r.stack_trace for r in fast.resources} == traces
    # Each resource points at the line that made it, then at the component that asked for it.
    step = plain.by_name("w1-vfs").stack_trace
    assert step and step[0][0].endswith("/components/node/agilio_node.py")
    assert step[1][0].endswith("/components/node/agilio_node.py")


@pytest.mark.parametrize("speedups", [True, False])
def test_a_dependency_cycle_is_still_reported(speedups: bool) -> None:
    run = run_program({}, stack="dev", program=CYCLE_PROGRAM, speedups=speedups)
    assert run.error is not None
    assert "circular dependency" in str(run.error)


def test_the_collector_is_paused_for_a_run_only() -> None:
    assert gc.isenabled()
    with sdk_speedups.cyclic_gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with sdk_speedups.cyclic_gc_paused(False):
        assert gc.isenabled()


def test_registrations_keep_the_options_the_engine_decides_with() -> None:
    config, secret_keys = five_node_rollout()
    run = run_program(config, stack="dev", secret_keys=secret_keys)
    assert run.error is None
    hardware = run.by_name("w1-vfs").options
    assert hardware["deleteBeforeReplace"] and hardware["deleteBeforeReplaceDefined"]
    assert hardware["replaceOnChanges"] == ["triggers[*]"]  # added by the pulumi-command SDK
    kubectl = run.by_name("w1-uncordon").options
    assert not kubectl["deleteBeforeReplaceDefined"], "the provider decides for kubectl steps"
    release = run.by_name("kube-ovn-release")
    assert release.options["retainOnDelete"] and not release.options["protect"]
    assert release.provider is not None and release.provider.endswith("::kubernetes")
    for registration in run.resources:
        options = registration.options
        assert options["deletedWith"] is None and options["replaceWith"] == []
        assert all(options["propertyDependencies"].values()), registration.name
