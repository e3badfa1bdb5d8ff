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
#   VENDORS, DEVICES, DRIVERS
#               the SR-IOV device plugin's selectors (config agilio-offload:sriov.vendors,
#               .devices, .drivers), space-separated
#
# Checks, in order: every tool the steps run is on PATH (else each is named with the package of the
# node's distro, from /etc/os-release); the PF netdev exists; no other NFP card is on the node (the
# driver step's `rmmod nfp` unloads every card's driver: one card per node is the known limit); the
# PF's PCI vendor is 0x19ee (Netronome) or 0x1da8 (Corigine); it is bound to nfp; the kernel >=
# MIN_KERNEL; sriov_drivers_autoprobe is 1; what the card's VFs will be (the PF's vendor,
# sriov_vf_device, the driver nfp_netvf) matches the device plugin's selectors; the firmware image
# for the assembly exists; devlink fw_load_policy is not flash and no serial-<this card>-*.nffw
# overrides the pci-<addr>.nffw link (nfp_net_fw_find tries serial-* first); sriov_totalvfs >= VFS
# (a warning only when the firmware is about to change: the limit is the loaded firmware's, and the
# vfs step checks it after the reload). Also finds out whether this SSH session reaches the node
# through the card (`ip route get` to the SSH peer): the driver step's reload mode (sync, or
# detached when it does).
# Changes nothing, except that a scan sets the card's debug-dump level to 0 (`ethtool -W`), as
# the runbook's fw-select does.
#
# Last stdout line: {"step","node","pf","pciAddress","changed":false,"vendor","device","driver",
#   "kernel","totalVfs","assembly","firmware","vfDevice","vfDriver","fwLoadPolicy",
#   "reloadMode","sshEgress","pfNames","otherNfpFunctions"}
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
: "${NODE:?}" "${PF:?}" "${APP:?}" "${ASSY:?}" "${MIN_KERNEL:?}" "${VFS:?}"
: "${VENDORS:?}" "${DEVICES:?}" "${DRIVERS:?}"
STEP=preflight
. "${BASH_SOURCE[0]%/*}/lib-messages.sh"
. "${BASH_SOURCE[0]%/*}/lib-facts.sh"
. "${BASH_SOURCE[0]%/*}/lib-numbers.sh"
. "${BASH_SOURCE[0]%/*}/lib-pf.sh"
. "${BASH_SOURCE[0]%/*}/lib-firmware-link.sh"
. "${BASH_SOURCE[0]%/*}/lib-firmware-select.sh"
. "${BASH_SOURCE[0]%/*}/lib-state.sh"
. "${BASH_SOURCE[0]%/*}/lib-reload-mode.sh"
. "${BASH_SOURCE[0]%/*}/lib-sriov.sh"
. "${BASH_SOURCE[0]%/*}/lib-eswitch.sh"

# listed WORD LIST: WORD is one of the space-separated LIST.
listed() {
  local item
  for item in $2; do
    [[ ${item,,} == "${1,,}" ]] && return 0
  done
  return 1
}

# require_selector WHAT HAS LIST KEY: the device plugin selects what the card will create.
require_selector() {
  listed "$2" "$3" ||
    die "the card's VFs will have $1 $2, which agilio-offload:$4 [$3] does not list, need $2 in agilio-offload:$4 (else the SR-IOV device plugin advertises 0 VFs)"
}

# devlink_param PCI NAME: the value of a devlink parameter (driver, flash, ...), or nothing.
devlink_param() {
  local out
  out=$(devlink dev param show "pci/$1" name "$2" 2>/dev/null || true)
  [[ $out =~ value[[:space:]]+([a-z_]+) ]] && printf '%s' "${BASH_REMATCH[1]}"
  return 0
}

# require_no_serial_override PCI: no serial-<this card's serial>-*.nffw (it would be loaded
# instead of the pci-<PCI>.nffw link); other cards' serial files are only named.
require_no_serial_override() {
  local switch_id serial='' file
  switch_id=$(read_attr "$(pf_sysfs)/phys_switch_id")
  if [[ $switch_id =~ ^[0-9a-f]{12}$ ]]; then
    serial=$(sed -E 's/(..)/\1-/g; s/-$//' <<<"$switch_id")
  fi
  for file in "$AGILIO_FW_DIR"/serial-*.nffw; do
    [[ -e $file ]] || continue
    if [[ -z $serial || ${file##*/} == serial-"$serial"-* ]]; then
      die "$file is there, need it removed: nfp loads a serial-*.nffw for this card (serial ${serial:-unknown}) before $(pci_link "$1") (nfp_net_fw_find), so the $APP firmware would never run (move it out of $AGILIO_FW_DIR)"
    fi
    say "warning: $file is for another card (this one's serial is $serial): ignored"
  done
}

# The tools the steps run (grep of scripts/*.sh), each with its package: Debian/Ubuntu, then
# RHEL-like (iproute ships devlink there too).
STEP_TOOLS="devlink:iproute2:iproute ip:iproute2:iproute ethtool:ethtool:ethtool
modprobe:kmod:kmod rmmod:kmod:kmod udevadm:udev:systemd-udev systemctl:systemd:systemd
systemd-run:systemd:systemd timeout:coreutils:coreutils"

# distro_family: debian, rhel or unknown, from ID and ID_LIKE of /etc/os-release (os-release(5)).
distro_family() {
  local ids=''
  if [[ -r /etc/os-release ]]; then
    ids=$(sed -n -E 's/^(ID|ID_LIKE)=//p' /etc/os-release | tr -d '"' | tr '\n' ' ')
  fi
  case " $ids " in
    *" debian "* | *" ubuntu "*) printf debian ;;
    *" rhel "* | *" fedora "* | *" centos "*) printf rhel ;;
    *) printf unknown ;;
  esac
}

require_tools() {
  local family entry tool debian rhel missing=()
  family=$(distro_family)
  for entry in $STEP_TOOLS; do
    IFS=: read -r tool debian rhel <<<"$entry"
    command -v "$tool" >/dev/null 2>&1 && continue
    case "$family" in
      debian) missing+=("$tool (package $debian)") ;;
      rhel) missing+=("$tool (package $rhel)") ;;
      *) missing+=("$tool (package $debian on Debian/Ubuntu, $rhel on RHEL-like)") ;;
    esac
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  local listed
  listed=$(printf '%s, ' "${missing[@]}")
  die "missing tool(s) the steps run: ${listed%, }: install them on the node (without devlink, fw_load_policy reads empty and a flash policy passes unseen)"
}

# other_nfp_functions PCI: NFP PCI functions (vendor 0x19ee Netronome, 0x1da8 Corigine) on the
# node that are not this card's: not in the PF's slot and not one of its VFs (physfn).
other_nfp_functions() {
  local slot=${1%.*} dev name vendor physfn others=()
  for dev in /sys/bus/pci/devices/*; do
    [[ -e $dev ]] || continue
    name=${dev##*/}
    [[ ${name%.*} == "$slot" ]] && continue
    vendor=$(read_attr "$dev/vendor")
    [[ $vendor == 0x19ee || $vendor == 0x1da8 ]] || continue
    physfn=$(readlink -f "$dev/physfn" 2>/dev/null || true)
    [[ ${physfn##*/} == "$1" ]] && continue
    others+=("$name")
  done
  printf '%s' "${others[*]}"
}

# running_app PCI: the firmware app the card runs now: flower (switchdev), nic (core NIC), or
# unknown; the PF's name is recorded under it (the name can differ between the two).
running_app() {
  case "$(eswitch_mode "$1")" in
    switchdev | legacy) printf flower ;;
    none*) printf nic ;;
    *) printf unknown ;;
  esac
}

require_tools
require_pf
pci=$(pf_pci_address)
other_cards=$(other_nfp_functions "$pci")
[[ -z $other_cards ]] ||
  die "other NFP PCI functions on this node: $other_cards (another Agilio/NFP card): the driver step's rmmod nfp unloads every card's driver (its VFs are lost, and an SSH session or node IP on it is cut); agilio-offload supports one Agilio card per node: take the node out of nodes[] or the other card out of the node"
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

require_autoprobe

# What the VFs will be (iov.c pci_iov_add_virtfn: the PF's vendor, the capability's VF device
# ID; nfp.ko's VF driver nfp_netvf), against the device plugin's selectors.
vf_device=$(read_attr "$device_dir/sriov_vf_device")
vf_driver=none
[[ -d /sys/bus/pci/drivers/nfp_netvf ]] && vf_driver=nfp_netvf
require_selector vendor "${vendor#0x}" "$VENDORS" sriov.vendors
require_selector "device ID" "${vf_device:-unknown}" "$DEVICES" sriov.devices
require_selector driver "$vf_driver" "$DRIVERS" sriov.drivers

assembly=$(resolve_assembly)
image=$(firmware_image "$assembly")
require_firmware_image "$image" "$assembly"

fw_load_policy=$(devlink_param "$pci" fw_load_policy)
[[ $fw_load_policy != flash ]] ||
  die "devlink fw_load_policy of pci/$pci is flash, need driver or disk: with flash nfp ignores $AGILIO_FW_DIR (devlink dev param set pci/$pci name fw_load_policy value driver cmode permanent)"
[[ "$(devlink_param "$pci" reset_dev_on_drv_probe)" != never ]] ||
  say "warning: devlink reset_dev_on_drv_probe of pci/$pci is never: a reload keeps firmware already running on the card (the driver step fails if it does)"
require_no_serial_override "$pci"

total_vfs=$(read_attr "$device_dir/sriov_totalvfs")
if ! at_least "$total_vfs" "$VFS"; then
  if reload_pending || ! same_file "$(pci_link "$pci")" "$AGILIO_FW_DIR/$image"; then
    say "warning: PF $PF sriov_totalvfs is ${total_vfs:-missing} under the running firmware, below $VFS; the limit is the loaded firmware's: the vfs step checks it after $image is loaded"
  else
    die "PF $PF sriov_totalvfs is ${total_vfs:-missing}, need >= $VFS (the VF count asked for; 0 means SR-IOV is off in the BIOS or the card's firmware)"
  fi
fi

choose_reload_mode
say "PF $PF ($pci) vendor $vendor driver $driver kernel $kernel totalvfs $total_vfs assembly $assembly image $image: ok; nfp reload $RELOAD_MODE (SSH leaves by ${SSH_EGRESS:-no SSH route})"
facts_begin "$pci"
fact_bool changed false
fact_str vendor "$vendor"
fact_str device "$(read_attr "$device_dir/device")"
fact_str driver "$driver"
fact_str kernel "$kernel"
fact_num totalVfs "$total_vfs"
fact_str assembly "$assembly"
fact_str firmware "$image"
fact_str vfDevice "$vf_device"
fact_str vfDriver "$vf_driver"
fact_str fwLoadPolicy "$fw_load_policy"
fact_str reloadMode "$RELOAD_MODE"
fact_str sshEgress "$SSH_EGRESS"
app=$(running_app "$pci")
fact_raw pfNames "{$(json_string "$app"):$(json_string "$PF")}"
fact_raw otherNfpFunctions "[]"
print_facts
