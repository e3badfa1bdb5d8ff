"""SriovDevicePlugin under Pulumi mocks: its config, DaemonSet and node labels."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from components.config import pins
from components.names import AGILIO_NODE_LABEL, DEVICE_PLUGIN_POD_SELECTOR
from tests.support.kubernetes_program import NODE_PATCH, named, run


def test_device_plugin_config_is_the_runbooks() -> None:
    config_map = named("sriov-device-plugin-config")
    assert config_map["metadata"] == {"name": "sriovdp-config", "namespace": "kube-system"}
    assert json.loads(config_map["data"]["config.json"]) == {
        "resourceList": [
            {
                "resourcePrefix": "corigine.com",
                "resourceName": "agilio_sriov",
                "selectors": {"vendors": ["19ee"], "devices": ["6003"], "drivers": ["nfp_netvf"]},
            }
        ]
    }


def test_device_plugin_config_follows_the_stack_config() -> None:
    sriov = {
        "resourcePrefix": "example.org",
        "resourceName": "vf_pool",
        "vendors": ["19ee", "1da8"],
        "devices": ["6003", "3803"],
    }
    (entry,) = json.loads(
        named("sriov-device-plugin-config", {"sriov": sriov})["data"]["config.json"]
    )["resourceList"]
    assert entry["resourcePrefix"] == "example.org"
    assert entry["resourceName"] == "vf_pool"
    assert entry["selectors"] == {
        "vendors": ["19ee", "1da8"],
        "devices": ["6003", "3803"],
        "drivers": ["nfp_netvf"],
    }


def test_device_plugin_runs_the_pinned_image_on_agilio_nodes_only() -> None:
    spec = named("sriov-device-plugin-ds")["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["image"] == pins.SRIOV_DEVICE_PLUGIN_IMAGE
    assert container["image"].endswith(":v3.11.0")
    assert spec["nodeSelector"][AGILIO_NODE_LABEL] == "true"
    labels = {
        r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"]
        for r in run().by_type(NODE_PATCH)
        if AGILIO_NODE_LABEL in r.inputs["metadata"].get("labels", {})
    }
    assert labels == {
        "lab-worker-1": {AGILIO_NODE_LABEL: "true"},
        "lab-worker-2": {AGILIO_NODE_LABEL: "true"},
    }


def test_device_plugin_pods_carry_the_hash_of_their_config() -> None:
    def template_hash(overrides: dict[str, Any] | None) -> str:
        template = named("sriov-device-plugin-ds", overrides)["spec"]["template"]
        return template["metadata"]["annotations"]["agilio-offload/sriovdp-config-sha256"]

    text = named("sriov-device-plugin-config")["data"]["config.json"]
    assert template_hash(None) == hashlib.sha256(text.encode()).hexdigest()
    assert template_hash({"sriov": {"resourceName": "other_pool"}}) != template_hash(None)


def test_the_node_steps_restart_exactly_the_device_plugins_pods() -> None:
    result = run()
    key, value = DEVICE_PLUGIN_POD_SELECTOR.split("=")
    template = result.by_name("sriov-device-plugin-ds").inputs["spec"]["template"]
    assert template["metadata"]["labels"][key] == value
    restart = result.by_name("lab-worker-2-device-plugin-restart").inputs["create"]
    assert f"--selector {DEVICE_PLUGIN_POD_SELECTOR}" in restart
    assert "--field-selector spec.nodeName=lab-worker-2" in restart
