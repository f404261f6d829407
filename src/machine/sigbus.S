# The VMM's SIGBUS handler (see bus-guard.ts for why and how it is used).
#
# torov has no C addon, so this handler is machine code that bus-guard.ts copies into a
# page of its own and installs with rt_sigaction. It runs on whichever VMM thread touched
# a guest page that has no backing (a file mapping whose file was truncated, a page of a
# full tmpfs): si_code BUS_ADRERR, si_addr inside a registered guest window. It then
#  1. parks the page's mapping in a slot of the parking area (mremap with MREMAP_DONTUNMAP,
#     which leaves an empty mapping in place: the address is never a hole another thread's
#     mmap could take), records the page in the slot, and
#  2. replaces the page with a fresh anonymous one (mmap MAP_FIXED, atomic),
# and returns: the faulting load or store runs again and completes on the zero page. The
# VMM (bus-guard.ts, from syscall dispatch) then makes the syscall EFAULT and moves the
# parked mapping back, so the guest sees its file again, truncated or not, as Linux does.
# Any other SIGBUS (outside the windows, a hardware error) gets the default action back
# and happens again: the process dies of it, as it would without this handler.
#
# The data page follows the code page (bus-guard.ts, BUS): windows, the slot counter and
# the slots. Every register may be clobbered: the kernel restores them all at rt_sigreturn.
# Regenerate sigbus-code.ts with `make -C src/machine sigbus-code.ts` (binutils).

	.set DATA, 4096
	.set NWIN, 0x000
	.set WIN, 0x900          # to the page's end: 112 windows (bus-guard.ts, BUS.MAX_WIN)
	.set PENDING, 0x200
	.set PARK, 0x208
	.set NSLOTS, 0x210
	.set FLAGS, 0x218
	.set LOST, 0x220
	.set TOTAL, 0x228
	.set SLOTS, 0x400
	.set DFL_ACT, 0x800
	.set BUS_ADRERR, 2
	.set SYS_mmap, 9
	.set SYS_rt_sigaction, 13
	.set SYS_rt_sigreturn, 15
	.set SYS_mremap, 25

	.text
	.globl sigbus_handler, sigbus_restorer
page:
# void sigbus_handler(int sig, siginfo_t *info, ucontext_t *uc)
sigbus_handler:
	lea page+DATA(%rip), %r12
	cmpl $BUS_ADRERR, 8(%rsi)          # si_code
	jne dfl
	mov 16(%rsi), %rbx                 # si_addr
	mov NWIN(%r12), %rcx
	lea WIN(%r12), %r13
1:	test %rcx, %rcx
	jz dfl
	mov %rbx, %rax
	sub (%r13), %rax                   # addr - base, unsigned: below base wraps high
	cmp 8(%r13), %rax
	jb found
	add $16, %r13
	dec %rcx
	jmp 1b
found:
	and $-4096, %rbx                   # the page
	lock incl TOTAL(%r12)
	mov $1, %eax
	lock xadd %eax, PENDING(%r12)      # this fault's slot
	mov %eax, %r14d
	cmp NSLOTS(%r12), %r14
	jae lost
	testl $1, FLAGS(%r12)              # MREMAP_DONTUNMAP works on file mappings (Linux 5.13)
	jz unparked
	mov %r14, %r8
	shl $12, %r8
	add PARK(%r12), %r8                # new_address: the slot's page of the parking area
	mov %rbx, %rdi
	mov $4096, %esi
	mov $4096, %edx
	mov $7, %r10d                      # MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP
	mov $SYS_mremap, %eax
	syscall
	cmp $-4095, %rax
	jae unparked
	mov %rbx, SLOTS(%r12,%r14,8)       # parked: the slot names the page
	jmp anon
unparked:
	lea 1(%rbx), %rax
	mov %rax, SLOTS(%r12,%r14,8)       # replaced but not parked: page | 1
lost:
	lock incl LOST(%r12)
anon:
	mov %rbx, %rdi
	mov $4096, %esi
	mov $3, %edx                       # PROT_READ | PROT_WRITE
	mov $0x32, %r10d                   # MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS
	mov $-1, %r8
	xor %r9d, %r9d
	mov $SYS_mmap, %eax
	syscall
	cmp $-4095, %rax
	jae dfl
	ret
dfl:
	mov $7, %edi                       # SIGBUS: back to SIG_DFL
	lea DFL_ACT(%r12), %rsi
	xor %edx, %edx
	mov $8, %r10d
	mov $SYS_rt_sigaction, %eax
	syscall
	ret

sigbus_restorer:
	mov $SYS_rt_sigreturn, %eax
	syscall
	ud2
