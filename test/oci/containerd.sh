#!/usr/bin/env bash
# A private containerd for the OCI runtime's tests (test/integration/oci.test.ts) and CI:
# its own root, state directory and socket under DIR, nothing of a system containerd.
#   test/oci/containerd.sh start DIR   start it (waits until it answers), pid in DIR/containerd.pid
#   test/oci/containerd.sh stop DIR    stop it, its shims and their containers; remove DIR
# The tests find it through TOROV_CONTAINERD_SOCKET=DIR/containerd.sock.
set -euo pipefail
cmd=${1:-}; dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then echo "usage: $0 start|stop DIR" >&2; exit 2; fi
case "$cmd" in
start)
  command -v containerd >/dev/null || { echo "$0: containerd is not installed (apt-get install containerd runc)" >&2; exit 1; }
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  # Only what ctr run needs: no CRI plugin (Kubernetes), no image service from a registry.
  # The native snapshotter works on any file system (overlayfs may not nest).
  cat > "$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$dir/containerd.sock"
[ttrpc]
  address = "$dir/containerd.sock.ttrpc"
[debug]
  address = "$dir/debug.sock"
[metrics]
  address = ""
[plugins."io.containerd.monitor.v1.cgroups"]
  no_prometheus = true
TOML
  containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 &
  echo $! > "$dir/containerd.pid"
  for _ in $(seq 100); do
    if ctr --address "$dir/containerd.sock" version >/dev/null 2>&1; then echo "$dir/containerd.sock"; exit 0; fi
    if ! kill -0 "$(cat "$dir/containerd.pid")" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "$0: containerd did not start; its log:" >&2; tail -20 "$dir/containerd.log" >&2; exit 1
  ;;
stop)
  [ -d "$dir" ] || exit 0
  dir=$(cd "$dir" && pwd)
  sock="$dir/containerd.sock"
  nss=
  if [ -S "$sock" ]; then
    nss=$(ctr --address "$sock" namespaces ls -q 2>/dev/null || true)
    # Every task and container of every namespace, then the images, so that no shim stays.
    for ns in $nss; do
      for t in $(ctr --address "$sock" -n "$ns" tasks ls -q 2>/dev/null); do
        ctr --address "$sock" -n "$ns" tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true
        sleep 0.2
        ctr --address "$sock" -n "$ns" tasks delete -f "$t" >/dev/null 2>&1 || true
      done
      for c in $(ctr --address "$sock" -n "$ns" containers ls -q 2>/dev/null); do
        ctr --address "$sock" -n "$ns" containers delete "$c" >/dev/null 2>&1 || true
      done
    done
  fi
  if [ -f "$dir/containerd.pid" ]; then
    pid=$(cat "$dir/containerd.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  # Shims whose socket lives under DIR outlive containerd: end those (and only those).
  for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $dir/containerd.sock" || true); do kill -9 "$p" 2>/dev/null || true; done
  # The snapshots may still be mounted (overlayfs): unmount before removing.
  { grep -o " $dir/[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$dir"
  # runc leaves each namespace's parent cgroup (/NAMESPACE in every hierarchy), empty: remove those.
  for ns in $nss; do
    for c in /sys/fs/cgroup/"$ns" /sys/fs/cgroup/*/"$ns"; do
      [ -d "$c" ] && rmdir "$c" 2>/dev/null || true
    done
  done
  ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
