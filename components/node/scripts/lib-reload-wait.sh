#!/usr/bin/env bash
# Waiting for the nfp reload and the PF.
# Uses: lib-messages.sh, lib-pf.sh, lib-state.sh.

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
