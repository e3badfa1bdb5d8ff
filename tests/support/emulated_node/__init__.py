"""An emulated Agilio CX node for the node-script tests.

A private mount namespace (`unshare --mount`) in which `/sys` is a FUSE filesystem with the
kernel's semantics for an nfp PF (`sriov_numvfs`, VFs, representors, driver unload/reload),
`/lib/firmware/netronome` and the persistence directories are temp dirs, `ethtool`, `modprobe`,
`rmmod`, `dracut`, `update-initramfs`, `udevadm`, `systemctl`, `systemd-run` and `devlink` are
stand-ins that record every call, and a real OpenSSH server listens on 127.0.0.1.

Modules: `spec` (what a test can configure), `card` (the hardware and driver model), `sysfs`
(the FUSE filesystem), `tools` (the stand-ins' behaviour), `machine` (the process inside the
namespace), `standin` (the stand-in client, run as a plain file with `python -S`), `harness`
(the host side: start, stop, ssh, state) and `plugin` (pytest fixtures).
"""
