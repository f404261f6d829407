/* net_bad: socket calls with bad pointers, lengths and fds, each printing the
 * errno it gets (one line per check), then fd passing with a full fd table
 * (RLIMIT_NOFILE lowered to 1024, torov's table size): the fds that do not
 * fit are dropped and MSG_CTRUNC is set. Lines starting "refused " are calls
 * torov refuses on purpose (address families, BPF socket filters) and differ
 * from a native run. Exits 0 unless a call succeeds that must fail. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include "common.h"


/* linux/filter.h (musl has no kernel headers) */
struct sock_filter { uint16_t code; uint8_t jt, jf; uint32_t k; };
struct sock_fprog { unsigned short len; struct sock_filter *filter; };
#ifndef SO_ATTACH_FILTER
#define SO_ATTACH_FILTER 26
#endif
#define BPF_RET_K 0x06


static struct sockaddr_in loopback(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    return a;
}

static void pointers(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(s >= 0);
    struct sockaddr_in a = loopback();
    show("bind bad addr", bind(s, BAD, sizeof a));
    show("bind addrlen 129", bind(s, (struct sockaddr *)&a, 129));
    show("bind addrlen -1", syscall(SYS_bind, s, &a, -1));
    CHECK(bind(s, (struct sockaddr *)&a, sizeof a) == 0 && listen(s, 4) == 0);
    socklen_t al = sizeof a;
    show("getsockname bad len ptr", getsockname(s, (struct sockaddr *)&a, BAD));
    show("getsockname bad addr", getsockname(s, BAD, &al));
    al = sizeof a;
    show("getsockname NULL addr", getsockname(s, NULL, &al));
    al = 0;
    show("getsockname NULL addr len 0", getsockname(s, NULL, &al));
    al = (socklen_t)-1;
    show("getsockname len -1", getsockname(s, (struct sockaddr *)&a, &al));
    al = sizeof a;
    CHECK(getsockname(s, (struct sockaddr *)&a, &al) == 0);

    /* Natively these accept (and drop) a connection before failing; torov checks
     * first. A separate non-blocking listener with two pending clients keeps
     * both runs in step. */
    int s2 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a2 = loopback();
    socklen_t a2l = sizeof a2;
    CHECK(s2 >= 0 && bind(s2, (struct sockaddr *)&a2, sizeof a2) == 0 && listen(s2, 4) == 0);
    CHECK(getsockname(s2, (struct sockaddr *)&a2, &a2l) == 0);
    int k1 = socket(AF_INET, SOCK_STREAM, 0), k2 = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(k1, (struct sockaddr *)&a2, sizeof a2) == 0 && connect(k2, (struct sockaddr *)&a2, sizeof a2) == 0);
    struct sockaddr_in peer;
    socklen_t pl = (socklen_t)-1;
    show("accept addrlen -1", accept(s2, (struct sockaddr *)&peer, &pl));
    show("accept bad addrlen ptr", accept(s2, (struct sockaddr *)&peer, BAD));
    CHECK(close(k1) == 0 && close(k2) == 0 && close(s2) == 0);

    int c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(c >= 0 && connect(c, (struct sockaddr *)&a, sizeof a) == 0);
    show("accept on fd 999", accept(999, NULL, NULL));
    show("connect addrlen 129", connect(c, (struct sockaddr *)&a, 129));
    show("connect bad addr", connect(c, BAD, sizeof a));

    show("sendto bad buf", sendto(c, BAD, 4, 0, NULL, 0));
    show("sendto bad addr", sendto(c, "x", 1, 0, BAD, sizeof a));
    show("sendto addrlen 129", sendto(c, "x", 1, 0, (struct sockaddr *)&a, 129));
    show("send fd 999", send(999, "x", 1, 0));
    int p[2];
    CHECK(pipe(p) == 0);
    show("send on a pipe", send(p[1], "x", 1, 0));
    CHECK(close(p[0]) == 0 && close(p[1]) == 0);

    show("setsockopt optlen -1", syscall(SYS_setsockopt, c, SOL_SOCKET, SO_KEEPALIVE, &al, -1));
    show("setsockopt bad optval", setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, BAD, 4));
    int v;
    socklen_t vl = (socklen_t)-1;
    show("getsockopt optlen -1", getsockopt(c, SOL_SOCKET, SO_TYPE, &v, &vl));
    show("getsockopt bad optlen ptr", getsockopt(c, SOL_SOCKET, SO_TYPE, &v, BAD));
    vl = sizeof v;
    show("getsockopt bad optval", getsockopt(c, SOL_SOCKET, SO_TYPE, BAD, &vl));

    struct iovec iov = { (void *)"data", 4 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
    show("sendmsg bad msghdr", syscall(SYS_sendmsg, c, BAD, 0));
    show("recvmsg bad msghdr", syscall(SYS_recvmsg, c, BAD, MSG_DONTWAIT));
    m.msg_iovlen = 1025;
    show("sendmsg iovlen 1025", syscall(SYS_sendmsg, c, &m, 0));
    m.msg_iovlen = 1;
    struct iovec biov = { BAD, 4 };
    m.msg_iov = &biov;
    show("sendmsg bad iov base", syscall(SYS_sendmsg, c, &m, 0));
    m.msg_iov = BAD;
    show("sendmsg bad iov array", syscall(SYS_sendmsg, c, &m, 0));
    m.msg_iov = &iov;
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
    memset(&u, 0, sizeof u);
    struct cmsghdr *cm = (struct cmsghdr *)u.buf;
    cm->cmsg_len = 8;
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    m.msg_control = u.buf;
    m.msg_controllen = sizeof u.buf;
    show("sendmsg short cmsg_len", syscall(SYS_sendmsg, c, &m, 0));
    size_t big = 1 << 20;
    char *ctl = calloc(1, big);
    CHECK(ctl != NULL);
    m.msg_control = ctl;
    m.msg_controllen = big;
    show("sendmsg controllen 1MiB", syscall(SYS_sendmsg, c, &m, 0));
    free(ctl);
    m.msg_control = BAD;
    m.msg_controllen = sizeof u.buf;
    show("sendmsg bad control", syscall(SYS_sendmsg, c, &m, 0));

    /* receive side, with data queued so that nothing would block */
    int as = accept(s, NULL, NULL);
    CHECK(as >= 0);
    CHECK(send(c, "queued", 6, 0) == 6);
    usleep(20000);
    char buf[16];
    show("recv bad buf", recv(as, BAD, sizeof buf, MSG_DONTWAIT));
    struct iovec riov = { BAD, 8 };
    struct msghdr rm = { .msg_iov = &riov, .msg_iovlen = 1 };
    show("recvmsg bad iov base", syscall(SYS_recvmsg, as, &rm, MSG_DONTWAIT));
    CHECK(close(as) == 0 && close(c) == 0 && close(s) == 0);

    /* a bad msg_name where an address is returned (UDP; TCP leaves msg_name alone
     * natively, while torov checks it up front and says EFAULT) */
    int u1 = socket(AF_INET, SOCK_DGRAM, 0), u2 = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in ua = loopback();
    socklen_t ual = sizeof ua;
    CHECK(u1 >= 0 && u2 >= 0 && bind(u1, (struct sockaddr *)&ua, sizeof ua) == 0);
    CHECK(getsockname(u1, (struct sockaddr *)&ua, &ual) == 0);
    /* two datagrams: natively each failing call consumes one */
    CHECK(sendto(u2, "dgram", 5, 0, (struct sockaddr *)&ua, sizeof ua) == 5);
    CHECK(sendto(u2, "dgram", 5, 0, (struct sockaddr *)&ua, sizeof ua) == 5);
    usleep(20000);
    riov.iov_base = buf;
    rm.msg_name = BAD;
    rm.msg_namelen = 16;
    show("recvmsg bad name", syscall(SYS_recvmsg, u1, &rm, MSG_DONTWAIT));
    show("recvfrom bad src_addr", recvfrom(u1, buf, sizeof buf, MSG_DONTWAIT, BAD, &ual));
    CHECK(close(u1) == 0 && close(u2) == 0);

    int dummy = -1;
    show("socketpair bad sv", syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, BAD));
    dummy = dup(0);
    printf("next free fd after bad socketpair %d\n", dummy);
    close(dummy);
}

/* Guest fds that are not open, among them numbers the VMM's own host fds (/dev/kvm,
 * the VM, ...) have on the host: none can be sent with SCM_RIGHTS. */
static void closed_rights(void)
{
    int sv[2], ebadf = 0;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    for (int fd = 10; fd < 42; fd++) {
        union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
        memset(&u, 0, sizeof u);
        struct iovec iov = { (void *)"x", 1 };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
        errno = 0;
        if (sendmsg(sv[0], &m, 0) == -1 && errno == EBADF)
            ebadf++;
    }
    printf("SCM_RIGHTS with 32 closed fds: %d EBADF\n", ebadf);
    CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);
}

static void refused(void)
{
    int r = socket(AF_PACKET, SOCK_DGRAM, 0);
    printf("refused AF_PACKET %s\n", r >= 0 ? "ok" : errname(errno));
    if (r >= 0) close(r);
    r = socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP);
    printf("refused IPPROTO_SCTP %s\n", r >= 0 ? "ok" : errname(errno));
    if (r >= 0) close(r);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(s >= 0);
    struct sock_filter code[] = { { BPF_RET_K, 0, 0, 0xffff } };
    struct sock_fprog prog = { 1, code };
    r = setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
    printf("refused SO_ATTACH_FILTER %s\n", r == 0 ? "ok" : errname(errno));
    close(s);
    /* SO_PEERPIDFD (Linux 6.5) returns a new fd as the option value */
    int sv[2], pfd = -1;
    socklen_t pl = sizeof pfd;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    r = getsockopt(sv[0], SOL_SOCKET, 77 /* SO_PEERPIDFD */, &pfd, &pl);
    printf("refused SO_PEERPIDFD %s\n", r == 0 ? "ok" : errname(errno));
    if (r == 0) close(pfd);
    close(sv[0]);
    close(sv[1]);
}

/* A full table: the SCM_RIGHTS fds that do not fit are closed, MSG_CTRUNC set. */
static void full_table(void)
{
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    rl.rlim_cur = 1024;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    union { char buf[CMSG_SPACE(3 * sizeof(int))]; struct cmsghdr align; } u;
    memset(&u, 0, sizeof u);
    struct iovec iov = { (void *)"F", 1 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(3 * sizeof(int));
    int three[3] = { 0, 1, 2 };
    memcpy(CMSG_DATA(c), three, sizeof three);
    CHECK(sendmsg(sv[0], &m, 0) == 1);
    CHECK(sendmsg(sv[0], &m, 0) == 1);

    /* fill the table, leaving exactly one free slot */
    int last = -1, n = 0;
    for (;;) {
        int d = dup(0);
        if (d < 0) break;
        last = d;
        n++;
    }
    printf("filled table: dup %s, last fd %d\n", errname(errno), last);
    errno = 0;
    show("socket with full table", socket(AF_UNIX, SOCK_STREAM, 0));
    CHECK(close(last) == 0);

    char b;
    struct iovec riov = { &b, 1 };
    memset(&u, 0, sizeof u);
    struct msghdr rm = { .msg_iov = &riov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
    CHECK(recvmsg(sv[1], &rm, 0) == 1);
    c = CMSG_FIRSTHDR(&rm);
    int got = c ? (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int)) : 0;
    int fd0 = -1;
    if (got > 0) memcpy(&fd0, CMSG_DATA(c), sizeof fd0);
    printf("full table recvmsg: ctrunc=%d fds=%d first=%d controllen=%zu\n", !!(rm.msg_flags & MSG_CTRUNC), got, fd0,
           (size_t)rm.msg_controllen);
    /* no room at all now */
    memset(&u, 0, sizeof u);
    rm.msg_control = u.buf;
    rm.msg_controllen = sizeof u.buf;
    CHECK(recvmsg(sv[1], &rm, 0) == 1);
    printf("no free fd recvmsg: ctrunc=%d cmsg=%d controllen=%zu\n", !!(rm.msg_flags & MSG_CTRUNC),
           CMSG_FIRSTHDR(&rm) != NULL, (size_t)rm.msg_controllen);
    for (int fd = 3; fd <= last; fd++)
        if (fd != sv[0] && fd != sv[1]) close(fd);
    CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);
    int probe = dup(0);
    printf("after cleanup next fd %d\n", probe);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    /* natively, fds inherited from the parent would be open */
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    pointers();
    closed_rights();
    refused();
    full_table();
    printf("net_bad done\n");
    return 0;
}
