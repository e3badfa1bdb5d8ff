"""The stack config contract: every rule a user can break gives its config path, value and rule."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components import pins
from components.config import ConfigError, StackConfig, validate_stack_config
from tools.mock_engine import STACK_TYPE, run_stack, stack_file


def dev_config() -> dict[str, Any]:
    """The dev stack's config as the stack file spells it, without the namespace prefix."""
    document = yaml.safe_load(stack_file("dev").read_text())
    return {key.split(":", 1)[1]: value for key, value in document["config"].items()}


def ssh_public_key(key_type: str = "ssh-ed25519", embedded: str | None = None) -> str:
    name = (embedded or key_type).encode()
    blob = len(name).to_bytes(4, "big") + name + (32).to_bytes(4, "big") + bytes(range(32))
    return f"{key_type} {base64.b64encode(blob).decode()} ops@example"


def problems_of(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        validate_stack_config(raw)
    return caught.value.problems


def set_path(raw: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `raw` with `value` at a path like `nodes[0].pf` or `kubeOvn.values`."""
    changed = copy.deepcopy(raw)
    target: Any = changed
    parts = path.replace("[", ".").replace("]", "").split(".")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
    last = parts[-1]
    if last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return changed


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
        "nodes": [{"name": "w1", "host": "10.0.0.1", "pf": "ens1np0"}],
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
    ("nodes[0].hostKey", "AAAAC3NzaC1lZDI1NTE5", "is not an OpenSSH public key"),
    ("nodes[0].hostKey", ssh_public_key("ssh-rsa", "ssh-ed25519"), "does not match its type"),
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
        "kubeOvn.values: features.enableHardwareOffload: false is not allowed",
    ),
    (
        "kubeOvn.values",
        {"features": {"enableLoadbalancer": True}},
        "kubeOvn.values: features.enableLoadbalancer: true is not allowed (ENABLE_LB must stay off",
    ),
    ("kubeOvn.values", {"masterNodes": ["10.0.0.1"]}, "set by kubeOvn.masterNodes"),
    ("kubeOvn.values", {"agent": {"interface": "eth0"}}, "set by kubeOvn.iface"),
    ("kubeOvn.values", {"masterNodesLabels": {"role": "x"}}, "masterNodesLabels: set by"),
    ("kubeOvn.values", {"namespace": "kube-ovn"}, "namespace: set by the stack"),
    (
        "kubeOvn.values",
        {"cni": {"nonPrimaryCNI": True}},
        "cni.nonPrimaryCNI: true is not allowed (offloaded pods take Kube-OVN",
    ),
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
        ("kubeOvn.values", {"features": {"enableHardwareOffload": True}, "agent": {"cpu": 1}}),
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


def test_more_than_100_rollout_batches_are_refused_with_the_value_to_set() -> None:
    raw = dev_config()
    raw["nodes"] = [
        {"name": f"n{i}", "host": f"10.0.{i // 250}.{i % 250 + 1}", "pf": "ens1np0"}
        for i in range(250)
    ]
    raw["rollout"] = {"maxUnavailable": 2}
    with pytest.raises(ConfigError) as error:
        validate_stack_config(raw)
    assert error.value.problems == [
        "agilio-offload:rollout.maxUnavailable: 2 rolls 250 nodes out in 125 batches; at most "
        "100 are allowed (the Pulumi Python SDK fails on dependency chains deeper than ~1000 "
        "resources): set it to at least 3"
    ]
    raw["rollout"] = {"maxUnavailable": 3}
    assert validate_stack_config(raw).rollout.max_unavailable == 3
