"""A whole rehearsal: run the real program for the stack's config under the mock driver, start
an emulated node per Agilio node, seed the simulated cluster, execute the engine's steps, and
check the end state against the config."""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.names import AGILIO_NODE_LABEL, AGILIO_NODE_LABEL_VALUE
from components.waits import Waits, waits_for_run
from tools.engine import EnginePlan, ProgramRun, Resource, analyse, targets_by_name
from tools.engine.mock_driver import (
    ORGANIZATION,
    project_name,
    run_program,
    stack_config,
)
from tools.rehearsal.executor import Cluster, Outcome, Rehearsal
from tools.rehearsal.fleet import Fleet
from tools.rehearsal.outputs import LeaseMocks
from tools.rehearsal.remote import FleetRemote
from tools.rehearsal.state import StackState

# The program's wait bounds for a rehearsal: the simulated cluster and the emulated nodes answer
# within a second. The ssh-return probe watches the port for `ssh_gone_seconds` even when no
# reload went detached (a destroy's probe cannot know); on an emulated node a detached reload
# starts 2 s after it is armed, so a few seconds show it.
REHEARSAL_WAITS = Waits(
    pf_seconds=30, ssh_gone_seconds=4, vfs_advertised_seconds=20, vfs_advertised_interval=0.2
)


@dataclass
class StackRun:
    """The program's registrations for one config, with the real input values."""

    run: ProgramRun
    config: dict[str, Any]  # the stack's config values by short key, parsed

    @property
    def resources(self) -> list[Resource]:
        return [
            dataclasses.replace(r.as_resource(), inputs=r.revealed_inputs)
            for r in self.run.resources
        ]

    def nodes(self) -> list[dict[str, Any]]:
        return list(self.config.get("nodes") or [])

    def expected_vfs(self) -> dict[str, int]:
        """The nodes that keep the offload, with their VF counts: a decommissioned node is
        expected as one out of the config (0 VFs, no label, schedulable)."""
        default = int(self.config.get("vfs") or 0)
        return {
            n["name"]: int(n.get("vfs", default)) for n in self.nodes() if not n.get("decommission")
        }


def run_stack_program(
    stack: str,
    overrides: Mapping[str, Any] | None,
    last_outputs: Mapping[str, Any] | None,
    waits: Waits,
    stack_path: Path | None = None,
) -> StackRun:
    """The program under the mock driver, as `pulumi up` would run it for `stack`: the change
    guard reads `last_outputs` through its StackReference to the stack itself."""
    config, secret_keys = stack_config(stack, overrides, stack_path=stack_path)
    own = f"{ORGANIZATION}/{project_name()}/{stack}"
    mocks = LeaseMocks({own: dict(last_outputs)} if last_outputs else None)
    with waits_for_run(waits):
        run = run_program(config, stack=stack, secret_keys=secret_keys, preview=True, mocks=mocks)
    prefix = f"{project_name()}:"
    values = {k.removeprefix(prefix): _parse(v) for k, v in config.items()}
    return StackRun(run, values)


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def open_cluster(state_dir: Path, contexts: Sequence[str]) -> Cluster:
    """The simulated cluster (`tools.rehearsal.cluster.SimCluster`)."""
    module = importlib.import_module("tools.rehearsal.cluster")
    return module.SimCluster(state_dir, contexts=tuple(contexts))


def contexts_of(config: Mapping[str, Any]) -> list[str]:
    kubernetes = config.get("kubernetes") or {}
    context = kubernetes.get("context") if isinstance(kubernetes, dict) else None
    return [context] if context else ["sim"]


@dataclass
class Result:
    """One rehearsal's outcome, end state and figures."""

    outcome: Outcome
    end_state: list[str]  # mismatches against the config; empty: the end state is the config
    max_unavailable: int
    changes: int  # provider steps run
    waves: int
    extra: dict[str, Any] = field(default_factory=dict)
    # The plan tool's "Nodes out at once" for the same change (tools.engine.analyse): the most
    # nodes out in any order the engine may run the steps; None when the program failed.
    planned_peak: int | None = None

    @property
    def finished(self) -> bool:
        return self.outcome.finished


def rehearse(
    *,
    stack: str,
    old: StackState,
    cluster: Cluster,
    fleet: Fleet,
    overrides: Mapping[str, Any] | None = None,
    destroy: bool = False,
    waits: Waits = REHEARSAL_WAITS,
    parallel: int | None = 8,
    echo: Callable[[str], None] = print,
    stack_path: Path | None = None,
    replay: StackState | None = None,
    targets: Sequence[str] = (),
    target_dependents: bool = False,
) -> Result:
    """Rehearse `pulumi up` (or `pulumi destroy`) of `stack` from `old` on `fleet` and
    `cluster`, which must already hold what the stack found there. `replay`: roll out that
    state's resources instead of the program's (a baseline to start a change from).
    `targets`: `--target` (resource names or URNs; empty: every resource)."""
    program = run_stack_program(stack, overrides, old.outputs, waits, stack_path)
    if program.run.error is not None and not destroy and replay is None:
        # `pulumi up` stops before any step: the engine deletes nothing after a failed program.
        return _program_failed(old, program, str(program.run.error))
    config_nodes = [(n["name"], n.get("pf", "")) for n in program.nodes()]
    new_resources = program.resources
    outputs = program.run.outputs
    if replay is not None:
        new_resources, outputs = replay.resources, replay.outputs
        config_nodes = _agilio_nodes_of(replay.resources)
    old_nodes = _agilio_nodes_of(old.resources)
    fleet.ensure([*config_nodes, *((n, pf) for n, pf in old_nodes if n not in dict(config_nodes))])
    agilio = sorted({*dict(config_nodes), *dict(old_nodes)})
    remote = FleetRemote(fleet)
    rehearsal = Rehearsal(
        cluster=cluster,
        remote=remote,
        devices=fleet,
        agilio_nodes=agilio,
        parallel=parallel,
        echo=echo,
    )
    wanted = targets_by_name(targets, [*new_resources, *old.resources], target_dependents)
    try:
        new = None if destroy else new_resources
        outcome = rehearsal.run(old, new, outputs, wanted)
    finally:
        remote.close()
    expected = {} if destroy else program.expected_vfs()
    bound = int((program.config.get("rollout") or {}).get("maxUnavailable", 1))
    planned = analyse(old.resources, [] if destroy else new_resources, bound, wanted).worst_case
    return Result(
        outcome=outcome,
        end_state=end_state_problems(
            cluster, fleet, agilio, expected, str(program.run.outputs.get("sriovResource", ""))
        ),
        max_unavailable=bound,
        changes=len(outcome.provider_steps),
        waves=len(outcome.plan.delete_waves),
        planned_peak=planned,
    )


def _program_failed(old: StackState, program: StackRun, error: str) -> Result:
    outcome = Outcome(
        plan=EnginePlan([], {}, {}, []),
        steps=[],
        state=old,
        finished=False,
        failed_step="(program)",
        failure=error,
    )
    bound = int((program.config.get("rollout") or {}).get("maxUnavailable", 1))
    return Result(outcome=outcome, end_state=[], max_unavailable=bound, changes=0, waves=0)


def _agilio_nodes_of(resources: Sequence[Resource]) -> list[tuple[str, str]]:
    """(node, pf) of the AgilioNode components in a state (the pf from its vfs step)."""
    found = []
    for resource in resources:
        if resource.type == "agilio-offload:index:AgilioNode":
            pf = ""
            for other in resources:
                if other.name == f"{resource.name}-vfs":
                    pf = str((other.inputs.get("triggers") or [""])[0])
            found.append((resource.name, pf or "ens1np0"))
    return found


def end_state_problems(
    cluster: Cluster,
    fleet: Fleet,
    agilio: Sequence[str],
    expected_vfs: Mapping[str, int],
    resource: str,
) -> list[str]:
    """What differs from the config: each configured node offloaded with its VFs, labelled,
    schedulable; each node out of the config (or every node after destroy) back to 0 VFs,
    unlabelled, schedulable and without `pulumi.com/*` annotations; no Node that kubelet did
    not register."""
    problems: list[str] = []
    resource = resource or "corigine.com/agilio_sriov"
    snapshot_node = cluster.node
    for name in agilio:
        want = expected_vfs.get(name, 0)
        have = fleet.numvfs(name) if name in fleet.nodes else 0
        if have != want:
            problems.append(f"{name}: {have} VFs on the card, config says {want}")
        node = snapshot_node(name)
        if node is None:
            if name in expected_vfs:
                problems.append(f"{name}: no Node object")
            continue
        problems += _node_problems(name, node, want, resource, in_config=name in expected_vfs)
    return problems


def _node_problems(
    name: str, node: Mapping[str, Any], want: int, resource: str, in_config: bool
) -> list[str]:
    problems = []
    meta = node.get("metadata") or {}
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    if not any(entry.get("manager") == "kubelet" for entry in meta.get("managedFields") or []):
        # kubelet registers its Node (kubelet_node_status.go `registerWithAPIServer`, manager
        # "kubelet"); one without is a phantom a server-side apply created (issue 17).
        problems.append(f"{name}: a Node no kubelet registered (a phantom a step created)")
    if (node.get("spec") or {}).get("unschedulable"):
        problems.append(f"{name}: still cordoned")
    if in_config:
        if labels.get(AGILIO_NODE_LABEL) != AGILIO_NODE_LABEL_VALUE:
            problems.append(f"{name}: no {AGILIO_NODE_LABEL}={AGILIO_NODE_LABEL_VALUE} label")
        allocatable = (node.get("status") or {}).get("allocatable") or {}
        if str(allocatable.get(resource, "0")) != str(want):
            problems.append(
                f"{name}: allocatable {resource}={allocatable.get(resource)}, want {want}"
            )
        return problems
    if AGILIO_NODE_LABEL in labels:
        problems.append(f"{name}: left the config but keeps the {AGILIO_NODE_LABEL} label")
    leftovers = sorted(k for k in annotations if k.startswith("pulumi.com/"))
    if leftovers:
        problems.append(f"{name}: pulumi annotations left behind: {', '.join(leftovers)}")
    return problems


def seed_cluster(cluster: Any, config: Mapping[str, Any]) -> None:
    """What the cluster holds before the stack: its nodes (the Agilio nodes, the Kube-OVN
    masters as control-plane nodes) and, with `kubeOvn.install: existing`, a running Kube-OVN
    (installed by install.sh, hardware offload on)."""
    kube_ovn = config.get("kubeOvn") or {}
    for master in kube_ovn.get("masterNodes") or []:
        cluster.add_node(master["name"], control_plane=True)
    for node in config.get("nodes") or []:
        cluster.add_node(node["name"])
    if kube_ovn.get("install") == "existing":
        cluster.install_kube_ovn(how="install.sh", version="v1.16.2", hw_offload=True)
