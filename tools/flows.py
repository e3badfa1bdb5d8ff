"""Parse the output of `ovs-appctl dpctl/dump-flows -m` (runbook step 8).

One datapath flow a line, e.g. (shortened)::

    ufid:91cc45de-..., recirc_id(0),in_port(5b45c61b307e_h),eth(src=..,dst=..),eth_type(0x0800),
    ipv4(...), packets:3479, bytes:340942, used:0.330s, offloaded:yes, dp:tc, actions:54235e5753b8_h

The line is split at the commas that are not inside parentheses. `name(...)` fields are the
match, kept as written (masks included); `name:value` fields are the statistics (`packets`,
`bytes`, `used`, `flags`, `offloaded`, `dp`, ...); everything after the first top-level `actions:`
is the actions, verbatim. `parse_dump` reads a whole dump; `summarise` adds flows up.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import astuple, dataclass, field, replace

ACTIONS = "actions:"
# Headers the userspace (netdev/DPDK) datapath prints between per-thread dumps.
DUMP_HEADER = "flow-dump from "
_MATCH_FIELD = re.compile(r"([A-Za-z_][A-Za-z0-9_.-]*)\((.*)\)", re.DOTALL)
_STAT_FIELD = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*):(.*)", re.DOTALL)
_MAX_SHOWN = 200


class FlowParseError(ValueError):
    """A line that is not a datapath flow; the message names the line (and its number)."""

    def __init__(self, reason: str, line: str, lineno: int | None = None) -> None:
        self.reason = reason
        self.line = line
        self.lineno = lineno
        shown = line if len(line) <= _MAX_SHOWN else line[:_MAX_SHOWN] + "..."
        where = f"line {lineno}" if lineno is not None else "line"
        super().__init__(f"cannot parse flow {where} ({reason}): {shown!r}")


@dataclass(frozen=True)
class Flow:
    """One datapath flow of `ovs-appctl dpctl/dump-flows -m`."""

    ufid: str | None
    in_port: str | None
    match: dict[str, str]
    packets: int
    bytes: int
    used: str
    offloaded: bool
    dp: str | None
    actions: str
    flags: str | None = None
    # Any other `name:value` statistic (e.g. `dp-extra-info`), as written.
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FlowTotals:
    """Flows, packets and bytes added up."""

    flows: int = 0
    packets: int = 0
    bytes: int = 0


def _split_top_level(text: str) -> list[tuple[int, str]]:
    """(offset, field) for each comma-separated field outside parentheses, stripped."""
    fields: list[tuple[int, str]] = []
    depth = 0
    start = 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced ')' at column {index + 1}")
        elif char == "," and depth == 0:
            fields.append((start, text[start:index]))
            start = index + 1
    if depth:
        raise ValueError("unbalanced '('")
    fields.append((start, text[start:]))
    return [(offset + len(raw) - len(raw.lstrip()), raw.strip()) for offset, raw in fields]


def _one_group(name: str, token: str) -> bool:
    """True when the `(` after `name` closes only at the end of `token` (not `a(1)b(2)`)."""
    depth = 0
    for index in range(len(name), len(token)):
        depth += {"(": 1, ")": -1}.get(token[index], 0)
        if depth == 0:
            return index == len(token) - 1
    return False


def _count(stats: dict[str, str], key: str) -> int:
    value = stats.get(key)
    if value is None:
        raise ValueError(f"no '{key}:'")
    if not value.isdigit():
        raise ValueError(f"'{key}:' is not a number: {value!r}")
    return int(value)


def _read_fields(line: str) -> tuple[dict[str, str], dict[str, str], str]:
    """(match, statistics, actions) of a line; ValueError with the reason if it is not a flow."""
    match: dict[str, str] = {}
    stats: dict[str, str] = {}
    for offset, token in _split_top_level(line):
        if token.startswith(ACTIONS):
            return match, stats, line[offset + len(ACTIONS) :].strip()
        if not token:
            raise ValueError("empty field")
        found = _MATCH_FIELD.fullmatch(token)
        if found and _one_group(found.group(1), token):
            target, key, value = match, found.group(1), found.group(2)
        elif stat := _STAT_FIELD.fullmatch(token):
            target, key, value = stats, stat.group(1), stat.group(2).strip()
        else:
            raise ValueError(f"unrecognised field {token!r}")
        if key in target:
            raise ValueError(f"field {key!r} twice")
        target[key] = value
    raise ValueError(f"no '{ACTIONS}'")


def parse_flow(line: str, lineno: int | None = None) -> Flow:
    """One flow line; FlowParseError (naming the line) when it is not one."""
    text = line.strip()
    try:
        match, stats, actions = _read_fields(text)
        packets = _count(stats, "packets")
        byte_count = _count(stats, "bytes")
        if not stats.get("used"):
            raise ValueError("no 'used:'")
        if not actions:
            raise ValueError("empty 'actions:'")
    except ValueError as error:
        raise FlowParseError(str(error), text, lineno) from None
    known = {"ufid", "packets", "bytes", "used", "flags", "offloaded", "dp"}
    return Flow(
        ufid=stats.get("ufid"),
        in_port=match.get("in_port"),
        match=match,
        packets=packets,
        bytes=byte_count,
        used=stats["used"],
        offloaded=stats.get("offloaded") == "yes",
        dp=stats.get("dp"),
        actions=actions,
        flags=stats.get("flags"),
        extra={key: value for key, value in stats.items() if key not in known},
    )


def parse_dump(text: str) -> list[Flow]:
    """Every flow of a dump; blank lines and `flow-dump from ...` headers are skipped."""
    flows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith(DUMP_HEADER):
            continue
        flows.append(parse_flow(line, lineno))
    return flows


def summarise(flows: Iterable[Flow]) -> FlowTotals:
    """Number of flows and their packets and bytes, added up."""
    count = packets = byte_count = 0
    for flow in flows:
        count += 1
        packets += flow.packets
        byte_count += flow.bytes
    return FlowTotals(flows=count, packets=packets, bytes=byte_count)


# --- attributing flows to ports (tools.verify judges each VF pod) --------------------------------

# Datapath ports that carry tunnels: every OVN tunnel Interface maps to one shared vport named
# `<type>_sys_<udp port>` (OVS lib/netdev-vport.c `netdev_vport_get_dpif_port`).
TUNNEL_TYPES = ("geneve", "vxlan", "gre", "stt", "erspan", "gtpu", "bareudp")
_TUNNEL_PREFIXES = ("genev_sys_", "vxlan_sys_", "stt_sys_", "gre_sys", "erspan_sys", "gtpu_sys_")
_SET_TUNNEL = "set(tunnel("
_DPCTL_PORT = re.compile(r"\s*port (\d+): (\S+)(?: \(([^:)]+)[^)]*\))?\s*")


@dataclass(frozen=True)
class DatapathPorts:
    """`ovs-appctl dpctl/show`: datapath port numbers to names, and which ports are tunnels."""

    names: dict[str, str] = field(default_factory=dict)  # "7" -> "8c21e4a7b5d0_h"
    tunnels: frozenset[str] = frozenset()

    def name(self, port: str) -> str:
        """The port's name: a number resolved through the table, a name as it is."""
        return self.names.get(port, port)

    def is_tunnel(self, name: str) -> bool:
        return name in self.tunnels or name.startswith(_TUNNEL_PREFIXES)


def parse_dpctl_show(text: str) -> DatapathPorts:
    """The `port N: NAME [(TYPE[: CONFIG])]` lines of `dpctl/show` (OVS lib/dpctl.c
    `show_dpif`); every other line (lookups, flows, masks, caches) is skipped."""
    names: dict[str, str] = {}
    tunnels: set[str] = set()
    for line in text.splitlines():
        found = _DPCTL_PORT.fullmatch(line)
        if not found:
            continue
        number, name, kind = found.groups()
        names[number] = name
        if kind in TUNNEL_TYPES:
            tunnels.add(name)
    return DatapathPorts(names, frozenset(tunnels))


def output_ports(actions: str) -> list[str]:
    """Top-level action items without parentheses: the ports a flow outputs to."""
    try:
        items = _split_top_level(actions)
    except ValueError:
        return []
    return [item for _, item in items if item and "(" not in item and item != "drop"]


@dataclass(frozen=True)
class Counts:
    """Flows, packets and bytes, all and in hardware (the `offloaded:yes` token only)."""

    flows: int = 0
    packets: int = 0
    bytes: int = 0
    hw_flows: int = 0
    hw_packets: int = 0
    hw_bytes: int = 0

    def add(self, flow: Flow) -> Counts:
        hw = flow.offloaded
        return Counts(
            self.flows + 1,
            self.packets + flow.packets,
            self.bytes + flow.bytes,
            self.hw_flows + hw,
            self.hw_packets + (flow.packets if hw else 0),
            self.hw_bytes + (flow.bytes if hw else 0),
        )

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


@dataclass(frozen=True)
class PortTraffic:
    """One port's flows: `local` (not through a tunnel) and `tunnel` (encap or decap)."""

    local: Counts = field(default_factory=Counts)
    tunnel: Counts = field(default_factory=Counts)

    @property
    def total(self) -> Counts:
        return self.local + self.tunnel


def in_port_name(flow: Flow, ports: DatapathPorts) -> str | None:
    """The flow's in_port by name; None when wildcarded (`N/0x...`) or absent."""
    if flow.in_port is None or "/" in flow.in_port:
        return None
    return ports.name(flow.in_port)


def attribute(
    flows: Iterable[Flow], wanted: Iterable[str], ports: DatapathPorts
) -> dict[str, PortTraffic]:
    """Each wanted port's flows: those whose in_port is the port (every recirculation pass;
    `tunnel` when the actions encapsulate), plus decap flows (in_port a tunnel port) whose
    actions output to it (`tunnel`). Flows of other ports are left out."""
    traffic = {port: PortTraffic() for port in wanted}
    for flow in flows:
        source = in_port_name(flow, ports)
        if source in traffic:
            before = traffic[source]
            if _SET_TUNNEL in flow.actions:
                traffic[source] = PortTraffic(before.local, before.tunnel.add(flow))
            else:
                traffic[source] = PortTraffic(before.local.add(flow), before.tunnel)
        elif source is not None and ports.is_tunnel(source):
            outputs = {ports.name(port) for port in output_ports(flow.actions)}
            for target in outputs & traffic.keys():
                before = traffic[target]
                traffic[target] = PortTraffic(before.local, before.tunnel.add(flow))
    return traffic


def since(before: Iterable[Flow], after: Iterable[Flow]) -> list[Flow]:
    """`after`'s flows with the packets and bytes they gained since `before`, matched by ufid
    (a ufid not in `before` is new and counts from 0; flows without a ufid count whole)."""
    earlier = {flow.ufid: flow for flow in before if flow.ufid}
    changed = []
    for flow in after:
        old = earlier.get(flow.ufid) if flow.ufid else None
        if old is None or old.packets > flow.packets:
            changed.append(flow)  # new, or the same ufid re-installed with fresh counters
            continue
        packets, byte_count = flow.packets - old.packets, flow.bytes - old.bytes
        changed.append(replace(flow, packets=packets, bytes=max(byte_count, 0)))
    return changed


# --- `ovs-vsctl --format=json --columns=name,ofport,external_ids list Interface` ----------------

LIST_INTERFACES = (
    "ovs-vsctl",
    "--format=json",
    "--columns=name,ofport,external_ids",
    "list",
    "Interface",
)


@dataclass(frozen=True)
class PodPort:
    """The OVS Interface Kube-OVN attached a pod to (`configureNic` sets external_ids
    pod_name/pod_namespace, kube-ovn v1.16.2 pkg/daemon/ovs_linux.go), and its ofport
    (None: not added yet; -1: its netdev is gone)."""

    interface: str
    ofport: int | None


def _atom(cell: object) -> object:
    """A cell of lib/table.c's JSON: a bare atom, or ["set", [...]] / ["map", [...]]."""
    if isinstance(cell, list) and len(cell) == 2 and cell[0] == "set":
        values = cell[1]
        return values[0] if len(values) == 1 else None
    return cell


def pod_ports(text: str) -> dict[tuple[str, str], list[PodPort]]:
    """(namespace, pod) -> its Interfaces, from the table `LIST_INTERFACES` prints; ValueError
    when the text is not that table."""
    try:
        document = json.loads(text)
        headings = document["headings"]
        rows = document["data"]
        name_at, ofport_at = headings.index("name"), headings.index("ofport")
        ids_at = headings.index("external_ids")
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"not an ovs-vsctl --format=json Interface table: {error}") from None
    found: dict[tuple[str, str], list[PodPort]] = {}
    for row in rows:
        ids_cell = row[ids_at]
        if not (isinstance(ids_cell, list) and ids_cell[:1] == ["map"]):
            raise ValueError(f"external_ids is not a map: {ids_cell!r}")
        ids = {str(key): str(value) for key, value in ids_cell[1]}
        if "pod_name" not in ids or "pod_namespace" not in ids:
            continue
        ofport = _atom(row[ofport_at])
        port = PodPort(str(row[name_at]), ofport if isinstance(ofport, int) else None)
        found.setdefault((ids["pod_namespace"], ids["pod_name"]), []).append(port)
    return found
