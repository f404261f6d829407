/**
 * `torov-oci update`: what a resource update asks for, from runc's flags or from a
 * resources document (`-r FILE`, `-r -`: the runtime spec's linux.resources, what
 * containerd's shim writes for `ctr task update` and Kubernetes' resource changes).
 * Pure: parsing and checking only; src/oci/cgroups.ts writes the result into the run's
 * cgroups.
 *
 * What a torov run can change after it started is its cgroups' limits: memory (and its
 * memory+swap limit, which torov keeps equal: a run has no swap), pids, and the CPU's
 * shares, quota, period and burst. Anything else that asks for a limit (cpuset, realtime
 * CPU time, block I/O weights, a memory reservation, cgroup v2 "unified" files, Intel RDT)
 * is refused with one line naming it. What `create` ignores in linux.resources (devices,
 * hugepage limits, network classes, kernel memory) is ignored here too, with a note, so
 * that an orchestrator that sends the whole linux.resources again is not refused for it.
 */
import { OciError } from './config';

/** torov's own threads count against a pids limit (src/oci/config.ts, src/sandbox/cgroup.ts). */
export const TOROV_TASKS = 32;
/** The largest resources document read. */
export const MAX_RESOURCES_BYTES = 1024 * 1024;

/** What to change; a field left out stays as it is. -1 means no limit. */
export interface UpdateRequest {
  /** The container's memory limit in bytes (becomes the run's cgroup limit plus torov's own share). */
  memory?: number;
  /** Memory + swap; accepted only as "no swap" (equal to memory, or 0: unset). */
  memorySwap?: number;
  pids?: number;
  cpuShares?: number;
  /** CFS quota in µs per period, -1: none. */
  cpuQuota?: number;
  /** CFS period in µs. */
  cpuPeriod?: number;
  cpuBurst?: number;
  /** What was ignored, one note each (for the debug log). */
  notes: string[];
}

/** The update flags runc takes (all with a value). `cpu-shares` is accepted for runc's `cpu-share`. */
export const UPDATE_FLAGS = ['resources', 'blkio-weight', 'cpu-period', 'cpu-quota', 'cpu-burst', 'cpu-share', 'cpu-rt-period', 'cpu-rt-runtime',
  'cpuset-cpus', 'cpuset-mems', 'kernel-memory', 'kernel-memory-tcp', 'memory', 'cpu-idle', 'memory-reservation', 'memory-swap', 'pids-limit',
  'l3-cache-schema', 'mem-bw-schema'] as const;

/**
 * A size as runc's update reads it (docker's RAMInBytes): bytes, or a number with a
 * binary unit k, m, g, t, p (optionally followed by "b" or "ib", any case): "512m", "1.5G",
 * "64MiB". "-1" is no limit.
 */
export function parseBytes(v: string, what: string): number {
  if (v.trim() === '-1') return -1;
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp])?(i?b)?$/i.exec(v.trim());
  if (!m || (m[3] !== undefined && m[2] === undefined && !/^b$/i.test(m[3]))) throw new OciError(`update: invalid ${what} ${JSON.stringify(v)}: expected bytes or a size such as 512m, 2g`);
  const mult = 1024 ** (' kmgtp'.indexOf((m[2] ?? ' ').toLowerCase()));
  const n = Math.floor(Number(m[1]) * mult);
  if (!Number.isSafeInteger(n)) throw new OciError(`update: ${what} ${JSON.stringify(v)} is too large`);
  return n;
}

function parseWhole(v: string, what: string, min: number): number {
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(Number(v)) || Number(v) < min) throw new OciError(`update: invalid ${what} ${JSON.stringify(v)}: expected a whole number${min >= 0 ? ' (0 or more)' : ''}`);
  return Number(v);
}

/** What `update`'s flags ask for (without -r). */
export function updateFromFlags(flags: Record<string, string | boolean | undefined>): UpdateRequest {
  const s = (k: string): string | undefined => { const v = flags[k]; return typeof v === 'string' ? v : undefined; };
  const out: UpdateRequest = { notes: [] };
  // (For numbers, 0 is runc's "unset"; a cpuset list or a schema asks for something whatever it is.)
  const refuse = (flag: string, why: string, zeroIsUnset = true) => {
    const v = s(flag);
    if (v !== undefined && v !== '' && !(zeroIsUnset && /^0+$/.test(v))) throw new OciError(`update: --${flag} cannot be changed: ${why}`);
  };
  refuse('blkio-weight', 'a torov run has no blkio cgroup');
  refuse('cpuset-cpus', 'a torov run has no cpuset cgroup (the guest\'s CPUs are fixed when it starts)', false);
  refuse('cpuset-mems', 'a torov run has no cpuset cgroup', false);
  refuse('cpu-rt-period', 'torov runs get no realtime CPU time');
  refuse('cpu-rt-runtime', 'torov runs get no realtime CPU time');
  refuse('cpu-idle', 'not supported by torov-oci');
  refuse('memory-reservation', 'not supported by torov-oci (a soft limit)');
  refuse('l3-cache-schema', 'a torov run has no Intel RDT group', false);
  refuse('mem-bw-schema', 'a torov run has no Intel RDT group', false);
  for (const k of ['kernel-memory', 'kernel-memory-tcp']) if (s(k) !== undefined) out.notes.push(`--${k}: ignored (kernel memory limits are obsolete; runc ignores them too)`);
  if (s('memory') !== undefined) out.memory = parseBytes(s('memory')!, '--memory');
  if (s('memory-swap') !== undefined) out.memorySwap = parseBytes(s('memory-swap')!, '--memory-swap');
  if (s('pids-limit') !== undefined) out.pids = parseWhole(s('pids-limit')!, '--pids-limit', -1);
  if (s('cpu-share') !== undefined) out.cpuShares = parseWhole(s('cpu-share')!, '--cpu-share', 0);
  if (s('cpu-quota') !== undefined) out.cpuQuota = parseWhole(s('cpu-quota')!, '--cpu-quota', -1);
  if (s('cpu-period') !== undefined) out.cpuPeriod = parseWhole(s('cpu-period')!, '--cpu-period', 0);
  if (s('cpu-burst') !== undefined) out.cpuBurst = parseWhole(s('cpu-burst')!, '--cpu-burst', 0);
  return check(out);
}

/** A number field of the document: a whole number in range, or absent (null counts as absent). */
function num(o: Record<string, unknown>, k: string, where: string, min: number): number | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new OciError(`update: ${where}.${k} must be a whole number${min >= 0 ? ' (0 or more)' : ' (-1 or more)'} (got ${JSON.stringify(v)?.slice(0, 40)})`);
  return v;
}

function section(doc: Record<string, unknown>, k: string): Record<string, unknown> {
  const v = doc[k];
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new OciError(`update: ${k} must be an object`);
  return v as Record<string, unknown>;
}

/** True if a value asks for something: a number other than 0, a non-empty string, array or object. */
function asks(v: unknown): boolean {
  if (v === undefined || v === null || v === 0 || v === '' || v === false) return false;
  if (Array.isArray(v)) return v.some(asks);
  if (typeof v === 'object') return Object.values(v as object).some(asks);
  return true;
}

/** What a resources document (the runtime spec's linux.resources, as JSON text) asks for. */
export function updateFromResources(text: string): UpdateRequest {
  if (text.length > MAX_RESOURCES_BYTES) throw new OciError(`update: the resources document is over ${MAX_RESOURCES_BYTES >> 20} MiB`);
  let doc: unknown;
  try { doc = JSON.parse(text); } catch (e) { throw new OciError(`update: the resources are not JSON: ${(e as Error).message.split('\n')[0]}`); }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new OciError('update: the resources must be a JSON object (linux.resources of the runtime spec)');
  const d = doc as Record<string, unknown>;
  const out: UpdateRequest = { notes: [] };
  const mem = section(d, 'memory'), cpu = section(d, 'cpu'), pids = section(d, 'pids');
  out.memory = num(mem, 'limit', 'memory', -1);
  out.memorySwap = num(mem, 'swap', 'memory', -1);
  if (asks(mem['reservation'])) throw new OciError('update: memory.reservation cannot be changed: not supported by torov-oci (a soft limit)');
  for (const k of ['kernel', 'kernelTCP', 'swappiness', 'disableOOMKiller', 'useHierarchy', 'checkBeforeUpdate']) if (mem[k] !== undefined) out.notes.push(`memory.${k}: ignored`);
  out.cpuShares = num(cpu, 'shares', 'cpu', 0);
  out.cpuQuota = num(cpu, 'quota', 'cpu', -1);
  out.cpuPeriod = num(cpu, 'period', 'cpu', 0);
  out.cpuBurst = num(cpu, 'burst', 'cpu', 0);
  if (asks(cpu['cpus']) || asks(cpu['mems'])) throw new OciError(`update: cpu.${asks(cpu['cpus']) ? 'cpus' : 'mems'} cannot be changed: a torov run has no cpuset cgroup`);
  if (asks(cpu['realtimeRuntime']) || asks(cpu['realtimePeriod'])) throw new OciError('update: cpu.realtimeRuntime/realtimePeriod cannot be changed: torov runs get no realtime CPU time');
  if (asks(cpu['idle'])) throw new OciError('update: cpu.idle cannot be changed: not supported by torov-oci');
  out.pids = num(pids, 'limit', 'pids', -1);
  if (asks(d['blockIO'])) throw new OciError('update: blockIO cannot be changed: a torov run has no blkio cgroup');
  if (asks(d['unified'])) throw new OciError('update: unified (cgroup v2 files) cannot be changed: not supported by torov-oci');
  if (asks(d['rdma'])) throw new OciError('update: rdma cannot be changed: a torov run has no rdma cgroup');
  // What create ignores too: the guest has no host devices, uses no hugetlb pages (torov
  // refuses MAP_HUGETLB), and has no network classes.
  for (const k of ['devices', 'hugepageLimits', 'network']) if (d[k] !== undefined) out.notes.push(`${k}: ignored, as at create`);
  for (const k of Object.keys(d)) if (!['memory', 'cpu', 'pids', 'blockIO', 'unified', 'rdma', 'devices', 'hugepageLimits', 'network'].includes(k)) out.notes.push(`${k}: unknown, ignored`);
  for (const k of Object.keys(out) as Array<keyof UpdateRequest>) if (out[k] === undefined) delete out[k];
  return check(out);
}

/** The checks common to both forms; 0 means "unchanged" for pids, shares, quota and period, as in runc. */
function check(r: UpdateRequest): UpdateRequest {
  if (r.pids === 0) delete r.pids;
  if (r.cpuShares === 0) delete r.cpuShares;
  if (r.cpuQuota === 0) delete r.cpuQuota;
  if (r.cpuPeriod === 0) delete r.cpuPeriod;
  if (r.memory === 0) delete r.memory;
  if (r.pids !== undefined && r.pids !== -1 && r.pids <= TOROV_TASKS) throw new OciError(`update: pids limit ${r.pids} is too small: torov's own threads need ${TOROV_TASKS}, so at least ${TOROV_TASKS + 1}`);
  if (r.cpuShares !== undefined && (r.cpuShares < 2 || r.cpuShares > 262144)) throw new OciError(`update: cpu shares ${r.cpuShares} out of range: 2 to 262144`);
  if (r.cpuPeriod !== undefined && (r.cpuPeriod < 1000 || r.cpuPeriod > 1_000_000)) throw new OciError(`update: cpu period ${r.cpuPeriod} out of range: 1000 to 1000000 µs`);
  if (r.cpuQuota !== undefined && r.cpuQuota !== -1 && r.cpuQuota < 1000) throw new OciError(`update: cpu quota ${r.cpuQuota} too small: at least 1000 µs, or -1 for none`);
  if (r.memory !== undefined && r.memory !== -1 && r.memory < 16 * 2 ** 20) throw new OciError(`update: memory limit ${r.memory} bytes is too small: a torov VM needs at least 16M`);
  // A run has no swap: its memory+swap limit always follows its memory limit.
  if (r.memorySwap !== undefined && r.memorySwap !== 0) {
    const same = r.memory !== undefined ? r.memorySwap === r.memory : false;
    if (!same) throw new OciError(`update: memory swap ${r.memorySwap} cannot be set: a torov run has no swap (its memory+swap limit follows the memory limit; give the same value as the memory limit, or none)`);
  }
  delete r.memorySwap;
  return r;
}

/** cgroup v1 cpu.shares as cgroup v2 cpu.weight (the conversion runc and systemd use: 2..262144 onto 1..10000). */
export function sharesToWeight(shares: number): number {
  return Math.floor(1 + ((shares - 2) * 9999) / 262142);
}

/** True if the request changes nothing. */
export function isEmpty(r: UpdateRequest): boolean {
  return Object.keys(r).every((k) => k === 'notes');
}
