/* time: clocks and sleeps. Prints "ok" lines only (never the values), so
 * the output is deterministic. Exits 1 with a message on stderr on failure. */
#define _GNU_SOURCE
#include <sys/time.h>
#include <time.h>
#include "common.h"

#define YEAR_2020 1577836800L /* 2020-01-01T00:00:00Z */

static long long ns(const struct timespec *t)
{
    return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

int main(void)
{
    struct timespec rt, m0, m1, m2, req = { 0, 10 * 1000 * 1000 };

    CHECK(clock_gettime(CLOCK_REALTIME, &rt) == 0);
    CHECK(rt.tv_sec > YEAR_2020 && rt.tv_nsec >= 0 && rt.tv_nsec < 1000000000L);
    printf("clock_gettime realtime ok\n");

    CHECK(clock_gettime(CLOCK_MONOTONIC, &m0) == 0);
    CHECK(m0.tv_nsec >= 0 && m0.tv_nsec < 1000000000L);
    printf("clock_gettime monotonic ok\n");

    struct timespec res;
    CHECK(clock_getres(CLOCK_MONOTONIC, &res) == 0 && ns(&res) > 0 && ns(&res) <= 1000000);
    printf("clock_getres monotonic ok\n");

    struct timeval tv;
    CHECK(gettimeofday(&tv, NULL) == 0);
    CHECK(tv.tv_sec > YEAR_2020 && tv.tv_usec >= 0 && tv.tv_usec < 1000000);
    CHECK(tv.tv_sec >= rt.tv_sec && tv.tv_sec - rt.tv_sec < 60);
    printf("gettimeofday ok\n");

    time_t t = time(NULL);
    CHECK(t > YEAR_2020 && t >= rt.tv_sec && t - rt.tv_sec < 60);
    printf("time ok\n");

    CHECK(nanosleep(&req, NULL) == 0);
    CHECK(clock_gettime(CLOCK_MONOTONIC, &m1) == 0);
    CHECK(ns(&m1) - ns(&m0) >= 10000000LL);
    printf("nanosleep 10ms ok\n");

    CHECK(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL) == 0);
    CHECK(clock_gettime(CLOCK_MONOTONIC, &m2) == 0);
    CHECK(ns(&m2) - ns(&m1) >= 10000000LL);
    printf("clock_nanosleep 10ms ok\n");

    /* absolute sleep until monotonic now + 10 ms */
    struct timespec until = m2;
    until.tv_nsec += 10 * 1000 * 1000;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    CHECK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == 0);
    struct timespec m3;
    CHECK(clock_gettime(CLOCK_MONOTONIC, &m3) == 0);
    CHECK(ns(&m3) >= ns(&until));
    printf("clock_nanosleep abstime ok\n");

    struct timespec rt2;
    CHECK(clock_gettime(CLOCK_REALTIME, &rt2) == 0 && rt2.tv_sec >= rt.tv_sec);
    printf("realtime after 2020 ok\n");
    return 0;
}
