/*
** test_simulation.c — one seed drives everything (issue 9): a random
** sequence of public calls by random actors (staff of both agencies, the
** agencies' clients and websites, the operator with its outbox and its
** clock and tick) on random entities, a random fault schedule (allocation
** failures, I/O errors, a full disk, crashes) and a random clock.
**
** After every step:
**   - tesoro_check passes;
**   - the model holds: the model is the state and version of every entity
**     the simulation made, as the database acknowledged them; a call that
**     failed or was refused left every one of them where it was (tesoro_tick
**     too: its timers fire in one transaction), and a call that succeeded
**     moved them (the model then takes the new values);
**   - a call that failed under a fault returned that fault's code
**     (TESORO_ENOMEM for memory, TESORO_EDB for I/O and a full disk) and left
**     the whole file unchanged (tu_digest before and after).
** A crash is: fail every I/O from the Nth on, make a call, then fail all I/O
** while the handle closes (no checkpoint, no WAL cleanup), and reopen without
** faults: WAL recovery must bring back exactly what was committed — the
** process did not die, so no acknowledged transition may be lost (the digest
** after the reopen equals the one taken just before the close, and every
** entity of the model is back at its acknowledged state).
**
** TESORO_SEED=n runs that one seed, exactly as a failing run printed it
** ("seed=n step=k"), on the same build: which allocation is the Nth one
** depends on the allocator (SQLite reallocates less when malloc rounds sizes
** up, as glibc's does and ASan's does not), so replay a plain run's seed on
** the plain build, an ASan run's on the ASan build.  Without TESORO_SEED a
** few fixed seeds run.  TESORO_SIM_STEPS sets the steps per seed,
** TESORO_SIM_TRACE=1 prints every step (action, actor, fault, result).
** TESORO_LIGHT=1 (valgrind): one seed, fewer steps.
**
** FIGURES.  The final version, run alone (`build/test_simulation`) beside
** one plain `make run-tests` on 2026-11-23: 2 500 steps over 5 seeds, 464
** faults, 134 crashes, 0 violations.
*/
#include "testutil.h"
#include "faultutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#define DEFAULT_SEED 20260528
#define DEFAULT_SEEDS 5
#define DEFAULT_STEPS 500
#define LIGHT_STEPS 120
#define MAXP 256 /* entities per pool */

/* =========================================================================
** The world as the simulation knows it.
*/
typedef struct contact_rec {
  int64_t id, client;
  int agency;            /* 0 or 1 */
  char email[64];
  int account;           /* a portal account exists */
  char password[64];     /* its current password ("" until known) */
} contact_rec;

typedef struct mandate_rec {
  int64_t id, room, owner; /* owner: the room contact's client actor */
  int agency;
  int64_t proposal;      /* the open proposal */
  int by_client;         /* ... and who made it */
} mandate_rec;

typedef struct ref_rec {
  int64_t id;
  int agency;
} ref_rec;

typedef struct pool {
  ref_rec v[MAXP];
  int n;
} pool;

/* One modelled entity: kind, id, acknowledged state and version. */
typedef struct model_rec {
  int kind;
  int64_t id;
  int agency;
  char state[32];
  int64_t version;
} model_rec;

typedef struct sim {
  tu_world *w;
  uint64_t seed, rng;
  int step;
  int64_t now;
  int64_t staff[2][4];
  int nstaff[2];
  int64_t admin[2], website[2];
  contact_rec contacts[MAXP];
  int ncontacts;
  mandate_rec mandates[MAXP];
  int nmandates;
  pool rooms, listings, deals, dps, appts, referrals, customers, searches,
      claims, outbox, documents;
  char listing_ref[MAXP][16];
  char cust_ext[MAXP][32];
  model_rec model[8 * MAXP];
  int nmodel;
  int events; /* website event source ids */
} sim;

static sim M;
static int64_t n_steps, n_violations, n_crashes, n_faults_fired, n_refused,
    n_ok, n_failed;

#define T (M.w->t)

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...) {
  va_list ap;
  n_violations++;
  fprintf(stderr, "VIOLATION seed=%llu step=%d: ", (unsigned long long)M.seed,
          M.step);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

static uint64_t rnd(uint64_t n) { return fu_below(&M.rng, n); }
static int chance(int percent) { return (int)rnd(100) < percent; }

static void pool_add(pool *p, int64_t id, int agency) {
  if (p->n < MAXP) {
    p->v[p->n].id = id;
    p->v[p->n].agency = agency;
    p->n++;
  }
}

/* A random member (id 0 when empty); its agency in *agency. */
static int64_t pool_pick(pool *p, int *agency) {
  int i;
  if (p->n == 0) {
    if (agency) *agency = 0;
    return 0;
  }
  i = (int)rnd((uint64_t)p->n);
  if (agency) *agency = p->v[i].agency;
  return p->v[i].id;
}

/* Staff of `agency` — now and then of the other one (refused: EDENIED). */
static int64_t staff_of(int agency) {
  if (chance(8)) agency = !agency;
  return M.staff[agency][rnd((uint64_t)M.nstaff[agency])];
}

static contact_rec *contact_pick(void) {
  return M.ncontacts ? &M.contacts[rnd((uint64_t)M.ncontacts)] : NULL;
}

static contact_rec *contact_add(int64_t id, int64_t client, int agency,
                                const char *email) {
  contact_rec *c;
  if (M.ncontacts >= MAXP) return NULL;
  c = &M.contacts[M.ncontacts++];
  memset(c, 0, sizeof *c);
  c->id = id;
  c->client = client;
  c->agency = agency;
  snprintf(c->email, sizeof c->email, "%s", email ? email : "");
  return c;
}

static contact_rec *contact_by_client(int64_t client) {
  for (int i = 0; i < M.ncontacts; i++)
    if (M.contacts[i].client == client) return &M.contacts[i];
  return NULL;
}

static contact_rec *contact_by_id(int64_t id) {
  for (int i = 0; i < M.ncontacts; i++)
    if (M.contacts[i].id == id) return &M.contacts[i];
  return NULL;
}

/* A client actor: mostly of a contact of `agency`, sometimes any. */
static int64_t client_of(int agency) {
  for (int tries = 0; tries < 8; tries++) {
    contact_rec *c = contact_pick();
    if (c && (c->agency == agency || chance(10))) return c->client;
  }
  return M.ncontacts ? M.contacts[0].client : M.w->client;
}

/* The state name of an entity (read without faults); "" if unreadable. */
static void state_of(int kind, int64_t id, int agency, char *out, size_t n) {
  const char *s = NULL;
  int64_t v = 0;
  out[0] = 0;
  if (id && tesoro_entity_state(T, M.admin[agency], kind, id, &s, &v) ==
                TESORO_OK && s)
    snprintf(out, n, "%s", s);
}

/* =========================================================================
** The model.
*/
static void model_add(int kind, int64_t id, int agency) {
  if (id <= 0 || M.nmodel >= (int)(sizeof M.model / sizeof M.model[0])) return;
  for (int i = 0; i < M.nmodel; i++)
    if (M.model[i].kind == kind && M.model[i].id == id) return;
  M.model[M.nmodel].kind = kind;
  M.model[M.nmodel].id = id;
  M.model[M.nmodel].agency = agency;
  M.model[M.nmodel].state[0] = 0;
  M.model[M.nmodel].version = -1; /* read at the next refresh */
  M.nmodel++;
}

/* Read every modelled entity.  With `compare`, count the ones that differ
** from the model (and name the first); with `take`, store what was read. */
static int model_sync(int compare, int take, char *first, size_t n) {
  int differ = 0;
  if (first) first[0] = 0;
  for (int i = 0; i < M.nmodel; i++) {
    model_rec *m = &M.model[i];
    const char *s = NULL;
    int64_t v = 0;
    char st[32] = "";
    int rc = tesoro_entity_state(T, M.admin[m->agency], m->kind, m->id, &s, &v);
    if (rc == TESORO_OK && s) snprintf(st, sizeof st, "%s", s);
    else if (rc == TESORO_OK) snprintf(st, sizeof st, "-");
    else snprintf(st, sizeof st, "!%s", tesoro_errname(rc));
    if (compare && m->version >= 0 &&
        (strcmp(st, m->state) != 0 || v != m->version)) {
      if (differ++ == 0 && first)
        snprintf(first, n, "entity %d/%lld: %s v%lld, model %s v%lld",
                 m->kind, (long long)m->id, st, (long long)v, m->state,
                 (long long)m->version);
    }
    if (take) {
      snprintf(m->state, sizeof m->state, "%s", st);
      m->version = v;
    }
  }
  return differ;
}

/* =========================================================================
** Actions: each is one public call (a host transaction: a few), chosen and
** prepared from what the database says now (read without faults), then run
** by act() under the step's fault.
*/
typedef struct action {
  const char *name;
  int writes;          /* may change the database */
  int counts;          /* records refusals (portal login, verify) */
  int (*run)(struct action *);
  /* arguments */
  int64_t actor, id, id2, value;
  int agency, kind, flag;
  char text[1024];
  char text2[128];
  /* results */
  int64_t out, out2;
  char out_text[64];
} action;

/* ---- the calls ---- */
static int run_request_submit(action *a) {
  return tesoro_contact_request_submit(T, a->actor, a->text2, a->text,
                                       TESORO_PROPERTY_HOUSE, "Utrecht", 0,
                                       NULL, NULL, &a->out, &a->out2);
}
static int run_message(action *a) {
  int64_t id;
  return tesoro_room_message_post(T, a->actor, a->id, a->text, &id);
}
static int run_note(action *a) {
  int64_t id;
  return tesoro_room_note_add(T, a->actor, a->id, a->text, &id);
}
static int run_start_onboarding(action *a) {
  return tesoro_room_start_onboarding(T, a->actor, a->id, a->flag, 0, &a->out);
}
static int run_mark_lost(action *a) {
  return tesoro_room_mark_lost(T, a->actor, a->id, "Chose another agency", 0);
}
static int run_room_close(action *a) {
  return tesoro_room_close(T, a->actor, a->id, "Withdrawn", 0);
}
static int run_propose(action *a) {
  return tesoro_mandate_propose(T, a->actor, a->id,
                                TESORO_COMMISSION_PERCENTAGE, a->value, NULL, 1,
                                (int)a->id2, 0, &a->out);
}
static int run_accept(action *a) {
  char *json = NULL;
  int rc = tesoro_mandate_accept(T, a->actor, a->id, a->id2, 0, &json);
  tesoro_free(json);
  return rc;
}
static int run_share_form(action *a) {
  return tesoro_mandate_share_form(T, a->actor, a->id, 0);
}
static int run_sign(action *a) {
  return tesoro_document_add(T, a->actor, TESORO_ENTITY_MANDATE, a->id,
                             TESORO_DOC_SIGNED_MANDATE, "mandate.pdf",
                             "application/pdf", tu_pdf, (int64_t)tu_pdf_size,
                             &a->out);
}
static int run_submit_form(action *a) {
  return tesoro_mandate_submit_form(T, a->actor, a->id, a->text, 0);
}
static int run_request_changes(action *a) {
  return tesoro_mandate_request_changes(T, a->actor, a->id, "Add the label", 0);
}
static int run_validate(action *a) {
  return tesoro_mandate_validate(T, a->actor, a->id, 0, &a->out);
}
static int run_mandate_cancel(action *a) {
  return tesoro_mandate_cancel(T, a->actor, a->id, "Owner withdrew", 0);
}
static int run_task_complete(action *a) {
  return tesoro_task_complete(T, a->actor, a->id, 0);
}
static int run_task_cancel(action *a) {
  return tesoro_task_cancel(T, a->actor, a->id, 0);
}
static int run_listing_update(action *a) {
  return tesoro_listing_update(T, a->actor, a->id, a->text, 0);
}
static int run_publish(action *a) {
  return tesoro_listing_publish(T, a->actor, a->id, 0);
}
static int run_unpublish(action *a) {
  return tesoro_listing_unpublish(T, a->actor, a->id, 0);
}
static int run_photo(action *a) {
  return tesoro_document_add(T, a->actor, TESORO_ENTITY_LISTING, a->id,
                             TESORO_DOC_PHOTO, "front.jpg", "image/jpeg",
                             tu_jpeg, (int64_t)tu_jpeg_size, &a->out);
}
static int run_document_read(action *a) {
  void *data = NULL;
  int64_t size = 0;
  int rc = tesoro_document_read(T, a->actor, a->id, &data, &size);
  tesoro_free(data);
  return rc;
}
static int run_contact_create(action *a) {
  return tesoro_contact_create(T, a->actor, a->text2, a->text, NULL, "nl",
                               &a->out);
}
static int run_deal_create(action *a) {
  return tesoro_deal_create(T, a->actor, a->id, "A house", &a->out);
}
static int run_deal_offer(action *a) {
  return tesoro_deal_offer(T, a->actor, a->id, a->id2, &a->out);
}
static int run_deal_close(action *a) {
  return tesoro_deal_close(T, a->actor, a->id, "Found one", 0);
}
static int run_dp_verdict(action *a) {
  switch (a->kind) {
  case 0: return tesoro_deal_property_interested(T, a->actor, a->id, 0);
  case 1:
    return tesoro_deal_property_not_interested(T, a->actor, a->id,
                                               TESORO_REJECT_PRICE, NULL, 0);
  case 2: return tesoro_deal_property_approve(T, a->actor, a->id, 0);
  default:
    return tesoro_deal_property_favourite(T, a->actor, a->id, a->flag, 0);
  }
}
static int run_account_create(action *a) {
  char *pw = NULL;
  int rc = tesoro_portal_account_create(T, a->actor, a->id, &a->out, &pw);
  if (rc == TESORO_OK) snprintf(a->out_text, sizeof a->out_text, "%s", pw);
  tesoro_free(pw);
  return rc;
}
static int run_login(action *a) {
  int step = 0;
  return tesoro_portal_login(T, a->actor, a->text, a->text2, &a->out, &step);
}
static int run_password(action *a) {
  return tesoro_portal_password_change(T, a->actor, a->text2, a->text);
}
static int run_onboarding(action *a) {
  switch (a->kind) {
  case 0: return tesoro_portal_welcome_finish(T, a->actor);
  case 1: return tesoro_portal_tour_finish(T, a->actor);
  case 2: return tesoro_portal_tour_skip(T, a->actor);
  case 3: return tesoro_portal_tour_restart(T, a->actor);
  default: return tesoro_portal_set_language(T, a->actor, "de");
  }
}
static int run_contact_agent(action *a) {
  return tesoro_portal_contact_agent(T, a->actor, 0, "Please call me", NULL);
}
static int run_appt_request(action *a) {
  const int64_t when[2] = {a->value, a->value + 7200};
  return tesoro_appointment_request(T, a->actor, a->id, when, 1 + a->flag,
                                    &a->out);
}
static int run_appt(action *a) {
  switch (a->kind) {
  case 0: return tesoro_appointment_confirm(T, a->actor, a->id, a->value, 0, 0);
  case 1: return tesoro_appointment_reschedule(T, a->actor, a->id, a->value, 0, 0);
  case 2: return tesoro_appointment_reject(T, a->actor, a->id, "Busy", 0);
  case 3:
    return tesoro_appointment_cancel(T, a->actor, a->id, a->flag ? "Ill" : NULL,
                                     0);
  case 4: return tesoro_appointment_start_viewing(T, a->actor, a->id, 0);
  case 5: return tesoro_appointment_rate(T, a->actor, a->id, 1 + (int)a->value, 0);
  case 6: {
    int64_t id;
    return tesoro_appointment_note_add(T, a->actor, a->id, "Nice garden", &id);
  }
  default:
    return tesoro_appointment_record_no_show(T, a->actor, a->id, NULL, 0);
  }
}
static int run_referral_create(action *a) {
  return tesoro_referral_create(T, a->actor, a->id, 0, &a->out);
}
static int run_referral_move(action *a) {
  return tesoro_referral_move(T, a->actor, a->id, a->kind,
                              a->text[0] ? a->text : NULL, 0);
}
static int run_referral_note(action *a) {
  int64_t id;
  return tesoro_referral_note_add(T, a->actor, a->id, "Called back", &id);
}
static int run_ingest(action *a) {
  char *out = NULL;
  int rc = tesoro_exchange_ingest(T, a->actor, a->text, &out);
  tesoro_free(out);
  return rc;
}
static int run_batch(action *a) {
  char *out = NULL;
  int failed = 0;
  int rc = tesoro_exchange_ingest_batch(T, a->actor, a->text, &failed, &out);
  tesoro_free(out);
  return rc;
}
static int run_customer_find(action *a) {
  return tesoro_customer_find(T, a->actor, a->text, &a->out);
}
static int run_prospect(action *a) {
  if (a->kind == 0)
    return tesoro_prospect_approve(T, a->actor, a->id, 0, 0, &a->out);
  return tesoro_prospect_discard(T, a->actor, a->id, "Spam", 0);
}
static int run_search_save(action *a) {
  return tesoro_search_save(T, a->actor, a->id, 0,
                            "{\"max_price\":90000000,\"property_types\":"
                            "[\"house\",\"apartment\"]}",
                            a->flag, &a->out);
}
static int run_search_delete(action *a) {
  return tesoro_search_delete(T, a->actor, a->id, 0);
}
static int run_interest(action *a) {
  return tesoro_interest_register(T, a->actor, a->id, a->id2);
}
static int run_group(action *a) {
  return tesoro_contact_set_group(T, a->actor, a->id, a->flag ? "g-1" : "");
}
static int run_vendor_confirm(action *a) {
  return tesoro_vendor_confirm(T, a->actor, a->id, a->id2, "vendor");
}
static int run_claim_reject(action *a) {
  return tesoro_vendor_claim_reject(T, a->actor, a->id, "Not the owner", 0);
}
static int run_consent(action *a) {
  return tesoro_contact_set_consent(
      T, a->actor, a->id,
      a->flag ? TESORO_CONSENT_GRANTED : TESORO_CONSENT_DENIED,
      a->flag ? "E-mail me new homes" : NULL, 0);
}
static int run_export(action *a) {
  char *json = NULL;
  int rc = tesoro_contact_export(T, a->actor, a->id, a->flag, &json);
  tesoro_free(json);
  return rc;
}
static int run_erase(action *a) {
  return tesoro_contact_erase(T, a->actor, a->id, "Asked to be forgotten");
}
static int run_outbox_fetch(action *a) {
  tesoro_cursor *c = NULL;
  int rc = tesoro_outbox_fetch(T, a->id, 20, &c);
  int64_t ids[4] = {0, 0, 0, 0};
  int n = 0;
  if (rc == TESORO_OK) {
    for (;;) {
      int r = tesoro_cursor_next(c);
      if (r == TESORO_DONE) break;
      if (r != TESORO_ROW) {
        rc = r;
        break;
      }
      if (n < 4) ids[n++] = tesoro_cursor_int(c, 0);
    }
  }
  tesoro_cursor_free(c);
  if (rc == TESORO_OK) {
    a->out = ids[0];
    a->out2 = ids[n > 1 ? 1 : 0];
  }
  return rc;
}
static int run_outbox(action *a) {
  if (a->kind == 0) return tesoro_outbox_ack(T, a->id);
  return tesoro_outbox_fail(T, a->id, "smtp: timeout");
}
static int run_tick(action *a) {
  int fired = 0;
  return tesoro_tick(T, a->value, &fired);
}

/* A list: the call, every row, every column as text. */
static int drain(int rc, tesoro_cursor **cp) {
  tesoro_cursor *c = *cp;
  if (rc == TESORO_OK) {
    for (;;) {
      int r = tesoro_cursor_next(c), n;
      if (r == TESORO_DONE) break;
      if (r != TESORO_ROW) {
        rc = r;
        break;
      }
      n = tesoro_cursor_columns(c);
      for (int i = 0; i < n; i++) (void)tesoro_cursor_text(c, i);
    }
  }
  tesoro_cursor_free(c);
  return rc;
}

static int run_read(action *a) {
  tesoro_cursor *c = NULL;
  char *json = NULL;
  int rc;
  switch (a->kind) {
  case 0:
    rc = tesoro_entity_json(T, a->actor, (int)a->id2, a->id, &json);
    tesoro_free(json);
    return rc;
  case 1: return drain(tesoro_history(T, a->actor, (int)a->id2, a->id, &c), &c);
  case 2: return drain(tesoro_allowed_events(T, a->actor, (int)a->id2, a->id, &c), &c);
  case 3: return drain(tesoro_activities(T, a->actor, a->id, &c), &c);
  case 4: return drain(tesoro_tasks(T, a->actor, 0, 0, &c), &c);
  case 5:
    return drain(tesoro_client_appointments(T, a->actor,
                                            1 + (int)(a->value % 3), &c),
                 &c);
  case 6:
    return drain(tesoro_agent_appointments(T, a->actor, 0, 0, 0, 0, &c), &c);
  case 7: return drain(tesoro_portal_properties(T, a->actor, TESORO_FEED_ALL, &c), &c);
  case 8: return drain(tesoro_call_list(T, a->actor, 20, &c), &c);
  case 9: return drain(tesoro_matches(T, a->actor, a->id, &c), &c);
  case 10: return drain(tesoro_referrals(T, a->actor, 0, 0, 0, &c), &c);
  case 11: return drain(tesoro_stats(T, 0, &c), &c);
  case 12: return drain(tesoro_prospects(T, a->actor, &c), &c);
  default: {
    int64_t p, d, x;
    return tu_outbox_counts(T, &p, &d, &x);
  }
  }
}

/* Host transaction: two notes on a room, then commit (flag) or roll back. */
static int run_host_txn(action *a) {
  int64_t id;
  int rc = tesoro_begin(T);
  if (rc) return rc;
  if ((rc = tesoro_room_note_add(T, a->actor, a->id, "first", &id)) ==
          TESORO_OK &&
      (rc = tesoro_room_note_add(T, a->actor, a->id, "second", &id)) ==
          TESORO_OK)
    rc = a->flag ? tesoro_commit(T) : tesoro_rollback(T);
  if (rc != TESORO_OK) {
    int rrc = tesoro_rollback(T);
    (void)rrc; /* EMISUSE when the failure already ended it */
  }
  return rc;
}

/* =========================================================================
** Choosing the next action from the world's state.
*/
static const char *seller_form =
    "{\"full_name\":\"Sam Seller\",\"email\":\"sam@example.com\",\"phone\":"
    "\"+31 6 1234 0000\",\"address\":\"Dorpsstraat 1\",\"property_type\":"
    "\"house\",\"title\":\"A house\",\"price\":45000000,\"bedrooms\":3,"
    "\"longitude\":5.12,\"latitude\":52.09}";

static mandate_rec *mandate_by_id(int64_t id) {
  for (int i = 0; i < M.nmandates; i++)
    if (M.mandates[i].id == id) return &M.mandates[i];
  return NULL;
}

/* The first open task of a mandate whose title mentions `what` (0: none). */
static int64_t task_of(int64_t mandate, int agency, const char *what) {
  tesoro_cursor *c = NULL;
  int64_t found = 0;
  if (tesoro_tasks(T, M.admin[agency], TESORO_ENTITY_MANDATE, mandate, &c) !=
      TESORO_OK)
    return 0;
  while (tesoro_cursor_next(c) == TESORO_ROW) {
    const char *title = tu_col_text(c, "title");
    if (!found && title && strstr(title, what)) found = tu_col_int(c, "id");
  }
  tesoro_cursor_free(c);
  return found;
}

static void choose_seller(action *a) {
  int ag;
  char st[32];
  int r = (int)rnd(10);
  if (r < 2 || M.rooms.n == 0) {
    ag = (int)rnd(2);
    a->name = "contact_request_submit";
    a->run = run_request_submit;
    a->agency = ag;
    a->actor = chance(95) ? M.website[ag] : M.website[!ag];
    snprintf(a->text, sizeof a->text, "owner%llu.%d@example.com",
             (unsigned long long)M.seed, M.step);
    snprintf(a->text2, sizeof a->text2, "Owner %d", M.step);
    return;
  }
  if (r < 4) {
    a->id = pool_pick(&M.rooms, &ag);
    a->agency = ag;
    state_of(TESORO_ENTITY_ROOM, a->id, ag, st, sizeof st);
    if (strcmp(st, "open") == 0 && chance(70)) {
      a->name = "room_start_onboarding";
      a->run = run_start_onboarding;
      a->actor = staff_of(ag);
      a->flag = chance(50);
    } else if (chance(50)) {
      a->name = "room_message_post";
      a->run = run_message;
      a->actor = chance(50) ? staff_of(ag) : client_of(ag);
      snprintf(a->text, sizeof a->text, "message %d", M.step);
    } else if (chance(60)) {
      a->name = "room_note_add";
      a->run = run_note;
      a->actor = staff_of(ag);
      snprintf(a->text, sizeof a->text, "note %d", M.step);
    } else {
      a->name = chance(50) ? "room_mark_lost" : "room_close";
      a->run = a->name[5] == 'm' ? run_mark_lost : run_room_close;
      a->actor = staff_of(ag);
    }
    return;
  }
  /* a mandate: its next move, mostly by the right party */
  if (M.nmandates == 0) {
    a->name = "room_message_post";
    a->run = run_message;
    a->id = pool_pick(&M.rooms, &ag);
    a->actor = staff_of(ag);
    snprintf(a->text, sizeof a->text, "hello %d", M.step);
    return;
  }
  {
    mandate_rec *m = &M.mandates[rnd((uint64_t)M.nmandates)];
    /* mostly one still on its way to validation */
    for (int tries = 0; tries < 6; tries++) {
      state_of(TESORO_ENTITY_MANDATE, m->id, m->agency, st, sizeof st);
      if (strcmp(st, "validated") != 0 && strcmp(st, "cancelled") != 0) break;
      m = &M.mandates[rnd((uint64_t)M.nmandates)];
    }
    ag = m->agency;
    a->agency = ag;
    a->id = m->id;
    state_of(TESORO_ENTITY_MANDATE, m->id, ag, st, sizeof st);
    if (chance(2)) {
      a->name = "mandate_cancel";
      a->run = run_mandate_cancel;
      a->actor = staff_of(ag);
    } else if (strcmp(st, "draft") == 0 ||
               (strcmp(st, "negotiating") == 0 && chance(30))) {
      a->name = "mandate_propose";
      a->run = run_propose;
      a->flag = chance(40); /* the client proposes */
      a->actor = a->flag ? m->owner : staff_of(ag);
      a->value = 100 + (int64_t)rnd(200);
      a->id2 = 30 + (int64_t)rnd(300);
    } else if (strcmp(st, "negotiating") == 0) {
      a->name = "mandate_accept";
      a->run = run_accept;
      a->id2 = m->proposal;
      a->actor = m->by_client ? staff_of(ag) : m->owner;
      if (chance(10)) a->actor = m->by_client ? m->owner : staff_of(ag);
    } else if (strcmp(st, "terms_agreed") == 0) {
      a->name = "mandate_share_form";
      a->run = run_share_form;
      a->actor = staff_of(ag);
    } else if (strcmp(st, "form_shared") == 0) {
      if (chance(50)) {
        a->name = "document_add (signed mandate)";
        a->run = run_sign;
        a->actor = m->owner;
      } else {
        a->name = "mandate_submit_form";
        a->run = run_submit_form;
        a->actor = m->owner;
        snprintf(a->text, sizeof a->text, "%s", seller_form);
      }
    } else if (strcmp(st, "form_submitted") == 0) {
      int64_t task = task_of(m->id, ag, "review");
      if (task && chance(70)) {
        a->name = chance(90) ? "task_complete" : "task_cancel";
        a->run = a->name[5] == 'c' && a->name[6] == 'o' ? run_task_complete
                                                        : run_task_cancel;
        a->id = task;
        a->actor = staff_of(ag);
      } else if (chance(80)) {
        a->name = "mandate_validate";
        a->run = run_validate;
        a->actor = staff_of(ag);
      } else {
        a->name = "mandate_request_changes";
        a->run = run_request_changes;
        a->actor = staff_of(ag);
      }
    } else {
      /* validated or cancelled: work on a listing */
      int64_t l = pool_pick(&M.listings, &ag);
      a->agency = ag;
      a->id = l;
      a->actor = staff_of(ag);
      state_of(TESORO_ENTITY_LISTING, l, ag, st, sizeof st);
      if (strcmp(st, "published") == 0 && chance(20)) {
        a->name = "listing_unpublish";
        a->run = run_unpublish;
      } else if (strcmp(st, "published") != 0 && chance(70)) {
        a->name = "listing_publish";
        a->run = run_publish;
      } else if (chance(50)) {
        a->name = "listing_update";
        a->run = run_listing_update;
        snprintf(a->text, sizeof a->text,
                 "{\"price\":%lld,\"description\":\"Bright, step %d\"}",
                 (long long)(40000000 + (int64_t)rnd(10000000)), M.step);
      } else {
        a->name = "document_add (photo)";
        a->run = run_photo;
      }
    }
  }
}

static int64_t future(void) {
  return M.now + 3600 + (int64_t)rnd(4 * 86400);
}

static void choose_buyer(action *a) {
  int ag, r = (int)rnd(12);
  contact_rec *c = contact_pick();
  char st[32];
  if (r == 0 || c == NULL) {
    ag = (int)rnd(2);
    a->name = "contact_create";
    a->run = run_contact_create;
    a->agency = ag;
    a->actor = staff_of(ag);
    snprintf(a->text, sizeof a->text, "buyer%llu.%d@example.com",
             (unsigned long long)M.seed, M.step);
    snprintf(a->text2, sizeof a->text2, "Buyer %d", M.step);
    return;
  }
  ag = c->agency;
  a->agency = ag;
  if (r == 1 && M.deals.n && chance(15)) {
    a->name = "deal_close";
    a->run = run_deal_close;
    a->id = pool_pick(&M.deals, &ag);
    a->agency = ag;
    a->actor = staff_of(ag);
    return;
  }
  if (r == 1) {
    a->name = "deal_create";
    a->run = run_deal_create;
    a->actor = staff_of(ag);
    a->id = c->id;
    return;
  }
  if (r == 3 && !c->account && c->email[0]) {
    a->name = "portal_account_create";
    a->run = run_account_create;
    a->actor = staff_of(ag);
    a->id = c->id;
    return;
  }
  if (r == 3 || r == 4) {
    /* an account's next step */
    contact_rec *k = NULL;
    for (int tries = 0; tries < 8 && !k; tries++) {
      contact_rec *x = contact_pick();
      if (x && x->account) k = x;
    }
    if (k == NULL) k = c;
    a->agency = k->agency;
    if (chance(30)) {
      a->name = "portal_login";
      a->run = run_login;
      a->counts = 1;
      a->actor = chance(95) ? M.website[k->agency] : M.website[!k->agency];
      snprintf(a->text, sizeof a->text, "%s", k->email);
      snprintf(a->text2, sizeof a->text2, "%s", k->password);
    } else if (k->password[0] && strcmp(k->password, "Sim#Pass1word") != 0) {
      a->name = "portal_password_change";
      a->run = run_password;
      a->counts = 1;
      a->actor = k->client;
      snprintf(a->text, sizeof a->text, "Sim#Pass1word");
      snprintf(a->text2, sizeof a->text2, "%s", k->password);
    } else {
      a->name = "portal onboarding";
      a->run = run_onboarding;
      a->actor = k->client;
      a->kind = (int)rnd(5);
    }
    return;
  }
  if (r <= 7 && M.dps.n == 0) r = 2; /* nothing offered yet: offer */
  if (r == 2) {
    int lag;
    a->name = "deal_offer";
    a->run = run_deal_offer;
    a->id = pool_pick(&M.deals, &ag);
    a->id2 = pool_pick(&M.listings, &lag);
    for (int tries = 0; tries < 4 && lag != ag; tries++)
      a->id2 = pool_pick(&M.listings, &lag);
    a->agency = ag;
    a->actor = staff_of(ag);
    return;
  }
  if (r <= 7 && M.dps.n) {
    int64_t dp = pool_pick(&M.dps, &ag);
    a->agency = ag;
    a->id = dp;
    a->actor = client_of(ag);
    /* the deal property's own client, mostly */
    {
      char *cl = tu_sqlf_text(M.w, "SELECT a.id FROM deal_property p JOIN "
                                   "deal d ON d.id = p.deal_id JOIN actor a "
                                   "ON a.contact_id = d.contact_id AND "
                                   "a.kind = 'client' WHERE p.id = %lld",
                              (long long)dp);
      if (cl && chance(90)) a->actor = strtoll(cl, NULL, 10);
      free(cl);
    }
    if (r == 5) {
      a->name = "appointment_request";
      a->run = run_appt_request;
      a->value = future();
      a->flag = chance(50);
    } else {
      a->name = "deal_property verdict";
      a->run = run_dp_verdict;
      a->kind = (int)rnd(4);
      a->flag = chance(50);
    }
    return;
  }
  if (r <= 10 && M.appts.n) {
    int64_t ap = pool_pick(&M.appts, &ag);
    a->agency = ag;
    a->id = ap;
    state_of(TESORO_ENTITY_APPOINTMENT, ap, ag, st, sizeof st);
    a->name = "appointment";
    a->run = run_appt;
    if (strcmp(st, "pending") == 0)
      a->kind = chance(75) ? 0 : (int)rnd(4);
    else if (strcmp(st, "confirmed") == 0)
      a->kind = chance(40) ? 4 : (int)(1 + rnd(3));
    else
      a->kind = 5 + (int)rnd(3);
    a->value = a->kind == 5 ? (int64_t)rnd(5) : future();
    a->flag = chance(50);
    if (a->kind == 0 || a->kind == 1 || a->kind == 2 || a->kind == 7 ||
        (a->kind == 3 && chance(50)))
      a->actor = staff_of(ag);
    else {
      char *cl = tu_sqlf_text(M.w, "SELECT a.id FROM appointment p JOIN actor "
                                   "a ON a.contact_id = p.contact_id AND "
                                   "a.kind = 'client' WHERE p.id = %lld",
                              (long long)ap);
      a->actor = cl && chance(90) ? strtoll(cl, NULL, 10) : client_of(ag);
      free(cl);
    }
    return;
  }
  if (c->account) {
    a->name = "portal_contact_agent";
    a->run = run_contact_agent;
    a->actor = c->client;
  } else {
    a->name = "deal_create";
    a->run = run_deal_create;
    a->actor = staff_of(ag);
    a->id = c->id;
  }
}

static const char *const stage_data[] = {
    NULL, NULL, NULL, "{\"meeting_at\":1780570800}", NULL,
    "{\"list_date\":\"2027-01-15\"}", NULL, NULL,
    "{\"sale_price\":40000000,\"close_date\":\"2027-03-01\"}", NULL,
    "{\"paid_amount\":1000000}", "{\"reason\":\"Gone quiet\"}"};

static void choose_referral(action *a) {
  int ag;
  if (M.referrals.n == 0 || chance(15)) {
    contact_rec *c = contact_pick();
    if (c == NULL) {
      a->name = "contact_create";
      a->run = run_contact_create;
      a->actor = staff_of(0);
      snprintf(a->text, sizeof a->text, "ref%d@example.com", M.step);
      snprintf(a->text2, sizeof a->text2, "Ref %d", M.step);
      return;
    }
    a->name = "referral_create";
    a->run = run_referral_create;
    a->agency = c->agency;
    a->actor = staff_of(c->agency);
    a->id = c->id;
    return;
  }
  a->id = pool_pick(&M.referrals, &ag);
  a->agency = ag;
  a->actor = staff_of(ag);
  if (chance(20)) {
    a->name = "referral_note_add";
    a->run = run_referral_note;
    return;
  }
  {
    char st[32];
    int stage;
    state_of(TESORO_ENTITY_REFERRAL, a->id, ag, st, sizeof st);
    /* mostly one stage on (or back from failed), sometimes anywhere */
    stage = 1 + (int)rnd(11);
    for (int i = 0; i < 11 && chance(80); i++) {
      static const char *const names[] = {
          "", "left_voicemail", "connected", "meeting_scheduled",
          "met_with_person", "coming_soon", "making_an_offer", "listing",
          "in_escrow", "closed", "closed_paid", "failed"};
      if (strcmp(st, names[i + 1]) == 0) {
        stage = i + 2 <= 10 ? i + 2 : 4;
        break;
      }
    }
    if (chance(8)) stage = TESORO_STAGE_FAILED;
    a->name = "referral_move";
    a->run = run_referral_move;
    a->kind = stage;
    snprintf(a->text, sizeof a->text, "%s",
             stage_data[stage] ? stage_data[stage] : "");
    if (stage == TESORO_STAGE_CLOSED_PAID)
      a->actor = chance(80) ? (ag == 0 ? M.w->closings : M.staff[1][0])
                            : staff_of(ag);
  }
}

static void choose_exchange(action *a) {
  int ag = (int)rnd(2), r = (int)rnd(10);
  char ref[16] = "TES-00001";
  int64_t lid = pool_pick(&M.listings, NULL);
  for (int i = 0; i < M.listings.n; i++)
    if (M.listings.v[i].id == lid) snprintf(ref, sizeof ref, "%s", M.listing_ref[i]);
  a->agency = ag;
  if (r < 5) {
    int cust = (int)rnd(6);
    static const char *const types[] = {"customer", "visit", "property_view",
                                        "property_save", "saved_search",
                                        "enquiry"};
    int ty = (int)rnd(6);
    int64_t at = M.now - 86400 + (int64_t)rnd(86400);
    a->name = "exchange_ingest";
    a->run = run_ingest;
    a->actor = chance(95) ? M.website[ag] : M.website[!ag];
    M.events++;
    switch (ty) {
    case 0:
      snprintf(a->text, sizeof a->text,
               "{\"source_id\":\"e%llu-%d\",\"type\":\"%s\",\"customer\":"
               "\"c%d\",\"at\":%lld,\"name\":\"Web %d\",\"email\":"
               "\"web%d.%d@example.com\"}",
               (unsigned long long)M.seed, M.events, types[ty], cust,
               (long long)at, cust, cust, ag);
      break;
    case 1:
      snprintf(a->text, sizeof a->text,
               "{\"source_id\":\"e%llu-%d\",\"type\":\"visit\",\"customer\":"
               "\"c%d\",\"at\":%lld,\"visits\":%d}",
               (unsigned long long)M.seed, M.events, cust, (long long)at,
               1 + (int)rnd(9));
      break;
    case 2:
    case 3:
      snprintf(a->text, sizeof a->text,
               "{\"source_id\":\"e%llu-%d\",\"type\":\"%s\",\"customer\":"
               "\"c%d\",\"at\":%lld,\"listing\":\"%s\"%s}",
               (unsigned long long)M.seed, M.events, types[ty], cust,
               (long long)at, ref, ty == 3 ? ",\"saved\":true" : "");
      break;
    case 4:
      snprintf(a->text, sizeof a->text,
               "{\"source_id\":\"e%llu-%d\",\"type\":\"saved_search\","
               "\"customer\":\"c%d\",\"at\":%lld,\"search_id\":\"s%d\","
               "\"alert\":true,\"max_price\":80000000,\"area\":{\"name\":"
               "\"Centre\",\"centre\":{\"type\":\"Point\",\"coordinates\":"
               "[5.12,52.09]},\"radius\":2500}}",
               (unsigned long long)M.seed, M.events, cust, (long long)at,
               (int)rnd(3));
      break;
    default:
      snprintf(a->text, sizeof a->text,
               "{\"source_id\":\"e%llu-%d\",\"type\":\"enquiry\",\"customer\":"
               "\"c%d\",\"at\":%lld,\"enquiry_type\":\"viewing\",\"listing\":"
               "\"%s\",\"message\":\"Can I see it?\"}",
               (unsigned long long)M.seed, M.events, cust, (long long)at, ref);
      break;
    }
    return;
  }
  if (r == 5) {
    int base = ++M.events;
    M.events += 2;
    a->name = "exchange_ingest_batch";
    a->run = run_batch;
    a->actor = M.website[ag];
    snprintf(a->text, sizeof a->text,
             "[{\"source_id\":\"e%llu-%d\",\"type\":\"visit\",\"customer\":"
             "\"c%d\",\"at\":%lld,\"visits\":2},{\"source_id\":\"e%llu-%d\","
             "\"type\":\"property_rank\",\"customer\":\"c%d\",\"at\":%lld,"
             "\"listing\":\"%s\",\"rank\":%d},{\"source_id\":\"e%llu-%d\","
             "\"type\":\"property_view\",\"customer\":\"c%d\",\"at\":%lld,"
             "\"listing\":\"%s\"}]",
             (unsigned long long)M.seed, base, (int)rnd(6), (long long)M.now,
             (unsigned long long)M.seed, base + 1, (int)rnd(6),
             (long long)M.now, ref, 1 + (int)rnd(6),
             (unsigned long long)M.seed, base + 2, (int)rnd(6),
             (long long)M.now, ref);
    return;
  }
  if (r == 6) {
    a->name = "customer_find";
    a->run = run_customer_find;
    a->actor = staff_of(ag);
    snprintf(a->text, sizeof a->text, "c%d", (int)rnd(6));
    return;
  }
  if (r == 7 && M.customers.n) {
    a->name = "prospect approve/discard";
    a->run = run_prospect;
    a->id = pool_pick(&M.customers, &ag);
    a->agency = ag;
    a->actor = staff_of(ag);
    a->kind = chance(70) ? 0 : 1;
    return;
  }
  {
    contact_rec *c = contact_pick();
    if (c == NULL) {
      a->name = "customer_find";
      a->run = run_customer_find;
      a->actor = staff_of(0);
      snprintf(a->text, sizeof a->text, "c0");
      return;
    }
    a->agency = c->agency;
    a->actor = staff_of(c->agency);
    a->id = c->id;
    switch (rnd(6)) {
    case 0:
      a->name = "search_save";
      a->run = run_search_save;
      a->flag = chance(50);
      break;
    case 1:
      a->name = "search_delete";
      a->run = run_search_delete;
      a->id = pool_pick(&M.searches, NULL);
      break;
    case 2:
      a->name = "interest_register";
      a->run = run_interest;
      a->id2 = pool_pick(&M.listings, NULL);
      break;
    case 3:
      a->name = "group_set";
      a->run = run_group;
      a->flag = chance(70);
      break;
    case 4:
      a->name = "vendor_confirm";
      a->run = run_vendor_confirm;
      a->id2 = pool_pick(&M.listings, NULL);
      break;
    default:
      a->name = "vendor_claim_reject";
      a->run = run_claim_reject;
      a->id = pool_pick(&M.claims, NULL);
      break;
    }
  }
}

static void choose_other(action *a) {
  int ag = (int)rnd(2), r = (int)rnd(12);
  contact_rec *c = contact_pick();
  a->agency = ag;
  if (r < 3) {
    /* the clock moves on, and the scheduler ticks */
    a->name = "tesoro_tick";
    a->run = run_tick;
    a->value = M.now + (int64_t)rnd(3 * 86400);
    return;
  }
  if (r == 3) {
    a->name = "outbox_fetch";
    a->run = run_outbox_fetch;
    a->id = chance(50) ? 0 : (ag == 0 ? M.w->agency : M.w->other_agency);
    return;
  }
  if (r == 4 && M.outbox.n) {
    a->name = "outbox ack/fail";
    a->run = run_outbox;
    a->id = pool_pick(&M.outbox, NULL);
    a->kind = chance(60) ? 0 : 1;
    return;
  }
  if (r == 5 && c) {
    a->agency = c->agency;
    a->name = "contact_consent_set";
    a->run = run_consent;
    a->id = c->id;
    a->flag = chance(50);
    a->actor = chance(60) ? staff_of(c->agency) : c->client;
    return;
  }
  if (r == 6 && c) {
    a->agency = c->agency;
    a->name = "contact_export";
    a->run = run_export;
    a->id = c->id;
    a->flag = chance(30) ? TESORO_EXPORT_DOCUMENT_BYTES : 0;
    a->actor = chance(70) ? staff_of(c->agency) : c->client;
    return;
  }
  if (r == 7 && c && chance(15)) {
    a->agency = c->agency;
    a->name = "contact_erase";
    a->run = run_erase;
    a->id = c->id;
    a->actor = chance(80) ? M.admin[c->agency] : staff_of(c->agency);
    return;
  }
  if (r == 8 && M.rooms.n) {
    a->name = "host transaction";
    a->run = run_host_txn;
    a->id = pool_pick(&M.rooms, &ag);
    a->agency = ag;
    a->actor = staff_of(ag);
    a->flag = chance(60);
    return;
  }
  if (r == 9 && M.documents.n) {
    a->name = "document_read";
    a->run = run_document_read;
    a->id = pool_pick(&M.documents, &ag);
    a->agency = ag;
    a->actor = chance(80) ? staff_of(ag) : client_of(ag);
    return;
  }
  /* a read */
  a->name = "read";
  a->run = run_read;
  a->writes = 0;
  a->kind = (int)rnd(14);
  a->actor = chance(70) ? staff_of(ag) : client_of(ag);
  a->value = (int64_t)rnd(3);
  if (M.nmodel) {
    model_rec *m = &M.model[rnd((uint64_t)M.nmodel)];
    a->id = m->id;
    a->id2 = m->kind;
    a->agency = m->agency;
  }
  if (a->kind == 3 || a->kind == 9) a->id = c ? c->id : 0;
  if (a->kind == 9) a->id = pool_pick(&M.customers, NULL);
  if (a->kind == 5 || a->kind == 7) a->actor = client_of(ag);
}

static void choose(action *a) {
  memset(a, 0, sizeof *a);
  a->writes = 1;
  switch (rnd(10)) {
  case 0: case 1: case 2: choose_seller(a); break;
  case 3: case 4: case 5: choose_buyer(a); break;
  case 6: choose_referral(a); break;
  case 7: choose_exchange(a); break;
  default: choose_other(a); break;
  }
}

/* What a successful call taught the simulation: new entities, passwords. */
static void learn(action *a) {
  int ag = a->agency;
  if (a->run == run_request_submit) {
    char *cid = tu_sqlf_text(M.w, "SELECT contact_id FROM room WHERE id = %lld",
                             (long long)a->out);
    int64_t contact = cid ? strtoll(cid, NULL, 10) : 0;
    int dag = a->actor == M.website[0] ? 0 : 1;
    free(cid);
    pool_add(&M.rooms, a->out, dag);
    model_add(TESORO_ENTITY_ROOM, a->out, dag);
    if (!contact_by_id(contact)) contact_add(contact, a->out2, dag, a->text);
    model_add(TESORO_ENTITY_CONTACT, contact, dag);
  } else if (a->run == run_start_onboarding && M.nmandates < MAXP) {
    mandate_rec *m = &M.mandates[M.nmandates++];
    char *cl = tu_sqlf_text(M.w, "SELECT a.id FROM room r JOIN actor a ON "
                                 "a.contact_id = r.contact_id AND a.kind = "
                                 "'client' WHERE r.id = %lld",
                            (long long)a->id);
    memset(m, 0, sizeof *m);
    m->id = a->out;
    m->room = a->id;
    m->agency = ag;
    m->owner = cl ? strtoll(cl, NULL, 10) : 0;
    free(cl);
    model_add(TESORO_ENTITY_MANDATE, a->out, ag);
  } else if (a->run == run_propose) {
    mandate_rec *m = mandate_by_id(a->id);
    if (m) {
      m->proposal = a->out;
      m->by_client = a->flag;
    }
  } else if (a->run == run_validate) {
    char *ref = tu_sqlf_text(M.w, "SELECT ref FROM listing WHERE id = %lld",
                             (long long)a->out);
    if (M.listings.n < MAXP) {
      snprintf(M.listing_ref[M.listings.n], sizeof M.listing_ref[0], "%s",
               ref ? ref : "");
      pool_add(&M.listings, a->out, ag);
    }
    free(ref);
    model_add(TESORO_ENTITY_LISTING, a->out, ag);
  } else if (a->run == run_contact_create) {
    int64_t client = 0, agency_id = 0;
    int dag;
    tesoro_actor_info(T, a->actor, NULL, &agency_id, NULL);
    dag = agency_id == M.w->agency ? 0 : 1;
    if (tesoro_contact_client_actor(T, a->actor, a->out, &client) == TESORO_OK)
      contact_add(a->out, client, dag, a->text);
    model_add(TESORO_ENTITY_CONTACT, a->out, dag);
  } else if (a->run == run_deal_create) {
    pool_add(&M.deals, a->out, ag);
    model_add(TESORO_ENTITY_DEAL, a->out, ag);
  } else if (a->run == run_deal_offer) {
    pool_add(&M.dps, a->out, ag);
    model_add(TESORO_ENTITY_DEAL_PROPERTY, a->out, ag);
  } else if (a->run == run_account_create) {
    contact_rec *c = contact_by_id(a->id);
    if (c) {
      c->account = 1;
      snprintf(c->password, sizeof c->password, "%s", a->out_text);
    }
    model_add(TESORO_ENTITY_PORTAL_ACCOUNT, a->out, ag);
  } else if (a->run == run_password) {
    contact_rec *c = contact_by_client(a->actor);
    if (c) snprintf(c->password, sizeof c->password, "%.63s", a->text);
  } else if (a->run == run_appt_request) {
    pool_add(&M.appts, a->out, ag);
    model_add(TESORO_ENTITY_APPOINTMENT, a->out, ag);
  } else if (a->run == run_referral_create) {
    pool_add(&M.referrals, a->out, ag);
    model_add(TESORO_ENTITY_REFERRAL, a->out, ag);
  } else if (a->run == run_customer_find) {
    int known = 0;
    for (int i = 0; i < M.customers.n; i++) known |= M.customers.v[i].id == a->out;
    if (!known) pool_add(&M.customers, a->out, ag);
    model_add(TESORO_ENTITY_WEB_CUSTOMER, a->out, ag);
  } else if (a->run == run_prospect && a->kind == 0) {
    int64_t client = 0;
    if (!contact_by_id(a->out) &&
        tesoro_contact_client_actor(T, M.admin[ag], a->out, &client) ==
            TESORO_OK)
      contact_add(a->out, client, ag, "");
    model_add(TESORO_ENTITY_CONTACT, a->out, ag);
  } else if (a->run == run_search_save) {
    pool_add(&M.searches, a->out, ag);
    model_add(TESORO_ENTITY_SEARCH, a->out, ag);
  } else if (a->run == run_outbox_fetch) {
    if (a->out) pool_add(&M.outbox, a->out, 0);
    if (a->out2 && a->out2 != a->out) pool_add(&M.outbox, a->out2, 0);
  } else if (a->run == run_sign || a->run == run_photo) {
    pool_add(&M.documents, a->out, ag);
  } else if (a->run == run_ingest && strstr(a->text, "vendor_claim")) {
    /* (claims come from events; none generated yet) */
  }
  if (a->run == run_tick) M.now = a->value > M.now ? a->value : M.now;
}

/* =========================================================================
** Faults and the step.
*/
enum { F_NONE, F_ALLOC_ONCE, F_ALLOC_PERSIST, F_IO, F_FULL, F_CRASH };

static const char *const fault_names[] = {"none", "alloc-once",
                                          "alloc-persistent", "io",
                                          "disk-full", "crash"};

static void reopen(void) {
  tesoro_close(T);
  M.w->t = NULL;
  TU_OK(M.w, tesoro_open(M.w->path, &M.w->t));
  TU_OK(M.w, tesoro_clock_set(T, M.now));
  TU_OK(M.w, tesoro_config(T, TESORO_CONFIG_PWHASH_OPSLIMIT, 1));
  TU_OK(M.w, tesoro_config(T, TESORO_CONFIG_PWHASH_MEMLIMIT, 8192));
}

static int is_refusal(int rc) {
  return rc == TESORO_EINVAL || rc == TESORO_ENOTFOUND || rc == TESORO_ESTATE ||
         rc == TESORO_EDENIED || rc == TESORO_EGUARD ||
         rc == TESORO_ECONFLICT || rc == TESORO_EEXISTS ||
         rc == TESORO_EMISUSE;
}

static void sim_step(void) {
  action a;
  int fault = F_NONE, rc, expected = TESORO_OK, fired = 0;
  int64_t n = 0;
  char before[65] = "", after[65], first[200], msg[600];

  /* the clock moves (the operator's tick is an action of its own) */
  if (chance(20)) {
    M.now += (int64_t)rnd(6 * 3600);
    TU_OK(M.w, tesoro_clock_set(T, M.now));
  }
  choose(&a);
  if (a.run == NULL) return;

  /* the fault schedule */
  {
    int r = (int)rnd(100);
    fault = r < 60 ? F_NONE : r < 72 ? F_ALLOC_ONCE : r < 82 ? F_ALLOC_PERSIST
            : r < 90 ? F_IO : r < 94 ? F_FULL : F_CRASH;
  }
  if (fault != F_NONE) tu_digest(M.w, before);
  switch (fault) {
  case F_ALLOC_ONCE:
  case F_ALLOC_PERSIST:
    n = 1 + (int64_t)rnd(chance(50) ? 60 : 600);
    fu_malloc_fail(n, fault == F_ALLOC_PERSIST);
    expected = TESORO_ENOMEM;
    break;
  case F_IO:
    n = 1 + (int64_t)rnd(12);
    fu_io_fail(1 << rnd(4), n, chance(50));
    expected = TESORO_EDB;
    break;
  case F_FULL:
    n = (int64_t)rnd(4);
    /* an empty WAL, so the call's commit must grow a file */
    {
      sqlite3 *db = NULL;
      assert_int_equal(sqlite3_open(M.w->path, &db), SQLITE_OK);
      sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
      sqlite3_close(db);
    }
    fu_disk_full(n * 4120);
    expected = TESORO_EDB;
    break;
  case F_CRASH:
    n = 1 + (int64_t)rnd(40);
    fu_io_fail(FU_IO_ANY, n, 1);
    expected = TESORO_EDB;
    break;
  default: break;
  }
  rc = a.run(&a);
  snprintf(msg, sizeof msg, "%s", T ? tesoro_errmsg(T) : "");
  fired = fault == F_ALLOC_ONCE || fault == F_ALLOC_PERSIST
              ? fu_malloc_fired() > 0
              : fault != F_NONE && fu_io_fired() > 0;
  fu_all_off();
  n_steps++;
  n_faults_fired += fired;

  if (getenv("TESORO_SIM_TRACE"))
    fprintf(stderr, "seed=%llu step=%d %s actor=%lld id=%lld [%s N=%lld%s] "
            "-> %s %s\n", (unsigned long long)M.seed, M.step, a.name,
            (long long)a.actor, (long long)a.id, fault_names[fault],
            (long long)n, fired ? " fired" : "", tesoro_errname(rc), msg);
  if (fault == F_CRASH) {
    /* the crash: what a fresh reader sees now is what was committed; then
    ** everything fails while the handle closes, and it is opened again */
    char mid[65];
    int differ;
    tu_digest(M.w, mid);
    model_sync(0, 1, NULL, 0);
    fu_io_fail(FU_IO_ANY, 1, 1);
    tesoro_close(T);
    M.w->t = NULL;
    fu_all_off();
    n_crashes++;
    reopen();
    tu_digest(M.w, after);
    if (strcmp(mid, after) != 0)
      violation("crash (%s, N=%lld, rc %s): the reopened file is not what "
                "was committed", a.name, (long long)n, tesoro_errname(rc));
    if ((differ = model_sync(1, 0, first, sizeof first)) != 0)
      violation("crash (%s): %d acknowledged entities lost after the reopen; "
                "%s", a.name, differ, first);
    if (rc != TESORO_OK && strcmp(before, mid) != 0)
      violation("%s failed (%s) in a crash but committed a change", a.name,
                tesoro_errname(rc));
  }
  if (tesoro_check(T) != TESORO_OK)
    violation("%s [%s N=%lld] rc %s (%s): tesoro_check: %s", a.name,
              fault_names[fault], (long long)n, tesoro_errname(rc), msg,
              tesoro_errmsg(T));

  if (rc == TESORO_OK) {
    n_ok++;
    learn(&a);
    model_sync(0, 1, NULL, 0);
    return;
  }
  if (is_refusal(rc)) n_refused++;
  else n_failed++;
  /* A failure under a fault must say so; a refusal must not be the fault's
  ** doing (a refusal without a fault is the simulation's random choice). */
  if (fired && rc != expected &&
      !(fault == F_ALLOC_ONCE && rc == TESORO_EDB &&
        tu_contains_ci(msg, "json_valid")))
    violation("%s [%s N=%lld] returned %s (%s), expected %s or OK", a.name,
              fault_names[fault], (long long)n, tesoro_errname(rc), msg,
              tesoro_errname(expected));
  if (!fired && !is_refusal(rc))
    violation("%s failed without a fault: %s (%s)", a.name, tesoro_errname(rc),
              msg);
  /* nothing moved: no entity, no byte (faulted calls) */
  if (!a.counts) {
    int differ = model_sync(1, 0, first, sizeof first);
    if (differ)
      violation("%s [%s N=%lld] failed (%s) but moved %d entities; %s", a.name,
                fault_names[fault], (long long)n, tesoro_errname(rc), differ,
                first);
    if (fault != F_NONE && fault != F_CRASH) {
      tu_digest(M.w, after);
      if (strcmp(before, after) != 0)
        violation("%s [%s N=%lld] failed (%s) but changed the file", a.name,
                  fault_names[fault], (long long)n, tesoro_errname(rc));
    }
  }
  model_sync(0, 1, NULL, 0);
}

/* The project's fixture agency (test/agency.jsonl, tesoro_agency_import)
** in agency 0: its contacts, listings, viewings, referrals, website
** customers and searches join the pools and the model, so the walk starts
** from a realistic agency.  For the first seed only, and not under
** TESORO_LIGHT (valgrind): every step digests the whole file, and a file
** of 400 more records makes each step several times dearer. */
static void fixture_import(tu_world *w) {
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  char *report = NULL;
  TU_OK(w, tesoro_agency_import(w->t, w->admin, "test/agency.jsonl", &report));
  tesoro_free(report);
  assert_int_equal(sqlite3_open_v2(w->path, &db, SQLITE_OPEN_READONLY, NULL),
                   SQLITE_OK);
  assert_int_equal(
      sqlite3_prepare_v2(db,
                         "SELECT r.type, r.entity_id, (SELECT id FROM actor "
                         "WHERE contact_id = r.entity_id), (SELECT email FROM "
                         "contact WHERE id = r.entity_id), (SELECT ref FROM "
                         "listing WHERE id = r.entity_id), r.external_id FROM "
                         "import_ref r WHERE r.agency_id = ?1 ORDER BY "
                         "r.line", -1, &s, NULL),
      SQLITE_OK);
  sqlite3_bind_int64(s, 1, w->agency);
  while (sqlite3_step(s) == SQLITE_ROW) {
    const char *type = (const char *)sqlite3_column_text(s, 0);
    int64_t id = sqlite3_column_int64(s, 1);
    if (strcmp(type, "contact") == 0) {
      contact_add(id, sqlite3_column_int64(s, 2), 0,
                  (const char *)sqlite3_column_text(s, 3));
      model_add(TESORO_ENTITY_CONTACT, id, 0);
    } else if (strcmp(type, "listing") == 0 && M.listings.n < MAXP) {
      snprintf(M.listing_ref[M.listings.n], sizeof M.listing_ref[0], "%s",
               (const char *)sqlite3_column_text(s, 4));
      pool_add(&M.listings, id, 0);
      model_add(TESORO_ENTITY_LISTING, id, 0);
    } else if (strcmp(type, "appointment") == 0) {
      pool_add(&M.appts, id, 0);
      model_add(TESORO_ENTITY_APPOINTMENT, id, 0);
    } else if (strcmp(type, "referral") == 0) {
      pool_add(&M.referrals, id, 0);
      model_add(TESORO_ENTITY_REFERRAL, id, 0);
    } else if (strcmp(type, "web_customer") == 0 && M.customers.n < MAXP) {
      snprintf(M.cust_ext[M.customers.n], sizeof M.cust_ext[0], "%s",
               (const char *)sqlite3_column_text(s, 5));
      pool_add(&M.customers, id, 0);
      model_add(TESORO_ENTITY_WEB_CUSTOMER, id, 0);
    } else if (strcmp(type, "search") == 0) {
      pool_add(&M.searches, id, 0);
      model_add(TESORO_ENTITY_SEARCH, id, 0);
    }
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
}

static void sim_init(tu_world *w, uint64_t seed) {
  memset(&M, 0, sizeof M);
  M.w = w;
  M.seed = seed;
  M.rng = seed;
  M.now = TU_NOW;
  M.staff[0][0] = w->admin;
  M.staff[0][1] = w->agent;
  M.staff[0][2] = w->agent2;
  M.staff[0][3] = w->closings;
  M.nstaff[0] = 4;
  M.staff[1][0] = w->other_admin;
  M.staff[1][1] = w->other_agent;
  M.nstaff[1] = 2;
  M.admin[0] = w->admin;
  M.admin[1] = w->other_admin;
  M.website[0] = w->website;
  M.website[1] = w->other_website;
  contact_add(w->contact, w->client, 0, "ada@example.com");
  contact_add(w->contact2, w->client2, 0, "bob@example.com");
  contact_add(w->other_contact, w->other_client, 1, "otto@example.com");
  model_add(TESORO_ENTITY_CONTACT, w->contact, 0);
  model_add(TESORO_ENTITY_CONTACT, w->contact2, 0);
  model_add(TESORO_ENTITY_CONTACT, w->other_contact, 1);
  /* a published listing in each agency, so that deals, offers and viewings
  ** have something to work on from the start */
  for (int ag = 0; ag < 2; ag++) {
    int64_t l = ag == 0 ? tu_published_listing(w, "Canal house", "Gracht 1",
                                               50000000)
                        : tu_published_listing_other(w, "Cottage", "Lane 2",
                                                     30000000);
    char *ref = tu_sqlf_text(w, "SELECT ref FROM listing WHERE id = %lld",
                             (long long)l);
    snprintf(M.listing_ref[M.listings.n], sizeof M.listing_ref[0], "%s",
             ref ? ref : "");
    free(ref);
    pool_add(&M.listings, l, ag);
    model_add(TESORO_ENTITY_LISTING, l, ag);
  }
  if (!fu_light() && seed == DEFAULT_SEED) fixture_import(w);
  model_sync(0, 1, NULL, 0);
}

static void run_seed(uint64_t seed, int steps) {
  void *state = NULL;
  int64_t before = n_violations;
  assert_int_equal(tu_setup(&state), 0);
  sim_init(state, seed);
  for (M.step = 1; M.step <= steps; M.step++) {
    sim_step();
    if (n_violations > before + 20) {
      fprintf(stderr, "seed=%llu: too many violations, stopping at step=%d\n",
              (unsigned long long)seed, M.step);
      break;
    }
  }
  if (n_violations > before)
    fprintf(stderr, "seed=%llu failed: replay with TESORO_SEED=%llu\n",
            (unsigned long long)seed, (unsigned long long)seed);
  tu_teardown(&state);
}

static void test_simulation(void **state) {
  const char *env = getenv("TESORO_SEED"), *senv = getenv("TESORO_SIM_STEPS");
  int light = fu_light();
  int steps = senv ? atoi(senv) : light ? LIGHT_STEPS : DEFAULT_STEPS;
  int seeds = 0;
  int64_t base = fu_malloc_outstanding();
  (void)state;
  if (env) {
    run_seed(strtoull(env, NULL, 10), steps);
    seeds = 1;
  } else {
    int count = light ? 1 : DEFAULT_SEEDS;
    for (int i = 0; i < count; i++, seeds++)
      run_seed(DEFAULT_SEED + (uint64_t)i, steps);
  }
  printf("torture simulation_steps=%lld seeds=%d violations=%lld\n",
         (long long)n_steps, seeds, (long long)n_violations);
  printf("torture simulation_ok=%lld refused=%lld failed=%lld faults_fired=%lld "
         "crashes=%lld\n",
         (long long)n_ok, (long long)n_refused, (long long)n_failed,
         (long long)n_faults_fired, (long long)n_crashes);
  /* every handle and connection is closed: nothing may stay allocated */
  if (fu_malloc_outstanding() != base)
    violation("%lld allocations outstanding after all seeds",
              (long long)(fu_malloc_outstanding() - base));
  assert_int_equal(n_violations, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_simulation)};
  if (fu_install() != 0) {
    fprintf(stderr, "cannot install the fault shims\n");
    return 1;
  }
  fu_io_nosync(1); /* error handling under test, not durability */
#ifdef __GLIBC__
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_TOP_PAD, 16 << 20);
#endif
  return cmocka_run_group_tests(tests, NULL, NULL);
}
