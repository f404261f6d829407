/*
 * dl_demo MODE: a dynamically linked program and its shared library (dynlib/torovdemo.c),
 * found through its RUNPATH ($ORIGIN/dynlib, or $ORIGIN/dynlib/musl for dl_demo_musl).
 *   linked    calls the library it is linked against (DT_NEEDED)
 *   dlopen    loads it again with dlopen(PATH) and dlsym, and libm by its soname
 *   missing   dlopen of a library that does not exist: prints dlerror()'s message
 * One line per check; exit 0 (missing: exit 3 after the message).
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int torov_demo_add(int, int);
const char *torov_demo_name(int);
int torov_demo_constructed(void);
int torov_demo_tls_next(void);
int torov_demo_call(int (*)(int), int);
unsigned long torov_demo_bss_check(void);

static int plus_one(int x) { return x + 1; }

/* The directory of this program (from /proc/self/exe, as $ORIGIN is), with "/dynlib..." appended. */
static void lib_path(char *out, size_t n)
{
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len < 0) { perror("readlink /proc/self/exe"); _exit(1); }
    exe[len] = 0;
    *strrchr(exe, '/') = 0;
#ifdef MUSL_LIB
    snprintf(out, n, "%s/dynlib/musl/libtorovdemo.so", exe);
#else
    snprintf(out, n, "%s/dynlib/libtorovdemo.so", exe);
#endif
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "linked";
    if (strcmp(mode, "linked") == 0) {
        printf("add %d\n", torov_demo_add(2, 3));
        printf("name %s %s\n", torov_demo_name(1), torov_demo_name(3));
        printf("constructed %d\n", torov_demo_constructed());
        int t1 = torov_demo_tls_next(), t2 = torov_demo_tls_next();
        printf("tls %d %d\n", t1, t2);
        printf("callback %d\n", torov_demo_call(plus_one, 20));
        unsigned long b1 = torov_demo_bss_check(), b2 = torov_demo_bss_check();
        printf("bss %lu %lu\n", b1, b2);
        return 0;
    }
    if (strcmp(mode, "dlopen") == 0) {
        char path[PATH_MAX];
        lib_path(path, sizeof path);
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h) { printf("dlopen failed: %s\n", dlerror()); return 1; }
        int (*add)(int, int) = (int (*)(int, int))dlsym(h, "torov_demo_add");
        int (*tls)(void) = (int (*)(void))dlsym(h, "torov_demo_tls_next");
        const char *(*name)(int) = (const char *(*)(int))dlsym(h, "torov_demo_name");
        if (!add || !tls || !name) { printf("dlsym failed: %s\n", dlerror()); return 1; }
        printf("dlsym add %d\n", add(40, 2));
        printf("dlsym name %s\n", name(2));
        printf("dlsym tls %d\n", tls());
        printf("dlsym missing %s\n", dlsym(h, "no_such_symbol") ? "found" : "null");
        dlerror();
        printf("dlclose %d\n", dlclose(h));
        void *m = dlopen("libm.so.6", RTLD_NOW);
#ifdef MUSL_LIB
        if (!m) m = dlopen("libc.so", RTLD_NOW);   /* musl's libm is its libc */
#endif
        if (!m) { printf("dlopen libm failed: %s\n", dlerror()); return 1; }
        double (*sqrtf_)(double) = (double (*)(double))dlsym(m, "sqrt");
        printf("libm sqrt %.1f\n", sqrtf_ ? sqrtf_(1764.0) : -1.0);
        return 0;
    }
    if (strcmp(mode, "missing") == 0) {
        void *h = dlopen("libtorov-no-such-library.so", RTLD_NOW);
        printf("dlopen %s\n", h ? "found" : "null");
        const char *e = dlerror();
        printf("dlerror %s\n", e && strstr(e, "libtorov-no-such-library.so") ? "names the library" : e ? e : "(none)");
        return 3;
    }
    fprintf(stderr, "dl_demo: unknown mode %s\n", mode);
    return 2;
}
