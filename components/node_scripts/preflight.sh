#!/usr/bin/env bash
# preflight (read-only): can this node take the Agilio OVS-TC offload set-up?
#
# Parameters (set in the prelude by components/scripts.py, never from the environment):
#   NODE        Kubernetes node name (used in messages only)
#   PF          the Agilio PF netdev (where device/sriov_numvfs lives)
#   APP         firmware application directory under /lib/firmware/netronome: flower | flower-next
#   ASSY        the card's assembly ID (AMDAnnnn), or "scan" to read it from the card
#   MIN_KERNEL  the lowest kernel release accepted, e.g. 5.7
#   VFS         the VF count asked for this node
#
# Checks, in order: the PF netdev exists; its PCI vendor is 0x19ee (Netronome) or 0x1da8
# (Corigine); it is bound to nfp; the kernel >= MIN_KERNEL; sriov_totalvfs >= VFS; the firmware
# image for the assembly exists. (The vfs step checks the count again right before it writes.)
# Changes nothing, except that a scan sets the card's debug-dump level to 0 (`ethtool -W`), as
# the runbook's fw-select does.
#
# Last stdout line: {"step","node","pf","pciAddress","changed":false,"vendor","device","driver",
#   "kernel","totalVfs","assembly","firmware"}
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
: "${NODE:?}" "${PF:?}" "${APP:?}" "${ASSY:?}" "${MIN_KERNEL:?}" "${VFS:?}"
STEP=preflight
# shellcheck source=lib.sh
. "${BASH_SOURCE[0]%/*}/lib.sh"

require_pf
pci=$(pf_pci_address)
device_dir=$(pf_sysfs)/device

vendor=$(read_attr "$device_dir/vendor")
case "$vendor" in
  0x19ee | 0x1da8) ;;
  *) die "PF $PF vendor is ${vendor:-unreadable}, need 0x19ee or 0x1da8" ;;
esac

driver=$(pf_driver)
[[ $driver == nfp ]] || die "PF $PF driver is ${driver:-none}, need nfp"

kernel=$(read_attr /proc/sys/kernel/osrelease)
version_at_least "$kernel" "$MIN_KERNEL" || die "kernel is ${kernel:-unknown}, need >= $MIN_KERNEL"

total_vfs=$(read_attr "$device_dir/sriov_totalvfs")
at_least "$total_vfs" "$VFS" ||
  die "PF $PF sriov_totalvfs is ${total_vfs:-missing}, need >= $VFS (the VF count asked for; 0 means SR-IOV is off in the BIOS or the card's firmware)"

assembly=$(resolve_assembly)
image=$(firmware_image "$assembly")
require_firmware_image "$image" "$assembly"

for serial_image in "$AGILIO_FW_DIR"/serial-*.nffw; do
  [[ -e $serial_image ]] && say "warning: $serial_image exists; nfp prefers serial-*.nffw over pci-$pci.nffw"
done

say "PF $PF ($pci) vendor $vendor driver $driver kernel $kernel totalvfs $total_vfs assembly $assembly image $image: ok"
facts_begin "$pci"
fact_bool changed false
fact_str vendor "$vendor"
fact_str device "$(read_attr "$device_dir/device")"
fact_str driver "$driver"
fact_str kernel "$kernel"
fact_num totalVfs "$total_vfs"
fact_str assembly "$assembly"
fact_str firmware "$image"
print_facts
