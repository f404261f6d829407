/*
 * policy_args: does what its arguments say, one operation after another, and prints one
 * line per operation with the result ("ok ..." or the errno's name). The policy tests run
 * it under policies with argument rules (paths, fds, sockets, numeric comparisons) and in
 * learn mode.
 *
 *   read PATH         open O_RDONLY and read (prints the byte count)
 *   write PATH        open O_WRONLY|O_CREAT|O_TRUNC and write "x"
 *   append PATH       open O_WRONLY|O_APPEND
 *   readat DIR NAME   open DIR (O_DIRECTORY), then openat(dirfd, NAME, O_RDONLY)
 *   stat PATH | lstat PATH | unlink PATH | mkdir PATH | rmdir PATH | chdir PATH
 *   rename OLD NEW | symlink TARGET LINK | access PATH | readlink PATH
 *   fdwrite N         write(N, "fd\n", 3)
 *   socket DOMAIN TYPE          (domain: unix inet inet6; type: stream dgram)
 *   bind ADDR | connect ADDR | sendto ADDR | sendmsg ADDR
 *                     ADDR: IPV4:PORT (TCP for bind/connect, UDP for send*), or unix:/path
 *   ioctl FD REQ      ioctl(FD, REQ, buf) (REQ in hex or decimal)
 *   sleep S           nanosleep for S seconds (learn mode cut short by --timeout)
 */
#include "common.h"
#include <stddef.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>

static void result2(const char *what, const char *a, const char *b, long r)
{
    printf("%s %s%s%s: ", what, a, *b ? " " : "", b);
    if (r < 0) printf("%s\n", errname(errno));
    else printf("ok %ld\n", r);
}
#define result(what, a, r) result2(what, a, "", r)

/* Fills *ss from "unix:/path" or "A.B.C.D:PORT"; returns its length, or 0. */
static socklen_t parse_addr(const char *s, struct sockaddr_storage *ss, int *family)
{
    memset(ss, 0, sizeof *ss);
    if (strncmp(s, "unix:", 5) == 0) {
        struct sockaddr_un *u = (struct sockaddr_un *)ss;
        u->sun_family = AF_UNIX;
        strncpy(u->sun_path, s + 5, sizeof u->sun_path - 1);
        *family = AF_UNIX;
        return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(u->sun_path) + 1);
    }
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof host) return 0;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    in->sin_family = AF_INET;
    in->sin_port = htons((unsigned short)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &in->sin_addr) != 1) return 0;
    *family = AF_INET;
    return sizeof *in;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    for (int i = 1; i < argc; i++) {
        const char *op = argv[i];
        const char *a = i + 1 < argc ? argv[i + 1] : "";
        const char *b = i + 2 < argc ? argv[i + 2] : "";
        errno = 0;
        if (!strcmp(op, "read")) {
            int fd = open(a, O_RDONLY);
            char buf[256];
            long r = fd < 0 ? -1 : read(fd, buf, sizeof buf);
            result(op, a, r);
            if (fd >= 0) close(fd);
            i += 1;
        } else if (!strcmp(op, "write") || !strcmp(op, "append")) {
            int fd = open(a, !strcmp(op, "write") ? O_WRONLY | O_CREAT | O_TRUNC : O_WRONLY | O_APPEND, 0644);
            long r = fd < 0 ? -1 : write(fd, "x", 1);
            result(op, a, r);
            if (fd >= 0) close(fd);
            i += 1;
        } else if (!strcmp(op, "readat")) {
            int d = open(a, O_RDONLY | O_DIRECTORY);
            int fd = d < 0 ? -1 : openat(d, b, O_RDONLY);
            char buf[256];
            long r = fd < 0 ? -1 : read(fd, buf, sizeof buf);
            result2(op, a, b, r);
            if (fd >= 0) close(fd);
            if (d >= 0) close(d);
            i += 2;
        } else if (!strcmp(op, "stat") || !strcmp(op, "lstat")) {
            struct stat st;
            result(op, a, !strcmp(op, "stat") ? stat(a, &st) : lstat(a, &st));
            i += 1;
        } else if (!strcmp(op, "unlink")) { result(op, a, unlink(a)); i += 1; }
        else if (!strcmp(op, "mkdir")) { result(op, a, mkdir(a, 0755)); i += 1; }
        else if (!strcmp(op, "rmdir")) { result(op, a, rmdir(a)); i += 1; }
        else if (!strcmp(op, "chdir")) { result(op, a, chdir(a)); i += 1; }
        else if (!strcmp(op, "access")) { result(op, a, access(a, R_OK)); i += 1; }
        else if (!strcmp(op, "readlink")) { char t[256]; result(op, a, readlink(a, t, sizeof t)); i += 1; }
        else if (!strcmp(op, "rename")) { result2(op, a, b, rename(a, b)); i += 2; }
        else if (!strcmp(op, "symlink")) { result2(op, a, b, symlink(a, b)); i += 2; }
        else if (!strcmp(op, "fdwrite")) { result(op, a, write(atoi(a), "fd\n", 3)); i += 1; }
        else if (!strcmp(op, "socket")) {
            int d = !strcmp(a, "unix") ? AF_UNIX : !strcmp(a, "inet6") ? AF_INET6 : AF_INET;
            int t = !strcmp(b, "dgram") ? SOCK_DGRAM : SOCK_STREAM;
            int s = socket(d, t | SOCK_CLOEXEC, 0);
            result2(op, a, b, s);
            if (s >= 0) close(s);
            i += 2;
        } else if (!strcmp(op, "bind") || !strcmp(op, "connect") || !strcmp(op, "sendto") || !strcmp(op, "sendmsg")) {
            struct sockaddr_storage ss;
            int family = 0;
            socklen_t len = parse_addr(a, &ss, &family);
            if (!len) { printf("%s %s: bad address\n", op, a); return 2; }
            int dgram = !strcmp(op, "sendto") || !strcmp(op, "sendmsg");
            int s = socket(family, dgram ? SOCK_DGRAM : SOCK_STREAM, 0);
            long r;
            if (s < 0) r = -1;
            else if (!strcmp(op, "bind")) r = bind(s, (struct sockaddr *)&ss, len);
            else if (!strcmp(op, "connect")) r = connect(s, (struct sockaddr *)&ss, len);
            else if (!strcmp(op, "sendto")) r = sendto(s, "x", 1, 0, (struct sockaddr *)&ss, len);
            else {
                struct iovec iov = { (void *)"x", 1 };
                struct msghdr m = { .msg_name = &ss, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1 };
                r = sendmsg(s, &m, 0);
            }
            result(op, a, r);
            if (s >= 0) close(s);
            i += 1;
        } else if (!strcmp(op, "ioctl")) {
            char buf[64];
            result2(op, a, b, ioctl(atoi(a), strtoul(b, NULL, 0), buf));
            i += 2;
        } else if (!strcmp(op, "sleep")) {
            struct timespec ts = { atoi(a), 0 };
            result(op, a, nanosleep(&ts, NULL));
            i += 1;
        } else {
            fprintf(stderr, "policy_args: unknown operation %s\n", op);
            return 2;
        }
    }
    return 0;
}
