"""Plan time versus cluster size: `python -m bench.plan_scale [--sizes 1,10,100,1000] [--runs 3]`.

For each size, generates a stack config of that many Agilio nodes (the dev stack's settings,
rolled out in 10 batches with drain), runs the real program under the Pulumi mock engine several
times (median) and, the same way, two floors from `bench/floor_program.py` with the same number
of resources per node and in the cluster layer and no logic: `bare` (one-input custom resources:
the SDK's own cost, which no program can beat) and `commands` (the node resources are
`command.remote.Command`s, whose many output properties the SDK pays for per resource). Each
measurement runs in a child process so its peak memory (max RSS) is its own.

Prints resources per node, total resources, program time, time per node, peak memory, the
program's time as a ratio to each floor, and time(1000)/time(10).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tools.mock_engine import REPO_ROOT, STACK_TYPE, run_program, stack_config

FLOOR_PROGRAM = Path(__file__).with_name("floor_program.py")
NODE_TYPE = "agilio-offload:index:AgilioNode"


def generated_nodes(count: int) -> list[dict[str, Any]]:
    return [
        {"name": f"agilio-{i:04d}", "host": f"agilio-{i:04d}.bench.example", "pf": "ens1np0"}
        for i in range(1, count + 1)
    ]


def max_unavailable(count: int) -> int:
    """A rollout of 10 batches at every size (config allows at most 100 batches)."""
    return max(1, math.ceil(count / 10))


def program_config(count: int) -> tuple[dict[str, str], list[str]]:
    rollout = {"maxUnavailable": max_unavailable(count), "drain": True}
    return stack_config("dev", {"nodes": generated_nodes(count), "rollout": rollout})


def resource_shape(run: Any, count: int) -> tuple[int, int]:
    """(resources per node, every other resource but the stack) of one run of the program.

    Node labels and rollout gates grow with the cluster but sit outside the nodes' components:
    they count as "other", so each floor registers exactly as many resources as the program.
    """
    node_urns = {r.urn for r in run.resources if r.type == NODE_TYPE}
    under_nodes = [r for r in run.resources if r.urn in node_urns or r.parent in node_urns]
    other = len(run.resources) - len(under_nodes) - 1  # the stack is in both programs
    return len(under_nodes) // count, other


def measure_child(kind: str, count: int, runs: int, per_node: int, fixed: int) -> dict[str, Any]:
    """Runs in a child process: times `runs` runs of one program at one size."""
    if kind == "program":
        config, secret_keys = program_config(count)
        program = REPO_ROOT / "__main__.py"
    else:
        config = {
            "bench:nodes": str(count),
            "bench:perNode": str(per_node),
            "bench:fixed": str(fixed),
            "bench:shape": kind.removeprefix("floor-"),
        }
        secret_keys, program = [], FLOOR_PROGRAM
    times, resources = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        run = run_program(config, stack="bench", secret_keys=secret_keys, program=program)
        times.append(time.perf_counter() - start)
        if run.error is not None:
            raise SystemExit(f"{kind} failed at {count} nodes: {run.error}")
        resources = len(run.resources)
        assert sum(r.type == STACK_TYPE for r in run.resources) == 1
        shape = resource_shape(run, count) if kind == "program" else (per_node, fixed)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"times": times, "resources": resources, "peakMiB": peak_kib / 1024, "shape": shape}


def measure(kind: str, count: int, runs: int, per_node: int, fixed: int) -> dict[str, Any]:
    arguments = [kind, str(count), str(runs), str(per_node), str(fixed)]
    result = subprocess.run(
        [sys.executable, "-m", "bench.plan_scale", "--child", *arguments],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"measuring {kind} at {count} nodes failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}"
    )


def report(sizes: Sequence[int], runs: int) -> dict[int, float]:
    print(f"machine: {machine()}")
    print(f"runs per size: {runs} (median); floors register as many resources as the program")
    header = (
        f"{'nodes':>6} {'resources':>9} {'res/node':>8} {'program s':>10} {'ms/node':>8} "
        f"{'peak MiB':>9} {'floor s':>8} {'floor ms/node':>13} {'x floor':>8} {'cmd floor s':>11} "
        f"{'x cmd floor':>11}"
    )
    print(header)
    medians: dict[int, float] = {}
    for count in sizes:
        program = measure("program", count, runs, 0, 0)
        per_node, fixed = program["shape"]
        seconds = statistics.median(program["times"])
        floor = statistics.median(measure("floor-bare", count, runs, per_node, fixed)["times"])
        typed = statistics.median(measure("floor-commands", count, runs, per_node, fixed)["times"])
        medians[count] = seconds
        print(
            f"{count:>6} {program['resources']:>9} {per_node:>8} {seconds:>10.3f} "
            f"{1000 * seconds / count:>8.2f} {program['peakMiB']:>9.0f} {floor:>8.3f} "
            f"{1000 * floor / count:>13.2f} {seconds / floor:>8.2f} {typed:>11.3f} "
            f"{seconds / typed:>11.2f}"
        )
    if 10 in medians and 1000 in medians:
        print(f"time(1000)/time(10) = {medians[1000] / medians[10]:.1f} (linear would be 100)")
    return medians


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.plan_scale", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sizes", default="1,10,100,1000", help="node counts (comma-separated)")
    parser.add_argument("--runs", type=int, default=3, help="runs per size (median)")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, count, runs, per_node, fixed = args.child
        print(json.dumps(measure_child(kind, int(count), int(runs), int(per_node), int(fixed))))
        return 0
    report([int(size) for size in args.sizes.split(",")], args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
