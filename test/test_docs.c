/*
** test_docs.c — the README's promises, checked against the code.
**
**   Quick start   the README's C block is examples/quickstart.c byte for
**                 byte, and the program (built by make next to this suite)
**                 prints exactly the output the README shows.
**   Error codes   every TESORO_RESULT_MAP code has a row in the README's
**                 table, with its value and tesoro_errstr text, and the
**                 table names no other code.
**   Names         every tesoro_* / TESORO_* name the README mentions exists
**                 in tesoro.h or tesoro.c.
**   Stands alone  the README has at most README_MAX_LINES lines, points
**                 nowhere outside the repository (no "../", no "§"), every
**                 repository path it names exists, and its test command is
**                 the one .ci/run runs.
**   Threading     the library object has no writable data; handles in
**                 threads and in processes share one file.
**   Scale-out     what replication (Litestream, LiteFS) needs of the file:
**                 the rules below.
**
** WHAT TESORO MUST NOT DO TO A FILE, to stay replicable (the README's
** Scale-out section points here; test/replication.c runs Litestream itself
** and records its costs and open points).  Each rule, why, and how this
** suite holds tesoro to it:
**
**   1. Open every file in WAL mode and never change the journal mode.
**      Litestream only works in WAL mode; LiteFS finds transaction
**      boundaries through the WAL's locks.  Checked: the file's journal_mode
**      is wal; tesoro.c names journal_mode once, "= WAL".
**   2. Normal locking mode: no lock kept between calls, the WAL index in
**      -shm.  Exclusive locking in WAL mode skips shared memory and shuts
**      other processes out; LiteFS refuses WAL writes under it, Litestream
**      cannot take its read lock.  Checked: after tesoro wrote, a connection
**      that will not wait reads and writes; -shm exists; no locking_mode in
**      tesoro.c.
**   3. No VACUUM, ATTACH, page-size change, backup or deserialize API.  A
**      VACUUM rewrites every page through the WAL (a whole-file burst to
**      ship); attached files are separate replication streams, and a
**      transaction over them is not atomic in WAL mode.  Checked: none of
**      them in tesoro.c or schema.sql.
**   4. Never delete, rename or recreate the file or its WAL, never keep the
**      WAL (PERSIST_WAL).  A WAL left over from an older file is applied to
**      a new one, and Litestream does not follow deletions.  Checked: no
**      unlink, remove, rename or PERSIST_WAL in tesoro.c.
**   5. Checkpoints are PASSIVE (the commit path's, at
**      TESORO_CONFIG_CHECKPOINT_PAGES, and the host's tesoro_checkpoint) but
**      one: after an erasure or a delivered secret (tesoro__wal_scrub),
**      outside a host transaction, TRUNCATE, best effort — and none resets
**      the WAL while another connection reads it.  Litestream's read
**      transaction is there so that nobody restarts the WAL before it has
**      copied it; SQLite makes a checkpoint give up rather than reset under
**      a reader.  Checked: with a reader holding a snapshot the erasure
**      commits, the snapshot still reads the old row and the WAL does not
**      shrink; with no reader the WAL is emptied; in a host transaction no
**      checkpoint.
**   6. The commit path's checkpoint stays passive: SQLite's
**      wal_autocheckpoint, set only by TESORO_CONFIG_CHECKPOINT_PAGES
**      (default 1000 pages, as SQLite's).  A passive checkpoint never waits
**      and cannot reset the WAL under Litestream's reader; a host that runs
**      tesoro_checkpoint raises the setting so no call pays for one, and it
**      still bounds the WAL.  Checked: tesoro.c names wal_autocheckpoint
**      once, in tesoro_config; its other checkpoint call is PASSIVE, in
**      tesoro_checkpoint.
**   7. Tolerate a replicator's tables in the file: Litestream creates
**      _litestream_lock (and, in 0.3, _litestream_seq).  Checked: with both
**      present, tesoro reopens, writes, checks, exports and erases.
**   8. Opening an up-to-date file, and every read call, write nothing: a
**      LiteFS replica refuses writes but can serve reads.  Checked: the WAL
**      stays empty through tesoro_open and every read call (a write then
**      fills it).
**   9. Write no temporary tables, and keep temporary data in memory
**      (temp_store = MEMORY): SQLite's temporary files (statement journals,
**      sorts) live in the system's temp directory, outside the replicated
**      directory; in memory there are none.  Checked: no TEMP tables in
**      schema.sql or tesoro.c, temp_store only "= MEMORY" (test_performance:
**      the handle's temp_store is MEMORY).
**  10. Nothing in a file is shared between agencies, so each agency can have
**      a file of its own.  Checked: every table has an agency_id or a
**      foreign key to a table tied to one.
**  11. A file a replicator wrote to first (application_id 0, tables) is
**      refused (TESORO_ENOTDB) and left as it was: create the file with
**      tesoro (`tesoro init` builds it under a temporary name and renames
**      it into place) before a replicator sees it.
**
** Suites run from the tree root, so README.md, tesoro.c and
** examples/quickstart.c are read relative to it; the quick-start binary and
** tesoro.o are found next to this program (build/, build-asan/, ...).
** Printed figures are single lines "torture <key>=<value> ...".
*/
#include "testutil.h"
#include "faultutil.h"

#include <elf.h>
#include <glob.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

static char g_bindir[512] = "build"; /* directory of this program */

/* TESORO_LIGHT (valgrind, CI's ASan run): faultutil's rule. */
static int light(void) { return fu_light(); }

static char *read_text(const char *path) {
  char *s = (char *)tu_read_file(path, NULL);
  if (s == NULL)
    fail_msg("cannot read %s (suites run from the tree root)", path);
  return s;
}

/* The text from p up to end, as a malloc'd string. */
static char *copy_range(const char *p, const char *end) {
  char *out = strndup(p, (size_t)(end - p));
  assert_non_null(out);
  return out;
}

/* The README section opened by the line "## <title>" (up to the next "## "
** heading), as a malloc'd string; fails the test when it is missing. */
static char *readme_section(const char *readme, const char *title) {
  char head[128];
  const char *p, *end;
  snprintf(head, sizeof head, "\n## %s\n", title);
  p = strstr(readme, head);
  if (p == NULL) fail_msg("README.md has no section \"## %s\"", title);
  p += 1;
  end = strstr(p + strlen(head) - 1, "\n## ");
  if (end == NULL) end = p + strlen(p);
  return copy_range(p, end);
}

/* The body of the first fenced block "```<lang>\n ... ```\n" at or after
** `from`, malloc'd; *after points past its closing fence. */
static char *fenced_block(const char *from, const char *lang,
                          const char **after) {
  char open[32];
  const char *p, *q;
  snprintf(open, sizeof open, "```%s\n", lang);
  p = strstr(from, open);
  if (p == NULL) fail_msg("no ```%s block", lang);
  p += strlen(open);
  q = strstr(p, "\n```\n");
  if (q == NULL) fail_msg("unterminated ```%s block", lang);
  q += 1; /* keep the last line's newline */
  if (after) *after = q + 4;
  return copy_range(p, q);
}

static int64_t file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

static int64_t wal_size(tu_world *w) {
  char p[600];
  snprintf(p, sizeof p, "%s-wal", w->path);
  return file_size(p);
}

static int64_t ms_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------------
** Quick start.
*/

static void test_readme_quick_start_is_examples_quickstart_c(void **state) {
  char *readme = read_text("README.md");
  char *example = read_text("examples/quickstart.c");
  char *section = readme_section(readme, "Quick start");
  char *code = fenced_block(section, "c", NULL);
  (void)state;
  if (strcmp(code, example) != 0) {
    size_t i = 0;
    while (code[i] && code[i] == example[i]) i++;
    fail_msg("README's quick start differs from examples/quickstart.c at "
             "byte %zu: copy the file into the README's ```c block", i);
  }
  free(code);
  free(section);
  free(example);
  free(readme);
}

/* Run `prog arg`, capture its stdout; returns the exit status (-1 if it did
** not exit normally). */
static int run_capture(const char *prog, const char *arg, char *out,
                       size_t cap) {
  int fds[2], status = 0;
  size_t len = 0;
  pid_t pid;
  assert_int_equal(pipe(fds), 0);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execl(prog, prog, arg, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  for (;;) {
    ssize_t n = read(fds[0], out + len, cap - 1 - len);
    if (n <= 0) break;
    len += (size_t)n;
    if (len == cap - 1) break;
  }
  out[len] = '\0';
  close(fds[0]);
  assert_int_equal(waitpid(pid, &status, 0), pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
test_quick_start_runs_and_prints_what_the_readme_shows(void **state) {
  tu_world *w = *state;
  char *readme = read_text("README.md");
  char *section = readme_section(readme, "Quick start");
  const char *after;
  char *code = fenced_block(section, "c", &after);
  char *shown = fenced_block(after, "text", NULL);
  char prog[700], db[600], out[4096];
  int lines = 0;
  int64_t pending = -1, admin, referral;
  const char *stage = NULL;
  tesoro *t;

  snprintf(prog, sizeof prog, "%s/quickstart_example", g_bindir);
  snprintf(db, sizeof db, "%s/quickstart.db", w->dir);
  assert_int_equal(run_capture(prog, db, out, sizeof out), 0);
  assert_string_equal(out, shown);

  /* The file it left is a sound tesoro file holding what it printed. */
  for (const char *p = out; *p; p++) lines += *p == '\n';
  assert_int_equal(tesoro_open(db, &t), TESORO_OK);
  assert_int_equal(tesoro_check(t), TESORO_OK);
  assert_int_equal(tu_outbox_counts(t, &pending, NULL, NULL), TESORO_OK);
  assert_int_equal(pending, lines);
  admin = tu_sql_int_path(db, "SELECT id FROM actor WHERE role = 'admin'");
  referral = tu_sql_int_path(db, "SELECT id FROM referral");
  assert_int_equal(tesoro_entity_state(t, admin, TESORO_ENTITY_REFERRAL,
                                       referral, &stage, NULL),
                   TESORO_OK);
  assert_string_equal(stage, "in_escrow");
  tesoro_close(t);
  printf("torture quickstart_lines=%d outbox_rows=%lld\n", lines,
         (long long)pending);
  free(shown);
  free(code);
  free(section);
  free(readme);
}

/* ------------------------------------------------------------------------
** Error codes.
*/

struct code { const char *name; int value; };
static const struct code codes[] = {
#define XX(name, value, text) {"TESORO_" #name, value},
    TESORO_RESULT_MAP(XX)
#undef XX
};
#define NCODES (sizeof codes / sizeof codes[0])

/* The cells of a table row "| a | b | c |" (trimmed, backticks kept), in
** place; returns the number of cells. */
static int row_cells(char *line, char **cell, int max) {
  int n = 0;
  char *p = line;
  if (*p != '|') return 0;
  p++;
  while (*p && n < max) {
    char *bar = strchr(p, '|'), *s, *e;
    if (bar == NULL) break;
    *bar = '\0';
    s = p;
    while (*s == ' ') s++;
    e = s + strlen(s);
    while (e > s && e[-1] == ' ') *--e = '\0';
    cell[n++] = s;
    p = bar + 1;
  }
  return n;
}

static void test_readme_error_table_matches_the_header(void **state) {
  char *readme = read_text("README.md");
  char *section = readme_section(readme, "Error codes");
  int seen[NCODES] = {0}, rows = 0;
  (void)state;
  for (char *line = strtok(section, "\n"); line; line = strtok(NULL, "\n")) {
    char *cell[8], name[64];
    size_t k;
    if (strncmp(line, "| `TESORO_", 10) != 0) continue;
    assert_true(row_cells(line, cell, 8) >= 4);
    assert_true(strlen(cell[0]) > 2 && strlen(cell[0]) < sizeof name);
    snprintf(name, sizeof name, "%.*s", (int)strlen(cell[0]) - 2, cell[0] + 1);
    for (k = 0; k < NCODES && strcmp(codes[k].name, name) != 0; k++) {}
    if (k == NCODES) fail_msg("README's error table names %s, which tesoro.h "
                              "does not define", name);
    if (seen[k]++) fail_msg("%s has two rows", name);
    if (atoi(cell[1]) != codes[k].value || cell[1][0] == '\0')
      fail_msg("%s is %d, the README says %s", name, codes[k].value, cell[1]);
    if (strcmp(cell[2], tesoro_errstr(codes[k].value)) != 0)
      fail_msg("%s: tesoro_errstr says \"%s\", the README \"%s\"", name,
               tesoro_errstr(codes[k].value), cell[2]);
    if (strlen(cell[3]) < 10) fail_msg("%s: say when it happens", name);
    rows++;
  }
  for (size_t k = 0; k < NCODES; k++)
    if (!seen[k])
      fail_msg("%s is in TESORO_RESULT_MAP but not in the README's error "
               "table", codes[k].name);
  printf("torture error_codes=%zu readme_rows=%d\n", NCODES, rows);
  free(section);
  free(readme);
}

/* ------------------------------------------------------------------------
** Names.
*/

static int is_word(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_';
}

/* Does `hay` contain `word` as a whole identifier? */
static int has_word(const char *hay, const char *word) {
  size_t n = strlen(word);
  for (const char *p = strstr(hay, word); p; p = strstr(p + 1, word))
    if ((p == hay || !is_word((unsigned char)p[-1])) &&
        !is_word((unsigned char)p[n]))
      return 1;
  return 0;
}

static void test_readme_names_only_what_exists(void **state) {
  /* Environment variables of the build, not of the library. */
  static const char *const not_api[] = {"TESORO_LIGHT", "TESORO_SEED", NULL};
  char *readme = read_text("README.md"), *header = read_text("tesoro.h");
  char *source = read_text("tesoro.c");
  int names = 0, unknown = 0;
  (void)state;
  for (const char *p = readme; *p; p++) {
    char word[128];
    size_t n = 0;
    int skip = 0;
    if ((strncmp(p, "tesoro_", 7) != 0 && strncmp(p, "TESORO_", 7) != 0) ||
        (p > readme && (is_word((unsigned char)p[-1]) || p[-1] == '/' ||
                        p[-1] == '.')))
      continue;
    while (is_word((unsigned char)p[n]) && n < sizeof word - 1) n++;
    memcpy(word, p, n);
    word[n] = '\0';
    /* a file name (examples/tesoro_x.c, tesoro_x.py) is not an identifier */
    if (p[n] == '.' && is_word((unsigned char)p[n + 1])) skip = 1;
    for (int i = 0; not_api[i]; i++) skip |= strcmp(word, not_api[i]) == 0;
    if (!skip) {
      names++;
      if (!has_word(header, word) && !has_word(source, word)) {
        print_error("README.md names %s, which neither tesoro.h nor tesoro.c "
                    "defines\n", word);
        unknown++;
      }
    }
    p += n - 1;
  }
  assert_int_equal(unknown, 0);
  assert_true(names > 0);
  printf("torture readme_names=%d unknown=%d\n", names, unknown);
  free(source);
  free(header);
  free(readme);
}

/* ------------------------------------------------------------------------
** Stands alone.
*/

#define README_MAX_LINES 400

/* Does the repository path `path` exist (a '*' in it is a glob)? */
static int repo_path_exists(const char *path) {
  struct stat st;
  if (strchr(path, '*')) {
    glob_t g;
    int n = glob(path, 0, NULL, &g) == 0 ? (int)g.gl_pathc : 0;
    if (n) globfree(&g);
    return n > 0;
  }
  return stat(path, &st) == 0;
}

/* A code span that names a file or directory of the tree: no blank, and
** under a top-level directory of the repository or one of its root files
** (build/ is made by make, so it is not checked). */
static int is_repo_path(const char *s, size_t n) {
  static const char *const dirs[] = {"test/", "examples/", ".ci/", NULL};
  static const char *const files[] = {"tesoro.h", "tesoro.c", "schema.sql",
                                      "Makefile", "LICENSE", NULL};
  for (size_t i = 0; i < n; i++)
    if (s[i] == ' ' || s[i] == '(' || s[i] == '$') return 0;
  for (int i = 0; dirs[i]; i++)
    if (n > strlen(dirs[i]) && strncmp(s, dirs[i], strlen(dirs[i])) == 0)
      return 1;
  for (int i = 0; files[i]; i++)
    if (n == strlen(files[i]) && strncmp(s, files[i], n) == 0) return 1;
  return 0;
}

static int check_path(const char *s, size_t n, int *paths) {
  char path[256];
  if (n == 0 || n >= sizeof path) return 0;
  memcpy(path, s, n);
  path[n] = '\0';
  (*paths)++;
  if (repo_path_exists(path)) return 0;
  print_error("README.md names %s, which the repository does not have\n",
              path);
  return 1;
}

/* The README is read on its own: short enough for a newcomer, pointing
** nowhere outside the repository, naming only paths that exist, and with
** the test command CI runs. */
static void test_readme_stands_alone(void **state) {
  char *readme = read_text("README.md"), *ci = read_text(".ci/run");
  char *commands = readme_section(readme, "Two commands");
  const char *p, *line, *last = NULL;
  char readme_cmd[64] = "", ci_cmd[64] = "";
  int lines = 0, fence = 0, paths = 0, bad = 0;
  (void)state;
  for (p = readme; *p; p++) lines += *p == '\n';
  if (lines > README_MAX_LINES)
    fail_msg("README.md has %d lines (at most %d)", lines, README_MAX_LINES);
  if (strstr(readme, "../") || strstr(readme, "\xc2\xa7"))
    fail_msg("README.md points outside the repository (\"../\" or \"\xc2\xa7\")");

  /* paths in code spans and link targets, outside fenced blocks */
  for (line = readme; *line; line = *p ? p + 1 : p) {
    const char *q;
    p = strchr(line, '\n');
    if (p == NULL) p = line + strlen(line);
    if (strncmp(line, "```", 3) == 0) {
      fence = !fence;
      continue;
    }
    if (fence) continue;
    for (q = line; q < p; q++) {
      if (*q == '`') {
        const char *end = memchr(q + 1, '`', (size_t)(p - q - 1));
        if (end == NULL) break;
        if (is_repo_path(q + 1, (size_t)(end - q - 1)))
          bad += check_path(q + 1, (size_t)(end - q - 1), &paths);
        q = end;
      } else if (q[0] == ']' && q + 1 < p && q[1] == '(') {
        const char *end = memchr(q + 2, ')', (size_t)(p - q - 2));
        if (end == NULL) break;
        if (strncmp(q + 2, "http", 4) != 0)
          bad += check_path(q + 2, (size_t)(end - q - 2), &paths);
        q = end;
      }
    }
  }
  assert_int_equal(bad, 0);
  assert_true(paths > 0);

  /* the two commands; .ci/run's last command is the README's test command */
  assert_non_null(strstr(commands, "\n    make example "));
  p = strstr(commands, "\n    make test ");
  assert_non_null(p);
  sscanf(p + 5, "%63[a-z ]", readme_cmd);
  for (char *e = readme_cmd + strlen(readme_cmd); e > readme_cmd && e[-1] == ' ';)
    *--e = '\0';
  for (line = ci; *line; line = *p ? p + 1 : p) {
    p = strchr(line, '\n');
    if (p == NULL) p = line + strlen(line);
    if (p > line && line[0] != '#') last = line;
  }
  assert_non_null(last);
  snprintf(ci_cmd, sizeof ci_cmd, "%.*s", (int)(strcspn(last, "\n")), last);
  if (strcmp(readme_cmd, ci_cmd) != 0)
    fail_msg(".ci/run runs \"%s\", the README's test command is \"%s\"",
             ci_cmd, readme_cmd);
  printf("torture readme_lines=%d readme_paths=%d ci_command=\"%s\"\n", lines,
         paths, ci_cmd);
  free(commands);
  free(ci);
  free(readme);
}

/* ------------------------------------------------------------------------
** Threading.
*/

/* "No global mutable state": the library's object file has no writable
** section with content except .data.rel.ro* (constant tables that hold
** pointers; read-only once relocated).  Sanitizers add their own writable
** data, so only uninstrumented builds can check. */
#if defined(__SANITIZE_ADDRESS__)
#  define DOCS_SANITIZED 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer) || \
      __has_feature(undefined_behavior_sanitizer)
#    define DOCS_SANITIZED 1
#  endif
#endif

static void test_library_object_has_no_writable_data(void **state) {
  char path[700];
  unsigned char *obj;
  size_t size = 0;
  const Elf64_Ehdr *eh;
  const Elf64_Shdr *sh;
  const char *names;
  int writable = 0, checked = 0;
  (void)state;
#ifdef DOCS_SANITIZED
  skip();
#endif
  snprintf(path, sizeof path, "%s/tesoro.o", g_bindir);
  obj = tu_read_file(path, &size);
  if (obj == NULL) fail_msg("cannot read %s", path);
  assert_true(size > sizeof *eh);
  eh = (const Elf64_Ehdr *)obj;
  assert_memory_equal(eh->e_ident, ELFMAG, SELFMAG);
  assert_int_equal(eh->e_ident[EI_CLASS], ELFCLASS64);
  assert_true(eh->e_shoff + (size_t)eh->e_shnum * sizeof *sh <= size);
  sh = (const Elf64_Shdr *)(obj + eh->e_shoff);
  names = (const char *)obj + sh[eh->e_shstrndx].sh_offset;
  for (int i = 0; i < eh->e_shnum; i++) {
    const char *name = names + sh[i].sh_name;
    if (!(sh[i].sh_flags & SHF_ALLOC)) continue;
    checked++;
    if ((sh[i].sh_flags & SHF_WRITE) && sh[i].sh_size > 0 &&
        strncmp(name, ".data.rel.ro", 12) != 0) {
      print_error("%s: writable section %s holds %llu bytes\n", path, name,
                  (unsigned long long)sh[i].sh_size);
      writable++;
    }
  }
  assert_true(checked > 0);
  assert_int_equal(writable, 0);
  free(obj);
}

struct worker {
  const char *path;
  int64_t agent;
  int index, ops, failures;
};

/* One thread or process: its own handle, `ops` contacts with a referral
** each, moved one stage. */
static int worker_run(struct worker *k) {
  tesoro *t = NULL;
  int failures = 0;
  if (tesoro_open(k->path, &t) != TESORO_OK) {
    tesoro_close(t);
    return k->ops;
  }
  for (int i = 0; i < k->ops; i++) {
    char email[64];
    int64_t contact, referral;
    snprintf(email, sizeof email, "w%d-%d@example.com", k->index, i);
    if (tesoro_contact_create(t, k->agent, "Worker Contact", email, NULL, NULL,
                              &contact) != TESORO_OK ||
        tesoro_referral_create(t, k->agent, contact, 0, &referral) !=
            TESORO_OK ||
        tesoro_referral_move(t, k->agent, referral, TESORO_STAGE_CONNECTED,
                             NULL, 1) != TESORO_OK)
      failures++;
  }
  tesoro_close(t);
  return failures;
}

static void *worker_thread(void *arg) {
  struct worker *k = arg;
  k->failures = worker_run(k);
  return NULL;
}

static void test_handles_in_threads_share_one_file(void **state) {
  tu_world *w = *state;
  enum { THREADS = 4 };
  pthread_t th[THREADS];
  struct worker k[THREADS];
  int ops = light() ? 3 : 25, failures = 0;
  int64_t before = tu_sql_int(w, "SELECT count(*) FROM referral"), moved;
  for (int i = 0; i < THREADS; i++) {
    k[i] = (struct worker){w->path, w->agent, i, ops, 0};
    assert_int_equal(pthread_create(&th[i], NULL, worker_thread, &k[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) {
    assert_int_equal(pthread_join(th[i], NULL), 0);
    failures += k[i].failures;
  }
  assert_int_equal(failures, 0);
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM referral") - before,
                   THREADS * ops);
  moved = tu_sql_int(w, "SELECT count(*) FROM referral "
                        "WHERE state = 'connected'");
  assert_int_equal(moved, THREADS * ops);
  TU_OK(w, tesoro_check(w->t));
  printf("torture threads=%d referrals_moved=%lld failures=%d\n", THREADS,
         (long long)moved, failures);
}

/* Each process is this program again, started as "test_docs --worker PATH
** AGENT INDEX OPS" (a fresh process image: nothing of the parent's handle
** or of cmocka comes along). */
static void test_handles_in_processes_share_one_file(void **state) {
  tu_world *w = *state;
  enum { PROCS = 3 };
  pid_t pid[PROCS];
  int ops = light() ? 3 : 25, failures = 0;
  int64_t before = tu_sql_int(w, "SELECT count(*) FROM referral"), made;
  char self[700];
  snprintf(self, sizeof self, "%s/test_docs", g_bindir);
  fflush(NULL);
  for (int i = 0; i < PROCS; i++) {
    pid[i] = fork();
    assert_true(pid[i] >= 0);
    if (pid[i] == 0) {
      char agent[32], index[16], count[16];
      snprintf(agent, sizeof agent, "%lld", (long long)w->agent);
      snprintf(index, sizeof index, "%d", 10 + i);
      snprintf(count, sizeof count, "%d", ops);
      execl(self, self, "--worker", w->path, agent, index, count, (char *)NULL);
      _exit(127);
    }
  }
  for (int i = 0; i < PROCS; i++) {
    int status = 0;
    assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
    failures += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  assert_int_equal(failures, 0);
  made = tu_sql_int(w, "SELECT count(*) FROM referral") - before;
  assert_int_equal(made, PROCS * ops);
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM referral "
                                 "WHERE state = 'connected'"),
                   PROCS * ops);
  TU_OK(w, tesoro_check(w->t));
  printf("torture processes=%d referrals_moved=%lld failures=%d\n", PROCS,
         (long long)made, failures);
}

/* ------------------------------------------------------------------------
** Scale-out: what a replicator needs of the file.
*/

/* WAL, with shared memory, and no lock kept between calls (normal locking
** mode): after tesoro wrote, another connection that will not wait reads
** and writes. */
static void test_file_is_wal_and_unlocked_between_calls(void **state) {
  tu_world *w = *state;
  sqlite3 *db;
  char shm[600], *mode;
  int64_t referral;
  TU_OK(w, tesoro_referral_create(w->t, w->agent, w->contact, 0, &referral));
  mode = tu_sql_text(w, "PRAGMA journal_mode");
  assert_string_equal(mode, "wal");
  free(mode);
  snprintf(shm, sizeof shm, "%s-shm", w->path);
  assert_true(file_size(shm) > 0);
  assert_int_equal(sqlite3_open(w->path, &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 0);
  assert_int_equal(sqlite3_exec(db, "SELECT count(*) FROM referral", NULL,
                                NULL, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE; COMMIT", NULL, NULL,
                                NULL),
                   SQLITE_OK);
  sqlite3_close(db);
  /* and tesoro writes on after the other connection did */
  TU_OK(w, tesoro_referral_move(w->t, w->agent, referral,
                                TESORO_STAGE_CONNECTED, NULL, 1));
}

static int count_of(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

/* Text of the library and its schema: nothing that rewrites the whole
** file, leaves the WAL, changes locking or journal mode, or checkpoints
** anywhere but after an erasure. */
static void test_library_sql_avoids_what_replication_forbids(void **state) {
  static const char *const forbidden[] = {
      "VACUUM", "ATTACH", "DETACH", "locking_mode", "PRAGMA wal_autocheckpoint",
      "PERSIST_WAL", "sqlite3_backup_", "sqlite3_deserialize", "page_size",
      "wal_checkpoint(", "sqlite3_wal_checkpoint(", "unlink(", "remove(",
      "rename(", "TEMP TABLE", "TEMPORARY", "temp_store = FILE",
      "temp_store = DEFAULT", "temp_store = 0", "temp_store = 1",
      "journal_mode = DELETE", "journal_mode = TRUNCATE", "journal_mode = OFF",
      "journal_mode = MEMORY", "journal_mode = PERSIST", NULL};
  static const char *const files[] = {"tesoro.c", "schema.sql"};
  char *source = read_text("tesoro.c");
  const char *erase, *checkpoint, *next, *config, *host;
  (void)state;
  for (int f = 0; f < 2; f++) {
    char *text = read_text(files[f]);
    for (int i = 0; forbidden[i]; i++)
      if (strstr(text, forbidden[i]))
        fail_msg("%s contains \"%s\" (README, Scale-out)", files[f],
                 forbidden[i]);
    free(text);
  }
  /* temporary data in memory: no temporary files at all */
  assert_int_equal(count_of(source, "temp_store"), count_of(source, "temp_store = MEMORY"));
  assert_int_equal(count_of(source, "journal_mode"), 1);
  assert_int_equal(count_of(source, "PRAGMA journal_mode = WAL"), 1);
  /* the commit path's checkpoint is SQLite's passive one, set in one place */
  assert_int_equal(count_of(source, "wal_autocheckpoint"), 1);
  config = strstr(source, "TESORO_API int tesoro_config(");
  assert_non_null(config);
  assert_true(strstr(source, "wal_autocheckpoint") > config);
  next = strstr(config + 1, "\nTESORO_API ");
  assert_true(next == NULL || next > strstr(source, "wal_autocheckpoint"));
  /* two checkpoint calls: the host's, PASSIVE, in tesoro_checkpoint; and
     the TRUNCATE that takes old page images of erased data or a delivered
     secret out of the WAL, in tesoro__wal_scrub, which only
     tesoro_contact_erase, tesoro_web_customer_erase and tesoro_outbox_ack
     call */
  assert_int_equal(count_of(source, "sqlite3_wal_checkpoint"), 2);
  assert_int_equal(count_of(source, "SQLITE_CHECKPOINT_PASSIVE"), 1);
  assert_int_equal(count_of(source, "SQLITE_CHECKPOINT_TRUNCATE"), 1);
  host = strstr(source, "TESORO_API int tesoro_checkpoint(");
  assert_non_null(host);
  checkpoint = strstr(host, "sqlite3_wal_checkpoint");
  assert_non_null(checkpoint);
  assert_true(strstr(checkpoint, "SQLITE_CHECKPOINT_PASSIVE") <
              strstr(checkpoint, ";"));
  next = strstr(host + 1, "\n}\n");
  assert_true(next > checkpoint);
  erase = strstr(source, "static void tesoro__wal_scrub(");
  assert_non_null(erase);
  checkpoint = strstr(erase, "sqlite3_wal_checkpoint");
  assert_true(strstr(checkpoint, "SQLITE_CHECKPOINT_TRUNCATE") <
              strstr(checkpoint, ";"));
  next = strstr(erase + 1, "\n}\n");
  assert_true(next > checkpoint);
  assert_int_equal(count_of(source, "tesoro__wal_scrub(t)"), 3);
  free(source);
}

/* The erasure's checkpoint while another connection holds a read snapshot,
** as Litestream always does: the erasure commits, the reader's snapshot is
** untouched and the WAL is not reset (the replicator keeps its position).
** Without a reader the same checkpoint empties the WAL; inside a host
** transaction there is none. */
static void
test_erasure_checkpoint_never_resets_wal_under_a_reader(void **state) {
  tu_world *w = *state;
  sqlite3 *reader;
  sqlite3_stmt *s;
  int64_t before, t0, waited, after;
  char sql[128];
  TU_OK(w, tesoro_config(w->t, TESORO_CONFIG_BUSY_TIMEOUT_MS, 300));
  assert_int_equal(sqlite3_open(w->path, &reader), SQLITE_OK);
  snprintf(sql, sizeof sql, "SELECT name FROM contact WHERE id = %lld",
           (long long)w->contact);
  assert_int_equal(sqlite3_exec(reader, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(reader, sql, -1, &s, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(s, 0), "Ada Owner");
  sqlite3_reset(s);
  before = wal_size(w);
  assert_true(before > 0);

  t0 = ms_now();
  TU_OK(w, tesoro_contact_erase(w->t, w->admin, w->contact, "asked to"));
  waited = ms_now() - t0;
  assert_int_equal(tu_sqlf(w, "SELECT erased_at IS NOT NULL FROM contact "
                              "WHERE id = %lld", (long long)w->contact), 1);
  after = wal_size(w);
  assert_true(after >= before);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW); /* same snapshot */
  assert_string_equal((const char *)sqlite3_column_text(s, 0), "Ada Owner");
  sqlite3_finalize(s);
  assert_int_equal(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(reader);
  printf("torture erase_with_reader_ms=%lld busy_timeout_ms=300 wal_bytes=%lld"
         " wal_reset=%d\n",
         (long long)waited, (long long)after, after < before);

  /* nobody holds the WAL: the checkpoint empties it */
  TU_OK(w, tesoro_contact_erase(w->t, w->admin, w->contact2, "asked to"));
  assert_int_equal(wal_size(w), 0);
  /* inside a host transaction: no checkpoint */
  TU_OK(w, tesoro_begin(w->t));
  TU_OK(w, tesoro_contact_erase(w->t, w->other_admin, w->other_contact,
                                "asked to"));
  TU_OK(w, tesoro_commit(w->t));
  assert_true(wal_size(w) > 0);
  TU_OK(w, tesoro_check(w->t));
}

/* Litestream creates bookkeeping tables in the database it replicates
** (_litestream_seq, _litestream_lock): tesoro opens, writes, checks,
** exports and erases with them there. */
static void test_replicator_tables_are_tolerated(void **state) {
  tu_world *w = *state;
  int64_t referral;
  char *json = NULL;
  assert_int_equal(tu_sql_exec(w,
                               "CREATE TABLE _litestream_seq (id INTEGER "
                               "PRIMARY KEY, seq INTEGER);"
                               "CREATE TABLE _litestream_lock (id INTEGER);"
                               "INSERT INTO _litestream_seq VALUES (1, 1);",
                               NULL, 0),
                   SQLITE_OK);
  tesoro_close(w->t);
  w->t = NULL;
  TU_OK(w, tesoro_open(w->path, &w->t));
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW));
  TU_OK(w, tesoro_referral_create(w->t, w->agent, w->contact, 0, &referral));
  TU_OK(w, tesoro_referral_move(w->t, w->agent, referral,
                                TESORO_STAGE_CONNECTED, NULL, 1));
  TU_OK(w, tesoro_contact_export(w->t, w->admin, w->contact, 0, &json));
  tesoro_free(json);
  TU_OK(w, tesoro_contact_erase(w->t, w->admin, w->contact, "asked to"));
  TU_OK(w, tesoro_check(w->t));
  assert_int_equal(tu_sql_int(w, "SELECT seq FROM _litestream_seq"), 1);
}

/* A file a replicator wrote to before tesoro ever did (application_id 0,
** tables) is refused and left as it was: create the file with tesoro first. */
static void test_replicator_first_file_is_refused_unchanged(void **state) {
  tu_world *w = *state;
  char path[600], before[65], after[65];
  tesoro *t = NULL;
  snprintf(path, sizeof path, "%s/fresh.db", w->dir);
  assert_int_equal(tu_sql_exec_path(path, "CREATE TABLE _litestream_lock "
                                          "(id INTEGER)",
                                    NULL, 0),
                   SQLITE_OK);
  tu_digest_path(path, before);
  assert_int_equal(tesoro_open(path, &t), TESORO_ENOTDB);
  tesoro_close(t);
  tu_digest_path(path, after);
  assert_string_equal(before, after);
}

/* Opening an up-to-date file and every read call write nothing (the WAL
** stays empty): a LiteFS replica, which refuses writes, can serve reads. */
static void test_open_and_reads_write_nothing(void **state) {
  tu_world *w = *state;
  tesoro_cursor *c = NULL;
  char *json = NULL;
  const char *st = NULL;
  int64_t referral, pending = 0;
  TU_OK(w, tesoro_referral_create(w->t, w->agent, w->contact, 0, &referral));
  tesoro_close(w->t); /* the last connection: the WAL goes into the file */
  w->t = NULL;
  assert_true(wal_size(w) <= 0);
  TU_OK(w, tesoro_open(w->path, &w->t));
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW));
  TU_OK(w, tesoro_entity_json(w->t, w->agent, TESORO_ENTITY_REFERRAL, referral,
                              &json));
  tesoro_free(json);
  TU_OK(w, tesoro_entity_state(w->t, w->agent, TESORO_ENTITY_REFERRAL,
                               referral, &st, NULL));
  TU_OK(w, tesoro_history(w->t, w->agent, TESORO_ENTITY_REFERRAL, referral,
                          &c));
  assert_true(tu_count(c) >= 1);
  TU_OK(w, tesoro_allowed_events(w->t, w->agent, TESORO_ENTITY_REFERRAL, referral,
                          &c));
  assert_true(tu_count(c) >= 1);
  TU_OK(w, tesoro_activities(w->t, w->agent, w->contact, &c));
  assert_true(tu_count(c) >= 0);
  TU_OK(w, tesoro_tasks(w->t, w->agent, 0, 0, &c));
  assert_true(tu_count(c) >= 0);
  TU_OK(w, tesoro_referrals(w->t, w->agent, TESORO_REFERRALS_ALL, 0, 0, &c));
  assert_true(tu_count(c) >= 1);
  TU_OK(w, tesoro_outbox_fetch(w->t, 0, 100, &c));
  assert_true(tu_count(c) >= 1);
  TU_OK(w, tu_outbox_counts(w->t, &pending, NULL, NULL));
  TU_OK(w, tesoro_stats(w->t, 0, &c));
  assert_true(tu_count(c) >= 1);
  TU_OK(w, tesoro_contact_export(w->t, w->agent, w->contact, 0, &json));
  tesoro_free(json);
  TU_OK(w, tesoro_check(w->t));
  assert_true(wal_size(w) <= 0);
  /* a write is seen by the same measure */
  TU_OK(w, tesoro_referral_move(w->t, w->agent, referral,
                                TESORO_STAGE_CONNECTED, NULL, 0));
  assert_true(wal_size(w) > 0);
}

/* Nothing in a file is shared between agencies: every table has an
** agency_id, or a foreign key to a table that is tied to one. */
static void test_every_table_belongs_to_one_agency(void **state) {
  tu_world *w = *state;
  sqlite3 *db;
  sqlite3_stmt *s;
  char tables[64][64];
  int owned[64] = {0}, n = 0, direct = 0, via = 0, changed = 1;
  assert_int_equal(sqlite3_open_v2(w->path, &db, SQLITE_OPEN_READONLY, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT m.name, m.name = 'agency' OR "
                                      "EXISTS (SELECT 1 FROM pragma_table_info("
                                      "m.name) AS c WHERE c.name = "
                                      "'agency_id') FROM sqlite_schema AS m "
                                      "WHERE m.type = 'table' AND m.name NOT "
                                      "LIKE 'sqlite_%' ORDER BY m.name",
                                      -1, &s, NULL),
                   SQLITE_OK);
  while (sqlite3_step(s) == SQLITE_ROW) {
    assert_true(n < 64);
    snprintf(tables[n], sizeof tables[n], "%s", sqlite3_column_text(s, 0));
    owned[n] = sqlite3_column_int(s, 1);
    direct += owned[n];
    n++;
  }
  sqlite3_finalize(s);
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT \"table\" FROM "
                                      "pragma_foreign_key_list(?1)",
                                      -1, &s, NULL),
                   SQLITE_OK);
  while (changed) {
    changed = 0;
    for (int i = 0; i < n; i++) {
      if (owned[i]) continue;
      sqlite3_bind_text(s, 1, tables[i], -1, SQLITE_STATIC);
      while (!owned[i] && sqlite3_step(s) == SQLITE_ROW)
        for (int j = 0; j < n; j++)
          if (owned[j] &&
              strcmp((const char *)sqlite3_column_text(s, 0), tables[j]) == 0)
            owned[i] = changed = 1;
      sqlite3_reset(s);
      via += owned[i];
    }
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  for (int i = 0; i < n; i++)
    if (!owned[i]) fail_msg("table %s is tied to no agency", tables[i]);
  assert_true(n > 20);
  printf("torture tables=%d with_agency_id=%d via_foreign_key=%d\n", n, direct,
         via);
}

int main(int argc, char **argv) {
#define T TU_TEST
  const struct CMUnitTest tests[] = {
      T(test_readme_quick_start_is_examples_quickstart_c),
      T(test_quick_start_runs_and_prints_what_the_readme_shows),
      T(test_readme_error_table_matches_the_header),
      T(test_readme_names_only_what_exists),
      T(test_readme_stands_alone),
      T(test_library_object_has_no_writable_data),
      T(test_handles_in_threads_share_one_file),
      T(test_handles_in_processes_share_one_file),
      T(test_file_is_wal_and_unlocked_between_calls),
      T(test_library_sql_avoids_what_replication_forbids),
      T(test_erasure_checkpoint_never_resets_wal_under_a_reader),
      T(test_replicator_tables_are_tolerated),
      T(test_replicator_first_file_is_refused_unchanged),
      T(test_open_and_reads_write_nothing),
      T(test_every_table_belongs_to_one_agency),
  };
#undef T
  const char *slash = argc > 0 ? strrchr(argv[0], '/') : NULL;
  if (argc == 6 && strcmp(argv[1], "--worker") == 0) {
    struct worker k = {argv[2], atoll(argv[3]), atoi(argv[4]), atoi(argv[5]),
                       0};
    return worker_run(&k) ? 1 : 0;
  }
  if (slash)
    snprintf(g_bindir, sizeof g_bindir, "%.*s", (int)(slash - argv[0]),
             argv[0]);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
