"""Secrets never echoed (issue 12): errors redact; plain-text keys and pasted content refused."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import ConfigError
from components.config.redact import shown
from tests.support.stack_config import dev_config, problems_of, set_path
from tools import plan
from tools.engine.mock_driver import STACK_TYPE, run_program, stack_config, stack_file

# A kubeconfig as `kubectl config view --raw` writes it for a ServiceAccount token.
TOKEN = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6IkRmY0x3bWJ0In0.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50"
    "In0.c2lnbmF0dXJlLW9mLWEtcmVhbC1sb29raW5nLXRva2Vu"
)
KUBECONFIG = f"""apiVersion: v1
kind: Config
clusters:
- cluster:
    server: https://198.51.100.10:6443
  name: prod
contexts:
- context:
    cluster: prod
    user: deployer
  name: prod
current-context: prod
users:
- name: deployer
  user:
    token: {TOKEN}
"""


@pytest.fixture(scope="module")
def private_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real OpenSSH private key, made by ssh-keygen."""
    key = tmp_path_factory.mktemp("key") / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key


def key_lines(key: Path) -> list[str]:
    """The lines of key material (what must never appear anywhere)."""
    return [line for line in key.read_text().splitlines() if not line.startswith("-----")]


def assert_no_secret(text: str, key: Path) -> None:
    for line in key_lines(key):
        assert line[:16] not in text, "private key material echoed"
    assert TOKEN[:20] not in text and "signatur" not in text, "kubeconfig token echoed"


# --- redaction --------------------------------------------------------------------------------


def test_shown_keeps_short_values_and_cuts_long_ones() -> None:
    assert shown("eth0;reboot") == "'eth0;reboot'"
    assert shown("ens1np0\n") == "'ens1np0\\n'"
    assert shown("a-" * 60) == "'a-a-a-a-a-a-a-a-a-a-a-a-a-a-a-a-a-a-a-a-'... (120 characters)"
    assert shown("A" * 100).startswith("'AAAA")  # no key is one letter repeated
    assert shown("ens1np0\u200b") == "'ens1np0\\u200b'"  # invisible characters made visible


@pytest.mark.parametrize(
    "field",
    ["nodes[0].hostKey", "nodes[0].pf", "nodes[0].host", "ssh.user", "kubeOvn.iface", "nad.name"],
)
def test_a_private_key_pasted_into_a_field_is_never_echoed(field: str, private_key: Path) -> None:
    (problem,) = problems_of(set_path(dev_config(), field, private_key.read_text()))
    assert problem.startswith(f"agilio-offload:{field}: <redacted: "), problem
    assert "BEGIN" not in problem
    assert_no_secret(problem, private_key)


def test_key_content_in_private_key_path_is_refused_as_such(private_key: Path) -> None:
    (problem,) = problems_of(set_path(dev_config(), "ssh.privateKeyPath", private_key.read_text()))
    assert "is the content of a private key, not a path" in problem
    assert "pulumi config set --secret sshPrivateKey" in problem
    assert_no_secret(problem, private_key)


def test_kubeconfig_content_in_kubeconfig_path_is_refused_as_such(private_key: Path) -> None:
    for text in (KUBECONFIG, KUBECONFIG.replace("\n", " "), TOKEN):
        (problem,) = problems_of(set_path(dev_config(), "kubernetes.kubeconfigPath", text))
        assert "is the content of a kubeconfig, not a path" in problem, problem
        assert_no_secret(problem, private_key)


def test_a_token_as_context_name_is_refused(private_key: Path) -> None:
    (problem,) = problems_of(set_path(dev_config(), "kubernetes.context", TOKEN))
    assert "looks like a key, token or kubeconfig, not a name" in problem
    assert_no_secret(problem, private_key)


def test_a_plain_text_ssh_private_key_is_refused_with_the_fix(private_key: Path) -> None:
    config, secret_keys = stack_config("dev")
    config["agilio-offload:sshPrivateKey"] = private_key.read_text()
    run = run_program(config, stack="dev", secret_keys=secret_keys)
    assert isinstance(run.error, ConfigError), run.error
    (problem,) = run.error.problems
    assert problem.startswith("agilio-offload:sshPrivateKey: is set in plain text, not as a secret")
    assert "pulumi config set --secret sshPrivateKey < KEYFILE" in problem
    assert_no_secret(str(run.error), private_key)
    assert [r.type for r in run.resources] in ([], [STACK_TYPE])


# --- a whole run: every plan file and every error message ----------------------------------------


def stack_with(tmp_path: Path, name: str, changes: dict[str, Any]) -> Path:
    document = yaml.safe_load(stack_file("dev").read_text())
    for path, value in changes.items():
        key = re.split(r"[.\[]", path, maxsplit=1)[0]
        raw = {key: document["config"].get(f"agilio-offload:{key}")}
        raw = set_path(raw, path, value) if path != key else {key: value}
        document["config"][f"agilio-offload:{key}"] = raw[key]
    target = tmp_path / f"Pulumi.{name}.yaml"
    target.write_text(yaml.safe_dump(document))
    return target


def test_no_plan_file_or_error_of_a_run_holds_the_key_or_the_token(
    tmp_path: Path, private_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    good = stack_with(
        tmp_path,
        "good",
        {
            "ssh.privateKeyPath": str(private_key),
            "kubernetes.kubeconfigPath": str(kubeconfig),
        },
    )
    out = tmp_path / "plan"
    assert plan.main(["--stack-file", str(good), "--out", str(out)]) == 0
    files = [path for path in out.rglob("*") if path.is_file()]
    assert len(files) > 10
    for path in files:
        assert_no_secret(path.read_text(), private_key)
    key, token = private_key.read_text(), KUBECONFIG
    bad_runs = {
        "hostkey": {"nodes[0].hostKey": key},
        "keypath": {"ssh.privateKeyPath": key},
        "kubeconfig": {"kubernetes.kubeconfigPath": token},
        "pf": {"nodes[1].pf": key},
        "context": {"kubernetes.context": TOKEN},
        "plain": {"sshPrivateKey": key},
    }
    for name, changes in bad_runs.items():
        bad = stack_with(tmp_path, name, changes)
        refused_out = tmp_path / f"out-{name}"
        assert plan.main(["--stack-file", str(bad), "--out", str(refused_out)]) == 2, name
        assert not refused_out.exists()
    printed = capsys.readouterr()
    assert printed.err.count("plan: invalid stack config") == len(bad_runs)
    assert_no_secret(printed.out + printed.err, private_key)
