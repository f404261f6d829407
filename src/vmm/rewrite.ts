/**
 * Lazy syscall-site rewriting: the cheap entry into the syscall channel on kvm_pvm.
 *
 * Why: on kvm_pvm the `syscall` instruction itself traps (tens of µs) even when its target
 * is the guest's own channel code; a plain jump costs nothing. So a given `syscall`
 * instruction arrives through the trap, and torov learns its exact address (the return
 * address minus 2). The second time it does (a call made once, at start-up or exit, is not
 * worth the analysis: about 1 ms per site while torov's code is still cold), if torov can
 * prove the rewrite safe, it replaces the instruction(s) *before* the syscall with a
 * 5-byte `jmp` to a trampoline of that site:
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
 *
 * Shared libraries (a dynamic program makes nearly all its syscalls in libc and the ELF
 * interpreter): a site in a private, executable, non-writable file mapping (a library
 * ld.so mapped) or in the interpreter torov loaded is rewritten the same way, with the
 * function boundaries of that object's unwind table as it is loaded in memory: its ELF
 * header at the start of its mapping (file offset 0, same file), PT_GNU_EH_FRAME, the
 * .eh_frame it points to. Those tables are the guest's own memory, so they are only as
 * trustworthy as the code itself: a program that forges them can only break itself, as it
 * could by writing its own code; torov writes nothing outside the object's executable,
 * non-writable pages and its own trampolines. All reads and writes of guest memory here go
 * through the kernel (a library's file may be truncated under its mapping).
 * Trampolines must be within a 32-bit jump of their site: one mapping serves every site
 * in reach, and a site out of reach of all gets a new one near it (at most MAX_TRAMPS).
 * A program that unmaps or overwrites the trampoline mapping breaks itself, as one that
 * unmaps its vDSO does.
 */
import { GuestMemory, PROT_R, PROT_W, PROT_X } from '../machine/memory';
import { AddressSpace, Vma } from '../machine/mm';
import { decode } from '../machine/x86-decode';
import { parseElf, parseSymbols, parseEhFrame, readElf, ehFrameFunctions, ElfSymbol, PF_X, PT_LOAD, STT_FUNC } from '../elf/elf';
import { MMAP_MIN_ADDR } from '../machine/layout';

/** Size of a trampoline mapping: 64 KiB, about 2000 sites. */
const TRAMP_SIZE = 0x10000;
/** The most trampoline mappings (one per 4 GiB neighbourhood of code, in practice one). */
const MAX_TRAMPS = 16;
/** The most shared objects whose tables are kept, and the largest .eh_frame read. */
const MAX_OBJECTS = 64, MAX_EH_FRAME = 16 * 1024 * 1024;
/** PT_GNU_EH_FRAME (<elf.h>): the .eh_frame_hdr, whose second field points at .eh_frame. */
const PT_GNU_EH_FRAME = 0x6474e550;

/**
 * One object whose sites can be rewritten: its functions and labels (absolute addresses),
 * its executable ranges, and the kind of memory it must still be ('elf': loaded by torov;
 * 'file': mapped by the program from the same file).
 */
interface CodeObject {
  funcs: ElfSymbol[];
  labels: number[];
  text: { start: number; end: number }[];
  kind: 'elf' | 'file';
  fileId?: string;
  source: 'symtab' | 'eh_frame';
}
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

/** Sites remembered as trapped fewer than `rewriteAt` times: a program forging sites cannot grow it without bound. */
const MAX_PENDING_SITES = 4096;

export class SiteRewriter {
  private readonly tried = new Set<number>();
  /** Traps seen so far of sites not yet tried (bounded: past it, a site is tried at once). */
  private readonly pending = new Map<number, number>();
  /**
   * The trap of a site that triggers its rewrite: 1, its first; the VMM uses 2, so a call
   * made once (start-up, exit) costs no analysis, and a call that repeats pays one trap more.
   */
  rewriteAt = 1;
  /** Set by tryRewrite once the site passed the cheap checks. */
  private checked = false;
  /** The program itself (from its file): read at the first site tried (a short run never needs it). */
  private programObj: CodeObject | undefined;
  private get program(): CodeObject { return (this.programObj ??= this.readProgram()); }
  /** Shared objects and the interpreter, by the address of their ELF header in memory (undefined: none usable there). */
  private readonly objects = new Map<number, CodeObject | undefined>();
  private readonly tramps: { base: number; next: number; end: number }[] = [];
  private disabled: string | undefined;
  /** Where the program's function boundaries come from. */
  get source(): 'symtab' | 'eh_frame' { return this.program.source; }
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
  constructor(private readonly mem: GuestMemory, private readonly as: AddressSpace, private readonly image: Uint8Array, private readonly bias: number,
    private readonly chanCall: number) {}

  private readProgram(): CodeObject {
    const { image, bias } = this;
    // Function boundaries: the symbol table, else (a stripped binary) the unwind tables.
    const syms = parseSymbols(image).map((s) => ({ ...s, value: s.value + bias }));
    let funcs = syms.filter((s) => s.type === STT_FUNC && s.size > 0), source: CodeObject['source'] = 'symtab';
    if (funcs.length === 0) {
      funcs = parseEhFrame(image).map((f) => ({ value: f.value + bias, size: f.size, type: STT_FUNC }));
      source = 'eh_frame';
    }
    const text: CodeObject['text'] = [];
    for (const p of parseElf(image).phdrs) {
      if (p.type === PT_LOAD && p.flags & PF_X) text.push({ start: p.vaddr + bias, end: p.vaddr + bias + p.filesz });
    }
    return { funcs, labels: source === 'symtab' ? syms.map((s) => s.value) : funcs.map((f) => f.value), text, kind: 'elf', source };
  }

  /** A `syscall` at `site` was just served through the trap: rewrite it if that is provably safe. */
  consider(site: number): void {
    if (this.tried.has(site)) return;
    if (this.rewriteAt > 1 && this.disabled === undefined) {
      const seen = (this.pending.get(site) ?? 0) + 1;
      if (seen < this.rewriteAt && (this.pending.has(site) || this.pending.size < MAX_PENDING_SITES)) { this.pending.set(site, seen); return; }
      this.pending.delete(site);
    }
    const why = this.disabled ?? this.tryRewrite(site);
    // Remembered only once it passed the cheap checks (a real syscall instruction in the
    // program's text), so a program forging sites cannot grow the set without bound.
    if (why === undefined || this.checked) this.tried.add(site);
    if (why === undefined) { this.stats.rewritten++; return; }
    this.stats.refused++;
    this.stats.reasons.set(why, (this.stats.reasons.get(why) ?? 0) + 1);
  }

  /** The object whose code `site` is in: the program, or a shared object / the interpreter found from its mapping. */
  private objectAt(site: number): CodeObject | undefined {
    if (this.program.text.some((t) => site >= t.start && site < t.end)) return this.program;
    const v = this.as.find(site);
    if (!v || (v.prot & (PROT_W | PROT_X)) !== PROT_X || v.eof !== undefined) return undefined;
    let header: number;
    if (v.kind === 'file' && v.file) header = v.start - v.file.offset;
    else if (v.kind === 'elf') {
      const img = this.as.loadedImages.find((i) => site >= i.lo && site < i.hi);
      if (!img) return undefined;
      header = img.header;
    } else return undefined;
    if (!this.objects.has(header)) {
      if (this.objects.size >= MAX_OBJECTS) return undefined;
      this.objects.set(header, this.loadObject(header, v));
    }
    const o = this.objects.get(header);
    return o && o.kind === v.kind && (o.fileId === undefined || o.fileId === v.file?.id) ? o : undefined;
  }

  /**
   * Reads a shared object's tables from guest memory: its ELF header at `header` (the first
   * page of its file, mapped from the same file as the site's page), PT_GNU_EH_FRAME, the
   * .eh_frame it points to (in a mapping of its own file). Undefined if anything is amiss.
   */
  private loadObject(header: number, site: Vma): CodeObject | undefined {
    const hv = this.as.find(header);
    if (!hv || hv.kind !== site.kind || (site.kind === 'file' && (hv.file?.id !== site.file?.id || hv.file?.offset !== 0))) return undefined;
    const read = (off: number, len: number): Uint8Array => {
      const b = new Uint8Array(Math.max(0, Math.min(len, this.mem.memSize - header - off)));
      return b.subarray(0, off < 0 ? 0 : this.mem.tryRead(header + off, b));
    };
    let elf;
    try { elf = readElf(read, 2 ** 52, { interp: false }); } catch { return undefined; }
    const first = elf.phdrs.find((p) => p.type === PT_LOAD && p.offset === 0);
    if (!first) return undefined;
    const bias = header - first.vaddr;
    const hdrSeg = elf.phdrs.find((p) => p.type === PT_GNU_EH_FRAME);
    if (!hdrSeg) return undefined;
    // .eh_frame_hdr: version 1, eh_frame_ptr's encoding, then eh_frame_ptr (pc-relative sdata4 in practice).
    const hdr = hdrSeg.vaddr + bias, h = new Uint8Array(8);
    if (this.mem.tryRead(hdr, h) !== 8 || h[0] !== 1 || h[1] !== 0x1b) return undefined;
    const ehFrame = hdr + 4 + new DataView(h.buffer).getInt32(4, true);
    const ev = this.as.find(ehFrame);
    if (!ev || ev.kind !== site.kind || (site.kind === 'file' && ev.file?.id !== site.file?.id)) return undefined;
    const bytes = new Uint8Array(Math.min(ev.end - ehFrame, MAX_EH_FRAME));
    const n = this.mem.tryRead(ehFrame, bytes);
    const funcs = ehFrameFunctions(bytes.subarray(0, n), ehFrame).map((f) => ({ value: f.value, size: f.size, type: STT_FUNC }));
    if (funcs.length === 0) return undefined;
    const text = elf.phdrs.filter((p) => p.type === PT_LOAD && p.flags & PF_X).map((p) => ({ start: p.vaddr + bias, end: p.vaddr + bias + p.filesz }));
    return { funcs, labels: funcs.map((f) => f.value), text, kind: site.kind as 'elf' | 'file', ...(site.file ? { fileId: site.file.id } : {}), source: 'eh_frame' };
  }

  /** Returns undefined when rewritten, else why not. */
  private tryRewrite(site: number): string | undefined {
    this.checked = false;
    const obj = this.objectAt(site) ?? this.program;
    const fn = this.functionAt(obj, site);
    if (!fn) return `not inside a function of the ${obj.source === 'symtab' ? 'symbol table' : 'unwind table'}`;
    const seg = obj.text.find((t) => fn.value >= t.start && fn.value + fn.size <= t.end);
    if (!seg) return 'not in the program\'s text';
    // The program may have mapped something else there since it was loaded. torov reads
    // and writes only the loaded image's (or the shared object's) own private memory:
    // never a shared mapping, whose pages are the file itself.
    // Only executable, non-writable pages: bytes the program could not execute (or is
    // writing) are never copied into a trampoline, which is executable.
    if (!this.covered(fn.value, fn.value + fn.size, obj.kind, PROT_X, obj.fileId)) return 'the function is no longer the loaded program\'s memory';
    const b = this.read(site, 2);
    if (!b || b[0] !== 0x0f || b[1] !== 0x05) return 'not a syscall instruction';
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
    for (const l of obj.labels) if (l > start && l < end) return 'a label lies inside the bytes to overwrite';
    const moved = this.read(start, site - start);
    if (!moved) return 'the function is no longer the loaded program\'s memory';
    const tramp = this.trampoline(moved, site + 2, start);
    if (tramp === -1) return 'the trampoline mapping was replaced by the program';
    if (tramp === undefined) return this.disabled ?? 'no room for a trampoline';
    const rel = tramp - (start + JMP_LEN);
    if (rel < -(2 ** 31) || rel >= 2 ** 31) return 'the trampoline is out of reach of a 32-bit jump';
    const patch = new Uint8Array(end - start).fill(INT3);
    patch[0] = 0xe9;
    new DataView(patch.buffer).setInt32(1, rel, true);
    // The write never throws inside the guard: other vCPUs are stopped while it runs.
    let wrote = false;
    const write = () => { try { this.mem.copyIn(start, patch); wrote = true; } catch { /* reported below */ } };
    if (this.guard) {
      if (!this.guard(start, end, write)) return 'another thread was executing the bytes to overwrite';
    } else {
      write();
    }
    if (!wrote) return 'the function is no longer the loaded program\'s memory';
    return undefined;
  }

  /** Guest bytes [addr, addr+len) through the kernel (never a fault in the VMM), or undefined if not all readable. */
  private read(addr: number, len: number): Uint8Array | undefined {
    const b = new Uint8Array(len);
    return this.mem.tryRead(addr, b) === len ? b : undefined;
  }

  /**
   * True if [start, end) is entirely mapped by VMAs of this kind (private memory of torov's
   * own loading or mapping), with exactly the protection `prot` (read and execute, never
   * write) on every page.
   */
  private covered(start: number, end: number, kind: 'elf' | 'anon' | 'file', prot: number, fileId?: string): boolean {
    if (!(start >= 0 && end <= this.mem.memSize && start < end)) return false;
    for (let a = start; a < end;) {
      const v = this.as.find(a);
      if (!v || v.kind !== kind || v.eof !== undefined || (v.prot & (PROT_W | PROT_X)) !== (prot & (PROT_W | PROT_X))) return false;
      if (kind === 'file' && v.file?.id !== fileId) return false;
      a = v.end;
    }
    for (let pg = Math.floor(start / 4096) * 4096; pg < end; pg += 4096) {
      if ((this.mem.pageProt(pg) & (PROT_W | PROT_X)) !== (prot & (PROT_W | PROT_X))) return false;
    }
    return true;
  }

  /** The function of `obj` that covers [addr, addr+2), if any. */
  private functionAt(obj: CodeObject, addr: number): ElfSymbol | undefined {
    const f = obj.funcs;
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
    const code = fn.size <= 1024 * 1024 ? this.read(fn.value, fn.size) : undefined;
    if (!code) { info.ok = false; info.why = 'function not in guest memory'; return info; }
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

  /**
   * Writes a trampoline within a 32-bit jump of `near`: the moved bytes, rcx = return
   * address, jump to the channel. Returns its address, -1 if the program replaced the
   * trampoline mapping, undefined if there is no room.
   */
  private trampoline(moved: Uint8Array, ret: number, near: number): number | undefined {
    const len = moved.length + 7 + 6;
    const reach = (a: number) => Math.abs(a - near) < 2 ** 31 - 2 * TRAMP_SIZE;
    let t = this.tramps.find((x) => reach(x.base) && x.next + len <= x.end);
    if (!t) {
      if (this.tramps.length >= MAX_TRAMPS) return undefined;
      t = this.mapTrampolines(near);
      if (!t) return undefined;
      this.tramps.push(t);
    }
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

  /**
   * A trampoline mapping near `near`: just below the program's text for the program (as
   * before), else the highest free range within reach below it, else above it.
   */
  private mapTrampolines(near: number): { base: number; next: number; end: number } | undefined {
    const lo = this.program.text.some((x) => near >= x.start && near < x.end) ? Math.min(...this.program.text.map((x) => x.start)) : near;
    let base = Math.floor((lo - TRAMP_SIZE) / TRAMP_SIZE) * TRAMP_SIZE;
    if (!(base >= MMAP_MIN_ADDR && this.as.isFree(base, base + TRAMP_SIZE))) {
      base = this.as.findFree(TRAMP_SIZE, Math.min(this.as.mmapTop, near + 2 ** 31 - 2 * TRAMP_SIZE));
      if (base < 0 || Math.abs(base - near) >= 2 ** 31 - 2 * TRAMP_SIZE) {
        if (this.tramps.length === 0) this.disabled = 'no free address range for the trampolines';
        return undefined;
      }
    }
    if (!this.as.fits(base, base + TRAMP_SIZE, PROT_R | PROT_X, 'anon')) {
      if (this.tramps.length === 0) this.disabled = 'no memory left under --memory for the trampolines';
      return undefined;
    }
    this.as.map(base, TRAMP_SIZE, PROT_R | PROT_X, 'anon');
    const slot = this.mem.bytes(base, 8);
    new DataView(slot.buffer, slot.byteOffset, 8).setBigUint64(0, BigInt(this.chanCall), true);
    return { base, next: base + 16, end: base + TRAMP_SIZE };
  }
}
