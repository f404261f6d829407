/* Shared helpers for torov test guests (header-only, static functions). */
#ifndef TOROV_GUEST_COMMON_H
#define TOROV_GUEST_COMMON_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Name of an errno value, "E?<n>" if unknown. Deterministic, no strerror(). */
static const char *errname(int e)
{
    switch (e) {
    case 0: return "0";
#define N(x) case x: return #x;
    N(EPERM) N(ENOENT) N(ESRCH) N(EINTR) N(EIO) N(ENXIO) N(E2BIG) N(ENOEXEC)
    N(EBADF) N(ECHILD) N(EAGAIN) N(ENOMEM) N(EACCES) N(EFAULT) N(EBUSY)
    N(EEXIST) N(EXDEV) N(ENODEV) N(ENOTDIR) N(EISDIR) N(EINVAL) N(ENFILE)
    N(EMFILE) N(ENOTTY) N(EFBIG) N(ENOSPC) N(ESPIPE) N(EROFS) N(EMLINK)
    N(EPIPE) N(ERANGE) N(ENAMETOOLONG) N(ENOSYS) N(ENOTEMPTY) N(ELOOP)
    N(ENOTSOCK) N(EDESTADDRREQ) N(EMSGSIZE) N(EPROTOTYPE) N(ENOPROTOOPT)
    N(EPROTONOSUPPORT) N(EOPNOTSUPP) N(EAFNOSUPPORT) N(EADDRINUSE)
    N(EADDRNOTAVAIL) N(ENETUNREACH) N(ECONNABORTED) N(ECONNRESET) N(ENOBUFS)
    N(EISCONN) N(ENOTCONN) N(ETIMEDOUT) N(ECONNREFUSED) N(EALREADY)
    N(EINPROGRESS) N(EOVERFLOW)
#undef N
    default: {
        static char buf[32];
        snprintf(buf, sizeof buf, "E?%d", e);
        return buf;
    }
    }
}

/* Print "FAIL: ..." to stderr and exit 1. */
#define FAIL(...) do { \
        fflush(stdout); \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__); \
        fprintf(stderr, " (errno=%s)\n", errname(errno)); \
        exit(1); \
    } while (0)

/* Check a condition; on failure report the expression and errno. */
#define CHECK(cond) do { if (!(cond)) FAIL("check failed: %s", #cond); } while (0)

/* Expect a call to fail with errno `want`; print "<label> <ERRNO>". */
#define EXPECT_ERR(label, call, want) do { \
        errno = 0; \
        long r_ = (long)(call); \
        if (r_ != -1 || errno != (want)) \
            FAIL("%s: got %ld errno=%s, want -1 %s", label, r_, errname(errno), errname(want)); \
        printf("%s %s\n", label, errname(errno)); \
    } while (0)

/* A pointer into the unmapped page at 0: every syscall must answer EFAULT. */
#define BAD ((void *)8)

/* Print "<label> <ERRNO>" for a failed call, else "<label> returned <r>". */
static inline void show(const char *label, long r)
{
    if (r == -1)
        printf("%s %s\n", label, errname(errno));
    else
        printf("%s returned %ld\n", label, r);
    errno = 0;
}

#endif
