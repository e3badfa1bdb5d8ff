#!/usr/bin/env bash
# The reload and its proof (these functions also run inside the transient unit).
# Uses: lib-messages.sh, lib-pf.sh, lib-writes.sh, lib-firmware-link.sh, lib-state.sh,
# lib-reload-mode.sh, lib-eswitch.sh, lib-reload-wait.sh.
# shellcheck disable=SC2034 # RELOAD_STARTED is for the including script

# The detached reload starts `rmmod nfp` only once the SSH session of the step that started it
# has closed (its output delivered) before the PF, maybe the SSH route, goes away; it waits at
# most this long for that.
readonly AGILIO_RELOAD_SESSION_WAIT=10

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
