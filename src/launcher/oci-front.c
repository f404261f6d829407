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
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node.h"

#define DEFAULT_ROOT "/run/torov-oci"

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
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) return -1;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0) return -1;
	buf[n] = 0;
	return n;
}

/* The container's process as `fast` records it. */
struct fast { long pid; char start[32]; };

static int read_fast(const char *dir, struct fast *f)
{
	char file[PATH_MAX], buf[128];
	if (path_in(file, dir, "fast") < 0) return -1;
	if (read_small(file, buf, sizeof buf) < 0) return -1;
	int used = 0;
	if (sscanf(buf, "torov-oci-fast 1\n%ld %31[0-9]\n%n", &f->pid, f->start, &used) != 2 || used == 0 || buf[used] != 0) return -1;
	return f->pid > 1 && f->pid < (1L << 22) ? 0 : -1;
}

/* True when the recorded process exists (the same one: its start time matches) and has
   not ended (no zombie): what `alive` in src/oci/main.ts checks. */
static int alive(const struct fast *f)
{
	char file[64], buf[1024];
	snprintf(file, sizeof file, "/proc/%ld/stat", f->pid);
	if (read_small(file, buf, sizeof buf) < 0) return 0;
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ') return 0;
	p += 2;
	char state = *p;
	/* After the name: field 3 (state) ... field 22 (start time). */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p) return 0;
		p++;
	}
	size_t n = strcspn(p, " ");
	if (n != strlen(f->start) || strncmp(p, f->start, n) != 0) return 0;
	return state != 'Z' && state != 'X';
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
	if (n == 0 || read_fast(dir, &f) < 0 || !alive(&f)) return -1;
	/* As the JavaScript side: a process that ended meanwhile is no error. */
	kill((pid_t)f.pid, n);
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st; (void)ftw;
	return (type == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
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
	/* Partly removed on an error: the JavaScript side removes the rest. */
	return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* An option's name without its dashes (-root, --root), or NULL when arg is not one. */
static const char *option(const char *arg)
{
	if (arg[0] != '-' || arg[1] == 0) return NULL;
	return arg[1] == '-' ? arg + 2 : arg + 1;
}

int main(int argc, char **argv)
{
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
	int is_start = strcmp(cmd, "start") == 0, is_kill = strcmp(cmd, "kill") == 0, is_delete = strcmp(cmd, "delete") == 0;
	if (!is_start && !is_kill && !is_delete) return hand_over(argc, argv);
	const char *words[2];
	int nwords = 0, force = 0;
	for (; i < argc; i++) {
		const char *o = option(argv[i]);
		if (o) {
			if (is_delete && (strcmp(o, "force") == 0 || strcmp(o, "f") == 0)) { force = 1; continue; }
			return hand_over(argc, argv);
		}
		if (nwords == 2) return hand_over(argc, argv);
		words[nwords++] = argv[i];
	}
	if (nwords != (is_kill && nwords == 2 ? 2 : 1) || !valid_id(words[0])) return hand_over(argc, argv);

	char cwd[PATH_MAX], dir[PATH_MAX];
	if (root[0] != '/') {
		if (!getcwd(cwd, sizeof cwd)) return hand_over(argc, argv);
		if (snprintf(dir, sizeof dir, "%s/%s/%s", cwd, root, words[0]) >= (int)sizeof dir) return hand_over(argc, argv);
	} else if (snprintf(dir, sizeof dir, "%s/%s", root, words[0]) >= (int)sizeof dir) return hand_over(argc, argv);

	int r = is_start ? do_start(dir) : is_kill ? do_kill(dir, nwords == 2 ? words[1] : NULL) : do_delete(dir, force);
	return r == 0 ? 0 : hand_over(argc, argv);
}
