/*
 * torov's guest-side code: the syscall entry (LSTAR) and the exception entries.
 * It is the only code torov puts in the guest, and it lives in one user-executable page
 * (SYS.STUB in src/machine/layout.ts). src/machine/stub.ts holds these same bytes; the unit
 * test test/unit/stub.test.ts assembles this file (when `as` is available) and compares.
 * Rebuild the bytes with: make -C src/machine stub.bin
 *
 * Syscall entry. The application's `syscall` saves the return address in rcx and the
 * flags in r11, then jumps here:
 *  - on a VMX host, at CPL0 on the application's stack (syscall does not switch stacks);
 *  - on kvm_pvm, still at CPL3 (it expects PVM-aware guests).
 * Neither case touches memory, so the red zone below the application's rsp stays intact.
 * `out` leaves the VM (the TSS I/O bitmap opens PORT_SYSCALL to CPL3, since kvm_pvm
 * ignores IOPL). The VMM performs the syscall and writes rax. On VMX `sysretq` then
 * returns to the application; on kvm_pvm (found by a probe on the first syscall) the VMM
 * itself sets rip=rcx and rflags=r11, so `sysretq`, which would #GP at CPL3, never runs.
 *
 * Exception entry (one per vector, 16 bytes apart, from offset 0x100). Every IDT gate uses
 * IST1, so the CPU switches to torov's exception stack and pushes ss, rsp, rflags, cs, rip
 * (and an error code for some vectors). The entry pushes a zero error code where the CPU
 * does not, then the vector, and reports to the VMM with `out` to PORT_FAULT. The VMM
 * reads the frame; if it resumes the vCPU (a spurious fault after a permission change, a
 * debugger), the entry pops vector and error code and returns with iretq.
 * This runs at CPL0: emulated and slow on kvm_pvm, but faults are rare; it stays short.
 */
    .code64
    .text
    .globl syscall_entry
syscall_entry:                  /* offset 0x000 */
    outb    %al, $0x10          /* PORT_SYSCALL */
    sysretq

    .org    0x080, 0xcc
fault_common:                   /* offset 0x080 */
    outb    %al, $0x11          /* PORT_FAULT */
    addq    $16, %rsp           /* drop vector and error code */
    iretq

/* Vectors that push an error code: 8, 10, 11, 12, 13, 14, 17, 21, 29, 30. */
    .macro  vec n, err
    .org    0x100 + \n * 16, 0xcc
    .if     \err == 0
    pushq   $0
    .endif
    pushq   $\n
    jmp     fault_common
    .endm

    vec 0,0;  vec 1,0;  vec 2,0;  vec 3,0;  vec 4,0;  vec 5,0;  vec 6,0;  vec 7,0
    vec 8,1;  vec 9,0;  vec 10,1; vec 11,1; vec 12,1; vec 13,1; vec 14,1; vec 15,0
    vec 16,0; vec 17,1; vec 18,0; vec 19,0; vec 20,0; vec 21,1; vec 22,0; vec 23,0
    vec 24,0; vec 25,0; vec 26,0; vec 27,0; vec 28,0; vec 29,1; vec 30,1; vec 31,0
    .org    0x300, 0xcc
