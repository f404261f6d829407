/** The syscall channel's pure parts: constants shared by the stub, the VMM and the vCPU thread. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { K, NR_WORKER } from '../../src/vmm/vcpu-thread';
import { SYS as NR } from '../../src/linux/syscalls';
import { KVM_RUN, KVM_EXIT_IO, RUN } from '../../src/kvm/kvm';
import { CHAN, SYS } from '../../src/machine/layout';
import { STUB_CODE, STUB_CHAN_CALL, STUB_CHAN_KICK, STUB_CHAN_WAIT, STUB_CHANNEL_ON, STUB_SYSCALL_OUT } from '../../src/machine/stub';

test('the vCPU thread uses the same KVM constants as src/kvm', () => {
  assert.deepEqual(K, { KVM_RUN, KVM_EXIT_IO, exit_reason: RUN.exit_reason, io_direction: RUN.io_direction, io_port: RUN.io_port });
});

test('the vCPU thread uses the syscall numbers of src/linux', () => {
  assert.deepEqual(NR_WORKER, { gettid: NR.gettid });
});

test('the stub reaches the channel page at the offsets layout.ts names', () => {
  // syscall_entry: cmpl $0, disp32(%rip) (83 3d disp32 00): the displacement from the end of
  // the instruction (offset 7) must land on the switch in the stub page itself.
  assert.deepEqual([...STUB_CODE.subarray(0, 2)], [0x83, 0x3d]);
  assert.equal(7 + STUB_CODE.readInt32LE(2), STUB_CHANNEL_ON);
  assert.equal(STUB_CODE.readUInt32LE(STUB_CHANNEL_ON), 0);
  // The channel's two ports and the exit path's out.
  assert.deepEqual([...STUB_CODE.subarray(STUB_CHAN_KICK, STUB_CHAN_KICK + 2)], [0xe6, 0x14]);
  assert.deepEqual([...STUB_CODE.subarray(STUB_CHAN_WAIT, STUB_CHAN_WAIT + 2)], [0xe6, 0x15]);
  assert.deepEqual([...STUB_CODE.subarray(STUB_SYSCALL_OUT, STUB_SYSCALL_OUT + 2)], [0xe6, 0x10]);
  // chan_call starts by saving rsp: mov %rsp, disp32(%rip) to CHAN.RSP.
  assert.deepEqual([...STUB_CODE.subarray(STUB_CHAN_CALL, STUB_CHAN_CALL + 3)], [0x48, 0x89, 0x25]);
  assert.equal(STUB_CHAN_CALL + 7 + STUB_CODE.readInt32LE(STUB_CHAN_CALL + 3), SYS.CHAN - SYS.STUB + CHAN.RSP);
});
