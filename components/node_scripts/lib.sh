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
readonly AGILIO_RELOAD_UNIT=agilio-offload-nfp-reload
# The detached reload starts `rmmod nfp` only once the SSH session of the step that started it
# has closed (its output delivered) before the PF, maybe the SSH route, goes away; it waits at
# most this long for that, or exactly this long when the step did not come in over SSH.
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
  mkdir -p -- "$AGILIO_STATE_DIR"
  printf '%s\n' "$1" >"$AGILIO_RELOAD_MARKER.tmp"
  mv -f -- "$AGILIO_RELOAD_MARKER.tmp" "$AGILIO_RELOAD_MARKER"
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

# start_reload MAX_SECONDS: `rmmod nfp && modprobe nfp` in a transient service that outlives the
# SSH session, after that session closed; the marker goes only after both succeeded. Returns at
# once.
start_reload() {
  local command session ticks=$((AGILIO_RELOAD_SESSION_WAIT * 10))
  session=$(ssh_session_pid)
  if [[ -n $session ]]; then
    command="i=0; while kill -0 $session 2>/dev/null && [ \$i -lt $ticks ]; do sleep 0.1; i=\$((i + 1)); done"
  else
    command="sleep $AGILIO_RELOAD_SESSION_WAIT"
  fi
  # rmmod only while loaded: a retry after a failed modprobe just loads it.
  command+="; { [ ! -d /sys/module/nfp ] || rmmod nfp; } && modprobe nfp"
  command+=" && rm -f -- $AGILIO_RELOAD_MARKER && rmdir --ignore-fail-on-non-empty -- $AGILIO_STATE_DIR"
  systemctl reset-failed "$AGILIO_RELOAD_UNIT.service" >/dev/null 2>&1 || true
  systemd-run --unit="$AGILIO_RELOAD_UNIT" --no-block --quiet \
    --description="agilio-offload: reload nfp for the selected Agilio firmware" \
    --property=RuntimeMaxSec="$1" \
    -- /bin/sh -c "$command" >/dev/null ||
    die "systemd-run could not start $AGILIO_RELOAD_UNIT.service, need systemd to reload nfp detached"
}

# reload_if_pending MAX_SECONDS: start the reload when one is pending and none runs.
# Sets RELOAD_STARTED=true|false.
RELOAD_STARTED=false
reload_if_pending() {
  RELOAD_STARTED=false
  if [[ "$(reload_state)" == running ]]; then
    say "nfp reload already running ($AGILIO_RELOAD_UNIT.service)"
  elif reload_pending; then
    say "starting detached nfp reload ($AGILIO_RELOAD_UNIT.service, rmmod once this SSH session closed)"
    start_reload "$1"
    RELOAD_STARTED=true
  fi
}

# wait_for_reload_and_pf SECONDS [soft]: wait, bounded, until no reload is pending or running
# and the PF netdev with its nfp driver is back. Dies on timeout or when the reload failed; with
# "soft", says so and returns 1 instead.
wait_for_reload_and_pf() {
  local deadline=$((SECONDS + $1)) fail=die state
  [[ ${2:-} == soft ]] && fail=warn_and_fail
  while :; do
    state=$(reload_state)
    if [[ $state == failed ]] && reload_pending; then
      "$fail" "nfp reload failed ($AGILIO_RELOAD_UNIT.service is failed, see journalctl -u $AGILIO_RELOAD_UNIT), need a successful reload: re-run the driver step"
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
# it wrote, 1 when PATH already had CONTENT.
write_if_changed() {
  local path=$1 mode=$2 content=$3
  if [[ -f $path ]] && [[ "$(<"$path")" == "$content" ]] && [[ "$(stat -c %a "$path")" == "$mode" ]]; then
    return 1
  fi
  mkdir -p -- "${path%/*}"
  printf '%s\n' "$content" >"$path.agilio-tmp"
  chmod "$mode" "$path.agilio-tmp"
  mv -f -- "$path.agilio-tmp" "$path"
  return 0
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
