/* hello: the smallest useful guest. Prints one line with printf, exits 0. */
#include <stdio.h>

int main(void)
{
    printf("hello from torov\n");
    return 0;
}
