#!/usr/bin/env bash
# The eswitch mode of a PCI function.

# The eswitch mode devlink reports for PCI address $1 (switchdev, legacy), "none" when the
# running app has none (nfp's core NIC app answers "Operation not supported"), or "unknown".
eswitch_mode() {
  local out
  out=$(devlink dev eswitch show "pci/$1" 2>&1 || true)
  if [[ $out =~ mode[[:space:]]+([a-z]+) ]]; then
    printf '%s' "${BASH_REMATCH[1]}"
  elif [[ $out == *"Operation not supported"* ]]; then
    printf 'none (core NIC firmware)'
  else
    printf unknown
  fi
}
