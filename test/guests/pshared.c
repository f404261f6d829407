/*
 * Process-shared synchronisation (test/integration/processes.test.ts): futexes in memory
 * that two processes map, which a wake in one must reach in the other.
 *
 *   pshared sem     a POSIX named semaphore (sem_open: a file in /dev/shm, mapped shared):
 *                   the child waits on it, the parent posts it after 50 ms
 *   pshared mutex   a PTHREAD_PROCESS_SHARED mutex in a shm_open'd file: two children
 *                   increment one counter 20,000 times each under it, yielding in between
 *   pshared anon    a PTHREAD_PROCESS_SHARED mutex and condition variable in shared
 *                   anonymous memory (mmap MAP_SHARED|MAP_ANONYMOUS, then fork): the
 *                   parent waits for the child's signal
 *
 * Each prints what it saw and exits 0; a lost wake-up hangs (the test's timeout catches it).
 * The same output natively and under torov.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	printf("%s: %s\n", what, strerror(errno));
	exit(1);
}

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) ;
}

static int reap(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) != pid) die("waitpid");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int mode_sem(void)
{
	char name[64];
	snprintf(name, sizeof name, "/torov-pshared-%d", (int)getpid());
	sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
	if (s == SEM_FAILED) die("sem_open");
	pid_t pid = fork();
	if (pid < 0) die("fork");
	if (pid == 0) {
		if (sem_wait(s) != 0) die("sem_wait");
		printf("child: sem_wait returned after the parent's post\n");
		fflush(stdout);
		_exit(0);
	}
	msleep(50);
	if (sem_post(s) != 0) die("sem_post");
	int st = reap(pid);
	printf("parent: child exited %d\n", st);
	sem_close(s);
	if (sem_unlink(name) != 0) die("sem_unlink");
	return 0;
}

struct shared {
	pthread_mutex_t m;
	pthread_cond_t c;
	long counter;
	int ready;
};

static void init_shared(struct shared *sh)
{
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	pthread_mutexattr_init(&ma);
	if (pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED) != 0) die("setpshared");
	pthread_mutex_init(&sh->m, &ma);
	pthread_condattr_init(&ca);
	if (pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED) != 0) die("condattr_setpshared");
	pthread_cond_init(&sh->c, &ca);
	sh->counter = 0;
	sh->ready = 0;
}

static int mode_mutex(void)
{
	char name[64];
	snprintf(name, sizeof name, "/torov-pshared-shm-%d", (int)getpid());
	int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
	if (fd < 0) die("shm_open");
	if (ftruncate(fd, sizeof(struct shared)) != 0) die("ftruncate");
	struct shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (sh == MAP_FAILED) die("mmap");
	close(fd);
	init_shared(sh);
	pid_t kids[2];
	for (int k = 0; k < 2; k++) {
		kids[k] = fork();
		if (kids[k] < 0) die("fork");
		if (kids[k] == 0) {
			for (int i = 0; i < 20000; i++) {
				pthread_mutex_lock(&sh->m);
				long v = sh->counter;
				if (i % 64 == 0) sched_yield();      /* hold it a while: the other must wait */
				sh->counter = v + 1;
				pthread_mutex_unlock(&sh->m);
			}
			_exit(0);
		}
	}
	int a = reap(kids[0]), b = reap(kids[1]);
	printf("children exited %d %d; counter %ld (40000 expected)\n", a, b, sh->counter);
	if (shm_unlink(name) != 0) die("shm_unlink");
	return 0;
}

static int mode_anon(void)
{
	struct shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) die("mmap");
	init_shared(sh);
	pid_t pid = fork();
	if (pid < 0) die("fork");
	if (pid == 0) {
		msleep(50);
		pthread_mutex_lock(&sh->m);
		sh->ready = 1;
		pthread_cond_signal(&sh->c);
		pthread_mutex_unlock(&sh->m);
		_exit(0);
	}
	pthread_mutex_lock(&sh->m);
	while (!sh->ready) pthread_cond_wait(&sh->c, &sh->m);
	pthread_mutex_unlock(&sh->m);
	printf("parent: woken by the child's signal; child exited %d\n", reap(pid));
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *m = argc > 1 ? argv[1] : "";
	if (strcmp(m, "sem") == 0) return mode_sem();
	if (strcmp(m, "mutex") == 0) return mode_mutex();
	if (strcmp(m, "anon") == 0) return mode_anon();
	fprintf(stderr, "usage: pshared sem|mutex|anon\n");
	return 2;
}
