"""AgilioNode under Pulumi mocks: the steps, their order, connections, kubectl steps, facts.

The rollout (preflight gate, lanes) is tested in tests/test_rollout.py."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime import mocks as pulumi_mocks

from components.cluster.kubectl import if_node_exists
from components.config.models import KubernetesConfig
from components.config.paths import SHELL_PASSWD_HOME, passwd_home
from components.names import AGILIO_NODE_TYPE as TYPE
from components.names import (
    DRAINED_STEP,
    HARDWARE_STEPS,
    ON_NODE_STEPS,
    PREFLIGHT_TYPE,
    SSH_RETURN_AFTER_UNDO_STEP,
    SSH_RETURN_STEP,
)
from components.names import LOCAL_COMMAND as LOCAL
from components.names import REMOTE_COMMAND as REMOTE
from components.node.agilio_node import (
    DIAL_ERROR_LIMIT,
    PER_DIAL_TIMEOUT_SECONDS,
    dial_budget_seconds,
    parse_facts,
)
from components.node.lease import command_digest, drain_lease, print_lease_command
from components.waits import DEFAULT_WAITS
from tools.engine.mock_driver import EchoMocks, ProgramRun, Registration, run_stack
from tools.rehearsal.outputs import PLACEHOLDER, LeaseMocks

# The node's chain from reload-wait to vfs: the remote steps with the SSH-return probes.
CHAIN = (
    DRAINED_STEP,
    "reload-wait",
    SSH_RETURN_AFTER_UNDO_STEP,
    "firmware",
    "driver",
    SSH_RETURN_STEP,
    "vfs",
)


def nodes(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [
        {"name": f"w{i}", "host": f"192.0.2.{i}", "pf": "ens1np0", **extra}
        for i in range(1, count + 1)
    ]


def run(overrides: dict[str, Any], mocks: pulumi_mocks.Mocks | None = None) -> ProgramRun:
    result = run_stack("dev", overrides, mocks=mocks)
    assert result.error is None, result.error
    return result


def names(urns: list[str]) -> set[str]:
    return {urn.split("::")[-1] for urn in urns}


def step(result: ProgramRun, node: str, name: str) -> Registration:
    return result.by_name(f"{node}-{name}")


def node_commands(result: ProgramRun, node: str, type_: str) -> list[Registration]:
    """The node's commands of `type_`: its preflight (under Preflight), then its own steps."""
    owners = {r.urn for r in result.by_type(TYPE) if r.name == node}
    owners |= {r.urn for r in result.by_type(PREFLIGHT_TYPE)}
    return [
        r
        for r in result.resources
        if r.parent in owners and r.type == type_ and r.name.startswith(f"{node}-")
    ]


def test_each_node_has_its_steps_in_runbook_order() -> None:
    result = run({"nodes": nodes(2), "rollout": {"drain": False}})
    assert sorted(r.name for r in result.by_type(TYPE)) == ["w1", "w2"]
    for node in ("w1", "w2"):
        steps = node_commands(result, node, REMOTE)
        assert [r.name for r in steps] == [f"{node}-{s}" for s in ON_NODE_STEPS]
        # Each waits for the one before (the SSH-return probes between them); the preflight
        # through the gate.
        chain = [step(result, node, name) for name in CHAIN]
        for before, after in itertools.pairwise(chain):
            assert before.urn in after.depends_on, f"{after.name} does not wait for {before.name}"
        first = step(result, node, "uncordon-after-undo")
        assert result.by_name("preflight-gate").urn in first.depends_on
        assert names(step(result, node, "drain").depends_on) == {f"{node}-uncordon-after-undo"}
        assert names(step(result, node, DRAINED_STEP).depends_on) == {f"{node}-drain"}


def test_ssh_return_probes_sit_after_the_steps_that_may_reload() -> None:
    result = run({"nodes": nodes(1, port=2222), "rollout": {"drain": False}})
    probe = step(result, "w1", SSH_RETURN_STEP)
    after_undo = step(result, "w1", SSH_RETURN_AFTER_UNDO_STEP)

    assert probe.type == after_undo.type == "command:local:Command"
    assert "\nACTION=apply\n" in probe.inputs["create"] and not probe.inputs.get("delete")
    for line in ("NODE=w1", "HOST=192.0.2.1", "PORT=2222", "BACK_SECONDS=300"):
        assert f"\n{line}\n" in probe.inputs["create"]
    assert "AGILIO_DRIVER_FACTS" in probe.inputs["environment"]  # the driver step's stdout
    assert probe.inputs.get("triggers"), "re-run with the hardware steps"
    assert "\nACTION=undo\n" in after_undo.inputs["delete"]
    assert after_undo.inputs["create"].startswith("echo ")
    assert not after_undo.inputs.get("triggers"), "never replaced: its delete would run late"


def test_hardware_steps_replace_delete_first_and_undo_on_delete() -> None:
    result = run({"nodes": nodes(1), "rollout": {"drain": False}})
    preflight = step(result, "w1", "preflight")
    assert "delete" not in preflight.inputs, "preflight is read-only: nothing to undo"
    for name in ("firmware", "driver", "vfs"):
        command = step(result, "w1", name)
        assert command.options["deleteBeforeReplace"] is True
        assert "ACTION=undo" in command.inputs["delete"]
        assert "ACTION=apply" in command.inputs["create"]


def test_scripts_carry_their_parameters_quoted() -> None:
    result = run(
        {"nodes": nodes(1, vfs=12), "firmware": {"app": "flower-next", "assy": "AMDA0099"}}
    )
    vfs = step(result, "w1", "vfs").inputs["create"]
    for line in ("NODE=w1", "PF=ens1np0", "VFS=12", "APP=flower-next", "ASSY=AMDA0099"):
        assert f"\n{line}\n" in vfs
    assert "\nVFS=12\n" in step(result, "w1", "preflight").inputs["create"]  # checked first
    assert "VFS=" not in step(result, "w1", "firmware").inputs["create"]
    assert vfs.startswith("bash -c \"$(cat <<'AGILIO_OFFLOAD_SCRIPT'\n#!/usr/bin/env bash\n")


def test_connection_settings_and_sudo_for_a_non_root_user() -> None:
    host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKSNn5j5ZyVSxRe5xilD3GluiLGLdslifwzf9cNmviUE"
    result = run({"nodes": nodes(1, port=2222, user="ops", hostKey=host_key)})
    firmware = step(result, "w1", "firmware")
    assert firmware.inputs["connection"] == "[secret]"
    connection = firmware.revealed_inputs["connection"]
    assert connection["host"] == "192.0.2.1"
    assert (connection["port"], connection["user"], connection["hostKey"]) == (
        2222,
        "ops",
        host_key,
    )
    assert connection["dialErrorLimit"] == DIAL_ERROR_LIMIT
    assert connection["perDialTimeout"] == PER_DIAL_TIMEOUT_SECONDS
    assert "privateKey" not in connection  # no key configured: the SSH agent is used
    assert firmware.inputs["create"].startswith("sudo -n bash -c ")
    root = run({"nodes": nodes(1)})
    assert step(root, "w1", "firmware").inputs["create"].startswith("bash -c ")


def test_private_key_path_is_read_into_a_secret(tmp_path: Path) -> None:
    key_file = tmp_path / "id_ed25519"
    key_file.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nfrom-a-file\n")
    ssh = {"privateKeyPath": str(key_file), "allowUnpinned": True}
    result = run({"nodes": nodes(1), "ssh": ssh})
    vfs = step(result, "w1", "vfs")
    assert vfs.revealed_inputs["connection"]["privateKey"] == key_file.read_text()
    assert "from-a-file" not in json.dumps(vfs.as_json())


def test_drain_brackets_the_hardware_steps_with_the_stack_kubeconfig() -> None:
    result = run(
        {
            "nodes": nodes(1),
            "kubernetes": {"context": "lab", "kubeconfigPath": "/etc/agilio/kubeconfig"},
        }
    )
    drain, uncordon = step(result, "w1", "drain"), step(result, "w1", "uncordon")
    assert (drain.type, uncordon.type) == (LOCAL, LOCAL)
    drain_within_bound, lease = drain.inputs["create"].rsplit(" && ", 1)
    assert drain_within_bound.endswith(
        ')" drain-within-bound kubectl --kubeconfig /etc/agilio/kubeconfig --context lab'
    )
    for param in ("NODE=w1", "MAX_UNAVAILABLE=1", "DRAIN_TIMEOUT=600s"):
        assert f"\n{param}\n" in drain_within_bound, param
    assert "SELECTOR=agilio-offload/agilio-cx=true" in drain_within_bound
    assert lease == print_lease_command("w1")
    assert uncordon.inputs["create"].endswith("uncordon w1")
    assert names(step(result, "w1", "reload-wait").depends_on) == {"w1-drained"}
    assert names(step(result, "w1", "firmware").depends_on) == {"w1-ssh-return-after-undo"}
    undo_drain = step(result, "w1", "drain-before-undo")
    restart = step(result, "w1", "device-plugin-restart")
    assert names(undo_drain.depends_on) == {"w1-vfs"}
    assert names(restart.depends_on) == {"w1-drain-before-undo"}
    advertised = step(result, "w1", "vfs-advertised")
    # And after the node's own label and tunnel annotation (NodeMarks): an added node's wait
    # must find the device plugin pod its label brings.
    # Their cleanups too: a node leaving the stack has its label taken off after this wait's
    # delete, where the patch's own delete used to be.
    assert names(advertised.depends_on) == {
        "w1-device-plugin-restart",
        "w1-agilio-label",
        "w1-kube-ovn-tunnel-interface",
        "agilio-label-cleanup-w1",
        "pulumi-annotations-cleanup-w1",
    }
    assert names(uncordon.depends_on) == {"w1-vfs-advertised"}


def test_undoing_a_node_drains_it_first_one_node_per_lane_at_a_time() -> None:
    result = run({"nodes": nodes(2), "rollout": {"maxUnavailable": 1}})
    undo_drain = step(result, "w1", "drain-before-undo")
    # Creating it changes nothing; deleting it (node removed, or destroy) drains the node.
    assert undo_drain.inputs["create"].startswith("echo ")
    # Drained when its Node exists; a Node deleted by hand has nothing to drain (issue 17).
    assert undo_drain.inputs["delete"] == if_node_exists(
        KubernetesConfig(context="kind-agilio-lab"),
        "w1",
        "kubectl --context kind-agilio-lab drain w1 --ignore-daemonsets --delete-emptydir-data"
        " --timeout=600s",
        otherwise="no Node w1 in the cluster: nothing to drain before its undo",
    )
    assert "triggers" not in undo_drain.inputs  # a change never re-runs it
    # Pulumi deletes dependents first: it drains before vfs, driver and firmware are undone...
    assert names(undo_drain.depends_on) == {"w1-vfs"}
    # ...and the next node of the lane waits for this one's last step, so w2 is undone (and
    # drained) before w1 starts draining.
    chain = {r.name: names(r.depends_on) for r in result.resources}
    assert "w1-drain-before-undo" in chain["w1-device-plugin-restart"]
    assert chain["w2-uncordon-after-undo"] == {"w1-uncordon", "preflight-gate"}


def test_undoing_a_node_uncordons_it_last() -> None:
    # Its first step, so Pulumi deletes it after every other step of the node: the node takes
    # pods again once its card is back, before the node before it in the lane is drained.
    result = run({"nodes": nodes(2), "rollout": {"maxUnavailable": 1}})
    after_undo = step(result, "w1", "uncordon-after-undo")
    assert after_undo.inputs["create"].startswith("echo ")
    assert after_undo.inputs["delete"] == if_node_exists(
        KubernetesConfig(context="kind-agilio-lab"),
        "w1",
        "kubectl --context kind-agilio-lab uncordon w1",
        otherwise="no Node w1 in the cluster: nothing to uncordon after its undo",
    )
    assert "triggers" not in after_undo.inputs
    chain = {r.name: names(r.depends_on) for r in result.resources}
    assert chain["w1-drain"] == {"w1-uncordon-after-undo"}
    off = run({"nodes": nodes(1), "rollout": {"drain": False}})
    assert step(off, "w1", "uncordon-after-undo").inputs["delete"].startswith("echo ")


def test_the_device_plugin_restarts_on_the_node_after_its_vfs_change() -> None:
    result = run({"nodes": nodes(1), "rollout": {"drain": False}})
    restart = step(result, "w1", "device-plugin-restart")
    assert restart.type == LOCAL
    assert restart.inputs["create"] == (
        "kubectl --context kind-agilio-lab delete pod --namespace kube-system "
        "--selector name=sriov-device-plugin --field-selector spec.nodeName=w1 --ignore-not-found "
        "--timeout=120s"
    )
    # After the VFs (and the drain-before-undo that always sits between them).
    assert names(restart.depends_on) == {"w1-drain-before-undo"}
    assert names(step(result, "w1", "drain-before-undo").depends_on) == {"w1-vfs"}
    app, assy, pf, vfs, digest = restart.inputs["triggers"]
    assert (app, assy, pf, vfs) == ("flower", "scan", "ens1np0", 4)
    assert len(digest) == 64  # the hardware steps' commands and connection, hashed


def test_kubectl_finds_a_home_relative_kubeconfig_on_every_operators_machine(
    tmp_path: Path,
) -> None:
    result = run({"nodes": nodes(1), "kubernetes": {"kubeconfigPath": "~/.kube/my lab"}})
    uncordon = step(result, "w1", "uncordon").inputs["create"]
    # The command text names no home directory, so it is the same for every operator...
    assert uncordon == f"kubectl --kubeconfig {SHELL_PASSWD_HOME}/'.kube/my lab' uncordon w1"
    drain = step(result, "w1", "drain").inputs["create"]
    assert f"drain-within-bound kubectl --kubeconfig {SHELL_PASSWD_HOME}/'.kube/my lab' &&" in drain
    # ...and the shell hands kubectl the operator's own path, in one piece: the passwd home,
    # as the Kubernetes provider expands `~` (issue 19), whatever $HOME says.
    stand_in = tmp_path / "kubectl"
    stand_in.write_text("#!/bin/sh\nprintf '%s\\n' \"$@\"\n")
    stand_in.chmod(0o755)
    argv = subprocess.run(
        ["bash", "-c", uncordon],
        env={"HOME": "/home/operator", "PATH": f"{tmp_path}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert argv[:3] == ["--kubeconfig", f"{passwd_home()}/.kube/my lab", "uncordon"]


def test_a_new_pf_replaces_the_hardware_steps() -> None:
    result = run({"nodes": nodes(1), "rollout": {"drain": False}})
    for name in HARDWARE_STEPS:
        assert step(result, "w1", name).inputs["triggers"] == ["ens1np0"]
    assert "triggers" not in step(result, "w1", "preflight").inputs


def test_parse_facts_takes_the_last_json_line() -> None:
    stdout = 'agilio-offload: node w1: vfs: 4 VFs\n{"step": "vfs", "vfs": 4}\n\n'
    assert parse_facts(stdout) == {"step": "vfs", "vfs": 4}
    assert parse_facts("") == {}
    assert parse_facts("no json here\n") == {}
    assert parse_facts('["a list"]') == {}


class StdoutMocks(EchoMocks):
    """Commands answer with the facts a real node step prints last."""

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict]:
        resource_id, state = super().new_resource(args)
        if args.typ == REMOTE:
            node, _, name = args.name.rpartition("-")
            facts = {
                "firmware": {"pciAddress": "0000:3b:00.0", "firmware": "flower/nic_AMDA0099.nffw"},
                "vfs": {"pciAddress": "0000:3b:00.0", "totalVfs": 64, "vfs": 4},
            }.get(name, {})
            state["stdout"] = f"progress for {node}\n{json.dumps({'step': name, **facts})}\n"
        return resource_id, state


def test_component_facts_come_from_the_steps_json() -> None:
    result = run_stack("dev", {"nodes": nodes(1)}, preview=False, mocks=StdoutMocks())
    assert result.error is None, result.error
    (component,) = result.by_type(TYPE)
    facts = result.component_outputs[component.urn]["facts"]
    assert facts == {
        "pf": "ens1np0",
        "pciAddress": "0000:3b:00.0",
        "totalVfs": 64,
        "vfs": 4,
        "firmware": "flower/nic_AMDA0099.nffw",
    }


@pytest.mark.parametrize("drain", [True, False])
def test_preview_shows_the_pf_and_leaves_reported_facts_unknown(drain: bool) -> None:
    result = run({"nodes": nodes(1), "rollout": {"drain": drain}})
    (component,) = result.by_type(TYPE)
    assert result.component_outputs[component.urn]["facts"] == {
        "pf": "ens1np0",
        "pciAddress": "[unknown]",
        "totalVfs": "[unknown]",
        "vfs": "[unknown]",
        "firmware": "[unknown]",
    }


def kubectl_steps(result: ProgramRun, node: str) -> dict[str, Registration]:
    return {r.name.removeprefix(f"{node}-"): r for r in node_commands(result, node, LOCAL)}


def test_turning_drain_off_keeps_every_kubectl_step_as_a_no_op() -> None:
    # Were the drain steps to vanish, the engine would delete them, and the delete of
    # drain-before-undo is a drain: of every node at once.
    on, off = (run({"nodes": nodes(2), "rollout": {"drain": drain}}) for drain in (True, False))
    for node in ("w1", "w2"):
        assert set(kubectl_steps(on, node)) == set(kubectl_steps(off, node))
        steps = kubectl_steps(off, node)
        for name in ("drain", "uncordon"):
            assert steps[name].inputs["create"].startswith("echo "), name
        assert steps["drain-before-undo"].inputs["delete"].startswith("echo ")
        assert "drain" in kubectl_steps(on, node)["drain-before-undo"].inputs["delete"]


def test_an_update_of_a_kubectl_step_runs_nothing() -> None:
    # Turning drain on (or a new context) is an update: it must not drain every node at once;
    # only a trigger change (the node's hardware steps re-run) replaces, so re-runs, a step.
    result = run({"nodes": nodes(1)})
    for name, command in kubectl_steps(result, "w1").items():
        assert command.inputs["update"].startswith("echo "), name


def test_every_command_leaves_its_previous_output_out_of_the_environment() -> None:
    # sshd without AcceptEnv refuses the variables pulumi-command would otherwise send. The
    # drain (local) is the exception: its update prints its previous lease line again.
    result = run({"nodes": nodes(1)})
    for command in [*result.by_type(REMOTE), *result.by_type(LOCAL)]:
        wanted = command.name == "w1-drain"
        assert command.inputs["addPreviousOutputInEnv"] is wanted, command.name


def digest(result: ProgramRun, node: str = "w1") -> str:
    return step(result, node, "drain").inputs["triggers"][4]


def test_a_changed_connection_re_drains_the_node() -> None:
    # A connection change is an update of every hardware step, which re-runs `create`.
    before = run({"nodes": nodes(1)})
    after = run({"nodes": nodes(1, port=2222)})
    assert digest(before) != digest(after)
    assert (
        step(before, "w1", "drain").inputs["triggers"][:4]
        == (step(after, "w1", "drain").inputs["triggers"][:4])
    )


def test_a_changed_script_re_drains_the_node(monkeypatch: pytest.MonkeyPatch) -> None:
    before = run({"nodes": nodes(1)})
    from components.node import agilio_node as node_steps

    original = node_steps.render_script

    def edited(name: str, params: dict[str, Any]) -> str:
        return original(name, params) + ("\n# a new line in vfs.sh" if name == "vfs" else "")

    monkeypatch.setattr(node_steps, "render_script", edited)
    after = run({"nodes": nodes(1)})
    assert step(before, "w1", "vfs").inputs["create"] != step(after, "w1", "vfs").inputs["create"]
    assert digest(before) != digest(after)
    for name in ("drain", "device-plugin-restart", "uncordon"):
        assert step(after, "w1", name).inputs["triggers"][4] == digest(after)


def test_a_key_in_config_adds_a_secret_trigger(tmp_path: Path) -> None:
    key_file = tmp_path / "id_ed25519"
    key_file.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nrotated\n")
    result = run(
        {"nodes": nodes(1), "ssh": {"privateKeyPath": str(key_file), "allowUnpinned": True}}
    )
    triggers = step(result, "w1", "drain").inputs["triggers"]
    assert triggers[5] == "[secret]"
    assert "rotated" not in json.dumps(step(result, "w1", "drain").revealed_inputs)


def test_the_dial_budget_outlasts_a_pf_reload() -> None:
    # pulumi-command tries DIAL_ERROR_LIMIT + 1 times (dialWithRetry stops at try + 1 > limit)
    # with retry.Until's waits between tries; PER_DIAL_TIMEOUT bounds each TCP connect only.
    shortest, longest = dial_budget_seconds()
    assert longest > DEFAULT_WAITS.pf_seconds, longest
    assert shortest == pytest.approx(111.333, abs=1e-3)  # 11.33 s of waits below 5 s, 20 x 5 s
    assert longest == pytest.approx(shortest + (DIAL_ERROR_LIMIT + 1) * PER_DIAL_TIMEOUT_SECONDS)
    assert longest == pytest.approx(576.333, abs=1e-3)
    # The provider's default (10): 11 tries, 10 waits (0.1 ... 3.84 s).
    assert dial_budget_seconds(limit=10, per_dial=15) == (
        pytest.approx(11.333, abs=1e-3),
        pytest.approx(176.333, abs=1e-3),
    )
    assert dial_budget_seconds(limit=2, per_dial=0) == (pytest.approx(0.25), pytest.approx(0.25))


# --- the drain lease (components/node/lease.py) ---------------------------------------------------


def test_drained_carries_the_drains_token_and_the_hardware_digests() -> None:
    result = run_stack("dev", {"agilio-offload:nodes": nodes(1)}, mocks=LeaseMocks())
    drained = step(result, "w1", DRAINED_STEP)
    assert drained.type == REMOTE and names(drained.depends_on) == {"w1-drain"}
    create = drained.inputs["create"]
    assert f"\nLEASE={PLACEHOLDER}\n" in create and "\nACTION=apply\n" in create
    for name in HARDWARE_STEPS:
        hardware = step(result, "w1", name).inputs["create"]
        (line,) = [x for x in hardware.split("\n") if x.startswith("LEASE_DIGEST=")]
        digest = line.removeprefix("LEASE_DIGEST=")
        # The digest is the apply command's, rendered without its own line.
        assert command_digest(hardware.replace(f"\n{line}", "")) == digest
        assert f"\n{name.upper()}_DIGEST={digest}\n" in create
        assert "\nLEASE_DIGEST=" not in step(result, "w1", name).inputs["delete"]
    # Its undo removes the lease and waits for no drain.
    assert (
        "\nACTION=undo\n" in drained.inputs["delete"] and "\nLEASE=" not in drained.inputs["delete"]
    )


def test_the_drain_prints_a_fresh_lease_and_its_update_prints_the_old_one_again() -> None:
    result = run({"nodes": nodes(1), "rollout": {"drain": False}})
    drain = step(result, "w1", "drain")
    env = {**os.environ, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}

    def sh(command: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["/bin/sh", "-c", command],
            capture_output=True,
            text=True,
            env={**env, **extra},
            check=True,
        )

    first, second = sh(drain.inputs["create"]), sh(drain.inputs["create"])
    token = drain_lease("w1", first.stdout)
    assert len(token) == 32 and token != drain_lease("w1", second.stdout)
    again = sh(drain.inputs["update"], PULUMI_COMMAND_STDOUT=first.stdout)
    assert drain_lease("w1", again.stdout) == token
    # No previous stdout (pulumi-command sets the variable only when there was one): no lease.
    bare = sh(drain.inputs["update"])
    assert drain_lease("w1", bare.stdout) == ""
