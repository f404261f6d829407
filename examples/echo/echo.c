/* echo: a TCP echo server on 127.0.0.1, the ToroV socket example.
 * Usage: echo [port [max_clients]]
 *   port         default 8080; 0 picks a free port (printed on startup)
 *   max_clients  exit 0 after serving this many clients (default: forever)
 * Serves one client at a time: echoes everything back until the client
 * closes its side, then accepts the next one.
 * Prints "echo: listening on 127.0.0.1:<port>" once ready (line-buffered,
 * so a test can wait for it on a pipe). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int fail(const char *what)
{
    fprintf(stderr, "echo: %s: %s\n", what, strerror(errno));
    return 1;
}

/* Echo until EOF. Returns bytes echoed, or -1 on a socket error. */
static long serve(int c)
{
    char buf[4096];
    long total = 0;
    for (;;) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n == 0)
            return total;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(c, buf + off, (size_t)(n - off));
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                return -1;
            }
            off += w;
        }
        total += n;
    }
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    long max_clients = argc > 2 ? atol(argv[2]) : 0;
    setvbuf(stdout, NULL, _IOLBF, 0);

    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return fail("socket");
    int one = 1;
    if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        return fail("setsockopt SO_REUSEADDR");
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&addr, sizeof addr) != 0)
        return fail("bind");
    if (listen(s, 16) != 0)
        return fail("listen");
    socklen_t len = sizeof addr;
    if (getsockname(s, (struct sockaddr *)&addr, &len) != 0)
        return fail("getsockname");
    printf("echo: listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));

    for (long served = 0; max_clients == 0 || served < max_clients; served++) {
        int c = accept(s, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                served--;
                continue;
            }
            return fail("accept");
        }
        printf("echo: client %ld connected\n", served + 1);
        long n = serve(c);
        if (n < 0)
            printf("echo: client %ld error: %s\n", served + 1, strerror(errno));
        else
            printf("echo: client %ld done, %ld bytes echoed\n", served + 1, n);
        close(c);
    }
    close(s);
    printf("echo: served %ld clients, bye\n", max_clients);
    return 0;
}
