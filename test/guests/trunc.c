/*
 * Guest memory that loses its backing: a file or a memfd mapped MAP_SHARED, then truncated
 * to 0. A pointer into the mapping given to a syscall must be EFAULT (as Linux answers),
 * and the VMM must survive whatever reads it: a path, an iovec, a buffer, a pollfd, a
 * struct the kernel or the VMM fills. Then the file grows again and the mapping is the
 * file's again. Safe to run natively: it compares with Linux.
 *
 *   trunc syscalls memfd|DIR    the calls above (DIR: a file created there)
 *   trunc touch memfd|DIR       the program's own load past the end: SIGBUS
 *   trunc handler memfd|DIR     loads, stores, string and locked accesses with a SIGBUS
 *                               handler: it runs each time, with si_addr
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

#define PAGE 4096

static int make_file(const char *where)
{
    if (strcmp(where, "memfd") == 0) return memfd_create("trunc", MFD_CLOEXEC);
    char path[512];
    snprintf(path, sizeof path, "%s/trunc-%d", where, (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) unlink(path);
    return fd;
}

static char *map_truncated(int fd)
{
    CHECK(ftruncate(fd, 2 * PAGE) == 0);
    char *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED);
    strcpy(p, "/");
    strcpy(p + PAGE, "second page");
    CHECK(ftruncate(fd, 0) == 0);
    return p;
}

static sigjmp_buf jb;
static volatile uintptr_t bus_addr;
static volatile int bus_code;

static void on_bus(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)uc;
    bus_addr = (uintptr_t)si->si_addr;
    bus_code = si->si_code;
    siglongjmp(jb, 1);
}

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: trunc syscalls|touch|handler memfd|DIR\n"); return 2; }
    setvbuf(stdout, NULL, _IONBF, 0);
    int fd = make_file(argv[2]);
    CHECK(fd >= 0);
    char *p = map_truncated(fd);

    if (strcmp(argv[1], "syscalls") == 0) {
        struct iovec iov = { p, 8 };
        int pfd[2];
        CHECK(pipe(pfd) == 0);
        CHECK(write(pfd[1], "x", 1) == 1);
        show("open(path in the mapping)", syscall(SYS_open, p, O_RDONLY));
        show("openat(path in the mapping)", syscall(SYS_openat, AT_FDCWD, p, O_RDONLY));
        show("stat(path in the mapping)", syscall(SYS_stat, p, (void *)(p + PAGE + 64)));
        show("stat(\"/\", buffer in the mapping)", syscall(SYS_stat, "/", (void *)(p + 64)));
        show("write(buffer in the mapping)", syscall(SYS_write, pfd[1], p, 8));
        show("writev(iovec in the mapping)", syscall(SYS_writev, pfd[1], (void *)p, 1));
        show("writev(buffer in the mapping)", syscall(SYS_writev, pfd[1], &iov, 1));
        show("read(into the mapping)", syscall(SYS_read, pfd[0], p, 8));
        show("readv(iovec in the mapping)", syscall(SYS_readv, pfd[0], (void *)p, 1));
        show("poll(pollfds in the mapping)", syscall(SYS_poll, (void *)p, 1, 0));
        show("ppoll(timeout in the mapping)", syscall(SYS_ppoll, NULL, 0, (void *)p, NULL, 8));
        show("clock_gettime(into the mapping)", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (void *)p));
        show("nanosleep(request in the mapping)", syscall(SYS_nanosleep, (void *)p, NULL));
        show("uname(into the mapping)", syscall(SYS_uname, (void *)p));
        show("pipe(fds into the mapping)", syscall(SYS_pipe, (void *)p));
        show("getcwd(into the mapping)", syscall(SYS_getcwd, p, 64));
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
        show("sendto(buffer in the mapping)", syscall(SYS_sendto, sv[0], p, 8, 0, NULL, 0));
        show("sendmsg(iovec in the mapping)", syscall(SYS_sendmsg, sv[0], &(struct msghdr){ .msg_iov = (void *)p, .msg_iovlen = 1 }, 0));
        /* The file grows again: the same mapping is the file's again, zeros at first. */
        CHECK(ftruncate(fd, 2 * PAGE) == 0);
        printf("after growing: first byte %d, second page byte %d\n", p[0], p[PAGE]);
        strcpy(p + 100, "through the mapping");
        char back[32] = { 0 };
        CHECK(pread(fd, back, 19, 100) == 19);
        printf("pread after a store through the mapping: %s\n", back);
        show("open(path in the mapping, grown again)", syscall(SYS_open, p, O_RDONLY | O_DIRECTORY) >= 0 ? 0 : -1);
        printf("trunc syscalls done\n");
        return 0;
    }
    if (strcmp(argv[1], "touch") == 0) {
        printf("touching the truncated page\n");
        volatile char c = p[PAGE];
        printf("no fault: %d\n", c);
        return 1;
    }
    if (strcmp(argv[1], "handler") == 0) {
        /* Each kind of access to the truncated second page: the handler runs with si_addr
         * the first byte that faulted (for the access that starts on the first page, the
         * second page's first byte), as natively. */
        struct sigaction sa = { 0 };
        sa.sa_sigaction = on_bus;
        sa.sa_flags = SA_SIGINFO;
        CHECK(sigaction(SIGBUS, &sa, NULL) == 0);
        char *q = p + PAGE;
        static char buf[PAGE];
        const char *kinds[] = { "load", "store", "rep movsb from it", "rep stosb into it", "8-byte load across the page boundary", "read-modify-write (lock add)" };
        for (int k = 0; k < 6; k++) {
            bus_addr = 0; bus_code = 0;
            if (sigsetjmp(jb, 1) == 0) {
                switch (k) {
                case 0: { volatile char c = q[5]; (void)c; break; }
                case 1: *(volatile char *)(q + 17) = 1; break;
                case 2: { void *d = buf, *s2 = q + 64; size_t n = 128; __asm__ volatile("rep movsb" : "+D"(d), "+S"(s2), "+c"(n) :: "memory"); break; }
                case 3: { void *d = q + 300; size_t n = 100; __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(0) : "memory"); break; }
                case 4: { uint64_t v; __asm__ volatile("movq (%1), %0" : "=r"(v) : "r"(q - 4)); (void)v; break; }
                case 5: __asm__ volatile("lock addl $1, (%0)" :: "r"(q + 40) : "memory"); break;
                }
                printf("%s: no fault\n", kinds[k]);
                continue;
            }
            long off = (long)((char *)bus_addr - p);
            printf("%s: SIGBUS, %s, si_addr at mapping+%ld\n", kinds[k], bus_code == BUS_ADRERR ? "BUS_ADRERR" : "other code", off);
        }
        /* A mapping longer than its file: the pages past the end are SIGBUS too. */
        int fd2 = make_file(argv[2]);
        CHECK(fd2 >= 0 && ftruncate(fd2, 100) == 0);
        char *r = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
        CHECK(r != MAP_FAILED);
        r[99] = 'x';
        bus_addr = 0; bus_code = 0;
        if (sigsetjmp(jb, 1) == 0) {
            volatile char c = r[2 * PAGE + 7];
            printf("a page past the end of the file: no fault: %d\n", c);
        } else {
            printf("a page past the end of the file: SIGBUS, %s, si_addr at mapping+%ld\n", bus_code == BUS_ADRERR ? "BUS_ADRERR" : "other code",
                   (long)((char *)bus_addr - r));
        }
        return 0;
    }
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
}
