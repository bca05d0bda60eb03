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
** session, the statement profile and the cursor-free peak run); nothing
** else of the library's internals is used.
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
  int64_t referral;
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
  /* the mixed figure's referral and the client's portal account */
  OK(t, tesoro_referral_create(t, w->agent, w->contact, 0, &w->referral));
  OK(t, tesoro_referral_move(t, w->agent, w->referral, TESORO_STAGE_CONNECTED, NULL, 0));
  {
    char *temp;
    int64_t account;
    OK(t, tesoro_config(t, TESORO_CONFIG_PWHASH_OPSLIMIT, 1));
    OK(t, tesoro_config(t, TESORO_CONFIG_PWHASH_MEMLIMIT, 8192));
    OK(t, tesoro_portal_account_create(t, w->agent, w->contact, &account, &temp));
    OK(t, tesoro_portal_password_change(t, w->client, temp, "Bench Password 1"));
    tesoro_free(temp);
    OK(t, tesoro_portal_welcome_done(t, w->client));
    OK(t, tesoro_portal_tour_skip(t, w->client));
  }
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

/* A skewed mix, as an agency's day looks: viewings most, then referral
** work, the portal feed, new sellers (contact request → onboarding →
** proposal), and about one call in ten refused by a rule (a client trying
** a staff move, a move the state does not allow): those roll back. */
static uint64_t mix_random(uint64_t x) { /* splitmix64: the same mix every run */
  x += 0x9E3779B97F4A7C15u;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9u;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBu;
  return x ^ (x >> 31);
}

static int mixed_refused; /* refusals seen in the last run */

static void mixed_op(tesoro *t, const world *w, int i) {
  static int64_t appointment, room, mandate;
  static int appointment_step, seller_step, referral_failed;
  const int64_t base = T0 + 86400 + (int64_t)i * 600;
  int kind = (int)(mix_random((uint64_t)i) % 100);
  tesoro_cursor *c;
  if (i == 0) {
    appointment_step = seller_step = referral_failed = 0;
    mixed_refused = 0;
  }
  OK(t, tesoro_clock_set(t, base));
  if (kind < 35) { /* a viewing: request, confirm, cancel */
    int64_t preferred = base + 7 * 86400;
    switch (appointment_step++ % 3) {
    case 0:
      OK(t, tesoro_appointment_request(t, w->client, w->dp, &preferred, 1, &appointment));
      break;
    case 1:
      OK(t, tesoro_appointment_confirm(t, w->agent, appointment, preferred, 0));
      break;
    default:
      OK(t, tesoro_appointment_cancel(t, w->client, appointment, "Found another house", 0));
    }
  } else if (kind < 50) { /* the referral: fails and comes back */
    OK(t, tesoro_referral_move(t, w->agent, w->referral,
                               referral_failed ? TESORO_STAGE_CONNECTED : TESORO_STAGE_FAILED,
                               referral_failed ? NULL : "{\"reason\":\"No answer\"}", 0));
    referral_failed = !referral_failed;
  } else if (kind < 60) {
    int64_t note;
    OK(t, tesoro_referral_note_add(t, w->agent, w->referral, "Called back; comparing agents.",
                                   &note));
  } else if (kind < 75) { /* the portal feed */
    OK(t, tesoro_portal_properties(t, w->client, TESORO_FEED_ALL, &c));
    while (tesoro_cursor_next(c) == TESORO_ROW) {
    }
    tesoro_cursor_free(c);
  } else if (kind < 90) { /* a new seller */
    char email[64];
    int64_t proposal, client;
    switch (seller_step++ % 3) {
    case 0:
      snprintf(email, sizeof email, "seller%d@bench.test", i);
      OK(t, tesoro_contact_request_submit(t, w->website, "Sam Seller", email,
                                          TESORO_PROPERTY_APARTMENT, "Utrecht", 30000000,
                                          NULL, NULL, &room, &client));
      break;
    case 1: OK(t, tesoro_room_start_onboarding(t, w->agent, room, 0, 0, &mandate)); break;
    default:
      OK(t, tesoro_mandate_propose(t, w->agent, mandate, TESORO_COMMISSION_PERCENTAGE, 150,
                                   NULL, 1, 180, 0, &proposal));
    }
  } else { /* refused: the rule says no, the call rolls back */
    int rc = kind % 2 ? tesoro_referral_move(t, w->client, w->referral,
                                             TESORO_STAGE_CLOSED, NULL, 0)
                      : tesoro_listing_unpublish(t, w->client, w->listing, 0);
    if (rc >= 0) die("a refused call", t);
    mixed_refused++;
  }
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

/* A changeset groups rows by table, not in the order tesoro wrote them;
** the floor writes them parents first (tables ranked by a depth-first walk
** of the foreign keys, an edge back into the walk ignored: contact before
** its client actor), inserts before updates before deletes, deletes
** children first.  So no foreign key is ever broken for a moment. */
typedef struct table_rank {
  char name[64];
  int rank; /* -1: being walked */
} table_rank;
static table_rank ranks[64];
static int nranks;

static int rank_of(sqlite3 *db, const char *table) {
  sqlite3_stmt *s;
  int rank = 0, i;
  for (i = 0; i < nranks; i++)
    if (strcmp(ranks[i].name, table) == 0) return ranks[i].rank;
  if (nranks == (int)(sizeof ranks / sizeof ranks[0])) die("too many tables", NULL);
  snprintf(ranks[nranks].name, sizeof ranks[0].name, "%s", table);
  ranks[i = nranks++].rank = -1;
  sqlite3_prepare_v2(db, "SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?1)", -1,
                     &s, NULL);
  sqlite3_bind_text(s, 1, table, -1, SQLITE_TRANSIENT);
  while (sqlite3_step(s) == SQLITE_ROW) {
    char parent[64];
    int r;
    snprintf(parent, sizeof parent, "%s", (const char *)sqlite3_column_text(s, 0));
    if (strcmp(parent, table) != 0 && (r = rank_of(db, parent)) >= rank) rank = r + 1;
  }
  sqlite3_finalize(s);
  ranks[i].rank = rank;
  return rank;
}

static sqlite3 *rank_db;
static int write_order(const void *a, const void *b) {
  const row_write *x = a, *y = b;
  int cx = x->op == SQLITE_INSERT ? 0 : x->op == SQLITE_UPDATE ? 1 : 2;
  int cy = y->op == SQLITE_INSERT ? 0 : y->op == SQLITE_UPDATE ? 1 : 2;
  int rx = rank_of(rank_db, x->table), ry = rank_of(rank_db, y->table);
  if (cx != cy) return cx - cy;
  return cx == 2 ? ry - rx : rx - ry;
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
    rank_db = t->db;
    qsort(r->writes[i], (size_t)r->nwrites[i], sizeof(row_write), write_order);
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
  /* tesoro's open flags and pragmas */
  if (sqlite3_open_v2(path, &f->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                      SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
                      NULL) != SQLITE_OK)
    die("floor open", NULL);
  sqlite3_exec(f->db, full ? "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
                             "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON; "
                             "PRAGMA temp_store = MEMORY"
                           : "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                             "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON; "
                             "PRAGMA temp_store = MEMORY",
               NULL, NULL, NULL);
  sqlite3_prepare_v2(f->db, "BEGIN IMMEDIATE", -1, &f->begin, NULL);
  sqlite3_prepare_v2(f->db, "COMMIT", -1, &f->commit, NULL);
}

/* The floor on :memory:, loaded with the setup database's rows. */
static void floor_open_memory(floor_db *f, const char *setup_copy) {
  sqlite3 *disk;
  sqlite3_backup *b;
  floor_open(f, ":memory:", 0);
  sqlite3_open(setup_copy, &disk);
  b = sqlite3_backup_init(f->db, "main", disk, "main");
  sqlite3_backup_step(b, -1);
  sqlite3_backup_finish(b);
  sqlite3_close(disk);
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
    if (full) OK(t, tesoro_config(t, TESORO_CONFIG_SYNCHRONOUS, TESORO_SYNC_FULL));
    start = now_s();
    for (int i = 0; i < o->count; i++) o->run(t, &W, i);
    {
      double d = now_s() - start;
      if (d < best.tesoro) best.tesoro = d;
    }
    tesoro_close(t);
    /* the floor */
    copy_file(setup_db, fpath);
    if (memory)
      floor_open_memory(&f, fpath);
    else
      floor_open(&f, fpath, full);
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

/* ---------------------------------------------------------------------
** Large databases (figures scale, list_upcoming, pipeline_counts, memory).
** The stored history is made in bulk with SQL on a copy of the setup
** database — it is the backdrop, not what is measured: bulk contacts with
** their client actors, deals and offered listings, appointments spread over
** them (twenty each: a quarter pending, the rest confirmed, half of those
** upcoming) with
** their history rows, and referrals over twenty agents with theirs.  Then
** the same viewing cycle runs through tesoro on top.
*/
static void sql_or_die(sqlite3 *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "bench: bulk SQL failed: %s\n", err);
    exit(1);
  }
}

static void grow(const char *path, int appointments, int referrals) {
  sqlite3 *db;
  sqlite3_stmt *s;
  const int contacts = appointments / 20 > 100 ? appointments / 20 : 100;
  if (sqlite3_open(path, &db) != SQLITE_OK) die("bulk open", NULL);
  sql_or_die(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; "
                 "PRAGMA cache_size = -65536; BEGIN;"
                 "CREATE TEMP TABLE bulk(n INTEGER PRIMARY KEY, contacts, appointments, "
                 "referrals, agency, agent, listing, t0)");
  sqlite3_prepare_v2(db, "INSERT INTO bulk VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)", -1,
                     &s, NULL);
  sqlite3_bind_int(s, 1, contacts);
  sqlite3_bind_int(s, 2, appointments);
  sqlite3_bind_int(s, 3, referrals);
  sqlite3_bind_int64(s, 4, W.agency);
  sqlite3_bind_int64(s, 5, W.agent);
  sqlite3_bind_int64(s, 6, W.listing);
  sqlite3_bind_int64(s, 7, T0);
  if (sqlite3_step(s) != SQLITE_DONE) die("bulk", NULL);
  sqlite3_finalize(s);
  sql_or_die(db,
      /* 1 .. the largest count (Debian's SQLite has no generate_series) */
      "CREATE TEMP TABLE nums(value INTEGER PRIMARY KEY);"
      "WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n, bulk "
      "WHERE v < max(bulk.appointments, bulk.referrals, bulk.contacts)) "
      "INSERT INTO nums SELECT v FROM n;"
      /* contacts, their clients, a deal and an offered listing each */
      "INSERT INTO contact(agency_id, name, email, assigned_agent_id, created_at) "
      "SELECT agency, 'Bulk ' || nums.value, 'bulk' || nums.value || '@bench.test', agent, t0 "
      "FROM bulk JOIN nums ON nums.value <= bulk.contacts;"
      "INSERT INTO actor(agency_id, kind, contact_id, name, created_at) "
      "SELECT agency_id, 'client', id, name, created_at FROM contact "
      "WHERE name LIKE 'Bulk %';"
      "INSERT INTO deal(agency_id, contact_id, agent_id, state, name, created_at) "
      "SELECT agency_id, id, assigned_agent_id, 'active', 'Search', created_at "
      "FROM contact WHERE name LIKE 'Bulk %';"
      "INSERT INTO deal_property(agency_id, deal_id, listing_id, state, created_at) "
      "SELECT d.agency_id, d.id, bulk.listing, 'to_review', d.created_at FROM deal d, bulk "
      "WHERE d.name = 'Search' AND d.contact_id IN (SELECT id FROM contact "
      "WHERE name LIKE 'Bulk %');"
      "INSERT INTO history(agency_id, entity, entity_id, seq, event, to_state, actor_id, at) "
      "SELECT agency_id, 6, id, 1, 'create', 'active', agent_id, created_at FROM deal "
      "WHERE contact_id IN (SELECT id FROM contact WHERE name LIKE 'Bulk %');"
      "INSERT INTO history(agency_id, entity, entity_id, seq, event, to_state, actor_id, at) "
      "SELECT p.agency_id, 7, p.id, 1, 'offer', 'to_review', d.agent_id, p.created_at "
      "FROM deal_property p JOIN deal d ON d.id = p.deal_id "
      "WHERE d.contact_id IN (SELECT id FROM contact WHERE name LIKE 'Bulk %');"
      /* appointments, n-th to the (n mod contacts)-th bulk deal property */
      "CREATE TEMP TABLE offer AS SELECT row_number() OVER (ORDER BY p.id) - 1 AS k, "
      "p.id AS dp, d.id AS deal, d.contact_id AS contact FROM deal_property p "
      "JOIN deal d ON d.id = p.deal_id WHERE d.contact_id IN "
      "(SELECT id FROM contact WHERE name LIKE 'Bulk %');"
      "INSERT INTO appointment(agency_id, contact_id, deal_id, deal_property_id, "
      "listing_id, owner_id, version, state, preferred, start_at, created_at) "
      "SELECT bulk.agency, o.contact, o.deal, o.dp, bulk.listing, bulk.agent, "
      "iif(g.value % 4 = 0, 1, 2), iif(g.value % 4 = 0, 'pending', 'confirmed'), "
      "json_array(bulk.t0 + g.value * 60), "
      "iif(g.value % 4 = 0, NULL, bulk.t0 + iif(g.value % 2 = 0, -1, 1) * g.value * 60), "
      "bulk.t0 FROM bulk JOIN nums g ON g.value <= bulk.appointments "
      "JOIN offer o ON o.k = g.value % bulk.contacts;"
      "INSERT INTO history(agency_id, entity, entity_id, seq, event, to_state, actor_id, at) "
      "SELECT a.agency_id, 8, a.id, 1, 'request', 'pending', c.id, a.created_at "
      "FROM appointment a JOIN actor c ON c.contact_id = a.contact_id "
      "WHERE a.contact_id IN (SELECT contact FROM offer);"
      "INSERT INTO history(agency_id, entity, entity_id, seq, event, from_state, to_state, "
      "actor_id, at) SELECT agency_id, 8, id, 2, 'confirm', 'pending', 'confirmed', owner_id, "
      "created_at FROM appointment WHERE state = 'confirmed' AND contact_id IN "
      "(SELECT contact FROM offer);"
      /* referrals over twenty agents, stages spread */
      "INSERT INTO actor(agency_id, kind, role, name, email, created_at) "
      "SELECT agency, 'agent', 'agent', 'Referral Agent ' || nums.value, "
      "'ra' || nums.value || '@bench.test', t0 FROM bulk JOIN nums ON nums.value <= 20;"
      "CREATE TEMP TABLE ra AS SELECT row_number() OVER (ORDER BY id) - 1 AS k, id "
      "FROM actor WHERE name LIKE 'Referral Agent %';"
      "INSERT INTO referral(agency_id, contact_id, agent_id, state, last_active_stage, "
      "fee_bp, created_at) SELECT bulk.agency, o.contact, ra.id, "
      "json_extract('[\"left_voicemail\",\"connected\",\"meeting_scheduled\","
      "\"met_with_person\",\"coming_soon\",\"making_an_offer\",\"listing\","
      "\"in_escrow\",\"failed\"]', '$[' || (g.value % 9) || ']'), "
      "json_extract('[\"left_voicemail\",\"connected\",\"meeting_scheduled\","
      "\"met_with_person\",\"coming_soon\",\"making_an_offer\",\"listing\","
      "\"in_escrow\",\"connected\"]', '$[' || (g.value % 9) || ']'), 0, bulk.t0 "
      "FROM bulk JOIN nums g ON g.value <= bulk.referrals "
      "JOIN ra ON ra.k = g.value % 20 JOIN offer o ON o.k = g.value % bulk.contacts;"
      "INSERT INTO history(agency_id, entity, entity_id, seq, event, to_state, actor_id, at) "
      "SELECT agency_id, 9, id, 1, 'create', state, agent_id, created_at FROM referral "
      "WHERE agent_id IN (SELECT id FROM ra);"
      "COMMIT; PRAGMA wal_checkpoint(TRUNCATE);");
  sqlite3_close(db);
}

/* The client of the k-th bulk contact, and the k-th referral agent. */
static int64_t bulk_id(const char *path, const char *sql, int k) {
  sqlite3 *db;
  sqlite3_stmt *s;
  int64_t id = 0;
  sqlite3_open(path, &db);
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) die("bulk id", NULL);
  sqlite3_bind_int(s, 1, k);
  if (sqlite3_step(s) == SQLITE_ROW) id = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  if (id == 0) die("bulk id (none)", NULL);
  return id;
}
#define BULK_CLIENT                                                           \
  "SELECT a.id FROM actor a JOIN contact c ON c.id = a.contact_id "           \
  "WHERE c.name LIKE 'Bulk %' ORDER BY a.id LIMIT 1 OFFSET ?1"
#define BULK_AGENT                                                            \
  "SELECT id FROM actor WHERE name LIKE 'Referral Agent %' ORDER BY id "      \
  "LIMIT 1 OFFSET ?1"

/* Seconds for `count` operations of the viewing cycle on the database. */
static double cycle_time(const char *path, int count) {
  tesoro *t;
  double start, d;
  if (tesoro_open(path, &t) != TESORO_OK) die("open", t);
  start = now_s();
  for (int i = 0; i < count; i++) cycle_op(t, &W, i);
  d = now_s() - start;
  tesoro_close(t);
  return d;
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Median and p99 (µs) of `n` reads: the Upcoming list of bulk clients, or
** the pipeline counts of the referral agents, each read to its end. */
static void read_latency(const char *path, int pipeline, int n, double *median,
                         double *p99) {
  tesoro *t;
  double *lat = malloc(sizeof *lat * (size_t)n);
  int64_t actors[20];
  for (int k = 0; k < 20; k++)
    actors[k] = bulk_id(path, pipeline ? BULK_AGENT : BULK_CLIENT, pipeline ? k : k * 37);
  if (tesoro_open(path, &t) != TESORO_OK) die("open", t);
  OK(t, tesoro_clock_set(t, T0));
  for (int i = 0; i < n; i++) {
    tesoro_cursor *c;
    double start = now_s();
    if (pipeline)
      OK(t, tesoro_referral_pipeline(t, W.admin, actors[i % 20], &c));
    else
      OK(t, tesoro_appointments_client(t, actors[i % 20], TESORO_LIST_UPCOMING, &c));
    while (tesoro_cursor_next(c) == TESORO_ROW) {
    }
    tesoro_cursor_free(c);
    lat[i] = (now_s() - start) * 1e6;
  }
  tesoro_close(t);
  qsort(lat, (size_t)n, sizeof *lat, compare_double);
  *median = lat[n / 2];
  *p99 = lat[n * 99 / 100];
  free(lat);
}

/* `bench --peak FILE`: the viewing cycle and the two reads on the large
** database, then this process's peak resident set (VmHWM, kB).  Run as a
** new program (popen), so that the figure is the library's and SQLite's
** alone: a forked child would count the pages it shares with the bench. */
static void make_setup_db(char *setup_db, size_t n);
static void remove_dir(void);
static int peak_run(const char *path) {
  char line[256], setup_db[256];
  double m, p;
  FILE *status;
  make_setup_db(setup_db, sizeof setup_db); /* the world's ids, in W */
  remove_dir();
  cycle_time(path, 300);
  read_latency(path, 0, 200, &m, &p);
  read_latency(path, 1, 200, &m, &p);
  if ((status = fopen("/proc/self/status", "r")) == NULL) return 1;
  while (fgets(line, sizeof line, status))
    if (strncmp(line, "VmHWM:", 6) == 0) printf("%lld\n", strtoll(line + 6, NULL, 10));
  fclose(status);
  return 0;
}

/* Peak resident memory (MiB) of `self --peak path`. */
static double peak_memory(const char *self, const char *path) {
  char cmd[1024];
  long long kb = -1;
  FILE *p;
  snprintf(cmd, sizeof cmd, "'%s' --peak '%s'", self, path);
  if ((p = popen(cmd, "r")) == NULL || fscanf(p, "%lld", &kb) != 1) die("peak run", NULL);
  if (pclose(p) != 0) die("peak run", NULL);
  return (double)kb / 1024.0;
}

/* The viewing cycle under synchronous=FULL, 100 transitions: one commit
** each, and all in one host transaction (tesoro_begin … tesoro_commit). */
static void durable_batch(const char *setup_db) {
  const int n = 100, warm = 3 * 10;
  double each = 1e30, batched = 1e30;
  char path[256];
  path_of(path, sizeof path, "durable.db");
  for (int round = 0; round < 5; round++) {
    for (int grouped = 0; grouped < 2; grouped++) {
      tesoro *t;
      double start, d;
      copy_file(setup_db, path);
      if (tesoro_open(path, &t) != TESORO_OK) die("open", t);
      OK(t, tesoro_config(t, TESORO_CONFIG_SYNCHRONOUS, TESORO_SYNC_FULL));
      /* A host's handle lives long: the statements a cycle uses are
      ** prepared, and the schema read, before the clock starts. */
      for (int i = 0; i < warm; i++) cycle_op(t, &W, i);
      start = now_s();
      if (grouped) OK(t, tesoro_begin(t));
      for (int i = warm; i < warm + n; i++) cycle_op(t, &W, i);
      if (grouped) OK(t, tesoro_commit(t));
      d = now_s() - start;
      tesoro_close(t);
      if (grouped && d < batched) batched = d;
      if (!grouped && d < each) each = d;
    }
  }
  printf("bench durable_batch tesoro=%.2f floor=%.2f unit=us/op ratio=%.1f n=%d "
         "floor_is=one_commit_each target=10\n",
         batched / n * 1e6, each / n * 1e6, each / batched, n);
  fflush(stdout);
}

static void large_figures(const char *self, const char *setup_db) {
  char small[256], large[256];
  double t_small = 1e30, t_large = 1e30, median, p99, start;
  const int cycle = 3 * 300;
  path_of(small, sizeof small, "small.db");
  path_of(large, sizeof large, "large.db");
  copy_file(setup_db, small);
  grow(small, 10000, 1000);
  copy_file(setup_db, large);
  start = now_s();
  grow(large, 1000000, 100000);
  printf("# large database: 1000000 appointments, 100000 referrals, made in %.1f s\n",
         now_s() - start);
  /* Each round adds its 900 operations to the file it runs on: nothing
  ** next to a million, and the large file is not copied (400 MB). */
  for (int round = 0; round < 2; round++) {
    double d;
    if ((d = cycle_time(small, cycle)) < t_small) t_small = d;
    if ((d = cycle_time(large, cycle)) < t_large) t_large = d;
  }
  printf("bench scale tesoro=%.2f floor=none unit=us/op ratio=none growth=%.3f "
         "small=%.2f appointments=1000000/10000 target_growth=1.3\n",
         t_large / cycle * 1e6, t_large / t_small, t_small / cycle * 1e6);
  read_latency(large, 0, 2000, &median, &p99);
  printf("bench list_upcoming tesoro=%.1f floor=none unit=us ratio=none median=%.1f "
         "p99=%.1f target_p99=200\n", p99, median, p99);
  read_latency(large, 1, 2000, &median, &p99);
  printf("bench pipeline_counts tesoro=%.1f floor=none unit=us ratio=none median=%.1f "
         "p99=%.1f target_p99=2000\n", p99, median, p99);
  printf("bench peak_memory tesoro=%.1f floor=none unit=MiB ratio=none target=64\n",
         peak_memory(self, large));
  fflush(stdout);
}

/* ---------------------------------------------------------------------
** Instructions per transition, counted by callgrind: the figure that is
** the same on every run (SQLite's PRNG is seeded, so even the outbox uids
** and the b-tree splits they cause repeat).  `bench --instructions tesoro N`
** and `... floor N` run N viewing-cycle operations on :memory: with
** callgrind's collection switched on around the loop only; main runs them
** under valgrind for N and 2N and divides the difference by N, so one-time
** costs (statements prepared on first use) fall out.
*/
#if defined(__has_include)
#  if __has_include(<valgrind/callgrind.h>)
#    include <valgrind/callgrind.h>
#  endif
#endif
#ifndef CALLGRIND_TOGGLE_COLLECT
#  define CALLGRIND_TOGGLE_COLLECT
#endif

static void make_setup_db(char *setup_db, size_t n) {
  tesoro *t;
  snprintf(dir, sizeof dir, "%s", DIR_TEMPLATE);
  if (mkdtemp(dir) == NULL) die("mkdtemp", NULL);
  path_of(setup_db, n, "setup.db");
  if (tesoro_open(setup_db, &t) != TESORO_OK) die("open", t);
  setup(t, &W);
  tesoro_close(t); /* the last close checkpoints the WAL into the file */
}

static void remove_dir(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) exit(1);
}

static int instructions_run(const char *which, int n, const char *figure_name) {
  char setup_db[256];
  /* Repeatable runs: the outbox's random uids come from SQLite's PRNG.
  ** (Only here: one process, one stream, so no uid repeats.) */
  sqlite3_test_control(SQLITE_TESTCTRL_PRNG_SEED, 20261123, NULL);
  ops o = {n, n, strcmp(figure_name, "mixed") == 0    ? mixed_op
                 : strcmp(figure_name, "ingest") == 0 ? ingest_op
                                                      : cycle_op};
  make_setup_db(setup_db, sizeof setup_db);
  if (strcmp(which, "floor") == 0) {
    recording r;
    floor_db f;
    char fpath[256];
    record(setup_db, &o, &r);
    path_of(fpath, sizeof fpath, "floor.db");
    copy_file(setup_db, fpath);
    floor_open_memory(&f, fpath);
    CALLGRIND_TOGGLE_COLLECT;
    for (int i = 0; i < n; i++) floor_op(&f, &r, i);
    CALLGRIND_TOGGLE_COLLECT;
    floor_close(&f);
    recording_free(&r);
  } else {
    tesoro *t;
    world w;
    if (tesoro_open(":memory:", &t) != TESORO_OK) die("open", t);
    setup(t, &w);
    CALLGRIND_TOGGLE_COLLECT;
    for (int i = 0; i < n; i++) o.run(t, &w, i);
    CALLGRIND_TOGGLE_COLLECT;
    tesoro_close(t);
  }
  remove_dir();
  return 0;
}

/* Instructions callgrind collected for `self --instructions which n`;
** -1 when valgrind is not there. */
static long long callgrind_count(const char *self, const char *which, int n) {
  char cmd[1024], line[512];
  long long count = -1;
  FILE *p;
  snprintf(cmd, sizeof cmd,
           "valgrind --tool=callgrind --collect-atstart=no "
           "--callgrind-out-file=/dev/null '%s' --instructions %s %d 2>&1",
           self, which, n);
  if ((p = popen(cmd, "r")) == NULL) return -1;
  while (fgets(line, sizeof line, p)) {
    const char *at = strstr(line, "Collected : ");
    if (at) count = strtoll(at + 12, NULL, 10);
  }
  if (pclose(p) != 0) return -1;
  return count;
}

static void report_instructions(const char *self) {
  const int n = 3 * 100;
  long long t1 = callgrind_count(self, "tesoro", n), t2, f1, f2;
  if (t1 < 0) {
    printf("# instructions: skipped (valgrind not found)\n");
    return;
  }
  t2 = callgrind_count(self, "tesoro", 2 * n);
  f1 = callgrind_count(self, "floor", n);
  f2 = callgrind_count(self, "floor", 2 * n);
  printf("bench instructions tesoro=%lld floor=%lld unit=Ir/op ratio=%.3f "
         "ops=%d tool=callgrind\n",
         (t2 - t1) / n, (f2 - f1) / n, (double)(f2 - f1) / (double)(t2 - t1), n);
  fflush(stdout);
}

/* `bench --profile N [--statements [mixed|ingest]]`: only N viewing-cycle
** operations (or N mixed calls, N ingest batches) on :memory:, for
** profilers (perf, callgrind) to look at tesoro's CPU path alone; --statements lists the handle's statements by virtual-machine
** steps (SQLITE_STMTSTATUS_VM_STEP), the busiest first. */
static int profile(int n, int statements, const char *figure_name) {
  void (*run)(tesoro *, const world *, int) =
      strcmp(figure_name, "mixed") == 0    ? mixed_op
      : strcmp(figure_name, "ingest") == 0 ? ingest_op
                                           : cycle_op;
  tesoro *t;
  world w;
  if (tesoro_open(":memory:", &t) != TESORO_OK) die("open", t);
  setup(t, &w);
  for (sqlite3_stmt *s = sqlite3_next_stmt(t->db, NULL); s; s = sqlite3_next_stmt(t->db, s))
    sqlite3_stmt_status(s, SQLITE_STMTSTATUS_VM_STEP, 1);
  for (int i = 0; i < n; i++) run(t, &w, i);
  for (sqlite3_stmt *s = sqlite3_next_stmt(t->db, NULL); statements && s;
       s = sqlite3_next_stmt(t->db, s)) {
    int steps = sqlite3_stmt_status(s, SQLITE_STMTSTATUS_VM_STEP, 0);
    int again = sqlite3_stmt_status(s, SQLITE_STMTSTATUS_REPREPARE, 0);
    if (steps > 0)
      printf("%10.1f steps/op %6d reprepared  %.100s\n", (double)steps / n, again,
             sqlite3_sql(s));
  }
  tesoro_close(t);
  return 0;
}

/* `bench [FIGURE...]`: the named figures only (all when none is named):
** transition (with _memory, _full), mixed, ingest, durable_batch, large
** (scale, list_upcoming, pipeline_counts, peak_memory), instructions. */
static char **wanted;
static int nwanted;
static int want(const char *name) {
  for (int i = 0; i < nwanted; i++)
    if (strcmp(wanted[i], name) == 0) return 1;
  return nwanted == 0;
}

int main(int argc, char **argv) {
  char setup_db[256];
  if (argc >= 4 && strcmp(argv[1], "--instructions") == 0)
    return instructions_run(argv[2], atoi(argv[3]), argc > 4 ? argv[4] : "transition");
  if (argc == 3 && strcmp(argv[1], "--peak") == 0) return peak_run(argv[2]);
  if (argc >= 3 && strcmp(argv[1], "--profile") == 0)
    return profile(atoi(argv[2]), argc > 3 && strcmp(argv[3], "--statements") == 0,
                   argc > 4 ? argv[4] : "transition");
  wanted = argv + 1;
  nwanted = argc - 1;
  make_setup_db(setup_db, sizeof setup_db);
  printf("# tesoro %s, SQLite %s, %ld cores\n", tesoro_version(), sqlite3_libversion(),
         sysconf(_SC_NPROCESSORS_ONLN));
  if (want("transition")) {
    ops o = {3 * 1500, 3 * 1500, cycle_op}, full = {3 * 300, 3 * 300, cycle_op};
    report_time("transition", &o, measure(setup_db, &o, 0, 0, 3));
    report_time("transition_memory", &o, measure(setup_db, &o, 0, 1, 5));
    report_time("transition_full", &full, measure(setup_db, &full, 1, 0, 5));
  }
  if (want("mixed")) {
    ops o = {3000, 3000, mixed_op};
    figure f = measure(setup_db, &o, 0, 0, 3);
    double per_t = f.tesoro / o.transitions * 1e6, per_f = f.floor / o.transitions * 1e6;
    printf("bench mixed tesoro=%.2f floor=%.2f unit=us/call ratio=%.3f calls=%d "
           "refused=%d\n", per_t, per_f, per_f / per_t, o.transitions, mixed_refused);
    fflush(stdout);
  }
  if (want("ingest")) {
    ops o = {20, 20 * INGEST_BATCH, ingest_op};
    report_rate("ingest", &o, measure(setup_db, &o, 0, 0, 3));
  }
  if (want("durable_batch")) durable_batch(setup_db);
  if (want("large")) large_figures(argv[0], setup_db);
  remove_dir();
  if (want("instructions")) report_instructions(argv[0]);
  return 0;
}
