/*
** test_referrals.c — SPEC §4: referral stages (seed 002).
**
** One test per rule, named after it.  Each test gets a fresh world (tu_setup):
** "Tesoro Homes" (Europe/Amsterdam) with admin, agent, agent2, closings,
** website and the contacts Ada (client w->client) and Bob, plus "Other
** Estates" (UTC).  The contract is the header section "Referral stages": the
** stage order, the machine (forward, back refused, failed, revive, the
** closings-only moves, the list-date timer, closed_paid), the stage data each
** move needs, and the fee fixed on entering closed.  Refusals are checked
** with TU_ASSERT_REFUSED: the code, a key word of the message, and an
** unchanged database digest.  A table-driven test tries every (from, to,
** role) triple against an expected-outcome function written from the header.
*/
#include "testutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
** Constants.  Instants computed with python3 calendar.timegm.
*/
#define DAY 86400
/* 2026-05-28T23:30:00Z = 2026-05-29 01:30 in Amsterdam (UTC+2): the UTC
   calendar date is still 05-28, the agency-local one already 05-29. */
#define AMS_0529_0130 1780011000
/* 2026-05-28T22:00:00Z: Amsterdam local midnight starting 2026-05-29. */
#define AMS_MIDNIGHT_0529 1780005600
/* 2026-05-29T22:00:00Z: Amsterdam local midnight starting 2026-05-30. */
#define AMS_MIDNIGHT_0530 1780092000
/* TU_NOW + 3 days = 2026-05-31T20:26:40Z: a meeting time. */
#define MEETING_AT 1780259200
#define MEETING_AT_S "1780259200"

#define N_STAGES 11
static const char *const stage_names[N_STAGES + 1] = {
    NULL,          "left_voicemail",  "connected",  "meeting_scheduled",
    "met_with_person", "coming_soon", "making_an_offer", "listing",
    "in_escrow",   "closed",          "closed_paid", "failed"};

#define REF TESORO_ENTITY_REFERRAL

#define S_LV TESORO_STAGE_LEFT_VOICEMAIL
#define S_CONN TESORO_STAGE_CONNECTED
#define S_MEET TESORO_STAGE_MEETING_SCHEDULED
#define S_MET TESORO_STAGE_MET_WITH_PERSON
#define S_SOON TESORO_STAGE_COMING_SOON
#define S_OFFER TESORO_STAGE_MAKING_AN_OFFER
#define S_LIST TESORO_STAGE_LISTING
#define S_ESCROW TESORO_STAGE_IN_ESCROW
#define S_CLOSED TESORO_STAGE_CLOSED
#define S_PAID TESORO_STAGE_CLOSED_PAID
#define S_FAILED TESORO_STAGE_FAILED

/* Valid stage data. */
#define D_MEETING "{\"meeting_at\":" MEETING_AT_S "}"
#define D_SOON "{\"list_date\":\"2026-06-10\"}"
#define D_SALE "{\"sale_price\":45000000,\"close_date\":\"2026-07-15\"}"
#define D_PAID "{\"paid_amount\":1125000}"
#define D_FAIL "{\"reason\":\"client chose another agency\"}"

/* The valid data for moving to `stage` (NULL when the stage takes none). */
static const char *valid_data(int stage) {
  switch (stage) {
  case S_LV: return "{\"attempted_via\":\"text\"}";
  case S_MEET: return D_MEETING;
  case S_SOON: return D_SOON;
  case S_ESCROW:
  case S_CLOSED: return D_SALE;
  case S_PAID: return D_PAID;
  case S_FAILED: return D_FAIL;
  default: return NULL;
  }
}

/* ------------------------------------------------------------------------
** Helpers.
*/

/* The call is refused with one of two codes (the header leaves the class
   open), its message mentions `needle`, and the database is unchanged. */
#define TU_ASSERT_REFUSED2(w, call, code1, code2, needle)                     \
  do {                                                                        \
    char r2_before_[65], r2_after_[65];                                       \
    int r2_rc_;                                                               \
    tu_digest((w), r2_before_);                                               \
    r2_rc_ = (call);                                                          \
    if (r2_rc_ != (code1) && r2_rc_ != (code2)) {                             \
      print_error("%s:%d: %s returned %d (%s), expected %s or %s; errmsg: "   \
                  "%s\n",                                                     \
                  __FILE__, __LINE__, #call, r2_rc_, tesoro_errname(r2_rc_),  \
                  tesoro_errname(code1), tesoro_errname(code2),               \
                  tesoro_errmsg((w)->t));                                     \
      fail();                                                                 \
    }                                                                         \
    tu_check_err_((w), r2_rc_, r2_rc_, (needle), #call, __FILE__, __LINE__);  \
    tu_digest((w), r2_after_);                                                \
    tu_check_digest_(r2_before_, r2_after_, #call, __FILE__, __LINE__);       \
  } while (0)

static int move(tu_world *w, int64_t actor, int64_t ref, int stage,
                const char *data) {
  return tesoro_referral_move(w->t, actor, ref, stage, data, 0);
}

/* A new referral of Ada (w->contact) for `agent`, registered by the admin. */
static int64_t new_ref_for(tu_world *w, int64_t contact, int64_t agent) {
  int64_t r = 0;
  TU_OK(w, tesoro_referral_create(w->t, w->admin, contact, agent, &r));
  assert_true(r > 0);
  return r;
}

static int64_t new_ref(tu_world *w, int64_t agent) {
  return new_ref_for(w, w->contact, agent);
}

/* Stage number of a stage given as a number or a name; -1 if neither. */
static int stage_num(const char *text) {
  int i;
  if (!text) return -1;
  if (text[0] >= '0' && text[0] <= '9') return atoi(text);
  for (i = 1; i <= N_STAGES; i++)
    if (strcmp(text, stage_names[i]) == 0) return i;
  return -1;
}

/* The referral's stage, by tesoro_entity_state (admin). */
static int stage_of(tu_world *w, int64_t ref) {
  const char *s = NULL;
  int n;
  TU_OK(w, tesoro_entity_state(w->t, w->admin, TESORO_ENTITY_REFERRAL, ref, &s,
                               NULL));
  n = stage_num(s);
  if (n < 1) {
    print_error("referral %lld has unknown stage \"%s\"\n", (long long)ref,
                s ? s : "(null)");
    fail();
  }
  return n;
}

static void assert_stage(tu_world *w, int64_t ref, int want) {
  int got = stage_of(w, ref);
  if (got != want) {
    print_error("referral %lld is %s, expected %s\n", (long long)ref,
                stage_names[got], stage_names[want]);
    fail();
  }
}

/* Walk a fresh referral (at left_voicemail) to `stage` with valid data:
   failed is reached from connected, closed_paid through closed. */
static void walk_to(tu_world *w, int64_t ref, int stage) {
  switch (stage) {
  case S_LV: break;
  case S_PAID:
    TU_OK(w, move(w, w->admin, ref, S_CLOSED, D_SALE));
    TU_OK(w, move(w, w->closings, ref, S_PAID, D_PAID));
    break;
  case S_FAILED:
    TU_OK(w, move(w, w->admin, ref, S_CONN, NULL));
    TU_OK(w, move(w, w->admin, ref, S_FAILED, D_FAIL));
    break;
  default: TU_OK(w, move(w, w->admin, ref, stage, valid_data(stage))); break;
  }
  assert_stage(w, ref, stage);
}

static int64_t ref_in(tu_world *w, int64_t agent, int stage) {
  int64_t r = new_ref(w, agent);
  walk_to(w, r, stage);
  return r;
}

/* tesoro_referrals (all, by the admin) positioned on the row of `ref`;
   the caller frees the cursor.  Fails the test when the row is missing. */
static tesoro_cursor *ref_row(tu_world *w, int64_t ref) {
  tesoro_cursor *c = NULL;
  int rc;
  TU_OK(w, tesoro_referrals(w->t, w->admin, TESORO_REFERRALS_ALL, 0, 0, &c));
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW)
    if (tu_col_int(c, "id") == ref) return c;
  tesoro_cursor_free(c);
  print_error("referral %lld not in tesoro_referrals (rc %d)\n",
              (long long)ref, rc);
  fail();
  return NULL;
}

static int64_t ref_int(tu_world *w, int64_t ref, const char *col) {
  tesoro_cursor *c = ref_row(w, ref);
  int64_t v = tu_col_int(c, col);
  tesoro_cursor_free(c);
  return v;
}

static int ref_isnull(tu_world *w, int64_t ref, const char *col) {
  tesoro_cursor *c = ref_row(w, ref);
  int i = tesoro_cursor_index(c, col), v;
  if (i < 0) {
    tesoro_cursor_free(c);
    print_error("no column %s\n", col);
    fail();
  }
  v = tesoro_cursor_isnull(c, i);
  tesoro_cursor_free(c);
  return v;
}

/* malloc'd copy of a text column (NULL for NULL). */
static char *ref_text(tu_world *w, int64_t ref, const char *col) {
  tesoro_cursor *c = ref_row(w, ref);
  const char *s = tu_col_text(c, col);
  char *v = s ? strdup(s) : NULL;
  tesoro_cursor_free(c);
  return v;
}

static void assert_ref_text(tu_world *w, int64_t ref, const char *col,
                            const char *want) {
  char *v = ref_text(w, ref, col);
  if (!v || strcmp(v, want) != 0) {
    print_error("referral %lld %s is %s, expected %s\n", (long long)ref, col,
                v ? v : "(null)", want);
    free(v);
    fail();
  }
  free(v);
}

static int ref_last_active(tu_world *w, int64_t ref) {
  char *v = ref_text(w, ref, "last_active_stage");
  int n = stage_num(v);
  free(v);
  return n;
}

/* The ids tesoro_referrals returns, in order, must be exactly want[0..n). */
static void check_ids(tu_world *w, int64_t actor, int filter, int stage,
                      int64_t agent, const int64_t *want, int n,
                      const char *what) {
  tesoro_cursor *c = NULL;
  int64_t got[64];
  int k = 0, rc, i, ok;
  TU_OK(w, tesoro_referrals(w->t, actor, filter, stage, agent, &c));
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW && k < 64)
    got[k++] = tu_col_int(c, "id");
  tesoro_cursor_free(c);
  assert_true(rc == TESORO_DONE || rc == TESORO_ROW);
  ok = k == n;
  for (i = 0; ok && i < n; i++) ok = got[i] == want[i];
  if (!ok) {
    print_error("%s: tesoro_referrals(filter %d, stage %d, agent %lld) gave",
                what, filter, stage, (long long)agent);
    for (i = 0; i < k; i++) print_error(" %lld", (long long)got[i]);
    print_error("; expected");
    for (i = 0; i < n; i++) print_error(" %lld", (long long)want[i]);
    print_error("\n");
    fail();
  }
}

#define CHECK_IDS(w, actor, filter, stage, agent, ...)                        \
  check_ids((w), (actor), (filter), (stage), (agent),                         \
            (const int64_t[]){__VA_ARGS__},                                   \
            (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)),  \
            #filter " " #stage " " #agent)

/* Counts of tesoro_referral_pipeline, checked row by row: 11 rows, stages
   1..11 in order, names, counts equal want[1..11]. */
static void check_pipeline(tu_world *w, int64_t actor, int64_t agent,
                           const int want[N_STAGES + 1]) {
  tesoro_cursor *c = NULL;
  int rc, row = 0;
  TU_OK(w, tesoro_referral_pipeline(w->t, actor, agent, &c));
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
    int stage = (int)tu_col_int(c, "stage");
    const char *name = tu_col_text(c, "name");
    int64_t count = tu_col_int(c, "count");
    row++;
    if (row > N_STAGES || stage != row || !name ||
        strcmp(name, stage_names[row]) != 0 || count != want[row]) {
      print_error("pipeline (agent %lld) row %d: stage %d name %s count %lld;"
                  " expected stage %d %s count %d\n",
                  (long long)agent, row, stage, name ? name : "(null)",
                  (long long)count, row,
                  row <= N_STAGES ? stage_names[row] : "-",
                  row <= N_STAGES ? want[row] : -1);
      tesoro_cursor_free(c);
      fail();
    }
  }
  tesoro_cursor_free(c);
  assert_int_equal(rc, TESORO_DONE);
  assert_int_equal(row, N_STAGES);
}

/* Fee per the header: sale × bp / 10000 rounded half up (exact integers). */
static int64_t fee_of(int64_t sale, int64_t bp) {
  return (sale * bp + 5000) / 10000;
}

/* ------------------------------------------------------------------------
** 1. The agency's referral fee.
*/

static void test_set_referral_fee_admin_only_and_in_range(void **state) {
  tu_world *w = *state;
  TU_ADMIN_ONLY(w, who, tesoro_agency_set_referral_fee(w->t, who, 250));
  TU_ASSERT_REFUSED(w, tesoro_agency_set_referral_fee(w->t, w->admin, -1),
                    TESORO_EINVAL, "10000");
  TU_ASSERT_REFUSED(w, tesoro_agency_set_referral_fee(w->t, w->admin, 10001),
                    TESORO_EINVAL, "10000");
  assert_int_equal(tesoro_agency_set_referral_fee(NULL, w->admin, 250),
                   TESORO_EMISUSE);
  TU_OK(w, tesoro_agency_set_referral_fee(w->t, w->admin, 10000));
  assert_int_equal(tu_row_int(w, "agency", w->agency, "referral_fee_bp"),
                   10000);
  TU_OK(w, tesoro_agency_set_referral_fee(w->t, w->admin, 0));
  assert_int_equal(tu_row_int(w, "agency", w->agency, "referral_fee_bp"), 0);
  TU_OK(w, tesoro_agency_set_referral_fee(w->t, w->admin, 250));
  /* an admin sets the fee of their own agency only */
  TU_OK(w, tesoro_agency_set_referral_fee(w->t, w->other_admin, 900));
  assert_int_equal(tu_row_int(w, "agency", w->agency, "referral_fee_bp"), 250);
  assert_int_equal(tu_row_int(w, "agency", w->other_agency, "referral_fee_bp"),
                   900);
  TU_OK(w, tesoro_check(w->t));
}

/* ------------------------------------------------------------------------
** Creation.
*/

static void test_create_starts_at_left_voicemail_with_caller_as_agent(
    void **state) {
  tu_world *w = *state;
  int64_t r = 0, r2 = 0, r3 = 0;
  TU_OK(w, tesoro_referral_create(w->t, w->agent2, w->contact, 0, &r));
  assert_true(r > 0);
  assert_stage(w, r, S_LV);
  assert_int_equal(tu_version_of(w, REF, r), 1);
  assert_int_equal(ref_int(w, r, "agent_id"), w->agent2);
  assert_int_equal(ref_int(w, r, "contact_id"), w->contact);
  assert_ref_text(w, r, "contact_name", "Ada Owner");
  {
    char *st = ref_text(w, r, "stage");
    assert_int_equal(stage_num(st), S_LV);
    free(st);
  }
  assert_int_equal(ref_last_active(w, r), S_LV);
  assert_int_equal(ref_int(w, r, "created_at"), TU_NOW);
  assert_int_equal(ref_int(w, r, "version"), 1);
  assert_true(ref_isnull(w, r, "fee_owed"));
  assert_true(ref_isnull(w, r, "meeting_at"));
  /* an explicit agent; the closings role may register too (staff) */
  TU_OK(w, tesoro_referral_create(w->t, w->admin, w->contact2, w->agent, &r2));
  assert_int_equal(ref_int(w, r2, "agent_id"), w->agent);
  TU_OK(w, tesoro_referral_create(w->t, w->closings, w->contact, 0, &r3));
  assert_int_equal(ref_int(w, r3, "agent_id"), w->closings);
  assert_true(r != r2 && r2 != r3);
  TU_OK(w, tesoro_check(w->t));
}

static void test_create_refuses_bad_actor_agent_contact_and_pointers(
    void **state) {
  tu_world *w = *state;
  int64_t r = 0;
  TU_ASSERT_REFUSED(
      w, tesoro_referral_create(w->t, w->client, w->contact, w->agent, &r),
      TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(
      w, tesoro_referral_create(w->t, w->website, w->contact, w->agent, &r),
      TESORO_EDENIED, NULL);
  /* staff of another agency, either as caller or as the referral's agent */
  TU_ASSERT_REFUSED(w,
                    tesoro_referral_create(w->t, w->other_agent, w->contact,
                                           0, &r),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w,
                    tesoro_referral_create(w->t, w->admin, w->contact,
                                           w->other_agent, &r),
                    TESORO_EDENIED, NULL);
  /* the agent must be staff, not a client or the website */
  TU_ASSERT_REFUSED(w,
                    tesoro_referral_create(w->t, w->admin, w->contact,
                                           w->client, &r),
                    TESORO_EINVAL, "staff");
  TU_ASSERT_REFUSED(w,
                    tesoro_referral_create(w->t, w->admin, w->contact,
                                           w->website, &r),
                    TESORO_EINVAL, "staff");
  TU_ASSERT_REFUSED(w, tesoro_referral_create(w->t, w->admin, w->contact, -3,
                                              &r),
                    TESORO_EINVAL, NULL);
  /* contacts */
  TU_ASSERT_REFUSED(w,
                    tesoro_referral_create(w->t, w->admin, w->other_contact, 0,
                                           &r),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_referral_create(w->t, w->admin, 999999, 0, &r),
                    TESORO_ENOTFOUND, "contact");
  TU_ASSERT_REFUSED(w, tesoro_referral_create(w->t, w->admin, 0, 0, &r),
                    TESORO_EINVAL, "contact");
  /* actor unknown */
  TU_ASSERT_REFUSED(w, tesoro_referral_create(w->t, 999999, w->contact, 0, &r),
                    TESORO_ENOTFOUND, NULL);
  /* pointers */
  TU_ASSERT_REFUSED(w,
                    tesoro_referral_create(w->t, w->admin, w->contact, 0, NULL),
                    TESORO_EINVAL, NULL);
  assert_int_equal(tesoro_referral_create(NULL, w->admin, w->contact, 0, &r),
                   TESORO_EMISUSE);
  assert_int_equal(r, 0); /* untouched on failure */
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM referral"), 0);
}

static void test_fee_bp_fixed_at_creation(void **state) {
  tu_world *w = *state;
  int64_t r0, r1, r2;
  r0 = new_ref(w, w->agent); /* default agreement: 0 */
  TU_OK(w, tesoro_agency_set_referral_fee(w->t, w->admin, 250));
  r1 = new_ref(w, w->agent);
  TU_OK(w, tesoro_agency_set_referral_fee(w->t, w->admin, 400));
  r2 = new_ref(w, w->agent);
  assert_int_equal(ref_int(w, r0, "fee_bp"), 0);
  assert_int_equal(ref_int(w, r1, "fee_bp"), 250);
  assert_int_equal(ref_int(w, r2, "fee_bp"), 400);
  /* closing r1 after the change still uses its 250 bp */
  TU_OK(w, move(w, w->agent, r1, S_CLOSED,
                "{\"sale_price\":1000000,\"close_date\":\"2026-07-01\"}"));
  assert_int_equal(ref_int(w, r1, "fee_bp"), 250);
  assert_int_equal(ref_int(w, r1, "fee_owed"), 25000);
  /* 0 bp: a fee of 0 is owed (not NULL) */
  TU_OK(w, move(w, w->agent, r0, S_CLOSED,
                "{\"sale_price\":1000000,\"close_date\":\"2026-07-01\"}"));
  assert_false(ref_isnull(w, r0, "fee_owed"));
  assert_int_equal(ref_int(w, r0, "fee_owed"), 0);
  TU_OK(w, tesoro_check(w->t));
}

/* ------------------------------------------------------------------------
** 2. Forward moves and their data.
*/

static void test_forward_jumps_to_any_later_stage(void **state) {
  tu_world *w = *state;
  int64_t r;
  tu_history h;
  int kind = 0;
  /* left_voicemail → listing in one move, by the agent */
  r = new_ref(w, w->agent);
  TU_OK(w, move(w, w->agent, r, S_LIST, NULL));
  assert_stage(w, r, S_LIST);
  assert_int_equal(tu_version_of(w, REF, r), 2);
  assert_int_equal(ref_last_active(w, r), S_LIST);
  tu_last_history(w, REF, r, &h);
  assert_string_equal(h.event, "listing");
  assert_string_equal(h.from_state, "left_voicemail");
  assert_string_equal(h.to_state, "listing");
  assert_int_equal(h.actor, w->agent);
  assert_int_equal(h.at, TU_NOW);
  assert_int_equal(h.seq, 2);
  TU_OK(w, tesoro_actor_info(w->t, h.actor, &kind, NULL, NULL));
  assert_int_equal(kind, TESORO_ACTOR_AGENT);
  tu_history_free(&h);
  /* one step at a time through every active stage, with each stage's data */
  r = new_ref(w, w->agent2);
  TU_OK(w, move(w, w->agent2, r, S_CONN, NULL));
  TU_OK(w, move(w, w->agent2, r, S_MEET, D_MEETING));
  assert_int_equal(ref_int(w, r, "meeting_at"), MEETING_AT);
  TU_OK(w, move(w, w->agent2, r, S_MET, NULL));
  TU_OK(w, move(w, w->agent2, r, S_SOON, D_SOON));
  assert_ref_text(w, r, "list_date", "2026-06-10");
  TU_OK(w, move(w, w->agent2, r, S_OFFER, NULL));
  TU_OK(w, move(w, w->agent2, r, S_LIST, NULL));
  TU_OK(w, move(w, w->agent2, r, S_ESCROW, D_SALE));
  assert_int_equal(ref_int(w, r, "sale_price"), 45000000);
  assert_ref_text(w, r, "close_date", "2026-07-15");
  TU_OK(w, move(w, w->agent2, r, S_CLOSED, NULL)); /* data already stored */
  assert_stage(w, r, S_CLOSED);
  assert_int_equal(tu_version_of(w, REF, r), 9);
  assert_int_equal(tu_sqlf(w,
                        "SELECT count(*) FROM history WHERE entity = %d AND "
                        "entity_id = %lld",
                        TESORO_ENTITY_REFERRAL, (long long)r),
                   9);
  /* left_voicemail → closed directly, with the sale data */
  r = new_ref(w, w->agent);
  TU_OK(w, move(w, w->admin, r, S_CLOSED, D_SALE));
  assert_stage(w, r, S_CLOSED);
  assert_int_equal(ref_int(w, r, "sale_price"), 45000000);
  /* "" data means none */
  r = new_ref(w, w->agent);
  TU_OK(w, move(w, w->closings, r, S_MET, ""));
  assert_stage(w, r, S_MET);
  TU_OK(w, tesoro_check(w->t));
}

static void test_meeting_scheduled_requires_meeting_at(void **state) {
  tu_world *w = *state;
  int64_t r = ref_in(w, w->agent, S_CONN);
  TU_ASSERT_REFUSED2(w, move(w, w->agent, r, S_MEET, NULL), TESORO_EGUARD,
                     TESORO_EINVAL, "meeting_at");
  TU_ASSERT_REFUSED2(w, move(w, w->agent, r, S_MEET, "{}"), TESORO_EGUARD,
                     TESORO_EINVAL, "meeting_at");
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_MEET, "{\"meeting_at\":-5}"),
                    TESORO_EINVAL, "meeting_at");
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_MEET, "{\"meeting_at\":0}"),
                    TESORO_EINVAL, "meeting_at");
  TU_ASSERT_REFUSED(w,
                    move(w, w->agent, r, S_MEET,
                         "{\"meeting_at\":\"tomorrow\"}"),
                    TESORO_EINVAL, "meeting_at");
  assert_stage(w, r, S_CONN);
  TU_OK(w, move(w, w->agent, r, S_MEET, D_MEETING));
  assert_stage(w, r, S_MEET);
  assert_int_equal(ref_int(w, r, "meeting_at"), MEETING_AT);
  TU_OK(w, tesoro_check(w->t));
}

static void test_coming_soon_list_date_today_or_later(void **state) {
  tu_world *w = *state;
  int64_t r = ref_in(w, w->agent, S_MET);
  /* TU_NOW is 2026-05-28 22:26 in Amsterdam */
  TU_ASSERT_REFUSED(w,
                    move(w, w->agent, r, S_SOON,
                         "{\"list_date\":\"2026-05-27\"}"),
                    TESORO_EGUARD, "today");
  TU_ASSERT_REFUSED2(w, move(w, w->agent, r, S_SOON, NULL), TESORO_EGUARD,
                     TESORO_EINVAL, "list_date");
  TU_OK(w, move(w, w->agent, r, S_SOON, "{\"list_date\":\"2026-05-28\"}"));
  assert_stage(w, r, S_SOON);
  assert_ref_text(w, r, "list_date", "2026-05-28");
  TU_OK(w, tesoro_check(w->t));
}

static void test_coming_soon_list_date_is_the_agency_local_day(void **state) {
  tu_world *w = *state;
  int64_t r, o = 0;
  TU_OK(w, tesoro_clock_set(w->t, AMS_0529_0130));
  r = ref_in(w, w->agent, S_CONN);
  /* 23:30Z: still 05-28 in UTC, already 05-29 in Amsterdam */
  TU_ASSERT_REFUSED(w,
                    move(w, w->agent, r, S_SOON,
                         "{\"list_date\":\"2026-05-28\"}"),
                    TESORO_EGUARD, "today");
  TU_OK(w, move(w, w->agent, r, S_SOON, "{\"list_date\":\"2026-05-29\"}"));
  assert_ref_text(w, r, "list_date", "2026-05-29");
  /* the UTC agency at the same instant: 05-28 is still today there */
  TU_OK(w, tesoro_referral_create(w->t, w->other_admin, w->other_contact, 0,
                                  &o));
  TU_OK(w, move(w, w->other_admin, o, S_SOON,
                "{\"list_date\":\"2026-05-28\"}"));
  {
    const char *s = NULL;
    TU_OK(w, tesoro_entity_state(w->t, w->other_admin, TESORO_ENTITY_REFERRAL,
                                 o, &s, NULL));
    assert_string_equal(s, "coming_soon");
  }
  /* one second before Amsterdam midnight of 05-29, 05-28 is still today */
  TU_OK(w, tesoro_clock_set(w->t, AMS_MIDNIGHT_0529 - 1));
  r = ref_in(w, w->agent, S_CONN);
  TU_OK(w, move(w, w->agent, r, S_SOON, "{\"list_date\":\"2026-05-28\"}"));
  TU_OK(w, tesoro_check(w->t));
}

static void test_malformed_dates_refused(void **state) {
  tu_world *w = *state;
  static const char *const bad[] = {
      "{\"list_date\":\"28-05-2026\"}",       "{\"list_date\":\"\"}",
      "{\"list_date\":\"2026-6-10\"}",        "{\"list_date\":\"2026-06-10T00:00\"}",
      "{\"list_date\":20260610}",             "{\"list_date\":\"2026-13-01\"}",
      "{\"list_date\":\"2026-06-32\"}",       "{\"list_date\":\"next week\"}"};
  static const char *const bad_close[] = {
      "{\"sale_price\":100,\"close_date\":\"28-05-2026\"}",
      "{\"sale_price\":100,\"close_date\":\"\"}",
      "{\"sale_price\":100,\"close_date\":\"2026-07-15 \"}"};
  int64_t r = ref_in(w, w->agent, S_CONN);
  size_t i;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_SOON, bad[i]), TESORO_EINVAL,
                      "list_date");
  for (i = 0; i < sizeof bad_close / sizeof bad_close[0]; i++)
    TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_ESCROW, bad_close[i]),
                      TESORO_EINVAL, "close_date");
  assert_stage(w, r, S_CONN);
}

/* Well-formed YYYY-MM-DD that names no day of the calendar is malformed
   input (EINVAL), whether or not it lies in the past. */
static void test_impossible_calendar_dates_refused(void **state) {
  tu_world *w = *state;
  static const char *const bad[] = {
      "{\"list_date\":\"2026-02-30\"}", /* in the past, but no such day */
      "{\"list_date\":\"2026-06-31\"}", /* future: June has 30 days */
      "{\"list_date\":\"2027-02-29\"}", /* 2027 is not a leap year */
      "{\"list_date\":\"2026-09-31\"}"};
  static const char *const bad_close[] = {
      "{\"sale_price\":100,\"close_date\":\"2026-02-30\"}",
      "{\"sale_price\":100,\"close_date\":\"2026-11-31\"}"};
  int64_t r = ref_in(w, w->agent, S_CONN);
  size_t i;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_SOON, bad[i]), TESORO_EINVAL,
                      "list_date");
  for (i = 0; i < sizeof bad_close / sizeof bad_close[0]; i++)
    TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_ESCROW, bad_close[i]),
                      TESORO_EINVAL, "close_date");
  assert_stage(w, r, S_CONN);
  /* a real 29 February and a real 30 June */
  TU_OK(w, move(w, w->agent, r, S_SOON, "{\"list_date\":\"2028-02-29\"}"));
  r = ref_in(w, w->agent, S_CONN);
  TU_OK(w, move(w, w->agent, r, S_SOON, "{\"list_date\":\"2026-06-30\"}"));
}

static void test_in_escrow_requires_sale_price_and_close_date(void **state) {
  tu_world *w = *state;
  int64_t r = ref_in(w, w->agent, S_LIST);
  TU_ASSERT_REFUSED(w,
                    move(w, w->agent, r, S_ESCROW,
                         "{\"sale_price\":0,\"close_date\":\"2026-07-15\"}"),
                    TESORO_EINVAL, "sale_price");
  TU_ASSERT_REFUSED(w,
                    move(w, w->agent, r, S_ESCROW,
                         "{\"sale_price\":-100,\"close_date\":\"2026-07-15\"}"),
                    TESORO_EINVAL, "sale_price");
  TU_ASSERT_REFUSED(w,
                    move(w, w->agent, r, S_ESCROW,
                         "{\"sale_price\":\"abc\",\"close_date\":\"2026-07-15\"}"),
                    TESORO_EINVAL, "sale_price");
  TU_ASSERT_REFUSED2(w,
                     move(w, w->agent, r, S_ESCROW,
                          "{\"close_date\":\"2026-07-15\"}"),
                     TESORO_EGUARD, TESORO_EINVAL, "sale_price");
  TU_ASSERT_REFUSED2(w,
                     move(w, w->agent, r, S_ESCROW, "{\"sale_price\":100}"),
                     TESORO_EGUARD, TESORO_EINVAL, "close_date");
  TU_ASSERT_REFUSED2(w, move(w, w->agent, r, S_ESCROW, NULL), TESORO_EGUARD,
                     TESORO_EINVAL, "sale_price");
  assert_stage(w, r, S_LIST);
  TU_OK(w, move(w, w->agent, r, S_ESCROW, D_SALE));
  assert_stage(w, r, S_ESCROW);
  TU_OK(w, tesoro_check(w->t));
}

static void test_closed_requires_sale_data_unless_stored(void **state) {
  tu_world *w = *state;
  int64_t r = ref_in(w, w->agent, S_LIST);
  TU_ASSERT_REFUSED2(w, move(w, w->agent, r, S_CLOSED, NULL), TESORO_EGUARD,
                     TESORO_EINVAL, "sale_price");
  TU_ASSERT_REFUSED(w,
                    move(w, w->agent, r, S_CLOSED,
                         "{\"sale_price\":0,\"close_date\":\"2026-07-15\"}"),
                    TESORO_EINVAL, "sale_price");
  TU_OK(w, move(w, w->agent, r, S_CLOSED,
                "{\"sale_price\":30000000,\"close_date\":\"2026-07-20\"}"));
  assert_int_equal(ref_int(w, r, "sale_price"), 30000000);
  assert_ref_text(w, r, "close_date", "2026-07-20");
}

static void test_stage_data_keys_json_and_stage_numbers_checked(void **state) {
  tu_world *w = *state;
  int64_t r = new_ref(w, w->agent);
  /* a key that belongs to another stage */
  TU_ASSERT_REFUSED(w,
                    move(w, w->agent, r, S_CONN, "{\"sale_price\":100}"),
                    TESORO_EINVAL, "sale_price");
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_CONN, D_FAIL), TESORO_EINVAL,
                    "reason");
  TU_ASSERT_REFUSED(w,
                    move(w, w->agent, r, S_SOON,
                         "{\"list_date\":\"2026-06-10\",\"meeting_at\":"
                         MEETING_AT_S "}"),
                    TESORO_EINVAL, "meeting_at");
  TU_ASSERT_REFUSED(w,
                    move(w, w->agent, r, S_MEET,
                         "{\"meeting_at\":" MEETING_AT_S ",\"colour\":1}"),
                    TESORO_EINVAL, "colour");
  /* malformed JSON, and JSON that is not an object */
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_MEET, "{\"meeting_at\":"),
                    TESORO_EINVAL, "json");
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_CONN, "{"), TESORO_EINVAL,
                    "json");
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_CONN, "[1,2]"), TESORO_EINVAL,
                    NULL);
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_CONN, TU_BAD_UTF8),
                    TESORO_EINVAL, NULL);
  /* unknown stages */
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, 0, NULL), TESORO_EINVAL, "stage");
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, 12, NULL), TESORO_EINVAL,
                    "stage");
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, -1, NULL), TESORO_EINVAL,
                    "stage");
  assert_stage(w, r, S_LV);
  assert_int_equal(tu_version_of(w, REF, r), 1);
}

static void test_move_refuses_bad_handle_ids_and_other_agency(void **state) {
  tu_world *w = *state;
  int64_t r = new_ref(w, w->agent), o = 0, n = 0;
  tesoro_cursor *c = NULL;
  TU_OK(w, tesoro_referral_create(w->t, w->other_admin, w->other_contact, 0,
                                  &o));
  assert_int_equal(tesoro_referral_move(NULL, w->agent, r, S_CONN, NULL, 0),
                   TESORO_EMISUSE);
  TU_ASSERT_REFUSED(w, move(w, w->agent, 999999, S_CONN, NULL),
                    TESORO_ENOTFOUND, "referral");
  TU_ASSERT_REFUSED(w, move(w, w->agent, 0, S_CONN, NULL), TESORO_EINVAL,
                    "referral");
  TU_ASSERT_REFUSED(w, move(w, 999999, r, S_CONN, NULL), TESORO_ENOTFOUND,
                    NULL);
  /* each agency's staff cannot touch the other's referrals */
  TU_ASSERT_REFUSED(w, move(w, w->agent, o, S_CONN, NULL), TESORO_EDENIED,
                    NULL);
  TU_ASSERT_REFUSED(w, move(w, w->other_admin, r, S_CONN, NULL),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_referral_note_add(w->t, w->admin, o, "hi", &n),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_referral_notes(w->t, w->admin, o, &c),
                    TESORO_EDENIED, NULL);
  assert_null(c);
}

/* ------------------------------------------------------------------------
** 3. Backward moves and notes.
*/

static void test_backward_moves_refused_leave_a_note(void **state) {
  tu_world *w = *state;
  int64_t r = ref_in(w, w->agent, S_OFFER), note = 0;
  int s;
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_CONN, NULL), TESORO_ESTATE,
                    "note");
  for (s = S_LV; s < S_OFFER; s++)
    TU_ASSERT_REFUSED(w, move(w, w->admin, r, s, valid_data(s)),
                      TESORO_ESTATE, "note");
  /* the same stage again is no move either */
  TU_ASSERT_REFUSED(w, move(w, w->admin, r, S_OFFER, NULL), TESORO_ESTATE,
                    "making_an_offer");
  /* the closings role gets the same answer outside in_escrow */
  TU_ASSERT_REFUSED(w, move(w, w->closings, r, S_SOON, D_SOON), TESORO_ESTATE,
                    "note");
  /* the note is the way to record it */
  TU_OK(w, tesoro_referral_note_add(w->t, w->agent, r,
                                    "Called again, got the voicemail", &note));
  assert_true(note > 0);
  assert_stage(w, r, S_OFFER);
  /* from listing back to coming_soon, from closed back to in_escrow */
  r = ref_in(w, w->agent, S_LIST);
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_SOON, D_SOON), TESORO_ESTATE,
                    "note");
  r = ref_in(w, w->agent, S_CLOSED);
  TU_ASSERT_REFUSED(w, move(w, w->closings, r, S_ESCROW, D_SALE),
                    TESORO_ESTATE, "note");
  TU_OK(w, tesoro_check(w->t));
}

static void test_notes_in_every_stage_and_cursor(void **state) {
  tu_world *w = *state;
  int64_t ids[N_STAGES + 1], note = 0, refs[N_STAGES + 1];
  int s, rc, k = 0;
  char body[64];
  tesoro_cursor *c = NULL;
  for (s = 1; s <= N_STAGES; s++) {
    refs[s] = ref_in(w, w->agent, s);
    snprintf(body, sizeof body, "note in %s", stage_names[s]);
    TU_OK(w, tesoro_referral_note_add(w->t, s % 2 ? w->agent : w->closings,
                                      refs[s], body, &note));
    assert_true(note > 0);
    ids[s] = note;
    assert_stage(w, refs[s], s); /* a note never moves the stage */
  }
  /* several notes on one referral, oldest first, stored exactly */
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 60));
  TU_OK(w, tesoro_referral_note_add(w->t, w->admin, refs[S_PAID],
                                    "Payment received — merci", &note));
  TU_OK(w, tesoro_referral_notes(w->t, w->agent2, refs[S_PAID], &c));
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
    k++;
    if (k == 1) {
      assert_int_equal(tu_col_int(c, "id"), ids[S_PAID]);
      assert_int_equal(tu_col_int(c, "author_id"), w->closings); /* stage 10 is even */
      assert_string_equal(tu_col_text(c, "body"), "note in closed_paid");
      assert_int_equal(tu_col_int(c, "created_at"), TU_NOW);
    } else {
      assert_int_equal(tu_col_int(c, "id"), note);
      assert_int_equal(tu_col_int(c, "author_id"), w->admin);
      assert_string_equal(tu_col_text(c, "body"), "Payment received — merci");
      assert_int_equal(tu_col_int(c, "created_at"), TU_NOW + 60);
    }
  }
  tesoro_cursor_free(c);
  assert_int_equal(rc, TESORO_DONE);
  assert_int_equal(k, 2);
  /* notes of a referral never show on another */
  TU_OK(w, tesoro_referral_notes(w->t, w->admin, refs[S_FAILED], &c));
  assert_int_equal(tu_count(c), 1);
  TU_OK(w, tesoro_check(w->t));
}

static void test_note_add_refuses_client_and_bad_text(void **state) {
  tu_world *w = *state;
  int64_t r = ref_in(w, w->agent, S_CONN), n = 0;
  char *big = tu_long_string(TESORO_MAX_TEXT + 1);
  char *max = tu_long_string(TESORO_MAX_TEXT);
  tesoro_cursor *c = NULL;
  TU_ASSERT_REFUSED(w, tesoro_referral_note_add(w->t, w->client, r, "hi", &n),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_referral_note_add(w->t, w->website, r, "hi", &n),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_referral_note_add(w->t, w->agent, r, "", &n),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_referral_note_add(w->t, w->agent, r, NULL, &n),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_referral_note_add(w->t, w->agent, r, big, &n),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w,
                    tesoro_referral_note_add(w->t, w->agent, r, TU_BAD_UTF8,
                                             &n),
                    TESORO_EINVAL, "utf");
  TU_ASSERT_REFUSED(w,
                    tesoro_referral_note_add(w->t, w->agent, 999999, "hi", &n),
                    TESORO_ENOTFOUND, NULL);
  assert_int_equal(tesoro_referral_note_add(NULL, w->agent, r, "hi", &n),
                   TESORO_EMISUSE);
  assert_int_equal(n, 0);
  TU_ASSERT_REFUSED(w, tesoro_referral_notes(w->t, w->client, r, &c),
                    TESORO_EDENIED, NULL);
  assert_null(c);
  TU_ASSERT_REFUSED(w, tesoro_referral_notes(w->t, w->agent, r, NULL),
                    TESORO_EINVAL, NULL);
  /* exactly at the limit is fine */
  TU_OK(w, tesoro_referral_note_add(w->t, w->agent, r, max, &n));
  assert_true(n > 0);
  free(big);
  free(max);
}

/* ------------------------------------------------------------------------
** 4. failed and revival.
*/

static void test_failed_from_every_active_stage_before_closed(void **state) {
  tu_world *w = *state;
  int s;
  for (s = S_LV; s <= S_ESCROW; s++) {
    int64_t r = ref_in(w, w->agent, s);
    tu_history h;
    TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_FAILED, NULL), TESORO_EINVAL,
                      "reason");
    TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_FAILED, "{}"), TESORO_EINVAL,
                      "reason");
    TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_FAILED, "{\"reason\":\"\"}"),
                      TESORO_EINVAL, "reason");
    TU_OK(w, move(w, s % 2 ? w->agent : w->closings, r, S_FAILED, D_FAIL));
    assert_stage(w, r, S_FAILED);
    assert_int_equal(ref_last_active(w, r), s);
    tu_last_history(w, REF, r, &h);
    assert_string_equal(h.event, "failed");
    assert_string_equal(h.from_state, stage_names[s]);
    assert_string_equal(h.to_state, "failed");
    tu_history_free(&h);
  }
  TU_OK(w, tesoro_check(w->t));
}

static void test_failed_refused_from_closed_and_closed_paid(void **state) {
  tu_world *w = *state;
  int64_t r1 = ref_in(w, w->agent, S_CLOSED), r2 = ref_in(w, w->agent, S_PAID);
  TU_ASSERT_REFUSED(w, move(w, w->agent, r1, S_FAILED, D_FAIL), TESORO_ESTATE,
                    "closed");
  TU_ASSERT_REFUSED(w, move(w, w->closings, r1, S_FAILED, D_FAIL),
                    TESORO_ESTATE, "closed");
  TU_ASSERT_REFUSED(w, move(w, w->admin, r2, S_FAILED, D_FAIL), TESORO_ESTATE,
                    "closed_paid");
  TU_ASSERT_REFUSED(w, move(w, w->closings, r2, S_FAILED, D_FAIL),
                    TESORO_ESTATE, "closed_paid");
  assert_stage(w, r1, S_CLOSED);
  assert_stage(w, r2, S_PAID);
}

static void test_failed_revives_only_to_last_active_stage(void **state) {
  tu_world *w = *state;
  int64_t r = ref_in(w, w->agent, S_FAILED); /* failed from connected */
  tu_history h;
  assert_int_equal(ref_last_active(w, r), S_CONN);
  /* neither a later nor an earlier stage */
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_MEET, D_MEETING), TESORO_EGUARD,
                    "connected");
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_LIST, NULL), TESORO_EGUARD,
                    "connected");
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_LV, NULL), TESORO_EGUARD,
                    "connected");
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_ESCROW, D_SALE), TESORO_EGUARD,
                    "connected");
  /* a client cannot revive it */
  TU_ASSERT_REFUSED(w, move(w, w->client, r, S_CONN, NULL), TESORO_EDENIED,
                    NULL);
  /* back to connected, then onwards as usual */
  TU_OK(w, move(w, w->agent, r, S_CONN, NULL));
  assert_stage(w, r, S_CONN);
  tu_last_history(w, REF, r, &h);
  assert_string_equal(h.event, "connected");
  assert_string_equal(h.from_state, "failed");
  assert_string_equal(h.to_state, "connected");
  tu_history_free(&h);
  TU_OK(w, move(w, w->agent, r, S_MEET, D_MEETING));
  TU_OK(w, move(w, w->agent, r, S_LIST, NULL));
  assert_stage(w, r, S_LIST);
  /* fails again from listing: now listing is the way back */
  TU_OK(w, move(w, w->agent, r, S_FAILED, D_FAIL));
  assert_int_equal(ref_last_active(w, r), S_LIST);
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_CONN, NULL), TESORO_EGUARD,
                    "listing");
  TU_OK(w, move(w, w->admin, r, S_LIST, NULL));
  assert_stage(w, r, S_LIST);
  TU_OK(w, tesoro_check(w->t));
}

static void test_revival_reuses_stored_stage_data(void **state) {
  tu_world *w = *state;
  int64_t r = ref_in(w, w->agent, S_MEET);
  TU_OK(w, move(w, w->agent, r, S_FAILED, D_FAIL));
  assert_int_equal(ref_last_active(w, r), S_MEET);
  TU_OK(w, move(w, w->agent, r, S_MEET, NULL)); /* no meeting_at again */
  assert_stage(w, r, S_MEET);
  assert_int_equal(ref_int(w, r, "meeting_at"), MEETING_AT);
  TU_OK(w, move(w, w->agent, r, S_MET, NULL));
  assert_stage(w, r, S_MET);
  /* in_escrow keeps its sale data through a failure */
  r = ref_in(w, w->agent, S_ESCROW);
  TU_OK(w, move(w, w->agent, r, S_FAILED, D_FAIL));
  TU_OK(w, move(w, w->agent, r, S_ESCROW, D_SALE));
  assert_stage(w, r, S_ESCROW);
  assert_int_equal(ref_int(w, r, "sale_price"), 45000000);
  assert_ref_text(w, r, "close_date", "2026-07-15");
  TU_OK(w, move(w, w->agent, r, S_CLOSED, NULL));
  assert_stage(w, r, S_CLOSED);
  TU_OK(w, tesoro_check(w->t));
}

/* ------------------------------------------------------------------------
** 5. Closings-only moves.
*/

static void test_in_escrow_back_to_listing_or_offer_closings_only(
    void **state) {
  tu_world *w = *state;
  int64_t r = ref_in(w, w->agent, S_ESCROW);
  tu_history h;
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_LIST, NULL), TESORO_EDENIED,
                    "closings");
  TU_ASSERT_REFUSED(w, move(w, w->admin, r, S_LIST, NULL), TESORO_EDENIED,
                    "closings");
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_OFFER, NULL), TESORO_EDENIED,
                    "closings");
  TU_ASSERT_REFUSED(w, move(w, w->admin, r, S_OFFER, NULL), TESORO_EDENIED,
                    "closings");
  /* other back moves stay closed even for closings */
  TU_ASSERT_REFUSED(w, move(w, w->closings, r, S_SOON, D_SOON), TESORO_ESTATE,
                    "note");
  TU_ASSERT_REFUSED(w, move(w, w->closings, r, S_CONN, NULL), TESORO_ESTATE,
                    "note");
  TU_OK(w, move(w, w->closings, r, S_LIST, NULL));
  assert_stage(w, r, S_LIST);
  tu_last_history(w, REF, r, &h);
  assert_string_equal(h.event, "listing");
  assert_string_equal(h.from_state, "in_escrow");
  assert_int_equal(h.actor, w->closings);
  tu_history_free(&h);
  /* and the agent can move forward again from there */
  TU_OK(w, move(w, w->agent, r, S_ESCROW, D_SALE));
  TU_OK(w, move(w, w->closings, r, S_OFFER, NULL));
  assert_stage(w, r, S_OFFER);
  /* listing → making_an_offer is a back move (offer < listing): only
     in_escrow has the closings exception */
  r = ref_in(w, w->agent, S_LIST);
  TU_ASSERT_REFUSED(w, move(w, w->closings, r, S_OFFER, NULL), TESORO_ESTATE,
                    "note");
  TU_OK(w, tesoro_check(w->t));
}

static void test_closed_paid_closings_only_with_payment(void **state) {
  tu_world *w = *state;
  int64_t r = ref_in(w, w->agent, S_CLOSED);
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_PAID, D_PAID), TESORO_EDENIED,
                    "closings");
  TU_ASSERT_REFUSED(w, move(w, w->admin, r, S_PAID, D_PAID), TESORO_EDENIED,
                    "closings");
  TU_ASSERT_REFUSED(w, move(w, w->client, r, S_PAID, D_PAID), TESORO_EDENIED,
                    NULL);
  TU_ASSERT_REFUSED(w, move(w, w->closings, r, S_PAID, NULL), TESORO_EINVAL,
                    "paid_amount");
  TU_ASSERT_REFUSED(w, move(w, w->closings, r, S_PAID, "{}"), TESORO_EINVAL,
                    "paid_amount");
  TU_ASSERT_REFUSED(w, move(w, w->closings, r, S_PAID, "{\"paid_amount\":0}"),
                    TESORO_EINVAL, "paid_amount");
  TU_ASSERT_REFUSED(w,
                    move(w, w->closings, r, S_PAID, "{\"paid_amount\":-10}"),
                    TESORO_EINVAL, "paid_amount");
  TU_ASSERT_REFUSED(w,
                    move(w, w->closings, r, S_PAID,
                         "{\"paid_amount\":10,\"sale_price\":5}"),
                    TESORO_EINVAL, "sale_price");
  assert_true(ref_isnull(w, r, "paid_amount"));
  TU_OK(w, move(w, w->closings, r, S_PAID, D_PAID));
  assert_stage(w, r, S_PAID);
  assert_int_equal(ref_int(w, r, "paid_amount"), 1125000);
  /* closed_paid only from closed */
  r = ref_in(w, w->agent, S_ESCROW);
  TU_ASSERT_REFUSED(w, move(w, w->closings, r, S_PAID, D_PAID), TESORO_ESTATE,
                    NULL);
  /* and nothing after it */
  r = ref_in(w, w->agent, S_PAID);
  TU_ASSERT_REFUSED(w, move(w, w->closings, r, S_CLOSED, D_SALE),
                    TESORO_ESTATE, NULL);
  TU_ASSERT_REFUSED(w, move(w, w->closings, r, S_PAID, D_PAID), TESORO_ESTATE,
                    NULL);
  TU_OK(w, tesoro_check(w->t));
}

/* ------------------------------------------------------------------------
** 6. Closing documents.
*/

static void test_in_escrow_queues_closing_documents_to_agent(void **state) {
  tu_world *w = *state;
  int64_t r = ref_in(w, w->agent2, S_LIST); /* the admin moves it */
  tesoro_cursor *c = NULL;
  int rc, found = 0;
  assert_int_equal(tu_sqlf(w,
                        "SELECT count(*) FROM outbox_delivery WHERE template = "
                        "'Closing Documents'"),
                   0);
  TU_OK(w, move(w, w->admin, r, S_ESCROW, D_SALE));
  /* e-mail and crm notice to the referral's agent (not to the caller) */
  assert_int_equal(tu_sqlf(w,
                        "SELECT count(*) FROM outbox_delivery o JOIN history h ON "
                        "h.entity = o.entity AND h.entity_id = o.entity_id AND h.seq = o.seq WHERE h.entity = %d AND "
                        "h.entity_id = %lld AND o.template = 'Closing "
                        "Documents' AND o.recipient_id = %lld AND o.channel = "
                        "'email' AND o.kind = 'notification' AND o.status = "
                        "'pending'",
                        TESORO_ENTITY_REFERRAL, (long long)r,
                        (long long)w->agent2),
                   1);
  assert_int_equal(tu_sqlf(w,
                        "SELECT count(*) FROM outbox_delivery o JOIN history h ON "
                        "h.entity = o.entity AND h.entity_id = o.entity_id AND h.seq = o.seq WHERE h.entity = %d AND "
                        "h.entity_id = %lld AND o.template = 'Closing "
                        "Documents' AND o.recipient_id = %lld AND o.channel = "
                        "'crm'",
                        TESORO_ENTITY_REFERRAL, (long long)r,
                        (long long)w->agent2),
                   1);
  assert_int_equal(tu_sqlf(w,
                        "SELECT count(*) FROM outbox_delivery o JOIN history h ON "
                        "h.entity = o.entity AND h.entity_id = o.entity_id AND h.seq = o.seq WHERE h.entity = %d AND "
                        "h.entity_id = %lld AND o.template = 'Closing "
                        "Documents' AND o.recipient_id IS NOT %lld",
                        TESORO_ENTITY_REFERRAL, (long long)r,
                        (long long)w->agent2),
                   0);
  TU_TEXT_IS(
      tu_sqlf_text(w,
                   "SELECT h.to_state FROM outbox_delivery o JOIN history h ON "
                   "h.entity = o.entity AND h.entity_id = o.entity_id AND "
                   "h.seq = o.seq WHERE h.entity = %d AND h.entity_id = "
                   "%lld AND o.template = 'Closing Documents' LIMIT 1",
                   TESORO_ENTITY_REFERRAL, (long long)r),
      "in_escrow");
  /* the operator sees them through tesoro_outbox_fetch */
  TU_OK(w, tesoro_outbox_fetch(w->t, w->agency, 10000, &c));
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
    const char *tpl = tu_col_text(c, "template");
    if (tpl && strcmp(tpl, "Closing Documents") == 0) {
      found++;
      assert_int_equal(tu_col_int(c, "recipient_id"), w->agent2);
      assert_int_equal(tu_col_int(c, "entity"), TESORO_ENTITY_REFERRAL);
      assert_int_equal(tu_col_int(c, "entity_id"), r);
    }
  }
  tesoro_cursor_free(c);
  assert_int_equal(rc, TESORO_DONE);
  assert_int_equal(found, 2);
  /* nothing of the kind for a move that does not enter in_escrow */
  TU_OK(w, move(w, w->admin, r, S_CLOSED, NULL));
  assert_int_equal(tu_sqlf(w,
                        "SELECT count(*) FROM outbox_delivery WHERE template = "
                        "'Closing Documents'"),
                   2);
  /* a jump straight into in_escrow queues them too */
  r = new_ref(w, w->agent);
  TU_OK(w, move(w, w->agent2, r, S_ESCROW, D_SALE));
  assert_int_equal(tu_sqlf(w,
                        "SELECT count(*) FROM outbox_delivery o JOIN history h ON "
                        "h.entity = o.entity AND h.entity_id = o.entity_id AND h.seq = o.seq WHERE h.entity = %d AND "
                        "h.entity_id = %lld AND o.template = 'Closing "
                        "Documents' AND o.recipient_id = %lld",
                        TESORO_ENTITY_REFERRAL, (long long)r,
                        (long long)w->agent),
                   2);
  TU_OK(w, tesoro_check(w->t));
}

/* ------------------------------------------------------------------------
** 7. Fees.
*/

static void test_fee_owed_on_closed_rounded_half_up(void **state) {
  tu_world *w = *state;
  static const struct {
    int64_t bp, sale;
  } cases[] = {
      {250, 100000020}, /* 2500000.5    → 2500001 (not 2500000) */
      {250, 100000019}, /* 2500000.475  → 2500000 */
      {250, 100000021}, /* 2500000.525  → 2500001 */
      {333, 45000015},  /* 1498500.4995 → 1498500 */
      {333, 45000016},  /* 1498500.5328 → 1498501 */
      {10000, 777},     /* 100 %        → 777 */
      {1, 5000},        /* 0.5          → 1 */
      {1, 4999},        /* 0.4999       → 0 */
  };
  size_t i;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char data[128];
    int64_t r;
    TU_OK(w, tesoro_agency_set_referral_fee(w->t, w->admin, cases[i].bp));
    r = ref_in(w, w->agent, S_LIST);
    snprintf(data, sizeof data,
             "{\"sale_price\":%lld,\"close_date\":\"2026-07-15\"}",
             (long long)cases[i].sale);
    TU_OK(w, move(w, w->agent, r, S_ESCROW, data));
    /* no fee before closed */
    assert_true(ref_isnull(w, r, "fee_owed"));
    assert_true(tu_sqlf(w,
                     "SELECT fee_owed IS NULL FROM referral WHERE id = %lld",
                     (long long)r));
    TU_OK(w, move(w, w->agent, r, S_CLOSED, NULL));
    if (ref_int(w, r, "fee_owed") != fee_of(cases[i].sale, cases[i].bp)) {
      print_error("bp %lld sale %lld: fee_owed %lld, expected %lld\n",
                  (long long)cases[i].bp, (long long)cases[i].sale,
                  (long long)ref_int(w, r, "fee_owed"),
                  (long long)fee_of(cases[i].sale, cases[i].bp));
      fail();
    }
    /* the fee stays when the payment is recorded */
    TU_OK(w, move(w, w->closings, r, S_PAID, D_PAID));
    assert_int_equal(ref_int(w, r, "fee_owed"),
                     fee_of(cases[i].sale, cases[i].bp));
  }
  assert_int_equal(fee_of(100000020, 250), 2500001);
  TU_OK(w, tesoro_check(w->t));
}

static void test_fee_owed_also_after_failed_and_revived(void **state) {
  tu_world *w = *state;
  int64_t r;
  TU_OK(w, tesoro_agency_set_referral_fee(w->t, w->admin, 250));
  r = ref_in(w, w->agent, S_FAILED); /* failed from connected */
  assert_true(ref_isnull(w, r, "fee_owed"));
  TU_OK(w, move(w, w->agent, r, S_CONN, NULL));
  TU_OK(w, move(w, w->agent, r, S_CLOSED,
                "{\"sale_price\":100000020,\"close_date\":\"2026-08-01\"}"));
  assert_int_equal(ref_int(w, r, "fee_owed"), 2500001);
  /* a referral failed from in_escrow, revived and closed */
  r = ref_in(w, w->agent, S_ESCROW);
  TU_OK(w, move(w, w->agent, r, S_FAILED, D_FAIL));
  assert_true(ref_isnull(w, r, "fee_owed"));
  TU_OK(w, move(w, w->agent, r, S_ESCROW, NULL));
  TU_OK(w, move(w, w->agent, r, S_CLOSED, NULL));
  assert_int_equal(ref_int(w, r, "fee_owed"), fee_of(45000000, 250));
  TU_OK(w, tesoro_check(w->t));
}

/* ------------------------------------------------------------------------
** 8. The list-date timer.
*/

static void test_tick_moves_coming_soon_to_listing_on_local_date(
    void **state) {
  tu_world *w = *state;
  int64_t r = ref_in(w, w->agent, S_MET), v;
  int fired = -1, kind = 0;
  tu_history h;
  char before[65], after[65];
  TU_OK(w, move(w, w->agent, r, S_SOON, "{\"list_date\":\"2026-05-30\"}"));
  v = tu_version_of(w, REF, r);
  /* 23:59:59 on 05-29 in Amsterdam: not yet */
  TU_OK(w, tesoro_clock_set(w->t, AMS_MIDNIGHT_0530 - 1));
  TU_OK(w, tesoro_tick(w->t, AMS_MIDNIGHT_0530 - 1, &fired));
  assert_int_equal(fired, 0);
  assert_stage(w, r, S_SOON);
  assert_int_equal(tu_version_of(w, REF, r), v);
  /* 00:00 on 05-30 in Amsterdam (22:00Z on 05-29) */
  TU_OK(w, tesoro_clock_set(w->t, AMS_MIDNIGHT_0530));
  TU_OK(w, tesoro_tick(w->t, AMS_MIDNIGHT_0530, &fired));
  assert_int_equal(fired, 1);
  assert_stage(w, r, S_LIST);
  assert_int_equal(tu_version_of(w, REF, r), v + 1);
  assert_int_equal(ref_last_active(w, r), S_LIST);
  tu_last_history(w, REF, r, &h);
  assert_string_equal(h.event, "listing");
  assert_string_equal(h.from_state, "coming_soon");
  assert_string_equal(h.to_state, "listing");
  assert_int_equal(h.at, AMS_MIDNIGHT_0530);
  TU_OK(w, tesoro_actor_info(w->t, h.actor, &kind, NULL, NULL));
  assert_int_equal(kind, TESORO_ACTOR_SYSTEM);
  assert_int_equal(tu_sqlf(w, "SELECT agency_id FROM actor WHERE id = %lld",
                        (long long)h.actor),
                   w->agency);
  tu_history_free(&h);
  /* idempotent */
  tu_digest(w, before);
  TU_OK(w, tesoro_tick(w->t, AMS_MIDNIGHT_0530, &fired));
  assert_int_equal(fired, 0);
  TU_OK(w, tesoro_tick(w->t, AMS_MIDNIGHT_0530 + 5 * DAY, &fired));
  assert_int_equal(fired, 0);
  tu_digest(w, after);
  assert_string_equal(before, after);
  assert_stage(w, r, S_LIST);
  TU_OK(w, tesoro_check(w->t));
}

static void test_tick_uses_the_referral_agency_zone(void **state) {
  tu_world *w = *state;
  int64_t a = ref_in(w, w->agent, S_CONN), o = 0;
  int fired = -1;
  const char *s = NULL;
  TU_OK(w, move(w, w->agent, a, S_SOON, "{\"list_date\":\"2026-05-30\"}"));
  TU_OK(w, tesoro_referral_create(w->t, w->other_admin, w->other_contact, 0,
                                  &o));
  TU_OK(w, move(w, w->other_admin, o, S_SOON,
                "{\"list_date\":\"2026-05-30\"}"));
  /* Amsterdam midnight: the Amsterdam referral lists, the UTC one waits */
  TU_OK(w, tesoro_clock_set(w->t, AMS_MIDNIGHT_0530));
  TU_OK(w, tesoro_tick(w->t, AMS_MIDNIGHT_0530, &fired));
  assert_int_equal(fired, 1);
  assert_stage(w, a, S_LIST);
  TU_OK(w, tesoro_entity_state(w->t, w->other_admin, TESORO_ENTITY_REFERRAL, o,
                               &s, NULL));
  assert_string_equal(s, "coming_soon");
  /* 2026-05-30T00:00:00Z = 1780099200 */
  TU_OK(w, tesoro_clock_set(w->t, 1780099200 - 1));
  TU_OK(w, tesoro_tick(w->t, 1780099200 - 1, &fired));
  assert_int_equal(fired, 0);
  TU_OK(w, tesoro_clock_set(w->t, 1780099200));
  TU_OK(w, tesoro_tick(w->t, 1780099200, &fired));
  assert_int_equal(fired, 1);
  TU_OK(w, tesoro_entity_state(w->t, w->other_admin, TESORO_ENTITY_REFERRAL, o,
                               &s, NULL));
  assert_string_equal(s, "listing");
  TU_OK(w, tesoro_check(w->t));
}

static void test_failing_coming_soon_withdraws_its_timer(void **state) {
  tu_world *w = *state;
  int64_t r = ref_in(w, w->agent, S_CONN), v;
  int fired = -1;
  TU_OK(w, move(w, w->agent, r, S_SOON, "{\"list_date\":\"2026-05-30\"}"));
  assert_int_equal(tu_sqlf(w,
                        "SELECT count(*) FROM timer WHERE entity = %d AND "
                        "entity_id = %lld",
                        TESORO_ENTITY_REFERRAL, (long long)r),
                   1);
  TU_OK(w, move(w, w->agent, r, S_FAILED, D_FAIL));
  v = tu_version_of(w, REF, r);
  /* withdrawn at once, not left to be discarded when due */
  assert_int_equal(tu_sqlf(w,
                        "SELECT count(*) FROM timer WHERE entity = %d AND "
                        "entity_id = %lld",
                        TESORO_ENTITY_REFERRAL, (long long)r),
                   0);
  TU_OK(w, tesoro_clock_set(w->t, AMS_MIDNIGHT_0530 + 3600));
  TU_OK(w, tesoro_tick(w->t, AMS_MIDNIGHT_0530 + 3600, &fired));
  assert_int_equal(fired, 0);
  assert_stage(w, r, S_FAILED);
  assert_int_equal(tu_version_of(w, REF, r), v);
  assert_int_equal(ref_last_active(w, r), S_SOON);
  assert_int_equal(tu_sqlf(w,
                        "SELECT count(*) FROM history WHERE entity = %d AND "
                        "entity_id = %lld AND to_state = 'listing'",
                        TESORO_ENTITY_REFERRAL, (long long)r),
                   0);
  assert_int_equal(tu_sqlf(w,
                        "SELECT count(*) FROM timer WHERE entity = %d AND "
                        "entity_id = %lld",
                        TESORO_ENTITY_REFERRAL, (long long)r),
                   0);
  TU_OK(w, tesoro_check(w->t));
}

static void test_moved_on_coming_soon_is_not_listed_by_tick(void **state) {
  tu_world *w = *state;
  int64_t r = ref_in(w, w->agent, S_CONN), v;
  TU_OK(w, move(w, w->agent, r, S_SOON, "{\"list_date\":\"2026-05-30\"}"));
  TU_OK(w, move(w, w->agent, r, S_OFFER, NULL));
  v = tu_version_of(w, REF, r);
  TU_OK(w, tesoro_clock_set(w->t, AMS_MIDNIGHT_0530 + 60));
  TU_OK(w, tesoro_tick(w->t, AMS_MIDNIGHT_0530 + 60, NULL));
  assert_stage(w, r, S_OFFER);
  assert_int_equal(tu_version_of(w, REF, r), v);
  TU_OK(w, tesoro_check(w->t));
}

static void test_revived_coming_soon_still_lists_on_its_date(void **state) {
  tu_world *w = *state;
  int64_t r = ref_in(w, w->agent, S_CONN);
  int fired = -1;
  TU_OK(w, move(w, w->agent, r, S_SOON, "{\"list_date\":\"2026-05-30\"}"));
  TU_OK(w, move(w, w->agent, r, S_FAILED, D_FAIL));
  TU_OK(w, move(w, w->agent, r, S_SOON, NULL)); /* revive, date stored */
  assert_stage(w, r, S_SOON);
  assert_ref_text(w, r, "list_date", "2026-05-30");
  TU_OK(w, tesoro_clock_set(w->t, AMS_MIDNIGHT_0530));
  TU_OK(w, tesoro_tick(w->t, AMS_MIDNIGHT_0530, &fired));
  assert_true(fired >= 1);
  assert_stage(w, r, S_LIST);
  assert_int_equal(tu_sqlf(w,
                        "SELECT count(*) FROM history WHERE entity = %d AND "
                        "entity_id = %lld AND to_state = 'listing'",
                        TESORO_ENTITY_REFERRAL, (long long)r),
                   1);
  TU_OK(w, tesoro_check(w->t));
}

/* How the client was tried (voicemail, text, e-mail) and reached (phone,
   text, e-mail), as stage data (seed 002). */
static void test_contact_attempts_as_data(void **state) {
  tu_world *w = *state;
  int64_t r = ref_in(w, w->agent, S_LV);
  TU_OK(w, move(w, w->agent, r, S_LV, "{\"attempted_via\":\"voicemail\"}"));
  assert_ref_text(w, r, "attempted_via", "voicemail");
  TU_OK(w, move(w, w->agent, r, S_LV, "{\"attempted_via\":\"text\"}"));
  assert_ref_text(w, r, "attempted_via", "text");
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM history WHERE entity = %d "
                              "AND entity_id = %lld AND event = "
                              "'left_voicemail'", TESORO_ENTITY_REFERRAL,
                           (long long)r), 2);
  /* each list is checked; another attempt needs its channel */
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_LV, "{\"attempted_via\":\"phone\"}"),
                    TESORO_EINVAL, "voicemail, text or email");
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_LV, "{\"attempted_via\":\"Text\"}"),
                    TESORO_EINVAL, "voicemail, text or email");
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_LV, "{\"attempted_via\":3}"),
                    TESORO_EINVAL, "string");
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_LV, NULL),
                    TESORO_EINVAL, "attempted_via");
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_CONN,
                            "{\"contacted_via\":\"voicemail\"}"),
                    TESORO_EINVAL, "phone, text or email");
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_CONN,
                            "{\"attempted_via\":\"text\"}"),
                    TESORO_EINVAL, "unknown field");
  TU_OK(w, move(w, w->agent, r, S_CONN, "{\"contacted_via\":\"phone\"}"));
  assert_ref_text(w, r, "contacted_via", "phone");
  assert_ref_text(w, r, "attempted_via", "text");
  /* once connected, an attempt is a step back: leave a note instead */
  TU_ASSERT_REFUSED(w, move(w, w->agent, r, S_LV,
                            "{\"attempted_via\":\"email\"}"),
                    TESORO_ESTATE, "note");
  /* connected without saying how is fine */
  {
    int64_t r2 = ref_in(w, w->agent, S_LV);
    TU_OK(w, move(w, w->agent, r2, S_CONN, NULL));
  }
  TU_OK(w, tesoro_check(w->t));
}

/* No rule waits for the tick: once the list date has come, the next write
   on the referral finds it listing (the system moved it, in that call). */
static void test_list_date_applies_without_a_tick(void **state) {
  tu_world *w = *state;
  int64_t r = ref_in(w, w->agent, S_CONN);
  TU_OK(w, move(w, w->agent, r, S_SOON, "{\"list_date\":\"2026-05-30\"}"));
  TU_OK(w, tesoro_clock_set(w->t, AMS_MIDNIGHT_0530 + 60));
  TU_OK(w, move(w, w->agent, r, S_ESCROW, D_SALE));
  assert_stage(w, r, S_ESCROW);
  /* the system listed it first, at the call's time; then the agent's move */
  assert_int_equal(tu_sqlf(w,
                        "SELECT count(*) FROM history h JOIN actor a ON a.id "
                        "= h.actor_id WHERE h.entity = %d AND h.entity_id = "
                        "%lld AND h.to_state = 'listing' AND a.kind = "
                        "'system' AND h.at = %lld",
                        TESORO_ENTITY_REFERRAL, (long long)r,
                        (long long)AMS_MIDNIGHT_0530 + 60),
                   1);
  assert_int_equal(tu_sqlf(w,
                        "SELECT to_state = 'in_escrow' FROM history WHERE "
                        "entity = %d AND entity_id = %lld ORDER BY seq DESC "
                        "LIMIT 1", TESORO_ENTITY_REFERRAL, (long long)r),
                   1);
  /* the timer is spent: a later tick does nothing more */
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM timer WHERE entity = %d "
                              "AND entity_id = %lld",
                           TESORO_ENTITY_REFERRAL, (long long)r), 0);
  TU_OK(w, tesoro_check(w->t));
}

/* ------------------------------------------------------------------------
** 9. Lists and pipeline.
*/

typedef struct fleet {
  int64_t r[10]; /* r[1..9] of Tesoro Homes */
  int64_t o[4];  /* o[1..3] of Other Estates */
} fleet;

/* r1 agent lv, r2 agent connected, r3 agent2 meeting, r4 agent failed,
   r5 agent2 in_escrow, r6 agent closed, r7 agent2 closed_paid,
   r8 agent2 failed (from left_voicemail), r9 agent coming_soon; created one
   second apart.  Other Estates: o1 connected, o2 failed, o3 closed. */
static void build_fleet(tu_world *w, fleet *f) {
  static const int stage[10] = {0,      S_LV,   S_CONN, S_MEET, S_FAILED,
                                S_ESCROW, S_CLOSED, S_PAID, 0, S_SOON};
  int i;
  memset(f, 0, sizeof *f);
  for (i = 1; i <= 9; i++) {
    int64_t agent = (i == 3 || i == 5 || i == 7 || i == 8) ? w->agent2
                                                           : w->agent;
    TU_OK(w, tesoro_clock_set(w->t, TU_NOW + i));
    f->r[i] = new_ref(w, agent);
    if (i == 8)
      TU_OK(w, move(w, w->agent2, f->r[i], S_FAILED, D_FAIL));
    else
      walk_to(w, f->r[i], stage[i]);
  }
  for (i = 1; i <= 3; i++) {
    TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 20 + i));
    TU_OK(w, tesoro_referral_create(w->t, w->other_admin, w->other_contact,
                                    w->other_agent, &f->o[i]));
  }
  TU_OK(w, tesoro_referral_move(w->t, w->other_agent, f->o[1], S_CONN, NULL,
                                0));
  TU_OK(w, tesoro_referral_move(w->t, w->other_agent, f->o[2], S_FAILED,
                                D_FAIL, 0));
  TU_OK(w, tesoro_referral_move(w->t, w->other_agent, f->o[3], S_CLOSED,
                                D_SALE, 0));
}

static void test_referrals_filters(void **state) {
  tu_world *w = *state;
  fleet f;
  int64_t *r = f.r;
  build_fleet(w, &f);
  CHECK_IDS(w, w->admin, TESORO_REFERRALS_ALL, 0, 0, r[9], r[8], r[7], r[6],
            r[5], r[4], r[3], r[2], r[1]);
  CHECK_IDS(w, w->agent2, TESORO_REFERRALS_ACTIVE, 0, 0, r[9], r[5], r[3],
            r[2], r[1]);
  CHECK_IDS(w, w->admin, TESORO_REFERRALS_FAILED, 0, 0, r[8], r[4]);
  CHECK_IDS(w, w->closings, TESORO_REFERRALS_CLOSED, 0, 0, r[7], r[6]);
  /* by stage */
  CHECK_IDS(w, w->admin, TESORO_REFERRALS_ALL, S_CONN, 0, r[2]);
  CHECK_IDS(w, w->admin, TESORO_REFERRALS_ALL, S_FAILED, 0, r[8], r[4]);
  CHECK_IDS(w, w->admin, TESORO_REFERRALS_ALL, S_PAID, 0, r[7]);
  CHECK_IDS(w, w->admin, TESORO_REFERRALS_ALL, S_CLOSED, 0, r[6]);
  CHECK_IDS(w, w->admin, TESORO_REFERRALS_ALL, S_SOON, 0, r[9]);
  check_ids(w, w->admin, TESORO_REFERRALS_ALL, S_LIST, 0, NULL, 0, "listing");
  /* filter and stage together */
  CHECK_IDS(w, w->admin, TESORO_REFERRALS_CLOSED, S_PAID, 0, r[7]);
  CHECK_IDS(w, w->admin, TESORO_REFERRALS_ACTIVE, S_ESCROW, 0, r[5]);
  check_ids(w, w->admin, TESORO_REFERRALS_ACTIVE, S_CLOSED, 0, NULL, 0,
            "active+closed");
  /* per agent */
  CHECK_IDS(w, w->admin, TESORO_REFERRALS_ALL, 0, w->agent, r[9], r[6], r[4],
            r[2], r[1]);
  CHECK_IDS(w, w->agent, TESORO_REFERRALS_ALL, 0, w->agent2, r[8], r[7], r[5],
            r[3]);
  CHECK_IDS(w, w->admin, TESORO_REFERRALS_ACTIVE, 0, w->agent, r[9], r[2],
            r[1]);
  CHECK_IDS(w, w->admin, TESORO_REFERRALS_FAILED, 0, w->agent2, r[8]);
  CHECK_IDS(w, w->admin, TESORO_REFERRALS_CLOSED, 0, w->agent2, r[7]);
  check_ids(w, w->admin, TESORO_REFERRALS_ALL, 0, w->closings, NULL, 0,
            "closings has none");
  /* the other agency sees only its own */
  CHECK_IDS(w, w->other_admin, TESORO_REFERRALS_ALL, 0, 0, f.o[3], f.o[2],
            f.o[1]);
  CHECK_IDS(w, w->other_agent, TESORO_REFERRALS_CLOSED, 0, 0, f.o[3]);
  /* columns of one row */
  {
    tesoro_cursor *c = ref_row(w, r[5]);
    char *st;
    assert_int_equal(tu_col_int(c, "contact_id"), w->contact);
    assert_string_equal(tu_col_text(c, "contact_name"), "Ada Owner");
    assert_int_equal(tu_col_int(c, "agent_id"), w->agent2);
    st = strdup(tu_col_text(c, "stage"));
    assert_int_equal(stage_num(st), S_ESCROW);
    free(st);
    assert_int_equal(tu_col_int(c, "sale_price"), 45000000);
    assert_string_equal(tu_col_text(c, "close_date"), "2026-07-15");
    assert_int_equal(tu_col_int(c, "created_at"), TU_NOW + 5);
    assert_int_equal(tu_col_int(c, "version"), 2);
    tesoro_cursor_free(c);
  }
  /* bad arguments */
  {
    tesoro_cursor *c = NULL;
    TU_ASSERT_REFUSED(w, tesoro_referrals(w->t, w->admin, 4, 0, 0, &c),
                      TESORO_EINVAL, "filter");
    TU_ASSERT_REFUSED(w, tesoro_referrals(w->t, w->admin, -1, 0, 0, &c),
                      TESORO_EINVAL, "filter");
    TU_ASSERT_REFUSED(w, tesoro_referrals(w->t, w->admin, 0, 12, 0, &c),
                      TESORO_EINVAL, "stage");
    TU_ASSERT_REFUSED(w, tesoro_referrals(w->t, w->admin, 0, -2, 0, &c),
                      TESORO_EINVAL, "stage");
    TU_ASSERT_REFUSED(w, tesoro_referrals(w->t, w->admin, 0, 0, 0, NULL),
                      TESORO_EINVAL, NULL);
    assert_null(c);
    assert_int_equal(tesoro_referrals(NULL, w->admin, 0, 0, 0, &c),
                     TESORO_EMISUSE);
  }
}

static void test_referral_pipeline_counts(void **state) {
  tu_world *w = *state;
  fleet f;
  /*                          lv co me mt cs of li es cl cp fa */
  static const int all[12] = {0, 1, 1, 1, 0, 1, 0, 0, 1, 1, 1, 2};
  static const int ag1[12] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 1, 0, 1};
  static const int ag2[12] = {0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 1, 1};
  static const int none[12] = {0};
  static const int oth[12] = {0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1};
  tesoro_cursor *c = NULL;
  /* empty agency: eleven zero rows */
  check_pipeline(w, w->admin, 0, none);
  build_fleet(w, &f);
  check_pipeline(w, w->admin, 0, all);
  check_pipeline(w, w->agent2, w->agent, ag1);
  check_pipeline(w, w->closings, w->agent2, ag2);
  check_pipeline(w, w->admin, w->closings, none);
  check_pipeline(w, w->other_admin, 0, oth);
  TU_ASSERT_REFUSED(w, tesoro_referral_pipeline(w->t, w->client, 0, &c),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_referral_pipeline(w->t, w->website, 0, &c),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_referral_pipeline(w->t, w->admin, 0, NULL),
                    TESORO_EINVAL, NULL);
  assert_null(c);
  assert_int_equal(tesoro_referral_pipeline(NULL, w->admin, 0, &c),
                   TESORO_EMISUSE);
  TU_OK(w, tesoro_check(w->t));
}

static void test_referrals_hidden_from_client_website_and_other_agency(
    void **state) {
  tu_world *w = *state;
  int64_t r = ref_in(w, w->agent, S_MEET);
  tesoro_cursor *c = NULL;
  char *json = NULL;
  const char *st = NULL;
  TU_ASSERT_REFUSED(w,
                    tesoro_referrals(w->t, w->client, TESORO_REFERRALS_ALL, 0,
                                     0, &c),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w,
                    tesoro_referrals(w->t, w->website, TESORO_REFERRALS_ALL, 0,
                                     0, &c),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_referral_notes(w->t, w->client, r, &c),
                    TESORO_EDENIED, NULL);
  assert_null(c);
  /* entity reads */
  TU_ASSERT_REFUSED(w,
                    tesoro_entity_json(w->t, w->client, TESORO_ENTITY_REFERRAL,
                                       r, &json),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w,
                    tesoro_entity_json(w->t, w->other_admin,
                                       TESORO_ENTITY_REFERRAL, r, &json),
                    TESORO_EDENIED, NULL);
  assert_null(json);
  TU_ASSERT_REFUSED(w,
                    tesoro_entity_state(w->t, w->client,
                                        TESORO_ENTITY_REFERRAL, r, &st, NULL),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w,
                    tesoro_history(w->t, w->client, TESORO_ENTITY_REFERRAL, r,
                                   &c),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w,
                    tesoro_history(w->t, w->other_agent,
                                   TESORO_ENTITY_REFERRAL, r, &c),
                    TESORO_EDENIED, NULL);
  assert_null(c);
  /* staff read the JSON */
  TU_OK(w, tesoro_entity_json(w->t, w->agent2, TESORO_ENTITY_REFERRAL, r,
                              &json));
  {
    char *v = tu_jget(json, "$.state");
    assert_non_null(v);
    assert_string_equal(v, "meeting_scheduled");
    free(v);
    v = tu_jget(json, "$.version");
    assert_non_null(v);
    assert_string_equal(v, "2");
    free(v);
    v = tu_jget(json, "$.meeting_at");
    assert_non_null(v);
    assert_string_equal(v, MEETING_AT_S);
    free(v);
  }
  tesoro_free(json);
}

/* ------------------------------------------------------------------------
** 10. Every (from, to, role).
*/

enum { R_AGENT, R_ADMIN, R_CLOSINGS, R_CLIENT, R_WEBSITE, N_ROLES };
static const char *const role_names[N_ROLES] = {"agent", "admin", "closings",
                                                "client", "website"};

static int64_t role_actor(tu_world *w, int role) {
  switch (role) {
  case R_AGENT: return w->agent;
  case R_ADMIN: return w->admin;
  case R_CLOSINGS: return w->closings;
  case R_CLIENT: return w->client;
  default: return w->website;
  }
}

/*
** The outcome the header's rules give for moving a referral in `from` to
** `to` (valid data given) by `role`.  A failed referral here was failed from
** connected, so connected is its last active stage.  *alt is a second
** acceptable code where the header leaves the class open (a failed
** referral asked for closed, closed_paid or failed again: EGUARD "only back
** to the last active stage" or ESTATE "no such move"); else *alt = result.
*/
static int expected_move(int from, int to, int role, int *alt) {
  int r;
  *alt = 0x7fff;
  if (role == R_CLIENT || role == R_WEBSITE) r = TESORO_EDENIED;
  else if (from == S_FAILED) {
    if (to == S_CONN) r = TESORO_OK;
    else {
      r = TESORO_EGUARD;
      if (to == S_CLOSED || to == S_PAID || to == S_FAILED) *alt = TESORO_ESTATE;
    }
  } else if (from == S_PAID) r = TESORO_ESTATE;
  else if (from == S_CLOSED) {
    if (to == S_PAID) r = role == R_CLOSINGS ? TESORO_OK : TESORO_EDENIED;
    else r = TESORO_ESTATE;
  } else if (to == S_FAILED) r = TESORO_OK; /* active, before closed */
  else if (from == S_LV && to == S_LV) r = TESORO_OK; /* another attempt */
  else if (to == S_PAID) r = TESORO_ESTATE;
  else if (to > from) r = TESORO_OK; /* forward, to closed at most */
  else if (from == S_ESCROW && (to == S_LIST || to == S_OFFER))
    r = role == R_CLOSINGS ? TESORO_OK : TESORO_EDENIED;
  else r = TESORO_ESTATE; /* back, or the same stage */
  if (*alt == 0x7fff) *alt = r;
  return r;
}

static void test_transition_table_every_stage_pair_and_role(void **state) {
  tu_world *w = *state;
  int from, to, role, mismatches = 0, tried = 0;
  for (from = 1; from <= N_STAGES; from++) {
    for (to = 1; to <= N_STAGES; to++) {
      int64_t r = 0;
      for (role = 0; role < N_ROLES; role++) {
        int alt, want = expected_move(from, to, role, &alt), rc;
        int64_t v;
        const char *msg;
        if (r == 0) r = ref_in(w, w->agent2, from);
        v = tu_version_of(w, REF, r);
        rc = move(w, role_actor(w, role), r, to, valid_data(to));
        msg = tesoro_errmsg(w->t);
        tried++;
        if (rc != want && rc != alt) {
          print_error("%s -> %s by %s: got %s (%s), expected %s\n",
                      stage_names[from], stage_names[to], role_names[role],
                      tesoro_errname(rc), msg, tesoro_errname(want));
          mismatches++;
        } else if (rc == TESORO_ESTATE && from <= S_CLOSED && to < from &&
                   !tu_contains_ci(msg, "note")) {
          print_error("%s -> %s by %s: ESTATE message \"%s\" does not say to "
                      "leave a note\n",
                      stage_names[from], stage_names[to], role_names[role],
                      msg);
          mismatches++;
        }
        if (rc == TESORO_OK) {
          if (stage_of(w, r) != to || tu_version_of(w, REF, r) != v + 1) {
            print_error("%s -> %s by %s: OK but stage %s version %lld\n",
                        stage_names[from], stage_names[to], role_names[role],
                        stage_names[stage_of(w, r)],
                        (long long)tu_version_of(w, REF, r));
            mismatches++;
          }
          r = 0; /* used up: the next role gets a fresh one */
        } else if (stage_of(w, r) != from || tu_version_of(w, REF, r) != v) {
          print_error("%s -> %s by %s: refused but the referral changed\n",
                      stage_names[from], stage_names[to], role_names[role]);
          mismatches++;
          r = 0;
        }
      }
    }
  }
  assert_int_equal(tried, N_STAGES * N_STAGES * N_ROLES);
  if (mismatches) {
    print_error("%d of %d (from, to, role) cells differ from the header\n",
                mismatches, tried);
    fail();
  }
  TU_OK(w, tesoro_check(w->t));
}

/* tesoro_allowed_events on a referral in every stage, for agent and closings,
   agrees with the same expected-outcome function (guards that need the
   call's data are not evaluated there, so every "OK" is allowed). */
static void test_allowed_matches_rules_in_every_stage(void **state) {
  tu_world *w = *state;
  static const int roles[] = {R_AGENT, R_ADMIN, R_CLOSINGS};
  int from, to, i, mismatches = 0;
  for (from = 1; from <= N_STAGES; from++) {
    int64_t r = ref_in(w, w->agent2, from);
    for (i = 0; i < 3; i++) {
      int64_t actor = role_actor(w, roles[i]);
      int code = -999, a;
      for (to = 1; to <= N_STAGES; to++) {
        int alt, want = expected_move(from, to, roles[i], &alt);
        code = -999;
        a = tu_allowed_of(w, actor, REF, r, stage_names[to], &code);
        if (a < 0) {
          print_error("allowed: event %s missing\n", stage_names[to]);
          mismatches++;
        } else if (a != (want == TESORO_OK) ||
                   (code != want && code != alt)) {
          print_error("allowed in %s for %s: %s allowed=%d code=%s, expected "
                      "allowed=%d code=%s\n",
                      stage_names[from], role_names[roles[i]], stage_names[to],
                      a, tesoro_errname(code), want == TESORO_OK,
                      tesoro_errname(want));
          mismatches++;
        }
      }
      a = tu_allowed_of(w, actor, REF, r, "add_note", &code);
      if (a != 1 || code != TESORO_OK) {
        print_error("allowed in %s for %s: add_note allowed=%d code=%s\n",
                    stage_names[from], role_names[roles[i]], a,
                    tesoro_errname(code));
        mismatches++;
      }
    }
  }
  if (mismatches) {
    print_error("%d allowed verdicts differ from the header\n", mismatches);
    fail();
  }
}

static void test_allowed_for_client_and_machine_dot(void **state) {
  tu_world *w = *state;
  int64_t r = ref_in(w, w->agent, S_ESCROW);
  tesoro_cursor *c = NULL;
  char *dot = NULL;
  int rc, s;
  /* the client: refused outright, or every event denied */
  rc = tesoro_allowed_events(w->t, w->client, TESORO_ENTITY_REFERRAL, r, &c);
  if (rc == TESORO_OK) {
    int rows = 0;
    while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
      rows++;
      assert_int_equal(tu_col_int(c, "allowed"), 0);
      assert_int_equal(tu_col_int(c, "code"), TESORO_EDENIED);
    }
    tesoro_cursor_free(c);
    assert_int_equal(rc, TESORO_DONE);
    assert_true(rows >= N_STAGES + 1);
  } else {
    assert_int_equal(rc, TESORO_EDENIED);
  }
  /* the other agency: refused */
  c = NULL;
  TU_ASSERT_REFUSED(w,
                    tesoro_allowed_events(w->t, w->other_admin,
                                   TESORO_ENTITY_REFERRAL, r, &c),
                    TESORO_EDENIED, NULL);
  assert_null(c);
  /* a named example: in_escrow, agent vs closings */
  {
    int code = 0;
    assert_int_equal(tu_allowed_of(w, w->agent, REF, r, "listing", &code), 0);
    assert_int_equal(code, TESORO_EDENIED);
    assert_int_equal(tu_allowed_of(w, w->closings, REF, r, "listing", &code),
                     1);
    assert_int_equal(
        tu_allowed_of(w, w->closings, REF, r, "making_an_offer", &code), 1);
    assert_int_equal(tu_allowed_of(w, w->agent, REF, r, "closed", &code), 1);
    assert_int_equal(tu_allowed_of(w, w->agent, REF, r, "failed", &code), 1);
    assert_int_equal(tu_allowed_of(w, w->agent, REF, r, "connected", &code), 0);
    assert_int_equal(code, TESORO_ESTATE);
    assert_int_equal(tu_allowed_of(w, w->agent, REF, r, "add_note", &code), 1);
  }
  /* the diagram */
  assert_int_equal(tesoro_machine_diagram(TESORO_ENTITY_REFERRAL, TESORO_DIAGRAM_DOT, &dot),
                   TESORO_OK);
  assert_non_null(dot);
  assert_true(tu_contains_ci(dot, "digraph"));
  for (s = 1; s <= N_STAGES; s++)
    if (!tu_contains_ci(dot, stage_names[s])) {
      print_error("DOT does not mention %s:\n%s\n", stage_names[s], dot);
      tesoro_free(dot);
      fail();
    }
  TU_HAS_ALL_CI(dot, "closings", "system", "add_note");
  tesoro_free(dot);
}

/* ------------------------------------------------------------------------
** Versions.
*/

static void test_stale_version_conflicts(void **state) {
  tu_world *w = *state;
  int64_t r = ref_in(w, w->agent, S_CONN), v = tu_version_of(w, REF, r);
  assert_int_equal(v, 2);
  TU_ASSERT_REFUSED(w,
                    tesoro_referral_move(w->t, w->agent, r, S_MET, NULL, 1),
                    TESORO_ECONFLICT, NULL);
  TU_ASSERT_REFUSED(w,
                    tesoro_referral_move(w->t, w->agent, r, S_MET, NULL, 3),
                    TESORO_ECONFLICT, NULL);
  TU_ASSERT_REFUSED(w,
                    tesoro_referral_move(w->t, w->agent, r, S_FAILED, D_FAIL,
                                         1),
                    TESORO_ECONFLICT, NULL);
  TU_OK(w, tesoro_referral_move(w->t, w->agent, r, S_MET, NULL, v));
  assert_int_equal(tu_version_of(w, REF, r), v + 1);
  TU_ASSERT_REFUSED(w,
                    tesoro_referral_move(w->t, w->agent, r, S_LIST, NULL, v),
                    TESORO_ECONFLICT, NULL);
  TU_OK(w, tesoro_referral_move(w->t, w->agent, r, S_LIST, NULL, v + 1));
  assert_stage(w, r, S_LIST);
  TU_OK(w, tesoro_check(w->t));
}

/* Referrals are staff-only: a client or the website must get EDENIED for
   every move, whatever the stage or version, so that the refusal reveals
   neither (a "referral 7 is already connected" or "is at version 2"
   message would). */
static void test_non_staff_refused_before_stage_or_version_shows(
    void **state) {
  tu_world *w = *state;
  int64_t r = ref_in(w, w->agent, S_ESCROW);
  TU_ASSERT_REFUSED(w, move(w, w->client, r, S_CLOSED, NULL), TESORO_EDENIED,
                    NULL); /* a move staff could make */
  TU_ASSERT_REFUSED(w, move(w, w->client, r, S_CONN, NULL), TESORO_EDENIED,
                    NULL); /* a back move */
  TU_ASSERT_REFUSED(w, move(w, w->client, r, S_ESCROW, D_SALE),
                    TESORO_EDENIED, NULL); /* the same stage */
  TU_ASSERT_REFUSED(w, move(w, w->website, r, S_PAID, D_PAID),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w,
                    tesoro_referral_move(w->t, w->client, r, S_CLOSED, NULL,
                                         7),
                    TESORO_EDENIED, NULL); /* a stale version */
  assert_stage(w, r, S_ESCROW);
}

/* ------------------------------------------------------------------------
** A whole life, history and check.
*/

static void test_full_life_history_and_check(void **state) {
  tu_world *w = *state;
  int64_t r, note = 0;
  tesoro_cursor *c = NULL;
  int rc, k = 0;
  static const char *const events[] = {
      "connected", "meeting_scheduled", "failed", "add_note",
      "meeting_scheduled",
      "coming_soon", "listing",         "in_escrow", "making_an_offer",
      "in_escrow",  "closed",           "closed_paid"};
  TU_OK(w, tesoro_agency_set_referral_fee(w->t, w->admin, 300));
  r = new_ref(w, w->agent);
  TU_OK(w, move(w, w->agent, r, S_CONN, NULL));
  TU_OK(w, move(w, w->agent, r, S_MEET, D_MEETING));
  TU_OK(w, move(w, w->agent, r, S_FAILED, D_FAIL));
  TU_OK(w, tesoro_referral_note_add(w->t, w->agent, r, "They called back",
                                    &note));
  TU_OK(w, move(w, w->agent, r, S_MEET, NULL));
  TU_OK(w, move(w, w->agent, r, S_SOON, "{\"list_date\":\"2026-05-30\"}"));
  TU_OK(w, tesoro_clock_set(w->t, AMS_MIDNIGHT_0530));
  TU_OK(w, tesoro_tick(w->t, AMS_MIDNIGHT_0530, NULL));
  assert_stage(w, r, S_LIST);
  TU_OK(w, move(w, w->agent, r, S_ESCROW,
                "{\"sale_price\":50000000,\"close_date\":\"2026-08-01\"}"));
  TU_OK(w, move(w, w->closings, r, S_OFFER, NULL));
  TU_OK(w, move(w, w->agent, r, S_ESCROW, NULL));
  TU_OK(w, move(w, w->agent, r, S_CLOSED, NULL));
  assert_int_equal(ref_int(w, r, "fee_owed"), 1500000);
  TU_OK(w, move(w, w->closings, r, S_PAID, "{\"paid_amount\":1500000}"));
  TU_OK(w, tesoro_history(w->t, w->agent2, TESORO_ENTITY_REFERRAL, r, &c));
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
    const char *e = tu_col_text(c, "event");
    if (k == 0) { /* creation row */
      assert_int_equal(tu_col_int(c, "seq"), 1);
    } else if (k - 1 < (int)(sizeof events / sizeof events[0])) {
      if (!e || strcmp(e, events[k - 1]) != 0) {
        print_error("history row %d: event %s, expected %s\n", k,
                    e ? e : "(null)", events[k - 1]);
        tesoro_cursor_free(c);
        fail();
      }
      assert_int_equal(tu_col_int(c, "seq"), k + 1);
    }
    k++;
  }
  tesoro_cursor_free(c);
  assert_int_equal(rc, TESORO_DONE);
  assert_int_equal(k, 1 + (int)(sizeof events / sizeof events[0]));
  assert_int_equal(tu_version_of(w, REF, r), k);
  TU_OK(w, tesoro_check(w->t));
}

#define T TU_TEST

int main(void) {
  const struct CMUnitTest tests[] = {
      /* fee agreement and creation */
      T(test_set_referral_fee_admin_only_and_in_range),
      T(test_create_starts_at_left_voicemail_with_caller_as_agent),
      T(test_create_refuses_bad_actor_agent_contact_and_pointers),
      T(test_fee_bp_fixed_at_creation),
      /* forward moves and stage data */
      T(test_forward_jumps_to_any_later_stage),
      T(test_meeting_scheduled_requires_meeting_at),
      T(test_coming_soon_list_date_today_or_later),
      T(test_coming_soon_list_date_is_the_agency_local_day),
      T(test_malformed_dates_refused),
      T(test_impossible_calendar_dates_refused),
      T(test_in_escrow_requires_sale_price_and_close_date),
      T(test_closed_requires_sale_data_unless_stored),
      T(test_stage_data_keys_json_and_stage_numbers_checked),
      T(test_move_refuses_bad_handle_ids_and_other_agency),
      /* back moves and notes */
      T(test_backward_moves_refused_leave_a_note),
      T(test_notes_in_every_stage_and_cursor),
      T(test_note_add_refuses_client_and_bad_text),
      /* failed and revival */
      T(test_failed_from_every_active_stage_before_closed),
      T(test_failed_refused_from_closed_and_closed_paid),
      T(test_failed_revives_only_to_last_active_stage),
      T(test_revival_reuses_stored_stage_data),
      /* closings */
      T(test_in_escrow_back_to_listing_or_offer_closings_only),
      T(test_closed_paid_closings_only_with_payment),
      T(test_in_escrow_queues_closing_documents_to_agent),
      /* fees */
      T(test_fee_owed_on_closed_rounded_half_up),
      T(test_fee_owed_also_after_failed_and_revived),
      /* the list-date timer */
      T(test_tick_moves_coming_soon_to_listing_on_local_date),
      T(test_tick_uses_the_referral_agency_zone),
      T(test_failing_coming_soon_withdraws_its_timer),
      T(test_moved_on_coming_soon_is_not_listed_by_tick),
      T(test_revived_coming_soon_still_lists_on_its_date),
      T(test_list_date_applies_without_a_tick),
      T(test_contact_attempts_as_data),
      /* lists */
      T(test_referrals_filters),
      T(test_referral_pipeline_counts),
      T(test_referrals_hidden_from_client_website_and_other_agency),
      /* the machine */
      T(test_transition_table_every_stage_pair_and_role),
      T(test_allowed_matches_rules_in_every_stage),
      T(test_allowed_for_client_and_machine_dot),
      T(test_stale_version_conflicts),
      T(test_non_staff_refused_before_stage_or_version_shows),
      T(test_full_life_history_and_check),
  };
  return cmocka_run_group_tests_name("referrals", tests, NULL, NULL);
}
