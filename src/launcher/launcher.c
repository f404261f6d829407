/*
 * torov's launcher: the `torov` command (bin/torov, built from this file by
 * `make -C src/launcher`; the static binary is committed so that installing torov needs
 * no compiler).
 *
 * Why a native program. The VM monitor is Node.js, and Node always runs several threads,
 * so it cannot enter a new user or mount namespace itself (unshare(2) refuses a threaded
 * process). The namespaces must exist before Node starts, and a new PID namespace needs
 * a fork. So this program, still single-threaded, creates the namespaces with clone(2),
 * and the child executes Node once, inside them. The parent stays outside, as the
 * process the user sees:
 *
 *   torov (this program)  ──clone(NEWUSER|NEWNS|NEWPID|NEWNET|NEWIPC|NEWUTS)──►  node torov.js
 *     forwards signals, enforces --timeout,                                     (the VMM: pid 1 of
 *     relays the exit status                                                      its namespace)
 *
 * What it guarantees, whatever happens to either process:
 *  - SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH sent to torov reach
 *    the VMM (src/vmm/host-signals.ts counts them; signals that come from the terminal
 *    reach it directly, as its process group is the terminal's); SIGTSTP stops both.
 *  - The VMM dies with this process: its parent-death signal is SIGKILL, sent by this
 *    process's death (a SIGKILL from an ancestor namespace reaches even a PID 1), and
 *    the control socket it holds reads end-of-file.
 *  - --timeout: the VMM stops itself at the deadline (exit status 124); should it not,
 *    this process kills it a grace period later.
 *
 * It decides as little as it can. It only looks at the command line for what must be
 * known before Node starts (is this a run, --no-sandbox, --network host, --help) and
 * passes the rest to Node unchanged. What it created is told to the VMM through an
 * inherited socket (fd 3), never through the environment; the VMM checks it against its
 * own options and policy, and when they need something else (the host's network, no PID
 * namespace, a gdb socket on the host's network) it asks for a restart with those
 * settings, once. Everything a user can get wrong is reported by the VMM, in one line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <time.h>
#include <unistd.h>

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

/* Exit statuses (README, "Exit status"). */
enum { ST_TOROV = 125, ST_TIMEOUT = 124 };

/* The VMM's fds: its end of the control socket, and the gdb socket when there is one. */
enum { FD_CTL = 3, FD_GDB = 4, FD_IPC = 5 };

/* After the VMM's own deadline, how long it has to stop by itself (ms). */
#define TIMEOUT_GRACE_MS 2000

static const char *self_name = "torov";

/* Standard fds closed when torov started (see hold_closed_stdio). */
static int closed_stdio;
/* A serve worker's channel to its front (Node's IPC channel, NODE_CHANNEL_FD), or -1. */
static int ipc_fd = -1;

static void say(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n < 0) return;
	if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
	buf[n++] = '\n';
	for (int off = 0; off < n;) {
		ssize_t w = write(2, buf + off, n - off);
		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) return;
		off += w;
	}
}

/* Finding Node and torov's JavaScript entry: package_dir, find_node. */
#include "node.h"

/* ---- What the command line asks for ------------------------------------------------ */

/*
 * The options of `torov run` and `torov policy learn` that take a value (src/cli/args.ts,
 * RUN_OPTIONS, plus learn's --out; test/unit/launcher.test.ts checks that they agree).
 * Knowing them is enough to find where the program starts, so that the program's own
 * arguments are never read as torov's.
 */
static const char *const VALUE_LONG[] = {
	/* launcher-options: begin */
	"memory", "policy", "env", "trace-file", "volume", "user", "timeout", "syscall-path",
	"network", "workdir", "rootfs", "gdb", "out", "cpus", "threads", "pids", "oci-sync",
	"port", "host", "concurrency", "queue", "max-body", "log-format", "restore", "at", "output",
	"code-cache-out", "workers",
	/* launcher-options: end */
	NULL,
};
static const char VALUE_SHORT[] = "mpevuwo";

struct request {
	int run;          /* torov run / serve / snapshot / policy learn (else: any other command, run in-process) */
	int learn;        /* torov policy learn: the launcher writes the learned policy to... */
	char out[PATH_MAX];   /* ...this file (--out, or PROGRAM's name + .policy.json) */
	int sandbox;      /* no --no-sandbox */
	int net;          /* a new network namespace (no --network host) */
	int pid;          /* a new PID namespace */
	int gdb_family;   /* 4 or 6: create a listening socket on the host's network for gdb */
	unsigned char gdb_addr[16];
	int gdb_port;
	int worker;       /* torov serve --serve-worker: a worker of `serve --workers N`'s front (src/serve/front.ts) */
};

static int takes_value(const char *name, size_t len)
{
	for (const char *const *v = VALUE_LONG; *v; v++)
		if (strlen(*v) == len && memcmp(*v, name, len) == 0) return 1;
	return 0;
}

/*
 * Reads what must be known before Node starts. Anything it does not understand ends the
 * scan: the VMM parses the command line fully, reports errors, and asks for a restart
 * should the namespaces not fit.
 */
static void scan(int argc, char **argv, struct request *rq)
{
	memset(rq, 0, sizeof *rq);
	rq->sandbox = rq->net = rq->pid = 1;
	int i = 1;
	if (argc > 1 && (strcmp(argv[1], "run") == 0 || strcmp(argv[1], "serve") == 0 || strcmp(argv[1], "snapshot") == 0)) i = 2;
	else if (argc > 2 && strcmp(argv[1], "policy") == 0 && strcmp(argv[2], "learn") == 0) { i = 3; rq->learn = 1; }
	else return;
	rq->run = 1;
	const char *out = NULL;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0 || a[0] != '-' || a[1] == 0) {
			if (strcmp(a, "--") == 0) i++;
			break;
		}
		if (a[1] == '-') {
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			const char *value = eq ? eq + 1 : NULL;
			if (takes_value(name, len) && !value) value = i + 1 < argc ? argv[++i] : "";
			if (len == 4 && memcmp(name, "help", 4) == 0) { rq->run = 0; return; }
			if (len == 10 && memcmp(name, "no-sandbox", 10) == 0) rq->sandbox = 0;
			if (len == 7 && memcmp(name, "network", 7) == 0 && value) rq->net = strcmp(value, "host") != 0;
			if (len == 3 && memcmp(name, "out", 3) == 0 && value) out = value;
			/* serve --workers N (N > 1): the front, which starts N workers through this
			   launcher, runs as the other commands do (no namespaces: it only listens). */
			if (len == 7 && memcmp(name, "workers", 7) == 0 && value && strcmp(argv[1], "serve") == 0 && atoi(value) > 1) { rq->run = 0; return; }
			if (len == 12 && memcmp(name, "serve-worker", 12) == 0 && strcmp(argv[1], "serve") == 0) rq->worker = 1;
		} else {
			if (a[1] == 'h') { rq->run = 0; return; }
			const char *value = a[2] ? a + 2 : NULL;
			if (strchr(VALUE_SHORT, a[1]) && !value) value = i + 1 < argc ? argv[++i] : "";
			if (a[1] == 'o' && value) out = value;
		}
	}
	if (rq->learn) {
		/* As src/cli/main.ts names it: --out, else the program's base name + .policy.json. */
		if (out) snprintf(rq->out, sizeof rq->out, "%s", out);
		else if (i < argc) {
			char prog[PATH_MAX];
			snprintf(prog, sizeof prog, "%s", argv[i]);
			size_t n = strlen(prog);
			while (n > 1 && prog[n - 1] == '/') prog[--n] = 0;
			const char *base = strrchr(prog, '/');
			base = base && base[1] ? base + 1 : prog;
			size_t len = strlen(base);
			if (len + 13 <= sizeof rq->out) {
				memcpy(rq->out, base, len);
				memcpy(rq->out + len, ".policy.json", 13);
			}
		}
	}
}

/* ---- The child: namespaces, then Node ---------------------------------------------- */

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) return -errno;
	ssize_t n = write(fd, text, strlen(text));
	int err = n < 0 ? -errno : 0;
	close(fd);
	return err;
}

/*
 * The user namespace's id maps, written from outside (this process). Started by root, the
 * identity map: ids mean what they mean on the host, and the VMM takes the identity the
 * run needs (the owner of its writable volume, --user, or nobody) with no capability
 * outside its namespace. Otherwise root inside is the user outside, as unshare
 * --map-root-user does, the only map an unprivileged user may write.
 */
static int write_id_maps(pid_t child, int root)
{
	char path[64], map[64];
	int err;
	if (root) {
		snprintf(path, sizeof path, "/proc/%d/uid_map", child);
		if ((err = write_file(path, "0 0 4294967295\n"))) return err;
		snprintf(path, sizeof path, "/proc/%d/gid_map", child);
		return write_file(path, "0 0 4294967295\n");
	}
	snprintf(path, sizeof path, "/proc/%d/uid_map", child);
	snprintf(map, sizeof map, "0 %u 1\n", (unsigned)geteuid());
	if ((err = write_file(path, map))) return err;
	snprintf(path, sizeof path, "/proc/%d/setgroups", child);
	if ((err = write_file(path, "deny\n")) && err != -ENOENT) return err;
	snprintf(path, sizeof path, "/proc/%d/gid_map", child);
	snprintf(map, sizeof map, "0 %u 1\n", (unsigned)getegid());
	return write_file(path, map);
}

static const int FORWARDED[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH };
#define NFORWARDED (int)(sizeof FORWARDED / sizeof FORWARDED[0])

static void launcher_signals(sigset_t *set)
{
	sigemptyset(set);
	for (int i = 0; i < NFORWARDED; i++) sigaddset(set, FORWARDED[i]);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGTSTP);
	sigaddset(set, SIGCONT);
}

/*
 * A first seccomp filter, installed in the sandboxed child before Node starts: io_uring_setup
 * fails with ENOSYS, so libuv (Node 22 and later) keeps to epoll and plain system calls. An
 * io_uring made before the VMM's own filter would let io_uring_enter perform operations
 * no seccomp filter sees; the VMM's filter forbids io_uring_enter, and a libuv that had a
 * ring would be killed using it. struct sock_filter and the constants are from
 * <linux/filter.h>, <linux/seccomp.h> and <linux/audit.h>.
 */
static int refuse_io_uring(void)
{
	struct bpf { unsigned short code; unsigned char jt, jf; unsigned k; };
	struct prog { unsigned short len; struct bpf *filter; };
	enum { LD_W_ABS = 0x20, JEQ_K = 0x15, RET_K = 0x06 };
	const unsigned ARCH_X86_64 = 0xc000003e, RET_ALLOW = 0x7fff0000, RET_ERRNO = 0x00050000, NR_IO_URING_SETUP = 425;
	struct bpf code[] = {
		{ LD_W_ABS, 0, 0, 4 },                          /* seccomp_data.arch */
		{ JEQ_K, 1, 0, ARCH_X86_64 },
		{ RET_K, 0, 0, RET_ALLOW },                     /* (the VMM's own filter kills other ABIs) */
		{ LD_W_ABS, 0, 0, 0 },                          /* seccomp_data.nr */
		{ JEQ_K, 0, 1, NR_IO_URING_SETUP },
		{ RET_K, 0, 0, RET_ERRNO | ENOSYS },
		{ RET_K, 0, 0, RET_ALLOW },
	};
	struct prog p = { sizeof code / sizeof code[0], code };
	return prctl(22 /* PR_SET_SECCOMP */, 2 /* SECCOMP_MODE_FILTER */, &p, 0, 0);
}

/* In the child, after clone: never returns. */
static void child_exec(const char *node, char **args, int ctl, int gdb, int go, int sandbox)
{
	/* Dies with the launcher; and if the launcher is already gone, stops here. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	char byte;
	ssize_t n;
	do n = read(go, &byte, 1); while (n < 0 && errno == EINTR);
	if (n != 1) _exit(ST_TOROV);           /* the launcher died, or could not set up the namespaces */
	close(go);
	if (sandbox && refuse_io_uring() < 0) {
		say("%s: cannot install the sandbox's first seccomp filter: %s", self_name, strerror(errno));
		_exit(ST_TOROV);
	}
	/* The VMM starts with no signal blocked, default actions (SIGPIPE too), and only its own fds. */
	signal(SIGPIPE, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (ctl != FD_CTL) {
		if (dup2(ctl, FD_CTL) < 0) _exit(ST_TOROV);
	} else {
		fcntl(FD_CTL, F_SETFD, 0);
	}
	if (gdb >= 0) {
		if (dup2(gdb, FD_GDB) < 0) _exit(ST_TOROV);
	}
	int first = gdb >= 0 ? FD_GDB + 1 : FD_GDB;
	/* A serve worker's channel to its front goes on as fd 5, named to Node as its IPC
	   channel; any other NODE_CHANNEL_FD a caller set would name the wrong fd (3 is the
	   launcher's socket), so it is removed. */
	unsetenv("NODE_CHANNEL_FD");
	unsetenv("NODE_CHANNEL_SERIALIZATION_MODE");
	if (ipc_fd >= 0) {
		if (gdb < 0) close(FD_GDB);
		if (dup2(ipc_fd, FD_IPC) < 0 || setenv("NODE_CHANNEL_FD", "5", 1) < 0) _exit(ST_TOROV);
		first = FD_IPC + 1;
	}
	if (syscall(SYS_close_range, first, ~0U, 0) < 0)
		for (int fd = first; fd < 1024; fd++) close(fd);
	execv(node, args);
	say("%s: cannot run %s: %s", self_name, node, strerror(errno));
	_exit(ST_TOROV);
}

/* A listening TCP socket for the gdb stub, on the host's network (before the VMM's own). */
static int gdb_listen(const struct request *rq, int *err)
{
	int fd = socket(rq->gdb_family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) { *err = errno; return -1; }
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	/* Accepted sockets inherit it; the VMM cannot set it under its seccomp filter. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	int r;
	if (rq->gdb_family == 6) {
		struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(rq->gdb_port) };
		memcpy(&sa.sin6_addr, rq->gdb_addr, 16);
		r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	} else {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(rq->gdb_port) };
		memcpy(&sa.sin_addr, rq->gdb_addr, 4);
		r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	}
	if (r == 0) r = listen(fd, 1);
	if (r < 0) { *err = errno; close(fd); return -1; }
	return fd;
}

/* ---- Advice when the namespaces cannot be had -------------------------------------- */

static int read_int_file(const char *path, long *v)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0) return -1;
	buf[n] = 0;
	*v = strtol(buf, NULL, 10);
	return 0;
}

static void namespace_advice(int root, int err)
{
	if (root) {
		say("%s: cannot create the sandbox's namespaces (%s). Is torov running inside a container that forbids namespaces? "
		    "Run it with --no-sandbox to debug only.", self_name, strerror(err));
		return;
	}
	const char *why = "";
	long v;
	if (read_int_file("/proc/sys/kernel/unprivileged_userns_clone", &v) == 0 && v == 0)
		why = " (sysctl kernel.unprivileged_userns_clone=1)";
	if (read_int_file("/proc/sys/user/max_user_namespaces", &v) == 0 && v == 0)
		why = " (sysctl user.max_user_namespaces=10000)";
	if (read_int_file("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", &v) == 0 && v == 1 && !*why)
		why = " (Ubuntu: sysctl kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile for torov)";
	say("%s: cannot create the sandbox's namespaces (no user namespace for this user). Unprivileged user namespaces must be "
	    "enabled%s, or run torov as root; --no-sandbox turns the sandbox off (debugging only).", self_name, why);
}

/* ---- Messages from the VMM --------------------------------------------------------- */

/* The most cgroup directories a run has: one per v1 hierarchy (memory, pids, cpu, cpuacct) and v2's. */
#define MAX_CGROUPS 8

struct state {
	pid_t child;
	const struct request *rq;
	char *learned;             /* policy learn: the policy the VMM sent, for the launcher to write */
	size_t learned_len, learned_cap;
	int learning;
	char learned_summary[PATH_MAX + 256];
	int learned_done;
	int ready;                 /* the VMM handles forwarded signals */
	unsigned pending;          /* forwarded signals that came before it did (bit per FORWARDED index) */
	long long start_ms;        /* when torov started (CLOCK_MONOTONIC): --timeout counts from here */
	long long deadline_ms;     /* kill the VMM at this monotonic time (0: none) */
	char cgroups[MAX_CGROUPS][PATH_MAX]; /* the run's cgroups (src/sandbox/cgroup.ts), removed at the end */
	int ncgroups;
	char back[MAX_CGROUPS][PATH_MAX];    /* for each of them this process joined (OCI runs): the cgroup it came from, else "" */
	long cpu_limit;            /* rlimits.cpuSeconds of the run, 0 if none */
	char timeout_text[256];
	int timed_out;
	int restart;
	struct request next;
	struct rusage usage;       /* the VMM's, when it ended */
	int ctl;                   /* the control socket (replies to "join") */
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	return -1;
}

/* "restart net=0|1 pid=0|1 [gdb=4|6,HEXADDR,PORT]": the settings the VMM needs. */
static int parse_restart(const char *m, struct request *rq)
{
	const char *p = m + 7;
	while (*p) {
		while (*p == ' ') p++;
		if (!*p) break;
		if (strncmp(p, "net=", 4) == 0) rq->net = p[4] == '1';
		else if (strncmp(p, "pid=", 4) == 0) rq->pid = p[4] == '1';
		else if (strncmp(p, "gdb=", 4) == 0) {
			p += 4;
			rq->gdb_family = *p == '6' ? 6 : 4;
			if (p[1] != ',') return -1;
			p += 2;
			int len = rq->gdb_family == 6 ? 16 : 4;
			for (int i = 0; i < len; i++) {
				int hi = hexval(p[0]), lo = hi < 0 ? -1 : hexval(p[1]);
				if (lo < 0) return -1;
				rq->gdb_addr[i] = (unsigned char)(hi * 16 + lo);
				p += 2;
			}
			if (*p != ',') return -1;
			rq->gdb_port = atoi(p + 1);
			if (rq->gdb_port < 0 || rq->gdb_port > 65535) return -1;
		} else {
			return -1;
		}
		while (*p && *p != ' ') p++;
	}
	return 0;
}

/* A cgroup directory the VMM made for this run: on a cgroup filesystem, named torov-<our pid>. */
static int our_cgroup(const char *d)
{
	char name[32];
	snprintf(name, sizeof name, "/torov-%d", (int)getpid());
	size_t n = strlen(d), k = strlen(name);
	if (d[0] != '/' || n >= PATH_MAX || n <= k || strcmp(d + n - k, name) != 0) return 0;
	if (strstr(d, "/../") || strstr(d, "/./") || strstr(d, "//")) return 0;
	struct statfs sf;
	if (statfs(d, &sf) < 0) return 0;
	return sf.f_type == 0x27e0eb /* CGROUP_SUPER_MAGIC */ || sf.f_type == 0x63677270 /* CGROUP2_SUPER_MAGIC */;
}

/* The value of `key` in a cgroup file of "key value" lines (memory.events, memory.oom_control), or -1. */
static long cgroup_counter(const char *dir, const char *file, const char *key)
{
	char path[PATH_MAX + 64], buf[4096];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0) return -1;
	buf[n] = 0;
	size_t k = strlen(key);
	for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (strncmp(l, key, k) == 0 && l[k] == ' ') return strtol(l + k + 1, NULL, 10);
	return -1;
}

/* True if the memory cgroup of the run killed a process for being over its limit. */
static int cgroup_oom_killed(const struct state *s)
{
	for (int i = 0; i < s->ncgroups; i++) {
		if (cgroup_counter(s->cgroups[i], "memory.events", "oom_kill") > 0) return 1;          /* v2 */
		if (cgroup_counter(s->cgroups[i], "memory.oom_control", "oom_kill") > 0) return 1;     /* v1 */
	}
	return 0;
}

/* Writes a pid into a cgroup's cgroup.procs (moves that process there): 0 or an errno. */
static int move_to(const char *dir, pid_t pid)
{
	char path[PATH_MAX + 16], text[16];
	snprintf(path, sizeof path, "%s/cgroup.procs", dir);
	int len = snprintf(text, sizeof text, "%d", (int)pid);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) return errno;
	int err = write(fd, text, len) == len ? 0 : errno;
	close(fd);
	return err;
}

/* True if this process is listed in cgroup `dir` (its cgroup.procs). */
static int in_cgroup(const char *dir)
{
	char path[PATH_MAX + 16], buf[4096], line[16];
	snprintf(path, sizeof path, "%s/cgroup.procs", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC), found = 0;
	if (fd < 0) return 0;
	snprintf(line, sizeof line, "%d", (int)getpid());
	size_t want = strlen(line), have = 0;
	char cur[16];
	ssize_t n;
	while (!found && (n = read(fd, buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < n && !found; i++) {
			if (buf[i] != '\n') { if (have < sizeof cur) cur[have] = buf[i]; have++; continue; }
			found = have == want && memcmp(cur, line, want) == 0;
			have = 0;
		}
	close(fd);
	return found;
}

/*
 * An OCI run (torov-oci): this process is the container's process the runtime's caller
 * knows, and containerd's shim takes the cgroups of that process for the container's
 * statistics (ctr task metrics, kubectl top) and OOM events. So it joins the run's cgroup
 * `d` too, once it knows where it will go back to at the end (a cgroup with a process in
 * it cannot be removed): the cgroup it is in, which is where the VMM made the run's, d's
 * parent, or the leaf torov-<pid>.launcher next to it where the VMM moved it (cgroup v2,
 * src/sandbox/cgroup.ts). Where it is neither, it stays. Best effort: the run is bounded
 * by the VMM's membership alone; this one is for the figures.
 */
static void join_self(struct state *s, int i)
{
	char from[PATH_MAX];
	if (s->back[i][0]) return;                               /* joined already (a restarted VMM's "join") */
	snprintf(from, sizeof from, "%s", s->cgroups[i]);
	char *slash = strrchr(from, '/');
	if (!slash || slash == from) return;
	*slash = 0;
	size_t len = strlen(from);
	snprintf(from + len, sizeof from - len, "/torov-%d.launcher", (int)getpid());
	if (!in_cgroup(from)) {
		from[len] = 0;
		if (!in_cgroup(from)) return;
	}
	if (move_to(s->cgroups[i], getpid()) == 0) snprintf(s->back[i], PATH_MAX, "%s", from);
}

/* Removes the run's cgroups (empty once the VMM is gone, a moment after its last thread,
   and this process has gone back to where it came from). */
static void remove_cgroups(struct state *s)
{
	for (int i = 0; i < s->ncgroups; i++) {
		if (s->back[i][0] && move_to(s->back[i], getpid()) != 0) {
			/* Cannot leave it (the cgroup it came from is gone?): the parent, else it stays,
			   empty once this process exits, for a later run to remove (cgroup.ts removeStale). */
			char *slash = strrchr(s->cgroups[i], '/');
			*slash = 0;
			int err = move_to(s->cgroups[i], getpid());
			*slash = '/';
			if (err) continue;
		}
		s->back[i][0] = 0;
		for (int tries = 0; rmdir(s->cgroups[i]) < 0 && errno == EBUSY && tries < 50; tries++) {
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	s->ncgroups = 0;
}

/* The host's count of OOM kills (/proc/vmstat oom_kill), or -1. */
static long host_oom_kills(void)
{
	char buf[16384];
	int fd = open("/proc/vmstat", O_RDONLY | O_CLOEXEC);
	if (fd < 0) return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0) return -1;
	buf[n] = 0;
	char *p = strstr(buf, "\noom_kill ");
	return p ? strtol(p + 10, NULL, 10) : -1;
}

/* SIGKILL, SIGSEGV...: the name of a signal (musl has no sigabbrev_np). */
static const char *signame(int sig)
{
	static const char *const names[] = { "0", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS",
		"SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD",
		"SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF",
		"SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS" };
	static char buf[16];
	if (sig > 0 && sig < (int)(sizeof names / sizeof names[0])) return names[sig];
	snprintf(buf, sizeof buf, "signal %d", sig);
	return buf;
}

static void forward(struct state *s, int i)
{
	if (s->ready) kill(s->child, FORWARDED[i]);
	else s->pending |= 1u << i;
}

static void on_message(struct state *s, char *m, ssize_t n)
{
	m[n] = 0;
	if (strcmp(m, "ready") == 0) {
		s->ready = 1;
		for (int i = 0; i < NFORWARDED; i++)
			if (s->pending & (1u << i)) kill(s->child, FORWARDED[i]);
		s->pending = 0;
	} else if (strncmp(m, "timeout ", 8) == 0) {
		char *text;
		long long ms = strtoll(m + 8, &text, 10);
		if (ms > 0) {
			s->deadline_ms = s->start_ms + ms + TIMEOUT_GRACE_MS;
			snprintf(s->timeout_text, sizeof s->timeout_text, "%s", *text == ' ' ? text + 1 : "torov: timeout");
		}
	} else if (strcmp(m, "learn-begin") == 0 && s->rq->learn) {
		s->learning = 1;
		s->learned_len = 0;
	} else if (strncmp(m, "learn-data:", 11) == 0 && s->learning) {
		size_t len = (size_t)n - 11;
		if (s->learned_len + len > (64u << 20)) { s->learning = 0; return; }   /* no policy is that large */
		if (s->learned_len + len > s->learned_cap) {
			size_t cap = (s->learned_len + len) * 2;
			char *p = realloc(s->learned, cap);
			if (!p) { s->learning = 0; return; }
			s->learned = p;
			s->learned_cap = cap;
		}
		memcpy(s->learned + s->learned_len, m + 11, len);
		s->learned_len += len;
	} else if (strncmp(m, "learn-end ", 10) == 0 && s->learning) {
		s->learning = 0;
		s->learned_done = 1;
		size_t len = strnlen(m + 10, sizeof s->learned_summary - 1);
		memcpy(s->learned_summary, m + 10, len);
		s->learned_summary[len] = 0;
	} else if (strncmp(m, "cgroup ", 7) == 0 && !s->ready && s->ncgroups == 0) {
		/* Before the guest runs (so still torov's own code): the cgroups the VMM made for
		   the run. Each is checked to be one of ours all the same, as the launcher removes it. */
		char *save = NULL;
		for (char *d = strtok_r(m + 7, " ", &save); d && s->ncgroups < MAX_CGROUPS; d = strtok_r(NULL, " ", &save))
			if (our_cgroup(d)) snprintf(s->cgroups[s->ncgroups++], PATH_MAX, "%s", d);
	} else if ((strncmp(m, "join ", 5) == 0 || strncmp(m, "join-oci ", 9) == 0) && !s->ready) {
		/* Moves the VMM into the run's cgroups (each one it named in "cgroup" before). The
		   first move into a cgroup waits for an RCU grace period (10-20 ms): here it
		   overlaps with the VMM's own start instead of stopping it. Replies "joined" and
		   an errno per directory, in order; the VMM waits for it before its guest runs.
		   "join-oci": this process joins them too (join_self), before the reply, so before
		   the VMM tells torov-oci create that it is ready (a move right after another
		   costs no second grace period). */
		int oci = m[4] == '-';
		char reply[128] = "joined", *save = NULL;
		for (char *d = strtok_r(m + (oci ? 9 : 5), " ", &save); d; d = strtok_r(NULL, " ", &save)) {
			int err = EPERM;
			for (int i = 0; i < s->ncgroups; i++) {
				if (strcmp(d, s->cgroups[i]) != 0) continue;
				err = move_to(d, s->child);
				if (err == 0 && oci) join_self(s, i);
				break;
			}
			size_t used = strlen(reply);
			snprintf(reply + used, sizeof reply - used, " %d", err);
		}
		send(s->ctl, reply, strlen(reply), MSG_NOSIGNAL);
	} else if (strncmp(m, "limits cpu=", 11) == 0 && !s->ready) {
		s->cpu_limit = strtol(m + 11, NULL, 10);
	} else if (strncmp(m, "restart", 7) == 0) {
		struct request rq = s->next;
		if (parse_restart(m, &rq) == 0) { s->next = rq; s->restart = 1; }
	}
}

/*
 * policy learn: the learned policy is written here, outside the sandbox and with the
 * rights of the user who started torov, to the one file the command line names (the
 * VMM may run as another user, and its jail has no view of that path).
 */
static void write_learned(struct state *s)
{
	const char *out = s->rq->out;
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t off = 0;
	while (fd >= 0 && off < s->learned_len) {
		ssize_t w = write(fd, s->learned + off, s->learned_len - off);
		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) { int e = errno; close(fd); fd = -1; errno = e; break; }
		off += w;
	}
	if (fd < 0 || close(fd) < 0) {
		say("%s: policy learn: cannot write %s: %s", self_name, out, strerror(errno));
		return;
	}
	say("%s", s->learned_summary);
}

/* Runs one VMM to its end; returns its wait status, or -1 with the status to exit with in *exit_status. */
/* Handles every message waiting on the control socket. False once the VMM closed it. */
static int drain(struct state *s, int ctl)
{
	static char m[65536];
	for (;;) {
		ssize_t n = recv(ctl, m, sizeof m - 1, MSG_DONTWAIT);
		if (n > 0) { on_message(s, m, n); continue; }
		/* ECONNRESET: the VMM ended with a reply of ours unread (a "joined" before its
		   restart request). The kernel reports that once, before the messages still
		   queued: they count all the same (a lost "restart" ended a --gdb run silently). */
		if (n < 0 && (errno == EINTR || errno == ECONNRESET)) continue;
		return n < 0 && errno == EAGAIN;
	}
}

static int supervise(struct state *s, int sfd, int ctl)
{
	struct pollfd pf[2] = { { .fd = sfd, .events = POLLIN }, { .fd = ctl, .events = POLLIN } };
	for (;;) {
		int timeout = -1;
		if (s->deadline_ms) {
			long long left = s->deadline_ms - now_ms();
			if (left <= 0) {
				/* The VMM did not stop at its deadline: stop it here. */
				kill(s->child, SIGKILL);
				s->timed_out = 1;
				s->deadline_ms = 0;
				continue;
			}
			timeout = left > INT_MAX ? INT_MAX : (int)left;
		}
		int r = poll(pf, pf[1].fd >= 0 ? 2 : 1, timeout);
		if (r < 0 && errno != EINTR) return -1;
		if (r <= 0) continue;
		if (pf[1].fd >= 0 && pf[1].revents && !drain(s, ctl)) pf[1].fd = -1;   /* the VMM closed it */
		if (pf[0].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) != sizeof si) continue;
			int sig = (int)si.ssi_signo;
			if (sig == SIGCHLD) {
				int status;
				pid_t w = wait4(s->child, &status, WNOHANG, &s->usage);
				if (w != s->child) continue;
				/* What the VMM said before it ended (the cgroups it made, a restart) counts,
				   though its end and its messages came in the same wake-up. */
				if (pf[1].fd >= 0) drain(s, ctl);
				return status;
			}
			if (sig == SIGTSTP) {
				/* Job control: the VMM (a PID 1 ignores SIGTSTP) stops with us. */
				kill(s->child, SIGSTOP);
				kill(getpid(), SIGSTOP);
				continue;
			}
			if (sig == SIGCONT) { kill(s->child, SIGCONT); continue; }
			for (int i = 0; i < NFORWARDED; i++) {
				if (FORWARDED[i] != sig) continue;
				/* Signals from the terminal (^C, ^\, a resize, a hangup) reached the VMM too:
				   it is in the terminal's process group. Before it handles them, pass them on. */
				if (si.ssi_code == SI_KERNEL && s->ready) break;
				forward(s, i);
			}
		}
	}
}

static int run(int argc, char **argv, const char *node, const char *entry, struct request rq, long long start_ms)
{
	int root = geteuid() == 0;
	sigset_t set;
	launcher_signals(&set);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) { say("%s: sigprocmask: %s", self_name, strerror(errno)); return ST_TOROV; }
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0) { say("%s: signalfd: %s", self_name, strerror(errno)); return ST_TOROV; }
	signal(SIGPIPE, SIG_IGN);

	struct state s;
	memset(&s, 0, sizeof s);
	s.rq = &rq;
	s.start_ms = start_ms;
	long oom_at_start = host_oom_kills();
	int userns = rq.sandbox;
	for (int attempt = 0;; attempt++) {
		int sp[2], go[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0 || pipe2(go, O_CLOEXEC) < 0) {
			say("%s: socketpair: %s", self_name, strerror(errno));
			return ST_TOROV;
		}
		int gdb = -1, gdb_err = 0;
		if (rq.gdb_family) gdb = gdb_listen(&rq, &gdb_err);
		unsigned long flags = SIGCHLD;
		if (rq.sandbox) {
			flags |= CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
			if (userns) flags |= CLONE_NEWUSER;
			if (rq.net) flags |= CLONE_NEWNET;
			if (rq.pid) flags |= CLONE_NEWPID;
		}
		/* What the VMM gets on fd 3, before anything else: what exists around it. And
		   /dev/kvm's owner and mode as the host sees them, for advice should the VMM
		   fail to open it (in a user namespace, unmapped owners read as nobody). */
		struct stat kvm;
		if (stat("/dev/kvm", &kvm) < 0) { kvm.st_uid = kvm.st_gid = (unsigned)-1; kvm.st_mode = 0; }
		char spec[400];
		int n = snprintf(spec, sizeof spec,
			"{\"v\":1,\"namespaces\":%s,\"userns\":%s,\"idmap\":\"%s\",\"net\":%s,\"pid\":%s,\"gdbFd\":%d,\"gdbErrno\":%d,\"attempt\":%d,"
			"\"kvmUid\":%d,\"kvmGid\":%d,\"kvmMode\":%d,\"t0\":%lld,\"launcherPid\":%d,\"closedStdio\":%d}",
			rq.sandbox ? "true" : "false", (flags & CLONE_NEWUSER) ? "true" : "false",
			!(flags & CLONE_NEWUSER) ? "none" : root ? "identity" : "self",
			(flags & CLONE_NEWNET) ? "true" : "false", (flags & CLONE_NEWPID) ? "true" : "false",
			gdb >= 0 ? FD_GDB : -1, gdb_err, attempt, (int)kvm.st_uid, (int)kvm.st_gid, (int)(kvm.st_mode & 07777),
			start_ms, (int)getpid(), closed_stdio);
		send(sp[0], spec, n, 0);

		char *args[argc + 8];
		int k = 0;
		args[k++] = "node";
		args[k++] = (char *)entry;
		args[k++] = "--launcher=3";
		for (int i = 1; i < argc; i++) args[k++] = argv[i];
		args[k] = NULL;

		pid_t pid = (pid_t)syscall(SYS_clone, flags, 0, 0, 0, 0);
		if (pid == 0) {
			close(sp[0]);
			close(go[1]);
			child_exec(node, args, sp[1], gdb, go[0], rq.sandbox);
		}
		int err = errno;
		close(sp[1]);
		close(go[0]);
		if (gdb >= 0) close(gdb);
		if (pid < 0) {
			close(sp[0]);
			close(go[1]);
			if ((flags & CLONE_NEWUSER) && root && (err == EPERM || err == ENOSPC || err == EINVAL || err == EUSERS)) {
				/* A root whose host forbids user namespaces: the VMM then leaves root itself. */
				userns = 0;
				attempt--;
				continue;
			}
			if (rq.sandbox) namespace_advice(root, err);
			else say("%s: cannot start the VMM: %s", self_name, strerror(err));
			return ST_TOROV;
		}
		s.child = pid;
		s.ready = 0;
		s.restart = 0;
		s.next = rq;
		if (flags & CLONE_NEWUSER) {
			int e = write_id_maps(pid, root);
			if (e) {
				kill(pid, SIGKILL);
				waitpid(pid, NULL, 0);
				namespace_advice(root, -e);
				return ST_TOROV;
			}
		}
		if (write(go[1], "g", 1) != 1) { /* the child died already; its status tells */ }
		close(go[1]);

		s.ctl = sp[0];
		int status = supervise(&s, sfd, sp[0]);
		close(sp[0]);
		if (status < 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			remove_cgroups(&s);
			return ST_TOROV;
		}
		if (s.restart && attempt == 0 && WIFEXITED(status)) {
			rq = s.next;
			continue;
		}
		if (s.learned_done) write_learned(&s);
		int oom = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && cgroup_oom_killed(&s);
		int had_cgroups = s.ncgroups > 0;
		remove_cgroups(&s);
		if (s.timed_out) {
			say("%s", s.timeout_text);
			return ST_TIMEOUT;
		}
		if (WIFEXITED(status)) return WEXITSTATUS(status);
		if (WIFSIGNALED(status)) {
			/* Whoever killed the VMM, say so truthfully, and why when it can be known:
			   the run's memory cgroup counts its OOM kills, and the kernel kills a process
			   at its CPU-time limit (SIGXCPU, then SIGKILL at the hard limit). */
			int sig = WTERMSIG(status);
			/* CPU time in ms. The kernel kills at the limit by its own count; rusage shows
			   less (890-940 ms at a 1 s limit here, on kvm_pvm), so 80% of the limit counts
			   as reached. A SIGKILL from elsewhere that late in the budget is named so too. */
			long long cpu_ms = (long long)(s.usage.ru_utime.tv_sec + s.usage.ru_stime.tv_sec) * 1000
				+ (s.usage.ru_utime.tv_usec + s.usage.ru_stime.tv_usec) / 1000;
			if (sig == SIGSYS) {
				say("%s: the VMM was killed by its seccomp filter (a host syscall outside the filter): this is a bug in torov, please report it", self_name);
			} else if (sig == SIGXCPU || (sig == SIGKILL && !oom && s.cpu_limit > 0 && cpu_ms >= s.cpu_limit * 800LL)) {
				say("%s: the VMM was killed by %s (CPU-time limit reached: rlimits.cpuSeconds is %ld)", self_name, signame(sig), s.cpu_limit);
				return 128 + SIGXCPU;
			} else if (oom) {
				say("%s: the VMM was killed by SIGKILL (out of memory: the run's cgroup limit)", self_name);
			} else if (sig == SIGKILL && !had_cgroups && oom_at_start >= 0 && host_oom_kills() > oom_at_start) {
				/* Without a cgroup of its own, the host's OOM killer is what stops a run that grows. */
				say("%s: the VMM was killed by SIGKILL (the kernel's OOM killer ran meanwhile: probably out of memory)", self_name);
			} else if (sig != SIGINT && sig != SIGTERM && sig != SIGHUP && sig != SIGPIPE) {
				say("%s: the VMM was killed by %s", self_name, signame(sig));
			}
			return 128 + sig;
		}
		return ST_TOROV;
	}
}

/*
 * Standard fds the user closed (torov run prog >&-): the program must find them closed too
 * (EBADF, as natively), yet Node reopens closed stdio on /dev/null, and the launcher's own
 * first fds would land there. So they are held on /dev/null here and named to the VMM,
 * which leaves them out of the guest's fd table. Returns the mask of closed fds (bit n: fd n).
 */
static int hold_closed_stdio(void)
{
	int closed = 0;
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
		closed |= 1 << fd;
		int n = open("/dev/null", O_RDWR);
		if (n >= 0 && n != fd) { dup2(n, fd); close(n); }
	}
	return closed;
}

int main(int argc, char **argv)
{
	long long start_ms = now_ms();
	closed_stdio = hold_closed_stdio();
	char pkg[PATH_MAX], node[PATH_MAX], entry[PATH_MAX + 32];
	if (package_dir(pkg, sizeof pkg) < 0) { say("%s: cannot find torov's own directory (/proc/self/exe)", self_name); return ST_TOROV; }
	if (find_node(node, sizeof node) < 0) {
		say("%s: cannot find node on PATH: torov needs Node.js 20 or newer (https://nodejs.org, or your distribution's nodejs package)", self_name);
		return ST_TOROV;
	}
	snprintf(entry, sizeof entry, "%s/bin/torov.js", pkg);

	struct request rq;
	scan(argc, argv, &rq);
	if (rq.run && rq.worker) {
		/* The front (src/serve/front.ts) started this worker with an IPC channel: kept
		   above the fds the launcher makes, for the VMM (child_exec). */
		const char *ch = getenv("NODE_CHANNEL_FD");
		int fd = ch ? atoi(ch) : -1;
		if (fd >= 3 && fcntl(fd, F_GETFD) >= 0) {
			ipc_fd = fcntl(fd, F_DUPFD_CLOEXEC, 10);
			close(fd);
		}
	}
	if (!rq.run) {
		/* Every other command, and --help: Node in this process, no namespaces. */
		char *args[argc + 4];
		int k = 0;
		args[k++] = "node";
		args[k++] = entry;
		args[k++] = "--launcher=none";
		for (int i = 1; i < argc; i++) args[k++] = argv[i];
		args[k] = NULL;
		execv(node, args);
		say("%s: cannot run %s: %s", self_name, node, strerror(errno));
		return ST_TOROV;
	}
	return run(argc, argv, node, entry, rq, start_ms);
}
