#!/usr/bin/env bash
# The state directory and the nfp reload's marker files and unit.
# shellcheck disable=SC2034 # the constants are for the including script

readonly AGILIO_STATE_DIR=/var/lib/agilio-offload
readonly AGILIO_RELOAD_MARKER="$AGILIO_STATE_DIR/nfp-reload-pending"
# Why the last reload failed its proof (one line), removed when a reload starts.
readonly AGILIO_RELOAD_FAILED="$AGILIO_STATE_DIR/nfp-reload-failed"
# The PF's PCI address while a reload is pending (the PF netdev is gone after a failed one).
readonly AGILIO_RELOAD_PCI="$AGILIO_STATE_DIR/nfp-reload-pci"
readonly AGILIO_RELOAD_UNIT=agilio-offload-nfp-reload
readonly AGILIO_POLL_SECONDS=0.2

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
