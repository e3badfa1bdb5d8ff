"""Upstream versions and images this program deploys: the one place to change them.

Each pin is a released tag, never a moving one (`latest`, `snapshot`); README "Pinned versions"
says where each comes from and how to upgrade it.
"""

# Kube-OVN, from its official Helm repository (chart versions carry a leading "v").
KUBE_OVN_HELM_REPO = "https://kubeovn.github.io/kube-ovn/"
KUBE_OVN_CHART = "kube-ovn-v2"
KUBE_OVN_CHART_VERSION = "v1.16.2"

# SR-IOV network device plugin (upstream YAML says ":latest").
SRIOV_DEVICE_PLUGIN_VERSION = "v3.11.0"
SRIOV_DEVICE_PLUGIN_IMAGE = (
    f"ghcr.io/k8snetworkplumbingwg/sriov-network-device-plugin:{SRIOV_DEVICE_PLUGIN_VERSION}"
)

# Multus CNI, thick plugin (upstream YAML says ":snapshot-thick").
MULTUS_VERSION = "v4.3.0"
MULTUS_IMAGE = f"ghcr.io/k8snetworkplumbingwg/multus-cni:{MULTUS_VERSION}-thick"
