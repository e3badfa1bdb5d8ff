"""Put a consumer's pods on an Agilio VF (runbook step 7), from this stack's outputs.

An offloaded pod needs two things: the `v1.multus-cni.io/default-network` annotation naming the
offload NetworkAttachmentDefinition, and one VF (`corigine.com/agilio_sriov: "1"`) as request and
limit of a container. This stack exports both (`podAnnotations`, `podResources`); `add_offload`
adds them to a manifest as plain data, `offloaded` does the same with the outputs of a
`pulumi.StackReference`. What the user set stays: other annotations, other resources, a VF count
they chose. A default network the user set to something else is an error, not overwritten.

Works on a Pod, on anything with a pod template at `spec.template` (Deployment, StatefulSet,
DaemonSet, ReplicaSet, Job) and on a bare pod template (`{metadata, spec}`).

This module needs only `pulumi`; consumer projects may vendor it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pulumi

DEFAULT_NETWORK_ANNOTATION = "v1.multus-cni.io/default-network"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")


class OffloadError(ValueError):
    """The manifest cannot be put on the offload network as asked."""


def add_offload(
    manifest: Mapping[str, Any],
    pod_annotations: Mapping[str, str],
    pod_resources: Mapping[str, Mapping[str, str]],
    container: str | None = None,
) -> dict[str, Any]:
    """A copy of `manifest` whose pods carry the annotations and ask for one VF.

    `container` names the container that gets the VF (default: the first one).
    """
    result = copy.deepcopy(dict(manifest))
    template = _pod_template(result)
    metadata = template.setdefault("metadata", {}) or {}
    template["metadata"] = metadata
    metadata["annotations"] = _merged_annotations(metadata.get("annotations"), pod_annotations)
    target = _container(template.get("spec") or {}, container)
    target["resources"] = _merged_resources(target.get("resources"), pod_resources)
    return result


def offloaded(
    manifest: Mapping[str, Any],
    stack: pulumi.StackReference,
    container: str | None = None,
) -> pulumi.Output[dict[str, Any]]:
    """`add_offload` with the `podAnnotations` and `podResources` outputs of `stack`."""
    return pulumi.Output.all(
        stack.require_output("podAnnotations"), stack.require_output("podResources")
    ).apply(lambda outputs: add_offload(manifest, outputs[0], outputs[1], container))


def _pod_template(manifest: dict[str, Any]) -> dict[str, Any]:
    kind = manifest.get("kind")
    if kind == "Pod" or (kind is None and "containers" in (manifest.get("spec") or {})):
        return manifest
    if kind in WORKLOAD_KINDS or kind is None:
        template = (manifest.get("spec") or {}).get("template")
        if isinstance(template, dict):
            return template
    raise OffloadError(
        f"cannot find the pods of this manifest (kind {kind!r}): expected a Pod, a pod template "
        f"({{metadata, spec}}) or one of {', '.join(WORKLOAD_KINDS)} with spec.template"
    )


def _merged_annotations(
    existing: Mapping[str, str] | None, offload: Mapping[str, str]
) -> dict[str, str]:
    merged = dict(existing or {})
    for key, value in offload.items():
        if key in merged and merged[key] != value:
            raise OffloadError(
                f"annotation {key} is already {merged[key]!r}; an offloaded pod needs {value!r} "
                f"(remove the annotation to let the helper set it)"
            )
        merged[key] = value
    return merged


def _container(spec: Mapping[str, Any], name: str | None) -> dict[str, Any]:
    containers = spec.get("containers") or []
    if not containers:
        raise OffloadError("the pod spec has no containers to give the VF to")
    if name is None:
        return containers[0]
    for container in containers:
        if container.get("name") == name:
            return container
    names = ", ".join(repr(c.get("name")) for c in containers)
    raise OffloadError(f"no container named {name!r} (the pod has {names})")


def _merged_resources(
    existing: Mapping[str, Any] | None, offload: Mapping[str, Mapping[str, str]]
) -> dict[str, Any]:
    """Requests and limits with the VF added; a count the user set wins, in both places."""
    merged = {key: dict(value or {}) for key, value in (existing or {}).items()}
    requests = merged.setdefault("requests", {})
    limits = merged.setdefault("limits", {})
    for resource in {*offload.get("requests", {}), *offload.get("limits", {})}:
        wanted = offload.get("limits", {}).get(resource) or offload["requests"][resource]
        # Extended resources cannot be overcommitted: request and limit must be equal.
        count = limits.get(resource) or requests.get(resource) or wanted
        requests[resource] = limits[resource] = count
    return merged
