"""The stack config contract: every rule a user can break gives its config path, value and rule."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.config import ConfigError, StackConfig, pins, validate_stack_config
from components.names import REMOTE_COMMAND
from tests.support.json_values import all_strings
from tests.support.stack_config import dev_config, problems_of, set_path, ssh_public_key
from tools.engine.mock_driver import STACK_TYPE, run_stack
from tools.rehearsal.outputs import LeaseMocks


def test_dev_stack_is_valid_and_defaults_are_the_runbook_values() -> None:
    config = validate_stack_config(dev_config())
    assert config.sriov.resource == "corigine.com/agilio_sriov"
    assert (config.sriov.vendors, config.sriov.devices, config.sriov.drivers) == (
        ["19ee"],
        ["6003"],
        ["nfp_netvf"],
    )
    assert (config.nad.name, config.nad.namespace) == ("default", "default")
    assert (config.firmware.app, config.firmware.assy) == ("flower", "scan")
    assert config.kube_ovn.chart_version == pins.KUBE_OVN_CHART_VERSION
    assert config.kube_ovn.values == {}


def test_defaults_fill_every_optional_key() -> None:
    minimal = {
        "nodes": [{"name": "w1", "host": "10.0.0.1", "pf": "ens1np0", "hostKey": ssh_public_key()}],
        "kubeOvn": {"iface": "ens1np0", "masterNodes": [{"name": "m1", "ip": "10.0.0.9"}]},
    }
    config = validate_stack_config(minimal)
    (node,) = config.resolved_nodes()
    assert (node.vfs, node.port, node.user, node.sudo, node.uplink) == (
        4,
        22,
        "root",
        False,
        "ens1np0",
    )
    assert (node.app, node.assy) == ("flower", "scan")
    assert (config.rollout.max_unavailable, config.rollout.drain) == (1, True)
    assert StackConfig.model_validate(minimal) == config


def test_per_node_values_override_the_stack_defaults() -> None:
    raw = set_path(
        dev_config(),
        "nodes[0]",
        {
            "name": "lab-worker-1",
            "host": "w1.lab.example",
            "pf": "ens2np0",
            "uplink": "ens2np1",
            "vfs": 16,
            "port": 2222,
            "user": "ops",
            "assy": "AMDA0099",
        },
    )
    node = validate_stack_config(raw).resolved_nodes()[0]
    assert (node.host, node.pf, node.uplink, node.vfs, node.port) == (
        "w1.lab.example",
        "ens2np0",
        "ens2np1",
        16,
        2222,
    )
    assert (node.user, node.sudo, node.assy) == ("ops", True, "AMDA0099")


BAD_VALUES: list[tuple[str, Any, str]] = [
    ("nodes[0].name", "Worker_1", "nodes[0].name: 'Worker_1' is not a Kubernetes node name"),
    ("nodes[0].name", "a" * 254, "is not a Kubernetes node name"),
    ("nodes[0].host", "bad host!", "nodes[0].host: 'bad host!' is neither an IP address nor a DNS"),
    ("nodes[0].host", "-lead.example", "is neither an IP address nor a DNS name"),
    ("nodes[0].port", 0, "nodes[0].port: 0 is not a TCP port (1..65535)"),
    ("nodes[0].port", 70000, "nodes[0].port: 70000 is not a TCP port (1..65535)"),
    ("nodes[0].pf", "eth0;reboot", "nodes[0].pf: 'eth0;reboot' is not a network interface name"),
    (
        "nodes[0].pf",
        "abcdefghijklmnop",
        "nodes[0].pf: 'abcdefghijklmnop' is not a network interface",
    ),
    ("nodes[0].pf", "eth0/1", "is not a network interface name"),
    ("nodes[0].pf", "eth 0", "is not a network interface name"),
    ("nodes[0].pf", "eth0:1", "is not a network interface name"),
    ("nodes[0].pf", "$(reboot)", "is not a network interface name"),
    ("nodes[0].pf", "..", "is not a network interface name"),
    ("nodes[0].uplink", "ens1`id`", "nodes[0].uplink: 'ens1`id`' is not a network interface name"),
    ("kubeOvn.iface", "br ex", "kubeOvn.iface: 'br ex' is not a network interface name"),
    ("vfs", 65, "agilio-offload:vfs: 65 is not a VF count in 0..64"),
    ("vfs", "four", "agilio-offload:vfs: 'four': input should be a valid integer"),
    ("nodes[0].vfs", -1, "nodes[0].vfs: -1 is not a VF count in 0..64"),
    ("nodes[0].assy", "AMDA97", "nodes[0].assy: 'AMDA97' is not 'scan' or an assembly ID"),
    ("firmware.assy", "amda0097", "firmware.assy: 'amda0097' is not 'scan' or an assembly ID"),
    (
        "firmware.app",
        "flower2",
        "firmware.app: 'flower2': input should be 'flower' or 'flower-next'",
    ),
    ("nodes[0].user", "Root", "nodes[0].user: 'Root' is not a Linux user name"),
    ("ssh.user", "a b", "ssh.user: 'a b' is not a Linux user name"),
    ("ssh.privateKeyPath", "/nonexistent/id_ed25519", "is not a readable file on this machine"),
    ("nodes[0].hostKey", "ssh-ed25519 not-base64!", "nodes[0].hostKey: 'ssh-ed25519 not-base64!'"),
    ("nodes[0].hostKey", "AAAAC3NzaC1lZDI1NTE5", "is not an OpenSSH public host key"),
    (
        "nodes[0].hostKey",
        ssh_public_key("ecdsa-sha2-nistp256", "ssh-ed25519"),
        "has key data of another type than its type name says",
    ),
    (
        "sriov.resourcePrefix",
        "Corigine",
        "sriov.resourcePrefix: 'Corigine' is not a resource prefix",
    ),
    ("sriov.resourcePrefix", "kubernetes.io", "sriov.resourcePrefix: 'kubernetes.io' is reserved"),
    (
        "sriov.resourceName",
        "agilio/sriov",
        "sriov.resourceName: 'agilio/sriov' is not a device plugin",
    ),
    ("sriov.resourceName", "_agilio", "is not a device plugin resource name"),
    ("sriov.resourceName", "a" * 64, "is not a device plugin resource name"),
    ("sriov.vendors", ["19EE"], "sriov.vendors[0]: '19EE' is not a PCI ID"),
    ("sriov.devices", [], "sriov.devices: []: list should have at least 1 item"),
    ("sriov.drivers", ["nfp netvf"], "sriov.drivers[0]: 'nfp netvf' is not a kernel driver name"),
    ("nad.name", "Default", "nad.name: 'Default' is not an RFC 1123 label"),
    ("nad.namespace", "a.b", "nad.namespace: 'a.b' is not an RFC 1123 label"),
    ("rollout.maxUnavailable", 0, "rollout.maxUnavailable: 0 is less than 1"),
    ("rollout.drain", "maybe", "rollout.drain: 'maybe': input should be a valid boolean"),
    ("kubeOvn.masterNodes", [], "kubeOvn.masterNodes: is required with kubeOvn.install: helm"),
    ("kubeOvn.masterNodes[0].ip", "10.0.0.300", "masterNodes[0].ip: '10.0.0.300' is not an IP"),
    ("kubeOvn.chartVersion", "1.16.2", "kubeOvn.chartVersion: '1.16.2' is not a Kube-OVN chart"),
    (
        "kubeOvn.values",
        {"features": {"enableHardwareOffload": False}},
        "kubeOvn.values: features.enableHardwareOffload: not an allowed value path (set by the",
    ),
    (
        "kubeOvn.values",
        {"features": {"enableLoadbalancer": True}},
        "features.enableLoadbalancer: not an allowed value path (set by the stack: the NIC",
    ),
    ("kubeOvn.values", {"masterNodes": ["10.0.0.1"]}, "set by kubeOvn.masterNodes"),
    ("kubeOvn.values", {"agent": {"interface": "eth0"}}, "set by kubeOvn.iface"),
    ("kubeOvn.values", {"masterNodesLabels": {"role": "x"}}, "masterNodesLabels: not an allowed"),
    ("kubeOvn.values", {"namespace": "kube-ovn"}, "namespace: not an allowed value path (set by"),
    (
        "kubeOvn.values",
        {"cni": {"nonPrimaryCNI": True}},
        "cni.nonPrimaryCNI: not an allowed value path (offloaded pods take Kube-OVN",
    ),
    # issue 19: the chart evaluates these strings as templates in the shared .Values
    (
        "kubeOvn.values",
        {"natGw": {"bgpSpeaker": {"apiNadProvider": '{{ $_ := set .Values.features "x" 1 }}'}}},
        "natGw.bgpSpeaker.apiNadProvider: not an allowed value path (evaluated as a template",
    ),
    (
        "kubeOvn.values",
        {"apiNad": {"enabled": True, "provider": 'x{{ "\\n---\\n" }}'}},
        "apiNad: not an allowed value path (apiNad.provider is evaluated as a template",
    ),
    ("kubeOvn.values", {"networking": {"tunnelType": "stt"}}, "is not one of geneve, vxlan"),
    ("kubeOvn.values", {"networking": None}, "networking: null is not allowed"),
    ("kubeOvn.values", {"networking.stack": "IPv6"}, "a dotted key is not a path"),
    ("kubeOvn.values", {"agent": {"cpu": 1}}, "agent.cpu: not an allowed value path"),
    ("nodes[0].port", True, "nodes[0].port: True: input should be a valid integer"),
    ("vfs", True, "agilio-offload:vfs: True: input should be a valid integer"),
    ("rollout.drain", "yes", "rollout.drain: 'yes': input should be a valid boolean"),
    ("rollout.maxUnavailable", 2.0, "rollout.maxUnavailable: 2.0: input should be a valid integer"),
    ("kubeOvn.values", "enableLoadbalancer=true", "kubeOvn.values: 'enableLoadbalancer=true'"),
    ("nodes[0].hsot", "10.0.0.1", "nodes[0].hsot: unknown key"),
    ("firmware.application", "flower", "firmware.application: unknown key"),
    ("ssh", "root", "agilio-offload:ssh: 'root': input should be a valid dictionary"),
]


@pytest.mark.parametrize(("path", "value", "expected"), BAD_VALUES)
def test_each_rule_names_path_value_and_what_is_allowed(
    path: str, value: Any, expected: str
) -> None:
    problems = problems_of(set_path(dev_config(), path, value))
    assert len(problems) == 1, problems
    assert problems[0].startswith("agilio-offload:"), problems
    assert expected in problems[0]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("nodes[0].hostKey", ssh_public_key()),
        ("nodes[0].hostKey", ssh_public_key("ecdsa-sha2-nistp256")),
        ("nodes[0].host", "2001:db8::10"),
        ("nodes[0].host", "worker-1.lab.example."),
        ("nodes[0].pf", "enp94s0np0"),
        ("nodes[0].assy", "AMDA0081"),
        ("vfs", 0),
        ("vfs", 64),
        ("firmware.app", "flower-next"),
        ("kubeOvn.values", {"networking": {"tunnelType": "vxlan", "networkType": "vxlan"}}),
    ],
)
def test_allowed_values_pass(path: str, value: Any) -> None:
    validate_stack_config(set_path(dev_config(), path, value))


def test_uniqueness_of_node_names_hosts_and_masters() -> None:
    raw = dev_config()
    raw["nodes"].append(dict(raw["nodes"][0]))
    raw["kubeOvn"]["masterNodes"].append(dict(raw["kubeOvn"]["masterNodes"][0]))
    problems = problems_of(raw)
    assert "agilio-offload:nodes[2].name: 'lab-worker-1' is used more than once" in problems[0]
    assert any("nodes[2].host: '192.0.2.11:22' is used more than once" in p for p in problems)
    assert any("kubeOvn.masterNodes[1].name" in p for p in problems)
    assert any("kubeOvn.masterNodes[1].ip" in p for p in problems)


def test_host_names_differing_in_case_are_one_host() -> None:
    raw = dev_config()
    raw["nodes"][0]["host"] = "Agilio-1.example.com"
    raw["nodes"][1]["host"] = "agilio-1.EXAMPLE.com"
    (problem,) = problems_of(raw)
    assert "nodes[1].host: 'agilio-1.example.com:22' is used more than once" in problem


def test_same_host_on_another_port_is_allowed() -> None:
    raw = dev_config()
    raw["nodes"][1]["host"] = raw["nodes"][0]["host"]
    raw["nodes"][1]["port"] = 2222
    validate_stack_config(raw)


def test_missing_required_keys() -> None:
    raw = dev_config()
    del raw["nodes"]
    del raw["kubeOvn"]["masterNodes"]
    problems = problems_of(raw)
    assert "agilio-offload:nodes: is required" in problems
    assert any(p.startswith("agilio-offload:kubeOvn.masterNodes: is required") for p in problems)


def test_every_problem_is_listed_at_once() -> None:
    raw = set_path(dev_config(), "nodes[0].pf", "eth0;reboot")
    raw = set_path(raw, "vfs", 100)
    raw = set_path(raw, "nad.name", "Bad_Name")
    raw["nodes"].append(dict(raw["nodes"][1]))
    problems = problems_of(raw)
    assert len(problems) == 5, problems  # pf, vfs, nad.name, duplicate name and host
    message = str(ConfigError(problems))
    assert message.startswith("invalid stack config (5 problems):")


# --- through the program: nothing is registered for a config that fails validation -------------


def non_stack_resources(overrides: dict[str, Any]) -> tuple[BaseException | None, list[str]]:
    run = run_stack("dev", overrides)
    return run.error, [r.urn for r in run.resources if r.type != STACK_TYPE]


def test_unknown_top_level_key_is_named() -> None:
    error, registered = non_stack_resources({"agilio-offload:node": []})
    assert isinstance(error, ConfigError)
    assert "agilio-offload:node: unknown key (allowed: nodes, vfs, ssh," in str(error)
    assert registered == []


def test_dev_stack_registers_resources() -> None:
    error, registered = non_stack_resources({})
    assert error is None
    assert registered


INVALID: dict[str, st.SearchStrategy[Any]] = {
    "nodes[0].pf": st.sampled_from(["", "eth0;reboot", "a" * 16, "e th0", "e:0", "x/y", "$(id)"]),
    "nodes[1].host": st.sampled_from(["", "bad host", "a..b", "-x.example", "x" * 64 + ".com"]),
    "nodes[0].vfs": st.one_of(st.integers(max_value=-1), st.integers(min_value=65)),
    "nodes[0].port": st.one_of(st.integers(max_value=0), st.integers(min_value=65536)),
    "nodes[0].name": st.sampled_from(["", "UPPER", "under_score", "-lead", "trail-"]),
    "nodes[0].assy": st.text(max_size=12).filter(
        lambda s: s != "scan" and not s.startswith("AMDA")
    ),
    "firmware.app": st.text(max_size=12).filter(lambda s: s not in ("flower", "flower-next")),
    "rollout.maxUnavailable": st.integers(max_value=0),
    "sriov.resourceName": st.sampled_from(["", "a/b", "-x", "x y", "é"]),
    "kubeOvn.masterNodes": st.just([]),
    "kubeOvn.values": st.sampled_from(
        [
            {"features": {"enableHardwareOffload": False}},
            {"features": {"enableLoadbalancer": True}},
        ]
    ),
    "nodes[0].hostKey": st.text(max_size=40),
    # issue 12: a trailing newline, a NUL or a CR in otherwise valid values
    "nodes[0].uplink": st.sampled_from(["ens1np0\n", "ens1\x00np0", "ens1np0\r"]),
    "nodes[0].user": st.sampled_from(["ops\n", "o\x00ps"]),
    "sriov.resourcePrefix": st.sampled_from(["corigine.com\n", "corigine.com."]),
    "kubeOvn.chartVersion": st.sampled_from(["v1.16.2\n", "v1.16.2\x00"]),
    "kubernetes.context": st.sampled_from(["prod\n", "prod\x00", "-----BEGIN RSA"]),
    "ssh.allowUnpinned": st.sampled_from(["true", 1, "yes"]),
    "nodes[0].decommission": st.sampled_from(["true", 1, "yes", None]),
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mutations=st.lists(
        st.sampled_from(sorted(INVALID)).flatmap(
            lambda path: st.tuples(st.just(path), INVALID[path])
        ),
        min_size=1,
        max_size=3,
    )
)
def test_no_invalid_config_registers_a_single_resource(mutations: list[tuple[str, Any]]) -> None:
    raw = dev_config()
    for path, value in mutations:
        raw = set_path(raw, path, value)
    run = run_stack("dev", {f"agilio-offload:{key}": value for key, value in raw.items()})
    assert isinstance(run.error, ConfigError), run.error
    assert [r.type for r in run.resources] in ([], [STACK_TYPE])
    paths = {path.split("[")[0].split(".")[0] for path, _ in mutations}
    assert all(any(f"agilio-offload:{p}" in line for line in run.error.problems) for p in paths)


def test_a_thousand_nodes_one_at_a_time_are_accepted() -> None:
    # No cap on the rollout's depth: a serial rollout of any size is a valid config.
    raw = dev_config()
    raw["nodes"] = [
        {"name": f"n{i}", "host": f"n{i}.lab.example", "pf": "ens1np0"} for i in range(1000)
    ]
    raw["rollout"] = {"maxUnavailable": 1}
    config = validate_stack_config(raw)
    assert (len(config.nodes), config.rollout.max_unavailable) == (1000, 1)


# --- issue 12: whole-value patterns, hosts as the network sees them ---------------------------

ED25519 = ssh_public_key()


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("nodes[0].pf", "ens1np0\n"),
        ("nodes[0].uplink", "ens1np0\n"),
        ("nodes[0].user", "ops\n"),
        ("ssh.user", "root\n"),
        ("nodes[0].assy", "AMDA0097\n"),
        ("firmware.assy", "scan\n"),
        ("sriov.vendors", ["19ee\n"]),
        ("sriov.devices", ["6003\n"]),
        ("sriov.drivers", ["nfp_netvf\n"]),
        ("sriov.resourceName", "agilio_sriov\n"),
        ("kubeOvn.chartVersion", "v1.16.2\n"),
        ("kubeOvn.iface", "ens1np0\n"),
        ("nodes[0].host", "192.0.2.11\n"),
        ("nodes[0].hostKey", ED25519 + "\n"),
        ("kubernetes.context", "kind-agilio-lab\n"),
        ("kubernetes.kubeconfigPath", "/etc/agilio/kubeconfig\n"),
    ],
)
def test_a_trailing_newline_is_refused_in_every_field(path: str, value: Any) -> None:
    (problem,) = problems_of(set_path(dev_config(), path, value))
    assert problem.startswith(f"agilio-offload:{path}"), problem
    assert "\\n" in problem or "contains a control character" in problem
    assert "\n" not in problem  # shown escaped, on one line


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("node1.example.com", "node1.example.com."),
        ("Node1.Example.COM.", "node1.example.com"),
        ("192.0.2.11", "::ffff:192.0.2.11"),
        ("2001:db8::1", "2001:DB8:0:0:0:0:0:1"),
        ("2001:db8::1", "2001:0db8:0000::0001"),
        ("fe80::1%ens1np0", "FE80:0::1%ens1np0"),
    ],
)
def test_hosts_are_compared_as_the_network_sees_them(first: str, second: str) -> None:
    raw = dev_config()
    raw["nodes"][0]["host"], raw["nodes"][1]["host"] = first, second
    (problem,) = problems_of(raw)
    assert problem.startswith("agilio-offload:nodes[1].host: "), problem
    assert "is used more than once" in problem


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("192.0.2.011", "is not an IPv4 address (four decimal numbers 0..255 without leading"),
        ("10.1", "is not an IPv4 address"),
        ("0x7f.0.0.1", "its last label is all digits"),
        ("fe80::1%eth0;reboot", "IPv6 zone that is not a network interface name"),
        ("fe80::1%", "IPv6 zone that is not a network interface name"),
        ("192.0.2.1%eth0", "has a zone ('%...') but is not an IPv6 address"),
        ("node1.example.com..", "is neither an IP address nor a DNS name"),
        ("node1\x00.example.com", "contains a control character"),
    ],
)
def test_host_spellings_the_network_reads_differently_are_refused(host: str, expected: str) -> None:
    (problem,) = problems_of(set_path(dev_config(), "nodes[0].host", host))
    assert problem.startswith("agilio-offload:nodes[0].host: ")
    assert expected in problem


def test_link_local_ipv6_with_an_interface_zone_is_a_host() -> None:
    node = validate_stack_config(set_path(dev_config(), "nodes[0].host", "fe80::1%ens1np0"))
    assert node.resolved_nodes()[0].host == "fe80::1%ens1np0"


def test_master_ips_are_compared_canonically() -> None:
    raw = dev_config()
    raw["kubeOvn"]["masterNodes"].append({"name": "cp-2", "ip": "::ffff:192.0.2.10"})
    (problem,) = problems_of(raw)
    assert "kubeOvn.masterNodes[1].ip: '192.0.2.10' is used more than once" in problem


# Every string field of the contract, with a valid value, and how to set it.
STRING_FIELDS: dict[str, tuple[str, Any]] = {
    "nodes[0].name": ("nodes[0].name", "lab-worker-1"),
    "nodes[0].host": ("nodes[0].host", "w1.lab.example"),
    "nodes[0].pf": ("nodes[0].pf", "ens1np0"),
    "nodes[0].uplink": ("nodes[0].uplink", "ens2np0"),
    "nodes[0].user": ("nodes[0].user", "ops"),
    "nodes[0].hostKey": ("nodes[0].hostKey", ED25519),
    "nodes[0].assy": ("nodes[0].assy", "AMDA0097"),
    "ssh.user": ("ssh.user", "root"),
    "ssh.privateKeyPath": ("ssh.privateKeyPath", "/etc/hostname"),
    "firmware.app": ("firmware.app", "flower"),
    "firmware.assy": ("firmware.assy", "scan"),
    "sriov.resourcePrefix": ("sriov.resourcePrefix", "corigine.com"),
    "sriov.resourceName": ("sriov.resourceName", "agilio_sriov"),
    "sriov.vendors[0]": ("sriov.vendors", "19ee"),
    "sriov.devices[0]": ("sriov.devices", "6003"),
    "sriov.drivers[0]": ("sriov.drivers", "nfp_netvf"),
    "nad.name": ("nad.name", "offload"),
    "nad.namespace": ("nad.namespace", "kube-system"),
    "kubeOvn.chartVersion": ("kubeOvn.chartVersion", "v1.16.2"),
    "kubeOvn.iface": ("kubeOvn.iface", "ens1np0"),
    "kubeOvn.masterNodes[0].name": ("kubeOvn.masterNodes[0].name", "lab-control-1"),
    "kubeOvn.masterNodes[0].ip": ("kubeOvn.masterNodes[0].ip", "192.0.2.10"),
    "kubernetes.context": ("kubernetes.context", "kind-agilio-lab"),
    "kubernetes.kubeconfigPath": ("kubernetes.kubeconfigPath", "/etc/agilio/kubeconfig"),
}


def with_field(field: str, value: str) -> dict[str, Any]:
    path, _ = STRING_FIELDS[field]
    wrapped: Any = [value] if field.endswith("[0]") and not path.endswith("]") else value
    return set_path(dev_config(), path, wrapped)


def test_every_string_field_accepts_its_valid_value() -> None:
    for field, (_, value) in STRING_FIELDS.items():
        validate_stack_config(with_field(field, value))


@settings(max_examples=200, deadline=None)
@given(
    field=st.sampled_from(sorted(STRING_FIELDS)),
    bad=st.sampled_from(["\n", "\r", "\x00", "\r\n", "\x1b", "\t"]),
    where=st.floats(min_value=0, max_value=1),
)
def test_no_string_field_accepts_a_newline_or_a_nul(field: str, bad: str, where: float) -> None:
    valid = STRING_FIELDS[field][1]
    cut = round(where * len(valid))
    problems = problems_of(with_field(field, valid[:cut] + bad + valid[cut:]))
    assert any(p.startswith(f"agilio-offload:{field}") for p in problems), problems
    assert all("\n" not in p and "\x00" not in p for p in problems)


PRINTABLE_AND_CONTROL = st.text(
    alphabet=st.sampled_from([*"abz09AZ-_.:/%@ ", "\n", "\r", "\x00"]), min_size=1, max_size=12
)


def _prelude_lines(script: str) -> list[str]:
    lines = script.split("\n")
    start = lines.index("#!/usr/bin/env bash") + 1  # the prelude follows the shebang
    end = next(i for i in range(start, len(lines)) if not lines[i][:1].isupper())
    return lines[start:end]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(sorted(STRING_FIELDS)), text=PRINTABLE_AND_CONTROL)
def test_no_accepted_config_carries_a_newline_into_scripts_manifests_or_outputs(
    field: str, text: str
) -> None:
    raw = with_field(field, text)
    try:
        validate_stack_config(raw)
    except ConfigError:
        return  # refused: nothing registered (the property test above this one)
    assert not any(c in text for c in "\n\r\x00"), f"{field} accepted {text!r}"
    overrides = {f"agilio-offload:{key}": value for key, value in raw.items()}
    # LeaseMocks: the drain prints a lease, so `drained`'s command is known and checked too.
    run = run_stack("dev", overrides, mocks=LeaseMocks())
    assert run.error is None, run.error
    for resource in run.resources:
        create = resource.inputs.get("create")
        if resource.type == REMOTE_COMMAND:
            for line in _prelude_lines(create):
                assert re.fullmatch(r"[A-Z][A-Z0-9_]*=[^\n\r\x00]*", line), line
        if resource.type.startswith("kubernetes:") and "metadata" in resource.inputs:
            metadata = json.dumps(resource.inputs["metadata"])
            assert "\\n" not in metadata and "\\u0000" not in metadata, resource.name
    assert not any("\n" in s or "\x00" in s for s in all_strings(run.outputs))
