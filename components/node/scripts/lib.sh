#!/usr/bin/env bash
# The including script sets NODE, STEP, PF, APP, ASSY; the constants and RELOAD_STARTED are for it.
# shellcheck disable=SC2034,SC2153
# Shared functions of the agilio-offload node scripts.
#
# A node script uses them with the line
#     . "${BASH_SOURCE[0]%/*}/lib.sh"
# components/scripts.py (render_script) replaces exactly that line with this file's body, so the
# command that reaches a node is one self-contained script; run from a checkout, the line sources
# this file instead. The including script sets NODE and STEP first (used in every message).
#
# Conventions: progress for the operator goes to stdout; an error is ONE line on stderr
#   agilio-offload: node <NODE>: <STEP>: <what> is <seen>, need <needed>
# and the script exits 1. The last stdout line of every step is one JSON object of facts.

readonly AGILIO_FW_DIR=/lib/firmware/netronome
readonly AGILIO_STATE_DIR=/var/lib/agilio-offload
readonly AGILIO_RELOAD_MARKER="$AGILIO_STATE_DIR/nfp-reload-pending"
# Why the last reload failed its proof (one line), removed when a reload starts.
readonly AGILIO_RELOAD_FAILED="$AGILIO_STATE_DIR/nfp-reload-failed"
# The PF's PCI address while a reload is pending (the PF netdev is gone after a failed one).
readonly AGILIO_RELOAD_PCI="$AGILIO_STATE_DIR/nfp-reload-pci"
readonly AGILIO_RELOAD_UNIT=agilio-offload-nfp-reload
# The detached reload starts `rmmod nfp` only once the SSH session of the step that started it
# has closed (its output delivered) before the PF, maybe the SSH route, goes away; it waits at
# most this long for that.
readonly AGILIO_RELOAD_SESSION_WAIT=10
readonly AGILIO_POLL_SECONDS=0.2

# --- messages -----------------------------------------------------------------------------------

say() {
  printf 'agilio-offload: node %s: %s: %s\n' "$NODE" "$STEP" "$*"
}

die() {
  printf 'agilio-offload: node %s: %s: %s\n' "$NODE" "$STEP" "$*" >&2
  exit 1
}

# --- the facts line (JSON) ----------------------------------------------------------------------

FACTS=()

json_string() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/\\t}
  s=${s//$'\r'/\\r}
  s=$(printf '%s' "$s" | tr -d '\000-\037')
  printf '"%s"' "$s"
}

fact_raw() { FACTS+=("$(json_string "$1"):$2"); }

# fact_str KEY VALUE: a string, or null when VALUE is empty.
fact_str() {
  if [[ -n $2 ]]; then fact_raw "$1" "$(json_string "$2")"; else fact_raw "$1" null; fi
}

# fact_num KEY VALUE: a whole number, or null when VALUE is not one.
fact_num() {
  if [[ $2 =~ ^[0-9]+$ ]]; then fact_raw "$1" "$((10#$2))"; else fact_raw "$1" null; fi
}

fact_bool() {
  if [[ $2 == true ]]; then fact_raw "$1" true; else fact_raw "$1" false; fi
}

# The facts every step reports first: step, node, pf, pciAddress.
facts_begin() {
  fact_str step "$STEP"
  fact_str node "$NODE"
  fact_str pf "$PF"
  fact_str pciAddress "$1"
}

print_facts() {
  local IFS=,
  printf '{%s}\n' "${FACTS[*]}"
}

# --- the PF and its PCI device ------------------------------------------------------------------

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

# --- writes that never fail silently ------------------------------------------------------------
# `set -e` does not apply inside functions called from `&&`, `||` or `if`: every write is checked
# here and fails the step with the path and the error (a full disk, a read-only file system).

# write_file PATH MODE CONTENT: PATH holds CONTENT (and a newline) with MODE, replaced atomically.
write_file() {
  local path=$1 tmp="$1.agilio-tmp" err
  if ! err=$({ mkdir -p -- "${path%/*}" && printf '%s\n' "$3" >"$tmp" && chmod "$2" "$tmp" &&
    mv -f -- "$tmp" "$path"; } 2>&1); then
    rm -f -- "$tmp" 2>/dev/null || true
    die "writing $path failed (${err##*: }), need a writable file system with free space for it"
  fi
}

# remove_file PATH: gone (or never there); dies naming PATH when it cannot be removed.
remove_file() {
  local err
  err=$(rm -f -- "$1" 2>&1) || die "removing $1 failed (${err##*: }), need it removable"
}

# --- firmware selection (the runbook's agilio-tc-fw-select.sh) ----------------------------------

# The assembly ID from the card's debug dump ("SN:" line), or nothing.
scan_assembly() {
  local dump assy
  dump=$(mktemp)
  ethtool -W "$PF" 0 >/dev/null 2>&1 || true
  if ethtool -w "$PF" data "$dump" >/dev/null 2>&1; then
    assy=$(tr -c '[:print:]' '\n' <"$dump" | grep '^SN:' | grep -oE -m1 'AMDA[0-9]{4}' | head -n1 || true)
  fi
  rm -f -- "$dump"
  printf '%s' "${assy:-}"
}

# The assembly to use: ASSY, or scanned when ASSY is "scan"; dies when it cannot be known.
resolve_assembly() {
  local assy=$ASSY
  if [[ $assy == scan ]]; then
    assy=$(scan_assembly)
    [[ -n $assy ]] ||
      die "assembly of PF $PF is unreadable (no 'SN:' line with AMDAnnnn in 'ethtool -w $PF data'), need firmware.assy set to the card's AMDAnnnn"
  fi
  [[ $assy =~ ^AMDA[0-9]{4}$ ]] || die "assembly is '$assy', need AMDA followed by 4 digits"
  printf '%s' "$assy"
}

# firmware_image ASSY: the image path relative to AGILIO_FW_DIR (AMDA0081 uses AMDA0097's).
firmware_image() {
  local image=$1
  [[ $image == AMDA0081 ]] && image=AMDA0097
  printf '%s/nic_%s.nffw' "$APP" "$image"
}

require_firmware_image() {
  [[ -f "$AGILIO_FW_DIR/$1" ]] ||
    die "firmware image $AGILIO_FW_DIR/$1 is missing, need the Agilio $APP firmware for assembly $2 (linux-firmware or Corigine's agilio-$APP firmware package)"
}

pci_link() { printf '%s/pci-%s.nffw' "$AGILIO_FW_DIR" "$1"; }

# same_file A B: A and B resolve to the same existing file (links compared by their target,
# not by their text).
same_file() {
  local a b
  a=$(readlink -e -- "$1" 2>/dev/null) || return 1
  b=$(readlink -e -- "$2" 2>/dev/null) || return 1
  [[ $a == "$b" ]]
}

# --- the driver reload --------------------------------------------------------------------------

# running | failed | idle: the state of the detached reload unit.
reload_state() {
  local state
  state=$(systemctl is-active "$AGILIO_RELOAD_UNIT.service" 2>/dev/null || true)
  case "$state" in
    active | activating | deactivating | reloading) echo running ;;
    failed) echo failed ;;
    *) echo idle ;;
  esac
}

reload_pending() { [[ -e $AGILIO_RELOAD_MARKER ]]; }

# mark_reload_pending WHY: the marker the driver step acts on; removed by a successful reload.
mark_reload_pending() {
  local pci
  pci=$(pf_pci_address)
  [[ -z $pci ]] || write_file "$AGILIO_RELOAD_PCI" 644 "$pci"
  write_file "$AGILIO_RELOAD_MARKER" 644 "$1"
}

parent_pid() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  read -r _ stat _ <<<"$stat"
  printf '%s' "$stat"
}

is_sshd() {
  case "$(cat "/proc/$1/comm" 2>/dev/null)" in
    sshd | sshd-session) return 0 ;;
    *) return 1 ;;
  esac
}

# The process that holds this script's SSH connection: of the sshd processes above the script
# (session child, per-connection monitor, listener), the one just below the listener. Nothing
# when the script did not come in over SSH.
ssh_session_pid() {
  local pid=$$ chain=()
  while ((pid > 1)) && ! is_sshd "$pid"; do
    pid=$(parent_pid "$pid")
    [[ -n $pid ]] || return 0
  done
  while ((pid > 1)) && is_sshd "$pid"; do
    chain+=("$pid")
    pid=$(parent_pid "$pid")
    [[ -n $pid ]] || break
  done
  if ((${#chain[@]} >= 2)); then
    printf '%s' "${chain[-2]}"
  elif ((${#chain[@]} == 1)); then
    printf '%s' "${chain[0]}"
  fi
}

# --- which way the reload goes: does this SSH session cross the card? ----------------------------

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

# --- the reload and its proof (these functions also run inside the transient unit) -------------

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

# reload_problem PCI EXPECT: nothing when the reload proved itself (the PCI function is bound to
# nfp and, with EXPECT "switchdev", the eswitch is in switchdev mode, as the flower apps run it),
# else what is wrong and why.
reload_problem() {
  local pci=$1 driver mode
  driver=$(readlink -e "/sys/bus/pci/devices/$pci/driver" 2>/dev/null || true)
  driver=${driver##*/}
  if [[ $driver != nfp ]]; then
    printf 'PF %s (%s) has no nfp driver after modprobe nfp (driver: %s), need nfp bound: its probe failed, see dmesg | grep nfp (often: the firmware did not start)' \
      "$PF" "$pci" "${driver:-none}"
    return 0
  fi
  [[ $2 == switchdev ]] || return 0
  mode=$(eswitch_mode "$pci")
  if [[ $mode != switchdev ]]; then
    printf 'PF %s (%s) runs eswitch mode %s after the reload, need switchdev (the %s firmware): the card did not load %s; likely cause: a serial-*.nffw file for this card, devlink fw_load_policy=flash, or reset_dev_on_drv_probe=never kept the firmware that ran' \
      "$PF" "$pci" "$mode" "$APP" "$(pci_link "$pci")"
  fi
  return 0
}

reload_failed() {
  printf '%s\n' "$1" >"$AGILIO_RELOAD_FAILED" || true
  printf '%s\n' "$1" >&2
  exit 1
}

# reload_and_prove PCI SESSION EXPECT: (in the unit) wait for SESSION, the step's sshd, to end;
# then `rmmod nfp` (only while loaded: a retry after a failed modprobe just loads it), `modprobe
# nfp`, the proof (reload_problem), and only then the marker removed.
reload_and_prove() {
  local pci=$1 session=$2 i=0 problem
  while [[ -n $session ]] && kill -0 "$session" 2>/dev/null && ((i < AGILIO_RELOAD_SESSION_WAIT * 10)); do
    sleep 0.1
    i=$((i + 1))
  done
  rm -f -- "$AGILIO_RELOAD_FAILED"
  if [[ -d /sys/module/nfp ]]; then
    rmmod nfp || reload_failed "rmmod nfp failed (exit $?), need nfp unloaded (is the PF in use?)"
  fi
  modprobe nfp || reload_failed "modprobe nfp failed (exit $?), need nfp loaded"
  problem=$(reload_problem "$pci" "$3")
  [[ -z $problem ]] || reload_failed "$problem"
  rm -f -- "$AGILIO_RELOAD_MARKER" "$AGILIO_RELOAD_PCI" || reload_failed "removing $AGILIO_RELOAD_MARKER failed"
  rmdir --ignore-fail-on-non-empty -- "$AGILIO_STATE_DIR" 2>/dev/null || true
}

# start_reload MODE MAX_SECONDS EXPECT: `reload_and_prove` in a transient service (bounded by
# RuntimeMaxSec). detached: it waits for this SSH session to close first, and the step returns
# at once; sync: it starts at once (the caller waits for it).
start_reload() {
  local mode=$1 pci session='' command err
  pci=$(pf_pci_address)
  [[ -n $pci ]] || pci=$(read_attr "$AGILIO_RELOAD_PCI")
  [[ -n $pci ]] || die "PF $PF has no PCI address to reload, need the Agilio PF netdev"
  [[ $mode == detached ]] && session=$(ssh_session_pid)
  command="$(declare -p NODE STEP PF APP AGILIO_FW_DIR AGILIO_STATE_DIR AGILIO_RELOAD_MARKER AGILIO_RELOAD_FAILED AGILIO_RELOAD_PCI AGILIO_RELOAD_SESSION_WAIT)"
  command+=$'\n'"$(declare -f pci_link eswitch_mode reload_problem reload_failed reload_and_prove)"
  command+=$'\n'"reload_and_prove $(printf '%q' "$pci") $(printf '%q' "$session") $3"
  remove_file "$AGILIO_RELOAD_FAILED"
  systemctl reset-failed "$AGILIO_RELOAD_UNIT.service" >/dev/null 2>&1 || true
  err=$(systemd-run --unit="$AGILIO_RELOAD_UNIT" --no-block --quiet \
    --description="agilio-offload: reload nfp for the selected Agilio firmware" \
    --property=RuntimeMaxSec="$2" \
    -- /bin/bash -c "$command" 2>&1) ||
    die "systemd-run could not start $AGILIO_RELOAD_UNIT.service (${err##*: }), need systemd to reload nfp"
}

# reload_if_pending MODE MAX_SECONDS [EXPECT]: start the reload when one is pending and none
# runs; in sync mode also wait for it and its proof. EXPECT: switchdev (the default: the flower
# firmware was selected) or any (an undo: only the driver binding is proved).
# Sets RELOAD_STARTED=true|false.
RELOAD_STARTED=false
reload_if_pending() {
  RELOAD_STARTED=false
  if [[ "$(reload_state)" == running ]]; then
    say "nfp reload already running ($AGILIO_RELOAD_UNIT.service)"
  elif reload_pending; then
    if [[ $1 == detached ]]; then
      say "starting detached nfp reload ($AGILIO_RELOAD_UNIT.service, rmmod once this SSH session closed: it crosses the card)"
    else
      say "reloading nfp ($AGILIO_RELOAD_UNIT.service; this SSH session does not cross the card)"
    fi
    start_reload "$1" "$2" "${3:-switchdev}"
    RELOAD_STARTED=true
  fi
  # A few seconds past the unit's own limit, so a reload stopped at RuntimeMaxSec is reported
  # as the unit's failure.
  if [[ $1 == sync ]] && { [[ $RELOAD_STARTED == true ]] || [[ "$(reload_state)" == running ]]; }; then
    wait_for_reload_and_pf "$(($2 + 5))"
  fi
  return 0
}

# wait_for_reload_and_pf SECONDS [soft]: wait, bounded, until no reload is pending or running
# and the PF netdev with its nfp driver is back. Dies on timeout or when the reload failed; with
# "soft", says so and returns 1 instead.
wait_for_reload_and_pf() {
  local deadline=$((SECONDS + $1)) fail=die state why
  [[ ${2:-} == soft ]] && fail=warn_and_fail
  while :; do
    state=$(reload_state)
    if [[ $state == failed ]] && reload_pending; then
      why=$(read_attr "$AGILIO_RELOAD_FAILED")
      "$fail" "nfp reload failed ($AGILIO_RELOAD_UNIT.service is failed: ${why:-it ended without a result, e.g. stopped at its RuntimeMaxSec (PF_WAIT_SECONDS)}), need a successful reload: fix the cause, then re-run (see journalctl -u $AGILIO_RELOAD_UNIT)"
      return 1
    fi
    if [[ $state != running ]] && ! reload_pending && pf_exists &&
      [[ "$(pf_driver)" == nfp ]]; then
      return 0
    fi
    if ((SECONDS >= deadline)); then
      if reload_pending || [[ $state == running ]]; then
        "$fail" "PF $PF: nfp reload not finished after $1 s (reload unit is $state), need it finished within PF_WAIT_SECONDS=$1"
      else
        "$fail" "PF $PF not back after $1 s, need the PF netdev with driver nfp within PF_WAIT_SECONDS=$1"
      fi
      return 1
    fi
    sleep "$AGILIO_POLL_SECONDS"
  done
}

warn_and_fail() {
  say "warning: $*"
  return 0
}

pf_driver() {
  local drv
  drv=$(readlink -f "$(pf_sysfs)/device/driver" 2>/dev/null) || return 0
  printf '%s' "${drv##*/}"
}

# --- the initramfs ------------------------------------------------------------------------------

# dracut | initramfs-tools | none
initramfs_tool() {
  if command -v dracut >/dev/null 2>&1; then
    echo dracut
  elif command -v update-initramfs >/dev/null 2>&1; then
    echo initramfs-tools
  else
    echo none
  fi
}

readonly AGILIO_DRACUT_CONF=/etc/dracut.conf.d/90-agilio-offload.conf
readonly AGILIO_INITRAMFS_HOOK=/etc/initramfs-tools/hooks/agilio-offload
readonly AGILIO_INITRAMFS_MARKER="$AGILIO_STATE_DIR/initramfs-pending"

initramfs_config_path() {
  case "$1" in
    dracut) echo "$AGILIO_DRACUT_CONF" ;;
    initramfs-tools) echo "$AGILIO_INITRAMFS_HOOK" ;;
  esac
}

# rebuild_initramfs TOOL: all installed kernels, so the next boot sees the firmware choice.
rebuild_initramfs() {
  local out
  case "$1" in
    dracut) out=$(dracut -f --regenerate-all 2>&1) || die "dracut -f --regenerate-all failed: $(tail -n1 <<<"$out"), need a rebuilt initramfs" ;;
    initramfs-tools) out=$(update-initramfs -u -k all 2>&1) || die "update-initramfs -u -k all failed: $(tail -n1 <<<"$out"), need a rebuilt initramfs" ;;
  esac
}

# write_if_changed PATH MODE CONTENT: replace PATH atomically when CONTENT differs. Returns 0 when
# it wrote, 1 when PATH already had CONTENT; a failed write fails the step (write_file).
write_if_changed() {
  local path=$1 mode=$2 content=$3
  if [[ -f $path ]] && [[ "$(<"$path")" == "$content" ]] && [[ "$(stat -c %a "$path")" == "$mode" ]]; then
    return 1
  fi
  write_file "$path" "$mode" "$content"
  return 0
}

# --- the card's SR-IOV facts ------------------------------------------------------------------

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

# --- numbers ------------------------------------------------------------------------------------

is_count() { [[ $1 =~ ^[0-9]+$ ]]; }

# at_least HAVE NEED: HAVE is a whole number >= NEED.
at_least() { is_count "$1" && ((10#$1 >= $2)); }

# version_at_least HAVE NEED: dotted numeric compare of the leading digits (5.15.0-91 >= 5.7).
version_at_least() {
  local have need i a b
  IFS=. read -r -a have <<<"${1%%[!0-9.]*}"
  IFS=. read -r -a need <<<"$2"
  for i in 0 1 2; do
    a=${have[i]:-0}
    b=${need[i]:-0}
    ((10#$a > 10#$b)) && return 0
    ((10#$a < 10#$b)) && return 1
  done
  return 0
}
