/*
** bench.c — `make bench`: tesoro against the storage floor, in one run.
**
** The floor of a figure is raw SQLite writing the rows tesoro wrote, in
** the same binary and run, on the same schema: the bench records every
** tesoro operation's changes with SQLite's session extension (on a copy of
** the database, so the timed run carries no recording cost), then replays
** those exact rows through cached prepared statements, one transaction per
** operation, with no rule checks.  The changeset holds each row once, in
** its final form, so the floor never writes more than tesoro did: a ratio
** here is an upper bound on tesoro's overhead, never flattered.  Because
** the floor is derived from tesoro's own writes and the DDL comes from
** tesoro_schema_text, it follows every schema change by itself.
**
** The bench includes tesoro.c to reach the handle's connection (for the
** session and for synchronous=FULL); nothing else of the library's
** internals is used.
**
** Output, one line per figure:
**   bench <name> tesoro=<v> floor=<v> unit=<unit> ratio=<higher is better> ...
*/
/* The session extension's declarations (Debian's libsqlite3 is built with
** it; sqlite3.h shows them only when asked). */
#define SQLITE_ENABLE_SESSION 1
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include "../tesoro.c"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define DIR_TEMPLATE "/tmp/tesoro-bench-XXXXXX"
#define T0 INT64_C(1780000000)

static char dir[64];

static void die(const char *what, tesoro *t) {
  fprintf(stderr, "bench: %s failed: %s\n", what, t ? tesoro_errmsg(t) : "");
  exit(1);
}
#define OK(t, call)                                                           \
  do {                                                                        \
    if ((call) < 0) die(#call, (t));                                          \
  } while (0)

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void path_of(char *out, size_t n, const char *name) {
  snprintf(out, n, "%s/%s", dir, name);
}

static void copy_file(const char *from, const char *to) {
  char cmd[1100];
  snprintf(cmd, sizeof cmd, "cp '%s' '%s' && rm -f '%s-wal' '%s-shm'", from, to,
           to, to);
  if (system(cmd) != 0) die("copy", NULL);
}

/* ---------------------------------------------------------------------
** The world every figure starts from: one agency, its staff, a client
** contact with a deal and an offered, published listing.
*/
typedef struct world {
  int64_t agency, admin, agent, website, contact, client, deal, dp, listing;
} world;

static const unsigned char pdf[] = "%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";

static world W; /* the ids the setup made: the same in every copy */

static void setup(tesoro *t, world *w) {
  int64_t room, owner_client, mandate, proposal, task = 0, doc;
  tesoro_cursor *c;
  OK(t, tesoro_clock_set(t, T0));
  OK(t, tesoro_agency_create(t, "Bench Homes", "Europe/Amsterdam", "EUR", "Ada Admin",
                             "ada@bench.test", &w->agency, &w->admin));
  OK(t, tesoro_agent_create(t, w->admin, "Andy Agent", "andy@bench.test",
                            TESORO_ROLE_AGENT, &w->agent));
  OK(t, tesoro_agency_website_actor(t, w->admin, w->agency, &w->website));
  OK(t, tesoro_agency_set_portal(t, w->admin, 1));
  OK(t, tesoro_contact_request_submit(t, w->website, "Olga Owner", "olga@bench.test",
                                      TESORO_PROPERTY_HOUSE, "Oudegracht 1, Utrecht",
                                      50000000, NULL, NULL, &room, &owner_client));
  OK(t, tesoro_room_start_onboarding(t, w->agent, room, 0, 0, &mandate));
  OK(t, tesoro_mandate_propose(t, w->agent, mandate, TESORO_COMMISSION_PERCENTAGE, 150,
                               NULL, 1, 180, 0, &proposal));
  OK(t, tesoro_mandate_accept(t, owner_client, mandate, proposal, 0, NULL));
  OK(t, tesoro_mandate_share_form(t, w->agent, mandate, 0));
  OK(t, tesoro_document_add(t, owner_client, TESORO_ENTITY_MANDATE, mandate,
                            TESORO_DOC_SIGNED_MANDATE, "mandate.pdf", "application/pdf",
                            pdf, (int64_t)sizeof pdf - 1, &doc));
  OK(t, tesoro_mandate_submit_form(
            t, owner_client, mandate,
            "{\"full_name\":\"Olga Owner\",\"email\":\"olga@bench.test\","
            "\"phone\":\"+31 6 1\",\"address\":\"Oudegracht 1, Utrecht\","
            "\"property_type\":\"house\",\"title\":\"Canal house\","
            "\"price\":50000000,\"bedrooms\":3,\"longitude\":5.12,\"latitude\":52.09}",
            0));
  OK(t, tesoro_tasks(t, w->agent, TESORO_ENTITY_MANDATE, mandate, &c));
  while (tesoro_cursor_next(c) == TESORO_ROW)
    if (strstr(tesoro_cursor_text(c, tesoro_cursor_index(c, "title")), "review"))
      task = tesoro_cursor_int(c, tesoro_cursor_index(c, "id"));
  tesoro_cursor_free(c);
  OK(t, tesoro_task_complete(t, w->agent, task, 0));
  OK(t, tesoro_mandate_validate(t, w->agent, mandate, 0, &w->listing));
  OK(t, tesoro_listing_publish(t, w->agent, w->listing, 0));
  OK(t, tesoro_contact_create(t, w->agent, "Bram Buyer", "bram@bench.test", NULL, "nl",
                              &w->contact));
  OK(t, tesoro_contact_client_actor(t, w->agent, w->contact, &w->client));
  OK(t, tesoro_deal_create(t, w->agent, w->contact, "Utrecht", &w->deal));
  OK(t, tesoro_deal_offer(t, w->agent, w->deal, w->listing, &w->dp));
}

/* ---------------------------------------------------------------------
** Operations.  Each figure is a list of operations, run identically on
** the recorded copy and on the timed one.
*/
typedef struct ops {
  int count;                                  /* operations */
  int transitions;                            /* what a figure divides by */
  void (*run)(tesoro *t, const world *w, int i); /* operation i */
} ops;

/* The viewing cycle: request, confirm, complete (by tick), one per call. */
static void cycle_op(tesoro *t, const world *w, int i) {
  const int64_t base = T0 + 86400 + (int64_t)(i / 3) * 7200;
  static int64_t appointment;
  int fired;
  switch (i % 3) {
  case 0: {
    int64_t preferred = base + 3600;
    OK(t, tesoro_clock_set(t, base));
    OK(t, tesoro_appointment_request(t, w->client, w->dp, &preferred, 1, &appointment));
    break;
  }
  case 1: OK(t, tesoro_appointment_confirm(t, w->agent, appointment, base + 3600, 0)); break;
  default:
    OK(t, tesoro_clock_set(t, base + 3600));
    OK(t, tesoro_tick(t, base + 3600, &fired));
    break;
  }
}

/* Website events in batches of 500 views and visits; one in ten is the
** replay of an event of the previous batch. */
#define INGEST_BATCH 500
static void ingest_op(tesoro *t, const world *w, int i) {
  sqlite3_str *s = sqlite3_str_new(NULL);
  char *json, *results = NULL;
  int failed;
  (void)w;
  sqlite3_str_appendchar(s, 1, '[');
  for (int k = 0; k < INGEST_BATCH; k++) {
    int n = i * INGEST_BATCH + k;
    if (k % 10 == 9 && i > 0) n -= INGEST_BATCH; /* a replay */
    if (n % 5 == 0)
      sqlite3_str_appendf(s, "%s{\"source_id\":\"e%d\",\"type\":\"visit\","
                          "\"customer\":\"c%d\",\"at\":%d,\"visits\":%d}",
                          k ? "," : "", n, n % 200, 1000 + n, n / 200 + 1);
    else
      sqlite3_str_appendf(s, "%s{\"source_id\":\"e%d\",\"type\":\"property_view\","
                          "\"customer\":\"c%d\",\"at\":%d,\"listing\":\"TES-00001\"}",
                          k ? "," : "", n, n % 200, 1000 + n);
  }
  sqlite3_str_appendchar(s, 1, ']');
  json = sqlite3_str_finish(s);
  OK(t, tesoro_exchange_ingest_batch(t, w->website, json, &failed, &results));
  if (failed) die("ingest (an event failed)", t);
  tesoro_free(results);
  sqlite3_free(json);
}

/* ---------------------------------------------------------------------
** Recording: each operation's changeset, decoded into row writes.
*/
typedef struct row_write {
  char *table;
  int op, ncol;              /* SQLITE_INSERT, _UPDATE, _DELETE */
  sqlite3_value **values;    /* insert: new; update: new (NULL = unchanged) */
  sqlite3_value **keys;      /* update, delete: old primary key (else NULL) */
} row_write;

typedef struct recording {
  row_write **writes; /* per operation */
  int *nwrites;
  int count;
} recording;

static sqlite3_value *dup_or_null(sqlite3_value *v) {
  return v ? sqlite3_value_dup(v) : NULL;
}

static void record(const char *setup_db, const ops *o, recording *r) {
  char path[256];
  tesoro *t;
  world w;
  path_of(path, sizeof path, "record.db");
  copy_file(setup_db, path);
  if (tesoro_open(path, &t) != TESORO_OK) die("open", t);
  w = W;
  r->count = o->count;
  r->writes = calloc((size_t)o->count, sizeof *r->writes);
  r->nwrites = calloc((size_t)o->count, sizeof *r->nwrites);
  for (int i = 0; i < o->count; i++) {
    sqlite3_session *session;
    sqlite3_changeset_iter *it;
    void *buf;
    int n = 0, cap = 16;
    if (sqlite3session_create(t->db, "main", &session) != SQLITE_OK ||
        sqlite3session_attach(session, NULL) != SQLITE_OK)
      die("session", NULL);
    o->run(t, &w, i);
    if (sqlite3session_changeset(session, &n, &buf) != SQLITE_OK) die("changeset", NULL);
    sqlite3session_delete(session);
    r->writes[i] = malloc(sizeof(row_write) * (size_t)cap);
    if (sqlite3changeset_start(&it, n, buf) != SQLITE_OK) die("changeset", NULL);
    while (sqlite3changeset_next(it) == SQLITE_ROW) {
      const char *table;
      unsigned char *pk;
      int ncol, op, indirect, npk;
      row_write *wr;
      sqlite3changeset_op(it, &table, &ncol, &op, &indirect);
      sqlite3changeset_pk(it, &pk, &npk);
      if (r->nwrites[i] == cap)
        r->writes[i] = realloc(r->writes[i], sizeof(row_write) * (size_t)(cap *= 2));
      wr = &r->writes[i][r->nwrites[i]++];
      memset(wr, 0, sizeof *wr);
      wr->table = strdup(table);
      wr->op = op;
      wr->ncol = ncol;
      if (op != SQLITE_DELETE) {
        wr->values = calloc((size_t)ncol, sizeof *wr->values);
        for (int c = 0; c < ncol; c++) {
          sqlite3_value *v = NULL;
          sqlite3changeset_new(it, c, &v);
          wr->values[c] = dup_or_null(v);
        }
      }
      if (op != SQLITE_INSERT) {
        wr->keys = calloc((size_t)ncol, sizeof *wr->keys);
        for (int c = 0; c < ncol; c++) {
          sqlite3_value *v = NULL;
          if (pk[c]) sqlite3changeset_old(it, c, &v);
          wr->keys[c] = pk[c] ? dup_or_null(v) : NULL;
        }
      }
    }
    sqlite3changeset_finalize(it);
    sqlite3_free(buf);
  }
  tesoro_close(t);
}

static void recording_free(recording *r) {
  for (int i = 0; i < r->count; i++) {
    for (int k = 0; k < r->nwrites[i]; k++) {
      row_write *wr = &r->writes[i][k];
      for (int c = 0; c < wr->ncol; c++) {
        if (wr->values) sqlite3_value_free(wr->values[c]);
        if (wr->keys) sqlite3_value_free(wr->keys[c]);
      }
      free(wr->values);
      free(wr->keys);
      free(wr->table);
    }
    free(r->writes[i]);
  }
  free(r->writes);
  free(r->nwrites);
}

/* ---------------------------------------------------------------------
** The floor: a raw connection that writes the recorded rows, with one
** cached statement per (table, operation, columns written).
*/
typedef struct floor_stmt {
  char key[160];
  sqlite3_stmt *stmt;
} floor_stmt;

typedef struct floor_db {
  sqlite3 *db;
  floor_stmt cache[256];
  int ncache;
  sqlite3_stmt *begin, *commit;
} floor_db;

/* Column i of `table` (from PRAGMA table_info; the schema is tesoro's). */
static void column_name(sqlite3 *db, const char *table, int i, char *out, size_t n) {
  sqlite3_stmt *s;
  char sql[128];
  out[0] = 0;
  snprintf(sql, sizeof sql, "SELECT name FROM pragma_table_info('%s') WHERE cid = %d",
           table, i);
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW)
    snprintf(out, n, "%s", (const char *)sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
}

static sqlite3_stmt *floor_stmt_for(floor_db *f, const row_write *wr) {
  char key[160], col[64];
  sqlite3_str *sql;
  char *text;
  int used = snprintf(key, sizeof key, "%s/%d/", wr->table, wr->op);
  for (int c = 0; c < wr->ncol && used < (int)sizeof key - 2; c++)
    key[used++] = (wr->values && wr->values[c]) ? 'v' : (wr->keys && wr->keys[c]) ? 'k' : '-';
  key[used] = 0;
  for (int i = 0; i < f->ncache; i++)
    if (strcmp(f->cache[i].key, key) == 0) return f->cache[i].stmt;
  sql = sqlite3_str_new(f->db);
  if (wr->op == SQLITE_INSERT) {
    sqlite3_str_appendf(sql, "INSERT INTO %s VALUES (", wr->table);
    for (int c = 0; c < wr->ncol; c++)
      sqlite3_str_appendf(sql, "%s?%d", c ? ", " : "", c + 1);
    sqlite3_str_appendall(sql, ")");
  } else {
    int first = 1;
    if (wr->op == SQLITE_UPDATE) {
      sqlite3_str_appendf(sql, "UPDATE %s SET ", wr->table);
      for (int c = 0; c < wr->ncol; c++)
        if (wr->values[c]) {
          column_name(f->db, wr->table, c, col, sizeof col);
          sqlite3_str_appendf(sql, "%s%s = ?%d", first ? "" : ", ", col, c + 1);
          first = 0;
        }
    } else {
      sqlite3_str_appendf(sql, "DELETE FROM %s", wr->table);
    }
    first = 1;
    for (int c = 0; c < wr->ncol; c++)
      if (wr->keys[c]) {
        column_name(f->db, wr->table, c, col, sizeof col);
        sqlite3_str_appendf(sql, " %s %s = ?%d", first ? "WHERE" : "AND", col,
                            wr->ncol + c + 1);
        first = 0;
      }
  }
  text = sqlite3_str_finish(sql);
  if (f->ncache == (int)(sizeof f->cache / sizeof f->cache[0])) die("floor cache", NULL);
  snprintf(f->cache[f->ncache].key, sizeof f->cache[0].key, "%s", key);
  if (sqlite3_prepare_v3(f->db, text, -1, SQLITE_PREPARE_PERSISTENT,
                         &f->cache[f->ncache].stmt, NULL) != SQLITE_OK) {
    fprintf(stderr, "bench: floor statement %s: %s\n", text, sqlite3_errmsg(f->db));
    exit(1);
  }
  sqlite3_free(text);
  return f->cache[f->ncache++].stmt;
}

static void floor_open(floor_db *f, const char *path, int full) {
  memset(f, 0, sizeof *f);
  if (sqlite3_open(path, &f->db) != SQLITE_OK) die("floor open", NULL);
  sqlite3_exec(f->db, full ? "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
                             "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON"
                           : "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                             "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON",
               NULL, NULL, NULL);
  sqlite3_prepare_v2(f->db, "BEGIN IMMEDIATE", -1, &f->begin, NULL);
  sqlite3_prepare_v2(f->db, "COMMIT", -1, &f->commit, NULL);
}

static void floor_close(floor_db *f) {
  for (int i = 0; i < f->ncache; i++) sqlite3_finalize(f->cache[i].stmt);
  sqlite3_finalize(f->begin);
  sqlite3_finalize(f->commit);
  sqlite3_close(f->db);
}

static void floor_op(floor_db *f, const recording *r, int i) {
  sqlite3_step(f->begin);
  sqlite3_reset(f->begin);
  for (int k = 0; k < r->nwrites[i]; k++) {
    const row_write *wr = &r->writes[i][k];
    sqlite3_stmt *s = floor_stmt_for(f, wr);
    for (int c = 0; c < wr->ncol; c++) {
      if (wr->values && wr->values[c]) sqlite3_bind_value(s, c + 1, wr->values[c]);
      if (wr->keys && wr->keys[c]) sqlite3_bind_value(s, wr->ncol + c + 1, wr->keys[c]);
    }
    if (sqlite3_step(s) != SQLITE_DONE) {
      fprintf(stderr, "bench: floor write to %s: %s\n", wr->table, sqlite3_errmsg(f->db));
      exit(1);
    }
    sqlite3_reset(s);
  }
  if (sqlite3_step(f->commit) != SQLITE_DONE) die("floor commit", NULL);
  sqlite3_reset(f->commit);
}

/* ---------------------------------------------------------------------
** One figure: record on a copy, then time tesoro and the floor, each on
** its own copy of the setup database; best of `rounds` alternating runs.
*/
typedef struct figure {
  double tesoro, floor; /* seconds for all operations */
} figure;

static figure measure(const char *setup_db, const ops *o, int full, int memory,
                      int rounds) {
  recording r;
  figure best = {1e30, 1e30};
  char tpath[256], fpath[256];
  record(setup_db, o, &r);
  path_of(tpath, sizeof tpath, "timed.db");
  path_of(fpath, sizeof fpath, "floor.db");
  for (int round = 0; round < rounds; round++) {
    tesoro *t;
    floor_db f;
    double start;
    /* tesoro */
    if (memory) {
      world w;
      if (tesoro_open(":memory:", &t) != TESORO_OK) die("open", t);
      setup(t, &w);
    } else {
      copy_file(setup_db, tpath);
      if (tesoro_open(tpath, &t) != TESORO_OK) die("open", t);
    }
    if (full) sqlite3_exec(t->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
    start = now_s();
    for (int i = 0; i < o->count; i++) o->run(t, &W, i);
    {
      double d = now_s() - start;
      if (d < best.tesoro) best.tesoro = d;
    }
    tesoro_close(t);
    /* the floor */
    copy_file(setup_db, fpath);
    if (memory) {
      sqlite3 *disk;
      floor_open(&f, ":memory:", 0);
      sqlite3_open(fpath, &disk);
      sqlite3_backup *b = sqlite3_backup_init(f.db, "main", disk, "main");
      sqlite3_backup_step(b, -1);
      sqlite3_backup_finish(b);
      sqlite3_close(disk);
    } else {
      floor_open(&f, fpath, full);
    }
    start = now_s();
    for (int i = 0; i < o->count; i++) floor_op(&f, &r, i);
    {
      double d = now_s() - start;
      if (d < best.floor) best.floor = d;
    }
    floor_close(&f);
  }
  recording_free(&r);
  return best;
}

static void report_time(const char *name, const ops *o, figure f) {
  double per_t = f.tesoro / o->transitions * 1e6, per_f = f.floor / o->transitions * 1e6;
  printf("bench %s tesoro=%.2f floor=%.2f unit=us/op ratio=%.3f ops=%d\n", name,
         per_t, per_f, per_f / per_t, o->transitions);
  fflush(stdout);
}

static void report_rate(const char *name, const ops *o, figure f) {
  double rate_t = o->transitions / f.tesoro, rate_f = o->transitions / f.floor;
  printf("bench %s tesoro=%.0f floor=%.0f unit=events/s ratio=%.3f events=%d\n",
         name, rate_t, rate_f, rate_t / rate_f, o->transitions);
  fflush(stdout);
}

int main(void) {
  char setup_db[256];
  tesoro *t;
  snprintf(dir, sizeof dir, "%s", DIR_TEMPLATE);
  if (mkdtemp(dir) == NULL) die("mkdtemp", NULL);
  path_of(setup_db, sizeof setup_db, "setup.db");
  if (tesoro_open(setup_db, &t) != TESORO_OK) die("open", t);
  setup(t, &W);
  tesoro_close(t); /* the last close checkpoints the WAL into the file */
  printf("# tesoro %s, SQLite %s, %ld cores\n", tesoro_version(), sqlite3_libversion(),
         sysconf(_SC_NPROCESSORS_ONLN));
  {
    ops o = {3 * 1500, 3 * 1500, cycle_op};
    report_time("transition", &o, measure(setup_db, &o, 0, 0, 3));
    report_time("transition_memory", &o, measure(setup_db, &o, 0, 1, 3));
  }
  {
    ops o = {3 * 100, 3 * 100, cycle_op};
    report_time("transition_full", &o, measure(setup_db, &o, 1, 0, 2));
  }
  {
    ops o = {20, 20 * INGEST_BATCH, ingest_op};
    report_rate("ingest", &o, measure(setup_db, &o, 0, 0, 3));
  }
  {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 1;
  }
  return 0;
}
