"""Addresses that cannot be a node, extended resource names Kubernetes refuses, and long node
names in the plan writer (issue 19, item 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.config import validate_stack_config
from components.config.validators import host_port_text, is_extended_resource_name
from tests.support.stack_config import dev_config, problems_of, set_path
from tools import plan
from tools.engine.mock_driver import run_stack

BAD_HOSTS = [
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("::ffff:0.0.0.0", "unspecified"),
    ("255.255.255.255", "broadcast"),
    ("::ffff:255.255.255.255", "broadcast"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("fe80::1", "link-local address without a zone"),
    ("2001:db8::1%ens1np0", "not an IPv6 link-local address"),
    ("192.0.2.1%ens1np0", "not an IPv6 address"),
]


@pytest.mark.parametrize(("host", "why"), BAD_HOSTS)
def test_a_node_host_that_cannot_be_a_node_is_refused(host: str, why: str) -> None:
    (problem,) = problems_of(set_path(dev_config(), "nodes[0].host", host))
    assert problem.startswith("agilio-offload:nodes[0].host: "), problem
    assert why in problem


@pytest.mark.parametrize(("ip", "why"), [*BAD_HOSTS[:7], ("fe80::1", "link-local")])
def test_a_master_ip_that_cannot_be_a_node_is_refused(ip: str, why: str) -> None:
    (problem,) = problems_of(set_path(dev_config(), "kubeOvn.masterNodes[0].ip", ip))
    assert problem.startswith("agilio-offload:kubeOvn.masterNodes[0].ip: "), problem
    assert why in problem


@pytest.mark.parametrize("host", ["fe80::1%ens1np0", "2001:db8::10", "192.0.2.10", "w1.lab"])
def test_usable_hosts_pass(host: str) -> None:
    validate_stack_config(set_path(dev_config(), "nodes[0].host", host))


def test_ipv6_hosts_are_printed_in_brackets_with_the_port() -> None:
    assert host_port_text("2001:db8::1", 22) == "[2001:db8::1]:22"
    assert host_port_text("fe80::1%ens1np0", 2222) == "[fe80::1%ens1np0]:2222"
    assert host_port_text("w1.lab", 22) == "w1.lab:22"


# kubernetes pkg/apis/core/helper/helpers.go IsExtendedResourceName, rule by rule
@pytest.mark.parametrize(
    ("name", "extended"),
    [
        ("corigine.com/agilio_sriov", True),
        ("agilio_sriov", False),  # 1. no '/': native
        ("kubernetes.io/x", False),  # 2. 'kubernetes.io/' in it: native
        ("foo.kubernetes.io/x", False),
        ("xkubernetes.io/x", False),
        ("requests.example.com/x", False),  # 3. 'requests.'-prefixed
        ("a/b/c", False),  # 4. one '/' only
        ("Example.com/x", False),  # 5. lower-case DNS-1123 prefix
        ("a" * 244 + "/x", True),  # 'requests.' + prefix is 253
        ("a" * 245 + "/x", False),
        ("example.com/" + "x" * 63, True),  # 6. the name 1..63
        ("example.com/" + "x" * 64, False),
        ("example.com/-x", False),
    ],
)
def test_is_extended_resource_name_follows_kubernetes(name: str, extended: bool) -> None:
    assert is_extended_resource_name(name) is extended


@pytest.mark.parametrize(
    "prefix", ["xkubernetes.io", "requests.example.com", "a" * 120 + "." + "b" * 125]
)
def test_a_resource_prefix_kubernetes_refuses_is_refused(prefix: str) -> None:
    problems = problems_of(set_path(dev_config(), "sriov.resourcePrefix", prefix))
    assert any("IsExtendedResourceName" in p for p in problems), problems


def test_long_valid_node_names_plan_and_keep_their_name(tmp_path: Path) -> None:
    name = ".".join(["n" * 63, "o" * 63, "d" * 63, "e" * 61])  # 253 characters, RFC 1123
    assert len(name) == 253
    raw = set_path(dev_config(), "nodes[0].name", name)
    run = run_stack("dev", {f"agilio-offload:{k}": v for k, v in raw.items()})
    assert run.error is None, run.error
    out = tmp_path / "plan"
    plan.write_plan(out, [r.as_resource() for r in run.resources], run.outputs)
    written = [p for p in out.rglob("*") if p.is_file()]
    assert all(len(p.name.encode()) <= plan.NAME_MAX for p in written)
    manifests = [p for p in written if "kubernetes" in p.parts and name[:40] in p.name]
    assert manifests and all(name in p.read_text() for p in manifests)
    params = [p for p in written if "params" in p.parts]  # one parameter file per node
    assert len(params) == len(dev_config()["nodes"])
    assert any(name in p.read_text() for p in params)
