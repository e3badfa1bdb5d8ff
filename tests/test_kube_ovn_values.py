"""kubeOvn.values as an allowlist, tested against the recorded facts of the kube-ovn-v2 v1.16.2
chart (tests/fixtures/kube-ovn-v2-v1.16.2-value-uses.json: each allowed path rendered alone and
all together with helm-python-sdk; facts and short shapes only, no chart text)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.config import pins
from components.config.kube_ovn_values import (
    ALLOWED,
    CHART_DEFAULTS,
    PINNED_CHART_VERSION,
    TUNNEL_TYPES,
    allowed_paths,
    kube_ovn_values_problems,
)
from tests.support.json_values import all_strings

FACTS = json.loads(
    (Path(__file__).parent / "fixtures" / "kube-ovn-v2-v1.16.2-value-uses.json").read_text()
)
ALLOWLIST = FACTS["allowlist"]
SAMPLE_REGISTRY = "registry.example.com/kubeovn"
REGISTRIES = ("docker.io/kubeovn", SAMPLE_REGISTRY, "docker.io")
TYPES = {"string": str, "boolean": bool, "integer": int, "object": dict, "list": list}


def tree(path: str, value: Any) -> dict[str, Any]:
    result: Any = value
    for key in reversed(path.split(".")):
        result = {key: result}
    return result


def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(a)
    for key, value in b.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def problems(values: dict[str, Any], version: str = PINNED_CHART_VERSION) -> list[str]:
    return kube_ovn_values_problems(values, REGISTRIES, version)


def test_the_facts_file_holds_facts_not_chart_text() -> None:
    strings = list(all_strings(FACTS))
    # Only the rules name the braces they refuse; no template text anywhere.
    rules = {facts["rule"] for facts in ALLOWLIST.values()}
    assert not [s for s in strings if ("{{" in s or "}}" in s) and s not in rules]
    assert max(len(s) for s in strings) < 300  # shapes and notes, never a template's text
    assert FACTS["chart"] == pins.KUBE_OVN_CHART and FACTS["version"] == PINNED_CHART_VERSION


def test_the_allowlist_is_the_facts_allowlist() -> None:
    assert sorted(allowed_paths()) == sorted(ALLOWLIST)
    assert len(ALLOWED) == 51
    assert PINNED_CHART_VERSION == pins.KUBE_OVN_CHART_VERSION


@pytest.mark.parametrize("path", list(ALLOWLIST))
def test_every_allowed_path_is_read_by_the_chart_and_never_through_tpl(path: str) -> None:
    facts = ALLOWLIST[path]
    assert facts["tpl"] is False
    assert path in FACTS["paths_read_by_chart"]
    assert facts["render_check"]["changed_templates"], "setting it alone changes the render"
    assert facts["chart_default"] is not None


@pytest.mark.parametrize("path", list(ALLOWLIST))
def test_every_allowed_path_has_the_facts_type(path: str) -> None:
    rule = ALLOWED[tuple(path.split("."))]
    facts_type = ALLOWLIST[path]["type"]
    assert rule.type == facts_type
    if facts_type in TYPES:
        assert isinstance(ALLOWLIST[path]["chart_default"], TYPES[facts_type])


@pytest.mark.parametrize("path", list(ALLOWLIST))
def test_every_allowed_path_accepts_its_rendered_sample_and_chart_default(path: str) -> None:
    facts = ALLOWLIST[path]
    context = facts["render_check"]["context"] or {}
    if path == "networking.networkType":  # must equal the tunnel type, as rendered together
        context = {"networking": {"tunnelType": facts["render_check"]["sample"]}}
    sample = merge(context, tree(path, facts["render_check"]["sample"]))
    if path.startswith("networking.pods.gateways"):
        sample = merge(sample, _pods_cidr_for(path, facts["render_check"]["sample"]))
    assert problems(sample) == []
    assert problems(tree(path, facts["chart_default"])) == []


def _pods_cidr_for(path: str, gateway: str) -> dict[str, Any]:
    family = path.rsplit(".", 1)[1]
    sample = ALLOWLIST[f"networking.pods.cidr.{family}"]["render_check"]["sample"]
    assert gateway.rsplit(".", 1)[0].rsplit(":", 1)[0] in sample
    return tree(f"networking.pods.cidr.{family}", sample)


def test_all_samples_together_are_accepted() -> None:
    values: dict[str, Any] = {}
    for path, facts in ALLOWLIST.items():
        values = merge(values, tree(path, facts["render_check"]["sample"]))
    values["networking"]["stack"] = "Dual"
    assert problems(values) == []


@pytest.mark.parametrize(
    "path",
    sorted(
        path
        for path in FACTS["paths_read_by_chart"]
        if path.replace("[]", "") not in ALLOWLIST and path != "global.images"
    ),
)
def test_every_other_path_the_chart_reads_is_refused(path: str) -> None:
    found = problems(tree(path.replace("[]", ""), "x"))
    assert found, path
    assert any("not an allowed value path" in p or "is not a map" in p for p in found)
    assert found[-1].startswith("allowed paths: global.registry.address, ")


@pytest.mark.parametrize("path", FACTS["tpl_paths_in_chart"])
def test_tpl_paths_are_refused_with_why(path: str) -> None:
    (first, _) = problems(tree(path.replace("[]", ""), "{{ x }}"))
    assert "tpl" in first


@pytest.mark.parametrize(
    "attack",
    [
        '{{ $_ := set .Values.features "enableLoadbalancer" true }}',
        'x{{ "\\n---\\napiVersion: v1\\nkind: ConfigMap" }}',
        '{{ printf "%c" 10 }}---',
    ],
)
@pytest.mark.parametrize("path", ["natGw.bgpSpeaker.apiNadProvider", "apiNad.provider"])
def test_the_tpl_attacks_are_refused(path: str, attack: str) -> None:
    assert problems(tree(path, attack))


def test_template_syntax_is_refused_in_allowed_strings_too() -> None:
    (problem,) = problems(tree("pinger.podAnnotations", {"a.io/b": "{{ .Values.x }}"}))
    assert "template syntax" in problem


def test_null_is_refused_anywhere() -> None:
    (problem,) = problems(tree("ovsOvn.resources", {"limits": {"cpu": None}}))
    assert "null is not allowed" in problem
    assert problems({"networking": None})


def test_a_dotted_key_is_not_a_path() -> None:
    found = problems({"networking.stack": "IPv6"})
    assert "a dotted key is not a path" in found[0]


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("networking.tunnelType", "stt", "is not one of geneve, vxlan"),
        ("networking.networkType", "vlan", "is not one of geneve, vxlan"),
        ("networking.networkType", "vxlan", "differs from networking.tunnelType 'geneve'"),
        ("networking.pods.mtu", True, "is not an integer"),
        ("networking.pods.mtu", 1000, "1280..9000"),
        ("networking.pods.cidr.v4", "10.16.0.1/16", "host bits zero"),
        ("networking.pods.cidr.v4", "fd00::/64", "not an IPv4 network"),
        ("networking.join.cidr.v4", "10.16.0.0/24", "overlaps"),
        ("networking.pods.gateways.v4", "10.17.0.1", "inside networking.pods.cidr.v4"),
        ("networking.stack", "ipv4", "is not one of IPv4, IPv6, Dual"),
        ("networking.enableSsl", "true", "is not a boolean"),
        ("global.registry.address", "evil.example.com/x", "is not an allowed registry"),
        ("global.images.kubeovn.tag", "v1.15.0", "is not the chart's version"),
        ("global.images.kubeovn.tag", "v1.16.2 --x", "is not the chart's version"),
        ("natGw.image.repository", "evil.example/x", "kubeOvn.allowedRegistries"),
        ("image.pullPolicy", "always", "is not one of Always"),
        ("networking.excludeIps", "10.0.0.1 #", "holds characters"),
        ("pinger.targets.externalAddresses.v4", "0.0.0.0", "unspecified"),
        ("pinger.targets.externalDomain.v4", "a b", "is not a DNS name"),
        ("ovsOvn.resources", {"requests": {"cpu": "3"}}, "above limits.cpu"),
        ("ovsOvn.resources", {"requests": {"hugepages-2Mi": "1Gi"}}, "cpu, memory"),
        ("agent.podAnnotations", {"bad key": "x"}, "not an annotation key"),
        (
            "controller.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution",
            [{"matchFields": []}],
            "is not {matchExpressions}",
        ),
        (
            "central.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution",
            [{"weight": 0, "matchExpressions": [{"key": "a", "operator": "Exists"}]}],
            "weight",
        ),
    ],
)
def test_typed_rules(path: str, value: Any, expected: str) -> None:
    found = problems(tree(path, value))
    assert found and expected in found[0], found
    assert path in found[0]


def test_values_refused_with_another_chart_version() -> None:
    (problem,) = problems(tree("networking.tunnelType", "vxlan"), "v1.15.0")
    assert "allowlist was checked against the kube-ovn-v2 v1.16.2" in problem
    assert problems({}, "v1.15.0") == []


def test_stt_is_not_a_tunnel_type() -> None:
    assert TUNNEL_TYPES == ("geneve", "vxlan")


def test_chart_defaults_the_rules_merge_with_are_the_facts() -> None:
    for path, default in CHART_DEFAULTS.items():
        assert ALLOWLIST[".".join(path)]["chart_default"] == default


# Every allowed string rendered unquoted (a container arg or a plain YAML scalar) must refuse
# whatever could end the scalar or start another: space, '#', quotes, braces, line breaks.
UNQUOTED_STRINGS = [
    path
    for path, facts in ALLOWLIST.items()
    if facts["type"] == "string"
    and any("unquoted" in use["shape"] for use in facts["template_uses"])
]


@settings(max_examples=150, deadline=None)
@given(
    path=st.sampled_from(UNQUOTED_STRINGS),
    prefix=st.sampled_from(["", "v1.16.2", "10.16.0.0/16", "geneve", "docker.io/kubeovn"]),
    bad=st.sampled_from([" ", "#", ": ", '"', "'", "{", "}", "\n", "\r", "\x85", "\u2028", "\t"]),
    suffix=st.text(alphabet="abc-=1", max_size=5),
)
def test_unquoted_strings_refuse_scalar_breakers(
    path: str, prefix: str, bad: str, suffix: str
) -> None:
    assert problems(tree(path, prefix + bad + suffix)), (path, prefix + bad + suffix)


def test_the_config_reference_lists_every_allowed_path_with_its_type() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "config-reference.md").read_text()
    section = doc.split("## `kubeOvn.values`: the allowlist", 1)[1].split("\n## ", 1)[0]
    listed = {
        line.split("|")[1].strip().strip("`"): line.split("|")[2].strip()
        for line in section.splitlines()
        if line.startswith("| `")
    }
    assert listed == {".".join(path): rule.type for path, rule in ALLOWED.items()}
