/*
** test_portal.c — SPEC §5, the client portal.  So far: the property feed's
** statuses (the deal property machine's client rows), with every refusal
** checked for its code, its message and an unchanged database.
*/
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
  return tu_sqlf(w, "SELECT count(*) FROM activity WHERE contact_id = %lld "
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
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, appointment, at, 0));
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
  TU_OK(w, tesoro_allowed(w->t, w->client, TESORO_ENTITY_DEAL_PROPERTY, dp, &c));
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_feed_interested_then_not_then_interested_again, tu_setup, tu_teardown),
      cmocka_unit_test_setup_teardown(test_feed_not_interested_needs_known_reasons, tu_setup, tu_teardown),
      cmocka_unit_test_setup_teardown(test_feed_approve_only_from_interesting_or_viewed, tu_setup, tu_teardown),
      cmocka_unit_test_setup_teardown(test_feed_viewed_after_started_viewing_then_approve, tu_setup, tu_teardown),
      cmocka_unit_test_setup_teardown(test_feed_favourite_in_any_status, tu_setup, tu_teardown),
      cmocka_unit_test_setup_teardown(test_feed_only_the_deals_client, tu_setup, tu_teardown),
      cmocka_unit_test_setup_teardown(test_feed_events_in_allowed_query, tu_setup, tu_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
