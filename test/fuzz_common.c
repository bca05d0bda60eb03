/*
** fuzz_common.c — the world every fuzzer starts from, and the checks they
** share.  See fuzz_common.h.
**
** The world is built through the public API only, walking the workflows the
** way a host would.  JSON is read back through a private SQLite connection,
** so an oracle never goes through the code under test.
*/
#include "fuzz_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

const unsigned char fz_pdf[] =
    "%PDF-1.4\n"
    "1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    "trailer << /Root 1 0 R >>\n"
    "%%EOF\n";
const size_t fz_pdf_size = sizeof fz_pdf - 1;

const unsigned char fz_jpeg[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J',
                                 'F',  'I',  'F',  0x00, 0x01, 0xFF, 0xD9};
const size_t fz_jpeg_size = sizeof fz_jpeg;

/* ------------------------------------------------------------------------
** Failing.
*/
void fz_fail(const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "\n*** fuzz expectation failed: ");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
  abort();
}

void fz_require(fz_world *w, int rc, const char *what) {
  if (rc != TESORO_OK)
    fz_fail("world setup: %s returned %s: %s", what, tesoro_errname(rc),
            w && w->t ? tesoro_errmsg(w->t) : "(no handle)");
}

int fz_expect(fz_world *w, int rc, unsigned allowed, const char *call) {
  static int verbose = -1;
  const char *msg = tesoro_errmsg(w->t);
  if (verbose < 0)
    verbose = getenv("FZ_VERBOSE") != NULL;
  if (verbose)
    fprintf(stderr, "fz: %s -> %s: %s\n", call, tesoro_errname(rc), msg);
  if (rc > 0 || rc < -30 || !(FZ_BIT(rc) & allowed))
    fz_fail("%s returned %d (%s), not one of its documented results: %s", call,
            rc, tesoro_errname(rc), msg ? msg : "(null)");
  if (rc != TESORO_OK) {
    if (msg == NULL || msg[0] == 0)
      fz_fail("%s returned %s with an empty tesoro_errmsg", call,
              tesoro_errname(rc));
    if (tesoro_errcode(w->t) != rc)
      fz_fail("%s returned %s but tesoro_errcode says %s", call,
              tesoro_errname(rc), tesoro_errname(tesoro_errcode(w->t)));
  }
  return rc;
}

void fz_check(fz_world *w, const char *after) {
  int rc = tesoro_check(w->t);
  if (rc != TESORO_OK)
    fz_fail("tesoro_check after %s: %s: %s", after, tesoro_errname(rc),
            tesoro_errmsg(w->t));
}

void fz_same_text(const char *what, const char *got, const char *want) {
  if (got == NULL && want == NULL)
    return;
  if (got == NULL || want == NULL || strcmp(got, want) != 0)
    fz_fail("%s is not returned verbatim: stored \"%s\", given \"%s\"", what,
            got ? got : "(NULL)", want ? want : "(NULL)");
}

int fz_drain(fz_world *w, tesoro_cursor *c) {
  int rows = 0, rc, n, i;
  if (c == NULL)
    return 0;
  n = tesoro_cursor_columns(c);
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
    rows++;
    for (i = 0; i < n; i++) {
      const char *name = tesoro_cursor_name(c, i);
      const char *text;
      if (name == NULL || tesoro_cursor_index(c, name) < 0)
        fz_fail("cursor column %d has no name, or its name is not found", i);
      (void)tesoro_cursor_int(c, i);
      (void)tesoro_cursor_double(c, i);
      text = tesoro_cursor_text(c, i);
      if ((text == NULL) != (tesoro_cursor_isnull(c, i) != 0))
        fz_fail("cursor column %s: text and isnull disagree", name);
    }
  }
  tesoro_cursor_free(c);
  if (rc != TESORO_DONE)
    fz_fail("cursor stepping failed: %s: %s", tesoro_errname(rc),
            tesoro_errmsg(w->t));
  return rows;
}

char *fz_stats(fz_world *w) {
  tesoro_cursor *c = NULL;
  size_t len = 0, cap = 256;
  char *out = malloc(cap);
  int rc;
  if (out == NULL)
    fz_fail("out of memory");
  out[0] = 0;
  rc = tesoro_stats(w->t, 0, &c);
  if (rc != TESORO_OK)
    fz_fail("tesoro_stats: %s: %s", tesoro_errname(rc), tesoro_errmsg(w->t));
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
    const char *what = tesoro_cursor_text(c, 0),
               *state = tesoro_cursor_text(c, 1);
    char line[160];
    int n = snprintf(line, sizeof line, "%s.%s=%lld ", what ? what : "",
                     state ? state : "", (long long)tesoro_cursor_int(c, 2));
    if (n < 0)
      n = 0;
    if ((size_t)n >= sizeof line)
      n = (int)sizeof line - 1;
    if (len + (size_t)n + 1 > cap) {
      char *nb;
      cap = 2 * (len + (size_t)n + 1);
      if ((nb = realloc(out, cap)) == NULL)
        fz_fail("out of memory");
      out = nb;
    }
    memcpy(out + len, line, (size_t)n);
    len += (size_t)n;
    out[len] = 0;
  }
  tesoro_cursor_free(c);
  if (rc != TESORO_DONE)
    fz_fail("tesoro_stats cursor: %s: %s", tesoro_errname(rc),
            tesoro_errmsg(w->t));
  return out;
}

void fz_same_stats(char *before, char *after, const char *call) {
  if (strcmp(before, after) != 0)
    fz_fail(
        "%s was refused but changed the database:\n  before %s\n  after  %s",
        call, before, after);
  free(before);
  free(after);
}

int fz_refused_kept(fz_world *w, int rc, char *before, const char *call) {
  if (rc == TESORO_OK) {
    free(before);
    return 0;
  }
  fz_same_stats(before, fz_stats(w), call);
  return 1;
}

char *fz_strndup(const void *p, size_t n) {
  char *s = malloc(n + 1);
  if (s == NULL)
    fz_fail("out of memory");
  if (n)
    memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

/* ------------------------------------------------------------------------
** JSON through a private connection.
*/
static sqlite3 *fz_jdb;

sqlite3_stmt *fz_jprep(const char *sql) {
  sqlite3_stmt *s = NULL;
  if (fz_jdb == NULL && sqlite3_open(":memory:", &fz_jdb) != SQLITE_OK)
    fz_fail("cannot open the private JSON connection");
  if (sqlite3_prepare_v2(fz_jdb, sql, -1, &s, NULL) != SQLITE_OK)
    fz_fail("private JSON connection: %s", sqlite3_errmsg(fz_jdb));
  return s;
}

char *fz_json_text(const char *json, const char *path) {
  sqlite3_stmt *s;
  char *out = NULL;
  if (json == NULL || !fz_json_valid(json))
    return NULL;
  s = fz_jprep("SELECT json_extract(?1, ?2)");
  sqlite3_bind_text(s, 1, json, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, path, -1, SQLITE_STATIC);
  if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
    out = fz_strndup(sqlite3_column_text(s, 0),
                     (size_t)sqlite3_column_bytes(s, 0));
  sqlite3_finalize(s);
  return out;
}

int fz_json_length(const char *json) {
  sqlite3_stmt *s;
  int n = -1;
  if (json == NULL || !fz_json_valid(json))
    return -1;
  s = fz_jprep("SELECT json_array_length(?1)");
  sqlite3_bind_text(s, 1, json, -1, SQLITE_STATIC);
  if (sqlite3_step(s) == SQLITE_ROW)
    n = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  return n;
}

int fz_json_valid(const char *text) {
  sqlite3_stmt *s = fz_jprep("SELECT json_valid(?1)");
  int ok = 0;
  sqlite3_bind_text(s, 1, text, -1, SQLITE_STATIC);
  if (sqlite3_step(s) == SQLITE_ROW)
    ok = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  return ok;
}

const char *fz_json_type(const char *json, const char *path) {
  static char type[16];
  sqlite3_stmt *s;
  type[0] = 0;
  if (json == NULL || !fz_json_valid(json))
    return type;
  s = fz_jprep("SELECT json_type(?1, ?2)");
  sqlite3_bind_text(s, 1, json, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, path, -1, SQLITE_STATIC);
  if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
    snprintf(type, sizeof type, "%s", (const char *)sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  return type;
}

/* ------------------------------------------------------------------------
** Byte stream.
*/
unsigned fz_u8(fz_in *in) {
  if (in->n == 0)
    return 0;
  in->n--;
  return *in->p++;
}

/* ------------------------------------------------------------------------
** The world.
*/
static fz_world fz_the_world;
static int fz_built;
static int64_t fz_outbox_base[3];

#define REQ(call) fz_require(w, (call), #call)

/* The id named by a JSON result's `path` (e.g. an ingest's entity_id). */
static int64_t fz_json_id(const char *json, const char *path) {
  char *v = fz_json_text(json, path);
  int64_t id = v ? strtoll(v, NULL, 10) : 0;
  free(v);
  if (id <= 0)
    fz_fail("world setup: %s has no %s", json ? json : "?", path);
  return id;
}

/* The open task of `entity`/`id` whose kind contains `kind`. */
static int64_t fz_task_of(fz_world *w, int64_t staff, int entity, int64_t id,
                          const char *kind) {
  tesoro_cursor *c = NULL;
  int64_t task = 0;
  REQ(tesoro_tasks(w->t, staff, entity, id, &c));
  while (tesoro_cursor_next(c) == TESORO_ROW) {
    const char *k = tesoro_cursor_text(c, tesoro_cursor_index(c, "kind"));
    if (task == 0 && k && strstr(k, kind))
      task = tesoro_cursor_int(c, tesoro_cursor_index(c, "id"));
  }
  tesoro_cursor_free(c);
  if (task <= 0)
    fz_fail("world setup: no %s task", kind);
  return task;
}

/* A room (fresh owner by e-mail), started: its mandate and owner client. */
static int64_t fz_room(fz_world *w, int64_t website, int start,
                       int64_t *out_mandate, int64_t *out_client) {
  static unsigned seq;
  char name[64], email[96];
  int64_t room = 0, client = 0, mandate = 0;
  seq++;
  snprintf(name, sizeof name, "Seller %u", seq);
  snprintf(email, sizeof email, "seller%u.%lld@example.com", seq,
           (long long)website);
  REQ(tesoro_contact_request_submit(
      w->t, website, name, email, TESORO_PROPERTY_HOUSE, "Domplein 1, Utrecht",
      450000, "this summer", "A canal house", &room, &client));
  if (start) {
    int64_t staff = website == w->website ? w->agent : w->other_agent;
    REQ(tesoro_room_start_onboarding(w->t, staff, room, 0, 0, &mandate));
  }
  if (out_mandate)
    *out_mandate = mandate;
  if (out_client)
    *out_client = client;
  return room;
}

/* A mandate taken to form_shared with its signed PDF attached. */
static int64_t fz_mandate_shared(fz_world *w, int64_t website, int64_t staff,
                                 int64_t *out_client) {
  int64_t mandate = 0, client = 0, proposal = 0, doc = 0;
  fz_room(w, website, 1, &mandate, &client);
  REQ(tesoro_mandate_propose(w->t, staff, mandate, TESORO_COMMISSION_PERCENTAGE,
                             150, NULL, 1, 180, 0, &proposal));
  REQ(tesoro_mandate_accept(w->t, client, mandate, proposal, 0, NULL));
  REQ(tesoro_mandate_share_form(w->t, staff, mandate, 0));
  REQ(tesoro_document_add(
      w->t, client, TESORO_ENTITY_MANDATE, mandate, TESORO_DOC_SIGNED_MANDATE,
      "mandate.pdf", "application/pdf", fz_pdf, (int64_t)fz_pdf_size, &doc));
  if (out_client)
    *out_client = client;
  return mandate;
}

/* Seller onboarding walked to a listing; placed at lon/lat, published when
** asked.  Its reference is copied to ref[16] (when not NULL). */
static int64_t fz_listing(fz_world *w, int64_t website, int64_t staff,
                          const char *title, double lon, double lat,
                          int publish, char *ref) {
  int64_t client = 0, mandate, listing = 0, task;
  char fields[512];
  mandate = fz_mandate_shared(w, website, staff, &client);
  REQ(tesoro_mandate_submit_form(
      w->t, client, mandate,
      "{\"full_name\":\"Sam Seller\",\"email\":\"sam@example.com\",\"phone\":"
      "\"+31 6 1111 2222\",\"address\":\"Domplein 1, Utrecht\","
      "\"property_type\":\"house\",\"price\":450000}",
      0));
  task = fz_task_of(w, staff, TESORO_ENTITY_MANDATE, mandate, "review");
  REQ(tesoro_task_complete(w->t, staff, task, 0));
  REQ(tesoro_mandate_validate(w->t, staff, mandate, 0, &listing));
  snprintf(fields, sizeof fields,
           "{\"title\":\"%s\",\"address\":\"Domplein 1, Utrecht\",\"price\":"
           "450000,\"property_type\":\"house\",\"bedrooms\":3,\"longitude\":"
           "%.4f,\"latitude\":%.4f}",
           title, lon, lat);
  REQ(tesoro_listing_update(w->t, staff, listing, fields, 0));
  if (publish)
    REQ(tesoro_listing_publish(w->t, staff, listing, 0));
  if (ref) {
    char *json = NULL, *r;
    REQ(tesoro_entity_json(w->t, staff, TESORO_ENTITY_LISTING, listing, &json));
    r = fz_json_text(json, "$.ref");
    if (r == NULL)
      fz_fail("world setup: listing without a ref");
    snprintf(ref, 16, "%s", r);
    free(r);
    tesoro_free(json);
  }
  return listing;
}

static char *fz_ingest(fz_world *w, const char *event) {
  char *res = NULL;
  REQ(tesoro_exchange_ingest(w->t, w->website, event, &res));
  return res;
}

static void fz_build(fz_world *w) {
  char *temp = NULL, *res;
  char event[1024];
  int64_t preferred, start;
  int fired = 0, kind;

  if (sodium_init() < 0)
    fz_fail("sodium_init failed");
  if (tesoro_open(":memory:", &w->t) != TESORO_OK)
    fz_fail("tesoro_open(:memory:): %s", tesoro_errmsg(w->t));
  /* The viewing completed by the timer is planned in the past. */
  REQ(tesoro_clock_set(w->t, FZ_NOW - 10 * FZ_DAY));
  REQ(tesoro_config(w->t, TESORO_CONFIG_PWHASH_OPSLIMIT, 1));
  REQ(tesoro_config(w->t, TESORO_CONFIG_PWHASH_MEMLIMIT, 8192));

  REQ(tesoro_agency_create(w->t, "Tesoro Homes", "Europe/Amsterdam", "EUR",
                           "Alice Admin", "alice@tesoro.test", &w->agency,
                           &w->admin));
  REQ(tesoro_agent_create(w->t, w->admin, "Andy Agent", "andy@tesoro.test",
                          TESORO_ROLE_AGENT, &w->agent));
  REQ(tesoro_agent_create(w->t, w->admin, "Anna Agent", "anna@tesoro.test",
                          TESORO_ROLE_AGENT, &w->agent2));
  REQ(tesoro_agent_create(w->t, w->admin, "Carl Closings", "carl@tesoro.test",
                          TESORO_ROLE_CLOSINGS, &w->closings));
  REQ(tesoro_agency_website_actor(w->t, w->admin, w->agency, &w->website));
  REQ(tesoro_agency_set_portal(w->t, w->admin, 1));
  REQ(tesoro_agency_set_referral_fee(w->t, w->admin, 250));

  REQ(tesoro_agency_create(w->t, "Other Estates", "UTC", "GBP", "Oscar Other",
                           "oscar@other.test", &w->other_agency,
                           &w->other_admin));
  REQ(tesoro_agent_create(w->t, w->other_admin, "Olga Other", "olga@other.test",
                          TESORO_ROLE_AGENT, &w->other_agent));
  REQ(tesoro_agency_website_actor(w->t, w->other_admin, w->other_agency,
                                  &w->other_website));
  REQ(tesoro_agency_set_portal(w->t, w->other_admin, 1));

  REQ(tesoro_contact_create(w->t, w->agent, "Ada Owner", "ada@example.com",
                            "+31 6 1234 5678", "nl", &w->contact));
  REQ(tesoro_contact_client_actor(w->t, w->agent, w->contact, &w->client));
  REQ(tesoro_contact_create(w->t, w->agent, "Bob Buyer", "bob@example.com",
                            NULL, "en", &w->contact2));
  REQ(tesoro_contact_assign(w->t, w->agent, w->contact2, w->agent2, 0));
  REQ(tesoro_contact_client_actor(w->t, w->agent2, w->contact2, &w->client2));
  REQ(tesoro_contact_create(w->t, w->other_agent, "Otto Owner",
                            "otto@example.com", NULL, "en", &w->other_contact));
  REQ(tesoro_contact_client_actor(w->t, w->other_agent, w->other_contact,
                                  &w->other_client));

  /* Listings. */
  w->listing = fz_listing(w, w->website, w->agent, "Canal house", 5.12, 52.09,
                          1, w->ref);
  w->listing_east = fz_listing(w, w->website, w->agent, "Island villa", 179.99,
                               -16.5, 1, NULL);
  w->listing_pole =
      fz_listing(w, w->website, w->agent, "Polar cabin", 10.0, 89.9, 1, NULL);
  w->draft_listing =
      fz_listing(w, w->website, w->agent, "Draft", 4.9, 52.37, 0, NULL);
  w->other_listing = fz_listing(w, w->other_website, w->other_agent,
                                "London flat", -0.12, 51.5, 1, w->other_ref);

  /* Rooms and mandates. */
  w->room_open = fz_room(w, w->website, 0, NULL, NULL);
  w->room_ip = fz_room(w, w->website, 1, &w->mandate_draft, NULL);
  w->mandate_shared =
      fz_mandate_shared(w, w->website, w->agent, &w->shared_client);

  /* Bob's deal and viewings. */
  REQ(tesoro_deal_create(w->t, w->agent2, w->contact2,
                         "Family house in Utrecht", &w->deal));
  REQ(tesoro_deal_offer(w->t, w->agent2, w->deal, w->listing,
                        &w->deal_property));
  REQ(tesoro_deal_property_interested(w->t, w->client2, w->deal_property, 0));
  REQ(tesoro_deal_offer(w->t, w->agent2, w->deal, w->listing_east,
                        &w->offer_open));
  REQ(tesoro_deal_property_interested(w->t, w->client2, w->offer_open, 0));
  preferred = FZ_NOW - 2 * FZ_DAY;
  REQ(tesoro_appointment_request(w->t, w->client2, w->deal_property, &preferred,
                                 1, &w->appt_completed));
  REQ(tesoro_appointment_confirm(w->t, w->agent2, w->appt_completed, preferred, 0,
                                 0));
  preferred = FZ_NOW + 2 * FZ_DAY;
  REQ(tesoro_appointment_request(w->t, w->client2, w->deal_property, &preferred,
                                 1, &w->appt_confirmed));
  REQ(tesoro_appointment_confirm(w->t, w->agent2, w->appt_confirmed, preferred, 0,
                                 0));
  preferred = FZ_NOW + 3 * FZ_DAY;
  REQ(tesoro_appointment_request(w->t, w->client2, w->deal_property, &preferred,
                                 1, &w->appt_pending));

  /* A referral. */
  REQ(tesoro_referral_create(w->t, w->agent, w->contact, 0, &w->referral));

  /* The web: a prospect with a saved search and a vendor claim; ada's
     customer with a CRM search. */
  start = FZ_NOW - 5 * FZ_DAY;
  /* the website's events are never ahead of the clock (beyond the skew) */
  REQ(tesoro_clock_set(w->t, start + 3));
  snprintf(event, sizeof event,
           "{\"source_id\":\"w1\",\"type\":\"customer\",\"customer\":\"c1\","
           "\"at\":%lld,\"name\":\"Sanne\",\"email\":\"sanne@example.com\"}",
           (long long)start);
  tesoro_free(fz_ingest(w, event));
  snprintf(
      event, sizeof event,
      "{\"source_id\":\"w2\",\"type\":\"saved_search\",\"customer\":\"c1\","
      "\"at\":%lld,\"search_id\":\"s1\",\"alert\":true,\"max_price\":"
      "900000,\"area\":{\"name\":\"Utrecht\",\"centre\":{\"type\":"
      "\"Point\",\"coordinates\":[5.12,52.09]},\"radius\":5000}}",
      (long long)start + 1);
  tesoro_free(fz_ingest(w, event));
  snprintf(
      event, sizeof event,
      "{\"source_id\":\"w3\",\"type\":\"vendor_claim\",\"customer\":\"c1\","
      "\"at\":%lld,\"listing\":\"%s\",\"note\":\"It is mine\"}",
      (long long)start + 2, w->ref);
  res = fz_ingest(w, event);
  w->claim = fz_json_id(res, "$.entity_id");
  tesoro_free(res);
  REQ(tesoro_customer_find(w->t, w->agent, "c1", &w->prospect));
  REQ(tesoro_search_save(
      w->t, w->agent, w->contact, 0,
      "{\"min_price\":100000,\"property_types\":[\"house\"]}", 1, &w->search));
  REQ(tesoro_contact_customer(w->t, w->agent, w->contact, &w->customer));

  /* Now: the first viewing's time has passed. */
  REQ(tesoro_clock_set(w->t, FZ_NOW));
  REQ(tesoro_tick(w->t, FZ_NOW, &fired));

  /* Bob's portal account, past the set-password step. */
  REQ(tesoro_portal_account_create(w->t, w->agent2, w->contact2, &w->account,
                                   &temp));
  REQ(tesoro_portal_password_change(w->t, w->client2, temp, FZ_PASSWORD));
  tesoro_free(temp);

  for (w->max_actor = 1; tesoro_actor_info(w->t, w->max_actor + 1, &kind, NULL,
                                           NULL) == TESORO_OK;
       w->max_actor++) {
  }
  fz_check(w, "building the world");
  REQ(fz_outbox_counts(w->t, &fz_outbox_base[0], &fz_outbox_base[1],
                           &fz_outbox_base[2]));
}

fz_world *fz_world_get(void) {
  if (!fz_built) {
    fz_build(&fz_the_world);
    fz_built = 1;
  }
  return &fz_the_world;
}

void fz_input_begin(fz_world *w) {
  REQ(tesoro_clock_set(w->t, FZ_NOW));
  REQ(tesoro_begin(w->t));
}

void fz_input_end(fz_world *w) {
  int64_t counts[3];
  int rc = tesoro_rollback(w->t);
  if (rc != TESORO_OK)
    fz_fail("tesoro_rollback: %s: %s", tesoro_errname(rc), tesoro_errmsg(w->t));
  REQ(fz_outbox_counts(w->t, &counts[0], &counts[1], &counts[2]));
  if (memcmp(counts, fz_outbox_base, sizeof counts) != 0)
    fz_fail("the rollback did not restore the world (outbox %lld/%lld/%lld, "
            "was %lld/%lld/%lld)",
            (long long)counts[0], (long long)counts[1], (long long)counts[2],
            (long long)fz_outbox_base[0], (long long)fz_outbox_base[1],
            (long long)fz_outbox_base[2]);
}
