"""The one store of the simulated cluster: objects and a call log in one JSON file.

Shaped like client-go's object tracker (`k8s.io/client-go/testing/fixture.go` `tracker`):
objects keyed by resource (plural, with its API group), namespace and name; `add`/`create`
refuse an existing key (AlreadyExists), `get`/`delete` a missing one (NotFound), `update`
replaces. On top, what the tracker leaves to the API server: resourceVersion, uid,
creationTimestamp, generation, and managedFields per field manager (ssa.py).

The state lives in `STATE_DIR/cluster.json`, read and written under an fcntl lock on
`STATE_DIR/cluster.lock`, so the in-process rehearsal and the `kubectl` front-end subprocesses
see one cluster. Time is virtual: `clock` (seconds) moves only when the cluster reconciles or
kubectl waits, so a five-minute drain timeout costs no real time.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tools.rehearsal.cluster import ssa

# kind -> (resource as the API names it, namespaced)
KINDS: dict[str, tuple[str, bool]] = {
    "Node": ("nodes", False),
    "Pod": ("pods", True),
    "ConfigMap": ("configmaps", True),
    "Secret": ("secrets", True),
    "ServiceAccount": ("serviceaccounts", True),
    "Namespace": ("namespaces", False),
    "DaemonSet": ("daemonsets.apps", True),
    "Deployment": ("deployments.apps", True),
    "ReplicaSet": ("replicasets.apps", True),
    "PodDisruptionBudget": ("poddisruptionbudgets.policy", True),
    "CustomResourceDefinition": ("customresourcedefinitions.apiextensions.k8s.io", False),
    "ClusterRole": ("clusterroles.rbac.authorization.k8s.io", False),
    "ClusterRoleBinding": ("clusterrolebindings.rbac.authorization.k8s.io", False),
    "Role": ("roles.rbac.authorization.k8s.io", True),
    "RoleBinding": ("rolebindings.rbac.authorization.k8s.io", True),
    "NetworkAttachmentDefinition": ("network-attachment-definitions.k8s.cni.cncf.io", True),
}
RESOURCE_KIND = {resource: kind for kind, (resource, _) in KINDS.items()}
EPOCH = datetime(2026, 12, 1, 8, 0, 0, tzinfo=UTC)


class APIError(Exception):
    """An API status error: `reason` (NotFound, AlreadyExists, Conflict, TooManyRequests,
    BadRequest, Invalid), its HTTP code and the message kubectl prints after
    `Error from server (<reason>): `."""

    def __init__(self, reason: str, code: int, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.code = code
        self.message = message


def resource_of(kind: str) -> str:
    if kind not in KINDS:
        raise APIError(
            "NotFound", 404, f"the server could not find the requested resource ({kind})"
        )
    return KINDS[kind][0]


def namespaced(resource: str) -> bool:
    return KINDS[RESOURCE_KIND[resource]][1]


def key_of(resource: str, namespace: str, name: str) -> str:
    return f"{resource}|{namespace if namespaced(resource) else ''}|{name}"


def short(resource: str) -> str:
    """`pods`, `daemonsets.apps`: how kubectl names a resource in NotFound messages."""
    return resource


def not_found(resource: str, name: str) -> APIError:
    return APIError("NotFound", 404, f'{short(resource)} "{name}" not found')


def timestamp(seconds: float) -> str:
    return (EPOCH + timedelta(seconds=int(seconds))).strftime("%Y-%m-%dT%H:%M:%SZ")


class State:
    """The cluster's data while the lock is held."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        data.setdefault("objects", {})
        data.setdefault("calls", [])
        data.setdefault("clock", 0.0)
        data.setdefault("counter", 0)
        data.setdefault("devices", {})
        data.setdefault("history", [])
        data.setdefault("events", [])
        data.setdefault("settings", {})

    # --- time and names ---

    @property
    def clock(self) -> float:
        return float(self.data["clock"])

    def advance(self, seconds: float) -> None:
        self.data["clock"] = self.clock + seconds

    def now(self) -> str:
        return timestamp(self.clock)

    def next_number(self) -> int:
        self.data["counter"] += 1
        return int(self.data["counter"])

    def suffix(self) -> str:
        """A pod name suffix as the DaemonSet/ReplicaSet controllers generate (5 characters of
        apimachinery `util/rand.String`'s alphabet), deterministic here."""
        alphabet = "bcdfghjklmnpqrstvwxz2456789"
        number, chars = self.next_number() * 7919, []
        for _ in range(5):
            number, index = divmod(number, len(alphabet))
            chars.append(alphabet[index])
        return "".join(chars)

    # --- tracker ---

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.data["objects"].get(key_of(resource, namespace, name))

    def must_get(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        found = self.get(resource, namespace, name)
        if found is None:
            raise not_found(resource, name)
        return found

    def list(self, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Objects of `resource` (in `namespace`; None: all), ordered by namespace and name as
        etcd returns them (keys sort)."""
        found = []
        for key, obj in sorted(self.data["objects"].items()):
            kind_part, space, _name = key.split("|")
            if kind_part == resource and (namespace is None or space == namespace):
                found.append(obj)
        return found

    def _stamp(self, obj: dict[str, Any], live: dict[str, Any] | None) -> None:
        meta = obj.setdefault("metadata", {})
        meta["resourceVersion"] = str(1000 + self.next_number())
        if live is None:
            meta["uid"] = f"00000000-0000-4000-8000-{self.next_number():012d}"
            meta["creationTimestamp"] = self.now()
            if obj.get("kind") not in ("Node", "Pod", "ConfigMap", "Secret", "ServiceAccount"):
                meta["generation"] = 1
        else:
            for key in ("uid", "creationTimestamp"):
                if key in live.get("metadata", {}):
                    meta[key] = live["metadata"][key]
            if "generation" in live.get("metadata", {}):
                changed = obj.get("spec") != live.get("spec")
                meta["generation"] = live["metadata"]["generation"] + (1 if changed else 0)

    def create(self, obj: dict[str, Any], manager: str) -> dict[str, Any]:
        resource = resource_of(obj["kind"])
        meta = obj["metadata"]
        namespace = meta.get("namespace", "default") if namespaced(resource) else ""
        if namespaced(resource):
            meta["namespace"] = namespace
        key = key_of(resource, namespace, meta["name"])
        if key in self.data["objects"]:
            raise APIError(
                "AlreadyExists", 409, f'{short(resource)} "{meta["name"]}" already exists'
            )
        if obj["kind"] == "Pod":
            # registry/core/pod/strategy.go `PrepareForCreate`: a new pod is Pending.
            obj["status"] = {"phase": "Pending"}
        stored = ssa.update(None, obj, manager, now=self.now())
        self._stamp(stored, None)
        self.data["objects"][key] = stored
        return stored

    def write(self, obj: dict[str, Any], manager: str, *, subresource: str = "") -> dict[str, Any]:
        """An update (PUT/PATCH, not apply) by `manager` of an existing object (of its
        `subresource`, e.g. "status", which has its own managedFields entry)."""
        resource = resource_of(obj["kind"])
        meta = obj["metadata"]
        live = self.must_get(resource, meta.get("namespace", ""), meta["name"])
        stored = ssa.update(live, obj, manager, now=self.now(), subresource=subresource)
        self._stamp(stored, live)
        self.data["objects"][key_of(resource, meta.get("namespace", ""), meta["name"])] = stored
        return stored

    def apply(self, applied: dict[str, Any], manager: str, *, force: bool) -> dict[str, Any]:
        """Server-side apply (PATCH application/apply-patch+yaml); creates a missing object."""
        resource = resource_of(applied["kind"])
        meta = applied["metadata"]
        namespace = meta.get("namespace", "default") if namespaced(resource) else ""
        live = self.get(resource, namespace, meta["name"])
        stored = ssa.apply(live, applied, manager, force=force, now=self.now())
        if namespaced(resource):
            stored["metadata"]["namespace"] = namespace
        self._stamp(stored, live)
        self.data["objects"][key_of(resource, namespace, meta["name"])] = stored
        return stored

    def remove(self, resource: str, namespace: str, name: str) -> None:
        """The object is gone (finalised): the tracker's delete."""
        if self.data["objects"].pop(key_of(resource, namespace, name), None) is None:
            raise not_found(resource, name)

    def log(self, entry: dict[str, Any]) -> None:
        self.data["calls"].append({"clock": self.clock, **entry})

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy(self.data)


class Store:
    """The state file and its lock."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.state_dir / "cluster.json"
        self.lock_path = self.state_dir / "cluster.lock"

    @contextmanager
    def open(self, *, write: bool = True) -> Iterator[State]:
        with open(self.lock_path, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                data = json.loads(self.path.read_text()) if self.path.exists() else {}
                state = State(data)
                yield state
                if write:
                    temporary = self.path.with_suffix(".tmp")
                    temporary.write_text(json.dumps(state.data))
                    os.replace(temporary, self.path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
