/* fs_extra: the *at() forms and the rarer path syscalls, with their errors.
 *   fs_extra ops DIR    inside the writable, empty DIR (left empty again); runs the
 *                       same natively and under torov (the test compares the output)
 *   fs_extra proc DIR   torov only: torov's /proc (exe, fd and cwd links, a cwd in /proc), and the VMM's refused
 * One line per check; exits 1 with a message on stderr on any surprise. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>
#include "common.h"


/* struct open_how (openat2), extended by 8 bytes to test the size rules */
struct how { uint64_t flags, mode, resolve, extra; };
#define RESOLVE_BENEATH 0x08
#define RENAME_NOREPLACE 1

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists a directory with raw getdents64 (nr 217) or getdents (nr 78), sorted. */
static void list(const char *label, int nr, int dfd)
{
    char buf[1024], *names[32];
    int n = 0;
    CHECK(lseek(dfd, 0, SEEK_SET) == 0);
    for (;;) {
        long got = syscall(nr, dfd, buf, sizeof buf);
        CHECK(got >= 0);
        if (got == 0)
            break;
        for (long off = 0; off < got;) {
            unsigned short reclen = *(unsigned short *)(buf + off + 16);
            /* linux_dirent64: ino, off, reclen, type, name; linux_dirent: ino, off, reclen, name */
            const char *name = buf + off + (nr == SYS_getdents64 ? 19 : 18);
            CHECK(n < 32);
            names[n++] = strdup(name);
            off += reclen;
        }
    }
    qsort(names, n, sizeof names[0], cmpstr);
    printf("%s", label);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

static void ops(void)
{
    struct stat st;
    char buf[256];

    /* too long and unreadable paths */
    char *longp = malloc(8192);
    memset(longp, 'a', 8192);
    EXPECT_ERR("open no-nul ENAMETOOLONG", open(longp, O_RDONLY), ENAMETOOLONG);
    EXPECT_ERR("stat no-nul ENAMETOOLONG", stat(longp, &st), ENAMETOOLONG);
    longp[5000] = 0;
    EXPECT_ERR("mkdir long ENAMETOOLONG", mkdir(longp, 0755), ENAMETOOLONG);
    free(longp);
    EXPECT_ERR("stat bad path", syscall(SYS_stat, (char *)1, &st), EFAULT);
    EXPECT_ERR("stat bad buf", syscall(SYS_stat, ".", (void *)8), EFAULT);
    EXPECT_ERR("newfstatat bad buf", syscall(SYS_newfstatat, AT_FDCWD, ".", (void *)8, 0), EFAULT);
    EXPECT_ERR("statx bad buf", syscall(SYS_statx, AT_FDCWD, ".", 0, 0x7ff, (void *)8), EFAULT);
    EXPECT_ERR("getcwd bad buf", syscall(SYS_getcwd, (void *)8, 200), EFAULT);
    EXPECT_ERR("access bad path", syscall(SYS_access, (char *)0xdead0000UL, F_OK), EFAULT);
    EXPECT_ERR("rename bad new", syscall(SYS_rename, "nothing-here", (char *)1), EFAULT);
    EXPECT_ERR("chdir null", syscall(SYS_chdir, NULL), EFAULT);

    /* getcwd: raw result is the length with the NUL */
    long n = syscall(SYS_getcwd, buf, sizeof buf);
    CHECK(n == (long)strlen(buf) + 1);
    printf("getcwd raw = strlen+1\n");
    EXPECT_ERR("getcwd small", syscall(SYS_getcwd, buf, 1), ERANGE);

    /* *at() with a directory fd */
    CHECK(mkdirat(AT_FDCWD, "d", 0755) == 0);
    printf("mkdirat 0\n");
    int dfd = open("d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(dfd >= 0 && fcntl(dfd, F_GETFD) == FD_CLOEXEC);
    printf("open O_DIRECTORY|O_CLOEXEC\n");
    int fd = openat(dfd, "f", O_CREAT | O_WRONLY | O_EXCL, 0644);
    CHECK(fd >= 0 && fcntl(fd, F_GETFD) == 0);
    CHECK(write(fd, "0123456789", 10) == 10);
    printf("openat creat\n");
    EXPECT_ERR("openat excl", openat(dfd, "f", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
    EXPECT_ERR("openat bad dirfd", openat(999, "f", O_RDONLY), EBADF);
    EXPECT_ERR("openat file as dirfd", openat(fd, "f", O_RDONLY), ENOTDIR);
    EXPECT_ERR("open file O_DIRECTORY", open("d/f", O_RDONLY | O_DIRECTORY), ENOTDIR);
    CHECK(getcwd(buf, sizeof buf) != NULL);
    strcat(buf, "/d/f");
    int afd = openat(999, buf, O_RDONLY); /* absolute: the dirfd is not used */
    CHECK(afd >= 0);
    CHECK(close(afd) == 0);
    printf("openat absolute ignores dirfd\n");
    CHECK(fstatat(dfd, "f", &st, 0) == 0 && st.st_size == 10 && S_ISREG(st.st_mode));
    printf("fstatat size=%lld\n", (long long)st.st_size);
    CHECK(fstatat(fd, "", &st, AT_EMPTY_PATH) == 0 && st.st_size == 10);
    printf("fstatat AT_EMPTY_PATH size=%lld\n", (long long)st.st_size);
    CHECK(syscall(SYS_faccessat2, dfd, "f", R_OK | W_OK, AT_EACCESS) == 0);
    printf("faccessat2 0\n");
    EXPECT_ERR("faccessat2 missing", syscall(SYS_faccessat2, dfd, "nope", F_OK, 0), ENOENT);

    /* rename, link, symlink */
    CHECK(renameat(dfd, "f", dfd, "g") == 0);
    printf("renameat 0\n");
    CHECK(close(creat("d/x", 0644)) == 0);
    EXPECT_ERR("renameat2 noreplace", syscall(SYS_renameat2, dfd, "x", dfd, "g", RENAME_NOREPLACE), EEXIST);
    CHECK(syscall(SYS_renameat2, dfd, "x", dfd, "y", RENAME_NOREPLACE) == 0);
    printf("renameat2 0\n");
    CHECK(linkat(dfd, "g", dfd, "h", 0) == 0);
    CHECK(link("d/g", "d/i") == 0);
    CHECK(stat("d/g", &st) == 0 && st.st_nlink == 3);
    printf("linkat+link nlink=%d\n", (int)st.st_nlink);
    CHECK(symlinkat("g", dfd, "s") == 0);
    memset(buf, 0, sizeof buf);
    n = readlinkat(dfd, "s", buf, sizeof buf);
    CHECK(n == 1 && buf[0] == 'g');
    printf("symlinkat/readlinkat \"%s\"\n", buf);
    memset(buf, 0, sizeof buf);
    CHECK(symlink("a-long-target-name", "d/t") == 0);
    n = readlink("d/t", buf, 6);
    CHECK(n == 6 && !strcmp(buf, "a-long"));
    printf("readlink truncated \"%s\"\n", buf);
    EXPECT_ERR("readlink bufsiz 0", syscall(SYS_readlink, "d/t", buf, 0), EINVAL);
    EXPECT_ERR("readlink bad buf", syscall(SYS_readlink, "d/t", (void *)8, 100), EFAULT);
    CHECK(lstat("d/s", &st) == 0 && S_ISLNK(st.st_mode));
    printf("lstat symlink\n");

    /* permissions, owners */
    CHECK(fchmodat(dfd, "g", 0640, 0) == 0);
    CHECK(stat("d/g", &st) == 0 && (st.st_mode & 07777) == 0640);
    printf("fchmodat mode=%o\n", (unsigned)(st.st_mode & 07777));
    CHECK(fchmod(fd, 0600) == 0);
    CHECK(fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0600);
    printf("fchmod mode=%o\n", (unsigned)(st.st_mode & 07777));
    uid_t uid = getuid();
    gid_t gid = getgid();
    CHECK(chown("d/g", uid, gid) == 0);
    CHECK(fchown(fd, -1, -1) == 0);
    CHECK(lchown("d/s", -1, -1) == 0);
    CHECK(fchownat(dfd, "g", -1, gid, 0) == 0);
    CHECK(fchownat(fd, "", -1, -1, AT_EMPTY_PATH) == 0);
    printf("chown/fchown/lchown/fchownat 0\n");

    /* times */
    struct utimbuf ub = { 1000000001, 1000000002 };
    CHECK(utime("d/g", &ub) == 0 && stat("d/g", &st) == 0 && st.st_mtime == 1000000002);
    printf("utime mtime=%lld\n", (long long)st.st_mtime);
    struct timeval tv[2] = { { 1100000000, 0 }, { 1100000001, 0 } };
    CHECK(utimes("d/g", tv) == 0 && stat("d/g", &st) == 0 && st.st_mtime == 1100000001);
    printf("utimes mtime=%lld\n", (long long)st.st_mtime);
    tv[1].tv_sec = 1200000001;
    CHECK(syscall(SYS_futimesat, dfd, "g", tv) == 0 && stat("d/g", &st) == 0 && st.st_mtime == 1200000001);
    printf("futimesat mtime=%lld\n", (long long)st.st_mtime);
    struct timespec ts[2] = { { 1300000000, 0 }, { 1300000001, 0 } };
    CHECK(futimens(fd, ts) == 0 && fstat(fd, &st) == 0 && st.st_mtime == 1300000001);
    printf("futimens mtime=%lld\n", (long long)st.st_mtime);
    CHECK(utimensat(dfd, "s", ts, AT_SYMLINK_NOFOLLOW) == 0);
    printf("utimensat nofollow 0\n");
    CHECK(utime("d/g", NULL) == 0 && stat("d/g", &st) == 0 && st.st_mtime > 1300000001);
    printf("utime now\n");

    /* truncate, statfs, statx on an fd */
    CHECK(truncate("d/g", 3) == 0 && stat("d/g", &st) == 0 && st.st_size == 3);
    printf("truncate size=%lld\n", (long long)st.st_size);
    EXPECT_ERR("truncate missing", truncate("d/nope", 0), ENOENT);
    struct statfs sfs, sfs2;
    CHECK(statfs("d", &sfs) == 0 && fstatfs(dfd, &sfs2) == 0 && sfs.f_type == sfs2.f_type && sfs.f_bsize > 0);
    printf("statfs/fstatfs same type\n");
    EXPECT_ERR("statfs bad buf", syscall(SYS_statfs, "d", (void *)8), EFAULT);
    uint8_t stx[256];
    CHECK(syscall(SYS_statx, fd, "", AT_EMPTY_PATH, 0x200, stx) == 0 && *(uint64_t *)(stx + 40) == 3);
    printf("statx AT_EMPTY_PATH size=3\n");

    /* open flags */
    int pfd = open("d/g", O_PATH);
    CHECK(pfd >= 0 && fstat(pfd, &st) == 0 && st.st_size == 3);
    EXPECT_ERR("read O_PATH", read(pfd, buf, 1), EBADF);
    CHECK(close(pfd) == 0);
    printf("open O_PATH fstat ok\n");
    int cfd = creat("d/g", 0644); /* truncates an existing file */
    CHECK(cfd >= 0 && fstat(cfd, &st) == 0 && st.st_size == 0);
    CHECK(write(cfd, "abc", 3) == 3 && close(cfd) == 0);
    printf("creat truncates\n");
    struct how how = { O_RDONLY, 0, 0, 0 };
    int o2 = syscall(SYS_openat2, dfd, "g", &how, 24);
    CHECK(o2 >= 0 && read(o2, buf, 3) == 3 && !memcmp(buf, "abc", 3));
    printf("openat2 read \"abc\"\n");
    EXPECT_ERR("openat2 small", syscall(SYS_openat2, dfd, "g", &how, 16), EINVAL);
    how.extra = 1;
    EXPECT_ERR("openat2 nonzero tail", syscall(SYS_openat2, dfd, "g", &how, 32), E2BIG);
    how.extra = 0;
    CHECK(close(syscall(SYS_openat2, dfd, "g", &how, 32)) == 0);
    printf("openat2 zero tail ok\n");
    how.resolve = RESOLVE_BENEATH;
    EXPECT_ERR("openat2 beneath", syscall(SYS_openat2, dfd, "../d/g", &how, 24), EXDEV);
    how.resolve = 0;
    how.mode = 0644;
    EXPECT_ERR("openat2 mode without O_CREAT", syscall(SYS_openat2, dfd, "g", &how, 24), EINVAL);

    /* /dev/fd/N and /dev/stdin are the program's own fds */
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", o2);
    int rfd = open(path, O_RDONLY);
    CHECK(rfd >= 0 && pread(rfd, buf, 3, 0) == 3 && !memcmp(buf, "abc", 3));
    CHECK(close(rfd) == 0);
    printf("open /dev/fd/N reopens N\n");
    int saved = dup(0); /* stdin may be a socket (not reopenable): put the file there */
    CHECK(saved >= 0 && dup2(o2, 0) == 0);
    int in = open("/dev/stdin", O_RDONLY);
    CHECK(in >= 0 && pread(in, buf, 3, 0) == 3 && !memcmp(buf, "abc", 3) && close(in) == 0);
    CHECK(dup2(saved, 0) == 0 && close(saved) == 0 && close(o2) == 0);
    printf("open /dev/stdin reopens 0\n");
    EXPECT_ERR("open /dev/fd closed", open(path, O_RDONLY), ENOENT);

    /* mknod: FIFO and regular */
    CHECK(mknodat(dfd, "fifo", S_IFIFO | 0600, 0) == 0 && stat("d/fifo", &st) == 0 && S_ISFIFO(st.st_mode));
    printf("mknodat fifo\n");
    CHECK(mknod("d/reg", 0600, 0) == 0 && stat("d/reg", &st) == 0 && S_ISREG(st.st_mode));
    printf("mknod regular\n");
    EXPECT_ERR("mknod dir", mknod("d/dir", S_IFDIR | 0700, 0), EPERM);

    /* directory listings */
    list("getdents64", SYS_getdents64, dfd);
    list("getdents", SYS_getdents, dfd);
    CHECK(lseek(dfd, 0, SEEK_SET) == 0);
    EXPECT_ERR("getdents64 bad buf", syscall(SYS_getdents64, dfd, (void *)8, 1024), EFAULT);
    EXPECT_ERR("getdents64 not dir", syscall(SYS_getdents64, fd, buf, sizeof buf), ENOTDIR);

    /* chdir/fchdir, unlinkat */
    CHECK(fchdir(dfd) == 0 && access("g", F_OK) == 0 && chdir("..") == 0);
    printf("fchdir/chdir ..\n");
    EXPECT_ERR("rmdir not empty", unlinkat(AT_FDCWD, "d", AT_REMOVEDIR), ENOTEMPTY);
    EXPECT_ERR("unlinkat dir", unlinkat(dfd, "missing", AT_REMOVEDIR), ENOENT);
    const char *names[] = { "g", "h", "i", "s", "t", "y", "fifo", "reg" };
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
        CHECK(unlinkat(dfd, names[i], 0) == 0);
    CHECK(close(fd) == 0 && close(dfd) == 0);
    CHECK(unlinkat(AT_FDCWD, "d", AT_REMOVEDIR) == 0);
    printf("unlinkat all\n");
}

/* torov only: what a native run would show differently */
static void proc(void)
{
    char buf[4200], want[64];
    long n;

    memset(buf, 0, sizeof buf);
    n = readlink("/proc/self/exe", buf, sizeof buf);
    CHECK(n > 0);
    printf("exe=%s\n", buf);
    memset(buf, 0, sizeof buf);
    CHECK(readlinkat(AT_FDCWD, "/proc/self/exe", buf, sizeof buf) == n);
    printf("readlinkat exe=%s\n", buf);
    snprintf(want, sizeof want, "/proc/%d/exe", (int)getpid());
    memset(buf, 0, sizeof buf);
    CHECK(readlink(want, buf, sizeof buf) == n);
    printf("pid exe=%s\n", buf);
    memset(buf, 0, sizeof buf);
    CHECK(readlink("/proc/self/exe", buf, 4) == 4);
    printf("exe short=%s\n", buf);

    /* torov's /proc is its own: an fd link reopens the guest's own fd; what torov does
     * not provide (mem, auxv) does not exist; nothing of the VMM's is reachable. */
    int dot = open(".", O_RDONLY | O_DIRECTORY);
    CHECK(dot >= 0);
    snprintf(want, sizeof want, "/proc/self/fd/%d", dot);
    int again = open(want, O_RDONLY | O_DIRECTORY);
    CHECK(again >= 0 && close(again) == 0 && close(dot) == 0);
    printf("open /proc/self/fd/N ok\n");
    EXPECT_ERR("open /proc/self/mem", open("/proc/self/mem", O_RDWR), ENOENT);
    EXPECT_ERR("open //proc/./self/../self/mem", open("//proc/./self/../self/mem", O_RDONLY), ENOENT);
    EXPECT_ERR("open /proc/thread-self/auxv", open("/proc/thread-self/auxv", O_RDONLY), ENOENT);
    /* /proc/self/maps (and /proc/<pid>/maps) is the guest's own, made up by torov: its
     * stack is there, nothing of the VMM's (no "/" path: Node, koffi, libc). */
    snprintf(want, sizeof want, "/proc/%d/maps", (int)getpid());
    int mfd = open(want, O_RDONLY);
    CHECK(mfd >= 0);
    char maps[8192];
    ssize_t mn = read(mfd, maps, sizeof maps - 1);
    CHECK(mn > 0 && close(mfd) == 0);
    maps[mn] = 0;
    printf("own maps: [stack] %s, a host path %s\n", strstr(maps, "[stack]") ? "yes" : "no", strchr(maps, '/') ? "yes" : "no");
    EXPECT_ERR("stat /proc/self/mem", stat("/proc/self/mem", (struct stat *)buf), ENOENT);
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    memset(buf, 0, sizeof buf);
    n = readlink("/proc/self/cwd", buf, sizeof buf);
    printf("readlink /proc/self/cwd is the cwd: %s\n", n > 0 && !strcmp(buf, cwd) ? "yes" : "no");
    /* A cwd inside /proc: getcwd names the process's directory, relative paths resolve there. */
    CHECK(chdir("/proc/self") == 0);
    char pcwd[64];
    snprintf(want, sizeof want, "/proc/%d", (int)getpid());
    printf("chdir /proc/self: getcwd is /proc/PID: %s\n", getcwd(pcwd, sizeof pcwd) && !strcmp(pcwd, want) ? "yes" : "no");
    int sfd = open("status", O_RDONLY);
    CHECK(sfd >= 0 && close(sfd) == 0);
    printf("open status from there ok\n");
    EXPECT_ERR("mkdir there", mkdir("d", 0700), EACCES);
    CHECK(chdir(cwd) == 0);
    int procfd = open("/proc", O_RDONLY | O_DIRECTORY);
    CHECK(procfd >= 0);
    EXPECT_ERR("openat /proc self/mem", openat(procfd, "self/mem", O_RDONLY), ENOENT);
    sfd = openat(procfd, "self/status", O_RDONLY);
    CHECK(sfd >= 0 && close(sfd) == 0);
    printf("openat /proc self/status ok\n");
    sfd = open("/proc/mounts", O_RDONLY);
    CHECK(sfd >= 0 && close(sfd) == 0);
    printf("open /proc/mounts ok\n");
    EXPECT_ERR("unlink /proc/cpuinfo", unlink("/proc/cpuinfo"), EACCES);
    /* Routes the host resolves (without a sandbox, where the host's /proc exists): refused. */
    EXPECT_ERR("open /dev/fd", open("/dev/fd", O_RDONLY | O_DIRECTORY), EACCES);
    CHECK(symlink("/proc/self/mem", "pm") == 0);
    EXPECT_ERR("open symlink to /proc/self/mem", open("pm", O_RDONLY), EACCES);
    CHECK(symlink("/proc/self/fd", "pfd") == 0);
    EXPECT_ERR("open symlink to /proc/self/fd, /0", open("pfd/0", O_RDONLY), ELOOP);
    CHECK(unlink("pm") == 0 && unlink("pfd") == 0 && close(procfd) == 0);

    EXPECT_ERR("mknod chr", mknod("dev", S_IFCHR | 0600, 0x0103), EPERM);
    EXPECT_ERR("mknod sock", mknod("sock", S_IFSOCK | 0600, 0), EPERM);
    uint8_t stx[256];
    CHECK(syscall(SYS_statx, 0, NULL, AT_EMPTY_PATH, 0x1, stx) == 0);
    printf("statx NULL path AT_EMPTY_PATH 0\n");
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "ops") && strcmp(argv[1], "proc"))) {
        fprintf(stderr, "usage: fs_extra ops|proc <writable-dir>\n");
        return 2;
    }
    CHECK(chdir(argv[2]) == 0);
    if (!strcmp(argv[1], "ops"))
        ops();
    else
        proc();
    printf("done\n");
    return 0;
}
