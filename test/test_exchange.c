/*
** test_exchange.c — SPEC §6, the website exchange: ingest of every website
** event type, idempotent replays, order independence, GeoJSON refusals,
** batches, the prospect holding tank, CRM → website outbox rows, the call
** list and matches, and malformed input / tenancy refusals.
**
** The fixture's clock is pinned at TU_NOW; event times are set relative to
** it.  Refusals are checked with TU_ASSERT_REFUSED (code, message and an
** unchanged database digest).
*/
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY INT64_C(86400)
#define T0 (TU_NOW - 10 * DAY) /* a base event time */

#define CUST TESORO_ENTITY_WEB_CUSTOMER

/* ------------------------------------------------------------------------
** Helpers.
*/

/* Ingest by `website` refused with code (message contains needle), database
   unchanged. */
#define REFUSE_BY(w, website, json, code, needle)                             \
  do {                                                                        \
    char *r_ = NULL;                                                          \
    TU_ASSERT_REFUSED(w, tesoro_exchange_ingest((w)->t, (website), (json), &r_), \
                      code, needle);                                          \
    tesoro_free(r_);                                                          \
  } while (0)
#define REFUSE(w, json, code, needle) REFUSE_BY(w, (w)->website, json, code, needle)

/* Web customer id of a website customer id (staff w->agent). */
static int64_t cust(tu_world *w, const char *external) {
  int64_t id = 0;
  TU_OK(w, tesoro_customer_find(w->t, w->agent, external, &id));
  assert_true(id > 0);
  return id;
}

/* A text column of web_customer (malloc'd or NULL). */
static char *cust_text(tu_world *w, const char *external, const char *col) {
  return tu_sqlf_text(w, "SELECT %s FROM web_customer WHERE external_id = '%s'",
                      col, external);
}
static int64_t cust_int(tu_world *w, const char *external, const char *col) {
  return tu_sqlf(w, "SELECT %s FROM web_customer WHERE external_id = '%s'", col,
                 external);
}

/* A published listing and its reference (copied into ref[16]). */
static int64_t listing_ref(tu_world *w, const char *title, int64_t price,
                           char ref[16]) {
  int64_t id = tu_published_listing(w, title, "Domplein 1, Utrecht", price);
  char *r = tu_sqlf_text(w, "SELECT ref FROM listing WHERE id = %lld",
                         (long long)id);
  assert_non_null(r);
  snprintf(ref, 16, "%s", r);
  free(r);
  return id;
}

/* Set where a listing is and what it is. */
static void place(tu_world *w, int64_t listing, double lon, double lat,
                  const char *type, int bedrooms) {
  TU_OK(w, tesoro_listing_update(
               w->t, w->agent, listing,
               tu_fmt("{\"longitude\":%.6f,\"latitude\":%.6f,\"property_type\":"
                      "\"%s\",\"bedrooms\":%d}",
                      lon, lat, type, bedrooms),
               0));
}

/* ------------------------------------------------------------------------
** 1. Every event type applied.
*/

static void test_customer_event_applied(void **state) {
  tu_world *w = *state;
  char *res = TU_INGEST(w, tu_fmt("{\"source_id\":\"e1\",\"type\":\"customer\","
                                  "\"customer\":\"c1\",\"at\":%lld,\"name\":\"Sanne\","
                                  "\"email\":\"sanne@example.com\",\"phone\":\"+31 6\"}",
                                  (long long)T0));
  int64_t c = cust(w, "c1");
  char want[64];
  assert_non_null(strstr(res, "\"status\":\"applied\""));
  assert_non_null(strstr(res, "\"source_id\":\"e1\""));
  snprintf(want, sizeof want, "\"customer_id\":%lld", (long long)c);
  assert_non_null(strstr(res, want));
  tesoro_free(res);
  TU_TEXT_IS(cust_text(w, "c1", "name"), "Sanne");
  TU_TEXT_IS(cust_text(w, "c1", "email"), "sanne@example.com");
  TU_TEXT_IS(cust_text(w, "c1", "phone"), "+31 6");
  TU_TEXT_IS(cust_text(w, "c1", "state"), "prospect");
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM web_event WHERE source_id = 'e1'"), 1);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_visit_event_applied(void **state) {
  tu_world *w = *state;
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"v1\",\"type\":\"visit\",\"customer\":\"c1\","
                       "\"at\":%lld,\"visits\":4}",
                       (long long)T0));
  assert_int_equal(cust_int(w, "c1", "visits"), 4);
  assert_int_equal(cust_int(w, "c1", "last_visit_at"), T0);
  /* first seen through a visit: a prospect without details */
  TU_TEXT_IS(cust_text(w, "c1", "state"), "prospect");
  TU_TEXT_IS(cust_text(w, "c1", "name"), NULL);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* An event that keeps the customer's state still moves its version and
** writes a history row from the state to itself; the state index stays
** right for the list by state.  The head members are read once, with the
** members' check: of a key given twice, the first counts, as with
** json_extract(). */
static void test_events_keep_the_state_and_move_the_version(void **state) {
  tu_world *w = *state;
  int64_t version;
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"k1\",\"type\":\"visit\",\"customer\":\"c1\","
                       "\"at\":%lld,\"visits\":1}", (long long)T0));
  version = cust_int(w, "c1", "version");
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"k2\",\"type\":\"visit\",\"customer\":\"c1\","
                       "\"customer\":\"c2\",\"at\":%lld,\"visits\":2}",
                       (long long)T0 + 1));
  assert_int_equal(cust_int(w, "c1", "version"), version + 1);
  assert_int_equal(cust_int(w, "c1", "visits"), 2);
  TU_TEXT_IS(cust_text(w, "c1", "state"), "prospect");
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM web_customer WHERE "
                              "external_id = 'c2'"), 0);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM history WHERE entity_id = %lld "
                              "AND seq = %lld AND from_state = 'prospect' AND "
                              "to_state = 'prospect' AND event = 'visit'",
                           (long long)cust(w, "c1"), (long long)version + 1), 1);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM web_customer INDEXED BY "
                              "web_customer_state WHERE agency_id = %lld AND "
                              "state = 'prospect'", (long long)w->agency), 1);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_search_events_applied(void **state) {
  tu_world *w = *state;
  int64_t c;
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"s1\",\"type\":\"saved_search\",\"customer\":"
                       "\"c1\",\"at\":%lld,\"search_id\":\"hs\",\"alert\":true,"
                       "\"min_price\":100,\"max_price\":500,\"property_types\":"
                       "[\"house\"],\"min_bedrooms\":2,\"max_bedrooms\":4,"
                       "\"area\":{\"name\":\"Centre\",\"centre\":{\"type\":\"Point\","
                       "\"coordinates\":[5.12,52.09]},\"radius\":1000}}",
                       (long long)T0));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"s2\",\"type\":\"implied_search\",\"customer\":"
                       "\"c1\",\"at\":%lld,\"search_id\":\"ss\",\"max_price\":900}",
                       (long long)T0 + 1));
  c = cust(w, "c1");
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM search WHERE customer_id = %lld "
                              "AND external_id = 'hs' AND hard = 1 AND alert = 1 "
                              "AND state = 'active' AND min_price = 100 AND "
                              "max_price = 500 AND min_bedrooms = 2 AND "
                              "max_bedrooms = 4 AND area_name = 'Centre' AND "
                              "radius_m = 1000 AND source = 'website'",
                              (long long)c),
                   1);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM search WHERE customer_id = %lld "
                              "AND external_id = 'ss' AND hard = 0 AND "
                              "max_price = 900 AND state = 'active'",
                              (long long)c),
                   1);
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"s3\",\"type\":\"search_deleted\",\"customer\":"
                       "\"c1\",\"at\":%lld,\"search_id\":\"hs\"}",
                       (long long)T0 + 2));
  TU_TEXT_IS(tu_sqlf_text(w, "SELECT state FROM search WHERE customer_id = %lld "
                              "AND external_id = 'hs'",
                          (long long)c),
             "deleted");
  {
    tesoro_cursor *cur = NULL;
    TU_OK(w, tesoro_customer_searches(w->t, w->agent, c, &cur));
    assert_true(tu_count(cur) >= 1);
  }
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_property_events_applied(void **state) {
  tu_world *w = *state;
  char ref[16];
  int64_t l = listing_ref(w, "Canal house", 450000, ref);
  int64_t c;
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"p1\",\"type\":\"property_view\",\"customer\":"
                       "\"c1\",\"at\":%lld,\"listing\":\"%s\"}",
                       (long long)T0, ref));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"p2\",\"type\":\"property_view\",\"customer\":"
                       "\"c1\",\"at\":%lld,\"listing\":\"%s\"}",
                       (long long)T0 + 5, ref));
  c = cust(w, "c1");
#define WI(col)                                                               \
  tu_sqlf(w, "SELECT " col " FROM web_interest WHERE customer_id = %lld AND "  \
             "listing_id = %lld",                                             \
          (long long)c, (long long)l)
  assert_int_equal(WI("views"), 2);
  assert_int_equal(WI("last_viewed_at"), T0 + 5);
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"p3\",\"type\":\"property_save\",\"customer\":"
                       "\"c1\",\"at\":%lld,\"listing\":\"%s\",\"saved\":true}",
                       (long long)T0 + 10, ref));
  assert_int_equal(WI("saved"), 1);
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"p4\",\"type\":\"property_save\",\"customer\":"
                       "\"c1\",\"at\":%lld,\"listing\":\"%s\",\"saved\":false}",
                       (long long)T0 + 11, ref));
  assert_int_equal(WI("saved"), 0);
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"p5\",\"type\":\"property_rank\",\"customer\":"
                       "\"c1\",\"at\":%lld,\"listing\":\"%s\",\"rank\":4,\"note\":"
                       "\"Nice garden\",\"shared\":true}",
                       (long long)T0 + 12, ref));
  assert_int_equal(WI("rank"), 4);
  assert_int_equal(WI("note_shared"), 1);
  TU_TEXT_IS(tu_sqlf_text(w, "SELECT note FROM web_interest WHERE customer_id = "
                              "%lld AND listing_id = %lld",
                          (long long)c, (long long)l),
             "Nice garden");
#undef WI
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_enquiry_events_applied(void **state) {
  tu_world *w = *state;
  static const char *const types[] = {"property", "branch",  "valuation",
                                      "mortgage", "viewing", "staff",
                                      "general"};
  char ref[16];
  int64_t l = listing_ref(w, "Enquired", 300000, ref);
  int64_t c;
  size_t i;
  for (i = 0; i < sizeof types / sizeof types[0]; i++) {
    TU_APPLIED(w, tu_fmt("{\"source_id\":\"q%zu\",\"type\":\"enquiry\",\"customer\":"
                         "\"c1\",\"at\":%lld,\"enquiry_type\":\"%s\",\"listing\":"
                         "\"%s\",\"message\":\"About %s\"}",
                         i, (long long)T0 + (long long)i, types[i], ref, types[i]));
  }
  c = cust(w, "c1");
  for (i = 0; i < sizeof types / sizeof types[0]; i++) {
    assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM enquiry WHERE customer_id = "
                                "%lld AND type = '%s' AND listing_id = %lld AND "
                                "message = 'About %s' AND at = %lld",
                             (long long)c, types[i], (long long)l, types[i],
                             (long long)T0 + (long long)i),
                     1);
  }
  /* an enquiry without a listing */
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"q-nolisting\",\"type\":\"enquiry\",\"customer\":"
                       "\"c1\",\"at\":%lld,\"enquiry_type\":\"general\"}",
                       (long long)T0 + 50));
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM enquiry WHERE customer_id = %lld",
                           (long long)c),
                   8);
  REFUSE(w,
         "{\"source_id\":\"qx\",\"type\":\"enquiry\",\"customer\":"
         "\"c1\",\"at\":1779000000,\"enquiry_type\":\"complaint\"}",
         TESORO_EINVAL, "type");
  {
    tesoro_cursor *cur = NULL;
    TU_OK(w, tesoro_customer_enquiries(w->t, w->agent, c, &cur));
    assert_int_equal(tu_count(cur), 8);
  }
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_group_event_applied(void **state) {
  tu_world *w = *state;
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"g1\",\"type\":\"group\",\"customer\":\"c1\","
                       "\"at\":%lld,\"group\":\"grp-7\"}",
                       (long long)T0));
  TU_TEXT_IS(cust_text(w, "c1", "group_ref"), "grp-7");
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_vendor_claim_event_applied(void **state) {
  tu_world *w = *state;
  char ref[16];
  int64_t l = listing_ref(w, "Claimed", 300000, ref);
  int64_t c, claim;
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"vc1\",\"type\":\"vendor_claim\",\"customer\":"
                       "\"c1\",\"at\":%lld,\"listing\":\"%s\",\"note\":\"It is mine\"}",
                       (long long)T0, ref));
  c = cust(w, "c1");
  claim = tu_sqlf(w, "SELECT id FROM vendor_claim WHERE customer_id = %lld AND "
                     "listing_id = %lld AND state = 'claimed' AND note = "
                     "'It is mine'",
                  (long long)c, (long long)l);
  assert_true(claim > 0);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM task WHERE kind = "
                              "'confirm_vendor' AND state = 'open' AND entity = "
                              "%d AND entity_id = %lld",
                           TESORO_ENTITY_VENDOR_CLAIM, (long long)claim),
                   1);
  /* a prospect has no agent: the task is unassigned (README) */
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM task WHERE kind = "
                              "'confirm_vendor' AND assignee_id IS NULL"),
                   1);
  /* claims are each kept */
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"vc2\",\"type\":\"vendor_claim\",\"customer\":"
                       "\"c1\",\"at\":%lld,\"listing\":\"%s\"}",
                       (long long)T0 - 5, ref));
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM vendor_claim WHERE customer_id "
                              "= %lld", (long long)c), 2);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* ------------------------------------------------------------------------
** 2. Replays.
*/

/* The answer is the text SQLite's json_object() writes, also for a source
** id with characters to escape (a quote, a backslash, a tab, a control
** character), and a replay answers the same text. */
static void test_answer_text_is_json_object_text(void **state) {
  tu_world *w = *state;
  const char *event =
      "{\"source_id\":\"q\\\"b\\\\s\\t\\u0001\\u001f\",\"type\":\"visit\","
      "\"customer\":\"c1\",\"at\":1000,\"visits\":2}";
  char *first = TU_INGEST(w, event), *again = NULL, *expected;
  expected = tu_sqlf_text(
      w, "SELECT json_object('source_id', json_extract('%s', '$.source_id'), "
         "'status', 'applied', 'customer_id', %lld, 'entity', "
         "'web_customer', 'entity_id', %lld)",
      event, (long long)cust(w, "c1"), (long long)cust(w, "c1"));
  assert_string_equal(first, expected);
  assert_non_null(strstr(first, "\"q\\\"b\\\\s\\t\\u0001\\u001f\""));
  TU_OK(w, tesoro_exchange_ingest(w->t, w->website, event, &again));
  assert_string_equal(again, expected);
  free(expected);
  tesoro_free(first);
  tesoro_free(again);
}

/* Only what SQLite's JSON takes is taken: a vertical tab or a form feed
** around the object (whitespace to some parsers, not to SQLite 3.40), a
** comment, a trailing comma, a leading zero are malformed, with nothing
** written; the same event with plain whitespace is applied. */
static void test_event_json_is_strict(void **state) {
  tu_world *w = *state;
  const char *body = "\"source_id\":\"j1\",\"type\":\"visit\",\"customer\":"
                     "\"c1\",\"at\":1000,\"visits\":2";
  REFUSE(w, tu_fmt("{%s}\v", body), TESORO_EINVAL, "not a JSON object");
  REFUSE(w, tu_fmt("\f{%s}", body), TESORO_EINVAL, "not a JSON object");
  REFUSE(w, tu_fmt("{%s}/**/", body), TESORO_EINVAL, "not a JSON object");
  REFUSE(w, tu_fmt("{%s,}", body), TESORO_EINVAL, "not a JSON object");
  REFUSE(w, tu_fmt("{%s,\"x\":01}", body), TESORO_EINVAL, "not a JSON object");
  {
    char *results = NULL;
    int failed = -1;
    TU_ASSERT_REFUSED(w, tesoro_exchange_ingest_batch(
                             w->t, w->website, tu_fmt("[{%s}]\f", body),
                             &failed, &results),
                      TESORO_EINVAL, "not a JSON array");
    assert_null(results);
  }
  TU_APPLIED(w, tu_fmt(" \t\r\n{%s} \n", body));
}

static void test_replay_of_every_type(void **state) {
  tu_world *w = *state;
  char ref[16];
  char *evs[16];
  size_t n = 0, i;
  listing_ref(w, "Replayed", 300000, ref);
#define ADD(...) (evs[n++] = strdup(tu_fmt(__VA_ARGS__)))
  ADD("{\"source_id\":\"r1\",\"type\":\"customer\",\"customer\":\"c1\",\"at\":%lld,"
      "\"name\":\"Replay\",\"email\":\"replay@example.com\"}", (long long)T0);
  ADD("{\"source_id\":\"r2\",\"type\":\"visit\",\"customer\":\"c1\",\"at\":%lld,"
      "\"visits\":2}", (long long)T0 + 1);
  ADD("{\"source_id\":\"r3\",\"type\":\"implied_search\",\"customer\":\"c1\","
      "\"at\":%lld,\"search_id\":\"i1\",\"max_price\":5}", (long long)T0 + 2);
  ADD("{\"source_id\":\"r4\",\"type\":\"saved_search\",\"customer\":\"c1\","
      "\"at\":%lld,\"search_id\":\"h1\",\"alert\":false,\"min_price\":1}",
      (long long)T0 + 3);
  ADD("{\"source_id\":\"r5\",\"type\":\"search_deleted\",\"customer\":\"c1\","
      "\"at\":%lld,\"search_id\":\"h1\"}", (long long)T0 + 4);
  ADD("{\"source_id\":\"r6\",\"type\":\"property_view\",\"customer\":\"c1\","
      "\"at\":%lld,\"listing\":\"%s\"}", (long long)T0 + 5, ref);
  ADD("{\"source_id\":\"r7\",\"type\":\"property_save\",\"customer\":\"c1\","
      "\"at\":%lld,\"listing\":\"%s\",\"saved\":true}", (long long)T0 + 6, ref);
  ADD("{\"source_id\":\"r8\",\"type\":\"property_rank\",\"customer\":\"c1\","
      "\"at\":%lld,\"listing\":\"%s\",\"rank\":3,\"note\":\"ok\",\"shared\":false}",
      (long long)T0 + 7, ref);
  ADD("{\"source_id\":\"r9\",\"type\":\"enquiry\",\"customer\":\"c1\","
      "\"at\":%lld,\"enquiry_type\":\"valuation\",\"message\":\"hi\"}",
      (long long)T0 + 8);
  ADD("{\"source_id\":\"r10\",\"type\":\"group\",\"customer\":\"c1\","
      "\"at\":%lld,\"group\":\"g\"}", (long long)T0 + 9);
  ADD("{\"source_id\":\"r11\",\"type\":\"vendor_claim\",\"customer\":\"c1\","
      "\"at\":%lld,\"listing\":\"%s\",\"note\":\"mine\"}", (long long)T0 + 10, ref);
#undef ADD
  for (i = 0; i < n; i++) {
    char *first = TU_INGEST(w, evs[i]);
    char *again = NULL;
    char before[65], after[65];
    assert_non_null(strstr(first, "\"status\":\"applied\""));
    tu_digest(w, before);
    TU_OK(w, tesoro_exchange_ingest(w->t, w->website, evs[i], &again));
    tu_digest(w, after);
    assert_non_null(again);
    assert_string_equal(first, again);
    assert_string_equal(before, after);
    tesoro_free(first);
    tesoro_free(again);
  }
  /* replay again after everything: still identical, nothing changed */
  for (i = 0; i < n; i++) {
    char *again = NULL;
    char before[65], after[65];
    tu_digest(w, before);
    TU_OK(w, tesoro_exchange_ingest(w->t, w->website, evs[i], &again));
    tu_digest(w, after);
    assert_string_equal(before, after);
    tesoro_free(again);
  }
  assert_int_equal(cust_int(w, "c1", "visits"), 2);
  assert_int_equal(tu_sqlf(w, "SELECT views FROM web_interest"), 1);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM enquiry"), 1);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM vendor_claim"), 1);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM task WHERE kind = 'confirm_vendor'"), 1);
  for (i = 0; i < n; i++) free(evs[i]);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_same_source_id_other_content_is_eexists(void **state) {
  tu_world *w = *state;
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"x1\",\"type\":\"visit\",\"customer\":\"c1\","
                       "\"at\":%lld,\"visits\":2}", (long long)T0));
  REFUSE(w, tu_fmt("{\"source_id\":\"x1\",\"type\":\"visit\",\"customer\":\"c1\","
                   "\"at\":%lld,\"visits\":3}", (long long)T0 + 1),
         TESORO_EEXISTS, NULL);
  REFUSE(w, tu_fmt("{\"source_id\":\"x1\",\"type\":\"group\",\"customer\":\"c2\","
                   "\"at\":%lld,\"group\":\"g\"}", (long long)T0 + 1),
         TESORO_EEXISTS, NULL);
  assert_int_equal(cust_int(w, "c1", "visits"), 2);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM web_customer WHERE external_id = 'c2'"), 0);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* ------------------------------------------------------------------------
** 3. Out of order: newest event time wins; ties by the greater source id.
*/

static void test_out_of_order_customer_details(void **state) {
  tu_world *w = *state;
  TU_APPLIED(w, "{\"source_id\":\"d2\",\"type\":\"customer\",\"customer\":\"c1\","
             "\"at\":200,\"name\":\"New Name\",\"email\":\"new@example.com\"}");
  TU_SUPERSEDED(w, "{\"source_id\":\"d1\",\"type\":\"customer\",\"customer\":\"c1\","
                "\"at\":100,\"name\":\"Old Name\",\"email\":\"old@example.com\","
                "\"phone\":\"123\"}");
  TU_TEXT_IS(cust_text(w, "c1", "name"), "New Name");
  TU_TEXT_IS(cust_text(w, "c1", "email"), "new@example.com");
  TU_TEXT_IS(cust_text(w, "c1", "phone"), NULL);
  /* the superseded event is stored: its replay is a replay */
  {
    char before[65], after[65];
    char *r = NULL;
    tu_digest(w, before);
    TU_OK(w, tesoro_exchange_ingest(
                 w->t, w->website,
                 "{\"source_id\":\"d1\",\"type\":\"customer\",\"customer\":\"c1\","
                 "\"at\":100,\"name\":\"Old Name\",\"email\":\"old@example.com\","
                 "\"phone\":\"123\"}",
                 &r));
    tu_digest(w, after);
    assert_non_null(strstr(r, "\"status\":\"superseded\""));
    assert_string_equal(before, after);
    tesoro_free(r);
  }
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_out_of_order_visits(void **state) {
  tu_world *w = *state;
  TU_APPLIED(w, "{\"source_id\":\"v2\",\"type\":\"visit\",\"customer\":\"c1\","
             "\"at\":2000,\"visits\":5}");
  TU_SUPERSEDED(w, "{\"source_id\":\"v1\",\"type\":\"visit\",\"customer\":\"c1\","
                "\"at\":1000,\"visits\":3}");
  assert_int_equal(cust_int(w, "c1", "visits"), 5);
  assert_int_equal(cust_int(w, "c1", "last_visit_at"), 2000);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_out_of_order_search_edits(void **state) {
  tu_world *w = *state;
  int64_t c;
  TU_APPLIED(w, "{\"source_id\":\"s2\",\"type\":\"saved_search\",\"customer\":\"c1\","
             "\"at\":2000,\"search_id\":\"s\",\"max_price\":700}");
  TU_SUPERSEDED(w, "{\"source_id\":\"s1\",\"type\":\"saved_search\",\"customer\":\"c1\","
                "\"at\":1000,\"search_id\":\"s\",\"max_price\":300}");
  c = cust(w, "c1");
  assert_int_equal(tu_sqlf(w, "SELECT max_price FROM search WHERE customer_id = %lld "
                              "AND external_id = 's'", (long long)c), 700);
  /* a delete, then an older save arriving later: stays deleted */
  TU_APPLIED(w, "{\"source_id\":\"s4\",\"type\":\"search_deleted\",\"customer\":\"c1\","
             "\"at\":4000,\"search_id\":\"s\"}");
  TU_SUPERSEDED(w, "{\"source_id\":\"s3\",\"type\":\"saved_search\",\"customer\":\"c1\","
                "\"at\":3000,\"search_id\":\"s\",\"max_price\":900}");
  TU_TEXT_IS(tu_sqlf_text(w, "SELECT state FROM search WHERE customer_id = %lld "
                              "AND external_id = 's'", (long long)c), "deleted");
  assert_int_equal(tu_sqlf(w, "SELECT max_price FROM search WHERE customer_id = %lld "
                              "AND external_id = 's'", (long long)c), 700);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_delete_before_search_ever_seen(void **state) {
  tu_world *w = *state;
  int64_t c;
  TU_APPLIED(w, "{\"source_id\":\"s2\",\"type\":\"search_deleted\",\"customer\":\"c1\","
             "\"at\":2000,\"search_id\":\"s\"}");
  TU_SUPERSEDED(w, "{\"source_id\":\"s1\",\"type\":\"saved_search\",\"customer\":\"c1\","
                "\"at\":1000,\"search_id\":\"s\",\"max_price\":300}");
  c = cust(w, "c1");
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM search WHERE customer_id = %lld "
                              "AND state = 'active'", (long long)c), 0);
  {
    tesoro_cursor *cur = NULL;
    int64_t m;
    TU_OK(w, tesoro_matches(w->t, w->agent, c, &cur));
    m = tu_count(cur);
    assert_int_equal(m, 0);
  }
  /* a newer save re-creates it */
  TU_APPLIED(w, "{\"source_id\":\"s3\",\"type\":\"saved_search\",\"customer\":\"c1\","
             "\"at\":3000,\"search_id\":\"s\",\"max_price\":400}");
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM search WHERE customer_id = %lld "
                              "AND state = 'active' AND max_price = 400",
                           (long long)c), 1);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_out_of_order_save_rank_group(void **state) {
  tu_world *w = *state;
  char ref[16];
  int64_t l = listing_ref(w, "Ordered", 300000, ref), c;
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"a2\",\"type\":\"property_save\",\"customer\":"
                       "\"c1\",\"at\":2000,\"listing\":\"%s\",\"saved\":false}", ref));
  TU_SUPERSEDED(w, tu_fmt("{\"source_id\":\"a1\",\"type\":\"property_save\",\"customer\":"
                          "\"c1\",\"at\":1000,\"listing\":\"%s\",\"saved\":true}", ref));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"b2\",\"type\":\"property_rank\",\"customer\":"
                       "\"c1\",\"at\":2000,\"listing\":\"%s\",\"rank\":2,\"note\":\"new\"}",
                       ref));
  TU_SUPERSEDED(w, tu_fmt("{\"source_id\":\"b1\",\"type\":\"property_rank\",\"customer\":"
                          "\"c1\",\"at\":1000,\"listing\":\"%s\",\"rank\":5,\"note\":\"old\"}",
                          ref));
  TU_APPLIED(w, "{\"source_id\":\"g2\",\"type\":\"group\",\"customer\":\"c1\","
             "\"at\":2000,\"group\":\"new\"}");
  TU_SUPERSEDED(w, "{\"source_id\":\"g1\",\"type\":\"group\",\"customer\":\"c1\","
                "\"at\":1000,\"group\":\"old\"}");
  c = cust(w, "c1");
  assert_int_equal(tu_sqlf(w, "SELECT saved FROM web_interest WHERE customer_id = "
                              "%lld AND listing_id = %lld", (long long)c, (long long)l), 0);
  assert_int_equal(tu_sqlf(w, "SELECT rank FROM web_interest WHERE customer_id = "
                              "%lld AND listing_id = %lld", (long long)c, (long long)l), 2);
  TU_TEXT_IS(tu_sqlf_text(w, "SELECT note FROM web_interest WHERE customer_id = "
                              "%lld AND listing_id = %lld", (long long)c, (long long)l),
             "new");
  TU_TEXT_IS(cust_text(w, "c1", "group_ref"), "new");
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_customer_event_carries_details_whole(void **state) {
  tu_world *w = *state;
  TU_APPLIED(w, "{\"source_id\":\"d1\",\"type\":\"customer\",\"customer\":\"c1\","
             "\"at\":100,\"name\":\"Full\",\"email\":\"full@example.com\","
             "\"phone\":\"123\"}");
  TU_APPLIED(w, "{\"source_id\":\"d2\",\"type\":\"customer\",\"customer\":\"c1\","
             "\"at\":200,\"name\":\"Short\"}");
  TU_TEXT_IS(cust_text(w, "c1", "name"), "Short");
  TU_TEXT_IS(cust_text(w, "c1", "email"), NULL);
  TU_TEXT_IS(cust_text(w, "c1", "phone"), NULL);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_views_add_up_in_any_order(void **state) {
  tu_world *w = *state;
  char ref[16];
  int64_t l = listing_ref(w, "Viewed", 300000, ref);
  int64_t c;
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"w2\",\"type\":\"property_view\",\"customer\":"
                       "\"c1\",\"at\":2000,\"listing\":\"%s\"}", ref));
  tesoro_free(TU_INGEST(w, tu_fmt("{\"source_id\":\"w1\",\"type\":\"property_view\","
                                  "\"customer\":\"c1\",\"at\":1000,\"listing\":\"%s\"}",
                                  ref)));
  c = cust(w, "c1");
  assert_int_equal(tu_sqlf(w, "SELECT views FROM web_interest WHERE customer_id = "
                              "%lld AND listing_id = %lld", (long long)c, (long long)l), 2);
  assert_int_equal(tu_sqlf(w, "SELECT last_viewed_at FROM web_interest WHERE "
                              "customer_id = %lld AND listing_id = %lld",
                           (long long)c, (long long)l), 2000);
  /* late enquiries are kept too */
  tesoro_free(TU_INGEST(w, "{\"source_id\":\"q2\",\"type\":\"enquiry\",\"customer\":\"c1\","
                        "\"at\":3000,\"enquiry_type\":\"general\"}"));
  tesoro_free(TU_INGEST(w, "{\"source_id\":\"q1\",\"type\":\"enquiry\",\"customer\":\"c1\","
                        "\"at\":500,\"enquiry_type\":\"branch\"}"));
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM enquiry WHERE customer_id = %lld",
                           (long long)c), 2);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* Equal "at": the greater source id wins, whatever the arrival order.  Each
   order runs on its own customer (ca: "A" first, cb: "B" first). */
static void tie_events(tu_world *w, const char *cu, const char *ref, int b_first) {
  char ea[8][512], eb[8][512];
  int i;
  /* "...-a" < "...-b": the b event must win */
  snprintf(ea[0], 512, "{\"source_id\":\"%s-d-a\",\"type\":\"customer\",\"customer\":\"%s\",\"at\":500,\"name\":\"A\"}", cu, cu);
  snprintf(eb[0], 512, "{\"source_id\":\"%s-d-b\",\"type\":\"customer\",\"customer\":\"%s\",\"at\":500,\"name\":\"B\"}", cu, cu);
  snprintf(ea[1], 512, "{\"source_id\":\"%s-v-a\",\"type\":\"visit\",\"customer\":\"%s\",\"at\":500,\"visits\":7}", cu, cu);
  snprintf(eb[1], 512, "{\"source_id\":\"%s-v-b\",\"type\":\"visit\",\"customer\":\"%s\",\"at\":500,\"visits\":9}", cu, cu);
  snprintf(ea[2], 512, "{\"source_id\":\"%s-s-a\",\"type\":\"saved_search\",\"customer\":\"%s\",\"at\":500,\"search_id\":\"s\",\"max_price\":100}", cu, cu);
  snprintf(eb[2], 512, "{\"source_id\":\"%s-s-b\",\"type\":\"saved_search\",\"customer\":\"%s\",\"at\":500,\"search_id\":\"s\",\"max_price\":200}", cu, cu);
  snprintf(ea[3], 512, "{\"source_id\":\"%s-p-a\",\"type\":\"property_save\",\"customer\":\"%s\",\"at\":500,\"listing\":\"%s\",\"saved\":false}", cu, cu, ref);
  snprintf(eb[3], 512, "{\"source_id\":\"%s-p-b\",\"type\":\"property_save\",\"customer\":\"%s\",\"at\":500,\"listing\":\"%s\",\"saved\":true}", cu, cu, ref);
  snprintf(ea[4], 512, "{\"source_id\":\"%s-r-a\",\"type\":\"property_rank\",\"customer\":\"%s\",\"at\":500,\"listing\":\"%s\",\"rank\":1}", cu, cu, ref);
  snprintf(eb[4], 512, "{\"source_id\":\"%s-r-b\",\"type\":\"property_rank\",\"customer\":\"%s\",\"at\":500,\"listing\":\"%s\",\"rank\":4}", cu, cu, ref);
  snprintf(ea[5], 512, "{\"source_id\":\"%s-g-a\",\"type\":\"group\",\"customer\":\"%s\",\"at\":500,\"group\":\"ga\"}", cu, cu);
  snprintf(eb[5], 512, "{\"source_id\":\"%s-g-b\",\"type\":\"group\",\"customer\":\"%s\",\"at\":500,\"group\":\"gb\"}", cu, cu);
  for (i = 0; i < 6; i++) {
    if (b_first) {
      TU_APPLIED(w, eb[i]);
      TU_SUPERSEDED(w, ea[i]);
    } else {
      TU_APPLIED(w, ea[i]);
      TU_APPLIED(w, eb[i]);
    }
  }
}

static char *final_state(tu_world *w, const char *cu) {
  return tu_sqlf_text(
      w,
      "SELECT c.name || '|' || c.visits || '|' || c.group_ref || '|' || "
      "(SELECT max_price FROM search s WHERE s.customer_id = c.id AND "
      "s.external_id = 's') || '|' || "
      "(SELECT saved || ',' || rank FROM web_interest i WHERE i.customer_id = c.id) "
      "FROM web_customer c WHERE c.external_id = '%s'",
      cu);
}

static void test_equal_times_decided_by_source_id(void **state) {
  tu_world *w = *state;
  char ref[16];
  char *sa, *sb;
  listing_ref(w, "Tied", 300000, ref);
  tie_events(w, "ca", ref, 0);
  tie_events(w, "cb", ref, 1);
  sa = final_state(w, "ca");
  sb = final_state(w, "cb");
  assert_non_null(sa);
  assert_non_null(sb);
  assert_string_equal(sa, "B|9|gb|200|1,4");
  assert_string_equal(sa, sb);
  free(sa);
  free(sb);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* ------------------------------------------------------------------------
** 4. GeoJSON and criteria refusals.
*/

/* A saved search event with the given criteria tail (after "search_id"). */
static const char *search_with(const char *criteria) {
  return tu_fmt("{\"source_id\":\"bad\",\"type\":\"saved_search\",\"customer\":"
                "\"c1\",\"at\":%lld,\"search_id\":\"s\",%s}",
                (long long)T0, criteria);
}

#define SQ "[[5.0,52.0],[5.2,52.0],[5.2,52.2],[5.0,52.2],[5.0,52.0]]"

static void test_geojson_refusals(void **state) {
  tu_world *w = *state;
  /* a customer exists already: refusals must not touch it either */
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"ok\",\"type\":\"visit\",\"customer\":\"c1\","
                       "\"at\":%lld,\"visits\":1}", (long long)T0));
  /* the valid square is accepted (control) — under another customer */
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"ok2\",\"type\":\"saved_search\",\"customer\":"
                       "\"c2\",\"at\":%lld,\"search_id\":\"s\",\"area\":{\"polygon\":"
                       "{\"type\":\"Polygon\",\"coordinates\":[" SQ "]}}}",
                       (long long)T0));
  REFUSE(w, search_with("\"area\":{\"polygon\":{\"type\":\"Polygon\",\"coordinates\":"
                        "[[[5.0,52.0],[5.2,52.0],[5.2,52.2],[5.0,52.2],[5.0,52.1]]]}}"),
         TESORO_EINVAL, "not closed");
  REFUSE(w, search_with("\"area\":{\"polygon\":{\"type\":\"Polygon\",\"coordinates\":"
                        "[[[5.0,52.0],[5.2,52.0],[5.0,52.0]]]}}"),
         TESORO_EINVAL, "at least 4");
  REFUSE(w, search_with("\"area\":{\"polygon\":{\"type\":\"Polygon\",\"coordinates\":"
                        "[[[5.0,52.0],[5.2,91.0],[5.2,52.2],[5.0,52.0]]]}}"),
         TESORO_EINVAL, "latitude");
  REFUSE(w, search_with("\"area\":{\"centre\":{\"type\":\"Point\",\"coordinates\":"
                        "[5.0,91]},\"radius\":10}"),
         TESORO_EINVAL, "latitude");
  REFUSE(w, search_with("\"area\":{\"polygon\":{\"type\":\"Polygon\",\"coordinates\":"
                        "[[[5.0,52.0],[181,52.0],[5.2,52.2],[5.0,52.0]]]}}"),
         TESORO_EINVAL, "longitude");
  REFUSE(w, search_with("\"area\":{\"centre\":{\"type\":\"Point\",\"coordinates\":"
                        "[181,52.0]},\"radius\":10}"),
         TESORO_EINVAL, "longitude");
  REFUSE(w, search_with("\"area\":{\"centre\":{\"type\":\"Point\",\"coordinates\":"
                        "[5.1,52.1]},\"radius\":0}"),
         TESORO_EINVAL, "radius");
  REFUSE(w, search_with("\"area\":{\"centre\":{\"type\":\"Point\",\"coordinates\":"
                        "[5.1,52.1]},\"radius\":-5}"),
         TESORO_EINVAL, "radius");
  REFUSE(w, search_with("\"area\":\"Utrecht\""), TESORO_EINVAL, "area");
  REFUSE(w, search_with("\"area\":[1,2]"), TESORO_EINVAL, "area");
  REFUSE(w, "this is not json", TESORO_EINVAL, "not a JSON object");
  REFUSE(w, "[1,2,3]", TESORO_EINVAL, "not a JSON object");
  REFUSE(w, search_with("\"area\":{\"polygon\":{\"type\":\"LineString\",\"coordinates\":"
                        "[" SQ "]}}"),
         TESORO_EINVAL, "Polygon");
  REFUSE(w, search_with("\"area\":{\"centre\":{\"type\":\"Polygon\",\"coordinates\":"
                        "[5.1,52.1]},\"radius\":10}"),
         TESORO_EINVAL, "Point");
  REFUSE(w, search_with("\"area\":{\"radius\":10}"), TESORO_EINVAL, "centre");
  REFUSE(w, search_with("\"area\":{\"polygon\":{\"type\":\"Polygon\",\"coordinates\":"
                        "[[[5.0,52.0],[\"5.2\",52.0],[5.2,52.2],[5.0,52.0]]]}}"),
         TESORO_EINVAL, NULL);
  REFUSE(w, search_with("\"min_price\":500,\"max_price\":100"), TESORO_EINVAL,
         "minimum");
  REFUSE(w, search_with("\"min_bedrooms\":5,\"max_bedrooms\":2"), TESORO_EINVAL,
         "minimum");
  REFUSE(w, search_with("\"property_types\":[\"castle\"]"), TESORO_EINVAL, NULL);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM search s JOIN web_customer c "
                              "ON c.id = s.customer_id WHERE c.external_id = 'c1'"),
                   0);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM web_event WHERE source_id = 'bad'"),
                   0);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* ------------------------------------------------------------------------
** 5. Batches.
*/

static void test_batch_skips_a_bad_event(void **state) {
  tu_world *w = *state;
  char *results = NULL, *first = NULL;
  int failed = -1;
  const char *batch = tu_fmt(
      "[{\"source_id\":\"b0\",\"type\":\"visit\",\"customer\":\"c1\",\"at\":%lld,"
      "\"visits\":2},"
      "{\"source_id\":\"b1\",\"type\":\"enquiry\",\"customer\":\"c1\",\"at\":%lld,"
      "\"enquiry_type\":\"complaint\"},"
      "{\"source_id\":\"b2\",\"type\":\"group\",\"customer\":\"c1\",\"at\":%lld,"
      "\"group\":\"g1\"}]",
      (long long)T0, (long long)T0 + 1, (long long)T0 + 2);
  TU_OK(w, tesoro_exchange_ingest_batch(w->t, w->website, batch, &failed, &results));
  assert_int_equal(failed, 1);
  assert_non_null(results);
  assert_int_equal(strncmp(tesoro_errmsg(w->t), "event 1:", 8), 0);
  assert_non_null(strstr(results, "{\"index\":1,\"error\":\""));
  assert_non_null(strstr(results, "unknown enquiry type"));
  assert_non_null(strstr(results, "\"source_id\":\"b0\""));
  assert_non_null(strstr(results, "\"source_id\":\"b2\""));
  assert_null(strstr(results, "\"index\":0"));
  assert_null(strstr(results, "\"index\":2"));
  /* order: b0's result, then the error, then b2's */
  assert_true(strstr(results, "\"source_id\":\"b0\"") <
              strstr(results, "\"index\":1"));
  assert_true(strstr(results, "\"index\":1") <
              strstr(results, "\"source_id\":\"b2\""));
  first = results;
  assert_int_equal(cust_int(w, "c1", "visits"), 2);
  TU_TEXT_IS(cust_text(w, "c1", "group_ref"), "g1");
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM enquiry"), 0);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM web_event WHERE source_id = 'b1'"), 0);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM web_event"), 2);
  /* the same batch again: nothing changes, same results */
  {
    char before[65], after[65];
    char *again = NULL;
    tu_digest(w, before);
    TU_OK(w, tesoro_exchange_ingest_batch(w->t, w->website, batch, &failed, &again));
    tu_digest(w, after);
    assert_string_equal(before, after);
    assert_int_equal(failed, 1);
    assert_non_null(again);
    assert_string_equal(first, again);
    tesoro_free(again);
  }
  tesoro_free(first);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* A batch takes no savepoint per event; an event refused after it wrote
** is undone alone all the same (tesoro runs the batch again with one).  No
** event type refuses after its writes today, so a trigger makes one: it
** skips the contact's consent update, and the consent event then finds the
** contact changed (ECONFLICT) after it wrote the customer's consent. */
static void test_batch_undoes_an_event_refused_after_it_wrote(void **state) {
  tu_world *w = *state;
  char *results = NULL, err[200];
  int failed = -1;
  int64_t version, lines;
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"r0\",\"type\":\"customer\",\"customer\":"
                       "\"hf-ada\",\"at\":%lld,\"name\":\"Ada\",\"contact_id\":%lld}",
                       (long long)T0, (long long)w->contact));
  assert_int_equal(tu_sql_exec(w, "CREATE TRIGGER test_skip_consent BEFORE UPDATE "
                                  "OF consent ON contact BEGIN SELECT RAISE(IGNORE); "
                                  "END", err, sizeof err), SQLITE_OK);
  version = cust_int(w, "hf-ada", "version");
  lines = tu_sql_int(w, "SELECT count(*) FROM history");
  TU_OK(w, tesoro_exchange_ingest_batch(
               w->t, w->website,
               tu_fmt("[{\"source_id\":\"r1\",\"type\":\"visit\",\"customer\":"
                      "\"c1\",\"at\":%lld,\"visits\":3},"
                      "{\"source_id\":\"r2\",\"type\":\"consent\",\"customer\":"
                      "\"hf-ada\",\"at\":%lld,\"consent\":\"granted\","
                      "\"statement\":\"News\"},"
                      "{\"source_id\":\"r3\",\"type\":\"group\",\"customer\":"
                      "\"c1\",\"at\":%lld,\"group\":\"g7\"},"
                      "{\"source_id\":\"r4\",\"type\":\"group\",\"customer\":"
                      "\"hf-ada\",\"at\":%lld,\"group\":\"g8\"}]",
                      (long long)T0 + 1, (long long)T0 + 2, (long long)T0 + 3,
                      (long long)T0 + 4),
               &failed, &results));
  assert_int_equal(failed, 1);
  assert_non_null(strstr(results, "{\"index\":1,\"error\":\"ECONFLICT\""));
  assert_non_null(strstr(results, "\"source_id\":\"r1\""));
  assert_non_null(strstr(results, "\"source_id\":\"r3\""));
  tesoro_free(results);
  /* the events around it applied (hf-ada's next one too, its customer
  ** read again); nothing of it is left */
  assert_int_equal(cust_int(w, "c1", "visits"), 3);
  TU_TEXT_IS(cust_text(w, "c1", "group_ref"), "g7");
  TU_TEXT_IS(cust_text(w, "hf-ada", "group_ref"), "g8");
  assert_null(cust_text(w, "hf-ada", "consent"));
  assert_int_equal(cust_int(w, "hf-ada", "version"), version + 1);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM web_event WHERE source_id = 'r2'"), 0);
  /* c1's creation and its one fold of the batch, hf-ada's group's fold */
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM history"), lines + 3);
  assert_int_equal(tu_sql_exec(w, "DROP TRIGGER test_skip_consent", err, sizeof err),
                   SQLITE_OK);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* In a batch each event is checked as if it came alone, though the batch's
** text is scanned once: an empty one, one over TESORO_MAX_JSON, one with a
** \u0000 are refused with their own messages, and events naming listings
** in turn find each its own. */
static void test_batch_checks_each_event_as_if_alone(void **state) {
  tu_world *w = *state;
  char a[16], b[16], *results = NULL, *batch,
      *name = tu_long_string(TESORO_MAX_JSON);
  int64_t la = listing_ref(w, "A", 300000, a), lb = listing_ref(w, "B", 400000, b);
  int failed = -1;
  /* tu_fmt's buffer is too small for the long one */
  batch = sqlite3_mprintf(
      "[\"\",{\"source_id\":\"k1\",\"type\":\"customer\",\"customer\":\"c1\","
      "\"at\":%lld,\"name\":\"To\\u0000m\"},"
      "{\"source_id\":\"k2\",\"type\":\"customer\",\"customer\":\"c1\","
      "\"at\":%lld,\"name\":\"%s\"},"
      "{\"source_id\":\"k3\",\"type\":\"property_view\",\"customer\":\"c1\","
      "\"at\":%lld,\"listing\":\"%s\"},"
      "{\"source_id\":\"k4\",\"type\":\"property_view\",\"customer\":\"c1\","
      "\"at\":%lld,\"listing\":\"%s\"},"
      "{\"source_id\":\"k5\",\"type\":\"property_view\",\"customer\":\"c1\","
      "\"at\":%lld,\"listing\":\"%s\"}]",
      (long long)T0, (long long)T0, name, (long long)T0 + 1, a, (long long)T0 + 2, b,
      (long long)T0 + 3, a);
  assert_non_null(batch);
  TU_OK(w, tesoro_exchange_ingest_batch(w->t, w->website, batch, &failed, &results));
  sqlite3_free(batch);
  free(name);
  assert_int_equal(failed, 3);
  assert_non_null(strstr(results, "{\"index\":0,\"error\":\"EINVAL\","
                                  "\"message\":\"event is required\"}"));
  assert_non_null(strstr(results, "{\"index\":1,\"error\":\"EINVAL\""));
  assert_non_null(strstr(results, "NUL"));
  assert_non_null(strstr(results, "{\"index\":2,\"error\":\"EINVAL\","
                                  "\"message\":\"event is longer than"));
  tesoro_free(results);
  assert_int_equal(tu_sqlf(w, "SELECT views FROM web_interest WHERE listing_id = %lld",
                           (long long)la), 2);
  assert_int_equal(tu_sqlf(w, "SELECT views FROM web_interest WHERE listing_id = %lld",
                           (long long)lb), 1);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* A customer's last activity is its latest sign of interest, whatever
** the order its events come in; a batch writes it once per customer at its
** end, and neither a refused event nor a non-interest one (group) counts. */
static void test_batch_stamps_the_latest_activity(void **state) {
  tu_world *w = *state;
  char ref[16], *results = NULL;
  int failed = -1;
  listing_ref(w, "Active", 300000, ref);
  TU_OK(w, tesoro_exchange_ingest_batch(
               w->t, w->website,
               tu_fmt("[{\"source_id\":\"a0\",\"type\":\"visit\",\"customer\":"
                      "\"c1\",\"at\":%lld,\"visits\":1},"
                      "{\"source_id\":\"a1\",\"type\":\"property_view\","
                      "\"customer\":\"c1\",\"at\":%lld,\"listing\":\"%s\"},"
                      "{\"source_id\":\"a2\",\"type\":\"property_view\","
                      "\"customer\":\"c1\",\"at\":%lld,\"listing\":\"TES-99999\"},"
                      "{\"source_id\":\"a3\",\"type\":\"group\",\"customer\":"
                      "\"c2\",\"at\":%lld,\"group\":\"g1\"},"
                      "{\"source_id\":\"a4\",\"type\":\"property_view\","
                      "\"customer\":\"c2\",\"at\":%lld,\"listing\":\"TES-99999\"}]",
                      (long long)T0 + 5, (long long)T0 + 2, ref, (long long)T0 + 9,
                      (long long)T0 + 7, (long long)T0 + 8),
               &failed, &results));
  tesoro_free(results);
  assert_int_equal(failed, 2); /* a2, a4: no such listing */
  assert_int_equal(cust_int(w, "c1", "last_activity_at"), T0 + 5);
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM web_customer WHERE "
                                 "external_id = 'c2' AND last_activity_at IS NULL"),
                   1);
  /* one call at a time: an older sign leaves it, a newer one moves it */
  TU_OK(w, tesoro_exchange_ingest(
               w->t, w->website,
               tu_fmt("{\"source_id\":\"a5\",\"type\":\"visit\",\"customer\":"
                      "\"c1\",\"at\":%lld,\"visits\":2}", (long long)T0 + 1),
               &results));
  tesoro_free(results);
  assert_int_equal(cust_int(w, "c1", "last_activity_at"), T0 + 5);
  TU_OK(w, tesoro_exchange_ingest_batch(
               w->t, w->website,
               tu_fmt("[{\"source_id\":\"a6\",\"type\":\"property_view\","
                      "\"customer\":\"c1\",\"at\":%lld,\"listing\":\"%s\"}]",
                      (long long)T0 + 6, ref),
               &failed, &results));
  tesoro_free(results);
  assert_int_equal(failed, 0);
  assert_int_equal(cust_int(w, "c1", "last_activity_at"), T0 + 6);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* tesoro.h: a skipped event's entry is {"index": i, "error": "TESORO_EINVAL",
   "message": "..."}. */
/* In a batch, a customer's website events share one history row (the
** first event's) and move its version once; each is still applied and
** kept in web_event.  A refused event in between changes nothing, and a
** single call (tesoro_exchange_ingest) keeps one row per event. */
static void test_batch_moves_a_customer_once(void **state) {
  tu_world *w = *state;
  char *results = NULL;
  int failed = -1;
  int64_t c1, c2, version;
  const char *batch = tu_fmt(
      "[{\"source_id\":\"f0\",\"type\":\"visit\",\"customer\":\"c1\",\"at\":%lld,"
      "\"visits\":2},"
      "{\"source_id\":\"f1\",\"type\":\"visit\",\"customer\":\"c2\",\"at\":%lld,"
      "\"visits\":1},"
      "{\"source_id\":\"f2\",\"type\":\"property_view\",\"customer\":\"c1\","
      "\"at\":%lld,\"listing\":\"TES-99999\"},"
      "{\"source_id\":\"f3\",\"type\":\"group\",\"customer\":\"c1\",\"at\":%lld,"
      "\"group\":\"g1\"},"
      "{\"source_id\":\"f4\",\"type\":\"visit\",\"customer\":\"c1\",\"at\":%lld,"
      "\"visits\":3}]",
      (long long)T0, (long long)T0 + 1, (long long)T0 + 2, (long long)T0 + 3,
      (long long)T0 + 4);
  TU_OK(w, tesoro_exchange_ingest_batch(w->t, w->website, batch, &failed, &results));
  tesoro_free(results);
  assert_int_equal(failed, 1); /* f2: no such listing */
  c1 = cust(w, "c1");
  c2 = cust(w, "c2");
  /* every good event applied and kept */
  assert_int_equal(cust_int(w, "c1", "visits"), 3);
  TU_TEXT_IS(cust_text(w, "c1", "group_ref"), "g1");
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM web_event WHERE "
                              "customer_id = %lld", (long long)c1), 3);
  /* c1: made (version 1), then moved once by its three events */
  assert_int_equal(cust_int(w, "c1", "version"), 2);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM history WHERE entity = %d "
                              "AND entity_id = %lld", TESORO_ENTITY_WEB_CUSTOMER,
                           (long long)c1), 2);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM history WHERE entity = %d "
                              "AND entity_id = %lld AND seq = 2 AND event = "
                              "'visit'", TESORO_ENTITY_WEB_CUSTOMER,
                           (long long)c1), 1);
  assert_int_equal(cust_int(w, "c2", "version"), 2);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM history WHERE entity = %d "
                              "AND entity_id = %lld", TESORO_ENTITY_WEB_CUSTOMER,
                           (long long)c2), 2);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
  /* the next batch moves it once more */
  TU_OK(w, tesoro_exchange_ingest_batch(
               w->t, w->website,
               tu_fmt("[{\"source_id\":\"f5\",\"type\":\"visit\",\"customer\":"
                      "\"c1\",\"at\":%lld,\"visits\":4},{\"source_id\":\"f6\","
                      "\"type\":\"group\",\"customer\":\"c1\",\"at\":%lld,"
                      "\"group\":\"g2\"}]", (long long)T0 + 5, (long long)T0 + 6),
               &failed, &results));
  tesoro_free(results);
  assert_int_equal(failed, 0);
  assert_int_equal(cust_int(w, "c1", "version"), 3);
  TU_TEXT_IS(cust_text(w, "c1", "group_ref"), "g2");
  /* one at a time: a row and a version each */
  version = cust_int(w, "c1", "version");
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"f7\",\"type\":\"visit\",\"customer\":\"c1\","
                       "\"at\":%lld,\"visits\":5}", (long long)T0 + 7));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"f8\",\"type\":\"visit\",\"customer\":\"c1\","
                       "\"at\":%lld,\"visits\":6}", (long long)T0 + 8));
  assert_int_equal(cust_int(w, "c1", "version"), version + 2);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM history WHERE entity = %d "
                              "AND entity_id = %lld", TESORO_ENTITY_WEB_CUSTOMER,
                           (long long)c1), 5);
}

/* What the website's events wrote, as text: the customers (their version
** aside: a batch moves it once), their interests and the kept events. */
static char *web_rows(tu_world *w) {
  char *customers = tu_sql_text(
      w, "SELECT json_group_array(json_array(id, external_id, contact_id, "
         "state, name, email, details_stamp, visits, last_visit_at, "
         "visit_stamp, group_ref, group_stamp, last_activity_at, consent, "
         "consent_stamp)) FROM (SELECT * FROM web_customer ORDER BY id)");
  char *interests = tu_sql_text(
      w, "SELECT json_group_array(json_array(customer_id, listing_id, views, "
         "last_viewed_at, saved, save_stamp, rank, note)) FROM (SELECT * FROM "
         "web_interest ORDER BY customer_id, listing_id)");
  char *events = tu_sql_text(
      w, "SELECT json_group_array(json_array(source_id, hex(digest), type, "
         "customer_id, at, applied, entity, entity_id)) FROM (SELECT * FROM "
         "web_event ORDER BY agency_id, source_id)");
  char *all = strdup(tu_fmt("%s\n%s\n%s", customers, interests, events));
  free(customers);
  free(interests);
  free(events);
  return all;
}

/* A batch ends as its events one by one do: the same customers,
** interests and kept events, whichever customers repeat in it, are made
** by it, reach a contact, or send an older visit, a replay or a refused
** event in between. */
static void test_batch_ends_as_its_events_one_by_one(void **state) {
  tu_world *w = *state, *alone;
  void *other = NULL;
  char a[16], b[16], *results = NULL, *evs[16], *batched, *single;
  int failed = -1, n = 0;
  assert_int_equal(tu_setup(&other), 0);
  alone = other;
  listing_ref(w, "A", 300000, a);
  listing_ref(w, "B", 400000, b);
  listing_ref(alone, "A", 300000, a);
  listing_ref(alone, "B", 400000, b);
#define EV(...) (evs[n++] = strdup(tu_fmt(__VA_ARGS__)))
  EV("{\"source_id\":\"o1\",\"type\":\"customer\",\"customer\":\"c1\",\"at\":%lld,"
     "\"name\":\"Ann\",\"email\":\"ann@example.com\"}", (long long)T0);
  EV("{\"source_id\":\"o2\",\"type\":\"visit\",\"customer\":\"c2\",\"at\":%lld,"
     "\"visits\":1}", (long long)T0 + 1);
  EV("{\"source_id\":\"o3\",\"type\":\"property_view\",\"customer\":\"c1\","
     "\"at\":%lld,\"listing\":\"%s\"}", (long long)T0 + 2, a);
  EV("{\"source_id\":\"o4\",\"type\":\"property_save\",\"customer\":\"c1\","
     "\"at\":%lld,\"listing\":\"%s\",\"saved\":true}", (long long)T0 + 3, a);
  EV("{\"source_id\":\"o5\",\"type\":\"visit\",\"customer\":\"c1\",\"at\":%lld,"
     "\"visits\":4}", (long long)T0 + 5);
  EV("{\"source_id\":\"o6\",\"type\":\"visit\",\"customer\":\"c1\",\"at\":%lld,"
     "\"visits\":3}", (long long)T0 + 4); /* older: superseded */
  EV("{\"source_id\":\"o7\",\"type\":\"property_view\",\"customer\":\"c2\","
     "\"at\":%lld,\"listing\":\"%s\"}", (long long)T0 + 6, b);
  EV("{\"source_id\":\"o8\",\"type\":\"property_view\",\"customer\":\"c1\","
     "\"at\":%lld,\"listing\":\"TES-99999\"}", (long long)T0 + 7); /* refused */
  EV("{\"source_id\":\"o9\",\"type\":\"customer\",\"customer\":\"hf\",\"at\":%lld,"
     "\"name\":\"Hal\",\"contact_id\":%lld}", (long long)T0 + 8,
     (long long)w->contact);
  EV("{\"source_id\":\"o10\",\"type\":\"consent\",\"customer\":\"hf\",\"at\":%lld,"
     "\"consent\":\"granted\",\"statement\":\"News\"}", (long long)T0 + 9);
  EV("{\"source_id\":\"o11\",\"type\":\"property_rank\",\"customer\":\"c2\","
     "\"at\":%lld,\"listing\":\"%s\",\"rank\":4,\"note\":\"nice\"}",
     (long long)T0 + 10, b);
  EV("{\"source_id\":\"o12\",\"type\":\"property_view\",\"customer\":\"c1\","
     "\"at\":%lld,\"listing\":\"%s\"}", (long long)T0 + 2, a); /* o3 again */
  EV("{\"source_id\":\"o3\",\"type\":\"property_view\",\"customer\":\"c1\","
     "\"at\":%lld,\"listing\":\"%s\"}", (long long)T0 + 2, a); /* a replay */
  EV("{\"source_id\":\"o13\",\"type\":\"group\",\"customer\":\"hf\",\"at\":%lld,"
     "\"group\":\"g1\"}", (long long)T0 + 11);
#undef EV
  {
    sqlite3_str *batch = sqlite3_str_new(NULL);
    sqlite3_str_appendchar(batch, 1, '[');
    for (int i = 0; i < n; i++)
      sqlite3_str_appendf(batch, "%s%s", i ? "," : "", evs[i]);
    sqlite3_str_appendchar(batch, 1, ']');
    char *text = sqlite3_str_finish(batch);
    TU_OK(w, tesoro_exchange_ingest_batch(w->t, w->website, text, &failed,
                                          &results));
    sqlite3_free(text);
  }
  assert_int_equal(failed, 1);
  tesoro_free(results);
  for (int i = 0; i < n; i++) {
    int rc = tesoro_exchange_ingest(alone->t, alone->website, evs[i], &results);
    assert_int_equal(rc, i == 7 ? TESORO_ENOTFOUND : TESORO_OK);
    tesoro_free(results);
    results = NULL;
    free(evs[i]);
  }
  batched = web_rows(w);
  single = web_rows(alone);
  assert_string_equal(batched, single);
  /* and they are about something: four customers, c1's views counted */
  assert_non_null(strstr(batched, "\"hf\""));
  assert_int_equal(tu_sqlf(w, "SELECT views FROM web_interest WHERE "
                              "customer_id = %lld", (long long)cust(w, "c1")), 2);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
  assert_int_equal(tesoro_check(alone->t), TESORO_OK);
  free(batched);
  free(single);
  tu_teardown(&other);
}

static void test_batch_error_entry_names_the_code(void **state) {
  tu_world *w = *state;
  char *results = NULL;
  int failed = -1;
  TU_OK(w, tesoro_exchange_ingest_batch(
               w->t, w->website,
               "[{\"source_id\":\"b0\",\"type\":\"visit\",\"customer\":\"c1\","
               "\"at\":100,\"visits\":2},"
               "{\"source_id\":\"b1\",\"type\":\"visit\",\"customer\":\"c1\","
               "\"at\":101,\"visits\":0}]",
               &failed, &results));
  assert_int_equal(failed, 1);
  assert_non_null(results);
  /* The code as tesoro_errname names it (tesoro.h). */
  if (strstr(results, "{\"index\":1,\"error\":\"EINVAL\"") == NULL) {
    print_error("batch results: %s\n", results);
    tesoro_free(results);
    fail_msg("error entry does not name \"EINVAL\" (tesoro.h)");
  }
  tesoro_free(results);
}

static void test_batch_not_an_array_and_empty(void **state) {
  tu_world *w = *state;
  char *results = NULL;
  int failed = -1;
  TU_ASSERT_REFUSED(w,
                    tesoro_exchange_ingest_batch(
                        w->t, w->website,
                        "{\"source_id\":\"b0\",\"type\":\"visit\",\"customer\":"
                        "\"c1\",\"at\":100,\"visits\":2}",
                        &failed, &results),
                    TESORO_EINVAL, NULL);
  tesoro_free(results);
  results = NULL;
  TU_ASSERT_REFUSED(w,
                    tesoro_exchange_ingest_batch(w->t, w->website, "not json",
                                                 &failed, &results),
                    TESORO_EINVAL, NULL);
  tesoro_free(results);
  results = NULL;
  TU_OK(w, tesoro_exchange_ingest_batch(w->t, w->website, "[]", &failed, &results));
  assert_int_equal(failed, 0);
  assert_non_null(results);
  assert_string_equal(results, "[]");
  tesoro_free(results);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* ------------------------------------------------------------------------
** 6. The holding tank.
*/

/* A prospect with details (customer event at `at`); its id. */
static int64_t prospect(tu_world *w, const char *cu, const char *name,
                        const char *email, int64_t at) {
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"%s-details\",\"type\":\"customer\",\"customer\":"
                       "\"%s\",\"at\":%lld,\"name\":\"%s\",\"email\":\"%s\"}",
                       cu, cu, (long long)at, name, email));
  return cust(w, cu);
}

static void test_prospects_newest_first(void **state) {
  tu_world *w = *state;
  tesoro_cursor *c = NULL;
  int64_t p1, p2, p3;
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW - 300));
  p1 = prospect(w, "c1", "First", "first@example.com", T0);
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW - 200));
  p2 = prospect(w, "c2", "Second", "second@example.com", T0);
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW - 100));
  p3 = prospect(w, "c3", "Third", "third@example.com", T0);
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW));
  TU_OK(w, tesoro_prospects(w->t, w->agent, &c));
  assert_int_equal(tesoro_cursor_next(c), TESORO_ROW);
  assert_int_equal(tu_col_int(c, "id"), p3);
  assert_string_equal(tu_col_text(c, "external_id"), "c3");
  assert_string_equal(tu_col_text(c, "name"), "Third");
  assert_string_equal(tu_col_text(c, "email"), "third@example.com");
  assert_int_equal(tesoro_cursor_next(c), TESORO_ROW);
  assert_int_equal(tu_col_int(c, "id"), p2);
  assert_int_equal(tesoro_cursor_next(c), TESORO_ROW);
  assert_int_equal(tu_col_int(c, "id"), p1);
  assert_int_equal(tesoro_cursor_next(c), TESORO_DONE);
  tesoro_cursor_free(c);
  /* an approved or discarded customer leaves the tank */
  TU_OK(w, tesoro_prospect_approve(w->t, w->agent, p2, 0, 0, NULL));
  TU_OK(w, tesoro_prospect_discard(w->t, w->agent, p3, "Spam", 0));
  TU_OK(w, tesoro_prospects(w->t, w->agent, &c));
  assert_int_equal(tesoro_cursor_next(c), TESORO_ROW);
  assert_int_equal(tu_col_int(c, "id"), p1);
  assert_int_equal(tesoro_cursor_next(c), TESORO_DONE);
  tesoro_cursor_free(c);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_approve_links_by_email_case_insensitively(void **state) {
  tu_world *w = *state;
  int64_t p = prospect(w, "c1", "Ada O", "ADA@EXAMPLE.COM", T0);
  int64_t contact = 0, n_contacts = tu_sqlf(w, "SELECT count(*) FROM contact");
  TU_OK(w, tesoro_prospect_approve(w->t, w->agent, p, 0, 0, &contact));
  assert_int_equal(contact, w->contact);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM contact"), n_contacts);
  TU_TEXT_IS(cust_text(w, "c1", "state"), "approved");
  assert_int_equal(cust_int(w, "c1", "contact_id"), w->contact);
  {
    int64_t back = 0;
    TU_OK(w, tesoro_contact_customer(w->t, w->agent, w->contact, &back));
    assert_int_equal(back, p);
  }
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_approve_creates_an_applicant(void **state) {
  tu_world *w = *state;
  int64_t p = prospect(w, "c1", "Nina New", "nina@example.com", T0);
  int64_t contact = 0;
  TU_OK(w, tesoro_prospect_approve(w->t, w->agent, p, 0, 0, &contact));
  assert_true(contact > 0);
  assert_true(contact != w->contact && contact != w->contact2);
  TU_TEXT_IS(tu_sqlf_text(w, "SELECT name FROM contact WHERE id = %lld",
                          (long long)contact), "Nina New");
  TU_TEXT_IS(tu_sqlf_text(w, "SELECT email FROM contact WHERE id = %lld",
                          (long long)contact), "nina@example.com");
  assert_int_equal(tu_sqlf(w, "SELECT agency_id FROM contact WHERE id = %lld",
                           (long long)contact), w->agency);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM contact_role WHERE contact_id "
                              "= %lld AND role = 'applicant'", (long long)contact),
                   1);
  assert_int_equal(cust_int(w, "c1", "contact_id"), contact);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_approve_into_an_explicit_contact(void **state) {
  tu_world *w = *state;
  /* the e-mail is Ada's, but staff name Bob explicitly */
  int64_t p = prospect(w, "c1", "Bobby", "ada@example.com", T0);
  int64_t contact = 0;
  TU_OK(w, tesoro_prospect_approve(w->t, w->agent, p, w->contact2, 0, &contact));
  assert_int_equal(contact, w->contact2);
  assert_int_equal(cust_int(w, "c1", "contact_id"), w->contact2);
  TU_TEXT_IS(cust_text(w, "c1", "state"), "approved");
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* A prospect first seen by a visit has no details: it cannot become a new
** contact, only be approved into one the staff name (or its e-mail's). */
static void test_approve_a_nameless_prospect(void **state) {
  tu_world *w = *state;
  int64_t p, contact = 0;
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"v1\",\"type\":\"visit\",\"customer\":"
                       "\"c9\",\"at\":%lld,\"visits\":1}", (long long)T0));
  p = cust(w, "c9");
  TU_ASSERT_REFUSED(w, tesoro_prospect_approve(w->t, w->agent, p, 0, 0, &contact),
                    TESORO_EGUARD, "no name");
  assert_int_equal(contact, 0);
  TU_OK(w, tesoro_prospect_approve(w->t, w->agent, p, w->contact2, 0, &contact));
  assert_int_equal(contact, w->contact2);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_discard_rules(void **state) {
  tu_world *w = *state;
  int64_t p = prospect(w, "c1", "Spammer", "spam@example.com", T0);
  TU_ASSERT_REFUSED(w, tesoro_prospect_discard(w->t, w->agent, p, NULL, 0),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_prospect_discard(w->t, w->agent, p, "", 0),
                    TESORO_EINVAL, NULL);
  TU_OK(w, tesoro_prospect_discard(w->t, w->agent, p, "Spam", 0));
  TU_TEXT_IS(cust_text(w, "c1", "state"), "discarded");
  TU_TEXT_IS(cust_text(w, "c1", "end_reason"), "Spam");
  TU_ASSERT_REFUSED(w, tesoro_prospect_approve(w->t, w->agent, p, 0, 0, NULL),
                    TESORO_ESTATE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_prospect_discard(w->t, w->agent, p, "Again", 0),
                    TESORO_ESTATE, NULL);
  /* events about a discarded customer are applied but off every timeline */
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"dv\",\"type\":\"visit\",\"customer\":\"c1\","
                       "\"at\":%lld,\"visits\":3}", (long long)T0 + 1));
  assert_int_equal(cust_int(w, "c1", "visits"), 3);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_holding_tank_permissions(void **state) {
  tu_world *w = *state;
  int64_t p = prospect(w, "c1", "Perm", "perm@example.com", T0);
  tesoro_cursor *c = NULL;
  TU_ASSERT_REFUSED(w, tesoro_prospect_approve(w->t, w->client, p, 0, 0, NULL),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_prospect_approve(w->t, w->website, p, 0, 0, NULL),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_prospect_approve(w->t, w->other_agent, p, 0, 0, NULL),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_prospect_discard(w->t, w->client, p, "x", 0),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_prospect_discard(w->t, w->website, p, "x", 0),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_prospect_discard(w->t, w->other_agent, p, "x", 0),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_prospects(w->t, w->client, &c), TESORO_EDENIED, NULL);
  assert_null(c);
  TU_ASSERT_REFUSED(w, tesoro_prospects(w->t, w->website, &c), TESORO_EDENIED, NULL);
  assert_null(c);
  /* the other agency's staff see an empty tank */
  TU_OK(w, tesoro_prospects(w->t, w->other_agent, &c));
  assert_int_equal(tu_count(c), 0);
  /* approving into another agency's contact */
  TU_ASSERT_REFUSED(w, tesoro_prospect_approve(w->t, w->agent, p, w->other_contact,
                                               0, NULL),
                    TESORO_EDENIED, NULL);
  TU_TEXT_IS(cust_text(w, "c1", "state"), "prospect");
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_events_after_approval_on_the_timeline(void **state) {
  tu_world *w = *state;
  char ref[16];
  int64_t p = prospect(w, "c1", "Ada", "ada@example.com", T0);
  int64_t before_acts;
  listing_ref(w, "Timeline", 300000, ref);
  /* before approval: no web_ line */
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"t0\",\"type\":\"visit\",\"customer\":\"c1\","
                       "\"at\":%lld,\"visits\":1}", (long long)T0 + 1));
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM activity WHERE kind LIKE 'web\\_%%' ESCAPE '\\'"), 0);
  TU_OK(w, tesoro_prospect_approve(w->t, w->agent, p, 0, 0, NULL));
  before_acts = tu_sqlf(w, "SELECT count(*) FROM activity WHERE contact_id = %lld",
                        (long long)w->contact);
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"t1\",\"type\":\"visit\",\"customer\":\"c1\","
                       "\"at\":%lld,\"visits\":2}", (long long)T0 + 2));
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM activity WHERE contact_id = %lld "
                              "AND kind = 'web_visit'", (long long)w->contact), 1);
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"t2\",\"type\":\"property_view\",\"customer\":\"c1\","
                       "\"at\":%lld,\"listing\":\"%s\"}", (long long)T0 + 3, ref));
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM activity WHERE contact_id = %lld "
                              "AND kind = 'web_property_view'", (long long)w->contact), 1);
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"t3\",\"type\":\"enquiry\",\"customer\":\"c1\","
                       "\"at\":%lld,\"enquiry_type\":\"general\"}", (long long)T0 + 4));
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM activity WHERE contact_id = %lld "
                              "AND kind = 'web_enquiry'", (long long)w->contact), 1);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM activity WHERE contact_id = %lld",
                           (long long)w->contact), before_acts + 3);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* ------------------------------------------------------------------------
** 7. CRM → website.
*/

/* Exchange rows to the website with this template (and "capability" in the
   payload). */
static int64_t exch(tu_world *w, const char *tmpl) {
  return tu_sqlf(w, "SELECT count(*) FROM outbox_delivery WHERE kind = 'exchange' AND "
                    "channel = 'website' AND recipient_id = %lld AND template = "
                    "'%s' AND payload LIKE '%%\"capability\"%%'",
                 (long long)w->website, tmpl);
}
static int64_t exch_all(tu_world *w) {
  return tu_sqlf(w, "SELECT count(*) FROM outbox_delivery WHERE kind = 'exchange'");
}
/* The capability the newest row of a template names. */
static int64_t exch_capability(tu_world *w, const char *tmpl) {
  return tu_sqlf(w, "SELECT json_extract(payload, '$.capability') FROM outbox_delivery "
                    "WHERE kind = 'exchange' AND template = '%s' ORDER BY id DESC "
                    "LIMIT 1",
                 tmpl);
}

static void test_outbox_new_customer(void **state) {
  tu_world *w = *state;
  int64_t nina = 0, noemail = 0, n0 = exch_all(w), nc0 = exch(w, "new_customer");
  TU_OK(w, tesoro_contact_create(w->t, w->agent, "Nina", "nina@example.com", NULL,
                                 NULL, &nina));
  assert_int_equal(exch(w, "new_customer"), nc0 + 1);
  assert_int_equal(exch_all(w), n0 + 1);
  assert_int_equal(exch_capability(w, "new_customer"), 2);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM outbox_delivery WHERE template = "
                              "'new_customer' AND json_extract(payload, "
                              "'$.contact') = %lld", (long long)nina)
                       + tu_sqlf(w, "SELECT count(*) FROM outbox_delivery WHERE template = "
                                    "'new_customer' AND json_extract(payload, "
                                    "'$.contact_id') = %lld", (long long)nina),
                   1);
  TU_OK(w, tesoro_contact_create(w->t, w->agent, "No Mail", NULL, "+31 6", NULL,
                                 &noemail));
  assert_int_equal(exch(w, "new_customer"), nc0 + 1);
  assert_int_equal(exch_all(w), n0 + 1);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_outbox_search_saved_and_deleted(void **state) {
  tu_world *w = *state;
  int64_t search = 0, c = 0;
  TU_OK(w, tesoro_search_save(w->t, w->agent, w->contact, 0,
                              "{\"max_price\":500000,\"property_types\":[\"house\"],"
                              "\"area\":{\"centre\":{\"type\":\"Point\","
                              "\"coordinates\":[5.12,52.09]},\"radius\":2000}}",
                              1, &search));
  assert_true(search > 0);
  assert_int_equal(exch(w, "search_saved"), 1);
  assert_int_equal(exch_capability(w, "search_saved"), 6);
  TU_OK(w, tesoro_contact_customer(w->t, w->agent, w->contact, &c));
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM search WHERE id = %lld AND "
                              "customer_id = %lld AND hard = 1 AND alert = 1 AND "
                              "source = 'crm' AND max_price = 500000 AND state = "
                              "'active'", (long long)search, (long long)c), 1);
  TU_TEXT_IS(tu_sqlf_text(w, "SELECT state FROM web_customer WHERE id = %lld",
                          (long long)c), "approved");
  /* an edit */
  {
    int64_t same = 0;
    TU_OK(w, tesoro_search_save(w->t, w->agent, w->contact, search,
                                "{\"max_price\":600000}", 0, &same));
    assert_int_equal(same, search);
    assert_int_equal(exch(w, "search_saved"), 2);
    assert_int_equal(tu_sqlf(w, "SELECT max_price FROM search WHERE id = %lld",
                             (long long)search), 600000);
  }
  /* invalid criteria: refused, nothing queued */
  TU_ASSERT_REFUSED(w, tesoro_search_save(w->t, w->agent, w->contact, 0,
                                          "{\"min_price\":9,\"max_price\":1}", 0,
                                          &(int64_t){0}),
                    TESORO_EINVAL, "minimum");
  TU_OK(w, tesoro_search_delete(w->t, w->agent, search, 0));
  assert_int_equal(exch(w, "search_deleted"), 1);
  assert_int_equal(exch_capability(w, "search_deleted"), 6);
  TU_TEXT_IS(tu_sqlf_text(w, "SELECT state FROM search WHERE id = %lld",
                          (long long)search), "deleted");
  /* other agency's staff may not touch it */
  TU_ASSERT_REFUSED(w, tesoro_search_save(w->t, w->other_agent, w->contact, 0,
                                          "{}", 0, &(int64_t){0}),
                    TESORO_EDENIED, NULL);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_outbox_interest_and_group(void **state) {
  tu_world *w = *state;
  char ref[16];
  int64_t l = listing_ref(w, "Interest", 300000, ref), c = 0;
  TU_OK(w, tesoro_interest_register(w->t, w->agent, w->contact, l));
  assert_int_equal(exch(w, "property_interest"), 1);
  assert_int_equal(exch_capability(w, "property_interest"), 9);
  /* the website's own name for the listing, as its events use it */
  {
    char *named = tu_sqlf_text(w, "SELECT json_extract(payload, '$.listing') "
                                  "FROM outbox WHERE template = "
                                  "'property_interest'");
    assert_non_null(named);
    assert_string_equal(named, ref);
    free(named);
  }
  TU_OK(w, tesoro_contact_customer(w->t, w->agent, w->contact, &c));
  assert_true(tu_sqlf(w, "SELECT in_branch_at FROM web_interest WHERE customer_id "
                         "= %lld AND listing_id = %lld",
                      (long long)c, (long long)l) > 0);
  TU_OK(w, tesoro_contact_set_group(w->t, w->agent, w->contact, "family-1"));
  assert_int_equal(exch(w, "group_changed"), 1);
  assert_int_equal(exch_capability(w, "group_changed"), 12);
  TU_TEXT_IS(tu_sqlf_text(w, "SELECT group_ref FROM web_customer WHERE id = %lld",
                          (long long)c), "family-1");
  TU_OK(w, tesoro_contact_set_group(w->t, w->agent, w->contact, ""));
  assert_int_equal(exch(w, "group_changed"), 2);
  TU_TEXT_IS(tu_sqlf_text(w, "SELECT group_ref FROM web_customer WHERE id = %lld",
                          (long long)c), NULL);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* Ada's web customer "ada-web" approved into w->contact, and a vendor claim of
   hers on `ref`; the claim id. */
static int64_t ada_claim(tu_world *w, const char *sid, const char *ref, int64_t l) {
  int64_t c;
  if (tu_sqlf(w, "SELECT count(*) FROM web_customer WHERE external_id = 'ada-web'") == 0) {
    int64_t p = prospect(w, "ada-web", "Ada", "ada@example.com", T0);
    TU_OK(w, tesoro_prospect_approve(w->t, w->agent, p, 0, 0, NULL));
  }
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"%s\",\"type\":\"vendor_claim\",\"customer\":"
                       "\"ada-web\",\"at\":%lld,\"listing\":\"%s\",\"note\":\"mine\"}",
                       sid, (long long)T0 + 5, ref));
  c = cust(w, "ada-web");
  return tu_sqlf(w, "SELECT max(id) FROM vendor_claim WHERE customer_id = %lld AND "
                    "listing_id = %lld", (long long)c, (long long)l);
}

static void test_vendor_confirm_confirms_the_claim(void **state) {
  tu_world *w = *state;
  char ref[16];
  int64_t l = listing_ref(w, "Vendor", 300000, ref);
  int64_t claim = ada_claim(w, "vc1", ref, l);
  int64_t task = tu_sqlf(w, "SELECT id FROM task WHERE kind = 'confirm_vendor' AND "
                            "entity_id = %lld", (long long)claim);
  assert_true(task > 0);
  TU_TEXT_IS(tu_sqlf_text(w, "SELECT state FROM task WHERE id = %lld",
                          (long long)task), "open");
  /* the customer's agent (Ada is assigned to w->agent) */
  assert_int_equal(tu_sqlf(w, "SELECT assignee_id FROM task WHERE id = %lld",
                           (long long)task), w->agent);
  TU_ASSERT_REFUSED(w, tesoro_vendor_confirm(w->t, w->agent, w->contact, l, "owner"),
                    TESORO_EINVAL, NULL);
  TU_OK(w, tesoro_vendor_confirm(w->t, w->agent, w->contact, l, "vendor"));
  assert_int_equal(exch(w, "vendor_confirmed"), 1);
  assert_int_equal(exch_capability(w, "vendor_confirmed"), 14);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM vendor_link WHERE contact_id = "
                              "%lld AND listing_id = %lld AND role = 'vendor'",
                           (long long)w->contact, (long long)l), 1);
  TU_TEXT_IS(tu_sqlf_text(w, "SELECT state FROM vendor_claim WHERE id = %lld",
                          (long long)claim), "confirmed");
  TU_TEXT_IS(tu_sqlf_text(w, "SELECT state FROM task WHERE id = %lld",
                          (long long)task), "done");
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_vendor_claim_reject(void **state) {
  tu_world *w = *state;
  char ref[16];
  int64_t l = listing_ref(w, "Rejected", 300000, ref);
  int64_t claim = ada_claim(w, "vc1", ref, l);
  int64_t task = tu_sqlf(w, "SELECT id FROM task WHERE kind = 'confirm_vendor' AND "
                            "entity_id = %lld", (long long)claim);
  int64_t n0 = exch_all(w);
  TU_ASSERT_REFUSED(w, tesoro_vendor_claim_reject(w->t, w->agent, claim, NULL, 0),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_vendor_claim_reject(w->t, w->agent, claim, "", 0),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_vendor_claim_reject(w->t, w->other_agent, claim,
                                                  "Not yours", 0),
                    TESORO_EDENIED, NULL);
  TU_OK(w, tesoro_vendor_claim_reject(w->t, w->agent, claim, "Not the owner", 0));
  TU_TEXT_IS(tu_sqlf_text(w, "SELECT state FROM vendor_claim WHERE id = %lld",
                          (long long)claim), "rejected");
  TU_TEXT_IS(tu_sqlf_text(w, "SELECT end_reason FROM vendor_claim WHERE id = %lld",
                          (long long)claim), "Not the owner");
  TU_TEXT_IS(tu_sqlf_text(w, "SELECT state FROM task WHERE id = %lld",
                          (long long)task), "cancelled");
  assert_int_equal(exch_all(w), n0);
  TU_ASSERT_REFUSED(w, tesoro_vendor_claim_reject(w->t, w->agent, claim, "again", 0),
                    TESORO_ESTATE, NULL);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_website_changes_are_not_echoed(void **state) {
  tu_world *w = *state;
  char ref[16];
  int64_t n0;
  listing_ref(w, "Echo", 300000, ref);
  {
    int64_t p = prospect(w, "ada-web", "Ada", "ada@example.com", T0);
    TU_OK(w, tesoro_prospect_approve(w->t, w->agent, p, 0, 0, NULL));
  }
  n0 = exch_all(w);
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"e1\",\"type\":\"saved_search\",\"customer\":"
                       "\"ada-web\",\"at\":%lld,\"search_id\":\"s\",\"max_price\":5}",
                       (long long)T0 + 1));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"e2\",\"type\":\"search_deleted\",\"customer\":"
                       "\"ada-web\",\"at\":%lld,\"search_id\":\"s\"}", (long long)T0 + 2));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"e3\",\"type\":\"property_save\",\"customer\":"
                       "\"ada-web\",\"at\":%lld,\"listing\":\"%s\",\"saved\":true}",
                       (long long)T0 + 3, ref));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"e4\",\"type\":\"group\",\"customer\":"
                       "\"ada-web\",\"at\":%lld,\"group\":\"g\"}", (long long)T0 + 4));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"e5\",\"type\":\"customer\",\"customer\":"
                       "\"new-web\",\"at\":%lld,\"name\":\"N\",\"email\":\"n@example.com\"}",
                       (long long)T0 + 5));
  assert_int_equal(exch_all(w), n0);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_customer_event_names_a_crm_contact(void **state) {
  tu_world *w = *state;
  int64_t c = 0, search = 0;
  TU_OK(w, tesoro_search_save(w->t, w->agent, w->contact, 0, "{\"max_price\":9}",
                              0, &search));
  TU_OK(w, tesoro_contact_customer(w->t, w->agent, w->contact, &c));
  TU_TEXT_IS(tu_sqlf_text(w, "SELECT external_id FROM web_customer WHERE id = %lld",
                          (long long)c), NULL);
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"n1\",\"type\":\"customer\",\"customer\":\"hf-ada\","
                       "\"at\":%lld,\"name\":\"Ada\",\"email\":\"ada@example.com\","
                       "\"contact_id\":%lld}", (long long)T0, (long long)w->contact));
  assert_int_equal(cust(w, "hf-ada"), c);
  TU_TEXT_IS(cust_text(w, "hf-ada", "state"), "approved");
  assert_int_equal(cust_int(w, "hf-ada", "contact_id"), w->contact);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* ------------------------------------------------------------------------
** 8. The call list.
*/

static double score_of(double visits, double views, double saves, double hard,
                       double soft, double enquiries, double days) {
  return (visits + 2 * views + 4 * saves + 3 * hard + soft + 8 * enquiries) * 7.0 /
         (7.0 + days);
}

static void expect_row(tu_world *w, tesoro_cursor *c, int64_t customer,
                       double score, int64_t visits, int64_t views, int64_t saves,
                       int64_t hard, int64_t soft, int64_t enquiries) {
  assert_int_equal(tesoro_cursor_next(c), TESORO_ROW);
  assert_int_equal(tu_col_int(c, "customer_id"), customer);
  assert_float_equal(tesoro_cursor_double(c, tesoro_cursor_index(c, "score")),
                     score, 1e-9);
  assert_int_equal(tu_col_int(c, "visits"), visits);
  assert_int_equal(tu_col_int(c, "views"), views);
  assert_int_equal(tu_col_int(c, "saves"), saves);
  assert_int_equal(tu_col_int(c, "hard_searches"), hard);
  assert_int_equal(tu_col_int(c, "soft_searches"), soft);
  assert_int_equal(tu_col_int(c, "enquiries"), enquiries);
}

static void test_call_list_order_and_scores(void **state) {
  tu_world *w = *state;
  char ref[16], ref2[16];
  tesoro_cursor *c = NULL;
  int64_t a, b, cc, d, e;
  listing_ref(w, "Call one", 300000, ref);
  listing_ref(w, "Call two", 300000, ref2);
  /* A: 10 visits, last activity 7 days ago */
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"a1\",\"type\":\"visit\",\"customer\":\"ca\","
                       "\"at\":%lld,\"visits\":10}", (long long)(TU_NOW - 7 * DAY)));
  /* B: 2 views, 1 save, 1 enquiry; last activity now */
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"b1\",\"type\":\"property_view\",\"customer\":\"cb\","
                       "\"at\":%lld,\"listing\":\"%s\"}", (long long)(TU_NOW - 2 * DAY), ref));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"b2\",\"type\":\"property_view\",\"customer\":\"cb\","
                       "\"at\":%lld,\"listing\":\"%s\"}", (long long)(TU_NOW - 1 * DAY), ref2));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"b3\",\"type\":\"property_save\",\"customer\":\"cb\","
                       "\"at\":%lld,\"listing\":\"%s\",\"saved\":true}",
                       (long long)(TU_NOW - 3 * DAY), ref));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"b4\",\"type\":\"enquiry\",\"customer\":\"cb\","
                       "\"at\":%lld,\"enquiry_type\":\"viewing\"}", (long long)TU_NOW));
  /* C: 1 visit, 1 hard and 1 soft search, 14 days ago */
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"c1\",\"type\":\"visit\",\"customer\":\"cc\","
                       "\"at\":%lld,\"visits\":1}", (long long)(TU_NOW - 20 * DAY)));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"c2\",\"type\":\"saved_search\",\"customer\":\"cc\","
                       "\"at\":%lld,\"search_id\":\"h\"}", (long long)(TU_NOW - 15 * DAY)));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"c3\",\"type\":\"implied_search\",\"customer\":\"cc\","
                       "\"at\":%lld,\"search_id\":\"s\"}", (long long)(TU_NOW - 14 * DAY)));
  /* D: 1 enquiry, 3.5 days ago */
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"d1\",\"type\":\"enquiry\",\"customer\":\"cd\","
                       "\"at\":%lld,\"enquiry_type\":\"general\"}",
                       (long long)(TU_NOW - 7 * DAY / 2)));
  /* E: lots of interest, but discarded */
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"e1\",\"type\":\"enquiry\",\"customer\":\"ce\","
                       "\"at\":%lld,\"enquiry_type\":\"general\"}", (long long)TU_NOW));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"e2\",\"type\":\"enquiry\",\"customer\":\"ce\","
                       "\"at\":%lld,\"enquiry_type\":\"branch\"}", (long long)TU_NOW));
  a = cust(w, "ca");
  b = cust(w, "cb");
  cc = cust(w, "cc");
  d = cust(w, "cd");
  e = cust(w, "ce");
  TU_OK(w, tesoro_prospect_discard(w->t, w->agent, e, "Test account", 0));
  /* a group change or details are no sign of interest */
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"a2\",\"type\":\"group\",\"customer\":\"ca\","
                       "\"at\":%lld,\"group\":\"g\"}", (long long)TU_NOW));

  TU_OK(w, tesoro_call_list(w->t, w->agent, 10, &c));
  expect_row(w, c, b, score_of(0, 2, 1, 0, 0, 1, 0), 0, 2, 1, 0, 0, 1);
  assert_float_equal(tesoro_cursor_double(c, tesoro_cursor_index(c, "score")), 16.0,
                     1e-9);
  assert_int_equal(tu_col_int(c, "last_activity_at"), TU_NOW);
  expect_row(w, c, d, score_of(0, 0, 0, 0, 0, 1, 3.5), 0, 0, 0, 0, 0, 1);
  expect_row(w, c, a, score_of(10, 0, 0, 0, 0, 0, 7), 10, 0, 0, 0, 0, 0);
  assert_float_equal(tesoro_cursor_double(c, tesoro_cursor_index(c, "score")), 5.0,
                     1e-9);
  assert_int_equal(tu_col_int(c, "last_activity_at"), TU_NOW - 7 * DAY);
  expect_row(w, c, cc, score_of(1, 0, 0, 1, 1, 0, 14), 1, 0, 0, 1, 1, 0);
  assert_int_equal(tesoro_cursor_next(c), TESORO_DONE);
  tesoro_cursor_free(c);

  /* a limit */
  TU_OK(w, tesoro_call_list(w->t, w->agent, 2, &c));
  assert_int_equal(tu_count(c), 2);
  c = NULL;
  TU_ASSERT_REFUSED(w, tesoro_call_list(w->t, w->agent, 0, &c), TESORO_EINVAL,
                    "limit");
  assert_null(c);
  TU_ASSERT_REFUSED(w, tesoro_call_list(w->t, w->agent, 1001, &c), TESORO_EINVAL,
                    "limit");
  TU_ASSERT_REFUSED(w, tesoro_call_list(w->t, w->agent, -1, &c), TESORO_EINVAL,
                    "limit");
  TU_ASSERT_REFUSED(w, tesoro_call_list(w->t, w->client, 10, &c), TESORO_EDENIED,
                    NULL);
  TU_ASSERT_REFUSED(w, tesoro_call_list(w->t, w->website, 10, &c), TESORO_EDENIED,
                    NULL);
  /* the other agency's list is empty */
  TU_OK(w, tesoro_call_list(w->t, w->other_agent, 10, &c));
  assert_int_equal(tu_count(c), 0);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_call_list_time_decay(void **state) {
  tu_world *w = *state;
  tesoro_cursor *c = NULL;
  int64_t a;
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"a1\",\"type\":\"enquiry\",\"customer\":\"ca\","
                       "\"at\":%lld,\"enquiry_type\":\"general\"}", (long long)TU_NOW));
  a = cust(w, "ca");
  TU_OK(w, tesoro_call_list(w->t, w->agent, 10, &c));
  expect_row(w, c, a, 8.0, 0, 0, 0, 0, 0, 1);
  tesoro_cursor_free(c);
  /* a week later the score has halved */
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 7 * DAY));
  TU_OK(w, tesoro_call_list(w->t, w->agent, 10, &c));
  expect_row(w, c, a, 4.0, 0, 0, 0, 0, 0, 1);
  tesoro_cursor_free(c);
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW));
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* ------------------------------------------------------------------------
** 9. Matches.
*/

/* Rows of tesoro_matches(customer) for `listing` (and the last such row's
   hard flag and distance in *hard / *dist when not NULL). */
static int matched(tu_world *w, int64_t customer, int64_t listing, int *hard,
                   double *dist, int *dist_null) {
  tesoro_cursor *c = NULL;
  int n = 0, rc;
  TU_OK(w, tesoro_matches(w->t, w->agent, customer, &c));
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
    if (tu_col_int(c, "listing_id") != listing) continue;
    n++;
    if (hard) *hard = (int)tu_col_int(c, "hard");
    if (dist) *dist = tesoro_cursor_double(c, tesoro_cursor_index(c, "distance_m"));
    if (dist_null) *dist_null = tesoro_cursor_isnull(c, tesoro_cursor_index(c, "distance_m"));
  }
  assert_int_equal(rc, TESORO_DONE);
  tesoro_cursor_free(c);
  return n;
}
static int match_count(tu_world *w, int64_t customer) {
  tesoro_cursor *c = NULL;
  TU_OK(w, tesoro_matches(w->t, w->agent, customer, &c));
  return tu_count(c);
}

/* A saved (hard) search of a new customer `cu`; the customer id. */
static int64_t hard_search(tu_world *w, const char *cu, const char *criteria) {
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"%s-s\",\"type\":\"saved_search\",\"customer\":"
                       "\"%s\",\"at\":%lld,\"search_id\":\"s\"%s%s}",
                       cu, cu, (long long)T0, criteria[0] ? "," : "", criteria));
  return cust(w, cu);
}

static void test_matches_price_type_bedrooms(void **state) {
  tu_world *w = *state;
  char ref[16];
  int64_t ok = listing_ref(w, "Fits", 300000, ref);
  int64_t dear = listing_ref(w, "Too dear", 500000, ref);
  int64_t cheap = listing_ref(w, "Too cheap", 100000, ref);
  int64_t flat = listing_ref(w, "A flat", 300000, ref);
  int64_t big = listing_ref(w, "Too big", 300000, ref);
  int64_t small = listing_ref(w, "Too small", 300000, ref);
  int64_t c, c_all;
  int hard = -1;
  double dist = -1;
  int dnull = 0;
  place(w, ok, 5.12, 52.09, "house", 3);
  place(w, dear, 5.12, 52.09, "house", 3);
  place(w, cheap, 5.12, 52.09, "house", 3);
  place(w, flat, 5.12, 52.09, "apartment", 3);
  place(w, big, 5.12, 52.09, "house", 5);
  place(w, small, 5.12, 52.09, "house", 1);
  c = hard_search(w, "c1", "\"min_price\":200000,\"max_price\":400000,"
                           "\"property_types\":[\"house\",\"land\"],"
                           "\"min_bedrooms\":2,\"max_bedrooms\":3");
  assert_int_equal(matched(w, c, ok, &hard, &dist, &dnull), 1);
  assert_int_equal(hard, 1);
  assert_true(dnull); /* no centre: no distance */
  assert_int_equal(matched(w, c, dear, NULL, NULL, NULL), 0);
  assert_int_equal(matched(w, c, cheap, NULL, NULL, NULL), 0);
  assert_int_equal(matched(w, c, flat, NULL, NULL, NULL), 0);
  assert_int_equal(matched(w, c, big, NULL, NULL, NULL), 0);
  assert_int_equal(matched(w, c, small, NULL, NULL, NULL), 0);
  assert_int_equal(match_count(w, c), 1);
  /* a search without criteria matches every published listing */
  c_all = hard_search(w, "c2", "");
  assert_int_equal(match_count(w, c_all), 6);
  /* bounds are inclusive */
  {
    int64_t c3 = hard_search(w, "c3", "\"min_price\":300000,\"max_price\":300000,"
                                      "\"min_bedrooms\":3,\"max_bedrooms\":3");
    assert_int_equal(matched(w, c3, ok, NULL, NULL, NULL), 1);
    assert_int_equal(matched(w, c3, flat, NULL, NULL, NULL), 1);
    assert_int_equal(match_count(w, c3), 2);
  }
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_matches_radius(void **state) {
  tu_world *w = *state;
  char ref[16];
  int64_t in = listing_ref(w, "Near", 300000, ref);
  int64_t out = listing_ref(w, "Far", 300000, ref);
  int64_t c;
  double dist = -1;
  int dnull = 1;
  place(w, in, 5.125, 52.09, "house", 3);  /* ~342 m east of the centre */
  place(w, out, 5.15, 52.09, "house", 3);  /* ~2.05 km east */
  c = hard_search(w, "c1", "\"area\":{\"name\":\"Dom\",\"centre\":{\"type\":"
                           "\"Point\",\"coordinates\":[5.12,52.09]},"
                           "\"radius\":1000}");
  assert_int_equal(matched(w, c, in, NULL, &dist, &dnull), 1);
  assert_false(dnull);
  /* 0.005 deg of longitude at 52.09 N on a 6371008.8 m sphere: ~341.7 m */
  assert_true(dist > 335 && dist < 348);
  assert_int_equal(matched(w, c, out, NULL, NULL, NULL), 0);
  assert_int_equal(match_count(w, c), 1);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_matches_concave_polygon(void **state) {
  tu_world *w = *state;
  char ref[16];
  int64_t notch = listing_ref(w, "In the notch", 300000, ref);
  int64_t arm = listing_ref(w, "In an arm", 300000, ref);
  int64_t base = listing_ref(w, "In the base", 300000, ref);
  int64_t beyond = listing_ref(w, "Beyond", 300000, ref);
  int64_t c;
  int dnull = 0;
  /* a U: base 52.0..52.1, arms 5.0..5.1 and 5.2..5.3 up to 52.3 */
  place(w, notch, 5.15, 52.2, "house", 3);
  place(w, arm, 5.05, 52.2, "house", 3);
  place(w, base, 5.15, 52.05, "house", 3);
  place(w, beyond, 5.35, 52.2, "house", 3);
  c = hard_search(w, "c1",
                  "\"area\":{\"name\":\"U\",\"polygon\":{\"type\":\"Polygon\","
                  "\"coordinates\":[[[5.0,52.0],[5.3,52.0],[5.3,52.3],[5.2,52.3],"
                  "[5.2,52.1],[5.1,52.1],[5.1,52.3],[5.0,52.3],[5.0,52.0]]]}}");
  assert_int_equal(matched(w, c, notch, NULL, NULL, NULL), 0);
  assert_int_equal(matched(w, c, arm, NULL, NULL, &dnull), 1);
  assert_true(dnull);
  assert_int_equal(matched(w, c, base, NULL, NULL, NULL), 1);
  assert_int_equal(matched(w, c, beyond, NULL, NULL, NULL), 0);
  assert_int_equal(match_count(w, c), 2);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM search_vertex v JOIN search s "
                              "ON s.id = v.search_id WHERE s.customer_id = %lld",
                           (long long)c), 9);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_matches_polygon_with_hole(void **state) {
  tu_world *w = *state;
  char ref[16];
  int64_t hole = listing_ref(w, "In the hole", 300000, ref);
  int64_t ring = listing_ref(w, "In the ring", 300000, ref);
  int64_t east = listing_ref(w, "East of the box", 300000, ref);
  int64_t c;
  place(w, hole, 5.15, 52.15, "house", 3);
  place(w, ring, 5.05, 52.05, "house", 3);
  place(w, east, 5.31, 52.15, "house", 3);
  c = hard_search(w, "c1",
                  "\"area\":{\"polygon\":{\"type\":\"Polygon\",\"coordinates\":["
                  "[[5.0,52.0],[5.3,52.0],[5.3,52.3],[5.0,52.3],[5.0,52.0]],"
                  "[[5.1,52.1],[5.2,52.1],[5.2,52.2],[5.1,52.2],[5.1,52.1]]]}}");
  assert_int_equal(matched(w, c, hole, NULL, NULL, NULL), 0);
  assert_int_equal(matched(w, c, ring, NULL, NULL, NULL), 1);
  assert_int_equal(matched(w, c, east, NULL, NULL, NULL), 0);
  assert_int_equal(match_count(w, c), 1);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_matches_polygon_or_radius(void **state) {
  tu_world *w = *state;
  char ref[16];
  int64_t in_poly = listing_ref(w, "In the polygon", 300000, ref);
  int64_t in_circle = listing_ref(w, "In the circle", 300000, ref);
  int64_t neither = listing_ref(w, "Neither", 300000, ref);
  int64_t c;
  place(w, in_poly, 5.05, 52.05, "house", 3);
  place(w, in_circle, 5.5, 52.5, "house", 3);
  place(w, neither, 5.4, 52.4, "house", 3);
  c = hard_search(w, "c1",
                  "\"area\":{\"centre\":{\"type\":\"Point\",\"coordinates\":"
                  "[5.5,52.5]},\"radius\":500,\"polygon\":{\"type\":\"Polygon\","
                  "\"coordinates\":[[[5.0,52.0],[5.1,52.0],[5.1,52.1],[5.0,52.1],"
                  "[5.0,52.0]]]}}");
  assert_int_equal(matched(w, c, in_poly, NULL, NULL, NULL), 1);
  assert_int_equal(matched(w, c, in_circle, NULL, NULL, NULL), 1);
  assert_int_equal(matched(w, c, neither, NULL, NULL, NULL), 0);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_matches_listing_without_location(void **state) {
  tu_world *w = *state;
  char ref[16];
  int64_t nowhere = listing_ref(w, "Nowhere", 300000, ref);
  int64_t c_area, c_plain;
  TU_OK(w, tesoro_listing_update(w->t, w->agent, nowhere,
                                 "{\"property_type\":\"house\",\"bedrooms\":3}", 0));
  c_area = hard_search(w, "c1", "\"area\":{\"centre\":{\"type\":\"Point\","
                                "\"coordinates\":[0,0]},\"radius\":20000000}");
  c_plain = hard_search(w, "c2", "\"max_price\":400000");
  assert_int_equal(matched(w, c_area, nowhere, NULL, NULL, NULL), 0);
  assert_int_equal(matched(w, c_plain, nowhere, NULL, NULL, NULL), 1);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_matches_soft_after_hard(void **state) {
  tu_world *w = *state;
  char ref[16];
  int64_t l1 = listing_ref(w, "One", 300000, ref);
  int64_t l2 = listing_ref(w, "Two", 300000, ref);
  int64_t c, soft_id, hard_id;
  tesoro_cursor *cur = NULL;
  int rows = 0, seen_soft = 0;
  place(w, l1, 5.1, 52.1, "house", 3);
  place(w, l2, 5.1, 52.1, "apartment", 2);
  /* the soft search arrives first and is older */
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"s1\",\"type\":\"implied_search\",\"customer\":"
                       "\"c1\",\"at\":%lld,\"search_id\":\"soft\"}", (long long)T0));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"s2\",\"type\":\"saved_search\",\"customer\":"
                       "\"c1\",\"at\":%lld,\"search_id\":\"hard\",\"property_types\":"
                       "[\"house\"]}", (long long)T0 + 1));
  c = cust(w, "c1");
  soft_id = tu_sqlf(w, "SELECT id FROM search WHERE customer_id = %lld AND "
                       "external_id = 'soft'", (long long)c);
  hard_id = tu_sqlf(w, "SELECT id FROM search WHERE customer_id = %lld AND "
                       "external_id = 'hard'", (long long)c);
  TU_OK(w, tesoro_matches(w->t, w->agent, c, &cur));
  while (tesoro_cursor_next(cur) == TESORO_ROW) {
    int64_t hard = tu_col_int(cur, "hard");
    int64_t sid = tu_col_int(cur, "search_id");
    rows++;
    if (hard == 0) {
      seen_soft = 1;
      assert_int_equal(sid, soft_id);
    } else {
      assert_false(seen_soft); /* no hard row after a soft one */
      assert_int_equal(sid, hard_id);
      assert_int_equal(tu_col_int(cur, "listing_id"), l1);
    }
  }
  tesoro_cursor_free(cur);
  assert_int_equal(rows, 3); /* hard: l1; soft: l2, l1 */
  assert_true(seen_soft);
  /* newest listing first within a search */
  TU_OK(w, tesoro_matches(w->t, w->agent, c, &cur));
  assert_int_equal(tesoro_cursor_next(cur), TESORO_ROW);
  assert_int_equal(tesoro_cursor_next(cur), TESORO_ROW);
  assert_int_equal(tu_col_int(cur, "listing_id"), l2);
  assert_int_equal(tesoro_cursor_next(cur), TESORO_ROW);
  assert_int_equal(tu_col_int(cur, "listing_id"), l1);
  tesoro_cursor_free(cur);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_matches_deleted_and_unpublished(void **state) {
  tu_world *w = *state;
  char ref[16];
  int64_t l1 = listing_ref(w, "Stays", 300000, ref);
  int64_t l2 = listing_ref(w, "Goes offline", 300000, ref);
  int64_t c, c2;
  place(w, l1, 5.1, 52.1, "house", 3);
  place(w, l2, 5.1, 52.1, "house", 3);
  c = hard_search(w, "c1", "\"max_price\":400000");
  assert_int_equal(match_count(w, c), 2);
  TU_OK(w, tesoro_listing_unpublish(w->t, w->agent, l2, 0));
  assert_int_equal(matched(w, c, l2, NULL, NULL, NULL), 0);
  assert_int_equal(matched(w, c, l1, NULL, NULL, NULL), 1);
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"del\",\"type\":\"search_deleted\",\"customer\":"
                       "\"c1\",\"at\":%lld,\"search_id\":\"s\"}", (long long)T0 + 1));
  assert_int_equal(match_count(w, c), 0);
  /* a CRM search deleted in the CRM */
  {
    int64_t search = 0;
    TU_OK(w, tesoro_search_save(w->t, w->agent, w->contact, 0, "{}", 0, &search));
    TU_OK(w, tesoro_contact_customer(w->t, w->agent, w->contact, &c2));
    assert_int_equal(match_count(w, c2), 1);
    TU_OK(w, tesoro_search_delete(w->t, w->agent, search, 0));
    assert_int_equal(match_count(w, c2), 0);
  }
  /* the other agency's listings never match */
  {
    int64_t o = tu_published_listing_other(w, "Other", "High St 1", 300000);
    int64_t c3 = hard_search(w, "c3", "");
    assert_int_equal(matched(w, c3, o, NULL, NULL, NULL), 0);
    assert_int_equal(match_count(w, c3), 1);
  }
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* ------------------------------------------------------------------------
** 10. Bad input and tenancy.
*/

static void test_ingest_null_and_empty(void **state) {
  tu_world *w = *state;
  char *res = NULL;
  int failed = 0;
  const char *good = "{\"source_id\":\"n1\",\"type\":\"visit\",\"customer\":\"c1\","
                     "\"at\":100,\"visits\":1}";
  TU_ASSERT_REFUSED(w, tesoro_exchange_ingest(w->t, w->website, NULL, &res),
                    TESORO_EINVAL, NULL);
  assert_null(res);
  TU_ASSERT_REFUSED(w, tesoro_exchange_ingest(w->t, w->website, good, NULL),
                    TESORO_EINVAL, NULL);
  REFUSE(w, "", TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_exchange_ingest_batch(w->t, w->website, NULL, &failed,
                                                    &res),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_exchange_ingest_batch(w->t, w->website, "[]", NULL,
                                                    &res),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_exchange_ingest_batch(w->t, w->website, "[]", &failed,
                                                    NULL),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_exchange_ingest_batch(w->t, w->website, "", &failed,
                                                    &res),
                    TESORO_EINVAL, NULL);
  tesoro_free(res);
  res = NULL;
  {
    tesoro_cursor *c = NULL;
    int64_t id = 0;
    TU_ASSERT_REFUSED(w, tesoro_prospects(w->t, w->agent, NULL), TESORO_EINVAL, NULL);
    TU_ASSERT_REFUSED(w, tesoro_call_list(w->t, w->agent, 10, NULL), TESORO_EINVAL,
                      NULL);
    TU_ASSERT_REFUSED(w, tesoro_customer_find(w->t, w->agent, NULL, &id),
                      TESORO_EINVAL, NULL);
    TU_ASSERT_REFUSED(w, tesoro_customer_find(w->t, w->agent, "nobody", &id),
                      TESORO_ENOTFOUND, NULL);
    TU_ASSERT_REFUSED(w, tesoro_matches(w->t, w->agent, 0, &c), TESORO_EINVAL, NULL);
    TU_ASSERT_REFUSED(w, tesoro_matches(w->t, w->agent, 999999, &c),
                      TESORO_ENOTFOUND, NULL);
  }
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM web_customer"), 0);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_ingest_field_refusals(void **state) {
  tu_world *w = *state;
  char ref[16];
  char *longid = tu_long_string(TESORO_MAX_SOURCE_ID + 1);
  char *maxid = tu_long_string(TESORO_MAX_SOURCE_ID);
  char buf[1024];
  listing_ref(w, "Bad input", 300000, ref);
  REFUSE(w, tu_fmt("{\"source_id\":\"%s\",\"type\":\"visit\",\"customer\":\"c1\","
                   "\"at\":100,\"visits\":1}", longid),
         TESORO_EINVAL, "source_id");
  REFUSE(w, "{\"source_id\":\"\",\"type\":\"visit\",\"customer\":\"c1\","
            "\"at\":100,\"visits\":1}", TESORO_EINVAL, "source_id");
  REFUSE(w, "{\"type\":\"visit\",\"customer\":\"c1\",\"at\":100,\"visits\":1}",
         TESORO_EINVAL, "source_id");
  REFUSE(w, "{\"source_id\":7,\"type\":\"visit\",\"customer\":\"c1\","
            "\"at\":100,\"visits\":1}", TESORO_EINVAL, "source_id");
  snprintf(buf, sizeof buf,
           "{\"source_id\":\"u1\",\"type\":\"customer\",\"customer\":\"c1\","
           "\"at\":100,\"name\":\"%s\"}", TU_BAD_UTF8);
  REFUSE(w, buf, TESORO_EINVAL, NULL);
  snprintf(buf, sizeof buf,
           "{\"source_id\":\"u2\",\"type\":\"visit\",\"customer\":\"%s\","
           "\"at\":100,\"visits\":1}", TU_BAD_UTF8);
  REFUSE(w, buf, TESORO_EINVAL, NULL);
  REFUSE(w, "{\"source_id\":\"n1\",\"type\":\"visit\",\"customer\":\"c1\","
            "\"at\":-1,\"visits\":1}", TESORO_EINVAL, "at");
  REFUSE(w, "{\"source_id\":\"n1\",\"type\":\"visit\",\"customer\":\"c1\","
            "\"visits\":1}", TESORO_EINVAL, "at");
  REFUSE(w, "{\"source_id\":\"n1\",\"type\":\"visit\",\"customer\":\"c1\","
            "\"at\":\"yesterday\",\"visits\":1}", TESORO_EINVAL, "at");
  REFUSE(w, "{\"source_id\":\"n1\",\"type\":\"visit\",\"at\":100,\"visits\":1}",
         TESORO_EINVAL, "customer");
  REFUSE(w, "{\"source_id\":\"n1\",\"customer\":\"c1\",\"at\":100}", TESORO_EINVAL,
         "type");
  REFUSE(w, "{\"source_id\":\"n1\",\"type\":\"teleport\",\"customer\":\"c1\","
            "\"at\":100}", TESORO_EINVAL, "type");
  REFUSE(w, "{\"source_id\":\"n1\",\"type\":\"visit\",\"customer\":\"c1\","
            "\"at\":100,\"visits\":0}", TESORO_EINVAL, "visits");
  REFUSE(w, tu_fmt("{\"source_id\":\"n1\",\"type\":\"property_rank\",\"customer\":\"c1\","
                   "\"at\":100,\"listing\":\"%s\",\"rank\":6}", ref),
         TESORO_EINVAL, "rank");
  REFUSE(w, tu_fmt("{\"source_id\":\"n1\",\"type\":\"property_rank\",\"customer\":\"c1\","
                   "\"at\":100,\"listing\":\"%s\",\"rank\":0}", ref),
         TESORO_EINVAL, "rank");
  REFUSE(w, "{\"source_id\":\"n1\",\"type\":\"property_view\",\"customer\":\"c1\","
            "\"at\":100,\"listing\":\"TES-99999\"}", TESORO_ENOTFOUND, NULL);
  REFUSE(w, "{\"source_id\":\"n1\",\"type\":\"property_view\",\"customer\":\"c1\","
            "\"at\":100}", TESORO_EINVAL, "listing");
  REFUSE(w, "{\"source_id\":\"n1\",\"type\":\"saved_search\",\"customer\":\"c1\","
            "\"at\":100}", TESORO_EINVAL, "search_id");
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM web_customer"), 0);
  /* exactly the maximum is fine */
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"%s\",\"type\":\"visit\",\"customer\":\"c1\","
                       "\"at\":100,\"visits\":1}", maxid));
  assert_int_equal(tu_sqlf(w, "SELECT length(source_id) FROM web_event"),
                   TESORO_MAX_SOURCE_ID);
  free(longid);
  free(maxid);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_ingest_tenancy(void **state) {
  tu_world *w = *state;
  char ref[16];
  const char *view;
  listing_ref(w, "Ours", 300000, ref);
  view = tu_fmt("{\"source_id\":\"t1\",\"type\":\"property_view\",\"customer\":\"c1\","
                "\"at\":100,\"listing\":\"%s\"}", ref);
  /* the other agency's website cannot name our listing */
  REFUSE_BY(w, w->other_website, view, TESORO_ENOTFOUND, NULL);
  /* staff, clients and other actors do not ingest */
  REFUSE_BY(w, w->agent, view, TESORO_EDENIED, NULL);
  REFUSE_BY(w, w->admin, view, TESORO_EDENIED, NULL);
  REFUSE_BY(w, w->client, view, TESORO_EDENIED, NULL);
  REFUSE_BY(w, 999999, view, TESORO_ENOTFOUND, NULL);
  {
    char *res = NULL;
    int failed = 0;
    TU_ASSERT_REFUSED(w, tesoro_exchange_ingest_batch(w->t, w->agent, "[]", &failed,
                                                      &res),
                      TESORO_EDENIED, NULL);
    tesoro_free(res);
  }
  TU_APPLIED(w, view);
  /* source ids are per agency: the other website may use "t1" too */
  {
    char *res = NULL;
    TU_OK(w, tesoro_exchange_ingest(w->t, w->other_website,
                                    "{\"source_id\":\"t1\",\"type\":\"visit\","
                                    "\"customer\":\"c1\",\"at\":100,\"visits\":1}",
                                    &res));
    assert_non_null(strstr(res, "\"status\":\"applied\""));
    tesoro_free(res);
    assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM web_customer WHERE "
                                "external_id = 'c1'"), 2);
  }
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_reading_customers_across_agencies(void **state) {
  tu_world *w = *state;
  int64_t c;
  tesoro_cursor *cur = NULL;
  char *json = NULL;
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"r1\",\"type\":\"saved_search\",\"customer\":"
                       "\"c1\",\"at\":%lld,\"search_id\":\"s\"}", (long long)T0));
  c = cust(w, "c1");
  TU_ASSERT_REFUSED(w, tesoro_customer_searches(w->t, w->other_agent, c, &cur),
                    TESORO_EDENIED, NULL);
  assert_null(cur);
  TU_ASSERT_REFUSED(w, tesoro_customer_properties(w->t, w->other_agent, c, &cur),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_customer_enquiries(w->t, w->other_agent, c, &cur),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_matches(w->t, w->other_agent, c, &cur),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, w->other_agent, CUST, c, &json),
                    TESORO_EDENIED, NULL);
  assert_null(json);
  TU_ASSERT_REFUSED(w, tesoro_prospect_approve(w->t, w->other_agent, c, 0, 0, NULL),
                    TESORO_EDENIED, NULL);
  /* clients are not staff */
  TU_ASSERT_REFUSED(w, tesoro_customer_searches(w->t, w->client, c, &cur),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_matches(w->t, w->client, c, &cur), TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, w->client, CUST, c, &json),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_customer_searches(w->t, w->website, c, &cur),
                    TESORO_EDENIED, NULL);
  assert_null(cur);
  assert_null(json);
  /* own staff may */
  TU_OK(w, tesoro_customer_searches(w->t, w->agent, c, &cur));
  assert_int_equal(tu_count(cur), 1);
  TU_OK(w, tesoro_entity_json(w->t, w->agent, CUST, c, &json));
  assert_non_null(strstr(json, "\"state\":\"prospect\""));
  assert_non_null(strstr(json, "\"c1\""));
  tesoro_free(json);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_private_note_reads_null(void **state) {
  tu_world *w = *state;
  char ref[16], ref2[16];
  int64_t l = listing_ref(w, "Private", 300000, ref), l2, c;
  tesoro_cursor *cur = NULL;
  int rows = 0;
  l2 = listing_ref(w, "Shared", 300000, ref2);
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"n1\",\"type\":\"property_rank\",\"customer\":\"c1\","
                       "\"at\":100,\"listing\":\"%s\",\"rank\":5,\"note\":\"secret\","
                       "\"shared\":false}", ref));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"n2\",\"type\":\"property_rank\",\"customer\":\"c1\","
                       "\"at\":100,\"listing\":\"%s\",\"rank\":2,\"note\":\"for you\","
                       "\"shared\":true}", ref2));
  c = cust(w, "c1");
  TU_OK(w, tesoro_customer_properties(w->t, w->agent, c, &cur));
  while (tesoro_cursor_next(cur) == TESORO_ROW) {
    rows++;
    if (tu_col_int(cur, "listing_id") == l) {
      assert_int_equal(tu_col_int(cur, "rank"), 5);
      assert_null(tu_col_text(cur, "note"));
    } else {
      assert_int_equal(tu_col_int(cur, "listing_id"), l2);
      assert_string_equal(tu_col_text(cur, "note"), "for you");
    }
  }
  tesoro_cursor_free(cur);
  assert_int_equal(rows, 2);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* ------------------------------------------------------------------------
** main
*/
/* ------------------------------------------------------------------------
** The hard JSON boundary: what SQLite's JSON would let through.
*/
static void test_json_boundary_nul_numbers_and_skew(void **state) {
  tu_world *w = *state;
  int64_t listing, version = 0;
  char *res = NULL, *again = NULL;
  /* a \u0000 anywhere in a string: refused, not cut short */
  REFUSE(w, tu_fmt("{\"source_id\":\"b1\",\"type\":\"customer\",\"customer\":"
                   "\"c\\u0000x\",\"at\":%lld,\"name\":\"Tom\"}", (long long)T0),
         TESORO_EINVAL, "NUL");
  REFUSE(w, tu_fmt("{\"source_id\":\"b2\",\"type\":\"customer\",\"customer\":"
                   "\"c1\",\"at\":%lld,\"name\":\"To\\u0000m\"}", (long long)T0),
         TESORO_EINVAL, "NUL");
  REFUSE(w, tu_fmt("{\"source_id\":\"b\\u0000\",\"type\":\"customer\",\"customer\":"
                   "\"c1\",\"at\":%lld,\"name\":\"Tom\"}", (long long)T0),
         TESORO_EINVAL, "NUL");
  /* a surrogate escape without its pair: refused (it is no character, and
  ** stored as SQLite decodes it, it would not be UTF-8); a pair is one */
  REFUSE(w, tu_fmt("{\"source_id\":\"s1\",\"type\":\"customer\",\"customer\":"
                   "\"c1\",\"at\":%lld,\"name\":\"To\\ud800m\"}", (long long)T0),
         TESORO_EINVAL, "unpaired surrogate");
  REFUSE(w, tu_fmt("{\"source_id\":\"s2\",\"type\":\"customer\",\"customer\":"
                   "\"c1\",\"at\":%lld,\"name\":\"To\\udc00\"}", (long long)T0),
         TESORO_EINVAL, "unpaired surrogate");
  REFUSE(w, tu_fmt("{\"source_id\":\"s3\",\"type\":\"customer\",\"customer\":"
                   "\"c1\",\"at\":%lld,\"name\":\"\\uD83D\\u0041\"}", (long long)T0),
         TESORO_EINVAL, "unpaired surrogate");
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"s4\",\"type\":\"customer\",\"customer\":"
                       "\"c7\",\"at\":%lld,\"name\":\"Tom \\ud83d\\ude00\"}",
                       (long long)T0));
  {
    char *name = cust_text(w, "c7", "name");
    assert_string_equal(name, "Tom \xF0\x9F\x98\x80");
    free(name);
  }
  /* an escaped backslash before u0000 is just text */
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"b3\",\"type\":\"customer\",\"customer\":"
                       "\"c3\",\"at\":%lld,\"name\":\"Tom \\\\u0000\"}", (long long)T0));
  {
    char *name = cust_text(w, "c3", "name");
    assert_string_equal(name, "Tom \\u0000");
    free(name);
  }
  /* numbers: beyond 64 bits, beyond a double, a fraction for an integer */
  REFUSE(w, tu_fmt("{\"source_id\":\"b4\",\"type\":\"customer\",\"customer\":"
                   "\"c4\",\"at\":99999999999999999999,\"name\":\"Tom\"}"),
         TESORO_EINVAL, "64 bits");
  REFUSE(w, tu_fmt("{\"source_id\":\"b5\",\"type\":\"customer\",\"customer\":"
                   "\"c5\",\"at\":1e400,\"name\":\"Tom\"}"),
         TESORO_EINVAL, "beyond a double");
  REFUSE(w, tu_fmt("{\"source_id\":\"b6\",\"type\":\"customer\",\"customer\":"
                   "\"c6\",\"at\":%lld.5,\"name\":\"Tom\"}", (long long)T0),
         TESORO_EINVAL, "integer");
  listing = tu_published_listing(w, "Bound", "Grens 1", 20000000);
  TU_OK(w, tesoro_entity_state(w->t, w->agent, TESORO_ENTITY_LISTING, listing,
                               NULL, &version));
  TU_ASSERT_REFUSED(w, tesoro_listing_update(w->t, w->agent, listing,
                                             "{\"title\":\"A\\u0000B\"}", version),
                    TESORO_EINVAL, "NUL");
  TU_ASSERT_REFUSED(w, tesoro_listing_update(w->t, w->agent, listing,
                                             "{\"latitude\":-1e400}", version),
                    TESORO_EINVAL, "beyond a double");
  TU_ASSERT_REFUSED(w, tesoro_listing_update(w->t, w->agent, listing,
                                             "{\"price\":18446744073709551616}",
                                             version),
                    TESORO_EINVAL, "64 bits");
  TU_ASSERT_REFUSED(w, tesoro_listing_update(w->t, w->agent, listing,
                                             "{\"price\":10000000000001}",
                                             version),
                    TESORO_EINVAL, "price");
  TU_OK(w, tesoro_listing_update(w->t, w->agent, listing,
                                 "{\"price\":10000000000000}", version));
  /* an event from beyond the skew (default 5 minutes) is refused */
  REFUSE(w, tu_fmt("{\"source_id\":\"b7\",\"type\":\"customer\",\"customer\":"
                   "\"c7\",\"at\":%lld,\"name\":\"Tom\"}", (long long)TU_NOW + 301),
         TESORO_EINVAL, "future");
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"b8\",\"type\":\"customer\",\"customer\":"
                       "\"c8\",\"at\":%lld,\"name\":\"Tom\"}", (long long)TU_NOW + 300));
  TU_OK(w, tesoro_config(w->t, TESORO_CONFIG_EVENT_SKEW_S, 3600));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"b9\",\"type\":\"customer\",\"customer\":"
                       "\"c9\",\"at\":%lld,\"name\":\"Tom\"}", (long long)TU_NOW + 3600));
  TU_ASSERT_REFUSED(w, tesoro_config(w->t, TESORO_CONFIG_EVENT_SKEW_S,
                                     8 * 86400),
                    TESORO_EINVAL, "7 days");
  /* idempotency by content: members reordered, other whitespace */
  res = TU_INGEST(w, tu_fmt("{\"source_id\":\"b10\",\"type\":\"customer\",\"customer\":"
                            "\"c10\",\"at\":%lld,\"name\":\"Tom\",\"email\":"
                            "\"tom@example.com\"}", (long long)T0));
  again = TU_INGEST(w, tu_fmt("{ \"email\" : \"tom@example.com\",\n \"name\":\"Tom\", "
                              "\"at\": %lld, \"customer\":\"c10\", \"type\": \"customer\","
                              " \"source_id\": \"b10\" }", (long long)T0));
  assert_string_equal(res, again);
  tesoro_free(res);
  tesoro_free(again);
  REFUSE(w, tu_fmt("{\"source_id\":\"b10\",\"type\":\"customer\",\"customer\":"
                   "\"c10\",\"at\":%lld,\"name\":\"Tim\",\"email\":"
                   "\"tom@example.com\"}", (long long)T0),
         TESORO_EEXISTS, "another event");
  /* inside an object value too: the area's members reordered are the same
     event; another radius, or a price as a string, is another one */
  res = TU_INGEST(w, tu_fmt("{\"source_id\":\"b11\",\"type\":\"saved_search\","
                            "\"customer\":\"c10\",\"at\":%lld,\"search_id\":\"h\","
                            "\"max_price\":900,\"area\":{\"name\":\"Centre\","
                            "\"centre\":{\"type\":\"Point\",\"coordinates\":"
                            "[5.12,52.09]},\"radius\":1000}}", (long long)T0));
  again = TU_INGEST(w, tu_fmt("{\"area\":{\"radius\":1000,\"centre\":{\"coordinates\":"
                              "[5.12,52.09],\"type\":\"Point\"},\"name\":\"Centre\"},"
                              "\"max_price\":900,\"search_id\":\"h\",\"at\":%lld,"
                              "\"customer\":\"c10\",\"type\":\"saved_search\","
                              "\"source_id\":\"b11\"}", (long long)T0));
  assert_string_equal(res, again);
  tesoro_free(res);
  tesoro_free(again);
  REFUSE(w, tu_fmt("{\"source_id\":\"b11\",\"type\":\"saved_search\","
                   "\"customer\":\"c10\",\"at\":%lld,\"search_id\":\"h\","
                   "\"max_price\":900,\"area\":{\"name\":\"Centre\","
                   "\"centre\":{\"type\":\"Point\",\"coordinates\":"
                   "[5.12,52.09]},\"radius\":1001}}", (long long)T0),
         TESORO_EEXISTS, "another event");
  REFUSE(w, tu_fmt("{\"source_id\":\"b10\",\"type\":\"customer\",\"customer\":"
                   "\"c10\",\"at\":%lld,\"name\":\"Tom\",\"email\":"
                   "\"tom@example.com\",\"phone\":\"1\"}", (long long)T0),
         TESORO_EEXISTS, "another event");
}

/* Consent: the newest decision wins, whoever made it.  A staff "denied"
   is not undone by an older website "granted"; a newer one does win; a
   later CRM call never dates the consent back. */
static void test_consent_newest_decision_wins(void **state) {
  tu_world *w = *state;
  char *v;
  /* the website names Ada as its customer hf-ada */
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"cn1\",\"type\":\"customer\",\"customer\":"
                       "\"hf-ada\",\"at\":%lld,\"name\":\"Ada\",\"contact_id\":%lld}",
                       (long long)T0, (long long)w->contact));
  TU_OK(w, tesoro_contact_set_consent(w->t, w->agent, w->contact,
                                      TESORO_CONSENT_DENIED, NULL, 0));
  /* a website "granted" dated an hour earlier: recorded, not applied */
  tesoro_free(TU_INGEST(w, tu_fmt("{\"source_id\":\"cn2\",\"type\":\"consent\",\"customer\":"
                    "\"hf-ada\",\"at\":%lld,\"consent\":\"granted\","
                    "\"statement\":\"News\"}", (long long)TU_NOW - 3600)));
  v = tu_sqlf_text(w, "SELECT consent || '@' || consent_at FROM contact WHERE "
                      "id = %lld", (long long)w->contact);
  assert_string_equal(v, tu_fmt("denied@%lld", (long long)TU_NOW));
  free(v);
  /* a newer one (within the skew) wins */
  tesoro_free(TU_INGEST(w, tu_fmt("{\"source_id\":\"cn3\",\"type\":\"consent\",\"customer\":"
                    "\"hf-ada\",\"at\":%lld,\"consent\":\"granted\","
                    "\"statement\":\"News\"}", (long long)TU_NOW + 60)));
  v = tu_sqlf_text(w, "SELECT consent || '@' || consent_at FROM contact WHERE "
                      "id = %lld", (long long)w->contact);
  assert_string_equal(v, tu_fmt("granted@%lld", (long long)TU_NOW + 60));
  free(v);
  /* staff decide again a second later by their clock: it applies, dated
     no earlier than what it replaces */
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 1));
  TU_OK(w, tesoro_contact_set_consent(w->t, w->agent, w->contact,
                                      TESORO_CONSENT_DENIED, NULL, 0));
  v = tu_sqlf_text(w, "SELECT consent || '@' || consent_at FROM contact WHERE "
                      "id = %lld", (long long)w->contact);
  assert_string_equal(v, tu_fmt("denied@%lld", (long long)TU_NOW + 60));
  free(v);
  /* and the website's replay of its newer event changes nothing */
  tesoro_free(TU_INGEST(w, tu_fmt("{\"source_id\":\"cn3\",\"type\":\"consent\",\"customer\":"
                    "\"hf-ada\",\"at\":%lld,\"consent\":\"granted\","
                    "\"statement\":\"News\"}", (long long)TU_NOW + 60)));
  v = tu_sqlf_text(w, "SELECT consent FROM contact WHERE id = %lld",
                   (long long)w->contact);
  assert_string_equal(v, "denied");
  free(v);
}

#define T TU_TEST

int main(void) {
  const struct CMUnitTest tests[] = {
      /* 1. every event type */
      T(test_customer_event_applied),
      T(test_visit_event_applied),
      T(test_events_keep_the_state_and_move_the_version),
      T(test_search_events_applied),
      T(test_property_events_applied),
      T(test_enquiry_events_applied),
      T(test_group_event_applied),
      T(test_vendor_claim_event_applied),
      /* 2. replays */
      T(test_answer_text_is_json_object_text),
      T(test_event_json_is_strict),
      T(test_replay_of_every_type),
      T(test_same_source_id_other_content_is_eexists),
      /* 3. out of order */
      T(test_out_of_order_customer_details),
      T(test_out_of_order_visits),
      T(test_out_of_order_search_edits),
      T(test_delete_before_search_ever_seen),
      T(test_out_of_order_save_rank_group),
      T(test_equal_times_decided_by_source_id),
      T(test_customer_event_carries_details_whole),
      T(test_views_add_up_in_any_order),
      /* 4. GeoJSON refusals */
      T(test_geojson_refusals),
      /* 5. batches */
      T(test_batch_skips_a_bad_event),
      T(test_batch_ends_as_its_events_one_by_one),
      T(test_batch_error_entry_names_the_code),
      T(test_batch_moves_a_customer_once),
      T(test_batch_stamps_the_latest_activity),
      T(test_batch_not_an_array_and_empty),
      /* 6. holding tank */
      T(test_prospects_newest_first),
      T(test_approve_links_by_email_case_insensitively),
      T(test_approve_creates_an_applicant),
      T(test_approve_into_an_explicit_contact),
      T(test_approve_a_nameless_prospect),
      T(test_discard_rules),
      T(test_holding_tank_permissions),
      T(test_events_after_approval_on_the_timeline),
      /* 7. CRM -> website */
      T(test_outbox_new_customer),
      T(test_outbox_search_saved_and_deleted),
      T(test_outbox_interest_and_group),
      T(test_vendor_confirm_confirms_the_claim),
      T(test_vendor_claim_reject),
      T(test_website_changes_are_not_echoed),
      T(test_customer_event_names_a_crm_contact),
      /* 8. call list */
      T(test_call_list_order_and_scores),
      T(test_call_list_time_decay),
      /* 9. matches */
      T(test_matches_price_type_bedrooms),
      T(test_matches_radius),
      T(test_matches_concave_polygon),
      T(test_matches_polygon_with_hole),
      T(test_matches_polygon_or_radius),
      T(test_matches_listing_without_location),
      T(test_matches_soft_after_hard),
      T(test_matches_deleted_and_unpublished),
      /* 10. bad input, tenancy */
      T(test_ingest_null_and_empty),
      T(test_ingest_field_refusals),
      T(test_ingest_tenancy),
      T(test_reading_customers_across_agencies),
      T(test_private_note_reads_null),
        T(test_json_boundary_nul_numbers_and_skew),
        T(test_consent_newest_decision_wins),
        T(test_batch_undoes_an_event_refused_after_it_wrote),
        T(test_batch_checks_each_event_as_if_alone),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
