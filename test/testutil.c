/*
** testutil.c — fixture, digests and assertions shared by tesoro's suites.
**
** Everything here reads the database through its own sqlite3 connection, so
** a check never goes through the code under test.  SQL text is built from
** table names found in sqlite_master only (test code, never caller data).
*/
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

/* ------------------------------------------------------------------------
** Sample documents.
*/
const unsigned char tu_pdf[] =
    "%PDF-1.4\n"
    "1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    "2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
    "trailer << /Root 1 0 R >>\n"
    "%%EOF\n";
const size_t tu_pdf_size = sizeof tu_pdf - 1;

const unsigned char tu_jpeg[] = {
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J',  'F',  'I',  'F',  0x00, 0x01,
    0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xFF, 0xDB, 0x00, 0x43,
    0x00, 0x08, 0x06, 0x06, 0x07, 0x06, 0x05, 0x08, 0x07, 0x07, 0x07, 0x09,
    0xFF, 0xD9};
const size_t tu_jpeg_size = sizeof tu_jpeg;

const unsigned char tu_png[] = {
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, /* signature */
    0x00, 0x00, 0x00, 0x0D, 'I',  'H',  'D',  'R',  /* IHDR, 13 bytes */
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
    0x00, 0x1F, 0x15, 0xC4, 0x89, /* crc */
    0x00, 0x00, 0x00, 0x00, 'I',  'E',  'N',  'D',  0xAE, 0x42, 0x60, 0x82};
const size_t tu_png_size = sizeof tu_png;

const unsigned char tu_webp[] = {
    'R',  'I',  'F',  'F',  22,   0,    0,    0, /* RIFF, size = total - 8 */
    'W',  'E',  'B',  'P',  'V',  'P',  '8',  'L', /* WEBP, VP8L chunk */
    10,   0,    0,    0,                           /* chunk size */
    0x2F, 0x00, 0x00, 0x00, 0x00, 0x07, 0x10, 0x11, 0x00, 0x00};
const size_t tu_webp_size = sizeof tu_webp;

/* ------------------------------------------------------------------------
** Small helpers.
*/
char *tu_long_string(size_t n) {
  char *s = malloc(n + 1);
  assert_non_null(s);
  memset(s, 'x', n);
  s[n] = '\0';
  return s;
}

unsigned char *tu_read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  unsigned char *buf = NULL;
  size_t cap = 0, len = 0;
  if (!f) return NULL;
  for (;;) {
    size_t n;
    if (len + 4096 + 1 > cap) {
      unsigned char *nb;
      cap = cap ? cap * 2 : 8192;
      nb = realloc(buf, cap);
      if (!nb) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = nb;
    }
    n = fread(buf + len, 1, cap - len - 1, f);
    len += n;
    if (n == 0) break;
  }
  fclose(f);
  if (!buf) buf = malloc(1);
  if (!buf) return NULL;
  buf[len] = '\0';
  if (size) *size = len;
  return buf;
}

int tu_contains_ci(const char *hay, const char *needle) {
  size_t n, i, j;
  if (!hay || !needle) return 0;
  n = strlen(needle);
  if (n == 0) return 1;
  for (i = 0; hay[i]; i++) {
    for (j = 0; j < n && hay[i + j]; j++) {
      char a = hay[i + j], b = needle[j];
      if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
      if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
      if (a != b) break;
    }
    if (j == n) return 1;
  }
  return 0;
}

void tu_has_all_ci_(const char *hay, const char *const *needles,
                    const char *file, int line) {
  for (; *needles; needles++)
    if (!tu_contains_ci(hay, *needles)) {
      print_error("%s:%d: \"%s\" is not in:\n%s\n", file, line, *needles,
                  hay ? hay : "(NULL)");
      fail();
    }
}

void tu_check_ok_(tu_world *w, int rc, const char *call, const char *file,
                  int line) {
  if (rc == TESORO_OK) return;
  print_error("%s:%d: %s returned %d (%s), expected OK: %s\n", file, line,
              call, rc, tesoro_errname(rc),
              w && w->t ? tesoro_errmsg(w->t) : "(no handle)");
  _fail(file, line);
}

void tu_check_err_(tu_world *w, int rc, int code, const char *needle,
                   const char *call, const char *file, int line) {
  const char *msg = w && w->t ? tesoro_errmsg(w->t) : NULL;
  if (rc != code) {
    print_error("%s:%d: %s returned %d (%s), expected %d (%s); errmsg: %s\n",
                file, line, call, rc, tesoro_errname(rc), code,
                tesoro_errname(code), msg ? msg : "(null)");
    _fail(file, line);
  }
  if (needle && (!msg || !tu_contains_ci(msg, needle))) {
    print_error("%s:%d: %s: errmsg \"%s\" does not mention \"%s\"\n", file,
                line, call, msg ? msg : "(null)", needle);
    _fail(file, line);
  }
}

void tu_check_digest_(const char *before, const char *after, const char *call,
                      const char *file, int line) {
  if (strcmp(before, after) == 0) return;
  print_error("%s:%d: %s was refused but changed the database (%s -> %s)\n",
              file, line, call, before, after);
  _fail(file, line);
}

int tu_count(tesoro_cursor *c) {
  int n = 0, rc;
  assert_non_null(c);
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) n++;
  tesoro_cursor_free(c);
  return rc == TESORO_DONE ? n : -1;
}

int tu_col_index(tesoro_cursor *c, const char *name) {
  int i = tesoro_cursor_index(c, name);
  if (i < 0) {
    print_error("cursor has no column \"%s\"\n", name);
    fail();
  }
  return i;
}

void tu_has_columns_(tesoro_cursor *c, const char *const *names) {
  for (; *names; names++) tu_col_index(c, *names);
}

int64_t tu_col_int(tesoro_cursor *c, const char *name) {
  return tesoro_cursor_int(c, tu_col_index(c, name));
}

const char *tu_col_text(tesoro_cursor *c, const char *name) {
  return tesoro_cursor_text(c, tu_col_index(c, name));
}

void tu_not_admins(const tu_world *w, tu_not_admin out[TU_NOT_ADMINS]) {
  const tu_not_admin all[TU_NOT_ADMINS] = {{w->agent, "admin"},
                                           {w->closings, "admin"},
                                           {w->client, NULL},
                                           {w->website, NULL}};
  memcpy(out, all, sizeof all);
}

int tu_allowed_of(tu_world *w, int64_t actor, int entity, int64_t id,
                  const char *event, int *code) {
  tesoro_cursor *c = NULL;
  int rc, found = -1;
  TU_OK(w, tesoro_allowed_events(w->t, actor, entity, id, &c));
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
    const char *e = tu_col_text(c, "event");
    if (e && strcmp(e, event) == 0) {
      found = (int)tu_col_int(c, "allowed");
      if (code) *code = (int)tu_col_int(c, "code");
      if (found) assert_true(tesoro_cursor_isnull(c, tu_col_index(c, "reason")));
      else assert_non_null(tu_col_text(c, "reason"));
    }
  }
  assert_int_equal(rc, TESORO_DONE);
  tesoro_cursor_free(c);
  return found;
}

/* ------------------------------------------------------------------------
** Raw SQL through a separate connection.
*/
static sqlite3 *tu_raw_open(const char *path, int flags) {
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
    print_error("cannot open %s: %s\n", path, db ? sqlite3_errmsg(db) : "?");
    sqlite3_close(db);
    fail();
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

int64_t tu_sql_int(tu_world *w, const char *sql) {
  return tu_sql_int_path(w->path, sql);
}

/* Open `path` read-only and step `sql` once: SQLITE_ROW (read column 0) or
** SQLITE_DONE; any error fails the test.  Close with tu_query_end. */
static int tu_query(const char *path, const char *sql, const char *who,
                    sqlite3 **db, sqlite3_stmt **st) {
  int rc;
  *db = tu_raw_open(path, SQLITE_OPEN_READONLY);
  *st = NULL;
  if (sqlite3_prepare_v2(*db, sql, -1, st, NULL) != SQLITE_OK) {
    print_error("%s(%s): %s\n", who, sql, sqlite3_errmsg(*db));
    sqlite3_close(*db);
    fail();
  }
  rc = sqlite3_step(*st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    print_error("%s(%s): %s\n", who, sql, sqlite3_errmsg(*db));
    sqlite3_finalize(*st);
    sqlite3_close(*db);
    fail();
  }
  return rc;
}

static void tu_query_end(sqlite3 *db, sqlite3_stmt *st) {
  sqlite3_finalize(st);
  sqlite3_close(db);
}

int64_t tu_sql_int_path(const char *path, const char *sql) {
  sqlite3 *db;
  sqlite3_stmt *st;
  int64_t v = 0;
  if (tu_query(path, sql, "tu_sql_int", &db, &st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  tu_query_end(db, st);
  return v;
}

char *tu_sql_text(tu_world *w, const char *sql) {
  return tu_sql_text_path(w->path, sql);
}

char *tu_sql_text_path(const char *path, const char *sql) {
  sqlite3 *db;
  sqlite3_stmt *st;
  char *v = NULL;
  if (tu_query(path, sql, "tu_sql_text", &db, &st) == SQLITE_ROW &&
      sqlite3_column_type(st, 0) != SQLITE_NULL) {
    const unsigned char *s = sqlite3_column_text(st, 0);
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    v = malloc(n + 1);
    assert_non_null(v);
    memcpy(v, s, n);
    v[n] = '\0';
  }
  tu_query_end(db, st);
  return v;
}

int tu_sql_exec(tu_world *w, const char *sql, char *errbuf, size_t errlen) {
  return tu_sql_exec_path(w->path, sql, errbuf, errlen);
}

int tu_sql_exec_path(const char *path, const char *sql, char *errbuf,
                     size_t errlen) {
  sqlite3 *db = tu_raw_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  char *err = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
  if (errbuf && errlen) {
    snprintf(errbuf, errlen, "%s", err ? err : "");
  }
  sqlite3_free(err);
  sqlite3_close(db);
  return rc;
}

/* ------------------------------------------------------------------------
** Digest.
*/
static void tu_hash_bytes(crypto_hash_sha256_state *h, const void *p,
                          size_t n) {
  unsigned char len[8];
  int i;
  for (i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
  crypto_hash_sha256_update(h, len, sizeof len);
  if (n) crypto_hash_sha256_update(h, p, n);
}

static void tu_hash_int(crypto_hash_sha256_state *h, int64_t v) {
  unsigned char b[8];
  int i;
  for (i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)v >> (56 - 8 * i));
  crypto_hash_sha256_update(h, b, sizeof b);
}

/* Hash every row of a query, each value tagged with its type. */
static void tu_hash_query(crypto_hash_sha256_state *h, sqlite3 *db,
                          const char *sql) {
  sqlite3_stmt *st = NULL;
  int rc, i, n;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    print_error("tu_digest: %s: %s\n", sql, sqlite3_errmsg(db));
    sqlite3_close(db);
    fail();
  }
  n = sqlite3_column_count(st);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    unsigned char tag = 'R';
    crypto_hash_sha256_update(h, &tag, 1);
    for (i = 0; i < n; i++) {
      int type = sqlite3_column_type(st, i);
      tag = (unsigned char)('0' + type);
      crypto_hash_sha256_update(h, &tag, 1);
      switch (type) {
      case SQLITE_INTEGER:
        tu_hash_int(h, sqlite3_column_int64(st, i));
        break;
      case SQLITE_FLOAT: {
        char buf[64];
        int len = snprintf(buf, sizeof buf, "%.17g",
                           sqlite3_column_double(st, i));
        tu_hash_bytes(h, buf, (size_t)len);
        break;
      }
      case SQLITE_TEXT:
        tu_hash_bytes(h, sqlite3_column_text(st, i),
                      (size_t)sqlite3_column_bytes(st, i));
        break;
      case SQLITE_BLOB:
        tu_hash_bytes(h, sqlite3_column_blob(st, i),
                      (size_t)sqlite3_column_bytes(st, i));
        break;
      default:
        break;
      }
    }
  }
  if (rc != SQLITE_DONE) {
    print_error("tu_digest: %s: %s\n", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    fail();
  }
  sqlite3_finalize(st);
}

void tu_digest_path(const char *path, char out[65]) {
  sqlite3 *db = tu_raw_open(path, SQLITE_OPEN_READONLY);
  sqlite3_stmt *tables = NULL;
  crypto_hash_sha256_state h;
  unsigned char md[crypto_hash_sha256_BYTES];
  int rc;

  crypto_hash_sha256_init(&h);
  /* One read transaction, so every table is read at the same snapshot. */
  sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
  tu_hash_query(&h, db, "PRAGMA application_id");
  tu_hash_query(&h, db, "PRAGMA user_version");
  tu_hash_query(&h, db,
                "SELECT type, name, tbl_name, sql FROM sqlite_master "
                "ORDER BY type, name");
  if (sqlite3_prepare_v2(db,
                         "SELECT name FROM sqlite_master WHERE type = 'table' "
                         "ORDER BY name",
                         -1, &tables, NULL) != SQLITE_OK) {
    print_error("tu_digest: %s\n", sqlite3_errmsg(db));
    sqlite3_close(db);
    fail();
  }
  while ((rc = sqlite3_step(tables)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(tables, 0);
    sqlite3_stmt *probe = NULL;
    char *quoted, *sql, *order;
    size_t olen;
    int ncol, i;

    tu_hash_bytes(&h, name, strlen(name));
    quoted = sqlite3_mprintf("SELECT * FROM \"%w\"", name);
    assert_non_null(quoted);
    if (sqlite3_prepare_v2(db, quoted, -1, &probe, NULL) != SQLITE_OK) {
      print_error("tu_digest: %s: %s\n", quoted, sqlite3_errmsg(db));
      fail();
    }
    ncol = sqlite3_column_count(probe);
    sqlite3_finalize(probe);
    olen = (size_t)ncol * 8 + 16;
    order = malloc(olen);
    assert_non_null(order);
    order[0] = '\0';
    for (i = 1; i <= ncol; i++) {
      size_t used = strlen(order);
      snprintf(order + used, olen - used, "%s%d", i > 1 ? "," : "", i);
    }
    sql = sqlite3_mprintf("%s ORDER BY %s", quoted, order);
    assert_non_null(sql);
    tu_hash_query(&h, db, sql);
    sqlite3_free(sql);
    sqlite3_free(quoted);
    free(order);
  }
  if (rc != SQLITE_DONE) {
    print_error("tu_digest: %s\n", sqlite3_errmsg(db));
    fail();
  }
  sqlite3_finalize(tables);
  sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  sqlite3_close(db);

  crypto_hash_sha256_final(&h, md);
  sodium_bin2hex(out, 65, md, sizeof md);
}

void tu_digest(tu_world *w, char out[65]) { tu_digest_path(w->path, out); }

/* ------------------------------------------------------------------------
** Fixture.
*/
#define TU_SETUP_OK(w, call)                                                  \
  do {                                                                        \
    int tu_rc_ = (call);                                                      \
    if (tu_rc_ != TESORO_OK) {                                                \
      print_error("tu_setup: %s returned %d (%s): %s\n", #call, tu_rc_,       \
                  tesoro_errname(tu_rc_),                                     \
                  (w)->t ? tesoro_errmsg((w)->t) : "(no handle)");            \
      goto bad;                                                              \
    }                                                                         \
  } while (0)

static void tu_remove_dir(const char *dir) {
  DIR *d;
  struct dirent *e;
  if (!dir[0]) return;
  d = opendir(dir);
  if (d) {
    while ((e = readdir(d)) != NULL) {
      char p[1024];
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        continue;
      snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
      unlink(p);
    }
    closedir(d);
  }
  rmdir(dir);
}

int tu_setup(void **state) {
  tu_world *w = calloc(1, sizeof *w);
  if (!w) return -1;
  if (sodium_init() < 0) {
    free(w);
    return -1;
  }
  snprintf(w->dir, sizeof w->dir, "/tmp/tesoro-test-XXXXXX");
  if (!mkdtemp(w->dir)) {
    free(w);
    return -1;
  }
  snprintf(w->path, sizeof w->path, "%s/tesoro.db", w->dir);

  TU_SETUP_OK(w, tesoro_open(w->path, &w->t));
  TU_SETUP_OK(w, tesoro_clock_set(w->t, TU_NOW));
  /* The cheapest argon2id libsodium allows: the suites hash many passwords. */
  TU_SETUP_OK(w, tesoro_config(w->t, TESORO_CONFIG_PWHASH_OPSLIMIT, 1));
  TU_SETUP_OK(w, tesoro_config(w->t, TESORO_CONFIG_PWHASH_MEMLIMIT, 8192));

  TU_SETUP_OK(w, tesoro_agency_create(w->t, "Tesoro Homes", "Europe/Amsterdam",
                                      "EUR", "Alice Admin", "alice@tesoro.test",
                                      &w->agency, &w->admin));
  TU_SETUP_OK(w, tesoro_agent_create(w->t, w->admin, "Andy Agent",
                                     "andy@tesoro.test", TESORO_ROLE_AGENT,
                                     &w->agent));
  TU_SETUP_OK(w, tesoro_agent_create(w->t, w->admin, "Anna Agent",
                                     "anna@tesoro.test", TESORO_ROLE_AGENT,
                                     &w->agent2));
  TU_SETUP_OK(w, tesoro_agent_create(w->t, w->admin, "Carl Closings",
                                     "carl@tesoro.test", TESORO_ROLE_CLOSINGS,
                                     &w->closings));
  TU_SETUP_OK(w, tesoro_agency_website_actor(w->t, w->admin, w->agency,
                                             &w->website));
  TU_SETUP_OK(w, tesoro_agency_set_portal(w->t, w->admin, 1));

  TU_SETUP_OK(w, tesoro_agency_create(w->t, "Other Estates", "UTC", "GBP",
                                      "Oscar Other", "oscar@other.test",
                                      &w->other_agency, &w->other_admin));
  TU_SETUP_OK(w, tesoro_agent_create(w->t, w->other_admin, "Olga Other",
                                     "olga@other.test", TESORO_ROLE_AGENT,
                                     &w->other_agent));
  TU_SETUP_OK(w, tesoro_agency_website_actor(w->t, w->other_admin,
                                             w->other_agency,
                                             &w->other_website));
  TU_SETUP_OK(w, tesoro_agency_set_portal(w->t, w->other_admin, 1));

  TU_SETUP_OK(w, tesoro_contact_create(w->t, w->agent, "Ada Owner",
                                       "ada@example.com", "+31 6 1234 5678",
                                       "nl", &w->contact));
  TU_SETUP_OK(w, tesoro_contact_client_actor(w->t, w->agent, w->contact,
                                             &w->client));
  TU_SETUP_OK(w, tesoro_contact_create(w->t, w->agent, "Bob Buyer",
                                       "bob@example.com", NULL, "en",
                                       &w->contact2));
  TU_SETUP_OK(w, tesoro_contact_assign(w->t, w->agent, w->contact2, w->agent2,
                                       0));
  TU_SETUP_OK(w, tesoro_contact_client_actor(w->t, w->agent2, w->contact2,
                                             &w->client2));
  TU_SETUP_OK(w, tesoro_contact_create(w->t, w->other_agent, "Otto Owner",
                                       "otto@example.com", NULL, "en",
                                       &w->other_contact));
  TU_SETUP_OK(w, tesoro_contact_client_actor(w->t, w->other_agent,
                                             w->other_contact,
                                             &w->other_client));
  *state = w;
  return 0;

bad:
  tesoro_close(w->t);
  tu_remove_dir(w->dir);
  free(w);
  return -1;
}

int tu_teardown(void **state) {
  tu_world *w = *state;
  if (!w) return 0;
  tesoro_close(w->t);
  w->t = NULL;
  tu_remove_dir(w->dir);
  free(w);
  *state = NULL;
  return 0;
}

/* ------------------------------------------------------------------------
** A private in-memory SQLite, for JSON the suites read or build.
*/

sqlite3_stmt *tu_mem_stmt(const char *sql, const char *a, const char *b) {
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    print_error("%s: %s\n", sql, sqlite3_errmsg(db));
    sqlite3_close(db);
    fail();
  }
  if (a) sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
  if (b) sqlite3_bind_text(st, 2, b, -1, SQLITE_TRANSIENT);
  return st;
}

void tu_mem_done(sqlite3_stmt *st) {
  sqlite3 *db = sqlite3_db_handle(st);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

char *tu_mem_text(sqlite3_stmt *st) {
  char *v;
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  v = tu_strdup((const char *)sqlite3_column_text(st, 0));
  tu_mem_done(st);
  return v;
}

/* ------------------------------------------------------------------------
** Published listings (seller onboarding walked for a fresh owner).
*/

/* A JSON object built by a private in-memory SQLite (never by the code under
** test): json_object(k1, v1, ...) with text values, price as a number (when
** price > 0).  malloc'd. */
static char *tu_json_object(const char *const *kv, int npairs, int64_t price) {
  sqlite3_stmt *st;
  char sql[512] = "SELECT json_object(";
  char *out;
  int i;
  for (i = 0; i < npairs; i++) {
    size_t used = strlen(sql);
    snprintf(sql + used, sizeof sql - used, "%s?%d, ?%d", i ? ", " : "",
             2 * i + 1, 2 * i + 2);
  }
  if (price > 0) {
    size_t used = strlen(sql);
    snprintf(sql + used, sizeof sql - used, "%s'price', ?%d",
             npairs ? ", " : "", 2 * npairs + 1);
  }
  strcat(sql, ")");
  st = tu_mem_stmt(sql, NULL, NULL);
  for (i = 0; i < 2 * npairs; i++)
    sqlite3_bind_text(st, i + 1, kv[i], -1, SQLITE_TRANSIENT);
  if (price > 0) sqlite3_bind_int64(st, 2 * npairs + 1, price);
  out = tu_mem_text(st);
  assert_non_null(out);
  return out;
}

#define TU_WALK_OK(w, call) tu_check_ok_((w), (call), #call, __FILE__, __LINE__)

int64_t tu_listing_in(tu_world *w, int64_t website, int64_t staff,
                      const char *title, const char *address, int64_t price,
                      int publish) {
  static unsigned seq = 0;
  char name[64], email[96];
  int64_t room = 0, client = 0, mandate = 0, proposal = 0, doc = 0,
          task = 0, listing = 0, agency = 0;
  tesoro_cursor *c = NULL;
  char *form, *fields;
  int rc;

  seq++;
  TU_WALK_OK(w, tesoro_actor_info(w->t, staff, NULL, &agency, NULL));
  snprintf(name, sizeof name, "Seller %u", seq);
  snprintf(email, sizeof email, "seller%u.a%lld@example.com", seq,
           (long long)agency);
  TU_WALK_OK(w, tesoro_contact_request_submit(
                    w->t, website, name, email, TESORO_PROPERTY_HOUSE,
                    "Keizersgracht 1, Amsterdam", price, NULL, NULL, &room,
                    &client));
  TU_WALK_OK(w, tesoro_room_start_onboarding(w->t, staff, room, 0, 0,
                                             &mandate));
  TU_WALK_OK(w, tesoro_mandate_propose(w->t, staff, mandate,
                                       TESORO_COMMISSION_PERCENTAGE, 150, NULL,
                                       1, 180, 0, &proposal));
  TU_WALK_OK(w, tesoro_mandate_accept(w->t, client, mandate, proposal, 0,
                                      NULL));
  TU_WALK_OK(w, tesoro_mandate_share_form(w->t, staff, mandate, 0));
  TU_WALK_OK(w, tesoro_document_add(w->t, client, TESORO_ENTITY_MANDATE,
                                    mandate, TESORO_DOC_SIGNED_MANDATE,
                                    "mandate.pdf", "application/pdf", tu_pdf,
                                    (int64_t)tu_pdf_size, &doc));
  {
    const char *kv[] = {"full_name", name,    "email",         email,
                        "phone",     "+31 6 1111 2222", "address",
                        "Keizersgracht 1, Amsterdam",
                        "property_type", "house"};
    form = tu_json_object(kv, 5, price);
  }
  TU_WALK_OK(w, tesoro_mandate_submit_form(w->t, client, mandate, form, 0));
  free(form);
  TU_WALK_OK(w, tesoro_tasks(w->t, staff, TESORO_ENTITY_MANDATE, mandate, &c));
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
    if (tu_contains_ci(tu_col_text(c, "title"), "review")) {
      task = tu_col_int(c, "id");
      break;
    }
  }
  tesoro_cursor_free(c);
  assert_true(task > 0);
  TU_WALK_OK(w, tesoro_task_complete(w->t, staff, task, 0));
  TU_WALK_OK(w, tesoro_mandate_validate(w->t, staff, mandate, 0, &listing));
  assert_true(listing > 0);
  {
    const char *kv[] = {"title", title, "address", address};
    fields = tu_json_object(kv, 2, price);
  }
  TU_WALK_OK(w, tesoro_listing_update(w->t, staff, listing, fields, 0));
  free(fields);
  if (publish) TU_WALK_OK(w, tesoro_listing_publish(w->t, staff, listing, 0));
  return listing;
}

int64_t tu_published_listing(tu_world *w, const char *title,
                             const char *address, int64_t price) {
  return tu_listing_in(w, w->website, w->agent, title, address, price, 1);
}

int64_t tu_published_listing_other(tu_world *w, const char *title,
                                   const char *address, int64_t price) {
  return tu_listing_in(w, w->other_website, w->other_agent, title, address,
                       price, 1);
}

int64_t tu_listing_photo(tu_world *w, int64_t staff, int64_t listing) {
  int64_t doc = 0;
  TU_WALK_OK(w, tesoro_document_add(w->t, staff, TESORO_ENTITY_LISTING,
                                    listing, TESORO_DOC_PHOTO, "front.jpg",
                                    "image/jpeg", tu_jpeg,
                                    (int64_t)tu_jpeg_size, &doc));
  assert_true(doc > 0);
  return doc;
}

/* ------------------------------------------------------------------------
** Helpers the suites share.
*/
char *tu_fmt(const char *fmt, ...) {
  static char bufs[8][8192];
  static int next = 0;
  char *b = bufs[next];
  va_list ap;
  next = (next + 1) % 8;
  va_start(ap, fmt);
  vsnprintf(b, sizeof bufs[0], fmt, ap);
  va_end(ap);
  return b;
}

char *tu_strdup(const char *s) {
  char *d;
  if (!s) return NULL;
  d = strdup(s);
  assert_non_null(d);
  return d;
}

char *tu_jget(const char *json, const char *path) {
  sqlite3_stmt *st;
  char *v = NULL;
  assert_non_null(json);
  st = tu_mem_stmt("SELECT json_valid(?1), CAST(json_extract(?1, ?2) AS TEXT)",
                   json, path);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  if (!sqlite3_column_int(st, 0)) {
    print_error("not JSON: %s\n", json);
    tu_mem_done(st);
    fail();
  }
  if (sqlite3_column_type(st, 1) != SQLITE_NULL)
    v = tu_strdup((const char *)sqlite3_column_text(st, 1));
  tu_mem_done(st);
  return v;
}

void tu_assert_json_eq(const char *json, const char *path, const char *want) {
  char *v = tu_jget(json, path);
  if (!v || strcmp(v, want) != 0) {
    print_error("%s in %s is %s, expected %s\n", path, json, v ? v : "(null)",
                want);
    free(v);
    fail();
  }
  free(v);
}

/* Print and return 1 when got and want differ (NULL-aware). */
static int tu_text_differs(const char *got, const char *want, const char *file,
                           int line) {
  if ((want == NULL) == (got == NULL) &&
      (want == NULL || strcmp(got, want) == 0))
    return 0;
  print_error("%s:%d: got \"%s\", want \"%s\"\n", file, line,
              got ? got : "(null)", want ? want : "(null)");
  return 1;
}

void tu_text_is_(char *got, const char *want, const char *file, int line) {
  int differs = tu_text_differs(got, want, file, line);
  free(got);
  if (differs) _fail(file, line);
}

void tu_str_is_(const char *got, const char *want, const char *file, int line) {
  if (tu_text_differs(got, want, file, line)) _fail(file, line);
}

int tu_has_bytes(const unsigned char *hay, size_t n, const char *needle) {
  size_t m = strlen(needle), i;
  if (m == 0 || m > n) return 0;
  for (i = 0; i + m <= n; i++)
    if (hay[i] == (unsigned char)needle[0] && memcmp(hay + i, needle, m) == 0)
      return 1;
  return 0;
}

int tu_cursor_ids(tesoro_cursor *c, int64_t *ids, int max) {
  int n = 0, rc;
  assert_non_null(c);
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
    assert_true(n < max);
    ids[n++] = tu_col_int(c, "id");
  }
  assert_int_equal(rc, TESORO_DONE);
  tesoro_cursor_free(c);
  return n;
}

int tu_has_id(const int64_t *ids, int n, int64_t id) {
  int i;
  for (i = 0; i < n; i++)
    if (ids[i] == id) return 1;
  return 0;
}

void tu_assert_ids(const int64_t *got, int n, const int64_t *want, int m) {
  int i;
  if (n != m) {
    print_error("list has %d rows, expected %d\n", n, m);
    fail();
  }
  for (i = 0; i < n; i++) {
    if (got[i] != want[i]) {
      print_error("row %d is id %lld, expected %lld\n", i, (long long)got[i],
                  (long long)want[i]);
      fail();
    }
  }
}

int64_t tu_version_of(tu_world *w, int entity, int64_t id) {
  int64_t v = 0;
  if (entity == TESORO_ENTITY_CONTACT)
    return tu_sqlf(w, "SELECT version FROM contact WHERE id = %lld",
                   (long long)id);
  TU_OK(w, tesoro_entity_state(w->t, w->admin, entity, id, NULL, &v));
  assert_true(v > 0);
  return v;
}

void tu_assert_state(tu_world *w, int entity, int64_t id, const char *want) {
  const char *s = NULL;
  TU_OK(w, tesoro_entity_state(w->t, w->admin, entity, id, &s, NULL));
  assert_non_null(s);
  if (strcmp(s, want) != 0) {
    print_error("entity %d/%lld is %s, expected %s\n", entity, (long long)id,
                s, want);
    fail();
  }
}

void tu_last_history(tu_world *w, int entity, int64_t id, tu_history *h) {
  tesoro_cursor *c = NULL;
  int rc;
  memset(h, 0, sizeof *h);
  TU_OK(w, tesoro_history(w->t, w->admin, entity, id, &c));
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
    tu_history_free(h);
    h->event = tu_strdup(tu_col_text(c, "event"));
    h->from_state = tu_strdup(tu_col_text(c, "from_state"));
    h->to_state = tu_strdup(tu_col_text(c, "to_state"));
    h->details = tu_strdup(tu_col_text(c, "details"));
    h->actor = tu_col_int(c, "actor_id");
    h->at = tu_col_int(c, "at");
    h->seq = tu_col_int(c, "seq");
    h->rows++;
  }
  tesoro_cursor_free(c);
  assert_int_equal(rc, TESORO_DONE);
  if (h->rows == 0) {
    print_error("entity %d/%lld has no history\n", entity, (long long)id);
    fail();
  }
}

void tu_history_free(tu_history *h) {
  free(h->event);
  free(h->from_state);
  free(h->to_state);
  free(h->details);
  h->event = h->from_state = h->to_state = h->details = NULL;
}

char *tu_ingest_(tu_world *w, int64_t website, const char *json,
                 const char *file, int line) {
  char *res = NULL;
  int rc = tesoro_exchange_ingest(w->t, website, json, &res);
  if (rc != TESORO_OK) {
    print_error("%s:%d: ingest of %s failed (%d): %s\n", file, line, json, rc,
                tesoro_errmsg(w->t));
    tesoro_free(res);
    _fail(file, line);
  }
  if (res == NULL) {
    print_error("%s:%d: ingest returned no result\n", file, line);
    _fail(file, line);
  }
  return res;
}

void tu_ingest_status_(tu_world *w, int64_t website, const char *json,
                       const char *status, const char *file, int line) {
  char *res = tu_ingest_(w, website, json, file, line);
  char needle[64];
  snprintf(needle, sizeof needle, "\"status\":\"%s\"", status);
  if (strstr(res, needle) == NULL) {
    print_error("%s:%d: result %s lacks %s\n", file, line, res, needle);
    tesoro_free(res);
    _fail(file, line);
  }
  tesoro_free(res);
}

