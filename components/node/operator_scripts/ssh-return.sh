#!/usr/bin/env bash
# ssh-return: on the operator's machine, wait, bounded, for a node's SSH port to go away (the
# detached nfp reload takes the node's address with the PF) and to come back, WITHOUT an SSH
# session: a bare TCP connect (bash /dev/tcp under `timeout`), closed at once, no key. The next
# step's new SSH connection then meets the node after the reload, so no connection of the
# stack is open across `rmmod nfp` with a command waiting on it.
#
# Parameters (set in the prelude by components/node/agilio_node.py, never from the
# environment):
#   NODE           Kubernetes node name (messages only)
#   HOST, PORT     the node's SSH address, as the stack's remote steps dial it
#   ACTION         apply: after the driver step; waits only when the driver step's facts (the
#                  environment variable AGILIO_DRIVER_FACTS, its stdout) say "reloadArmed": true
#                  undo: after the firmware undo (a destroy), which may have armed one; waits
#                  for the port to go away at most GONE_SECONDS, and when it did not, passes
#   GONE_SECONDS   how long the port may take to go away after the reload was armed (its delay
#                  on the node, AGILIO_RELOAD_DELAY_SECONDS, plus the unload)
#   BACK_SECONDS   how long it may then take to come back
#   POLL_SECONDS   the pause between two probes; PROBE_SECONDS: one probe's connect timeout
#
# Exit 1 (one stderr line naming the node, its state and how to recover) when the port does
# not come back within BACK_SECONDS. Last stdout line: {"step","node","host","port","waited",
# "gone","back"}
set -euo pipefail
: "${NODE:?}" "${HOST:?}" "${PORT:?}" "${ACTION:?}" "${GONE_SECONDS:?}" "${BACK_SECONDS:?}"
: "${POLL_SECONDS:?}" "${PROBE_SECONDS:?}"
STEP=ssh-return

say() { printf 'agilio-offload: node %s: %s: %s\n' "$NODE" "$STEP" "$*"; }
die() {
  printf 'agilio-offload: node %s: %s: %s\n' "$NODE" "$STEP" "$*" >&2
  exit 1
}

# Milliseconds since the epoch (bash's EPOCHREALTIME, its decimal mark dropped whatever the
# locale).
now_ms() {
  local t=${EPOCHREALTIME//[!0-9]/}
  printf '%s' $((10#$t / 1000))
}

# A TCP connect to the node's SSH port, closed at once: no SSH session, no key.
port_open() {
  # shellcheck disable=SC2016 # expanded by the inner bash, from its arguments
  timeout "$PROBE_SECONDS" bash -c 'exec 3<>"/dev/tcp/$1/$2"' ssh-return-probe "$HOST" "$PORT" 2>/dev/null
}

# wait_until WANT SECONDS: until the port is WANT (open | closed), at most SECONDS.
wait_until() {
  local want=$1 deadline=$(($(now_ms) + $2 * 1000))
  while :; do
    if port_open; then
      [[ $want == open ]] && return 0
    else
      [[ $want == closed ]] && return 0
    fi
    (($(now_ms) < deadline)) || return 1
    sleep "$POLL_SECONDS"
  done
}

report() {
  printf '{"step":"%s","node":"%s","host":"%s","port":%d,"waited":%s,"gone":%s,"back":%s}\n' \
    "$STEP" "$NODE" "$HOST" "$PORT" "$1" "$2" "$3"
}

case "$ACTION" in
  apply)
    what="the driver step"
    state="drained (cordoned), its firmware selected, the nfp reload armed or done, no VFs yet"
    if [[ ${AGILIO_DRIVER_FACTS:-} != *'"reloadArmed":true'* ]]; then
      say "no detached nfp reload armed by the driver step: nothing to wait for"
      report false false true
      exit 0
    fi
    ;;
  undo)
    what="the firmware undo"
    state="drained (cordoned), its firmware link restored, the nfp reload armed or done, no VFs"
    ;;
  *) die "ACTION is '$ACTION', need apply or undo" ;;
esac

address="$HOST:$PORT"
say "waiting up to $GONE_SECONDS s for the SSH port $address to go away (the nfp reload takes the node's address with the PF)"
if ! wait_until closed "$GONE_SECONDS"; then
  say "the SSH port $address stayed up $GONE_SECONDS s after $what: no detached reload took it away (none armed, or it failed before rmmod: the next step on the node reports the reload's result)"
  report true false true
  exit 0
fi
say "the SSH port $address went away; waiting up to $BACK_SECONDS s for it to come back"
wait_until open "$BACK_SECONDS" ||
  die "the SSH port $address is not back $BACK_SECONDS s after the nfp reload $what armed took it away, need it answering: the node is $state. On the node's console: systemctl status agilio-offload-nfp-reload, ip addr; bring the address back (or reboot the node: the firmware choice survives it), then run pulumi up again"
say "the SSH port $address is back"
report true true true
