/* signals: installs handlers and masks without ever raising a signal
 * (torov records handlers but does not deliver signals yet). Prints "ok"
 * lines. Exits 1 with a message on stderr on failure. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include "common.h"

static volatile sig_atomic_t got;

static void on_sigint(int sig)
{
    got = sig;
}

static char altstack[64 * 1024];

int main(void)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGTERM);
    sa.sa_flags = SA_RESTART | SA_ONSTACK;
    CHECK(sigaction(SIGINT, &sa, NULL) == 0);
    printf("sigaction SIGINT ok\n");
    CHECK(sigaction(SIGINT, NULL, &old) == 0);
    CHECK(old.sa_handler == on_sigint && (old.sa_flags & SA_RESTART) && sigismember(&old.sa_mask, SIGTERM));
    printf("sigaction readback ok\n");
    CHECK(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
    printf("signal SIGPIPE ignore ok\n");
    errno = 0;
    CHECK(sigaction(SIGKILL, &sa, NULL) == -1 && errno == EINVAL);
    printf("sigaction SIGKILL EINVAL\n");

    sigset_t set, cur;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGINT);
    CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);
    CHECK(sigprocmask(SIG_SETMASK, NULL, &cur) == 0);
    CHECK(sigismember(&cur, SIGUSR1) && sigismember(&cur, SIGINT) && !sigismember(&cur, SIGUSR2));
    printf("sigprocmask block ok\n");
    CHECK(sigprocmask(SIG_UNBLOCK, &set, NULL) == 0);
    CHECK(sigprocmask(SIG_SETMASK, NULL, &cur) == 0);
    CHECK(!sigismember(&cur, SIGUSR1) && !sigismember(&cur, SIGINT));
    printf("sigprocmask unblock ok\n");

    sigset_t pending;
    CHECK(sigpending(&pending) == 0 && !sigismember(&pending, SIGINT));
    printf("sigpending none ok\n");

    stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0 }, oss;
    CHECK(sigaltstack(&ss, NULL) == 0);
    CHECK(sigaltstack(NULL, &oss) == 0);
    CHECK(oss.ss_sp == altstack && oss.ss_size == sizeof altstack && !(oss.ss_flags & SS_DISABLE));
    printf("sigaltstack ok\n");

    CHECK(got == 0);
    printf("ok\n");
    return 0;
}
