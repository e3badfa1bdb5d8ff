#!/usr/bin/env bash
# Which way the reload goes: does this SSH session cross the card?
# Uses: lib-pf.sh.
# shellcheck disable=SC2034 # RELOAD_MODE and SSH_EGRESS are for the including script

parent_pid() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  read -r _ stat _ <<<"$stat"
  printf '%s' "$stat"
}

# The SSH client's address, from SSH_CONNECTION here or in a parent (sudo drops it from the
# environment; the login shell above still has it). Nothing when not over SSH.
ssh_peer() {
  local pid=$$ value
  while ((pid > 1)); do
    value=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sed -n 's/^SSH_CONNECTION=//p' | head -n1 || true)
    if [[ -n $value ]]; then
      printf '%s' "${value%% *}"
      return 0
    fi
    pid=$(parent_pid "$pid")
    [[ -n $pid ]] || return 0
  done
}

# The netdev the route to PEER leaves by (`ip route get`), or nothing when there is none.
route_device() {
  local route
  route=$(ip -o route get "$1" 2>/dev/null || true)
  [[ $route =~ [[:space:]]dev[[:space:]]+([^[:space:]]+) ]] && printf '%s' "${BASH_REMATCH[1]}"
  return 0
}

# DEV and every device below it (bridge ports, bond slaves, VLAN parents: lower_* links).
device_and_lowers() {
  local dev=$1 link depth=${2:-0}
  printf '%s\n' "$dev"
  ((depth < 8)) || return 0
  for link in "/sys/class/net/$dev"/lower_*; do
    [[ -e $link ]] && device_and_lowers "${link##*/lower_}" $((depth + 1))
  done
  return 0
}

# is_card_netdev DEV: DEV belongs to the PF's card: the same phys_switch_id (every port and
# representor), or a netdev of the PF's PCI function or of one of its VFs.
is_card_netdev() {
  local dev=$1 switch_id pci
  [[ $dev == "$PF" ]] && return 0
  switch_id=$(read_attr "$(pf_sysfs)/phys_switch_id")
  [[ -n $switch_id && "$(read_attr "/sys/class/net/$dev/phys_switch_id")" == "$switch_id" ]] && return 0
  pci=$(readlink -f "/sys/class/net/$dev/device" 2>/dev/null || true)
  [[ -n $pci && $pci == "$(readlink -f "$(pf_sysfs)/device" 2>/dev/null || true)" ]] && return 0
  [[ -n $pci && "$(readlink -f "$pci/physfn" 2>/dev/null || true)" == "$(readlink -f "$(pf_sysfs)/device" 2>/dev/null || true)" ]]
}

# RELOAD_MODE (sync | detached) and SSH_EGRESS: sync when this session does not reach the node
# through the card (a management NIC, or not over SSH), so the reload cannot cut it; detached
# when it does (or when the route cannot be read: the safe way).
RELOAD_MODE=detached
SSH_EGRESS=
choose_reload_mode() {
  local peer dev
  RELOAD_MODE=detached SSH_EGRESS=
  peer=$(ssh_peer)
  if [[ -z $peer ]]; then
    RELOAD_MODE=sync
    return 0
  fi
  SSH_EGRESS=$(route_device "$peer")
  [[ -n $SSH_EGRESS ]] || return 0
  RELOAD_MODE=sync
  while IFS= read -r dev; do
    if is_card_netdev "$dev"; then
      RELOAD_MODE=detached
      return 0
    fi
  done < <(device_and_lowers "$SSH_EGRESS")
  return 0
}
