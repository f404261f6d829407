/* sysmisc DIR: syscalls real programs reach through their C library, each
 * printed as one line with its result or errno, so that a torov run can be
 * compared with a native one:
 *   close_range (close and CLOSE_RANGE_CLOEXEC, bad flags, first > last),
 *   memfd_create (write, MAP_SHARED mapping seen through read, bad flags),
 *   splice and tee between pipes and a file in DIR (offsets updated in memory),
 *   sync, sync_file_range, readahead, mlock/mlock2 (mapped and unmapped),
 *   prctl PR_SET_NAME/PR_GET_NAME, PR_GET_DUMPABLE, PR_SET_NO_NEW_PRIVS,
 *   setrlimit/getrlimit/prlimit64 (a lowered limit reads back, soft > hard),
 *   getgroups (count, and EINVAL for a too-small list).
 * Uses raw syscall() so that the C library's fallbacks do not hide ENOSYS.
 * Leaves DIR empty; exits 0, or prints FAIL ... on stderr and exits 1. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "common.h"

#define SHOW(name, expr) do { errno = 0; long r_ = (long)(expr); \
        printf("%s=%ld%s%s\n", name, r_, r_ < 0 ? " " : "", r_ < 0 ? errname(errno) : ""); } while (0)

static int is_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: sysmisc DIR\n"); return 2; }
    char path[4096];

    /* close_range */
    int a = dup(1), b = dup(1), c = dup(1);
    CHECK(a >= 0 && b == a + 1 && c == b + 1);
    SHOW("close_range cloexec", syscall(SYS_close_range, a, b, 4 /* CLOSE_RANGE_CLOEXEC */));
    printf("cloexec a=%d b=%d c=%d\n", fcntl(a, F_GETFD), fcntl(b, F_GETFD), fcntl(c, F_GETFD));
    SHOW("close_range", syscall(SYS_close_range, b, ~0u, 0));
    printf("open a=%d b=%d c=%d stdout=%d\n", is_open(a), is_open(b), is_open(c), is_open(1));
    SHOW("close_range bad flags", syscall(SYS_close_range, a, a, 0x100));
    SHOW("close_range first>last", syscall(SYS_close_range, 10, 5, 0));
    close(a);

    /* memfd_create */
    int m = syscall(SYS_memfd_create, "torov-test", 1 /* MFD_CLOEXEC */);
    printf("memfd=%s cloexec=%d\n", m >= 0 ? "ok" : errname(errno), m >= 0 ? fcntl(m, F_GETFD) : -1);
    CHECK(m >= 0);
    CHECK(ftruncate(m, 8192) == 0);
    char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
    CHECK(p != MAP_FAILED);
    strcpy(p + 4096, "written through the mapping");
    char buf[64] = {0};
    CHECK(pread(m, buf, 27, 4096) == 27);
    printf("memfd read back: %s\n", buf);
    CHECK(pwrite(m, "by pwrite", 9, 100) == 9);
    printf("memfd mapping sees: %.9s\n", p + 100);
    CHECK(munmap(p, 8192) == 0);
    SHOW("memfd bad flags", syscall(SYS_memfd_create, "x", 0x1000));
    SHOW("memfd bad name", syscall(SYS_memfd_create, (char *)8, 0));

    /* splice and tee */
    int p1[2], p2[2];
    CHECK(pipe(p1) == 0 && pipe(p2) == 0);
    CHECK(write(p1[1], "0123456789", 10) == 10);
    SHOW("tee", syscall(SYS_tee, p1[0], p2[1], 4, 0));
    memset(buf, 0, sizeof buf);
    CHECK(read(p2[0], buf, sizeof buf) == 4);
    printf("tee copy: %s\n", buf);
    snprintf(path, sizeof path, "%s/spliced", argv[1]);
    int f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(f >= 0);
    loff_t off = 3;
    SHOW("splice pipe->file", syscall(SYS_splice, p1[0], NULL, f, &off, 10, 0));
    printf("splice offset now %lld\n", (long long)off);
    memset(buf, 0, sizeof buf);
    CHECK(pread(f, buf + 0, 13, 0) == 13);
    printf("file: %c%c%c%s\n", buf[0] ? buf[0] : '.', buf[1] ? buf[1] : '.', buf[2] ? buf[2] : '.', buf + 3);
    off = 5;
    SHOW("splice file->pipe", syscall(SYS_splice, f, &off, p2[1], NULL, 4, 0));
    memset(buf, 0, sizeof buf);
    CHECK(read(p2[0], buf, sizeof buf) == 4);
    printf("from file: %s offset %lld\n", buf, (long long)off);
    SHOW("splice bad offset ptr", syscall(SYS_splice, f, (loff_t *)8, p2[1], NULL, 4, 0));

    /* sync family */
    SHOW("sync_file_range", syscall(SYS_sync_file_range, f, 0L, 0L, 2 /* SYNC_FILE_RANGE_WRITE */));
    SHOW("readahead", syscall(SYS_readahead, f, 0L, 4096L));
    SHOW("readahead badf", syscall(SYS_readahead, 999, 0L, 4096L));
    SHOW("sync", syscall(SYS_sync));
    close(f);
    CHECK(unlink(path) == 0);

    /* mlock */
    char *q = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(q != MAP_FAILED);
    CHECK(munmap(q + 4096, 4096) == 0);
    SHOW("mlock mapped", syscall(SYS_mlock, q, 4096L));
    SHOW("mlock hole", syscall(SYS_mlock, q, 3 * 4096L));
    SHOW("mlock2", syscall(SYS_mlock2, q + 2 * 4096, 100L, 1 /* MLOCK_ONFAULT */));
    SHOW("mlock2 bad flags", syscall(SYS_mlock2, q, 100L, 8));
    SHOW("munlock", syscall(SYS_munlock, q, 4096L));

    /* prctl */
    char name[32];
    memset(name, 'x', sizeof name);
    SHOW("PR_GET_NAME", prctl(PR_GET_NAME, name));
    printf("initial name: %s\n", name);
    SHOW("PR_SET_NAME", prctl(PR_SET_NAME, "a-rather-long-process-name"));
    memset(name, 'x', sizeof name);
    SHOW("PR_GET_NAME", prctl(PR_GET_NAME, name));
    printf("name now: %s (byte 16 untouched: %c)\n", name, name[16]);
    SHOW("PR_GET_DUMPABLE", prctl(PR_GET_DUMPABLE));
    SHOW("PR_SET_DUMPABLE 2", prctl(PR_SET_DUMPABLE, 2));
    SHOW("PR_GET_NO_NEW_PRIVS", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    SHOW("PR_SET_NO_NEW_PRIVS", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    SHOW("PR_GET_NO_NEW_PRIVS", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    SHOW("PR_SET_PDEATHSIG", prctl(PR_SET_PDEATHSIG, 9));
    int sig = -1;
    SHOW("PR_GET_PDEATHSIG", prctl(PR_GET_PDEATHSIG, &sig));
    printf("pdeathsig=%d\n", sig);

    /* rlimits: a lowered limit reads back; soft above hard is EINVAL */
    struct rlimit rl = { 100, 200 }, got, old;
    SHOW("setrlimit NOFILE", setrlimit(RLIMIT_NOFILE, &rl));
    CHECK(getrlimit(RLIMIT_NOFILE, &got) == 0);
    printf("NOFILE %llu %llu\n", (unsigned long long)got.rlim_cur, (unsigned long long)got.rlim_max);
    struct rlimit bad = { 300, 200 };
    SHOW("setrlimit soft>hard", setrlimit(RLIMIT_NOFILE, &bad));
    rl.rlim_cur = 50;
    SHOW("prlimit64", syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &rl, &old));
    CHECK(getrlimit(RLIMIT_NOFILE, &got) == 0);
    printf("NOFILE old %llu %llu now %llu %llu\n", (unsigned long long)old.rlim_cur, (unsigned long long)old.rlim_max,
           (unsigned long long)got.rlim_cur, (unsigned long long)got.rlim_max);
    rl.rlim_cur = rl.rlim_max = 0;
    SHOW("setrlimit CORE 0", setrlimit(RLIMIT_CORE, &rl));
    CHECK(getrlimit(RLIMIT_CORE, &got) == 0);
    printf("CORE %llu %llu\n", (unsigned long long)got.rlim_cur, (unsigned long long)got.rlim_max);

    /* getgroups: the count, then the list; a list too small for them is EINVAL */
    long n = syscall(SYS_getgroups, 0, NULL);
    printf("getgroups count ok=%d\n", n >= 0);
    gid_t groups[256];
    SHOW("getgroups == count", syscall(SYS_getgroups, 256, groups) == n);
    if (n > 0) SHOW("getgroups too small", syscall(SYS_getgroups, (int)n - 1, groups));
    SHOW("getgroups negative", syscall(SYS_getgroups, -1, groups));
    return 0;
}
