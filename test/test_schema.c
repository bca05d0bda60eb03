/*
** test_schema.c — the migration runner that opens an older file.
**
** schema.sql is a list of sections "-- @version N"; tesoro_open runs the
** sections above the file's user_version, each in its own transaction with
** the bump of user_version, re-reading user_version inside it (another
** process may have migrated meanwhile).  Release 0.1.0 has one section, so
** opening its file (test_foundation's v0.1.0 fixture) runs none yet: this
** suite runs the same runner (tesoro__migrate_sections, compiled in as
** test_machines does) over a made-up schema text of three sections, on a
** file tesoro_open made (at version 1):
**
**   - sections above the file's version run, in order, and the version
**     ends at the last one; a section at or below it does not run;
**   - a section another process has already applied (user_version raised
**     after the runner started) is skipped;
**   - a section that fails leaves the file at the version before it, with
**     nothing of the section kept, and the error is EDB with SQLite's text.
*/
#include "../tesoro.c"

#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct file {
  char dir[64], path[96];
  tesoro *t;
} file;

/* A made-up schema text: section 1 is the file's own (it must not run),
** 2 and 3 add a table each; `failing` adds a section 4 that fails half
** way. */
static int failing;
static const char *made_up_line(size_t i) {
  static const char *const lines[] = {
      "-- @version 1\n",       "CREATE TABLE never (x);\n",
      "-- @version 2\n",       "CREATE TABLE two (x);\n",
      "INSERT INTO two VALUES (2);\n",
      "-- @version 3\n",       "CREATE TABLE three (x);\n",
      "-- @version 4\n",       "CREATE TABLE four (x);\n",
      "INSERT INTO nowhere VALUES (4);\n"};
  size_t n = sizeof lines / sizeof lines[0] - (failing ? 0 : 3);
  return i < n ? lines[i] : NULL;
}

static int open_file(void **state) {
  file *f = calloc(1, sizeof *f);
  if (f == NULL) return -1;
  *state = f;
  snprintf(f->dir, sizeof f->dir, "/tmp/tesoro-schema-XXXXXX");
  if (mkdtemp(f->dir) == NULL) return -1;
  snprintf(f->path, sizeof f->path, "%s/old.db", f->dir);
  failing = 0;
  /* a file at version 1, as the made-up sections above take it */
  if (tesoro_open(f->path, &f->t) != TESORO_OK) return -1;
  return sqlite3_exec(f->t->db, "PRAGMA user_version = 1", NULL, NULL, NULL) ==
                 SQLITE_OK
             ? 0
             : -1;
}

static int close_file(void **state) {
  file *f = *state;
  char cmd[128];
  tesoro_close(f->t);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
  free(f);
  return system(cmd) == 0 ? 0 : -1;
}

/* One integer from the handle's own connection. */
static int64_t sql_int(tesoro *t, const char *sql) {
  sqlite3_stmt *s = NULL;
  int64_t v = -1;
  assert_int_equal(sqlite3_prepare_v2(t->db, sql, -1, &s, NULL), SQLITE_OK);
  if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return v;
}

static int64_t tables_named(tesoro *t, const char *name) {
  char sql[128];
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM sqlite_schema WHERE name = '%s'", name);
  return sql_int(t, sql);
}

static void test_sections_above_the_file_run_in_order(void **state) {
  file *f = *state;
  assert_int_equal(sql_int(f->t, "PRAGMA user_version"), 1);
  assert_int_equal(tesoro__migrate_sections(f->t, 1, made_up_line), TESORO_OK);
  assert_int_equal(sql_int(f->t, "PRAGMA user_version"), 3);
  assert_int_equal(tables_named(f->t, "never"), 0);
  assert_int_equal(sql_int(f->t, "SELECT x FROM two"), 2);
  assert_int_equal(tables_named(f->t, "three"), 1);
  /* run again: nothing is above the file any more */
  assert_int_equal(tesoro__migrate_sections(f->t, 3, made_up_line), TESORO_OK);
  assert_int_equal(sql_int(f->t, "SELECT count(*) FROM two"), 1);
}

static void test_a_section_applied_meanwhile_is_skipped(void **state) {
  file *f = *state;
  /* another process took the file to 2 after this one read 1 */
  assert_int_equal(sqlite3_exec(f->t->db, "PRAGMA user_version = 2", NULL,
                                NULL, NULL),
                   SQLITE_OK);
  assert_int_equal(tesoro__migrate_sections(f->t, 1, made_up_line), TESORO_OK);
  assert_int_equal(tables_named(f->t, "two"), 0);
  assert_int_equal(tables_named(f->t, "three"), 1);
  assert_int_equal(sql_int(f->t, "PRAGMA user_version"), 3);
}

static void test_a_failing_section_keeps_nothing_of_itself(void **state) {
  file *f = *state;
  failing = 1;
  assert_int_equal(tesoro__migrate_sections(f->t, 1, made_up_line),
                   TESORO_EDB);
  assert_non_null(strstr(tesoro_errmsg(f->t), "nowhere"));
  assert_int_equal(sql_int(f->t, "PRAGMA user_version"), 3);
  assert_int_equal(tables_named(f->t, "three"), 1);
  assert_int_equal(tables_named(f->t, "four"), 0);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, open_file, close_file)
  const struct CMUnitTest tests[] = {
      T(test_sections_above_the_file_run_in_order),
      T(test_a_section_applied_meanwhile_is_skipped),
      T(test_a_failing_section_keeps_nothing_of_itself),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
