"""Execute what the engine model decided, step by step, with real concurrency.

`tools.engine.plan_engine` decides (same, create, update, replace, delete and the delete waves);
this module runs each step as the providers would, in threads, in the engine's order:

- register phase: each resource's chain starts once every resource it waits for has finished
  its chain (`step_executor.go` `ExecuteSerial`, the SDK's `prepare_resource` awaits), at most
  `parallel` chains at once (`stepExecutor.worker`; pulumi's default is 4 x GOMAXPROCS,
  `up.go` `defaultParallel`);
- delete phase: the waves of `ScheduleDeletes`, each in parallel, each after the one before
  (`deployment_executor.go` `performPostSteps`);
- a failed step stops new steps everywhere; steps already running finish
  (`step_executor.go` `cancelDueToError` -> `se.cancel()`);
- the stack outputs are the program's when the register phase finished (the program ended and
  registered them), even if the delete phase fails afterwards; else the old ones
  (`step_executor.go` `executeRegisterResourceOutputs`, `deployment_executor.go` `Execute`).

A step runs as its provider runs it:
- `command:remote:Command`: `create` on create, `update` else `create` on update, `delete` with
  the stored OLD inputs on delete (pulumi-command `remote/commandController.go` Create/Update/
  Delete), over SSH to the node's emulated node; a failed create or update is not saved
  (pulumi-go-provider `infer/resource.go` returns an empty response on a plain error);
- `command:local:Command`: the same choice of text, run by `/bin/sh -c` (pulumi-command
  `local/commandOutputs.go`: the default interpreter on Linux) with the simulated cluster's
  environment (its `kubectl` front-end first on PATH);
- Kubernetes resources (and the helm Release): `SimCluster.apply_resource`.
A node's `drained` step gets the token its drain printed in this run (`outputs.py`: the program
ran under mocks, where the drain had printed nothing yet); the state keeps the command it ran.
After each remote step the node's VF facts go to the cluster (`set_node_devices`).
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

from components.names import LOCAL_COMMAND, REMOTE_COMMAND, SSH_RETURN_STEPS, step_of
from components.node.lease import DRAINED_STEP, drain_lease
from tools.engine import EnginePlan, Op, Resource, Step, Targets, command_text, plan_engine
from tools.engine.rollout_analysis import HARDWARE_STEPS, NODE_COMPONENT
from tools.rehearsal.outputs import PLACEHOLDER, lease_of, resolve_before_diff, with_lease
from tools.rehearsal.state import StackState

PROVIDER_PREFIX = "pulumi:providers:"
# Only `pulumi destroy` or an old-state step may meet these: they call no provider here.
NO_PROVIDER_TYPES = ("pulumi:pulumi:Stack",)


class Cluster(Protocol):
    """What the executor needs of `tools.rehearsal.cluster.SimCluster`."""

    def env(self) -> dict[str, str]: ...
    def apply_resource(self, op: str, new: Resource | None, old: Resource | None) -> None: ...
    def set_node_devices(self, node: str, vfs: Sequence[Mapping[str, str]]) -> None: ...
    def disrupted_nodes(self) -> set[str]: ...


class Remote(Protocol):
    """Runs one remote command on a node (the pulumi-command-like SSH client, or a stand-in)."""

    def run_on(self, node: str, connection: Mapping[str, Any], command: str) -> CommandResult: ...


class Devices(Protocol):
    def vfs(self, name: str) -> list[dict[str, str]]: ...


@dataclass(frozen=True)
class CommandResult:
    stdout: str
    stderr: str
    exit: int


@dataclass
class StepRecord:
    """One executed step as the report shows it."""

    id: str
    op: str
    name: str
    type: str
    node: str | None
    phase: str  # "register" or "delete"
    wave: int | None  # the delete wave (1-based), None in the register phase
    start: float = 0.0
    end: float = 0.0
    ok: bool = True
    skipped: bool = False  # a step that calls no provider (same, component, retained)
    error: str = ""
    output: str = ""

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Outcome:
    """What one rehearsal did and left."""

    plan: EnginePlan
    steps: list[StepRecord]
    state: StackState
    finished: bool
    failed_step: str | None = None
    failure: str = ""
    peak_disrupted: int = 0
    peak_nodes: list[str] = field(default_factory=list)
    disrupted_timeline: list[tuple[float, list[str]]] = field(default_factory=list)

    @property
    def provider_steps(self) -> list[StepRecord]:
        return [s for s in self.steps if not s.skipped]


class StepFailedError(Exception):
    pass


@dataclass
class Rehearsal:
    """One `pulumi up` (or destroy) from `old` to `new`, executed."""

    cluster: Cluster
    remote: Remote
    devices: Devices
    agilio_nodes: Sequence[str]  # the Agilio nodes whose disruption counts
    parallel: int | None = 8
    local_timeout: float = 900.0
    echo: Callable[[str], None] = print
    cwd: str | None = None
    _records: list[StepRecord] = field(default_factory=list, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _cancelled: threading.Event = field(default_factory=threading.Event, init=False)
    _hardware_running: dict[str, int] = field(default_factory=dict, init=False)
    _peak: tuple[int, list[str]] = (0, [])
    _timeline: list[tuple[float, list[str]]] = field(default_factory=list, init=False)
    _t0: float = 0.0
    _history_start: int = 0
    _parents: dict[str, str] = field(default_factory=dict, init=False)
    _drain_stdout: dict[str, str] = field(default_factory=dict, init=False)

    # --- the whole run ---

    def run(
        self,
        old: StackState,
        new: Sequence[Resource] | None,
        outputs: Mapping[str, Any] | None = None,
        targets: Targets | None = None,
    ) -> Outcome:
        """`new=None` is `pulumi destroy`. `outputs`: what the program registers at its end.
        `targets`: `--target` (None: everything)."""
        new_resources = list(new or [])
        plan = plan_engine(old.resources, new_resources, targets)
        new_resources = resolve_before_diff(plan, old.resources, new_resources)
        plan = plan_engine(old.resources, new_resources, targets)
        self._t0 = time.monotonic()
        self._parents = _node_parents([*old.resources, *new_resources])
        self._history_start = len(self._cluster_history())
        self._sample()
        if plan.errors:
            return self._outcome(plan, old, old, False, "(plan)", "; ".join(plan.errors))
        applied: dict[str, Resource] = {}  # urn -> state after its chain
        failure = self._register_phase(plan, applied)
        state = _state_after_register(old, new_resources, applied)
        registered = failure is None
        if registered:
            state.outputs = {**old.outputs, **(outputs or {})} if new is not None else {}
        if failure is None:
            failure = self._delete_phase(plan, state)
        self._sample()
        finished = failure is None
        step_id, why = failure or (None, "")
        return self._outcome(plan, old, state, finished, step_id, why)

    def _cluster_history(self) -> list[dict[str, Any]]:
        """Every change of the cluster's disrupted set as its controllers ticked (also inside
        one step: a DaemonSet rolling ovs-ovn node by node during a helm upgrade)."""
        history = getattr(self.cluster, "disruption_history", None)
        return list(history()) if history is not None else []

    def _peak_with_history(self) -> tuple[int, list[str]]:
        peak = self._peak
        for entry in self._cluster_history()[self._history_start :]:
            nodes = sorted(set(entry["nodes"]) & set(self.agilio_nodes))
            if len(nodes) > peak[0]:
                peak = (len(nodes), nodes)
        return peak

    def _outcome(
        self,
        plan: EnginePlan,
        old: StackState,
        state: StackState,
        finished: bool,
        step_id: str | None,
        why: str,
    ) -> Outcome:
        return Outcome(
            plan=plan,
            steps=list(self._records),
            state=state,
            finished=finished,
            failed_step=step_id,
            failure=why,
            peak_disrupted=self._peak_with_history()[0],
            peak_nodes=self._peak_with_history()[1],
            disrupted_timeline=list(self._timeline),
        )

    # --- register phase ---

    def _register_phase(
        self, plan: EnginePlan, applied: dict[str, Resource]
    ) -> tuple[str, str] | None:
        waiting = {urn: set(needs) for urn, needs in plan.waits_for.items()}
        done: set[str] = set()
        failure: tuple[str, str] | None = None
        workers = self.parallel or max(1, len(plan.chains))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            running: dict[Future[Resource | None], str] = {}
            while True:
                if not self._cancelled.is_set():
                    for urn in [u for u, needs in waiting.items() if not needs - done]:
                        del waiting[urn]
                        running[pool.submit(self._run_chain, plan.chains[urn])] = urn
                if not running:
                    break
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in finished:
                    urn = running.pop(future)
                    try:
                        result = future.result()
                    except StepFailedError as err:
                        failure = failure or (str(err.args[0]), str(err.args[1]))
                        continue
                    if result is not None:
                        applied[urn] = result
                    done.add(urn)
        if failure is None and waiting:
            failure = ("(register)", f"{len(waiting)} resources never became ready")
        return failure

    def _run_chain(self, chain: Sequence[Step]) -> Resource | None:
        """Run one chain; the resource's state after it (None: nothing to record)."""
        result: Resource | None = None
        for step in chain:
            if self._cancelled.is_set():
                raise StepFailedError(step.id, "cancelled")
            ran = self._execute(step, phase="register", wave=None)
            if step.op in (Op.CREATE, Op.UPDATE, Op.CREATE_REPLACEMENT, Op.SAME):
                result = ran
        return result

    # --- delete phase ---

    def _delete_phase(self, plan: EnginePlan, state: StackState) -> tuple[str, str] | None:
        for number, wave in enumerate(plan.delete_waves, start=1):
            if self._cancelled.is_set():
                break
            failure = self._run_wave(wave, number, state)
            if failure is not None:
                return failure
        return None

    def _run_wave(
        self, wave: Sequence[Step], number: int, state: StackState
    ) -> tuple[str, str] | None:
        failure: tuple[str, str] | None = None
        workers = min(self.parallel or len(wave), len(wave)) or 1
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(self._execute, step, "delete", number): step for step in wave}
            for future in futures:
                step = futures[future]
                try:
                    future.result()
                except StepFailedError as err:
                    failure = failure or (str(err.args[0]), str(err.args[1]))
                    continue
                _forget(state, step)
        return failure

    # --- one step ---

    def _execute(self, step: Step, phase: str, wave: int | None) -> Resource:
        """Run one step; the resource as it ran (a `drained` step with its real token)."""
        node = self._node_of(step.resource)
        step = self._with_drain_lease(step, node)
        resource = step.resource
        record = StepRecord(
            id=step.id,
            op=str(step.op),
            name=resource.name,
            type=resource.type,
            node=node,
            phase=phase,
            wave=wave,
            skipped=not _calls_provider(step),
        )
        record.start = self._now()
        if record.skipped:
            record.end = record.start
            with self._lock:
                self._records.append(record)
            return resource
        # A hardware step with no command to run (a decommissioned node's delete: pulumi-command
        # remote/commandController.go `Delete` returns before dialing when `Delete` is nil)
        # touches no node.
        hardware = (
            node is not None
            and step_of(resource.name, node) in HARDWARE_STEPS
            and bool(command_text(step.op, resource.inputs))
        )
        if hardware and resource.type == REMOTE_COMMAND:
            self._hardware(node, +1)
        self._say(record, "...")
        try:
            record.output = self._call_provider(step, node)
        except StepFailedError as err:
            record.ok, record.error = False, str(err.args[1])
        finally:
            if hardware and resource.type == REMOTE_COMMAND:
                self._hardware(node, -1)
            record.end = self._now()
            with self._lock:
                self._records.append(record)
            self._sample()
        self._say(record, "ok" if record.ok else f"FAILED: {_last_lines(record.error, 6)}")
        if not record.ok:
            self._cancelled.set()
            raise StepFailedError(step.id, record.error)
        return resource

    def _with_drain_lease(self, step: Step, node: str | None) -> Step:
        """A `drained` step whose token is still the placeholder gets the one its node's drain
        printed in this run ("" when it printed none: the step then refuses)."""
        resource = step.resource
        if node is None or step.op in (Op.DELETE, Op.DELETE_REPLACED):
            return step
        if step_of(resource.name, node) != DRAINED_STEP:
            return step
        if lease_of(resource.inputs) != PLACEHOLDER:
            return step
        with self._lock:
            token = drain_lease(node, self._drain_stdout.get(node, ""))
        inputs = with_lease(resource.inputs, token)
        return Step(step.op, dataclasses.replace(resource, inputs=inputs), step.retained)

    def _call_provider(self, step: Step, node: str | None) -> str:
        resource = step.resource
        if resource.type == REMOTE_COMMAND:
            return self._remote(step, node)
        if resource.type == LOCAL_COMMAND:
            return self._local(step, node)
        op = "delete" if step.op in (Op.DELETE, Op.DELETE_REPLACED) else "create"
        if step.op is Op.UPDATE:
            op = "update"
        new = None if op == "delete" else resource
        old = resource if op == "delete" else None
        try:
            self.cluster.apply_resource(op, new, old)
        except Exception as err:
            raise StepFailedError(step.id, f"{type(err).__name__}: {err}") from err
        return ""

    def _remote(self, step: Step, node: str | None) -> str:
        text = command_text(step.op, step.resource.inputs)
        if not text:
            return ""
        if node is None:
            raise StepFailedError(step.id, "remote command of no Agilio node: nowhere to run it")
        connection = step.resource.inputs.get("connection") or {}
        result = self.remote.run_on(node, connection, text)
        if node in self.agilio_nodes:
            self.cluster.set_node_devices(node, self.devices.vfs(node))
        return _finish(step, result, text)

    def _local(self, step: Step, node: str | None) -> str:
        text = command_text(step.op, step.resource.inputs)
        if not text:
            return ""
        env = {**os.environ, **self.cluster.env()}
        env.update({k: str(v) for k, v in (step.resource.inputs.get("environment") or {}).items()})
        if node in self.agilio_nodes and step_of(step.resource.name, node) in SSH_RETURN_STEPS:
            text, env = self._at_emulated_node(node, text, env)
        try:
            done = subprocess.run(
                ["/bin/sh", "-c", text],
                capture_output=True,
                text=True,
                env=env,
                cwd=self.cwd,
                timeout=self.local_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise StepFailedError(
                step.id, f"still running after {self.local_timeout:g} s (rehearsal bound)"
            ) from None
        if node is not None and step_of(step.resource.name, node) == "drain":
            with self._lock:
                self._drain_stdout[node] = done.stdout
        return _finish(step, CommandResult(done.stdout, done.stderr, done.returncode), text)

    def _at_emulated_node(
        self, node: str, text: str, env: dict[str, str]
    ) -> tuple[str, dict[str, str]]:
        """An ssh-return probe as it runs here: aimed at the emulated node's SSH port (never at
        the stack's own address, which is not on this machine), and given the driver step's
        stdout of this run (pulumi resolves `environment` from the driver's output; the plan
        under mocks has no real one)."""
        target = self.remote.fleet.nodes[node].connection()
        lines = []
        for line in text.split("\n"):
            if line.startswith("HOST="):
                line = f"HOST={shlex.quote(target.host)}"
            elif line.startswith("PORT="):
                line = f"PORT={int(target.port)}"
            lines.append(line)
        driver = f"{node}-driver"
        with self._lock:
            outputs = [r.output for r in self._records if r.name == driver and r.ok]
        env["AGILIO_DRIVER_FACTS"] = outputs[-1] if outputs else ""
        return "\n".join(lines), env

    # --- disruption sampling ---

    def _hardware(self, node: str, delta: int) -> None:
        with self._lock:
            self._hardware_running[node] = self._hardware_running.get(node, 0) + delta
        self._sample()

    def _sample(self) -> None:
        """The Agilio nodes cordoned or disrupted now: the cluster's view plus the nodes whose
        hardware step is running (a reload takes the node's datapath down whatever the cluster
        shows)."""
        disrupted = set(self.cluster.disrupted_nodes()) & set(self.agilio_nodes)
        with self._lock:
            disrupted |= {n for n, count in self._hardware_running.items() if count > 0}
            now = sorted(disrupted)
            if not self._timeline or self._timeline[-1][1] != now:
                self._timeline.append((round(self._now(), 3), now))
            if len(now) > self._peak[0]:
                self._peak = (len(now), now)

    # --- helpers ---

    def _node_of(self, resource: Resource) -> str | None:
        parent = self._parents.get(resource.parent or "")
        if parent:
            return parent
        matches = [n for n in self.agilio_nodes if resource.name.startswith(f"{n}-")]
        matches += [n for n in self.agilio_nodes if resource.name.endswith(f"-{n}")]
        return max(matches, key=len) if matches else None

    def _now(self) -> float:
        return time.monotonic() - self._t0

    def _say(self, record: StepRecord, what: str) -> None:
        where = record.node or "-"
        wave = f"wave {record.wave}" if record.wave else record.phase
        self.echo(
            f"[{record.start:7.2f}s] {where:<16} {wave:<9} {record.op:<18} {record.name}: {what}"
        )


def _calls_provider(step: Step) -> bool:
    resource = step.resource
    if not step.calls_provider:
        return False
    return not resource.type.startswith(PROVIDER_PREFIX) and resource.type not in NO_PROVIDER_TYPES


def _finish(step: Step, result: CommandResult, text: str) -> str:
    if result.exit != 0:
        # pulumi-command commandOutputs.go run: "%w: running %q:\n%s" with the combined output.
        raise StepFailedError(
            step.id,
            f"exit status {result.exit}: running {step.resource.name!r}:\n"
            f"{result.stdout}{result.stderr}",
        )
    return (result.stdout + result.stderr)[-2000:]


def _last_lines(text: str, count: int) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-count:])


def _node_parents(resources: Sequence[Resource]) -> dict[str, str]:
    return {r.urn: r.name for r in resources if r.type == NODE_COMPONENT}


def _state_after_register(
    old: StackState, new: Sequence[Resource], applied: Mapping[str, Resource]
) -> StackState:
    """The checkpoint after the register phase: each new resource whose chain finished with its
    new state; one whose chain failed or never ran keeps its old state (a failed create is not
    saved); old resources the program no longer registers stay until their delete runs."""
    old_by_urn = old.by_urn()
    new_urns = {r.urn for r in new}
    resources = [applied.get(r.urn) or old_by_urn.get(r.urn) for r in new]
    kept = [r for r in resources if r is not None]
    kept += [r for r in old.resources if r.urn not in new_urns]
    return StackState(kept, dict(old.outputs))


def _forget(state: StackState, step: Step) -> None:
    """A delete that finished: the old resource leaves the checkpoint (a delete-replaced one
    leaves its old copy only: the replacement with the same URN was already recorded)."""
    if step.op is Op.DELETE:
        state.resources = [r for r in state.resources if r.urn != step.resource.urn]
