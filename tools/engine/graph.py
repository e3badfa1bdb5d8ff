"""The engine's dependency graph (`pkg/resource/graph/dependency_graph.go`, `state.go`
GetAllDependencies), the stable order the mock driver lists registrations in, and the order
algorithms the model runs on them."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol, TypeVar

from tools.engine.resources import Resource, ResourceJSON, as_resource


class Registered(Protocol):
    """What ordering needs of a resource: a registration of the mock driver, or a `Resource`."""

    @property
    def urn(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def parent(self) -> str | None: ...
    @property
    def provider(self) -> str | None: ...
    @property
    def depends_on(self) -> Sequence[str]: ...


R = TypeVar("R", bound=Registered)


def dependencies(resource: Resource | ResourceJSON) -> set[str]:
    """Every URN the engine's dependency graph links `resource` to
    (`pkg/resource/state.go` GetAllDependencies)."""
    resource = as_resource(resource)
    opts = resource.options
    found = {*resource.depends_on, *opts.replace_with}
    for urns in opts.property_dependencies.values():
        found.update(urns)
    found.update(u for u in (resource.parent, resource.provider) if u)
    if opts.deleted_with:
        found.add(opts.deleted_with)
    return found - {resource.urn}


def register_waits_for(resource: Resource | ResourceJSON) -> set[str]:
    """What the SDK awaits before it registers `resource` (`prepare_resource`): the parent,
    `depends_on` (components expanded to their children), property dependencies, provider."""
    resource = as_resource(resource)
    opts = resource.options
    return dependencies(resource) - set(opts.replace_with) - {opts.deleted_with}


def topological(before: Mapping[str, set[str]]) -> list[str]:
    remaining = {k: set(v) for k, v in before.items()}
    users: dict[str, list[str]] = {}
    for step_id, needs in remaining.items():
        for need in needs:
            users.setdefault(need, []).append(step_id)
    ready = [k for k, v in remaining.items() if not v]
    order: list[str] = []
    while ready:
        step_id = ready.pop()
        order.append(step_id)
        for user in users.get(step_id, []):
            remaining[user].discard(step_id)
            if not remaining[user]:
                ready.append(user)
    return order


def max_antichain(successors: Sequence[int]) -> list[int]:
    """A maximum antichain of a transitive order given as successor bitmasks (König)."""
    size = len(successors)
    match_right: dict[int, int] = {}  # right vertex -> left vertex
    match_left: dict[int, int] = {}

    def bits(mask: int) -> Iterable[int]:
        while mask:
            low = mask & -mask
            yield low.bit_length() - 1
            mask ^= low

    def augment(root: int) -> None:
        """One breadth-first search for an augmenting path from `root`; flips it if found."""
        came_from: dict[int, int] = {}  # right vertex -> the left vertex that reached it
        frontier = [root]
        while frontier:
            following: list[int] = []
            for left in frontier:
                for right in bits(successors[left]):
                    if right in came_from:
                        continue
                    came_from[right] = left
                    if right not in match_right:
                        while True:  # flip the path back to the root
                            left = came_from[right]
                            previous = match_left.get(left)
                            match_left[left], match_right[right] = right, left
                            if previous is None:
                                return
                            right = previous
                    following.append(match_right[right])
            frontier = following

    for left in range(size):  # greedy first: most orders here are chains
        for right in bits(successors[left]):
            if right not in match_right:
                match_left[left], match_right[right] = right, left
                break
    for left in range(size):
        if left not in match_left:
            augment(left)
    # König: from unmatched left vertices, alternate (any edge right, matched edge left).
    reached_left = {v for v in range(size) if v not in match_left}
    reached_right: set[int] = set()
    frontier = list(reached_left)
    while frontier:
        left = frontier.pop()
        for right in bits(successors[left]):
            if right not in reached_right:
                reached_right.add(right)
                partner = match_right.get(right)
                if partner is not None and partner not in reached_left:
                    reached_left.add(partner)
                    frontier.append(partner)
    return [v for v in range(size) if v in reached_left and v not in reached_right]


# --- the program's order: the stable order the mock driver lists registrations in ---------------


def program_order(resources: list[R]) -> list[R]:
    """Parents before children; siblings in the order their first resource can start.

    The SDK registers resources from a thread pool, so the order the monitor sees them in varies
    from run to run; this order does not. "Can start" is a topological order of every resource
    (dependencies, provider and parent first; ties broken by name), so the tree reads like the
    rollout: the nodes' preflights, the gate, the batches, then the cluster components.
    """
    by_urn = {r.urn: r for r in resources}
    start = start_order(resources, by_urn)
    children: dict[str | None, list[R]] = {}
    for resource in resources:
        parent = resource.parent if resource.parent in by_urn else None
        children.setdefault(parent, []).append(resource)
    first_start: dict[str, int] = {}

    def earliest(resource: R) -> int:
        # A component registers at once; it "starts" when its first child can.
        if resource.urn not in first_start:
            kids = children.get(resource.urn, [])
            first_start[resource.urn] = (
                min(earliest(c) for c in kids) if kids else start[resource.urn]
            )
        return first_start[resource.urn]

    return _depth_first(children, earliest)


def _depth_first(
    children: Mapping[str | None, list[R]],
    key: Callable[[R], int],
) -> list[R]:
    ordered: list[R] = []

    def visit(parent: str | None) -> None:
        for child in sorted(children.get(parent, []), key=lambda r: (key(r), r.name, r.type)):
            ordered.append(child)
            visit(child.urn)

    visit(None)
    return ordered


def start_order(resources: list[R], by_urn: Mapping[str, R]) -> dict[str, int]:
    """URN -> position in a topological order (Kahn's, ties by name); cycles go last."""
    needs: dict[str, set[str]] = {}
    for resource in resources:
        # `provider` is already the provider's URN (the reference's "::<id>" cut off on record).
        before = {*resource.depends_on, resource.parent or "", resource.provider or ""}
        needs[resource.urn] = {urn for urn in before if urn in by_urn} - {resource.urn}
    unblocks: dict[str, list[str]] = {}
    for urn, before in needs.items():
        for need in before:
            unblocks.setdefault(need, []).append(urn)
    ready = [(by_urn[u].name, by_urn[u].type, u) for u, before in needs.items() if not before]
    heapq.heapify(ready)
    order: dict[str, int] = {}
    while ready:
        _, _, urn = heapq.heappop(ready)
        order[urn] = len(order)
        for waiting in unblocks.get(urn, []):
            needs[waiting].discard(urn)
            if not needs[waiting]:
                heapq.heappush(ready, (by_urn[waiting].name, by_urn[waiting].type, waiting))
    for urn in sorted(set(by_urn) - set(order), key=lambda u: by_urn[u].name):
        order[urn] = len(order)  # part of a cycle: still listed, after everything else
    return order
