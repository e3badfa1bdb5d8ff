"""`tools.verify` judges each VF pod, on the crafted OVS 3.5 dumps in tests/fixtures/ovs/.

The stand-in kubectl answers for one node, node-a, as the fixtures describe it: VF pods
perf/iperf-server-0 and perf/iperf-client-0, the Interface table with Kube-OVN's external_ids,
`dpctl/show`, and a flow dump split as `type=offloaded` / `type=non-offloaded` would print it
(OVS `dpctl_dump_flows` filters on the flow's `offloaded` attribute, the `offloaded:yes` token).
Expected figures: tests/fixtures/ovs/expected.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.names import DEFAULT_RESOURCE
from tests.support.kubectl_fixture import AGILIO_LABELS, StandIn, advertised, node, ovs_pod, pod
from tools.flows import attribute, parse_dpctl_show, parse_dump
from tools.verify import main


def unwrapped(text: str) -> str:
    """stderr with the wrapped findings joined back into one line each."""
    return text.replace("\n  ", " ")


FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ovs"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())
VF = DEFAULT_RESOURCE
PODS = ("iperf-server-0", "iperf-client-0")


def split_by_token(text: str) -> dict[str, str]:
    """The dump as `type=offloaded` and `type=non-offloaded` print it."""
    lines = text.splitlines(keepends=True)
    on = [line for line in lines if "offloaded:yes" in line]
    return {"offloaded": "".join(on), "non-offloaded": "".join(set(lines) - set(on))}


def node_a(*dumps: str, hw_offload: str = "true") -> dict[str, Any]:
    """node-a running the fixtures' pods; one flow dump per sample (`--watch`)."""
    samples = [split_by_token((FIXTURES / name).read_text()) for name in dumps]
    return {
        "nodes": {"node-a": node(AGILIO_LABELS, (0, advertised(VF, 4, 4)))},
        "pods": [
            ovs_pod("ovs-ovn-7xk2p", "node-a"),
            *(pod(name, "node-a", namespace="perf", requests={VF: "1"}) for name in PODS),
            pod("coredns-7db6d8ff4d-x2k8p", "node-a", namespace="kube-system"),
        ],
        "exec": {
            "ovs-ovn-7xk2p": {
                "hw_offload": hw_offload,
                "flows": samples[0] if len(samples) == 1 else samples,
                "interfaces": json.loads((FIXTURES / "ovs-interfaces.json").read_text()),
                "dpctl_show": (FIXTURES / "dpctl-show.txt").read_text(),
            }
        },
    }


def verdicts(document: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["verdict"] for n in document["nodes"] for p in n["pods"]}


CASES = [
    ("flows-a-all-offloaded.txt", 0),
    ("flows-b-false-pass.txt", 1),
    ("flows-c-no-vf-traffic.txt", 3),
    ("flows-c-empty.txt", 3),
    ("flows-d-geneve-offloaded.txt", 0),
    ("flows-e-tc-software.txt", 1),
    ("flows-f-recirc-ct.txt", 0),
]


@pytest.mark.parametrize(("dump", "code"), CASES)
def test_each_vf_pod_is_judged_on_its_own_flows(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str], dump: str, code: int
) -> None:
    kubectl.answer(node_a(dump))
    assert main(["--json"]) == code
    document = json.loads(capsys.readouterr().out)
    expected = EXPECTED[dump]["pods"]
    by_name = {p["name"]: p for n in document["nodes"] for p in n["pods"]}
    verdict_names = {"offloaded": "offloaded", "not-offloaded": "NOT OFFLOADED"}
    verdict_names["no-traffic"] = "no traffic"
    for name in PODS:
        want, got = expected[name], by_name[name]
        assert got["namespace"] == "perf"
        assert got["port"] == EXPECTED["_ports"][name]
        assert got["verdict"] == verdict_names[want["verdict_at_95"]]
        for part in ("local", "tunnel"):
            assert got[part]["packets"] == want[part]["pkts"], (name, part)
            assert got[part]["bytes"] == want[part]["bytes"], (name, part)
            assert got[part]["offloaded_packets"] == want[part]["pkts_hw"], (name, part)
            assert got[part]["offloaded_bytes"] == want[part]["bytes_hw"], (name, part)
            assert got[part]["flows"] == want[part]["flows"], (name, part)


def test_the_per_node_false_pass_fails_naming_the_pod(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    """(b): one small offloaded flow, the bulk of iperf-client-0's traffic in software."""
    kubectl.answer(node_a("flows-b-false-pass.txt"))
    assert main([]) == 1
    out, err = capsys.readouterr()
    assert "perf/iperf-client-0" in unwrapped(err)
    assert "NOT OFFLOADED" in out
    assert all(len(line) <= 100 for line in (out + err).splitlines()), out + err


def test_tc_software_rules_are_not_hardware(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    """(e): `dp:tc` without `offloaded:yes` is a tc rule in software."""
    kubectl.answer(node_a("flows-e-tc-software.txt"))
    assert main(["--json"]) == 1
    assert verdicts(json.loads(capsys.readouterr().out)) == {
        "iperf-server-0": "offloaded",
        "iperf-client-0": "NOT OFFLOADED",
    }


def grown(dump: str, by: dict[str, int]) -> str:
    """`dump` with the packets and bytes of the flows whose ufid starts with a key of `by`
    multiplied by its value (the same flows, later: counters only grow)."""
    lines = []
    for line in (FIXTURES / dump).read_text().splitlines(keepends=True):
        factor = next((n for ufid, n in by.items() if line.startswith(f"ufid:{ufid}")), 1)
        for stat in ("packets", "bytes"):
            head, _, rest = line.partition(f", {stat}:")
            count, _, tail = rest.partition(",")
            line = f"{head}, {stat}:{int(count) * factor},{tail}"
        lines.append(line)
    return "".join(lines)


def test_watch_judges_what_the_flows_gain_and_shows_each_interval(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sample 1 is (b), iperf-client-0's tunnel traffic in software; by sample 2 only its
    offloaded local flow and iperf-server-0's grew (say, the tunnel traffic stopped and a local
    run started): judged on the gains, both pods pass; one read of sample 2 alone fails."""
    slept: list[float] = []
    monkeypatch.setattr("tools.verify.pause", slept.append)
    later = grown("flows-b-false-pass.txt", {"06e82a01": 50_000, "1333bc1c": 80_000})
    scenario = node_a("flows-b-false-pass.txt")
    first = scenario["exec"]["ovs-ovn-7xk2p"]["flows"]
    scenario["exec"]["ovs-ovn-7xk2p"]["flows"] = [first, split_by_token(later)]
    kubectl.answer(scenario)
    assert main(["--watch", "5"]) == 0
    out, err = capsys.readouterr()
    assert slept == [5.0]
    assert "sample 2: the 5 s since sample 1" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("node-a  perf/")]
    # the interval's figures: 799,990 new local packets (800k), all in hardware
    assert rows[0][3:5] == ["800k", "100.0%"]
    assert rows[0][5] == "0"
    assert all(len(line) <= 100 for line in out.splitlines())
    assert unwrapped(err) == ""
    kubectl.answer(scenario)
    assert main([]) == 1  # without --watch: the first read, the tunnel flows in software


def test_threshold_is_a_flag(kubectl: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    """(b) iperf-client-0 has 10 of 7,398,569 packets in hardware."""
    kubectl.answer(node_a("flows-b-false-pass.txt"))
    assert main(["--threshold", "0.0001"]) == 0
    assert main(["--threshold", "0.001"]) == 1


def test_help_gives_defaults_exit_codes_and_an_example(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "(default: 95.0)" in out
    assert "(default: kube-system)" in out
    for code in ("0  every node", "1  a failure", "2  cannot check", "3  not proven"):
        assert code in out
    assert "python -m tools.verify --outputs outputs.json --watch 5" in out


def test_a_vf_pod_without_an_ovs_port_cannot_be_checked(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = node_a("flows-a-all-offloaded.txt")
    scenario["pods"].append(pod("late-0", "node-a", namespace="perf", requests={VF: "1"}))
    kubectl.answer(scenario)
    assert main([]) == 2
    assert "VF pod perf/late-0 has no OVS Interface" in unwrapped(capsys.readouterr().err)


def test_the_annotated_representor_is_the_pods_port(
    kubectl: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pod with a veth (eth0) and a VF: Kube-OVN records both Interfaces with the pod's
    name; its `<provider>.kubernetes.io/vf_representor` annotation names the VF's."""
    scenario = node_a("flows-b-false-pass.txt")
    client = next(p for p in scenario["pods"] if p["metadata"]["name"] == "iperf-client-0")
    client["metadata"]["annotations"] = {
        "default.default.ovn.kubernetes.io/vf_representor": "d04a9f3e6c18_h"
    }
    kubectl.answer(scenario)
    assert main(["--json"]) == 1
    pods = {p["name"]: p for n in json.loads(capsys.readouterr().out)["nodes"] for p in n["pods"]}
    assert pods["iperf-client-0"]["port"] == "d04a9f3e6c18_h"
    client["metadata"]["annotations"] = {"x.kubernetes.io/vf_representor": "gone0000000_h"}
    kubectl.answer(scenario)
    assert main([]) == 2  # the annotated representor is not an OVS port on the node


def test_numbered_ports_are_named_through_dpctl_show() -> None:
    """Without `-m` the ports are datapath numbers (OVS lib/dpctl.c: names only with -m)."""
    ports = parse_dpctl_show((FIXTURES / "dpctl-show.txt").read_text())
    assert ports.names["7"] == "8c21e4a7b5d0_h"
    assert ports.is_tunnel("genev_sys_6081")
    wanted = ("8c21e4a7b5d0_h", "d04a9f3e6c18_h")
    named = attribute(
        parse_dump((FIXTURES / "flows-a-all-offloaded.txt").read_text()), wanted, ports
    )
    numbered_dump = (FIXTURES / "flows-a-all-offloaded.no-m.txt").read_text()
    numbered = attribute(parse_dump(numbered_dump), wanted, ports)
    for port in wanted:
        assert numbered[port].local.packets == named[port].local.packets > 0
        assert numbered[port].local.hw_packets == 0  # no `offloaded:yes` without -m


def test_partial_offload_is_not_hardware() -> None:
    line = (FIXTURES / "flows-a-all-offloaded.txt").read_text().splitlines()[0]
    flow = parse_dump(line.replace("offloaded:yes, dp:tc", "offloaded:partial, dp:ovs"))[0]
    assert not flow.offloaded
