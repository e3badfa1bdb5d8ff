"""The stack config contract (namespace `agilio-offload`): one model, every check, every default.

- `models`: the pydantic models (`StackConfig`, `ResolvedNode`, ...); components import these;
- `validators`, `ssh_host_keys`, `kube_ovn_values`: the field checks the models carry;
- `rules`: cross-field rules on the raw config; `redact`: how an error shows a value;
- `keys`: the namespace, known keys and typo finder; `errors`: `ConfigError`;
- `stack_file`: the strict stack-file reader; `load`: `pulumi.Config` reading and validation;
- `pins`: the upstream versions and images the cluster layer deploys.
"""

from components.config.errors import ConfigError
from components.config.keys import NAMESPACE
from components.config.load import load_stack_config, raw_config, validate_stack_config
from components.config.models import (
    KubernetesConfig,
    MasterNode,
    ResolvedNode,
    RolloutConfig,
    SriovConfig,
    StackConfig,
)

__all__ = [
    "NAMESPACE",
    "ConfigError",
    "KubernetesConfig",
    "MasterNode",
    "ResolvedNode",
    "RolloutConfig",
    "SriovConfig",
    "StackConfig",
    "load_stack_config",
    "raw_config",
    "validate_stack_config",
]
