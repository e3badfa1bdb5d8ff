#!/usr/bin/env bash
# The initramfs: which tool builds it, its config for the firmware choice, the rebuild.
# Uses: lib-messages.sh, lib-state.sh (its AGILIO_STATE_DIR is read when this part is sourced).
# shellcheck disable=SC2034 # the constants are for the including script

# dracut | initramfs-tools | none
initramfs_tool() {
  if command -v dracut >/dev/null 2>&1; then
    echo dracut
  elif command -v update-initramfs >/dev/null 2>&1; then
    echo initramfs-tools
  else
    echo none
  fi
}

readonly AGILIO_DRACUT_CONF=/etc/dracut.conf.d/90-agilio-offload.conf
readonly AGILIO_INITRAMFS_HOOK=/etc/initramfs-tools/hooks/agilio-offload
readonly AGILIO_INITRAMFS_MARKER="$AGILIO_STATE_DIR/initramfs-pending"

initramfs_config_path() {
  case "$1" in
    dracut) echo "$AGILIO_DRACUT_CONF" ;;
    initramfs-tools) echo "$AGILIO_INITRAMFS_HOOK" ;;
  esac
}

# rebuild_initramfs TOOL: all installed kernels, so the next boot sees the firmware choice.
rebuild_initramfs() {
  local out
  case "$1" in
    dracut) out=$(dracut -f --regenerate-all 2>&1) || die "dracut -f --regenerate-all failed: $(tail -n1 <<<"$out"), need a rebuilt initramfs" ;;
    initramfs-tools) out=$(update-initramfs -u -k all 2>&1) || die "update-initramfs -u -k all failed: $(tail -n1 <<<"$out"), need a rebuilt initramfs" ;;
  esac
}
