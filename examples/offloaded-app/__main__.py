"""offloaded-app: the runbook's nginx, on Agilio VFs, as a consumer of agilio-offload's outputs.

Reads `podAnnotations` and `podResources` from the agilio-offload stack with a StackReference,
so the network name and the VF resource are never repeated here, and deploys nginx with them.
"""

import sys
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

# The helper lives in the agilio-offload repository; a project of your own would vendor
# components/offloaded_pod.py (it needs only pulumi) or install it from your package index.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from components.offloaded_pod import offloaded

NGINX_IMAGE = "nginx:1.27.3-alpine"
LABELS = {"app": "nginx-offloaded"}

config = pulumi.Config()
offload_stack = pulumi.StackReference(config.require("offloadStack"))
namespace = config.get("namespace") or "default"


def nginx_deployment(replicas: int) -> dict[str, Any]:
    """A plain Deployment; the helper adds the offload annotation and the VF."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx-offloaded", "namespace": namespace, "labels": LABELS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": LABELS},
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": NGINX_IMAGE,
                            "ports": [{"containerPort": 80}],
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "64Mi"},
                                "limits": {"memory": "128Mi"},
                            },
                        }
                    ]
                },
            },
        },
    }


manifest = offloaded(nginx_deployment(config.get_int("replicas") or 2), offload_stack)
deployment = k8s.apps.v1.Deployment(
    "nginx-offloaded",
    metadata=manifest["metadata"],
    spec=manifest["spec"],
)

pulumi.export("deployment", deployment.metadata["name"])
pulumi.export("network", offload_stack.require_output("networkAttachment"))
