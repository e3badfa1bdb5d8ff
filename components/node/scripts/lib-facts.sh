#!/usr/bin/env bash
# The facts line: the last stdout line of every step is one JSON object of facts.
# The including script sets NODE, STEP, PF.

FACTS=()

json_string() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/\\t}
  s=${s//$'\r'/\\r}
  s=$(printf '%s' "$s" | tr -d '\000-\037')
  printf '"%s"' "$s"
}

fact_raw() { FACTS+=("$(json_string "$1"):$2"); }

# fact_str KEY VALUE: a string, or null when VALUE is empty.
fact_str() {
  if [[ -n $2 ]]; then fact_raw "$1" "$(json_string "$2")"; else fact_raw "$1" null; fi
}

# fact_num KEY VALUE: a whole number, or null when VALUE is not one.
fact_num() {
  if [[ $2 =~ ^[0-9]+$ ]]; then fact_raw "$1" "$((10#$2))"; else fact_raw "$1" null; fi
}

fact_bool() {
  if [[ $2 == true ]]; then fact_raw "$1" true; else fact_raw "$1" false; fi
}

# The facts every step reports first: step, node, pf, pciAddress.
facts_begin() {
  fact_str step "$STEP"
  fact_str node "$NODE"
  fact_str pf "$PF"
  fact_str pciAddress "$1"
}

print_facts() {
  local IFS=,
  printf '{%s}\n' "${FACTS[*]}"
}
