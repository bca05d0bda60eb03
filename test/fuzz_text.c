/*
** fuzz_text.c — every text input of the API.
**
** Input: byte 0 picks one of the calls below (modulo their number); the rest
** is split at NUL bytes into that call's text fields, in order.  A field that
** is the single byte 0xFF is passed as NULL; a field the input does not
** reach keeps a valid default, so one odd field at a time gets past the
** others.  Names, e-mails, phones, languages, reasons, messages, notes,
** addresses, time zones, currencies, passwords, codes, links, group and
** role names, external ids, file names, MIME types and JSON arguments (form,
** listing fields, referral stage data, search criteria, events) all go
** through here.
**
** What must hold for every input:
**   - no crash, no sanitizer report;
**   - the call returns TESORO_OK or one of the errors its documentation
**     lists (the masks below), and on error tesoro_errmsg is non-empty and
**     tesoro_errcode agrees;
**   - a refused call leaves the machines' counts (tesoro_stats) unchanged;
**   - text that was accepted is returned verbatim by the reading call where
**     there is one ("" read back as NULL for optional text), the values of
**     JSON arguments included; a new password logs in; an iCalendar file
**     keeps CRLF lines of at most 75 octets, each valid UTF-8;
**   - tesoro_check passes after every accepted call.
*/
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define R (FZ_BIT(TESORO_OK) | FZ_BIT(TESORO_EINVAL))
#define MAXF 6

/* "" and NULL are both "not given" for optional text: stored as NULL. */
static const char *fz_given(const char *s) { return s && s[0] ? s : NULL; }

static void fz_stored(const char *what, char *got, const char *given) {
  fz_same_text(what, got, fz_given(given));
  free(got);
}

/* One field of an entity's JSON (tesoro_entity_json), malloc'd or NULL. */
static char *fz_field(fz_world *w, int64_t actor, int entity, int64_t id,
                      const char *path) {
  char *json = NULL, *v;
  fz_expect(w, tesoro_entity_json(w->t, actor, entity, id, &json),
            FZ_BIT(TESORO_OK), "tesoro_entity_json");
  v = fz_json_text(json, path);
  tesoro_free(json);
  return v;
}

/* A column of the last row of a cursor (malloc'd or NULL); frees it. */
static char *fz_last(fz_world *w, int rc, tesoro_cursor *c, const char *col) {
  char *v = NULL;
  int i;
  fz_expect(w, rc, FZ_BIT(TESORO_OK), "a reading call");
  i = tesoro_cursor_index(c, col);
  if (i < 0)
    fz_fail("cursor has no column %s", col);
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
    const char *t = tesoro_cursor_text(c, i);
    free(v);
    v = t ? fz_strndup(t, strlen(t)) : NULL;
  }
  tesoro_cursor_free(c);
  if (rc != TESORO_DONE)
    fz_fail("cursor: %s", tesoro_errmsg(w->t));
  return v;
}

/* The "reason" in the details of an entity's last history row. */
static char *fz_history_reason(fz_world *w, int64_t actor, int entity,
                               int64_t id) {
  tesoro_cursor *c = NULL;
  int rc = tesoro_history(w->t, actor, entity, id, &c);
  char *details = fz_last(w, rc, c, "details"), *v;
  v = fz_json_text(details, "$.reason");
  free(details);
  return v;
}

/* How many members of the JSON object are called `key`. */
static int fz_key_count(const char *json, const char *key) {
  struct sqlite3_stmt *s =
      fz_jprep("SELECT count(*) FROM json_each(?1) WHERE key = ?2");
  int n = 0;
  sqlite3_bind_text(s, 1, json, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
  if (sqlite3_step(s) == SQLITE_ROW)
    n = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  return n;
}

/* Text members of a JSON argument come back verbatim in `stored` (a JSON
** object) under `prefix` (e.g. "$.form."). */
static void fz_json_members(const char *given, const char *stored,
                            const char *prefix, const char *const *keys) {
  for (; *keys; keys++) {
    char path[64], *want, *got;
    snprintf(path, sizeof path, "$.%s", *keys);
    if (strcmp(fz_json_type(given, path), "text") != 0)
      continue;
    if (fz_key_count(given, *keys) != 1)
      continue; /* duplicate keys: no verdict */
    want = fz_json_text(given, path);
    snprintf(path, sizeof path, "%s%s", prefix, *keys);
    got = fz_json_text(stored, path);
    if (want && want[0])
      fz_same_text(*keys, got, want);
    free(want);
    free(got);
  }
}

static int fz_utf8_valid(const unsigned char *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = p[i], len, k;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else
      return 0;
    if (n - i < len)
      return 0;
    for (k = 1; k < len; k++) {
      if ((p[i + k] & 0xC0) != 0x80)
        return 0;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
      return 0;
    i += len;
  }
  return 1;
}

/* RFC 5545 as tesoro.h promises it: CRLF line endings, lines of at most 75
** octets, folded never inside a UTF-8 character. */
static void fz_ics_lines(const char *ics) {
  const char *line = ics, *p;
  if (ics == NULL || ics[0] == 0)
    fz_fail("empty iCalendar file");
  for (p = ics; *p; p++) {
    if (*p == '\r' && p[1] != '\n')
      fz_fail("a CR without LF in the iCalendar file");
    if (*p == '\n') {
      size_t len;
      if (p == ics || p[-1] != '\r')
        fz_fail("a bare LF in the iCalendar file");
      len = (size_t)(p - 1 - line);
      if (len > 75)
        fz_fail("an iCalendar line of %zu octets: %.80s", len, line);
      if (!fz_utf8_valid((const unsigned char *)line, len))
        fz_fail("an iCalendar line is folded inside a UTF-8 character");
      line = p + 1;
    }
  }
  if (*line)
    fz_fail("the iCalendar file does not end with CRLF");
}

/* {"k1": v1, "k2": v2} with the values that are given, built by the private
** SQLite connection (malloc'd). */
static char *fz_json_pair(const char *k1, const char *v1, const char *k2,
                          const char *v2) {
  struct sqlite3_stmt *s =
      fz_jprep("SELECT json_patch(iif(?2 IS NULL, '{}', json_object(?1, ?2)), "
               "iif(?4 IS NULL, '{}', json_object(?3, ?4)))");
  char *out = NULL;
  sqlite3_bind_text(s, 1, k1, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, fz_given(v1), -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 3, k2, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 4, fz_given(v2), -1, SQLITE_STATIC);
  if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
    out = fz_strndup(sqlite3_column_text(s, 0),
                     (size_t)sqlite3_column_bytes(s, 0));
  sqlite3_finalize(s);
  return out ? out : fz_strndup("{}", 2);
}

/* A copy of s as a TEXT value reads back from iCalendar: CRLF and CR as
** LF (they are all written as \n), other control characters dropped
** (RFC 5545 allows none). */
static char *fz_lf(const char *s) {
  char *copy = fz_strndup(s, strlen(s)), *r, *q;
  for (r = q = copy; *r; r++) {
    unsigned char c = (unsigned char)*r;
    if ((*r == '\r' && r[1] == '\n') ||
        (c < 0x20 && c != '\n' && c != '\r') || c == 0x7F)
      continue;
    *q++ = *r == '\r' ? '\n' : *r;
  }
  *q = 0;
  return copy;
}

/* The first property `name` of an iCalendar text, unfolded (RFC 5545
** §3.1) and unescaped (§3.3.11); malloc'd, NULL when absent. */
static char *fz_ics_value(const char *ics, const char *name) {
  size_t n = strlen(ics), nl = strlen(name), i = 0, o;
  char *flat = malloc(n + 1), *line, *out;
  if (flat == NULL)
    fz_fail("out of memory");
  for (o = 0; i < n; i++) {
    if (ics[i] == '\r' && ics[i + 1] == '\n' && ics[i + 2] == ' ') {
      i += 2;
      continue;
    }
    flat[o++] = ics[i];
  }
  flat[o] = 0;
  for (line = flat; line && *line;) {
    char *end = strstr(line, "\r\n");
    if (strncmp(line, name, nl) == 0 && line[nl] == ':') {
      const char *p = line + nl + 1;
      out = malloc(strlen(p) + 1);
      if (out == NULL)
        fz_fail("out of memory");
      for (o = 0; *p && p != end; p++) {
        if (*p == '\\' && p + 1 != end && p[1]) {
          p++;
          out[o++] = (*p == 'n' || *p == 'N') ? '\n' : *p;
        } else {
          out[o++] = *p;
        }
      }
      out[o] = 0;
      free(flat);
      return out;
    }
    line = end ? end + 2 : NULL;
  }
  free(flat);
  return NULL;
}

/* ------------------------------------------------------------------------
** The calls.
*/
typedef struct fz_call {
  const char *name;
  int nfields;
  const char *defaults[MAXF];
} fz_call;

#define FORM                                                                   \
  "{\"full_name\":\"Sam Seller\",\"email\":\"sam@example.com\",\"phone\":"     \
  "\"+31 6 1111 2222\",\"address\":\"Domplein 1, Utrecht\",\"property_type\":" \
  "\"house\",\"title\":\"Canal "                                               \
  "house\",\"price\":450000,\"energy_label\":\"A\"}"
#define VERIFY_EMAIL "verify@example.com"
#define REAL_CODE                                                              \
  "\x01" /* the default of portal_verify's code: the real one                  \
          */

static const fz_call fz_calls[] = {
    /* 0 */ {
        "tesoro_agency_create",
        5,
        {"New Agency", "Europe/Lisbon", "EUR", "Ana Admin", "ana@new.test"}},
    {"tesoro_agent_create", 2, {"Nina New", "nina@tesoro.test"}},
    {"tesoro_contact_create",
     4,
     {"Cora Contact", "cora@example.com", "+31 20 123 4567", "pt-BR"}},
    {"tesoro_contact_request_submit",
     5,
     {"Rita Request", "rita@example.com", "Oudegracht 5, Utrecht", "this year",
      "Three floors by the canal"}},
    {"tesoro_room_message_post", 1, {"When can you come by?"}},
    /* 5 */ {"tesoro_room_note_add", 1, {"Motivated seller"}},
    {"tesoro_room_mark_lost", 1, {"Went with another agency"}},
    {"tesoro_room_close", 1, {"Owner decided not to sell"}},
    {"tesoro_mandate_propose", 1, {"EUR"}},
    {"tesoro_mandate_submit_form", 1, {FORM}},
    /* 10 */ {"tesoro_mandate_request_changes", 1, {"Add the floor area"}},
    {"tesoro_mandate_cancel", 1, {"Owner withdrew"}},
    {"tesoro_listing_update",
     1,
     {"{\"title\":\"Bright flat\",\"address\":\"Lange Nieuwstraat 2\","
      "\"description\":\"Light all day\",\"energy_label\":\"B\",\"price\":"
      "300000,\"bedrooms\":2,\"longitude\":5.1,\"latitude\":52.1}"}},
    {"tesoro_deal_create", 1, {"3-bedroom house in Utrecht"}},
    {"tesoro_deal_close", 1, {"Bought elsewhere"}},
    /* 15 */
    {"tesoro_deal_property_not_interested", 1, {"Too far from school"}},
    {"tesoro_appointment_reject", 1, {"Owner not available"}},
    {"tesoro_appointment_cancel (staff)", 1, {"Agent ill"}},
    {"tesoro_appointment_cancel (client)", 1, {"Found another house"}},
    {"tesoro_appointment_record_no_show", 1, {"Nobody came"}},
    /* 20 */ {"tesoro_appointment_note_add", 1, {"Loved the garden"}},
    {"tesoro_appointment_ics",
     3,
     {"https://portal.example/viewings/1", "Canal house; 3 bedrooms, garden",
      "Domplein 1, Utrecht"}},
    {"tesoro_referral_move (meeting_scheduled)",
     1,
     {"{\"meeting_at\":1780100000}"}},
    {"tesoro_referral_move (coming_soon)",
     1,
     {"{\"list_date\":\"2026-06-10\"}"}},
    {"tesoro_referral_move (in_escrow)",
     1,
     {"{\"sale_price\":500000,\"close_date\":\"2026-07-01\"}"}},
    /* 25 */
    {"tesoro_referral_move (failed)", 1, {"{\"reason\":\"No answer\"}"}},
    {"tesoro_referral_note_add", 1, {"Called twice"}},
    {"tesoro_portal_register",
     3,
     {"Reg User", "reg@example.com", "Secret#123"}},
    {"tesoro_portal_verify", 2, {VERIFY_EMAIL, REAL_CODE}},
    {"tesoro_portal_login", 2, {"bob@example.com", FZ_PASSWORD}},
    /* 30 */
    {"tesoro_portal_password_change", 2, {FZ_PASSWORD, "Another#Pass2"}},
    {"tesoro_portal_set_language", 1, {"nl"}},
    {"tesoro_portal_contact_agent", 1, {"Please call me back"}},
    {"tesoro_prospect_discard", 1, {"Spam"}},
    {"tesoro_customer_find", 1, {"c1"}},
    /* 35 */ {"tesoro_contact_set_group", 1, {"grp-9"}},
    {"tesoro_vendor_confirm", 1, {"vendor"}},
    {"tesoro_vendor_claim_reject", 1, {"Not the owner"}},
    {"tesoro_contact_set_consent", 1, {"I agree to receive news"}},
    {"tesoro_contact_erase", 1, {"Asked to be forgotten"}},
    /* 40 */ {"tesoro_outbox_fail", 1, {"SMTP 550 mailbox unavailable"}},
    {"tesoro_search_save",
     1,
     {"{\"min_price\":1,\"property_types\":[\"land\"]}"}},
    {"tesoro_exchange_ingest",
     1,
     {"{\"source_id\":\"t1\",\"type\":\"customer\",\"customer\":\"t\",\"at\":"
      "1779000000,\"name\":\"Tom\"}"}},
    {"tesoro_document_add", 2, {"plan.pdf", "application/pdf"}},
    {"tesoro_cursor_index", 1, {"summary"}},
};
#define FZ_NCALLS ((unsigned)(sizeof fz_calls / sizeof fz_calls[0]))

/* A call that needs a step first (portal_verify, request_changes) takes the
** fingerprint again after it: *before is what the refusal must keep. */
static void fz_remark(fz_world *w, char **before) {
  free(*before);
  *before = fz_stats(w);
}

static void fz_run(fz_world *w, unsigned which, const char *const *f,
                   char **before) {
  const char *call = fz_calls[which].name;
  tesoro *t = w->t;
  int64_t id = 0;
  int rc;

  switch (which) {
  case 0: {
    int64_t agency = 0, admin = 0;
    rc = tesoro_agency_create(t, f[0], f[1], f[2], f[3], f[4], &agency, &admin);
    if (fz_expect(w, rc, R, call) == TESORO_OK) {
      int kind = 0;
      int64_t of = 0;
      fz_require(w, tesoro_actor_info(t, admin, &kind, &of, NULL),
                 "actor_info");
      if (kind != TESORO_ACTOR_AGENT || of != agency)
        fz_fail("the new agency's admin is not its agent");
    }
    break;
  }
  case 1:
    rc = tesoro_agent_create(t, w->admin, f[0], f[1], TESORO_ROLE_AGENT, &id);
    fz_expect(w, rc, R | FZ_BIT(TESORO_EEXISTS), call);
    break;
  case 2:
    rc = tesoro_contact_create(t, w->agent, f[0], f[1], f[2], f[3], &id);
    if (fz_expect(w, rc, R | FZ_BIT(TESORO_EEXISTS), call) == TESORO_OK) {
      fz_stored("contact name",
                fz_field(w, w->agent, TESORO_ENTITY_CONTACT, id, "$.name"),
                f[0]);
      fz_stored("contact email",
                fz_field(w, w->agent, TESORO_ENTITY_CONTACT, id, "$.email"),
                f[1]);
      fz_stored("contact phone",
                fz_field(w, w->agent, TESORO_ENTITY_CONTACT, id, "$.phone"),
                f[2]);
      fz_stored("contact language",
                fz_field(w, w->agent, TESORO_ENTITY_CONTACT, id, "$.language"),
                f[3]);
    }
    break;
  case 3: {
    int64_t client = 0;
    rc = tesoro_contact_request_submit(t, w->website, f[0], f[1],
                                       TESORO_PROPERTY_APARTMENT, f[2], 300000,
                                       f[3], f[4], &id, &client);
    if (fz_expect(w, rc, R, call) == TESORO_OK) {
      fz_stored("room location",
                fz_field(w, w->agent, TESORO_ENTITY_ROOM, id, "$.location"),
                f[2]);
      fz_stored("room timeline",
                fz_field(w, w->agent, TESORO_ENTITY_ROOM, id, "$.timeline"),
                f[3]);
      fz_stored("room description",
                fz_field(w, w->agent, TESORO_ENTITY_ROOM, id, "$.description"),
                f[4]);
    }
    break;
  }
  case 4:
  case 5: {
    tesoro_cursor *c = NULL;
    rc = which == 4
             ? tesoro_room_message_post(t, w->agent, w->room_open, f[0], &id)
             : tesoro_room_note_add(t, w->agent, w->room_open, f[0], &id);
    if (fz_expect(w, rc, R, call) == TESORO_OK) {
      rc = tesoro_room_messages(t, w->agent, w->room_open, &c);
      fz_stored("room message body", fz_last(w, rc, c, "body"), f[0]);
    }
    break;
  }
  case 6:
  case 7: {
    int64_t room = which == 6 ? w->room_open : w->room_ip;
    rc = which == 6 ? tesoro_room_mark_lost(t, w->agent, room, f[0], 0)
                    : tesoro_room_close(t, w->agent, room, f[0], 0);
    if (fz_expect(w, rc, R, call) == TESORO_OK)
      fz_stored("room end_reason",
                fz_field(w, w->agent, TESORO_ENTITY_ROOM, room, "$.end_reason"),
                f[0]);
    break;
  }
  case 8: {
    tesoro_cursor *c = NULL;
    rc = tesoro_mandate_propose(t, w->agent, w->mandate_draft,
                                TESORO_COMMISSION_FIXED, 250000, f[0], 1, 90, 0,
                                &id);
    if (fz_expect(w, rc, R, call) == TESORO_OK) {
      rc = tesoro_mandate_proposals(t, w->agent, w->mandate_draft, &c);
      fz_stored("proposal currency", fz_last(w, rc, c, "currency"), f[0]);
    }
    break;
  }
  case 9:
  case 10: {
    static const char *const keys[] = {"full_name",    "email", "phone",
                                       "address",      "title", "description",
                                       "energy_label", NULL};
    const char *form = which == 9 ? f[0] : FORM;
    rc = tesoro_mandate_submit_form(t, w->shared_client, w->mandate_shared,
                                    form, 0);
    if (which == 10) {
      fz_require(w, rc, "tesoro_mandate_submit_form");
      fz_remark(w, before);
      rc = tesoro_mandate_request_changes(t, w->agent, w->mandate_shared, f[0],
                                          0);
      if (fz_expect(w, rc, R, call) == TESORO_OK)
        fz_stored("request_changes reason",
                  fz_history_reason(w, w->agent, TESORO_ENTITY_MANDATE,
                                    w->mandate_shared),
                  f[0]);
    } else if (fz_expect(w, rc, R, call) == TESORO_OK) {
      char *json = NULL;
      fz_require(w,
                 tesoro_entity_json(t, w->agent, TESORO_ENTITY_MANDATE,
                                    w->mandate_shared, &json),
                 "tesoro_entity_json");
      fz_json_members(form, json, "$.form.", keys);
      tesoro_free(json);
    }
    break;
  }
  case 11:
    rc = tesoro_mandate_cancel(t, w->agent, w->mandate_draft, f[0], 0);
    if (fz_expect(w, rc, R, call) == TESORO_OK)
      fz_stored("mandate end_reason",
                fz_field(w, w->agent, TESORO_ENTITY_MANDATE, w->mandate_draft,
                         "$.end_reason"),
                f[0]);
    break;
  case 12: {
    static const char *const keys[] = {"title", "address", "description",
                                       "energy_label", NULL};
    rc = tesoro_listing_update(t, w->agent, w->draft_listing, f[0], 0);
    if (fz_expect(w, rc, R, call) == TESORO_OK) {
      char *json = NULL;
      fz_require(w,
                 tesoro_entity_json(t, w->agent, TESORO_ENTITY_LISTING,
                                    w->draft_listing, &json),
                 "tesoro_entity_json");
      fz_json_members(f[0], json, "$.", keys);
      tesoro_free(json);
    }
    break;
  }
  case 13:
    rc = tesoro_deal_create(t, w->agent2, w->contact2, f[0], &id);
    if (fz_expect(w, rc, R, call) == TESORO_OK)
      fz_stored("deal name",
                fz_field(w, w->agent2, TESORO_ENTITY_DEAL, id, "$.name"), f[0]);
    break;
  case 14:
    rc = tesoro_deal_close(t, w->agent2, w->deal, f[0], 0);
    if (fz_expect(w, rc, R, call) == TESORO_OK)
      fz_stored(
          "deal end_reason",
          fz_field(w, w->agent2, TESORO_ENTITY_DEAL, w->deal, "$.end_reason"),
          f[0]);
    break;
  case 15:
    rc = tesoro_deal_property_not_interested(t, w->client2, w->offer_open,
                                             TESORO_REJECT_OTHER, f[0], 0);
    if (fz_expect(w, rc, R, call) == TESORO_OK)
      fz_stored("reject_note",
                fz_field(w, w->agent2, TESORO_ENTITY_DEAL_PROPERTY,
                         w->offer_open, "$.reject_note"),
                f[0]);
    break;
  case 16:
  case 17:
  case 18: {
    int64_t appt = which == 17 ? w->appt_confirmed : w->appt_pending;
    rc = which == 16 ? tesoro_appointment_reject(t, w->agent2, appt, f[0], 0)
         : which == 17
             ? tesoro_appointment_cancel(t, w->agent2, appt, f[0], 0)
             : tesoro_appointment_cancel(t, w->client2, appt, f[0], 0);
    if (fz_expect(w, rc, R, call) == TESORO_OK)
      fz_stored("appointment end_reason",
                fz_field(w, w->agent2, TESORO_ENTITY_APPOINTMENT, appt,
                         "$.end_reason"),
                f[0]);
    break;
  }
  case 19:
    rc = tesoro_appointment_record_no_show(t, w->agent2, w->appt_completed,
                                           f[0], 0);
    fz_expect(w, rc, R, call);
    break;
  case 20: {
    tesoro_cursor *c = NULL;
    rc = tesoro_appointment_note_add(t, w->client2, w->appt_completed, f[0],
                                     &id);
    if (fz_expect(w, rc, R, call) == TESORO_OK) {
      rc = tesoro_appointment_notes(t, w->agent2, w->appt_completed, &c);
      fz_stored("appointment note body", fz_last(w, rc, c, "body"), f[0]);
    }
    break;
  }
  case 21: {
    /* the listing's title and address (fields 1, 2) and the link (field 0)
       go into the viewing's iCalendar file */
    char *ics = NULL, *fields = fz_json_pair("title", f[1], "address", f[2]);
    int stored =
        tesoro_listing_update(t, w->agent, w->listing, fields, 0) == TESORO_OK;
    free(fields);
    rc = tesoro_appointment_ics(t, w->client2, w->appt_confirmed, f[0], &ics);
    if (fz_expect(w, rc, R, call) == TESORO_OK) {
      char *summary, *location, *description, *want;
      size_t n;
      fz_ics_lines(ics);
      summary = fz_ics_value(ics, "SUMMARY");
      location = fz_ics_value(ics, "LOCATION");
      description = fz_ics_value(ics, "DESCRIPTION");
      if (stored && fz_given(f[1])) {
        char *title = fz_lf(f[1]);
        n = strlen(title) + 32;
        want = malloc(n);
        if (want == NULL)
          fz_fail("out of memory");
        snprintf(want, n, "%s Property Viewing", title);
        fz_same_text("the iCalendar SUMMARY", summary, want);
        free(want);
        free(title);
      }
      if (stored && fz_given(f[2])) {
        char *address = fz_lf(f[2]);
        fz_same_text("the iCalendar LOCATION", location, address);
        free(address);
      }
      if (fz_given(f[0])) {
        /* the description ends with "\n<link>" */
        char *link = fz_lf(f[0]);
        size_t dl = description ? strlen(description) : 0, ll = strlen(link);
        if (dl < ll + 1 || description[dl - ll - 1] != '\n' ||
            strcmp(description + dl - ll, link) != 0)
          fz_fail("the iCalendar DESCRIPTION does not end with the link: %s",
                  description ? description : "(none)");
        free(link);
      }
      free(summary);
      free(location);
      free(description);
    } else if (ics) {
      fz_fail("a refused tesoro_appointment_ics set *out");
    }
    tesoro_free(ics);
    break;
  }
  case 22:
  case 23:
  case 24:
  case 25: {
    static const int stages[] = {TESORO_STAGE_MEETING_SCHEDULED,
                                 TESORO_STAGE_COMING_SOON,
                                 TESORO_STAGE_IN_ESCROW, TESORO_STAGE_FAILED};
    rc = tesoro_referral_move(t, w->agent, w->referral, stages[which - 22],
                              f[0], 0);
    if (fz_expect(w, rc, R | FZ_BIT(TESORO_EGUARD), call) == TESORO_OK &&
        which == 25) {
      char *given = fz_json_text(f[0], "$.reason");
      if (fz_key_count(f[0], "reason") == 1)
        fz_stored("fail_reason",
                  fz_field(w, w->agent, TESORO_ENTITY_REFERRAL, w->referral,
                           "$.fail_reason"),
                  given);
      free(given);
    }
    break;
  }
  case 26: {
    tesoro_cursor *c = NULL;
    rc = tesoro_referral_note_add(t, w->agent, w->referral, f[0], &id);
    if (fz_expect(w, rc, R, call) == TESORO_OK) {
      rc = tesoro_referral_notes(t, w->agent, w->referral, &c);
      fz_stored("referral note body", fz_last(w, rc, c, "body"), f[0]);
    }
    break;
  }
  case 27: {
    char *code = NULL;
    rc = tesoro_portal_register(t, w->website, f[0], f[1], f[2], &id, &code);
    if (fz_expect(w, rc, R | FZ_BIT(TESORO_EEXISTS), call) == TESORO_OK) {
      if (code == NULL || strlen(code) != TESORO_PORTAL_CODE_DIGITS)
        fz_fail("tesoro_portal_register handed out code \"%s\"",
                code ? code : "(NULL)");
      /* an e-mail an account has: answered alike, nothing stored */
      if (id == 0) {
        tesoro_free(code);
        break;
      }
      fz_stored(
          "account name",
          fz_field(w, w->agent, TESORO_ENTITY_PORTAL_ACCOUNT, id, "$.name"),
          f[0]);
      fz_stored(
          "account email",
          fz_field(w, w->agent, TESORO_ENTITY_PORTAL_ACCOUNT, id, "$.email"),
          f[1]);
    } else if (code) {
      fz_fail("a refused tesoro_portal_register set *out_code");
    }
    tesoro_free(code);
    break;
  }
  case 28: {
    char *code = NULL;
    int64_t account = 0, client = 0;
    fz_require(w,
               tesoro_portal_register(t, w->website, "Vera Verify",
                                      VERIFY_EMAIL, "Secret#123", &account,
                                      &code),
               "tesoro_portal_register");
    fz_remark(w, before);
    rc = tesoro_portal_verify(
        t, w->website, f[0],
        strcmp(f[1] ? f[1] : "", REAL_CODE) == 0 ? code : f[1], &client);
    tesoro_free(code);
    fz_expect(w, rc,
              R | FZ_BIT(TESORO_ENOTFOUND) | FZ_BIT(TESORO_ESTATE) |
                  FZ_BIT(TESORO_EGUARD) | FZ_BIT(TESORO_EDENIED) |
                  FZ_BIT(TESORO_EEXISTS),
              call);
    break;
  }
  case 29: {
    int64_t client = 0;
    int step = 0;
    rc = tesoro_portal_login(t, w->website, f[0], f[1], &client, &step);
    if (fz_expect(w, rc, R | FZ_BIT(TESORO_EDENIED) | FZ_BIT(TESORO_ESTATE),
                  call) == TESORO_OK &&
        client != w->client2)
      fz_fail("a login answered client %lld", (long long)client);
    break;
  }
  case 30: {
    int64_t client = 0;
    int step = 0;
    rc = tesoro_portal_password_change(t, w->client2, f[0], f[1]);
    if (fz_expect(w, rc, R | FZ_BIT(TESORO_EDENIED), call) == TESORO_OK) {
      rc = tesoro_portal_login(t, w->website, "bob@example.com", f[1], &client,
                               &step);
      if (rc != TESORO_OK || client != w->client2)
        fz_fail("the new password does not log in: %s", tesoro_errmsg(t));
    }
    break;
  }
  case 31: {
    const char *lang = NULL;
    rc = tesoro_portal_set_language(t, w->client2, f[0]);
    if (fz_expect(w, rc, R, call) == TESORO_OK) {
      fz_require(w, tesoro_portal_language(t, w->client2, &lang),
                 "tesoro_portal_language");
      fz_same_text("portal language", lang, f[0]);
    }
    break;
  }
  case 32:
    rc =
        tesoro_portal_contact_agent(t, w->client2, w->deal_property, f[0], &id);
    fz_expect(w, rc, R, call);
    break;
  case 33:
    rc = tesoro_prospect_discard(t, w->agent, w->prospect, f[0], 0);
    if (fz_expect(w, rc, R, call) == TESORO_OK)
      fz_stored("customer end_reason",
                fz_field(w, w->agent, TESORO_ENTITY_WEB_CUSTOMER, w->prospect,
                         "$.end_reason"),
                f[0]);
    break;
  case 34:
    rc = tesoro_customer_find(t, w->agent, f[0], &id);
    if (fz_expect(w, rc, R | FZ_BIT(TESORO_ENOTFOUND), call) == TESORO_OK)
      fz_stored("customer external_id",
                fz_field(w, w->agent, TESORO_ENTITY_WEB_CUSTOMER, id,
                         "$.external_id"),
                f[0]);
    break;
  case 35:
    rc = tesoro_contact_set_group(t, w->agent, w->contact, f[0]);
    if (fz_expect(w, rc, R, call) == TESORO_OK)
      fz_stored("customer group",
                fz_field(w, w->agent, TESORO_ENTITY_WEB_CUSTOMER, w->customer,
                         "$.group"),
                f[0]);
    break;
  case 36:
    rc = tesoro_vendor_confirm(t, w->agent, w->contact, w->listing, f[0]);
    fz_expect(w, rc, R | FZ_BIT(TESORO_EEXISTS), call);
    break;
  case 37:
    rc = tesoro_vendor_claim_reject(t, w->agent, w->claim, f[0], 0);
    if (fz_expect(w, rc, R, call) == TESORO_OK)
      fz_stored("claim end_reason",
                fz_field(w, w->agent, TESORO_ENTITY_VENDOR_CLAIM, w->claim,
                         "$.end_reason"),
                f[0]);
    break;
  case 38:
    rc = tesoro_contact_set_consent(t, w->agent, w->contact,
                                    TESORO_CONSENT_GRANTED, f[0], 0);
    if (fz_expect(w, rc, R, call) == TESORO_OK)
      fz_stored("consent_text",
                fz_field(w, w->agent, TESORO_ENTITY_CONTACT, w->contact,
                         "$.consent_text"),
                f[0]);
    break;
  case 39:
    rc = tesoro_contact_erase(t, w->admin, w->contact2, f[0]);
    if (fz_expect(w, rc, R, call) == TESORO_OK)
      fz_stored(
          "erase reason",
          fz_history_reason(w, w->admin, TESORO_ENTITY_CONTACT, w->contact2),
          f[0]);
    break;
  case 40: {
    tesoro_cursor *c = NULL;
    int64_t row = 0;
    fz_require(w, tesoro_outbox_fetch(t, 0, 1, &c), "tesoro_outbox_fetch");
    if (tesoro_cursor_next(c) == TESORO_ROW)
      row = tesoro_cursor_int(c, 0);
    tesoro_cursor_free(c);
    if (row <= 0)
      fz_fail("the world has no pending outbox row");
    rc = tesoro_outbox_fail(t, row, f[0]);
    fz_expect(w, rc, R, call);
    break;
  }
  case 41:
    rc = tesoro_search_save(t, w->agent, w->contact2, 0, f[0], 1, &id);
    fz_expect(w, rc, R, call);
    break;
  case 42: {
    char *res = NULL;
    rc = tesoro_exchange_ingest(t, w->website, f[0], &res);
    fz_expect(w, rc, FZ_RULES, call);
    tesoro_free(res);
    break;
  }
  case 43: {
    tesoro_cursor *c = NULL;
    rc = tesoro_document_add(t, w->agent, TESORO_ENTITY_ROOM, w->room_open,
                             TESORO_DOC_SHARED, f[0], f[1], fz_pdf,
                             (int64_t)fz_pdf_size, &id);
    if (fz_expect(w, rc, R, call) == TESORO_OK) {
      rc = tesoro_documents(t, w->agent, TESORO_ENTITY_ROOM, w->room_open, &c);
      fz_stored("document name", fz_last(w, rc, c, "name"), f[0]);
      rc = tesoro_documents(t, w->agent, TESORO_ENTITY_ROOM, w->room_open, &c);
      fz_stored("document mime", fz_last(w, rc, c, "mime"), f[1]);
    }
    break;
  }
  default: {
    tesoro_cursor *c = NULL;
    int i;
    fz_require(w, tesoro_activities(t, w->agent, w->contact, &c),
               "tesoro_activities");
    i = tesoro_cursor_index(c, f[0]);
    if (i < -1 || i >= tesoro_cursor_columns(c))
      fz_fail("tesoro_cursor_index answered %d", i);
    if (i >= 0)
      fz_same_text("cursor column name", tesoro_cursor_name(c, i), f[0]);
    tesoro_cursor_free(c);
    rc = TESORO_EINVAL; /* no check needed: nothing was written */
    break;
  }
  }
  if (rc == TESORO_OK)
    fz_check(w, call);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_world *w = fz_world_get();
  const char *f[MAXF];
  unsigned which;
  char *buf, *p, *end, *before;
  int i;
  if (size == 0)
    return 0;
  which = data[0] % FZ_NCALLS;
  buf = fz_strndup(data + 1, size - 1);
  end = buf + (size - 1);
  for (i = 0; i < MAXF; i++)
    f[i] = fz_calls[which].defaults[i];
  for (p = buf, i = 0; size > 1 && p <= end && i < fz_calls[which].nfields;
       i++) {
    size_t len = strlen(p);
    f[i] = len == 1 && (unsigned char)p[0] == 0xFF ? NULL : p;
    p += len + 1;
  }
  fz_input_begin(w);
  before = fz_stats(w);
  fz_run(w, which, f, &before);
  fz_refused_kept(w, tesoro_errcode(w->t), before, fz_calls[which].name);
  fz_input_end(w);
  free(buf);
  return 0;
}
