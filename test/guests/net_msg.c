/* net_msg: sendmsg/recvmsg beyond plain data, in one process. SCM_RIGHTS
 * over a Unix socketpair (a pipe's read end sent to ourselves and read
 * through; two fds in one message; MSG_CMSG_CLOEXEC; a bad fd is EBADF; a
 * control buffer too small gives MSG_CTRUNC), msg_name/msg_namelen on
 * datagrams, sendmmsg/recvmmsg (MSG_WAITFORONE), getsockopt length
 * write-back. Fd numbers printed are the guest's (lowest free, like Linux),
 * so they match a native run. One line per check. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

/* Sends `data` with an SCM_RIGHTS message carrying n fds. Returns sendmsg's result. */
static ssize_t send_fds(int s, const char *data, const int *fds, int n)
{
    union { char buf[CMSG_SPACE(4 * sizeof(int))]; struct cmsghdr align; } u;
    memset(&u, 0, sizeof u);
    struct iovec iov = { (void *)data, strlen(data) };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = CMSG_SPACE(n * sizeof(int)) };
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(n * sizeof(int));
    memcpy(CMSG_DATA(c), fds, n * sizeof(int));
    return sendmsg(s, &m, 0);
}

/* Receives into buf with a control buffer of ctl_size bytes; stores the fds received. */
static ssize_t recv_fds(int s, char *buf, size_t len, size_t ctl_size, int flags, int *fds, int *nfds, struct msghdr *out)
{
    union { char buf[256]; struct cmsghdr align; } u;
    memset(&u, 0, sizeof u);
    struct iovec iov = { buf, len };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = ctl_size };
    ssize_t r = recvmsg(s, &m, flags);
    *nfds = 0;
    if (r < 0)
        return r;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            memcpy(fds + *nfds, CMSG_DATA(c), n * sizeof(int));
            *nfds += n;
        }
    }
    if (out)
        *out = m;
    return r;
}

static void rights(void)
{
    int sv[2], p[2], fds[8], n;
    char buf[32];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(pipe(p) == 0);
    printf("socketpair fds %d %d, pipe fds %d %d\n", sv[0], sv[1], p[0], p[1]);

    /* the read end travels over the socket; the original is closed */
    CHECK(send_fds(sv[0], "A", &p[0], 1) == 1);
    CHECK(close(p[0]) == 0);
    memset(buf, 0, sizeof buf);
    struct msghdr m;
    CHECK(recv_fds(sv[1], buf, sizeof buf, 256, 0, fds, &n, &m) == 1 && n == 1);
    CHECK(!(m.msg_flags & MSG_CTRUNC) && m.msg_controllen == CMSG_SPACE(sizeof(int)));
    printf("SCM_RIGHTS received 1 fd: %d (data \"%s\", controllen=%zu)\n", fds[0], buf, (size_t)m.msg_controllen);
    CHECK(fcntl(fds[0], F_GETFD) == 0);
    CHECK(write(p[1], "through", 7) == 7);
    memset(buf, 0, sizeof buf);
    CHECK(read(fds[0], buf, sizeof buf) == 7);
    printf("read through received fd \"%s\"\n", buf);
    int rd = fds[0];

    /* two fds in one message, received close-on-exec */
    int two[2] = { rd, p[1] };
    CHECK(send_fds(sv[1], "B", two, 2) == 1);
    CHECK(recv_fds(sv[0], buf, sizeof buf, 256, MSG_CMSG_CLOEXEC, fds, &n, NULL) == 1 && n == 2);
    CHECK(fcntl(fds[0], F_GETFD) == FD_CLOEXEC && fcntl(fds[1], F_GETFD) == FD_CLOEXEC);
    printf("SCM_RIGHTS 2 fds: %d %d, MSG_CMSG_CLOEXEC ok\n", fds[0], fds[1]);
    /* the received write end writes into the same pipe */
    CHECK(write(fds[1], "dup", 3) == 3);
    memset(buf, 0, sizeof buf);
    CHECK(read(rd, buf, sizeof buf) == 3);
    printf("pipe through received write end \"%s\"\n", buf);
    CHECK(close(fds[0]) == 0 && close(fds[1]) == 0);

    /* an fd that is not open: EBADF, nothing sent */
    int bad = 999;
    errno = 0;
    CHECK(send_fds(sv[0], "C", &bad, 1) == -1);
    printf("SCM_RIGHTS bad fd %s\n", errname(errno));

    /* control buffer with no room for the fd: MSG_CTRUNC, no fd installed */
    CHECK(send_fds(sv[0], "D", &rd, 1) == 1);
    CHECK(recv_fds(sv[1], buf, sizeof buf, sizeof(struct cmsghdr), 0, fds, &n, &m) == 1);
    printf("small control: ctrunc=%d nfds=%d controllen=%zu\n", !!(m.msg_flags & MSG_CTRUNC), n, (size_t)m.msg_controllen);
    /* the next fd is still the lowest free one: nothing leaked into the table */
    int probe = dup(0);
    printf("next free fd %d\n", probe);
    close(probe);

    /* no control buffer at all */
    CHECK(send_fds(sv[0], "E", &rd, 1) == 1);
    struct iovec iov = { buf, sizeof buf };
    struct msghdr m2 = { .msg_iov = &iov, .msg_iovlen = 1 };
    CHECK(recvmsg(sv[1], &m2, 0) == 1);
    printf("no control: ctrunc=%d controllen=%zu\n", !!(m2.msg_flags & MSG_CTRUNC), (size_t)m2.msg_controllen);

    /* SO_PASSPIDFD (Linux 6.5): the kernel adds an SCM_PIDFD message carrying a new
     * pidfd, which must land in the guest's fd table like SCM_RIGHTS fds */
    int one = 1;
    if (setsockopt(sv[1], SOL_SOCKET, 76 /* SO_PASSPIDFD */, &one, sizeof one) == 0) {
        CHECK(send(sv[0], "P", 1, 0) == 1);
        union { char buf[256]; struct cmsghdr align; } u;
        struct msghdr pm = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
        CHECK(recvmsg(sv[1], &pm, 0) == 1);
        int pidfd = -1;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&pm); c; c = CMSG_NXTHDR(&pm, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == 4 /* SCM_PIDFD */)
                memcpy(&pidfd, CMSG_DATA(c), sizeof pidfd);
        printf("SCM_PIDFD fd %d valid=%d\n", pidfd, pidfd >= 0 && fcntl(pidfd, F_GETFD) >= 0);
        CHECK(close(pidfd) == 0);
    } else {
        printf("SO_PASSPIDFD not supported\n");
    }

    CHECK(close(rd) == 0 && close(p[1]) == 0 && close(sv[0]) == 0 && close(sv[1]) == 0);
}

static void names(void)
{
    /* unnamed socketpair datagrams: msg_namelen comes back 0 */
    int sv[2];
    char buf[16];
    CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
    CHECK(send(sv[0], "dg", 2, 0) == 2);
    struct sockaddr_un from;
    memset(&from, 0xaa, sizeof from);
    struct iovec iov = { buf, sizeof buf };
    struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1 };
    CHECK(recvmsg(sv[1], &m, 0) == 2);
    printf("unix dgram recvmsg namelen=%u\n", (unsigned)m.msg_namelen);
    struct sockaddr_un me;
    socklen_t ml = sizeof me;
    CHECK(getsockname(sv[0], (struct sockaddr *)&me, &ml) == 0);
    printf("unnamed getsockname len=%u family=%d\n", (unsigned)ml, me.sun_family);
    /* a length shorter than the address: truncated, the full length comes back */
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(u >= 0 && bind(u, (struct sockaddr *)&sa, sizeof sa) == 0);
    unsigned char small[4] = { 0 };
    socklen_t sl = sizeof small;
    CHECK(getsockname(u, (struct sockaddr *)small, &sl) == 0);
    printf("short getsockname len=%u family=%d\n", (unsigned)sl, small[0] | small[1] << 8);

    /* UDP recvmsg with a name: the sender's address */
    int v = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(v >= 0);
    sl = sizeof sa;
    CHECK(getsockname(u, (struct sockaddr *)&sa, &sl) == 0);
    CHECK(sendto(v, "udp", 3, 0, (struct sockaddr *)&sa, sizeof sa) == 3);
    struct sockaddr_in src;
    struct msghdr m3 = { .msg_name = &src, .msg_namelen = sizeof src, .msg_iov = &iov, .msg_iovlen = 1 };
    CHECK(recvmsg(u, &m3, 0) == 3);
    printf("udp recvmsg namelen=%u family=%d loopback=%d\n", (unsigned)m3.msg_namelen, src.sin_family,
           src.sin_addr.s_addr == htonl(INADDR_LOOPBACK));

    /* getsockopt: an optlen larger than an int comes back as sizeof(int) */
    int val[2] = { 0, 0 };
    socklen_t vl = sizeof val;
    CHECK(getsockopt(u, SOL_SOCKET, SO_TYPE, val, &vl) == 0);
    printf("getsockopt SO_TYPE=%d optlen=%u\n", val[0], (unsigned)vl);
    CHECK(close(u) == 0 && close(v) == 0 && close(sv[0]) == 0 && close(sv[1]) == 0);
}

static void mmsg(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
    const char *words[3] = { "one", "three", "fifteen" };
    struct iovec siov[3];
    struct mmsghdr sm[3];
    memset(sm, 0, sizeof sm);
    for (int i = 0; i < 3; i++) {
        siov[i].iov_base = (void *)words[i];
        siov[i].iov_len = strlen(words[i]);
        sm[i].msg_hdr.msg_iov = &siov[i];
        sm[i].msg_hdr.msg_iovlen = 1;
    }
    CHECK(sendmmsg(sv[0], sm, 3, 0) == 3);
    printf("sendmmsg 3: %u %u %u\n", sm[0].msg_len, sm[1].msg_len, sm[2].msg_len);

    char bufs[4][16];
    struct iovec riov[4];
    struct mmsghdr rm[4];
    memset(rm, 0, sizeof rm);
    memset(bufs, 0, sizeof bufs);
    for (int i = 0; i < 4; i++) {
        riov[i].iov_base = bufs[i];
        riov[i].iov_len = sizeof bufs[i] - 1;
        rm[i].msg_hdr.msg_iov = &riov[i];
        rm[i].msg_hdr.msg_iovlen = 1;
    }
    /* MSG_WAITFORONE: blocks for the first, then takes what is there */
    int n = recvmmsg(sv[1], rm, 4, MSG_WAITFORONE, NULL);
    CHECK(n == 3);
    printf("recvmmsg %d: %s(%u) %s(%u) %s(%u)\n", n, bufs[0], rm[0].msg_len, bufs[1], rm[1].msg_len, bufs[2], rm[2].msg_len);
    errno = 0;
    CHECK(recvmmsg(sv[1], rm, 4, MSG_DONTWAIT, NULL) == -1);
    printf("recvmmsg empty %s\n", errname(errno));
    struct timespec bad = { 0, 1000000000L };
    errno = 0;
    CHECK(recvmmsg(sv[1], rm, 4, MSG_DONTWAIT, &bad) == -1);
    printf("recvmmsg bad timeout %s\n", errname(errno));
    CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    rights();
    names();
    mmsg();
    printf("net_msg done\n");
    return 0;
}
