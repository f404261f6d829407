/* tcp_echo: a TCP echo server and a client that times round trips (the benchmark's TCP test).
 *   tcp_echo server PORT        accept one connection on 127.0.0.1:PORT, echo until EOF
 *   tcp_echo accept PORT        accept one connection, then exit at once (a blocked accept)
 *   tcp_echo client PORT N SIZE connect, then N round trips of SIZE bytes; prints the
 *                               median and the 90th percentile round trip in ns */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

static long now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static int full(int fd, char *buf, long len, int writing)
{
    for (long done = 0; done < len;) {
        long r = writing ? write(fd, buf + done, len - done) : read(fd, buf + done, len - done);
        if (r <= 0) return -1;
        done += r;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: tcp_echo server|accept|client PORT [N SIZE]\n"); return 2; }
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int one = 1;
    if (!strcmp(argv[1], "server") || !strcmp(argv[1], "accept")) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 1)) { perror("tcp_echo: listen"); return 1; }
        int c = accept(s, NULL, NULL);
        if (c < 0) { perror("tcp_echo: accept"); return 1; }
        if (!strcmp(argv[1], "accept")) return 0;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char buf[4096];
        for (;;) {
            long r = read(c, buf, sizeof buf);
            if (r <= 0) return r < 0;
            if (full(c, buf, r, 1)) return 1;
        }
    }
    long n = argc > 3 ? atol(argv[3]) : 1000, size = argc > 4 ? atol(argv[4]) : 16;
    if (size < 1 || size > 4096 || n < 1) return 2;
    int s = -1;
    for (int tries = 0; tries < 2000; tries++) {      /* the server may still be starting */
        s = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) break;
        close(s);
        s = -1;
        usleep(5000);
    }
    if (s < 0) { perror("tcp_echo: connect"); return 1; }
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char buf[4096];
    memset(buf, 'x', sizeof buf);
    long *rtt = malloc(n * sizeof *rtt);
    for (long i = 0; i < n; i++) {
        long t0 = now();
        if (full(s, buf, size, 1) || full(s, buf, size, 0)) { perror("tcp_echo: echo"); return 1; }
        rtt[i] = now() - t0;
    }
    close(s);
    qsort(rtt, n, sizeof *rtt, cmp);
    printf("median %ld p90 %ld\n", rtt[n / 2], rtt[n * 9 / 10]);
    return 0;
}
