/** Helpers shared by the policy unit tests (no tests of its own). */
import assert from 'node:assert/strict';
import { parseTorovPolicy } from '../../src/policy/torov-format';
import { PolicyError } from '../../src/policy/errors';
import { linuxSyscalls } from '../../src/policy/syscall-table';

const table = linuxSyscalls();
/** The x86-64 number of a syscall name. */
export const nr = (name: string): number => table.nrOf(name) as number;

/** Parses `doc` as app.json and returns the PolicyError message (failing if it parses, or if the error is not one line naming the file). */
export function errorOf(doc: unknown): string {
  try {
    parseTorovPolicy(doc, 'app.json');
  } catch (e) {
    assert.ok(e instanceof PolicyError, `expected a PolicyError, got ${String(e)}`);
    assert.equal(e.name, 'PolicyError');
    assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
    assert.ok(e.message.startsWith('app.json: '), e.message);
    return e.message;
  }
  assert.fail('expected an error');
}
