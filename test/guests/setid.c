/*
 * Tries every way a program sets the set-user-ID and set-group-ID bits of a file in DIR:
 * creation modes (open, creat, openat, mknod, mkdir), the chmod family, and a rename of a
 * file that has them. Prints each call's result; the test then looks at the files from the
 * host. Under torov none of them may keep S_ISUID or S_ISGID.
 *
 *   setid DIR [RENAME-SOURCE]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "common.h"

static char path[4096];

static const char *at(const char *dir, const char *name)
{
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static void mode_of(const char *dir, const char *name)
{
    struct stat st;
    if (lstat(at(dir, name), &st) != 0) { printf("%s: %s\n", name, errname(errno)); return; }
    printf("%s: %04o\n", name, (unsigned)(st.st_mode & 07777));
}

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: setid DIR [RENAME-SOURCE]\n"); return 2; }
    const char *d = argv[1];
    umask(0);
    int fd = open(at(d, "open"), O_CREAT | O_WRONLY, 06755);
    show("open O_CREAT 06755", fd);
    if (fd >= 0) close(fd);
    fd = creat(at(d, "creat"), 04755);
    show("creat 04755", fd);
    if (fd >= 0) close(fd);
    fd = openat(AT_FDCWD, at(d, "openat"), O_CREAT | O_RDWR, 02755);
    show("openat O_CREAT 02755", fd);
    if (fd >= 0) {
        show("fchmod 06755", fchmod(fd, 06755));
        close(fd);
    }
    show("mknod S_IFREG 06755", mknod(at(d, "mknod"), S_IFREG | 06755, 0));
    show("mkdir 02755", mkdir(at(d, "dir"), 02755));
    fd = open(at(d, "chmod"), O_CREAT | O_WRONLY, 0644);
    if (fd >= 0) close(fd);
    show("chmod 06755", chmod(at(d, "chmod"), 06755));
    fd = open(at(d, "fchmodat"), O_CREAT | O_WRONLY, 0644);
    if (fd >= 0) close(fd);
    show("fchmodat 06755", fchmodat(AT_FDCWD, at(d, "fchmodat"), 06755, 0));
    show("fchmodat2 06755", syscall(452 /* fchmodat2 */, AT_FDCWD, at(d, "fchmodat"), 06755, 0));
    show("chmod dir 03777", chmod(at(d, "dir"), 03777));
    if (argc > 2) {
        char to[4096];
        snprintf(to, sizeof to, "%s/renamed", d);
        show("rename of a set-id file", rename(argv[2], to));
    }
    const char *names[] = { "open", "creat", "openat", "mknod", "dir", "chmod", "fchmodat", "renamed" };
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) mode_of(d, names[i]);
    return 0;
}
