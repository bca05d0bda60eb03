/*
** test_faults.c — allocation failures, I/O errors and a full disk injected
** into every public call of a scenario that walks all of tesoro's workflows
** (issue 9).
**
** The scenario is a table of steps (steps[] below), each one public call (a
** cursor call is the call, every tesoro_cursor_next of it and every column
** read as text; the host-transaction steps are begin, calls, commit or
** rollback).  Each step is swept once per fault kind (kinds[]): for N = 1,
** 2, ... the Nth allocation fails (once, or from then on), or the Nth read,
** write, sync or truncate (once, or from then on), or the disk has N-1
** pages free — until the call succeeds without the fault firing.  Every
** attempt starts from the state before the step: a failed call must not
** have changed it, and a call that succeeded anyway (SQLite recovers from
** some faults) is undone by restoring a snapshot of the file (sqlite3_backup
** through a separate connection).  Before a sweep the handle is warmed up by
** running the step once inside tesoro_begin/tesoro_rollback, so the sweep
** walks the call's own allocations with its statements cached, the way a
** long-running host calls it; one step in COLD_EVERY is also swept cold,
** right after the handle was reopened, which walks the failures of
** preparing statements.  The read faults meet a page cache emptied by a
** commit of the observer; the disk-full sweep an emptied WAL.
**
** Each failing attempt must
**   - return exactly the code tesoro promises for the fault: TESORO_ENOMEM
**     for an allocation failure (SQLITE_NOMEM), TESORO_EDB for an I/O error
**     (SQLITE_IOERR_*) or a full disk (SQLITE_FULL), as tesoro__dberr maps
**     them (one exception, measured not assumed: json_valid_oom below);
**   - leave the database as it was: no commit happened (PRAGMA data_version
**     of a separate connection is unchanged, else the digest decides), no
**     write transaction is left open behind the host's back (that
**     connection can take the write lock), the step's entity is in its old
**     state and version; and on one failing attempt in DIGEST_EVERY the
**     digest of every row of every table (tu_digest) is the one taken
**     before the step and tesoro_check passes;
**   - leak nothing: after every step the handle and the observer are
**     closed and the allocations outstanding return to the baseline
**     (tesoro_close itself is checked after each of its attempts; ASan and
**     valgrind check the rest).
** An attempt that succeeded although its fault fired must leave a database
** that passes tesoro_check.  tesoro_tick is held to the same rule as every
** call: it fires its timers in one transaction, so a fault undoes it whole.
** A few calls cost thousands of allocations or a new file per attempt;
** their sweeps step N sparsely (F_SPARSE, F_SPARSER: see the flags).
** Violations are counted, each printed with its step, fault and N, and the
** test fails at the end if there is any.
**
** The VFS skips the real fsync (fu_io_nosync): error handling is under test
** here, durability in test_crash.  TESORO_FAULT_STEPS=from:to sweeps a range
** of steps (the others run fault-free), TESORO_FAULT_N=n starts every sweep
** at N = n, TESORO_VERBOSE=1 prints each sweep's attempts and time.
**
** TESORO_LIGHT=1 (valgrind) shrinks the sweeps: one step in LIGHT_STEPS is
** swept (and tesoro_open, tesoro_close and the erasure, whose checkpoint
** meets the sync and truncate faults), allocation sweeps try every
** LIGHT_STRIDE-th N, and each swept step gets three of the kinds in
** rotation, so every kind still fires on many calls.
**
** FIGURES.  From one plain `make run-tests` on 2026-11-23 (2 m 33 s, every
** suite passed), as its `torture <what>=<n>` lines printed them:
**   allocation faults (tesoro's and SQLite's, through SQLITE_CONFIG_MALLOC):
**     53 191 faults, 53 100 failing calls, each answered ENOMEM (or
**     succeeded after a recovered fault), left the file unchanged (digest)
**     and passing tesoro_check, no leak;
**   I/O faults (a shim VFS fails the Nth read, write, sync or truncate, once
**     or persistently) and a full disk: 9 935 I/O faults, 939 disk-full
**     runs, 0 violations.
*/
#include "testutil.h"
#include "faultutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#define DIGEST_EVERY 16 /* full digest + tesoro_check: one failing attempt in 16 */
#define LIGHT_STRIDE 29 /* under TESORO_LIGHT: allocation sweeps try N = 1, 30, 59, ... */
#define LIGHT_STEPS 7   /* under TESORO_LIGHT: one step in seven is swept */
#define COLD_EVERY 6    /* one step in six is also swept cold */

/* =========================================================================
** The scenario's state: the world and every id the steps hand on.
*/
typedef struct sc {
  tu_world *w;
  int64_t clock; /* the handle's pinned clock, re-applied on reopen */
  char newpath[600];
  int64_t agency3, admin3, staff3, website3, staff3_kind;
  int64_t buyer, buyer_client;
  int64_t room, owner, owner_contact, mandate, p1, p2, doc_mandate, task,
      listing, photo;
  char ref[32];
  int64_t room2, room3, mandate3;
  int64_t deal, dp, account, account2, rosa_client, ap1, ap2, ap3, ap4;
  char temp_pw[64], code[16];
  int64_t rosa_contact;
  char token[64], reset_secret[64], temp_pw2[64], email_code[16];
  int64_t rita, referral;
  int64_t cust1, cust2, sanne, search, claim;
  int64_t outbox1, outbox2;
} sc;

static sc S;

#define T (s->w->t)
#define W (s->w)

/* Instants of the viewings (see examples/workflows.c). */
#define V1 INT64_C(1780473600)  /* Wed 3 June 2026 10:00 Amsterdam */
#define V2 INT64_C(1780574400)  /* Thu 4 June 2026 14:00 Amsterdam */
#define LIST_DAY INT64_C(1781906400) /* 20 June 2026 00:00 Amsterdam */

static const char pw_new[] = "Grachten#2026";
static const char pw_rosa[] = "Tulpen#2026x";

/* Step a cursor to its end, reading every column of every row as text
** (which converts numbers, so it allocates too), then free it.  The first
** error, else TESORO_OK.  c may be NULL (the call failed). */
static int drain(int rc, tesoro_cursor **cp) {
  tesoro_cursor *c = *cp;
  if (rc != TESORO_OK) {
    tesoro_cursor_free(c);
    return rc;
  }
  for (;;) {
    int r = tesoro_cursor_next(c), n, i;
    if (r == TESORO_DONE) break;
    if (r != TESORO_ROW) {
      rc = r;
      break;
    }
    n = tesoro_cursor_columns(c);
    for (i = 0; i < n; i++) (void)tesoro_cursor_text(c, i);
  }
  tesoro_cursor_free(c);
  return rc;
}

/* Like drain, remembering the id of the last row whose `col` contains
** `needle` (0 if none) in *out — only when the whole cursor was read. */
static int drain_find(int rc, tesoro_cursor **cp, const char *col,
                      const char *needle, int64_t *out) {
  tesoro_cursor *c = *cp;
  int64_t found = 0;
  if (rc != TESORO_OK) {
    tesoro_cursor_free(c);
    return rc;
  }
  for (;;) {
    int r = tesoro_cursor_next(c);
    if (r == TESORO_DONE) break;
    if (r != TESORO_ROW) {
      rc = r;
      break;
    }
    {
      int ci = tesoro_cursor_index(c, col), ii = tesoro_cursor_index(c, "id");
      const char *v = ci >= 0 ? tesoro_cursor_text(c, ci) : NULL;
      if (needle == NULL || (v && strstr(v, needle)))
        found = tesoro_cursor_int(c, ii);
    }
  }
  tesoro_cursor_free(c);
  if (rc == TESORO_OK) *out = found;
  return rc;
}

/* The number after "key": in a JSON text (0 if absent). */
static int64_t json_int(const char *json, const char *key) {
  char pat[64];
  const char *p;
  snprintf(pat, sizeof pat, "\"%s\":", key);
  p = json ? strstr(json, pat) : NULL;
  return p ? strtoll(p + strlen(pat), NULL, 10) : 0;
}

/* =========================================================================
** The steps.  Each is one public call (or, for the host transaction steps,
** the calls of one host transaction).  Ids are stored only on success: a
** step runs many times, and the last successful run is the one that stays.
*/

/* ---- handle ---- */
static int st_open_existing(sc *s) {
  tesoro *t = NULL;
  int rc = tesoro_open(W->path, &t);
  if (rc == TESORO_OK) {
    W->t = t;
    if ((rc = tesoro_clock_set(t, s->clock)) == TESORO_OK &&
        (rc = tesoro_config(t, TESORO_CONFIG_PWHASH_OPSLIMIT, 1)) == TESORO_OK)
      rc = tesoro_config(t, TESORO_CONFIG_PWHASH_MEMLIMIT, 8192);
  } else {
    tesoro_close(t);
  }
  return rc;
}

static int st_open_new(sc *s) {
  tesoro *t = NULL;
  int rc = tesoro_open(s->newpath, &t);
  tesoro_close(t);
  return rc;
}

static int st_close(sc *s) {
  int rc = tesoro_close(W->t);
  W->t = NULL;
  return rc;
}

static int st_config(sc *s) {
  return tesoro_config(T, TESORO_CONFIG_OUTBOX_BACKOFF_S, 60);
}

static int st_schema_text(sc *s) {
  char *out = NULL;
  int rc = tesoro_schema_text(&out);
  (void)s;
  tesoro_free(out);
  return rc;
}

static int st_machine_dot(sc *s) {
  char *out = NULL;
  int rc = tesoro_machine_diagram(TESORO_ENTITY_APPOINTMENT, TESORO_DIAGRAM_DOT, &out);
  (void)s;
  tesoro_free(out);
  return rc;
}

static int st_machine_mermaid(sc *s) {
  char *out = NULL;
  int rc = tesoro_machine_diagram(TESORO_ENTITY_REFERRAL,
                                  TESORO_DIAGRAM_MERMAID, &out);
  (void)s;
  tesoro_free(out);
  return rc;
}

static int st_privacy_map(sc *s) {
  char *out = NULL;
  int rc = tesoro_privacy_map(&out);
  (void)s;
  tesoro_free(out);
  return rc;
}

static int st_check(sc *s) { return tesoro_check(T); }

/* ---- agencies, staff, contacts ---- */
static int st_agency_create(sc *s) {
  int64_t a = 0, adm = 0;
  int rc = tesoro_agency_create(T, "Third Homes", "Europe/Paris", "EUR",
                                "Tina Third", "tina@third.test", &a, &adm);
  if (rc == TESORO_OK) {
    s->agency3 = a;
    s->admin3 = adm;
  }
  return rc;
}

static int st_agent_create(sc *s) {
  int64_t id = 0;
  int rc = tesoro_agent_create(T, s->admin3, "Tom Third", "tom@third.test",
                               TESORO_ROLE_AGENT, &id);
  if (rc == TESORO_OK) s->staff3 = id;
  return rc;
}

static int st_website_actor(sc *s) {
  int64_t id = 0;
  int rc = tesoro_agency_website_actor(T, s->admin3, s->agency3, &id);
  if (rc == TESORO_OK) s->website3 = id;
  return rc;
}

static int st_actor_info(sc *s) {
  int kind = 0;
  int rc = tesoro_actor_info(T, s->staff3, &kind, NULL, NULL);
  if (rc == TESORO_OK) s->staff3_kind = kind;
  return rc;
}

static int st_contact_create(sc *s) {
  int64_t id = 0;
  int rc = tesoro_contact_create(T, W->agent, "Bram Buyer", "bram@example.com",
                                 "+31 6 5555 0202", "nl", &id);
  if (rc == TESORO_OK) s->buyer = id;
  return rc;
}

static int st_contact_assign(sc *s) {
  return tesoro_contact_assign(T, W->agent, s->buyer, W->agent2, 0);
}

static int st_client_actor(sc *s) {
  int64_t id = 0;
  int rc = tesoro_contact_client_actor(T, W->agent, s->buyer, &id);
  if (rc == TESORO_OK) s->buyer_client = id;
  return rc;
}

/* ---- seller onboarding ---- */
static int st_request_submit(sc *s) {
  int64_t room = 0, owner = 0;
  int rc = tesoro_contact_request_submit(
      T, W->website, "Olivia Owner", "olivia@example.com",
      TESORO_PROPERTY_HOUSE, "Utrecht, Oudegracht", 65000000,
      "within 3 months", "Canal house, 4 floors", &room, &owner);
  if (rc == TESORO_OK) {
    s->room = room;
    s->owner = owner;
  }
  return rc;
}

static int st_owner_contact(sc *s) {
  int64_t contact = 0;
  int rc = tesoro_actor_info(T, s->owner, NULL, NULL, &contact);
  if (rc == TESORO_OK) s->owner_contact = contact;
  return rc;
}

static int st_message_post(sc *s) {
  int64_t id;
  return tesoro_room_message_post(T, s->owner, s->room,
                                  "When can you come by?", &id);
}

static int st_note_add(sc *s) {
  int64_t id;
  return tesoro_room_note_add(T, W->agent, s->room,
                              "Motivated seller; price realistic.", &id);
}

static int st_room_messages(sc *s) {
  tesoro_cursor *c = NULL;
  return drain(tesoro_room_messages(T, W->agent, s->room, &c), &c);
}

static int st_start_onboarding(sc *s) {
  int64_t m = 0;
  int rc = tesoro_room_start_onboarding(T, W->agent, s->room, 1, 0, &m);
  if (rc == TESORO_OK) s->mandate = m;
  return rc;
}

static int st_propose_agent(sc *s) {
  int64_t p = 0;
  int rc = tesoro_mandate_propose(T, W->agent, s->mandate,
                                  TESORO_COMMISSION_PERCENTAGE, 150, NULL, 1,
                                  180, 0, &p);
  if (rc == TESORO_OK) s->p1 = p;
  return rc;
}

static int st_propose_owner(sc *s) {
  int64_t p = 0;
  int rc = tesoro_mandate_propose(T, s->owner, s->mandate,
                                  TESORO_COMMISSION_PERCENTAGE, 125, NULL, 1,
                                  120, 0, &p);
  if (rc == TESORO_OK) s->p2 = p;
  return rc;
}

static int st_accept(sc *s) {
  char *json = NULL;
  int rc = tesoro_mandate_accept(T, W->agent, s->mandate, s->p2, 0, &json);
  tesoro_free(json);
  return rc;
}

static int st_proposals(sc *s) {
  tesoro_cursor *c = NULL;
  return drain(tesoro_mandate_proposals(T, W->agent, s->mandate, &c), &c);
}

static int st_share_form(sc *s) {
  return tesoro_mandate_share_form(T, W->agent, s->mandate, 0);
}

static int st_sign_mandate(sc *s) {
  int64_t d = 0;
  int rc = tesoro_document_add(T, s->owner, TESORO_ENTITY_MANDATE, s->mandate,
                               TESORO_DOC_SIGNED_MANDATE, "mandate-signed.pdf",
                               "application/pdf", tu_pdf,
                               (int64_t)tu_pdf_size, &d);
  if (rc == TESORO_OK) s->doc_mandate = d;
  return rc;
}

static const char seller_form[] =
    "{\"full_name\":\"Olivia Owner\",\"email\":\"olivia@example.com\","
    "\"phone\":\"+31 6 5555 0101\",\"address\":\"Oudegracht 12, Utrecht\","
    "\"property_type\":\"house\",\"title\":\"Canal house on the Oudegracht\","
    "\"price\":65000000,\"bedrooms\":4,\"bathrooms\":2,\"floor_area\":210,"
    "\"energy_label\":\"C\"}";

static int st_submit_form(sc *s) {
  return tesoro_mandate_submit_form(T, s->owner, s->mandate, seller_form, 0);
}

static int st_find_review(sc *s) {
  tesoro_cursor *c = NULL;
  return drain_find(tesoro_tasks(T, W->agent, TESORO_ENTITY_MANDATE,
                                 s->mandate, &c),
                    &c, "title", "review", &s->task);
}

static int st_task_cancel(sc *s) {
  return tesoro_task_cancel(T, W->agent, s->task, 0);
}

static int st_request_changes(sc *s) {
  return tesoro_mandate_request_changes(T, W->agent, s->mandate,
                                        "Please add the energy label", 0);
}

static int st_task_complete(sc *s) {
  return tesoro_task_complete(T, W->agent, s->task, 0);
}

static int st_validate(sc *s) {
  int64_t l = 0;
  int rc = tesoro_mandate_validate(T, W->agent, s->mandate, 0, &l);
  if (rc == TESORO_OK) s->listing = l;
  return rc;
}

static int st_listing_update(sc *s) {
  return tesoro_listing_update(
      T, W->agent, s->listing,
      "{\"description\":\"Four floors of light on the canal.\","
      "\"longitude\":5.1214,\"latitude\":52.0894}",
      0);
}

static int st_publish(sc *s) {
  return tesoro_listing_publish(T, W->agent, s->listing, 0);
}

static int st_unpublish(sc *s) {
  return tesoro_listing_unpublish(T, W->agent, s->listing, 0);
}

static int st_listing_photo(sc *s) {
  int64_t d = 0;
  int rc = tesoro_document_add(T, W->agent, TESORO_ENTITY_LISTING, s->listing,
                               TESORO_DOC_PHOTO, "front.jpg", "image/jpeg",
                               tu_jpeg, (int64_t)tu_jpeg_size, &d);
  if (rc == TESORO_OK) s->photo = d;
  return rc;
}

static int st_document_read(sc *s) {
  void *data = NULL;
  int64_t size = 0;
  int rc = tesoro_document_read(T, W->agent, s->photo, &data, &size);
  tesoro_free(data);
  return rc;
}

static int st_documents(sc *s) {
  tesoro_cursor *c = NULL;
  return drain(tesoro_documents(T, W->agent, TESORO_ENTITY_LISTING, s->listing,
                                &c),
               &c);
}

static int st_entity_json(sc *s) {
  char *json = NULL;
  int rc = tesoro_entity_json(T, W->agent, TESORO_ENTITY_LISTING, s->listing,
                              &json);
  tesoro_free(json);
  return rc;
}

static int st_entity_state(sc *s) {
  const char *state = NULL;
  int64_t version = 0;
  return tesoro_entity_state(T, W->agent, TESORO_ENTITY_MANDATE, s->mandate,
                             &state, &version);
}

static int st_history(sc *s) {
  tesoro_cursor *c = NULL;
  return drain(tesoro_history(T, W->agent, TESORO_ENTITY_LISTING, s->listing,
                              &c),
               &c);
}

static int st_allowed(sc *s) {
  tesoro_cursor *c = NULL;
  return drain(tesoro_allowed_events(T, W->agent, TESORO_ENTITY_MANDATE, s->mandate,
                              &c),
               &c);
}

static int st_activities_owner(sc *s) {
  tesoro_cursor *c = NULL;
  return drain(tesoro_activities(T, W->agent, s->owner_contact, &c), &c);
}

static int st_request_lost(sc *s) {
  int64_t room = 0;
  int rc = tesoro_contact_request_submit(
      T, W->website, "Lou Lost", "lou@example.com", TESORO_PROPERTY_APARTMENT,
      "Haarlem", 0, NULL, NULL, &room, NULL);
  if (rc == TESORO_OK) s->room2 = room;
  return rc;
}

static int st_mark_lost(sc *s) {
  return tesoro_room_mark_lost(T, W->agent, s->room2,
                               "Chose another agency", 0);
}

static int st_request_closed(sc *s) {
  int64_t room = 0;
  int rc = tesoro_contact_request_submit(
      T, W->website, "Cas Closed", "cas@example.com", TESORO_PROPERTY_OFFICE,
      "Leiden", 30000000, NULL, NULL, &room, NULL);
  if (rc == TESORO_OK) s->room3 = room;
  return rc;
}

static int st_start_onboarding3(sc *s) {
  int64_t m = 0;
  int rc = tesoro_room_start_onboarding(T, W->agent2, s->room3, 0, 0, &m);
  if (rc == TESORO_OK) s->mandate3 = m;
  return rc;
}

static int st_mandate_cancel(sc *s) {
  return tesoro_mandate_cancel(T, W->agent2, s->mandate3, "Owner withdrew", 0);
}

static int st_room_close(sc *s) {
  return tesoro_room_close(T, W->agent2, s->room3, "Withdrawn", 0);
}

/* ---- deals, the portal, viewings ---- */
static int st_deal_create(sc *s) {
  int64_t d = 0;
  int rc = tesoro_deal_create(T, W->agent, s->buyer, "Family house in Utrecht",
                              &d);
  if (rc == TESORO_OK) s->deal = d;
  return rc;
}

static int st_deal_offer(sc *s) {
  int64_t dp = 0;
  int rc = tesoro_deal_offer(T, W->agent, s->deal, s->listing, &dp);
  if (rc == TESORO_OK) s->dp = dp;
  return rc;
}

static int st_deal_properties(sc *s) {
  tesoro_cursor *c = NULL;
  return drain(tesoro_deal_properties(T, W->agent, s->deal, &c), &c);
}

static int st_account_create(sc *s) {
  int64_t a = 0;
  char *pw = NULL;
  int rc = tesoro_portal_account_create(T, W->agent, s->buyer, &a, &pw);
  if (rc == TESORO_OK) {
    s->account = a;
    snprintf(s->temp_pw, sizeof s->temp_pw, "%s", pw);
  }
  tesoro_free(pw);
  return rc;
}

static int st_account_of(sc *s) {
  int64_t a = 0;
  return tesoro_contact_portal_account(T, W->agent, s->buyer, &a);
}

static int st_login_temp(sc *s) {
  int64_t client = 0;
  int step = 0;
  return tesoro_portal_login(T, W->website, "bram@example.com", s->temp_pw,
                             &client, &step);
}

static int st_portal_step(sc *s) {
  int step = 0;
  return tesoro_portal_step(T, s->buyer_client, &step);
}

static int st_password_change(sc *s) {
  return tesoro_portal_password_change(T, s->buyer_client, s->temp_pw, pw_new);
}

static int st_login_new(sc *s) {
  int64_t client = 0;
  int step = 0;
  return tesoro_portal_login(T, W->website, "bram@example.com", pw_new,
                             &client, &step);
}

static int st_welcome_done(sc *s) {
  return tesoro_portal_welcome_finish(T, s->buyer_client);
}
static int st_tour_done(sc *s) {
  return tesoro_portal_tour_finish(T, s->buyer_client);
}
static int st_tour_restart(sc *s) {
  return tesoro_portal_tour_restart(T, s->buyer_client);
}
static int st_tour_skip(sc *s) {
  return tesoro_portal_tour_skip(T, s->buyer_client);
}

static int st_language(sc *s) {
  const char *lang = NULL;
  return tesoro_portal_language(T, s->buyer_client, &lang);
}

static int st_language_set(sc *s) {
  return tesoro_portal_set_language(T, s->buyer_client, "en");
}

static int st_home(sc *s) {
  int64_t a, b, c, d;
  return tesoro_portal_home(T, s->buyer_client, &a, &b, &c, &d);
}

static int st_portal_properties(sc *s) {
  tesoro_cursor *c = NULL;
  return drain(tesoro_portal_properties(T, s->buyer_client, TESORO_FEED_ALL,
                                        &c),
               &c);
}

static int st_portal_property(sc *s) {
  char *json = NULL;
  int rc = tesoro_portal_property(T, s->buyer_client, s->listing, &json);
  tesoro_free(json);
  return rc;
}

/* 45 minutes: the viewings requested below take it (ap4 has ended before
** the tick that completes it). */
static int st_viewing_duration(sc *s) {
  return tesoro_agency_set_viewing_duration(T, W->admin, 2700);
}

static int st_not_interested(sc *s) {
  return tesoro_deal_property_not_interested(
      T, s->buyer_client, s->dp, TESORO_REJECT_PRICE | TESORO_REJECT_LOCATION,
      "Too dear for a canal house", 0);
}

static int st_interested(sc *s) {
  return tesoro_deal_property_interested(T, s->buyer_client, s->dp, 0);
}

static int st_favourite(sc *s) {
  return tesoro_deal_property_favourite(T, s->buyer_client, s->dp, 1, 0);
}

static int request_viewing(sc *s, const int64_t *when, int n, int64_t *out) {
  int64_t a = 0;
  int rc = tesoro_appointment_request(T, s->buyer_client, s->dp, when, n, &a);
  if (rc == TESORO_OK) *out = a;
  return rc;
}

static int st_request1(sc *s) {
  const int64_t when[] = {V1, V2};
  return request_viewing(s, when, 2, &s->ap1);
}
static int st_request2(sc *s) {
  const int64_t when[] = {V2 + 3600};
  return request_viewing(s, when, 1, &s->ap2);
}
static int st_request3(sc *s) {
  const int64_t when[] = {V2 + 7200, V2 + 86400};
  return request_viewing(s, when, 2, &s->ap3);
}
static int st_request4(sc *s) {
  const int64_t when[] = {V2 + 10800};
  return request_viewing(s, when, 1, &s->ap4);
}

static int st_appointments_client(sc *s) {
  tesoro_cursor *c = NULL;
  return drain(tesoro_client_appointments(T, s->buyer_client,
                                          TESORO_LIST_UNCONFIRMED, &c),
               &c);
}

static int st_confirm1(sc *s) {
  return tesoro_appointment_confirm(T, W->agent, s->ap1, V1, 0, 0);
}
static int st_reschedule1(sc *s) {
  return tesoro_appointment_reschedule(T, W->agent, s->ap1, V1 + 3600, 0, 0);
}
static int st_reject2(sc *s) {
  return tesoro_appointment_reject(T, W->agent, s->ap2, "Not available", 0);
}
static int st_cancel3(sc *s) {
  return tesoro_appointment_cancel(T, s->buyer_client, s->ap3, NULL, 0);
}
static int st_confirm4(sc *s) {
  return tesoro_appointment_confirm(T, W->agent2, s->ap4, V2 + 10800, 0, 0);
}

static int st_appointments_agent(sc *s) {
  tesoro_cursor *c = NULL;
  return drain(tesoro_agent_appointments(T, W->agent, W->agent2, 0, 0, 0, &c),
               &c);
}

static int st_ics(sc *s) {
  char *ics = NULL;
  int rc = tesoro_appointment_ics(T, s->buyer_client, s->ap1,
                                  "https://tesoro.example/l/TES-00001", &ics);
  tesoro_free(ics);
  return rc;
}

static int tick_at(sc *s, int64_t now) {
  int fired = 0;
  return tesoro_tick(T, now, &fired);
}

static int st_tick_reminder(sc *s) { return tick_at(s, V1 + 3600 - 86400); }

static int clock_to(sc *s, int64_t now) {
  int rc = tesoro_clock_set(T, now);
  if (rc == TESORO_OK) s->clock = now;
  return rc;
}

static int st_clock_viewing(sc *s) { return clock_to(s, V1 + 3600 - 300); }

static int st_start_viewing(sc *s) {
  return tesoro_appointment_start_viewing(T, s->buyer_client, s->ap1, 0);
}
static int st_rate(sc *s) {
  return tesoro_appointment_rate(T, s->buyer_client, s->ap1, 4, 0);
}
static int st_appointment_note(sc *s) {
  int64_t id;
  return tesoro_appointment_note_add(T, s->buyer_client, s->ap1,
                                     "Lovely light; the kitchen needs work.",
                                     &id);
}
static int st_appointment_notes(sc *s) {
  tesoro_cursor *c = NULL;
  return drain(tesoro_appointment_notes(T, W->agent, s->ap1, &c), &c);
}
static int st_viewing_photo(sc *s) {
  int64_t d;
  return tesoro_document_add(T, s->buyer_client, TESORO_ENTITY_APPOINTMENT,
                             s->ap1, TESORO_DOC_PHOTO, "kitchen.png",
                             "image/png", tu_png, (int64_t)tu_png_size, &d);
}
static int st_approve(sc *s) {
  return tesoro_deal_property_approve(T, s->buyer_client, s->dp, 0);
}
static int st_contact_agent(sc *s) {
  return tesoro_portal_contact_agent(T, s->buyer_client, s->dp,
                                     "Could we get a quote for the kitchen?",
                                     NULL);
}
static int st_tick_complete(sc *s) { return tick_at(s, V2 + 10800 + 3601); }
static int st_clock_no_show(sc *s) { return clock_to(s, V2 + 10800 + 7200); }
static int st_no_show(sc *s) {
  return tesoro_appointment_record_no_show(T, W->agent2, s->ap4,
                                           "Did not come", 0);
}
static int st_activities_buyer(sc *s) {
  tesoro_cursor *c = NULL;
  return drain(tesoro_activities(T, W->agent, s->buyer, &c), &c);
}

static int st_register(sc *s) {
  int64_t a = 0;
  char *code = NULL;
  int rc = tesoro_portal_register(T, W->website, "Rosa Registered",
                                  "rosa@example.com", pw_rosa, &a, &code);
  if (rc == TESORO_OK) {
    s->account2 = a;
    snprintf(s->code, sizeof s->code, "%s", code);
  }
  tesoro_free(code);
  return rc;
}

static int st_verify(sc *s) {
  int64_t client = 0;
  int rc = tesoro_portal_verify(T, W->website, "rosa@example.com", s->code,
                                &client);
  if (rc == TESORO_OK) s->rosa_client = client;
  return rc;
}

/* ---- portal sessions, password reset, deactivation, invitation (Rosa) ---- */
static const char pw_rosa2[] = "Tulpen#2027y";

static int st_rosa_contact(sc *s) {
  int64_t contact = 0;
  int rc = tesoro_actor_info(T, s->rosa_client, NULL, NULL, &contact);
  if (rc == TESORO_OK) s->rosa_contact = contact;
  return rc;
}

static int session_open(sc *s, const char *password) {
  char *token = NULL;
  int64_t client = 0;
  int step = 0;
  int rc = tesoro_portal_session_open(T, W->website, "rosa@example.com",
                                      password, &token, &client, &step);
  if (rc == TESORO_OK) snprintf(s->token, sizeof s->token, "%s", token);
  tesoro_free(token);
  return rc;
}
static int st_session_open(sc *s) { return session_open(s, pw_rosa); }
static int st_session_open2(sc *s) { return session_open(s, pw_rosa2); }

/* Two minutes after the no-show clock: the next use of the session notes
** itself (a write, at most once a minute). */
static int st_clock_session(sc *s) { return clock_to(s, V2 + 10800 + 7200 + 120); }

static int st_session_client(sc *s) {
  int64_t client = 0;
  return tesoro_portal_session_client(T, W->website, s->token, &client);
}

static int st_session_end(sc *s) {
  return tesoro_portal_session_end(T, W->website, s->token);
}

static int st_reset_request(sc *s) {
  return tesoro_portal_reset_request(T, W->website, "rosa@example.com");
}

static int st_reset(sc *s) {
  int64_t client = 0;
  return tesoro_portal_reset(T, W->website, "rosa@example.com",
                             s->reset_secret, pw_rosa2, &client);
}

/* (ends the session of st_session_open2) */
static int st_deactivate(sc *s) {
  return tesoro_portal_account_deactivate(T, W->agent, s->rosa_contact);
}

/* (the deactivated account is active again, back in set_password) */
static int st_invitation_resend(sc *s) {
  char *pw = NULL;
  int rc = tesoro_portal_invitation_resend(T, W->agent, s->rosa_contact, &pw);
  if (rc == TESORO_OK) snprintf(s->temp_pw2, sizeof s->temp_pw2, "%s", pw);
  tesoro_free(pw);
  return rc;
}

static int st_deal_close(sc *s) {
  return tesoro_deal_close(T, W->agent, s->deal, "Bought elsewhere", 0);
}

/* ---- referrals ---- */
static int st_referral_fee(sc *s) {
  return tesoro_agency_set_referral_fee(T, W->admin, 250);
}

static int st_contact_rita(sc *s) {
  int64_t id = 0;
  int rc = tesoro_contact_create(T, W->agent, "Rita Referred",
                                 "rita@example.com", NULL, "en", &id);
  if (rc == TESORO_OK) s->rita = id;
  return rc;
}

static int st_referral_create(sc *s) {
  int64_t id = 0;
  int rc = tesoro_referral_create(T, W->agent, s->rita, 0, &id);
  if (rc == TESORO_OK) s->referral = id;
  return rc;
}

static int move(sc *s, int64_t actor, int stage, const char *data) {
  return tesoro_referral_move(T, actor, s->referral, stage, data, 0);
}
static int st_connected(sc *s) {
  return move(s, W->agent, TESORO_STAGE_CONNECTED, NULL);
}
static int st_meeting(sc *s) {
  return move(s, W->agent, TESORO_STAGE_MEETING_SCHEDULED,
              "{\"meeting_at\":1780570800}");
}
static int st_met(sc *s) {
  return move(s, W->agent, TESORO_STAGE_MET_WITH_PERSON, NULL);
}
static int st_referral_note(sc *s) {
  int64_t id;
  return tesoro_referral_note_add(T, W->agent, s->referral,
                                  "Rita called back; still comparing.", &id);
}
static int st_failed(sc *s) {
  return move(s, W->agent, TESORO_STAGE_FAILED,
              "{\"reason\":\"No answer for three weeks\"}");
}
static int st_coming_soon(sc *s) {
  return move(s, W->agent, TESORO_STAGE_COMING_SOON,
              "{\"list_date\":\"2026-06-20\"}");
}
static int st_tick_list_date(sc *s) { return tick_at(s, LIST_DAY); }
static int st_clock_escrow(sc *s) { return clock_to(s, LIST_DAY + 3600); }
static int st_escrow(sc *s) {
  return move(s, W->agent, TESORO_STAGE_IN_ESCROW,
              "{\"sale_price\":48500000,\"close_date\":\"2026-07-15\"}");
}
static int st_closed(sc *s) {
  return move(s, W->agent, TESORO_STAGE_CLOSED, NULL);
}
static int st_closed_paid(sc *s) {
  return move(s, W->closings, TESORO_STAGE_CLOSED_PAID,
              "{\"paid_amount\":1212500}");
}
static int st_referral_notes(sc *s) {
  tesoro_cursor *c = NULL;
  return drain(tesoro_referral_notes(T, W->agent, s->referral, &c), &c);
}
static int st_referrals(sc *s) {
  tesoro_cursor *c = NULL;
  return drain(tesoro_referrals(T, W->agent, TESORO_REFERRALS_ALL, 0, 0, &c),
               &c);
}
static int st_pipeline(sc *s) {
  tesoro_cursor *c = NULL;
  return drain(tesoro_referral_pipeline(T, W->agent, 0, &c), &c);
}

/* ---- the website exchange ---- */
static int st_ingest_customer(sc *s) {
  char *out = NULL;
  int rc = tesoro_exchange_ingest(
      T, W->website,
      "{\"source_id\":\"hf-9001\",\"type\":\"customer\",\"customer\":"
      "\"hf-c1\",\"at\":1780100000,\"name\":\"Sanne de Vries\",\"email\":"
      "\"sanne@example.com\",\"phone\":\"+31 6 4444 0303\"}",
      &out);
  tesoro_free(out);
  return rc;
}

static int st_ingest_batch(sc *s) {
  char batch[4096], *out = NULL;
  int failed = 0, rc;
  snprintf(
      batch, sizeof batch,
      "[{\"source_id\":\"hf-9002\",\"type\":\"visit\",\"customer\":\"hf-c1\","
      "\"at\":1780100100,\"visits\":3},"
      "{\"source_id\":\"hf-9003\",\"type\":\"property_view\",\"customer\":"
      "\"hf-c1\",\"at\":1780100200,\"listing\":\"%s\"},"
      "{\"source_id\":\"hf-9004\",\"type\":\"property_save\",\"customer\":"
      "\"hf-c1\",\"at\":1780100300,\"listing\":\"%s\",\"saved\":true},"
      "{\"source_id\":\"hf-9005\",\"type\":\"saved_search\",\"customer\":"
      "\"hf-c1\",\"at\":1780100400,\"search_id\":\"s-1\",\"alert\":true,"
      "\"max_price\":70000000,\"area\":{\"name\":\"Utrecht binnenstad\","
      "\"polygon\":{\"type\":\"Polygon\",\"coordinates\":[[[5.10,52.08],"
      "[5.13,52.08],[5.13,52.10],[5.10,52.10],[5.10,52.08]]]}}},"
      "{\"source_id\":\"hf-9006\",\"type\":\"implied_search\",\"customer\":"
      "\"hf-c1\",\"at\":1780100500,\"search_id\":\"s-2\",\"area\":{\"name\":"
      "\"Near the Dom\",\"centre\":{\"type\":\"Point\",\"coordinates\":"
      "[5.1213,52.0907]},\"radius\":1500}},"
      "{\"source_id\":\"hf-9007\",\"type\":\"enquiry\",\"customer\":\"hf-c1\","
      "\"at\":1780100600,\"enquiry_type\":\"viewing\",\"listing\":\"%s\","
      "\"message\":\"Can I see it on Saturday?\"},"
      "{\"source_id\":\"hf-9008\",\"type\":\"property_rank\",\"customer\":"
      "\"hf-c1\",\"at\":1780100700,\"listing\":\"%s\",\"rank\":6},"
      "{\"source_id\":\"hf-9009\",\"type\":\"visit\",\"customer\":\"hf-c2\","
      "\"at\":1780050000,\"visits\":1},"
      "{\"source_id\":\"hf-9010\",\"type\":\"consent\",\"customer\":\"hf-c1\","
      "\"at\":1780100800,\"consent\":\"granted\",\"statement\":\"Yes, "
      "e-mail me new homes\"}]",
      s->ref, s->ref, s->ref, s->ref);
  rc = tesoro_exchange_ingest_batch(T, W->website, batch, &failed, &out);
  tesoro_free(out);
  return rc;
}

static int st_prospects(sc *s) {
  tesoro_cursor *c = NULL;
  return drain(tesoro_prospects(T, W->agent, &c), &c);
}

static int st_find_c1(sc *s) {
  int64_t id = 0;
  int rc = tesoro_customer_find(T, W->agent, "hf-c1", &id);
  if (rc == TESORO_OK) s->cust1 = id;
  return rc;
}

static int st_find_c2(sc *s) {
  int64_t id = 0;
  int rc = tesoro_customer_find(T, W->agent, "hf-c2", &id);
  if (rc == TESORO_OK) s->cust2 = id;
  return rc;
}

static int st_prospect_approve(sc *s) {
  int64_t contact = 0;
  int rc = tesoro_prospect_approve(T, W->agent, s->cust1, 0, 0, &contact);
  if (rc == TESORO_OK) s->sanne = contact;
  return rc;
}

static int st_prospect_discard(sc *s) {
  return tesoro_prospect_discard(T, W->agent, s->cust2, "A bot", 0);
}

static int st_customer_searches(sc *s) {
  tesoro_cursor *c = NULL;
  return drain(tesoro_customer_searches(T, W->agent, s->cust1, &c), &c);
}
static int st_customer_properties(sc *s) {
  tesoro_cursor *c = NULL;
  return drain(tesoro_customer_properties(T, W->agent, s->cust1, &c), &c);
}
static int st_customer_enquiries(sc *s) {
  tesoro_cursor *c = NULL;
  return drain(tesoro_customer_enquiries(T, W->agent, s->cust1, &c), &c);
}
static int st_contact_customer(sc *s) {
  int64_t id = 0;
  return tesoro_contact_customer(T, W->agent, s->sanne, &id);
}

static int st_search_save(sc *s) {
  int64_t id = 0;
  int rc = tesoro_search_save(
      T, W->agent, s->sanne, 0,
      "{\"min_price\":40000000,\"max_price\":80000000,\"property_types\":"
      "[\"house\"],\"min_bedrooms\":3,\"area\":{\"name\":\"Utrecht\","
      "\"centre\":{\"type\":\"Point\",\"coordinates\":[5.12,52.09]},"
      "\"radius\":5000}}",
      1, &id);
  if (rc == TESORO_OK) s->search = id;
  return rc;
}

static int st_search_delete(sc *s) {
  return tesoro_search_delete(T, W->agent, s->search, 0);
}

static int st_interest(sc *s) {
  return tesoro_interest_register(T, W->agent, s->sanne, s->listing);
}

static int st_group(sc *s) {
  return tesoro_contact_set_group(T, W->agent, s->sanne, "family-1");
}

static int st_ingest_claim(sc *s) {
  char *out = NULL;
  int64_t claim;
  int rc = tesoro_exchange_ingest(
      T, W->website,
      tu_fmt("{\"source_id\":\"hf-9020\",\"type\":\"vendor_claim\","
             "\"customer\":\"hf-c1\",\"at\":1780200000,\"listing\":\"%s\","
             "\"note\":\"My mother's house\"}",
             s->ref),
      &out);
  claim = json_int(out, "entity_id");
  if (rc == TESORO_OK) s->claim = claim;
  tesoro_free(out);
  return rc;
}

static int st_claim_reject(sc *s) {
  return tesoro_vendor_claim_reject(T, W->agent, s->claim, "Not the owner", 0);
}

static int st_vendor_confirm(sc *s) {
  return tesoro_vendor_confirm(T, W->agent, s->owner_contact, s->listing,
                               "vendor");
}

static int st_call_list(sc *s) {
  tesoro_cursor *c = NULL;
  return drain(tesoro_call_list(T, W->agent, 10, &c), &c);
}

static int st_matches(sc *s) {
  tesoro_cursor *c = NULL;
  return drain(tesoro_matches(T, W->agent, s->cust1, &c), &c);
}

/* ---- privacy ---- */
static int st_consent_staff(sc *s) {
  return tesoro_contact_set_consent(T, W->agent, s->buyer,
                                    TESORO_CONSENT_GRANTED,
                                    "Send me new listings by e-mail", 0);
}
static int st_consent_client(sc *s) {
  return tesoro_contact_set_consent(T, s->buyer_client, s->buyer,
                                    TESORO_CONSENT_DENIED, NULL, 0);
}
/* Corrections (GDPR rectification): the buyer's phone by staff, his
** language by himself.  (No field cleared with null yet: with one, an
** allocation fault leaves the "details" column of CONTACT_CORRECT_DETAILS
** NULL and tesoro_contact_update passes it to tesoro__copy, which crashes
** in strlen — to add once tesoro.c checks that column.) */
static int st_update_staff(sc *s) {
  return tesoro_contact_update(T, W->agent, s->buyer,
                               "{\"phone\":\"+31 6 5555 0303\"}", 0);
}
static int st_update_client(sc *s) {
  return tesoro_contact_update(T, s->buyer_client, s->buyer,
                               "{\"language\":\"en\"}", 0);
}

/* The code of the newest "Portal E-mail Verification" delivery, read the
** way the host reads it: tesoro_outbox_fetch, the payload's "secret". */
static int email_code_fetch(sc *s) {
  tesoro_cursor *c = NULL;
  int rc = tesoro_outbox_fetch(T, 0, 10000, &c);
  s->email_code[0] = 0;
  if (rc != TESORO_OK) {
    tesoro_cursor_free(c);
    return rc;
  }
  for (;;) {
    int r = tesoro_cursor_next(c), ti, pi;
    const char *tpl, *payload, *p;
    if (r == TESORO_DONE) break;
    if (r != TESORO_ROW) {
      rc = r;
      break;
    }
    ti = tesoro_cursor_index(c, "template");
    pi = tesoro_cursor_index(c, "payload");
    tpl = ti >= 0 ? tesoro_cursor_text(c, ti) : NULL;
    payload = pi >= 0 ? tesoro_cursor_text(c, pi) : NULL;
    if (tpl && strcmp(tpl, "Portal E-mail Verification") == 0 && payload &&
        (p = strstr(payload, "\"secret\":\"")) != NULL)
      snprintf(s->email_code, sizeof s->email_code, "%.*s",
               TESORO_PORTAL_CODE_DIGITS, p + 10);
  }
  tesoro_cursor_free(c);
  if (rc == TESORO_OK && strlen(s->email_code) != TESORO_PORTAL_CODE_DIGITS)
    rc = TESORO_ENOTFOUND; /* not a fault's answer: the sweep reports it */
  return rc;
}

/*
** The buyer's e-mail corrected, and his portal login switched with the code
** sent to the new address — in one host transaction.  Not two steps with
** the code read between them: while a new e-mail waits, tesoro_check fails
** ("a portal account is verified exactly when it has a contact, and a code
** only before" does not know email_pending), and the walk checks the file
** after every step.  Inside one transaction every fault still meets each
** call (the correction, the outbox fetch, the verification), and what is
** committed passes the checker.
*/
static int st_email_change(sc *s) {
  int rc = tesoro_begin(T);
  if (rc) return rc;
  if ((rc = tesoro_contact_update(T, W->agent, s->buyer,
                                  "{\"email\":\"bram.buyer@example.net\"}",
                                  0)) == TESORO_OK &&
      (rc = email_code_fetch(s)) == TESORO_OK &&
      (rc = tesoro_portal_email_verify(T, s->buyer_client, s->email_code)) ==
          TESORO_OK &&
      (rc = tesoro_commit(T)) == TESORO_OK)
    return TESORO_OK;
  {
    /* the host gives up (EMISUSE when the failing call ended it) */
    int rrc = tesoro_rollback(T);
    if (rrc != TESORO_OK && rrc != TESORO_EMISUSE) rc = rrc;
  }
  return rc;
}

/* The buyer's portal login is the new e-mail now, the old one is not. */
static int st_login_new_email(sc *s) {
  int64_t client = 0;
  int step = 0;
  int rc = tesoro_portal_login(T, W->website, "bram.buyer@example.net", pw_new,
                               &client, &step);
  if (rc == TESORO_OK) assert_int_equal(client, s->buyer_client);
  return rc;
}
static int st_export_staff(sc *s) {
  char *json = NULL;
  int rc = tesoro_contact_export(T, W->agent, s->owner_contact,
                                 TESORO_EXPORT_DOCUMENT_BYTES, &json);
  tesoro_free(json);
  return rc;
}
static int st_export_client(sc *s) {
  char *json = NULL;
  int rc = tesoro_contact_export(T, s->buyer_client, s->buyer, 0, &json);
  tesoro_free(json);
  return rc;
}
static int st_erase(sc *s) {
  return tesoro_contact_erase(T, W->admin, s->rita,
                              "Asked to be forgotten (GDPR art. 17)");
}

/* ---- calendar feeds, notification preferences ---- */
static int st_calendar_feed_agent(sc *s) {
  char *ics = NULL;
  int rc = tesoro_calendar_feed(T, W->admin, W->agent2, &ics);
  tesoro_free(ics);
  return rc;
}
static int st_calendar_feed_client(sc *s) {
  char *ics = NULL;
  int rc = tesoro_calendar_feed(T, s->buyer_client, s->buyer_client, &ics);
  tesoro_free(ics);
  return rc;
}
static int st_notification_client(sc *s) {
  return tesoro_notification_set(T, s->buyer_client, s->buyer_client,
                                 TESORO_CHANNEL_PUSH, 0);
}
static int st_notification_staff(sc *s) {
  return tesoro_notification_set(T, W->admin, W->agent2,
                                 TESORO_CHANNEL_CALENDAR, 0);
}
static int st_notification_channels(sc *s) {
  int channels = 0;
  return tesoro_notification_channels(T, W->agent2, W->agent2, &channels);
}
static int st_set_push(sc *s) { return tesoro_agency_set_push(T, W->admin, 0); }
static int st_set_calendar(sc *s) {
  return tesoro_agency_set_calendar(T, W->admin, 0);
}

/* ---- outbox, stats, timers ---- */
static int st_outbox_fetch(sc *s) {
  tesoro_cursor *c = NULL;
  int64_t first = 0, second = 0;
  int rc = tesoro_outbox_fetch(T, 0, 100, &c);
  if (rc == TESORO_OK) {
    for (;;) {
      int r = tesoro_cursor_next(c);
      if (r == TESORO_DONE) break;
      if (r != TESORO_ROW) {
        rc = r;
        break;
      }
      if (first == 0) first = tesoro_cursor_int(c, 0);
      else if (second == 0) second = tesoro_cursor_int(c, 0);
    }
  }
  tesoro_cursor_free(c);
  if (rc == TESORO_OK) {
    s->outbox1 = first;
    s->outbox2 = second;
  }
  return rc;
}
static int st_outbox_ack(sc *s) { return tesoro_outbox_ack(T, s->outbox1); }
static int st_outbox_fail(sc *s) {
  return tesoro_outbox_fail(T, s->outbox2, "smtp: connection refused");
}
static int st_stats(sc *s) {
  tesoro_cursor *c = NULL;
  return drain(tesoro_stats(T, 0, &c), &c);
}
static int st_tick_idle(sc *s) { return tick_at(s, s->clock); }

/* Import and export (the agency format): a contact, a listing under its
** signed mandate and a confirmed viewing, as one transaction. */
static int st_import(sc *s) {
  static const char pdf64[] = "JVBERi0xLjQKMSAwIG9iaiA8PD4+IGVuZG9iagp0cmFpbGVyIDw8Pj4KJSVFT0YK";
  char path[600], *report = NULL;
  FILE *f;
  int rc;
  snprintf(path, sizeof path, "%s/import.jsonl", W->dir);
  if ((f = fopen(path, "wb")) == NULL) return TESORO_EDB;
  fprintf(f,
          "{\"type\":\"header\",\"format\":\"tesoro-agency-1\"}\n"
          "{\"type\":\"contact\",\"external_id\":\"c1\",\"name\":\"Ines "
          "Imported\",\"email\":\"ines@example.org\",\"phone\":\"+31 6 1\"}\n"
          "{\"type\":\"listing\",\"external_id\":\"l1\",\"seller\":\"c1\","
          "\"state\":\"published\",\"commission_type\":\"percentage\","
          "\"commission_value\":150,\"exclusive\":true,\"duration_days\":90,"
          "\"fields\":{\"address\":\"Damrak 9, Amsterdam\",\"property_type\":"
          "\"house\",\"price\":30000000},\"signed_mandate\":\"%s\"}\n"
          "{\"type\":\"appointment\",\"external_id\":\"v1\",\"contact\":"
          "\"c1\",\"listing\":\"l1\",\"state\":\"confirmed\",\"preferred\":"
          "[%lld],\"start_at\":%lld}\n",
          pdf64, (long long)s->clock + 7 * 86400,
          (long long)s->clock + 7 * 86400);
  if (fclose(f) != 0) return TESORO_EDB;
  rc = tesoro_agency_import(T, W->admin, path, &report);
  tesoro_free(report);
  return rc;
}
static int st_export(sc *s) {
  char path[600];
  snprintf(path, sizeof path, "%s/export.jsonl", W->dir);
  return tesoro_agency_export(T, W->admin, path, NULL);
}

/* ---- host transactions ---- */
static int st_host_commit(sc *s) {
  int64_t id;
  int rc = tesoro_begin(T);
  if (rc) return rc;
  /* (Rita's referral is frozen by now: her contact was erased.) */
  if ((rc = tesoro_appointment_note_add(T, s->buyer_client, s->ap1,
                                        "In one go (1)", &id)) == TESORO_OK &&
      (rc = tesoro_appointment_note_add(T, s->buyer_client, s->ap1,
                                        "In one go (2)", &id)) == TESORO_OK &&
      (rc = tesoro_commit(T)) == TESORO_OK)
    return TESORO_OK;
  if (rc != TESORO_OK && tesoro_errcode(T) == rc) {
    /* the host gives up: roll the rest back (may report EMISUSE when the
    ** failing call already ended the transaction) */
    int rrc = tesoro_rollback(T);
    if (rrc != TESORO_OK && rrc != TESORO_EMISUSE) rc = rrc;
  }
  return rc;
}

static int st_host_rollback(sc *s) {
  int64_t id;
  int rc = tesoro_begin(T);
  if (rc) return rc;
  rc = tesoro_appointment_note_add(T, s->buyer_client, s->ap1, "Never kept",
                                   &id);
  {
    int rrc = tesoro_rollback(T);
    if (rc == TESORO_OK) rc = rrc;
  }
  return rc;
}

/* ---- glue run once, without faults ---- */
static int st_glue_ref(sc *s) {
  char *ref = tu_sqlf_text(W, "SELECT ref FROM listing WHERE id = %lld",
                           (long long)s->listing);
  assert_non_null(ref);
  snprintf(s->ref, sizeof s->ref, "%s", ref);
  free(ref);
  return TESORO_OK;
}

/* The secret the last reset request queued, as the host reads it from the
** outbox row it delivers. */
static int st_glue_reset_secret(sc *s) {
  char *secret = tu_sql_text(W, "SELECT json_extract(payload, '$.secret') FROM "
                                "outbox WHERE template = 'Portal Password "
                                "Reset' ORDER BY id DESC LIMIT 1");
  assert_non_null(secret);
  assert_int_equal(strlen(secret), TESORO_PORTAL_RESET_LEN);
  snprintf(s->reset_secret, sizeof s->reset_secret, "%s", secret);
  free(secret);
  return TESORO_OK;
}

/* =========================================================================
** The step table.
*/
#define F_GLUE 1     /* not swept: run once without faults */
#define F_NOWARM 2   /* no warm-up in a host transaction (it is one) */
#define F_HANDLE 4   /* closes or opens the handle itself */
#define F_SELF 8     /* works on its own file or on nothing: no db checks */
#define F_SPARSE 16  /* thousands of allocations (opening a file, the
                        checker, the export and erasure, whose SQL is
                        generated): every N up to 32, then N grows by
                        1 + N/32 */
#define F_SPARSER 32 /* creating a file (~50 ms a run, and as much to check
                        what a failure left): N grows by 1 + N/2, and only
                        the allocation, write, any-I/O and disk-full kinds */
#define F_CKPT 128   /* checkpoints the WAL: swept under TESORO_LIGHT too,
                        where the sync and truncate faults fire */

typedef struct step {
  const char *name;
  int (*fn)(sc *);
  int flags;
  int entity;          /* entity whose state must stay put on failure */
  int64_t *id;
} step;

#define STEP(name, fn, flags, ent, id) {name, fn, flags, ent, id}
#define E_ROOM TESORO_ENTITY_ROOM
#define E_MANDATE TESORO_ENTITY_MANDATE
#define E_LISTING TESORO_ENTITY_LISTING
#define E_TASK TESORO_ENTITY_TASK
#define E_DEAL TESORO_ENTITY_DEAL
#define E_DP TESORO_ENTITY_DEAL_PROPERTY
#define E_APPT TESORO_ENTITY_APPOINTMENT
#define E_REF TESORO_ENTITY_REFERRAL
#define E_ACCOUNT TESORO_ENTITY_PORTAL_ACCOUNT
#define E_CUST TESORO_ENTITY_WEB_CUSTOMER
#define E_SEARCH TESORO_ENTITY_SEARCH
#define E_CLAIM TESORO_ENTITY_VENDOR_CLAIM
#define E_CONTACT TESORO_ENTITY_CONTACT

static const step steps[] = {
    STEP("tesoro_open (existing file)", st_open_existing, F_HANDLE | F_NOWARM | F_SPARSE, 0, NULL),
    STEP("tesoro_open (new file)", st_open_new, F_SELF | F_NOWARM | F_SPARSER, 0, NULL),
    STEP("tesoro_config", st_config, 0, 0, NULL),
    STEP("tesoro_schema_text", st_schema_text, F_SELF, 0, NULL),
    STEP("tesoro_machine_diagram (dot)", st_machine_dot, F_SELF, 0, NULL),
    STEP("tesoro_machine_diagram (mermaid)", st_machine_mermaid, F_SELF, 0, NULL),
    STEP("tesoro_privacy_map", st_privacy_map, F_SELF, 0, NULL),
    STEP("tesoro_agency_create", st_agency_create, 0, 0, NULL),
    STEP("tesoro_agent_create", st_agent_create, 0, 0, NULL),
    STEP("tesoro_agency_website_actor", st_website_actor, 0, 0, NULL),
    STEP("tesoro_actor_info", st_actor_info, 0, 0, NULL),
    STEP("tesoro_contact_create", st_contact_create, 0, 0, NULL),
    STEP("tesoro_contact_assign", st_contact_assign, 0, E_CONTACT, &S.buyer),
    STEP("tesoro_contact_client_actor", st_client_actor, 0, 0, NULL),
    /* seller onboarding */
    STEP("tesoro_contact_request_submit", st_request_submit, 0, 0, NULL),
    STEP("tesoro_actor_info (owner)", st_owner_contact, 0, 0, NULL),
    STEP("tesoro_room_message_post", st_message_post, 0, E_ROOM, &S.room),
    STEP("tesoro_room_note_add", st_note_add, 0, E_ROOM, &S.room),
    STEP("tesoro_room_messages", st_room_messages, 0, E_ROOM, &S.room),
    STEP("tesoro_room_start_onboarding", st_start_onboarding, 0, E_ROOM, &S.room),
    STEP("tesoro_mandate_propose (agent)", st_propose_agent, 0, E_MANDATE, &S.mandate),
    STEP("tesoro_mandate_propose (owner)", st_propose_owner, 0, E_MANDATE, &S.mandate),
    STEP("tesoro_mandate_accept", st_accept, 0, E_MANDATE, &S.mandate),
    STEP("tesoro_mandate_proposals", st_proposals, 0, E_MANDATE, &S.mandate),
    STEP("tesoro_mandate_share_form", st_share_form, 0, E_MANDATE, &S.mandate),
    STEP("tesoro_document_add (signed mandate)", st_sign_mandate, 0, E_MANDATE, &S.mandate),
    STEP("tesoro_mandate_submit_form", st_submit_form, 0, E_MANDATE, &S.mandate),
    STEP("tesoro_tasks", st_find_review, 0, E_MANDATE, &S.mandate),
    STEP("tesoro_task_cancel", st_task_cancel, 0, E_TASK, &S.task),
    STEP("tesoro_mandate_request_changes", st_request_changes, 0, E_MANDATE, &S.mandate),
    STEP("tesoro_mandate_submit_form (again)", st_submit_form, 0, E_MANDATE, &S.mandate),
    STEP("tesoro_tasks (again)", st_find_review, 0, E_MANDATE, &S.mandate),
    STEP("tesoro_task_complete", st_task_complete, 0, E_TASK, &S.task),
    STEP("tesoro_mandate_validate", st_validate, 0, E_MANDATE, &S.mandate),
    STEP("(listing reference)", st_glue_ref, F_GLUE, 0, NULL),
    STEP("tesoro_listing_update", st_listing_update, 0, E_LISTING, &S.listing),
    STEP("tesoro_listing_publish", st_publish, 0, E_LISTING, &S.listing),
    STEP("tesoro_listing_unpublish", st_unpublish, 0, E_LISTING, &S.listing),
    STEP("tesoro_listing_publish (again)", st_publish, 0, E_LISTING, &S.listing),
    STEP("tesoro_document_add (photo)", st_listing_photo, 0, E_LISTING, &S.listing),
    STEP("tesoro_document_read", st_document_read, 0, 0, NULL),
    STEP("tesoro_documents", st_documents, 0, 0, NULL),
    STEP("tesoro_entity_json", st_entity_json, 0, 0, NULL),
    STEP("tesoro_entity_state", st_entity_state, 0, 0, NULL),
    STEP("tesoro_history", st_history, 0, 0, NULL),
    STEP("tesoro_allowed_events", st_allowed, 0, 0, NULL),
    STEP("tesoro_activities (owner)", st_activities_owner, 0, 0, NULL),
    STEP("tesoro_contact_request_submit (2)", st_request_lost, 0, 0, NULL),
    STEP("tesoro_room_mark_lost", st_mark_lost, 0, E_ROOM, &S.room2),
    STEP("tesoro_contact_request_submit (3)", st_request_closed, 0, 0, NULL),
    STEP("tesoro_room_start_onboarding (3)", st_start_onboarding3, 0, E_ROOM, &S.room3),
    STEP("tesoro_mandate_cancel", st_mandate_cancel, 0, E_MANDATE, &S.mandate3),
    STEP("tesoro_room_close", st_room_close, 0, E_ROOM, &S.room3),
    /* deals, portal, viewings */
    STEP("tesoro_deal_create", st_deal_create, 0, 0, NULL),
    STEP("tesoro_deal_offer", st_deal_offer, 0, E_DEAL, &S.deal),
    STEP("tesoro_deal_properties", st_deal_properties, 0, 0, NULL),
    STEP("tesoro_portal_account_create", st_account_create, 0, 0, NULL),
    STEP("tesoro_contact_portal_account", st_account_of, 0, 0, NULL),
    STEP("tesoro_portal_login (temporary)", st_login_temp, 0, E_ACCOUNT, &S.account),
    STEP("tesoro_portal_step", st_portal_step, 0, 0, NULL),
    STEP("tesoro_portal_password_change", st_password_change, 0, E_ACCOUNT, &S.account),
    STEP("tesoro_portal_login", st_login_new, 0, E_ACCOUNT, &S.account),
    STEP("tesoro_portal_welcome_finish", st_welcome_done, 0, E_ACCOUNT, &S.account),
    STEP("tesoro_portal_tour_finish", st_tour_done, 0, E_ACCOUNT, &S.account),
    STEP("tesoro_portal_tour_restart", st_tour_restart, 0, E_ACCOUNT, &S.account),
    STEP("tesoro_portal_tour_skip", st_tour_skip, 0, E_ACCOUNT, &S.account),
    STEP("tesoro_portal_language", st_language, 0, 0, NULL),
    STEP("tesoro_portal_set_language", st_language_set, 0, E_ACCOUNT, &S.account),
    STEP("tesoro_portal_home", st_home, 0, 0, NULL),
    STEP("tesoro_portal_properties", st_portal_properties, 0, 0, NULL),
    STEP("tesoro_portal_property", st_portal_property, 0, 0, NULL),
    STEP("tesoro_deal_property_not_interested", st_not_interested, 0, E_DP, &S.dp),
    STEP("tesoro_deal_property_interested", st_interested, 0, E_DP, &S.dp),
    STEP("tesoro_deal_property_favourite", st_favourite, 0, E_DP, &S.dp),
    STEP("tesoro_agency_set_viewing_duration", st_viewing_duration, 0, 0, NULL),
    STEP("tesoro_appointment_request (1)", st_request1, 0, E_DP, &S.dp),
    STEP("tesoro_appointment_request (2)", st_request2, 0, E_DP, &S.dp),
    STEP("tesoro_appointment_request (3)", st_request3, 0, E_DP, &S.dp),
    STEP("tesoro_appointment_request (4)", st_request4, 0, E_DP, &S.dp),
    STEP("tesoro_client_appointments", st_appointments_client, 0, 0, NULL),
    STEP("tesoro_appointment_confirm", st_confirm1, 0, E_APPT, &S.ap1),
    STEP("tesoro_appointment_reschedule", st_reschedule1, 0, E_APPT, &S.ap1),
    STEP("tesoro_appointment_reject", st_reject2, 0, E_APPT, &S.ap2),
    STEP("tesoro_appointment_cancel", st_cancel3, 0, E_APPT, &S.ap3),
    STEP("tesoro_appointment_confirm (4)", st_confirm4, 0, E_APPT, &S.ap4),
    STEP("tesoro_agent_appointments", st_appointments_agent, 0, 0, NULL),
    STEP("tesoro_appointment_ics", st_ics, 0, 0, NULL),
    STEP("tesoro_tick (reminder)", st_tick_reminder, 0, E_APPT, &S.ap1),
    STEP("tesoro_clock_set (viewing day)", st_clock_viewing, 0, 0, NULL),
    STEP("tesoro_appointment_start_viewing", st_start_viewing, 0, E_APPT, &S.ap1),
    STEP("tesoro_appointment_rate", st_rate, 0, E_APPT, &S.ap1),
    STEP("tesoro_appointment_note_add", st_appointment_note, 0, E_APPT, &S.ap1),
    STEP("tesoro_appointment_notes", st_appointment_notes, 0, 0, NULL),
    STEP("tesoro_document_add (viewing photo)", st_viewing_photo, 0, E_APPT, &S.ap1),
    STEP("tesoro_deal_property_approve", st_approve, 0, E_DP, &S.dp),
    STEP("tesoro_portal_contact_agent", st_contact_agent, 0, E_DP, &S.dp),
    STEP("tesoro_tick (completion)", st_tick_complete, 0, E_APPT, &S.ap4),
    STEP("tesoro_clock_set (after the viewing)", st_clock_no_show, 0, 0, NULL),
    STEP("tesoro_appointment_record_no_show", st_no_show, 0, E_APPT, &S.ap4),
    STEP("tesoro_activities (buyer)", st_activities_buyer, 0, 0, NULL),
    STEP("tesoro_portal_register", st_register, 0, 0, NULL),
    STEP("tesoro_portal_verify", st_verify, 0, E_ACCOUNT, &S.account2),
    STEP("tesoro_actor_info (Rosa)", st_rosa_contact, 0, 0, NULL),
    STEP("tesoro_portal_session_open", st_session_open, 0, E_ACCOUNT, &S.account2),
    STEP("tesoro_portal_session_client", st_session_client, 0, 0, NULL),
    STEP("tesoro_clock_set (two minutes on)", st_clock_session, 0, 0, NULL),
    STEP("tesoro_portal_session_client (noting the use)", st_session_client, 0, 0, NULL),
    STEP("tesoro_portal_session_end", st_session_end, 0, E_ACCOUNT, &S.account2),
    STEP("tesoro_portal_reset_request", st_reset_request, 0, E_ACCOUNT, &S.account2),
    STEP("(reset secret from the outbox)", st_glue_reset_secret, F_GLUE, 0, NULL),
    STEP("tesoro_portal_reset", st_reset, 0, E_ACCOUNT, &S.account2),
    STEP("tesoro_portal_session_open (new password)", st_session_open2, 0, E_ACCOUNT, &S.account2),
    STEP("tesoro_portal_account_deactivate", st_deactivate, 0, E_ACCOUNT, &S.account2),
    STEP("tesoro_portal_invitation_resend", st_invitation_resend, 0, E_ACCOUNT, &S.account2),
    STEP("tesoro_deal_close", st_deal_close, 0, E_DEAL, &S.deal),
    /* referrals */
    STEP("tesoro_agency_set_referral_fee", st_referral_fee, 0, 0, NULL),
    STEP("tesoro_contact_create (referred)", st_contact_rita, 0, 0, NULL),
    STEP("tesoro_referral_create", st_referral_create, 0, 0, NULL),
    STEP("tesoro_referral_move (connected)", st_connected, 0, E_REF, &S.referral),
    STEP("tesoro_referral_move (meeting)", st_meeting, 0, E_REF, &S.referral),
    STEP("tesoro_referral_move (met)", st_met, 0, E_REF, &S.referral),
    STEP("tesoro_referral_note_add", st_referral_note, 0, E_REF, &S.referral),
    STEP("tesoro_referral_move (failed)", st_failed, 0, E_REF, &S.referral),
    STEP("tesoro_referral_move (revive)", st_met, 0, E_REF, &S.referral),
    STEP("tesoro_referral_move (coming soon)", st_coming_soon, 0, E_REF, &S.referral),
    STEP("tesoro_tick (list date)", st_tick_list_date, 0, E_REF, &S.referral),
    STEP("tesoro_clock_set (escrow)", st_clock_escrow, 0, 0, NULL),
    STEP("tesoro_referral_move (in escrow)", st_escrow, 0, E_REF, &S.referral),
    STEP("tesoro_referral_move (closed)", st_closed, 0, E_REF, &S.referral),
    STEP("tesoro_referral_move (closed paid)", st_closed_paid, 0, E_REF, &S.referral),
    STEP("tesoro_referral_notes", st_referral_notes, 0, 0, NULL),
    STEP("tesoro_referrals", st_referrals, 0, 0, NULL),
    STEP("tesoro_referral_pipeline", st_pipeline, 0, 0, NULL),
    /* the website exchange */
    STEP("tesoro_exchange_ingest (customer)", st_ingest_customer, 0, 0, NULL),
    STEP("tesoro_exchange_ingest_batch", st_ingest_batch, 0, 0, NULL),
    STEP("tesoro_prospects", st_prospects, 0, 0, NULL),
    STEP("tesoro_customer_find (1)", st_find_c1, 0, 0, NULL),
    STEP("tesoro_customer_find (2)", st_find_c2, 0, 0, NULL),
    STEP("tesoro_prospect_approve", st_prospect_approve, 0, E_CUST, &S.cust1),
    STEP("tesoro_prospect_discard", st_prospect_discard, 0, E_CUST, &S.cust2),
    STEP("tesoro_customer_searches", st_customer_searches, 0, 0, NULL),
    STEP("tesoro_customer_properties", st_customer_properties, 0, 0, NULL),
    STEP("tesoro_customer_enquiries", st_customer_enquiries, 0, 0, NULL),
    STEP("tesoro_contact_customer", st_contact_customer, 0, 0, NULL),
    STEP("tesoro_search_save", st_search_save, 0, E_CUST, &S.cust1),
    STEP("tesoro_search_delete", st_search_delete, 0, E_SEARCH, &S.search),
    STEP("tesoro_interest_register", st_interest, 0, E_CUST, &S.cust1),
    STEP("tesoro_contact_set_group", st_group, 0, E_CUST, &S.cust1),
    STEP("tesoro_exchange_ingest (vendor claim)", st_ingest_claim, 0, E_CUST, &S.cust1),
    STEP("tesoro_vendor_claim_reject", st_claim_reject, 0, E_CLAIM, &S.claim),
    STEP("tesoro_vendor_confirm", st_vendor_confirm, 0, E_LISTING, &S.listing),
    STEP("tesoro_call_list", st_call_list, 0, 0, NULL),
    STEP("tesoro_matches", st_matches, 0, 0, NULL),
    /* privacy */
    STEP("tesoro_contact_set_consent (staff)", st_consent_staff, 0, E_CONTACT, &S.buyer),
    STEP("tesoro_contact_set_consent (client)", st_consent_client, 0, E_CONTACT, &S.buyer),
    STEP("tesoro_contact_update (staff: phone)", st_update_staff, 0, E_CONTACT, &S.buyer),
    STEP("tesoro_contact_update (client: language)", st_update_client, 0, E_CONTACT, &S.buyer),
    STEP("tesoro_begin + contact_update (portal e-mail) + outbox_fetch + portal_email_verify + tesoro_commit", st_email_change, F_NOWARM, E_CONTACT, &S.buyer),
    STEP("tesoro_portal_login (new e-mail)", st_login_new_email, 0, E_ACCOUNT, &S.account),
    STEP("tesoro_contact_export (staff, bytes)", st_export_staff, F_SPARSE, 0, NULL),
    STEP("tesoro_contact_export (client)", st_export_client, F_SPARSE, 0, NULL),
    STEP("tesoro_contact_erase", st_erase, F_SPARSE | F_CKPT, E_CONTACT, &S.rita),
    /* calendar feeds, notification preferences and the agency's switches */
    STEP("tesoro_calendar_feed (agent, by an admin)", st_calendar_feed_agent, 0, 0, NULL),
    STEP("tesoro_calendar_feed (client)", st_calendar_feed_client, 0, 0, NULL),
    STEP("tesoro_notification_set (client)", st_notification_client, 0, 0, NULL),
    STEP("tesoro_notification_set (admin for staff)", st_notification_staff, 0, 0, NULL),
    STEP("tesoro_notification_channels", st_notification_channels, 0, 0, NULL),
    STEP("tesoro_agency_set_push", st_set_push, 0, 0, NULL),
    STEP("tesoro_agency_set_calendar", st_set_calendar, 0, 0, NULL),
    /* outbox, stats, timers, host transactions, the checker */
    STEP("tesoro_outbox_fetch", st_outbox_fetch, 0, 0, NULL),
    STEP("tesoro_outbox_ack", st_outbox_ack, 0, 0, NULL),
    STEP("tesoro_outbox_fail", st_outbox_fail, 0, 0, NULL),
    STEP("tesoro_stats", st_stats, 0, 0, NULL),
    STEP("tesoro_tick (nothing due)", st_tick_idle, 0, 0, NULL),
    STEP("tesoro_begin + 2 calls + tesoro_commit", st_host_commit, F_NOWARM, E_APPT, &S.ap1),
    STEP("tesoro_begin + call + tesoro_rollback", st_host_rollback, F_NOWARM, E_APPT, &S.ap1),
    STEP("tesoro_agency_import", st_import, F_NOWARM | F_SPARSE, 0, NULL),
    STEP("tesoro_agency_export", st_export, F_SPARSE, 0, NULL),
    STEP("tesoro_check", st_check, F_SPARSE, 0, NULL),
    STEP("tesoro_close", st_close, F_HANDLE | F_NOWARM | F_SPARSE, 0, NULL),
};
#define NSTEPS ((int)(sizeof steps / sizeof steps[0]))

/* =========================================================================
** Fault kinds.
*/
enum {
  K_ALLOC_COLD,    /* persistent, right after a reopen, no warm-up */
  K_ALLOC_ONCE,
  K_ALLOC_PERSIST,
  K_WRITE_ONCE,
  K_WRITE_PERSIST,
  K_SYNC_TRUNC,    /* the Nth sync or truncate, once */
  K_READ,          /* the Nth read, once, with the page cache emptied */
  K_ANY_PERSIST,   /* the Nth read/write/sync/truncate and all after, cache emptied */
  K_FULL,          /* a disk with N-1 pages free, the WAL emptied first */
  K__COUNT
};

static const struct kind {
  const char *name;
  int alloc, mask, persistent, flush, full;
} kinds[K__COUNT] = {
    {"alloc-cold", 1, 0, 1, 0, 0},
    {"alloc-once", 1, 0, 0, 0, 0},
    {"alloc-persistent", 1, 0, 1, 0, 0},
    {"write-once", 0, FU_IO_WRITE, 0, 0, 0},
    {"write-persistent", 0, FU_IO_WRITE, 1, 0, 0},
    {"sync/truncate-once", 0, FU_IO_SYNC | FU_IO_TRUNCATE, 0, 0, 0},
    {"read-once", 0, FU_IO_READ, 0, 1, 0},
    {"any-io-persistent", 0, FU_IO_ANY, 1, 1, 0},
    {"disk-full", 0, 0, 1, 0, 1},
};

#define WAL_FRAME 4120 /* a 4096-byte page and its 24-byte frame header */

/* =========================================================================
** The sweep machinery.
*/
static sqlite3 *mon;          /* the independent observer */
static char snap_path[600];
static int64_t base_live;     /* outstanding allocations with nothing open */
static int64_t n_calls, n_violations, n_leaks, n_recovered, n_digests,
    n_json_valid;
static int64_t kind_fired[K__COUNT], kind_calls[K__COUNT];
static int light, verbose;
static double t_call, t_restore, t_heavy, t_checks;

static void violation(const step *st, int kind, int64_t n, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));
static void violation(const step *st, int kind, int64_t n, const char *fmt,
                      ...) {
  va_list ap;
  n_violations++;
  fprintf(stderr, "VIOLATION %s [%s N=%lld]: ", st->name,
          kind >= 0 ? kinds[kind].name : "-", (long long)n);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void mon_exec(const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(mon, sql, NULL, NULL, &err) != SQLITE_OK) {
    print_error("observer: %s: %s\n", sql, err ? err : "?");
    sqlite3_free(err);
    fail();
  }
}

static void mon_open(void) {
  assert_int_equal(sqlite3_open_v2(S.w->path, &mon, SQLITE_OPEN_READWRITE,
                                   NULL),
                   SQLITE_OK);
  sqlite3_busy_timeout(mon, 0);
  /* The observer's own commits (restores, cache flushes) need no fsync. */
  mon_exec("PRAGMA synchronous = OFF");
}

static void mon_close(void) {
  assert_int_equal(sqlite3_close(mon), SQLITE_OK); /* NULL: a no-op */
  mon = NULL;
}

/* Commits seen by the observer (PRAGMA data_version moves on each commit of
** another connection). */
static int64_t data_version(void) {
  sqlite3_stmt *st = NULL;
  int64_t v = -1;
  if (sqlite3_prepare_v2(mon, "PRAGMA data_version", -1, &st, NULL) ==
          SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  assert_true(v >= 0);
  return v;
}

/* Can another connection take the write lock (no transaction left open)? */
static int writer_free(void) {
  int rc = sqlite3_exec(mon, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc == SQLITE_OK) {
    mon_exec("ROLLBACK");
    return 1;
  }
  return 0;
}

/* A commit that changes no value in the end (SQLite skips an update to the
** same value, so change it and change it back): every other connection's
** page cache is invalidated, and the next call reads its pages through the
** VFS again. */
static void flush_caches(void) {
  mon_exec("BEGIN; UPDATE agency SET name = name || '~' WHERE id = (SELECT "
           "min(id) FROM agency); UPDATE agency SET name = substr(name, 1, "
           "length(name) - 1) WHERE id = (SELECT min(id) FROM agency); COMMIT");
}

static void backup(sqlite3 *to, sqlite3 *from) {
  sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
  assert_non_null(b);
  assert_int_equal(sqlite3_backup_step(b, -1), SQLITE_DONE);
  assert_int_equal(sqlite3_backup_finish(b), SQLITE_OK);
}

static void snapshot_save(void) {
  sqlite3 *snap = NULL;
  assert_int_equal(sqlite3_open(snap_path, &snap), SQLITE_OK);
  assert_int_equal(sqlite3_exec(snap, "PRAGMA synchronous = OFF; "
                                "PRAGMA journal_mode = MEMORY", NULL, NULL,
                                NULL),
                   SQLITE_OK);
  backup(snap, mon);
  assert_int_equal(sqlite3_close(snap), SQLITE_OK);
}

static void snapshot_restore(void) {
  sqlite3 *snap = NULL;
  assert_int_equal(sqlite3_open_v2(snap_path, &snap, SQLITE_OPEN_READONLY,
                                   NULL),
                   SQLITE_OK);
  backup(mon, snap);
  assert_int_equal(sqlite3_close(snap), SQLITE_OK);
}

/* (Re)open the scenario's handle without faults. */
static void handle_open(void) {
  assert_null(S.w->t);
  TU_OK(S.w, tesoro_open(S.w->path, &S.w->t));
  TU_OK(S.w, tesoro_clock_set(S.w->t, S.clock));
  TU_OK(S.w, tesoro_config(S.w->t, TESORO_CONFIG_PWHASH_OPSLIMIT, 1));
  TU_OK(S.w, tesoro_config(S.w->t, TESORO_CONFIG_PWHASH_MEMLIMIT, 8192));
}

static void handle_close(void) {
  tesoro_close(S.w->t);
  S.w->t = NULL;
}

/* Close everything and compare what is still allocated with the baseline;
** then reopen. */
static void leak_check(const step *st, int kind, int64_t n) {
  int64_t live;
  handle_close();
  mon_close();
  live = fu_malloc_outstanding();
  if (live != base_live) {
    n_leaks++;
    violation(st, kind, n, "%lld allocations (%lld bytes) outstanding after "
              "closing everything; baseline %lld",
              (long long)live, (long long)fu_malloc_outstanding_bytes(),
              (long long)base_live);
    base_live = live;
  }
  mon_open();
  handle_open();
}

static void entity_of(const step *st, char *state, size_t n, int64_t *version) {
  const char *s = NULL;
  int rc;
  state[0] = 0;
  *version = 0;
  if (!st->entity || S.w->t == NULL) return;
  rc = tesoro_entity_state(S.w->t, S.w->admin, st->entity, *st->id, &s,
                           version);
  snprintf(state, n, "%s", rc == TESORO_OK && s ? s : tesoro_errname(rc));
}

static void unlink_db(const char *path) {
  static const char *const side[] = {"", "-wal", "-shm", "-journal"};
  for (size_t i = 0; i < sizeof side / sizeof side[0]; i++)
    unlink(tu_fmt("%s%s", path, side[i]));
}

/* A new file whose creation failed half-way opens and checks clean. */
static void verify_new_file(const step *st, int kind, int64_t n) {
  tesoro *t = NULL;
  int rc = tesoro_open(S.newpath, &t);
  if (rc != TESORO_OK)
    violation(st, kind, n, "the file a failed open left cannot be opened: "
              "%s (%s)", tesoro_errname(rc), tesoro_errmsg(t));
  else if ((rc = tesoro_check(t)) != TESORO_OK)
    violation(st, kind, n, "the file a failed open left fails the check: %s",
              tesoro_errmsg(t));
  tesoro_close(t);
}

static void warm_up(const step *st) {
  if (st->flags & (F_NOWARM | F_HANDLE)) return;
  if (tesoro_begin(S.w->t) != TESORO_OK) return;
  (void)st->fn(&S);
  (void)tesoro_rollback(S.w->t);
}

/*
** Is this failure SQLite 3.40's json_valid() misreading an allocation
** failure as invalid JSON?  It parses with no error context, so when memory
** runs out it answers 0 instead of raising SQLITE_NOMEM (measured on a bare
** connection by sqlite_json_valid_bug(); the exception applies only where
** it is), and a CHECK (json_valid(x)) fails: a
** write call then reports EDB "CHECK constraint failed: ... json_valid",
** and PRAGMA integrity_check, which evaluates CHECK constraints, reports
** "CHECK constraint failed in <table>" (tesoro_check: EDB).
*/
static int json_valid_bug; /* measured by sqlite_json_valid_bug() */

static int json_valid_oom(const step *st, int kind, int rc) {
  const char *msg = S.w->t ? tesoro_errmsg(S.w->t) : "";
  if (!json_valid_bug || rc != TESORO_EDB || !kinds[kind].alloc) return 0;
  if (st->fn == st_check)
    return tu_contains_ci(msg, "integrity_check: CHECK constraint failed in");
  return !kinds[kind].persistent &&
         tu_contains_ci(msg, "CHECK constraint failed") &&
         tu_contains_ci(msg, "json_valid");
}

/* The code a failing call must return for a fault of this kind. */
static int expected_rc(int kind) {
  return kinds[kind].alloc ? TESORO_ENOMEM : TESORO_EDB;
}

/* Should a failing attempt get the full digest and tesoro_check? */
static int64_t n_failing;
static int heavy(void) { return ++n_failing % DIGEST_EVERY == 1; }

/*
** Sweep one step with one kind of fault.  On entry the database is at the
** step's starting state (digest d0); on return the step has been applied
** (its fault-free run).  Returns the number of attempts.
*/
static int64_t sweep(const step *st, int si, int kind, const char *d0,
                     int last_kind) {
  const struct kind *k = &kinds[kind];
  int64_t n = 1, attempts = 0, dv0;
  char state0[64], state1[64];
  int64_t ver0, ver1;
  int dirty = 0; /* state changed: restore before the next attempt */
  int64_t stride = (light && k->alloc) ? LIGHT_STRIDE : 1;
  const char *only = getenv("TESORO_FAULT_N"); /* debugging: start at this N */

  (void)si;
  (void)last_kind;
  if (only) n = atoll(only);
  entity_of(st, state0, sizeof state0, &ver0);
  if (kind != K_ALLOC_COLD) warm_up(st);
  dv0 = data_version();
  for (;; n += (st->flags & F_SPARSER)               ? stride + n / 2
              : (st->flags & F_SPARSE) && k->alloc  ? stride + n / 32
              : (st->flags & F_SPARSE)              ? stride + n / 8
                                                    : stride) {
    int rc, done = 0;
    int64_t fired, live_before = 0;
    double tA = now_s(), tB;
    if (dirty) {
      snapshot_restore();
      if (S.w->t == NULL) handle_open();
      if (kind != K_ALLOC_COLD) warm_up(st);
      dv0 = data_version();
      dirty = 0;
    }
    /* (tesoro_close: leave frames in the WAL for its checkpoint to copy) */
    if (k->flush || st->fn == st_close) flush_caches(), dv0 = data_version();
    if (k->full) {
      mon_exec("PRAGMA wal_checkpoint(TRUNCATE)");
      dv0 = data_version();
    }
    if (st->flags & F_HANDLE && st->fn == st_open_existing) handle_close();
    /* closing the last connection checkpoints the WAL and deletes it */
    if (st->fn == st_close) mon_close();
    if (st->flags & F_SELF) live_before = fu_malloc_outstanding();

    if (k->alloc) fu_malloc_fail(n, k->persistent);
    else if (k->full) fu_disk_full((n - 1) * WAL_FRAME);
    else fu_io_fail(k->mask, n, k->persistent);
    tB = now_s();
    t_restore += tB - tA;
    rc = st->fn(&S);
    tA = now_s();
    t_call += tA - tB;
    fired = k->alloc ? fu_malloc_fired() : fu_io_fired();
    fu_all_off();
    if (st->flags & F_SELF) {
      /* a call on its own file or on nothing gives back all it took */
      int64_t live = fu_malloc_outstanding();
      if (live != live_before) {
        n_leaks++;
        violation(st, kind, n, "%lld allocations outstanding after the call, "
                  "%lld before", (long long)live, (long long)live_before);
      }
    }
    attempts++;
    n_calls++;
    kind_calls[kind]++;
    if (fired) kind_fired[kind]++;

    if (!fired) {
      if (rc != TESORO_OK)
        violation(st, kind, n, "fails without any fault: %s (%s)",
                  tesoro_errname(rc),
                  S.w->t ? tesoro_errmsg(S.w->t) : "no handle");
      done = 1;
    } else if (rc == TESORO_OK) {
      /* The fault fired and the call still succeeded: SQLite or tesoro
      ** recovered.  The result must be consistent. */
      n_recovered++;
      if (S.w->t == NULL) handle_open();
      if (tesoro_check(S.w->t) != TESORO_OK)
        violation(st, kind, n, "succeeded after the fault, but the checker "
                  "fails: %s", tesoro_errmsg(S.w->t));
      dirty = mon ? data_version() != dv0 : 1; /* a read needs no restore */
    } else {
      /* A failed call: the right code, nothing changed, nothing held. */
      if (json_valid_oom(st, kind, rc))
        /* SQLite 3.40's json_valid() answers 0, not SQLITE_NOMEM, when an
        ** allocation fails while it parses: a CHECK (json_valid(x)) then
        ** fails.  Counted, not a violation; the database checks below
        ** still apply. */
        n_json_valid++;
      else if (rc != expected_rc(kind))
        violation(st, kind, n, "returned %s (%s), expected %s", 
                  tesoro_errname(rc),
                  S.w->t ? tesoro_errmsg(S.w->t) : "no handle",
                  tesoro_errname(expected_rc(kind)));
      if (S.w->t == NULL) handle_open();
      if (!(st->flags & F_SELF)) {
        if (data_version() != dv0) {
          /* a commit, or only a WAL restart (which moves data_version too):
          ** the digest decides */
          char d1[65];
          n_digests++;
          tu_digest(S.w, d1);
          if (strcmp(d0, d1) != 0)
            violation(st, kind, n, "failed with %s but committed a change",
                      tesoro_errname(rc));
          dirty = 1;
        }
        if (!writer_free()) {
          violation(st, kind, n, "failed with %s and left a write "
                    "transaction open", tesoro_errname(rc));
          handle_close();
          handle_open();
          dirty = 1;
        }
        entity_of(st, state1, sizeof state1, &ver1);
        if (strcmp(state0, state1) != 0 || ver0 != ver1) {
          violation(st, kind, n, "failed but moved its entity from %s v%lld "
                    "to %s v%lld", state0, (long long)ver0, state1,
                    (long long)ver1);
          dirty = 1;
        }
        t_checks += now_s() - tA;
        if (heavy()) {
          char d1[65];
          tB = now_s();
          n_digests++;
          tu_digest(S.w, d1);
          if (strcmp(d0, d1) != 0) {
            violation(st, kind, n, "failed but changed the database digest");
            dirty = 1;
          }
          if (tesoro_check(S.w->t) != TESORO_OK)
            violation(st, kind, n, "tesoro_check after the failure: %s",
                      tesoro_errmsg(S.w->t));
          t_heavy += now_s() - tB;
        }
      }
    }
    if (st->fn == st_open_new) {
      /* whatever a failed open left behind, a fault-free open completes it */
      if (!done) verify_new_file(st, kind, n);
      unlink_db(S.newpath);
    }
    if ((st->flags & F_HANDLE) && fired && rc == TESORO_OK) {
      char d1[65];
      n_digests++;
      tu_digest(S.w, d1);
      if (strcmp(d0, d1) != 0)
        violation(st, kind, n, "changed the database digest");
    }
    if (st->fn == st_close) {
      /* nothing may stay allocated once the handle is closed */
      leak_check(st, kind, n);
      if (!done) dirty = 1;
    }
    if (done) break;
    if (n > 200000) {
      violation(st, kind, n, "the sweep does not end");
      break;
    }
  }
  return attempts;
}

/* Kinds swept for step i. */
static int kind_on(int i, int kind) {
  if ((steps[i].flags & F_SPARSER) &&
      (kind == K_SYNC_TRUNC || kind == K_READ || kind == K_WRITE_PERSIST))
    return 0;
  if (light && i % LIGHT_STEPS != 0 && !(steps[i].flags & (F_HANDLE | F_CKPT)))
    return 0;
  if (kind == K_ALLOC_COLD)
    return !(steps[i].flags & (F_HANDLE | F_SELF)) &&
           (light ? i % (4 * LIGHT_STEPS) == 2 * LIGHT_STEPS
                  : i % COLD_EVERY == 0);
  if (!light) return 1;
  /* valgrind: the erasure for the sync and truncate faults it meets in its
  ** checkpoint; opening and closing every other kind; each other swept step
  ** three of the eight, in rotation */
  if (steps[i].flags & F_CKPT) return kind == K_SYNC_TRUNC;
  if (steps[i].flags & F_HANDLE) return (kind + i) % 2 == 0;
  return (kind + i / LIGHT_STEPS) % 3 == 0;
}

static void run_step(int i) {
  const step *st = &steps[i];
  char d0[65];
  int kind, last = -1;
  int64_t dv;
  for (kind = 0; kind < K__COUNT; kind++)
    if (kind_on(i, kind)) last = kind;
  if ((st->flags & F_GLUE) || last < 0) {
    /* not swept (glue; under TESORO_LIGHT, most steps): just run it */
    if (!(st->flags & F_SELF)) TU_OK(S.w, st->fn(&S));
    return;
  }
  if (verbose)
    fprintf(stderr, "%s[%.2f] step %d %s:", i ? "\n" : "", now_s(), i,
            st->name);
  tu_digest(S.w, d0);
  snapshot_save();
  dv = data_version();
  for (kind = 0; kind < K__COUNT; kind++) {
    if (!kind_on(i, kind)) continue;
    if (kind == K_ALLOC_COLD) {
      handle_close();
      handle_open();
    }
    {
      double t0 = now_s();
      int64_t a = sweep(st, i, kind, d0, kind == last);
      if (verbose)
        fprintf(stderr, " %s:%lld(%.0fms)", kinds[kind].name, (long long)a,
                (now_s() - t0) * 1000);
    }
    if (S.w->t == NULL) handle_open();
    if (kind != last && data_version() != dv) {
      /* back to the step's starting state for the next kind (a step that
      ** committed nothing needs no restore) */
      snapshot_restore();
      dv = data_version();
    }
  }
  /* the step is applied: the database must hold, and nothing leak */
  if (tesoro_check(S.w->t) != TESORO_OK)
    violation(st, -1, 0, "tesoro_check after the step: %s",
              tesoro_errmsg(S.w->t));
  leak_check(st, -1, 0);
}

/* Does this SQLite's json_valid() answer 0, without an error, when an
** allocation fails while it parses?  (3.40.1 does: N = 2 and 3 below.) */
static int sqlite_json_valid_bug(void) {
  sqlite3_stmt *st = tu_mem_stmt("SELECT json_valid(?1)",
                                 "{\"a\":1,\"b\":[1,2,3,{\"c\":\"d\"}]}",
                                 NULL);
  int bug = 0;
  for (int64_t n = 1; n < 100; n++) {
    int rc, fired;
    fu_malloc_fail(n, 0);
    rc = sqlite3_step(st);
    fired = fu_malloc_fired() > 0;
    fu_all_off();
    if (rc == SQLITE_ROW && fired && sqlite3_column_int(st, 0) == 0) bug = 1;
    sqlite3_reset(st);
    if (!fired) break;
  }
  tu_mem_done(st);
  return bug;
}

/* A host transaction meets a full disk (issue 21): its commit fails and
** reports it, nothing of the transaction is stored, every call after the
** failure fails (none commits on its own) until the host's tesoro_rollback,
** which returns OK; then the handle works again. */
static void test_host_transaction_on_a_full_disk(void **state) {
  tu_world *w = *state;
  char before[65], after[65];
  int64_t id = 0;
  tu_digest(w, before);
  TU_OK(w, tesoro_begin(w->t));
  TU_OK(w, tesoro_contact_create(w->t, w->agent, "Fay Full", "fay@example.org",
                                 NULL, NULL, &id));
  TU_OK(w, tesoro_contact_create(w->t, w->agent, "Gus Full", "gus@example.org",
                                 NULL, NULL, &id));
  fu_disk_full(0); /* the commit's WAL frames find no room */
  TU_ASSERT_ERR(w, tesoro_commit(w->t), TESORO_EDB, NULL);
  assert_true(fu_io_fired() > 0);
  fu_io_off();
  /* the disk has room again, but the transaction is gone: a later call
     must not commit on its own */
  TU_ASSERT_ERR(w, tesoro_contact_create(w->t, w->agent, "Hal After",
                                         "hal@example.org", NULL, NULL, &id),
                TESORO_EDB, "rollback");
  TU_ASSERT_ERR(w, tesoro_commit(w->t), TESORO_EDB, NULL);
  TU_OK(w, tesoro_rollback(w->t));
  tu_digest(w, after);
  assert_string_equal(before, after);
  /* and the handle works again */
  TU_OK(w, tesoro_contact_create(w->t, w->agent, "Ivy Again", "ivy@example.org",
                                 NULL, NULL, &id));
  TU_OK(w, tesoro_check(w->t));
}

static void test_fault_sweep(void **state) {
  tu_world *w = *state;
  int i;
  char *env = getenv("TESORO_FAULT_STEPS"); /* "from:to" to debug a range */
  int from = 0, to = NSTEPS;
  if (env) sscanf(env, "%d:%d", &from, &to);
  if (to > NSTEPS) to = NSTEPS;

  memset(&S, 0, sizeof S);
  S.w = w;
  S.clock = TU_NOW;
  light = fu_light();
  verbose = getenv("TESORO_VERBOSE") != NULL;
  json_valid_bug = sqlite_json_valid_bug();
  snprintf(S.newpath, sizeof S.newpath, "%s/new.db", w->dir);
  snprintf(snap_path, sizeof snap_path, "%s/snapshot.db", w->dir);

  handle_close();
  base_live = fu_malloc_outstanding();
  mon_open();
  handle_open();

  for (i = 0; i < NSTEPS; i++) {
    if (i < from || i >= to) {
      if (!(steps[i].flags & (F_HANDLE | F_SELF))) {
        int rc = steps[i].fn(&S);
        if (rc != TESORO_OK) {
          print_error("step %d %s: %s: %s\n", i, steps[i].name,
                      tesoro_errname(rc), tesoro_errmsg(w->t));
          fail();
        }
      }
      continue;
    }
    run_step(i);
  }
  TU_OK(w, tesoro_check(w->t));
  mon_close();
  unlink(snap_path);

  if (verbose)
    fprintf(stderr, "\ntime: calls %.1fs restore+prep %.1fs checks %.1fs heavy "
            "%.1fs\n", t_call, t_restore, t_checks, t_heavy);
  printf("torture alloc_faults=%lld io_faults=%lld disk_full=%lld calls=%lld "
         "violations=%lld leaks=%lld\n",
         (long long)fu_malloc_total(), (long long)fu_io_total(),
         (long long)fu_full_total(), (long long)n_calls,
         (long long)n_violations, (long long)n_leaks);
  printf("torture fault_steps=%d recovered=%lld digests=%lld "
         "sqlite_json_valid_bug=%d json_valid_oom=%lld",
         to - from, (long long)n_recovered, (long long)n_digests,
         json_valid_bug, (long long)n_json_valid);
  for (i = 0; i < K__COUNT; i++)
    printf(" %s=%lld/%lld", kinds[i].name, (long long)kind_fired[i],
           (long long)kind_calls[i]);
  printf("\n");
  assert_int_equal(n_violations, 0);
  assert_int_equal(n_leaks, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_host_transaction_on_a_full_disk,
                                      tu_setup, tu_teardown),
      cmocka_unit_test_setup_teardown(test_fault_sweep, tu_setup, tu_teardown),
  };
  if (fu_install() != 0) {
    fprintf(stderr, "cannot install the fault shims\n");
    return 1;
  }
  /* error handling is under test here, not durability: no real fsync */
  fu_io_nosync(1);
#ifdef __GLIBC__
  /* connections come and go thousands of times: keep the heap, don't hand
  ** it back to the kernel (brk) after each */
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_TOP_PAD, 16 << 20);
#endif
  return cmocka_run_group_tests(tests, NULL, NULL);
}
