/*
 * torov's guest-side code: the syscall entry (LSTAR) and the exception entries.
 * It is the only code torov puts in the guest, and it lives in one user-executable page
 * (SYS.STUB in src/machine/layout.ts). src/machine/stub.ts holds these same bytes; the unit
 * test test/unit/stub.test.ts assembles this file (when `as` is available) and compares.
 * Rebuild the bytes with: make -C src/machine stub.ts
 *
 * Syscall entry (the exit path; with --syscall-path ring it goes on to the channel below).
 * The application's `syscall` saves the return address in rcx and the flags in r11, then
 * jumps here:
 *  - on a VMX host, at CPL0 on the application's stack (syscall does not switch stacks);
 *  - on kvm_pvm, still at CPL3 (it expects PVM-aware guests).
 * Neither case writes memory (it reads only its own page), so the red zone below the
 * application's rsp stays intact.
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

/*
 * The syscall channel page (SYS.CHAN, user read-write, no-execute), 0x5000 after this page.
 * Offsets are mirrored in src/machine/layout.ts (CHAN); see src/vmm/channel.ts for the
 * host's side of the protocol.
 */
    .set    CHAN, syscall_entry + 0x5000
    .set    C_STATE, 0x000      /* u32: 0 idle, 1 request posted, 2 host busy, 3 result ready, 4 host busy and the call will block, 5 leave to the VMM */
    .set    C_POLL, 0x044       /* u32: nonzero while a host thread polls C_STATE */
    .set    C_TRAPFAST, 0x048   /* u32: nonzero: answer fast paths at a trapped syscall too */
    .set    C_NR, 0x080         /* u64 number, then six u64 arguments */
    .set    C_A0, 0x088
    .set    C_A1, 0x090
    .set    C_A2, 0x098
    .set    C_A3, 0x0a0
    .set    C_A4, 0x0a8
    .set    C_A5, 0x0b0
    .set    C_SITE, 0x0b8       /* u64: return address of a trapped `syscall` (0: a rewritten site) */
    .set    C_RESULT, 0x0c0     /* u64 */
    .set    C_RET, 0x100        /* u64: where to return */
    .set    C_FLAGS, 0x108      /* u64: the caller's rflags */
    .set    C_RSP, 0x110        /* u64: the caller's rsp */
    .set    C_BUDGET, 0x118     /* u64: how long to spin for a result, in TSC ticks */
    .set    C_FASTMASK, 0x140   /* 256 bits: syscall numbers answered from C_FASTVAL */
    .set    C_FASTVAL, 0x200    /* u64[256] */
    .set    C_STACK, 0x1000     /* top of a small private stack (0xf00-0x1000) */

    .globl syscall_entry
syscall_entry:                  /* offset 0x000: LSTAR */
    cmpl    $0, stub_channel_on(%rip)
    jne     chan_trap           /* the channel is on */
syscall_out:
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

/*
 * The syscall channel (issue 6). Entered with rax = number, rcx = return address, the six
 * arguments in rdi, rsi, rdx, r10, r8, r9; it leaves every register as `syscall` does (rax
 * the result, rcx the return address, r11 the flags) and never touches memory below the
 * caller's rsp: it runs on a private stack in the channel page.
 *  - chan_call: from a rewritten syscall site (src/vmm/rewrite.ts), always at CPL3, flags live.
 *  - chan_trap: from syscall_entry (a `syscall` instruction), r11 = the caller's flags; at
 *    CPL3 on kvm_pvm, at CPL0 on VMX.
 * Numbers in C_FASTMASK are answered at once from C_FASTVAL (getpid and the uid calls);
 * from a trapped syscall only with C_TRAPFAST (rewriting off), since otherwise the host
 * must see the site once to rewrite it.
 * Others are posted in the page; the host thread that polls it performs the call and sets
 * C_STATE to 3. If no host thread polls (C_POLL = 0), `out` to PORT_KICK makes the VMM
 * serve it. After C_BUDGET TSC ticks of spinning, `out` to PORT_WAIT sleeps in the VMM
 * until the result is there, so a blocked call does not keep a core busy.
 */
chan_call:                      /* offset 0x300 */
    movq    %rsp, CHAN+C_RSP(%rip)
    leaq    CHAN+C_STACK(%rip), %rsp
    pushfq
    popq    %r11
    movq    $0, CHAN+C_SITE(%rip)
    jmp     chan_body

chan_trap:
    movq    %rsp, CHAN+C_RSP(%rip)
    leaq    CHAN+C_STACK(%rip), %rsp
    movq    %rcx, CHAN+C_SITE(%rip)
chan_body:
    movq    %rcx, CHAN+C_RET(%rip)
    movq    %r11, CHAN+C_FLAGS(%rip)
    cmpq    $255, %rax
    ja      chan_post
    btq     %rax, CHAN+C_FASTMASK(%rip)
    jnc     chan_post
    cmpq    $0, CHAN+C_SITE(%rip)       /* from a rewritten site: answer */
    je      1f
    cmpl    $0, CHAN+C_TRAPFAST(%rip)   /* a trapped syscall: post it instead while sites are */
    je      chan_post                   /* rewritten, so the host learns the site */
1:  leaq    CHAN(%rip), %rcx
    movq    C_FASTVAL(%rcx,%rax,8), %rax
    jmp     chan_return
chan_post:
    movq    %rax, CHAN+C_NR(%rip)
    movq    %rdi, CHAN+C_A0(%rip)
    movq    %rsi, CHAN+C_A1(%rip)
    movq    %rdx, CHAN+C_A2(%rip)
    movq    %r10, CHAN+C_A3(%rip)
    movq    %r8, CHAN+C_A4(%rip)
    movq    %r9, CHAN+C_A5(%rip)
    movl    $1, %ecx
    xchgl   %ecx, CHAN+C_STATE(%rip)    /* publish (a full barrier), then look at C_POLL */
    cmpl    $0, CHAN+C_POLL(%rip)
    jne     chan_spin
chan_kick:
    outb    %al, $0x14          /* PORT_KICK */
chan_spin:
    rdtsc
    shlq    $32, %rdx
    orq     %rdx, %rax
    addq    CHAN+C_BUDGET(%rip), %rax
    movq    %rax, %rcx          /* deadline */
1:  cmpl    $3, CHAN+C_STATE(%rip)
    je      chan_done
    cmpl    $4, CHAN+C_STATE(%rip)      /* the host expects this call to block: */
    je      chan_wait                   /* sleep at once instead of spinning */
    cmpl    $5, CHAN+C_STATE(%rip)      /* the VMM needs the program's registers: */
    je      chan_ctx                    /* leave the VM, it sets them all */
    pause
    rdtsc
    shlq    $32, %rdx
    orq     %rdx, %rax
    cmpq    %rcx, %rax
    jb      1b
chan_wait:
    outb    %al, $0x15          /* PORT_WAIT */
    jmp     1b
/*
 * State 5: the call needs, or its return changes, registers the channel does not carry
 * (clone copies them all, rt_sigreturn and signal delivery replace them). The VMM finds
 * the program's state in the channel page (C_RET, C_FLAGS, C_RSP, C_A2) and in the other
 * registers, which nothing above changed; it sets every register, rip and rsp included,
 * so nothing after the `out` runs.
 */
chan_ctx:
    outb    %al, $0x16          /* PORT_CTX */
    ud2
chan_done:
    movq    CHAN+C_RESULT(%rip), %rax
    movl    $0, CHAN+C_STATE(%rip)
    movq    CHAN+C_A2(%rip), %rdx       /* rdtsc clobbered it */
chan_return:
    pushq   %rax
    movw    %cs, %ax
    testb   $3, %al
    popq    %rax
    movq    CHAN+C_RET(%rip), %rcx
    movq    CHAN+C_FLAGS(%rip), %r11
    jz      1f
    pushq   %r11                /* CPL3: restore the flags and jump back */
    popfq
    movq    CHAN+C_RSP(%rip), %rsp
    jmpq    *%rcx
1:  movq    CHAN+C_RSP(%rip), %rsp      /* CPL0 (VMX): sysretq restores rip and rflags */
    sysretq

/* Nonzero when the channel is on (the VMM sets it; read-only to the guest). It lives in this
   page, not the channel page, so that the exit path touches no page of its own: on kvm_pvm
   the first touch of a page costs a shadow-paging fault. */
    .org    0x4fc, 0xcc
stub_channel_on:
    .long   0
