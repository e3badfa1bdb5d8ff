#!/usr/bin/env bash
# Whole numbers and kernel versions.

is_count() { [[ $1 =~ ^[0-9]+$ ]]; }

# at_least HAVE NEED: HAVE is a whole number >= NEED.
at_least() { is_count "$1" && ((10#$1 >= $2)); }

# version_at_least HAVE NEED: dotted numeric compare of the leading digits (5.15.0-91 >= 5.7).
version_at_least() {
  local have need i a b
  IFS=. read -r -a have <<<"${1%%[!0-9.]*}"
  IFS=. read -r -a need <<<"$2"
  for i in 0 1 2; do
    a=${have[i]:-0}
    b=${need[i]:-0}
    ((10#$a > 10#$b)) && return 0
    ((10#$a < 10#$b)) && return 1
  done
  return 0
}
