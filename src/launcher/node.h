/*
 * Finding torov's package directory and Node.js: shared by the launcher (launcher.c,
 * bin/torov) and torov-oci's front end (oci-front.c, bin/torov-oci), both static
 * programs in <pkg>/bin that run Node with a JavaScript file of the package.
 */
#ifndef TOROV_NODE_H
#define TOROV_NODE_H

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The package directory: this executable is <pkg>/bin/<name> (symbolic links resolved). */
static int package_dir(char *out, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0) return -1;
	exe[n] = 0;
	for (int i = 0; i < 2; i++) {
		char *slash = strrchr(exe, '/');
		if (!slash) return -1;
		*slash = 0;
	}
	if (strlen(exe) + 1 > size) return -1;
	strcpy(out, exe[0] ? exe : "/");
	return 0;
}

/* Node, found on PATH as `#!/usr/bin/env node` would find it. */
static int find_node(char *out, size_t size)
{
	const char *path = getenv("PATH");
	if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path;;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == 0) { p = end ? end + 1 : p + len; if (!end) break; continue; }
		if (len + 6 < size) {
			memcpy(out, p, len);
			strcpy(out + len, "/node");
			struct stat st;
			if (stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0) return 0;
		}
		if (!end) break;
		p = end + 1;
	}
	return -1;
}

#endif
