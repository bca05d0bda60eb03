/*
** test_foundation.c — SPEC §1 (handle, storage, schema, actors, tenancy,
** transitions, time, activity, tasks, outbox, bad input, documents) and the
** foundation points of §7 (optimistic concurrency, outbound event log).
**
** One test per rule, named after it.  Every refused call is checked with
** TU_ASSERT_REFUSED: the code, key words of the message and an unchanged
** database digest.
*/
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>
#include <sqlite3.h>

#define W tu_world *w = *state
#define NOID ((int64_t)999999)
#define DAY ((int64_t)86400)

/* The message of the last call on w->t mentions `s` (case-insensitively). */
static void msg_has(tu_world *w, const char *s) {
  const char *m = tesoro_errmsg(w->t);
  char a[1024], b[256];
  size_t i;
  assert_non_null(m);
  snprintf(a, sizeof a, "%s", m);
  snprintf(b, sizeof b, "%s", s);
  for (i = 0; a[i]; i++)
    if (a[i] >= 'A' && a[i] <= 'Z') a[i] = (char)(a[i] - 'A' + 'a');
  for (i = 0; b[i]; i++)
    if (b[i] >= 'A' && b[i] <= 'Z') b[i] = (char)(b[i] - 'A' + 'a');
  if (!strstr(a, b)) {
    print_error("errmsg \"%s\" does not mention \"%s\"\n", m, s);
    fail();
  }
}

/* A value of a JSON document, read with SQLite's json_extract on a private
   in-memory connection (tests never parse JSON by hand). */
static int64_t json_int(const char *json, const char *path) {
  sqlite3_stmt *st;
  int64_t v = -1;
  assert_non_null(json);
  st = tu_mem_stmt("SELECT json_extract(?1, ?2)", json, path);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
    v = sqlite3_column_int64(st, 0);
  tu_mem_done(st);
  return v;
}

static int json_has_text(const char *json, const char *path, const char *want) {
  sqlite3_stmt *st;
  int ok = 0;
  assert_non_null(json);
  st = tu_mem_stmt("SELECT json_extract(?1, ?2)", json, path);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT)
    ok = strcmp((const char *)sqlite3_column_text(st, 0), want) == 0;
  tu_mem_done(st);
  return ok;
}

static int file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static void write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

/* The version of an entity as its JSON says. */
static int64_t entity_version(tu_world *w, int64_t actor, int kind, int64_t id) {
  char *json = NULL;
  int64_t v;
  TU_OK(w, tesoro_entity_json(w->t, actor, kind, id, &json));
  v = json_int(json, "$.version");
  tesoro_free(json);
  return v;
}

/* The owner's contact form for Ada (matches the fixture's contact). */
static int64_t submit_request(tu_world *w, int64_t *out_client) {
  int64_t room = 0, client = 0;
  TU_OK(w, tesoro_contact_request_submit(
               w->t, w->website, "Ada Owner", "ada@example.com",
               TESORO_PROPERTY_HOUSE, "Keizersgracht 1, Amsterdam", 0, NULL,
               NULL, &room, &client));
  assert_true(room > 0);
  /* Ada is known: the website gets no client actor; staff hand it out */
  assert_int_equal(client, 0);
  TU_OK(w, tesoro_contact_client_actor(w->t, w->agent, w->contact, &client));
  if (out_client) *out_client = client;
  return room;
}

static const char *const SELLER_FORM =
    "{\"full_name\":\"Ada Owner\",\"email\":\"ada@example.com\","
    "\"phone\":\"+31 6 1234 5678\",\"address\":\"Keizersgracht 1, Amsterdam\","
    "\"property_type\":\"house\",\"price\":45000000,\"bedrooms\":3}";

/* Id of the first open task of `mandate` whose title contains `title`. */
static int64_t find_task(tu_world *w, int entity, int64_t id, const char *title) {
  tesoro_cursor *c = NULL;
  int64_t task = 0;
  TU_OK(w, tesoro_tasks(w->t, w->agent, entity, id, &c));
  while (tesoro_cursor_next(c) == TESORO_ROW) {
    const char *t = tu_col_text(c, "title");
    if (t && strstr(t, title) && !task) task = tu_col_int(c, "id");
  }
  tesoro_cursor_free(c);
  return task;
}

/* Room → mandate → form submitted, for the room's client. */
static void walk_to_submitted(tu_world *w, int64_t *out_room,
                              int64_t *out_mandate) {
  int64_t room, client = 0, mandate = 0, proposal = 0, doc = 0;
  room = submit_request(w, &client);
  assert_int_equal(client, w->client);
  TU_OK(w, tesoro_room_start_onboarding(w->t, w->agent, room, 1, 0, &mandate));
  TU_OK(w, tesoro_mandate_propose(w->t, w->agent, mandate,
                                  TESORO_COMMISSION_PERCENTAGE, 150, NULL, 1,
                                  90, 0, &proposal));
  TU_OK(w, tesoro_mandate_accept(w->t, w->client, mandate, proposal, 0, NULL));
  TU_OK(w, tesoro_mandate_share_form(w->t, w->agent, mandate, 0));
  TU_OK(w, tesoro_document_add(w->t, w->client, TESORO_ENTITY_MANDATE, mandate,
                               TESORO_DOC_SIGNED_MANDATE, "mandate.pdf",
                               "application/pdf", tu_pdf,
                               (int64_t)tu_pdf_size, &doc));
  TU_OK(w, tesoro_mandate_submit_form(w->t, w->client, mandate, SELLER_FORM, 0));
  *out_room = room;
  *out_mandate = mandate;
}

/* The whole onboarding: the listing ends published, validated at the clock. */
static void walk_to_published(tu_world *w, int64_t *out_mandate,
                              int64_t *out_listing) {
  int64_t room, mandate, task, listing = 0;
  walk_to_submitted(w, &room, &mandate);
  task = find_task(w, TESORO_ENTITY_MANDATE, mandate, "review seller form");
  assert_true(task > 0);
  TU_OK(w, tesoro_task_complete(w->t, w->agent, task, 0));
  TU_OK(w, tesoro_mandate_validate(w->t, w->agent, mandate, 0, &listing));
  assert_true(listing > 0);
  TU_OK(w, tesoro_listing_publish(w->t, w->agent, listing, 0));
  *out_mandate = mandate;
  *out_listing = listing;
}

static const char *state_of(tu_world *w, int kind, int64_t id) {
  const char *s = NULL;
  TU_OK(w, tesoro_entity_state(w->t, w->agent, kind, id, &s, NULL));
  assert_non_null(s);
  return s;
}

/* ========================================================================
** Versions and result codes.
*/
static void test_version_macros_match_library(void **state) {
  int x = -1, y = -1, z = -1;
  (void)state;
  assert_string_equal(tesoro_version(), TESORO_VERSION);
  assert_int_equal(tesoro_libversion_number(), TESORO_VERSION_NUMBER);
  assert_int_equal(sscanf(TESORO_VERSION, "%d.%d.%d", &x, &y, &z), 3);
  assert_int_equal(TESORO_VERSION_NUMBER, x * 1000000 + y * 1000 + z);
}

static void test_errstr_and_errname_cover_every_code(void **state) {
  struct { int code; const char *name, *text; } codes[] = {
#define ROW_(name, value, text) {value, #name, text},
      TESORO_RESULT_MAP(ROW_)
#undef ROW_
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    assert_non_null(tesoro_errstr(codes[i].code));
    assert_string_equal(tesoro_errstr(codes[i].code), codes[i].text);
    assert_string_equal(tesoro_errname(codes[i].code), codes[i].name);
  }
  assert_int_equal(TESORO_EDENIED, -4);
  assert_string_equal(tesoro_errname(12345), "UNKNOWN");
  assert_string_equal(tesoro_errname(-99), "UNKNOWN");
  assert_non_null(tesoro_errstr(12345));
  assert_non_null(tesoro_errstr(-99));
}

/* ========================================================================
** Schema: one source, carried verbatim.
*/
static void test_schema_text_equals_schema_sql(void **state) {
  size_t n = 0;
  unsigned char *file = tu_read_file("schema.sql", &n);
  char *text = NULL;
  (void)state;
  assert_non_null(file);
  assert_int_equal(tesoro_schema_text(&text), TESORO_OK);
  assert_non_null(text);
  assert_int_equal(strlen(text), n);
  assert_memory_equal(text, file, n);
  tesoro_free(text);
  free(file);
  assert_int_equal(tesoro_schema_text(NULL), TESORO_EINVAL);
}

/* ========================================================================
** Open: create, configure, refuse.
*/
static void test_open_creates_file_with_ids(void **state) {
  W;
  char path[600];
  tesoro *t = NULL;
  snprintf(path, sizeof path, "%s/new.db", w->dir);
  assert_false(file_exists(path));
  assert_int_equal(tesoro_open(path, &t), TESORO_OK);
  assert_non_null(t);
  assert_true(file_exists(path));
  assert_int_equal(tu_sql_int_path(path, "PRAGMA application_id"),
                   TESORO_APPLICATION_ID);
  assert_int_equal(tu_sql_int_path(path, "PRAGMA user_version"),
                   TESORO_SCHEMA_VERSION);
  assert_int_equal(tesoro_close(t), TESORO_OK);
  /* and opens again */
  assert_int_equal(tesoro_open(path, &t), TESORO_OK);
  assert_int_equal(tesoro_close(t), TESORO_OK);
  assert_int_equal(tu_sql_int(w, "PRAGMA application_id"), TESORO_APPLICATION_ID);
  assert_int_equal(tu_sql_int(w, "PRAGMA user_version"), TESORO_SCHEMA_VERSION);
}

static void test_open_uses_wal_journal(void **state) {
  W;
  char *mode = tu_sql_text(w, "PRAGMA journal_mode");
  assert_non_null(mode);
  assert_string_equal(mode, "wal");
  free(mode);
}

static void test_every_table_is_strict(void **state) {
  W;
  char err[256];
  int64_t tables = tu_sql_int(
      w, "SELECT count(*) FROM pragma_table_list WHERE schema = 'main' "
         "AND type = 'table' AND name NOT LIKE 'sqlite_%'");
  int64_t lax = tu_sql_int(
      w, "SELECT count(*) FROM pragma_table_list WHERE schema = 'main' "
         "AND type = 'table' AND name NOT LIKE 'sqlite_%' AND strict = 0");
  assert_true(tables >= 15);
  assert_int_equal(lax, 0);
  /* STRICT refuses a text where an INTEGER belongs. */
  assert_int_not_equal(
      tu_sql_exec(w, "UPDATE agency SET created_at = 'yesterday'", err, sizeof err),
      SQLITE_OK);
}

static void test_state_check_refuses_impossible_state(void **state) {
  W;
  char err[256];
  int64_t room = submit_request(w, NULL);
  char before[65], after[65];
  (void)room;
  tu_digest(w, before);
  assert_int_equal(
      tu_sql_exec(w, "UPDATE room SET state = 'bogus'", err, sizeof err) & 0xff,
      SQLITE_CONSTRAINT);
  assert_int_equal(
      tu_sql_exec(w, "UPDATE actor SET kind = 'robot'", err, sizeof err) & 0xff,
      SQLITE_CONSTRAINT);
  assert_int_equal(
      tu_sql_exec(w, "UPDATE outbox SET status = 'lost'", err, sizeof err) & 0xff,
      SQLITE_CONSTRAINT);
  tu_digest(w, after);
  assert_string_equal(before, after);
}

static void check_open_refused(const char *path, int code) {
  size_t n0 = 0, n1 = 0;
  unsigned char *b0 = tu_read_file(path, &n0), *b1;
  tesoro *t = NULL;
  int rc;
  assert_non_null(b0);
  rc = tesoro_open(path, &t);
  if (rc != code) {
    print_error("tesoro_open(%s) returned %s, expected %s: %s\n", path,
                tesoro_errname(rc), tesoro_errname(code),
                t ? tesoro_errmsg(t) : "(no handle)");
    tesoro_close(t);
    fail();
  }
  /* *out is set even on failure, so the message can be read. */
  assert_non_null(t);
  assert_non_null(tesoro_errmsg(t));
  assert_true(strlen(tesoro_errmsg(t)) > 0);
  assert_int_equal(tesoro_errcode(t), code);
  assert_int_equal(tesoro_close(t), TESORO_OK);
  b1 = tu_read_file(path, &n1);
  assert_non_null(b1);
  assert_int_equal(n0, n1);
  assert_memory_equal(b0, b1, n0);
  free(b0);
  free(b1);
}

static void test_open_refuses_foreign_sqlite_file(void **state) {
  W;
  char path[600];
  snprintf(path, sizeof path, "%s/foreign.db", w->dir);
  assert_int_equal(tu_sql_exec_path(path,
                                    "CREATE TABLE notes(id INTEGER PRIMARY KEY, "
                                    "body TEXT); INSERT INTO notes(body) "
                                    "VALUES ('hello');",
                                    NULL, 0),
                   SQLITE_OK);
  assert_int_equal(tu_sql_int_path(path, "PRAGMA application_id"), 0);
  check_open_refused(path, TESORO_ENOTDB);
}

static void test_open_refuses_garbage_file(void **state) {
  W;
  char path[600];
  unsigned char junk[8192];
  size_t i;
  uint32_t x = 2463534242u;
  for (i = 0; i < sizeof junk; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    junk[i] = (unsigned char)x;
  }
  snprintf(path, sizeof path, "%s/garbage.db", w->dir);
  write_file(path, junk, sizeof junk);
  check_open_refused(path, TESORO_ENOTDB);
}

static void test_open_refuses_newer_schema(void **state) {
  W;
  char path[600], sql[256];
  snprintf(path, sizeof path, "%s/newer.db", w->dir);
  snprintf(sql, sizeof sql,
           "PRAGMA application_id = %d; PRAGMA user_version = %d; "
           "CREATE TABLE future(x INTEGER);",
           TESORO_APPLICATION_ID, TESORO_SCHEMA_VERSION + 1);
  assert_int_equal(tu_sql_exec_path(path, sql, NULL, 0), SQLITE_OK);
  check_open_refused(path, TESORO_ESCHEMA);
}

static void test_open_refuses_bad_arguments(void **state) {
  W;
  tesoro *t = NULL;
  (void)w;
  assert_int_equal(tesoro_open(NULL, &t), TESORO_EINVAL);
  tesoro_close(t);
  t = NULL;
  assert_int_equal(tesoro_open("", &t), TESORO_EINVAL);
  tesoro_close(t);
  assert_int_equal(tesoro_open(w->path, NULL), TESORO_EINVAL);
  assert_int_equal(tesoro_close(NULL), TESORO_OK);
}

static void test_open_memory_database_works(void **state) {
  tesoro *t = NULL;
  int64_t agency = 0, admin = 0;
  (void)state;
  assert_int_equal(tesoro_open(":memory:", &t), TESORO_OK);
  assert_int_equal(tesoro_agency_create(t, "Mem", "UTC", "EUR", "Mia Mem",
                                        "mia@mem.test", &agency, &admin),
                   TESORO_OK);
  assert_true(agency > 0 && admin > 0);
  assert_int_equal(tesoro_check(t), TESORO_OK);
  assert_int_equal(tesoro_close(t), TESORO_OK);
}

/* Collect the schema objects of a file as one string, ordered. */
static char *schema_objects(const char *path) {
  return tu_sql_text_path(
      path, "SELECT group_concat(x, char(10)) FROM (SELECT type || '|' || "
            "name || '|' || ifnull(sql, '') AS x FROM sqlite_master "
            "ORDER BY type, name)");
}

/* Every new connection of the process with SQLITE_DBCONFIG_DEFENSIVE on, as
** a SQLite built with it on by default (or a host that sets it) has. */
static int defensive_on(sqlite3 *db, char **err, const struct sqlite3_api_routines *api) {
  (void)err;
  (void)api;
  return sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
}

/* A section may edit stored table definitions with PRAGMA writable_schema,
** which a defensive connection refuses: tesoro switches DEFENSIVE off for
** the migration only, so a new file opens on such a connection too. */
static void test_open_works_on_a_defensive_connection(void **state) {
  W;
  char path[600];
  tesoro *t = NULL;
  int rc;
  snprintf(path, sizeof path, "%s/defensive.db", w->dir);
  assert_int_equal(sqlite3_auto_extension((void (*)(void))defensive_on), SQLITE_OK);
  rc = tesoro_open(path, &t);
  if (rc == TESORO_OK) rc = tesoro_close(t);
  sqlite3_cancel_auto_extension((void (*)(void))defensive_on);
  assert_int_equal(rc, TESORO_OK);
  assert_int_equal(tu_sql_int_path(path, "PRAGMA user_version"), TESORO_SCHEMA_VERSION);
  /* the schema is there, its CHECK lists written as OR chains */
  assert_int_equal(tu_sql_int_path(path, "SELECT count(*) FROM sqlite_master WHERE "
                                         "name = 'outbox' AND sql LIKE '%status IN (%'"),
                   0);
  assert_int_equal(tu_sql_int_path(path, "SELECT count(*) FROM sqlite_master WHERE "
                                         "name = 'outbox' AND sql LIKE "
                                         "'%status = ''pending'' OR%'"),
                   1);
}

/* The engine's append-only tables declare no foreign keys and history no
** json_valid CHECK (schema.sql; tesoro_check holds those rules): the rest
** of the schema keeps its keys. */
static void test_append_only_tables_have_no_foreign_keys(void **state) {
  W;
  static const char *const bare[] = {"history", "activity", "outbox", "timer",
                                     "web_event"};
  for (int i = 0; i < 5; i++) {
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pragma_foreign_key_list('%s')", bare[i]);
    assert_int_equal(tu_sql_int(w, sql), 0);
  }
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM sqlite_master WHERE name = 'history' "
                                 "AND sql LIKE '%json_valid%'"),
                   0);
  assert_true(tu_sql_int(w, "SELECT count(*) FROM pragma_foreign_key_list('appointment')") >= 5);
  assert_true(tu_sql_int(w, "SELECT count(*) FROM pragma_foreign_key_list('contact')") >= 1);
}

/* A file written by tesoro 0.1.0 (schema 1) opens, migrated to this
** library's schema: test/fixtures/v0.1.0.sql is its SQL dump, made by
** test/make_v010_fixture.py through the public API (one agency, a seller
** onboarded to a published listing, a buyer whose viewing was requested and
** confirmed, a referral, a website event).  Once schema.sql has sections
** after 1, this open runs them: the file must then pass tesoro_check, have
** a new file's schema, and its old appointment must still move. */
static void test_open_migrates_the_v0_1_0_fixture(void **state) {
  W;
  char old[600], fresh[600];
  unsigned char *dump = tu_read_file("test/fixtures/v0.1.0.sql", NULL);
  char *a, *b, *answer, *replay = NULL;
  const char *st = NULL;
  int64_t version = 0, lines, buyer_lines;
  tesoro *t = NULL;
  assert_non_null(dump);
  snprintf(old, sizeof old, "%s/v0.1.0.db", w->dir);
  assert_int_equal(tu_sql_exec_path(old, (const char *)dump, NULL, 0), SQLITE_OK);
  free(dump);
  assert_int_equal(tu_sql_int_path(old, "PRAGMA user_version"), 1);
  assert_int_equal(tu_sql_int_path(old, "SELECT count(*) FROM appointment "
                                        "WHERE id = 1 AND state = 'confirmed'"),
                   1);
  lines = tu_sql_int_path(old, "SELECT count(*) FROM activity");
  assert_true(lines > 0);
  buyer_lines = tu_sql_int_path(old, "SELECT count(*) FROM activity WHERE "
                                     "contact_id = (SELECT contact_id FROM "
                                     "appointment WHERE id = 1)");
  assert_true(buyer_lines > 0);
  answer = tu_sql_text_path(old, "SELECT result FROM web_event WHERE "
                                 "source_id = 'hf-1'");
  assert_non_null(answer);

  assert_int_equal(tesoro_open(old, &t), TESORO_OK);
  assert_int_equal(tu_sql_int_path(old, "PRAGMA user_version"), TESORO_SCHEMA_VERSION);
  assert_int_equal(tesoro_check(t), TESORO_OK);
  /* the timeline kept every line, ids and all (schema section 3) */
  assert_int_equal(tu_sql_int_path(old, "SELECT count(*) FROM activity"), lines);
  /* the website event's replay answers as the event did (section 5) */
  assert_int_equal(tesoro_clock_set(t, 1780200000), TESORO_OK);
  assert_int_equal(tesoro_exchange_ingest(t, 2,
                                          "{\"source_id\": \"hf-1\", \"type\": "
                                          "\"customer\", \"customer\": \"c1\", "
                                          "\"at\": 1780172700, \"name\": "
                                          "\"Sanne Surfer\", \"email\": "
                                          "\"sanne@example.com\"}",
                                          &replay),
                   TESORO_OK);
  assert_string_equal(replay, answer);
  tesoro_free(replay);
  free(answer);

  /* a new file's schema, object for object */
  snprintf(fresh, sizeof fresh, "%s/fresh.db", w->dir);
  {
    tesoro *t2 = NULL;
    assert_int_equal(tesoro_open(fresh, &t2), TESORO_OK);
    tesoro_close(t2);
  }
  a = schema_objects(old);
  b = schema_objects(fresh);
  assert_non_null(a);
  assert_non_null(b);
  assert_string_equal(a, b);
  free(a);
  free(b);

  /* the confirmed viewing (version 2, agent Andy = actor 4) is cancelled
  ** before its start; its pending timers go with it */
  assert_int_equal(tesoro_clock_set(t, 1780200000), TESORO_OK);
  assert_int_equal(tesoro_appointment_cancel(t, 4, 1, "Buyer found another house", 2),
                   TESORO_OK);
  assert_int_equal(tesoro_entity_state(t, 4, TESORO_ENTITY_APPOINTMENT, 1, &st, &version),
                   TESORO_OK);
  assert_string_equal(st, "cancelled");
  assert_int_equal(version, 3);
  /* the cancellation is the buyer's newest line, after the old ones
  ** (kept on its history row: section 6) */
  assert_int_equal(tu_sql_int_path(old, "SELECT count(*) FROM timeline t "
                                        "WHERE kind = 'viewing_cancelled' AND "
                                        "id = (SELECT max(id) FROM timeline a "
                                        "WHERE a.contact_id = t.contact_id) "
                                        "AND id = 1 + (SELECT max(id) FROM "
                                        "timeline a WHERE a.contact_id = "
                                        "t.contact_id AND a.kind != "
                                        "'viewing_cancelled')"),
                   1);
  assert_int_equal(tu_sql_int_path(old, "SELECT count(*) FROM timeline WHERE "
                                        "contact_id = (SELECT contact_id FROM "
                                        "appointment WHERE id = 1)"),
                   buyer_lines + 1);
  /* the old lines come first in the timeline, in their order */
  assert_int_equal(tu_sql_int_path(old, "SELECT count(*) FROM activity a "
                                        "JOIN timeline t ON t.contact_id = "
                                        "a.contact_id AND t.kind = a.kind AND "
                                        "t.at = a.at AND t.id = (SELECT "
                                        "count(*) FROM activity b WHERE "
                                        "b.contact_id = a.contact_id AND "
                                        "b.id <= a.id)"),
                   lines);
  assert_int_equal(tu_sql_int_path(old, tu_fmt("SELECT count(*) FROM timer WHERE "
                                               "entity = %d AND entity_id = 1",
                                               TESORO_ENTITY_APPOINTMENT)),
                   0);
  assert_int_equal(tesoro_check(t), TESORO_OK);
  assert_int_equal(tesoro_close(t), TESORO_OK);
}

/* ========================================================================
** Errors on the handle, config, clock.
*/
static void test_errcode_and_errmsg_follow_last_call(void **state) {
  W;
  int64_t agent = 0;
  TU_ASSERT_ERR(w, tesoro_agent_create(w->t, w->agent, "Zed", "zed@tesoro.test",
                                       TESORO_ROLE_AGENT, &agent),
                TESORO_EDENIED, NULL);
  assert_int_equal(tesoro_errcode(w->t), TESORO_EDENIED);
  assert_true(strlen(tesoro_errmsg(w->t)) > 0);
  assert_string_not_equal(tesoro_errmsg(w->t), "not an error");
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW));
  TU_OK(w, tesoro_actor_info(w->t, w->agent, NULL, NULL, NULL));
  assert_int_equal(tesoro_errcode(w->t), TESORO_OK);
  assert_string_equal(tesoro_errmsg(w->t), "not an error");
  /* NULL handle */
  assert_non_null(tesoro_errmsg(NULL));
  assert_string_equal(tesoro_errmsg(NULL), "out of memory");
  assert_int_equal(tesoro_errcode(NULL), TESORO_ENOMEM);
}

static void test_config_refuses_unknown_option_and_nonpositive_value(void **state) {
  W;
  int opt;
  for (opt = TESORO_CONFIG_BUSY_TIMEOUT_MS; opt <= TESORO_CONFIG_TICK_BATCH; opt++) {
    TU_ASSERT_REFUSED(w, tesoro_config(w->t, opt, 0), TESORO_EINVAL, NULL);
    TU_ASSERT_REFUSED(w, tesoro_config(w->t, opt, -5), TESORO_EINVAL, NULL);
    TU_OK(w, tesoro_config(w->t, opt, 1000));
  }
  TU_ASSERT_REFUSED(w, tesoro_config(w->t, 0, 10), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_config(w->t, 99, 10), TESORO_EINVAL, NULL);
  assert_int_equal(tesoro_config(NULL, TESORO_CONFIG_TICK_BATCH, 10),
                   TESORO_EMISUSE);
}

/* The connection tesoro opens next (caught by an auto-extension), to read
** a pragma tesoro has no call for. */
static sqlite3 *opened_db;
static int catch_connection(sqlite3 *db, char **err, const void *api) {
  (void)err;
  (void)api;
  opened_db = db;
  return SQLITE_OK;
}

static int64_t connection_synchronous(void) {
  sqlite3_stmt *s;
  int64_t v = -1;
  assert_int_equal(sqlite3_prepare_v2(opened_db, "PRAGMA synchronous", -1, &s, NULL),
                   SQLITE_OK);
  if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return v;
}

static void test_config_synchronous_full_or_normal(void **state) {
  W;
  tesoro *t2 = NULL;
  sqlite3_auto_extension((void (*)(void))catch_connection);
  assert_int_equal(tesoro_open(w->path, &t2), TESORO_OK);
  sqlite3_cancel_auto_extension((void (*)(void))catch_connection);
  assert_int_equal(connection_synchronous(), 1); /* NORMAL by default */
  assert_int_equal(tesoro_config(t2, TESORO_CONFIG_SYNCHRONOUS, TESORO_SYNC_FULL),
                   TESORO_OK);
  assert_int_equal(connection_synchronous(), 2);
  assert_int_equal(tesoro_config(t2, TESORO_CONFIG_SYNCHRONOUS, 3), TESORO_EINVAL);
  assert_true(tu_contains_ci(tesoro_errmsg(t2), "TESORO_SYNC_FULL"));
  assert_int_equal(connection_synchronous(), 2);
  assert_int_equal(tesoro_begin(t2), TESORO_OK);
  assert_int_equal(tesoro_config(t2, TESORO_CONFIG_SYNCHRONOUS, TESORO_SYNC_NORMAL),
                   TESORO_EMISUSE);
  assert_int_equal(tesoro_rollback(t2), TESORO_OK);
  assert_int_equal(tesoro_config(t2, TESORO_CONFIG_SYNCHRONOUS, TESORO_SYNC_NORMAL),
                   TESORO_OK);
  assert_int_equal(connection_synchronous(), 1);
  tesoro_close(t2);
}

/* WAL pages left after `n` new contacts, as the host's checkpoint reports
** them, with the commit-path guard at `guard` pages. */
static int wal_after_writes(tu_world *w, int64_t guard, int n) {
  int wal = -1, copied = -1;
  char name[40], email[64];
  TU_OK(w, tesoro_checkpoint(w->t, NULL, NULL));
  TU_OK(w, tesoro_config(w->t, TESORO_CONFIG_CHECKPOINT_PAGES, guard));
  for (int i = 0; i < n; i++) {
    int64_t contact;
    snprintf(name, sizeof name, "Wal Person %d", i);
    snprintf(email, sizeof email, "wal%lld-%d@example.com", (long long)guard, i);
    TU_OK(w, tesoro_contact_create(w->t, w->agent, name, email, NULL, NULL, &contact));
  }
  TU_OK(w, tesoro_checkpoint(w->t, &wal, &copied));
  /* nobody else reads: the host's checkpoint copies the whole log */
  assert_int_equal(copied, wal);
  return wal;
}

/* The host runs checkpoints (tesoro_checkpoint) and raises the guard so a
** committing call does not; the guard still bounds the WAL. */
static void test_checkpoints_run_by_the_host_with_a_guard(void **state) {
  W;
  tesoro *m = NULL;
  int wal = -1, copied = -1;
  int guarded = wal_after_writes(w, 20, 150);
  int unguarded = wal_after_writes(w, 1000000, 150);
  /* 150 commits of a few pages each: the commit path checkpointed at 20
  ** pages and the log restarted from its start; with the guard far away it
  ** kept every frame for the host's checkpoint */
  assert_true(guarded > 0 && guarded < 60);
  assert_true(unguarded > 150);
  /* a second checkpoint with nothing new written copies nothing more */
  TU_OK(w, tesoro_checkpoint(w->t, &wal, &copied));
  assert_int_equal(wal, copied);
  /* bad settings and the wrong moment */
  TU_ASSERT_ERR(w, tesoro_config(w->t, TESORO_CONFIG_CHECKPOINT_PAGES, 0), TESORO_EINVAL,
                "> 0");
  TU_ASSERT_ERR(w, tesoro_config(w->t, TESORO_CONFIG_CHECKPOINT_PAGES, 10000001),
                TESORO_EINVAL, "at most");
  TU_OK(w, tesoro_begin(w->t));
  TU_ASSERT_ERR(w, tesoro_checkpoint(w->t, &wal, &copied), TESORO_EMISUSE, "transaction");
  assert_int_equal(wal, 0);
  TU_OK(w, tesoro_rollback(w->t));
  assert_int_equal(tesoro_checkpoint(NULL, NULL, NULL), TESORO_EMISUSE);
  /* a database without a log: nothing to copy */
  assert_int_equal(tesoro_open(":memory:", &m), TESORO_OK);
  wal = copied = -1;
  assert_int_equal(tesoro_checkpoint(m, &wal, &copied), TESORO_OK);
  assert_int_equal(wal, 0);
  assert_int_equal(copied, 0);
  tesoro_close(m);
}

static void test_clock_is_injectable_per_handle(void **state) {
  W;
  tesoro *t2 = NULL;
  int64_t now, c = 0;
  assert_int_equal(tesoro_now(w->t), TU_NOW);
  /* the pinned clock stamps what is written */
  TU_OK(w, tesoro_contact_create(w->t, w->agent, "Clara Clock",
                                 "clara@example.com", NULL, NULL, &c));
  assert_int_equal(tu_sqlf(w, "SELECT created_at FROM contact WHERE id = %lld",
                              (long long)c),
                   TU_NOW);
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 5));
  assert_int_equal(tesoro_now(w->t), TU_NOW + 5);
  /* another handle keeps the system clock */
  assert_int_equal(tesoro_open(w->path, &t2), TESORO_OK);
  now = tesoro_now(t2);
  assert_true(now >= (int64_t)time(NULL) - 5 && now <= (int64_t)time(NULL) + 5);
  tesoro_close(t2);
  /* 0 returns to the system clock */
  TU_OK(w, tesoro_clock_set(w->t, 0));
  now = tesoro_now(w->t);
  assert_true(now >= (int64_t)time(NULL) - 5 && now <= (int64_t)time(NULL) + 5);
  assert_int_equal(tesoro_now(NULL), 0);
  assert_int_equal(tesoro_clock_set(NULL, TU_NOW), TESORO_EMISUSE);
}

/* ========================================================================
** Agencies, staff, actors.
*/
static void test_agency_create_refuses_bad_input(void **state) {
  W;
  int64_t a = 0, adm = 0;
  char *long_name = tu_long_string(TESORO_MAX_NAME + 1);
  char *long_email = tu_long_string(TESORO_MAX_EMAIL + 1);
  tesoro *t = w->t;
  TU_ASSERT_REFUSED(w, tesoro_agency_create(t, NULL, "UTC", "EUR", "Al", "al@x.test", &a, &adm), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_create(t, "", "UTC", "EUR", "Al", "al@x.test", &a, &adm), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_create(t, long_name, "UTC", "EUR", "Al", "al@x.test", &a, &adm), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_create(t, TU_BAD_UTF8, "UTC", "EUR", "Al", "al@x.test", &a, &adm), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_create(t, "Mars Homes", "Mars/Olympus", "EUR", "Al", "al@x.test", &a, &adm), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_create(t, "Mars Homes", TU_BAD_UTF8, "EUR", "Al", "al@x.test", &a, &adm), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_create(t, "Homes", "UTC", "eur", "Al", "al@x.test", &a, &adm), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_create(t, "Homes", "UTC", "EURO", "Al", "al@x.test", &a, &adm), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_create(t, "Homes", "UTC", "EU", "Al", "al@x.test", &a, &adm), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_create(t, "Homes", "UTC", "E1R", "Al", "al@x.test", &a, &adm), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_create(t, "Homes", "UTC", NULL, "Al", "al@x.test", &a, &adm), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_create(t, "Homes", "UTC", "EUR", NULL, "al@x.test", &a, &adm), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_create(t, "Homes", "UTC", "EUR", "", "al@x.test", &a, &adm), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_create(t, "Homes", "UTC", "EUR", long_name, "al@x.test", &a, &adm), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_create(t, "Homes", "UTC", "EUR", TU_BAD_UTF8, "al@x.test", &a, &adm), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_create(t, "Homes", "UTC", "EUR", "Al", NULL, &a, &adm), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_create(t, "Homes", "UTC", "EUR", "Al", "", &a, &adm), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_create(t, "Homes", "UTC", "EUR", "Al", "not-an-email", &a, &adm), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_create(t, "Homes", "UTC", "EUR", "Al", long_email, &a, &adm), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_create(t, "Homes", "UTC", "EUR", "Al", "al@x.test" "\xC3\x28", &a, &adm), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_create(t, "Homes", "UTC", "EUR", "Al", "al@x.test", NULL, &adm), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_create(t, "Homes", "UTC", "EUR", "Al", "al@x.test", &a, NULL), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_create(NULL, "Homes", "UTC", "EUR", "Al", "al@x.test", &a, &adm), TESORO_EMISUSE, NULL);
  assert_int_equal(a, 0);
  assert_int_equal(adm, 0);
  free(long_name);
  free(long_email);
}

static void test_agency_create_defaults_to_utc_and_stores_text_exactly(void **state) {
  W;
  int64_t a = 0, adm = 0, a2 = 0, adm2 = 0;
  const char *name = "Makelaardij \xC4\xB2ssel \xE2\x80\x93 \xE2\x80\x98t Gooi";
  char *max_name = tu_long_string(TESORO_MAX_NAME);
  int kind = 0;
  int64_t ag = 0;
  TU_OK(w, tesoro_agency_create(w->t, name, NULL, "EUR", "Ina", "ina@x.test", &a, &adm));
  TU_OK(w, tesoro_agency_create(w->t, max_name, "", "USD", "Ivo", "ivo@x.test", &a2, &adm2));
  TU_TEXT_IS(tu_row_text(w, "agency", a, "timezone"), "UTC");
  TU_TEXT_IS(tu_row_text(w, "agency", a2, "timezone"), "UTC");
  TU_TEXT_IS(tu_row_text(w, "agency", a, "name"), name);
  /* the first admin is an agent of the new agency */
  TU_OK(w, tesoro_actor_info(w->t, adm, &kind, &ag, NULL));
  assert_int_equal(kind, TESORO_ACTOR_AGENT);
  assert_int_equal(ag, a);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM actor WHERE id = %lld AND role = 'admin'", (long long)adm), 1);
  /* with a website and a system actor */
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM actor WHERE agency_id = %lld AND kind IN ('website', 'system')", (long long)a), 2);
  free(max_name);
}

static void test_agency_website_actor_only_for_own_staff(void **state) {
  W;
  int64_t site = 0;
  int kind = 0;
  int64_t ag = 0;
  TU_OK(w, tesoro_agency_website_actor(w->t, w->agent, w->agency, &site));
  assert_int_equal(site, w->website);
  TU_OK(w, tesoro_actor_info(w->t, w->website, &kind, &ag, NULL));
  assert_int_equal(kind, TESORO_ACTOR_WEBSITE);
  assert_int_equal(ag, w->agency);
  site = 0;
  TU_ASSERT_REFUSED(w, tesoro_agency_website_actor(w->t, w->other_admin, w->agency, &site), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_website_actor(w->t, w->client, w->agency, &site), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_website_actor(w->t, w->agent, NOID, &site), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_website_actor(w->t, NOID, w->agency, &site), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_website_actor(w->t, w->agent, w->agency, NULL), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_website_actor(NULL, w->agent, w->agency, &site), TESORO_EMISUSE, NULL);
  assert_int_equal(site, 0);
}

static void test_agent_create_only_by_admin(void **state) {
  W;
  int64_t a = 0;
  int kind = 0;
  int64_t ag = 0;
  TU_ASSERT_REFUSED(w, tesoro_agent_create(w->t, w->agent, "Zed", "zed@tesoro.test", TESORO_ROLE_AGENT, &a), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agent_create(w->t, w->closings, "Zed", "zed@tesoro.test", TESORO_ROLE_AGENT, &a), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agent_create(w->t, w->website, "Zed", "zed@tesoro.test", TESORO_ROLE_AGENT, &a), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agent_create(w->t, w->client, "Zed", "zed@tesoro.test", TESORO_ROLE_AGENT, &a), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agent_create(w->t, NOID, "Zed", "zed@tesoro.test", TESORO_ROLE_AGENT, &a), TESORO_ENOTFOUND, NULL);
  assert_int_equal(a, 0);
  /* another agency's admin adds staff to its own agency only */
  TU_OK(w, tesoro_agent_create(w->t, w->other_admin, "Zed", "zed@tesoro.test", TESORO_ROLE_ADMIN, &a));
  TU_OK(w, tesoro_actor_info(w->t, a, &kind, &ag, NULL));
  assert_int_equal(kind, TESORO_ACTOR_AGENT);
  assert_int_equal(ag, w->other_agency);
}

static void test_agent_email_unique_per_agency_case_insensitive(void **state) {
  W;
  int64_t a = 0;
  TU_ASSERT_REFUSED(w, tesoro_agent_create(w->t, w->admin, "Andy Two", "ANDY@Tesoro.Test", TESORO_ROLE_AGENT, &a), TESORO_EEXISTS, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agent_create(w->t, w->admin, "Andy Two", "andy@tesoro.test", TESORO_ROLE_CLOSINGS, &a), TESORO_EEXISTS, NULL);
  /* the same address is free in another agency */
  TU_OK(w, tesoro_agent_create(w->t, w->other_admin, "Andy Elsewhere", "andy@tesoro.test", TESORO_ROLE_AGENT, &a));
  assert_true(a > 0);
}

static void test_agent_create_refuses_bad_input(void **state) {
  W;
  int64_t a = 0;
  char *ln = tu_long_string(TESORO_MAX_NAME + 1);
  TU_ASSERT_REFUSED(w, tesoro_agent_create(w->t, w->admin, "Zed", "zed@tesoro.test", 0, &a), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agent_create(w->t, w->admin, "Zed", "zed@tesoro.test", 4, &a), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agent_create(w->t, w->admin, "Zed", "zed@tesoro.test", -1, &a), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agent_create(w->t, w->admin, NULL, "zed@tesoro.test", TESORO_ROLE_AGENT, &a), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agent_create(w->t, w->admin, "", "zed@tesoro.test", TESORO_ROLE_AGENT, &a), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agent_create(w->t, w->admin, ln, "zed@tesoro.test", TESORO_ROLE_AGENT, &a), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agent_create(w->t, w->admin, TU_BAD_UTF8, "zed@tesoro.test", TESORO_ROLE_AGENT, &a), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agent_create(w->t, w->admin, "Zed", NULL, TESORO_ROLE_AGENT, &a), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agent_create(w->t, w->admin, "Zed", "", TESORO_ROLE_AGENT, &a), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agent_create(w->t, w->admin, "Zed", "zed-at-tesoro", TESORO_ROLE_AGENT, &a), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agent_create(w->t, w->admin, "Zed", "zed@tesoro.test", TESORO_ROLE_AGENT, NULL), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agent_create(NULL, w->admin, "Zed", "zed@tesoro.test", TESORO_ROLE_AGENT, &a), TESORO_EMISUSE, NULL);
  assert_int_equal(a, 0);
  free(ln);
}

static void test_actor_info_reports_kind_agency_contact(void **state) {
  W;
  int kind = 0;
  int64_t ag = 0, c = -1;
  TU_OK(w, tesoro_actor_info(w->t, w->admin, &kind, &ag, &c));
  assert_int_equal(kind, TESORO_ACTOR_AGENT);
  assert_int_equal(ag, w->agency);
  assert_int_equal(c, 0);
  TU_OK(w, tesoro_actor_info(w->t, w->client, &kind, &ag, &c));
  assert_int_equal(kind, TESORO_ACTOR_CLIENT);
  assert_int_equal(ag, w->agency);
  assert_int_equal(c, w->contact);
  TU_OK(w, tesoro_actor_info(w->t, w->other_website, &kind, &ag, &c));
  assert_int_equal(kind, TESORO_ACTOR_WEBSITE);
  assert_int_equal(ag, w->other_agency);
  assert_int_equal(c, 0);
  TU_OK(w, tesoro_actor_info(w->t, w->other_client, NULL, &ag, NULL));
  assert_int_equal(ag, w->other_agency);
  TU_ASSERT_REFUSED(w, tesoro_actor_info(w->t, NOID, &kind, &ag, &c), TESORO_ENOTFOUND, NULL);
  /* ids are always > 0: 0 is an out-of-range number */
  TU_ASSERT_REFUSED(w, tesoro_actor_info(w->t, 0, &kind, &ag, &c), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_actor_info(NULL, w->admin, &kind, &ag, &c), TESORO_EMISUSE, NULL);
}

/* ========================================================================
** Contacts.
*/
static void test_contact_create_assigns_creator_and_client_actor(void **state) {
  W;
  int64_t c = 0, cl = 0, c2 = 0;
  int kind = 0;
  int64_t ag = 0, cc = 0;
  TU_OK(w, tesoro_contact_create(w->t, w->agent2, "Cleo Client", NULL, NULL, NULL, &c));
  assert_int_equal(tu_sqlf(w, "SELECT assigned_agent_id FROM contact WHERE id = %lld", (long long)c), w->agent2);
  assert_int_equal(tu_sqlf(w, "SELECT agency_id FROM contact WHERE id = %lld", (long long)c), w->agency);
  TU_OK(w, tesoro_contact_client_actor(w->t, w->agent, c, &cl));
  TU_OK(w, tesoro_actor_info(w->t, cl, &kind, &ag, &cc));
  assert_int_equal(kind, TESORO_ACTOR_CLIENT);
  assert_int_equal(ag, w->agency);
  assert_int_equal(cc, c);
  /* exactly one client actor per contact: the same id again */
  TU_OK(w, tesoro_contact_client_actor(w->t, w->admin, c, &c2));
  assert_int_equal(c2, cl);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM actor WHERE contact_id = %lld", (long long)c), 1);
}

static void test_contact_email_unique_per_agency_case_insensitive(void **state) {
  W;
  int64_t c = 0;
  TU_ASSERT_REFUSED(w, tesoro_contact_create(w->t, w->agent, "Ada Again", "ADA@Example.COM", NULL, NULL, &c), TESORO_EEXISTS, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_create(w->t, w->agent2, "Ada Again", "ada@example.com", NULL, NULL, &c), TESORO_EEXISTS, NULL);
  assert_int_equal(c, 0);
  TU_OK(w, tesoro_contact_create(w->t, w->other_agent, "Ada Elsewhere", "ada@example.com", NULL, NULL, &c));
  assert_true(c > 0);
  /* contacts without e-mail do not collide */
  TU_OK(w, tesoro_contact_create(w->t, w->agent, "No Mail", NULL, NULL, NULL, &c));
  TU_OK(w, tesoro_contact_create(w->t, w->agent, "No Mail", NULL, NULL, NULL, &c));
}

static void test_contact_create_only_by_staff(void **state) {
  W;
  int64_t c = 0;
  TU_ASSERT_REFUSED(w, tesoro_contact_create(w->t, w->website, "Web Person", "web@example.com", NULL, NULL, &c), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_create(w->t, w->client, "Self Made", "self@example.com", NULL, NULL, &c), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_create(w->t, NOID, "Nobody", "nobody@example.com", NULL, NULL, &c), TESORO_ENOTFOUND, NULL);
  assert_int_equal(c, 0);
  /* staff of every role may */
  TU_OK(w, tesoro_contact_create(w->t, w->closings, "Closing Carl's Lead", "lead@example.com", NULL, NULL, &c));
  TU_OK(w, tesoro_contact_create(w->t, w->admin, "Admin's Lead", "lead2@example.com", NULL, NULL, &c));
}

static void test_contact_create_refuses_bad_input(void **state) {
  W;
  int64_t c = 0;
  char *ln = tu_long_string(TESORO_MAX_NAME + 1);
  char *le = tu_long_string(TESORO_MAX_EMAIL + 1);
  char *lp = tu_long_string(TESORO_MAX_PHONE + 1);
  TU_ASSERT_REFUSED(w, tesoro_contact_create(w->t, w->agent, NULL, "x@example.com", NULL, NULL, &c), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_create(w->t, w->agent, "", "x@example.com", NULL, NULL, &c), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_create(w->t, w->agent, ln, "x@example.com", NULL, NULL, &c), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_create(w->t, w->agent, TU_BAD_UTF8, "x@example.com", NULL, NULL, &c), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_create(w->t, w->agent, "Xavier", le, NULL, NULL, &c), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_create(w->t, w->agent, "Xavier", "x@example.com" "\xC3\x28", NULL, NULL, &c), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_create(w->t, w->agent, "Xavier", "x@example.com", lp, NULL, &c), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_create(w->t, w->agent, "Xavier", "x@example.com", TU_BAD_UTF8, NULL, &c), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_create(w->t, w->agent, "Xavier", "x@example.com", NULL, TU_BAD_UTF8, &c), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_create(w->t, w->agent, "Xavier", "x@example.com", NULL, NULL, NULL), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_create(NULL, w->agent, "Xavier", "x@example.com", NULL, NULL, &c), TESORO_EMISUSE, NULL);
  assert_int_equal(c, 0);
  free(ln);
  free(le);
  free(lp);
}

static void test_contact_text_stored_exactly(void **state) {
  W;
  int64_t c = 0;
  const char *name = "Zo\xC3\xAB O\xE2\x80\x99" "Brien-\xC4\xB2sselmeer  \xF0\x9F\x8F\xA0";
  char *max = tu_long_string(TESORO_MAX_NAME);
  TU_OK(w, tesoro_contact_create(w->t, w->agent, name, "Zoe@Example.com", "+31 (0)20 123", "pt-BR", &c));
  TU_TEXT_IS(tu_row_text(w, "contact", c, "name"), name);
  TU_TEXT_IS(tu_row_text(w, "contact", c, "email"), "Zoe@Example.com");
  TU_TEXT_IS(tu_row_text(w, "contact", c, "language"), "pt-BR");
  /* the maximum length is accepted */
  TU_OK(w, tesoro_contact_create(w->t, w->agent, max, NULL, NULL, NULL, &c));
  free(max);
}

static void test_contact_assign_within_agency_only(void **state) {
  W;
  TU_ASSERT_REFUSED(w, tesoro_contact_assign(w->t, w->agent, w->contact, w->other_agent, 0), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_assign(w->t, w->client, w->contact, w->agent2, 0), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_assign(w->t, w->website, w->contact, w->agent2, 0), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_assign(w->t, w->other_agent, w->contact, w->other_agent, 0), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_assign(w->t, w->other_admin, w->contact, w->agent2, 0), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_assign(w->t, w->agent, NOID, w->agent2, 0), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_assign(w->t, w->agent, w->contact, NOID, 0), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_assign(NULL, w->agent, w->contact, w->agent2, 0), TESORO_EMISUSE, NULL);
  TU_OK(w, tesoro_contact_assign(w->t, w->agent, w->contact, w->agent2, 0));
  assert_int_equal(tu_sqlf(w, "SELECT assigned_agent_id FROM contact WHERE id = %lld", (long long)w->contact), w->agent2);
}

static void test_contact_assign_stale_version_conflicts(void **state) {
  W;
  int64_t v = entity_version(w, w->agent, TESORO_ENTITY_CONTACT, w->contact2);
  assert_true(v >= 1);
  TU_ASSERT_REFUSED(w, tesoro_contact_assign(w->t, w->agent, w->contact2, w->agent, v - 1 > 0 ? v - 1 : v + 1), TESORO_ECONFLICT, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_assign(w->t, w->agent, w->contact2, w->agent, v + 7), TESORO_ECONFLICT, NULL);
  TU_OK(w, tesoro_contact_assign(w->t, w->agent, w->contact2, w->agent, v));
  assert_int_equal(entity_version(w, w->agent, TESORO_ENTITY_CONTACT, w->contact2), v + 1);
  /* the version just used is stale now */
  TU_ASSERT_REFUSED(w, tesoro_contact_assign(w->t, w->agent, w->contact2, w->agent2, v), TESORO_ECONFLICT, NULL);
  /* 0 skips the check */
  TU_OK(w, tesoro_contact_assign(w->t, w->agent, w->contact2, w->agent2, 0));
  assert_int_equal(entity_version(w, w->agent, TESORO_ENTITY_CONTACT, w->contact2), v + 2);
}

/* Staff only: the website is only the website, and must not become any
   contact's client (it could read their data as them). */
static void test_contact_client_actor_staff_of_agency(void **state) {
  W;
  int64_t cl = 0;
  TU_OK(w, tesoro_contact_client_actor(w->t, w->agent2, w->contact, &cl));
  assert_int_equal(cl, w->client);
  cl = 0;
  TU_ASSERT_REFUSED(w, tesoro_contact_client_actor(w->t, w->other_agent, w->contact, &cl), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_client_actor(w->t, w->other_website, w->contact, &cl), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_client_actor(w->t, w->website, w->contact, &cl), TESORO_EDENIED, "only staff");
  TU_ASSERT_REFUSED(w, tesoro_contact_client_actor(w->t, w->client2, w->contact, &cl), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_client_actor(w->t, w->agent, NOID, &cl), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_client_actor(w->t, w->agent, w->contact, NULL), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_client_actor(NULL, w->agent, w->contact, &cl), TESORO_EMISUSE, NULL);
  assert_int_equal(cl, 0);
}

/* ========================================================================
** Entities: JSON and state, tenancy.
*/
static void test_entity_json_has_fields_state_and_version(void **state) {
  W;
  char *json = NULL;
  int64_t room = submit_request(w, NULL);
  const char *st = NULL;
  int64_t v = 0;
  TU_OK(w, tesoro_entity_json(w->t, w->agent, TESORO_ENTITY_CONTACT, w->contact, &json));
  assert_true(json_has_text(json, "$.name", "Ada Owner"));
  assert_true(json_has_text(json, "$.email", "ada@example.com"));
  assert_true(json_int(json, "$.version") >= 1);
  tesoro_free(json);
  json = NULL;
  TU_OK(w, tesoro_entity_json(w->t, w->agent, TESORO_ENTITY_ROOM, room, &json));
  assert_true(json_has_text(json, "$.state", "open"));
  assert_int_equal(json_int(json, "$.version"), 1);
  tesoro_free(json);
  json = NULL;
  /* the room's client sees the room */
  TU_OK(w, tesoro_entity_json(w->t, w->client, TESORO_ENTITY_ROOM, room, &json));
  tesoro_free(json);
  TU_OK(w, tesoro_entity_state(w->t, w->agent, TESORO_ENTITY_ROOM, room, &st, &v));
  assert_non_null(st);
  assert_string_equal(st, "open");
  assert_int_equal(v, 1);
  TU_OK(w, tesoro_entity_state(w->t, w->agent, TESORO_ENTITY_ROOM, room, NULL, NULL));
}

static void test_entity_of_other_agency_is_denied(void **state) {
  W;
  char *json = NULL;
  const char *st = NULL;
  int64_t v = 0, oroom = 0, oclient = 0, room = submit_request(w, NULL);
  TU_OK(w, tesoro_contact_request_submit(w->t, w->other_website, "Otto Owner", "otto@example.com", TESORO_PROPERTY_LAND, "Leeds", 0, NULL, NULL, &oroom, &oclient));
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, w->other_agent, TESORO_ENTITY_CONTACT, w->contact, &json), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, w->agent, TESORO_ENTITY_CONTACT, w->other_contact, &json), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, w->agent, TESORO_ENTITY_ROOM, oroom, &json), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, w->other_client, TESORO_ENTITY_ROOM, room, &json), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_state(w->t, w->other_agent, TESORO_ENTITY_ROOM, room, &st, &v), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_state(w->t, w->agent, TESORO_ENTITY_ROOM, oroom, &st, &v), TESORO_EDENIED, NULL);
  /* a client sees only their own contact's data */
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, w->client2, TESORO_ENTITY_ROOM, room, &json), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, w->client2, TESORO_ENTITY_CONTACT, w->contact, &json), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_state(w->t, w->client2, TESORO_ENTITY_ROOM, room, &st, &v), TESORO_EDENIED, NULL);
  assert_null(json);
  assert_null(st);
  assert_int_equal(v, 0);
}

static void test_entity_queries_refuse_bad_input(void **state) {
  W;
  char *json = NULL;
  const char *st = NULL;
  int64_t v = 0, room = submit_request(w, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, w->agent, TESORO_ENTITY_ROOM, NOID, &json), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, w->agent, TESORO_ENTITY_CONTACT, NOID, &json), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, w->agent, TESORO_ENTITY_MANDATE, NOID, &json), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, w->agent, TESORO_ENTITY_LISTING, NOID, &json), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, w->agent, TESORO_ENTITY_TASK, NOID, &json), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, w->agent, 0, room, &json), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, w->agent, 99, room, &json), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, w->agent, TESORO_ENTITY_ROOM, room, NULL), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, NOID, TESORO_ENTITY_ROOM, room, &json), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_json(NULL, w->agent, TESORO_ENTITY_ROOM, room, &json), TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_state(w->t, w->agent, TESORO_ENTITY_ROOM, NOID, &st, &v), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_state(w->t, w->agent, 0, room, &st, &v), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_state(w->t, w->agent, 42, room, &st, &v), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_state(NULL, w->agent, TESORO_ENTITY_ROOM, room, &st, &v), TESORO_EMISUSE, NULL);
  assert_null(json);
  assert_null(st);
}

/* ========================================================================
** The engine: history, allowed events, diagrams.
*/
static void test_history_records_create_with_documented_columns(void **state) {
  W;
  static const char *cols[] = {"seq", "event", "from_state", "to_state",
                               "actor_id", "actor_kind", "at", "details"};
  tesoro_cursor *c = NULL;
  int64_t room = submit_request(w, NULL);
  int i;
  TU_OK(w, tesoro_history(w->t, w->agent, TESORO_ENTITY_ROOM, room, &c));
  assert_int_equal(tesoro_cursor_columns(c), 8);
  for (i = 0; i < 8; i++) {
    assert_non_null(tesoro_cursor_name(c, i));
    assert_string_equal(tesoro_cursor_name(c, i), cols[i]);
  }
  assert_int_equal(tesoro_cursor_next(c), TESORO_ROW);
  assert_int_equal(tu_col_int(c, "seq"), 1);
  assert_non_null(tu_col_text(c, "event"));
  assert_string_equal(tu_col_text(c, "event"), "create");
  assert_non_null(tu_col_text(c, "to_state"));
  assert_string_equal(tu_col_text(c, "to_state"), "open");
  assert_int_equal(tu_col_int(c, "actor_id"), w->website);
  assert_int_equal(tu_col_int(c, "at"), TU_NOW);
  assert_int_equal(tesoro_cursor_next(c), TESORO_DONE);
  tesoro_cursor_free(c);

  /* each transition appends one row, seq = the entity's new version */
  TU_OK(w, tesoro_room_mark_lost(w->t, w->agent, room, "Sold privately", 1));
  TU_OK(w, tesoro_history(w->t, w->agent, TESORO_ENTITY_ROOM, room, &c));
  assert_int_equal(tesoro_cursor_next(c), TESORO_ROW);
  assert_int_equal(tesoro_cursor_next(c), TESORO_ROW);
  assert_int_equal(tu_col_int(c, "seq"), 2);
  assert_string_equal(tu_col_text(c, "event"), "mark_lost");
  assert_string_equal(tu_col_text(c, "from_state"), "open");
  assert_string_equal(tu_col_text(c, "to_state"), "lost");
  assert_int_equal(tu_col_int(c, "actor_id"), w->agent);
  assert_int_equal(tesoro_cursor_next(c), TESORO_DONE);
  tesoro_cursor_free(c);
  assert_int_equal(entity_version(w, w->agent, TESORO_ENTITY_ROOM, room), 2);
  /* the room's client may read it; others may not */
  TU_OK(w, tesoro_history(w->t, w->client, TESORO_ENTITY_ROOM, room, &c));
  assert_int_equal(tu_count(c), 2);
}

/* A call that answers a cursor over one entity: tesoro_history,
   tesoro_allowed_events. */
typedef int (*entity_cursor_fn)(tesoro *t, int64_t actor, int entity,
                                int64_t id, tesoro_cursor **out);

/* fn refuses a room to another agency's agent (and to `outsider` when not
   0), an unknown room, entity type `bad_entity` and a NULL out, each with
   the database unchanged and no cursor; a NULL handle is misuse. */
static void entity_cursor_refusals(tu_world *w, entity_cursor_fn fn,
                                   int64_t outsider, int bad_entity) {
  tesoro_cursor *c = NULL;
  int64_t room = submit_request(w, NULL);
  const int R = TESORO_ENTITY_ROOM;
  TU_ASSERT_REFUSED(w, fn(w->t, w->other_agent, R, room, &c), TESORO_EDENIED,
                    NULL);
  if (outsider)
    TU_ASSERT_REFUSED(w, fn(w->t, outsider, R, room, &c), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, fn(w->t, w->agent, R, NOID, &c), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, fn(w->t, w->agent, bad_entity, room, &c), TESORO_EINVAL,
                    NULL);
  TU_ASSERT_REFUSED(w, fn(w->t, w->agent, R, room, NULL), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, fn(NULL, w->agent, R, room, &c), TESORO_EMISUSE, NULL);
  assert_null(c);
}

static void test_history_refuses_other_agency_and_bad_input(void **state) {
  W;
  entity_cursor_refusals(w, tesoro_history, w->client2, 77);
}

/* Find the row of `event` in an allowed-events cursor; returns 1 if found. */
static int allowed_row(tu_world *w, int64_t actor, int64_t room,
                       const char *event, int *allowed, int *code,
                       int *has_reason) {
  tesoro_cursor *c = NULL;
  int found = 0;
  TU_OK(w, tesoro_allowed_events(w->t, actor, TESORO_ENTITY_ROOM, room, &c));
  TU_HAS_COLUMNS(c, "event", "to_state", "allowed", "code", "reason");
  while (tesoro_cursor_next(c) == TESORO_ROW) {
    const char *e = tu_col_text(c, "event");
    if (e && strcmp(e, event) == 0 && !found) {
      found = 1;
      *allowed = (int)tu_col_int(c, "allowed");
      *code = (int)tu_col_int(c, "code");
      *has_reason = tu_col_text(c, "reason") != NULL;
    }
  }
  tesoro_cursor_free(c);
  return found;
}

static void test_allowed_lists_events_for_actor_now(void **state) {
  W;
  static const char *events[] = {"start_onboarding", "mark_lost", "close"};
  int64_t room = submit_request(w, NULL), m = 0;
  int allowed, code, reason;
  size_t i;
  for (i = 0; i < 3; i++) {
    assert_true(allowed_row(w, w->agent, room, events[i], &allowed, &code, &reason));
    assert_int_equal(allowed, 1);
    assert_int_equal(code, TESORO_OK);
    assert_false(reason);
    assert_true(allowed_row(w, w->client, room, events[i], &allowed, &code, &reason));
    assert_int_equal(allowed, 0);
    assert_int_equal(code, TESORO_EDENIED);
    assert_true(reason);
  }
  TU_OK(w, tesoro_room_mark_lost(w->t, w->agent, room, "Owner chose another agency", 0));
  assert_true(allowed_row(w, w->agent, room, "start_onboarding", &allowed, &code, &reason));
  assert_int_equal(allowed, 0);
  assert_int_equal(code, TESORO_ESTATE);
  assert_true(reason);
  /* and the call itself agrees, naming the entity and its state */
  TU_ASSERT_REFUSED(w, tesoro_room_start_onboarding(w->t, w->agent, room, 0, 0, &m), TESORO_ESTATE, "lost");
  assert_int_equal(m, 0);
  msg_has(w, "room");
}

static void test_allowed_refuses_other_agency_and_bad_input(void **state) {
  W;
  entity_cursor_refusals(w, tesoro_allowed_events, 0, 0);
}

static void check_dot(int kind, const char *const *words) {
  char *dot = NULL;
  assert_int_equal(tesoro_machine_diagram(kind, TESORO_DIAGRAM_DOT, &dot), TESORO_OK);
  assert_non_null(dot);
  assert_memory_equal(dot, "digraph", 7);
  for (; *words; words++) {
    if (!strstr(dot, *words)) {
      print_error("DOT of machine %d lacks \"%s\":\n%s\n", kind, *words, dot);
      tesoro_free(dot);
      fail();
    }
  }
  tesoro_free(dot);
}

static void test_machine_dot_renders_every_machine(void **state) {
  static const char *const room[] = {"start_onboarding", "mark_lost", "close",
                                     "open", "in_progress", "lost", "closed",
                                     "successful", "->", NULL};
  static const char *const mandate[] = {
      "propose", "accept", "share_form", "submit_form", "request_changes",
      "validate", "cancel", "draft", "negotiating", "terms_agreed",
      "form_shared", "form_submitted", "validated", "cancelled", NULL};
  static const char *const listing[] = {"fill", "publish", "unpublish",
                                        "expire", "placeholder", "draft",
                                        "published", "unpublished", NULL};
  static const char *const task[] = {"open", "done", "cancelled", NULL};
  char *dot = NULL;
  (void)state;
  check_dot(TESORO_ENTITY_ROOM, room);
  check_dot(TESORO_ENTITY_MANDATE, mandate);
  check_dot(TESORO_ENTITY_LISTING, listing);
  check_dot(TESORO_ENTITY_TASK, task);
  assert_int_equal(tesoro_machine_diagram(0, TESORO_DIAGRAM_DOT, &dot), TESORO_EINVAL);
  assert_int_equal(tesoro_machine_diagram(99, TESORO_DIAGRAM_DOT, &dot), TESORO_EINVAL);
  assert_int_equal(tesoro_machine_diagram(TESORO_ENTITY_CONTACT, TESORO_DIAGRAM_DOT, &dot), TESORO_EINVAL);
  assert_null(dot);
  assert_int_equal(tesoro_machine_diagram(TESORO_ENTITY_ROOM, TESORO_DIAGRAM_DOT, NULL), TESORO_EINVAL);
}

/* ========================================================================
** Activity timeline.
*/
static void test_activities_show_contact_request(void **state) {
  W;
  tesoro_cursor *c = NULL;
  int64_t room = submit_request(w, NULL);
  int found = 0;
  TU_OK(w, tesoro_activities(w->t, w->agent, w->contact, &c));
  TU_HAS_COLUMNS(c, "id", "kind", "actor_id", "at", "summary");
  while (tesoro_cursor_next(c) == TESORO_ROW) {
    if (tu_col_int(c, "entity") == TESORO_ENTITY_ROOM &&
        tu_col_int(c, "entity_id") == room) {
      found = 1;
      assert_int_equal(tu_col_int(c, "at"), TU_NOW);
      assert_non_null(tu_col_text(c, "summary"));
    }
  }
  tesoro_cursor_free(c);
  assert_true(found);
  /* the contact's own client sees the timeline too */
  TU_OK(w, tesoro_activities(w->t, w->client, w->contact, &c));
  assert_true(tu_count(c) >= 1);
  /* the other contact's timeline does not have it */
  TU_OK(w, tesoro_activities(w->t, w->agent, w->contact2, &c));
  while (tesoro_cursor_next(c) == TESORO_ROW)
    assert_false(tu_col_int(c, "entity") == TESORO_ENTITY_ROOM &&
                 tu_col_int(c, "entity_id") == room);
  tesoro_cursor_free(c);
}

static void test_activities_newest_first(void **state) {
  W;
  tesoro_cursor *c = NULL;
  int64_t prev = INT64_MAX, prev_id = 0, n = 0;
  submit_request(w, NULL);
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 3600));
  submit_request(w, NULL);
  submit_request(w, NULL); /* the same second: the later line first */
  TU_OK(w, tesoro_activities(w->t, w->agent, w->contact, &c));
  while (tesoro_cursor_next(c) == TESORO_ROW) {
    int64_t at = tu_col_int(c, "at"), id = tu_col_int(c, "id");
    assert_true(at <= prev);
    if (n == 0) assert_int_equal(at, TU_NOW + 3600);
    /* the contact's lines are numbered 1, 2, ... in the order written */
    if (n > 0) assert_int_equal(id, prev_id - 1);
    prev = at;
    prev_id = id;
    n++;
  }
  tesoro_cursor_free(c);
  assert_true(n >= 3);
  assert_int_equal(prev_id, 1);
}

static void test_activities_refuse_other_agency_and_other_client(void **state) {
  W;
  tesoro_cursor *c = NULL;
  submit_request(w, NULL);
  TU_ASSERT_REFUSED(w, tesoro_activities(w->t, w->other_agent, w->contact, &c), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_activities(w->t, w->client2, w->contact, &c), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_activities(w->t, w->other_client, w->contact, &c), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_activities(w->t, w->agent, NOID, &c), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_activities(w->t, w->agent, w->contact, NULL), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_activities(NULL, w->agent, w->contact, &c), TESORO_EMISUSE, NULL);
  assert_null(c);
}

/* ========================================================================
** Tasks.
*/
static void test_tasks_list_open_tasks_with_columns(void **state) {
  W;
  static const char *cols[] = {"id", "kind", "title", "state", "entity",
                               "entity_id", "assignee_id", "created_at",
                               "version"};
  tesoro_cursor *c = NULL;
  int64_t room, mandate, n = 0;
  size_t i;
  walk_to_submitted(w, &room, &mandate);
  TU_OK(w, tesoro_tasks(w->t, w->agent, 0, 0, &c));
  for (i = 0; i < sizeof cols / sizeof cols[0]; i++)
    assert_true(tesoro_cursor_index(c, cols[i]) >= 0);
  while (tesoro_cursor_next(c) == TESORO_ROW) {
    assert_string_equal(tu_col_text(c, "state"), "open");
    if (tu_col_int(c, "entity") == TESORO_ENTITY_MANDATE &&
        tu_col_int(c, "entity_id") == mandate &&
        strstr(tu_col_text(c, "title"), "review seller form")) {
      n++;
      assert_int_equal(tu_col_int(c, "created_at"), TU_NOW);
      assert_int_equal(tu_col_int(c, "version"), 1);
    }
  }
  tesoro_cursor_free(c);
  assert_int_equal(n, 1);
  /* filtered by entity */
  TU_OK(w, tesoro_tasks(w->t, w->agent, TESORO_ENTITY_MANDATE, mandate, &c));
  assert_true(tu_count(c) >= 1);
  TU_OK(w, tesoro_tasks(w->t, w->agent, TESORO_ENTITY_ROOM, room, &c));
  while (tesoro_cursor_next(c) == TESORO_ROW) {
    assert_int_equal(tu_col_int(c, "entity"), TESORO_ENTITY_ROOM);
    assert_int_equal(tu_col_int(c, "entity_id"), room);
  }
  tesoro_cursor_free(c);
  c = NULL;
  TU_ASSERT_REFUSED(w, tesoro_tasks(w->t, w->agent, TESORO_ENTITY_MANDATE, NOID, &c), TESORO_ENOTFOUND, NULL);
  assert_null(c);
  /* another agency sees none of them */
  TU_OK(w, tesoro_tasks(w->t, w->other_agent, 0, 0, &c));
  assert_int_equal(tu_count(c), 0);
}

static void test_task_complete_once_by_staff(void **state) {
  W;
  tesoro_cursor *c = NULL;
  int64_t room, mandate, task;
  const char *st = NULL;
  int64_t v = 0;
  walk_to_submitted(w, &room, &mandate);
  task = find_task(w, TESORO_ENTITY_MANDATE, mandate, "review seller form");
  assert_true(task > 0);
  TU_ASSERT_REFUSED(w, tesoro_task_complete(w->t, w->client, task, 0), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_task_complete(w->t, w->website, task, 0), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_task_complete(w->t, w->other_agent, task, 0), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_task_complete(w->t, w->agent, task, 5), TESORO_ECONFLICT, NULL);
  TU_ASSERT_REFUSED(w, tesoro_task_complete(w->t, w->agent, NOID, 0), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_task_complete(NULL, w->agent, task, 0), TESORO_EMISUSE, NULL);
  TU_OK(w, tesoro_task_complete(w->t, w->agent2, task, 1));
  TU_OK(w, tesoro_entity_state(w->t, w->agent, TESORO_ENTITY_TASK, task, &st, &v));
  assert_string_equal(st, "done");
  assert_int_equal(v, 2);
  TU_ASSERT_REFUSED(w, tesoro_task_complete(w->t, w->agent, task, 0), TESORO_ESTATE, "done");
  msg_has(w, "task");
  TU_ASSERT_REFUSED(w, tesoro_task_cancel(w->t, w->agent, task, 0), TESORO_ESTATE, "done");
  /* no longer listed as open */
  TU_OK(w, tesoro_tasks(w->t, w->agent, TESORO_ENTITY_MANDATE, mandate, &c));
  while (tesoro_cursor_next(c) == TESORO_ROW) assert_int_not_equal(tu_col_int(c, "id"), task);
  tesoro_cursor_free(c);
}

static void test_task_cancel_by_staff(void **state) {
  W;
  int64_t room, mandate, task;
  walk_to_submitted(w, &room, &mandate);
  task = find_task(w, TESORO_ENTITY_MANDATE, mandate, "review seller form");
  assert_true(task > 0);
  TU_ASSERT_REFUSED(w, tesoro_task_cancel(w->t, w->client, task, 0), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_task_cancel(w->t, w->other_admin, task, 0), TESORO_EDENIED, NULL);
  TU_OK(w, tesoro_task_cancel(w->t, w->agent, task, 0));
  assert_string_equal(state_of(w, TESORO_ENTITY_TASK, task), "cancelled");
  TU_ASSERT_REFUSED(w, tesoro_task_complete(w->t, w->agent, task, 0), TESORO_ESTATE, "cancelled");
}

static void test_tasks_refuse_bad_input(void **state) {
  W;
  tesoro_cursor *c = NULL;
  TU_ASSERT_REFUSED(w, tesoro_tasks(w->t, w->client, 0, 0, &c), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_tasks(w->t, w->website, 0, 0, &c), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_tasks(w->t, NOID, 0, 0, &c), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_tasks(w->t, w->agent, 99, 1, &c), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_tasks(w->t, w->agent, 0, 0, NULL), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_tasks(NULL, w->agent, 0, 0, &c), TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_task_cancel(w->t, w->agent, NOID, 0), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_task_cancel(NULL, w->agent, 1, 0), TESORO_EMISUSE, NULL);
  assert_null(c);
}

/* ========================================================================
** Outbox.
*/
static void test_outbox_rows_written_with_the_change(void **state) {
  W;
  static const char *cols[] = {"id", "uid", "agency_id", "kind",
                               "recipient_id", "channel", "template",
                               "language", "payload", "entity", "entity_id",
                               "event", "old_state", "new_state", "seq",
                               "attempts", "created_at"};
  tesoro_cursor *c = NULL;
  int64_t pending0 = -1, pending1 = -1, room;
  int64_t ids[64];
  int n = 0, i, j, for_room = 0;
  TU_OK(w, tu_outbox_counts(w->t, &pending0, NULL, NULL));
  room = submit_request(w, NULL);
  TU_OK(w, tu_outbox_counts(w->t, &pending1, NULL, NULL));
  assert_true(pending1 > pending0);

  TU_OK(w, tesoro_outbox_fetch(w->t, w->agency, 10000, &c));
  for (i = 0; i < (int)(sizeof cols / sizeof cols[0]); i++) {
    if (tesoro_cursor_index(c, cols[i]) < 0) {
      print_error("outbox cursor lacks column %s\n", cols[i]);
      fail();
    }
  }
  while (tesoro_cursor_next(c) == TESORO_ROW) {
    static const char *const channels[] = {"crm", "push", "email", "website",
                                           "calendar"};
    int64_t id = tu_col_int(c, "id");
    char text[32];
    /* a delivery is (message, channel): id = message * 8 + channel number,
       the uid the same number as text */
    assert_true((id & 7) <= 4);
    assert_string_equal(tu_col_text(c, "channel"), channels[id & 7]);
    snprintf(text, sizeof text, "%lld", (long long)id);
    assert_string_equal(tu_col_text(c, "uid"), text);
    assert_true(n < 64);
    ids[n++] = id;
    assert_int_equal(tu_col_int(c, "agency_id"), w->agency);
    assert_int_equal(tu_col_int(c, "attempts"), 0);
    assert_non_null(tu_col_text(c, "payload"));
    assert_non_null(tu_col_text(c, "template"));
    assert_non_null(tu_col_text(c, "channel"));
    assert_non_null(tu_col_text(c, "language"));
    assert_non_null(tu_col_text(c, "event"));
    assert_true(tu_col_int(c, "seq") >= 1);
    if (tu_col_int(c, "entity") == TESORO_ENTITY_ROOM &&
        tu_col_int(c, "entity_id") == room) {
      for_room++;
      assert_string_equal(tu_col_text(c, "kind"), "notification");
      assert_int_equal(tu_col_int(c, "seq"), 1);
      assert_string_equal(tu_col_text(c, "event"), "create");
      assert_non_null(tu_col_text(c, "new_state"));
      assert_string_equal(tu_col_text(c, "new_state"), "open");
      assert_int_equal(tu_col_int(c, "created_at"), TU_NOW);
    }
  }
  tesoro_cursor_free(c);
  assert_true(for_room >= 1);
  for (i = 0; i < n; i++)
    for (j = i + 1; j < n; j++) assert_true(ids[i] != ids[j]);
  /* one row per message: the request's staff notification goes out on crm
     and email, two deliveries of one stored message */
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM outbox_delivery d JOIN history h "
                              "ON h.entity = d.entity AND h.entity_id = d.entity_id AND h.seq = "
                              "d.seq WHERE h.entity = %d AND "
                              "h.entity_id = %lld", TESORO_ENTITY_ROOM, (long long)room),
                   for_room);
  assert_true(tu_sqlf(w, "SELECT count(*) FROM outbox o JOIN history h ON "
                         "h.entity = o.entity AND h.entity_id = o.entity_id AND h.seq = o.seq "
                         "WHERE h.entity = %d AND h.entity_id = %lld",
                      TESORO_ENTITY_ROOM, (long long)room) < for_room);
}

/* After a transition: outbox event/old/new/seq equal the history row's. */
static void test_outbox_carries_history_states_and_seq(void **state) {
  W;
  tesoro_cursor *c = NULL;
  int64_t room, mandate, checked = 0;
  walk_to_submitted(w, &room, &mandate);
  TU_OK(w, tesoro_outbox_fetch(w->t, 0, 10000, &c));
  while (tesoro_cursor_next(c) == TESORO_ROW) {
    int entity = (int)tu_col_int(c, "entity");
    int64_t id = tu_col_int(c, "entity_id"), seq = tu_col_int(c, "seq");
    const char *ev = tu_col_text(c, "event");
    const char *os = tu_col_text(c, "old_state");
    const char *ns = tu_col_text(c, "new_state");
    tesoro_cursor *h = NULL;
    int matched = 0;
    if (entity != TESORO_ENTITY_ROOM && entity != TESORO_ENTITY_MANDATE) continue;
    TU_OK(w, tesoro_history(w->t, w->agent, entity, id, &h));
    while (tesoro_cursor_next(h) == TESORO_ROW) {
      const char *hf, *ht;
      if (tu_col_int(h, "seq") != seq) continue;
      matched = 1;
      hf = tu_col_text(h, "from_state");
      ht = tu_col_text(h, "to_state");
      assert_string_equal(ev, tu_col_text(h, "event"));
      if (hf) { assert_non_null(os); assert_string_equal(os, hf); }
      else assert_null(os);
      if (ht) { assert_non_null(ns); assert_string_equal(ns, ht); }
      else assert_null(ns);
    }
    tesoro_cursor_free(h);
    assert_true(matched);
    checked++;
  }
  tesoro_cursor_free(c);
  assert_true(checked >= 3);
}

static int64_t first_outbox_row(tu_world *w, int64_t *attempts) {
  tesoro_cursor *c = NULL;
  int64_t id = 0;
  TU_OK(w, tesoro_outbox_fetch(w->t, w->agency, 1, &c));
  if (tesoro_cursor_next(c) == TESORO_ROW) {
    id = tu_col_int(c, "id");
    if (attempts) *attempts = tu_col_int(c, "attempts");
  }
  tesoro_cursor_free(c);
  return id;
}

static int outbox_has(tu_world *w, int64_t id) {
  tesoro_cursor *c = NULL;
  int found = 0;
  TU_OK(w, tesoro_outbox_fetch(w->t, 0, 10000, &c));
  while (tesoro_cursor_next(c) == TESORO_ROW)
    if (tu_col_int(c, "id") == id) found = 1;
  tesoro_cursor_free(c);
  return found;
}

static void test_outbox_ack_delivers_once(void **state) {
  W;
  int64_t id, p0 = 0, d0 = 0, p1 = 0, d1 = 0, dead = -1;
  submit_request(w, NULL);
  id = first_outbox_row(w, NULL);
  assert_true(id > 0);
  TU_OK(w, tu_outbox_counts(w->t, &p0, &d0, &dead));
  TU_OK(w, tesoro_outbox_ack(w->t, id));
  assert_false(outbox_has(w, id));
  TU_OK(w, tu_outbox_counts(w->t, &p1, &d1, NULL));
  assert_int_equal(p1, p0 - 1);
  assert_int_equal(d1, d0 + 1);
  assert_int_equal(dead, 0);
  TU_ASSERT_REFUSED(w, tesoro_outbox_ack(w->t, id), TESORO_ESTATE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_outbox_ack(w->t, NOID), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_outbox_ack(w->t, 0), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_outbox_ack(NULL, id), TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_outbox_fail(w->t, NOID, "boom"), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_outbox_fail(NULL, id, "boom"), TESORO_EMISUSE, NULL);
}

static void test_outbox_fail_retries_with_doubling_backoff_then_dead(void **state) {
  W;
  int64_t id, attempts = -1, pending = 0, dead = -1, dead0 = -1;
  submit_request(w, NULL);
  TU_OK(w, tesoro_config(w->t, TESORO_CONFIG_OUTBOX_MAX_ATTEMPTS, 3));
  TU_OK(w, tu_outbox_counts(w->t, NULL, NULL, &dead0));
  id = first_outbox_row(w, NULL);
  assert_true(id > 0);

  TU_OK(w, tesoro_outbox_fail(w->t, id, "smtp 451"));
  assert_false(outbox_has(w, id));
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 59));
  assert_false(outbox_has(w, id));
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 60));
  assert_true(outbox_has(w, id));
  assert_int_equal(tu_sqlf(w, "SELECT attempts FROM outbox_delivery WHERE id = %lld", (long long)id), 1);
  {
    tesoro_cursor *c = NULL;
    TU_OK(w, tesoro_outbox_fetch(w->t, 0, 10000, &c));
    while (tesoro_cursor_next(c) == TESORO_ROW)
      if (tu_col_int(c, "id") == id) attempts = tu_col_int(c, "attempts");
    tesoro_cursor_free(c);
    assert_int_equal(attempts, 1);
  }

  /* second failure at +60: next try after 120 s more */
  TU_OK(w, tesoro_outbox_fail(w->t, id, NULL));
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 60 + 119));
  assert_false(outbox_has(w, id));
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 60 + 120));
  assert_true(outbox_has(w, id));

  /* third failure: dead (max 3 attempts), never fetched again */
  TU_OK(w, tesoro_outbox_fail(w->t, id, "gave up"));
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 365 * DAY));
  assert_false(outbox_has(w, id));
  TU_OK(w, tu_outbox_counts(w->t, &pending, NULL, &dead));
  assert_int_equal(dead, dead0 + 1);
  TU_ASSERT_REFUSED(w, tesoro_outbox_ack(w->t, id), TESORO_ESTATE, NULL);
}

/* One message on two channels is two deliveries: a channel that runs out
** of attempts is dead alone; the other is still fetched, and acknowledging
** it ends the message (delivered on one channel, dead on the other). */
static void test_outbox_channels_of_one_message_end_alone(void **state) {
  W;
  int64_t crm = 0, email = 0, message, pending = 0, delivered = 0, dead = 0;
  int64_t p0, d0, x0;
  submit_request(w, NULL);
  message = tu_sql_int(w, "SELECT id FROM outbox WHERE channels = 5 ORDER BY id LIMIT 1");
  assert_true(message > 0); /* the staff notification: crm and email */
  crm = message * 8 + 0;
  email = message * 8 + 2;
  assert_true(outbox_has(w, crm));
  assert_true(outbox_has(w, email));
  TU_OK(w, tu_outbox_counts(w->t, &p0, &d0, &x0));
  TU_OK(w, tesoro_config(w->t, TESORO_CONFIG_OUTBOX_MAX_ATTEMPTS, 1));
  TU_OK(w, tesoro_outbox_fail(w->t, email, "mailbox full"));
  TU_OK(w, tu_outbox_counts(w->t, &pending, &delivered, &dead));
  assert_int_equal(pending, p0 - 1);
  assert_int_equal(dead, x0 + 1);
  /* the crm delivery comes back after the backoff; the e-mail never */
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 365 * DAY));
  assert_true(outbox_has(w, crm));
  assert_false(outbox_has(w, email));
  TU_ASSERT_REFUSED(w, tesoro_outbox_ack(w->t, email), TESORO_ESTATE, "dead");
  TU_ASSERT_REFUSED(w, tesoro_outbox_fail(w->t, email, NULL), TESORO_ESTATE, "dead");
  TU_OK(w, tesoro_outbox_ack(w->t, crm));
  TU_OK(w, tu_outbox_counts(w->t, &pending, &delivered, &dead));
  assert_int_equal(pending, p0 - 2);
  assert_int_equal(delivered, d0 + 1);
  assert_int_equal(dead, x0 + 1);
  assert_int_equal(tu_sqlf(w, "SELECT status = 'dead' AND undelivered = 4 AND dead = 4 "
                              "FROM outbox WHERE id = %lld", (long long)message), 1);
  /* a channel the message does not have, a number that is no channel */
  TU_ASSERT_REFUSED(w, tesoro_outbox_ack(w->t, message * 8 + 1), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_outbox_ack(w->t, message * 8 + 6), TESORO_ENOTFOUND, NULL);
  TU_OK(w, tesoro_check(w->t));
}

static void test_outbox_backoff_follows_config(void **state) {
  W;
  int64_t id;
  submit_request(w, NULL);
  TU_OK(w, tesoro_config(w->t, TESORO_CONFIG_OUTBOX_BACKOFF_S, 10));
  id = first_outbox_row(w, NULL);
  TU_OK(w, tesoro_outbox_fail(w->t, id, "timeout"));
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 9));
  assert_false(outbox_has(w, id));
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 10));
  assert_true(outbox_has(w, id));
}

static void test_outbox_fetch_refuses_bad_limit(void **state) {
  W;
  tesoro_cursor *c = NULL;
  submit_request(w, NULL);
  TU_ASSERT_REFUSED(w, tesoro_outbox_fetch(w->t, 0, 0, &c), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_outbox_fetch(w->t, 0, 10001, &c), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_outbox_fetch(w->t, 0, -1, &c), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_outbox_fetch(w->t, 0, 10, NULL), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_outbox_fetch(w->t, NOID, 10, &c), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_outbox_fetch(NULL, 0, 10, &c), TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tu_outbox_counts(NULL, NULL, NULL, NULL), TESORO_EMISUSE, NULL);
  assert_null(c);
  /* limit is honoured */
  TU_OK(w, tesoro_outbox_fetch(w->t, 0, 1, &c));
  assert_int_equal(tu_count(c), 1);
}

static void test_outbox_fetch_filters_by_agency_oldest_first(void **state) {
  W;
  tesoro_cursor *c = NULL;
  int64_t oroom = 0, oclient = 0, prev_at = 0, prev_id = 0;
  int other = 0;
  submit_request(w, NULL);
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 10));
  TU_OK(w, tesoro_contact_request_submit(w->t, w->other_website, "Otto Owner", "otto@example.com", TESORO_PROPERTY_OFFICE, "York", 100, NULL, NULL, &oroom, &oclient));
  TU_OK(w, tesoro_outbox_fetch(w->t, w->other_agency, 10000, &c));
  while (tesoro_cursor_next(c) == TESORO_ROW) {
    assert_int_equal(tu_col_int(c, "agency_id"), w->other_agency);
    other++;
  }
  tesoro_cursor_free(c);
  assert_true(other >= 1);
  TU_OK(w, tesoro_outbox_fetch(w->t, 0, 10000, &c));
  while (tesoro_cursor_next(c) == TESORO_ROW) {
    int64_t at = tu_col_int(c, "created_at"), id = tu_col_int(c, "id");
    assert_true(at > prev_at || (at == prev_at && id > prev_id));
    prev_at = at;
    prev_id = id;
  }
  tesoro_cursor_free(c);
}

/* Fetch every due delivery, acknowledging each when `ack`; returns how
** many were fetched. */
static int fetch_all(tu_world *w, int ack) {
  tesoro_cursor *c = NULL;
  int64_t ids[512];
  int n = 0;
  TU_OK(w, tesoro_outbox_fetch(w->t, 0, 10000, &c));
  while (tesoro_cursor_next(c) == TESORO_ROW && n < 512)
    ids[n++] = tu_col_int(c, "id");
  tesoro_cursor_free(c);
  for (int i = 0; ack && i < n; i++) TU_OK(w, tesoro_outbox_ack(w->t, ids[i]));
  return n;
}

/* The fetch scans first deliveries on from the oldest message still
** waiting (tesoro->outbox_floor).  A host transaction that wrote messages,
** saw them delivered and rolled back frees their ids for the next
** messages: those must still be fetched, so a rollback forgets the floor. */
static void test_outbox_fetch_after_a_rolled_back_delivery(void **state) {
  W;
  int want;
  submit_request(w, NULL);
  assert_true(fetch_all(w, 1) > 0);
  assert_int_equal(fetch_all(w, 0), 0);
  TU_OK(w, tesoro_begin(w->t));
  submit_request(w, NULL);
  assert_true(fetch_all(w, 1) > 1); /* the floor passes all of them */
  assert_int_equal(fetch_all(w, 0), 0);
  TU_OK(w, tesoro_rollback(w->t));
  submit_request(w, NULL); /* the same ids again, waiting */
  want = (int)tu_sql_int(w, "SELECT count(*) FROM outbox_delivery WHERE "
                            "status = 'pending'");
  assert_true(want > 1);
  assert_int_equal(fetch_all(w, 0), want);
}

/* ========================================================================
** Timers and tick.
*/
static void test_tick_with_nothing_due_fires_nothing(void **state) {
  W;
  int fired = -1;
  char before[65], after[65];
  tu_digest(w, before);
  TU_OK(w, tesoro_tick(w->t, TU_NOW, &fired));
  assert_int_equal(fired, 0);
  TU_OK(w, tesoro_tick(w->t, TU_NOW + 1000 * DAY, NULL));
  tu_digest(w, after);
  assert_string_equal(before, after);
  assert_int_equal(tesoro_tick(NULL, TU_NOW, &fired), TESORO_EMISUSE);
}

static void test_tick_expires_listing_when_mandate_expires(void **state) {
  W;
  int64_t mandate, listing, due = TU_NOW + 90 * DAY, task;
  int fired = -1;
  walk_to_published(w, &mandate, &listing);
  assert_string_equal(state_of(w, TESORO_ENTITY_LISTING, listing), "published");
  assert_int_equal(tu_sqlf(w, "SELECT validated_at FROM mandate WHERE id = %lld", (long long)mandate), TU_NOW);

  /* one second early: nothing about the listing changes */
  TU_OK(w, tesoro_clock_set(w->t, due - 1));
  TU_OK(w, tesoro_tick(w->t, due - 1, &fired));
  assert_string_equal(state_of(w, TESORO_ENTITY_LISTING, listing), "published");
  assert_int_equal(find_task(w, 0, 0, "renew mandate"), 0);

  TU_OK(w, tesoro_clock_set(w->t, due));
  TU_OK(w, tesoro_tick(w->t, due, &fired));
  assert_true(fired >= 1);
  assert_string_equal(state_of(w, TESORO_ENTITY_LISTING, listing), "unpublished");
  task = find_task(w, 0, 0, "renew mandate");
  assert_true(task > 0);
  {
    tesoro_cursor *c = NULL;
    const char *ev = NULL;
    int64_t actor = 0;
    int kind = 0;
    TU_OK(w, tesoro_history(w->t, w->agent, TESORO_ENTITY_LISTING, listing, &c));
    while (tesoro_cursor_next(c) == TESORO_ROW) {
      ev = tu_col_text(c, "event");
      if (ev && strcmp(ev, "expire") == 0) {
        actor = tu_col_int(c, "actor_id");
        assert_int_equal(tu_col_int(c, "at"), due);
      }
    }
    tesoro_cursor_free(c);
    assert_true(actor > 0);
    TU_OK(w, tesoro_actor_info(w->t, actor, &kind, NULL, NULL));
    assert_int_equal(kind, TESORO_ACTOR_SYSTEM);
  }
  /* idempotent */
  {
    char before[65], after[65];
    tu_digest(w, before);
    TU_OK(w, tesoro_tick(w->t, due, &fired));
    assert_int_equal(fired, 0);
    tu_digest(w, after);
    assert_string_equal(before, after);
  }
  /* an expired mandate cannot be published again */
  TU_ASSERT_REFUSED(w, tesoro_listing_publish(w->t, w->agent, listing, 0), TESORO_EGUARD, NULL);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_tick_discards_timer_of_moved_on_entity(void **state) {
  W;
  int64_t mandate, listing, due = TU_NOW + 90 * DAY, v0, v1;
  int fired = -1;
  walk_to_published(w, &mandate, &listing);
  TU_OK(w, tesoro_listing_unpublish(w->t, w->agent, listing, 0));
  v0 = entity_version(w, w->agent, TESORO_ENTITY_LISTING, listing);
  TU_OK(w, tesoro_clock_set(w->t, due));
  TU_OK(w, tesoro_tick(w->t, due, &fired));
  v1 = entity_version(w, w->agent, TESORO_ENTITY_LISTING, listing);
  assert_int_equal(v0, v1);
  assert_string_equal(state_of(w, TESORO_ENTITY_LISTING, listing), "unpublished");
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM timer"), 0);
  TU_OK(w, tesoro_tick(w->t, due, &fired));
  assert_int_equal(fired, 0);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* A tick is one transaction with a savepoint per timer: a refused timer
** (here one whose agency was removed behind tesoro's back) is undone alone,
** the timers before it stay fired, it and the ones after it stay due. */
static void test_tick_keeps_the_timers_before_a_refused_one(void **state) {
  W;
  int64_t mandate, listing, due = TU_NOW + 90 * DAY;
  int fired = -1;
  char err[256];
  walk_to_published(w, &mandate, &listing);
  assert_int_equal(tu_sql_exec(w, tu_fmt("INSERT INTO timer(agency_id, entity, entity_id, kind, due_at) VALUES "
                                         "(999999, %d, %lld, 'mandate_expiry', %lld), "
                                         "(%lld, %d, %lld, 'mandate_expiry', %lld)",
                                         TESORO_ENTITY_MANDATE, (long long)mandate, (long long)due + 1,
                                         (long long)w->agency, TESORO_ENTITY_MANDATE, (long long)mandate,
                                         (long long)due + 2), err, sizeof err),
                   SQLITE_OK);
  TU_OK(w, tesoro_clock_set(w->t, due + 2));
  TU_ASSERT_ERR(w, tesoro_tick(w->t, due + 2, &fired), TESORO_ENOTFOUND, "agency 999999");
  assert_int_equal(fired, 1); /* the real expiry, committed */
  assert_string_equal(state_of(w, TESORO_ENTITY_LISTING, listing), "unpublished");
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM timer WHERE due_at IN (%lld, %lld)",
                              (long long)due + 1, (long long)due + 2), 2);

  /* the operator removes the broken timer; the next tick goes on */
  assert_int_equal(tu_sql_exec(w, "DELETE FROM timer WHERE agency_id = 999999", err, sizeof err), SQLITE_OK);
  TU_OK(w, tesoro_tick(w->t, due + 2, &fired));
  assert_int_equal(fired, 1);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM timer WHERE due_at = %lld", (long long)due + 2), 0);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_tick_fires_in_bounded_batches(void **state) {
  W;
  int64_t m1, l1, m2, l2, p = 0, doc = 0, room2 = 0, cl2 = 0, task, due = TU_NOW + 90 * DAY;
  int fired = -1, total = 0, calls = 0;
  walk_to_published(w, &m1, &l1);
  /* a second onboarding, for Bob */
  TU_OK(w, tesoro_contact_request_submit(w->t, w->website, "Bob Buyer", "bob@example.com", TESORO_PROPERTY_APARTMENT, "Utrecht", 0, NULL, NULL, &room2, &cl2));
  assert_int_equal(cl2, 0); /* Bob is known: no client actor for the website */
  TU_OK(w, tesoro_room_start_onboarding(w->t, w->agent2, room2, 1, 0, &m2));
  TU_OK(w, tesoro_mandate_propose(w->t, w->agent2, m2, TESORO_COMMISSION_FIXED, 500000, "EUR", 0, 90, 0, &p));
  TU_OK(w, tesoro_mandate_accept(w->t, w->client2, m2, p, 0, NULL));
  TU_OK(w, tesoro_mandate_share_form(w->t, w->agent2, m2, 0));
  TU_OK(w, tesoro_document_add(w->t, w->client2, TESORO_ENTITY_MANDATE, m2, TESORO_DOC_SIGNED_MANDATE, "signed.pdf", "application/pdf", tu_pdf, (int64_t)tu_pdf_size, &doc));
  TU_OK(w, tesoro_mandate_submit_form(w->t, w->client2, m2, SELLER_FORM, 0));
  task = find_task(w, TESORO_ENTITY_MANDATE, m2, "review seller form");
  assert_true(task > 0);
  TU_OK(w, tesoro_task_complete(w->t, w->agent2, task, 0));
  TU_OK(w, tesoro_mandate_validate(w->t, w->agent2, m2, 0, &l2));
  TU_OK(w, tesoro_listing_publish(w->t, w->agent2, l2, 0));

  TU_OK(w, tesoro_config(w->t, TESORO_CONFIG_TICK_BATCH, 1));
  TU_OK(w, tesoro_clock_set(w->t, due));
  do {
    TU_OK(w, tesoro_tick(w->t, due, &fired));
    assert_true(fired >= 0 && fired <= 1);
    total += fired;
    calls++;
  } while (fired > 0 && calls < 100);
  assert_true(total >= 2);
  assert_int_equal(calls, total + 1);
  assert_string_equal(state_of(w, TESORO_ENTITY_LISTING, l1), "unpublished");
  assert_string_equal(state_of(w, TESORO_ENTITY_LISTING, l2), "unpublished");
}

/* ========================================================================
** Documents.
*/
static void sha256_hex(const void *data, size_t n, char out[65]) {
  unsigned char md[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(md, data, n);
  sodium_bin2hex(out, 65, md, sizeof md);
}

static void test_documents_accept_pdf_jpeg_png_webp_in_room(void **state) {
  W;
  struct { const unsigned char *data; size_t size; const char *mime, *name; } docs[] = {
      {tu_pdf, 0, "application/pdf", "brochure.pdf"},
      {tu_jpeg, 0, "image/jpeg", "front.jpg"},
      {tu_png, 0, "image/png", "plan.png"},
      {tu_webp, 0, "image/webp", "garden.webp"},
  };
  int64_t ids[4], room = submit_request(w, NULL);
  tesoro_cursor *c = NULL;
  int i, n = 0;
  docs[0].size = tu_pdf_size;
  docs[1].size = tu_jpeg_size;
  docs[2].size = tu_png_size;
  docs[3].size = tu_webp_size;
  for (i = 0; i < 4; i++)
    TU_OK(w, tesoro_document_add(w->t, i % 2 ? w->client : w->agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, docs[i].name, docs[i].mime, docs[i].data, (int64_t)docs[i].size, &ids[i]));
  for (i = 0; i < 4; i++) {
    void *data = NULL;
    int64_t size = 0;
    TU_OK(w, tesoro_document_read(w->t, w->agent2, ids[i], &data, &size));
    assert_int_equal(size, docs[i].size);
    assert_memory_equal(data, docs[i].data, docs[i].size);
    tesoro_free(data);
    data = NULL;
    TU_OK(w, tesoro_document_read(w->t, w->client, ids[i], &data, &size));
    assert_memory_equal(data, docs[i].data, docs[i].size);
    tesoro_free(data);
  }
  TU_OK(w, tesoro_documents(w->t, w->agent, TESORO_ENTITY_ROOM, room, &c));
  while (tesoro_cursor_next(c) == TESORO_ROW) {
    int64_t id = tu_col_int(c, "id");
    for (i = 0; i < 4; i++) {
      if (ids[i] == id) {
        char hex[65];
        sha256_hex(docs[i].data, docs[i].size, hex);
        assert_string_equal(tu_col_text(c, "sha256"), hex);
        assert_string_equal(tu_col_text(c, "mime"), docs[i].mime);
        assert_string_equal(tu_col_text(c, "name"), docs[i].name);
        assert_int_equal(tu_col_int(c, "size"), docs[i].size);
        assert_int_equal(tu_col_int(c, "kind"), TESORO_DOC_SHARED);
        assert_int_equal(tu_col_int(c, "uploaded_by"), i % 2 ? w->client : w->agent);
        assert_int_equal(tu_col_int(c, "created_at"), TU_NOW);
        n++;
      }
    }
  }
  tesoro_cursor_free(c);
  assert_int_equal(n, 4);
}

static void test_document_mime_must_match_magic_bytes(void **state) {
  W;
  static const unsigned char fake_pdf[] = "Hello, I am not a PDF at all.";
  static const unsigned char almost_pdf[] = "%PDX-1.4 nope";
  int64_t d = 0, room = submit_request(w, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, "x.png", "image/png", tu_pdf, (int64_t)tu_pdf_size, &d), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, "x.pdf", "application/pdf", fake_pdf, (int64_t)sizeof fake_pdf - 1, &d), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, "x.pdf", "application/pdf", almost_pdf, (int64_t)sizeof almost_pdf - 1, &d), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, "x.jpg", "image/jpeg", tu_png, (int64_t)tu_png_size, &d), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, "x.webp", "image/webp", tu_jpeg, (int64_t)tu_jpeg_size, &d), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, "x.pdf", "application/PDF-ish", tu_pdf, (int64_t)tu_pdf_size, &d), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, "x.txt", "text/plain", fake_pdf, (int64_t)sizeof fake_pdf - 1, &d), TESORO_EINVAL, NULL);
  /* a truncated PDF magic is not a PDF */
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, "x.pdf", "application/pdf", tu_pdf, 3, &d), TESORO_EINVAL, NULL);
  assert_int_equal(d, 0);
}

static void test_document_size_limits(void **state) {
  W;
  int64_t d = 0, room = submit_request(w, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, "x.pdf", "application/pdf", tu_pdf, 0, &d), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, "x.pdf", "application/pdf", tu_pdf, -1, &d), TESORO_EINVAL, NULL);
  TU_OK(w, tesoro_config(w->t, TESORO_CONFIG_MAX_DOCUMENT_BYTES, (int64_t)tu_pdf_size - 1));
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, "x.pdf", "application/pdf", tu_pdf, (int64_t)tu_pdf_size, &d), TESORO_EINVAL, NULL);
  assert_int_equal(d, 0);
  TU_OK(w, tesoro_config(w->t, TESORO_CONFIG_MAX_DOCUMENT_BYTES, (int64_t)tu_pdf_size));
  TU_OK(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, "x.pdf", "application/pdf", tu_pdf, (int64_t)tu_pdf_size, &d));
  assert_true(d > 0);
}

static void test_document_default_limit_is_25_mib(void **state) {
  W;
  size_t big = (size_t)25 * 1024 * 1024 + 1;
  unsigned char *buf = calloc(1, big);
  int64_t d = 0, room = submit_request(w, NULL);
  assert_non_null(buf);
  memcpy(buf, tu_pdf, tu_pdf_size);
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, "big.pdf", "application/pdf", buf, (int64_t)big, &d), TESORO_EINVAL, NULL);
  TU_OK(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, "big.pdf", "application/pdf", buf, (int64_t)big - 1, &d));
  free(buf);
}

static void test_documents_invisible_to_other_agency_and_other_client(void **state) {
  W;
  int64_t d = 0, d2 = 0, room = submit_request(w, NULL);
  void *data = NULL;
  int64_t size = 0;
  tesoro_cursor *c = NULL;
  TU_OK(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, "a.pdf", "application/pdf", tu_pdf, (int64_t)tu_pdf_size, &d));
  TU_ASSERT_REFUSED(w, tesoro_document_read(w->t, w->other_agent, d, &data, &size), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_read(w->t, w->client2, d, &data, &size), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_read(w->t, w->other_client, d, &data, &size), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_documents(w->t, w->other_agent, TESORO_ENTITY_ROOM, room, &c), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_documents(w->t, w->client2, TESORO_ENTITY_ROOM, room, &c), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->other_agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, "b.pdf", "application/pdf", tu_pdf, (int64_t)tu_pdf_size, &d2), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->client2, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, "b.pdf", "application/pdf", tu_pdf, (int64_t)tu_pdf_size, &d2), TESORO_EDENIED, NULL);
  assert_null(data);
  assert_int_equal(size, 0);
  assert_null(c);
  assert_int_equal(d2, 0);
}

static void test_documents_refuse_bad_input(void **state) {
  W;
  int64_t d = 0, size = 0, room = submit_request(w, NULL);
  void *data = NULL;
  tesoro_cursor *c = NULL;
  char *ln = tu_long_string(TESORO_MAX_NAME + 1);
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, room, 0, "a.pdf", "application/pdf", tu_pdf, (int64_t)tu_pdf_size, &d), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, room, 99, "a.pdf", "application/pdf", tu_pdf, (int64_t)tu_pdf_size, &d), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->agent, 0, room, TESORO_DOC_SHARED, "a.pdf", "application/pdf", tu_pdf, (int64_t)tu_pdf_size, &d), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, NULL, "application/pdf", tu_pdf, (int64_t)tu_pdf_size, &d), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, "", "application/pdf", tu_pdf, (int64_t)tu_pdf_size, &d), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, ln, "application/pdf", tu_pdf, (int64_t)tu_pdf_size, &d), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, TU_BAD_UTF8, "application/pdf", tu_pdf, (int64_t)tu_pdf_size, &d), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, "a.pdf", NULL, tu_pdf, (int64_t)tu_pdf_size, &d), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, "a.pdf", "application/pdf", NULL, (int64_t)tu_pdf_size, &d), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, NOID, TESORO_DOC_SHARED, "a.pdf", "application/pdf", tu_pdf, (int64_t)tu_pdf_size, &d), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_add(NULL, w->agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, "a.pdf", "application/pdf", tu_pdf, (int64_t)tu_pdf_size, &d), TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_read(w->t, w->agent, NOID, &data, &size), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_documents(w->t, w->agent, TESORO_ENTITY_ROOM, NOID, &c), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_documents(w->t, w->agent, 99, room, &c), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_documents(w->t, w->agent, TESORO_ENTITY_ROOM, room, NULL), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_documents(NULL, w->agent, TESORO_ENTITY_ROOM, room, &c), TESORO_EMISUSE, NULL);
  TU_OK(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, "a.pdf", "application/pdf", tu_pdf, (int64_t)tu_pdf_size, &d));
  TU_ASSERT_REFUSED(w, tesoro_document_read(w->t, w->agent, d, NULL, &size), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_read(w->t, w->agent, d, &data, NULL), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_document_read(NULL, w->agent, d, &data, &size), TESORO_EMISUSE, NULL);
  assert_null(data);
  assert_null(c);
  free(ln);
}

/* ========================================================================
** Cursors.
*/
static void test_cursor_columns_names_and_nulls(void **state) {
  W;
  tesoro_cursor *c = NULL;
  int64_t room = submit_request(w, NULL);
  int reason, ev, found = 0;
  TU_OK(w, tesoro_allowed_events(w->t, w->agent, TESORO_ENTITY_ROOM, room, &c));
  assert_int_equal(tesoro_cursor_columns(c), 5);
  assert_string_equal(tesoro_cursor_name(c, 0), "event");
  assert_string_equal(tesoro_cursor_name(c, 4), "reason");
  assert_int_equal(tesoro_cursor_index(c, "event"), 0);
  assert_int_equal(tesoro_cursor_index(c, "reason"), 4);
  assert_int_equal(tesoro_cursor_index(c, "no_such_column"), -1);
  reason = tesoro_cursor_index(c, "reason");
  ev = tesoro_cursor_index(c, "event");
  while (tesoro_cursor_next(c) == TESORO_ROW) {
    const char *e = tesoro_cursor_text(c, ev);
    assert_non_null(e);
    if (strcmp(e, "start_onboarding") == 0) {
      found = 1;
      /* SQL NULL: text NULL, isnull 1, numbers 0 */
      assert_null(tesoro_cursor_text(c, reason));
      assert_true(tesoro_cursor_isnull(c, reason));
      assert_int_equal(tesoro_cursor_int(c, reason), 0);
      assert_true(tesoro_cursor_double(c, reason) == 0.0);
      assert_false(tesoro_cursor_isnull(c, ev));
      assert_int_equal(tesoro_cursor_int(c, tesoro_cursor_index(c, "allowed")), 1);
      assert_true(tesoro_cursor_double(c, tesoro_cursor_index(c, "allowed")) == 1.0);
      /* a bad column is NULL */
      assert_null(tesoro_cursor_text(c, 99));
      assert_null(tesoro_cursor_text(c, -1));
    }
  }
  assert_true(found);
  assert_int_equal(tesoro_cursor_next(c), TESORO_DONE);
  assert_int_equal(tesoro_cursor_next(c), TESORO_DONE);
  tesoro_cursor_free(c);
  tesoro_cursor_free(NULL);
}

static void test_cursor_outliving_handle_is_misuse(void **state) {
  W;
  tesoro *t2 = NULL;
  tesoro_cursor *c1 = NULL, *c2 = NULL;
  int64_t room = submit_request(w, NULL);
  assert_int_equal(tesoro_open(w->path, &t2), TESORO_OK);
  assert_int_equal(tesoro_history(t2, w->agent, TESORO_ENTITY_ROOM, room, &c1), TESORO_OK);
  assert_int_equal(tesoro_activities(t2, w->agent, w->contact, &c2), TESORO_OK);
  assert_int_equal(tesoro_cursor_next(c2), TESORO_ROW);
  assert_int_equal(tesoro_close(t2), TESORO_OK);
  assert_int_equal(tesoro_cursor_next(c1), TESORO_EMISUSE);
  assert_int_equal(tesoro_cursor_next(c2), TESORO_EMISUSE);
  tesoro_cursor_free(c1);
  tesoro_cursor_free(c2);
  /* the fixture's handle still works */
  TU_OK(w, tesoro_check(w->t));
}

/* ========================================================================
** Host transactions.
*/
static void test_rollback_undoes_every_call_since_begin(void **state) {
  W;
  char before[65], after[65];
  int64_t a = 0, b = 0;
  tu_digest(w, before);
  TU_OK(w, tesoro_begin(w->t));
  TU_OK(w, tesoro_contact_create(w->t, w->agent, "Tx One", "one@example.com", NULL, NULL, &a));
  TU_OK(w, tesoro_contact_create(w->t, w->agent, "Tx Two", "two@example.com", NULL, NULL, &b));
  TU_OK(w, tesoro_rollback(w->t));
  tu_digest(w, after);
  assert_string_equal(before, after);
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM contact WHERE email IN ('one@example.com', 'two@example.com')"), 0);
  /* and the handle goes on working */
  TU_OK(w, tesoro_contact_create(w->t, w->agent, "Tx One", "one@example.com", NULL, NULL, &a));
}

static void test_begin_twice_is_misuse(void **state) {
  W;
  TU_OK(w, tesoro_begin(w->t));
  TU_ASSERT_ERR(w, tesoro_begin(w->t), TESORO_EMISUSE, NULL);
  TU_OK(w, tesoro_rollback(w->t));
  TU_ASSERT_ERR(w, tesoro_commit(w->t), TESORO_EMISUSE, NULL);
  TU_ASSERT_ERR(w, tesoro_rollback(w->t), TESORO_EMISUSE, NULL);
  assert_int_equal(tesoro_begin(NULL), TESORO_EMISUSE);
  assert_int_equal(tesoro_commit(NULL), TESORO_EMISUSE);
  assert_int_equal(tesoro_rollback(NULL), TESORO_EMISUSE);
}

static void test_refused_call_inside_transaction_rolls_back_alone(void **state) {
  W;
  int64_t a = 0, b = 0, x = 0;
  TU_OK(w, tesoro_begin(w->t));
  TU_OK(w, tesoro_contact_create(w->t, w->agent, "Tx One", "one@example.com", NULL, NULL, &a));
  TU_ASSERT_ERR(w, tesoro_contact_create(w->t, w->agent, "Tx Dup", "ONE@example.com", NULL, NULL, &x), TESORO_EEXISTS, NULL);
  TU_ASSERT_ERR(w, tesoro_agent_create(w->t, w->agent, "Tx Agent", "txa@tesoro.test", TESORO_ROLE_AGENT, &x), TESORO_EDENIED, NULL);
  TU_OK(w, tesoro_contact_create(w->t, w->agent, "Tx Two", "two@example.com", NULL, NULL, &b));
  TU_OK(w, tesoro_commit(w->t));
  assert_int_equal(x, 0);
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM contact WHERE email IN ('one@example.com', 'two@example.com')"), 2);
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM contact WHERE name = 'Tx Dup'"), 0);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_transaction_is_invisible_to_other_connections_until_commit(void **state) {
  W;
  int64_t a = 0;
  TU_OK(w, tesoro_begin(w->t));
  TU_OK(w, tesoro_contact_create(w->t, w->agent, "Tx One", "one@example.com", NULL, NULL, &a));
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM contact WHERE email = 'one@example.com'"), 0);
  TU_OK(w, tesoro_commit(w->t));
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM contact WHERE email = 'one@example.com'"), 1);
}

/* ========================================================================
** Invariant checker.
*/
static void test_check_ok_on_fixture_and_after_flows(void **state) {
  W;
  int64_t mandate, listing;
  TU_OK(w, tesoro_check(w->t));
  walk_to_published(w, &mandate, &listing);
  TU_OK(w, tesoro_check(w->t));
  assert_int_equal(tesoro_check(NULL), TESORO_EMISUSE);
}

static void test_check_reports_state_without_history(void **state) {
  W;
  int64_t room = submit_request(w, NULL);
  TU_OK(w, tesoro_check(w->t));
  assert_int_equal(tu_sql_exec(w, tu_fmt("UPDATE room SET state = 'closed' WHERE id = %lld", (long long)room), NULL, 0), SQLITE_OK);
  TU_ASSERT_ERR(w, tesoro_check(w->t), TESORO_EDB, "room");
}

static void test_check_reports_version_without_history(void **state) {
  W;
  int64_t room = submit_request(w, NULL);
  assert_int_equal(tu_sql_exec(w, tu_fmt("UPDATE room SET version = version + 3 WHERE id = %lld", (long long)room), NULL, 0), SQLITE_OK);
  TU_ASSERT_ERR(w, tesoro_check(w->t), TESORO_EDB, "room");
}

static void test_check_reports_foreign_key_violation(void **state) {
  W;
  /* the raw connection has foreign keys off: write a dangling reference */
  assert_int_equal(tu_sql_exec(w, "INSERT INTO contact_role(contact_id, role) VALUES (987654, 'lead')", NULL, 0), SQLITE_OK);
  TU_ASSERT_ERR(w, tesoro_check(w->t), TESORO_EDB, NULL);
}

/* Payloads are written by tesoro's JSON functions, so the check, not a
** CHECK on every row written, verifies them. */
static void test_check_reports_outbox_payload_that_is_not_json(void **state) {
  W;
  submit_request(w, NULL);
  TU_OK(w, tesoro_check(w->t));
  assert_int_equal(tu_sql_exec(w, "UPDATE outbox SET payload = '{\"a\":' WHERE id = "
                                  "(SELECT min(id) FROM outbox)", NULL, 0), SQLITE_OK);
  TU_ASSERT_ERR(w, tesoro_check(w->t), TESORO_EDB, NULL);
  assert_int_equal(tu_sql_exec(w, "UPDATE outbox SET payload = '[1]' WHERE id = "
                                  "(SELECT min(id) FROM outbox)", NULL, 0), SQLITE_OK);
  TU_ASSERT_ERR(w, tesoro_check(w->t), TESORO_EDB, "not a JSON object");
}

static void test_check_reports_outbox_row_without_cause(void **state) {
  W;
  submit_request(w, NULL);
  /* an outbox row whose history row belongs to another agency */
  assert_int_equal(tu_sql_exec(w, tu_fmt("UPDATE outbox SET agency_id = %lld WHERE id = (SELECT min(id) FROM outbox WHERE agency_id = %lld)", (long long)w->other_agency, (long long)w->agency), NULL, 0), SQLITE_OK);
  TU_ASSERT_ERR(w, tesoro_check(w->t), TESORO_EDB, NULL);
}

/* A timeline line is named by its contact and its number there. */
static void test_check_reports_timeline_line_of_another_agency(void **state) {
  W;
  submit_request(w, NULL);
  TU_OK(w, tesoro_check(w->t));
  assert_int_equal(tu_sql_exec(w, tu_fmt("UPDATE activity SET agency_id = %lld "
                                         "WHERE contact_id = %lld AND id = 1",
                                         (long long)w->other_agency,
                                         (long long)w->contact), NULL, 0),
                   SQLITE_OK);
  TU_ASSERT_ERR(w, tesoro_check(w->t), TESORO_EDB,
                tu_fmt("timeline line %lld/1 is about a missing contact",
                       (long long)w->contact));
}

/* ========================================================================
** Bad input sweep for the remaining foundation calls.
*/
static void test_operator_calls_refuse_null_handle(void **state) {
  W;
  char *s = NULL;
  tesoro_cursor *c = NULL;
  int64_t x = 0;
  int fired = 0;
  (void)s;
  TU_ASSERT_REFUSED(w, tesoro_tick(NULL, TU_NOW, &fired), TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_outbox_fetch(NULL, 0, 10, &c), TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_outbox_ack(NULL, 1), TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_outbox_fail(NULL, 1, NULL), TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tu_outbox_counts(NULL, &x, &x, &x), TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_check(NULL), TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_begin(NULL), TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_config(NULL, TESORO_CONFIG_BUSY_TIMEOUT_MS, 100), TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_clock_set(NULL, TU_NOW), TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_history(NULL, w->agent, TESORO_ENTITY_CONTACT, w->contact, &c), TESORO_EMISUSE, NULL);
  assert_null(c);
}

static void test_outbox_fail_refuses_bad_error_text(void **state) {
  W;
  int64_t id;
  char *ltext = tu_long_string(TESORO_MAX_TEXT + 1);
  submit_request(w, NULL);
  id = first_outbox_row(w, NULL);
  assert_true(id > 0);
  TU_ASSERT_REFUSED(w, tesoro_outbox_fail(w->t, id, TU_BAD_UTF8), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_outbox_fail(w->t, id, ltext), TESORO_EINVAL, NULL);
  free(ltext);
}

static void test_every_refusal_leaves_history_untouched(void **state) {
  W;
  int64_t room = submit_request(w, NULL), x = 0;
  int64_t h0 = tu_sql_int(w, "SELECT count(*) FROM history");
  int64_t o0 = tu_sql_int(w, "SELECT count(*) FROM outbox_delivery");
  TU_ASSERT_REFUSED(w, tesoro_room_mark_lost(w->t, w->client, room, "nope", 0), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_room_mark_lost(w->t, w->other_agent, room, "nope", 0), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_room_mark_lost(w->t, w->agent, room, "nope", 9), TESORO_ECONFLICT, NULL);
  TU_ASSERT_REFUSED(w, tesoro_room_mark_lost(w->t, w->agent, NOID, "nope", 0), TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_room_mark_lost(w->t, w->agent, room, TU_BAD_UTF8, 0), TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_create(w->t, w->website, "X", NULL, NULL, NULL, &x), TESORO_EDENIED, NULL);
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM history"), h0);
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM outbox_delivery"), o0);
}

/* ========================================================================
** Several handles and processes on one file; the digest helper itself.
*/
static void test_writers_serialise_and_busy_writer_gets_ebusy(void **state) {
  W;
  sqlite3 *raw = NULL;
  int64_t c = 0;
  char before[65], after[65];
  tesoro *t2 = NULL;
  /* a second handle on the same file sees the first one's writes */
  assert_int_equal(tesoro_open(w->path, &t2), TESORO_OK);
  TU_OK(w, tesoro_contact_create(w->t, w->agent, "Seen Twice", "seen@example.com", NULL, NULL, &c));
  assert_int_equal(tesoro_contact_create(t2, w->agent, "Seen Again", "SEEN@example.com", NULL, NULL, &c), TESORO_EEXISTS);
  tesoro_close(t2);
  /* another connection holds the write lock */
  assert_int_equal(sqlite3_open(w->path, &raw), SQLITE_OK);
  assert_int_equal(sqlite3_exec(raw, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
  TU_OK(w, tesoro_config(w->t, TESORO_CONFIG_BUSY_TIMEOUT_MS, 50));
  c = 0;
  TU_ASSERT_ERR(w, tesoro_contact_create(w->t, w->agent, "Blocked", "blocked@example.com", NULL, NULL, &c), TESORO_EBUSY, NULL);
  assert_int_equal(c, 0);
  assert_int_equal(sqlite3_exec(raw, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(raw);
  tu_digest(w, before);
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM contact WHERE name = 'Blocked'"), 0);
  /* once the lock is gone the same call goes through */
  TU_OK(w, tesoro_contact_create(w->t, w->agent, "Blocked", "blocked@example.com", NULL, NULL, &c));
  tu_digest(w, after);
  assert_string_not_equal(before, after);
}

static void test_open_unwritable_path_is_edb(void **state) {
  W;
  char path[600];
  tesoro *t = NULL;
  snprintf(path, sizeof path, "%s/no/such/dir/x.db", w->dir);
  assert_int_equal(tesoro_open(path, &t), TESORO_EDB);
  if (t) {
    assert_true(strlen(tesoro_errmsg(t)) > 0);
    tesoro_close(t);
  }
  assert_false(file_exists(path));
}

/* The "database unchanged" proofs above rely on the digest seeing every
   kind of change. */
static void test_digest_detects_any_change(void **state) {
  W;
  /* each change in turn, and whether the digest still equals the first */
  static const struct {
    const char *sql;
    int same;
  } step[] = {
      {"UPDATE contact SET name = name || '' WHERE id = 1", 1},
      {"UPDATE contact SET phone = 'x' WHERE phone IS NULL AND id = (SELECT "
       "min(id) FROM contact WHERE phone IS NULL)", 0},
      {"UPDATE contact SET phone = NULL WHERE phone = 'x'", 1},
      {"PRAGMA user_version = 99", 0},
  };
  char a[65], b[65];
  tu_digest(w, a);
  tu_digest(w, b);
  assert_string_equal(a, b);
  for (size_t i = 0; i < sizeof step / sizeof step[0]; i++) {
    assert_int_equal(tu_sql_exec(w, step[i].sql, NULL, 0), SQLITE_OK);
    tu_digest(w, b);
    if (step[i].same) assert_string_equal(a, b);
    else assert_string_not_equal(a, b);
  }
  assert_int_equal(tu_sql_exec(w, tu_fmt("PRAGMA user_version = %d", TESORO_SCHEMA_VERSION), NULL, 0), SQLITE_OK);
  assert_int_equal(tu_sql_exec(w, "CREATE INDEX extra ON contact(name)", NULL, 0), SQLITE_OK);
  tu_digest(w, b);
  assert_string_not_equal(a, b);
}

/* ========================================================================
** Read-only handles.
*/
static void test_read_only_handle_reads_and_refuses_writes(void **state) {
  W;
  tesoro *ro = NULL;
  char *json = NULL, before[65], after[65], path[600];
  tesoro_cursor *c = NULL;
  int64_t id = 0;
  int fired = 0, rc;
  submit_request(w, NULL);
  TU_OK(w, tesoro_open_readonly(w->path, &ro));
  /* every read works */
  assert_int_equal(tesoro_entity_json(ro, w->agent, TESORO_ENTITY_CONTACT,
                                      w->contact, &json), TESORO_OK);
  assert_non_null(strstr(json, "Ada Owner"));
  tesoro_free(json);
  assert_int_equal(tesoro_history(ro, w->agent, TESORO_ENTITY_CONTACT,
                                  w->contact, &c), TESORO_OK);
  assert_true(tu_count(c) >= 1);
  assert_int_equal(tesoro_outbox_fetch(ro, 0, 100, &c), TESORO_OK);
  assert_true(tu_count(c) >= 1);
  /* every write is EREADONLY and changes nothing */
  tu_digest(w, before);
  assert_int_equal(tesoro_contact_create(ro, w->agent, "Ro", NULL, NULL, NULL,
                                         &id), TESORO_EREADONLY);
  assert_non_null(strstr(tesoro_errmsg(ro), "read-only"));
  assert_int_equal(tesoro_tick(ro, TU_NOW + 86400, &fired), TESORO_EREADONLY);
  assert_int_equal(tesoro_begin(ro), TESORO_EREADONLY);
  rc = tesoro_outbox_ack(ro, 8);
  assert_true(rc == TESORO_EREADONLY || rc == TESORO_ENOTFOUND);
  assert_int_equal(tesoro_agency_set_portal(ro, w->admin, 0), TESORO_EREADONLY);
  tu_digest(w, after);
  assert_string_equal(before, after);
  tesoro_close(ro);
  /* open failures name the path; no file is created; nothing migrates */
  snprintf(path, sizeof path, "%s/missing.db", w->dir);
  rc = tesoro_open_readonly(path, &ro);
  assert_int_equal(rc, TESORO_EDB);
  assert_non_null(strstr(tesoro_errmsg(ro), path));
  tesoro_close(ro);
  assert_int_equal(access(path, F_OK), -1);
  snprintf(path, sizeof path, "%s/empty.db", w->dir);
  assert_int_equal(tu_sql_exec_path(path, "VACUUM", NULL, 0), 0);
  rc = tesoro_open_readonly(path, &ro);
  assert_int_equal(rc, TESORO_ENOTDB);
  assert_non_null(strstr(tesoro_errmsg(ro), path));
  tesoro_close(ro);
  /* a file of an older schema (user_version below TESORO_SCHEMA_VERSION;
  ** 0 is the only one below 1) is not migrated by a read-only handle */
  assert_int_equal(tu_sql_exec(w, tu_fmt("PRAGMA user_version = %d",
                                         TESORO_SCHEMA_VERSION - 1), NULL, 0), 0);
  rc = tesoro_open_readonly(w->path, &ro);
  assert_int_equal(rc, TESORO_ESCHEMA);
  assert_non_null(strstr(tesoro_errmsg(ro), "read-write once"));
  tesoro_close(ro);
  assert_int_equal(tu_sql_int(w, "PRAGMA user_version"), TESORO_SCHEMA_VERSION - 1);
  assert_int_equal(tesoro_open_readonly(NULL, &ro), TESORO_EINVAL);
  tesoro_close(ro);
  assert_int_equal(tesoro_open_readonly(w->path, NULL), TESORO_EINVAL);
  assert_int_equal(tu_sql_exec(w, tu_fmt("PRAGMA user_version = %d",
                                         TESORO_SCHEMA_VERSION), NULL, 0), 0);
}

int main(void) {
#define T TU_TEST
  const struct CMUnitTest tests[] = {
      T(test_version_macros_match_library),
      T(test_errstr_and_errname_cover_every_code),
      T(test_schema_text_equals_schema_sql),
      T(test_open_creates_file_with_ids),
      T(test_open_uses_wal_journal),
      T(test_checkpoints_run_by_the_host_with_a_guard),
      T(test_every_table_is_strict),
      T(test_state_check_refuses_impossible_state),
      T(test_open_refuses_foreign_sqlite_file),
      T(test_open_refuses_garbage_file),
      T(test_open_refuses_newer_schema),
      T(test_open_refuses_bad_arguments),
      T(test_open_memory_database_works),
      T(test_open_works_on_a_defensive_connection),
      T(test_append_only_tables_have_no_foreign_keys),
      T(test_open_migrates_the_v0_1_0_fixture),
      T(test_errcode_and_errmsg_follow_last_call),
      T(test_config_refuses_unknown_option_and_nonpositive_value),
      T(test_config_synchronous_full_or_normal),
      T(test_clock_is_injectable_per_handle),
      T(test_agency_create_refuses_bad_input),
      T(test_agency_create_defaults_to_utc_and_stores_text_exactly),
      T(test_agency_website_actor_only_for_own_staff),
      T(test_agent_create_only_by_admin),
      T(test_agent_email_unique_per_agency_case_insensitive),
      T(test_agent_create_refuses_bad_input),
      T(test_actor_info_reports_kind_agency_contact),
      T(test_contact_create_assigns_creator_and_client_actor),
      T(test_contact_email_unique_per_agency_case_insensitive),
      T(test_contact_create_only_by_staff),
      T(test_contact_create_refuses_bad_input),
      T(test_contact_text_stored_exactly),
      T(test_contact_assign_within_agency_only),
      T(test_contact_assign_stale_version_conflicts),
      T(test_contact_client_actor_staff_of_agency),
      T(test_read_only_handle_reads_and_refuses_writes),
      T(test_entity_json_has_fields_state_and_version),
      T(test_entity_of_other_agency_is_denied),
      T(test_entity_queries_refuse_bad_input),
      T(test_history_records_create_with_documented_columns),
      T(test_history_refuses_other_agency_and_bad_input),
      T(test_allowed_lists_events_for_actor_now),
      T(test_allowed_refuses_other_agency_and_bad_input),
      T(test_machine_dot_renders_every_machine),
      T(test_activities_show_contact_request),
      T(test_activities_newest_first),
      T(test_activities_refuse_other_agency_and_other_client),
      T(test_tasks_list_open_tasks_with_columns),
      T(test_task_complete_once_by_staff),
      T(test_task_cancel_by_staff),
      T(test_tasks_refuse_bad_input),
      T(test_outbox_rows_written_with_the_change),
      T(test_outbox_carries_history_states_and_seq),
      T(test_outbox_ack_delivers_once),
      T(test_outbox_fail_retries_with_doubling_backoff_then_dead),
      T(test_outbox_channels_of_one_message_end_alone),
      T(test_outbox_backoff_follows_config),
      T(test_outbox_fetch_refuses_bad_limit),
      T(test_outbox_fetch_filters_by_agency_oldest_first),
      T(test_outbox_fetch_after_a_rolled_back_delivery),
      T(test_tick_with_nothing_due_fires_nothing),
      T(test_tick_expires_listing_when_mandate_expires),
      T(test_tick_discards_timer_of_moved_on_entity),
      T(test_tick_keeps_the_timers_before_a_refused_one),
      T(test_tick_fires_in_bounded_batches),
      T(test_documents_accept_pdf_jpeg_png_webp_in_room),
      T(test_document_mime_must_match_magic_bytes),
      T(test_document_size_limits),
      T(test_document_default_limit_is_25_mib),
      T(test_documents_invisible_to_other_agency_and_other_client),
      T(test_documents_refuse_bad_input),
      T(test_cursor_columns_names_and_nulls),
      T(test_cursor_outliving_handle_is_misuse),
      T(test_rollback_undoes_every_call_since_begin),
      T(test_begin_twice_is_misuse),
      T(test_refused_call_inside_transaction_rolls_back_alone),
      T(test_transaction_is_invisible_to_other_connections_until_commit),
      T(test_check_ok_on_fixture_and_after_flows),
      T(test_check_reports_state_without_history),
      T(test_check_reports_version_without_history),
      T(test_check_reports_foreign_key_violation),
      T(test_check_reports_outbox_payload_that_is_not_json),
      T(test_check_reports_outbox_row_without_cause),
      T(test_check_reports_timeline_line_of_another_agency),
      T(test_operator_calls_refuse_null_handle),
      T(test_outbox_fail_refuses_bad_error_text),
      T(test_every_refusal_leaves_history_untouched),
      T(test_writers_serialise_and_busy_writer_gets_ebusy),
      T(test_open_unwritable_path_is_edb),
      T(test_digest_detects_any_change),
  };
#undef T
  if (sodium_init() < 0) return 1;
  return cmocka_run_group_tests(tests, NULL, NULL);
}
