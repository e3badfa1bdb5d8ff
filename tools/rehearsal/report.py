"""The rehearsal's report: the summary a user reads, the per-scenario figures, and the JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tools.rehearsal.driver import Result


def figures(result: Result) -> dict[str, Any]:
    """steps (provider calls run), waves (delete waves), peak disrupted, end state."""
    outcome = result.outcome
    return {
        "finished": outcome.finished,
        "steps": result.changes,
        "waves": result.waves,
        "peakDisrupted": outcome.peak_disrupted,
        "plannedPeak": result.planned_peak,
        "maxUnavailable": result.max_unavailable,
        "endState": "= config" if not result.end_state else f"{len(result.end_state)} differences",
    }


def summary(result: Result) -> str:
    outcome = result.outcome
    lines = []
    if outcome.finished:
        lines.append(f"finished: {result.changes} steps, {result.waves} delete waves")
    else:
        why = outcome.failure.strip().splitlines()
        lines.append(f"FAILED at {outcome.failed_step}: {' | '.join(why[-6:])}")
    bound = result.max_unavailable
    verdict = "within" if outcome.peak_disrupted <= bound else "OVER"
    lines.append(
        f"most Agilio nodes cordoned or disrupted at once: {outcome.peak_disrupted} "
        f"({', '.join(outcome.peak_nodes) or 'none'}); rollout.maxUnavailable {bound}: {verdict}"
    )
    if result.planned_peak is not None:
        lines.append(
            f"the plan's nodes out at once (python -m tools.plan, any order): {result.planned_peak}"
        )
    if result.end_state:
        lines.append("end state differs from the config:")
        lines += [f"  - {problem}" for problem in result.end_state]
    else:
        lines.append("end state = config")
    return "\n".join(lines)


def as_json(result: Result) -> dict[str, Any]:
    outcome = result.outcome
    return {
        "figures": figures(result),
        "failedStep": outcome.failed_step,
        "failure": outcome.failure,
        "peakNodes": outcome.peak_nodes,
        "disruptedTimeline": outcome.disrupted_timeline,
        "endState": result.end_state,
        "decisions": [
            {"name": d.name, "type": d.type, "op": str(d.op), "because": d.because}
            for d in outcome.plan.decisions
        ],
        "steps": [record.as_json() for record in outcome.steps if not record.skipped],
        "state": outcome.state.as_json(),
    }


def write_json(result: Result, path: Path) -> None:
    path.write_text(json.dumps(as_json(result), indent=1, sort_keys=True) + "\n")
