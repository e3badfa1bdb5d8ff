"""The rollout analysis: what each step does to a node, the waves, which nodes are out at once
(in the unit-time run, and in the worst order the dependencies allow)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from components.names import AGILIO_NODE_TYPE as NODE_COMPONENT
from components.names import (
    DRAIN_SCRIPT,
    HARDWARE_STEPS,
    LOCAL_COMMAND,
    REMOTE_COMMAND,
    SSH_RETURN_AFTER_UNDO_STEP,
    SSH_RETURN_STEP,
    step_of,
)
from tools.engine.datapath_restarts import DatapathRestart, ReleaseKept, datapath_restarts
from tools.engine.graph import max_antichain, topological
from tools.engine.resources import Resource, ResourceJSON, as_resource, as_resources
from tools.engine.step import EnginePlan, Op, Step
from tools.engine.step_executor import (
    Timing,
    all_steps,
    run_engine,
    step_predecessors,
    unit_duration,
)
from tools.engine.step_generator import Targets, plan_engine

# --- what a step does to a node -------------------------------------------------------------------


# What the remote steps do, from the scripts' own headers (components/node/scripts/*.sh).
RUNS = {
    "drained": "record the drain lease",
    "firmware": "firmware link",
    "driver": "nfp reload (if due)",
    "vfs": "VFs (after the reload)",
}
UNDOES = {
    "firmware": "undo firmware (link back, nfp reload)",
    "driver": "undo driver (nfp reload if due)",
    "vfs": "undo vfs (VFs to 0)",
    "reload-wait": "wait for the undo's reload",
    "drained": "remove the drain lease",
}
# The operator-side probes (components/node/operator_scripts/ssh-return.sh): (step, deleting)
# -> what runs; a TCP probe of the node's SSH port, no session, changes nothing.
SSH_RETURN_WAITS = {
    (SSH_RETURN_STEP, False): "wait for the SSH port to go and come back (TCP probe)",
    (SSH_RETURN_AFTER_UNDO_STEP, True): "wait for the SSH port after the undo's reload",
}


class Effect(StrEnum):
    """What a node command does to the node's availability."""

    DRAIN = "drain"  # cordon + evict: the node is unavailable from here
    UNCORDON = "uncordon"  # the node takes pods again
    HARDWARE = "hardware"  # firmware link / nfp reload / VF change or their undo
    OTHER = "other"  # read-only check, wait, device plugin restart, no-op


@dataclass(frozen=True)
class NodeCommand:
    node: str
    step: str  # the step name, e.g. "drain-before-undo"
    what: str  # what runs, e.g. "undo vfs", "kubectl drain"
    effect: Effect


def node_names(resources: Iterable[Resource | ResourceJSON]) -> list[str]:
    return [r.name for r in as_resources(resources) if r.type == NODE_COMPONENT]


def node_of(
    resource: Resource | ResourceJSON, nodes: Sequence[str], parents: Mapping[str, str]
) -> str | None:
    """The node a command belongs to: its AgilioNode parent, else the longest node name its
    own name starts with (`<node>-<step>`, as the rollout names its steps)."""
    resource = as_resource(resource)
    if resource.type not in (REMOTE_COMMAND, LOCAL_COMMAND):
        return None
    parent = parents.get(resource.parent or "")
    if parent is not None:
        return parent
    matches = [n for n in nodes if resource.name.startswith(f"{n}-")]
    return max(matches, key=len) if matches else None


_UNDO_PARAM = re.compile(r"^ACTION=undo$", re.MULTILINE)


def runs_undo(text: str) -> bool:
    """Whether a rendered node script (or probe) runs its undo: `ACTION=undo` in its prelude
    (components/scripts.py `render_prelude`). A decommission runs the undo as a create or an
    update (components/node/agilio_node.py `_decommission`), not only a delete."""
    return bool(_UNDO_PARAM.search(text))


def node_command(step: Step, node: str) -> NodeCommand:
    """What `step` runs on (or for) `node`: the command text it executes decides."""
    resource = step.resource
    name = step_of(resource.name, node)
    text = command_text(step.op, resource.inputs)
    deleting = step.op in (Op.DELETE, Op.DELETE_REPLACED) or runs_undo(text)
    if not text or step.retained:
        return NodeCommand(node, name, "nothing", Effect.OTHER)
    if resource.type == LOCAL_COMMAND:
        if (name, deleting) in SSH_RETURN_WAITS and not text.startswith("echo "):
            return NodeCommand(node, name, SSH_RETURN_WAITS[(name, deleting)], Effect.OTHER)
        actions = _kubectl_actions(text)
        # A drain first: a drain that fails uncordons its node again (`_decommission_drain`).
        if any(verbs[:1] == ["drain"] for verbs in actions) or _runs_kubectl_script(
            text, DRAIN_SCRIPT
        ):
            return NodeCommand(node, name, "kubectl drain", Effect.DRAIN)
        if any(verbs[:1] == ["uncordon"] for verbs in actions):
            return NodeCommand(node, name, "kubectl uncordon", Effect.UNCORDON)
        verbs = actions[-1] if actions else []
        what = f"kubectl {' '.join(verbs[:2])}" if verbs else "local no-op"
        return NodeCommand(node, name, what, Effect.OTHER)
    what = (UNDOES if deleting else RUNS).get(name, f"undo {name}" if deleting else name)
    return NodeCommand(
        node, name, what, Effect.HARDWARE if name in HARDWARE_STEPS else Effect.OTHER
    )


def _runs_kubectl_script(text: str, script: str) -> bool:
    """Whether `text` runs the rendered kubectl script `script` (its name is `$0` after the
    script text: components/cluster/vf_registration.py `render_kubectl_script`)."""
    return f')" {script} kubectl ' in text


def command_text(op: Op, inputs: Mapping[str, object]) -> str:
    """What a pulumi-command Command runs for `op`: `delete` on a delete; on an update its
    `update` when set, else `create` again (pulumi-command `local/command.go` and
    `remote/command.go`: "The command to run on update, if empty, create will run again");
    `create` on a create."""
    if op in (Op.DELETE, Op.DELETE_REPLACED):
        key = "delete"
    elif op is Op.UPDATE and inputs.get("update"):
        key = "update"
    else:
        key = "create"
    return str(inputs.get(key) or "")


_SHELL_BREAKS = re.compile(r"\$\(|[;(){}|&]")
_SHELL_KEYWORDS = {"if", "then", "else", "fi", "exit"}


def _kubectl_actions(text: str) -> list[list[str]]:
    """The verbs of every `kubectl` call in a shell command line, in order: a step's kubectl may
    sit inside `if`, `$(...)` or `||` (components/cluster/kubectl.py `if_node_exists`)."""
    actions = []
    for part in _SHELL_BREAKS.split(text):
        words = [w for w in part.split() if w not in _SHELL_KEYWORDS]
        if words[:1] == ["kubectl"]:
            actions.append(_kubectl_verbs(words))
    return actions


def _kubectl_verbs(words: Sequence[str]) -> list[str]:
    """The words after `kubectl` that are not options (`--context X`, `--kubeconfig=X`)."""
    if words[:1] != ["kubectl"]:
        return []
    verbs, skip = [], False
    for word in words[1:]:
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = "=" not in word and word in ("--kubeconfig", "--context", "-n", "--namespace")
        else:
            verbs.append(word)
    return verbs


def node_commands(
    plan: EnginePlan,
    old: Sequence[Resource | ResourceJSON],
    new: Sequence[Resource | ResourceJSON],
) -> dict[str, NodeCommand]:
    """Step id -> what it does to a node, for every step that runs a node's command."""
    both = as_resources([*old, *new])
    nodes = sorted(set(node_names(both)))
    parents = {r.urn: r.name for r in both if r.type == NODE_COMPONENT}
    found = {}
    for step in all_steps(plan):
        if step.op is Op.SAME:
            continue
        node = node_of(step.resource, nodes, parents)
        if node is not None:
            found[step.id] = node_command(step, node)
    return found


# --- disruption: which nodes are out at once ------------------------------------------------------

NEVER = float("inf")


@dataclass(frozen=True)
class Disruption:
    """A node out of service: from its first drain or hardware change until it is uncordoned
    (or its last hardware change, when it was never drained); `end` is NEVER when the run
    leaves it drained. `first`/`last` are the step ids that open and close it. `node` is a
    restart slot's name (`DatapathRestart.slots`) for the nodes a Kube-OVN release restarts
    one after the other."""

    node: str
    start: float
    end: float
    first: str
    last: str | None


def disruptions(
    timings: Mapping[str, Timing], commands: Mapping[str, NodeCommand]
) -> list[Disruption]:
    by_node: dict[str, list[tuple[Timing, str, NodeCommand]]] = {}
    for step_id, command in commands.items():
        if command.effect is not Effect.OTHER:
            by_node.setdefault(command.node, []).append((timings[step_id], step_id, command))
    found = []
    for node, events in sorted(by_node.items()):
        events.sort(key=lambda e: (e[0].start, e[0].end))
        opening = [e for e in events if e[2].effect in (Effect.DRAIN, Effect.HARDWARE)]
        if not opening:
            continue  # an uncordon alone disrupts nothing
        first = opening[0]
        drained = any(e[2].effect is Effect.DRAIN for e in opening)
        last_drain = max((e[0].start for e in opening if e[2].effect is Effect.DRAIN), default=-1.0)
        closing = [e for e in events if e[2].effect is Effect.UNCORDON and e[0].start >= last_drain]
        if drained and not closing:
            found.append(Disruption(node, first[0].start, NEVER, first[1], None))
            continue
        last = closing[-1] if drained else opening[-1]
        end = max(last[0].end, opening[-1][0].end)
        found.append(Disruption(node, first[0].start, end, first[1], last[1]))
    return found


def restart_disruptions(
    restarts: Sequence[DatapathRestart], timings: Mapping[str, Timing]
) -> list[Disruption]:
    """A release step that restarts ovs-ovn keeps `at_once` nodes out for as long as it runs
    (helm waits for the rollout; which node when is the DaemonSet controller's choice)."""
    return [
        Disruption(slot, timings[r.step].start, timings[r.step].end, r.step, r.step)
        for r in restarts
        for slot in r.slots()
    ]


def peak_disrupted(found: Sequence[Disruption]) -> int:
    """The most nodes out at the same instant (intervals half-open: [start, end))."""
    events = sorted(
        [(d.start, 1) for d in found] + [(d.end, -1) for d in found if d.end != NEVER],
        key=lambda e: (e[0], e[1]),
    )
    current = peak = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


def disrupted_during(found: Sequence[Disruption], start: float, end: float) -> list[str]:
    """The nodes out at some instant of [start, end)."""
    return sorted(d.node for d in found if d.start < end and start < d.end)


def worst_case_disrupted(plan: EnginePlan, found: Sequence[Disruption]) -> tuple[int, list[str]]:
    """The most nodes that can be out at once in *any* run the dependencies allow (whatever
    each step takes), and one such set of nodes.

    Two nodes can never be out together only when one's disruption ends (the step closing it is
    done) before the other's starts, through the dependencies. The answer is the width of that
    order, by Dilworth's theorem: nodes minus a maximum matching of "ends before" pairs.
    """
    before = step_predecessors(plan)
    order = topological(before)
    index = {d.node: i for i, d in enumerate(found)}
    closes: dict[str, int] = {}
    for d in found:
        if d.last is not None:
            closes[d.last] = closes.get(d.last, 0) | (1 << index[d.node])
    ended_before: dict[str, int] = {}  # step -> nodes whose disruption closed before it starts
    for step_id in order:
        mask = 0
        for p in before.get(step_id, ()):
            mask |= ended_before[p] | closes.get(p, 0)
        ended_before[step_id] = mask
    # successors[a]: nodes b whose disruption starts after a's ended.
    successors = [0] * len(found)
    for b, d in enumerate(found):
        mask = ended_before[d.first]
        while mask:
            low = mask & -mask
            successors[low.bit_length() - 1] |= 1 << b
            mask ^= low
    antichain = max_antichain(successors)
    return len(antichain), sorted(found[i].node for i in antichain)


# --- the whole answer, for the plan tool ----------------------------------------------------------


@dataclass(frozen=True)
class Wave:
    """Steps that start together when every provider call takes one unit of time."""

    label: str  # "R3" (register phase) or "D2" (delete phase)
    steps: tuple[Step, ...]
    commands: tuple[NodeCommand, ...]
    disrupted: tuple[str, ...]  # nodes out at some point of this wave


@dataclass(frozen=True)
class Rollout:
    plan: EnginePlan
    waves: tuple[Wave, ...]
    disruptions: tuple[Disruption, ...]
    worst_case: int
    worst_case_nodes: tuple[str, ...]
    max_unavailable: int
    # Kube-OVN release steps that restart ovs-ovn on the nodes, and release updates that do not.
    datapath_restarts: tuple[DatapathRestart, ...] = ()
    releases_kept: tuple[ReleaseKept, ...] = ()

    @property
    def over_bound(self) -> bool:
        return self.worst_case > self.max_unavailable

    def waves_over_bound(self) -> list[str]:
        return [
            w.label
            for w in self.waves
            if len(w.disrupted) > self.max_unavailable and any(s.calls_provider for s in w.steps)
        ]


def analyse(
    old: Sequence[Resource | ResourceJSON],
    new: Sequence[Resource | ResourceJSON],
    max_unavailable: int,
    targets: Targets | None = None,
) -> Rollout:
    """Operations, waves and disruption of going from `old` to `new` (`new=[]`: destroy);
    `targets`: `--target` (None: every resource)."""
    old, new = as_resources(old), as_resources(new)
    plan = plan_engine(old, new, targets)
    timings = run_engine(plan, unit_duration)
    commands = node_commands(plan, old, new)
    agilio = sorted(set(node_names([*old, *new])))
    restarts, kept = datapath_restarts(plan, old, agilio)
    found = disruptions(timings, commands) + restart_disruptions(restarts, timings)
    worst, nodes = worst_case_disrupted(plan, found)
    if restarts:
        # A restart slot is one of the Agilio nodes: never more out than there are nodes.
        worst = min(worst, len(agilio))
    return Rollout(
        plan,
        tuple(_waves(plan, timings, commands, found)),
        tuple(found),
        worst,
        tuple(nodes),
        max_unavailable,
        tuple(restarts),
        tuple(kept),
    )


def _waves(
    plan: EnginePlan,
    timings: Mapping[str, Timing],
    commands: Mapping[str, NodeCommand],
    found: Sequence[Disruption],
) -> list[Wave]:
    waves: list[Wave] = []
    by_start: dict[float, list[Step]] = {}
    for chain in plan.chains.values():
        for step in chain:
            if step.calls_provider:
                by_start.setdefault(timings[step.id].start, []).append(step)
    for number, start in enumerate(sorted(by_start), start=1):
        waves.append(_wave(f"R{number}", tuple(by_start[start]), start, start + 1, commands, found))
    for number, wave in enumerate(plan.delete_waves, start=1):
        start = min((timings[s.id].start for s in wave), default=0.0)
        end = max((timings[s.id].end for s in wave), default=start)
        waves.append(
            _wave(f"D{number}", tuple(wave), start, max(end, start + 1e-9), commands, found)
        )
    return waves


def _wave(
    label: str,
    steps: tuple[Step, ...],
    start: float,
    end: float,
    commands: Mapping[str, NodeCommand],
    found: Sequence[Disruption],
) -> Wave:
    return Wave(
        label,
        steps,
        tuple(commands[s.id] for s in steps if s.id in commands),
        tuple(disrupted_during(found, start, end)),
    )
