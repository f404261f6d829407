/**
 * JSON text -> value with one-line, located error messages, and the small
 * shape checks the format loaders share.
 */
import { PolicyError, didYouMean, fieldPath, showValue } from './errors';

/** A JSON object as parsed (string keys, unknown values). */
export type JsonObject = { readonly [key: string]: unknown };

/**
 * Parses JSON text. On a syntax error, throws a PolicyError such as
 * `app.json: not valid JSON: Unexpected token '}' at line 3 column 5`.
 * A leading byte-order mark is ignored.
 */
export function parseJsonText(text: string, source: string): unknown {
  const t = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (t.trim() === '') throw new PolicyError(source, undefined, 'not valid JSON: the file is empty');
  try {
    return JSON.parse(t) as unknown;
  } catch (e) {
    const raw = e instanceof Error ? e.message : String(e);
    // V8 (Node 20) says either "... in JSON at position N" or
    // "Unexpected token 'x', "<the whole text>" is not valid JSON", which
    // quotes the input (possibly many lines of it): keep only the reason.
    const m = /\bat position (\d+)/.exec(raw);
    let pos = m?.[1] !== undefined ? Number(m[1]) : undefined;
    const reason = raw
      .replace(/, ".*" is not valid JSON$/s, '')
      .replace(/ in JSON at position \d+.*$/s, '')
      .replace(/ at position \d+.*$/s, '');
    pos ??= locateJsonError(t);
    const where = pos === undefined ? '' : ` at ${lineColumn(t, pos)}`;
    throw new PolicyError(source, undefined, `not valid JSON: ${reason}${where}`);
  }
}

/** `line L column C` (both 1-based) of a character offset. */
export function lineColumn(text: string, pos: number): string {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(pos, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return `line ${line} column ${end - lineStart + 1}`;
}

/**
 * The offset of the first syntax error in `t` (RFC 8259), or undefined if it
 * is valid or too deeply nested to check. Used only when V8's message does
 * not give a position.
 */
export function locateJsonError(t: string): number | undefined {
  let i = 0;
  const bad = (): never => {
    throw new JsonSyntaxAt(i);
  };
  const ws = (): void => {
    for (;;) {
      const c = t.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else return;
    }
  };
  const str = (): void => {
    i++; // opening quote
    while (i < t.length) {
      const c = t.charCodeAt(i);
      if (c === 34) {
        i++;
        return;
      }
      if (c === 92) {
        const n = t[i + 1];
        if (n !== undefined && '"\\/bfnrt'.includes(n)) i += 2;
        else if (n === 'u' && /^[0-9a-fA-F]{4}$/.test(t.slice(i + 2, i + 6))) i += 6;
        else {
          i++;
          bad();
        }
      } else if (c < 0x20) bad();
      else i++;
    }
    bad();
  };
  const num = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const value = (): void => {
    ws();
    const c = t[i];
    if (c === '{') {
      i++;
      ws();
      if (t[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (t[i] !== '"') bad();
        str();
        ws();
        if (t[i] !== ':') bad();
        i++;
        value();
        ws();
        if (t[i] === ',') i++;
        else if (t[i] === '}') {
          i++;
          return;
        } else bad();
      }
    } else if (c === '[') {
      i++;
      ws();
      if (t[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (t[i] === ',') i++;
        else if (t[i] === ']') {
          i++;
          return;
        } else bad();
      }
    } else if (c === '"') str();
    else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      num.lastIndex = i;
      const m = num.exec(t);
      if (m === null) bad();
      else i += m[0].length;
    } else if (t.startsWith('true', i)) i += 4;
    else if (t.startsWith('false', i)) i += 5;
    else if (t.startsWith('null', i)) i += 4;
    else bad();
  };
  try {
    value();
    ws();
    if (i < t.length) bad();
    return undefined;
  } catch (e) {
    if (e instanceof JsonSyntaxAt) return e.at;
    return undefined; // too deep (RangeError): no position
  }
}

class JsonSyntaxAt {
  constructor(readonly at: number) {}
}

/** True for a JSON object (not null, not an array). */
export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Throws for any key of `obj` not in `known`:
 * `app.json: syscalls[0].acton: unknown field (did you mean "action"?)`.
 * `path` is the path of `obj` itself (empty at the top level).
 */
export function rejectUnknownKeys(source: string, path: readonly (string | number)[], obj: JsonObject, known: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue;
    const hint = didYouMean(key, known);
    const problem = hint !== '' ? `unknown field${hint}` : `unknown field (known fields: ${known.join(', ')})`;
    throw new PolicyError(source, fieldPath(...path, key), problem);
  }
}

/** Throws `<field>: must be <what> (got <value>)`. */
export function mustBe(source: string, path: readonly (string | number)[], what: string, got: unknown): never {
  throw new PolicyError(source, fieldPath(...path), `must be ${what} (got ${showValue(got)})`);
}
