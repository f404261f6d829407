/**
 * What the launcher (launch.ts) tells the sandboxed VMM it starts. Kept apart from
 * launch.ts so that the VMM side does not load child_process (start-up time).
 */

/** The environment variable that tells the child it is the sandboxed VMM (its value: JSON ChildSpec). */
export const CHILD_ENV = 'TOROV_SANDBOX_CHILD';

/** What the launcher tells the child. */
export interface ChildSpec {
  /** The sandbox is on (else the child only runs under the launcher for --timeout). */
  sandbox: boolean;
  /** Host directory the child builds its new root on. */
  dir: string;
  /** The child runs in a user namespace (torov was not started as root). */
  userNamespace: boolean;
  /** The launcher's listening gdb socket, passed to the child (fd number in the child). */
  gdbFd?: number;
  /** The run uses the syscall channel: start its vCPU thread first thing (src/vmm/channel.ts). */
  vcpuThread?: boolean;
  /** Learn mode: the pipe (fd number in the child) the learned policy goes back through. */
  learnFd?: number;
}

/** In the child: tells the launcher that the sandbox is set up (fd 3), then closes it. */
export function signalReady(): void {
  const fs = require('node:fs') as typeof import('node:fs');
  try { fs.writeSync(3, 'ready'); fs.closeSync(3); } catch { /* not launched by torov */ }
}
