/* gdb_demo: the debugger tests' program (built -O0 -g so every line and local is
 * there for gdb). A global that a loop changes, a local, three nested calls, and
 * optional endings chosen by argv[1]:
 *   (none)  prints "gdb_demo: counter=30 result=18", exits 18
 *   segv    then writes through a NULL pointer in crash() -> SIGSEGV
 *   spin    then loops forever without syscalls (for interrupting with Ctrl-C)
 */
#include <stdio.h>
#include <string.h>

int counter;                    /* the global the tests print and watch */

static int leaf(int x)
{
    int doubled = x * 2;        /* a local of the innermost frame */
    return doubled + 1;
}

static int middle(int x)
{
    int r = leaf(x + 1);
    return r + 1;
}

static int outer(int x)
{
    int r = middle(x + 1);
    return r - 2;
}

static void crash(void)
{
    volatile int *p = (volatile int *)0;
    *p = 42;                    /* the faulting line */
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    int local = 7;
    for (int i = 0; i < 3; i++)
        counter += 10;          /* the loop changes the global */
    int result = outer(local);
    printf("gdb_demo: counter=%d result=%d\n", counter, result);
    fflush(stdout);
    if (!strcmp(mode, "segv"))
        crash();
    if (!strcmp(mode, "spin"))
        for (;;)
            __asm__ __volatile__("" ::: "memory");
    return result;
}
