/**
 * The GDB remote protocol server: reads packets from one gdb connection, answers them
 * against a Target, and tells the caller how gdb wants the program resumed. All-stop
 * mode: every guest thread is a gdb thread whose id is its guest tid (in hex on the wire),
 * acknowledgements until gdb asks for QStartNoAckMode.
 *
 * The server only runs while the program is stopped: stopped() sends the stop reply and
 * serves packets until gdb resumes, detaches or kills. Every request gets a reply; an
 * unknown one the empty reply, a malformed one `E01` (or `E16` for bad arguments, `E0e`
 * for memory that cannot be accessed); nothing a client sends can throw out of here
 * except GuestExit (k: the program is killed).
 */
import { Connection } from './socket';
import { PacketReader, framePacket, toHex, fromHex, parseHexNumber, unescapeBinary, MAX_PACKET } from './packet';
import { targetXml } from './regs';

/** What the target (the stopped vCPU and its memory) offers the server. */
export interface Target {
  /** The `g` reply (hex). */
  readRegisters(): string;
  /** Applies a `G` packet's bytes; false if rejected. */
  writeRegisters(bytes: Buffer): boolean;
  /** Register n as hex (`xx..` if unavailable), or undefined if there is no such register. */
  readRegister(n: number): string | undefined;
  writeRegister(n: number, bytes: Buffer): boolean;
  /** Reads up to len bytes at a guest virtual address: the readable prefix (maybe empty). */
  readMemory(addr: number, len: number): Buffer;
  /** Writes guest memory; false if any byte cannot be written. */
  writeMemory(addr: number, data: Buffer): boolean;
  /** Z/z packets: type 0-4. Returns 'ok', 'error', or 'unsupported' (empty reply). */
  insertPoint(type: number, addr: number, kind: number): 'ok' | 'error' | 'unsupported';
  removePoint(type: number, addr: number, kind: number): 'ok' | 'error' | 'unsupported';
  /** Sets rip (c ADDR, s ADDR). */
  setPc(addr: number): void;
  /** The program's auxiliary vector as the kernel lays it out (qXfer:auxv:read), if it has one. */
  auxv?(): Buffer | undefined;
  /** The loaded shared objects, gdb's library-list-svr4 XML (qXfer:libraries-svr4:read), if the program can have any. */
  librariesSvr4?(): string | undefined;
  /** The program's live threads (guest tids), the first thread first. */
  threads(): number[];
  /** The thread the last stop is about (qC). */
  currentThread(): number;
  /** Makes `tid` the thread whose registers g/G/p/P read and write (Hg); false if it is not alive. */
  selectThread(tid: number): boolean;
  /** gdb's signal numbers to give the program without stopping (QPassSignals). */
  passSignals?(gdbSignals: number[]): void;
  /** A short description of a thread (qThreadExtraInfo), or undefined. */
  threadInfo?(tid: number): string | undefined;
}

/**
 * How gdb wants the program to go on. `signal` is gdb's number (0: none). `tid`: the thread
 * the action is for (undefined: the current one, Hc or the last stop's); `others`: whether
 * the other threads run too (false: they stay stopped, as `vCont;s:TID` asks).
 */
export type Resume =
  | { kind: 'continue' | 'step'; signal: number; tid?: number | undefined; others: boolean }
  | { kind: 'detach' }
  | { kind: 'kill' };

const OK = 'OK', EMPTY = '', E_BAD = 'E16', E_MEM = 'E0e', E_ERR = 'E01';

export class GdbServer {
  private readonly reader = new PacketReader();
  private queue: ReturnType<PacketReader['feed']> = [];
  private noAck = false;
  private lastStop = 'S05';
  private xml: Buffer | undefined;
  /** The object a qXfer read is going through, as it was at its offset 0. */
  private xfer: { object: string; data: Buffer } | undefined;
  /** The thread Hc chose for c/s/C/S (undefined: any, -1 or 0). */
  private cThread: number | undefined;

  constructor(private conn: Connection, private readonly target: Target, private readonly trace?: (line: string) => void) {}

  /** The connection's socket (for the Ctrl-C watcher). */
  get fd(): number { return this.conn.fd; }

  /** True while gdb is connected. */
  get connected(): boolean { return !this.conn.closed; }

  /**
   * Reports a stop (`reply`: `T05...`; the initial stop is only remembered, gdb asks for
   * it with `?`) and serves requests until gdb resumes the program. A lost connection is
   * a kill (as gdbserver does).
   */
  stopped(reply: string, initial = false): Resume {
    this.lastStop = reply;
    if (!initial) this.send(reply);
    for (;;) {
      const p = this.next();
      if (p === undefined) return { kind: 'kill' };
      let r: string | Resume;
      try {
        r = this.handle(p);
      } catch (e) {
        if ((e as Error)?.name === 'GuestExit') throw e;
        this.trace?.(`gdb: ${p.toString('latin1').slice(0, 40)}: ${(e as Error)?.message ?? e}`);
        r = E_ERR;
      }
      if (typeof r === 'string') { if (r !== OK_SENT) this.send(r); continue; }
      return r;
    }
  }

  /** Sends the final W/X reply and closes the connection. */
  finish(reply: string): void {
    this.send(reply);
    this.conn.close();
  }

  close(): void { this.conn.close(); }

  private send(payload: string | Buffer): void {
    this.trace?.(`gdb <- ${typeof payload === 'string' ? payload.slice(0, 200) : `[${payload.length} bytes]`}`);
    for (let tries = 0; tries < 5; tries++) {
      if (!this.conn.send(framePacket(payload))) return;
      if (this.noAck) return;
      // Wait for the acknowledgement; resend on '-'.
      const ack = this.nextAck();
      if (ack !== 'nack') return;
    }
  }

  /** The next '+' or '-' (other items are kept for next()). */
  private nextAck(): 'ack' | 'nack' | undefined {
    for (;;) {
      const i = this.queue.findIndex((x) => x.kind === 'ack' || x.kind === 'nack');
      if (i >= 0) { const k = this.queue[i]!.kind; this.queue.splice(0, i + 1); return k as 'ack' | 'nack'; }
      if (this.queue.some((x) => x.kind === 'packet')) return undefined;   // gdb moved on
      if (!this.fill()) return undefined;
    }
  }

  private fill(): boolean {
    const b = this.conn.recv();
    if (b === undefined) { this.conn.close(); return false; }
    this.queue.push(...this.reader.feed(b));
    return true;
  }

  /** The next good packet's payload (acknowledged), or undefined when the connection is gone. */
  private next(): Buffer | undefined {
    for (;;) {
      while (this.queue.length > 0) {
        const item = this.queue.shift()!;
        if (item.kind !== 'packet') continue;        // acks, and Ctrl-C while already stopped
        if (!this.noAck) this.conn.send(Buffer.from(item.ok ? '+' : '-'));
        if (!item.ok) continue;
        this.trace?.(`gdb -> ${item.data.toString('latin1').slice(0, 200)}`);
        return item.data;
      }
      if (!this.fill()) return undefined;
    }
  }

  /** One request: a reply to send, or how to resume. */
  private handle(p: Buffer): string | Resume {
    const s = p.toString('latin1');
    const t = this.target;
    switch (s[0]) {
      case '?': return this.lastStop;
      case 'g': return s.length === 1 ? t.readRegisters() : E_BAD;
      case 'G': {
        const b = fromHex(s.slice(1));
        return b && t.writeRegisters(b) ? OK : E_BAD;
      }
      case 'p': {
        const n = parseHexNumber(s.slice(1));
        const v = n === undefined ? undefined : t.readRegister(n);
        return v ?? E_BAD;
      }
      case 'P': {
        const m = /^P([0-9a-fA-F]+)=([0-9a-fA-F]*)$/.exec(s);
        const n = m ? parseHexNumber(m[1]!) : undefined, b = m ? fromHex(m[2]!) : undefined;
        return n !== undefined && b && t.writeRegister(n, b) ? OK : E_BAD;
      }
      case 'm': {
        const a = addrLen(s.slice(1));
        if (!a) return E_BAD;
        const data = t.readMemory(a.addr, Math.min(a.len, (MAX_PACKET - 16) >> 1));
        return data.length > 0 || a.len === 0 ? toHex(data) : E_MEM;
      }
      case 'M': {
        const colon = s.indexOf(':');
        const a = colon > 0 ? addrLen(s.slice(1, colon)) : undefined;
        const b = fromHex(s.slice(colon + 1));
        if (!a || !b || b.length !== a.len) return E_BAD;
        return t.writeMemory(a.addr, b) ? OK : E_MEM;
      }
      case 'X': {
        const colon = p.indexOf(0x3a);
        const a = colon > 0 ? addrLen(p.subarray(1, colon).toString('latin1')) : undefined;
        if (!a) return E_BAD;
        const b = unescapeBinary(p.subarray(colon + 1));
        if (b.length !== a.len) return E_BAD;
        return a.len === 0 || t.writeMemory(a.addr, b) ? OK : E_MEM;
      }
      case 'c': case 's': {
        if (s.length > 1) {
          const addr = parseHexNumber(s.slice(1));
          if (addr === undefined) return E_BAD;
          t.setPc(addr);
        }
        return this.legacy(s[0] === 'c' ? 'continue' : 'step', 0);
      }
      case 'C': case 'S': {
        const m = /^[CS]([0-9a-fA-F]{1,2})(?:;([0-9a-fA-F]+))?$/.exec(s);
        if (!m) return E_BAD;
        if (m[2] !== undefined) t.setPc(parseHexNumber(m[2])!);
        return this.legacy(s[0] === 'C' ? 'continue' : 'step', parseInt(m[1]!, 16));
      }
      case 'D': return s === 'D' || /^D;[0-9a-fA-F]+$/.test(s) ? this.reply(OK, { kind: 'detach' }) : E_BAD;
      case 'k': return { kind: 'kill' };
      case 'H': {
        const m = /^H([gcs])(.+)$/.exec(s);
        const tid = m ? parseThreadId(m[2]!) : undefined;
        if (!m || tid === undefined) return E_BAD;
        if (tid <= 0) { if (m[1] === 'c') this.cThread = undefined; return OK; }      // any thread, all threads
        if (!t.threads().includes(tid)) return E_ERR;
        if (m[1] === 'g') return t.selectThread(tid) ? OK : E_ERR;
        if (m[1] === 'c') this.cThread = tid;
        return OK;
      }
      case 'T': {
        const tid = parseThreadId(s.slice(1));
        return tid !== undefined && (tid === -1 || t.threads().includes(tid)) ? OK : E_ERR;
      }
      case 'Z': case 'z': {
        const m = /^[Zz]([0-4]),([0-9a-fA-F]{1,16}),([0-9a-fA-F]{1,8})(;.*)?$/.exec(s);
        if (!m) return E_BAD;
        const type = Number(m[1]), addr = parseHexNumber(m[2]!), kind = parseHexNumber(m[3]!);
        if (addr === undefined || kind === undefined) return E_BAD;
        const r = s[0] === 'Z' ? t.insertPoint(type, addr, kind) : t.removePoint(type, addr, kind);
        return r === 'ok' ? OK : r === 'error' ? E_ERR : EMPTY;
      }
      case 'v': return this.handleV(s);
      case 'q': case 'Q': return this.handleQuery(s);
      default: return EMPTY;
    }
  }

  /** c, s, C, S: the Hc thread (or the current one); `c` lets every thread run, `s` steps one and the others stay stopped. */
  private legacy(kind: 'continue' | 'step', signal: number): Resume {
    const tid = this.cThread !== undefined && this.target.threads().includes(this.cThread) ? this.cThread : undefined;
    return { kind, signal, tid, others: kind === 'continue' };
  }

  /** Sends `reply` now and resumes with `r` (D: gdb waits for the OK before closing). */
  private reply(reply: string, r: Resume): Resume {
    this.send(reply);
    return r;
  }

  private handleV(s: string): string | Resume {
    if (s === 'vCont?') return 'vCont;c;C;s;S';
    if (s.startsWith('vCont;')) {
      // For each thread the first action that names it (or names no thread) applies; a
      // thread no action names stays stopped. The stub resumes at most one thread in a
      // particular way (the one named), and the others all alike.
      let named: { act: string; tid: number } | undefined, wildcard: string | undefined;
      const live = this.target.threads();
      for (const action of s.slice(6).split(';')) {
        const [act, id] = action.split(':');
        if (!/^([cs]|[CS][0-9a-fA-F]{1,2})$/.test(act ?? '')) return E_BAD;
        const tid = id === undefined ? -1 : parseThreadId(id);
        if (tid === undefined) return E_BAD;
        if (tid <= 0) { wildcard ??= act!; continue; }
        if (!live.includes(tid)) continue;                    // gone: nothing to do for it
        named ??= { act: act!, tid };
      }
      const a = named?.act ?? wildcard;
      if (a === undefined) return E_BAD;
      const kind = a[0] === 'c' || a[0] === 'C' ? 'continue' : 'step';
      const signal = a.length > 1 ? parseInt(a.slice(1), 16) : 0;
      // A wildcard step ("vCont;s") steps the current thread only.
      const others = named ? wildcard !== undefined && (wildcard[0] === 'c' || wildcard[0] === 'C') : kind === 'continue';
      return { kind, signal, tid: named?.tid, others };
    }
    if (s === 'vCtrlC') return OK;                           // already stopped
    if (/^vKill(;[0-9a-fA-F]+)?$/.test(s)) return this.reply(OK, { kind: 'kill' });
    return EMPTY;                                             // vMustReplyEmpty and all the rest
  }

  private handleQuery(s: string): string {
    if (s.startsWith('qSupported')) {
      const xfer = (this.target.auxv?.() !== undefined ? ';qXfer:auxv:read+' : '') + (this.target.librariesSvr4 ? ';qXfer:libraries-svr4:read+' : '');
      return `PacketSize=${MAX_PACKET.toString(16)};QStartNoAckMode+;qXfer:features:read+${xfer};swbreak+;hwbreak+;QPassSignals+`;
    }
    // The auxiliary vector and the shared-library list: read afresh when gdb asks from
    // offset 0 (the list changes as the program loads libraries), in pieces after that.
    const xfer = /^qXfer:(auxv|libraries-svr4):read:([^:]*):([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(s);
    if (xfer) {
      const off = parseHexNumber(xfer[3]!), len = parseHexNumber(xfer[4]!);
      if (off === undefined || len === undefined) return E_BAD;
      let cur = this.xfer;
      if (cur === undefined || off === 0 || cur.object !== xfer[1]) {
        const text = xfer[1] === 'libraries-svr4' ? this.target.librariesSvr4?.() : undefined;
        const data = xfer[1] === 'auxv' ? this.target.auxv?.() : text === undefined ? undefined : Buffer.from(text, 'latin1');
        if (data === undefined) return 'E00';
        cur = this.xfer = { object: xfer[1]!, data };
      }
      const chunk = cur.data.subarray(off, off + Math.min(len, (MAX_PACKET - 64) >> 1));
      // Binary (auxv): framePacket escapes it; half a packet leaves room for that.
      return (off + chunk.length >= cur.data.length ? 'l' : 'm') + chunk.toString('latin1');
    }
    if (s.startsWith('QPassSignals:')) {
      // gdb ends the list with a ';'.
      const list = s.slice(13).split(';').filter((x) => x !== '').map((x) => parseHexNumber(x));
      if (list.some((n) => n === undefined) || !this.target.passSignals) return list.some((n) => n === undefined) ? E_BAD : EMPTY;
      this.target.passSignals(list as number[]);
      return OK;
    }
    if (s === 'QStartNoAckMode') { this.send(OK); this.noAck = true; return OK_SENT; }
    if (s.startsWith('qXfer:features:read:')) {
      const m = /^qXfer:features:read:([^:]*):([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(s);
      if (!m) return E_BAD;
      if (m[1] !== 'target.xml') return 'E00';
      this.xml ??= Buffer.from(targetXml(), 'latin1');
      const off = parseHexNumber(m[2]!), len = parseHexNumber(m[3]!);
      if (off === undefined || len === undefined) return E_BAD;
      const chunk = this.xml.subarray(off, off + Math.min(len, MAX_PACKET - 64));
      return (off + chunk.length >= this.xml.length ? 'l' : 'm') + chunk.toString('latin1');
    }
    if (s.startsWith('qThreadExtraInfo,')) {
      const tid = parseThreadId(s.slice(17));
      const info = tid === undefined ? undefined : this.target.threadInfo?.(tid);
      return info === undefined ? EMPTY : toHex(Buffer.from(info, 'latin1'));    // empty: gdb shows nothing
    }
    switch (s) {
      case 'qAttached': return '0';                         // torov started it: quitting gdb kills it
      case 'qC': return `QC${this.target.currentThread().toString(16)}`;
      case 'qfThreadInfo': return `m${this.target.threads().map((t) => t.toString(16)).join(',')}`;
      case 'qsThreadInfo': return 'l';
      case 'qSymbol::': return OK;
      default: return EMPTY;                                 // qOffsets, qTStatus, qRcmd, ...: not supported
    }
  }
}

/** A marker: the reply was already sent (QStartNoAckMode's OK must go out with acks on). */
const OK_SENT = '\u0000sent';

/** A thread id as gdb writes it: hex, -1 (all), 0 (any), or pPID.TID (multiprocess form); undefined if malformed. */
export function parseThreadId(s: string): number | undefined {
  const m = /^(?:p(?:-1|[0-9a-fA-F]+)\.)?(-1|[0-9a-fA-F]{1,8})$/.exec(s);
  if (!m) return undefined;
  return m[1] === '-1' ? -1 : parseInt(m[1]!, 16);
}

function addrLen(s: string): { addr: number; len: number } | undefined {
  const m = /^([0-9a-fA-F]{1,16}),([0-9a-fA-F]{1,8})$/.exec(s);
  if (!m) return undefined;
  const addr = parseHexNumber(m[1]!), len = parseHexNumber(m[2]!);
  return addr === undefined || len === undefined ? undefined : { addr, len };
}

