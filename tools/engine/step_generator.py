"""Step decisions: replace or update, dependent replacements, deletes (pulumi's
`pkg/resource/deploy/step_generator.go`, read at pulumi v3.259.0; the SDK here is 3.272.0).

One function per decision, each written as "decided to ...", and the providers' replace rules in
one table (`PROVIDER_RULES`) that names the function each fact comes from.

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
- **Targets** (`pulumi up --target`, `pulumi destroy --target`; `Targets`): a resource is
  in the operation when its URN is a target, or, with `--target-dependents`, when something it
  depends on is (`isTargetedForUpdate`); providers and the root stack always are
  (`isImplicitlyTargetedResource` in `generateSteps`). An existing resource left out is "same"
  with its OLD state (`NewUntargetedSameStep(old, old.Copy())`: its new inputs are not even
  diffed); a new one left out is not created and not recorded (`NewSkippedCreateStep`), and a
  step that depends on such a skipped create fails the update ("depends on ... which was not
  specified in --target list", `validateSteps`; the model refuses before any step, pulumi when it
  reaches that registration). Deletes are limited to the targets and their dependents
  (`GenerateDeletes` -> `determineAllowedResourcesToDeleteFromTargets` ->
  `getTargetDependents`, transitively, children included); a dependent that is not itself a
  target fails the operation unless `--target-dependents` ("will be destroyed but was not
  specified in --target list", diag 2014).
- **Delete of a retained resource** (`retainOnDelete`) is still a step, but calls no provider
  (`DeleteStep.Apply`); so is a delete of a resource `deletedWith` another one being deleted.

Where the model stops: the providers' diffs are computed here from the recorded inputs (two
previews compare "[unknown]" and "[secret]" as equal strings, so a change hidden in an unknown
or a secret value is invisible), the engine's default providers are not in the plan (they are
deleted last, after everything else), and nothing of the cluster's live state is known.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tools.engine.graph import dependencies, register_waits_for
from tools.engine.resources import Resource, ResourceJSON, as_resource, as_resources
from tools.engine.step import Decision, EnginePlan, Op, Step
from tools.engine.step_executor import schedule_deletes

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
    type_ = resource.type
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


def diff_resource(old: Resource, new: Resource) -> Diff:
    """The provider's `Diff` (from `PROVIDER_RULES`), `ignoreChanges` taken out first
    (`processIgnoreChanges`), then `replaceOnChanges` applied (`applyReplaceOnChanges`)."""
    rule = provider_rule(new)
    ignored = new.options.ignore_changes
    changed = [
        path
        for path in changed_fields(old.inputs, new.inputs)
        if not any(path_contains(ignore, path) for ignore in ignored)
    ]
    replace_on = [*rule.replace_paths, *new.options.replace_on_changes]
    replace_keys = [p for p in changed if any(path_contains(r, p) for r in replace_on)]
    same_identity = _identity(old) == _identity(new)
    return Diff(
        tuple(changed),
        tuple(replace_keys),
        rule.delete_before_replace == "same-name" and same_identity,
    )


def _identity(resource: Resource) -> tuple[Any, Any]:
    metadata = resource.inputs.get("metadata") or {}
    return metadata.get("name"), metadata.get("namespace")


def _delete_before_replace(new: Resource, diff: Diff) -> bool:
    """The program's `deleteBeforeReplace` when it set one, else the provider's wish."""
    opts = new.options
    if opts.delete_before_replace_defined:
        return opts.delete_before_replace
    return diff.provider_delete_before_replace


def replace_or_update(
    old: Resource | ResourceJSON, new: Resource | ResourceJSON, replaced_providers: set[str]
) -> Decision:
    """`continueStepsFromDiff`: same, update, or replace (and how), for a resource in both plans."""
    old, new = as_resource(old), as_resource(new)
    base = {"urn": new.urn, "name": new.name, "type": new.type}
    if new.provider != old.provider or new.provider in replaced_providers:
        # providerChanged: a new or replaced provider whose DiffConfig says replace.
        return Decision(
            Op.REPLACE,
            **base,
            replace_keys=("provider",),
            delete_before_replace=_delete_before_replace(new, Diff((), (), False)),
            because="decided to replace: its provider is replaced",
        )
    if not new.custom:
        # A component has no provider: equal inputs are "same", any change an update (`diff`).
        changed = tuple(changed_fields(old.inputs, new.inputs))
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


def decide_delete(old: Resource | ResourceJSON, deleted: set[str]) -> Decision:
    """`GenerateDeletes` for a resource the program no longer registers."""
    old = as_resource(old)
    base = {"urn": old.urn, "name": old.name, "type": old.type}
    opts = old.options
    if opts.retain_on_delete:
        return Decision(
            Op.DELETE, **base, retained=True, because="decided to delete (retainOnDelete: no-op)"
        )
    if opts.deleted_with and opts.deleted_with in deleted:
        return Decision(
            Op.DELETE, **base, retained=True, because="decided to delete (deletedWith: no-op)"
        )
    return Decision(Op.DELETE, **base, because="decided to delete")


@dataclass(frozen=True)
class Targets:
    """`--target` URNs (pulumi `deploy.Options.Targets`) and `--target-dependents`."""

    urns: frozenset[str]
    dependents: bool = False


_IMPLICITLY_TARGETED = ("pulumi:providers:", "pulumi:pulumi:Stack")


def add_target_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    """`--target` and `--target-dependents` as pulumi spells them, for a tool that `verb`s."""
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        help=f"{verb} `pulumi up --target` (a resource name or URN; repeatable)",
    )
    parser.add_argument(
        "--target-dependents", action="store_true", help="with --target: pulumi's flag"
    )


def _targeted(resource: Resource, targets: Targets | None, actual: set[str]) -> bool:
    """`isIncludedInOperation` / `isTargetedForUpdate` for one registration, in program order
    (`actual`: the resources targeted so far, `targetsActual`)."""
    if targets is None or resource.type.startswith(_IMPLICITLY_TARGETED):
        return True
    if resource.urn in targets.urns:
        return True
    return targets.dependents and bool(dependencies(resource) & actual)


def _untargeted(resource: Resource, before: Resource | None) -> Decision:
    base = {"urn": resource.urn, "name": resource.name, "type": resource.type}
    if before is None:
        return Decision(Op.SAME, **base, because="not in the --target list: create skipped")
    return Decision(Op.SAME, **base, because="not in the --target list: same, its old state kept")


def plan_engine(
    old: Sequence[Resource | ResourceJSON],
    new: Sequence[Resource | ResourceJSON],
    targets: Targets | None = None,
) -> EnginePlan:
    """The engine's steps going from `old` (the baseline) to `new`; `new=[]` is a destroy.
    `targets`: `--target` (None: every resource)."""
    old, new = as_resources(old), as_resources(new)
    old_by_urn = {r.urn: r for r in old}
    new_urns = {r.urn for r in new}
    decisions: list[Decision] = []
    chains: dict[str, list[Step]] = {}
    errors: list[str] = []
    replaced: set[str] = set()
    pending_deletes: set[str] = set()  # deleted early by a delete-before-replace chain
    condemned: list[Step] = []  # deleted in the delete phase
    targeted: set[str] = set()
    skipped_creates: set[str] = set()
    for resource in new:
        before = old_by_urn.get(resource.urn)
        if not _targeted(resource, targets, targeted):
            decisions.append(_untargeted(resource, before))
            if before is None:
                skipped_creates.add(resource.urn)
                chains[resource.urn] = []
            else:
                chains[resource.urn] = [Step(Op.SAME, before)]
            continue
        targeted.add(resource.urn)
        if dependencies(resource) & skipped_creates and targets is not None:
            skipped = sorted(dependencies(resource) & skipped_creates)
            errors.append(
                f"Resource {resource.urn!r} depends on {skipped[0]!r} which was not specified "
                "in --target list (untargeted create)"
            )
        if before is None:
            decisions.append(_created(resource))
            chains[resource.urn] = [Step(Op.CREATE, resource)]
            continue
        decision = replace_or_update(before, resource, replaced)
        decisions.append(decision)
        chains[resource.urn] = _chain(
            decision, before, resource, old, replaced, pending_deletes, condemned, errors
        )
    gone = [r for r in old if r.urn not in new_urns]
    if targets is not None:
        allowed = target_dependents(targets, old)
        for resource in gone:
            dependent = resource.urn in allowed and resource.urn not in targets.urns
            if dependent and not targets.dependents:
                errors.append(
                    f"Resource {resource.urn!r} will be destroyed but was not specified in "
                    "--target list. Either include resource in --target list or pass "
                    "--target-dependents to proceed."
                )
        gone = [r for r in gone if r.urn in allowed]
    gone_urns = {r.urn for r in gone}
    for resource in gone:
        decision = decide_delete(resource, gone_urns)
        decisions.append(decision)
        condemned.append(Step(Op.DELETE, resource, retained=decision.retained))
        if resource.options.protect:
            errors.append(_protected(resource.urn, "deleted"))
    waits_for = {r.urn: sorted(register_waits_for(r) & new_urns - {r.urn}) for r in new}
    return EnginePlan(decisions, chains, waits_for, schedule_deletes(condemned, old), errors)


class TargetError(ValueError):
    """A --target that names no resource, or more than one."""


def targets_by_name(
    names: Sequence[str], resources: Sequence[Resource], dependents: bool
) -> Targets | None:
    """`--target` values as the engine's URN targets: pulumi takes URNs; a tool here also
    takes a resource's name when one resource has it (None: no targets, everything)."""
    if not names:
        return None
    by_name: dict[str, set[str]] = {}
    for resource in resources:
        by_name.setdefault(resource.name, set()).add(resource.urn)
        by_name.setdefault(resource.urn, set()).add(resource.urn)
    urns: set[str] = set()
    for name in names:
        found = by_name.get(name)
        if not found:
            raise TargetError(f"--target {name!r}: no resource of that name or URN in the stack")
        if len(found) > 1:
            raise TargetError(f"--target {name!r} names {len(found)} resources: give its URN")
        urns |= found
    return Targets(frozenset(urns), dependents)


def target_dependents(targets: Targets, old: Sequence[Resource]) -> set[str]:
    """`getTargetDependents`: the targets and, transitively, every old resource that depends on
    one of them or is its child (what a targeted delete may delete)."""
    found = {r.urn for r in old if r.urn in targets.urns}
    grew = True
    while grew:
        grew = False
        for resource in old:
            if resource.urn not in found and dependencies(resource) & found:
                found.add(resource.urn)
                grew = True
    return found


def _created(resource: Resource) -> Decision:
    return Decision(
        Op.CREATE,
        urn=resource.urn,
        name=resource.name,
        type=resource.type,
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
    replaced.add(resource.urn)
    if resource.options.protect and before.options.protect:
        errors.append(_protected(resource.urn, "replaced"))
    if not decision.delete_before_replace:
        # Create-before-replace: the old one is deleted with the deletes, at the end.
        condemned.append(Step(Op.DELETE_REPLACED, before))
        return [Step(Op.CREATE_REPLACEMENT, resource)]
    steps: list[Step] = []
    if resource.urn not in pending_deletes:
        for dependent in reversed(calculate_dependent_replacements(before, old, replaced)):
            if dependent.urn not in pending_deletes:
                pending_deletes.add(dependent.urn)
                steps.append(Step(Op.DELETE_REPLACED, dependent))
        steps.append(Step(Op.DELETE_REPLACED, before))
        pending_deletes.add(resource.urn)
    return [*steps, Step(Op.CREATE_REPLACEMENT, resource)]


def _protected(urn: str, verb: str) -> str:
    return (
        f"resource {urn!r} cannot be {verb} because it is protected: remove `protect` from the "
        "program and `pulumi up`, or `pulumi state unprotect`"
    )


def calculate_dependent_replacements(
    root: Resource | ResourceJSON, old: Sequence[Resource | ResourceJSON], replaced: set[str]
) -> list[Resource]:
    """`calculateDependentReplacements`: the old resources that depend (transitively) on `root`
    and must be deleted with it before it is re-created, in dependency order.

    One is, when its provider is being replaced, when it is `deletedWith` one being replaced, or
    when a property of it depends on one being replaced and a change of that property forces a
    replace (the engine asks the provider's `Diff` with that property unknown). A `depends_on`
    edge alone never does: such dependents stay, and are not deleted first.
    """
    root = as_resource(root)
    replace_set = {root.urn, *replaced}
    found: list[Resource] = []
    for resource in as_resources(old):  # in dependency order: one pass sees dependencies first
        if resource.urn == root.urn or not resource.custom:
            continue
        if _requires_replacement(resource, replace_set):
            found.append(resource)
            replace_set.add(resource.urn)
    return found


def _requires_replacement(resource: Resource, replace_set: set[str]) -> bool:
    opts = resource.options
    if resource.provider in replace_set or opts.deleted_with in replace_set:
        return True
    rule = provider_rule(resource)
    for key, urns in opts.property_dependencies.items():
        if set(urns) & replace_set:
            replace_on = [*rule.replace_paths, *opts.replace_on_changes]
            if any(path_contains(path, key) or path_contains(key, path) for path in replace_on):
                return True
    return False
