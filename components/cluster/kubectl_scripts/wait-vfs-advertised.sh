#!/usr/bin/env bash
# wait-vfs-advertised: wait, bounded, until kubelet advertises a node's VFs (the runbook's
# registration check, `kubectl describe node ... | grep corigine`): the node's
# status.capacity and status.allocatable of RESOURCE equal EXPECTED, while the node's SR-IOV
# device plugin pod runs. Runs on the operator's machine.
#
# Parameters (set in the prelude by components/cluster/vf_registration.py): NODE, RESOURCE,
# RESOURCE_PATH (RESOURCE with its dots escaped for a kubectl jsonpath), EXPECTED,
# TIMEOUT_SECONDS, INTERVAL_SECONDS, NAMESPACE, DAEMONSET, POD_SELECTOR, WITHOUT_PLUGIN
# (pass: no device plugin DaemonSet yet is a pass, as on the first rollout; fail: it is an
# error), and VENDORS, DEVICES, DRIVERS (the plugin's selectors, for the hint on failure).
# Arguments: the kubectl command to use, e.g. `kubectl --context prod`.
#
# Last line on success: one JSON object with the numbers seen. Exit 0 when advertised (or no
# plugin yet with WITHOUT_PLUGIN=pass), 1 when not advertised in time, 2 on bad arguments.
set -euo pipefail

if (($# == 0)); then
  echo "wait-vfs-advertised: no kubectl command given (e.g. kubectl --context prod)" >&2
  exit 2
fi
kubectl_=("$@")

# kubelet keeps a stopped plugin's devices in capacity, unhealthy, for 5 minutes
# (endpointStopGracePeriod, pkg/kubelet/cm/devicemanager/types.go) while allocatable drops at
# once: with no VFs expected, allocatable alone decides.
counts_match() {
  local capacity=${1:-0} allocatable=${2:-0}
  ((allocatable == EXPECTED)) || return 1
  ((EXPECTED == 0 || capacity == EXPECTED))
}

json_number() {
  if [[ -n $1 ]]; then printf '%s' "$1"; else printf 'null'; fi
}

report() {
  printf '{"node": "%s", "resource": "%s", "expected": %s, "capacity": %s, "allocatable": %s, "checked": %s}\n' \
    "$NODE" "$RESOURCE" "$EXPECTED" "$(json_number "$1")" "$(json_number "$2")" "$3"
}

# The plugin's pods on this node, one line each: name, phase, deletion time (empty unless the
# pod is terminating).
plugin_pods() {
  "${kubectl_[@]}" get pods --namespace "$NAMESPACE" --selector "$POD_SELECTOR" \
    --field-selector "spec.nodeName=$NODE" \
    -o 'jsonpath={range .items[*]}{.metadata.name}{" "}{.status.phase}{" "}{.metadata.deletionTimestamp}{"\n"}{end}'
}

# The pods as one line for a message: "name (phase)" or "name (phase, terminating)".
describe_pods() {
  local name phase deleted described=""
  while read -r name phase deleted; do
    [[ -n $name ]] || continue
    described+="${described:+; }$name (${phase:-Unknown}${deleted:+, terminating})"
  done <<<"$1"
  printf '%s' "${described:-none}"
}

plugin_running() {
  local name phase deleted
  while read -r name phase deleted; do
    if [[ -n $name && $phase == Running && -z $deleted ]]; then
      return 0
    fi
  done <<<"$1"
  return 1
}

# capacity/allocatable of RESOURCE on the node; either side empty when the node has none.
node_counts() {
  "${kubectl_[@]}" get node "$NODE" \
    -o "jsonpath={.status.capacity.$RESOURCE_PATH}/{.status.allocatable.$RESOURCE_PATH}"
}

likely_cause() {
  local capacity=$1 allocatable=$2 pods=$3
  if [[ -z ${pods//[[:space:]]/} ]]; then
    echo "no device plugin pod on $NODE: the DaemonSet $NAMESPACE/$DAEMONSET runs only on nodes labelled agilio-offload/agilio-cx=true and tolerates no taint; check the node's labels and taints (kubectl describe node $NODE)"
  elif ! plugin_running "$pods"; then
    echo "the device plugin pod on $NODE is not running: kubectl --namespace $NAMESPACE describe pod and kubectl logs it"
  elif ((${allocatable:-0} == 0)); then
    echo "the plugin runs but advertises no VF: its selectors match none of the node's VFs (agilio-offload:sriov.vendors=$VENDORS, sriov.devices=$DEVICES, sriov.drivers=$DRIVERS; a Corigine-branded card has vendor 1da8, an NFP3800's VFs are device 3803), or the VFs are missing (sriov_numvfs of the PF); the plugin logs 'no devices in device pool' then"
  elif ((${allocatable:-0} < EXPECTED)); then
    echo "fewer VFs advertised than created: some VFs are missing, unhealthy or bound to a driver other than sriov.drivers=$DRIVERS (lspci -k on the node)"
  elif ((${allocatable:-0} > EXPECTED)); then
    echo "more VFs advertised than this node has: the selectors also match other devices (sriov.vendors=$VENDORS, sriov.devices=$DEVICES), or VFs of another PF"
  else
    echo "capacity differs from allocatable: kubelet counts some VFs as unhealthy; the plugin's log says which"
  fi
}

exists=$("${kubectl_[@]}" get daemonset "$DAEMONSET" --namespace "$NAMESPACE" --ignore-not-found -o name) || {
  echo "wait-vfs-advertised: cannot read the DaemonSet $NAMESPACE/$DAEMONSET (see kubectl's error above): check the kubeconfig, context and that the cluster is reachable" >&2
  exit 1
}
if [[ -z $exists ]]; then
  if [[ $WITHOUT_PLUGIN == pass ]]; then
    echo "agilio-offload: $NODE: no device plugin DaemonSet $NAMESPACE/$DAEMONSET yet (first rollout): the cluster check vfs-advertised waits for $RESOURCE once the plugin is up"
    report "" "" false
    exit 0
  fi
  echo "wait-vfs-advertised: $NODE: the device plugin DaemonSet $NAMESPACE/$DAEMONSET does not exist" >&2
  exit 1
fi

deadline=$((SECONDS + TIMEOUT_SECONDS))
capacity="" allocatable="" pods="" problem=""
while :; do
  problem=""
  if counts=$(node_counts 2>&1); then
    capacity=${counts%%/*} allocatable=${counts#*/}
    # Numbers only reach arithmetic: kubelet writes a device count as a plain integer.
    if [[ ! $capacity =~ ^[0-9]*$ || ! $allocatable =~ ^[0-9]*$ || $counts != */* ]]; then
      problem="unexpected answer for node $NODE: $counts"
      capacity="" allocatable=""
    fi
  else
    problem="reading node $NODE failed: $counts"
  fi
  if pods=$(plugin_pods 2>&1); then
    if [[ -z $problem ]] && plugin_running "$pods" && counts_match "$capacity" "$allocatable"; then
      echo "agilio-offload: $NODE advertises $RESOURCE: capacity ${capacity:-0}, allocatable ${allocatable:-0} (expected $EXPECTED)"
      report "$capacity" "$allocatable" true
      exit 0
    fi
  else
    problem="reading the device plugin pods failed: $pods"
    pods=""
  fi
  if ((SECONDS >= deadline)); then
    break
  fi
  sleep "$INTERVAL_SECONDS"
done

{
  echo "wait-vfs-advertised: $NODE does not advertise its VFs after ${TIMEOUT_SECONDS}s: $RESOURCE capacity ${capacity:-none}, allocatable ${allocatable:-none}, expected $EXPECTED"
  echo "  device plugin pods on $NODE ($NAMESPACE, $POD_SELECTOR): $(describe_pods "$pods")"
  if [[ -n $problem ]]; then
    echo "  last error: $problem"
  fi
  echo "  likely cause: $(likely_cause "$capacity" "$allocatable" "$pods")"
} >&2
exit 1
