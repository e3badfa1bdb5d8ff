"""ClusterPreflight: read-only checks of the cluster before any node step changes anything.

One `local.Command` (`cluster-preflight-checks`) runs `scripts/cluster-preflight.sh` on the
machine that runs `pulumi`, with kubectl and the stack's kubeconfig/context. The rollout's
preflight gate waits for it, so a failed check stops the run before the first drain, firmware
or VF change on any node. It checks:

- every node in `nodes` and `kubeOvn.masterNodes` exists (a NodePatch of a missing node would
  create a phantom Node: server-side apply creates what it patches);
- no node's `ovn.kubernetes.io/tunnel_interface` annotation was set by someone else to another
  NIC than the stack's uplink for it;
- `kubeOvn.install: helm`: no Kube-OVN runs that the release `kube-system/kube-ovn` does not own
  (install.sh's cannot be taken over: DaemonSet selectors are immutable);
  `existing`: one runs, with ovs-ovn `HW_OFFLOAD=true`, kube-ovn-controller `--enable-lb=false`
  and kube-ovn-cni `--enable-mirror=false`, else the exact command that turns offload on;
- `multus.install: stack`: no Multus DaemonSet or NAD CRD that Pulumi did not apply;
  `existing`: thick Multus runs and the NAD CRD exists;
- none of the objects the stack creates exists already, unless Pulumi applied it: the device
  plugin's ConfigMap, ServiceAccount and DaemonSet (the runbook's `kubectl apply` of the
  upstream manifests makes the same three) and the NAD; and the NAD's namespace exists.

Every kubectl read that fails (RBAC, the API server gone) ends the check with exit 2 and
"check access", never with a finding (exit 1) made from a partial read.

It runs on its first `up` and again whenever what it checks changes (every input change of a
`local.Command` re-runs it); it has no undo.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
from pulumi_command import local

from components.cluster.provider import SYSTEM_NAMESPACE
from components.cluster.sriov_device_plugin import CONFIG_MAP_NAME, SERVICE_ACCOUNT_NAME
from components.config.models import KubernetesConfig
from components.names import CLUSTER_PREFLIGHT_TYPE, DEVICE_PLUGIN_DAEMON_SET
from components.scripts import CLUSTER_SCRIPTS, ParamValue, load_script, remote_command

SCRIPT = "cluster-preflight"
# The field manager of the stack's tunnel-interface node patches: the check finds it in a
# Node's managedFields to tell this stack's annotation from someone else's.
TUNNEL_FIELD_MANAGER = "agilio-offload-tunnel-interface"
NAD_CRD = "network-attachment-definitions.k8s.cni.cncf.io"


@dataclass
class ClusterPreflightArgs:
    nodes: Sequence[str]
    master_nodes: Sequence[str]
    # Agilio node name -> the uplink the stack annotates it with.
    tunnel_interfaces: Mapping[str, str]
    kube_ovn_install: str
    multus_install: str
    release: str
    kubernetes: KubernetesConfig
    namespace: str = SYSTEM_NAMESPACE
    nad_name: str = "default"
    nad_namespace: str = "default"
    device_plugin_namespace: str = SYSTEM_NAMESPACE


def load_cluster_script(name: str) -> str:
    return load_script(name, CLUSTER_SCRIPTS)


def script_params(args: ClusterPreflightArgs) -> dict[str, ParamValue]:
    """The script's prelude. Node names and interface names are validated config (no blanks or
    shell characters), so space-separated lists are exact."""
    return {
        "NODES": " ".join(args.nodes),
        "MASTERS": " ".join(args.master_nodes),
        "TUNNELS": " ".join(f"{node}={uplink}" for node, uplink in args.tunnel_interfaces.items()),
        "KUBE_OVN_INSTALL": args.kube_ovn_install,
        "MULTUS_INSTALL": args.multus_install,
        "NAMESPACE": args.namespace,
        "RELEASE": args.release,
        "TUNNEL_FIELD_MANAGER": TUNNEL_FIELD_MANAGER,
        "NAD_CRD": NAD_CRD,
        "NAD_NAME": args.nad_name,
        "NAD_NAMESPACE": args.nad_namespace,
        "DP_NAMESPACE": args.device_plugin_namespace,
        "DP_CONFIG_MAP": CONFIG_MAP_NAME,
        "DP_SERVICE_ACCOUNT": SERVICE_ACCOUNT_NAME,
        "DP_DAEMON_SET": DEVICE_PLUGIN_DAEMON_SET,
        "KUBECONFIG_PATH": args.kubernetes.kubeconfig_path or "",
        "KUBE_CONTEXT": args.kubernetes.context or "",
    }


def _always_quoted(value: ParamValue) -> str:
    """`shlex.quote`, in single quotes even where it needs none (shellcheck reads a bare
    `kind-lab` as arithmetic, SC2100)."""
    quoted = shlex.quote(str(value))
    return quoted if quoted.startswith("'") else f"'{quoted}'"


def render_prelude(params: Mapping[str, ParamValue]) -> str:
    """`NAME='value'` lines, one per parameter, in the order given."""
    return "\n".join(f"{name}={_always_quoted(value)}" for name, value in params.items())


def render_cluster_script(name: str, params: Mapping[str, ParamValue]) -> str:
    """The script with its parameters in a quoted prelude right after the shebang."""
    shebang, _, rest = load_cluster_script(name).partition("\n")
    prelude = render_prelude(params)
    return f"{shebang}\n# parameters (rendered by agilio-offload)\n{prelude}\n{rest}"


class ClusterPreflight(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: ClusterPreflightArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(CLUSTER_PREFLIGHT_TYPE, name, None, opts)
        self.script = render_cluster_script(SCRIPT, script_params(args))
        self.check = local.Command(
            f"{name}-checks",
            # The same `bash -c` heredoc form as the node steps, run by the local shell.
            create=remote_command(self.script, sudo=False),
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"kubeOvn": args.kube_ovn_install, "multus": args.multus_install})
