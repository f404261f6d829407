/* threads: POSIX threads, one behaviour per mode; built twice, with musl (`threads`) and
 * with glibc (`threads_glibc`), from this one source. Every line printed is deterministic
 * (no tids, addresses or times), so a run under torov compares byte for byte with a
 * native one. On failure: "FAIL ..." on stderr, exit 1.
 *   mutex [T N]   T threads (16) x N (100000) mutex-protected increments; distinct tids
 *   cond          producer/consumer on a bounded buffer (2 condition variables),
 *                 pthread_cond_broadcast to 4 waiters, pthread_cond_timedwait ETIMEDOUT
 *   tls           __thread variables (initialised and zeroed) per thread, pthread keys
 *                 with destructors
 *   exit          a thread calls pthread_exit from a nested call while two others run on
 *   mainexit      main calls pthread_exit; a worker joins it, prints, and the process ends
 *                 with status 0 when the last thread returns
 *   exitgroup     a thread calls exit(3) while main waits in pthread_join for a thread
 *                 blocked in read: the whole process ends with status 3
 *   detach        100 detached threads (attribute and pthread_detach) report on a semaphore
 *   join          return values through pthread_join, a thread that finished before the join
 *   stack         threads on a caller-provided 64 KiB stack (pthread_attr_setstack), on a
 *                 16 KiB stack and on a 4 MiB stack that uses 2 MiB
 *   cancel        pthread_cancel of a thread blocked in read (the C library sends it a
 *                 signal): cleanup handler runs, join gives PTHREAD_CANCELED
 *   sync          barrier (4 threads x 1000 rounds), rwlock, semaphores, C11 atomics
 *   many [N]      N (64) threads alive at once, all at one barrier
 *   shootdown     one thread keeps reading a page that another unmaps (and then a page it
 *                 makes read-only): the reader gets SIGSEGV (SEGV_MAPERR, then SEGV_ACCERR)
 *                 at the page's address, never the old memory
 *   cpus          the CPU count seen through sched_getaffinity and sysconf (equal to the
 *                 host's when torov runs with its default --cpus)
 *   robust        robust lists at thread death: a robust mutex left locked by a dead thread
 *                 gives EOWNERDEAD; a raw list that loops on itself is walked a bounded
 *                 number of times (its word gets FUTEX_OWNER_DIED); a list that points at
 *                 unmapped memory is dropped
 *   clone-errors  clone/clone3 refused: flag combinations (EINVAL), a kernel TLS address
 *                 (EPERM), clone3 with a bad size or pointer (EINVAL, EFAULT, E2BIG)
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stddef.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

#define PCHECK(call) do { int e_ = (call); if (e_) { errno = e_; FAIL("%s", #call); } } while (0)

static pid_t tid(void) { return (pid_t)syscall(SYS_gettid); }

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

/* ---- mutex ---- */
static pthread_mutex_t m_lock = PTHREAD_MUTEX_INITIALIZER;
static long m_total, m_iters;
static pid_t m_tids[1024];

static void *m_worker(void *arg)
{
    long i = (long)(intptr_t)arg;
    m_tids[i] = tid();
    for (long k = 0; k < m_iters; k++) {
        pthread_mutex_lock(&m_lock);
        m_total++;
        pthread_mutex_unlock(&m_lock);
    }
    return NULL;
}

static void mode_mutex(int argc, char **argv)
{
    int n = argc > 2 ? atoi(argv[2]) : 16;
    m_iters = argc > 3 ? atol(argv[3]) : 100000;
    CHECK(n > 0 && n <= 1024);
    pthread_t t[1024];
    for (int i = 0; i < n; i++) PCHECK(pthread_create(&t[i], NULL, m_worker, (void *)(intptr_t)i));
    for (int i = 0; i < n; i++) PCHECK(pthread_join(t[i], NULL));
    printf("mutex: %d threads x %ld increments: total %ld\n", n, m_iters, m_total);
    CHECK(m_total == n * m_iters);
    int distinct = 1;
    for (int i = 0; i < n; i++) {
        if (m_tids[i] <= 0 || m_tids[i] == getpid()) distinct = 0;
        for (int j = 0; j < i; j++) if (m_tids[i] == m_tids[j]) distinct = 0;
    }
    printf("mutex: every thread had its own tid, none the pid: %s\n", distinct ? "yes" : "no");
}

/* ---- cond ---- */
#define QCAP 4
#define ITEMS 10000
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_notempty = PTHREAD_COND_INITIALIZER, q_notfull = PTHREAD_COND_INITIALIZER;
static int q_buf[QCAP], q_head, q_len, q_done;
static long q_sum[2], q_count[2];

static void *producer(void *arg)
{
    (void)arg;
    for (int i = 1; i <= ITEMS; i++) {
        pthread_mutex_lock(&q_lock);
        while (q_len == QCAP) pthread_cond_wait(&q_notfull, &q_lock);
        q_buf[(q_head + q_len++) % QCAP] = i;
        pthread_cond_signal(&q_notempty);
        pthread_mutex_unlock(&q_lock);
    }
    pthread_mutex_lock(&q_lock);
    q_done = 1;
    pthread_cond_broadcast(&q_notempty);
    pthread_mutex_unlock(&q_lock);
    return NULL;
}

static void *consumer(void *arg)
{
    int me = (int)(intptr_t)arg;
    for (;;) {
        pthread_mutex_lock(&q_lock);
        while (q_len == 0 && !q_done) pthread_cond_wait(&q_notempty, &q_lock);
        if (q_len == 0 && q_done) { pthread_mutex_unlock(&q_lock); return NULL; }
        int v = q_buf[q_head];
        q_head = (q_head + 1) % QCAP;
        q_len--;
        pthread_cond_signal(&q_notfull);
        pthread_mutex_unlock(&q_lock);
        q_sum[me] += v;
        q_count[me]++;
    }
}

static pthread_mutex_t b_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t b_cond = PTHREAD_COND_INITIALIZER;
static int b_go, b_waiting, b_woken;

static void *b_waiter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&b_lock);
    b_waiting++;
    pthread_cond_broadcast(&b_cond);             /* tells main one more is waiting */
    while (!b_go) pthread_cond_wait(&b_cond, &b_lock);
    b_woken++;
    pthread_mutex_unlock(&b_lock);
    return NULL;
}

static void mode_cond(void)
{
    pthread_t p, c[2];
    PCHECK(pthread_create(&c[0], NULL, consumer, (void *)0));
    PCHECK(pthread_create(&c[1], NULL, consumer, (void *)1));
    PCHECK(pthread_create(&p, NULL, producer, NULL));
    PCHECK(pthread_join(p, NULL));
    PCHECK(pthread_join(c[0], NULL));
    PCHECK(pthread_join(c[1], NULL));
    printf("cond: consumed %ld items, sum %ld\n", q_count[0] + q_count[1], q_sum[0] + q_sum[1]);
    CHECK(q_count[0] + q_count[1] == ITEMS && q_sum[0] + q_sum[1] == (long)ITEMS * (ITEMS + 1) / 2);

    pthread_t w[4];
    for (int i = 0; i < 4; i++) PCHECK(pthread_create(&w[i], NULL, b_waiter, NULL));
    pthread_mutex_lock(&b_lock);
    while (b_waiting < 4) pthread_cond_wait(&b_cond, &b_lock);
    b_go = 1;
    pthread_cond_broadcast(&b_cond);
    pthread_mutex_unlock(&b_lock);
    for (int i = 0; i < 4; i++) PCHECK(pthread_join(w[i], NULL));
    printf("cond: broadcast woke %d waiters\n", b_woken);

    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_nsec += 20 * 1000000L;
    if (dl.tv_nsec >= 1000000000L) { dl.tv_sec++; dl.tv_nsec -= 1000000000L; }
    pthread_mutex_lock(&b_lock);
    int r = pthread_cond_timedwait(&b_cond, &b_lock, &dl);
    pthread_mutex_unlock(&b_lock);
    printf("cond: timedwait with nobody signalling: %s\n", r == ETIMEDOUT ? "ETIMEDOUT" : errname(r));
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    CHECK(now.tv_sec > dl.tv_sec || (now.tv_sec == dl.tv_sec && now.tv_nsec >= dl.tv_nsec));
    printf("cond: the timeout did not return early\n");
}

/* ---- tls ---- */
static __thread long tls_init = 42;
static __thread long tls_zero;
static __thread char tls_buf[256];
static pthread_key_t tls_key;
static atomic_int tls_dtors, tls_dtor_sum;
static pthread_barrier_t tls_bar;

static void tls_dtor(void *p)
{
    atomic_fetch_add(&tls_dtors, 1);
    atomic_fetch_add(&tls_dtor_sum, (int)(intptr_t)p);
}

static void *tls_worker(void *arg)
{
    long i = (long)(intptr_t)arg;
    int fresh = tls_init == 42 && tls_zero == 0 && tls_buf[0] == 0 && tls_buf[255] == 0;
    tls_init = 1000 + i;
    tls_zero = 2000 + i;
    memset(tls_buf, (int)i, sizeof tls_buf);
    PCHECK(pthread_setspecific(tls_key, (void *)(intptr_t)(i + 1)));
    pthread_barrier_wait(&tls_bar);              /* every thread has written its values */
    sched_yield();
    int kept = tls_init == 1000 + i && tls_zero == 2000 + i && tls_buf[0] == (char)i && tls_buf[255] == (char)i
               && pthread_getspecific(tls_key) == (void *)(intptr_t)(i + 1);
    return (void *)(intptr_t)(fresh * 2 + kept);
}

static void mode_tls(void)
{
    enum { N = 8 };
    PCHECK(pthread_key_create(&tls_key, tls_dtor));
    PCHECK(pthread_barrier_init(&tls_bar, NULL, N));
    tls_init = 7;
    tls_zero = 8;
    pthread_t t[N];
    for (long i = 0; i < N; i++) PCHECK(pthread_create(&t[i], NULL, tls_worker, (void *)(intptr_t)i));
    int fresh = 0, kept = 0;
    for (int i = 0; i < N; i++) {
        void *r;
        PCHECK(pthread_join(t[i], &r));
        fresh += ((intptr_t)r >> 1) & 1;
        kept += (intptr_t)r & 1;
    }
    printf("tls: %d of %d threads started with the initial values\n", fresh, N);
    printf("tls: %d of %d threads kept their own values\n", kept, N);
    printf("tls: main's values unchanged: %s\n", tls_init == 7 && tls_zero == 8 ? "yes" : "no");
    printf("tls: key destructors ran %d times, sum %d\n", atomic_load(&tls_dtors), atomic_load(&tls_dtor_sum));
}

/* ---- exit ---- */
static atomic_int ex_flag, ex_progress[4];

static volatile int ex_depth = 5;

static void ex_nested(int depth)
{
    if (depth > 0) ex_nested(depth - 1);
    pthread_exit((void *)7);
}

static void *ex_worker(void *arg)
{
    int i = (int)(intptr_t)arg;
    if (i == 1) ex_nested(ex_depth);
    /* Workers 2 and 3 run on until main has joined worker 1. */
    while (!atomic_load(&ex_flag)) { atomic_fetch_add(&ex_progress[i], 1); sched_yield(); }
    return (void *)(intptr_t)(i * 10);
}

static void mode_exit(void)
{
    pthread_t t[4];
    for (int i = 1; i <= 3; i++) PCHECK(pthread_create(&t[i], NULL, ex_worker, (void *)(intptr_t)i));
    void *r;
    PCHECK(pthread_join(t[1], &r));
    printf("exit: worker 1 ended with pthread_exit(%ld)\n", (long)(intptr_t)r);
    int before2 = atomic_load(&ex_progress[2]), before3 = atomic_load(&ex_progress[3]);
    for (int i = 0; i < 1000 && (atomic_load(&ex_progress[2]) <= before2 || atomic_load(&ex_progress[3]) <= before3); i++)
        sleep_ms(5);
    atomic_store(&ex_flag, 1);
    void *r2, *r3;
    PCHECK(pthread_join(t[2], &r2));
    PCHECK(pthread_join(t[3], &r3));
    printf("exit: workers 2 and 3 kept running after it: %s\n",
           atomic_load(&ex_progress[2]) > before2 && atomic_load(&ex_progress[3]) > before3 ? "yes" : "no");
    printf("exit: workers 2 and 3 returned %ld and %ld\n", (long)(intptr_t)r2, (long)(intptr_t)r3);
}

/* ---- mainexit ---- */
static pthread_t main_thread;

static void *me_worker(void *arg)
{
    (void)arg;
    void *r = (void *)1;
    PCHECK(pthread_join(main_thread, &r));
    printf("mainexit: worker joined main, which returned %ld\n", (long)(intptr_t)r);
    printf("mainexit: worker still prints after main exited\n");
    fflush(stdout);
    return NULL;                                  /* the last thread: the process exits 0 */
}

static void mode_mainexit(void)
{
    main_thread = pthread_self();
    pthread_t t;
    PCHECK(pthread_create(&t, NULL, me_worker, NULL));
    printf("mainexit: main calls pthread_exit\n");
    fflush(stdout);
    pthread_exit((void *)5);
}

/* ---- exitgroup ---- */
static int eg_pipe[2];

static void *eg_blocked(void *arg)
{
    (void)arg;
    char c;
    read(eg_pipe[0], &c, 1);                      /* nobody ever writes */
    printf("exitgroup: read returned\n");         /* never */
    return NULL;
}

static void *eg_exiter(void *arg)
{
    (void)arg;
    sleep_ms(20);
    printf("exitgroup: worker calls exit(3)\n");
    exit(3);
}

static void mode_exitgroup(void)
{
    CHECK(pipe(eg_pipe) == 0);
    pthread_t b, e;
    PCHECK(pthread_create(&b, NULL, eg_blocked, NULL));
    PCHECK(pthread_create(&e, NULL, eg_exiter, NULL));
    printf("exitgroup: main waits for the blocked thread\n");
    fflush(stdout);
    pthread_join(b, NULL);
    printf("exitgroup: join returned\n");         /* never */
}

/* ---- detach ---- */
static sem_t d_sem;
static atomic_int d_ran;

static void *d_worker(void *arg)
{
    if (arg) PCHECK(pthread_detach(pthread_self()));
    atomic_fetch_add(&d_ran, 1);
    sem_post(&d_sem);
    return NULL;
}

static void mode_detach(void)
{
    enum { N = 100 };
    CHECK(sem_init(&d_sem, 0, 0) == 0);
    pthread_attr_t a;
    PCHECK(pthread_attr_init(&a));
    PCHECK(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED));
    int st;
    PCHECK(pthread_attr_getdetachstate(&a, &st));
    CHECK(st == PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < N; i++) {
        pthread_t t;
        /* Half detached by attribute, half by the thread itself. */
        PCHECK(pthread_create(&t, i % 2 ? &a : NULL, d_worker, i % 2 ? NULL : (void *)1));
        if (i % 10 == 9) for (int k = 0; k < 10; k++) while (sem_wait(&d_sem) == -1 && errno == EINTR) {}
    }
    printf("detach: %d detached threads ran\n", atomic_load(&d_ran));
    pthread_attr_destroy(&a);
}

/* ---- join ---- */
struct result { int id; long square; };

static void *j_square(void *arg)
{
    long i = (long)(intptr_t)arg;
    return (void *)(intptr_t)(i * i);
}

static void *j_struct(void *arg)
{
    struct result *r = malloc(sizeof *r);
    CHECK(r);
    r->id = (int)(intptr_t)arg;
    r->square = 12345678901L;
    return r;
}

static void mode_join(void)
{
    enum { N = 8 };
    pthread_t t[N];
    for (long i = 0; i < N; i++) PCHECK(pthread_create(&t[i], NULL, j_square, (void *)(intptr_t)i));
    printf("join:");
    for (int i = N - 1; i >= 0; i--) {          /* joined in reverse order of creation */
        void *r;
        PCHECK(pthread_join(t[i], &r));
        printf(" %ld", (long)(intptr_t)r);
    }
    printf("\n");
    pthread_t s;
    PCHECK(pthread_create(&s, NULL, j_struct, (void *)99));
    sleep_ms(20);                                 /* it has finished before the join */
    void *r;
    PCHECK(pthread_join(s, &r));
    struct result *res = r;
    printf("join: struct from a finished thread: id %d value %ld\n", res->id, res->square);
    free(res);
}

/* ---- stack ---- */
struct stk { char *lo, *hi; int inside; long sum; };

static void *s_probe(void *arg)
{
    struct stk *s = arg;
    char local;
    s->inside = &local >= s->lo && &local < s->hi;
    return NULL;
}

static void *s_small(void *arg)
{
    volatile unsigned char buf[1024];
    for (unsigned i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)i;
    long sum = 0;
    for (unsigned i = 0; i < sizeof buf; i++) sum += buf[i];
    ((struct stk *)arg)->sum = sum;
    return NULL;
}

static void *s_big(void *arg)
{
    enum { USE = 2 << 20 };
    volatile unsigned char *buf = __builtin_alloca(USE);
    for (long i = 0; i < USE; i += 4096) buf[i] = (unsigned char)(i >> 12);
    long sum = 0;
    for (long i = 0; i < USE; i += 4096) sum += buf[i];
    ((struct stk *)arg)->sum = sum;
    return NULL;
}

static void mode_stack(void)
{
    enum { SZ = 64 * 1024 };
    char *mem = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(mem != MAP_FAILED);
    pthread_attr_t a;
    PCHECK(pthread_attr_init(&a));
    PCHECK(pthread_attr_setstack(&a, mem, SZ));
    struct stk s = { mem, mem + SZ, 0, 0 };
    pthread_t t;
    PCHECK(pthread_create(&t, &a, s_probe, &s));
    PCHECK(pthread_join(t, NULL));
    printf("stack: a thread on a caller-provided 64 KiB stack ran there: %s\n", s.inside ? "yes" : "no");
    pthread_attr_destroy(&a);

    PCHECK(pthread_attr_init(&a));
    PCHECK(pthread_attr_setstacksize(&a, 16384));
    PCHECK(pthread_create(&t, &a, s_small, &s));
    PCHECK(pthread_join(t, NULL));
    printf("stack: a thread with a 16 KiB stack: sum %ld\n", s.sum);
    pthread_attr_destroy(&a);

    PCHECK(pthread_attr_init(&a));
    PCHECK(pthread_attr_setstacksize(&a, 4 << 20));
    PCHECK(pthread_create(&t, &a, s_big, &s));
    PCHECK(pthread_join(t, NULL));
    printf("stack: a thread with a 4 MiB stack used 2 MiB of it: sum %ld\n", s.sum);
    pthread_attr_destroy(&a);
    munmap(mem, SZ);
}

/* ---- cancel ---- */
static int c_pipe[2];
static atomic_int c_cleanup, c_started;

static void c_clean(void *arg)
{
    (void)arg;
    atomic_store(&c_cleanup, 1);
}

static void *c_worker(void *arg)
{
    (void)arg;
    char c;
    pthread_cleanup_push(c_clean, NULL);
    atomic_store(&c_started, 1);
    read(c_pipe[0], &c, 1);                       /* a cancellation point; nobody writes */
    pthread_cleanup_pop(0);
    return (void *)1;
}

static void mode_cancel(void)
{
    CHECK(pipe(c_pipe) == 0);
    pthread_t t;
    PCHECK(pthread_create(&t, NULL, c_worker, NULL));
    while (!atomic_load(&c_started)) sched_yield();
    sleep_ms(20);                                 /* let it block in read */
    PCHECK(pthread_cancel(t));
    void *r;
    PCHECK(pthread_join(t, &r));
    printf("cancel: join gave %s\n", r == PTHREAD_CANCELED ? "PTHREAD_CANCELED" : "something else");
    printf("cancel: cleanup handler ran: %s\n", atomic_load(&c_cleanup) ? "yes" : "no");
}

/* ---- sync ---- */
static pthread_barrier_t y_bar;
static atomic_int y_phase_errors;
static int y_phase;
static pthread_rwlock_t y_rw = PTHREAD_RWLOCK_INITIALIZER;
static long y_a, y_b;
static atomic_long y_atomic;
static long y_rw_bad;

static void *y_worker(void *arg)
{
    (void)arg;
    for (int round = 0; round < 1000; round++) {
        int seen = __atomic_load_n(&y_phase, __ATOMIC_SEQ_CST);
        if (seen != round) atomic_fetch_add(&y_phase_errors, 1);
        if (pthread_barrier_wait(&y_bar) == PTHREAD_BARRIER_SERIAL_THREAD)
            __atomic_store_n(&y_phase, round + 1, __ATOMIC_SEQ_CST);
        pthread_barrier_wait(&y_bar);
    }
    for (int i = 0; i < 20000; i++) {
        if (i % 4 == 0) {
            pthread_rwlock_wrlock(&y_rw);
            y_a++; y_b++;
            pthread_rwlock_unlock(&y_rw);
        } else {
            pthread_rwlock_rdlock(&y_rw);
            if (y_a != y_b) __atomic_fetch_add(&y_rw_bad, 1, __ATOMIC_RELAXED);
            pthread_rwlock_unlock(&y_rw);
        }
        atomic_fetch_add(&y_atomic, 3);
    }
    return NULL;
}

static sem_t y_ping, y_pong;
static void *y_ponger(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) { sem_wait(&y_ping); sem_post(&y_pong); }
    return NULL;
}

static void mode_sync(void)
{
    enum { N = 4 };
    PCHECK(pthread_barrier_init(&y_bar, NULL, N));
    pthread_t t[N];
    for (int i = 0; i < N; i++) PCHECK(pthread_create(&t[i], NULL, y_worker, NULL));
    for (int i = 0; i < N; i++) PCHECK(pthread_join(t[i], NULL));
    printf("sync: barrier: %d threads x 1000 rounds, phase %d, %d out of step\n", N, y_phase, atomic_load(&y_phase_errors));
    printf("sync: rwlock: %ld writes, %ld torn reads\n", y_a, y_rw_bad);
    printf("sync: atomics: %ld\n", (long)atomic_load(&y_atomic));
    CHECK(sem_init(&y_ping, 0, 0) == 0 && sem_init(&y_pong, 0, 0) == 0);
    pthread_t p;
    PCHECK(pthread_create(&p, NULL, y_ponger, NULL));
    int rounds = 0;
    for (int i = 0; i < 1000; i++) { sem_post(&y_ping); sem_wait(&y_pong); rounds++; }
    PCHECK(pthread_join(p, NULL));
    printf("sync: semaphore ping-pong: %d rounds\n", rounds);
}

/* ---- many ---- */
static pthread_barrier_t many_bar;
static atomic_int many_serial;

static void *many_worker(void *arg)
{
    (void)arg;
    if (pthread_barrier_wait(&many_bar) == PTHREAD_BARRIER_SERIAL_THREAD) atomic_fetch_add(&many_serial, 1);
    return NULL;
}

static void mode_many(int argc, char **argv)
{
    int n = argc > 2 ? atoi(argv[2]) : 64;
    CHECK(n > 0 && n <= 1024);
    PCHECK(pthread_barrier_init(&many_bar, NULL, n + 1));
    pthread_t *t = calloc(n, sizeof *t);
    pthread_attr_t a;
    PCHECK(pthread_attr_init(&a));
    PCHECK(pthread_attr_setstacksize(&a, 64 * 1024));
    for (int i = 0; i < n; i++) PCHECK(pthread_create(&t[i], &a, many_worker, NULL));
    if (pthread_barrier_wait(&many_bar) == PTHREAD_BARRIER_SERIAL_THREAD) atomic_fetch_add(&many_serial, 1);
    for (int i = 0; i < n; i++) PCHECK(pthread_join(t[i], NULL));
    printf("many: %d threads alive at once met at a barrier (%d serial thread)\n", n, atomic_load(&many_serial));
    free(t);
}

/* ---- shootdown ---- */
static char *sd_page;
static atomic_int sd_flag, sd_reading;
static __thread sigjmp_buf sd_jmp;
static __thread volatile int sd_code;
static __thread void *volatile sd_addr;

static void sd_segv(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)uc;
    sd_code = si->si_code;
    sd_addr = si->si_addr;
    siglongjmp(sd_jmp, 1);
}

static const char *segv_code(int c)
{
    return c == SEGV_MAPERR ? "SEGV_MAPERR" : c == SEGV_ACCERR ? "SEGV_ACCERR" : "other";
}

/* Reads (or writes) the page until the flag is set, then once more: one of these faults. */
static void *sd_reader(void *arg)
{
    int write = arg != NULL;
    volatile char *p = sd_page;
    long sum = 0;
    if (sigsetjmp(sd_jmp, 1) == 0) {
        atomic_store(&sd_reading, 1);
        while (!atomic_load(&sd_flag)) { if (write) p[100] = 1; else sum += p[100]; }
        if (write) p[100] = 2; else sum += p[100];
        printf("shootdown: %s the page after the change worked (stale memory)\n", write ? "writing" : "reading");
        return NULL;
    }
    printf("shootdown: %s: SIGSEGV %s at the page: %s\n", write ? "writer" : "reader", segv_code(sd_code),
           sd_addr == (void *)(sd_page + 100) ? "yes" : "no");
    return NULL;
}

static void mode_shootdown(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = sd_segv;
    sa.sa_flags = SA_SIGINFO;
    CHECK(sigaction(SIGSEGV, &sa, NULL) == 0);
    for (int round = 0; round < 2; round++) {
        sd_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(sd_page != MAP_FAILED);
        sd_page[100] = 7;
        atomic_store(&sd_flag, 0);
        atomic_store(&sd_reading, 0);
        pthread_t t;
        PCHECK(pthread_create(&t, NULL, sd_reader, round ? (void *)1 : NULL));
        while (!atomic_load(&sd_reading)) sched_yield();
        sleep_ms(10);                             /* it is in its loop, the page in its TLB */
        if (round == 0) CHECK(munmap(sd_page, 4096) == 0);
        else CHECK(mprotect(sd_page, 4096, PROT_READ) == 0);
        atomic_store(&sd_flag, 1);
        PCHECK(pthread_join(t, NULL));
        if (round) munmap(sd_page, 4096);
    }
}

/* ---- robust ---- */
static pthread_mutex_t rb_mutex;

static void *rb_locker(void *arg)
{
    (void)arg;
    PCHECK(pthread_mutex_lock(&rb_mutex));
    return NULL;                                  /* dies holding it */
}

struct rlist { struct rlist *next; };
struct rhead { struct rlist list; long futex_offset; struct rlist *pending; };
struct rentry { struct rlist link; unsigned word; };
#define FUTEX_WAITERS 0x80000000u
#define FUTEX_OWNER_DIED 0x40000000u
static struct rentry rb_entry;
static struct rhead rb_head;
static atomic_int rb_published;

static void *rb_raw(void *arg)
{
    rb_head.list.next = arg ? (struct rlist *)arg : &rb_entry.link;
    rb_head.futex_offset = (long)offsetof(struct rentry, word);
    rb_head.pending = NULL;
    rb_entry.link.next = &rb_entry.link;          /* a loop: the kernel must bound its walk */
    __atomic_store_n(&rb_entry.word, (unsigned)tid() | FUTEX_WAITERS, __ATOMIC_SEQ_CST);
    CHECK(syscall(SYS_set_robust_list, &rb_head, sizeof rb_head) == 0);
    atomic_store(&rb_published, 1);
    return NULL;
}

/* Waits (at most 2 s) for the kernel to mark the word's owner dead. */
static int rb_wait_owner_died(void)
{
    struct timespec ts = { 0, 100 * 1000000L };
    for (int i = 0; i < 20; i++) {
        unsigned v = __atomic_load_n(&rb_entry.word, __ATOMIC_SEQ_CST);
        if (v & FUTEX_OWNER_DIED) return 1;
        syscall(SYS_futex, &rb_entry.word, 0 /* FUTEX_WAIT */, v, &ts, NULL, 0);
    }
    return 0;
}

static void mode_robust(void)
{
    pthread_mutexattr_t ma;
    PCHECK(pthread_mutexattr_init(&ma));
    PCHECK(pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST));
    PCHECK(pthread_mutex_init(&rb_mutex, &ma));
    pthread_t t;
    PCHECK(pthread_create(&t, NULL, rb_locker, NULL));
    PCHECK(pthread_join(t, NULL));
    int r = pthread_mutex_lock(&rb_mutex);
    printf("robust: locking the mutex its dead owner held: %s\n", r == EOWNERDEAD ? "EOWNERDEAD" : errname(r));
    PCHECK(pthread_mutex_consistent(&rb_mutex));
    PCHECK(pthread_mutex_unlock(&rb_mutex));
    r = pthread_mutex_lock(&rb_mutex);
    printf("robust: after pthread_mutex_consistent and unlock: %s\n", errname(r));
    PCHECK(pthread_mutex_unlock(&rb_mutex));

    PCHECK(pthread_create(&t, NULL, rb_raw, NULL));
    PCHECK(pthread_join(t, NULL));
    int died = rb_wait_owner_died();
    unsigned v = __atomic_load_n(&rb_entry.word, __ATOMIC_SEQ_CST);
    printf("robust: a list that loops on itself: the walk ended, FUTEX_OWNER_DIED set: %s, owner tid cleared: %s, waiters bit kept: %s\n",
           died ? "yes" : "no", (v & 0x3fffffff) == 0 ? "yes" : "no", v & FUTEX_WAITERS ? "yes" : "no");

    static char *hole;
    hole = mmap(NULL, 3 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(hole != MAP_FAILED && munmap(hole + 4096, 4096) == 0);
    atomic_store(&rb_published, 0);
    PCHECK(pthread_create(&t, NULL, rb_raw, hole + 4096));
    PCHECK(pthread_join(t, NULL));
    sleep_ms(20);
    printf("robust: a list pointing at unmapped memory: the thread exited and the process goes on: %s\n",
           atomic_load(&rb_published) ? "yes" : "no");
}

/* ---- clone-errors ---- */
/* A raw clone whose child, if one is ever made, exits at once (SYS_exit: that thread only). */
static long raw_clone(unsigned long flags, void *stack, unsigned long tls)
{
    register unsigned long r10 __asm__("r10") = 0;
    register unsigned long r8 __asm__("r8") = tls;
    long r;
    __asm__ volatile(
        "syscall\n"
        "test %%rax, %%rax\n jnz 1f\n"
        "mov $60, %%eax\n xor %%edi, %%edi\n syscall\n ud2\n"
        "1:\n"
        : "=a"(r) : "a"(SYS_clone), "D"(flags), "S"(stack), "d"(0), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
    return r;
}

static void show_clone(const char *what, long r)
{
    if (r < 0) printf("clone-errors: %s: -1 %s\n", what, errname((int)-r));
    else printf("clone-errors: %s: a thread was made\n", what);
}

static void mode_clone_errors(void)
{
    enum { SZ = 65536 };
    char *stk = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(stk != MAP_FAILED);
    const unsigned long T = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
    show_clone("CLONE_THREAD without CLONE_SIGHAND", raw_clone(CLONE_VM | CLONE_THREAD, stk + SZ, 0));
    show_clone("CLONE_SIGHAND without CLONE_VM", raw_clone(CLONE_SIGHAND, stk + SZ, 0));
    show_clone("CLONE_THREAD with CLONE_NEWUSER", raw_clone(T | CLONE_NEWUSER, stk + SZ, 0));
    show_clone("CLONE_SETTLS at a kernel address", raw_clone(T | CLONE_SETTLS, stk + SZ, 0xffff888000100000UL));
    show_clone("CLONE_SETTLS at a non-canonical address", raw_clone(T | CLONE_SETTLS, stk + SZ, 0x8000000000001000UL));
    unsigned long args[11] = { 0 };
    errno = 0;
    long r = syscall(435, args, 0);
    printf("clone-errors: clone3 size 0: %ld %s\n", r, errname(errno));
    errno = 0;
    r = syscall(435, (void *)8, 88);
    printf("clone-errors: clone3 bad pointer: %ld %s\n", r, errname(errno));
    static unsigned long big[512];
    big[0] = T;
    big[300] = 1;                                 /* a non-zero byte past the known fields */
    errno = 0;
    r = syscall(435, big, sizeof big);
    printf("clone-errors: clone3 4096 bytes, unknown fields set: %ld %s\n", r, errname(errno));
    munmap(stk, SZ);
}

/* ---- cpus ---- */
static void mode_cpus(void)
{
    cpu_set_t set;
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
    printf("cpus: sched_getaffinity %d\n", CPU_COUNT(&set));
    printf("cpus: sysconf online %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
    unsigned cpu = ~0u;
    CHECK(syscall(SYS_getcpu, &cpu, NULL, NULL) == 0);
    printf("cpus: getcpu below the count: %s\n", (int)cpu < CPU_COUNT(&set) ? "yes" : "no");
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(mode, "mutex")) mode_mutex(argc, argv);
    else if (!strcmp(mode, "cond")) mode_cond();
    else if (!strcmp(mode, "tls")) mode_tls();
    else if (!strcmp(mode, "exit")) mode_exit();
    else if (!strcmp(mode, "mainexit")) mode_mainexit();
    else if (!strcmp(mode, "exitgroup")) mode_exitgroup();
    else if (!strcmp(mode, "detach")) mode_detach();
    else if (!strcmp(mode, "join")) mode_join();
    else if (!strcmp(mode, "stack")) mode_stack();
    else if (!strcmp(mode, "cancel")) mode_cancel();
    else if (!strcmp(mode, "sync")) mode_sync();
    else if (!strcmp(mode, "many")) mode_many(argc, argv);
    else if (!strcmp(mode, "shootdown")) mode_shootdown();
    else if (!strcmp(mode, "cpus")) mode_cpus();
    else if (!strcmp(mode, "robust")) mode_robust();
    else if (!strcmp(mode, "clone-errors")) mode_clone_errors();
    else {
        fprintf(stderr, "usage: threads mutex [T N]|cond|tls|exit|mainexit|exitgroup|detach|join|stack|cancel|sync|many [N]|shootdown|cpus|robust|clone-errors\n");
        return 2;
    }
    return 0;
}
