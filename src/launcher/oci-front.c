/*
 * torov-oci's native front end: bin/torov-oci, built from this file by
 * `make -C src/launcher` and committed, as bin/torov is.
 *
 * Why a native program. containerd's runc shim runs the runtime once per step of a
 * container's life (`ctr run --rm`: create, start, delete, delete --force; `docker stop`
 * and `ctr task kill`: kill), and every Node.js start costs 50-60 ms on these machines:
 * four of them made `ctr run --rm` of hello take about 0.5 s against runc's 0.12 s. Three
 * of those steps are a few system calls when all goes well, so this program does them:
 *  - `start ID` of a created container: one byte to its start FIFO;
 *  - `kill ID [SIGNAL]` (without --all) of a running one: kill(2) to its process;
 *  - `delete [--force] ID` of one whose process has ended: removing its state directory
 *    (and `delete --force` of one that does not exist: nothing to do).
 * Everything else runs the JavaScript runtime (bin/torov-oci.js, src/oci/main.ts) with the
 * same arguments: every other command, --help, --debug, and every case that is not the
 * plain one (hooks, a paused run, exec'd processes, a container in another state, an
 * unknown option or signal, an error to report). The JavaScript side then decides and
 * reports exactly as it does alone. So this program never reports an error of its own
 * about a container, and it hands over before it has changed anything.
 *
 * What the JavaScript side leaves for it in the container's state directory ROOT/ID:
 *  - `fast`: written with state.json whenever the container is plain (no hooks, never
 *    paused), removed otherwise: "torov-oci-fast 1\n<pid> <start time>\n", the process
 *    the shim waits on and its start time (/proc/PID/stat field 22), so that a reused pid
 *    is not taken for it;
 *  - `started`: made here by `start` (src/oci/main.ts reads it as state.json's `started`).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "node.h"

#define DEFAULT_ROOT "/run/torov-oci"
/* src/oci/config.ts MAX_CONFIG_BYTES; and CREATE_TIMEOUT_MS of src/oci/main.ts. */
#define MAX_CONFIG_BYTES (4 << 20)
#define CREATE_TIMEOUT_MS 60000

/* Runs the JavaScript runtime with our arguments; returns only if it cannot. */
static int hand_over(int argc, char **argv)
{
	char pkg[PATH_MAX], node[PATH_MAX], entry[PATH_MAX + 32];
	if (package_dir(pkg, sizeof pkg) < 0) {
		fprintf(stderr, "torov-oci: cannot find torov's own directory (/proc/self/exe)\n");
		return 1;
	}
	if (find_node(node, sizeof node) < 0) {
		fprintf(stderr, "torov-oci: cannot find node on PATH: torov needs Node.js 20 or newer\n");
		return 1;
	}
	snprintf(entry, sizeof entry, "%s/bin/torov-oci.js", pkg);
	char *args[argc + 2];
	int k = 0;
	args[k++] = "node";
	args[k++] = entry;
	for (int i = 1; i < argc; i++) args[k++] = argv[i];
	args[k] = NULL;
	execv(node, args);
	fprintf(stderr, "torov-oci: cannot run %s: %s\n", node, strerror(errno));
	return 1;
}

/* A container id as src/oci/main.ts checkId accepts it (a single directory name). */
static int valid_id(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 1024) return 0;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || !strchr("_.+-", c))) return 0;
	}
	return 1;
}

/* A signal by number (1-64) or by name (TERM, SIGTERM, sigterm): what parseSignal in
   src/oci/main.ts accepts, but for the real-time names (left to it); 0 if not known. */
static int signal_number(const char *v)
{
	static const struct { const char *name; int n; } names[] = {
		{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "ILL", SIGILL },
		{ "TRAP", SIGTRAP }, { "ABRT", SIGABRT }, { "IOT", SIGIOT }, { "BUS", SIGBUS },
		{ "FPE", SIGFPE }, { "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV },
		{ "USR2", SIGUSR2 }, { "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
		{ "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
		{ "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU }, { "URG", SIGURG },
		{ "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
		{ "WINCH", SIGWINCH }, { "IO", SIGIO }, { "POLL", SIGPOLL }, { "PWR", SIGPWR },
		{ "SYS", SIGSYS },
	};
	if (v[0] >= '0' && v[0] <= '9') {
		long n = 0;
		for (const char *p = v; *p; p++) {
			if (*p < '0' || *p > '9' || n > 64) return 0;
			n = n * 10 + (*p - '0');
		}
		return n >= 1 && n <= 64 ? (int)n : 0;
	}
	const char *name = strncasecmp(v, "SIG", 3) == 0 ? v + 3 : v;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcasecmp(name, names[i].name) == 0) return names[i].n;
	return 0;
}

/* DIR/NAME in out (PATH_MAX bytes); -1 when too long. */
static int path_in(char *out, const char *dir, const char *name)
{
	return snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX ? -1 : 0;
}

/* Reads a small file whole (NUL-terminated); -1 if it cannot. */
static ssize_t read_small(const char *file, char *buf, size_t size)
{
	/* Only a regular file: a FIFO or a device named there (config.json is the image's) is
	   never waited on or given a controlling terminal. */
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) return -1;
	struct stat st;
	ssize_t n = 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) { close(fd); return -1; }
	for (ssize_t r; (size_t)n < size - 1 && (r = read(fd, buf + n, size - 1 - n)) != 0; n += r)
		if (r < 0) { if (errno == EINTR) { r = 0; continue; } close(fd); return -1; }
	close(fd);
	buf[n] = 0;
	return n;
}

/* The container's process as `fast` records it, and its VMM. */
struct fast { long pid; char start[32]; long vmm; };

static int read_fast(const char *dir, struct fast *f)
{
	char file[PATH_MAX], buf[128];
	if (path_in(file, dir, "fast") < 0) return -1;
	if (read_small(file, buf, sizeof buf) < 0) return -1;
	int used = 0;
	if (sscanf(buf, "torov-oci-fast 1\n%ld %31[0-9] %ld\n%n", &f->pid, f->start, &f->vmm, &used) != 3 || used == 0 || buf[used] != 0) return -1;
	return f->pid > 1 && f->pid < (1L << 22) && f->vmm > 1 && f->vmm < (1L << 22) ? 0 : -1;
}

/* /proc/PID/stat: the state letter (field 3), the parent (4) and the start time (22, in
   start: 32 bytes); -1 when the process is gone. */
static int proc_stat(long pid, char *state, long *ppid, char *start)
{
	char file[64], buf[1024];
	snprintf(file, sizeof file, "/proc/%ld/stat", pid);
	if (read_small(file, buf, sizeof buf) < 0) return -1;
	char *p = strrchr(buf, ')');
	if (!p || sscanf(p, ") %c %ld", state, ppid) != 2) return -1;
	p += 2;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p) return -1;
		p++;
	}
	size_t n = strcspn(p, " ");
	if (n == 0 || n >= 32) return -1;
	memcpy(start, p, n);
	start[n] = 0;
	return 0;
}

/* True when the recorded process exists (the same one: its start time matches) and has
   not ended (no zombie): what `same` in src/oci/state.ts checks. */
static int alive(const struct fast *f)
{
	char state, start[32];
	long ppid;
	return proc_stat(f->pid, &state, &ppid, start) == 0 && strcmp(start, f->start) == 0 && state != 'Z' && state != 'X';
}

static int exists(const char *dir, const char *name)
{
	char file[PATH_MAX];
	if (path_in(file, dir, name) < 0) return 1;
	struct stat st;
	return lstat(file, &st) == 0;
}

/* `start`: 0 when done, -1 to hand over (nothing changed). */
static int do_start(const char *dir)
{
	struct fast f;
	if (read_fast(dir, &f) < 0 || !alive(&f) || exists(dir, "started")) return -1;
	char file[PATH_MAX], marker[PATH_MAX];
	if (path_in(file, dir, "start") < 0 || path_in(marker, dir, "started") < 0) return -1;
	/* Non-blocking: without the VMM reading it (not waiting, or gone), this fails (ENXIO). */
	int fd = open(file, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) return -1;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) { close(fd); return -1; }
	ssize_t w;
	do w = write(fd, "s", 1); while (w < 0 && errno == EINTR);
	close(fd);
	if (w != 1) return -1;
	int m = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (m >= 0) close(m);
	return 0;
}

/* `kill ID [SIGNAL]`: 0 when done, -1 to hand over. */
static int do_kill(const char *dir, const char *sig)
{
	int n = sig ? signal_number(sig) : SIGTERM;
	struct fast f;
	if (n == 0 || read_fast(dir, &f) < 0) return -1;
	/* Through a pidfd taken before the check: the signal reaches the process checked, never
	   one that took its pid meanwhile. As the JavaScript side, one that ended is no error. */
	int pfd = (int)syscall(SYS_pidfd_open, (pid_t)f.pid, 0);
	if (pfd < 0 || !alive(&f)) { if (pfd >= 0) close(pfd); return -1; }
	syscall(SYS_pidfd_send_signal, pfd, n, NULL, 0);
	close(pfd);
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st; (void)ftw;
	return (type == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

/*
 * Removes the run cgroups the container's VMM recorded in DIR/cgroups (src/cli/run.ts),
 * which its launcher leaves when it ends by SIGKILL (the CRI plugin's StopPodSandbox):
 * only `torov-<pid>` directories and their v2 `.launcher` leaves, empty ones (rmdir),
 * waiting up to 1 s for the run's last threads to leave them. As removeRunCgroups in
 * src/oci/state.ts.
 */
static void remove_run_cgroups(const char *dir, long pid)
{
	char file[PATH_MAX], buf[8192], name[40];
	if (path_in(file, dir, "cgroups") < 0 || read_small(file, buf, sizeof buf) < 0) return;
	snprintf(name, sizeof name, "/torov-%ld", pid);
	for (char *line = buf, *next; *line; line = next) {
		next = strchr(line, '\n');
		if (!next) break;
		*next++ = 0;
		const char *base = strrchr(line, '/');
		if (line[0] != '/' || !base || strcmp(base, name) != 0 || strstr(line, "/../")) continue;
		char leaf[PATH_MAX];
		if (snprintf(leaf, sizeof leaf, "%s.launcher", line) >= (int)sizeof leaf) continue;
		const char *both[] = { leaf, line };
		/* Only a cgroup (v1 or v2): never a directory elsewhere that a list names. */
		struct statfs fs;
		if (statfs(line, &fs) < 0 || (fs.f_type != 0x27e0eb && fs.f_type != 0x63677270)) continue;
		for (int k = 0; k < 2; k++)
			for (int tries = 0; rmdir(both[k]) < 0 && errno == EBUSY && tries < 100; tries++) {
				struct timespec t = { 0, 10 * 1000 * 1000 };
				nanosleep(&t, NULL);
			}
	}
}

/* `delete [--force] ID`: 0 when done, -1 to hand over. */
static int do_delete(const char *dir, int force)
{
	struct stat st;
	if (lstat(dir, &st) < 0) return force && errno == ENOENT ? 0 : -1;
	struct fast f;
	if (!S_ISDIR(st.st_mode) || read_fast(dir, &f) < 0 || alive(&f)) return -1;
	/* Exec'd processes: the JavaScript side makes sure that none outlives its container. */
	DIR *d = opendir(dir);
	if (!d) return -1;
	int execs = 0;
	for (struct dirent *e; (e = readdir(d));) if (strncmp(e->d_name, "exec-", 5) == 0) execs = 1;
	closedir(d);
	if (execs) return -1;
	remove_run_cgroups(dir, f.pid);
	/* Partly removed on an error: the JavaScript side removes the rest. */
	return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* An absolute path for a path given relative to the working directory; -1 when too long. */
static int absolute(char *out, const char *p)
{
	if (p[0] == '/') return snprintf(out, PATH_MAX, "%s", p) >= PATH_MAX ? -1 : 0;
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof cwd)) return -1;
	return snprintf(out, PATH_MAX, "%s/%s", cwd, p) >= PATH_MAX ? -1 : 0;
}

/* mkdir -p, each new directory with `mode`. */
static int make_dirs(const char *dir, mode_t mode)
{
	char p[PATH_MAX];
	if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) return -1;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/') continue;
		*s = 0;
		if (mkdir(p, mode) < 0 && errno != EEXIST) return -1;
		*s = '/';
	}
	return mkdir(p, mode) < 0 && errno != EEXIST ? -1 : 0;
}

/* Skips JSON white space. */
static const char *ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
	return p;
}

/* How a plain container's network is: its own namespace, the host's, or one to join. */
enum net { NET_OWN, NET_HOST, NET_JOIN };

/*
 * What the VMM's create (src/oci/prepare.ts) takes, judged from config.json's text: no
 * hooks, no terminal. A guess that only chooses the way: the VMM reads the config properly
 * and hands back what it does not take. Returns -1 for the JavaScript runtime's create,
 * else the network: a network namespace (NET_OWN), one given by path (NET_JOIN, the path
 * in join, PATH_MAX bytes), or none (NET_HOST).
 */
static int plain_config(char *text, char *join)
{
	if (strstr(text, "\"hooks\"")) return -1;
	for (const char *p = text; (p = strstr(p, "\"terminal\"")); p++) {
		const char *v = ws(p + 10);
		if (*v == ':' && strncmp(ws(v + 1), "true", 4) == 0) return -1;
	}
	/* Only inside linux.namespaces: from its [ to the first ] (its entries hold no arrays). */
	char *ns = strstr(text, "\"namespaces\""), *end = NULL;
	if (ns && (ns = strchr(ns, '[')) && (end = strchr(ns, ']'))) *end = 0;
	else ns = NULL;
	int net = NET_HOST;
	for (const char *p = ns; p && (p = strstr(p, "\"network\"")); p++) {
		if (net != NET_HOST) return -1;
		net = NET_OWN;
		/* Its object: from the { before to the } after. */
		const char *open = p, *close = strchr(p, '}');
		while (open > ns && *open != '{') open--;
		for (const char *q = open; close && q < close; q++) {
			if (strncmp(q, "\"path\"", 6) != 0) continue;
			const char *v = ws(q + 6);
			if (*v != ':' || *(v = ws(v + 1)) != '"') return -1;
			size_t n = strcspn(v + 1, "\"\\");
			/* A path with escapes, or empty: the JavaScript side reads it. */
			if (v[1 + n] != '"' || n == 0 || n >= PATH_MAX || v[1] != '/') return -1;
			memcpy(join, v + 1, n);
			join[n] = 0;
			net = NET_JOIN;
			break;
		}
	}
	return net;
}

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/*
 * Starts `torov run --oci-sync DIR` with DIR/create naming the bundle: the VMM does
 * create's work (src/oci/prepare.ts) and says `ready` once its VM is built and waits for
 * `start`, or `handover`. Returns the launcher's pid when ready, else -1 (and the
 * launcher is gone).
 */
static pid_t start_vmm(const char *dir, int net, const char *join)
{
	char pkg[PATH_MAX], node[PATH_MAX], launcher[PATH_MAX + 16], ready[PATH_MAX];
	if (package_dir(pkg, sizeof pkg) < 0 || find_node(node, sizeof node) < 0 || path_in(ready, dir, "ready") < 0) return -1;
	snprintf(launcher, sizeof launcher, "%s/bin/torov", pkg);
	/* As the JavaScript runtime starts it: only PATH, with the node found first. */
	const char *path = getenv("PATH");
	char env_path[2 * PATH_MAX + 8];
	*strrchr(node, '/') = 0;
	if (snprintf(env_path, sizeof env_path, "PATH=%s:%s", node, path && *path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") >= (int)sizeof env_path) return -1;
	int fd = open(ready, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) return -1;
	pid_t child = fork();
	if (child < 0) { close(fd); return -1; }
	pid_t pid_of_launcher = child;
	if (child == 0) {
		/* A namespace to join (a Kubernetes pod's): the launcher then stays in it (--network host). */
		if (net == NET_JOIN) {
			/* Only a namespace file (nsfs), looked at without opening it: a FIFO or a device
			   swapped in after the checks is never opened. */
			int pfd = open(join, O_PATH | O_CLOEXEC);
			struct statfs fs;
			char via[64];
			if (pfd < 0 || fstatfs(pfd, &fs) < 0 || fs.f_type != 0x6e736673) _exit(127);
			snprintf(via, sizeof via, "/proc/self/fd/%d", pfd);
			int nsfd = open(via, O_RDONLY | O_CLOEXEC);
			if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0) _exit(127);
			close(nsfd);
			close(pfd);
		}
		signal(SIGPIPE, SIG_DFL);
		char *args[] = { "torov", "run", "--oci-sync", (char *)dir, "--network", net == NET_OWN ? "none" : "host", NULL };
		char *envp[] = { env_path, NULL };
		if (chdir("/") == 0) execve(launcher, args, envp);
		_exit(127);
	}
	char buf[256];
	size_t got = 0;
	int ok = 0;
	for (long long t0 = now_ms(); now_ms() - t0 < CREATE_TIMEOUT_MS;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n = poll(&p, 1, 5);
		if (n > 0 && (p.revents & POLLIN)) {
			ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
			if (r > 0) got += r;
		}
		buf[got] = 0;
		if (strchr(buf, '\n')) { ok = strncmp(buf, "ready", 5) == 0; break; }
		if (waitpid(child, NULL, WNOHANG) == child) { child = -1; break; }
	}
	close(fd);
	if (ok) return child;
	if (child > 0) { kill(child, SIGKILL); waitpid(child, NULL, 0); }
	/* The run's cgroups, which the launcher killed here could not remove (the VMM listed them). */
	remove_run_cgroups(dir, pid_of_launcher);
	return -1;
}

/*
 * In DIR (the container's state directory, or an exec's): the FIFOs `start` and `ready`
 * (src/oci/sync.ts), and NAME (`create` or `exec`) holding `text`, the request the VMM
 * reads (src/oci/prepare.ts). -1 on failure.
 */
static int make_request(const char *dir, const char *name, const char *text)
{
	char file[PATH_MAX];
	if (path_in(file, dir, "start") < 0 || mkfifo(file, 0600) < 0 || path_in(file, dir, "ready") < 0 || mkfifo(file, 0600) < 0
		|| path_in(file, dir, name) < 0) return -1;
	int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) return -1;
	size_t len = strlen(text);
	int ok = write(fd, text, len) == (ssize_t)len;
	return close(fd) == 0 && ok ? 0 : -1;
}

/* Writes "PID" to a pid file (through F.tmp and a rename, as the JavaScript side); -1 on failure. */
static int write_pid_file(const char *file, pid_t pid)
{
	char tmp[PATH_MAX + 8], text[24];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", file) >= (int)sizeof tmp) return -1;
	int len = snprintf(text, sizeof text, "%d", (int)pid);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) return -1;
	if (write(fd, text, len) != len || close(fd) < 0 || rename(tmp, file) < 0) { unlink(tmp); return -1; }
	return 0;
}

/* `create --bundle B [--pid-file F] ID`: 0 when done, -1 to hand over (nothing left made but ROOT). */
static int do_create(const char *root, const char *dir, const char *bundle_arg, const char *pid_file)
{
	char bundle[PATH_MAX], config[PATH_MAX], pidf[PATH_MAX];
	if (absolute(bundle, bundle_arg ? bundle_arg : ".") < 0 || path_in(config, bundle, "config.json") < 0) return -1;
	if (pid_file && absolute(pidf, pid_file) < 0) return -1;
	char *text = malloc(MAX_CONFIG_BYTES + 1), join[PATH_MAX];
	if (!text) return -1;
	ssize_t n = read_small(config, text, MAX_CONFIG_BYTES + 1);
	int net = n < 0 || n >= MAX_CONFIG_BYTES ? -1 : plain_config(text, join);
	free(text);
	struct stat st;
	if (net < 0 || (net == NET_JOIN && (stat(join, &st) < 0 || !S_ISREG(st.st_mode)))) return -1;
	if (make_dirs(root, 0711) < 0 || mkdir(dir, 0711) < 0) return -1;
	/* The bundle, and the network the launcher will have: what the VMM checks the config against. */
	char request[PATH_MAX + 32];
	int len = snprintf(request, sizeof request, "%s\nnetwork %s\n", bundle, net == NET_OWN ? "own" : net == NET_JOIN ? "join" : "host");
	pid_t pid = len < (int)sizeof request && make_request(dir, "create", request) == 0 ? start_vmm(dir, net, join) : -1;
	if (pid > 0 && pid_file && write_pid_file(pidf, pid) < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		remove_run_cgroups(dir, pid);
		pid = -1;
	}
	if (pid > 0) return 0;
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return -1;
}

/*
 * `exec --process FILE --detach --pid-file F ID` (what containerd's shim runs) in a plain
 * running container: as `torov-oci exec` (src/oci/main.ts), a VM of its own in the
 * container VMM's network namespace, whose VMM builds its run from the process file
 * (src/oci/prepare.ts prepareExec); then its guard, the start, the pid file.
 * 0 when done, -1 to hand over (nothing left made).
 */
static int do_exec(const char *cdir, const char *process_file, const char *pid_file)
{
	char proc_abs[PATH_MAX], pidf[PATH_MAX], dir[PATH_MAX], netns[64];
	if (absolute(proc_abs, process_file) < 0 || (pid_file && absolute(pidf, pid_file) < 0)) return -1;
	struct fast f;
	char vstate, vstart[32];
	long vparent;
	if (read_fast(cdir, &f) < 0 || !alive(&f) || proc_stat(f.vmm, &vstate, &vparent, vstart) < 0 || vparent != f.pid) return -1;
	snprintf(netns, sizeof netns, "/proc/%ld/ns/net", f.vmm);
	if (path_in(dir, cdir, "exec-XXXXXX") < 0 || !mkdtemp(dir)) return -1;
	pid_t pid = make_request(dir, "exec", proc_abs) == 0 ? start_vmm(dir, NET_JOIN, netns) : -1;
	char exec_start[32], estate;
	long eparent;
	int ok = pid > 0 && proc_stat(pid, &estate, &eparent, exec_start) == 0 && alive(&f);
	if (ok) {
		/* The guard, detached (a session of its own, no stdio), as the JavaScript side starts it. */
		char cpid[24], epid[24];
		snprintf(cpid, sizeof cpid, "%ld", f.pid);
		snprintf(epid, sizeof epid, "%d", (int)pid);
		pid_t g = fork();
		if (g == 0) {
			setsid();
			signal(SIGPIPE, SIG_DFL);
			int null = open("/dev/null", O_RDWR);
			if (null < 0) _exit(127);
			for (int k = 0; k < 3; k++) dup2(null, k);
			if (null > 2) close(null);
			if (chdir("/") < 0) _exit(127);
			char *args[] = { "torov-oci", "--exec-guard", cpid, f.start, epid, exec_start, dir, NULL };
			char *envp[] = { NULL };
			execve("/proc/self/exe", args, envp);
			_exit(127);
		}
		ok = g > 0;
	}
	if (ok) {
		char start[PATH_MAX];
		int fd = path_in(start, dir, "start") == 0 ? open(start, O_WRONLY | O_NONBLOCK | O_CLOEXEC) : -1;
		ok = fd >= 0 && write(fd, "s", 1) == 1;
		if (fd >= 0) close(fd);
	}
	if (ok && pid_file) ok = write_pid_file(pidf, pid) == 0;
	if (ok) return 0;
	/* (A guard already started ends with the exec and removes nothing more than this.) */
	if (pid > 0) { kill(pid, SIGKILL); waitpid(pid, NULL, 0); remove_run_cgroups(dir, pid); }
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return -1;
}

/* ---- The guard of an exec'd process ---------------------------------------------- */

/* The descendants of a process, appended to out (at most max); their number. */
static int descendants(long pid, long *out, int n, int max)
{
	int first = n;
	char dir[64];
	snprintf(dir, sizeof dir, "/proc/%ld/task", pid);
	DIR *d = opendir(dir);
	if (!d) return n;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.') continue;
		char file[400], buf[4096];
		snprintf(file, sizeof file, "%s/%s/children", dir, e->d_name);
		if (read_small(file, buf, sizeof buf) < 0) continue;
		for (char *p = buf, *end; *p; p = end) {
			long k = strtol(p, &end, 10);
			if (end == p) break;
			int seen = 0;
			for (int i = 0; i < n; i++) seen |= out[i] == k;
			if (!seen && n < max) out[n++] = k;
		}
	}
	closedir(d);
	for (int i = first, last = n; i < last; i++) n = descendants(out[i], out, n, max);
	return n;
}

/* Waits until one of two pidfds is readable (its process ended), or the timeout; a bit per fd. */
static int wait_any(int a, int b, int timeout_ms)
{
	struct pollfd p[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };
	int r;
	do r = poll(p, b >= 0 ? 2 : 1, timeout_ms); while (r < 0 && errno == EINTR);
	if (r < 0) return 3;
	return (p[0].revents ? 1 : 0) | (b >= 0 && p[1].revents ? 2 : 0);
}

/*
 * `torov-oci --exec-guard CONTAINER_PID CONTAINER_START EXEC_PID EXEC_START DIR`, started
 * detached by `torov-oci exec` (src/oci/main.ts): ends the exec'd VM when its container's
 * process ends, as the kernel ends runc's exec'd processes with the container's PID
 * namespace (a torov exec is a VM of its own, which nothing in the kernel ties to the
 * container). It waits (poll on two pidfds, no CPU) for either launcher to end. If the
 * container's ends first, it kills the exec's VMM with SIGKILL; the exec's launcher then
 * ends with status 137 and removes its own cgroup; should it not within 5 s, it is killed
 * too. When the exec ends, its directory in the container's state (policy, FIFOs) goes.
 * (START: field 22 of /proc/PID/stat, so that a reused pid is not taken for the process.)
 */
static int exec_guard(char **a)
{
	struct fast container = { 0 }, exec = { 0 };
	container.pid = strtol(a[0], NULL, 10);
	exec.pid = strtol(a[2], NULL, 10);
	snprintf(container.start, sizeof container.start, "%s", a[1]);
	snprintf(exec.start, sizeof exec.start, "%s", a[3]);
	const char *dir = a[4];
	int efd = (int)syscall(SYS_pidfd_open, (pid_t)exec.pid, 0);
	if (efd >= 0 && exec.pid > 1 && alive(&exec)) {
		int cfd = container.pid > 1 ? (int)syscall(SYS_pidfd_open, (pid_t)container.pid, 0) : -1;
		/* The container already gone (or its pid now another process's): end the exec at once. */
		int gone = cfd < 0 || !alive(&container) ? 1 : wait_any(cfd, efd, -1);
		if ((gone & 1) && alive(&exec)) {
			long kids[256];
			int n = descendants(exec.pid, kids, 0, 256);
			for (int i = 0; i < n; i++) kill((pid_t)kids[i], SIGKILL);
			if (wait_any(efd, -1, 5000) == 0 && alive(&exec)) {
				syscall(SYS_pidfd_send_signal, efd, SIGKILL, NULL, 0);
				wait_any(efd, -1, 5000);
			}
		}
	}
	/* Its launcher has ended: its directory goes (the container's delete removes it as
	   well, should this process be killed first). Only an exec's directory. */
	const char *base = strrchr(dir, '/');
	if (dir[0] == '/' && base && strncmp(base, "/exec-", 6) == 0 && base[6] && valid_id(base + 1))
		nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* An option's name without its dashes (-root, --root), or NULL when arg is not one. */
static const char *option(const char *arg)
{
	if (arg[0] != '-' || arg[1] == 0) return NULL;
	return arg[1] == '-' ? arg + 2 : arg + 1;
}

int main(int argc, char **argv)
{
	/* A write to a FIFO whose reader went is an error to hand over, not a death; and the
	   launcher must be reaped here whatever the caller set. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	if (argc == 7 && strcmp(argv[1], "--exec-guard") == 0) return exec_guard(argv + 2);
	const char *root = DEFAULT_ROOT;
	int i = 1;
	/* The global options the shim passes (urfave/cli's forms: -x or --x, a value after
	   it or after =); anything else is for the JavaScript side. */
	for (; i < argc; i++) {
		const char *o = option(argv[i]);
		if (!o) break;
		const char *eq = strchr(o, '=');
		size_t len = eq ? (size_t)(eq - o) : strlen(o);
		int takes = 0;
		static const char *const valued[] = { "root", "log", "log-format", "criu", "rootless" };
		for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
			if (len == strlen(valued[k]) && strncmp(o, valued[k], len) == 0) takes = 1;
		if (!takes) {
			if (!eq && strcmp(o, "systemd-cgroup") == 0) continue;   /* no effect (src/oci/main.ts) */
			return hand_over(argc, argv);
		}
		const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
		if (!value) return hand_over(argc, argv);
		if (len == 10 && strncmp(o, "log-format", 10) == 0 && strcmp(value, "text") != 0 && strcmp(value, "json") != 0) return hand_over(argc, argv);
		if (len == 4 && strncmp(o, "root", 4) == 0) root = value;
	}
	if (i >= argc) return hand_over(argc, argv);
	const char *cmd = argv[i++];
	int is_start = strcmp(cmd, "start") == 0, is_kill = strcmp(cmd, "kill") == 0, is_delete = strcmp(cmd, "delete") == 0,
		is_create = strcmp(cmd, "create") == 0, is_exec = strcmp(cmd, "exec") == 0;
	if (!is_start && !is_kill && !is_delete && !is_create && !is_exec) return hand_over(argc, argv);
	const char *words[2], *bundle = NULL, *pid_file = NULL, *process = NULL;
	int nwords = 0, force = 0, detach = 0;
	for (; i < argc; i++) {
		const char *o = option(argv[i]);
		if (o) {
			if (is_delete && (strcmp(o, "force") == 0 || strcmp(o, "f") == 0)) { force = 1; continue; }
			if (is_create && (strcmp(o, "no-pivot") == 0 || strcmp(o, "no-new-keyring") == 0)) continue;   /* no effect */
			if (is_exec && (strcmp(o, "detach") == 0 || strcmp(o, "d") == 0)) { detach = 1; continue; }
			const char **value = is_create && (strcmp(o, "bundle") == 0 || strcmp(o, "b") == 0) ? &bundle
				: (is_create || is_exec) && strcmp(o, "pid-file") == 0 ? &pid_file
				: is_exec && (strcmp(o, "process") == 0 || strcmp(o, "p") == 0) ? &process : NULL;
			if (!value || i + 1 >= argc) return hand_over(argc, argv);
			*value = argv[++i];
			continue;
		}
		if (nwords == 2) return hand_over(argc, argv);
		words[nwords++] = argv[i];
	}
	if (nwords != (is_kill && nwords == 2 ? 2 : 1) || !valid_id(words[0])) return hand_over(argc, argv);
	/* exec: only what the shim runs (a process file, detached); the rest waits or needs a terminal. */
	if (is_exec && (!process || !detach)) return hand_over(argc, argv);

	char cwd[PATH_MAX], dir[PATH_MAX];
	if (root[0] != '/') {
		if (!getcwd(cwd, sizeof cwd)) return hand_over(argc, argv);
		if (snprintf(dir, sizeof dir, "%s/%s/%s", cwd, root, words[0]) >= (int)sizeof dir) return hand_over(argc, argv);
	} else if (snprintf(dir, sizeof dir, "%s/%s", root, words[0]) >= (int)sizeof dir) return hand_over(argc, argv);

	char root_abs[PATH_MAX];
	if (is_create && absolute(root_abs, root) < 0) return hand_over(argc, argv);
	int r = is_start ? do_start(dir) : is_kill ? do_kill(dir, nwords == 2 ? words[1] : NULL)
		: is_delete ? do_delete(dir, force) : is_exec ? do_exec(dir, process, pid_file) : do_create(root_abs, dir, bundle, pid_file);
	return r == 0 ? 0 : hand_over(argc, argv);
}
