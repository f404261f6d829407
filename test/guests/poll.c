/* poll: readiness on a pipe through poll, ppoll, select, pselect6 and epoll
 * (epoll_create1/epoll_ctl/epoll_wait/epoll_pwait). First with nothing ready
 * and a zero timeout, then after a write. One line per check. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <unistd.h>
#include "common.h"

int main(void)
{
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    printf("pipe2 ok\n");

    /* --- nothing ready, timeout 0 --- */
    struct pollfd pfd = { .fd = p[0], .events = POLLIN };
    CHECK(poll(&pfd, 1, 0) == 0 && pfd.revents == 0);
    printf("poll empty 0\n");
    struct timespec zero = { 0, 0 };
    sigset_t none;
    sigemptyset(&none);
    pfd.revents = 0;
    CHECK(ppoll(&pfd, 1, &zero, &none) == 0 && pfd.revents == 0);
    printf("ppoll empty 0\n");
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    struct timeval tv0 = { 0, 0 };
    CHECK(select(p[0] + 1, &rs, NULL, NULL, &tv0) == 0 && !FD_ISSET(p[0], &rs));
    printf("select empty 0\n");
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    CHECK(pselect(p[0] + 1, &rs, NULL, NULL, &zero, &none) == 0 && !FD_ISSET(p[0], &rs));
    printf("pselect6 empty 0\n");

    /* the write end is writable right away */
    struct pollfd wfd = { .fd = p[1], .events = POLLOUT };
    CHECK(poll(&wfd, 1, 0) == 1 && (wfd.revents & POLLOUT));
    printf("poll write end POLLOUT\n");

    /* a short timeout expires with nothing ready */
    pfd.revents = 0;
    CHECK(poll(&pfd, 1, 20) == 0);
    printf("poll timeout 20ms 0\n");

    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0);
    printf("epoll_create1 ok\n");
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0x1122334455667788ULL };
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0);
    printf("epoll_ctl add ok\n");
    errno = 0;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == -1 && errno == EEXIST);
    printf("epoll_ctl add again EEXIST\n");
    struct epoll_event out[4];
    CHECK(epoll_wait(ep, out, 4, 0) == 0);
    printf("epoll_wait empty 0\n");

    /* --- after a write --- */
    CHECK(write(p[1], "x", 1) == 1);
    pfd.revents = 0;
    CHECK(poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN));
    printf("poll ready 1 POLLIN\n");
    pfd.revents = 0;
    CHECK(ppoll(&pfd, 1, &zero, &none) == 1 && (pfd.revents & POLLIN));
    printf("ppoll ready 1 POLLIN\n");
    pfd.revents = 0;
    CHECK(ppoll(&pfd, 1, NULL, NULL) == 1 && (pfd.revents & POLLIN));
    printf("ppoll no timeout ready 1\n");
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    tv0.tv_sec = 0;
    tv0.tv_usec = 0;
    CHECK(select(p[0] + 1, &rs, NULL, NULL, &tv0) == 1 && FD_ISSET(p[0], &rs));
    printf("select ready 1\n");
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    CHECK(pselect(p[0] + 1, &rs, NULL, NULL, NULL, NULL) == 1 && FD_ISSET(p[0], &rs));
    printf("pselect6 ready 1\n");

    memset(out, 0, sizeof out);
    CHECK(epoll_wait(ep, out, 4, 0) == 1);
    CHECK(out[0].events & EPOLLIN);
    CHECK(out[0].data.u64 == 0x1122334455667788ULL);
    printf("epoll_wait ready 1 data=0x%llx\n", (unsigned long long)out[0].data.u64);
    ev.data.u64 = 0xfeedfacecafebeefULL;
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev) == 0);
    memset(out, 0, sizeof out);
    CHECK(epoll_pwait(ep, out, 4, -1, &none) == 1);
    CHECK((out[0].events & EPOLLIN) && out[0].data.u64 == 0xfeedfacecafebeefULL);
    printf("epoll_pwait ready 1 data=0x%llx\n", (unsigned long long)out[0].data.u64);

    /* drain: nothing ready again */
    char c;
    CHECK(read(p[0], &c, 1) == 1 && c == 'x');
    CHECK(epoll_wait(ep, out, 4, 0) == 0);
    printf("drained epoll_wait 0\n");

    /* closing the write end: POLLHUP on the read end */
    CHECK(close(p[1]) == 0);
    pfd.revents = 0;
    CHECK(poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP));
    printf("poll POLLHUP after close\n");
    memset(out, 0, sizeof out);
    CHECK(epoll_wait(ep, out, 4, 0) == 1 && (out[0].events & EPOLLHUP));
    printf("epoll_wait EPOLLHUP\n");

    CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL) == 0);
    CHECK(epoll_wait(ep, out, 4, 0) == 0);
    printf("epoll_ctl del ok\n");
    CHECK(close(ep) == 0 && close(p[0]) == 0);
    printf("poll done\n");
    return 0;
}
