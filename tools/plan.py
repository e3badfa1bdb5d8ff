"""`python -m tools.plan`: the whole plan of a stack, offline, before anything touches a node.

Runs the real program in-process under the Pulumi SDK's mock engine with the stack's config file
(no Pulumi CLI, no cluster, no SSH), prints the resource tree like `pulumi preview`, and writes
`resources.json`, `outputs.json`, `kubernetes/*.yaml`, `nodes/scripts/<nn>-<step>.sh` (each step
once) and `nodes/params/<node>.sh` (each node's parameters of every step). With
`--baseline DIR` (an earlier plan's output directory) it lists what would be added, removed and
changed, with the changed input fields, hardware steps marked, and what the Pulumi engine will do
with it (`tools/engine/`): each resource's operation, the waves, the node commands of each
wave and how many nodes are out at once. `--destroy` (with `--baseline`) plans `pulumi destroy`
of the baseline instead.

Exit codes: 0 planned, 1 the program failed, 2 invalid stack config or usage (no files written),
3 the change cannot be rolled out within `rollout.maxUnavailable`: refused by the program's change
guard (no files written), or planned but able to take more than `rollout.maxUnavailable` nodes
out at once (the waves are named).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from components.config import ConfigError, RolloutConfig
from components.names import (
    AGILIO_NODE_TYPE,
    DRAINED_STEP,
    HARDWARE_STEPS,
    LOCAL_COMMAND,
    PREFLIGHT_STEP,
    PREFLIGHT_TYPE,
    REMOTE_COMMAND,
    node_of_step,
    step_of,
)
from components.node.change_guard import ChangeRefused
from tools import access_summary
from tools.engine import (
    NEVER,
    Decision,
    Op,
    Resource,
    ResourceJSON,
    Rollout,
    TargetError,
    Targets,
    analyse,
    as_resources,
    changed_fields,
    targets_by_name,
)
from tools.engine.mock_driver import (
    ORGANIZATION,
    ProgramRun,
    project_name,
    run_program,
    stack_config,
    stack_environments,
    stack_file,
)
from tools.engine.step_generator import add_target_arguments
from tools.plan_text import (
    DIGEST,
    TRIGGER_VALUE,
    ValueChange,
    decommissioning_nodes,
    out_at_once,
    render_order,
    render_restarts,
    shown,
    value_changes,
)
from tools.rehearsal.outputs import LeaseMocks

EXIT_OVER_BOUND = 3


# --- what a resource is ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeStep:
    """A command of an AgilioNode: which node, which step, where it runs, is it hardware."""

    node: str
    step: str
    on_node: bool  # runs on the node over SSH (else: kubectl on the operator's machine)
    hardware: bool


def _step_owner(resource: Resource, parents: Mapping[str, str]) -> str | None:
    """The node a command belongs to: its AgilioNode parent, or for a preflight step (a child
    of the Preflight component) the name before `-preflight`."""
    parent = parents.get(resource.parent or "")
    if parent == AGILIO_NODE_TYPE and resource.parent is not None:
        return resource.parent.rsplit("::", 1)[-1]
    if parent == PREFLIGHT_TYPE:
        return node_of_step(resource.name, PREFLIGHT_STEP)
    return None


def node_steps(resources: Sequence[Resource]) -> dict[str, NodeStep]:
    """URN -> NodeStep for every command of a node (its AgilioNode's, and its preflight)."""
    parents = {r.urn: r.type for r in resources if r.type in (AGILIO_NODE_TYPE, PREFLIGHT_TYPE)}
    steps = {}
    for resource in resources:
        node = _step_owner(resource, parents)
        if resource.type in (REMOTE_COMMAND, LOCAL_COMMAND) and node is not None:
            step = step_of(resource.name, node)
            on_node = resource.type == REMOTE_COMMAND
            steps[resource.urn] = NodeStep(node, step, on_node, on_node and step in HARDWARE_STEPS)
    return steps


def _mark(step: NodeStep | None) -> str:
    if step is None:
        return ""
    if step.hardware:
        return f"[hardware step {step.node}/{step.step}]"
    if step.step == DRAINED_STEP:
        return f"[on node {step.node}, drain lease]"
    return f"[on node {step.node}, read-only]" if step.on_node else f"[kubectl, {step.node}]"


# --- the tree -------------------------------------------------------------------------------------


def _tree_prefixes(resources: Sequence[Resource]) -> dict[str, str]:
    """URN -> the "│  ├─ " drawing in front of its type (resources come parents first)."""
    last_child: dict[str, str] = {}
    for resource in resources:
        last_child[resource.parent or ""] = resource.urn
    prefixes: dict[str, str] = {}
    continuation: dict[str, str] = {}  # what a resource's children draw for its own column
    for resource in resources:
        parent = resource.parent or ""
        if parent not in prefixes:
            prefixes[resource.urn] = ""
            continuation[resource.urn] = ""
            continue
        is_last = last_child[parent] == resource.urn
        base = continuation[parent]
        prefixes[resource.urn] = base + ("└─ " if is_last else "├─ ")
        continuation[resource.urn] = base + ("   " if is_last else "│  ")
    return prefixes


def render_tree(resources: Sequence[Resource], status: Mapping[str, str] | None = None) -> str:
    """The resource tree, indented by parent, one line per resource, like `pulumi preview`."""
    steps = node_steps(resources)
    prefixes = _tree_prefixes(resources)
    rows = []
    for resource in resources:
        symbol = "+" if status is None else status.get(resource.urn, " ")
        type_text = prefixes[resource.urn] + resource.type
        rows.append((symbol, type_text, resource.name, steps.get(resource.urn)))
    width = max(len(row[1]) for row in rows) + 2
    name_width = max(len(row[2]) for row in rows) + 2
    lines = [f"     {'Type':<{width}}{'Name':<{name_width}}Note"]
    for symbol, type_text, name, step in rows:
        lines.append(f" {symbol}   {type_text:<{width}}{name:<{name_width}}{_mark(step)}".rstrip())
    return "\n".join(lines)


def summary(resources: Sequence[Resource]) -> str:
    steps = [s for s in node_steps(resources).values() if s.on_node]
    hardware = [s for s in steps if s.hardware]
    nodes = {s.node for s in steps}
    return (
        f"{len(resources)} resources; {len(nodes)} nodes, {len(steps)} steps on nodes, "
        f"{len(hardware)} of them hardware steps"
    )


# --- files ----------------------------------------------------------------------------------------


PATCH_HEADER = """\
# A patch of the existing {kind} {name} (pulumi-kubernetes {type}): only these fields.
# Pulumi applies it with server-side apply, winning conflicts (pulumi.com/patchForce), as its
# own field manager: {manager}.
# Each patch of an object needs its own manager: one manager applying two patches of a Node
# in turn drops the fields of the first (the Agilio label) when it applies the second.
# The same by hand:
#   kubectl apply --server-side --force-conflicts --field-manager={by_hand} -f {file}
# On destroy: {on_destroy}.
"""
FIELD_MANAGER_ANNOTATION = "pulumi.com/patchFieldManager"
MANIFEST_KEYS = ("apiVersion", "kind", "metadata")


# Linux NAME_MAX: a file name of more bytes fails with ENAMETOOLONG (a node name alone may be
# 253 characters, an RFC 1123 subdomain).
NAME_MAX = 255


def file_name(stem: str, suffix: str) -> str:
    """`stem + suffix`, its stem cut and made unique by a hash when too long for a file name;
    the full name is still inside the file (a manifest's metadata, a script's header)."""
    if len((stem + suffix).encode()) <= NAME_MAX:
        return stem + suffix
    digest = hashlib.sha256(stem.encode()).hexdigest()[:12]
    keep = NAME_MAX - len(suffix.encode()) - len(digest) - 1
    return stem.encode()[:keep].decode(errors="ignore") + "-" + digest + suffix


def _manifest_name(index: int, resource: Resource) -> str:
    inputs = resource.inputs
    metadata = inputs.get("metadata") or {}
    parts = [inputs["kind"], metadata.get("namespace") or "", metadata.get("name") or "unnamed"]
    if _is_patch(resource):
        parts.append("patch")
    return file_name(f"{index:03d}-" + "-".join(p.lower() for p in parts if p), ".yaml")


def _as_manifest(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs in the order `kubectl get -o yaml` shows them: apiVersion, kind, metadata..."""
    first = {key: inputs[key] for key in MANIFEST_KEYS if key in inputs}
    return {**first, **{key: value for key, value in inputs.items() if key not in first}}


def _kubernetes_objects(resources: Sequence[Resource]) -> list[Resource]:
    """Every Kubernetes object or patch (a Helm release is not an object)."""
    return [
        r
        for r in resources
        if r.type.startswith("kubernetes:") and {"apiVersion", "kind"} <= set(r.inputs)
    ]


def kubernetes_manifests(resources: Sequence[Resource]) -> dict[str, str]:
    """File name -> manifest text for every Kubernetes object; patches say what they are."""
    manifests = {}
    for index, resource in enumerate(_kubernetes_objects(resources), start=1):
        name = _manifest_name(index, resource)
        header = _patch_header(resource, name) if _is_patch(resource) else ""
        text = yaml.safe_dump(_as_manifest(resource.inputs), sort_keys=False)
        manifests[name] = header + text
    return manifests


def _patch_header(resource: Resource, file: str) -> str:
    """How pulumi applies a patch, and a kubectl command that does the same (provider.go
    `fieldManagerName`: the patchFieldManager annotation, else `pulumi-kubernetes-` and 8
    random hex characters chosen at create and kept in the state)."""
    metadata = resource.inputs.get("metadata") or {}
    manager = (metadata.get("annotations") or {}).get(FIELD_MANAGER_ANNOTATION)
    retained = resource.options.retain_on_delete
    return PATCH_HEADER.format(
        kind=resource.inputs.get("kind"),
        name=metadata.get("name"),
        type=resource.type,
        manager=manager or "pulumi-kubernetes-<8 hex characters, chosen at create>",
        by_hand=manager or f"agilio-offload-{resource.name}",
        file=file,
        on_destroy="pulumi forgets the patch (retainOnDelete: its delete, a server-side "
        "apply, would create the Node again were it deleted); the fields are kept unless a "
        "cleanup step of the stack takes them off"
        if retained
        else "pulumi gives the fields up (the patch's manager relinquishes them)",
    )


def _is_patch(resource: Resource) -> bool:
    return resource.type.endswith("Patch")


def node_scripts(resources: Sequence[Resource]) -> dict[str, str]:
    """The commands of the node steps as a reviewer reads them: each step's script once in
    `nodes/scripts/<nn>-<step>.sh` (shared by every node), and each node's parameters of every
    step in `nodes/params/<node>.sh` (sorted first in a diff: parameter changes show first).
    A command that is not a rendered script goes whole to `nodes/<node>/<nn>-<step>.sh`."""
    steps = node_steps(resources)
    counters: dict[str, int] = {}
    scripts: dict[str, str] = {}  # file -> text
    params: dict[str, list[str]] = {}  # node -> lines
    runners: dict[str, str] = {}
    files: dict[str, str] = {}
    for resource in resources:
        step = steps.get(resource.urn)
        if step is None or not step.on_node:
            continue
        counters[step.node] = counters.get(step.node, 0) + 1
        stem = f"{counters[step.node]:02d}-{step.step}"
        for key, suffix in (("create", ""), ("delete", ".delete")):
            command = resource.inputs.get(key)
            if not command:
                continue
            split = split_command(str(command))
            if split is None:
                folder = f"nodes/{file_name(step.node, '')}"
                files[f"{folder}/{file_name(stem + suffix, '.sh')}"] = str(command)
                continue
            runner, shebang, prelude_lines, rest = split
            script = _script_file(scripts, stem, f"{shebang}\n{SCRIPT_NOTE}\n{rest}")
            runners.setdefault(step.node, runner)
            params.setdefault(step.node, []).extend(
                ["", f"## {stem}{suffix}: nodes/scripts/{script}", *prelude_lines]
            )
    files.update({f"nodes/scripts/{name}": text for name, text in scripts.items()})
    for node, lines in params.items():
        path = f"nodes/params/{file_name(node, '.sh')}"
        files[path] = PARAMS_HEADER.format(node=node, runner=runners[node])
        files[path] += "\n".join(lines).lstrip("\n") + "\n"
    return files


SCRIPT_NOTE = "# (here come the step's parameters, one node's each: nodes/params/<node>.sh)"
PARAMS_HEADER = """\
# {node}: the parameters of each node step. Each step runs its nodes/scripts/ file with the
# step's lines below put right after the file's first line (in place of its second line):
# Runs as: {runner} -c "$(cat <<'AGILIO_OFFLOAD_SCRIPT'
#   <the script with these parameters>
#   AGILIO_OFFLOAD_SCRIPT
#   )"
# `<step>.delete` is what `pulumi destroy` runs. resources.json carries every command whole.

"""
_WRAPPER = re.compile(
    r"\A(?P<runner>(?:sudo -n )?bash) -c \"\$\(cat <<'AGILIO_OFFLOAD_SCRIPT'\n"
    r"(?P<script>.*)\nAGILIO_OFFLOAD_SCRIPT\n\)\"\Z",
    re.DOTALL,
)
_PARAM_LINE = re.compile(r"^[A-Z][A-Z0-9_]*=")


def split_command(command: str) -> tuple[str, str, list[str], str] | None:
    """(runner, shebang, parameter lines, rest) of a rendered node command
    (`components.scripts.remote_command` of `render_script`); None for any other command."""
    match = _WRAPPER.match(command)
    if match is None:
        return None
    shebang, _, body = match.group("script").partition("\n")
    if not shebang.startswith("#!"):
        return None
    lines = body.split("\n")
    count = next((i for i, line in enumerate(lines) if not _PARAM_LINE.match(line)), len(lines))
    return match.group("runner"), shebang, lines[:count], "\n".join(lines[count:])


def _script_file(scripts: dict[str, str], stem: str, text: str) -> str:
    """The file name under nodes/scripts/ holding `text`: `<stem>.sh`, or `<stem>-2.sh`, ...
    when nodes differ in the body of the same step."""
    for number in range(1, len(scripts) + 2):
        name = f"{stem}.sh" if number == 1 else f"{stem}-{number}.sh"
        if scripts.setdefault(name, text) == text:
            return name
    raise AssertionError("unreachable")


# The plan tool's mark on an output directory: which files it wrote there, so the next plan
# deletes exactly those and nothing else (a wrong --out must never cost anyone a file).
MARKER = ".agilio-offload-plan"
MARKER_TOOL = "agilio-offload tools.plan"


class OutDirError(Exception):
    """An --out directory the plan tool may not write to."""


def out_dir_problem(out: Path) -> str | None:
    """Why the plan may not write to `out` (None: new, empty, or an earlier plan's)."""
    if out.exists() and not out.is_dir():
        return f"--out {out}: is not a directory"
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        return (
            f"--out {out}: the directory is not empty and has no {MARKER} file, so the plan "
            "tool did not write it; give a new or empty directory (the plan tool deletes only "
            "files it wrote itself)"
        )
    return None


def _written_files(out: Path) -> list[Path]:
    """The files the marker says an earlier plan wrote (only plain relative paths inside)."""
    try:
        listed = json.loads((out / MARKER).read_text()).get("files", [])
    except (OSError, ValueError, AttributeError):
        return []
    files = []
    for name in listed if isinstance(listed, list) else []:
        path = Path(name) if isinstance(name, str) else None
        if path is not None and not path.is_absolute() and ".." not in path.parts:
            files.append(path)
    return files


def _clear_plan_files(out: Path) -> None:
    """Delete what the last plan wrote here, then the directories that it left empty."""
    written = _written_files(out)
    for name in written:
        path = out / name
        if path.is_file() or path.is_symlink():
            path.unlink()
    parents = {parent for name in written for parent in name.parents if parent != Path(".")}
    for parent in sorted(parents, key=lambda p: len(p.parts), reverse=True):
        directory = out / parent
        if directory.is_dir() and not directory.is_symlink() and not any(directory.iterdir()):
            directory.rmdir()


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text.endswith("\n") else text + "\n")


def plan_files(
    resources: Sequence[Resource | ResourceJSON], outputs: Mapping[str, Any]
) -> dict[str, str]:
    """Relative path -> text of every file of a plan (without the diff files)."""
    resources = as_resources(resources)
    files = {
        "resources.json": json.dumps([r.as_json() for r in resources], indent=2),
        "outputs.json": json.dumps(outputs, indent=2, sort_keys=True),
    }
    files.update({f"kubernetes/{n}": t for n, t in kubernetes_manifests(resources).items()})
    files.update(node_scripts(resources))
    return files


def write_plan(
    out: Path,
    resources: Sequence[Resource | ResourceJSON],
    outputs: Mapping[str, Any],
    extra: Mapping[str, str] | None = None,
) -> None:
    """Write the plan (and `extra` files) to `out`, replacing only what an earlier plan wrote."""
    write_files(out, {**plan_files(resources, outputs), **(extra or {})})


def write_files(out: Path, files: Mapping[str, str]) -> None:
    """Write `files` (relative path -> text) to `out` and the marker that lists them, after
    deleting only what an earlier plan listed in its marker."""
    problem = out_dir_problem(out)
    if problem:
        raise OutDirError(problem)
    _clear_plan_files(out)
    for name, text in files.items():
        _write(out / name, text)
    marker = {"writtenBy": MARKER_TOOL, "files": sorted(files)}
    _write(out / MARKER, json.dumps(marker, indent=2))


# --- diff against a baseline ----------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    kind: str  # "add", "remove" or "change"
    urn: str
    type: str
    name: str
    fields: tuple[str, ...]
    step: NodeStep | None
    values: tuple[ValueChange, ...] = ()

    def reason(self) -> str:
        """Why it changes, as values (`VFS 8 -> 12`), never as input paths."""
        return ", ".join(f"{v.name} {shown(v.before)} -> {shown(v.after)}" for v in self.values)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "fields": list(self.fields),
            "values": [
                {"name": v.name, "before": v.before, "after": v.after, "node": v.node}
                for v in self.values
            ],
            "node": self.step.node if self.step else None,
            "hardwareStep": self.step.step if self.step and self.step.hardware else None,
        }


def diff_resources(
    old: Sequence[Resource | ResourceJSON], new: Sequence[Resource | ResourceJSON]
) -> list[Change]:
    """What `pulumi up` would do going from `old` to `new`: inputs that differ are updates."""
    old, new = as_resources(old), as_resources(new)
    old_by_urn = {r.urn: r for r in old}
    new_urns = {r.urn for r in new}
    steps = {**node_steps(old), **node_steps(new)}
    changes = []
    for resource in new:
        before = old_by_urn.get(resource.urn)
        fields = changed_fields(before.inputs, resource.inputs) if before else []
        if before is None or fields:
            change = _change("add" if before is None else "change", resource, fields, steps)
            if before is not None:
                node = change.step.node if change.step else None
                values = value_changes(before.inputs, resource.inputs, node)
                change = replace(change, values=tuple(values))
            changes.append(change)
    for resource in old:
        if resource.urn not in new_urns:
            changes.append(_change("remove", resource, [], steps))
    return _without_parameter_triggers(changes)


def _without_parameter_triggers(changes: list[Change]) -> list[Change]:
    """Drop trigger values that are a node's script parameter shown already (a kubectl step's
    `triggers` carry the node's VFS, APP, ...)."""
    params: dict[str | None, set[tuple[str, str]]] = {}
    for change in changes:
        for value in change.values:
            if value.name.isupper():
                params.setdefault(value.node, set()).add((str(value.before), str(value.after)))

    def shown_already(value: ValueChange) -> bool:
        if value.name == DIGEST:  # follows from a parameter change of the node's scripts
            return value.node in params
        pair = (str(value.before), str(value.after))
        return value.name == TRIGGER_VALUE and pair in params.get(value.node, set())

    return [
        replace(change, values=tuple(v for v in change.values if not shown_already(v)))
        for change in changes
    ]


def _change(
    kind: str, resource: Resource, fields: Iterable[str], steps: Mapping[str, NodeStep]
) -> Change:
    return Change(
        kind, resource.urn, resource.type, resource.name, tuple(fields), steps.get(resource.urn)
    )


def render_diff(changes: Sequence[Change]) -> str:
    symbols = {"add": "+", "remove": "-", "change": "~"}
    counts = {kind: sum(c.kind == kind for c in changes) for kind in symbols}
    hardware = [c for c in changes if c.step and c.step.hardware]
    nodes = sorted({c.step.node for c in hardware if c.step})
    lines = [
        f"Against the baseline: {counts['add']} to add, {counts['change']} to change, "
        f"{counts['remove']} to remove; {len(hardware)} hardware steps on "
        f"{len(nodes)} nodes{(': ' + ', '.join(nodes)) if nodes else ''}"
    ]
    values = changed_values(changes)
    if values:
        lines.append("Changed values (review these first):")
        lines += [f"  {value.text()}" for value in values]
    for change in changes:
        what = "; ".join(
            f"{v.name} {shown(v.before)} -> {shown(v.after)}"
            for v in change.values
            if not _node_level(v)
        )
        if change.fields and not what:
            what = "re-runs for the node's values above"
        detail = f"  changes: {what}" if what else ""
        mark = _mark(change.step)
        lines.append(
            f" {symbols[change.kind]} {change.type}  {change.name}  {mark}{detail}".rstrip()
        )
    return "\n".join(lines)


# Parameters said once per node in "Changed values", not again on every step that carries them.
NODE_PARAMETERS_SHOWN = frozenset({DIGEST})


def _node_level(value: ValueChange) -> bool:
    """A change said once per node in "Changed values": a script parameter, the script text,
    the digest of the node's commands."""
    return value.node is not None and (
        value.name.isupper() or value.name in NODE_PARAMETERS_SHOWN or value.name == "script text"
    )


def changed_values(changes: Sequence[Change]) -> list[ValueChange]:
    """Every script parameter change, once per node (a node's VFS shows on several steps)."""
    seen: dict[tuple[str, str | None], ValueChange] = {}
    for change in changes:
        for value in change.values:
            if _node_level(value):
                seen.setdefault((value.name, value.node), value)
    return sorted(seen.values(), key=lambda v: (v.node or "", v.name))


# --- what the engine will do (tools/engine/ decides; this only renders) --------------------------

_OP_SYMBOLS = {
    Op.CREATE: "+",
    Op.UPDATE: "~",
    Op.REPLACE: "+-",
    Op.DELETE: "-",
}


def _operation_text(decision: Decision, has_update: bool) -> str:
    if decision.op is Op.UPDATE and decision.type in (REMOTE_COMMAND, LOCAL_COMMAND):
        return "update: runs its `update`" if has_update else "update: runs `create` again"
    if decision.op is Op.REPLACE and decision.delete_before_replace:
        return "replace, delete-before-replace: old `delete` first, then `create`"
    if decision.op is Op.REPLACE:
        return "replace, create-before-replace: `create` now, old `delete` with the deletes"
    return decision.label


def render_engine(
    rollout: Rollout, first: bool = False, reasons: Mapping[str, str] | None = None
) -> str:
    command = (
        "pulumi destroy"
        if rollout.plan.decisions and not any(d.op is not Op.DELETE for d in rollout.plan.decisions)
        else "pulumi up"
    )
    """Operations, the rollout order and the nodes out at once, as `tools.engine.analyse`
    found them. `first`: a first rollout (no baseline), whose operations are all creates."""
    plan = rollout.plan
    acting = [d for d in plan.decisions if d.op is not Op.SAME]
    counts = {op: sum(d.op is op for d in acting) for op in _OP_SYMBOLS}
    dbr = sum(d.op is Op.REPLACE and d.delete_before_replace for d in acting)
    retained = sum(d.retained for d in acting)
    lines = [
        "What the engine will do (rules of pulumi's step_generator.go, tools/engine/):",
        f"  {counts[Op.CREATE]} create, {counts[Op.UPDATE]} update, {counts[Op.REPLACE]} replace "
        f"({dbr} delete-before-replace), {counts[Op.DELETE]} delete ({retained} retained)"
        + (" (a first rollout: no --baseline, every resource is created)" if first else ""),
    ]
    for decision in [] if first else acting:
        why = (reasons or {}).get(decision.urn, "")
        steps = plan.chains.get(decision.urn, [])
        has_update = any(step.resource.inputs.get("update") for step in steps)
        operation = _operation_text(decision, has_update)
        lines.append(
            f"  {_OP_SYMBOLS[decision.op]:<2} {decision.name:<44} {operation}"
            + (f"  ({why})" if why else "")
        )
    lines += ["", *render_order(rollout, command), "", *render_restarts(rollout)]
    lines += render_disruption(rollout)
    lines += [f"  ERROR: {error}" for error in plan.errors]
    return "\n".join(lines)


def render_disruption(rollout: Rollout) -> list[str]:
    bound = rollout.max_unavailable
    left = [d.node for d in rollout.disruptions if d.end == NEVER]
    lines = [out_at_once(rollout)]
    decommissioned = decommissioning_nodes(rollout)
    if decommissioned:
        lines.append(
            f"  decommissioned in their lanes (drain, undo, uncordon), each free to leave "
            f"agilio-offload:nodes once this update finished: {', '.join(decommissioned)}"
        )
    if left:
        lines.append(f"  left drained (cordoned) when the run ends: {', '.join(left)}")
    if rollout.over_bound:
        waves = rollout.waves_over_bound()
        lines.append(
            f"  DISRUPTION OVER BOUND: up to {rollout.worst_case} nodes out at once, more than "
            f"rollout.maxUnavailable {bound}"
            + (f"; waves {', '.join(waves)}" if waves else " (with some step durations)")
        )
    return lines


def engine_json(rollout: Rollout) -> dict[str, Any]:
    return {
        "operations": [
            {
                "name": d.name,
                "urn": d.urn,
                "op": str(d.op),
                "deleteBeforeReplace": d.delete_before_replace,
                "retained": d.retained,
                "replaceKeys": list(d.replace_keys),
                "changed": list(d.changed),
                "decided": d.because,
            }
            for d in rollout.plan.decisions
            if d.op is not Op.SAME
        ],
        "waves": [
            {
                "wave": w.label,
                "steps": [{"op": str(s.op), "name": s.name} for s in w.steps if s.calls_provider],
                "nodeCommands": [
                    {"node": c.node, "step": c.step, "runs": c.what} for c in w.commands
                ],
                "nodesOut": list(w.disrupted),
            }
            for w in rollout.waves
            if any(s.calls_provider for s in w.steps)
        ],
        "datapathRestarts": [
            {
                "release": r.release,
                "why": list(r.why),
                "nodes": list(r.nodes),
                "atOnce": r.at_once,
                "strategy": r.strategy,
            }
            for r in rollout.datapath_restarts
        ],
        "maxUnavailable": rollout.max_unavailable,
        "worstCaseNodesOut": rollout.worst_case,
        "overBound": rollout.over_bound,
        "errors": list(rollout.plan.errors),
    }


# --- the command ----------------------------------------------------------------------------------


def plan(
    stack: str,
    stack_path: Path | None = None,
    last_outputs: Mapping[str, Any] | None = None,
    stack_values: tuple[dict[str, str], list[str]] | None = None,
) -> ProgramRun:
    """Run the program for `stack` (or the config in `stack_path`) under mocks, as a preview.

    `last_outputs` are what the stack exported last (a baseline plan's outputs.json): the
    program's change guard reads them through a StackReference to the stack itself.
    `stack_values`: the config and secret keys when the caller has read them already.
    """
    config, secret_keys = stack_values or stack_config(stack, stack_path=stack_path)
    own_stack = f"{ORGANIZATION}/{project_name()}/{stack}"
    # The drain prints the placeholder lease: `drained`'s command is the real script with
    # LEASE=<32 zeros> (the token exists once the drain ran), and a rehearsal can replay it.
    mocks = LeaseMocks({own_stack: last_outputs} if last_outputs else None)
    return run_program(config, stack=stack, secret_keys=secret_keys, preview=True, mocks=mocks)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.plan", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--stack", default="dev", help="stack name (default: dev)")
    parser.add_argument(
        "--stack-file", type=Path, help="config file to use instead of stacks/Pulumi.<stack>.yaml"
    )
    parser.add_argument("--out", type=Path, help="output directory (default: build/plan-<stack>)")
    parser.add_argument("--baseline", type=Path, help="an earlier plan's output directory")
    parser.add_argument(
        "--destroy",
        action="store_true",
        help="with --baseline: plan `pulumi destroy` of the baseline's resources",
    )
    parser.add_argument("--quiet", action="store_true", help="print the summary, not the tree")
    add_target_arguments(parser, "plan")
    return parser.parse_args(argv)


def _load_baseline(path: Path) -> list[Resource]:
    resources_file = path / "resources.json"
    if not resources_file.is_file():
        raise FileNotFoundError(f"--baseline {path}: no resources.json there (run the plan first)")
    return as_resources(json.loads(resources_file.read_text()))


def _baseline_outputs(path: Path | None) -> dict[str, Any] | None:
    outputs_file = path / "outputs.json" if path else None
    return json.loads(outputs_file.read_text()) if outputs_file and outputs_file.is_file() else None


def _load_access(path: Path) -> dict[str, Any] | None:
    """The baseline's SSH access summary (None for a plan older than the summary)."""
    access_file = path / access_summary.ACCESS_FILE
    return json.loads(access_file.read_text()) if access_file.is_file() else None


def _warnings(
    stack: str, stack_path: Path | None, values: Mapping[str, str]
) -> access_summary.ConfigWarnings:
    """The warnings `pulumi preview` prints for this config (also in `warnings.json`)."""
    found = access_summary.warnings_of_config_values(values)
    return access_summary.ConfigWarnings(
        found.unpinned, _esc_notes(stack, stack_path) + found.others
    )


def _esc_notes(stack: str, stack_path: Path | None) -> list[str]:
    """A note per Pulumi ESC environment the stack imports: not read by the plan."""
    try:
        environments = stack_environments(stack, stack_path)
    except ConfigError:
        return []  # the stack file's own error is reported by the plan
    return [
        f"the stack imports the Pulumi ESC environment {name!r}: its values reach `pulumi "
        "up`, not this plan (a key it sets is missing or different here)"
        for name in environments
    ]


def max_unavailable(config: Mapping[str, str]) -> int:
    """`rollout.maxUnavailable` of the stack's config values (the model's default when unset)."""
    rollout = json.loads(config.get(f"{project_name()}:rollout", "{}") or "{}")
    default = RolloutConfig.model_fields["max_unavailable"].default
    value = rollout.get("maxUnavailable", default) if isinstance(rollout, dict) else default
    return value if isinstance(value, int) and value >= 1 else default


def _report_engine(
    old: list[Resource],
    new: list[Resource],
    bound: int,
    first: bool = False,
    reasons: Mapping[str, str] | None = None,
    targets: Targets | None = None,
) -> tuple[int, str]:
    """Print what the engine will do; (exit code, engine.json text)."""
    rollout = analyse(old, new, bound, targets)
    print(render_engine(rollout, first, reasons))
    for name, node in hardware_without_drain(rollout.plan.decisions):
        print(
            f"plan: REFUSED ON THE NODE: {name} runs but {node}-drain does not (pulumi up "
            f"--target?): the node's drain lease refuses it; run without --target, or add "
            f"--target {node}-drain --target-dependents",
            file=sys.stderr,
        )
    text = json.dumps(engine_json(rollout), indent=2)
    if rollout.over_bound:
        waves = rollout.waves_over_bound()
        print(
            f"plan: DISRUPTION OVER BOUND: this change can take {rollout.worst_case} nodes out at "
            f"once ({', '.join(rollout.worst_case_nodes)}), rollout.maxUnavailable is {bound}"
            + (f"; waves {', '.join(waves)}" if waves else ""),
            file=sys.stderr,
        )
        return EXIT_OVER_BOUND, text
    return 0, text


def hardware_without_drain(decisions: Sequence[Decision]) -> list[tuple[str, str]]:
    """(step, node) of each hardware step that applies while its node's drain does not run
    (left out by --target): the step refuses on the node (components/node/lease.py)."""
    ops = {d.name: d.op for d in decisions}
    found = []
    for decision in decisions:
        for step in HARDWARE_STEPS:
            node = node_of_step(decision.name, step)
            runs = decision.op in (Op.CREATE, Op.UPDATE, Op.REPLACE)
            if (
                node is not None
                and runs
                and ops.get(f"{node}-drain") not in (Op.CREATE, Op.REPLACE)
            ):
                found.append((decision.name, node))
    return found


def _destroy(args: argparse.Namespace, baseline: list[Resource] | None, out: Path) -> int:
    if baseline is None:
        print(
            "plan: --destroy needs --baseline DIR (the plan of what is deployed)", file=sys.stderr
        )
        return 2
    print(f"pulumi destroy of the {len(baseline)} resources in {args.baseline}:")
    try:
        targets = targets_by_name(args.target, baseline, args.target_dependents)
    except TargetError as err:
        print(f"plan: {err}", file=sys.stderr)
        return 2
    code, text = _report_engine(
        baseline,
        [],
        max_unavailable(stack_config(args.stack, stack_path=args.stack_file)[0]),
        targets=targets,
    )
    write_files(out, {"engine.json": text})
    print(f"Plan written to {out}/")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    source = args.stack_file or stack_file(args.stack)
    out = args.out or Path("build") / f"plan-{args.stack}"
    if not source.is_file():
        print(f"plan: no stack config at {source}", file=sys.stderr)
        return 2
    problem = out_dir_problem(out)
    if problem:
        print(f"plan: {problem}", file=sys.stderr)
        return 2
    try:
        baseline = _load_baseline(args.baseline) if args.baseline else None
    except FileNotFoundError as err:
        print(f"plan: {err}", file=sys.stderr)
        return 2
    if args.destroy:
        return _destroy(args, baseline, out)
    print(
        f"Planning stack {args.stack} from {source} under the Pulumi mock engine...",
        file=sys.stderr,
    )
    for note in _esc_notes(args.stack, args.stack_file):
        print(f"note: {note}", file=sys.stderr)
    try:
        values = stack_config(args.stack, stack_path=args.stack_file)
    except ConfigError as err:  # the stack file itself (components.config.stack_file)
        print(f"plan: {err}", file=sys.stderr)
        return 2
    run = plan(args.stack, args.stack_file, _baseline_outputs(args.baseline), values)
    if isinstance(run.error, ConfigError):
        print(f"plan: {run.error}", file=sys.stderr)
        return 2
    if isinstance(run.error, ChangeRefused):
        print(f"plan: {run.error}", file=sys.stderr)
        return 3
    if run.error is not None:
        print(f"plan: the program failed: {type(run.error).__name__}: {run.error}", file=sys.stderr)
        return 1
    resources = [r.as_resource() for r in run.resources]
    access = access_summary.summary_of_config_values(values[0])
    changes = diff_resources(baseline, resources) if baseline is not None else None
    status = {
        c.urn: {"add": "+", "change": "~"}[c.kind] for c in changes or [] if c.kind != "remove"
    }
    if not args.quiet:
        print(render_tree(resources, status if changes is not None else None))
    print(summary(resources))
    print(access_summary.render_summary(access))
    warnings = _warnings(args.stack, args.stack_file, values[0])
    for warning in warnings.others:  # the access summary above says which nodes are unpinned
        print(f"warning: {warning}")
    extra = {
        access_summary.ACCESS_FILE: json.dumps(access, indent=2, sort_keys=True),
        access_summary.WARNINGS_FILE: json.dumps(warnings.all(), indent=2),
    }
    code = 0
    if changes is not None and baseline is not None:
        print(render_diff(changes))
        extra["diff.json"] = json.dumps([c.as_json() for c in changes], indent=2)
        old_access = _load_access(args.baseline)
        if old_access is None:
            print("SSH access: the baseline has no access.json (an older plan): not compared")
        else:
            trust = access_summary.trust_changes(old_access, access)
            print(access_summary.render_trust_changes(trust))
            extra[access_summary.TRUST_FILE] = json.dumps([t.as_json() for t in trust], indent=2)
    reasons = {c.urn: c.reason() for c in changes or [] if c.values}
    try:
        targets = targets_by_name(
            args.target, [*resources, *(baseline or [])], args.target_dependents
        )
    except TargetError as err:
        print(f"plan: {err}", file=sys.stderr)
        return 2
    code, extra["engine.json"] = _report_engine(
        baseline or [],
        resources,
        max_unavailable(values[0]),
        baseline is None,
        reasons,
        targets,
    )
    write_plan(out, resources, run.outputs, extra)
    print(f"Plan written to {out}/")
    return code


if __name__ == "__main__":
    sys.exit(main())
