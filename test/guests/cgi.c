/*
 * A CGI/1.1 test program for torov serve and snapshots (test/integration/serve.test.ts).
 *
 * Initialisation (what a snapshot skips): fills a 1 MiB table on the heap and sums it.
 * Then it reads its whole stdin (the request body: the first read of stdin is the
 * snapshot's capture point), and only then looks at its request's variables, so a VM
 * restored from the snapshot sees each request's own. Each request increments a counter
 * in a global and one in a file under /tmp: with no state surviving from one request to
 * the next, both are 1 every time. CGI_DIR names another directory for that file.
 *
 * QUERY_STRING picks what it does: crash (a segfault), loop (never ends), bad (output with
 * no CGI header), big (a 200 KiB body), status (a 201 with a header of its own), dontneed
 * (madvise(MADV_DONTNEED) over half the table, which then reads zero), exec (runs itself
 * again with the argument "bsscheck", which reports whether its .bss starts zeroed: that
 * of the image before was filled at initialisation), flags, fds and cwd (report then
 * change the stdio status flags, the fd table, or the working directory), umask (reports
 * it, then clears it), scribble
 * (writes its whole table), grow (maps more memory: brk and mmap), probe=ADDR (reads
 * ADDR), anything else: a 200 with what it saw.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int counter;
static unsigned char *table;
/* .bss filled at initialisation: a new image must find it zero again (QUERY_STRING=exec). */
static unsigned char marks[64 * 1024];

static int nonzero(const unsigned char *p, size_t n)
{
	int c = 0;
	for (size_t i = 0; i < n; i++) c += p[i] != 0;
	return c;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v ? v : "";
}

static int file_counter(void)
{
	char path[256];
	snprintf(path, sizeof path, "%s/cgi-count", getenv("CGI_DIR") ? getenv("CGI_DIR") : "/tmp");
	int fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0) return -1;
	char buf[32] = { 0 };
	ssize_t n = read(fd, buf, sizeof buf - 1);
	int c = n > 0 ? atoi(buf) : 0;
	c++;
	int len = snprintf(buf, sizeof buf, "%d\n", c);
	if (lseek(fd, 0, SEEK_SET) < 0 || write(fd, buf, len) != len) c = -1;
	close(fd);
	return c;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "bsscheck") == 0) {
		printf("Content-Type: text/plain\r\n\r\nbss nonzero=%d\n", nonzero(marks, sizeof marks));
		return 0;
	}
	memset(marks, 0xaa, sizeof marks);
	table = malloc(1 << 20);
	if (!table) return 1;
	unsigned sum = 0;
	for (int i = 0; i < (1 << 20); i++) table[i] = (unsigned char)(i * 7 + 3);
	for (int i = 0; i < (1 << 20); i++) sum += table[i];

	static char body[1 << 16];
	size_t n = 0;
	ssize_t r;
	while (n < sizeof body - 1 && (r = read(0, body + n, sizeof body - 1 - n)) > 0) n += (size_t)r;
	body[n] = 0;

	counter++;
	int fc = file_counter();
	const char *q = env("QUERY_STRING");
	if (strcmp(q, "crash") == 0) *(volatile int *)0 = 1;
	if (strcmp(q, "loop") == 0) for (;;) ;
	if (strcmp(q, "dontneed") == 0) {
		unsigned char *p = (unsigned char *)(((uintptr_t)table + 4095) & ~(uintptr_t)4095);
		int before = nonzero(p, 1 << 19);
		int r = madvise(p, 1 << 19, MADV_DONTNEED);
		printf("Content-Type: text/plain\r\n\r\ndontneed=%d nonzero before=%d after=%d\n", r, before, nonzero(p, 1 << 19));
		return 0;
	}
	if (strcmp(q, "exec") == 0) {
		fflush(stdout);
		execl(argv[0], argv[0], "bsscheck", (char *)0);
		printf("Content-Type: text/plain\r\n\r\nexec failed\n");
		return 0;
	}
	if (strcmp(q, "flags") == 0) {
		/* The status flags of stdin and stdout as this request found them, then set: the
		 * next request must find them as this one did (they are the open files' flags). */
		int in = fcntl(0, F_GETFL), out = fcntl(1, F_GETFL), m = O_NONBLOCK | O_APPEND;
		fcntl(0, F_SETFL, in | m);
		fcntl(1, F_SETFL, out | m);
		printf("Content-Type: text/plain\r\n\r\nflags in=%d out=%d\n", in & m, out & m);
		return 0;
	}
	if (strcmp(q, "umask") == 0) {
		/* The file mode creation mask as this request found it, then cleared. */
		printf("Content-Type: text/plain\r\n\r\numask=%03o\n", (unsigned)umask(0));
		return 0;
	}
	if (strcmp(q, "fds") == 0 || strcmp(q, "cwd") == 0) {
		/* The fd table and working directory as this request found them, then changed
		 * (fds: closes, duplicates, flags and opens; cwd: changes directory): the next
		 * request must find them as this one did. */
		char seen[256] = "", cwd[128] = "?";
		for (int fd = 0; fd < 10; fd++) {
			char one[24];
			snprintf(one, sizeof one, " %d:%d", fd, fcntl(fd, F_GETFD));
			strcat(seen, one);
		}
		if (!getcwd(cwd, sizeof cwd)) strcpy(cwd, "?");
		char link[128];
		ssize_t ln = readlink("/proc/self/cwd", link, sizeof link - 1);
		if (ln < 0) snprintf(link, sizeof link, "(errno %d)", errno); else link[ln] = 0;
		if (q[0] == 'f') {
			fflush(stdout);
			close(0);
			dup2(1, 7);
			fcntl(1, F_SETFD, FD_CLOEXEC);
			open("/dev/null", O_RDONLY);
		} else if (chdir("/tmp") != 0) snprintf(cwd, sizeof cwd, "(chdir: errno %d)", errno);
		printf("Content-Type: text/plain\r\n\r\nfds%s cwd=%s proc=%s\n", seen, cwd, link);
		return 0;
	}
	if (strncmp(q, "grow", 4) == 0 || strncmp(q, "probe=", 6) == 0) {
		/* grow: maps more memory (the heap grown by brk, a new anonymous mapping), reports
		 * where and how much of it was not zero, fills it, then gives half of each back.
		 * probe=ADDR (hex) reads ADDR
		 * first, where an earlier request's mapping was: it must fault (a 502). */
		if (q[0] == 'p') {
			volatile unsigned char *p = (volatile unsigned char *)strtoul(q + 6, 0, 16);
			printf("Content-Type: text/plain\r\n\r\nprobe read %d\n", *p);
			return 0;
		}
		size_t len = 256 * 1024;
		/* (musl's sbrk takes no increment: the brk system call itself.) */
		unsigned char *b = (unsigned char *)syscall(SYS_brk, 0);
		if ((unsigned char *)syscall(SYS_brk, b + len) != b + len) b = 0;
		unsigned char *m = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED) m = 0;
		int zb = b ? nonzero(b, len) : -1, zm = m ? nonzero(m, len) : -1;
		if (b) memset(b, 0x5a, len);
		if (m) memset(m, 0xa5, len);
		/* Half of each given back (as a free does): the rest stays mapped to the end. */
		if (m) munmap(m + len / 2, len / 2);
		if (b) syscall(SYS_brk, b + len / 2);
		printf("Content-Type: text/plain\r\n\r\ngrow count=%d brk=%lx mmap=%lx nonzero=%d,%d\n", counter,
		       (unsigned long)b, (unsigned long)m, zb, zm);
		return 0;
	}
	if (strcmp(q, "scribble") == 0) {
		/* Writes the whole 1 MiB table made before the snapshot (far more pages than a
		 * window keeps writable): the next request must find it as the snapshot had it. */
		unsigned before = 0;
		for (int i = 0; i < (1 << 20); i++) before += table[i];
		memset(table, 0x55, 1 << 20);
		printf("Content-Type: text/plain\r\n\r\ncount=%d table=%u\n", counter, before);
		return 0;
	}
	if (strcmp(q, "bad") == 0) { printf("this is not a CGI header\n"); return 0; }
	if (strcmp(q, "big") == 0) {
		printf("Content-Type: application/octet-stream\r\n\r\n");
		for (int i = 0; i < 200 * 1024; i++) putchar('a' + i % 26);
		return 0;
	}
	if (strcmp(q, "status") == 0) printf("Status: 201 Created\r\nX-Test: yes\r\n");
	printf("Content-Type: text/plain\r\n\r\n");
	printf("count=%d file=%d method=%s path=%s query=%s type=%s length=%s agent=%s gateway=%s body=%s sum=%u\n",
	       counter, fc, env("REQUEST_METHOD"), env("PATH_INFO"), q, env("CONTENT_TYPE"), env("CONTENT_LENGTH"),
	       env("HTTP_USER_AGENT"), env("GATEWAY_INTERFACE"), body, sum);
	return 0;
}
