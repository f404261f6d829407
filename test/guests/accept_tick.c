/* accept_tick: one thread blocked in accept() while another prints a counter every 10 ms.
 *   accept_tick PORT [TICKS]
 * Listens on 127.0.0.1:PORT (0: a free port) and writes "accept_tick: listening on
 * 127.0.0.1:N" to stderr. A second thread blocks in accept(). The main thread prints
 * "tick 1" .. "tick TICKS" (default 10), one every 10 ms, then goes on counting silently.
 * The client (the test) connects once it has seen the last tick line and sends a line; the
 * accepting thread prints it, answers "ok\n", and the program ends with status 0 after
 * checking that the ticker kept counting while accept() was blocked. Nothing printed on
 * stdout depends on timing. Gives up (exit 1) after 30 s without a client.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

static int lsock;
static atomic_int accepted, ticks;
static int ticks_at_accept;
static char line[128];

static void *acceptor(void *arg)
{
    (void)arg;
    int c = accept(lsock, NULL, NULL);
    if (c < 0) FAIL("accept");
    ticks_at_accept = atomic_load(&ticks);
    size_t n = 0;
    while (n < sizeof line - 1) {
        ssize_t r = read(c, line + n, 1);
        if (r <= 0 || line[n] == '\n') break;
        n++;
    }
    line[n] = 0;
    CHECK(write(c, "ok\n", 3) == 3);
    close(c);
    atomic_store(&accepted, 1);
    return NULL;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0, want = argc > 2 ? atoi(argv[2]) : 10;
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    int one = 1;
    lsock = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(lsock >= 0);
    setsockopt(lsock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    CHECK(bind(lsock, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(lsock, 4) == 0);
    CHECK(getsockname(lsock, (struct sockaddr *)&a, &al) == 0);
    fprintf(stderr, "accept_tick: listening on 127.0.0.1:%d\n", ntohs(a.sin_port));

    pthread_t t;
    int e = pthread_create(&t, NULL, acceptor, NULL);
    if (e) { errno = e; FAIL("pthread_create"); }

    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!atomic_load(&accepted)) {
        next.tv_nsec += 10 * 1000000L;
        if (next.tv_nsec >= 1000000000L) { next.tv_sec++; next.tv_nsec -= 1000000000L; }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {}
        int n = atomic_fetch_add(&ticks, 1) + 1;
        if (n <= want) printf("tick %d\n", n);
        if (n >= 3000) FAIL("no client after 30 s");
    }
    pthread_join(t, NULL);
    printf("accepted a client, it sent \"%s\"\n", line);
    printf("the ticker counted all %d ticks while accept() was blocked: %s\n", want, ticks_at_accept >= want ? "yes" : "no");
    return 0;
}
