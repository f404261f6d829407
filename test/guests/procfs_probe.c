/* procfs_probe: what /proc shows of this process, a thread of it, a child and a zombie.
 * Prints only which files exist, open, read, list and link (ok or the errno's name) and
 * yes/no facts about them (a child's ppid is this process), never their contents or
 * pids: the output is the same natively and under torov (the test compares them).
 * Exits 1 with FAIL on stderr when something it needs (fork, a pipe) fails. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

static char text[65536];

/* Reads all of `path` into text (NUL-terminated); returns its length, or -1 with errno. */
static long slurp(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    long n = 0, r;
    while (n < (long)sizeof text - 1 && (r = read(fd, text + n, sizeof text - 1 - n)) > 0) n += r;
    int e = errno;
    close(fd);
    errno = e;
    if (r < 0) return -1;
    text[n] = 0;
    return n;
}

static const char *yes(int c) { return c ? "yes" : "no"; }

/* "read NAME: ok" or the errno; a cmdline file also says whether it was empty (a zombie's is). */
static void probe_file(const char *label, const char *path)
{
    errno = 0;
    long n = slurp(path);
    if (n < 0) printf("read %s: %s\n", label, errname(errno));
    else printf("read %s: ok%s\n", label, n == 0 && strstr(path, "/cmdline") ? " empty" : "");
}

static void probe_link(const char *label, const char *path)
{
    char buf[4096];
    errno = 0;
    ssize_t n = readlink(path, buf, sizeof buf);
    printf("readlink %s: %s\n", label, n > 0 ? "ok" : errname(errno));
}

/* Whether directory `path` lists `name`; -1 with errno if it cannot be listed. Counts entries other than . and .. into *count. */
static int lists(const char *path, const char *name, int *count)
{
    DIR *d = opendir(path);
    if (!d) return -1;
    int found = 0, n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        n++;
        if (!strcmp(e->d_name, name)) found = 1;
    }
    closedir(d);
    if (count) *count = n;
    return found;
}

static void probe_dir(const char *label, const char *path, const char *name)
{
    errno = 0;
    int r = lists(path, name, NULL);
    if (r < 0) printf("list %s: %s\n", label, errname(errno));
    else printf("list %s: ok, has it: %s\n", label, yes(r));
}

/* Field `n` (1-based) of /proc/PID/stat, after the (comm); 0 if unreadable. */
static const char *stat_field(int pid, int n)
{
    static char out[64];
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    if (slurp(path) < 0) return "";
    char *p = strrchr(text, ')');
    if (!p) return "";
    p += 2;                            /* field 3 */
    for (int i = 3; i < n && p; i++) { p = strchr(p, ' '); if (p) p++; }
    if (!p) return "";
    size_t len = strcspn(p, " \n");
    snprintf(out, sizeof out, "%.*s", (int)len, p);
    return out;
}

/* The value of `key:` in /proc/PID/status (without leading tabs), or "". */
static const char *status_field(int pid, const char *key)
{
    static char out[128];
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    out[0] = 0;
    if (slurp(path) < 0) return out;
    size_t k = strlen(key);
    for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (!strncmp(l, key, k) && l[k] == ':') {
            char *v = l + k + 1;
            while (*v == '\t' || *v == ' ') v++;
            snprintf(out, sizeof out, "%.*s", (int)strcspn(v, "\n"), v);
            break;
        }
    }
    return out;
}

/* The files of process `pid` (`who` names it in the output). */
static void probe_process(const char *who, int pid, int tid)
{
    static const char *files[] = { "status", "stat", "statm", "cmdline", "environ", "maps", "comm", "limits", "mounts", "mountinfo", "fdinfo/0" };
    static const char *links[] = { "exe", "cwd", "root", "fd/0", "fd/1" };
    char path[128], label[128];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "/proc/%d/%s", pid, files[i]);
        snprintf(label, sizeof label, "%s/%s", who, files[i]);
        probe_file(label, path);
    }
    for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
        snprintf(path, sizeof path, "/proc/%d/%s", pid, links[i]);
        snprintf(label, sizeof label, "%s/%s", who, links[i]);
        probe_link(label, path);
    }
    char tids[32];
    snprintf(tids, sizeof tids, "%d", tid);
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    snprintf(label, sizeof label, "%s/task", who);
    probe_dir(label, path, tids);
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    snprintf(label, sizeof label, "%s/fd", who);
    probe_dir(label, path, "0");
    snprintf(path, sizeof path, "/proc/%d/fdinfo", pid);
    snprintf(label, sizeof label, "%s/fdinfo", who);
    probe_dir(label, path, "1");
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", pid, tid);
    snprintf(label, sizeof label, "%s/task/TID/stat", who);
    probe_file(label, path);
    snprintf(path, sizeof path, "/proc/%d/task/%d/status", pid, tid);
    snprintf(label, sizeof label, "%s/task/TID/status", who);
    probe_file(label, path);
    snprintf(path, sizeof path, "/proc/%d/nothing-here", pid);
    snprintf(label, sizeof label, "%s/nothing-here", who);
    probe_file(label, path);
}

static int thread_pipe[2];
static volatile int thread_tid;

static void *thread_main(void *arg)
{
    (void)arg;
    thread_tid = (int)syscall(SYS_gettid);
    char c;
    while (read(thread_pipe[0], &c, 1) < 0 && errno == EINTR) {}
    return NULL;
}

static void pause_ms(int ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

int main(void)
{
    int me = getpid();
    char path[128], want[64];

    /* The machine's files. */
    static const char *machine[] = { "/proc/stat", "/proc/meminfo", "/proc/cpuinfo", "/proc/uptime", "/proc/loadavg",
        "/proc/version", "/proc/mounts", "/proc/self/stat", "/proc/thread-self/stat", "/sys/devices/system/cpu/online",
        "/sys/devices/system/cpu/possible", "/proc/4194304/stat", "/proc/self/status/", "/proc/nothing-here" };
    for (size_t i = 0; i < sizeof machine / sizeof *machine; i++) probe_file(machine[i], machine[i]);
    struct stat st;
    printf("stat /proc/self is a directory: %s\n", yes(stat("/proc/self", &st) == 0 && S_ISDIR(st.st_mode)));
    printf("lstat /proc/self is a link: %s\n", yes(lstat("/proc/self", &st) == 0 && S_ISLNK(st.st_mode)));
    printf("stat /proc/self/ is a directory: %s\n", yes(lstat("/proc/self/", &st) == 0 && S_ISDIR(st.st_mode)));
    snprintf(path, sizeof path, "/proc/%d", me);
    printf("/proc/PID is owned by me: %s\n", yes(stat(path, &st) == 0 && st.st_uid == getuid()));
    probe_dir("/sys/devices/system/cpu", "/sys/devices/system/cpu", "cpu0");

    /* A thread, blocked on a pipe. */
    CHECK(pipe(thread_pipe) == 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, thread_main, NULL) == 0);
    while (!thread_tid) pause_ms(1);

    /* A child, blocked on a pipe; and one that ends at once (a zombie until it is waited for). */
    int block[2];
    CHECK(pipe(block) == 0);
    int child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        char c;
        close(block[1]);
        while (read(block[0], &c, 1) < 0 && errno == EINTR) {}
        _exit(0);
    }
    close(block[0]);
    int zombie = fork();
    CHECK(zombie >= 0);
    if (zombie == 0) _exit(3);

    /* /proc lists them all, and the links. */
    snprintf(want, sizeof want, "%d", me);
    probe_dir("/proc (me)", "/proc", want);
    snprintf(want, sizeof want, "%d", child);
    probe_dir("/proc (child)", "/proc", want);
    probe_dir("/proc (self)", "/proc", "self");
    probe_dir("/proc (thread-self)", "/proc", "thread-self");
    char buf[256];
    ssize_t n = readlink("/proc/self", buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    snprintf(want, sizeof want, "%d", me);
    printf("/proc/self is my pid: %s\n", yes(!strcmp(buf, want)));
    n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    printf("/proc/self/exe is this program: %s\n", yes(n > 0 && strstr(buf, "procfs_probe") != NULL));
    char cwd[256];
    n = readlink("/proc/self/cwd", buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    printf("/proc/self/cwd is the cwd: %s\n", yes(getcwd(cwd, sizeof cwd) && !strcmp(buf, cwd)));
    int count = 0;
    snprintf(want, sizeof want, "%d", thread_tid);
    printf("/proc/self/task has both threads: %s\n", yes(lists("/proc/self/task", want, &count) == 1 && count == 2));

    probe_process("self", me, thread_tid);
    probe_process("child", child, child);

    /* The child's view: its parent, its state (sleeping, once it waits on its pipe), its arguments. */
    int sleeping = 0;
    for (int i = 0; i < 2000 && !sleeping; i++) {
        sleeping = !strcmp(stat_field(child, 3), "S");
        if (!sleeping) pause_ms(1);
    }
    snprintf(want, sizeof want, "%d", me);
    printf("child stat: ppid is me: %s, state S: %s\n", yes(!strcmp(stat_field(child, 4), want)), yes(sleeping));
    printf("child status: PPid is me: %s\n", yes(!strcmp(status_field(child, "PPid"), want)));
    printf("my stat: state R: %s\n", yes(!strcmp(stat_field(me, 3), "R")));
    long mine = slurp("/proc/self/cmdline");
    char self_cmd[256];
    memcpy(self_cmd, text, mine > 0 ? (size_t)mine : 0);
    snprintf(path, sizeof path, "/proc/%d/cmdline", child);
    long theirs = slurp(path);
    printf("child cmdline is mine: %s\n", yes(mine > 0 && theirs == mine && !memcmp(text, self_cmd, (size_t)mine)));

    /* The zombie: state Z until waited for, then gone. */
    int z = 0;
    for (int i = 0; i < 3000 && !z; i++) {
        z = !strcmp(stat_field(zombie, 3), "Z");
        if (!z) pause_ms(1);
    }
    printf("zombie stat: state Z: %s\n", yes(z));
    printf("zombie status: State Z (zombie): %s\n", yes(!strcmp(status_field(zombie, "State"), "Z (zombie)")));
    snprintf(path, sizeof path, "/proc/%d/cmdline", zombie);
    probe_file("zombie/cmdline", path);
    snprintf(path, sizeof path, "/proc/%d/exe", zombie);
    probe_link("zombie/exe", path);
    int ws;
    CHECK(waitpid(zombie, &ws, 0) == zombie && WIFEXITED(ws) && WEXITSTATUS(ws) == 3);
    snprintf(path, sizeof path, "/proc/%d/stat", zombie);
    probe_file("reaped/stat", path);

    /* Done: the child and the thread go. */
    CHECK(write(block[1], "x", 1) == 1);
    CHECK(waitpid(child, &ws, 0) == child && WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    CHECK(write(thread_pipe[1], "x", 1) == 1);
    CHECK(pthread_join(th, NULL) == 0);
    printf("done\n");
    return 0;
}
