#!/usr/bin/env bash
# A private containerd for the OCI runtime's tests (test/integration/oci.test.ts) and CI:
# its own root, state directory and socket under DIR, nothing of a system containerd.
#   test/oci/containerd.sh start DIR   start it (waits until it answers), pid in DIR/containerd.pid
#   test/oci/containerd.sh start DIR --cri
#                                      the same with the CRI plugin (what kubelet talks to):
#                                      see "CRI" below
#   test/oci/containerd.sh stop DIR    stop it, its shims and their containers (and with
#                                      --cri its pods' network namespaces and the bridge);
#                                      remove DIR
# The tests find it through TOROV_CONTAINERD_SOCKET=DIR/containerd.sock.
#
# CRI: the runtime handler "torov" is io.containerd.runc.v2 with this repository's
# bin/torov-oci as its runc binary and DIR/torov-oci as its state root (a RuntimeClass's
# handler, as docs/oci.md configures it). The pod sandbox (pause) image is
# docker.io/torov/pause:test, written by make-image.js (oci_probe pause) and imported
# here: no registry is needed. Pods get their network from Debian's CNI plugins
# (/usr/lib/cni, containernetworking-plugins) with a private configuration in DIR/cni: a
# bridge $TOROV_CRI_BRIDGE (default torovcri0) that this script makes, with the address
# .1 of $TOROV_CRI_SUBNET (default 10.213.47.0/24, a /24), so that the host reaches the
# pods; no NAT, no iptables rule, no default route in the pods. DIR/cri.env tells the
# tests the handler, bridge, subnet and state root. kubelet is not involved: the tests
# speak CRI themselves (test/oci/cri.ts).
set -euo pipefail
cmd=${1:-}; dir=${2:-}; mode=${3:-}
if [ -z "$cmd" ] || [ -z "$dir" ] || { [ -n "$mode" ] && [ "$mode" != --cri ]; }; then echo "usage: $0 start|stop DIR [--cri]" >&2; exit 2; fi
here=$(cd "$(dirname "$0")" && pwd)
case "$cmd" in
start)
  command -v containerd >/dev/null || { echo "$0: containerd is not installed (apt-get install containerd runc)" >&2; exit 1; }
  cni=/usr/lib/cni
  bridge=${TOROV_CRI_BRIDGE:-torovcri0}; subnet=${TOROV_CRI_SUBNET:-10.213.47.0/24}
  net=${subnet%.0/24}
  if [ "$mode" = --cri ]; then
    for p in bridge host-local loopback; do
      [ -x "$cni/$p" ] || { echo "$0: the CNI plugin $cni/$p is missing (apt-get install containernetworking-plugins)" >&2; exit 1; }
    done
    command -v ip >/dev/null || { echo "$0: ip is missing (apt-get install iproute2)" >&2; exit 1; }
    [ "$net" != "$subnet" ] || { echo "$0: TOROV_CRI_SUBNET must be a /24 ending in .0/24: $subnet" >&2; exit 1; }
    if ip link show "$bridge" >/dev/null 2>&1; then echo "$0: the bridge $bridge already exists (another CRI containerd of these tests?)" >&2; exit 1; fi
    if ip -4 route show | grep -q "^$net\."; then echo "$0: the subnet $subnet is already routed on this host; choose another (TOROV_CRI_SUBNET)" >&2; exit 1; fi
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ "$mode" = --cri ]; then
    disabled='"io.containerd.internal.v1.opt", '
  else
    # Only what ctr run needs: no CRI plugin (Kubernetes), no image service from a registry.
    disabled='"io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt", '
  fi
  cat > "$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = [$disabled"io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp"]
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
  if [ "$mode" = --cri ]; then
    # The native snapshotter works on any file system (overlayfs may not nest). The
    # streaming server (kubectl exec -it, attach, port-forward) on a port of its own
    # choosing on loopback, not the fixed 10010.
    cat >> "$dir/config.toml" <<TOML
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/torov/pause:test"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    # runc stays the default (a pod without a handler); only "torov" is torov-oci.
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.torov]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.torov.options]
        BinaryName = "$(cd "$here/../.." && pwd)/bin/torov-oci"
        Root = "$dir/torov-oci"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$cni"
    conf_dir = "$dir/cni"
    max_conf_num = 1
TOML
    mkdir -p "$dir/cni" "$dir/torov-oci"
    cat > "$dir/cni/10-torov.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "torov-cri-test",
  "plugins": [{
    "type": "bridge", "bridge": "$bridge", "isGateway": false, "ipMasq": false,
    "ipam": { "type": "host-local", "dataDir": "$dir/cni-ipam", "ranges": [[{ "subnet": "$subnet", "rangeStart": "$net.10", "rangeEnd": "$net.250" }]] }
  }]
}
JSON
    # The bridge, made here with the host's address on it (the plugin's isGateway would
    # also turn on the host's IP forwarding).
    ip link add "$bridge" type bridge
    ip addr add "$net.1/24" dev "$bridge"
    ip link set "$bridge" up
    printf 'HANDLER=torov\nBRIDGE=%s\nSUBNET=%s\nHOST_IP=%s\nRUNTIME_ROOT=%s\nSANDBOX_IMAGE=%s\n' "$bridge" "$subnet" "$net.1" "$dir/torov-oci" docker.io/torov/pause:test > "$dir/cri.env"
  fi
  containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 &
  echo $! > "$dir/containerd.pid"
  # A failed start leaves nothing running or made outside DIR (DIR keeps the log; stop DIR removes it).
  failed() {
    echo "$0: $1; containerd's log:" >&2; tail -20 "$dir/containerd.log" >&2
    kill -9 "$(cat "$dir/containerd.pid")" 2>/dev/null || true
    [ "$mode" != --cri ] || ip link delete "$bridge" type bridge 2>/dev/null || true
    exit 1
  }
  up=
  for _ in $(seq 100); do
    if ctr --address "$dir/containerd.sock" version >/dev/null 2>&1; then up=1; break; fi
    if ! kill -0 "$(cat "$dir/containerd.pid")" 2>/dev/null; then break; fi
    sleep 0.1
  done
  [ -n "$up" ] || failed "containerd did not start"
  if [ "$mode" = --cri ]; then
    ctr --address "$dir/containerd.sock" plugins ls | grep -Eq '^io\.containerd\.grpc\.v1 +cri +[^ ]+ +ok' || failed "containerd's CRI plugin did not load"
    # The pause image, under the CRI plugin's namespace, unpacked for its snapshotter.
    node "$here/make-image.js" --cmd '["/oci_probe","pause"]' "$dir/pause.tar" docker.io/torov/pause:test "$here/../guests/oci_probe:/oci_probe" >/dev/null || failed "could not write the pause image"
    ctr --address "$dir/containerd.sock" -n k8s.io images import --snapshotter native "$dir/pause.tar" >/dev/null || failed "could not import the pause image"
  fi
  echo "$dir/containerd.sock"
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
  # CRI: the network namespaces of pods that were not removed (the CRI plugin's, under
  # /var/run/netns, recognised by an address of our subnet), then the bridge.
  if [ -f "$dir/cri.env" ]; then
    bridge=$(sed -n 's/^BRIDGE=//p' "$dir/cri.env"); subnet=$(sed -n 's/^SUBNET=//p' "$dir/cri.env")
    for n in $(ip netns list 2>/dev/null | awk '{print $1}'); do
      if ip -n "$n" -4 addr show 2>/dev/null | grep -q " inet ${subnet%.0/24}\."; then ip netns delete "$n" 2>/dev/null || true; fi
    done
    ip link delete "$bridge" type bridge 2>/dev/null || true
  fi
  rm -rf "$dir"
  # runc leaves each namespace's parent cgroup (/NAMESPACE in every hierarchy), empty: remove those.
  for ns in $nss; do
    for c in /sys/fs/cgroup/"$ns" /sys/fs/cgroup/*/"$ns"; do
      [ -d "$c" ] && rmdir "$c" 2>/dev/null || true
    done
  done
  ;;
*) echo "usage: $0 start|stop DIR [--cri]" >&2; exit 2 ;;
esac
