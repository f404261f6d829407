/* files: file-system syscalls, run inside the writable directory argv[1]
 * (created by the test beforehand; it is left empty again at the end).
 * One line per check; exits 1 with a message on stderr on any surprise. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

/* musl 1.2.3 has no statx() wrapper nor struct statx: define the ABI here. */
struct statx_ts { int64_t tv_sec; uint32_t tv_nsec; int32_t reserved; };
struct my_statx {
    uint32_t stx_mask, stx_blksize;
    uint64_t stx_attributes;
    uint32_t stx_nlink, stx_uid, stx_gid;
    uint16_t stx_mode, pad1;
    uint64_t stx_ino, stx_size, stx_blocks, stx_attributes_mask;
    struct statx_ts stx_atime, stx_btime, stx_ctime, stx_mtime;
    uint32_t stx_rdev_major, stx_rdev_minor, stx_dev_major, stx_dev_minor;
    uint64_t spare[14];
};
#define MY_STATX_SIZE 0x200U
#define MY_STATX_TYPE 0x1U

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}


static void print_ioctl(const char *label, int r)
{
    if (r == 0)
        printf("%s=0\n", label);
    else
        printf("%s=%s\n", label, errname(errno));
}

int main(int argc, char **argv)
{
    char buf[256];
    struct stat st;

    if (argc < 2) {
        fprintf(stderr, "usage: files <writable-dir>\n");
        return 2;
    }
    CHECK(chdir(argv[1]) == 0);
    printf("chdir 0\n");
    CHECK(getcwd(buf, sizeof buf) != NULL && buf[0] == '/');
    printf("getcwd absolute\n");

    /* open/creat/write/close */
    int fd = open("a.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(fd >= 0);
    printf("open creat ok\n");
    ssize_t n = write(fd, "hello", 5);
    CHECK(n == 5);
    printf("write %zd\n", n);
    CHECK(close(fd) == 0);
    printf("close 0\n");
    EXPECT_ERR("open excl", open("a.txt", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
    EXPECT_ERR("open missing", open("missing.txt", O_RDONLY), ENOENT);
    EXPECT_ERR("close bad", close(9999), EBADF);

    int cfd = creat("c.txt", 0600);
    CHECK(cfd >= 0);
    CHECK(write(cfd, "c", 1) == 1);
    CHECK(close(cfd) == 0);
    printf("creat ok\n");

    /* read/lseek/pread */
    fd = open("a.txt", O_RDONLY);
    CHECK(fd >= 0);
    memset(buf, 0, sizeof buf);
    n = read(fd, buf, sizeof buf - 1);
    CHECK(n == 5 && !strcmp(buf, "hello"));
    printf("read \"%s\"\n", buf);
    n = read(fd, buf, sizeof buf);
    CHECK(n == 0);
    printf("read eof %zd\n", n);
    off_t off = lseek(fd, 1, SEEK_SET);
    CHECK(off == 1);
    printf("lseek set %lld\n", (long long)off);
    memset(buf, 0, sizeof buf);
    CHECK(read(fd, buf, 4) == 4 && !strcmp(buf, "ello"));
    printf("read after lseek \"%s\"\n", buf);
    off = lseek(fd, 0, SEEK_END);
    CHECK(off == 5);
    printf("lseek end %lld\n", (long long)off);
    off = lseek(fd, -2, SEEK_CUR);
    CHECK(off == 3);
    printf("lseek cur %lld\n", (long long)off);
    memset(buf, 0, sizeof buf);
    n = pread(fd, buf, 3, 1);
    CHECK(n == 3 && !strcmp(buf, "ell"));
    printf("pread \"%s\"\n", buf);
    CHECK(lseek(fd, 0, SEEK_CUR) == 3); /* pread does not move the offset */
    printf("pread keeps offset\n");
    EXPECT_ERR("write rdonly", write(fd, "x", 1), EBADF);
    CHECK(close(fd) == 0);

    /* pwrite/writev/readv */
    fd = open("a.txt", O_RDWR);
    CHECK(fd >= 0);
    n = pwrite(fd, "J", 1, 0);
    CHECK(n == 1);
    printf("pwrite %zd\n", n);
    memset(buf, 0, sizeof buf);
    CHECK(pread(fd, buf, 5, 0) == 5 && !strcmp(buf, "Jello"));
    printf("pread after pwrite \"%s\"\n", buf);
    CHECK(lseek(fd, 5, SEEK_SET) == 5);
    struct iovec wv[2] = { { (void *)"ab", 2 }, { (void *)"cde", 3 } };
    n = writev(fd, wv, 2);
    CHECK(n == 5);
    printf("writev %zd\n", n);
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    char r1[4] = {0}, r2[16] = {0};
    struct iovec rv[2] = { { r1, 3 }, { r2, sizeof r2 - 1 } };
    n = readv(fd, rv, 2);
    CHECK(n == 10 && !strcmp(r1, "Jel") && !strcmp(r2, "loabcde"));
    printf("readv %zd \"%s\" \"%s\"\n", n, r1, r2);

    /* fstat/fsync/ftruncate */
    CHECK(fstat(fd, &st) == 0 && st.st_size == 10 && S_ISREG(st.st_mode));
    printf("fstat size=%lld reg\n", (long long)st.st_size);
    CHECK(fsync(fd) == 0);
    printf("fsync 0\n");
    CHECK(fdatasync(fd) == 0);
    printf("fdatasync 0\n");
    CHECK(ftruncate(fd, 5) == 0);
    CHECK(fstat(fd, &st) == 0 && st.st_size == 5);
    printf("ftruncate size=%lld\n", (long long)st.st_size);

    /* fcntl */
    int fl = fcntl(fd, F_GETFL);
    CHECK(fl >= 0 && (fl & O_ACCMODE) == O_RDWR);
    printf("fcntl getfl O_RDWR\n");
    CHECK(fcntl(fd, F_GETFD) == 0);
    CHECK(fcntl(fd, F_SETFD, FD_CLOEXEC) == 0);
    CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC);
    printf("fcntl setfd/getfd FD_CLOEXEC\n");
    CHECK(fcntl(fd, F_SETFL, fl | O_APPEND) == 0);
    CHECK((fcntl(fd, F_GETFL) & O_APPEND) != 0);
    CHECK(fcntl(fd, F_SETFL, fl) == 0);
    printf("fcntl setfl O_APPEND\n");
    struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 4 };
    CHECK(fcntl(fd, F_SETLK, &lk) == 0);
    printf("fcntl setlk F_WRLCK 0\n");
    struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 4 };
    CHECK(fcntl(fd, F_GETLK, &q) == 0);
    /* Our own lock never conflicts with ourselves. */
    CHECK(q.l_type == F_UNLCK);
    printf("fcntl getlk F_UNLCK\n");
    lk.l_type = F_UNLCK;
    CHECK(fcntl(fd, F_SETLK, &lk) == 0);
    printf("fcntl setlk F_UNLCK 0\n");
    int dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 50);
    CHECK(dupfd >= 50 && fcntl(dupfd, F_GETFD) == FD_CLOEXEC);
    CHECK(close(dupfd) == 0);
    printf("fcntl dupfd_cloexec >=50\n");

    /* dup/dup2/dup3 */
    int d1 = dup(fd);
    CHECK(d1 >= 0 && d1 != fd && fcntl(d1, F_GETFD) == 0);
    CHECK(lseek(fd, 2, SEEK_SET) == 2 && lseek(d1, 0, SEEK_CUR) == 2); /* shared offset */
    printf("dup shares offset\n");
    int d2 = dup2(fd, 100);
    CHECK(d2 == 100);
    printf("dup2 %d\n", d2);
    int d3 = dup3(fd, 101, O_CLOEXEC);
    CHECK(d3 == 101 && fcntl(d3, F_GETFD) == FD_CLOEXEC);
    printf("dup3 %d cloexec\n", d3);
    EXPECT_ERR("dup3 same", dup3(fd, fd, 0), EINVAL);
    CHECK(close(d1) == 0 && close(d2) == 0 && close(d3) == 0);
    CHECK(close(fd) == 0);

    /* stat/statx */
    CHECK(stat("a.txt", &st) == 0 && st.st_size == 5);
    printf("stat size=%lld\n", (long long)st.st_size);
    struct my_statx stx;
    memset(&stx, 0, sizeof stx);
    long sr = syscall(SYS_statx, AT_FDCWD, "a.txt", 0, MY_STATX_SIZE | MY_STATX_TYPE, &stx);
    CHECK(sr == 0 && (stx.stx_mask & MY_STATX_SIZE) && stx.stx_size == 5 && S_ISREG(stx.stx_mode));
    printf("statx size=%llu reg\n", (unsigned long long)stx.stx_size);
    EXPECT_ERR("stat missing", stat("missing.txt", &st), ENOENT);

    /* rename/access/faccessat */
    CHECK(rename("a.txt", "b.txt") == 0);
    printf("rename 0\n");
    EXPECT_ERR("access old", access("a.txt", F_OK), ENOENT);
    CHECK(access("b.txt", R_OK | W_OK) == 0);
    printf("access new 0\n");
    CHECK(faccessat(AT_FDCWD, "b.txt", F_OK, 0) == 0);
    printf("faccessat 0\n");
    EXPECT_ERR("faccessat missing", faccessat(AT_FDCWD, "nope", F_OK, 0), ENOENT);

    /* chmod/utimensat */
    CHECK(chmod("b.txt", 0600) == 0);
    CHECK(stat("b.txt", &st) == 0);
    printf("chmod mode=%o\n", (unsigned)(st.st_mode & 07777));
    CHECK((st.st_mode & 07777) == 0600);
    struct timespec ts[2] = { { 1000000000, 0 }, { 1234567890, 500 } };
    CHECK(utimensat(AT_FDCWD, "b.txt", ts, 0) == 0);
    CHECK(stat("b.txt", &st) == 0);
    printf("utimensat atime=%lld mtime=%lld\n", (long long)st.st_atime, (long long)st.st_mtime);
    CHECK(st.st_atime == 1000000000 && st.st_mtime == 1234567890);

    /* symlink/readlink/lstat */
    CHECK(symlink("b.txt", "link") == 0);
    printf("symlink 0\n");
    memset(buf, 0, sizeof buf);
    n = readlink("link", buf, sizeof buf - 1);
    CHECK(n == 5 && !strcmp(buf, "b.txt"));
    printf("readlink \"%s\"\n", buf);
    CHECK(lstat("link", &st) == 0 && S_ISLNK(st.st_mode));
    printf("lstat link\n");
    CHECK(stat("link", &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 5);
    printf("stat via link size=%lld\n", (long long)st.st_size);
    EXPECT_ERR("readlink regular", readlink("b.txt", buf, sizeof buf), EINVAL);

    /* mkdir/rmdir */
    CHECK(mkdir("tmpdir", 0755) == 0);
    CHECK(stat("tmpdir", &st) == 0 && S_ISDIR(st.st_mode));
    printf("mkdir 0\n");
    EXPECT_ERR("mkdir again", mkdir("tmpdir", 0755), EEXIST);
    CHECK(rmdir("tmpdir") == 0);
    printf("rmdir 0\n");
    EXPECT_ERR("rmdir missing", rmdir("tmpdir"), ENOENT);
    CHECK(mkdir("sub", 0755) == 0);

    /* getdents64 through opendir/readdir */
    DIR *d = opendir(".");
    CHECK(d != NULL);
    char *names[32];
    int count = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && count < 32)
        names[count++] = strdup(de->d_name);
    CHECK(closedir(d) == 0);
    qsort(names, count, sizeof names[0], cmpstr);
    printf("readdir");
    for (int i = 0; i < count; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
    CHECK(count == 6);

    /* chdir/fchdir/getcwd */
    int dfd = open(".", O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0);
    CHECK(chdir("sub") == 0);
    CHECK(getcwd(buf, sizeof buf) != NULL && ends_with(buf, "/sub"));
    printf("chdir sub getcwd ends-with=/sub\n");
    CHECK(fchdir(dfd) == 0);
    CHECK(getcwd(buf, sizeof buf) != NULL && !ends_with(buf, "/sub"));
    printf("fchdir back\n");
    CHECK(close(dfd) == 0);
    EXPECT_ERR("chdir file", chdir("b.txt"), ENOTDIR);

    /* pipe2 */
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
    CHECK(fcntl(p[0], F_GETFD) == FD_CLOEXEC && (fcntl(p[1], F_GETFL) & O_NONBLOCK));
    CHECK(write(p[1], "abc", 3) == 3);
    memset(buf, 0, sizeof buf);
    CHECK(read(p[0], buf, sizeof buf) == 3 && !strcmp(buf, "abc"));
    printf("pipe2 \"%s\"\n", buf);
    EXPECT_ERR("pipe2 empty read", read(p[0], buf, sizeof buf), EAGAIN);
    EXPECT_ERR("lseek pipe", lseek(p[0], 0, SEEK_SET), ESPIPE);
    CHECK(close(p[0]) == 0 && close(p[1]) == 0);

    /* terminal ioctls: stdout is a pipe under the tests, so ENOTTY there */
    struct termios tio;
    print_ioctl("tcgets", ioctl(1, TCGETS, &tio));
    struct winsize ws;
    print_ioctl("tiocgwinsz", ioctl(1, TIOCGWINSZ, &ws));

    /* cleanup: leave the directory empty */
    CHECK(unlink("link") == 0);
    CHECK(unlink("b.txt") == 0);
    CHECK(unlink("c.txt") == 0);
    CHECK(rmdir("sub") == 0);
    EXPECT_ERR("unlink missing", unlink("b.txt"), ENOENT);
    printf("cleanup ok\n");
    return 0;
}
