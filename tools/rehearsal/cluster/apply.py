"""Kubernetes resources of a plan applied to the simulated cluster as pulumi-kubernetes v4.32 does.

- Plain resources: create is a client-side create with field manager "pulumi-kubernetes"
  (`provider/pkg/await/await.go` `Creation`; an existing object is AlreadyExists since 4.29);
  update is a server-side apply with the resource's own field manager after
  `fixCSAFieldManagers` hands it the create's fields; delete deletes (dependents by the garbage
  collector, background propagation).
- `*Patch` resources: server-side apply of the whole input object with the field manager
  `fieldManagerName` picks (the `pulumi.com/patchFieldManager` annotation, else
  "pulumi-kubernetes-" + 8 hex chars kept in state) and force when `pulumi.com/patchForce` is
  "true" (`patchForce`); the annotations are sent, so they are stored and owned. Delete
  relinquishes (`ssa/actions.go` `Relinquish`): an apply of `{apiVersion, kind, metadata:
  {name, namespace}}` with the same manager, no force; on a missing object it creates one.
- `kubernetes:helm.sh/v3:Release`: `helm install/upgrade` of kube-ovn-v2 (kube_ovn.py), waited
  for (helm's `--wait`: the DaemonSets rolled out); delete uninstalls.
Retained resources (`retainOnDelete`) are forgotten, not deleted (pulumi engine
`step_executor` delete of a retained resource).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tools.rehearsal.cluster import behaviours, kube_ovn, ssa
from tools.rehearsal.cluster.store import APIError, State, namespaced, resource_of

if TYPE_CHECKING:
    from tools.engine.resources import Resource

PATCH_FORCE = "pulumi.com/patchForce"
PATCH_FIELD_MANAGER = "pulumi.com/patchFieldManager"
CREATE_MANAGER = "pulumi-kubernetes"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
ALREADY_EXISTS_HINT = (
    "resource {ref} was not successfully created by the Kubernetes API server: "
    "{message}. The resource already exists in the cluster. To manage it with Pulumi, "
    "import it, or set `upsertExistingObjects` on the provider"
)


class ApplyError(Exception):
    """What pulumi-kubernetes reports for a failed resource operation."""


def field_manager(resource: Resource) -> str:
    """provider.go `fieldManagerName`: the annotation, else a name kept in state; the real
    provider draws 8 random hex chars once per resource, here derived from the URN."""
    annotations = (resource.inputs.get("metadata") or {}).get("annotations") or {}
    if annotations.get(PATCH_FIELD_MANAGER):
        return str(annotations[PATCH_FIELD_MANAGER])
    return "pulumi-kubernetes-" + hashlib.sha256(resource.urn.encode()).hexdigest()[:8]


def is_patch(resource: Resource) -> bool:
    """kinds.IsPatchResource: the type token ends in `Patch`."""
    return resource.type.endswith("Patch")


def _body(resource: Resource) -> dict[str, Any]:
    body = copy.deepcopy(dict(resource.inputs))
    if is_patch(resource):
        body["kind"] = body.get("kind") or resource.type.rsplit(":", 1)[-1].removesuffix("Patch")
    return body


def _ref(body: Mapping[str, Any]) -> str:
    meta = body.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{namespace}/{meta.get('name')}" if namespace else str(meta.get("name"))


def apply_resource(state: State, op: str, new: Resource | None, old: Resource | None) -> None:
    """One engine step's provider call for a Kubernetes resource (others are ignored)."""
    subject = new or old
    if subject is None or not subject.type.startswith("kubernetes:") or not subject.custom:
        return
    if subject.type.startswith("pulumi:providers:"):
        return
    state.log({"kind": "apply", "op": op, "type": subject.type, "name": subject.name})
    if subject.type == HELM_RELEASE:
        _release(state, op, new, old)
    elif op in ("create", "create-replacement"):
        _create(state, new)
    elif op == "update":
        _update(state, new, old)
    elif op in ("delete", "delete-replaced"):
        _delete(state, old)
    elif op == "replace":
        return  # the logical step: create-replacement/delete-replaced do the work
    behaviours.reconcile(state)


def _create(state: State, resource: Resource | None) -> None:
    assert resource is not None
    body = _body(resource)
    if is_patch(resource):
        _patch(state, resource, body)
        return
    try:
        state.create(body, CREATE_MANAGER)
    except APIError as refused:
        if refused.reason == "AlreadyExists":
            raise ApplyError(
                ALREADY_EXISTS_HINT.format(ref=_ref(body), message=refused.message)
            ) from None
        raise


def _patch(state: State, resource: Resource, body: dict[str, Any]) -> None:
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    force = str(annotations.get(PATCH_FORCE, "")).lower() == "true"
    try:
        state.apply(body, field_manager(resource), force=force)
    except ssa.ConflictError as conflict:
        raise ApplyError(
            f"server-side apply of {_ref(body)} failed: {conflict}. To force the apply, set "
            f'the "{PATCH_FORCE}" annotation to "true"'
        ) from None


def _update(state: State, new: Resource | None, old: Resource | None) -> None:
    assert new is not None
    body = _body(new)
    if is_patch(new):
        if old is not None and field_manager(old) != field_manager(new):
            _relinquish(state, old)
        _patch(state, new, body)
        return
    manager = field_manager(new)
    resource = resource_of(body["kind"])
    namespace = body["metadata"].get("namespace", "default") if namespaced(resource) else ""
    live = state.get(resource, namespace, body["metadata"]["name"])
    if live is not None:
        # await.go `fixCSAFieldManagers`: the create's fields pass to the SSA manager.
        for entry in live["metadata"].get("managedFields") or []:
            if entry["manager"] == CREATE_MANAGER:
                entry["manager"], entry["operation"] = manager, "Apply"
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    force = str(annotations.get(PATCH_FORCE, "")).lower() == "true"
    state.apply(body, manager, force=force)


def _relinquish(state: State, resource: Resource) -> None:
    """ssa.Relinquish: apply the bare identity with the manager, no force."""
    body = _body(resource)
    meta = body.get("metadata") or {}
    bare = {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": {k: meta[k] for k in ("name", "namespace") if k in meta},
    }
    state.apply(bare, field_manager(resource), force=False)


def _delete(state: State, resource: Resource | None) -> None:
    assert resource is not None
    if resource.options.retain_on_delete:
        return
    if is_patch(resource):
        _relinquish(state, resource)
        return
    body = _body(resource)
    kind = resource_of(body["kind"])
    namespace = body["metadata"].get("namespace", "default") if namespaced(kind) else ""
    name = body["metadata"]["name"]
    if state.get(kind, namespace, name) is None:
        return  # await.go `Deletion`: already gone counts as deleted
    live = state.must_get(kind, namespace, name)
    state.remove(kind, namespace, name)
    _collect_garbage(state, live)


def _collect_garbage(state: State, owner: Mapping[str, Any]) -> None:
    """garbagecollector.go: dependents of a deleted owner are deleted (background)."""
    uid = owner["metadata"].get("uid")
    for pod in state.list("pods"):
        refs = pod["metadata"].get("ownerReferences") or []
        if any(ref.get("uid") == uid for ref in refs):
            behaviours.delete_pod(state, copy.deepcopy(pod), "generic-garbage-collector")


# --- helm ---------------------------------------------------------------------------------------


def _release(state: State, op: str, new: Resource | None, old: Resource | None) -> None:
    if op in ("delete", "delete-replaced"):
        assert old is not None
        if not old.options.retain_on_delete:
            uninstall(state, str(old.inputs.get("name")), str(old.inputs.get("namespace")))
        return
    if op == "replace":
        return
    assert new is not None
    inputs = new.inputs
    install(
        state,
        str(inputs.get("name") or new.name),
        str(inputs.get("namespace") or "default"),
        str(inputs.get("version") or ""),
        inputs.get("values") or {},
        upgrade=op == "update",
    )


def install(
    state: State,
    release: str,
    namespace: str,
    version: str,
    values: Mapping[str, Any],
    *,
    upgrade: bool,
) -> None:
    """helm install/upgrade of kube-ovn-v2 (pkg/action/install.go, upgrade.go): refuses an
    install over objects another owner has (`existingResourceConflict`: "... exists and cannot
    be imported into the current release"), applies, records the revision Secret, waits."""
    existing = state.get("daemonsets.apps", namespace, "ovs-ovn")
    objects = kube_ovn.chart_objects(release, namespace, version, values, existing)
    for obj in objects:
        live = state.get(resource_of(obj["kind"]), namespace, obj["metadata"]["name"])
        annotations = (live or {}).get("metadata", {}).get("annotations") or {}
        if live is not None and annotations.get("meta.helm.sh/release-name") != release:
            raise ApplyError(
                f'Unable to continue with install: {obj["kind"]} "{obj["metadata"]["name"]}" '
                f'in namespace "{namespace}" exists and cannot be imported into the current '
                "release: invalid ownership metadata"
            )
    for obj in objects:
        resource = resource_of(obj["kind"])
        live = state.get(resource, namespace, obj["metadata"]["name"])
        if live is None:
            state.create(obj, "helm")
        else:
            merged = copy.deepcopy(live)
            merged["metadata"].update(
                {k: v for k, v in obj["metadata"].items() if k in ("labels", "annotations")}
            )
            merged["spec"] = obj["spec"]
            state.write(merged, "helm")
    revision = 1 + sum(
        1
        for s in state.list("secrets", namespace)
        if s["metadata"]["name"].startswith(f"sh.helm.release.v1.{release}.v")
    )
    payload = json.dumps({"name": release, "version": revision, "chart": version, "config": values})
    state.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "helm.sh/release.v1",
            "metadata": {
                "name": f"sh.helm.release.v1.{release}.v{revision}",
                "namespace": namespace,
                "labels": {"name": release, "owner": "helm", "status": "deployed"},
            },
            "data": {"release": base64.b64encode(payload.encode()).decode()},
        },
        "helm",
    )
    behaviours.reconcile(state)


def uninstall(state: State, release: str, namespace: str) -> None:
    """helm uninstall (pkg/action/uninstall.go): deletes the release's objects and its
    revision Secrets."""
    for resource in ("daemonsets.apps", "deployments.apps"):
        for obj in state.list(resource, namespace):
            annotations = obj["metadata"].get("annotations") or {}
            if annotations.get("meta.helm.sh/release-name") == release:
                state.remove(resource, namespace, obj["metadata"]["name"])
                _collect_garbage(state, obj)
    for secret in state.list("secrets", namespace):
        if secret["metadata"]["name"].startswith(f"sh.helm.release.v1.{release}.v"):
            state.remove("secrets", namespace, secret["metadata"]["name"])
    behaviours.reconcile(state)
