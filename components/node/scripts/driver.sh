#!/usr/bin/env bash
# driver: reload nfp so the card runs the firmware the firmware step selected, only when that
# step changed the selection (marker /var/lib/agilio-offload/nfp-reload-pending), and prove it.
#
# Parameters (set in the prelude by components/scripts.py, never from the environment):
#   NODE             Kubernetes node name (used in messages only)
#   PF               the Agilio PF netdev
#   APP, ASSY        the firmware choice; passed only so this step re-runs when it changes
#   ACTION           apply | undo (undo reloads nothing: the firmware undo, which a destroy runs
#                    next, restores the link and reloads, also for a reload left pending here)
#   RELOAD           auto | sync | detached: how the reload meets this SSH session (auto: sync
#                    unless the session reaches the node through the Agilio card)
#   PF_WAIT_SECONDS  the reload unit's time limit (RuntimeMaxSec); sync: this step waits as long,
#                    detached: the vfs step does
#   LEASE_DIGEST     (apply) this command's digest, as the drain lease names it: apply refuses
#                    without a fresh drain of the node in this update (lib-lease.sh)
#
# The reload (`rmmod nfp && modprobe nfp`, then the proof: the PF's PCI function bound to nfp and,
# for the flower apps, `devlink dev eswitch show` saying switchdev; only then the marker goes)
# runs in the transient service agilio-offload-nfp-reload.service (systemd-run), bounded.
# sync (`ip route get` to the SSH peer leaves by a NIC that is not the card's): this step waits
#   for it and fails with the proof's message.
# detached (the session crosses the card, so the reload takes the node's SSH address away): the
#   unit is armed to start rmmod a few seconds later (AGILIO_RELOAD_DELAY_SECONDS) and this step
#   returns at once, reporting "reloadArmed": true. Nothing waits for an SSH session to close.
#   The operator's next step, <node>-ssh-return, waits without a session for the node's SSH
#   port to go away and come back; then the vfs step dials and waits for the reload's result.
# When the unit is already running, nothing new is started; when it failed, it is started again.
#
# Last stdout line: {"step","node","pf","pciAddress","changed","reloadStarted","reloadPending",
#   "reloadMode","reloadArmed","sshEgress","unit","firmware"}
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
: "${NODE:?}" "${PF:?}" "${APP:?}" "${ASSY:?}" "${ACTION:?}" "${RELOAD:?}" "${PF_WAIT_SECONDS:?}"
STEP=driver
. "${BASH_SOURCE[0]%/*}/lib-messages.sh"
. "${BASH_SOURCE[0]%/*}/lib-facts.sh"
. "${BASH_SOURCE[0]%/*}/lib-numbers.sh"
. "${BASH_SOURCE[0]%/*}/lib-pf.sh"
. "${BASH_SOURCE[0]%/*}/lib-writes.sh"
. "${BASH_SOURCE[0]%/*}/lib-firmware-link.sh"
. "${BASH_SOURCE[0]%/*}/lib-state.sh"
. "${BASH_SOURCE[0]%/*}/lib-lease.sh"
. "${BASH_SOURCE[0]%/*}/lib-reload-mode.sh"
. "${BASH_SOURCE[0]%/*}/lib-eswitch.sh"
. "${BASH_SOURCE[0]%/*}/lib-reload-wait.sh"
. "${BASH_SOURCE[0]%/*}/lib-reload.sh"

case "$ACTION" in
  apply | undo) ;;
  *) die "ACTION is '$ACTION', need apply or undo" ;;
esac
[[ $ACTION == undo ]] || lease_require "${LEASE_DIGEST:-}"
at_least "$PF_WAIT_SECONDS" 1 ||
  die "PF_WAIT_SECONDS is '$PF_WAIT_SECONDS', need a whole number of seconds > 0"

choose_reload_mode
case "$RELOAD" in
  auto) ;;
  sync | detached) RELOAD_MODE=$RELOAD ;;
  *) die "RELOAD is '$RELOAD', need auto, sync or detached" ;;
esac

pci=$(pf_pci_address)
firmware=
[[ -n $pci ]] && firmware=$(readlink -- "$(pci_link "$pci")" 2>/dev/null || true)

armed=false
if [[ $ACTION == undo ]]; then
  reload_pending && say "nfp reload pending: left to the firmware undo, which restores the link and reloads"
else
  [[ "$(reload_state)" == running ]] && armed=true
  reload_if_pending "$RELOAD_MODE" "$PF_WAIT_SECONDS" switchdev
  [[ $RELOAD_STARTED == true ]] || say "no nfp reload pending"
  [[ $RELOAD_STARTED == true ]] && armed=true
  [[ $RELOAD_MODE == detached ]] || armed=false
fi

facts_begin "$pci"
fact_bool changed "$RELOAD_STARTED"
fact_bool reloadStarted "$RELOAD_STARTED"
fact_bool reloadPending "$(reload_pending && echo true || echo false)"
fact_str reloadMode "$RELOAD_MODE"
fact_bool reloadArmed "$armed"
fact_str sshEgress "$SSH_EGRESS"
fact_str unit "$AGILIO_RELOAD_UNIT.service"
fact_str firmware "$firmware"
[[ $ACTION == undo ]] || lease_complete
print_facts
