#!/usr/bin/env bash
# vfs: the SR-IOV VFs on the Agilio PF, hw-tc-offload on the uplink and the VF representors, and
# both kept across reboots by a systemd unit ordered before kubelet and Open vSwitch.
#
# Parameters (set in the prelude by components/scripts.py, never from the environment):
#   NODE             Kubernetes node name (used in messages only)
#   PF               the Agilio PF netdev (where device/sriov_numvfs lives; the uplink)
#   VFS              the VF count wanted
#   APP, ASSY        the firmware choice; passed only so this step re-runs when it changes
#   ACTION           apply | undo
#   PF_WAIT_SECONDS  how long to wait for an nfp reload to finish and the PF to be back, and
#                    (again) for the VF netdevs and their representors to appear
#   LEASE_DIGEST     (apply) this command's digest, as the drain lease names it: apply refuses
#                    without a fresh drain of the node in this update (lib-lease.sh)
#
# apply: wait for a pending or running nfp reload (a detached one: this is the step after it) and
#   for the PF; check sriov_totalvfs >= VFS under the firmware now loaded and
#   sriov_drivers_autoprobe = 1 (nothing changed otherwise); set sriov_numvfs (0 first when
#   changing a non-zero count: the kernel answers EBUSY otherwise; the same count is left
#   alone); wait for the VF netdevs and their representors (the netdevs with the PF's
#   phys_switch_id and phys_port_name pf0vf<N>, as sriovnet finds them); hw-tc-offload on for
#   the PF and each representor; /etc/systemd/system/agilio-offload-vfs-<PF>.service written
#   (only when its content changes), daemon-reloaded and enabled.
# undo: VFs to 0, the unit disabled and removed, daemon-reload.
#
# Last stdout line: {"step","node","pf","pciAddress","changed","totalVfs","vfs","representors",
#   "hwTcOffload","unit","firmware"}
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
: "${NODE:?}" "${PF:?}" "${VFS:?}" "${APP:?}" "${ASSY:?}" "${ACTION:?}" "${PF_WAIT_SECONDS:?}"
STEP=vfs
. "${BASH_SOURCE[0]%/*}/lib-messages.sh"
. "${BASH_SOURCE[0]%/*}/lib-facts.sh"
. "${BASH_SOURCE[0]%/*}/lib-numbers.sh"
. "${BASH_SOURCE[0]%/*}/lib-pf.sh"
. "${BASH_SOURCE[0]%/*}/lib-writes.sh"
. "${BASH_SOURCE[0]%/*}/lib-firmware-link.sh"
. "${BASH_SOURCE[0]%/*}/lib-state.sh"
. "${BASH_SOURCE[0]%/*}/lib-lease.sh"
. "${BASH_SOURCE[0]%/*}/lib-eswitch.sh"
. "${BASH_SOURCE[0]%/*}/lib-reload-wait.sh"
. "${BASH_SOURCE[0]%/*}/lib-sriov.sh"

is_count "$VFS" || die "VFS is '$VFS', need a whole number"
at_least "$PF_WAIT_SECONDS" 1 ||
  die "PF_WAIT_SECONDS is '$PF_WAIT_SECONDS', need a whole number of seconds > 0"
VFS=$((10#$VFS))

readonly UNIT_NAME="agilio-offload-vfs-$PF.service"
readonly UNIT_PATH="/etc/systemd/system/$UNIT_NAME"
changed=false

numvfs_file() { printf '%s/device/sriov_numvfs' "$(pf_sysfs)"; }

# set_numvfs N: one write, the kernel's answer named on failure.
set_numvfs() {
  local err
  say "sriov_numvfs of $PF: $1"
  if ! err=$({ printf '%s\n' "$1" >"$(numvfs_file)"; } 2>&1); then
    die "writing $1 to $(numvfs_file) failed (${err##*: }), need the kernel to accept $1 VFs"
  fi
}

# missing_vf_devices: what is still missing of VFs 0..VFS-1, empty when all are there.
missing_vf_devices() {
  local i missing=()
  find_representors
  for ((i = 0; i < VFS; i++)); do
    compgen -G "/sys/class/net/$PF/device/virtfn$i/net/*" >/dev/null || missing+=("VF $i netdev")
    [[ -n ${representors[i]:-} ]] || missing+=("representor pf0vf$i")
  done
  printf '%s' "${missing[*]}"
}

wait_for_vf_devices() {
  local pci=$1 deadline=$((SECONDS + PF_WAIT_SECONDS)) missing mode
  if command -v udevadm >/dev/null 2>&1; then
    udevadm settle --timeout="$PF_WAIT_SECONDS" >/dev/null 2>&1 || true
  fi
  while missing=$(missing_vf_devices) && [[ -n $missing ]]; do
    if ((SECONDS >= deadline)); then
      mode=$(eswitch_mode "$pci")
      die "PF $PF: after $PF_WAIT_SECONDS s still missing: $missing (eswitch mode $mode), need $VFS VF netdevs and their representors (flower firmware loaded?)"
    fi
    sleep "$AGILIO_POLL_SECONDS"
  done
  find_representors
}

# tc_offload_on DEV: switch hw-tc-offload on unless it is; returns 0 when it changed it.
tc_offload_on() {
  local features
  features=$(ethtool -k "$1" 2>&1) || die "ethtool -k $1 failed (${features##*$'\n'}), need the netdev's features"
  grep -q '^hw-tc-offload: on' <<<"$features" && return 1
  grep -q '^hw-tc-offload: off \[fixed\]' <<<"$features" &&
    die "netdev $1 hw-tc-offload is off [fixed], need it switchable (flower firmware loaded?)"
  say "hw-tc-offload on for $1"
  ethtool -K "$1" hw-tc-offload on >/dev/null 2>&1 || die "ethtool -K $1 hw-tc-offload on failed, need TC offload on $1"
  return 0
}

systemd_escape_ifname() { printf '%s' "${1//-/\\x2d}"; }

# The persistence unit. systemd expands $ and % in ExecStart: the shell code writes $$ for $.
render_unit() {
  local pci=$1 device
  device="sys-subsystem-net-devices-$(systemd_escape_ifname "$PF").device"
  cat <<EOF
# Written by agilio-offload (vfs step): $VFS SR-IOV VFs and hw-tc-offload on $PF at boot.
[Unit]
Description=agilio-offload: $VFS SR-IOV VFs and hw-tc-offload on $PF ($pci)
Requires=$device
After=$device
Before=kubelet.service openvswitch-switch.service openvswitch.service ovs-vswitchd.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'f=/sys/class/net/$PF/device/sriov_numvfs; n=\$\$(cat "\$\$f"); if [ "\$\$n" != $VFS ]; then [ "\$\$n" = 0 ] || echo 0 >"\$\$f"; echo $VFS >"\$\$f"; fi'
ExecStart=-/bin/sh -c 'udevadm settle --timeout=60'
ExecStart=/bin/sh -c 'ethtool -K $PF hw-tc-offload on'
ExecStart=/bin/sh -c 's=\$\$(cat /sys/class/net/$PF/phys_switch_id); for d in /sys/class/net/*; do [ "\$\$(cat "\$\$d/phys_switch_id" 2>/dev/null)" = "\$\$s" ] || continue; p=\$\$(cat "\$\$d/phys_port_name" 2>/dev/null) || continue; case "\$\$p" in pf0vf[0-9]*) ethtool -K "\$\${d##*/}" hw-tc-offload on || exit 1 ;; esac; done'

[Install]
WantedBy=multi-user.target
EOF
}

persist() {
  local pci=$1 reload_needed=false
  if write_if_changed "$UNIT_PATH" 644 "$(render_unit "$pci")"; then
    say "wrote $UNIT_PATH"
    changed=true
    reload_needed=true
  fi
  [[ "$(systemctl show -p NeedDaemonReload --value "$UNIT_NAME" 2>/dev/null || true)" == yes ]] &&
    reload_needed=true
  if [[ $reload_needed == true ]]; then
    systemctl daemon-reload || die "systemctl daemon-reload failed, need systemd to load $UNIT_NAME"
  fi
  if ! systemctl is-enabled --quiet "$UNIT_NAME" 2>/dev/null; then
    say "enabling $UNIT_NAME"
    systemctl enable --quiet "$UNIT_NAME" || die "systemctl enable $UNIT_NAME failed, need it enabled"
    changed=true
  fi
}

apply() {
  local pci total current dev
  wait_for_reload_and_pf "$PF_WAIT_SECONDS"
  pci=$(pf_pci_address)
  total=$(read_attr "$(pf_sysfs)/device/sriov_totalvfs")
  at_least "$total" "$VFS" ||
    die "PF $PF sriov_totalvfs is ${total:-missing}, need >= $VFS (the VF count asked for)"
  require_autoprobe

  current=$(read_attr "$(numvfs_file)")
  if [[ $current != "$VFS" ]]; then
    [[ $current == 0 || $VFS == 0 ]] || set_numvfs 0
    set_numvfs "$VFS"
    changed=true
  fi
  wait_for_vf_devices "$pci"
  tc_offload_on "$PF" && changed=true
  for dev in "${representors[@]}"; do
    tc_offload_on "$dev" && changed=true
  done
  persist "$pci"

  facts_begin "$pci"
  fact_bool changed "$changed"
  fact_num totalVfs "$total"
  fact_num vfs "$(read_attr "$(numvfs_file)")"
  fact_num representors "${#representors[@]}"
  fact_bool hwTcOffload true
  fact_str unit "$UNIT_PATH"
  fact_str firmware "$(readlink -- "$(pci_link "$pci")" 2>/dev/null || true)"
}

undo() {
  local pci='' total='' vfs=''
  if [[ "$(reload_state)" == running ]]; then
    wait_for_reload_and_pf "$PF_WAIT_SECONDS" soft || true
  fi
  if pf_exists && [[ -e "$(numvfs_file)" ]]; then
    pci=$(pf_pci_address)
    total=$(read_attr "$(pf_sysfs)/device/sriov_totalvfs")
    if [[ "$(read_attr "$(numvfs_file)")" != 0 ]]; then
      set_numvfs 0
      changed=true
    fi
    vfs=$(read_attr "$(numvfs_file)")
  else
    say "warning: PF $PF not found, no VFs to remove"
  fi
  if [[ -e $UNIT_PATH ]] || systemctl is-enabled --quiet "$UNIT_NAME" 2>/dev/null; then
    say "removing $UNIT_NAME"
    systemctl disable --quiet "$UNIT_NAME" 2>/dev/null || true
    remove_file "$UNIT_PATH"
    systemctl daemon-reload || die "systemctl daemon-reload failed, need systemd to forget $UNIT_NAME"
    changed=true
  fi

  facts_begin "$pci"
  fact_bool changed "$changed"
  fact_num totalVfs "$total"
  fact_num vfs "$vfs"
  fact_num representors 0
  fact_bool hwTcOffload false
  fact_str unit ""
  fact_str firmware ""
}

case "$ACTION" in
  apply)
    lease_require "${LEASE_DIGEST:-}"
    apply
    lease_complete
    ;;
  undo) undo ;;
  *) die "ACTION is '$ACTION', need apply or undo" ;;
esac
print_facts
