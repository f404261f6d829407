/* vdso_clock: prints CLOCK_REALTIME in milliseconds (read through the vDSO when torov
 * provides one), and whether AT_SYSINFO_EHDR was given ("vdso yes" / "vdso no").
 * With an argument N: makes N clock_gettime(CLOCK_MONOTONIC) calls first and prints
 * their average cost in ns (the benchmark's loop). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <time.h>

int main(int argc, char **argv)
{
    struct timespec a, b, t;
    if (argc > 1) {
        long n = atol(argv[1]);
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long i = 0; i < n; i++) clock_gettime(CLOCK_MONOTONIC, &t);
        clock_gettime(CLOCK_MONOTONIC, &b);
        long long ns = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
        printf("per call %lld ns\n", n > 0 ? ns / n : 0);
    }
    if (clock_gettime(CLOCK_REALTIME, &t) != 0) { perror("clock_gettime"); return 1; }
    printf("realtime_ms %lld\n", (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000);
    printf("vdso %s\n", getauxval(AT_SYSINFO_EHDR) ? "yes" : "no");
    return 0;
}
