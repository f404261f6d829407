/**
 * Sockets: guests compared line by line with a native run of the same binary, fd passing
 * (SCM_RIGHTS), bad pointers and lengths, refused families and options, and the echo
 * example serving real TCP clients from Node's net module.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { vmAndNative, ROOT, TOROV, spawn } from '../helpers';


test('sockets: TCP, UDP and Unix sockets behave as natively', () => {
  const { vm, host } = vmAndNative('sockets');
  assert.deepEqual(vm, host);
  assert.ok(vm.includes('sockets done'));
});

test('sendmsg/recvmsg: SCM_RIGHTS fd passing, names, control truncation, sendmmsg/recvmmsg', () => {
  const { vm, host } = vmAndNative('net_msg');
  // Fd numbers are the guest's own (lowest free), so even they match a native run.
  assert.deepEqual(vm, host);
  assert.ok(vm.includes('read through received fd "through"'));
  assert.ok(vm.includes('SCM_RIGHTS bad fd EBADF'));
  assert.ok(vm.includes('small control: ctrunc=1 nfds=0 controllen=0'));
  // SO_PASSPIDFD's SCM_PIDFD message: the pidfd is installed as a guest fd too.
  assert.ok(vm.some((l) => l === 'SCM_PIDFD fd 7 valid=1' || l === 'SO_PASSPIDFD not supported'));
  assert.ok(vm.includes('net_msg done'));
});

test('socket calls with bad pointers, lengths and fds fail like Linux; a full fd table truncates SCM_RIGHTS', () => {
  const { vm, host } = vmAndNative('net_bad');
  // "refused" lines differ on purpose: natively (as root) an AF_PACKET socket and a BPF
  // socket filter work, SCTP depends on the host's modules, SO_PEERPIDFD gives a pidfd
  // (Linux 6.5+); torov refuses them all.
  const refused = (l: string) => l.startsWith('refused ');
  assert.deepEqual(vm.filter((l) => !refused(l)), host.filter((l) => !refused(l)));
  assert.deepEqual(vm.filter(refused), [
    'refused AF_PACKET EAFNOSUPPORT',
    'refused IPPROTO_SCTP EPROTONOSUPPORT',
    'refused SO_ATTACH_FILTER ENOPROTOOPT',
    'refused SO_PEERPIDFD ENOPROTOOPT',
  ]);
  assert.ok(vm.includes('sendmsg iovlen 1025 EMSGSIZE'));
  // Closed guest fds whose numbers the VMM's host fds have: never sent in their place.
  assert.ok(vm.includes('SCM_RIGHTS with 32 closed fds: 32 EBADF'));
  assert.ok(vm.includes('full table recvmsg: ctrunc=1 fds=1 first=1023 controllen=24'));
  assert.ok(vm.includes('net_bad done'));
});

/** Resolves with the first match of `re` on the child's stdout lines; all of stdout is kept in `out`. */
function waitForLine(child: ChildProcess, re: RegExp, out: { text: string }): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let pending = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      out.text += chunk;
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        const m = line.match(re);
        if (m) resolve(m);
      }
    });
    child.on('exit', (code, sig) => reject(new Error(`exited (${code ?? sig}) before printing ${re}`)));
  });
}

/** Connects, sends `msg`, reads until as many bytes came back, closes. Resolves with what came back. */
function echoOnce(port: number, msg: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(msg));
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got >= msg.length) s.end();
    });
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

/** Rejects after ms milliseconds unless p settles first. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

/** Starts examples/echo/echo on a free port for `clients` clients, with extra torov options. */
async function echoServer(clients: number, opts: string[] = []): Promise<{ child: ChildProcess; port: number; out: { text: string }; err: { text: string } }> {
  const child = spawn(TOROV, ['run', ...opts, path.join(ROOT, 'examples', 'echo', 'echo'), '0', String(clients)], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { text: '' }, err = { text: '' };
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => { err.text += d; });
  try {
    const m = await within(waitForLine(child, /^echo: listening on 127\.0\.0\.1:(\d+)$/, out), 20_000, 'echo: listening');
    return { child, port: Number(m[1]), out, err };
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${(e as Error).message}; stderr: ${err.text}`);
  }
}

test('the echo example serves TCP clients from Node and exits 0', async () => {
  const { child, port, out, err } = await echoServer(2, ['--network', 'host']);
  try {
    const hello = Buffer.from('hello from node\n');
    assert.deepEqual(await within(echoOnce(port, hello), 10_000, 'first echo'), hello);
    // A second client with 1 MiB: many blocking reads and writes on both sides.
    const big = Buffer.alloc(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 131 + (i >> 12)) & 0xff;
    const back = await within(echoOnce(port, big), 30_000, '1 MiB echo');
    assert.equal(back.length, big.length);
    assert.ok(back.equals(big), '1 MiB came back intact');
    assert.equal(await within(exited(child), 10_000, 'echo exit'), 0, err.text);
    assert.match(out.text, /^echo: client 1 done, 16 bytes echoed$/m);
    assert.match(out.text, /^echo: client 2 done, 1048576 bytes echoed$/m);
    assert.match(out.text, /^echo: served 2 clients, bye$/m);
    assert.equal(err.text, '');
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

test('the echo example runs under its own policy', async () => {
  const { child, port, err } = await echoServer(1, ['--policy', path.join(ROOT, 'examples', 'echo', 'policy.json')]);
  try {
    const msg = Buffer.from('policy-bound echo');
    assert.deepEqual(await within(echoOnce(port, msg), 10_000, 'echo'), msg);
    assert.equal(await within(exited(child), 10_000, 'echo exit'), 0, err.text);
    assert.equal(err.text, '');
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});
