/*
 * torov's vDSO: clock_gettime, gettimeofday and time read in the guest, without a VM exit.
 * The VMM publishes a clock page ("vvar", read-only for the guest) at VVAR_VA
 * (layout.ts: SYS_VA + SYS.VVAR): time = base + ((rdtsc - tsc0) * mult) >> shift, under a
 * seqlock (an odd seq: an update is in progress). Clocks it does not serve fall back to
 * the real syscall. Built by `make -C src/machine` into vdso.ts; no relocations, no data.
 */
#define VVAR_VA 0x7fffffe0b000UL

struct vvar {
  volatile unsigned int seq;     /* 0 */
  unsigned int shift;            /* 4 */
  unsigned long mult;            /* 8 */
  unsigned long tsc0;            /* 16 */
  long real_sec, real_nsec;      /* 24, 32: CLOCK_REALTIME at tsc0 */
  long mono_sec, mono_nsec;      /* 40, 48: CLOCK_MONOTONIC at tsc0 */
};
struct timespec { long tv_sec, tv_nsec; };
struct timeval { long tv_sec, tv_usec; };

static inline unsigned long rdtsc(void) {
  unsigned int lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((unsigned long)hi << 32) | lo;
}

static long sys2(long nr, long a, long b) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
  return r;
}

/* 0: REALTIME (and _COARSE), 1: MONOTONIC (and _COARSE); -1: not served (a syscall). */
static inline int kind(int clk) {
  switch (clk) {
    case 0: case 5: return 0;
    case 1: case 6: return 1;
    default: return -1;
  }
}

static inline void read_clock(int k, struct timespec *ts) {
  const struct vvar *v = (const struct vvar *)VVAR_VA;
  unsigned int s;
  long sec, nsec;
  do {
    while ((s = v->seq) & 1) __asm__ volatile("pause");
    __asm__ volatile("" ::: "memory");
    unsigned long d = rdtsc() - v->tsc0;
    if ((long)d < 0) d = 0;
    unsigned long ns = (unsigned long)(((unsigned __int128)d * v->mult) >> v->shift);
    sec = k ? v->mono_sec : v->real_sec;
    nsec = (k ? v->mono_nsec : v->real_nsec) + (long)(ns % 1000000000UL);
    sec += (long)(ns / 1000000000UL);
    __asm__ volatile("" ::: "memory");
  } while (v->seq != s);
  if (nsec >= 1000000000L) { nsec -= 1000000000L; sec++; }
  ts->tv_sec = sec;
  ts->tv_nsec = nsec;
}

int __vdso_clock_gettime(int clk, struct timespec *ts) {
  int k = kind(clk);
  if (k < 0) return (int)sys2(228, clk, (long)ts);
  read_clock(k, ts);
  return 0;
}

int __vdso_gettimeofday(struct timeval *tv, void *tz) {
  if (tz) return (int)sys2(96, (long)tv, (long)tz);
  if (tv) {
    struct timespec ts;
    read_clock(0, &ts);
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
  }
  return 0;
}

long __vdso_time(long *t) {
  struct timespec ts;
  read_clock(0, &ts);
  if (t) *t = ts.tv_sec;
  return ts.tv_sec;
}

int clock_gettime(int, struct timespec *) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct timeval *, void *) __attribute__((weak, alias("__vdso_gettimeofday")));
long time(long *) __attribute__((weak, alias("__vdso_time")));
