/**
 * The vDSO's clock page ("vvar", SYS.VVAR): what src/machine/vdso.c needs to compute
 * CLOCK_REALTIME and CLOCK_MONOTONIC from the guest's `rdtsc` without a VM exit.
 *
 * Layout (little-endian): u32 seq (odd while being written), u32 shift, u64 mult, u64 tsc0,
 * i64 realtime0 {sec, nsec}, i64 monotonic0 {sec, nsec}; time = t0 + ((tsc - tsc0) * mult) >> shift.
 * The TSC frequency comes from KVM_GET_TSC_KHZ (once per process); tsc0 pairs the guest's
 * IA32_TSC (KVM_GET_MSRS) with the host's clocks, once per guest (a reused VM's TSC goes on).
 */
import { VcpuFd } from '../kvm/kvm';
import { GuestMemory } from '../machine/memory';
import { SYS } from '../machine/layout';
import { VDSO_IMAGE } from '../machine/vdso';
import { sys, addressOf } from '../host/libc';
import { HOST } from '../syscalls/host-nr';
import { CLOCK_MONOTONIC, CLOCK_REALTIME } from '../linux/time';

const MSR_IA32_TSC = 0x10;
const SHIFT = 32;

let cachedKhz: number | undefined;

const ts = new BigInt64Array(2);
const tsBytes = new Uint8Array(ts.buffer);
function hostNs(clock: number): bigint {
  if (sys(HOST.clock_gettime, clock, addressOf(tsBytes)) !== 0) throw new Error('clock_gettime failed');
  return ts[0]! * 1_000_000_000n + ts[1]!;
}

/** The guest TSC frequency in kHz: KVM_GET_TSC_KHZ, else a 20 ms calibration against CLOCK_MONOTONIC; 0 if neither works. */
export function tscKhz(vcpu: VcpuFd): number {
  if (cachedKhz !== undefined) return cachedKhz;
  let khz = vcpu.tscKhz();
  if (!(khz > 0)) {
    khz = 0;
    const a = pair(vcpu);
    if (a) {
      const until = a.mono + 20_000_000n;
      while (hostNs(CLOCK_MONOTONIC) < until) { /* spin */ }
      const b = pair(vcpu);
      if (b && b.tsc > a.tsc) khz = Math.round(Number(b.tsc - a.tsc) * 1e6 / Number(b.mono - a.mono));
    }
  }
  cachedKhz = khz;
  return khz;
}

/** A vCPU's last pairing and when it was taken (process.hrtime, ns). */
const PAIRS = new WeakMap<VcpuFd, { p: Pairing; at: bigint }>();

/** A guest TSC with the host clocks at the same moment; `page`: the clock page made from it. */
interface Pairing { tsc: bigint; mono: bigint; real: bigint; page?: Uint8Array }
/**
 * How long a vCPU's pairing is used again: 50 ms, against clocks slewed by NTP at 500 ppm
 * at most, is 25 µs of drift at worst. A step of the host's CLOCK_REALTIME (settimeofday,
 * an NTP step) reaches guests made from a reused pairing up to 50 ms late; CLOCK_MONOTONIC
 * never steps.
 */
const PAIR_REUSE_NS = 50_000_000n;

/**
 * pair(), or the vCPU's last pairing if it is recent. The guest TSC of a vCPU keeps its
 * offset for the vCPU's life (the guest cannot write IA32_TSC at CPL3), so a pairing stays
 * a valid map from TSC to host time; only the host clocks' slewing makes it age. It saves
 * a vCPU ioctl (8 µs on kvm_pvm) and three clock reads per VM when VMs are made in a row.
 */
function recentPair(vcpu: VcpuFd): Pairing | undefined {
  const now = process.hrtime.bigint();
  const last = PAIRS.get(vcpu);
  if (last && now - last.at < PAIR_REUSE_NS) return last.p;
  const p = pair(vcpu);
  if (p) PAIRS.set(vcpu, { p, at: now });
  return p;
}

/** The guest TSC with the host's CLOCK_MONOTONIC and CLOCK_REALTIME at the same moment (the midpoint of the read). */
function pair(vcpu: VcpuFd): Pairing | undefined {
  const real1 = hostNs(CLOCK_REALTIME), m1 = hostNs(CLOCK_MONOTONIC);
  const tsc = vcpu.getMsr(MSR_IA32_TSC);
  const m2 = hostNs(CLOCK_MONOTONIC);
  if (tsc === undefined) return undefined;
  const mono = (m1 + m2) / 2n;
  return { tsc, mono, real: real1 + (mono - m1) };
}

/**
 * Writes the vDSO image and fills the clock page for the next guest. Returns false (and
 * writes nothing) if this host gives no usable guest TSC: the guest then gets no vDSO.
 */
export function setupVdso(mem: GuestMemory, vcpu: VcpuFd): boolean {
  const khz = tscKhz(vcpu);
  if (!khz) return false;
  const c = clockPage(vcpu, khz);
  if (!c) return false;
  // (No guest runs yet: the page is written whole, its sequence already even.) Pages that
  // hold these bytes already (a window reset in place) are not written: a written system
  // page is copied back at the release of a restored VM (src/vmm/snapshot.ts, resetInPlace).
  putUnlessSame(mem.sys8, SYS.VVAR, c);
  putUnlessSame(mem.sys8, SYS.VDSO, VDSO_IMAGE);
  return true;
}

function putUnlessSame(to: Uint8Array, at: number, bytes: Uint8Array): void {
  if (Buffer.compare(to.subarray(at, at + bytes.length), bytes) !== 0) to.set(bytes, at);
}

/** The clock page's bytes for the vCPU's current pairing, made once per pairing (BigInt work a VM start need not repeat). */
function clockPage(vcpu: VcpuFd, khz: number): Uint8Array | undefined {
  const p = recentPair(vcpu);
  if (!p) return undefined;
  if (p.page) return p.page;
  const b = new Uint8Array(56), d = new DataView(b.buffer);
  d.setUint32(0, 2, true);   // the sequence: even, not being written
  d.setUint32(4, SHIFT, true);
  d.setBigUint64(8, BigInt(Math.round(1e6 * 2 ** SHIFT / khz)), true);
  d.setBigUint64(16, p.tsc, true);
  d.setBigInt64(24, p.real / 1_000_000_000n, true);
  d.setBigInt64(32, p.real % 1_000_000_000n, true);
  d.setBigInt64(40, p.mono / 1_000_000_000n, true);
  d.setBigInt64(48, p.mono % 1_000_000_000n, true);
  return (p.page = b);
}
