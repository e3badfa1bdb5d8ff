#!/usr/bin/env bash
# drained: records the drain lease (lib-lease.sh) right after the node's drain step.
#
# Parameters (set in the prelude by components/scripts.py, never from the environment):
#   NODE             Kubernetes node name (used in messages only)
#   PF, APP, ASSY    the node's PF and firmware choice (passed to every node step)
#   ACTION           apply | undo
#   LEASE            (apply) the token the drain step printed in this update (its stdout)
#   FIRMWARE_DIGEST, DRIVER_DIGEST, VFS_DIGEST
#                    (apply) the digest of each hardware step's apply command this drain is for
#
# apply: records the lease. Its command carries the drain's token, so it runs again exactly when
#   the drain does. Refuses when LEASE is not a token, or is the token already recorded for
#   other commands (the drain did not run in this update). The same lease again changes nothing.
# undo (the node leaves the stack, after its hardware undo): the lease files removed.
#
# Last stdout line: {"step","node","pf","pciAddress","changed","lease"} (pciAddress: null)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
: "${NODE:?}" "${PF:?}" "${APP:?}" "${ASSY:?}" "${ACTION:?}"
STEP=drained
. "${BASH_SOURCE[0]%/*}/lib-messages.sh"
. "${BASH_SOURCE[0]%/*}/lib-facts.sh"
. "${BASH_SOURCE[0]%/*}/lib-writes.sh"
. "${BASH_SOURCE[0]%/*}/lib-state.sh"
. "${BASH_SOURCE[0]%/*}/lib-lease.sh"

case "$ACTION" in
  apply)
    : "${LEASE?}" "${FIRMWARE_DIGEST:?}" "${DRIVER_DIGEST:?}" "${VFS_DIGEST:?}"
    lease_record "$LEASE" "$FIRMWARE_DIGEST" "$DRIVER_DIGEST" "$VFS_DIGEST"
    ;;
  undo) lease_forget ;;
  *) die "ACTION is '$ACTION', need apply or undo" ;;
esac

facts_begin ""
fact_bool changed "$LEASE_CHANGED"
fact_str lease "$(lease_field token)"
print_facts
