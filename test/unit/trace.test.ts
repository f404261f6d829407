import { test } from 'node:test';
import assert from 'node:assert/strict';
import { syscallByName } from '../../src/linux/syscalls';
import { formatArgs, formatResult, formatTraceLine } from '../../src/syscalls/trace';
import type { TraceMemory, Verdict } from '../../src/syscalls/trace';

/** A guest memory window at BASE; everything outside it is unreadable. */
class FakeMemory implements TraceMemory {
  static readonly BASE = 0x10000;
  readonly bytes = new Uint8Array(0x4000);
  private top = 0;

  /** Copies data in (8-byte aligned) and returns its guest address. */
  put(data: Uint8Array | string): bigint {
    const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    const at = this.top;
    this.bytes.set(b, at);
    this.top = (at + b.length + 8) & ~7;
    return BigInt(FakeMemory.BASE + at);
  }

  /** A NUL-terminated string. */
  str(s: string): bigint {
    return this.put(`${s}\0`);
  }

  readString(addr: number, max: number): { s: string; truncated: boolean } | null {
    const off = addr - FakeMemory.BASE;
    if (off < 0 || off >= this.bytes.length) return null;
    let s = '';
    for (let i = 0; i < max; i++) {
      const c = this.bytes[off + i];
      if (c === undefined) return { s, truncated: true };
      if (c === 0) return { s, truncated: false };
      s += String.fromCharCode(c);
    }
    return { s, truncated: true };
  }

  readBytes(addr: number, len: number): Uint8Array | null {
    const off = addr - FakeMemory.BASE;
    if (off < 0 || off + len > this.bytes.length) return null;
    return this.bytes.slice(off, off + len);
  }
}

/** Little-endian 64-bit words. */
function u64s(...v: (number | bigint)[]): Uint8Array {
  const b = new Uint8Array(v.length * 8);
  const dv = new DataView(b.buffer);
  v.forEach((x, i) => dv.setBigUint64(i * 8, BigInt.asUintN(64, BigInt(x)), true));
  return b;
}

function u32s(...v: number[]): Uint8Array {
  const b = new Uint8Array(v.length * 4);
  const dv = new DataView(b.buffer);
  v.forEach((x, i) => dv.setUint32(i * 4, x >>> 0, true));
  return b;
}

const neg = (n: number): bigint => BigInt.asUintN(64, BigInt(n));
const BAD = 0xdeadbeefn;

function line(mem: TraceMemory, name: string, args: (number | bigint)[], result: number | bigint, verdict: Verdict = 'allow'): string {
  const info = syscallByName(name);
  assert.ok(info, name);
  return formatTraceLine(info, info.nr, args.map((a) => BigInt.asUintN(64, BigInt(a))), mem, BigInt.asUintN(64, BigInt(result)), verdict);
}

test('the example lines', () => {
  const m = new FakeMemory();
  assert.equal(line(m, 'openat', [-100, m.str('/etc/hosts'), 0o2000000], 3), 'openat(AT_FDCWD, "/etc/hosts", O_RDONLY|O_CLOEXEC) = 3');
  assert.equal(line(m, 'write', [1, m.str('hello\n'), 6], 6), 'write(1, "hello\\n", 6) = 6');
  assert.equal(
    line(m, 'mmap', [0, 4096, 3, 0x22, -1, 0], 0x7f0000000000n),
    'mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000',
  );
  assert.equal(line(m, 'read', [3, m.str('abcdef'), 4096], 3), 'read(3, "abc", 4096) = 3');
  assert.equal(line(m, 'close', [99], -9), 'close(99) = -1 EBADF (Bad file descriptor)');
  const ts = m.put(u64s(1, 2));
  assert.equal(line(m, 'clock_gettime', [1, ts], 0), 'clock_gettime(CLOCK_MONOTONIC, {tv_sec=1, tv_nsec=2}) = 0');
  assert.equal(line(m, 'exit_group', [0], 0), 'exit_group(0) = ?');
});

test('verdicts', () => {
  const m = new FakeMemory();
  const path = m.str('/etc/shadow');
  assert.equal(
    line(m, 'openat', [-100, path, 0], -1, 'deny'),
    'openat(AT_FDCWD, "/etc/shadow", O_RDONLY) = -1 EPERM (Operation not permitted) <denied by policy>',
  );
  assert.equal(line(m, 'openat', [-100, path, 0], 4, 'log'), 'openat(AT_FDCWD, "/etc/shadow", O_RDONLY) = 4 <logged>');
  assert.equal(line(m, 'openat', [-100, path, 0], 0, 'kill'), 'openat(AT_FDCWD, "/etc/shadow", O_RDONLY) = ? <killed by policy>');
  // A denied or killed call never ran: buffers it would fill stay pointers.
  const b = m.str('stale');
  assert.equal(line(m, 'read', [0, b, 5], -1, 'deny'), `read(0, 0x${b.toString(16)}, 5) = -1 EPERM (Operation not permitted) <denied by policy>`);
  assert.equal(line(m, 'exit_group', [1], 0, 'log'), 'exit_group(1) = ? <logged>');
});

test('results', () => {
  const info = syscallByName('mmap');
  assert.equal(formatResult(info, neg(-12)), '-1 ENOMEM (Cannot allocate memory)');
  assert.equal(formatResult(info, -12n), '-1 ENOMEM (Cannot allocate memory)');
  assert.equal(formatResult(info, 0n), '0');
  assert.equal(formatResult(syscallByName('read'), neg(-11)), '-1 EAGAIN (Resource temporarily unavailable)');
  assert.equal(formatResult(syscallByName('read'), neg(-600)), '-1 E600 (Unknown error 600)');
  assert.equal(formatResult(syscallByName('lseek'), neg(-5000)), '-5000');
  assert.equal(formatResult(syscallByName('umask'), 0o22n), '022');
  assert.equal(formatResult(syscallByName('exit'), 0n), '?');
  assert.equal(formatResult(undefined, 5n), '5');
});

test('string escaping and truncation', () => {
  const m = new FakeMemory();
  const s = m.put(new Uint8Array([0x61, 0x0a, 0x09, 0x0d, 0x0b, 0x0c, 0x22, 0x5c, 0x01, 0x01, 0x32, 0x00, 0x7f, 0xff, 0x38]));
  assert.equal(line(m, 'write', [1, s, 15], 15), 'write(1, "a\\n\\t\\r\\v\\f\\"\\\\\\1\\0012\\0\\177\\3778", 15) = 15');
  const long = m.put('x'.repeat(100));
  assert.equal(line(m, 'write', [1, long, 100], 100), `write(1, "${'x'.repeat(32)}"..., 100) = 100`);
  assert.equal(line(m, 'write', [1, long, 32], 32), `write(1, "${'x'.repeat(32)}", 32) = 32`);
  assert.equal(line(m, 'write', [1, long, 0], 0), 'write(1, "", 0) = 0');
  // read shows what was read, cut like any buffer.
  assert.equal(line(m, 'read', [0, long, 4096], 50), `read(0, "${'x'.repeat(32)}"..., 4096) = 50`);
  // Paths are shown whole, like strace; argv strings are cut.
  const path = `/${'d'.repeat(60)}`;
  assert.equal(line(m, 'unlink', [m.str(path)], 0), `unlink("${path}") = 0`);
  const argv = m.put(u64s(m.str('prog'), m.str('a'.repeat(40)), 0));
  const env = m.put(u64s(m.str('A=1'), m.str('B=2'), 0));
  assert.equal(
    line(m, 'execve', [m.str('/bin/prog'), argv, env], -38),
    `execve("/bin/prog", ["prog", "${'a'.repeat(32)}"...], 0x${env.toString(16)} /* 2 vars */) = -1 ENOSYS (Function not implemented)`,
  );
  // A string of exactly 32 bytes is not marked as cut.
  const exact = m.str('y'.repeat(32));
  assert.equal(
    formatArgs(syscallByName('execve'), 59, [exact, m.put(u64s(exact, 0)), 0n], m, 'enter'),
    `"${'y'.repeat(32)}", ["${'y'.repeat(32)}"], NULL`,
  );
});

test('bad pointers print as hex', () => {
  const m = new FakeMemory();
  assert.equal(line(m, 'openat', [-100, BAD, 0], -14), 'openat(AT_FDCWD, 0xdeadbeef, O_RDONLY) = -1 EFAULT (Bad address)');
  assert.equal(line(m, 'write', [1, BAD, 10], -14), 'write(1, 0xdeadbeef, 10) = -1 EFAULT (Bad address)');
  assert.equal(line(m, 'read', [0, BAD, 10], 10), 'read(0, 0xdeadbeef, 10) = 10');
  assert.equal(line(m, 'clock_gettime', [0, BAD], 0), 'clock_gettime(CLOCK_REALTIME, 0xdeadbeef) = 0');
  assert.equal(line(m, 'clock_gettime', [0, 0], -14), 'clock_gettime(CLOCK_REALTIME, NULL) = -1 EFAULT (Bad address)');
  assert.equal(line(m, 'connect', [3, BAD, 16], -14), 'connect(3, 0xdeadbeef, 16) = -1 EFAULT (Bad address)');
  assert.equal(line(m, 'writev', [1, BAD, 2], -14), 'writev(1, 0xdeadbeef, 2) = -1 EFAULT (Bad address)');
  assert.equal(line(m, 'openat', [-100, 0xffff_ffff_ffff_f000n, 0], -14), 'openat(AT_FDCWD, 0xfffffffffffff000, O_RDONLY) = -1 EFAULT (Bad address)');
  // An error leaves output buffers undecoded.
  const ts = m.put(u64s(1, 2));
  assert.equal(line(m, 'clock_gettime', [99, ts], -22), `clock_gettime(99, 0x${ts.toString(16)}) = -1 EINVAL (Invalid argument)`);
});

test('unknown syscalls', () => {
  const m = new FakeMemory();
  assert.equal(
    formatTraceLine(undefined, 999, [1n, 0n, 0xffn], m, neg(-38), 'allow'),
    'syscall_999(0x1, 0, 0xff, 0, 0, 0) = -1 ENOSYS (Function not implemented)',
  );
});

test('open flags and modes', () => {
  const m = new FakeMemory();
  const p = m.str('x');
  assert.equal(line(m, 'openat', [-100, p, 0o1101, 0o644], 3), 'openat(AT_FDCWD, "x", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 3');
  assert.equal(line(m, 'open', [p, 0o2702, 0o600], 3), 'open("x", O_RDWR|O_CREAT|O_EXCL|O_NOCTTY|O_APPEND, 0600) = 3');
  assert.equal(line(m, 'openat', [5, p, 0o2200000], 3), 'openat(5, "x", O_RDONLY|O_CLOEXEC|O_DIRECTORY) = 3');
  assert.equal(line(m, 'openat', [-100, p, 0o20200002, 0o600], 3), 'openat(AT_FDCWD, "x", O_RDWR|O_TMPFILE, 0600) = 3');
  assert.equal(line(m, 'openat', [-100, p, 0o4010001], 3), 'openat(AT_FDCWD, "x", O_WRONLY|O_SYNC) = 3');
  assert.equal(line(m, 'openat', [-100, p, 0o10400000 | 0x40000000], 3), 'openat(AT_FDCWD, "x", O_RDONLY|O_NOFOLLOW|O_PATH|0x40000000) = 3');
  assert.equal(line(m, 'mkdir', [p, 0o755], 0), 'mkdir("x", 0755) = 0');
  assert.equal(line(m, 'umask', [0o22], 0o77), 'umask(022) = 077');
  assert.equal(line(m, 'fchownat', [-100, p, 0xffffffff, 1000, 0x100], 0), 'fchownat(AT_FDCWD, "x", -1, 1000, AT_SYMLINK_NOFOLLOW) = 0');
  assert.equal(line(m, 'unlinkat', [3, p, 0x200], 0), 'unlinkat(3, "x", AT_REMOVEDIR) = 0');
  assert.equal(line(m, 'faccessat2', [-100, p, 6, 0x200], 0), 'faccessat2(AT_FDCWD, "x", R_OK|W_OK, AT_EACCESS) = 0');
  assert.equal(line(m, 'access', [p, 0], 0), 'access("x", F_OK) = 0');
  assert.equal(line(m, 'renameat2', [-100, p, -100, p, 1], 0), 'renameat2(AT_FDCWD, "x", AT_FDCWD, "x", RENAME_NOREPLACE) = 0');
  assert.equal(line(m, 'pipe2', [m.put(u32s(4, 5)), 0o2004000], 0), 'pipe2([4, 5], O_NONBLOCK|O_CLOEXEC) = 0');
  assert.equal(line(m, 'dup3', [3, 4, 0], 4), 'dup3(3, 4, 0) = 4');
});

test('memory management', () => {
  const m = new FakeMemory();
  assert.equal(
    line(m, 'mmap', [0x10000, 4096, 0, 0x104022, -1, 0], 0x10000),
    'mmap(0x10000, 4096, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE|MAP_FIXED_NOREPLACE, -1, 0) = 0x10000',
  );
  assert.equal(
    line(m, 'mmap', [0, 8192, 5, 0x812, 3, 0x1000], -12),
    'mmap(NULL, 8192, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3, 0x1000) = -1 ENOMEM (Cannot allocate memory)',
  );
  assert.equal(line(m, 'mprotect', [0x4a0000, 16384, 1], 0), 'mprotect(0x4a0000, 16384, PROT_READ) = 0');
  assert.equal(line(m, 'brk', [0], 0x4ca000), 'brk(NULL) = 0x4ca000');
  assert.equal(line(m, 'madvise', [0x1000, 4096, 4], 0), 'madvise(0x1000, 4096, MADV_DONTNEED) = 0');
  assert.equal(line(m, 'mremap', [0x1000, 4096, 8192, 1, 0], 0x2000), 'mremap(0x1000, 4096, 8192, MREMAP_MAYMOVE, NULL) = 0x2000');
});

test('sockets', () => {
  const m = new FakeMemory();
  assert.equal(line(m, 'socket', [2, 0o2004001, 0], 6), 'socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP) = 6');
  assert.equal(line(m, 'socket', [10, 2, 17], 7), 'socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP) = 7');
  assert.equal(line(m, 'socket', [1, 1, 0], 8), 'socket(AF_UNIX, SOCK_STREAM, 0) = 8');
  const sin = m.put(new Uint8Array([2, 0, 0x1f, 0x90, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]));
  assert.equal(
    line(m, 'connect', [6, sin, 16], -115),
    'connect(6, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress)',
  );
  const sin6 = new Uint8Array(28);
  sin6.set([10, 0, 0, 53]);
  sin6.set([0x20, 0x01, 0x0d, 0xb8], 8);
  sin6[23] = 1;
  assert.equal(
    line(m, 'sendto', [7, m.str('x'), 1, 0x40, m.put(sin6), 28], 1),
    'sendto(7, "x", 1, MSG_DONTWAIT, {sa_family=AF_INET6, sin6_port=htons(53), sin6_flowinfo=htonl(0), '
      + 'inet_pton(AF_INET6, "2001:db8::1", &sin6_addr), sin6_scope_id=0}, 28) = 1',
  );
  const mapped = new Uint8Array(28);
  mapped.set([10, 0]);
  mapped.set([0xff, 0xff, 10, 1, 2, 3], 18);
  assert.match(line(m, 'bind', [7, m.put(mapped), 28], 0), /"::ffff:10\.1\.2\.3"/);
  const any6 = new Uint8Array(28);
  any6[0] = 10;
  assert.match(line(m, 'bind', [7, m.put(any6), 28], 0), /"::"/);
  const sun = new Uint8Array(110);
  sun.set([1, 0]);
  sun.set(Buffer.from('/tmp/x.sock'), 2);
  assert.equal(line(m, 'connect', [8, m.put(sun), 110], -2), 'connect(8, {sa_family=AF_UNIX, sun_path="/tmp/x.sock"}, 110) = -1 ENOENT (No such file or directory)');
  const abs = m.put(new Uint8Array([1, 0, 0, 0x61, 0x62]));
  assert.equal(line(m, 'bind', [8, abs, 5], 0), 'bind(8, {sa_family=AF_UNIX, sun_path=@"ab"}, 5) = 0');
  // accept-style output address, length through a pointer.
  const peer = m.put(new Uint8Array([2, 0, 0x8a, 0x28, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]));
  const plen = m.put(u32s(16));
  assert.equal(
    line(m, 'getsockname', [6, peer, plen], 0),
    'getsockname(6, {sa_family=AF_INET, sin_port=htons(35368), sin_addr=inet_addr("127.0.0.1")}, [16]) = 0',
  );
  assert.equal(line(m, 'accept4', [6, 0, 0, 0o2000000], 9), 'accept4(6, NULL, NULL, SOCK_CLOEXEC) = 9');
  const one = m.put(u32s(1));
  assert.equal(line(m, 'setsockopt', [6, 1, 2, one, 4], 0), 'setsockopt(6, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0');
  assert.equal(line(m, 'setsockopt', [6, 6, 1, one, 4], 0), 'setsockopt(6, SOL_TCP, TCP_NODELAY, [1], 4) = 0');
  const err = m.put(u32s(111));
  const four = m.put(u32s(4));
  assert.equal(line(m, 'getsockopt', [6, 1, 4, err, four], 0), 'getsockopt(6, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0');
  assert.equal(line(m, 'shutdown', [6, 2], 0), 'shutdown(6, SHUT_RDWR) = 0');
  const iov = m.put(u64s(m.str('hello'), 5, m.str('\n'), 1));
  const msg = m.put(u64s(0, 0, iov, 2, 0, 0, 0));
  assert.equal(
    line(m, 'sendmsg', [5, msg, 0x4000], -88),
    'sendmsg(5, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="hello", iov_len=5}, {iov_base="\\n", iov_len=1}], '
      + 'msg_iovlen=2, msg_controllen=0, msg_flags=0}, MSG_NOSIGNAL) = -1 ENOTSOCK (Socket operation on non-socket)',
  );
  assert.equal(line(m, 'recvfrom', [6, m.str('data!'), 100, 0, 0, 0], 4), 'recvfrom(6, "data", 100, 0, NULL, NULL) = 4');
});

test('vectors, poll and epoll', () => {
  const m = new FakeMemory();
  const iov = m.put(u64s(m.str('hello'), 5, m.str('\n'), 1));
  assert.equal(line(m, 'writev', [1, iov, 2], 6), 'writev(1, [{iov_base="hello", iov_len=5}, {iov_base="\\n", iov_len=1}], 2) = 6');
  const rd = m.put(u64s(m.str('abc'), 3, m.str('defghijkl'), 10));
  assert.equal(line(m, 'readv', [4, rd, 2], 6), 'readv(4, [{iov_base="abc", iov_len=3}, {iov_base="def", iov_len=10}], 2) = 6');
  assert.equal(line(m, 'writev', [1, iov, 0], 0), 'writev(1, [], 0) = 0');
  const pfd = m.put(new Uint8Array([0, 0, 0, 0, 5, 0, 5, 0, 3, 0, 0, 0, 1, 0, 0, 0]));
  assert.equal(
    line(m, 'poll', [pfd, 2, 0], 1),
    'poll([{fd=0, events=POLLIN|POLLOUT}, {fd=3, events=POLLIN}], 2, 0) = 1 ([{fd=0, revents=POLLIN|POLLOUT}])',
  );
  assert.equal(line(m, 'poll', [pfd, 1, 0], 0), 'poll([{fd=0, events=POLLIN|POLLOUT}], 1, 0) = 0 (Timeout)');
  assert.equal(line(m, 'epoll_create1', [0o2000000], 3), 'epoll_create1(EPOLL_CLOEXEC) = 3');
  const ev = new Uint8Array(12);
  new DataView(ev.buffer).setUint32(0, 0x80000001, true);
  new DataView(ev.buffer).setBigUint64(4, 5n, true);
  const evp = m.put(ev);
  assert.equal(line(m, 'epoll_ctl', [3, 1, 0, evp], 0), 'epoll_ctl(3, EPOLL_CTL_ADD, 0, {events=EPOLLIN|EPOLLET, data={u32=5, u64=5}}) = 0');
  assert.equal(line(m, 'epoll_wait', [3, evp, 4, 0], 0), 'epoll_wait(3, [], 4, 0) = 0');
  assert.equal(line(m, 'epoll_wait', [3, evp, 4, -1], 1), 'epoll_wait(3, [{events=EPOLLIN|EPOLLET, data={u32=5, u64=5}}], 4, -1) = 1');
});

test('fcntl, ioctl, lseek', () => {
  const m = new FakeMemory();
  assert.equal(line(m, 'fcntl', [1, 3], 0x8001), 'fcntl(1, F_GETFL) = 0x8001 (flags O_WRONLY|O_LARGEFILE)');
  assert.equal(line(m, 'fcntl', [4, 4, 0o4000], 0), 'fcntl(4, F_SETFL, O_RDONLY|O_NONBLOCK) = 0');
  assert.equal(line(m, 'fcntl', [4, 2, 1], 0), 'fcntl(4, F_SETFD, FD_CLOEXEC) = 0');
  assert.equal(line(m, 'fcntl', [0, 1030, 10], 11), 'fcntl(0, F_DUPFD_CLOEXEC, 10) = 11');
  const one = m.put(u32s(1));
  assert.equal(line(m, 'ioctl', [4, 0x5421, one], 0), 'ioctl(4, FIONBIO, [1]) = 0');
  const n = m.put(u32s(7));
  assert.equal(line(m, 'ioctl', [4, 0x541b, n], 0), 'ioctl(4, FIONREAD, [7]) = 0');
  const ws = m.put(new Uint8Array([24, 0, 80, 0, 0, 0, 0, 0]));
  assert.equal(line(m, 'ioctl', [1, 0x5413, ws], 0), 'ioctl(1, TIOCGWINSZ, {ws_row=24, ws_col=80, ws_xpixel=0, ws_ypixel=0}) = 0');
  assert.equal(line(m, 'ioctl', [1, 0x5401, ws], -25), `ioctl(1, TCGETS, 0x${ws.toString(16)}) = -1 ENOTTY (Inappropriate ioctl for device)`);
  assert.equal(line(m, 'ioctl', [1, 0x5451], 0), 'ioctl(1, FIOCLEX) = 0');
  assert.equal(line(m, 'ioctl', [1, 0x1234, 0x99], -25), 'ioctl(1, 0x1234, 0x99) = -1 ENOTTY (Inappropriate ioctl for device)');
  assert.equal(line(m, 'lseek', [3, -10, 2], 90), 'lseek(3, -10, SEEK_END) = 90');
  assert.equal(line(m, 'flock', [3, 6], 0), 'flock(3, LOCK_EX|LOCK_NB) = 0');
});

test('process, signals, futex', () => {
  const m = new FakeMemory();
  assert.equal(line(m, 'arch_prctl', [0x1002, 0x4c9380], 0), 'arch_prctl(ARCH_SET_FS, 0x4c9380) = 0');
  assert.equal(line(m, 'arch_prctl', [0x3001, 0], -22), 'arch_prctl(0x3001, 0) = -1 EINVAL (Invalid argument)');
  assert.equal(line(m, 'set_tid_address', [0x4c9650], 3925), 'set_tid_address(0x4c9650) = 3925');
  assert.equal(line(m, 'kill', [42, 2], 0), 'kill(42, SIGINT) = 0');
  assert.equal(line(m, 'tgkill', [1, 1, 34], 0), 'tgkill(1, 1, SIGRT_2) = 0');
  assert.equal(line(m, 'kill', [42, 0], 0), 'kill(42, 0) = 0');
  const futex = 0x7ffe4e58034cn;
  assert.equal(line(m, 'futex', [futex, 129, 1, 0, 0, 0], 0), 'futex(0x7ffe4e58034c, FUTEX_WAKE_PRIVATE, 1) = 0');
  assert.equal(
    line(m, 'futex', [futex, 128, 0, 0, 0, 0], -11),
    'futex(0x7ffe4e58034c, FUTEX_WAIT_PRIVATE, 0, NULL) = -1 EAGAIN (Resource temporarily unavailable)',
  );
  assert.equal(
    line(m, 'futex', [futex, 9 | 256, 2, 0, 0, 0xffffffff], -110),
    'futex(0x7ffe4e58034c, FUTEX_WAIT_BITSET|FUTEX_CLOCK_REALTIME, 2, NULL, NULL, FUTEX_BITSET_MATCH_ANY) = -1 ETIMEDOUT (Connection timed out)',
  );
  const sa = m.put(u64s(0x401136, 0x14000000, 0x401000, 1n << 14n));
  assert.equal(
    line(m, 'rt_sigaction', [2, sa, 0, 8], 0),
    'rt_sigaction(SIGINT, {sa_handler=0x401136, sa_mask=[TERM], sa_flags=SA_RESTORER|SA_RESTART, sa_restorer=0x401000}, NULL, 8) = 0',
  );
  const old = m.put(u64s(0, 0, 0, 0));
  assert.equal(line(m, 'rt_sigaction', [10, 0, old, 8], 0), 'rt_sigaction(SIGUSR1, NULL, {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, 8) = 0');
  const chld = m.put(u64s(1n << 16n));
  assert.equal(line(m, 'rt_sigprocmask', [0, chld, 0, 8], 0), 'rt_sigprocmask(SIG_BLOCK, [CHLD], NULL, 8) = 0');
  const most = m.put(u64s(~(3n << 31n)));
  assert.equal(line(m, 'rt_sigprocmask', [2, most, 0, 8], 0), 'rt_sigprocmask(SIG_SETMASK, ~[RTMIN RT_1], NULL, 8) = 0');
  const stk = m.put(u64s(0x5000, 0, 65536));
  assert.equal(line(m, 'sigaltstack', [stk, 0], 0), 'sigaltstack({ss_sp=0x5000, ss_flags=0, ss_size=65536}, NULL) = 0');
  const rl = m.put(u64s(8192 * 1024, -1));
  assert.equal(line(m, 'prlimit64', [0, 3, 0, rl], 0), 'prlimit64(0, RLIMIT_STACK, NULL, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}) = 0');
  assert.equal(line(m, 'exit', [3], 0), 'exit(3) = ?');
});

test('files, time and identity structures', () => {
  const m = new FakeMemory();
  const st = new Uint8Array(144);
  const dv = new DataView(st.buffer);
  dv.setUint32(24, 0o100755, true);
  dv.setBigInt64(48, 49n, true);
  assert.equal(
    line(m, 'newfstatat', [-100, m.str('/etc/hosts'), m.put(st), 0], 0),
    'newfstatat(AT_FDCWD, "/etc/hosts", {st_mode=S_IFREG|0755, st_size=49, ...}, 0) = 0',
  );
  dv.setUint32(24, 0o020666, true);
  dv.setBigUint64(40, 0x103n, true);
  assert.equal(
    line(m, 'fstat', [1, m.put(st)], 0),
    'fstat(1, {st_mode=S_IFCHR|0666, st_rdev=makedev(0x1, 0x3), ...}) = 0',
  );
  const sx = new Uint8Array(256);
  const sdv = new DataView(sx.buffer);
  sdv.setUint32(0, 0x17ff, true);
  sdv.setUint16(28, 0o100644, true);
  sdv.setBigUint64(40, 221n, true);
  assert.equal(
    line(m, 'statx', [-100, m.str('/etc/hosts'), 0, 0x7ff, m.put(sx)], 0),
    'statx(AT_FDCWD, "/etc/hosts", AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS, {stx_mask=STATX_BASIC_STATS|STATX_MNT_ID, stx_attributes=0, stx_mode=S_IFREG|0644, stx_size=221, ...}) = 0',
  );
  const ts = m.put(u64s(0, (1 << 30) - 1, 5, (1 << 30) - 2));
  assert.equal(
    line(m, 'utimensat', [-100, m.str('f'), ts, 0x100], 0),
    'utimensat(AT_FDCWD, "f", [UTIME_NOW, UTIME_OMIT], AT_SYMLINK_NOFOLLOW) = 0',
  );
  const its = m.put(u64s(0, 0, 1, 500));
  assert.equal(
    line(m, 'timerfd_settime', [9, 1, its, 0], 0),
    'timerfd_settime(9, TFD_TIMER_ABSTIME, {it_interval={tv_sec=0, tv_nsec=0}, it_value={tv_sec=1, tv_nsec=500}}, NULL) = 0',
  );
  assert.equal(line(m, 'timerfd_create', [1, 0o2000000], 9), 'timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC) = 9');
  const rq = m.put(u64s(0, 1000));
  assert.equal(line(m, 'clock_nanosleep', [1, 0, rq, 0], 0), 'clock_nanosleep(CLOCK_MONOTONIC, 0, {tv_sec=0, tv_nsec=1000}, NULL) = 0');
  const uts = new Uint8Array(390);
  uts.set(Buffer.from('Linux'), 0);
  uts.set(Buffer.from('vm'), 65);
  assert.equal(line(m, 'uname', [m.put(uts)], 0), 'uname({sysname="Linux", nodename="vm", ...}) = 0');
  assert.equal(
    line(m, 'getrandom', [m.put(new Uint8Array([1, 2, 3, 4])), 4, 1], 4),
    'getrandom("\\1\\2\\3\\4", 4, GRND_NONBLOCK) = 4',
  );
  assert.equal(line(m, 'readlink', [m.str('/proc/self/exe'), m.str('/tmp/t'), 4096], 6), 'readlink("/proc/self/exe", "/tmp/t", 4096) = 6');
  assert.equal(line(m, 'getcwd', [m.str('/home'), 4096], 6), 'getcwd("/home", 4096) = 6');
  assert.equal(line(m, 'sched_getaffinity', [0, 128, m.put(u64s(3, 0, 0, 0))], 32), 'sched_getaffinity(0, 128, [0 1]) = 32');
  const tms = m.put(u64s(1, 2, 3, 4));
  assert.equal(line(m, 'times', [tms], 100), 'times({tms_utime=1, tms_stime=2, tms_cutime=3, tms_cstime=4}) = 100');
  // getdents64: two entries of 24 bytes.
  const de = new Uint8Array(48);
  new DataView(de.buffer).setUint16(16, 24, true);
  new DataView(de.buffer).setUint16(40, 24, true);
  const dp = m.put(de);
  assert.equal(line(m, 'getdents64', [3, dp, 4096], 48), `getdents64(3, 0x${dp.toString(16)} /* 2 entries */, 4096) = 48`);
});

test('formatArgs phases', () => {
  const m = new FakeMemory();
  const info = syscallByName('read');
  const b = m.str('abc');
  assert.equal(formatArgs(info, 0, [3n, b, 10n], m, 'enter'), `3, 0x${b.toString(16)}, 10`);
  assert.equal(formatArgs(info, 0, [3n, b, 10n], m, 'exit', 2n), '3, "ab", 10');
  assert.equal(formatArgs(info, 0, [3n, b, 10n], m, 'exit', neg(-4)), `3, 0x${b.toString(16)}, 10`);
  assert.equal(formatArgs(syscallByName('getpid'), 39, [], m, 'exit', 1n), '');
});

test('a memory that throws does not break tracing', () => {
  const m: TraceMemory = {
    readString() { throw new Error('boom'); },
    readBytes() { throw new Error('boom'); },
  };
  assert.equal(line(m, 'openat', [-100, 0x1000, 0], 3), 'openat(AT_FDCWD, 0x1000, O_RDONLY) = 3');
  assert.equal(line(m, 'write', [1, 0x1000, 3], 3), 'write(1, 0x1000, 3) = 3');
});
