/**
 * Snapshot files (`torov snapshot -o app.snap`, `torov run --restore app.snap`): a
 * snapshot (src/vmm/snapshot.ts) written to disk and read back.
 *
 * Layout, little-endian:
 *   "TOROVSNP"            8 bytes, the magic
 *   u32 format version    FORMAT_VERSION; another is refused
 *   u32 header length H
 *   header                H bytes of JSON: torov's version, the CPU features the snapshot
 *                         was taken with, the machine state (registers, FPU, mappings,
 *                         brk, ...), the system slot's and memory ranges' offsets
 *   data                  the system slot's pages, then the memory ranges' pages, in the
 *                         header's order
 *   SHA-256               32 bytes over everything before it
 *
 * A file is refused, with one line and before anything is restored, when its magic,
 * format version, torov version or CPU features differ, when it is truncated, or when its
 * checksum does not match (one flipped byte). From a file, stdio and listening sockets are
 * restored (a socket is made again and bound to its address: `--at accept`); a snapshot
 * with other open fds cannot be written.
 */
import { createHash } from 'node:crypto';
import { sys, NR, addressOf } from '../host/libc';
import { AddressSpace, Vma } from '../machine/mm';
import type { GuestMemory } from '../machine/memory';
import type { CpuFeatures } from '../machine/x86';
import type { SigAction } from '../syscalls/api';
import { Snapshot, SnapFd, SnapshotError, snapshotMemfd, listenAgain } from './snapshot';

export const MAGIC = Buffer.from('TOROVSNP');
export const FORMAT_VERSION = 1;
const SHA = 32;

/** The CPU features a snapshot depends on (the XSAVE layout, hwcap): a canonical string. */
export function cpuIdentity(f: CpuFeatures): string {
  const comps = [...f.xcomponents].sort((a, b) => a[0] - b[0]).map(([i, c]) => `${i}:${c.size}@${c.offset}`).join(',');
  return `hwcap=${f.hwcap.toString(16)} xsave=${f.xsave} fsgsbase=${f.fsgsbase} xcr0=${f.xcr0.toString(16)} comps=${comps}`;
}

interface Header {
  torov: string;
  cpu: string;
  /** The guest's memory limit (--memory) it ran with. */
  memory: number;
  exe: string; point: Snapshot['point']; memSize: number; maxVcpus: number; mode: Snapshot['mode'];
  regs: string; fpu: string | null;
  task: { fsBase: number; gsBase: number; sigmask: string; altstack: string; clearTid: number; robustList: number };
  sigactions: Array<[number, { handler: string; flags: string; restorer: string; mask: string }]>;
  umask: number;
  loaded: Snapshot['loaded'];
  vdso: boolean;
  as: { limit: number; vmas: Vma[]; forkMarks: AddressSpace['forkMarks']; committed: number; loadedImages: AddressSpace['loadedImages'];
    brkStart: number; brkEnd: number; argArea: { start: number; end: number }; envArea: { start: number; end: number }; execFn: string };
  sys: Array<[number, number]>;
  ranges: Array<[number, number]>;
  envp: Snapshot['envp'];
  bytes: number;
  /** Listening sockets (made again at restore, bound to the same address). */
  sockets: Array<{ fd: number; cloexec: boolean; domain: number; type: number; protocol: number; addr: string }>;
}

/** Writes `s` to host fd `fd` (opened before the sandbox's jail). Throws SnapshotError. */
export function writeSnapshotFile(fd: number, s: Snapshot, meta: { torov: string; cpu: string; memory: number }): void {
  const other = s.fds.find((f) => !f.listen);
  if (other) throw new SnapshotError(`fd ${other.fd} is open: a snapshot file restores stdio and listening sockets only`);
  const a = s.as;
  const header: Header = {
    torov: meta.torov, cpu: meta.cpu, memory: meta.memory,
    exe: s.exe, point: s.point, memSize: s.memSize, maxVcpus: s.maxVcpus, mode: s.mode,
    regs: s.regs.toString('base64'), fpu: s.fpu ? s.fpu.toString('base64') : null,
    task: { fsBase: s.task.fsBase, gsBase: s.task.gsBase, sigmask: s.task.sigmask.toString(), altstack: Buffer.from(s.task.altstack).toString('base64'),
      clearTid: s.task.clearTid, robustList: s.task.robustList },
    sigactions: [...s.group.sigactions].map(([k, v]) => [k, { handler: v.handler.toString(), flags: v.flags.toString(), restorer: v.restorer.toString(), mask: v.mask.toString() }]),
    umask: s.group.umask, loaded: s.loaded, vdso: s.vdso,
    as: { limit: a.limit, vmas: a.vmas, forkMarks: a.forkMarks, committed: a.committed, loadedImages: a.loadedImages, brkStart: a.brkStart, brkEnd: a.brkEnd,
      argArea: a.argArea, envArea: a.envArea, execFn: a.execFn },
    sys: s.sys.map(([off, b]) => [off, b.length]), ranges: s.ranges.map(([st, len]) => [st, len]), envp: s.envp, bytes: s.bytes,
    sockets: s.fds.map((f) => ({ fd: f.fd, cloexec: f.cloexec, domain: f.listen!.domain, type: f.listen!.type, protocol: f.listen!.protocol, addr: f.listen!.addr.toString('base64') })),
  };
  const h = Buffer.from(JSON.stringify(header));
  const head = Buffer.alloc(16);
  MAGIC.copy(head, 0);
  head.writeUInt32LE(FORMAT_VERSION, 8);
  head.writeUInt32LE(h.length, 12);
  const sha = createHash('sha256');
  const put = (b: Uint8Array) => {
    sha.update(b);
    for (let done = 0; done < b.length;) {
      const n = sys(NR.write, fd, addressOf(b) + done, b.length - done);
      if (n <= 0) throw new SnapshotError(`cannot write the snapshot file (errno ${-n})`);
      done += n;
    }
  };
  put(head); put(h);
  for (const [, b] of s.sys) put(b);
  for (const [st, len] of s.ranges) {
    // The pages, from the snapshot's memory file, a piece at a time.
    for (let done = 0; done < len;) {
      const k = Math.min(len - done, 1 << 20);
      const b = Buffer.allocUnsafe(k);
      const n = sys(NR.pread64, s.memfd, addressOf(b), k, st + done);
      if (n !== k) throw new SnapshotError(`cannot read the snapshot's memory (errno ${-n})`);
      put(b);
      done += k;
    }
  }
  const digest = sha.digest();
  for (let done = 0; done < SHA;) {
    const n = sys(NR.write, fd, addressOf(digest) + done, SHA - done);
    if (n <= 0) throw new SnapshotError(`cannot write the snapshot file (errno ${-n})`);
    done += n;
  }
}

/** What a snapshot file says about itself, for the run that restores it. */
export interface SnapshotFileInfo { snapshot: Snapshot; memory: number; exe: string }

/**
 * Reads a snapshot file's bytes: checks everything first (magic, versions, CPU, size,
 * checksum), then makes the snapshot (its pages in a new sealed memfd). `name` is for the
 * messages. Throws SnapshotError with one line.
 */
export function readSnapshotFile(name: string, file: Buffer, expect: { torov: string; cpu: string }): SnapshotFileInfo {
  const bad = (why: string) => new SnapshotError(`${name}: ${why}`);
  if (file.length < 16 + SHA || !file.subarray(0, 8).equals(MAGIC)) throw bad('not a torov snapshot file');
  const version = file.readUInt32LE(8);
  if (version !== FORMAT_VERSION) throw bad(`snapshot format version ${version}; this torov reads version ${FORMAT_VERSION}`);
  const hlen = file.readUInt32LE(12);
  if (16 + hlen + SHA > file.length) throw bad('truncated (its header runs past the end of the file)');
  const body = file.subarray(0, file.length - SHA);
  if (!createHash('sha256').update(body).digest().equals(file.subarray(file.length - SHA))) {
    throw bad('corrupt (its checksum does not match: truncated or changed)');
  }
  let h: Header;
  try { h = JSON.parse(file.toString('utf8', 16, 16 + hlen)) as Header; } catch { throw bad('corrupt (its header is not valid)'); }
  if (h.torov !== expect.torov) throw bad(`made by torov ${h.torov}; this is torov ${expect.torov} (take the snapshot again)`);
  if (h.cpu !== expect.cpu) throw bad(`made on a CPU with other features (${h.cpu}; this one: ${expect.cpu})`);
  let at = 16 + hlen;
  const need = h.sys.reduce((n, [, len]) => n + len, 0) + h.ranges.reduce((n, [, len]) => n + len, 0);
  if (at + need !== body.length) throw bad('corrupt (its data does not match its header)');
  const sysPages: Array<[number, Uint8Array]> = h.sys.map(([off, len]) => { const b = Uint8Array.prototype.slice.call(file, at, at + len); at += len; return [off, b]; });
  const memfd = snapshotMemfd();
  try {
    let r = sys(NR.ftruncate, memfd, h.memSize);
    if (r < 0) throw bad(`cannot size its memory file (errno ${-r})`);
    for (const [st, len] of h.ranges) {
      const n = sys(NR.pwrite64, memfd, addressOf(file) + at, len, st);
      if (n !== len) throw bad(`cannot load its memory (errno ${-n})`);
      at += len;
    }
    r = sys(NR.fcntl, memfd, 1033 /* F_ADD_SEALS */, 2 | 4 | 8 | 1);
    if (r < 0) throw bad(`cannot seal its memory file (errno ${-r})`);
  } catch (e) { sys(NR.close, memfd); throw e; }
  // Listening sockets: made again now, bound to their address (the restored program accepts on them).
  const fds: SnapFd[] = [];
  try {
    for (const k of h.sockets ?? []) {
      const l = { domain: k.domain, type: k.type, protocol: k.protocol, addr: Buffer.from(k.addr, 'base64') };
      fds.push({ fd: k.fd, host: listenAgain(l, `${name}: fd ${k.fd}`), cloexec: k.cloexec, offset: undefined, listen: l });
    }
  } catch (e) { for (const f of fds) sys(NR.close, f.host); sys(NR.close, memfd); throw e; }
  const as = new AddressSpace({ memSize: h.memSize } as GuestMemory, h.as.limit);
  as.vmas.push(...h.as.vmas);
  as.forkMarks = h.as.forkMarks;
  as.committed = h.as.committed;
  as.loadedImages.push(...h.as.loadedImages);
  as.brkStart = h.as.brkStart; as.brkEnd = h.as.brkEnd; as.argArea = h.as.argArea; as.envArea = h.as.envArea; as.execFn = h.as.execFn;
  const sigactions = new Map<number, SigAction>(h.sigactions.map(([k, v]) => [k, { handler: BigInt(v.handler), flags: BigInt(v.flags), restorer: BigInt(v.restorer), mask: BigInt(v.mask) }]));
  const snapshot: Snapshot = {
    exe: h.exe, point: h.point, memSize: h.memSize, maxVcpus: h.maxVcpus, regs: Buffer.from(h.regs, 'base64'), fpu: h.fpu ? Buffer.from(h.fpu, 'base64') : undefined,
    mode: h.mode, task: { fsBase: h.task.fsBase, gsBase: h.task.gsBase, sigmask: BigInt(h.task.sigmask), altstack: new Uint8Array(Buffer.from(h.task.altstack, 'base64')),
      clearTid: h.task.clearTid, robustList: h.task.robustList },
    group: { sigactions, umask: h.umask, cwdFd: -1 }, loaded: h.loaded, vdso: h.vdso, as, memfd, ranges: h.ranges, sys: sysPages, fds, envp: h.envp, bytes: h.bytes,
  };
  return { snapshot, memory: h.memory, exe: h.exe };
}
