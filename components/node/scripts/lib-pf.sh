#!/usr/bin/env bash
# The PF and its PCI device. The including script sets PF.
# Uses: lib-messages.sh.

pf_sysfs() { printf '/sys/class/net/%s' "$PF"; }

pf_exists() { [[ -e "$(pf_sysfs)" ]]; }

# The PF's PCI address (0000:03:00.0), or nothing when the PF or its device link is missing.
pf_pci_address() {
  local dev
  dev=$(readlink -f "$(pf_sysfs)/device" 2>/dev/null) || return 0
  [[ -n $dev && -e $dev ]] && printf '%s' "${dev##*/}"
  return 0
}

# read_attr FILE: a sysfs attribute's first line, or nothing when it cannot be read.
read_attr() {
  local value=
  if [[ -r $1 ]]; then
    IFS= read -r value 2>/dev/null <"$1" || true
  fi
  printf '%s' "$value"
}

require_pf() {
  pf_exists || die "PF $PF not found (no /sys/class/net/$PF), need the Agilio PF netdev"
  [[ -n "$(pf_pci_address)" ]] || die "PF $PF has no PCI device, need an Agilio PCI function"
}

pf_driver() {
  local drv
  drv=$(readlink -f "$(pf_sysfs)/device/driver" 2>/dev/null) || return 0
  printf '%s' "${drv##*/}"
}
