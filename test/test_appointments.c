/*
** test_appointments.c — SPEC §3 (viewing appointments) with the §7 points
** "who and why", "viewing reminders" and "no-show": deals, the properties
** offered to them, the appointment machine, its timers, the client's and
** the agent's lists and the iCalendar export.
**
** One test per rule, named after it.  Each test gets a fresh world
** (tu_setup): "Tesoro Homes" (Europe/Amsterdam) with Ada (w->contact, client
** w->client, assigned to w->agent) and Bob (w->contact2, client w->client2,
** assigned to w->agent2), plus "Other Estates" (UTC).  Listings are
** published by tu_published_listing (seller onboarding walked for a fresh
** owner).  Refusals are checked with TU_ASSERT_REFUSED: the code, a key word
** of the message and an unchanged database digest.  Outbox rows and timers
** are read straight from the file (outbox joined to the history row that
** caused it; the timer table).
**
** Instants are constants computed with python3 (calendar.timegm / zoneinfo);
** each comment gives UTC and Amsterdam local time.  Europe/Amsterdam 2026:
** CEST from 2026-03-29 01:00 UTC to 2026-10-25 01:00 UTC.
*/
#include "testutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libical/ical.h>

/* ------------------------------------------------------------------------
** Instants.
*/
#define HOUR INT64_C(3600)
#define DAY INT64_C(86400)

/* TU_NOW = 1780000000 = 2026-05-28T20:26:40Z = 22:26:40 CEST */
#define D1 INT64_C(1780387200) /* 2026-06-02T08:00:00Z = Tue 10:00 CEST */
#define D2 INT64_C(1780488000) /* 2026-06-03T12:00:00Z = Wed 14:00 CEST */
#define D3 INT64_C(1780590600) /* 2026-06-04T16:30:00Z = Thu 18:30 CEST */
#define D4 INT64_C(1780650000) /* 2026-06-05T09:00:00Z = Fri 11:00 CEST */

/* Spring forward: Sunday 2026-03-29 is 23 hours long in Amsterdam
   (local midnight = 2026-03-28T23:00Z, next midnight = 2026-03-29T22:00Z). */
#define SP_BEFORE    INT64_C(1774004400) /* 2026-03-20T11:00Z = 03-20 12:00 CET */
#define SP_START     INT64_C(1774807200) /* 2026-03-29T18:00Z = 03-29 20:00 CEST */
#define SP_EARLY     INT64_C(1774740600) /* 2026-03-28T23:30Z = 03-29 00:30 CET */
#define SP_DAYBEFORE INT64_C(1774737000) /* 2026-03-28T22:30Z = 03-28 23:30 CET */
#define SP_LATE      INT64_C(1774819800) /* 2026-03-29T21:30Z = 03-29 23:30 CEST */
#define SP_DAYAFTER  INT64_C(1774823400) /* 2026-03-29T22:30Z = 03-30 00:30 CEST */

/* Fall back: Sunday 2026-10-25 is 25 hours long in Amsterdam
   (local midnight = 2026-10-24T22:00Z, next midnight = 2026-10-25T23:00Z). */
#define AU_START     INT64_C(1792954800) /* 2026-10-25T19:00Z = 10-25 20:00 CET */
#define AU_EARLY     INT64_C(1792881000) /* 2026-10-24T22:30Z = 10-25 00:30 CEST */
#define AU_DAYBEFORE INT64_C(1792877400) /* 2026-10-24T21:30Z = 10-24 23:30 CEST */
#define AU_LATE      INT64_C(1792967400) /* 2026-10-25T22:30Z = 10-25 23:30 CET */
#define AU_DAYAFTER  INT64_C(1792971000) /* 2026-10-25T23:30Z = 10-26 00:30 CET */

#define APPT TESORO_ENTITY_APPOINTMENT
#define PRICE INT64_C(45000000) /* EUR 450,000.00 */

#define T_CREATED "Meeting Created By Portal User"
#define T_STATUS "Meeting Status Changed By Portal User"
#define T_CANCELLED "Meeting Cancelled By Portal User"
#define T_CALENDAR "Calendar Meeting Event"
#define T_REMINDER "Viewing Reminder"
#define T_FEEDBACK "Viewing Feedback Request"

/* ------------------------------------------------------------------------
** Voice-note samples (magic bytes of each container).
*/
static const unsigned char mp3_sample[] = {
    'I', 'D', '3', 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0A,
    0xFF, 0xFB, 0x90, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
static const unsigned char ogg_sample[] = {
    'O', 'g', 'g', 'S', 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x13, 'O', 'p', 'u', 's', 'H', 'e', 'a', 'd'};
static const unsigned char wav_sample[] = {
    'R', 'I', 'F', 'F', 36, 0, 0, 0, 'W', 'A', 'V', 'E',
    'f', 'm', 't', ' ', 16, 0, 0, 0, 1, 0, 1, 0, 0x40, 0x1F, 0, 0,
    0x80, 0x3E, 0, 0, 2, 0, 16, 0, 'd', 'a', 't', 'a', 0, 0, 0, 0};
static const unsigned char webm_sample[] = {
    0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01, 0x42, 0xF7,
    0x81, 0x01, 0x42, 0x82, 0x84, 'w', 'e', 'b', 'm', 0x42, 0x87};
static const unsigned char mp4_sample[] = {
    0x00, 0x00, 0x00, 0x18, 'f', 't', 'y', 'p', 'M', '4', 'A', ' ',
    0x00, 0x00, 0x02, 0x00, 'i', 's', 'o', 'm', 'M', '4', 'A', ' ',
    0x00, 0x00, 0x00, 0x08, 'f', 'r', 'e', 'e'};

/* ------------------------------------------------------------------------
** Helpers.
*/

/* `json` is a JSON array of exactly these n integers, in this order. */
static void assert_json_ints(const char *json, const int64_t *want, int n) {
  char path[16], num[32];
  int i;
  char *extra;
  for (i = 0; i < n; i++) {
    snprintf(path, sizeof path, "$[%d]", i);
    snprintf(num, sizeof num, "%lld", (long long)want[i]);
    tu_assert_json_eq(json, path, num);
  }
  snprintf(path, sizeof path, "$[%d]", n);
  extra = tu_jget(json, path);
  if (extra) {
    print_error("%s has more than %d elements\n", json, n);
    free(extra);
    fail();
  }
}

/* The call fails with `code`, its message mentions n1 or n2 (ignoring case),
   and the database digest is unchanged. */
#define REFUSED2(w, call, code, n1, n2)                                       \
  do {                                                                        \
    char r2_before_[65], r2_after_[65];                                       \
    const char *r2_msg_;                                                      \
    int r2_rc_;                                                               \
    tu_digest((w), r2_before_);                                               \
    r2_rc_ = (call);                                                          \
    tu_check_err_((w), r2_rc_, (code), NULL, #call, __FILE__, __LINE__);      \
    r2_msg_ = tesoro_errmsg((w)->t);                                          \
    if (!tu_contains_ci(r2_msg_, (n1)) && !tu_contains_ci(r2_msg_, (n2))) {   \
      print_error("%s:%d: %s: errmsg \"%s\" mentions neither \"%s\" nor "     \
                  "\"%s\"\n",                                                 \
                  __FILE__, __LINE__, #call, r2_msg_ ? r2_msg_ : "(null)",    \
                  (n1), (n2));                                                \
      _fail(__FILE__, __LINE__);                                              \
    }                                                                         \
    tu_digest((w), r2_after_);                                                \
    tu_check_digest_(r2_before_, r2_after_, #call, __FILE__, __LINE__);       \
  } while (0)

/* A listing offered to a deal of one contact. */
typedef struct viewing {
  int64_t listing, deal, dp, photo;
} viewing;

/* Publish a listing, open a deal for `contact` (by w->agent) and offer it. */
static void offer_to(tu_world *w, viewing *v, int64_t contact,
                     const char *title, const char *address, int64_t price) {
  memset(v, 0, sizeof *v);
  v->listing = tu_published_listing(w, title, address, price);
  TU_OK(w, tesoro_deal_create(w->t, w->agent, contact,
                              "3-bedroom house in Amsterdam", &v->deal));
  TU_OK(w, tesoro_deal_offer(w->t, w->agent, v->deal, v->listing, &v->dp));
  assert_true(v->deal > 0 && v->dp > 0);
}

/* Ada's canal house. */
static void offer(tu_world *w, viewing *v) {
  offer_to(w, v, w->contact, "Canal house", "Herengracht 100, Amsterdam",
           PRICE);
}

static int64_t request_n(tu_world *w, int64_t client, int64_t dp,
                         const int64_t *at, int n) {
  int64_t a = 0;
  TU_OK(w, tesoro_appointment_request(w->t, client, dp, at, n, &a));
  assert_true(a > 0);
  return a;
}

static int64_t request1(tu_world *w, int64_t client, int64_t dp, int64_t at) {
  return request_n(w, client, dp, &at, 1);
}

/* Ada requests one date and w->agent confirms it. */
static int64_t confirmed(tu_world *w, int64_t dp, int64_t at) {
  int64_t a = request1(w, w->client, dp, at);
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, a, at, 0, 0));
  return a;
}

/* Confirmed at `at`, then completed by the timer (tick just after its end,
** an hour after the start). */
static int64_t completed_by_timer(tu_world *w, int64_t dp, int64_t at) {
  int64_t a = confirmed(w, dp, at);
  TU_OK(w, tesoro_tick(w->t, at + HOUR + 60, NULL));
  tu_assert_state(w, APPT, a, "completed");
  return a;
}

/* Outbox rows caused by changes of appointment `a` (outbox joined to its
   history row): recipient 0 = anyone, channel/tmpl NULL = any. */
static int64_t outbox_n(tu_world *w, int64_t a, int64_t recipient,
                        const char *channel, const char *tmpl) {
  char sql[1024];
  size_t n;
  n = (size_t)snprintf(sql, sizeof sql,
                       "SELECT count(*) FROM outbox_delivery o JOIN history h ON "
                       "h.entity = o.entity AND h.entity_id = o.entity_id AND h.seq = o.seq WHERE h.entity = %d AND "
                       "h.entity_id = %lld",
                       APPT, (long long)a);
  if (recipient)
    n += (size_t)snprintf(sql + n, sizeof sql - n, " AND o.recipient_id = %lld",
                          (long long)recipient);
  if (channel)
    n += (size_t)snprintf(sql + n, sizeof sql - n,
                          " AND o.channel = '%s' AND o.kind = '%s'", channel,
                          strcmp(channel, "calendar") == 0 ? "calendar"
                                                           : "notification");
  if (tmpl)
    snprintf(sql + n, sizeof sql - n, " AND o.template = '%s'", tmpl);
  return tu_sql_int(w, sql);
}

/* Calendar rows of appointment `a`. */
static int64_t cal_n(tu_world *w, int64_t a) {
  return outbox_n(w, a, 0, "calendar", NULL);
}

/* The appointment state in the payload of its newest calendar row, as
   tesoro_outbox_fetch renders it (the clock moved on so every row is due,
   then put back). */
static void assert_last_calendar_state(tu_world *w, int64_t a,
                                       const char *want) {
  tesoro_cursor *c = NULL;
  int64_t now = tesoro_now(w->t), newest = 0;
  char *payload = NULL;
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 3650 * DAY));
  TU_OK(w, tesoro_outbox_fetch(w->t, w->agency, 10000, &c));
  while (tesoro_cursor_next(c) == TESORO_ROW)
    if (strcmp(tu_col_text(c, "kind"), "calendar") == 0 &&
        tu_col_int(c, "entity") == APPT && tu_col_int(c, "entity_id") == a &&
        tu_col_int(c, "id") > newest) {
      newest = tu_col_int(c, "id");
      free(payload);
      payload = tu_strdup(tu_col_text(c, "payload"));
      assert_string_equal(tu_col_text(c, "template"), T_CALENDAR);
    }
  tesoro_cursor_free(c);
  TU_OK(w, tesoro_clock_set(w->t, now));
  assert_non_null(payload);
  tu_assert_json_eq(payload, "$.state", want);
  free(payload);
}

/* Pending timers of appointment `a` whose kind is LIKE `kind` (NULL: any).
   A timer that fires or is withdrawn is deleted: what fired is in history
   (history_n). */
static int64_t timer_n(tu_world *w, int64_t a, const char *kind) {
  return tu_sqlf(w,
              "SELECT count(*) FROM timer WHERE entity = %d AND entity_id = "
              "%lld AND kind LIKE '%s'",
              APPT, (long long)a, kind ? kind : "%");
}

/* History rows of appointment `a` for `event`. */
static int64_t history_n(tu_world *w, int64_t a, const char *event) {
  return tu_sqlf(w,
              "SELECT count(*) FROM history WHERE entity = %d AND entity_id = "
              "%lld AND event = '%s'", APPT, (long long)a, event);
}

/* Pending timers of `a` due exactly at `due`. */
static int64_t pending_due(tu_world *w, int64_t a, int64_t due) {
  return tu_sqlf(w,
              "SELECT count(*) FROM timer WHERE entity = %d AND entity_id = "
              "%lld AND due_at = %lld",
              APPT, (long long)a, (long long)due);
}

static void assert_last_event(tu_world *w, int64_t a, const char *event,
                              int64_t actor, const char *to_state) {
  tu_history h;
  tu_last_history(w, APPT, a, &h);
  assert_non_null(h.event);
  assert_string_equal(h.event, event);
  assert_int_equal(h.actor, actor);
  assert_non_null(h.to_state);
  assert_string_equal(h.to_state, to_state);
  tu_history_free(&h);
}

/* The ids of one client list, in order (at most max); returns the count. */
static int client_list(tu_world *w, int64_t client, int list, int64_t *ids,
                       int max) {
  tesoro_cursor *c = NULL;
  TU_OK(w, tesoro_client_appointments(w->t, client, list, &c));
  return tu_cursor_ids(c, ids, max);
}

static int agent_list(tu_world *w, int64_t actor, int64_t agent, int state,
                      int64_t from, int64_t to, int64_t *ids, int max) {
  tesoro_cursor *c = NULL;
  TU_OK(w, tesoro_agent_appointments(w->t, actor, agent, state, from, to, &c));
  return tu_cursor_ids(c, ids, max);
}

/* Step a cursor to the row whose "id" is `id` (the test fails if none). */
static void seek_id(tesoro_cursor *c, int64_t id) {
  int rc;
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW)
    if (tu_col_int(c, "id") == id) return;
  print_error("no row with id %lld (rc %d)\n", (long long)id, rc);
  fail();
}

static int col_isnull(tesoro_cursor *c, const char *name) {
  return tesoro_cursor_isnull(c, tu_col_index(c, name));
}

static void assert_col_text(tesoro_cursor *c, const char *name,
                            const char *want) {
  const char *v = tu_col_text(c, name);
  if (!v || strcmp(v, want) != 0) {
    print_error("column %s is \"%s\", expected \"%s\"\n", name,
                v ? v : "(null)", want);
    fail();
  }
}

/* Is [p, p+n) valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF)? */
static int utf8_ok(const unsigned char *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    size_t len, k;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return 0;
    }
    if (i + len > n) return 0;
    for (k = 1; k < len; k++) {
      if ((p[i + k] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return 0;
    i += len;
  }
  return 1;
}

/* Raw RFC 5545 layout: every line ends with CRLF, no bare CR or LF, no
   physical line over 75 octets, continuation lines start with one space (not
   a tab), every physical line valid UTF-8.  Returns the number of
   continuation lines. */
static int check_ics_layout(const char *ics) {
  const char *p = ics;
  size_t total = strlen(ics);
  int folded = 0, lines = 0;
  assert_true(total >= 2);
  if (!(ics[total - 2] == '\r' && ics[total - 1] == '\n')) {
    print_error("iCalendar text does not end with CRLF\n");
    fail();
  }
  while (*p) {
    const char *eol = strstr(p, "\r\n");
    size_t len, i;
    assert_non_null(eol);
    len = (size_t)(eol - p);
    for (i = 0; i < len; i++) {
      if (p[i] == '\r' || p[i] == '\n') {
        print_error("bare CR or LF in line %d: %.*s\n", lines + 1, (int)len,
                    p);
        fail();
      }
    }
    if (len > 75) {
      print_error("line %d is %zu octets: %.*s\n", lines + 1, len, (int)len,
                  p);
      fail();
    }
    if (!utf8_ok((const unsigned char *)p, len)) {
      print_error("line %d is not valid UTF-8 on its own (a fold split a "
                  "character?)\n",
                  lines + 1);
      fail();
    }
    if (len > 0 && p[0] == '\t') {
      print_error("line %d is continued with a tab\n", lines + 1);
      fail();
    }
    if (len > 0 && p[0] == ' ') {
      assert_true(lines > 0);
      folded++;
    }
    assert_true(len > 0); /* no empty content lines */
    lines++;
    p = eol + 2;
  }
  return folded;
}

/* Decode an RFC 5545 TEXT value (3.3.10/3.3.11) strictly, independently of
   the library and of libical: a backslash must be followed by one of
   \\ ; , n N; an unescaped ';' or ',' and control characters (other than
   HTAB) are errors.  malloc'd decoded text, or NULL when the value breaks
   the grammar. */
static char *ics_text_decode(const char *v) {
  char *out = malloc(strlen(v) + 1), *o = out;
  const char *p;
  assert_non_null(out);
  for (p = v; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '\\') {
      p++;
      if (*p == '\\' || *p == ';' || *p == ',') *o++ = *p;
      else if (*p == 'n' || *p == 'N') *o++ = '\n';
      else goto bad;
    } else if (c == ';' || c == ',' || (c < 0x20 && c != '\t') || c == 0x7F) {
      goto bad;
    } else {
      *o++ = (char)c;
    }
  }
  *o = '\0';
  return out;
bad:
  free(out);
  return NULL;
}

/* The value of the first content line named `name` (after unfolding: CRLF
   followed by one space is removed), i.e. the text after the line's first
   ':' (parameters skipped).  malloc'd; NULL when there is no such line. */
static char *ics_raw_value(const char *ics, const char *name) {
  char *u = malloc(strlen(ics) + 1), *o = u, *line, *v = NULL;
  const char *p;
  size_t n = strlen(name);
  assert_non_null(u);
  for (p = ics; *p; p++) {
    if (p[0] == '\r' && p[1] == '\n' && p[2] == ' ') {
      p += 2; /* skip CR LF SP */
      continue;
    }
    *o++ = *p;
  }
  *o = '\0';
  for (line = u; line && *line;) {
    char *eol = strstr(line, "\r\n");
    if (eol) *eol = '\0';
    if (strncmp(line, name, n) == 0 && (line[n] == ':' || line[n] == ';')) {
      char *colon = strchr(line, ':');
      assert_non_null(colon);
      v = tu_strdup(colon + 1);
      break;
    }
    line = eol ? eol + 2 : NULL;
  }
  free(u);
  return v;
}

/* The raw value of content line `name` is TEXT that decodes to `text`. */
static void assert_ics_text(const char *ics, const char *name,
                            const char *text) {
  char *got = ics_raw_value(ics, name);
  char *dec = got ? ics_text_decode(got) : NULL;
  if (!dec || strcmp(dec, text) != 0) {
    print_error("%s is \"%s\": %s\n", name, got ? got : "(none)",
                dec ? "decodes to other text" : "not an escaped TEXT value");
    free(got);
    free(dec);
    fail();
  }
  free(got);
  free(dec);
}

/* Export `a` as iCalendar (by `actor`, with `link`) and parse it with
   libical: returns the VCALENDAR (free with icalcomponent_free) and the text
   in *raw (tesoro_free; or both with ics_free), its one VEVENT in *ev. */
static icalcomponent *ics_parse(tu_world *w, int64_t actor, int64_t a,
                                const char *link, char **raw,
                                icalcomponent **ev) {
  char *ics = NULL;
  icalcomponent *cal;
  TU_OK(w, tesoro_appointment_ics(w->t, actor, a, link, &ics));
  assert_non_null(ics);
  cal = icalparser_parse_string(ics);
  if (!cal) {
    print_error("libical cannot parse:\n%s\n", ics);
    tesoro_free(ics);
    fail();
  }
  assert_int_equal(icalcomponent_isa(cal), ICAL_VCALENDAR_COMPONENT);
  if (icalcomponent_count_errors(cal) != 0) {
    print_error("libical reports errors in:\n%s\n", ics);
    fail();
  }
  assert_int_equal(
      icalcomponent_count_components(cal, ICAL_VEVENT_COMPONENT), 1);
  *raw = ics;
  *ev = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
  assert_non_null(*ev);
  return cal;
}

/* Free what ics_parse returned. */
static void ics_free(icalcomponent *cal, char *raw) {
  icalcomponent_free(cal);
  tesoro_free(raw);
}

static int64_t ical_utc(struct icaltimetype tt) {
  assert_true(icaltime_is_utc(tt));
  return (int64_t)icaltime_as_timet_with_zone(tt,
                                              icaltimezone_get_utc_timezone());
}

/* ------------------------------------------------------------------------
** 1. Deals.
*/

static void test_deal_create_by_staff_only(void **state) {
  tu_world *w = *state;
  int64_t deal = 0, deal2 = 0, deal3 = 0, d = 0;
  char *lng;

  TU_OK(w, tesoro_deal_create(w->t, w->agent, w->contact,
                              "3-bedroom house in Utrecht", &deal));
  assert_true(deal > 0);
  tu_assert_state(w, TESORO_ENTITY_DEAL, deal, "active");
  TU_TEXT_IS(tu_row_text(w, "deal", deal, "name"),
             "3-bedroom house in Utrecht");
  assert_int_equal(tu_sqlf(w, "SELECT contact_id FROM deal WHERE id = %lld",
                        (long long)deal),
                   w->contact);
  assert_int_equal(tu_sqlf(w, "SELECT agent_id FROM deal WHERE id = %lld",
                        (long long)deal),
                   w->agent);
  /* Bob is assigned to agent2: opened by the admin, the deal is agent2's */
  TU_OK(w, tesoro_deal_create(w->t, w->admin, w->contact2, "Flat in Zuid",
                              &deal2));
  assert_int_equal(tu_sqlf(w, "SELECT agent_id FROM deal WHERE id = %lld",
                        (long long)deal2),
                   w->agent2);
  /* the closings role is staff too */
  TU_OK(w, tesoro_deal_create(w->t, w->closings, w->contact, "Second search",
                              &deal3));
  assert_true(deal3 != deal && deal3 != deal2);

  /* not staff */
  TU_ASSERT_REFUSED(w, tesoro_deal_create(w->t, w->client, w->contact, "Mine",
                                          &d),
                    TESORO_EDENIED, "only");
  TU_ASSERT_REFUSED(w, tesoro_deal_create(w->t, w->website, w->contact, "Web",
                                          &d),
                    TESORO_EDENIED, "only");
  /* tenancy, both ways */
  TU_ASSERT_REFUSED(w, tesoro_deal_create(w->t, w->agent, w->other_contact,
                                          "Theirs", &d),
                    TESORO_EDENIED, "another agency");
  TU_ASSERT_REFUSED(w, tesoro_deal_create(w->t, w->other_agent, w->contact,
                                          "Ours", &d),
                    TESORO_EDENIED, "another agency");
  /* bad names */
  TU_ASSERT_REFUSED(w, tesoro_deal_create(w->t, w->agent, w->contact, NULL,
                                          &d),
                    TESORO_EINVAL, "required");
  TU_ASSERT_REFUSED(w, tesoro_deal_create(w->t, w->agent, w->contact, "", &d),
                    TESORO_EINVAL, "required");
  lng = tu_long_string(TESORO_MAX_TEXT + 1);
  TU_ASSERT_REFUSED(w, tesoro_deal_create(w->t, w->agent, w->contact, lng, &d),
                    TESORO_EINVAL, "longer");
  free(lng);
  TU_ASSERT_REFUSED(w, tesoro_deal_create(w->t, w->agent, w->contact,
                                          TU_BAD_UTF8, &d),
                    TESORO_EINVAL, "UTF-8");
  /* ids, out, handle */
  TU_ASSERT_REFUSED(w, tesoro_deal_create(w->t, w->agent, 999999, "Ghost", &d),
                    TESORO_ENOTFOUND, "does not exist");
  TU_ASSERT_REFUSED(w, tesoro_deal_create(w->t, w->agent, 0, "Zero", &d),
                    TESORO_EINVAL, "> 0");
  TU_ASSERT_REFUSED(w, tesoro_deal_create(w->t, w->agent, w->contact, "Out",
                                          NULL),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_deal_create(NULL, w->agent, w->contact, "H", &d),
                    TESORO_EMISUSE, NULL);
  assert_int_equal(d, 0);
  TU_OK(w, tesoro_check(w->t));
}

static void test_deal_offer_needs_published_listing_of_same_agency(
    void **state) {
  tu_world *w = *state;
  int64_t deal = 0, dp = 0, d = 0, published, draft, unpublished, theirs;

  published = tu_published_listing(w, "Canal house", "Herengracht 1", PRICE);
  draft = tu_listing_in(w, w->website, w->agent, "Draft house", "Singel 2",
                        PRICE, 0);
  unpublished = tu_published_listing(w, "Old house", "Singel 3", PRICE);
  TU_OK(w, tesoro_listing_unpublish(w->t, w->agent, unpublished, 0));
  theirs = tu_published_listing_other(w, "London flat", "1 Baker St", 90000000);
  TU_OK(w, tesoro_deal_create(w->t, w->agent, w->contact, "House", &deal));

  TU_OK(w, tesoro_deal_offer(w->t, w->agent, deal, published, &dp));
  assert_true(dp > 0);
  tu_assert_state(w, TESORO_ENTITY_DEAL_PROPERTY, dp, "to_review");
  assert_int_equal(tu_sqlf(w,
                        "SELECT count(*) FROM deal_property WHERE id = %lld "
                        "AND deal_id = %lld AND listing_id = %lld",
                        (long long)dp, (long long)deal, (long long)published),
                   1);

  TU_ASSERT_REFUSED(w, tesoro_deal_offer(w->t, w->agent, deal, draft, &d),
                    TESORO_EGUARD, "published");
  TU_ASSERT_REFUSED(w, tesoro_deal_offer(w->t, w->agent, deal, unpublished,
                                         &d),
                    TESORO_EGUARD, "published");
  TU_ASSERT_REFUSED(w, tesoro_deal_offer(w->t, w->agent, deal, theirs, &d),
                    TESORO_EDENIED, "another agency");
  REFUSED2(w, tesoro_deal_offer(w->t, w->agent, deal, published, &d),
           TESORO_EEXISTS, "already", "offered");
  TU_ASSERT_REFUSED(w, tesoro_deal_offer(w->t, w->client, deal, published, &d),
                    TESORO_EDENIED, "only");
  TU_ASSERT_REFUSED(w, tesoro_deal_offer(w->t, w->other_agent, deal, theirs,
                                         &d),
                    TESORO_EDENIED, "another agency");
  TU_ASSERT_REFUSED(w, tesoro_deal_offer(w->t, w->agent, deal, 999999, &d),
                    TESORO_ENOTFOUND, "does not exist");
  TU_ASSERT_REFUSED(w, tesoro_deal_offer(w->t, w->agent, 999999, published,
                                         &d),
                    TESORO_ENOTFOUND, "does not exist");
  TU_ASSERT_REFUSED(w, tesoro_deal_offer(w->t, w->agent, deal, 0, &d),
                    TESORO_EINVAL, "> 0");
  TU_ASSERT_REFUSED(w, tesoro_deal_offer(w->t, w->agent, deal, published,
                                         NULL),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_deal_offer(NULL, w->agent, deal, published, &d),
                    TESORO_EMISUSE, NULL);
  assert_int_equal(d, 0);
  TU_OK(w, tesoro_check(w->t));
}

static void test_deal_close_needs_reason_and_ends_offers(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t other, d = 0, a = 0, at = D1, ver;
  char *lng;
  int rc;
  char before[65], after[65];

  offer(w, &v);
  other = tu_published_listing(w, "Loft", "Damrak 5", PRICE);
  ver = tu_version_of(w, TESORO_ENTITY_DEAL, v.deal);

  TU_ASSERT_REFUSED(w, tesoro_deal_close(w->t, w->agent, v.deal, NULL, 0),
                    TESORO_EINVAL, "required");
  TU_ASSERT_REFUSED(w, tesoro_deal_close(w->t, w->agent, v.deal, "", 0),
                    TESORO_EINVAL, "required");
  lng = tu_long_string(TESORO_MAX_REASON + 1);
  TU_ASSERT_REFUSED(w, tesoro_deal_close(w->t, w->agent, v.deal, lng, 0),
                    TESORO_EINVAL, "longer");
  free(lng);
  TU_ASSERT_REFUSED(w, tesoro_deal_close(w->t, w->agent, v.deal, TU_BAD_UTF8,
                                         0),
                    TESORO_EINVAL, "UTF-8");
  TU_ASSERT_REFUSED(w, tesoro_deal_close(w->t, w->client, v.deal, "Bought", 0),
                    TESORO_EDENIED, "only");
  TU_ASSERT_REFUSED(w, tesoro_deal_close(w->t, w->agent, v.deal, "Bought",
                                         ver + 1),
                    TESORO_ECONFLICT, "version");

  TU_OK(w, tesoro_deal_close(w->t, w->agent, v.deal, "Bought elsewhere", ver));
  tu_assert_state(w, TESORO_ENTITY_DEAL, v.deal, "closed");
  TU_TEXT_IS(tu_row_text(w, "deal", v.deal, "end_reason"), "Bought elsewhere");

  TU_ASSERT_REFUSED(w, tesoro_deal_offer(w->t, w->agent, v.deal, other, &d),
                    TESORO_ESTATE, "closed");
  TU_ASSERT_REFUSED(w, tesoro_deal_close(w->t, w->agent, v.deal, "Again", 0),
                    TESORO_ESTATE, "closed");
  /* no viewing of a property of a closed deal (state or rule: either code) */
  tu_digest(w, before);
  rc = tesoro_appointment_request(w->t, w->client, v.dp, &at, 1, &a);
  tu_digest(w, after);
  assert_true(rc == TESORO_ESTATE || rc == TESORO_EGUARD);
  assert_true(tu_contains_ci(tesoro_errmsg(w->t), "closed") ||
              tu_contains_ci(tesoro_errmsg(w->t), "active"));
  assert_string_equal(before, after);
  assert_int_equal(a, 0);
  TU_OK(w, tesoro_check(w->t));
}

static void test_deal_properties_lists_offers_with_columns(void **state) {
  tu_world *w = *state;
  int64_t deal = 0, l1, l2, dp1 = 0, dp2 = 0, photo;
  tesoro_cursor *c = NULL;
  char *ref1, *ref2;
  static const char *const cols[] = {"id",    "listing_id", "state",
                                     "favourite", "title", "address",
                                     "price", "ref",        "photo_id",
                                     "created_at", "version"};
  size_t i;

  l1 = tu_published_listing(w, "Canal house", "Herengracht 100, Amsterdam",
                            PRICE);
  photo = tu_listing_photo(w, w->agent, l1);
  l2 = tu_published_listing(w, "Loft", "Damrak 5, Amsterdam", 32500000);
  TU_OK(w, tesoro_deal_create(w->t, w->agent, w->contact, "House", &deal));
  TU_OK(w, tesoro_deal_offer(w->t, w->agent, deal, l1, &dp1));
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 60));
  TU_OK(w, tesoro_deal_offer(w->t, w->agent, deal, l2, &dp2));
  ref1 = tu_sqlf_text(w, "SELECT ref FROM listing WHERE id = %lld",
                   (long long)l1);
  ref2 = tu_sqlf_text(w, "SELECT ref FROM listing WHERE id = %lld",
                   (long long)l2);
  assert_non_null(ref1);
  assert_non_null(ref2);

  /* the deal's client reads it; newest first */
  TU_OK(w, tesoro_deal_properties(w->t, w->client, deal, &c));
  for (i = 0; i < sizeof cols / sizeof cols[0]; i++)
    assert_true(tesoro_cursor_index(c, cols[i]) >= 0);
  assert_int_equal(tesoro_cursor_next(c), TESORO_ROW);
  assert_int_equal(tu_col_int(c, "id"), dp2);
  assert_int_equal(tu_col_int(c, "listing_id"), l2);
  assert_col_text(c, "state", "to_review");
  assert_int_equal(tu_col_int(c, "favourite"), 0);
  assert_col_text(c, "title", "Loft");
  assert_col_text(c, "address", "Damrak 5, Amsterdam");
  assert_int_equal(tu_col_int(c, "price"), 32500000);
  assert_col_text(c, "ref", ref2);
  assert_true(col_isnull(c, "photo_id"));
  assert_int_equal(tu_col_int(c, "created_at"), TU_NOW + 60);
  assert_int_equal(tu_col_int(c, "version"),
                   tu_version_of(w, TESORO_ENTITY_DEAL_PROPERTY, dp2));
  assert_int_equal(tesoro_cursor_next(c), TESORO_ROW);
  assert_int_equal(tu_col_int(c, "id"), dp1);
  assert_int_equal(tu_col_int(c, "listing_id"), l1);
  assert_col_text(c, "title", "Canal house");
  assert_col_text(c, "address", "Herengracht 100, Amsterdam");
  assert_int_equal(tu_col_int(c, "price"), PRICE);
  assert_col_text(c, "ref", ref1);
  assert_false(col_isnull(c, "photo_id"));
  assert_int_equal(tu_col_int(c, "photo_id"), photo);
  assert_int_equal(tu_col_int(c, "created_at"), TU_NOW);
  assert_int_equal(tesoro_cursor_next(c), TESORO_DONE);
  tesoro_cursor_free(c);
  free(ref1);
  free(ref2);

  /* staff too; another client, another agency, bad input: no */
  TU_OK(w, tesoro_deal_properties(w->t, w->agent2, deal, &c));
  assert_int_equal(tu_count(c), 2);
  c = NULL;
  TU_ASSERT_REFUSED(w, tesoro_deal_properties(w->t, w->client2, deal, &c),
                    TESORO_EDENIED, "another client");
  TU_ASSERT_REFUSED(w, tesoro_deal_properties(w->t, w->other_agent, deal, &c),
                    TESORO_EDENIED, "another agency");
  TU_ASSERT_REFUSED(w, tesoro_deal_properties(w->t, w->client, 999999, &c),
                    TESORO_ENOTFOUND, "does not exist");
  TU_ASSERT_REFUSED(w, tesoro_deal_properties(w->t, w->client, 0, &c),
                    TESORO_EINVAL, "> 0");
  TU_ASSERT_REFUSED(w, tesoro_deal_properties(w->t, w->client, deal, NULL),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_deal_properties(NULL, w->client, deal, &c),
                    TESORO_EMISUSE, NULL);
  assert_null(c);
}

/* ------------------------------------------------------------------------
** 2. The appointment table, row by row.
*/

static void test_request_creates_pending_meeting_and_notifies_owner(
    void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a, at[2] = {D2, D1};
  char *json = NULL, *pref;

  /* Bob's deal, opened by w->agent: the owner is Bob's agent, agent2 */
  offer_to(w, &v, w->contact2, "Canal house", "Herengracht 100", PRICE);
  a = request_n(w, w->client2, v.dp, at, 2);

  tu_assert_state(w, APPT, a, "pending");
  TU_TEXT_IS(tu_row_text(w, "appointment", a, "type"), "visit_location");
  TU_TEXT_IS(tu_row_text(w, "appointment", a, "category"), "visit");
  assert_int_equal(tu_sqlf(w,
                        "SELECT count(*) FROM appointment WHERE id = %lld AND "
                        "deal_id = %lld AND deal_property_id = %lld AND "
                        "listing_id = %lld AND contact_id = %lld AND "
                        "agency_id = %lld AND start_at IS NULL",
                        (long long)a, (long long)v.deal, (long long)v.dp,
                        (long long)v.listing, (long long)w->contact2,
                        (long long)w->agency),
                   1);
  assert_int_equal(tu_sqlf(w, "SELECT owner_id FROM appointment WHERE id = %lld",
                        (long long)a),
                   w->agent2);
  pref = tu_sqlf_text(w, "SELECT preferred FROM appointment WHERE id = %lld",
                   (long long)a);
  assert_json_ints(pref, at, 2);
  free(pref);

  /* the entity JSON, as the client reads it */
  TU_OK(w, tesoro_entity_json(w->t, w->client2, APPT, a, &json));
  tu_assert_json_eq(json, "$.state", "pending");
  tu_assert_json_eq(json, "$.version", "1");
  tu_assert_json_eq(json, "$.type", "visit_location");
  tu_assert_json_eq(json, "$.category", "visit");
  tesoro_free(json);

  /* the owner on crm, push and e-mail, with the seed's template */
  assert_int_equal(outbox_n(w, a, w->agent2, "crm", T_CREATED), 1);
  assert_int_equal(outbox_n(w, a, w->agent2, "push", T_CREATED), 1);
  assert_int_equal(outbox_n(w, a, w->agent2, "email", T_CREATED), 1);
  assert_int_equal(outbox_n(w, a, w->client2, NULL, NULL), 0);
  assert_int_equal(outbox_n(w, a, w->agent, NULL, T_CREATED), 0);
  /* and the owner's calendar */
  assert_int_equal(cal_n(w, a), 1);
  assert_last_calendar_state(w, a, "pending");

  assert_last_event(w, a, "request", w->client2, "pending");
  TU_OK(w, tesoro_check(w->t));
}

static void test_request_owner_is_contacts_agent_else_deals_agent(
    void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a, b, room = 0, wclient = 0, wcontact = 0, deal = 0, dp = 0;

  /* Bob's deal is agent2's; Bob is then reassigned to w->agent: the owner is
     the contact's agent at request time */
  offer_to(w, &v, w->contact2, "Canal house", "Herengracht 100", PRICE);
  assert_int_equal(tu_sqlf(w, "SELECT agent_id FROM deal WHERE id = %lld",
                        (long long)v.deal),
                   w->agent2);
  TU_OK(w, tesoro_contact_assign(w->t, w->admin, w->contact2, w->agent, 0));
  a = request1(w, w->client2, v.dp, D1);
  assert_int_equal(tu_sqlf(w, "SELECT owner_id FROM appointment WHERE id = %lld",
                        (long long)a),
                   w->agent);
  assert_int_equal(outbox_n(w, a, w->agent, "email", T_CREATED), 1);
  assert_int_equal(outbox_n(w, a, w->agent2, NULL, NULL), 0);

  /* a contact from the website form has no agent: the deal's agent (the
     staff member who opened it) owns the viewing */
  TU_OK(w, tesoro_contact_request_submit(
               w->t, w->website, "Wendy Web", "wendy@example.com",
               TESORO_PROPERTY_APARTMENT, "Utrecht", 0, NULL, NULL, &room,
               &wclient));
  TU_OK(w, tesoro_actor_info(w->t, wclient, NULL, NULL, &wcontact));
  assert_int_equal(tu_sqlf(w,
                        "SELECT assigned_agent_id IS NULL FROM contact WHERE "
                        "id = %lld",
                        (long long)wcontact),
                   1);
  TU_OK(w, tesoro_deal_create(w->t, w->agent2, wcontact, "Flat in Utrecht",
                              &deal));
  assert_int_equal(tu_sqlf(w, "SELECT agent_id FROM deal WHERE id = %lld",
                        (long long)deal),
                   w->agent2);
  TU_OK(w, tesoro_deal_offer(w->t, w->agent2, deal, v.listing, &dp));
  b = request1(w, wclient, dp, D2);
  assert_int_equal(tu_sqlf(w, "SELECT owner_id FROM appointment WHERE id = %lld",
                        (long long)b),
                   w->agent2);
  assert_int_equal(outbox_n(w, b, w->agent2, "crm", T_CREATED), 1);
  assert_int_equal(outbox_n(w, b, w->agent2, "push", T_CREATED), 1);
  assert_int_equal(outbox_n(w, b, w->agent2, "email", T_CREATED), 1);
  TU_OK(w, tesoro_check(w->t));
}

static void test_confirm_at_preferred_time_emails_client(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a, at[2] = {D1, D2};

  offer(w, &v);
  a = request_n(w, w->client, v.dp, at, 2);
  assert_int_equal(outbox_n(w, a, w->client, NULL, NULL), 0);
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, a, D2, 0, 1));
  tu_assert_state(w, APPT, a, "confirmed");
  assert_int_equal(tu_version_of(w, APPT, a), 2);
  assert_int_equal(tu_sqlf(w, "SELECT start_at FROM appointment WHERE id = %lld",
                        (long long)a),
                   D2);
  assert_int_equal(outbox_n(w, a, w->client, "email", T_STATUS), 1);
  assert_int_equal(cal_n(w, a), 2);
  assert_last_calendar_state(w, a, "confirmed");
  assert_last_event(w, a, "confirm", w->agent, "confirmed");
  TU_OK(w, tesoro_check(w->t));
}

static void test_confirm_at_another_future_time_by_any_staff(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a;

  offer(w, &v);
  a = request1(w, w->client, v.dp, D1);
  /* D4 was not among the client's dates; agent2 is staff but not the owner */
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent2, a, D4, 0, 0));
  tu_assert_state(w, APPT, a, "confirmed");
  assert_int_equal(tu_sqlf(w, "SELECT start_at FROM appointment WHERE id = %lld",
                        (long long)a),
                   D4);
  assert_int_equal(outbox_n(w, a, w->client, "email", T_STATUS), 1);
  assert_int_equal(cal_n(w, a), 2);
  TU_OK(w, tesoro_check(w->t));
}

static void test_reschedule_moves_start_and_emails_client(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a, p;

  offer(w, &v);
  a = confirmed(w, v.dp, D1);
  p = request1(w, w->client, v.dp, D2);
  TU_OK(w, tesoro_appointment_reschedule(w->t, w->agent, a, D3, 0, 0));
  tu_assert_state(w, APPT, a, "confirmed");
  assert_int_equal(tu_sqlf(w, "SELECT start_at FROM appointment WHERE id = %lld",
                        (long long)a),
                   D3);
  assert_int_equal(outbox_n(w, a, w->client, "email", T_STATUS), 2);
  assert_int_equal(cal_n(w, a), 3);
  assert_last_calendar_state(w, a, "confirmed");
  assert_last_event(w, a, "reschedule", w->agent, "confirmed");

  REFUSED2(w, tesoro_appointment_reschedule(w->t, w->agent, a, TU_NOW - HOUR, 0,
                                            0),
           TESORO_EGUARD, "past", "future");
  TU_ASSERT_REFUSED(w, tesoro_appointment_reschedule(w->t, w->client, a, D4, 0, 0),
                    TESORO_EDENIED, "only");
  TU_ASSERT_REFUSED(w, tesoro_appointment_reschedule(w->t, w->agent, p, D4, 0, 0),
                    TESORO_ESTATE, "pending");
  TU_OK(w, tesoro_check(w->t));
}

/* The calendar payload of the k-th (0-based) calendar message of `a`, as
   tesoro_outbox_fetch hands it out (malloc'd). */
static char *calendar_payload(tu_world *w, int64_t a, int k) {
  tesoro_cursor *c = NULL;
  char *found = NULL;
  int n = 0;
  TU_OK(w, tesoro_outbox_fetch(w->t, w->agency, 10000, &c));
  while (tesoro_cursor_next(c) == TESORO_ROW)
    if (strcmp(tu_col_text(c, "kind"), "calendar") == 0 &&
        tu_col_int(c, "entity_id") == a && n++ == k)
      found = tu_strdup(tu_col_text(c, "payload"));
  tesoro_cursor_free(c);
  assert_non_null(found);
  return found;
}

/* A calendar message is rendered when fetched, but as the appointment was
   at its own transition: a later reschedule or completion does not change
   what an earlier message says. */
static void test_calendar_messages_show_their_own_moment(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a;
  char *p, num[32];
  offer(w, &v);
  a = confirmed(w, v.dp, D1);
  TU_OK(w, tesoro_appointment_reschedule(w->t, w->agent, a, D3, 0, 0));
  TU_OK(w, tesoro_tick(w->t, D3 + HOUR + 60, NULL));
  tu_assert_state(w, APPT, a, "completed");
  TU_OK(w, tesoro_clock_set(w->t, D3 + HOUR + 120)); /* every message is due */
  /* the request: pending, no start yet, nothing completed */
  p = calendar_payload(w, a, 0);
  tu_assert_json_eq(p, "$.state", "pending");
  tu_assert_json_eq(p, "$.version", "1");
  tu_assert_json_eq(p, "$.status_colour", "yellow");
  assert_null(tu_jget(p, "$.start_at"));
  assert_null(tu_jget(p, "$.completed_at"));
  tu_assert_json_eq(p, "$.title", "Canal house");
  free(p);
  /* the confirmation: the first start time */
  p = calendar_payload(w, a, 1);
  tu_assert_json_eq(p, "$.state", "confirmed");
  snprintf(num, sizeof num, "%lld", (long long)D1);
  tu_assert_json_eq(p, "$.start_at", num);
  snprintf(num, sizeof num, "%lld", (long long)(D1 + HOUR));
  tu_assert_json_eq(p, "$.end_at", num);
  assert_null(tu_jget(p, "$.completed_at"));
  tu_assert_json_eq(p, "$.event", "confirm");
  free(p);
  /* the reschedule: the new one */
  p = calendar_payload(w, a, 2);
  snprintf(num, sizeof num, "%lld", (long long)D3);
  tu_assert_json_eq(p, "$.start_at", num);
  tu_assert_json_eq(p, "$.event", "reschedule");
  assert_null(tu_jget(p, "$.completed_at"));
  free(p);
  /* the completion: completed, with its time */
  p = calendar_payload(w, a, 3);
  tu_assert_json_eq(p, "$.state", "completed");
  tu_assert_json_eq(p, "$.status_colour", "green");
  snprintf(num, sizeof num, "%lld", (long long)(D3 + HOUR + 60));
  tu_assert_json_eq(p, "$.completed_at", num);
  free(p);
  TU_OK(w, tesoro_check(w->t));
}

static void test_reject_requires_reason_and_emails_client(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a, c;

  offer(w, &v);
  a = request1(w, w->client, v.dp, D1);
  c = confirmed(w, v.dp, D2);
  REFUSED2(w, tesoro_appointment_reject(w->t, w->agent, a, NULL, 0),
           TESORO_EINVAL, "reason", "required");
  REFUSED2(w, tesoro_appointment_reject(w->t, w->agent, a, "", 0),
           TESORO_EINVAL, "reason", "required");
  TU_ASSERT_REFUSED(w, tesoro_appointment_reject(w->t, w->client, a,
                                                 "Changed my mind", 0),
                    TESORO_EDENIED, "only");
  TU_ASSERT_REFUSED(w, tesoro_appointment_reject(w->t, w->agent, c,
                                                 "Too late", 0),
                    TESORO_ESTATE, "confirmed");

  TU_OK(w, tesoro_appointment_reject(w->t, w->agent, a,
                                     "The owner is abroad that week", 0));
  tu_assert_state(w, APPT, a, "rejected");
  TU_TEXT_IS(tu_row_text(w, "appointment", a, "end_reason"),
             "The owner is abroad that week");
  assert_int_equal(tu_sqlf(w, "SELECT ended_by FROM appointment WHERE id = %lld",
                        (long long)a),
                   w->agent);
  assert_int_equal(tu_sqlf(w, "SELECT ended_at FROM appointment WHERE id = %lld",
                        (long long)a),
                   TU_NOW);
  assert_int_equal(outbox_n(w, a, w->client, "email", T_STATUS), 1);
  assert_int_equal(cal_n(w, a), 2);
  assert_last_calendar_state(w, a, "rejected");
  assert_last_event(w, a, "reject", w->agent, "rejected");
  TU_ASSERT_REFUSED(w, tesoro_appointment_reject(w->t, w->agent, a, "Again",
                                                 0),
                    TESORO_ESTATE, "rejected");
  TU_ASSERT_REFUSED(w, tesoro_appointment_confirm(w->t, w->agent, a, D2, 0, 0),
                    TESORO_ESTATE, "rejected");
  TU_OK(w, tesoro_check(w->t));
}

static void test_cancel_by_client_notifies_owner(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t p, c;

  offer(w, &v);
  p = request1(w, w->client, v.dp, D1);
  c = confirmed(w, v.dp, D2);

  /* pending, no reason */
  TU_OK(w, tesoro_appointment_cancel(w->t, w->client, p, NULL, 0));
  tu_assert_state(w, APPT, p, "cancelled");
  assert_int_equal(tu_sqlf(w, "SELECT ended_by FROM appointment WHERE id = %lld",
                        (long long)p),
                   w->client);
  assert_int_equal(tu_sqlf(w, "SELECT end_reason IS NULL FROM appointment WHERE "
                           "id = %lld",
                        (long long)p),
                   1);
  assert_int_equal(outbox_n(w, p, w->agent, "crm", T_CANCELLED), 1);
  assert_int_equal(outbox_n(w, p, w->agent, "push", T_CANCELLED), 1);
  assert_int_equal(outbox_n(w, p, w->agent, "email", T_CANCELLED), 1);
  assert_int_equal(outbox_n(w, p, w->client, NULL, NULL), 0);
  assert_int_equal(cal_n(w, p), 2);
  assert_last_calendar_state(w, p, "cancelled");
  assert_last_event(w, p, "cancel", w->client, "cancelled");

  /* confirmed, with a reason */
  TU_OK(w, tesoro_appointment_cancel(w->t, w->client, c, "Found another house",
                                     0));
  tu_assert_state(w, APPT, c, "cancelled");
  TU_TEXT_IS(tu_row_text(w, "appointment", c, "end_reason"),
             "Found another house");
  assert_int_equal(outbox_n(w, c, w->agent, "crm", T_CANCELLED), 1);
  assert_int_equal(outbox_n(w, c, w->agent, "push", T_CANCELLED), 1);
  assert_int_equal(outbox_n(w, c, w->agent, "email", T_CANCELLED), 1);
  assert_int_equal(cal_n(w, c), 3);
  TU_ASSERT_REFUSED(w, tesoro_appointment_cancel(w->t, w->client, c, NULL, 0),
                    TESORO_ESTATE, "cancelled");
  TU_OK(w, tesoro_check(w->t));
}

static void test_cancel_by_agent_requires_reason_and_emails_client(
    void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t c;

  offer(w, &v);
  c = confirmed(w, v.dp, D2);
  REFUSED2(w, tesoro_appointment_cancel(w->t, w->agent, c, NULL, 0),
           TESORO_EINVAL, "reason", "required");
  REFUSED2(w, tesoro_appointment_cancel(w->t, w->agent, c, "", 0),
           TESORO_EINVAL, "reason", "required");
  TU_ASSERT_REFUSED(w, tesoro_appointment_cancel(w->t, w->client2, c, NULL, 0),
                    TESORO_EDENIED, "another client");
  TU_ASSERT_REFUSED(w, tesoro_appointment_cancel(w->t, w->other_agent, c,
                                                 "Not ours", 0),
                    TESORO_EDENIED, "another agency");
  TU_OK(w, tesoro_appointment_cancel(w->t, w->agent, c, "The house is sold",
                                     0));
  tu_assert_state(w, APPT, c, "cancelled");
  TU_TEXT_IS(tu_row_text(w, "appointment", c, "end_reason"),
             "The house is sold");
  assert_int_equal(tu_sqlf(w, "SELECT ended_by FROM appointment WHERE id = %lld",
                        (long long)c),
                   w->agent);
  assert_int_equal(outbox_n(w, c, w->client, "email", T_STATUS), 2);
  assert_int_equal(outbox_n(w, c, 0, NULL, T_CANCELLED), 0);
  assert_int_equal(cal_n(w, c), 3);
  assert_last_calendar_state(w, c, "cancelled");
  assert_last_event(w, c, "cancel", w->agent, "cancelled");
  TU_OK(w, tesoro_check(w->t));
}

static void test_start_viewing_completes_on_the_day(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a;

  offer(w, &v);
  a = confirmed(w, v.dp, D1);
  /* 08:00 local on the day of a 10:00 viewing */
  TU_OK(w, tesoro_clock_set(w->t, D1 - 2 * HOUR));
  TU_OK(w, tesoro_appointment_start_viewing(w->t, w->client, a, 0));
  tu_assert_state(w, APPT, a, "completed");
  assert_int_equal(tu_sqlf(w, "SELECT completed_by FROM appointment WHERE id = "
                           "%lld",
                        (long long)a),
                   w->client);
  assert_int_equal(tu_sqlf(w, "SELECT completed_at FROM appointment WHERE id = "
                           "%lld",
                        (long long)a),
                   D1 - 2 * HOUR);
  tu_assert_state(w, TESORO_ENTITY_DEAL_PROPERTY, v.dp, "viewed");
  /* the clock's completion and the reminder are withdrawn (one statement
  ** for both kinds); the feedback request stays */
  assert_int_equal(timer_n(w, a, "appointment_complete"), 0);
  assert_int_equal(timer_n(w, a, "%remind%"), 0);
  assert_int_equal(timer_n(w, a, "%feedback%"), 1);
  assert_int_equal(cal_n(w, a), 3);
  assert_last_calendar_state(w, a, "completed");
  assert_last_event(w, a, "start_viewing", w->client, "completed");
  TU_OK(w, tesoro_check(w->t));
}

static void test_tick_completes_after_the_end_and_is_idempotent(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a;
  int fired = -1, kind = 0;
  char before[65], after[65];
  tu_history h;

  offer(w, &v);
  a = confirmed(w, v.dp, D1);
  TU_OK(w, tesoro_tick(w->t, D1 - 60, &fired));
  tu_assert_state(w, APPT, a, "confirmed");

  TU_OK(w, tesoro_tick(w->t, D1 + HOUR + 60, &fired));
  assert_true(fired >= 1);
  tu_assert_state(w, APPT, a, "completed");
  TU_OK(w, tesoro_actor_info(w->t,
                             tu_sqlf(w, "SELECT completed_by FROM appointment "
                                     "WHERE id = %lld",
                                  (long long)a),
                             &kind, NULL, NULL));
  assert_int_equal(kind, TESORO_ACTOR_SYSTEM);
  assert_last_calendar_state(w, a, "completed");
  tu_last_history(w, APPT, a, &h);
  assert_string_equal(h.event, "complete");
  assert_string_equal(h.to_state, "completed");
  tu_history_free(&h);
  /* completed: the property is viewed, by the system, naming the viewing */
  tu_assert_state(w, TESORO_ENTITY_DEAL_PROPERTY, v.dp, "viewed");
  tu_last_history(w, TESORO_ENTITY_DEAL_PROPERTY, v.dp, &h);
  assert_string_equal(h.event, "viewing_completed");
  assert_string_equal(h.from_state, "to_review");
  tu_history_free(&h);
  assert_int_equal(tu_sqlf(w, "SELECT json_extract(details, '$.ref') FROM "
                              "history WHERE entity = %d AND entity_id = %lld "
                              "AND event = 'viewing_completed'",
                           TESORO_ENTITY_DEAL_PROPERTY, (long long)v.dp),
                   a);
  assert_int_equal(timer_n(w, a, NULL), 1); /* the feedback request */

  tu_digest(w, before);
  fired = -1;
  TU_OK(w, tesoro_tick(w->t, D1 + HOUR + 60, &fired));
  assert_int_equal(fired, 0);
  tu_digest(w, after);
  assert_string_equal(before, after);
  TU_OK(w, tesoro_check(w->t));
}

/* ------------------------------------------------------------------------
** 3. Refusals.
*/

static void test_request_refuses_bad_dates(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a = 0, past[1] = {TU_NOW - HOUR}, mixed[2] = {D1, TU_NOW - 60},
          dup[3] = {D1, D2, D1}, four[4] = {D1, D2, D3, D4},
          three[3] = {D3, D1, D2};
  char *pref;

  offer(w, &v);
  REFUSED2(w, tesoro_appointment_request(w->t, w->client, v.dp, past, 1, &a),
           TESORO_EGUARD, "past", "future");
  REFUSED2(w, tesoro_appointment_request(w->t, w->client, v.dp, mixed, 2, &a),
           TESORO_EGUARD, "past", "future");
  REFUSED2(w, tesoro_appointment_request(w->t, w->client, v.dp, dup, 3, &a),
           TESORO_EINVAL, "duplicate", "twice");
  REFUSED2(w, tesoro_appointment_request(w->t, w->client, v.dp, four, 0, &a),
           TESORO_EINVAL, "1", "3");
  REFUSED2(w, tesoro_appointment_request(w->t, w->client, v.dp, four, 4, &a),
           TESORO_EINVAL, "1", "3");
  REFUSED2(w, tesoro_appointment_request(w->t, w->client, v.dp, four, -1, &a),
           TESORO_EINVAL, "1", "3");
  REFUSED2(w, tesoro_appointment_request(w->t, w->client, v.dp, NULL, 1, &a),
           TESORO_EINVAL, "NULL", "required");
  assert_int_equal(a, 0);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM appointment"), 0);

  /* three distinct future dates: accepted, kept in the given order */
  a = request_n(w, w->client, v.dp, three, 3);
  pref = tu_sqlf_text(w, "SELECT preferred FROM appointment WHERE id = %lld",
                   (long long)a);
  assert_json_ints(pref, three, 3);
  free(pref);
}

static void test_request_refused_for_staff_and_other_clients(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a = 0, at = D1;

  offer(w, &v);
  TU_ASSERT_REFUSED(w, tesoro_appointment_request(w->t, w->agent, v.dp, &at, 1,
                                                  &a),
                    TESORO_EDENIED, "only");
  TU_ASSERT_REFUSED(w, tesoro_appointment_request(w->t, w->website, v.dp, &at,
                                                  1, &a),
                    TESORO_EDENIED, "only");
  TU_ASSERT_REFUSED(w, tesoro_appointment_request(w->t, w->client2, v.dp, &at,
                                                  1, &a),
                    TESORO_EDENIED, "another client");
  TU_ASSERT_REFUSED(w, tesoro_appointment_request(w->t, w->other_client, v.dp,
                                                  &at, 1, &a),
                    TESORO_EDENIED, "another agency");
  TU_ASSERT_REFUSED(w, tesoro_appointment_request(w->t, w->client, 999999, &at,
                                                  1, &a),
                    TESORO_ENOTFOUND, "does not exist");
  TU_ASSERT_REFUSED(w, tesoro_appointment_request(w->t, w->client, 0, &at, 1,
                                                  &a),
                    TESORO_EINVAL, "> 0");
  TU_ASSERT_REFUSED(w, tesoro_appointment_request(w->t, w->client, -5, &at, 1,
                                                  &a),
                    TESORO_EINVAL, "> 0");
  TU_ASSERT_REFUSED(w, tesoro_appointment_request(w->t, w->client, v.dp, &at,
                                                  1, NULL),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_appointment_request(NULL, w->client, v.dp, &at,
                                                  1, &a),
                    TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_appointment_request(w->t, 999999, v.dp, &at, 1,
                                                  &a),
                    TESORO_ENOTFOUND, "does not exist");
  assert_int_equal(a, 0);
}

static void test_confirm_refusals(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a;

  offer(w, &v);
  a = request1(w, w->client, v.dp, D1);
  TU_ASSERT_REFUSED(w, tesoro_appointment_confirm(w->t, w->other_agent, a, D1, 0,
                                                  0),
                    TESORO_EDENIED, "another agency");
  TU_ASSERT_REFUSED(w, tesoro_appointment_confirm(w->t, w->client, a, D1, 0, 0),
                    TESORO_EDENIED, "only");
  REFUSED2(w, tesoro_appointment_confirm(w->t, w->agent, a, TU_NOW - 60, 0, 0),
           TESORO_EGUARD, "past", "future");
  TU_ASSERT_REFUSED(w, tesoro_appointment_confirm(w->t, w->agent, a, D1, 0, 7),
                    TESORO_ECONFLICT, "version");
  TU_ASSERT_REFUSED(w, tesoro_appointment_confirm(w->t, w->agent, 999999, D1, 0,
                                                  0),
                    TESORO_ENOTFOUND, "does not exist");
  TU_ASSERT_REFUSED(w, tesoro_appointment_confirm(w->t, w->agent, 0, D1, 0, 0),
                    TESORO_EINVAL, "> 0");
  TU_ASSERT_REFUSED(w, tesoro_appointment_confirm(NULL, w->agent, a, D1, 0, 0),
                    TESORO_EMISUSE, NULL);
  tu_assert_state(w, APPT, a, "pending");
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, a, D1, 0, 0));
  TU_ASSERT_REFUSED(w, tesoro_appointment_confirm(w->t, w->agent, a, D2, 0, 0),
                    TESORO_ESTATE, "confirmed");
}

static void test_cancel_refused_after_completion(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a;

  offer(w, &v);
  a = completed_by_timer(w, v.dp, D1);
  TU_ASSERT_REFUSED(w, tesoro_appointment_cancel(w->t, w->client, a, NULL, 0),
                    TESORO_ESTATE, "completed");
  TU_ASSERT_REFUSED(w, tesoro_appointment_cancel(w->t, w->agent, a, "Late", 0),
                    TESORO_ESTATE, "completed");
  TU_ASSERT_REFUSED(w, tesoro_appointment_reject(w->t, w->agent, a, "Late", 0),
                    TESORO_ESTATE, "completed");
  REFUSED2(w, tesoro_appointment_reschedule(w->t, w->agent, a, D4, 0, 0),
           TESORO_ESTATE, "completed", "confirmed");
  TU_ASSERT_REFUSED(w, tesoro_appointment_start_viewing(w->t, w->client, a, 0),
                    TESORO_ESTATE, "completed");
}

static void test_start_viewing_refusals(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a, p;

  offer(w, &v);
  p = request1(w, w->client, v.dp, D1);
  TU_ASSERT_REFUSED(w, tesoro_appointment_start_viewing(w->t, w->client, p, 0),
                    TESORO_ESTATE, "pending");
  a = confirmed(w, v.dp, D1);
  /* the day before (10:00 local on 06-01) and the day after (06-03) */
  TU_OK(w, tesoro_clock_set(w->t, D1 - DAY));
  TU_ASSERT_REFUSED(w, tesoro_appointment_start_viewing(w->t, w->client, a, 0),
                    TESORO_EGUARD, "day");
  /* the day after, the viewing has ended: the clock completed it, even
     with no tick run */
  TU_OK(w, tesoro_clock_set(w->t, D1 + DAY));
  TU_ASSERT_REFUSED(w, tesoro_appointment_start_viewing(w->t, w->client, a, 0),
                    TESORO_ESTATE, "completed");
  TU_OK(w, tesoro_clock_set(w->t, D1 - HOUR));
  TU_ASSERT_REFUSED(w, tesoro_appointment_start_viewing(w->t, w->agent, a, 0),
                    TESORO_EDENIED, "only");
  TU_ASSERT_REFUSED(w, tesoro_appointment_start_viewing(w->t, w->client2, a, 0),
                    TESORO_EDENIED, "another client");
  TU_ASSERT_REFUSED(w, tesoro_appointment_start_viewing(w->t, w->client, a,
                                                        99),
                    TESORO_ECONFLICT, "version");
  TU_ASSERT_REFUSED(w, tesoro_appointment_start_viewing(w->t, w->client, 0, 0),
                    TESORO_EINVAL, "> 0");
  TU_ASSERT_REFUSED(w, tesoro_appointment_start_viewing(w->t, w->client,
                                                        999999, 0),
                    TESORO_ENOTFOUND, "does not exist");
  TU_ASSERT_REFUSED(w, tesoro_appointment_start_viewing(NULL, w->client, a, 0),
                    TESORO_EMISUSE, NULL);
  tu_assert_state(w, APPT, a, "confirmed");
  TU_OK(w, tesoro_appointment_start_viewing(w->t, w->client, a, 0));
}

static void test_feedback_refused_before_completion_and_for_staff(
    void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a, n = 0, doc = 0;

  offer(w, &v);
  a = confirmed(w, v.dp, D1);
  TU_ASSERT_REFUSED(w, tesoro_appointment_note_add(w->t, w->client, a,
                                                   "Looks great", &n),
                    TESORO_ESTATE, "confirmed");
  TU_ASSERT_REFUSED(w, tesoro_appointment_rate(w->t, w->client, a, 4, 0),
                    TESORO_ESTATE, "confirmed");
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->client, APPT, a,
                                           TESORO_DOC_PHOTO, "kitchen.jpg",
                                           "image/jpeg", tu_jpeg,
                                           (int64_t)tu_jpeg_size, &doc),
                    TESORO_ESTATE, "confirmed");
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->client, APPT, a,
                                           TESORO_DOC_VOICE_NOTE, "memo.mp3",
                                           "audio/mpeg", mp3_sample,
                                           (int64_t)sizeof mp3_sample, &doc),
                    TESORO_ESTATE, "confirmed");

  TU_OK(w, tesoro_tick(w->t, D1 + HOUR + 60, NULL));
  tu_assert_state(w, APPT, a, "completed");
  TU_ASSERT_REFUSED(w, tesoro_appointment_note_add(w->t, w->agent, a,
                                                   "Client liked it", &n),
                    TESORO_EDENIED, "only");
  TU_ASSERT_REFUSED(w, tesoro_appointment_rate(w->t, w->agent, a, 5, 0),
                    TESORO_EDENIED, "only");
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->agent, APPT, a,
                                           TESORO_DOC_PHOTO, "kitchen.jpg",
                                           "image/jpeg", tu_jpeg,
                                           (int64_t)tu_jpeg_size, &doc),
                    TESORO_EDENIED, "only");
  TU_ASSERT_REFUSED(w, tesoro_document_add(w->t, w->agent, APPT, a,
                                           TESORO_DOC_VOICE_NOTE, "memo.mp3",
                                           "audio/mpeg", mp3_sample,
                                           (int64_t)sizeof mp3_sample, &doc),
                    TESORO_EDENIED, "only");
  TU_ASSERT_REFUSED(w, tesoro_appointment_note_add(w->t, w->client2, a, "Hm",
                                                   &n),
                    TESORO_EDENIED, "another client");
  TU_ASSERT_REFUSED(w, tesoro_appointment_rate(w->t, w->client, a, 0, 0),
                    TESORO_EINVAL, "5");
  TU_ASSERT_REFUSED(w, tesoro_appointment_rate(w->t, w->client, a, 6, 0),
                    TESORO_EINVAL, "5");
  TU_ASSERT_REFUSED(w, tesoro_appointment_rate(w->t, w->client, a, -1, 0),
                    TESORO_EINVAL, "5");
  assert_int_equal(n, 0);
  assert_int_equal(doc, 0);
}

static void test_appointment_calls_refuse_stale_versions(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a, b, ver;

  offer(w, &v);
  a = request1(w, w->client, v.dp, D1);
  b = request1(w, w->client, v.dp, D2);
  ver = tu_version_of(w, APPT, a);
  TU_ASSERT_REFUSED(w, tesoro_appointment_confirm(w->t, w->agent, a, D1, 0,
                                                  ver + 1),
                    TESORO_ECONFLICT, "version");
  TU_ASSERT_REFUSED(w, tesoro_appointment_reject(w->t, w->agent, b, "No",
                                                 ver + 1),
                    TESORO_ECONFLICT, "version");
  TU_ASSERT_REFUSED(w, tesoro_appointment_cancel(w->t, w->client, b, NULL,
                                                 ver + 1),
                    TESORO_ECONFLICT, "version");
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, a, D1, 0, ver));
  /* a second tab still holds the version it read before the confirm */
  TU_ASSERT_REFUSED(w, tesoro_appointment_reschedule(w->t, w->agent, a, D2, 0,
                                                     ver),
                    TESORO_ECONFLICT, "version");
  TU_ASSERT_REFUSED(w, tesoro_appointment_cancel(w->t, w->agent, a, "Sold",
                                                 ver),
                    TESORO_ECONFLICT, "version");
  TU_OK(w, tesoro_appointment_reschedule(w->t, w->agent, a, D2, 0, ver + 1));
  TU_OK(w, tesoro_tick(w->t, D2 + HOUR + 60, NULL));
  tu_assert_state(w, APPT, a, "completed");
  ver = tu_version_of(w, APPT, a);
  TU_ASSERT_REFUSED(w, tesoro_appointment_rate(w->t, w->client, a, 3, ver - 1),
                    TESORO_ECONFLICT, "version");
  TU_ASSERT_REFUSED(w, tesoro_appointment_record_no_show(w->t, w->agent, a,
                                                         NULL, ver - 1),
                    TESORO_ECONFLICT, "version");
  TU_OK(w, tesoro_appointment_rate(w->t, w->client, a, 3, ver));
  assert_true(tu_version_of(w, APPT, a) > ver);
}

static void test_appointment_calls_refuse_bad_ids_and_pointers(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a, n = 0;
  tesoro_cursor *c = NULL;
  char *out = NULL;

  offer(w, &v);
  a = completed_by_timer(w, v.dp, D1);
  /* id <= 0 */
  TU_ASSERT_REFUSED(w, tesoro_appointment_reschedule(w->t, w->agent, -1, D2, 0, 0),
                    TESORO_EINVAL, "> 0");
  TU_ASSERT_REFUSED(w, tesoro_appointment_reject(w->t, w->agent, 0, "x", 0),
                    TESORO_EINVAL, "> 0");
  TU_ASSERT_REFUSED(w, tesoro_appointment_cancel(w->t, w->client, 0, NULL, 0),
                    TESORO_EINVAL, "> 0");
  TU_ASSERT_REFUSED(w, tesoro_appointment_record_no_show(w->t, w->agent, 0,
                                                         NULL, 0),
                    TESORO_EINVAL, "> 0");
  TU_ASSERT_REFUSED(w, tesoro_appointment_note_add(w->t, w->client, 0, "x",
                                                   &n),
                    TESORO_EINVAL, "> 0");
  TU_ASSERT_REFUSED(w, tesoro_appointment_rate(w->t, w->client, -3, 4, 0),
                    TESORO_EINVAL, "> 0");
  TU_ASSERT_REFUSED(w, tesoro_appointment_notes(w->t, w->client, 0, &c),
                    TESORO_EINVAL, "> 0");
  TU_ASSERT_REFUSED(w, tesoro_appointment_ics(w->t, w->client, 0, NULL, &out),
                    TESORO_EINVAL, "> 0");
  /* unknown ids */
  TU_ASSERT_REFUSED(w, tesoro_appointment_reschedule(w->t, w->agent, 999999,
                                                     D2, 0, 0),
                    TESORO_ENOTFOUND, "does not exist");
  TU_ASSERT_REFUSED(w, tesoro_appointment_reject(w->t, w->agent, 999999, "x",
                                                 0),
                    TESORO_ENOTFOUND, "does not exist");
  TU_ASSERT_REFUSED(w, tesoro_appointment_cancel(w->t, w->client, 999999, NULL,
                                                 0),
                    TESORO_ENOTFOUND, "does not exist");
  TU_ASSERT_REFUSED(w, tesoro_appointment_record_no_show(w->t, w->agent,
                                                         999999, NULL, 0),
                    TESORO_ENOTFOUND, "does not exist");
  TU_ASSERT_REFUSED(w, tesoro_appointment_note_add(w->t, w->client, 999999,
                                                   "x", &n),
                    TESORO_ENOTFOUND, "does not exist");
  TU_ASSERT_REFUSED(w, tesoro_appointment_rate(w->t, w->client, 999999, 4, 0),
                    TESORO_ENOTFOUND, "does not exist");
  TU_ASSERT_REFUSED(w, tesoro_appointment_notes(w->t, w->client, 999999, &c),
                    TESORO_ENOTFOUND, "does not exist");
  TU_ASSERT_REFUSED(w, tesoro_appointment_ics(w->t, w->client, 999999, NULL,
                                              &out),
                    TESORO_ENOTFOUND, "does not exist");
  /* NULL out pointers */
  TU_ASSERT_REFUSED(w, tesoro_appointment_note_add(w->t, w->client, a, "x",
                                                   NULL),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_appointment_notes(w->t, w->client, a, NULL),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_appointment_ics(w->t, w->client, a, NULL, NULL),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_client_appointments(w->t, w->client,
                                                  TESORO_LIST_RECENT, NULL),
                    TESORO_EINVAL, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agent_appointments(w->t, w->agent, 0, 0, 0, 0,
                                                 NULL),
                    TESORO_EINVAL, NULL);
  /* NULL handle */
  TU_ASSERT_REFUSED(w, tesoro_appointment_reschedule(NULL, w->agent, a, D2, 0, 0),
                    TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_appointment_reject(NULL, w->agent, a, "x", 0),
                    TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_appointment_cancel(NULL, w->client, a, NULL, 0),
                    TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_appointment_record_no_show(NULL, w->agent, a,
                                                         NULL, 0),
                    TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_appointment_note_add(NULL, w->client, a, "x",
                                                   &n),
                    TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_appointment_rate(NULL, w->client, a, 4, 0),
                    TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_appointment_notes(NULL, w->client, a, &c),
                    TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_client_appointments(NULL, w->client,
                                                  TESORO_LIST_RECENT, &c),
                    TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agent_appointments(NULL, w->agent, 0, 0, 0, 0,
                                                 &c),
                    TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_appointment_ics(NULL, w->client, a, NULL, &out),
                    TESORO_EMISUSE, NULL);
  TU_ASSERT_REFUSED(w, tesoro_deal_close(NULL, w->agent, v.deal, "x", 0),
                    TESORO_EMISUSE, NULL);
  assert_int_equal(n, 0);
  assert_null(c);
  assert_null(out);
}

static void test_appointment_texts_checked_for_length_and_utf8(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t p, c, done, n = 0;
  char *reason_max, *reason_long, *text_max, *text_long;

  offer(w, &v);
  p = request1(w, w->client, v.dp, D1);
  c = confirmed(w, v.dp, D2);
  reason_max = tu_long_string(TESORO_MAX_REASON);
  reason_long = tu_long_string(TESORO_MAX_REASON + 1);
  text_max = tu_long_string(TESORO_MAX_TEXT);
  text_long = tu_long_string(TESORO_MAX_TEXT + 1);

  TU_ASSERT_REFUSED(w, tesoro_appointment_reject(w->t, w->agent, p,
                                                 reason_long, 0),
                    TESORO_EINVAL, "longer");
  TU_ASSERT_REFUSED(w, tesoro_appointment_reject(w->t, w->agent, p,
                                                 TU_BAD_UTF8, 0),
                    TESORO_EINVAL, "UTF-8");
  TU_ASSERT_REFUSED(w, tesoro_appointment_cancel(w->t, w->agent, c,
                                                 reason_long, 0),
                    TESORO_EINVAL, "longer");
  TU_ASSERT_REFUSED(w, tesoro_appointment_cancel(w->t, w->agent, c,
                                                 TU_BAD_UTF8, 0),
                    TESORO_EINVAL, "UTF-8");
  TU_ASSERT_REFUSED(w, tesoro_appointment_cancel(w->t, w->client, c,
                                                 reason_long, 0),
                    TESORO_EINVAL, "longer");
  TU_ASSERT_REFUSED(w, tesoro_appointment_cancel(w->t, w->client, c,
                                                 TU_BAD_UTF8, 0),
                    TESORO_EINVAL, "UTF-8");
  /* at the limit: stored exactly */
  TU_OK(w, tesoro_appointment_reject(w->t, w->agent, p, reason_max, 0));
  assert_int_equal(tu_sqlf(w, "SELECT length(end_reason) FROM appointment WHERE "
                           "id = %lld",
                        (long long)p),
                   TESORO_MAX_REASON);
  /* a client's "" is "no reason", stored as NULL */
  TU_OK(w, tesoro_appointment_cancel(w->t, w->client, c, "", 0));
  assert_int_equal(tu_sqlf(w, "SELECT end_reason IS NULL FROM appointment WHERE "
                           "id = %lld",
                        (long long)c),
                   1);

  done = completed_by_timer(w, v.dp, D3);
  TU_ASSERT_REFUSED(w, tesoro_appointment_note_add(w->t, w->client, done,
                                                   text_long, &n),
                    TESORO_EINVAL, "longer");
  TU_ASSERT_REFUSED(w, tesoro_appointment_note_add(w->t, w->client, done,
                                                   TU_BAD_UTF8, &n),
                    TESORO_EINVAL, "UTF-8");
  TU_ASSERT_REFUSED(w, tesoro_appointment_note_add(w->t, w->client, done, NULL,
                                                   &n),
                    TESORO_EINVAL, "required");
  TU_ASSERT_REFUSED(w, tesoro_appointment_note_add(w->t, w->client, done, "",
                                                   &n),
                    TESORO_EINVAL, "required");
  TU_ASSERT_REFUSED(w, tesoro_appointment_record_no_show(w->t, w->agent, done,
                                                         text_long, 0),
                    TESORO_EINVAL, "longer");
  TU_ASSERT_REFUSED(w, tesoro_appointment_record_no_show(w->t, w->agent, done,
                                                         TU_BAD_UTF8, 0),
                    TESORO_EINVAL, "UTF-8");
  TU_OK(w, tesoro_appointment_note_add(w->t, w->client, done, text_max, &n));
  TU_TEXT_IS(tu_row_text(w, "appointment_note", n, "body"), text_max);
  free(reason_max);
  free(reason_long);
  free(text_max);
  free(text_long);
}

/* ------------------------------------------------------------------------
** 4. Feedback after completion.
*/

static void test_feedback_after_completion_by_client(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a, n1 = 0, n2 = 0, photo = 0, doc = 0, lid, size = 0;
  tesoro_cursor *c = NULL;
  void *data = NULL;
  size_t i;
  int rc, voice = 0, photos = 0;
  static const struct {
    const char *name, *mime;
    const unsigned char *data;
    size_t size;
  } notes[] = {
      {"memo.mp3", "audio/mpeg", mp3_sample, sizeof mp3_sample},
      {"memo.ogg", "audio/ogg", ogg_sample, sizeof ogg_sample},
      {"memo.wav", "audio/wav", wav_sample, sizeof wav_sample},
      {"memo.webm", "audio/webm", webm_sample, sizeof webm_sample},
      {"memo.m4a", "audio/mp4", mp4_sample, sizeof mp4_sample},
  };

  offer(w, &v);
  a = completed_by_timer(w, v.dp, D1);
  TU_OK(w, tesoro_clock_set(w->t, D1 + 2 * HOUR));

  /* notes, oldest first */
  TU_OK(w, tesoro_appointment_note_add(w->t, w->client, a,
                                       "Lovely light in the living room",
                                       &n1));
  TU_OK(w, tesoro_clock_set(w->t, D1 + 3 * HOUR));
  TU_OK(w, tesoro_appointment_note_add(w->t, w->client, a,
                                       "Garden is small \xE2\x80\x94 ask about "
                                       "the roof terrace",
                                       &n2));
  assert_true(n1 > 0 && n2 > n1);
  TU_OK(w, tesoro_appointment_notes(w->t, w->client, a, &c));
  assert_int_equal(tesoro_cursor_next(c), TESORO_ROW);
  assert_int_equal(tu_col_int(c, "id"), n1);
  assert_int_equal(tu_col_int(c, "author_id"), w->client);
  assert_col_text(c, "body", "Lovely light in the living room");
  assert_int_equal(tu_col_int(c, "created_at"), D1 + 2 * HOUR);
  assert_int_equal(tesoro_cursor_next(c), TESORO_ROW);
  assert_int_equal(tu_col_int(c, "id"), n2);
  assert_col_text(c, "body",
                  "Garden is small \xE2\x80\x94 ask about the roof terrace");
  assert_int_equal(tu_col_int(c, "created_at"), D1 + 3 * HOUR);
  assert_int_equal(tesoro_cursor_next(c), TESORO_DONE);
  tesoro_cursor_free(c);
  TU_OK(w, tesoro_appointment_notes(w->t, w->agent, a, &c));
  assert_int_equal(tu_count(c), 2);
  c = NULL;
  TU_ASSERT_REFUSED(w, tesoro_appointment_notes(w->t, w->client2, a, &c),
                    TESORO_EDENIED, "another client");
  TU_ASSERT_REFUSED(w, tesoro_appointment_notes(w->t, w->other_agent, a, &c),
                    TESORO_EDENIED, "another agency");

  /* one rating, replaced */
  TU_OK(w, tesoro_appointment_rate(w->t, w->client, a, 4, 0));
  assert_int_equal(tu_sqlf(w, "SELECT rating FROM appointment WHERE id = %lld",
                        (long long)a),
                   4);
  TU_OK(w, tesoro_appointment_rate(w->t, w->client, a, 2, 0));
  assert_int_equal(tu_sqlf(w, "SELECT rating FROM appointment WHERE id = %lld",
                        (long long)a),
                   2);
  assert_int_equal(tu_sqlf(w, "SELECT rated_at FROM appointment WHERE id = %lld",
                        (long long)a),
                   D1 + 3 * HOUR);
  /* the one rating shows on both lists */
  TU_OK(w, tesoro_client_appointments(w->t, w->client, TESORO_LIST_RECENT, &c));
  seek_id(c, a);
  assert_int_equal(tu_col_int(c, "rating"), 2);
  tesoro_cursor_free(c);
  TU_OK(w, tesoro_agent_appointments(w->t, w->agent, 0, 0, 0, 0, &c));
  seek_id(c, a);
  assert_int_equal(tu_col_int(c, "rating"), 2);
  assert_int_equal(tesoro_cursor_next(c), TESORO_DONE);
  tesoro_cursor_free(c);

  /* a photo and a voice note of each audio container */
  TU_OK(w, tesoro_document_add(w->t, w->client, APPT, a, TESORO_DOC_PHOTO,
                               "kitchen.jpg", "image/jpeg", tu_jpeg,
                               (int64_t)tu_jpeg_size, &photo));
  assert_true(photo > 0);
  for (i = 0; i < sizeof notes / sizeof notes[0]; i++) {
    doc = 0;
    TU_OK(w, tesoro_document_add(w->t, w->client, APPT, a,
                                 TESORO_DOC_VOICE_NOTE, notes[i].name,
                                 notes[i].mime, notes[i].data,
                                 (int64_t)notes[i].size, &doc));
    assert_true(doc > 0);
  }
  /* the last one reads back byte for byte */
  TU_OK(w, tesoro_document_read(w->t, w->client, doc, &data, &size));
  assert_int_equal(size, (int64_t)sizeof mp4_sample);
  assert_memory_equal(data, mp4_sample, sizeof mp4_sample);
  tesoro_free(data);

  /* content must match the claimed type; voice notes only on appointments */
  doc = 0;
  REFUSED2(w, tesoro_document_add(w->t, w->client, APPT, a,
                                  TESORO_DOC_VOICE_NOTE, "memo.mp3",
                                  "audio/mpeg", tu_pdf, (int64_t)tu_pdf_size,
                                  &doc),
           TESORO_EINVAL, "audio/mpeg", "not");
  REFUSED2(w, tesoro_document_add(w->t, w->client, APPT, a, TESORO_DOC_PHOTO,
                                  "photo.jpg", "image/jpeg", mp3_sample,
                                  (int64_t)sizeof mp3_sample, &doc),
           TESORO_EINVAL, "image/jpeg", "not");
  REFUSED2(w, tesoro_document_add(w->t, w->client, APPT, a, TESORO_DOC_PHOTO,
                                  "memo.jpg", "audio/mpeg", mp3_sample,
                                  (int64_t)sizeof mp3_sample, &doc),
           TESORO_EINVAL, "audio/mpeg", "photo");
  lid = v.listing;
  REFUSED2(w, tesoro_document_add(w->t, w->agent, TESORO_ENTITY_LISTING, lid,
                                  TESORO_DOC_VOICE_NOTE, "memo.mp3",
                                  "audio/mpeg", mp3_sample,
                                  (int64_t)sizeof mp3_sample, &doc),
           TESORO_EINVAL, "listing", "voice");
  assert_int_equal(doc, 0);

  /* what the appointment holds */
  TU_OK(w, tesoro_documents(w->t, w->client, APPT, a, &c));
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
    const char *kn = tu_col_text(c, "kind_name");
    if (tu_col_int(c, "kind") == TESORO_DOC_VOICE_NOTE) {
      assert_non_null(kn);
      assert_string_equal(kn, "voice_note");
      voice++;
    } else if (tu_col_int(c, "kind") == TESORO_DOC_PHOTO) {
      photos++;
    }
  }
  assert_int_equal(rc, TESORO_DONE);
  tesoro_cursor_free(c);
  assert_int_equal(voice, 5);
  assert_int_equal(photos, 1);
  TU_OK(w, tesoro_check(w->t));
}

/* ------------------------------------------------------------------------
** 5. Lists.
*/

static void test_client_lists_split_by_tab_in_order(void **state) {
  tu_world *w = *state;
  viewing v, bobs;
  int64_t ids[16], pa[2] = {D3, D1};
  int64_t a, b, c, d, e, f, h, bob;
  int n;
  tesoro_cursor *cur = NULL;
  char *ref, *pref;

  offer(w, &v);
  v.photo = tu_listing_photo(w, w->agent, v.listing);
  /* pending: a lists D3 first but its earliest date is D1; b has D2 */
  a = request_n(w, w->client, v.dp, pa, 2);
  b = request1(w, w->client, v.dp, D2);
  c = confirmed(w, v.dp, D2);
  d = confirmed(w, v.dp, D1);
  e = request1(w, w->client, v.dp, D1);
  TU_OK(w, tesoro_appointment_cancel(w->t, w->client, e, NULL, 0));
  f = request1(w, w->client, v.dp, D2);
  TU_OK(w, tesoro_appointment_reject(w->t, w->agent, f, "Not that day", 0));
  offer_to(w, &bobs, w->contact2, "Loft", "Damrak 5", 30000000);
  bob = request1(w, w->client2, bobs.dp, D1);

  /* at TU_NOW */
  n = client_list(w, w->client, TESORO_LIST_UPCOMING, ids, 16);
  {
    int64_t want[] = {d, c};
    tu_assert_ids(ids, n, want, 2);
  }
  n = client_list(w, w->client, TESORO_LIST_UNCONFIRMED, ids, 16);
  {
    int64_t want[] = {a, b}; /* by earliest preferred date: D1, D2 */
    tu_assert_ids(ids, n, want, 2);
  }
  n = client_list(w, w->client, TESORO_LIST_RECENT, ids, 16);
  assert_int_equal(n, 2);
  assert_true(tu_has_id(ids, n, e) && tu_has_id(ids, n, f));
  n = client_list(w, w->client2, TESORO_LIST_UNCONFIRMED, ids, 16);
  {
    int64_t want[] = {bob};
    tu_assert_ids(ids, n, want, 1);
  }
  assert_int_equal(client_list(w, w->client2, TESORO_LIST_UPCOMING, ids, 16),
                   0);
  assert_int_equal(client_list(w, w->client2, TESORO_LIST_RECENT, ids, 16), 0);

  /* every column of a confirmed row */
  ref = tu_sqlf_text(w, "SELECT ref FROM listing WHERE id = %lld",
                  (long long)v.listing);
  assert_non_null(ref);
  TU_OK(w, tesoro_client_appointments(w->t, w->client, TESORO_LIST_UPCOMING,
                                      &cur));
  seek_id(cur, d);
  assert_col_text(cur, "state", "confirmed");
  assert_col_text(cur, "status_colour", "green");
  assert_int_equal(tu_col_int(cur, "deal_id"), v.deal);
  assert_int_equal(tu_col_int(cur, "deal_property_id"), v.dp);
  assert_int_equal(tu_col_int(cur, "listing_id"), v.listing);
  assert_col_text(cur, "title", "Canal house");
  assert_int_equal(tu_col_int(cur, "photo_id"), v.photo);
  pref = tu_strdup(tu_col_text(cur, "preferred"));
  assert_json_ints(pref, &(int64_t){D1}, 1);
  free(pref);
  assert_false(col_isnull(cur, "start_at"));
  assert_int_equal(tu_col_int(cur, "start_at"), D1);
  assert_int_equal(tu_col_int(cur, "price"), PRICE);
  assert_col_text(cur, "currency", "EUR");
  assert_col_text(cur, "ref", ref);
  assert_col_text(cur, "address", "Herengracht 100, Amsterdam");
  assert_true(col_isnull(cur, "rating"));
  assert_int_equal(tu_col_int(cur, "version"), tu_version_of(w, APPT, d));
  tesoro_cursor_free(cur);
  /* a pending row: yellow, no start time, the dates as requested */
  TU_OK(w, tesoro_client_appointments(w->t, w->client,
                                      TESORO_LIST_UNCONFIRMED, &cur));
  seek_id(cur, a);
  assert_col_text(cur, "state", "pending");
  assert_col_text(cur, "status_colour", "yellow");
  assert_true(col_isnull(cur, "start_at"));
  pref = tu_strdup(tu_col_text(cur, "preferred"));
  assert_json_ints(pref, pa, 2);
  free(pref);
  assert_col_text(cur, "ref", ref);
  tesoro_cursor_free(cur);
  /* cancelled and rejected: red */
  TU_OK(w, tesoro_client_appointments(w->t, w->client, TESORO_LIST_RECENT,
                                      &cur));
  seek_id(cur, e);
  assert_col_text(cur, "state", "cancelled");
  assert_col_text(cur, "status_colour", "red");
  assert_true(col_isnull(cur, "start_at"));
  tesoro_cursor_free(cur);
  TU_OK(w, tesoro_client_appointments(w->t, w->client, TESORO_LIST_RECENT,
                                      &cur));
  seek_id(cur, f);
  assert_col_text(cur, "state", "rejected");
  assert_col_text(cur, "status_colour", "red");
  tesoro_cursor_free(cur);
  /* Bob's row has no photo */
  TU_OK(w, tesoro_client_appointments(w->t, w->client2,
                                      TESORO_LIST_UNCONFIRMED, &cur));
  seek_id(cur, bob);
  assert_true(col_isnull(cur, "photo_id"));
  tesoro_cursor_free(cur);

  /* one more, started by the client on the morning of D1 */
  h = confirmed(w, v.dp, D1);
  TU_OK(w, tesoro_clock_set(w->t, D1 - HOUR));
  TU_OK(w, tesoro_appointment_start_viewing(w->t, w->client, h, 0));

  /* after D2 (no tick ran): c and d have a start in the past */
  TU_OK(w, tesoro_clock_set(w->t, D2 + 2 * HOUR));
  assert_int_equal(client_list(w, w->client, TESORO_LIST_UPCOMING, ids, 16),
                   0);
  n = client_list(w, w->client, TESORO_LIST_RECENT, ids, 16);
  assert_int_equal(n, 5);
  assert_true(tu_has_id(ids, n, c) && tu_has_id(ids, n, d) && tu_has_id(ids, n, e) &&
              tu_has_id(ids, n, f) && tu_has_id(ids, n, h));
  {
    int ic = -1, id = -1, i;
    for (i = 0; i < n; i++) {
      if (ids[i] == c) ic = i;
      if (ids[i] == d) id = i;
    }
    assert_true(ic < id); /* latest first: D2 before D1 */
  }
  n = client_list(w, w->client, TESORO_LIST_UNCONFIRMED, ids, 16);
  {
    int64_t want[] = {a, b}; /* by earliest preferred date: D1, D2 */
    tu_assert_ids(ids, n, want, 2);
  }
  TU_OK(w, tesoro_client_appointments(w->t, w->client, TESORO_LIST_RECENT,
                                      &cur));
  seek_id(cur, h);
  assert_col_text(cur, "state", "completed");
  assert_col_text(cur, "status_colour", "green");
  assert_int_equal(tu_col_int(cur, "start_at"), D1);
  tesoro_cursor_free(cur);
  free(ref);

  /* staff, bad list, bad out */
  cur = NULL;
  TU_ASSERT_REFUSED(w, tesoro_client_appointments(w->t, w->agent,
                                                  TESORO_LIST_UPCOMING, &cur),
                    TESORO_EDENIED, "client");
  TU_ASSERT_REFUSED(w, tesoro_client_appointments(w->t, w->client, 0, &cur),
                    TESORO_EINVAL, "list");
  TU_ASSERT_REFUSED(w, tesoro_client_appointments(w->t, w->client, 4, &cur),
                    TESORO_EINVAL, "list");
  assert_null(cur);
}

static void test_agent_list_by_state_and_range(void **state) {
  tu_world *w = *state;
  viewing v, bobs;
  int64_t ids[16], a1, a2, a3, b1;
  int n;
  tesoro_cursor *cur = NULL;
  char *ref, *pref;

  offer(w, &v);
  a1 = request1(w, w->client, v.dp, D1);
  a2 = confirmed(w, v.dp, D2);
  a3 = request1(w, w->client, v.dp, D3);
  TU_OK(w, tesoro_appointment_cancel(w->t, w->client, a3, NULL, 0));
  offer_to(w, &bobs, w->contact2, "Loft", "Damrak 5", 30000000);
  b1 = request1(w, w->client2, bobs.dp, D1); /* owner agent2 */

  /* agent 0 = the caller; ordered by time */
  n = agent_list(w, w->agent, 0, 0, 0, 0, ids, 16);
  {
    int64_t want[] = {a1, a2, a3};
    tu_assert_ids(ids, n, want, 3);
  }
  n = agent_list(w, w->agent, w->agent, TESORO_APPOINTMENT_CONFIRMED, 0, 0,
                 ids, 16);
  {
    int64_t want[] = {a2};
    tu_assert_ids(ids, n, want, 1);
  }
  n = agent_list(w, w->agent, 0, TESORO_APPOINTMENT_PENDING, 0, 0, ids, 16);
  {
    int64_t want[] = {a1};
    tu_assert_ids(ids, n, want, 1);
  }
  n = agent_list(w, w->agent, 0, TESORO_APPOINTMENT_CANCELLED, 0, 0, ids, 16);
  {
    int64_t want[] = {a3};
    tu_assert_ids(ids, n, want, 1);
  }
  assert_int_equal(agent_list(w, w->agent, 0, TESORO_APPOINTMENT_COMPLETED, 0,
                              0, ids, 16),
                   0);
  /* [from, to): from included, to excluded, 0 open */
  n = agent_list(w, w->agent, 0, 0, D1, D2, ids, 16);
  {
    int64_t want[] = {a1};
    tu_assert_ids(ids, n, want, 1);
  }
  n = agent_list(w, w->agent, 0, 0, D1 + 1, 0, ids, 16);
  {
    int64_t want[] = {a2, a3};
    tu_assert_ids(ids, n, want, 2);
  }
  n = agent_list(w, w->agent, 0, 0, 0, D2 + 1, ids, 16);
  {
    int64_t want[] = {a1, a2};
    tu_assert_ids(ids, n, want, 2);
  }
  /* another agent's list: agent2's own, and the admin looking at it */
  n = agent_list(w, w->agent2, 0, 0, 0, 0, ids, 16);
  {
    int64_t want[] = {b1};
    tu_assert_ids(ids, n, want, 1);
  }
  n = agent_list(w, w->admin, w->agent2, 0, 0, 0, ids, 16);
  {
    int64_t want[] = {b1};
    tu_assert_ids(ids, n, want, 1);
  }

  /* the columns */
  ref = tu_sqlf_text(w, "SELECT ref FROM listing WHERE id = %lld",
                  (long long)v.listing);
  TU_OK(w, tesoro_agent_appointments(w->t, w->agent, 0, 0, 0, 0, &cur));
  seek_id(cur, a2);
  assert_col_text(cur, "state", "confirmed");
  assert_col_text(cur, "status_colour", "green");
  assert_int_equal(tu_col_int(cur, "at"), D2);
  assert_int_equal(tu_col_int(cur, "start_at"), D2);
  pref = tu_strdup(tu_col_text(cur, "preferred"));
  assert_json_ints(pref, &(int64_t){D2}, 1);
  free(pref);
  assert_int_equal(tu_col_int(cur, "contact_id"), w->contact);
  assert_col_text(cur, "contact_name", "Ada Owner");
  assert_int_equal(tu_col_int(cur, "deal_id"), v.deal);
  assert_int_equal(tu_col_int(cur, "listing_id"), v.listing);
  assert_col_text(cur, "title", "Canal house");
  assert_col_text(cur, "address", "Herengracht 100, Amsterdam");
  assert_col_text(cur, "ref", ref);
  assert_int_equal(tu_col_int(cur, "no_show"), 0);
  assert_true(col_isnull(cur, "rating"));
  assert_int_equal(tu_col_int(cur, "version"), tu_version_of(w, APPT, a2));
  tesoro_cursor_free(cur);
  TU_OK(w, tesoro_agent_appointments(w->t, w->agent, 0, 0, 0, 0, &cur));
  seek_id(cur, a1);
  assert_col_text(cur, "status_colour", "yellow");
  assert_int_equal(tu_col_int(cur, "at"), D1);
  assert_true(col_isnull(cur, "start_at"));
  tesoro_cursor_free(cur);
  TU_OK(w, tesoro_agent_appointments(w->t, w->agent, 0, 0, 0, 0, &cur));
  seek_id(cur, a3);
  assert_col_text(cur, "status_colour", "red");
  tesoro_cursor_free(cur);
  free(ref);

  cur = NULL;
  TU_ASSERT_REFUSED(w, tesoro_agent_appointments(w->t, w->other_agent,
                                                 w->agent, 0, 0, 0, &cur),
                    TESORO_EDENIED, "another agency");
  TU_ASSERT_REFUSED(w, tesoro_agent_appointments(w->t, w->client, w->agent, 0,
                                                 0, 0, &cur),
                    TESORO_EDENIED, "only");
  TU_ASSERT_REFUSED(w, tesoro_agent_appointments(w->t, w->agent, 0, 9, 0, 0,
                                                 &cur),
                    TESORO_EINVAL, "state");
  assert_null(cur);
}

/* ------------------------------------------------------------------------
** 7. The agency-local day across DST.
*/

static void dst_case(tu_world *w, int64_t before, int64_t start,
                     int64_t day_before, int64_t early, int64_t late,
                     int64_t day_after) {
  viewing v;
  int64_t a, b;
  TU_OK(w, tesoro_clock_set(w->t, before));
  offer(w, &v);
  /* 12 hours from 20:00: neither has ended by 00:30 the next day, so the
     day alone refuses (the clock completes a viewing at its end) */
  a = request1(w, w->client, v.dp, start);
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, a, start,
                                      TESORO_MAX_VIEWING_S, 0));
  b = request1(w, w->client, v.dp, start);
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, b, start,
                                      TESORO_MAX_VIEWING_S, 0));

  TU_OK(w, tesoro_clock_set(w->t, day_before));
  TU_ASSERT_REFUSED(w, tesoro_appointment_start_viewing(w->t, w->client, a, 0),
                    TESORO_EGUARD, "day");
  TU_OK(w, tesoro_clock_set(w->t, day_after));
  TU_ASSERT_REFUSED(w, tesoro_appointment_start_viewing(w->t, w->client, a, 0),
                    TESORO_EGUARD, "day");
  /* 00:30 local on the day: still the previous day in UTC */
  TU_OK(w, tesoro_clock_set(w->t, early));
  TU_OK(w, tesoro_appointment_start_viewing(w->t, w->client, a, 0));
  tu_assert_state(w, APPT, a, "completed");
  /* 23:30 local on the day */
  TU_OK(w, tesoro_clock_set(w->t, late));
  TU_OK(w, tesoro_appointment_start_viewing(w->t, w->client, b, 0));
  tu_assert_state(w, APPT, b, "completed");
  TU_OK(w, tesoro_check(w->t));
}

static void test_start_viewing_on_local_day_across_spring_dst(void **state) {
  tu_world *w = *state;
  dst_case(w, SP_BEFORE, SP_START, SP_DAYBEFORE, SP_EARLY, SP_LATE,
           SP_DAYAFTER);
}

static void test_start_viewing_on_local_day_across_autumn_dst(void **state) {
  tu_world *w = *state;
  dst_case(w, TU_NOW, AU_START, AU_DAYBEFORE, AU_EARLY, AU_LATE, AU_DAYAFTER);
}

/* ------------------------------------------------------------------------
** 8. Reminders and feedback requests.
*/

static void test_confirm_plans_reminder_a_day_before(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a, p;

  offer(w, &v);
  p = request1(w, w->client, v.dp, D2);
  assert_int_equal(timer_n(w, p, "%remind%"), 0);
  a = confirmed(w, v.dp, D2);
  assert_int_equal(timer_n(w, a, "%remind%"), 1);
  assert_int_equal(tu_sqlf(w,
                        "SELECT due_at FROM timer WHERE entity = %d AND "
                        "entity_id = %lld AND kind LIKE '%%remind%%'",
                        APPT, (long long)a),
                   D2 - DAY);
  /* the completion at the end (an hour after the start) and the feedback
     request an hour after that */
  assert_int_equal(pending_due(w, a, D2), 0);
  assert_true(pending_due(w, a, D2 + HOUR) >= 1);
  assert_int_equal(timer_n(w, a, "%feedback%"), 1);
  assert_true(pending_due(w, a, D2 + 2 * HOUR) >= 1);
}

static void test_reminder_skipped_when_lead_has_passed(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a;

  offer(w, &v);
  a = confirmed(w, v.dp, TU_NOW + 3 * HOUR);
  assert_int_equal(timer_n(w, a, "%remind%"), 0);
  assert_true(pending_due(w, a, TU_NOW + 4 * HOUR) >= 1);
}

static void test_reschedule_replans_reminders(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a;
  int fired = 0;

  offer(w, &v);
  a = confirmed(w, v.dp, D2);
  TU_OK(w, tesoro_appointment_reschedule(w->t, w->agent, a, D4, 0, 0));
  assert_int_equal(timer_n(w, a, "%remind%"), 1);
  assert_int_equal(pending_due(w, a, D4 - DAY), 1);
  assert_int_equal(pending_due(w, a, D2 - DAY), 0);
  assert_int_equal(pending_due(w, a, D2 + HOUR), 0);
  assert_int_equal(pending_due(w, a, D2 + 2 * HOUR), 0);
  assert_true(pending_due(w, a, D4 + HOUR) >= 1);
  assert_true(pending_due(w, a, D4 + 2 * HOUR) >= 1);
  assert_int_equal(timer_n(w, a, "%remind%"), 1); /* the old one is gone */

  /* past the old times: nothing is sent, nothing completes */
  TU_OK(w, tesoro_tick(w->t, D2 + 2 * HOUR, &fired));
  tu_assert_state(w, APPT, a, "confirmed");
  assert_int_equal(outbox_n(w, a, 0, NULL, T_REMINDER), 0);
  assert_int_equal(outbox_n(w, a, 0, NULL, T_FEEDBACK), 0);
  /* the new reminder, once */
  TU_OK(w, tesoro_tick(w->t, D4 - DAY, &fired));
  assert_int_equal(outbox_n(w, a, 0, NULL, T_REMINDER), 4);
  TU_OK(w, tesoro_check(w->t));
}

static void test_cancel_and_reject_withdraw_timers(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t by_agent, by_client, rejected;
  int fired = 0;

  offer(w, &v);
  by_agent = confirmed(w, v.dp, D2);
  by_client = confirmed(w, v.dp, D3);
  rejected = request1(w, w->client, v.dp, D2);
  assert_true(timer_n(w, by_agent, NULL) >= 3);

  TU_OK(w, tesoro_appointment_cancel(w->t, w->agent, by_agent, "Sold", 0));
  TU_OK(w, tesoro_appointment_cancel(w->t, w->client, by_client, NULL, 0));
  TU_OK(w, tesoro_appointment_reject(w->t, w->agent, rejected, "Busy", 0));
  assert_int_equal(timer_n(w, by_agent, NULL), 0);
  assert_int_equal(timer_n(w, by_client, NULL), 0);
  assert_int_equal(timer_n(w, rejected, NULL), 0);
  assert_int_equal(timer_n(w, by_agent, "%remind%"), 0);

  /* well past every old due time: no reminder, no feedback, no completion */
  TU_OK(w, tesoro_tick(w->t, D3 + 10 * DAY, &fired));
  assert_int_equal(outbox_n(w, by_agent, 0, NULL, T_REMINDER), 0);
  assert_int_equal(outbox_n(w, by_client, 0, NULL, T_REMINDER), 0);
  assert_int_equal(outbox_n(w, by_agent, 0, NULL, T_FEEDBACK), 0);
  assert_int_equal(outbox_n(w, by_client, 0, NULL, T_FEEDBACK), 0);
  tu_assert_state(w, APPT, by_agent, "cancelled");
  tu_assert_state(w, APPT, by_client, "cancelled");
  tu_assert_state(w, APPT, rejected, "rejected");
  tu_assert_state(w, TESORO_ENTITY_DEAL_PROPERTY, v.dp, "to_review");
  TU_OK(w, tesoro_check(w->t));
}

static void test_reminder_fires_to_client_and_owner(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a;
  int fired = 0;

  offer(w, &v);
  a = confirmed(w, v.dp, D2);
  TU_OK(w, tesoro_tick(w->t, D2 - DAY - 1, &fired));
  assert_int_equal(outbox_n(w, a, 0, NULL, T_REMINDER), 0);
  TU_OK(w, tesoro_tick(w->t, D2 - DAY, &fired));
  assert_true(fired >= 1);
  assert_int_equal(outbox_n(w, a, w->client, "email", T_REMINDER), 1);
  assert_int_equal(outbox_n(w, a, w->client, "push", T_REMINDER), 1);
  assert_int_equal(outbox_n(w, a, w->agent, "crm", T_REMINDER), 1);
  assert_int_equal(outbox_n(w, a, w->agent, "push", T_REMINDER), 1);
  assert_int_equal(outbox_n(w, a, 0, NULL, T_REMINDER), 4);
  assert_int_equal(timer_n(w, a, "%remind%"), 0);
  assert_int_equal(history_n(w, a, "send_reminder"), 1);
  tu_assert_state(w, APPT, a, "confirmed");
  /* once only */
  TU_OK(w, tesoro_tick(w->t, D2 - DAY + 60, &fired));
  assert_int_equal(outbox_n(w, a, 0, NULL, T_REMINDER), 4);
  TU_OK(w, tesoro_check(w->t));
}

/* A tick that comes late, once the viewing has begun, sends no "coming
   up": the reminder timer goes, nothing is queued, and the completion
   still follows at the end. */
static void test_late_tick_sends_no_reminder(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a;
  int fired = 0;

  offer(w, &v);
  a = confirmed(w, v.dp, D2);
  assert_int_equal(timer_n(w, a, "%remind%"), 1);
  TU_OK(w, tesoro_tick(w->t, D2, &fired));
  assert_int_equal(outbox_n(w, a, 0, NULL, T_REMINDER), 0);
  assert_int_equal(history_n(w, a, "send_reminder"), 0);
  assert_int_equal(timer_n(w, a, "%remind%"), 0);
  tu_assert_state(w, APPT, a, "confirmed");
  TU_OK(w, tesoro_tick(w->t, D2 + 2 * HOUR, &fired));
  tu_assert_state(w, APPT, a, "completed");
  assert_int_equal(outbox_n(w, a, 0, NULL, T_REMINDER), 0);
  TU_OK(w, tesoro_check(w->t));
}

static void test_reminder_lead_is_configurable(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a;

  offer(w, &v);
  TU_ASSERT_ERR(w, tesoro_config(w->t, TESORO_CONFIG_REMINDER_LEAD_S, 0),
                TESORO_EINVAL, NULL);
  TU_ASSERT_ERR(w, tesoro_config(w->t, TESORO_CONFIG_REMINDER_LEAD_S, -60),
                TESORO_EINVAL, NULL);
  TU_OK(w, tesoro_config(w->t, TESORO_CONFIG_REMINDER_LEAD_S, 2 * HOUR));
  a = confirmed(w, v.dp, D2);
  assert_int_equal(timer_n(w, a, "%remind%"), 1);
  assert_int_equal(pending_due(w, a, D2 - 2 * HOUR), 1);
  assert_int_equal(pending_due(w, a, D2 - DAY), 0);
  TU_OK(w, tesoro_tick(w->t, D2 - 2 * HOUR - 1, NULL));
  assert_int_equal(outbox_n(w, a, 0, NULL, T_REMINDER), 0);
  TU_OK(w, tesoro_tick(w->t, D2 - 2 * HOUR, NULL));
  assert_int_equal(outbox_n(w, a, 0, NULL, T_REMINDER), 4);
}

/* Timers are keyed by their due time, so a reschedule or a cancellation
   withdraws the reminder at the time it was planned for, whatever the
   handle's lead is by then; tesoro_check finds a timer its viewing does
   not account for. */
static void test_reminder_is_withdrawn_after_the_lead_changed(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a, b;
  char err[200];

  offer(w, &v);
  TU_OK(w, tesoro_config(w->t, TESORO_CONFIG_REMINDER_LEAD_S, 2 * HOUR));
  a = confirmed(w, v.dp, D2);
  b = confirmed(w, v.dp, D3);
  assert_int_equal(pending_due(w, a, D2 - 2 * HOUR), 1);
  TU_OK(w, tesoro_config(w->t, TESORO_CONFIG_REMINDER_LEAD_S, 3 * HOUR));
  TU_OK(w, tesoro_appointment_reschedule(w->t, w->agent, a, D4, 0, 0));
  assert_int_equal(pending_due(w, a, D2 - 2 * HOUR), 0);
  assert_int_equal(pending_due(w, a, D4 - 3 * HOUR), 1);
  assert_int_equal(timer_n(w, a, "%remind%"), 1);
  TU_OK(w, tesoro_appointment_cancel(w->t, w->agent, b, "Agent ill", 0));
  assert_int_equal(timer_n(w, b, NULL), 0);
  TU_OK(w, tesoro_check(w->t));
  /* a timer moved behind tesoro's back would never be withdrawn */
  assert_int_equal(tu_sql_exec(w, tu_fmt("UPDATE timer SET due_at = due_at + 60 "
                                         "WHERE entity = %d AND entity_id = %lld AND "
                                         "kind = 'viewing_reminder'",
                                         APPT, (long long)a), err, sizeof err),
                   SQLITE_OK);
  TU_ASSERT_ERR(w, tesoro_check(w->t), TESORO_EDB, "viewing_reminder timer of appointment");
}

static void test_feedback_request_an_hour_after_completion(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a;

  offer(w, &v);
  a = completed_by_timer(w, v.dp, D1);
  assert_int_equal(outbox_n(w, a, 0, NULL, T_FEEDBACK), 0);
  TU_OK(w, tesoro_tick(w->t, D1 + 2 * HOUR - 1, NULL));
  assert_int_equal(outbox_n(w, a, 0, NULL, T_FEEDBACK), 0);
  TU_OK(w, tesoro_tick(w->t, D1 + 2 * HOUR, NULL));
  assert_true(outbox_n(w, a, w->client, NULL, T_FEEDBACK) >= 1);
  assert_int_equal(outbox_n(w, a, w->agent, NULL, T_FEEDBACK), 0);
  assert_int_equal(timer_n(w, a, "%feedback%"), 0);
  assert_int_equal(history_n(w, a, "request_feedback"), 1);
  TU_OK(w, tesoro_check(w->t));
}

/* ------------------------------------------------------------------------
** 8b. Viewing duration: the agency's default, and each viewing's own.
*/

static int64_t end_at_of(tu_world *w, int64_t a) {
  char *json = NULL, *p;
  int64_t end;
  TU_OK(w, tesoro_entity_json(w->t, w->agent, APPT, a, &json));
  p = strstr(json, "\"end_at\":");
  assert_non_null(p);
  end = strtoll(p + 9, NULL, 10);
  tesoro_free(json);
  return end;
}

static void test_viewing_duration_default_and_per_viewing(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a, b;
  char *ics = NULL, want[64];
  offer(w, &v);
  /* the agency default (an hour unless set) is taken at the request */
  a = request1(w, w->client, v.dp, D1);
  TU_OK(w, tesoro_agency_set_viewing_duration(w->t, w->admin, 5400));
  b = request1(w, w->client, v.dp, D2);
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, a, D1, 0, 0));
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, b, D2, 0, 0));
  assert_int_equal(end_at_of(w, a), D1 + HOUR);
  assert_int_equal(end_at_of(w, b), D2 + 5400);
  /* confirm sets its own; reschedule keeps it (0) or sets another */
  TU_OK(w, tesoro_appointment_reschedule(w->t, w->agent, a, D3, 1800, 0));
  assert_int_equal(end_at_of(w, a), D3 + 1800);
  TU_OK(w, tesoro_appointment_reschedule(w->t, w->agent, a, D4, 0, 0));
  assert_int_equal(end_at_of(w, a), D4 + 1800);
  /* the completion follows the end, the feedback an hour after it, the
     reminder still a day before the start */
  assert_int_equal(pending_due(w, a, D4 + 1800), 1);
  assert_int_equal(pending_due(w, a, D4 + 1800 + HOUR), 1);
  assert_int_equal(pending_due(w, a, D4 - DAY), 1);
  /* iCalendar and the calendar message end there too */
  TU_OK(w, tesoro_appointment_ics(w->t, w->agent, a, NULL, &ics));
  {
    time_t t = (time_t)(D4 + 1800);
    struct tm tm;
    char stamp[32];
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(want, sizeof want, "DTEND:%s\r\n", stamp);
    assert_non_null(strstr(ics, want));
  }
  tesoro_free(ics);
  TU_OK(w, tesoro_tick(w->t, D4 + 1799, NULL));
  tu_assert_state(w, APPT, a, "confirmed");
  TU_OK(w, tesoro_tick(w->t, D4 + 1800, NULL));
  tu_assert_state(w, APPT, a, "completed");
  TU_OK(w, tesoro_check(w->t));
}

static void test_viewing_duration_refusals(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a;
  offer(w, &v);
  a = request1(w, w->client, v.dp, D1);
  TU_ASSERT_REFUSED(w, tesoro_agency_set_viewing_duration(w->t, w->agent, 5400),
                    TESORO_EDENIED, "admin");
  TU_ASSERT_REFUSED(w, tesoro_agency_set_viewing_duration(w->t, w->client, 5400),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_set_viewing_duration(w->t, w->admin,
                                                          TESORO_MIN_VIEWING_S - 1),
                    TESORO_EINVAL, "seconds");
  TU_ASSERT_REFUSED(w, tesoro_agency_set_viewing_duration(w->t, w->admin,
                                                          TESORO_MAX_VIEWING_S + 1),
                    TESORO_EINVAL, "seconds");
  TU_ASSERT_REFUSED(w, tesoro_agency_set_viewing_duration(w->t, w->admin, 0),
                    TESORO_EINVAL, "seconds");
  TU_ASSERT_REFUSED(w, tesoro_agency_set_viewing_duration(w->t, w->admin, -60),
                    TESORO_EINVAL, "seconds");
  TU_ASSERT_REFUSED(w, tesoro_agency_set_viewing_duration(w->t, 999999, 5400),
                    TESORO_ENOTFOUND, NULL);
  assert_int_equal(tesoro_agency_set_viewing_duration(NULL, w->admin, 5400),
                   TESORO_EMISUSE);
  TU_ASSERT_REFUSED(w, tesoro_appointment_confirm(w->t, w->agent, a, D1,
                                                  TESORO_MIN_VIEWING_S - 1, 0),
                    TESORO_EINVAL, "seconds");
  TU_ASSERT_REFUSED(w, tesoro_appointment_confirm(w->t, w->agent, a, D1, -1, 0),
                    TESORO_EINVAL, "seconds");
  TU_ASSERT_REFUSED(w, tesoro_appointment_confirm(w->t, w->agent, a, D1,
                                                  TESORO_MAX_VIEWING_S + 1, 0),
                    TESORO_EINVAL, "seconds");
  TU_OK(w, tesoro_agency_set_viewing_duration(w->t, w->admin,
                                              TESORO_MAX_VIEWING_S));
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, a, D1,
                                      TESORO_MIN_VIEWING_S, 0));
  assert_int_equal(end_at_of(w, a), D1 + TESORO_MIN_VIEWING_S);
}

/* No rule waits for the tick: a viewing that has ended is completed by the
   first write on it, in that call, as the tick would have. */
static void test_ended_viewing_completes_without_a_tick(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a, b, c, note = 0;
  offer(w, &v);
  a = confirmed(w, v.dp, D1);
  b = confirmed(w, v.dp, D1);
  c = confirmed(w, v.dp, D1);
  TU_OK(w, tesoro_clock_set(w->t, D1 + HOUR + 1));
  /* staff cannot cancel what has already taken place */
  TU_ASSERT_REFUSED(w, tesoro_appointment_cancel(w->t, w->agent, a, "Agent ill",
                                                 0),
                    TESORO_ESTATE, "completed");
  TU_ASSERT_REFUSED(w, tesoro_appointment_reschedule(w->t, w->agent, a,
                                                     D4, 0, 0),
                    TESORO_ESTATE, "completed");
  /* a no-show can be recorded at once; a note added at once */
  TU_OK(w, tesoro_appointment_record_no_show(w->t, w->agent, b, "Nobody came",
                                             0));
  tu_assert_state(w, APPT, b, "completed");
  TU_OK(w, tesoro_appointment_note_add(w->t, w->client, c, "Lovely garden",
                                       &note));
  assert_true(note > 0);
  /* each was completed by the system at the call's time */
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM history h JOIN actor x ON "
                              "x.id = h.actor_id WHERE h.entity = %d AND "
                              "h.event = 'complete' AND x.kind = 'system' AND "
                              "h.at = %lld AND h.entity_id IN (%lld, %lld)",
                           APPT, (long long)(D1 + HOUR + 1), (long long)b,
                           (long long)c),
                   2);
  /* and a's completion is not stored: the refused cancel changed nothing */
  tu_assert_state(w, APPT, a, "confirmed");
  TU_OK(w, tesoro_tick(w->t, D1 + HOUR + 1, NULL));
  tu_assert_state(w, APPT, a, "completed");
  TU_OK(w, tesoro_check(w->t));
}

/* A tick keeps, as the next due time, the first timer it leaves: a write
   once that time has come still completes the ended viewing first. */
static void test_ended_viewing_completes_after_an_earlier_tick(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a, note = 0;
  offer(w, &v);
  a = confirmed(w, v.dp, D1);
  TU_OK(w, tesoro_tick(w->t, D1 - 1, NULL)); /* the reminder, if due */
  tu_assert_state(w, APPT, a, "confirmed");
  TU_OK(w, tesoro_clock_set(w->t, D1 + HOUR + 1));
  TU_ASSERT_REFUSED(w, tesoro_appointment_cancel(w->t, w->agent, a, "Agent ill",
                                                 0),
                    TESORO_ESTATE, "completed");
  TU_OK(w, tesoro_appointment_note_add(w->t, w->client, a, "Lovely garden",
                                       &note));
  tu_assert_state(w, APPT, a, "completed");
  TU_OK(w, tesoro_check(w->t));
}

/* ------------------------------------------------------------------------
** 8c. Notification preferences: a recipient's channels and the agency's
** switches ("push (if enabled)", "calendar (if calendar integration is
** active)").
*/

static int channels_of(tu_world *w, int64_t actor, int64_t recipient) {
  int ch = -1;
  TU_OK(w, tesoro_notification_channels(w->t, actor, recipient, &ch));
  return ch;
}

static void test_notification_preferences(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a, b, c, rows;
  offer(w, &v);
  assert_int_equal(channels_of(w, w->agent, w->agent),
                   TESORO_CHANNEL_CRM | TESORO_CHANNEL_PUSH |
                       TESORO_CHANNEL_EMAIL | TESORO_CHANNEL_CALENDAR);
  assert_int_equal(channels_of(w, w->client, w->client),
                   TESORO_CHANNEL_PUSH | TESORO_CHANNEL_EMAIL);
  /* the owner turns e-mail off, the client push */
  TU_OK(w, tesoro_notification_set(w->t, w->agent, w->agent,
                                   TESORO_CHANNEL_EMAIL, 0));
  TU_OK(w, tesoro_notification_set(w->t, w->client, w->client,
                                   TESORO_CHANNEL_PUSH, 0));
  assert_int_equal(channels_of(w, w->agent, w->agent),
                   TESORO_CHANNEL_CRM | TESORO_CHANNEL_PUSH |
                       TESORO_CHANNEL_CALENDAR);
  a = request1(w, w->client, v.dp, D2);
  assert_int_equal(outbox_n(w, a, w->agent, "crm", T_CREATED), 1);
  assert_int_equal(outbox_n(w, a, w->agent, "push", T_CREATED), 1);
  assert_int_equal(outbox_n(w, a, w->agent, "email", T_CREATED), 0);
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, a, D2, 0, 0));
  TU_OK(w, tesoro_tick(w->t, D2 - DAY, NULL));
  assert_int_equal(outbox_n(w, a, w->client, "email", T_REMINDER), 1);
  assert_int_equal(outbox_n(w, a, w->client, "push", T_REMINDER), 0);
  assert_int_equal(outbox_n(w, a, w->agent, "push", T_REMINDER), 1);
  /* the agency switches push off: nobody gets a push */
  TU_OK(w, tesoro_agency_set_push(w->t, w->admin, 0));
  assert_int_equal(channels_of(w, w->agent, w->agent),
                   TESORO_CHANNEL_CRM | TESORO_CHANNEL_CALENDAR);
  b = request1(w, w->client, v.dp, D3);
  assert_int_equal(outbox_n(w, b, w->agent, "push", T_CREATED), 0);
  assert_int_equal(outbox_n(w, b, w->agent, "crm", T_CREATED), 1);
  /* and the calendar integration: no calendar message */
  assert_int_equal(cal_n(w, b), 1);
  TU_OK(w, tesoro_agency_set_calendar(w->t, w->admin, 0));
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, b, D3, 0, 0));
  assert_int_equal(cal_n(w, b), 1);
  TU_OK(w, tesoro_agency_set_calendar(w->t, w->admin, 1));
  TU_OK(w, tesoro_agency_set_push(w->t, w->admin, 1));
  /* every channel of a message off: no row at all, the timeline still */
  TU_OK(w, tesoro_notification_set(w->t, w->client, w->client,
                                   TESORO_CHANNEL_EMAIL, 0));
  c = request1(w, w->client, v.dp, D4);
  rows = tu_sqlf(w, "SELECT count(*) FROM outbox WHERE recipient_id = %lld",
                 (long long)w->client);
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, c, D4, 0, 0));
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM outbox WHERE "
                              "recipient_id = %lld", (long long)w->client),
                   rows);
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM timeline WHERE kind = "
                              "'viewing_confirmed' AND entity_id = %lld",
                           (long long)c), 1);
  /* turned on again */
  TU_OK(w, tesoro_notification_set(w->t, w->client, w->client,
                                   TESORO_CHANNEL_EMAIL, 1));
  TU_OK(w, tesoro_appointment_reschedule(w->t, w->agent, c, D4 + HOUR, 0, 0));
  assert_int_equal(outbox_n(w, c, w->client, "email", T_STATUS), 1);
  /* an admin manages staff's; nobody else's */
  TU_OK(w, tesoro_notification_set(w->t, w->admin, w->agent2,
                                   TESORO_CHANNEL_CALENDAR, 0));
  assert_int_equal(channels_of(w, w->admin, w->agent2) &
                       TESORO_CHANNEL_CALENDAR, 0);
  TU_OK(w, tesoro_check(w->t));
}

/* A write remembers the last recipients' channels; a preference changed
** by another connection (another worker's handle) applies at once. */
static void test_a_preference_set_elsewhere_applies_at_once(void **state) {
  tu_world *w = *state;
  tesoro *other = NULL;
  viewing v;
  int64_t a, b;
  offer(w, &v);
  a = request1(w, w->client, v.dp, D2);
  assert_int_equal(outbox_n(w, a, w->agent, "email", T_CREATED), 1);
  assert_int_equal(tesoro_open(w->path, &other), TESORO_OK);
  assert_int_equal(tesoro_notification_set(other, w->agent, w->agent,
                                           TESORO_CHANNEL_EMAIL, 0),
                   TESORO_OK);
  tesoro_close(other);
  b = request1(w, w->client, v.dp, D3);
  assert_int_equal(outbox_n(w, b, w->agent, "email", T_CREATED), 0);
  assert_int_equal(outbox_n(w, b, w->agent, "crm", T_CREATED), 1);
}

static void test_notification_preference_refusals(void **state) {
  tu_world *w = *state;
  int ch = -1;
  static const int bad_channels[] = {0, TESORO_CHANNEL_CRM,
                                     TESORO_CHANNEL_WEBSITE, 3, 6, 32, -2};
  for (size_t i = 0; i < sizeof bad_channels / sizeof *bad_channels; i++)
    TU_ASSERT_REFUSED(w, tesoro_notification_set(w->t, w->agent, w->agent,
                                                 bad_channels[i], 0),
                      TESORO_EINVAL, "channel");
  TU_ASSERT_REFUSED(w, tesoro_notification_set(w->t, w->agent, w->agent,
                                               TESORO_CHANNEL_PUSH, 2),
                    TESORO_EINVAL, "0 (off) or 1 (on)");
  TU_ASSERT_REFUSED(w, tesoro_notification_set(w->t, w->client, w->client2,
                                               TESORO_CHANNEL_PUSH, 0),
                    TESORO_EDENIED, "only they");
  TU_ASSERT_REFUSED(w, tesoro_notification_set(w->t, w->agent, w->agent2,
                                               TESORO_CHANNEL_PUSH, 0),
                    TESORO_EDENIED, "only they");
  TU_ASSERT_REFUSED(w, tesoro_notification_set(w->t, w->admin, w->client,
                                               TESORO_CHANNEL_PUSH, 0),
                    TESORO_EDENIED, "only they");
  TU_ASSERT_REFUSED(w, tesoro_notification_set(w->t, w->other_admin, w->agent,
                                               TESORO_CHANNEL_PUSH, 0),
                    TESORO_EDENIED, "another agency");
  TU_ASSERT_REFUSED(w, tesoro_notification_set(w->t, w->website, w->website,
                                               TESORO_CHANNEL_PUSH, 0),
                    TESORO_EINVAL, "only people");
  TU_ASSERT_REFUSED(w, tesoro_notification_set(w->t, w->agent, 999999,
                                               TESORO_CHANNEL_PUSH, 0),
                    TESORO_ENOTFOUND, "999999");
  TU_ASSERT_REFUSED(w, tesoro_notification_set(w->t, w->agent, 0,
                                               TESORO_CHANNEL_PUSH, 0),
                    TESORO_EINVAL, "actor");
  TU_ASSERT_REFUSED(w, tesoro_notification_channels(w->t, w->agent, w->agent,
                                                    NULL),
                    TESORO_EINVAL, "out_channels");
  TU_ASSERT_REFUSED(w, tesoro_notification_channels(w->t, w->client, w->agent,
                                                    &ch),
                    TESORO_EDENIED, "only they");
  assert_int_equal(tesoro_notification_set(NULL, w->agent, w->agent,
                                           TESORO_CHANNEL_PUSH, 0),
                   TESORO_EMISUSE);
  TU_ASSERT_REFUSED(w, tesoro_agency_set_push(w->t, w->agent, 0),
                    TESORO_EDENIED, "admin");
  TU_ASSERT_REFUSED(w, tesoro_agency_set_calendar(w->t, w->client, 0),
                    TESORO_EDENIED, NULL);
  TU_ASSERT_REFUSED(w, tesoro_agency_set_push(w->t, w->admin, 2),
                    TESORO_EINVAL, "0 (off) or 1 (on)");
  TU_ASSERT_REFUSED(w, tesoro_agency_set_calendar(w->t, w->admin, -1),
                    TESORO_EINVAL, "0 (off) or 1 (on)");
}

/* No rule waits for the tick: once a viewing has ended, the next write on
   its deal property completes it and finds the property viewed (the
   system recorded both, in that call). */
static void test_viewing_ends_without_a_tick(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a;
  offer(w, &v);
  TU_OK(w, tesoro_deal_property_interested(w->t, w->client, v.dp, 0));
  a = confirmed(w, v.dp, D1);
  TU_OK(w, tesoro_clock_set(w->t, D1 + HOUR + 60));
  TU_OK(w, tesoro_deal_property_favourite(w->t, w->client, v.dp, 1, 0));
  tu_assert_state(w, APPT, a, "completed");
  tu_assert_state(w, TESORO_ENTITY_DEAL_PROPERTY, v.dp, "viewed");
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM history h JOIN actor x ON "
                              "x.id = h.actor_id WHERE h.entity = %d AND "
                              "h.entity_id = %lld AND h.to_state = 'viewed' "
                              "AND h.from_state = 'interesting' AND x.kind = "
                              "'system' AND h.at = %lld",
                           TESORO_ENTITY_DEAL_PROPERTY, (long long)v.dp,
                           (long long)(D1 + HOUR + 60)),
                   1);
  /* what stays planned is the feedback request alone */
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM timer WHERE entity = %d "
                              "AND entity_id = %lld", APPT, (long long)a), 1);
  TU_OK(w, tesoro_check(w->t));
}

/* ------------------------------------------------------------------------
** 9. No-show.
*/

static void test_no_show_recorded_by_agent_within_window(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a, ids[4], cal;
  int n, found = 0, rc;
  tesoro_cursor *c = NULL;

  offer(w, &v);
  a = completed_by_timer(w, v.dp, D1);
  cal = cal_n(w, a);
  TU_OK(w, tesoro_clock_set(w->t, D1 + 2 * DAY));
  TU_ASSERT_REFUSED(w, tesoro_appointment_record_no_show(w->t, w->client, a,
                                                         NULL, 0),
                    TESORO_EDENIED, "only");
  TU_ASSERT_REFUSED(w, tesoro_appointment_record_no_show(w->t, w->other_agent,
                                                         a, NULL, 0),
                    TESORO_EDENIED, "another agency");
  assert_int_equal(timer_n(w, a, "%feedback%"), 1);
  assert_int_equal(timer_n(w, a, NULL), 1);
  tu_assert_state(w, TESORO_ENTITY_DEAL_PROPERTY, v.dp, "viewed");
  TU_OK(w, tesoro_appointment_record_no_show(w->t, w->agent, a,
                                             "Waited 30 minutes at the door",
                                             0));
  tu_assert_state(w, APPT, a, "completed");
  /* the client did not view it: the property is back to review, by the
     system, in the same call */
  tu_assert_state(w, TESORO_ENTITY_DEAL_PROPERTY, v.dp, "to_review");
  assert_int_equal(tu_sqlf(w, "SELECT count(*) FROM history h JOIN actor x ON "
                              "x.id = h.actor_id WHERE h.entity = %d AND "
                              "h.entity_id = %lld AND h.event = "
                              "'viewing_no_show' AND h.from_state = 'viewed' "
                              "AND h.to_state = 'to_review' AND x.kind = "
                              "'system' AND h.at = %lld",
                           TESORO_ENTITY_DEAL_PROPERTY, (long long)v.dp,
                           (long long)(D1 + 2 * DAY)),
                   1);
  /* no feedback request after a no-show */
  assert_int_equal(timer_n(w, a, "%feedback%"), 0);
  assert_int_equal(timer_n(w, a, NULL), 0);
  assert_int_equal(tu_sqlf(w, "SELECT no_show_at FROM appointment WHERE id = %lld",
                        (long long)a),
                   D1 + 2 * DAY);
  assert_int_equal(tu_sqlf(w, "SELECT no_show_by FROM appointment WHERE id = %lld",
                        (long long)a),
                   w->agent);
  /* in the history */
  TU_OK(w, tesoro_history(w->t, w->agent, APPT, a, &c));
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
    const char *e = tu_col_text(c, "event");
    if (e && strcmp(e, "record_no_show") == 0) {
      found++;
      assert_int_equal(tu_col_int(c, "actor_id"), w->agent);
      assert_int_equal(tu_col_int(c, "at"), D1 + 2 * DAY);
      assert_true(tu_contains_ci(tu_col_text(c, "details"),
                                 "Waited 30 minutes at the door"));
    }
  }
  assert_int_equal(rc, TESORO_DONE);
  tesoro_cursor_free(c);
  assert_int_equal(found, 1);
  assert_int_equal(cal_n(w, a), cal + 1);
  /* on the agent's list */
  n = agent_list(w, w->agent, 0, TESORO_APPOINTMENT_COMPLETED, 0, 0, ids, 4);
  assert_int_equal(n, 1);
  TU_OK(w, tesoro_agent_appointments(w->t, w->agent, 0, 0, 0, 0, &c));
  seek_id(c, a);
  assert_int_equal(tu_col_int(c, "no_show"), 1);
  tesoro_cursor_free(c);

  REFUSED2(w, tesoro_appointment_record_no_show(w->t, w->agent, a, NULL, 0),
           TESORO_EGUARD, "already", "no-show");
  /* the window closes: the property stays unviewed */
  TU_OK(w, tesoro_tick(w->t, D1 + 8 * DAY, NULL));
  tu_assert_state(w, TESORO_ENTITY_DEAL_PROPERTY, v.dp, "to_review");
  TU_OK(w, tesoro_check(w->t));
}

static void test_no_show_refused_once_window_closed(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a;

  offer(w, &v);
  a = completed_by_timer(w, v.dp, D1);
  TU_OK(w, tesoro_clock_set(w->t, D1 + TESORO_NO_SHOW_WINDOW_S));
  REFUSED2(w, tesoro_appointment_record_no_show(w->t, w->agent, a, NULL, 0),
           TESORO_EGUARD, "7 days", "window");
  TU_OK(w, tesoro_clock_set(w->t, D1 + TESORO_NO_SHOW_WINDOW_S + DAY));
  REFUSED2(w, tesoro_appointment_record_no_show(w->t, w->agent, a, NULL, 0),
           TESORO_EGUARD, "7 days", "window");
  /* one second before the end it is still accepted */
  TU_OK(w, tesoro_clock_set(w->t, D1 + TESORO_NO_SHOW_WINDOW_S - 1));
  TU_OK(w, tesoro_appointment_record_no_show(w->t, w->agent, a, NULL, 0));
}

static void test_no_show_refused_for_started_viewing(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a, p;

  offer(w, &v);
  p = confirmed(w, v.dp, D2);
  TU_ASSERT_REFUSED(w, tesoro_appointment_record_no_show(w->t, w->agent, p,
                                                         NULL, 0),
                    TESORO_ESTATE, "confirmed");
  a = confirmed(w, v.dp, D1);
  TU_OK(w, tesoro_clock_set(w->t, D1 - HOUR));
  TU_OK(w, tesoro_appointment_start_viewing(w->t, w->client, a, 0));
  /* started by the client: viewed at once */
  tu_assert_state(w, TESORO_ENTITY_DEAL_PROPERTY, v.dp, "viewed");
  TU_OK(w, tesoro_clock_set(w->t, D1 + HOUR));
  REFUSED2(w, tesoro_appointment_record_no_show(w->t, w->agent, a, NULL, 0),
           TESORO_EGUARD, "start", "client");
}

/* A no-show takes back only what its own viewing did: an interested
   client's property goes back to interesting; a property viewed at an
   earlier viewing, or approved since, stays. */
static void test_no_show_puts_the_property_back(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a, b;

  offer(w, &v);
  TU_OK(w, tesoro_deal_property_interested(w->t, w->client, v.dp, 0));
  a = completed_by_timer(w, v.dp, D1);
  tu_assert_state(w, TESORO_ENTITY_DEAL_PROPERTY, v.dp, "viewed");
  TU_OK(w, tesoro_deal_property_favourite(w->t, w->client, v.dp, 1, 0));
  TU_OK(w, tesoro_clock_set(w->t, D1 + DAY));
  TU_OK(w, tesoro_appointment_record_no_show(w->t, w->agent, a, NULL, 0));
  tu_assert_state(w, TESORO_ENTITY_DEAL_PROPERTY, v.dp, "interesting");
  assert_int_equal(tu_sqlf(w, "SELECT favourite FROM deal_property WHERE "
                              "id = %lld", (long long)v.dp), 1);

  /* viewed at a second viewing: a no-show there after an approval stands */
  b = completed_by_timer(w, v.dp, D2);
  tu_assert_state(w, TESORO_ENTITY_DEAL_PROPERTY, v.dp, "viewed");
  TU_OK(w, tesoro_deal_property_approve(w->t, w->client, v.dp, 0));
  TU_OK(w, tesoro_clock_set(w->t, D2 + DAY));
  TU_OK(w, tesoro_appointment_record_no_show(w->t, w->agent, b, NULL, 0));
  tu_assert_state(w, TESORO_ENTITY_DEAL_PROPERTY, v.dp, "approved");
  TU_OK(w, tesoro_check(w->t));
}

/* A property viewed at one viewing stays viewed when the client misses
   another: the no-show is about the viewing that did not make it viewed. */
static void test_no_show_at_a_later_viewing_keeps_viewed(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a, b;

  offer(w, &v);
  a = confirmed(w, v.dp, D1);
  TU_OK(w, tesoro_clock_set(w->t, D1 - HOUR));
  TU_OK(w, tesoro_appointment_start_viewing(w->t, w->client, a, 0));
  tu_assert_state(w, TESORO_ENTITY_DEAL_PROPERTY, v.dp, "viewed");
  b = completed_by_timer(w, v.dp, D2);
  TU_OK(w, tesoro_clock_set(w->t, D2 + DAY));
  TU_OK(w, tesoro_appointment_record_no_show(w->t, w->agent, b, NULL, 0));
  tu_assert_state(w, TESORO_ENTITY_DEAL_PROPERTY, v.dp, "viewed");
  TU_OK(w, tesoro_check(w->t));
}

/* ------------------------------------------------------------------------
** 10. Any number of requests.
*/

static void test_repeat_requests_are_separate_appointments(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a, b, c, d;

  offer(w, &v);
  a = request1(w, w->client, v.dp, D1);
  b = request1(w, w->client, v.dp, D1);
  c = request1(w, w->client, v.dp, D2);
  assert_true(a != b && b != c && a != c);
  tu_assert_state(w, APPT, a, "pending");
  tu_assert_state(w, APPT, b, "pending");
  tu_assert_state(w, APPT, c, "pending");
  TU_OK(w, tesoro_appointment_cancel(w->t, w->client, b, NULL, 0));
  d = request1(w, w->client, v.dp, D1);
  assert_true(d != a && d != b && d != c);
  tu_assert_state(w, APPT, b, "cancelled");
  tu_assert_state(w, APPT, d, "pending");
  assert_int_equal(tu_sqlf(w,
                        "SELECT count(*) FROM appointment WHERE "
                        "deal_property_id = %lld",
                        (long long)v.dp),
                   4);
  assert_int_equal(outbox_n(w, d, w->agent, "email", T_CREATED), 1);
  TU_OK(w, tesoro_check(w->t));
}

/* ------------------------------------------------------------------------
** 11. iCalendar.
*/

#define ODD_PART                                                              \
  "Grachtenpand, Prinsengracht; \"Zo\xC3\xAB\" \\ caf\xC3\xA9\nnaast de brug"

static void test_ics_pending_is_tentative_at_earliest_preferred(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a, other, pa[2] = {D3, D1};
  icalcomponent *cal, *ev, *al;
  icalproperty *trig;
  char *raw = NULL, *raw2 = NULL, *ref, *uid;
  const char *desc;
  static const char link[] = "https://portal.tesoro.test/viewings?id=7&x=1";

  offer(w, &v);
  a = request_n(w, w->client, v.dp, pa, 2);
  other = request1(w, w->client, v.dp, D2);
  ref = tu_sqlf_text(w, "SELECT ref FROM listing WHERE id = %lld",
                  (long long)v.listing);
  assert_non_null(ref);

  cal = ics_parse(w, w->client, a, link, &raw, &ev);
  check_ics_layout(raw);
  assert_string_equal(icalcomponent_get_summary(ev),
                      "Canal house Property Viewing");
  assert_string_equal(icalcomponent_get_location(ev),
                      "Herengracht 100, Amsterdam");
  /* pending: the earliest preferred date (D1), not the first listed (D3) */
  assert_int_equal(ical_utc(icalcomponent_get_dtstart(ev)), D1);
  assert_non_null(icalcomponent_get_first_property(ev, ICAL_DTEND_PROPERTY));
  assert_int_equal(ical_utc(icalcomponent_get_dtend(ev)), D1 + HOUR);
  assert_non_null(icalcomponent_get_first_property(ev, ICAL_DTSTAMP_PROPERTY));
  assert_int_equal(icalcomponent_get_status(ev), ICAL_STATUS_TENTATIVE);
  assert_int_equal(icalcomponent_get_sequence(ev),
                   tu_version_of(w, APPT, a) - 1);
  desc = icalcomponent_get_description(ev);
  assert_non_null(desc);
  assert_non_null(strstr(desc, "Canal house"));
  assert_non_null(strstr(desc, ref));
  assert_non_null(strstr(desc, "Herengracht 100, Amsterdam"));
  assert_non_null(strstr(desc, link));
  assert_non_null(strstr(desc, "450"));
  al = icalcomponent_get_first_component(ev, ICAL_VALARM_COMPONENT);
  assert_non_null(al);
  assert_non_null(icalcomponent_get_first_property(al, ICAL_ACTION_PROPERTY));
  trig = icalcomponent_get_first_property(al, ICAL_TRIGGER_PROPERTY);
  assert_non_null(trig);
  assert_int_equal(icaldurationtype_as_int(icalproperty_get_trigger(trig)
                                               .duration),
                   -30 * 60);
  uid = tu_strdup(icalcomponent_get_uid(ev));
  assert_non_null(uid);
  assert_true(uid[0] != '\0');
  icalcomponent_free(cal);

  /* a second export, later and without a link: same UID, no link */
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + HOUR));
  cal = ics_parse(w, w->agent, a, NULL, &raw2, &ev);
  assert_string_equal(icalcomponent_get_uid(ev), uid);
  assert_null(strstr(icalcomponent_get_description(ev), "https://"));
  ics_free(cal, raw2);
  /* another appointment has another UID */
  cal = ics_parse(w, w->client, other, NULL, &raw2, &ev);
  assert_string_not_equal(icalcomponent_get_uid(ev), uid);
  ics_free(cal, raw2);
  tesoro_free(raw);
  free(uid);
  free(ref);

  /* who may export */
  raw = NULL;
  TU_ASSERT_REFUSED(w, tesoro_appointment_ics(w->t, w->client2, a, NULL, &raw),
                    TESORO_EDENIED, "another client");
  TU_ASSERT_REFUSED(w, tesoro_appointment_ics(w->t, w->other_agent, a, NULL,
                                              &raw),
                    TESORO_EDENIED, "another agency");
  TU_ASSERT_REFUSED(w, tesoro_appointment_ics(w->t, w->client, a,
                                              TU_BAD_UTF8, &raw),
                    TESORO_EINVAL, "UTF-8");
  assert_null(raw);
}

static void test_ics_escapes_and_folds_text(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a;
  char title[512], address[512], summary[600], *raw = NULL, *raw2 = NULL,
      *ref, *uid;
  const char *desc;
  icalcomponent *cal, *ev;
  int i, folded;
  size_t n;
  static const char link[] =
      "https://portal.tesoro.test/bezichtigingen/afspraak?id=42&lang=nl";

  snprintf(title, sizeof title, "%s \xE2\x80\x94 %s", ODD_PART, ODD_PART);
  assert_true(strlen(title) > 75);
  n = (size_t)snprintf(address, sizeof address,
                       "Prinsengracht 263; 1016 GV Amsterdam, NL \\ ");
  for (i = 0; i < 30; i++) n += (size_t)snprintf(address + n,
                                                 sizeof address - n,
                                                 "\xE2\x82\xAC");
  n += (size_t)snprintf(address + n, sizeof address - n, ", ");
  for (i = 0; i < 30; i++) n += (size_t)snprintf(address + n,
                                                 sizeof address - n,
                                                 "\xC3\xA9");
  for (i = 0; i < 10; i++) n += (size_t)snprintf(address + n,
                                                 sizeof address - n,
                                                 " \xF0\x9F\x8F\xA0");
  assert_true(n < TESORO_MAX_SHORT);
  snprintf(summary, sizeof summary, "%s Property Viewing", title);

  offer_to(w, &v, w->contact, title, address, PRICE);
  a = confirmed(w, v.dp, D2);
  ref = tu_sqlf_text(w, "SELECT ref FROM listing WHERE id = %lld",
                  (long long)v.listing);
  assert_non_null(ref);

  cal = ics_parse(w, w->client, a, link, &raw, &ev);
  folded = check_ics_layout(raw);
  assert_true(folded >= 3); /* summary, location, description are long */
  assert_string_equal(icalcomponent_get_summary(ev), summary);
  assert_string_equal(icalcomponent_get_location(ev), address);
  /* and the raw TEXT values are escaped exactly as RFC 5545 says */
  assert_ics_text(raw, "SUMMARY", summary);
  assert_ics_text(raw, "LOCATION", address);
  desc = icalcomponent_get_description(ev);
  assert_non_null(desc);
  assert_non_null(strstr(desc, title));
  assert_non_null(strstr(desc, address));
  assert_non_null(strstr(desc, ref));
  assert_non_null(strstr(desc, link));
  assert_int_equal(icalcomponent_get_status(ev), ICAL_STATUS_CONFIRMED);
  assert_int_equal(ical_utc(icalcomponent_get_dtstart(ev)), D2);
  assert_int_equal(ical_utc(icalcomponent_get_dtend(ev)), D2 + HOUR);
  uid = tu_strdup(icalcomponent_get_uid(ev));
  icalcomponent_free(cal);

  /* rescheduled: same UID, new start, higher SEQUENCE */
  TU_OK(w, tesoro_appointment_reschedule(w->t, w->agent, a, D4, 0, 0));
  cal = ics_parse(w, w->agent, a, link, &raw2, &ev);
  check_ics_layout(raw2);
  assert_string_equal(icalcomponent_get_uid(ev), uid);
  assert_int_equal(ical_utc(icalcomponent_get_dtstart(ev)), D4);
  assert_int_equal(icalcomponent_get_sequence(ev),
                   tu_version_of(w, APPT, a) - 1);
  ics_free(cal, raw2);

  /* cancelled */
  TU_OK(w, tesoro_appointment_cancel(w->t, w->client, a, NULL, 0));
  cal = ics_parse(w, w->client, a, NULL, &raw2, &ev);
  assert_int_equal(icalcomponent_get_status(ev), ICAL_STATUS_CANCELLED);
  assert_string_equal(icalcomponent_get_uid(ev), uid);
  ics_free(cal, raw2);
  tesoro_free(raw);
  free(uid);
  free(ref);
}

/* ------------------------------------------------------------------------
** 12. Allowed events, diagram.
*/

static void test_allowed_lists_appointment_events_per_actor(void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t p, c;
  int code = 0;

  offer(w, &v);
  p = request1(w, w->client, v.dp, D1);
  /* pending */
  assert_int_equal(tu_allowed_of(w, w->client, APPT, p, "cancel", &code), 1);
  assert_int_equal(code, TESORO_OK);
  assert_int_equal(tu_allowed_of(w, w->client, APPT, p, "confirm", &code), 0);
  assert_int_equal(code, TESORO_EDENIED);
  assert_int_equal(tu_allowed_of(w, w->client, APPT, p, "start_viewing", &code),
                   0);
  assert_int_equal(code, TESORO_ESTATE);
  assert_int_equal(tu_allowed_of(w, w->agent, APPT, p, "confirm", &code), 1);
  assert_int_equal(tu_allowed_of(w, w->agent, APPT, p, "reject", &code), 1);
  assert_int_equal(tu_allowed_of(w, w->agent, APPT, p, "cancel", &code), 1);
  assert_int_equal(tu_allowed_of(w, w->agent, APPT, p, "reschedule", &code), 0);
  assert_int_equal(code, TESORO_ESTATE);
  assert_int_equal(tu_allowed_of(w, w->agent, APPT, p, "record_no_show", &code),
                   0);

  /* confirmed, days before the viewing: the day rule says no */
  c = confirmed(w, v.dp, D1);
  assert_int_equal(tu_allowed_of(w, w->agent, APPT, c, "reschedule", &code), 1);
  assert_int_equal(tu_allowed_of(w, w->agent, APPT, c, "reject", &code), 0);
  assert_int_equal(tu_allowed_of(w, w->client, APPT, c, "start_viewing", &code),
                   0);
  assert_int_equal(code, TESORO_EGUARD);
  assert_int_equal(tu_allowed_of(w, w->agent, APPT, c, "start_viewing", &code),
                   0);
  assert_int_equal(code, TESORO_EDENIED);
  TU_OK(w, tesoro_clock_set(w->t, D1 - HOUR));
  assert_int_equal(tu_allowed_of(w, w->client, APPT, c, "start_viewing", &code),
                   1);
  TU_ASSERT_REFUSED(w, tesoro_allowed_events(w->t, w->client2, APPT, c,
                                      &(tesoro_cursor *){NULL}),
                    TESORO_EDENIED, "another client");
}

static void test_machine_dot_shows_appointment_machine(void **state) {
  tu_world *w = *state;
  char *dot = NULL;
  static const char *const words[] = {
      "pending",    "confirmed",     "completed",      "cancelled",
      "rejected",   "request",       "confirm",        "reschedule",
      "reject",     "cancel",        "start_viewing",  "record_no_show",
      "digraph"};
  size_t i;

  TU_OK(w, tesoro_machine_diagram(TESORO_ENTITY_APPOINTMENT, TESORO_DIAGRAM_DOT, &dot));
  assert_non_null(dot);
  for (i = 0; i < sizeof words / sizeof words[0]; i++) {
    if (!strstr(dot, words[i])) {
      print_error("DOT lacks \"%s\":\n%s\n", words[i], dot);
      tesoro_free(dot);
      fail();
    }
  }
  tesoro_free(dot);
  assert_int_equal(tesoro_machine_diagram(TESORO_ENTITY_APPOINTMENT, TESORO_DIAGRAM_DOT, NULL),
                   TESORO_EINVAL);
}

/* ------------------------------------------------------------------------
** Calendar feeds: one subscription per agent and per client.
*/

/* The feed of `subject` as `actor`, checked for layout and by libical;
   *out_n is its number of VEVENTs. */
static icalcomponent *feed_parse(tu_world *w, int64_t actor, int64_t subject,
                                 char **out_text, int *out_n) {
  char *ics = NULL;
  icalcomponent *cal;
  TU_OK(w, tesoro_calendar_feed(w->t, actor, subject, &ics));
  check_ics_layout(ics);
  cal = icalparser_parse_string(ics);
  assert_non_null(cal);
  assert_int_equal(icalcomponent_isa(cal), ICAL_VCALENDAR_COMPONENT);
  assert_int_equal(icalcomponent_count_errors(cal), 0);
  *out_n = icalcomponent_count_components(cal, ICAL_VEVENT_COMPONENT);
  if (out_text) *out_text = ics;
  else tesoro_free(ics);
  return cal;
}

/* The VEVENT of appointment `a` in a feed (by its UID's number). */
static icalcomponent *feed_event(icalcomponent *cal, int64_t a) {
  char prefix[64];
  snprintf(prefix, sizeof prefix, "appointment-%lld-", (long long)a);
  for (icalcomponent *ev = icalcomponent_get_first_component(
           cal, ICAL_VEVENT_COMPONENT);
       ev; ev = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT))
    if (strncmp(icalcomponent_get_uid(ev), prefix, strlen(prefix)) == 0)
      return ev;
  return NULL;
}

static void test_calendar_feed_of_an_agent_and_a_client(void **state) {
  tu_world *w = *state;
  viewing v, v2;
  int64_t a, b, c, d, e;
  icalcomponent *cal, *ev;
  int n, seq;
  offer(w, &v);
  offer_to(w, &v2, w->contact2, "Loft", "Kade 2, Amsterdam", PRICE);
  a = confirmed(w, v.dp, D1);
  b = request1(w, w->client, v.dp, D2);
  c = confirmed(w, v.dp, D3);
  TU_OK(w, tesoro_appointment_cancel(w->t, w->client, c, NULL, 0));
  d = request1(w, w->client, v.dp, D4);
  TU_OK(w, tesoro_appointment_reject(w->t, w->agent, d, "Sold", 0));
  e = request1(w, w->client2, v2.dp, D2); /* Bob's, owned by agent2 */
  /* the owner's feed: every viewing they own, each state */
  cal = feed_parse(w, w->agent, w->agent, NULL, &n);
  assert_int_equal(n, 4);
  assert_int_equal(icalcomponent_get_status(feed_event(cal, a)),
                   ICAL_STATUS_CONFIRMED);
  assert_int_equal(icalcomponent_get_status(feed_event(cal, b)),
                   ICAL_STATUS_TENTATIVE);
  assert_int_equal(icalcomponent_get_status(feed_event(cal, c)),
                   ICAL_STATUS_CANCELLED);
  assert_int_equal(icalcomponent_get_status(feed_event(cal, d)),
                   ICAL_STATUS_CANCELLED);
  assert_null(feed_event(cal, e));
  /* a feed has no alarms: the subscriber's calendar decides */
  assert_null(icalcomponent_get_first_component(feed_event(cal, a),
                                                ICAL_VALARM_COMPONENT));
  seq = icalcomponent_get_sequence(feed_event(cal, a));
  icalcomponent_free(cal);
  /* a change raises SEQUENCE and moves the event */
  TU_OK(w, tesoro_appointment_reschedule(w->t, w->agent, a, D1 + HOUR, 5400, 0));
  cal = feed_parse(w, w->agent, w->agent, NULL, &n);
  ev = feed_event(cal, a);
  assert_true(icalcomponent_get_sequence(ev) > seq);
  assert_int_equal(ical_utc(icalcomponent_get_dtstart(ev)), D1 + HOUR);
  assert_int_equal(ical_utc(icalcomponent_get_dtend(ev)), D1 + HOUR + 5400);
  icalcomponent_free(cal);
  /* the client's feed: their own viewings, whoever owns them */
  cal = feed_parse(w, w->client, w->client, NULL, &n);
  assert_int_equal(n, 4);
  assert_null(feed_event(cal, e));
  icalcomponent_free(cal);
  cal = feed_parse(w, w->client2, w->client2, NULL, &n);
  assert_int_equal(n, 1);
  assert_non_null(feed_event(cal, e));
  icalcomponent_free(cal);
  /* an admin reads a staff member's feed; an agent with none is empty */
  cal = feed_parse(w, w->admin, w->agent2, NULL, &n);
  assert_int_equal(n, 1);
  icalcomponent_free(cal);
  cal = feed_parse(w, w->closings, w->closings, NULL, &n);
  assert_int_equal(n, 0);
  icalcomponent_free(cal);
}

static void test_calendar_feed_refusals(void **state) {
  tu_world *w = *state;
  char *ics = NULL;
  TU_ASSERT_REFUSED(w, tesoro_calendar_feed(w->t, w->agent, w->agent2, &ics),
                    TESORO_EDENIED, "admin");
  TU_ASSERT_REFUSED(w, tesoro_calendar_feed(w->t, w->client, w->client2, &ics),
                    TESORO_EDENIED, "admin");
  TU_ASSERT_REFUSED(w, tesoro_calendar_feed(w->t, w->admin, w->other_agent,
                                            &ics),
                    TESORO_EDENIED, "another agency");
  TU_ASSERT_REFUSED(w, tesoro_calendar_feed(w->t, w->website, w->website, &ics),
                    TESORO_EINVAL, "no calendar");
  TU_ASSERT_REFUSED(w, tesoro_calendar_feed(w->t, w->admin, 999999, &ics),
                    TESORO_ENOTFOUND, "999999");
  TU_ASSERT_REFUSED(w, tesoro_calendar_feed(w->t, w->admin, 0, &ics),
                    TESORO_EINVAL, "actor");
  TU_ASSERT_REFUSED(w, tesoro_calendar_feed(w->t, w->agent, w->agent, NULL),
                    TESORO_EINVAL, "out_ics");
  TU_OK(w, tesoro_agency_set_portal(w->t, w->admin, 0));
  TU_ASSERT_REFUSED(w, tesoro_calendar_feed(w->t, w->client, w->client, &ics),
                    TESORO_EDENIED, "portal");
  assert_null(ics);
  assert_int_equal(tesoro_calendar_feed(NULL, w->agent, w->agent, &ics),
                   TESORO_EMISUSE);
}

/* Every TEXT value free of control characters, and UIDs unique across
   files: two files' first appointments do not collide. */
static void test_calendar_text_clean_and_uids_unique_across_files(
    void **state) {
  tu_world *w = *state;
  viewing v;
  int64_t a, version = 0;
  char *ics = NULL, path2[600], *uid1, *uid2;
  icalcomponent *cal;
  tesoro *t2 = NULL;
  int n;
  offer(w, &v);
  TU_OK(w, tesoro_entity_state(w->t, w->agent, TESORO_ENTITY_LISTING,
                               v.listing, NULL, &version));
  TU_OK(w, tesoro_listing_update(w->t, w->agent, v.listing,
                                 "{\"title\":\"Bell\\u0007 and \\u001b[31mred"
                                 "\\u001b[0m house\",\"address\":\"Tab\\tstraat "
                                 "\\u007f1\"}", version));
  a = confirmed(w, v.dp, D1);
  cal = feed_parse(w, w->agent, w->agent, &ics, &n);
  assert_int_equal(n, 1);
  for (const char *p = ics; *p; p++)
    if (((unsigned char)*p < 0x20 && *p != '\r' && *p != '\n') ||
        (unsigned char)*p == 0x7F) {
      print_error("control character 0x%02x in the feed\n", (unsigned char)*p);
      fail();
    }
  assert_string_equal(icalcomponent_get_summary(feed_event(cal, a)),
                      "Bell and [31mred[0m house Property Viewing");
  uid1 = tu_strdup(icalcomponent_get_uid(feed_event(cal, a)));
  icalcomponent_free(cal);
  tesoro_free(ics);
  TU_OK(w, tesoro_appointment_ics(w->t, w->agent, a, NULL, &ics));
  assert_non_null(strstr(ics, uid1));
  assert_null(strchr(ics, 0x07));
  assert_null(strchr(ics, 0x1B));
  tesoro_free(ics);
  /* another file, the same ids: another UID */
  snprintf(path2, sizeof path2, "%s/second.db", w->dir);
  TU_OK(w, tesoro_open(path2, &t2));
  {
    tesoro *keep = w->t;
    tu_world w2 = *w;
    int64_t agency = 0, admin = 0;
    w2.t = t2;
    TU_OK(&w2, tesoro_agency_create(t2, "Second", "Europe/Amsterdam", "EUR",
                                    "Sam Second", "sam@second.test", &agency,
                                    &admin));
    assert_int_equal(agency, 1);
    uid2 = tu_sql_text_path(path2, "SELECT 'appointment-1-' || uid_key || "
                                   "'@tesoro' FROM agency WHERE id = 1");
    w->t = keep;
  }
  assert_non_null(uid2);
  assert_int_equal(strncmp(uid1, "appointment-1-", 14), 0);
  assert_string_not_equal(uid1, uid2);
  tesoro_close(t2);
  free(uid1);
  free(uid2);
}

int main(void) {
#define T TU_TEST
  const struct CMUnitTest tests[] = {
      /* deals */
      T(test_deal_create_by_staff_only),
      T(test_deal_offer_needs_published_listing_of_same_agency),
      T(test_deal_close_needs_reason_and_ends_offers),
      T(test_deal_properties_lists_offers_with_columns),
      /* the appointment table */
      T(test_request_creates_pending_meeting_and_notifies_owner),
      T(test_request_owner_is_contacts_agent_else_deals_agent),
      T(test_confirm_at_preferred_time_emails_client),
      T(test_confirm_at_another_future_time_by_any_staff),
      T(test_reschedule_moves_start_and_emails_client),
      T(test_calendar_messages_show_their_own_moment),
      T(test_reject_requires_reason_and_emails_client),
      T(test_cancel_by_client_notifies_owner),
      T(test_cancel_by_agent_requires_reason_and_emails_client),
      T(test_start_viewing_completes_on_the_day),
      T(test_tick_completes_after_the_end_and_is_idempotent),
      /* refusals */
      T(test_request_refuses_bad_dates),
      T(test_request_refused_for_staff_and_other_clients),
      T(test_confirm_refusals),
      T(test_cancel_refused_after_completion),
      T(test_start_viewing_refusals),
      T(test_feedback_refused_before_completion_and_for_staff),
      T(test_appointment_calls_refuse_stale_versions),
      T(test_appointment_calls_refuse_bad_ids_and_pointers),
      T(test_appointment_texts_checked_for_length_and_utf8),
      /* feedback */
      T(test_feedback_after_completion_by_client),
      /* lists */
      T(test_client_lists_split_by_tab_in_order),
      T(test_agent_list_by_state_and_range),
      /* local day across DST */
      T(test_start_viewing_on_local_day_across_spring_dst),
      T(test_start_viewing_on_local_day_across_autumn_dst),
      /* reminders */
      T(test_confirm_plans_reminder_a_day_before),
      T(test_reminder_skipped_when_lead_has_passed),
      T(test_reschedule_replans_reminders),
      T(test_cancel_and_reject_withdraw_timers),
      T(test_reminder_fires_to_client_and_owner),
      T(test_late_tick_sends_no_reminder),
      T(test_reminder_lead_is_configurable),
      T(test_reminder_is_withdrawn_after_the_lead_changed),
      T(test_feedback_request_an_hour_after_completion),
      T(test_viewing_duration_default_and_per_viewing),
      T(test_viewing_duration_refusals),
      T(test_ended_viewing_completes_without_a_tick),
      T(test_ended_viewing_completes_after_an_earlier_tick),
      T(test_viewing_ends_without_a_tick),
      T(test_notification_preferences),
      T(test_a_preference_set_elsewhere_applies_at_once),
      T(test_notification_preference_refusals),
      /* no-show */
      T(test_no_show_recorded_by_agent_within_window),
      T(test_no_show_refused_once_window_closed),
      T(test_no_show_refused_for_started_viewing),
      T(test_no_show_puts_the_property_back),
      T(test_no_show_at_a_later_viewing_keeps_viewed),
      /* any number of requests */
      T(test_repeat_requests_are_separate_appointments),
      /* iCalendar */
      T(test_ics_pending_is_tentative_at_earliest_preferred),
      T(test_ics_escapes_and_folds_text),
      T(test_calendar_feed_of_an_agent_and_a_client),
      T(test_calendar_feed_refusals),
      T(test_calendar_text_clean_and_uids_unique_across_files),
      /* allowed events, diagram */
      T(test_allowed_lists_appointment_events_per_actor),
      T(test_machine_dot_shows_appointment_machine),
  };
  int rc = cmocka_run_group_tests_name("appointments", tests, NULL, NULL);
  icaltimezone_free_builtin_timezones();
  icalmemory_free_ring();
  return rc;
#undef T
}
