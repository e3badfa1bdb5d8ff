"""The program's cycle-check correction answers exactly as the SDK's own walk, in linear time."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pulumi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi.runtime import resource_cycle_breaker, rpc, stack
from pulumi.runtime.settings import SETTINGS

from components.sdk_fixes import sdk_corrections
from tools.engine.mock_driver import run_program, stack_config

CHAIN_PROGRAM = Path(__file__).parent / "support" / "programs" / "dependency_chain.py"


class Node:
    """A stand-in resource: the check only reads and sets attributes on what it is given."""

    def __init__(self, number: int) -> None:
        self.number = number

    def __repr__(self) -> str:
        return f"Node({self.number})"


def recorded(nodes: list[Node]) -> list[set[int]]:
    return [{d.number for d in resource_cycle_breaker._deps(n)} for n in nodes]


def five_node_rollout() -> tuple[dict[str, str], list[str]]:
    nodes = [{"name": f"w{i}", "host": f"192.0.2.{i}", "pf": "ens1np0"} for i in range(1, 6)]
    return stack_config("dev", {"nodes": nodes, "rollout": {"maxUnavailable": 2}})


def run_five_nodes() -> list[dict]:
    config, secret_keys = five_node_rollout()
    run = run_program(config, stack="dev", secret_keys=secret_keys, speedups=False)
    assert run.error is None, run.error
    assert len(run.resources) > 40
    return [r.as_json() for r in run.resources]


def test_the_program_installs_the_correction_for_the_pinned_sdk() -> None:
    run_five_nodes()
    assert rpc.declare_dependency is sdk_corrections.declare_dependency


def test_corrected_and_sdk_runs_register_identical_resources(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    corrected = run_five_nodes()
    assert rpc.declare_dependency is sdk_corrections.declare_dependency
    assert stack.wait_for_rpcs is sdk_corrections.wait_for_rpcs
    monkeypatch.setattr(sdk_corrections, "PINNED_SDK_VERSION", "0.0.0-not-this-sdk")
    own = run_five_nodes()
    assert rpc.declare_dependency is sdk_corrections.walk_declare_dependency
    assert stack.wait_for_rpcs is sdk_corrections._SDK_WAIT_FOR_RPCS
    assert corrected == own
    assert any(r["dependsOn"] for r in own)


def test_another_sdk_version_falls_back_with_one_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", warnings.append)
    monkeypatch.setattr(sdk_corrections, "sdk_version", lambda: "3.999.0")
    assert sdk_corrections.install() is False
    assert rpc.declare_dependency is sdk_corrections.walk_declare_dependency
    assert len(warnings) == 1
    assert "Pulumi SDK 3.999.0 is not the pinned 3.272.0" in warnings[0]
    assert "\n" not in warnings[0]
    monkeypatch.setattr(sdk_corrections, "sdk_version", lambda: "3.272.0")
    assert sdk_corrections.install() is True
    assert rpc.declare_dependency is sdk_corrections.declare_dependency
    assert len(warnings) == 1


edges = st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=60)


@settings(max_examples=300, deadline=None)
@given(edges=edges, queries=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11))))
def test_same_answers_as_the_sdk_call_by_call(
    edges: list[tuple[int, int]], queries: list[tuple[int, int]]
) -> None:
    sdk_nodes = [Node(i) for i in range(12)]
    our_nodes = [Node(i) for i in range(12)]
    for a, b in edges:
        expected = resource_cycle_breaker.declare_dependency(sdk_nodes[a], sdk_nodes[b])
        assert sdk_corrections.declare_dependency(our_nodes[a], our_nodes[b]) is expected, (a, b)
        assert recorded(our_nodes) == recorded(sdk_nodes)
    for a, b in [*queries, *((a, b) for a in range(12) for b in range(12))]:
        expected = sdk_corrections.sdk_reachable(our_nodes[a], our_nodes[b])
        assert sdk_corrections._reaches(our_nodes[a], our_nodes[b]) is expected, (a, b)


@settings(max_examples=100, deadline=None)
@given(order=st.permutations(list(range(40))), extra=edges)
def test_a_chain_declared_in_any_order_then_closed_gives_the_sdks_answers(
    order: list[int], extra: list[tuple[int, int]]
) -> None:
    """Links declared out of creation order (as outputs resolve), then random edges over it:
    the bounded searches and level raises are exercised, not only the cheap exits."""
    sdk_nodes = [Node(i) for i in range(41)]
    our_nodes = [Node(i) for i in range(41)]
    declarations = [(i + 1, i) for i in order] + [(a * 3 + 1, b * 3) for a, b in extra]
    declarations.append((0, 40))
    answers = []
    for a, b in declarations:
        expected = resource_cycle_breaker.declare_dependency(sdk_nodes[a], sdk_nodes[b])
        assert sdk_corrections.declare_dependency(our_nodes[a], our_nodes[b]) is expected, (a, b)
        answers.append(expected)
    assert answers[-1] is False  # 40 reaches 0 along the chain
    assert recorded(our_nodes) == recorded(sdk_nodes)


def test_a_ten_thousand_deep_chain_where_the_sdks_walk_recurses_too_deep() -> None:
    nodes = [Node(i) for i in range(10_000)]
    for newer, older in zip(nodes[1:], nodes, strict=False):
        assert sdk_corrections.declare_dependency(newer, older) is True
    assert sdk_corrections.declare_dependency(nodes[0], nodes[-1]) is False
    assert sdk_corrections._reaches(nodes[-1], nodes[0]) is True
    assert sys.getrecursionlimit() < 10_000
    with pytest.raises(RecursionError):
        sdk_corrections.sdk_reachable(nodes[-1], nodes[0])


def chain_run(depth: int, cycle: bool):
    config = {"chain:depth": str(depth), "chain:cycle": "true" if cycle else "false"}
    return run_program(config, stack="dev", program=CHAIN_PROGRAM)


def test_a_ten_thousand_deep_chain_of_resources_registers() -> None:
    run = chain_run(10_000, cycle=False)
    assert run.error is None, run.error
    links = {r.name: r for r in run.resources if r.type == "test:index:Link"}
    assert len(links) == 10_000
    assert links["link-0"].depends_on == []
    assert links["link-9999"].depends_on == [links["link-9998"].urn]


@pytest.mark.parametrize("pin_differs", [False, True], ids=["corrected", "sdk-own"])
def test_a_cycle_gives_the_sdks_circular_dependency_error(
    pin_differs: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if pin_differs:
        monkeypatch.setattr(sdk_corrections, "PINNED_SDK_VERSION", "0.0.0-not-this-sdk")
    run = chain_run(50, cycle=True)
    assert isinstance(run.error, RuntimeError)
    assert "circular dependency involving a resource of type test:index:Link named link-49" in (
        str(run.error)
    )


def outputs_then_wait(wait) -> list[str]:
    """Outstanding outputs as the SDK tracks them; one adds another while it runs, one fails."""
    events: list[str] = []

    async def late() -> None:
        await asyncio.sleep(0.01)
        events.append("late")

    async def first() -> None:
        await asyncio.sleep(0)
        with SETTINGS.lock:
            SETTINGS.outputs.add(asyncio.ensure_future(late()))
        events.append("first")

    async def failing() -> None:
        await asyncio.sleep(0.02)
        raise ValueError("an apply failed")

    async def main(tasks) -> None:
        with SETTINGS.lock:
            SETTINGS.outputs.update(asyncio.ensure_future(task()) for task in tasks)
        try:
            await wait()
        except ValueError as failure:
            events.append(f"raised {failure}")

    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(main([first]))
        loop.run_until_complete(main([failing, first]))
    finally:
        loop.close()
        SETTINGS.outputs.clear()
    return events


def test_the_output_wait_awaits_and_raises_as_the_sdks() -> None:
    ours = outputs_then_wait(sdk_corrections.wait_for_rpcs)
    assert ours == outputs_then_wait(sdk_corrections._SDK_WAIT_FOR_RPCS)
    assert ours == ["first", "late", "first", "late", "raised an apply failed"]


# --- issue 19: the fallback keeps deep rollouts working -----------------------------------------


def test_the_fallback_declares_a_chain_deeper_than_the_recursion_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Where the SDK's own walk raised RecursionError (a whole program run this deep under the
    # fallback takes minutes: the SDK's output wait is quadratic; bench/sdk_fallback.py).
    monkeypatch.setattr(sdk_corrections, "sdk_version", lambda: "3.999.0")
    monkeypatch.setattr(pulumi.log, "warn", lambda _message: None)
    try:
        assert sdk_corrections.install() is False
        assert rpc.declare_dependency is sdk_corrections.walk_declare_dependency
        nodes = [Node(i) for i in range(2 * sys.getrecursionlimit())]
        for newer, older in zip(nodes[1:], nodes, strict=False):
            assert rpc.declare_dependency(newer, older) is True
        assert rpc.declare_dependency(nodes[0], nodes[-1]) is False  # the cycle, still seen
    finally:
        monkeypatch.undo()
        sdk_corrections.install()


@settings(max_examples=200, deadline=None)
@given(edges=edges)
def test_the_fallback_walk_answers_as_the_sdk(edges: list[tuple[int, int]]) -> None:
    sdk_nodes = [Node(i) for i in range(12)]
    our_nodes = [Node(i) for i in range(12)]
    for a, b in edges:
        expected = resource_cycle_breaker.declare_dependency(sdk_nodes[a], sdk_nodes[b])
        assert sdk_corrections.walk_declare_dependency(our_nodes[a], our_nodes[b]) is expected
    assert recorded(our_nodes) == recorded(sdk_nodes)


def test_without_the_sdks_helpers_the_last_resort_raises_the_recursion_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limit = sys.getrecursionlimit()
    monkeypatch.delattr(resource_cycle_breaker, "_add_dep")
    monkeypatch.setattr(sdk_corrections, "sdk_version", lambda: "3.999.0")
    monkeypatch.setattr(pulumi.log, "warn", lambda _message: None)
    try:
        assert sdk_corrections.install() is False
        assert rpc.declare_dependency is resource_cycle_breaker.declare_dependency
        assert sys.getrecursionlimit() == sdk_corrections.FALLBACK_RECURSION_LIMIT
        nodes = [Node(i) for i in range(3 * limit)]
        for newer, older in zip(nodes[1:], nodes, strict=False):
            setattr(newer, resource_cycle_breaker._DEPENDENCIES_PROPERTY, {older})
        assert sdk_corrections.sdk_reachable(nodes[-1], nodes[0]) is True  # no RecursionError
    finally:
        sys.setrecursionlimit(limit)
        sdk_corrections.install()
