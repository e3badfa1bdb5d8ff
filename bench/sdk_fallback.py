"""The SDK corrections' fallback on deep chains: `python -m bench.sdk_fallback [--depths ...]`.

On a Pulumi SDK other than the pinned one, `components.sdk_fixes.sdk_corrections.install()`
falls back to the SDK's dependency-cycle check. Prints, per chain depth, the seconds to declare
a chain of that many dependencies (each new resource on the one before, as a rollout lane):

- `walk`: the fallback in use, the SDK's `_reachable` as an explicit stack
  (`walk_declare_dependency`): no recursion, one walk of the chain per edge;
- `sdk+limit`: the last resort, the SDK's own recursive walk with the recursion limit raised to
  `FALLBACK_RECURSION_LIMIT` (only for depths up to `--sdk-max`: it is cubic in the depth);
- one SDK walk of the deepest chain, to show the raised limit holds on this machine's stack.
Figures only, no assertion.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

from pulumi.runtime import resource_cycle_breaker

from components.sdk_fixes import sdk_corrections


class Link:
    def __init__(self, index: int) -> None:
        self.index = index

    def __hash__(self) -> int:
        return self.index


def declare_chain(depth: int, declare: Callable[[Any, Any], bool]) -> float:
    links = [Link(i) for i in range(depth)]
    start = time.perf_counter()
    for newer, older in zip(links[1:], links, strict=False):
        assert declare(newer, older)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sdk_fallback")
    parser.add_argument("--depths", default="500,1000,2000,4000")
    parser.add_argument("--sdk-max", type=int, default=1000)
    args = parser.parse_args()
    sys.setrecursionlimit(max(sys.getrecursionlimit(), sdk_corrections.FALLBACK_RECURSION_LIMIT))
    print(f"Python {platform.python_version()}, limit {sys.getrecursionlimit()}")
    for depth in (int(d) for d in args.depths.split(",")):
        walk = declare_chain(depth, sdk_corrections.walk_declare_dependency)
        sdk = "-"
        if depth <= args.sdk_max:
            sdk = f"{declare_chain(depth, resource_cycle_breaker.declare_dependency):.2f}s"
        print(f"depth {depth:6d}: walk {walk:.2f}s  sdk+limit {sdk}")
    deepest = sdk_corrections.FALLBACK_RECURSION_LIMIT - 100
    links = [Link(i) for i in range(deepest)]
    for newer, older in zip(links[1:], links, strict=False):
        resource_cycle_breaker._add_dep(newer, older)
    start = time.perf_counter()
    found = resource_cycle_breaker._reachable(links[-1], links[0])
    print(f"one SDK walk {deepest} deep: {found} in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
