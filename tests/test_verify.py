"""`python -m tools.verify` end to end against the stand-in `kubectl` first on PATH.

The stand-in (tests/support/kubectl_standin.py, shared with the registration wait's tests) is
the simulated cluster's kubectl, seeded from a scenario: pods with the labels each Kube-OVN install
sets, nodes with what kubelet advertises, and per ovs-ovn pod its `other_config:hw-offload` and
recorded dump-flows text. The cluster logs each call and refuses commands it does not model.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from components.names import DEFAULT_RESOURCE
from tests.support.kubectl_fixture import (
    AGILIO_LABELS,
    CHART_OVS_LABELS,
    INSTALL_SH_OVS_LABELS,
    StandIn,
    advertised,
    interfaces,
    node,
    ovs_pod,
    pod,
)
from tools import verify
from tools.verify import main


def unwrapped(text: str) -> str:
    """stderr with the wrapped findings joined back into one line each."""
    return text.replace("\n  ", " ")


REPO = Path(__file__).resolve().parent.parent
OVS_SELECTOR = "app=ovs"  # what both installs set on the ovs-ovn pods
CHART_SELECTOR = "app.kubernetes.io/name=kube-ovn-ovs"  # the kube-ovn-v2 chart's own label
HW_OFFLOAD = ["ovs-vsctl", "--if-exists", "get", "Open_vSwitch", ".", "other_config:hw-offload"]

VF = DEFAULT_RESOURCE

# node-a: the runbook's two ICMP flows, offloaded, and one ARP flow that is not.
NODE_A_OFFLOADED = """\
ufid:91cc45de-e7e9-4935-8f82-1890430b0f66, skb_priority(0/0),skb_mark(0/0),ct_state(0/0x23),\
ct_zone(0/0),ct_mark(0/0),ct_label(0/0x1),recirc_id(0),dp_hash(0/0),in_port(5b45c61b307e_h),\
packet_type(ns=0/0,id=0/0),eth(src=00:00:00:c5:6d:4e,dst=00:00:00:e7:16:ce),eth_type(0x0800),\
ipv4(src=0.0.0.0/0.0.0.0,dst=0.0.0.0/0.0.0.0,proto=0/0,tos=0/0,ttl=0/0,frag=no),\
icmp(type=0/0,code=0/0), packets:3479, bytes:340942, used:0.330s, offloaded:yes, dp:tc, \
actions:54235e5753b8_h
ufid:e00768d7-e652-4d79-8182-3291d852b791, skb_priority(0/0),skb_mark(0/0),ct_state(0/0x23),\
ct_zone(0/0),ct_mark(0/0),ct_label(0/0x1),recirc_id(0),dp_hash(0/0),in_port(54235e5753b8_h),\
packet_type(ns=0/0,id=0/0),eth(src=00:00:00:e7:16:ce,dst=00:00:00:c5:6d:4e),eth_type(0x0800),\
ipv4(src=0.0.0.0/0.0.0.0,dst=0.0.0.0/0.0.0.0,proto=0/0,tos=0/0,ttl=0/0,frag=no),\
icmp(type=0/0,code=0/0), packets:3479, bytes:340942, used:0.330s, offloaded:yes, dp:tc, \
actions:5b45c61b307e_h
"""
NODE_A_NOT_OFFLOADED = """\
ufid:0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f, recirc_id(0),in_port(5b45c61b307e_h),\
eth(src=00:00:00:c5:6d:4e,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),\
arp(sip=10.16.0.5,tip=10.16.0.6,op=1/0xff), packets:42, bytes:2520, used:1.204s, dp:ovs, \
actions:54235e5753b8_h,2
"""
# node-b: ICMP both ways, all in the kernel datapath.
NODE_B_NOT_OFFLOADED = """\
ufid:1b0e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d, recirc_id(0),in_port(7c1f0d2a9e44_h),\
eth(src=00:00:00:3a:1b:2c,dst=00:00:00:4d:5e:6f),eth_type(0x0800),\
ipv4(src=10.16.0.12,dst=10.16.0.13,proto=1,frag=no),icmp(type=8/0,code=0/0), \
packets:120, bytes:11760, used:0.512s, dp:ovs, actions:8

ufid:2c1f3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e, recirc_id(0),in_port(8d2e1f3b0a55_h),\
eth(src=00:00:00:4d:5e:6f,dst=00:00:00:3a:1b:2c),eth_type(0x0800),\
ipv4(src=10.16.0.13,dst=10.16.0.12,proto=1,frag=no),icmp(type=0/0,code=0/0), \
packets:118, bytes:11564, used:0.498s, dp:ovs, actions:7
"""
NODE_B_OFFLOADED = """\
ufid:3d2a4e5f-6a7b-4c8d-0e9f-1a2b3c4d5e6f, recirc_id(0),in_port(7c1f0d2a9e44_h),\
eth(src=00:00:00:3a:1b:2c,dst=00:00:00:4d:5e:6f),eth_type(0x0800),ipv4(frag=no), \
packets:500, bytes:49000, used:0.100s, offloaded:yes, dp:tc, actions:8
"""


def cluster(
    node_b_offloads: bool = False,
    *,
    ovs_labels: dict[str, str] | None = None,
    vfs: tuple[int | None, int | None] = (4, 4),
    hw_offload: tuple[str | None, str | None] = ("true", "true"),
) -> dict[str, Any]:
    """node-a: 2 VF pods, offloaded; node-b: 1 VF pod, offloaded only if `node_b_offloads`.

    Both are Agilio nodes advertising `vfs` (node-a, node-b) of the resource, with
    `other_config:hw-offload` set to `hw_offload`; lab-control-1 is neither.
    """
    labels = ovs_labels or CHART_OVS_LABELS
    return {
        "context": "lab",
        "nodes": {
            "node-a": node(AGILIO_LABELS, (0, advertised(VF, vfs[0], vfs[0]))),
            "node-b": node(AGILIO_LABELS, (0, advertised(VF, vfs[1], vfs[1]))),
            "lab-control-1": node({}, (0, advertised(VF, None, None))),
        },
        "pods": [
            ovs_pod("ovs-ovn-7xk2p", "node-a", labels=labels),
            ovs_pod("ovs-ovn-9qz4m", "node-b", labels=labels),
            pod("vf-client", "node-a", requests={VF: "1", "cpu": "100m"}, limits={VF: "1"}),
            pod("vf-server", "node-a", limits={VF: "1"}),  # limits only: still a VF pod
            pod("coredns-5d78c", "node-a", namespace="kube-system", requests={"cpu": "100m"}),
            pod("vf-b", "node-b", requests={VF: "1"}),
            pod("vf-job-done", "node-b", phase="Succeeded", requests={VF: "1"}),
            pod("vf-unscheduled", None, phase="Pending", requests={VF: "1"}),
        ],
        "exec": {
            "ovs-ovn-7xk2p": {
                "hw_offload": hw_offload[0],
                "flows": {"offloaded": NODE_A_OFFLOADED, "non-offloaded": NODE_A_NOT_OFFLOADED},
                "interfaces": interfaces(
                    {
                        "5b45c61b307e_h": ("default", "vf-client"),
                        "54235e5753b8_h": ("default", "vf-server"),
                    }
                ),
            },
            "ovs-ovn-9qz4m": {
                "hw_offload": hw_offload[1],
                "flows": {
                    "offloaded": NODE_B_OFFLOADED if node_b_offloads else "",
                    "non-offloaded": "" if node_b_offloads else NODE_B_NOT_OFFLOADED,
                },
                "interfaces": interfaces({"7c1f0d2a9e44_h": ("default", "vf-b")}),
            },
        },
    }


def without_pods(scenario: dict[str, Any], *names: str) -> dict[str, Any]:
    scenario["pods"] = [p for p in scenario["pods"] if p["metadata"]["name"] not in names]
    return scenario


@pytest.fixture
def kubectl(kubectl: StandIn) -> StandIn:
    """The shared stand-in (conftest.py), answering as the sample cluster."""
    kubectl.answer(cluster())
    return kubectl


def table_rows(stdout: str) -> dict[str, list[str]]:
    """Rows of the table by node, cells split at runs of 2+ spaces."""
    lines = stdout.strip().split("\n\n")[0].splitlines()
    assert re.split(r"\s{2,}", lines[0]) == list(verify.NODE_COLUMNS)
    return {cells[0]: cells for cells in (re.split(r"\s{2,}", line) for line in lines[1:])}


def write_outputs(tmp_path: Path, nodes: dict[str, Any], resource: str = VF) -> Path:
    """What `pulumi stack output --json` prints for this stack (components/outputs.py)."""
    document = {
        "sriovResource": resource,
        "networkAttachment": "default/default",
        "nodes": {
            name: {"pf": "ens1np0", "pciAddress": "0000:3b:00.0", "totalVfs": 60, "vfs": vfs}
            for name, vfs in nodes.items()
        },
    }
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(document, indent=2))
    return path


NODE_A_ROW = ["node-a", "2", "-/4/4", "true", "2/2", "ok"]
NODE_B_ROW = ["node-b", "1", "-/4/4", "true", "0/1", "NOT OFFLOADED"]


# --- flows, as before hw-offload and registration were checked ---


def test_table_and_exit_1_for_a_node_without_offloaded_flows(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--context", "lab"]) == 1
    out, err = capsys.readouterr()
    # lab-control-1: no Agilio node, no ovs-ovn pod, no VF pod: nothing to report.
    assert table_rows(out) == {"node-a": NODE_A_ROW, "node-b": NODE_B_ROW}
    assert (
        "verify: node node-b: VF pod default/vf-b (port 7c1f0d2a9e44_h) has 0.0% of 120"
        in unwrapped(err)
    )
    assert "node node-a" not in unwrapped(err)


def test_kubectl_gets_the_context_and_json_output(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--context", "lab"])
    calls = kubectl.calls()
    assert all(call[:2] == ["--context", "lab"] for call in calls)
    gets = sorted(call[2:] for call in calls if call[2] == "get")
    assert gets == [
        ["get", "nodes", "-o", "json"],
        ["get", "pods", "--all-namespaces", "-o", "json"],
        ["get", "pods", "-n", "kube-system", "-l", OVS_SELECTOR, "-o", "json"],
    ]
    execs = sorted(call[2:] for call in calls if call[2] == "exec")
    dump = ["ovs-appctl", "dpctl/dump-flows", "-m"]
    commands = [
        ["ovs-appctl", "dpctl/show"],
        [*dump, "type=non-offloaded"],
        [*dump, "type=offloaded"],
        ["ovs-vsctl", "--format=json", "--columns=name,ofport,external_ids", "list", "Interface"],
        HW_OFFLOAD,
    ]
    assert execs == sorted(
        ["exec", "-n", "kube-system", pod, "-c", "openvswitch", "--", *command]
        for pod in ("ovs-ovn-7xk2p", "ovs-ovn-9qz4m")
        for command in commands
    )


def test_no_context_option_passes_none(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    main([])
    calls = kubectl.calls()
    assert len(calls) == 13
    assert not any("--context" in call for call in calls)


def every_node_offloads() -> dict[str, Any]:
    return cluster(node_b_offloads=True)


def test_every_node_offloaded_exits_0(kubectl: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    kubectl.answer(every_node_offloads())
    assert main(["--context", "lab"]) == 0
    out, err = capsys.readouterr()
    node_b = ["node-b", "1", "-/4/4", "true", "1/1", "ok"]
    assert table_rows(out) == {"node-a": NODE_A_ROW, "node-b": node_b}
    assert unwrapped(err) == ""


def test_no_vf_pods_anywhere_is_no_failure_but_says_nothing_is_proven(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = without_pods(every_node_offloads(), "vf-client", "vf-server", "vf-b")
    kubectl.answer(without_pods(scenario, "vf-job-done", "vf-unscheduled"))
    assert main(["--context", "lab"]) == 0
    out, err = capsys.readouterr()
    assert {row[1] for row in table_rows(out).values()} == {"0"}
    assert unwrapped(err) == (
        f"verify: no node runs a pod with {VF}: nothing shows offload yet; run a pod on a VF"
        ' (README "Stack outputs") and check again\n'
    )


# --- both installs' labels ---


@pytest.mark.parametrize(
    "labels", [INSTALL_SH_OVS_LABELS, CHART_OVS_LABELS], ids=["install.sh", "chart"]
)
def test_default_selector_finds_the_ovs_pods_of_either_install(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str], labels: dict[str, str]
) -> None:
    scenario = every_node_offloads()
    for item in scenario["pods"][:2]:
        item["metadata"]["labels"] = labels
    kubectl.answer(scenario)
    assert main([]) == 0
    rows = table_rows(capsys.readouterr().out)
    assert [rows[n][-1] for n in ("node-a", "node-b")] == ["ok", "ok"]


def test_the_charts_own_label_misses_an_install_sh_cluster(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    kubectl.answer(cluster(ovs_labels=INSTALL_SH_OVS_LABELS))
    assert main(["--selector", CHART_SELECTOR]) == 2
    err = capsys.readouterr().err
    assert f"no ovs-ovn pods found (label {CHART_SELECTOR} in namespace kube-system)" in unwrapped(
        err
    )
    assert "--selector" in unwrapped(err)


# --- hw-offload and the three outcomes ---


@pytest.mark.parametrize(("value", "shown"), [("false", "false"), (None, "unset")])
def test_offload_off_fails_naming_the_node(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str], value: str | None, shown: str
) -> None:
    scenario = every_node_offloads()
    scenario["exec"]["ovs-ovn-9qz4m"]["hw_offload"] = value
    kubectl.answer(scenario)
    assert main([]) == 1
    out, err = capsys.readouterr()
    rows = table_rows(out)
    assert rows["node-b"][3] == shown
    assert rows["node-b"][-1] == "OFFLOAD OFF"
    assert rows["node-a"][-1] == "ok"
    assert unwrapped(err) == (
        "verify: node node-b has Open vSwitch hw-offload off (other_config:hw-offload: "
        f"{value or 'not set'}): run Kube-OVN with HW_OFFLOAD=true (chart: "
        "features.enableHardwareOffload) and restart its ovs-ovn pod\n"
    )


def test_vf_pods_without_any_flow_are_not_proven_exit_3(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = every_node_offloads()
    scenario["exec"]["ovs-ovn-9qz4m"]["flows"] = {"offloaded": "", "non-offloaded": ""}
    kubectl.answer(scenario)
    assert main([]) == 3
    out, err = capsys.readouterr()
    assert table_rows(out)["node-b"][-1] == "NO TRAFFIC YET"
    assert unwrapped(err) == (
        "verify: node node-b runs 1 VF pod(s) but none has a datapath flow: no traffic now "
        "(flows age out ~10 s after the last packet), offload not proven; run traffic between "
        "VF pods and run again while it flows (or use --watch)\n"
    )


def test_three_outcomes_in_json(kubectl: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = every_node_offloads()
    scenario["nodes"]["node-c"] = node(AGILIO_LABELS, (0, advertised(VF, 4, 4)))
    scenario["pods"] += [ovs_pod("ovs-ovn-c", "node-c"), pod("vf-c", "node-c", limits={VF: "1"})]
    scenario["exec"]["ovs-ovn-c"] = {"hw_offload": "true", "flows": {"offloaded": ""}}
    scenario["exec"]["ovs-ovn-c"]["interfaces"] = interfaces({"c0ffee0001_h": ("default", "vf-c")})
    scenario["exec"]["ovs-ovn-c"]["flows"]["non-offloaded"] = ""
    scenario["exec"]["ovs-ovn-9qz4m"]["hw_offload"] = "false"
    kubectl.answer(scenario)
    assert main(["--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert (document["ok"], document["exit_code"]) == (False, 1)
    by_node = {n["node"]: n for n in document["nodes"]}
    summary = {
        name: (n["hw_offload"], n["hw_offload_value"], n["status"], n["findings"])
        for name, n in by_node.items()
    }
    assert summary == {
        "node-a": (True, "true", "ok", []),
        "node-b": (False, "false", "OFFLOAD OFF", ["OFFLOAD OFF"]),
        "node-c": (True, "true", "NO TRAFFIC YET", ["NO TRAFFIC YET"]),
    }


def test_not_proven_yields_to_a_node_that_cannot_be_checked(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = every_node_offloads()
    scenario["exec"]["ovs-ovn-9qz4m"]["flows"] = {"offloaded": "", "non-offloaded": ""}
    scenario["pods"].append(ovs_pod("ovs-ovn-c", "node-c", phase="Pending"))
    kubectl.answer(scenario)
    assert main([]) == 2


@pytest.mark.parametrize(
    ("output", "value", "on"),
    [
        ('"true"\n', "true", True),  # as ovs-vsctl prints the OVSDB string "true"
        ('"false"\n', "false", False),
        ("\n", "", False),  # --if-exists and no key: Open vSwitch's default, off
        ("TRUE\n", "TRUE", True),  # smap_get_bool compares without case
        ("yes\n", "yes", False),  # anything but "true" leaves offload off
    ],
)
def test_hw_offload_value(output: str, value: str, on: bool) -> None:
    assert verify.parse_hw_offload(output) == value
    assert verify.hw_offload_on(value) is on


def test_unreadable_hw_offload_cannot_be_checked(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = every_node_offloads()
    scenario["exec"]["ovs-ovn-9qz4m"]["container"] = "ovs"  # exec into openvswitch fails
    kubectl.answer(scenario)
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert table_rows(out)["node-b"][3:] == ["-", "-", "cannot check"]
    assert "container openvswitch is not valid" in unwrapped(err)


# --- registration: VFs advertised beside the count expected ---


def test_expect_with_a_node_advertising_none_fails_naming_it(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = every_node_offloads()
    scenario["nodes"]["node-b"] = node(AGILIO_LABELS, (0, advertised(VF, 0, 0)))
    kubectl.answer(scenario)
    assert main(["--expect", "4"]) == 1
    out, err = capsys.readouterr()
    rows = table_rows(out)
    assert rows["node-a"][2:4] == ["4/4/4", "true"]
    assert rows["node-a"][-1] == "ok"
    assert rows["node-b"][2] == "4/0/0"
    assert rows["node-b"][-1] == "VFS NOT ADVERTISED"
    assert unwrapped(err) == (
        f"verify: node node-b advertises no {VF} (capacity 0, allocatable 0, expected 4): "
        "check its device plugin pod (kube-system, name=sriov-device-plugin) and the selectors "
        'sriov.vendors/devices/drivers (README "Registration check")\n'
    )


def test_outputs_with_a_node_advertising_fewer_fails_naming_it(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    scenario = every_node_offloads()
    scenario["nodes"]["node-b"] = node(AGILIO_LABELS, (0, advertised(VF, 8, 6)))
    kubectl.answer(scenario)
    outputs = write_outputs(tmp_path, {"node-a": 4, "node-b": 8})
    assert main(["--outputs", str(outputs), "--json"]) == 1
    out, err = capsys.readouterr()
    by_node = {n["node"]: n for n in json.loads(out)["nodes"]}
    assert {
        name: (n["vfs_expected"], n["vfs_capacity"], n["vfs_allocatable"], n["registration"])
        for name, n in by_node.items()
    } == {"node-a": (4, 4, 4, "ok"), "node-b": (8, 8, 6, "FEWER VFS THAN EXPECTED")}
    assert by_node["node-b"]["status"] == "FEWER VFS THAN EXPECTED"
    assert by_node["node-b"]["agilio"] is True
    assert (
        f"verify: node node-b advertises fewer {VF} than it has VFs (capacity 8, allocatable 6, "
        "expected 8)"
    ) in unwrapped(err)
    assert "node-a" not in unwrapped(err)


def test_outputs_name_a_node_without_the_label_or_not_in_the_cluster(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    scenario = every_node_offloads()
    scenario["nodes"]["node-b"]["labels"] = {}  # the label is gone: the plugin left the node
    scenario["nodes"]["node-b"]["status_after_reads"] = [[0, advertised(VF, None, None)]]
    kubectl.answer(scenario)
    outputs = write_outputs(tmp_path, {"node-a": 4, "node-b": 4, "node-gone": 2})
    assert main(["--outputs", str(outputs)]) == 1
    out, err = capsys.readouterr()
    rows = table_rows(out)
    assert rows["node-b"][2] == "4/-/-"
    assert rows["node-b"][-1] == "VFS NOT ADVERTISED"
    assert rows["node-gone"][2] == "2/-/-"
    assert rows["node-gone"][-1] == "VFS NOT ADVERTISED, cannot check"
    assert "cannot check node node-gone: no ovs-ovn pod" in unwrapped(err)
    assert "node node-gone is named in the stack outputs but is not in the cluster" in unwrapped(
        err
    )


def test_a_node_with_no_vfs_expected_may_advertise_none(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    scenario = without_pods(every_node_offloads(), "vf-b", "vf-job-done")
    scenario["nodes"]["node-b"] = node(AGILIO_LABELS, (0, advertised(VF, None, None)))
    kubectl.answer(scenario)
    outputs = write_outputs(tmp_path, {"node-a": 4, "node-b": 0})
    assert main(["--outputs", str(outputs)]) == 0
    assert table_rows(capsys.readouterr().out)["node-b"][2] == "0/-/-"


def test_without_an_expectation_only_none_advertised_fails(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = every_node_offloads()
    scenario["nodes"]["node-b"] = node(AGILIO_LABELS, (0, advertised(VF, None, None)))
    kubectl.answer(scenario)
    assert main([]) == 1
    out, err = capsys.readouterr()
    assert table_rows(out)["node-b"][2] == "-/-/-"
    assert "expected not given" in unwrapped(err)
    scenario["nodes"]["node-b"] = node(AGILIO_LABELS, (0, advertised(VF, 1, 1)))
    kubectl.answer(scenario)
    assert main([]) == 0


def test_outputs_resource_is_the_resource_checked(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    other = "example.com/agilio_vf"
    outputs = write_outputs(tmp_path, {"node-a": 4, "node-b": 4}, resource=other)
    kubectl.answer(every_node_offloads())
    assert main(["--outputs", str(outputs)]) == 1  # the nodes advertise only corigine.com's
    err = capsys.readouterr().err
    assert f"node node-a advertises no {other}" in unwrapped(err)
    assert main(["--outputs", str(outputs), "--resource", VF]) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "cannot read it (No such file or directory)"),
        ("{not json", "not JSON"),
        ('{"sriovResource": "corigine.com/agilio_sriov"}', "no 'nodes' object"),
        ('{"nodes": {"node-a": {"vfs": "four"}}}', "nodes.node-a.vfs is not a VF count: 'four'"),
    ],
)
def test_bad_outputs_file_exits_2_with_the_fix(
    kubectl: StandIn,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    text: str | None,
    message: str,
) -> None:
    path = tmp_path / "outputs.json"
    if text is not None:
        path.write_text(text)
    assert main(["--outputs", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"--outputs {path}: {message}" in unwrapped(err)
    if text is None or text.startswith("{not"):
        assert f"pulumi stack output --json > {path}" in unwrapped(err)
    assert len(err.strip().splitlines()) == 1


def test_json_output(kubectl: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--context", "lab", "--json", "--expect", "4"]) == 1
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert (document["ok"], document["exit_code"]) == (False, 1)
    registered = {
        "agilio": True,
        "vfs_expected": 4,
        "vfs_capacity": 4,
        "vfs_allocatable": 4,
        "registration": "ok",
        "hw_offload": True,
        "hw_offload_value": "true",
    }
    nodes = {node["node"]: node for node in document["nodes"]}
    for name, pods, status in (("node-a", 2, "ok"), ("node-b", 1, "NOT OFFLOADED")):
        summary = {key: nodes[name][key] for key in registered}
        assert (summary, nodes[name]["vf_pods"], nodes[name]["status"]) == (
            registered,
            pods,
            status,
        )
    assert nodes["node-b"]["findings"] == ["NOT OFFLOADED"]
    assert nodes["node-b"]["pods"] == [
        {
            "namespace": "default",
            "name": "vf-b",
            "port": "7c1f0d2a9e44_h",
            "local": {
                "flows": 1,
                "packets": 120,
                "bytes": 11760,
                "offloaded_flows": 0,
                "offloaded_packets": 0,
                "offloaded_bytes": 0,
            },
            "tunnel": dict.fromkeys(
                ("flows", "packets", "bytes", "offloaded_flows", "offloaded_packets"), 0
            )
            | {"offloaded_bytes": 0},
            "offloaded_share": 0.0,
            "verdict": "NOT OFFLOADED",
        }
    ]
    assert "node-b" in unwrapped(err)


def test_json_all_ok(kubectl: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    kubectl.answer(every_node_offloads())
    assert main(["--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["ok"], document["exit_code"]) == (True, 0)
    assert [node["status"] for node in document["nodes"]] == ["ok", "ok"]
    shares = [[p["offloaded_share"] for p in node["pods"]] for node in document["nodes"]]
    assert shares == [[98.8072, 100.0], [100.0]]


# --- what cannot be checked ---


def test_no_kubectl_on_path_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert main(["--context", "lab"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "kubectl not found on PATH" in unwrapped(err)
    assert "install kubectl" in unwrapped(err)
    assert len(err.strip().splitlines()) == 1


def test_unreachable_cluster_exits_2_with_kubectl_stderr(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    message = "The connection to the server 127.0.0.1:6443 was refused"
    kubectl.answer({**cluster(), "unreachable": True})
    assert main(["--context", "lab"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert message in unwrapped(err)
    assert f"kubectl --context lab get pods -n kube-system -l {OVS_SELECTOR} -o json" in unwrapped(
        err
    )
    assert "KUBECONFIG" in unwrapped(err)
    assert len(err.strip().splitlines()) == 1


def test_unknown_context_exits_2(kubectl: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--context", "prod"]) == 2
    assert "context was not found for specified context: prod" in unwrapped(capsys.readouterr().err)


def test_no_ovs_ovn_pods_exits_2(kubectl: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    kubectl.answer(without_pods(cluster(), "ovs-ovn-7xk2p", "ovs-ovn-9qz4m"))
    assert main(["--context", "lab", "--json"]) == 2
    out, err = capsys.readouterr()
    assert f"no ovs-ovn pods found (label {OVS_SELECTOR} in namespace kube-system)" in unwrapped(
        err
    )
    assert "--namespace" in unwrapped(err)
    assert json.loads(out) == {
        "ok": False,
        "exit_code": 2,
        "error": err.split("cannot check: ", 1)[1].strip(),
        "nodes": [],
    }


def test_ovs_pod_not_running_and_missing_ovs_pod_cannot_be_checked(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = every_node_offloads()
    scenario["pods"].append(ovs_pod("ovs-ovn-c", "node-c", phase="Pending"))
    scenario["pods"].append(pod("vf-d", "node-d", requests={VF: "1"}))
    kubectl.answer(scenario)
    assert main([]) == 2
    out, err = capsys.readouterr()
    rows = table_rows(out)
    assert rows["node-c"] == ["node-c", "0", "-", "-", "-", "cannot check"]
    assert rows["node-d"][-1] == "cannot check"
    assert f"no ovs-ovn pod ({OVS_SELECTOR} in kube-system) on this node" in unwrapped(err)
    assert rows["node-d"][1] == "1"
    assert "cannot check node node-c: ovs-ovn pod ovs-ovn-c is Pending" in unwrapped(err)
    assert "cannot check node node-d" in unwrapped(err)
    assert not any("ovs-ovn-c" in call for call in kubectl.calls())


def test_a_failed_node_wins_over_one_that_cannot_be_checked(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = cluster()
    scenario["pods"].append(ovs_pod("ovs-ovn-c", "node-c"))
    scenario["exec"]["ovs-ovn-c"] = {"container": "ovs"}  # exec into openvswitch fails
    kubectl.answer(scenario)
    assert main([]) == 1
    out, err = capsys.readouterr()
    assert table_rows(out)["node-c"][-1] == "cannot check"
    assert "container openvswitch is not valid for pod ovs-ovn-c" in unwrapped(err)
    assert "node node-b" in unwrapped(err)
    assert "cannot check node node-c: `kubectl exec -n kube-system ovs-ovn-c" in unwrapped(err)


def test_unparseable_dump_exits_2_naming_the_line(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = every_node_offloads()
    scenario["exec"]["ovs-ovn-9qz4m"]["flows"]["offloaded"] = "ovs-appctl: unknown command\n"
    kubectl.answer(scenario)
    assert main(["--context", "lab"]) == 2
    err = capsys.readouterr().err
    assert "cannot check node node-b: type=offloaded dump of ovs-ovn-9qz4m" in unwrapped(err)
    assert "line 1" in unwrapped(err)
    assert "'ovs-appctl: unknown command'" in unwrapped(err)


def test_other_resource_namespace_and_container(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    kubectl.answer(every_node_offloads())
    # Nothing requests example.com/other_vf and no node advertises it: no VF pods, and the
    # Agilio nodes advertise none of it.
    assert main(["--resource", "example.com/other_vf"]) == 1
    rows = table_rows(capsys.readouterr().out)
    assert [row[1] for row in rows.values()] == ["0", "0"]
    assert {row[-1] for row in rows.values()} == {"VFS NOT ADVERTISED"}
    assert main(["--container", "ovs"]) == 2  # the stand-in only knows "openvswitch"
    assert main(["--namespace", "kube-ovn"]) == 2  # the stand-in has no ovs pods there


def test_kubectl_timeout_is_a_cannot_check(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    slow = kubectl.bin / "kubectl"
    slow.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(30)\n")
    assert main(["--timeout", "0.5"]) == 2
    assert "timed out after 0.5s" in unwrapped(capsys.readouterr().err)


def test_command_line_in_a_subprocess(kubectl: StandIn) -> None:
    env = {**os.environ, "PATH": kubectl.path}
    done = subprocess.run(
        [sys.executable, "-m", "tools.verify", "--context", "lab", "--expect", "4"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    rows = table_rows(done.stdout)
    assert rows["node-b"] == [*NODE_B_ROW[:2], "4/4/4", *NODE_B_ROW[3:]]
    assert "node node-b" in unwrapped(done.stderr)
    assert kubectl.calls()[0][:2] == ["--context", "lab"]


@pytest.mark.parametrize(
    ("share", "text"),
    [
        (None, "-"),
        (0.0, "0.0%"),
        (0.01, "<0.1%"),
        (67.75, "67.8%"),
        (99.97, ">99.9%"),
        (100, "100.0%"),
    ],
)
def test_share_text(share: float | None, text: str) -> None:
    assert verify.share_text(share) == text


@pytest.mark.parametrize(
    "argv",
    [
        ["--timeout", "0"],
        ["--jobs", "0"],
        ["--expect", "-1"],
        ["--expect", "4", "--outputs", "o.json"],
    ],
)
def test_bad_options_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert "must be" in unwrapped(err) or "not allowed with argument" in unwrapped(err)


def test_outputs_leave_out_a_decommissioned_node(tmp_path: Path) -> None:
    """A decommissioned node's entry is only its mark (components/node/agilio_node.py): it is
    no offload node any more, so nothing is expected of it."""
    from tools.verify import read_outputs

    path = write_outputs(tmp_path, {"node-a": 4})
    document = json.loads(path.read_text())
    document["nodes"]["node-b"] = {"pf": "ens1np0", "decommissioned": True}
    path.write_text(json.dumps(document))
    assert read_outputs(path) == (VF, {"node-a": 4})
