#!/usr/bin/env bash
# drain-within-bound: drain NODE only while fewer than MAX_UNAVAILABLE other Agilio nodes of the
# stack are cordoned. Runs on the operator's machine.
#
# The rollout's lanes keep at most MAX_UNAVAILABLE nodes between drain and uncordon, but only
# among the steps of one update: a node an earlier update left cordoned (its drain or a later
# step failed) still counts as out, and a change that re-runs a node ahead of it in its lane
# would drain that one too. So the node is counted against the others first, cordoned, counted
# again (a concurrent drain in another lane may have cordoned its node meanwhile: then both
# refuse, and neither is drained), and only then drained.
#
# Parameters (set in the prelude by components/node/agilio_node.py): NODE, MAX_UNAVAILABLE,
# SELECTOR (the label every Agilio node of the stack carries), DRAIN_TIMEOUT.
# Arguments: the kubectl command to use, e.g. `kubectl --context prod`.
# Exit 0 drained; 1 refused or the drain failed (kubectl's own message); 2 on bad arguments.
set -euo pipefail

if (($# == 0)); then
  echo "drain-within-bound: no kubectl command given (e.g. kubectl --context prod)" >&2
  exit 2
fi
kubectl_=("$@")

# The Agilio nodes other than NODE that are cordoned, space separated.
cordoned_others() {
  local listed name flag found=()
  listed=$("${kubectl_[@]}" get nodes --selector "$SELECTOR" \
    -o 'jsonpath={range .items[*]}{.metadata.name}{"="}{.spec.unschedulable}{"\n"}{end}')
  while IFS='=' read -r name flag; do
    [[ -n $name && $name != "$NODE" && $flag == true ]] && found+=("$name")
  done <<<"$listed"
  printf '%s' "${found[*]}"
}

refuse() {
  local others=$1 count names=()
  read -r -a names <<<"$others"
  count=${#names[@]}
  echo "agilio-offload: node $NODE: drain refused: $others $( ((count == 1)) && echo is || echo are) cordoned, and draining $NODE too would take $((count + 1)) Agilio nodes out (rollout.maxUnavailable $MAX_UNAVAILABLE); nothing was changed on $NODE. A node left cordoned by an earlier update that failed: let that update finish first (pulumi up with its config: the node continues where it stopped and is uncordoned), then make this change. A node cordoned by hand: uncordon it once it may take pods again (kubectl uncordon <node>), or wait for its maintenance to end." >&2
  exit 1
}

too_many() {
  local others=$1 names=()
  read -r -a names <<<"$others"
  ((${#names[@]} >= MAX_UNAVAILABLE))
}

was=$("${kubectl_[@]}" get node "$NODE" -o 'jsonpath={.spec.unschedulable}')
others=$(cordoned_others)
too_many "$others" && refuse "$others"
"${kubectl_[@]}" cordon "$NODE"
others=$(cordoned_others)
if too_many "$others"; then
  [[ $was == true ]] || "${kubectl_[@]}" uncordon "$NODE" >/dev/null
  refuse "$others"
fi
exec "${kubectl_[@]}" drain "$NODE" --ignore-daemonsets --delete-emptydir-data "--timeout=$DRAIN_TIMEOUT"
