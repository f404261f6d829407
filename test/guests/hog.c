/*
 * Resource probes: a guest that tries to take more of the host than its --memory, each way
 * a Linux program can hold host memory that is not its own address space, and reports
 * where it was stopped. HOSTILE: run it only inside torov, with a small --memory (it would
 * fill this machine's memory natively).
 *
 *   hog memfd            memfd_create + fallocate, 4 MiB at a time, several memfds
 *   hog memfd-write      the same with write()
 *   hog memfd-map        a large memfd mapped MAP_SHARED, every page touched
 *   hog memfd-sealed     memfd_create(MFD_ALLOW_SEALING) + fallocate (a real memfd, not a tmpfs file)
 *   hog memfd-sealed-write  the same with write()
 *   hog memfd-sealed-keep   sealable memfds of 4 MiB each, allocated past their end (FALLOC_FL_KEEP_SIZE)
 *   hog memfd-sealed-map a sealable memfd made 128 MiB long, mapped MAP_SHARED, every page touched
 *   hog grow             says "grow: ready", waits for a line on stdin, then touches 96 MiB
 *                        of anonymous memory (a test lowers the run's cgroup limit meanwhile)
 *   hog tmp              files in /tmp, 4 MiB writes
 *   hog pipes            pipes grown to 1 MiB (F_SETPIPE_SZ) and filled, until no more fds
 *   hog sockets          socket pairs with large buffers, filled, until no more fds
 *   hog mmap             anonymous memory, every page touched
 *   hog threads          threads that sleep, until clone fails
 *   hog spin             a CPU loop that never ends
 *   hog fds              /dev/null opened until no fd is left (the fd limit)
 *   hog all              memfd, tmp, mmap, then pipes and sockets (half the free fds
 *                        each), everything held at once
 *
 * Prints one "<mode>: ... stopped by <ERRNO>" line with the total held. Everything stays
 * held for HOLD_MS (the environment; default 0) before the program exits, so a test can
 * measure the host while it is.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common.h"

#define MiB (1024L * 1024)
#define CHUNK (4 * MiB)

static char buf[1 * MiB];

static void report(const char *mode, long bytes, int err)
{
    printf("%s: held %ld MiB, stopped by %s\n", mode, bytes / MiB, errname(err));
}

static int memfd_fill(int write_mode, unsigned flags)
{
    const char *what = flags & MFD_ALLOW_SEALING ? (write_mode ? "memfd-sealed-write" : "memfd-sealed") : write_mode ? "memfd-write" : "memfd";
    long total = 0;
    for (int i = 0; i < 64; i++) {
        int fd = memfd_create("hog", flags);
        if (fd < 0) { report(what, total, errno); return 0; }
        for (long off = 0; off < 1024 * MiB; off += CHUNK) {
            int r;
            if (write_mode) {
                r = 0;
                for (long k = 0; k < CHUNK && r >= 0; k += sizeof buf) r = write(fd, buf, sizeof buf) == (ssize_t)sizeof buf ? 0 : -1;
            } else {
                r = fallocate(fd, 0, off, CHUNK);
            }
            if (r < 0) { report(what, total, errno); return 0; }
            total += CHUNK;
        }
    }
    report(what, total, 0);
    return 0;
}

static int memfd_map(unsigned flags)
{
    const char *what = flags & MFD_ALLOW_SEALING ? "memfd-sealed-map" : "memfd-map";
    int fd = memfd_create("hog", flags);
    CHECK(fd >= 0);
    long size = 128 * MiB;
    if (ftruncate(fd, size) != 0) { printf("%s: ftruncate to %ld MiB: %s\n", what, size / MiB, errname(errno)); return 0; }
    char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) { report(what, 0, errno); return 0; }
    printf("%s: touching pages\n", what);
    fflush(stdout);
    for (long off = 0; off < size; off += 4096) p[off] = 1;     /* SIGBUS once the tmpfs is full */
    report(what, size, 0);
    return 0;
}

static int memfd_keep(void)
{
    long total = 0;
    for (int i = 0; i < 64; i++) {
        int fd = memfd_create("hog", MFD_ALLOW_SEALING);
        if (fd < 0 || fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, CHUNK) < 0) { report("memfd-sealed-keep", total, errno); return 0; }
        total += CHUNK;
    }
    report("memfd-sealed-keep", total, 0);
    return 0;
}

static int grow(void)
{
    char line[16];
    printf("grow: ready\n");
    if (!fgets(line, sizeof line, stdin)) return 1;
    long size = 96 * MiB;
    char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { report("grow", 0, errno); return 0; }
    for (long off = 0; off < size; off += 4096) p[off] = 1;
    report("grow", size, 0);
    return 0;
}

static int tmp_fill(void)
{
    long total = 0;
    for (int i = 0; i < 1024; i++) {
        char name[64];
        snprintf(name, sizeof name, "/tmp/hog-%d", i);
        int fd = open(name, O_CREAT | O_WRONLY | O_TRUNC, 0600);
        if (fd < 0) { report("tmp", total, errno); return 0; }
        for (long k = 0; k < 64 * MiB; k += sizeof buf) {
            ssize_t w = write(fd, buf, sizeof buf);
            if (w != (ssize_t)sizeof buf) { report("tmp", total, w < 0 ? errno : ENOSPC); return 0; }
            total += w;
        }
        close(fd);
    }
    report("tmp", total, 0);
    return 0;
}

static int max_pairs = 1 << 30;

static int pipes_fill(void)
{
    long total = 0;
    int n = 0;
    for (;;) {
        int p[2];
        if (n >= max_pairs) { printf("pipes: %d pipes, ", n); report("pipes", total, 0); return 0; }
        if (pipe2(p, O_NONBLOCK) < 0) { printf("pipes: %d pipes, ", n); report("pipes", total, errno); return 0; }
        n++;
        fcntl(p[1], F_SETPIPE_SZ, (int)MiB);
        for (;;) {
            ssize_t w = write(p[1], buf, sizeof buf);
            if (w <= 0) break;
            total += w;
        }
    }
}

static int sockets_fill(void)
{
    long total = 0;
    int n = 0;
    for (;;) {
        int sv[2];
        if (n >= max_pairs) { printf("sockets: %d pairs, ", n); report("sockets", total, 0); return 0; }
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0) { printf("sockets: %d pairs, ", n); report("sockets", total, errno); return 0; }
        n++;
        int big = 64 * (int)MiB;
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
        setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
        for (;;) {
            ssize_t w = write(sv[0], buf, sizeof buf);
            if (w <= 0) break;
            total += w;
        }
    }
}

static int mmap_fill(void)
{
    long total = 0;
    for (;;) {
        char *p = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) { report("mmap", total, errno); return 0; }
        for (long off = 0; off < CHUNK; off += 4096) p[off] = 1;
        total += CHUNK;
    }
}

static void *sleeper(void *arg)
{
    (void)arg;
    for (;;) pause();
    return NULL;
}

static int threads_fill(void)
{
    int n = 0;
    for (;;) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setstacksize(&a, 64 * 1024);
        int e = pthread_create(&t, &a, sleeper, NULL);
        if (e != 0) { printf("threads: %d threads, stopped by %s\n", n, errname(e)); return 0; }
        n++;
    }
}

static int all(void)
{
    memfd_fill(0, 0);
    tmp_fill();
    /* The fds left, shared by pipes and socket pairs (two fds each). */
    int used = 0;
    for (int fd = 0; fd < 4096; fd++) if (fcntl(fd, F_GETFD) >= 0) used++;
    max_pairs = (1024 - used - 8) / 4;
    pipes_fill();
    sockets_fill();
    mmap_fill();
    return 0;
}

static int hold(int status)
{
    const char *h = getenv("HOLD_MS");
    if (h && atoi(h) > 0) usleep(atoi(h) * 1000);
    return status;
}

static int run(const char *m);

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    memset(buf, 'h', sizeof buf);
    return hold(run(argc > 1 ? argv[1] : ""));
}

static int run(const char *m)
{
    if (!strcmp(m, "all")) return all();
    if (!strcmp(m, "memfd")) return memfd_fill(0, 0);
    if (!strcmp(m, "memfd-write")) return memfd_fill(1, 0);
    if (!strcmp(m, "memfd-sealed")) return memfd_fill(0, MFD_ALLOW_SEALING);
    if (!strcmp(m, "memfd-sealed-write")) return memfd_fill(1, MFD_ALLOW_SEALING);
    if (!strcmp(m, "memfd-map")) return memfd_map(0);
    if (!strcmp(m, "memfd-sealed-keep")) return memfd_keep();
    if (!strcmp(m, "memfd-sealed-map")) return memfd_map(MFD_ALLOW_SEALING);
    if (!strcmp(m, "grow")) return grow();
    if (!strcmp(m, "tmp")) return tmp_fill();
    if (!strcmp(m, "pipes")) return pipes_fill();
    if (!strcmp(m, "sockets")) return sockets_fill();
    if (!strcmp(m, "mmap")) return mmap_fill();
    if (!strcmp(m, "threads")) return threads_fill();
    if (!strcmp(m, "spin")) { for (volatile unsigned long i = 0;; i++) {} }
    if (!strcmp(m, "fds")) {
        int n = 0;
        while (open("/dev/null", O_RDONLY) >= 0) n++;
        printf("fds: %d opened, stopped by %s\n", n, errname(errno));
        return 0;
    }
    fprintf(stderr, "usage: hog memfd|memfd-write|memfd-map|memfd-sealed|memfd-sealed-write|memfd-sealed-keep|memfd-sealed-map|grow|tmp|pipes|sockets|mmap|threads|spin|fds|all\n");
    return 2;
}
