/*
** test_privacy.c — SPEC §7, privacy (GDPR): marketing consent and its
** history, the export of one contact, the erasure that keeps the books, and
** the schema guard that proves every column of the schema is classified in
** the library's privacy map.
**
** Ada (w->contact, client w->client) of "Tesoro Homes" is the data subject;
** Bob (w->contact2) is the bystander whose data must stay untouched; Otto
** (w->other_contact) is of "Other Estates".
*/
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#define DAY INT64_C(86400)
#define HOUR INT64_C(3600)
#define T0 (TU_NOW - 10 * DAY) /* a base website event time */

#define CONTACT TESORO_ENTITY_CONTACT

/* ------------------------------------------------------------------------
** Helpers.
*/

/* A column of the contact row. */
static char *contact_text(tu_world *w, int64_t contact, const char *col) {
  return tu_sqlf_text(w, "SELECT %s FROM contact WHERE id = %lld", col,
                      (long long)contact);
}
static int64_t contact_int(tu_world *w, int64_t contact, const char *col) {
  return tu_sqlf(w, "SELECT %s FROM contact WHERE id = %lld", col,
                 (long long)contact);
}

/* Number of "consent" history rows of a contact. */
static int64_t consent_rows(tu_world *w, int64_t contact) {
  return tu_sqlf(w, "SELECT count(*) FROM history WHERE entity = %d AND "
                    "entity_id = %lld AND event = 'consent'",
                 CONTACT, (long long)contact);
}

/* The last history row of the contact is "consent" from -> to by actor, and
   its seq is the contact's version. */
static void last_consent_row_(tu_world *w, int64_t contact, const char *from,
                              const char *to, int64_t actor, const char *file,
                              int line) {
  tu_history h;
  char got[32], want[32];
  tu_last_history(w, CONTACT, contact, &h);
  tu_str_is_(h.event, "consent", file, line);
  tu_str_is_(h.from_state, from, file, line);
  tu_str_is_(h.to_state, to, file, line);
  snprintf(got, sizeof got, "%lld", (long long)h.actor);
  snprintf(want, sizeof want, "%lld", (long long)actor);
  tu_str_is_(got, want, file, line);
  snprintf(got, sizeof got, "%lld", (long long)h.seq);
  snprintf(want, sizeof want, "%lld",
           (long long)tu_version_of(w, CONTACT, contact));
  tu_str_is_(got, want, file, line);
  tu_history_free(&h);
}
#define LAST_CONSENT_ROW(w, c, from, to, actor)                               \
  last_consent_row_((w), (c), (from), (to), (actor), __FILE__, __LINE__)

/* Link Ada to the website customer "hf-ada" (a customer event naming her
   contact id). */
static void link_ada(tu_world *w) {
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"ada-details\",\"type\":\"customer\","
                       "\"customer\":\"hf-ada\",\"at\":%lld,\"name\":\"Ada Owner\","
                       "\"email\":\"ada@example.com\",\"contact_id\":%lld}",
                       (long long)T0, (long long)w->contact));
}

/* A website consent event. */
static const char *consent_event(const char *source_id, const char *customer,
                                 int64_t at, const char *consent,
                                 const char *statement) {
  return tu_fmt("{\"source_id\":\"%s\",\"type\":\"consent\",\"customer\":"
                "\"%s\",\"at\":%lld,\"consent\":\"%s\",\"statement\":\"%s\"}",
                source_id, customer, (long long)at, consent, statement);
}

/* ------------------------------------------------------------------------
** 1. Consent.
*/

static void test_consent_defaults_to_not_asked(void **state) {
  tu_world *w = *state;
  TU_TEXT_IS(contact_text(w, w->contact, "consent"), "not_asked");
  TU_TEXT_IS(contact_text(w, w->contact2, "consent"), "not_asked");
  TU_TEXT_IS(contact_text(w, w->contact, "consent_source"), NULL);
  assert_int_equal(consent_rows(w, w->contact), 0);
}

/* tesoro.h: the contact's JSON shows consent, consent_at, consent_source and
   consent_text. */
static void test_consent_in_contact_json(void **state) {
  tu_world *w = *state;
  char *json = NULL;
  int has[5];
  TU_OK(w, tesoro_entity_json(w->t, w->agent, CONTACT, w->contact, &json));
  has[0] = strstr(json, "\"consent\":\"not_asked\"") != NULL;
  tesoro_free(json);
  TU_OK(w, tesoro_contact_set_consent(w->t, w->agent, w->contact,
                                      TESORO_CONSENT_GRANTED,
                                      "Yes, send me new listings", 0));
  TU_OK(w, tesoro_entity_json(w->t, w->agent, CONTACT, w->contact, &json));
  has[1] = strstr(json, "\"consent\":\"granted\"") != NULL;
  has[2] = strstr(json, "\"consent_source\":\"crm\"") != NULL;
  has[3] = strstr(json, "\"consent_text\":\"Yes, send me new listings\"") != NULL;
  has[4] = strstr(json, "\"consent_at\":1780000000") != NULL;
  if (!(has[0] && has[1] && has[2] && has[3] && has[4]))
    print_error("contact JSON lacks its consent fields: %s\n", json);
  tesoro_free(json);
  assert_true(has[0]);
  assert_true(has[1]);
  assert_true(has[2]);
  assert_true(has[3]);
  assert_true(has[4]);
}

static void test_consent_set_by_staff_from_crm(void **state) {
  tu_world *w = *state;
  int64_t v = tu_version_of(w, CONTACT, w->contact);
  TU_OK(w, tesoro_contact_set_consent(w->t, w->agent, w->contact,
                                      TESORO_CONSENT_GRANTED,
                                      "Yes, send me new listings", v));
  TU_TEXT_IS(contact_text(w, w->contact, "consent"), "granted");
  TU_TEXT_IS(contact_text(w, w->contact, "consent_source"), "crm");
  TU_TEXT_IS(contact_text(w, w->contact, "consent_text"), "Yes, send me new listings");
  assert_int_equal(contact_int(w, w->contact, "consent_at"), TU_NOW);
  assert_int_equal(tu_version_of(w, CONTACT, w->contact), v + 1);
  LAST_CONSENT_ROW(w, w->contact, "not_asked", "granted", w->agent);

  TU_OK(w, tesoro_contact_set_consent(w->t, w->admin, w->contact,
                                      TESORO_CONSENT_DENIED, NULL, 0));
  TU_TEXT_IS(contact_text(w, w->contact, "consent"), "denied");
  LAST_CONSENT_ROW(w, w->contact, "granted", "denied", w->admin);
  TU_OK(w, tesoro_contact_set_consent(w->t, w->agent, w->contact,
                                      TESORO_CONSENT_NOT_ASKED, "", 0));
  TU_TEXT_IS(contact_text(w, w->contact, "consent"), "not_asked");
  LAST_CONSENT_ROW(w, w->contact, "denied", "not_asked", w->agent);
  assert_int_equal(consent_rows(w, w->contact), 3);
  /* Bob untouched */
  TU_TEXT_IS(contact_text(w, w->contact2, "consent"), "not_asked");
  assert_int_equal(consent_rows(w, w->contact2), 0);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_consent_set_by_client_from_portal(void **state) {
  tu_world *w = *state;
  TU_OK(w, tesoro_contact_set_consent(w->t, w->client, w->contact,
                                      TESORO_CONSENT_GRANTED,
                                      "I agree to receive marketing e-mail", 0));
  TU_TEXT_IS(contact_text(w, w->contact, "consent"), "granted");
  TU_TEXT_IS(contact_text(w, w->contact, "consent_source"), "portal");
  TU_TEXT_IS(contact_text(w, w->contact, "consent_text"),
             "I agree to receive marketing e-mail");
  LAST_CONSENT_ROW(w, w->contact, "not_asked", "granted", w->client);
  TU_OK(w, tesoro_contact_set_consent(w->t, w->client, w->contact,
                                      TESORO_CONSENT_DENIED, "No thanks", 0));
  TU_TEXT_IS(contact_text(w, w->contact, "consent"), "denied");
  TU_TEXT_IS(contact_text(w, w->contact, "consent_source"), "portal");
  LAST_CONSENT_ROW(w, w->contact, "granted", "denied", w->client);
  assert_int_equal(consent_rows(w, w->contact), 2);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_consent_set_by_website_from_web_form(void **state) {
  tu_world *w = *state;
  TU_OK(w, tesoro_contact_set_consent(w->t, w->website, w->contact2,
                                      TESORO_CONSENT_GRANTED,
                                      "Newsletter box ticked", 0));
  TU_TEXT_IS(contact_text(w, w->contact2, "consent"), "granted");
  TU_TEXT_IS(contact_text(w, w->contact2, "consent_source"), "web_form");
  TU_TEXT_IS(contact_text(w, w->contact2, "consent_text"), "Newsletter box ticked");
  LAST_CONSENT_ROW(w, w->contact2, "not_asked", "granted", w->website);
  TU_OK(w, tesoro_contact_set_consent(w->t, w->website, w->contact2,
                                      TESORO_CONSENT_NOT_ASKED, NULL, 0));
  LAST_CONSENT_ROW(w, w->contact2, "granted", "not_asked", w->website);
  /* Ada untouched */
  assert_int_equal(consent_rows(w, w->contact), 0);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_consent_from_website_event_newest_wins(void **state) {
  tu_world *w = *state;
  link_ada(w);
  TU_APPLIED(w, consent_event("k2", "hf-ada", T0 + 200, "granted",
                              "Send me offers"));
  TU_TEXT_IS(contact_text(w, w->contact, "consent"), "granted");
  TU_TEXT_IS(contact_text(w, w->contact, "consent_source"), "website_event");
  TU_TEXT_IS(contact_text(w, w->contact, "consent_text"), "Send me offers");
  assert_int_equal(contact_int(w, w->contact, "consent_at"), T0 + 200);
  LAST_CONSENT_ROW(w, w->contact, "not_asked", "granted", w->website);
  /* an older event arriving later changes nothing on the contact */
  {
    int64_t v = tu_version_of(w, CONTACT, w->contact), rows = consent_rows(w, w->contact);
    TU_SUPERSEDED(w, consent_event("k1", "hf-ada", T0 + 100, "denied", "Stop"));
    TU_TEXT_IS(contact_text(w, w->contact, "consent"), "granted");
    TU_TEXT_IS(contact_text(w, w->contact, "consent_text"), "Send me offers");
    assert_int_equal(contact_int(w, w->contact, "consent_at"), T0 + 200);
    assert_int_equal(tu_version_of(w, CONTACT, w->contact), v);
    assert_int_equal(consent_rows(w, w->contact), rows);
  }
  /* a newer one wins */
  TU_APPLIED(w, consent_event("k3", "hf-ada", T0 + 300, "denied", "Unsubscribe"));
  TU_TEXT_IS(contact_text(w, w->contact, "consent"), "denied");
  TU_TEXT_IS(contact_text(w, w->contact, "consent_text"), "Unsubscribe");
  assert_int_equal(contact_int(w, w->contact, "consent_at"), T0 + 300);
  LAST_CONSENT_ROW(w, w->contact, "granted", "denied", w->website);
  assert_int_equal(consent_rows(w, w->contact), 2);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_consent_of_prospect_applies_at_approval(void **state) {
  tu_world *w = *state;
  int64_t customer = 0, contact = 0;
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"p-details\",\"type\":\"customer\",\"customer\":"
                       "\"hf-nina\",\"at\":%lld,\"name\":\"Nina New\",\"email\":"
                       "\"nina@example.com\"}", (long long)T0));
  TU_APPLIED(w, consent_event("p-consent", "hf-nina", T0 + 10, "granted",
                              "Keep me posted"));
  TU_OK(w, tesoro_customer_find(w->t, w->agent, "hf-nina", &customer));
  /* a prospect: no contact yet, the consent waits on the customer */
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM contact WHERE email = "
                              "'nina@example.com'"), 0);
  TU_OK(w, tesoro_prospect_approve(w->t, w->agent, customer, 0, 0, &contact));
  assert_true(contact > 0);
  TU_TEXT_IS(contact_text(w, contact, "consent"), "granted");
  TU_TEXT_IS(contact_text(w, contact, "consent_source"), "website_event");
  TU_TEXT_IS(contact_text(w, contact, "consent_text"), "Keep me posted");
  assert_int_equal(contact_int(w, contact, "consent_at"), T0 + 10);
  assert_int_equal(consent_rows(w, contact), 1);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM history WHERE entity = %d "
                              "AND entity_id = %lld AND event = 'consent' AND "
                              "from_state = 'not_asked' AND to_state = "
                              "'granted'", CONTACT, (long long)contact), 1);
  /* approving into Ada: her consent follows too */
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"q-details\",\"type\":\"customer\",\"customer\":"
                       "\"hf-q\",\"at\":%lld,\"name\":\"Q\",\"email\":\"q@example.com\"}",
                       (long long)T0));
  TU_APPLIED(w, consent_event("q-consent", "hf-q", T0 + 20, "denied", "No mail"));
  TU_OK(w, tesoro_customer_find(w->t, w->agent, "hf-q", &customer));
  TU_OK(w, tesoro_prospect_approve(w->t, w->agent, customer, w->contact, 0, NULL));
  TU_TEXT_IS(contact_text(w, w->contact, "consent"), "denied");
  LAST_CONSENT_ROW(w, w->contact, "not_asked", "denied", w->agent);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_consent_refusals(void **state) {
  tu_world *w = *state;
  int64_t v;
  TU_ASSERT_REFUSED(w, tesoro_contact_set_consent(w->t, w->agent, w->contact,
                                                  TESORO_CONSENT_GRANTED, NULL, 0),
                    TESORO_EINVAL, "statement");
  TU_ASSERT_REFUSED(w, tesoro_contact_set_consent(w->t, w->agent, w->contact,
                                                  TESORO_CONSENT_GRANTED, "", 0),
                    TESORO_EINVAL, "statement");
  TU_ASSERT_REFUSED(w, tesoro_contact_set_consent(w->t, w->agent, w->contact, 0,
                                                  "x", 0),
                    TESORO_EINVAL, "consent");
  TU_ASSERT_REFUSED(w, tesoro_contact_set_consent(w->t, w->agent, w->contact, 4,
                                                  "x", 0),
                    TESORO_EINVAL, "consent");
  TU_ASSERT_REFUSED(w, tesoro_contact_set_consent(w->t, w->agent, w->contact,
                                                  TESORO_CONSENT_GRANTED,
                                                  TU_BAD_UTF8, 0),
                    TESORO_EINVAL, "UTF-8");
  TU_ASSERT_REFUSED(w, tesoro_contact_set_consent(w->t, w->agent, w->contact,
                                                  TESORO_CONSENT_DENIED,
                                                  TU_BAD_UTF8, 0),
                    TESORO_EINVAL, "UTF-8");
  /* another agency's contact: staff and website of the other agency */
  TU_ASSERT_REFUSED(w, tesoro_contact_set_consent(w->t, w->agent, w->other_contact,
                                                  TESORO_CONSENT_DENIED, NULL, 0),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_set_consent(w->t, w->other_admin, w->contact,
                                                  TESORO_CONSENT_DENIED, NULL, 0),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_set_consent(w->t, w->other_website,
                                                  w->contact,
                                                  TESORO_CONSENT_DENIED, NULL, 0),
                    TESORO_EDENIED, NULL);
  /* a client of another contact */
  TU_ASSERT_REFUSED(w, tesoro_contact_set_consent(w->t, w->client2, w->contact,
                                                  TESORO_CONSENT_DENIED, NULL, 0),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_set_consent(w->t, w->other_client, w->contact,
                                                  TESORO_CONSENT_DENIED, NULL, 0),
                    TESORO_EDENIED, NULL);
  /* stale version */
  v = tu_version_of(w, CONTACT, w->contact);
  TU_OK(w, tesoro_contact_set_consent(w->t, w->agent, w->contact,
                                      TESORO_CONSENT_DENIED, NULL, v));
  TU_ASSERT_REFUSED(w, tesoro_contact_set_consent(w->t, w->agent, w->contact,
                                                  TESORO_CONSENT_GRANTED, "yes", v),
                    TESORO_ECONFLICT, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_set_consent(w->t, w->agent, w->contact,
                                                  TESORO_CONSENT_GRANTED, "yes",
                                                  v + 5),
                    TESORO_ECONFLICT, NULL);
  /* unknown contact, unknown actor */
  TU_ASSERT_REFUSED(w, tesoro_contact_set_consent(w->t, w->agent, 999999,
                                                  TESORO_CONSENT_DENIED, NULL, 0),
                    TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_set_consent(w->t, 999999, w->contact,
                                                  TESORO_CONSENT_DENIED, NULL, 0),
                    TESORO_ENOTFOUND, NULL);
  TU_TEXT_IS(contact_text(w, w->contact, "consent"), "denied");
  assert_int_equal(consent_rows(w, w->contact), 1);
}

static void test_consent_event_refusals(void **state) {
  tu_world *w = *state;
  char *r = NULL;
  link_ada(w);
  TU_ASSERT_REFUSED(w, tesoro_exchange_ingest(w->t, w->website,
                                              consent_event("b1", "hf-ada", T0,
                                                            "maybe", "x"),
                                              &r),
                    TESORO_EINVAL, "consent");
  tesoro_free(r);
  r = NULL;
  TU_ASSERT_REFUSED(w, tesoro_exchange_ingest(w->t, w->website,
                                              consent_event("b2", "hf-ada", T0,
                                                            "not_asked", "x"),
                                              &r),
                    TESORO_EINVAL, "consent");
  tesoro_free(r);
  TU_TEXT_IS(contact_text(w, w->contact, "consent"), "not_asked");
}

/* ------------------------------------------------------------------------
** 2. Ada goes through every workflow.
*/

#define D1 INT64_C(1780387200) /* 2026-06-02T08:00:00Z: the viewing */
#define ADA_NAME "Ada Owner"
#define ADA_EMAIL "ada@example.com"
#define ADA_PHONE "+31 6 1234 5678"
#define ADA_PW "Sup3r!secret"
/* Unique phrases Ada or the staff wrote about her: none survives erasure. */
#define P_ROOM_DESC "zebra-striped staircase in the attic"
#define P_ROOM_MSG "purple giraffe lighthouse"
#define P_ROOM_NOTE "marmalade kangaroo divorce"
#define P_VIEW_NOTE "cinnamon waffle hallway"
#define P_REF_NOTE "tangerine o'clock callbacks"
#define P_PORTAL_MSG "saffron bathtub quote"
#define P_RANK_NOTE "velvet armadillo garden"
#define P_ENQUIRY "quokka viewing request"
#define P_CLAIM_NOTE "ochre windmill is mine"
#define P_GROUP "grp-pelican-ada"
#define P_FORM_PHONE "+31 6 9876 5432"
#define P_CONSENT "Ada says yes to the flamingo newsletter"

typedef struct ada_world {
  int64_t room, msg, note, mandate, proposal, mandate_doc, listing;
  int64_t other_listing, deal, dp, appointment, appointment_note;
  int64_t referral, referral_note, account, portal_msg, customer;
  char listing_ref[16], other_ref[16];
} ada_world;

static void ref_of(tu_world *w, int64_t listing, char out[16]) {
  char *r = tu_sqlf_text(w, "SELECT ref FROM listing WHERE id = %lld",
                         (long long)listing);
  assert_non_null(r);
  snprintf(out, 16, "%s", r);
  free(r);
}

/* The open task of the entity whose title contains `needle`. */
static int64_t task_of(tu_world *w, int entity, int64_t id,
                       const char *needle) {
  tesoro_cursor *c = NULL;
  int64_t task = 0;
  TU_OK(w, tesoro_tasks(w->t, w->agent, entity, id, &c));
  while (tesoro_cursor_next(c) == TESORO_ROW)
    if (tu_contains_ci(tu_col_text(c, "title"), needle)) task = tu_col_int(c, "id");
  tesoro_cursor_free(c);
  assert_true(task > 0);
  return task;
}

/* Ada: a room with a message and a private note, a mandate with agreed
   terms (1.50 %, exclusive, 180 days) and a signed PDF, validated into her
   listing; a deal with an offered property and a completed viewing with a
   note and a rating; a referral closed and paid; a portal account with a
   contact-agent message; website data (visits, a search, a view, a save, a
   rank note, an enquiry, a group, a vendor claim); consent granted. */
static void ada_everything(tu_world *w, ada_world *a) {
  int64_t client = 0, login = 0;
  char *temp = NULL;
  int step = 0;
  memset(a, 0, sizeof *a);
  /* seller onboarding */
  TU_OK(w, tesoro_contact_request_submit(
               w->t, w->website, ADA_NAME, ADA_EMAIL, TESORO_PROPERTY_HOUSE,
               "Prinsengracht 263, Amsterdam", 50000000, "within 6 months",
               P_ROOM_DESC, &a->room, &client));
  assert_int_equal(client, 0); /* Ada is known: the website gets no actor */
  TU_OK(w, tesoro_room_message_post(w->t, w->client, a->room,
                                    "Room message: " P_ROOM_MSG, &a->msg));
  TU_OK(w, tesoro_room_note_add(w->t, w->agent, a->room,
                                "Staff note: " P_ROOM_NOTE, &a->note));
  TU_OK(w, tesoro_room_start_onboarding(w->t, w->agent, a->room, 0, 0,
                                        &a->mandate));
  TU_OK(w, tesoro_mandate_propose(w->t, w->agent, a->mandate,
                                  TESORO_COMMISSION_PERCENTAGE, 150, NULL, 1,
                                  180, 0, &a->proposal));
  TU_OK(w, tesoro_mandate_accept(w->t, w->client, a->mandate, a->proposal, 0,
                                 NULL));
  TU_OK(w, tesoro_mandate_share_form(w->t, w->agent, a->mandate, 0));
  TU_OK(w, tesoro_document_add(w->t, w->client, TESORO_ENTITY_MANDATE,
                               a->mandate, TESORO_DOC_SIGNED_MANDATE,
                               "ada-owner-mandate.pdf", "application/pdf",
                               tu_pdf, (int64_t)tu_pdf_size, &a->mandate_doc));
  TU_OK(w, tesoro_mandate_submit_form(
               w->t, w->client, a->mandate,
               "{\"full_name\":\"" ADA_NAME "\",\"email\":\"" ADA_EMAIL "\","
               "\"phone\":\"" P_FORM_PHONE "\",\"address\":\"Prinsengracht 263, "
               "Amsterdam\",\"property_type\":\"house\",\"price\":50000000}",
               0));
  TU_OK(w, tesoro_task_complete(
               w->t, w->agent,
               task_of(w, TESORO_ENTITY_MANDATE, a->mandate, "review"), 0));
  TU_OK(w, tesoro_mandate_validate(w->t, w->agent, a->mandate, 0, &a->listing));
  TU_OK(w, tesoro_listing_update(w->t, w->agent, a->listing,
                                 "{\"title\":\"Canal house with attic\"}", 0));
  TU_OK(w, tesoro_listing_publish(w->t, w->agent, a->listing, 0));
  ref_of(w, a->listing, a->listing_ref);
  /* a deal, an offered property, a viewing with a note and a rating */
  a->other_listing = tu_published_listing(w, "Herengracht house",
                                          "Herengracht 100, Amsterdam",
                                          45000000);
  ref_of(w, a->other_listing, a->other_ref);
  TU_OK(w, tesoro_deal_create(w->t, w->agent, w->contact, "Ada's next home",
                              &a->deal));
  TU_OK(w, tesoro_deal_offer(w->t, w->agent, a->deal, a->other_listing, &a->dp));
  {
    const int64_t at = D1;
    TU_OK(w, tesoro_appointment_request(w->t, w->client, a->dp, &at, 1,
                                        &a->appointment));
  }
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, a->appointment, D1, 0, 0));
  TU_OK(w, tesoro_tick(w->t, D1 + 60, NULL));
  TU_OK(w, tesoro_clock_set(w->t, D1 + 2 * HOUR));
  TU_OK(w, tesoro_appointment_note_add(w->t, w->client, a->appointment,
                                       "Viewing note: " P_VIEW_NOTE,
                                       &a->appointment_note));
  TU_OK(w, tesoro_appointment_rate(w->t, w->client, a->appointment, 4, 0));
  /* a referral, closed with a fee and paid */
  TU_OK(w, tesoro_agency_set_referral_fee(w->t, w->admin, 250));
  TU_OK(w, tesoro_referral_create(w->t, w->admin, w->contact, w->agent,
                                  &a->referral));
  TU_OK(w, tesoro_referral_note_add(w->t, w->agent, a->referral,
                                    "Referral note: " P_REF_NOTE,
                                    &a->referral_note));
  TU_OK(w, tesoro_referral_move(w->t, w->admin, a->referral,
                                TESORO_STAGE_CLOSED,
                                "{\"sale_price\":45000000,\"close_date\":"
                                "\"2026-07-15\"}", 0));
  TU_OK(w, tesoro_referral_move(w->t, w->closings, a->referral,
                                TESORO_STAGE_CLOSED_PAID,
                                "{\"paid_amount\":1125000}", 0));
  /* the portal */
  TU_OK(w, tesoro_portal_account_create(w->t, w->agent, w->contact,
                                        &a->account, &temp));
  TU_OK(w, tesoro_portal_login(w->t, w->website, ADA_EMAIL, temp, &login, &step));
  assert_int_equal(login, w->client);
  TU_OK(w, tesoro_portal_password_change(w->t, w->client, temp, ADA_PW));
  tesoro_free(temp);
  TU_OK(w, tesoro_portal_welcome_finish(w->t, w->client));
  TU_OK(w, tesoro_portal_tour_skip(w->t, w->client));
  {
    char *token = NULL;
    TU_OK(w, tesoro_portal_session_open(w->t, w->website, ADA_EMAIL, ADA_PW,
                                        &token, &login, &step));
    tesoro_free(token);
  }
  TU_OK(w, tesoro_portal_contact_agent(w->t, w->client, a->dp,
                                       "Portal message: " P_PORTAL_MSG,
                                       &a->portal_msg));
  /* the website */
  link_ada(w);
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"ada-visit\",\"type\":\"visit\",\"customer\":"
                       "\"hf-ada\",\"at\":%lld,\"visits\":7}", (long long)T0 + 1));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"ada-search\",\"type\":\"saved_search\","
                       "\"customer\":\"hf-ada\",\"at\":%lld,\"search_id\":\"ada-s1\","
                       "\"alert\":true,\"min_price\":100,\"max_price\":60000000,"
                       "\"area\":{\"name\":\"Jordaan\",\"centre\":{\"type\":\"Point\","
                       "\"coordinates\":[4.88,52.37]},\"radius\":1500}}",
                       (long long)T0 + 2));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"ada-view\",\"type\":\"property_view\","
                       "\"customer\":\"hf-ada\",\"at\":%lld,\"listing\":\"%s\"}",
                       (long long)T0 + 3, a->other_ref));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"ada-save\",\"type\":\"property_save\","
                       "\"customer\":\"hf-ada\",\"at\":%lld,\"listing\":\"%s\","
                       "\"saved\":true}", (long long)T0 + 4, a->other_ref));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"ada-rank\",\"type\":\"property_rank\","
                       "\"customer\":\"hf-ada\",\"at\":%lld,\"listing\":\"%s\","
                       "\"rank\":5,\"note\":\"" P_RANK_NOTE "\",\"shared\":false}",
                       (long long)T0 + 5, a->other_ref));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"ada-enquiry\",\"type\":\"enquiry\","
                       "\"customer\":\"hf-ada\",\"at\":%lld,\"enquiry_type\":"
                       "\"viewing\",\"listing\":\"%s\",\"message\":\"" P_ENQUIRY "\"}",
                       (long long)T0 + 6, a->other_ref));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"ada-group\",\"type\":\"group\",\"customer\":"
                       "\"hf-ada\",\"at\":%lld,\"group\":\"" P_GROUP "\"}",
                       (long long)T0 + 7));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"ada-claim\",\"type\":\"vendor_claim\","
                       "\"customer\":\"hf-ada\",\"at\":%lld,\"listing\":\"%s\","
                       "\"note\":\"" P_CLAIM_NOTE "\"}",
                       (long long)T0 + 8, a->listing_ref));
  TU_OK(w, tesoro_customer_find(w->t, w->agent, "hf-ada", &a->customer));
  /* consent */
  TU_OK(w, tesoro_contact_set_consent(w->t, w->client, w->contact,
                                      TESORO_CONSENT_GRANTED, P_CONSENT, 0));
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* A private in-memory SQLite for reading JSON: the first column of the first
   row of `sql` with ?1 bound to `json` (malloc'd text or NULL). */
static char *jq(const char *json, const char *sql) {
  sqlite3_stmt *s = tu_mem_stmt(sql, json, NULL);
  char *out = NULL;
  if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
    out = tu_strdup((const char *)sqlite3_column_text(s, 0));
  tu_mem_done(s);
  return out;
}
static int64_t jq_int(const char *json, const char *sql) {
  char *v = jq(json, sql);
  int64_t n = v ? strtoll(v, NULL, 10) : 0;
  free(v);
  return n;
}

/* The export text equals / contains. */
#define JQ_IS(json, sql, want) TU_TEXT_IS(jq((json), (sql)), (want))
#define JQ_INT(json, sql, want) assert_int_equal(jq_int((json), (sql)), (want))
#define HEX1 "[0-9a-f]"
#define HEX4 HEX1 HEX1 HEX1 HEX1
#define HEX32 HEX4 HEX4 HEX4 HEX4 HEX4 HEX4 HEX4 HEX4

/* Standard base64 (RFC 4648, with padding) of n bytes (free()). */
static char *base64(const unsigned char *p, size_t n) {
  static const char a[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;
  size_t i;
  assert_non_null(out);
  for (i = 0; i + 2 < n; i += 3) {
    *o++ = a[p[i] >> 2];
    *o++ = a[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
    *o++ = a[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
    *o++ = a[p[i + 2] & 63];
  }
  if (i < n) {
    *o++ = a[p[i] >> 2];
    if (i + 1 < n) {
      *o++ = a[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
      *o++ = a[(p[i + 1] & 15) << 2];
    } else {
      *o++ = a[(p[i] & 3) << 4];
      *o++ = '=';
    }
    *o++ = '=';
  }
  *o = 0;
  return out;
}

/* No secret in an export: no hash key, no argon2 string. */
static void no_secrets(const char *json) {
  assert_null(strstr(json, "password_hash"));
  assert_null(strstr(json, "code_hash"));
  assert_null(strstr(json, "argon2"));
  assert_null(strstr(json, "$argon"));
  assert_int_equal(jq_int(json, "SELECT count(*) FROM json_tree(?1) WHERE key "
                                "IN ('password_hash', 'code_hash')"), 0);
}

static void test_export_by_staff_field_by_field(void **state) {
  tu_world *w = *state;
  ada_world a;
  char *json = NULL;
  ada_everything(w, &a);
  TU_OK(w, tesoro_contact_export(w->t, w->agent, w->contact, 0, &json));
  assert_non_null(json);
  assert_int_equal(jq_int(json, "SELECT json_valid(?1)"), 1);
  /* the envelope */
  JQ_IS(json, "SELECT json_extract(?1, '$.format')", "tesoro-export-1");
  JQ_INT(json, "SELECT json_extract(?1, '$.contact_id')", w->contact);
  JQ_INT(json, "SELECT json_extract(?1, '$.exported_at')", tesoro_now(w->t));
  JQ_IS(json, "SELECT json_extract(?1, '$.for')", "staff");
  /* the contact and its client actor */
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.contact')", 1);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.contact[0].id')", w->contact);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.contact[0].name')", ADA_NAME);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.contact[0].email')", ADA_EMAIL);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.contact[0].phone')", ADA_PHONE);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.contact[0].consent')", "granted");
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.contact[0].consent_source')",
        "portal");
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.contact[0].consent_text')",
        P_CONSENT);
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.actor')", 1);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.actor[0].id')", w->client);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.actor[0].kind')", "client");
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.contact_role[0].role')", "owner");
  /* the room, its message and the private note (staff see it) */
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.room')", 1);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.room[0].id')", a.room);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.room[0].location')",
        "Prinsengracht 263, Amsterdam");
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.room[0].budget')", 50000000);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.room[0].timeline')",
        "within 6 months");
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.room[0].description')",
        P_ROOM_DESC);
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.room_message')", 2);
  JQ_IS(json, "SELECT json_extract(value, '$.body') FROM json_each(?1, "
              "'$.tables.room_message') WHERE json_extract(value, '$.kind') = "
              "'message'", "Room message: " P_ROOM_MSG);
  JQ_IS(json, "SELECT json_extract(value, '$.body') FROM json_each(?1, "
              "'$.tables.room_message') WHERE json_extract(value, '$.kind') = "
              "'note'", "Staff note: " P_ROOM_NOTE);
  JQ_INT(json, "SELECT json_extract(value, '$.author_id') FROM json_each(?1, "
               "'$.tables.room_message') WHERE json_extract(value, '$.kind') = "
               "'note'", w->agent);
  /* the mandate with its agreed terms, the proposal, the listing */
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.mandate')", 1);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.mandate[0].id')", a.mandate);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.mandate[0].state')", "validated");
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.mandate[0].commission_type')",
        "percentage");
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.mandate[0].commission_value')",
         150);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.mandate[0].exclusive')", 1);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.mandate[0].duration_days')", 180);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.mandate[0].agreed_proposal_id')",
         a.proposal);
  JQ_IS(json, "SELECT json_extract(json_extract(?1, '$.tables.mandate[0]."
              "form_json'), '$.phone')", P_FORM_PHONE);
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.proposal')", 1);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.proposal[0].id')", a.proposal);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.proposal[0].commission_value')",
         150);
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.listing')", 1);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.listing[0].id')", a.listing);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.listing[0].ref')", a.listing_ref);
  /* the deal, the offered property, the viewing, its note and rating */
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.deal')", 1);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.deal[0].id')", a.deal);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.deal[0].name')", "Ada's next home");
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.deal_property')", 1);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.deal_property[0].id')", a.dp);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.deal_property[0].listing_id')",
         a.other_listing);
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.appointment')", 1);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.appointment[0].id')",
         a.appointment);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.appointment[0].state')",
        "completed");
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.appointment[0].start_at')", D1);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.appointment[0].rating')", 4);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.appointment[0].rated_at')",
         D1 + 2 * HOUR);
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.appointment_note')", 1);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.appointment_note[0].id')",
         a.appointment_note);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.appointment_note[0].body')",
        "Viewing note: " P_VIEW_NOTE);
  /* the referral, its fee and its note */
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.referral')", 1);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.referral[0].id')", a.referral);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.referral[0].state')",
        "closed_paid");
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.referral[0].fee_bp')", 250);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.referral[0].sale_price')",
         45000000);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.referral[0].fee_owed')", 1125000);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.referral[0].paid_amount')",
         1125000);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.referral_note[0].body')",
        "Referral note: " P_REF_NOTE);
  /* the portal account (no hash) and the contact-agent message */
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.portal_account')", 1);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.portal_account[0].id')",
         a.account);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.portal_account[0].email')",
        ADA_EMAIL);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.portal_account[0].state')",
        "ready");
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.portal_message')", 1);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.portal_message[0].id')",
         a.portal_msg);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.portal_message[0].body')",
        "Portal message: " P_PORTAL_MSG);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.portal_message[0]."
               "deal_property_id')", a.dp);
  /* the website's data */
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.web_customer')", 1);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.web_customer[0].id')",
         a.customer);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.web_customer[0].external_id')",
        "hf-ada");
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.web_customer[0].email')",
        ADA_EMAIL);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.web_customer[0].visits')", 7);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.web_customer[0].last_visit_at')",
         T0 + 1);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.web_customer[0].group_ref')",
        P_GROUP);
  JQ_IS(json, "SELECT group_concat(s, ',') FROM (SELECT json_extract(value, "
              "'$.source_id') s FROM json_each(?1, '$.tables.web_event') ORDER "
              "BY 1)",
        "ada-claim,ada-details,ada-enquiry,ada-group,ada-rank,ada-save,"
        "ada-search,ada-view,ada-visit");
  /* each event's digest, its 16 bytes as 32 lower-case hex digits */
  JQ_INT(json, "SELECT count(*) FROM json_each(?1, '$.tables.web_event') "
               "WHERE json_extract(value, '$.digest') GLOB '" HEX32 "'", 9);
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.search')", 1);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.search[0].external_id')",
        "ada-s1");
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.search[0].max_price')", 60000000);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.search[0].area_name')", "Jordaan");
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.search[0].hard')", 1);
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.web_interest')", 1);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.web_interest[0].listing_id')",
         a.other_listing);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.web_interest[0].views')", 1);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.web_interest[0].saved')", 1);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.web_interest[0].rank')", 5);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.web_interest[0].note')",
        P_RANK_NOTE);
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.enquiry')", 1);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.enquiry[0].type')", "viewing");
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.enquiry[0].message')", P_ENQUIRY);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.enquiry[0].at')", T0 + 6);
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.vendor_claim')", 1);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.vendor_claim[0].listing_id')",
         a.listing);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.vendor_claim[0].note')",
        P_CLAIM_NOTE);
  /* history, activity and outbox: as many rows as the file holds */
  JQ_INT(json, "SELECT count(*) FROM json_each(?1, '$.tables.history') WHERE "
               "json_extract(value, '$.event') = 'consent' AND json_extract("
               "value, '$.to_state') = 'granted'", 1);
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.activity')",
         tu_sqlf(w, "SELECT count(*) FROM activity WHERE contact_id = %lld",
                 (long long)w->contact));
  JQ_INT(json, "SELECT count(*) FROM json_each(?1, '$.tables.history') WHERE "
               "json_extract(value, '$.entity') = 9",
         tu_sqlf(w, "SELECT count(*) FROM history WHERE entity = 9 AND "
                    "entity_id = %lld", (long long)a.referral));
  JQ_INT(json, "SELECT count(*) FROM json_each(?1, '$.tables.history') WHERE "
               "json_extract(value, '$.entity') = 1",
         tu_sqlf(w, "SELECT count(*) FROM history WHERE entity = 1 AND "
                    "entity_id = %lld", (long long)w->contact));
  JQ_INT(json, "SELECT count(*) FROM json_each(?1, '$.tables.outbox') WHERE "
               "json_extract(value, '$.recipient_id') = 11",
         tu_sqlf(w, "SELECT count(*) FROM outbox WHERE recipient_id = %lld",
                 (long long)w->client));
  /* the document's metadata, without its bytes */
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.document')", 1);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.document[0].id')", a.mandate_doc);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.document[0].name')",
        "ada-owner-mandate.pdf");
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.document[0].mime')",
        "application/pdf");
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.document[0].size')",
         (int64_t)tu_pdf_size);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.document[0].uploaded_by')",
         w->client);
  JQ_INT(json, "SELECT json_type(?1, '$.tables.document[0].data') IS NULL", 1);
  {
    char *sha = tu_sqlf_text(w, "SELECT sha256 FROM document WHERE id = %lld",
                             (long long)a.mandate_doc);
    JQ_IS(json, "SELECT json_extract(?1, '$.tables.document[0].sha256')", sha);
    free(sha);
  }
  no_secrets(json);
  /* nobody else's data */
  assert_null(strstr(json, "Bob Buyer"));
  assert_null(strstr(json, "bob@example.com"));
  assert_null(strstr(json, "Otto"));
  tesoro_free(json);
  /* any staff of the agency may export */
  TU_OK(w, tesoro_contact_export(w->t, w->admin, w->contact, 0, &json));
  JQ_IS(json, "SELECT json_extract(?1, '$.for')", "staff");
  tesoro_free(json);
}

static void test_export_for_client_without_private_notes(void **state) {
  tu_world *w = *state;
  ada_world a;
  char *json = NULL;
  ada_everything(w, &a);
  TU_OK(w, tesoro_contact_export(w->t, w->client, w->contact, 0, &json));
  JQ_IS(json, "SELECT json_extract(?1, '$.for')", "client");
  JQ_INT(json, "SELECT json_extract(?1, '$.contact_id')", w->contact);
  JQ_INT(json, "SELECT count(*) FROM json_each(?1, '$.tables.room_message') "
               "WHERE json_extract(value, '$.kind') = 'note'", 0);
  JQ_INT(json, "SELECT count(*) FROM json_each(?1, '$.tables.room_message') "
               "WHERE json_extract(value, '$.kind') = 'message'", 1);
  assert_null(strstr(json, P_ROOM_NOTE));
  assert_non_null(strstr(json, P_ROOM_MSG));
  /* only the client's own notifications */
  JQ_INT(json, "SELECT count(*) FROM json_each(?1, '$.tables.outbox') WHERE "
               "json_extract(value, '$.recipient_id') != 11", 0);
  JQ_INT(json, "SELECT count(*) FROM json_each(?1, '$.tables.outbox')",
         tu_sqlf(w, "SELECT count(*) FROM outbox WHERE recipient_id = %lld",
                 (long long)w->client));
  /* the rest of the export is there */
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.contact[0].name')", ADA_NAME);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.appointment_note[0].body')",
        "Viewing note: " P_VIEW_NOTE);
  JQ_INT(json, "SELECT json_extract(?1, '$.tables.mandate[0].commission_value')",
         150);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.portal_message[0].body')",
        "Portal message: " P_PORTAL_MSG);
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.document')", 1);
  no_secrets(json);
  tesoro_free(json);
}

static void test_export_document_bytes_only_on_request(void **state) {
  tu_world *w = *state;
  ada_world a;
  char *json = NULL, *b64 = base64(tu_pdf, tu_pdf_size);
  ada_everything(w, &a);
  TU_OK(w, tesoro_contact_export(w->t, w->agent, w->contact,
                                 TESORO_EXPORT_DOCUMENT_BYTES, &json));
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.document')", 1);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.document[0].data')", b64);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.document[0].name')",
        "ada-owner-mandate.pdf");
  no_secrets(json);
  tesoro_free(json);
  /* the client too */
  TU_OK(w, tesoro_contact_export(w->t, w->client, w->contact,
                                 TESORO_EXPORT_DOCUMENT_BYTES, &json));
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.document[0].data')", b64);
  tesoro_free(json);
  /* without the flag: metadata only */
  TU_OK(w, tesoro_contact_export(w->t, w->agent, w->contact, 0, &json));
  assert_null(strstr(json, b64));
  tesoro_free(json);
  free(b64);
}

static void test_export_of_a_fresh_contact(void **state) {
  tu_world *w = *state;
  char *json = NULL;
  TU_OK(w, tesoro_contact_export(w->t, w->agent2, w->contact2, 0, &json));
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.contact[0].name')", "Bob Buyer");
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.room')", 0);
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.referral')", 0);
  JQ_IS(json, "SELECT json_type(?1, '$.tables.room')", "array");
  assert_null(strstr(json, ADA_NAME));
  no_secrets(json);
  tesoro_free(json);
}

static void test_export_refusals(void **state) {
  tu_world *w = *state;
  ada_world a;
  char *json = NULL;
  ada_everything(w, &a);
  TU_ASSERT_REFUSED(w, tesoro_contact_export(w->t, w->client2, w->contact, 0,
                                             &json),
                    TESORO_EDENIED, NULL);
  assert_null(json);
  TU_ASSERT_REFUSED(w, tesoro_contact_export(w->t, w->client, w->contact2, 0,
                                             &json),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_export(w->t, w->other_agent, w->contact, 0,
                                             &json),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_export(w->t, w->other_admin, w->contact,
                                             TESORO_EXPORT_DOCUMENT_BYTES, &json),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_export(w->t, w->other_client, w->contact, 0,
                                             &json),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_export(w->t, w->agent, w->other_contact, 0,
                                             &json),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_export(w->t, w->agent, w->contact, 2, &json),
                    TESORO_EINVAL, "flag");
  TU_ASSERT_REFUSED(w, tesoro_contact_export(w->t, w->agent, w->contact, 0, NULL),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_export(w->t, w->agent, 999999, 0, &json),
                    TESORO_ENOTFOUND, NULL);
  assert_null(json);
}

/* ------------------------------------------------------------------------
** 3. Erasure.
*/

/* Does the database file (or its WAL, after a checkpoint) contain `needle`?
   Prints where. */
static int file_has(tu_world *w, const char *needle) {
  static const char *const suffix[] = {"", "-wal"};
  int found = 0;
  size_t i;
  for (i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
    char path[600];
    size_t n = 0;
    unsigned char *buf;
    snprintf(path, sizeof path, "%s%s", w->path, suffix[i]);
    buf = tu_read_file(path, &n);
    if (buf == NULL) {
      assert_true(i > 0); /* the main file must be readable */
      continue;
    }
    if (tu_has_bytes(buf, n, needle)) {
      found = 1;
    }
    free(buf);
  }
  return found;
}

/* After a checkpoint, every needle is in the file (`present`: the search
   works) or none is (the erasure scrubbed them; each one found printed). */
static void needles_in_file(tu_world *w, const char *const *needles, size_t n,
                            int present) {
  int wrong = 0;
  assert_int_equal(tu_sql_exec(w, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, 0),
                   0);
  for (size_t i = 0; i < n; i++)
    if (file_has(w, needles[i]) != present) {
      print_error(present ? "needle \"%s\" not in the file before erasure\n"
                          : "\"%s\" is still in the database file\n",
                  needles[i]);
      wrong = 1;
    }
  assert_int_equal(wrong, 0);
}

/* Snapshot of Bob's data (to prove it untouched), malloc'd. */
static char *bob_snapshot(tu_world *w) {
  return tu_sqlf_text(
      w,
      "SELECT json_array((SELECT json_group_array(json_array(name, email, "
      "phone, consent, version)) FROM contact WHERE id = %lld), (SELECT "
      "json_group_array(json_array(name, email)) FROM actor WHERE contact_id = "
      "%lld), (SELECT json_group_array(json_array(id, name, state)) FROM deal "
      "WHERE contact_id = %lld), (SELECT json_group_array(json_array(id, "
      "summary)) FROM activity WHERE contact_id = %lld), (SELECT "
      "json_group_array(json_array(id, status, payload)) FROM outbox_delivery WHERE "
      "recipient_id = %lld), (SELECT json_group_array(json_array(id, email, "
      "password_hash, state)) FROM portal_account WHERE contact_id = %lld), "
      "(SELECT json_group_array(json_array(id, body)) FROM referral_note WHERE "
      "referral_id IN (SELECT id FROM referral WHERE contact_id = %lld)))",
      (long long)w->contact2, (long long)w->contact2, (long long)w->contact2,
      (long long)w->contact2, (long long)w->client2, (long long)w->contact2,
      (long long)w->contact2);
}

/* Bob gets a deal, a referral with a note and a portal account. */
static void bob_something(tu_world *w) {
  int64_t deal = 0, ref = 0, note = 0, account = 0;
  char *temp = NULL;
  TU_OK(w, tesoro_deal_create(w->t, w->agent2, w->contact2, "Bob's flat", &deal));
  TU_OK(w, tesoro_referral_create(w->t, w->admin, w->contact2, w->agent2, &ref));
  TU_OK(w, tesoro_referral_note_add(w->t, w->agent2, ref,
                                    "Bob note: umbrella heron", &note));
  TU_OK(w, tesoro_portal_account_create(w->t, w->agent2, w->contact2, &account,
                                        &temp));
  tesoro_free(temp);
}

/* The ids of Ada's pending outbox rows, as a JSON array (malloc'd). */
#define ADA_OUTBOX                                                            \
  "FROM outbox_delivery WHERE (recipient_id = %lld OR ((entity = 1 AND entity_id = %lld) OR (entity = 2 AND "       \
  "entity_id = %lld) OR (entity = 3 AND entity_id = %lld) OR (entity = 6 AND " \
  "entity_id = %lld) OR (entity = 8 AND entity_id = %lld) OR (entity = 9 AND " \
  "entity_id = %lld) OR (entity = 10 AND entity_id = %lld)))"
#define ADA_OUTBOX_ARGS(w, a)                                                 \
  (long long)(w)->client, (long long)(w)->contact, (long long)(a).room,       \
      (long long)(a).mandate, (long long)(a).deal, (long long)(a).appointment, \
      (long long)(a).referral, (long long)(a).account

static void test_erase_leaves_no_personal_data_in_the_file(void **state) {
  tu_world *w = *state;
  static const char *const needles[] = {
      ADA_NAME,      ADA_EMAIL,    ADA_PHONE,    "Ada's next home",
      P_ROOM_DESC,   P_ROOM_MSG,   P_ROOM_NOTE,  P_VIEW_NOTE,
      P_REF_NOTE,    P_PORTAL_MSG, P_RANK_NOTE,  P_ENQUIRY,
      P_CLAIM_NOTE,  P_GROUP,      P_FORM_PHONE, "ada-owner-mandate.pdf",
      "hf-ada",      "within 6 months"};
  ada_world a;
  ada_everything(w, &a);
  needles_in_file(w, needles, sizeof needles / sizeof needles[0], 1);
  TU_OK(w, tesoro_contact_erase(w->t, w->admin, w->contact, "GDPR request 42"));
  needles_in_file(w, needles, sizeof needles / sizeof needles[0], 0);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_erase_keeps_the_books(void **state) {
  tu_world *w = *state;
  ada_world a;
  ada_everything(w, &a);
  TU_OK(w, tesoro_contact_erase(w->t, w->admin, w->contact, NULL));
  /* the referral's fee and payment */
  assert_int_equal(tu_sqlf(w, "SELECT fee_bp FROM referral WHERE id = %lld",
                           (long long)a.referral), 250);
  assert_int_equal(tu_sqlf(w, "SELECT fee_owed FROM referral WHERE id = %lld",
                           (long long)a.referral), 1125000);
  assert_int_equal(tu_sqlf(w, "SELECT paid_amount FROM referral WHERE id = %lld",
                           (long long)a.referral), 1125000);
  assert_int_equal(tu_sqlf(w, "SELECT sale_price FROM referral WHERE id = %lld",
                           (long long)a.referral), 45000000);
  TU_TEXT_IS(tu_sqlf_text(w, "SELECT state FROM referral WHERE id = %lld",
                          (long long)a.referral), "closed_paid");
  /* the mandate's financial terms and the agreed proposal */
  TU_TEXT_IS(tu_sqlf_text(w, "SELECT commission_type FROM mandate WHERE id = %lld",
                          (long long)a.mandate), "percentage");
  assert_int_equal(tu_sqlf(w, "SELECT commission_value FROM mandate WHERE id = "
                              "%lld", (long long)a.mandate), 150);
  assert_int_equal(tu_sqlf(w, "SELECT duration_days FROM mandate WHERE id = %lld",
                           (long long)a.mandate), 180);
  assert_int_equal(tu_sqlf(w, "SELECT exclusive FROM mandate WHERE id = %lld",
                           (long long)a.mandate), 1);
  assert_int_equal(tu_sqlf(w, "SELECT agreed_proposal_id FROM mandate WHERE id = "
                              "%lld", (long long)a.mandate), a.proposal);
  TU_TEXT_IS(tu_sqlf_text(w, "SELECT state FROM mandate WHERE id = %lld",
                          (long long)a.mandate), "validated");
  assert_int_equal(tu_sqlf(w, "SELECT commission_value FROM proposal WHERE id = "
                              "%lld", (long long)a.proposal), 150);
  /* the rows themselves: states, times, ids; the listing */
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM contact WHERE id = %lld",
                           (long long)w->contact), 1);
  TU_TEXT_IS(tu_sqlf_text(w, "SELECT state FROM appointment WHERE id = %lld",
                          (long long)a.appointment), "completed");
  assert_int_equal(tu_sqlf(w, "SELECT rating FROM appointment WHERE id = %lld",
                           (long long)a.appointment), 4);
  TU_TEXT_IS(tu_sqlf_text(w, "SELECT state FROM listing WHERE id = %lld",
                          (long long)a.listing), "published");
  assert_int_equal(tu_sqlf(w, "SELECT price FROM listing WHERE id = %lld",
                           (long long)a.listing), 50000000);
  /* the personal columns overwritten */
  TU_TEXT_IS(contact_text(w, w->contact, "name"), "erased");
  TU_TEXT_IS(contact_text(w, w->contact, "email"), NULL);
  TU_TEXT_IS(contact_text(w, w->contact, "phone"), NULL);
  TU_TEXT_IS(tu_sqlf_text(w, "SELECT form_json FROM mandate WHERE id = %lld",
                          (long long)a.mandate), NULL);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM document WHERE id = %lld",
                           (long long)a.mandate_doc), 0);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM room_message WHERE room_id "
                              "= %lld AND body != 'erased'", (long long)a.room),
                   0);
  /* the history keeps its events, without details */
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM history WHERE entity = 9 AND "
                              "entity_id = %lld AND details IS NOT NULL",
                           (long long)a.referral), 0);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM history WHERE entity = 9 AND "
                              "entity_id = %lld AND event = 'closed_paid'",
                           (long long)a.referral), 1);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM history WHERE entity = 1 AND "
                              "entity_id = %lld AND event = 'consent' AND "
                              "to_state = 'granted' AND details IS NULL",
                           (long long)w->contact), 1);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_erase_withdraws_outbox_and_locks_out_the_client(void **state) {
  tu_world *w = *state;
  ada_world a;
  char *bob_before, *bob_after, *pending_before, *json = NULL;
  int64_t client = 0, bob_pending, note = 0;
  int step = 0;
  bob_something(w);
  ada_everything(w, &a);
  pending_before = tu_sqlf_text(w, "SELECT json_group_array(id) " ADA_OUTBOX
                                   " AND status = 'pending'",
                                ADA_OUTBOX_ARGS(w, a));
  assert_true(tu_sqlf(w, "SELECT count(*) " ADA_OUTBOX " AND status = 'pending'",
                      ADA_OUTBOX_ARGS(w, a)) > 0);
  bob_pending = tu_sqlf(w, "SELECT count(*) FROM outbox_delivery WHERE recipient_id = "
                           "%lld AND status = 'pending'", (long long)w->client2);
  assert_true(bob_pending > 0);
  bob_before = bob_snapshot(w);
  TU_OK(w, tesoro_contact_erase(w->t, w->admin, w->contact, "asked by e-mail"));
  /* every row that was pending is withdrawn, none is pending */
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM outbox_delivery WHERE id IN (SELECT "
                              "value FROM json_each('%s')) AND status != "
                              "'withdrawn'", pending_before), 0);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) " ADA_OUTBOX
                              " AND status = 'pending'", ADA_OUTBOX_ARGS(w, a)),
                   0);
  /* payloads about her blanked */
  assert_int_equal(tu_sqlf(w, "SELECT count(*) " ADA_OUTBOX " AND (payload LIKE "
                              "'%%Ada%%' OR payload LIKE '%%ada@%%')",
                           ADA_OUTBOX_ARGS(w, a)), 0);
  /* and their summaries (a reason she gave could be in one) */
  assert_int_equal(tu_sqlf(w, "SELECT count(*) " ADA_OUTBOX " AND summary != 'erased'",
                           ADA_OUTBOX_ARGS(w, a)), 0);
  free(pending_before);
  /* the portal: the old password no longer logs in */
  TU_ASSERT_ERR(w, tesoro_portal_login(w->t, w->website, ADA_EMAIL, ADA_PW,
                                       &client, &step),
                TESORO_EDENIED, NULL);
  assert_int_equal(client, 0);
  /* the client actor no longer acts */
  TU_ASSERT_REFUSED(w, tesoro_contact_export(w->t, w->client, w->contact, 0,
                                             &json),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_set_consent(w->t, w->client, w->contact,
                                                  TESORO_CONSENT_DENIED, NULL, 0),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_contact_agent(w->t, w->client, a.dp,
                                                   "hello again", NULL),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_appointment_note_add(w->t, w->client,
                                                   a.appointment, "again",
                                                   &note),
                    TESORO_EDENIED, NULL);
  /* Bob untouched */
  bob_after = bob_snapshot(w);
  TU_TEXT_IS(bob_after, bob_before);
  free(bob_before);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM outbox_delivery WHERE recipient_id = "
                              "%lld AND status = 'pending'", (long long)w->client2),
                   bob_pending);
  TU_TEXT_IS(contact_text(w, w->contact2, "name"), "Bob Buyer");
  /* staff can still read the erased contact */
  TU_OK(w, tesoro_contact_export(w->t, w->agent, w->contact, 0, &json));
  assert_null(strstr(json, ADA_NAME));
  assert_null(strstr(json, ADA_EMAIL));
  no_secrets(json);
  tesoro_free(json);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_erase_is_recorded_and_idempotent(void **state) {
  tu_world *w = *state;
  ada_world a;
  tu_history h;
  char before[65], after[65];
  int64_t v;
  ada_everything(w, &a);
  TU_OK(w, tesoro_clock_set(w->t, D1 + 5 * HOUR));
  v = tu_version_of(w, CONTACT, w->contact);
  TU_OK(w, tesoro_contact_erase(w->t, w->admin, w->contact, "GDPR art. 17"));
  tu_last_history(w, CONTACT, w->contact, &h);
  TU_STR_IS(h.event, "erase");
  assert_int_equal(h.actor, w->admin);
  assert_int_equal(h.at, D1 + 5 * HOUR);
  assert_int_equal(h.seq, v + 1);
  tu_history_free(&h);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM history WHERE entity = %d "
                              "AND entity_id = %lld AND event = 'erase'",
                           CONTACT, (long long)w->contact), 1);
  assert_int_equal(contact_int(w, w->contact, "erased_at"), D1 + 5 * HOUR);
  assert_int_equal(contact_int(w, w->contact, "erased_by"), w->admin);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
  /* a second erase: OK, nothing changes */
  TU_OK(w, tesoro_clock_set(w->t, D1 + 6 * HOUR));
  tu_digest(w, before);
  TU_OK(w, tesoro_contact_erase(w->t, w->admin, w->contact, "again"));
  tu_digest(w, after);
  assert_string_equal(before, after);
  TU_OK(w, tesoro_contact_erase(w->t, w->admin, w->contact, NULL));
  tu_digest(w, after);
  assert_string_equal(before, after);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* Another handle's erasure reaches this one at once: what this handle
   remembers of the contact and of its client actor (read while writing)
   goes with the other's commit. */
static void test_erasure_elsewhere_applies_at_once(void **state) {
  tu_world *w = *state;
  ada_world a;
  tesoro *other = NULL;
  int64_t id = 0;
  ada_everything(w, &a);
  TU_OK(w, tesoro_deal_property_favourite(w->t, w->client, a.dp, 1, 0));
  TU_OK(w, tesoro_referral_note_add(w->t, w->agent, a.referral, "Before",
                                    &id));
  assert_int_equal(tesoro_open(w->path, &other), TESORO_OK);
  assert_int_equal(tesoro_contact_erase(other, w->admin, w->contact, "GDPR"),
                   TESORO_OK);
  tesoro_close(other);
  TU_ASSERT_REFUSED(w, tesoro_deal_property_favourite(w->t, w->client, a.dp,
                                                      0, 0),
                    TESORO_EDENIED, "erased");
  TU_ASSERT_REFUSED(w, tesoro_referral_note_add(w->t, w->agent, a.referral,
                                                "After", &id),
                    TESORO_ESTATE, "erased");
}

/* An erased contact is frozen: every write that names it is refused, so
   personal data cannot flow back in. */
static void test_erased_contact_is_frozen(void **state) {
  tu_world *w = *state;
  ada_world a;
  int64_t id = 0, prospect = 0;
  char *res = NULL, *temp = NULL;
  ada_everything(w, &a);
  TU_OK(w, tesoro_contact_erase(w->t, w->admin, w->contact, "GDPR art. 17"));
  TU_ASSERT_REFUSED(w, tesoro_contact_set_consent(w->t, w->agent, w->contact,
                                                  TESORO_CONSENT_GRANTED,
                                                  "Newsletter", 0),
                    TESORO_ESTATE, "erased");
  TU_ASSERT_REFUSED(w, tesoro_search_save(w->t, w->agent, w->contact, 0,
                                          "{\"min_price\":1}", 0, &id),
                    TESORO_ESTATE, "erased");
  TU_ASSERT_REFUSED(w, tesoro_contact_set_group(w->t, w->agent, w->contact, "vip"),
                    TESORO_ESTATE, "erased");
  TU_ASSERT_REFUSED(w, tesoro_interest_register(w->t, w->agent, w->contact,
                                                a.other_listing),
                    TESORO_ESTATE, "erased");
  TU_ASSERT_REFUSED(w, tesoro_deal_create(w->t, w->agent, w->contact, "Again",
                                          &id),
                    TESORO_ESTATE, "erased");
  TU_ASSERT_REFUSED(w, tesoro_referral_create(w->t, w->agent, w->contact, 0,
                                              &id),
                    TESORO_ESTATE, "erased");
  TU_ASSERT_REFUSED(w, tesoro_contact_assign(w->t, w->admin, w->contact,
                                             w->agent2, 0),
                    TESORO_ESTATE, "erased");
  TU_ASSERT_REFUSED(w, tesoro_portal_account_create(w->t, w->agent, w->contact,
                                                    &id, &temp),
                    TESORO_ESTATE, "erased");
  /* notes on what was hers: the engine refuses them too */
  TU_ASSERT_REFUSED(w, tesoro_referral_note_add(w->t, w->agent, a.referral,
                                                "Called again", &id),
                    TESORO_ESTATE, "erased");
  TU_ASSERT_REFUSED(w, tesoro_room_note_add(w->t, w->agent, a.room, "Note",
                                            &id),
                    TESORO_ESTATE, "erased");
  /* a prospect approved into her, or a website event naming her */
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"fz1\",\"type\":\"customer\",\"customer\":"
                       "\"hf-new\",\"at\":%lld,\"name\":\"New\"}", (long long)T0 + 50));
  TU_OK(w, tesoro_customer_find(w->t, w->agent, "hf-new", &prospect));
  TU_ASSERT_REFUSED(w, tesoro_prospect_approve(w->t, w->agent, prospect,
                                               w->contact, 0, &id),
                    TESORO_ESTATE, "erased");
  TU_ASSERT_REFUSED(w, tesoro_exchange_ingest(
                        w->t, w->website,
                        tu_fmt("{\"source_id\":\"fz2\",\"type\":\"customer\","
                               "\"customer\":\"hf-x\",\"at\":%lld,\"name\":"
                               "\"Ada\",\"contact_id\":%lld}", (long long)T0 + 60,
                               (long long)w->contact),
                        &res),
                    TESORO_ESTATE, "erased");
  assert_null(res);
  assert_null(temp);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* GDPR rectification: staff or the client correct the contact; history
   keeps old and new (erasure removes them); the website hears; a new
   portal e-mail waits for its code. */
static void test_contact_correction(void **state) {
  tu_world *w = *state;
  char *v, *temp = NULL, *code;
  int64_t account = 0, client = 0, version, other = 0;
  int step = 0;
  /* linked to the website's customer hf-ada */
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"cr1\",\"type\":\"customer\",\"customer\":"
                       "\"hf-ada\",\"at\":%lld,\"name\":\"Ada\",\"contact_id\":%lld}",
                       (long long)T0, (long long)w->contact));
  version = tu_version_of(w, CONTACT, w->contact);
  TU_OK(w, tesoro_contact_update(w->t, w->agent, w->contact,
                                 "{\"name\":\"Ada Lovelace\",\"phone\":\"+31 6 "
                                 "1234\",\"language\":\"nl-NL\"}",
                                 version));
  TU_TEXT_IS(contact_text(w, w->contact, "name"), "Ada Lovelace");
  TU_TEXT_IS(contact_text(w, w->contact, "phone"), "+31 6 1234");
  TU_TEXT_IS(contact_text(w, w->contact, "language"), "nl-NL");
  assert_int_equal(tu_version_of(w, CONTACT, w->contact), version + 1);
  v = tu_sqlf_text(w, "SELECT json_extract(details, '$.old.name') || '>' || "
                      "json_extract(details, '$.new.name') FROM history "
                      "WHERE entity = %d AND entity_id = %lld AND event = "
                      "'correct'", CONTACT, (long long)w->contact);
  assert_string_equal(v, "Ada Owner>Ada Lovelace");
  free(v);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM outbox WHERE template = "
                              "'customer_updated' AND json_extract(payload, "
                              "'$.customer') = 'hf-ada' AND json_extract("
                              "payload, '$.name') = 'Ada Lovelace'"), 1);
  /* the client corrects their own; null clears a field */
  TU_OK(w, tesoro_contact_update(w->t, w->client, w->contact,
                                 "{\"phone\":null}", 0));
  assert_null(contact_text(w, w->contact, "phone"));
  /* the creation rules */
  TU_ASSERT_REFUSED(w, tesoro_contact_update(w->t, w->agent, w->contact,
                                             "{\"email\":\"bob@example.com\"}", 0),
                    TESORO_EEXISTS, "already has e-mail");
  TU_ASSERT_REFUSED(w, tesoro_contact_update(w->t, w->agent, w->contact,
                                             "{\"email\":\"not-an-email\"}", 0),
                    TESORO_EINVAL, "e-mail");
  TU_ASSERT_REFUSED(w, tesoro_contact_update(w->t, w->agent, w->contact,
                                             "{\"name\":null}", 0),
                    TESORO_EINVAL, "name");
  TU_ASSERT_REFUSED(w, tesoro_contact_update(w->t, w->agent, w->contact,
                                             "{\"name\":\"\"}", 0),
                    TESORO_EINVAL, "name");
  TU_ASSERT_REFUSED(w, tesoro_contact_update(w->t, w->agent, w->contact,
                                             "{\"nickname\":\"A\"}", 0),
                    TESORO_EINVAL, "unknown field");
  TU_ASSERT_REFUSED(w, tesoro_contact_update(w->t, w->agent, w->contact,
                                             "{\"name\":\"A\\u0000B\"}", 0),
                    TESORO_EINVAL, "NUL");
  TU_ASSERT_REFUSED(w, tesoro_contact_update(w->t, w->agent, w->contact,
                                             "{\"name\":\"" TU_BAD_UTF8 "\"}", 0),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_update(w->t, w->agent, w->contact, NULL, 0),
                    TESORO_EINVAL, "contact fields");
  TU_ASSERT_REFUSED(w, tesoro_contact_update(w->t, w->agent, w->contact,
                                             "{\"name\":\"X\"}", 1),
                    TESORO_ECONFLICT, "version");
  TU_ASSERT_REFUSED(w, tesoro_contact_update(w->t, w->client2, w->contact,
                                             "{\"name\":\"X\"}", 0),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_update(w->t, w->website, w->contact,
                                             "{\"name\":\"X\"}", 0),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_update(w->t, w->other_agent, w->contact,
                                             "{\"name\":\"X\"}", 0),
                    TESORO_EDENIED, "another agency");
  TU_ASSERT_REFUSED(w, tesoro_contact_update(w->t, w->agent, 999999,
                                             "{\"name\":\"X\"}", 0),
                    TESORO_ENOTFOUND, NULL);
  /* a portal account: the new e-mail logs in only once verified */
  TU_OK(w, tesoro_portal_account_create(w->t, w->agent, w->contact, &account,
                                        &temp));
  TU_OK(w, tesoro_portal_login(w->t, w->website, ADA_EMAIL, temp, &client,
                               &step));
  TU_OK(w, tesoro_portal_password_change(w->t, w->client, temp, ADA_PW));
  tesoro_free(temp);
  TU_OK(w, tesoro_contact_update(w->t, w->agent, w->contact,
                                 "{\"email\":\"ada@new.example\"}", 0));
  TU_TEXT_IS(contact_text(w, w->contact, "email"), "ada@new.example");
  assert_int_equal(tesoro_check(w->t), TESORO_OK); /* a waiting e-mail is fine */
  TU_ASSERT_ERR(w, tesoro_portal_login(w->t, w->website, "ada@new.example",
                                       ADA_PW, &client, &step),
                TESORO_EDENIED, "wrong");
  TU_OK(w, tesoro_portal_login(w->t, w->website, ADA_EMAIL, ADA_PW, &client,
                               &step));
  code = tu_sql_text(w, "SELECT json_extract(payload, '$.secret') FROM outbox "
                        "WHERE template = 'Portal E-mail Verification'");
  assert_non_null(code);
  TU_ASSERT_ERR(w, tesoro_portal_email_verify(w->t, w->client,
                                              strcmp(code, "000000") ? "000000"
                                                                     : "111111"),
                TESORO_EDENIED, "wrong or has expired");
  TU_OK(w, tesoro_portal_email_verify(w->t, w->client, code));
  TU_OK(w, tesoro_portal_login(w->t, w->website, "ada@new.example", ADA_PW,
                               &client, &step));
  TU_ASSERT_REFUSED(w, tesoro_portal_email_verify(w->t, w->client, code),
                    TESORO_ESTATE, "no new e-mail");
  free(code);
  /* erasure removes the values the history kept */
  (void)other;
  TU_OK(w, tesoro_contact_erase(w->t, w->admin, w->contact, "GDPR art. 17"));
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM history WHERE event = "
                              "'correct' AND details IS NOT NULL AND "
                              "entity_id = %lld", (long long)w->contact), 0);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_erase_refusals(void **state) {
  tu_world *w = *state;
  ada_world a;
  ada_everything(w, &a);
  TU_ASSERT_REFUSED(w, tesoro_contact_erase(w->t, w->agent, w->contact, NULL),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_erase(w->t, w->agent2, w->contact, NULL),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_erase(w->t, w->closings, w->contact, NULL),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_erase(w->t, w->client, w->contact, NULL),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_erase(w->t, w->website, w->contact, NULL),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_erase(w->t, w->other_admin, w->contact,
                                            NULL),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_erase(w->t, w->admin, w->other_contact,
                                            NULL),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_erase(w->t, w->admin, w->contact,
                                            TU_BAD_UTF8),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_erase(w->t, w->admin, 999999, NULL),
                    TESORO_ENOTFOUND, NULL);
  TU_TEXT_IS(contact_text(w, w->contact, "name"), ADA_NAME);
}

/* ------------------------------------------------------------------------
** 4. The schema guard: every column of the schema classified exactly once.
*/

/* Run `sql` (one ?1 parameter: the privacy map's JSON) on db and print each
   row's first column as a violation; returns the number of rows. */
static int violations(sqlite3 *db, const char *map, const char *what,
                      const char *sql) {
  sqlite3_stmt *s = NULL;
  int n = 0, rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
  if (rc != SQLITE_OK) {
    print_error("%s: %s\n", sql, sqlite3_errmsg(db));
    fail();
  }
  sqlite3_bind_text(s, 1, map, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    print_error("privacy map: %s: %s\n", what,
                (const char *)sqlite3_column_text(s, 0));
    n++;
  }
  assert_int_equal(rc, SQLITE_DONE);
  sqlite3_finalize(s);
  return n;
}

/* The map as (tbl, col, class, about) rows; ?1 is the JSON. */
#define MAP_ROWS                                                              \
  "(SELECT json_extract(t.value, '$.table') AS tbl, "                         \
  "json_extract(c.value, '$.column') AS col, "                                \
  "json_extract(c.value, '$.class') AS class, "                               \
  "json_extract(t.value, '$.about_contact') AS about "                        \
  "FROM json_each(?1) t, json_each(json_extract(t.value, '$.columns')) c)"
#define SCHEMA_ROWS                                                           \
  "(SELECT m.name AS tbl, p.name AS col FROM sqlite_schema m, "               \
  "pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE "   \
  "'sqlite\\_%' ESCAPE '\\')"

static void test_schema_guard_every_column_classified_once(void **state) {
  char dir[] = "/tmp/tesoro-privacy-XXXXXX", path[256];
  char *map = NULL;
  tesoro *t = NULL;
  sqlite3 *db = NULL;
  int bad = 0;
  (void)state;
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/fresh.db", dir);
  assert_int_equal(tesoro_open(path, &t), TESORO_OK);
  assert_int_equal(tesoro_close(t), TESORO_OK);
  assert_int_equal(tesoro_privacy_map(&map), TESORO_OK);
  assert_non_null(map);
  assert_int_equal(tesoro_privacy_map(NULL), TESORO_EINVAL);
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                   SQLITE_OK);
  assert_int_equal(violations(db, map, "not valid JSON",
                              "SELECT 'map' WHERE NOT json_valid(?1) OR "
                              "json_type(?1) != 'array'"), 0);
  /* sanity: the schema has tables, the map has the ones we know */
  assert_int_equal(violations(db, map, "expected table missing from the map",
                              "SELECT n FROM (SELECT 'contact' n UNION ALL "
                              "SELECT 'history' UNION ALL SELECT 'portal_account' "
                              "UNION ALL SELECT 'referral' UNION ALL SELECT "
                              "'mandate') WHERE n NOT IN (SELECT tbl FROM "
                              MAP_ROWS ")"), 0);
  assert_int_equal(violations(db, map, "schema listing is empty",
                              "SELECT count(*) FROM " SCHEMA_ROWS " HAVING "
                              "count(*) < 100"), 0);
  bad += violations(db, map, "column not classified",
                    "SELECT s.tbl || '.' || s.col FROM " SCHEMA_ROWS " s "
                    "WHERE NOT EXISTS (SELECT 1 FROM " MAP_ROWS " m WHERE "
                    "m.tbl = s.tbl AND m.col = s.col) ORDER BY 1");
  bad += violations(db, map, "column classified twice",
                    "SELECT tbl || '.' || col FROM " MAP_ROWS " GROUP BY tbl, "
                    "col HAVING count(*) > 1 ORDER BY 1");
  bad += violations(db, map, "table listed twice",
                    "SELECT json_extract(value, '$.table') FROM json_each(?1) "
                    "GROUP BY 1 HAVING count(*) > 1");
  bad += violations(db, map, "column that does not exist",
                    "SELECT m.tbl || '.' || m.col FROM " MAP_ROWS " m WHERE "
                    "NOT EXISTS (SELECT 1 FROM " SCHEMA_ROWS " s WHERE "
                    "s.tbl = m.tbl AND s.col = m.col) ORDER BY 1");
  bad += violations(db, map, "unknown class",
                    "SELECT tbl || '.' || col || ': ' || coalesce(class, 'NULL') "
                    "FROM " MAP_ROWS " WHERE class IS NULL OR class NOT IN "
                    "('kept', 'personal', 'secret', 'bytes')");
  bad += violations(db, map, "about_contact not a boolean",
                    "SELECT json_extract(value, '$.table') FROM json_each(?1) "
                    "WHERE json_type(value, '$.about_contact') NOT IN "
                    "('true', 'false')");
  /* what the header promises about the classes */
  bad += violations(db, map, "hashes must be secret",
                    "SELECT tbl || '.' || col FROM " MAP_ROWS " WHERE col "
                    "IN ('password_hash', 'code_hash') AND class != 'secret'");
  bad += violations(db, map, "document contents must be bytes",
                    "SELECT 'document.data' WHERE NOT EXISTS (SELECT 1 FROM "
                    MAP_ROWS " WHERE tbl = 'document' AND col = 'data' AND "
                    "class = 'bytes')");
  bad += violations(db, map, "names, e-mails and phones must be personal",
                    "SELECT tbl || '.' || col FROM " MAP_ROWS " WHERE col IN "
                    "('name', 'email', 'phone', 'body') AND tbl IN ('contact', "
                    "'actor', 'portal_account', 'web_customer', 'room_message', "
                    "'appointment_note', 'referral_note', 'portal_message') "
                    "AND class != 'personal'");
  bad += violations(db, map, "table with personal data not about_contact",
                    "SELECT DISTINCT tbl FROM " MAP_ROWS " WHERE class != "
                    "'kept' AND about IS NOT 1");
  sqlite3_close(db);
  tesoro_free(map);
  {
    char f[300];
    snprintf(f, sizeof f, "%s/fresh.db-wal", dir);
    remove(f);
    snprintf(f, sizeof f, "%s/fresh.db-shm", dir);
    remove(f);
    remove(path);
    rmdir(dir);
  }
  assert_int_equal(bad, 0);
}

/* ------------------------------------------------------------------------
** 5. The erasure, driven by the map: no personal or secret value of a row
** about the contact survives.
*/

/* The rows about contact ?1, per table: the test's own reading of SPEC §7
   (a new about_contact table of the map without a selector here fails). */
#define S_CL "(SELECT id FROM actor WHERE contact_id = ?1)"
#define S_ROOMS "(SELECT id FROM room WHERE contact_id = ?1)"
#define S_MANDATES "(SELECT id FROM mandate WHERE contact_id = ?1)"
#define S_DEALS "(SELECT id FROM deal WHERE contact_id = ?1)"
#define S_DPS "(SELECT id FROM deal_property WHERE deal_id IN " S_DEALS ")"
#define S_APPTS "(SELECT id FROM appointment WHERE contact_id = ?1)"
#define S_REFS "(SELECT id FROM referral WHERE contact_id = ?1)"
#define S_ACCTS "(SELECT id FROM portal_account WHERE contact_id = ?1)"
#define S_CUSTS "(SELECT id FROM web_customer WHERE contact_id = ?1)"
#define S_SEARCHES "(SELECT id FROM search WHERE customer_id IN " S_CUSTS ")"
#define S_CLAIMS "(SELECT id FROM vendor_claim WHERE customer_id IN " S_CUSTS ")"
#define S_HIST                                                                \
  "((entity = 1 AND entity_id = ?1) OR (entity = 2 AND entity_id IN " S_ROOMS \
  ") OR (entity = 3 AND entity_id IN " S_MANDATES ") OR (entity = 6 AND "     \
  "entity_id IN " S_DEALS ") OR (entity = 7 AND entity_id IN " S_DPS ") OR "  \
  "(entity = 8 AND entity_id IN " S_APPTS ") OR (entity = 9 AND entity_id IN " \
  S_REFS ") OR (entity = 10 AND entity_id IN " S_ACCTS ") OR (entity = 11 "   \
  "AND entity_id IN " S_CUSTS ") OR (entity = 12 AND entity_id IN "           \
  S_SEARCHES ") OR (entity = 13 AND entity_id IN " S_CLAIMS "))"

static const struct {
  const char *table, *rows;
} about_ada[] = {
    {"actor", "contact_id = ?1"},
    {"contact", "id = ?1"},
    {"contact_role", "contact_id = ?1"},
    {"history", S_HIST},
    {"activity", "contact_id = ?1"},
    {"outbox", "recipient_id IN " S_CL " OR " S_HIST},
    {"document", "uploaded_by IN " S_CL " OR (entity = 2 AND entity_id IN "
                 S_ROOMS ") OR (entity = 3 AND entity_id IN " S_MANDATES ") OR "
                 "(entity = 8 AND entity_id IN " S_APPTS ")"},
    {"room", "contact_id = ?1"},
    {"room_message", "room_id IN " S_ROOMS},
    {"mandate", "contact_id = ?1"},
    {"proposal", "mandate_id IN " S_MANDATES},
    {"listing", "mandate_id IN " S_MANDATES},
    {"deal", "contact_id = ?1"},
    {"deal_property", "deal_id IN " S_DEALS},
    {"appointment", "contact_id = ?1"},
    {"appointment_note", "appointment_id IN " S_APPTS},
    {"referral", "contact_id = ?1"},
    {"referral_note", "referral_id IN " S_REFS},
    {"portal_account", "contact_id = ?1"},
    {"portal_session", "account_id IN (SELECT id FROM portal_account WHERE "
                       "contact_id = ?1)"},
    {"portal_message", "contact_id = ?1"},
    {"web_customer", "contact_id = ?1"},
    {"web_event", "customer_id IN " S_CUSTS},
    {"search", "customer_id IN " S_CUSTS},
    {"search_vertex", "search_id IN " S_SEARCHES},
    {"web_interest", "customer_id IN " S_CUSTS},
    {"enquiry", "customer_id IN " S_CUSTS},
    {"vendor_claim", "customer_id IN " S_CUSTS},
    {"vendor_link", "contact_id = ?1"},
};

static const char *rows_about(const char *table) {
  size_t i;
  for (i = 0; i < sizeof about_ada / sizeof about_ada[0]; i++)
    if (strcmp(about_ada[i].table, table) == 0) return about_ada[i].rows;
  return NULL;
}

/* Run one statement on db with ?1 = contact; the first column as an integer
   (0 when no row). */
static int64_t db_int(sqlite3 *db, const char *sql, int64_t contact) {
  sqlite3_stmt *s = NULL;
  int64_t v = 0;
  int rc;
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
    print_error("%s: %s\n", sql, sqlite3_errmsg(db));
    fail();
  }
  if (sqlite3_bind_parameter_count(s) >= 1) sqlite3_bind_int64(s, 1, contact);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
  else if (rc != SQLITE_DONE) {
    print_error("%s: %s\n", sql, sqlite3_errmsg(db));
    sqlite3_finalize(s);
    fail();
  }
  sqlite3_finalize(s);
  return v;
}

/* The map's (table, column) pairs of class personal/secret/bytes in tables
   about a contact, as rows of a statement on db. */
static sqlite3_stmt *personal_columns(sqlite3 *db, const char *map) {
  sqlite3_stmt *s = NULL;
  assert_int_equal(
      sqlite3_prepare_v2(db,
                         "SELECT json_extract(t.value, '$.table'), "
                         "json_extract(c.value, '$.column'), json_extract("
                         "c.value, '$.class') FROM json_each(?1) t, json_each("
                         "json_extract(t.value, '$.columns')) c WHERE "
                         "json_extract(t.value, '$.about_contact') AND "
                         "json_extract(c.value, '$.class') != 'kept'",
                         -1, &s, NULL),
      SQLITE_OK);
  sqlite3_bind_text(s, 1, map, -1, SQLITE_STATIC);
  return s;
}

static void test_erase_driven_by_the_map(void **state) {
  tu_world *w = *state;
  ada_world a;
  sqlite3 *db = NULL;
  sqlite3_stmt *s;
  char *map = NULL, sql[4096];
  int64_t total = 0, left = 0;
  ada_everything(w, &a);
  /* the two tables the walk does not reach: a firm vendor link and a
     search with a polygon */
  TU_OK(w, tesoro_vendor_confirm(w->t, w->agent, w->contact, a.listing, "vendor"));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"ada-poly\",\"type\":\"saved_search\","
                       "\"customer\":\"hf-ada\",\"at\":%lld,\"search_id\":\"ada-s2\","
                       "\"alert\":false,\"area\":{\"name\":\"Polygon\",\"polygon\":"
                       "{\"type\":\"Polygon\",\"coordinates\":[[[4.8,52.3],[4.9,52.3],"
                       "[4.9,52.4],[4.8,52.4],[4.8,52.3]]]}}}", (long long)T0 + 9));
  TU_OK(w, tesoro_privacy_map(&map));
  assert_int_equal(sqlite3_open_v2(w->path, &db, SQLITE_OPEN_READWRITE, NULL),
                   SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  assert_int_equal(sqlite3_exec(db, "ATTACH ':memory:' AS snap; CREATE TABLE "
                                    "snap.v(tbl TEXT, col TEXT, val ANY)",
                                NULL, NULL, NULL), SQLITE_OK);
  /* every table about a contact has a selector here, and rows about Ada */
  {
    sqlite3_stmt *t = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT json_extract(value, "
                                            "'$.table') FROM json_each(?1) "
                                            "WHERE json_extract(value, "
                                            "'$.about_contact')",
                                        -1, &t, NULL), SQLITE_OK);
    sqlite3_bind_text(t, 1, map, -1, SQLITE_STATIC);
    while (sqlite3_step(t) == SQLITE_ROW) {
      const char *table = (const char *)sqlite3_column_text(t, 0);
      const char *rows = rows_about(table);
      if (rows == NULL) {
        print_error("table %s is about a contact: the test has no selector\n",
                    table);
        fail();
      }
      snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE %s", table, rows);
      if (db_int(db, sql, w->contact) == 0) {
        print_error("Ada has no row in %s\n", table);
        fail();
      }
    }
    sqlite3_finalize(t);
  }
  /* snapshot every non-NULL personal/secret/bytes value about Ada */
  s = personal_columns(db, map);
  while (sqlite3_step(s) == SQLITE_ROW) {
    const char *table = (const char *)sqlite3_column_text(s, 0);
    const char *col = (const char *)sqlite3_column_text(s, 1);
    snprintf(sql, sizeof sql, "INSERT INTO snap.v SELECT '%s', '%s', %s FROM "
                              "%s WHERE (%s) AND %s IS NOT NULL",
             table, col, col, table, rows_about(table), col);
    db_int(db, sql, w->contact);
  }
  sqlite3_finalize(s);
  total = db_int(db, "SELECT count(*) FROM snap.v", 0);
  assert_true(total > 50);
  /* the classes the walk must have produced */
  assert_true(db_int(db, "SELECT count(*) FROM snap.v WHERE tbl = "
                         "'portal_account' AND col = 'password_hash'", 0) == 1);
  assert_true(db_int(db, "SELECT count(*) FROM snap.v WHERE tbl = 'document' "
                         "AND col = 'data'", 0) == 1);

  TU_OK(w, tesoro_contact_erase(w->t, w->admin, w->contact, "map-driven"));

  /* no row about Ada still holds an original value */
  s = personal_columns(db, map);
  while (sqlite3_step(s) == SQLITE_ROW) {
    const char *table = (const char *)sqlite3_column_text(s, 0);
    const char *col = (const char *)sqlite3_column_text(s, 1);
    int64_t n;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM snap.v v WHERE v.tbl = "
                              "'%s' AND v.col = '%s' AND EXISTS (SELECT 1 FROM "
                              "%s WHERE (%s) AND %s = v.val)",
             table, col, table, rows_about(table), col);
    n = db_int(db, sql, w->contact);
    if (n) print_error("%s.%s: %lld original value(s) left\n", table, col,
                       (long long)n);
    left += n;
  }
  sqlite3_finalize(s);
  /* the old password hash verifies nothing: no argon2 hash of Ada left */
  assert_int_equal(db_int(db, "SELECT count(*) FROM portal_account WHERE "
                              "contact_id = ?1 AND (code_hash IS NOT NULL OR "
                              "email LIKE '%ada%')", w->contact), 0);
  /* the rows themselves are kept (documents go whole) */
  assert_int_equal(db_int(db, "SELECT count(*) FROM room_message WHERE room_id "
                              "IN " S_ROOMS, w->contact), 2);
  assert_int_equal(db_int(db, "SELECT count(*) FROM vendor_link WHERE "
                              "contact_id = ?1", w->contact), 1);
  assert_int_equal(db_int(db, "SELECT count(*) FROM search_vertex WHERE "
                              "search_id IN " S_SEARCHES, w->contact), 5);
  sqlite3_close(db);
  tesoro_free(map);
  assert_int_equal(left, 0);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* ------------------------------------------------------------------------
** 6. Website-only people: a prospect never approved has the same rights.
*/
#define PAT_NAME "Pat Prospect"
#define PAT_EMAIL "pat.prospect@example.net"
#define PAT_PHONE "+44 20 7946 0958"
#define PAT_ENQUIRY "lavender hippo loft enquiry"
#define PAT_RANK "turquoise pelican balcony"
#define PAT_CLAIM "the mauve lighthouse is mine"
#define PAT_GROUP "grp-walrus-pat"

/* Pat, known only to the website: details, a visit, a saved search with
   an area, a view, a save, a rank note, an enquiry, a group, a vendor
   claim and consent.  Returns the web customer. */
static int64_t pat_everything(tu_world *w) {
  int64_t listing = tu_published_listing(w, "Pat's pick", "Damrak 1, Amsterdam",
                                         30000000), customer = 0;
  char ref[16];
  ref_of(w, listing, ref);
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"pat-1\",\"type\":\"customer\",\"customer\":"
                       "\"hf-pat\",\"at\":%lld,\"name\":\"" PAT_NAME "\",\"email\":\""
                       PAT_EMAIL "\",\"phone\":\"" PAT_PHONE "\"}", (long long)T0));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"pat-2\",\"type\":\"visit\",\"customer\":"
                       "\"hf-pat\",\"at\":%lld,\"visits\":3}", (long long)T0 + 1));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"pat-3\",\"type\":\"saved_search\","
                       "\"customer\":\"hf-pat\",\"at\":%lld,\"search_id\":\"pat-s1\","
                       "\"alert\":true,\"max_price\":40000000,\"area\":{\"name\":"
                       "\"Pijp\",\"centre\":{\"type\":\"Point\",\"coordinates\":"
                       "[4.89,52.35]},\"radius\":900}}", (long long)T0 + 2));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"pat-4\",\"type\":\"property_view\","
                       "\"customer\":\"hf-pat\",\"at\":%lld,\"listing\":\"%s\"}",
                       (long long)T0 + 3, ref));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"pat-5\",\"type\":\"property_rank\","
                       "\"customer\":\"hf-pat\",\"at\":%lld,\"listing\":\"%s\","
                       "\"rank\":4,\"note\":\"" PAT_RANK "\",\"shared\":false}",
                       (long long)T0 + 4, ref));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"pat-6\",\"type\":\"enquiry\",\"customer\":"
                       "\"hf-pat\",\"at\":%lld,\"enquiry_type\":\"viewing\","
                       "\"listing\":\"%s\",\"message\":\"" PAT_ENQUIRY "\"}",
                       (long long)T0 + 5, ref));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"pat-7\",\"type\":\"group\",\"customer\":"
                       "\"hf-pat\",\"at\":%lld,\"group\":\"" PAT_GROUP "\"}",
                       (long long)T0 + 6));
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"pat-8\",\"type\":\"vendor_claim\","
                       "\"customer\":\"hf-pat\",\"at\":%lld,\"listing\":\"%s\","
                       "\"note\":\"" PAT_CLAIM "\"}", (long long)T0 + 7, ref));
  TU_APPLIED(w, consent_event("pat-9", "hf-pat", T0 + 8, "granted",
                              "Pat says yes to the newsletter"));
  TU_OK(w, tesoro_customer_find(w->t, w->agent, "hf-pat", &customer));
  assert_true(customer > 0);
  return customer;
}

static void test_web_customer_export(void **state) {
  tu_world *w = *state;
  int64_t pat = pat_everything(w);
  char *json = NULL;
  TU_OK(w, tesoro_web_customer_export(w->t, w->agent, pat, &json));
  JQ_INT(json, "SELECT json_extract(?1, '$.web_customer_id')", pat);
  JQ_IS(json, "SELECT json_extract(?1, '$.format')", "tesoro-export-1");
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.web_customer[0].name')",
        PAT_NAME);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.web_customer[0].phone')",
        PAT_PHONE);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.enquiry[0].message')",
        PAT_ENQUIRY);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.web_interest[0].note')",
        PAT_RANK);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.vendor_claim[0].note')",
        PAT_CLAIM);
  JQ_INT(json, "SELECT json_array_length(?1, '$.tables.search')", 1);
  JQ_IS(json, "SELECT json_extract(?1, '$.tables.search[0].area_name')", "Pijp");
  JQ_INT(json, "SELECT count(*) FROM json_each(?1, '$.tables.web_event') "
               "WHERE json_extract(value, '$.source_id') LIKE 'pat-_'", 9);
  /* the customer's (its creation, one row per event), its search's and its
     claim's history */
  JQ_INT(json, "SELECT count(*) FROM json_each(?1, '$.tables.history') WHERE "
               "json_extract(value, '$.entity') = 11", 10);
  JQ_INT(json, "SELECT count(*) FROM json_each(?1, '$.tables.history') WHERE "
               "json_extract(value, '$.entity') = 12", 1);
  JQ_INT(json, "SELECT count(*) FROM json_each(?1, '$.tables.history') WHERE "
               "json_extract(value, '$.entity') = 13", 1);
  /* nobody else's rows: Ada's contact tables are not in it */
  JQ_INT(json, "SELECT json_type(?1, '$.tables.contact') IS NULL", 1);
  no_secrets(json);
  tesoro_free(json);
}

static void test_web_customer_erase(void **state) {
  tu_world *w = *state;
  static const char *const needles[] = {PAT_NAME, PAT_EMAIL, PAT_PHONE,
                                        PAT_ENQUIRY, PAT_RANK, PAT_CLAIM,
                                        PAT_GROUP, "hf-pat"};
  int64_t pat = pat_everything(w);
  char before[65], after[65];
  needles_in_file(w, needles, sizeof needles / sizeof needles[0], 1);
  TU_OK(w, tesoro_web_customer_erase(w->t, w->admin, pat, "GDPR request 7"));
  needles_in_file(w, needles, sizeof needles / sizeof needles[0], 0);
  /* the rows and their states stay: the books, the counts */
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM web_customer WHERE id = "
                              "%lld AND state = 'prospect' AND erased_at = %lld "
                              "AND erased_by = %lld", (long long)pat,
                           (long long)TU_NOW, (long long)w->admin), 1);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM enquiry WHERE customer_id "
                              "= %lld AND message IS NULL", (long long)pat), 1);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM web_event WHERE "
                              "customer_id = %lld", (long long)pat), 9);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM history WHERE entity = %d "
                              "AND entity_id = %lld AND event = 'erase' AND "
                              "actor_id = %lld AND details IS NULL",
                           TESORO_ENTITY_WEB_CUSTOMER, (long long)pat,
                           (long long)w->admin), 0);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM history WHERE entity = %d "
                              "AND entity_id = %lld AND event = 'erase' AND "
                              "actor_id = %lld", TESORO_ENTITY_WEB_CUSTOMER,
                           (long long)pat, (long long)w->admin), 1);
  /* a second erasure changes nothing */
  tu_digest(w, before);
  TU_OK(w, tesoro_web_customer_erase(w->t, w->admin, pat, NULL));
  tu_digest(w, after);
  assert_string_equal(before, after);
  /* frozen: staff cannot approve or discard it */
  TU_ASSERT_REFUSED(w, tesoro_prospect_approve(w->t, w->agent, pat, 0, 0, NULL),
                    TESORO_ESTATE, "erased");
  TU_ASSERT_REFUSED(w, tesoro_prospect_discard(w->t, w->agent, pat, "spam", 0),
                    TESORO_ESTATE, "erased");
  /* the export shows the erasure, not the person */
  {
    char *json = NULL;
    TU_OK(w, tesoro_web_customer_export(w->t, w->agent, pat, &json));
    JQ_IS(json, "SELECT json_extract(?1, '$.tables.web_customer[0].name')",
          NULL);
    JQ_INT(json, "SELECT json_extract(?1, '$.tables.web_customer[0]."
                 "erased_at')", TU_NOW);
    tesoro_free(json);
  }
  /* the website's same id later is a new prospect */
  TU_APPLIED(w, tu_fmt("{\"source_id\":\"pat-10\",\"type\":\"visit\",\"customer\":"
                       "\"hf-pat\",\"at\":%lld,\"visits\":1}", (long long)T0 + 20));
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM web_customer WHERE "
                                 "external_id = 'hf-pat'"), 1);
  TU_OK(w, tesoro_check(w->t));
}

static void test_web_customer_discarded_can_be_erased(void **state) {
  tu_world *w = *state;
  int64_t pat = pat_everything(w);
  TU_OK(w, tesoro_prospect_discard(w->t, w->agent, pat, "a test account", 0));
  TU_OK(w, tesoro_web_customer_erase(w->t, w->admin, pat, NULL));
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM web_customer WHERE id = "
                              "%lld AND state = 'discarded' AND name IS NULL "
                              "AND end_reason IS NULL", (long long)pat), 1);
  TU_OK(w, tesoro_check(w->t));
}

static void test_web_customer_privacy_refusals(void **state) {
  tu_world *w = *state;
  int64_t pat = pat_everything(w), ada = 0;
  char *json = NULL, long_reason[TESORO_MAX_REASON + 2];
  link_ada(w);
  TU_OK(w, tesoro_customer_find(w->t, w->agent, "hf-ada", &ada));
  memset(long_reason, 'r', sizeof long_reason - 1);
  long_reason[sizeof long_reason - 1] = 0;
  assert_int_equal(tesoro_web_customer_export(NULL, w->agent, pat, &json),
                   TESORO_EMISUSE);
  assert_int_equal(tesoro_web_customer_erase(NULL, w->admin, pat, NULL),
                   TESORO_EMISUSE);
  TU_ASSERT_REFUSED(w, tesoro_web_customer_export(w->t, w->agent, pat, NULL),
                    TESORO_EINVAL, NULL);
  /* an approved customer's data is its contact's */
  TU_ASSERT_REFUSED(w, tesoro_web_customer_export(w->t, w->agent, ada, &json),
                    TESORO_ESTATE, "contact");
  TU_ASSERT_REFUSED(w, tesoro_web_customer_erase(w->t, w->admin, ada, NULL),
                    TESORO_ESTATE, "contact");
  /* who: staff export, an admin erases, of the customer's agency */
  TU_ASSERT_REFUSED(w, tesoro_web_customer_export(w->t, w->client, pat, &json),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_web_customer_export(w->t, w->website, pat, &json),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_web_customer_export(w->t, w->other_agent, pat,
                                                  &json),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_web_customer_erase(w->t, w->agent, pat, NULL),
                    TESORO_EDENIED, "admin");
  TU_ASSERT_REFUSED(w, tesoro_web_customer_erase(w->t, w->website, pat, NULL),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_web_customer_erase(w->t, w->other_admin, pat, NULL),
                    TESORO_EDENIED, NULL);
  /* which */
  TU_ASSERT_REFUSED(w, tesoro_web_customer_export(w->t, w->agent, 999999, &json),
                    TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_web_customer_erase(w->t, w->admin, 999999, NULL),
                    TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_web_customer_erase(w->t, w->admin, 0, NULL),
                    TESORO_EINVAL, NULL);
  /* the reason */
  TU_ASSERT_REFUSED(w, tesoro_web_customer_erase(w->t, w->admin, pat,
                                                 long_reason),
                    TESORO_EINVAL, "reason");
  TU_ASSERT_REFUSED(w, tesoro_web_customer_erase(w->t, w->admin, pat,
                                                 "bad \xff utf-8"),
                    TESORO_EINVAL, "reason");
  assert_null(json);
}

/* ------------------------------------------------------------------------
** main
*/
#define T TU_TEST

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_consent_defaults_to_not_asked),
      T(test_consent_set_by_staff_from_crm),
      T(test_consent_in_contact_json),
      T(test_consent_set_by_client_from_portal),
      T(test_consent_set_by_website_from_web_form),
      T(test_consent_from_website_event_newest_wins),
      T(test_consent_of_prospect_applies_at_approval),
      T(test_consent_refusals),
      T(test_consent_event_refusals),
      cmocka_unit_test(test_schema_guard_every_column_classified_once),
      T(test_export_by_staff_field_by_field),
      T(test_export_for_client_without_private_notes),
      T(test_export_document_bytes_only_on_request),
      T(test_export_of_a_fresh_contact),
      T(test_export_refusals),
      T(test_erase_leaves_no_personal_data_in_the_file),
      T(test_erase_keeps_the_books),
      T(test_erase_withdraws_outbox_and_locks_out_the_client),
      T(test_erase_is_recorded_and_idempotent),
      T(test_erase_refusals),
      T(test_erased_contact_is_frozen),
      T(test_contact_correction),
      T(test_erasure_elsewhere_applies_at_once),
      T(test_erase_driven_by_the_map),
      T(test_web_customer_export),
      T(test_web_customer_erase),
      T(test_web_customer_discarded_can_be_erased),
      T(test_web_customer_privacy_refusals),
  };
  return cmocka_run_group_tests_name("privacy", tests, NULL, NULL);
}
