/*
** fuzz_api.c — bytes → a sequence of API calls by random actors on random
** entities, with tesoro_check after every call.
**
** Each step reads one byte to pick the call, then its arguments: an actor
** (any actor of the world — staff of both agencies, clients, both websites,
** the system actors — any made during the input, or a bad id), entity ids
** (any id up to a little past the largest of that kind, so other agencies'
** entities, missing ones and new ones all come up), expected versions,
** instants around the handle's clock, enumerations a little past their
** range, and text from a dictionary of valid and hostile values or raw
** bytes.  The clock moves and tesoro_tick fires timers between calls.
**
** After every call:
**   - tesoro_check must return TESORO_OK (abort() otherwise);
**   - the result is TESORO_OK or a business-rule error (EINVAL, ENOTFOUND,
**     ESTATE, EDENIED, EGUARD, ECONFLICT, EEXISTS) with a message: never a
**     database, memory or misuse error, which would mean a rule was left to
**     a constraint or the library lost track of its transaction;
**   - a refused call leaves its id out-parameter untouched.
** At most FZ_MAX_STEPS calls per input; the world is rolled back after it.
*/
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_STEPS 24

/* Id pools: the largest id known per kind (TESORO_ENTITY_* 1..13, then
** these), grown by what the input creates. */
enum { K_PROPOSAL = 14, K_DOCUMENT, K_OUTBOX, K_AGENCY, K_ACTOR, K_COUNT };

static int64_t fz_max[K_COUNT]; /* the world's, found once */
static int64_t fz_cur[K_COUNT]; /* this input's */
static char fz_last_code[16];   /* the last verification code handed out */
static char fz_last_temp[64];   /* the last temporary password */
static int64_t fz_clock;

/* Strings made from raw input bytes, freed after the input. */
static char *fz_arena[FZ_MAX_STEPS * 8];
static int fz_narena;

static const char *const fz_dict[] = {
    "",
    "Ada Owner",
    "Bob Buyer",
    "Zoë Ünïcødé 🏠",
    "x",
    "Robert'); DROP TABLE contact;--",
    "%s%n%x%p",
    "ada@example.com",
    "bob@example.com",
    "new@example.com",
    "NEW@EXAMPLE.COM",
    "not-an-email",
    "+31 6 1234 5678",
    "nl",
    "pt-BR",
    "EUR",
    "GBP",
    "eur",
    "Europe/Amsterdam",
    "UTC",
    "Mars/Base",
    "A reason",
    "vendor",
    "landlord",
    "grp-1",
    "https://portal.example/v/1",
    "TES-00001",
    "c1",
    "c2",
    FZ_PASSWORD,
    "Another#Pass2",
    "password",
    "123456",
    "application/pdf",
    "image/jpeg",
    "audio/ogg",
    "doc.pdf",
    /* JSON arguments */
    "{\"full_name\":\"Sam Seller\",\"email\":\"sam@example.com\",\"phone\":"
    "\"+31 6\",\"address\":\"Domplein 1\",\"property_type\":\"house\","
    "\"price\":450000,\"title\":\"Canal house\"}",
    "{\"title\":\"Bright flat\",\"address\":\"Lange Nieuwstraat 2\",\"price\":"
    "300000,\"longitude\":5.12,\"latitude\":52.09,\"bedrooms\":2}",
    "{\"meeting_at\":1780100000}",
    "{\"list_date\":\"2026-06-10\"}",
    "{\"sale_price\":500000,\"close_date\":\"2026-07-01\"}",
    "{\"paid_amount\":12500}",
    "{\"reason\":\"No answer\"}",
    "{\"max_price\":900000,\"area\":{\"centre\":{\"type\":\"Point\","
    "\"coordinates\":[5.12,52.09]},\"radius\":5000}}",
    "{\"property_types\":[\"house\"],\"min_bedrooms\":2}",
    "{\"source_id\":\"a1\",\"type\":\"customer\",\"customer\":\"c1\",\"at\":"
    "1779999000,\"name\":\"Sanne\",\"email\":\"ada@example.com\"}",
    "{\"source_id\":\"a2\",\"type\":\"property_save\",\"customer\":\"c2\","
    "\"at\":1779999000,\"listing\":\"TES-00001\",\"saved\":true}",
    "{\"source_id\":\"a3\",\"type\":\"vendor_claim\",\"customer\":\"c2\","
    "\"at\":1779999000,\"listing\":\"TES-00002\"}",
    "{\"source_id\":\"a4\",\"type\":\"consent\",\"customer\":\"c1\",\"at\":"
    "1779999000,\"consent\":\"granted\",\"statement\":\"Yes\"}",
    "[{\"source_id\":\"b1\",\"type\":\"visit\",\"customer\":\"c3\",\"at\":"
    "1779999000,\"visits\":2},{\"source_id\":\"b2\",\"type\":\"enquiry\","
    "\"customer\":\"c3\",\"at\":1779999001,\"enquiry_type\":\"viewing\"}]",
    "{",
    "[]",
    "null",
};
#define FZ_NDICT (sizeof fz_dict / sizeof fz_dict[0])

static const char *fz_text(fz_in *in) {
  unsigned b = fz_u8(in);
  if (b < 0xD0)
    return fz_dict[b % FZ_NDICT];
  if (b == 0xD0)
    return NULL;
  if (b == 0xD1)
    return fz_last_code;
  if (b == 0xD2)
    return fz_last_temp;
  {
    size_t want = fz_u8(in) % 48, n = want < in->n ? want : in->n;
    char *s = fz_strndup(in->p, n);
    in->p += n;
    in->n -= n;
    if (fz_narena < (int)(sizeof fz_arena / sizeof fz_arena[0]))
      fz_arena[fz_narena++] = s;
    else
      free(s), s = NULL;
    return s ? s : "";
  }
}

/* An id of `kind`: mostly one that exists or was just made; sometimes a
** missing, zero, negative or huge one. */
static int64_t fz_id(fz_in *in, int kind) {
  unsigned b = fz_u8(in);
  switch (b) {
  case 0xFF: return 0;
  case 0xFE: return -1;
  case 0xFD: return INT64_MAX;
  case 0xFC: return fz_cur[kind] + 1;
  default: return 1 + (int64_t)(b % (unsigned)(fz_cur[kind] + 1));
  }
}

static int64_t fz_actor(fz_in *in) { return fz_id(in, K_ACTOR); }

static int64_t fz_version(fz_in *in) {
  unsigned b = fz_u8(in);
  return b < 0xC0 ? 0 : (int64_t)(b % 8);
}

/* An instant around the clock: hours before or after, or an odd value. */
static int64_t fz_time(fz_in *in) {
  unsigned b = fz_u8(in);
  if (b == 0xFF)
    return 0;
  if (b == 0xFE)
    return -1;
  if (b == 0xFD)
    return INT64_MAX;
  return fz_clock + ((int64_t)b - 64) * 3600;
}

static int fz_small(fz_in *in, int n) { return (int)(fz_u8(in) % (unsigned)n); }

/* Learn a new id of `kind` from an out-parameter. */
static void fz_made(int kind, int64_t id) {
  if (id > fz_cur[kind])
    fz_cur[kind] = id;
}

static void fz_probe(fz_world *w) {
  int kind;
  int64_t id, total[3];
  for (kind = 1; kind <= 13; kind++) {
    for (id = 1; id < 100000; id++) {
      int rc;
      if (kind == TESORO_ENTITY_CONTACT) {
        char *json = NULL;
        rc = tesoro_entity_json(w->t, w->admin, kind, id, &json);
        tesoro_free(json);
      } else {
        rc = tesoro_entity_state(w->t, w->admin, kind, id, NULL, NULL);
      }
      if (rc == TESORO_ENOTFOUND)
        break;
    }
    fz_max[kind] = id - 1;
  }
  for (id = 1;; id++) {
    void *p = NULL;
    int64_t n = 0;
    int rc = tesoro_document_read(w->t, w->admin, id, &p, &n);
    tesoro_free(p);
    if (rc == TESORO_ENOTFOUND)
      break;
  }
  fz_max[K_DOCUMENT] = id - 1;
  fz_max[K_PROPOSAL] = 2 * fz_max[TESORO_ENTITY_MANDATE];
  fz_require(w, fz_outbox_counts(w->t, &total[0], &total[1], &total[2]),
             "tesoro_stats (outbox)");
  fz_max[K_OUTBOX] = total[0] + total[1] + total[2];
  fz_max[K_AGENCY] = 2;
  fz_max[K_ACTOR] = w->max_actor;
}

/* Sample document bytes: right and wrong magic. */
static const void *fz_doc(fz_in *in, int64_t *size) {
  static const unsigned char junk[] = "not a document at all";
  static const unsigned char ogg[] = "OggS\0\2 a voice note";
  switch (fz_small(in, 4)) {
  case 0: *size = (int64_t)fz_pdf_size; return fz_pdf;
  case 1: *size = (int64_t)fz_jpeg_size; return fz_jpeg;
  case 2: *size = (int64_t)sizeof ogg; return ogg;
  default: *size = (int64_t)sizeof junk - 1; return junk;
  }
}

/*
** One step; returns the call's name for the messages.  Arguments are read
** from the input one statement at a time, in the order the call takes them
** (the order in which a call's arguments are evaluated is unspecified in C,
** so no call below reads the input twice inside its argument list).
*/
static const char *fz_step(fz_world *w, fz_in *in, int *out_rc,
                           int64_t *out_id) {
  tesoro *t = w->t;
  tesoro_cursor *c = NULL;
  char *s = NULL, *s2 = NULL;
  const char *t1, *t2, *t3, *t4, *t5, *name = "?";
  int64_t id = 0, a, a2, e, e2, v, when;
  int rc = TESORO_OK, kind, k, k2, n = 0;
  unsigned op = fz_u8(in) % 100;

#define CALL(label, expr) (name = (label), rc = (expr))
#define DRAIN(label, expr)                                                     \
  do {                                                                         \
    CALL(label, expr);                                                         \
    if (rc == TESORO_OK)                                                       \
      fz_drain(w, c);                                                          \
    c = NULL;                                                                  \
  } while (0)
/* an entity kind 0..14, the actor, then an id of that kind (from the
   contacts' pool for 0 and 14) */
#define KIND_ACTOR_ID()                                                        \
  do {                                                                         \
    kind = fz_small(in, 15);                                                   \
    a = fz_actor(in);                                                          \
    e = fz_id(in, kind >= 1 && kind <= 13 ? kind : 1);                         \
  } while (0)

  switch (op) {
  case 0:
    a = fz_actor(in);
    t1 = fz_text(in);
    t2 = fz_text(in);
    k = fz_small(in, 5);
    CALL("agent_create", tesoro_agent_create(t, a, t1, t2, k, &id));
    if (rc == TESORO_OK)
      fz_made(K_ACTOR, id);
    break;
  case 1:
    a = fz_actor(in);
    t1 = fz_text(in);
    t2 = fz_text(in);
    t3 = fz_text(in);
    t4 = fz_text(in);
    CALL("contact_create", tesoro_contact_create(t, a, t1, t2, t3, t4, &id));
    if (rc == TESORO_OK)
      fz_made(TESORO_ENTITY_CONTACT, id);
    break;
  case 2:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_CONTACT);
    a2 = fz_actor(in);
    v = fz_version(in);
    CALL("contact_assign", tesoro_contact_assign(t, a, e, a2, v));
    break;
  case 3:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_CONTACT);
    CALL("contact_client_actor", tesoro_contact_client_actor(t, a, e, &id));
    if (rc == TESORO_OK)
      fz_made(K_ACTOR, id);
    break;
  case 4:
    KIND_ACTOR_ID();
    CALL("entity_json", tesoro_entity_json(t, a, kind, e, &s));
    if (rc == TESORO_OK && !fz_json_valid(s))
      fz_fail("entity_json is not JSON");
    break;
  case 5: {
    const char *state = NULL;
    int64_t version = 0;
    KIND_ACTOR_ID();
    CALL("entity_state", tesoro_entity_state(t, a, kind, e, &state, &version));
    if (rc == TESORO_OK && (state == NULL || version < 1))
      fz_fail("entity_state gave no state or version");
    break;
  }
  case 6:
    KIND_ACTOR_ID();
    DRAIN("history", tesoro_history(t, a, kind, e, &c));
    break;
  case 7:
    KIND_ACTOR_ID();
    DRAIN("allowed", tesoro_allowed_events(t, a, kind, e, &c));
    break;
  case 8:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_CONTACT);
    DRAIN("activities", tesoro_activities(t, a, e, &c));
    break;
  case 9:
    KIND_ACTOR_ID();
    DRAIN("tasks", tesoro_tasks(t, a, kind, kind ? e : 0, &c));
    break;
  case 10:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_TASK);
    v = fz_version(in);
    CALL("task_complete", tesoro_task_complete(t, a, e, v));
    break;
  case 11:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_TASK);
    v = fz_version(in);
    CALL("task_cancel", tesoro_task_cancel(t, a, e, v));
    break;
  case 12:
    e = fz_small(in, 4);
    k = (int)fz_u8(in) * 50;
    DRAIN("outbox_fetch", tesoro_outbox_fetch(t, e, k, &c));
    break;
  case 13:
    e = fz_id(in, K_OUTBOX);
    CALL("outbox_ack", tesoro_outbox_ack(t, e));
    break;
  case 14:
    e = fz_id(in, K_OUTBOX);
    t1 = fz_text(in);
    CALL("outbox_fail", tesoro_outbox_fail(t, e, t1));
    break;
  case 15:
    when = fz_time(in);
    CALL("tick", tesoro_tick(t, when, &n));
    break;
  case 16:
    fz_clock += (int64_t)fz_u8(in) * 1800;
    CALL("clock_set", tesoro_clock_set(t, fz_clock));
    break;
  case 17: {
    int64_t size = 0;
    const void *doc;
    kind = fz_small(in, 14);
    a = fz_actor(in);
    e = fz_id(in, kind);
    k = fz_small(in, 8);
    t1 = fz_text(in);
    t2 = fz_text(in);
    doc = fz_doc(in, &size);
    CALL("document_add",
         tesoro_document_add(t, a, kind, e, k, t1, t2, doc, size, &id));
    if (rc == TESORO_OK)
      fz_made(K_DOCUMENT, id);
    break;
  }
  case 18: {
    void *p = NULL;
    int64_t size = -1;
    a = fz_actor(in);
    e = fz_id(in, K_DOCUMENT);
    CALL("document_read", tesoro_document_read(t, a, e, &p, &size));
    if (rc == TESORO_OK && (p == NULL || size <= 0))
      fz_fail("document_read gave no bytes");
    if (rc != TESORO_OK && p != NULL)
      fz_fail("a refused document_read gave bytes");
    tesoro_free(p);
    break;
  }
  case 19:
    kind = fz_small(in, 14);
    a = fz_actor(in);
    e = fz_id(in, kind);
    DRAIN("documents", tesoro_documents(t, a, kind, e, &c));
    break;
  case 20: {
    int64_t client = 0, budget;
    a = fz_actor(in);
    t1 = fz_text(in);
    t2 = fz_text(in);
    k = fz_small(in, 6);
    t3 = fz_text(in);
    t4 = fz_text(in);
    t5 = fz_text(in);
    budget = fz_small(in, 3) * 100000;
    CALL("contact_request_submit",
         tesoro_contact_request_submit(t, a, t1, t2, k, t3, budget, t4, t5, &id,
                                       &client));
    if (rc == TESORO_OK) {
      fz_made(TESORO_ENTITY_ROOM, id);
      fz_made(K_ACTOR, client);
    }
    break;
  }
  case 21:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_ROOM);
    t1 = fz_text(in);
    CALL("room_message_post", tesoro_room_message_post(t, a, e, t1, &id));
    break;
  case 22:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_ROOM);
    t1 = fz_text(in);
    CALL("room_note_add", tesoro_room_note_add(t, a, e, t1, &id));
    break;
  case 23:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_ROOM);
    DRAIN("room_messages", tesoro_room_messages(t, a, e, &c));
    break;
  case 24:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_ROOM);
    k = fz_small(in, 2);
    v = fz_version(in);
    CALL("room_start_onboarding",
         tesoro_room_start_onboarding(t, a, e, k, v, &id));
    if (rc == TESORO_OK)
      fz_made(TESORO_ENTITY_MANDATE, id);
    break;
  case 25:
  case 26:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_ROOM);
    t1 = fz_text(in);
    v = fz_version(in);
    if (op == 25)
      CALL("room_mark_lost", tesoro_room_mark_lost(t, a, e, t1, v));
    else
      CALL("room_close", tesoro_room_close(t, a, e, t1, v));
    break;
  case 27: {
    int64_t value;
    int days;
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_MANDATE);
    k = fz_small(in, 4);
    value = (int64_t)fz_u8(in) * (k == TESORO_COMMISSION_FIXED ? 10000 : 50);
    t1 = fz_text(in);
    k2 = fz_small(in, 3);
    days = fz_small(in, 8) * 90;
    v = fz_version(in);
    CALL("mandate_propose",
         tesoro_mandate_propose(t, a, e, k, value, t1, k2, days, v, &id));
    if (rc == TESORO_OK)
      fz_made(K_PROPOSAL, id);
    break;
  }
  case 28:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_MANDATE);
    e2 = fz_id(in, K_PROPOSAL);
    v = fz_version(in);
    CALL("mandate_accept", tesoro_mandate_accept(t, a, e, e2, v, &s));
    break;
  case 29:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_MANDATE);
    v = fz_version(in);
    CALL("mandate_share_form", tesoro_mandate_share_form(t, a, e, v));
    break;
  case 30:
  case 31:
  case 33:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_MANDATE);
    t1 = fz_text(in);
    v = fz_version(in);
    if (op == 30)
      CALL("mandate_submit_form", tesoro_mandate_submit_form(t, a, e, t1, v));
    else if (op == 31)
      CALL("mandate_request_changes",
           tesoro_mandate_request_changes(t, a, e, t1, v));
    else
      CALL("mandate_cancel", tesoro_mandate_cancel(t, a, e, t1, v));
    break;
  case 32:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_MANDATE);
    v = fz_version(in);
    CALL("mandate_validate", tesoro_mandate_validate(t, a, e, v, &id));
    if (rc == TESORO_OK)
      fz_made(TESORO_ENTITY_LISTING, id);
    break;
  case 34:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_MANDATE);
    DRAIN("mandate_proposals", tesoro_mandate_proposals(t, a, e, &c));
    break;
  case 35:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_LISTING);
    t1 = fz_text(in);
    v = fz_version(in);
    CALL("listing_update", tesoro_listing_update(t, a, e, t1, v));
    break;
  case 36:
  case 37:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_LISTING);
    v = fz_version(in);
    if (op == 36)
      CALL("listing_publish", tesoro_listing_publish(t, a, e, v));
    else
      CALL("listing_unpublish", tesoro_listing_unpublish(t, a, e, v));
    break;
  case 38:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_CONTACT);
    t1 = fz_text(in);
    CALL("deal_create", tesoro_deal_create(t, a, e, t1, &id));
    if (rc == TESORO_OK)
      fz_made(TESORO_ENTITY_DEAL, id);
    break;
  case 39:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_DEAL);
    t1 = fz_text(in);
    v = fz_version(in);
    CALL("deal_close", tesoro_deal_close(t, a, e, t1, v));
    break;
  case 40:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_DEAL);
    e2 = fz_id(in, TESORO_ENTITY_LISTING);
    CALL("deal_offer", tesoro_deal_offer(t, a, e, e2, &id));
    if (rc == TESORO_OK)
      fz_made(TESORO_ENTITY_DEAL_PROPERTY, id);
    break;
  case 41:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_DEAL);
    DRAIN("deal_properties", tesoro_deal_properties(t, a, e, &c));
    break;
  case 42:
  case 44:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_DEAL_PROPERTY);
    v = fz_version(in);
    if (op == 42)
      CALL("deal_property_interested",
           tesoro_deal_property_interested(t, a, e, v));
    else
      CALL("deal_property_approve", tesoro_deal_property_approve(t, a, e, v));
    break;
  case 43:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_DEAL_PROPERTY);
    k = (int)fz_u8(in) - 8;
    t1 = fz_text(in);
    v = fz_version(in);
    CALL("deal_property_not_interested",
         tesoro_deal_property_not_interested(t, a, e, k, t1, v));
    break;
  case 45:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_DEAL_PROPERTY);
    k = fz_small(in, 3);
    v = fz_version(in);
    CALL("deal_property_favourite",
         tesoro_deal_property_favourite(t, a, e, k, v));
    break;
  case 46: {
    int64_t pref[4];
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_DEAL_PROPERTY);
    k = fz_small(in, 5);
    for (int i = 0; i < 4; i++)
      pref[i] = fz_time(in);
    CALL("appointment_request",
         tesoro_appointment_request(t, a, e, pref, k, &id));
    if (rc == TESORO_OK)
      fz_made(TESORO_ENTITY_APPOINTMENT, id);
    break;
  }
  case 47:
  case 48:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_APPOINTMENT);
    when = fz_time(in);
    v = fz_version(in);
    if (op == 47)
      CALL("appointment_confirm", tesoro_appointment_confirm(t, a, e, when, 0, v));
    else
      CALL("appointment_reschedule",
           tesoro_appointment_reschedule(t, a, e, when, 0, v));
    break;
  case 49:
  case 50:
  case 52:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_APPOINTMENT);
    t1 = fz_text(in);
    v = fz_version(in);
    if (op == 49)
      CALL("appointment_reject", tesoro_appointment_reject(t, a, e, t1, v));
    else if (op == 50)
      CALL("appointment_cancel", tesoro_appointment_cancel(t, a, e, t1, v));
    else
      CALL("appointment_record_no_show",
           tesoro_appointment_record_no_show(t, a, e, t1, v));
    break;
  case 51:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_APPOINTMENT);
    v = fz_version(in);
    CALL("appointment_start_viewing",
         tesoro_appointment_start_viewing(t, a, e, v));
    break;
  case 53:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_APPOINTMENT);
    t1 = fz_text(in);
    CALL("appointment_note_add", tesoro_appointment_note_add(t, a, e, t1, &id));
    break;
  case 54:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_APPOINTMENT);
    k = fz_small(in, 8) - 1;
    v = fz_version(in);
    CALL("appointment_rate", tesoro_appointment_rate(t, a, e, k, v));
    break;
  case 55:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_APPOINTMENT);
    DRAIN("appointment_notes", tesoro_appointment_notes(t, a, e, &c));
    break;
  case 56:
    a = fz_actor(in);
    k = fz_small(in, 5);
    DRAIN("appointments_client", tesoro_client_appointments(t, a, k, &c));
    break;
  case 57: {
    int64_t from = 0, to = 0;
    a = fz_actor(in);
    a2 = fz_small(in, 2) ? fz_actor(in) : 0;
    k = fz_small(in, 7);
    if (fz_small(in, 2))
      from = fz_time(in);
    if (fz_small(in, 2))
      to = fz_time(in);
    DRAIN("appointments_agent",
          tesoro_agent_appointments(t, a, a2, k, from, to, &c));
    break;
  }
  case 58:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_APPOINTMENT);
    t1 = fz_text(in);
    CALL("appointment_ics", tesoro_appointment_ics(t, a, e, t1, &s));
    break;
  case 59:
    a = fz_actor(in);
    e = (int64_t)fz_u8(in) * 50 - 100;
    CALL("agency_set_referral_fee", tesoro_agency_set_referral_fee(t, a, e));
    break;
  case 60:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_CONTACT);
    a2 = fz_small(in, 2) ? fz_actor(in) : 0;
    CALL("referral_create", tesoro_referral_create(t, a, e, a2, &id));
    if (rc == TESORO_OK)
      fz_made(TESORO_ENTITY_REFERRAL, id);
    break;
  case 61:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_REFERRAL);
    k = fz_small(in, 13);
    t1 = fz_text(in);
    v = fz_version(in);
    CALL("referral_move", tesoro_referral_move(t, a, e, k, t1, v));
    break;
  case 62:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_REFERRAL);
    t1 = fz_text(in);
    CALL("referral_note_add", tesoro_referral_note_add(t, a, e, t1, &id));
    break;
  case 63:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_REFERRAL);
    DRAIN("referral_notes", tesoro_referral_notes(t, a, e, &c));
    break;
  case 64:
    a = fz_actor(in);
    k = fz_small(in, 5);
    k2 = fz_small(in, 13);
    a2 = fz_small(in, 2) ? fz_actor(in) : 0;
    DRAIN("referrals", tesoro_referrals(t, a, k, k2, a2, &c));
    break;
  case 65:
    a = fz_actor(in);
    a2 = fz_small(in, 2) ? fz_actor(in) : 0;
    DRAIN("referral_pipeline", tesoro_referral_pipeline(t, a, a2, &c));
    break;
  case 66:
    a = fz_actor(in);
    k = fz_small(in, 3);
    CALL("agency_set_portal", tesoro_agency_set_portal(t, a, k));
    break;
  case 67:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_CONTACT);
    CALL("portal_account_create",
         tesoro_portal_account_create(t, a, e, &id, &s2));
    if (rc == TESORO_OK) {
      fz_made(TESORO_ENTITY_PORTAL_ACCOUNT, id);
      snprintf(fz_last_temp, sizeof fz_last_temp, "%s", s2 ? s2 : "");
    }
    break;
  case 68:
    a = fz_actor(in);
    t1 = fz_text(in);
    t2 = fz_text(in);
    t3 = fz_text(in);
    CALL("portal_register", tesoro_portal_register(t, a, t1, t2, t3, &id, &s2));
    if (rc == TESORO_OK) {
      fz_made(TESORO_ENTITY_PORTAL_ACCOUNT, id);
      snprintf(fz_last_code, sizeof fz_last_code, "%s", s2 ? s2 : "");
    }
    break;
  case 69:
    a = fz_actor(in);
    t1 = fz_text(in);
    t2 = fz_text(in);
    CALL("portal_verify", tesoro_portal_verify(t, a, t1, t2, &id));
    if (rc == TESORO_OK)
      fz_made(K_ACTOR, id);
    break;
  case 70:
    a = fz_actor(in);
    t1 = fz_text(in);
    t2 = fz_text(in);
    CALL("portal_login", tesoro_portal_login(t, a, t1, t2, &id, &k));
    break;
  case 71:
    a = fz_actor(in);
    t1 = fz_text(in);
    t2 = fz_text(in);
    CALL("portal_password_change", tesoro_portal_password_change(t, a, t1, t2));
    break;
  case 72:
    a = fz_actor(in);
    k = 0;
    CALL("portal_step", tesoro_portal_step(t, a, &k));
    if (rc == TESORO_OK &&
        (k < TESORO_PORTAL_UNVERIFIED || k > TESORO_PORTAL_READY))
      fz_fail("portal_step answered %d", k);
    break;
  case 73:
    a = fz_actor(in);
    switch (fz_small(in, 4)) {
    case 0:
      CALL("portal_welcome_done", tesoro_portal_welcome_finish(t, a));
      break;
    case 1: CALL("portal_tour_done", tesoro_portal_tour_finish(t, a)); break;
    case 2: CALL("portal_tour_skip", tesoro_portal_tour_skip(t, a)); break;
    default:
      CALL("portal_tour_restart", tesoro_portal_tour_restart(t, a));
      break;
    }
    break;
  case 74: {
    const char *lang = NULL;
    a = fz_actor(in);
    if (fz_small(in, 2)) {
      CALL("portal_language", tesoro_portal_language(t, a, &lang));
      if (rc == TESORO_OK &&
          (lang == NULL || strstr(TESORO_PORTAL_LANGUAGES, lang) == NULL))
        fz_fail("portal_language answered %s", lang ? lang : "(NULL)");
    } else {
      t1 = fz_text(in);
      CALL("portal_language_set", tesoro_portal_set_language(t, a, t1));
    }
    break;
  }
  case 75: {
    int64_t u = 0, un = 0, np = 0, r = 0;
    a = fz_actor(in);
    CALL("portal_home", tesoro_portal_home(t, a, &u, &un, &np, &r));
    if (rc == TESORO_OK && (u < 0 || un < 0 || np < 0 || r < 0))
      fz_fail("portal_home answered a negative count");
    break;
  }
  case 76:
    a = fz_actor(in);
    k = fz_small(in, 5);
    DRAIN("portal_properties", tesoro_portal_properties(t, a, k, &c));
    break;
  case 77:
    a = fz_actor(in);
    e = fz_small(in, 2) ? fz_id(in, TESORO_ENTITY_DEAL_PROPERTY) : 0;
    t1 = fz_text(in);
    CALL("portal_contact_agent", tesoro_portal_contact_agent(t, a, e, t1, &id));
    break;
  case 78:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_CONTACT);
    CALL("portal_account_of", tesoro_contact_portal_account(t, a, e, &id));
    break;
  case 79:
    a = fz_actor(in);
    t1 = fz_text(in);
    CALL("exchange_ingest", tesoro_exchange_ingest(t, a, t1, &s));
    if (rc == TESORO_OK) {
      char *cid = fz_json_text(s, "$.customer_id");
      if (cid)
        fz_made(TESORO_ENTITY_WEB_CUSTOMER, strtoll(cid, NULL, 10));
      free(cid);
    }
    break;
  case 80:
    a = fz_actor(in);
    t1 = fz_text(in);
    CALL("exchange_ingest_batch",
         tesoro_exchange_ingest_batch(t, a, t1, &n, &s));
    break;
  case 81:
    a = fz_actor(in);
    DRAIN("prospects", tesoro_prospects(t, a, &c));
    break;
  case 82:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_WEB_CUSTOMER);
    e2 = fz_small(in, 2) ? fz_id(in, TESORO_ENTITY_CONTACT) : 0;
    v = fz_version(in);
    CALL("prospect_approve", tesoro_prospect_approve(t, a, e, e2, v, &id));
    if (rc == TESORO_OK)
      fz_made(TESORO_ENTITY_CONTACT, id);
    break;
  case 83:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_WEB_CUSTOMER);
    t1 = fz_text(in);
    v = fz_version(in);
    CALL("prospect_discard", tesoro_prospect_discard(t, a, e, t1, v));
    break;
  case 84:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_WEB_CUSTOMER);
    switch (fz_small(in, 3)) {
    case 0:
      DRAIN("customer_searches", tesoro_customer_searches(t, a, e, &c));
      break;
    case 1:
      DRAIN("customer_properties", tesoro_customer_properties(t, a, e, &c));
      break;
    default:
      DRAIN("customer_enquiries", tesoro_customer_enquiries(t, a, e, &c));
      break;
    }
    break;
  case 85:
    a = fz_actor(in);
    t1 = fz_text(in);
    CALL("customer_find", tesoro_customer_find(t, a, t1, &id));
    break;
  case 86:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_CONTACT);
    CALL("contact_customer", tesoro_contact_customer(t, a, e, &id));
    break;
  case 87:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_CONTACT);
    e2 = fz_small(in, 2) ? fz_id(in, TESORO_ENTITY_SEARCH) : 0;
    t1 = fz_text(in);
    k = fz_small(in, 3);
    CALL("search_save", tesoro_search_save(t, a, e, e2, t1, k, &id));
    if (rc == TESORO_OK)
      fz_made(TESORO_ENTITY_SEARCH, id);
    break;
  case 88:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_SEARCH);
    v = fz_version(in);
    CALL("search_delete", tesoro_search_delete(t, a, e, v));
    break;
  case 89:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_CONTACT);
    e2 = fz_id(in, TESORO_ENTITY_LISTING);
    CALL("interest_register", tesoro_interest_register(t, a, e, e2));
    break;
  case 90:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_CONTACT);
    t1 = fz_text(in);
    CALL("group_set", tesoro_contact_set_group(t, a, e, t1));
    break;
  case 91:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_CONTACT);
    e2 = fz_id(in, TESORO_ENTITY_LISTING);
    t1 = fz_text(in);
    CALL("vendor_confirm", tesoro_vendor_confirm(t, a, e, e2, t1));
    break;
  case 92:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_VENDOR_CLAIM);
    t1 = fz_text(in);
    v = fz_version(in);
    CALL("vendor_claim_reject", tesoro_vendor_claim_reject(t, a, e, t1, v));
    break;
  case 93:
    a = fz_actor(in);
    k = (int)fz_u8(in) * 5 - 5;
    DRAIN("call_list", tesoro_call_list(t, a, k, &c));
    break;
  case 94:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_WEB_CUSTOMER);
    DRAIN("matches", tesoro_matches(t, a, e, &c));
    break;
  case 95:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_CONTACT);
    k = fz_small(in, 5);
    t1 = fz_text(in);
    v = fz_version(in);
    CALL("contact_consent_set", tesoro_contact_set_consent(t, a, e, k, t1, v));
    break;
  case 96:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_CONTACT);
    k = fz_small(in, 3);
    CALL("contact_export", tesoro_contact_export(t, a, e, k, &s));
    if (rc == TESORO_OK && !fz_json_valid(s))
      fz_fail("contact_export is not JSON");
    break;
  case 97:
    a = fz_actor(in);
    e = fz_id(in, TESORO_ENTITY_CONTACT);
    t1 = fz_text(in);
    CALL("contact_erase", tesoro_contact_erase(t, a, e, t1));
    break;
  case 98:
    a = fz_actor(in);
    e = fz_id(in, K_AGENCY);
    CALL("agency_website_actor", tesoro_agency_website_actor(t, a, e, &id));
    break;
  default:
    e = fz_small(in, 4) - 1;
    DRAIN("stats", tesoro_stats(t, e, &c));
    break;
  }
#undef CALL
#undef DRAIN
#undef KIND_ACTOR_ID
  tesoro_free(s);
  tesoro_free(s2);
  *out_rc = rc;
  *out_id = id;
  return name;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int probed;
  fz_world *w = fz_world_get();
  fz_in in = {data, size};
  int steps = 0;
  if (!probed) {
    fz_probe(w);
    probed = 1;
  }
  memcpy(fz_cur, fz_max, sizeof fz_cur);
  fz_last_code[0] = 0;
  snprintf(fz_last_temp, sizeof fz_last_temp, "%s", FZ_PASSWORD);
  fz_clock = FZ_NOW;
  fz_input_begin(w);
  while (in.n > 0 && steps++ < FZ_MAX_STEPS) {
    int rc;
    int64_t id;
    const char *call = fz_step(w, &in, &rc, &id);
    char what[64];
    snprintf(what, sizeof what, "step %d (%s)", steps, call);
    fz_expect(w, rc, FZ_RULES, what);
    if (rc != TESORO_OK && id != 0)
      fz_fail("%s was refused but set its id out-parameter to %lld", what,
              (long long)id);
    fz_check(w, what);
  }
  fz_input_end(w);
  while (fz_narena > 0)
    free(fz_arena[--fz_narena]);
  return 0;
}
