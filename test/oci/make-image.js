#!/usr/bin/env node
'use strict';
/**
 * Writes an OCI image layout archive (a tar that `ctr images import` reads) holding test
 * guests, so that the OCI runtime's tests need no registry:
 *   node test/oci/make-image.js [--cmd JSON] OUT.tar [NAME] [HOST-FILE[:GUEST-PATH]...]
 * NAME defaults to docker.io/torov/guests:latest; the files default to test/guests' hello,
 * args, fault and oci_probe at /hello, /args, /fault, /oci_probe. The image's single layer
 * also has the usual empty directories (/dev, /proc, /sys, /tmp, /etc, /run) as runc
 * expects them; its command is /hello, or --cmd's (a JSON array of strings: a pod's pause
 * image is '["/oci_probe","pause"]'). Deterministic: the same files give the same digests.
 * The archive is also in `docker save`'s format (manifest.json), for `docker load`.
 */
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

const guests = path.join(__dirname, '..', 'guests');
const argv = process.argv.slice(2);
let cmd = ['/hello'];
if (argv[0] === '--cmd') {
  try { cmd = JSON.parse(argv[1] ?? ''); } catch { cmd = undefined; }
  if (!Array.isArray(cmd) || !cmd.length || !cmd.every((a) => typeof a === 'string')) { process.stderr.write('make-image.js: --cmd takes a JSON array of strings\n'); process.exit(2); }
  argv.splice(0, 2);
}
const [out, name = 'docker.io/torov/guests:latest', ...specs] = argv;
if (!out) { process.stderr.write('usage: make-image.js [--cmd JSON] OUT.tar [NAME] [HOST-FILE[:GUEST-PATH]...]\n'); process.exit(2); }
const files = (specs.length ? specs : ['hello', 'args', 'fault', 'oci_probe'].map((g) => `${path.join(guests, g)}:/${g}`))
  .map((s) => { const i = s.lastIndexOf(':'); return i > 0 ? { host: s.slice(0, i), guest: s.slice(i + 1) } : { host: s, guest: '/' + path.basename(s) }; });

/** One ustar header block (512 bytes) for a file or a directory. */
function header(name, size, type, mode) {
  const h = Buffer.alloc(512);
  if (Buffer.byteLength(name) > 99) throw new Error(`name too long for this tar writer: ${name}`);
  h.write(name, 0, 'utf8');
  const oct = (v, off, len) => h.write(v.toString(8).padStart(len - 1, '0') + '\0', off, 'ascii');
  oct(mode, 100, 8); oct(0, 108, 8); oct(0, 116, 8); oct(size, 124, 12); oct(0, 136, 12);
  h.write(type, 156, 'ascii');
  h.write('ustar\0', 257, 'ascii'); h.write('00', 263, 'ascii');
  h.fill(' ', 148, 156);
  let sum = 0; for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

/** A tar archive of entries {name, data?, dir?, mode}. */
function tar(entries) {
  const parts = [];
  for (const e of entries) {
    const data = e.dir ? Buffer.alloc(0) : e.data;
    parts.push(header(e.name, data.length, e.dir ? '5' : '0', e.mode));
    parts.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
const json = (v) => Buffer.from(JSON.stringify(v));

const layerEntries = ['dev', 'proc', 'sys', 'tmp', 'etc', 'run'].map((d) => ({ name: `${d}/`, dir: true, mode: d === 'tmp' ? 0o1777 : 0o755 }));
for (const f of files) layerEntries.push({ name: f.guest.replace(/^\/+/, ''), data: fs.readFileSync(f.host), mode: 0o755 });
const layer = tar(layerEntries);
const config = json({
  architecture: 'amd64', os: 'linux',
  config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: cmd, WorkingDir: '/' },
  rootfs: { type: 'layers', diff_ids: [`sha256:${sha(layer)}`] },
  history: [{ created_by: 'test/oci/make-image.js' }],
});
const manifest = json({
  schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${sha(config)}`, size: config.length },
  layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${sha(layer)}`, size: layer.length }],
});
const index = json({
  schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
  manifests: [{
    mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${sha(manifest)}`, size: manifest.length,
    platform: { architecture: 'amd64', os: 'linux' },
    annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name.replace(/^.*:/, '') },
  }],
});
const blobs = [layer, config, manifest];
// Also docker save's manifest.json, pointing at the same blobs, so that `docker load`
// (which reads no OCI layout before Docker 25) takes the same archive.
const dockerManifest = json([{ Config: `blobs/sha256/${sha(config)}`, RepoTags: [name.replace(/^docker\.io\//, '')], Layers: [`blobs/sha256/${sha(layer)}`] }]);
const archive = tar([
  { name: 'oci-layout', data: json({ imageLayoutVersion: '1.0.0' }), mode: 0o644 },
  { name: 'index.json', data: index, mode: 0o644 },
  { name: 'manifest.json', data: dockerManifest, mode: 0o644 },
  { name: 'blobs/', dir: true, mode: 0o755 },
  { name: 'blobs/sha256/', dir: true, mode: 0o755 },
  ...blobs.map((b) => ({ name: `blobs/sha256/${sha(b)}`, data: b, mode: 0o644 })),
]);
fs.writeFileSync(out, archive);
process.stdout.write(`${name}\n`);
