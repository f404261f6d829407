/* sqlite_demo DIR: SQLite (the Debian libsqlite3.a, linked statically with glibc)
 * on a database file DIR/demo.db and on ":memory:". For each: create a table and
 * an index, insert 1000 rows in one transaction, then print a count, a sum, a
 * GROUP BY, an index lookup (and its query plan, which uses the index) and an UPDATE's
 * change count; the file database is closed, reopened and checked with
 * PRAGMA integrity_check, switched to WAL mode (a shared mapping of the -shm
 * file) for one more insert, then removed with its -journal/-wal/-shm files.
 * Output is the same on every run; exits 0, or prints FAIL ... on stderr and
 * exits 1. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sqlite3 *db;

static void fail(const char *what)
{
    fprintf(stderr, "FAIL %s: %s\n", what, db ? sqlite3_errmsg(db) : "(no database)");
    exit(1);
}

static void exec(const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "FAIL exec %s: %s\n", sql, err ? err : "?");
        exit(1);
    }
}

/* Prints every row of `sql` as "label: col|col|...". */
static void query(const char *label, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) fail(sql);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        printf("%s:", label);
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const unsigned char *v = sqlite3_column_text(st, i);
            printf("%s%s", i ? "|" : " ", v ? (const char *)v : "NULL");
        }
        printf("\n");
    }
    if (rc != SQLITE_DONE) fail(sql);
    sqlite3_finalize(st);
}

static void open_db(const char *name)
{
    if (sqlite3_open(name, &db) != SQLITE_OK) fail("open");
}

static void fill_and_query(const char *name)
{
    printf("== %s\n", name);
    exec("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, grp INTEGER, price REAL)");
    exec("CREATE INDEX items_name ON items(name)");

    sqlite3_stmt *ins;
    if (sqlite3_prepare_v2(db, "INSERT INTO items (name, grp, price) VALUES (?, ?, ?)", -1, &ins, NULL) != SQLITE_OK)
        fail("prepare insert");
    exec("BEGIN");
    for (int i = 1; i <= 1000; i++) {
        char nm[32];
        snprintf(nm, sizeof nm, "item-%04d", i);
        sqlite3_bind_text(ins, 1, nm, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(ins, 2, i % 7);
        sqlite3_bind_double(ins, 3, i * 0.25);
        if (sqlite3_step(ins) != SQLITE_DONE) fail("insert");
        sqlite3_reset(ins);
    }
    exec("COMMIT");
    sqlite3_finalize(ins);

    query("count", "SELECT count(*) FROM items");
    query("sum", "SELECT sum(id), printf('%.2f', sum(price)) FROM items");
    query("group", "SELECT grp, count(*), printf('%.2f', avg(price)) FROM items GROUP BY grp ORDER BY grp");
    query("lookup", "SELECT id, grp, price FROM items WHERE name = 'item-0777'");
    query("plan", "EXPLAIN QUERY PLAN SELECT id FROM items WHERE name = 'item-0777'");
    query("range", "SELECT min(id), max(id) FROM items WHERE name BETWEEN 'item-0100' AND 'item-0199'");
    exec("UPDATE items SET price = price * 2 WHERE grp = 3");
    printf("updated: %d\n", sqlite3_changes(db));
    query("after-update", "SELECT printf('%.2f', sum(price)) FROM items");
    query("like", "SELECT count(*) FROM items WHERE name LIKE 'item-09%'");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: sqlite_demo DIR\n");
        return 2;
    }
    printf("sqlite %s\n", sqlite3_libversion());

    char path[4096];
    snprintf(path, sizeof path, "%s/demo.db", argv[1]);
    unlink(path);
    open_db(path);
    fill_and_query("file");
    if (sqlite3_close(db) != SQLITE_OK) fail("close");
    db = NULL;

    /* Reopen: the data must have reached the file. */
    open_db(path);
    query("reopened-count", "SELECT count(*) FROM items");
    query("integrity", "PRAGMA integrity_check");
    query("journal", "PRAGMA journal_mode=WAL");
    exec("INSERT INTO items (name, grp, price) VALUES ('wal-row', 9, 1.5)");
    query("wal-count", "SELECT count(*) FROM items WHERE grp = 9");
    if (sqlite3_close(db) != SQLITE_OK) fail("close 2");
    db = NULL;
    unlink(path);
    char extra[4200];
    snprintf(extra, sizeof extra, "%s-journal", path); unlink(extra);
    snprintf(extra, sizeof extra, "%s-wal", path); unlink(extra);
    snprintf(extra, sizeof extra, "%s-shm", path); unlink(extra);

    open_db(":memory:");
    fill_and_query(":memory:");
    if (sqlite3_close(db) != SQLITE_OK) fail("close memory");
    printf("done\n");
    return 0;
}
