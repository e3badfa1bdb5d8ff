#!/usr/bin/env bash
# firmware: select the Agilio TC-offload firmware for the PF's card (the runbook's
# agilio-tc-fw-select.sh), and make the choice survive a reboot.
#
# Parameters (set in the prelude by components/scripts.py, never from the environment):
#   NODE    Kubernetes node name (used in messages only)
#   PF      the Agilio PF netdev
#   APP     firmware application directory under /lib/firmware/netronome: flower | flower-next
#   ASSY    the card's assembly ID (AMDAnnnn), or "scan" to read it from the card's debug dump
#   ACTION  apply | undo
#   LEASE_DIGEST     (apply) this command's digest, as the drain lease names it: apply refuses
#                    without a fresh drain of the node in this update (lib-lease.sh)
#
# apply: /lib/firmware/netronome/pci-<pciaddr>.nffw -> <APP>/nic_<ASSY>.nffw (AMDA0081 cards use
#   the AMDA0097 image: the link points straight at it, nothing is written into the vendor's
#   directories); the link's previous target, if any, is kept in /var/lib/agilio-offload for undo.
#   The initramfs gets the link and the image (dracut: install_items in
#   /etc/dracut.conf.d/90-agilio-offload.conf; Debian-like: the hook
#   /etc/initramfs-tools/hooks/agilio-offload, which exits 0 when it copied them) and is rebuilt
#   for all kernels. When (and only when) the link resolves to another image than the chosen one
#   (links are compared by the file they resolve to, not by their text),
#   /var/lib/agilio-offload/nfp-reload-pending asks the driver step for an nfp reload. Every
#   write is checked: a full disk or a read-only file system fails the step, naming the path.
# undo: the link back to what it was before apply (or removed), the dracut conf / hook removed,
#   the initramfs rebuilt, and, when the link changed (or a reload was left pending), the nfp
#   reload started (this is the last hardware step a destroy runs, so no later step would do it):
#   waited for here when this SSH session does not cross the card, else armed detached (rmmod a
#   few seconds later); the operator's ssh-return-after-undo step then waits, without a session,
#   for the node's SSH port to go and come back, and the reload-wait undo for the reload.
# Safe to re-run from any point: every change is preceded by a marker of the work it implies.
#
# Last stdout line: {"step","node","pf","pciAddress","changed","assembly","firmware","link",
#   "reloadPending","reloadStarted","reloadMode","initramfs"}
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
: "${NODE:?}" "${PF:?}" "${APP:?}" "${ASSY:?}" "${ACTION:?}"
STEP=firmware
. "${BASH_SOURCE[0]%/*}/lib-messages.sh"
. "${BASH_SOURCE[0]%/*}/lib-facts.sh"
. "${BASH_SOURCE[0]%/*}/lib-pf.sh"
. "${BASH_SOURCE[0]%/*}/lib-writes.sh"
. "${BASH_SOURCE[0]%/*}/lib-firmware-link.sh"
. "${BASH_SOURCE[0]%/*}/lib-firmware-select.sh"
. "${BASH_SOURCE[0]%/*}/lib-state.sh"
. "${BASH_SOURCE[0]%/*}/lib-lease.sh"
. "${BASH_SOURCE[0]%/*}/lib-reload-mode.sh"
. "${BASH_SOURCE[0]%/*}/lib-eswitch.sh"
. "${BASH_SOURCE[0]%/*}/lib-reload-wait.sh"
. "${BASH_SOURCE[0]%/*}/lib-reload.sh"
. "${BASH_SOURCE[0]%/*}/lib-initramfs.sh"

# How long a reload started by undo may run (the driver/vfs steps pass their PF_WAIT_SECONDS).
readonly UNDO_RELOAD_MAX_SECONDS=300

changed=false

dracut_conf() {
  printf '# agilio-offload: the Agilio firmware choice for PCI %s, so nfp finds it in the initramfs too\n' "$1"
  printf 'install_items+=" %s %s "' "$(pci_link "$1")" "$AGILIO_FW_DIR/$2"
}

initramfs_hook() {
  printf '#!/bin/sh\n'
  printf '# agilio-offload: the Agilio firmware choice for PCI %s, so nfp finds it in the initramfs too\n' "$1"
  # shellcheck disable=SC2016 # literal shell code for the hook
  printf '%s\n' 'PREREQ=""' 'prereqs() { echo "$PREREQ"; }' \
    'case "$1" in prereqs) prereqs; exit 0 ;; esac' \
    '. /usr/share/initramfs-tools/hook-functions'
  # copy_file returns 1 for a file already copied (the link's target, copied first): a hook's
  # exit status is its last command's, and mkinitramfs fails on a non-zero one.
  printf 'copy_file firmware %s || [ $? -eq 1 ] || exit 1\n' "$AGILIO_FW_DIR/$2"
  printf 'copy_file firmware %s || [ $? -eq 1 ] || exit 1\n' "$(pci_link "$1")"
  printf 'exit 0'
}

# set_link LINK TARGET: atomically; dies naming LINK when it cannot be set.
set_link() {
  local err
  err=$({ ln -sfn -- "$2" "$1.agilio-tmp" && mv -Tf -- "$1.agilio-tmp" "$1"; } 2>&1) ||
    die "setting the link $1 -> $2 failed (${err##*: }), need $AGILIO_FW_DIR writable"
}

# mark_reload_pending WHY: the marker the driver step acts on; removed by a successful reload.
mark_reload_pending() {
  local pci
  pci=$(pf_pci_address)
  [[ -z $pci ]] || write_file "$AGILIO_RELOAD_PCI" 644 "$pci"
  write_file "$AGILIO_RELOAD_MARKER" 644 "$1"
}

mark_initramfs_pending() { write_file "$AGILIO_INITRAMFS_MARKER" 644 "initramfs rebuild pending"; }


# finish_initramfs TOOL: rebuild when a change asked for it (also after an interrupted run).
finish_initramfs() {
  [[ -e $AGILIO_INITRAMFS_MARKER ]] || return 0
  if [[ $1 != none ]]; then
    say "rebuilding the initramfs ($1)"
    rebuild_initramfs "$1"
  fi
  remove_file "$AGILIO_INITRAMFS_MARKER"
  changed=true
}

apply() {
  require_pf
  local pci assembly image link current tool config content mode
  pci=$(pf_pci_address)
  assembly=$(resolve_assembly)
  image=$(firmware_image "$assembly")
  require_firmware_image "$image" "$assembly"
  link=$(pci_link "$pci")
  tool=$(initramfs_tool)
  if [[ -e $link && ! -L $link ]]; then
    die "$link is a regular file, need a symlink (agilio-offload does not overwrite firmware files)"
  fi

  current=$(readlink -- "$link" 2>/dev/null || true)
  if ! same_file "$link" "$AGILIO_FW_DIR/$image"; then
    [[ -e "$AGILIO_STATE_DIR/${link##*/}.orig" ]] ||
      write_file "$AGILIO_STATE_DIR/${link##*/}.orig" 644 "$current"
    mark_reload_pending "$link -> $image (was: ${current:-none})"
    [[ $tool == none ]] || mark_initramfs_pending
    say "firmware link $link -> $image (was: ${current:-none})"
    set_link "$link" "$image"
    changed=true
  fi

  config=$(initramfs_config_path "$tool")
  if [[ -n $config ]]; then
    if [[ $tool == dracut ]]; then
      content=$(dracut_conf "$pci" "$image") mode=644
    else
      content=$(initramfs_hook "$pci" "$image") mode=755
    fi
    if ! [[ -f $config && "$(<"$config")" == "$content" ]]; then
      mark_initramfs_pending
    fi
    write_if_changed "$config" "$mode" "$content" && changed=true
  fi
  finish_initramfs "$tool"

  facts_begin "$pci"
  fact_bool changed "$changed"
  fact_str assembly "$assembly"
  fact_str firmware "$image"
  fact_str link "$link"
  fact_bool reloadPending "$(reload_pending && echo true || echo false)"
  fact_bool reloadStarted false
  fact_str reloadMode ""
  fact_str initramfs "$tool"
}

# restore_link RECORD: put one link back as the record says, then drop the record.
restore_link() {
  local record=$1 link original current
  link=$AGILIO_FW_DIR/$(basename -- "$record" .orig)
  original=$(<"$record")
  current=$(readlink -- "$link" 2>/dev/null || true)
  if [[ -z $original && -L $link ]]; then
    mark_reload_pending "$link removed (was: $current)"
    say "removing firmware link $link (was: $current)"
    remove_file "$link"
    changed=true
  elif [[ -n $original && $current != "$original" ]]; then
    mark_reload_pending "$link -> $original (was: ${current:-none})"
    say "restoring firmware link $link -> $original"
    set_link "$link" "$original"
    changed=true
  fi
  remove_file "$record"
}

undo() {
  local record tool config
  tool=$(initramfs_tool)
  for record in "$AGILIO_STATE_DIR"/pci-*.nffw.orig; do
    [[ -e $record ]] || continue
    restore_link "$record"
  done
  config=$(initramfs_config_path "$tool")
  if [[ -n $config && -e $config ]]; then
    mark_initramfs_pending
    say "removing $config"
    remove_file "$config"
    changed=true
  fi
  finish_initramfs "$tool"
  choose_reload_mode
  reload_if_pending "$RELOAD_MODE" "$UNDO_RELOAD_MAX_SECONDS" any
  [[ $RELOAD_STARTED == true ]] && changed=true
  rmdir --ignore-fail-on-non-empty -- "$AGILIO_STATE_DIR" 2>/dev/null || true

  facts_begin "$(pf_pci_address)"
  fact_bool changed "$changed"
  fact_str assembly ""
  fact_str firmware ""
  fact_str link ""
  fact_bool reloadPending "$(reload_pending && echo true || echo false)"
  fact_bool reloadStarted "$RELOAD_STARTED"
  fact_str reloadMode "$RELOAD_MODE"
  fact_str initramfs "$tool"
}

case "$ACTION" in
  apply)
    lease_require "${LEASE_DIGEST:-}"
    apply
    lease_complete
    ;;
  undo) undo ;;
  *) die "ACTION is '$ACTION', need apply or undo" ;;
esac
print_facts
