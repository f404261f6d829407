/* ident: process identity and system information. Prints sysname/machine
 * verbatim and only predicates ("pid>0") for everything else. */
#define _GNU_SOURCE
#include <sched.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "common.h"

int main(void)
{
    pid_t pid = getpid();
    CHECK(pid > 0);
    printf("pid>0\n");
    CHECK(getppid() >= 0);
    printf("ppid>=0\n");
    long tid = syscall(SYS_gettid);
    CHECK(tid > 0);
    printf("tid>0\n");
    printf("uid==euid %s\n", getuid() == geteuid() ? "yes" : "no");
    printf("gid==egid %s\n", getgid() == getegid() ? "yes" : "no");
    CHECK(getpgrp() >= 0);
    printf("pgrp>=0\n");

    struct utsname u;
    CHECK(uname(&u) == 0);
    printf("sysname=%s\n", u.sysname);
    printf("machine=%s\n", u.machine);
    printf("release nonempty %s\n", u.release[0] ? "yes" : "no");
    CHECK(!strcmp(u.sysname, "Linux") && !strcmp(u.machine, "x86_64"));

    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 0 && rl.rlim_cur <= rl.rlim_max);
    printf("getrlimit nofile cur>0\n");
    struct rlimit rl2;
    CHECK(prlimit(0, RLIMIT_NOFILE, NULL, &rl2) == 0);
    CHECK(rl2.rlim_cur == rl.rlim_cur && rl2.rlim_max == rl.rlim_max);
    printf("prlimit64 nofile matches\n");
    CHECK(getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur > 0);
    printf("getrlimit stack cur>0\n");

    unsigned char rnd[16] = {0};
    ssize_t n = getrandom(rnd, sizeof rnd, 0);
    CHECK(n == 16);
    int nonzero = 0;
    for (int i = 0; i < 16; i++)
        nonzero |= rnd[i];
    CHECK(nonzero);
    printf("getrandom 16 nonzero\n");

    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        printf("sched_getaffinity cpus>0 %s\n", CPU_COUNT(&set) > 0 ? "yes" : "no");
    else
        printf("sched_getaffinity %s\n", errname(errno));
    return 0;
}
