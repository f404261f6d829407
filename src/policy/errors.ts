/**
 * The one error type of the policy loaders, and the helpers that keep its
 * messages to one line: "<file>: <field>: <problem>".
 */

/**
 * A policy or configuration file that cannot be used. The message is one
 * line naming the file, the field path (when there is one) and the problem,
 * e.g. `app.json: syscalls[1].names[0]: unknown syscall "wirte" (did you mean "write"?)`.
 */
export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  /** The file the problem is in ('<default>' for built-in policies). */
  readonly file: string;
  /** The JSON path of the offending field (`syscalls[1].names[0]`), or undefined for whole-file problems. */
  readonly field: string | undefined;
  /** The problem alone, without file and field. */
  readonly problem: string;

  constructor(file: string, field: string | undefined, problem: string) {
    super(oneLine(field === undefined ? `${file}: ${problem}` : `${file}: ${field}: ${problem}`));
    this.file = file;
    this.field = field;
    this.problem = problem;
  }
}

/** Collapses line breaks so that a message always fits on one line, and shows control characters as escapes. */
export function oneLine(s: string): string {
  return printable(s.replace(/\s*[\r\n\u2028\u2029]+\s*/g, ' '));
}

/**
 * Text safe to print on a terminal: control characters (C0, DEL, C1) and line separators
 * become `\xNN` / `\uNNNN` escapes, so that a file name or a file's bytes quoted in a
 * message can neither break the one-line form nor send escape sequences.
 */
export function printable(s: string): string {
  return s.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, (c) => {
    const n = c.charCodeAt(0);
    return n > 0xff ? `\\u${n.toString(16)}` : `\\x${n.toString(16).padStart(2, '0')}`;
  });
}

/**
 * A short rendering of a JSON value for "(got ...)": strings and numbers as
 * JSON, long ones cut, containers by kind.
 */
export function showValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  switch (typeof v) {
    case 'string': {
      const s = JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
      return s;
    }
    case 'number':
    case 'boolean':
      return String(v);
    case 'object':
      return 'an object';
    default:
      return typeof v;
  }
}

/** Levenshtein distance (insert, delete, substitute; all cost 1). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  let prev = new Array<number>(b.length + 1);
  let cur = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const sub = (prev[j - 1] ?? 0) + (a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1);
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, sub);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length] ?? 0;
}

/**
 * The closest candidate to `word` (case-insensitive), if it is close enough
 * to be a plausible typo: at most 1 edit for short words, 2 for words of 5+
 * characters, 3 for 9+. An exact case-insensitive match always wins.
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const w = word.toLowerCase();
  const limit = w.length >= 9 ? 3 : w.length >= 5 ? 2 : 1;
  let best: string | undefined;
  let bestD = limit + 1;
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
      if (d === 0) break;
    }
  }
  return best;
}

/** ` (did you mean "x"?)` or the empty string. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const c = closest(word, candidates);
  return c === undefined ? '' : ` (did you mean ${JSON.stringify(c)}?)`;
}

/** Joins a JSON path: `path('syscalls', 1, 'names', 0)` -> `syscalls[1].names[0]`. */
export function fieldPath(...parts: readonly (string | number)[]): string {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(p)) out += out === '' ? p : `.${p}`;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}
