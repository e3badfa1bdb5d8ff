"""Plan time versus cluster size, as `pulumi up` runs the program: `python -m bench.plan_scale`.

Options: `--sizes 1,10,100,1000`, `--max-unavailable 1,10,100` (default: 10 batches at each
size), `--runs 3` (median), `--program agilio|lanes`, `--no-plan-tool`.

For each size and maxUnavailable, times one program two ways, each against its floor measured
the same way in the same run:

- `up` (the figure that counts): the program under the Pulumi SDK's own code, as `pulumi
  preview`/`up` run it: plain `pulumi.runtime.set_mocks` with a recording monitor, nothing of
  `tools/engine/sdk_speedups.py`, the cyclic garbage collector on. Only what the program installs
  itself (`components/sdk_fixes/sdk_corrections.py`) counts.
- `plan tool`: the mock engine of `./dev.sh plan` and the tests, with its speed-ups.

The floor (`bench/floor_program.py`, shape `commands`) registers as many resources, the node ones
`command.remote.Command`s with a one-word script, and no rollout: the SDK's own cost of the same
remote commands per node. `--program agilio` is `__main__.py` with generated stacks (dev
settings, drain on); `--program lanes` is `bench/lane_program.py`, the lane-shaped rollout
(node i after node i-k) bare. Each measurement runs in a child process, so its peak memory (max
RSS) is its own.
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

from components.names import AGILIO_NODE_TYPE
from tools.engine.mock_driver import REPO_ROOT, STACK_TYPE, run_program, stack_config

FLOOR_PROGRAM = Path(__file__).with_name("floor_program.py")
LANE_PROGRAM = Path(__file__).with_name("lane_program.py")
NODE_TYPES = {AGILIO_NODE_TYPE, "bench:index:Node"}
PROGRAMS = ("agilio", "lanes")


def generated_nodes(count: int) -> list[dict[str, Any]]:
    return [
        {"name": f"agilio-{i:04d}", "host": f"agilio-{i:04d}.bench.example", "pf": "ens1np0"}
        for i in range(1, count + 1)
    ]


def ten_batches(count: int) -> int:
    return max(1, math.ceil(count / 10))


def program_run_args(program: str, count: int, window: int) -> dict[str, Any]:
    if program == "lanes":
        config = {"bench:nodes": str(count), "bench:maxUnavailable": str(window)}
        return {"config": config, "secret_keys": [], "program": LANE_PROGRAM}
    rollout = {"maxUnavailable": window, "drain": True}
    config, secret_keys = stack_config("dev", {"nodes": generated_nodes(count), "rollout": rollout})
    return {"config": config, "secret_keys": secret_keys, "program": REPO_ROOT / "__main__.py"}


def floor_run_args(count: int, per_node: int, fixed: int) -> dict[str, Any]:
    config = {
        "bench:nodes": str(count),
        "bench:perNode": str(per_node),
        "bench:fixed": str(fixed),
        "bench:shape": "commands",
    }
    return {"config": config, "secret_keys": [], "program": FLOOR_PROGRAM}


def resource_shape(run: Any, count: int) -> tuple[int, int]:
    """(resources per node, every other resource but the stack) of one run of the program.

    Node labels and rollout gates grow with the cluster but sit outside the nodes' components:
    they count as "other", so the floor registers exactly as many resources as the program.
    """
    node_urns = {r.urn for r in run.resources if r.type in NODE_TYPES}
    under_nodes = [r for r in run.resources if r.urn in node_urns or r.parent in node_urns]
    other = len(run.resources) - len(under_nodes) - 1  # the stack is in both programs
    return len(under_nodes) // count, other


def measure_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs in a child process: times `runs` runs of one program at one size."""
    if spec["kind"] == "floor":
        run_args = floor_run_args(spec["count"], spec["perNode"], spec["fixed"])
    else:
        run_args = program_run_args(spec["kind"], spec["count"], spec["window"])
    times, cpu_times, resources, shape = [], [], 0, (0, 0)
    for _ in range(spec["runs"]):
        start, cpu_start = time.perf_counter(), time.process_time()
        run = run_program(stack="bench", speedups=spec["planTool"], **run_args)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
        if run.error is not None:
            raise SystemExit(f"{spec['kind']} failed at {spec['count']} nodes: {run.error!r}")
        resources = len(run.resources)
        assert sum(r.type == STACK_TYPE for r in run.resources) == 1
        shape = resource_shape(run, spec["count"])
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "times": times,
        "cpuTimes": cpu_times,
        "resources": resources,
        "peakMiB": peak_kib / 1024,
        "shape": shape,
    }


def measure(**spec: Any) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.plan_scale", "--child", json.dumps(spec)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"measuring {spec} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}"
    )


def pair(program: str, count: int, window: int, runs: int, plan_tool: bool) -> dict[str, Any]:
    """One program and its floor, both measured the same way (up or plan tool)."""
    common = {"count": count, "runs": runs, "planTool": plan_tool}
    measured = measure(kind=program, window=window, **common)
    per_node, fixed = measured["shape"]
    floor = measure(kind="floor", perNode=per_node, fixed=fixed, **common)
    assert floor["resources"] == measured["resources"], (floor["resources"], measured)
    return {
        "resources": measured["resources"],
        "perNode": per_node,
        "seconds": statistics.median(measured["times"]),
        "cpu": statistics.median(measured["cpuTimes"]),
        "floor": statistics.median(floor["times"]),
        "floorCpu": statistics.median(floor["cpuTimes"]),
        "peakMiB": measured["peakMiB"],
    }


def report(
    program: str, sizes: Sequence[int], windows: Sequence[int] | None, runs: int, plan_tool: bool
) -> None:
    print(f"machine: {machine()}, load average {os.getloadavg()[0]:.1f} at start")
    print(f"program: {program}; runs per figure: {runs} (median)")
    print("up = under the SDK's own code as `pulumi up` runs it (only what the program installs);")
    print("tool = the plan tool's mock engine with its speed-ups; each against its floor (as")
    print("many resources, remote commands, no rollout) measured the same way in the same run;")
    print("s = wall seconds, cpu = CPU seconds of the process (the ratios: CPU, robust to load)")
    header = (
        f"{'nodes':>6} {'maxUnav':>7} {'resources':>9} {'up s':>7} {'up cpu':>7} "
        f"{'floor cpu':>9} {'up x floor':>10} {'peak MiB':>8}"
    )
    if plan_tool:
        header += f" {'tool s':>7} {'tool cpu':>8} {'floor cpu':>9} {'tool x floor':>12}"
    print(header)
    for count in sizes:
        for window in windows or [ten_batches(count)]:
            up = pair(program, count, window, runs, plan_tool=False)
            line = (
                f"{count:>6} {window:>7} {up['resources']:>9} {up['seconds']:>7.1f} "
                f"{up['cpu']:>7.1f} {up['floorCpu']:>9.1f} {up['cpu'] / up['floorCpu']:>10.2f} "
                f"{up['peakMiB']:>8.0f}"
            )
            if plan_tool:
                tool = pair(program, count, window, runs, plan_tool=True)
                line += (
                    f" {tool['seconds']:>7.1f} {tool['cpu']:>8.1f} {tool['floorCpu']:>9.1f} "
                    f"{tool['cpu'] / tool['floorCpu']:>12.2f}"
                )
            print(line, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.plan_scale", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sizes", default="1,10,100,1000", help="node counts (comma-separated)")
    parser.add_argument(
        "--max-unavailable",
        help="rollout.maxUnavailable values to sweep at each size (default: 10 batches)",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--program", choices=PROGRAMS, default="agilio")
    parser.add_argument("--no-plan-tool", action="store_true", help="only the `up` figures")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure_child(json.loads(args.child))))
        return 0
    windows = [int(w) for w in args.max_unavailable.split(",")] if args.max_unavailable else None
    sizes = [int(size) for size in args.sizes.split(",")]
    report(args.program, sizes, windows, args.runs, plan_tool=not args.no_plan_tool)
    return 0


if __name__ == "__main__":
    sys.exit(main())
