#!/usr/bin/env bash
# Writes that never fail silently.
# `set -e` does not apply inside functions called from `&&`, `||` or `if`: every write is checked
# here and fails the step with the path and the error (a full disk, a read-only file system).
# Uses: lib-messages.sh.

# write_file PATH MODE CONTENT: PATH holds CONTENT (and a newline) with MODE, replaced atomically.
write_file() {
  local path=$1 tmp="$1.agilio-tmp" err
  if ! err=$({ mkdir -p -- "${path%/*}" && printf '%s\n' "$3" >"$tmp" && chmod "$2" "$tmp" &&
    mv -f -- "$tmp" "$path"; } 2>&1); then
    rm -f -- "$tmp" 2>/dev/null || true
    die "writing $path failed (${err##*: }), need a writable file system with free space for it"
  fi
}

# remove_file PATH: gone (or never there); dies naming PATH when it cannot be removed.
remove_file() {
  local err
  err=$(rm -f -- "$1" 2>&1) || die "removing $1 failed (${err##*: }), need it removable"
}

# write_if_changed PATH MODE CONTENT: replace PATH atomically when CONTENT differs. Returns 0 when
# it wrote, 1 when PATH already had CONTENT; a failed write fails the step (write_file).
write_if_changed() {
  local path=$1 mode=$2 content=$3
  if [[ -f $path ]] && [[ "$(<"$path")" == "$content" ]] && [[ "$(stat -c %a "$path")" == "$mode" ]]; then
    return 1
  fi
  write_file "$path" "$mode" "$content"
  return 0
}
