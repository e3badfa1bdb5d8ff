"""Warnings where one is due, printed at every run and in the plan, and refusals with the right
reason (issue 19, item 5)."""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import validate_stack_config
from components.config.warnings import config_warnings
from tests.support.stack_config import dev_config, problems_of, set_path, ssh_public_key
from tools import plan
from tools.engine.mock_driver import run_stack, stack_file


def warnings_of(raw: dict[str, Any]) -> list[str]:
    return config_warnings(validate_stack_config(raw))


def _key(tmp_path: Path, passphrase: str = "") -> Path:
    key = tmp_path / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-f", str(key)], check=True
    )
    return key


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "localhost"])
def test_a_loopback_host_warns(host: str) -> None:
    (warning,) = warnings_of(set_path(dev_config(), "nodes[0].host", host))
    assert warning.startswith("nodes[0].host: ") and "loopback" in warning


def test_a_non_root_user_without_sudo_warns() -> None:
    raw = set_path(
        dev_config(), "ssh", {**dev_config().get("ssh", {}), "user": "ops", "sudo": False}
    )
    found = warnings_of(raw)
    assert any("is not root and ssh.sudo is false" in w for w in found), found


def test_key_files_that_cannot_log_in_warn(tmp_path: Path) -> None:
    key = _key(tmp_path)
    empty = tmp_path / "empty"
    empty.write_text("")
    (tmp_path / "locked").mkdir()
    locked = _key(tmp_path / "locked", "a passphrase")
    cases = {
        f"{key}.pub": "is a public key",
        str(empty): "is empty",
        str(locked): "is passphrase-protected",
    }
    for path, expected in cases.items():
        raw = set_path(dev_config(), "ssh", {**dev_config().get("ssh", {}), "privateKeyPath": path})
        found = warnings_of(raw)
        assert any(w.startswith("ssh.privateKeyPath: ") and expected in w for w in found), found
    raw = set_path(dev_config(), "ssh", {**dev_config().get("ssh", {}), "privateKeyPath": str(key)})
    assert warnings_of(raw) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [("sriov.vendors", ["8086"]), ("sriov.devices", ["1889"]), ("sriov.drivers", ["iavf"])],
)
def test_selectors_that_cannot_match_an_agilio_card_warn(path: str, value: list[str]) -> None:
    (warning,) = warnings_of(set_path(dev_config(), path, value))
    assert warning.startswith(f"{path}: ") and "cannot match an Agilio CX VF" in warning


def test_a_kubeconfig_that_does_not_exist_warns(tmp_path: Path) -> None:
    raw = set_path(dev_config(), "kubernetes.kubeconfigPath", str(tmp_path / "nope"))
    (warning,) = warnings_of(raw)
    assert warning.startswith("kubernetes.kubeconfigPath: ") and "does not exist" in warning


def test_one_host_key_pinned_on_two_nodes_warns() -> None:
    raw = dev_config()
    raw["nodes"][0]["hostKey"] = raw["nodes"][1]["hostKey"] = ssh_public_key()
    found = warnings_of(raw)
    assert any("the same host key is pinned on nodes[0], nodes[1]" in w for w in found), found


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (" " + ssh_public_key(), "has a leading or trailing space"),
        (ssh_public_key().replace(" ", "  ", 1), "has two spaces between its type and its key"),
    ],
)
def test_host_key_spacing_is_refused_with_the_right_reason(value: str, why: str) -> None:
    (problem,) = problems_of(set_path(dev_config(), "nodes[0].hostKey", value))
    assert why in problem


@pytest.mark.parametrize("char", ["\x85", "\x9b", "\u2028"])
def test_c1_control_characters_are_refused(char: str) -> None:
    (problem,) = problems_of(set_path(dev_config(), "kubernetes.context", f"lab{char}x"))
    assert "control character" in problem
    assert char not in problem  # shown escaped


def test_invisible_characters_are_made_visible() -> None:
    (problem,) = problems_of(set_path(dev_config(), "nodes[0].pf", "ens1np0\u200b"))
    assert "'ens1np0\\u200b'" in problem and "\u200b" not in problem


def test_a_token_shaped_context_name_is_refused() -> None:
    token = "Zk8qP2mXv9LrT4wN7bYc1HdJ6sFg3KaE"
    (problem,) = problems_of(set_path(dev_config(), "kubernetes.context", token))
    assert "looks like a key, token or kubeconfig" in problem and token not in problem


def test_explicit_str_tag_is_read_as_the_string(tmp_path: Path) -> None:
    from components.config.stack_file import read_stack_file

    path = tmp_path / "Pulumi.x.yaml"
    path.write_text("config:\n  agilio-offload:nad: {name: !!str 4}\n")
    assert read_stack_file(path)["config"]["agilio-offload:nad"] == {"name": "4"}


def test_warnings_are_printed_at_every_run_and_written_in_the_plan(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = set_path(dev_config(), "nodes[0].host", "127.0.0.1")
    with caplog.at_level(logging.WARNING):
        run = run_stack("dev", {f"agilio-offload:{k}": v for k, v in raw.items()})
    assert run.error is None, run.error
    assert any("loopback" in r.getMessage() for r in caplog.records)
    document = yaml.safe_load(stack_file("dev").read_text())
    document["config"]["agilio-offload:nodes"][0]["host"] = "127.0.0.1"
    source = tmp_path / "Pulumi.warn.yaml"
    source.write_text(yaml.safe_dump(document))
    out = tmp_path / "plan"
    assert plan.main(["--stack-file", str(source), "--out", str(out), "--quiet"]) == 0
    written = json.loads((out / "warnings.json").read_text())
    assert any("loopback" in w for w in written)
    assert (
        "warning: nodes[0].host: '127.0.0.1' is this machine (loopback)" in capsys.readouterr().out
    )
