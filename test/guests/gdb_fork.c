/* gdb_fork: the debugger test's forking program (-O0 -g). The parent and a forked child
 * both call work(); gdb debugs the parent only, so a breakpoint on work() must stop the
 * parent and leave the child alone (it must not die of the breakpoint's int3).
 * Prints "gdb_fork: child exited 42, parent got 2", exits 0.
 */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static int work(int x)
{
    return x * 2;
}

int main(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        _exit(work(21));
    int st = 0;
    waitpid(pid, &st, 0);
    int mine = work(1);
    if (WIFEXITED(st))
        printf("gdb_fork: child exited %d, parent got %d\n", WEXITSTATUS(st), mine);
    else
        printf("gdb_fork: child killed by signal %d, parent got %d\n", WTERMSIG(st), mine);
    return 0;
}
