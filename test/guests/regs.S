/* regs: the register state a program starts with, for the VM-reuse test.
 *   regs dump   writes, raw to stdout: rax..r15 except rsp (15 x 8 bytes), rflags (8),
 *               xmm0..xmm15 (16 x 16), mxcsr (4), x87 control word (2); then exits 0.
 *   regs clobber fills every general register, xmm0..15, MXCSR and the x87 control word
 *               with non-initial values, then exits 0 (the values are live at the exit).
 * Linux starts a static program with all of these zero (rflags 0x202-ish, MXCSR 0x1f80,
 * FCW 0x37f); a torov VM reused for the next program must look the same. */
    .globl _start
    .text
_start:
    /* save the general registers first, before anything changes them */
    mov %rax, buf+0(%rip)
    mov %rbx, buf+8(%rip)
    mov %rcx, buf+16(%rip)
    mov %rdx, buf+24(%rip)
    mov %rsi, buf+32(%rip)
    mov %rdi, buf+40(%rip)
    mov %rbp, buf+48(%rip)
    mov %r8,  buf+56(%rip)
    mov %r9,  buf+64(%rip)
    mov %r10, buf+72(%rip)
    mov %r11, buf+80(%rip)
    mov %r12, buf+88(%rip)
    mov %r13, buf+96(%rip)
    mov %r14, buf+104(%rip)
    mov %r15, buf+112(%rip)
    pushfq
    pop %rax
    mov %rax, buf+120(%rip)
    movdqu %xmm0,  buf+128(%rip)
    movdqu %xmm1,  buf+144(%rip)
    movdqu %xmm2,  buf+160(%rip)
    movdqu %xmm3,  buf+176(%rip)
    movdqu %xmm4,  buf+192(%rip)
    movdqu %xmm5,  buf+208(%rip)
    movdqu %xmm6,  buf+224(%rip)
    movdqu %xmm7,  buf+240(%rip)
    movdqu %xmm8,  buf+256(%rip)
    movdqu %xmm9,  buf+272(%rip)
    movdqu %xmm10, buf+288(%rip)
    movdqu %xmm11, buf+304(%rip)
    movdqu %xmm12, buf+320(%rip)
    movdqu %xmm13, buf+336(%rip)
    movdqu %xmm14, buf+352(%rip)
    movdqu %xmm15, buf+368(%rip)
    stmxcsr buf+384(%rip)
    fnstcw buf+388(%rip)

    /* argv[1][0] == 'c' ? clobber : dump */
    mov 16(%rsp), %rsi
    test %rsi, %rsi
    jz dump
    cmpb $'c', (%rsi)
    je clobber
dump:
    mov $1, %eax            /* write(1, buf, 390) */
    mov $1, %edi
    lea buf(%rip), %rsi
    mov $390, %edx
    syscall
    jmp done

clobber:
    mov $0x4141414141414141, %rax
    movq %rax, %xmm0
    pshufd $0, %xmm0, %xmm0
    movdqa %xmm0, %xmm1
    movdqa %xmm0, %xmm2
    movdqa %xmm0, %xmm3
    movdqa %xmm0, %xmm4
    movdqa %xmm0, %xmm5
    movdqa %xmm0, %xmm6
    movdqa %xmm0, %xmm7
    movdqa %xmm0, %xmm8
    movdqa %xmm0, %xmm9
    movdqa %xmm0, %xmm10
    movdqa %xmm0, %xmm11
    movdqa %xmm0, %xmm12
    movdqa %xmm0, %xmm13
    movdqa %xmm0, %xmm14
    movdqa %xmm0, %xmm15
    movl $0x7f80, buf(%rip)  /* MXCSR: round toward zero */
    ldmxcsr buf(%rip)
    movw $0x27f, buf(%rip)   /* FCW: double precision */
    fldcw buf(%rip)
    mov %rax, %rbx
    mov %rax, %rdx
    mov %rax, %rsi
    mov %rax, %rbp
    mov %rax, %r8
    mov %rax, %r9
    mov %rax, %r10
    mov %rax, %r12
    mov %rax, %r13
    mov %rax, %r14
    mov %rax, %r15
done:
    mov $60, %eax           /* exit(0) */
    xor %edi, %edi
    syscall

    .bss
    .align 16
buf:
    .skip 400
