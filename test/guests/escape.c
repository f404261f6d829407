/* escape: tries to break out of torov's sandbox; prints one line per attempt with the
 * errno name (or "OK ..." if an attempt got through). argv[1] = a port on the host's
 * loopback to try to connect to, argv[2] = a writable directory (a volume) to write into.
 * Every attempt must fail; the test checks each line. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "common.h"

static void try_open(const char *label, const char *p)
{
    char buf[64];
    int fd = open(p, O_RDONLY);
    if (fd < 0) { printf("%s %s\n", label, errname(errno)); return; }
    ssize_t n = read(fd, buf, sizeof buf);
    printf("%s OK read %zd\n", label, n);
    close(fd);
}

static void try_sys(const char *label, long nr, long a, long b, long c, long d, long e)
{
    errno = 0;
    long r = syscall(nr, a, b, c, d, e, 0);
    if (r < 0) printf("%s %s\n", label, errname(errno));
    else printf("%s OK %ld\n", label, r);
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 1;
    const char *vol = argc > 2 ? argv[2] : "/data";

    try_open("shadow", "/etc/shadow");
    try_open("dotdot", "/../../../../../../etc/shadow");
    char rel[256];
    snprintf(rel, sizeof rel, "%s/../../../../../../../etc/shadow", vol);
    try_open("dotdot-volume", rel);
    snprintf(rel, sizeof rel, "%s/host-symlink", vol);   /* made on the host, to /etc/shadow */
    try_open("symlink-host", rel);
    snprintf(rel, sizeof rel, "%s/guest-symlink", vol);
    if (symlink("/etc/shadow", rel) == 0 || errno == EEXIST) try_open("symlink-guest", rel);
    try_open("proc-self-root", "/proc/self/root/etc/shadow");
    try_open("proc-1-root", "/proc/1/root/etc/shadow");
    for (int fd = 3; fd < 16; fd++) {                      /* fds the launcher may have had */
        char c;
        if (read(fd, &c, 1) >= 0 || errno != EBADF) { printf("inherited-fd %d OK\n", fd); return 0; }
    }
    printf("inherited-fds EBADF\n");

    try_sys("mount", SYS_mount, (long)"none", (long)"/", (long)"tmpfs", 0, 0);
    try_sys("ptrace", SYS_ptrace, 16 /* PTRACE_ATTACH */, 1, 0, 0, 0);
    try_sys("unshare", SYS_unshare, 0x10000000 /* CLONE_NEWUSER */, 0, 0, 0, 0);
    try_sys("setns", SYS_setns, 0, 0, 0, 0, 0);
    try_sys("kexec_load", SYS_kexec_load, 0, 0, 0, 0, 0);
    try_sys("bpf", SYS_bpf, 0, 0, 0, 0, 0);
    try_sys("init_module", SYS_init_module, 0, 0, (long)"", 0, 0);
    try_sys("reboot", SYS_reboot, 0xfee1dead, 672274793, 0x4321fedc /* RB_POWER_OFF */, 0, 0);
    try_sys("kill-all", SYS_kill, -1, SIGKILL, 0, 0, 0);
    try_sys("sethostname", SYS_sethostname, (long)"pwned", 5, 0, 0, 0);

    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0) printf("connect-host %s\n", errname(errno));
    else if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) printf("connect-host OK\n");
    else printf("connect-host %s\n", errname(errno));

    snprintf(rel, sizeof rel, "%s/from-guest.txt", vol);
    int w = open(rel, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (w < 0 || write(w, "written by the guest\n", 21) != 21) printf("volume-write %s\n", errname(errno));
    else printf("volume-write done\n");
    close(w);
    return 0;
}
