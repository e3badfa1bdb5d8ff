"""What the plan tool says to people: steps named by what they do, inputs changed as values.

Reads only what the engine model (`tools/engine/`) already decided and the rendered commands in
the resources' inputs; decides nothing itself.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tools.engine import NodeCommand, Op, Rollout, Step, Wave, command_text
from tools.engine.rollout_analysis import runs_undo
from tools.wording import shown

# --- the parameters of a rendered script ----------------------------------------------------------

_PRELUDE_LINE = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")


def prelude(command: Any) -> dict[str, str]:
    """NAME -> value of the parameter lines right after a rendered script's shebang
    (`components.scripts.render_prelude`); {} for a command that is not a rendered script."""
    if not isinstance(command, str) or "#!/" not in command:
        return {}
    lines = command.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("#!"))
    params = {}
    for line in lines[start + 1 :]:
        match = _PRELUDE_LINE.match(line)
        if not match:
            break
        words = shlex.split(match.group(2)) or [""]
        params[match.group(1)] = words[0]
    return params


def body_of(command: Any) -> str:
    """A rendered script without its parameter lines (what every node shares)."""
    if not isinstance(command, str):
        return ""
    names = prelude(command)
    return "\n".join(
        line
        for line in command.split("\n")
        if not ((m := _PRELUDE_LINE.match(line)) and m.group(1) in names)
    )


TRIGGER_VALUE = "a trigger value"
# The digest a kubectl step's triggers carry of its node's hardware commands and connection.
DIGEST = "digest of the node's hardware commands and SSH connection"
TRIGGER_DIGEST = "a trigger digest (of the values it follows)"

# Why a parameter's change matters, for the lines a reviewer reads first.
CONSEQUENCES = {
    "VFS": "VFs are set to 0 first (the node's existing VFs, and the pods on them, go)",
    "APP": "the firmware link changes and nfp reloads",
    "ASSY": "the firmware link changes and nfp reloads",
    "PF": "the steps are replaced: undone on the old PF first",
    "EXPECTED": "the registration wait expects this many VFs",
    DIGEST: "a node script or its SSH connection changed: the node is drained and its steps re-run",
}


@dataclass(frozen=True)
class ValueChange:
    name: str  # a script parameter (VFS) or an input path (metadata.labels.x)
    before: Any
    after: Any
    node: str | None

    def text(self) -> str:
        where = f" on {self.node}" if self.node else ""
        why = CONSEQUENCES.get(self.name, "")
        line = f"{self.name} {shown(self.before)} -> {shown(self.after)}{where}"
        return line + (f": {why}" if why else "")


_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_COMMAND_KEYS = ("create", "update", "delete")


def value_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], node: str | None
) -> list[ValueChange]:
    """The changed inputs of one resource as values: a script's parameters by name, a changed
    script body said once, trigger values named by the parameter they carry."""
    changes: list[ValueChange] = []
    params_old: dict[str, str] = {}
    params_new: dict[str, str] = {}
    body_changed = False
    for key in _COMMAND_KEYS:
        old_params, new_params = prelude(before.get(key)), prelude(after.get(key))
        params_old.update(old_params)
        params_new.update(new_params)
        if (old_params or new_params) and body_of(before.get(key)) != body_of(after.get(key)):
            body_changed = True
    node = node or params_new.get("NODE") or params_old.get("NODE")
    for name in params_old.keys() | params_new.keys():
        if params_old.get(name) != params_new.get(name):
            changes.append(ValueChange(name, params_old.get(name), params_new.get(name), node))
    if body_changed:
        changes.append(ValueChange("script text", "the baseline's", "this plan's", node))
    changes += _other_fields(before, after, node, params_old, params_new)
    # A value may be a list or a mapping (unhashable): dedupe by its JSON text.
    unique = {(c.name, _key(c.before), _key(c.after), c.node): c for c in changes}
    return sorted(unique.values(), key=lambda c: (c.name != "script text", c.name))


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _other_fields(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    node: str | None,
    params_old: Mapping[str, str],
    params_new: Mapping[str, str],
) -> list[ValueChange]:
    changes = []
    for key in sorted(before.keys() | after.keys()):
        if key in _COMMAND_KEYS:
            continue  # said as parameters or script text above
        for path, old, new in leaf_changes(before.get(key), after.get(key), key):
            if path.startswith("triggers["):
                if isinstance(old, str) and _DIGEST.match(old):
                    # Only a node's kubectl steps carry the digest of its commands; elsewhere
                    # (the Multus restart) it is the digest of the values it follows.
                    name = DIGEST if node else TRIGGER_DIGEST
                    changes.append(ValueChange(name, old[:12], str(new)[:12], node))
                    continue
                if any(
                    params_old.get(n) == str(old) and params_new[n] == str(new) for n in params_new
                ):
                    continue  # the parameter is shown already
                path = TRIGGER_VALUE
            changes.append(ValueChange(path, old, new, node))
    return changes


def leaf_changes(old: Any, new: Any, path: str) -> list[tuple[str, Any, Any]]:
    """(path, before, after) of every leaf that differs; a string holding a JSON object or list
    on both sides (a ConfigMap's config.json) is compared inside."""
    old, new = _json_or_value(old), _json_or_value(new)
    # A field only one side has (e.g. `environment`) is compared item by item with nothing.
    if old is None and isinstance(new, dict | list):
        old = type(new)()
    if new is None and isinstance(old, dict | list):
        new = type(old)()
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(old.keys() | new.keys(), key=str):
            found += leaf_changes(old.get(key), new.get(key), f"{path}.{key}")
        return found
    if isinstance(old, list) and isinstance(new, list):
        # Item by item; an item only one side has is compared with None (a list is no value
        # a change can hold: the changes are collected in a set).
        found = []
        for index in range(max(len(old), len(new))):
            a = old[index] if index < len(old) else None
            b = new[index] if index < len(new) else None
            found += leaf_changes(a, b, f"{path}[{index}]")
        return found
    return [] if old == new else [(path, old, new)]


def _json_or_value(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# --- the steps, by what they do -------------------------------------------------------------------

RUNS = {
    "preflight": "preflight (read-only checks)",
    "reload-wait": "wait for a running nfp reload",
    "firmware": "firmware link",
    "driver": "nfp reload (if due)",
    "drain": "drain (cordon, evict its pods)",
    "drained": "record the drain's lease on the node",
    "device-plugin-restart": "restart the device plugin pod",
    "uncordon": "uncordon",
}
UNDOES = {
    "uncordon-after-undo": "uncordon (after the undo)",
    "drain-before-undo": "drain (cordon, evict its pods) before the undo",
    "reload-wait": "wait for the undo's nfp reload",
    "drained": "remove the drain lease from the node",
    "firmware": "undo firmware (link back, nfp reload)",
    "driver": "undo driver (nfp reload if due)",
    "vfs": "undo vfs (VFs to 0)",
    "ssh-return-after-undo": "wait for the SSH port after the undo's reload (TCP probe)",
}
# The steps whose `create` only echoes: they act on destroy (their `delete`).
MARKERS = {
    "uncordon-after-undo": "nothing runs now (it uncordons after an undo)",
    "drain-before-undo": "nothing runs now (it drains before an undo)",
    "ssh-return-after-undo": "nothing runs now (it waits for the SSH port after a firmware undo)",
}
_RELOADING = (Op.CREATE, Op.UPDATE, Op.REPLACE, Op.CREATE_REPLACEMENT)
_TIMEOUT = re.compile(r"^TIMEOUT_SECONDS=(\d+)$", re.MULTILINE)


def reloading_nodes(rollout: Rollout) -> set[str]:
    """The nodes whose `driver` step runs in this rollout (so their VFs follow a reload)."""
    return {
        c.node
        for wave in rollout.waves
        for c, step in commands_with_steps(wave)
        if c.step == "driver" and step.op in _RELOADING
    }


def decommissioning_nodes(rollout: Rollout) -> list[str]:
    """The nodes whose hardware undo runs as forward steps in this rollout (`decommission:
    true`), not as deletes."""
    return sorted(
        {
            c.node
            for wave in rollout.waves
            for c, step in commands_with_steps(wave)
            if c.step in ("firmware", "driver", "vfs")
            and step.op not in (Op.DELETE, Op.DELETE_REPLACED)
            and runs_undo(command_text(step.op, step.resource.inputs))
        }
    )


def commands_with_steps(wave: Wave) -> list[tuple[NodeCommand, Step]]:
    """Each node command of a wave with the engine step that runs it."""
    by_name = {s.name: s for s in wave.steps}
    pairs = []
    for command in wave.commands:
        step = by_name.get(f"{command.node}-{command.step}")
        if step is not None:
            pairs.append((command, step))
    return pairs


def step_label(command: NodeCommand, step: Step, reloading: set[str]) -> str:
    """What a node's step does in this rollout, in words."""
    if step.op is Op.DELETE_REPLACED and command.what == "nothing":
        return f"{command.step}: the replaced step is deleted (nothing runs)"
    if command.what == "nothing" or step.retained:
        return f"{command.step} (nothing runs)"
    text = command_text(step.op, step.resource.inputs)
    # A decommission runs the undo as an update (or a create): labelled as the undo it runs.
    deleting = step.op in (Op.DELETE, Op.DELETE_REPLACED) or runs_undo(text)
    if deleting and text.startswith("echo ") and step.op is not Op.DELETE_REPLACED:
        return f"{command.step}: nothing runs (its delete only prints)"
    if deleting and text.startswith("echo "):
        return f"{command.step}: the replaced step is deleted (its delete only prints)"
    if deleting:
        return UNDOES.get(command.step, f"undo {command.step}")
    if command.step in MARKERS and step.op is not Op.UPDATE:
        return f"{command.step}: {MARKERS[command.step]}"
    if text.startswith("echo "):
        return f"{command.step}: nothing runs (an update of a step that acts once)"
    if command.step == "vfs":
        return _vfs_label(command.node, step, reloading)
    if command.step == "vfs-advertised":
        timeout = _TIMEOUT.search(text)
        seconds = f"up to {timeout.group(1)} s; " if timeout else ""
        return f"wait for VF registration ({seconds}fails the update)"
    return RUNS.get(command.step, command.what)


def _vfs_label(node: str, step: Step, reloading: set[str]) -> str:
    if node in reloading:
        return "VFs (after the reload)"
    count = prelude(step.resource.inputs.get("create")).get("VFS", "?")
    return f"VF count set (0 first, then {count})"


# --- the rollout order ----------------------------------------------------------------------------


def render_order(rollout: Rollout, command: str = "pulumi up") -> list[str]:
    """Each wave with every node command in it, named by what it does, and the nodes out."""
    reloading = reloading_nodes(rollout)
    lines = [
        f"Rollout order: the waves `{command}` runs, each step counted as one unit of time "
        "(R: while the program registers, a step starts when its dependencies are done; "
        "D: the deletes after it, each wave waiting for the one before):"
    ]
    for wave in rollout.waves:
        calls = [s for s in wave.steps if s.calls_provider]
        if not calls:
            continue
        by_node: dict[str, list[str]] = {}
        for command, step in commands_with_steps(wave):
            by_node.setdefault(command.node, []).append(step_label(command, step, reloading))
        nodes = "; ".join(f"{node}: {', '.join(what)}" for node, what in sorted(by_node.items()))
        others = _other_steps(wave, calls)
        parts = [p for p in (nodes, others) if p]
        out = ", ".join(wave.disrupted) if wave.disrupted else "none"
        over = len(wave.disrupted) > rollout.max_unavailable
        over_text = "  <-- over rollout.maxUnavailable" if over else ""
        lines.append(f"  {wave.label:<4} {' | '.join(parts) or '-'}   [out: {out}]{over_text}")
    return lines


def _other_steps(wave: Wave, calls: Sequence[Step]) -> str:
    """The wave's steps that are not node commands: up to three named, then a count."""
    node_step_names = {f"{c.node}-{c.step}" for c in wave.commands}
    others = [f"{s.op} {s.name}" for s in calls if s.name not in node_step_names]
    shown_steps = ", ".join(others[:3])
    return shown_steps + (f" and {len(others) - 3} more" if len(others) > 3 else "")


SPANS_SHOWN = 5  # groups of nodes out together named on the line; the waves list them all
NODES_SHOWN = 10  # nodes named on a datapath-restart line; engine.json lists them all


def render_restarts(rollout: Rollout) -> list[str]:
    """What each Kube-OVN release update does to the nodes' datapath (ovs-ovn), in words."""
    waves = {s.id: w.label for w in rollout.waves for s in w.steps}
    lines = []
    for restart in rollout.datapath_restarts:
        lines += [
            f"Datapath restarts: {restart.release} in {waves.get(restart.step, '?')} "
            f"({'; '.join(restart.why)}) changes the ovs-ovn pod template:",
            "  ovs-ovn restarts OVS and ovn-controller on every node while the step runs (helm "
            "waits for the rollout)",
            f"  Agilio nodes: {_named(restart.nodes)}, {restart.at_once} at a time: counted as "
            f"{restart.at_once} node{'s' if restart.at_once > 1 else ''} out for the whole step",
            f"  how: the chart's ovs-ovn updateStrategy ({restart.strategy}): a new pod starts "
            "beside the old one and restarts the node's OVS; the old one goes once the new one "
            "is Ready",
            "  kube-ovn-cni restarts too, one node at a time (maxUnavailable 1), without "
            "restarting OVS",
        ]
        if restart.at_once > rollout.max_unavailable:
            lines.append(
                f"  DATAPATH RESTART OVER BOUND: {restart.at_once} nodes at a time, more than "
                f"rollout.maxUnavailable {rollout.max_unavailable}"
            )
    for kept in rollout.releases_kept:
        changed = ", ".join(kept.changed) or "inputs outside the values"
        lines.append(
            f"Datapath restarts: none from {kept.release}: what changes ({changed}) is not in "
            "the ovs-ovn pod template"
        )
    return lines


def _named(nodes: Sequence[str]) -> str:
    more = len(nodes) - NODES_SHOWN
    return ", ".join(nodes[:NODES_SHOWN]) + (f" and {more} more" if more > 0 else "")


def out_at_once(rollout: Rollout) -> str:
    """`Nodes out at once: N at most ...`: every node that goes out, with the waves it is out
    in, when the unit-time waves reach the worst case; else the engine's worst-case nodes."""
    head = (
        f"Nodes out at once: {rollout.worst_case} at most in any order the engine may run the "
        f"steps (rollout.maxUnavailable: {rollout.max_unavailable})"
    )
    if not rollout.worst_case:
        return head
    spans = _spans(rollout.waves)
    if spans and max(len(nodes) for nodes, _ in spans) == rollout.worst_case:
        groups = [
            f"{', '.join(nodes)} in {labels[0]}" + (f"-{labels[-1]}" if len(labels) > 1 else "")
            for nodes, labels in spans
        ]
        more = len(groups) - SPANS_SHOWN
        tail = f"; and {more} more groups (engine.json lists every wave)" if more > 0 else ""
        return head + ": " + "; ".join(groups[:SPANS_SHOWN]) + tail
    return head + f", with some step durations: {', '.join(rollout.worst_case_nodes)}"


def _spans(waves: Sequence[Wave]) -> list[tuple[tuple[str, ...], list[str]]]:
    """Runs of consecutive waves with the same nodes out (none-out waves skipped)."""
    spans: list[tuple[tuple[str, ...], list[str]]] = []
    for wave in waves:
        if not wave.disrupted or not any(s.calls_provider for s in wave.steps):
            continue
        if spans and spans[-1][0] == wave.disrupted:
            spans[-1][1].append(wave.label)
        else:
            spans.append((wave.disrupted, [wave.label]))
    return spans
