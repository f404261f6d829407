/**
 * Syscalls that need the calling thread's registers (clone and fork copy them all, execve replaces them, sigaltstack asks
 * whether rsp is on the alternate stack) or change them (arch_prctl's FS base is a vCPU
 * register, rt_sigreturn replaces them all): their vCPU must be out of KVM_RUN while they
 * are served. On the channel they make the guest leave to the VMM first (C_STATE 5,
 * PORT_CTX); on the exit path the vCPU is out already.
 */
import { SYS as NR } from '../linux/syscalls';

export const NEEDS_CONTEXT: Uint8Array = (() => {
  const t = new Uint8Array(512);
  for (const n of ['clone', 'clone3', 'fork', 'vfork', 'execve', 'execveat', 'arch_prctl', 'rt_sigreturn', 'sigaltstack'] as const) t[NR[n]] = 1;
  return t;
})();
