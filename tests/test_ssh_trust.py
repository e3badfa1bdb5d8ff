"""SSH trust (issue 12): pinned by default, host keys fully parsed, SSH access in the plan."""

from __future__ import annotations

import base64
import json
import logging
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import ConfigError, validate_stack_config
from components.config.ssh_host_keys import host_key_fingerprint
from tests.support.stack_config import (
    dev_config,
    key_blob,
    problems_of,
    set_path,
    ssh_public_key,
)
from tools import access_summary, plan
from tools.engine.mock_driver import STACK_TYPE, run_stack, stack_file

ED25519 = ssh_public_key()


def pinned_dev() -> dict[str, Any]:
    """The dev config with the opt-out removed and a host key on every node."""
    raw = dev_config()
    raw["ssh"] = {"user": "root"}
    for node in raw["nodes"]:
        node["hostKey"] = ED25519
    return raw


# --- pinned by default -------------------------------------------------------------------------


def test_a_node_without_host_key_is_refused_unless_the_stack_opts_out() -> None:
    raw = pinned_dev()
    del raw["nodes"][1]["hostKey"]
    (problem,) = problems_of(raw)
    assert problem.startswith("agilio-offload:nodes[1].hostKey: is required: SSH is pinned")
    assert "ssh-keyscan -t ed25519 <host>" in problem and "ssh.allowUnpinned: true" in problem
    raw["ssh"]["allowUnpinned"] = True
    validate_stack_config(raw)


def test_allow_unpinned_must_be_a_real_boolean() -> None:
    raw = set_path(dev_config(), "ssh.allowUnpinned", "yes")
    problems = problems_of(raw)
    assert any("ssh.allowUnpinned: 'yes': input should be a valid boolean" in p for p in problems)


def test_an_unpinned_config_registers_nothing() -> None:
    raw = pinned_dev()
    del raw["nodes"][0]["hostKey"]
    run = run_stack("dev", {f"agilio-offload:{k}": v for k, v in raw.items()})
    assert isinstance(run.error, ConfigError)
    assert [r.type for r in run.resources] in ([], [STACK_TYPE])


def test_every_preview_warns_once_for_all_unpinned_nodes(caplog: pytest.LogCaptureFixture) -> None:
    # Issue 19: ONE summary line for N unpinned nodes (the plan's access summary lists them).
    raw = dev_config()
    raw["nodes"][0]["host"] = "2001:db8::11"
    raw["nodes"][0].pop("hostKey", None)
    raw["nodes"][1].pop("hostKey", None)
    with caplog.at_level(logging.WARNING):
        run = run_stack("dev", {f"agilio-offload:{k}": v for k, v in raw.items()})
    assert run.error is None, run.error
    warnings = [r.getMessage() for r in caplog.records if "UNPINNED" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(
        "SSH to 2 node(s) is UNPINNED (ssh.allowUnpinned: true, no hostKey): "
        "lab-worker-1 ([2001:db8::11]:22) and 1 more"
    ), warnings[0]


def test_the_prod_stack_pins_every_node_and_plans_only_with_host_keys(tmp_path: Path) -> None:
    document = yaml.safe_load(stack_file("prod").read_text())
    config = document["config"]
    assert "allowUnpinned" not in config["agilio-offload:ssh"]
    assert all(node.get("hostKey") for node in config["agilio-offload:nodes"])
    del config["agilio-offload:nodes"][2]["hostKey"]
    changed = tmp_path / "Pulumi.prod.yaml"
    changed.write_text(yaml.safe_dump(document))
    out = tmp_path / "out"
    assert plan.main(["--stack", "prod", "--stack-file", str(changed), "--out", str(out)]) == 2
    assert not out.exists()


# --- host keys: only what OpenSSH accepts, fully parsed -----------------------------------------


@pytest.mark.parametrize(
    "key_type",
    [
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    ],
)
def test_host_key_types_openssh_offers_are_accepted(key_type: str) -> None:
    validate_stack_config(set_path(pinned_dev(), "nodes[0].hostKey", ssh_public_key(key_type)))
    validate_stack_config(
        set_path(pinned_dev(), "nodes[0].hostKey", ssh_public_key(key_type, comment=""))
    )


BAD_HOST_KEYS: list[tuple[str, str]] = [
    # pulumi-command v1.2.1 offers an RSA key only as SHA-1 "ssh-rsa", refused by OpenSSH >= 8.8.
    (ssh_public_key("ssh-rsa"), "is an RSA host key: pulumi-command pins it with the SHA-1"),
    ("ssh-dss " + base64.b64encode(b"\0\0\0\x07ssh-dss").decode(), "is a DSA host key"),
    (
        "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29t",
        "is a host certificate, not a host key",
    ),
    # A truncated blob: the key is 31 bytes instead of 32.
    (
        "ssh-ed25519 " + base64.b64encode(key_blob()[:-1]).decode(),
        "has key data that is cut short",
    ),
    # Key material after the blob.
    ("ssh-ed25519 " + base64.b64encode(key_blob() + b"\0\0\0\x04more").decode(), "extra bytes"),
    (ssh_public_key().split()[0] + " " + ssh_public_key().split()[1] + "AAAA", "extra bytes"),
    # Two keys on one line, and two lines.
    (f"{ED25519} {ssh_public_key('ecdsa-sha2-nistp256')}", "holds more than one key"),
    (f"{ED25519}\n{ED25519}", "contains a control character"),
    (f"{ED25519}\n", "contains a control character"),
    # What ssh-keyscan prints: the host name first.
    (f"192.0.2.11 {ED25519}", "starts with a host name"),
    ("ecdsa-sha2-nistp256 " + base64.b64encode(key_blob("ssh-ed25519")).decode(), "another type"),
    (
        "ecdsa-sha2-nistp384 "
        + base64.b64encode(
            b"".join(
                len(f).to_bytes(4, "big") + f
                for f in (b"ecdsa-sha2-nistp384", b"nistp256", b"\x04" + bytes(96))
            )
        ).decode(),
        "another curve",
    ),
]


@pytest.mark.parametrize(("host_key", "expected"), BAD_HOST_KEYS)
def test_host_keys_are_refused_unless_fully_well_formed(host_key: str, expected: str) -> None:
    (problem,) = problems_of(set_path(pinned_dev(), "nodes[0].hostKey", host_key))
    assert problem.startswith("agilio-offload:nodes[0].hostKey: "), problem
    assert expected in problem


def test_fingerprint_is_the_one_ssh_keygen_prints(tmp_path: Path) -> None:
    key = tmp_path / "host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    line = key.with_suffix(".pub").read_text().strip()
    printed = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(key.with_suffix(".pub"))],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    validate_stack_config(set_path(pinned_dev(), "nodes[0].hostKey", line))
    assert host_key_fingerprint(line) == ("ssh-ed25519", printed[1])


# --- SSH in the open: the access summary and trust changes --------------------------------------


def write_stack(tmp_path: Path, raw: dict[str, Any], name: str) -> Path:
    path = tmp_path / f"Pulumi.{name}.yaml"
    config = {f"agilio-offload:{key}": value for key, value in raw.items()}
    path.write_text(yaml.safe_dump({"config": config}))
    return path


def plan_of(tmp_path: Path, raw: dict[str, Any], name: str, *extra: str) -> Path:
    out = tmp_path / name
    code = plan.main(
        ["--stack-file", str(write_stack(tmp_path, raw, name)), "--out", str(out), *extra]
    )
    assert code == 0
    return out


def test_the_plan_writes_the_access_summary_without_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = dev_config()
    raw["nodes"][0]["hostKey"] = ED25519
    out = plan_of(tmp_path, raw, "summary")
    access = json.loads((out / access_summary.ACCESS_FILE).read_text())
    assert access["lab-worker-1"] == {
        "host": "192.0.2.11",
        "port": 22,
        "user": "root",
        "sudo": False,
        "hostKey": " ".join(host_key_fingerprint(ED25519)),
        "keySource": "agent",
    }
    assert access["lab-worker-2"]["hostKey"] == "UNPINNED"
    printed = capsys.readouterr().out
    assert "1 node UNPINNED (ssh.allowUnpinned: true)" in printed
    # Once, in the summary: the long warning is not printed again, but warnings.json keeps it.
    assert "warning: SSH to 1 node(s) is UNPINNED" not in printed
    saved = json.loads((out / access_summary.WARNINGS_FILE).read_text())
    assert saved[0].startswith("SSH to 1 node(s) is UNPINNED")
    assert ED25519.split()[1] not in (out / access_summary.ACCESS_FILE).read_text()


def test_key_source_is_named_never_the_key() -> None:
    config = validate_stack_config(pinned_dev())
    assert access_summary.key_source(config, has_secret_key=True) == "secret"
    assert access_summary.key_source(config, has_secret_key=False) == "agent"


@pytest.mark.parametrize(
    ("change", "field", "after"),
    [
        (lambda raw: raw["nodes"][0].pop("hostKey"), "hostKey", "UNPINNED"),
        (lambda raw: raw["nodes"][0].update(host="198.51.100.7"), "host", "198.51.100.7"),
        (lambda raw: raw["nodes"][0].update(port=2222), "port", 2222),
        (lambda raw: raw["nodes"][0].update(user="ops"), "user", "ops"),
    ],
)
def test_baseline_lists_an_access_change_as_a_trust_change_of_that_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: Any, field: str, after: Any
) -> None:
    before_raw = dev_config()
    for node in before_raw["nodes"]:
        node["hostKey"] = ED25519
    before = plan_of(tmp_path, before_raw, "before")
    after_raw = json.loads(json.dumps(before_raw))
    change(after_raw)
    capsys.readouterr()
    out = plan_of(tmp_path, after_raw, "after", "--baseline", str(before))
    printed = capsys.readouterr().out
    (trust,) = json.loads((out / access_summary.TRUST_FILE).read_text())
    assert (trust["node"], trust["kind"], trust["trustChange"]) == ("lab-worker-1", "change", True)
    assert {f["field"]: f["after"] for f in trust["fields"]}[field] == after
    assert "~ node lab-worker-1  [TRUST CHANGE]" in printed


def test_an_unchanged_access_is_no_trust_change(tmp_path: Path) -> None:
    before = plan_of(tmp_path, dev_config(), "same-before")
    out = plan_of(tmp_path, dev_config(), "same-after", "--baseline", str(before))
    assert json.loads((out / access_summary.TRUST_FILE).read_text()) == []
