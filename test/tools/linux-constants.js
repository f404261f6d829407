#!/usr/bin/env node
'use strict';
/*
 * Checks the numeric constants of src/linux against the host's C headers: generates a C
 * program that prints each one the headers define, compiles it with gcc and compares.
 *   npm run build && node test/tools/linux-constants.js
 * Names the headers lack (newer than them, or kernel-internal such as MAX_RW_COUNT) are
 * listed as unchecked. Known differences, where glibc's value is not the kernel's:
 * SIGRTMIN (glibc keeps 32-33), _NSIG (glibc counts 65), MINSIGSTKSZ and SIGSTKSZ
 * (glibc's are dynamic), O_LARGEFILE (0 in glibc on 64-bit), __O_TMPFILE (glibc folds
 * O_DIRECTORY in).
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const dist = path.join(__dirname, '..', '..', 'dist', 'src', 'linux');
const FILES = ['errno', 'signal', 'fcntl', 'stat', 'mman', 'poll', 'time', 'futex', 'sched', 'socket', 'ioctl', 'resource', 'prctl'];
const HEADERS = ['errno.h', 'fcntl.h', 'signal.h', 'sys/mman.h', 'sys/stat.h', 'poll.h', 'sys/epoll.h', 'time.h', 'sys/time.h',
  'linux/futex.h', 'sched.h', 'linux/sched.h', 'sys/socket.h', 'netinet/in.h', 'netinet/tcp.h', 'linux/netlink.h', 'sys/ioctl.h',
  'linux/fs.h', 'sys/resource.h', 'sys/prctl.h', 'asm/prctl.h', 'sys/eventfd.h', 'sys/inotify.h', 'sys/timerfd.h',
  'sys/random.h', 'linux/openat2.h', 'linux/close_range.h', 'limits.h', 'sys/uio.h', 'unistd.h', 'sys/file.h'];
const KNOWN = new Set(['SIGRTMIN', '_NSIG', 'MINSIGSTKSZ', 'SIGSTKSZ', 'O_LARGEFILE', '__O_TMPFILE']);
// _IOR/_IOW requests whose struct glibc does not declare: compared as numbers.
const LITERAL = { TCGETS2: '0x802c542aULL', TCSETS2: '0x402c542bULL' };

const ours = new Map();
for (const f of FILES) {
  for (const [k, v] of Object.entries(require(path.join(dist, `${f}.js`)))) {
    if (typeof v === 'number' || typeof v === 'bigint') ours.set(k, BigInt.asUintN(64, BigInt(v)));
  }
}
let c = '#define _GNU_SOURCE\n#include <stdio.h>\n' + HEADERS.map((h) => `#include <${h}>\n`).join('') + 'int main(void) {\n';
for (const k of ours.keys()) {
  c += `#ifdef ${k}\n  printf("${k} %llu\\n", (unsigned long long)(${LITERAL[k] ?? k}));\n#endif\n`;
}
c += '  return 0;\n}\n';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-abi-'));
fs.writeFileSync(path.join(dir, 'c.c'), c);
execFileSync('gcc', ['-w', '-o', path.join(dir, 'c'), path.join(dir, 'c.c')]);
const theirs = new Map(execFileSync(path.join(dir, 'c'), { encoding: 'utf8' }).trim().split('\n').map((l) => {
  const [k, v] = l.split(' ');
  return [k, BigInt(v)];
}));
fs.rmSync(dir, { recursive: true });
let bad = 0;
for (const [k, v] of ours) {
  const t = theirs.get(k);
  if (t !== undefined && t !== v && !KNOWN.has(k)) { console.log(`${k}: src/linux ${v}, headers ${t}`); bad++; }
}
const unchecked = [...ours.keys()].filter((k) => !theirs.has(k));
console.log(`${ours.size} constants, ${ours.size - unchecked.length} checked, ${bad} different; not in these headers: ${unchecked.join(' ')}`);
process.exitCode = bad ? 1 : 0;
