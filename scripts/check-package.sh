#!/usr/bin/env bash
# The package as users get it: `npm pack`, a global install of the tarball into a fresh
# prefix, and a sandboxed run of the hello example from another directory. Used by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npm pack --silent --pack-destination "$tmp" >/dev/null
npm install --global --prefix "$tmp/prefix" --no-audit --no-fund --silent "$tmp"/torov-*.tgz
test -f "$tmp/prefix/lib/node_modules/torov/LICENSE"
cd /
out=$("$tmp/prefix/bin/torov" run --policy "$tmp/prefix/lib/node_modules/torov/examples/hello/policy.json" \
  "$tmp/prefix/lib/node_modules/torov/examples/hello/hello")
if [ "$out" != "Hello World from a torov micro-VM!" ]; then
  echo "check-package: the installed torov printed: $out" >&2
  exit 1
fi
"$tmp/prefix/bin/torov" version
# The OCI runtime is installed too, and finds its compiled code.
"$tmp/prefix/bin/torov-oci" --version
echo "check-package: npm pack + npm install -g + a sandboxed run: ok"
