/* sockets: TCP and UDP over 127.0.0.1, a Unix socketpair and an abstract
 * Unix listening socket, all inside one single-threaded process. Calls are
 * ordered so nothing blocks: connect() to a listening socket completes
 * before accept(). Port numbers are never printed (they are ephemeral).
 * One line per check; exits 1 with a message on stderr on failure. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>
#include "common.h"

static struct sockaddr_in loopback(uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static void tcp(void)
{
    char buf[64];
    int one = 1, v = 0;
    socklen_t vl = sizeof v;

    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(ls >= 0);
    printf("tcp socket ok\n");
    CHECK(setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
    CHECK(getsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &v, &vl) == 0 && v != 0);
    printf("setsockopt SO_REUSEADDR ok\n");
    vl = sizeof v;
    CHECK(getsockopt(ls, SOL_SOCKET, SO_TYPE, &v, &vl) == 0 && v == SOCK_STREAM && vl == sizeof v);
    printf("getsockopt SO_TYPE=SOCK_STREAM\n");

    struct sockaddr_in addr = loopback(0);
    CHECK(bind(ls, (struct sockaddr *)&addr, sizeof addr) == 0);
    printf("bind 127.0.0.1:0 ok\n");
    CHECK(listen(ls, 4) == 0);
    printf("listen ok\n");
    socklen_t al = sizeof addr;
    CHECK(getsockname(ls, (struct sockaddr *)&addr, &al) == 0 && al == sizeof addr);
    CHECK(addr.sin_family == AF_INET && addr.sin_port != 0 && addr.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    printf("getsockname port!=0\n");

    /* A blocking connect to a listening socket completes without accept(). */
    int cs = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(cs >= 0);
    CHECK(connect(cs, (struct sockaddr *)&addr, sizeof addr) == 0);
    printf("connect ok\n");
    CHECK(setsockopt(cs, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
    printf("setsockopt TCP_NODELAY ok\n");

    struct sockaddr_in peer;
    socklen_t pl = sizeof peer;
    int as = accept4(ls, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC | SOCK_NONBLOCK);
    CHECK(as >= 0 && pl == sizeof peer && peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    CHECK(fcntl(as, F_GETFD) == FD_CLOEXEC && (fcntl(as, F_GETFL) & O_NONBLOCK));
    printf("accept4 ok\n");

    struct sockaddr_in pn;
    socklen_t pnl = sizeof pn;
    CHECK(getpeername(cs, (struct sockaddr *)&pn, &pnl) == 0 && pn.sin_port == addr.sin_port);
    printf("getpeername matches listener\n");

    /* nothing to read yet on the non-blocking accepted socket */
    errno = 0;
    CHECK(recv(as, buf, sizeof buf, 0) == -1 && (errno == EAGAIN || errno == EWOULDBLOCK));
    printf("recv empty EAGAIN\n");

    /* sendto/recvfrom */
    CHECK(sendto(cs, "ping", 4, 0, NULL, 0) == 4);
    memset(buf, 0, sizeof buf);
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n;
    do n = recvfrom(as, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    while (n == -1 && errno == EAGAIN);
    CHECK(n == 4 && !strcmp(buf, "ping"));
    printf("sendto/recvfrom \"%s\"\n", buf);

    /* sendmsg/recvmsg with two iovecs each way */
    struct iovec siov[2] = { { (void *)"po", 2 }, { (void *)"ng!", 3 } };
    struct msghdr sm = { .msg_iov = siov, .msg_iovlen = 2 };
    CHECK(sendmsg(as, &sm, 0) == 5);
    char b1[3] = {0}, b2[8] = {0};
    struct iovec riov[2] = { { b1, 2 }, { b2, sizeof b2 - 1 } };
    struct msghdr rm = { .msg_iov = riov, .msg_iovlen = 2 };
    n = recvmsg(cs, &rm, 0);
    CHECK(n == 5 && !strcmp(b1, "po") && !strcmp(b2, "ng!"));
    printf("sendmsg/recvmsg \"%s%s\"\n", b1, b2);

    /* MSG_PEEK leaves the data queued */
    CHECK(send(cs, "xyz", 3, 0) == 3);
    memset(buf, 0, sizeof buf);
    do n = recv(as, buf, sizeof buf, MSG_PEEK);
    while (n == -1 && errno == EAGAIN);
    CHECK(n == 3);
    memset(buf, 0, sizeof buf);
    CHECK(recv(as, buf, sizeof buf, 0) == 3 && !strcmp(buf, "xyz"));
    printf("recv MSG_PEEK ok\n");

    /* shutdown(SHUT_WR) -> the peer reads EOF */
    CHECK(shutdown(cs, SHUT_WR) == 0);
    do n = recv(as, buf, sizeof buf, 0);
    while (n == -1 && errno == EAGAIN);
    CHECK(n == 0);
    printf("shutdown -> eof\n");
    /* the other direction still works */
    CHECK(write(as, "late", 4) == 4);
    memset(buf, 0, sizeof buf);
    CHECK(read(cs, buf, sizeof buf) == 4 && !strcmp(buf, "late"));
    printf("half-close other way \"%s\"\n", buf);

    CHECK(close(as) == 0 && close(cs) == 0 && close(ls) == 0);

    /* connect to a closed port: ECONNREFUSED */
    int rs = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(rs >= 0);
    errno = 0;
    CHECK(connect(rs, (struct sockaddr *)&addr, sizeof addr) == -1);
    printf("connect closed port %s\n", errname(errno));
    CHECK(errno == ECONNREFUSED);
    close(rs);
}

static void udp(void)
{
    int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(a >= 0 && b >= 0);
    struct sockaddr_in aa = loopback(0), ba = loopback(0);
    CHECK(bind(a, (struct sockaddr *)&aa, sizeof aa) == 0);
    CHECK(bind(b, (struct sockaddr *)&ba, sizeof ba) == 0);
    socklen_t l = sizeof aa;
    CHECK(getsockname(a, (struct sockaddr *)&aa, &l) == 0);
    l = sizeof ba;
    CHECK(getsockname(b, (struct sockaddr *)&ba, &l) == 0);
    int v = 0;
    socklen_t vl = sizeof v;
    CHECK(getsockopt(a, SOL_SOCKET, SO_TYPE, &v, &vl) == 0 && v == SOCK_DGRAM);
    printf("udp sockets bound\n");

    CHECK(sendto(a, "datagram", 8, 0, (struct sockaddr *)&ba, sizeof ba) == 8);
    char buf[32] = {0};
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    CHECK(n == 8 && !strcmp(buf, "datagram") && from.sin_port == aa.sin_port);
    printf("udp sendto/recvfrom \"%s\" from sender\n", buf);

    CHECK(sendto(b, "reply", 5, 0, (struct sockaddr *)&from, fl) == 5);
    memset(buf, 0, sizeof buf);
    CHECK(recvfrom(a, buf, sizeof buf, 0, NULL, NULL) == 5 && !strcmp(buf, "reply"));
    printf("udp reply \"%s\"\n", buf);
    CHECK(close(a) == 0 && close(b) == 0);
}

static void unix_sockets(void)
{
    int sv[2];
    char buf[32];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK(write(sv[0], "pair", 4) == 4);
    memset(buf, 0, sizeof buf);
    CHECK(read(sv[1], buf, sizeof buf) == 4 && !strcmp(buf, "pair"));
    CHECK(write(sv[1], "back", 4) == 4);
    memset(buf, 0, sizeof buf);
    CHECK(read(sv[0], buf, sizeof buf) == 4 && !strcmp(buf, "back"));
    printf("socketpair \"pair\"/\"back\"\n");
    CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);

    /* abstract address: sun_path[0] == 0, the name is the following bytes */
    /* unique per run (parallel test runs share the network namespace) */
    char name[64];
    const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
    snprintf(name, sizeof name, "torov-test-sockets-%d-%02x%02x%02x%02x", (int)getpid(),
             rnd ? rnd[0] : 0, rnd ? rnd[1] : 0, rnd ? rnd[2] : 0, rnd ? rnd[3] : 0);
    size_t name_len = strlen(name);
    struct sockaddr_un ua;
    memset(&ua, 0, sizeof ua);
    ua.sun_family = AF_UNIX;
    memcpy(ua.sun_path + 1, name, name_len);
    socklen_t ul = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + name_len);

    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(ls >= 0);
    CHECK(bind(ls, (struct sockaddr *)&ua, ul) == 0);
    CHECK(listen(ls, 2) == 0);
    printf("unix abstract listen ok\n");
    int cs = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(cs >= 0);
    CHECK(connect(cs, (struct sockaddr *)&ua, ul) == 0);
    int as = accept(ls, NULL, NULL);
    CHECK(as >= 0);
    printf("unix abstract connect/accept ok\n");
    CHECK(send(cs, "abstract", 8, 0) == 8);
    memset(buf, 0, sizeof buf);
    CHECK(recv(as, buf, sizeof buf, 0) == 8 && !strcmp(buf, "abstract"));
    printf("unix abstract send/recv \"%s\"\n", buf);
    struct sockaddr_un got;
    socklen_t gl = sizeof got;
    CHECK(getsockname(ls, (struct sockaddr *)&got, &gl) == 0 && gl == ul &&
          got.sun_path[0] == 0 && !memcmp(got.sun_path + 1, name, name_len));
    printf("unix abstract getsockname ok\n");
    CHECK(close(as) == 0 && close(cs) == 0 && close(ls) == 0);
}

int main(void)
{
    tcp();
    udp();
    unix_sockets();
    printf("sockets done\n");
    return 0;
}
