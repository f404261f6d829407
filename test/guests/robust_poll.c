/* robust_poll: the largest valid timeouts, {LONG_MAX, 0} and
 * {LONG_MAX, 999999999} (timeval: {LONG_MAX, 999999} and {0, LONG_MAX}), given
 * to ppoll, pselect6, select and epoll_pwait2 on a pipe that has data ready:
 * each returns 1 at once. The time left (ppoll, select, pselect6) must be
 * written back as a non-negative time. One line per call, the same natively.
 * Raw syscall() so that the C library cannot reject or clamp the timeout. */
#define _GNU_SOURCE
#include <limits.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif

static void show(const char *what, long r, int left_ok)
{
    printf("%s returned %ld%s%s left_ok=%d\n", what, r, r < 0 ? " " : "", r < 0 ? errname(errno) : "", left_ok);
}

int main(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK(write(p[1], "x", 1) == 1);
    const long nsecs[] = { 0, 999999999 };

    for (int i = 0; i < 2; i++) {
        char what[64];
        struct pollfd pfd = { .fd = p[0], .events = POLLIN };
        struct timespec ts = { LONG_MAX, nsecs[i] };
        long r = syscall(SYS_ppoll, &pfd, 1, &ts, NULL, 8);
        snprintf(what, sizeof what, "ppoll {LONG_MAX,%ld}", nsecs[i]);
        show(what, r, ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000);

        fd_set in;
        FD_ZERO(&in); FD_SET(p[0], &in);
        ts = (struct timespec){ LONG_MAX, nsecs[i] };
        r = syscall(SYS_pselect6, p[0] + 1, &in, NULL, NULL, &ts, NULL);
        snprintf(what, sizeof what, "pselect6 {LONG_MAX,%ld}", nsecs[i]);
        show(what, r, ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000);

        int ep = epoll_create1(0);
        CHECK(ep >= 0);
        struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 7 }, out[2];
        CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0);
        ts = (struct timespec){ LONG_MAX, nsecs[i] };
        r = syscall(SYS_epoll_pwait2, ep, out, 2, &ts, NULL, 8);
        snprintf(what, sizeof what, "epoll_pwait2 {LONG_MAX,%ld}", nsecs[i]);
        show(what, r, 1);
        close(ep);
    }

    const struct timeval tvs[] = { { LONG_MAX, 0 }, { LONG_MAX, 999999 }, { 0, LONG_MAX } };
    const char *names[] = { "{LONG_MAX,0}", "{LONG_MAX,999999}", "{0,LONG_MAX}" };
    for (int i = 0; i < 3; i++) {
        char what[64];
        fd_set in;
        FD_ZERO(&in); FD_SET(p[0], &in);
        struct timeval tv = tvs[i];
        long r = syscall(SYS_select, p[0] + 1, &in, NULL, NULL, &tv);
        snprintf(what, sizeof what, "select %s", names[i]);
        show(what, r, tv.tv_sec >= 0 && tv.tv_usec >= 0 && tv.tv_usec < 1000000);
    }

    /* An ordinary timeout still times out (0 ready) on the emptied pipe. */
    char c;
    CHECK(read(p[0], &c, 1) == 1);
    struct pollfd pfd = { .fd = p[0], .events = POLLIN };
    struct timespec ts = { 0, 20000000 };
    long r = syscall(SYS_ppoll, &pfd, 1, &ts, NULL, 8);
    show("ppoll empty 20ms", r, ts.tv_sec == 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 20000000);
    printf("robust_poll done\n");
    return 0;
}
