#!/usr/bin/env bash
# Firmware selection (the runbook's agilio-tc-fw-select.sh). The including script sets PF, APP,
# ASSY.
# Uses: lib-messages.sh, lib-firmware-link.sh.
# shellcheck disable=SC2153 # ASSY is the including script's, not a misspelt assy

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

# same_file A B: A and B resolve to the same existing file (links compared by their target,
# not by their text).
same_file() {
  local a b
  a=$(readlink -e -- "$1" 2>/dev/null) || return 1
  b=$(readlink -e -- "$2" 2>/dev/null) || return 1
  [[ $a == "$b" ]]
}
