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

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

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
