/* thread_bench: the benchmark's thread and signal loops (issue 10, section 4).
 *   thread_bench create N   N x (pthread_create + pthread_join) of a thread that returns at once
 *   thread_bench futex N    N futex round trips between two threads (private FUTEX_WAIT/WAKE
 *                           on one word: A sets it to 1 and wakes B, B sets it to 0 and wakes A)
 *   thread_bench signal N   N x (tgkill(getpid(), gettid(), SIGUSR1) -> handler -> rt_sigreturn)
 * Prints "MODE: N iterations, T ns each" (T from CLOCK_MONOTONIC around the loop; 0 when N is
 * 0, so that a run with N = 0 measures start-up alone, as bench.ts's per-call differences
 * need). Exits 1 if the loop went wrong (a round trip lost, the handler not run N times).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

static long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static void *nothing(void *arg) { return arg; }

static atomic_int word;
static long rounds;

static void fwait(int expect) { syscall(SYS_futex, &word, 0 | 128 /* FUTEX_WAIT_PRIVATE */, expect, NULL, NULL, 0); }
static void fwake(void) { syscall(SYS_futex, &word, 1 | 128 /* FUTEX_WAKE_PRIVATE */, 1, NULL, NULL, 0); }

static void *ponger(void *arg)
{
    (void)arg;
    for (long i = 0; i < rounds; i++) {
        while (atomic_load(&word) == 0) fwait(0);
        atomic_store(&word, 0);
        fwake();
    }
    return NULL;
}

static volatile long handled;
static void on_usr1(int s) { (void)s; handled++; }

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: thread_bench create|futex|signal N\n"); return 2; }
    const char *mode = argv[1];
    long n = atol(argv[2]);
    long t0 = 0, t1 = 0;
    if (!strcmp(mode, "create")) {
        t0 = now_ns();
        for (long i = 0; i < n; i++) {
            pthread_t t;
            void *r;
            int e = pthread_create(&t, NULL, nothing, (void *)i);
            if (e) { errno = e; FAIL("pthread_create"); }
            if (pthread_join(t, &r) || r != (void *)i) FAIL("pthread_join");
        }
        t1 = now_ns();
    } else if (!strcmp(mode, "futex")) {
        rounds = n;
        pthread_t t;
        int e = pthread_create(&t, NULL, ponger, NULL);
        if (e) { errno = e; FAIL("pthread_create"); }
        t0 = now_ns();
        for (long i = 0; i < n; i++) {
            atomic_store(&word, 1);
            fwake();
            while (atomic_load(&word) == 1) fwait(1);
        }
        t1 = now_ns();
        if (pthread_join(t, NULL)) FAIL("pthread_join");
    } else if (!strcmp(mode, "signal")) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_usr1;
        sigemptyset(&sa.sa_mask);
        CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
        pid_t pid = getpid(), tid = (pid_t)syscall(SYS_gettid);
        t0 = now_ns();
        for (long i = 0; i < n; i++) syscall(SYS_tgkill, pid, tid, SIGUSR1);
        t1 = now_ns();
        if (handled != n) FAIL("the handler ran %ld times for %ld signals", handled, n);
    } else {
        fprintf(stderr, "thread_bench: unknown mode '%s'\n", mode);
        return 2;
    }
    printf("%s: %ld iterations, %ld ns each\n", mode, n, n ? (t1 - t0) / n : 0);
    return 0;
}
