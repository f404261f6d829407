/*
 * libtorovdemo.so: the shared library of the dynamic-linking tests (built twice: with gcc
 * against glibc, dynlib/libtorovdemo.so, and with musl-gcc, dynlib/musl/libtorovdemo.so).
 * It has what a loader must get right: relocated data (a pointer table), a constructor that
 * runs before main, thread-local storage (dynamic TLS when loaded by dlopen), a callback
 * into the program, and a larger zero-initialised .bss.
 */
#include <string.h>

static int constructed;
static const char *const names[] = { "zero", "one", "two", "three" };
static __thread int tls_counter = 40;
static char scratch[256 * 1024];

__attribute__((constructor)) static void init(void) { constructed = 1; }

int torov_demo_add(int a, int b) { return a + b; }

/* A relocated pointer: names[] holds addresses fixed up by the loader (R_X86_64_RELATIVE). */
const char *torov_demo_name(int i) { return i >= 0 && i < 4 ? names[i] : "none"; }

int torov_demo_constructed(void) { return constructed; }

/* Thread-local: 41, 42, ... on each call from the same thread. */
int torov_demo_tls_next(void) { return ++tls_counter; }

/* Calls back into the program (a symbol the library does not define). */
int torov_demo_call(int (*fn)(int), int x) { return fn(x) * 2; }

/* The .bss is zero, and writable. */
size_t torov_demo_bss_check(void)
{
    for (size_t i = 0; i < sizeof scratch; i++) if (scratch[i]) return i + 1;
    memset(scratch, 7, sizeof scratch);
    return 0;
}
