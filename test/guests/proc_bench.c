/*
 * proc_bench MODE N [PROG]: N times, natively or in torov (npm run bench, "processes"):
 *   fork      fork, the child _exits, the parent waits
 *   exec      fork, the child execs PROG (a static hello), the parent waits
 *   spawn     posix_spawn of PROG, the parent waits
 * Exits 0, or 1 with a line on stderr if a child failed.
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void reap(pid_t pid)
{
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "proc_bench: a child failed\n");
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: proc_bench fork|exec|spawn N [PROG]\n"); return 2; }
    const char *mode = argv[1], *prog = argc > 3 ? argv[3] : "hello";
    long n = atol(argv[2]);
    char *cargv[] = { (char *)prog, NULL };
    for (long i = 0; i < n; i++) {
        if (!strcmp(mode, "spawn")) {
            pid_t pid;
            if (posix_spawn(&pid, prog, NULL, NULL, cargv, environ) != 0) pid = -1;
            reap(pid);
            continue;
        }
        pid_t pid = fork();
        if (pid == 0) {
            if (!strcmp(mode, "exec")) { execve(prog, cargv, environ); _exit(127); }
            _exit(0);
        }
        reap(pid);
    }
    return 0;
}
