/**
 * Lazy syscall-site rewriting: the cheap entry into the syscall channel on kvm_pvm.
 *
 * Why: on kvm_pvm the `syscall` instruction itself traps (tens of µs) even when its target
 * is the guest's own channel code; a plain jump costs nothing. So the first time a given
 * `syscall` instruction runs, it arrives through the trap, and torov learns its exact
 * address (the return address minus 2). If it can prove the rewrite safe, it replaces the
 * instruction(s) *before* the syscall with a 5-byte `jmp` to a trampoline of that site:
 *
 *     site:  mov $0x6e,%eax ; syscall         ->   jmp tramp ; int3 int3 ... ; syscall
 *     tramp: mov $0x6e,%eax                  (the moved instructions, as they were)
 *            lea site+2(%rip),%rcx           (the return address, as `syscall` sets it)
 *            jmp *chan_call                  (stub.S: the channel, on its own stack)
 *
 * The channel code returns to site+2 with every register as `syscall` leaves it.
 *
 * Correctness argument (what "provably safe" means here):
 *  - No stack is touched: the trampoline jumps, it does not call; the channel runs on a
 *    private stack. So the red zone below the program's rsp, which zpoline-style
 *    `call *%rax` rewriting overwrites, stays intact, and so does a stack the program is
 *    about to unmap.
 *  - Nothing is mapped at NULL: trampolines live in a small executable mapping next to the
 *    program (like the vDSO), so NULL-pointer reads still fault, unlike zpoline's nop sled
 *    at address 0.
 *  - Instruction boundaries are known, not guessed: a site is rewritten only inside a
 *    function of the ELF's symbol table (.symtab), or for a stripped binary of its unwind
 *    table (.eh_frame, which strip keeps; signal-frame entries, which start a byte early
 *    on purpose, are left out), decoded from its first byte to exactly its last by
 *    src/machine/x86-decode.ts (checked against objdump on whole binaries). The
 *    overwritten bytes are whole instructions ending at the syscall, none of them
 *    rip-relative or a branch, so they run the same in the trampoline.
 *  - Nothing jumps into the overwritten bytes: no direct branch of the function targets
 *    them, no other symbol (a label) starts inside them, and a function with an indirect
 *    jump (a jump table) is left alone. The syscall instruction itself is kept whenever
 *    there are 5 bytes of movable instructions before it, so code that jumps straight to
 *    it still works. Code outside the function jumps only to its symbol.
 *  - Only when no vCPU is executing those bytes: the site is rewritten while its own
 *    syscall is being served (that vCPU spins in the channel code); with more than one
 *    vCPU, every other one is taken out of the guest first and the patch is refused if one
 *    stopped inside the overwritten bytes. Re-entering the guest (VM entry) serialises each
 *    vCPU, so none runs stale instructions (the SDM's rule for cross-modifying code). A
 *    thread interrupted by a signal inside those bytes, whose frame saved a rip there, is
 *    not detected (the moved instructions are at most a few bytes before a syscall).
 * Anything else is left as it is and keeps working through the trap: a stripped binary
 * (no .symtab), a JIT, code the decoder does not know. --no-rewrite turns it all off.
 * A program that unmaps or overwrites the trampoline mapping breaks itself, as one that
 * unmaps its vDSO does.
 */
import { GuestMemory, PROT_R, PROT_W, PROT_X } from '../machine/memory';
import { AddressSpace } from '../machine/mm';
import { decode } from '../machine/x86-decode';
import { parseElf, parseSymbols, parseEhFrame, ElfSymbol, PF_X, PT_LOAD, STT_FUNC } from '../elf/elf';
import { MMAP_MIN_ADDR } from '../machine/layout';

/** Size of the trampoline mapping: 64 KiB, about 2000 sites. */
const TRAMP_SIZE = 0x10000;
const JMP_LEN = 5;
const INT3 = 0xcc;

/** What the decoder learned about one function. */
interface FnInfo {
  ok: boolean;
  why?: string;
  starts: Map<number, number>;     // instruction address -> index in `order`
  order: number[];                 // instruction addresses, in order
  lens: number[];
  movable: boolean[];              // plain, not rip-relative
  targets: Set<number>;
}

export interface RewriteStats { rewritten: number; refused: number; reasons: Map<string, number> }

export class SiteRewriter {
  private readonly tried = new Set<number>();
  /** Set by tryRewrite once the site passed the cheap checks. */
  private checked = false;
  private readonly funcs: ElfSymbol[];
  private readonly labels: number[];
  private readonly text: { start: number; end: number }[] = [];
  private tramp: { base: number; next: number; end: number } | undefined;
  private disabled: string | undefined;
  /** Where function boundaries come from. */
  source: 'symtab' | 'eh_frame' = 'symtab';
  readonly stats: RewriteStats = { rewritten: 0, refused: 0, reasons: new Map() };
  /**
   * With several vCPUs: writes the patch with every other vCPU out of the guest, unless
   * one of them stopped inside (start, end); false then (src/vmm/scheduler.ts).
   */
  guard: ((start: number, end: number, write: () => void) => boolean) | undefined;

  /**
   * `image` is the program's file, `bias` where it was loaded (0 unless PIE), `chanCall`
   * the guest address of stub.S's chan_call.
   */
  constructor(private readonly mem: GuestMemory, private readonly as: AddressSpace, image: Uint8Array, bias: number,
    private readonly chanCall: number) {
    // Function boundaries: the symbol table, else (a stripped binary) the unwind tables.
    const syms = parseSymbols(image).map((s) => ({ ...s, value: s.value + bias }));
    this.funcs = syms.filter((s) => s.type === STT_FUNC && s.size > 0);
    if (this.funcs.length === 0) {
      this.funcs = parseEhFrame(image).map((f) => ({ value: f.value + bias, size: f.size, type: STT_FUNC }));
      this.source = 'eh_frame';
    }
    this.labels = this.source === 'symtab' ? syms.map((s) => s.value) : this.funcs.map((f) => f.value);
    for (const p of parseElf(image).phdrs) {
      if (p.type === PT_LOAD && p.flags & PF_X) this.text.push({ start: p.vaddr + bias, end: p.vaddr + bias + p.filesz });
    }
    if (this.funcs.length === 0) this.disabled = 'no symbol table and no unwind table';
  }

  /** A `syscall` at `site` was just served through the trap: rewrite it if that is provably safe. */
  consider(site: number): void {
    if (this.tried.has(site)) return;
    const why = this.disabled ?? this.tryRewrite(site);
    // Remembered only once it passed the cheap checks (a real syscall instruction in the
    // program's text), so a program forging sites cannot grow the set without bound.
    if (why === undefined || this.checked) this.tried.add(site);
    if (why === undefined) { this.stats.rewritten++; return; }
    this.stats.refused++;
    this.stats.reasons.set(why, (this.stats.reasons.get(why) ?? 0) + 1);
  }

  /** Returns undefined when rewritten, else why not. */
  private tryRewrite(site: number): string | undefined {
    this.checked = false;
    const fn = this.functionAt(site);
    if (!fn) return `not inside a function of the ${this.source === 'symtab' ? 'symbol table' : 'unwind table'}`;
    const seg = this.text.find((t) => fn.value >= t.start && fn.value + fn.size <= t.end);
    if (!seg) return 'not in the program\'s text';
    // The program may have mapped something else there since it was loaded. torov reads
    // and writes only the loaded image's own (anonymous, private) memory: never a file
    // mapping, whose pages past the end of the file would fault the VMM and whose shared
    // pages are the file itself.
    // Only executable, non-writable pages: bytes the program could not execute (or is
    // writing) are never copied into a trampoline, which is executable.
    if (!this.covered(fn.value, fn.value + fn.size, 'elf', PROT_X)) return 'the function is no longer the loaded program\'s memory';
    const b = this.mem.bytes(site, 2);
    if (b[0] !== 0x0f || b[1] !== 0x05) return 'not a syscall instruction';
    this.checked = true;
    // Decoded afresh each time (no cache): the program may have changed its text since.
    const info = this.analyse(fn);
    if (!info.ok) return info.why!;
    const i = info.starts.get(site);
    if (i === undefined || info.lens[i] !== 2) return 'not a syscall instruction start';
    // The smallest run of whole movable instructions ending at the syscall that is 5 bytes
    // long (keeps the syscall), else one that ends with it (replaces it too).
    let j = i, keep = true;
    while (j > 0 && site - info.order[j]! < JMP_LEN && info.movable[j - 1]) j--;
    if (site - info.order[j]! < JMP_LEN) {
      keep = false;
      if (site + 2 - info.order[j]! < JMP_LEN) return 'fewer than 5 bytes of movable instructions before it';
    }
    const start = info.order[j]!, end = keep ? site : site + 2;
    for (const t of info.targets) if (t > start && t < end) return 'a branch lands inside the bytes to overwrite';
    if (!keep && info.targets.has(site)) return 'a branch lands on the syscall';
    for (const l of this.labels) if (l > start && l < end) return 'a label lies inside the bytes to overwrite';
    const moved = this.mem.bytes(start, site - start).slice();
    const tramp = this.trampoline(moved, site + 2);
    if (tramp === -1) return 'the trampoline mapping was replaced by the program';
    if (tramp === undefined) return this.disabled ?? 'no room for a trampoline';
    const rel = tramp - (start + JMP_LEN);
    if (rel < -(2 ** 31) || rel >= 2 ** 31) return 'the trampoline is out of reach of a 32-bit jump';
    const patch = new Uint8Array(end - start).fill(INT3);
    patch[0] = 0xe9;
    new DataView(patch.buffer).setInt32(1, rel, true);
    const write = () => { this.mem.bytes(start, patch.length).set(patch); };
    if (this.guard) {
      if (!this.guard(start, end, write)) return 'another thread was executing the bytes to overwrite';
    } else {
      write();
    }
    return undefined;
  }

  /**
   * True if [start, end) is entirely mapped by VMAs of this kind (private memory of torov's
   * own loading or mapping), with exactly the protection `prot` (read and execute, never
   * write) on every page.
   */
  private covered(start: number, end: number, kind: 'elf' | 'anon', prot: number): boolean {
    if (!(start >= 0 && end <= this.mem.memSize && start < end)) return false;
    for (let a = start; a < end;) {
      const v = this.as.find(a);
      if (!v || v.kind !== kind || v.eof !== undefined || (v.prot & (PROT_W | PROT_X)) !== (prot & (PROT_W | PROT_X))) return false;
      a = v.end;
    }
    for (let pg = Math.floor(start / 4096) * 4096; pg < end; pg += 4096) {
      if ((this.mem.pageProt(pg) & (PROT_W | PROT_X)) !== (prot & (PROT_W | PROT_X))) return false;
    }
    return true;
  }

  /** The function symbol that covers [addr, addr+2), if any. */
  private functionAt(addr: number): ElfSymbol | undefined {
    const f = this.funcs;
    let lo = 0, hi = f.length - 1, last = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (f[mid]!.value <= addr) { last = mid; lo = mid + 1; } else hi = mid - 1;
    }
    // Aliases and nested symbols: any of the few that start at or before addr may cover it.
    for (let k = last; k >= 0 && k > last - 8; k--) {
      const s = f[k]!;
      if (addr + 2 <= s.value + s.size) return s;
    }
    return undefined;
  }

  /** Decodes a whole function. */
  private analyse(fn: ElfSymbol): FnInfo {
    const info: FnInfo = { ok: true, starts: new Map(), order: [], lens: [], movable: [], targets: new Set() };
    let code: Uint8Array;
    try { code = this.mem.bytes(fn.value, fn.size); } catch { info.ok = false; info.why = 'function not in guest memory'; return info; }
    for (let off = 0; off < fn.size;) {
      const insn = decode(code, off, fn.value + off);
      if (!insn) { info.ok = false; info.why = 'an instruction the decoder does not know'; return info; }
      if (insn.kind === 'ind-jmp') { info.ok = false; info.why = 'an indirect jump (a jump table?) in the function'; return info; }
      info.starts.set(fn.value + off, info.order.length);
      info.order.push(fn.value + off);
      info.lens.push(insn.len);
      info.movable.push(insn.kind === 'plain' && !insn.ripRel);
      if (insn.target !== undefined) info.targets.add(insn.target);
      off += insn.len;
    }
    if (info.order.length === 0 || fn.value + fn.size !== info.order[info.order.length - 1]! + info.lens[info.lens.length - 1]!) {
      info.ok = false; info.why = 'the decoded instructions do not end at the function\'s end';
    }
    return info;
  }

  /** Writes a trampoline: the moved bytes, rcx = return address, jump to the channel. Returns its address. */
  private trampoline(moved: Uint8Array, ret: number): number | undefined {
    if (!this.tramp) this.tramp = this.mapTrampolines();
    const t = this.tramp;
    if (!t) return undefined;
    const len = moved.length + 7 + 6;
    const at = t.next;
    if (!(at >= t.base && at + len <= t.end)) return undefined;
    if (!this.covered(t.base, at + len, 'anon', PROT_R | PROT_X)) return -1;
    const code = new Uint8Array(len);
    code.set(moved, 0);
    const dv = new DataView(code.buffer);
    let p = moved.length;
    code.set([0x48, 0x8d, 0x0d], p); dv.setInt32(p + 3, ret - (at + p + 7), true); p += 7;      // lea ret(%rip),%rcx
    code.set([0xff, 0x25], p); dv.setInt32(p + 2, t.base - (at + p + 6), true);                // jmp *slot(%rip)
    this.mem.bytes(at, len).set(code);
    t.next = Math.ceil((at + len) / 16) * 16;     // not `& ~15`: addresses pass 2^31
    return at;
  }

  /** The trampoline mapping: just below the program's text, or else the highest free range within reach. */
  private mapTrampolines(): { base: number; next: number; end: number } | undefined {
    const lo = Math.min(...this.text.map((t) => t.start));
    let base = Math.floor((lo - TRAMP_SIZE) / TRAMP_SIZE) * TRAMP_SIZE;
    if (!(base >= MMAP_MIN_ADDR && this.as.isFree(base, base + TRAMP_SIZE))) {
      base = this.as.findFree(TRAMP_SIZE, Math.min(this.as.mmapTop, lo + 2 ** 31 - 2 * TRAMP_SIZE));
      if (base < 0) { this.disabled = 'no free address range for the trampolines'; return undefined; }
    }
    if (!this.as.fits(base, base + TRAMP_SIZE, PROT_R | PROT_X, 'anon')) { this.disabled = 'no memory left under --memory for the trampolines'; return undefined; }
    this.as.map(base, TRAMP_SIZE, PROT_R | PROT_X, 'anon');
    const slot = this.mem.bytes(base, 8);
    new DataView(slot.buffer, slot.byteOffset, 8).setBigUint64(0, BigInt(this.chanCall), true);
    return { base, next: base + 16, end: base + TRAMP_SIZE };
  }
}
