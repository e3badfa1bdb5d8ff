"""A Kubernetes security scanner (checkov) over the plan's manifests, against accepted findings.

Every finding is either fixed or listed below with why it stays. The test fails on a new finding
and on an accepted one that went away (so the list is never stale). checkov runs from its own
venv, `.venv-scan`, which `./dev.sh test` makes from `requirements-scan.txt`; set `CHECKOV` to
use another binary. Without it the test fails: it is part of the suite, not optional.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tools import plan
from tools.engine.mock_driver import REPO_ROOT

CHECKOV = Path(os.environ.get("CHECKOV", REPO_ROOT / ".venv-scan" / "bin" / "checkov"))
DEVICE_PLUGIN = "daemonset-kube-system-kube-sriov-device-plugin.yaml"
MULTUS = "daemonset-kube-system-kube-multus-ds.yaml"
CHECKOV_OPTIONS = ("--quiet", "--output", "json", "--skip-download")

# Why both DaemonSets keep each finding. Both are node agents that upstream ships this way.
BOTH = {
    "CKV_K8S_16": "privileged: Multus enters pod network namespaces and runs CNI plugins in the "
    "host root; the device plugin reads VF PCI config and device nodes (comment in the component)",
    "CKV_K8S_20": "allowPrivilegeEscalation: implied by privileged (the API rejects false with it)",
    "CKV_K8S_37": "capabilities: a privileged container has all; nothing narrower works for it",
    "CKV_K8S_28": "NET_RAW: part of privileged, as above",
    "CKV_K8S_23": "root: both write host directories owned by root (CNI dirs, kubelet sockets)",
    "CKV_K8S_40": "high UID: runs as root, as above",
    "CKV_K8S_19": "hostNetwork: Multus wires the host's pod interfaces; the device plugin finds "
    "VF netdevs in the host's network namespace",
    "CKV_K8S_29": "pod securityContext: the container one says privileged; a pod-level one would "
    "change nothing for a privileged container",
    "CKV_K8S_31": "seccomp: privileged containers run unconfined whatever the profile says",
    "CKV_K8S_22": "read-only root filesystem: the images' entrypoints copy binaries at start",
    "CKV_K8S_8": "liveness probe: neither upstream image serves a health endpoint",
    "CKV_K8S_9": "readiness probe: node agents serve no traffic; as above",
    "CKV_K8S_15": "imagePullPolicy Always: the tag is pinned; Always would make a node's CNI "
    "restart depend on the registry being reachable",
    "CKV_K8S_43": "image digest: tags are pinned (components/config/pins.py); README says how to "
    "pin by digest once the digest is read from the registry",
    "CKV2_K8S_6": "NetworkPolicy: host-network pods are not subject to NetworkPolicy",
}
ACCEPTED: dict[tuple[str, str], str] = {
    **{(check, DEVICE_PLUGIN): why for check, why in BOTH.items()},
    **{(check, MULTUS): why for check, why in BOTH.items()},
    ("CKV_K8S_17", MULTUS): "hostPID: Multus resolves pod network namespaces through host PIDs",
    ("CKV_K8S_38", MULTUS): "service account token: Multus reads NADs and pods from the API "
    "(read-only NAD access, see its ClusterRole); the device plugin's token is not mounted",
}


def _checkov_findings(directory: Path) -> set[tuple[str, str]]:
    if not CHECKOV.is_file():
        pytest.fail(f"checkov not found at {CHECKOV}: run ./dev.sh test (it makes .venv-scan)")
    completed = subprocess.run(
        [str(CHECKOV), "-d", str(directory), "--framework", "kubernetes", *CHECKOV_OPTIONS],
        capture_output=True,
        text=True,
        timeout=300,
        # No network: no guideline download, no platform upload.
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CKV_NO_UPLOAD": "TRUE"},
        check=False,
    )
    assert completed.returncode in (0, 1), completed.stderr[-2000:]
    report = json.loads(completed.stdout)
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["resource_count"] > 0
    return {
        (check["check_id"], re.sub(r"^\d+-", "", Path(check["file_path"]).name))
        for check in report["results"]["failed_checks"]
    }


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    out = tmp_path_factory.mktemp("plan") / "dev"
    assert plan.main(["--stack", "dev", "--out", str(out)]) == 0
    return _checkov_findings(out / "kubernetes")


def test_no_finding_beyond_the_accepted_ones(findings: set[tuple[str, str]]) -> None:
    assert sorted(findings - set(ACCEPTED)) == []


def test_every_accepted_finding_still_occurs(findings: set[tuple[str, str]]) -> None:
    assert sorted(set(ACCEPTED) - findings) == []


def test_rbac_service_accounts_and_config_pass_every_check(
    findings: set[tuple[str, str]],
) -> None:
    assert {name for _, name in findings} == {DEVICE_PLUGIN, MULTUS}


def test_the_scanner_catches_a_wide_cluster_role(tmp_path: Path) -> None:
    # The scan above could fail: a wildcard ClusterRole is a finding checkov reports.
    (tmp_path / "role.yaml").write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: wide\n"
        "rules:\n- apiGroups: ['*']\n  resources: ['*']\n  verbs: ['*']\n"
    )
    assert {name for _, name in _checkov_findings(tmp_path)} == {"role.yaml"}
