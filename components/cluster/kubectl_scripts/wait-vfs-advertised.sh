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
# error), and, for the hint on failure, VENDORS, DEVICES, DRIVERS (the plugin's selectors) and
# NODE_LABEL, NODE_LABEL_VALUE (the label the DaemonSet selects), NODE_LABEL_PATH (NODE_LABEL
# as one jsonpath field).
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

# The tolerations the DaemonSet controller gives every daemon pod, as key:effect, each with
# operator Exists (pkg/controller/daemon/util/daemonset_util.go
# `AddOrUpdateDaemonPodTolerations`; network-unavailable as the plugin uses hostNetwork). The
# plugin's DaemonSet sets none of its own, so any other NoSchedule or NoExecute taint keeps its
# pod off the node (daemon_controller.go `predicates`).
DAEMON_TOLERATIONS=" node.kubernetes.io/not-ready:NoExecute node.kubernetes.io/unreachable:NoExecute node.kubernetes.io/disk-pressure:NoSchedule node.kubernetes.io/memory-pressure:NoSchedule node.kubernetes.io/pid-pressure:NoSchedule node.kubernetes.io/unschedulable:NoSchedule node.kubernetes.io/network-unavailable:NoSchedule "
TOLERATED="the not-ready and unreachable NoExecute taints and the disk-, memory- and pid-pressure, unschedulable (cordon) and network-unavailable NoSchedule taints"

# The node's value of NODE_LABEL, then its taints as key:effect, one a line.
node_marks() {
  "${kubectl_[@]}" get node "$NODE" \
    -o "jsonpath={.metadata.labels.$NODE_LABEL_PATH}{\"\\n\"}{range .spec.taints[*]}{.key}:{.effect}{\"\\n\"}{end}"
}

# The taints in $1 (key:effect lines) that keep the plugin pod off, space-separated.
untolerated() {
  local taint found=""
  while read -r taint; do
    case $taint in
      *:NoSchedule | *:NoExecute) [[ $DAEMON_TOLERATIONS == *" $taint "* ]] || found+="${found:+ }$taint" ;;
    esac
  done <<<"$1"
  printf '%s' "$found"
}

# Why the DaemonSet has no pod on the node: the label it selects, or a taint it does not
# tolerate (tolerating only the taints its controller adds; cordon is one of them).
no_pod_cause() {
  local marks label="" taints=""
  if ! marks=$(node_marks 2>&1); then
    echo "no device plugin pod on $NODE (its labels and taints could not be read: $marks): the DaemonSet $NAMESPACE/$DAEMONSET runs only on nodes labelled $NODE_LABEL=$NODE_LABEL_VALUE without a NoSchedule or NoExecute taint other than $TOLERATED, which its controller tolerates; check them (kubectl describe node $NODE)"
    return
  fi
  label=${marks%%$'\n'*}
  if [[ $marks == *$'\n'* ]]; then
    taints=$(untolerated "${marks#*$'\n'}")
  fi
  if [[ $label != "$NODE_LABEL_VALUE" ]]; then
    echo "no device plugin pod on $NODE: the node lacks the label $NODE_LABEL=$NODE_LABEL_VALUE the DaemonSet $NAMESPACE/$DAEMONSET selects (the stack's $NODE-agilio-label patch sets it; kubectl get node $NODE --show-labels)"
  elif [[ -n $taints ]]; then
    echo "no device plugin pod on $NODE: the node has the taint(s) $taints, which the DaemonSet $NAMESPACE/$DAEMONSET does not tolerate (its controller adds tolerations only for $TOLERATED); remove the taint or wait until the node is Ready (kubectl describe node $NODE)"
  else
    echo "no device plugin pod on $NODE although it has the label $NODE_LABEL=$NODE_LABEL_VALUE and no taint the DaemonSet $NAMESPACE/$DAEMONSET does not tolerate: see the DaemonSet's events (kubectl --namespace $NAMESPACE describe daemonset $DAEMONSET)"
  fi
}

likely_cause() {
  local capacity=$1 allocatable=$2 pods=$3
  if [[ -z ${pods//[[:space:]]/} ]]; then
    no_pod_cause
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
