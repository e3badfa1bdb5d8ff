"""One home for every name the program, the tools and the tests share: type tokens, step names,
labels, the default resource and how a node's step is named. Plain values only, no Pulumi, so
the operator tools can import it without the SDK."""

from __future__ import annotations

# --- type tokens ---------------------------------------------------------------------------------

AGILIO_NODE_TYPE = "agilio-offload:index:AgilioNode"
PREFLIGHT_TYPE = "agilio-offload:index:Preflight"
CLUSTER_PREFLIGHT_TYPE = "agilio-offload:index:ClusterPreflight"
SRIOV_DEVICE_PLUGIN_TYPE = "agilio-offload:index:SriovDevicePlugin"
VF_REGISTRATION_TYPE = "agilio-offload:index:VfRegistration"
MULTUS_TYPE = "agilio-offload:index:Multus"
OFFLOAD_NAD_TYPE = "agilio-offload:index:OffloadNAD"
KUBE_OVN_OFFLOAD_TYPE = "agilio-offload:index:KubeOvnOffload"
NODE_MARKS_TYPE = "agilio-offload:index:NodeMarks"
# pulumi-command's: a command over SSH on a node, and one on the operator's machine.
REMOTE_COMMAND = "command:remote:Command"
LOCAL_COMMAND = "command:local:Command"

# --- the node steps ------------------------------------------------------------------------------

# The node's steps over SSH, in runbook order; each is a remote command named "<node>-<step>".
# The read-only "preflight" runs first, from the Preflight component.
PREFLIGHT_STEP = "preflight"
HARDWARE_STEPS = ("firmware", "driver", "vfs")
STEPS = (PREFLIGHT_STEP, "reload-wait", *HARDWARE_STEPS)
# Records the drain's lease on the node, right after the drain (components/node/lease.py).
DRAINED_STEP = "drained"
# Every step over SSH of a node, in chain order.
ON_NODE_STEPS = (PREFLIGHT_STEP, DRAINED_STEP, "reload-wait", *HARDWARE_STEPS)
# The kubectl steps around them, on the operator's machine, in chain order.
KUBECTL_STEPS = (
    "uncordon-after-undo",
    "drain",
    "drain-before-undo",
    "device-plugin-restart",
    "vfs-advertised",
    "uncordon",
)
# The operator-side waits for the node's SSH port to go away and come back (a TCP probe, no
# session) after a detached nfp reload: "ssh-return" after the driver step, before vfs;
# "ssh-return-after-undo" (its delete) after the firmware undo of a destroy, before reload-wait's.
SSH_RETURN_STEP = "ssh-return"
SSH_RETURN_AFTER_UNDO_STEP = "ssh-return-after-undo"
SSH_RETURN_STEPS = (SSH_RETURN_AFTER_UNDO_STEP, SSH_RETURN_STEP)
# The kubectl script that drains a node within rollout.maxUnavailable (kubectl_scripts/).
DRAIN_SCRIPT = "drain-within-bound"
GATE_NAME = "preflight-gate"
# In the stack's `nodes` output, a node whose decommission finished: `{"pf": ..., DECOMMISSIONED:
# true}` (the change guard lets only such a node leave the config).
DECOMMISSIONED_FACT = "decommissioned"


def step_name(node: str, step: str) -> str:
    """The resource name of a node's step: `<node>-<step>`."""
    return f"{node}-{step}"


def step_of(name: str, node: str) -> str:
    """The step of `node` that the resource `name` (`<node>-<step>`) is."""
    return name.removeprefix(f"{node}-")


def node_of_step(name: str, step: str) -> str | None:
    """The node whose `step` the resource `name` is, None when `name` is not a `step`."""
    suffix = f"-{step}"
    return name.removesuffix(suffix) if name.endswith(suffix) else None


# --- labels and the device plugin's resource -----------------------------------------------------

# Set on every Agilio node; the SR-IOV device plugin runs only where it is.
AGILIO_NODE_LABEL = "agilio-offload/agilio-cx"
AGILIO_NODE_LABEL_VALUE = "true"
# The SR-IOV device plugin's DaemonSet and pod labels.
DEVICE_PLUGIN_DAEMON_SET = "kube-sriov-device-plugin"
DEVICE_PLUGIN_LABELS = {"app": "sriovdp", "name": "sriov-device-plugin", "tier": "node"}
DEVICE_PLUGIN_POD_SELECTOR = f"name={DEVICE_PLUGIN_LABELS['name']}"
# The extended resource pods request for a VF (`sriov.resourcePrefix`/`sriov.resourceName`).
DEFAULT_RESOURCE_PREFIX = "corigine.com"
DEFAULT_RESOURCE_NAME = "agilio_sriov"
DEFAULT_RESOURCE = f"{DEFAULT_RESOURCE_PREFIX}/{DEFAULT_RESOURCE_NAME}"
