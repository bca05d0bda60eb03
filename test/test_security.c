/*
** test_security.c — the security matrix of issue 9: tenancy and bad
** input.
**
** 1. The matrix.  One world holds every entity kind for agency 1 ("Tesoro
**    Homes"): rooms, mandates in every negotiation state, listings, a deal
**    with offered properties, appointments in every state, referrals, portal
**    accounts, web customers with searches and a vendor claim, documents,
**    tasks and notes.  A table lists every call of tesoro.h that takes an
**    actor and reads or writes that data — one row per call and target, a
**    small function that makes the call — with, per row, the legitimate
**    actor and the intruders: the other agency's agent, admin, website,
**    client and system actor; another client of the same agency; the
**    entity's own client acting as staff; the agency's own website calling
**    staff or client calls; an agent calling admin-, closings- or
**    client-only calls; the agency's system actor (which no API hands out).
**    For every (row, intruder) the call must be refused with the code the
**    header documents, change nothing (a digest of every row of every
**    table, before and after), write no out-parameter and name none of the
**    target's data in its message.  Agency-wide lists (tasks, referrals, the
**    call list, ...) are not refused to the other agency's staff: they must
**    hold none of agency 1's rows.  Every row ends with a positive control:
**    the legitimate actor makes the same call inside a host transaction that
**    is then rolled back, and it must succeed, so a row whose refusals came
**    from a wrong state or a wrong argument would fail.  Adding a call is
**    adding a row.
**
**    Existence across agencies (documented, not hidden): an id of another
**    agency is EDENIED ("<entity> N belongs to another agency than actor
**    M"), an id that exists nowhere is ENOTFOUND.  Ids are global integers,
**    so an intruder learns that entity N exists somewhere — nothing else:
**    not its agency, state, owner or any of its text (checked below).  Calls
**    that look up by a per-agency key (a listing reference, a website
**    customer id, a portal e-mail) answer ENOTFOUND to another agency, as if
**    the key did not exist.  Two portal calls answer TESORO_OK whatever
**    they are given, so that nobody learns whether an account or a session
**    exists: a password reset request and a logout.  Another agency's
**    website making them about Ada is a "scoped" row of the table (OK, and
**    the digest proves nothing changed), and test_existence_across_agencies
**    checks that nothing was queued and that Ada's e-mail, reset secret and
**    session token get the answers of unknown ones there.
**
** 2. Hostile text.  SQL injection, format strings, quotes, JSON breakers,
**    RTL overrides, zero-width characters and emoji go through every call
**    that stores text and come back byte for byte from the reading calls
**    (entity_json, history details, the cursors, the export, the login that
**    takes such a password); the schema is the same afterwards and the
**    checker passes.
**
** What the matrix found (fixed in tesoro.c, each with its test here): the
** agency's system actor could complete and cancel tasks when a caller named
** it (it now acts only through tick); a website "customer" event naming a
** contact that already had a web customer reached the UNIQUE index (EDB,
** which rolls a whole batch back; now EEXISTS); erasing a contact with a
** failed referral set its reason to NULL, which tesoro_check refused (now
** "erased").
**
** Prints `torture security_cases=<n> refused=<n> leaks=<n>`: every intruder
** call made (the matrix, plus the existence and system-actor checks), those
** refused with the expected code (the rest are agency-wide lists that answer
** with the caller's own rows), and the calls that let anything through (a
** success, a change, an out-parameter, a row or a text of agency 1) — all
** counted.  And `torture hostile_strings=<n> verbatim=<n>`.  Under
** TESORO_LIGHT (valgrind) see `light` below.
**
** FIGURES.  From one plain `make run-tests` on 2026-11-23 (2 m 33 s, every
** suite passed), as its `torture <what>=<n>` lines printed them:
** 1 710 intruder calls, 1 694 refused with the exact code and the file
** unchanged (the other 16 are agency-wide lists that return nothing of the
** other agency), 0 leaks; 12 hostile strings returned verbatim in 607
** places.
*/
#include "testutil.h"
#include "faultutil.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

/* ------------------------------------------------------------------------
** Actors.
*/
enum {
  A_AGENT,         /* Andy, agency 1 */
  A_ADMIN,         /* Alice, agency 1 */
  A_CLOSINGS,      /* Carl, agency 1 */
  A_CLIENT,        /* Ada's client: the owner of the target data */
  A_CLIENT2,       /* Bob's client: another client of agency 1 */
  A_WEBSITE,       /* agency 1's website */
  A_SYSTEM,        /* agency 1's system actor (never handed out by the API) */
  A_OTHER_AGENT,   /* Olga, agency 2 */
  A_OTHER_ADMIN,   /* Oscar, agency 2 */
  A_OTHER_WEBSITE, /* agency 2's website */
  A_OTHER_CLIENT,  /* Otto's client, agency 2 */
  A_OTHER_SYSTEM,  /* agency 2's system actor */
  A_COUNT
};

static const char *const actor_names[A_COUNT] = {
    "agent",         "admin",         "closings",      "client",
    "other client of the agency",     "website",       "system",
    "other agency's agent",           "other agency's admin",
    "other agency's website",         "other agency's client",
    "other agency's system"};

#define BIT(a) (1u << (a))
#define AG BIT(A_AGENT)
#define AD BIT(A_ADMIN)
#define CS BIT(A_CLOSINGS)
#define CL BIT(A_CLIENT)
#define C2 BIT(A_CLIENT2)
#define W BIT(A_WEBSITE)
#define SY BIT(A_SYSTEM)
#define OA BIT(A_OTHER_AGENT)
#define OAD BIT(A_OTHER_ADMIN)
#define OW BIT(A_OTHER_WEBSITE)
#define OC BIT(A_OTHER_CLIENT)
#define OS BIT(A_OTHER_SYSTEM)
#define CROSS (OA | OAD | OW | OC | OS) /* the actors of another agency */

/* ------------------------------------------------------------------------
** The world.
*/
typedef struct sec {
  tu_world *w;
  int64_t actors[A_COUNT];
  int64_t ada;      /* w->contact, Ada Owner: the target data's contact */
  int64_t contact3; /* "Cara Client": a contact without a portal account */
  /* seller onboarding, all of Ada (w->contact) */
  int64_t room, room_doc;       /* open room with a message, a note, a doc */
  int64_t m_neg, p_agent;       /* negotiating; the agent's open proposal */
  int64_t m_agreed;             /* terms_agreed */
  int64_t m_shared, mandate_doc; /* form_shared, signed mandate attached */
  int64_t m_sub;                /* form_submitted, review task done */
  int64_t listing, listing_doc; /* Ada's published listing, with a photo */
  int64_t listing_draft, task;  /* a draft listing; its open publish task */
  char listing_ref[32];          /* Ada's listing's reference */
  char free_ref[32];             /* listing_free's: no agency-2 listing has it */
  /* deals and viewings (Ada as the buyer) */
  int64_t listing_b, listing_c, listing_d, listing_free;
  int64_t deal, dp_new, dp_int, dp_viewed;
  int64_t appt_pending, appt_conf, appt_done, appt_ns, appt_doc;
  /* referrals */
  int64_t referral, referral_esc;
  /* portal */
  int64_t account;
  /* exchange */
  int64_t customer, prospect, web_search, crm_search, claim;
  /* agency 2 */
  int64_t o_deal, o_listing, o_prospect;
  /* what the last call did */
  int rows;    /* rows its cursor held; -1: no cursor */
  int foreign; /* rows among them that the caller must not see */
  int outleak; /* out-parameters a refused call wrote */
} sec;

typedef struct sec_row sec_row;
typedef int (*sec_fn)(sec *s, const sec_row *r, int64_t actor);

/*
** One row of the matrix: the call (fn), its target (an entity kind and the
** offset of the id in `sec`, for the generic calls), the legitimate actor
** and the intruders, by the code each must get: EDENIED, ENOTFOUND, or
** "scoped" (OK, with none of the rows the caller must not see; like every
** intruder call, changing nothing).  `pos` is the positive control when it
** needs more than fn; need_rows: the legitimate cursor must hold rows.
*/
struct sec_row {
  const char *name;
  sec_fn fn;
  int kind;
  size_t target;
  int legit;
  unsigned denied, notfound, scoped;
  sec_fn pos;
  int need_rows;
};

#define TGT(field) offsetof(sec, field)
#define ID(s, r) (*(const int64_t *)(const void *)((const char *)(s) + (r)->target))

static int is_other(const sec *s, int64_t actor) {
  return actor == s->actors[A_OTHER_AGENT] || actor == s->actors[A_OTHER_ADMIN] ||
         actor == s->actors[A_OTHER_WEBSITE] || actor == s->actors[A_OTHER_CLIENT] ||
         actor == s->actors[A_OTHER_SYSTEM];
}
/* The actor's own entity (agency 1's or agency 2's): for calls where the
** crossing is a second argument (an agency-2 deal offered an agency-1
** listing). */
#define HOME(s, actor, a1, a2) (is_other((s), (actor)) ? (a2) : (a1))

static const int64_t SENTINEL = -77;

/* Check an int64 out-parameter after the call. */
static void out_id(sec *s, int rc, int64_t v) {
  if (rc != TESORO_OK && v != SENTINEL) s->outleak++;
}
static void out_text(sec *s, int rc, void *p) {
  if (rc != TESORO_OK && p != NULL) s->outleak++;
  tesoro_free(p);
}

/* count(*) of `sql` with ?1 = a and ?2 = b, through a separate read-only
** connection (never through the code under test). */
static int64_t count_sql(const sec *s, const char *sql, int64_t a, int64_t b) {
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  int64_t n = -1;
  assert_int_equal(sqlite3_open_v2(s->w->path, &db, SQLITE_OPEN_READONLY, NULL),
                   SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  sqlite3_bind_int64(st, 1, a);
  if (sqlite3_bind_parameter_count(st) > 1) sqlite3_bind_int64(st, 2, b);
  if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  assert_true(n >= 0);
  return n;
}

/*
** Take a cursor: count its rows and, when `foreign_sql` is given, the rows
** the caller must not see: foreign_sql is run per row with ?1 the row's
** `col` value and ?2 `arg` ("... WHERE id = ?1 AND agency_id = ?2").  A
** NULL `col` counts the sum of the column "count" instead (the pipeline).
*/
static int take(sec *s, int rc, tesoro_cursor **cp, const char *col,
                const char *foreign_sql, int64_t arg) {
  tesoro_cursor *c = *cp; /* read after the call (argument order) */
  int n = 0, step;
  if (rc != TESORO_OK) {
    if (c) {
      s->outleak++;
      tesoro_cursor_free(c);
    }
    return rc;
  }
  assert_non_null(c);
  while ((step = tesoro_cursor_next(c)) == TESORO_ROW) {
    n++;
    if (foreign_sql && col) {
      int64_t id = tu_col_int(c, col);
      s->foreign += (int)count_sql(s, foreign_sql, id, arg);
    } else if (foreign_sql) {
      s->foreign += (int)tu_col_int(c, "count");
    }
  }
  tesoro_cursor_free(c);
  assert_int_equal(step, TESORO_DONE);
  s->rows = n;
  return rc;
}
#define PLAIN(s, rc, c) take((s), (rc), &(c), NULL, NULL, 0)

#define IN_AGENCY_SQL(table)                                                  \
  "SELECT count(*) FROM " table " WHERE id = ?1 AND agency_id = ?2"

/* ------------------------------------------------------------------------
** The calls.  Each takes the world, the actor and the row (its target), and
** returns the call's result.
*/
#define T_ (s->w->t)
#define W_ (s->w)

/* --- generic entity reads --- */
static int f_entity_json(sec *s, const sec_row *r, int64_t a) {
  char *json = NULL;
  int rc = tesoro_entity_json(T_, a, r->kind, ID(s, r), &json);
  out_text(s, rc, json);
  return rc;
}
static int f_entity_state(sec *s, const sec_row *r, int64_t a) {
  const char *state = NULL;
  int64_t v = SENTINEL;
  int rc = tesoro_entity_state(T_, a, r->kind, ID(s, r), &state, &v);
  out_id(s, rc, v);
  if (rc != TESORO_OK && state) s->outleak++;
  return rc;
}
static int f_history(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  return PLAIN(s, tesoro_history(T_, a, r->kind, ID(s, r), &c), c);
}
static int f_allowed(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  return PLAIN(s, tesoro_allowed_events(T_, a, r->kind, ID(s, r), &c), c);
}
static int f_documents(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  return PLAIN(s, tesoro_documents(T_, a, r->kind, ID(s, r), &c), c);
}
static int f_document_read(sec *s, const sec_row *r, int64_t a) {
  void *data = NULL;
  int64_t size = SENTINEL;
  int rc = tesoro_document_read(T_, a, ID(s, r), &data, &size);
  out_id(s, rc, size);
  out_text(s, rc, data);
  return rc;
}
/* A photo (or, for a mandate, the signed PDF) added to the target. */
static int f_document_add(sec *s, const sec_row *r, int64_t a) {
  int64_t d = SENTINEL;
  int rc;
  if (r->kind == TESORO_ENTITY_MANDATE)
    rc = tesoro_document_add(T_, a, r->kind, ID(s, r), TESORO_DOC_SIGNED_MANDATE,
                             "m.pdf", "application/pdf", tu_pdf,
                             (int64_t)tu_pdf_size, &d);
  else if (r->kind == TESORO_ENTITY_ROOM)
    rc = tesoro_document_add(T_, a, r->kind, ID(s, r), TESORO_DOC_SHARED, "s.pdf",
                             "application/pdf", tu_pdf, (int64_t)tu_pdf_size, &d);
  else
    rc = tesoro_document_add(T_, a, r->kind, ID(s, r), TESORO_DOC_PHOTO, "p.jpg",
                             "image/jpeg", tu_jpeg, (int64_t)tu_jpeg_size, &d);
  out_id(s, rc, d);
  return rc;
}

/* --- agencies, staff, contacts --- */
static int f_website_actor(sec *s, const sec_row *r, int64_t a) {
  int64_t out = SENTINEL;
  int rc = tesoro_agency_website_actor(T_, a, W_->agency, &out);
  (void)r;
  out_id(s, rc, out);
  return rc;
}
static int f_agent_create(sec *s, const sec_row *r, int64_t a) {
  int64_t out = SENTINEL;
  int rc = tesoro_agent_create(T_, a, "Nina New", "nina@tesoro.test",
                               TESORO_ROLE_AGENT, &out);
  (void)r;
  out_id(s, rc, out);
  return rc;
}
static int f_set_portal(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_agency_set_portal(T_, a, 0);
}
static int f_set_referral_fee(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_agency_set_referral_fee(T_, a, 300);
}
static int f_set_viewing_duration(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_agency_set_viewing_duration(T_, a, 2700);
}
static int f_set_push(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_agency_set_push(T_, a, 0);
}
static int f_set_calendar(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_agency_set_calendar(T_, a, 0);
}

/* --- notification preferences and calendar feeds, of an actor: the row's
** target is the offset of that actor's id in `sec` (actors[A_CLIENT],
** actors[A_AGENT]) --- */
#define ACTOR_TGT(who) (offsetof(sec, actors) + (who) * sizeof(int64_t))
static int f_notification_set(sec *s, const sec_row *r, int64_t a) {
  return tesoro_notification_set(T_, a, ID(s, r), TESORO_CHANNEL_PUSH, 0);
}
static int f_notification_channels(sec *s, const sec_row *r, int64_t a) {
  int channels = -77;
  int rc = tesoro_notification_channels(T_, a, ID(s, r), &channels);
  if (rc != TESORO_OK && channels != -77) s->outleak++;
  return rc;
}
static int f_calendar_feed(sec *s, const sec_row *r, int64_t a) {
  char *ics = NULL;
  int rc = tesoro_calendar_feed(T_, a, ID(s, r), &ics);
  out_text(s, rc, ics);
  return rc;
}
/* Assign the actor's own contact (Ada; Otto for agency 2) to agency 1's
** Anna: agency 2 must not hand its contacts to agency 1's staff. */
static int f_contact_assign_to(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_contact_assign(T_, a, HOME(s, a, W_->contact, W_->other_contact),
                               W_->agent2, 0);
}
static int f_contact_assign(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_contact_assign(T_, a, W_->contact, W_->agent2, 0);
}
/* Creations in the actor's own agency: only the role can be wrong. */
static int f_contact_create(sec *s, const sec_row *r, int64_t a) {
  int64_t out = SENTINEL;
  int rc = tesoro_contact_create(T_, a, "Walk In", "walkin@example.com", NULL,
                                 NULL, &out);
  (void)r;
  out_id(s, rc, out);
  return rc;
}
static int f_request_submit(sec *s, const sec_row *r, int64_t a) {
  int64_t room = SENTINEL, client = SENTINEL;
  int rc = tesoro_contact_request_submit(T_, a, "Walk In", "walkin@example.com",
                                         TESORO_PROPERTY_APARTMENT, "Utrecht", 0,
                                         NULL, NULL, &room, &client);
  (void)r;
  out_id(s, rc, room);
  out_id(s, rc, client);
  return rc;
}
static int f_register(sec *s, const sec_row *r, int64_t a) {
  int64_t acc = SENTINEL;
  char *code = NULL;
  int rc = tesoro_portal_register(T_, a, "Walk In", "walkin@example.com",
                                  "Walk#In2026", &acc, &code);
  (void)r;
  out_id(s, rc, acc);
  out_text(s, rc, code);
  return rc;
}
static int f_client_actor(sec *s, const sec_row *r, int64_t a) {
  int64_t out = SENTINEL;
  int rc = tesoro_contact_client_actor(T_, a, W_->contact, &out);
  (void)r;
  out_id(s, rc, out);
  return rc;
}
static int f_activities(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  (void)r;
  return PLAIN(s, tesoro_activities(T_, a, W_->contact, &c), c);
}

/* --- tasks --- */
static int f_tasks_all(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  (void)r;
  return take(s, tesoro_tasks(T_, a, 0, 0, &c), &c, "id", IN_AGENCY_SQL("task"),
              W_->agency);
}
static int f_tasks_of(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  return take(s, tesoro_tasks(T_, a, r->kind, ID(s, r), &c), &c, "id",
              IN_AGENCY_SQL("task"), W_->agency);
}
static int f_task_complete(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_task_complete(T_, a, s->task, 0);
}
static int f_task_cancel(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_task_cancel(T_, a, s->task, 0);
}

/* --- seller onboarding --- */
static int f_message_post(sec *s, const sec_row *r, int64_t a) {
  int64_t m = SENTINEL;
  int rc = tesoro_room_message_post(T_, a, s->room, "hello", &m);
  (void)r;
  out_id(s, rc, m);
  return rc;
}
static int f_note_add(sec *s, const sec_row *r, int64_t a) {
  int64_t m = SENTINEL;
  int rc = tesoro_room_note_add(T_, a, s->room, "note", &m);
  (void)r;
  out_id(s, rc, m);
  return rc;
}
static int f_room_messages(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  (void)r;
  return PLAIN(s, tesoro_room_messages(T_, a, s->room, &c), c);
}
static int f_start_onboarding(sec *s, const sec_row *r, int64_t a) {
  int64_t m = SENTINEL;
  int rc = tesoro_room_start_onboarding(T_, a, s->room, 1, 0, &m);
  (void)r;
  out_id(s, rc, m);
  return rc;
}
static int f_mark_lost(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_room_mark_lost(T_, a, s->room, "gone", 0);
}
static int f_room_close(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_room_close(T_, a, s->room, "done", 0);
}
static int f_propose(sec *s, const sec_row *r, int64_t a) {
  int64_t p = SENTINEL;
  int rc = tesoro_mandate_propose(T_, a, s->m_neg, TESORO_COMMISSION_PERCENTAGE,
                                  120, NULL, 1, 90, 0, &p);
  (void)r;
  out_id(s, rc, p);
  return rc;
}
static int f_accept(sec *s, const sec_row *r, int64_t a) {
  char *json = NULL;
  int rc = tesoro_mandate_accept(T_, a, s->m_neg, s->p_agent, 0, &json);
  (void)r;
  out_text(s, rc, json);
  return rc;
}
static int f_share_form(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_mandate_share_form(T_, a, s->m_agreed, 0);
}
static const char seller_form[] =
    "{\"full_name\":\"Ada Owner\",\"email\":\"ada@example.com\","
    "\"phone\":\"+31 6 1234 5678\",\"address\":\"Keizersgracht 1, Amsterdam\","
    "\"property_type\":\"house\",\"title\":\"SECRET canal house\","
    "\"price\":50000000}";
static int f_submit_form(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_mandate_submit_form(T_, a, s->m_shared, seller_form, 0);
}
static int f_request_changes(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_mandate_request_changes(T_, a, s->m_sub, "more photos", 0);
}
static int f_validate(sec *s, const sec_row *r, int64_t a) {
  int64_t l = SENTINEL;
  int rc = tesoro_mandate_validate(T_, a, s->m_sub, 0, &l);
  (void)r;
  out_id(s, rc, l);
  return rc;
}
static int f_mandate_cancel(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_mandate_cancel(T_, a, s->m_neg, "no deal", 0);
}
static int f_proposals(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  (void)r;
  return PLAIN(s, tesoro_mandate_proposals(T_, a, s->m_neg, &c), c);
}
static int f_listing_update(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_listing_update(T_, a, s->listing, "{\"bedrooms\":5}", 0);
}
static int f_listing_publish(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_listing_publish(T_, a, s->listing_draft, 0);
}
static int f_listing_unpublish(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_listing_unpublish(T_, a, s->listing, 0);
}

/* --- deals and viewings --- */
static int f_deal_create(sec *s, const sec_row *r, int64_t a) {
  int64_t d = SENTINEL;
  int rc = tesoro_deal_create(T_, a, W_->contact, "another search", &d);
  (void)r;
  out_id(s, rc, d);
  return rc;
}
static int f_deal_close(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_deal_close(T_, a, s->deal, "found one", 0);
}
/* Agency 2 offers agency 1's listing to its own deal. */
static int f_deal_offer_listing(sec *s, const sec_row *r, int64_t a) {
  int64_t dp = SENTINEL;
  int rc = tesoro_deal_offer(T_, a, HOME(s, a, s->deal, s->o_deal), s->listing_free,
                             &dp);
  (void)r;
  out_id(s, rc, dp);
  return rc;
}
/* Agency 2 offers its own listing to agency 1's deal. */
static int f_deal_offer_into(sec *s, const sec_row *r, int64_t a) {
  int64_t dp = SENTINEL;
  int rc = tesoro_deal_offer(T_, a, s->deal,
                             HOME(s, a, s->listing_free, s->o_listing), &dp);
  (void)r;
  out_id(s, rc, dp);
  return rc;
}
static int f_deal_properties(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  (void)r;
  return PLAIN(s, tesoro_deal_properties(T_, a, s->deal, &c), c);
}
static int f_dp_interested(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_deal_property_interested(T_, a, s->dp_new, 0);
}
static int f_dp_not_interested(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_deal_property_not_interested(T_, a, s->dp_new,
                                             TESORO_REJECT_PRICE, "too dear", 0);
}
static int f_dp_approve(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_deal_property_approve(T_, a, s->dp_int, 0);
}
static int f_dp_favourite(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_deal_property_favourite(T_, a, s->dp_new, 1, 0);
}
static int f_appt_request(sec *s, const sec_row *r, int64_t a) {
  int64_t pref[1], out = SENTINEL;
  int rc;
  (void)r;
  pref[0] = tesoro_now(T_) + 3 * 86400;
  rc = tesoro_appointment_request(T_, a, s->dp_new, pref, 1, &out);
  out_id(s, rc, out);
  return rc;
}
static int f_appt_confirm(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_appointment_confirm(T_, a, s->appt_pending,
                                    tesoro_now(T_) + 86400, 0, 0);
}
static int f_appt_reschedule(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_appointment_reschedule(T_, a, s->appt_conf,
                                       tesoro_now(T_) + 2 * 86400, 0, 0);
}
static int f_appt_reject(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_appointment_reject(T_, a, s->appt_pending, "no slots", 0);
}
static int f_appt_cancel(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_appointment_cancel(T_, a, s->appt_pending, "changed plans", 0);
}
static int f_appt_start(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_appointment_start_viewing(T_, a, s->appt_conf, 0);
}
static int f_appt_no_show(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_appointment_record_no_show(T_, a, s->appt_ns, "did not come", 0);
}
static int f_appt_note_add(sec *s, const sec_row *r, int64_t a) {
  int64_t n = SENTINEL;
  int rc = tesoro_appointment_note_add(T_, a, s->appt_done, "nice", &n);
  (void)r;
  out_id(s, rc, n);
  return rc;
}
static int f_appt_rate(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_appointment_rate(T_, a, s->appt_done, 5, 0);
}
static int f_appt_notes(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  (void)r;
  return PLAIN(s, tesoro_appointment_notes(T_, a, s->appt_done, &c), c);
}
static int f_appt_ics(sec *s, const sec_row *r, int64_t a) {
  char *ics = NULL;
  int rc = tesoro_appointment_ics(T_, a, s->appt_conf, NULL, &ics);
  (void)r;
  out_text(s, rc, ics);
  return rc;
}
/* The client's own list: another client sees only its own appointments. */
static int f_appts_client(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  (void)r;
  return take(s, tesoro_client_appointments(T_, a, TESORO_LIST_RECENT, &c), &c,
              "id", "SELECT count(*) FROM appointment WHERE id = ?1 AND "
                    "contact_id = ?2", W_->contact);
}
static int f_appts_agent_of(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  (void)r;
  return PLAIN(s, tesoro_agent_appointments(T_, a, W_->agent, 0, 0, 0, &c), c);
}
static int f_appts_agent_own(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  (void)r;
  return take(s, tesoro_agent_appointments(T_, a, 0, 0, 0, 0, &c), &c, "id",
              IN_AGENCY_SQL("appointment"), W_->agency);
}

/* --- referrals --- */
static int f_referral_create(sec *s, const sec_row *r, int64_t a) {
  int64_t out = SENTINEL;
  int rc = tesoro_referral_create(T_, a, W_->contact, 0, &out);
  (void)r;
  out_id(s, rc, out);
  return rc;
}
/* A referral for the actor's own contact, given to agency 1's Anna. */
static int f_referral_create_for(sec *s, const sec_row *r, int64_t a) {
  int64_t out = SENTINEL;
  int rc = tesoro_referral_create(T_, a, HOME(s, a, W_->contact, W_->other_contact),
                                  W_->agent2, &out);
  (void)r;
  out_id(s, rc, out);
  return rc;
}
static int f_referral_move(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_referral_move(T_, a, s->referral, TESORO_STAGE_MET_WITH_PERSON,
                              NULL, 0);
}
static int f_referral_back(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_referral_move(T_, a, s->referral_esc, TESORO_STAGE_LISTING, NULL, 0);
}
static int f_referral_note_add(sec *s, const sec_row *r, int64_t a) {
  int64_t n = SENTINEL;
  int rc = tesoro_referral_note_add(T_, a, s->referral, "call back", &n);
  (void)r;
  out_id(s, rc, n);
  return rc;
}
static int f_referral_notes(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  (void)r;
  return PLAIN(s, tesoro_referral_notes(T_, a, s->referral, &c), c);
}
static int f_referrals_all(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  (void)r;
  return take(s, tesoro_referrals(T_, a, TESORO_REFERRALS_ALL, 0, 0, &c), &c, "id",
              IN_AGENCY_SQL("referral"), W_->agency);
}
static int f_referrals_of(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  (void)r;
  return PLAIN(s, tesoro_referrals(T_, a, TESORO_REFERRALS_ALL, 0, W_->agent, &c),
               c);
}
/* Agency 2 has no referral: every count it sees is agency 1's. */
static int f_pipeline_all(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  int rc = tesoro_referral_pipeline(T_, a, 0, &c);
  (void)r;
  if (!is_other(s, a)) return PLAIN(s, rc, c);
  return take(s, rc, &c, NULL, "sum", 0);
}
static int f_pipeline_of(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  (void)r;
  return PLAIN(s, tesoro_referral_pipeline(T_, a, W_->agent, &c), c);
}

/* --- portal --- */
static const char ADA_PW[] = "Grachten#2026";
static int f_account_create(sec *s, const sec_row *r, int64_t a) {
  int64_t acc = SENTINEL;
  char *pw = NULL;
  int rc = tesoro_portal_account_create(T_, a, s->contact3, &acc, &pw);
  (void)r;
  out_id(s, rc, acc);
  out_text(s, rc, pw);
  return rc;
}
static int f_account_of(sec *s, const sec_row *r, int64_t a) {
  int64_t acc = SENTINEL;
  int rc = tesoro_contact_portal_account(T_, a, W_->contact, &acc);
  (void)r;
  out_id(s, rc, acc);
  return rc;
}
static int f_login(sec *s, const sec_row *r, int64_t a) {
  int64_t client = SENTINEL;
  int step = -77;
  int rc = tesoro_portal_login(T_, a, "ada@example.com", ADA_PW, &client, &step);
  (void)r;
  out_id(s, rc, client);
  if (rc != TESORO_OK && step != -77) s->outleak++;
  return rc;
}
static char reg_code[16];
static int f_verify(sec *s, const sec_row *r, int64_t a) {
  int64_t client = SENTINEL;
  int rc = tesoro_portal_verify(T_, a, "reg@example.com", reg_code, &client);
  (void)r;
  out_id(s, rc, client);
  return rc;
}
static int f_password_change(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_portal_password_change(T_, a, ADA_PW, "Another#2027");
}
static int f_portal_step(sec *s, const sec_row *r, int64_t a) {
  int step = -77;
  int rc = tesoro_portal_step(T_, a, &step);
  (void)r;
  if (rc != TESORO_OK && step != -77) s->outleak++;
  return rc;
}
static int f_welcome_done(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_portal_welcome_finish(T_, a);
}
static int f_tour_done(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_portal_tour_finish(T_, a);
}
static int f_tour_skip(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_portal_tour_skip(T_, a);
}
static int f_tour_restart(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_portal_tour_restart(T_, a);
}
/* Ada's account is on the tour: finish it, then restart it. */
static int pos_tour_restart(sec *s, const sec_row *r, int64_t a) {
  int rc = tesoro_portal_tour_finish(T_, a);
  return rc ? rc : f_tour_restart(s, r, a);
}
static int f_language(sec *s, const sec_row *r, int64_t a) {
  const char *lang = NULL;
  int rc = tesoro_portal_language(T_, a, &lang);
  (void)r;
  if (rc != TESORO_OK && lang) s->outleak++;
  return rc;
}
static int f_language_set(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_portal_set_language(T_, a, "de");
}
static int f_home(sec *s, const sec_row *r, int64_t a) {
  int64_t up = SENTINEL, un = SENTINEL, np = SENTINEL, ra = SENTINEL;
  int rc = tesoro_portal_home(T_, a, &up, &un, &np, &ra);
  (void)r;
  out_id(s, rc, up);
  out_id(s, rc, un);
  out_id(s, rc, np);
  out_id(s, rc, ra);
  return rc;
}
static int f_portal_properties(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  (void)r;
  return take(s, tesoro_portal_properties(T_, a, TESORO_FEED_ALL, &c), &c, "id",
              "SELECT count(*) FROM deal_property p JOIN deal d ON d.id = "
              "p.deal_id WHERE p.id = ?1 AND d.contact_id = ?2",
              W_->contact);
}
/* A message about Ada's offered property, from the actor's own account. */
static int f_contact_agent(sec *s, const sec_row *r, int64_t a) {
  int64_t m = SENTINEL;
  int rc = tesoro_portal_contact_agent(T_, a, s->dp_new, "Is it still free?", &m);
  (void)r;
  out_id(s, rc, m);
  return rc;
}

/* One property of Ada's feed (listing_b, offered to her deal). */
static int f_portal_property(sec *s, const sec_row *r, int64_t a) {
  char *json = NULL;
  int rc = tesoro_portal_property(T_, a, ID(s, r), &json);
  out_text(s, rc, json);
  return rc;
}
/* Sessions: build_world opened one for Ada (ada_token). */
static char ada_token[TESORO_PORTAL_TOKEN_LEN + 1];
static int f_session_open(sec *s, const sec_row *r, int64_t a) {
  char *token = NULL;
  int64_t client = SENTINEL;
  int step = -77;
  int rc = tesoro_portal_session_open(T_, a, "ada@example.com", ADA_PW, &token,
                                      &client, &step);
  (void)r;
  out_text(s, rc, token);
  out_id(s, rc, client);
  if (rc != TESORO_OK && step != -77) s->outleak++;
  return rc;
}
static int f_session_client(sec *s, const sec_row *r, int64_t a) {
  int64_t client = SENTINEL;
  int rc = tesoro_portal_session_client(T_, a, ada_token, &client);
  (void)r;
  out_id(s, rc, client);
  return rc;
}
/* Another agency's website ending Ada's session: TESORO_OK (as for a
** session that has already ended) and nothing changes ("scoped"). */
static int f_session_end(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_portal_session_end(T_, a, ada_token);
}
/* TESORO_OK for any e-mail: another agency's website gets it too, and
** nothing is queued or changed ("scoped"). */
static int f_reset_request(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_portal_reset_request(T_, a, "ada@example.com");
}
/*
** A new portal e-mail of Ada's.  The world cannot keep one waiting: while
** it waits, tesoro_check fails (its invariant "a portal account is verified
** exactly when it has a contact, and a code only before" does not know
** email_pending), and the matrix checks the world.  So the positive control
** makes the correction itself, inside its rolled-back host transaction,
** reads the code as the host does (tesoro_outbox_fetch, the payload's
** "secret") and verifies it; the intruders — none of them a client — are
** refused by their kind, whatever the code.  Other clients trying Ada's
** code: test_email_code_is_the_clients_own.
*/
static const char ADA_NEW_EMAIL[] = "ada.owner@example.net";
static char email_code[16] = "000000";
/* Ada's e-mail corrected by her agent; the code into email_code. */
static int ada_email_change(sec *s) {
  tesoro_cursor *c = NULL;
  char fields[96];
  int rc;
  snprintf(fields, sizeof fields, "{\"email\":\"%s\"}", ADA_NEW_EMAIL);
  if ((rc = tesoro_contact_update(T_, W_->agent, W_->contact, fields, 0)) ||
      (rc = tesoro_outbox_fetch(T_, W_->agency, 10000, &c)))
    return rc;
  email_code[0] = 0;
  while (tesoro_cursor_next(c) == TESORO_ROW) {
    const char *p = tu_col_text(c, "payload");
    if (strcmp(tu_col_text(c, "template"), "Portal E-mail Verification") == 0 &&
        tu_col_int(c, "recipient_id") == W_->client &&
        (p = strstr(p, "\"secret\":\"")) != NULL)
      snprintf(email_code, sizeof email_code, "%.*s", TESORO_PORTAL_CODE_DIGITS,
               p + 10);
  }
  tesoro_cursor_free(c);
  assert_int_equal(strlen(email_code), TESORO_PORTAL_CODE_DIGITS);
  return TESORO_OK;
}
static int f_email_verify(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  (void)s;
  return tesoro_portal_email_verify(T_, a, email_code);
}
static int pos_email_verify(sec *s, const sec_row *r, int64_t a) {
  int rc = ada_email_change(s);
  return rc ? rc : f_email_verify(s, r, a);
}
/* build_world requested a reset for Ada: its secret, from the outbox. */
static char reset_secret[64];
static int f_reset(sec *s, const sec_row *r, int64_t a) {
  int64_t client = SENTINEL;
  int rc = tesoro_portal_reset(T_, a, "ada@example.com", reset_secret,
                               "Another#2027", &client);
  (void)r;
  out_id(s, rc, client);
  return rc;
}
static int f_invitation_resend(sec *s, const sec_row *r, int64_t a) {
  char *pw = NULL;
  int rc = tesoro_portal_invitation_resend(T_, a, W_->contact, &pw);
  (void)r;
  out_text(s, rc, pw);
  return rc;
}
static int f_account_deactivate(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_portal_account_deactivate(T_, a, W_->contact);
}

/* --- exchange --- */
static char ev_buf[1024];
static int ingest(sec *s, int64_t a, const char *event) {
  char *res = NULL;
  int rc = tesoro_exchange_ingest(T_, a, event, &res);
  out_text(s, rc, res);
  return rc;
}
/* A "customer" event naming agency 1's contact Cara: another website must
** not link its customer to agency 1's contact. */
static int f_ingest_contact(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  snprintf(ev_buf, sizeof ev_buf,
           "{\"source_id\":\"sec-link\",\"type\":\"customer\",\"customer\":"
           "\"hf-link\",\"at\":%lld,\"name\":\"Linked\",\"contact_id\":%lld}",
           (long long)TU_NOW - 50, (long long)s->contact3);
  return ingest(s, a, ev_buf);
}
/* A view of agency 1's listing, by its reference (per agency: "TES-00007"
** names nothing in agency 2, which has one listing). */
static int f_ingest_view(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  snprintf(ev_buf, sizeof ev_buf,
           "{\"source_id\":\"sec-view\",\"type\":\"property_view\",\"customer\":"
           "\"hf-viewer\",\"at\":%lld,\"listing\":\"%s\"}",
           (long long)TU_NOW - 50, s->free_ref);
  return ingest(s, a, ev_buf);
}
/* The same view in a batch: a refused event is reported in the results and
** the call still returns OK; the event's own code is the call's answer. */
static int f_ingest_batch(sec *s, const sec_row *r, int64_t a) {
  char *res = NULL, batch[1200];
  int failed = -77, rc;
  (void)r;
  snprintf(batch, sizeof batch,
           "[{\"source_id\":\"sec-bview\",\"type\":\"property_view\",\"customer\":"
           "\"hf-viewer\",\"at\":%lld,\"listing\":\"%s\"}]",
           (long long)TU_NOW - 50, s->free_ref);
  rc = tesoro_exchange_ingest_batch(T_, a, batch, &failed, &res);
  if (rc != TESORO_OK) {
    if (failed != -77) s->outleak++;
    out_text(s, rc, res);
    return rc;
  }
  if (failed == 1) {
    rc = strstr(res, "\"ENOTFOUND\"")  ? TESORO_ENOTFOUND
         : strstr(res, "\"EDENIED\"") ? TESORO_EDENIED
                                        : TESORO_EINVAL;
    tesoro_free(res);
    return rc;
  }
  tesoro_free(res);
  return failed == 0 ? TESORO_OK : TESORO_EINVAL;
}
static int f_prospects(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  (void)r;
  return take(s, tesoro_prospects(T_, a, &c), &c, "id",
              IN_AGENCY_SQL("web_customer"), W_->agency);
}
static int f_prospect_approve(sec *s, const sec_row *r, int64_t a) {
  int64_t out = SENTINEL;
  int rc = tesoro_prospect_approve(T_, a, s->prospect, 0, 0, &out);
  (void)r;
  out_id(s, rc, out);
  return rc;
}
/* Approve the actor's own prospect as agency 1's contact Cara. */
static int f_prospect_approve_as(sec *s, const sec_row *r, int64_t a) {
  int64_t out = SENTINEL;
  int rc = tesoro_prospect_approve(T_, a, HOME(s, a, s->prospect, s->o_prospect),
                                   s->contact3, 0, &out);
  (void)r;
  out_id(s, rc, out);
  return rc;
}
static int f_prospect_discard(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_prospect_discard(T_, a, s->prospect, "spam", 0);
}
static int f_customer_searches(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  (void)r;
  return PLAIN(s, tesoro_customer_searches(T_, a, s->customer, &c), c);
}
static int f_customer_properties(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  (void)r;
  return PLAIN(s, tesoro_customer_properties(T_, a, s->customer, &c), c);
}
static int f_customer_enquiries(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  (void)r;
  return PLAIN(s, tesoro_customer_enquiries(T_, a, s->customer, &c), c);
}
static int f_customer_find(sec *s, const sec_row *r, int64_t a) {
  int64_t out = SENTINEL;
  int rc = tesoro_customer_find(T_, a, "hf-ada", &out);
  (void)r;
  out_id(s, rc, out);
  return rc;
}
static int f_contact_customer(sec *s, const sec_row *r, int64_t a) {
  int64_t out = SENTINEL;
  int rc = tesoro_contact_customer(T_, a, W_->contact, &out);
  (void)r;
  out_id(s, rc, out);
  return rc;
}
static int f_matches(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  (void)r;
  return PLAIN(s, tesoro_matches(T_, a, s->customer, &c), c);
}
static int f_call_list(sec *s, const sec_row *r, int64_t a) {
  tesoro_cursor *c = NULL;
  (void)r;
  return take(s, tesoro_call_list(T_, a, 100, &c), &c, "customer_id",
              IN_AGENCY_SQL("web_customer"), W_->agency);
}
static int f_search_new(sec *s, const sec_row *r, int64_t a) {
  int64_t out = SENTINEL;
  int rc = tesoro_search_save(T_, a, W_->contact, 0, "{\"min_bedrooms\":2}", 0,
                              &out);
  (void)r;
  out_id(s, rc, out);
  return rc;
}
/* Edit agency 1's search as the actor's own contact's. */
static int f_search_edit(sec *s, const sec_row *r, int64_t a) {
  int64_t out = SENTINEL;
  int rc = tesoro_search_save(T_, a, HOME(s, a, W_->contact, W_->other_contact),
                              s->crm_search, "{\"min_bedrooms\":3}", 1, &out);
  (void)r;
  out_id(s, rc, out);
  return rc;
}
static int f_search_delete(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_search_delete(T_, a, s->crm_search, 0);
}
static int f_interest(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_interest_register(T_, a, W_->contact,
                                  HOME(s, a, s->listing, s->o_listing));
}
static int f_interest_in(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_interest_register(T_, a, HOME(s, a, W_->contact, W_->other_contact),
                                  s->listing);
}
static int f_group_set(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_contact_set_group(T_, a, W_->contact, "grp-9");
}
static int f_vendor_confirm(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_vendor_confirm(T_, a, W_->contact,
                               HOME(s, a, s->listing, s->o_listing), "vendor");
}
static int f_vendor_confirm_of(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_vendor_confirm(T_, a, HOME(s, a, W_->contact, W_->other_contact),
                               s->listing, "vendor");
}
static int f_claim_reject(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_vendor_claim_reject(T_, a, s->claim, "not the owner", 0);
}

/* --- privacy --- */
static int f_consent(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_contact_set_consent(T_, a, W_->contact, TESORO_CONSENT_GRANTED,
                                    "Yes, send me news", 0);
}
static int f_export(sec *s, const sec_row *r, int64_t a) {
  char *json = NULL;
  int rc = tesoro_contact_export(T_, a, W_->contact, TESORO_EXPORT_DOCUMENT_BYTES,
                                 &json);
  (void)r;
  out_text(s, rc, json);
  return rc;
}
/* A correction of Ada's phone and language (no e-mail: the e-mail change of
** build_world waits for its code, and a second one would replace it). */
static int f_contact_update(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_contact_update(T_, a, W_->contact,
                               "{\"phone\":\"+31 6 9999 0000\","
                               "\"language\":\"de\"}",
                               0);
}
static int f_erase(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_contact_erase(T_, a, W_->contact, "asked to be forgotten");
}

/* The agency's prospect, a person only the website knows (the export is
** staff's, the erasure an admin's). */
static int f_wc_export(sec *s, const sec_row *r, int64_t a) {
  char *json = NULL;
  int rc = tesoro_web_customer_export(T_, a, s->prospect, &json);
  (void)r;
  out_text(s, rc, json);
  return rc;
}
static int f_wc_erase(sec *s, const sec_row *r, int64_t a) {
  (void)r;
  return tesoro_web_customer_erase(T_, a, s->prospect, "asked to be forgotten");
}

/* ------------------------------------------------------------------------
** The table.
*/
#define E(kind) TESORO_ENTITY_##kind
#define NO 0, 0
/* Staff-only data: refused to every other actor (and to Ada's own client). */
#define STAFF_ONLY (CROSS | CL | C2 | W | SY)
/* Data Ada's client may read: refused to everyone else who is not staff. */
#define CLIENT_DATA (CROSS | C2 | W | SY)

/* Reading an entity: every kind, by staff and, when it is hers, by Ada. */
#define ENTITY_ROWS(fn, name, kind, field)                                     \
  {name, fn, kind, TGT(field), A_AGENT, CROSS | C2 | W | SY, 0, 0, NULL, 0},   \
      {name " (her client)", fn, kind, TGT(field), A_CLIENT, CROSS | C2 | W | SY, \
       0, 0, NULL, 0}
#define STAFF_ENTITY_ROWS(fn, name, kind, field)                               \
  {name, fn, kind, TGT(field), A_AGENT, STAFF_ONLY, 0, 0, NULL, 0}

#define FOUR_READS(kind, field, ROWS)                                          \
  ROWS(f_entity_json, "entity_json " #kind, E(kind), field),                   \
      ROWS(f_entity_state, "entity_state " #kind, E(kind), field),             \
      ROWS(f_history, "history " #kind, E(kind), field),                       \
      ROWS(f_allowed, "allowed " #kind, E(kind), field)

static const sec_row matrix[] = {
    /* entity reads: 13 kinds */
    ENTITY_ROWS(f_entity_json, "entity_json CONTACT", E(CONTACT), ada),
    ENTITY_ROWS(f_history, "history CONTACT", E(CONTACT), ada),
    FOUR_READS(ROOM, room, ENTITY_ROWS),
    FOUR_READS(MANDATE, m_neg, ENTITY_ROWS),
    FOUR_READS(LISTING, listing, ENTITY_ROWS),
    FOUR_READS(DEAL, deal, ENTITY_ROWS),
    FOUR_READS(DEAL_PROPERTY, dp_new, ENTITY_ROWS),
    FOUR_READS(APPOINTMENT, appt_conf, ENTITY_ROWS),
    FOUR_READS(PORTAL_ACCOUNT, account, ENTITY_ROWS),
    FOUR_READS(TASK, task, STAFF_ENTITY_ROWS),
    FOUR_READS(REFERRAL, referral, STAFF_ENTITY_ROWS),
    FOUR_READS(WEB_CUSTOMER, customer, STAFF_ENTITY_ROWS),
    FOUR_READS(SEARCH, web_search, STAFF_ENTITY_ROWS),
    FOUR_READS(VENDOR_CLAIM, claim, STAFF_ENTITY_ROWS),

    /* agencies, staff, contacts */
    {"agency_website_actor", f_website_actor, 0, 0, A_ADMIN,
     CROSS | CL | C2 | W | SY, NO, NULL, 0},
    {"agent_create", f_agent_create, 0, 0, A_ADMIN, AG | CL | C2 | W | SY, NO, NULL,
     0},
    {"agency_set_portal", f_set_portal, 0, 0, A_ADMIN, AG | CL | C2 | W | SY, NO,
     NULL, 0},
    {"agency_set_referral_fee", f_set_referral_fee, 0, 0, A_ADMIN,
     AG | CL | C2 | W | SY, NO, NULL, 0},
    {"agency_set_viewing_duration", f_set_viewing_duration, 0, 0, A_ADMIN,
     AG | CL | C2 | W | SY, NO, NULL, 0},
    {"agency_set_push", f_set_push, 0, 0, A_ADMIN, AG | CL | C2 | W | SY, NO, NULL,
     0},
    {"agency_set_calendar", f_set_calendar, 0, 0, A_ADMIN, AG | CL | C2 | W | SY,
     NO, NULL, 0},
    {"contact_assign", f_contact_assign, 0, 0, A_AGENT, STAFF_ONLY, NO, NULL, 0},
    {"contact_assign own contact to agency 1's agent", f_contact_assign_to, 0, 0,
     A_AGENT, OA | OAD, NO, NULL, 0},
    {"contact_create", f_contact_create, 0, 0, A_AGENT, CL | C2 | W | SY | OC | OS,
     NO, NULL, 0},
    {"contact_request_submit", f_request_submit, 0, 0, A_WEBSITE,
     AG | CL | C2 | SY | OA | OAD | OC | OS, NO, NULL, 0},
    {"portal_register", f_register, 0, 0, A_WEBSITE,
     AG | CL | C2 | SY | OA | OAD | OC | OS, NO, NULL, 0},
    {"contact_client_actor", f_client_actor, 0, 0, A_AGENT, CROSS | CL | C2 | W | SY,
     NO, NULL, 0},
    {"activities", f_activities, 0, 0, A_AGENT, CLIENT_DATA, NO, NULL, 1},
    {"activities (her client)", f_activities, 0, 0, A_CLIENT, CLIENT_DATA, NO, NULL,
     1},

    /* tasks */
    {"tasks (agency)", f_tasks_all, 0, 0, A_AGENT, CL | C2 | W | SY | OW | OC | OS,
     0, OA | OAD, NULL, 1},
    {"tasks of a listing", f_tasks_of, E(LISTING), TGT(listing_draft), A_AGENT,
     STAFF_ONLY, NO, NULL, 1},
    {"task_complete", f_task_complete, 0, 0, A_AGENT, STAFF_ONLY, NO, NULL, 0},
    {"task_cancel", f_task_cancel, 0, 0, A_AGENT, STAFF_ONLY, NO, NULL, 0},

    /* documents */
    {"document_add ROOM", f_document_add, E(ROOM), TGT(room), A_CLIENT, CLIENT_DATA,
     NO, NULL, 0},
    {"document_add MANDATE", f_document_add, E(MANDATE), TGT(m_shared), A_CLIENT,
     CLIENT_DATA, NO, NULL, 0},
    {"document_add LISTING", f_document_add, E(LISTING), TGT(listing), A_AGENT,
     STAFF_ONLY, NO, NULL, 0},
    {"document_add APPOINTMENT", f_document_add, E(APPOINTMENT), TGT(appt_done),
     A_CLIENT, CLIENT_DATA | AG, NO, NULL, 0},
    {"document_read ROOM", f_document_read, 0, TGT(room_doc), A_CLIENT,
     CLIENT_DATA, NO, NULL, 0},
    {"document_read MANDATE", f_document_read, 0, TGT(mandate_doc), A_CLIENT,
     CLIENT_DATA, NO, NULL, 0},
    {"document_read LISTING", f_document_read, 0, TGT(listing_doc), A_AGENT,
     CLIENT_DATA, NO, NULL, 0},
    {"document_read APPOINTMENT", f_document_read, 0, TGT(appt_doc), A_CLIENT,
     CLIENT_DATA, NO, NULL, 0},
    {"documents ROOM", f_documents, E(ROOM), TGT(room), A_CLIENT, CLIENT_DATA, NO,
     NULL, 1},
    {"documents MANDATE", f_documents, E(MANDATE), TGT(m_shared), A_CLIENT,
     CLIENT_DATA, NO, NULL, 1},
    {"documents LISTING", f_documents, E(LISTING), TGT(listing), A_AGENT,
     CLIENT_DATA, NO, NULL, 1},
    {"documents APPOINTMENT", f_documents, E(APPOINTMENT), TGT(appt_done),
     A_CLIENT, CLIENT_DATA, NO, NULL, 1},

    /* seller onboarding */
    {"room_message_post", f_message_post, E(ROOM), TGT(room), A_CLIENT,
     CLIENT_DATA, NO, NULL, 0},
    {"room_note_add", f_note_add, E(ROOM), TGT(room), A_AGENT, STAFF_ONLY, NO,
     NULL, 0},
    {"room_messages", f_room_messages, E(ROOM), TGT(room), A_CLIENT, CLIENT_DATA,
     NO, NULL, 1},
    {"room_messages (staff)", f_room_messages, E(ROOM), TGT(room), A_AGENT,
     CLIENT_DATA, NO, NULL, 1},
    {"room_start_onboarding", f_start_onboarding, E(ROOM), TGT(room), A_AGENT,
     STAFF_ONLY, NO, NULL, 0},
    {"room_mark_lost", f_mark_lost, E(ROOM), TGT(room), A_AGENT, STAFF_ONLY, NO,
     NULL, 0},
    {"room_close", f_room_close, E(ROOM), TGT(room), A_AGENT, STAFF_ONLY, NO, NULL,
     0},
    {"mandate_propose", f_propose, E(MANDATE), TGT(m_neg), A_CLIENT, CLIENT_DATA,
     NO, NULL, 0},
    {"mandate_accept", f_accept, E(MANDATE), TGT(m_neg), A_CLIENT, CLIENT_DATA, NO,
     NULL, 0},
    {"mandate_share_form", f_share_form, E(MANDATE), TGT(m_agreed), A_AGENT,
     STAFF_ONLY, NO, NULL, 0},
    {"mandate_submit_form", f_submit_form, E(MANDATE), TGT(m_shared), A_CLIENT,
     CLIENT_DATA | AG, NO, NULL, 0},
    {"mandate_request_changes", f_request_changes, E(MANDATE), TGT(m_sub), A_AGENT,
     STAFF_ONLY, NO, NULL, 0},
    {"mandate_validate", f_validate, E(MANDATE), TGT(m_sub), A_AGENT, STAFF_ONLY,
     NO, NULL, 0},
    {"mandate_cancel", f_mandate_cancel, E(MANDATE), TGT(m_neg), A_AGENT,
     STAFF_ONLY, NO, NULL, 0},
    {"mandate_proposals", f_proposals, E(MANDATE), TGT(m_neg), A_CLIENT,
     CLIENT_DATA, NO, NULL, 1},
    {"listing_update", f_listing_update, E(LISTING), TGT(listing), A_AGENT,
     STAFF_ONLY, NO, NULL, 0},
    {"listing_publish", f_listing_publish, E(LISTING), TGT(listing_draft), A_AGENT,
     STAFF_ONLY, NO, NULL, 0},
    {"listing_unpublish", f_listing_unpublish, E(LISTING), TGT(listing), A_AGENT,
     STAFF_ONLY, NO, NULL, 0},

    /* deals and viewings */
    {"deal_create", f_deal_create, 0, 0, A_AGENT, STAFF_ONLY, NO, NULL, 0},
    {"deal_close", f_deal_close, E(DEAL), TGT(deal), A_AGENT, STAFF_ONLY, NO, NULL,
     0},
    {"deal_offer agency 1's listing to own deal", f_deal_offer_listing, 0, 0,
     A_AGENT, STAFF_ONLY, NO, NULL, 0},
    {"deal_offer own listing to agency 1's deal", f_deal_offer_into, E(DEAL),
     TGT(deal), A_AGENT, STAFF_ONLY, NO, NULL, 0},
    {"deal_properties", f_deal_properties, E(DEAL), TGT(deal), A_CLIENT,
     CLIENT_DATA, NO, NULL, 1},
    {"deal_property_interested", f_dp_interested, E(DEAL_PROPERTY), TGT(dp_new),
     A_CLIENT, CLIENT_DATA | AG, NO, NULL, 0},
    {"deal_property_not_interested", f_dp_not_interested, E(DEAL_PROPERTY),
     TGT(dp_new), A_CLIENT, CLIENT_DATA | AG, NO, NULL, 0},
    {"deal_property_approve", f_dp_approve, E(DEAL_PROPERTY), TGT(dp_int),
     A_CLIENT, CLIENT_DATA | AG, NO, NULL, 0},
    {"deal_property_favourite", f_dp_favourite, E(DEAL_PROPERTY), TGT(dp_new),
     A_CLIENT, CLIENT_DATA | AG, NO, NULL, 0},
    {"appointment_request", f_appt_request, E(DEAL_PROPERTY), TGT(dp_new),
     A_CLIENT, CLIENT_DATA | AG, NO, NULL, 0},
    {"appointment_confirm", f_appt_confirm, E(APPOINTMENT), TGT(appt_pending),
     A_AGENT, STAFF_ONLY, NO, NULL, 0},
    {"appointment_reschedule", f_appt_reschedule, E(APPOINTMENT), TGT(appt_conf),
     A_AGENT, STAFF_ONLY, NO, NULL, 0},
    {"appointment_reject", f_appt_reject, E(APPOINTMENT), TGT(appt_pending),
     A_AGENT, STAFF_ONLY, NO, NULL, 0},
    {"appointment_cancel", f_appt_cancel, E(APPOINTMENT), TGT(appt_pending),
     A_CLIENT, CLIENT_DATA, NO, NULL, 0},
    {"appointment_start_viewing", f_appt_start, E(APPOINTMENT), TGT(appt_conf),
     A_CLIENT, CLIENT_DATA | AG, NO, NULL, 0},
    {"appointment_record_no_show", f_appt_no_show, E(APPOINTMENT), TGT(appt_ns),
     A_AGENT, STAFF_ONLY, NO, NULL, 0},
    {"appointment_note_add", f_appt_note_add, E(APPOINTMENT), TGT(appt_done),
     A_CLIENT, CLIENT_DATA | AG, NO, NULL, 0},
    {"appointment_rate", f_appt_rate, E(APPOINTMENT), TGT(appt_done), A_CLIENT,
     CLIENT_DATA | AG, NO, NULL, 0},
    {"appointment_notes", f_appt_notes, E(APPOINTMENT), TGT(appt_done), A_CLIENT,
     CLIENT_DATA, NO, NULL, 1},
    {"appointment_ics", f_appt_ics, E(APPOINTMENT), TGT(appt_conf), A_CLIENT,
     CLIENT_DATA, NO, NULL, 0},
    {"appointments_client", f_appts_client, 0, 0, A_CLIENT,
     AG | W | SY | OA | OAD | OW | OS, 0, C2 | OC, NULL, 1},
    {"appointments_agent of agency 1's agent", f_appts_agent_of, 0, 0, A_AGENT,
     STAFF_ONLY, NO, NULL, 1},
    {"appointments_agent (own)", f_appts_agent_own, 0, 0, A_AGENT,
     CL | C2 | W | SY | OW | OC | OS, 0, OA | OAD, NULL, 1},

    /* referrals */
    {"referral_create", f_referral_create, 0, 0, A_AGENT, STAFF_ONLY, NO, NULL, 0},
    {"referral_create own contact for agency 1's agent", f_referral_create_for, 0,
     0, A_AGENT, OA | OAD, NO, NULL, 0},
    {"referral_move", f_referral_move, E(REFERRAL), TGT(referral), A_AGENT,
     STAFF_ONLY, NO, NULL, 0},
    {"referral_move in_escrow -> listing (closings)", f_referral_back,
     E(REFERRAL), TGT(referral_esc), A_CLOSINGS, STAFF_ONLY | AG, NO, NULL, 0},
    {"referral_note_add", f_referral_note_add, E(REFERRAL), TGT(referral), A_AGENT,
     STAFF_ONLY, NO, NULL, 0},
    {"referral_notes", f_referral_notes, E(REFERRAL), TGT(referral), A_AGENT,
     STAFF_ONLY, NO, NULL, 1},
    {"referrals (agency)", f_referrals_all, 0, 0, A_AGENT,
     CL | C2 | W | SY | OW | OC | OS, 0, OA | OAD, NULL, 1},
    {"referrals of agency 1's agent", f_referrals_of, 0, 0, A_AGENT, STAFF_ONLY,
     NO, NULL, 1},
    {"referral_pipeline (agency)", f_pipeline_all, 0, 0, A_AGENT,
     CL | C2 | W | SY | OW | OC | OS, 0, OA | OAD, NULL, 1},
    {"referral_pipeline of agency 1's agent", f_pipeline_of, 0, 0, A_AGENT,
     STAFF_ONLY, NO, NULL, 1},

    /* portal */
    {"portal_account_create", f_account_create, 0, 0, A_AGENT, STAFF_ONLY, NO, NULL,
     0},
    {"portal_account_of", f_account_of, 0, 0, A_AGENT, STAFF_ONLY, NO, NULL, 0},
    {"portal_login", f_login, 0, 0, A_WEBSITE,
     AG | CL | C2 | SY | OA | OAD | OC | OW | OS,
     NO, NULL, 0},
    {"portal_verify", f_verify, 0, 0, A_WEBSITE,
     AG | CL | C2 | SY | OA | OAD | OC | OW | OS, NO, NULL, 0},
    {"portal_password_change", f_password_change, 0, 0, A_CLIENT,
     AG | W | SY | OA | OAD | OW | OS, NO, NULL, 0},
    {"portal_step", f_portal_step, 0, 0, A_CLIENT, AG | W | SY | OA | OAD | OW | OS,
     NO, NULL, 0},
    {"portal_welcome_done", f_welcome_done, 0, 0, A_CLIENT2,
     AG | W | SY | OA | OAD | OW | OS, NO, NULL, 0},
    {"portal_tour_done", f_tour_done, 0, 0, A_CLIENT,
     AG | W | SY | OA | OAD | OW | OS, NO, NULL, 0},
    {"portal_tour_skip", f_tour_skip, 0, 0, A_CLIENT,
     AG | W | SY | OA | OAD | OW | OS, NO, NULL, 0},
    {"portal_tour_restart", f_tour_restart, 0, 0, A_CLIENT,
     AG | W | SY | OA | OAD | OW | OS, NO, pos_tour_restart, 0},
    {"portal_language", f_language, 0, 0, A_CLIENT,
     AG | W | SY | OA | OAD | OW | OS, NO, NULL, 0},
    {"portal_language_set", f_language_set, 0, 0, A_CLIENT,
     AG | W | SY | OA | OAD | OW | OS, NO, NULL, 0},
    {"portal_home", f_home, 0, 0, A_CLIENT, AG | W | SY | OA | OAD | OW | OS, NO,
     NULL, 0},
    {"portal_properties", f_portal_properties, 0, 0, A_CLIENT,
     AG | W | SY | OA | OAD | OW | OS, 0, C2 | OC, NULL, 1},
    {"portal_contact_agent about Ada's property", f_contact_agent,
     E(DEAL_PROPERTY), TGT(dp_new), A_CLIENT, AG | W | SY | CROSS | C2, NO, NULL,
     0},
    {"portal_property of a listing in Ada's feed", f_portal_property, E(LISTING),
     TGT(listing_b), A_CLIENT, AG | CLIENT_DATA, NO, NULL, 0},
    {"portal_session_open", f_session_open, 0, 0, A_WEBSITE,
     AG | CL | C2 | SY | OA | OAD | OC | OW | OS, NO, NULL, 0},
    {"portal_session_client of Ada's session", f_session_client, 0, 0, A_WEBSITE,
     AG | CL | C2 | SY | OA | OAD | OC | OW | OS, NO, NULL, 0},
    {"portal_session_end of Ada's session", f_session_end, 0, 0, A_WEBSITE,
     AG | CL | C2 | SY | OA | OAD | OC | OS, 0, OW, NULL, 0},
    {"portal_reset_request for Ada's e-mail", f_reset_request, 0, 0, A_WEBSITE,
     AG | CL | C2 | SY | OA | OAD | OC | OS, 0, OW, NULL, 0},
    {"portal_reset with Ada's secret", f_reset, 0, 0, A_WEBSITE,
     AG | CL | C2 | SY | OA | OAD | OC | OW | OS, NO, NULL, 0},
    /* the client's own account: another client verifies its own (it has
       no new e-mail waiting, ESTATE: test_email_code_is_the_clients_own) */
    {"portal_email_verify of Ada's new e-mail", f_email_verify, 0, 0, A_CLIENT,
     AG | AD | CS | W | SY | OA | OAD | OW | OS, NO, pos_email_verify, 0},
    {"portal_invitation_resend", f_invitation_resend, 0, 0, A_AGENT, STAFF_ONLY, NO,
     NULL, 0},
    {"portal_account_deactivate", f_account_deactivate, 0, 0, A_AGENT, STAFF_ONLY,
     NO, NULL, 0},

    /* notification preferences: the recipient, or an admin for staff (not
       for a client); calendar feeds: the subject, or an admin */
    {"notification_set of Ada's client", f_notification_set, 0,
     ACTOR_TGT(A_CLIENT), A_CLIENT, AG | AD | CS | CLIENT_DATA, NO, NULL, 0},
    {"notification_set of agency 1's agent", f_notification_set, 0,
     ACTOR_TGT(A_AGENT), A_AGENT, CS | CL | C2 | W | SY | CROSS, NO, NULL, 0},
    {"notification_set of agency 1's agent (admin)", f_notification_set, 0,
     ACTOR_TGT(A_AGENT), A_ADMIN, CS | CL | C2 | W | SY | CROSS, NO, NULL, 0},
    {"notification_channels of Ada's client", f_notification_channels, 0,
     ACTOR_TGT(A_CLIENT), A_CLIENT, AG | AD | CS | CLIENT_DATA, NO, NULL, 0},
    {"notification_channels of agency 1's agent", f_notification_channels, 0,
     ACTOR_TGT(A_AGENT), A_AGENT, CS | CL | C2 | W | SY | CROSS, NO, NULL, 0},
    {"notification_channels of agency 1's agent (admin)", f_notification_channels,
     0, ACTOR_TGT(A_AGENT), A_ADMIN, CS | CL | C2 | W | SY | CROSS, NO, NULL, 0},
    {"calendar_feed of Ada's client", f_calendar_feed, 0, ACTOR_TGT(A_CLIENT),
     A_CLIENT, AG | CS | CLIENT_DATA, NO, NULL, 0},
    {"calendar_feed of Ada's client (admin)", f_calendar_feed, 0,
     ACTOR_TGT(A_CLIENT), A_ADMIN, AG | CS | CLIENT_DATA, NO, NULL, 0},
    {"calendar_feed of agency 1's agent", f_calendar_feed, 0, ACTOR_TGT(A_AGENT),
     A_AGENT, CS | CL | C2 | W | SY | CROSS, NO, NULL, 0},
    {"calendar_feed of agency 1's agent (admin)", f_calendar_feed, 0,
     ACTOR_TGT(A_AGENT), A_ADMIN, CS | CL | C2 | W | SY | CROSS, NO, NULL, 0},

    /* exchange */
    {"exchange_ingest customer naming agency 1's contact", f_ingest_contact, 0, 0,
     A_WEBSITE, AG | CL | C2 | SY | OA | OAD | OC | OS | OW, NO, NULL, 0},
    {"exchange_ingest view of agency 1's listing", f_ingest_view, 0, 0, A_WEBSITE,
     AG | CL | C2 | SY | OA | OAD | OC | OS, OW, 0, NULL, 0},
    {"exchange_ingest_batch view of agency 1's listing", f_ingest_batch, 0, 0,
     A_WEBSITE, AG | CL | C2 | SY | OA | OAD | OC | OS, OW, 0, NULL, 0},
    {"prospects", f_prospects, 0, 0, A_AGENT, CL | C2 | W | SY | OW | OC | OS, 0,
     OA | OAD, NULL, 1},
    {"prospect_approve", f_prospect_approve, E(WEB_CUSTOMER), TGT(prospect),
     A_AGENT, STAFF_ONLY, NO, NULL, 0},
    {"prospect_approve own prospect as agency 1's contact", f_prospect_approve_as,
     0, 0, A_AGENT, OA | OAD, NO, NULL, 0},
    {"prospect_discard", f_prospect_discard, E(WEB_CUSTOMER), TGT(prospect),
     A_AGENT, STAFF_ONLY, NO, NULL, 0},
    {"customer_searches", f_customer_searches, E(WEB_CUSTOMER), TGT(customer),
     A_AGENT, STAFF_ONLY, NO, NULL, 1},
    {"customer_properties", f_customer_properties, E(WEB_CUSTOMER), TGT(customer),
     A_AGENT, STAFF_ONLY, NO, NULL, 1},
    {"customer_enquiries", f_customer_enquiries, E(WEB_CUSTOMER), TGT(customer),
     A_AGENT, STAFF_ONLY, NO, NULL, 1},
    {"customer_find", f_customer_find, 0, 0, A_AGENT, CL | C2 | W | SY | OW | OC | OS,
     OA | OAD, 0, NULL, 0},
    {"contact_customer", f_contact_customer, 0, 0, A_AGENT, STAFF_ONLY, NO, NULL, 0},
    {"matches", f_matches, E(WEB_CUSTOMER), TGT(customer), A_AGENT, STAFF_ONLY, NO,
     NULL, 1},
    {"call_list", f_call_list, 0, 0, A_AGENT, CL | C2 | W | SY | OW | OC | OS, 0,
     OA | OAD, NULL, 1},
    {"search_save (new)", f_search_new, 0, 0, A_AGENT, STAFF_ONLY, NO, NULL, 0},
    {"search_save editing agency 1's search", f_search_edit, E(SEARCH),
     TGT(crm_search), A_AGENT, STAFF_ONLY, NO, NULL, 0},
    {"search_delete", f_search_delete, E(SEARCH), TGT(crm_search), A_AGENT,
     STAFF_ONLY, NO, NULL, 0},
    {"interest_register for Ada", f_interest, 0, 0, A_AGENT, STAFF_ONLY, NO, NULL,
     0},
    {"interest_register in agency 1's listing", f_interest_in, 0, 0, A_AGENT,
     STAFF_ONLY, NO, NULL, 0},
    {"group_set", f_group_set, 0, 0, A_AGENT, STAFF_ONLY, NO, NULL, 0},
    {"vendor_confirm of Ada", f_vendor_confirm, 0, 0, A_AGENT, STAFF_ONLY, NO, NULL,
     0},
    {"vendor_confirm on agency 1's listing", f_vendor_confirm_of, 0, 0, A_AGENT,
     STAFF_ONLY, NO, NULL, 0},
    {"vendor_claim_reject", f_claim_reject, E(VENDOR_CLAIM), TGT(claim), A_AGENT,
     STAFF_ONLY, NO, NULL, 0},

    /* privacy */
    {"contact_consent_set", f_consent, 0, 0, A_AGENT, CROSS | C2 | SY, NO, NULL, 0},
    {"contact_consent_set (her client)", f_consent, 0, 0, A_CLIENT, CROSS | C2 | SY,
     NO, NULL, 0},
    {"contact_update", f_contact_update, 0, 0, A_AGENT, CLIENT_DATA, NO, NULL, 0},
    {"contact_update (her client)", f_contact_update, 0, 0, A_CLIENT, CLIENT_DATA,
     NO, NULL, 0},
    {"contact_export", f_export, 0, 0, A_AGENT, CLIENT_DATA, NO, NULL, 0},
    {"contact_export (her client)", f_export, 0, 0, A_CLIENT, CLIENT_DATA, NO, NULL,
     0},
    {"contact_erase", f_erase, 0, 0, A_ADMIN, CROSS | AG | CL | C2 | W | SY, NO,
     NULL, 0},
    {"web_customer_export", f_wc_export, 0, 0, A_AGENT, STAFF_ONLY, NO, NULL, 0},
    {"web_customer_erase", f_wc_erase, 0, 0, A_ADMIN,
     CROSS | AG | CL | C2 | W | SY, NO, NULL, 0},
};

/*
** TESORO_LIGHT (the valgrind run, some 50 times slower): each call's "changed
** nothing" is proved by PRAGMA data_version on a connection kept open (it
** moves on any commit by another connection), and the full digest is taken
** before and after the whole matrix instead of around every call; the
** hostile-text test takes three of its strings.
*/
static int light;
static sqlite3 *watch;

static int64_t data_version(void) {
  sqlite3_stmt *st = NULL;
  int64_t v = -1;
  assert_int_equal(sqlite3_prepare_v2(watch, "PRAGMA data_version", -1, &st, NULL),
                   SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  assert_true(v >= 0);
  return v;
}

/* ------------------------------------------------------------------------
** Building the world.
*/
#define OK(call) TU_OK(W_, call)

/* The open task of `kind` about (entity, id), by agency 1's agent. */
static int64_t find_task(sec *s, int entity, int64_t id, const char *kind) {
  tesoro_cursor *c = NULL;
  int64_t task = 0;
  OK(tesoro_tasks(T_, W_->agent, entity, id, &c));
  while (tesoro_cursor_next(c) == TESORO_ROW)
    if (strcmp(tu_col_text(c, "kind"), kind) == 0) task = tu_col_int(c, "id");
  tesoro_cursor_free(c);
  assert_true(task > 0);
  return task;
}

/* How far ada_walk takes a contact form of Ada's. */
enum {
  ST_OPEN,        /* room open */
  ST_NEGOTIATING, /* the agent proposed */
  ST_AGREED,      /* Ada accepted */
  ST_SHARED,      /* form shared, the signed mandate attached */
  ST_REVIEWED,    /* form submitted, review task done */
  ST_VALIDATED    /* listing filled from the form */
};

typedef struct walked {
  int64_t room, mandate, proposal, doc, listing;
} walked;

/* Ada submits the contact form again (a new room each time) and the agency
** takes it to `stage`. */
static walked ada_walk(sec *s, int stage) {
  walked o;
  int64_t client = 0;
  memset(&o, 0, sizeof o);
  OK(tesoro_contact_request_submit(T_, W_->website, "Ada Owner", "ada@example.com",
                                   TESORO_PROPERTY_HOUSE,
                                   "Keizersgracht 1, Amsterdam", 0, NULL, NULL,
                                   &o.room, &client));
  assert_int_equal(client, 0); /* Ada is known: the website gets no actor */
  if (stage == ST_OPEN) return o;
  OK(tesoro_room_start_onboarding(T_, W_->agent, o.room, 0, 0, &o.mandate));
  OK(tesoro_mandate_propose(T_, W_->agent, o.mandate, TESORO_COMMISSION_PERCENTAGE,
                            150, NULL, 1, 180, 0, &o.proposal));
  if (stage == ST_NEGOTIATING) return o;
  OK(tesoro_mandate_accept(T_, W_->client, o.mandate, o.proposal, 0, NULL));
  if (stage == ST_AGREED) return o;
  OK(tesoro_mandate_share_form(T_, W_->agent, o.mandate, 0));
  OK(tesoro_document_add(T_, W_->client, TESORO_ENTITY_MANDATE, o.mandate,
                         TESORO_DOC_SIGNED_MANDATE, "SECRET mandate.pdf",
                         "application/pdf", tu_pdf, (int64_t)tu_pdf_size, &o.doc));
  if (stage == ST_SHARED) return o;
  OK(tesoro_mandate_submit_form(T_, W_->client, o.mandate, seller_form, 0));
  OK(tesoro_task_complete(T_, W_->agent,
                          find_task(s, TESORO_ENTITY_MANDATE, o.mandate,
                                    "review_seller_form"),
                          0));
  if (stage == ST_REVIEWED) return o;
  OK(tesoro_mandate_validate(T_, W_->agent, o.mandate, 0, &o.listing));
  return o;
}

static int64_t request_viewing(sec *s, int64_t dp, int64_t at) {
  int64_t a = 0;
  OK(tesoro_appointment_request(T_, W_->client, dp, &at, 1, &a));
  return a;
}

static void ingest_ok(sec *s, int64_t website, const char *event) {
  char *res = NULL;
  OK(tesoro_exchange_ingest(T_, website, event, &res));
  assert_non_null(strstr(res, "\"applied\""));
  tesoro_free(res);
}

static sec *build_world(tu_world *w) {
  sec *s = calloc(1, sizeof *s);
  walked o;
  char *temp = NULL, *code = NULL, *ref;
  int64_t id = 0, client = 0, now = TU_NOW;
  int step = 0;
  char ev[1024];

  assert_non_null(s);
  s->w = w;
  s->ada = w->contact;
  s->actors[A_AGENT] = w->agent;
  s->actors[A_ADMIN] = w->admin;
  s->actors[A_CLOSINGS] = w->closings;
  s->actors[A_CLIENT] = w->client;
  s->actors[A_CLIENT2] = w->client2;
  s->actors[A_WEBSITE] = w->website;
  s->actors[A_SYSTEM] = tu_sqlf(w, "SELECT id FROM actor WHERE agency_id = %lld "
                                   "AND kind = 'system'", (long long)w->agency);
  s->actors[A_OTHER_AGENT] = w->other_agent;
  s->actors[A_OTHER_ADMIN] = w->other_admin;
  s->actors[A_OTHER_WEBSITE] = w->other_website;
  s->actors[A_OTHER_CLIENT] = w->other_client;
  s->actors[A_OTHER_SYSTEM] = tu_sqlf(w, "SELECT id FROM actor WHERE agency_id = "
                                         "%lld AND kind = 'system'",
                                      (long long)w->other_agency);
  assert_true(s->actors[A_SYSTEM] > 0 && s->actors[A_OTHER_SYSTEM] > 0);
  OK(tesoro_contact_create(T_, w->agent, "Cara Client", "cara@example.com", NULL,
                           "en", &s->contact3));

  /* Portal: Ada on the tour, Bob at the welcome slides, one registration
     waiting for its code. */
  OK(tesoro_portal_account_create(T_, w->agent, w->contact, &s->account, &temp));
  OK(tesoro_portal_login(T_, w->website, "ada@example.com", temp, &client, &step));
  assert_int_equal(client, w->client);
  OK(tesoro_portal_password_change(T_, w->client, temp, ADA_PW));
  tesoro_free(temp);
  OK(tesoro_portal_welcome_finish(T_, w->client));
  OK(tesoro_portal_account_create(T_, w->agent, w->contact2, &id, &temp));
  OK(tesoro_portal_password_change(T_, w->client2, temp, "Bobs#Pass2026"));
  tesoro_free(temp);
  OK(tesoro_portal_account_create(T_, w->other_agent, w->other_contact, &id,
                                  &temp));
  OK(tesoro_portal_password_change(T_, w->other_client, temp, "Ottos#Pass2026"));
  tesoro_free(temp);
  OK(tesoro_portal_register(T_, w->website, "Reg Person", "reg@example.com",
                            "Regist#2026", &id, &code));
  snprintf(reg_code, sizeof reg_code, "%s", code);
  tesoro_free(code);

  /* Seller onboarding: a room in every stage Ada's data goes through. */
  o = ada_walk(s, ST_OPEN);
  s->room = o.room;
  OK(tesoro_room_message_post(T_, w->client, s->room, "SECRET room message", &id));
  OK(tesoro_room_note_add(T_, w->agent, s->room, "SECRET private note", &id));
  OK(tesoro_document_add(T_, w->client, TESORO_ENTITY_ROOM, s->room,
                         TESORO_DOC_SHARED, "SECRET plan.pdf", "application/pdf",
                         tu_pdf, (int64_t)tu_pdf_size, &s->room_doc));
  o = ada_walk(s, ST_NEGOTIATING);
  s->m_neg = o.mandate;
  s->p_agent = o.proposal;
  s->m_agreed = ada_walk(s, ST_AGREED).mandate;
  o = ada_walk(s, ST_SHARED);
  s->m_shared = o.mandate;
  s->mandate_doc = o.doc;
  s->m_sub = ada_walk(s, ST_REVIEWED).mandate;
  s->listing = ada_walk(s, ST_VALIDATED).listing;
  OK(tesoro_listing_publish(T_, w->agent, s->listing, 0));
  s->listing_doc = tu_listing_photo(w, w->agent, s->listing);
  ref = tu_sqlf_text(w, "SELECT ref FROM listing WHERE id = %lld",
                     (long long)s->listing);
  assert_non_null(ref);
  snprintf(s->listing_ref, sizeof s->listing_ref, "%s", ref);
  free(ref);
  s->listing_draft = ada_walk(s, ST_VALIDATED).listing;
  s->task = find_task(s, TESORO_ENTITY_LISTING, s->listing_draft, "publish_listing");

  /* Deals and viewings: Ada looks for a house too. */
  s->listing_b = tu_published_listing(w, "House B", "Domplein 2, Utrecht", 400000);
  s->listing_c = tu_published_listing(w, "House C", "Domplein 3, Utrecht", 410000);
  s->listing_d = tu_published_listing(w, "House D", "Domplein 4, Utrecht", 420000);
  s->listing_free =
      tu_published_listing(w, "House E", "Domplein 5, Utrecht", 430000);
  ref = tu_sqlf_text(w, "SELECT ref FROM listing WHERE id = %lld",
                     (long long)s->listing_free);
  assert_non_null(ref);
  snprintf(s->free_ref, sizeof s->free_ref, "%s", ref);
  free(ref);
  OK(tesoro_deal_create(T_, w->agent, w->contact, "SECRET family home", &s->deal));
  OK(tesoro_deal_offer(T_, w->agent, s->deal, s->listing_b, &s->dp_new));
  OK(tesoro_deal_offer(T_, w->agent, s->deal, s->listing_c, &s->dp_int));
  OK(tesoro_deal_offer(T_, w->agent, s->deal, s->listing_d, &s->dp_viewed));
  OK(tesoro_deal_property_interested(T_, w->client, s->dp_int, 0));
  s->appt_pending = request_viewing(s, s->dp_new, now + 86400);
  /* TU_NOW is 22:26 in Amsterdam: these start later the same local day */
  s->appt_conf = request_viewing(s, s->dp_new, now + 1200);
  OK(tesoro_appointment_confirm(T_, w->agent, s->appt_conf, now + 1200, 0, 0));
  s->appt_done = request_viewing(s, s->dp_viewed, now + 1500);
  OK(tesoro_appointment_confirm(T_, w->agent, s->appt_done, now + 1500, 0, 0));
  OK(tesoro_appointment_start_viewing(T_, w->client, s->appt_done, 0));
  OK(tesoro_appointment_rate(T_, w->client, s->appt_done, 4, 0));
  OK(tesoro_appointment_note_add(T_, w->client, s->appt_done, "SECRET viewing note",
                                 &id));
  OK(tesoro_document_add(T_, w->client, TESORO_ENTITY_APPOINTMENT, s->appt_done,
                         TESORO_DOC_PHOTO, "SECRET kitchen.jpg", "image/jpeg",
                         tu_jpeg, (int64_t)tu_jpeg_size, &s->appt_doc));
  /* five minutes from now + 300: it has ended, and the tick completes it */
  s->appt_ns = request_viewing(s, s->dp_int, now + 300);
  OK(tesoro_appointment_confirm(T_, w->agent, s->appt_ns, now + 300,
                                TESORO_MIN_VIEWING_S, 0));
  OK(tesoro_tick(T_, now + 700, NULL));
  OK(tesoro_clock_set(T_, now + 800));

  /* Referrals. */
  OK(tesoro_referral_create(T_, w->agent, w->contact, 0, &s->referral));
  OK(tesoro_referral_move(T_, w->agent, s->referral, TESORO_STAGE_CONNECTED, NULL,
                          0));
  OK(tesoro_referral_note_add(T_, w->agent, s->referral, "SECRET referral note",
                              &id));
  OK(tesoro_referral_create(T_, w->agent, w->contact, 0, &s->referral_esc));
  OK(tesoro_referral_move(T_, w->agent, s->referral_esc, TESORO_STAGE_IN_ESCROW,
                          "{\"sale_price\":40000000,\"close_date\":\"2026-08-01\"}",
                          0));

  /* Exchange: Ada is a web customer with searches, views, an enquiry and a
     vendor claim; Pat waits in the holding tank. */
  OK(tesoro_search_save(T_, w->agent, w->contact, 0, "{\"max_price\":90000000}", 1,
                        &s->crm_search));
  snprintf(ev, sizeof ev,
           "{\"source_id\":\"a1\",\"type\":\"customer\",\"customer\":\"hf-ada\","
           "\"at\":%lld,\"name\":\"Ada Owner\",\"email\":\"ada@example.com\","
           "\"contact_id\":%lld}", (long long)TU_NOW - 100, (long long)w->contact);
  ingest_ok(s, w->website, ev);
  OK(tesoro_contact_customer(T_, w->agent, w->contact, &s->customer));
  snprintf(ev, sizeof ev,
           "{\"source_id\":\"a2\",\"type\":\"saved_search\",\"customer\":\"hf-ada\","
           "\"at\":%lld,\"search_id\":\"ws-1\",\"alert\":true}",
           (long long)TU_NOW - 90);
  ingest_ok(s, w->website, ev);
  s->web_search = tu_sqlf(w, "SELECT max(id) FROM search WHERE customer_id = %lld "
                             "AND id <> %lld", (long long)s->customer,
                          (long long)s->crm_search);
  assert_true(s->web_search > 0);
  snprintf(ev, sizeof ev,
           "{\"source_id\":\"a3\",\"type\":\"property_view\",\"customer\":"
           "\"hf-ada\",\"at\":%lld,\"listing\":\"%s\"}", (long long)TU_NOW - 80,
           s->listing_ref);
  ingest_ok(s, w->website, ev);
  snprintf(ev, sizeof ev,
           "{\"source_id\":\"a4\",\"type\":\"enquiry\",\"customer\":\"hf-ada\","
           "\"at\":%lld,\"enquiry_type\":\"property\",\"listing\":\"%s\","
           "\"message\":\"SECRET enquiry\"}", (long long)TU_NOW - 70,
           s->listing_ref);
  ingest_ok(s, w->website, ev);
  snprintf(ev, sizeof ev,
           "{\"source_id\":\"a5\",\"type\":\"vendor_claim\",\"customer\":\"hf-ada\","
           "\"at\":%lld,\"listing\":\"%s\",\"note\":\"SECRET claim\"}",
           (long long)TU_NOW - 60, s->listing_ref);
  ingest_ok(s, w->website, ev);
  s->claim = tu_sqlf(w, "SELECT max(id) FROM vendor_claim WHERE customer_id = %lld",
                     (long long)s->customer);
  assert_true(s->claim > 0);
  ingest_ok(s, w->website,
            "{\"source_id\":\"p1\",\"type\":\"customer\",\"customer\":\"hf-pros\","
            "\"at\":1779990000,\"name\":\"Pat Prospect\",\"email\":"
            "\"pat@example.com\"}");
  OK(tesoro_customer_find(T_, w->agent, "hf-pros", &s->prospect));

  /* Agency 2's own things, for the calls that mix two ids. */
  s->o_listing =
      tu_published_listing_other(w, "Their house", "1 High St, Leeds", 300000);
  OK(tesoro_deal_create(T_, w->other_agent, w->other_contact, "their search",
                        &s->o_deal));
  ingest_ok(s, w->other_website,
            "{\"source_id\":\"o1\",\"type\":\"customer\",\"customer\":\"hf-o1\","
            "\"at\":1779990000,\"name\":\"Olly Other\"}");
  OK(tesoro_customer_find(T_, w->other_agent, "hf-o1", &s->o_prospect));
  /* agency 2's references are its own: the one used below names nothing */
  ref = tu_sqlf_text(w, "SELECT ref FROM listing WHERE agency_id = %lld",
                     (long long)w->other_agency);
  assert_non_null(ref);
  assert_string_not_equal(ref, s->free_ref);
  free(ref);
  /* Portal, last (at the pinned clock): a live session of Ada's and a
     password reset waiting for its secret. */
  {
    char *token = NULL, *secret;
    OK(tesoro_portal_session_open(T_, w->website, "ada@example.com", ADA_PW,
                                  &token, &client, NULL));
    assert_int_equal(client, w->client);
    assert_int_equal(strlen(token), TESORO_PORTAL_TOKEN_LEN);
    snprintf(ada_token, sizeof ada_token, "%s", token);
    tesoro_free(token);
    OK(tesoro_portal_reset_request(T_, w->website, "ada@example.com"));
    secret = tu_sql_text(w, "SELECT json_extract(payload, '$.secret') FROM outbox "
                            "WHERE template = 'Portal Password Reset' ORDER BY id "
                            "DESC LIMIT 1");
    assert_non_null(secret);
    assert_int_equal(strlen(secret), TESORO_PORTAL_RESET_LEN);
    snprintf(reset_secret, sizeof reset_secret, "%s", secret);
    free(secret);
  }
  OK(tesoro_check(T_));
  return s;
}

static int sec_setup(void **state) {
  tu_world *w;
  if (tu_setup(state)) return -1;
  w = *state;
  *state = build_world(w);
  light = fu_light();
  if (sqlite3_open_v2(w->path, &watch, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
    return -1;
  sqlite3_busy_timeout(watch, 5000);
  return 0;
}

static int sec_teardown(void **state) {
  sec *s = *state;
  void *w = s->w;
  sqlite3_close(watch);
  watch = NULL;
  free(s);
  return tu_teardown(&w);
}

/* ------------------------------------------------------------------------
** Running the matrix.
*/
static struct {
  int cases, refused, leaks;
} total;

/* Text of agency 1 that no refusal message may carry.  The first, the
** marker planted in every private text, is matched in capitals, as planted:
** the word itself is in a message of its own ("the reset secret is wrong or
** has expired"); the others in any case. */
static const char *const secrets[] = {
    "SECRET",    "Ada Owner",   "ada@example.com", "Bob Buyer",
    "bob@",      "Tesoro Homes", "Keizersgracht",
    "Grachten",  "Cara",        "ada.owner@", NULL};

static const char *const table_of_kind[] = {
    NULL,          "contact",     "room",           "mandate",
    "listing",     "task",        "deal",           "deal_property",
    "appointment", "referral",    "portal_account", "web_customer",
    "search",      "vendor_claim"};

static int problems;

/* A token of the file's content: the digest, or under TESORO_LIGHT the data
** version (enough to see a commit). */
static void content(sec *s, char out[65]) {
  if (light)
    snprintf(out, 65, "data_version %lld", (long long)data_version());
  else
    tu_digest(W_, out);
}

#define PROBLEM(r, a, ...)                                                     \
  do {                                                                         \
    print_error("matrix: %s by %s: ", (r)->name, actor_names[a]);              \
    print_error(__VA_ARGS__);                                                  \
    print_error("\n");                                                         \
    problems++;                                                                \
  } while (0)

static void run_row(sec *s, const sec_row *r) {
  char base[65], after[65], msg[600], needle[80];
  char *state = NULL;
  int a, rc;

  content(s, base);
  if (r->kind > TESORO_ENTITY_CONTACT && r->target)
    state = tu_sqlf_text(W_, "SELECT state FROM %s WHERE id = %lld",
                         table_of_kind[r->kind], (long long)ID(s, r));
  snprintf(needle, sizeof needle, "is %s", state ? state : "");
  for (a = 0; a < A_COUNT; a++) {
    unsigned bit = BIT(a);
    int expect, leak = 0;
    if (r->denied & bit) expect = TESORO_EDENIED;
    else if (r->notfound & bit) expect = TESORO_ENOTFOUND;
    else if (r->scoped & bit) expect = TESORO_OK;
    else continue;
    s->rows = -1;
    s->foreign = s->outleak = 0;
    rc = r->fn(s, r, s->actors[a]);
    snprintf(msg, sizeof msg, "%s", tesoro_errmsg(T_));
    total.cases++;
    if (expect == TESORO_OK) {
      if (rc != TESORO_OK)
        PROBLEM(r, a, "returned %s, expected OK with its own agency's rows: %s",
                tesoro_errname(rc), msg);
      if (s->foreign) {
        leak = 1;
        PROBLEM(r, a, "LEAK: saw %d row(s) it must not see", s->foreign);
      }
    } else if (rc == expect) {
      total.refused++;
    } else if (rc >= 0) {
      leak = 1;
      PROBLEM(r, a, "LEAK: returned %s, expected %s", tesoro_errname(rc),
              tesoro_errname(expect));
    } else {
      PROBLEM(r, a, "returned %s, expected %s: %s", tesoro_errname(rc),
              tesoro_errname(expect), msg);
    }
    if (s->outleak) {
      leak = 1;
      PROBLEM(r, a, "LEAK: a refused call wrote %d out-parameter(s)", s->outleak);
    }
    if (rc < 0) {
      for (int i = 0; secrets[i]; i++)
        if (i == 0 ? strstr(msg, secrets[i]) != NULL
                   : tu_contains_ci(msg, secrets[i])) {
          leak = 1;
          PROBLEM(r, a, "LEAK: the message names \"%s\": %s", secrets[i], msg);
        }
      /* the state, to anyone but Ada's own client (who may read it) */
      if (state && a != A_CLIENT && tu_contains_ci(msg, needle)) {
        leak = 1;
        PROBLEM(r, a, "LEAK: the message tells the state: %s", msg);
      }
    }
    content(s, after);
    if (strcmp(base, after) != 0) {
      leak = 1;
      PROBLEM(r, a, "LEAK: the call changed the database (rc %s)",
              tesoro_errname(rc));
      memcpy(base, after, sizeof base);
    }
    total.leaks += leak;
  }
  free(state);

  /* Positive control: the legitimate actor, rolled back. */
  s->rows = -1;
  s->foreign = s->outleak = 0;
  OK(tesoro_begin(T_));
  rc = (r->pos ? r->pos : r->fn)(s, r, s->actors[r->legit]);
  snprintf(msg, sizeof msg, "%s", tesoro_errmsg(T_));
  tesoro_rollback(T_);
  if (rc != TESORO_OK)
    PROBLEM(r, r->legit, "positive control returned %s: %s", tesoro_errname(rc),
            msg);
  else if (r->need_rows && s->rows <= 0)
    PROBLEM(r, r->legit, "positive control: the cursor is empty");
  content(s, after);
  if (strcmp(base, after) != 0)
    PROBLEM(r, r->legit, "positive control was not rolled back");
}

static void test_matrix(void **state) {
  sec *s = *state;
  size_t i, n = sizeof matrix / sizeof matrix[0];
  int before = total.cases;
  char first[65], last[65];
  tu_digest(W_, first);
  for (i = 0; i < n; i++) run_row(s, &matrix[i]);
  tu_digest(W_, last);
  assert_string_equal(first, last);
  print_message("matrix: %zu calls, %d intruder cases\n", n, total.cases - before);
  assert_int_equal(problems, 0);
  OK(tesoro_check(T_));
}

/* ------------------------------------------------------------------------
** Existence across agencies.
*/

/* One refusal, counted with the matrix: `code`, nothing changed. */
#define COUNTED_REFUSAL(w, call, code)                                         \
  do {                                                                         \
    TU_ASSERT_REFUSED((w), (call), (code), NULL);                              \
    total.cases++;                                                             \
    total.refused++;                                                           \
  } while (0)

/*
** What an id tells another agency: an id of agency 1 is EDENIED with a
** message that names only the kind and the id given; an id that exists
** nowhere is ENOTFOUND.  So an intruder learns "entity N exists, in some
** other agency" (ids are global) and nothing more.
*/
static void test_existence_across_agencies(void **state) {
  sec *s = *state;
  static const size_t ids[] = {0, TGT(ada), TGT(room), TGT(m_neg), TGT(listing),
                               TGT(task), TGT(deal), TGT(dp_new), TGT(appt_conf),
                               TGT(referral), TGT(account), TGT(customer),
                               TGT(web_search), TGT(claim)};
  int64_t oa = W_->other_agent;
  for (int kind = TESORO_ENTITY_CONTACT; kind <= TESORO_ENTITY_VENDOR_CLAIM; kind++) {
    int64_t id = *(const int64_t *)(const void *)((const char *)s + ids[kind]);
    int64_t missing = id + 1000000;
    char *json = NULL, expect[160];
    COUNTED_REFUSAL(W_, tesoro_entity_json(T_, oa, kind, id, &json), TESORO_EDENIED);
    assert_null(json);
    snprintf(expect, sizeof expect,
             "%s %lld belongs to another agency than actor %lld",
             table_of_kind[kind], (long long)id, (long long)oa);
    assert_string_equal(tesoro_errmsg(T_), expect);
    COUNTED_REFUSAL(W_, tesoro_entity_json(T_, oa, kind, missing, &json),
                    TESORO_ENOTFOUND);
    assert_null(json);
    snprintf(expect, sizeof expect, "%s %lld does not exist", table_of_kind[kind],
             (long long)missing);
    assert_string_equal(tesoro_errmsg(T_), expect);
  }

  /* Keys that are per agency answer as if they did not exist. */
  {
    int64_t id = SENTINEL, client = SENTINEL;
    int step = -77;
    char known[300], unknown[300], ev[400];
    COUNTED_REFUSAL(W_, tesoro_customer_find(T_, oa, "hf-ada", &id), TESORO_ENOTFOUND);
    COUNTED_REFUSAL(W_, tesoro_customer_find(T_, oa, "hf-nobody", &id),
                    TESORO_ENOTFOUND);
    assert_int_equal(id, SENTINEL);
    /* a login at the other agency's portal with Ada's right password: the
       answer of an unknown e-mail, and Ada's failure count untouched */
    COUNTED_REFUSAL(W_, tesoro_portal_login(T_, W_->other_website, "ada@example.com",
                                            ADA_PW, &client, &step),
                    TESORO_EDENIED);
    snprintf(known, sizeof known, "%s", tesoro_errmsg(T_));
    COUNTED_REFUSAL(W_, tesoro_portal_login(T_, W_->other_website,
                                            "nobody@example.com", ADA_PW, &client,
                                            &step),
                    TESORO_EDENIED);
    snprintf(unknown, sizeof unknown, "%s", tesoro_errmsg(T_));
    assert_string_equal(known, unknown);
    assert_int_equal(client, SENTINEL);
    assert_int_equal(step, -77);
    COUNTED_REFUSAL(W_, tesoro_portal_verify(T_, W_->other_website, "reg@example.com",
                                             reg_code, &client),
                    TESORO_EDENIED);
    snprintf(ev, sizeof ev,
             "{\"source_id\":\"x1\",\"type\":\"property_view\",\"customer\":\"c\","
             "\"at\":%lld,\"listing\":\"%s\"}", (long long)TU_NOW, s->free_ref);
    COUNTED_REFUSAL(W_, ingest(s, W_->other_website, ev), TESORO_ENOTFOUND);
    snprintf(known, sizeof known, "%s", tesoro_errmsg(T_));
    COUNTED_REFUSAL(W_, ingest(s, W_->other_website,
                               "{\"source_id\":\"x1\",\"type\":\"property_view\","
                               "\"customer\":\"c\",\"at\":1780000000,"
                               "\"listing\":\"TES-99999\"}"),
                    TESORO_ENOTFOUND);
    /* the same message but for the reference the caller gave */
    assert_non_null(strstr(known, s->free_ref));
    assert_null(strstr(tesoro_errmsg(T_), s->free_ref));
  }

  /* The password reset and the sessions at the other agency's portal: Ada's
     e-mail, reset secret and session token answer as unknown ones do, and
     the two calls that answer TESORO_OK (a reset request, a logout) change
     nothing and queue nothing there. */
  {
    static const char unknown_token[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    int64_t client = SENTINEL;
    int64_t resets = tu_sql_int(W_, "SELECT count(*) FROM outbox WHERE template "
                                    "= 'Portal Password Reset'");
    char known[300], before[65], after[65];
    assert_int_equal(strlen(unknown_token), TESORO_PORTAL_TOKEN_LEN);
    tu_digest(W_, before);
    OK(tesoro_portal_reset_request(T_, W_->other_website, "ada@example.com"));
    OK(tesoro_portal_reset_request(T_, W_->other_website, "nobody@example.com"));
    OK(tesoro_portal_session_end(T_, W_->other_website, ada_token));
    OK(tesoro_portal_session_end(T_, W_->other_website, unknown_token));
    total.cases += 2; /* the two of Ada's (the matrix counts them "scoped") */
    tu_digest(W_, after);
    assert_string_equal(before, after);
    assert_int_equal(tu_sql_int(W_, "SELECT count(*) FROM outbox WHERE template "
                                    "= 'Portal Password Reset'"),
                     resets);
    COUNTED_REFUSAL(W_, tesoro_portal_reset(T_, W_->other_website, "ada@example.com",
                                            reset_secret, "Another#2027", &client),
                    TESORO_EDENIED);
    snprintf(known, sizeof known, "%s", tesoro_errmsg(T_));
    COUNTED_REFUSAL(W_, tesoro_portal_reset(T_, W_->other_website,
                                            "nobody@example.com", reset_secret,
                                            "Another#2027", &client),
                    TESORO_EDENIED);
    assert_string_equal(known, tesoro_errmsg(T_));
    COUNTED_REFUSAL(W_, tesoro_portal_session_client(T_, W_->other_website,
                                                     ada_token, &client),
                    TESORO_EDENIED);
    snprintf(known, sizeof known, "%s", tesoro_errmsg(T_));
    COUNTED_REFUSAL(W_, tesoro_portal_session_client(T_, W_->other_website,
                                                     unknown_token, &client),
                    TESORO_EDENIED);
    assert_string_equal(known, tesoro_errmsg(T_));
    assert_int_equal(client, SENTINEL);
    /* while Ada's session and secret still work at her own portal */
    OK(tesoro_portal_session_client(T_, W_->website, ada_token, &client));
    assert_int_equal(client, W_->client);
    assert_int_equal(tu_sqlf(W_, "SELECT count(*) FROM outbox WHERE template = "
                                 "'Portal Password Reset' AND json_extract(payload, "
                                 "'$.secret') = '%s'", reset_secret),
                     1);
  }
  OK(tesoro_check(T_));
}

/*
** A website "customer" event that names a contact who already is the web
** customer of another website id is EEXISTS, changes nothing, and in a batch
** is one skipped event (it used to reach the UNIQUE index: EDB, which rolls a
** whole batch back).
*/
static void test_customer_event_for_linked_contact(void **state) {
  sec *s = *state;
  char ev[400], batch[900], *res = NULL;
  int failed = -1;
  snprintf(ev, sizeof ev,
           "{\"source_id\":\"dup-1\",\"type\":\"customer\",\"customer\":\"hf-ada-2\","
           "\"at\":%lld,\"name\":\"Ada again\",\"contact_id\":%lld}",
           (long long)TU_NOW, (long long)W_->contact);
  TU_ASSERT_REFUSED(W_, tesoro_exchange_ingest(T_, W_->website, ev, &res),
                    TESORO_EEXISTS, "already web customer");
  assert_null(res);
  snprintf(batch, sizeof batch,
           "[%s, {\"source_id\":\"dup-2\",\"type\":\"visit\",\"customer\":\"hf-ada\","
           "\"at\":%lld,\"visits\":4}]", ev, (long long)TU_NOW);
  OK(tesoro_exchange_ingest_batch(T_, W_->website, batch, &failed, &res));
  assert_int_equal(failed, 1);
  assert_non_null(strstr(res, "\"EEXISTS\""));
  tesoro_free(res);
  assert_int_equal(tu_sqlf(W_, "SELECT visits FROM web_customer WHERE id = %lld",
                           (long long)s->customer), 4);
  assert_int_equal(tu_sqlf(W_, "SELECT count(*) FROM web_customer WHERE "
                               "external_id = 'hf-ada-2'"), 0);
  OK(tesoro_check(T_));
}

/*
** A new portal e-mail's code belongs to the client whose contact changed.
** The matrix leaves other clients out of portal_email_verify (each calls
** it about its own account, as for a password change); here they try
** Ada's code, all in one host transaction that is rolled back (a waiting
** e-mail fails tesoro_check: see ada_email_change).  With no new e-mail of
** their own waiting: ESTATE, about their own account.  With one waiting:
** Ada's code is wrong for it and the client's login stays; the code still
** switches Ada's.
*/
static void test_email_code_is_the_clients_own(void **state) {
  sec *s = *state;
  int64_t client = SENTINEL;
  int step = -77;
  char before[65], after[65];
  tu_digest(W_, before);
  OK(tesoro_begin(T_));
  OK(ada_email_change(s));
  assert_int_equal(tesoro_portal_email_verify(T_, W_->client2, email_code),
                   TESORO_ESTATE);
  assert_null(strstr(tesoro_errmsg(T_), "ada"));
  assert_int_equal(tesoro_portal_email_verify(T_, W_->other_client, email_code),
                   TESORO_ESTATE);
  assert_null(strstr(tesoro_errmsg(T_), "ada"));
  total.cases += 2;
  total.refused += 2;
  OK(tesoro_contact_update(T_, W_->agent, W_->contact2,
                           "{\"email\":\"bob.new@example.net\"}", 0));
  assert_int_equal(tesoro_portal_email_verify(T_, W_->client2, email_code),
                   TESORO_EDENIED);
  total.cases++;
  total.refused++;
  assert_null(strstr(tesoro_errmsg(T_), "ada"));
  assert_int_equal(tesoro_portal_login(T_, W_->website, "bob.new@example.net",
                                       "Bobs#Pass2026", &client, &step),
                   TESORO_EDENIED);
  OK(tesoro_portal_login(T_, W_->website, "bob@example.com", "Bobs#Pass2026",
                         &client, &step));
  assert_int_equal(client, W_->client2);
  OK(tesoro_portal_email_verify(T_, W_->client, email_code));
  OK(tesoro_portal_login(T_, W_->website, ADA_NEW_EMAIL, ADA_PW, &client, &step));
  assert_int_equal(client, W_->client);
  OK(tesoro_rollback(T_));
  tu_digest(W_, after);
  assert_string_equal(before, after);
  OK(tesoro_check(T_));
}

/* The system actor acts only through tick: a caller naming it is refused
** even where a machine lets the system fire the event (tasks). */
static void test_system_actor_is_not_a_caller(void **state) {
  sec *s = *state;
  COUNTED_REFUSAL(W_, tesoro_task_complete(T_, s->actors[A_SYSTEM], s->task, 0),
                  TESORO_EDENIED);
  assert_non_null(strstr(tesoro_errmsg(T_), "tesoro_tick"));
  COUNTED_REFUSAL(W_, tesoro_task_cancel(T_, s->actors[A_SYSTEM], s->task, 0),
                  TESORO_EDENIED);
  /* while tick still completes what the system must complete */
  assert_int_equal(tu_sqlf(W_, "SELECT count(*) FROM appointment WHERE id = %lld "
                               "AND state = 'completed'", (long long)s->appt_ns),
                   1);
  OK(tesoro_task_complete(T_, W_->agent, s->task, 0));
}

/* A client reads her room but never its private notes, not even in her own
** export. */
static void test_client_never_sees_private_notes(void **state) {
  sec *s = *state;
  tesoro_cursor *c = NULL;
  char *json = NULL;
  int notes = 0, rows = 0;
  OK(tesoro_room_messages(T_, W_->client, s->room, &c));
  while (tesoro_cursor_next(c) == TESORO_ROW) {
    rows++;
    notes += strcmp(tu_col_text(c, "kind"), "note") == 0;
    assert_null(strstr(tu_col_text(c, "body"), "private note"));
  }
  tesoro_cursor_free(c);
  assert_int_equal(rows, 1);
  assert_int_equal(notes, 0);
  OK(tesoro_contact_export(T_, W_->client, W_->contact, 0, &json));
  assert_null(strstr(json, "SECRET private note"));
  tesoro_free(json);
  /* while staff see it, so the check above could fail */
  OK(tesoro_contact_export(T_, W_->agent, W_->contact, 0, &json));
  assert_non_null(strstr(json, "SECRET private note"));
  tesoro_free(json);
}

/*
** Erasing the contact who owns every kind of entity keeps the file passing
** the checker; a failed referral's reason becomes "erased" (it used to
** become NULL, which the checker's "a failed referral keeps why" refused).
*/
static void test_erasure_keeps_the_invariants(void **state) {
  sec *s = *state;
  char *reason;
  OK(tesoro_referral_move(T_, W_->agent, s->referral, TESORO_STAGE_FAILED,
                          "{\"reason\":\"SECRET family matters\"}", 0));
  OK(tesoro_check(T_));
  OK(tesoro_contact_erase(T_, W_->admin, W_->contact, "asked"));
  OK(tesoro_check(T_));
  reason = tu_sqlf_text(W_, "SELECT fail_reason FROM referral WHERE id = %lld",
                        (long long)s->referral);
  assert_string_equal(reason, "erased");
  free(reason);
  assert_int_equal(tu_sql_int(W_, "SELECT count(*) FROM referral WHERE fail_reason "
                                  "LIKE '%family matters%'"), 0);
  /* and her client no longer acts */
  TU_ASSERT_REFUSED(W_, f_room_messages(s, NULL, W_->client), TESORO_EDENIED,
                    "erased");
}

/* ------------------------------------------------------------------------
** Hostile text, stored and read back verbatim.
*/
/* Each string, and whether the password policy refuses it ("no control
** characters": ICU's u_iscntrl, which counts the format characters — RTL
** overrides, zero-width space and joiner, BOM — as well as C0/C1). */
static const struct {
  const char *text;
  int control;
} hostile[] = {
    {"'); DROP TABLE contact; --", 0},
    {"%s%s%n%x", 0},
    {"\" OR 1=1 --", 0},
    {"Robert'); DELETE FROM history WHERE ('1'='1", 0},
    {"' UNION SELECT password_hash FROM portal_account --", 0},
    {"%99999999d %.*s %lld %p %%", 0},
    /* right-to-left override, zero-width space, joiner, BOM */
    {"\xE2\x80\xAE" "evil.pdf" "\xE2\x80\xAC" " zero\xE2\x80\x8Bwidth"
     "\xE2\x80\x8D" "\xEF\xBB\xBF" "!", 1},
    /* house, key, a family (a ZWJ sequence), a flag */
    {"\xF0\x9F\x8F\xA0\xF0\x9F\x94\x91 \xF0\x9F\x91\xA8\xE2\x80\x8D"
     "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7 \xF0\x9F\x87\xB3"
     "\xF0\x9F\x87\xB1", 1},
    /* emoji without a joiner */
    {"\xF0\x9F\x8F\xA0 \xF0\x9F\x94\x91 \xF0\x9F\x98\x80", 0},
    {"O'Brien said \"hi\" \\ `x` '' \"\" \\\" </script><script>alert(1)</script>", 0},
    {"\"},{\"injected\":true,\"x\":\"", 0},
    {"line one\nline two\ttabbed\r\nend", 1},
};

/*
** A JSON text built by SQLite from `select` (one json_object(...) expression)
** with ?1 = x, ?2 = y, ?3 = n.  malloc'd.
*/
static char *jsonb(const char *select, const char *x, const char *y, int64_t n) {
  sqlite3_stmt *st = tu_mem_stmt(select, x, NULL);
  char *out;
  int np = sqlite3_bind_parameter_count(st);
  if (np >= 2) sqlite3_bind_text(st, 2, y, -1, SQLITE_TRANSIENT);
  if (np >= 3) sqlite3_bind_int64(st, 3, n);
  out = tu_mem_text(st);
  assert_non_null(out);
  return out;
}

/* How many text values of the JSON document equal x exactly (any depth). */
static int json_has(const char *json, const char *x) {
  sqlite3_stmt *st;
  int n;
  assert_non_null(json);
  st = tu_mem_stmt("SELECT count(*) FROM json_tree(?1) WHERE "
                   "type = 'text' AND atom = ?2",
                   json, x);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  n = sqlite3_column_int(st, 0);
  tu_mem_done(st);
  return n;
}

static int verified; /* read-backs that matched, counted */

#define VERBATIM(cond, what)                                                   \
  do {                                                                         \
    if (!(cond)) {                                                             \
      print_error("hostile text #%d (%s): %s did not come back verbatim\n", hx, \
                  x, what);                                                    \
      fail();                                                                  \
    }                                                                          \
    verified++;                                                                \
  } while (0)

/* entity_json of (kind, id) as `actor` holds x. */
static int entity_has(sec *s, int64_t actor, int kind, int64_t id, const char *x) {
  char *json = NULL;
  int n;
  OK(tesoro_entity_json(T_, actor, kind, id, &json));
  n = json_has(json, x);
  tesoro_free(json);
  return n;
}

/* The details of some history row of (kind, id) hold x. */
static int history_has(sec *s, int kind, int64_t id, const char *x) {
  tesoro_cursor *c = NULL;
  int n = 0;
  OK(tesoro_history(T_, W_->agent, kind, id, &c));
  while (tesoro_cursor_next(c) == TESORO_ROW) {
    const char *d = tu_col_text(c, "details");
    if (d) n += json_has(d, x);
  }
  tesoro_cursor_free(c);
  return n;
}

/* Some row of the cursor has column `col` equal to x; frees the cursor. */
static int cursor_has(sec *s, int rc, tesoro_cursor **cp, const char *col,
                      const char *x) {
  tesoro_cursor *c = *cp;
  int n = 0;
  OK(rc);
  while (tesoro_cursor_next(c) == TESORO_ROW) {
    const char *v = tu_col_text(c, col);
    n += v && strcmp(v, x) == 0;
  }
  tesoro_cursor_free(c);
  return n;
}

/* The file holds x in table.col (a bound parameter, a separate connection). */
static int stored(sec *s, const char *table, const char *col, const char *x) {
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  char sql[200];
  int n;
  snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\" WHERE \"%s\" = ?1", table,
           col);
  assert_int_equal(sqlite3_open_v2(W_->path, &db, SQLITE_OPEN_READONLY, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  sqlite3_bind_text(st, 1, x, -1, SQLITE_TRANSIENT);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

/* The iCalendar text unfolded (CRLF + space/tab removed) and its TEXT
** escapes undone (\\ \; \, \n \N).  malloc'd. */
static char *ics_plain(const char *ics) {
  size_t n = strlen(ics), i, j = 0;
  char *out = malloc(n + 1);
  assert_non_null(out);
  for (i = 0; i < n; i++) {
    if (ics[i] == '\r' && ics[i + 1] == '\n' &&
        (ics[i + 2] == ' ' || ics[i + 2] == '\t')) {
      i += 2;
      continue;
    }
    if (ics[i] == '\\' && i + 1 < n) {
      char e = ics[i + 1];
      if (e == '\\' || e == ';' || e == ',') { out[j++] = e; i++; continue; }
      if (e == 'n' || e == 'N') { out[j++] = '\n'; i++; continue; }
    }
    out[j++] = ics[i];
  }
  out[j] = 0;
  return out;
}

/* Every call that takes text stores x; every reading call returns it. */
static void hostile_one(sec *s, int hx, const char *x, int control) {
  tu_world *w = W_;
  tesoro_cursor *c = NULL;
  char email[80], ext[260], *json, *code = NULL, *res = NULL, *ref;
  int64_t contact, room, room2, client, mandate, proposal, doc, task, listing,
      deal, dp, appt, referral, note, account, customer, claim, search, id,
      reg_client, now = tesoro_now(T_);
  int step, has_cr = strchr(x, '\r') != NULL;

  /* contacts */
  snprintf(email, sizeof email, "hostile%d@example.com", hx);
  OK(tesoro_contact_create(T_, w->agent, x, email,
                           strlen(x) <= TESORO_MAX_PHONE ? x : NULL,
                           NULL, &contact));
  VERBATIM(entity_has(s, w->agent, TESORO_ENTITY_CONTACT, contact, x) >= 1,
           "contact name (entity_json)");
  VERBATIM(stored(s, "contact", "name", x) >= 1, "contact name (file)");
  OK(tesoro_contact_set_consent(T_, w->agent, contact, TESORO_CONSENT_GRANTED, x, 0));
  VERBATIM(entity_has(s, w->agent, TESORO_ENTITY_CONTACT, contact, x) >= 2,
           "consent statement");

  /* seller onboarding */
  snprintf(email, sizeof email, "owner%d@example.com", hx);
  OK(tesoro_contact_request_submit(T_, w->website, x, email, TESORO_PROPERTY_HOUSE,
                                   x, 100, x, x, &room, &client));
  VERBATIM(entity_has(s, w->agent, TESORO_ENTITY_ROOM, room, x) >= 3,
           "room location, timeline, description");
  OK(tesoro_room_message_post(T_, client, room, x, &id));
  OK(tesoro_room_note_add(T_, w->agent, room, x, &id));
  OK(tesoro_room_messages(T_, client, room, &c));
  VERBATIM(cursor_has(s, TESORO_OK, &c, "body", x) == 1, "room message (client)");
  OK(tesoro_room_messages(T_, w->agent, room, &c));
  VERBATIM(cursor_has(s, TESORO_OK, &c, "body", x) == 2, "message and note (staff)");
  OK(tesoro_document_add(T_, client, TESORO_ENTITY_ROOM, room, TESORO_DOC_SHARED, x,
                         "application/pdf", tu_pdf, (int64_t)tu_pdf_size, &doc));
  OK(tesoro_documents(T_, client, TESORO_ENTITY_ROOM, room, &c));
  VERBATIM(cursor_has(s, TESORO_OK, &c, "name", x) == 1, "document name");
  OK(tesoro_room_start_onboarding(T_, w->agent, room, 0, 0, &mandate));
  OK(tesoro_mandate_propose(T_, w->agent, mandate, TESORO_COMMISSION_FIXED, 500000,
                            "EUR", 0, 90, 0, &proposal));
  OK(tesoro_mandate_accept(T_, client, mandate, proposal, 0, NULL));
  OK(tesoro_mandate_share_form(T_, w->agent, mandate, 0));
  OK(tesoro_document_add(T_, client, TESORO_ENTITY_MANDATE, mandate,
                         TESORO_DOC_SIGNED_MANDATE, x, "application/pdf", tu_pdf,
                         (int64_t)tu_pdf_size, &doc));
  json = jsonb("SELECT json_object('full_name', ?1, 'email', ?2, 'phone', "
               "'+31 6 0000 0000', 'address', ?1, 'property_type', 'house', "
               "'title', ?1, 'description', ?1, 'price', 350000)",
               x, email, 0);
  OK(tesoro_mandate_submit_form(T_, client, mandate, json, 0));
  OK(tesoro_mandate_request_changes(T_, w->agent, mandate, x, 0));
  VERBATIM(history_has(s, TESORO_ENTITY_MANDATE, mandate, x) >= 1,
           "request_changes reason (history)");
  OK(tesoro_mandate_submit_form(T_, client, mandate, json, 0));
  free(json);
  task = find_task(s, TESORO_ENTITY_MANDATE, mandate, "review_seller_form");
  OK(tesoro_task_complete(T_, w->agent, task, 0));
  OK(tesoro_mandate_validate(T_, w->agent, mandate, 0, &listing));
  VERBATIM(entity_has(s, w->agent, TESORO_ENTITY_LISTING, listing, x) >= 3,
           "listing title, address, description from the form");
  json = jsonb("SELECT json_object('title', ?1, 'address', ?1, 'description', ?1, "
               "'energy_label', 'B')", x, NULL, 0);
  OK(tesoro_listing_update(T_, w->agent, listing, json, 0));
  free(json);
  VERBATIM(entity_has(s, client, TESORO_ENTITY_LISTING, listing, x) >= 3,
           "listing_update fields (the seller's view)");
  OK(tesoro_listing_publish(T_, w->agent, listing, 0));
  OK(tesoro_document_add(T_, w->agent, TESORO_ENTITY_LISTING, listing,
                         TESORO_DOC_PHOTO, x, "image/jpeg", tu_jpeg,
                         (int64_t)tu_jpeg_size, &doc));
  OK(tesoro_documents(T_, w->agent, TESORO_ENTITY_LISTING, listing, &c));
  VERBATIM(cursor_has(s, TESORO_OK, &c, "name", x) == 1, "listing photo name");
  /* endings with reasons: three more rooms of the same owner */
  OK(tesoro_contact_request_submit(T_, w->website, x, email, TESORO_PROPERTY_LAND, x,
                                   0, NULL, NULL, &room2, NULL));
  OK(tesoro_room_mark_lost(T_, w->agent, room2, x, 0));
  VERBATIM(history_has(s, TESORO_ENTITY_ROOM, room2, x) >= 1, "mark_lost reason");
  OK(tesoro_contact_request_submit(T_, w->website, x, email, TESORO_PROPERTY_LAND, x,
                                   0, NULL, NULL, &room2, NULL));
  OK(tesoro_room_close(T_, w->agent, room2, x, 0));
  VERBATIM(history_has(s, TESORO_ENTITY_ROOM, room2, x) >= 1, "close reason");
  OK(tesoro_contact_request_submit(T_, w->website, x, email, TESORO_PROPERTY_LAND, x,
                                   0, NULL, NULL, &room2, NULL));
  OK(tesoro_room_start_onboarding(T_, w->agent, room2, 0, 0, &id));
  OK(tesoro_mandate_cancel(T_, w->agent, id, x, 0));
  VERBATIM(history_has(s, TESORO_ENTITY_MANDATE, id, x) >= 1, "mandate cancel reason");

  /* deals and viewings: Bob (client2) */
  OK(tesoro_deal_create(T_, w->agent, w->contact2, x, &deal));
  VERBATIM(entity_has(s, w->client2, TESORO_ENTITY_DEAL, deal, x) >= 1,
           "deal name (the client's view)");
  OK(tesoro_deal_offer(T_, w->agent, deal, listing, &dp));
  OK(tesoro_deal_properties(T_, w->client2, deal, &c));
  VERBATIM(cursor_has(s, TESORO_OK, &c, "title", x) == 1, "offered listing title");
  OK(tesoro_deal_property_not_interested(T_, w->client2, dp, TESORO_REJECT_OTHER, x, 0));
  OK(tesoro_portal_properties(T_, w->client2, TESORO_FEED_ALL, &c));
  VERBATIM(cursor_has(s, TESORO_OK, &c, "reject_note", x) == 1, "reject note");
  OK(tesoro_deal_property_interested(T_, w->client2, dp, 0));
  {
    int64_t at = now + 2 * 86400;
    OK(tesoro_appointment_request(T_, w->client2, dp, &at, 1, &appt));
    OK(tesoro_appointment_reject(T_, w->agent, appt, x, 0));
    VERBATIM(history_has(s, TESORO_ENTITY_APPOINTMENT, appt, x) >= 1, "reject reason");
    OK(tesoro_appointment_request(T_, w->client2, dp, &at, 1, &appt));
    OK(tesoro_appointment_cancel(T_, w->client2, appt, x, 0));
    VERBATIM(history_has(s, TESORO_ENTITY_APPOINTMENT, appt, x) >= 1, "cancel reason");
    OK(tesoro_appointment_request(T_, w->client2, dp, &at, 1, &appt));
    OK(tesoro_appointment_ics(T_, w->client2, appt, x, &json));
    if (!has_cr) { /* iCalendar has no way to write a bare CR */
      char *plain = ics_plain(json), summary[400];
      snprintf(summary, sizeof summary, "SUMMARY:%s Property Viewing", x);
      VERBATIM(strstr(plain, summary) != NULL, "iCalendar SUMMARY (the title)");
      VERBATIM(strstr(plain, x) != NULL, "iCalendar DESCRIPTION link");
      free(plain);
    }
    tesoro_free(json);
    at = now + 100;
    OK(tesoro_appointment_request(T_, w->client2, dp, &at, 1, &appt));
    OK(tesoro_appointment_confirm(T_, w->agent, appt, at, TESORO_MIN_VIEWING_S,
                                  0));
    OK(tesoro_tick(T_, now + 450, NULL));
    OK(tesoro_clock_set(T_, now + 500));
    OK(tesoro_appointment_note_add(T_, w->client2, appt, x, &note));
    OK(tesoro_appointment_notes(T_, w->agent, appt, &c));
    VERBATIM(cursor_has(s, TESORO_OK, &c, "body", x) == 1, "viewing note");
    OK(tesoro_appointment_record_no_show(T_, w->agent, appt, x, 0));
    VERBATIM(history_has(s, TESORO_ENTITY_APPOINTMENT, appt, x) >= 1, "no-show note");
  }
  OK(tesoro_portal_contact_agent(T_, w->client2, dp, x, &id));
  VERBATIM(stored(s, "portal_message", "body", x) == 1, "contact-agent message (file)");
  OK(tesoro_contact_export(T_, w->client2, w->contact2, 0, &json));
  VERBATIM(json_has(json, x) >= 1, "contact-agent message (the client's export)");
  tesoro_free(json);
  OK(tesoro_deal_close(T_, w->agent, deal, x, 0));
  VERBATIM(history_has(s, TESORO_ENTITY_DEAL, deal, x) >= 1, "deal close reason");

  /* referrals */
  OK(tesoro_referral_create(T_, w->agent, contact, 0, &referral));
  OK(tesoro_referral_note_add(T_, w->agent, referral, x, &note));
  OK(tesoro_referral_notes(T_, w->agent, referral, &c));
  VERBATIM(cursor_has(s, TESORO_OK, &c, "body", x) == 1, "referral note");
  json = jsonb("SELECT json_object('reason', ?1)", x, NULL, 0);
  OK(tesoro_referral_move(T_, w->agent, referral, TESORO_STAGE_FAILED, json, 0));
  free(json);
  VERBATIM(entity_has(s, w->agent, TESORO_ENTITY_REFERRAL, referral, x) >= 1,
           "referral fail reason");

  /* portal: a self-registration named x, whose password holds x */
  snprintf(email, sizeof email, "reg%d@example.com", hx);
  OK(tesoro_portal_register(T_, w->website, x, email, "Regist#2026", &account, &code));
  OK(tesoro_portal_verify(T_, w->website, email, code, &reg_client));
  tesoro_free(code);
  OK(tesoro_actor_info(T_, reg_client, NULL, NULL, &id));
  VERBATIM(entity_has(s, w->agent, TESORO_ENTITY_CONTACT, id, x) >= 1,
           "registered name (the new lead)");
  {
    char pw[300];
    snprintf(pw, sizeof pw, "%sAa1!", x);
    if (control) {
      TU_ASSERT_REFUSED(w, tesoro_portal_password_change(T_, reg_client,
                                                         "Regist#2026", pw),
                        TESORO_EINVAL, "control");
    } else {
      int64_t again = 0;
      OK(tesoro_portal_password_change(T_, reg_client, "Regist#2026", pw));
      OK(tesoro_portal_login(T_, w->website, email, pw, &again, &step));
      VERBATIM(again == reg_client, "password (a login with it)");
    }
  }

  /* exchange: every text field of every event type */
  snprintf(ext, sizeof ext, "%s#%d", x, hx);
  ref = tu_sqlf_text(w, "SELECT ref FROM listing WHERE id = %lld", (long long)listing);
  json = jsonb("SELECT json_object('source_id', ?2 || '/1', 'type', 'customer', "
               "'customer', ?2, 'at', ?3, 'name', ?1)", x, ext, now);
  OK(tesoro_exchange_ingest(T_, w->website, json, &res));
  free(json);
  {
    char sid[300];
    snprintf(sid, sizeof sid, "%s/1", ext);
    VERBATIM(json_has(res, sid) == 1, "source_id (the ingest result)");
  }
  tesoro_free(res);
  OK(tesoro_customer_find(T_, w->agent, ext, &customer));
  VERBATIM(customer > 0, "website customer id (customer_find)");
  OK(tesoro_prospects(T_, w->agent, &c));
  VERBATIM(cursor_has(s, TESORO_OK, &c, "name", x) == 1, "prospect name");
  OK(tesoro_prospects(T_, w->agent, &c));
  VERBATIM(cursor_has(s, TESORO_OK, &c, "external_id", ext) == 1, "prospect website id");
  json = jsonb("SELECT json_object('source_id', ?2 || '/2', 'type', 'saved_search', "
               "'customer', ?2, 'at', ?3, 'search_id', ?1, 'alert', json('true'), "
               "'area', json_object('name', ?1, 'centre', json_object('type', "
               "'Point', 'coordinates', json_array(5.1, 52.1)), 'radius', 900))",
               x, ext, now);
  OK(tesoro_exchange_ingest(T_, w->website, json, &res));
  free(json);
  tesoro_free(res);
  OK(tesoro_customer_searches(T_, w->agent, customer, &c));
  VERBATIM(cursor_has(s, TESORO_OK, &c, "name", x) == 1, "search area name");
  OK(tesoro_customer_searches(T_, w->agent, customer, &c));
  VERBATIM(cursor_has(s, TESORO_OK, &c, "external_id", x) == 1, "website search id");
  json = jsonb("SELECT json_object('source_id', ?2 || '/3', 'type', 'enquiry', "
               "'customer', ?2, 'at', ?3, 'enquiry_type', 'general', 'message', ?1)",
               x, ext, now);
  OK(tesoro_exchange_ingest(T_, w->website, json, &res));
  free(json);
  tesoro_free(res);
  OK(tesoro_customer_enquiries(T_, w->agent, customer, &c));
  VERBATIM(cursor_has(s, TESORO_OK, &c, "message", x) == 1, "enquiry message");
  json = jsonb("SELECT json_object('source_id', ?2 || '/4', 'type', 'property_rank', "
               "'customer', ?2, 'at', ?3, 'listing', ?4, 'rank', 3, 'note', ?1, "
               "'shared', json('true'))", x, ext, now);
  {
    /* ?4 is the listing reference: substitute it in the built JSON */
    char *full = jsonb("SELECT json_set(?1, '$.listing', ?2)", json, ref, 0);
    free(json);
    OK(tesoro_exchange_ingest(T_, w->website, full, &res));
    tesoro_free(res);
    json = jsonb("SELECT json_set(json_set(json_set(?1, '$.source_id', "
                 "json_extract(?1, '$.source_id') || 'c'), '$.type', "
                 "'vendor_claim'), '$.rank', NULL)", full, NULL, 0);
    free(full);
  }
  OK(tesoro_customer_properties(T_, w->agent, customer, &c));
  VERBATIM(cursor_has(s, TESORO_OK, &c, "note", x) == 1, "shared rank note");
  {
    char *claim_ev = jsonb("SELECT json_remove(json_remove(?1, '$.rank'), "
                           "'$.shared')", json, NULL, 0);
    free(json);
    OK(tesoro_exchange_ingest(T_, w->website, claim_ev, &res));
    free(claim_ev);
    tesoro_free(res);
  }
  claim = tu_sqlf(w, "SELECT max(id) FROM vendor_claim WHERE customer_id = %lld",
                  (long long)customer);
  VERBATIM(entity_has(s, w->agent, TESORO_ENTITY_VENDOR_CLAIM, claim, x) >= 1,
           "vendor claim note");
  OK(tesoro_vendor_claim_reject(T_, w->agent, claim, x, 0));
  VERBATIM(history_has(s, TESORO_ENTITY_VENDOR_CLAIM, claim, x) >= 1,
           "claim reject reason");
  json = jsonb("SELECT json_object('source_id', ?2 || '/5', 'type', 'group', "
               "'customer', ?2, 'at', ?3, 'group', ?1)", x, ext, now);
  OK(tesoro_exchange_ingest(T_, w->website, json, &res));
  free(json);
  tesoro_free(res);
  VERBATIM(entity_has(s, w->agent, TESORO_ENTITY_WEB_CUSTOMER, customer, x) >= 2,
           "customer name and group");
  /* a batch: its results carry the source id verbatim too */
  {
    char sid[300];
    int failed = -1;
    json = jsonb("SELECT json_array(json_object('source_id', ?2 || '/6', 'type', "
                 "'visit', 'customer', ?2, 'at', ?3, 'visits', 2))", x, ext, now);
    OK(tesoro_exchange_ingest_batch(T_, w->website, json, &failed, &res));
    free(json);
    assert_int_equal(failed, 0);
    snprintf(sid, sizeof sid, "%s/6", ext);
    VERBATIM(json_has(res, sid) == 1, "source_id (the batch results)");
    tesoro_free(res);
  }
  OK(tesoro_prospect_discard(T_, w->agent, customer, x, 0));
  VERBATIM(history_has(s, TESORO_ENTITY_WEB_CUSTOMER, customer, x) >= 1,
           "discard reason");
  free(ref);
  /* CRM -> website: a search and a group set by staff */
  json = jsonb("SELECT json_object('area', json_object('name', ?1, 'centre', "
               "json_object('type', 'Point', 'coordinates', json_array(4.9, 52.3)), "
               "'radius', 1200))", x, NULL, 0);
  OK(tesoro_search_save(T_, w->agent, contact, 0, json, 1, &search));
  free(json);
  VERBATIM(entity_has(s, w->agent, TESORO_ENTITY_SEARCH, search, x) >= 1,
           "CRM search area name");
  OK(tesoro_contact_set_group(T_, w->agent, contact, x));
  OK(tesoro_contact_customer(T_, w->agent, contact, &customer));
  VERBATIM(entity_has(s, w->agent, TESORO_ENTITY_WEB_CUSTOMER, customer, x) >= 1,
           "CRM group");

  /* staff, agencies, the outbox */
  snprintf(email, sizeof email, "staff%d@tesoro.test", hx);
  OK(tesoro_agent_create(T_, w->admin, x, email, TESORO_ROLE_AGENT, &id));
  VERBATIM(stored(s, "actor", "name", x) >= 1, "staff name (file)");
  {
    int64_t agency = 0, admin = 0;
    snprintf(email, sizeof email, "boss%d@example.com", hx);
    OK(tesoro_agency_create(T_, x, NULL, "EUR", x, email, &agency, &admin));
    VERBATIM(stored(s, "agency", "name", x) == 1, "agency name (file)");
  }
  OK(tesoro_outbox_fetch(T_, w->agency, 1, &c));
  assert_int_equal(tesoro_cursor_next(c), TESORO_ROW);
  id = tu_col_int(c, "id");
  tesoro_cursor_free(c);
  OK(tesoro_outbox_fail(T_, id, x));
  VERBATIM(stored(s, "outbox", "last_error", x) == 1, "outbox delivery error (file)");

  /* the export, then the erasure (its reason is kept in the history) */
  OK(tesoro_contact_export(T_, w->agent, contact, 0, &json));
  VERBATIM(json_has(json, x) >= 3, "export of the contact");
  tesoro_free(json);
  OK(tesoro_contact_erase(T_, w->admin, contact, x));
  VERBATIM(history_has(s, TESORO_ENTITY_CONTACT, contact, x) == 1, "erase reason");
  /* name and phone are gone; the consent statement stays (the privacy map
     keeps it: the wording agreed to, the proof of consent) */
  VERBATIM(entity_has(s, w->agent, TESORO_ENTITY_CONTACT, contact, x) == 1,
           "erasure (only the consent statement is left)");
}

static char *schema_text(tu_world *w) {
  return tu_sql_text(w, "SELECT group_concat(type || ':' || name || ':' || "
                        "coalesce(sql, ''), '|') FROM (SELECT * FROM sqlite_master "
                        "ORDER BY type, name)");
}

static void test_hostile_text(void **state) {
  sec *s = *state;
  size_t i, n = sizeof hostile / sizeof hostile[0];
  char *before = schema_text(W_), *after, *ic;
  int64_t tables = tu_sql_int(W_, "SELECT count(*) FROM sqlite_master WHERE type = "
                                  "'table'");
  verified = 0;
  for (i = 0; i < n; i++) {
    /* light: SQL, format string, a ZWJ emoji sequence (refused as password) */
    if (light && i != 0 && i != 1 && i != 7) continue;
    hostile_one(s, (int)i, hostile[i].text, hostile[i].control);
  }
  after = schema_text(W_);
  assert_string_equal(before, after);
  assert_int_equal(tu_sql_int(W_, "SELECT count(*) FROM sqlite_master WHERE type = "
                                  "'table'"), tables);
  /* every contact is there: the fixture's three, Cara, the sellers, ... */
  assert_true(tu_sql_int(W_, "SELECT count(*) FROM contact") >
              (int64_t)(4 + 2 * (light ? 3 : n)));
  assert_true(tu_sql_int(W_, "SELECT count(*) FROM history") > 0);
  ic = tu_sql_text(W_, "PRAGMA integrity_check");
  assert_string_equal(ic, "ok");
  free(ic);
  free(before);
  free(after);
  OK(tesoro_check(T_));
  n = light ? 3 : n;
  print_message("hostile text: %zu strings, %d verbatim read-backs\n", n, verified);
  printf("torture hostile_strings=%zu verbatim=%d\n", n, verified);
}

int main(void) {
  /* The matrix and the hostile text each on a world of their own. */
  const struct CMUnitTest own_world[] = {
      cmocka_unit_test_setup_teardown(test_matrix, sec_setup, sec_teardown),
      cmocka_unit_test_setup_teardown(test_hostile_text, sec_setup, sec_teardown),
  };
  /* These share one world, in this order: none changes what a later one
     reads, and the erasure comes last. */
  const struct CMUnitTest shared_world[] = {
      cmocka_unit_test(test_existence_across_agencies),
      cmocka_unit_test(test_client_never_sees_private_notes),
      cmocka_unit_test(test_customer_event_for_linked_contact),
      cmocka_unit_test(test_system_actor_is_not_a_caller),
      cmocka_unit_test(test_email_code_is_the_clients_own),
      cmocka_unit_test(test_erasure_keeps_the_invariants),
  };
  int rc = cmocka_run_group_tests(own_world, NULL, NULL);
  rc |= cmocka_run_group_tests(shared_world, sec_setup, sec_teardown);
  printf("torture security_cases=%d refused=%d leaks=%d\n", total.cases,
         total.refused, total.leaks);
  return rc;
}
