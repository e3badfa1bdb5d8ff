#!/usr/bin/env bash
# driver: reload nfp so the card runs the firmware the firmware step selected, only when that
# step changed the selection (marker /var/lib/agilio-offload/nfp-reload-pending).
#
# Parameters (set in the prelude by components/scripts.py, never from the environment):
#   NODE             Kubernetes node name (used in messages only)
#   PF               the Agilio PF netdev
#   APP, ASSY        the firmware choice; passed only so this step re-runs when it changes
#   ACTION           apply | undo (the same: reload when a reload is pending)
#   PF_WAIT_SECONDS  the reload unit's time limit (RuntimeMaxSec); the vfs step waits as long
#
# The PF may carry the SSH route, and a command whose connection drops fails: the reload
# (`rmmod nfp && modprobe nfp`, then the marker removed) runs detached in the transient service
# agilio-offload-nfp-reload.service (systemd-run), starting a few seconds after this step has
# printed its facts and returned. The vfs step waits for it. When that unit is already running,
# nothing new is started; when it failed, it is reset and started again.
#
# Last stdout line: {"step","node","pf","pciAddress","changed","reloadStarted","reloadPending",
#   "unit","firmware"}
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
: "${NODE:?}" "${PF:?}" "${APP:?}" "${ASSY:?}" "${ACTION:?}" "${PF_WAIT_SECONDS:?}"
STEP=driver
# shellcheck source=lib.sh
. "${BASH_SOURCE[0]%/*}/lib.sh"

case "$ACTION" in
  apply | undo) ;;
  *) die "ACTION is '$ACTION', need apply or undo" ;;
esac
at_least "$PF_WAIT_SECONDS" 1 ||
  die "PF_WAIT_SECONDS is '$PF_WAIT_SECONDS', need a whole number of seconds > 0"

pci=$(pf_pci_address)
firmware=
[[ -n $pci ]] && firmware=$(readlink -- "$(pci_link "$pci")" 2>/dev/null || true)

reload_if_pending "$PF_WAIT_SECONDS"
[[ $RELOAD_STARTED == true ]] || say "no nfp reload pending"

facts_begin "$pci"
fact_bool changed "$RELOAD_STARTED"
fact_bool reloadStarted "$RELOAD_STARTED"
fact_bool reloadPending "$(reload_pending && echo true || echo false)"
fact_str unit "$AGILIO_RELOAD_UNIT.service"
fact_str firmware "$firmware"
print_facts
