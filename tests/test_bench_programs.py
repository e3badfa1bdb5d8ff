"""The benchmark programs have the shapes the README's figures claim."""

from __future__ import annotations

from bench.engine_walks import engine_costs
from bench.plan_scale import program_run_args, resource_shape
from tools.engine.mock_driver import Registration, run_program


def test_the_lane_program_puts_node_i_after_node_i_minus_k() -> None:
    run = run_program(stack="bench", **program_run_args("lanes", 5, 2))
    assert run.error is None, run.error
    by_name = {r.name: r for r in run.resources}
    gate = by_name["preflight-gate"]
    assert sorted(gate.depends_on) == sorted(by_name[f"node-{i}-preflight"].urn for i in range(5))
    assert by_name["node-1-drain"].depends_on == [gate.urn]
    assert sorted(by_name["node-2-drain"].depends_on) == sorted(
        [gate.urn, by_name["node-0-uncordon"].urn]
    )
    assert by_name["node-4-uncordon"].depends_on == [by_name["node-4-vfs-advertised"].urn]
    assert resource_shape(run, 5) == (11, 1)  # component, preflight, nine steps; the gate


def registration(name: str, depends_on: list[str], parent: str | None = None) -> Registration:
    return Registration(
        urn=name,
        type="test:index:Thing",
        name=name,
        parent=parent,
        depends_on=depends_on,
        inputs={},
        custom=True,
        provider=None,
        options={},
    )


def test_engine_walk_counts_on_a_small_graph() -> None:
    # d -> b -> a, d -> c -> a: two dependency paths from d to a, three delete rounds.
    graph = [
        registration("a", []),
        registration("b", ["a"]),
        registration("c", ["a"]),
        registration("d", ["b", "c"]),
    ]
    costs = engine_costs(graph)
    assert costs["rounds"] == 3
    assert costs["paths"] == 5  # d, d-b, d-b-a, d-c, d-c-a: markAsDependency calls from d
    # Heights 1, 2, 2, 3 times snapshot positions 0, 1, 2, 3.
    assert costs["scans"] == 0 + 2 + 4 + 9
