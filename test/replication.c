/*
** replication.c — `make test-replication`: tesoro under Litestream 0.3.13
** (issue 24).  Not a cmocka suite: one program, one figures line.
**
** Usage: replication LITESTREAM TESORO_CLI WORKDIR   (WORKDIR must not exist)
**
**  1. `litestream replicate` starts on a config listing NFILES agency files
**     of one directory, each with a file replica, before the files exist;
**     then `tesoro init` creates each one under the running replicator (it
**     builds the file under a temporary name and renames it into place).
**  2. The host — a child process — opens every file and runs a workload of
**     transitions (contacts, deals, offers, viewing requests and
**     confirmations).  After each call that returned TESORO_OK it appends
**     one record to a log and fdatasyncs it: the acknowledged transitions.
**     Half-way it goes quiet on every file, writes the logical state of
**     file 0 (schema and every row, Litestream's tables left out) and the
**     instant, and goes quiet again: the point-in-time target.
**  3. The parent SIGKILLs the host mid-way through its transitions.
**  4. With Litestream still running, the parent erases a contact of the
**     erasure file (its replica has a short retention): the erasure must
**     return in under 100 ms although Litestream holds its read
**     transaction; the contact's values must leave the live database file
**     (at Litestream's next checkpoint) and then, after a snapshot and a
**     retention check, every file of the replica (snapshots and WAL
**     segments are LZ4 frames, read with liblz4).  Before the erasure
**     the same scans must find the values: they are not blind.
**     Measured, not required: whether the -wal file's stale tail (frames
**     before its last restart, which SQLite never reads again) and
**     Litestream's shadow WAL beside the file still hold them.
**  5. Litestream is stopped (SIGTERM: it syncs one last time) and every
**     file is restored with `litestream restore` into a new directory.
**     Each restored file opens read-only with tesoro, passes tesoro_check
**     and PRAGMA integrity_check, holds every acknowledged transition
**     (lost= counts the missing ones), holds the same rows as the live
**     file, serves the client portal's read calls with the live file's
**     answers, and refuses a write (TESORO_EREADONLY).
**  6. `litestream restore -timestamp` of file 0 to the quiet instant gives
**     exactly the state written there: the same rows, every transition
**     acknowledged before it and none after (pitr_ok=1).
**
** Prints `replication files=N acknowledged=N restored=N lost=N pitr_ok=0|1
** erase_ms=N` (restored: acknowledged transitions found in the restored
** files), then `#` lines with the other measures; exits 1 when a check
** fails.  Everything is left in WORKDIR (litestream.yml, litestream.log,
** host.log, live/, replica/, restore/) for a look after a failure.
**
** One run (README, Scale-out):
**   replication files=4 acknowledged=2403 restored=2403 lost=0 pitr_ok=1
**   erase_ms=1.6
** Litestream 0.3.13 is installed by make into build/tools/ (the npm package
** @flydotio/litestream-linux-x64@1.0.1) when missing.  Still on paper, not
** run here: LiteFS, object storage (S3 and the like; only file replicas are
** tested) and Litestream 0.5.
**
** WHY ONE FILE PER AGENCY.  All writers of a file take turns on its one write
** lock, and WAL needs every process that opens the file on the same machine
** (its index lives in shared memory; SQLite's WAL documentation rules out
** network file systems): a deployment outgrows a machine by having more
** files, not a bigger one.  Nothing in a file is shared between agencies
** (test_docs checks every table), so each agency gets its own file and a
** routing table (agency -> machine and file) sends its requests there; per-
** agency files also stop agencies queueing behind each other's writes.  Each
** file runs its own scheduler and delivery worker (tesoro_outbox_fetch with
** agency 0 covers a file); ids are per file, so a host keys URLs, caches and
** outbox ids by file and id, and reporting across agencies reads each file;
** moving an agency is moving its file (closed, copied with SQLite's backup, or
** restored from a replica) and switching its route; each file is migrated by
** the first handle of a newer library that opens it.
**
** THE TWO REPLICATORS.  Litestream runs beside the application, on the
** file's machine, and streams each file's WAL pages to object storage:
** continuous backup and point-in-time restore (since 0.5 it can watch a
** directory and replicate every file matching a pattern).  It keeps a read
** transaction open on each file so that nobody else restarts the WAL,
** checkpoints itself, takes short write locks to do so (its docs ask for a
** 5 s busy timeout, tesoro's default), and creates _litestream_lock (and, in
** 0.3, _litestream_seq) in the database.  LiteFS is a FUSE file system that
** ships each transaction to replica machines: live read replicas and
** fail-over, one primary per cluster chosen by a lease.  Writes on a replica
** fail (in WAL mode with a disk I/O error: TESORO_EDB), so writes go to the
** primary; its FAQ speaks of tens to hundreds of databases per cluster and
** about 100 write transactions a second through FUSE, and its documentation
** calls it beta.  What tesoro must never do to a file for both to work, and
** how each rule is checked: the top comment of test/test_docs.c.
**
** COSTS AND OPEN POINTS, found while checking the above:
**   1. The erasure's checkpoint gives way to Litestream.  Litestream's read
**      transaction is always there, so the TRUNCATE checkpoint after an
**      erasure runs without the busy handler and gives up at once
**      (erase_ms); Litestream's own next checkpoint (checkpoint-interval, 1
**      minute by default) folds the erasure into the database file.  The
**      -wal file's stale tail keeps the old pages until new writes cover
**      them.  LiteFS keeps no long reader.
**   2. Erased values live on in replicas' history.  Every replica's current
**      state is erased as soon as the erasure arrives, but Litestream's
**      snapshots and WAL segments (LiteFS's LTX files: 10 minutes) keep the
**      pages from before it.  Litestream 0.3 drops them at the first
**      retention check once the last snapshot from before its next
**      checkpoint is older than `retention`: at most checkpoint-interval +
**      retention + retention-check-interval after the erasure (defaults
**      1 m + 24 h + 1 h; this test's 1 s + 2 s + 500 ms purge in about
**      2.5 s).  Choose retention so that sum keeps the agency's erasure
**      promise (it is also how far back a restore reaches), and treat the
**      replica storage as holding personal data.
**   3. Create a file with tesoro before a replicator sees it.  tesoro
**      refuses a file whose application_id is 0 but that already holds
**      tables (TESORO_ENOTDB), and Litestream adds its table when it starts
**      on a file; `tesoro --db FILE init` builds the file under a temporary
**      name and renames it into place (step 1 above).
**   4. Writes and upgrades go to the primary.  Under LiteFS, run every write
**      call, tesoro_tick and the delivery worker on the primary.  LiteFS's
**      HTTP proxy tracks one database, so with a file per agency the host
**      forwards writes itself (LiteFS's .primary file names the primary).
**      Upgrade the primary first: a newer library migrates a file when it
**      opens it, which a replica cannot do.
*/
#define _XOPEN_SOURCE 700 /* realpath */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lz4frame.h>
#include <sqlite3.h>

#include "tesoro.h"

#define NFILES 4
#define PITR_FILE 0            /* the point-in-time restore's file */
#define ERASE_FILE (NFILES - 1) /* the erasure's file: short retention */
#define ERASE_LIMIT_MS 100     /* an erasure under Litestream returns faster */
#define QUIET_MS 700           /* the host's pause around the PITR instant */
#define MAX_RECORDS 100000

/* The erased contact's values, searched for in files (ASCII, any case). */
#define ERIN_NAME "Erin Q7Erasure"
#define ERIN_EMAIL "erin.q7erasure@example.com"
#define ERIN_PHONE "+31 6 7777 0707"
#define ERIN_NEEDLE "q7erasure"

static const char *litestream_bin, *tesoro_cli;
static char work[1024], live_dir[1100], replica_dir[1100], restore_dir[1100],
    config_path[1100], host_log[1100], pitr_state[1100], ls_log[1100];
static int failures;

typedef struct agency_ids {
  int64_t agency, admin, website;
} agency_ids;
static agency_ids ids[NFILES];

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("FAIL: ", stdout);
  vprintf(fmt, ap);
  fputc('\n', stdout);
  fflush(stdout);
  va_end(ap);
  failures++;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static void file_path(char *out, size_t n, const char *dir, int f) {
  snprintf(out, n, "%s/a%d.db", dir, f);
}

/* ------------------------------------------------------------------------
** Growing text buffers, files.
*/

typedef struct buf {
  char *p;
  size_t n, cap;
} buf;

static void buf_add(buf *b, const void *data, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
      fprintf(stderr, "out of memory\n");
      exit(2);
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, data, n);
  b->n += n;
  b->p[b->n] = '\0';
}

static void buf_printf(buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void buf_printf(buf *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof tmp) {
    buf_add(b, tmp, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (big == NULL) exit(2);
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  buf_add(b, big, (size_t)n);
  free(big);
}

/* Whole file (NUL-terminated); NULL when it cannot be read. */
static unsigned char *read_all(const char *path, size_t *size) {
  FILE *fp = fopen(path, "rb");
  buf b = {0};
  char chunk[65536];
  size_t n;
  if (fp == NULL) return NULL;
  while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) buf_add(&b, chunk, n);
  fclose(fp);
  if (b.p == NULL) buf_add(&b, "", 0);
  if (size) *size = b.n;
  return (unsigned char *)b.p;
}

/* Write `n` bytes to `path` and fsync them; 0 or -1. */
static int write_synced(const char *path, const void *data, size_t n) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const char *p = data;
  if (fd < 0) return -1;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      close(fd);
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  int rc = fsync(fd);
  return close(fd) == 0 && rc == 0 ? 0 : -1;
}

/* Does hay[0..n) contain `needle` (ASCII, ignoring case)? */
static int has_ci(const unsigned char *hay, size_t n, const char *needle) {
  size_t m = strlen(needle);
  if (m == 0 || n < m) return 0;
  for (size_t i = 0; i + m <= n; i++) {
    size_t j = 0;
    while (j < m) {
      unsigned char a = hay[i + j], c = (unsigned char)needle[j];
      if (a >= 'A' && a <= 'Z') a = (unsigned char)(a - 'A' + 'a');
      if (c >= 'A' && c <= 'Z') c = (unsigned char)(c - 'A' + 'a');
      if (a != c) break;
      j++;
    }
    if (j == m) return 1;
  }
  return 0;
}

/* ------------------------------------------------------------------------
** LZ4 frames (Litestream 0.3 writes each snapshot and WAL segment as one,
** with github.com/pierrec/lz4/v4), read with liblz4's frame API: one or
** more frames back to back, skippable ones skipped.  Returns a malloc'd
** NUL-terminated buffer, or NULL when the input is not whole LZ4 frames.
*/

static unsigned char *lz4_decode(const unsigned char *in, size_t n,
                                 size_t *out_n) {
  LZ4F_dctx *dctx = NULL;
  buf out = {0};
  unsigned char chunk[65536];
  size_t i = 0, r = 0;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
    return NULL;
  buf_add(&out, "", 0);
  /* r is 0 once a frame is decoded and flushed: stop there at the end of
  ** the input; otherwise call again to decode or flush what is left. */
  while (i < n || r != 0) {
    size_t dst = sizeof chunk, src = n - i;
    r = LZ4F_decompress(dctx, chunk, &dst, in + i, &src, NULL);
    if (LZ4F_isError(r)) goto bad;
    buf_add(&out, chunk, dst);
    i += src;
    if (src == 0 && dst == 0 && r != 0) goto bad; /* truncated frame */
  }
  LZ4F_freeDecompressionContext(dctx);
  *out_n = out.n;
  return (unsigned char *)out.p;
bad:
  LZ4F_freeDecompressionContext(dctx);
  free(out.p);
  return NULL;
}

/* Count the files under `dir` (recursively) whose bytes — decompressed
** for *.lz4 — contain `needle`; *scanned counts the files read, *bytes
** their decompressed size.  The first hit's path goes to `hit`. */
static int scan_tree(const char *dir, const char *needle, int *scanned,
                     size_t *bytes, char *hit, size_t hitlen) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int hits = 0;
  if (d == NULL) return 0;
  while ((e = readdir(d)) != NULL) {
    char path[2048];
    struct stat st;
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (lstat(path, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      hits += scan_tree(path, needle, scanned, bytes, hit, hitlen);
      continue;
    }
    if (!S_ISREG(st.st_mode)) continue;
    size_t n = 0, len = strlen(e->d_name);
    unsigned char *data = read_all(path, &n);
    if (data == NULL) continue; /* removed meanwhile by retention */
    if (len > 4 && strcmp(e->d_name + len - 4, ".lz4") == 0) {
      size_t m = 0;
      unsigned char *plain = lz4_decode(data, n, &m);
      if (plain == NULL) {
        fail("%s is not an LZ4 frame liblz4 reads", path);
      } else {
        free(data);
        data = plain;
        n = m;
      }
    }
    (*scanned)++;
    *bytes += n;
    if (has_ci(data, n, needle)) {
      if (hits == 0 && hit && hit[0] == '\0') snprintf(hit, hitlen, "%s", path);
      hits++;
    }
    free(data);
  }
  closedir(d);
  return hits;
}

/* ------------------------------------------------------------------------
** The logical content of a database file: its schema and every row of
** every table, each table ordered by all its columns, read through a
** plain read-only sqlite3 connection.  Litestream's own tables
** (_litestream_seq, _litestream_lock) are left out: they change under
** the replicator, not under tesoro.
*/

static char *dump_db(const char *path) {
  sqlite3 *db = NULL;
  sqlite3_stmt *tables = NULL;
  buf out = {0};
  buf_add(&out, "", 0);
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    buf_printf(&out, "cannot open %s: %s\n", path, sqlite3_errmsg(db));
    sqlite3_close(db);
    return out.p;
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
  if (sqlite3_prepare_v2(db,
                         "SELECT type, name, sql FROM sqlite_master "
                         "WHERE name NOT LIKE '\\_litestream%' ESCAPE '\\' "
                         "ORDER BY type, name",
                         -1, &tables, NULL) != SQLITE_OK) {
    buf_printf(&out, "cannot read the schema: %s\n", sqlite3_errmsg(db));
    sqlite3_close(db);
    return out.p;
  }
  while (sqlite3_step(tables) == SQLITE_ROW) {
    const char *type = (const char *)sqlite3_column_text(tables, 0);
    const char *name = (const char *)sqlite3_column_text(tables, 1);
    const char *sql = (const char *)sqlite3_column_text(tables, 2);
    buf_printf(&out, "%s %s: %s\n", type, name, sql ? sql : "");
    if (strcmp(type, "table") != 0) continue;
    char q[600];
    sqlite3_stmt *rows = NULL;
    snprintf(q, sizeof q, "SELECT * FROM \"%s\"", name);
    if (sqlite3_prepare_v2(db, q, -1, &rows, NULL) != SQLITE_OK) {
      buf_printf(&out, "  unreadable: %s\n", sqlite3_errmsg(db));
      continue;
    }
    int cols = sqlite3_column_count(rows);
    sqlite3_finalize(rows);
    size_t len = (size_t)snprintf(q, sizeof q, "SELECT * FROM \"%s\" ORDER BY ",
                                  name);
    for (int c = 1; c <= cols && len < sizeof q - 8; c++)
      len += (size_t)snprintf(q + len, sizeof q - len, "%s%d", c > 1 ? "," : "", c);
    if (sqlite3_prepare_v2(db, q, -1, &rows, NULL) != SQLITE_OK) {
      buf_printf(&out, "  unreadable: %s\n", sqlite3_errmsg(db));
      continue;
    }
    while (sqlite3_step(rows) == SQLITE_ROW) {
      buf_add(&out, " ", 1);
      for (int c = 0; c < cols; c++) {
        switch (sqlite3_column_type(rows, c)) {
        case SQLITE_INTEGER:
          buf_printf(&out, "|%lld", (long long)sqlite3_column_int64(rows, c));
          break;
        case SQLITE_FLOAT:
          buf_printf(&out, "|%.17g", sqlite3_column_double(rows, c));
          break;
        case SQLITE_TEXT:
          buf_add(&out, "|'", 2);
          buf_add(&out, sqlite3_column_text(rows, c),
                  (size_t)sqlite3_column_bytes(rows, c));
          buf_add(&out, "'", 1);
          break;
        case SQLITE_BLOB: {
          const unsigned char *p = sqlite3_column_blob(rows, c);
          int n = sqlite3_column_bytes(rows, c);
          buf_add(&out, "|x", 2);
          for (int k = 0; k < n; k++) buf_printf(&out, "%02x", p[k]);
          break;
        }
        default:
          buf_add(&out, "|NULL", 5);
        }
      }
      buf_add(&out, "\n", 1);
    }
    sqlite3_finalize(rows);
  }
  sqlite3_finalize(tables);
  sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  sqlite3_close(db);
  return out.p;
}

/* PRAGMA integrity_check through a plain read-only connection: 1 when "ok". */
static int integrity_ok(const char *path, char *why, size_t whylen) {
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  int ok = 0;
  why[0] = '\0';
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW) {
    const char *r = (const char *)sqlite3_column_text(s, 0);
    ok = r && strcmp(r, "ok") == 0;
    snprintf(why, whylen, "%s", r ? r : "(null)");
  } else {
    snprintf(why, whylen, "%s", sqlite3_errmsg(db));
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return ok;
}

/* ------------------------------------------------------------------------
** Processes.  Each child dies with the test (Linux): a crashed test must
** not leave Litestream or the host running on.
*/

static void die_with_parent(pid_t parent) {
#ifdef __linux__
  prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
  if (getppid() != parent) _exit(1);
}

static pid_t spawn(char *const argv[], const char *logfile) {
  pid_t parent = getpid();
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    die_with_parent(parent);
    int fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execv(argv[0], argv);
    _exit(127);
  }
  return pid;
}

/* Wait for `pid` at most `ms`; its exit status, or -1 on timeout. */
static int wait_for(pid_t pid, int ms) {
  double until = mono_ms() + ms;
  for (;;) {
    int status;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
    if (r < 0) return -2;
    if (mono_ms() > until) return -1;
    sleep_ms(20);
  }
}

static int run(char *const argv[], const char *logfile, int timeout_ms) {
  pid_t pid = spawn(argv, logfile);
  if (pid < 0) return -1;
  int rc = wait_for(pid, timeout_ms);
  if (rc == -1) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
  }
  return rc;
}

/* `tesoro --db FILE init ...`: the operator creates the agency's file
** under the running replicator.  Reads the ids it prints. */
static int cli_init(int f) {
  char cmd[4096], line[256], path[1200];
  file_path(path, sizeof path, live_dir, f);
  snprintf(cmd, sizeof cmd,
           "'%s' --db '%s' init 'Agency %d' --admin-name 'Alice Admin' "
           "--admin-email 'alice@a%d.example' --currency EUR "
           "--timezone Europe/Amsterdam --portal on",
           tesoro_cli, path, f, f);
  FILE *p = popen(cmd, "r");
  if (p == NULL) return -1;
  while (fgets(line, sizeof line, p)) {
    long long v;
    if (sscanf(line, "agency %lld", &v) == 1) ids[f].agency = v;
    if (sscanf(line, "admin %lld", &v) == 1) ids[f].admin = v;
    if (sscanf(line, "website %lld", &v) == 1) ids[f].website = v;
  }
  int rc = pclose(p);
  return rc == 0 && ids[f].agency > 0 && ids[f].admin > 0 && ids[f].website > 0
             ? 0 : -1;
}

/* ------------------------------------------------------------------------
** The host: a child process running transitions on every file until the
** parent kills it.  Each acknowledged transition is one log line,
** fdatasync'd before the next call:
**   T <file> <entity> <id> <version> <state> <unix ms>
** (entity TESORO_ENTITY_CONTACT: a contact created, version 0), and once
**   P <unix ms>   the quiet instant; file 0's state is in pitr_state.
*/

typedef struct host_file {
  tesoro *t;
  int f;
  int64_t admin, website, agent, listing;
} host_file;

static int host_fd = -1;

static void host_log_line(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static void host_log_line(const char *fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n <= 0 || (size_t)n >= sizeof line || write(host_fd, line, (size_t)n) != n ||
      fdatasync(host_fd) != 0) {
    fprintf(stderr, "host: cannot write its log\n");
    _exit(3);
  }
}

#define H(h, call)                                                        \
  do {                                                                    \
    int h_rc_ = (call);                                                   \
    if (h_rc_ < 0) {                                                      \
      fprintf(stderr, "host: file %d: %s: %s (%s)\n", (h)->f, #call,      \
              tesoro_errmsg((h)->t), tesoro_errname(h_rc_));              \
      _exit(3);                                                           \
    }                                                                     \
  } while (0)

static void host_ack(host_file *h, int entity, int64_t id) {
  const char *state = "-";
  int64_t version = 0;
  if (entity != TESORO_ENTITY_CONTACT)
    H(h, tesoro_entity_state(h->t, h->agent, entity, id, &state, &version));
  host_log_line("T %d %d %lld %lld %s %lld\n", h->f, entity, (long long)id,
                (long long)version, state, (long long)now_ms());
}

static const char mandate_pdf[] =
    "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/* The agent, and a published listing (seller onboarding walked through). */
static void host_setup(host_file *h) {
  char email[96], form[512];
  int64_t room = 0, seller = 0, mandate = 0, proposal = 0, doc = 0, task = 0;
  tesoro_cursor *c = NULL;
  int rc;
  snprintf(email, sizeof email, "andy@a%d.example", h->f);
  H(h, tesoro_agent_create(h->t, h->admin, "Andy Agent", email, TESORO_ROLE_AGENT,
                           &h->agent));
  snprintf(email, sizeof email, "olivia@a%d.example", h->f);
  H(h, tesoro_contact_request_submit(h->t, h->website, "Olivia Owner", email,
                                     TESORO_PROPERTY_HOUSE, "Oudegracht, Utrecht",
                                     65000000, NULL, NULL, &room, &seller));
  H(h, tesoro_room_start_onboarding(h->t, h->agent, room, 0, 0, &mandate));
  H(h, tesoro_mandate_propose(h->t, h->agent, mandate, TESORO_COMMISSION_PERCENTAGE,
                              150, NULL, 1, 180, 0, &proposal));
  H(h, tesoro_mandate_accept(h->t, seller, mandate, proposal, 0, NULL));
  H(h, tesoro_mandate_share_form(h->t, h->agent, mandate, 0));
  H(h, tesoro_document_add(h->t, seller, TESORO_ENTITY_MANDATE, mandate,
                           TESORO_DOC_SIGNED_MANDATE, "mandate.pdf",
                           "application/pdf", mandate_pdf,
                           (int64_t)sizeof mandate_pdf - 1, &doc));
  snprintf(form, sizeof form,
           "{\"full_name\":\"Olivia Owner\",\"email\":\"%s\","
           "\"phone\":\"+31 6 5555 0101\",\"address\":\"Oudegracht 12, Utrecht\","
           "\"property_type\":\"house\",\"price\":65000000}",
           email);
  H(h, tesoro_mandate_submit_form(h->t, seller, mandate, form, 0));
  H(h, tesoro_tasks(h->t, h->agent, TESORO_ENTITY_MANDATE, mandate, &c));
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW)
    if (strcmp(tesoro_cursor_text(c, tesoro_cursor_index(c, "kind")),
               "review_seller_form") == 0)
      task = tesoro_cursor_int(c, tesoro_cursor_index(c, "id"));
  tesoro_cursor_free(c);
  H(h, rc == TESORO_DONE && task > 0 ? TESORO_OK : TESORO_ENOTFOUND);
  H(h, tesoro_task_complete(h->t, h->agent, task, 0));
  H(h, tesoro_mandate_validate(h->t, h->agent, mandate, 0, &h->listing));
  H(h, tesoro_listing_update(h->t, h->agent, h->listing,
                             "{\"title\":\"Canal house\",\"address\":"
                             "\"Oudegracht 12, Utrecht\",\"price\":65000000}",
                             0));
  H(h, tesoro_listing_publish(h->t, h->agent, h->listing, 0));
}

/* One round on one file: a buyer is added, gets a deal with the listing
** offered, requests a viewing from the portal; every other one is
** confirmed by the agent. */
static void host_round(host_file *h, int r) {
  char name[64], email[96];
  int64_t contact = 0, deal = 0, dp = 0, client = 0, appt = 0;
  int64_t hour = (int64_t)time(NULL) / 3600 * 3600;
  int64_t preferred[2];
  preferred[0] = hour + 86400 * (2 + r % 40) + 3600 * (r % 8);
  preferred[1] = preferred[0] + 7200;
  snprintf(name, sizeof name, "Buyer %d.%d", h->f, r);
  snprintf(email, sizeof email, "buyer%d@a%d.example", r, h->f);
  H(h, tesoro_contact_create(h->t, h->agent, name, email, NULL, "nl", &contact));
  host_ack(h, TESORO_ENTITY_CONTACT, contact);
  H(h, tesoro_deal_create(h->t, h->agent, contact, "A house in Utrecht", &deal));
  host_ack(h, TESORO_ENTITY_DEAL, deal);
  H(h, tesoro_deal_offer(h->t, h->agent, deal, h->listing, &dp));
  host_ack(h, TESORO_ENTITY_DEAL_PROPERTY, dp);
  H(h, tesoro_contact_client_actor(h->t, h->agent, contact, &client));
  H(h, tesoro_appointment_request(h->t, client, dp, preferred, 2, &appt));
  host_ack(h, TESORO_ENTITY_APPOINTMENT, appt);
  if (r % 2) {
    H(h, tesoro_appointment_confirm(h->t, h->agent, appt, preferred[0], 0, 0));
    host_ack(h, TESORO_ENTITY_APPOINTMENT, appt);
  }
}

static void host_rounds(host_file *hosts, int *r, int64_t until_ms) {
  while (until_ms == 0 || now_ms() < until_ms) {
    for (int f = 0; f < NFILES; f++) host_round(&hosts[f], *r);
    (*r)++;
    sleep_ms(5); /* a host's pace, not a benchmark's */
  }
}

static void host_main(void) {
  host_file hosts[NFILES];
  int r = 0;
  host_fd = open(host_log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (host_fd < 0) _exit(3);
  for (int f = 0; f < NFILES; f++) {
    char path[1200];
    host_file *h = &hosts[f];
    memset(h, 0, sizeof *h);
    h->f = f;
    h->admin = ids[f].admin;
    h->website = ids[f].website;
    file_path(path, sizeof path, live_dir, f);
    H(h, tesoro_open(path, &h->t));
    host_setup(h);
  }
  host_rounds(hosts, &r, now_ms() + 1500);
  /* The point-in-time target: quiet, the state of file 0, the instant,
     quiet again (Litestream syncs every 100 ms: each side of the instant
     is then in segments written on that side of it). */
  sleep_ms(QUIET_MS);
  {
    char path[1200], *state;
    file_path(path, sizeof path, live_dir, PITR_FILE);
    state = dump_db(path);
    if (write_synced(pitr_state, state, strlen(state)) != 0) _exit(3);
    free(state);
    host_log_line("P %lld\n", (long long)now_ms());
  }
  sleep_ms(QUIET_MS);
  host_rounds(hosts, &r, 0); /* until the SIGKILL */
  _exit(0);
}

/* ------------------------------------------------------------------------
** The parent's reading of the host's log.
*/

typedef struct record {
  int f, entity;
  int64_t id, version, ms;
  char state[32];
} record;

static record *records;
static int nrecords;
static int64_t pitr_ms;

static void read_host_log(void) {
  FILE *fp = fopen(host_log, "r");
  char line[256];
  nrecords = 0;
  pitr_ms = 0;
  if (fp == NULL) return;
  while (fgets(line, sizeof line, fp) && nrecords < MAX_RECORDS) {
    record *x = &records[nrecords];
    long long id, version, ms;
    if (line[0] == 'P' && sscanf(line, "P %lld", &ms) == 1) {
      pitr_ms = ms;
    } else if (line[0] == 'T' &&
               sscanf(line, "T %d %d %lld %lld %31s %lld", &x->f, &x->entity,
                      &id, &version, x->state, &ms) == 6 &&
               strchr(line, '\n') != NULL) { /* a torn last line is no ack */
      x->id = id;
      x->version = version;
      x->ms = ms;
      nrecords++;
    }
  }
  fclose(fp);
}

/* Is the acknowledged transition in the file behind `t`? */
static int has_record(tesoro *t, int64_t staff, const record *x) {
  if (x->entity == TESORO_ENTITY_CONTACT) {
    char *json = NULL;
    int rc = tesoro_entity_json(t, staff, TESORO_ENTITY_CONTACT, x->id, &json);
    tesoro_free(json);
    return rc == TESORO_OK;
  }
  const char *state = NULL;
  int64_t version = 0;
  if (tesoro_entity_state(t, staff, x->entity, x->id, &state, &version) != TESORO_OK)
    return 0;
  return version > x->version ||
         (version == x->version && strcmp(state, x->state) == 0);
}

/* ------------------------------------------------------------------------
** The portal's read calls, as text: every list a client's portal shows.
*/

static void cursor_text(buf *out, tesoro *t, int rc, tesoro_cursor *c) {
  if (rc != TESORO_OK) {
    buf_printf(out, "  error %s: %s\n", tesoro_errname(rc), tesoro_errmsg(t));
    return;
  }
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
    buf_add(out, " ", 1);
    for (int i = 0; i < tesoro_cursor_columns(c); i++) {
      const char *v = tesoro_cursor_text(c, i);
      buf_printf(out, " %s=%s", tesoro_cursor_name(c, i), v ? v : "NULL");
    }
    buf_add(out, "\n", 1);
  }
  if (rc != TESORO_DONE) buf_printf(out, "  step %s\n", tesoro_errname(rc));
  tesoro_cursor_free(c);
}

/* The client portal of `contact` read through `t`; *calls counts the calls. */
static char *portal_reads(tesoro *t, int64_t staff, int64_t contact, int *calls) {
  buf out = {0};
  int64_t client = 0, up = 0, unconf = 0, fresh = 0, ratings = 0;
  tesoro_cursor *c = NULL;
  int rc;
  static const int lists[] = {TESORO_LIST_UPCOMING, TESORO_LIST_UNCONFIRMED,
                              TESORO_LIST_RECENT};
  buf_add(&out, "", 0);
  rc = tesoro_contact_client_actor(t, staff, contact, &client);
  buf_printf(&out, "client %d %lld\n", rc, (long long)client);
  if (rc != TESORO_OK) return out.p;
  rc = tesoro_portal_home(t, client, &up, &unconf, &fresh, &ratings);
  buf_printf(&out, "home %d %lld %lld %lld %lld\n", rc, (long long)up,
             (long long)unconf, (long long)fresh, (long long)ratings);
  (*calls)++;
  for (int i = 0; i < 3; i++) {
    buf_printf(&out, "appointments %d\n", lists[i]);
    rc = tesoro_client_appointments(t, client, lists[i], &c);
    cursor_text(&out, t, rc, c);
    (*calls)++;
  }
  buf_add(&out, "properties\n", 11);
  rc = tesoro_portal_properties(t, client, TESORO_FEED_ALL, &c);
  cursor_text(&out, t, rc, c);
  (*calls)++;
  return out.p;
}

/* ------------------------------------------------------------------------
** Litestream.
*/

static int write_config(void) {
  buf y = {0};
  buf_printf(&y,
             "# Written by test/replication.c.  Every file is watched every\n"
             "# 100 ms and shipped to its replica every 100 ms.\n"
             "dbs:\n");
  for (int f = 0; f < NFILES; f++) {
    char path[1200];
    file_path(path, sizeof path, live_dir, f);
    buf_printf(&y, "  - path: %s\n    monitor-interval: 100ms\n", path);
    if (f == ERASE_FILE)
      buf_printf(&y,
                 "    # An erasure's old pages leave the replica only through\n"
                 "    # a checkpoint (a new WAL index), a snapshot after it and\n"
                 "    # retention deleting what came before.  Seconds here;\n"
                 "    # an agency sets retention to its erasure promise.\n"
                 "    checkpoint-interval: 1s\n");
    buf_printf(&y,
               "    replicas:\n"
               "      - type: file\n"
               "        path: %s/a%d\n"
               "        sync-interval: 100ms\n",
               replica_dir, f);
    if (f == ERASE_FILE)
      buf_printf(&y,
                 "        snapshot-interval: 1s\n"
                 "        retention: 2s\n"
                 "        retention-check-interval: 500ms\n");
    else
      buf_printf(&y, "        retention: 24h   # Litestream's default\n");
  }
  int rc = write_synced(config_path, y.p, y.n);
  free(y.p);
  return rc;
}

static pid_t start_litestream(void) {
  char *argv[] = {(char *)litestream_bin, "replicate", "-config", config_path,
                  NULL};
  return spawn(argv, ls_log);
}

static int restore_file(const char *db, const char *out, const char *timestamp) {
  char log[1200];
  snprintf(log, sizeof log, "%s/restore.log", work);
  if (timestamp) {
    char *argv[] = {(char *)litestream_bin, "restore", "-config", config_path,
                    "-timestamp", (char *)timestamp, "-o", (char *)out,
                    (char *)db, NULL};
    return run(argv, log, 30000);
  }
  char *argv[] = {(char *)litestream_bin, "restore", "-config", config_path,
                  "-o", (char *)out, (char *)db, NULL};
  return run(argv, log, 30000);
}

/* ------------------------------------------------------------------------
** The erasure under a running Litestream.
*/

typedef struct erase_figures {
  double erase_ms;
  double live_clean_ms;    /* erasure → the database file holds none */
  double replica_clean_ms; /* erasure → no replica file holds any */
  int seen_before;         /* the replica and the file held them before */
  int wal_stale;           /* the live -wal file still holds old frames */
  int meta_stale;          /* Litestream's shadow WAL beside the file does */
  int replica_files;
} erase_figures;

static int tree_has(const char *dir, int *scanned, size_t *bytes, char *hit,
                    size_t hitlen) {
  int s = 0;
  size_t b = 0;
  if (hit) hit[0] = '\0';
  int hits = scan_tree(dir, ERIN_NEEDLE, &s, &b, hit, hitlen);
  if (scanned) *scanned = s;
  if (bytes) *bytes = b;
  return hits;
}

static int file_has(const char *path) {
  size_t n = 0;
  unsigned char *data = read_all(path, &n);
  int hit = data && has_ci(data, n, ERIN_NEEDLE);
  free(data);
  return hit;
}

static void erase_phase(erase_figures *e) {
  char path[1200], wal[1300], rdir[1200], hit[2048];
  tesoro *t = NULL;
  int64_t admin = ids[ERASE_FILE].admin, erin = 0;
  char *json = NULL;
  double t0, until;
  int rc;

  memset(e, 0, sizeof *e);
  file_path(path, sizeof path, live_dir, ERASE_FILE);
  snprintf(wal, sizeof wal, "%s-wal", path);
  snprintf(rdir, sizeof rdir, "%s/a%d", replica_dir, ERASE_FILE);
  if ((rc = tesoro_open(path, &t)) != TESORO_OK) {
    fail("erasure: open %s: %s", path, tesoro_errmsg(t));
    tesoro_close(t);
    return;
  }
  if ((rc = tesoro_contact_create(t, admin, ERIN_NAME, ERIN_EMAIL, ERIN_PHONE,
                                  "nl", &erin)) != TESORO_OK) {
    fail("erasure: contact_create: %s", tesoro_errmsg(t));
    tesoro_close(t);
    return;
  }
  /* The scans find her first (they are not blind): in the replica, and in
     the database file once Litestream's checkpoint has folded the WAL in. */
  until = mono_ms() + 10000;
  while (!(tree_has(rdir, NULL, NULL, NULL, 0) > 0 && file_has(path)) &&
         mono_ms() < until)
    sleep_ms(100);
  e->seen_before = tree_has(rdir, NULL, NULL, NULL, 0) > 0 && file_has(path);
  if (!e->seen_before)
    fail("erasure: the replica and the file never both held the contact");

  t0 = mono_ms();
  rc = tesoro_contact_erase(t, admin, erin, "GDPR art. 17 request");
  e->erase_ms = mono_ms() - t0;
  if (rc != TESORO_OK) fail("erasure: %s (%s)", tesoro_errmsg(t), tesoro_errname(rc));
  if (e->erase_ms >= ERASE_LIMIT_MS)
    fail("erasure took %.1f ms with Litestream running (limit %d ms)", e->erase_ms,
         ERASE_LIMIT_MS);
  if (tesoro_entity_json(t, admin, TESORO_ENTITY_CONTACT, erin, &json) != TESORO_OK ||
      has_ci((const unsigned char *)json, strlen(json), ERIN_NEEDLE))
    fail("erasure: the contact still reads %s", json ? json : tesoro_errmsg(t));
  tesoro_free(json);
  tesoro_close(t);

  /* The live database file: Litestream's next checkpoint folds the
     erasure's pages into it (tesoro's own TRUNCATE checkpoint gave way to
     Litestream's reader). */
  until = t0 + 15000;
  while (file_has(path) && mono_ms() < until) sleep_ms(100);
  e->live_clean_ms = mono_ms() - t0;
  if (file_has(path)) fail("erasure: %s still holds the erased values", path);

  /* The replica: a snapshot after that checkpoint, then retention deletes
     every older snapshot and WAL segment. */
  until = t0 + 30000;
  while (tree_has(rdir, NULL, NULL, hit, sizeof hit) > 0 && mono_ms() < until)
    sleep_ms(200);
  e->replica_clean_ms = mono_ms() - t0;
  if (tree_has(rdir, &e->replica_files, NULL, hit, sizeof hit) > 0)
    fail("erasure: the replica still holds the erased values (%s)", hit);
  /* The WAL's stale tail (frames before its last restart, never read
     again by SQLite) is measured, not required: Litestream's reader keeps
     tesoro's TRUNCATE checkpoint from emptying it. */
  e->wal_stale = file_has(wal);
  {
    char meta[1300];
    snprintf(meta, sizeof meta, "%s/.a%d.db-litestream", live_dir, ERASE_FILE);
    e->meta_stale = tree_has(meta, NULL, NULL, NULL, 0) > 0;
  }
}

/* ------------------------------------------------------------------------
** The checks on restored files.
*/

static void iso_ms(int64_t ms, char *out, size_t n) {
  time_t s = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&s, &tm);
  size_t len = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + len, n - len, ".%03dZ", (int)(ms % 1000));
}

int main(int argc, char **argv) {
  pid_t ls_pid, host_pid;
  int acknowledged = 0, restored = 0, lost = 0, pitr_ok = 0, portal_calls = 0;
  erase_figures ef;
  double started = mono_ms();

  if (argc != 4) {
    fprintf(stderr, "usage: %s LITESTREAM TESORO_CLI WORKDIR\n", argv[0]);
    return 2;
  }
  litestream_bin = argv[1];
  tesoro_cli = argv[2];
  if (mkdir(argv[3], 0755) != 0 || realpath(argv[3], work) == NULL) {
    fprintf(stderr, "cannot create %s (it must not exist): %s\n", argv[3],
            strerror(errno));
    return 2;
  }
  snprintf(live_dir, sizeof live_dir, "%s/live", work);
  snprintf(replica_dir, sizeof replica_dir, "%s/replica", work);
  snprintf(restore_dir, sizeof restore_dir, "%s/restore", work);
  snprintf(config_path, sizeof config_path, "%s/litestream.yml", work);
  snprintf(host_log, sizeof host_log, "%s/host.log", work);
  snprintf(pitr_state, sizeof pitr_state, "%s/pitr-state.txt", work);
  snprintf(ls_log, sizeof ls_log, "%s/litestream.log", work);
  if (mkdir(live_dir, 0755) != 0 || mkdir(replica_dir, 0755) != 0 ||
      mkdir(restore_dir, 0755) != 0 || write_config() != 0) {
    fprintf(stderr, "cannot prepare %s\n", work);
    return 2;
  }
  records = calloc(MAX_RECORDS, sizeof *records);
  if (records == NULL) return 2;

  /* 1. Litestream first, then the files appear under it. */
  ls_pid = start_litestream();
  if (ls_pid < 0) {
    fprintf(stderr, "cannot start %s\n", litestream_bin);
    return 2;
  }
  sleep_ms(300);
  if (wait_for(ls_pid, 0) != -1) {
    fail("litestream exited at start (see %s)", ls_log);
    return 1;
  }
  for (int f = 0; f < NFILES; f++)
    if (cli_init(f) != 0) {
      fail("tesoro init of file %d failed", f);
      kill(ls_pid, SIGKILL);
      return 1;
    }

  /* 2, 3. The host runs; SIGKILL a second after the quiet instant. */
  fflush(stdout);
  {
    pid_t me = getpid();
    host_pid = fork();
    if (host_pid == 0) die_with_parent(me);
  }
  if (host_pid == 0) {
    host_main();
  }
  {
    double until = mono_ms() + 30000, killed_at = 0;
    for (;;) {
      if (wait_for(host_pid, 0) != -1) {
        fail("the host died by itself (see %s)", host_log);
        break;
      }
      read_host_log();
      if (pitr_ms && killed_at == 0) killed_at = mono_ms() + QUIET_MS + 1000;
      if ((killed_at && mono_ms() >= killed_at) || mono_ms() > until) break;
      sleep_ms(50);
    }
    kill(host_pid, SIGKILL);
    waitpid(host_pid, NULL, 0);
    read_host_log();
    acknowledged = nrecords;
    if (pitr_ms == 0) fail("the host never reached the point-in-time instant");
  }

  /* 4. The erasure, Litestream running. */
  erase_phase(&ef);

  /* 5. Stop Litestream: SIGTERM makes it sync every file one last time. */
  kill(ls_pid, SIGTERM);
  if (wait_for(ls_pid, 20000) != 0) {
    fail("litestream did not stop cleanly on SIGTERM (see %s)", ls_log);
    kill(ls_pid, SIGKILL);
    waitpid(ls_pid, NULL, 0);
  }

  for (int f = 0; f < NFILES; f++) {
    char live[1200], out[1200], why[256];
    tesoro *t = NULL, *lt = NULL;
    int64_t staff = ids[f].admin, c = 0;
    file_path(live, sizeof live, live_dir, f);
    file_path(out, sizeof out, restore_dir, f);
    if (restore_file(live, out, NULL) != 0) {
      fail("litestream restore of %s failed (see %s/restore.log)", live, work);
      continue;
    }
    if (tesoro_open_readonly(out, &t) != TESORO_OK) {
      fail("%s does not open read-only: %s", out, tesoro_errmsg(t));
      tesoro_close(t);
      continue;
    }
    if (tesoro_check(t) != TESORO_OK)
      fail("tesoro_check on %s: %s", out, tesoro_errmsg(t));
    if (!integrity_ok(out, why, sizeof why))
      fail("PRAGMA integrity_check on %s: %s", out, why);
    for (int i = 0; i < nrecords; i++) {
      if (records[i].f != f) continue;
      if (has_record(t, staff, &records[i])) {
        restored++;
      } else {
        if (lost < 5)
          fail("file %d lost the acknowledged %d %lld v%lld %s", f,
               records[i].entity, (long long)records[i].id,
               (long long)records[i].version, records[i].state);
        lost++;
      }
    }
    {
      char *a = dump_db(out), *b = dump_db(live);
      if (strcmp(a, b) != 0) fail("%s and %s hold different rows", out, live);
      free(a);
      free(b);
    }
    /* Read-only replica reads: the portal of every buyer, as the live file
       answers it (both handles pinned at the same instant). */
    if (tesoro_open_readonly(live, &lt) != TESORO_OK) {
      fail("%s does not open read-only: %s", live, tesoro_errmsg(lt));
    } else {
      int64_t at = (int64_t)time(NULL);
      tesoro_clock_set(t, at);
      tesoro_clock_set(lt, at);
      for (int i = 0; i < nrecords; i++) {
        if (records[i].f != f || records[i].entity != TESORO_ENTITY_CONTACT) continue;
        int ignored = 0;
        char *a = portal_reads(t, staff, records[i].id, &portal_calls);
        char *b = portal_reads(lt, staff, records[i].id, &ignored);
        if (strcmp(a, b) != 0 || strstr(a, "error") != NULL)
          fail("file %d: the restored portal of contact %lld differs:\n%s---\n%s", f,
               (long long)records[i].id, a, b);
        free(a);
        free(b);
      }
    }
    tesoro_close(lt);
    if (tesoro_contact_create(t, staff, "Nobody", NULL, NULL, NULL, &c) !=
        TESORO_EREADONLY)
      fail("a write on the restored read-only %s was not refused", out);
    tesoro_close(t);
  }

  /* 6. Point-in-time: file 0 at the quiet instant. */
  if (pitr_ms) {
    char live[1200], out[1200], stamp[64];
    int before = 0, after = 0, wrong = 0;
    file_path(live, sizeof live, live_dir, PITR_FILE);
    snprintf(out, sizeof out, "%s/pitr.db", restore_dir);
    iso_ms(pitr_ms, stamp, sizeof stamp);
    if (restore_file(live, out, stamp) != 0) {
      fail("litestream restore -timestamp %s failed (see %s/restore.log)", stamp, work);
    } else {
      tesoro *t = NULL;
      char *want = (char *)read_all(pitr_state, NULL), *got = dump_db(out);
      int same = want && strcmp(want, got) == 0;
      if (!same) fail("the state restored at %s is not the state of that instant", stamp);
      if (tesoro_open_readonly(out, &t) != TESORO_OK) {
        fail("%s does not open read-only: %s", out, tesoro_errmsg(t));
      } else {
        for (int i = 0; i < nrecords; i++) {
          const record *x = &records[i];
          if (x->f != PITR_FILE) continue;
          int present = has_record(t, ids[PITR_FILE].admin, x);
          if (x->ms < pitr_ms) before++; else after++;
          if (present != (x->ms < pitr_ms)) wrong++;
        }
        if (tesoro_check(t) != TESORO_OK) fail("tesoro_check on %s: %s", out, tesoro_errmsg(t));
      }
      tesoro_close(t);
      if (wrong) fail("point in time: %d transitions on the wrong side of %s", wrong, stamp);
      if (before == 0 || after == 0)
        fail("point in time: %d transitions before %s and %d after", before, stamp,
             after);
      pitr_ok = same && wrong == 0 && before > 0 && after > 0;
      printf("# pitr at=%s before=%d after=%d\n", stamp, before, after);
      free(want);
      free(got);
    }
  }

  if (acknowledged == 0) fail("no transition was acknowledged");
  printf("# erasure seen_before=%d live_file_clean_ms=%.0f replica_clean_ms=%.0f "
         "replica_files=%d stale_wal_tail=%d stale_shadow_wal=%d\n",
         ef.seen_before, ef.live_clean_ms, ef.replica_clean_ms, ef.replica_files,
         ef.wal_stale, ef.meta_stale);
  printf("# portal_reads=%d wall_s=%.1f\n", portal_calls,
         (mono_ms() - started) / 1000.0);
  printf("replication files=%d acknowledged=%d restored=%d lost=%d pitr_ok=%d "
         "erase_ms=%.1f\n",
         NFILES, acknowledged, restored, lost, pitr_ok, ef.erase_ms);
  free(records);
  return failures ? 1 : 0;
}
