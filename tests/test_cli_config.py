"""The plan reads config as the Pulumi CLI does (issue 19, item 6): Pulumi.yaml `value:` and
`default:`, ParseKey's namespace rule, one spelling per key, ESC environments named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import ConfigError
from components.config.stack_file import StackFileError, read_stack_file
from tests.support.stack_config import dev_config, problems_of, set_path
from tools import plan
from tools.engine import mock_driver
from tools.engine.mock_driver import project_config, stack_config, stack_file

NS = "agilio-offload"


def _project(tmp_path: Path, config: dict[str, Any]) -> Path:
    (tmp_path / "Pulumi.yaml").write_text(
        yaml.safe_dump({"name": NS, "runtime": "python", "config": config})
    )
    return tmp_path


def test_project_value_default_and_short_form(tmp_path: Path) -> None:
    project = _project(
        tmp_path,
        {
            "vfs": {"type": "integer", "default": 4},
            "rollout": {"value": {"maxUnavailable": 2}},
            "agilio-offload:nad": {"value": {"name": "offload"}},
            "firmware": {"app": "flower-next"},  # short form: the value itself
        },
    )
    assert project_config(project) == {
        f"{NS}:vfs": 4,
        f"{NS}:rollout": {"maxUnavailable": 2},
        f"{NS}:nad": {"name": "offload"},
        f"{NS}:firmware": {"app": "flower-next"},
    }


def test_a_project_value_reaches_the_plan_and_the_stack_file_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        mock_driver,
        "project_config",
        lambda: {f"{NS}:sriov": {"resourceName": "from_project"}, f"{NS}:vfs": 9},
    )
    config, _ = stack_config("dev")
    assert json.loads(config[f"{NS}:sriov"]) == {"resourceName": "from_project"}
    assert config[f"{NS}:vfs"] == "4"  # the dev stack file's own value wins


@pytest.mark.parametrize("key", ["agilio-ofload:vfs", "agilio-offload:a:b"])
def test_a_namespace_typo_in_pulumi_yaml_is_caught(tmp_path: Path, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        project_config(_project(tmp_path, {key: {"value": 1}}))
    assert "Pulumi.yaml: config: " in str(caught.value)


def test_the_repos_pulumi_yaml_reads_as_the_cli_reads_it() -> None:
    assert project_config() == {f"{NS}:vfs": 4}


def test_a_bare_key_beside_its_namespaced_twin_is_refused(tmp_path: Path) -> None:
    # The CLI namespaces a bare key with the project (loaders.go
    # stackConfigNamespacedWithProject), so both are one key and Go's map order picks one.
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text("config:\n  agilio-offload:vfs: 8\n  vfs: 4\n")
    with pytest.raises(StackFileError) as caught:
        read_stack_file(path)
    assert "x.yaml:3: vfs: the same key as line 2" in str(caught.value)


def test_a_bare_key_alone_is_the_projects(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text("config:\n  vfs: 4\n")
    assert read_stack_file(path)["config"] == {"vfs": 4}


def test_a_stack_file_key_the_cli_cannot_parse_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text("config:\n  agilio-offload:a:b: 4\n")
    with pytest.raises(StackFileError) as caught:
        read_stack_file(path)
    assert "not a configuration key the Pulumi CLI can parse" in str(caught.value)


def test_the_old_config_module_form_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text("config:\n  agilio-offload:config:vfs: 4\n")
    assert read_stack_file(path)["config"] == {"agilio-offload:config:vfs": 4}


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("nodes[0].host_key", "x", "nodes[0].host_key: spelled snake_case: write 'hostKey'"),
        ("kubeOvn.master_nodes", [], "kubeOvn.master_nodes: spelled snake_case: write 'masterN"),
        ("rollout.max_unavailable", 9, "spelled snake_case: write 'maxUnavailable'"),
        ("ssh.allow_unpinned", True, "spelled snake_case: write 'allowUnpinned'"),
    ],
)
def test_one_spelling_per_key(path: str, value: Any, expected: str) -> None:
    problems = problems_of(set_path(dev_config(), path, value))
    assert any(expected in p for p in problems), problems
    assert not any("masterNodes: is required" in p for p in problems)


def test_a_stack_with_an_esc_environment_is_planned_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = yaml.safe_load(stack_file("dev").read_text())
    document["environment"] = ["lab/agilio-secrets"]
    source = tmp_path / "Pulumi.esc.yaml"
    source.write_text(yaml.safe_dump(document))
    out = tmp_path / "plan"
    assert plan.main(["--stack-file", str(source), "--out", str(out), "--quiet"]) == 0
    notes = json.loads((out / "warnings.json").read_text())
    assert any("Pulumi ESC environment 'lab/agilio-secrets'" in n for n in notes)
    assert "not this plan" in capsys.readouterr().err
