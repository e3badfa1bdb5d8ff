#!/usr/bin/env bash
# The reload and its proof (these functions also run inside the transient unit).
# Uses: lib-messages.sh, lib-pf.sh, lib-writes.sh, lib-firmware-link.sh, lib-state.sh,
# lib-eswitch.sh, lib-reload-wait.sh.
# shellcheck disable=SC2034 # RELOAD_STARTED is for the including script

# A detached reload starts `rmmod nfp` this long after the step that armed it returned, so that
# step's exit status reaches the operator before the PF, and with it the SSH route, goes away.
# Nothing waits for any SSH session to close: pulumi-command never closes its connections
# (commandOutputs.go), and the operator's `<node>-ssh-return` step waits, without a session,
# for the node's SSH port to go away and come back before the next step dials.
readonly AGILIO_RELOAD_DELAY_SECONDS=2

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

# reload_and_prove PCI DELAY EXPECT: (in the unit) after DELAY seconds, `rmmod nfp` (only while
# loaded: a retry after a failed modprobe just loads it), `modprobe nfp`, the proof
# (reload_problem), and only then the marker removed.
reload_and_prove() {
  local pci=$1 problem
  (($2 == 0)) || sleep "$2"
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
# RuntimeMaxSec). detached: it starts rmmod AGILIO_RELOAD_DELAY_SECONDS later, and the step
# returns at once; sync: it starts at once (the caller waits for it).
start_reload() {
  local mode=$1 pci delay=0 command err
  pci=$(pf_pci_address)
  [[ -n $pci ]] || pci=$(read_attr "$AGILIO_RELOAD_PCI")
  [[ -n $pci ]] || die "PF $PF has no PCI address to reload, need the Agilio PF netdev"
  [[ $mode == detached ]] && delay=$AGILIO_RELOAD_DELAY_SECONDS
  command="$(declare -p NODE STEP PF APP AGILIO_FW_DIR AGILIO_STATE_DIR AGILIO_RELOAD_MARKER AGILIO_RELOAD_FAILED AGILIO_RELOAD_PCI)"
  command+=$'\n'"$(declare -f pci_link eswitch_mode reload_problem reload_failed reload_and_prove)"
  command+=$'\n'"reload_and_prove $(printf '%q' "$pci") $delay $3"
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
      say "arming a detached nfp reload ($AGILIO_RELOAD_UNIT.service, rmmod in $AGILIO_RELOAD_DELAY_SECONDS s: this SSH session crosses the card; the operator's ssh-return step waits for the node's SSH port to go and come back)"
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
