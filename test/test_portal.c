/*
** test_portal.c — SPEC §5, the client portal: the portal setting, portal
** accounts by both routes (CRM invitation, self-registration with a
** verification code), login with lockout, the password policy, the
** onboarding steps, languages, the home overview, the property feed, contact
** agent, the activity timeline, tenancy and "no secret in clear".
**
** Every refusal is checked for its code, its message and an unchanged
** database (TU_ASSERT_REFUSED) — except a wrong password and a wrong
** verification code, which are refused *and* recorded (tesoro.h: security
** counters); for those the test asserts the code and then the counter in
** table portal_account.
**
** Ada (w->contact, "nl", assigned to w->agent) and Bob (w->contact2, "en",
** assigned to w->agent2) are of "Tesoro Homes"; Otto (w->other_contact) of
** "Other Estates".  Both agencies have the portal on (tu_setup).
*/
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
** Constants.
*/
#define HOUR INT64_C(3600)
#define DAY INT64_C(86400)
/* TU_NOW = 1780000000 = 2026-05-28T20:26:40Z = 22:26:40 CEST */
#define D1 INT64_C(1780387200) /* 2026-06-02T08:00:00Z = Tue 10:00 CEST */
#define D2 INT64_C(1780488000) /* 2026-06-03T12:00:00Z = Wed 14:00 CEST */

#define ACCOUNT TESORO_ENTITY_PORTAL_ACCOUNT
#define APPT TESORO_ENTITY_APPOINTMENT

#define ADA "ada@example.com"
#define BOB "bob@example.com"
#define OTTO "otto@example.com"
#define PW1 "Sup3r!secret"
#define PW2 "N3w&Better"
#define PW_BOB "B0b!secret"
#define PW_OTTO "0tto!Secret"
#define PW_WRONG "Wr0ng!guess"

#define T_INVITATION "Portal Invitation"
#define T_CONTACT_AGENT "Contact Agent"
#define T_STATUS "Meeting Status Changed By Portal User"

/* ------------------------------------------------------------------------
** Messages.
*/

/* tesoro_errmsg contains at least one of the '|'-separated needles. */
static void msg_any_(tu_world *w, const char *alts, const char *call,
                     const char *file, int line) {
  const char *msg = tesoro_errmsg(w->t);
  const char *p = alts;
  char buf[128];
  while (*p) {
    size_t n = strcspn(p, "|");
    snprintf(buf, sizeof buf, "%.*s", (int)n, p);
    if (tu_contains_ci(msg, buf)) return;
    p += n;
    if (*p) p++;
  }
  print_error("%s:%d: %s: errmsg \"%s\" mentions none of \"%s\"\n", file, line,
              call, msg ? msg : "(null)", alts);
  _fail(file, line);
}

/* TU_ASSERT_REFUSED whose message names one of several words. */
#define REFUSED_ANY(w, call, code, alts)                                      \
  do {                                                                        \
    TU_ASSERT_REFUSED(w, call, code, NULL);                                   \
    msg_any_((w), (alts), #call, __FILE__, __LINE__);                         \
  } while (0)

/* A refused call that is recorded (wrong password, wrong code): code and
   message only; the caller asserts the counter. */
#define RECORDED_ANY(w, call, code, alts)                                     \
  do {                                                                        \
    TU_ASSERT_ERR(w, call, code, NULL);                                       \
    msg_any_((w), (alts), #call, __FILE__, __LINE__);                         \
  } while (0)

/* The portal of the actor's agency is off: EDENIED naming the portal. */
#define PORTAL_OFF(w, call)                                                   \
  do {                                                                        \
    TU_ASSERT_REFUSED(w, call, TESORO_EDENIED, "portal");                     \
    msg_any_((w), "not active|inactive|off", #call, __FILE__, __LINE__);      \
  } while (0)

/* The account is still in set_password. */
#define MUST_SET_PASSWORD(w, call)                                            \
  TU_ASSERT_REFUSED(w, call, TESORO_EGUARD, "password")

/* A copy of the current message (free()). */
static char *msg_copy(tu_world *w) {
  const char *m = tesoro_errmsg(w->t);
  char *s = malloc(strlen(m) + 1);
  assert_non_null(s);
  strcpy(s, m);
  return s;
}

/* The last message does not contain `secret`. */
static void assert_msg_clean(tu_world *w, const char *secret) {
  const char *m = tesoro_errmsg(w->t);
  if (secret == NULL || secret[0] == 0) return;
  if (m && strstr(m, secret)) {
    print_error("errmsg \"%s\" reveals a secret\n", m);
    fail();
  }
}

/* ------------------------------------------------------------------------
** Reading the file.
*/
static int64_t acct_int(tu_world *w, int64_t account, const char *expr) {
  return tu_sqlf(w, "SELECT %s FROM portal_account WHERE id = %lld", expr,
                 (long long)account);
}

static void assert_acct_text(tu_world *w, int64_t account, const char *col,
                             const char *want) {
  char *s = tu_sqlf_text(w, "SELECT %s FROM portal_account WHERE id = %lld",
                         col, (long long)account);
  if (want == NULL) {
    assert_null(s);
    return;
  }
  assert_non_null(s);
  if (strcmp(s, want) != 0) {
    print_error("portal_account %lld: %s is \"%s\", expected \"%s\"\n",
                (long long)account, col, s, want);
    free(s);
    fail();
  }
  free(s);
}

static void assert_acct_state(tu_world *w, int64_t account, const char *want) {
  assert_acct_text(w, account, "state", want);
}

/* The account's history events, oldest first, comma-separated. */
static void assert_acct_events(tu_world *w, int64_t account, const char *want) {
  char *s = tu_sqlf_text(
      w,
      "SELECT group_concat(event, ',') FROM (SELECT event FROM history "
      "WHERE entity = %d AND entity_id = %lld ORDER BY seq)",
      ACCOUNT, (long long)account);
  assert_non_null(s);
  if (strcmp(s, want) != 0) {
    print_error("portal_account %lld history is \"%s\", expected \"%s\"\n",
                (long long)account, s, want);
    free(s);
    fail();
  }
  free(s);
}

/* Activities on a contact (all kinds, or one). */
static int64_t acts(tu_world *w, int64_t contact) {
  return tu_sqlf(w, "SELECT count(*) FROM timeline WHERE contact_id = %lld",
                 (long long)contact);
}

static int64_t acts_kind(tu_world *w, int64_t contact, const char *kind) {
  return tu_sqlf(w,
                 "SELECT count(*) FROM timeline WHERE contact_id = %lld AND "
                 "kind = '%s'",
                 (long long)contact, kind);
}

/* Outbox notifications to `recipient` (channel NULL: any). */
static int64_t outbox_to(tu_world *w, int64_t recipient, const char *channel,
                         const char *tmpl) {
  if (channel)
    return tu_sqlf(w,
                   "SELECT count(*) FROM outbox_delivery WHERE recipient_id = %lld AND "
                   "channel = '%s' AND template = '%s'",
                   (long long)recipient, channel, tmpl);
  return tu_sqlf(w,
                 "SELECT count(*) FROM outbox_delivery WHERE recipient_id = %lld AND "
                 "template = '%s'",
                 (long long)recipient, tmpl);
}

/* The language of the newest outbox delivery to `recipient` with `tmpl`,
   as tesoro_outbox_fetch renders it (the clock moved on so every row is
   due, then put back). */
static void assert_outbox_language(tu_world *w, int64_t recipient,
                                   const char *tmpl, const char *want) {
  tesoro_cursor *c = NULL;
  int64_t now = tesoro_now(w->t), newest = 0;
  char s[16] = "";
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 3650 * 86400));
  TU_OK(w, tesoro_outbox_fetch(w->t, 0, 10000, &c));
  while (tesoro_cursor_next(c) == TESORO_ROW)
    if (tu_col_int(c, "recipient_id") == recipient &&
        strcmp(tu_col_text(c, "template"), tmpl) == 0 && tu_col_int(c, "id") > newest) {
      newest = tu_col_int(c, "id");
      snprintf(s, sizeof s, "%s", tu_col_text(c, "language"));
    }
  tesoro_cursor_free(c);
  TU_OK(w, tesoro_clock_set(w->t, now));
  assert_true(newest > 0);
  if (strcmp(s, want) != 0) {
    print_error("outbox \"%s\" to %lld is in \"%s\", expected \"%s\"\n", tmpl,
                (long long)recipient, s, want);
    fail();
  }
}

static int step_of(tu_world *w, int64_t client) {
  int step = 0;
  TU_OK(w, tesoro_portal_step(w->t, client, &step));
  return step;
}

static int64_t contact_of(tu_world *w, int64_t client) {
  int kind = 0;
  int64_t agency = 0, contact = 0;
  TU_OK(w, tesoro_actor_info(w->t, client, &kind, &agency, &contact));
  assert_int_equal(kind, TESORO_ACTOR_CLIENT);
  return contact;
}

/* ------------------------------------------------------------------------
** Accounts.
*/

/* Route 1 by `staff`: the account; *temp is the temporary password
   (tesoro_free). */
static int64_t crm_account(tu_world *w, int64_t staff, int64_t contact,
                           char **temp) {
  int64_t account = 0;
  char *pw = NULL;
  TU_OK(w, tesoro_portal_account_create(w->t, staff, contact, &account, &pw));
  assert_true(account > 0);
  assert_non_null(pw);
  *temp = pw;
  return account;
}

/* Route 1, first login, password set: the account is at welcome.  Returns
   the client actor. */
static int64_t crm_welcome(tu_world *w, int64_t staff, int64_t website,
                           int64_t contact, const char *email,
                           const char *password, int64_t *out_account) {
  char *temp = NULL;
  int64_t client = 0, account = crm_account(w, staff, contact, &temp);
  int step = 0;
  TU_OK(w, tesoro_portal_login(w->t, website, email, temp, &client, &step));
  assert_int_equal(step, TESORO_PORTAL_SET_PASSWORD);
  TU_OK(w, tesoro_portal_password_change(w->t, client, temp, password));
  tesoro_free(temp);
  assert_acct_state(w, account, "welcome");
  if (out_account) *out_account = account;
  return client;
}

/* The same, then the welcome slides and the tour: ready. */
static int64_t crm_ready(tu_world *w, int64_t staff, int64_t website,
                         int64_t contact, const char *email,
                         const char *password, int64_t *out_account) {
  int64_t client =
      crm_welcome(w, staff, website, contact, email, password, out_account);
  TU_OK(w, tesoro_portal_welcome_finish(w->t, client));
  TU_OK(w, tesoro_portal_tour_finish(w->t, client));
  assert_int_equal(step_of(w, client), TESORO_PORTAL_READY);
  return client;
}

static int64_t ada_ready(tu_world *w, int64_t *out_account) {
  int64_t c = crm_ready(w, w->agent, w->website, w->contact, ADA, PW1,
                        out_account);
  assert_int_equal(c, w->client);
  return c;
}

static int64_t ada_welcome(tu_world *w, int64_t *out_account) {
  int64_t c = crm_welcome(w, w->agent, w->website, w->contact, ADA, PW1,
                          out_account);
  assert_int_equal(c, w->client);
  return c;
}

static int64_t bob_ready(tu_world *w, int64_t *out_account) {
  int64_t c = crm_ready(w, w->agent2, w->website, w->contact2, BOB, PW_BOB,
                        out_account);
  assert_int_equal(c, w->client2);
  return c;
}

static int64_t otto_ready(tu_world *w, int64_t *out_account) {
  int64_t c = crm_ready(w, w->other_agent, w->other_website, w->other_contact,
                        OTTO, PW_OTTO, out_account);
  assert_int_equal(c, w->other_client);
  return c;
}

/* Route 2: register; code[7] receives the 6-digit code. */
static int64_t register_ok(tu_world *w, int64_t website, const char *name,
                           const char *email, const char *password,
                           char code[7]) {
  int64_t account = 0;
  char *c = NULL;
  int i;
  TU_OK(w, tesoro_portal_register(w->t, website, name, email, password,
                                  &account, &c));
  assert_true(account > 0);
  assert_non_null(c);
  assert_int_equal(strlen(c), TESORO_PORTAL_CODE_DIGITS);
  for (i = 0; i < TESORO_PORTAL_CODE_DIGITS; i++)
    assert_true(c[i] >= '0' && c[i] <= '9');
  memcpy(code, c, 7);
  tesoro_free(c);
  return account;
}

/* A 6-digit code that is not `code`. */
static void wrong_code(const char *code, char out[7]) {
  memcpy(out, code, 7);
  out[0] = (char)('0' + (code[0] - '0' + 1) % 10);
}

/* Does the password meet the policy (ASCII view: the temporary password)? */
static int ascii_policy_ok(const char *pw) {
  int up = 0, lo = 0, dg = 0, sp = 0;
  const char *p;
  for (p = pw; *p; p++) {
    unsigned char ch = (unsigned char)*p;
    if (ch < 0x21 || ch > 0x7E) return 0; /* printable ASCII, no space */
    if (ch >= 'A' && ch <= 'Z') up = 1;
    else if (ch >= 'a' && ch <= 'z') lo = 1;
    else if (ch >= '0' && ch <= '9') dg = 1;
    else sp = 1;
  }
  return up && lo && dg && sp;
}

/* ------------------------------------------------------------------------
** Deals, offers, viewings.
*/

/* A fresh published listing offered to `deal` (by w->agent). */
static int64_t offer_listing(tu_world *w, int64_t deal, const char *title) {
  static unsigned n = 0;
  char address[64];
  int64_t listing, dp = 0;
  n++;
  snprintf(address, sizeof address, "Feedstraat %u, Utrecht", n);
  listing = tu_published_listing(w, title, address, 40000000 + (int64_t)n);
  TU_OK(w, tesoro_deal_offer(w->t, w->agent, deal, listing, &dp));
  assert_true(dp > 0);
  return dp;
}

static int64_t request_at(tu_world *w, int64_t client, int64_t dp,
                          int64_t at) {
  int64_t a = 0;
  TU_OK(w, tesoro_appointment_request(w->t, client, dp, &at, 1, &a));
  assert_true(a > 0);
  return a;
}

/* The ids of one feed view. */
static int feed_ids(tu_world *w, int64_t client, int view, int64_t *ids,
                    int max) {
  tesoro_cursor *c = NULL;
  TU_OK(w, tesoro_portal_properties(w->t, client, view, &c));
  return tu_cursor_ids(c, ids, max);
}

static void home(tu_world *w, int64_t client, int64_t up, int64_t unconf,
                 int64_t fresh, int64_t ratings) {
  int64_t a = -1, b = -1, c = -1, d = -1;
  TU_OK(w, tesoro_portal_home(w->t, client, &a, &b, &c, &d));
  if (a != up || b != unconf || c != fresh || d != ratings) {
    print_error("home: upcoming %lld unconfirmed %lld new %lld ratings %lld; "
                "expected %lld %lld %lld %lld\n",
                (long long)a, (long long)b, (long long)c, (long long)d,
                (long long)up, (long long)unconf, (long long)fresh,
                (long long)ratings);
    fail();
  }
}

/* ------------------------------------------------------------------------
** 1. The property feed's statuses (the deal property machine's client rows).
*/

/* A deal of w->contact with one published listing offered to it. */
static int64_t offered_property(tu_world *w, int64_t *out_deal) {
  int64_t deal, listing, dp;
  listing = tu_published_listing(w, "Feed house", "Feedstraat 1, Utrecht",
                                 42500000);
  TU_OK(w, tesoro_deal_create(w->t, w->agent, w->contact, "Utrecht search",
                              &deal));
  TU_OK(w, tesoro_deal_offer(w->t, w->agent, deal, listing, &dp));
  if (out_deal) *out_deal = deal;
  return dp;
}

static const char *state_of(tu_world *w, int64_t dp) {
  const char *state = NULL;
  TU_OK(w, tesoro_entity_state(w->t, w->agent, TESORO_ENTITY_DEAL_PROPERTY, dp,
                               &state, NULL));
  return state;
}

static int64_t activities_of_kind(tu_world *w, const char *kind) {
  return tu_sqlf(w, "SELECT count(*) FROM timeline WHERE contact_id = %lld "
                    "AND kind = '%s'", (long long)w->contact, kind);
}

static void test_feed_interested_then_not_then_interested_again(void **state) {
  tu_world *w = *state;
  int64_t dp = offered_property(w, NULL);
  char *reasons, *note;
  assert_string_equal(state_of(w, dp), "to_review");
  TU_OK(w, tesoro_deal_property_interested(w->t, w->client, dp, 0));
  assert_string_equal(state_of(w, dp), "interesting");
  TU_OK(w, tesoro_deal_property_not_interested(
               w->t, w->client, dp, TESORO_REJECT_PRICE | TESORO_REJECT_SIZE,
               "Too small for the price", 0));
  assert_string_equal(state_of(w, dp), "rejected");
  reasons = tu_sql_text(w, "SELECT reject_reasons FROM deal_property");
  note = tu_sql_text(w, "SELECT reject_note FROM deal_property");
  assert_string_equal(reasons, "[\"price\",\"size\"]");
  assert_string_equal(note, "Too small for the price");
  free(reasons);
  free(note);
  /* A client may change their mind: rejected → interesting. */
  TU_OK(w, tesoro_deal_property_interested(w->t, w->client, dp, 0));
  assert_string_equal(state_of(w, dp), "interesting");
  assert_int_equal(activities_of_kind(w, "property_interested"), 2);
  assert_int_equal(activities_of_kind(w, "property_not_interested"), 1);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_feed_not_interested_needs_known_reasons(void **state) {
  tu_world *w = *state;
  int64_t dp = offered_property(w, NULL);
  char *long_note = tu_long_string(TESORO_MAX_REASON + 1);
  TU_ASSERT_REFUSED(w, tesoro_deal_property_not_interested(w->t, w->client, dp, 0, NULL, 0),
                    TESORO_EINVAL, "reason");
  TU_ASSERT_REFUSED(w, tesoro_deal_property_not_interested(w->t, w->client, dp, 64, NULL, 0),
                    TESORO_EINVAL, "reason");
  TU_ASSERT_REFUSED(w, tesoro_deal_property_not_interested(w->t, w->client, dp, -1, NULL, 0),
                    TESORO_EINVAL, "reason");
  TU_ASSERT_REFUSED(w, tesoro_deal_property_not_interested(w->t, w->client, dp,
                                                           TESORO_REJECT_OTHER,
                                                           long_note, 0),
                    TESORO_EINVAL, "longer");
  TU_ASSERT_REFUSED(w, tesoro_deal_property_not_interested(w->t, w->client, dp,
                                                           TESORO_REJECT_OTHER,
                                                           TU_BAD_UTF8, 0),
                    TESORO_EINVAL, "UTF-8");
  free(long_note);
  /* The free text is optional; the reasons alone suffice. */
  TU_OK(w, tesoro_deal_property_not_interested(w->t, w->client, dp,
                                               TESORO_REJECT_LOCATION, NULL, 0));
  assert_int_equal(tu_sql_int(w, "SELECT reject_note IS NULL FROM deal_property"), 1);
}

static void test_feed_approve_only_from_interesting_or_viewed(void **state) {
  tu_world *w = *state;
  int64_t dp = offered_property(w, NULL);
  TU_ASSERT_REFUSED(w, tesoro_deal_property_approve(w->t, w->client, dp, 0),
                    TESORO_ESTATE, "to_review");
  TU_OK(w, tesoro_deal_property_interested(w->t, w->client, dp, 0));
  TU_OK(w, tesoro_deal_property_approve(w->t, w->client, dp, 0));
  assert_string_equal(state_of(w, dp), "approved");
  /* approved is final for the verdicts: no going back to rejected. */
  TU_ASSERT_REFUSED(w, tesoro_deal_property_not_interested(w->t, w->client, dp,
                                                           TESORO_REJECT_PRICE,
                                                           NULL, 0),
                    TESORO_ESTATE, "approved");
  TU_ASSERT_REFUSED(w, tesoro_deal_property_interested(w->t, w->client, dp, 0),
                    TESORO_ESTATE, "approved");
}

static void test_feed_viewed_after_started_viewing_then_approve(void **state) {
  tu_world *w = *state;
  int64_t dp = offered_property(w, NULL), appointment;
  const int64_t at = TU_NOW + 3 * 86400;
  TU_OK(w, tesoro_appointment_request(w->t, w->client, dp, &at, 1, &appointment));
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, appointment, at, 0, 0));
  TU_OK(w, tesoro_clock_set(w->t, at - 600));
  TU_OK(w, tesoro_appointment_start_viewing(w->t, w->client, appointment, 0));
  assert_string_equal(state_of(w, dp), "viewed");
  /* viewed cannot be rejected through the feed (SPEC §5 table) */
  TU_ASSERT_REFUSED(w, tesoro_deal_property_not_interested(w->t, w->client, dp,
                                                           TESORO_REJECT_PRICE,
                                                           NULL, 0),
                    TESORO_ESTATE, "viewed");
  TU_OK(w, tesoro_deal_property_approve(w->t, w->client, dp, 0));
  assert_string_equal(state_of(w, dp), "approved");
}

static void test_feed_favourite_in_any_status(void **state) {
  tu_world *w = *state;
  int64_t dp = offered_property(w, NULL);
  const char *before;
  TU_OK(w, tesoro_deal_property_favourite(w->t, w->client, dp, 1, 0));
  assert_int_equal(tu_sql_int(w, "SELECT favourite FROM deal_property"), 1);
  TU_OK(w, tesoro_deal_property_not_interested(w->t, w->client, dp,
                                               TESORO_REJECT_CONDITION,
                                               "Damp in the cellar", 0));
  before = state_of(w, dp);
  TU_OK(w, tesoro_deal_property_favourite(w->t, w->client, dp, 0, 0));
  assert_string_equal(state_of(w, dp), before); /* the status stays */
  assert_int_equal(tu_sql_int(w, "SELECT favourite FROM deal_property"), 0);
  /* the reasons and the note survive a favourite change */
  assert_int_equal(tu_sql_int(w, "SELECT reject_reasons IS NOT NULL FROM deal_property"), 1);
  assert_int_equal(tu_sql_int(w, "SELECT reject_note = 'Damp in the cellar' FROM deal_property"), 1);
  TU_ASSERT_REFUSED(w, tesoro_deal_property_favourite(w->t, w->client, dp, 2, 0),
                    TESORO_EINVAL, "0 or 1");
  assert_int_equal(activities_of_kind(w, "property_favourite"), 2);
}

static void test_feed_only_the_deals_client(void **state) {
  tu_world *w = *state;
  int64_t dp = offered_property(w, NULL), version = 0;
  TU_ASSERT_REFUSED(w, tesoro_deal_property_interested(w->t, w->agent, dp, 0),
                    TESORO_EDENIED, "client");
  TU_ASSERT_REFUSED(w, tesoro_deal_property_interested(w->t, w->client2, dp, 0),
                    TESORO_EDENIED, "another client");
  TU_ASSERT_REFUSED(w, tesoro_deal_property_approve(w->t, w->other_client, dp, 0),
                    TESORO_EDENIED, "another agency");
  TU_ASSERT_REFUSED(w, tesoro_deal_property_favourite(w->t, w->website, dp, 1, 0),
                    TESORO_EDENIED, "client");
  TU_ASSERT_REFUSED(w, tesoro_deal_property_favourite(w->t, w->agent, dp, 1, 0),
                    TESORO_EDENIED, "client");
  TU_ASSERT_REFUSED(w, tesoro_deal_property_not_interested(w->t, w->admin, dp,
                                                           TESORO_REJECT_PRICE,
                                                           NULL, 0),
                    TESORO_EDENIED, "client");

  TU_ASSERT_REFUSED(w, tesoro_deal_property_interested(w->t, w->client, 999, 0),
                    TESORO_ENOTFOUND, "999");
  TU_ASSERT_REFUSED(w, tesoro_deal_property_interested(w->t, w->client, 0, 0),
                    TESORO_EINVAL, "> 0");
  assert_int_equal(tesoro_deal_property_interested(NULL, w->client, dp, 0),
                   TESORO_EMISUSE);
  TU_OK(w, tesoro_entity_state(w->t, w->client, TESORO_ENTITY_DEAL_PROPERTY, dp,
                               NULL, &version));
  TU_ASSERT_REFUSED(w, tesoro_deal_property_interested(w->t, w->client, dp,
                                                       version + 1),
                    TESORO_ECONFLICT, "version");
  /* where approve is possible, it is still the client's alone */
  TU_OK(w, tesoro_deal_property_interested(w->t, w->client, dp, 0));
  TU_ASSERT_REFUSED(w, tesoro_deal_property_approve(w->t, w->agent, dp, 0),
                    TESORO_EDENIED, "client");
}

static void test_feed_events_in_allowed_query(void **state) {
  tu_world *w = *state;
  int64_t dp = offered_property(w, NULL);
  tesoro_cursor *c;
  int seen = 0;
  TU_OK(w, tesoro_allowed_events(w->t, w->client, TESORO_ENTITY_DEAL_PROPERTY, dp, &c));
  while (tesoro_cursor_next(c) == TESORO_ROW) {
    const char *event = tu_col_text(c, "event");
    int64_t allowed = tu_col_int(c, "allowed");
    if (strcmp(event, "interested") == 0) { assert_int_equal(allowed, 1); seen++; }
    if (strcmp(event, "not_interested") == 0) { assert_int_equal(allowed, 1); seen++; }
    if (strcmp(event, "approve") == 0) { assert_int_equal(allowed, 0); seen++; }
    if (strcmp(event, "favourite") == 0) { assert_int_equal(allowed, 1); seen++; }
  }
  tesoro_cursor_free(c);
  assert_int_equal(seen, 4);
}

/* ------------------------------------------------------------------------
** 2. The portal setting.
*/

static void test_portal_setting_is_admin_only(void **state) {
  tu_world *w = *state;
  assert_int_equal(tu_row_int(w, "agency", w->agency, "portal_active"), 1);
  TU_ADMIN_ONLY(w, who, tesoro_agency_set_portal(w->t, who, 0));
  REFUSED_ANY(w, tesoro_agency_set_portal(w->t, w->admin, 2), TESORO_EINVAL,
              "0 or 1|active|portal");
  REFUSED_ANY(w, tesoro_agency_set_portal(w->t, w->admin, -1), TESORO_EINVAL,
              "0 or 1|active|portal");
  assert_int_equal(tesoro_agency_set_portal(NULL, w->admin, 0), TESORO_EMISUSE);

  TU_OK(w, tesoro_agency_set_portal(w->t, w->admin, 0));
  assert_int_equal(tu_row_int(w, "agency", w->agency, "portal_active"), 0);
  /* one agency's switch is its own */
  assert_int_equal(tu_row_int(w, "agency", w->other_agency, "portal_active"),
                   1);
  TU_OK(w, tesoro_agency_set_portal(w->t, w->admin, 1));
  assert_int_equal(tu_row_int(w, "agency", w->agency, "portal_active"), 1);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_portal_off_refuses_every_portal_call(void **state) {
  tu_world *w = *state;
  int64_t acc = 0, deal = 0, dp, dp2, dp3, a_pend, a_conf, a_done;
  int64_t id = 0, client = 0, listing, deal2 = 0, dp4 = 0, at = D2 + DAY;
  char erin[7], code[7], *s = NULL, *temp = NULL;
  const char *lang = NULL;
  tesoro_cursor *c = NULL;
  int step = 0;

  /* with the portal on: Ada ready, a deal with three offers and viewings */
  ada_ready(w, &acc);
  TU_OK(w, tesoro_deal_create(w->t, w->agent, w->contact, "Utrecht search",
                              &deal));
  dp = offer_listing(w, deal, "Feed house");
  dp2 = offer_listing(w, deal, "Second house");
  dp3 = offer_listing(w, deal, "Third house");
  a_pend = request_at(w, w->client, dp, D2 + 2 * HOUR);
  a_conf = request_at(w, w->client, dp2, D2);
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, a_conf, D2, 0, 0));
  a_done = request_at(w, w->client, dp3, D1);
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, a_done, D1, 0, 0));
  TU_OK(w, tesoro_tick(w->t, D1 + 60, NULL));
  TU_OK(w, tesoro_clock_set(w->t, D1 + 2 * HOUR));
  register_ok(w, w->website, "Erin Early", "erin@example.com", "Er1n!pass",
              erin);

  TU_OK(w, tesoro_agency_set_portal(w->t, w->admin, 0));

  /* every tesoro_portal_* call */
  PORTAL_OFF(w, tesoro_portal_account_create(w->t, w->agent, w->contact2, &id,
                                             &temp));
  PORTAL_OFF(w, tesoro_portal_register(w->t, w->website, "Fay Field",
                                       "fay@example.com", PW1, &id, &s));
  PORTAL_OFF(w, tesoro_portal_verify(w->t, w->website, "erin@example.com",
                                     erin, &client));
  PORTAL_OFF(w, tesoro_portal_login(w->t, w->website, ADA, PW1, &client,
                                    &step));
  /* not even a wrong password is counted while the portal is off */
  PORTAL_OFF(w, tesoro_portal_login(w->t, w->website, ADA, PW_WRONG, &client,
                                    &step));
  PORTAL_OFF(w, tesoro_portal_password_change(w->t, w->client, PW1, PW2));
  PORTAL_OFF(w, tesoro_portal_step(w->t, w->client, &step));
  PORTAL_OFF(w, tesoro_portal_welcome_finish(w->t, w->client));
  PORTAL_OFF(w, tesoro_portal_tour_finish(w->t, w->client));
  PORTAL_OFF(w, tesoro_portal_tour_skip(w->t, w->client));
  PORTAL_OFF(w, tesoro_portal_tour_restart(w->t, w->client));
  PORTAL_OFF(w, tesoro_portal_language(w->t, w->client, &lang));
  PORTAL_OFF(w, tesoro_portal_set_language(w->t, w->client, "de"));
  PORTAL_OFF(w, tesoro_portal_home(w->t, w->client, NULL, NULL, NULL, NULL));
  PORTAL_OFF(w, tesoro_portal_properties(w->t, w->client, TESORO_FEED_ALL, &c));
  PORTAL_OFF(w, tesoro_portal_contact_agent(w->t, w->client, dp, "Hello",
                                            &id));
  /* the client's calls on deals, deal properties and appointments */
  PORTAL_OFF(w, tesoro_deal_property_interested(w->t, w->client, dp, 0));
  PORTAL_OFF(w, tesoro_deal_property_not_interested(
                    w->t, w->client, dp, TESORO_REJECT_PRICE, NULL, 0));
  PORTAL_OFF(w, tesoro_deal_property_approve(w->t, w->client, dp3, 0));
  PORTAL_OFF(w, tesoro_deal_property_favourite(w->t, w->client, dp, 1, 0));
  PORTAL_OFF(w, tesoro_deal_properties(w->t, w->client, deal, &c));
  PORTAL_OFF(w, tesoro_appointment_request(w->t, w->client, dp, &at, 1, &id));
  PORTAL_OFF(w, tesoro_appointment_cancel(w->t, w->client, a_pend, NULL, 0));
  PORTAL_OFF(w, tesoro_appointment_note_add(w->t, w->client, a_done, "Nice",
                                            &id));
  PORTAL_OFF(w, tesoro_appointment_rate(w->t, w->client, a_done, 4, 0));
  PORTAL_OFF(w, tesoro_appointment_notes(w->t, w->client, a_done, &c));
  PORTAL_OFF(w, tesoro_appointment_ics(w->t, w->client, a_conf, NULL, &s));
  PORTAL_OFF(w, tesoro_client_appointments(w->t, w->client,
                                           TESORO_LIST_UPCOMING, &c));
  PORTAL_OFF(w, tesoro_client_appointments(w->t, w->client,
                                           TESORO_LIST_UNCONFIRMED, &c));
  assert_null(c);
  assert_null(s);
  assert_null(temp);
  assert_int_equal(id, 0);
  assert_int_equal(acct_int(w, acc, "failed_logins"), 0);

  /* staff keep working: the CRM does not depend on the portal (and seller
     onboarding, walked by tu_published_listing, is not a portal call) */
  listing = tu_published_listing(w, "Portal-off house", "Offstraat 1, Utrecht",
                                 39900000);
  TU_OK(w, tesoro_deal_create(w->t, w->agent, w->contact, "Second search",
                              &deal2));
  TU_OK(w, tesoro_deal_offer(w->t, w->agent, deal2, listing, &dp4));
  TU_OK(w, tesoro_deal_offer(w->t, w->agent, deal, listing, &id));
  TU_OK(w, tesoro_deal_properties(w->t, w->agent, deal, &c));
  assert_int_equal(tu_count(c), 4);
  c = NULL;
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, a_pend, D2 + 2 * HOUR, 0,
                                      0));
  TU_OK(w, tesoro_agent_appointments(w->t, w->agent, 0, 0, 0, 0, &c));
  assert_int_equal(tu_count(c), 3);
  c = NULL;
  TU_OK(w, tesoro_activities(w->t, w->agent, w->contact, &c));
  assert_true(tu_count(c) > 0);
  c = NULL;
  TU_OK(w, tesoro_entity_json(w->t, w->agent, ACCOUNT, acc, &s));
  tesoro_free(s);
  s = NULL;

  /* the other agency's portal is its own */
  register_ok(w, w->other_website, "Fay Field", "fay@example.com", PW1, code);
  otto_ready(w, NULL);

  /* on again: the portal works as before */
  TU_OK(w, tesoro_agency_set_portal(w->t, w->admin, 1));
  TU_OK(w, tesoro_portal_login(w->t, w->website, ADA, PW1, &client, &step));
  assert_int_equal(client, w->client);
  assert_int_equal(step, TESORO_PORTAL_READY);
  /* two confirmed viewings ahead; four offers of the first deal and one
     of the second still to review (a viewing the timer completed makes its
     property "viewed" only after the no-show window) */
  home(w, w->client, 2, 0, 5, 0);
  TU_OK(w, tesoro_portal_verify(w->t, w->website, "erin@example.com", erin,
                                &client));
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* tesoro.h: "Every portal call is refused ... Portal calls are: every
   tesoro_portal_* function" — the staff lookup of an account included. */
static void test_portal_off_refuses_account_lookup(void **state) {
  tu_world *w = *state;
  int64_t acc = 0, found = 0;
  char *temp = NULL;
  acc = crm_account(w, w->agent, w->contact, &temp);
  tesoro_free(temp);
  TU_OK(w, tesoro_agency_set_portal(w->t, w->admin, 0));
  PORTAL_OFF(w, tesoro_contact_portal_account(w->t, w->agent, w->contact, &found));
  assert_int_equal(found, 0);
  TU_OK(w, tesoro_agency_set_portal(w->t, w->admin, 1));
  TU_OK(w, tesoro_contact_portal_account(w->t, w->agent, w->contact, &found));
  assert_int_equal(found, acc);
}

/* ------------------------------------------------------------------------
** 3. Route 1: accounts made in the CRM.
*/

static void test_crm_account_created_with_temp_password(void **state) {
  tu_world *w = *state;
  int64_t acc = 0, acc2 = 0;
  char *temp = NULL, *temp2 = NULL, *payloads, *texts;
  const char *st = NULL;

  TU_OK(w, tesoro_portal_account_create(w->t, w->agent, w->contact, &acc,
                                        &temp));
  assert_true(acc > 0);
  assert_non_null(temp);
  assert_int_equal(strlen(temp), TESORO_PORTAL_TEMP_PASSWORD_LEN);
  assert_true(ascii_policy_ok(temp));

  /* active at once, in set_password, linked to the contact and its e-mail */
  assert_acct_state(w, acc, "set_password");
  TU_OK(w, tesoro_entity_state(w->t, w->agent, ACCOUNT, acc, &st, NULL));
  assert_string_equal(st, "set_password");
  assert_int_equal(acct_int(w, acc, "contact_id"), w->contact);
  assert_int_equal(acct_int(w, acc, "agency_id"), w->agency);
  assert_acct_text(w, acc, "email", ADA);
  assert_int_equal(acct_int(w, acc, "password_hash LIKE '$argon2id$%'"), 1);
  assert_int_equal(acct_int(w, acc, "code_hash IS NULL"), 1);
  assert_int_equal(acct_int(w, acc, "failed_logins"), 0);
  assert_int_equal(acct_int(w, acc, "created_by"), w->agent);
  assert_int_equal(acct_int(w, acc, "created_at"), TU_NOW);
  assert_acct_events(w, acc, "create");

  /* the activity, and the invitation to the client in the contact's
     language, naming the login e-mail but not the password */
  assert_int_equal(acts_kind(w, w->contact, "portal_account_created"), 1);
  assert_int_equal(outbox_to(w, w->client, "email", T_INVITATION), 1);
  assert_outbox_language(w, w->client, T_INVITATION, "nl");
  payloads = tu_sqlf_text(w,
                          "SELECT group_concat(payload, char(10)) FROM outbox_delivery "
                          "WHERE template = '%s'",
                          T_INVITATION);
  assert_non_null(payloads);
  assert_null(strstr(payloads, temp));
  texts = tu_sql_text(w,
                      "SELECT group_concat(x, char(10)) FROM (SELECT payload "
                      "AS x FROM outbox_delivery UNION ALL SELECT summary FROM timeline "
                      "UNION ALL SELECT coalesce(details, '') FROM history)");
  assert_non_null(texts);
  assert_null(strstr(texts, temp));
  free(texts);

  /* random: another account gets another password; any staff role may */
  TU_OK(w, tesoro_portal_account_create(w->t, w->closings, w->contact2, &acc2,
                                        &temp2));
  assert_true(acc2 > acc);
  assert_int_equal(strlen(temp2), TESORO_PORTAL_TEMP_PASSWORD_LEN);
  assert_true(ascii_policy_ok(temp2));
  assert_string_not_equal(temp, temp2);
  assert_outbox_language(w, w->client2, T_INVITATION, "en");
  tesoro_free(temp);
  tesoro_free(temp2);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
  /* tesoro.h: "the invitation outbox row names the account and its login
     e-mail, not the password" — the host needs the login to write the
     e-mail */
  if (!strstr(payloads, ADA)) {
    print_error("Portal Invitation payload does not name the login e-mail: "
                "%s\n", payloads);
    free(payloads);
    fail();
  }
  free(payloads);
}

static void test_crm_account_refusals(void **state) {
  tu_world *w = *state;
  int64_t acc = 0, nomail = 0, carol = 0, id = 0;
  char *temp = NULL, code[7];

  TU_ASSERT_REFUSED(w, tesoro_portal_account_create(w->t, w->agent, w->contact,
                                                    NULL, &temp),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_account_create(w->t, w->agent, w->contact,
                                                    &acc, NULL),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_account_create(w->t, w->agent, 0, &acc,
                                                    &temp),
                    TESORO_EINVAL, "> 0");
  TU_ASSERT_REFUSED(w, tesoro_portal_account_create(w->t, w->agent, 999999,
                                                    &acc, &temp),
                    TESORO_ENOTFOUND, NULL);
  assert_int_equal(tesoro_portal_account_create(NULL, w->agent, w->contact,
                                                &acc, &temp),
                   TESORO_EMISUSE);
  /* staff only, of the contact's agency */
  TU_ASSERT_REFUSED(w, tesoro_portal_account_create(w->t, w->client, w->contact,
                                                    &acc, &temp),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_account_create(w->t, w->website,
                                                    w->contact, &acc, &temp),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_account_create(w->t, w->agent,
                                                    w->other_contact, &acc,
                                                    &temp),
                    TESORO_EDENIED, "another agency");
  TU_ASSERT_REFUSED(w, tesoro_portal_account_create(w->t, w->other_agent,
                                                    w->contact, &acc, &temp),
                    TESORO_EDENIED, "another agency");
  /* the login is the contact's e-mail */
  TU_OK(w, tesoro_contact_create(w->t, w->agent, "Nora No-Mail", NULL,
                                 "+31 6 0000 0000", "nl", &nomail));
  REFUSED_ANY(w, tesoro_portal_account_create(w->t, w->agent, nomail, &acc,
                                              &temp),
              TESORO_EGUARD, "e-mail|email");
  assert_int_equal(acc, 0);
  assert_null(temp);

  /* one account per contact */
  acc = crm_account(w, w->agent, w->contact, &temp);
  tesoro_free(temp);
  temp = NULL;
  TU_ASSERT_REFUSED(w, tesoro_portal_account_create(w->t, w->admin, w->contact,
                                                    &id, &temp),
                    TESORO_EEXISTS, NULL);
  /* and one account per e-mail: a pending self-registration holds it */
  register_ok(w, w->website, "Carol Client", "carol@example.com", PW1, code);
  TU_OK(w, tesoro_contact_create(w->t, w->agent, "Carol Client",
                                 "Carol@Example.com", NULL, "en", &carol));
  TU_ASSERT_REFUSED(w, tesoro_portal_account_create(w->t, w->agent, carol, &id,
                                                    &temp),
                    TESORO_EEXISTS, NULL);
  assert_int_equal(id, 0);
  assert_null(temp);
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM portal_account"), 2);
}

static void test_login_with_temp_password_must_change_it(void **state) {
  tu_world *w = *state;
  int64_t acc, deal = 0, dp, client = 0, msg = 0, at = D1, a = 0;
  char *temp = NULL;
  int step = 0;
  tesoro_cursor *c = NULL;

  TU_OK(w, tesoro_deal_create(w->t, w->agent, w->contact, "Utrecht search",
                              &deal));
  dp = offer_listing(w, deal, "Feed house");
  acc = crm_account(w, w->agent, w->contact, &temp);

  TU_OK(w, tesoro_portal_login(w->t, w->website, ADA, temp, &client, &step));
  assert_int_equal(client, w->client);
  assert_int_equal(step, TESORO_PORTAL_SET_PASSWORD);
  assert_int_equal(acct_int(w, acc, "last_login_at"), TU_NOW);
  assert_acct_state(w, acc, "set_password");

  /* until the password is set, the portal shows only "set password" */
  MUST_SET_PASSWORD(w, tesoro_portal_home(w->t, w->client, NULL, NULL, NULL,
                                          NULL));
  MUST_SET_PASSWORD(w, tesoro_portal_properties(w->t, w->client,
                                                TESORO_FEED_NEW, &c));
  MUST_SET_PASSWORD(w, tesoro_deal_property_interested(w->t, w->client, dp, 0));
  MUST_SET_PASSWORD(w, tesoro_deal_property_favourite(w->t, w->client, dp, 1,
                                                      0));
  MUST_SET_PASSWORD(w, tesoro_deal_properties(w->t, w->client, deal, &c));
  MUST_SET_PASSWORD(w, tesoro_appointment_request(w->t, w->client, dp, &at, 1,
                                                  &a));
  MUST_SET_PASSWORD(w, tesoro_client_appointments(w->t, w->client,
                                                  TESORO_LIST_UPCOMING, &c));
  MUST_SET_PASSWORD(w, tesoro_portal_welcome_finish(w->t, w->client));
  MUST_SET_PASSWORD(w, tesoro_portal_tour_skip(w->t, w->client));
  MUST_SET_PASSWORD(w, tesoro_portal_set_language(w->t, w->client, "de"));
  MUST_SET_PASSWORD(w, tesoro_portal_contact_agent(w->t, w->client, 0,
                                                   "Hello?", &msg));
  assert_null(c);
  assert_int_equal(a, 0);
  assert_int_equal(msg, 0);

  /* the temporary password as current: on to welcome */
  TU_OK(w, tesoro_portal_password_change(w->t, w->client, temp, PW1));
  assert_acct_state(w, acc, "welcome");
  assert_int_equal(step_of(w, w->client), TESORO_PORTAL_WELCOME);
  home(w, w->client, 0, 0, 1, 0);
  TU_OK(w, tesoro_portal_properties(w->t, w->client, TESORO_FEED_NEW, &c));
  assert_int_equal(tu_count(c), 1);
  TU_OK(w, tesoro_deal_property_interested(w->t, w->client, dp, 0));
  assert_string_equal(state_of(w, dp), "interesting");

  /* the temporary password is spent; the new one logs in (any case of the
     e-mail) */
  RECORDED_ANY(w, tesoro_portal_login(w->t, w->website, ADA, temp, &client,
                                      &step),
               TESORO_EDENIED, "wrong");
  assert_int_equal(acct_int(w, acc, "failed_logins"), 1);
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 60));
  client = 0;
  TU_OK(w, tesoro_portal_login(w->t, w->website, "ADA@Example.com", PW1,
                               &client, &step));
  assert_int_equal(client, w->client);
  assert_int_equal(step, TESORO_PORTAL_WELCOME);
  assert_int_equal(acct_int(w, acc, "failed_logins"), 0);
  assert_int_equal(acct_int(w, acc, "last_login_at"), TU_NOW + 60);
  assert_acct_events(w, acc,
                     "create,login,change_password,login_failed,login");
  tesoro_free(temp);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* ------------------------------------------------------------------------
** 4. Route 2: self-registration.
*/

static void test_register_new_email_creates_lead_contact(void **state) {
  tu_world *w = *state;
  char code[7];
  int64_t acc, client = 0, contact, contacts, client2 = 0;
  int step = 0;

  contacts = tu_sql_int(w, "SELECT count(*) FROM contact");
  acc = register_ok(w, w->website, "Carol Client", "carol@example.com",
                    "Car0l!pass", code);
  assert_acct_state(w, acc, "unverified");
  assert_int_equal(acct_int(w, acc, "contact_id IS NULL"), 1);
  assert_int_equal(acct_int(w, acc, "agency_id"), w->agency);
  assert_acct_text(w, acc, "name", "Carol Client");
  assert_acct_text(w, acc, "email", "carol@example.com");
  assert_int_equal(acct_int(w, acc, "code_hash LIKE '$argon2id$%'"), 1);
  assert_int_equal(acct_int(w, acc, "code_expires_at"),
                   TU_NOW + TESORO_PORTAL_CODE_TTL_S);
  assert_int_equal(acct_int(w, acc, "code_attempts"), 0);
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM contact"), contacts);

  TU_OK(w, tesoro_portal_verify(w->t, w->website, "carol@example.com", code,
                                &client));
  assert_true(client > 0);
  contact = contact_of(w, client);
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM contact"), contacts + 1);
  assert_int_equal(acct_int(w, acc, "contact_id"), contact);
  assert_acct_state(w, acc, "welcome");
  assert_int_equal(step_of(w, client), TESORO_PORTAL_WELCOME);
  /* a new lead of the agency, made from the registration */
  assert_int_equal(tu_sqlf(w, "SELECT agency_id FROM contact WHERE id = %lld",
                           (long long)contact),
                   w->agency);
  TU_TEXT_IS(tu_row_text(w, "contact", contact, "email"), "carol@example.com");
  TU_TEXT_IS(tu_row_text(w, "contact", contact, "name"), "Carol Client");
  assert_int_equal(tu_sqlf(w,
                           "SELECT count(*) FROM contact_role WHERE "
                           "contact_id = %lld AND role = 'lead'",
                           (long long)contact),
                   1);
  assert_true(acts(w, contact) >= 1);

  /* the code is single use */
  REFUSED_ANY(w, tesoro_portal_verify(w->t, w->website, "carol@example.com",
                                      code, &client2),
              TESORO_EDENIED, "wrong or has expired");
  assert_int_equal(client2, 0);

  /* the registered password logs in */
  TU_OK(w, tesoro_portal_login(w->t, w->website, "carol@example.com",
                               "Car0l!pass", &client2, &step));
  assert_int_equal(client2, client);
  assert_int_equal(step, TESORO_PORTAL_WELCOME);
  assert_acct_events(w, acc, "register,verify,login");
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_register_links_existing_contact_case_insensitively(
    void **state) {
  tu_world *w = *state;
  char code[7];
  int64_t acc, client = 0, contacts;
  int step = 0;

  contacts = tu_sql_int(w, "SELECT count(*) FROM contact");
  acc = register_ok(w, w->website, "Ada O.", "ADA@Example.COM", "Ad4!portal",
                    code);
  TU_OK(w, tesoro_portal_verify(w->t, w->website, "ada@example.com", code,
                                &client));
  assert_int_equal(client, w->client);
  assert_int_equal(acct_int(w, acc, "contact_id"), w->contact);
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM contact"), contacts);
  assert_acct_state(w, acc, "welcome");
  /* the contact's CRM language is the portal's */
  {
    const char *lang = NULL;
    TU_OK(w, tesoro_portal_language(w->t, w->client, &lang));
    assert_string_equal(lang, "nl");
  }
  TU_OK(w, tesoro_portal_login(w->t, w->website, "Ada@Example.Com",
                               "Ad4!portal", &client, &step));
  assert_int_equal(client, w->client);
  /* now that Ada has an account, the CRM cannot make a second one */
  {
    int64_t id = 0;
    char *temp = NULL;
    TU_ASSERT_REFUSED(w, tesoro_portal_account_create(w->t, w->agent,
                                                      w->contact, &id, &temp),
                      TESORO_EEXISTS, NULL);
  }
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_verify_code_expires_after_ttl(void **state) {
  tu_world *w = *state;
  char code[7], code2[7];
  int64_t acc, client = 0;

  acc = register_ok(w, w->website, "Carol Client", "carol@example.com",
                    "Car0l!pass", code);
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + TESORO_PORTAL_CODE_TTL_S + 1));
  TU_ASSERT_REFUSED(w, tesoro_portal_verify(w->t, w->website,
                                            "carol@example.com", code,
                                            &client),
                    TESORO_EDENIED, "wrong or has expired");
  assert_int_equal(client, 0);
  assert_acct_state(w, acc, "unverified");
  /* register again: a new code, valid from now */
  assert_int_equal(register_ok(w, w->website, "Carol Client",
                               "carol@example.com", "Car0l!pass", code2),
                   acc);
  assert_int_equal(acct_int(w, acc, "code_expires_at"),
                   TU_NOW + 2 * TESORO_PORTAL_CODE_TTL_S + 1);
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 2 * TESORO_PORTAL_CODE_TTL_S));
  TU_OK(w, tesoro_portal_verify(w->t, w->website, "carol@example.com", code2,
                                &client));
  assert_acct_state(w, acc, "welcome");
}

static void test_verify_code_valid_exactly_at_ttl(void **state) {
  tu_world *w = *state;
  char code[7];
  int64_t acc, client = 0;

  acc = register_ok(w, w->website, "Carol Client", "carol@example.com",
                    "Car0l!pass", code);
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + TESORO_PORTAL_CODE_TTL_S));
  TU_OK(w, tesoro_portal_verify(w->t, w->website, "carol@example.com", code,
                                &client));
  assert_true(client > 0);
  assert_acct_state(w, acc, "welcome");
}

static void test_verify_five_wrong_codes_use_it_up(void **state) {
  tu_world *w = *state;
  char code[7], bad[7], code2[7];
  int64_t acc, client = 0;
  int i;

  acc = register_ok(w, w->website, "Carol Client", "carol@example.com",
                    "Car0l!pass", code);
  wrong_code(code, bad);
  for (i = 1; i <= TESORO_PORTAL_CODE_MAX_TRIES; i++) {
    RECORDED_ANY(w, tesoro_portal_verify(w->t, w->website, "carol@example.com",
                                         bad, &client),
                 TESORO_EDENIED, "code");
    assert_msg_clean(w, bad);
    assert_msg_clean(w, code);
    assert_int_equal(acct_int(w, acc, "code_attempts"), i);
    assert_acct_state(w, acc, "unverified");
  }
  assert_int_equal(tu_sqlf(w,
                           "SELECT count(*) FROM history WHERE entity = %d "
                           "AND entity_id = %lld AND event = 'code_failed'",
                           ACCOUNT, (long long)acc),
                   TESORO_PORTAL_CODE_MAX_TRIES);
  /* the sixth try, even with the right code: register again */
  REFUSED_ANY(w, tesoro_portal_verify(w->t, w->website, "carol@example.com",
                                      code, &client),
              TESORO_EDENIED, "wrong or has expired");
  REFUSED_ANY(w, tesoro_portal_verify(w->t, w->website, "carol@example.com",
                                      bad, &client),
              TESORO_EDENIED, "wrong or has expired");
  assert_int_equal(client, 0);
  assert_acct_state(w, acc, "unverified");

  assert_int_equal(register_ok(w, w->website, "Carol Client",
                               "carol@example.com", "Car0l!pass", code2),
                   acc);
  assert_int_equal(acct_int(w, acc, "code_attempts"), 0);
  TU_OK(w, tesoro_portal_verify(w->t, w->website, "carol@example.com", code2,
                                &client));
  assert_acct_state(w, acc, "welcome");
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
  /* the machine's event names (tesoro.h: register → unverified; again on an
     unverified account) */
  assert_acct_events(w, acc,
                     "register,code_failed,code_failed,code_failed,"
                     "code_failed,code_failed,register,verify");
}

static void test_register_again_replaces_code_name_and_password(
    void **state) {
  tu_world *w = *state;
  char code1[7], code2[7];
  int64_t acc, client = 0, contact;
  int step = 0;

  acc = register_ok(w, w->website, "Carol Client", "carol@example.com",
                    "Car0l!pass", code1);
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 60));
  do {
    assert_int_equal(register_ok(w, w->website, "Carol Second",
                                 "carol@example.com", "Car0l!other", code2),
                     acc);
  } while (strcmp(code1, code2) == 0); /* one chance in a million */
  assert_int_equal(tu_sql_int(w, "SELECT count(*) FROM portal_account"), 1);
  assert_acct_text(w, acc, "name", "Carol Second");
  assert_acct_state(w, acc, "unverified");
  assert_int_equal(acct_int(w, acc, "code_expires_at"),
                   TU_NOW + 60 + TESORO_PORTAL_CODE_TTL_S);

  /* the old code stops working (a wrong code now: recorded) */
  RECORDED_ANY(w, tesoro_portal_verify(w->t, w->website, "carol@example.com",
                                       code1, &client),
               TESORO_EDENIED, "code");
  assert_int_equal(acct_int(w, acc, "code_attempts"), 1);
  TU_OK(w, tesoro_portal_verify(w->t, w->website, "carol@example.com", code2,
                                &client));
  contact = contact_of(w, client);
  TU_TEXT_IS(tu_row_text(w, "contact", contact, "name"), "Carol Second");
  /* whoever proved the mailbox set the password */
  RECORDED_ANY(w, tesoro_portal_login(w->t, w->website, "carol@example.com",
                                      "Car0l!pass", &client, &step),
               TESORO_EDENIED, "wrong");
  TU_OK(w, tesoro_portal_login(w->t, w->website, "carol@example.com",
                               "Car0l!other", &client, &step));
  assert_int_equal(step, TESORO_PORTAL_WELCOME);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_register_refusals(void **state) {
  tu_world *w = *state;
  char code[7], *c = NULL, *lng;
  int64_t acc = 0, client = 0;

  /* only the agency's website registers */
  TU_ASSERT_REFUSED(w, tesoro_portal_register(w->t, w->agent, "Carol Client",
                                              "carol@example.com", PW1, &acc,
                                              &c),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_register(w->t, w->admin, "Carol Client",
                                              "carol@example.com", PW1, &acc,
                                              &c),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_register(w->t, w->client, "Carol Client",
                                              "carol@example.com", PW1, &acc,
                                              &c),
                    TESORO_EDENIED, NULL);
  /* name and e-mail */
  TU_ASSERT_REFUSED(w, tesoro_portal_register(w->t, w->website, NULL,
                                              "carol@example.com", PW1, &acc,
                                              &c),
                    TESORO_EINVAL, "required");
  TU_ASSERT_REFUSED(w, tesoro_portal_register(w->t, w->website, "",
                                              "carol@example.com", PW1, &acc,
                                              &c),
                    TESORO_EINVAL, "required");
  lng = tu_long_string(TESORO_MAX_NAME + 1);
  TU_ASSERT_REFUSED(w, tesoro_portal_register(w->t, w->website, lng,
                                              "carol@example.com", PW1, &acc,
                                              &c),
                    TESORO_EINVAL, "longer");
  free(lng);
  TU_ASSERT_REFUSED(w, tesoro_portal_register(w->t, w->website, TU_BAD_UTF8,
                                              "carol@example.com", PW1, &acc,
                                              &c),
                    TESORO_EINVAL, "UTF-8");
  TU_ASSERT_REFUSED(w, tesoro_portal_register(w->t, w->website, "Carol Client",
                                              NULL, PW1, &acc, &c),
                    TESORO_EINVAL, "required");
  TU_ASSERT_REFUSED(w, tesoro_portal_register(w->t, w->website, "Carol Client",
                                              "carol.example.com", PW1, &acc,
                                              &c),
                    TESORO_EINVAL, "e-mail");
  TU_ASSERT_REFUSED(w, tesoro_portal_register(w->t, w->website, "Carol Client",
                                              "carol@example.com", PW1, NULL,
                                              &c),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_register(w->t, w->website, "Carol Client",
                                              "carol@example.com", PW1, &acc,
                                              NULL),
                    TESORO_EINVAL, NULL);
  assert_int_equal(tesoro_portal_register(NULL, w->website, "Carol Client",
                                          "carol@example.com", PW1, &acc, &c),
                   TESORO_EMISUSE);
  assert_int_equal(acc, 0);
  assert_null(c);

  /* an e-mail whose account is active: answered as a new registration (no
     enumeration), but nothing changes, the code never verifies, and the
     owner is told of the attempt */
  register_ok(w, w->website, "Carol Client", "carol@example.com", "Car0l!pass",
              code);
  TU_OK(w, tesoro_portal_verify(w->t, w->website, "carol@example.com", code,
                                &client));
  {
    char *before = tu_sqlf_text(w, "SELECT password_hash || name || state "
                                   "FROM portal_account WHERE lower(email) = "
                                   "'carol@example.com'");
    char *after;
    int64_t told = tu_sqlf(w, "SELECT count(*) FROM outbox WHERE template = "
                              "'Portal Account Exists'");
    TU_OK(w, tesoro_portal_register(w->t, w->website, "Carol Again",
                                    "CAROL@example.COM", "Car0l!again", &acc,
                                    &c));
    assert_int_equal(acc, 0);
    assert_non_null(c);
    assert_int_equal((int)strlen(c), TESORO_PORTAL_CODE_DIGITS);
    after = tu_sqlf_text(w, "SELECT password_hash || name || state FROM "
                            "portal_account WHERE lower(email) = "
                            "'carol@example.com'");
    assert_string_equal(before, after);
    assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM outbox WHERE template = "
                                "'Portal Account Exists' AND recipient_id = "
                                "%lld", (long long)client),
                     told + 1);
    TU_ASSERT_REFUSED(w, tesoro_portal_verify(w->t, w->website,
                                              "carol@example.com", c, &client),
                      TESORO_EDENIED, "wrong or has expired");
    tesoro_free(c);
    c = NULL;
    free(before);
    free(after);
  }
  /* a CRM-made account (still in set_password) is active too */
  {
    char *temp = NULL;
    crm_account(w, w->agent, w->contact, &temp);
    tesoro_free(temp);
  }
  TU_OK(w, tesoro_portal_register(w->t, w->website, "Ada Again", ADA,
                                  "Ad4!again", &acc, &c));
  assert_int_equal(acc, 0);
  tesoro_free(c);
  c = NULL;

}

static void test_verify_refusals(void **state) {
  tu_world *w = *state;
  char code[7];
  int64_t acc, client = 0;
  static const char *const bad_codes[] = {"12345", "abcdef", "1234567", "",
                                          "12 456", "12345a", "-12345"};
  size_t i;

  acc = register_ok(w, w->website, "Carol Client", "carol@example.com",
                    "Car0l!pass", code);
  for (i = 0; i < sizeof bad_codes / sizeof bad_codes[0]; i++)
    TU_ASSERT_REFUSED(w, tesoro_portal_verify(w->t, w->website,
                                              "carol@example.com",
                                              bad_codes[i], &client),
                      TESORO_EINVAL, "code");
  TU_ASSERT_REFUSED(w, tesoro_portal_verify(w->t, w->website,
                                            "carol@example.com", NULL, &client),
                    TESORO_EINVAL, "code");
  TU_ASSERT_REFUSED(w, tesoro_portal_verify(w->t, w->website,
                                            "carol@example.com", code, NULL),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_verify(w->t, w->website, NULL, code,
                                            &client),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_verify(w->t, w->website,
                                            "nobody@example.com", code,
                                            &client),
                    TESORO_EDENIED, "wrong or has expired");
  TU_ASSERT_REFUSED(w, tesoro_portal_verify(w->t, w->agent,
                                            "carol@example.com", code, &client),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_verify(w->t, w->client,
                                            "carol@example.com", code, &client),
                    TESORO_EDENIED, NULL);
  assert_int_equal(tesoro_portal_verify(NULL, w->website, "carol@example.com",
                                        code, &client),
                   TESORO_EMISUSE);
  assert_int_equal(client, 0);
  assert_int_equal(acct_int(w, acc, "code_attempts"), 0);
  /* none of those used up a try */
  TU_OK(w, tesoro_portal_verify(w->t, w->website, "carol@example.com", code,
                                &client));
  assert_true(client > 0);
}

/* ------------------------------------------------------------------------
** 5. The password policy.
*/

typedef struct bad_password {
  const char *pw;
  const char *alts; /* the message names one of these */
  int policy;       /* one of the six policy rules (own message) */
} bad_password;

static const bad_password bad_passwords[] = {
    {"Ab1!xyz", "8|short|least", 1},
    {"abcd1!xyz", "upper", 1},
    {"ABCD1!XYZ", "lower", 1},
    {"Abcd!xyzw", "digit", 1},
    {"Abcd1xyzw", "special", 1},
    {"Abcd1!x\tyz", "control", 1},
    {"Abcd1!x\x7Fyz", "control", 0},
    /* 7 code points, 10 bytes */
    {"\xC3\x89\xC3\xA9\xC3\xA9" "1!aA", "8|short|least", 0},
    /* a CJK letter is a letter, not a special character */
    {"Abcd1\xE6\xBC\xA2xyz", "special", 0},
    {TU_BAD_UTF8 "A1!", "UTF-8", 0},
    {NULL, "required|NULL", 0},
    {"", "required|empty", 0},
};
#define N_BAD_PASSWORDS (sizeof bad_passwords / sizeof bad_passwords[0])

static const char *const good_passwords[] = {
    "Abcd1!xy",                              /* exactly 8 */
    "\xC3\x89\xC3\xA9\xC3\xA9" "1!aaA",      /* 8 code points, 11 bytes */
    "\xC3\x89" "bcd1!xyz",                   /* the only upper case is É */
    "ABCD1!XY\xC3\xA9",                      /* the only lower case is é */
    "Abcd!xyz\xD9\xA3",                      /* the only digit is U+0663 */
    "Abcd1 xyz",                             /* a space is special */
    "Abcd1xyz\xE2\x82\xAC",                  /* so is the euro sign */
};
#define N_GOOD_PASSWORDS (sizeof good_passwords / sizeof good_passwords[0])

/* The six policy rules answer with six different messages. */
static void assert_distinct(char **msgs, int n) {
  int i, j;
  for (i = 0; i < n; i++)
    for (j = i + 1; j < n; j++)
      if (strcmp(msgs[i], msgs[j]) == 0) {
        print_error("two policy rules share the message \"%s\"\n", msgs[i]);
        fail();
      }
}

static void test_password_policy_on_register(void **state) {
  tu_world *w = *state;
  int64_t acc = 0, client = 0;
  char *c = NULL, *msgs[8], *lng, code[7], email[64];
  int n = 0, i;
  size_t k;

  for (k = 0; k < N_BAD_PASSWORDS; k++) {
    REFUSED_ANY(w, tesoro_portal_register(w->t, w->website, "Pat Policy",
                                          "pat@example.com",
                                          bad_passwords[k].pw, &acc, &c),
                TESORO_EINVAL, bad_passwords[k].alts);
    if (bad_passwords[k].pw) assert_msg_clean(w, bad_passwords[k].pw);
    if (bad_passwords[k].policy) msgs[n++] = msg_copy(w);
  }
  assert_int_equal(n, 6);
  assert_distinct(msgs, n);
  for (i = 0; i < n; i++) free(msgs[i]);
  /* over TESORO_MAX_PASSWORD bytes */
  lng = tu_long_string(TESORO_MAX_PASSWORD + 1);
  memcpy(lng, "Aa1!", 4);
  REFUSED_ANY(w, tesoro_portal_register(w->t, w->website, "Pat Policy",
                                        "pat@example.com", lng, &acc, &c),
              TESORO_EINVAL, "longer|256|long");
  assert_int_equal(acc, 0);
  assert_null(c);
  /* exactly TESORO_MAX_PASSWORD bytes is fine */
  lng[TESORO_MAX_PASSWORD] = '\0';
  register_ok(w, w->website, "Pat Policy", "pat@example.com", lng, code);
  TU_OK(w, tesoro_portal_verify(w->t, w->website, "pat@example.com", code,
                                &client));
  free(lng);
  /* the policy counts characters and knows Unicode's letters and digits */
  for (k = 0; k < N_GOOD_PASSWORDS; k++) {
    snprintf(email, sizeof email, "good%u@example.com", (unsigned)k);
    register_ok(w, w->website, "Good Password", email, good_passwords[k], code);
  }
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_password_policy_on_change(void **state) {
  tu_world *w = *state;
  int64_t acc = 0, client = 0;
  char *msgs[8], *lng;
  const char *current = PW1;
  int n = 0, i, step = 0;
  size_t k;

  ada_ready(w, &acc);
  for (k = 0; k < N_BAD_PASSWORDS; k++) {
    REFUSED_ANY(w, tesoro_portal_password_change(w->t, w->client, PW1,
                                                 bad_passwords[k].pw),
                TESORO_EINVAL, bad_passwords[k].alts);
    if (bad_passwords[k].pw) assert_msg_clean(w, bad_passwords[k].pw);
    assert_msg_clean(w, PW1);
    if (bad_passwords[k].policy) msgs[n++] = msg_copy(w);
  }
  assert_int_equal(n, 6);
  assert_distinct(msgs, n);
  for (i = 0; i < n; i++) free(msgs[i]);
  lng = tu_long_string(TESORO_MAX_PASSWORD + 1);
  memcpy(lng, "Aa1!", 4);
  REFUSED_ANY(w, tesoro_portal_password_change(w->t, w->client, PW1, lng),
              TESORO_EINVAL, "longer|256|long");
  /* the new password must differ from the current one */
  REFUSED_ANY(w, tesoro_portal_password_change(w->t, w->client, PW1, PW1),
              TESORO_EINVAL, "current|differ|same");
  TU_ASSERT_REFUSED(w, tesoro_portal_password_change(w->t, w->client, NULL,
                                                     PW2),
                    TESORO_EINVAL, NULL);
  assert_int_equal(acct_int(w, acc, "failed_logins"), 0);

  /* the good ones are accepted, each in turn (the step stays ready) */
  lng[TESORO_MAX_PASSWORD] = '\0';
  TU_OK(w, tesoro_portal_password_change(w->t, w->client, current, lng));
  current = lng;
  for (k = 0; k < N_GOOD_PASSWORDS; k++) {
    TU_OK(w, tesoro_portal_password_change(w->t, w->client, current,
                                           good_passwords[k]));
    current = good_passwords[k];
  }
  assert_acct_state(w, acc, "ready");
  TU_OK(w, tesoro_portal_login(w->t, w->website, ADA, current, &client, &step));
  assert_int_equal(client, w->client);
  assert_int_equal(step, TESORO_PORTAL_READY);
  free(lng);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_password_change_wrong_current_counts(void **state) {
  tu_world *w = *state;
  int64_t acc = 0, client = 0;
  int step = 0;

  ada_ready(w, &acc);
  RECORDED_ANY(w, tesoro_portal_password_change(w->t, w->client, PW_WRONG,
                                                PW2),
               TESORO_EDENIED, "wrong|current");
  assert_msg_clean(w, PW_WRONG);
  assert_msg_clean(w, PW2);
  assert_int_equal(acct_int(w, acc, "failed_logins"), 1);
  /* the password did not change */
  RECORDED_ANY(w, tesoro_portal_login(w->t, w->website, ADA, PW2, &client,
                                      &step),
               TESORO_EDENIED, "wrong");
  assert_int_equal(acct_int(w, acc, "failed_logins"), 2);
  TU_OK(w, tesoro_portal_login(w->t, w->website, ADA, PW1, &client, &step));
  assert_int_equal(acct_int(w, acc, "failed_logins"), 0);
  TU_OK(w, tesoro_portal_password_change(w->t, w->client, PW1, PW2));
  TU_OK(w, tesoro_portal_login(w->t, w->website, ADA, PW2, &client, &step));
  /* only the account's client changes its password */
  TU_ASSERT_REFUSED(w, tesoro_portal_password_change(w->t, w->agent, PW2, PW1),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_password_change(w->t, w->website, PW2,
                                                     PW1),
                    TESORO_EDENIED, NULL);
}

/* ------------------------------------------------------------------------
** 6. Login and lockout.
*/

static void test_lockout_after_five_wrong_passwords(void **state) {
  tu_world *w = *state;
  int64_t acc = 0, client = 0;
  int step = 0, i;

  ada_ready(w, &acc);
  for (i = 1; i < TESORO_PORTAL_LOGIN_MAX_FAILS; i++) {
    RECORDED_ANY(w, tesoro_portal_login(w->t, w->website, ADA, PW_WRONG,
                                        &client, &step),
                 TESORO_EDENIED, "wrong");
    assert_int_equal(acct_int(w, acc, "failed_logins"), i);
    assert_int_equal(acct_int(w, acc, "locked_until IS NULL"), 1);
  }
  /* the fifth in a row locks the account */
  RECORDED_ANY(w, tesoro_portal_login(w->t, w->website, ADA, PW_WRONG, &client,
                                      &step),
               TESORO_EDENIED, "wrong|locked");
  assert_int_equal(acct_int(w, acc, "locked_until"),
                   TU_NOW + TESORO_PORTAL_LOCK_S);
  assert_msg_clean(w, PW_WRONG);
  /* even the right password is refused while locked */
  TU_ASSERT_ERR(w, tesoro_portal_login(w->t, w->website, ADA, PW1, &client,
                                       &step),
                TESORO_EDENIED, "locked");
  assert_msg_clean(w, PW1);
  TU_ASSERT_ERR(w, tesoro_portal_password_change(w->t, w->client, PW1, PW2),
                TESORO_EDENIED, "locked");
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + TESORO_PORTAL_LOCK_S - 1));
  TU_ASSERT_ERR(w, tesoro_portal_login(w->t, w->website, ADA, PW1, &client,
                                       &step),
                TESORO_EDENIED, "locked");
  assert_int_equal(client, 0);
  /* past the lock: the right password works and resets the count */
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + TESORO_PORTAL_LOCK_S + 1));
  TU_OK(w, tesoro_portal_login(w->t, w->website, ADA, PW1, &client, &step));
  assert_int_equal(client, w->client);
  assert_int_equal(step, TESORO_PORTAL_READY);
  assert_int_equal(acct_int(w, acc, "failed_logins"), 0);
  assert_int_equal(acct_int(w, acc, "last_login_at"),
                   TU_NOW + TESORO_PORTAL_LOCK_S + 1);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_lockout_counts_failures_in_a_row(void **state) {
  tu_world *w = *state;
  int64_t acc = 0, client = 0;
  int step = 0, i;

  ada_ready(w, &acc);
  for (i = 0; i < 3; i++)
    RECORDED_ANY(w, tesoro_portal_login(w->t, w->website, ADA, PW_WRONG,
                                        &client, &step),
                 TESORO_EDENIED, "wrong");
  assert_int_equal(acct_int(w, acc, "failed_logins"), 3);
  TU_OK(w, tesoro_portal_login(w->t, w->website, ADA, PW1, &client, &step));
  assert_int_equal(acct_int(w, acc, "failed_logins"), 0);
  /* four more wrong ones: not five in a row, no lock */
  for (i = 0; i < 4; i++)
    RECORDED_ANY(w, tesoro_portal_login(w->t, w->website, ADA, PW_WRONG,
                                        &client, &step),
                 TESORO_EDENIED, "wrong");
  assert_int_equal(acct_int(w, acc, "locked_until IS NULL"), 1);
  TU_OK(w, tesoro_portal_login(w->t, w->website, ADA, PW1, &client, &step));
  /* a wrong current password counts like a failed login: five lock */
  for (i = 0; i < TESORO_PORTAL_LOGIN_MAX_FAILS; i++)
    RECORDED_ANY(w, tesoro_portal_password_change(w->t, w->client, PW_WRONG,
                                                  PW2),
                 TESORO_EDENIED, "wrong|current|locked");
  assert_int_equal(acct_int(w, acc, "locked_until"),
                   TU_NOW + TESORO_PORTAL_LOCK_S);
  TU_ASSERT_ERR(w, tesoro_portal_login(w->t, w->website, ADA, PW1, &client,
                                       &step),
                TESORO_EDENIED, "locked");
}

static void test_login_unknown_email_same_message_as_wrong_password(
    void **state) {
  tu_world *w = *state;
  int64_t acc = 0, client = 0;
  int step = 0;
  char *wrong_pw;

  ada_ready(w, &acc);
  RECORDED_ANY(w, tesoro_portal_login(w->t, w->website, ADA, PW_WRONG, &client,
                                      &step),
               TESORO_EDENIED, "e-mail or password is wrong");
  wrong_pw = msg_copy(w);
  TU_ASSERT_REFUSED(w, tesoro_portal_login(w->t, w->website,
                                           "nobody@example.com", PW1, &client,
                                           &step),
                    TESORO_EDENIED, "e-mail or password is wrong");
  assert_string_equal(tesoro_errmsg(w->t), wrong_pw);
  /* Bob has a contact but no account: the same answer */
  TU_ASSERT_REFUSED(w, tesoro_portal_login(w->t, w->website, BOB, PW1, &client,
                                           &step),
                    TESORO_EDENIED, "e-mail or password is wrong");
  assert_string_equal(tesoro_errmsg(w->t), wrong_pw);
  free(wrong_pw);
  assert_int_equal(client, 0);
  /* only the website logs people in */
  TU_ASSERT_REFUSED(w, tesoro_portal_login(w->t, w->agent, ADA, PW1, &client,
                                           &step),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_login(w->t, w->client, ADA, PW1, &client,
                                           &step),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_login(w->t, w->website, NULL, PW1,
                                           &client, &step),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_login(w->t, w->website, ADA, NULL,
                                           &client, &step),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_login(w->t, w->website, ADA, PW1, NULL,
                                           &step),
                    TESORO_EINVAL, NULL);
  assert_int_equal(tesoro_portal_login(NULL, w->website, ADA, PW1, &client,
                                       &step),
                   TESORO_EMISUSE);
  assert_int_equal(acct_int(w, acc, "failed_logins"), 1);
}

static void test_login_unverified_account_is_estate(void **state) {
  tu_world *w = *state;
  char code[7];
  int64_t acc, client = 0;
  int step = 0;

  acc = register_ok(w, w->website, "Carol Client", "carol@example.com",
                    "Car0l!pass", code);
  REFUSED_ANY(w, tesoro_portal_login(w->t, w->website, "carol@example.com",
                                     "Car0l!pass", &client, &step),
              TESORO_ESTATE, "verif");
  assert_int_equal(client, 0);
  assert_acct_state(w, acc, "unverified");
}

static void test_login_rehashes_a_cheaper_hash(void **state) {
  tu_world *w = *state;
  int64_t acc = 0, client = 0;
  int step = 0;
  char *h1, *h2, *h3;

  ada_welcome(w, &acc);
  h1 = tu_sqlf_text(w, "SELECT password_hash FROM portal_account WHERE id = "
                       "%lld", (long long)acc);
  assert_non_null(h1);
  assert_non_null(strstr(h1, "t=1,"));
  TU_OK(w, tesoro_config(w->t, TESORO_CONFIG_PWHASH_OPSLIMIT, 2));
  TU_OK(w, tesoro_portal_login(w->t, w->website, ADA, PW1, &client, &step));
  h2 = tu_sqlf_text(w, "SELECT password_hash FROM portal_account WHERE id = "
                       "%lld", (long long)acc);
  assert_non_null(h2);
  assert_string_not_equal(h1, h2);
  assert_non_null(strstr(h2, "t=2,"));
  /* never a cheaper one */
  TU_OK(w, tesoro_config(w->t, TESORO_CONFIG_PWHASH_OPSLIMIT, 1));
  TU_OK(w, tesoro_portal_login(w->t, w->website, ADA, PW1, &client, &step));
  h3 = tu_sqlf_text(w, "SELECT password_hash FROM portal_account WHERE id = "
                       "%lld", (long long)acc);
  assert_non_null(h3);
  assert_string_equal(h2, h3);
  free(h1);
  free(h2);
  free(h3);
}

/* ------------------------------------------------------------------------
** 7. Onboarding.
*/

/* The step call moves the account and leaves an activity on the contact. */
#define STEP_OK(w, call, want_step)                                           \
  do {                                                                        \
    int64_t before_ = acts((w), (w)->contact);                                \
    TU_OK(w, call);                                                           \
    assert_int_equal(step_of((w), (w)->client), (want_step));                 \
    if (acts((w), (w)->contact) <= before_) {                                 \
      print_error("%s left no activity on the contact\n", #call);             \
      fail();                                                                 \
    }                                                                         \
    assert_int_equal(tu_sqlf((w),                                             \
                             "SELECT actor_id FROM timeline WHERE "           \
                             "contact_id = %lld ORDER BY id DESC LIMIT 1",    \
                             (long long)(w)->contact),                        \
                     (w)->client);                                            \
  } while (0)

static void test_onboarding_steps_in_order(void **state) {
  tu_world *w = *state;
  int64_t acc = 0;
  const char *st = NULL;

  ada_welcome(w, &acc);
  assert_int_equal(step_of(w, w->client), TESORO_PORTAL_WELCOME);
  REFUSED_ANY(w, tesoro_portal_tour_finish(w->t, w->client), TESORO_ESTATE,
              "welcome");
  REFUSED_ANY(w, tesoro_portal_tour_skip(w->t, w->client), TESORO_ESTATE,
              "welcome");
  REFUSED_ANY(w, tesoro_portal_tour_restart(w->t, w->client), TESORO_ESTATE,
              "welcome");

  STEP_OK(w, tesoro_portal_welcome_finish(w->t, w->client), TESORO_PORTAL_TOUR);
  assert_acct_state(w, acc, "tour");
  REFUSED_ANY(w, tesoro_portal_welcome_finish(w->t, w->client), TESORO_ESTATE,
              "tour");
  REFUSED_ANY(w, tesoro_portal_tour_restart(w->t, w->client), TESORO_ESTATE,
              "tour");

  STEP_OK(w, tesoro_portal_tour_finish(w->t, w->client), TESORO_PORTAL_READY);
  assert_acct_state(w, acc, "ready");
  REFUSED_ANY(w, tesoro_portal_welcome_finish(w->t, w->client), TESORO_ESTATE,
              "ready");
  REFUSED_ANY(w, tesoro_portal_tour_finish(w->t, w->client), TESORO_ESTATE,
              "ready");
  REFUSED_ANY(w, tesoro_portal_tour_skip(w->t, w->client), TESORO_ESTATE,
              "ready");

  /* the tour can be restarted, and skipped */
  STEP_OK(w, tesoro_portal_tour_restart(w->t, w->client), TESORO_PORTAL_TOUR);
  STEP_OK(w, tesoro_portal_tour_skip(w->t, w->client), TESORO_PORTAL_READY);
  STEP_OK(w, tesoro_portal_tour_restart(w->t, w->client), TESORO_PORTAL_TOUR);
  STEP_OK(w, tesoro_portal_tour_finish(w->t, w->client), TESORO_PORTAL_READY);
  TU_OK(w, tesoro_entity_state(w->t, w->agent, ACCOUNT, acc, &st, NULL));
  assert_string_equal(st, "ready");
  /* a password change in ready stays in ready */
  TU_OK(w, tesoro_portal_password_change(w->t, w->client, PW1, PW2));
  assert_int_equal(step_of(w, w->client), TESORO_PORTAL_READY);
  assert_acct_events(w, acc,
                     "create,login,change_password,finish_welcome,finish_tour,"
                     "restart_tour,skip_tour,restart_tour,finish_tour,"
                     "change_password");

  /* the onboarding is the client's own */
  {
    int step = 0;
    TU_ASSERT_REFUSED(w, tesoro_portal_tour_restart(w->t, w->agent),
                      TESORO_EDENIED, NULL);
    TU_ASSERT_REFUSED(w, tesoro_portal_step(w->t, w->agent, &step),
                      TESORO_EDENIED, NULL);
    TU_ASSERT_REFUSED(w, tesoro_portal_step(w->t, w->website, &step),
                      TESORO_EDENIED, NULL);
    TU_ASSERT_REFUSED(w, tesoro_portal_step(w->t, w->client, NULL),
                      TESORO_EINVAL, NULL);
    TU_ASSERT_REFUSED(w, tesoro_portal_step(w->t, 0, &step), TESORO_EINVAL,
                      NULL);
    assert_int_equal(tesoro_portal_step(NULL, w->client, &step),
                     TESORO_EMISUSE);
    assert_int_equal(tesoro_portal_welcome_finish(NULL, w->client),
                     TESORO_EMISUSE);
  }
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* ------------------------------------------------------------------------
** 8. Languages.
*/

static void test_language_from_the_contact(void **state) {
  tu_world *w = *state;
  static const struct {
    const char *contact_language, *portal;
  } cases[] = {
      {"ja", "en"},    {NULL, "en"},    {"pt-BR", "pt"}, {"NL", "nl"},
      {"nl-BE", "nl"}, {"sv_SE", "sv"}, {"DE-at", "de"}, {"no", "no"},
      {"nb", "en"},    {"nlx", "en"},   {"fr", "fr"},    {"pl", "pl"},
  };
  size_t i;
  const char *lang = NULL;

  ada_welcome(w, NULL);
  TU_OK(w, tesoro_portal_language(w->t, w->client, &lang));
  assert_string_equal(lang, "nl");
  assert_outbox_language(w, w->client, T_INVITATION, "nl");
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char email[64], name[64];
    int64_t contact = 0, client;
    snprintf(email, sizeof email, "lang%u@example.com", (unsigned)i);
    snprintf(name, sizeof name, "Lang Case %u", (unsigned)i);
    TU_OK(w, tesoro_contact_create(w->t, w->agent, name, email, NULL,
                                   cases[i].contact_language, &contact));
    client = crm_welcome(w, w->agent, w->website, contact, email, PW1, NULL);
    lang = NULL;
    TU_OK(w, tesoro_portal_language(w->t, client, &lang));
    assert_non_null(lang);
    if (strcmp(lang, cases[i].portal) != 0) {
      print_error("contact language \"%s\": portal \"%s\", expected \"%s\"\n",
                  cases[i].contact_language ? cases[i].contact_language
                                            : "(null)",
                  lang, cases[i].portal);
      fail();
    }
    /* the invitation went out in the same language, and the account's
    ** JSON says it too (three statements share the rule) */
    assert_outbox_language(w, client, T_INVITATION, cases[i].portal);
    {
      char *json = NULL, want[48];
      int64_t account = tu_sqlf(w, "SELECT id FROM portal_account WHERE "
                                   "contact_id = %lld", (long long)contact);
      TU_OK(w, tesoro_entity_json(w->t, w->agent, TESORO_ENTITY_PORTAL_ACCOUNT,
                                  account, &json));
      snprintf(want, sizeof want, "\"portal_language\":\"%s\"", cases[i].portal);
      assert_non_null(strstr(json, want));
      tesoro_free(json);
    }
  }
}

static void test_language_set_by_the_user(void **state) {
  tu_world *w = *state;
  static const char *const bad[] = {"xx", "EN", "", "nl-BE", "De", "eng",
                                    TU_BAD_UTF8};
  int64_t acc = 0, deal = 0, dp, a;
  const char *lang = NULL;
  size_t i;

  ada_ready(w, &acc);
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    TU_ASSERT_REFUSED(w, tesoro_portal_set_language(w->t, w->client, bad[i]),
                      TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_set_language(w->t, w->client, NULL),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_language(w->t, w->client, NULL),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_set_language(w->t, w->agent, "de"),
                    TESORO_EDENIED, NULL);

  /* a notification before the choice: the contact's language */
  TU_OK(w, tesoro_deal_create(w->t, w->agent, w->contact, "Search", &deal));
  dp = offer_listing(w, deal, "Language house");
  a = request_at(w, w->client, dp, D1);
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, a, D1, 0, 0));
  assert_outbox_language(w, w->client, T_STATUS, "nl");

  TU_OK(w, tesoro_portal_set_language(w->t, w->client, "de"));
  TU_OK(w, tesoro_portal_language(w->t, w->client, &lang));
  assert_string_equal(lang, "de");
  assert_acct_text(w, acc, "language", "de");
  /* the CRM's language of the contact is not the portal's to change */
  TU_TEXT_IS(tu_row_text(w, "contact", w->contact, "language"), "nl");
  /* notifications to the client follow the choice */
  TU_OK(w, tesoro_appointment_reschedule(w->t, w->agent, a, D2, 0, 0));
  assert_outbox_language(w, w->client, T_STATUS, "de");
  /* every one of the ten */
  {
    static const char *const ten[] = {"en", "nl", "de", "fr", "es",
                                      "pt", "it", "pl", "sv", "no"};
    for (i = 0; i < 10; i++) {
      TU_OK(w, tesoro_portal_set_language(w->t, w->client, ten[i]));
      TU_OK(w, tesoro_portal_language(w->t, w->client, &lang));
      assert_string_equal(lang, ten[i]);
    }
  }
  TU_OK(w, tesoro_portal_set_language(w->t, w->client, "fr"));
  TU_OK(w, tesoro_appointment_reschedule(w->t, w->agent, a, D2 + HOUR, 0, 0));
  assert_outbox_language(w, w->client, T_STATUS, "fr");
  assert_true(tu_sqlf(w,
                      "SELECT count(*) FROM history WHERE entity = %d AND "
                      "entity_id = %lld AND event = 'set_language'",
                      ACCOUNT, (long long)acc) >= 12);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* ------------------------------------------------------------------------
** 9. Home overview, feed views, contact agent.
*/

static void test_home_counts(void **state) {
  tu_world *w = *state;
  int64_t deal = 0, dp1, dp2, dp3, dp4, a1, a2, a3, bob_deal = 0;

  ada_ready(w, NULL);
  TU_OK(w, tesoro_deal_create(w->t, w->agent, w->contact, "Search", &deal));
  dp1 = offer_listing(w, deal, "Home one");
  dp2 = offer_listing(w, deal, "Home two");
  dp3 = offer_listing(w, deal, "Home three");
  dp4 = offer_listing(w, deal, "Home four");
  home(w, w->client, 0, 0, 4, 0);
  TU_OK(w, tesoro_portal_home(w->t, w->client, NULL, NULL, NULL, NULL));

  a1 = request_at(w, w->client, dp1, D2 + DAY); /* stays pending */
  home(w, w->client, 0, 1, 4, 0);
  a2 = request_at(w, w->client, dp2, D2);
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, a2, D2, 0, 0));
  home(w, w->client, 1, 1, 4, 0);
  a3 = request_at(w, w->client, dp3, D1);
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, a3, D1, 0, 0));
  home(w, w->client, 2, 1, 4, 0);
  /* the viewing of dp3 happens and is rated: dp3 is viewed */
  TU_OK(w, tesoro_clock_set(w->t, D1 - 600));
  TU_OK(w, tesoro_appointment_start_viewing(w->t, w->client, a3, 0));
  assert_string_equal(state_of(w, dp3), "viewed");
  home(w, w->client, 1, 1, 3, 0);
  TU_OK(w, tesoro_appointment_rate(w->t, w->client, a3, 5, 0));
  home(w, w->client, 1, 1, 3, 1);
  TU_OK(w, tesoro_deal_property_interested(w->t, w->client, dp4, 0));
  home(w, w->client, 1, 1, 2, 1);

  /* Bob's offers are Bob's */
  bob_ready(w, NULL);
  TU_OK(w, tesoro_deal_create(w->t, w->agent2, w->contact2, "Bob's search",
                              &bob_deal));
  offer_listing(w, bob_deal, "Bob's home");
  home(w, w->client, 1, 1, 2, 1);
  home(w, w->client2, 0, 0, 1, 0);

  /* upcoming is judged at "now": after D2 the confirmed one is past */
  TU_OK(w, tesoro_clock_set(w->t, D2 + 2 * HOUR));
  home(w, w->client, 0, 1, 2, 1);
  /* a cancelled request is no longer unconfirmed */
  TU_OK(w, tesoro_appointment_cancel(w->t, w->client, a1, NULL, 0));
  home(w, w->client, 0, 0, 2, 1);
  /* a closed deal's offers are not new */
  TU_OK(w, tesoro_deal_close(w->t, w->agent, deal, "Bought elsewhere", 0));
  home(w, w->client, 0, 0, 0, 1);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_properties_views(void **state) {
  tu_world *w = *state;
  int64_t deal = 0, deal2 = 0, dpA, dpB, dpC, dpD, dpE, dpF, dpG, a;
  int64_t ids[16];
  int n;
  tesoro_cursor *c = NULL;
  static const char *const cols[] = {
      "id",    "deal_id", "listing_id", "state",          "favourite",
      "title", "address", "price",      "ref",            "photo_id",
      "reject_reasons", "reject_note", "created_at", "version"};
  size_t i;

  ada_ready(w, NULL);
  TU_OK(w, tesoro_deal_create(w->t, w->agent, w->contact, "Search", &deal));
  TU_OK(w, tesoro_deal_create(w->t, w->agent, w->contact, "Second search",
                              &deal2));
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 10));
  dpA = offer_listing(w, deal, "House A");
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 20));
  dpB = offer_listing(w, deal, "House B");
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 30));
  dpC = offer_listing(w, deal2, "House C");
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 40));
  dpD = offer_listing(w, deal, "House D");
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 50));
  dpE = offer_listing(w, deal2, "House E");
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 60));
  dpF = offer_listing(w, deal, "House F");
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 70));
  dpG = offer_listing(w, deal2, "House G");
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 100));

  /* A, F, G to_review; B interesting; C rejected; D viewed; E approved */
  TU_OK(w, tesoro_deal_property_interested(w->t, w->client, dpB, 0));
  TU_OK(w, tesoro_deal_property_not_interested(w->t, w->client, dpC,
                                               TESORO_REJECT_PRICE,
                                               "Too dear", 0));
  TU_OK(w, tesoro_deal_property_interested(w->t, w->client, dpE, 0));
  TU_OK(w, tesoro_deal_property_approve(w->t, w->client, dpE, 0));
  a = request_at(w, w->client, dpD, D1);
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, a, D1, 0, 0));
  TU_OK(w, tesoro_clock_set(w->t, D1 - 600));
  TU_OK(w, tesoro_appointment_start_viewing(w->t, w->client, a, 0));
  assert_string_equal(state_of(w, dpD), "viewed");
  TU_OK(w, tesoro_deal_property_favourite(w->t, w->client, dpC, 1, 0));
  TU_OK(w, tesoro_deal_property_favourite(w->t, w->client, dpE, 1, 0));

  /* NEW: to_review only, newest first, across the deals */
  n = feed_ids(w, w->client, TESORO_FEED_NEW, ids, 16);
  {
    const int64_t want[] = {dpG, dpF, dpA};
    tu_assert_ids(ids, n, want, 3);
  }
  /* ALL: by status in the order of the feed, newest first within one */
  n = feed_ids(w, w->client, TESORO_FEED_ALL, ids, 16);
  {
    const int64_t want[] = {dpG, dpF, dpA, dpB, dpC, dpD, dpE};
    tu_assert_ids(ids, n, want, 7);
  }
  /* FAVOURITES */
  n = feed_ids(w, w->client, TESORO_FEED_FAVOURITES, ids, 16);
  {
    const int64_t want[] = {dpE, dpC};
    tu_assert_ids(ids, n, want, 2);
  }

  /* the columns, and the rejected one's reasons */
  TU_OK(w, tesoro_portal_properties(w->t, w->client, TESORO_FEED_ALL, &c));
  for (i = 0; i < sizeof cols / sizeof cols[0]; i++) {
    if (tesoro_cursor_index(c, cols[i]) < 0) {
      print_error("tesoro_portal_properties has no column \"%s\"\n", cols[i]);
      fail();
    }
  }
  while (tesoro_cursor_next(c) == TESORO_ROW) {
    int64_t id = tu_col_int(c, "id");
    if (id == dpC) {
      assert_int_equal(tu_col_int(c, "deal_id"), deal2);
      assert_string_equal(tu_col_text(c, "state"), "rejected");
      assert_int_equal(tu_col_int(c, "favourite"), 1);
      assert_string_equal(tu_col_text(c, "title"), "House C");
      assert_string_equal(tu_col_text(c, "reject_reasons"), "[\"price\"]");
      assert_string_equal(tu_col_text(c, "reject_note"), "Too dear");
      assert_int_equal(tu_col_int(c, "created_at"), TU_NOW + 30);
    } else if (id == dpA) {
      assert_int_equal(tu_col_int(c, "deal_id"), deal);
      assert_string_equal(tu_col_text(c, "state"), "to_review");
      assert_int_equal(tu_col_int(c, "favourite"), 0);
      assert_null(tu_col_text(c, "reject_reasons"));
      assert_null(tu_col_text(c, "reject_note"));
      assert_int_equal(tu_col_int(c, "created_at"), TU_NOW + 10);
    }
  }
  tesoro_cursor_free(c);
  c = NULL;

  /* a closed deal's properties are not listed */
  TU_OK(w, tesoro_deal_close(w->t, w->agent, deal2, "Enough of these", 0));
  n = feed_ids(w, w->client, TESORO_FEED_ALL, ids, 16);
  {
    const int64_t want[] = {dpF, dpA, dpB, dpD};
    tu_assert_ids(ids, n, want, 4);
  }
  n = feed_ids(w, w->client, TESORO_FEED_NEW, ids, 16);
  {
    const int64_t want[] = {dpF, dpA};
    tu_assert_ids(ids, n, want, 2);
  }
  n = feed_ids(w, w->client, TESORO_FEED_FAVOURITES, ids, 16);
  assert_int_equal(n, 0);

  /* Bob sees none of Ada's */
  bob_ready(w, NULL);
  n = feed_ids(w, w->client2, TESORO_FEED_ALL, ids, 16);
  assert_int_equal(n, 0);

  /* views */
  TU_ASSERT_REFUSED(w, tesoro_portal_properties(w->t, w->client, 0, &c),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_properties(w->t, w->client, 4, &c),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_properties(w->t, w->client, -1, &c),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_properties(w->t, w->client,
                                                TESORO_FEED_ALL, NULL),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_properties(w->t, w->agent,
                                                TESORO_FEED_ALL, &c),
                    TESORO_EDENIED, NULL);
  assert_null(c);
}

static void test_contact_agent(void **state) {
  tu_world *w = *state;
  int64_t deal = 0, dp, msg = 0, msg2 = 0, before, acc = 0;
  char *lng;

  ada_ready(w, &acc);
  TU_OK(w, tesoro_deal_create(w->t, w->agent, w->contact, "Search", &deal));
  dp = offer_listing(w, deal, "Question house");
  before = acts(w, w->contact);
  TU_OK(w, tesoro_portal_contact_agent(w->t, w->client, dp,
                                       "Is the garden south-facing?", &msg));
  assert_true(msg > 0);
  /* to the contact's assigned agent, on the crm and email channels */
  assert_int_equal(outbox_to(w, w->agent, "crm", T_CONTACT_AGENT), 1);
  assert_int_equal(outbox_to(w, w->agent, "email", T_CONTACT_AGENT), 1);
  assert_int_equal(tu_sqlf(w,
                           "SELECT count(*) FROM outbox_delivery WHERE template = '%s' "
                           "AND recipient_id <> %lld",
                           T_CONTACT_AGENT, (long long)w->agent),
                   0);
  /* kept on the contact's timeline */
  assert_int_equal(acts(w, w->contact), before + 1);
  TU_TEXT_IS(tu_row_text(w, "portal_message", msg, "body"),
             "Is the garden south-facing?");
  assert_int_equal(tu_sqlf(w,
                           "SELECT deal_property_id FROM portal_message WHERE "
                           "id = %lld",
                           (long long)msg),
                   dp);
  assert_int_equal(tu_sqlf(w,
                           "SELECT contact_id FROM portal_message WHERE id = "
                           "%lld",
                           (long long)msg),
                   w->contact);

  /* about no property in particular; out may be NULL; exactly the limit */
  lng = tu_long_string(TESORO_MAX_TEXT);
  TU_OK(w, tesoro_portal_contact_agent(w->t, w->client, 0, lng, &msg2));
  assert_true(msg2 > msg);
  assert_int_equal(tu_sqlf(w,
                           "SELECT deal_property_id IS NULL FROM "
                           "portal_message WHERE id = %lld",
                           (long long)msg2),
                   1);
  TU_OK(w, tesoro_portal_contact_agent(w->t, w->client, 0, "Call me", NULL));
  assert_int_equal(outbox_to(w, w->agent, "email", T_CONTACT_AGENT), 3);
  assert_int_equal(acts(w, w->contact), before + 3);
  free(lng);
  assert_true(tu_sqlf(w,
                      "SELECT count(*) FROM history WHERE entity = %d AND "
                      "entity_id = %lld AND event = 'contact_agent'",
                      ACCOUNT, (long long)acc) == 3);

  /* Bob's agent is Anna */
  bob_ready(w, NULL);
  TU_OK(w, tesoro_portal_contact_agent(w->t, w->client2, 0, "Hello Anna",
                                       NULL));
  assert_int_equal(outbox_to(w, w->agent2, "crm", T_CONTACT_AGENT), 1);
  assert_int_equal(outbox_to(w, w->agent2, "email", T_CONTACT_AGENT), 1);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_contact_agent_refusals(void **state) {
  tu_world *w = *state;
  int64_t deal = 0, bob_deal = 0, dp, bob_dp, msg = 0;
  char *lng;

  ada_ready(w, NULL);
  bob_ready(w, NULL);
  TU_OK(w, tesoro_deal_create(w->t, w->agent, w->contact, "Search", &deal));
  dp = offer_listing(w, deal, "Question house");
  TU_OK(w, tesoro_deal_create(w->t, w->agent2, w->contact2, "Bob's", &bob_deal));
  bob_dp = offer_listing(w, bob_deal, "Bob's house");

  lng = tu_long_string(TESORO_MAX_TEXT + 1);
  TU_ASSERT_REFUSED(w, tesoro_portal_contact_agent(w->t, w->client, dp, lng,
                                                   &msg),
                    TESORO_EINVAL, "longer");
  free(lng);
  TU_ASSERT_REFUSED(w, tesoro_portal_contact_agent(w->t, w->client, dp, "",
                                                   &msg),
                    TESORO_EINVAL, "required");
  TU_ASSERT_REFUSED(w, tesoro_portal_contact_agent(w->t, w->client, dp, NULL,
                                                   &msg),
                    TESORO_EINVAL, "required");
  TU_ASSERT_REFUSED(w, tesoro_portal_contact_agent(w->t, w->client, dp,
                                                   TU_BAD_UTF8, &msg),
                    TESORO_EINVAL, "UTF-8");
  /* a property offered to another client */
  TU_ASSERT_REFUSED(w, tesoro_portal_contact_agent(w->t, w->client, bob_dp,
                                                   "About Bob's house", &msg),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_contact_agent(w->t, w->client, 999999,
                                                   "About nothing", &msg),
                    TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_contact_agent(w->t, w->client, -1,
                                                   "About nothing", &msg),
                    TESORO_EINVAL, NULL);
  /* a client's call */
  TU_ASSERT_REFUSED(w, tesoro_portal_contact_agent(w->t, w->agent, dp,
                                                   "Staff speaking", &msg),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_portal_contact_agent(w->t, w->website, 0,
                                                   "Website speaking", &msg),
                    TESORO_EDENIED, NULL);
  assert_int_equal(tesoro_portal_contact_agent(NULL, w->client, dp, "x", &msg),
                   TESORO_EMISUSE);
  assert_int_equal(msg, 0);
}

/* ------------------------------------------------------------------------
** 10. The activity timeline.
*/

#define BUMPS(w, contact, call)                                               \
  do {                                                                        \
    int64_t b_ = acts((w), (contact));                                        \
    TU_OK(w, call);                                                           \
    if (acts((w), (contact)) <= b_) {                                         \
      print_error("%s:%d: %s left no activity on contact %lld\n", __FILE__,   \
                  __LINE__, #call, (long long)(contact));                     \
      fail();                                                                 \
    }                                                                         \
  } while (0)

static void test_activities_for_every_portal_action(void **state) {
  tu_world *w = *state;
  int64_t acc = 0, client = 0, deal = 0, dp, dp2, dp3, a = 0, at = D1;
  char *temp = NULL, code[7];
  int step = 0;
  tesoro_cursor *c = NULL;

  TU_OK(w, tesoro_deal_create(w->t, w->agent, w->contact, "Search", &deal));
  dp = offer_listing(w, deal, "Timeline house");
  dp2 = offer_listing(w, deal, "Timeline flat");
  dp3 = offer_listing(w, deal, "Timeline loft");

  BUMPS(w, w->contact, tesoro_portal_account_create(w->t, w->agent, w->contact,
                                                    &acc, &temp));
  TU_OK(w, tesoro_portal_login(w->t, w->website, ADA, temp, &client, &step));
  BUMPS(w, w->contact, tesoro_portal_password_change(w->t, w->client, temp,
                                                     PW1));
  tesoro_free(temp);
  BUMPS(w, w->contact, tesoro_portal_welcome_finish(w->t, w->client));
  BUMPS(w, w->contact, tesoro_portal_tour_skip(w->t, w->client));
  BUMPS(w, w->contact, tesoro_portal_tour_restart(w->t, w->client));
  BUMPS(w, w->contact, tesoro_portal_tour_finish(w->t, w->client));
  BUMPS(w, w->contact, tesoro_portal_set_language(w->t, w->client, "en"));
  BUMPS(w, w->contact, tesoro_deal_property_interested(w->t, w->client, dp, 0));
  BUMPS(w, w->contact, tesoro_deal_property_favourite(w->t, w->client, dp, 1,
                                                      0));
  BUMPS(w, w->contact, tesoro_deal_property_approve(w->t, w->client, dp, 0));
  BUMPS(w, w->contact, tesoro_deal_property_not_interested(
                           w->t, w->client, dp2, TESORO_REJECT_SIZE, NULL, 0));
  BUMPS(w, w->contact, tesoro_appointment_request(w->t, w->client, dp3, &at, 1,
                                                  &a));
  BUMPS(w, w->contact, tesoro_appointment_cancel(w->t, w->client, a, NULL, 0));
  BUMPS(w, w->contact, tesoro_portal_contact_agent(w->t, w->client, dp,
                                                   "When can I move in?",
                                                   NULL));
  assert_int_equal(acts_kind(w, w->contact, "portal_account_created"), 1);

  /* the self-registration route, on Bob's contact */
  register_ok(w, w->website, "Bob B.", BOB, PW_BOB, code);
  BUMPS(w, w->contact2, tesoro_portal_verify(w->t, w->website, BOB, code,
                                             &client));
  assert_int_equal(client, w->client2);

  /* readable by the agency's staff and the contact's own client */
  TU_OK(w, tesoro_activities(w->t, w->agent, w->contact, &c));
  assert_int_equal(tu_count(c), (int)acts(w, w->contact));
  c = NULL;
  TU_OK(w, tesoro_activities(w->t, w->agent2, w->contact, &c));
  assert_int_equal(tu_count(c), (int)acts(w, w->contact));
  c = NULL;
  TU_OK(w, tesoro_activities(w->t, w->admin, w->contact, &c));
  assert_int_equal(tu_count(c), (int)acts(w, w->contact));
  c = NULL;
  TU_OK(w, tesoro_activities(w->t, w->closings, w->contact, &c));
  tesoro_cursor_free(c);
  c = NULL;
  TU_OK(w, tesoro_activities(w->t, w->client, w->contact, &c));
  tesoro_cursor_free(c);
  c = NULL;
  /* nobody else */
  TU_ASSERT_REFUSED(w, tesoro_activities(w->t, w->client2, w->contact, &c),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_activities(w->t, w->other_client, w->contact, &c),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_activities(w->t, w->other_agent, w->contact, &c),
                    TESORO_EDENIED, NULL);
  assert_null(c);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* ------------------------------------------------------------------------
** 11. Tenancy.
*/

typedef struct ada_data {
  int64_t acc, deal, dp, dp2, a_pend, a_done;
} ada_data;

/* Ada ready, with a deal, two offers, a pending viewing and a completed,
   noted and rated one (the clock ends at D1 + 2 h). */
static void ada_with_data(tu_world *w, ada_data *d) {
  int64_t note = 0;
  memset(d, 0, sizeof *d);
  ada_ready(w, &d->acc);
  TU_OK(w, tesoro_deal_create(w->t, w->agent, w->contact, "Search", &d->deal));
  d->dp = offer_listing(w, d->deal, "Ada's house");
  d->dp2 = offer_listing(w, d->deal, "Ada's flat");
  d->a_pend = request_at(w, w->client, d->dp, D2);
  d->a_done = request_at(w, w->client, d->dp2, D1);
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, d->a_done, D1, 0, 0));
  TU_OK(w, tesoro_tick(w->t, D1 + 60, NULL));
  TU_OK(w, tesoro_clock_set(w->t, D1 + 2 * HOUR));
  TU_OK(w, tesoro_appointment_note_add(w->t, w->client, d->a_done,
                                       "Lovely light", &note));
  TU_OK(w, tesoro_appointment_rate(w->t, w->client, d->a_done, 4, 0));
  TU_OK(w, tesoro_deal_property_interested(w->t, w->client, d->dp, 0));
}

/* `attacker` tries every read and write on Ada's data. */
static void attack(tu_world *w, const ada_data *d, int64_t attacker,
                   const char *needle) {
  int64_t id = 0, at = D2 + DAY, ids[16];
  char *s = NULL;
  const char *st = NULL;
  tesoro_cursor *c = NULL;
  int n, list;

  TU_ASSERT_REFUSED(w, tesoro_deal_property_interested(w->t, attacker, d->dp2,
                                                       0),
                    TESORO_EDENIED, needle);
  TU_ASSERT_REFUSED(w, tesoro_deal_property_not_interested(
                           w->t, attacker, d->dp, TESORO_REJECT_PRICE, NULL, 0),
                    TESORO_EDENIED, needle);
  TU_ASSERT_REFUSED(w, tesoro_deal_property_approve(w->t, attacker, d->dp, 0),
                    TESORO_EDENIED, needle);
  TU_ASSERT_REFUSED(w, tesoro_deal_property_favourite(w->t, attacker, d->dp, 1,
                                                      0),
                    TESORO_EDENIED, needle);
  TU_ASSERT_REFUSED(w, tesoro_deal_properties(w->t, attacker, d->deal, &c),
                    TESORO_EDENIED, needle);
  TU_ASSERT_REFUSED(w, tesoro_appointment_request(w->t, attacker, d->dp, &at, 1,
                                                  &id),
                    TESORO_EDENIED, needle);
  TU_ASSERT_REFUSED(w, tesoro_appointment_cancel(w->t, attacker, d->a_pend,
                                                 NULL, 0),
                    TESORO_EDENIED, needle);
  TU_ASSERT_REFUSED(w, tesoro_appointment_note_add(w->t, attacker, d->a_done,
                                                   "Mine now", &id),
                    TESORO_EDENIED, needle);
  TU_ASSERT_REFUSED(w, tesoro_appointment_rate(w->t, attacker, d->a_done, 1, 0),
                    TESORO_EDENIED, needle);
  TU_ASSERT_REFUSED(w, tesoro_appointment_ics(w->t, attacker, d->a_pend, NULL,
                                              &s),
                    TESORO_EDENIED, needle);
  TU_ASSERT_REFUSED(w, tesoro_appointment_notes(w->t, attacker, d->a_done, &c),
                    TESORO_EDENIED, needle);
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, attacker, APPT, d->a_done,
                                           TESORO_DOC_PHOTO, "kitchen.jpg",
                                           "image/jpeg", tu_jpeg,
                                           (int64_t)tu_jpeg_size, &id),
                    TESORO_EDENIED, needle);
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, attacker, ACCOUNT, d->acc, &s),
                    TESORO_EDENIED, needle);
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, attacker, TESORO_ENTITY_DEAL,
                                          d->deal, &s),
                    TESORO_EDENIED, needle);
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, attacker,
                                          TESORO_ENTITY_DEAL_PROPERTY, d->dp,
                                          &s),
                    TESORO_EDENIED, needle);
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, attacker, APPT, d->a_done, &s),
                    TESORO_EDENIED, needle);
  TU_ASSERT_REFUSED(w, tesoro_entity_state(w->t, attacker, ACCOUNT, d->acc, &st,
                                           NULL),
                    TESORO_EDENIED, needle);
  TU_ASSERT_REFUSED(w, tesoro_history(w->t, attacker, ACCOUNT, d->acc, &c),
                    TESORO_EDENIED, needle);
  TU_ASSERT_REFUSED(w, tesoro_history(w->t, attacker, TESORO_ENTITY_DEAL,
                                      d->deal, &c),
                    TESORO_EDENIED, needle);
  TU_ASSERT_REFUSED(w, tesoro_history(w->t, attacker,
                                      TESORO_ENTITY_DEAL_PROPERTY, d->dp, &c),
                    TESORO_EDENIED, needle);
  TU_ASSERT_REFUSED(w, tesoro_history(w->t, attacker, APPT, d->a_pend, &c),
                    TESORO_EDENIED, needle);
  TU_ASSERT_REFUSED(w, tesoro_portal_contact_agent(w->t, attacker, d->dp,
                                                   "About Ada's house", &id),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_activities(w->t, attacker, w->contact, &c),
                    TESORO_EDENIED, NULL);
  assert_int_equal(id, 0);
  assert_null(s);
  assert_null(st);
  assert_null(c);

  /* the attacker's own lists show nothing of Ada's */
  n = feed_ids(w, attacker, TESORO_FEED_ALL, ids, 16);
  assert_false(tu_has_id(ids, n, d->dp) || tu_has_id(ids, n, d->dp2));
  for (list = TESORO_LIST_UPCOMING; list <= TESORO_LIST_UNCONFIRMED; list++) {
    int rc;
    TU_OK(w, tesoro_client_appointments(w->t, attacker, list, &c));
    while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
      int64_t a = tu_col_int(c, "id");
      assert_true(a != d->a_pend && a != d->a_done);
    }
    assert_int_equal(rc, TESORO_DONE);
    tesoro_cursor_free(c);
    c = NULL;
  }
  home(w, attacker, 0, 0, 0, 0);
}

static void test_tenancy_client_of_same_agency(void **state) {
  tu_world *w = *state;
  ada_data d;
  ada_with_data(w, &d);
  bob_ready(w, NULL);
  attack(w, &d, w->client2, "another client");
  /* staff of the agency do see it */
  {
    char *s = NULL;
    TU_OK(w, tesoro_entity_json(w->t, w->agent2, ACCOUNT, d.acc, &s));
    tesoro_free(s);
  }
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_tenancy_client_of_other_agency(void **state) {
  tu_world *w = *state;
  ada_data d;
  ada_with_data(w, &d);
  otto_ready(w, NULL);
  attack(w, &d, w->other_client, "another agency");
  /* and the other agency's staff */
  {
    int64_t acc = 0;
    char *s = NULL, *temp = NULL;
    TU_ASSERT_REFUSED(w, tesoro_contact_portal_account(w->t, w->other_agent,
                                                  w->contact, &acc),
                      TESORO_EDENIED, "another agency");
    TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, w->other_admin, ACCOUNT,
                                            d.acc, &s),
                      TESORO_EDENIED, "another agency");
    TU_ASSERT_REFUSED(w, tesoro_portal_account_create(w->t, w->other_admin,
                                                      w->contact2, &acc, &temp),
                      TESORO_EDENIED, "another agency");
    assert_null(s);
    assert_null(temp);
  }
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_other_website_cannot_reach_the_agencys_accounts(
    void **state) {
  tu_world *w = *state;
  int64_t acc = 0, client = 0, dora;
  int step = 0, rc, kind = 0;
  int64_t agency = 0, contact = 0;
  char code[7], code2[7], before[65], after[65];

  ada_ready(w, &acc);
  /* Ada's e-mail and password, through the other agency's website */
  TU_ASSERT_REFUSED(w, tesoro_portal_login(w->t, w->other_website, ADA, PW1,
                                           &client, &step),
                    TESORO_EDENIED, "wrong");
  assert_int_equal(client, 0);
  assert_int_equal(acct_int(w, acc, "failed_logins"), 0);
  assert_int_equal(acct_int(w, acc, "locked_until IS NULL"), 1);

  /* a pending registration of this agency: not verifiable from there */
  dora = register_ok(w, w->website, "Dora D.", "dora@example.com", "D0ra!pass",
                     code);
  tu_digest(w, before);
  rc = tesoro_portal_verify(w->t, w->other_website, "dora@example.com", code,
                            &client);
  tu_digest(w, after);
  assert_true(rc == TESORO_ENOTFOUND || rc == TESORO_EDENIED);
  assert_string_equal(before, after);
  assert_int_equal(client, 0);
  assert_acct_state(w, dora, "unverified");
  assert_int_equal(acct_int(w, dora, "code_attempts"), 0);

  /* registering Ada's e-mail there makes an account of the other agency,
     linked to a new lead there, never to Ada */
  register_ok(w, w->other_website, "Ada Elsewhere", ADA, "Ad4!other", code2);
  TU_OK(w, tesoro_portal_verify(w->t, w->other_website, ADA, code2, &client));
  assert_true(client != w->client);
  TU_OK(w, tesoro_actor_info(w->t, client, &kind, &agency, &contact));
  assert_int_equal(agency, w->other_agency);
  assert_true(contact != w->contact);
  assert_int_equal(tu_sqlf(w,
                           "SELECT count(*) FROM portal_account WHERE "
                           "contact_id = %lld",
                           (long long)w->contact),
                   1);
  /* and each website logs in its own agency's account */
  TU_OK(w, tesoro_portal_login(w->t, w->website, ADA, PW1, &client, &step));
  assert_int_equal(client, w->client);
  TU_OK(w, tesoro_portal_login(w->t, w->other_website, ADA, "Ad4!other",
                               &client, &step));
  assert_int_equal(contact_of(w, client), contact);
  /* and the right code still verifies Dora here */
  TU_OK(w, tesoro_portal_verify(w->t, w->website, "dora@example.com", code,
                                &client));
  assert_acct_state(w, dora, "welcome");
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* ------------------------------------------------------------------------
** 12. No secret in clear.
*/

static void test_no_secret_in_clear(void **state) {
  tu_world *w = *state;
  int64_t acc = 0, client = 0;
  char *temp = NULL, code1[7], code2[7], bad[7], wal[600];
  const char *secrets[16];
  int n = 0, step = 0, i;
  unsigned char *db, *wdb;
  size_t dbn = 0, wdbn = 0;

  /* route 1: invitation, first login, password set, then changed */
  acc = crm_account(w, w->agent, w->contact, &temp);
  secrets[n++] = temp;
  TU_OK(w, tesoro_portal_login(w->t, w->website, ADA, temp, &client, &step));
  TU_OK(w, tesoro_portal_password_change(w->t, w->client, temp, PW1));
  secrets[n++] = PW1;
  RECORDED_ANY(w, tesoro_portal_login(w->t, w->website, ADA, PW_WRONG, &client,
                                      &step),
               TESORO_EDENIED, "wrong");
  secrets[n++] = PW_WRONG;
  assert_msg_clean(w, PW_WRONG);
  TU_OK(w, tesoro_portal_password_change(w->t, w->client, PW1, PW2));
  secrets[n++] = PW2;
  REFUSED_ANY(w, tesoro_portal_password_change(w->t, w->client, PW2,
                                               "weakpassword"),
              TESORO_EINVAL, "upper|digit|special|lower");
  secrets[n++] = "weakpassword";
  assert_msg_clean(w, "weakpassword");
  assert_msg_clean(w, PW2);
  RECORDED_ANY(w, tesoro_portal_password_change(w->t, w->client, "N0t!current",
                                                "An0ther!one"),
               TESORO_EDENIED, "wrong|current");
  secrets[n++] = "N0t!current";
  secrets[n++] = "An0ther!one";
  assert_msg_clean(w, "N0t!current");
  assert_msg_clean(w, "An0ther!one");

  /* route 2: registered twice, a wrong code, verified */
  register_ok(w, w->website, "Carol Client", "carol@example.com",
              "Reg!st3rOne", code1);
  secrets[n++] = "Reg!st3rOne";
  secrets[n++] = code1;
  do {
    register_ok(w, w->website, "Carol Client", "carol@example.com",
                "Reg!st3rTwo", code2);
  } while (strcmp(code1, code2) == 0);
  secrets[n++] = "Reg!st3rTwo";
  secrets[n++] = code2;
  wrong_code(code2, bad);
  RECORDED_ANY(w, tesoro_portal_verify(w->t, w->website, "carol@example.com",
                                       bad, &client),
               TESORO_EDENIED, "code");
  assert_msg_clean(w, bad);
  assert_msg_clean(w, code2);
  secrets[n++] = bad;
  TU_OK(w, tesoro_portal_verify(w->t, w->website, "carol@example.com", code2,
                                &client));
  RECORDED_ANY(w, tesoro_portal_login(w->t, w->website, "carol@example.com",
                                      "Reg!st3rOne", &client, &step),
               TESORO_EDENIED, "wrong");
  assert_msg_clean(w, "Reg!st3rOne");
  assert_int_equal(acct_int(w, acc, "password_hash LIKE '$argon2id$%'"), 1);

  /* everything in the file, and in its WAL */
  (void)tu_sql_exec(w, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, 0);
  db = tu_read_file(w->path, &dbn);
  assert_non_null(db);
  assert_true(dbn > 0);
  snprintf(wal, sizeof wal, "%s-wal", w->path);
  wdb = tu_read_file(wal, &wdbn);
  /* positive control: the scan does find what is stored in clear */
  assert_true(tu_has_bytes(db, dbn, "carol@example.com") ||
              (wdb && tu_has_bytes(wdb, wdbn, "carol@example.com")));
  for (i = 0; i < n; i++) {
    if (tu_has_bytes(db, dbn, secrets[i]) ||
        (wdb && tu_has_bytes(wdb, wdbn, secrets[i]))) {
      print_error("secret #%d \"%s\" is in the database file in clear\n", i,
                  secrets[i]);
      fail();
    }
  }
  /* nor in any text the host reads back */
  {
    char *texts = tu_sql_text(
        w, "SELECT group_concat(x, char(10)) FROM (SELECT payload AS x FROM "
           "outbox UNION ALL SELECT summary FROM timeline UNION ALL SELECT "
           "coalesce(details, '') FROM history UNION ALL SELECT "
           "coalesce(last_error, '') FROM outbox_delivery)");
    assert_non_null(texts);
    for (i = 0; i < n; i++) assert_null(strstr(texts, secrets[i]));
    free(texts);
  }
  free(db);
  free(wdb);
  tesoro_free(temp);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

/* ------------------------------------------------------------------------
** 13. Staff view of an account.
*/

static void test_account_of_and_its_json(void **state) {
  tu_world *w = *state;
  int64_t acc, found = 0;
  char *temp = NULL, *json = NULL;

  TU_ASSERT_REFUSED(w, tesoro_contact_portal_account(w->t, w->agent, w->contact,
                                                &found),
                    TESORO_ENOTFOUND, NULL);
  acc = crm_account(w, w->agent, w->contact, &temp);
  tesoro_free(temp);
  TU_OK(w, tesoro_contact_portal_account(w->t, w->agent, w->contact, &found));
  assert_int_equal(found, acc);
  found = 0;
  TU_OK(w, tesoro_contact_portal_account(w->t, w->admin, w->contact, &found));
  assert_int_equal(found, acc);
  found = 0;
  TU_OK(w, tesoro_contact_portal_account(w->t, w->agent2, w->contact, &found));
  assert_int_equal(found, acc);
  found = 0;
  TU_ASSERT_REFUSED(w, tesoro_contact_portal_account(w->t, w->agent, w->contact2,
                                                &found),
                    TESORO_ENOTFOUND, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_portal_account(w->t, w->client, w->contact,
                                                &found),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_portal_account(w->t, w->website, w->contact,
                                                &found),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_portal_account(w->t, w->other_agent,
                                                w->contact, &found),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_portal_account(w->t, w->agent, w->contact,
                                                NULL),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_portal_account(w->t, w->agent, 0, &found),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_contact_portal_account(w->t, w->agent, 999999,
                                                &found),
                    TESORO_ENOTFOUND, NULL);
  assert_int_equal(found, 0);

  TU_OK(w, tesoro_entity_json(w->t, w->agent, ACCOUNT, acc, &json));
  assert_non_null(json);
  /* what staff see of the account, and never its password hash */
  TU_HAS_ALL_CI(json, "\"email\"", "\"state\"", ADA, "set_password",
                "language", "last_login", "lock");
  assert_false(tu_contains_ci(json, "argon2"));
  assert_false(tu_contains_ci(json, "hash"));
  tesoro_free(json);
  json = NULL;
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, w->client2, ACCOUNT, acc,
                                          &json),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, w->other_agent, ACCOUNT, acc,
                                          &json),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, w->agent, ACCOUNT, 999999,
                                          &json),
                    TESORO_ENOTFOUND, NULL);
  assert_null(json);
  assert_int_equal(tesoro_check(w->t), TESORO_OK);
}

static void test_account_json_after_verification_has_no_hash(void **state) {
  tu_world *w = *state;
  char code[7], *json = NULL;
  int64_t acc, client = 0, found = 0;

  acc = register_ok(w, w->website, "Carol Client", "carol@example.com",
                    "Car0l!pass", code);
  TU_OK(w, tesoro_entity_json(w->t, w->agent, ACCOUNT, acc, &json));
  assert_true(tu_contains_ci(json, "unverified"));
  assert_false(tu_contains_ci(json, "argon2"));
  assert_false(tu_contains_ci(json, "hash"));
  assert_false(tu_contains_ci(json, code));
  tesoro_free(json);
  json = NULL;
  TU_OK(w, tesoro_portal_verify(w->t, w->website, "carol@example.com", code,
                                &client));
  TU_OK(w, tesoro_contact_portal_account(w->t, w->agent, contact_of(w, client),
                                    &found));
  assert_int_equal(found, acc);
  TU_OK(w, tesoro_entity_json(w->t, w->agent, ACCOUNT, acc, &json));
  assert_true(tu_contains_ci(json, "welcome"));
  assert_false(tu_contains_ci(json, "argon2"));
  assert_false(tu_contains_ci(json, "hash"));
  tesoro_free(json);
}

/* ------------------------------------------------------------------------
** 14. Property details (seed 004: photos, features, description, map,
** energy label) for the client it was offered to.
*/

/* The mandate expiry of `listing`, as stored. */
static int64_t mandate_end(tu_world *w, int64_t listing) {
  return tu_sqlf(w, "SELECT m.validated_at + m.duration_days * 86400 FROM "
                    "listing l JOIN mandate m ON m.id = l.mandate_id WHERE "
                    "l.id = %lld", (long long)listing);
}

static int64_t listing_of(tu_world *w, int64_t dp) {
  return tu_sqlf(w, "SELECT listing_id FROM deal_property WHERE id = %lld",
                 (long long)dp);
}

static void test_property_details_for_the_offered_client(void **state) {
  tu_world *w = *state;
  int64_t deal = 0, dp, listing, photo, pdf = 0, version = 0;
  char *json = NULL, *same = NULL, want[64];
  void *data = NULL;
  int64_t size = 0;
  tesoro_cursor *c = NULL;
  ada_ready(w, NULL);
  dp = offered_property(w, &deal);
  listing = listing_of(w, dp);
  TU_OK(w, tesoro_entity_state(w->t, w->agent, TESORO_ENTITY_LISTING, listing,
                               NULL, &version));
  TU_OK(w, tesoro_listing_update(
               w->t, w->agent, listing,
               "{\"property_type\":\"house\",\"bedrooms\":3,\"bathrooms\":2,"
               "\"floor_area\":120,\"description\":\"Light all day\","
               "\"energy_label\":\"A++\",\"latitude\":52.09,\"longitude\":5.12}",
               version));
  photo = tu_listing_photo(w, w->agent, listing);
  TU_OK(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_LISTING, listing,
                               TESORO_DOC_PROPERTY_DOCUMENT, "survey.pdf",
                               "application/pdf", tu_pdf, (int64_t)tu_pdf_size,
                               &pdf));
  TU_OK(w, tesoro_deal_property_favourite(w->t, w->client, dp, 1, 0));

  TU_OK(w, tesoro_portal_property(w->t, w->client, listing, &json));
  static const char *const parts[] = {
      "\"title\":\"Feed house\"", "\"address\":\"Feedstraat 1, Utrecht\"",
      "\"price\":42500000", "\"property_type\":\"house\"", "\"bedrooms\":3",
      "\"bathrooms\":2", "\"floor_area\":120",
      "\"description\":\"Light all day\"", "\"energy_label\":\"A++\"",
      "\"latitude\":52.09", "\"longitude\":5.12", "\"ref\":\"TES-",
      "\"status\":\"to_review\"", "\"favourite\":true", "\"in_feed\":true",
      "\"reject_reasons\":null"};
  for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
    if (strstr(json, parts[i]) == NULL) {
      print_error("%s lacks %s\n", json, parts[i]);
      fail();
    }
  }
  snprintf(want, sizeof want, "\"photos\":[{\"id\":%lld,", (long long)photo);
  assert_non_null(strstr(json, want));
  assert_null(strstr(json, "survey.pdf")); /* only photos */
  snprintf(want, sizeof want, "\"deal_property_id\":%lld", (long long)dp);
  assert_non_null(strstr(json, want));
  /* tesoro_entity_json gives the buyer the same object */
  TU_OK(w, tesoro_entity_json(w->t, w->client, TESORO_ENTITY_LISTING, listing,
                              &same));
  assert_string_equal(json, same);
  tesoro_free(json);
  tesoro_free(same);

  /* the photo is readable and listed; the survey is neither */
  TU_OK(w, tesoro_document_read(w->t, w->client, photo, &data, &size));
  assert_int_equal(size, (int64_t)tu_jpeg_size);
  assert_memory_equal(data, tu_jpeg, tu_jpeg_size);
  tesoro_free(data);
  TU_ASSERT_REFUSED(w, tesoro_document_read(w->t, w->client, pdf, &data, &size),
                    TESORO_EDENIED, "not a photo");
  TU_OK(w, tesoro_documents(w->t, w->client, TESORO_ENTITY_LISTING, listing, &c));
  assert_int_equal(tesoro_cursor_next(c), TESORO_ROW);
  assert_int_equal(tu_col_int(c, "id"), photo);
  assert_int_equal(tesoro_cursor_next(c), TESORO_DONE);
  tesoro_cursor_free(c);
  /* staff still see both */
  TU_OK(w, tesoro_documents(w->t, w->agent, TESORO_ENTITY_LISTING, listing, &c));
  assert_int_equal(tu_count(c), 2);
}

static void test_property_details_refusals(void **state) {
  tu_world *w = *state;
  int64_t deal = 0, dp, listing, photo, other, deal_version = 0;
  char *json = NULL;
  void *data = NULL;
  int64_t size = 0;
  tesoro_cursor *c = NULL;
  ada_ready(w, NULL);
  bob_ready(w, NULL);
  otto_ready(w, NULL);
  dp = offered_property(w, &deal);
  listing = listing_of(w, dp);
  photo = tu_listing_photo(w, w->agent, listing);
  other = tu_published_listing_other(w, "Elsewhere", "High St 1", 30000000);

  /* Bob's feed does not hold it: the message says so */
  TU_ASSERT_REFUSED(w, tesoro_portal_property(w->t, w->client2, listing, &json),
                    TESORO_EDENIED, "not in the property feed");
  TU_ASSERT_REFUSED(w, tesoro_entity_json(w->t, w->client2,
                                          TESORO_ENTITY_LISTING, listing, &json),
                    TESORO_EDENIED, "not in the property feed");
  TU_ASSERT_REFUSED(w, tesoro_document_read(w->t, w->client2, photo, &data,
                                            &size),
                    TESORO_EDENIED, "not in the property feed");
  TU_ASSERT_REFUSED(w, tesoro_documents(w->t, w->client2, TESORO_ENTITY_LISTING,
                                        listing, &c),
                    TESORO_EDENIED, "not in the property feed");
  /* another agency's client, another agency's listing */
  TU_ASSERT_REFUSED(w, tesoro_portal_property(w->t, w->other_client, listing,
                                              &json),
                    TESORO_EDENIED, "another agency");
  TU_ASSERT_REFUSED(w, tesoro_portal_property(w->t, w->client, other, &json),
                    TESORO_EDENIED, "another agency");
  /* not a client; no such listing; bad arguments */
  TU_ASSERT_REFUSED(w, tesoro_portal_property(w->t, w->agent, listing, &json),
                    TESORO_EDENIED, "client");
  TU_ASSERT_REFUSED(w, tesoro_portal_property(w->t, w->website, listing, &json),
                    TESORO_EDENIED, "client");
  TU_ASSERT_REFUSED(w, tesoro_portal_property(w->t, w->client, 999999, &json),
                    TESORO_ENOTFOUND, "listing 999999");
  TU_ASSERT_REFUSED(w, tesoro_portal_property(w->t, w->client, 0, &json),
                    TESORO_EINVAL, "listing");
  TU_ASSERT_REFUSED(w, tesoro_portal_property(w->t, w->client, -4, &json),
                    TESORO_EINVAL, "listing");
  TU_ASSERT_REFUSED(w, tesoro_portal_property(w->t, w->client, listing, NULL),
                    TESORO_EINVAL, "out_json");
  assert_int_equal(tesoro_portal_property(NULL, w->client, listing, &json),
                   TESORO_EMISUSE);
  TU_ASSERT_REFUSED(w, tesoro_portal_property(w->t, 424242, listing, &json),
                    TESORO_ENOTFOUND, "actor");
  /* the portal switched off */
  TU_OK(w, tesoro_agency_set_portal(w->t, w->admin, 0));
  TU_ASSERT_REFUSED(w, tesoro_portal_property(w->t, w->client, listing, &json),
                    TESORO_EDENIED, "portal");
  TU_OK(w, tesoro_agency_set_portal(w->t, w->admin, 1));

  /* the deal closed and no viewing: gone; with a viewing: readable */
  TU_OK(w, tesoro_entity_state(w->t, w->agent, TESORO_ENTITY_DEAL, deal, NULL,
                               &deal_version));
  {
    int64_t at = TU_NOW + 3 * 86400, appt = 0;
    TU_OK(w, tesoro_appointment_request(w->t, w->client, dp, &at, 1, &appt));
  }
  TU_OK(w, tesoro_entity_state(w->t, w->agent, TESORO_ENTITY_DEAL, deal, NULL,
                               &deal_version));
  TU_OK(w, tesoro_deal_close(w->t, w->agent, deal, "Bought elsewhere",
                             deal_version));
  TU_OK(w, tesoro_portal_property(w->t, w->client, listing, &json));
  assert_non_null(strstr(json, "\"in_feed\":false"));
  tesoro_free(json);
  {
    int64_t deal2 = 0, dp2 = 0, l2;
    TU_OK(w, tesoro_deal_create(w->t, w->agent, w->contact, "Again", &deal2));
    l2 = tu_published_listing(w, "Second", "Tweede 2, Utrecht", 31000000);
    TU_OK(w, tesoro_deal_offer(w->t, w->agent, deal2, l2, &dp2));
    TU_OK(w, tesoro_entity_state(w->t, w->agent, TESORO_ENTITY_DEAL, deal2,
                                 NULL, &deal_version));
    TU_OK(w, tesoro_deal_close(w->t, w->agent, deal2, "Paused", deal_version));
    TU_ASSERT_REFUSED(w, tesoro_portal_property(w->t, w->client, l2, &json),
                      TESORO_EDENIED, "not in the property feed");
  }
}

static void test_energy_label_is_a_label(void **state) {
  tu_world *w = *state;
  int64_t listing = tu_published_listing(w, "Label", "Labelweg 1", 20000000);
  int64_t version = 0;
  static const char *const good[] = {"A++++", "A+++", "A++", "A+", "A", "B",
                                     "C", "D", "E", "F", "G"};
  static const char *const bad[] = {"H", "a", "A+++++", "", "A ", "AA", "B+",
                                    "energy A", "A-", "\xC3\x28"};
  char json[96];
  for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
    TU_OK(w, tesoro_entity_state(w->t, w->agent, TESORO_ENTITY_LISTING,
                                 listing, NULL, &version));
    snprintf(json, sizeof json, "{\"energy_label\":\"%s\"}", good[i]);
    TU_OK(w, tesoro_listing_update(w->t, w->agent, listing, json, version));
    char *stored = tu_sqlf_text(w, "SELECT energy_label FROM listing WHERE "
                                   "id = %lld", (long long)listing);
    assert_string_equal(stored, good[i]);
    free(stored);
  }
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    TU_OK(w, tesoro_entity_state(w->t, w->agent, TESORO_ENTITY_LISTING,
                                 listing, NULL, &version));
    snprintf(json, sizeof json, "{\"energy_label\":\"%s\"}", bad[i]);
    TU_ASSERT_REFUSED(w, tesoro_listing_update(w->t, w->agent, listing, json,
                                               version),
                      TESORO_EINVAL, i == sizeof bad / sizeof *bad - 1
                                         ? NULL : "energy label");
  }
}

/* ------------------------------------------------------------------------
** 15. No rule waits for tesoro_tick: a listing whose mandate expired leaves
** the feed at once.
*/
static void test_expired_mandate_withdraws_the_listing_without_a_tick(
    void **state) {
  tu_world *w = *state;
  int64_t deal = 0, dp, listing, end, at, appt = 0, ids[4], deal2 = 0, dp2 = 0;
  char *json = NULL;
  ada_ready(w, NULL);
  dp = offered_property(w, &deal);
  listing = listing_of(w, dp);
  end = mandate_end(w, listing);
  TU_OK(w, tesoro_deal_create(w->t, w->agent, w->contact2, "Bob's", &deal2));

  /* a second before expiry: on offer everywhere */
  TU_OK(w, tesoro_clock_set(w->t, end - 1));
  assert_int_equal(feed_ids(w, w->client, TESORO_FEED_NEW, ids, 4), 1);
  assert_int_equal(feed_ids(w, w->client, TESORO_FEED_ALL, ids, 4), 1);
  home(w, w->client, 0, 0, 1, 0);
  TU_OK(w, tesoro_portal_property(w->t, w->client, listing, &json));
  tesoro_free(json);

  /* at expiry, with no tick: gone from the feed, the count, the details;
     not requestable, not offerable */
  TU_OK(w, tesoro_clock_set(w->t, end));
  assert_int_equal(feed_ids(w, w->client, TESORO_FEED_NEW, ids, 4), 0);
  assert_int_equal(feed_ids(w, w->client, TESORO_FEED_ALL, ids, 4), 0);
  assert_int_equal(feed_ids(w, w->client, TESORO_FEED_FAVOURITES, ids, 4), 0);
  home(w, w->client, 0, 0, 0, 0);
  TU_ASSERT_REFUSED(w, tesoro_portal_property(w->t, w->client, listing, &json),
                    TESORO_EDENIED, "not in the property feed");
  at = end + 86400;
  TU_ASSERT_REFUSED(w, tesoro_appointment_request(w->t, w->client, dp, &at, 1,
                                                  &appt),
                    TESORO_EGUARD, "no longer on offer");
  TU_ASSERT_REFUSED(w, tesoro_deal_offer(w->t, w->agent, deal2, listing, &dp2),
                    TESORO_EGUARD, "expired");
  /* the listing's own state still says published: the tick records it */
  assert_int_equal(tu_sqlf(w, "SELECT state = 'published' FROM listing WHERE "
                              "id = %lld", (long long)listing), 1);
}

/* ------------------------------------------------------------------------
** 16. Sessions.
*/

static char *open_session(tu_world *w, const char *email, const char *pw) {
  char *token = NULL;
  int64_t client = 0;
  int step = 0;
  TU_OK(w, tesoro_portal_session_open(w->t, w->website, email, pw, &token,
                                      &client, &step));
  assert_non_null(token);
  assert_int_equal((int)strlen(token), TESORO_PORTAL_TOKEN_LEN);
  return token;
}

static void assert_session_ended(tu_world *w, const char *token) {
  int64_t client = -1;
  TU_ASSERT_ERR(w, tesoro_portal_session_client(w->t, w->website, token,
                                                &client),
                TESORO_EDENIED, "session has ended");
  assert_int_equal(client, -1);
}

static int64_t session_client(tu_world *w, const char *token) {
  int64_t client = 0;
  TU_OK(w, tesoro_portal_session_client(w->t, w->website, token, &client));
  return client;
}

static void test_session_open_use_and_end(void **state) {
  tu_world *w = *state;
  char *token, *other, *bad;
  int64_t client = 0;
  int step = 0;
  ada_ready(w, NULL);
  TU_OK(w, tesoro_portal_session_open(w->t, w->website, ADA, PW1, &token,
                                      &client, &step));
  assert_int_equal(client, w->client);
  assert_int_equal(step, TESORO_PORTAL_READY);
  assert_int_equal((int)strlen(token), TESORO_PORTAL_TOKEN_LEN);
  assert_int_equal((int)strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
                                      "opqrstuvwxyz0123456789-_"),
                   TESORO_PORTAL_TOKEN_LEN);
  assert_int_equal(session_client(w, token), w->client);
  /* a second session is another token; only hashes are stored */
  other = open_session(w, ADA, PW1);
  assert_string_not_equal(token, other);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM portal_session WHERE "
                              "length(token_hash) = 32"), 2);
  /* logout ends that one only; ending it again is fine */
  TU_OK(w, tesoro_portal_session_end(w->t, w->website, token));
  assert_session_ended(w, token);
  TU_OK(w, tesoro_portal_session_end(w->t, w->website, token));
  assert_int_equal(session_client(w, other), w->client);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM history WHERE event = "
                              "'logout'"), 1);
  /* idle: 30 minutes without use end it; a use moves that on */
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 1700));
  assert_int_equal(session_client(w, other), w->client);
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 1700 + 1799));
  assert_int_equal(session_client(w, other), w->client);
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 1700 + 1799 + 1800));
  assert_session_ended(w, other);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM portal_session"), 0);
  /* the absolute end, however used (settings of the handle) */
  TU_OK(w, tesoro_config(w->t, TESORO_CONFIG_SESSION_MAX_S, 3600));
  TU_OK(w, tesoro_config(w->t, TESORO_CONFIG_SESSION_IDLE_S, 1800));
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 10000));
  tesoro_free(token);
  token = open_session(w, ADA, PW1);
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 11700));
  assert_int_equal(session_client(w, token), w->client);
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 13400));
  assert_int_equal(session_client(w, token), w->client);
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 13599));
  assert_int_equal(session_client(w, token), w->client);
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 13600));
  assert_session_ended(w, token);

  /* refusals */
  tesoro_free(token);
  token = open_session(w, ADA, PW1);
  bad = tu_long_string(TESORO_PORTAL_TOKEN_LEN);
  TU_ASSERT_REFUSED(w, tesoro_portal_session_client(w->t, w->website, bad,
                                                    &client),
                    TESORO_EDENIED, "session has ended");
  bad[3] = '!';
  TU_ASSERT_REFUSED(w, tesoro_portal_session_client(w->t, w->website, bad,
                                                    &client),
                    TESORO_EINVAL, "base64url");
  free(bad);
  TU_ASSERT_REFUSED(w, tesoro_portal_session_client(w->t, w->website, "short",
                                                    &client),
                    TESORO_EINVAL, "base64url");
  TU_ASSERT_REFUSED(w, tesoro_portal_session_client(w->t, w->website, "",
                                                    &client),
                    TESORO_EINVAL, "token");
  TU_ASSERT_REFUSED(w, tesoro_portal_session_client(w->t, w->website, NULL,
                                                    &client),
                    TESORO_EINVAL, "token");
  TU_ASSERT_REFUSED(w, tesoro_portal_session_client(w->t, w->website,
                                                    TU_BAD_UTF8, &client),
                    TESORO_EINVAL, "token");
  TU_ASSERT_REFUSED(w, tesoro_portal_session_client(w->t, w->website, token,
                                                    NULL),
                    TESORO_EINVAL, "out_client");
  TU_ASSERT_REFUSED(w, tesoro_portal_session_client(w->t, w->other_website,
                                                    token, &client),
                    TESORO_EDENIED, "session has ended");
  TU_ASSERT_REFUSED(w, tesoro_portal_session_client(w->t, w->agent, token,
                                                    &client),
                    TESORO_EDENIED, "website");
  TU_ASSERT_REFUSED(w, tesoro_portal_session_client(w->t, w->client, token,
                                                    &client),
                    TESORO_EDENIED, "website");
  TU_ASSERT_REFUSED(w, tesoro_portal_session_end(w->t, w->agent, token),
                    TESORO_EDENIED, "website");
  TU_OK(w, tesoro_portal_session_end(w->t, w->other_website, token));
  assert_int_equal(session_client(w, token), w->client); /* not theirs */
  {
    char *none = NULL;
    TU_ASSERT_ERR(w, tesoro_portal_session_open(w->t, w->website, ADA, PW_WRONG,
                                                &none, &client, &step),
                  TESORO_EDENIED, "wrong");
    assert_null(none);
    TU_ASSERT_REFUSED(w, tesoro_portal_session_open(w->t, w->website, ADA, PW1,
                                                    NULL, &client, &step),
                      TESORO_EINVAL, "out_token");
  }
  assert_int_equal(tesoro_portal_session_client(NULL, w->website, token,
                                                &client),
                   TESORO_EMISUSE);
  tesoro_free(token);
  tesoro_free(other);
}

static void test_every_session_ends_with_the_account_changes(void **state) {
  tu_world *w = *state;
  char *t1, *t2, *secret = NULL, *temp = NULL;
  int64_t acc = 0;
  ada_ready(w, &acc);
  /* a password change ends every session */
  t1 = open_session(w, ADA, PW1);
  t2 = open_session(w, ADA, PW1);
  TU_OK(w, tesoro_portal_password_change(w->t, w->client, PW1, PW2));
  assert_session_ended(w, t1);
  assert_session_ended(w, t2);
  tesoro_free(t1);
  tesoro_free(t2);
  /* an invitation resend */
  t1 = open_session(w, ADA, PW2);
  TU_OK(w, tesoro_portal_invitation_resend(w->t, w->agent, w->contact, &temp));
  assert_session_ended(w, t1);
  tesoro_free(t1);
  TU_OK(w, tesoro_portal_password_change(w->t, w->client, temp, PW1));
  tesoro_free(temp);
  /* a reset */
  t1 = open_session(w, ADA, PW1);
  TU_OK(w, tesoro_portal_reset_request(w->t, w->website, ADA));
  secret = tu_sql_text(w, "SELECT json_extract(payload, '$.secret') FROM "
                          "outbox WHERE template = 'Portal Password Reset'");
  assert_non_null(secret);
  TU_OK(w, tesoro_portal_reset(w->t, w->website, ADA, secret, PW2, NULL));
  assert_session_ended(w, t1);
  tesoro_free(t1);
  free(secret);
  /* the portal switched off, and on again */
  t1 = open_session(w, ADA, PW2);
  TU_OK(w, tesoro_agency_set_portal(w->t, w->admin, 0));
  TU_OK(w, tesoro_agency_set_portal(w->t, w->admin, 1));
  assert_session_ended(w, t1);
  tesoro_free(t1);
  /* a deactivation */
  t1 = open_session(w, ADA, PW2);
  TU_OK(w, tesoro_portal_account_deactivate(w->t, w->agent, w->contact));
  assert_session_ended(w, t1);
  tesoro_free(t1);
  TU_OK(w, tesoro_portal_invitation_resend(w->t, w->agent, w->contact, &temp));
  TU_OK(w, tesoro_portal_password_change(w->t, w->client, temp, PW1));
  tesoro_free(temp);
  /* the contact's erasure */
  t1 = open_session(w, ADA, PW1);
  TU_OK(w, tesoro_contact_erase(w->t, w->admin, w->contact, "Asked to be "
                                "forgotten"));
  assert_session_ended(w, t1);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM portal_session"), 0);
  tesoro_free(t1);
}

/* ------------------------------------------------------------------------
** 17. Password reset, invitation resend, deactivation.
*/

/* The secret of the newest reset e-mail, as the host fetches it. */
static char *reset_secret(tu_world *w) {
  tesoro_cursor *c = NULL;
  char *secret = NULL;
  TU_OK(w, tesoro_outbox_fetch(w->t, w->agency, 10000, &c));
  while (tesoro_cursor_next(c) == TESORO_ROW) {
    if (strcmp(tu_col_text(c, "template"), "Portal Password Reset") != 0)
      continue;
    const char *p = strstr(tu_col_text(c, "payload"), "\"secret\":\"");
    assert_non_null(p);
    free(secret);
    secret = strndup(p + 10, TESORO_PORTAL_RESET_LEN);
    assert_string_equal(tu_col_text(c, "channel"), "email");
    assert_int_equal(tu_col_int(c, "recipient_id"), w->client);
  }
  tesoro_cursor_free(c);
  assert_non_null(secret);
  assert_int_equal((int)strlen(secret), TESORO_PORTAL_RESET_LEN);
  return secret;
}

static void test_password_reset(void **state) {
  tu_world *w = *state;
  char *secret, *older, wrong[TESORO_PORTAL_RESET_LEN + 1];
  int64_t acc = 0, client = 0;
  int step = 0;
  ada_ready(w, &acc);
  TU_OK(w, tesoro_portal_reset_request(w->t, w->website, ADA));
  secret = reset_secret(w);
  assert_int_equal(acct_int(w, acc, "reset_hash LIKE '$argon2id$%'"), 1);
  /* a wrong secret counts; a weak password is refused before anything */
  snprintf(wrong, sizeof wrong, "%s", secret);
  wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
  RECORDED_ANY(w, tesoro_portal_reset(w->t, w->website, ADA, wrong, PW2,
                                      &client),
               TESORO_EDENIED, "wrong or has expired");
  assert_int_equal(acct_int(w, acc, "reset_attempts"), 1);
  TU_ASSERT_REFUSED(w, tesoro_portal_reset(w->t, w->website, ADA, secret,
                                           "weakpassword", &client),
                    TESORO_EINVAL, "upper");
  /* the right one: a new password, used up */
  TU_OK(w, tesoro_portal_reset(w->t, w->website, ADA, secret, PW2, &client));
  assert_int_equal(client, w->client);
  TU_ASSERT_ERR(w, tesoro_portal_login(w->t, w->website, ADA, PW1, &client,
                                       &step),
                TESORO_EDENIED, "wrong");
  TU_OK(w, tesoro_portal_login(w->t, w->website, ADA, PW2, &client, &step));
  TU_ASSERT_REFUSED(w, tesoro_portal_reset(w->t, w->website, ADA, secret, PW1,
                                           &client),
                    TESORO_EDENIED, "wrong or has expired");
  assert_int_equal(acct_int(w, acc, "reset_hash IS NULL"), 1);
  free(secret);
  /* it expires after TESORO_PORTAL_RESET_TTL_S */
  TU_OK(w, tesoro_portal_reset_request(w->t, w->website, ADA));
  secret = reset_secret(w);
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + TESORO_PORTAL_RESET_TTL_S));
  TU_ASSERT_REFUSED(w, tesoro_portal_reset(w->t, w->website, ADA, secret, PW1,
                                           &client),
                    TESORO_EDENIED, "wrong or has expired");
  free(secret);
  /* a new request revokes the older secret; five wrong tries use it up */
  TU_OK(w, tesoro_portal_reset_request(w->t, w->website, ADA));
  older = reset_secret(w);
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + TESORO_PORTAL_RESET_TTL_S + 10));
  TU_OK(w, tesoro_portal_reset_request(w->t, w->website, ADA));
  secret = reset_secret(w);
  assert_string_not_equal(older, secret);
  TU_ASSERT_ERR(w, tesoro_portal_reset(w->t, w->website, ADA, older, PW1,
                                       &client),
                TESORO_EDENIED, "wrong or has expired");
  for (int i = 1; i < TESORO_PORTAL_RESET_MAX_TRIES; i++)
    TU_ASSERT_ERR(w, tesoro_portal_reset(w->t, w->website, ADA, wrong, PW1,
                                         &client),
                  TESORO_EDENIED, "wrong or has expired");
  TU_ASSERT_REFUSED(w, tesoro_portal_reset(w->t, w->website, ADA, secret, PW1,
                                           &client),
                    TESORO_EDENIED, "wrong or has expired");
  free(older);
  free(secret);
  /* a reset lifts a lockout */
  for (int i = 0; i < TESORO_PORTAL_LOGIN_MAX_FAILS; i++)
    TU_ASSERT_ERR(w, tesoro_portal_login(w->t, w->website, ADA, PW_WRONG,
                                         &client, &step),
                  TESORO_EDENIED, "wrong");
  TU_ASSERT_ERR(w, tesoro_portal_login(w->t, w->website, ADA, PW2, &client,
                                       &step),
                TESORO_EDENIED, "locked");
  TU_OK(w, tesoro_portal_reset_request(w->t, w->website, ADA));
  secret = reset_secret(w);
  TU_OK(w, tesoro_portal_reset(w->t, w->website, ADA, secret, PW1, NULL));
  TU_OK(w, tesoro_portal_login(w->t, w->website, ADA, PW1, &client, &step));
  free(secret);
  /* refusals of the calls themselves */
  TU_ASSERT_REFUSED(w, tesoro_portal_reset_request(w->t, w->agent, ADA),
                    TESORO_EDENIED, "website");
  TU_ASSERT_REFUSED(w, tesoro_portal_reset_request(w->t, w->website, NULL),
                    TESORO_EINVAL, "e-mail");
  TU_ASSERT_REFUSED(w, tesoro_portal_reset_request(w->t, w->website, "x"),
                    TESORO_EINVAL, "e-mail");
  TU_ASSERT_REFUSED(w, tesoro_portal_reset(w->t, w->website, ADA, NULL, PW2,
                                           &client),
                    TESORO_EINVAL, "secret");
  TU_ASSERT_REFUSED(w, tesoro_portal_reset(w->t, w->website, ADA, TU_BAD_UTF8,
                                           PW2, &client),
                    TESORO_EINVAL, "secret");
  TU_ASSERT_REFUSED(w, tesoro_portal_reset(w->t, w->client, ADA, wrong, PW2,
                                           &client),
                    TESORO_EDENIED, "website");
  assert_int_equal(tesoro_portal_reset_request(NULL, w->website, ADA),
                   TESORO_EMISUSE);
}

/* A CRM-made account that never set its password: a reset finishes that
   step; an invitation lost in the post is resent. */
static void test_reset_and_resend_from_set_password(void **state) {
  tu_world *w = *state;
  char *temp = NULL, *temp2 = NULL, *secret;
  int64_t acc, client = 0;
  int step = 0;
  acc = crm_account(w, w->agent, w->contact, &temp);
  /* the invitation e-mail was lost: staff resend it */
  TU_OK(w, tesoro_portal_invitation_resend(w->t, w->agent, w->contact, &temp2));
  assert_non_null(temp2);
  assert_string_not_equal(temp, temp2);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM outbox WHERE template = "
                              "'Portal Invitation' AND recipient_id = %lld",
                           (long long)w->client), 2);
  TU_ASSERT_ERR(w, tesoro_portal_login(w->t, w->website, ADA, temp, &client,
                                       &step),
                TESORO_EDENIED, "wrong");
  TU_OK(w, tesoro_portal_login(w->t, w->website, ADA, temp2, &client, &step));
  assert_int_equal(step, TESORO_PORTAL_SET_PASSWORD);
  /* forgot it again: a reset moves on to welcome */
  TU_OK(w, tesoro_portal_reset_request(w->t, w->website, ADA));
  secret = reset_secret(w);
  TU_OK(w, tesoro_portal_reset(w->t, w->website, ADA, secret, PW1, &client));
  assert_acct_state(w, acc, "welcome");
  free(secret);
  tesoro_free(temp);
  tesoro_free(temp2);
}

static void test_deactivate_and_resend_refusals(void **state) {
  tu_world *w = *state;
  char *temp = NULL, code[7];
  int64_t acc = 0, client = 0, n;
  int step = 0;
  ada_ready(w, &acc);
  TU_OK(w, tesoro_portal_account_deactivate(w->t, w->agent, w->contact));
  assert_int_equal(acct_int(w, acc, "deactivated_at IS NOT NULL"), 1);
  /* no login (the same answer as a wrong password), no portal call, no reset */
  TU_ASSERT_REFUSED(w, tesoro_portal_login(w->t, w->website, ADA, PW1, &client,
                                           &step),
                    TESORO_EDENIED, "e-mail or password is wrong");
  TU_ASSERT_REFUSED(w, tesoro_portal_home(w->t, w->client, NULL, NULL, NULL,
                                          NULL),
                    TESORO_EDENIED, "deactivated");
  n = tu_sqlf(w, "SELECT count(*) FROM outbox");
  TU_OK(w, tesoro_portal_reset_request(w->t, w->website, ADA));
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM outbox"), n);
  TU_ASSERT_REFUSED(w, tesoro_portal_account_deactivate(w->t, w->agent,
                                                        w->contact),
                    TESORO_ESTATE, "already deactivated");
  /* the resend brings it back */
  TU_OK(w, tesoro_portal_invitation_resend(w->t, w->agent, w->contact, &temp));
  TU_OK(w, tesoro_portal_login(w->t, w->website, ADA, temp, &client, &step));
  assert_int_equal(step, TESORO_PORTAL_SET_PASSWORD);
  tesoro_free(temp);
  temp = NULL;
  /* refusals: who, which contact, which account */
  TU_ASSERT_REFUSED(w, tesoro_portal_invitation_resend(w->t, w->client,
                                                       w->contact, &temp),
                    TESORO_EDENIED, "staff");
  TU_ASSERT_REFUSED(w, tesoro_portal_invitation_resend(w->t, w->website,
                                                       w->contact, &temp),
                    TESORO_EDENIED, "staff");
  TU_ASSERT_REFUSED(w, tesoro_portal_invitation_resend(w->t, w->other_agent,
                                                       w->contact, &temp),
                    TESORO_EDENIED, "another agency");
  TU_ASSERT_REFUSED(w, tesoro_portal_account_deactivate(w->t, w->other_agent,
                                                        w->contact),
                    TESORO_EDENIED, "another agency");
  TU_ASSERT_REFUSED(w, tesoro_portal_invitation_resend(w->t, w->agent,
                                                       w->contact2, &temp),
                    TESORO_ENOTFOUND, "no portal account");
  TU_ASSERT_REFUSED(w, tesoro_portal_account_deactivate(w->t, w->agent,
                                                        w->contact2),
                    TESORO_ENOTFOUND, "no portal account");
  TU_ASSERT_REFUSED(w, tesoro_portal_invitation_resend(w->t, w->agent,
                                                       w->contact, NULL),
                    TESORO_EINVAL, "out_temp_password");
  TU_ASSERT_REFUSED(w, tesoro_portal_invitation_resend(w->t, w->agent, 0,
                                                       &temp),
                    TESORO_EINVAL, "contact");
  TU_ASSERT_REFUSED(w, tesoro_portal_invitation_resend(w->t, w->agent, 999999,
                                                       &temp),
                    TESORO_ENOTFOUND, "contact");
  /* an unverified self-registration registers again instead */
  register_ok(w, w->website, "Bob Buyer", BOB, PW_BOB, code);
  TU_ASSERT_REFUSED(w, tesoro_portal_invitation_resend(w->t, w->agent,
                                                       w->contact2, &temp),
                    TESORO_ENOTFOUND, "no portal account");
  TU_OK(w, tesoro_agency_set_portal(w->t, w->admin, 0));
  TU_ASSERT_REFUSED(w, tesoro_portal_invitation_resend(w->t, w->agent,
                                                       w->contact, &temp),
                    TESORO_EDENIED, "not active");
  assert_null(temp);
}

/* ------------------------------------------------------------------------
** 18. No account enumeration: a known e-mail and an unknown one get the
** same code and message from every call that takes an e-mail.
*/
static void test_unknown_email_answers_like_a_known_one(void **state) {
  tu_world *w = *state;
  char known[256], unknown[256], *c1 = NULL, *c2 = NULL;
  int64_t client = 0, a1 = -1, a2 = -1, n;
  int step = 0, r1, r2;
  ada_ready(w, NULL);
#define SAME_ANSWER(call_known, call_unknown)                                 \
  do {                                                                        \
    r1 = (call_known);                                                        \
    snprintf(known, sizeof known, "%s", tesoro_errmsg(w->t));                 \
    r2 = (call_unknown);                                                      \
    snprintf(unknown, sizeof unknown, "%s", tesoro_errmsg(w->t));             \
    assert_int_equal(r1, r2);                                                 \
    assert_string_equal(known, unknown);                                      \
  } while (0)
  /* login: a wrong password */
  SAME_ANSWER(tesoro_portal_login(w->t, w->website, ADA, PW_WRONG, &client,
                                  &step),
              tesoro_portal_login(w->t, w->website, "nobody@example.com",
                                  PW_WRONG, &client, &step));
  assert_int_equal(r1, TESORO_EDENIED);
  /* login: a locked account */
  for (int i = 0; i < TESORO_PORTAL_LOGIN_MAX_FAILS; i++)
    (void)tesoro_portal_login(w->t, w->website, ADA, PW_WRONG, &client, &step);
  SAME_ANSWER(tesoro_portal_login(w->t, w->website, ADA, PW1, &client, &step),
              tesoro_portal_login(w->t, w->website, "nobody@example.com", PW1,
                                  &client, &step));
  /* verify: a verified account, an unknown e-mail */
  SAME_ANSWER(tesoro_portal_verify(w->t, w->website, ADA, "123456", &client),
              tesoro_portal_verify(w->t, w->website, "nobody@example.com",
                                   "123456", &client));
  assert_int_equal(r1, TESORO_EDENIED);
  /* reset */
  SAME_ANSWER(tesoro_portal_reset_request(w->t, w->website, ADA),
              tesoro_portal_reset_request(w->t, w->website,
                                          "nobody@example.com"));
  assert_int_equal(r1, TESORO_OK);
  SAME_ANSWER(tesoro_portal_reset(w->t, w->website, ADA,
                                  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", PW2, NULL),
              tesoro_portal_reset(w->t, w->website, "nobody@example.com",
                                  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", PW2, NULL));
  assert_int_equal(r1, TESORO_EDENIED);
  /* register: both answered with a code */
  n = tu_sqlf(w, "SELECT count(*) FROM portal_account");
  SAME_ANSWER(tesoro_portal_register(w->t, w->website, "Ada", ADA, PW2, &a1,
                                     &c1),
              tesoro_portal_register(w->t, w->website, "Nobody",
                                     "nobody@example.com", PW2, &a2, &c2));
  assert_int_equal(r1, TESORO_OK);
  assert_non_null(c1);
  assert_non_null(c2);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM portal_account"), n + 1);
  tesoro_free(c1);
  tesoro_free(c2);
#undef SAME_ANSWER
}

/* The reset secret leaves the outbox row once delivered, and the file and
   its WAL with it; no session token is ever stored. */
static void test_reset_secret_and_token_never_left_in_clear(void **state) {
  tu_world *w = *state;
  char *secret, *token, wal[600];
  unsigned char *db, *wdb;
  size_t dbn = 0, wdbn = 0;
  tesoro_cursor *c = NULL;
  int64_t delivery = 0;
  ada_ready(w, NULL);
  token = open_session(w, ADA, PW1);
  TU_OK(w, tesoro_portal_reset_request(w->t, w->website, ADA));
  secret = reset_secret(w);
  /* positive control: before delivery the row holds it */
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM outbox WHERE payload LIKE "
                              "'%%secret%%'"), 1);
  TU_OK(w, tesoro_outbox_fetch(w->t, w->agency, 10000, &c));
  while (tesoro_cursor_next(c) == TESORO_ROW)
    if (strcmp(tu_col_text(c, "template"), "Portal Password Reset") == 0)
      delivery = tu_col_int(c, "id");
  tesoro_cursor_free(c);
  TU_OK(w, tesoro_outbox_ack(w->t, delivery));
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM outbox WHERE payload LIKE "
                              "'%%secret%%'"), 0);
  db = tu_read_file(w->path, &dbn);
  snprintf(wal, sizeof wal, "%s-wal", w->path);
  wdb = tu_read_file(wal, &wdbn);
  assert_non_null(db);
  assert_true(tu_has_bytes(db, dbn, ADA) || (wdb && tu_has_bytes(wdb, wdbn, ADA)));
  assert_false(tu_has_bytes(db, dbn, secret));
  assert_false(wdb && tu_has_bytes(wdb, wdbn, secret));
  assert_false(tu_has_bytes(db, dbn, token));
  assert_false(wdb && tu_has_bytes(wdb, wdbn, token));
  free(db);
  free(wdb);
  free(secret);
  tesoro_free(token);
}

#define T TU_TEST

int main(void) {
  const struct CMUnitTest tests[] = {
      /* 1. the property feed */
      T(test_feed_interested_then_not_then_interested_again),
      T(test_feed_not_interested_needs_known_reasons),
      T(test_feed_approve_only_from_interesting_or_viewed),
      T(test_feed_viewed_after_started_viewing_then_approve),
      T(test_feed_favourite_in_any_status),
      T(test_feed_only_the_deals_client),
      T(test_feed_events_in_allowed_query),
      /* 2. the portal setting */
      T(test_portal_setting_is_admin_only),
      T(test_portal_off_refuses_every_portal_call),
      T(test_portal_off_refuses_account_lookup),
      /* 3. route 1 */
      T(test_crm_account_created_with_temp_password),
      T(test_crm_account_refusals),
      T(test_login_with_temp_password_must_change_it),
      /* 4. route 2 */
      T(test_register_new_email_creates_lead_contact),
      T(test_register_links_existing_contact_case_insensitively),
      T(test_verify_code_expires_after_ttl),
      T(test_verify_code_valid_exactly_at_ttl),
      T(test_verify_five_wrong_codes_use_it_up),
      T(test_register_again_replaces_code_name_and_password),
      T(test_register_refusals),
      T(test_verify_refusals),
      /* 5. password policy */
      T(test_password_policy_on_register),
      T(test_password_policy_on_change),
      T(test_password_change_wrong_current_counts),
      /* 6. login, lockout */
      T(test_lockout_after_five_wrong_passwords),
      T(test_lockout_counts_failures_in_a_row),
      T(test_login_unknown_email_same_message_as_wrong_password),
      T(test_login_unverified_account_is_estate),
      T(test_login_rehashes_a_cheaper_hash),
      /* 7. onboarding */
      T(test_onboarding_steps_in_order),
      /* 8. languages */
      T(test_language_from_the_contact),
      T(test_language_set_by_the_user),
      /* 9. home, feed views, contact agent */
      T(test_home_counts),
      T(test_properties_views),
      T(test_contact_agent),
      T(test_contact_agent_refusals),
      /* 10. activities */
      T(test_activities_for_every_portal_action),
      /* 11. tenancy */
      T(test_tenancy_client_of_same_agency),
      T(test_tenancy_client_of_other_agency),
      T(test_other_website_cannot_reach_the_agencys_accounts),
      /* 12. secrets */
      T(test_no_secret_in_clear),
      /* 13. staff view */
      T(test_account_of_and_its_json),
      T(test_account_json_after_verification_has_no_hash),
      /* 14. property details */
      T(test_property_details_for_the_offered_client),
      T(test_property_details_refusals),
      T(test_energy_label_is_a_label),
      /* 15. timed rules without a tick */
      T(test_expired_mandate_withdraws_the_listing_without_a_tick),
      /* 16. sessions */
      T(test_session_open_use_and_end),
      T(test_every_session_ends_with_the_account_changes),
      /* 17. reset, resend, deactivation */
      T(test_password_reset),
      T(test_reset_and_resend_from_set_password),
      T(test_deactivate_and_resend_refusals),
      /* 18. no enumeration, no secret in clear */
      T(test_unknown_email_answers_like_a_known_one),
      T(test_reset_secret_and_token_never_left_in_clear),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
