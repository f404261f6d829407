/** `torov policy check` and `torov policy convert`, and Docker seccomp profiles on real guests. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { torov, guest, ROOT, scratchDir } from '../helpers';

const tmp = scratchDir('torov-policy-tools-');
const DOCKER = path.join(ROOT, 'test/fixtures/docker-default-style.json');
function file(name: string, doc: unknown): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return f;
}

test('a Docker-style profile runs hello, and enosys sees mount refused with EPERM', () => {
  const r = torov(['run', '--policy', DOCKER, guest('hello')]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'hello from torov\n');
  const e = torov(['run', '--policy', DOCKER, guest('enosys')]);
  assert.equal(e.status, 0, e.stderr);
  assert.match(e.stdout, /^mount EPERM$/m);
});

test('a Docker profile that kills ptrace and writev stops hello with 159', () => {
  const p = file('kill.json', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['ptrace', 'writev'], action: 'SCMP_ACT_KILL_PROCESS' }] });
  const r = torov(['run', '--policy', p, guest('hello')]);
  assert.equal(r.status, 159);
  assert.match(r.stderr, /writev \(syscall 20\) is not allowed by the policy/);
});

test('policy check summarises a Docker profile: risks, areas, approximations, warnings', () => {
  const r = torov(['policy', 'check', DOCKER]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /docker-default-style\.json: ok\n/);
  assert.match(r.stdout, /^format: Docker seccomp profile$/m);
  assert.match(r.stdout, /^ {2}! allows ptrace: /m);
  assert.match(r.stdout, /^ {2}file \(\d+\): .*\bopenat\b/m);
  assert.match(r.stdout, /^ {2}syscalls\[\d+\] allow personality when arg0 == 0$/m);
  assert.match(r.stdout, /^ {2}when none matches, deny with EPERM: .*\bpersonality\b/m);
  assert.match(r.stdout, /^ {2}\? .*unknown on x86-64, ignored: .*_llseek/m);
});

test('policy check puts the riskiest grants of a torov policy first', () => {
  const p = file('risky.json', { defaultAction: 'allow', network: 'host', writable: ['/data'], newPid: false });
  const r = torov(['policy', 'check', p]);
  assert.equal(r.status, 0, r.stderr);
  const risks = r.stdout.split('\n').filter((l) => l.startsWith('  ! '));
  assert.match(risks[0] ?? '', /default action allow/);
  assert.match(risks[1] ?? '', /network: "host"/);
  assert.ok(risks.some((l) => /newPid: false/.test(l)));
  assert.ok(risks.some((l) => /writable paths: \/data/.test(l)));
});

test('policy check: a bad file is one line naming the field, status 125', () => {
  const p = file('bad.json', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALOW' }] });
  const r = torov(['policy', 'check', p]);
  assert.equal(r.status, 125);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /bad\.json: syscalls\[0\]\.action: must be one of SCMP_ACT_ALLOW/);
  const t = torov(['policy', 'check', file('bad2.json', { syscalls: [{ names: ['wirte'], action: 'allow' }] })]);
  assert.equal(t.status, 125);
  assert.match(t.stderr, /syscalls\[0\]\.names\[0\]: unknown syscall "wirte"/);
});

test('policy convert: torov -> docker -> torov, and the converted policy runs', () => {
  const src = path.join(ROOT, 'examples/hello/policy.json');
  const d = path.join(tmp, 'hello-docker.json');
  const r = torov(['policy', 'convert', src, '--to', 'docker', '-o', d]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '');
  const profile = JSON.parse(fs.readFileSync(d, 'utf8')) as { defaultAction: string };
  assert.match(profile.defaultAction, /^SCMP_ACT_/);
  const back = torov(['policy', 'convert', d, '--to', 'torov']);
  assert.equal(back.status, 0, back.stderr);
  const t = file('hello-torov.json', back.stdout);
  const run = torov(['run', '--policy', t, path.join(ROOT, 'examples/hello/hello')]);
  assert.equal(run.status, 0, run.stderr);
  const run2 = torov(['run', '--policy', d, path.join(ROOT, 'examples/hello/hello')]);
  assert.equal(run2.status, 0, run2.stderr);
  assert.equal(run2.stdout, run.stdout);
});

test('policy convert --to toroV needs --binary, says what is lost, and the result runs', () => {
  const p = file('lossy.json', { defaultAction: 'deny', syscalls: [{ names: ['writev', 'ioctl'], action: 'allow' }, { names: ['mount'], action: 'kill' }] });
  const no = torov(['policy', 'convert', p, '--to', 'toroV']);
  assert.equal(no.status, 125);
  assert.match(no.stderr, /--binary/);
  const out = path.join(tmp, 'hello-torov-config.json');
  const r = torov(['policy', 'convert', p, '--to', 'toroV', '--binary', guest('hello'), '-o', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /note: 1 "kill" syscall\(s\) become blocked/);
  const run = torov(['run', out]);
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, 'hello from torov\n');
});

test('policy convert: usage errors', () => {
  assert.equal(torov(['policy', 'convert', DOCKER]).status, 125);
  assert.equal(torov(['policy', 'convert', DOCKER, '--to', 'yaml']).status, 125);
  assert.equal(torov(['policy', 'check', DOCKER, '--to', 'docker']).status, 125);
});
