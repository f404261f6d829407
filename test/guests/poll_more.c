/* poll_more: the corners of poll/ppoll/select/pselect6/epoll, on pipes and a
 * Unix socketpair: fds that are not open (POLLNVAL, EBADF; fd numbers the VMM
 * itself uses included), negative fds, nfds limits, timeouts written back with
 * the time left, read-only timeouts, signal-mask sizes, select on exceptfds of
 * a hung-up pipe (keeps waiting), epoll argument checks and epoll_pwait2.
 * RLIMIT_NOFILE is lowered to 1024 (torov's fd table size) so the limits match.
 * One line per check; times are only printed as comparisons. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "common.h"



static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/* read-only timeouts (in .rodata) */
static const struct timespec ro_ts = { 0, 10000000 };

static void polls(int rd, int wr)
{
    /* fds that are not open in the guest, including numbers the VMM's own fds
     * are likely to have on the host (/dev/kvm, the VM): all POLLNVAL */
    struct pollfd f[32];
    for (int i = 0; i < 32; i++) {
        f[i].fd = 10 + i;
        f[i].events = POLLIN | POLLOUT;
        f[i].revents = 0x7777;
    }
    long long t0 = now_ms();
    int r = poll(f, 32, 1000);
    int nval = 0;
    for (int i = 0; i < 32; i++) nval += f[i].revents == POLLNVAL;
    printf("poll 32 closed fds: %d ready, %d POLLNVAL, fast=%d\n", r, nval, now_ms() - t0 < 500);

    /* negative fds are skipped, revents cleared */
    struct pollfd g[3] = { { -1, POLLIN, 0x55 }, { wr, POLLOUT, 0x55 }, { -5, POLLOUT, 0x55 } };
    r = poll(g, 3, 0);
    printf("poll negative fds: %d ready, revents %#x %#x %#x\n", r, g[0].revents, g[1].revents, g[2].revents);

    show("poll nfds 1025", poll(g, 1025, 0));
    show("poll bad array", poll(BAD, 1, 0));
    t0 = now_ms();
    show("poll nothing 20ms", poll(NULL, 0, 20));
    printf("poll nothing waited=%d\n", now_ms() - t0 >= 15);

    struct pollfd p = { rd, POLLIN, 0 };
    sigset_t none;
    sigemptyset(&none);
    struct timespec ts = { 0, 0 };
    show("ppoll sigsetsize 4", syscall(SYS_ppoll, &p, 1, &ts, &none, 4));
    show("ppoll bad sigmask", syscall(SYS_ppoll, &p, 1, &ts, BAD, 8));
    ts.tv_nsec = 2000000000L;
    show("ppoll bad timespec", syscall(SYS_ppoll, &p, 1, &ts, NULL, 8));
    show("ppoll bad timespec ptr", syscall(SYS_ppoll, &p, 1, BAD, NULL, 8));
    ts.tv_sec = 0;
    ts.tv_nsec = 30000000;
    show("ppoll 30ms empty", syscall(SYS_ppoll, &p, 1, &ts, NULL, 8));
    printf("ppoll time left %ld.%09ld\n", (long)ts.tv_sec, ts.tv_nsec);
    show("ppoll read-only timeout", syscall(SYS_ppoll, &p, 1, &ro_ts, NULL, 8));
    printf("read-only timeout unchanged %d\n", ro_ts.tv_nsec == 10000000);

    CHECK(write(wr, "x", 1) == 1);
    ts.tv_sec = 5;
    ts.tv_nsec = 0;
    show("ppoll ready 5s", syscall(SYS_ppoll, &p, 1, &ts, NULL, 8));
    printf("ppoll time left in (4s,5s]: %d\n", (ts.tv_sec == 4 && ts.tv_nsec > 0) || (ts.tv_sec == 5 && ts.tv_nsec == 0));
    char c;
    CHECK(read(rd, &c, 1) == 1);
}

static void selects(int rd, int wr, int s0, int s1)
{
    fd_set r, w;
    struct timeval tv = { 0, 0 };
    FD_ZERO(&r);
    FD_SET(rd, &r);
    FD_SET(40, &r);
    show("select closed fd", select(41, &r, NULL, NULL, &tv));
    show("select nfds -1", syscall(SYS_select, -1, NULL, NULL, NULL, &tv));
    FD_ZERO(&r);
    FD_SET(rd, &r);
    show("select bad set", select(rd + 1, BAD, NULL, NULL, &tv));
    tv.tv_usec = -1;
    show("select negative usec", select(rd + 1, &r, NULL, NULL, &tv));

    /* nfds beyond the table: clamped, like Linux */
    FD_ZERO(&w);
    FD_SET(wr, &w);
    tv.tv_sec = 0;
    tv.tv_usec = 0;
    show("select nfds 2000", syscall(SYS_select, 2000, NULL, &w, NULL, &tv));
    printf("select nfds 2000 write bit %d\n", FD_ISSET(wr, &w));

    /* one fd in two sets counts twice */
    CHECK(write(s1, "s", 1) == 1);
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(s0, &r);
    FD_SET(s0, &w);
    show("select read+write same fd", select(s0 + 1, &r, &w, NULL, &tv));
    printf("bits r=%d w=%d\n", FD_ISSET(s0, &r), FD_ISSET(s0, &w));
    char c;
    CHECK(read(s0, &c, 1) == 1);

    /* time left written back */
    FD_ZERO(&r);
    FD_SET(rd, &r);
    tv.tv_sec = 0;
    tv.tv_usec = 30000;
    /* (raw syscalls: musl's select passes the kernel a copy of the timeval) */
    show("select 30ms empty", syscall(SYS_select, rd + 1, &r, NULL, NULL, &tv));
    printf("select time left %ld.%06ld, bit %d\n", (long)tv.tv_sec, (long)tv.tv_usec, FD_ISSET(rd, &r));
    CHECK(write(wr, "x", 1) == 1);
    FD_ZERO(&r);
    FD_SET(rd, &r);
    tv.tv_sec = 0;
    tv.tv_usec = 1500000; /* more than a second in usec: normalised */
    show("select usec 1500000 ready", syscall(SYS_select, rd + 1, &r, NULL, NULL, &tv));
    printf("select time left normalised, in (1s,1.5s]: %d\n", tv.tv_sec == 1 && tv.tv_usec > 0 && tv.tv_usec <= 500000);
    CHECK(read(rd, &c, 1) == 1);

    /* select as a sleep */
    long long t0 = now_ms();
    tv.tv_sec = 0;
    tv.tv_usec = 20000;
    show("select sleep 20ms", select(0, NULL, NULL, NULL, &tv));
    printf("select sleep waited=%d\n", now_ms() - t0 >= 15);

    /* pselect6: signal mask argument */
    struct timespec ts = { 0, 0 };
    sigset_t none;
    sigemptyset(&none);
    struct { const sigset_t *ss; size_t len; } sa = { &none, 4 };
    FD_ZERO(&r);
    FD_SET(rd, &r);
    show("pselect6 sigsetsize 4", syscall(SYS_pselect6, rd + 1, &r, NULL, NULL, &ts, &sa));
    sa.ss = BAD;
    sa.len = 8;
    show("pselect6 bad sigmask", syscall(SYS_pselect6, rd + 1, &r, NULL, NULL, &ts, &sa));
    show("pselect6 bad argpack", syscall(SYS_pselect6, rd + 1, &r, NULL, NULL, &ts, BAD));
    sa.ss = NULL;
    sa.len = 4;
    show("pselect6 NULL sigmask any size", syscall(SYS_pselect6, rd + 1, &r, NULL, NULL, &ts, &sa));
    ts.tv_nsec = -1;
    show("pselect6 bad timespec", syscall(SYS_pselect6, rd + 1, &r, NULL, NULL, &ts, NULL));
    ts.tv_nsec = 30000000;
    show("pselect6 30ms empty", syscall(SYS_pselect6, rd + 1, &r, NULL, NULL, &ts, NULL));
    printf("pselect6 time left %ld.%09ld\n", (long)ts.tv_sec, ts.tv_nsec);
}

/* exceptfds of a hung-up pipe: POLLHUP is not an exception, select keeps waiting */
static void select_hup(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK(close(p[1]) == 0);
    fd_set e;
    FD_ZERO(&e);
    FD_SET(p[0], &e);
    struct timeval tv = { 0, 30000 };
    long long t0 = now_ms();
    show("select exceptfds hung-up pipe", select(p[0] + 1, NULL, NULL, &e, &tv));
    printf("select exceptfds waited=%d bit=%d\n", now_ms() - t0 >= 25, FD_ISSET(p[0], &e));
    fd_set r;
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    FD_ZERO(&e);
    FD_SET(p[0], &e);
    tv.tv_usec = 0;
    show("select read+except hung-up pipe", select(p[0] + 1, &r, NULL, &e, &tv));
    printf("bits r=%d e=%d\n", FD_ISSET(p[0], &r), FD_ISSET(p[0], &e));
    CHECK(close(p[0]) == 0);
}

static void epolls(int rd, int wr, int s0, int s1)
{
    show("epoll_create 0", syscall(SYS_epoll_create, 0));
    int ep1 = epoll_create(1);
    printf("epoll_create 1 ok=%d cloexec=%d\n", ep1 >= 0, fcntl(ep1, F_GETFD));
    show("epoll_create1 bad flags", epoll_create1(1));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    printf("epoll_create1 cloexec=%d\n", fcntl(ep, F_GETFD));

    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 7 };
    show("epoll_ctl bad fd", epoll_ctl(ep, EPOLL_CTL_ADD, 40, &ev));
    show("epoll_ctl bad epfd", epoll_ctl(40, EPOLL_CTL_ADD, rd, &ev));
    show("epoll_ctl not epoll", epoll_ctl(rd, EPOLL_CTL_ADD, wr, &ev));
    show("epoll_ctl bad event", epoll_ctl(ep, EPOLL_CTL_ADD, rd, BAD));
    show("epoll_ctl itself", epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev));
    show("epoll_ctl mod absent", epoll_ctl(ep, EPOLL_CTL_MOD, rd, &ev));
    show("epoll_ctl add", epoll_ctl(ep, EPOLL_CTL_ADD, rd, &ev));
    show("epoll_ctl del NULL event", epoll_ctl(ep, EPOLL_CTL_DEL, rd, NULL));

    struct epoll_event out[8];
    show("epoll_wait maxevents 0", epoll_wait(ep, out, 0, 0));
    show("epoll_wait maxevents -1", epoll_wait(ep, out, -1, 0));
    /* with an event to report (the events array is checked up front under torov,
     * while Linux only faults when it writes an event) */
    struct epoll_event wev = { .events = EPOLLOUT, .data.u64 = 1 };
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, wr, &wev) == 0);
    show("epoll_wait bad events", epoll_wait(ep, BAD, 8, 0));
    CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, wr, NULL) == 0);
    show("epoll_wait not epoll", epoll_wait(rd, out, 8, 0));
    show("epoll_wait bad epfd", epoll_wait(40, out, 8, 0));
    sigset_t none;
    sigemptyset(&none);
    show("epoll_pwait sigsetsize 4", syscall(SYS_epoll_pwait, ep, out, 8, 0, &none, 4));
    show("epoll_pwait bad sigmask", syscall(SYS_epoll_pwait, ep, out, 8, 0, BAD, 8));

    /* the socketpair: writable right away, readable after a write, RDHUP after shutdown */
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    ev.data.u64 = 0xabcdef0123456789ULL;
    show("epoll_ctl add socket", epoll_ctl(ep, EPOLL_CTL_ADD, s0, &ev));
    int n = epoll_wait(ep, out, 8, 0);
    printf("socket: %d event(s), events %#x, data %#llx\n", n, n > 0 ? out[0].events : 0,
           n > 0 ? (unsigned long long)out[0].data.u64 : 0ULL);
    CHECK(write(s1, "y", 1) == 1);
    CHECK(shutdown(s1, SHUT_WR) == 0);
    n = epoll_wait(ep, out, 8, 0);
    printf("socket after write+shutdown: %d event(s), events %#x\n", n, n > 0 ? out[0].events : 0);

    /* epoll_pwait2: timespec timeout */
    CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, s0, NULL) == 0);
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, rd, &ev) == 0);
    struct timespec ts = { 0, 20000000 };
    long long t0 = now_ms();
    show("epoll_pwait2 20ms empty", syscall(441, ep, out, 8, &ts, NULL, 8));
    printf("epoll_pwait2 waited=%d\n", now_ms() - t0 >= 15);
    ts.tv_nsec = -1;
    show("epoll_pwait2 bad timespec", syscall(441, ep, out, 8, &ts, NULL, 8));
    CHECK(write(wr, "z", 1) == 1);
    show("epoll_pwait2 no timeout ready", syscall(441, ep, out, 8, NULL, NULL, 8));
    show("epoll_pwait2 sigsetsize 4", syscall(441, ep, out, 8, NULL, &none, 4));
    char c;
    CHECK(read(rd, &c, 1) == 1);
    CHECK(close(ep) == 0 && close(ep1) == 0);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    rl.rlim_cur = 1024;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    /* natively, fds inherited from the parent would not be POLLNVAL */
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    int p[2], sv[2];
    CHECK(pipe(p) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    polls(p[0], p[1]);
    selects(p[0], p[1], sv[0], sv[1]);
    select_hup();
    epolls(p[0], p[1], sv[0], sv[1]);
    printf("poll_more done\n");
    return 0;
}
