/* oci_probe: the OCI runtime's test program (test/integration/oci.test.ts), packed into a
 * test image by test/oci/make-image.js and run by containerd through bin/torov-oci.
 *   oci_probe args A B ...   print each argument on a line of its own, in brackets
 *   oci_probe sleep          say "sleeping", then wait for a signal (SIGTERM ends it: 143)
 *   oci_probe pause          a pod's pause program: say "waiting", wait for SIGTERM or
 *                            SIGINT, say "stopping on SIGTERM" (or SIGINT) and exit 0
 *   oci_probe serve PORT     listen on 0.0.0.0:PORT; answer each client with one line
 *   oci_probe denied         call get_mempolicy, which Docker's default seccomp profile
 *                            refuses (EPERM) and torov's default policy allows, and
 *                            print what it returned
 *   oci_probe env            print the environment, the working directory and the ids
 *   oci_probe uname          print the host name (uname's nodename)
 *   oci_probe tick           print 0, 1, 2, ... one a line, every 10 ms, for ever (a
 *                            paused container's count stops, and goes on at resume)
 *   oci_probe fetch PORT     connect to 127.0.0.1:PORT and print what the server sends
 *                            (an exec'd process reaching its container's server)
 *   oci_probe write FILE TEXT  write TEXT and a newline to FILE (created or truncated)
 *   oci_probe cat FILE       print FILE
 *   oci_probe exit N         exit with status N */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

extern char **environ;

static volatile sig_atomic_t stop_signal;
static void on_stop(int sig) { stop_signal = sig; }

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *mode = argc > 1 ? argv[1] : "args";
    if (strcmp(mode, "args") == 0) {
        for (int i = 2; i < argc; i++) printf("[%s]\n", argv[i]);
        return 0;
    }
    if (strcmp(mode, "sleep") == 0) {
        printf("sleeping\n");
        for (;;) pause();
    }
    if (strcmp(mode, "pause") == 0) {
        /* Blocked until sigsuspend, so that a signal between the test and the wait is not lost. */
        sigset_t stops, old;
        sigemptyset(&stops);
        sigaddset(&stops, SIGTERM);
        sigaddset(&stops, SIGINT);
        sigprocmask(SIG_BLOCK, &stops, &old);
        struct sigaction sa = { .sa_handler = on_stop };
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        printf("waiting\n");
        while (!stop_signal) sigsuspend(&old);
        printf("stopping on %s\n", stop_signal == SIGTERM ? "SIGTERM" : "SIGINT");
        return 0;
    }
    if (strcmp(mode, "tick") == 0) {
        for (unsigned long i = 0;; i++) {
            printf("%lu\n", i);
            usleep(10000);
        }
    }
    if (strcmp(mode, "serve") == 0 && argc > 2) {
        int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
        if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 8) < 0) { perror("oci_probe: listen"); return 1; }
        printf("listening on %s\n", argv[2]);
        for (;;) {
            int c = accept(s, NULL, NULL);
            if (c < 0) continue;
            static const char msg[] = "hello from oci_probe\n";
            if (write(c, msg, sizeof msg - 1) < 0) perror("oci_probe: write");
            close(c);
        }
    }
    if (strcmp(mode, "denied") == 0) {
        int policy = -1;
        long r = syscall(SYS_get_mempolicy, &policy, NULL, 0UL, NULL, 0UL);
        printf("get_mempolicy: %s\n", r == 0 ? "ok" : strerror(errno));
        return 0;
    }
    if (strcmp(mode, "env") == 0) {
        for (char **e = environ; *e; e++) printf("env %s\n", *e);
        char cwd[256];
        printf("cwd %s\n", getcwd(cwd, sizeof cwd) ? cwd : strerror(errno));
        printf("uid %d gid %d\n", (int)getuid(), (int)getgid());
        return 0;
    }
    if (strcmp(mode, "uname") == 0) {
        struct utsname u;
        if (uname(&u) < 0) { perror("oci_probe: uname"); return 1; }
        printf("nodename %s\n", u.nodename);
        return 0;
    }
    if (strcmp(mode, "fetch") == 0 && argc > 2) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0) { perror("oci_probe: connect"); return 1; }
        char buf[512];
        ssize_t n;
        while ((n = read(s, buf, sizeof buf)) > 0) fwrite(buf, 1, (size_t)n, stdout);
        return n < 0 ? 1 : 0;
    }
    if (strcmp(mode, "write") == 0 && argc > 3) {
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dprintf(fd, "%s\n", argv[3]) < 0 || close(fd) < 0) { perror("oci_probe: write"); return 1; }
        return 0;
    }
    if (strcmp(mode, "cat") == 0 && argc > 2) {
        FILE *f = fopen(argv[2], "r");
        if (!f) { perror("oci_probe: cat"); return 1; }
        int c;
        while ((c = getc(f)) != EOF) putchar(c);
        fclose(f);
        return 0;
    }
    if (strcmp(mode, "exit") == 0 && argc > 2) return atoi(argv[2]);
    fprintf(stderr, "oci_probe: unknown mode %s\n", mode);
    return 2;
}
