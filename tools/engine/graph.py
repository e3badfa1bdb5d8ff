"""The engine's dependency graph (`pkg/resource/graph/dependency_graph.go`, `state.go`
GetAllDependencies) and the order algorithms the model runs on it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from tools.engine.resources import Resource, options


def dependencies(resource: Resource) -> set[str]:
    """Every URN the engine's dependency graph links `resource` to
    (`pkg/resource/state.go` GetAllDependencies)."""
    opts = options(resource)
    found = {*resource.get("dependsOn", []), *(opts.get("replaceWith") or [])}
    for urns in (opts.get("propertyDependencies") or {}).values():
        found.update(urns)
    found.update(u for u in (resource.get("parent"), resource.get("provider")) if u)
    if opts.get("deletedWith"):
        found.add(opts["deletedWith"])
    return found - {resource["urn"]}


def register_waits_for(resource: Resource) -> set[str]:
    """What the SDK awaits before it registers `resource` (`prepare_resource`): the parent,
    `depends_on` (components expanded to their children), property dependencies, provider."""
    return (
        dependencies(resource)
        - set(options(resource).get("replaceWith") or [])
        - {options(resource).get("deletedWith")}
    )


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
