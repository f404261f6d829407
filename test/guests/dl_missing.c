/*
 * dl_missing: linked against dynlib/gone/libtorovgone.so, which the build deletes after
 * linking: the dynamic loader refuses to start it ("error while loading shared
 * libraries: libtorovgone.so: cannot open shared object file") with status 127.
 */
int torov_gone(void);
int main(void) { return torov_gone(); }
