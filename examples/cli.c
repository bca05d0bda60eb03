/*
** cli.c — `tesoro`, the operator's command-line tool for a tesoro database
** (what the sqlite3 shell is for SQLite).  It uses nothing but the public
** API in tesoro.h.  Run `tesoro --help` for the commands.
**
** OUTPUT.  Lists (outbox list, history, allowed, stats) print a header line
** with the cursor's column names, then one line per row, fields separated
** by a tab.  NULL prints as an empty field; a backslash, tab, newline or
** carriage return inside a value prints as \\, \t, \n, \r, so each row
** stays one line.  Errors go to stderr, one line each:
**     tesoro: COMMAND: ENAME: message        (a call tesoro refused)
**     tesoro: COMMAND: message               (anything else)
**
** EXIT STATUS.
**     0  success (`check`: every invariant holds)
**     1  tesoro refused the call (EINVAL, ENOTFOUND, ESTATE, EDENIED,
**        EGUARD, ECONFLICT, EEXISTS), or `check` found a violation
**     2  usage: unknown command or option, missing or extra argument,
**        a number or time that does not parse, an unknown entity name
**     3  the database or a file cannot be used: no database at the path
**        (for every command but init and dot), not a tesoro database
**        (ENOTDB), a newer schema (ESCHEMA), busy (EBUSY), I/O (EDB),
**        out of memory, or stdout / the output file cannot be written
**
** FILES.  No command leaves a half-written file.  `init` of a new database
** builds it under a temporary name in the same directory and links it into
** place only once the agency is committed (a failed init leaves nothing
** behind); `init` into an existing file adds the agency in one transaction.
** `ics -o FILE` (one viewing or --feed) writes a temporary file, syncs it
** and renames it over FILE.
*/
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tesoro.h"

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_FILE = 3 };
#define HELP_SHOWN (-1) /* parse result: --help printed, exit 0 */

/* The invocation: global options and the command being run. */
typedef struct cli {
  const char *db;   /* --db, else $TESORO_DB */
  int64_t now;      /* --now; 0: the system clock */
  const char *cmd;  /* the command's name, for messages */
  tesoro *t;
} cli;

/* ------------------------------------------------------------------------
** Messages and exit codes.
*/

__attribute__((format(printf, 2, 3)))
static int usage_error(const cli *c, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "tesoro: %s%s", c->cmd ? c->cmd : "", c->cmd ? ": " : "");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry 'tesoro %s%s--help'.\n", c->cmd ? c->cmd : "",
          c->cmd ? " " : "");
  return EXIT_USAGE;
}

__attribute__((format(printf, 2, 3)))
static int file_error(const cli *c, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "tesoro: %s%s", c->cmd ? c->cmd : "", c->cmd ? ": " : "");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return EXIT_FILE;
}

/* Refusals of the rules are 1; a database that cannot be used is 3. */
static int exit_for(int rc) {
  switch (rc) {
  case TESORO_EINVAL: case TESORO_ENOTFOUND: case TESORO_ESTATE:
  case TESORO_EDENIED: case TESORO_EGUARD: case TESORO_ECONFLICT:
  case TESORO_EEXISTS:
    return EXIT_REFUSED;
  default:
    return EXIT_FILE;
  }
}

/* Report a failed call with tesoro's name and message for it. */
static int lib_error(const cli *c, int rc) {
  const char *msg = c->t ? tesoro_errmsg(c->t) : tesoro_errstr(rc);
  fprintf(stderr, "tesoro: %s: %s: %s\n", c->cmd, tesoro_errname(rc),
          msg && *msg ? msg : tesoro_errstr(rc));
  return exit_for(rc);
}

/* ------------------------------------------------------------------------
** Help.
*/

static const char main_help[] =
    "usage: tesoro [--db FILE] [--now TIME] COMMAND [ARGS...]\n"
    "\n"
    "The operator's tool for a tesoro database (one SQLite file).\n"
    "\n"
    "Commands:\n"
    "  init NAME --admin-name NAME --admin-email EMAIL --currency CODE\n"
    "       [--timezone ZONE] [--portal on|off]\n"
    "                          create an agency (and the file if absent)\n"
    "  tick                    fire the timers that are due\n"
    "  outbox list [--agency N] [--limit N]\n"
    "  outbox ack ID\n"
    "  outbox fail ID MESSAGE  the delivery queue, as a delivery worker sees it\n"
    "  ics APPOINTMENT --as ACTOR [-o FILE] [--link URL]\n"
    "                          a viewing as an iCalendar file\n"
    "  ics --feed SUBJECT --as ACTOR [-o FILE]\n"
    "                          every viewing of an agent or a client, as one\n"
    "                          calendar feed\n"
    "  history ENTITY ID --as ACTOR\n"
    "                          an entity's history, oldest first\n"
    "  allowed ENTITY ID --as ACTOR\n"
    "                          which events ACTOR may fire now, and why not\n"
    "  export ADMIN [-o FILE]\n"
    "                          the admin's agency as JSON Lines\n"
    "  import FILE [--as ADMIN]\n"
    "                          records from a JSON Lines file (into ADMIN's\n"
    "                          agency, else a new one the header describes)\n"
    "  dot MACHINE [--mermaid] a machine's diagram (Graphviz DOT or Mermaid)\n"
    "  check                   run the invariant checker\n"
    "  stats [--agency N]      entities per state, outbox rows by status\n"
    "  help [COMMAND]          this text, or a command's\n"
    "\n"
    "Global options (before or after the command):\n"
    "  --db FILE     the database (default: $TESORO_DB); every command but\n"
    "                init and dot needs an existing one\n"
    "  --now TIME    pin the clock: UTC seconds since the epoch, or\n"
    "                YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS]Z (default: now)\n"
    "  -h, --help    help (also after a command)\n"
    "  --version     print the library's version\n"
    "\n"
    "ENTITY and MACHINE are a name or a number: contact (1, history only),\n"
    "room 2, mandate 3, listing 4, task 5, deal 6, deal_property 7,\n"
    "appointment 8, referral 9, portal_account 10, web_customer 11,\n"
    "search 12, vendor_claim 13.  ACTOR is an actor id.\n"
    "\n"
    "Lists print a header line, then one line per row, fields separated by\n"
    "tabs; NULL is an empty field; \\ tab newline CR print as \\\\ \\t \\n \\r.\n"
    "\n"
    "Exit status: 0 success; 1 refused by tesoro (or check found a\n"
    "violation); 2 usage error; 3 the database or a file cannot be used.\n"
    "Errors go to stderr as 'tesoro: COMMAND: ENAME: message'.\n";

/* ------------------------------------------------------------------------
** Numbers, times and names.
*/

/* A whole decimal number, nothing around it. */
static int parse_i64(const char *s, int64_t *out) {
  char *end;
  long long v;
  if (s == NULL || *s == '\0' || !(*s == '-' || (*s >= '0' && *s <= '9')))
    return -1;
  errno = 0;
  v = strtoll(s, &end, 10);
  if (errno || *end != '\0') return -1;
  *out = (int64_t)v;
  return 0;
}

/* An id argument: a number > 0. */
static int parse_id(const cli *c, const char *what, const char *s,
                    int64_t *out) {
  if (parse_i64(s, out) || *out <= 0)
    return usage_error(c, "%s must be a positive integer, not '%s'", what, s);
  return 0;
}

/* An int-sized number argument (the library checks its range). */
static int parse_int(const cli *c, const char *what, const char *s,
                     int64_t *out) {
  if (parse_i64(s, out) || *out < INT_MIN || *out > INT_MAX)
    return usage_error(c, "%s must be an integer, not '%s'", what, s);
  return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  int64_t era, yoe, doy, doe;
  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* --now: seconds, YYYY-MM-DD, or YYYY-MM-DDTHH:MM[:SS]Z (UTC). */
static int parse_time(const char *s, int64_t *out) {
  int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (strchr(s, '-') == NULL || *s == '-') {
    if (parse_i64(s, out) || *out <= 0) return -1;
    return 0;
  }
  if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10) return -1;
  if (s[n] != '\0') {
    int m = 0;
    if (s[n] != 'T' ||
        sscanf(s + n, "T%2d:%2d%n", &h, &mi, &m) != 2 || m != 6)
      return -1;
    n += m;
    if (s[n] == ':') {
      if (sscanf(s + n, ":%2d%n", &sec, &m) != 1 || m != 3) return -1;
      n += m;
    }
    if (strcmp(s + n, "Z") != 0) return -1;
  }
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
      (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) ||
      h > 23 || mi > 59 || sec > 59 || h < 0 || mi < 0 || sec < 0)
    return -1;
  *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
  return *out > 0 ? 0 : -1;
}

static const char *const entity_names[] = {
    NULL,          "contact",        "room",         "mandate",
    "listing",     "task",           "deal",         "deal_property",
    "appointment", "referral",       "portal_account", "web_customer",
    "search",      "vendor_claim"};
#define N_ENTITIES ((int)(sizeof entity_names / sizeof entity_names[0]))

/* An entity by name ("deal_property", also "deal-property") or number. */
static int parse_entity(const cli *c, const char *s, int *out) {
  int64_t n;
  if (parse_i64(s, &n) == 0) {
    if (n >= 1 && n < N_ENTITIES) {
      *out = (int)n;
      return 0;
    }
  } else {
    for (int i = 1; i < N_ENTITIES; i++) {
      const char *a = entity_names[i], *b = s;
      while (*a && (*a == *b || (*a == '_' && *b == '-'))) a++, b++;
      if (*a == '\0' && *b == '\0') {
        *out = i;
        return 0;
      }
    }
  }
  return usage_error(c,
                     "unknown entity '%s' (a name such as appointment, or a "
                     "number 1..%d)",
                     s, N_ENTITIES - 1);
}

/* ------------------------------------------------------------------------
** Arguments: options anywhere after the command (GNU style), "--" ends
** them, "--opt=value" and "--opt value" both work.  --db and --now are
** accepted everywhere.
*/

typedef struct optspec {
  const char *name;  /* "--as" */
  const char *alias; /* "-o", or NULL */
  int has_arg;
  const char *value; /* the argument, or "1" for a flag; NULL: not given */
} optspec;

#define MAX_POS 4
typedef struct args {
  const char *pos[MAX_POS];
  int npos;
} args;

/* Global options: returns 1 when argv[*i] was one (consumed), 0 if not,
   or EXIT_USAGE. */
static int global_option(cli *c, int argc, char **argv, int *i) {
  const char *a = argv[*i], *v = NULL;
  const char *names[] = {"--db", "--now"};
  for (int k = 0; k < 2; k++) {
    size_t n = strlen(names[k]);
    if (strncmp(a, names[k], n) != 0 || (a[n] != '\0' && a[n] != '='))
      continue;
    if (a[n] == '=') v = a + n + 1;
    else if (*i + 1 < argc) v = argv[++*i];
    else return usage_error(c, "%s needs a value", names[k]);
    if (k == 0) {
      if (*v == '\0') return usage_error(c, "--db needs a file name");
      c->db = v;
    } else if (parse_time(v, &c->now)) {
      return usage_error(c,
                         "--now takes UTC seconds or YYYY-MM-DD[THH:MM[:SS]Z],"
                         " not '%s'",
                         v);
    }
    return 1;
  }
  return 0;
}

/* Parse a command's arguments into opts and a.  Returns 0, HELP_SHOWN
   (help printed on stdout) or EXIT_USAGE. */
static int parse_args(cli *c, const char *help, int argc, char **argv,
                      optspec *opts, int max_pos, args *a) {
  int only_pos = 0;
  a->npos = 0;
  for (int i = 0; i < argc; i++) {
    const char *s = argv[i];
    if (!only_pos && s[0] == '-' && s[1] != '\0') {
      optspec *o = NULL;
      const char *eq;
      size_t len;
      int g;
      if (strcmp(s, "--") == 0) {
        only_pos = 1;
        continue;
      }
      if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
        fputs(help, stdout);
        return HELP_SHOWN;
      }
      if ((g = global_option(c, argc, argv, &i)) != 0) {
        if (g != 1) return g;
        continue;
      }
      eq = strchr(s, '=');
      len = eq ? (size_t)(eq - s) : strlen(s);
      for (optspec *p = opts; p && p->name; p++)
        if ((strlen(p->name) == len && strncmp(p->name, s, len) == 0) ||
            (p->alias && strlen(p->alias) == len &&
             strncmp(p->alias, s, len) == 0))
          o = p;
      if (o == NULL) return usage_error(c, "unknown option '%.*s'", (int)len, s);
      if (!o->has_arg) {
        if (eq) return usage_error(c, "%.*s takes no value", (int)len, s);
        o->value = "1";
      } else if (eq) {
        o->value = eq + 1;
      } else if (i + 1 < argc) {
        o->value = argv[++i];
      } else {
        return usage_error(c, "%s needs a value", s);
      }
      continue;
    }
    if (a->npos == max_pos || a->npos == MAX_POS)
      return usage_error(c, "unexpected argument '%s'", s);
    a->pos[a->npos++] = s;
  }
  return 0;
}

/* ------------------------------------------------------------------------
** The database.
*/

/* Open c->db.  must_exist: refuse to create it (every command but init). */
static int open_db(cli *c, int must_exist) {
  struct stat st;
  int rc;
  if (c->db == NULL)
    return usage_error(c, "no database: give --db FILE or set TESORO_DB");
  if (must_exist && stat(c->db, &st) != 0)
    return file_error(c, "cannot open database '%s': %s%s", c->db,
                      strerror(errno),
                      errno == ENOENT ? " (create one with 'tesoro init')" : "");
  rc = tesoro_open(c->db, &c->t);
  if (rc == TESORO_OK && c->now) rc = tesoro_clock_set(c->t, c->now);
  if (rc != TESORO_OK) {
    int code;
    fprintf(stderr, "tesoro: %s: %s: cannot open database '%s': %s\n", c->cmd,
            tesoro_errname(rc), c->db,
            c->t ? tesoro_errmsg(c->t) : tesoro_errstr(rc));
    code = rc == TESORO_EINVAL ? EXIT_FILE : exit_for(rc);
    tesoro_close(c->t);
    c->t = NULL;
    return code;
  }
  return EXIT_OK;
}

/* One field of a list: NULL empty, control characters escaped. */
static void print_field(const char *v) {
  for (; v && *v; v++) {
    switch (*v) {
    case '\\': fputs("\\\\", stdout); break;
    case '\t': fputs("\\t", stdout); break;
    case '\n': fputs("\\n", stdout); break;
    case '\r': fputs("\\r", stdout); break;
    default: putchar(*v);
    }
  }
}

/* Print a cursor (header, then rows) and free it. */
static int print_cursor(cli *c, tesoro_cursor *cur) {
  int n = tesoro_cursor_columns(cur), rc;
  for (int i = 0; i < n; i++) {
    if (i) putchar('\t');
    print_field(tesoro_cursor_name(cur, i));
  }
  putchar('\n');
  while ((rc = tesoro_cursor_next(cur)) == TESORO_ROW) {
    for (int i = 0; i < n; i++) {
      if (i) putchar('\t');
      print_field(tesoro_cursor_text(cur, i));
    }
    putchar('\n');
  }
  tesoro_cursor_free(cur);
  return rc == TESORO_DONE ? EXIT_OK : lib_error(c, rc);
}

/* Write `data` to `path` whole or not at all: a temporary file in the same
   directory, synced, then renamed over `path`. */
static int write_file_atomic(const cli *c, const char *path, const char *data,
                             size_t size) {
  size_t len = strlen(path) + sizeof ".tmp-XXXXXX";
  char *tmp = malloc(len);
  mode_t mask;
  int fd, err = 0;
  if (tmp == NULL) return file_error(c, "out of memory");
  snprintf(tmp, len, "%s.tmp-XXXXXX", path);
  if ((fd = mkstemp(tmp)) < 0) {
    int e = errno;
    free(tmp);
    return file_error(c, "cannot write '%s': %s", path, strerror(e));
  }
  mask = umask(0);
  umask(mask);
  if (fchmod(fd, 0666 & ~mask) != 0) err = errno;
  for (size_t done = 0; !err && done < size;) {
    ssize_t w = write(fd, data + done, size - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) err = errno;
    else done += (size_t)w;
  }
  if (!err && fsync(fd) != 0) err = errno;
  if (close(fd) != 0 && !err) err = errno;
  if (!err && rename(tmp, path) != 0) err = errno;
  if (err) unlink(tmp);
  free(tmp);
  if (err) return file_error(c, "cannot write '%s': %s", path, strerror(err));
  return EXIT_OK;
}

/* ------------------------------------------------------------------------
** init
*/

static const char init_help[] =
    "usage: tesoro --db FILE init NAME --admin-name NAME --admin-email EMAIL\n"
    "                         --currency CODE [--timezone ZONE] [--portal on|off]\n"
    "\n"
    "Create an agency named NAME with its first admin, its website actor and\n"
    "its system actor, and print the ids:\n"
    "    agency ID\n"
    "    admin ID\n"
    "    website ID\n"
    "\n"
    "  --admin-name NAME    the first admin's name (required)\n"
    "  --admin-email EMAIL  the first admin's e-mail (required)\n"
    "  --currency CODE      ISO 4217 code of the agency's money, e.g. EUR\n"
    "                       (required)\n"
    "  --timezone ZONE      IANA time zone, e.g. Europe/Amsterdam (default UTC)\n"
    "  --portal on|off      the client portal (default off)\n"
    "\n"
    "When FILE does not exist it is created: built under a temporary name in\n"
    "the same directory and put in place only when the agency is committed,\n"
    "so a failed init leaves no file.  When FILE exists the agency is added\n"
    "to it in one transaction (one file may hold several agencies).\n";

/* Create the agency on c->t in one transaction; ids[3]: agency, admin,
   website. */
static int init_agency(cli *c, const char *name, const optspec *o,
                       int64_t ids[3]) {
  int64_t agency = 0, admin = 0, website = 0;
  int rc = tesoro_begin(c->t);
  if (rc == TESORO_OK)
    rc = tesoro_agency_create(c->t, name, o[3].value, o[2].value, o[0].value,
                              o[1].value, &agency, &admin);
  if (rc == TESORO_OK)
    rc = tesoro_agency_website_actor(c->t, admin, agency, &website);
  if (rc == TESORO_OK && o[4].value && strcmp(o[4].value, "on") == 0)
    rc = tesoro_agency_set_portal(c->t, admin, 1);
  if (rc == TESORO_OK) rc = tesoro_commit(c->t);
  if (rc != TESORO_OK) {
    int code = lib_error(c, rc);
    tesoro_rollback(c->t);
    return code;
  }
  ids[0] = agency;
  ids[1] = admin;
  ids[2] = website;
  return EXIT_OK;
}

static void print_ids(const int64_t ids[3]) {
  printf("agency %lld\nadmin %lld\nwebsite %lld\n", (long long)ids[0],
         (long long)ids[1], (long long)ids[2]);
}

/* Does path exist (as anything)? */
static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 || errno != ENOENT;
}

/* Remove a temporary database and whatever SQLite left next to it. */
static void remove_db_files(const char *path) {
  static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
  size_t len = strlen(path) + 16;
  char *p = malloc(len);
  if (p == NULL) return;
  for (int i = 0; i < 4; i++) {
    snprintf(p, len, "%s%s", path, suffix[i]);
    unlink(p);
  }
  free(p);
}

/* A new database file: built aside under a temporary name by `fill` (on
   c->t), closed (the last handle folds the WAL in), then linked into place
   — never over a file that appeared meanwhile; on any failure nothing is
   left behind. */
static int create_aside(cli *c, int (*fill)(cli *, void *), void *arg) {
  char *tmp;
  size_t len;
  int fd, code;
  len = strlen(c->db) + sizeof ".init-XXXXXX";
  if ((tmp = malloc(len)) == NULL) return file_error(c, "out of memory");
  snprintf(tmp, len, "%s.init-XXXXXX", c->db);
  if ((fd = mkstemp(tmp)) < 0) {
    int e = errno;
    free(tmp);
    return file_error(c, "cannot create database '%s': %s", c->db,
                      strerror(e));
  }
  {
    /* The mode SQLite would give a new file (mkstemp's is 0600); if this
       fails the file simply stays private. */
    mode_t mask = umask(0);
    umask(mask);
    (void)fchmod(fd, 0666 & ~mask);
    close(fd);
  }
  {
    const char *final = c->db;
    c->db = tmp;
    code = open_db(c, 1);
    c->db = final;
  }
  if (code == EXIT_OK) code = fill(c, arg);
  if (c->t) {
    if (tesoro_close(c->t) != TESORO_OK && code == EXIT_OK)
      code = file_error(c, "cannot close the new database");
    c->t = NULL;
  }
  if (code == EXIT_OK) {
    size_t wl = strlen(tmp) + 8;
    char *wal = malloc(wl);
    if (wal == NULL) {
      code = file_error(c, "out of memory");
    } else {
      snprintf(wal, wl, "%s-wal", tmp);
      if (exists(wal))
        code = file_error(c, "the new database was not checkpointed");
      free(wal);
    }
  }
  if (code == EXIT_OK && link(tmp, c->db) != 0) {
    int e = errno;
    if (e == EEXIST)
      code = file_error(c, "'%s' appeared while it was being created; "
                           "nothing written", c->db);
    else if (exists(c->db) || rename(tmp, c->db) != 0)
      code = file_error(c, "cannot create database '%s': %s", c->db,
                        strerror(e));
  }
  remove_db_files(tmp);
  free(tmp);
  return code;
}

typedef struct init_job {
  const char *name;
  const optspec *o;
  int64_t *ids;
} init_job;

static int init_fill(cli *c, void *arg) {
  init_job *job = arg;
  return init_agency(c, job->name, job->o, job->ids);
}

static int cmd_init(cli *c, int argc, char **argv) {
  optspec o[] = {{"--admin-name", NULL, 1, NULL},
                 {"--admin-email", NULL, 1, NULL},
                 {"--currency", NULL, 1, NULL},
                 {"--timezone", NULL, 1, NULL},
                 {"--portal", NULL, 1, NULL},
                 {NULL, NULL, 0, NULL}};
  args a;
  int64_t ids[3] = {0, 0, 0};
  int rc, code;
  if ((rc = parse_args(c, init_help, argc, argv, o, 1, &a))) return rc;
  if (a.npos < 1) return usage_error(c, "missing the agency's NAME");
  if (!o[0].value) return usage_error(c, "missing --admin-name NAME");
  if (!o[1].value) return usage_error(c, "missing --admin-email EMAIL");
  if (!o[2].value) return usage_error(c, "missing --currency CODE");
  if (o[4].value && strcmp(o[4].value, "on") != 0 &&
      strcmp(o[4].value, "off") != 0)
    return usage_error(c, "--portal takes on or off, not '%s'", o[4].value);
  if (c->db == NULL)
    return usage_error(c, "no database: give --db FILE or set TESORO_DB");

  if (exists(c->db)) {
    if ((rc = open_db(c, 1))) return rc;
    if ((rc = init_agency(c, a.pos[0], o, ids))) return rc;
    print_ids(ids);
    return EXIT_OK;
  }
  {
    init_job job = {a.pos[0], o, ids};
    code = create_aside(c, init_fill, &job);
  }
  if (code == EXIT_OK) print_ids(ids);
  return code;
}

/* ------------------------------------------------------------------------
** tick
*/

static const char tick_help[] =
    "usage: tesoro --db FILE [--now TIME] tick\n"
    "\n"
    "Fire every timer due at or before now (--now, default the system\n"
    "clock): viewing reminders and completions, feedback requests, mandate\n"
    "expiry, referral list dates.  Each timer fires once, in due order, each\n"
    "in its own transaction; tick repeats until nothing is due.  Prints:\n"
    "    fired N\n";

static int cmd_tick(cli *c, int argc, char **argv) {
  args a;
  int rc, fired, total = 0;
  int64_t now;
  if ((rc = parse_args(c, tick_help, argc, argv, NULL, 0, &a))) return rc;
  if ((rc = open_db(c, 1))) return rc;
  now = c->now ? c->now : (int64_t)time(NULL);
  do {
    fired = 0;
    if ((rc = tesoro_tick(c->t, now, &fired)) != TESORO_OK)
      return lib_error(c, rc);
    total += fired;
  } while (fired > 0);
  printf("fired %d\n", total);
  return EXIT_OK;
}

/* ------------------------------------------------------------------------
** outbox
*/

static const char outbox_help[] =
    "usage: tesoro --db FILE [--now TIME] outbox list [--agency N] [--limit N]\n"
    "       tesoro --db FILE outbox ack ID\n"
    "       tesoro --db FILE outbox fail ID MESSAGE\n"
    "\n"
    "The outbox as the host's delivery worker sees it.\n"
    "  list   rows due for delivery (pending, next attempt <= now), oldest\n"
    "         first: every agency's, or --agency N's; at most --limit N\n"
    "         (1..10000, default 100)\n"
    "  ack    row ID was delivered; prints 'delivered ID'\n"
    "  fail   delivering row ID failed with MESSAGE: retried after the\n"
    "         backoff, dead after the last attempt; prints 'failed ID'\n";

static int cmd_outbox(cli *c, int argc, char **argv) {
  optspec o[] = {{"--agency", NULL, 1, NULL},
                 {"--limit", NULL, 1, NULL},
                 {NULL, NULL, 0, NULL}};
  args a;
  int64_t id, agency = 0, limit = 100;
  const char *sub;
  int rc, want;
  if ((rc = parse_args(c, outbox_help, argc, argv, o, 3, &a))) return rc;
  if (a.npos < 1) return usage_error(c, "missing list, ack or fail");
  sub = a.pos[0];
  want = strcmp(sub, "list") == 0 ? 1
         : strcmp(sub, "ack") == 0 ? 2
         : strcmp(sub, "fail") == 0 ? 3 : 0;
  if (want == 0)
    return usage_error(c, "unknown outbox command '%s' (list, ack, fail)", sub);
  if (want != 1 && (o[0].value || o[1].value))
    return usage_error(c, "--agency and --limit are for 'outbox list'");
  if (a.npos != want)
    return usage_error(c, want == 1   ? "'outbox list' takes no argument"
                          : want == 2 ? "'outbox ack' takes one ID"
                                      : "'outbox fail' takes ID and MESSAGE");
  if (want == 1) {
    tesoro_cursor *cur;
    if (o[0].value && (rc = parse_int(c, "--agency", o[0].value, &agency)))
      return rc;
    if (o[0].value && agency < 0)
      return usage_error(c, "--agency must be >= 0, not '%s'", o[0].value);
    if (o[1].value && (rc = parse_int(c, "--limit", o[1].value, &limit)))
      return rc;
    if ((rc = open_db(c, 1))) return rc;
    if ((rc = tesoro_outbox_fetch(c->t, agency, (int)limit, &cur)))
      return lib_error(c, rc);
    return print_cursor(c, cur);
  }
  if ((rc = parse_id(c, "ID", a.pos[1], &id))) return rc;
  if ((rc = open_db(c, 1))) return rc;
  rc = want == 2 ? tesoro_outbox_ack(c->t, id)
                 : tesoro_outbox_fail(c->t, id, a.pos[2]);
  if (rc != TESORO_OK) return lib_error(c, rc);
  printf("%s %lld\n", want == 2 ? "delivered" : "failed", (long long)id);
  return EXIT_OK;
}

/* ------------------------------------------------------------------------
** ics, history, allowed
*/

static const char ics_help[] =
    "usage: tesoro --db FILE [--now TIME] ics APPOINTMENT --as ACTOR\n"
    "                                    [-o FILE] [--link URL]\n"
    "       tesoro --db FILE [--now TIME] ics --feed SUBJECT --as ACTOR\n"
    "                                    [-o FILE]\n"
    "\n"
    "The viewing APPOINTMENT (an id) as an RFC 5545 iCalendar file, as ACTOR\n"
    "(its client or staff of its agency) may read it.  DTSTAMP is now.\n"
    "\n"
    "With --feed, the calendar feed of SUBJECT (an actor id: an agent, for\n"
    "the viewings they own, or a client) to subscribe to: one VCALENDAR\n"
    "with a VEVENT, without alarm, for each of their viewings, pending as\n"
    "TENTATIVE, cancelled and rejected as CANCELLED.  ACTOR is SUBJECT or an\n"
    "admin of their agency.\n"
    "  --as ACTOR     the actor id to read as (required)\n"
    "  --feed SUBJECT every viewing of actor SUBJECT, instead of one\n"
    "                 APPOINTMENT\n"
    "  -o, --output FILE\n"
    "                 write FILE (a temporary file renamed into place)\n"
    "                 instead of stdout; '-' is stdout\n"
    "  --link URL     a link for the DESCRIPTION (one APPOINTMENT only)\n";

static int cmd_ics(cli *c, int argc, char **argv) {
  optspec o[] = {{"--as", NULL, 1, NULL},
                 {"--output", "-o", 1, NULL},
                 {"--link", NULL, 1, NULL},
                 {"--feed", NULL, 1, NULL},
                 {NULL, NULL, 0, NULL}};
  args a;
  int64_t id, actor;
  const char *feed;
  char *text = NULL;
  int rc;
  if ((rc = parse_args(c, ics_help, argc, argv, o, 1, &a))) return rc;
  feed = o[3].value;
  if (feed && a.npos > 0)
    return usage_error(c, "give APPOINTMENT or --feed SUBJECT, not both");
  if (!feed && a.npos < 1)
    return usage_error(c, "missing APPOINTMENT (or --feed SUBJECT)");
  if (feed && o[2].value)
    return usage_error(c, "--link is for one APPOINTMENT, not --feed");
  if (!o[0].value) return usage_error(c, "missing --as ACTOR");
  if ((rc = feed ? parse_id(c, "--feed", feed, &id)
                 : parse_id(c, "APPOINTMENT", a.pos[0], &id)) ||
      (rc = parse_id(c, "--as", o[0].value, &actor)))
    return rc;
  if (o[1].value && *o[1].value == '\0')
    return usage_error(c, "-o needs a file name");
  if ((rc = open_db(c, 1))) return rc;
  rc = feed ? tesoro_calendar_feed(c->t, actor, id, &text)
            : tesoro_appointment_ics(c->t, actor, id, o[2].value, &text);
  if (rc != TESORO_OK) return lib_error(c, rc);
  if (o[1].value && strcmp(o[1].value, "-") != 0)
    rc = write_file_atomic(c, o[1].value, text, strlen(text));
  else
    rc = fputs(text, stdout) < 0 ? file_error(c, "cannot write stdout")
                                 : EXIT_OK;
  tesoro_free(text);
  return rc;
}

static const char history_help[] =
    "usage: tesoro --db FILE history ENTITY ID --as ACTOR\n"
    "\n"
    "The history of entity ID, oldest first: seq, event, from_state,\n"
    "to_state, actor_id, actor_kind, at (UTC seconds), details (JSON).\n"
    "ENTITY is a name (appointment) or a number (8); see 'tesoro --help'.\n"
    "ACTOR (required) is staff of the agency or the entity's client.\n";

static const char allowed_help[] =
    "usage: tesoro --db FILE [--now TIME] allowed ENTITY ID --as ACTOR\n"
    "\n"
    "For each event of the entity's machine, may ACTOR fire it now?\n"
    "Columns: event, to_state, allowed (0/1), code (the result the call\n"
    "would return), reason (empty when allowed).  Guards that need a call's\n"
    "own arguments are not evaluated.  ENTITY is a name (appointment) or a\n"
    "number (8); see 'tesoro --help'.\n";

/* history and allowed: ENTITY ID --as ACTOR, then a cursor. */
static int entity_listing(cli *c, int argc, char **argv, const char *help,
                          int history) {
  optspec o[] = {{"--as", NULL, 1, NULL}, {NULL, NULL, 0, NULL}};
  args a;
  int64_t id, actor;
  int entity, rc;
  tesoro_cursor *cur;
  if ((rc = parse_args(c, help, argc, argv, o, 2, &a))) return rc;
  if (a.npos < 2) return usage_error(c, "missing ENTITY and ID");
  if (!o[0].value) return usage_error(c, "missing --as ACTOR");
  if ((rc = parse_entity(c, a.pos[0], &entity)) ||
      (rc = parse_id(c, "ID", a.pos[1], &id)) ||
      (rc = parse_id(c, "--as", o[0].value, &actor)))
    return rc;
  if ((rc = open_db(c, 1))) return rc;
  rc = history ? tesoro_history(c->t, actor, entity, id, &cur)
               : tesoro_allowed_events(c->t, actor, entity, id, &cur);
  if (rc != TESORO_OK) return lib_error(c, rc);
  return print_cursor(c, cur);
}

static int cmd_history(cli *c, int argc, char **argv) {
  return entity_listing(c, argc, argv, history_help, 1);
}

static int cmd_allowed(cli *c, int argc, char **argv) {
  return entity_listing(c, argc, argv, allowed_help, 0);
}

/* ------------------------------------------------------------------------
** export, import
*/

static const char export_help[] =
    "usage: tesoro --db FILE export ADMIN [-o FILE]\n"
    "       tesoro --db FILE export --as ADMIN [-o FILE]\n"
    "\n"
    "Write the agency of ADMIN (an admin's actor id, as `init` printed it)\n"
    "as JSON Lines (format tesoro-agency-1, see\n"
    "tesoro.h): a header line with the agency's facts, then its agents,\n"
    "contacts, listings, appointments and referrals, one record per line,\n"
    "to FILE (default: standard output).\n";

static int cmd_export(cli *c, int argc, char **argv) {
  optspec o[] = {{"--as", NULL, 1, NULL},
                 {"--output", "-o", 1, NULL},
                 {NULL, NULL, 0, NULL}};
  args a;
  int64_t actor;
  int rc;
  if ((rc = parse_args(c, export_help, argc, argv, o, 1, &a))) return rc;
  if (a.npos > 0 && o[0].value)
    return usage_error(c, "give ADMIN or --as ADMIN, not both");
  if (a.npos == 0 && !o[0].value) return usage_error(c, "missing ADMIN");
  if ((rc = parse_id(c, "ADMIN", a.npos ? a.pos[0] : o[0].value, &actor)))
    return rc;
  if (o[1].value && *o[1].value == '\0')
    return usage_error(c, "-o needs a file name");
  if ((rc = open_db(c, 1))) return rc;
  if (fflush(stdout) != 0) return file_error(c, "cannot write the output");
  rc = tesoro_agency_export(c->t, actor,
                            o[1].value && strcmp(o[1].value, "-") != 0
                                ? o[1].value
                                : "/dev/stdout",
                            NULL);
  if (rc != TESORO_OK) return lib_error(c, rc);
  return EXIT_OK;
}

static const char import_help[] =
    "usage: tesoro --db FILE [--now TIME] import JSONL [--as ADMIN]\n"
    "\n"
    "Import the records of JSONL (format tesoro-agency-1, see tesoro.h) as\n"
    "ADMIN, into ADMIN's agency.  Without --as, the agency the header line\n"
    "describes (name, timezone, currency, portal_active, admin_name,\n"
    "admin_email: what `tesoro export` writes) is created in a new FILE,\n"
    "built aside and put in place only when all is imported, so a failed\n"
    "import leaves no file.  All or nothing: a bad line imports nothing and\n"
    "is named.  Prints the new ids (without --as) and the report:\n"
    "    agency ID\n"
    "    admin ID\n"
    "    {\"format\":\"tesoro-agency-1\",\"lines\":N,\"imported\":N,\"present\":N}\n";

typedef struct import_job {
  const char *path;
  int64_t admin, agency;
  char *report;
} import_job;

/* The header's member `key` (text, malloc'd; NULL when absent). */
static char *header_member(const char *header, const char *key) {
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  char *out = NULL;
  if (sqlite3_open(":memory:", &db) == SQLITE_OK &&
      sqlite3_prepare_v2(db, "SELECT CASE WHEN json_valid(?1) THEN "
                             "json_extract(?1, '$.' || ?2) END", -1, &s,
                         NULL) == SQLITE_OK) {
    sqlite3_bind_text(s, 1, header, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0)) {
      const char *v = (const char *)sqlite3_column_text(s, 0);
      if ((out = malloc(strlen(v) + 1)) != NULL) strcpy(out, v);
    }
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return out;
}

/* Create the header's agency (when job->admin is 0) and import into it,
   on c->t. */
static int import_fill(cli *c, void *arg) {
  import_job *job = arg;
  int rc;
  if (job->admin == 0) {
    char line[4096] = "", *m[6];
    static const char *const keys[] = {"name",       "timezone",
                                       "currency",   "admin_name",
                                       "admin_email", "portal_active"};
    FILE *f = fopen(job->path, "rb");
    if (f == NULL)
      return file_error(c, "cannot read '%s': %s", job->path, strerror(errno));
    if (fgets(line, sizeof line, f) == NULL) line[0] = 0;
    fclose(f);
    for (int i = 0; i < 6; i++) m[i] = header_member(line, keys[i]);
    if (!m[0] || !m[2] || !m[3] || !m[4])
      rc = usage_error(c, "the header of '%s' does not describe an agency "
                          "(name, currency, admin_name, admin_email): give "
                          "--as ADMIN", job->path);
    else if ((rc = tesoro_agency_create(c->t, m[0], m[1], m[2], m[3], m[4],
                                        &job->agency, &job->admin)) ==
                 TESORO_OK &&
             m[5] && strcmp(m[5], "1") == 0)
      rc = tesoro_agency_set_portal(c->t, job->admin, 1);
    for (int i = 0; i < 6; i++) free(m[i]);
    if (rc == EXIT_USAGE) return rc;
    if (rc != TESORO_OK) return lib_error(c, rc);
  }
  rc = tesoro_agency_import(c->t, job->admin, job->path, &job->report);
  return rc == TESORO_OK ? EXIT_OK : lib_error(c, rc);
}

static int cmd_import(cli *c, int argc, char **argv) {
  optspec o[] = {{"--as", NULL, 1, NULL}, {NULL, NULL, 0, NULL}};
  args a;
  import_job job = {NULL, 0, 0, NULL};
  int rc, code;
  if ((rc = parse_args(c, import_help, argc, argv, o, 1, &a))) return rc;
  if (a.npos < 1) return usage_error(c, "missing the JSONL file");
  job.path = a.pos[0];
  if (o[0].value && (rc = parse_id(c, "--as", o[0].value, &job.admin)))
    return rc;
  if (c->db == NULL)
    return usage_error(c, "no database: give --db FILE or set TESORO_DB");
  if (job.admin == 0 && exists(c->db))
    return usage_error(c, "'%s' exists: give --as ADMIN, an admin of the "
                          "agency to import into", c->db);
  if (job.admin != 0) {
    if ((rc = open_db(c, 1))) return rc;
    code = import_fill(c, &job);
  } else {
    code = create_aside(c, import_fill, &job);
  }
  if (code == EXIT_OK) {
    if (job.agency) printf("agency %lld\nadmin %lld\n", (long long)job.agency,
                           (long long)job.admin);
    printf("%s\n", job.report);
  }
  tesoro_free(job.report);
  return code;
}

/* ------------------------------------------------------------------------
** dot, check, stats
*/

static const char dot_help[] =
    "usage: tesoro dot MACHINE [--mermaid]\n"
    "\n"
    "The state diagram of MACHINE, generated from the table the engine runs:\n"
    "Graphviz DOT (one edge 'event [roles]' per row), or with --mermaid a\n"
    "Mermaid stateDiagram-v2 ('from --> to : event (roles)'; a trailing *\n"
    "marks a guarded row).  MACHINE: room, mandate, listing, task, deal,\n"
    "deal_property, appointment, referral, portal_account, web_customer,\n"
    "search, vendor_claim (or its number 2..13).  Needs no database.\n"
    "    tesoro dot appointment | dot -Tsvg > appointment.svg\n";

static int cmd_dot(cli *c, int argc, char **argv) {
  optspec o[] = {{"--mermaid", NULL, 0, NULL}, {NULL, NULL, 0, NULL}};
  args a;
  char *text = NULL;
  int entity, rc;
  if ((rc = parse_args(c, dot_help, argc, argv, o, 1, &a))) return rc;
  if (a.npos < 1) return usage_error(c, "missing MACHINE");
  if ((rc = parse_entity(c, a.pos[0], &entity))) return rc;
  if (entity == TESORO_ENTITY_CONTACT)
    return usage_error(c, "a contact is a record, not a machine");
  rc = tesoro_machine_diagram(
      entity, o[0].value ? TESORO_DIAGRAM_MERMAID : TESORO_DIAGRAM_DOT, &text);
  if (rc != TESORO_OK) return lib_error(c, rc);
  rc = fputs(text, stdout) < 0 ? file_error(c, "cannot write stdout") : EXIT_OK;
  tesoro_free(text);
  return rc;
}

static const char check_help[] =
    "usage: tesoro --db FILE check\n"
    "\n"
    "Run PRAGMA integrity_check, PRAGMA foreign_key_check and tesoro's own\n"
    "invariants (each entity's state and version agree with its history,\n"
    "every outbox row and task has its cause, ...).  Prints 'ok' and exits 0\n"
    "when all hold; otherwise names the first violation on stderr and\n"
    "exits 1.\n";

static int cmd_check(cli *c, int argc, char **argv) {
  args a;
  int rc;
  if ((rc = parse_args(c, check_help, argc, argv, NULL, 0, &a))) return rc;
  if ((rc = open_db(c, 1))) return rc;
  if ((rc = tesoro_check(c->t)) != TESORO_OK) {
    lib_error(c, rc);
    return EXIT_REFUSED;
  }
  puts("ok");
  return EXIT_OK;
}

static const char stats_help[] =
    "usage: tesoro --db FILE stats [--agency N]\n"
    "\n"
    "How many entities each machine holds in each state, and the outbox rows\n"
    "by status: columns what, state, count.  Every agency, or --agency N.\n";

static int cmd_stats(cli *c, int argc, char **argv) {
  optspec o[] = {{"--agency", NULL, 1, NULL}, {NULL, NULL, 0, NULL}};
  args a;
  int64_t agency = 0;
  tesoro_cursor *cur;
  int rc;
  if ((rc = parse_args(c, stats_help, argc, argv, o, 0, &a))) return rc;
  if (o[0].value && (rc = parse_i64(o[0].value, &agency)) != 0)
    return usage_error(c, "--agency must be an integer, not '%s'", o[0].value);
  if ((rc = open_db(c, 1))) return rc;
  if ((rc = tesoro_stats(c->t, agency, &cur)) != TESORO_OK)
    return lib_error(c, rc);
  return print_cursor(c, cur);
}

/* ------------------------------------------------------------------------
** main
*/

typedef struct command {
  const char *name;
  int (*run)(cli *c, int argc, char **argv);
  const char *help;
} command;

static const command commands[] = {
    {"init", cmd_init, init_help},       {"tick", cmd_tick, tick_help},
    {"outbox", cmd_outbox, outbox_help}, {"ics", cmd_ics, ics_help},
    {"history", cmd_history, history_help},
    {"allowed", cmd_allowed, allowed_help},
    {"export", cmd_export, export_help}, {"import", cmd_import, import_help},
    {"dot", cmd_dot, dot_help},          {"check", cmd_check, check_help},
    {"stats", cmd_stats, stats_help},    {NULL, NULL, NULL}};

static const command *find_command(const char *name) {
  for (const command *k = commands; k->name; k++)
    if (strcmp(k->name, name) == 0) return k;
  return NULL;
}

int main(int argc, char **argv) {
  cli c;
  const command *k;
  int i, rc;
  memset(&c, 0, sizeof c);
  c.db = getenv("TESORO_DB");
  if (c.db && *c.db == '\0') c.db = NULL;
  for (i = 1; i < argc; i++) {
    const char *s = argv[i];
    if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
      fputs(main_help, stdout);
      return fflush(stdout) == 0 ? EXIT_OK : EXIT_FILE;
    }
    if (strcmp(s, "--version") == 0) {
      printf("tesoro %s (schema %d)\n", tesoro_version(), TESORO_SCHEMA_VERSION);
      return fflush(stdout) == 0 ? EXIT_OK : EXIT_FILE;
    }
    if ((rc = global_option(&c, argc, argv, &i)) == 1) continue;
    if (rc != 0) return rc;
    if (s[0] == '-' && s[1] != '\0')
      return usage_error(&c, "unknown option '%s'", s);
    break;
  }
  if (i == argc) {
    fputs("tesoro: missing COMMAND\n", stderr);
    fputs(main_help, stderr);
    return EXIT_USAGE;
  }
  if (strcmp(argv[i], "help") == 0) {
    if (i + 1 < argc && (k = find_command(argv[i + 1])) != NULL)
      fputs(k->help, stdout);
    else if (i + 1 < argc)
      return usage_error(&c, "no command '%s'", argv[i + 1]);
    else
      fputs(main_help, stdout);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FILE;
  }
  if ((k = find_command(argv[i])) == NULL)
    return usage_error(&c, "unknown command '%s'", argv[i]);
  c.cmd = k->name;
  rc = k->run(&c, argc - i - 1, argv + i + 1);
  if (rc == HELP_SHOWN) rc = EXIT_OK;
  if (c.t && tesoro_close(c.t) != TESORO_OK && rc == EXIT_OK)
    rc = file_error(&c, "cannot close the database");
  /* Output that did not reach stdout is a failure, not a silent success. */
  if (fflush(stdout) != 0 || ferror(stdout)) {
    if (rc == EXIT_OK) rc = file_error(&c, "cannot write stdout: %s",
                                       strerror(errno));
  }
  return rc;
}
