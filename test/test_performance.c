/*
** test_performance.c — the query plans behind tesoro's speed (issue 8).
**
** Timing belongs to `make bench`, never to a unit test.  What a test can
** hold steady is the plan: every statement tesoro prepares, and every list
** the API offers (the portal lists, the pipeline, the outbox fetch, the
** timer fetch, ...), must reach its rows through an index — no full scan
** of a table, which would grow with the agency.  SQLite's planner without
** ANALYZE statistics plans the same on an empty file as on a full one, so
** the small fixture is enough.
**
** The suite includes tesoro.c to reach the statement cache and a cursor's
** statement; it uses nothing else of the internals.
*/
#include "tesoro.c"
#include "testutil.h"

/* The lines of `stmt`'s query plan that read a whole table ("SCAN t",
** "SCAN t USING COVERING INDEX i"), newline-separated, or NULL when there
** are none.  Scans of a table-valued function over a bound argument
** (json_each), of a subquery's result, of a constant row, or of a list of
** constant rows materialised from VALUES (outbox_delivery's five channels,
** planned as "MATERIALIZE channel" ... "SCAN ch") are fine, and so is the
** scan of a statement with no WHERE, no sort and LIMIT 1 (the timer
** fetch): it reads the first row of the key's order and stops. */
/* Is `detail` ("SCAN name ...") the scan of a view's rows?  The view's
** own reads of its tables are rows of the plan too, checked as any. */
static int scans_a_view(tesoro *t, const char *detail) {
  sqlite3_stmt *s;
  int n = (int)strcspn(detail + 5, " "), view;
  assert_int_equal(sqlite3_prepare_v2(t->db, "SELECT 1 FROM sqlite_schema "
                                      "WHERE type = 'view' AND name = ?1",
                                      -1, &s, NULL), SQLITE_OK);
  sqlite3_bind_text(s, 1, detail + 5, n, SQLITE_STATIC);
  view = sqlite3_step(s) == SQLITE_ROW;
  sqlite3_finalize(s);
  return view;
}

static char *full_scans(tesoro *t, sqlite3_stmt *stmt) {
  sqlite3_stmt *plan;
  sqlite3_str *found = sqlite3_str_new(NULL);
  char *sql = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sqlite3_sql(stmt));
  const char *text = sqlite3_sql(stmt), *end = text + strlen(text);
  int constant_lists = 0, sorted = 0;
  int first_row = !strstr(text, " WHERE ") && end - text > 8 &&
                  strcmp(end - 8, " LIMIT 1") == 0;
  assert_int_equal(sqlite3_prepare_v2(t->db, sql, -1, &plan, NULL), SQLITE_OK);
  while (sqlite3_step(plan) == SQLITE_ROW) {
    const char *detail = (const char *)sqlite3_column_text(plan, 3);
    sorted |= strstr(detail, "TEMP B-TREE") != NULL;
  }
  sqlite3_reset(plan);
  while (sqlite3_step(plan) == SQLITE_ROW) {
    const char *detail = (const char *)sqlite3_column_text(plan, 3);
    if (first_row && !sorted) continue;
    if (strstr(detail, "CONSTANT ROWS")) constant_lists++;
    if (strncmp(detail, "SCAN ", 5) == 0 && !strstr(detail, "VIRTUAL TABLE") &&
        !strstr(detail, "CONSTANT ROW") && strncmp(detail, "SCAN (subquery", 14) != 0 &&
        !(constant_lists > 0 && strcmp(detail, "SCAN ch") == 0) &&
        !scans_a_view(t, detail))
      sqlite3_str_appendf(found, "%s\n", detail);
  }
  sqlite3_finalize(plan);
  sqlite3_free(sql);
  if (sqlite3_str_length(found) == 0) {
    sqlite3_free(sqlite3_str_finish(found));
    return NULL;
  }
  return sqlite3_str_finish(found);
}

static void assert_searches_(tesoro *t, const char *what, sqlite3_stmt *stmt,
                             const char *file, int line) {
  char *scans = full_scans(t, stmt);
  if (scans) {
    print_error("%s:%d: %s reads a whole table:\n%s  in: %s\n", file, line, what,
                scans, sqlite3_sql(stmt));
    sqlite3_free(scans);
    _fail(file, line);
  }
}
#define ASSERT_SEARCHES(t, what, stmt)                                        \
  assert_searches_((t), (what), (stmt), __FILE__, __LINE__)

/* The checker itself: a lookup by an unindexed column is reported. */
static void test_a_full_scan_is_found(void **state) {
  tu_world *w = *state;
  sqlite3_stmt *s;
  char *scans;
  assert_int_equal(sqlite3_prepare_v2(w->t->db,
                                      "SELECT seq FROM history WHERE event = ?1",
                                      -1, &s, NULL),
                   SQLITE_OK);
  scans = full_scans(w->t, s);
  assert_non_null(scans);
  assert_non_null(strstr(scans, "SCAN history"));
  sqlite3_free(scans);
  sqlite3_finalize(s);
  /* and a lookup by the primary key is not */
  assert_int_equal(sqlite3_prepare_v2(w->t->db, "SELECT event FROM history WHERE entity = ?1 AND "
                                      "entity_id = ?2 AND seq = ?3",
                                      -1, &s, NULL),
                   SQLITE_OK);
  assert_null(full_scans(w->t, s));
  sqlite3_finalize(s);
  /* the key's first row reads one row; a sorted or filtered one does not */
  static const char *const first[] = {
      "SELECT seq FROM history ORDER BY entity, entity_id, seq LIMIT 1",
      "SELECT seq FROM history ORDER BY event LIMIT 1",
      "SELECT seq FROM history WHERE event = ?1 LIMIT 1"};
  for (int i = 0; i < 3; i++) {
    assert_int_equal(sqlite3_prepare_v2(w->t->db, first[i], -1, &s, NULL),
                     SQLITE_OK);
    scans = full_scans(w->t, s);
    if (i == 0) assert_null(scans);
    else assert_non_null(scans);
    sqlite3_free(scans);
    sqlite3_finalize(s);
  }
}

/* How many temporary b-trees (OpenEphemeral) `sql` builds each time it
** runs.  SQLite builds one for every IN list of three or more constants:
** cheap once, ruinous when it happens on every row a transition writes. */
static int temp_btrees(tesoro *t, const char *sql) {
  sqlite3_stmt *program;
  int n = 0;
  char *explain = sqlite3_mprintf("EXPLAIN %s", sql);
  assert_int_equal(sqlite3_prepare_v2(t->db, explain, -1, &program, NULL), SQLITE_OK);
  while (sqlite3_step(program) == SQLITE_ROW)
    n += strcmp((const char *)sqlite3_column_text(program, 1), "OpenEphemeral") == 0;
  sqlite3_finalize(program);
  sqlite3_free(explain);
  return n;
}

/* The counter sees an IN list, and not the same test as an OR chain. */
static void test_a_temporary_btree_is_found(void **state) {
  tu_world *w = *state;
  assert_int_equal(temp_btrees(w->t, "SELECT 1 WHERE ?1 IN ('a', 'b', 'c')"), 1);
  assert_int_equal(temp_btrees(w->t, "SELECT 1 WHERE ?1 = 'a' OR ?1 = 'b' OR ?1 = 'c'"), 0);
}

/* Writing a row into any table checks its CHECKs and partial indexes
** without building a temporary b-tree (schema.sql section 10). */
static void test_no_table_write_builds_a_temporary_btree(void **state) {
  tu_world *w = *state;
  sqlite3_stmt *tables;
  int checked = 0;
  assert_int_equal(sqlite3_prepare_v2(w->t->db,
                                      "SELECT name FROM sqlite_schema WHERE type = 'table' "
                                      "AND name NOT LIKE 'sqlite%'",
                                      -1, &tables, NULL),
                   SQLITE_OK);
  while (sqlite3_step(tables) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(tables, 0);
    char *insert = sqlite3_mprintf("INSERT INTO \"%w\" DEFAULT VALUES", name);
    if (temp_btrees(w->t, insert) != 0)
      fail_msg("an INSERT into %s builds a temporary b-tree", name);
    sqlite3_free(insert);
    checked++;
  }
  sqlite3_finalize(tables);
  assert_true(checked >= 30);
}

/* Temporary data (statement journals, sorts) stays in memory: a call inside
** a host transaction (tesoro_begin) journals every page it changes for its
** savepoint, and on disk that journal became a temporary file per call
** (make bench's durable_batch: 137 -> 60 us per transition). */
static void test_temporary_data_stays_in_memory(void **state) {
  tu_world *w = *state;
  sqlite3_stmt *s;
  assert_int_equal(sqlite3_prepare_v2(w->t->db, "PRAGMA temp_store", -1, &s, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(s, 0), 2); /* MEMORY */
  sqlite3_finalize(s);
}

static int count_commit(void *counter) {
  ++*(int *)counter;
  return 0; /* let it commit */
}

/* A tick commits once however many timers it fires: with a transaction per
** timer, each timer paid a commit (an fsync under synchronous=FULL), and
** make bench's viewing cycle, whose tick fires two timers, paid 4 commits
** for 3 operations. */
static void test_a_tick_commits_once(void **state) {
  tu_world *w = *state;
  int commits = 0, fired = 0;
  tu_published_listing(w, "One", "Kerkstraat 1, Utrecht", 300000);
  tu_published_listing(w, "Two", "Kerkstraat 2, Utrecht", 400000);
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 1000 * 86400));
  sqlite3_commit_hook(w->t->db, count_commit, &commits);
  TU_OK(w, tesoro_tick(w->t, TU_NOW + 1000 * 86400, &fired));
  sqlite3_commit_hook(w->t->db, NULL, NULL);
  assert_true(fired >= 2); /* both mandates expired */
  assert_int_equal(commits, 1);
}

/* Row writes per table during one call, through SQLite's update hook. */
typedef struct row_writes {
  int appointment_updates, timer_rows, outbox_rows;
} row_writes;

static void count_row_write(void *arg, int op, const char *db, const char *table,
                            sqlite3_int64 rowid) {
  row_writes *n = arg;
  (void)db;
  (void)rowid;
  if (strcmp(table, "appointment") == 0 && op == SQLITE_UPDATE) n->appointment_updates++;
  if (strcmp(table, "outbox") == 0 && op == SQLITE_INSERT) n->outbox_rows++;
}

/* A transition writes its entity once: the state, the version and its own
** columns (start, end, completion) in one UPDATE (tesoro__trans.move). */
static void test_a_transition_updates_its_entity_once(void **state) {
  tu_world *w = *state;
  int64_t listing, deal, dp, a, b, start = TU_NOW + 2 * 86400, history;
  int fired = 0;
  row_writes n;
  listing = tu_published_listing(w, "Once", "Kerkstraat 3, Utrecht", 300000);
  TU_OK(w, tesoro_deal_create(w->t, w->agent, w->contact, "Utrecht", &deal));
  TU_OK(w, tesoro_deal_offer(w->t, w->agent, deal, listing, &dp));
  TU_OK(w, tesoro_appointment_request(w->t, w->client, dp, &start, 1, &a));
  TU_OK(w, tesoro_appointment_request(w->t, w->client, dp, &start, 1, &b));
  memset(&n, 0, sizeof n);
  sqlite3_update_hook(w->t->db, count_row_write, &n);
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, a, start, 0, 0));
  assert_int_equal(n.appointment_updates, 1);
  TU_OK(w, tesoro_appointment_reschedule(w->t, w->agent, a, start + 3600, 0, 0));
  assert_int_equal(n.appointment_updates, 2);
  TU_OK(w, tesoro_appointment_cancel(w->t, w->agent, b, "Agent ill", 0));
  assert_int_equal(n.appointment_updates, 3);
  /* two transitions: the reminder (a day before the rescheduled start) and
  ** the completion (its end, start + 2 hours) */
  TU_OK(w, tesoro_clock_set(w->t, start + 3600 - 86400));
  TU_OK(w, tesoro_tick(w->t, start + 3600 - 86400, &fired));
  assert_int_equal(fired, 1);
  assert_int_equal(n.appointment_updates, 4);
  TU_OK(w, tesoro_clock_set(w->t, start + 7200));
  TU_OK(w, tesoro_tick(w->t, start + 7200, &fired));
  assert_int_equal(fired, 1);
  assert_int_equal(n.appointment_updates, 5);
  /* one history row per transition, one outbox row per message: the
  ** request's owner notification (crm, push, email) is one row */
  memset(&n, 0, sizeof n);
  start += 86400;
  /* (history is WITHOUT ROWID, which the update hook does not see) */
  history = tu_sql_int(w, "SELECT count(*) FROM history");
  TU_OK(w, tesoro_appointment_request(w->t, w->client, dp, &start, 1, &b));
  /* the deal property's and the appointment's */
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM history") - history, 2);
  assert_int_equal(n.outbox_rows, 2);  /* the owner's notification, the calendar */
  sqlite3_update_hook(w->t->db, NULL, NULL);
  assert_int_equal(tu_sqlf(w, "SELECT state = 'completed' FROM appointment WHERE id = %lld",
                           (long long)a), 1);
}

/* Every statement of the handle's cache (the transitions' reads and writes,
** the timer fetch, the portal home counts, ...). */
static void test_every_cached_statement_searches(void **state) {
  tu_world *w = *state;
  for (int id = 0; id < S__COUNT; id++) {
    sqlite3_stmt *s = tesoro__stmt(w->t, id);
    char what[32];
    assert_non_null(s);
    snprintf(what, sizeof what, "statement %d", id);
    ASSERT_SEARCHES(w->t, what, s);
  }
}

/* The timer fetch, by name too: tick runs it once per timer it fires. */
static void test_the_timer_fetch_searches(void **state) {
  tu_world *w = *state;
  ASSERT_SEARCHES(w->t, "the timer fetch", tesoro__stmt(w->t, S_TIMER_FIRST));
}

/* Every list the API offers, as the call hands it out. */
#define LIST(call)                                                            \
  do {                                                                        \
    tesoro_cursor *c = NULL;                                                  \
    TU_OK(w, (call));                                                         \
    ASSERT_SEARCHES(w->t, #call, c->stmt);                                    \
    tesoro_cursor_free(c);                                                    \
  } while (0)

static void test_the_portal_lists_search(void **state) {
  tu_world *w = *state;
  LIST(tesoro_portal_properties(w->t, w->client, TESORO_FEED_NEW, &c));
  LIST(tesoro_portal_properties(w->t, w->client, TESORO_FEED_ALL, &c));
  LIST(tesoro_portal_properties(w->t, w->client, TESORO_FEED_FAVOURITES, &c));
  LIST(tesoro_client_appointments(w->t, w->client, TESORO_LIST_UPCOMING, &c));
  LIST(tesoro_client_appointments(w->t, w->client, TESORO_LIST_RECENT, &c));
  LIST(tesoro_client_appointments(w->t, w->client, TESORO_LIST_UNCONFIRMED, &c));
  LIST(tesoro_activities(w->t, w->client, w->contact, &c));
}

static void test_the_pipeline_searches(void **state) {
  tu_world *w = *state;
  LIST(tesoro_referral_pipeline(w->t, w->agent, w->agent, &c));
  LIST(tesoro_referral_pipeline(w->t, w->agent, 0, &c));
  for (int filter = TESORO_REFERRALS_ALL; filter <= TESORO_REFERRALS_CLOSED; filter++)
    LIST(tesoro_referrals(w->t, w->agent, filter, 0, 0, &c));
  LIST(tesoro_referrals(w->t, w->agent, TESORO_REFERRALS_ALL, 0, w->agent, &c));
}

static void test_the_outbox_fetch_searches(void **state) {
  tu_world *w = *state;
  LIST(tesoro_outbox_fetch(w->t, 0, 100, &c));
  LIST(tesoro_outbox_fetch(w->t, w->agency, 100, &c));
}

static void test_the_staff_lists_search(void **state) {
  tu_world *w = *state;
  LIST(tesoro_tasks(w->t, w->agent, 0, 0, &c));
  LIST(tesoro_activities(w->t, w->agent, w->contact, &c));
  LIST(tesoro_history(w->t, w->agent, TESORO_ENTITY_CONTACT, w->contact, &c));
  LIST(tesoro_agent_appointments(w->t, w->agent, w->agent, 0, 0, 0, &c));
  LIST(tesoro_agent_appointments(w->t, w->agent, 0, 0, 0, 0, &c));
  LIST(tesoro_prospects(w->t, w->agent, &c));
  LIST(tesoro_call_list(w->t, w->agent, 50, &c));
}

/* The project's fixture agency (test/agency.jsonl: 5 staff, 200 contacts,
** 50 listings, viewings and referrals in every state): imported in well
** under a second, with every list still searching on it, and the pipeline
** counting what the file holds (three referrals per stage). */
static void test_the_fixture_agency_reads_search(void **state) {
  tu_world *w = *state;
  char *report = NULL;
  tesoro_cursor *cur = NULL;
  int rows = 0, rc;
  int64_t agent = 0;
  TU_OK(w, tesoro_agency_import(w->t, w->admin, "test/agency.jsonl", &report));
  assert_non_null(strstr(report, "\"imported\":398"));
  tesoro_free(report);
  agent = tu_sql_int(w, "SELECT entity_id FROM import_ref WHERE type = "
                        "'agent' AND external_id = 'ag-1'");
  test_the_staff_lists_search(state);
  test_the_pipeline_searches(state);
  LIST(tesoro_agent_appointments(w->t, w->admin, agent, 0, 0, 0, &c));
  LIST(tesoro_referral_pipeline(w->t, w->admin, 0, &c));
  TU_OK(w, tesoro_referral_pipeline(w->t, w->admin, 0, &cur));
  while ((rc = tesoro_cursor_next(cur)) == TESORO_ROW) {
    const char *stage = tu_col_text(cur, "stage");
    int64_t n = tu_col_int(cur, "count");
    /* every stage: the fixture's three, and none of the tu world's */
    if (stage && n != 3) fail_msg("stage %s counts %lld, not 3", stage, (long long)n);
    rows++;
  }
  tesoro_cursor_free(cur);
  assert_int_equal(rc, TESORO_DONE);
  assert_true(rows >= 10);
  TU_OK(w, tesoro_check(w->t));
}

/* A list read again reuses its prepared statement (the cursor cache), and
** two lists open at once each get their own. */
static void test_a_list_read_again_is_not_prepared_again(void **state) {
  tu_world *w = *state;
  tesoro_cursor *a, *b;
  sqlite3_stmt *first;
  TU_OK(w, tesoro_tasks(w->t, w->agent, 0, 0, &a));
  first = a->stmt;
  TU_OK(w, tesoro_tasks(w->t, w->agent, 0, 0, &b));
  assert_ptr_not_equal(b->stmt, first); /* both open: two statements */
  tesoro_cursor_free(b);
  tesoro_cursor_free(a);
  TU_OK(w, tesoro_tasks(w->t, w->agent, 0, 0, &a));
  assert_ptr_equal(a->stmt, first);
  /* the reused statement starts from the first row, with the new bindings */
  assert_int_equal(tu_count(a), tu_sql_int(w, "SELECT count(*) FROM task "
                                              "WHERE state = 'open' AND agency_id = 1"));
}

/* White-box (this suite sees the handle's connection): when SQLite rolls a
** host transaction back by itself (as it may on a full disk, an I/O error
** or memory running out), nothing of it is kept and no later call commits
** on its own: every call fails until tesoro_rollback, which returns OK. */
static void test_a_host_transaction_sqlite_dropped_stays_failed(void **state) {
  tu_world *w = *state;
  int64_t note = 0, notes_before;
  notes_before = tu_sql_int(w, "SELECT count(*) FROM activity");
  TU_OK(w, tesoro_begin(w->t));
  TU_OK(w, tesoro_contact_set_consent(w->t, w->agent, w->contact,
                                      TESORO_CONSENT_DENIED, NULL, 0));
  /* what SQLite does after such an error: the whole transaction is gone */
  assert_int_equal(sqlite3_exec(w->t->db, "ROLLBACK", NULL, NULL, NULL),
                   SQLITE_OK);
  TU_ASSERT_ERR(w, tesoro_contact_create(w->t, w->agent, "Late", NULL, NULL,
                                         NULL, &note),
                TESORO_EDB, "tesoro_rollback");
  TU_ASSERT_ERR(w, tesoro_contact_set_consent(w->t, w->agent, w->contact,
                                              TESORO_CONSENT_GRANTED, "Yes", 0),
                TESORO_EDB, "tesoro_rollback");
  TU_ASSERT_ERR(w, tesoro_commit(w->t), TESORO_EDB, "nothing of it");
  TU_ASSERT_ERR(w, tesoro_tick(w->t, TU_NOW, NULL), TESORO_EDB,
                "tesoro_rollback");
  TU_OK(w, tesoro_rollback(w->t));
  /* nothing was kept, and the handle works again */
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM contact WHERE name = "
                                 "'Late'"), 0);
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM activity"),
                   notes_before);
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM history WHERE event = "
                                 "'consent'"), 0);
  TU_OK(w, tesoro_contact_create(w->t, w->agent, "Later", NULL, NULL, NULL,
                                 &note));
  TU_ASSERT_ERR(w, tesoro_rollback(w->t), TESORO_EMISUSE, "no transaction");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_a_full_scan_is_found, tu_setup, tu_teardown),
      cmocka_unit_test_setup_teardown(test_a_temporary_btree_is_found, tu_setup, tu_teardown),
      cmocka_unit_test_setup_teardown(test_temporary_data_stays_in_memory, tu_setup,
                                      tu_teardown),
      cmocka_unit_test_setup_teardown(test_no_table_write_builds_a_temporary_btree, tu_setup,
                                      tu_teardown),
      cmocka_unit_test_setup_teardown(test_a_tick_commits_once, tu_setup, tu_teardown),
      cmocka_unit_test_setup_teardown(test_a_transition_updates_its_entity_once, tu_setup,
                                      tu_teardown),
      cmocka_unit_test_setup_teardown(test_every_cached_statement_searches, tu_setup,
                                      tu_teardown),
      cmocka_unit_test_setup_teardown(test_the_timer_fetch_searches, tu_setup, tu_teardown),
      cmocka_unit_test_setup_teardown(test_the_portal_lists_search, tu_setup, tu_teardown),
      cmocka_unit_test_setup_teardown(test_the_pipeline_searches, tu_setup, tu_teardown),
      cmocka_unit_test_setup_teardown(test_the_outbox_fetch_searches, tu_setup, tu_teardown),
      cmocka_unit_test_setup_teardown(test_a_host_transaction_sqlite_dropped_stays_failed,
                                      tu_setup, tu_teardown),
      cmocka_unit_test_setup_teardown(test_the_staff_lists_search, tu_setup, tu_teardown),
      cmocka_unit_test_setup_teardown(test_the_fixture_agency_reads_search, tu_setup, tu_teardown),
      cmocka_unit_test_setup_teardown(test_a_list_read_again_is_not_prepared_again,
                                      tu_setup, tu_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
