"""bench/rollout_time.py's pieces: its durations and ideal window (structural, not timed)."""

from __future__ import annotations

import pytest

from bench import rollout_time as rt
from tools import engine as er


def test_durations_are_seeded_and_bounded() -> None:
    draws = [rt.step_duration(f"agilio-{i:04d}-drain", f"agilio-{i:04d}", 0) for i in range(500)]
    assert draws == [
        rt.step_duration(f"agilio-{i:04d}-drain", f"agilio-{i:04d}", 0) for i in range(500)
    ]
    assert max(draws) <= rt.DRAIN_TIMEOUT_S
    assert max(draws) > 4 * sorted(draws)[250], "the drain's tail is long"
    assert rt.step_duration("agilio-0001-drain", "agilio-0001", 1) != draws[0]
    assert rt.step_duration("preflight-gate", None, 0) == 0.5


@pytest.fixture(scope="module")
def graph() -> rt.Graph:
    return rt.rollout_graph(4, 2)


def test_ideal_window_is_a_greedy_window(graph: rt.Graph) -> None:
    durations = {step.id: 1.0 for step in er.all_steps(graph.plan)}
    per_node = sum(1 for node in graph.node_of.values() if node == graph.nodes[0]) - 1
    # 4 nodes, 2 slots, every step 1 s: preflight, then two rounds of a node's other steps.
    assert rt.ideal_window(graph, durations, 2) == 1 + 2 * per_node
    assert rt.ideal_window(graph, durations, 4) == 1 + per_node


def test_the_engine_run_keeps_the_batches_bound(graph: rt.Graph) -> None:
    result = rt.simulate(graph, 2, seed=3, parallel=None)
    assert result.peak == 2
    assert result.makespan >= result.ideal * 0.999
