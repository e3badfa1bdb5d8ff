#!/usr/bin/env bash
# The README's two commands, each doing its own set-up on a fresh Debian/Ubuntu machine:
#   ./dev.sh plan [--stack dev] [...]   offline plan of a stack (python -m tools.plan)
#   ./dev.sh test [pytest args]         the whole test suite (what CI runs through .ci/run)
# Set-up: Debian packages the step needs (apt-get, as root or through sudo), then .venv with the
# pinned requirements; both are skipped when already in place.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

PYTHON="${PYTHON:-python3}"
# Debian packages: the venv module for every command; for the tests also the OpenSSH server and
# FUSE that the emulated Agilio node runs on, and kubectl-free tools only.
PLAN_PACKAGES=(python3-venv)
TEST_PACKAGES=(python3-venv openssh-server openssh-client fuse3 libfuse2 util-linux iproute2)

log() { printf 'dev.sh: %s\n' "$*" >&2; }

missing_packages() {
  local pkg
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      printf '%s\n' "$pkg"
    fi
  done
}

install_packages() {
  local missing
  mapfile -t missing < <(missing_packages "$@")
  [ "${#missing[@]}" -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { log "need root or sudo to install: ${missing[*]}"; exit 1; }
    sudo=(sudo)
  fi
  log "installing Debian packages: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

# ensure_venv DIR REQUIREMENTS: DIR is a venv with REQUIREMENTS installed (re-done when any
# requirements file changes).
ensure_venv() {
  local venv="$1" requirements="$2" stamp
  if [ ! -x "$venv/bin/python" ]; then
    log "creating $venv with $("$PYTHON" --version)"
    "$PYTHON" -m venv "$venv"
  fi
  stamp="$venv/.installed-$(basename "$requirements")"
  if [ ! -f "$stamp" ] || ! cat requirements*.txt | cmp -s - "$stamp"; then
    log "installing $requirements into $venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
    cat requirements*.txt >"$stamp"
  fi
}

command="${1:-}"
[ "$#" -gt 0 ] && shift
case "$command" in
  plan)
    install_packages "${PLAN_PACKAGES[@]}"
    ensure_venv .venv requirements.txt
    exec .venv/bin/python -m tools.plan "$@"
    ;;
  test)
    install_packages "${TEST_PACKAGES[@]}"
    ensure_venv .venv requirements-dev.txt
    # The Kubernetes security scanner has its own venv: its many pins must not move ours.
    ensure_venv .venv-scan requirements-scan.txt
    # TEST_WORKERS=0 runs the suite in one process (pytest-xdist's -n 0). loadgroup keeps the
    # tests of one xdist_group (the day-2 scenarios, each starting from the state the one
    # before left) on one worker, in file order.
    exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" --dist loadgroup "$@"
    ;;
  *)
    echo "usage: ./dev.sh plan [--stack NAME] [--out DIR] [--baseline DIR] | ./dev.sh test [pytest args]" >&2
    exit 2
    ;;
esac
