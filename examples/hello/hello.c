/* hello: the first ToroV example. Prints a greeting and exits.
 * Its policy (policy.json) allows only ioctl and writev, as the original's
 * hello world allowed only Ioctl and Write. Build: make -C examples */
#include <stdio.h>

int main(void)
{
    printf("Hello World from a torov micro-VM!\n");
    return 0;
}
