"""The Kube-OVN Helm values policy: an ALLOWLIST of typed value paths, everything else refused.

The paths, their rules and the evidence (each path rendered alone and all together with the
kube-ovn-v2 v1.16.2 chart: no allowed path goes through `tpl`, the offload settings hold) are in
`tests/fixtures/kube-ovn-v2-v1.16.2-value-uses.json`; docs/config-reference.md has the table.

Why an allowlist: the chart passes some strings through `tpl` (`natGw.bgpSpeaker.apiNadProvider`,
`apiNad.provider`, `extraObjects[]`) and Helm renders every template with one shared `.Values`
(helm `pkg/engine/engine.go` `sortTemplates`), so a `{{ set .Values.features ... }}` there turns
the load balancer back on, and `{{ "\\n---\\n" }}` adds any object. A blocklist cannot keep up.

Whole-tree rules: paths are tuples of keys (a key "networking.stack" is not the path
networking.stack); no null anywhere (Helm's coalesce deletes a chart default on null); strings
hold no control character and no `{{`/`}}`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from components.config.redact import looks_secret, shown, shown_key
from components.config.validators import CONTROL as _CONTROL

PINNED_CHART_VERSION = "v1.16.2"  # the chart version the allowlist was rendered against

# Linux nfp flower offloads a tunnel only on UDP 4789 (VXLAN) or 6081 (GENEVE, with the
# firmware's GENEVE and GENEVE_OPT features): drivers/net/ethernet/netronome/nfp/flower/action.c
# `nfp_fl_get_tun_from_act`, `nfp_fl_set_ipv4_tun`. STT is not a Linux tunnel at all.
TUNNEL_TYPES = ("geneve", "vxlan")

_KEY = re.compile(r"[A-Za-z0-9_-]+")
_IMAGE_PATH = re.compile(r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*")
_TAG_SUFFIX = re.compile(r"[a-z0-9]+([.-][a-z0-9]+)*")
_RFC1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = re.compile(rf"{_RFC1123_LABEL}(\.{_RFC1123_LABEL})*")
_DNS_NAME = re.compile(
    r"([A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?\.)*[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?\.?"
)
_QUALIFIED_NAME_PART = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
_QUANTITY = re.compile(r"(\d+(\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?")
_QUANTITY_SCALE = {
    "": 1, "m": Decimal("0.001"), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "P": 10**15, "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
    "Pi": 2**50, "Ei": 2**60,
}  # fmt: skip
_EXCLUDE_IPS = re.compile(r"[0-9a-fA-F.:,]*")
_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")


@dataclass(frozen=True)
class Context:
    """What a rule may read besides its own value."""

    allowed_registries: tuple[str, ...]
    chart_version: str
    values: Mapping[str, Any]


Check = Callable[[Any, Context], str | None]  # None, or why the value is refused


@dataclass(frozen=True)
class Rule:
    type: str  # as the config reference prints it
    rule: str
    check: Check


# --- checks -----------------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _string(check: Callable[[str, Context], str | None]) -> Check:
    def checked(value: Any, ctx: Context) -> str | None:
        return "is not a string" if not isinstance(value, str) else check(value, ctx)

    return checked


def _boolean(value: Any, _ctx: Context) -> str | None:
    return None if isinstance(value, bool) else "is not a boolean (true or false)"


def _one_of(*choices: str) -> Check:
    def check(value: str, _ctx: Context) -> str | None:
        return None if value in choices else f"is not one of {', '.join(choices)}"

    return _string(check)


def _registry(value: str, ctx: Context) -> str | None:
    if value in ctx.allowed_registries:
        return None
    allowed = ", ".join(ctx.allowed_registries) or "none"
    return (
        "is not an allowed registry (list it in kubeOvn.allowedRegistries to pull Kube-OVN's "
        f"images from it; allowed now: {allowed})"
    )


def _image_path(value: str, _ctx: Context) -> str | None:
    if len(value) <= 255 and _IMAGE_PATH.fullmatch(value):
        return None
    return "is not an image path (lower-case components like 'mirror/kube-ovn', at most 255)"


def _image_repository(value: str, ctx: Context) -> str | None:
    for registry in ctx.allowed_registries:
        if (
            value.startswith(registry + "/")
            and _image_path(value[len(registry) + 1 :], ctx) is None
        ):
            return None
    allowed = ", ".join(ctx.allowed_registries) or "none"
    return (
        "is not '<registry>/<image path>' with a registry of kubeOvn.allowedRegistries "
        f"(allowed now: {allowed})"
    )


def _image_tag(value: str, ctx: Context) -> str | None:
    suffix = value.removeprefix(ctx.chart_version)
    if len(value) <= 128 and (
        suffix == "" or (suffix.startswith("-") and _TAG_SUFFIX.fullmatch(suffix[1:]))
    ):
        return None
    return (
        f"is not the chart's version {ctx.chart_version!r} or '{ctx.chart_version}-<suffix>' "
        "(the chart's scripts and its images go together)"
    )


def _pull_secrets(value: Any, _ctx: Context) -> str | None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return "is not a list of Secret names"
    if len(value) > 16 or len(set(value)) != len(value):
        return "has more than 16 names, or one twice"
    bad = [item for item in value if len(item) > 253 or not _SUBDOMAIN.fullmatch(item)]
    return f"has {shown(bad[0])}, not a Secret name (RFC 1123 subdomain)" if bad else None


def _family(version: int) -> str:
    return "IPv4" if version == 4 else "IPv6"


def _network(version: int) -> Check:
    def check(value: str, _ctx: Context) -> str | None:
        try:
            net = ipaddress.ip_network(value, strict=True)
        except ValueError:
            return f"is not an {_family(version)} network in CIDR form with host bits zero"
        if net.version != version or "/" not in value:
            return f"is not an {_family(version)} network in CIDR form with host bits zero"
        if net.is_multicast or net.is_loopback or net.is_link_local or net.prefixlen == 0:
            return "is a multicast, loopback, link-local or default network"
        return None

    return _string(check)


def _ip_of(value: str, version: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    return ip if ip.version == version else None


def _address(version: int) -> Check:
    def check(value: str, _ctx: Context) -> str | None:
        ip = _ip_of(value, version)
        if ip is None:
            return f"is not an {_family(version)} address"
        if ip.is_unspecified or ip.is_multicast:
            return "is an unspecified or multicast address"
        return None

    return _string(check)


def _gateway(version: int) -> Check:
    key = f"v{version}"

    def check(value: str, ctx: Context) -> str | None:
        ip = _ip_of(value, version)
        if ip is None:
            return f"is not an {_family(version)} address"
        cidr = effective(ctx.values, ("networking", "pods", "cidr", key))
        try:
            net = ipaddress.ip_network(str(cidr), strict=True)
        except ValueError:
            return None  # the CIDR's own rule reports it
        if ip not in net or ip in (net.network_address, net.broadcast_address):
            return f"is not a host address inside networking.pods.cidr.{key} ({cidr})"
        return None

    return _string(check)


def _ip_list(ranges: bool) -> Check:
    def check(value: str, _ctx: Context) -> str | None:
        if value == "":
            return None
        if not _EXCLUDE_IPS.fullmatch(value):
            return "holds characters other than hex digits, '.', ':' and ','"
        for item in value.split(","):
            ends = item.split("..") if ranges else [item]
            if len(ends) > 2 or any(_any_ip(end) is None for end in ends):
                return f"has {shown(item)}, not an IP address" + (
                    " or 'a..b' range" if ranges else ""
                )
        return None

    return _string(check)


def _any_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _mtu(value: Any, _ctx: Context) -> str | None:
    # 1280 is also IPv6's minimum link MTU, so every allowed value suits every stack.
    if not _is_int(value):
        return "is not an integer"
    if value != 0 and not 1280 <= value <= 9000:
        return "is not 0 (derived from the uplink) or 1280..9000"
    return None


def _dns_name(value: str, _ctx: Context) -> str | None:
    if (
        len(value) <= 253
        and _DNS_NAME.fullmatch(value)
        and not value.rstrip(".").split(".")[-1].isdigit()
    ):
        return None
    return "is not a DNS name (RFC 1123 labels, optional trailing dot, at most 253)"


def _quantity(value: Any) -> Decimal | None:
    if _is_int(value) or isinstance(value, float):
        return Decimal(str(value)) if value >= 0 else None
    if isinstance(value, str) and (match := _QUANTITY.fullmatch(value)):
        try:
            return Decimal(match.group(1)) * _QUANTITY_SCALE[match.group(3) or ""]
        except InvalidOperation:
            return None
    return None


def _resources(component: str) -> Check:
    def check(value: Any, ctx: Context) -> str | None:
        if not isinstance(value, Mapping) or not set(value) <= {"requests", "limits"}:
            return "is not a map with only 'requests' and 'limits'"
        for kind, amounts in value.items():
            if not isinstance(amounts, Mapping) or not set(amounts) <= {
                "cpu",
                "memory",
                "ephemeral-storage",
            }:
                return f"{kind}: is not a map of cpu, memory and ephemeral-storage"
            for name, amount in amounts.items():
                if _quantity(amount) is None:
                    return (
                        f"{kind}.{name}: {shown(amount)} is not a Kubernetes quantity "
                        "(500m, 1Gi, 2)"
                    )
        return _request_over_limit(component, ctx)

    return check


def _request_over_limit(component: str, ctx: Context) -> str | None:
    """The API server refuses a request above its limit, mid-release: check the merged values."""
    merged = effective(ctx.values, (component, "resources")) or {}
    requests, limits = merged.get("requests") or {}, merged.get("limits") or {}
    for name, request in requests.items():
        if name in limits:
            low, high = _quantity(request), _quantity(limits[name])
            if low is not None and high is not None and low > high:
                return (
                    f"requests.{name} {shown(request)} is above limits.{name} "
                    f"{shown(limits[name])} (the chart's default limit counts when unset)"
                )
    return None


def _qualified_name(value: object) -> bool:
    if not isinstance(value, str):
        return False
    prefix, slash, name = value.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _SUBDOMAIN.fullmatch(prefix)):
        return False
    return len(name) <= 63 and bool(_QUALIFIED_NAME_PART.fullmatch(name))


def _annotations(value: Any, _ctx: Context) -> str | None:
    if not isinstance(value, Mapping) or len(value) > 32:
        return "is not a map of at most 32 annotations"
    for key, text in value.items():
        if not _qualified_name(key):
            return f"{shown(key)}: is not an annotation key (qualified name)"
        if not isinstance(text, str) or len(text) > 1024:
            return f"{shown(key)}: is not a string of at most 1024 characters"
    return None


def _expression_problem(expression: Any) -> str | None:
    if not isinstance(expression, Mapping) or not set(expression) <= {"key", "operator", "values"}:
        return "is not {key, operator, values}"
    if not _qualified_name(expression.get("key")):
        return "key: is not a label key (qualified name)"
    operator = expression.get("operator")
    if operator not in _OPERATORS:
        return f"operator: is not one of {', '.join(_OPERATORS)}"
    values = expression.get("values", [])
    if not isinstance(values, list) or not all(
        isinstance(v, str) and len(v) <= 63 and _LABEL_VALUE.fullmatch(v) for v in values
    ):
        return "values: is not a list of label values"
    if (operator in ("Exists", "DoesNotExist")) != (not values):
        return "values: must be empty exactly for Exists and DoesNotExist"
    if operator in ("Gt", "Lt") and (len(values) != 1 or not values[0].lstrip("-").isdigit()):
        return "values: Gt and Lt take one integer"
    return None


def _affinity(preferred: bool) -> Check:
    allowed_keys = {"weight", "matchExpressions"} if preferred else {"matchExpressions"}

    def check(value: Any, _ctx: Context) -> str | None:
        if not isinstance(value, list) or len(value) > 8:
            return "is not a list of at most 8 terms"
        for i, term in enumerate(value):
            if (
                not isinstance(term, Mapping)
                or not set(term) <= allowed_keys
                or "matchExpressions" not in term
            ):
                return f"[{i}]: is not {{{', '.join(sorted(allowed_keys))}}}"
            weight = term.get("weight", 100)
            if preferred and (not _is_int(weight) or not 1 <= weight <= 100):
                return f"[{i}].weight: is not an integer 1..100"
            expressions = term["matchExpressions"]
            if not isinstance(expressions, list) or not expressions:
                return f"[{i}].matchExpressions: is not a non-empty list"
            for j, expression in enumerate(expressions):
                problem = _expression_problem(expression)
                if problem:
                    return f"[{i}].matchExpressions[{j}].{problem}"
        return None

    return check


def _network_type(value: str, ctx: Context) -> str | None:
    if value not in TUNNEL_TYPES:
        return f"is not one of {', '.join(TUNNEL_TYPES)} (the tunnels nfp flower offloads)"
    tunnel = effective(ctx.values, ("networking", "tunnelType"))
    if value != tunnel:
        return (
            f"differs from networking.tunnelType {shown(tunnel)} (the controller derives the "
            "subnets' MTU from one, kube-ovn-cni the pods' MTU from the other)"
        )
    return None


# --- the allowlist ----------------------------------------------------------------------------

_COMPONENTS = ("ovsOvn", "agent", "controller", "central", "pinger", "monitor")
_QUANTITY_RULE = (
    "{requests?, limits?} of cpu | memory | ephemeral-storage: a quantity ('500m', '1Gi') or a "
    "number >= 0; a request not above its (merged) limit"
)
_AFFINITY_RULE = (
    "<= 8 terms {matchExpressions: [{key, operator In|NotIn|Exists|DoesNotExist|Gt|Lt, values}]}"
)


def _allowlist() -> dict[tuple[str, ...], Rule]:
    tag_rule = "kubeOvn.chartVersion, or chartVersion-<suffix> (a-z0-9 . -), <= 128"
    repo_rule = "<one of kubeOvn.allowedRegistries>/<image path>"
    rules: dict[str, Rule] = {
        "global.registry.address": Rule(
            "string", "one of kubeOvn.allowedRegistries", _string(_registry)
        ),
        "global.registry.imagePullSecrets": Rule(
            "list of string", "<= 16 distinct Secret names", _pull_secrets
        ),
        "global.images.kubeovn.repository": Rule(
            "string", "image path, <= 255", _string(_image_path)
        ),
        "global.images.kubeovn.tag": Rule("string", tag_rule, _string(_image_tag)),
        "image.pullPolicy": Rule(
            "string", "Always | IfNotPresent | Never", _one_of("Always", "IfNotPresent", "Never")
        ),
        "natGw.image.repository": Rule("string", repo_rule, _string(_image_repository)),
        "natGw.image.tag": Rule("string", tag_rule, _string(_image_tag)),
        "natGw.bgpSpeaker.image.repository": Rule("string", repo_rule, _string(_image_repository)),
        "natGw.bgpSpeaker.image.tag": Rule("string", tag_rule, _string(_image_tag)),
        "networking.stack": Rule("string", "IPv4 | IPv6 | Dual", _one_of("IPv4", "IPv6", "Dual")),
        "networking.tunnelType": Rule("string", " | ".join(TUNNEL_TYPES), _one_of(*TUNNEL_TYPES)),
        "networking.networkType": Rule(
            "string", "geneve | vxlan, equal to networking.tunnelType", _string(_network_type)
        ),
        "networking.pods.mtu": Rule("integer", "0 (derived) or 1280..9000", _mtu),
        "networking.excludeIps": Rule(
            "string", "'' or comma-separated IPs / a..b ranges", _ip_list(ranges=True)
        ),
        "networking.nodeLocalDnsIp": Rule(
            "string", "'' or comma-separated IPs", _ip_list(ranges=False)
        ),
        "networking.enableSsl": Rule("boolean", "true | false", _boolean),
        "networking.enableMetrics": Rule("boolean", "true | false", _boolean),
        "features.enableNetworkPolicies": Rule("boolean", "true | false", _boolean),
        "features.enableSecureServing": Rule("boolean", "true | false", _boolean),
    }
    for version in (4, 6):
        v = f"v{version}"
        family = _family(version)
        for part in ("pods", "services", "join"):
            rules[f"networking.{part}.cidr.{v}"] = Rule(
                "string", f"{family} CIDR, host bits zero, no overlap", _network(version)
            )
        rules[f"networking.pods.gateways.{v}"] = Rule(
            "string", f"{family} host address inside networking.pods.cidr.{v}", _gateway(version)
        )
        rules[f"pinger.targets.externalAddresses.{v}"] = Rule(
            "string", f"{family} address (not unspecified, not multicast)", _address(version)
        )
        rules[f"pinger.targets.externalDomain.{v}"] = Rule(
            "string", "DNS name, optional trailing dot, <= 253", _string(_dns_name)
        )
    for component in _COMPONENTS:
        rules[f"{component}.resources"] = Rule("object", _QUANTITY_RULE, _resources(component))
        rules[f"{component}.podAnnotations"] = Rule(
            "object", "<= 32 entries: qualified name -> string <= 1024", _annotations
        )
    for component in ("agent", "controller", "pinger", "monitor"):
        rules[f"{component}.serviceMonitor.enabled"] = Rule(
            "boolean", "true | false (true needs the monitoring.coreos.com CRDs)", _boolean
        )
    rules["controller.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"] = Rule(
        "list", _AFFINITY_RULE + " (no matchFields)", _affinity(preferred=False)
    )
    for component in ("controller", "central", "monitor"):
        rules[f"{component}.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution"] = Rule(
            "list",
            "<= 8 terms {weight 1..100, matchExpressions as above}",
            _affinity(preferred=True),
        )
    return {tuple(path.split(".")): rule for path, rule in rules.items()}


ALLOWED: dict[tuple[str, ...], Rule] = _allowlist()
# Prefixes of allowed paths: walked into, never a value themselves.
_PREFIXES = {path[:i] for path in ALLOWED for i in range(1, len(path))}

# Chart defaults of the values the cross-field rules read (kube-ovn-v2 v1.16.2 values.yaml, as
# recorded in the facts file's `chart_default`).
CHART_DEFAULTS: dict[tuple[str, ...], Any] = {
    ("networking", "stack"): "IPv4",
    ("networking", "tunnelType"): "geneve",
    ("networking", "pods", "cidr", "v4"): "10.16.0.0/16",
    ("networking", "pods", "cidr", "v6"): "fd00:10:16::/112",
    ("networking", "join", "cidr", "v4"): "100.64.0.0/16",
    ("networking", "join", "cidr", "v6"): "fd00:100:64::/112",
    ("networking", "services", "cidr", "v4"): "10.96.0.0/12",
    ("networking", "services", "cidr", "v6"): "fd00:10:96::/112",
    ("ovsOvn", "resources"): {
        "requests": {"cpu": "200m", "memory": "200Mi"},
        "limits": {"cpu": "2", "memory": "1000Mi", "ephemeral-storage": "1Gi"},
    },
    ("agent", "resources"): {
        "requests": {"cpu": "100m", "memory": "100Mi"},
        "limits": {"cpu": "1000m", "memory": "1Gi", "ephemeral-storage": "1Gi"},
    },
    ("controller", "resources"): {
        "requests": {"cpu": "200m", "memory": "200Mi"},
        "limits": {"cpu": "1000m", "memory": "1Gi", "ephemeral-storage": "1Gi"},
    },
    ("central", "resources"): {
        "requests": {"cpu": "300m", "memory": "200Mi"},
        "limits": {"cpu": "3", "memory": "4Gi", "ephemeral-storage": "1Gi"},
    },
    ("pinger", "resources"): {
        "requests": {"cpu": "100m", "memory": "100Mi"},
        "limits": {"cpu": "200m", "memory": "400Mi", "ephemeral-storage": "1Gi"},
    },
    ("monitor", "resources"): {
        "requests": {"cpu": "200m", "memory": "200Mi"},
        "limits": {"cpu": "200m", "memory": "200Mi", "ephemeral-storage": "1Gi"},
    },
}

# Why the most likely refused paths are refused (the facts file's notes, section 8 of the
# research); any other path gets the list of allowed ones.
_REFUSED_WHY: dict[tuple[str, ...], str] = {
    (
        "features",
        "enableHardwareOffload",
    ): "set by the stack: it is HW_OFFLOAD, the point of it all",
    ("features", "enableLoadbalancer"): "set by the stack: the NIC cannot offload dp_hash/hash",
    ("agent", "mirroring"): "set by the stack: ENABLE_MIRROR stays off (the runbook)",
    ("agent", "interface"): "set by kubeOvn.iface and nodes[].uplink",
    ("masterNodes",): "set by kubeOvn.masterNodes",
    ("masterNodesLabels",): "set by kubeOvn.masterNodes (labelled kube-ovn/role=master)",
    ("namespace",): "set by the stack (always kube-system)",
    ("cni", "nonPrimaryCNI"): "offloaded pods take Kube-OVN as their default network",
    ("extraObjects",): "evaluated as a template (tpl): renders any object, sets any value",
    ("apiNad",): "apiNad.provider is evaluated as a template (tpl) in the shared .Values",
    (
        "natGw",
        "bgpSpeaker",
        "apiNadProvider",
    ): "evaluated as a template (tpl) in the shared .Values",
    ("ovsOvn", "extraEnv"): "appended after HW_OFFLOAD, where a later duplicate wins",
    ("global", "images"): "the chart reads only global.images.kubeovn.repository and .tag",
}


def effective(values: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value Helm would use at `path`: the user's, merged over the chart default."""
    default = CHART_DEFAULTS.get(path)
    data: Any = values
    for key in path:
        if not isinstance(data, Mapping) or key not in data:
            return default
        data = data[key]
    if isinstance(default, Mapping) and isinstance(data, Mapping):
        return {
            k: {**(default.get(k) or {}), **(data.get(k) or {})} for k in set(default) | set(data)
        }
    return data


def _overlap_problems(values: Mapping[str, Any]) -> list[str]:
    """Pod, join and service CIDRs of one family must not overlap (the controller's
    `CheckSystemCIDR` would crash-loop it after `up`)."""
    problems = []
    for family in ("v4", "v6"):
        nets = []
        for part in ("pods", "join", "services"):
            cidr = effective(values, ("networking", part, "cidr", family))
            nets.append((f"networking.{part}.cidr.{family}", ipaddress.ip_network(str(cidr))))
        for i, (name, net) in enumerate(nets):
            problems += [
                f"{name}: {net} overlaps {other_name} {other} (the chart default counts when unset)"
                for other_name, other in nets[i + 1 :]
                if net.overlaps(other)  # type: ignore[arg-type]
            ]
    return problems


def allowed_paths() -> list[str]:
    return [".".join(path) for path in ALLOWED]


def _dotted(path: tuple[str, ...]) -> str:
    """A values path as messages show it: each key through the one redaction rule."""
    return ".".join(k if _KEY.fullmatch(k) and not looks_secret(k) else shown_key(k) for k in path)


def _tree_problems(value: Any, where: str) -> list[str]:
    """Null, control characters and template syntax anywhere in `value` (keys included)."""
    if value is None:
        return [f"{where}: null is not allowed (Helm deletes the chart's default on null)"]
    if isinstance(value, str):
        if _CONTROL.search(value):
            return [f"{where}: {shown(value)} holds a control character or line break"]
        if "{{" in value or "}}" in value:
            return [f"{where}: {shown(value)} holds template syntax ('{{{{' or '}}}}')"]
        return []
    if isinstance(value, Mapping):
        found = []
        for key, item in value.items():
            found += _tree_problems(key, f"{where} (a key)") if isinstance(key, str) else []
            found += _tree_problems(item, f"{where}.{shown_key(key)}")
        return found
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _tree_problems(item, f"{where}[{i}]")]
    return []


def _walk(values: Mapping[str, Any], prefix: tuple[str, ...], ctx: Context) -> list[str]:
    problems = []
    for key, value in values.items():
        path = (*prefix, str(key))
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            problems.append(
                f"{_dotted(path)}: a key of letters, digits, '_' and '-' is expected (paths are "
                "compared key by key; a dotted key is not a path)"
            )
        elif path in ALLOWED:
            problems += _tree_problems(value, _dotted(path))
            if not problems:
                why = ALLOWED[path].check(value, ctx)
                if why:
                    problems.append(f"{_dotted(path)}: {_value_text(value, why)}{why}")
        elif value is None:
            problems += _tree_problems(value, _dotted(path))
        elif path in _PREFIXES and isinstance(value, Mapping):
            problems += _walk(value, path, ctx)
        elif path in _PREFIXES:
            problems.append(f"{_dotted(path)}: is not a map (allowed below it: see the list)")
        else:
            problems.append(_refused(path, value))
    return problems


def _refused(path: tuple[str, ...], value: Any) -> str:
    """The refusal of `path`, with the reason of the deepest known path set under it."""
    for known, why in _REFUSED_WHY.items():
        if known[: len(path)] == path and len(known) > len(path):
            data: Any = value
            for key in known[len(path) :]:
                data = data.get(key, _ABSENT) if isinstance(data, Mapping) else _ABSENT
            if data is not _ABSENT:
                return f"{'.'.join(known)}: not an allowed value path ({why})"
    why = next((w for p, w in _REFUSED_WHY.items() if path[: len(p)] == p), None)
    return f"{_dotted(path)}: not an allowed value path" + (f" ({why})" if why else "")


_ABSENT = object()


def _value_text(value: Any, why: str) -> str:
    """The value, unless the reason names a part of it itself (a nested map's key)."""
    return "" if isinstance(value, Mapping | list) else f"{shown(value)} "


def kube_ovn_values_problems(
    values: Mapping[str, Any],
    allowed_registries: Iterable[str] = (),
    chart_version: str = PINNED_CHART_VERSION,
) -> list[str]:
    """Every refused path or value of `values`, one line each; the allowed paths once, last."""
    if not values:
        return []
    if chart_version != PINNED_CHART_VERSION:
        return [
            f"not allowed with kubeOvn.chartVersion {shown(chart_version)}: the values "
            f"allowlist was checked against the kube-ovn-v2 {PINNED_CHART_VERSION} templates "
            "only (a path's meaning can change between chart versions); remove the values or "
            f"use chartVersion {PINNED_CHART_VERSION}"
        ]
    ctx = Context(tuple(allowed_registries), chart_version, values)
    problems = _walk(values, (), ctx)
    if not problems:
        problems = _overlap_problems(values)
    if any("not an allowed value path" in p or "is not a map" in p for p in problems):
        problems.append(f"allowed paths: {', '.join(allowed_paths())}")
    return problems
