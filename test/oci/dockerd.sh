#!/usr/bin/env bash
# A private Docker daemon for the OCI runtime's tests (test/integration/oci.test.ts), with
# bin/torov-oci as its runtime "torov": its own data root, exec root and socket under DIR,
# no bridge and no iptables rules (it changes nothing of the host's network), and the
# containerd it starts for itself.
#   test/oci/dockerd.sh start DIR   start it (waits until it answers); prints its socket
#   test/oci/dockerd.sh stop DIR    remove its containers, stop it, unmount and remove DIR
# DIR must not be under a directory that torov tests bind into guests (such as /tmp):
# Docker makes its data root an unbindable mount and keeps network namespaces (nsfs
# mounts) in its exec root, and a recursive bind of a tree holding those fails.
set -euo pipefail
cmd=${1:-}; dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then echo "usage: $0 start|stop DIR" >&2; exit 2; fi
runtime="$(cd "$(dirname "$0")/../.." && pwd)/bin/torov-oci"
case "$cmd" in
start)
  command -v dockerd >/dev/null || { echo "$0: dockerd is not installed (apt-get install docker.io)" >&2; exit 1; }
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  dockerd --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/docker.pid" -H "unix://$dir/docker.sock" \
    --bridge=none --iptables=false --ip6tables=false --log-level=warn --add-runtime "torov=$runtime" >"$dir/dockerd.log" 2>&1 &
  for _ in $(seq 150); do
    if docker -H "unix://$dir/docker.sock" version >/dev/null 2>&1; then echo "unix://$dir/docker.sock"; exit 0; fi
    if ! kill -0 $! 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "$0: dockerd did not start; its log:" >&2; tail -20 "$dir/dockerd.log" >&2; exit 1
  ;;
stop)
  [ -d "$dir" ] || exit 0
  dir=$(cd "$dir" && pwd)
  if [ -S "$dir/docker.sock" ]; then
    ids=$(docker -H "unix://$dir/docker.sock" ps -aq 2>/dev/null || true)
    [ -z "$ids" ] || docker -H "unix://$dir/docker.sock" rm -f $ids >/dev/null 2>&1 || true
  fi
  if [ -f "$dir/docker.pid" ]; then
    pid=$(cat "$dir/docker.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  { grep -o " $dir/[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$dir"
  ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
