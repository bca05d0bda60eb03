/*
** test_cli.c — the `tesoro` command-line tool (examples/cli.c), run as a
** separate process (posix_spawn, stdout and stderr through pipes) the way
** an operator runs it.  Every command, its --help and its error paths:
** exit codes (0 ok, 1 refused, 2 usage, 3 database or file), what reaches
** stdout and what reaches stderr, and that no failure leaves a file behind.
** Lists are compared whole with the library's own cursors rendered by this
** file in the documented format (header, tab-separated fields, escapes).
**
** Also the state diagrams in Markdown: the README points to `tesoro dot
** MACHINE --mermaid` instead of carrying them, and any `<!-- diagram:
** MACHINE -->` block it does carry must equal that command's output;
** test/update_diagrams.sh must rewrite stale blocks of every machine into
** exactly that.
**
** The tool is found next to this program (build/tesoro beside
** build/test_cli), or at $TESORO_CLI.
*/
#include "testutil.h"
#include "faultutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char cli_path[1024];
static int cli_runs; /* processes started, for the summary line */
/* TESORO_LIGHT (the valgrind run, where every process start is slow): the
   repetitions that only vary the spelling run for one case each. */
static int light;

/* ------------------------------------------------------------------------
** Running the tool.
*/

typedef struct run_result {
  int status; /* exit code; 128 + signal if killed */
  char *out;  /* stdout, NUL-terminated */
  char *err;  /* stderr */
} run_result;

static void run_free(run_result *r) {
  free(r->out);
  free(r->err);
  r->out = r->err = NULL;
}

/* Append what fd has to *buf; returns 0 at EOF, 1 if more may come. */
static int drain(int fd, char **buf, size_t *len) {
  char chunk[4096];
  ssize_t n = read(fd, chunk, sizeof chunk);
  if (n < 0 && errno == EINTR) return 1;
  if (n <= 0) return 0;
  *buf = realloc(*buf, *len + (size_t)n + 1);
  assert_non_null(*buf);
  memcpy(*buf + *len, chunk, (size_t)n);
  *len += (size_t)n;
  (*buf)[*len] = '\0';
  return 1;
}

/*
** Run the tool with `args` (NULL-terminated, without the program name).
** stdout goes to a pipe, or to the file stdout_path when given; stdin is
** /dev/null.  The environment is ours without TESORO_DB, plus
** TESORO_DB=env_db when env_db is given.
*/
static void run_argv(run_result *r, const char *stdout_path, const char *env_db,
                     const char *const *args) {
  int out[2], err[2], nargs = 0, nenv = 0;
  char **argv, **envp;
  char dbvar[1100];
  posix_spawn_file_actions_t fa;
  pid_t pid;
  size_t olen = 0, elen = 0;
  int oopen, eopen, st;

  while (args[nargs]) nargs++;
  argv = calloc((size_t)nargs + 2, sizeof *argv);
  assert_non_null(argv);
  argv[0] = cli_path;
  for (int i = 0; i < nargs; i++) argv[i + 1] = (char *)args[i];
  while (environ[nenv]) nenv++;
  envp = calloc((size_t)nenv + 2, sizeof *envp);
  assert_non_null(envp);
  nenv = 0;
  for (char **e = environ; *e; e++)
    if (strncmp(*e, "TESORO_DB=", 10) != 0) envp[nenv++] = *e;
  if (env_db) {
    snprintf(dbvar, sizeof dbvar, "TESORO_DB=%s", env_db);
    envp[nenv++] = dbvar;
  }

  assert_int_equal(pipe(out), 0);
  assert_int_equal(pipe(err), 0);
  for (int i = 0; i < 2; i++) {
    fcntl(out[i], F_SETFD, FD_CLOEXEC);
    fcntl(err[i], F_SETFD, FD_CLOEXEC);
  }
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (stdout_path)
    posix_spawn_file_actions_addopen(&fa, 1, stdout_path, O_WRONLY, 0);
  else
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  assert_int_equal(posix_spawn(&pid, cli_path, &fa, NULL, argv, envp), 0);
  posix_spawn_file_actions_destroy(&fa);
  cli_runs++;
  close(out[1]);
  close(err[1]);
  free(argv);
  free(envp);

  r->out = calloc(1, 1);
  r->err = calloc(1, 1);
  assert_true(r->out && r->err);
  oopen = eopen = 1;
  while (oopen || eopen) {
    struct pollfd p[2];
    int n = 0, io = -1, ie = -1;
    if (oopen) { p[n].fd = out[0]; p[n].events = POLLIN; io = n++; }
    if (eopen) { p[n].fd = err[0]; p[n].events = POLLIN; ie = n++; }
    if (poll(p, (nfds_t)n, -1) < 0) {
      assert_int_equal(errno, EINTR);
      continue;
    }
    if (io >= 0 && p[io].revents) oopen = drain(out[0], &r->out, &olen);
    if (ie >= 0 && p[ie].revents) eopen = drain(err[0], &r->err, &elen);
  }
  close(out[0]);
  close(err[0]);
  while (waitpid(pid, &st, 0) < 0) assert_int_equal(errno, EINTR);
  r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define RUN(r, ...) run_argv((r), NULL, NULL, ARGS(__VA_ARGS__))

/*
** The exit code is `code`; stdout contains out_has and stderr err_has
** (NULL: not checked).  Shape rules for every run: success writes nothing
** to stderr; a failure writes lines starting "tesoro: " and nothing to
** stdout; a usage error says how to get help; nothing ever crashes.
*/
static void expect_(const run_result *r, int code, const char *out_has,
                    const char *err_has, const char *file, int line) {
  int ok = r->status == code;
  if (out_has && strstr(r->out, out_has) == NULL) ok = 0;
  if (err_has && strstr(r->err, err_has) == NULL) ok = 0;
  if (code == 0 && r->err[0] != '\0') ok = 0;
  if (code != 0 && strncmp(r->err, "tesoro: ", 8) != 0) ok = 0;
  if (code != 0 && r->out[0] != '\0') ok = 0;
  if (code == 2 && strstr(r->err, "Try 'tesoro") == NULL) ok = 0;
  if (!ok) {
    print_error("%s:%d: exit %d (want %d); stdout has '%s', stderr has '%s'\n"
                "--- stdout:\n%s--- stderr:\n%s---\n",
                file, line, r->status, code, out_has ? out_has : "",
                err_has ? err_has : "", r->out, r->err);
    fail();
  }
}
#define EXPECT(r, code, out_has, err_has)                                     \
  expect_((r), (code), (out_has), (err_has), __FILE__, __LINE__)

/* Run and check in one go (the output is discarded). */
#define RUN_EXPECT(code, out_has, err_has, ...)                               \
  do {                                                                        \
    run_result rr_;                                                           \
    RUN(&rr_, __VA_ARGS__);                                                   \
    expect_(&rr_, (code), (out_has), (err_has), __FILE__, __LINE__);          \
    run_free(&rr_);                                                           \
  } while (0)

/* Decimal text of a number, from a ring of buffers (valid for 32 calls). */
static const char *num(int64_t v) {
  static char ring[32][24];
  static int next;
  char *b = ring[next++ % 32];
  snprintf(b, sizeof ring[0], "%lld", (long long)v);
  return b;
}

/* ------------------------------------------------------------------------
** The documented list format, written independently of the tool: header
** line, one line per row, tab-separated, NULL empty, \ tab LF CR escaped.
*/
static void put_field(FILE *f, const char *v) {
  for (; v && *v; v++) {
    if (*v == '\\') fputs("\\\\", f);
    else if (*v == '\t') fputs("\\t", f);
    else if (*v == '\n') fputs("\\n", f);
    else if (*v == '\r') fputs("\\r", f);
    else fputc(*v, f);
  }
}

/* Render (and free) a cursor; *rows counts its rows.  malloc'd. */
static char *render(tesoro_cursor *c, int *rows) {
  char *text = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&text, &size);
  int n, rc;
  assert_non_null(c);
  assert_non_null(f);
  n = tesoro_cursor_columns(c);
  for (int i = 0; i < n; i++) {
    if (i) fputc('\t', f);
    put_field(f, tesoro_cursor_name(c, i));
  }
  fputc('\n', f);
  *rows = 0;
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
    for (int i = 0; i < n; i++) {
      if (i) fputc('\t', f);
      put_field(f, tesoro_cursor_text(c, i));
    }
    fputc('\n', f);
    ++*rows;
  }
  assert_int_equal(rc, TESORO_DONE);
  tesoro_cursor_free(c);
  fclose(f);
  return text;
}

/* Lines in a text. */
static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

/* The first field of line `k` (0 = header) as a number. */
static int64_t field0(const char *s, int k) {
  for (; k > 0 && s; k--) {
    s = strchr(s, '\n');
    if (s) s++;
  }
  assert_non_null(s);
  return strtoll(s, NULL, 10);
}

/* Does a list have a row whose first field is id? */
static int lists_id(const char *s, int64_t id) {
  char needle[32];
  snprintf(needle, sizeof needle, "\n%lld\t", (long long)id);
  return strstr(s, needle) != NULL;
}

/* ------------------------------------------------------------------------
** Directories.
*/

static void make_dir(char dir[64]) {
  snprintf(dir, 64, "/tmp/tesoro-cli-XXXXXX");
  assert_non_null(mkdtemp(dir));
}

static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char p[600];
  if (d == NULL) return;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

/* Is `name` the database `keep` or one of SQLite's files beside it? */
static int is_db_file(const char *name, const char *keep) {
  size_t n = strlen(keep);
  return strncmp(name, keep, n) == 0 &&
         (name[n] == '\0' || strcmp(name + n, "-wal") == 0 ||
          strcmp(name + n, "-shm") == 0 || strcmp(name + n, "-journal") == 0);
}

/* Names in dir other than the database `keep` and its -wal, -shm, -journal
   (NULL: keep none), space-separated into buf; returns their count. */
static int dir_extra(const char *dir, const char *keep, char *buf, size_t len) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  assert_non_null(d);
  buf[0] = '\0';
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (keep && is_db_file(e->d_name, keep)) continue;
    n++;
    strncat(buf, e->d_name, len - strlen(buf) - 2);
    strncat(buf, " ", len - strlen(buf) - 1);
  }
  closedir(d);
  return n;
}

/* No temporary file of the tool (".tmp-", ".init-") is left in dir. */
#define ASSERT_NO_TEMP(dir)                                                   \
  do {                                                                        \
    DIR *d_ = opendir(dir);                                                   \
    struct dirent *e_;                                                        \
    assert_non_null(d_);                                                      \
    while ((e_ = readdir(d_)) != NULL)                                        \
      if (strstr(e_->d_name, ".tmp-") || strstr(e_->d_name, ".init-")) {     \
        print_error("%s:%d: left behind: %s\n", __FILE__, __LINE__,           \
                    e_->d_name);                                              \
        fail();                                                               \
      }                                                                       \
    closedir(d_);                                                             \
  } while (0)

#define ASSERT_DIR_HOLDS_ONLY(dir, keep)                                      \
  do {                                                                        \
    char extra_[1024];                                                        \
    if (dir_extra((dir), (keep), extra_, sizeof extra_) != 0) {               \
      print_error("%s:%d: %s has unexpected files: %s\n", __FILE__, __LINE__, \
                  (dir), extra_);                                             \
      fail();                                                                 \
    }                                                                         \
  } while (0)

static int file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

/* The file holds exactly `want`. */
static void assert_file_is(const char *path, const char *want) {
  char *got = (char *)tu_read_file(path, NULL);
  assert_non_null(got);
  assert_string_equal(got, want);
  free(got);
}

/* A run with -o FILE: exit 0, nothing on stdout (r is freed), the file
   holds exactly `want`, and no temporary of the tool is left in dir. */
static void expect_written(run_result *r, const char *file, const char *want,
                           const char *dir) {
  EXPECT(r, 0, NULL, NULL);
  assert_string_equal(r->out, "");
  run_free(r);
  assert_file_is(file, want);
  ASSERT_NO_TEMP(dir);
}

/* ------------------------------------------------------------------------
** A confirmed viewing in the fixture's world.
*/
typedef struct viewing {
  int64_t listing, deal, dp, appt, start;
} viewing;

static void make_viewing(tu_world *w, viewing *v) {
  v->listing = tu_published_listing(w, "Canal house",
                                    "Herengracht 100, Amsterdam", 50000000);
  TU_OK(w, tesoro_deal_create(w->t, w->agent, w->contact, "A house", &v->deal));
  TU_OK(w, tesoro_deal_offer(w->t, w->agent, v->deal, v->listing, &v->dp));
  v->start = TU_NOW + 2 * 86400;
  TU_OK(w, tesoro_appointment_request(w->t, w->client, v->dp, &v->start, 1,
                                      &v->appt));
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, v->appt, v->start, 0, 0));
}

/* ------------------------------------------------------------------------
** Help and usage.
*/

static const char *const command_names[] = {
    "init", "tick", "outbox", "ics", "history", "allowed", "dot", "check",
    "stats", NULL};

static void test_help(void **state) {
  run_result r, h;
  (void)state;
  RUN(&r, "--help");
  EXPECT(&r, 0, "usage: tesoro", NULL);
  for (int i = 0; command_names[i]; i++) {
    char line[64];
    snprintf(line, sizeof line, "\n  %s", command_names[i]);
    if (strstr(r.out, line) == NULL) fail_msg("--help lacks %s", line + 1);
  }
  assert_non_null(strstr(r.out, "Exit status: 0 success; 1 refused"));
  RUN(&h, "help");
  EXPECT(&h, 0, NULL, NULL);
  assert_string_equal(h.out, r.out);
  run_free(&h);
  RUN(&h, "-h");
  EXPECT(&h, 0, NULL, NULL);
  assert_string_equal(h.out, r.out);
  run_free(&h);
  run_free(&r);

  /* Each command's help: on stdout, exit 0, no database needed, the same
     as `help COMMAND`, and not the tool's overview. */
  for (int i = 0; command_names[i]; i++) {
    char usage[64];
    snprintf(usage, sizeof usage, "usage: tesoro");
    RUN(&r, command_names[i], "--help");
    EXPECT(&r, 0, usage, NULL);
    assert_non_null(strstr(r.out, command_names[i]));
    assert_null(strstr(r.out, "Commands:"));
    RUN(&h, "help", command_names[i]);
    EXPECT(&h, 0, NULL, NULL);
    assert_string_equal(h.out, r.out);
    run_free(&h);
    if (!light || i == 0) {
      RUN(&h, command_names[i], "-h");
      EXPECT(&h, 0, NULL, NULL);
      assert_string_equal(h.out, r.out);
      run_free(&h);
    }
    run_free(&r);
  }
  /* --help wins over bad arguments around it. */
  RUN_EXPECT(0, "usage: tesoro --db FILE history", NULL, "history", "x",
             "--help");
  RUN_EXPECT(0, "outbox ack ID", NULL, "outbox", "ack", "--help");
  RUN_EXPECT(2, NULL, "no command 'frob'", "help", "frob");

  RUN(&r, "--version");
  EXPECT(&r, 0, tesoro_version(), NULL);
  run_free(&r);
}

static void test_usage_errors(void **state) {
  run_result r;
  (void)state;
  RUN(&r, "--db", "x.db");
  assert_int_equal(r.status, 2);
  assert_non_null(strstr(r.err, "missing COMMAND"));
  assert_non_null(strstr(r.err, "usage: tesoro"));
  assert_string_equal(r.out, "");
  run_free(&r);
  RUN_EXPECT(2, NULL, "tesoro: unknown command 'frobnicate'", "frobnicate");
  RUN_EXPECT(2, NULL, "unknown command 'CHECK'", "CHECK");
  RUN_EXPECT(2, NULL, "tesoro: unknown option '--frob'", "--frob", "check");
  RUN_EXPECT(2, NULL, "tesoro: check: unknown option '--frob'", "check",
             "--frob");
  RUN_EXPECT(2, NULL, "unknown option '-x'", "dot", "room", "-x");
  RUN_EXPECT(2, NULL, "--db needs a value", "check", "--db");
  RUN_EXPECT(2, NULL, "--db needs a value", "--db");
  RUN_EXPECT(2, NULL, "--db needs a file name", "--db=", "check");
  RUN_EXPECT(2, NULL, "--now takes UTC seconds", "--now", "yesterday", "tick");
  RUN_EXPECT(2, NULL, "--now takes UTC seconds", "tick", "--now",
             "2026-02-30");
  RUN_EXPECT(2, NULL, "--now takes UTC seconds", "tick", "--now",
             "2026-05-28T25:00Z");
  RUN_EXPECT(2, NULL, "--now takes UTC seconds", "tick", "--now", "12abc");
  RUN_EXPECT(2, NULL, "--now takes UTC seconds", "tick", "--now", "-5");
  RUN_EXPECT(2, NULL, "unexpected argument 'extra'", "check", "extra");
  RUN_EXPECT(2, NULL, "unexpected argument 'now'", "tick", "now");
  RUN_EXPECT(2, NULL, "--mermaid takes no value", "dot", "room",
             "--mermaid=yes");
  /* No database named anywhere. */
  RUN_EXPECT(2, NULL, "tesoro: check: no database: give --db FILE or set "
             "TESORO_DB", "check");
  RUN_EXPECT(2, NULL, "no database", "stats");
  RUN_EXPECT(2, NULL, "no database", "init", "A", "--admin-name", "B",
             "--admin-email", "b@example.com", "--currency", "EUR");
}

/* ------------------------------------------------------------------------
** init
*/

static void test_init_creates_the_file_and_agency(void **state) {
  char dir[64], path[128], sql[256], *text;
  run_result r;
  long long agency, admin, website;
  struct stat st;
  mode_t mask = umask(0);
  (void)state;
  umask(mask);
  make_dir(dir);
  snprintf(path, sizeof path, "%s/agency.db", dir);

  RUN(&r, "--db", path, "init", "Tesoro Homes", "--admin-name", "Alice Admin",
      "--admin-email", "alice@example.com", "--timezone", "Europe/Amsterdam",
      "--currency", "EUR", "--portal", "on");
  EXPECT(&r, 0, "agency ", NULL);
  assert_int_equal(sscanf(r.out, "agency %lld\nadmin %lld\nwebsite %lld\n",
                          &agency, &admin, &website), 3);
  assert_int_equal(count_lines(r.out), 3);
  run_free(&r);
  ASSERT_DIR_HOLDS_ONLY(dir, "agency.db");
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0666 & ~mask);

  snprintf(sql, sizeof sql,
           "SELECT name||'|'||timezone||'|'||currency||'|'||portal_active "
           "FROM agency WHERE id = %lld", agency);
  text = tu_sql_text_path(path, sql);
  assert_string_equal(text, "Tesoro Homes|Europe/Amsterdam|EUR|1");
  free(text);
  snprintf(sql, sizeof sql,
           "SELECT kind||'|'||role||'|'||agency_id||'|'||name||'|'||email "
           "FROM actor WHERE id = %lld", admin);
  text = tu_sql_text_path(path, sql);
  snprintf(sql, sizeof sql, "agent|admin|%lld|Alice Admin|alice@example.com",
           agency);
  assert_string_equal(text, sql);
  free(text);
  snprintf(sql, sizeof sql,
           "SELECT kind||'|'||agency_id FROM actor WHERE id = %lld", website);
  text = tu_sql_text_path(path, sql);
  snprintf(sql, sizeof sql, "website|%lld", agency);
  assert_string_equal(text, sql);
  free(text);
  RUN_EXPECT(0, "ok\n", NULL, "--db", path, "check");

  /* A second agency into the same file: added, the first untouched;
     portal off by default, time zone UTC by default. */
  RUN(&r, "init", "Other Estates", "--admin-name", "Oscar",
      "--admin-email=oscar@example.com", "--currency=GBP", "--db", path);
  EXPECT(&r, 0, "agency ", NULL);
  {
    long long a2, ad2, w2;
    assert_int_equal(sscanf(r.out, "agency %lld\nadmin %lld\nwebsite %lld\n",
                            &a2, &ad2, &w2), 3);
    assert_true(a2 != agency && ad2 != admin && w2 != website);
    snprintf(sql, sizeof sql,
             "SELECT name||'|'||timezone||'|'||currency||'|'||portal_active "
             "FROM agency WHERE id = %lld", a2);
    text = tu_sql_text_path(path, sql);
    assert_string_equal(text, "Other Estates|UTC|GBP|0");
    free(text);
  }
  run_free(&r);
  assert_int_equal(tu_sql_int_path(path, "SELECT count(*) FROM agency"), 2);
  RUN_EXPECT(0, "ok\n", NULL, "--db", path, "check");
  remove_dir(dir);
}

static void test_init_failures_leave_nothing(void **state) {
  char dir[64], path[128], sub[160], text_path[160], before[65], after[65];
  (void)state;
  make_dir(dir);
  snprintf(path, sizeof path, "%s/new.db", dir);

  /* Refused by the library: exit 1, its name and message, no file, no
     temporary left over. */
  RUN_EXPECT(1, NULL, "tesoro: init: EINVAL: time zone Mars/Olympus",
             "--db", path, "init", "A", "--admin-name", "B", "--admin-email",
             "b@example.com", "--currency", "EUR", "--timezone",
             "Mars/Olympus");
  ASSERT_DIR_HOLDS_ONLY(dir, NULL);
  RUN_EXPECT(1, NULL, "EINVAL", "--db", path, "init", "A", "--admin-name",
             "B", "--admin-email", "b@example.com", "--currency", "euro");
  RUN_EXPECT(1, NULL, "EINVAL", "--db", path, "init", "A", "--admin-name",
             "B", "--admin-email", "not-an-email", "--currency", "EUR");
  RUN_EXPECT(1, NULL, "EINVAL", "--db", path, "init", "", "--admin-name",
             "B", "--admin-email", "b@example.com", "--currency", "EUR");
  ASSERT_DIR_HOLDS_ONLY(dir, NULL);

  /* Usage: exit 2 before anything is touched. */
  RUN_EXPECT(2, NULL, "missing the agency's NAME", "--db", path, "init",
             "--admin-name", "B", "--admin-email", "b@example.com",
             "--currency", "EUR");
  RUN_EXPECT(2, NULL, "missing --admin-name", "--db", path, "init", "A",
             "--admin-email", "b@example.com", "--currency", "EUR");
  RUN_EXPECT(2, NULL, "missing --admin-email", "--db", path, "init", "A",
             "--admin-name", "B", "--currency", "EUR");
  RUN_EXPECT(2, NULL, "missing --currency", "--db", path, "init", "A",
             "--admin-name", "B", "--admin-email", "b@example.com");
  RUN_EXPECT(2, NULL, "--portal takes on or off, not 'yes'", "--db", path,
             "init", "A", "--admin-name", "B", "--admin-email",
             "b@example.com", "--currency", "EUR", "--portal", "yes");
  RUN_EXPECT(2, NULL, "--admin-name needs a value", "--db", path, "init",
             "A", "--admin-name");
  RUN_EXPECT(2, NULL, "unexpected argument 'B'", "--db", path, "init", "A",
             "B");
  ASSERT_DIR_HOLDS_ONLY(dir, NULL);

  /* A directory that does not exist: exit 3. */
  snprintf(sub, sizeof sub, "%s/no/such/dir.db", dir);
  RUN_EXPECT(3, NULL, "cannot create database", "--db", sub, "init", "A",
             "--admin-name", "B", "--admin-email", "b@example.com",
             "--currency", "EUR");
  ASSERT_DIR_HOLDS_ONLY(dir, NULL);

  /* A file that is not a tesoro database: ENOTDB, exit 3, unchanged. */
  snprintf(text_path, sizeof text_path, "%s/notes.txt", dir);
  write_text(text_path, "these are not the droids you are looking for\n");
  RUN_EXPECT(3, NULL, "ENOTDB", "--db", text_path, "init", "A",
             "--admin-name", "B", "--admin-email", "b@example.com",
             "--currency", "EUR");
  assert_file_is(text_path, "these are not the droids you are looking for\n");
  ASSERT_DIR_HOLDS_ONLY(dir, "notes.txt");

  /* An existing database and a refused init: not one row changes. */
  RUN_EXPECT(0, "agency ", NULL, "--db", path, "init", "A", "--admin-name",
             "B", "--admin-email", "b@example.com", "--currency", "EUR");
  tu_digest_path(path, before);
  RUN_EXPECT(1, NULL, "EINVAL", "--db", path, "init", "C", "--admin-name",
             "D", "--admin-email", "d@example.com", "--currency", "EUR",
             "--timezone", "Nowhere/Land");
  tu_digest_path(path, after);
  assert_string_equal(before, after);
  assert_int_equal(tu_sql_int_path(path, "SELECT count(*) FROM agency"), 1);
  remove_dir(dir);
}

/* ------------------------------------------------------------------------
** Commands on an existing database.
*/

/* Every command that needs a database refuses a missing one (exit 3) and
   does not create it; and a file that is not a tesoro database. */
static void test_missing_or_foreign_database(void **state) {
  tu_world *w = *state;
  char path[600], text_path[600];
  const char *const *cmds[] = {
      ARGS("tick"),
      ARGS("outbox", "list"),
      ARGS("outbox", "ack", "1"),
      ARGS("outbox", "fail", "1", "down"),
      ARGS("ics", "1", "--as", "1"),
      ARGS("history", "room", "1", "--as", "1"),
      ARGS("allowed", "room", "1", "--as", "1"),
      ARGS("check"),
      ARGS("stats"),
      NULL};
  snprintf(path, sizeof path, "%s/missing.db", w->dir);
  snprintf(text_path, sizeof text_path, "%s/plain.txt", w->dir);
  write_text(text_path, "plain text, no SQLite header at all, long enough "
                        "to be read as one page by SQLite if it tried\n");
  for (int i = 0; cmds[i]; i++) {
    const char *args[12];
    int n = 0;
    run_result r;
    args[n++] = "--db";
    args[n++] = path;
    for (int k = 0; cmds[i][k]; k++) args[n++] = cmds[i][k];
    args[n] = NULL;
    run_argv(&r, NULL, NULL, args);
    EXPECT(&r, 3, NULL, "cannot open database");
    assert_non_null(strstr(r.err, "No such file or directory"));
    run_free(&r);
    assert_false(file_exists(path));

    if (light && i > 1) continue;
    args[1] = text_path;
    run_argv(&r, NULL, NULL, args);
    EXPECT(&r, 3, NULL, "ENOTDB");
    run_free(&r);
  }
  /* The database named by $TESORO_DB. */
  {
    run_result r;
    run_argv(&r, NULL, w->path, ARGS("check"));
    EXPECT(&r, 0, "ok\n", NULL);
    run_free(&r);
    run_argv(&r, NULL, path, ARGS("check"));
    EXPECT(&r, 3, NULL, "missing.db");
    run_free(&r);
    /* --db wins over $TESORO_DB. */
    run_argv(&r, NULL, path, ARGS("--db", w->path, "check"));
    EXPECT(&r, 0, "ok\n", NULL);
    run_free(&r);
  }
}

static void test_tick(void **state) {
  tu_world *w = *state;
  viewing v;
  run_result r;
  const char *st;
  int64_t want;
  char line[64];
  make_viewing(w, &v);

  /* Nothing due yet at TU_NOW. */
  RUN_EXPECT(0, "fired 0\n", NULL, "--db", w->path, "--now", num(TU_NOW),
             "tick");
  TU_OK(w, tesoro_entity_state(w->t, w->agent, TESORO_ENTITY_APPOINTMENT,
                               v.appt, &st, NULL));
  assert_string_equal(st, "confirmed");

  /* Just after the end (an hour after the start): the timers due by then
     (the reminder and the completion) fire, each once. */
  want = tu_sqlf(w, "SELECT count(*) FROM timer WHERE due_at <= %lld",
                 (long long)(v.start + 3660));
  assert_true(want >= 2);
  RUN(&r, "tick", "--db", w->path, "--now", num(v.start + 3660));
  EXPECT(&r, 0, NULL, NULL);
  snprintf(line, sizeof line, "fired %lld\n", (long long)want);
  assert_string_equal(r.out, line);
  run_free(&r);
  TU_OK(w, tesoro_entity_state(w->t, w->agent, TESORO_ENTITY_APPOINTMENT,
                               v.appt, &st, NULL));
  assert_string_equal(st, "completed");
  /* Each is gone from the timers; the viewing completed at that time, and
     the reminder, reached only after the start, was dropped unsent. */
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM timer WHERE due_at <= %lld",
                           (long long)(v.start + 3660)),
                   0);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM history WHERE at = %lld "
                              "AND event = 'complete'",
                           (long long)(v.start + 3660)),
                   1);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM history WHERE event = "
                              "'send_reminder'"),
                   0);
  /* Each timer once. */
  RUN_EXPECT(0, "fired 0\n", NULL, "--db", w->path, "--now",
             num(v.start + 3660), "tick");
  /* An ISO time: the feedback request an hour after the end. */
  {
    char iso[32];
    time_t t = (time_t)(v.start + 7200);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    RUN_EXPECT(0, "fired 1\n", NULL, "--db", w->path, "--now", iso, "tick");
  }
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM timer WHERE due_at <= %lld",
                           (long long)(v.start + 7200)),
                   0);
  RUN_EXPECT(0, NULL, NULL, "--db", w->path, "check");
}

static void test_outbox(void **state) {
  tu_world *w = *state;
  tesoro_cursor *c;
  run_result r;
  char *want, line[64];
  int rows, other_rows;
  int64_t first, second;
  viewing v;
  make_viewing(w, &v);

  /* The whole due list equals the library's, rendered. */
  TU_OK(w, tesoro_outbox_fetch(w->t, 0, 100, &c));
  want = render(c, &rows);
  assert_true(rows >= 3);
  RUN(&r, "--db", w->path, "--now", num(TU_NOW), "outbox", "list");
  EXPECT(&r, 0, "id\tuid\tagency_id\t", NULL);
  assert_string_equal(r.out, want);
  first = field0(r.out, 1);
  second = field0(r.out, 2);
  run_free(&r);
  free(want);

  /* --limit and --agency. */
  RUN(&r, "--db", w->path, "--now", num(TU_NOW), "outbox", "list", "--limit",
      "2");
  EXPECT(&r, 0, NULL, NULL);
  assert_int_equal(count_lines(r.out), 3);
  run_free(&r);
  TU_OK(w, tesoro_outbox_fetch(w->t, w->other_agency, 100, &c));
  want = render(c, &other_rows);
  RUN(&r, "--db", w->path, "--now", num(TU_NOW), "outbox", "list",
      "--agency", num(w->other_agency));
  EXPECT(&r, 0, NULL, NULL);
  assert_string_equal(r.out, want);
  assert_true(other_rows < rows);
  run_free(&r);
  free(want);
  /* Before the rows were made, nothing is due. */
  RUN(&r, "--db", w->path, "--now", num(TU_NOW - 3600), "outbox", "list");
  EXPECT(&r, 0, NULL, NULL);
  assert_int_equal(count_lines(r.out), 1);
  run_free(&r);

  /* ack: delivered once; then ESTATE; unknown ids ENOTFOUND. */
  RUN(&r, "--db", w->path, "outbox", "ack", num(first));
  snprintf(line, sizeof line, "delivered %lld\n", (long long)first);
  EXPECT(&r, 0, NULL, NULL);
  assert_string_equal(r.out, line);
  run_free(&r);
  assert_int_equal(tu_sqlf(w, "SELECT status = 'delivered' FROM outbox_delivery "
                              "WHERE id = %lld", (long long)first), 1);
  RUN_EXPECT(1, NULL, "tesoro: outbox: ESTATE: ", "--db", w->path, "outbox",
             "ack", num(first));
  RUN_EXPECT(1, NULL, "ENOTFOUND", "--db", w->path, "outbox", "ack",
             "99999999");

  /* fail: counted, retried after the backoff (60 s). */
  RUN(&r, "--db", w->path, "--now", num(TU_NOW), "outbox", "fail",
      num(second), "smtp\tdown");
  snprintf(line, sizeof line, "failed %lld\n", (long long)second);
  EXPECT(&r, 0, NULL, NULL);
  assert_string_equal(r.out, line);
  run_free(&r);
  {
    char *e = tu_sqlf_text(w, "SELECT status||'|'||attempts||'|'||last_error "
                              "FROM outbox_delivery WHERE id = %lld", (long long)second);
    assert_string_equal(e, "pending|1|smtp\tdown");
    free(e);
  }
  RUN(&r, "--db", w->path, "--now", num(TU_NOW), "outbox", "list");
  EXPECT(&r, 0, NULL, NULL);
  assert_int_equal(count_lines(r.out), rows + 1 - 2);
  assert_false(lists_id(r.out, first));
  assert_false(lists_id(r.out, second));
  run_free(&r);
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 60));
  TU_OK(w, tesoro_outbox_fetch(w->t, 0, 100, &c));
  want = render(c, &other_rows);
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW));
  RUN(&r, "--db", w->path, "--now", num(TU_NOW + 60), "outbox", "list");
  EXPECT(&r, 0, NULL, NULL);
  assert_string_equal(r.out, want);
  assert_int_equal(other_rows, rows - 1);
  run_free(&r);
  free(want);
  RUN_EXPECT(1, NULL, "ENOTFOUND", "--db", w->path, "outbox", "fail",
             "99999999", "x");

  /* The library's range checks: exit 1 with its message. */
  RUN_EXPECT(1, NULL, "tesoro: outbox: EINVAL: ", "--db", w->path, "outbox",
             "list", "--limit", "0");
  RUN_EXPECT(1, NULL, "EINVAL", "--db", w->path, "outbox", "list", "--limit",
             "10001");
  /* Usage. */
  RUN_EXPECT(2, NULL, "missing list, ack or fail", "--db", w->path, "outbox");
  RUN_EXPECT(2, NULL, "unknown outbox command 'send'", "--db", w->path,
             "outbox", "send");
  RUN_EXPECT(2, NULL, "'outbox ack' takes one ID", "--db", w->path, "outbox",
             "ack");
  RUN_EXPECT(2, NULL, "'outbox ack' takes one ID", "--db", w->path, "outbox",
             "ack", "1", "2");
  RUN_EXPECT(2, NULL, "ID must be a positive integer, not 'abc'", "--db",
             w->path, "outbox", "ack", "abc");
  RUN_EXPECT(2, NULL, "ID must be a positive integer, not '0'", "--db",
             w->path, "outbox", "ack", "0");
  RUN_EXPECT(2, NULL, "not '99999999999999999999'", "--db", w->path,
             "outbox", "ack", "99999999999999999999");
  RUN_EXPECT(2, NULL, "'outbox fail' takes ID and MESSAGE", "--db", w->path,
             "outbox", "fail", num(second));
  RUN_EXPECT(2, NULL, "'outbox list' takes no argument", "--db", w->path,
             "outbox", "list", "5");
  RUN_EXPECT(2, NULL, "--limit must be an integer, not '1x'", "--db",
             w->path, "outbox", "list", "--limit", "1x");
  RUN_EXPECT(2, NULL, "--agency must be >= 0", "--db", w->path, "outbox",
             "list", "--agency", "-1");
  RUN_EXPECT(2, NULL, "are for 'outbox list'", "--db", w->path, "outbox",
             "ack", num(second), "--limit", "3");
  /* Nothing changed by the refusals: the failed row still has 1 attempt. */
  assert_int_equal(tu_sqlf(w, "SELECT attempts FROM outbox_delivery WHERE id = %lld",
                           (long long)second), 1);
}

static void test_ics(void **state) {
  tu_world *w = *state;
  viewing v;
  run_result r;
  char *want, *with_link, file[600];
  make_viewing(w, &v);
  TU_OK(w, tesoro_appointment_ics(w->t, w->client, v.appt, NULL, &want));
  TU_OK(w, tesoro_appointment_ics(w->t, w->agent, v.appt,
                                  "https://portal.example.com/v/1",
                                  &with_link));

  /* stdout, as the client and as staff (with a link). */
  RUN(&r, "--db", w->path, "--now", num(TU_NOW), "ics", num(v.appt), "--as",
      num(w->client));
  EXPECT(&r, 0, "BEGIN:VCALENDAR\r\n", NULL);
  assert_string_equal(r.out, want);
  run_free(&r);
  RUN(&r, "ics", num(v.appt), "--db", w->path, "--now", num(TU_NOW), "--as",
      num(w->agent), "--link", "https://portal.example.com/v/1", "-o", "-");
  EXPECT(&r, 0, NULL, NULL);
  assert_string_equal(r.out, with_link);
  run_free(&r);

  /* -o FILE: written whole, replacing what was there, nothing else left. */
  snprintf(file, sizeof file, "%s/viewing.ics", w->dir);
  write_text(file, "old\n");
  RUN(&r, "--db", w->path, "--now", num(TU_NOW), "ics", num(v.appt), "--as",
      num(w->client), "-o", file);
  expect_written(&r, file, want, w->dir);

  /* Refusals leave the old file as it was and no temporary. */
  write_text(file, "old\n");
  RUN_EXPECT(1, NULL, "tesoro: ics: EDENIED: ", "--db", w->path, "ics",
             num(v.appt), "--as", num(w->other_admin), "--output", file);
  RUN_EXPECT(1, NULL, "EDENIED", "--db", w->path, "ics", num(v.appt), "--as",
             num(w->client2));
  RUN_EXPECT(1, NULL, "ENOTFOUND", "--db", w->path, "ics", "99999999",
             "--as", num(w->agent), "-o", file);
  assert_file_is(file, "old\n");
  unlink(file);
  ASSERT_DIR_HOLDS_ONLY(w->dir, "tesoro.db");

  /* An output directory that does not exist: exit 3, nothing written. */
  snprintf(file, sizeof file, "%s/no/such/dir/v.ics", w->dir);
  RUN_EXPECT(3, NULL, "tesoro: ics: cannot write", "--db", w->path, "ics",
             num(v.appt), "--as", num(w->agent), "-o", file);
  ASSERT_DIR_HOLDS_ONLY(w->dir, "tesoro.db");

  /* Usage. */
  RUN_EXPECT(2, NULL, "missing APPOINTMENT", "--db", w->path, "ics", "--as",
             num(w->agent));
  RUN_EXPECT(2, NULL, "missing --as ACTOR", "--db", w->path, "ics",
             num(v.appt));
  RUN_EXPECT(2, NULL, "--as must be a positive integer, not 'alice'", "--db",
             w->path, "ics", num(v.appt), "--as", "alice");
  RUN_EXPECT(2, NULL, "APPOINTMENT must be a positive integer", "--db",
             w->path, "ics", "first", "--as", num(w->agent));
  RUN_EXPECT(2, NULL, "-o needs a file name", "--db", w->path, "ics",
             num(v.appt), "--as", num(w->agent), "-o", "");
  RUN_EXPECT(2, NULL, "-o needs a value", "--db", w->path, "ics",
             num(v.appt), "--as", num(w->agent), "-o");
  tesoro_free(want);
  tesoro_free(with_link);
}

/* Occurrences of `needle` in `s`. */
static int count_of(const char *s, const char *needle) {
  int n = 0;
  for (const char *p = s; (p = strstr(p, needle)) != NULL; p++) n++;
  return n;
}

/* ics --feed SUBJECT: tesoro_calendar_feed, on stdout or -o FILE. */
static void test_ics_feed(void **state) {
  tu_world *w = *state;
  viewing v1, v2;
  run_result r;
  char *agent_feed, *client_feed, file[600];

  /* Usage, whatever the library has. */
  RUN_EXPECT(2, NULL, "give APPOINTMENT or --feed SUBJECT, not both", "--db",
             w->path, "ics", "1", "--feed", num(w->agent), "--as",
             num(w->agent));
  RUN_EXPECT(2, NULL, "--link is for one APPOINTMENT, not --feed", "--db",
             w->path, "ics", "--feed", num(w->agent), "--as", num(w->agent),
             "--link", "https://portal.example.com/");
  RUN_EXPECT(2, NULL, "missing --as ACTOR", "--db", w->path, "ics", "--feed",
             num(w->agent));
  RUN_EXPECT(2, NULL, "--feed must be a positive integer, not 'andy'",
             "--db", w->path, "ics", "--feed", "andy", "--as", num(w->agent));
  RUN_EXPECT(2, NULL, "--feed must be a positive integer, not '0'", "--db",
             w->path, "ics", "--feed=0", "--as", num(w->agent));
  RUN_EXPECT(2, NULL, "--feed needs a value", "--db", w->path, "ics", "--as",
             num(w->agent), "--feed");
  RUN_EXPECT(2, NULL, "-o needs a file name", "--db", w->path, "ics",
             "--feed", num(w->agent), "--as", num(w->agent), "-o", "");
  RUN_EXPECT(0, "--feed SUBJECT", NULL, "ics", "--help");

  make_viewing(w, &v1);
  make_viewing(w, &v2);
  TU_OK(w, tesoro_appointment_cancel(w->t, w->client, v2.appt, NULL, 0));
  TU_OK(w, tesoro_calendar_feed(w->t, w->agent, w->agent, &agent_feed));
  TU_OK(w, tesoro_calendar_feed(w->t, w->client, w->client, &client_feed));
  assert_int_equal(count_of(agent_feed, "BEGIN:VEVENT\r\n"), 2);
  assert_int_equal(count_of(client_feed, "BEGIN:VEVENT\r\n"), 2);

  /* stdout: the library's feed, byte for byte; either spelling. */
  RUN(&r, "--db", w->path, "--now", num(TU_NOW), "ics", "--feed",
      num(w->agent), "--as", num(w->agent));
  EXPECT(&r, 0, "BEGIN:VCALENDAR\r\n", NULL);
  assert_string_equal(r.out, agent_feed);
  assert_int_equal(count_of(r.out, "BEGIN:VEVENT\r\n"), 2);
  assert_int_equal(count_of(r.out, "\r\nSTATUS:CONFIRMED\r\n"), 1);
  assert_int_equal(count_of(r.out, "\r\nSTATUS:CANCELLED\r\n"), 1);
  assert_null(strstr(r.out, "VALARM"));
  run_free(&r);
  snprintf(file, sizeof file, "--feed=%lld", (long long)w->client);
  RUN(&r, "ics", "--as", num(w->client), file, "--db", w->path, "--now",
      num(TU_NOW), "-o", "-");
  EXPECT(&r, 0, NULL, NULL);
  assert_string_equal(r.out, client_feed);
  run_free(&r);

  /* An admin of the subject's agency; -o FILE replaces the file whole. */
  snprintf(file, sizeof file, "%s/andy.ics", w->dir);
  write_text(file, "old\n");
  RUN(&r, "--db", w->path, "--now", num(TU_NOW), "ics", "--feed",
      num(w->agent), "--as", num(w->admin), "-o", file);
  expect_written(&r, file, agent_feed, w->dir);

  /* Refusals: exit 1, the old file as it was. */
  write_text(file, "old\n");
  RUN_EXPECT(1, NULL, "tesoro: ics: EDENIED: ", "--db", w->path, "ics",
             "--feed", num(w->agent), "--as", num(w->agent2), "-o", file);
  RUN_EXPECT(1, NULL, "EDENIED", "--db", w->path, "ics", "--feed",
             num(w->client), "--as", num(w->client2));
  RUN_EXPECT(1, NULL, "EDENIED", "--db", w->path, "ics", "--feed",
             num(w->agent), "--as", num(w->other_admin));
  RUN_EXPECT(1, NULL, "ENOTFOUND", "--db", w->path, "ics", "--feed",
             "99999999", "--as", num(w->admin));
  RUN_EXPECT(1, NULL, "EINVAL", "--db", w->path, "ics", "--feed",
             num(w->website), "--as", num(w->admin), "-o", file);
  assert_file_is(file, "old\n");
  unlink(file);
  ASSERT_DIR_HOLDS_ONLY(w->dir, "tesoro.db");
  tesoro_free(agent_feed);
  tesoro_free(client_feed);
}

/* history and allowed: ENTITY ID --as ACTOR, compared with the library. */
static void test_history_and_allowed(void **state) {
  tu_world *w = *state;
  viewing v;
  run_result r, n;
  tesoro_cursor *c;
  char *want;
  int rows;
  make_viewing(w, &v);
  TU_OK(w, tesoro_appointment_reschedule(w->t, w->agent, v.appt,
                                         v.start + 3600, 0, 0));

  TU_OK(w, tesoro_history(w->t, w->agent, TESORO_ENTITY_APPOINTMENT, v.appt,
                          &c));
  want = render(c, &rows);
  assert_int_equal(rows, 3); /* request, confirm, reschedule */
  RUN(&r, "--db", w->path, "history", "appointment", num(v.appt), "--as",
      num(w->agent));
  EXPECT(&r, 0, "seq\tevent\tfrom_state\tto_state\t", NULL);
  assert_string_equal(r.out, want);
  assert_non_null(strstr(r.out, "\treschedule\tconfirmed\tconfirmed\t"));
  /* By number, and the client sees the same history. */
  RUN(&n, "--db", w->path, "history", "8", num(v.appt), "--as",
      num(w->client));
  EXPECT(&n, 0, NULL, NULL);
  assert_string_equal(n.out, r.out);
  run_free(&n);
  run_free(&r);
  free(want);

  /* deal_property, spelled both ways; a contact's history (entity 1). */
  TU_OK(w, tesoro_history(w->t, w->agent, TESORO_ENTITY_DEAL_PROPERTY, v.dp,
                          &c));
  want = render(c, &rows);
  RUN(&r, "--db", w->path, "history", "deal-property", num(v.dp), "--as",
      num(w->agent));
  EXPECT(&r, 0, NULL, NULL);
  assert_string_equal(r.out, want);
  run_free(&r);
  RUN(&r, "--db", w->path, "history", "deal_property", num(v.dp), "--as",
      num(w->agent));
  EXPECT(&r, 0, NULL, NULL);
  assert_string_equal(r.out, want);
  run_free(&r);
  free(want);
  TU_OK(w, tesoro_contact_set_consent(w->t, w->agent, w->contact,
                                      TESORO_CONSENT_GRANTED,
                                      "Yes, mail me news", 0));
  TU_OK(w, tesoro_history(w->t, w->agent, TESORO_ENTITY_CONTACT, w->contact,
                          &c));
  want = render(c, &rows);
  assert_true(rows >= 1);
  RUN(&r, "--db", w->path, "history", "contact", num(w->contact), "--as",
      num(w->agent));
  EXPECT(&r, 0, "consent", NULL);
  assert_string_equal(r.out, want);
  run_free(&r);
  free(want);

  /* allowed, per actor, at a pinned time. */
  TU_OK(w, tesoro_allowed_events(w->t, w->client, TESORO_ENTITY_APPOINTMENT, v.appt,
                          &c));
  want = render(c, &rows);
  assert_true(rows >= 5);
  RUN(&r, "--db", w->path, "--now", num(TU_NOW), "allowed", "appointment",
      num(v.appt), "--as", num(w->client));
  EXPECT(&r, 0, "event\tto_state\tallowed\tcode\treason\n", NULL);
  assert_string_equal(r.out, want);
  assert_non_null(strstr(r.out, "cancel\tcancelled\t1\t0\t\n"));
  run_free(&r);
  free(want);
  TU_OK(w, tesoro_allowed_events(w->t, w->agent, TESORO_ENTITY_APPOINTMENT, v.appt,
                          &c));
  want = render(c, &rows);
  RUN(&r, "--db", w->path, "--now", num(TU_NOW), "allowed", "8", num(v.appt),
      "--as", num(w->agent));
  EXPECT(&r, 0, NULL, NULL);
  assert_string_equal(r.out, want);
  run_free(&r);
  free(want);

  /* Refusals: another agency, another client, an unknown id. */
  RUN_EXPECT(1, NULL, "tesoro: history: EDENIED: ", "--db", w->path,
             "history", "appointment", num(v.appt), "--as",
             num(w->other_admin));
  RUN_EXPECT(1, NULL, "EDENIED", "--db", w->path, "history", "appointment",
             num(v.appt), "--as", num(w->client2));
  RUN_EXPECT(1, NULL, "tesoro: allowed: EDENIED: ", "--db", w->path,
             "allowed", "appointment", num(v.appt), "--as",
             num(w->other_agent));
  RUN_EXPECT(1, NULL, "ENOTFOUND", "--db", w->path, "history", "room",
             "99999999", "--as", num(w->agent));
  RUN_EXPECT(1, NULL, "ENOTFOUND", "--db", w->path, "allowed", "mandate",
             "99999999", "--as", num(w->agent));
  RUN_EXPECT(1, NULL, "ENOTFOUND", "--db", w->path, "history", "room", "1",
             "--as", "99999999");
  /* Usage. */
  RUN_EXPECT(2, NULL, "unknown entity 'flat'", "--db", w->path, "history",
             "flat", "1", "--as", num(w->agent));
  RUN_EXPECT(2, NULL, "unknown entity '99'", "--db", w->path, "allowed",
             "99", "1", "--as", num(w->agent));
  RUN_EXPECT(2, NULL, "unknown entity '0'", "--db", w->path, "allowed", "0",
             "1", "--as", num(w->agent));
  RUN_EXPECT(2, NULL, "ID must be a positive integer, not '-3'", "--db",
             w->path, "history", "room", "--as", num(w->agent), "--", "-3");
  RUN_EXPECT(2, NULL, "missing ENTITY and ID", "--db", w->path, "history",
             "room", "--as", num(w->agent));
  RUN_EXPECT(2, NULL, "missing --as ACTOR", "--db", w->path, "allowed",
             "room", "1");
  RUN_EXPECT(2, NULL, "unexpected argument '3'", "--db", w->path, "history",
             "room", "1", "3", "--as", num(w->agent));
}

/* export and import: the agency out as JSON Lines and into a new file, the
   same file again "present", and the failures (a bad line: exit 1, no file
   left; an existing file without --as: usage). */
static void test_export_import(void **state) {
  tu_world *w = *state;
  viewing v;
  run_result r;
  char dir[64], out[600], fresh[128], bad[600];
  make_viewing(w, &v);
  snprintf(out, sizeof out, "%s/agency.jsonl", w->dir);
  RUN(&r, "--db", w->path, "export", "--as", num(w->admin));
  EXPECT(&r, 0, "{\"type\":\"header\",\"format\":\"tesoro-agency-1\"", NULL);
  assert_true(strstr(r.out, "\"type\":\"appointment\"") != NULL);
  run_free(&r);
  RUN_EXPECT(0, NULL, NULL, "--db", w->path, "export", "--as", num(w->admin),
             "-o", out);
  RUN_EXPECT(1, NULL, "EDENIED", "--db", w->path, "export", "--as",
             num(w->client));
  RUN_EXPECT(2, NULL, "missing ADMIN", "--db", w->path, "export");
  RUN_EXPECT(2, NULL, "not both", "--db", w->path, "export", "1", "--as", "1");
  /* the admin as the argument, as `init` printed it */
  RUN(&r, "--db", w->path, "export", num(w->admin));
  EXPECT(&r, 0, "\"format\":\"tesoro-agency-1\"", NULL);
  run_free(&r);
  make_dir(dir);
  snprintf(fresh, sizeof fresh, "%s/moved.db", dir);
  RUN(&r, "--db", fresh, "--now", num(TU_NOW), "import", out);
  EXPECT(&r, 0, "agency 1\nadmin 1\n", NULL);
  assert_true(strstr(r.out, "\"present\":0}") != NULL);
  run_free(&r);
  RUN_EXPECT(0, "ok", NULL, "--db", fresh, "check");
  RUN(&r, "--db", fresh, "--now", num(TU_NOW), "import", out, "--as", "1");
  EXPECT(&r, 0, "\"imported\":0,", NULL);
  run_free(&r);
  RUN_EXPECT(2, NULL, "give --as ADMIN", "--db", fresh, "import", out);
  RUN_EXPECT(2, NULL, "missing the JSONL file", "--db", fresh, "import");
  /* a bad line: refused, named, and no new file */
  snprintf(bad, sizeof bad, "%s/bad.jsonl", w->dir);
  write_text(bad, "{\"type\":\"header\",\"format\":\"tesoro-agency-1\","
                  "\"name\":\"N\",\"currency\":\"EUR\",\"admin_name\":\"A\","
                  "\"admin_email\":\"a@example.com\"}\n{\"type\":\"contact\"}\n");
  snprintf(fresh, sizeof fresh, "%s/other.db", dir);
  RUN_EXPECT(1, NULL, "line 2", "--db", fresh, "import", bad);
  ASSERT_DIR_HOLDS_ONLY(dir, "moved.db");
  remove_dir(dir);
}

static void test_dot(void **state) {
  static const char *const names[] = {
      "room",     "mandate",        "listing",      "task",
      "deal",     "deal_property",  "appointment",  "referral",
      "portal_account", "web_customer", "search",   "vendor_claim"};
  (void)state;
  for (int i = 0; i < 12; i++) {
    int entity = i + 2;
    for (int mermaid = 0; mermaid < 2; mermaid++) {
      char *want;
      run_result r, n;
      assert_int_equal(
          tesoro_machine_diagram(
              entity, mermaid ? TESORO_DIAGRAM_MERMAID : TESORO_DIAGRAM_DOT,
              &want),
          TESORO_OK);
      if (mermaid) RUN(&r, "dot", names[i], "--mermaid");
      else RUN(&r, "dot", names[i]);
      EXPECT(&r, 0, mermaid ? "stateDiagram-v2\n" : "digraph ", NULL);
      assert_string_equal(r.out, want);
      run_free(&r);
      if (light && i % 6 != 0) { /* by number: two machines suffice */
        tesoro_free(want);
        continue;
      }
      if (mermaid) RUN(&n, "dot", "--mermaid", num(entity));
      else RUN(&n, "dot", num(entity));
      EXPECT(&n, 0, NULL, NULL);
      assert_string_equal(n.out, want);
      run_free(&n);
      tesoro_free(want);
    }
  }
  RUN_EXPECT(2, NULL, "a contact is a record, not a machine", "dot",
             "contact");
  RUN_EXPECT(2, NULL, "not a machine", "dot", "1");
  RUN_EXPECT(2, NULL, "unknown entity 'flat'", "dot", "flat");
  RUN_EXPECT(2, NULL, "unknown entity '14'", "dot", "14");
  RUN_EXPECT(2, NULL, "missing MACHINE", "dot", "--mermaid");
  RUN_EXPECT(2, NULL, "unknown option '--svg'", "dot", "room", "--svg");
}

/* A stdout that cannot be written is a failure (3), not a silent 0. */
static void test_stdout_write_error(void **state) {
  run_result r;
  (void)state;
  if (!file_exists("/dev/full")) skip();
  run_argv(&r, "/dev/full", NULL, ARGS("dot", "referral"));
  EXPECT(&r, 3, NULL, "tesoro: dot: cannot write stdout");
  run_free(&r);
  run_argv(&r, "/dev/full", NULL, ARGS("--help"));
  assert_int_equal(r.status, 3);
  run_free(&r);
}

static void test_check(void **state) {
  tu_world *w = *state;
  viewing v;
  run_result r;
  char before[65], after[65], bad[600];
  int rc;
  make_viewing(w, &v);
  RUN(&r, "--db", w->path, "check");
  EXPECT(&r, 0, NULL, NULL);
  assert_string_equal(r.out, "ok\n");
  run_free(&r);

  /* A state that its history does not explain: exit 1, the checker's own
     first violation, and check itself writes nothing. */
  {
    char sql[128];
    snprintf(sql, sizeof sql,
             "UPDATE appointment SET state = 'cancelled' WHERE id = %lld",
             (long long)v.appt);
    assert_int_equal(tu_sql_exec(w, sql, NULL, 0), 0);
  }
  rc = tesoro_check(w->t);
  assert_int_equal(rc, TESORO_EDB);
  snprintf(bad, sizeof bad, "tesoro: check: EDB: %s\n", tesoro_errmsg(w->t));
  tu_digest(w, before);
  RUN(&r, "--db", w->path, "check");
  EXPECT(&r, 1, NULL, NULL);
  assert_string_equal(r.err, bad);
  run_free(&r);
  tu_digest(w, after);
  assert_string_equal(before, after);
  RUN_EXPECT(2, NULL, "unexpected argument 'all'", "--db", w->path, "check",
             "all");
}

static void test_stats(void **state) {
  tu_world *w = *state;
  viewing v;
  run_result r;
  tesoro_cursor *c;
  char *want;
  int rows;
  make_viewing(w, &v);
  TU_OK(w, tesoro_stats(w->t, 0, &c));
  want = render(c, &rows);
  assert_true(rows >= 5);
  RUN(&r, "--db", w->path, "stats");
  EXPECT(&r, 0, "what\tstate\tcount\n", NULL);
  assert_string_equal(r.out, want);
  assert_non_null(strstr(r.out, "\nappointment\tconfirmed\t1\n"));
  run_free(&r);
  free(want);
  TU_OK(w, tesoro_stats(w->t, w->other_agency, &c));
  want = render(c, &rows);
  RUN(&r, "--db", w->path, "stats", "--agency", num(w->other_agency));
  EXPECT(&r, 0, NULL, NULL);
  assert_string_equal(r.out, want);
  assert_null(strstr(r.out, "appointment"));
  run_free(&r);
  free(want);
  RUN_EXPECT(1, NULL, "tesoro: stats: EINVAL: ", "--db", w->path, "stats",
             "--agency", "-1");
  RUN_EXPECT(2, NULL, "--agency must be an integer, not 'all'", "--db",
             w->path, "stats", "--agency", "all");
}

/* ------------------------------------------------------------------------
** Diagrams in Markdown (the README, test/update_diagrams.sh).
*/

static const char *const machines[] = {
    "room", "mandate", "listing", "task", "deal", "deal_property",
    "appointment", "referral", "portal_account", "web_customer", "search",
    "vendor_claim", NULL};

/*
** Check every `<!-- diagram: NAME -->` block of a Markdown file against
** `tesoro dot NAME --mermaid`.  seen[i] counts the blocks of machines[i].
** Returns the number of blocks that differ, are malformed or name no
** machine (each printed unless quiet).
*/
static int diagram_mismatches(const char *path, int seen[12], int quiet) {
  char *text = (char *)tu_read_file(path, NULL);
  const char *p;
  int bad = 0;
  assert_non_null(text);
  memset(seen, 0, 12 * sizeof *seen);
  for (p = text; (p = strstr(p, "<!-- diagram: ")) != NULL; p++) {
    char name[64] = "";
    const char *body, *end;
    int k, m = -1;
    run_result r;
    if (p != text && p[-1] != '\n') continue;
    if (sscanf(p, "<!-- diagram: %63[a-z_] -->%n", name, &k) != 1 ||
        p[k] != '\n') {
      if (!quiet)
        print_error("%s: malformed diagram marker at byte %ld\n", path,
                    (long)(p - text));
      bad++;
      continue;
    }
    for (int i = 0; machines[i]; i++)
      if (strcmp(machines[i], name) == 0) m = i;
    if (m < 0) {
      if (!quiet)
        print_error("%s: diagram of unknown machine '%s'\n", path, name);
      bad++;
      continue;
    }
    seen[m]++;
    body = p + k + 1;
    if (strncmp(body, "```mermaid\n", 11) != 0 ||
        (end = strstr(body + 11, "\n```\n")) == NULL) {
      if (!quiet)
        print_error("%s: no ```mermaid block after the %s marker\n", path,
                    name);
      bad++;
      continue;
    }
    body += 11;
    RUN(&r, "dot", name, "--mermaid");
    EXPECT(&r, 0, NULL, NULL);
    if (strlen(r.out) != (size_t)(end + 1 - body) ||
        strncmp(r.out, body, strlen(r.out)) != 0) {
      if (!quiet)
        print_error("%s: the %s diagram differs from `tesoro dot %s "
                    "--mermaid` (run test/update_diagrams.sh or make "
                    "diagrams)\n",
                    path, name, name);
      bad++;
    }
    run_free(&r);
  }
  free(text);
  return bad;
}

/* The README carries no diagram (it names the command that prints one);
   any block it does carry is current. */
static void test_readme_diagrams(void **state) {
  int seen[12], bad, blocks = 0;
  char *readme = (char *)tu_read_file("README.md", NULL);
  (void)state;
  assert_non_null(readme);
  assert_non_null(strstr(readme, "tesoro dot MACHINE --mermaid"));
  free(readme);
  bad = diagram_mismatches("README.md", seen, 0);
  for (int i = 0; machines[i]; i++) blocks += seen[i];
  assert_int_equal(bad, 0);
  printf("torture readme_diagrams=%d\n", blocks);
}

/* test/update_diagrams.sh turns stale blocks (and a marker without one)
   of every machine back into `tesoro dot MACHINE --mermaid` exactly. */
static void test_update_diagrams_script(void **state) {
  char dir[64], copy[128], cmd[1400];
  int seen[12];
  FILE *f;
  (void)state;
  make_dir(dir);
  snprintf(copy, sizeof copy, "%s/diagrams.md", dir);
  f = fopen(copy, "w");
  assert_non_null(f);
  fputs("# Machines\n\n", f);
  for (int i = 0; machines[i]; i++) {
    fprintf(f, "`%s`:\n\n<!-- diagram: %s -->\n", machines[i], machines[i]);
    if (i > 0) /* the first marker has no block, the others stale ones */
      fputs("```mermaid\nstateDiagram-v2\n    old --> stale : x\n```\n", f);
    fputs("\n", f);
  }
  assert_int_equal(fclose(f), 0);
  assert_int_equal(diagram_mismatches(copy, seen, 1), 12);

  snprintf(cmd, sizeof cmd, "sh test/update_diagrams.sh '%s' '%s'", copy,
           cli_path);
  assert_int_equal(system(cmd), 0);
  assert_int_equal(diagram_mismatches(copy, seen, 0), 0);
  for (int i = 0; machines[i]; i++) assert_int_equal(seen[i], 1);
  /* a second run changes nothing */
  {
    unsigned char *once = tu_read_file(copy, NULL), *twice;
    assert_int_equal(system(cmd), 0);
    twice = tu_read_file(copy, NULL);
    assert_string_equal((char *)twice, (char *)once);
    free(once);
    free(twice);
  }
  remove_dir(dir);
}

int main(int argc, char **argv) {
  const char *env = getenv("TESORO_CLI");
  int rc;
  (void)argc;
  light = fu_light();
  if (env && *env) {
    snprintf(cli_path, sizeof cli_path, "%s", env);
  } else {
    const char *slash = strrchr(argv[0], '/');
    snprintf(cli_path, sizeof cli_path, "%.*stesoro",
             slash ? (int)(slash - argv[0] + 1) : 0, argv[0]);
  }
  if (access(cli_path, X_OK) != 0) {
    fprintf(stderr, "test_cli: no tool at %s (make it, or set TESORO_CLI)\n",
            cli_path);
    return 1;
  }
#define T(name) cmocka_unit_test(name)
#define W(name) cmocka_unit_test_setup_teardown(name, tu_setup, tu_teardown)
  {
    const struct CMUnitTest tests[] = {
        T(test_help),
        T(test_usage_errors),
        T(test_init_creates_the_file_and_agency),
        T(test_init_failures_leave_nothing),
        W(test_missing_or_foreign_database),
        W(test_tick),
        W(test_outbox),
        W(test_ics),
        W(test_ics_feed),
        W(test_export_import),
        W(test_history_and_allowed),
        T(test_dot),
        T(test_stdout_write_error),
        W(test_check),
        W(test_stats),
        T(test_readme_diagrams),
        T(test_update_diagrams_script),
    };
    rc = cmocka_run_group_tests_name("cli", tests, NULL, NULL);
  }
  printf("torture cli_runs=%d\n", cli_runs);
  return rc;
#undef T
#undef W
}
