#!/usr/bin/env bash
# The node's drain lease: a hardware step changes the node only after the node's drain step ran
# in the same `pulumi up`. The drain step prints a fresh random token on the operator's machine;
# the `drained` step, right after it, records that token here with the digest of each hardware
# step's command the drain was for. A hardware step's apply then refuses before it changes
# anything unless the lease exists, names its own command's digest, and is not one it already
# completed with; on success it records the token it completed with. `pulumi up --target
# <node>-vfs` leaves the drain and `drained` untouched (untargeted resources keep their old
# state), so the lease there is the old one, for other commands or already used: the step refuses.
# A failed step records nothing: its re-run (the node still drained) proceeds. An undo checks
# nothing (a destroy drains first: drain-before-undo is deleted before the hardware steps);
# `drained`'s own undo, after the hardware undo, removes the lease files.
# Uses: lib-messages.sh, lib-writes.sh, lib-state.sh.
# shellcheck disable=SC2034 # the constants are for the including script

readonly AGILIO_LEASE="$AGILIO_STATE_DIR/drain-lease"
readonly AGILIO_LEASE_HINT="run pulumi up without --target, or add --target $NODE-drain --target-dependents"
LEASE_TOKEN=
# Whether lease_record or lease_forget changed a file.
LEASE_CHANGED=false

# lease_text TOKEN FIRMWARE DRIVER VFS: the lease file's content.
lease_text() {
  printf 'token %s\nfirmware %s\ndriver %s\nvfs %s' "$1" "$2" "$3" "$4"
}

# lease_field KEY: the value of KEY in the current lease (empty: no lease or no such key).
lease_field() {
  [[ -f $AGILIO_LEASE ]] || return 0
  local key value
  while read -r key value; do
    [[ $key == "$1" ]] && printf '%s' "$value"
  done <"$AGILIO_LEASE"
  return 0
}

# lease_record TOKEN FIRMWARE DRIVER VFS: the drained step. A token already recorded for other
# commands means the drain did not run in this update; the same lease again changes nothing.
lease_record() {
  local token=$1 wanted current
  [[ $token =~ ^[0-9a-f]{32}$ ]] ||
    die "drain lease token is '${token}', need the 32 hex digits the drain step prints (did $NODE-drain run?)"
  wanted=$(lease_text "$@")
  current=$(cat -- "$AGILIO_LEASE" 2>/dev/null || true)
  if [[ $current == "$wanted" ]]; then
    say "drain lease $token already recorded"
    return 0
  fi
  [[ "$(lease_field token)" != "$token" ]] ||
    die "drain lease $token is the one already recorded for other step commands, need a fresh drain of $NODE in this update (the drain step did not run: pulumi up --target?); $AGILIO_LEASE_HINT"
  write_file "$AGILIO_LEASE" 600 "$wanted"
  LEASE_CHANGED=true
  say "drain lease $token recorded"
}

# lease_require DIGEST: a hardware step's apply, before it changes anything.
lease_require() {
  local token expected used
  token=$(lease_field token)
  [[ -n $token ]] ||
    die "drain lease is missing, need a fresh drain of $NODE in this update before $STEP changes it (the drain step did not run: pulumi up --target?); $AGILIO_LEASE_HINT"
  expected=$(lease_field "$STEP")
  [[ $expected == "$1" ]] ||
    die "drain lease $token is for another $STEP command, need a fresh drain of $NODE in this update for this one (the drain step did not run: pulumi up --target?); $AGILIO_LEASE_HINT"
  used=$(cat -- "$AGILIO_LEASE-$STEP" 2>/dev/null || true)
  [[ $used != "$token" ]] ||
    die "drain lease $token was already used by $STEP, need a fresh drain of $NODE in this update (the drain step did not run: pulumi up --target?); $AGILIO_LEASE_HINT"
  LEASE_TOKEN=$token
}

# lease_complete: a hardware step's apply succeeded with the lease lease_require found.
lease_complete() {
  write_file "$AGILIO_LEASE-$STEP" 600 "$LEASE_TOKEN"
}

# lease_forget: the node leaves the stack; its lease files go.
lease_forget() {
  local path
  for path in "$AGILIO_LEASE" "$AGILIO_LEASE"-*; do
    [[ -e $path ]] || continue
    remove_file "$path"
    LEASE_CHANGED=true
    say "removed $path"
  done
  rmdir --ignore-fail-on-non-empty -- "$AGILIO_STATE_DIR" 2>/dev/null || true
}
