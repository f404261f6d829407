/* writefile: writes a few lines to a file, reads the file back and prints it.
 * Usage: writefile [path]   (default /tmp/torov-writefile.txt) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char text[] =
    "This file was written by a program running in a torov micro-VM.\n"
    "Each syscall left the VM as a hypercall and ran on the host.\n";

static int fail(const char *what, const char *path)
{
    fprintf(stderr, "writefile: %s %s: %s\n", what, path, strerror(errno));
    return 1;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/tmp/torov-writefile.txt";

    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return fail("cannot create", path);
    size_t done = 0;
    while (done < sizeof text - 1) {
        ssize_t n = write(fd, text + done, sizeof text - 1 - done);
        if (n < 0)
            return fail("cannot write", path);
        done += (size_t)n;
    }
    if (close(fd) != 0)
        return fail("cannot close", path);
    printf("wrote %zu bytes to %s\n", done, path);

    fd = open(path, O_RDONLY);
    if (fd < 0)
        return fail("cannot open", path);
    char buf[512];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n < 0)
            return fail("cannot read", path);
        if (n == 0 || got + (size_t)n == sizeof buf - 1) {
            got += (size_t)n;
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    printf("read %zu bytes back:\n%s", got, buf);
    if (got != done || memcmp(buf, text, done) != 0) {
        fprintf(stderr, "writefile: the content read back differs\n");
        return 1;
    }
    return 0;
}
