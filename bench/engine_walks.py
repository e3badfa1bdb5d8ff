"""The Go engine's dependency walks on the plan's graph: `python -m bench.engine_walks`.

Options: `--program agilio|lanes`, `--nodes 1000`, `--max-unavailable 1,10,100`.

Counts (does not time) the work two functions of pulumi/pulumi would do on this program's
dependency graph, read from their source (README "Scale", Go engine):

- `stepGenerator.ScheduleDeletes` (pkg/resource/deploy/step_generator.go), for `pulumi
  destroy`: in every round it calls `DependencyGraph.DependenciesOf` (pkg/resource/graph/
  dependency_graph.go) for every resource still condemned, and `DependenciesOf` scans every
  resource before it in the snapshot. A resource is examined in as many rounds as its height
  (1 + the highest of its dependencies, parent and provider), so the scans cost
  sum(height x snapshot index); the rounds are the longest chain.
- `TransitiveDependenciesOf` -> `markAsDependency` (same file), called by the deployment
  executor after a failed step of a delete antichain: it recurses into every dependency and the
  provider without skipping those already marked, so it makes one call per dependency path.
  Printed: the most paths from any resource (a lower bound of the calls: the parent walk adds
  more).

The snapshot order is a topological order of the registrations (dependencies, parent and
provider first), as the engine writes it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bench.plan_scale import PROGRAMS, program_run_args
from tools.engine.graph import start_order
from tools.engine.mock_driver import Registration, run_program


def engine_costs(resources: list[Registration]) -> dict[str, int]:
    by_urn = {r.urn: r for r in resources}
    position = start_order(resources, by_urn)
    snapshot = sorted(resources, key=lambda r: position[r.urn])
    height: dict[str, int] = {}
    paths: dict[str, int] = {}
    for r in snapshot:
        below = {u for u in [*r.depends_on, r.provider or ""] if u in by_urn}
        height[r.urn] = 1 + max(
            (height[u] for u in {*below, r.parent or ""} if u in height), default=0
        )
        paths[r.urn] = 1 + sum(paths[u] for u in below)
    scans = sum(height[r.urn] * position[r.urn] for r in snapshot)
    return {
        "resources": len(resources),
        "rounds": max(height.values()),
        "scans": scans,
        "paths": max(paths.values()),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.engine_walks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--program", choices=PROGRAMS, default="agilio")
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--max-unavailable", default="1,10,100")
    args = parser.parse_args(argv)
    print(f"program: {args.program}, {args.nodes} nodes")
    print(
        f"{'maxUnav':>7} {'resources':>9} {'destroy rounds':>14} "
        f"{'ScheduleDeletes scans':>21} {'markAsDependency paths':>22}"
    )
    for window in (int(w) for w in args.max_unavailable.split(",")):
        run = run_program(stack="bench", **program_run_args(args.program, args.nodes, window))
        if run.error is not None:
            raise SystemExit(f"the program failed: {run.error}")
        cost = engine_costs(run.resources)
        print(
            f"{window:>7} {cost['resources']:>9} {cost['rounds']:>14} {cost['scans']:>21.2e} "
            f"{cost['paths']:>22.2e}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
