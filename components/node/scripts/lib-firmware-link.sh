#!/usr/bin/env bash
# The firmware directory and the per-card link nfp loads (pci-<addr>.nffw).
# shellcheck disable=SC2034 # AGILIO_FW_DIR is for the including script

readonly AGILIO_FW_DIR=/lib/firmware/netronome

pci_link() { printf '%s/pci-%s.nffw' "$AGILIO_FW_DIR" "$1"; }
