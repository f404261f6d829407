/* A guest for the original ToroV's ABI (see src/vmm/personality.ts): a flat binary loaded at
 * 0x400200, system calls as `out %eax, $0x10` (Linux numbers and argument registers),
 * hypercall 499 writes a string to the debug console, `hlt` ends the program.
 * It writes a message, creates /out.txt in its root and writes it, then stops. */
    .text
    .globl _start
_start:
    mov $1, %eax                    /* write(1, msg, len) */
    mov $1, %edi
    lea msg(%rip), %rsi
    mov $msg_len, %edx
    out %eax, $0x10
    cmp $msg_len, %rax
    jne fail

    mov $2, %eax                    /* open("/out.txt", O_WRONLY|O_CREAT|O_TRUNC, 0644) */
    lea path(%rip), %rdi
    mov $0x241, %esi
    mov $0644, %edx
    out %eax, $0x10
    test %rax, %rax
    js fail
    mov %rax, %rbx

    mov $1, %eax                    /* write(fd, text, len) */
    mov %rbx, %rdi
    lea text(%rip), %rsi
    mov $text_len, %edx
    out %eax, $0x10
    cmp $text_len, %rax
    jne fail

    mov $3, %eax                    /* close(fd) */
    mov %rbx, %rdi
    out %eax, $0x10

    mov $499, %eax                  /* debug console */
    lea done(%rip), %rcx
    out %eax, $0x10
    hlt

fail:
    mov $499, %eax
    lea failed(%rip), %rcx
    out %eax, $0x10
    ud2

msg:    .ascii "hello from a ToroV guest\n"
    .set msg_len, . - msg
path:   .asciz "/out.txt"
text:   .ascii "written through ToroV hypercalls\n"
    .set text_len, . - text
done:   .asciz "toroV guest done"
failed: .asciz "toroV guest failed"
