"""Rehearse `pulumi up` (or `pulumi destroy`) of a stack before running it.

Runs the real program for the stack's config under the mock driver, lets the engine model
(`tools.engine`) decide every step, and executes each step for real: remote commands over SSH on
one emulated Agilio node per stack node, kubectl scripts and Kubernetes resources against a
simulated cluster. Prints each step as it runs, then: finished or failed (which step, why), the
most Agilio nodes cordoned or disrupted at any instant, and the end state against the config.

`--target` rehearses `pulumi up --target` (or `destroy --target`): what is left out keeps its
old state, as the engine keeps it.

A change is rehearsed from the state an earlier rehearsal left (`--from-rehearsal`, the JSON it
wrote), or from an earlier plan (`--baseline`, `python -m tools.plan`'s output directory): the
baseline is first rolled out on fresh nodes and cluster (quietly), then the change runs.

Needs what the node tests need: root, FUSE and sshd (the emulated nodes).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from components.waits import DEFAULT_WAITS
from tools.engine import TargetError
from tools.engine.step_generator import add_target_arguments
from tools.rehearsal.driver import (
    REHEARSAL_WAITS,
    contexts_of,
    open_cluster,
    rehearse,
    run_stack_program,
    seed_cluster,
)
from tools.rehearsal.fleet import Fleet
from tools.rehearsal.report import summary, write_json
from tools.rehearsal.state import StackState


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.rehearse", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--stack", default="dev", help="stack name (default: dev)")
    parser.add_argument("--stack-file", type=Path, help="config file instead of the stack's")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--baseline", type=Path, help="an earlier plan's output directory")
    start.add_argument("--from-rehearsal", type=Path, help="an earlier rehearsal's JSON report")
    parser.add_argument("--destroy", action="store_true", help="rehearse `pulumi destroy`")
    parser.add_argument("--json", type=Path, help="write the JSON report (with the state) here")
    parser.add_argument(
        "--parallel", type=int, default=8, help="pulumi's --parallel (default 8: 4 x 2 CPUs)"
    )
    add_target_arguments(parser, "rehearse")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    baseline = StackState()
    if args.from_rehearsal:
        baseline = StackState.load(args.from_rehearsal)
    elif args.baseline:
        baseline = StackState.from_plan_dir(args.baseline)
    # A plan renders the commands with `pulumi up`'s own wait bounds: against it, the program
    # runs with the same ones, or every node step would differ from the baseline by its bounds.
    waits = DEFAULT_WAITS if args.baseline else REHEARSAL_WAITS
    program = run_stack_program(args.stack, None, None, waits, args.stack_file)
    if args.baseline:
        baseline = baseline.with_secrets_from(program.resources)
    with tempfile.TemporaryDirectory(prefix="rehearsal-") as tmp, Fleet() as fleet:
        cluster = open_cluster(Path(tmp), contexts_of(program.config))
        seed_cluster(cluster, program.config)
        if baseline.resources:
            print(f"rolling out the baseline ({len(baseline.resources)} resources) quietly ...")
            first = rehearse(
                stack=args.stack,
                old=StackState(),
                cluster=cluster,
                fleet=fleet,
                replay=baseline,
                echo=lambda _line: None,
                stack_path=args.stack_file,
                waits=waits,
            )
            if not first.finished:
                print(f"the baseline itself does not roll out: {summary(first)}", file=sys.stderr)
                return 2
            # The checkpoint that rollout left: what the nodes really recorded (their leases).
            baseline = first.outcome.state
        try:
            result = rehearse(
                stack=args.stack,
                old=baseline,
                cluster=cluster,
                fleet=fleet,
                destroy=args.destroy,
                parallel=args.parallel,
                stack_path=args.stack_file,
                waits=waits,
                targets=tuple(args.target),
                target_dependents=args.target_dependents,
            )
        except TargetError as err:
            print(f"rehearse: {err}", file=sys.stderr)
            return 2
        print(summary(result))
        if args.json:
            write_json(result, args.json)
    return 0 if result.finished and result.outcome.peak_disrupted <= result.max_unavailable else 1


if __name__ == "__main__":
    sys.exit(main())
