"""The rollout's shape under Pulumi mocks: the preflight gate, the lanes, and the disruption
bound under every schedule the engine may run, for `up` and for `destroy`.

The engine starts a step once every resource it depends on is done (up), and deletes a resource
once every resource that depends on it is deleted (destroy); any order it picks respects those
edges and nothing more. So "at most k nodes disrupted at any point of any schedule" is a fact of
the graph: the largest set of nodes none of which must finish before another starts (the width of
the "finishes before" order) is at most k.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.names import AGILIO_NODE_TYPE as TYPE
from components.node.rollout import lane_predecessor
from tools.engine.mock_driver import ProgramRun, run_stack

# A node is disrupted from the start of its drain to the end of its uncordon (up), and from the
# start of its drain-before-undo's delete (the drain) to the end of its uncordon-after-undo's
# delete (destroy: the uncordon after the last of its steps is undone).
UP_FIRST, UP_LAST = "drain", "uncordon"
UNDO_FIRST, UNDO_LAST = "drain-before-undo", "uncordon-after-undo"
LANE_FIRST = "uncordon-after-undo"  # the node's first step: where the lane's edge lands


def nodes(count: int) -> list[dict[str, Any]]:
    return [{"name": f"w{i}", "host": f"w{i}.lab.example", "pf": "ens1np0"} for i in range(count)]


def run(count: int, lanes: int, drain: bool = True) -> ProgramRun:
    result = run_stack(
        "dev", {"nodes": nodes(count), "rollout": {"maxUnavailable": lanes, "drain": drain}}
    )
    assert result.error is None, result.error
    return result


def dependencies(result: ProgramRun) -> dict[str, set[str]]:
    """Resource name -> the names it waits for: its dependencies, and its parent (a child's
    registration waits for its parent's, which waits for the parent's dependencies; a parent
    is deleted after its children)."""
    return {
        r.name: {
            urn.rsplit("::", 1)[-1] for urn in [*r.depends_on, *([r.parent] if r.parent else [])]
        }
        - {r.name}
        for r in result.resources
    }


def reach(edges: Mapping[str, set[str]]) -> Callable[[str], frozenset[str]]:
    @cache
    def reachable(name: str) -> frozenset[str]:
        found = set(edges.get(name, ()))
        for other in edges.get(name, ()):
            found |= reachable(other)
        return frozenset(found)

    return reachable


def reversed_edges(edges: Mapping[str, set[str]]) -> dict[str, set[str]]:
    dependents: dict[str, set[str]] = {name: set() for name in edges}
    for name, needs in edges.items():
        for need in needs:
            dependents.setdefault(need, set()).add(name)
    return dependents


def width(items: list[str], before: Callable[[str, str], bool]) -> int:
    """The largest antichain of a partial order (Dilworth: items minus a maximum matching of
    the comparability graph, by augmenting paths)."""
    match: dict[str, str] = {}

    def augment(a: str, seen: set[str]) -> bool:
        for b in items:
            if b not in seen and before(a, b):
                seen.add(b)
                if b not in match or augment(match[b], seen):
                    match[b] = a
                    return True
        return False

    return len(items) - sum(augment(a, set()) for a in items)


def node_names(result: ProgramRun) -> list[str]:
    return [r.name for r in result.by_type(TYPE)]


def up_width(result: ProgramRun) -> int:
    """At most this many nodes are between drain and uncordon at once, in any schedule of up:
    a finishes before b starts when b's drain depends, transitively, on a's uncordon."""
    needs = reach(dependencies(result))
    return width(
        node_names(result),
        lambda a, b: f"{a}-{UP_LAST}" in needs(f"{b}-{UP_FIRST}"),
    )


def destroy_width(result: ProgramRun) -> int:
    """The same for destroy: a's undo is done before b's starts when b's first undo waits,
    transitively, for the delete of a's last step to be undone (deletes wait for dependents)."""
    waits_for = reach(reversed_edges(dependencies(result)))
    return width(
        node_names(result),
        lambda a, b: f"{a}-{UNDO_LAST}" in waits_for(f"{b}-{UNDO_FIRST}"),
    )


@pytest.mark.parametrize(("count", "lanes"), [(7, 1), (7, 2), (7, 3), (10, 4), (4, 4), (3, 8)])
def test_at_most_max_unavailable_nodes_are_disrupted_in_any_schedule(
    count: int, lanes: int
) -> None:
    result = run(count, lanes)
    # Never more than the bound, and the bound is used: k nodes do roll out side by side.
    assert up_width(result) == min(lanes, count)
    assert destroy_width(result) == min(lanes, count)


@settings(max_examples=12, deadline=None)
@given(count=st.integers(1, 9), lanes=st.integers(1, 5), drain=st.booleans())
def test_the_bound_holds_for_any_size_and_drain(count: int, lanes: int, drain: bool) -> None:
    result = run(count, lanes, drain)
    assert up_width(result) == min(lanes, count)
    assert destroy_width(result) == min(lanes, count)


def test_a_node_starts_when_the_node_before_it_in_its_lane_is_done() -> None:
    # No barrier: w3 waits for w0 only (not for w1 and w2, the rest of a "batch").
    deps = dependencies(run(7, 3))
    assert {name: deps[f"{name}-{LANE_FIRST}"] - {name} for name in ("w0", "w2", "w3", "w6")} == {
        "w0": {"preflight-gate"},
        "w2": {"preflight-gate"},
        "w3": {"preflight-gate", "w0-uncordon"},
        "w6": {"preflight-gate", "w3-uncordon"},
    }
    assert [lane_predecessor(i, 3) for i in range(5)] == [None, None, None, 0, 1]


def test_every_change_waits_for_every_preflight() -> None:
    result = run(5, 2)
    needs = reach(dependencies(result))
    preflights = {f"{node}-preflight" for node in node_names(result)}
    assert dependencies(result)["preflight-gate"] >= preflights
    # Every resource of the stack but the checks the gate itself waits for (read-only) and the
    # stack's plumbing.
    plumbing = {"preflight-gate", *needs("preflight-gate")}
    for resource in result.resources:
        name = resource.name
        skip = not resource.custom or resource.type.startswith("pulumi:")  # components, plumbing
        if skip or name in plumbing | preflights:
            continue
        assert preflights <= needs(name), f"{name} can start before every preflight"


def test_destroy_undoes_the_last_node_of_a_lane_first() -> None:
    result = run(4, 2)
    waits_for = reach(reversed_edges(dependencies(result)))
    # w2 follows w0 in lane 0: destroy undoes and uncordons w2 before it drains w0.
    assert "w2-uncordon-after-undo" in waits_for("w0-drain-before-undo")
    assert "w2-reload-wait" in waits_for("w2-uncordon-after-undo")  # after the card is back
    assert "w0-uncordon-after-undo" not in waits_for("w2-drain-before-undo")
    assert "w3-uncordon-after-undo" not in waits_for("w0-drain-before-undo")  # another lane
