"""`python -m tools.verify` end to end against a stand-in `kubectl` first on PATH.

The stand-in is a Python script answering like a cluster described by `scenario.json` next to it;
it records each call's argv in `argv.log`, refuses `get` without `-o json`, and checks the exact
`kubectl exec ... -- ovs-appctl dpctl/dump-flows -m type=...` command.
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

from tools import verify
from tools.verify import main

REPO = Path(__file__).resolve().parent.parent
OVS_SELECTOR = "app.kubernetes.io/name=kube-ovn-ovs"  # the ovs-ovn pods of the kube-ovn-v2 chart

STAND_IN = """
import json
import sys
from pathlib import Path

OVS_SELECTOR = "app.kubernetes.io/name=kube-ovn-ovs"

here = Path(__file__).resolve().parent
scenario = json.loads((here / "scenario.json").read_text())
args = sys.argv[1:]
with open(here / "argv.log", "a") as log:
    log.write(json.dumps(args) + "\\n")


def fail(message, code=1):
    sys.stderr.write(message + "\\n")
    sys.exit(code)


if scenario.get("fail"):
    fail(scenario["fail"])
if "--context" in args:
    at = args.index("--context")
    if scenario.get("context") not in (None, args[at + 1]):
        fail(f"error: context was not found for specified context: {args[at + 1]}")
    args = args[:at] + args[at + 2:]

if args[:1] == ["get"]:
    if args[-2:] != ["-o", "json"]:
        fail("stand-in kubectl: this test wants -o json", 3)
    if args[:-2] == ["get", "pods", "-n", "kube-system", "-l", OVS_SELECTOR]:
        items = scenario["ovs_pods"]
    elif args[:-2] == ["get", "pods", "--all-namespaces"]:
        items = scenario["ovs_pods"] + scenario["pods"]
    else:
        fail(f"stand-in kubectl: unexpected {args}", 3)
    print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
elif args[:1] == ["exec"]:
    pod = args[3]
    expected = ["exec", "-n", "kube-system", pod, "-c", "openvswitch", "--",
                "ovs-appctl", "dpctl/dump-flows", "-m"]
    if args[:-1] != expected or args[-1] not in ("type=offloaded", "type=non-offloaded"):
        fail(f"stand-in kubectl: unexpected {args}", 3)
    if pod not in scenario["flows"]:
        fail(f'Error from server (NotFound): pods "{pod}" not found')
    sys.stdout.write(scenario["flows"][pod][args[-1].removeprefix("type=")])
else:
    fail(f"stand-in kubectl: unexpected {args}", 3)
"""

VF = "corigine.com/agilio_sriov"

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


def pod(
    name: str,
    node: str | None,
    *,
    namespace: str = "default",
    phase: str = "Running",
    requests: dict[str, str] | None = None,
    limits: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    spec: dict[str, Any] = {"containers": [{"name": "main", "resources": resources}]}
    if node:
        spec["nodeName"] = node
    metadata = {"name": name, "namespace": namespace, "labels": labels or {}}
    return {"metadata": metadata, "spec": spec, "status": {"phase": phase}}


def ovs_pod(name: str, node: str, phase: str = "Running") -> dict[str, Any]:
    return pod(name, node, namespace="kube-system", phase=phase, labels={"app": "ovs"})


def cluster(node_b_offloads: bool = False) -> dict[str, Any]:
    """node-a: 2 VF pods, offloaded; node-b: 1 VF pod, offloaded only if `node_b_offloads`."""
    return {
        "context": "lab",
        "ovs_pods": [ovs_pod("ovs-ovn-7xk2p", "node-a"), ovs_pod("ovs-ovn-9qz4m", "node-b")],
        "pods": [
            pod("vf-client", "node-a", requests={VF: "1", "cpu": "100m"}, limits={VF: "1"}),
            pod("vf-server", "node-a", limits={VF: "1"}),  # limits only: still a VF pod
            pod("coredns-5d78c", "node-a", namespace="kube-system", requests={"cpu": "100m"}),
            pod("vf-b", "node-b", requests={VF: "1"}),
            pod("vf-job-done", "node-b", phase="Succeeded", requests={VF: "1"}),
            pod("vf-unscheduled", None, phase="Pending", requests={VF: "1"}),
        ],
        "flows": {
            "ovs-ovn-7xk2p": {"offloaded": NODE_A_OFFLOADED, "non-offloaded": NODE_A_NOT_OFFLOADED},
            "ovs-ovn-9qz4m": {
                "offloaded": NODE_B_OFFLOADED if node_b_offloads else "",
                "non-offloaded": NODE_B_NOT_OFFLOADED,
            },
        },
    }


class StandIn:
    """The stand-in kubectl in tmp_path/bin, first on PATH."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        script = self.bin / "kubectl"
        script.write_text(f"#!{sys.executable}\n{STAND_IN}")
        script.chmod(0o755)
        self.path = f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}"
        monkeypatch.setenv("PATH", self.path)
        self.answer(cluster())

    def answer(self, scenario: dict[str, Any]) -> None:
        (self.bin / "scenario.json").write_text(json.dumps(scenario))

    def calls(self) -> list[list[str]]:
        log = self.bin / "argv.log"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.fixture
def kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    return StandIn(tmp_path, monkeypatch)


def table_rows(stdout: str) -> dict[str, list[str]]:
    """Rows of the table by node, cells split at runs of 2+ spaces."""
    lines = stdout.strip().splitlines()
    assert re.split(r"\s{2,}", lines[0]) == list(verify.COLUMNS)
    return {cells[0]: cells for cells in (re.split(r"\s{2,}", line) for line in lines[1:])}


NODE_A_ROW = ["node-a", "2", "2", "6958", "681884", "1", "42", "2520", "99.4%", "ok"]
NODE_B_ROW = ["node-b", "1", "0", "0", "0", "2", "238", "23324", "0.0%", "NO OFFLOADED FLOWS"]


def test_table_and_exit_1_for_a_node_without_offloaded_flows(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--context", "lab"]) == 1
    out, err = capsys.readouterr()
    assert table_rows(out) == {"node-a": NODE_A_ROW, "node-b": NODE_B_ROW}
    assert "node-b" in err
    assert "no offloaded flow" in err
    assert "node-a" not in err


def test_kubectl_gets_the_context_and_json_output(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--context", "lab"])
    calls = kubectl.calls()
    assert all(call[:2] == ["--context", "lab"] for call in calls)
    gets = sorted(call[2:] for call in calls if call[2] == "get")
    assert gets == [
        ["get", "pods", "--all-namespaces", "-o", "json"],
        ["get", "pods", "-n", "kube-system", "-l", OVS_SELECTOR, "-o", "json"],
    ]
    execs = sorted(call[2:] for call in calls if call[2] == "exec")
    dump = ["ovs-appctl", "dpctl/dump-flows", "-m"]
    assert execs == [
        ["exec", "-n", "kube-system", pod, "-c", "openvswitch", "--", *dump, f"type={kind}"]
        for pod in ("ovs-ovn-7xk2p", "ovs-ovn-9qz4m")
        for kind in ("non-offloaded", "offloaded")
    ]


def test_no_context_option_passes_none(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    main([])
    calls = kubectl.calls()
    assert len(calls) == 6
    assert not any("--context" in call for call in calls)


def test_every_node_offloaded_exits_0(kubectl: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    kubectl.answer(cluster(node_b_offloads=True))
    assert main(["--context", "lab"]) == 0
    out, err = capsys.readouterr()
    node_b = ["node-b", "1", "1", "500", "49000", "2", "238", "23324", "67.8%", "ok"]
    assert table_rows(out) == {"node-a": NODE_A_ROW, "node-b": node_b}
    assert err == ""


def test_no_vf_pods_anywhere_is_no_failure_but_says_nothing_is_proven(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = cluster(node_b_offloads=True)
    scenario["pods"] = [p for p in scenario["pods"] if p["metadata"]["name"] == "coredns-5d78c"]
    kubectl.answer(scenario)
    assert main(["--context", "lab"]) == 0
    out, err = capsys.readouterr()
    assert {row[1] for row in table_rows(out).values()} == {"0"}
    assert err == (
        f"verify: no node runs a pod with {VF}: nothing shows offload yet; run a pod on a VF"
        ' (README "Stack outputs") and check again\n'
    )


def test_json_output(kubectl: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--context", "lab", "--json"]) == 1
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert document["ok"] is False
    assert document["nodes"] == [
        {
            "node": "node-a",
            "ovs_pod": "ovs-ovn-7xk2p",
            "vf_pods": 2,
            "offloaded_flows": 2,
            "offloaded_packets": 6958,
            "offloaded_bytes": 681884,
            "not_offloaded_flows": 1,
            "not_offloaded_packets": 42,
            "not_offloaded_bytes": 2520,
            "offloaded_share": 99.4,
            "status": "ok",
            "reason": None,
        },
        {
            "node": "node-b",
            "ovs_pod": "ovs-ovn-9qz4m",
            "vf_pods": 1,
            "offloaded_flows": 0,
            "offloaded_packets": 0,
            "offloaded_bytes": 0,
            "not_offloaded_flows": 2,
            "not_offloaded_packets": 238,
            "not_offloaded_bytes": 23324,
            "offloaded_share": 0.0,
            "status": "NO OFFLOADED FLOWS",
            "reason": None,
        },
    ]
    assert "node-b" in err


def test_json_all_ok(kubectl: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    kubectl.answer(cluster(node_b_offloads=True))
    assert main(["--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is True
    assert [node["status"] for node in document["nodes"]] == ["ok", "ok"]
    assert [node["offloaded_share"] for node in document["nodes"]] == [99.4, 67.75]


def test_no_kubectl_on_path_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert main(["--context", "lab"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "kubectl not found on PATH" in err
    assert "install kubectl" in err
    assert len(err.strip().splitlines()) == 1


def test_unreachable_cluster_exits_2_with_kubectl_stderr(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    message = "Unable to connect to the server: dial tcp 10.0.0.1:6443: connect: no route to host"
    kubectl.answer({**cluster(), "fail": message})
    assert main(["--context", "lab"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err
    assert f"kubectl --context lab get pods -n kube-system -l {OVS_SELECTOR} -o json" in err
    assert "KUBECONFIG" in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_context_exits_2(kubectl: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--context", "prod"]) == 2
    assert "context was not found for specified context: prod" in capsys.readouterr().err


def test_no_ovs_ovn_pods_exits_2(kubectl: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    kubectl.answer({**cluster(), "ovs_pods": []})
    assert main(["--context", "lab", "--json"]) == 2
    out, err = capsys.readouterr()
    assert f"no ovs-ovn pods found (label {OVS_SELECTOR} in namespace kube-system)" in err
    assert "--namespace" in err
    assert json.loads(out) == {
        "ok": False,
        "error": err.split("cannot check: ", 1)[1].strip(),
        "nodes": [],
    }


def test_ovs_pod_not_running_and_missing_ovs_pod_cannot_be_checked(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = cluster(node_b_offloads=True)
    scenario["ovs_pods"].append(ovs_pod("ovs-ovn-c", "node-c", phase="Pending"))
    scenario["pods"].append(pod("vf-d", "node-d", requests={VF: "1"}))
    kubectl.answer(scenario)
    assert main([]) == 2
    out, err = capsys.readouterr()
    rows = table_rows(out)
    assert rows["node-c"] == [
        "node-c",
        "0",
        *["-"] * 7,
        "cannot check: ovs-ovn pod ovs-ovn-c is Pending",
    ]
    assert rows["node-d"][-1] == (
        f"cannot check: no ovs-ovn pod ({OVS_SELECTOR} in kube-system) on this node"
    )
    assert rows["node-d"][1] == "1"
    assert "cannot check node node-c: ovs-ovn pod ovs-ovn-c is Pending" in err
    assert "cannot check node node-d" in err
    assert not any("ovs-ovn-c" in call for call in kubectl.calls())


def test_a_failed_node_wins_over_one_that_cannot_be_checked(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = cluster()
    scenario["ovs_pods"].append(ovs_pod("ovs-ovn-c", "node-c"))  # no flows: exec fails
    kubectl.answer(scenario)
    assert main([]) == 1
    out, err = capsys.readouterr()
    assert 'pods "ovs-ovn-c" not found' in table_rows(out)["node-c"][-1]
    assert "node-b" in err
    assert "cannot check node node-c: `kubectl exec -n kube-system ovs-ovn-c" in err


def test_unparseable_dump_exits_2_naming_the_line(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = cluster(node_b_offloads=True)
    scenario["flows"]["ovs-ovn-9qz4m"]["offloaded"] = "ovs-appctl: unknown command\n"
    kubectl.answer(scenario)
    assert main(["--context", "lab"]) == 2
    err = capsys.readouterr().err
    assert "cannot check node node-b: type=offloaded dump of ovs-ovn-9qz4m" in err
    assert "line 1" in err
    assert "'ovs-appctl: unknown command'" in err


def test_other_resource_namespace_and_container(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing requests example.com/other_vf: no node runs VF pods, so nothing can fail.
    assert main(["--resource", "example.com/other_vf"]) == 0
    rows = table_rows(capsys.readouterr().out)
    assert [row[1] for row in rows.values()] == ["0", "0"]
    assert main(["--container", "ovs"]) == 2  # the stand-in only knows "openvswitch"
    assert main(["--namespace", "kube-ovn"]) == 2  # the stand-in has no ovs pods there


def test_kubectl_timeout_is_a_cannot_check(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    slow = kubectl.bin / "kubectl"
    slow.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(30)\n")
    assert main(["--timeout", "0.5"]) == 2
    assert "timed out after 0.5s" in capsys.readouterr().err


def test_command_line_in_a_subprocess(kubectl: StandIn) -> None:
    env = {**os.environ, "PATH": kubectl.path}
    done = subprocess.run(
        [sys.executable, "-m", "tools.verify", "--context", "lab"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert table_rows(done.stdout) == {"node-a": NODE_A_ROW, "node-b": NODE_B_ROW}
    assert "node-b" in done.stderr
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


@pytest.mark.parametrize("argv", [["--timeout", "0"], ["--jobs", "0"]])
def test_bad_options_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2
    assert "must be" in capsys.readouterr().err
