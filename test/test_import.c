/*
** test_import.c — tesoro_agency_import and tesoro_agency_export (the
** "tesoro-agency-1" JSON Lines format): each record type made in its state
** with one "imported" history row, its timers planned and nothing queued;
** idempotence and conflicts; the all-or-nothing rule from both sides; the
** refusals; and the round trip export → import into a new file.
*/
#include "testutil.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY INT64_C(86400)
#define T0 (TU_NOW - 30 * DAY) /* when the records happened */

static const char HEADER[] =
    "{\"type\":\"header\",\"format\":\"tesoro-agency-1\"}\n";

/* Bytes in base64 (malloc'd); pdf64: the signed mandate. */
static char *b64(const unsigned char *p, size_t n) {
  size_t m = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
  char *b = malloc(m);
  assert_non_null(b);
  sodium_bin2base64(b, m, p, n, sodium_base64_VARIANT_ORIGINAL);
  return b;
}

static char *pdf64(void) { return b64(tu_pdf, tu_pdf_size); }

/* Write `text` to dir/name; the path in `path`. */
static void write_file(tu_world *w, const char *name, const char *text,
                       char path[600]) {
  FILE *f;
  snprintf(path, 600, "%s/%s", w->dir, name);
  f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fputs(text, f) >= 0, 1);
  assert_int_equal(fclose(f), 0);
}

/* write_file with printf-style text, of any length. */
static void write_filef(tu_world *w, const char *name, char path[600],
                        const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void write_filef(tu_world *w, const char *name, char path[600],
                        const char *fmt, ...) {
  va_list ap;
  char *text;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  assert_true(n >= 0);
  text = malloc((size_t)n + 1);
  assert_non_null(text);
  va_start(ap, fmt);
  vsnprintf(text, (size_t)n + 1, fmt, ap);
  va_end(ap);
  write_file(w, name, text, path);
  free(text);
}

/* A small agency in the format: an agent, two contacts, a published
   listing, a confirmed and a pending viewing, a referral in escrow. */
static char *agency_file(void) {
  char *pdf = pdf64(), *png = b64(tu_png, tu_png_size), *out;
  size_t n = strlen(pdf) + strlen(png) + 8192;
  out = malloc(n);
  assert_non_null(out);
  snprintf(out, n,
    "%s"
    "{\"type\":\"agent\",\"external_id\":\"ag-1\",\"at\":%lld,\"name\":\"Iris Imported\",\"email\":\"iris@tesoro.example\",\"role\":\"agent\"}\n"
    "{\"type\":\"contact\",\"external_id\":\"c-seller\",\"at\":%lld,\"name\":\"Sam Seller\",\"email\":\"sam@example.org\",\"phone\":\"+31 6 5555 0101\",\"agent\":\"ag-1\",\"consent\":\"granted\",\"consent_text\":\"Yes to news\"}\n"
    "{\"type\":\"contact\",\"external_id\":\"c-buyer\",\"at\":%lld,\"name\":\"Bea Buyer\",\"email\":\"bea@example.org\",\"language\":\"nl\"}\n"
    "{\"type\":\"listing\",\"external_id\":\"l-1\",\"at\":%lld,\"seller\":\"c-seller\",\"agent\":\"ag-1\",\"state\":\"published\",\"commission_type\":\"percentage\",\"commission_value\":150,\"exclusive\":true,\"duration_days\":180,\"fields\":{\"address\":\"Oudegracht 1, Utrecht\",\"property_type\":\"house\",\"title\":\"Canal house\",\"price\":65000000,\"bedrooms\":4},\"photos\":[{\"name\":\"front.png\",\"mime\":\"image/png\",\"data\":\"%s\"}],\"signed_mandate\":\"%s\"}\n"
    "{\"type\":\"appointment\",\"external_id\":\"v-1\",\"at\":%lld,\"contact\":\"c-buyer\",\"listing\":\"l-1\",\"agent\":\"ag-1\",\"state\":\"confirmed\",\"preferred\":[%lld,%lld],\"start_at\":%lld}\n"
    "{\"type\":\"appointment\",\"external_id\":\"v-2\",\"at\":%lld,\"contact\":\"c-buyer\",\"listing\":\"l-1\",\"state\":\"pending\",\"preferred\":[%lld]}\n"
    "{\"type\":\"referral\",\"external_id\":\"r-1\",\"at\":%lld,\"contact\":\"c-buyer\",\"agent\":\"ag-1\",\"stage\":\"in_escrow\",\"data\":{\"sale_price\":40000000,\"close_date\":\"2026-09-01\"}}\n"
    "{\"type\":\"appointment\",\"external_id\":\"v-3\",\"at\":%lld,\"contact\":\"c-buyer\",\"listing\":\"l-1\",\"state\":\"completed\",\"preferred\":[%lld],\"start_at\":%lld,\"rating\":4,\"notes\":[\"Lovely light\",\"Small garden\"]}\n"
    "{\"type\":\"web_customer\",\"external_id\":\"web-77\",\"at\":%lld,\"name\":\"Bea Buyer\",\"email\":\"bea@example.org\",\"contact\":\"c-buyer\"}\n"
    "{\"type\":\"web_customer\",\"external_id\":\"web-78\",\"at\":%lld,\"name\":\"Pim Prospect\"}\n"
    "{\"type\":\"appointment\",\"external_id\":\"v-4\",\"at\":%lld,\"contact\":\"c-buyer\",\"listing\":\"l-1\",\"state\":\"cancelled\",\"preferred\":[%lld],\"start_at\":%lld,\"cancelled_by\":\"client\"}\n"
    "{\"type\":\"appointment\",\"external_id\":\"v-5\",\"at\":%lld,\"contact\":\"c-buyer\",\"listing\":\"l-1\",\"state\":\"completed\",\"preferred\":[%lld],\"start_at\":%lld,\"no_show\":true}\n"
    "{\"type\":\"referral\",\"external_id\":\"r-2\",\"at\":%lld,\"contact\":\"c-seller\",\"agent\":\"ag-1\",\"stage\":\"failed\",\"data\":{\"reason\":\"Went quiet\"}}\n"
    "{\"type\":\"search\",\"external_id\":\"s-1\",\"at\":%lld,\"contact\":\"c-buyer\",\"criteria\":{\"max_price\":50000000,\"property_types\":[\"house\"]},\"alert\":true}\n"
    "{\"type\":\"portal_account\",\"external_id\":\"pa-1\",\"at\":%lld,\"contact\":\"c-buyer\"}\n",
    HEADER, (long long)T0, (long long)T0 + 10, (long long)T0 + 20,
    (long long)T0 + 30, png, pdf, (long long)TU_NOW - DAY,
    (long long)TU_NOW + 5 * DAY, (long long)TU_NOW + 6 * DAY,
    (long long)TU_NOW + 5 * DAY, (long long)TU_NOW - 3600,
    (long long)TU_NOW + 9 * DAY, (long long)T0 + 40, (long long)T0 + 50,
    (long long)T0 + 55, (long long)T0 + 70,
    (long long)T0 + 80, (long long)T0 + 90, (long long)T0 + 91,
    (long long)TU_NOW + 12 * DAY, (long long)TU_NOW + 12 * DAY,
    (long long)T0 + 92, (long long)T0 + 3 * DAY, (long long)T0 + 3 * DAY,
    (long long)T0 + 93, (long long)T0 + 100, (long long)T0 + 110);
  free(pdf);
  free(png);
  return out;
}

static int64_t imported_id(tu_world *w, const char *type, const char *ext) {
  return tu_sqlf(w, "SELECT entity_id FROM import_ref WHERE type = '%s' AND "
                    "external_id = '%s'", type, ext);
}

static void report_is(const char *report, long long lines, long long imported,
                      long long present) {
  char want[160];
  snprintf(want, sizeof want,
           "{\"format\":\"tesoro-agency-1\",\"lines\":%lld,\"imported\":%lld,"
           "\"present\":%lld}", lines, imported, present);
  assert_string_equal(report, want);
}

static void test_import_makes_records_in_their_states(void **state) {
  tu_world *w = *state;
  char path[600], *text = agency_file(), *report = NULL;
  int64_t outbox, listing, v1, v2, ref, seller, agent;
  write_file(w, "agency.jsonl", text, path);
  free(text);
  outbox = tu_sql_int(w, "SELECT count(*) FROM outbox");
  TU_OK(w, tesoro_agency_import(w->t, w->admin, path, &report));
  report_is(report, 16, 15, 0);
  tesoro_free(report);
  agent = imported_id(w, "agent", "ag-1");
  seller = imported_id(w, "contact", "c-seller");
  listing = imported_id(w, "listing", "l-1");
  v1 = imported_id(w, "appointment", "v-1");
  v2 = imported_id(w, "appointment", "v-2");
  ref = imported_id(w, "referral", "r-1");
  assert_true(agent > 0 && seller > 0 && listing > 0 && v1 > 0 && v2 > 0 &&
              ref > 0);
  /* states and fields */
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM listing WHERE id = %lld "
                              "AND state = 'published' AND title = 'Canal "
                              "house' AND bedrooms = 4", (long long)listing), 1);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM appointment WHERE id = "
                              "%lld AND state = 'confirmed' AND start_at = %lld",
                           (long long)v1, (long long)TU_NOW + 5 * DAY), 1);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM appointment WHERE id = "
                              "%lld AND state = 'pending'", (long long)v2), 1);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM referral WHERE id = %lld "
                              "AND state = 'in_escrow' AND sale_price = "
                              "40000000", (long long)ref), 1);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM contact WHERE id = %lld "
                              "AND consent = 'granted' AND assigned_agent_id "
                              "= %lld", (long long)seller, (long long)agent), 1);
  /* its photo, the same bytes */
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM document WHERE entity = %d "
                              "AND entity_id = %lld AND kind = 'photo' AND "
                              "name = 'front.png' AND size = %lld",
                           TESORO_ENTITY_LISTING, (long long)listing,
                           (long long)tu_png_size), 1);
  /* a completed viewing, completed by its timer at its end, rated */
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM appointment WHERE id = "
                              "%lld AND state = 'completed' AND rating = 4 AND "
                              "completed_at = start_at + duration_s",
                           (long long)imported_id(w, "appointment", "v-3")), 1);
  /* the client's notes; a cancellation by the client; a no-show; a
     failed referral with its reason */
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM appointment_note WHERE "
                              "appointment_id = %lld",
                           (long long)imported_id(w, "appointment", "v-3")), 2);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM appointment a JOIN actor x "
                              "ON x.id = a.ended_by WHERE a.id = %lld AND "
                              "a.state = 'cancelled' AND x.kind = 'client'",
                           (long long)imported_id(w, "appointment", "v-4")), 1);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM appointment WHERE id = %lld "
                              "AND no_show_at IS NOT NULL",
                           (long long)imported_id(w, "appointment", "v-5")), 1);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM referral WHERE id = %lld "
                              "AND state = 'failed' AND fail_reason = 'Went "
                              "quiet'", (long long)imported_id(w, "referral",
                                                               "r-2")), 1);
  /* the portal account invited afresh, the website's people, the search */
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM portal_account WHERE id = "
                              "%lld AND email = 'bea@example.org'",
                           (long long)imported_id(w, "portal_account",
                                                  "pa-1")), 1);
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM web_customer WHERE "
                                 "external_id = 'web-77' AND state = "
                                 "'approved' AND contact_id = (SELECT "
                                 "entity_id FROM import_ref WHERE external_id "
                                 "= 'c-buyer')"), 1);
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM web_customer WHERE "
                                 "external_id = 'web-78' AND state = "
                                 "'prospect'"), 1);
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM search WHERE alert = 1 "
                                 "AND max_price = 50000000 AND source = "
                                 "'crm'"), 1);
  /* one "imported" history row each, at the record's time, by the admin */
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM history WHERE entity = %d "
                              "AND entity_id = %lld", TESORO_ENTITY_LISTING,
                           (long long)listing), 1);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM history WHERE entity = %d "
                              "AND entity_id = %lld AND event = 'imported' AND "
                              "to_state = 'published' AND at = %lld AND "
                              "actor_id = %lld AND json_extract(details, "
                              "'$.external_id') = 'l-1' AND json_extract("
                              "details, '$.line') = 5", TESORO_ENTITY_LISTING,
                           (long long)listing, (long long)T0 + 30,
                           (long long)w->admin), 1);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM history WHERE entity = %d "
                              "AND entity_id = %lld", TESORO_ENTITY_APPOINTMENT,
                           (long long)v1), 1);
  /* the timers the workflow plans: the mandate's expiry, the confirmed
     viewing's reminder, completion and feedback request */
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM timer WHERE entity = %d "
                              "AND kind = 'mandate_expiry' AND entity_id = "
                              "(SELECT mandate_id FROM listing WHERE id = %lld)",
                           TESORO_ENTITY_MANDATE, (long long)listing), 1);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM timer WHERE entity = %d "
                              "AND entity_id = %lld AND kind IN "
                              "('appointment_complete', 'viewing_reminder', "
                              "'viewing_feedback')", TESORO_ENTITY_APPOINTMENT,
                           (long long)v1), 3);
  /* nobody was told: no outbox row, no timeline line */
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM outbox"), outbox);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM activity WHERE "
                              "contact_id = %lld", (long long)seller), 0);
  TU_OK(w, tesoro_check(w->t));
}

static void test_import_twice_is_present_and_conflicts_are_refused(void **state) {
  tu_world *w = *state;
  char path[600], path2[600], *text = agency_file(), *report = NULL, *other;
  char before[65], after[65];
  write_file(w, "agency.jsonl", text, path);
  TU_OK(w, tesoro_agency_import(w->t, w->admin, path, &report));
  tesoro_free(report);
  report = NULL;
  /* the same file again changes nothing */
  tu_digest(w, before);
  TU_OK(w, tesoro_agency_import(w->t, w->admin, path, &report));
  tu_digest(w, after);
  assert_string_equal(before, after);
  report_is(report, 16, 0, 15);
  tesoro_free(report);
  /* member order and spacing do not matter: still present */
  {
    char p3[600];
    char line[512];
    snprintf(line, sizeof line, "%s{\"role\": \"agent\", \"email\":"
             "\"iris@tesoro.example\", \"name\":\"Iris Imported\", \"at\":%lld,"
             " \"external_id\":\"ag-1\", \"type\":\"agent\"}\n", HEADER,
             (long long)T0);
    write_file(w, "reordered.jsonl", line, p3);
    report = NULL;
    TU_OK(w, tesoro_agency_import(w->t, w->admin, p3, &report));
    report_is(report, 2, 0, 1);
    tesoro_free(report);
  }
  /* the same id with other content: a conflict, nothing kept */
  other = malloc(strlen(text) + 64);
  assert_non_null(other);
  snprintf(other, strlen(text) + 64, "%s{\"type\":\"contact\",\"external_id\":"
           "\"c-buyer\",\"name\":\"Bea Other\"}\n", HEADER);
  write_file(w, "conflict.jsonl", other, path2);
  TU_ASSERT_REFUSED(w, tesoro_agency_import(w->t, w->admin, path2, &report),
                    TESORO_ECONFLICT, "line 2");
  free(other);
  free(text);
  TU_OK(w, tesoro_check(w->t));
}

/* All or nothing: a good file applies every line; the same file with one
   bad line keeps nothing of it and names the line and the rule. */
static void test_import_is_all_or_nothing(void **state) {
  tu_world *w = *state;
  char path[600], *text = agency_file(), *report = NULL;
  write_filef(w, "bad.jsonl", path,
              "%s{\"type\":\"contact\",\"external_id\":\"c-bad\","
              "\"name\":\"Bad Email\",\"email\":\"not-an-email\"}\n", text);
  TU_ASSERT_REFUSED(w, tesoro_agency_import(w->t, w->admin, path, &report),
                    TESORO_EINVAL, "line 17");
  assert_null(report);
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM import_ref"), 0);
  write_file(w, "good.jsonl", text, path);
  TU_OK(w, tesoro_agency_import(w->t, w->admin, path, &report));
  report_is(report, 16, 15, 0);
  tesoro_free(report);
  free(text);
}

/* Each record type's fields are checked as its workflow checks them. */
static void test_import_validates_each_record(void **state) {
  tu_world *w = *state;
  static const struct {
    const char *line, *needle;
    int code;
  } bad[] = {
      {"{\"type\":\"agent\",\"external_id\":\"a\",\"name\":\"A\",\"email\":"
       "\"a@x.example\",\"role\":\"boss\"}", "role", TESORO_EINVAL},
      {"{\"type\":\"agent\",\"external_id\":\"a\",\"name\":\"A\",\"email\":"
       "\"a@x.example\",\"role\":\"agent\",\"salary\":1}", "unknown field",
       TESORO_EINVAL},
      {"{\"type\":\"contact\",\"external_id\":\"c\"}", "name", TESORO_EINVAL},
      {"{\"type\":\"contact\",\"external_id\":\"c\",\"name\":\"C\","
       "\"consent\":\"maybe\"}", "consent", TESORO_EINVAL},
      {"{\"type\":\"contact\",\"external_id\":\"c\",\"name\":\"C\","
       "\"agent\":\"nobody\"}", "earlier line", TESORO_ENOTFOUND},
      {"{\"type\":\"contact\",\"external_id\":\"c\",\"name\":\"\\u0000\"}",
       NULL, TESORO_EINVAL},
      {"{\"type\":\"listing\",\"external_id\":\"l\",\"seller\":\"c-x\","
       "\"state\":\"published\",\"commission_type\":\"percentage\","
       "\"commission_value\":150,\"exclusive\":true,\"duration_days\":180,"
       "\"fields\":{},\"signed_mandate\":\"AA==\"}", "seller", TESORO_ENOTFOUND},
      {"{\"type\":\"appointment\",\"external_id\":\"v\",\"contact\":\"c\","
       "\"listing\":\"l\",\"state\":\"no_show\",\"preferred\":[1]}",
       "state", TESORO_EINVAL},
      {"{\"type\":\"referral\",\"external_id\":\"r\",\"contact\":\"c\","
       "\"agent\":\"a\",\"stage\":\"dreaming\"}", "stage", TESORO_EINVAL},
      {"{\"type\":\"appointment\",\"external_id\":\"v\",\"contact\":\"c\","
       "\"listing\":\"l\",\"state\":\"pending\",\"preferred\":[1],"
       "\"rating\":5}", "rating", TESORO_EINVAL},
      {"{\"type\":\"appointment\",\"external_id\":\"v\",\"contact\":\"c\","
       "\"listing\":\"l\",\"state\":\"cancelled\",\"preferred\":[1],"
       "\"cancelled_by\":\"the cat\"}", "cancelled_by", TESORO_EINVAL},
      {"{\"type\":\"portal_account\",\"external_id\":\"p\"}", "contact",
       TESORO_EINVAL},
      {"{\"type\":\"portal_account\",\"external_id\":\"p\",\"contact\":"
       "\"nobody\"}", "earlier line", TESORO_ENOTFOUND},
      {"{\"type\":\"web_customer\",\"external_id\":\"w\",\"email\":"
       "\"nope\"}", "e-mail", TESORO_EINVAL},
      {"{\"type\":\"search\",\"external_id\":\"s\",\"contact\":\"c\","
       "\"criteria\":[]}", "criteria", TESORO_EINVAL},
      {"{\"type\":\"unicorn\",\"external_id\":\"u\"}", "type", TESORO_EINVAL},
      {"not json", NULL, TESORO_EINVAL},
      {"[1,2]", "type", TESORO_EINVAL},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char path[600], text[1024], *report = NULL;
    snprintf(text, sizeof text, "%s%s\n", HEADER, bad[i].line);
    write_file(w, "one.jsonl", text, path);
    TU_ASSERT_REFUSED(w, tesoro_agency_import(w->t, w->admin, path, &report),
                      bad[i].code, bad[i].needle);
    assert_true(tu_contains_ci(tesoro_errmsg(w->t), "line 2"));
  }
  /* a listing's photos: each an object of name, mime and base64 data, of
     a photo's type (its bytes say) */
  {
    static const char *const photos[] = {
        "[1]", "[\"x\"]", "[{\"name\":\"a.png\",\"mime\":\"image/png\"}]",
        "[{\"name\":\"a.png\",\"mime\":\"image/png\",\"data\":\"@@@\"}]",
        ("[{\"name\":\"a.pdf\",\"mime\":\"application/pdf\",\"data\":"
         "\"JVBERi0xLjQK\"}]")};
    char *pdf = pdf64();
    for (size_t i = 0; i < sizeof photos / sizeof photos[0]; i++) {
      char path[600], *report = NULL;
      write_filef(w, "photos.jsonl", path,
               "%s{\"type\":\"contact\",\"external_id\":\"c-ph\","
               "\"name\":\"Phil\",\"email\":\"phil@example.org\",\"phone\":"
               "\"+31 6 1\"}\n{\"type\":\"listing\",\"external_id\":\"l-ph\","
               "\"seller\":\"c-ph\",\"state\":\"draft\",\"commission_type\":"
               "\"fixed\",\"commission_value\":500000,\"currency\":\"EUR\","
               "\"exclusive\":false,\"duration_days\":90,\"fields\":{"
               "\"address\":\"Damrak 2, Amsterdam\",\"property_type\":"
               "\"apartment\"},\"photos\":%s,\"signed_mandate\":\"%s\"}\n",
               HEADER, photos[i], pdf);
      TU_ASSERT_REFUSED(w, tesoro_agency_import(w->t, w->admin, path, &report),
                        TESORO_EINVAL, "line 3");
    }
    free(pdf);
  }
  /* a workflow rule: a listing's seller needs a phone for the seller form */
  {
    char path[600], *pdf = pdf64(), *report = NULL;
    write_filef(w, "nophone.jsonl", path,
             "%s{\"type\":\"contact\",\"external_id\":\"c-np\","
             "\"name\":\"No Phone\",\"email\":\"np@example.org\"}\n"
             "{\"type\":\"listing\",\"external_id\":\"l-np\",\"seller\":"
             "\"c-np\",\"state\":\"draft\",\"commission_type\":\"fixed\","
             "\"commission_value\":500000,\"currency\":\"EUR\",\"exclusive\":"
             "false,\"duration_days\":90,\"fields\":{\"address\":\"Damrak 2, "
             "Amsterdam\",\"property_type\":\"apartment\"},\"signed_mandate\":"
             "\"%s\"}\n", HEADER, pdf);
    TU_ASSERT_REFUSED(w, tesoro_agency_import(w->t, w->admin, path, &report),
                      TESORO_EINVAL, "phone");
    assert_true(tu_contains_ci(tesoro_errmsg(w->t), "line 3"));
    free(pdf);
  }
}

static void test_import_refusals(void **state) {
  tu_world *w = *state;
  char path[600], *report = NULL, *text = agency_file();
  write_file(w, "agency.jsonl", text, path);
  free(text);
  assert_int_equal(tesoro_agency_import(NULL, w->admin, path, &report),
                   TESORO_EMISUSE);
  TU_ASSERT_REFUSED(w, tesoro_agency_import(w->t, w->admin, path, NULL),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_import(w->t, w->admin, NULL, &report),
                    TESORO_EINVAL, "path");
  TU_ASSERT_REFUSED(w, tesoro_agency_import(w->t, w->admin, "", &report),
                    TESORO_EINVAL, "path");
  TU_ASSERT_REFUSED(w, tesoro_agency_import(w->t, w->admin, "bad\xff", &report),
                    TESORO_EINVAL, "path");
  TU_ASSERT_REFUSED(w, tesoro_agency_import(w->t, w->agent, path, &report),
                    TESORO_EDENIED, "admin");
  TU_ASSERT_REFUSED(w, tesoro_agency_import(w->t, w->client, path, &report),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_import(w->t, w->website, path, &report),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_import(w->t, w->admin,
                                            "/nonexistent/agency.jsonl",
                                            &report),
                    TESORO_ENOTFOUND, "nonexistent");
  /* no header, a wrong format version, an empty file */
  {
    char p2[600];
    write_file(w, "noheader.jsonl",
               "{\"type\":\"contact\",\"external_id\":\"c\",\"name\":\"C\"}\n",
               p2);
    TU_ASSERT_REFUSED(w, tesoro_agency_import(w->t, w->admin, p2, &report),
                      TESORO_EINVAL, "header");
    write_file(w, "v2.jsonl",
               "{\"type\":\"header\",\"format\":\"tesoro-agency-2\"}\n", p2);
    TU_ASSERT_REFUSED(w, tesoro_agency_import(w->t, w->admin, p2, &report),
                      TESORO_EINVAL, "tesoro-agency-1");
    write_file(w, "empty.jsonl", "", p2);
    TU_ASSERT_REFUSED(w, tesoro_agency_import(w->t, w->admin, p2, &report),
                      TESORO_EINVAL, "empty");
  }
  /* not inside a host transaction */
  TU_OK(w, tesoro_begin(w->t));
  TU_ASSERT_ERR(w, tesoro_agency_import(w->t, w->admin, path, &report),
                TESORO_EMISUSE, "transaction");
  TU_OK(w, tesoro_rollback(w->t));
  assert_null(report);
  /* export */
  assert_int_equal(tesoro_agency_export(NULL, w->admin, path, NULL),
                   TESORO_EMISUSE);
  TU_ASSERT_REFUSED(w, tesoro_agency_export(w->t, w->agent, path, NULL),
                    TESORO_EDENIED, "admin");
  TU_ASSERT_REFUSED(w, tesoro_agency_export(w->t, w->admin, NULL, NULL),
                    TESORO_EINVAL, "path");
  TU_ASSERT_REFUSED(w, tesoro_agency_export(w->t, w->admin,
                                            "/nonexistent/out.jsonl", NULL),
                    TESORO_EINVAL, "nonexistent");
}

/* Export → import into a new file: the same records, states and fields. */
#define SAME_ROWS                                                              \
  "SELECT json_group_array(x) FROM (SELECT json_array(c.name, c.email, "       \
  "c.phone, c.language, c.consent) AS x FROM contact c WHERE c.agency_id = "   \
  "%lld ORDER BY c.email) UNION ALL SELECT json_group_array(x) FROM (SELECT "  \
  "json_array(l.state, l.title, l.address, l.price, l.bedrooms, m.state, "     \
  "m.commission_type, m.commission_value, m.duration_days) AS x FROM listing " \
  "l JOIN mandate m ON m.id = l.mandate_id WHERE l.agency_id = %lld AND "      \
  "l.state != 'placeholder' ORDER BY l.title) UNION ALL SELECT "               \
  "json_group_array(x) FROM (SELECT json_array(a.state, a.start_at, "          \
  "a.preferred) AS x FROM appointment a WHERE a.agency_id = %lld ORDER BY "    \
  "a.preferred) UNION ALL SELECT json_group_array(x) FROM (SELECT "            \
  "json_array(r.state, r.sale_price, r.close_date) AS x FROM referral r "      \
  "WHERE r.agency_id = %lld) UNION ALL SELECT json_group_array(x) FROM "       \
  "(SELECT json_array(name, email, role) AS x FROM actor WHERE agency_id = "   \
  "%lld AND kind = 'agent' ORDER BY email) UNION ALL SELECT "                  \
  "json_group_array(x) FROM (SELECT json_array(a.rating, a.completed_at, "     \
  "a.no_show_at IS NOT NULL, (SELECT kind FROM actor WHERE id = a.ended_by), " \
  "(SELECT count(*) FROM appointment_note n WHERE n.appointment_id = a.id)) "  \
  "AS x FROM appointment a WHERE a.agency_id = %lld ORDER BY a.preferred, "    \
  "a.state) UNION ALL SELECT json_group_array(x) FROM (SELECT "                \
  "json_array(r.state, r.fail_reason) AS x FROM referral r WHERE "             \
  "r.agency_id = %lld ORDER BY r.state) UNION "                                \
  "ALL SELECT json_group_array(x) FROM (SELECT json_array(p.email, p.state) "  \
  "AS x FROM portal_account p WHERE p.agency_id = %lld ORDER BY p.email) "     \
  "UNION ALL SELECT json_group_array(x) FROM (SELECT json_array(w.external_id,"\
  " w.state, w.name) AS x FROM web_customer w WHERE w.agency_id = %lld ORDER " \
  "BY w.external_id) UNION ALL SELECT json_group_array(x) FROM (SELECT "       \
  "json_array(s.alert, s.max_price, s.source) AS x FROM search s WHERE "       \
  "s.agency_id = %lld AND s.state = 'active' ORDER BY s.id) UNION ALL SELECT " \
  "json_group_array(x) FROM (SELECT json_array(kind, count(*)) AS x FROM "     \
  "timer WHERE agency_id = %lld GROUP BY kind ORDER BY kind) UNION ALL "       \
  "SELECT json_group_array(x) FROM (SELECT json_array(kind, name, sha256) AS " \
  "x FROM document WHERE agency_id = %lld ORDER BY kind, name)"

static char *rows_of(const char *path, int64_t agency) {
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  char sql[4096];
  sqlite3_str *out = sqlite3_str_new(NULL);
  char *text;
  snprintf(sql, sizeof sql, SAME_ROWS, (long long)agency, (long long)agency,
           (long long)agency, (long long)agency, (long long)agency,
           (long long)agency, (long long)agency, (long long)agency,
           (long long)agency, (long long)agency, (long long)agency,
           (long long)agency);
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
  while (sqlite3_step(s) == SQLITE_ROW)
    sqlite3_str_appendf(out, "%s\n", sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  sqlite3_close(db);
  text = sqlite3_str_finish(out);
  assert_non_null(text);
  return text;
}

static void test_export_import_round_trip(void **state) {
  tu_world *w = *state;
  char path[600], out[600], newdb[600], *text = agency_file(), *report = NULL;
  char *a, *b;
  int64_t records = 0, agency = 0, admin = 0;
  tesoro *t2 = NULL;
  write_file(w, "agency.jsonl", text, path);
  free(text);
  TU_OK(w, tesoro_agency_import(w->t, w->admin, path, &report));
  tesoro_free(report);
  report = NULL;
  snprintf(out, sizeof out, "%s/export.jsonl", w->dir);
  TU_OK(w, tesoro_agency_export(w->t, w->admin, out, &records));
  /* the fixture's agents and Ada, Bob and the import's records */
  assert_true(records >= 7);
  /* a new file: the agency from the header's facts, then the import */
  snprintf(newdb, sizeof newdb, "%s/new.db", w->dir);
  assert_int_equal(tesoro_open(newdb, &t2), TESORO_OK);
  assert_int_equal(tesoro_clock_set(t2, TU_NOW), TESORO_OK);
  assert_int_equal(tesoro_agency_create(t2, "Tesoro Homes", "Europe/Amsterdam",
                                        "EUR", "Alice Admin",
                                        "alice@tesoro.test", &agency, &admin),
                   TESORO_OK);
  /* the header says the portal is on (viewings are requested there) */
  assert_int_equal(tesoro_agency_set_portal(t2, admin, 1), TESORO_OK);
  if (tesoro_agency_import(t2, admin, out, &report) != TESORO_OK) {
    print_error("import of the export: %s\n", tesoro_errmsg(t2));
    fail();
  }
  tesoro_free(report);
  assert_int_equal(tesoro_check(t2), TESORO_OK);
  tesoro_close(t2);
  a = rows_of(w->path, w->agency);
  b = rows_of(newdb, agency);
  /* line by line: contacts, listings, appointments, referrals, staff */
  for (char *p = a, *q = b; *p || *q;) {
    char *pe = strchr(p, '\n'), *qe = strchr(q, '\n');
    assert_non_null(pe);
    assert_non_null(qe);
    *pe = *qe = 0;
    assert_string_equal(p, q);
    p = pe + 1;
    q = qe + 1;
  }
  sqlite3_free(a);
  sqlite3_free(b);
  /* and exported again, the two exports agree line by line but the
     external ids the first import kept */
  TU_OK(w, tesoro_check(w->t));
}

/* A record without "at" happened now (the handle's clock). */
static void test_import_at_defaults_to_now(void **state) {
  tu_world *w = *state;
  char path[600], text[256], *report = NULL;
  snprintf(text, sizeof text, "%s{\"type\":\"contact\",\"external_id\":"
           "\"c-now\",\"name\":\"Nova Now\"}\n", HEADER);
  write_file(w, "now.jsonl", text, path);
  TU_OK(w, tesoro_agency_import(w->t, w->admin, path, &report));
  tesoro_free(report);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM history WHERE entity = %d "
                              "AND entity_id = %lld AND event = 'imported' AND "
                              "at = %lld", TESORO_ENTITY_CONTACT,
                           (long long)imported_id(w, "contact", "c-now"),
                           (long long)TU_NOW), 1);
}

/* An erased contact and what is hers stay out of the export. */
static void test_export_leaves_erased_contacts_out(void **state) {
  tu_world *w = *state;
  char out[600], *text;
  size_t n = 0;
  snprintf(out, sizeof out, "%s/export.jsonl", w->dir);
  TU_OK(w, tesoro_contact_erase(w->t, w->admin, w->contact, "forget me"));
  TU_OK(w, tesoro_agency_export(w->t, w->admin, out, NULL));
  text = (char *)tu_read_file(out, &n);
  assert_non_null(text);
  assert_null(strstr(text, "ada@example.com"));
  assert_null(strstr(text, "Ada Owner"));
  assert_non_null(strstr(text, "bob@example.com")); /* Bob stays */
  free(text);
}

#define T TU_TEST

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_import_makes_records_in_their_states),
      T(test_import_twice_is_present_and_conflicts_are_refused),
      T(test_import_is_all_or_nothing),
      T(test_import_validates_each_record),
      T(test_import_refusals),
      T(test_export_import_round_trip),
      T(test_export_leaves_erased_contacts_out),
      T(test_import_at_defaults_to_now),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
