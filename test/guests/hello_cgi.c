/*
 * The smallest CGI program for torov serve's benchmark (bench/serving.ts): reads its body
 * (stdin, to end of file), then answers "hello" with the request's path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
	char buf[4096];
	while (read(0, buf, sizeof buf) > 0) ;
	const char *p = getenv("PATH_INFO");
	printf("Content-Type: text/plain\r\n\r\nhello %s\n", p ? p : "");
	return 0;
}
