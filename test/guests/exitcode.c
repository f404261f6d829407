/* exitcode: exits with the status given in argv[1] (default 0) via exit(). */
#include <stdlib.h>

int main(int argc, char **argv)
{
    exit(argc > 1 ? atoi(argv[1]) : 0);
}
