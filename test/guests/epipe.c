/* epipe: writes to a pipe whose read end is closed.
 *   epipe        ignores SIGPIPE first; expects write=-1 errno=EPIPE
 *   epipe nosig  leaves SIGPIPE at its default action. On Linux the process
 *                is killed by SIGPIPE; torov does not deliver signals yet,
 *                so there write() must still return -1 with EPIPE.
 * Prints "write=-1 errno=EPIPE". */
#include <signal.h>
#include <unistd.h>
#include "common.h"

int main(int argc, char **argv)
{
    int nosig = argc > 1 && !strcmp(argv[1], "nosig");
    int p[2];
    if (!nosig) {
        CHECK(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
        printf("sigpipe ignored\n");
    } else {
        printf("sigpipe default\n");
    }
    fflush(stdout);
    CHECK(pipe(p) == 0);
    CHECK(close(p[0]) == 0);
    errno = 0;
    ssize_t n = write(p[1], "x", 1);
    printf("write=%zd errno=%s\n", n, errname(errno));
    if (n != -1 || errno != EPIPE)
        FAIL("expected write=-1 errno=EPIPE");
    return 0;
}
