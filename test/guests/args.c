/* args: prints argc, argv, environ and selected auxv entries, so a test can
 * check the initial stack the VMM builds (argv/envp/auxv layout). */
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <elf.h>

extern char **environ;

int main(int argc, char **argv)
{
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    for (char **e = environ; *e; e++)
        printf("env=%s\n", *e);

    printf("auxv AT_PAGESZ=%lu\n", getauxval(AT_PAGESZ));
    printf("auxv AT_PHENT=%lu\n", getauxval(AT_PHENT));
    printf("auxv AT_PHNUM>0=%s\n", getauxval(AT_PHNUM) > 0 ? "yes" : "no");
    printf("auxv AT_ENTRY!=0=%s\n", getauxval(AT_ENTRY) != 0 ? "yes" : "no");

    const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
    int nonzero = 0;
    if (rnd)
        for (int i = 0; i < 16; i++)
            nonzero |= rnd[i];
    printf("auxv AT_RANDOM nonzero=%s\n", rnd ? (nonzero ? "yes" : "no") : "missing");

    printf("auxv AT_UID=%lu\n", getauxval(AT_UID));
    printf("auxv AT_EUID=%lu\n", getauxval(AT_EUID));
    printf("auxv AT_GID=%lu\n", getauxval(AT_GID));
    printf("auxv AT_EGID=%lu\n", getauxval(AT_EGID));
    printf("auxv AT_SECURE=%lu\n", getauxval(AT_SECURE));
    printf("auxv AT_HWCAP!=0=%s\n", getauxval(AT_HWCAP) != 0 ? "yes" : "no");
    printf("auxv AT_CLKTCK=%lu\n", getauxval(AT_CLKTCK));

    const char *execfn = (const char *)getauxval(AT_EXECFN);
    printf("auxv AT_EXECFN=%s\n", execfn ? execfn : "(missing)");
    const char *platform = (const char *)getauxval(AT_PLATFORM);
    printf("auxv AT_PLATFORM=%s\n", platform ? platform : "(missing)");
    return 0;
}
