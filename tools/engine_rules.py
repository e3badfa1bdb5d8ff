"""What the Pulumi engine will do with a plan: operations, their order, the nodes they disrupt.

The mock engine (`tools/engine/mock_driver.py`) records what the program registers; this module says
what `pulumi up` (or `pulumi destroy`) then does with it, going from an earlier plan's
`resources.json` to a new one. It is shaped like the engine's own
`pkg/resource/deploy/step_generator.go` (read at pulumi v3.259.0, the newest source stored; the
SDK here is 3.272.0): a closed list of operations named as in `step.go`, one function per
decision, each decision written as "decided to ...", and the providers' replace rules in one
table (`PROVIDER_RULES`) that names the function each fact comes from.

What the engine source says, and this module follows:

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
- **Replace or update** (`stepGenerator.continueStepsFromDiff`): the provider's `Diff`, then
  the resource's `replaceOnChanges` (`applyReplaceOnChanges`); any replace key means replace,
  other changes mean update. Delete-before-replace comes from the provider unless the program
  set `deleteBeforeReplace`; such a replace is one chain: the deletes of dependents that would
  be replaced too (`calculateDependentReplacements`: only through property dependencies whose
  change forces a replace, the provider, or `deletedWith`; a plain `depends_on` does not count),
  the old resource's delete, then the new create, each delete just before its own create: a
  node's steps are undone and re-applied step by step, not the whole node first.
  Create-before-replace creates the new one now; the old one is deleted with the deletes at the
  end ("Planner decided to delete ... due to replacement" in `GenerateDeletes`).
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
- **Delete of a retained resource** (`retainOnDelete`) is still a step, but calls no provider
  (`DeleteStep.Apply`); so is a delete of a resource `deletedWith` another one being deleted.

Where the model stops: the providers' diffs are computed here from the recorded inputs (two
previews compare "[unknown]" and "[secret]" as equal strings, so a change hidden in an unknown
or a secret value is invisible), the engine's default providers are not in the plan (they are
deleted last, after everything else), and nothing of the cluster's live state is known.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

Resource = Mapping[str, Any]

# --- the operations -----------------------------------------------------------------------------


class Op(StrEnum):
    """The engine's step kinds this program meets, named as in `step.go`."""

    SAME = "same"  # nothing to do.
    CREATE = "create"  # creating a new resource.
    UPDATE = "update"  # updating an existing resource (pulumi-command: runs `create` again).
    DELETE = "delete"  # deleting an existing resource.
    REPLACE = "replace"  # replacing a resource with a new one (the logical step).
    CREATE_REPLACEMENT = "create-replacement"  # creating a new resource for a replacement.
    DELETE_REPLACED = "delete-replaced"  # deleting an existing resource after replacement.


# --- which inputs force a replacement, per resource type ------------------------------------------


@dataclass(frozen=True)
class ProviderRule:
    """How one provider diffs one resource type (`Diff` of the provider, as named in `source`)."""

    replace_paths: tuple[str, ...]  # input paths whose change forces a replace
    delete_before_replace: str  # "never", or "same-name": when the replacement keeps its name
    source: str


_K8S_DIFF = "pulumi-kubernetes provider/pkg/provider/provider.go kubeProvider.Diff"
_K8S_FORCE_NEW = "provider/pkg/provider/diff.go forceNewProperties"
_K8S_METADATA = ("metadata.name", "metadata.namespace")
_COMMAND = ProviderRule(
    ("triggers",),
    "never",
    "pulumi-command v1.2.1 provider/pkg/provider/common/inputs.go: `triggers` is tagged "
    'provider:"replaceOnChanges"; pulumi-go-provider v1.3.0 infer/resource.go '
    "derivedResourceController.Diff: with CustomUpdate only those fields replace, every other "
    "change is an update, and DeleteBeforeReplace is never set. The SDK also sends "
    'replace_on_changes=["triggers[*]"]. Update runs `update`, else `create` again '
    "(remote/commandController.go, local/commandController.go Command.Update)",
)
_K8S_OBJECT = ProviderRule(
    _K8S_METADATA,
    "same-name",
    f"{_K8S_DIFF}: identity (.metadata.name/.namespace) always replaces; {_K8S_FORCE_NEW} adds "
    "per-kind fields; delete-before-replace when the replacement keeps name and namespace",
)
PROVIDER_RULES: dict[str, ProviderRule] = {
    "command:remote:Command": _COMMAND,
    "command:local:Command": _COMMAND,
    "kubernetes:apps/v1:DaemonSet": ProviderRule(
        (*_K8S_METADATA, "spec.selector"),
        "same-name",
        f"{_K8S_FORCE_NEW} (daemonset: .spec.selector and its matchLabels/matchExpressions, "
        f"immutable in Kubernetes); {_K8S_DIFF}",
    ),
    "kubernetes:core/v1:ConfigMap": ProviderRule(
        (*_K8S_METADATA, "data", "binaryData"),
        "same-name",
        f"{_K8S_FORCE_NEW}: a ConfigMap's .data/.binaryData replace unless the provider sets "
        f"enableConfigMapMutable (this program does not); {_K8S_DIFF}",
    ),
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": ProviderRule(
        (*_K8S_METADATA, "roleRef"),
        "same-name",
        f"{_K8S_FORCE_NEW} (roleBinding: .roleRef, immutable in Kubernetes); {_K8S_DIFF}",
    ),
    "kubernetes:core/v1:NodePatch": ProviderRule(
        _K8S_METADATA,
        "same-name",
        f"{_K8S_DIFF}: a Patch resource replaces only on .metadata.name/.namespace "
        "(kinds.IsPatchResource); everything else is a server-side-apply update",
    ),
    "kubernetes:helm.sh/v3:Release": ProviderRule(
        ("name", "namespace"),
        "never",
        "pulumi-kubernetes provider/pkg/provider/helm_release.go helmReleaseProvider.Diff: "
        'forceNewFields ".name", ".namespace"; DeleteBeforeReplace: false',
    ),
    "pulumi:providers:kubernetes": ProviderRule(
        ("kubeconfig", "context", "cluster", "renderYamlToDirectory", "clusterIdentifier"),
        "never",
        "pulumi-kubernetes provider.go kubeProvider.DiffConfig: a change of kubeconfig/context/"
        "cluster replaces when the active cluster changes (not knowable offline: planned as a "
        "replace), renderYamlToDirectory and clusterIdentifier always; a replaced provider "
        "replaces every resource it manages (step_generator.go providerChanged)",
    ),
}
# Any other Kubernetes object: identity only (no per-kind entry in forceNewProperties).
KUBERNETES_DEFAULT = _K8S_OBJECT
# A resource type this table does not know: every change planned as an update, and said so.
UNKNOWN_RULE = ProviderRule((), "never", "not modelled: planned as an update")


def provider_rule(resource: Resource) -> ProviderRule:
    type_ = resource["type"]
    if type_ in PROVIDER_RULES:
        return PROVIDER_RULES[type_]
    return KUBERNETES_DEFAULT if type_.startswith("kubernetes:") else UNKNOWN_RULE


# --- paths ----------------------------------------------------------------------------------------


def _path_parts(path: str) -> list[str]:
    """`a.b[0].c` -> ["a", "b", "0", "c"]; `triggers[*]` -> ["triggers", "*"]."""
    return [part for part in path.replace("[", ".").replace("]", "").split(".") if part]


def path_contains(outer: str, inner: str) -> bool:
    """Whether `inner` lies at or under `outer` (`*` matches any one element), as
    `resource.PropertyPath.Contains` does for `replaceOnChanges` and `ignoreChanges`."""
    outer_parts, inner_parts = _path_parts(outer), _path_parts(inner)
    if len(inner_parts) < len(outer_parts):
        return False
    return all(o in ("*", i) for o, i in zip(outer_parts, inner_parts, strict=False))


def changed_fields(old: Any, new: Any, path: str = "") -> list[str]:
    """Dotted paths of the leaves that differ between two input values."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            found += (
                changed_fields(old.get(key), new.get(key), sub)
                if key in old and key in new
                else [sub]
            )
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        found = []
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            found += changed_fields(a, b, f"{path}[{index}]")
        return found
    return [] if old == new else [path or "(value)"]


# --- one resource: diff, then replace-on-changes, then replace or update -------------------------


@dataclass(frozen=True)
class Diff:
    """A provider's answer to `Diff`, after the engine applied `replaceOnChanges`."""

    changed: tuple[str, ...]
    replace_keys: tuple[str, ...]
    provider_delete_before_replace: bool


@dataclass(frozen=True)
class Decision:
    """What the engine decided for one resource, and why."""

    op: Op  # SAME, CREATE, UPDATE, REPLACE or DELETE
    urn: str
    name: str
    type: str
    changed: tuple[str, ...] = ()
    replace_keys: tuple[str, ...] = ()
    delete_before_replace: bool = False
    retained: bool = False  # a delete that calls no provider (retainOnDelete, deletedWith)
    because: str = ""

    @property
    def label(self) -> str:
        if self.op is Op.REPLACE:
            return (
                "replace (delete-before-replace)"
                if self.delete_before_replace
                else ("replace (create-before-replace)")
            )
        if self.op is Op.DELETE and self.retained:
            return "delete (retained: forgotten, left running)"
        return str(self.op)


def options(resource: Resource) -> Mapping[str, Any]:
    return resource.get("options") or {}


def diff_resource(old: Resource, new: Resource) -> Diff:
    """The provider's `Diff` (from `PROVIDER_RULES`), `ignoreChanges` taken out first
    (`processIgnoreChanges`), then `replaceOnChanges` applied (`applyReplaceOnChanges`)."""
    rule = provider_rule(new)
    ignored = options(new).get("ignoreChanges") or []
    changed = [
        path
        for path in changed_fields(old.get("inputs") or {}, new.get("inputs") or {})
        if not any(path_contains(ignore, path) for ignore in ignored)
    ]
    replace_on = [*rule.replace_paths, *(options(new).get("replaceOnChanges") or [])]
    replace_keys = [p for p in changed if any(path_contains(r, p) for r in replace_on)]
    same_identity = _identity(old) == _identity(new)
    return Diff(
        tuple(changed),
        tuple(replace_keys),
        rule.delete_before_replace == "same-name" and same_identity,
    )


def _identity(resource: Resource) -> tuple[Any, Any]:
    metadata = (resource.get("inputs") or {}).get("metadata") or {}
    return metadata.get("name"), metadata.get("namespace")


def _delete_before_replace(new: Resource, diff: Diff) -> bool:
    """The program's `deleteBeforeReplace` when it set one, else the provider's wish."""
    opts = options(new)
    defined = opts.get("deleteBeforeReplaceDefined", bool(opts.get("deleteBeforeReplace")))
    return bool(opts.get("deleteBeforeReplace")) if defined else diff.provider_delete_before_replace


def replace_or_update(old: Resource, new: Resource, replaced_providers: set[str]) -> Decision:
    """`continueStepsFromDiff`: same, update, or replace (and how), for a resource in both plans."""
    base = {"urn": new["urn"], "name": new["name"], "type": new["type"]}
    provider_moved = "provider" in old and new.get("provider") != old.get("provider")
    if provider_moved or new.get("provider") in replaced_providers:
        # providerChanged: a new or replaced provider whose DiffConfig says replace.
        return Decision(
            Op.REPLACE,
            **base,
            replace_keys=("provider",),
            delete_before_replace=_delete_before_replace(new, Diff((), (), False)),
            because="decided to replace: its provider is replaced",
        )
    if not new.get("custom", True):
        # A component has no provider: equal inputs are "same", any change an update (`diff`).
        changed = tuple(changed_fields(old.get("inputs") or {}, new.get("inputs") or {}))
        if not changed:
            return Decision(Op.SAME, **base, because="decided not to update (same)")
        return Decision(Op.UPDATE, **base, changed=changed, because="decided to update")
    diff = diff_resource(old, new)
    if not diff.changed:
        return Decision(Op.SAME, **base, because="decided not to update (same)")
    if diff.replace_keys:
        dbr = _delete_before_replace(new, diff)
        mode = "delete-before-replacement" if dbr else "create-before-replacement"
        return Decision(
            Op.REPLACE,
            **base,
            changed=diff.changed,
            replace_keys=diff.replace_keys,
            delete_before_replace=dbr,
            because=f"decided to replace ({mode}): {', '.join(diff.replace_keys)} changed",
        )
    return Decision(
        Op.UPDATE,
        **base,
        changed=diff.changed,
        because=f"decided to update: {', '.join(diff.changed)} changed",
    )


def decide_delete(old: Resource, deleted: set[str]) -> Decision:
    """`GenerateDeletes` for a resource the program no longer registers."""
    base = {"urn": old["urn"], "name": old["name"], "type": old["type"]}
    opts = options(old)
    if opts.get("retainOnDelete"):
        return Decision(
            Op.DELETE, **base, retained=True, because="decided to delete (retainOnDelete: no-op)"
        )
    if opts.get("deletedWith") and opts["deletedWith"] in deleted:
        return Decision(
            Op.DELETE, **base, retained=True, because="decided to delete (deletedWith: no-op)"
        )
    return Decision(Op.DELETE, **base, because="decided to delete")


# --- the steps of a whole update ------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One provider call (or no-op) the engine runs, with the resource state it acts on."""

    op: Op
    resource: Resource  # the new state (create, update, create-replacement) or the old one
    retained: bool = False

    @property
    def id(self) -> str:
        return f"{self.op}:{self.resource['urn']}"

    @property
    def name(self) -> str:
        return self.resource["name"]

    @property
    def calls_provider(self) -> bool:
        return (
            bool(self.resource.get("custom", True))
            and not self.retained
            and self.op is not (Op.SAME)
        )


@dataclass
class EnginePlan:
    """Every decision and step of one `pulumi up` (or destroy) from `old` to `new`."""

    decisions: list[Decision]
    # Register phase: per new resource, its chain of steps and the resources it waits for.
    chains: dict[str, list[Step]]
    waits_for: dict[str, list[str]]
    # Delete phase: waves in the order they run.
    delete_waves: list[list[Step]]
    errors: list[str] = field(default_factory=list)

    def decision(self, name: str) -> Decision:
        matches = [d for d in self.decisions if d.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} decisions for {name!r}")
        return matches[0]


def dependencies(resource: Resource) -> set[str]:
    """Every URN the engine's dependency graph links `resource` to
    (`pkg/resource/state.go` GetAllDependencies)."""
    opts = options(resource)
    found = {*resource.get("dependsOn", []), *(opts.get("replaceWith") or [])}
    for urns in (opts.get("propertyDependencies") or {}).values():
        found.update(urns)
    found.update(u for u in (resource.get("parent"), resource.get("provider")) if u)
    if opts.get("deletedWith"):
        found.add(opts["deletedWith"])
    return found - {resource["urn"]}


def register_waits_for(resource: Resource) -> set[str]:
    """What the SDK awaits before it registers `resource` (`prepare_resource`): the parent,
    `depends_on` (components expanded to their children), property dependencies, provider."""
    return (
        dependencies(resource)
        - set(options(resource).get("replaceWith") or [])
        - {options(resource).get("deletedWith")}
    )


def plan_engine(old: Sequence[Resource], new: Sequence[Resource]) -> EnginePlan:
    """The engine's steps going from `old` (the baseline) to `new`; `new=[]` is a destroy."""
    old_by_urn = {r["urn"]: r for r in old}
    new_urns = {r["urn"] for r in new}
    decisions: list[Decision] = []
    chains: dict[str, list[Step]] = {}
    errors: list[str] = []
    replaced: set[str] = set()
    pending_deletes: set[str] = set()  # deleted early by a delete-before-replace chain
    condemned: list[Step] = []  # deleted in the delete phase
    for resource in new:
        before = old_by_urn.get(resource["urn"])
        if before is None:
            decisions.append(_created(resource))
            chains[resource["urn"]] = [Step(Op.CREATE, resource)]
            continue
        decision = replace_or_update(before, resource, replaced)
        decisions.append(decision)
        chains[resource["urn"]] = _chain(
            decision, before, resource, old, replaced, pending_deletes, condemned, errors
        )
    gone = [r for r in old if r["urn"] not in new_urns]
    gone_urns = {r["urn"] for r in gone}
    for resource in gone:
        decision = decide_delete(resource, gone_urns)
        decisions.append(decision)
        condemned.append(Step(Op.DELETE, resource, retained=decision.retained))
        if options(resource).get("protect"):
            errors.append(_protected(resource["urn"], "deleted"))
    waits_for = {r["urn"]: sorted(register_waits_for(r) & new_urns - {r["urn"]}) for r in new}
    return EnginePlan(decisions, chains, waits_for, schedule_deletes(condemned, old), errors)


def _created(resource: Resource) -> Decision:
    return Decision(
        Op.CREATE,
        urn=resource["urn"],
        name=resource["name"],
        type=resource["type"],
        because="decided to create",
    )


def _chain(
    decision: Decision,
    before: Resource,
    resource: Resource,
    old: Sequence[Resource],
    replaced: set[str],
    pending_deletes: set[str],
    condemned: list[Step],
    errors: list[str],
) -> list[Step]:
    """The steps `continueStepsFromDiff` returns for one resource, as one serial chain."""
    if decision.op is Op.SAME:
        return [Step(Op.SAME, resource)]
    if decision.op is Op.UPDATE:
        return [Step(Op.UPDATE, resource)]
    replaced.add(resource["urn"])
    if options(resource).get("protect") and options(before).get("protect"):
        errors.append(_protected(resource["urn"], "replaced"))
    if not decision.delete_before_replace:
        # Create-before-replace: the old one is deleted with the deletes, at the end.
        condemned.append(Step(Op.DELETE_REPLACED, before))
        return [Step(Op.CREATE_REPLACEMENT, resource)]
    steps: list[Step] = []
    if resource["urn"] not in pending_deletes:
        for dependent in reversed(calculate_dependent_replacements(before, old, replaced)):
            if dependent["urn"] not in pending_deletes:
                pending_deletes.add(dependent["urn"])
                steps.append(Step(Op.DELETE_REPLACED, dependent))
        steps.append(Step(Op.DELETE_REPLACED, before))
        pending_deletes.add(resource["urn"])
    return [*steps, Step(Op.CREATE_REPLACEMENT, resource)]


def _protected(urn: str, verb: str) -> str:
    return (
        f"resource {urn!r} cannot be {verb} because it is protected: remove `protect` from the "
        "program and `pulumi up`, or `pulumi state unprotect`"
    )


def calculate_dependent_replacements(
    root: Resource, old: Sequence[Resource], replaced: set[str]
) -> list[Resource]:
    """`calculateDependentReplacements`: the old resources that depend (transitively) on `root`
    and must be deleted with it before it is re-created, in dependency order.

    One is, when its provider is being replaced, when it is `deletedWith` one being replaced, or
    when a property of it depends on one being replaced and a change of that property forces a
    replace (the engine asks the provider's `Diff` with that property unknown). A `depends_on`
    edge alone never does: such dependents stay, and are not deleted first.
    """
    replace_set = {root["urn"], *replaced}
    found: list[Resource] = []
    for resource in old:  # old is in dependency order, so one pass sees dependencies first
        if resource["urn"] == root["urn"] or not resource.get("custom", True):
            continue
        if _requires_replacement(resource, replace_set):
            found.append(resource)
            replace_set.add(resource["urn"])
    return found


def _requires_replacement(resource: Resource, replace_set: set[str]) -> bool:
    opts = options(resource)
    if resource.get("provider") in replace_set or opts.get("deletedWith") in replace_set:
        return True
    rule = provider_rule(resource)
    for key, urns in (opts.get("propertyDependencies") or {}).items():
        if set(urns) & replace_set:
            replace_on = [*rule.replace_paths, *(opts.get("replaceOnChanges") or [])]
            if any(path_contains(path, key) or path_contains(key, path) for path in replace_on):
                return True
    return False


def schedule_deletes(condemned: Sequence[Step], graph: Sequence[Resource]) -> list[list[Step]]:
    """`ScheduleDeletes`: the condemned resources in waves, in the order the waves run.

    Repeatedly takes every condemned resource none of whose direct dependencies in `graph` (the
    old snapshot: `getDepgraphForScheduling`) is still condemned, then reverses the list, so a
    resource is deleted in a wave after everything that depends on it *directly or through other
    condemned resources*. Each wave runs in parallel; the next starts when it is done.
    """
    by_urn = {r["urn"]: r for r in graph}
    remaining = {step.resource["urn"]: step for step in condemned}
    needs = {
        urn: dependencies(by_urn.get(urn, step.resource)) & remaining.keys()
        for urn, step in remaining.items()
    }
    needed_by: dict[str, list[str]] = {}
    for urn, deps in needs.items():
        for dep in deps:
            needed_by.setdefault(dep, []).append(urn)
    order = {r["urn"]: index for index, r in enumerate(graph)}
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


# --- what a step does to a node -------------------------------------------------------------------

NODE_COMPONENT = "agilio-offload:index:AgilioNode"
REMOTE_COMMAND = "command:remote:Command"
LOCAL_COMMAND = "command:local:Command"
# Remote steps that change the node (components/agilio_node.py HARDWARE_STEPS).
HARDWARE_STEPS = ("firmware", "driver", "vfs")


# What the remote steps do, from the scripts' own headers (components/node_scripts/*.sh).
RUNS = {
    "firmware": "firmware link",
    "driver": "nfp reload (if due)",
    "vfs": "VFs (after the reload)",
}
UNDOES = {
    "firmware": "undo firmware (link back, nfp reload)",
    "driver": "undo driver (nfp reload if due)",
    "vfs": "undo vfs (VFs to 0)",
    "reload-wait": "wait for the undo's reload",
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


def node_names(resources: Iterable[Resource]) -> list[str]:
    return [r["name"] for r in resources if r["type"] == NODE_COMPONENT]


def node_of(resource: Resource, nodes: Sequence[str], parents: Mapping[str, str]) -> str | None:
    """The node a command belongs to: its AgilioNode parent, else the longest node name its
    own name starts with (`<node>-<step>`, as the rollout names its steps)."""
    if resource["type"] not in (REMOTE_COMMAND, LOCAL_COMMAND):
        return None
    parent = parents.get(resource.get("parent") or "")
    if parent is not None:
        return parent
    matches = [n for n in nodes if resource["name"].startswith(f"{n}-")]
    return max(matches, key=len) if matches else None


def node_command(step: Step, node: str) -> NodeCommand:
    """What `step` runs on (or for) `node`: the command text it executes decides."""
    resource = step.resource
    name = resource["name"].removeprefix(f"{node}-")
    deleting = step.op in (Op.DELETE, Op.DELETE_REPLACED)
    text = command_text(step.op, resource.get("inputs") or {})
    if not text or step.retained:
        return NodeCommand(node, name, "nothing", Effect.OTHER)
    if resource["type"] == LOCAL_COMMAND:
        verbs = _kubectl_verbs(text.split())
        if verbs[:1] == ["drain"]:
            return NodeCommand(node, name, "kubectl drain", Effect.DRAIN)
        if verbs[:1] == ["uncordon"]:
            return NodeCommand(node, name, "kubectl uncordon", Effect.UNCORDON)
        what = f"kubectl {' '.join(verbs[:2])}" if verbs else "local no-op"
        return NodeCommand(node, name, what, Effect.OTHER)
    what = (UNDOES if deleting else RUNS).get(name, f"undo {name}" if deleting else name)
    return NodeCommand(
        node, name, what, Effect.HARDWARE if name in HARDWARE_STEPS else Effect.OTHER
    )


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
    plan: EnginePlan, old: Sequence[Resource], new: Sequence[Resource]
) -> dict[str, NodeCommand]:
    """Step id -> what it does to a node, for every step that runs a node's command."""
    nodes = sorted({*node_names(old), *node_names(new)})
    parents = {r["urn"]: r["name"] for r in [*old, *new] if r["type"] == NODE_COMPONENT}
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
    leaves it drained. `first`/`last` are the step ids that open and close it."""

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


def worst_case_disrupted(plan: EnginePlan, found: Sequence[Disruption]) -> tuple[int, list[str]]:
    """The most nodes that can be out at once in *any* run the dependencies allow (whatever
    each step takes), and one such set of nodes.

    Two nodes can never be out together only when one's disruption ends (the step closing it is
    done) before the other's starts, through the dependencies. The answer is the width of that
    order, by Dilworth's theorem: nodes minus a maximum matching of "ends before" pairs.
    """
    before = step_predecessors(plan)
    order = _topological(before)
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
    antichain = _max_antichain(successors)
    return len(antichain), sorted(found[i].node for i in antichain)


def _topological(before: Mapping[str, set[str]]) -> list[str]:
    remaining = {k: set(v) for k, v in before.items()}
    users: dict[str, list[str]] = {}
    for step_id, needs in remaining.items():
        for need in needs:
            users.setdefault(need, []).append(step_id)
    ready = [k for k, v in remaining.items() if not v]
    order: list[str] = []
    while ready:
        step_id = ready.pop()
        order.append(step_id)
        for user in users.get(step_id, []):
            remaining[user].discard(step_id)
            if not remaining[user]:
                ready.append(user)
    return order


def _max_antichain(successors: Sequence[int]) -> list[int]:
    """A maximum antichain of a transitive order given as successor bitmasks (König)."""
    size = len(successors)
    match_right: dict[int, int] = {}  # right vertex -> left vertex
    match_left: dict[int, int] = {}

    def bits(mask: int) -> Iterable[int]:
        while mask:
            low = mask & -mask
            yield low.bit_length() - 1
            mask ^= low

    def augment(root: int) -> None:
        """One breadth-first search for an augmenting path from `root`; flips it if found."""
        came_from: dict[int, int] = {}  # right vertex -> the left vertex that reached it
        frontier = [root]
        while frontier:
            following: list[int] = []
            for left in frontier:
                for right in bits(successors[left]):
                    if right in came_from:
                        continue
                    came_from[right] = left
                    if right not in match_right:
                        while True:  # flip the path back to the root
                            left = came_from[right]
                            previous = match_left.get(left)
                            match_left[left], match_right[right] = right, left
                            if previous is None:
                                return
                            right = previous
                    following.append(match_right[right])
            frontier = following

    for left in range(size):  # greedy first: most orders here are chains
        for right in bits(successors[left]):
            if right not in match_right:
                match_left[left], match_right[right] = right, left
                break
    for left in range(size):
        if left not in match_left:
            augment(left)
    # König: from unmatched left vertices, alternate (any edge right, matched edge left).
    reached_left = {v for v in range(size) if v not in match_left}
    reached_right: set[int] = set()
    frontier = list(reached_left)
    while frontier:
        left = frontier.pop()
        for right in bits(successors[left]):
            if right not in reached_right:
                reached_right.add(right)
                partner = match_right.get(right)
                if partner is not None and partner not in reached_left:
                    reached_left.add(partner)
                    frontier.append(partner)
    return [v for v in range(size) if v in reached_left and v not in reached_right]


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

    @property
    def over_bound(self) -> bool:
        return self.worst_case > self.max_unavailable

    def waves_over_bound(self) -> list[str]:
        return [
            w.label
            for w in self.waves
            if len(w.disrupted) > self.max_unavailable and any(s.calls_provider for s in w.steps)
        ]


def analyse(old: Sequence[Resource], new: Sequence[Resource], max_unavailable: int) -> Rollout:
    """Operations, waves and disruption of going from `old` to `new` (`new=[]`: destroy)."""
    plan = plan_engine(old, new)
    timings = run_engine(plan, unit_duration)
    commands = node_commands(plan, old, new)
    found = disruptions(timings, commands)
    worst, nodes = worst_case_disrupted(plan, found)
    return Rollout(
        plan,
        tuple(_waves(plan, timings, commands, found)),
        tuple(found),
        worst,
        tuple(nodes),
        max_unavailable,
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
