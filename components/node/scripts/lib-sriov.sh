#!/usr/bin/env bash
# The card's SR-IOV facts.
# Uses: lib-messages.sh, lib-pf.sh.
# shellcheck disable=SC2034 # representors is for the including script

# require_autoprobe: VF netdevs appear only when the PF's sriov_drivers_autoprobe is 1.
require_autoprobe() {
  local file value
  file="$(pf_sysfs)/device/sriov_drivers_autoprobe"
  value=$(read_attr "$file")
  [[ $value != 0 ]] ||
    die "$file is 0, need 1: no driver binds new VFs, so their netdevs never appear (echo 1 >$file, and remove whatever sets it to 0, e.g. a udev rule)"
}

# find_representors: REPRESENTORS[i] = VF i's representor, found as sriovnet's GetVfRepresentor
# does: the netdev with the PF's phys_switch_id whose phys_port_name is pf0vf<i>. nfp creates
# VF representors without a device link (flower/main.c nfp_flower_spawn_vnic_reprs).
representors=()
find_representors() {
  local dir port switch_id
  representors=()
  switch_id=$(read_attr "$(pf_sysfs)/phys_switch_id")
  [[ -n $switch_id ]] || return 0
  for dir in /sys/class/net/*; do
    [[ "$(read_attr "$dir/phys_switch_id")" == "$switch_id" ]] || continue
    port=$(read_attr "$dir/phys_port_name")
    [[ $port =~ ^pf0vf([0-9]+)$ ]] || continue
    representors[BASH_REMATCH[1]]=${dir##*/}
  done
}
