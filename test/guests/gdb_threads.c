/* gdb_threads: the debugger tests' threaded program (built -O0 -g). The main thread
 * starts two workers that each run worker() (a function to break in) and wait on a
 * barrier of all three, so that every thread is alive at the breakpoint; then the main
 * thread joins them and prints the sum. Endings chosen by argv[1]:
 *   (none)  prints "gdb_threads: sum=3 done" and exits 7
 *   spin    the workers count in `spins` forever, without syscalls, after the barrier
 *   usr1    after the join, raise(SIGUSR1) with a handler that prints and counts
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static pthread_barrier_t barrier;
static volatile int spin;
volatile unsigned long spins;   /* what the spinning workers count (all-stop tests read it) */
static volatile int hits;       /* SIGUSR1 handler runs */
int total;                      /* what the workers add up (under the mutex) */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void on_usr1(int sig)
{
    (void)sig;
    hits++;
}

static int work(int id)
{
    int mine = id;              /* a local of the worker's frame */
    return mine;
}

static void *worker(void *arg)
{
    int id = (int)(long)arg;
    int got = work(id);         /* breakpoints go here */
    pthread_mutex_lock(&lock);
    total += got;
    pthread_mutex_unlock(&lock);
    pthread_barrier_wait(&barrier);
    while (spin)
        spins++;
    return NULL;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    pthread_t t[2];
    spin = !strcmp(mode, "spin");
    pthread_barrier_init(&barrier, NULL, 3);
    for (long i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, worker, (void *)(i + 1));
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    if (!strcmp(mode, "usr1")) {
        signal(SIGUSR1, on_usr1);
        raise(SIGUSR1);
        printf("gdb_threads: handler ran %d time(s)\n", hits);
    }
    printf("gdb_threads: sum=%d done\n", total);
    fflush(stdout);
    return 7;
}
