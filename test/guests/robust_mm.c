/* robust_mm MODE ...: memory layouts that once crashed the VMM.
 *
 *   mprotect DIR  a read-only MAP_SHARED mapping of a file opened O_RDONLY
 *                 (DIR/robust_mm.data, removed after), then three anonymous
 *                 read-write pages right after it; the whole range goes to
 *                 PROT_READ (and to PROT_NONE) and the anonymous part back to
 *                 read-write; then a store into the anonymous pages, read(2) of
 *                 the file into them and pipe(2) writing its fds there.
 *                 PROT_READ|PROT_WRITE on the whole range is EACCES.
 *   eof           a 4 KiB memfd mapped as 8 KiB (MAP_SHARED and MAP_PRIVATE):
 *                 the first page works, the second (past the end of the file)
 *                 is EFAULT for pipe(2), read(2) and write(2), also after
 *                 mprotect (msync over both pages works); a mapping that
 *                 starts past the end likewise.
 *   eof-touch     then a store into the page past the end: natively SIGBUS
 *                 (exit 135); under torov a page fault, SIGSEGV (exit 139).
 *
 * One line per check; the same natively. Exits 0, or FAIL ... and 1. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "common.h"

#define PG 4096

#define SHOW(name, expr) do { errno = 0; long r_ = (long)(expr); \
        printf("%s=%ld%s%s\n", name, r_, r_ < 0 ? " " : "", r_ < 0 ? errname(errno) : ""); } while (0)

static int mode_mprotect(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/robust_mm.data", dir);
    int w = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(w >= 0);
    char page[PG];
    memset(page, 'F', sizeof page);
    memcpy(page, "file data", 9);
    CHECK(write(w, page, PG) == PG);
    CHECK(close(w) == 0);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    CHECK(unlink(path) == 0);

    char *p = mmap(NULL, 4 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    CHECK(mmap(p, PG, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) == p);
    CHECK(mmap(p + PG, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == p + PG);
    memset(p + PG, 'a', 3 * PG);
    printf("shared page reads: %.9s\n", p);

    SHOW("mprotect all PROT_READ", mprotect(p, 4 * PG, PROT_READ));
    SHOW("mprotect anon back to RW", mprotect(p + PG, 3 * PG, PROT_READ | PROT_WRITE));
    p[PG] = 'b';                                  /* a store by the program */
    p[4 * PG - 1] = 'c';
    printf("anon after store: %c%c%c\n", p[PG], p[PG + 1], p[4 * PG - 1]);
    SHOW("mprotect all RW", mprotect(p, 4 * PG, PROT_READ | PROT_WRITE));

    SHOW("mprotect all PROT_NONE", mprotect(p, 4 * PG, PROT_NONE));
    SHOW("mprotect shared back to R", mprotect(p, PG, PROT_READ));
    SHOW("mprotect anon back to RW", mprotect(p + PG, 3 * PG, PROT_READ | PROT_WRITE));
    printf("shared page reads: %.9s\n", p);
    p[2 * PG] = 'd';
    printf("anon after store: %c\n", p[2 * PG]);

    /* Stores by the kernel (torov: the VMM) into the anonymous pages. */
    SHOW("read file into anon", pread(fd, p + PG + 100, PG, 0));
    printf("anon after read: %.9s\n", p + PG + 100);
    int *fds = (int *)(p + 3 * PG);
    SHOW("pipe into anon", pipe(fds));
    SHOW("pipe write", write(fds[1], "ok", 2));
    char buf[4] = {0};
    SHOW("pipe read", read(fds[0], buf, 2));
    printf("pipe says %s\n", buf);
    CHECK(munmap(p, 4 * PG) == 0);
    printf("robust_mm mprotect done\n");
    return 0;
}

static void past_end(const char *what, char *q, int pipefds[2])
{
    char name[80];
    snprintf(name, sizeof name, "%s pipe", what);
    SHOW(name, pipe((int *)q));
    snprintf(name, sizeof name, "%s read", what);
    SHOW(name, read(pipefds[0], q, 16));
    snprintf(name, sizeof name, "%s write", what);
    SHOW(name, write(pipefds[1], q, 16));
}

static int mode_eof(int touch)
{
    int m = syscall(SYS_memfd_create, "robust-eof", 1 /* MFD_CLOEXEC */);
    CHECK(m >= 0);
    CHECK(ftruncate(m, PG) == 0);
    int pp[2];
    CHECK(pipe(pp) == 0);
    CHECK(write(pp[1], "0123456789abcdef0123456789abcdef", 32) == 32);

    char *s = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
    CHECK(s != MAP_FAILED);
    strcpy(s, "shared");
    SHOW("shared first page pipe", pipe((int *)(s + 64)));
    past_end("shared past end", s + PG, pp);
    SHOW("mprotect shared R", mprotect(s, 2 * PG, PROT_READ));
    SHOW("mprotect shared RW", mprotect(s, 2 * PG, PROT_READ | PROT_WRITE));
    past_end("shared past end after mprotect", s + PG, pp);
    SHOW("msync over the end", msync(s, 2 * PG, MS_SYNC));

    char *v = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, m, 0);
    CHECK(v != MAP_FAILED);
    printf("private first page reads: %s\n", v);
    v[0] = 'P';
    SHOW("private first page pipe", pipe((int *)(v + 64)));
    past_end("private past end", v + PG, pp);

    char *o = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, m, 2 * PG);
    CHECK(o != MAP_FAILED);
    past_end("offset past end", o, pp);

    if (touch) {
        printf("touching the page past the end\n");
        fflush(stdout);
        *(volatile char *)(s + PG) = 1;
        printf("no fault\n");
        return 1;
    }
    printf("robust_mm eof done\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "mprotect") == 0) return mode_mprotect(argv[2]);
    if (argc == 2 && strcmp(argv[1], "eof") == 0) return mode_eof(0);
    if (argc == 2 && strcmp(argv[1], "eof-touch") == 0) return mode_eof(1);
    fprintf(stderr, "usage: robust_mm mprotect DIR | eof | eof-touch\n");
    return 2;
}
