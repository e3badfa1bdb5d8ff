#!/usr/bin/env bash
# reload-wait: wait, bounded, until no nfp reload runs on the node. Changes nothing.
#
# Parameters (set in the prelude by components/scripts.py, never from the environment):
#   NODE             Kubernetes node name (used in messages only)
#   PF               the Agilio PF netdev
#   APP, ASSY        the firmware choice (not used; every step gets them)
#   ACTION           apply | undo
#   PF_WAIT_SECONDS  how long to wait
#
# The step sits between the drain (or the rollout gate) and the firmware step:
# apply (before the firmware step): when a reload is still running (an earlier run's), wait for
#   it to end, so the firmware step does not change the link under a loading driver. A reload
#   that is only pending is the driver step's to start: not waited for.
# undo (after the firmware step's undo, which starts a detached reload when it restored another
#   firmware): wait for that reload and for the PF to be back. Pulumi deletes the previous
#   rollout batch only after this, so a destroy reloads one batch of cards at a time. A PF that
#   does not come back is a warning here, not a failure: the node is already undone.
#
# Last stdout line: {"step","node","pf","pciAddress","changed":false,"waited","reload"}
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
: "${NODE:?}" "${PF:?}" "${APP:?}" "${ASSY:?}" "${ACTION:?}" "${PF_WAIT_SECONDS:?}"
STEP=reload-wait
. "${BASH_SOURCE[0]%/*}/lib-messages.sh"
. "${BASH_SOURCE[0]%/*}/lib-facts.sh"
. "${BASH_SOURCE[0]%/*}/lib-numbers.sh"
. "${BASH_SOURCE[0]%/*}/lib-pf.sh"
. "${BASH_SOURCE[0]%/*}/lib-state.sh"
. "${BASH_SOURCE[0]%/*}/lib-reload-wait.sh"

at_least "$PF_WAIT_SECONDS" 1 ||
  die "PF_WAIT_SECONDS is '$PF_WAIT_SECONDS', need a whole number of seconds > 0"

waited=false

# Until the reload unit is no longer running, at most PF_WAIT_SECONDS.
wait_while_running() {
  local deadline=$((SECONDS + PF_WAIT_SECONDS))
  while [[ "$(reload_state)" == running ]]; do
    waited=true
    ((SECONDS < deadline)) ||
      die "nfp reload still running after $PF_WAIT_SECONDS s ($AGILIO_RELOAD_UNIT.service), need it finished within PF_WAIT_SECONDS=$PF_WAIT_SECONDS"
    sleep "$AGILIO_POLL_SECONDS"
  done
}

case "$ACTION" in
  apply)
    [[ "$(reload_state)" == running ]] && say "waiting for the running nfp reload to end"
    wait_while_running
    ;;
  undo)
    if [[ "$(reload_state)" == running ]] || reload_pending; then
      say "waiting for the nfp reload the firmware undo started, and for PF $PF"
      waited=true
      wait_for_reload_and_pf "$PF_WAIT_SECONDS" soft || true
    fi
    ;;
  *) die "ACTION is '$ACTION', need apply or undo" ;;
esac

facts_begin "$(pf_pci_address)"
fact_bool changed false
fact_bool waited "$waited"
fact_str reload "$(reload_state)"
print_facts
