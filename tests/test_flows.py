"""`tools.flows`: the `ovs-appctl dpctl/dump-flows -m` parser on the runbook's lines and others."""

from __future__ import annotations

import pytest

from tools.flows import Flow, FlowParseError, FlowTotals, parse_dump, parse_flow, summarise

# The runbook's step 8 output, verbatim: ICMP both ways between two pods on VFs, in hardware.
RUNBOOK_A_TO_B = (
    "ufid:91cc45de-e7e9-4935-8f82-1890430b0f66, skb_priority(0/0),skb_mark(0/0),"
    "ct_state(0/0x23),ct_zone(0/0),ct_mark(0/0),ct_label(0/0x1),recirc_id(0),dp_hash(0/0),"
    "in_port(5b45c61b307e_h),packet_type(ns=0/0,id=0/0),"
    "eth(src=00:00:00:c5:6d:4e,dst=00:00:00:e7:16:ce),eth_type(0x0800),"
    "ipv4(src=0.0.0.0/0.0.0.0,dst=0.0.0.0/0.0.0.0,proto=0/0,tos=0/0,ttl=0/0,frag=no),"
    "icmp(type=0/0,code=0/0), packets:3479, bytes:340942, used:0.330s, offloaded:yes, dp:tc, "
    "actions:54235e5753b8_h"
)
RUNBOOK_B_TO_A = (
    "ufid:e00768d7-e652-4d79-8182-3291d852b791, skb_priority(0/0),skb_mark(0/0),"
    "ct_state(0/0x23),ct_zone(0/0),ct_mark(0/0),ct_label(0/0x1),recirc_id(0),dp_hash(0/0),"
    "in_port(54235e5753b8_h),packet_type(ns=0/0,id=0/0),"
    "eth(src=00:00:00:e7:16:ce,dst=00:00:00:c5:6d:4e),eth_type(0x0800),"
    "ipv4(src=0.0.0.0/0.0.0.0,dst=0.0.0.0/0.0.0.0,proto=0/0,tos=0/0,ttl=0/0,frag=no),"
    "icmp(type=0/0,code=0/0), packets:3479, bytes:340942, used:0.330s, offloaded:yes, dp:tc, "
    "actions:5b45c61b307e_h"
)

IPV6 = (
    "ufid:0f6a3c1e-2b44-4f0e-9d1a-6c2b8e7f5a10, recirc_id(0),in_port(3),"
    "eth(src=02:00:00:00:00:01,dst=33:33:00:00:00:01),eth_type(0x86dd),"
    "ipv6(src=fe80::1,dst=ff02::1/ffff:ffff::,label=0/0,proto=58,tclass=0/0,hlimit=255,frag=no),"
    "icmpv6(type=134,code=0), packets:7, bytes:826, used:2.104s, offloaded:yes, dp:tc, actions:1,4"
)
TUNNEL = (
    "ufid:5d7c0a64-1f3e-4c55-8a0b-93e1d2c4b6f7, recirc_id(0),"
    "tunnel(tun_id=0x1,src=192.168.10.2,dst=192.168.10.3,ttl=64/0,"
    "geneve({class=0x102,type=0x80,len=4,0x10002/0x7fffffff}),flags(-df+csum+key)),"
    "in_port(genev_sys_6081),eth(src=00:00:00:aa:bb:01,dst=00:00:00:aa:bb:02),"
    "eth_type(0x0800),ipv4(frag=no), packets:10, bytes:980, used:0.010s, flags:S, "
    "offloaded:yes, dp:tc, actions:set(tunnel(tun_id=0x2,dst=192.168.10.4,ttl=64,tp_dst=6081,"
    "flags(df|csum|key))),genev_sys_6081"
)
CONNTRACK = (
    "ufid:a3e2b1c0-7d6f-4e5a-9b8c-0d1e2f3a4b5c, recirc_id(0x3),in_port(2),"
    "ct_state(+est+trk),ct_zone(5),ct_mark(0/0x1),ct_label(0/0xffff),eth(),eth_type(0x0800),"
    "ipv4(src=10.16.0.0/255.255.0.0,proto=6,frag=no),tcp(dst=80), packets:1500, "
    "bytes:2130000, used:0.020s, flags:SFP., offloaded:yes, dp:tc, "
    "actions:ct(zone=5,nat),recirc(0x3)"
)
NOT_OFFLOADED = (
    "ufid:0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f, recirc_id(0),in_port(5b45c61b307e_h),"
    "eth(src=00:00:00:c5:6d:4e,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),"
    "arp(sip=10.16.0.5,tip=10.16.0.6,op=1/0xff), packets:42, bytes:2520, used:never, "
    "dp:ovs, actions:drop"
)


def test_runbook_line_a_to_b() -> None:
    flow = parse_flow(RUNBOOK_A_TO_B)
    assert flow == Flow(
        ufid="91cc45de-e7e9-4935-8f82-1890430b0f66",
        in_port="5b45c61b307e_h",
        match={
            "skb_priority": "0/0",
            "skb_mark": "0/0",
            "ct_state": "0/0x23",
            "ct_zone": "0/0",
            "ct_mark": "0/0",
            "ct_label": "0/0x1",
            "recirc_id": "0",
            "dp_hash": "0/0",
            "in_port": "5b45c61b307e_h",
            "packet_type": "ns=0/0,id=0/0",
            "eth": "src=00:00:00:c5:6d:4e,dst=00:00:00:e7:16:ce",
            "eth_type": "0x0800",
            "ipv4": "src=0.0.0.0/0.0.0.0,dst=0.0.0.0/0.0.0.0,proto=0/0,tos=0/0,ttl=0/0,frag=no",
            "icmp": "type=0/0,code=0/0",
        },
        packets=3479,
        bytes=340942,
        used="0.330s",
        offloaded=True,
        dp="tc",
        actions="54235e5753b8_h",
    )


def test_runbook_line_b_to_a() -> None:
    flow = parse_flow(RUNBOOK_B_TO_A)
    assert flow.ufid == "e00768d7-e652-4d79-8182-3291d852b791"
    assert flow.in_port == "54235e5753b8_h"
    assert flow.match["eth"] == "src=00:00:00:e7:16:ce,dst=00:00:00:c5:6d:4e"
    assert (flow.packets, flow.bytes, flow.used) == (3479, 340942, "0.330s")
    assert (flow.offloaded, flow.dp, flow.actions) == (True, "tc", "5b45c61b307e_h")
    assert flow.flags is None
    assert flow.extra == {}


def test_ipv6_match_keeps_addresses_and_masks() -> None:
    flow = parse_flow(IPV6)
    assert flow.match["ipv6"] == (
        "src=fe80::1,dst=ff02::1/ffff:ffff::,label=0/0,proto=58,tclass=0/0,hlimit=255,frag=no"
    )
    assert flow.match["icmpv6"] == "type=134,code=0"
    assert flow.in_port == "3"
    assert (flow.packets, flow.bytes, flow.used, flow.offloaded) == (7, 826, "2.104s", True)
    assert flow.actions == "1,4"


def test_tunnel_match_with_nested_flags_and_set_tunnel_action() -> None:
    flow = parse_flow(TUNNEL)
    assert flow.match["tunnel"] == (
        "tun_id=0x1,src=192.168.10.2,dst=192.168.10.3,ttl=64/0,"
        "geneve({class=0x102,type=0x80,len=4,0x10002/0x7fffffff}),flags(-df+csum+key)"
    )
    assert flow.in_port == "genev_sys_6081"
    assert flow.match["ipv4"] == "frag=no"
    assert flow.flags == "S"
    assert (flow.packets, flow.bytes, flow.dp) == (10, 980, "tc")
    assert flow.actions == (
        "set(tunnel(tun_id=0x2,dst=192.168.10.4,ttl=64,tp_dst=6081,flags(df|csum|key))),"
        "genev_sys_6081"
    )


def test_conntrack_fields_and_ct_recirc_actions() -> None:
    flow = parse_flow(CONNTRACK)
    assert flow.match["ct_state"] == "+est+trk"
    assert flow.match["ct_zone"] == "5"
    assert flow.match["ct_mark"] == "0/0x1"
    assert flow.match["recirc_id"] == "0x3"
    assert flow.match["eth"] == ""
    assert flow.match["tcp"] == "dst=80"
    assert flow.flags == "SFP."
    assert (flow.packets, flow.bytes, flow.used) == (1500, 2130000, "0.020s")
    assert flow.actions == "ct(zone=5,nat),recirc(0x3)"


def test_not_offloaded_line_with_dp_ovs_and_used_never() -> None:
    flow = parse_flow(NOT_OFFLOADED)
    assert flow.offloaded is False
    assert flow.dp == "ovs"
    assert flow.used == "never"
    assert flow.actions == "drop"
    assert (flow.packets, flow.bytes) == (42, 2520)
    assert flow.match["arp"] == "sip=10.16.0.5,tip=10.16.0.6,op=1/0xff"


def test_only_offloaded_yes_counts_as_offloaded() -> None:
    partial = NOT_OFFLOADED.replace("dp:ovs", "offloaded:partial, dp:ovs")
    assert parse_flow(partial).offloaded is False
    assert parse_flow(NOT_OFFLOADED.replace("dp:ovs", "offloaded:yes, dp:tc")).offloaded is True


def test_line_without_ufid_and_with_an_extra_statistic() -> None:
    line = (
        "recirc_id(0),in_port(1),eth_type(0x0800),ipv4(frag=no), packets:0, bytes:0, "
        "used:never, dp:ovs, dp-extra-info:miniflow_bits(4,1), actions:2"
    )
    flow = parse_flow(line)
    assert flow.ufid is None
    assert flow.in_port == "1"
    assert flow.extra == {"dp-extra-info": "miniflow_bits(4,1)"}
    assert flow.actions == "2"


def test_match_without_in_port() -> None:
    line = "ufid:x, recirc_id(0),eth_type(0x0800), packets:1, bytes:60, used:0.1s, actions:drop"
    flow = parse_flow(line)
    assert flow.in_port is None
    assert flow.ufid == "x"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("this is not a flow", "unrecognised field 'this is not a flow'"),
        ("recirc_id(0),in_port(1), packets:1, bytes:2, used:never", "no 'actions:'"),
        ("recirc_id(0),in_port(1, packets:1, bytes:2, used:never, actions:2", "unbalanced '('"),
        ("recirc_id(0)),in_port(1), packets:1, bytes:2, used:never, actions:2", "unbalanced ')'"),
        ("recirc_id(0), bytes:2, used:never, actions:2", "no 'packets:'"),
        ("recirc_id(0), packets:many, bytes:2, used:never, actions:2", "not a number"),
        ("recirc_id(0), packets:1, bytes:2, actions:2", "no 'used:'"),
        ("recirc_id(0), packets:1, bytes:2, used:never, actions:", "empty 'actions:'"),
        ("recirc_id(0)in_port(1), packets:1, bytes:2, used:1s, actions:2", "unrecognised field"),
        ("recirc_id(0),,in_port(1), packets:1, bytes:2, used:1s, actions:2", "empty field"),
        ("in_port(1),in_port(2), packets:1, bytes:2, used:1s, actions:2", "'in_port' twice"),
    ],
)
def test_unparseable_lines_raise_naming_the_line(line: str, reason: str) -> None:
    with pytest.raises(FlowParseError) as raised:
        parse_flow(line)
    assert reason in str(raised.value)
    assert line in str(raised.value)
    assert raised.value.line == line


def test_parse_dump_skips_blank_lines_and_names_the_bad_line_number() -> None:
    text = f"\n{RUNBOOK_A_TO_B}\n   \n{RUNBOOK_B_TO_A}\n"
    assert [flow.in_port for flow in parse_dump(text)] == ["5b45c61b307e_h", "54235e5753b8_h"]
    assert parse_dump("") == []
    with pytest.raises(FlowParseError, match=r"line 3 .*'ovs-vswitchd: no such datapath'"):
        parse_dump(f"{RUNBOOK_A_TO_B}\n\novs-vswitchd: no such datapath\n")


def test_parse_dump_skips_userspace_thread_headers() -> None:
    text = f"flow-dump from the main thread:\n{NOT_OFFLOADED}\nflow-dump from pmd on cpu core: 3\n"
    assert [flow.dp for flow in parse_dump(text)] == ["ovs"]


def test_summarise_totals() -> None:
    flows = parse_dump("\n".join([RUNBOOK_A_TO_B, RUNBOOK_B_TO_A, NOT_OFFLOADED, TUNNEL]))
    assert summarise(flows) == FlowTotals(
        flows=4, packets=3479 + 3479 + 42 + 10, bytes=340942 + 340942 + 2520 + 980
    )
    assert summarise(flows) == FlowTotals(flows=4, packets=7010, bytes=685384)
    assert summarise([]) == FlowTotals(flows=0, packets=0, bytes=0)
    assert summarise(flow for flow in flows if flow.offloaded) == FlowTotals(3, 6968, 682864)
