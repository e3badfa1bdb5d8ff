#!/usr/bin/env bash
# Cluster preflight (read-only): runs on the machine that runs `pulumi`, with kubectl and the
# stack's kubeconfig/context, before any node step changes anything. Every failed check prints
# one line naming the object and the fix; exit 1 when any check failed, 2 when the cluster
# cannot be asked (any kubectl read that fails: RBAC, the API server gone), 0 and a JSON line of
# what it found otherwise.
#
# Parameters (prelude, rendered by agilio-offload): NODES MASTERS TUNNELS KUBE_OVN_INSTALL
# MULTUS_INSTALL NAMESPACE RELEASE TUNNEL_FIELD_MANAGER NAD_CRD NAD_NAME NAD_NAMESPACE
# DP_NAMESPACE DP_CONFIG_MAP DP_SERVICE_ACCOUNT DP_DAEMON_SET KUBECONFIG_PATH KUBE_CONTEXT.
set -euo pipefail

: "${NODES:?}" "${MASTERS?}" "${TUNNELS?}" "${KUBE_OVN_INSTALL:?}" "${MULTUS_INSTALL:?}"
: "${NAMESPACE:?}" "${RELEASE:?}" "${TUNNEL_FIELD_MANAGER:?}" "${NAD_CRD:?}"
: "${KUBECONFIG_PATH?}" "${KUBE_CONTEXT?}" "${NAD_NAME:?}" "${NAD_NAMESPACE:?}"
: "${DP_NAMESPACE:?}" "${DP_CONFIG_MAP:?}" "${DP_SERVICE_ACCOUNT:?}" "${DP_DAEMON_SET:?}"

TUNNEL_ANNOTATION='ovn.kubernetes.io/tunnel_interface'
# Set on ovs-ovn when the stack lets go of its release (components/kube_ovn.py).
RETAINED_ANNOTATION='agilio-offload/retained-release'
# Objects applied by pulumi-kubernetes carry a field manager named pulumi-kubernetes or
# pulumi-kubernetes-<suffix> (provider.go fieldManagerName; await.go client-side create).
PULUMI_MANAGER_PREFIX='pulumi-kubernetes'

kubectl_cmd=(kubectl)
if [[ -n "$KUBECONFIG_PATH" ]]; then
  # kubectl does not expand a leading ~/.
  kubectl_cmd+=(--kubeconfig "${KUBECONFIG_PATH/#\~\//$HOME/}")
fi
if [[ -n "$KUBE_CONTEXT" ]]; then
  kubectl_cmd+=(--context "$KUBE_CONTEXT")
fi

problems=()
problem() { problems+=("$*"); }

# A read that fails inside a command substitution exits only that subshell, and some contexts
# (`read <<<"$(...)"`, `local x="$(...)"`) drop its status: the failure also leaves this marker,
# and `access_ok` (after every group of reads, and before the verdict) stops with exit 2.
state_dir="$(mktemp -d)"
trap 'rm -rf "$state_dir"' EXIT

# k ARGS...: kubectl with the stack's kubeconfig/context; a kubectl failure (RBAC, the API
# server gone) is not a finding about the cluster: exit 2 with what kubectl said.
k() {
  local out
  if ! out="$("${kubectl_cmd[@]}" "$@")"; then
    : >"$state_dir/access-failed"
    echo "cluster preflight: kubectl $* failed (see above): check access to the cluster" >&2
    exit 2
  fi
  printf '%s' "$out"
}

access_ok() {
  if [[ -e "$state_dir/access-failed" ]]; then
    echo "cluster preflight: a read of the cluster failed (above): check access (RBAC for the stack's kubeconfig/context); no finding is made from a partial read, nothing was changed" >&2
    exit 2
  fi
}

# get KIND NAME JSONPATH [NAMESPACE]: the jsonpath of one object, empty when it does not exist.
get() {
  local kind="$1" name="$2" path="$3" namespace="${4:-}" args=()
  [[ -n "$namespace" ]] && args=(--namespace "$namespace")
  k get "$kind" "$name" "${args[@]}" --ignore-not-found -o "jsonpath=$path"
}

last_word() {
  [[ "$#" -gt 0 ]] && printf '%s' "${!#}"
  return 0
}

# last_flag PREFIX WORDS...: the value of the last WORD starting with PREFIX (pflag: the last
# occurrence of a flag wins), empty when none does.
last_flag() {
  local prefix="$1" word value=''
  shift
  for word in "$@"; do
    [[ "$word" == "$prefix"* ]] && value="${word#"$prefix"}"
  done
  printf '%s' "$value"
}

pulumi_managed() {
  local manager
  for manager in "$@"; do
    [[ "$manager" == "$PULUMI_MANAGER_PREFIX"* ]] && return 0
  done
  return 1
}

# --- the cluster answers --------------------------------------------------------------------

if ! command -v kubectl >/dev/null; then
  echo "cluster preflight: kubectl is not on PATH of the machine running pulumi: install it" >&2
  exit 2
fi
if ! existing_nodes="$("${kubectl_cmd[@]}" get nodes -o 'jsonpath={.items[*].metadata.name}')"; then
  echo "cluster preflight: cannot list the cluster's nodes with kubectl${KUBE_CONTEXT:+ (context $KUBE_CONTEXT)}: check access (kubernetes.kubeconfigPath/context, RBAC) and that the cluster answers" >&2
  exit 2
fi

# --- every node the stack names exists (a NodePatch of a missing node would create it) ---------

check_node() {
  local node="$1" key="$2"
  if [[ " $existing_nodes " != *" $node "* ]]; then
    problem "node $node ($key) is not in the cluster (kubectl get node $node): fix the name in the stack config; a node patch would create a phantom node of that name"
  fi
}
for node in $NODES; do check_node "$node" "nodes[].name"; done
for node in $MASTERS; do check_node "$node" "kubeOvn.masterNodes[].name"; done

# --- tunnel interface annotations: none set by someone else to another NIC -----------------------

check_tunnel() {
  local node="${1%%=*}" uplink="${1#*=}" current owners owner
  [[ " $existing_nodes " == *" $node "* ]] || return 0
  current="$(get node "$node" "{.metadata.annotations.${TUNNEL_ANNOTATION//./\\.}}")"
  [[ -z "$current" || "$current" == "$uplink" ]] && return 0
  # Who owns the annotation field itself (managedFields fieldsV1 `f:metadata` ->
  # `f:annotations` -> `f:<key>`), not whether the stack's manager is anywhere on the Node: it
  # also owns pulumi.com/patchForce and pulumi.com/patchFieldManager. client-go jsonpath field
  # names end only at space . , [ ] $ @ { } (parser.go isTerminator); `\.` escapes a dot.
  owners="$(get node "$node" "{range .metadata.managedFields[*]}{.manager}{\"=\"}{.fieldsV1.f:metadata.f:annotations.f:${TUNNEL_ANNOTATION//./\\.}}{\"\\n\"}{end}")"
  owner="$(printf '%s\n' "$owners" | sed -n 's/^\([^=]*\)=..*$/\1/p' | paste -sd, -)"
  [[ ",$owner," == *",$TUNNEL_FIELD_MANAGER,"* ]] && return 0
  problem "node $node: annotation $TUNNEL_ANNOTATION is '$current', set outside this stack (by ${owner:-an unknown manager}), and the stack would set '$uplink': if '$current' is the Agilio port with the node IP, set nodes[].uplink: $current; else remove it first: kubectl annotate node $node $TUNNEL_ANNOTATION-"
}
for pair in $TUNNELS; do check_tunnel "$pair"; done
access_ok

# --- Kube-OVN ----------------------------------------------------------------------------------

ovs="$(get daemonset ovs-ovn "{.metadata.name}|{.metadata.annotations.meta\\.helm\\.sh/release-name}|{.metadata.annotations.meta\\.helm\\.sh/release-namespace}|{.metadata.annotations.${RETAINED_ANNOTATION}}" "$NAMESPACE")"
ovs_release=''
retained=''
if [[ -n "$ovs" ]]; then
  IFS='|' read -r _ ovs_release ovs_release_namespace retained <<<"$ovs"
  [[ "$ovs_release_namespace" == "$NAMESPACE" ]] || ovs_release=''
fi

check_kube_ovn_for_helm() {
  if [[ -n "$retained" ]]; then
    problem "Helm release $retained runs but this stack let go of it (pulumi destroy, or kubeOvn.install: existing; daemonset $NAMESPACE/ovs-ovn is marked $RETAINED_ANNOTATION): keep it with kubeOvn.install: existing, or adopt it back (README 'Rolling back': pulumi import kubernetes:helm.sh/v3:Release kube-ovn-release $retained ..., then kubectl annotate daemonset ovs-ovn --namespace $NAMESPACE $RETAINED_ANNOTATION-)"
    return 0
  fi
  [[ -z "$ovs" || "$ovs_release" == "$RELEASE" ]] && return 0
  local owner="install.sh or kubectl (no Helm release annotations)"
  [[ -n "$ovs_release" ]] && owner="Helm release $NAMESPACE/$ovs_release"
  problem "Kube-OVN already runs (daemonset $NAMESPACE/ovs-ovn from $owner) and the Helm release $NAMESPACE/$RELEASE cannot take it over (DaemonSet selectors are immutable): set kubeOvn.install: existing to keep it (this check then confirms it has offload on)"
}

# fix_line IFACE: the command that turns offload on; IFACE stays what the install has (empty:
# every node's node-IP NIC; the Agilio nodes' uplinks come from their annotations).
fix_line() {
  local iface="$1"
  if [[ -n "$ovs_release" ]]; then
    printf 'helm upgrade %s kubeovn/kube-ovn-v2 --namespace %s --reuse-values --set features.enableHardwareOffload=true --set features.enableLoadbalancer=false --set agent.mirroring.enabled=false' "$ovs_release" "$NAMESPACE"
  else
    printf 'HW_OFFLOAD=true ENABLE_LB=false ENABLE_MIRROR=false IFACE=%s bash install.sh (the install.sh of your Kube-OVN version, with the other variables you installed it with)' "$iface"
  fi
}

check_existing_kube_ovn() {
  if [[ -z "$ovs" ]]; then
    problem "kubeOvn.install is existing, but no Kube-OVN runs (daemonset $NAMESPACE/ovs-ovn not found): install it with offload ($(fix_line '')) or set kubeOvn.install: helm"
    return 0
  fi
  local raw hw_offload controller_args cni_args hw enable_lb enable_mirror iface wrong=()
  # Each read into a variable first: `read <<<"$(...)"` would drop a failed read's status.
  # The last HW_OFFLOAD entry wins when a container lists it twice.
  raw="$(get daemonset ovs-ovn '{.spec.template.spec.containers[?(@.name=="openvswitch")].env[?(@.name=="HW_OFFLOAD")].value}' "$NAMESPACE")"
  read -r -a hw_offload <<<"$raw"
  raw="$(get deployment kube-ovn-controller '{.spec.template.spec.containers[?(@.name=="kube-ovn-controller")].args[*]}' "$NAMESPACE")"
  read -r -a controller_args <<<"$raw"
  raw="$(get daemonset kube-ovn-cni '{.spec.template.spec.containers[?(@.name=="cni-server")].args[*]}' "$NAMESPACE")"
  read -r -a cni_args <<<"$raw"
  access_ok
  hw="$(last_word "${hw_offload[@]}")"
  enable_lb="$(last_flag --enable-lb= "${controller_args[@]}")"
  enable_mirror="$(last_flag --enable-mirror= "${cni_args[@]}")"
  iface="$(last_flag --iface= "${cni_args[@]}")"
  [[ "$hw" == "true" ]] || wrong+=("ovs-ovn HW_OFFLOAD is '${hw:-unset}', needs true")
  [[ "${#controller_args[@]}" -gt 0 ]] || wrong+=("deployment $NAMESPACE/kube-ovn-controller not found")
  [[ "${#controller_args[@]}" -eq 0 || "$enable_lb" == "false" ]] || wrong+=("kube-ovn-controller --enable-lb is '${enable_lb:-true (default)}', needs false")
  [[ "${#cni_args[@]}" -gt 0 ]] || wrong+=("daemonset $NAMESPACE/kube-ovn-cni not found")
  [[ "${#cni_args[@]}" -eq 0 || "$enable_mirror" == "false" ]] || wrong+=("kube-ovn-cni --enable-mirror is '${enable_mirror:-unset}', needs false")
  if [[ "${#wrong[@]}" -gt 0 ]]; then
    local joined
    joined="$(printf '%s; ' "${wrong[@]}")"
    problem "the running Kube-OVN does not have offload on (${joined%; }): reinstall it with $(fix_line "$iface")"
  fi
}

if [[ "$KUBE_OVN_INSTALL" == "helm" ]]; then
  check_kube_ovn_for_helm
else
  check_existing_kube_ovn
fi
access_ok

# --- Multus and the NetworkAttachmentDefinition CRD -----------------------------------------------

multus_lines="$(k get daemonsets --all-namespaces --selector app=multus -o 'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name} {.metadata.managedFields[*].manager}{"\n"}{end}')"
crd="$(get customresourcedefinition "$NAD_CRD" '{.metadata.name} {.metadata.managedFields[*].manager}')"

check_multus_for_stack() {
  local daemon_set manager_list managers
  while read -r daemon_set manager_list; do
    [[ -n "$daemon_set" ]] || continue
    read -r -a managers <<<"$manager_list"
    if ! pulumi_managed "${managers[@]}"; then
      problem "Multus already runs (daemonset $daemon_set, not applied by Pulumi): set multus.install: existing to reuse it (it must be the thick plugin), or remove it first"
    fi
  done <<<"$multus_lines"
  if [[ -n "$crd" ]]; then
    read -r -a managers <<<"${crd#* }"
    if ! pulumi_managed "${managers[@]}"; then
      problem "customresourcedefinition $NAD_CRD exists, not applied by Pulumi (another Multus install): set multus.install: existing to reuse it"
    fi
  fi
}

check_existing_multus() {
  local daemon_set thick='' commands
  if [[ -z "$crd" ]]; then
    problem "multus.install is existing, but customresourcedefinition $NAD_CRD is not in the cluster: install Multus (thick) first or set multus.install: stack"
  fi
  if [[ -z "${multus_lines//[[:space:]]/}" ]]; then
    problem "multus.install is existing, but no Multus runs (no daemonset labelled app=multus in any namespace): install the thick plugin first or set multus.install: stack"
    return 0
  fi
  while read -r daemon_set _; do
    [[ -n "$daemon_set" ]] || continue
    commands="$(get daemonset "${daemon_set#*/}" '{.spec.template.spec.containers[*].command[*]}' "${daemon_set%%/*}")"
    # The thick plugin's daemon is multus-daemon; the thin one's entrypoint is thin_entrypoint.
    [[ " $commands " == *multus-daemon* ]] && thick="$daemon_set"
  done <<<"$multus_lines"
  if [[ -z "$thick" ]]; then
    problem "the running Multus is not the thick plugin (no container runs multus-daemon in the daemonsets labelled app=multus): SR-IOV offload needs thick Multus; deploy upstream's multus-daemonset-thick.yml or set multus.install: stack"
  fi
}

if [[ "$MULTUS_INSTALL" == "stack" ]]; then
  check_multus_for_stack
else
  check_existing_multus
fi
access_ok

# --- objects the stack creates: none there already unless Pulumi applied it -------------------

# foreign KIND NAME NAMESPACE: succeeds when the object exists and Pulumi did not apply it.
foreign() {
  local found managers
  found="$(get "$1" "$2" '{.metadata.name} {.metadata.managedFields[*].manager}' "$3")"
  [[ -n "$found" ]] || return 1
  read -r -a managers <<<"${found#* }"
  ! pulumi_managed "${managers[@]}"
}

check_device_plugin_objects() {
  local found=() deletes=() imports=() kind name token resource
  for kind in daemonset serviceaccount configmap; do
    case "$kind" in
      daemonset) name="$DP_DAEMON_SET" token='kubernetes:apps/v1:DaemonSet' resource='sriov-device-plugin-ds' ;;
      serviceaccount) name="$DP_SERVICE_ACCOUNT" token='kubernetes:core/v1:ServiceAccount' resource='sriov-device-plugin-sa' ;;
      configmap) name="$DP_CONFIG_MAP" token='kubernetes:core/v1:ConfigMap' resource='sriov-device-plugin-config' ;;
    esac
    if foreign "$kind" "$name" "$DP_NAMESPACE"; then
      found+=("$kind $DP_NAMESPACE/$name")
      deletes+=("$kind/$name")
      imports+=("pulumi import $token $resource $DP_NAMESPACE/$name --parent <urn of sriov-device-plugin>")
    fi
  done
  [[ "${#found[@]}" -gt 0 ]] || return 0
  local listed adopt
  listed="$(printf '%s, ' "${found[@]}")"
  adopt="$(printf '%s; ' "${imports[@]}")"
  problem "the SR-IOV device plugin objects the stack creates already exist, not applied by Pulumi (${listed%, }; the runbook's kubectl apply of the upstream manifests makes them), and pulumi up would fail with AlreadyExists after every node was changed: remove them first: kubectl delete --namespace $DP_NAMESPACE ${deletes[*]} (VFs stay on the nodes; kubelet stops advertising them until the stack's plugin runs), or adopt them: ${adopt%; }"
}

check_nad() {
  if [[ -z "$(get namespace "$NAD_NAMESPACE" '{.metadata.name}')" ]]; then
    problem "nad.namespace $NAD_NAMESPACE does not exist, and the NetworkAttachmentDefinition would fail after every node was changed: fix nad.namespace in the stack config, or create it first: kubectl create namespace $NAD_NAMESPACE"
    return 0
  fi
  # Without the CRD (Multus not installed yet) no NAD can exist.
  [[ -n "$crd" ]] || return 0
  if foreign "$NAD_CRD" "$NAD_NAME" "$NAD_NAMESPACE"; then
    problem "networkattachmentdefinition $NAD_NAMESPACE/$NAD_NAME already exists, not applied by Pulumi: choose another nad.name, or remove it first (pods using it keep their interfaces): kubectl delete $NAD_CRD $NAD_NAME --namespace $NAD_NAMESPACE"
  fi
}

check_device_plugin_objects
check_nad
access_ok

# --- verdict -------------------------------------------------------------------------------------

if [[ "${#problems[@]}" -gt 0 ]]; then
  for line in "${problems[@]}"; do
    echo "cluster preflight: $line" >&2
  done
  echo "cluster preflight: ${#problems[@]} problem(s); nothing was changed on any node" >&2
  exit 1
fi
printf '{"nodes":"%s","kubeOvn":"%s","multus":"%s","kubeOvnRelease":"%s"}\n' \
  "$NODES" "$KUBE_OVN_INSTALL" "$MULTUS_INSTALL" "$ovs_release"
