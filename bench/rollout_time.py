"""Rollout time, simulated: `python -m bench.rollout_time [--sizes 10,100,1000] [--runs 3]`.

For each size and `rollout.maxUnavailable`, generates a stack of that many Agilio nodes (the dev
stack's settings, drain on), runs the real program under the mock engine for its real dependency
graph, and lets `tools.engine.run_engine` run a first rollout of it the way the Pulumi
engine does: every step starts as soon as its dependencies are done (`--parallel`: at most that
many at once; default unbounded, `pulumi up --parallel 2147483647`; the CLI's own default is 4 x
the CPUs of the machine running it, `defaultParallel` in pulumi's up.go).

Step durations, seeded (`--seed`; each step's draw depends only on the seed and its name):
- `<node>-drain`: lognormal, median 60 s, sigma 0.9 (p99 about 8 min), cut at 600 s, the
  drain's `--timeout` (a longer drain fails the step);
- `<node>-vfs` (it waits for the nfp reload the driver step started, then sets the VFs):
  lognormal, median 40 s, sigma 0.6, cut at 300 s (PF_WAIT_SECONDS);
- `<node>-firmware` (link and initramfs rebuild): uniform 5 to 20 s;
- every other node step (preflight, reload-wait, driver, kubectl steps): uniform 1 to 3 s;
- gates and the cluster layer: 0.5 s each.
These are assumptions, not measurements: change `step_duration` to try others.

Prints, per size and bound: the rollout's makespan (until every node's last step is done), the
ideal window's (every preflight, then a greedy window: the next node starts whenever one of the
`maxUnavailable` slots frees, config order, each node taking the sum of its steps after the
preflight), their ratio (median over `--runs` seeds) and the peak number of nodes disrupted at
once (from a node's drain start to its uncordon end) in the engine's run.
"""

from __future__ import annotations

import argparse
import heapq
import math
import platform
import random
import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from components.config import ConfigError
from components.names import step_of
from tools import engine as er
from tools.engine.mock_driver import run_program, stack_config

DRAIN_TIMEOUT_S = 600.0
PF_WAIT_S = 300.0


def generated_nodes(count: int) -> list[dict[str, str]]:
    return [
        {"name": f"agilio-{i:04d}", "host": f"agilio-{i:04d}.bench.example", "pf": "ens1np0"}
        for i in range(1, count + 1)
    ]


def step_duration(name: str, node: str | None, seed: int) -> float:
    """Seconds one step takes (see the module docstring for the distributions)."""
    rng = random.Random(f"{seed}:{name}")
    step = step_of(name, node) if node else None
    if step == "drain":
        return min(rng.lognormvariate(math.log(60.0), 0.9), DRAIN_TIMEOUT_S)
    if step == "vfs":
        return min(rng.lognormvariate(math.log(40.0), 0.6), PF_WAIT_S)
    if step == "firmware":
        return rng.uniform(5.0, 20.0)
    if step is not None:
        return rng.uniform(1.0, 3.0)
    return 0.5


@dataclass(frozen=True)
class Graph:
    """The first rollout of one generated stack: the engine's plan and each step's node."""

    plan: er.EnginePlan
    node_of: Mapping[str, str]  # step id -> node
    commands: Mapping[str, er.NodeCommand]
    nodes: Sequence[str]


def rollout_graph(count: int, max_unavailable: int) -> Graph:
    config, secret_keys = stack_config(
        "dev",
        {
            "nodes": generated_nodes(count),
            "rollout": {"maxUnavailable": max_unavailable, "drain": True},
        },
    )
    run = run_program(config, stack="dev", secret_keys=secret_keys)
    if run.error is not None:
        raise run.error
    resources = [r.as_json() for r in run.resources]
    plan = er.plan_engine([], resources)
    nodes = er.node_names(resources)
    parents = {r["urn"]: r["name"] for r in resources if r["type"] == er.NODE_COMPONENT}
    node_of = {}
    for step in er.all_steps(plan):
        node = er.node_of(step.resource, nodes, parents)
        if node is not None:
            node_of[step.id] = node
    return Graph(plan, node_of, er.node_commands(plan, [], resources), nodes)


@dataclass(frozen=True)
class Result:
    makespan: float
    ideal: float
    peak: int


def simulate(graph: Graph, max_unavailable: int, seed: int, parallel: int | None) -> Result:
    durations = {
        step.id: step_duration(step.name, graph.node_of.get(step.id), seed)
        for step in er.all_steps(graph.plan)
    }
    timings = er.run_engine(graph.plan, lambda step: durations[step.id], parallel)
    makespan = max(timings[step_id].end for step_id in graph.node_of)
    peak = er.peak_disrupted(er.disruptions(timings, graph.commands))
    return Result(makespan, ideal_window(graph, durations, max_unavailable), peak)


def ideal_window(graph: Graph, durations: Mapping[str, float], slots: int) -> float:
    """Every preflight at once, then a greedy window of `slots` over the nodes in config order,
    each node taking the sum of its other steps."""
    preflight = 0.0
    work = dict.fromkeys(graph.nodes, 0.0)
    for step_id, node in graph.node_of.items():
        if step_id.endswith(f"::{node}-preflight"):
            preflight = max(preflight, durations[step_id])
        else:
            work[node] += durations[step_id]
    free = [preflight] * slots
    end = preflight
    for node in graph.nodes:
        start = heapq.heappop(free)
        heapq.heappush(free, start + work[node])
        end = max(end, start + work[node])
    return end


def _parse_ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.rollout_time", description=__doc__)
    parser.add_argument("--sizes", type=_parse_ints, default=[10, 100, 1000])
    parser.add_argument("--max-unavailable", type=_parse_ints, default=[1, 5, 10, 50])
    parser.add_argument("--runs", type=int, default=3, help="seeds per cell (median)")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument(
        "--parallel", type=int, default=None, help="engine workers (default: unbounded)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    parallel = "unbounded" if args.parallel is None else str(args.parallel)
    print(
        f"# {platform.system()} {platform.machine()}, Python {platform.python_version()}; "
        f"engine parallelism {parallel}; {args.runs} seeds from {args.seed}; "
        "durations: bench/rollout_time.py step_duration"
    )
    header = (
        f"{'nodes':>6} {'maxUnav':>7} {'engine min':>10} {'ideal min':>9} {'x ideal':>8} "
        f"{'peak out':>8}"
    )
    print(header)
    for count in args.sizes:
        for bound in args.max_unavailable:
            if bound > count:
                continue
            print(_row(count, bound, args), flush=True)
    return 0


def _row(count: int, bound: int, args: argparse.Namespace) -> str:
    try:
        graph = rollout_graph(count, bound)
    except ConfigError as refusal:
        reason = str(refusal).splitlines()[-1].strip()
        return f"{count:>6} {bound:>7}   refused by the config check: {reason[:90]}"
    results = [
        simulate(graph, bound, seed, args.parallel)
        for seed in range(args.seed, args.seed + args.runs)
    ]
    makespan = statistics.median(r.makespan for r in results)
    ideal = statistics.median(r.ideal for r in results)
    ratio = statistics.median(r.makespan / r.ideal for r in results)
    peak = max(r.peak for r in results)
    return (
        f"{count:>6} {bound:>7} {makespan / 60:>10.1f} {ideal / 60:>9.1f} {ratio:>8.2f} {peak:>8}"
    )


if __name__ == "__main__":
    sys.exit(main())
