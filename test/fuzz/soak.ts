/**
 * `npm run soak`: the long run of the fuzz kit (test/fuzz/kit.ts), issue 13's soak.
 *
 *   npm run soak [-- --calls N] [--per-run N] [--seed S] [--elfs N] [--policies N] [--probes N] [--minutes M]
 *
 * By default a million syscall-fuzzer calls (runs of 5,000, rotating through the classes,
 * both policies, both syscall paths, with and without --trace), 300 crafted ELF files,
 * 600 hostile policies and the resource probes, then a report: runs, calls, guest deaths,
 * timeouts, torov (VMM) failures, host leftovers, each failure with what repeats it.
 * Exit status 1 if there was any torov failure, leftover or host change. --minutes stops
 * starting new runs after that long (the fuzzer gets 60% of it, the ELF files 15%, the policies
 * 20%); SIGINT or SIGTERM stops after the run in progress, with the report so far. Runs one
 * at a time: the machines are shared.
 */
import { runFuzz, runElf, runPolicy, runProbe, HostCanary, FuzzRun, Outcome } from './kit';

interface Opts { calls: number; perRun: number; seed: number; elfs: number; policies: number; probes: number; minutes: number }

function parse(argv: readonly string[]): Opts {
  const o: Opts = { calls: 1_000_000, perRun: 5000, seed: Date.now() % 1_000_000, elfs: 300, policies: 600, probes: 1, minutes: Infinity };
  const keys: Record<string, keyof Opts> = { '--calls': 'calls', '--per-run': 'perRun', '--seed': 'seed', '--elfs': 'elfs', '--policies': 'policies', '--probes': 'probes', '--minutes': 'minutes' };
  for (let i = 0; i < argv.length; i++) {
    const k = keys[argv[i]!];
    const v = Number(argv[i + 1]);
    if (!k || !Number.isFinite(v) || v < 0) {
      process.stderr.write(`soak: unknown or bad option ${argv[i]} ${argv[i + 1] ?? ''}\nusage: npm run soak -- [--calls N] [--per-run N] [--seed S] [--elfs N] [--policies N] [--probes N] [--minutes M]\n`);
      process.exit(2);
    }
    o[k] = v;
    i++;
  }
  return o;
}

/** The configuration of syscall-fuzzer run number i: every combination comes round. */
export function fuzzPlan(i: number, seed: number, calls: number): FuzzRun {
  const classes = ['s', 's', 'sx', 'sc', 'scx', 'x', 'c'][i % 7]!;
  return {
    seed: seed + i, calls, classes,
    policy: Math.floor(i / 7) % 2 ? 'allow' : 'default',
    path: Math.floor(i / 14) % 2 ? 'exit' : 'ring',
    trace: Math.floor(i / 28) % 4 === 3,
    timeout: 60,
  };
}

/** Set by SIGINT or SIGTERM: no new run starts, and the report so far is printed. */
let stopping = false;

function main(): number {
  const o = parse(process.argv.slice(2));
  // (A signal waits for the run in progress, which its own --timeout bounds.)
  for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, () => { stopping = true; });
  const start = Date.now(), deadline = start + o.minutes * 60_000;
  // With --minutes, each phase gets its share: the fuzzer 60%, ELF files 15%, policies 20%, probes the rest.
  const going = (share = 1) => !stopping && Date.now() < start + share * o.minutes * 60_000;
  const t0 = Date.now();
  const canary = new HostCanary();
  const count = { runs: 0, calls: 0, ok: 0, 'guest-death': 0, timeout: 0, 'torov-failure': 0, leftovers: 0 } as Record<Outcome | 'runs' | 'calls' | 'leftovers', number>;
  const failures: string[] = [], timeouts: string[] = [];
  const say = (s: string) => process.stdout.write(s + '\n');
  const tally = (kind: string, r: { outcome: Outcome; why: string; leftovers: string[]; command: string }) => {
    count.runs++;
    count[r.outcome]++;
    if (r.outcome === 'torov-failure') failures.push(`${kind}: ${r.why}\n    repeat: ${r.command}`);
    if (r.outcome === 'timeout') timeouts.push(`${kind}: ${r.why}`);
    if (r.leftovers.length) { count.leftovers += r.leftovers.length; failures.push(`${kind}: left on the host: ${r.leftovers.join('; ')}\n    repeat: ${r.command}`); }
  };
  say(`soak: seed ${o.seed}; ${o.calls} syscall-fuzzer calls in runs of ${o.perRun}, ${o.elfs} ELF files, ${o.policies} policies, ${o.probes} round(s) of probes`);

  // 1. The syscall fuzzer.
  let deaths = 0;
  for (let i = 0; count.calls < o.calls && going(0.6); i++) {
    const plan = fuzzPlan(i, o.seed, o.perRun);
    const r = runFuzz(plan);
    count.calls += r.callsMade;
    if (r.outcome === 'guest-death') deaths++;
    tally(`fuzz seed ${plan.seed} (${plan.classes}, ${plan.policy}, ${plan.path}${plan.trace ? ', --trace' : ''}, ${r.callsMade} calls)`, { ...r, why: `${r.why} [last: ${r.last}]` });
    if (i % 20 === 19) say(`soak: ${count.runs} runs, ${count.calls} calls, ${deaths} guest deaths, ${count.timeout} timeouts, ${count['torov-failure']} torov failures (${Math.round((Date.now() - t0) / 1000)} s)`);
  }
  const fuzzRuns = count.runs;

  // 2. Crafted ELF files, 3. hostile policies, 4. resource probes.
  for (let i = 0; i < o.elfs && going(0.75); i++) tally(`ELF seed ${o.seed + i}`, runElf(o.seed + i));
  for (let i = 0; i < o.policies && going(0.95); i++) tally(`policy seed ${o.seed + i}`, runPolicy(o.seed + i));
  for (let i = 0; i < o.probes && going(); i++) {
    for (const m of ['memfd', 'tmp', 'pipes', 'sockets', 'mmap', 'all']) tally(`probe ${m}`, runProbe(m));
  }
  const changes = canary.changes();
  canary.remove();
  failures.push(...changes);

  say('');
  say(`soak report (seed ${o.seed}, ${Math.round((Date.now() - t0) / 1000)} s${stopping ? ', interrupted' : Date.now() >= deadline ? ', out of time' : ''})`);
  say(`  runs:            ${count.runs} (${fuzzRuns} of the syscall fuzzer, ${count.runs - fuzzRuns} ELF files, policies and probes)`);
  say(`  syscall calls:   ${count.calls}`);
  say(`  ended normally:  ${count.ok}`);
  say(`  guest deaths:    ${count['guest-death']}`);
  say(`  timeouts:        ${count.timeout}`);
  say(`  torov failures:  ${count['torov-failure']}`);
  say(`  host leftovers:  ${count.leftovers}${changes.length ? `, host changes: ${changes.length}` : ''}`);
  for (const t of timeouts) say(`  timeout ${t}`);
  for (const f of failures) say(`  FAIL ${f}`);
  return failures.length ? 1 : 0;
}

if (require.main === module) process.exit(main());
