"""The stack config model (namespace `agilio-offload`): every key, its type and its default.

Defaults are the runbook's values. `StackConfig.resolved_nodes()` fills the stack-wide defaults
into each node (`ResolvedNode`), which is what the node steps see.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from components.config import pins
from components.config.kube_ovn_values import kube_ovn_values_problems
from components.config.paths import expand_home
from components.config.validators import (
    Assy,
    AtLeastOne,
    ChartVersion,
    DriverName,
    Host,
    HostKey,
    IfName,
    IpAddress,
    KubeconfigPath,
    Label,
    LinuxUser,
    NodeName,
    PciId,
    Port,
    PrivateKeyPath,
    Registry,
    ResourceName,
    ResourcePrefix,
    StrictBool,
    Text,
    VfCount,
    fail,
    is_extended_resource_name,
)
from components.names import DEFAULT_RESOURCE_NAME, DEFAULT_RESOURCE_PREFIX


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        strict=False,
    )


class NodeConfig(_Model):
    """One Agilio node: Kubernetes name, SSH address, its PF and per-node overrides."""

    name: NodeName
    host: Host
    pf: IfName
    uplink: IfName | None = None
    vfs: VfCount | None = None
    port: Port = 22
    user: LinuxUser | None = None
    host_key: HostKey | None = None
    assy: Assy | None = None
    # Undo the node's offload in the rollout's order and bound (docs/rollout.md "Removing a
    # node"); a node leaves `nodes` only once an update has finished its decommission.
    decommission: StrictBool = False


class SshConfig(_Model):
    user: LinuxUser = "root"
    private_key_path: PrivateKeyPath | None = None
    sudo: StrictBool | None = None
    # Without a hostKey pulumi-command does not check the host at all (ssh.InsecureIgnoreHostKey
    # in remote/connection.go): only an explicit opt-out allows that.
    allow_unpinned: StrictBool = False

    @field_validator("private_key_path")
    @classmethod
    def _key_file_is_text(cls, value: str | None) -> str | None:
        """The file the node steps read as the key (`read_text`): refused here, before any
        resource, when it cannot be read as UTF-8 text."""
        if value is None:
            return value
        path = expand_home(value)
        try:
            path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise fail(
                "private_key_path",
                "is not a text file (not UTF-8): an OpenSSH or PEM private key is text",
                value,
            ) from None
        except OSError as err:
            why = "is not a readable file on this machine"
            raise fail("private_key_path", f"{why} ({err.strerror})", value) from None
        return value


class FirmwareConfig(_Model):
    app: Literal["flower", "flower-next"] = "flower"
    assy: Assy = "scan"


class RolloutConfig(_Model):
    max_unavailable: AtLeastOne = 1
    drain: StrictBool = True


class SriovConfig(_Model):
    resource_prefix: ResourcePrefix = DEFAULT_RESOURCE_PREFIX
    resource_name: ResourceName = DEFAULT_RESOURCE_NAME
    vendors: Annotated[list[PciId], Field(min_length=1)] = ["19ee"]
    devices: Annotated[list[PciId], Field(min_length=1)] = ["6003"]
    drivers: Annotated[list[DriverName], Field(min_length=1)] = ["nfp_netvf"]

    @property
    def resource(self) -> str:
        """The extended resource pods request, e.g. `corigine.com/agilio_sriov`."""
        return f"{self.resource_prefix}/{self.resource_name}"

    @model_validator(mode="after")
    def _an_extended_resource(self) -> SriovConfig:
        # The kubelet advertises a device plugin's resource only when it is an extended
        # resource name; otherwise every node advertises 0 VFs after its drain.
        if not is_extended_resource_name(self.resource):
            raise fail(
                "extended_resource",
                "(resourcePrefix/resourceName) is not an extended resource name as Kubernetes "
                "IsExtendedResourceName defines it: no 'kubernetes.io/' in it, not starting "
                "with 'requests.', 'requests.<prefix>' at most 253 characters",
                self.resource,
            )
        return self


class NadConfig(_Model):
    name: Label = "default"
    namespace: Label = "default"


class MasterNode(_Model):
    """A Kube-OVN master (ovn-central) node: its Kubernetes name and its InternalIP."""

    name: NodeName
    ip: IpAddress


class KubeOvnConfig(_Model):
    # helm: the stack installs Kube-OVN (a Helm release); existing: a running Kube-OVN (e.g.
    # from install.sh) is kept, and the cluster preflight checks it has offload on.
    install: Literal["helm", "existing"] = "helm"
    chart_version: ChartVersion = pins.KUBE_OVN_CHART_VERSION
    # The default uplink of the Agilio nodes (their tunnel-interface annotation); unset: each
    # Agilio node names its uplink. Never IFACE for the whole cluster: other nodes keep their
    # node-IP NIC (components/cluster/kube_ovn.py).
    iface: IfName | None = None
    # Required with install: helm (checked with the other cross-field rules).
    master_nodes: list[MasterNode] = []
    # Before `values`, whose check reads it.
    allowed_registries: list[Registry] = []
    values: dict[str, Any] = {}

    @field_validator("values")
    @classmethod
    def _values_keep_offload(cls, values: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        problems = kube_ovn_values_problems(
            values,
            info.data.get("allowed_registries", []),
            info.data.get("chart_version", pins.KUBE_OVN_CHART_VERSION),
        )
        if problems:
            raise PydanticCustomError("kube_ovn_values", "; ".join(problems))
        return values


class MultusConfig(_Model):
    # stack: the stack installs thick Multus and the NAD CRD; existing: both are already on the
    # cluster (the cluster preflight checks they are) and are reused as they are.
    install: Literal["stack", "existing"] = "stack"


class KubernetesConfig(_Model):
    context: Text | None = None
    kubeconfig_path: KubeconfigPath | None = None


class StackConfig(_Model):
    """The whole `agilio-offload:*` config of a stack."""

    nodes: Annotated[list[NodeConfig], Field(min_length=1)]
    vfs: VfCount = 4
    ssh: SshConfig = SshConfig()
    firmware: FirmwareConfig = FirmwareConfig()
    rollout: RolloutConfig = RolloutConfig()
    sriov: SriovConfig = SriovConfig()
    nad: NadConfig = NadConfig()
    kube_ovn: KubeOvnConfig
    multus: MultusConfig = MultusConfig()
    kubernetes: KubernetesConfig = KubernetesConfig()

    def resolved_nodes(self) -> list[ResolvedNode]:
        """Every node with the stack-wide defaults filled in, in config order."""
        return [self._resolve(node) for node in self.nodes]

    def _resolve(self, node: NodeConfig) -> ResolvedNode:
        user = node.user or self.ssh.user
        return ResolvedNode(
            name=node.name,
            host=node.host,
            port=node.port,
            user=user,
            sudo=self.ssh.sudo if self.ssh.sudo is not None else user != "root",
            host_key=node.host_key,
            pf=node.pf,
            # One of the two is set (a config rule).
            uplink=node.uplink or self.kube_ovn.iface or "",
            vfs=node.vfs if node.vfs is not None else self.vfs,
            app=self.firmware.app,
            assy=node.assy or self.firmware.assy,
            decommission=node.decommission,
        )


class ResolvedNode(_Model):
    """A node as the hardware steps see it: no defaults left to look up."""

    name: str
    host: str
    port: int
    user: str
    sudo: bool
    host_key: str | None
    pf: str
    uplink: str
    vfs: int
    app: str
    assy: str
    decommission: bool = False
