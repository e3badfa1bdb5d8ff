#!/usr/bin/env bash
# Messages of the agilio-offload node scripts: progress for the operator goes to stdout; an error
# is ONE line on stderr
#   agilio-offload: node <NODE>: <STEP>: <what> is <seen>, need <needed>
# and the script exits 1. The including script sets NODE and STEP first.
#
# The node scripts source the lib-*.sh parts they use, each with its own line
#     . "${BASH_SOURCE[0]%/*}/lib-<part>.sh"
# listing a part after the parts it uses. components/scripts.py (render_script) inlines each
# listed part once at its line, so the command that reaches a node is one self-contained
# script carrying only the parts it sources; run from a checkout, the lines source the files.
# Rendering drops comment lines and blank lines (never inside a heredoc): a comment edit here
# changes no command.

say() {
  printf 'agilio-offload: node %s: %s: %s\n' "$NODE" "$STEP" "$*"
}

die() {
  printf 'agilio-offload: node %s: %s: %s\n' "$NODE" "$STEP" "$*" >&2
  exit 1
}
