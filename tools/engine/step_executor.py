"""Scheduling: when each step starts, and the delete waves (pulumi's
`pkg/resource/deploy/step_executor.go`, `deployment_executor.go` and `ScheduleDeletes`, read at
pulumi v3.259.0).

- **Creates, updates, replacements run as soon as their dependencies are done.** The SDK
  registers a resource only once the URNs of its parent, `depends_on`, property dependencies
  and provider are resolved (`pulumi/runtime/resource.py` `prepare_resource`,
  `rpc._add_dependency`), and the engine's `resmon.RegisterResource` (`source_eval.go`) answers
  only once the resource's steps are done (it blocks on `step.done`, which the step's
  completion signals: `CreateStep.Apply` returns a `complete` func). There are no waves in
  this phase: `deploymentExecutor.handleSingleEvent` hands each resource's steps to
  `stepExecutor.ExecuteSerial` as one chain the moment it is registered (`run_engine`).
- **Parallelism is bounded.** `--parallel` defaults to `defaultParallel()`
  (`pkg/cmd/pulumi/operations/up.go`): `PULUMI_PARALLEL`, else 4 x GOMAXPROCS (the CPUs of the
  machine running `pulumi`). Only `Parallel == MaxInt32` is unbounded
  (`Options.InfiniteParallelism`, `deployment.go`). A worker runs a whole chain
  (`stepExecutor.worker`); while every worker is busy the next chain waits.
- **Deletes, in waves** (`stepGenerator.ScheduleDeletes`): after the program has finished,
  every resource to delete (gone from the program, or replaced create-before-delete) is
  "condemned"; a wave is every condemned resource none of whose *direct* dependencies
  (`DependencyGraph.DependenciesOf`: `dependsOn`, property dependencies, parent, provider,
  `deletedWith`, `replaceWith`) is still condemned; the waves are then run in reverse, each
  wave in parallel, each waiting for the one before (`deploymentExecutor.performPostSteps`,
  `stepExecutor.ExecuteParallel`). An order that goes through resources that are *not* being
  deleted is lost: deletes whose only link is a kept gate run in one wave.
- **A failed step stops new steps everywhere** (`stepExecutor.executeChain` ->
  `cancelDueToError` -> `se.cancel()`): no chain or delete wave starts after it; steps already
  running finish. With `--continue-on-error` the engine goes on and only skips what depends on
  the failure (`deploymentExecutor.handleSingleEvent`, and the `erroredDeps` filter of
  `performPostSteps`).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tools.engine.graph import dependencies
from tools.engine.resources import Resource, ResourceJSON, as_resources
from tools.engine.step import EnginePlan, Step


def schedule_deletes(
    condemned: Sequence[Step], graph: Sequence[Resource | ResourceJSON]
) -> list[list[Step]]:
    """`ScheduleDeletes`: the condemned resources in waves, in the order the waves run.

    Repeatedly takes every condemned resource none of whose direct dependencies in `graph` (the
    old snapshot: `getDepgraphForScheduling`) is still condemned, then reverses the list, so a
    resource is deleted in a wave after everything that depends on it *directly or through other
    condemned resources*. Each wave runs in parallel; the next starts when it is done.
    """
    graph = as_resources(graph)
    by_urn = {r.urn: r for r in graph}
    remaining = {step.resource.urn: step for step in condemned}
    needs = {
        urn: dependencies(by_urn.get(urn, step.resource)) & remaining.keys()
        for urn, step in remaining.items()
    }
    needed_by: dict[str, list[str]] = {}
    for urn, deps in needs.items():
        for dep in deps:
            needed_by.setdefault(dep, []).append(urn)
    order = {r.urn: index for index, r in enumerate(graph)}
    waiting = {urn: len(deps) for urn, deps in needs.items()}
    free = [urn for urn, count in waiting.items() if count == 0]
    antichains: list[list[Step]] = []
    while remaining:
        if not free:  # a cycle cannot come out of a valid snapshot; keep the rest together
            free = list(remaining)
        antichains.append([remaining[u] for u in sorted(free, key=lambda u: (order.get(u, 0), u))])
        following = []
        for urn in free:
            del remaining[urn]
            for user in needed_by.get(urn, []):
                waiting[user] -= 1
                if waiting[user] == 0 and user in remaining:
                    following.append(user)
        free = following
    antichains.reverse()
    return antichains


# --- running it: the engine's rule for when a step starts -----------------------------------------


@dataclass(frozen=True)
class Timing:
    start: float
    end: float


def run_engine(
    plan: EnginePlan,
    duration: Callable[[Step], float],
    parallel: int | None = None,
) -> dict[str, Timing]:
    """When each step of `plan` starts and ends, as the engine runs it.

    Register phase: a resource's chain starts once every resource it waits for has finished its
    chain (the SDK registers it then; `ExecuteSerial` runs it at once), its steps one after the
    other. `parallel` workers at most (None: unbounded); a chain that finds every worker busy
    waits for the first to free, in the order chains became ready. Delete phase, after every
    chain: `ScheduleDeletes`' waves one after the other, each in parallel (`ExecuteParallel`).
    """
    timings: dict[str, Timing] = {}
    finished = _run_register_phase(plan, duration, parallel, timings)
    clock = max(finished.values(), default=0.0)
    for wave in plan.delete_waves:
        clock = _run_wave(wave, clock, duration, parallel, timings)
    return timings


def _run_register_phase(
    plan: EnginePlan,
    duration: Callable[[Step], float],
    parallel: int | None,
    timings: dict[str, Timing],
) -> dict[str, float]:
    position = {urn: index for index, urn in enumerate(plan.chains)}
    waiting = {urn: set(needs) for urn, needs in plan.waits_for.items()}
    unblocks: dict[str, list[str]] = {}
    for urn, needs in waiting.items():
        for need in needs:
            unblocks.setdefault(need, []).append(urn)
    ready: list[tuple[float, int, str]] = [
        (0.0, position[urn], urn) for urn, needs in waiting.items() if not needs
    ]
    heapq.heapify(ready)
    workers: list[float] = []  # when each busy worker frees
    finished: dict[str, float] = {}
    while ready:
        ready_at, _, urn = heapq.heappop(ready)
        start = ready_at
        if parallel is not None and len(workers) >= parallel:
            start = max(start, heapq.heappop(workers))
        end = start
        for step in plan.chains[urn]:
            took = duration(step)
            timings[step.id] = Timing(end, end + took)
            end += took
        if parallel is not None:
            heapq.heappush(workers, end)
        finished[urn] = end
        for waiter in unblocks.get(urn, []):
            waiting[waiter].discard(urn)
            if not waiting[waiter]:
                ready_time = max(finished[n] for n in plan.waits_for[waiter])
                heapq.heappush(ready, (ready_time, position[waiter], waiter))
    return finished


def _run_wave(
    wave: Sequence[Step],
    clock: float,
    duration: Callable[[Step], float],
    parallel: int | None,
    timings: dict[str, Timing],
) -> float:
    workers = [clock] * (len(wave) if parallel is None else min(parallel, len(wave)))
    heapq.heapify(workers)
    end_of_wave = clock
    for step in wave:
        start = heapq.heappop(workers)
        end = start + duration(step)
        timings[step.id] = Timing(start, end)
        heapq.heappush(workers, end)
        end_of_wave = max(end_of_wave, end)
    return end_of_wave


def unit_duration(step: Step) -> float:
    """One time unit per provider call: the waves a reader counts."""
    return 1.0 if step.calls_provider else 0.0


def all_steps(plan: EnginePlan) -> list[Step]:
    return [
        *(step for chain in plan.chains.values() for step in chain),
        *(step for wave in plan.delete_waves for step in wave),
    ]


# --- in any order the engine may take: the dependency width ---------------------------------------


def step_predecessors(plan: EnginePlan) -> dict[str, set[str]]:
    """Step id -> the step ids that must be done before it starts, in any run of `plan`
    (with one "barrier:<n>" pseudo-step before each delete wave)."""
    before: dict[str, set[str]] = {}
    last_of = {urn: chain[-1].id for urn, chain in plan.chains.items() if chain}
    register_ends: set[str] = set()
    for urn, chain in plan.chains.items():
        previous = {last_of[n] for n in plan.waits_for.get(urn, []) if n in last_of}
        for step in chain:
            before[step.id] = set(previous)
            previous = {step.id}
        register_ends.add(chain[-1].id)
    previous = register_ends
    # A wave waits for the whole wave before it: one barrier between them keeps this linear.
    for number, wave in enumerate(plan.delete_waves):
        barrier = f"barrier:{number}"
        before[barrier] = set(previous)
        for step in wave:
            before[step.id] = {barrier}
        previous = {step.id for step in wave} or {barrier}
    return before
