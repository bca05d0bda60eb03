/*
** tesoro.c — the whole implementation of tesoro, in one file.
**
** Read it top to bottom; each section opens with what it owns.
**
**   1. Configuration      allocator, includes, limits, the entity registry
**   2. Result codes       the X-macro table behind errstr/errname
**   3. Text               UTF-8, e-mail, enumerations, the error message
**   4. Time               the handle's clock, IANA zones through ICU
**   5. Storage            the handle, migrations, the statements (tagged by
**                         the section that uses them), transactions
**   6. Actors             who is calling, and what they may reach
**   7. JSON arguments     field lists and the checks of every JSON argument
**   8. Machines           the transition tables of every workflow, creation
**                         rows included
**   9. Engine             fire(), creation, the allowed-events query,
**                         diagrams
**  10. Side effects       history, outbox, activity, tasks, timers, tick
**  11. Documents          BLOBs checked on their magic bytes
**  12. Agencies, staff, contacts
**  13. Seller onboarding  rooms, mandates, proposals, listings
**  14. Viewing appointments  deals, offered properties, viewings
**  15. Referral stages    the pipeline, its data, the fee
**  16. Client portal      accounts, passwords, sessions, onboarding, home
**  17. Website exchange   events in, events out, call list, matches
**  18. Privacy            consent, export, erasure, the privacy map
**  19. Reading            entity JSON, history, lists, iCalendar
**  20. Cursors
**  21. Import and export  the agency interchange format
**  22. Checker            tesoro_check's invariants
**  23. Schema text        schema.sql, verbatim
**
** Internal names are static and start with tesoro__; only the functions
** marked TESORO_API in tesoro.h are exported.
*/
/* strnlen, localtime_r and friends are POSIX: ask for them when the
** compiler line does not (the Makefile passes -D_POSIX_C_SOURCE). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "tesoro.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <sqlite3.h>
#include <unicode/uchar.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>
#include <yajl/yajl_parse.h>

/* =========================================================================
** 1. Configuration
**
** Every byte tesoro allocates — and hands back to callers — comes from
** SQLite's allocator.  So one tesoro_free (sqlite3_free) releases anything,
** whatever language the caller is written in, and a test that replaces
** SQLite's allocator (SQLITE_CONFIG_MALLOC) fails tesoro's allocations too.
** Override all three macros together or none.
*/
#ifndef TESORO_MALLOC
#  define TESORO_MALLOC(n)  sqlite3_malloc64(n)
#  define TESORO_FREE(p)    sqlite3_free(p)
#endif

#define TESORO__DEFAULT_BUSY_MS       5000
#define TESORO__DEFAULT_MAX_DOC       (25 * 1024 * 1024)
#define TESORO__DEFAULT_MAX_ATTEMPTS  8
#define TESORO__DEFAULT_BACKOFF_S     60
#define TESORO__DEFAULT_TICK_BATCH    500
#define TESORO__DEFAULT_REMINDER_S    86400

/*
** The entity registry: every kind of record tesoro keeps, once, by its
** TESORO_ENTITY_* name.  Its lower-case name is its table, its machine
** (tesoro__<name>_machine), its JSON statement (S_<NAME>_JSON) and the word
** history, messages and JSON use for it; the third column is its rows about
** contact ?1 for the privacy map (section 18).  From these lists come the
** names in C and SQL, tesoro__machine_of, tesoro_entity_json's statements,
** the checker's per-entity invariants and the erasure's history selector:
** a new workflow is a row here, its machine table and its schema.
*/
#define TESORO__MACHINES(X)                                                   \
  X(ROOM, room, C_ROOMS)                                                      \
  X(MANDATE, mandate, C_MANDATES)                                             \
  X(LISTING, listing, C_NONE)                                                 \
  X(TASK, task, C_NONE)                                                       \
  X(DEAL, deal, C_DEALS)                                                      \
  X(DEAL_PROPERTY, deal_property, C_DEAL_PROPERTIES)                          \
  X(APPOINTMENT, appointment, C_APPOINTMENTS)                                 \
  X(REFERRAL, referral, C_REFERRALS)                                          \
  X(PORTAL_ACCOUNT, portal_account, C_ACCOUNTS)                               \
  X(WEB_CUSTOMER, web_customer, C_CUSTOMERS)                                  \
  X(SEARCH, search, C_SEARCHES)                                               \
  X(VENDOR_CLAIM, vendor_claim, C_CLAIMS)
/* contacts have no machine: a contact is corrected, consented, erased */
#define TESORO__ENTITIES(X) X(CONTACT, contact, C_SELF) TESORO__MACHINES(X)

#define TESORO__PLUS_ONE(NAME, name, rows) +1
enum { TESORO__ENTITY_MAX = 0 TESORO__ENTITIES(TESORO__PLUS_ONE) };
#undef TESORO__PLUS_ONE
/* An entity's number inside SQL text: "WHERE entity = " TESORO__SQL_ENTITY(
** LISTING), never a number spelled by hand. */
#define TESORO__STRING(x) #x
#define TESORO__NUMBER_TEXT(x) TESORO__STRING(x)
#define TESORO__SQL_ENTITY(NAME) TESORO__NUMBER_TEXT(TESORO_ENTITY_##NAME)
#define TESORO__DAY                   86400
/* A viewing's feedback request goes out this long after its end. */
#define TESORO__FEEDBACK_AFTER_S      3600
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define TESORO__MAX_MONEY             TESORO_MAX_MONEY

#define TESORO__DISCLAIMER \
  "Only the signed contract is binding; agreed terms are a statement of intent."

/* =========================================================================
** 2. Result codes
**
** One table, generated from TESORO_RESULT_MAP in the header, gives every code
** its name and static text.
*/
static const struct {
  int code;
  const char *name;
  const char *text;
} tesoro__results[] = {
#define TESORO__RESULT_ROW(name, value, text) {value, #name, text},
  TESORO_RESULT_MAP(TESORO__RESULT_ROW)
#undef TESORO__RESULT_ROW
};

TESORO_API const char *tesoro_errstr(int rc) {
  size_t i;
  for (i = 0; i < sizeof tesoro__results / sizeof tesoro__results[0]; i++)
    if (tesoro__results[i].code == rc) return tesoro__results[i].text;
  return "unknown result code";
}

TESORO_API const char *tesoro_errname(int rc) {
  size_t i;
  for (i = 0; i < sizeof tesoro__results / sizeof tesoro__results[0]; i++)
    if (tesoro__results[i].code == rc) return tesoro__results[i].name;
  return "UNKNOWN";
}

TESORO_API const char *tesoro_version(void) { return TESORO_VERSION; }
TESORO_API int tesoro_libversion_number(void) { return TESORO_VERSION_NUMBER; }

/* =========================================================================
** 3. Text
**
** Every string crossing the API is checked here before anything is stored:
** present when required, not longer than its limit, valid UTF-8.  The
** failing check writes the handle's message, which names the argument.
*/

/* The handle; defined here because the error functions write into it. */
typedef struct tesoro__stmt_slot {
  sqlite3_stmt *stmt;
  int params; /* its number of parameters, read once */
} tesoro__stmt_slot;

enum { TESORO__MSG_MAX = 512 };

struct tesoro {
  sqlite3 *db;
  int rc;                          /* last result code */
  char msg[TESORO__MSG_MAX];       /* last message */
  int64_t clock;                   /* pinned "now"; 0 = system clock */
  int host_txn;                    /* inside tesoro_begin … commit */
  int readonly;                    /* tesoro_open_readonly */
  int writing;                     /* inside write_begin … write_end */
  int64_t busy_ms, max_doc, max_attempts, backoff_s, tick_batch;
  int64_t reminder_s;              /* viewing reminder lead */
  int64_t pw_ops, pw_mem;          /* argon2id cost (crypto_pwhash_str) */
  int64_t session_idle_s, session_max_s; /* portal sessions */
  int64_t event_skew_s;            /* how far ahead a website event may be */
  /* No timer is due before next_due (section 10's catch-up skips its probe
  ** until then) while due_known; valid for the data version due_version
  ** (SQLITE_FCNTL_DATA_VERSION), so another connection's commit unsettles
  ** it.  Planning a timer lowers it; only a read at a call's start or at
  ** a tick's end raises it, and any rollback forgets it. */
  int64_t next_due;
  unsigned int due_version;
  int due_known, due_fresh;
  /* No message waiting for its first delivery has an id below this (0:
  ** not known yet): tesoro_outbox_fetch scans on from here.  Ids only
  ** grow, and a message once attempted or settled never waits again, so it
  ** only rises; a rollback (the hook set at open) forgets it, since the
  ** rows it stood on may go and their ids come back. */
  int64_t outbox_floor;
  /* The data version the handle's caches below were read at: write_begin
  ** drops them (tesoro__forget) when another connection has committed
  ** since; write_end moves it past this connection's own commits. */
  unsigned int cache_version;
  /* Recent answers of S_CHANNELS_OFF (tesoro__channels_off): good while no
  ** other connection has committed, this one changed no channel setting
  ** and rolled nothing back. */
  struct {
    int n, next;
    struct { int64_t recipient, agency; int off; } e[8];
  } channels;
  /* The system actor of the agency last asked for (tesoro__agency_actor):
  ** made with its agency and never changed; and the actors last loaded
  ** (tesoro__actor_load; tesoro__client_of finds a client's by its
  ** contact there), whose rows change only when their contact is
  ** erased.  Both used only while writing, kept as the channels are, and
  ** forgotten on a rollback, an erasure or a new actor (tesoro__forget). */
  struct { int64_t agency, id; } system_actor;
  struct {
    int n, next;
    struct { int64_t id, agency, contact; int kind, bit; } e[4];
  } actors;
  /* Contacts last found not erased (tesoro__contact_writable), kept the
  ** same way: only an erasure changes that. */
  struct { int n, next; int64_t id[4]; } live_contacts;
  int importing;                   /* tesoro_agency_import: queue nothing */
  int64_t line_ns;                 /* the last timeline line's (section 10) */
  /* The entities the import's current record made (their first history
  ** row was written): the import folds each one's history. */
  struct {
    int n;
    struct { int entity; int64_t id; } made[256];
  } import_made;
  /* The import's "version back to 1" of each entity's table (section
  ** 19b), prepared on first use and kept like the cached statements. */
  sqlite3_stmt *fold[TESORO__ENTITY_MAX + 1];
  /* A hash at that cost, verified against when a login names an unknown
  ** e-mail so that it costs what a known one does; "" until needed. */
  char pw_decoy[crypto_pwhash_STRBYTES];
  /* Inside tesoro_exchange_ingest_batch: the entities a website event of
  ** this batch has moved, each with that event's history row.  A later
  ** event of the batch that keeps their state writes no history row of its
  ** own (a machine's `fold`, section 8), and the version that row names is
  ** written once, at the batch's end; `pending` is the current event's,
  ** kept once the event succeeded.  A customer's last_activity_at is
  ** written then too: active_at is the latest sign of interest among its
  ** events, `active` the current event's (customer id, at).  A later
  ** event of a moved customer finds it by its website id and is not read
  ** again (nothing in a batch moves a customer to another state).
  ** `checked`: the batch's text passed the checks each event's would
  ** (UTF-8, tesoro__json_boundary), so an event needs only its length
  ** checked.  The last listing an event named, by
  ** reference (a batch writes no listing). */
  struct tesoro__batch {
    int on, n, cap, checked;
    char listing_ref[40];
    int64_t listing;
    struct tesoro__moved {
      int64_t id, seq, active_at;
      int fold; /* its machine's fold statement */
      /* what tesoro__load read of it, for its later events (its version
      ** then is seq - 1: the folded row names the next one) */
      int64_t agency, contact;
      int from;
      const char *key; /* a customer's website id (the batch's text) */
    } *moved, pending, active;
    /* the moved customers by website id: moved[slot[i] - 1], 0 empty */
    int *slot, slots;
    /* The property views of the batch, counted per (customer, listing) and
    ** written at its end (views[view_slot[i] - 1], as `slot`); `view` is
    ** the current event's, kept once the event succeeded. */
    struct tesoro__views {
      int64_t customer, listing, count, last_at;
    } *views, view;
    int *view_slot, nviews;
  } batch;
  tesoro_cursor *cursors;          /* open cursors, invalidated on close */
  /* Statements of finished cursors, kept for the next cursor with the same
  ** SQL text (section 20): a list read twice is prepared once. */
  struct tesoro__cursor_slot {
    sqlite3_stmt *stmt;
    int busy;                      /* a live cursor is stepping it */
  } cursor_cache[48];
  struct tesoro__stmt_slot *stmts; /* the statement cache (section 5) */
};

static int tesoro__fail(tesoro *t, int rc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int tesoro__fail(tesoro *t, int rc, const char *fmt, ...) {
  va_list ap;
  t->rc = rc;
  va_start(ap, fmt);
  vsnprintf(t->msg, sizeof t->msg, fmt, ap);
  va_end(ap);
  return rc;
}

static int tesoro__ok(tesoro *t) {
  t->rc = TESORO_OK;
  t->msg[0] = 0;
  return TESORO_OK;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static int tesoro__utf8_valid(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  while (p < end) {
    unsigned c = *p;
    size_t len;
    uint32_t cp;
    if (c < 0x80) { p++; continue; }
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
    else return 0;
    if ((size_t)(end - p) < len) return 0;
    for (size_t i = 1; i < len; i++) {
      if ((p[i] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
      return 0;
    p += len;
  }
  return 1;
}

/* tesoro__text's first half: given (when `required`) and at most `max`
** bytes; *out_n is the length (0 when not given).  A part of a text that
** passed whole needs no more. */
static int tesoro__text_length(tesoro *t, const char *what, const char *s,
                               size_t max, int required, size_t *out_n) {
  *out_n = 0;
  if (s == NULL || s[0] == 0) {
    if (!required) return TESORO_OK;
    return tesoro__fail(t, TESORO_EINVAL, "%s is required", what);
  }
  if ((*out_n = strnlen(s, max + 1)) > max)
    return tesoro__fail(t, TESORO_EINVAL, "%s is longer than %zu bytes", what,
                        max);
  return TESORO_OK;
}

/*
** Check one text argument.  Optional text may be NULL or "" (both mean
** "not given"); required text must be non-empty.  Returns TESORO_OK or
** TESORO_EINVAL with a message naming `what`.
*/
static int tesoro__text(tesoro *t, const char *what, const char *s, size_t max,
                        int required) {
  size_t n;
  int rc;
  if ((rc = tesoro__text_length(t, what, s, max, required, &n)) || n == 0)
    return rc;
  if (!tesoro__utf8_valid(s, n))
    return tesoro__fail(t, TESORO_EINVAL, "%s is not valid UTF-8", what);
  return TESORO_OK;
}

/* `v` in decimal at `out` (room for 22 bytes), zero-padded to `width`
** characters as printf's %0*lld does; its length.  Not snprintf(): this
** runs for several numbers of every website event (make bench: about
** 2 000 instructions a call against 100). */
static int tesoro__decimal(char *out, int64_t v, int width) {
  char digits[20];
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  int n = 0, len = 0;
  do {
    digits[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) {
    out[len++] = '-';
    width--;
  }
  for (; width > n && width <= 20; width--) out[len++] = '0';
  while (n) out[len++] = digits[--n];
  out[len] = 0;
  return len;
}

/* A website event's stamp, "<at, 20 digits>|<source>": stamps compare as
** text in time order, the source id breaking a tie.  `out` holds
** TESORO__STAMP_MAX bytes. */
#define TESORO__STAMP_MAX (20 + 1 + TESORO_MAX_SOURCE_ID + 1)
static void tesoro__stamp(char *out, int64_t at, const char *source) {
  int n = tesoro__decimal(out, at, 20);
  size_t k = strnlen(source, TESORO_MAX_SOURCE_ID);
  out[n++] = '|';
  memcpy(out + n, source, k);
  out[n + k] = 0;
}

/* Optional text as stored: "" is "not given", kept as SQL NULL. */
static const char *tesoro__opt(const char *s) { return s && s[0] ? s : NULL; }

/* local@domain.tld, no spaces or controls; deliverability is the host's. */
static int tesoro__email(tesoro *t, const char *what, const char *s,
                         int required) {
  int rc = tesoro__text(t, what, s, TESORO_MAX_EMAIL, required);
  const char *at, *dot;
  if (rc || s == NULL || s[0] == 0) return rc;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p <= 0x20 || *p == 0x7F)
      return tesoro__fail(t, TESORO_EINVAL, "%s must not contain spaces", what);
  at = strchr(s, '@');
  if (!at || at == s || strchr(at + 1, '@'))
    return tesoro__fail(t, TESORO_EINVAL, "%s is not an e-mail address", what);
  dot = strrchr(at + 1, '.');
  if (!dot || dot == at + 1 || dot[1] == 0)
    return tesoro__fail(t, TESORO_EINVAL, "%s has no domain", what);
  return TESORO_OK;
}

static int tesoro__id(tesoro *t, const char *what, int64_t id) {
  if (id <= 0) return tesoro__fail(t, TESORO_EINVAL, "%s must be > 0", what);
  return TESORO_OK;
}

static int tesoro__out(tesoro *t, const void *out, const char *what) {
  if (out == NULL) return tesoro__fail(t, TESORO_EINVAL, "%s is NULL", what);
  return TESORO_OK;
}

/* A list call's own arguments: somewhere for the cursor, and its one
** choice (a list, view, filter or limit) within lo..hi. */
static int tesoro__list_args(tesoro *t, tesoro_cursor **out, const char *what,
                             int choice, int lo, int hi) {
  int rc = tesoro__out(t, out, "out");
  if (rc == TESORO_OK && (choice < lo || choice > hi))
    rc = tesoro__fail(t, TESORO_EINVAL, "%s is %d..%d, not %d", what, lo, hi,
                      choice);
  return rc;
}

/* Names of the small enumerations that cross the API as int. */
static const char *const tesoro__property_types[] = {NULL, "house", "apartment",
                                                     "office", "land"};
static const char *const tesoro__role_names[] = {NULL, "agent", "admin",
                                                 "closings"};
/* The entities' names, by TESORO_ENTITY_* number (the registry, section
** 1), in C and as the SQL CASE that names an entity column
** (TESORO__ENTITY_NAME_SQL, where the outbox renders its payloads). */
#define TESORO__ENTITY_SLOT(NAME, name, rows) [TESORO_ENTITY_##NAME] = #name,
static const char *const tesoro__entity_names[] = {
    TESORO__ENTITIES(TESORO__ENTITY_SLOT)};
#undef TESORO__ENTITY_SLOT
/* numbers 1 to TESORO__ENTITY_MAX, each once: a gap or a repeat leaves a
** slot NULL or the array longer */
_Static_assert(sizeof tesoro__entity_names / sizeof tesoro__entity_names[0] ==
                   TESORO__ENTITY_MAX + 1,
               "TESORO_ENTITY_* numbers are not 1 to TESORO__ENTITY_MAX");
#define TESORO__ENTITY_ARM(NAME, name, rows)                                  \
  " WHEN " TESORO__SQL_ENTITY(NAME) " THEN '" #name "'"
#define TESORO__ENTITY_NAME_SQL(column)                                       \
  "CASE " column TESORO__ENTITIES(TESORO__ENTITY_ARM) " END"

static const char *tesoro__entity_name(int entity) {
  if (entity < 1 || entity > TESORO__ENTITY_MAX) return "entity";
  return tesoro__entity_names[entity];
}

/* =========================================================================
** 4. Time
**
** "Now" is the handle's pinned clock or the system clock.  Agency-local
** calendar days come from ICU's calendar with an explicit zone, so the
** process's TZ is never read or changed and DST is ICU's business.
*/
static int64_t tesoro__now(tesoro *t) {
  return t->clock ? t->clock : (int64_t)time(NULL);
}

/* Is `zone` an IANA zone ICU knows (not a custom "GMT+3")? */
static int tesoro__zone_valid(const char *zone) {
  UChar id[128], canonical[128];
  int32_t len = 0;
  UBool system_id = 0;
  UErrorCode status = U_ZERO_ERROR;
  u_strFromUTF8(id, 128, &len, zone, -1, &status);
  if (U_FAILURE(status) || len >= 128) return 0;
  ucal_getCanonicalTimeZoneID(id, len, canonical, 128, &system_id, &status);
  return U_SUCCESS(status) && system_id;
}

/* A Gregorian calendar in `zone`.  ICU is given the zone explicitly, so no
** process-wide state (TZ) is read or touched. */
static int tesoro__calendar(tesoro *t, const char *zone, UCalendar **out) {
  UChar id[128];
  int32_t len = 0;
  UErrorCode status = U_ZERO_ERROR;
  u_strFromUTF8(id, 128, &len, zone, -1, &status);
  if (U_FAILURE(status) || len >= 128)
    return tesoro__fail(t, TESORO_EDB, "time zone %s cannot be read", zone);
  *out = ucal_open(id, len, "en_US_POSIX", UCAL_GREGORIAN, &status);
  if (U_SUCCESS(status)) return TESORO_OK;
  if (*out) ucal_close(*out);
  return tesoro__fail(t, TESORO_ENOMEM, "time zone %s: %s", zone,
                      u_errorName(status));
}

/* The calendar date (year*10000 + month*100 + day) of `instant` in `zone`. */
static int tesoro__zone_date(tesoro *t, const char *zone, int64_t instant,
                             int32_t *out) {
  UErrorCode status = U_ZERO_ERROR;
  UCalendar *cal;
  int32_t y, m, d;
  int rc = tesoro__calendar(t, zone, &cal);
  if (rc) return rc;
  ucal_setMillis(cal, (UDate)instant * 1000.0, &status);
  y = ucal_get(cal, UCAL_EXTENDED_YEAR, &status);
  m = ucal_get(cal, UCAL_MONTH, &status) + 1;
  d = ucal_get(cal, UCAL_DATE, &status);
  ucal_close(cal);
  if (U_FAILURE(status))
    return tesoro__fail(t, TESORO_EDB, "time zone %s: %s", zone,
                        u_errorName(status));
  *out = y * 10000 + m * 100 + d;
  return TESORO_OK;
}

/* The first instant of the calendar date `ymd` in `zone` (its midnight, or
** the first moment after it where a DST change skips midnight). */
static int tesoro__zone_midnight(tesoro *t, const char *zone, int32_t ymd,
                                 int64_t *out) {
  UErrorCode status = U_ZERO_ERROR;
  UCalendar *cal;
  UDate ms;
  int rc = tesoro__calendar(t, zone, &cal);
  if (rc) return rc;
  ucal_clear(cal);
  ucal_setDateTime(cal, ymd / 10000, ymd / 100 % 100 - 1, ymd % 100, 0, 0, 0,
                   &status);
  ms = ucal_getMillis(cal, &status);
  ucal_close(cal);
  if (U_FAILURE(status))
    return tesoro__fail(t, TESORO_EDB, "time zone %s: %s", zone,
                        u_errorName(status));
  *out = (int64_t)(ms / 1000.0);
  return TESORO_OK;
}

/* UTC calendar fields of an instant (proleptic Gregorian; days from civil
** by H. Hinnant's algorithm) for iCalendar's "Z" times: no zone rules are
** involved, so ICU is not needed. */
static void tesoro__utc_fields(int64_t instant, int f[6]) {
  int64_t days = instant / 86400, secs = instant % 86400, era, doe, yoe, doy, mp;
  if (secs < 0) { secs += 86400; days--; }
  days += 719468;
  era = (days >= 0 ? days : days - 146096) / 146097;
  doe = days - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  f[2] = (int)(doy - (153 * mp + 2) / 5 + 1);
  f[1] = (int)(mp < 10 ? mp + 3 : mp - 9);
  f[0] = (int)(yoe + era * 400 + (f[1] <= 2));
  f[3] = (int)(secs / 3600);
  f[4] = (int)(secs / 60 % 60);
  f[5] = (int)(secs % 60);
}

/* =========================================================================
** 5. Storage
**
** The handle owns one SQLite connection.  Opening applies the pragmas,
** checks application_id and user_version, and runs the sections of
** schema.sql the file has not seen yet.  Statements are prepared once per
** handle, on first use, and kept (the cache below).  Every mutating call
** runs inside tesoro__write_begin/end: BEGIN IMMEDIATE on its own (so the
** busy timeout covers lock upgrades), or a savepoint inside a host
** transaction.
*/

/* schema.sql's text, line by line: its i-th line, or NULL past the last
** (section 23). */
static const char *tesoro__schema_line(size_t i);

/* An appointment's place in time (alias a): its start, or its earliest
** preferred date while it has none; and its status colour. */
#define TESORO__APPOINTMENT_AT                                                \
  "coalesce(a.start_at, (SELECT min(value) FROM json_each(a.preferred)))"
#define TESORO__LISTING_PHOTO /* alias l: the listing's first photo */       \
  "(SELECT min(d.id) FROM document d WHERE d.entity = " TESORO__SQL_ENTITY(LISTING) " AND d.entity_id = "  \
  "l.id AND d.kind = 'photo')"
/* Is listing `l` on offer at `now` (an SQL parameter): published, and its
** mandate validated and not expired.  Every read and guard that offers a
** listing to a client asks this at the call's time, so an expired mandate
** takes the listing out of the feed even before tesoro_tick records it. */
#define TESORO__LISTING_LIVE(now)                                             \
  "(l.state = 'published' AND (SELECT m.state = 'validated' AND "            \
  "m.validated_at + m.duration_days * 86400 > " now " FROM mandate m WHERE " \
  "m.id = l.mandate_id))"
/* The client's (contact ?1) deal property for listing ?2 at ?3 that lets
** them see it: in the feed (an active deal, the listing on offer), else
** one they have a viewing for; the feed's first. */
#define TESORO__CLIENT_LISTING                                                \
  "FROM deal_property p JOIN deal d ON d.id = p.deal_id JOIN listing l ON "   \
  "l.id = p.listing_id WHERE d.contact_id = ?1 AND p.listing_id = ?2 AND "    \
  "((d.state = 'active' AND " TESORO__LISTING_LIVE("?3") ") OR EXISTS "       \
  "(SELECT 1 FROM appointment a WHERE a.contact_id = ?1 AND "                \
  "a.deal_property_id = p.id)) ORDER BY "                                     \
  "d.state = 'active' AND " TESORO__LISTING_LIVE("?3") " DESC, p.id DESC "    \
  "LIMIT 1"
#define TESORO__STATUS_COLOUR                                                 \
  "CASE a.state WHEN 'pending' THEN 'yellow' WHEN 'confirmed' THEN 'green' "  \
  "WHEN 'completed' THEN 'green' ELSE 'red' END"

/* The portal language of a contact, by the SQL function
** tesoro_portal_language (tesoro__sql_portal_language: the rule is there).
** TESORO__LANGUAGE is the rule over a contact row `c` and its portal
** account `pa`, left-joined (either may be missing: NULL is English);
** TESORO__LANGUAGE_OF(contact) is a subquery for a contact id expression. */
/* The source system's id of entity `id` of record type `type` (SQL
** expressions) as an import recorded it, else "<type>-<id>". */
#define TESORO__EXTERNAL(type, id)                                            \
  "coalesce((SELECT external_id FROM import_ref WHERE agency_id = ?1 AND "    \
  "type = " type " AND entity_id = " id "), " type " || '-' || " id ")"
#define TESORO__IMPORT_FORMAT "tesoro-agency-1"

#define TESORO__LANGUAGE(pa, c)                                               \
  "tesoro_portal_language(" pa ".language, " c ".language)"
#define TESORO__LANGUAGE_OF(contact)                                          \
  "coalesce((SELECT " TESORO__LANGUAGE("lp", "lc") " FROM contact lc LEFT "   \
  "JOIN portal_account lp ON lp.contact_id = lc.id WHERE lc.id = " contact    \
  "), 'en')"
/* What the portal functions read of an account (tesoro__account). */
#define TESORO__ACCOUNT_COLUMNS                                               \
  "id, state, version, password_hash, code_hash, code_expires_at, "          \
  "code_attempts, locked_until, contact_id, name, reset_hash, "              \
  "reset_expires_at, reset_attempts, deactivated_at IS NOT NULL"

/* What a VEVENT shows of an appointment (tesoro__ics_event), and FROM. */
#define TESORO__ICS_COLUMNS                                                   \
  "a.state, " TESORO__APPOINTMENT_AT ", a.duration_s, a.version, l.title, "   \
  "l.address, l.price, l.ref, g.currency, a.id, g.uid_key FROM appointment "  \
  "a JOIN listing l ON l.id = a.listing_id JOIN agency g ON g.id = "          \
  "a.agency_id"

/* The statement cache: name and SQL of every statement tesoro runs more
** than once.  Lists that become cursors are prepared per call instead
** (a cursor owns its statement). */
#define TESORO__STATEMENTS(X)                                                 \
  X(BEGIN, "BEGIN IMMEDIATE")                                                 \
  X(COMMIT, "COMMIT")                                                         \
  X(ROLLBACK, "ROLLBACK")                                                     \
  X(BEGIN_READ, "BEGIN")                                                      \
  X(SAVEPOINT, "SAVEPOINT tesoro_call")                                       \
  X(RELEASE, "RELEASE tesoro_call")                                           \
  X(ROLLBACK_TO, "ROLLBACK TO tesoro_call")                                   \
  /* actors and agencies */                                                   \
  X(ACTOR_LOAD,                                                               \
    "SELECT agency_id, kind, role, contact_id, (SELECT erased_at IS NOT NULL "\
    "FROM contact WHERE id = actor.contact_id) FROM actor WHERE id = ?1")     \
  X(ACTOR_INSERT,                                                             \
    "INSERT INTO actor(agency_id, kind, role, contact_id, name, email, "      \
    "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")                        \
  /* One statement per kind, the kind spelled out: with "kind = ?2" SQLite  \
  ** re-prepares the statement whenever ?2 changes, since the partial index \
  ** actor_one_per_agency serves some values of it and not others. */       \
  X(ACTOR_WEBSITE, "SELECT id FROM actor WHERE agency_id = ?1 AND "          \
    "kind = 'website'")                                                       \
  X(ACTOR_SYSTEM, "SELECT id FROM actor WHERE agency_id = ?1 AND "           \
    "kind = 'system'")                                                        \
  X(ACTOR_OF_CONTACT, "SELECT id FROM actor WHERE contact_id = ?1")           \
  X(STAFF_ADMINS,                                                             \
    "SELECT id FROM actor WHERE agency_id = ?1 AND kind = 'agent' "           \
    "AND role = 'admin' ORDER BY id")                                         \
  X(STAFF_EMAIL_TAKEN,                                                        \
    "SELECT 1 FROM actor WHERE agency_id = ?1 AND kind = 'agent' "            \
    "AND lower(email) = lower(?2)")                                           \
  X(AGENCY_INSERT,                                                            \
    "INSERT INTO agency(name, timezone, currency, created_at, uid_key) "      \
    "VALUES (?1, ?2, ?3, ?4, lower(hex(randomblob(8))))")                     \
  /* No UPDATE ... RETURNING in tesoro: SQLite 3.40 can roll a write      */ \
  /* transaction back inside one (a statement journal out of memory) and  */ \
  /* still return its row, no error (test_faults).  A write, then a read. */ \
  X(AGENCY_COUNT_REF,                                                         \
    "UPDATE agency SET listing_counter = listing_counter + 1 WHERE id = ?1")  \
  X(AGENCY_LAST_REF,                                                          \
    "SELECT 'TES-' || printf('%05d', listing_counter) FROM agency "           \
    "WHERE id = ?1")                                                          \
  /* contacts */                                                              \
  X(CONTACT_INSERT,                                                           \
    "INSERT INTO contact(agency_id, name, email, phone, language, "           \
    "assigned_agent_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")     \
  X(CONTACT_BY_EMAIL,                                                         \
    "SELECT id FROM contact WHERE agency_id = ?1 AND email IS NOT NULL "      \
    "AND lower(email) = lower(?2)") /* the partial index contact_email */     \
  X(CONTACT_LOAD,                                                             \
    "SELECT agency_id, id, NULL, version FROM contact WHERE id = ?1")         \
  X(CONTACT_ASSIGN,                                                           \
    "UPDATE contact SET assigned_agent_id = ?2, version = version + 1 "       \
    "WHERE id = ?1 AND version = ?3")                                         \
  X(CONTACT_AGENT, "SELECT assigned_agent_id FROM contact WHERE id = ?1")     \
  X(CONTACT_EMAIL, "SELECT email FROM contact WHERE id = ?1")                 \
  X(CONTACT_ROLE_ADD,                                                         \
    "INSERT OR IGNORE INTO contact_role(contact_id, role) VALUES (?1, ?2)")   \
  /* import and export (section 21) */                                       \
  X(IMPORT_REF,                                                               \
    "SELECT entity_id FROM import_ref WHERE agency_id = ?1 AND type = ?2 "    \
    "AND external_id = ?3")                                                   \
  X(IMPORT_DIGEST,                                                            \
    "SELECT digest FROM import_ref WHERE agency_id = ?1 AND type = ?2 AND "   \
    "external_id = ?3")                                                       \
  X(IMPORT_REF_INSERT,                                                        \
    "INSERT INTO import_ref(agency_id, type, external_id, entity, entity_id, "\
    "digest, line, imported_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")     \
  X(IMPORT_SELLER, /* ?1 contact, ?2 the listing's fields */                \
    "SELECT name, email, phone, json_extract(?2, '$.address'), "              \
    "coalesce(json_extract(?2, '$.property_type'), 'house'), "                \
    "coalesce(json_extract(?2, '$.price'), 0), json_patch(?2, "               \
    "json_object('full_name', name, 'email', email, 'phone', phone)) "        \
    "FROM contact WHERE id = ?1")                                             \
  X(IMPORT_REVIEW_TASK,                                                       \
    "SELECT id FROM task WHERE entity = " TESORO__SQL_ENTITY(MANDATE) " AND entity_id = ?1 AND kind = "     \
    "'review_seller_form' AND state = 'open' ORDER BY id DESC LIMIT 1")       \
  X(IMPORT_DEAL, /* the contact's deal for a listing's viewing */          \
    "SELECT d.id, (SELECT p.id FROM deal_property p WHERE p.deal_id = d.id "  \
    "AND p.listing_id = ?2) FROM deal d WHERE d.contact_id = ?1 AND d.state " \
    "= 'active' ORDER BY (SELECT count(*) FROM deal_property p WHERE "        \
    "p.deal_id = d.id AND p.listing_id = ?2) DESC, d.id LIMIT 1")             \
  X(IMPORT_STATE, /* one row, NULL without history: the entity's state */  \
    "SELECT (SELECT to_state FROM history WHERE entity = ?1 AND entity_id = " \
    "?2 ORDER BY seq DESC LIMIT 1)")                                          \
  X(IMPORT_FOLD, /* an entity the record made: all its rows are the replay */ \
    "DELETE FROM history WHERE entity = ?1 AND entity_id = ?2")               \
  X(IMPORT_STAGE_DATA, /* ?2 " key key ": the members of ?1 a stage takes */\
    "SELECT json_group_object(key, CASE type WHEN 'true' THEN json('true') "  \
    "WHEN 'false' THEN json('false') WHEN 'object' THEN json(value) WHEN "    \
    "'array' THEN json(value) ELSE value END) FILTER (WHERE instr(?2, ' ' || "\
    "key || ' ')), count(*) FILTER (WHERE instr(?2, ' ' || key || ' ')), "    \
    "count(*) FROM json_each(?1)")                                            \
  X(IMPORT_CLOSINGS, "SELECT coalesce(min(id), 0) FROM actor WHERE "          \
    "agency_id = ?1 AND role = 'closings'")                                   \
  X(IMPORT_APPOINTMENT_END,                                                   \
    "SELECT start_at + duration_s FROM appointment WHERE id = ?1")            \
  X(IMPORT_CUSTOMER_EVENT,                                                    \
    "SELECT json_patch('{}', json_object('source_id', 'import:' || ?1, "      \
    "'type', 'customer', 'customer', ?1, 'at', ?2, 'name', ?3, 'email', ?4, " \
    "'phone', ?5))")                                                          \
  X(IMPORT_PHOTOS, /* name, mime, data, and whether the element is right */ \
    "SELECT x ->> '$.name', x ->> '$.mime', x ->> '$.data', x IS NOT NULL "   \
    "AND json_type(x, '$.name') = 'text' AND json_type(x, '$.mime') = "       \
    "'text' AND json_type(x, '$.data') = 'text' AND (SELECT count(*) FROM "   \
    "json_each(x)) = 3 FROM (SELECT iif(type = 'object', value, NULL) AS x, " \
    "key FROM json_each(?1)) ORDER BY key")                                   \
  X(IMPORT_HISTORY,                                                           \
    "INSERT INTO history(agency_id, entity, entity_id, seq, event, "          \
    "from_state, to_state, actor_id, at, details) VALUES (?1, ?2, ?3, 1, "    \
    "'imported', NULL, ?4, ?5, ?6, json_object('source', 'import', 'line', "  \
    "?7, 'type', ?8, 'external_id', ?9))")                                    \
  X(EXPORT_HEADER,                                                            \
    "SELECT json_object('type', 'header', 'format', '" TESORO__IMPORT_FORMAT  \
    "', 'name', g.name, 'timezone', g.timezone, 'currency', g.currency, "     \
    "'portal_active', json(iif(g.portal_active, 'true', 'false')), "          \
    "'admin_name', a.name, 'admin_email', a.email) FROM agency g JOIN actor " \
    "a ON a.id = (SELECT min(id) FROM actor WHERE agency_id = g.id AND "      \
    "role = 'admin') WHERE g.id = ?1")                                        \
  /* history, the engine's record */                                          \
  X(HISTORY_INSERT,                                                           \
    "INSERT INTO history(agency_id, entity, entity_id, seq, event, "          \
    "from_state, to_state, actor_id, at, details, line_kind, line_summary, "  \
    "line_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, CASE WHEN ?11 IS "  \
    "NULL THEN iif(?10 IS NULL, NULL, json_object('reason', ?10)) WHEN ?10 "  \
    "IS NULL THEN json_object('ref', ?11) ELSE json_object('reason', ?10, "   \
    "'ref', ?11) END, ?12, ?13, ?14)")                                        \
  /* ?1 entity, ?2 id, ?3 seq: a history row's key */                        \
  X(HISTORY_SET_DETAILS,                                                      \
    "UPDATE history SET details = ?4 WHERE entity = ?1 AND entity_id = ?2 "   \
    "AND seq = ?3")                                                           \
  /* entity loads: agency_id, contact_id, state, version */                   \
  X(ROOM_LOAD,                                                                \
    "SELECT agency_id, contact_id, state, version FROM room WHERE id = ?1")   \
  X(ROOM_SET_STATE,                                                           \
    "UPDATE room SET state = ?2, version = version + 1 "                      \
    "WHERE id = ?1 AND version = ?3")                                         \
  X(MANDATE_LOAD,                                                             \
    "SELECT agency_id, contact_id, state, version FROM mandate WHERE id = ?1")\
  X(MANDATE_SET_STATE,                                                        \
    "UPDATE mandate SET state = ?2, version = version + 1 "                   \
    "WHERE id = ?1 AND version = ?3")                                         \
  X(LISTING_LOAD,                                                             \
    "SELECT l.agency_id, m.contact_id, l.state, l.version FROM listing l "    \
    "JOIN mandate m ON m.id = l.mandate_id WHERE l.id = ?1")                  \
  X(LISTING_SET_STATE,                                                        \
    "UPDATE listing SET state = ?2, version = version + 1 "                   \
    "WHERE id = ?1 AND version = ?3")                                         \
  X(TASK_LOAD,                                                                \
    "SELECT agency_id, NULL, state, version FROM task WHERE id = ?1")         \
  X(TASK_SET_STATE,                                                           \
    "UPDATE task SET state = ?2, version = version + 1 "                      \
    "WHERE id = ?1 AND version = ?3")                                         \
  X(DEAL_LOAD,                                                                \
    "SELECT agency_id, contact_id, state, version FROM deal WHERE id = ?1")   \
  X(DEAL_SET_STATE,                                                           \
    "UPDATE deal SET state = ?2, version = version + 1 "                      \
    "WHERE id = ?1 AND version = ?3")                                         \
  X(DEAL_PROPERTY_LOAD,                                                       \
    "SELECT p.agency_id, d.contact_id, p.state, p.version FROM deal_property "\
    "p JOIN deal d ON d.id = p.deal_id WHERE p.id = ?1")                      \
  /* the status before it was viewed, if viewing ?2 made it viewed */        \
  X(DEAL_PROPERTY_VIEWED_BY,                                                  \
    "SELECT CASE WHEN p.state = 'viewed' AND json_extract(h.details, "        \
    "'$.ref') = ?2 THEN h.from_state END FROM deal_property p LEFT JOIN "     \
    "history h ON h.entity = " TESORO__SQL_ENTITY(DEAL_PROPERTY) " AND "      \
    "h.entity_id = p.id AND h.seq = (SELECT max(seq) FROM history WHERE "     \
    "entity = " TESORO__SQL_ENTITY(DEAL_PROPERTY) " AND entity_id = p.id "    \
    "AND event = 'viewing_completed') WHERE p.id = ?1")                       \
  X(DEAL_PROPERTY_SET_STATE,                                                  \
    "UPDATE deal_property SET state = ?2, version = version + 1 "             \
    "WHERE id = ?1 AND version = ?3")                                         \
  X(PORTAL_ACCOUNT_LOAD,                                                      \
    "SELECT agency_id, contact_id, state, version FROM portal_account "       \
    "WHERE id = ?1")                                                          \
  X(PORTAL_ACCOUNT_SET_STATE,                                                 \
    "UPDATE portal_account SET state = ?2, version = version + 1 "            \
    "WHERE id = ?1 AND version = ?3")                                         \
  X(WEB_CUSTOMER_LOAD,                                                        \
    "SELECT agency_id, contact_id, state, version FROM web_customer "         \
    "WHERE id = ?1")                                                          \
  X(WEB_CUSTOMER_SET_STATE,                                                   \
    "UPDATE web_customer SET state = ?2, version = version + 1 "              \
    "WHERE id = ?1 AND version = ?3")                                         \
  X(WEB_CUSTOMER_KEEP_STATE,                                                  \
    "UPDATE web_customer SET version = version + 1 "                          \
    "WHERE id = ?1 AND state = ?2 AND version = ?3")                          \
  X(SEARCH_LOAD,                                                              \
    "SELECT s.agency_id, w.contact_id, s.state, s.version FROM search s "     \
    "JOIN web_customer w ON w.id = s.customer_id WHERE s.id = ?1")            \
  X(SEARCH_SET_STATE,                                                         \
    "UPDATE search SET state = ?2, version = version + 1 "                    \
    "WHERE id = ?1 AND version = ?3")                                         \
  X(VENDOR_CLAIM_LOAD,                                                        \
    "SELECT v.agency_id, w.contact_id, v.state, v.version FROM vendor_claim " \
    "v JOIN web_customer w ON w.id = v.customer_id WHERE v.id = ?1")          \
  X(VENDOR_CLAIM_SET_STATE,                                                   \
    "UPDATE vendor_claim SET state = ?2, version = version + 1 "              \
    "WHERE id = ?1 AND version = ?3")                                         \
  X(REFERRAL_LOAD,                                                            \
    "SELECT agency_id, contact_id, state, version FROM referral WHERE id = ?1")\
  X(REFERRAL_SET_STATE,                                                       \
    "UPDATE referral SET state = ?2, version = version + 1 "                  \
    "WHERE id = ?1 AND version = ?3")                                         \
  /* and its own facts, tesoro__appt_get's (ctx.before) */                  \
  X(APPOINTMENT_LOAD,                                                         \
    "SELECT agency_id, contact_id, state, version, start_at, duration_s, "    \
    "reminder_at, owner_id, deal_property_id, no_show_at FROM appointment "   \
    "WHERE id = ?1")                                                          \
  X(APPOINTMENT_BY_CLOCK, /* completed by the system's timer */             \
    "SELECT w.kind = 'system' FROM appointment a JOIN actor w ON w.id = "     \
    "a.completed_by WHERE a.id = ?1")                                         \
  X(APPOINTMENT_SET_STATE,                                                    \
    "UPDATE appointment SET state = ?2, version = version + 1 "               \
    "WHERE id = ?1 AND version = ?3")                                         \
  /* outbox: a message stores what only its moment knows (schema.sql, */      \
  /* outbox); tesoro_outbox_fetch renders the rest */                        \
  X(CHANNELS_OFF, /* ?1 recipient, ?2 agency: what is not delivered */      \
    "SELECT coalesce((SELECT channels_off FROM actor WHERE id = ?1), 0) | "   \
    "iif(push_enabled, 0, 2) | iif(calendar_active, 0, 16) FROM agency "      \
    "WHERE id = ?2")                                                          \
  X(ACTOR_SET_CHANNEL,                                                        \
    "UPDATE actor SET channels_off = iif(?3, channels_off & ~?2, "            \
    "channels_off | ?2) WHERE id = ?1")                                       \
  X(OUTBOX_INSERT,                                                            \
    "INSERT INTO outbox(agency_id, kind, recipient_id, channels, "            \
    "undelivered, template, summary, payload, entity, entity_id, seq, "       \
    "next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, "   \
    "?8, ?9, ?10, ?11, ?11)")                                                 \
  /* ?2: the delivery's channel bit.  The message stays pending while one */ \
  /* of its channels is neither delivered nor dead (schema.sql, outbox). */   \
  /* tesoro->outbox_floor, raised to the oldest message waiting for its */   \
  /* first delivery, else to the last message (there is one) */             \
  X(OUTBOX_FLOOR,                                                             \
    "SELECT coalesce((SELECT id FROM outbox WHERE id >= ?1 AND status = "     \
    "'pending' AND attempts = 0 ORDER BY id LIMIT 1), (SELECT max(id) FROM "  \
    "outbox), 0)")                                                            \
  X(OUTBOX_ACK,                                                               \
    "UPDATE outbox SET undelivered = undelivered & ~?2, "                     \
    "status = CASE WHEN undelivered & ~?2 = 0 THEN 'delivered' "              \
    "WHEN undelivered & ~?2 & ~dead = 0 THEN 'dead' ELSE status END, "        \
    "delivered_at = iif(undelivered & ~?2 = 0, ?3, delivered_at), "           \
    "payload = iif(undelivered & ~?2 = 0 AND ?4, json_patch(payload, "        \
    "'{\"secret\":null}'), payload) "                                         \
    "WHERE id = ?1 AND status = 'pending' AND undelivered & ~dead & ?2")      \
  X(OUTBOX_HAS_SECRET,                                                        \
    "SELECT json_extract(payload, '$.secret') IS NOT NULL FROM outbox "       \
    "WHERE id = ?1")                                                          \
  X(OUTBOX_STATUS,                                                            \
    "SELECT CASE WHEN undelivered & ?2 = 0 THEN 'delivered' "                 \
    "WHEN dead & ?2 THEN 'dead' ELSE status END, attempts "                   \
    "FROM outbox WHERE id = ?1 AND channels & ?2")                            \
  /* ?3: the bit made dead (0: none), ?4 the next attempt */                  \
  X(OUTBOX_FAIL,                                                              \
    "UPDATE outbox SET attempts = ?2, dead = dead | ?3, "                     \
    "status = iif(undelivered & ~(dead | ?3) = 0, 'dead', 'pending'), "       \
    "next_attempt_at = ?4, last_error = ?5 "                                  \
    "WHERE id = ?1 AND status = 'pending'")                                   \
  /* activity, tasks, timers */                                               \
  X(ACTIVITY_INSERT, /* id: the contact's next (schema.sql) */              \
    "INSERT INTO activity(contact_id, id, agency_id, kind, actor_id, at, "    \
    "entity, entity_id, summary, ns) VALUES (?2, (SELECT coalesce(max(id), "  \
    "0) + 1 FROM activity WHERE contact_id = ?2), ?1, ?3, ?4, ?5, ?6, ?7, "   \
    "?8, ?9)")                                                                \
  X(TASK_INSERT,                                                              \
    "INSERT INTO task(agency_id, state, kind, title, entity, entity_id, "     \
    "assignee_id, created_at) VALUES (?1, ?8, ?2, ?3, ?4, ?5, ?6, ?7)")   \
  X(TASK_OPEN_OF,                                                             \
    "SELECT id FROM task WHERE agency_id = ?1 AND entity = ?2 AND "           \
    "entity_id = ?3 AND kind = ?4 AND state = 'open' ORDER BY id LIMIT 1")    \
  X(TASK_CLOSED_AT, "UPDATE task SET closed_at = ?2 WHERE id = ?1")           \
  X(TASK_LAST_STATE,                                                          \
    "SELECT state FROM task WHERE entity = ?1 AND entity_id = ?2 AND "        \
    "kind = ?3 ORDER BY id DESC LIMIT 1")                                     \
  /* timers: a pending timer is a row; fired or withdrawn, it is deleted */  \
  X(TIMER_INSERT,                                                             \
    "INSERT INTO timer(agency_id, entity, entity_id, kind, due_at) "          \
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING")                     \
  X(TIMER_FIRST, /* the key's first row: no sort */                         \
    "SELECT agency_id, entity, entity_id, kind, due_at FROM timer "           \
    "ORDER BY due_at, entity, entity_id, kind LIMIT 1")                       \
  X(TIMER_NEXT_DUE,                                                           \
    "SELECT coalesce(min(due_at), 9223372036854775807) FROM timer")          \
  /* An entity's, and a deal property's viewings': read from the due */     \
  /* timers in the key's order, as few as the tick left. */                  \
  X(TIMER_DUE_OF,                                                             \
    "SELECT agency_id, entity, entity_id, kind, due_at FROM timer "           \
    "WHERE due_at <= ?3 AND (entity = ?1 AND entity_id = ?2 OR ?1 = "         \
    TESORO__SQL_ENTITY(DEAL_PROPERTY) " AND entity = "                       \
    TESORO__SQL_ENTITY(APPOINTMENT) " AND (SELECT deal_property_id FROM "    \
    "appointment WHERE id = entity_id) = ?2) "                                \
    "ORDER BY due_at, entity, entity_id, kind LIMIT 1")                       \
  X(TIMER_DELETE, /* fired or withdrawn: by its whole key */               \
    "DELETE FROM timer WHERE due_at = ?4 AND entity = ?1 AND entity_id = ?2 " \
    "AND kind = ?3")                                                          \
  /* documents */                                                             \
  X(DOCUMENT_INSERT,                                                          \
    "INSERT INTO document(agency_id, entity, entity_id, kind, name, mime, "   \
    "size, sha256, data, uploaded_by, created_at) "                           \
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")                  \
  X(DOCUMENT_LOAD,                                                            \
    "SELECT entity, entity_id, data, kind = 'photo' FROM document "           \
    "WHERE id = ?1")                                                          \
  X(DOCUMENT_HAS_KIND,                                                        \
    "SELECT count(*) FROM document WHERE entity = ?1 AND entity_id = ?2 "     \
    "AND kind = ?3")                                                          \
  /* seller onboarding */                                                     \
  X(ROOM_INSERT,                                                              \
    "INSERT INTO room(agency_id, contact_id, state, property_type, location, "\
    "budget, timeline, description, created_at) "                             \
    "VALUES (?1, ?2, ?9, ?3, ?4, ?5, ?6, ?7, ?8)")                        \
  X(ROOM_SET_END,                                                             \
    "UPDATE room SET end_reason = ?2, ended_by = ?3 WHERE id = ?1")           \
  X(ROOM_MESSAGE_INSERT,                                                      \
    "INSERT INTO room_message(room_id, kind, author_id, body, created_at) "   \
    "VALUES (?1, ?2, ?3, ?4, ?5)")                                            \
  X(ROOM_MANDATE,                                                             \
    "SELECT id, state, version FROM mandate WHERE room_id = ?1")              \
  X(MANDATE_INSERT,                                                           \
    "INSERT INTO mandate(agency_id, room_id, contact_id, state, created_at) " \
    "VALUES (?1, ?2, ?3, ?5, ?4)")                                       \
  X(MANDATE_GET,                                                              \
    "SELECT room_id, open_proposal_id, duration_days, validated_at, "         \
    "form_json FROM mandate WHERE id = ?1")                                   \
  X(MANDATE_SET_OPEN,                                                         \
    "UPDATE mandate SET open_proposal_id = ?2 WHERE id = ?1")                 \
  X(MANDATE_AGREE,                                                            \
    "UPDATE mandate SET agreed_proposal_id = p.id, commission_type = "        \
    "p.commission_type, commission_value = p.commission_value, currency = "   \
    "p.currency, exclusive = p.exclusive, duration_days = p.duration_days "   \
    "FROM proposal p WHERE p.id = ?2 AND mandate.id = ?1")                    \
  X(MANDATE_SET_FORM, "UPDATE mandate SET form_json = ?2 WHERE id = ?1")      \
  X(MANDATE_SET_VALIDATED,                                                    \
    "UPDATE mandate SET validated_at = ?2 WHERE id = ?1")                     \
  X(MANDATE_SET_END, "UPDATE mandate SET end_reason = ?2 WHERE id = ?1")      \
  X(PROPOSAL_INSERT,                                                          \
    "INSERT INTO proposal(mandate_id, author_id, author_party, "              \
    "commission_type, commission_value, currency, exclusive, duration_days, " \
    "created_at, accepted_by_agent_at, accepted_by_client_at) VALUES (?1, "   \
    "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, CASE ?3 WHEN 'agent' THEN ?9 END, "      \
    "CASE ?3 WHEN 'client' THEN ?9 END)")                                     \
  X(PROPOSAL_SUPERSEDE,                                                       \
    "UPDATE proposal SET superseded_at = ?2 WHERE id = ?1")                   \
  X(PROPOSAL_LOAD,                                                            \
    "SELECT mandate_id, author_party, superseded_at FROM proposal "           \
    "WHERE id = ?1")                                                          \
  X(PROPOSAL_ACCEPT,                                                          \
    "UPDATE proposal SET accepted_by_agent_at = coalesce("                    \
    "accepted_by_agent_at, CASE ?2 WHEN 'agent' THEN ?3 END), "               \
    "accepted_by_client_at = coalesce(accepted_by_client_at, "                \
    "CASE ?2 WHEN 'client' THEN ?3 END) WHERE id = ?1")                       \
  X(PROPOSAL_TERMS_JSON,                                                      \
    "SELECT json_object('mandate_id', mandate_id, 'proposal_id', id, "        \
    "'commission_type', commission_type, 'commission_value', "                \
    "commission_value, 'currency', currency, 'exclusive', exclusive, "        \
    "'duration_days', duration_days, 'disclaimer', ?2) FROM proposal "        \
    "WHERE id = ?1")                                                          \
  /* the seller form's uploads a listing shows, kept on the mandate too */   \
  X(DOCUMENTS_TO_LISTING,                                                     \
    "INSERT INTO document(agency_id, entity, entity_id, kind, name, mime, "   \
    "size, sha256, data, uploaded_by, created_at) SELECT agency_id, ?3, ?2, " \
    "kind, name, mime, size, sha256, data, uploaded_by, created_at FROM "     \
    "document WHERE entity = ?4 AND entity_id = ?1 AND kind IN "              \
    "('photo', 'property_document', 'energy_certificate') ORDER BY id")       \
  X(LISTING_OF_MANDATE,                                                       \
    "SELECT id, state FROM listing WHERE mandate_id = ?1")                    \
  X(LISTING_INSERT,                                                           \
    "INSERT INTO listing(agency_id, mandate_id, ref, state, created_at) "     \
    "VALUES (?1, ?2, ?3, ?4, ?5)")                                            \
  X(LISTING_FILL,                                                             \
    "UPDATE listing SET title = coalesce(json_extract(?2, '$.title'), "       \
    "json_extract(?2, '$.property_type') || ' at ' || "                       \
    "json_extract(?2, '$.address')), address = json_extract(?2, "             \
    "'$.address'), price = json_extract(?2, '$.price'), property_type = "     \
    "json_extract(?2, '$.property_type'), bedrooms = json_extract(?2, "       \
    "'$.bedrooms'), bathrooms = json_extract(?2, '$.bathrooms'), "            \
    "floor_area = json_extract(?2, '$.floor_area'), energy_label = "          \
    "json_extract(?2, '$.energy_label'), description = json_extract(?2, "     \
    "'$.description'), longitude = json_extract(?2, '$.longitude'), "         \
    "latitude = json_extract(?2, '$.latitude') WHERE id = ?1")                \
  X(LISTING_UPDATE,                                                           \
    "UPDATE listing SET "                                                     \
    "title = iif(json_type(?2, '$.title') IS NULL, title, "                   \
    "json_extract(?2, '$.title')), "                                          \
    "address = iif(json_type(?2, '$.address') IS NULL, address, "             \
    "json_extract(?2, '$.address')), "                                        \
    "price = iif(json_type(?2, '$.price') IS NULL, price, "                   \
    "json_extract(?2, '$.price')), "                                          \
    "property_type = iif(json_type(?2, '$.property_type') IS NULL, "          \
    "property_type, json_extract(?2, '$.property_type')), "                   \
    "bedrooms = iif(json_type(?2, '$.bedrooms') IS NULL, bedrooms, "          \
    "json_extract(?2, '$.bedrooms')), "                                       \
    "bathrooms = iif(json_type(?2, '$.bathrooms') IS NULL, bathrooms, "       \
    "json_extract(?2, '$.bathrooms')), "                                      \
    "floor_area = iif(json_type(?2, '$.floor_area') IS NULL, floor_area, "    \
    "json_extract(?2, '$.floor_area')), "                                     \
    "energy_label = iif(json_type(?2, '$.energy_label') IS NULL, "            \
    "energy_label, json_extract(?2, '$.energy_label')), "                     \
    "description = iif(json_type(?2, '$.description') IS NULL, description, "\
    "json_extract(?2, '$.description')), "                                    \
    "longitude = iif(json_type(?2, '$.longitude') IS NULL, longitude, "       \
    "json_extract(?2, '$.longitude')), "                                      \
    "latitude = iif(json_type(?2, '$.latitude') IS NULL, latitude, "          \
    "json_extract(?2, '$.latitude')) WHERE id = ?1")                          \
  X(LISTING_PUBLISH_FACTS,                                                    \
    "SELECT l.title IS NOT NULL AND l.address IS NOT NULL AND l.price IS "    \
    "NOT NULL, m.state, m.validated_at + m.duration_days * 86400, m.id "      \
    "FROM listing l JOIN mandate m ON m.id = l.mandate_id WHERE l.id = ?1")   \
  X(LISTING_SET_PUBLISHED,                                                    \
    "UPDATE listing SET published_at = ?2 WHERE id = ?1")                     \
  /* deals and appointments */                                                \
  X(AGENCY_ZONE, "SELECT timezone FROM agency WHERE id = ?1")                 \
  X(DEAL_INSERT,                                                              \
    "INSERT INTO deal(agency_id, contact_id, agent_id, state, name, "         \
    "created_at) VALUES (?1, ?2, ?3, ?6, ?4, ?5)")                      \
  X(DEAL_SET_END, "UPDATE deal SET end_reason = ?2 WHERE id = ?1")            \
  X(LISTING_OFFER_FACTS, "SELECT l.agency_id, l.state, "                     \
    TESORO__LISTING_LIVE("?2") " FROM listing l WHERE l.id = ?1")             \
  X(DEAL_PROPERTY_OF,                                                         \
    "SELECT id FROM deal_property WHERE deal_id = ?1 AND listing_id = ?2")    \
  X(DEAL_PROPERTY_INSERT,                                                     \
    "INSERT INTO deal_property(agency_id, deal_id, listing_id, state, "       \
    "created_at) VALUES (?1, ?2, ?3, ?5, ?4)")                       \
  X(DEAL_PROPERTY_FEED, /* ?2 reasons JSON (not_interested), ?3 note, */    \
    /* ?4 favourite (-1: unchanged) */                                        \
    "UPDATE deal_property SET reject_reasons = coalesce(?2, reject_reasons), "\
    "reject_note = iif(?2 IS NULL, reject_note, ?3), favourite = "            \
    "iif(?4 < 0, favourite, ?4) WHERE id = ?1")                               \
  X(DEAL_PROPERTY_FACTS,                                                      \
    "SELECT d.id, d.state, d.agent_id, p.listing_id, c.assigned_agent_id, "   \
    TESORO__LISTING_LIVE("?2") " FROM deal_property p JOIN deal d ON d.id = " \
    "p.deal_id JOIN contact c ON c.id = d.contact_id JOIN listing l ON l.id " \
    "= p.listing_id WHERE p.id = ?1")                                         \
  X(APPOINTMENT_INSERT,                                                       \
    "INSERT INTO appointment(agency_id, contact_id, deal_id, "                \
    "deal_property_id, listing_id, owner_id, state, preferred, created_at, "  \
    "duration_s) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?9, ?7, ?8, (SELECT " \
    "viewing_duration_s FROM agency WHERE id = ?1))")                         \
  /* the appointment's moves (tesoro__trans.move): state and own columns */  \
  /* ?9 the reminder lead: a reminder whose moment has passed would only */ \
  /* repeat the confirmation */                                             \
  X(APPOINTMENT_MOVE_START,                                                   \
    "UPDATE appointment SET state = ?2, version = version + 1, start_at = ?7, "\
    "duration_s = coalesce(nullif(?8, 0), duration_s), reminder_at = "       \
    "iif(?7 - ?9 > ?4, ?7 - ?9, NULL) WHERE id = ?1 AND version = ?3")        \
  X(APPOINTMENT_MOVE_END,                                                     \
    "UPDATE appointment SET state = ?2, version = version + 1, ended_at = ?4, "\
    "ended_by = ?5, end_reason = ?6 WHERE id = ?1 AND version = ?3")          \
  X(APPOINTMENT_MOVE_COMPLETED,                                               \
    "UPDATE appointment SET state = ?2, version = version + 1, "              \
    "completed_at = ?4, completed_by = ?5 WHERE id = ?1 AND version = ?3")    \
  X(APPOINTMENT_MOVE_NO_SHOW,                                                 \
    "UPDATE appointment SET state = ?2, version = version + 1, "              \
    "no_show_at = ?4, no_show_by = ?5 WHERE id = ?1 AND version = ?3")        \
  X(APPOINTMENT_SET_RATING,                                                   \
    "UPDATE appointment SET rating = ?2, rated_at = ?3 WHERE id = ?1")        \
  X(APPOINTMENT_NOTE_INSERT,                                                  \
    "INSERT INTO appointment_note(appointment_id, author_id, body, "          \
    "created_at) VALUES (?1, ?2, ?3, ?4)")                                    \
  X(APPOINTMENT_ICS_FACTS, /* the columns of tesoro__ics_event */          \
    "SELECT " TESORO__ICS_COLUMNS " WHERE a.id = ?1")                         \
  X(CALENDAR_FEED, /* an agent's viewings as owner, or a client's */        \
    "SELECT " TESORO__ICS_COLUMNS " WHERE a.owner_id = ?1 UNION ALL SELECT "  \
    TESORO__ICS_COLUMNS " WHERE a.contact_id = ?2 ORDER BY 10")               \
  /* referrals: stage data comes as the move's JSON (?2) or is stored */     \
  X(AGENCY_SET_REFERRAL_FEE,                                                  \
    "UPDATE agency SET referral_fee_bp = ?2 WHERE id = ?1")                   \
  X(REFERRAL_INSERT,                                                          \
    "INSERT INTO referral(agency_id, contact_id, agent_id, state, "           \
    "last_active_stage, fee_bp, created_at) SELECT ?1, ?2, ?3, "              \
    "?5, ?5, referral_fee_bp, ?4 FROM agency "    \
    "WHERE id = ?1")                                                          \
  X(REFERRAL_FACTS,                                                           \
    "SELECT coalesce(json_extract(?2, '$.meeting_at'), meeting_at), "         \
    "coalesce(json_extract(?2, '$.list_date'), list_date), "                  \
    "coalesce(json_extract(?2, '$.sale_price'), sale_price), "                \
    "coalesce(json_extract(?2, '$.close_date'), close_date), "                \
    "last_active_stage, agent_id FROM referral WHERE id = ?1")                \
  /* Is stage-data field ?3 known: in this move's data ?2 or stored? */     \
  X(REFERRAL_FACT_KNOWN,                                                      \
    "SELECT json_extract(json_patch(json_object('meeting_at', meeting_at, "   \
    "'list_date', list_date, 'sale_price', sale_price, 'close_date', "        \
    "close_date), coalesce(?2, '{}')), '$.' || ?3) IS NOT NULL FROM referral "\
    "WHERE id = ?1")                                                          \
  X(REFERRAL_APPLY, /* ?3 the stage entered, ?4 now, ?5 actor, ?6 reason */  \
    "UPDATE referral SET "                                                    \
    "meeting_at = coalesce(json_extract(?2, '$.meeting_at'), meeting_at), "   \
    "list_date = coalesce(json_extract(?2, '$.list_date'), list_date), "      \
    "sale_price = coalesce(json_extract(?2, '$.sale_price'), sale_price), "   \
    "close_date = coalesce(json_extract(?2, '$.close_date'), close_date), "   \
    "paid_amount = coalesce(json_extract(?2, '$.paid_amount'), paid_amount), "\
    "attempted_via = coalesce(json_extract(?2, '$.attempted_via'), "          \
    "attempted_via), contacted_via = coalesce(json_extract(?2, "              \
    "'$.contacted_via'), contacted_via), "                                    \
    "paid_at = iif(?3 = 'closed_paid', ?4, paid_at), "                        \
    "fee_owed = iif(?3 = 'closed', (coalesce(json_extract(?2, "               \
    "'$.sale_price'), sale_price) * fee_bp + 5000) / 10000, fee_owed), "      \
    "last_active_stage = iif(?3 = 'failed', last_active_stage, ?3), "         \
    "failed_at = iif(?3 = 'failed', ?4, failed_at), "                         \
    "failed_by = iif(?3 = 'failed', ?5, failed_by), "                         \
    "fail_reason = iif(?3 = 'failed', ?6, fail_reason) WHERE id = ?1")        \
  /* the list-date timer last planned (timers are keyed by due time) */     \
  X(REFERRAL_LIST_DUE, "SELECT list_due FROM referral WHERE id = ?1")         \
  X(REFERRAL_SET_LIST_DUE, "UPDATE referral SET list_due = ?2 WHERE id = ?1") \
  X(REFERRAL_NOTE_INSERT,                                                     \
    "INSERT INTO referral_note(referral_id, author_id, body, created_at) "    \
    "VALUES (?1, ?2, ?3, ?4)")                                                \
  /* the client portal */                                                     \
  /* a contact has one account at most (portal_account_contact) */         \
  X(PORTAL_GATE,                                                              \
    "SELECT g.portal_active, coalesce(p.state = 'set_password', 0), "         \
    "coalesce(p.deactivated_at IS NOT NULL, 0) FROM agency g LEFT JOIN "      \
    "portal_account p ON p.contact_id = ?2 WHERE g.id = ?1")                  \
  X(AGENCY_SET_PORTAL, "UPDATE agency SET portal_active = ?2 WHERE id = ?1")  \
  X(AGENCY_SET_VIEWING_DURATION,                                              \
    "UPDATE agency SET viewing_duration_s = ?2 WHERE id = ?1")                \
  X(AGENCY_SET_PUSH, "UPDATE agency SET push_enabled = ?2 WHERE id = ?1")     \
  X(AGENCY_SET_CALENDAR,                                                      \
    "UPDATE agency SET calendar_active = ?2 WHERE id = ?1")                   \
  X(PORTAL_ACCOUNT_INSERT,                                                    \
    "INSERT INTO portal_account(agency_id, contact_id, state, email, name, "  \
    "password_hash, code_hash, code_expires_at, created_by, created_at) "     \
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")                       \
  X(PORTAL_ACCOUNT_BY_EMAIL,                                                  \
    "SELECT " TESORO__ACCOUNT_COLUMNS " FROM portal_account "                 \
    "WHERE agency_id = ?1 AND lower(email) = lower(?2)")                      \
  X(PORTAL_ACCOUNT_BY_ID,                                                     \
    "SELECT " TESORO__ACCOUNT_COLUMNS " FROM portal_account WHERE id = ?1")   \
  X(PORTAL_ACCOUNT_OF_CONTACT,                                                \
    "SELECT " TESORO__ACCOUNT_COLUMNS " FROM portal_account "                 \
    "WHERE contact_id = ?1")                                                  \
  X(PORTAL_REGISTER_AGAIN,                                                    \
    "UPDATE portal_account SET name = ?2, password_hash = ?3, code_hash = ?4, "\
    "code_expires_at = ?5, code_attempts = 0 WHERE id = ?1")                  \
  X(PORTAL_VERIFIED,                                                          \
    "UPDATE portal_account SET contact_id = ?2, code_hash = NULL, "           \
    "code_expires_at = NULL, code_attempts = 0, last_login_at = ?3 "          \
    "WHERE id = ?1")                                                          \
  X(PORTAL_CODE_FAILED,                                                       \
    "UPDATE portal_account SET code_attempts = code_attempts + 1 "            \
    "WHERE id = ?1")                                                          \
  X(PORTAL_LOGIN_OK, /* ?3: a stronger hash of the same password, or NULL */ \
    "UPDATE portal_account SET failed_logins = 0, locked_until = NULL, "      \
    "last_login_at = ?2, password_hash = coalesce(?3, password_hash) "        \
    "WHERE id = ?1")                                                          \
  X(PORTAL_LOGIN_FAILED, /* the ?3rd failure in a row locks until ?2 */     \
    "UPDATE portal_account SET failed_logins = iif(failed_logins + 1 >= ?3, " \
    "0, failed_logins + 1), locked_until = iif(failed_logins + 1 >= ?3, ?2, " \
    "locked_until) WHERE id = ?1")                                            \
  X(PORTAL_LOCKED_UNTIL,                                                      \
    "SELECT coalesce(locked_until, 0) FROM portal_account WHERE id = ?1")     \
  X(PORTAL_SET_PASSWORD, /* a change, a reset or a resend: ?3 deactivated */\
    "UPDATE portal_account SET password_hash = ?2, failed_logins = 0, "       \
    "locked_until = iif(?4, NULL, locked_until), reset_hash = NULL, "         \
    "reset_expires_at = NULL, reset_attempts = 0, deactivated_at = ?3 WHERE " \
    "id = ?1")                                                                \
  X(PORTAL_RESET_SET,                                                         \
    "UPDATE portal_account SET reset_hash = ?2, reset_expires_at = ?3, "      \
    "reset_attempts = 0 WHERE id = ?1")                                       \
  X(PORTAL_RESET_FAILED,                                                      \
    "UPDATE portal_account SET reset_attempts = reset_attempts + 1 "          \
    "WHERE id = ?1")                                                          \
  X(PORTAL_DEACTIVATE,                                                        \
    "UPDATE portal_account SET deactivated_at = ?2, reset_hash = NULL, "      \
    "reset_expires_at = NULL, reset_attempts = 0 WHERE id = ?1")              \
  X(PORTAL_SESSION_INSERT,                                                    \
    "INSERT INTO portal_session(token_hash, account_id, agency_id, "          \
    "created_at, last_used_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?4, ?5)")  \
  X(PORTAL_SESSION_GET,                                                       \
    "SELECT s.account_id, s.agency_id, s.last_used_at, s.expires_at, "        \
    "a.contact_id FROM portal_session s JOIN portal_account a ON a.id = "     \
    "s.account_id WHERE s.token_hash = ?1")                                   \
  X(PORTAL_SESSION_TOUCH,                                                     \
    "UPDATE portal_session SET last_used_at = ?2 WHERE token_hash = ?1")      \
  X(PORTAL_SESSION_DELETE, "DELETE FROM portal_session WHERE token_hash = ?1")\
  X(PORTAL_SESSIONS_END, "DELETE FROM portal_session WHERE account_id = ?1")  \
  X(PORTAL_SESSIONS_END_AGENCY,                                               \
    "DELETE FROM portal_session WHERE agency_id = ?1")                        \
  X(PORTAL_SET_LANGUAGE,                                                      \
    "UPDATE portal_account SET language = ?2 WHERE id = ?1")                  \
  X(PORTAL_LANGUAGE, "SELECT " TESORO__LANGUAGE_OF("?1"))                     \
  X(PORTAL_INVITATION, /* the login, never the password */                  \
    "SELECT json_object('account_id', id, 'login', email) FROM "              \
    "portal_account WHERE id = ?1")                                           \
  X(PORTAL_MESSAGE_INSERT,                                                    \
    "INSERT INTO portal_message(agency_id, contact_id, deal_property_id, "    \
    "body, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")                          \
  X(PORTAL_HOME,                                                              \
    "SELECT (SELECT count(*) FROM appointment WHERE contact_id = ?1 AND "     \
    "state = 'confirmed' AND start_at > ?2), (SELECT count(*) FROM "          \
    "appointment WHERE contact_id = ?1 AND state = 'pending'), (SELECT "      \
    "count(*) FROM deal_property p JOIN deal d ON d.id = p.deal_id JOIN "     \
    "listing l ON l.id = p.listing_id WHERE d.contact_id = ?1 AND d.state = 'active' AND p.state = 'to_review' AND " \
    TESORO__LISTING_LIVE("?2") "), (SELECT count(*) FROM appointment WHERE "  \
    "contact_id = ?1 AND rating IS "                                          \
    "NOT NULL)")                                                              \
  X(CLIENT_LISTING, "SELECT p.id " TESORO__CLIENT_LISTING)                   \
  X(PORTAL_PROPERTY,                                                          \
    "SELECT json_object('listing_id', l.id, 'ref', l.ref, 'title', l.title, " \
    "'address', l.address, 'price', l.price, 'property_type', "               \
    "l.property_type, 'bedrooms', l.bedrooms, 'bathrooms', l.bathrooms, "     \
    "'floor_area', l.floor_area, 'description', l.description, 'latitude', "  \
    "l.latitude, 'longitude', l.longitude, 'energy_label', l.energy_label, "  \
    "'deal_property_id', p.id, 'deal_id', p.deal_id, 'status', p.state, "     \
    "'favourite', json(iif(p.favourite, 'true', 'false')), "                  \
    "'reject_reasons', json(p.reject_reasons), 'reject_note', p.reject_note, "\
    "'in_feed', json(iif(d.state = 'active' AND " TESORO__LISTING_LIVE("?3")  \
    ", 'true', 'false')), 'photos', (SELECT json_group_array(json_object("    \
    "'id', id, 'name', name, 'mime', mime, 'size', size)) FROM (SELECT id, "  \
    "name, mime, size FROM document WHERE entity = " TESORO__SQL_ENTITY(LISTING) " AND entity_id = l.id "   \
    "AND kind = 'photo' ORDER BY id))) " TESORO__CLIENT_LISTING)              \
  /* the website exchange; JSON_ELEMENTS and JSON_MEMBERS repeat the text */ \
  /* of JSON_FIELDS on purpose: they walk an array or an area while */        \
  /* JSON_FIELDS is still walking the object that holds it */                \
  X(JSON_ELEMENTS, "SELECT key, type, value FROM json_each(?1)")              \
  X(JSON_CANONICAL,                                                           \
    "SELECT coalesce(group_concat(fullkey || ' ' || type || ' ' || "          \
    "coalesce(quote(atom), ''), char(10)), '') FROM (SELECT fullkey, type, "  \
    "atom FROM json_tree(?1) ORDER BY fullkey)")                              \
  X(JSON_MEMBERS, "SELECT key, type, value FROM json_each(?1)")               \
  X(GEO_TYPE,                                                                 \
    "SELECT CASE WHEN json_type(?1, '$.type') = 'text' THEN json_extract("    \
    "?1, '$.type') END, json_type(?1) = 'object'")                            \
  X(GEO_POINT, /* columns as GEO_POSITIONS from its 4th */                  \
    "SELECT json_type(?1, '$.coordinates'), json_array_length(?1, "           \
    "'$.coordinates'), json_type(?1, '$.coordinates[0]'), json_extract(?1, " \
    "'$.coordinates[0]'), json_type(?1, '$.coordinates[1]'), "                \
    "json_extract(?1, '$.coordinates[1]')")                                   \
  X(GEO_POSITIONS, /* ring, its type, position index, then the position; */ \
    /* a last row with ring -1 closes the walk */                             \
    "SELECT * FROM (SELECT r.key AS ring, r.type AS ring_type, p.key AS pos, "\
    "p.type, json_array_length(p.value), json_type(p.value, '$[0]'), "        \
    "json_extract(p.value, '$[0]'), json_type(p.value, '$[1]'), "             \
    "json_extract(p.value, '$[1]') FROM json_each(?1, '$.coordinates') r "    \
    "LEFT JOIN json_each(CASE WHEN r.type = 'array' THEN r.value END) p "     \
    "UNION ALL SELECT -1, 'end', NULL, NULL, NULL, NULL, NULL, NULL, NULL) "  \
    "ORDER BY ring < 0, ring, pos")                                           \
  X(CRITERIA_CROSSED,                                                         \
    "SELECT coalesce(json_extract(?1, '$.min_price') > json_extract(?1, "     \
    "'$.max_price'), 0) OR coalesce(json_extract(?1, '$.min_bedrooms') > "    \
    "json_extract(?1, '$.max_bedrooms'), 0)")                                 \
  X(LISTING_BY_REF, "SELECT id FROM listing WHERE agency_id = ?1 AND ref = ?2")\
  X(WEB_CUSTOMER_INSERT,                                                      \
    "INSERT INTO web_customer(agency_id, external_id, contact_id, state, "    \
    "created_at) VALUES (?1, ?2, ?3, ?4, ?5)")                                \
  X(WEB_CUSTOMER_OF_CONTACT, "SELECT id FROM web_customer WHERE contact_id = ?1")\
  X(WEB_CUSTOMER_BY_EXTERNAL,                                                 \
    "SELECT id FROM web_customer WHERE agency_id = ?1 AND external_id = ?2")  \
  X(WEB_CUSTOMER_UNKEYED,  /* the contact's customer the website lacks */  \
    "SELECT id FROM web_customer WHERE contact_id = ?1 AND external_id IS "   \
    "NULL")                                                                   \
  X(WEB_CUSTOMER_ADOPT,                                                       \
    "UPDATE web_customer SET external_id = ?2 WHERE id = ?1")                 \
  X(WEB_CUSTOMER_DETAILS,                                                     \
    "SELECT name, email, phone FROM web_customer WHERE id = ?1")              \
  X(WEB_CUSTOMER_LINK, "UPDATE web_customer SET contact_id = ?2 WHERE id = ?1")\
  X(WEB_CUSTOMER_END, "UPDATE web_customer SET end_reason = ?2 WHERE id = ?1")\
  /* website events: ?1 customer (or search), ?2 event, ?3 stamp, ?4 at, */  \
  /* ?5 listing; what an event sets changes only for a newer stamp */         \
  X(WEB_CUSTOMER_DETAILS_SET,                                                 \
    "UPDATE web_customer SET name = json_extract(?2, '$.name'), email = "     \
    "json_extract(?2, '$.email'), phone = json_extract(?2, '$.phone'), "      \
    "details_stamp = ?3 WHERE id = ?1 AND coalesce(details_stamp, '') < ?3") \
  X(WEB_CUSTOMER_VISIT,                                                       \
    "UPDATE web_customer SET visits = json_extract(?2, '$.visits'), "         \
    "last_visit_at = ?4, visit_stamp = ?3 WHERE id = ?1 AND "                 \
    "coalesce(visit_stamp, '') < ?3")                                         \
  X(WEB_CUSTOMER_GROUP,                                                       \
    "UPDATE web_customer SET group_ref = json_extract(?2, '$.group'), "       \
    "group_stamp = ?3 WHERE id = ?1 AND coalesce(group_stamp, '') < ?3")      \
  X(WEB_CUSTOMER_GROUP_CRM,                                                   \
    "UPDATE web_customer SET group_ref = ?2, group_stamp = ?3 WHERE id = ?1") \
  X(WEB_CUSTOMER_ACTIVE,                                                      \
    "UPDATE web_customer SET last_activity_at = max(coalesce("                \
    "last_activity_at, ?4), ?4) WHERE id = ?1")                               \
  /* a batch's end (tesoro__batch_fold): the version its history row */    \
  /* named, and the latest sign of interest (?3; 0: none) */                \
  X(WEB_CUSTOMER_FOLDED,                                                      \
    "UPDATE web_customer SET version = ?2, last_activity_at = CASE WHEN ?3 "  \
    "= 0 THEN last_activity_at ELSE max(coalesce(last_activity_at, ?3), ?3) " \
    "END WHERE id = ?1 AND version = ?2 - 1")                                 \
  /* ?3 views of customer ?1 of listing ?2, the latest at ?4 */            \
  X(INTEREST_VIEWS,                                                           \
    "INSERT INTO web_interest(customer_id, listing_id, views, "               \
    "last_viewed_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT(customer_id, "       \
    "listing_id) DO UPDATE SET views = views + ?3, last_viewed_at = "         \
    "max(coalesce(last_viewed_at, ?4), ?4)")                                  \
  X(INTEREST_ENSURE,                                                          \
    "INSERT OR IGNORE INTO web_interest(customer_id, listing_id) "            \
    "VALUES (?1, ?5)")                                                        \
  X(INTEREST_SAVE,                                                            \
    "UPDATE web_interest SET saved = json_extract(?2, '$.saved'), "           \
    "save_stamp = ?3 WHERE customer_id = ?1 AND listing_id = ?5 AND "         \
    "coalesce(save_stamp, '') < ?3")                                          \
  X(INTEREST_RANK,                                                            \
    "UPDATE web_interest SET rank = json_extract(?2, '$.rank'), note = "      \
    "json_extract(?2, '$.note'), note_shared = coalesce(json_extract(?2, "    \
    "'$.shared'), 0), rank_stamp = ?3 WHERE customer_id = ?1 AND "            \
    "listing_id = ?5 AND coalesce(rank_stamp, '') < ?3")                      \
  X(INTEREST_IN_BRANCH,                                                       \
    "UPDATE web_interest SET in_branch_at = ?4 WHERE customer_id = ?1 AND "   \
    "listing_id = ?5")                                                        \
  X(ENQUIRY_INSERT,                                                           \
    "INSERT INTO enquiry(agency_id, customer_id, type, listing_id, message, " \
    "at) SELECT agency_id, ?1, json_extract(?2, '$.enquiry_type'), ?5, "      \
    "json_extract(?2, '$.message'), ?4 FROM web_customer WHERE id = ?1")      \
  X(VENDOR_CLAIM_INSERT,                                                      \
    "INSERT INTO vendor_claim(agency_id, customer_id, listing_id, state, "    \
    "note, created_at) SELECT agency_id, ?1, ?5, ?6, json_extract("    \
    "?2, '$.note'), ?4 FROM web_customer WHERE id = ?1")                      \
  X(VENDOR_CLAIM_OPEN,                                                        \
    "SELECT id FROM vendor_claim WHERE customer_id = ?1 AND listing_id = ?2 " \
    "AND state = 'claimed' ORDER BY id LIMIT 1")                              \
  X(VENDOR_CLAIM_END, "UPDATE vendor_claim SET end_reason = ?2 WHERE id = ?1")\
  X(VENDOR_LINK_SET,                                                          \
    "INSERT INTO vendor_link(contact_id, listing_id, role, created_by, "      \
    "created_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(contact_id, "        \
    "listing_id) DO UPDATE SET role = excluded.role")                         \
  X(SEARCH_BY_EXTERNAL,                                                       \
    "SELECT id, state = 'active', stamp FROM search WHERE customer_id = ?1 "  \
    "AND external_id = json_extract(?2, '$.search_id')")                      \
  X(SEARCH_INSERT_WEB,                                                        \
    "INSERT INTO search(agency_id, customer_id, external_id, state, hard, "   \
    "source, updated_at, created_at) VALUES (?1, ?2, json_extract(?3, "       \
    "'$.search_id'), ?4, ?5, 'website', ?6, ?6)")                             \
  X(SEARCH_INSERT_CRM,                                                        \
    "INSERT INTO search(agency_id, customer_id, state, hard, source, "        \
    "updated_at, created_at) VALUES (?1, ?2, ?4, 1, 'crm', ?3, ?3)")    \
  X(SEARCH_SET_CRITERIA, /* the criteria's columns, read once, for SQL */   \
    "UPDATE search SET criteria = (SELECT json_group_object(key, CASE WHEN "  \
    "type IN ('object', 'array') THEN json(value) ELSE value END) FROM "      \
    "json_each(?2) WHERE key IN ('min_price', 'max_price', "                  \
    "'property_types', 'min_bedrooms', 'max_bedrooms', 'area')), hard = "     \
    "CASE json_extract(?2, '$.type') WHEN 'implied_search' THEN 0 WHEN "      \
    "'saved_search' THEN 1 ELSE hard END, alert = CASE WHEN json_type(?2, "   \
    "'$.alert') IS NOT NULL THEN json_extract(?2, '$.alert') WHEN "           \
    "json_extract(?2, '$.type') = 'implied_search' THEN 0 ELSE alert END, "   \
    "min_price = json_extract(?2, '$.min_price'), max_price = "               \
    "json_extract(?2, '$.max_price'), property_types = json_extract(?2, "     \
    "'$.property_types'), min_bedrooms = json_extract(?2, "                   \
    "'$.min_bedrooms'), max_bedrooms = json_extract(?2, '$.max_bedrooms'), "  \
    "area_name = json_extract(?2, '$.area.name'), centre_lon = "              \
    "json_extract(?2, '$.area.centre.coordinates[0]'), centre_lat = "         \
    "json_extract(?2, '$.area.centre.coordinates[1]'), radius_m = "           \
    "json_extract(?2, '$.area.radius'), min_lon = (SELECT "                   \
    "min(json_extract(value, '$[0]')) FROM json_each(?2, "                    \
    "'$.area.polygon.coordinates[0]')), max_lon = (SELECT "                   \
    "max(json_extract(value, '$[0]')) FROM json_each(?2, "                    \
    "'$.area.polygon.coordinates[0]')), min_lat = (SELECT "                   \
    "min(json_extract(value, '$[1]')) FROM json_each(?2, "                    \
    "'$.area.polygon.coordinates[0]')), max_lat = (SELECT "                   \
    "max(json_extract(value, '$[1]')) FROM json_each(?2, "                    \
    "'$.area.polygon.coordinates[0]')), updated_at = ?4 WHERE id = ?1")       \
  X(SEARCH_SET_ALERT, "UPDATE search SET alert = ?2 WHERE id = ?1")           \
  X(SEARCH_SET_STAMP, "UPDATE search SET stamp = ?3 WHERE id = ?1")           \
  X(SEARCH_VERTICES_CLEAR, "DELETE FROM search_vertex WHERE search_id = ?1")  \
  X(SEARCH_VERTICES_SET,                                                      \
    "INSERT INTO search_vertex(search_id, ring, idx, lon, lat) SELECT ?1, "   \
    "r.key, p.key, json_extract(p.value, '$[0]'), json_extract(p.value, "     \
    "'$[1]') FROM json_each(?2, '$.area.polygon.coordinates') r, "            \
    "json_each(r.value) p")                                                   \
  X(SEARCH_CUSTOMER, "SELECT customer_id FROM search WHERE id = ?1")          \
  X(SEARCH_EXTRA,                                                             \
    "SELECT json_object('search_id', id, 'alert', json(iif(alert, 'true', "   \
    "'false')), 'criteria', json(criteria)) FROM search WHERE id = ?1")       \
  X(EXCHANGE_PAYLOAD,                                                         \
    "SELECT json_patch(json_patch(json_object('capability', ?1, "            \
    "'contact_id', ?2, 'customer', (SELECT external_id FROM web_customer "    \
    "WHERE contact_id = ?2)), coalesce(?3, '{}')), json_object('listing', "   \
    "(SELECT ref FROM listing WHERE id = json_extract(?3, '$.listing_id'))))")\
  X(GROUP_EXTRA, "SELECT json_object('group', ?1)")                           \
  X(CONTACT_CORRECT_DETAILS, /* before: what each given field was */       \
    "SELECT json_object('old', (SELECT json_group_object(key, CASE key "      \
    "WHEN 'name' THEN c.name WHEN 'email' THEN c.email WHEN 'phone' THEN "    \
    "c.phone ELSE c.language END) FROM json_each(?2)), 'new', json(?2)), "    \
    "c.version, lower(coalesce(c.email, '')) <> lower(coalesce("              \
    "json_extract(?2, '$.email'), '')) AND json_type(?2, '$.email') = "       \
    "'text' FROM contact c WHERE c.id = ?1")                                  \
  X(CONTACT_CORRECT,                                                          \
    "UPDATE contact SET name = iif(json_type(?2, '$.name') IS NULL, name, "   \
    "json_extract(?2, '$.name')), email = iif(json_type(?2, '$.email') IS "   \
    "NULL, email, json_extract(?2, '$.email')), phone = iif(json_type(?2, "   \
    "'$.phone') IS NULL, phone, json_extract(?2, '$.phone')), language = "    \
    "iif(json_type(?2, '$.language') IS NULL, language, json_extract(?2, "    \
    "'$.language')), version = version + 1 WHERE id = ?1 AND version = ?3")   \
  X(PORTAL_ACCOUNT_ID_OF_CONTACT,                                             \
    "SELECT id FROM portal_account WHERE contact_id = ?1")                    \
  X(PORTAL_EMAIL_PENDING,                                                     \
    "UPDATE portal_account SET email_pending = ?2, code_hash = ?3, "          \
    "code_expires_at = ?4, code_attempts = 0 WHERE id = ?1")                  \
  X(PORTAL_EMAIL_CONFIRMED,                                                   \
    "UPDATE portal_account SET email = email_pending, email_pending = NULL, " \
    "code_hash = NULL, code_expires_at = NULL, code_attempts = 0 WHERE id = " \
    "?1")                                                                     \
  X(PORTAL_EMAIL_PENDING_GET,                                                 \
    "SELECT email_pending FROM portal_account WHERE id = ?1")                 \
  X(CONTACT_CUSTOMER_LINKED,                                                  \
    "SELECT id FROM web_customer WHERE contact_id = ?1 AND external_id IS "   \
    "NOT NULL")                                                               \
  X(CONTACT_EXCHANGE,                                                         \
    "SELECT json_object('name', name, 'email', email, 'phone', phone, "       \
    "'language', language) FROM contact WHERE id = ?1")                       \
  /* a replay's answer rendered from its row as the first one was */       \
  X(WEB_EVENT_FIND,                                                           \
    "SELECT digest, applied, customer_id, entity, entity_id FROM web_event "  \
    "WHERE agency_id = ?1 AND source_id = ?2")                                \
  X(WEB_EVENT_INSERT,                                                         \
    "INSERT INTO web_event(agency_id, source_id, digest, type, customer_id, " \
    "at, applied, entity, entity_id, received_at) VALUES (?1, ?2, ?3, ?4, "   \
    "?5, ?6, ?7, ?8, ?9, ?10)")                                               \
  X(EVENT_SAVEPOINT, "SAVEPOINT tesoro_event")                                \
  X(EVENT_RELEASE, "RELEASE tesoro_event")                                    \
  X(EVENT_ROLLBACK, "ROLLBACK TO tesoro_event")                               \
  X(BATCH_ERROR, "SELECT json_object('index', ?1, 'error', ?2, 'message', ?3)")\
  /* privacy */                                                             \
  X(CONTACT_ERASED,                                                           \
    "SELECT version, erased_at IS NOT NULL FROM contact WHERE id = ?1")       \
  X(CONTACT_SET_ERASED,                                                       \
    "UPDATE contact SET erased_at = ?2, erased_by = ?3, version = version + 1"\
    " WHERE id = ?1")                                                         \
  X(WEB_CUSTOMER_ERASED,                                                      \
    "SELECT version, erased_at IS NOT NULL, contact_id, state "               \
    "FROM web_customer WHERE id = ?1")                                        \
  X(WEB_CUSTOMER_SET_ERASED,                                                  \
    "UPDATE web_customer SET erased_at = ?2, erased_by = ?3, "                \
    "version = version + 1 WHERE id = ?1")                                    \
  X(CONTACT_CONSENT,                                                          \
    "SELECT agency_id, version, consent, consent_stamp, consent_at FROM "     \
    "contact WHERE id = ?1")                                                  \
  X(CONTACT_SET_CONSENT,                                                      \
    "UPDATE contact SET consent = ?2, consent_at = ?3, consent_source = ?4, " \
    "consent_text = ?5, consent_stamp = ?6, version = version + 1 "           \
    "WHERE id = ?1 AND version = ?7")                                         \
  X(WEB_CUSTOMER_CONSENT,                                                     \
    "UPDATE web_customer SET consent = json_extract(?2, '$.consent'), "       \
    "consent_at = ?4, consent_text = json_extract(?2, '$.statement'), "       \
    "consent_stamp = ?3 WHERE id = ?1 AND coalesce(consent_stamp, '') < ?3")  \
  X(WEB_CUSTOMER_CONSENT_GET,                                                 \
    "SELECT consent, consent_at, consent_text, consent_stamp FROM "           \
    "web_customer WHERE id = ?1 AND consent IS NOT NULL")                     \
  X(DATE_VALID, "SELECT date(?1, '+0 days') IS ?1")                          \
  X(JSON_TEXT, "SELECT json_extract(?1, ?2)")                                 \
  /* one entity as JSON (tesoro_entity_json) */                              \
  X(CONTACT_JSON,                                                             \
    "SELECT json_object('id', id, 'agency_id', agency_id, 'version', "        \
    "version, 'name', name, 'email', email, 'phone', phone, 'language', "     \
    "language, 'assigned_agent_id', assigned_agent_id, 'roles', (SELECT "     \
    "json_group_array(role) FROM contact_role WHERE contact_id = contact.id),"\
    " 'client_actor_id', (SELECT id FROM actor WHERE contact_id = "           \
    "contact.id), 'consent', consent, 'consent_at', consent_at, "             \
    "'consent_source', consent_source, 'consent_text', consent_text, "        \
    "'erased_at', erased_at, 'erased_by', erased_by, 'created_at', "          \
    "created_at) FROM contact WHERE id = ?1")                                 \
  X(ROOM_JSON,                                                                \
    "SELECT json_object('id', id, 'agency_id', agency_id, 'contact_id', "     \
    "contact_id, 'state', state, 'version', version, 'property_type', "       \
    "property_type, 'location', location, 'budget', budget, 'timeline', "     \
    "timeline, 'description', description, 'end_reason', end_reason, "        \
    "'ended_by', ended_by, 'mandate_id', (SELECT id FROM mandate WHERE "      \
    "room_id = room.id), 'created_at', created_at) FROM room WHERE id = ?1")  \
  X(MANDATE_JSON,                                                             \
    "SELECT json_object('id', id, 'agency_id', agency_id, 'room_id', "        \
    "room_id, 'contact_id', contact_id, 'state', state, 'version', version, " \
    "'open_proposal_id', open_proposal_id, 'agreed_proposal_id', "            \
    "agreed_proposal_id, 'commission_type', commission_type, "                \
    "'commission_value', commission_value, 'currency', currency, "            \
    "'exclusive', exclusive, 'duration_days', duration_days, 'form', "        \
    "json(form_json), 'validated_at', validated_at, 'expires_at', "           \
    "validated_at + duration_days * 86400, 'end_reason', end_reason, "        \
    "'listing_id', (SELECT id FROM listing WHERE mandate_id = mandate.id), "  \
    "'created_at', created_at) FROM mandate WHERE id = ?1")                   \
  X(LISTING_JSON,                                                             \
    "SELECT json_object('id', id, 'agency_id', agency_id, 'mandate_id', "     \
    "mandate_id, 'ref', ref, 'state', state, 'version', version, 'title', "   \
    "title, 'address', address, 'price', price, 'property_type', "            \
    "property_type, 'bedrooms', bedrooms, 'bathrooms', bathrooms, "           \
    "'floor_area', floor_area, 'energy_label', energy_label, 'description', " \
    "description, 'published_at', published_at, 'created_at', created_at) "   \
    "FROM listing WHERE id = ?1")                                             \
  X(TASK_JSON,                                                                \
    "SELECT json_object('id', id, 'agency_id', agency_id, 'state', state, "   \
    "'version', version, 'kind', kind, 'title', title, 'entity', entity, "    \
    "'entity_id', entity_id, 'assignee_id', assignee_id, 'created_at', "      \
    "created_at, 'closed_at', closed_at) FROM task WHERE id = ?1")            \
  X(DEAL_JSON,                                                                \
    "SELECT json_object('id', id, 'agency_id', agency_id, 'contact_id', "     \
    "contact_id, 'agent_id', agent_id, 'state', state, 'version', version, "  \
    "'name', name, 'end_reason', end_reason, 'created_at', created_at) "      \
    "FROM deal WHERE id = ?1")                                                \
  X(DEAL_PROPERTY_JSON,                                                       \
    "SELECT json_object('id', p.id, 'agency_id', p.agency_id, 'deal_id', "    \
    "p.deal_id, 'listing_id', p.listing_id, 'state', p.state, 'version', "    \
    "p.version, 'favourite', p.favourite, 'reject_reasons', "                 \
    "json(p.reject_reasons), 'reject_note', p.reject_note, 'title', l.title, "\
    "'address', "                                                             \
    "l.address, 'price', l.price, 'ref', l.ref, 'created_at', p.created_at) " \
    "FROM deal_property p JOIN listing l ON l.id = p.listing_id "             \
    "WHERE p.id = ?1")                                                        \
  X(APPOINTMENT_JSON,                                                         \
    "SELECT json_object('id', a.id, 'agency_id', a.agency_id, 'contact_id', " \
    "a.contact_id, 'deal_id', a.deal_id, 'deal_property_id', "                \
    "a.deal_property_id, 'listing_id', a.listing_id, 'owner_id', a.owner_id, "\
    "'state', a.state, 'version', a.version, 'status_colour', "               \
    TESORO__STATUS_COLOUR ", 'type', a.type, 'category', a.category, "        \
    "'participants', json_array(json_object('contact_id', a.contact_id, "     \
    "'role', 'client')), 'title', l.title, 'address', l.address, 'ref', "     \
    "l.ref, 'preferred', json(a.preferred), 'start_at', a.start_at, "         \
    "'end_at', a.start_at + a.duration_s, 'completed_at', a.completed_at, "   \
    "'completed_by', a.completed_by, 'ended_at', a.ended_at, 'ended_by', "    \
    "a.ended_by, 'end_reason', a.end_reason, 'no_show', a.no_show_at IS NOT " \
    "NULL, 'no_show_at', a.no_show_at, 'no_show_by', a.no_show_by, "          \
    "'rating', a.rating, 'rated_at', a.rated_at, 'created_at', a.created_at)" \
    " FROM appointment a JOIN listing l ON l.id = a.listing_id "              \
    "WHERE a.id = ?1")                                                        \
  X(REFERRAL_JSON,                                                            \
    "SELECT json_object('id', id, 'agency_id', agency_id, 'contact_id', "     \
    "contact_id, 'agent_id', agent_id, 'state', state, 'version', version, "  \
    "'last_active_stage', last_active_stage, 'attempted_via', attempted_via, "\
    "'contacted_via', contacted_via, 'meeting_at', meeting_at, "              \
    "'list_date', list_date, 'sale_price', sale_price, 'close_date', "        \
    "close_date, 'fee_bp', fee_bp, 'fee_owed', fee_owed, 'paid_amount', "     \
    "paid_amount, 'paid_at', paid_at, 'failed_at', failed_at, 'failed_by', "  \
    "failed_by, 'fail_reason', fail_reason, 'created_at', created_at) "       \
    "FROM referral WHERE id = ?1")                                            \
  X(PORTAL_ACCOUNT_JSON, /* never a hash */                                 \
    "SELECT json_object('id', pa.id, 'agency_id', pa.agency_id, "             \
    "'contact_id', pa.contact_id, 'state', pa.state, 'version', pa.version, " \
    "'email', pa.email, 'name', pa.name, 'language', pa.language, "           \
    "'portal_language', " TESORO__LANGUAGE_OF("pa.contact_id") ", "           \
    "'must_change_password', pa.state = 'set_password', 'failed_logins', "    \
    "pa.failed_logins, 'locked_until', pa.locked_until, 'code_expires_at', "  \
    "pa.code_expires_at, 'last_login_at', pa.last_login_at, 'created_by', "   \
    "pa.created_by, 'created_at', pa.created_at) FROM portal_account pa "     \
    "WHERE pa.id = ?1")                                                       \
  X(WEB_CUSTOMER_JSON,                                                        \
    "SELECT json_object('id', id, 'agency_id', agency_id, 'external_id', "    \
    "external_id, 'contact_id', contact_id, 'state', state, 'version', "      \
    "version, 'name', name, 'email', email, 'phone', phone, 'visits', "       \
    "visits, 'last_visit_at', last_visit_at, 'group', group_ref, "            \
    "'last_activity_at', last_activity_at, 'end_reason', end_reason, "        \
    "'created_at', created_at) FROM web_customer WHERE id = ?1")              \
  X(SEARCH_JSON,                                                              \
    "SELECT json_object('id', id, 'agency_id', agency_id, 'customer_id', "    \
    "customer_id, 'external_id', external_id, 'state', state, 'version', "    \
    "version, 'hard', hard, 'alert', alert, 'source', source, 'criteria', "   \
    "json(criteria), 'updated_at', updated_at, 'created_at', created_at) "    \
    "FROM search WHERE id = ?1")                                              \
  X(VENDOR_CLAIM_JSON,                                                        \
    "SELECT json_object('id', id, 'agency_id', agency_id, 'customer_id', "    \
    "customer_id, 'listing_id', listing_id, 'state', state, 'version', "      \
    "version, 'note', note, 'end_reason', end_reason, 'created_at', "         \
    "created_at) FROM vendor_claim WHERE id = ?1")                            \
  X(JSON_APPEND,                                                              \
    "SELECT json_insert(?1, '$[#]', json_object('event', ?2, 'to_state', ?3, "\
    "'allowed', ?4, 'code', ?5, 'reason', ?6))")                              \
  /* JSON arguments */                                                        \
  /* a JSON number's value as SQLite reads it (see tesoro__json_read) */    \
  X(JSON_REAL, "SELECT CAST(?1 AS REAL)")

enum {
#define TESORO__STMT_ENUM(name, sql) S_##name,
  TESORO__STATEMENTS(TESORO__STMT_ENUM)
#undef TESORO__STMT_ENUM
  S__COUNT
};

static const char *const tesoro__sql[] = {
#define TESORO__STMT_SQL(name, sql) sql,
    TESORO__STATEMENTS(TESORO__STMT_SQL)
#undef TESORO__STMT_SQL
};

/* Map an SQLite result to a tesoro code and message. */
/* A write on a handle from tesoro_open_readonly. */
static int tesoro__read_only(tesoro *t) {
  return tesoro__fail(t, TESORO_EREADONLY,
                      "this handle was opened read-only; writes need "
                      "tesoro_open");
}

static int tesoro__dberr(tesoro *t, int src) {
  int rc;
  switch (src & 0xFF) {
  case SQLITE_NOMEM: rc = TESORO_ENOMEM; break;
  case SQLITE_BUSY:
  case SQLITE_LOCKED: rc = TESORO_EBUSY; break;
  case SQLITE_NOTADB: rc = TESORO_ENOTDB; break;
  default: rc = TESORO_EDB; break;
  }
  /* whatever writes on a read-only handle, however it got there */
  if (t->readonly && ((src & 0xFF) == SQLITE_READONLY ||
                      sqlite3_extended_errcode(t->db) == SQLITE_READONLY))
    return tesoro__read_only(t);
  return tesoro__fail(t, rc, "database: %s",
                      t->db ? sqlite3_errmsg(t->db) : sqlite3_errstr(src));
}

/*
** The cached statement `id`, reset and with its bindings cleared, or NULL
** with the handle's error set.  Callers reset it again when done with it so
** no read transaction stays open behind the host's back.
*/
/* Statement `id`, prepared once, reset; `clear`: its parameters NULL. */
static sqlite3_stmt *tesoro__stmt_ready(tesoro *t, int id, int clear) {
  sqlite3_stmt *s = t->stmts[id].stmt;
  if (t->writing && sqlite3_get_autocommit(t->db)) {
    /* SQLite rolled the call's transaction back (it does on some memory and
    ** I/O errors, even from sqlite3_column_text): nothing more may run, or
    ** half a call would commit on its own. */
    int src = sqlite3_errcode(t->db);
    tesoro__fail(t, (src & 0xFF) == SQLITE_NOMEM ? TESORO_ENOMEM : TESORO_EDB,
                 "database: the transaction was rolled back (%s)",
                 sqlite3_errstr(src));
    return NULL;
  }
  if (s == NULL) {
    int src = sqlite3_prepare_v3(t->db, tesoro__sql[id], -1,
                                 SQLITE_PREPARE_PERSISTENT, &s, NULL);
    if (src != SQLITE_OK) {
      tesoro__dberr(t, src);
      return NULL;
    }
    t->stmts[id].stmt = s;
    t->stmts[id].params = sqlite3_bind_parameter_count(s);
  }
  /* every use ends with a reset (tesoro__run, tesoro__row, the readers of
  ** a row): one left running is reset here */
  if (sqlite3_stmt_busy(s)) sqlite3_reset(s);
  if (clear) sqlite3_clear_bindings(s);
  return s;
}

static sqlite3_stmt *tesoro__stmt(tesoro *t, int id) {
  return tesoro__stmt_ready(t, id, 1);
}

/* Step a statement that returns no rows (or whose rows are ignored). */
static int tesoro__run(tesoro *t, sqlite3_stmt *s) {
  int src;
  while ((src = sqlite3_step(s)) == SQLITE_ROW) {
  }
  sqlite3_reset(s);
  if (src != SQLITE_DONE) return tesoro__dberr(t, src);
  return TESORO_OK;
}

/* A statement's parameters, ?1 to ?n in order, for TESORO__STMT and
** TESORO__EXEC: BIND_I an integer, BIND_T a text (NULL binds SQL NULL, as
** does BIND_NULL);
** the text must live until the statement is reset, as with SQLITE_STATIC. */
typedef struct tesoro__bind {
  int64_t i;
  const char *text;
  int is_text;
} tesoro__bind;
#define BIND_I(v) {(v), NULL, 0}
#define BIND_T(v) {0, (v), 1}
#define BIND_NULL BIND_T(NULL)

/* Bind ?1..?n of `s`; a parameter the SQL does not use answers
** SQLITE_RANGE, which is harmless (a list's SQL may leave one out). */
static sqlite3_stmt *tesoro__bind_all(sqlite3_stmt *s, int n,
                                      const tesoro__bind *args) {
  int again = 1;
  for (int i = 0; s && i < n; i++) {
    int src = !args[i].is_text ? sqlite3_bind_int64(s, i + 1, args[i].i)
              : args[i].text   ? sqlite3_bind_text(s, i + 1, args[i].text, -1,
                                                   SQLITE_STATIC)
                               : sqlite3_bind_null(s, i + 1);
    /* run to its end but not reset, a statement refuses bindings; only a
    ** busy one was reset (tesoro__stmt_ready): reset it and bind again */
    if (src == SQLITE_MISUSE && i == 0 && again) {
      sqlite3_reset(s);
      again = 0;
      i = -1;
    }
  }
  return s;
}

/* Binding every parameter, it need not clear them first. */
static sqlite3_stmt *tesoro__bound(tesoro *t, int id, int n,
                                   const tesoro__bind *args) {
  sqlite3_stmt *s = tesoro__stmt_ready(t, id, 0);
  if (s && t->stmts[id].params != n) sqlite3_clear_bindings(s);
  return tesoro__bind_all(s, n, args);
}

static int tesoro__bound_run(tesoro *t, sqlite3_stmt *s) {
  return s ? tesoro__run(t, s) : t->rc;
}

/* Statement `id` with its parameters bound (NULL: t->rc says why), and the
** same run to its end (an error code). */
#define TESORO__STMT(t, id, ...)                                              \
  tesoro__bound(t, id, COUNT(((tesoro__bind[]){__VA_ARGS__})),               \
                (tesoro__bind[]){__VA_ARGS__})
#define TESORO__EXEC(t, id, ...)                                              \
  tesoro__bound_run(t, TESORO__STMT(t, id, __VA_ARGS__))
/* A new cursor's statement (section 19) with its parameters bound. */
#define TESORO__CURSOR_BIND(cursor, ...)                                      \
  ((void)tesoro__bind_all(tesoro__cursor_stmt(cursor),                        \
                          COUNT(((tesoro__bind[]){__VA_ARGS__})),             \
                          (tesoro__bind[]){__VA_ARGS__}))


/* Step once: TESORO_ROW (read the columns, then sqlite3_reset), TESORO_DONE
** (already reset), or an error (reset). */
static int tesoro__row(tesoro *t, sqlite3_stmt *s) {
  int src = sqlite3_step(s);
  if (src == SQLITE_ROW) return TESORO_ROW;
  sqlite3_reset(s);
  if (src == SQLITE_DONE) return TESORO_DONE;
  return tesoro__dberr(t, src);
}

/* The one row a bound statement must give: TESORO_OK with *out on it (the
** caller resets it), or an error; no row is TESORO_EDB, for these read
** what the call's own transaction has just checked or written. */
static int tesoro__bound_row(tesoro *t, sqlite3_stmt *s, sqlite3_stmt **out) {
  int rc;
  if (s == NULL) return t->rc;
  if ((rc = tesoro__row(t, s)) != TESORO_ROW)
    return rc < 0 ? rc
                  : tesoro__fail(t, TESORO_EDB, "database: a row is missing");
  *out = s;
  return TESORO_OK;
}
#define TESORO__ROW(t, out, id, ...)                                          \
  tesoro__bound_row(t, TESORO__STMT(t, id, __VA_ARGS__), out)

/* One integer from a one-row statement: TESORO_OK with *out, TESORO_DONE
** when there is no row (the statement is reset either way). */
static int tesoro__int(tesoro *t, sqlite3_stmt *s, int64_t *out) {
  int rc = tesoro__row(t, s);
  if (rc == TESORO_ROW) {
    *out = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return TESORO_OK;
  }
  return rc;
}

/* Statement `stmt` bound with (id) and stepped onto its row: TESORO_OK
** with *out on the row (the caller resets it), TESORO_EINVAL for an id
** <= 0, TESORO_ENOTFOUND "<what> <id> does not exist", or an error. */
static int tesoro__find(tesoro *t, int stmt, const char *what, int64_t id,
                        sqlite3_stmt **out) {
  sqlite3_stmt *s;
  int rc;
  if ((rc = tesoro__id(t, what, id))) return rc;
  if ((s = TESORO__STMT(t, stmt, BIND_I(id))) == NULL) return t->rc;
  if ((rc = tesoro__row(t, s)) == TESORO_DONE)
    return tesoro__fail(t, TESORO_ENOTFOUND, "%s %lld does not exist", what,
                        (long long)id);
  if (rc != TESORO_ROW) return rc;
  *out = s;
  return TESORO_OK;
}

/* TESORO_ECONFLICT unless `expected` is 0 (unchecked) or the `version`
** the entity is at. */
static int tesoro__version_ok(tesoro *t, const char *what, int64_t id,
                              int64_t version, int64_t expected) {
  if (expected && expected != version)
    return tesoro__fail(t, TESORO_ECONFLICT,
                        "%s %lld is at version %lld, not %lld: reload it",
                        what, (long long)id, (long long)version,
                        (long long)expected);
  return TESORO_OK;
}

/* tesoro__int of statement `stmt` bound with (key) or (key, text). */
static int tesoro__lookup(tesoro *t, int stmt, int64_t key, const char *text,
                          int64_t *out) {
  sqlite3_stmt *s;
  if ((s = TESORO__STMT(t, stmt, BIND_I(key))) == NULL) return t->rc;
  if (text) sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
  return tesoro__int(t, s, out);
}

/* A text column copied into a bounded buffer ("" for NULL). */
static void tesoro__column_copy(sqlite3_stmt *s, int col, char *buf, size_t n) {
  const char *v = (const char *)sqlite3_column_text(s, col);
  size_t len = v ? (size_t)sqlite3_column_bytes(s, col) : 0;
  if (len >= n) len = n - 1;
  if (len) memcpy(buf, v, len);
  buf[len] = '\0';
}

static int tesoro__exec_id(tesoro *t, int id) {
  sqlite3_stmt *s = tesoro__stmt(t, id);
  if (id == S_EVENT_ROLLBACK) t->due_known = 0;
  return s ? tesoro__run(t, s) : t->rc;
}

/* The main database's data version: it moves on every commit, this
** connection's or another's (seen when this one next reads). */
static unsigned int tesoro__data_version(tesoro *t) {
  unsigned int v = 0;
  if (sqlite3_file_control(t->db, "main", SQLITE_FCNTL_DATA_VERSION, &v) !=
      SQLITE_OK)
    return 0;
  return v;
}

/* Drop what the handle remembers of rows (the caches in struct tesoro): a
** rollback may have taken them back, another connection changed them. */
static void tesoro__forget(tesoro *t) {
  t->channels.n = 0;
  t->system_actor.agency = 0;
  t->actors.n = 0;
  t->live_contacts.n = 0;
}

/* Start the write transaction of one API call. */
static int tesoro__write_begin(tesoro *t) {
  int rc;
  if (t->readonly)
    return tesoro__read_only(t);
  rc = tesoro__exec_id(t, t->host_txn ? S_SAVEPOINT : S_BEGIN);
  if (rc == TESORO_OK) {
    unsigned int version = tesoro__data_version(t);
    t->writing = 1;
    t->due_fresh = 0;
    /* what was read from the data: kept unless another connection has
    ** committed since (our own commits move the version on in write_end) */
    if (t->due_known && version != t->due_version) t->due_known = 0;
    if (version != t->cache_version) tesoro__forget(t);
    t->cache_version = version;
  }
  return rc;
}

/*
** End it: commit when rc >= 0, else roll back and keep the original message.
** A failed COMMIT is rolled back and reported.  If SQLite already rolled the
** whole transaction back (it does on some I/O and memory errors), a host
** transaction is over too.
*/
static int tesoro__write_end(tesoro *t, int rc) {
  sqlite3_stmt *s;
  t->writing = 0;
  if (rc >= 0) {
    /* was next_due read from this data?  (write_begin read the version;
    ** it does not move inside our own write transaction) */
    int settled = !t->host_txn && t->due_known &&
                  t->cache_version == t->due_version;
    int crc = tesoro__exec_id(t, t->host_txn ? S_RELEASE : S_COMMIT);
    if (crc == TESORO_OK) {
      unsigned int after = tesoro__data_version(t);
      if (settled) t->due_version = after;
      if (!t->host_txn) t->cache_version = after;
      return rc;
    }
    rc = crc;
  }
  /* undone: what was read inside may be gone (a host transaction's
  ** ROLLBACK TO calls no rollback hook) */
  t->due_known = 0;
  tesoro__forget(t);
  if (!sqlite3_get_autocommit(t->db)) {
    int saved_rc = t->rc;
    char saved[TESORO__MSG_MAX];
    memcpy(saved, t->msg, sizeof saved);
    if (t->host_txn) {
      if ((s = tesoro__stmt(t, S_ROLLBACK_TO)) != NULL) tesoro__run(t, s);
      if ((s = tesoro__stmt(t, S_RELEASE)) != NULL) tesoro__run(t, s);
    } else if ((s = tesoro__stmt(t, S_ROLLBACK)) != NULL) {
      tesoro__run(t, s);
    }
    t->rc = saved_rc;
    memcpy(t->msg, saved, sizeof saved);
  }
  return rc;
}

/* Has SQLite rolled the host's transaction back by itself (disk full, out
** of memory, an I/O error)?  Then nothing of it is kept, and every call
** fails until the host calls tesoro_rollback: a later call must not
** commit on its own as if the transaction were still open. */
static int tesoro__host_lost(tesoro *t) {
  return t->host_txn && sqlite3_get_autocommit(t->db);
}

/* A refusal of one item of a batch (an event, a timer), as opposed to the
** database failing: the item is undone alone and the batch goes on. */
static int tesoro__is_event_error(int rc) {
  return rc == TESORO_EINVAL || rc == TESORO_ENOTFOUND || rc == TESORO_ESTATE ||
         rc == TESORO_EDENIED || rc == TESORO_EGUARD || rc == TESORO_ECONFLICT ||
         rc == TESORO_EEXISTS;
}

TESORO_API int tesoro_schema_text(char **out) {
  size_t n = 0, i;
  char *p;
  if (out == NULL) return TESORO_EINVAL;
  for (i = 0; tesoro__schema_line(i); i++) n += strlen(tesoro__schema_line(i));
  p = TESORO_MALLOC(n + 1);
  if (p == NULL) return TESORO_ENOMEM;
  *out = p;
  for (i = 0; tesoro__schema_line(i); i++) {
    size_t len = strlen(tesoro__schema_line(i));
    memcpy(p, tesoro__schema_line(i), len);
    p += len;
  }
  *p = 0;
  return TESORO_OK;
}

/* The version number of a "-- @version N" line, or 0. */
static int tesoro__section_version(const char *line) {
  static const char tag[] = "-- @version ";
  if (strncmp(line, tag, sizeof tag - 1) != 0) return 0;
  return atoi(line + sizeof tag - 1);
}

/*
** Run the sections of a schema text (its lines from `line`, schema.sql's
** are tesoro__schema_line) numbered above `from`.  Each section runs in
** its own IMMEDIATE transaction with the bump of user_version, after
** re-reading user_version inside it (another process may have migrated the
** file meanwhile).  Statements of a section run through sqlite3_exec: this
** is the library's own text, never caller data.
*/
static int tesoro__migrate_sections(tesoro *t, int from,
                                    const char *(*line_of)(size_t)) {
  int version = 0, rc = TESORO_OK;
  sqlite3_str *section = NULL;
  for (size_t i = 0;; i++) {
    const char *line = line_of(i);
    int next = line ? tesoro__section_version(line) : INT_MAX;
    if (next) {
      if (section && version > from) {
        char *sql = sqlite3_str_finish(section);
        section = NULL;
        if (sql == NULL) return tesoro__fail(t, TESORO_ENOMEM, "out of memory");
        rc = tesoro__write_begin(t);
        if (rc == TESORO_OK) {
          sqlite3_stmt *uv;
          int current = -1, src;
          src = sqlite3_prepare_v2(t->db, "PRAGMA user_version", -1, &uv, NULL);
          if (src == SQLITE_OK && sqlite3_step(uv) == SQLITE_ROW)
            current = sqlite3_column_int(uv, 0);
          sqlite3_finalize(uv);
          if (current < 0) {
            rc = tesoro__dberr(t, src ? src : sqlite3_errcode(t->db));
          } else if (current < version) {
            char pragma[64];
            src = sqlite3_exec(t->db, sql, NULL, NULL, NULL);
            if (src == SQLITE_OK) {
              snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", version);
              src = sqlite3_exec(t->db, pragma, NULL, NULL, NULL);
            }
            if (src != SQLITE_OK) rc = tesoro__dberr(t, src);
          }
          rc = tesoro__write_end(t, rc);
        }
        sqlite3_free(sql);
        if (rc) return rc;
      } else if (section) {
        sqlite3_free(sqlite3_str_finish(section));
        section = NULL;
      }
      if (line == NULL) break;
      version = next;
      section = sqlite3_str_new(t->db);
      continue;
    }
    if (section) sqlite3_str_appendall(section, line);
  }
  return rc;
}

/* A section may edit stored table definitions with PRAGMA writable_schema
** (the way SQLite's ALTER TABLE documentation describes for a change that
** leaves every stored row valid), which a connection in
** SQLITE_DBCONFIG_DEFENSIVE mode refuses (a build or host may switch it on
** for every connection): DEFENSIVE is off for the migration only, and back
** as it was afterwards. */
static int tesoro__migrate(tesoro *t, int from) {
  int defensive = 0, rc;
  if (sqlite3_db_config(t->db, SQLITE_DBCONFIG_DEFENSIVE, -1, &defensive) != SQLITE_OK)
    defensive = 0;
  if (defensive) sqlite3_db_config(t->db, SQLITE_DBCONFIG_DEFENSIVE, 0, NULL);
  rc = tesoro__migrate_sections(t, from, tesoro__schema_line);
  if (defensive) sqlite3_db_config(t->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
  return rc;
}

static int tesoro__pragma_int(tesoro *t, const char *sql, int *out) {
  sqlite3_stmt *s;
  int src = sqlite3_prepare_v2(t->db, sql, -1, &s, NULL);
  if (src == SQLITE_OK) {
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
      *out = sqlite3_column_int(s, 0);
      src = SQLITE_OK;
    }
  }
  sqlite3_finalize(s);
  return src == SQLITE_OK ? TESORO_OK : tesoro__dberr(t, src);
}

/* SQL tesoro_base64(blob): the export's document contents (SQLite 3.40
** has no base64 of its own; libsodium's encoder does it). */
static void tesoro__sql_base64(sqlite3_context *ctx, int argc,
                               sqlite3_value **argv) {
  const unsigned char *data = sqlite3_value_blob(argv[0]);
  size_t n = (size_t)sqlite3_value_bytes(argv[0]), len;
  char *text;
  (void)argc;
  if (data == NULL) {
    sqlite3_result_null(ctx);
    return;
  }
  len = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
  if ((text = sqlite3_malloc64(len)) == NULL) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sodium_bin2base64(text, len, data, n, sodium_base64_VARIANT_ORIGINAL);
  sqlite3_result_text(ctx, text, -1, sqlite3_free);
}

/* SQL tesoro_unhex(text): the bytes hex digits spell, for the migration
** that stored web events' digests as bytes (schema.sql section 7; SQLite
** 3.40 has no unhex() of its own).  NULL stays NULL; anything but an even
** number of hex digits is an error, and the migration fails whole. */
static void tesoro__sql_unhex(sqlite3_context *ctx, int argc,
                              sqlite3_value **argv) {
  const char *hex = (const char *)sqlite3_value_text(argv[0]);
  size_t n = (size_t)sqlite3_value_bytes(argv[0]), len = 0;
  unsigned char *bytes;
  (void)argc;
  if (hex == NULL) {
    sqlite3_result_null(ctx);
    return;
  }
  if ((bytes = sqlite3_malloc64(n / 2 + 1)) == NULL) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (n % 2 != 0 ||
      sodium_hex2bin(bytes, n / 2 + 1, hex, n, NULL, &len, NULL) != 0 ||
      len != n / 2) {
    sqlite3_free(bytes);
    sqlite3_result_error(ctx, "tesoro_unhex: not hex digits", -1);
    return;
  }
  sqlite3_result_blob(ctx, bytes, (int)len, sqlite3_free);
}

/* SQL tesoro_portal_language(choice, contact_language): the portal
** language of a contact.  The portal user's choice when there
** is one; else the contact's language when its primary subtag (two
** letters, alone or before '-' or '_', any case) is one of
** TESORO_PORTAL_LANGUAGES; else English.  Staff and unknown contacts
** (both NULL) get English.  In C because every outbox message asks it:
** the same rule in SQL (lower(), substr(), instr()) cost more than the
** rest of the message's query. */
static void tesoro__sql_portal_language(sqlite3_context *ctx, int argc,
                                        sqlite3_value **argv) {
  static const char ten[] = " " TESORO_PORTAL_LANGUAGES " ";
  const unsigned char *lang;
  char subtag[5] = {' ', 0, 0, ' ', 0};
  const char *found;
  (void)argc;
  if (sqlite3_value_type(argv[0]) != SQLITE_NULL) {
    sqlite3_result_value(ctx, argv[0]);
    return;
  }
  lang = sqlite3_value_text(argv[1]);
  if (lang && isalpha(lang[0]) && isalpha(lang[1]) &&
      (lang[2] == 0 || lang[2] == '-' || lang[2] == '_')) {
    subtag[1] = (char)(lang[0] | 0x20); /* ASCII letters: lower case */
    subtag[2] = (char)(lang[1] | 0x20);
    if ((found = strstr(ten, subtag)) != NULL) {
      sqlite3_result_text(ctx, found + 1, 2, SQLITE_STATIC);
      return;
    }
  }
  sqlite3_result_text(ctx, "en", 2, SQLITE_STATIC);
}

/* Any transaction rolled back: what the handle knew of rows it may have
** written goes with them. */
static void tesoro__rolled_back(void *handle) {
  ((tesoro *)handle)->outbox_floor = 0;
  tesoro__forget(handle);
}

/* tesoro_open and tesoro_open_readonly: a read-only handle writes
** nothing, not even a pragma, and never migrates. */
static int tesoro__open(const char *path, tesoro **out, int readonly) {
  tesoro *t;
  int src, rc, app_id = 0, version = 0, objects = 0;
  if (out == NULL) return TESORO_EINVAL;
  *out = NULL;
  t = TESORO_MALLOC(sizeof *t);
  if (t == NULL) return TESORO_ENOMEM;
  memset(t, 0, sizeof *t);
  *out = t;
  t->busy_ms = TESORO__DEFAULT_BUSY_MS;
  t->max_doc = TESORO__DEFAULT_MAX_DOC;
  t->max_attempts = TESORO__DEFAULT_MAX_ATTEMPTS;
  t->backoff_s = TESORO__DEFAULT_BACKOFF_S;
  t->tick_batch = TESORO__DEFAULT_TICK_BATCH;
  t->reminder_s = TESORO__DEFAULT_REMINDER_S;
  t->session_idle_s = 1800;
  t->event_skew_s = 300;
  t->session_max_s = 7 * TESORO__DAY;
  t->pw_ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
  t->pw_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
  if (path == NULL || path[0] == 0)
    return tesoro__fail(t, TESORO_EINVAL, "path is required");
  t->stmts = TESORO_MALLOC(sizeof(tesoro__stmt_slot) * S__COUNT);
  if (t->stmts == NULL) return tesoro__fail(t, TESORO_ENOMEM, "out of memory");
  memset(t->stmts, 0, sizeof(tesoro__stmt_slot) * S__COUNT);
  if (sodium_init() < 0)
    return tesoro__fail(t, TESORO_EDB, "libsodium could not be initialised");

  t->readonly = readonly;
  src = sqlite3_open_v2(path, &t->db,
                        (readonly ? SQLITE_OPEN_READONLY
                                  : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                            SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
                        NULL);
  if (src != SQLITE_OK)
    return tesoro__fail(t, src == SQLITE_NOMEM ? TESORO_ENOMEM : TESORO_EDB,
                        "cannot open %s: %s", path, sqlite3_errstr(src));
  sqlite3_busy_timeout(t->db, (int)t->busy_ms);
  sqlite3_rollback_hook(t->db, tesoro__rolled_back, t);
  src = sqlite3_create_function_v2(
      t->db, "tesoro_base64", 1,
      SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
      tesoro__sql_base64, NULL, NULL, NULL);
  if (src == SQLITE_OK)
    src = sqlite3_create_function_v2(
        t->db, "tesoro_unhex", 1,
        SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
        tesoro__sql_unhex, NULL, NULL, NULL);
  if (src == SQLITE_OK)
    src = sqlite3_create_function_v2(
        t->db, "tesoro_portal_language", 2,
        SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
        tesoro__sql_portal_language, NULL, NULL, NULL);
  if (src != SQLITE_OK) return tesoro__dberr(t, src);

  /* Identify the file before writing anything to it: a foreign file must
  ** come out of a refused open byte for byte as it went in. */
  rc = tesoro__pragma_int(t, "PRAGMA application_id", &app_id);
  if (rc == TESORO_ENOTDB || rc == TESORO_EDB) {
    if (rc == TESORO_EDB && sqlite3_errcode(t->db) != SQLITE_NOTADB) return rc;
    return tesoro__fail(t, TESORO_ENOTDB, "%s is not a database", path);
  }
  if (rc) return rc;
  if ((rc = tesoro__pragma_int(t, "PRAGMA user_version", &version))) return rc;
  if ((rc = tesoro__pragma_int(t, "SELECT count(*) FROM sqlite_schema",
                               &objects)))
    return rc;
  if (app_id != TESORO_APPLICATION_ID && (app_id != 0 || objects != 0))
    return tesoro__fail(t, TESORO_ENOTDB,
                        "%s is not a tesoro database (application_id %d)",
                        path, app_id);
  if (version > TESORO_SCHEMA_VERSION)
    return tesoro__fail(t, TESORO_ESCHEMA,
                        "%s has schema version %d; this tesoro knows up to %d",
                        path, version, TESORO_SCHEMA_VERSION);
  if (readonly) {
    if (objects == 0)
      return tesoro__fail(t, TESORO_ENOTDB, "%s is empty, not a tesoro "
                          "database", path);
    if (version < TESORO_SCHEMA_VERSION)
      return tesoro__fail(t, TESORO_ESCHEMA,
                          "%s has schema version %d and a read-only handle "
                          "does not migrate: open it read-write once to "
                          "migrate it to %d", path, version,
                          TESORO_SCHEMA_VERSION);
    src = sqlite3_exec(t->db, "PRAGMA query_only = ON; PRAGMA foreign_keys = "
                              "ON; PRAGMA temp_store = MEMORY;",
                       NULL, NULL, NULL);
    if (src != SQLITE_OK) return tesoro__dberr(t, src);
    return tesoro__ok(t);
  }

  src = sqlite3_exec(t->db,
                     "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                     "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY;",
                     NULL, NULL, NULL);
  if (src != SQLITE_OK) return tesoro__dberr(t, src);
  if (app_id == 0) {
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA application_id = %d",
             TESORO_APPLICATION_ID);
    src = sqlite3_exec(t->db, pragma, NULL, NULL, NULL);
    if (src != SQLITE_OK) return tesoro__dberr(t, src);
  }
  if (version < TESORO_SCHEMA_VERSION && (rc = tesoro__migrate(t, version)))
    return rc;
  /* A call that runs out of memory must still be able to roll back: the
  ** statements that end a transaction are ready before any call begins (and
  ** after the migration, whose schema changes would expire them). */
  {
    static const int txn[] = {S_BEGIN,     S_COMMIT,  S_ROLLBACK,
                              S_SAVEPOINT, S_RELEASE, S_ROLLBACK_TO};
    for (size_t i = 0; i < sizeof txn / sizeof txn[0]; i++)
      if (tesoro__stmt(t, txn[i]) == NULL) return t->rc;
  }
  return tesoro__ok(t);
}

TESORO_API int tesoro_open(const char *path, tesoro **out) {
  return tesoro__open(path, out, 0);
}

TESORO_API int tesoro_open_readonly(const char *path, tesoro **out) {
  return tesoro__open(path, out, 1);
}

/* Cursors hold the handle; closing invalidates them (section 20). */
static void tesoro__cursors_orphan(tesoro *t);

TESORO_API int tesoro_close(tesoro *t) {
  if (t == NULL) return TESORO_OK;
  tesoro__cursors_orphan(t);
  if (t->stmts) {
    for (int i = 0; i < S__COUNT; i++) sqlite3_finalize(t->stmts[i].stmt);
    TESORO_FREE(t->stmts);
  }
  for (int i = 0; i <= TESORO__ENTITY_MAX; i++) sqlite3_finalize(t->fold[i]);
  if (t->db) sqlite3_close(t->db);
  TESORO_FREE(t);
  return TESORO_OK;
}

TESORO_API int tesoro_errcode(tesoro *t) { return t ? t->rc : TESORO_ENOMEM; }

TESORO_API const char *tesoro_errmsg(tesoro *t) {
  if (t == NULL) return "out of memory";
  return t->msg[0] ? t->msg : tesoro_errstr(t->rc);
}

TESORO_API void tesoro_free(void *p) { TESORO_FREE(p); }

/* Every public function with a handle starts here.  A handle without a
** connection (a failed open) is misuse too, and so is any call but
** tesoro_commit and tesoro_rollback after SQLite dropped the host's
** transaction (TESORO__ENTER_ANY is theirs). */
#define TESORO__ENTER_ANY(t)                                                   \
  do {                                                                         \
    if ((t) == NULL || (t)->db == NULL || (t)->stmts == NULL)                  \
      return TESORO_EMISUSE;                                                   \
    (t)->writing = 0;                                                          \
    tesoro__ok(t);                                                             \
  } while (0)
#define TESORO__ENTER(t)                                                       \
  do {                                                                         \
    TESORO__ENTER_ANY(t);                                                      \
    if (tesoro__host_lost(t))                                                  \
      return tesoro__fail((t), TESORO_EDB, "%s", tesoro__lost_message);       \
  } while (0)
static const char tesoro__lost_message[] =
    "SQLite rolled the host transaction back after an error; nothing of it "
    "was kept: call tesoro_rollback";

/* The settings' ranges (every value is > 0): a value beyond its setting's
** maximum is refused before anything changes. */
static const struct {
  int option;
  uint64_t min, max;
  const char *what;
} tesoro__config_range[] = {
    {TESORO_CONFIG_BUSY_TIMEOUT_MS, 1, INT_MAX, "the busy timeout (ms)"},
    {TESORO_CONFIG_REMINDER_LEAD_S, 1, 30 * TESORO__DAY,
     "the reminder lead (s, 30 days)"},
    {TESORO_CONFIG_PWHASH_OPSLIMIT, crypto_pwhash_OPSLIMIT_MIN,
     crypto_pwhash_OPSLIMIT_MAX, "the argon2id opslimit"},
    {TESORO_CONFIG_PWHASH_MEMLIMIT, crypto_pwhash_MEMLIMIT_MIN, SIZE_MAX / 2,
     "the argon2id memlimit (bytes)"},
    {TESORO_CONFIG_SESSION_IDLE_S, 1, 365 * TESORO__DAY,
     "a session's idle time (s, 365 days)"},
    {TESORO_CONFIG_SESSION_MAX_S, 1, 365 * TESORO__DAY,
     "a session's lifetime (s, 365 days)"},
    {TESORO_CONFIG_EVENT_SKEW_S, 1, 7 * TESORO__DAY,
     "the event skew (s, 7 days)"},
    {TESORO_CONFIG_CHECKPOINT_PAGES, 1, 10000000, "the checkpoint pages"},
};

TESORO_API int tesoro_config(tesoro *t, int option, int64_t value) {
  TESORO__ENTER(t);
  if (value <= 0)
    return tesoro__fail(t, TESORO_EINVAL, "setting %d must be > 0", option);
  for (int i = 0; i < COUNT(tesoro__config_range); i++)
    if (tesoro__config_range[i].option == option &&
        ((uint64_t)value < tesoro__config_range[i].min ||
         (uint64_t)value > tesoro__config_range[i].max))
      return tesoro__fail(t, TESORO_EINVAL,
                          "%s is at least %llu and at most %llu, not %lld",
                          tesoro__config_range[i].what,
                          (unsigned long long)tesoro__config_range[i].min,
                          (unsigned long long)tesoro__config_range[i].max,
                          (long long)value);
  switch (option) {
  case TESORO_CONFIG_BUSY_TIMEOUT_MS:
    t->busy_ms = value;
    sqlite3_busy_timeout(t->db, (int)value);
    break;
  case TESORO_CONFIG_MAX_DOCUMENT_BYTES: t->max_doc = value; break;
  case TESORO_CONFIG_OUTBOX_MAX_ATTEMPTS: t->max_attempts = value; break;
  case TESORO_CONFIG_OUTBOX_BACKOFF_S: t->backoff_s = value; break;
  case TESORO_CONFIG_TICK_BATCH: t->tick_batch = value; break;
  case TESORO_CONFIG_REMINDER_LEAD_S: t->reminder_s = value; break;
  case TESORO_CONFIG_SESSION_IDLE_S: t->session_idle_s = value; break;
  case TESORO_CONFIG_SESSION_MAX_S: t->session_max_s = value; break;
  case TESORO_CONFIG_EVENT_SKEW_S: t->event_skew_s = value; break;
  case TESORO_CONFIG_PWHASH_OPSLIMIT:
    t->pw_ops = value;
    t->pw_decoy[0] = 0;
    break;
  case TESORO_CONFIG_PWHASH_MEMLIMIT:
    t->pw_mem = value;
    t->pw_decoy[0] = 0;
    break;
  case TESORO_CONFIG_SYNCHRONOUS: {
    int src;
    if (value != TESORO_SYNC_NORMAL && value != TESORO_SYNC_FULL)
      return tesoro__fail(t, TESORO_EINVAL, "synchronous is TESORO_SYNC_NORMAL "
                                            "or TESORO_SYNC_FULL");
    if (t->host_txn)
      return tesoro__fail(t, TESORO_EMISUSE, "synchronous cannot change inside "
                                             "a host transaction");
    src = sqlite3_exec(t->db, value == TESORO_SYNC_FULL ? "PRAGMA synchronous = FULL"
                                                        : "PRAGMA synchronous = NORMAL",
                       NULL, NULL, NULL);
    if (src != SQLITE_OK) return tesoro__dberr(t, src);
    break;
  }
  case TESORO_CONFIG_CHECKPOINT_PAGES:
    sqlite3_wal_autocheckpoint(t->db, (int)value);
    break;
  default: return tesoro__fail(t, TESORO_EINVAL, "unknown setting %d", option);
  }
  return TESORO_OK;
}

/*
** After a commit that removed personal data or a secret: its old page
** images stay in the WAL until a checkpoint, so take one now (best effort:
** a reader elsewhere may hold it back).  Without waiting: a replicator
** such as Litestream always holds a reader, and a TRUNCATE checkpoint that
** waited for it would hold the write lock for the whole busy timeout,
** stalling every writer (README, Scale-out).  Inside a host transaction
** nothing is committed yet: the host's next checkpoint does it.
*/
static void tesoro__wal_scrub(tesoro *t) {
  if (t->host_txn) return;
  sqlite3_busy_timeout(t->db, 0);
  sqlite3_wal_checkpoint_v2(t->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
  sqlite3_busy_timeout(t->db, (int)t->busy_ms);
}

/* PASSIVE: the host's checkpoint must never stall its own writers or wait
** for a reader; what a long read keeps back is copied next time. */
TESORO_API int tesoro_checkpoint(tesoro *t, int *out_wal_pages, int *out_copied) {
  int wal = -1, copied = -1, src;
  TESORO__ENTER(t);
  if (out_wal_pages) *out_wal_pages = 0;
  if (out_copied) *out_copied = 0;
  if (t->host_txn || !sqlite3_get_autocommit(t->db))
    return tesoro__fail(t, TESORO_EMISUSE,
                        "a checkpoint cannot run inside a transaction");
  src = sqlite3_wal_checkpoint_v2(t->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &wal,
                                  &copied);
  if (src != SQLITE_OK) return tesoro__dberr(t, src);
  if (out_wal_pages) *out_wal_pages = wal > 0 ? wal : 0;
  if (out_copied) *out_copied = copied > 0 ? copied : 0;
  return TESORO_OK;
}

TESORO_API int tesoro_clock_set(tesoro *t, int64_t now) {
  TESORO__ENTER(t);
  if (now < 0) return tesoro__fail(t, TESORO_EINVAL, "now must be >= 0");
  t->clock = now;
  return TESORO_OK;
}

TESORO_API int64_t tesoro_now(tesoro *t) { return t ? tesoro__now(t) : 0; }

TESORO_API int tesoro_begin(tesoro *t) {
  int rc;
  TESORO__ENTER(t);
  if (t->readonly)
    return tesoro__read_only(t);
  if (t->host_txn || !sqlite3_get_autocommit(t->db))
    return tesoro__fail(t, TESORO_EMISUSE, "a transaction is already open");
  if ((rc = tesoro__exec_id(t, S_BEGIN))) return rc;
  t->host_txn = 1;
  return TESORO_OK;
}

TESORO_API int tesoro_commit(tesoro *t) {
  int rc, settled;
  TESORO__ENTER_ANY(t);
  if (!t->host_txn)
    return tesoro__fail(t, TESORO_EMISUSE, "no transaction is open");
  if (tesoro__host_lost(t)) /* reported; the host still rolls back */
    return tesoro__fail(t, TESORO_EDB, "%s", tesoro__lost_message);
  settled = t->due_known && tesoro__data_version(t) == t->due_version;
  rc = tesoro__exec_id(t, S_COMMIT);
  if (rc == TESORO_OK && settled) t->due_version = tesoro__data_version(t);
  if (rc) {
    /* Nothing of the transaction is kept, and the handle stays in it (every
    ** call fails) until the host's tesoro_rollback, which returns OK. */
    sqlite3_stmt *s = tesoro__stmt(t, S_ROLLBACK);
    t->due_known = 0;
    int saved = t->rc;
    char msg[TESORO__MSG_MAX];
    memcpy(msg, t->msg, sizeof msg);
    if (s && !sqlite3_get_autocommit(t->db)) tesoro__run(t, s);
    t->rc = saved;
    memcpy(t->msg, msg, sizeof msg);
    return rc;
  }
  t->host_txn = 0;
  return rc;
}

TESORO_API int tesoro_rollback(tesoro *t) {
  TESORO__ENTER_ANY(t);
  if (!t->host_txn)
    return tesoro__fail(t, TESORO_EMISUSE, "no transaction is open");
  t->host_txn = 0;
  t->due_known = 0;
  if (sqlite3_get_autocommit(t->db)) return TESORO_OK;
  return tesoro__exec_id(t, S_ROLLBACK);
}

/* =========================================================================
** 6. Actors
**
** Who is calling, as one bit of a role mask, and what they may reach.  The
** rule of reach is the same everywhere: an actor touches only its own
** agency's data, and a client only its own contact's.
*/
enum {
  R_AGENT = 1 << 0,
  R_ADMIN = 1 << 1,
  R_CLOSINGS = 1 << 2,
  R_CLIENT = 1 << 3,
  R_WEBSITE = 1 << 4,
  R_SYSTEM = 1 << 5,
  R_STAFF = R_AGENT | R_ADMIN | R_CLOSINGS
};

typedef struct tesoro__actor {
  int64_t id, agency, contact; /* contact: clients only */
  int kind;                    /* TESORO_ACTOR_* */
  int bit;                     /* R_* */
} tesoro__actor;

static const char *const tesoro__actor_kinds[] = {NULL, "agent", "client",
                                                  "website", "system"};

static int tesoro__actor_load(tesoro *t, int64_t id, tesoro__actor *a) {
  sqlite3_stmt *s;
  const char *kind, *role;
  int rc, slot;
  for (int i = 0; t->writing && i < t->actors.n; i++)
    if (t->actors.e[i].id == id) {
      a->id = id;
      a->agency = t->actors.e[i].agency;
      a->contact = t->actors.e[i].contact;
      a->kind = t->actors.e[i].kind;
      a->bit = t->actors.e[i].bit;
      return TESORO_OK;
    }
  if ((rc = tesoro__find(t, S_ACTOR_LOAD, "actor", id, &s)))
    return rc;
  memset(a, 0, sizeof *a);
  a->id = id;
  a->agency = sqlite3_column_int64(s, 0);
  kind = (const char *)sqlite3_column_text(s, 1);
  role = (const char *)sqlite3_column_text(s, 2);
  a->contact = sqlite3_column_int64(s, 3);
  if (sqlite3_column_int(s, 4)) {
    sqlite3_reset(s);
    return tesoro__fail(t, TESORO_EDENIED,
                        "actor %lld acted for contact %lld, which was erased",
                        (long long)id, (long long)a->contact);
  }
  for (int k = 1; k <= 4; k++)
    if (kind && strcmp(kind, tesoro__actor_kinds[k]) == 0) a->kind = k;
  switch (a->kind) {
  case TESORO_ACTOR_AGENT:
    a->bit = role && strcmp(role, "admin") == 0      ? R_ADMIN
             : role && strcmp(role, "closings") == 0 ? R_CLOSINGS
                                                     : R_AGENT;
    break;
  case TESORO_ACTOR_CLIENT: a->bit = R_CLIENT; break;
  case TESORO_ACTOR_WEBSITE: a->bit = R_WEBSITE; break;
  default: a->bit = R_SYSTEM; break;
  }
  sqlite3_reset(s);
  if (t->writing) {
    slot = t->actors.n < COUNT(t->actors.e) ? t->actors.n++
                                            : t->actors.next++ % COUNT(t->actors.e);
    t->actors.e[slot].id = id;
    t->actors.e[slot].agency = a->agency;
    t->actors.e[slot].contact = a->contact;
    t->actors.e[slot].kind = a->kind;
    t->actors.e[slot].bit = a->bit;
  }
  return TESORO_OK;
}

/* The agency's own actor of a kind ("website", "system"). */
static int tesoro__agency_actor(tesoro *t, int64_t agency, const char *kind,
                                tesoro__actor *a) {
  int website = strcmp(kind, "website") == 0;
  int64_t id = 0;
  int rc = TESORO_OK;
  if (!website && t->writing && agency == t->system_actor.agency) {
    id = t->system_actor.id; /* an agency's system actor never changes */
  } else {
    rc = tesoro__lookup(t, website ? S_ACTOR_WEBSITE : S_ACTOR_SYSTEM, agency,
                        NULL, &id);
    if (rc == TESORO_OK && !website && t->writing) {
      t->system_actor.agency = agency;
      t->system_actor.id = id;
    }
  }
  if (rc == TESORO_DONE)
    return tesoro__fail(t, TESORO_ENOTFOUND, "agency %lld does not exist (or has no %s actor)",
                        (long long)agency, kind);
  if (rc || website) return rc ? rc : tesoro__actor_load(t, id, a);
  /* The system actor is all its row says (no role, no contact to be
  ** erased): the tick asks for it once per timer, so no second read. */
  memset(a, 0, sizeof *a);
  a->id = id;
  a->agency = agency;
  a->kind = TESORO_ACTOR_SYSTEM;
  a->bit = R_SYSTEM;
  return TESORO_OK;
}

/* A mask of roles as words for messages: "staff", "the client", ... */
static void tesoro__roles_text(int mask, char *buf, size_t n) {
  static const struct { int bits; const char *word; } words[] = {
      {R_STAFF, "staff"},     {R_AGENT, "agents"},   {R_ADMIN, "admins"},
      {R_CLOSINGS, "closings"}, {R_CLIENT, "the client"},
      {R_WEBSITE, "the website"}, {R_SYSTEM, "the system"}};
  size_t used = 0;
  buf[0] = 0;
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
    if ((mask & words[i].bits) != words[i].bits) continue;
    mask &= ~words[i].bits;
    used += (size_t)snprintf(buf + used, used < n ? n - used : 0, "%s%s",
                             used ? " or " : "", words[i].word);
    if (used >= n) break;
  }
}

/* May `a` reach the entity (what, id) of (agency, contact)?  Clients reach
** only their own contact's entities. */
static int tesoro__reach(tesoro *t, const tesoro__actor *a, const char *what,
                         int64_t id, int64_t agency, int64_t contact) {
  if (a->agency != agency)
    return tesoro__fail(t, TESORO_EDENIED,
                        "%s %lld belongs to another agency than actor %lld",
                        what, (long long)id, (long long)a->id);
  if (a->kind == TESORO_ACTOR_CLIENT && a->contact != contact)
    return tesoro__fail(t, TESORO_EDENIED,
                        "%s %lld belongs to another client than actor %lld",
                        what, (long long)id, (long long)a->id);
  return TESORO_OK;
}

static int tesoro__require(tesoro *t, const tesoro__actor *a, int mask,
                           const char *action) {
  char who[96];
  if (a->bit & mask) return TESORO_OK;
  tesoro__roles_text(mask, who, sizeof who);
  return tesoro__fail(t, TESORO_EDENIED, "only %s can %s; actor %lld is %s",
                      who, action, (long long)a->id,
                      a->kind == TESORO_ACTOR_AGENT ? "agency staff"
                                                    : tesoro__actor_kinds[a->kind]);
}

/* Load actor `id` and require one of the roles in `mask` to do `action`. */
static int tesoro__actor_as(tesoro *t, int64_t id, int mask, const char *action,
                            tesoro__actor *a) {
  int rc = tesoro__actor_load(t, id, a);
  return rc ? rc : tesoro__require(t, a, mask, action);
}

/*
** The portal rule: a portal call needs the agency's portal on;
** and a client whose account still has its temporary password may do
** nothing else in the portal until it is replaced (unless
** `set_password_ok`: the calls that step itself needs).
*/
static int tesoro__portal_gate(tesoro *t, const tesoro__actor *a,
                               int set_password_ok) {
  sqlite3_stmt *s;
  int active, must_change, deactivated, rc;
  if ((rc = TESORO__ROW(t, &s, S_PORTAL_GATE, BIND_I(a->agency),
                        BIND_I(a->contact)))) return rc;
  active = sqlite3_column_int(s, 0);
  must_change = sqlite3_column_int(s, 1);
  deactivated = sqlite3_column_int(s, 2);
  sqlite3_reset(s);
  if (!active)
    return tesoro__fail(t, TESORO_EDENIED,
                        "the client portal of agency %lld is not active",
                        (long long)a->agency);
  if (deactivated && a->kind == TESORO_ACTOR_CLIENT)
    return tesoro__fail(t, TESORO_EDENIED,
                        "the portal account of contact %lld is deactivated",
                        (long long)a->contact);
  if (must_change && !set_password_ok && a->kind == TESORO_ACTOR_CLIENT)
    return tesoro__fail(t, TESORO_EGUARD,
                        "the portal account of contact %lld must replace its "
                        "temporary password first",
                        (long long)a->contact);
  return TESORO_OK;
}

/* The staff member `id` of a's agency; 0 means `a` itself. */
static int tesoro__staff_of(tesoro *t, const tesoro__actor *a, int64_t id,
                            tesoro__actor *out) {
  int rc;
  if (id < 0) return tesoro__fail(t, TESORO_EINVAL, "agent must be >= 0");
  if (id == 0) *out = *a;
  else if ((rc = tesoro__actor_load(t, id, out))) return rc;
  if (out->kind != TESORO_ACTOR_AGENT)
    return tesoro__fail(t, TESORO_EINVAL, "actor %lld is not agency staff",
                        (long long)out->id);
  if (out->agency != a->agency)
    return tesoro__fail(t, TESORO_EDENIED, "agent %lld belongs to another agency",
                        (long long)out->id);
  return TESORO_OK;
}

/* =========================================================================
** 7. JSON arguments
**
** Every JSON object a caller passes (seller form, listing, stage data,
** website events, import records) is checked here against its field list:
** well-formed, an object, only known keys of the right type and range,
** required ones present, and nothing SQLite's JSON would let through that
** tesoro must not (tesoro__json_boundary).  An object is read once, by yajl
** (tesoro__json_read); the statements that store its values read them with
** SQLite's JSON functions.  Nothing here parses JSON by hand.
*/

/* A field of a JSON argument, as its consumer declares it. */
typedef struct tesoro__field {
  const char *key;
  char type; /* 't' text, 'e' e-mail, 'p' property type, 'l' energy
                label, 'c' one of tesoro__choices[min], 'i' integer,
                'r' number, 'd' calendar date "YYYY-MM-DD", 'b' true or
                false, 'a' array of property types, 'g' a search area
                (section 17), 'o' any object, 'A' any array (their
                checks are their consumer's) */
  char required; /* TESORO__OPTIONAL, TESORO__REQUIRED or TESORO__STORED */
  int64_t min, max; /* text: bytes; integer, number: value */
} tesoro__field;

/* How much a field is needed.  STORED: the move needs it known, given with
** this call or stored by an earlier one (a referral's stage data, which a
** revival finds again); the call may leave it out. */
enum { TESORO__OPTIONAL = 0, TESORO__REQUIRED = 1, TESORO__STORED = 2 };

static int tesoro__property_type(const char *s) {
  for (int i = 1; i < COUNT(tesoro__property_types); i++)
    if (strcmp(s, tesoro__property_types[i]) == 0) return i;
  return 0;
}

/* The words a 'c' field takes, by its min. */
enum { TESORO__CHOICE_ATTEMPT, TESORO__CHOICE_CONTACT };
static const char *const tesoro__choices[][4] = {
    [TESORO__CHOICE_ATTEMPT] = {"voicemail", "text", "email", NULL},
    [TESORO__CHOICE_CONTACT] = {"phone", "text", "email", NULL},
};

static int tesoro__choice(const tesoro__field *f, const char *v) {
  for (int i = 0; tesoro__choices[f->min][i]; i++)
    if (strcmp(v, tesoro__choices[f->min][i]) == 0) return 1;
  return 0;
}

/* The classes of the Dutch and EU energy label, best first. */
static int tesoro__energy_label(const char *s) {
  static const char *const labels[] = {"A++++", "A+++", "A++", "A+", "A", "B",
                                       "C",     "D",    "E",   "F",  "G"};
  for (int i = 0; i < COUNT(labels); i++)
    if (strcmp(s, labels[i]) == 0) return 1;
  return 0;
}

/* Is `s` a real calendar date written YYYY-MM-DD?  SQLite's date() with a
** modifier normalises anything else (2026-02-30 becomes 2026-03-02;
** 28-05-2026 becomes NULL); without one it would keep day 30 of February. */
static int tesoro__date_valid(tesoro *t, const char *s) {
  sqlite3_stmt *st = tesoro__stmt(t, S_DATE_VALID);
  int64_t ok = 0;
  int rc;
  if (st == NULL) return t->rc; /* < 0: an error, not "invalid" */
  sqlite3_bind_text(st, 1, s, -1, SQLITE_STATIC);
  if ((rc = tesoro__int(t, st, &ok)) < 0) return rc;
  return ok == 1;
}

/*
** Check a JSON object argument against a field list: valid JSON, an object,
** only known keys, each of its type and range, every required key present.
** With `partial` (listing updates), keys may be left out, and a key that is
** not required may be null (clear the field).
*/
static int tesoro__property_types_valid(tesoro *t, const char *what,
                                       const char *type, const char *json);
static int tesoro__area_valid(tesoro *t, const char *what, const char *type,
                              const char *json);

/*
** What SQLite's JSON lets through and tesoro must not: a string escape
** \u0000 (SQLite 3.40 ends the string there, so a name, a date or a
** customer key would be cut short), a surrogate escape without its pair
** (no character: SQLite would store bytes that are not UTF-8, yajl a "?"),
** an integer beyond 64 bits (clamped)
** and a number beyond a double (read as infinity).  This scans the text's
** strings and numbers only; SQLite parses it.  Locale-free: the exponent
** is read as an integer, never by strtod.
*/
/* The UTF-16 code unit of a \\u escape's 4 hex digits at `p`; -1 when they
** are not 4 hex digits (the JSON is malformed: its parser says so). */
static long tesoro__json_unit(const char *p) {
  long unit = 0;
  for (int i = 0; i < 4; i++) {
    int c = (unsigned char)p[i], d = c >= '0' && c <= '9'   ? c - '0'
                                   : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                   : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                          : -1;
    if (d < 0) return -1;
    unit = unit * 16 + d;
  }
  return unit;
}

static int tesoro__json_boundary(tesoro *t, const char *what, const char *json) {
  for (const char *p = json; *p;) {
    if (*p == '"') {
      for (p++; *p && *p != '"'; p++) {
        long unit, next;
        if (*p != '\\') continue;
        if (p[1] == 'u' && strncmp(p + 2, "0000", 4) == 0)
          return tesoro__fail(t, TESORO_EINVAL,
                              "%s contains a NUL character (\\u0000)", what);
        if (p[1] == 'u' && (unit = tesoro__json_unit(p + 2)) >= 0xD800 &&
            unit <= 0xDFFF) {
          next = p[6] == '\\' && p[7] == 'u' ? tesoro__json_unit(p + 8) : -1;
          if (unit > 0xDBFF || next < 0xDC00 || next > 0xDFFF)
            return tesoro__fail(t, TESORO_EINVAL,
                                "%s contains an unpaired surrogate (\\u%.4s)",
                                what, p + 2);
          p += 6; /* the pair's second half */
        }
        if (p[1]) p++;
      }
      if (*p) p++;
    } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
      const char *start = p, *exp = NULL;
      long digits = 0; /* before the point, leading zeros aside */
      int point = 0;
      for (; *p == '-' || *p == '+' || *p == '.' || *p == 'e' || *p == 'E' ||
             (*p >= '0' && *p <= '9');
           p++) {
        if (*p == '.') point = 1;
        else if (*p == 'e' || *p == 'E') exp = p + 1;
        else if (!exp && !point && *p >= '1' && *p <= '9') digits++;
        else if (!exp && !point && *p == '0' && digits) digits++;
      }
      if (exp) {
        long e;
        errno = 0;
        e = strtol(exp, NULL, 10);
        if (errno == ERANGE || digits + e > 308)
          return tesoro__fail(t, TESORO_EINVAL,
                              "%s has a number beyond a double (%.*s)", what,
                              (int)(p - start > 40 ? 40 : p - start), start);
      } else if (!point) {
        char num[24];
        size_t n = (size_t)(p - start);
        errno = 0;
        if (n < sizeof num) {
          memcpy(num, start, n);
          num[n] = 0;
          (void)strtoll(num, NULL, 10);
        }
        if (n >= sizeof num || errno == ERANGE)
          return tesoro__fail(t, TESORO_EINVAL,
                              "%s has an integer beyond 64 bits (%.*s)", what,
                              (int)(n > 40 ? 40 : n), start);
      }
    } else {
      p++;
    }
  }
  return TESORO_OK;
}

/*
** The JSON reader.  A JSON object argument is read once, by yajl, into its
** members, and everything else (the type of a website event, the checks,
** the digest) works from them: SQLite's json_each() and json_extract()
** read each website event three times, about 40 000 instructions an
** event, against about 3 000 for one yajl pass (make bench).  A member
** keeps the names and texts json_each() gives, so a digest made from them
** is the one made before (web_event keeps the digests of events ingested
** by earlier versions, and their replays must still match):
**   type   text, integer, real, true, false, null, object or array;
**   value  a string unescaped; an integer as %lld; a real as SQLite reads
**          and renders it (SQLite does both); true "1", false "0", null
**          ""; an object or an array, its JSON text as given.
** yajl is as strict as SQLite 3.40's JSON (RFC 8259: no comments, no
** trailing commas, no leading zeros, no control characters in strings)
** once its two extra whitespace characters are refused (tesoro__json_read);
** what SQLite would store inexactly is refused by tesoro__json_boundary,
** which every caller runs as well.  yajl allocates with malloc, and
** everything it hands over is copied into the reader's own arena.
*/

/* One member of a JSON object. */
typedef struct tesoro__member {
  const char *key, *type, *value;
  int bytes;        /* of value (a string may hold a NUL: refused later) */
  int64_t integer;  /* an integer, true (1), false (0) */
  double number;    /* an integer or a real */
  size_t key_at, value_at; /* in the arena, until the read ends */
} tesoro__member;

/* One object read: the argument, or each element of a batch. */
typedef struct tesoro__json_object {
  const char *text; /* its JSON text (a batch's element: a copy) */
  int is_object;    /* 0: the element is another JSON value */
  int first, n;     /* its members: member[first .. first + n) */
  size_t text_at;
} tesoro__json_object;

typedef struct tesoro__json {
  tesoro *t;
  yajl_handle parser;
  const char *text;
  int batch;  /* the text is to be an array of objects */
  int ok;     /* well-formed, and its top level is what was asked */
  int wrong;  /* the top level is not what was asked */
  int rc;     /* an error that stopped the read */
  int depth;  /* of the value being read: the top level is 1 */
  int base;   /* the depth of the objects whose members are read */
  size_t key_at, value_start, object_start;
  char *arena;
  size_t used, cap;
  tesoro__member *member;
  int members, member_cap;
  tesoro__json_object *object;
  int objects, object_cap;
} tesoro__json;

/* Room for `n` more bytes in the arena; its offset, or (size_t)-1. */
static size_t tesoro__json_room(tesoro__json *j, size_t n) {
  size_t at = j->used;
  if (j->cap - j->used < n + 1) {
    size_t cap = j->cap ? j->cap : 256;
    char *more;
    while (cap - j->used < n + 1) cap *= 2;
    if ((more = sqlite3_realloc64(j->arena, cap)) == NULL) {
      j->rc = tesoro__fail(j->t, TESORO_ENOMEM, "out of memory");
      return (size_t)-1;
    }
    j->arena = more;
    j->cap = cap;
  }
  j->used += n + 1;
  return at;
}

/* `n` bytes of `s` into the arena, NUL-terminated. */
static size_t tesoro__json_keep(tesoro__json *j, const void *s, size_t n) {
  size_t at = tesoro__json_room(j, n);
  if (at == (size_t)-1) return at;
  memcpy(j->arena + at, s, n);
  j->arena[at + n] = 0;
  return at;
}

/* `array` (`n` of `*cap` elements of `size` bytes used) with room for one
** more: the same or a moved one, or NULL (out of memory, in j->rc). */
static void *tesoro__json_grow(tesoro__json *j, void *array, int n, int *cap,
                               size_t size) {
  int want = *cap ? 2 * *cap : 16;
  void *more;
  if (n < *cap) return array;
  if ((more = sqlite3_realloc64(array, size * (size_t)want)) == NULL) {
    j->rc = tesoro__fail(j->t, TESORO_ENOMEM, "out of memory");
    return NULL;
  }
  *cap = want;
  return more;
}

/* A new object read: an element of the batch, or the argument. */
static int tesoro__json_element(tesoro__json *j, int is_object) {
  tesoro__json_object *o = tesoro__json_grow(j, j->object, j->objects,
                                             &j->object_cap, sizeof *o);
  if (o == NULL) return 0;
  j->object = o;
  o = &j->object[j->objects++];
  memset(o, 0, sizeof *o);
  o->is_object = is_object;
  o->first = j->members;
  o->text_at = (size_t)-1;
  j->object_start = yajl_get_bytes_consumed(j->parser) - 1;
  return 1;
}

/* The member the value being read is, with its type, or NULL (a value
** deeper down, or in an element that is no object).  *go is 0 when the
** read must stop: j->rc or j->wrong says why. */
static tesoro__member *tesoro__json_at(tesoro__json *j, const char *type,
                                       int *go) {
  tesoro__member *m;
  *go = 1;
  if (j->depth == 0) { /* a value at the top level that is no container */
    j->wrong = 1;
    *go = 0;
    return NULL;
  }
  if (j->batch && j->depth == 1) { /* an element that is no object */
    *go = tesoro__json_element(j, 0);
    return NULL;
  }
  if (j->depth != j->base || !j->object[j->objects - 1].is_object)
    return NULL;
  if ((m = tesoro__json_grow(j, j->member, j->members, &j->member_cap,
                             sizeof *m)) == NULL) {
    *go = 0;
    return NULL;
  }
  j->member = m;
  m = &j->member[j->members++];
  memset(m, 0, sizeof *m);
  m->type = type;
  m->key_at = j->key_at;
  j->object[j->objects - 1].n++;
  return m;
}

/* A member's value: `n` bytes of `s`.  Without a member, the text of a
** batch's element that is no object, as json_each() gives it (a string's
** content: the element is then read as if it came alone). */
static int tesoro__json_set(tesoro__json *j, tesoro__member *m, const void *s,
                            size_t n) {
  if (m == NULL) {
    if (j->batch && j->depth == 1 &&
        (j->object[j->objects - 1].text_at = tesoro__json_keep(j, s, n)) ==
            (size_t)-1)
      return 0;
    return 1;
  }
  m->bytes = (int)n;
  return (m->value_at = tesoro__json_keep(j, s, n)) != (size_t)-1;
}

static int tesoro__json_on_null(void *ctx) {
  tesoro__json *j = ctx;
  int go;
  tesoro__member *m = tesoro__json_at(j, "null", &go);
  return m ? tesoro__json_set(j, m, "", 0) : go; /* an element: NULL */
}

static int tesoro__json_on_boolean(void *ctx, int yes) {
  tesoro__json *j = ctx;
  int go;
  tesoro__member *m = tesoro__json_at(j, yes ? "true" : "false", &go);
  if (!go) return 0;
  if (m == NULL) return tesoro__json_set(j, m, yes ? "1" : "0", 1);
  m->integer = yes != 0;
  m->number = yes != 0;
  return tesoro__json_set(j, m, yes ? "1" : "0", 1);
}

static int tesoro__json_on_string(void *ctx, const unsigned char *s,
                                  size_t n) {
  tesoro__json *j = ctx;
  int go;
  tesoro__member *m = tesoro__json_at(j, "text", &go);
  return go && tesoro__json_set(j, m, s, n);
}

/* A number: a real when it has a fraction or an exponent (as SQLite
** says), read and rendered by SQLite itself; else an integer.  One beyond
** 64 bits reads as 0 here: tesoro__json_boundary refuses it. */
static int tesoro__json_on_number(void *ctx, const char *s, size_t n) {
  tesoro__json *j = ctx;
  int go, real = memchr(s, '.', n) || memchr(s, 'e', n) || memchr(s, 'E', n);
  tesoro__member *m = tesoro__json_at(j, real ? "real" : "integer", &go);
  char num[24];
  sqlite3_stmt *r;
  if (!go) return 0;
  if (m == NULL) return tesoro__json_set(j, m, s, n);
  if (!real) {
    if (n < sizeof num) {
      memcpy(num, s, n);
      num[n] = 0;
      errno = 0;
      m->integer = strtoll(num, NULL, 10);
      if (errno == ERANGE) m->integer = 0;
    }
    m->number = (double)m->integer;
    return tesoro__json_set(j, m, num,
                            (size_t)tesoro__decimal(num, m->integer, 0));
  }
  if ((r = tesoro__stmt(j->t, S_JSON_REAL)) == NULL) {
    j->rc = j->t->rc;
    return 0;
  }
  sqlite3_bind_text(r, 1, s, (int)n, SQLITE_STATIC);
  if ((j->rc = tesoro__row(j->t, r)) != TESORO_ROW) {
    if (j->rc == TESORO_DONE) j->rc = tesoro__fail(j->t, TESORO_EDB, "no row");
    return 0;
  }
  j->rc = TESORO_OK;
  m->number = sqlite3_column_double(r, 0);
  if (sqlite3_column_text(r, 0) == NULL) {
    sqlite3_reset(r);
    j->rc = tesoro__fail(j->t, TESORO_ENOMEM, "out of memory");
    return 0;
  }
  go = tesoro__json_set(j, m, sqlite3_column_text(r, 0),
                        (size_t)sqlite3_column_bytes(r, 0));
  sqlite3_reset(r);
  return go;
}

static int tesoro__json_on_key(void *ctx, const unsigned char *key,
                               size_t n) {
  tesoro__json *j = ctx;
  if (j->depth != j->base) return 1;
  return (j->key_at = tesoro__json_keep(j, key, n)) != (size_t)-1;
}

/* An object or an array begins: the argument or a batch's element (depth
** `base`), or a member's value (the depth below). */
static int tesoro__json_open(tesoro__json *j, int is_object) {
  int depth = ++j->depth;
  if (depth == 1 && is_object == j->batch) {
    j->wrong = 1;
    return 0;
  }
  if (depth == j->base) return tesoro__json_element(j, is_object);
  if (depth == j->base + 1)
    j->value_start = yajl_get_bytes_consumed(j->parser) - 1;
  return 1;
}

static int tesoro__json_close(tesoro__json *j, const char *type) {
  int depth = j->depth--, go = 1;
  size_t end = yajl_get_bytes_consumed(j->parser);
  tesoro__member *m;
  if (depth == j->base + 1 && (m = tesoro__json_at(j, type, &go)) != NULL)
    return tesoro__json_set(j, m, j->text + j->value_start,
                            end - j->value_start);
  if (depth == j->base && j->batch &&
      (j->object[j->objects - 1].text_at = tesoro__json_keep(
           j, j->text + j->object_start, end - j->object_start)) ==
          (size_t)-1)
    return 0;
  return go;
}

static int tesoro__json_on_map(void *ctx) {
  return tesoro__json_open(ctx, 1);
}
static int tesoro__json_on_map_end(void *ctx) {
  return tesoro__json_close(ctx, "object");
}
static int tesoro__json_on_array(void *ctx) {
  return tesoro__json_open(ctx, 0);
}
static int tesoro__json_on_array_end(void *ctx) {
  return tesoro__json_close(ctx, "array");
}

static const yajl_callbacks tesoro__json_callbacks = {
    tesoro__json_on_null,   tesoro__json_on_boolean, NULL, NULL,
    tesoro__json_on_number, tesoro__json_on_string,  tesoro__json_on_map,
    tesoro__json_on_key,    tesoro__json_on_map_end, tesoro__json_on_array,
    tesoro__json_on_array_end};

static void tesoro__json_done(tesoro__json *j) {
  sqlite3_free(j->arena);
  sqlite3_free(j->member);
  sqlite3_free(j->object);
  memset(j, 0, sizeof *j);
}

/*
** Read `json`: an object (batch 0: j->object[0], when j->ok) or an array
** of values (batch 1: j->object[], one per element, those that are objects
** with their members).  j->ok is 0 when the text is malformed or its top
** level is of another kind.  An error only when the read failed (out of
** memory); tesoro__json_done frees what it made either way.
*/
static int tesoro__json_read(tesoro *t, const char *json, int batch,
                             tesoro__json *j) {
  yajl_status status;
  memset(j, 0, sizeof *j);
  j->t = t;
  j->text = json;
  j->batch = batch;
  j->base = batch ? 2 : 1;
  /* yajl also takes a vertical tab and a form feed for whitespace, SQLite
  ** (whose statements read the values after) only space, tab, CR and LF;
  ** in a string both refuse them, so either byte anywhere is malformed */
  if (strpbrk(json, "\v\f")) return TESORO_OK;
  if ((j->parser = yajl_alloc(&tesoro__json_callbacks, NULL, j)) == NULL)
    return tesoro__fail(t, TESORO_ENOMEM, "out of memory");
  status = yajl_parse(j->parser, (const unsigned char *)json, strlen(json));
  if (status == yajl_status_ok) status = yajl_complete_parse(j->parser);
  yajl_free(j->parser);
  j->parser = NULL;
  if (j->rc) return j->rc;
  j->ok = status == yajl_status_ok && !j->wrong && (batch || j->objects == 1);
  for (int i = 0; i < j->members; i++) {
    j->member[i].key = j->arena + j->member[i].key_at;
    j->member[i].value = j->arena + j->member[i].value_at;
  }
  for (int i = 0; i < j->objects; i++)
    j->object[i].text = j->object[i].text_at != (size_t)-1
                            ? j->arena + j->object[i].text_at
                            : batch ? NULL : json;
  return TESORO_OK;
}

/* The first member of `o` named `key`, or NULL. */
static const tesoro__member *tesoro__json_find(const tesoro__json *j,
                                               const tesoro__json_object *o,
                                               const char *key) {
  for (int i = o->first; i < o->first + o->n; i++)
    if (strcmp(j->member[i].key, key) == 0) return &j->member[i];
  return NULL;
}

/* The text of the first member of `o` named `key`: NULL when there is
** none or it is not a string. */
static const char *tesoro__json_string(const tesoro__json *j,
                                       const tesoro__json_object *o,
                                       const char *key) {
  const tesoro__member *m = tesoro__json_find(j, o, key);
  return m && strcmp(m->type, "text") == 0 ? m->value : NULL;
}

/*
** A digest of what `json` says, whatever its member order and whitespace:
** every node of its tree, sorted by path (array elements keep their
** index), with its type and value.
*/
static int tesoro__json_canonical(tesoro *t, const char *json,
                                  unsigned char out[crypto_hash_sha256_BYTES]) {
  sqlite3_stmt *s;
  const unsigned char *text;
  int rc;
  if ((rc = TESORO__ROW(t, &s, S_JSON_CANONICAL, BIND_T(json)))) return rc;
  if ((text = sqlite3_column_text(s, 0)) == NULL) {
    sqlite3_reset(s);
    return tesoro__fail(t, TESORO_ENOMEM, "out of memory");
  }
  crypto_hash_sha256(out, text, (unsigned long long)sqlite3_column_bytes(s, 0));
  if ((rc = sqlite3_reset(s)) != SQLITE_OK) return tesoro__dberr(t, rc);
  return TESORO_OK;
}

/* `what "key"`, the name a member's error message gives it.  Not
** snprintf(): this runs for every text member of every website event. */
static void tesoro__member_name(char *out, size_t n, const char *what,
                                const char *key) {
  size_t w = strlen(what), k = strlen(key);
  if (w + k + 4 > n) {
    snprintf(out, n, "%s \"%s\"", what, key);
    return;
  }
  memcpy(out, what, w);
  out[w] = ' ';
  out[w + 1] = '"';
  memcpy(out + w + 2, key, k);
  out[w + k + 2] = '"';
  out[w + k + 3] = 0;
}

/* Given each member that passed its check, the first time its key occurs
** (as json_extract() would find it). */
typedef void (*tesoro__member_take)(void *ctx, const tesoro__field *f,
                                    const tesoro__member *m);

/* The members of object `o` of read `j` against `fields` (see
** tesoro__json_fields); `take` (may be NULL) keeps the values it wants, so
** the caller need not read the object again. */
static int tesoro__json_members(tesoro *t, const char *what,
                                const tesoro__json *j,
                                const tesoro__json_object *o,
                                const tesoro__field *fields, int n, int partial,
                                tesoro__member_take take, void *ctx) {
  uint32_t seen = 0;
  int rc = TESORO_OK;
  for (int k = o->first; k < o->first + o->n; k++) {
    const tesoro__member *m = &j->member[k];
    const char *key = m->key, *type = m->type;
    const tesoro__field *f = NULL;
    for (int i = 0; i < n && !f; i++)
      if (strcmp(key, fields[i].key) == 0) f = &fields[i];
    if (f == NULL) {
      rc = tesoro__fail(t, TESORO_EINVAL, "%s has an unknown field \"%.60s\"",
                        what, key);
    } else if (strcmp(type, "null") == 0) {
      if (!partial || f->required)
        rc = tesoro__fail(t, TESORO_EINVAL, "%s: \"%s\" must not be null", what,
                          f->key);
    } else if (f->type == 'i') {
      int64_t v = m->integer;
      if (strcmp(type, "integer") != 0 || v < f->min || v > f->max)
        rc = tesoro__fail(t, TESORO_EINVAL,
                          "%s: \"%s\" must be an integer from %lld to %lld",
                          what, f->key, (long long)f->min, (long long)f->max);
    } else if (f->type == 'r') {
      double v = m->number;
      if ((strcmp(type, "integer") != 0 && strcmp(type, "real") != 0) ||
          !(v >= (double)f->min && v <= (double)f->max))
        rc = tesoro__fail(t, TESORO_EINVAL,
                          "%s: \"%s\" must be a number from %lld to %lld",
                          what, f->key, (long long)f->min, (long long)f->max);
    } else if (f->type == 'b') {
      if (strcmp(type, "true") != 0 && strcmp(type, "false") != 0)
        rc = tesoro__fail(t, TESORO_EINVAL, "%s: \"%s\" must be true or false",
                          what, f->key);
    } else if (f->type == 'o' || f->type == 'A') {
      if (strcmp(type, f->type == 'o' ? "object" : "array") != 0)
        rc = tesoro__fail(t, TESORO_EINVAL, "%s: \"%s\" must be an %s", what,
                          f->key, f->type == 'o' ? "object" : "array");
    } else if (f->type == 'a' || f->type == 'g') {
      char name[80];
      tesoro__member_name(name, sizeof name, what, f->key);
      rc = f->type == 'a'
               ? tesoro__property_types_valid(t, name, type, m->value)
               : tesoro__area_valid(t, name, type, m->value);
    } else if (strcmp(type, "text") != 0) {
      rc = tesoro__fail(t, TESORO_EINVAL, "%s: \"%s\" must be a string", what,
                        f->key);
    } else {
      const char *v = m->value;
      int valid = 1;
      char name[80];
      tesoro__member_name(name, sizeof name, what, f->key);
      if ((int)strlen(v) != m->bytes)
        rc = tesoro__fail(t, TESORO_EINVAL, "%s contains a NUL", name);
      else if (f->type == 'e')
        rc = tesoro__email(t, name, v, 1);
      else if (f->type == 'd' && (valid = tesoro__date_valid(t, v)) != 1)
        rc = valid < 0 ? valid
                       : tesoro__fail(t, TESORO_EINVAL,
                                      "%s must be a date YYYY-MM-DD", name);
      else if (f->type == 'p' && !tesoro__property_type(v))
        rc = tesoro__fail(t, TESORO_EINVAL,
                          "%s must be house, apartment, office or land", name);
      else if (f->type == 'c' && !tesoro__choice(f, v))
        rc = tesoro__fail(t, TESORO_EINVAL, "%s must be %s, %s or %s", name,
                          tesoro__choices[f->min][0], tesoro__choices[f->min][1],
                          tesoro__choices[f->min][2]);
      else if (f->type == 'l' && !tesoro__energy_label(v))
        rc = tesoro__fail(t, TESORO_EINVAL,
                          "%s must be an energy label: A++++, A+++, A++, A+, "
                          "A, B, C, D, E, F or G", name);
      else if (f->type == 't')
        rc = tesoro__text(t, name, v, (size_t)f->max, 1);
    }
    if (rc) return rc;
    if (take && !(seen & (1u << (f - fields)))) take(ctx, f, m);
    seen |= 1u << (f - fields);
  }
  for (int i = 0; i < n && !partial; i++)
    if (fields[i].required == TESORO__REQUIRED && !(seen & (1u << i)))
      return tesoro__fail(t, TESORO_EINVAL, "%s needs \"%s\"", what,
                          fields[i].key);
  return TESORO_OK;
}

/* Does `fields` have one named `key`? */
static int tesoro__field_named(const tesoro__field *fields, int n, const char *key) {
  for (int i = 0; i < n; i++)
    if (strcmp(fields[i].key, key) == 0) return 1;
  return 0;
}

static int tesoro__json_fields(tesoro *t, const char *what, const char *json,
                               const tesoro__field *fields, int n, int partial) {
  tesoro__json j;
  int rc;
  if ((rc = tesoro__text(t, what, json, TESORO_MAX_JSON, 1))) return rc;
  if ((rc = tesoro__json_read(t, json, 0, &j)) == TESORO_OK) {
    if (!j.ok)
      rc = tesoro__fail(t, TESORO_EINVAL, "%s is not a JSON object", what);
    else if ((rc = tesoro__json_boundary(t, what, json)) == TESORO_OK)
      rc = tesoro__json_members(t, what, &j, &j.object[0], fields, n, partial,
                                NULL, NULL);
  }
  tesoro__json_done(&j);
  return rc;
}

/* =========================================================================
** 8. Machines
**
** Each workflow is a table of rows (from states, event, to, roles, guard,
** effect), read by the one engine of section 9; the allowed-events query
** and the DOT diagrams read the same rows, so they cannot drift.  `from` is
** a mask of states; `to` SAME keeps the state (an event that changes the
** entity without moving it: a message, a document, an edit).  Guards and
** effects are defined with their workflow further down.
*/
#define TESORO__SAME 0xFF
#define ST(x) (1u << (x))
#define ALL_STATES 0x7FFFFFFFu
/* The `from` of a creation row: the entity is not there yet.  Its `to` is
** the state it begins in; its roles, guard and effect are as any row's. */
#define TESORO__NEW 0x80000000u

typedef struct tesoro__ctx tesoro__ctx;
typedef int (*tesoro__step)(tesoro__ctx *);
/* A guard or an effect: each machine's are declared above its table and
** defined with its workflow further down. */
typedef int tesoro__hook(tesoro__ctx *c);

typedef struct tesoro__trans {
  uint32_t from;      /* mask of states */
  uint8_t event;
  uint8_t to;         /* a state, or TESORO__SAME */
  uint8_t roles;      /* R_* mask */
  tesoro__step guard; /* NULL: always */
  tesoro__step effect;/* inside the transaction; NULL: none */
  /* Optional: the one UPDATE that moves the state together with the
  ** transition's own columns, so the entity is written once (0: the
  ** machine's set_state, and the effect writes its columns itself).
  ** Parameters: ?1 id, ?2 new state, ?3 version read, ?4 now, ?5 actor,
  ** ?6 reason, and ?7, when the statement has it, the int64_t the call's
  ** args point at. */
  int move;
} tesoro__trans;

/* A message's channels, as the bits of outbox.channels (schema.sql):
** a delivery's id is message * 8 + the channel's bit number. */
enum {
  CH_CRM = 1, CH_PUSH = 2, CH_EMAIL = 4, CH_WEBSITE = 8, CH_CALENDAR = 16
};

/*
** A machine's notifications are rows too: on `event` (creation events
** included), done by an actor of the roles `by` (0: anyone), tell `to` on
** `channels` (0: the recipient's usual: staff CH_CRM | CH_EMAIL, a client
** CH_EMAIL) with `template_name` and `summary` (NULL: the summary the
** effect computed, c->notice_summary).  The engine reads them in one step
** after the row's effect (tesoro__notices, section 10), which also applies
** the recipient's and the agency's channel preferences (tesoro__outbox).
** An effect only computes what a message carries besides: its summary
** when the row has none, and the JSON object of its own fields
** (c->notice_extra).
*/
enum {
  TO_STAFF = 1,        /* the contact's agent, else the agency's admins */
  TO_STAFF_AND_ADMINS, /* the contact's agent and every admin */
  TO_CLIENT,           /* the contact's client actor */
  TO_AGENT             /* the entity's own agent: the machine's `agent` */
};

typedef struct tesoro__notice {
  int event;
  int by;       /* R_* mask; 0: anyone the machine's rows let act */
  int to;       /* TO_* */
  int channels; /* CH_* bits; 0: the recipient's usual */
  const char *template_name;
  const char *summary;
} tesoro__notice;

typedef struct tesoro__machine {
  int entity;
  const char *name;
  const char *const *states;
  int nstates;
  const char *const *events;
  int nevents;
  const tesoro__trans *rows;
  int nrows;
  int load, set_state; /* statements: (agency, contact, state, version), move */
  /* Optional: given the context and the ESTATE or EDENIED the engine is
  ** about to return, write a message in the workflow's own words. */
  int (*explain)(tesoro__ctx *c, int rc);
  int insiders;   /* R_* mask: only these may act on it, only staff read
                     it (clients not even by a refusal message); 0: all */
  int portal;     /* a client's every call on it is a portal call (section 16) */
  /* Optional statement for a transition that keeps the state: the version
  ** only, so an index on the state is not rewritten for nothing (a website
  ** customer's events nearly all keep it); 0: set_state. */
  int keep_state;
  /* In a batch, an entity's keep-state events share the first one's
  ** history row, and its version is written once, at the batch's end, by
  ** this statement (tesoro->batch); 0: no folding. */
  int fold;
  /* Its notice rows (see tesoro__notice), in the order they are queued. */
  const tesoro__notice *notices;
  int nnotices;
  /* Optional: the entity's own agent, whom TO_AGENT notices tell (an
  ** appointment's owner, a referral's agent). */
  int (*agent)(tesoro__ctx *c, int64_t *out);
  /* A transition's timeline line is kept on its history row, not in the
  ** activity table (section 10, tesoro__activity).  The view timeline
  ** (schema.sql) reads such lines through the entity's contact_id: a
  ** machine with this set needs its arm there (test_machines checks). */
  int lines_on_history;
} tesoro__machine;

/* The context of one firing, passed to guards and effects. */
struct tesoro__ctx {
  tesoro *t;
  const tesoro__machine *m;
  const tesoro__actor *actor;
  int entity;                  /* TESORO_ENTITY_* */
  int64_t id, agency, contact; /* the entity and whom it belongs to */
  int64_t version;             /* before the transition */
  int64_t expected;            /* expected_version, 0: unchecked */
  int event, from, to;
  const tesoro__trans *row;    /* the row firing */
  const char *event_name;      /* for history and outbox rows */
  int64_t now;
  int64_t seq;                 /* this transition's history row (entity,
                                  id, seq), once written */
  int checking;                /* allowed-events query: no args, no writes */
  int loaded;                  /* tesoro__load has run: fire skips it */
  int64_t before[6];           /* the load's integer columns after its first
                                  four: the entity's own facts as they were
                                  before the move (an appointment's, see
                                  tesoro__appt_get) */
  int64_t agent;               /* the entity's own agent, once read (0: not
                                  yet; the notice step asks m->agent) */
  const char *reason;          /* into history details */
  int64_t ref;                 /* a related id, into history details */
  const void *args;            /* the call's own arguments */
  int64_t out_id;              /* an id the effect produces */
  char *out_text;              /* text the effect produces (tesoro_free) */
  /* What the effect computed for the machine's notice rows: the summary of
  ** a row that has none, the message's own fields (a JSON object).  Owned
  ** by the context (tesoro__notice_data), wiped after the notice step: the
  ** extra may hold a portal secret. */
  char *notice_summary;
  char *notice_extra;
  /* The transition's timeline line, for its history row (machines with
  ** lines_on_history): `open` while the engine has that row still to
  ** write; summary owned by the context. */
  struct tesoro__line {
    int open;
    char kind[40];
    char *summary;
    int64_t ns;
  } line;
};

/* A context for a write that does not start from an existing entity. */
static void tesoro__ctx_new(tesoro__ctx *c, tesoro *t, const tesoro__actor *a,
                            int entity, int64_t contact) {
  memset(c, 0, sizeof *c);
  c->t = t;
  c->actor = a;
  c->agency = a->agency;
  c->entity = entity;
  c->contact = contact;
  c->now = tesoro__now(t);
}

/* The engine is about to run an effect whose history row it writes next:
** a timeline line the effect writes may go on that row (tesoro__activity).
** A context copied from another starts without the other's line. */
static void tesoro__line_open(tesoro__ctx *c) {
  memset(&c->line, 0, sizeof c->line);
  c->line.open = c->m->lines_on_history;
}

static void tesoro__line_close(tesoro__ctx *c) {
  sqlite3_free(c->line.summary);
  memset(&c->line, 0, sizeof c->line);
}

/* A machine's states or events: one X list of (enum constant, name), from
** which the enum and the array of names are both made, so that a number
** and its name cannot drift apart. */
#define TESORO__ENUM_ITEM(id, name) id,
#define TESORO__NAME_ITEM(id, name) #name,
#define TESORO__NAMED(list, array)                                            \
  enum { list(TESORO__ENUM_ITEM) };                                           \
  static const char *const array[] = {list(TESORO__NAME_ITEM)}
/* Both lists of a machine: TESORO__<NAME>_STATES and _EVENTS. */
#define TESORO__NAMES(NAME, name)                                             \
  TESORO__NAMED(TESORO__##NAME##_STATES, tesoro__##name##_states);            \
  TESORO__NAMED(TESORO__##NAME##_EVENTS, tesoro__##name##_events)

static int agent_appointment(tesoro__ctx *c, int64_t *out);
static int agent_referral(tesoro__ctx *c, int64_t *out);
static int explain_referral(tesoro__ctx *c, int rc);

/* --- room --- */
#define TESORO__ROOM_STATES(X)                                                \
  X(ROOM_OPEN, open)                                                          \
  X(ROOM_IN_PROGRESS, in_progress)                                            \
  X(ROOM_LOST, lost)                                                          \
  X(ROOM_CLOSED, closed)                                                      \
  X(ROOM_SUCCESSFUL, successful)
#define TESORO__ROOM_EVENTS(X)                                                \
  X(ROOM_EV_START_ONBOARDING, start_onboarding)                               \
  X(ROOM_EV_MARK_LOST, mark_lost)                                             \
  X(ROOM_EV_CLOSE, close)                                                     \
  X(ROOM_EV_MANDATE_VALIDATED, mandate_validated)                             \
  X(ROOM_EV_POST_MESSAGE, post_message)                                       \
  X(ROOM_EV_ADD_NOTE, add_note)                                               \
  X(ROOM_EV_ADD_DOCUMENT, add_document)                                       \
  X(ROOM_EV_CREATE, create)
TESORO__NAMES(ROOM, room);

#define ROOM_LIVE (ST(ROOM_OPEN) | ST(ROOM_IN_PROGRESS))
static tesoro__hook fx_room_start_onboarding, fx_room_end, fx_room_message,
    fx_document;
static const tesoro__trans tesoro__room_rows[] = {
  /* from              event                       to                roles              guard effect  move */
  {TESORO__NEW, ROOM_EV_CREATE, ROOM_OPEN, R_WEBSITE, NULL, NULL, 0},
  {ST(ROOM_OPEN),      ROOM_EV_START_ONBOARDING,  ROOM_IN_PROGRESS, R_STAFF,           NULL, fx_room_start_onboarding, 0},
  {ROOM_LIVE,          ROOM_EV_MARK_LOST,         ROOM_LOST,        R_STAFF,           NULL, fx_room_end, 0},
  {ROOM_LIVE,          ROOM_EV_CLOSE,             ROOM_CLOSED,      R_STAFF,           NULL, fx_room_end, 0},
  {ST(ROOM_IN_PROGRESS), ROOM_EV_MANDATE_VALIDATED, ROOM_SUCCESSFUL, R_SYSTEM,         NULL, NULL, 0},
  {ROOM_LIVE,          ROOM_EV_POST_MESSAGE,      TESORO__SAME,     R_STAFF | R_CLIENT, NULL, fx_room_message, 0},
  {ROOM_LIVE,          ROOM_EV_ADD_NOTE,          TESORO__SAME,     R_STAFF,           NULL, fx_room_message, 0},
  {ROOM_LIVE,          ROOM_EV_ADD_DOCUMENT,      TESORO__SAME,     R_STAFF | R_CLIENT, NULL, fx_document, 0},
};
/* A message tells the other side; a private note tells no one. */
static const tesoro__notice tesoro__room_notices[] = {
  /* event                 by        to                   channels template                    summary */
  {ROOM_EV_CREATE,       0,        TO_STAFF_AND_ADMINS, 0, "Contact Request Received", NULL},
  {ROOM_EV_POST_MESSAGE, R_CLIENT, TO_STAFF,            0, "Room Message Received",    "New message in the contact room"},
  {ROOM_EV_POST_MESSAGE, R_STAFF,  TO_CLIENT,           0, "Room Message Received",    "New message in the contact room"},
};

/* --- mandate --- */
#define TESORO__MANDATE_STATES(X)                                             \
  X(MANDATE_DRAFT, draft)                                                     \
  X(MANDATE_NEGOTIATING, negotiating)                                         \
  X(MANDATE_TERMS_AGREED, terms_agreed)                                       \
  X(MANDATE_FORM_SHARED, form_shared)                                         \
  X(MANDATE_FORM_SUBMITTED, form_submitted)                                   \
  X(MANDATE_VALIDATED, validated)                                             \
  X(MANDATE_CANCELLED, cancelled)
#define TESORO__MANDATE_EVENTS(X)                                             \
  X(MANDATE_EV_PROPOSE, propose)                                              \
  X(MANDATE_EV_ACCEPT, accept)                                                \
  X(MANDATE_EV_SHARE_FORM, share_form)                                        \
  X(MANDATE_EV_SUBMIT_FORM, submit_form)                                      \
  X(MANDATE_EV_REQUEST_CHANGES, request_changes)                              \
  X(MANDATE_EV_VALIDATE, validate)                                            \
  X(MANDATE_EV_CANCEL, cancel)                                                \
  X(MANDATE_EV_ADD_DOCUMENT, add_document)                                    \
  X(MANDATE_EV_CREATE, create)
TESORO__NAMES(MANDATE, mandate);

#define MANDATE_OPEN                                                           \
  (ST(MANDATE_DRAFT) | ST(MANDATE_NEGOTIATING) | ST(MANDATE_TERMS_AGREED) |    \
   ST(MANDATE_FORM_SHARED) | ST(MANDATE_FORM_SUBMITTED))
static tesoro__hook fx_propose, guard_accept, fx_accept, fx_share_form,
    guard_signed_mandate, fx_submit_form, fx_request_changes, guard_validate,
    fx_validate, fx_mandate_cancel;
static const tesoro__trans tesoro__mandate_rows[] = {
  /* from                                          event                       to                      roles               guard                 effect  move */
  {TESORO__NEW, MANDATE_EV_CREATE, MANDATE_DRAFT, R_STAFF, NULL, NULL, 0},
  {ST(MANDATE_DRAFT) | ST(MANDATE_NEGOTIATING),   MANDATE_EV_PROPOSE,         MANDATE_NEGOTIATING,    R_STAFF | R_CLIENT, NULL,                 fx_propose, 0},
  {ST(MANDATE_NEGOTIATING),                       MANDATE_EV_ACCEPT,          MANDATE_TERMS_AGREED,   R_STAFF | R_CLIENT, guard_accept,         fx_accept, 0},
  {ST(MANDATE_TERMS_AGREED),                      MANDATE_EV_SHARE_FORM,      MANDATE_FORM_SHARED,    R_STAFF,            NULL,                 fx_share_form, 0},
  {ST(MANDATE_FORM_SHARED),                       MANDATE_EV_SUBMIT_FORM,     MANDATE_FORM_SUBMITTED, R_CLIENT,           guard_signed_mandate, fx_submit_form, 0},
  {ST(MANDATE_FORM_SUBMITTED),                    MANDATE_EV_REQUEST_CHANGES, MANDATE_FORM_SHARED,    R_STAFF,            NULL,                 fx_request_changes, 0},
  {ST(MANDATE_FORM_SUBMITTED),                    MANDATE_EV_VALIDATE,        MANDATE_VALIDATED,      R_STAFF,            guard_validate,       fx_validate, 0},
  {MANDATE_OPEN,                                  MANDATE_EV_CANCEL,          MANDATE_CANCELLED,      R_STAFF,            NULL,                 fx_mandate_cancel, 0},
  /* the client uploads while filling in the form; staff until validation */
  {ST(MANDATE_FORM_SHARED),                       MANDATE_EV_ADD_DOCUMENT,    TESORO__SAME,           R_STAFF | R_CLIENT, NULL,                 fx_document, 0},
  {MANDATE_OPEN & ~ST(MANDATE_FORM_SHARED),       MANDATE_EV_ADD_DOCUMENT,    TESORO__SAME,           R_STAFF,            NULL,                 fx_document, 0},
};
static const tesoro__notice tesoro__mandate_notices[] = {
  /* event                    by        to         channels template                         summary */
  {MANDATE_EV_PROPOSE,         R_CLIENT, TO_STAFF,  0, "Mandate Proposal Received",       "The owner proposed new terms"},
  {MANDATE_EV_PROPOSE,         R_STAFF,  TO_CLIENT, 0, "Mandate Proposal Received",       "The agency proposed terms"},
  /* the extra: the agreed terms, as the caller gets them */
  {MANDATE_EV_ACCEPT,          R_CLIENT, TO_STAFF,  0, "Mandate Terms Agreed",            "The owner accepted the terms"},
  {MANDATE_EV_ACCEPT,          R_STAFF,  TO_CLIENT, 0, "Mandate Terms Agreed",            "The agency accepted your terms"},
  {MANDATE_EV_SHARE_FORM,      0,        TO_CLIENT, 0, "Seller Form Shared",              "Please complete the seller form"},
  {MANDATE_EV_SUBMIT_FORM,     0,        TO_STAFF,  0, "Seller Form Submitted",           "The owner submitted the seller form"},
  {MANDATE_EV_REQUEST_CHANGES, 0,        TO_CLIENT, 0, "Seller Form Changes Requested",   NULL},
  {MANDATE_EV_VALIDATE,        0,        TO_CLIENT, 0, "Mandate Validated",               "Your mandate has been validated"},
};

/* --- listing --- */
#define TESORO__LISTING_STATES(X)                                             \
  X(LISTING_PLACEHOLDER, placeholder)                                         \
  X(LISTING_DRAFT, draft)                                                     \
  X(LISTING_PUBLISHED, published)                                             \
  X(LISTING_UNPUBLISHED, unpublished)
#define TESORO__LISTING_EVENTS(X)                                             \
  X(LISTING_EV_FILL, fill)                                                    \
  X(LISTING_EV_PUBLISH, publish)                                              \
  X(LISTING_EV_UNPUBLISH, unpublish)                                          \
  X(LISTING_EV_EXPIRE, expire)                                                \
  X(LISTING_EV_UPDATE, update)                                                \
  X(LISTING_EV_ADD_DOCUMENT, add_document)                                    \
  X(LISTING_EV_CREATE, create)
TESORO__NAMES(LISTING, listing);

static tesoro__hook fx_listing_fill, guard_valid_mandate, fx_publish,
    guard_mandate_expired, fx_listing_update;
static const tesoro__trans tesoro__listing_rows[] = {
  /* from                                          event                   to                   roles     guard                  effect  move */
  {TESORO__NEW, LISTING_EV_CREATE, LISTING_PLACEHOLDER, R_STAFF, NULL, NULL, 0},
  {TESORO__NEW, LISTING_EV_CREATE, LISTING_DRAFT, R_STAFF | R_CLIENT | R_SYSTEM, NULL, NULL, 0},
  {ST(LISTING_PLACEHOLDER),                       LISTING_EV_FILL,        LISTING_DRAFT,       R_SYSTEM, NULL,                  fx_listing_fill, 0},
  {ST(LISTING_DRAFT) | ST(LISTING_UNPUBLISHED),   LISTING_EV_PUBLISH,     LISTING_PUBLISHED,   R_STAFF,  guard_valid_mandate,   fx_publish, 0},
  {ST(LISTING_PUBLISHED),                         LISTING_EV_UNPUBLISH,   LISTING_UNPUBLISHED, R_STAFF,  NULL,                  NULL, 0},
  {ST(LISTING_PUBLISHED),                         LISTING_EV_EXPIRE,      LISTING_UNPUBLISHED, R_SYSTEM, guard_mandate_expired, NULL, 0},
  {ALL_STATES,                                    LISTING_EV_UPDATE,      TESORO__SAME,        R_STAFF,  NULL,                  fx_listing_update, 0},
  {ALL_STATES,                                    LISTING_EV_ADD_DOCUMENT,TESORO__SAME,        R_STAFF,  NULL,                  fx_document, 0},
};

/* --- task: staff close their to-dos; the system closes the ones
**     whose reason went away --- */
#define TESORO__TASK_STATES(X)                                                \
  X(TASK_OPEN, open)                                                          \
  X(TASK_DONE, done)                                                          \
  X(TASK_CANCELLED, cancelled)
#define TESORO__TASK_EVENTS(X)                                                \
  X(TASK_EV_COMPLETE, complete)                                               \
  X(TASK_EV_CANCEL, cancel)                                                   \
  X(TASK_EV_CREATE, create)
TESORO__NAMES(TASK, task);

static tesoro__hook fx_task_closed;
static const tesoro__trans tesoro__task_rows[] = {
  /* from           event             to              roles                guard effect  move */
  {TESORO__NEW, TASK_EV_CREATE, TASK_OPEN, R_STAFF | R_CLIENT | R_WEBSITE | R_SYSTEM, NULL, NULL, 0},
  {ST(TASK_OPEN),  TASK_EV_COMPLETE, TASK_DONE,      R_STAFF | R_SYSTEM,  NULL, fx_task_closed, 0},
  {ST(TASK_OPEN),  TASK_EV_CANCEL,   TASK_CANCELLED, R_STAFF | R_SYSTEM,  NULL, fx_task_closed, 0},
};

/* --- deal: a client's search, to which staff offer listings --- */
#define TESORO__DEAL_STATES(X)                                                \
  X(DEAL_ACTIVE, active)                                                      \
  X(DEAL_CLOSED, closed)
#define TESORO__DEAL_EVENTS(X)                                                \
  X(DEAL_EV_OFFER, offer)                                                     \
  X(DEAL_EV_CLOSE, close)                                                     \
  X(DEAL_EV_CREATE, create)
TESORO__NAMES(DEAL, deal);

static tesoro__hook guard_offer, fx_offer, fx_deal_close, /* and its offers: */
    guard_request_viewing, fx_request_viewing, fx_feed, fx_viewed;
static const tesoro__trans tesoro__deal_rows[] = {
  /* from             event          to            roles    guard        effect  move */
  {TESORO__NEW, DEAL_EV_CREATE, DEAL_ACTIVE, R_STAFF, NULL, NULL, 0},
  {ST(DEAL_ACTIVE),  DEAL_EV_OFFER, TESORO__SAME, R_STAFF, guard_offer, fx_offer, 0},
  {ST(DEAL_ACTIVE),  DEAL_EV_CLOSE, DEAL_CLOSED,  R_STAFF, NULL,        fx_deal_close, 0},
};

/* --- deal property: a listing offered to a deal; the portal's
**     property statuses.  Viewing requests start here. --- */
#define TESORO__DEAL_PROPERTY_STATES(X)                                       \
  X(DP_TO_REVIEW, to_review)                                                  \
  X(DP_INTERESTING, interesting)                                              \
  X(DP_REJECTED, rejected)                                                    \
  X(DP_VIEWED, viewed)                                                        \
  X(DP_APPROVED, approved)
#define TESORO__DEAL_PROPERTY_EVENTS(X)                                       \
  X(DP_EV_REQUEST_VIEWING, request_viewing)                                   \
  X(DP_EV_VIEWING_COMPLETED, viewing_completed)                               \
  X(DP_EV_INTERESTED, interested)                                             \
  X(DP_EV_NOT_INTERESTED, not_interested)                                     \
  X(DP_EV_APPROVE, approve)                                                   \
  X(DP_EV_FAVOURITE, favourite)                                               \
  X(DP_EV_OFFER, offer)                                                       \
  X(DP_EV_NO_SHOW, viewing_no_show)                                           \
  X(DP_EV_NO_SHOW_INTERESTING, viewing_no_show_interesting)
TESORO__NAMES(DEAL_PROPERTY, deal_property);

static const tesoro__trans tesoro__deal_property_rows[] = {
  /* from                                event                    to            roles     guard                  effect  move */
  {TESORO__NEW, DP_EV_OFFER, DP_TO_REVIEW, R_STAFF, NULL, NULL, 0},
  {ALL_STATES,                          DP_EV_REQUEST_VIEWING,   TESORO__SAME, R_CLIENT, guard_request_viewing, fx_request_viewing, 0},
  {ST(DP_TO_REVIEW) | ST(DP_INTERESTING), DP_EV_VIEWING_COMPLETED, DP_VIEWED,  R_SYSTEM, NULL,                  fx_viewed, 0},
  /* a no-show on the viewing that made it viewed: back to where it was */
  {ST(DP_VIEWED),                       DP_EV_NO_SHOW,           DP_TO_REVIEW,   R_SYSTEM, NULL,                NULL, 0},
  {ST(DP_VIEWED),                       DP_EV_NO_SHOW_INTERESTING, DP_INTERESTING, R_SYSTEM, NULL,              NULL, 0},
  /* the client's verdicts in the portal's property feed */
  {ST(DP_TO_REVIEW) | ST(DP_REJECTED),  DP_EV_INTERESTED,        DP_INTERESTING, R_CLIENT, NULL,                fx_feed, 0},
  {ST(DP_TO_REVIEW) | ST(DP_INTERESTING), DP_EV_NOT_INTERESTED,  DP_REJECTED,    R_CLIENT, NULL,                fx_feed, 0},
  {ST(DP_INTERESTING) | ST(DP_VIEWED),  DP_EV_APPROVE,           DP_APPROVED,    R_CLIENT, NULL,                fx_feed, 0},
  {ALL_STATES,                          DP_EV_FAVOURITE,         TESORO__SAME,   R_CLIENT, NULL,                fx_feed, 0},
};

/* --- appointment: a viewing.  Created pending by the deal
**     property's request_viewing; the timers of section 10 fire complete,
**     send_reminder and request_feedback. --- */
#define TESORO__APPOINTMENT_STATES(X)                                         \
  X(APPT_PENDING, pending)                                                    \
  X(APPT_CONFIRMED, confirmed)                                                \
  X(APPT_COMPLETED, completed)                                                \
  X(APPT_CANCELLED, cancelled)                                                \
  X(APPT_REJECTED, rejected)
#define TESORO__APPOINTMENT_EVENTS(X)                                         \
  X(APPT_EV_CONFIRM, confirm)                                                 \
  X(APPT_EV_RESCHEDULE, reschedule)                                           \
  X(APPT_EV_REJECT, reject)                                                   \
  X(APPT_EV_CANCEL, cancel)                                                   \
  X(APPT_EV_START_VIEWING, start_viewing)                                     \
  X(APPT_EV_COMPLETE, complete)                                               \
  X(APPT_EV_RECORD_NO_SHOW, record_no_show)                                   \
  X(APPT_EV_SEND_REMINDER, send_reminder)                                     \
  X(APPT_EV_REQUEST_FEEDBACK, request_feedback)                               \
  X(APPT_EV_ADD_NOTE, add_note)                                               \
  X(APPT_EV_RATE, rate)                                                       \
  X(APPT_EV_ADD_DOCUMENT, add_document)                                       \
  X(APPT_EV_REQUEST, request)
TESORO__NAMES(APPOINTMENT, appointment);


#define APPT_LIVE (ST(APPT_PENDING) | ST(APPT_CONFIRMED))
static tesoro__hook fx_requested, guard_start_time, fx_schedule,
    fx_appointment_end, guard_cancel_reason, guard_viewing_day, fx_completed,
    guard_viewing_ended, guard_no_show, fx_no_show, guard_reminder_ahead,
    fx_reminder, fx_appointment_note, fx_rate;
static const tesoro__trans tesoro__appointment_rows[] = {
  /* from                event                     to              roles               guard                effect  move */
  {TESORO__NEW, APPT_EV_REQUEST, APPT_PENDING, R_CLIENT, NULL, fx_requested, 0},
  {ST(APPT_PENDING),    APPT_EV_CONFIRM,          APPT_CONFIRMED, R_STAFF,            guard_start_time,    fx_schedule,        S_APPOINTMENT_MOVE_START},
  {ST(APPT_CONFIRMED),  APPT_EV_RESCHEDULE,       TESORO__SAME,   R_STAFF,            guard_start_time,    fx_schedule,        S_APPOINTMENT_MOVE_START},
  {ST(APPT_PENDING),    APPT_EV_REJECT,           APPT_REJECTED,  R_STAFF,            NULL,                fx_appointment_end, S_APPOINTMENT_MOVE_END},
  {APPT_LIVE,           APPT_EV_CANCEL,           APPT_CANCELLED, R_STAFF | R_CLIENT, guard_cancel_reason, fx_appointment_end, S_APPOINTMENT_MOVE_END},
  {ST(APPT_CONFIRMED),  APPT_EV_START_VIEWING,    APPT_COMPLETED, R_CLIENT,           guard_viewing_day,   fx_completed,       S_APPOINTMENT_MOVE_COMPLETED},
  {ST(APPT_CONFIRMED),  APPT_EV_COMPLETE,         APPT_COMPLETED, R_SYSTEM,           guard_viewing_ended,  fx_completed,       S_APPOINTMENT_MOVE_COMPLETED},
  {ST(APPT_COMPLETED),  APPT_EV_RECORD_NO_SHOW,   TESORO__SAME,   R_STAFF,            guard_no_show,       fx_no_show,         S_APPOINTMENT_MOVE_NO_SHOW},
  {ST(APPT_CONFIRMED),  APPT_EV_SEND_REMINDER,    TESORO__SAME,   R_SYSTEM,           guard_reminder_ahead, fx_reminder,   0},
  {ST(APPT_COMPLETED),  APPT_EV_REQUEST_FEEDBACK, TESORO__SAME,   R_SYSTEM,           NULL,                NULL, 0},
  /* after the viewing, only the client: notes, a rating, photos and voice notes */
  {ST(APPT_COMPLETED),  APPT_EV_ADD_NOTE,         TESORO__SAME,   R_CLIENT,           NULL,                fx_appointment_note, 0},
  {ST(APPT_COMPLETED),  APPT_EV_RATE,             TESORO__SAME,   R_CLIENT,           NULL,                fx_rate, 0},
  {ST(APPT_COMPLETED),  APPT_EV_ADD_DOCUMENT,     TESORO__SAME,   R_CLIENT,           NULL,                fx_document, 0},
};
/* The other side hears of each step of the viewing; the owner is the
** appointment's own agent (agent_appointment). */
#define APPT_CHANGED "Meeting Status Changed By Portal User"
static const tesoro__notice tesoro__appointment_notices[] = {
  /* event                   by        to         channels                      template                          summary */
  {APPT_EV_REQUEST,          0,        TO_AGENT,  CH_CRM | CH_PUSH | CH_EMAIL, "Meeting Created By Portal User",   "Viewing requested"},
  {APPT_EV_CONFIRM,          0,        TO_CLIENT, 0,                           APPT_CHANGED,                       "Viewing confirmed"},
  {APPT_EV_RESCHEDULE,       0,        TO_CLIENT, 0,                           APPT_CHANGED,                       "Viewing rescheduled"},
  {APPT_EV_REJECT,           R_STAFF,  TO_CLIENT, 0,                           APPT_CHANGED,                       NULL},
  {APPT_EV_CANCEL,           R_STAFF,  TO_CLIENT, 0,                           APPT_CHANGED,                       NULL},
  {APPT_EV_CANCEL,           R_CLIENT, TO_AGENT,  CH_CRM | CH_PUSH | CH_EMAIL, "Meeting Cancelled By Portal User", NULL},
  {APPT_EV_SEND_REMINDER,    0,        TO_CLIENT, CH_EMAIL | CH_PUSH,          "Viewing Reminder",                 "Viewing coming up"},
  {APPT_EV_SEND_REMINDER,    0,        TO_AGENT,  CH_CRM | CH_PUSH,            "Viewing Reminder",                 "Viewing coming up"},
  {APPT_EV_REQUEST_FEEDBACK, 0,        TO_CLIENT, 0,                           "Viewing Feedback Request",         "How was the viewing?"},
};
#undef APPT_CHANGED

/* --- referral: the stages, in the pipeline's order (this
**     list's order is the order), then closed_paid; failed outside it.  The
**     event of a move is the stage moved to.  Each stage's public number is
**     its TESORO_STAGE_*, fixed for ever: a stage added mid-pipeline takes
**     the next free number and its place in this list. --- */
#define TESORO__REFERRAL_STAGES(X)                                            \
  X(LEFT_VOICEMAIL, left_voicemail)                                           \
  X(CONNECTED, connected)                                                     \
  X(MEETING_SCHEDULED, meeting_scheduled)                                     \
  X(MET_WITH_PERSON, met_with_person)                                         \
  X(COMING_SOON, coming_soon)                                                 \
  X(MAKING_AN_OFFER, making_an_offer)                                         \
  X(LISTING, listing)                                                         \
  X(IN_ESCROW, in_escrow)                                                     \
  X(CLOSED, closed)                                                           \
  X(CLOSED_PAID, closed_paid)                                                 \
  X(FAILED, failed)
#define RF_STATE(NAME, name) RF_##NAME,
enum { TESORO__REFERRAL_STAGES(RF_STATE) RF_EV_ADD_NOTE, RF_EV_CREATE };
#undef RF_STATE
#define RF_NAME(NAME, name) #name,
static const char *const tesoro__referral_states[] = {
    TESORO__REFERRAL_STAGES(RF_NAME)};
static const char *const tesoro__referral_events[] = {
    TESORO__REFERRAL_STAGES(RF_NAME) "add_note", "create"};
#undef RF_NAME
/* A TESORO_STAGE_* number's state + 1 (0: no such stage), and a state's
** TESORO_STAGE_* number. */
#define RF_OF_STAGE(NAME, name) [TESORO_STAGE_##NAME] = RF_##NAME + 1,
static const int tesoro__stage_state[] = {TESORO__REFERRAL_STAGES(RF_OF_STAGE)};
#undef RF_OF_STAGE
#define RF_STAGE_OF(NAME, name) [RF_##NAME] = TESORO_STAGE_##NAME,
static const int tesoro__state_stage[] = {TESORO__REFERRAL_STAGES(RF_STAGE_OF)};
#undef RF_STAGE_OF

/* The state of public stage number `stage`, or -1. */
static int tesoro__stage_to_state(int stage) {
  if (stage < 1 || stage >= COUNT(tesoro__stage_state)) return -1;
  return tesoro__stage_state[stage] - 1;
}


#define RF_BEFORE(s) (ST(s) - 1u) /* every stage before s in the order */
/* The stages a staff move reaches both forward and back from failed, with
** the guard of arriving there; a row of each kind by RF_FORWARD/RF_BACK. */
#define RF_MIDDLE_STAGES(X)                                                   \
  X(CONNECTED, guard_stage)                                                   \
  X(MEETING_SCHEDULED, guard_stage)                                           \
  X(MET_WITH_PERSON, guard_stage)                                             \
  X(COMING_SOON, guard_coming_soon)                                           \
  X(MAKING_AN_OFFER, guard_stage)                                             \
  X(LISTING, guard_stage)                                                     \
  X(IN_ESCROW, guard_stage)
#define RF_FORWARD(NAME, guard_name)                                          \
  {.from = RF_BEFORE(RF_##NAME), .event = RF_##NAME, .to = RF_##NAME,         \
   .roles = R_STAFF, .guard = guard_name, .effect = fx_stage},
#define RF_BACK(NAME, guard_name)                                             \
  {.from = ST(RF_FAILED), .event = RF_##NAME, .to = RF_##NAME,                \
   .roles = R_STAFF, .guard = guard_name, .effect = fx_stage},
static tesoro__hook guard_stage, fx_stage, guard_coming_soon, guard_list_date,
    guard_attempt, fx_referral_note;
static const tesoro__trans tesoro__referral_rows[] = {
  /* from                    event                to                  roles       guard            effect  move */
  {TESORO__NEW, RF_EV_CREATE, RF_LEFT_VOICEMAIL, R_STAFF, NULL, NULL, 0},
  /* forward, to any later active stage */
  RF_MIDDLE_STAGES(RF_FORWARD)
  RF_FORWARD(CLOSED, guard_stage)
  /* out of escrow, back to the market or the offer: the closings team */
  {ST(RF_IN_ESCROW),                RF_LISTING,           RF_LISTING,           R_CLOSINGS, guard_stage,     fx_stage, 0},
  {ST(RF_IN_ESCROW),                RF_MAKING_AN_OFFER,   RF_MAKING_AN_OFFER,   R_CLOSINGS, guard_stage,     fx_stage, 0},
  /* the list date has come (tesoro_tick) */
  {ST(RF_COMING_SOON),              RF_LISTING,           RF_LISTING,           R_SYSTEM,   guard_list_date, fx_stage, 0},
  /* the payment is recorded: the closings team */
  {ST(RF_CLOSED),                   RF_CLOSED_PAID,       RF_CLOSED_PAID,       R_CLOSINGS, guard_stage,     fx_stage, 0},
  {RF_BEFORE(RF_CLOSED),            RF_FAILED,            RF_FAILED,            R_STAFF,    guard_stage,     fx_stage, 0},
  /* another attempt to reach the client, recorded as data (seed: voicemail,
     text, e-mail) while nobody has been reached */
  {ST(RF_LEFT_VOICEMAIL),           RF_LEFT_VOICEMAIL,    RF_LEFT_VOICEMAIL,    R_STAFF,    guard_attempt,   fx_stage, 0},
  /* from failed, back to the last active stage only (the guard) */
  RF_BACK(LEFT_VOICEMAIL, guard_stage)
  RF_MIDDLE_STAGES(RF_BACK)
  /* notes are always allowed */
  {ALL_STATES,                      RF_EV_ADD_NOTE,       TESORO__SAME,         R_STAFF,    NULL,            fx_referral_note, 0},
};
/* Escrow opened: the referral's agent gets the closing documents. */
static const tesoro__notice tesoro__referral_notices[] = {
  /* event       by  to        channels          template             summary */
  {RF_IN_ESCROW, 0,  TO_AGENT, CH_CRM | CH_EMAIL, "Closing Documents", "Closing documents for the referral"},
};

/* --- portal account: its states are the onboarding steps.
**     Passwords and codes are checked before the engine runs (hashing is
**     slow and must not hold the write lock); the guards re-check what the
**     time or a concurrent call may have changed. --- */
#define TESORO__PORTAL_ACCOUNT_STATES(X)                                      \
  X(PA_UNVERIFIED, unverified)                                                \
  X(PA_SET_PASSWORD, set_password)                                            \
  X(PA_WELCOME, welcome)                                                      \
  X(PA_TOUR, tour)                                                            \
  X(PA_READY, ready)
#define TESORO__PORTAL_ACCOUNT_EVENTS(X)                                      \
  X(PA_EV_REGISTER, register)                                                 \
  X(PA_EV_VERIFY, verify)                                                     \
  X(PA_EV_CODE_FAILED, code_failed)                                           \
  X(PA_EV_LOGIN, login)                                                       \
  X(PA_EV_LOGIN_FAILED, login_failed)                                         \
  X(PA_EV_CHANGE_PASSWORD, change_password)                                   \
  X(PA_EV_FINISH_WELCOME, finish_welcome)                                     \
  X(PA_EV_FINISH_TOUR, finish_tour)                                           \
  X(PA_EV_SKIP_TOUR, skip_tour)                                               \
  X(PA_EV_RESTART_TOUR, restart_tour)                                         \
  X(PA_EV_SET_LANGUAGE, set_language)                                         \
  X(PA_EV_CONTACT_AGENT, contact_agent)                                       \
  X(PA_EV_REGISTER_ATTEMPT, register_attempt)                                 \
  X(PA_EV_REQUEST_RESET, request_reset)                                       \
  X(PA_EV_RESET_PASSWORD, reset_password)                                     \
  X(PA_EV_RESET_FAILED, reset_failed)                                         \
  X(PA_EV_RESEND_INVITATION, resend_invitation)                               \
  X(PA_EV_DEACTIVATE, deactivate)                                             \
  X(PA_EV_LOGOUT, logout)                                                     \
  X(PA_EV_CREATE, create)
TESORO__NAMES(PORTAL_ACCOUNT, portal_account);

#define PA_ACTIVE (ST(PA_SET_PASSWORD) | ST(PA_WELCOME) | ST(PA_TOUR) | ST(PA_READY))
#define PA_ONBOARDED (ST(PA_WELCOME) | ST(PA_TOUR) | ST(PA_READY))
static tesoro__hook fx_portal_register, guard_code, fx_portal_verify,
    fx_portal_code_failed, guard_unlocked, fx_portal_login,
    fx_portal_login_failed, fx_portal_password, fx_portal_step,
    fx_portal_language, fx_portal_contact_agent, fx_portal_register_attempt,
    fx_portal_request_reset, fx_portal_reset_failed, fx_portal_resend,
    fx_portal_deactivate, fx_portal_logout;
static const tesoro__trans tesoro__portal_account_rows[] = {
  /* from               event                  to               roles                 guard           effect  move */
  {TESORO__NEW, PA_EV_CREATE, PA_SET_PASSWORD, R_STAFF, NULL, NULL, 0},
  {TESORO__NEW, PA_EV_REGISTER, PA_UNVERIFIED, R_WEBSITE, NULL, NULL, 0},
  {ST(PA_UNVERIFIED),  PA_EV_REGISTER,        TESORO__SAME,    R_WEBSITE,            NULL,           fx_portal_register, 0},
  {ST(PA_UNVERIFIED),  PA_EV_VERIFY,          PA_WELCOME,      R_WEBSITE,            guard_code,     fx_portal_verify, 0},
  {ST(PA_UNVERIFIED),  PA_EV_CODE_FAILED,     TESORO__SAME,    R_WEBSITE,            guard_code,     fx_portal_code_failed, 0},
  {PA_ACTIVE,          PA_EV_LOGIN,           TESORO__SAME,    R_CLIENT,             guard_unlocked, fx_portal_login, 0},
  {PA_ACTIVE,          PA_EV_LOGIN_FAILED,    TESORO__SAME,    R_WEBSITE | R_CLIENT, guard_unlocked, fx_portal_login_failed, 0},
  {ST(PA_SET_PASSWORD), PA_EV_CHANGE_PASSWORD, PA_WELCOME,     R_CLIENT,             guard_unlocked, fx_portal_password, 0},
  {PA_ONBOARDED,       PA_EV_CHANGE_PASSWORD, TESORO__SAME,    R_CLIENT,             guard_unlocked, fx_portal_password, 0},
  /* onboarding: welcome slides, then the tour, which can be skipped and restarted */
  {ST(PA_WELCOME),     PA_EV_FINISH_WELCOME,  PA_TOUR,         R_CLIENT,             NULL,           fx_portal_step, 0},
  {ST(PA_TOUR),        PA_EV_FINISH_TOUR,     PA_READY,        R_CLIENT,             NULL,           fx_portal_step, 0},
  {ST(PA_TOUR),        PA_EV_SKIP_TOUR,       PA_READY,        R_CLIENT,             NULL,           fx_portal_step, 0},
  {ST(PA_READY),       PA_EV_RESTART_TOUR,    PA_TOUR,         R_CLIENT,             NULL,           fx_portal_step, 0},
  {PA_ONBOARDED,       PA_EV_SET_LANGUAGE,    TESORO__SAME,    R_CLIENT,             NULL,           fx_portal_language, 0},
  {PA_ONBOARDED,       PA_EV_CONTACT_AGENT,   TESORO__SAME,    R_CLIENT,             NULL,           fx_portal_contact_agent, 0},
  /* someone registers an e-mail an account has: its owner is told */
  {PA_ACTIVE,          PA_EV_REGISTER_ATTEMPT, TESORO__SAME,   R_WEBSITE,            NULL,           fx_portal_register_attempt, 0},
  /* a forgotten password: the secret by e-mail, then a new password */
  {PA_ACTIVE,          PA_EV_REQUEST_RESET,   TESORO__SAME,    R_WEBSITE,            NULL,           fx_portal_request_reset, 0},
  {ST(PA_SET_PASSWORD), PA_EV_RESET_PASSWORD, PA_WELCOME,      R_WEBSITE,            NULL,           fx_portal_password, 0},
  {PA_ONBOARDED,       PA_EV_RESET_PASSWORD,  TESORO__SAME,    R_WEBSITE,            NULL,           fx_portal_password, 0},
  {PA_ACTIVE,          PA_EV_RESET_FAILED,    TESORO__SAME,    R_WEBSITE,            NULL,           fx_portal_reset_failed, 0},
  /* staff: a new invitation (a new temporary password), or switch it off */
  {PA_ACTIVE,          PA_EV_RESEND_INVITATION, PA_SET_PASSWORD, R_STAFF,          NULL,           fx_portal_resend, 0},
  {PA_ACTIVE,          PA_EV_DEACTIVATE,      TESORO__SAME,    R_STAFF,              NULL,           fx_portal_deactivate, 0},
  {PA_ACTIVE,          PA_EV_LOGOUT,          TESORO__SAME,    R_WEBSITE,            NULL,           fx_portal_logout, 0},
};
/* The login (and a new temporary password) and the reset secret travel
** in the extra; tesoro_outbox_ack removes a secret once delivered. */
static const tesoro__notice tesoro__portal_account_notices[] = {
  /* event                    by  to         channels template                summary */
  {PA_EV_CREATE,              0,  TO_CLIENT, 0, "Portal Invitation",     "Your account for the client portal"},
  {PA_EV_RESEND_INVITATION,   0,  TO_CLIENT, 0, "Portal Invitation",     "Your account for the client portal"},
  {PA_EV_VERIFY,              0,  TO_STAFF,  0, "Portal Registration",   "A client registered on the portal"},
  {PA_EV_REQUEST_RESET,       0,  TO_CLIENT, 0, "Portal Password Reset", "Reset your portal password"},
  {PA_EV_REGISTER_ATTEMPT,    0,  TO_CLIENT, 0, "Portal Account Exists", "Someone tried to register with your e-mail: log in, or reset your password"},
  /* the summary: the client's message */
  {PA_EV_CONTACT_AGENT,       0,  TO_STAFF,  0, "Contact Agent",         NULL},
};

/* --- web customer: the prospect holding tank.  Every website
**     event about the customer is an event of this machine (a history row
**     with the website as actor); its effect, in section 17, does the
**     type's work.  The CRM's own exchange changes are staff events. --- */
#define TESORO__WEB_CUSTOMER_STATES(X)                                        \
  X(WC_PROSPECT, prospect)                                                    \
  X(WC_APPROVED, approved)                                                    \
  X(WC_DISCARDED, discarded)
/* The website's own events about a customer: each keeps the state and
** runs fx_web_event (a row each, WC_WEB_ROW). */
#define TESORO__WEB_EVENTS(X)                                                 \
  X(WC_EV_CUSTOMER, customer)                                                 \
  X(WC_EV_VISIT, visit)                                                       \
  X(WC_EV_IMPLIED_SEARCH, implied_search)                                     \
  X(WC_EV_SAVED_SEARCH, saved_search)                                         \
  X(WC_EV_SEARCH_DELETED, search_deleted)                                     \
  X(WC_EV_PROPERTY_VIEW, property_view)                                       \
  X(WC_EV_PROPERTY_SAVE, property_save)                                       \
  X(WC_EV_PROPERTY_RANK, property_rank)                                       \
  X(WC_EV_ENQUIRY, enquiry)                                                   \
  X(WC_EV_GROUP, group)                                                       \
  X(WC_EV_VENDOR_CLAIM, vendor_claim)                                         \
  X(WC_EV_CONSENT, consent)
#define TESORO__WEB_CUSTOMER_EVENTS(X)                                        \
  X(WC_EV_APPROVE, approve)                                                   \
  X(WC_EV_DISCARD, discard)                                                   \
  TESORO__WEB_EVENTS(X)                                                       \
  X(WC_EV_REGISTER_INTEREST, register_interest)                               \
  X(WC_EV_SET_GROUP, set_group)                                               \
  X(WC_EV_CONFIRM_VENDOR, confirm_vendor)                                     \
  X(WC_EV_CREATE, create)
TESORO__NAMES(WEB_CUSTOMER, web_customer);

#define WC_WEB_ROW(id, name)                                                  \
  {.from = ALL_STATES, .event = id, .to = TESORO__SAME, .roles = R_WEBSITE,   \
   .effect = fx_web_event},
static tesoro__hook guard_customer_live, fx_customer_approve,
    guard_customer_discard, fx_customer_discard, fx_web_event, fx_crm_exchange;
static const tesoro__trans tesoro__web_customer_rows[] = {
  /* from              event                    to             roles      guard         effect  move */
  {TESORO__NEW, WC_EV_CREATE, WC_PROSPECT, R_WEBSITE, NULL, NULL, 0},
  {TESORO__NEW, WC_EV_CREATE, WC_APPROVED, R_WEBSITE | R_STAFF, NULL, NULL, 0},
  {ST(WC_PROSPECT),   WC_EV_APPROVE,           WC_APPROVED,   R_STAFF,   guard_customer_live, fx_customer_approve, 0},
  {ST(WC_PROSPECT),   WC_EV_DISCARD,           WC_DISCARDED,  R_STAFF,   guard_customer_discard, fx_customer_discard, 0},
  TESORO__WEB_EVENTS(WC_WEB_ROW)
  /* the CRM tells the website (capabilities 9, 12, 14) */
  {ST(WC_APPROVED),   WC_EV_REGISTER_INTEREST, TESORO__SAME,  R_STAFF,   NULL,         fx_crm_exchange, 0},
  {ST(WC_APPROVED),   WC_EV_SET_GROUP,         TESORO__SAME,  R_STAFF,   NULL,         fx_crm_exchange, 0},
  {ST(WC_APPROVED),   WC_EV_CONFIRM_VENDOR,    TESORO__SAME,  R_STAFF,   NULL,         fx_crm_exchange, 0},
};

/* --- search: a customer's criteria, from the website (soft or
**     hard) or set in the CRM (hard, capability 6). --- */
#define TESORO__SEARCH_STATES(X)                                              \
  X(SEARCH_ACTIVE, active)                                                    \
  X(SEARCH_DELETED, deleted)
#define TESORO__SEARCH_EVENTS(X)                                              \
  X(SEARCH_EV_SAVE, save)                                                     \
  X(SEARCH_EV_DELETE, delete)                                                 \
  X(SEARCH_EV_CREATE, create)
TESORO__NAMES(SEARCH, search);

static tesoro__hook fx_search_save, fx_search_delete;
static const tesoro__trans tesoro__search_rows[] = {
  /* from               event             to              roles                guard  effect  move */
  {TESORO__NEW, SEARCH_EV_CREATE, SEARCH_ACTIVE, R_STAFF | R_WEBSITE, NULL, NULL, 0},
  {TESORO__NEW, SEARCH_EV_CREATE, SEARCH_DELETED, R_WEBSITE, NULL, NULL, 0},
  {ST(SEARCH_ACTIVE),  SEARCH_EV_SAVE,   SEARCH_ACTIVE,  R_STAFF | R_WEBSITE, NULL,  fx_search_save, 0},
  /* a newer save from the website brings a deleted search back */
  {ST(SEARCH_DELETED), SEARCH_EV_SAVE,   SEARCH_ACTIVE,  R_WEBSITE,           NULL,  fx_search_save, 0},
  {ST(SEARCH_ACTIVE),  SEARCH_EV_DELETE, SEARCH_DELETED, R_STAFF | R_WEBSITE, NULL,  fx_search_delete, 0},
};

/* --- vendor claim (capabilities 13 and 14) --- */
#define TESORO__VENDOR_CLAIM_STATES(X)                                        \
  X(VC_CLAIMED, claimed)                                                      \
  X(VC_CONFIRMED, confirmed)                                                  \
  X(VC_REJECTED, rejected)
#define TESORO__VENDOR_CLAIM_EVENTS(X)                                        \
  X(VC_EV_CONFIRM, confirm)                                                   \
  X(VC_EV_REJECT, reject)                                                     \
  X(VC_EV_CREATE, create)
TESORO__NAMES(VENDOR_CLAIM, vendor_claim);

static tesoro__hook fx_vendor_claim_end, guard_reason;
static const tesoro__trans tesoro__vendor_claim_rows[] = {
  /* from            event          to            roles    guard         effect  move */
  {TESORO__NEW, VC_EV_CREATE, VC_CLAIMED, R_WEBSITE, NULL, NULL, 0},
  {ST(VC_CLAIMED),  VC_EV_CONFIRM, VC_CONFIRMED, R_STAFF, NULL,         fx_vendor_claim_end, 0},
  {ST(VC_CLAIMED),  VC_EV_REJECT,  VC_REJECTED,  R_STAFF, guard_reason, fx_vendor_claim_end, 0},
};

/* A machine's parts found by its registry names (section 1): its states,
** events and rows (tesoro__<name>_states, ...), its load and move
** statements (S_<NAME>_LOAD, S_<NAME>_SET_STATE).  The rest is named per
** machine below; what is not named is 0. */
#define TESORO__MACHINE_PARTS(NAME, lower)                                     \
  .entity = TESORO_ENTITY_##NAME, .name = #lower,                              \
  .states = tesoro__##lower##_states,                                          \
  .nstates = COUNT(tesoro__##lower##_states),                                  \
  .events = tesoro__##lower##_events,                                          \
  .nevents = COUNT(tesoro__##lower##_events), .rows = tesoro__##lower##_rows,   \
  .nrows = COUNT(tesoro__##lower##_rows), .load = S_##NAME##_LOAD,             \
  .set_state = S_##NAME##_SET_STATE
/* A machine's notice rows, tesoro__<name>_notices. */
#define TESORO__NOTICES(lower)                                                 \
  .notices = tesoro__##lower##_notices,                                        \
  .nnotices = COUNT(tesoro__##lower##_notices)

static const tesoro__machine tesoro__room_machine = {
    TESORO__MACHINE_PARTS(ROOM, room), TESORO__NOTICES(room)};
static const tesoro__machine tesoro__mandate_machine = {
    TESORO__MACHINE_PARTS(MANDATE, mandate), TESORO__NOTICES(mandate)};
static const tesoro__machine tesoro__listing_machine = {
    TESORO__MACHINE_PARTS(LISTING, listing)};
static const tesoro__machine tesoro__task_machine = {
    TESORO__MACHINE_PARTS(TASK, task)};
static const tesoro__machine tesoro__deal_machine = {
    TESORO__MACHINE_PARTS(DEAL, deal), .portal = 1};
static const tesoro__machine tesoro__deal_property_machine = {
    TESORO__MACHINE_PARTS(DEAL_PROPERTY, deal_property), .portal = 1};
static const tesoro__machine tesoro__appointment_machine = {
    TESORO__MACHINE_PARTS(APPOINTMENT, appointment), .portal = 1,
    TESORO__NOTICES(appointment), .agent = agent_appointment,
    .lines_on_history = 1};
static const tesoro__machine tesoro__referral_machine = {
    TESORO__MACHINE_PARTS(REFERRAL, referral), .explain = explain_referral,
    .insiders = R_STAFF | R_SYSTEM, TESORO__NOTICES(referral),
    .agent = agent_referral};
static const tesoro__machine tesoro__portal_account_machine = {
    TESORO__MACHINE_PARTS(PORTAL_ACCOUNT, portal_account), .portal = 1,
    TESORO__NOTICES(portal_account)};
/* The exchange's entities: staff and the website act, only staff read. */
static const tesoro__machine tesoro__web_customer_machine = {
    TESORO__MACHINE_PARTS(WEB_CUSTOMER, web_customer),
    .insiders = R_STAFF | R_WEBSITE | R_SYSTEM,
    .keep_state = S_WEB_CUSTOMER_KEEP_STATE, .fold = S_WEB_CUSTOMER_FOLDED};
static const tesoro__machine tesoro__search_machine = {
    TESORO__MACHINE_PARTS(SEARCH, search),
    .insiders = R_STAFF | R_WEBSITE | R_SYSTEM};
static const tesoro__machine tesoro__vendor_claim_machine = {
    TESORO__MACHINE_PARTS(VENDOR_CLAIM, vendor_claim),
    .insiders = R_STAFF | R_WEBSITE | R_SYSTEM};

/* The machine of an entity kind, or NULL (contacts have none). */
static const tesoro__machine *tesoro__machine_of(int entity) {
#define TESORO__MACHINE_SLOT(NAME, name, rows)                                \
  [TESORO_ENTITY_##NAME] = &tesoro__##name##_machine,
  static const tesoro__machine *const machines[TESORO__ENTITY_MAX + 1] = {
      TESORO__MACHINES(TESORO__MACHINE_SLOT)};
#undef TESORO__MACHINE_SLOT
  return entity >= 1 && entity <= TESORO__ENTITY_MAX ? machines[entity] : NULL;
}

static int tesoro__event_index(const tesoro__machine *m, const char *event) {
  for (int i = 0; i < m->nevents; i++)
    if (strcmp(m->events[i], event) == 0) return i;
  return -1;
}

/* Does any row of `event` start from the state named `state`?  Effects ask
** the table instead of repeating its states ("can this mandate still be
** cancelled?"). */
static int tesoro__event_from(const tesoro__machine *m, int event,
                              const char *state) {
  for (int s = 0; state && s < m->nstates; s++) {
    if (strcmp(state, m->states[s]) != 0) continue;
    for (int i = 0; i < m->nrows; i++)
      if (m->rows[i].event == event && (m->rows[i].from & ST(s))) return 1;
  }
  return 0;
}

/* =========================================================================
** 9. Engine
**
** tesoro__fire applies one event to one entity: load it, check reach and
** version, find the row for (state, event) — none: ESTATE; none for this
** actor: EDENIED — run the guard (EGUARD), move the state with a
** compare-and-set on the version, run the effect, write the history row
** (its key, the entity's new version, is known before: what the effect
** queues names it; the row follows with the id the effect made).
** It never opens a transaction: the public call around it does, so an
** effect may fire further events (a lost room cancels its mandate) and
** everything commits or rolls back together.
*/

/* Write one history row, (entity, id, seq).  During an import, an entity's
** first row says the record made it (tesoro__import_fold). */
static int tesoro__history(tesoro *t, int64_t agency, int entity, int64_t id,
                           int64_t seq, const char *event, const char *from,
                           const char *to, int64_t actor, int64_t at,
                           const char *reason, int64_t ref,
                           const struct tesoro__line *line) {
  sqlite3_stmt *s;
  if ((s = tesoro__stmt(t, S_HISTORY_INSERT)) == NULL) return t->rc;
  if (t->importing && seq == 1) {
    if (t->import_made.n == COUNT(t->import_made.made))
      return tesoro__fail(t, TESORO_EDB, "an import record made more than %d "
                          "entities", COUNT(t->import_made.made));
    t->import_made.made[t->import_made.n].entity = entity;
    t->import_made.made[t->import_made.n++].id = id;
  }
  sqlite3_bind_int64(s, 1, agency);
  sqlite3_bind_int(s, 2, entity);
  sqlite3_bind_int64(s, 3, id);
  sqlite3_bind_int64(s, 4, seq);
  sqlite3_bind_text(s, 5, event, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 6, from, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 7, to, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 8, actor);
  sqlite3_bind_int64(s, 9, at);
  sqlite3_bind_text(s, 10, reason, -1, SQLITE_STATIC);
  if (ref) sqlite3_bind_int64(s, 11, ref);
  if (line && line->kind[0]) { /* the transition's timeline line */
    sqlite3_bind_text(s, 12, line->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 13, line->summary, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 14, line->ns);
  }
  return tesoro__run(t, s);
}

/*
** An erased contact is frozen: no write may name it, so that personal data
** cannot flow back in (ESTATE).  The system is exempt: what erasure left
** running (a timer) still ends by itself.
*/
static int tesoro__contact_writable(tesoro *t, const tesoro__actor *a,
                                    int64_t contact) {
  sqlite3_stmt *s;
  int erased = 0, rc;
  if (contact <= 0 || a->kind == TESORO_ACTOR_SYSTEM) return TESORO_OK;
  for (int i = 0; t->writing && i < t->live_contacts.n; i++)
    if (t->live_contacts.id[i] == contact) return TESORO_OK;
  if ((s = TESORO__STMT(t, S_CONTACT_ERASED, BIND_I(contact))) == NULL)
    return t->rc;
  if ((rc = tesoro__row(t, s)) == TESORO_ROW) erased = sqlite3_column_int(s, 1);
  sqlite3_reset(s);
  if (rc < 0) return rc;
  if (erased)
    return tesoro__fail(t, TESORO_ESTATE,
                        "contact %lld was erased; nothing may be written about "
                        "it", (long long)contact);
  if (t->writing) {
    int n = COUNT(t->live_contacts.id);
    t->live_contacts.id[t->live_contacts.n < n ? t->live_contacts.n++
                                               : t->live_contacts.next++ % n] =
        contact;
  }
  return TESORO_OK;
}

/* Load the entity's owner, state and version into the context, and check
** the actor may reach it. */
static int tesoro__load(tesoro__ctx *c) {
  tesoro *t = c->t;
  sqlite3_stmt *s;
  const char *state;
  int rc;
  if ((rc = tesoro__find(t, c->m->load, c->m->name, c->id, &s))) return rc;
  c->agency = sqlite3_column_int64(s, 0);
  c->contact = sqlite3_column_int64(s, 1);
  state = (const char *)sqlite3_column_text(s, 2);
  c->version = sqlite3_column_int64(s, 3);
  for (int i = 0; i < COUNT(c->before) && 4 + i < sqlite3_column_count(s); i++)
    c->before[i] = sqlite3_column_int64(s, 4 + i);
  c->from = -1;
  for (int i = 0; state && i < c->m->nstates; i++)
    if (strcmp(state, c->m->states[i]) == 0) c->from = i;
  sqlite3_reset(s);
  if (c->from < 0)
    return tesoro__fail(t, TESORO_EDB, "%s %lld has an unknown state",
                        c->m->name, (long long)c->id);
  if ((rc = tesoro__reach(t, c->actor, c->m->name, c->id, c->agency,
                          c->contact)))
    return rc;
  /* Refuse outsiders of a staff-only machine before its state or version
  ** can show through a refusal message. */
  if (c->m->insiders &&
      (rc = tesoro__require(t, c->actor, c->m->insiders, "act on this")))
    return rc;
  /* The account's own machine lets the temporary password be replaced. */
  if (c->m->portal && c->actor->kind == TESORO_ACTOR_CLIENT)
    return tesoro__portal_gate(t, c->actor,
                               c->m->entity == TESORO_ENTITY_PORTAL_ACCOUNT);
  return TESORO_OK;
}

/* The row for the context's (state, event, actor), or ESTATE / EDENIED
** with a message naming the states or roles the event needs. */
static int tesoro__match(tesoro__ctx *c, const tesoro__trans **out) {
  const tesoro__machine *m = c->m;
  uint32_t states = 0;
  int roles = 0;
  for (int i = 0; i < m->nrows; i++) {
    const tesoro__trans *r = &m->rows[i];
    if (r->event != c->event) continue;
    states |= r->from;
    if (!(r->from & ST(c->from))) continue;
    roles |= r->roles;
    if (r->roles & c->actor->bit) {
      *out = r;
      return TESORO_OK;
    }
  }
  if (roles == 0) {
    char list[160];
    size_t used = 0;
    list[0] = 0;
    for (int s = 0; s < m->nstates; s++)
      if ((states & ST(s)) && used < sizeof list)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                 used ? " or " : "", m->states[s]);
    tesoro__fail(c->t, TESORO_ESTATE, "%s %lld is %s; %s needs it %s",
                 m->name, (long long)c->id, m->states[c->from],
                 m->events[c->event], used ? list : "in another state");
    return m->explain ? m->explain(c, TESORO_ESTATE) : TESORO_ESTATE;
  } else {
    char action[96];
    int rc;
    snprintf(action, sizeof action, "%s %s %lld", m->events[c->event], m->name,
             (long long)c->id);
    rc = tesoro__require(c->t, c->actor, roles, action);
    return m->explain ? m->explain(c, rc) : rc;
  }
}

static int tesoro__notices(tesoro__ctx *c);
static void tesoro__notice_clear(tesoro__ctx *c);

/* A row's effect, then the machine's notice rows for what it did (section
** 10); the notice data the effect left is wiped either way. */
static int tesoro__effect(tesoro__ctx *c, const tesoro__trans *row) {
  int rc = row->effect ? row->effect(c) : TESORO_OK;
  if (rc == TESORO_OK) rc = tesoro__notices(c);
  tesoro__notice_clear(c);
  return rc;
}

/* The entity `id` moved earlier in the current batch, or NULL. */
static struct tesoro__moved *tesoro__batch_moved(tesoro *t, int64_t id) {
  for (int i = 0; i < t->batch.n; i++)
    if (t->batch.moved[i].id == id) return &t->batch.moved[i];
  return NULL;
}

static int tesoro__fire(tesoro__ctx *c) {
  tesoro *t = c->t;
  const tesoro__trans *row = NULL;
  const struct tesoro__moved *moved = NULL;
  sqlite3_stmt *s;
  int rc, folded = 0;
  if (t->batch.on && c->m->fold) moved = tesoro__batch_moved(t, c->id);
  if (moved && !c->loaded) {
    c->agency = moved->agency; /* read by the entity's first event */
    c->contact = moved->contact;
    c->version = moved->seq - 1;
    c->from = moved->from;
    c->loaded = 1;
  }
  if (!c->loaded &&
      ((rc = tesoro__load(c)) ||
       (rc = tesoro__contact_writable(t, c->actor, c->contact))))
    return rc;
  if ((rc = tesoro__version_ok(t, c->m->name, c->id, c->version,
                               c->expected)) ||
      (rc = tesoro__match(c, &row)))
    return rc;
  c->row = row;
  if (row->guard && (rc = row->guard(c))) return rc;
  c->to = row->to == TESORO__SAME ? c->from : row->to;
  c->event_name = c->m->events[c->event];
  if (t->batch.on && c->m->fold && c->to == c->from) {
    if (moved) { /* moved earlier in the batch */
      c->seq = moved->seq;
      return tesoro__effect(c, row);
    }
    folded = 1; /* the version at the batch's end (tesoro__batch_fold) */
  }

  if (folded) {
    /* its history row names the version the batch's end writes */
  } else if ((s = tesoro__stmt(t, row->move ? row->move
                          : c->to == c->from && c->m->keep_state
                              ? c->m->keep_state
                              : c->m->set_state)) == NULL) {
    return t->rc;
  } else {
    sqlite3_bind_int64(s, 1, c->id);
    sqlite3_bind_text(s, 2, c->m->states[c->to], -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, c->version);
    if (row->move) {
      sqlite3_bind_int64(s, 4, c->now);
      sqlite3_bind_int64(s, 5, c->actor->id);
      sqlite3_bind_text(s, 6, c->reason, -1, SQLITE_STATIC);
      /* ?7, ?8, ...: the event's integer arguments, in order */
      for (int i = 7; i <= sqlite3_bind_parameter_count(s); i++)
        sqlite3_bind_int64(s, i, ((const int64_t *)c->args)[i - 7]);
    }
    if ((rc = tesoro__run(t, s))) return rc;
    if (sqlite3_changes(t->db) != 1)
      return tesoro__fail(t, TESORO_ECONFLICT, "%s %lld changed meanwhile",
                          c->m->name, (long long)c->id);
  }
  /* The history row's key is known now (what the effect queues names it);
  ** the row itself follows the effect, with the id the effect made. */
  c->seq = c->version + 1;
  if (folded) {
    struct tesoro__moved *p = &t->batch.pending;
    memset(p, 0, sizeof *p);
    p->id = c->id;
    p->seq = c->seq;
    p->fold = c->m->fold;
    p->agency = c->agency;
    p->contact = c->contact;
    p->from = c->from;
  }
  tesoro__line_open(c);
  if ((rc = tesoro__effect(c, row)) == TESORO_OK)
    rc = tesoro__history(t, c->agency, c->m->entity, c->id, c->seq,
                         c->m->events[c->event], c->m->states[c->from],
                         c->m->states[c->to], c->actor->id, c->now, c->reason,
                         c->ref, &c->line);
  tesoro__line_close(c);
  return rc;
}

/* Fire a follow-on event from inside an effect, as `actor`, in the same
** transaction (a lost room cancels its mandate; validation fills the
** listing).  The nested context inherits time and reason. */
static int tesoro__fire_nested(tesoro__ctx *parent, const tesoro__machine *m,
                               int64_t id, int event,
                               const tesoro__actor *actor, const void *args) {
  tesoro__ctx c;
  tesoro__ctx_new(&c, parent->t, actor, m->entity, 0);
  c.m = m;
  c.id = id;
  c.event = event;
  c.now = parent->now;
  c.reason = parent->reason;
  c.args = args;
  return tesoro__fire(&c);
}

/* The same, as the agency's system actor: what a step of another entity
** sets off (a task closed, a property viewed). */
static int tesoro__fire_by_system(tesoro__ctx *parent,
                                  const tesoro__machine *m, int64_t id,
                                  int event, const void *args) {
  tesoro__actor system;
  int rc = tesoro__agency_actor(parent->t, parent->agency, "system", &system);
  return rc ? rc : tesoro__fire_nested(parent, m, id, event, &system, args);
}

/*
** Creation is a row of the machine's table (from TESORO__NEW) like any
** move.  tesoro__create_begin picks the row by the state the entity
** begins in (`first`; -1: the machine's one creation row), checks the
** actor's role and runs the row's guard, so the caller's INSERT binds
** c->m->states[c->to]; tesoro__created then writes the first history row
** (seq 1, the row's event) and runs the row's effect and the machine's
** notice rows for that event.  `c` becomes the new entity's context; what
** a creation's notice carries that only the caller knows (a summary, an
** extra) is set between the two (tesoro__notice_data).
*/
static int tesoro__create_begin(tesoro__ctx *c, const tesoro__machine *m,
                                int first) {
  int roles = 0;
  c->m = m;
  c->entity = m->entity;
  c->id = 0;
  c->row = NULL;
  c->ref = 0;
  c->agent = 0;
  /* a copy of the creator's context: its notice data stays the creator's */
  c->notice_summary = c->notice_extra = NULL;
  for (int i = 0; i < m->nrows && c->row == NULL; i++) {
    const tesoro__trans *r = &m->rows[i];
    if (r->from != TESORO__NEW || (first >= 0 && r->to != first)) continue;
    roles |= r->roles;
    if (r->roles & c->actor->bit) c->row = r;
  }
  if (c->row == NULL) {
    char action[64];
    if (roles == 0) /* no such row: the code asks for what the table lacks */
      return tesoro__fail(c->t, TESORO_EDB, "%s has no creation row", m->name);
    snprintf(action, sizeof action, "create a %s", m->name);
    return tesoro__require(c->t, c->actor, roles, action);
  }
  c->event = c->row->event;
  c->event_name = m->events[c->event];
  c->from = -1;
  c->to = c->row->to;
  return c->row->guard ? c->row->guard(c) : TESORO_OK;
}

static int tesoro__created(tesoro__ctx *c, int64_t id) {
  int rc;
  c->id = id;
  c->version = 1;
  c->seq = 1;
  tesoro__line_open(c);
  if ((rc = tesoro__effect(c, c->row)) == TESORO_OK)
    rc = tesoro__history(c->t, c->agency, c->entity, id, 1, c->event_name,
                         NULL, c->m->states[c->to], c->actor->id, c->now,
                         NULL, c->ref, &c->line);
  tesoro__line_close(c);
  return rc;
}

/*
** One public transition: open the write transaction, check the actor, fire,
** commit or roll back.  Ids the effect produced reach the caller only after
** the commit succeeded.
*/
static int tesoro__catch_up(tesoro *t, int entity, int64_t id, int64_t now);

static int tesoro__transition(tesoro *t, int64_t actor_id,
                              const tesoro__machine *m, int64_t id, int event,
                              int64_t expected, const void *args,
                              const char *reason, int64_t *out_id,
                              char **out_text) {
  tesoro__actor a;
  tesoro__ctx c;
  int rc;
  if (id <= 0)
    return tesoro__fail(t, TESORO_EINVAL, "%s id must be > 0", m->name);
  if (expected < 0)
    return tesoro__fail(t, TESORO_EINVAL, "expected_version must be >= 0");
  /* The actor is read inside the transaction: one read transaction less,
  ** and the handle's cache of actors is good there (tesoro__forget). */
  if ((rc = tesoro__write_begin(t))) return rc;
  c.out_text = NULL;
  rc = tesoro__actor_load(t, actor_id, &a);
  /* The system acts only from inside tesoro (tick, effects): a caller naming
  ** the system actor is refused, whatever a machine lets the system do. */
  if (rc == TESORO_OK && a.kind == TESORO_ACTOR_SYSTEM)
    rc = tesoro__fail(t, TESORO_EDENIED,
                      "actor %lld is the system, which acts only through "
                      "tesoro_tick", (long long)actor_id);
  if (rc == TESORO_OK) {
    tesoro__ctx_new(&c, t, &a, m->entity, 0);
    c.m = m;
    c.id = id;
    c.event = event;
    c.expected = expected;
    c.args = args;
    c.reason = reason;
    rc = tesoro__catch_up(t, m->entity, id, c.now);
    if (rc == TESORO_OK) rc = tesoro__fire(&c);
  }
  rc = tesoro__write_end(t, rc);
  if (rc == TESORO_OK) {
    if (out_id) *out_id = c.out_id;
    if (out_text) *out_text = c.out_text;
    else TESORO_FREE(c.out_text);
  } else {
    TESORO_FREE(c.out_text);
  }
  return rc;
}

/* The definition of a public call that is one event on one entity with
** nothing of its own to check (tesoro_task_complete, ...). */
#define TESORO__EVENT_CALL(call, machine, event)                              \
  TESORO_API int call(tesoro *t, int64_t actor, int64_t id,                   \
                      int64_t expected_version) {                             \
    TESORO__ENTER(t);                                                         \
    return tesoro__transition(t, actor, &machine, id, event,                  \
                              expected_version, NULL, NULL, NULL, NULL);      \
  }

/* An event whose one argument is a reason kept in its history row
** (`required`: for everyone; otherwise the machine's guard decides). */
static int tesoro__reason_event(tesoro *t, int64_t actor,
                                const tesoro__machine *m, int64_t id,
                                int event, const char *reason, int required,
                                int64_t expected) {
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__text(t, "reason", reason, TESORO_MAX_REASON, required)))
    return rc;
  return tesoro__transition(t, actor, m, id, event, expected, NULL,
                            tesoro__opt(reason), NULL, NULL);
}

/* The definition of a public call that is tesoro__reason_event. */
#define TESORO__REASON_CALL(call, machine, event, required)                   \
  TESORO_API int call(tesoro *t, int64_t actor, int64_t id,                   \
                      const char *reason, int64_t expected_version) {         \
    return tesoro__reason_event(t, actor, &machine, id, event, reason,        \
                                required, expected_version);                  \
  }

/* The definition of a public call that adds a note (staff's own words on
** the entity; its id in *out_note). */
#define TESORO__NOTE_CALL(call, machine, event)                               \
  TESORO_API int call(tesoro *t, int64_t actor, int64_t id, const char *body, \
                      int64_t *out_note) {                                    \
    int rc;                                                                   \
    TESORO__ENTER(t);                                                         \
    if ((rc = tesoro__out(t, out_note, "out_note")) ||                        \
        (rc = tesoro__text(t, "note", body, TESORO_MAX_TEXT, 1)))             \
      return rc;                                                              \
    return tesoro__transition(t, actor, &machine, id, event, 0, body, NULL,   \
                              out_note, NULL);                                \
  }

/* Build the DOT text of a machine from its rows. */
/* One edge per (from state, row): DOT for Graphviz, stateDiagram-v2 for
** Mermaid (which GitHub renders in the README).  Both come from the table the
** engine runs, so a diagram cannot drift from the rules. */
TESORO_API int tesoro_machine_diagram(int entity, int format, char **out) {
  const tesoro__machine *m = tesoro__machine_of(entity);
  int mermaid = format == TESORO_DIAGRAM_MERMAID;
  sqlite3_str *text;
  char *result;
  if (out == NULL) return TESORO_EINVAL;
  *out = NULL;
  if (m == NULL || (format != TESORO_DIAGRAM_DOT && !mermaid))
    return TESORO_EINVAL;
  text = sqlite3_str_new(NULL);
  if (mermaid)
    sqlite3_str_appendall(text, "stateDiagram-v2\n");
  else
    sqlite3_str_appendf(text, "digraph %s {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n  start [shape=point];\n", m->name);
  for (int i = 0; i < m->nrows; i++) {
    const tesoro__trans *r = &m->rows[i];
    char who[96];
    tesoro__roles_text(r->roles, who, sizeof who);
    if (r->from == TESORO__NEW) { /* a creation: from the start point */
      if (mermaid)
        sqlite3_str_appendf(text, "    [*] --> %s : %s (%s)%s\n",
                            m->states[r->to], m->events[r->event], who,
                            r->guard ? " *" : "");
      else
        sqlite3_str_appendf(text, "  start -> %s [label=\"%s [%s]%s\"];\n",
                            m->states[r->to], m->events[r->event], who,
                            r->guard ? " *" : "");
      continue;
    }
    for (int s = 0; s < m->nstates; s++) {
      const char *from = m->states[s];
      const char *to = m->states[r->to == TESORO__SAME ? s : r->to];
      if (!(r->from & ST(s))) continue;
      if (mermaid)
        sqlite3_str_appendf(text, "    %s --> %s : %s (%s)%s\n", from, to,
                            m->events[r->event], who, r->guard ? " *" : "");
      else
        sqlite3_str_appendf(text, "  %s -> %s [label=\"%s [%s]%s\"];\n", from,
                            to, m->events[r->event], who, r->guard ? " *" : "");
    }
  }
  if (!mermaid) sqlite3_str_appendall(text, "}\n");
  if (sqlite3_str_errcode(text)) {
    sqlite3_free(sqlite3_str_finish(text));
    return TESORO_ENOMEM;
  }
  result = sqlite3_str_finish(text);
  if (result == NULL) return TESORO_ENOMEM;
  *out = result;
  return TESORO_OK;
}

/* =========================================================================
** 10. Side effects: outbox, activity, tasks, timers, tick
**
** What a transition leaves behind besides its state and history row.  Each
** helper writes inside the caller's transaction and ties its row to the
** transition's history row, so "no outbox row without its cause" holds by
** construction (and tesoro_check verifies it).
**
** Notifications are the machines' notice rows (section 8), queued by one
** step after each effect (tesoro__notices).  Staff notifications go to the
** contact's assigned agent when there is one, else to every admin of the
** agency, on the crm and email channels.
*/

/* Record a related id (the message, the document) on this transition's
** history row: the effect made it, and the engine writes the row after
** the effect. */
static int tesoro__history_ref(tesoro__ctx *c, int64_t ref) {
  c->ref = ref;
  return TESORO_OK;
}

/* The effect of TESORO__NOTE_CALL: the note's row by `stmt` (entity,
** author, body, at); its id is the call's out-id and the history's ref. */
static int tesoro__note_insert(tesoro__ctx *c, int stmt) {
  int rc;
  if ((rc = TESORO__EXEC(c->t, stmt, BIND_I(c->id), BIND_I(c->actor->id),
                         BIND_T((const char *)c->args), BIND_I(c->now))))
    return rc;
  c->out_id = sqlite3_last_insert_rowid(c->t->db);
  return tesoro__history_ref(c, c->out_id);
}

/* The channels (CH_* bits) not delivered to `recipient` of `agency`: those
** they turned off, and push and calendar when the agency has them off.
** Messages ask for the same few recipients, so a write keeps recent
** answers (tesoro->channels); the data version it checks them against is
** current only inside a transaction, so a read call asks the file. */
static int tesoro__channels_off(tesoro *t, int64_t recipient, int64_t agency,
                                int *out) {
  sqlite3_stmt *s;
  int64_t off = 0;
  int rc, slot;
  if (!t->writing) t->channels.n = 0; /* kept only as write_begin checks */
  for (int i = 0; i < t->channels.n; i++)
    if (t->channels.e[i].recipient == recipient &&
        t->channels.e[i].agency == agency) {
      *out = t->channels.e[i].off;
      return TESORO_OK;
    }
  if ((s = TESORO__STMT(t, S_CHANNELS_OFF, BIND_I(recipient),
                        BIND_I(agency))) == NULL) return t->rc;
  if ((rc = tesoro__int(t, s, &off)) != TESORO_OK)
    return rc < 0 ? rc : tesoro__fail(t, TESORO_ENOTFOUND,
                                      "agency %lld does not exist",
                                      (long long)agency);
  slot = t->channels.n < COUNT(t->channels.e) ? t->channels.n++
                                              : t->channels.next++ % COUNT(t->channels.e);
  t->channels.e[slot].recipient = recipient;
  t->channels.e[slot].agency = agency;
  t->channels.e[slot].off = *out = (int)off;
  return TESORO_OK;
}

/* Queue one message of `kind` ("notification", "calendar", "exchange") to
** `recipient` on each of `channels` (CH_* bits): one outbox row, whose
** deliveries the host fetches one per channel.  The payload the host gets
** names the entity, its id, the event and `summary`, plus the fields of
** `extra_json` (may be NULL or "{}": none), which are stored as they are:
** the rest is rendered when the host fetches it (tesoro_outbox_fetch), from
** the transition's history row.  The recipient is an actor tesoro has just
** read (tesoro_check verifies it exists). */
static int tesoro__outbox(tesoro__ctx *c, const char *kind, int64_t recipient,
                          int channels, const char *template_name,
                          const char *summary, const char *extra_json) {
  tesoro *t = c->t;
  sqlite3_stmt *s;
  /* An import recreates what happened before: nobody is told again. */
  if (t->importing) return TESORO_OK;
  /* A channel its recipient or the agency turned off queues nothing, and a
  ** message left with no channel is not written: the outbox never holds a
  ** delivery that will not be made.  The website's events follow no
  ** preference. */
  if (channels != CH_WEBSITE) {
    int off = 0, rc;
    if ((rc = tesoro__channels_off(t, recipient, c->agency, &off))) return rc;
    if ((channels &= ~off) == 0) return TESORO_OK;
  }
  if ((s = TESORO__STMT(t, S_OUTBOX_INSERT, BIND_I(c->agency), BIND_T(kind),
                        BIND_I(recipient), BIND_I(channels),
                        BIND_T(template_name), BIND_T(summary))) == NULL)
    return t->rc;
  if (extra_json && extra_json[0] == '{' && extra_json[1] != '}')
    sqlite3_bind_text(s, 7, extra_json, -1, SQLITE_STATIC);
  sqlite3_bind_int(s, 8, c->entity);
  sqlite3_bind_int64(s, 9, c->id);
  sqlite3_bind_int64(s, 10, c->seq);
  sqlite3_bind_int64(s, 11, c->now);
  return tesoro__run(t, s);
}

static int tesoro__contact_agent(tesoro *t, int64_t contact, int64_t *out) {
  int rc;
  *out = 0;
  rc = tesoro__lookup(t, S_CONTACT_AGENT, contact, NULL, out);
  return rc == TESORO_DONE ? TESORO_OK : rc;
}

static int tesoro__client_of(tesoro *t, int64_t contact, int64_t *out) {
  int rc;
  /* a client actor names its contact for good (no UPDATE changes it) */
  for (int i = 0; t->writing && i < t->actors.n; i++)
    if (t->actors.e[i].kind == TESORO_ACTOR_CLIENT &&
        t->actors.e[i].contact == contact) {
      *out = t->actors.e[i].id;
      return TESORO_OK;
    }
  rc = tesoro__lookup(t, S_ACTOR_OF_CONTACT, contact, NULL, out);
  if (rc == TESORO_DONE)
    return tesoro__fail(t, TESORO_EDB, "contact %lld has no client actor",
                        (long long)contact);
  return rc;
}

static int tesoro__copy(tesoro *t, const char *s, char **out);
static void tesoro__wipe_copy(char **p);

static void tesoro__notice_clear(tesoro__ctx *c) {
  tesoro__wipe_copy(&c->notice_summary);
  tesoro__wipe_copy(&c->notice_extra);
}

/* Set what the effect computed for the notice rows (see tesoro__ctx): a
** copy of `summary` and of `extra_json` (either may be NULL), replacing
** any set before. */
static int tesoro__notice_data(tesoro__ctx *c, const char *summary,
                               const char *extra_json) {
  int rc = TESORO_OK;
  tesoro__notice_clear(c);
  if (summary) rc = tesoro__copy(c->t, summary, &c->notice_summary);
  if (rc == TESORO_OK && extra_json)
    rc = tesoro__copy(c->t, extra_json, &c->notice_extra);
  if (rc) tesoro__notice_clear(c);
  return rc;
}

/* Queue one notice row for the context: find its recipients (TO_STAFF:
** the contact's agent, else every admin; TO_STAFF_AND_ADMINS: both), on
** its channels or the recipient's usual ones, with its summary or the
** effect's. */
static int tesoro__notice_send(tesoro__ctx *c, const tesoro__notice *n) {
  tesoro *t = c->t;
  const char *summary = n->summary ? n->summary : c->notice_summary;
  int64_t to[64], agent = 0;
  int count = 0, rc = TESORO_OK;
  switch (n->to) {
  case TO_CLIENT:
    rc = tesoro__client_of(t, c->contact, &to[count++]);
    break;
  case TO_AGENT:
    if (c->agent) {
      to[count++] = c->agent;
      break;
    }
    rc = c->m && c->m->agent
             ? c->m->agent(c, &to[count++])
             : tesoro__fail(t, TESORO_EDB, "%s says not who its agent is",
                            c->m ? c->m->name : "this entity");
    break;
  case TO_STAFF:
  case TO_STAFF_AND_ADMINS:
    if ((rc = tesoro__contact_agent(t, c->contact, &agent))) return rc;
    if (agent) to[count++] = agent;
    if (!agent || n->to == TO_STAFF_AND_ADMINS) {
      sqlite3_stmt *s;
      if ((s = TESORO__STMT(t, S_STAFF_ADMINS, BIND_I(c->agency))) == NULL)
        return t->rc;
      while (count < COUNT(to) && (rc = tesoro__row(t, s)) == TESORO_ROW)
        if (sqlite3_column_int64(s, 0) != agent)
          to[count++] = sqlite3_column_int64(s, 0);
      sqlite3_reset(s);
      if (rc > 0) rc = TESORO_OK;
    }
    break;
  default:
    rc = tesoro__fail(t, TESORO_EDB, "a notice row names no recipient");
  }
  for (int i = 0; rc == TESORO_OK && i < count; i++)
    rc = tesoro__outbox(c, "notification", to[i],
                        n->channels ? n->channels
                        : n->to == TO_CLIENT ? CH_EMAIL : CH_CRM | CH_EMAIL,
                        n->template_name, summary, c->notice_extra);
  return rc;
}

/* The notify step the engine runs after each effect: every notice row of
** the machine for the context's event whose `by` holds the actor, in
** table order. */
static int tesoro__notices(tesoro__ctx *c) {
  const tesoro__machine *m = c->m;
  int rc = TESORO_OK;
  for (int i = 0; m && rc == TESORO_OK && i < m->nnotices; i++) {
    const tesoro__notice *n = &m->notices[i];
    if (n->event == c->event && (n->by == 0 || (n->by & c->actor->bit)))
      rc = tesoro__notice_send(c, n);
  }
  return rc;
}

/* Where a line falls in the order lines were written: this machine's
** clock in nanoseconds, strictly rising on the handle (schema.sql's
** timeline view numbers a contact's lines by it). */
static int64_t tesoro__line_ns(tesoro *t) {
  struct timespec now;
  int64_t ns;
  clock_gettime(CLOCK_REALTIME, &now);
  ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
  return t->line_ns = ns > t->line_ns ? ns : t->line_ns + 1;
}

/*
** A line on the contact's activity timeline.  An import writes none: the
** timeline shows the record, not the calls that replay it.  The first
** line of a transition whose machine keeps lines on history goes on the
** history row the engine writes next (one b-tree page less: make bench);
** any other line is a row of the activity table.
*/
static int tesoro__activity(tesoro__ctx *c, const char *kind,
                            const char *summary) {
  int64_t ns;
  if (c->contact == 0 || c->t->importing) return TESORO_OK;
  ns = tesoro__line_ns(c->t);
  if (c->line.open && c->line.kind[0] == 0 &&
      strlen(kind) < sizeof c->line.kind) {
    if ((c->line.summary = sqlite3_mprintf("%s", summary)) == NULL)
      return tesoro__fail(c->t, TESORO_ENOMEM, "out of memory");
    memcpy(c->line.kind, kind, strlen(kind) + 1);
    c->line.ns = ns;
    return TESORO_OK;
  }
  return TESORO__EXEC(c->t, S_ACTIVITY_INSERT, BIND_I(c->agency),
                      BIND_I(c->contact), BIND_T(kind), BIND_I(c->actor->id),
                      BIND_I(c->now), BIND_I(c->entity), BIND_I(c->id),
                      BIND_T(summary), BIND_I(ns));
}

/* Open a staff task about (entity, entity_id), assigned to `assignee`. */
static int tesoro__task_open(tesoro__ctx *c, const char *kind,
                             const char *title, int entity, int64_t entity_id,
                             int64_t assignee) {
  tesoro__ctx task = *c;
  sqlite3_stmt *s;
  int rc;
  if ((rc = tesoro__create_begin(&task, &tesoro__task_machine, -1))) return rc;
  if ((s = TESORO__STMT(c->t, S_TASK_INSERT, BIND_I(c->agency), BIND_T(kind),
                        BIND_T(title), BIND_I(entity),
                        BIND_I(entity_id))) == NULL) return c->t->rc;
  if (assignee) sqlite3_bind_int64(s, 6, assignee);
  sqlite3_bind_int64(s, 7, c->now);
  sqlite3_bind_text(s, 8, task.m->states[task.to], -1, SQLITE_STATIC);
  if ((rc = tesoro__run(c->t, s))) return rc;
  return tesoro__created(&task, sqlite3_last_insert_rowid(c->t->db));
}

/* The open task of `kind` about (entity, entity_id), or 0. */
static int tesoro__task_find(tesoro__ctx *c, int entity, int64_t entity_id,
                             const char *kind, int64_t *out) {
  sqlite3_stmt *s = tesoro__stmt(c->t, S_TASK_OPEN_OF);
  int rc;
  *out = 0;
  if (s == NULL) return c->t->rc;
  sqlite3_bind_int64(s, 1, c->agency);
  sqlite3_bind_int(s, 2, entity);
  sqlite3_bind_int64(s, 3, entity_id);
  sqlite3_bind_text(s, 4, kind, -1, SQLITE_STATIC);
  rc = tesoro__int(c->t, s, out);
  return rc == TESORO_DONE ? TESORO_OK : rc;
}

/* Close the entity's open task of `kind` (if any) as the system: its
** reason went away (the form was sent back, the listing got published). */
static int tesoro__task_close(tesoro__ctx *c, const char *kind, int event) {
  int64_t task;
  int rc;
  if ((rc = tesoro__task_find(c, c->entity, c->id, kind, &task)) || !task)
    return rc;
  return tesoro__fire_by_system(c, &tesoro__task_machine, task, event, NULL);
}

/* The end of an effect that took away a staff task's reason: the task
** closed by `event`, and the step on the contact's timeline. */
static int tesoro__task_done(tesoro__ctx *c, const char *task, int event,
                             const char *kind, const char *summary) {
  int rc = tesoro__task_close(c, task, event);
  return rc ? rc : tesoro__activity(c, kind, summary);
}

static int fx_task_closed(tesoro__ctx *c) {
  return TESORO__EXEC(c->t, S_TASK_CLOSED_AT, BIND_I(c->id), BIND_I(c->now));
}

static int tesoro__timer_plan(tesoro__ctx *c, int entity, int64_t entity_id,
                              const char *kind, int64_t due) {
  sqlite3_stmt *s;
  if ((s = TESORO__STMT(c->t, S_TIMER_INSERT, BIND_I(c->agency), BIND_I(entity),
                        BIND_I(entity_id), BIND_T(kind), BIND_I(due))) == NULL)
    return c->t->rc;
  if (due < c->t->next_due) c->t->next_due = due;
  return tesoro__run(c->t, s);
}

/* Withdraw the entity's timer of `kind` due at `due`, if it is pending.
** Timers are keyed by their due time (schema.sql), so the entity's row
** keeps what its timers' due times are. */
static int tesoro__timer_withdraw(tesoro__ctx *c, const char *kind,
                                  int64_t due) {
  return TESORO__EXEC(c->t, S_TIMER_DELETE, BIND_I(c->entity), BIND_I(c->id),
                      BIND_T(kind), BIND_I(due));
}

/* Timer handlers, by kind.  `c` is a context for the timer's entity, as the
** agency's system actor at the tick's `now`.  A handler whose entity has
** moved on does nothing. */
static int timer_mandate_expiry(tesoro__ctx *c);
static int timer_appointment(tesoro__ctx *c);
static int timer_no_show_window(tesoro__ctx *c);
static int timer_list_date(tesoro__ctx *c);

static const struct {
  const char *kind;
  const tesoro__machine *machine;
  tesoro__step handler;
} tesoro__timer_kinds[] = {
    {"mandate_expiry", &tesoro__mandate_machine, timer_mandate_expiry},
    {"appointment_complete", &tesoro__appointment_machine, timer_appointment},
    {"viewing_reminder", &tesoro__appointment_machine, timer_appointment},
    {"viewing_feedback", &tesoro__appointment_machine, timer_appointment},
    {"no_show_window", &tesoro__appointment_machine, timer_no_show_window},
    {"referral_list_date", &tesoro__referral_machine, timer_list_date},
};

/* A pending timer, as S_TIMER_FIRST and S_TIMER_DUE_OF give it. */
typedef struct tesoro__due {
  int64_t agency, id, due;
  int entity;
  char kind[64];
} tesoro__due;

/* The first timer of the bound statement `s` (NULL: t->rc says why) into
** *d: TESORO_OK, or TESORO_DONE when nothing is due. */
static int tesoro__due_read(tesoro *t, sqlite3_stmt *s, tesoro__due *d) {
  int rc;
  if (s == NULL) return t->rc;
  if ((rc = tesoro__row(t, s)) != TESORO_ROW) return rc;
  d->agency = sqlite3_column_int64(s, 0);
  d->entity = sqlite3_column_int(s, 1);
  d->id = sqlite3_column_int64(s, 2);
  tesoro__column_copy(s, 3, d->kind, sizeof d->kind);
  d->due = sqlite3_column_int64(s, 4);
  sqlite3_reset(s);
  return TESORO_OK;
}

/* Fire the due timer *d at `now`, inside the caller's transaction. */
static int tesoro__timer_fire(tesoro *t, const tesoro__due *d, int64_t now) {
  tesoro__actor system;
  tesoro__ctx c;
  int rc;
  /* The timer goes first: a handler may plan the same kind again. */
  if ((rc = TESORO__EXEC(t, S_TIMER_DELETE, BIND_I(d->entity), BIND_I(d->id),
                         BIND_T(d->kind), BIND_I(d->due)))) return rc;
  if ((rc = tesoro__agency_actor(t, d->agency, "system", &system))) return rc;
  memset(&c, 0, sizeof c);
  c.t = t;
  c.agency = d->agency;
  c.id = d->id;
  c.actor = &system;
  c.now = now;
  for (int i = 0; i < COUNT(tesoro__timer_kinds); i++) {
    if (strcmp(d->kind, tesoro__timer_kinds[i].kind) != 0) continue;
    c.m = tesoro__timer_kinds[i].machine;
    c.entity = c.m->entity;
    c.event_name = d->kind;
    if ((rc = tesoro__load(&c)) == TESORO_OK)
      rc = tesoro__timer_kinds[i].handler(&c);
    else if (rc == TESORO_ENOTFOUND)
      rc = TESORO_OK;
    if (rc) return rc;
  }
  return TESORO_OK;
}

/* The first pending timer is due at `next` (INT64_MAX: none), as read
** now from this data: the catch-up's bound (struct tesoro, next_due),
** fresh for the rest of a write call. */
static void tesoro__due_learned(tesoro *t, int64_t next) {
  t->next_due = next;
  t->due_version = tesoro__data_version(t);
  t->due_known = 1;
  t->due_fresh = t->writing;
}

/* No rule waits for the tick: before a write on an entity, the entity's
** own timers due at the call's time fire, in the caller's transaction, as
** tesoro_tick would fire them; before a write on a deal property, its
** viewings' too (a closed no-show window makes it "viewed").  Those are
** found among the due timers (by their key), not among the property's
** viewings: a property may have hundreds of viewings, while the due set
** is what the tick has not reached yet, usually nothing.  The bound only
** stops a handler that kept planning what is already due. */
static int tesoro__catch_up(tesoro *t, int entity, int64_t id, int64_t now) {
  int rc = TESORO_OK;
  /* Nothing due anywhere: no probe.  A bound read at an earlier call may be
  ** low (what was due has fired since); read it again once per call. */
  if (t->due_known && now < t->next_due) return TESORO_OK;
  if (!t->due_known || (t->writing && !t->due_fresh)) {
    sqlite3_stmt *s;
    if ((s = tesoro__stmt(t, S_TIMER_NEXT_DUE)) == NULL) return t->rc;
    int64_t next;
    if ((rc = tesoro__int(t, s, &next)) != TESORO_OK)
      return rc < 0 ? rc : tesoro__fail(t, TESORO_EDB, "no next due time");
    tesoro__due_learned(t, next);
    if (now < t->next_due) return TESORO_OK;
  }
  for (int i = 0; i < 16 && rc == TESORO_OK; i++) {
    tesoro__due d;
    if ((rc = tesoro__due_read(t, TESORO__STMT(t, S_TIMER_DUE_OF, BIND_I(entity),
                                               BIND_I(id), BIND_I(now)),
                               &d)) == TESORO_OK)
      rc = tesoro__timer_fire(t, &d, now);
  }
  return rc == TESORO_DONE ? TESORO_OK : rc;
}

/*
** One transaction per call, one savepoint per timer: a commit (and, with
** synchronous=FULL, an fsync) per timer made a tick of N timers cost N
** commits.  A timer that is refused is undone alone and the timers before
** it are committed, as when each had its own transaction; a database
** failure undoes the whole call.
*/
TESORO_API int tesoro_tick(tesoro *t, int64_t now, int *out_fired) {
  int fired = 0, rc;
  TESORO__ENTER(t);
  if (out_fired) *out_fired = 0;
  if (now <= 0) return tesoro__fail(t, TESORO_EINVAL, "now must be > 0");
  if ((rc = tesoro__write_begin(t))) return rc;
  /* The first pending timer is read before its savepoint opens: when
  ** nothing is due, the call opens none.  The first one not due yet ends
  ** the call and is the next due time (the catch-up's bound), so the next
  ** write does not probe for it. */
  while (fired < t->tick_batch) {
    tesoro__due d;
    rc = tesoro__due_read(t, tesoro__stmt(t, S_TIMER_FIRST), &d);
    if (rc == TESORO_DONE || (rc == TESORO_OK && d.due > now)) {
      tesoro__due_learned(t, rc == TESORO_DONE ? INT64_MAX : d.due);
      rc = TESORO_DONE;
    }
    if (rc || (rc = tesoro__exec_id(t, S_EVENT_SAVEPOINT))) break;
    if ((rc = tesoro__timer_fire(t, &d, now))) {
      if (tesoro__is_event_error(rc)) {
        /* refused: undone alone (rc and the message kept for the caller) */
        int src = tesoro__exec_id(t, S_EVENT_ROLLBACK);
        if (src == TESORO_OK) src = tesoro__exec_id(t, S_EVENT_RELEASE);
        if (src != TESORO_OK) rc = src;
      }
      break;
    }
    if ((rc = tesoro__exec_id(t, S_EVENT_RELEASE))) break;
    fired++;
  }
  if (rc == TESORO_DONE || tesoro__is_event_error(rc)) {
    int refused = rc;
    if ((rc = tesoro__write_end(t, TESORO_OK))) return rc;
    if (out_fired) *out_fired = fired;
    return refused == TESORO_DONE ? tesoro__ok(t) : refused;
  }
  if ((rc = tesoro__write_end(t, rc)) == TESORO_OK && out_fired) *out_fired = fired;
  return rc;
}

/* --- outbox delivery (operator calls) --- */

/* --- notification preferences --- */

/* May `a` manage the notifications of `recipient` (loaded into *r): they
** are themselves, or `a` is an admin and they are staff of the agency. */
static int tesoro__recipient(tesoro *t, int64_t actor, int64_t recipient,
                             tesoro__actor *a, tesoro__actor *r) {
  int rc;
  if ((rc = tesoro__actor_load(t, actor, a)) ||
      (rc = tesoro__actor_load(t, recipient, r)))
    return rc;
  if (r->agency != a->agency)
    return tesoro__fail(t, TESORO_EDENIED,
                        "actor %lld belongs to another agency than actor %lld",
                        (long long)recipient, (long long)actor);
  if (r->kind != TESORO_ACTOR_AGENT && r->kind != TESORO_ACTOR_CLIENT)
    return tesoro__fail(t, TESORO_EINVAL,
                        "actor %lld is the %s: only people receive "
                        "notifications", (long long)recipient,
                        tesoro__actor_kinds[r->kind]);
  if (a->id != r->id &&
      !((a->bit & R_ADMIN) && r->kind == TESORO_ACTOR_AGENT))
    return tesoro__fail(t, TESORO_EDENIED,
                        "actor %lld may not manage the notifications of actor "
                        "%lld: only they, or an admin for staff", (long long)actor,
                        (long long)recipient);
  return TESORO_OK;
}

TESORO_API int tesoro_notification_set(tesoro *t, int64_t actor,
                                       int64_t recipient, int channel, int on) {
  tesoro__actor a, r;
  sqlite3_stmt *s;
  int rc;
  TESORO__ENTER(t);
  if (channel != CH_PUSH && channel != CH_EMAIL && channel != CH_CALENDAR)
    return tesoro__fail(t, TESORO_EINVAL,
                        "channel %d: a recipient turns push (2), email (4) or "
                        "calendar (16) on or off; crm and website stay on",
                        channel);
  if (on != 0 && on != 1)
    return tesoro__fail(t, TESORO_EINVAL, "on is 0 (off) or 1 (on), not %d", on);
  if ((rc = tesoro__recipient(t, actor, recipient, &a, &r))) return rc;
  if ((rc = tesoro__write_begin(t))) return rc;
  if ((s = tesoro__stmt(t, S_ACTOR_SET_CHANNEL)) == NULL)
    return tesoro__write_end(t, t->rc);
  sqlite3_bind_int64(s, 1, recipient);
  sqlite3_bind_int(s, 2, channel);
  sqlite3_bind_int(s, 3, on);
  t->channels.n = 0;
  return tesoro__write_end(t, tesoro__run(t, s));
}

TESORO_API int tesoro_notification_channels(tesoro *t, int64_t actor,
                                            int64_t recipient,
                                            int *out_channels) {
  tesoro__actor a, r;
  int rc, base, off = 0;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_channels, "out_channels")) ||
      (rc = tesoro__recipient(t, actor, recipient, &a, &r)) ||
      (rc = tesoro__channels_off(t, recipient, r.agency, &off)))
    return rc;
  /* a client is reached by push and e-mail; staff also in the CRM and
  ** their calendar */
  base = r.kind == TESORO_ACTOR_CLIENT ? CH_PUSH | CH_EMAIL
                                       : CH_CRM | CH_PUSH | CH_EMAIL | CH_CALENDAR;
  *out_channels = base & ~off;
  return TESORO_OK;
}

/* The status and attempts of delivery `id` (message * 8 + channel), or
** ENOTFOUND.  *out_status is "pending", "delivered", "dead" or "withdrawn". */
static int tesoro__delivery(tesoro *t, int64_t id, char out_status[16],
                            int64_t *out_attempts) {
  sqlite3_stmt *s;
  int rc;
  if ((id & 7) > 4)
    return tesoro__fail(t, TESORO_ENOTFOUND, "outbox row %lld does not exist",
                        (long long)id);
  if ((s = TESORO__STMT(t, S_OUTBOX_STATUS, BIND_I(id >> 3),
                        BIND_I(1 << (id & 7)))) == NULL) return t->rc;
  if ((rc = tesoro__row(t, s)) == TESORO_DONE)
    return tesoro__fail(t, TESORO_ENOTFOUND, "outbox row %lld does not exist",
                        (long long)id);
  if (rc != TESORO_ROW) return rc;
  snprintf(out_status, 16, "%s", (const char *)sqlite3_column_text(s, 0));
  *out_attempts = sqlite3_column_int64(s, 1);
  sqlite3_reset(s);
  return TESORO_OK;
}

TESORO_API int tesoro_outbox_ack(tesoro *t, int64_t id) {
  sqlite3_stmt *s;
  char status[16];
  int64_t attempts, secret = 0;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__id(t, "outbox id", id))) return rc;
  if ((rc = tesoro__delivery(t, id, status, &attempts))) return rc;
  if (strcmp(status, "pending") != 0)
    return tesoro__fail(t, TESORO_ESTATE, "outbox row %lld is %s, not pending",
                        (long long)id, status);
  /* A password reset's secret leaves the row once it is delivered, and its
  ** old page images leave the WAL. */
  if ((s = TESORO__STMT(t, S_OUTBOX_HAS_SECRET, BIND_I(id >> 3))) == NULL)
    return t->rc;
  if ((rc = tesoro__int(t, s, &secret)) < 0) return rc;
  if ((s = TESORO__STMT(t, S_OUTBOX_ACK, BIND_I(id >> 3), BIND_I(1 << (id & 7)),
                        BIND_I(tesoro__now(t)), BIND_I(secret))) == NULL)
    return t->rc;
  if ((rc = tesoro__run(t, s)) == TESORO_OK && secret) tesoro__wal_scrub(t);
  return rc;
}

/* A failed delivery puts its message back: its channels not yet delivered
** are fetched again together after the backoff.  Attempts are counted per
** message; the channel that fails the last allowed attempt is dead, the
** others go on. */
TESORO_API int tesoro_outbox_fail(tesoro *t, int64_t id, const char *error) {
  sqlite3_stmt *s;
  char status[16];
  int64_t attempts, delay;
  int rc, dead;
  TESORO__ENTER(t);
  if ((rc = tesoro__id(t, "outbox id", id)) ||
      (rc = tesoro__text(t, "error", error, TESORO_MAX_REASON, 0)))
    return rc;
  if ((rc = tesoro__write_begin(t))) return rc;
  if ((rc = tesoro__delivery(t, id, status, &attempts)))
    return tesoro__write_end(t, rc);
  if (strcmp(status, "pending") != 0)
    return tesoro__write_end(t, tesoro__fail(t, TESORO_ESTATE,
                                             "outbox row %lld is %s, not pending",
                                             (long long)id, status));
  attempts++;
  /* Exponential backoff; the shift is capped so the delay cannot overflow. */
  delay = t->backoff_s << (attempts - 1 < 20 ? attempts - 1 : 20);
  dead = attempts >= t->max_attempts;
  if ((s = tesoro__stmt(t, S_OUTBOX_FAIL)) == NULL)
    return tesoro__write_end(t, t->rc);
  sqlite3_bind_int64(s, 1, id >> 3);
  sqlite3_bind_int64(s, 2, attempts);
  sqlite3_bind_int(s, 3, dead ? 1 << (id & 7) : 0);
  sqlite3_bind_int64(s, 4, tesoro__now(t) + delay);
  sqlite3_bind_text(s, 5, tesoro__opt(error), -1, SQLITE_STATIC);
  return tesoro__write_end(t, tesoro__run(t, s));
}

/* =========================================================================
** 11. Documents
**
** A document's type is what its first bytes say, not what its name or the
** caller claims: the claimed MIME type must match the content, and each
** kind accepts only some types (a signed mandate is a PDF).
*/
enum {
  MIME_PDF = 1 << 0, MIME_JPEG = 1 << 1, MIME_PNG = 1 << 2, MIME_WEBP = 1 << 3,
  MIME_MPEG = 1 << 4, MIME_MP4 = 1 << 5, MIME_AAC = 1 << 6, MIME_OGG = 1 << 7,
  MIME_WAV = 1 << 8, MIME_WEBM = 1 << 9,
  MIME_IMAGES = MIME_JPEG | MIME_PNG | MIME_WEBP,
  MIME_AUDIO = MIME_MPEG | MIME_MP4 | MIME_AAC | MIME_OGG | MIME_WAV | MIME_WEBM
};
static const char *const tesoro__mimes[] = {
    "application/pdf", "image/jpeg", "image/png", "image/webp",
    "audio/mpeg",      "audio/mp4",  "audio/aac", "audio/ogg",
    "audio/wav",       "audio/webm"};
#define ON(entity) (1u << (entity))
static const struct {
  const char *name;
  unsigned mimes, entities;
} tesoro__doc_kinds[] = {
    {NULL, 0, 0},
    {"shared", MIME_PDF | MIME_JPEG | MIME_PNG | MIME_WEBP, ON(TESORO_ENTITY_ROOM)},
    {"signed_mandate", MIME_PDF, ON(TESORO_ENTITY_MANDATE)},
    {"property_document", MIME_PDF | MIME_JPEG | MIME_PNG | MIME_WEBP,
     ON(TESORO_ENTITY_MANDATE) | ON(TESORO_ENTITY_LISTING)},
    {"photo", MIME_IMAGES,
     ON(TESORO_ENTITY_MANDATE) | ON(TESORO_ENTITY_LISTING) |
         ON(TESORO_ENTITY_APPOINTMENT)},
    {"energy_certificate", MIME_PDF | MIME_JPEG | MIME_PNG,
     ON(TESORO_ENTITY_MANDATE) | ON(TESORO_ENTITY_LISTING)},
    {"voice_note", MIME_AUDIO, ON(TESORO_ENTITY_APPOINTMENT)},
};

/* The MIME bit the content's magic bytes say, or 0. */
static unsigned tesoro__sniff(const unsigned char *p, int64_t n) {
  if (n >= 5 && memcmp(p, "%PDF-", 5) == 0) return MIME_PDF;
  if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return MIME_JPEG;
  if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) return MIME_PNG;
  if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
    return MIME_WEBP;
  if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WAVE", 4) == 0)
    return MIME_WAV;
  if (n >= 4 && memcmp(p, "OggS", 4) == 0) return MIME_OGG;
  if (n >= 4 && memcmp(p, "\x1a\x45\xdf\xa3", 4) == 0) return MIME_WEBM;
  if (n >= 8 && memcmp(p + 4, "ftyp", 4) == 0) return MIME_MP4;
  if (n >= 3 && memcmp(p, "ID3", 3) == 0) return MIME_MPEG;
  /* Frame sync: 11 set bits.  The two layer bits tell MPEG audio (layer
  ** I-III) from ADTS-framed AAC (layer 00). */
  if (n >= 2 && p[0] == 0xFF && (p[1] & 0xE0) == 0xE0)
    return (p[1] & 0x06) ? MIME_MPEG : MIME_AAC;
  return 0;
}

typedef struct tesoro__doc {
  int kind;
  const char *name;
  unsigned mime;
  const void *data;
  int64_t size;
} tesoro__doc;

static int tesoro__mime_index(unsigned bit) {
  for (int i = 0; i < COUNT(tesoro__mimes); i++)
    if (bit == (1u << i)) return i;
  return 0;
}

/* Effect of every add_document event: store the BLOB with its digest. */
static int fx_document(tesoro__ctx *c) {
  const tesoro__doc *d = c->args;
  unsigned char digest[crypto_hash_sha256_BYTES];
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sqlite3_stmt *s;
  int rc;
  crypto_hash_sha256(digest, d->data, (unsigned long long)d->size);
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  if ((s = TESORO__STMT(c->t, S_DOCUMENT_INSERT, BIND_I(c->agency),
                        BIND_I(c->entity), BIND_I(c->id),
                        BIND_T(tesoro__doc_kinds[d->kind].name),
                        BIND_T(d->name),
                        BIND_T(tesoro__mimes[tesoro__mime_index(d->mime)]),
                        BIND_I(d->size), BIND_T(hex))) == NULL) return c->t->rc;
  sqlite3_bind_blob64(s, 9, d->data, (sqlite3_uint64)d->size, SQLITE_STATIC);
  sqlite3_bind_int64(s, 10, c->actor->id);
  sqlite3_bind_int64(s, 11, c->now);
  if ((rc = tesoro__run(c->t, s))) return rc;
  c->out_id = sqlite3_last_insert_rowid(c->t->db);
  if ((rc = tesoro__history_ref(c, c->out_id))) return rc;
  return tesoro__activity(c, "document_added", d->name);
}

TESORO_API int tesoro_document_add(tesoro *t, int64_t actor, int entity,
                                   int64_t entity_id, int kind,
                                   const char *name, const char *mime,
                                   const void *data, int64_t size,
                                   int64_t *out_document) {
  const tesoro__machine *m;
  tesoro__doc d;
  unsigned claimed = 0;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_document, "out_document"))) return rc;
  if (kind < 1 || kind >= COUNT(tesoro__doc_kinds))
    return tesoro__fail(t, TESORO_EINVAL, "unknown document kind %d", kind);
  m = tesoro__machine_of(entity);
  if (m == NULL || !(tesoro__doc_kinds[kind].entities & ON(entity)))
    return tesoro__fail(t, TESORO_EINVAL, "a %s cannot be attached to a %s",
                        tesoro__doc_kinds[kind].name, tesoro__entity_name(entity));
  if ((rc = tesoro__text(t, "document name", name, TESORO_MAX_NAME, 1)) ||
      (rc = tesoro__text(t, "mime", mime, 100, 1)))
    return rc;
  for (int i = 0; i < COUNT(tesoro__mimes); i++)
    if (strcmp(mime, tesoro__mimes[i]) == 0) claimed = 1u << i;
  if (!claimed)
    return tesoro__fail(t, TESORO_EINVAL, "MIME type %s is not accepted", mime);
  if (data == NULL || size <= 0)
    return tesoro__fail(t, TESORO_EINVAL, "document content is empty");
  if (size > t->max_doc)
    return tesoro__fail(t, TESORO_EINVAL,
                        "document is %lld bytes; the limit is %lld",
                        (long long)size, (long long)t->max_doc);
  if (tesoro__sniff(data, size) != claimed)
    return tesoro__fail(t, TESORO_EINVAL, "document content is not %s", mime);
  if (!(tesoro__doc_kinds[kind].mimes & claimed))
    return tesoro__fail(t, TESORO_EINVAL, "a %s cannot be %s",
                        tesoro__doc_kinds[kind].name, mime);
  d.kind = kind;
  d.name = name;
  d.mime = claimed;
  d.data = data;
  d.size = size;
  return tesoro__transition(t, actor, m, entity_id,
                            tesoro__event_index(m, "add_document"), 0, &d, NULL,
                            out_document, NULL);
}

/* =========================================================================
** 12. Agencies, staff, contacts
**
** The tenancy roots.  An agency is created with its first admin, its
** website actor and its system actor; a contact with its one client actor.
** E-mails are unique per agency, compared case-insensitively (ASCII case,
** as SQLite's lower()).
*/
static int tesoro__actor_insert(tesoro *t, int64_t agency, const char *kind,
                                const char *role, int64_t contact,
                                const char *name, const char *email,
                                int64_t now, int64_t *out) {
  sqlite3_stmt *s;
  int rc;
  tesoro__forget(t); /* a new row may reuse an id a rollback freed */
  if ((s = TESORO__STMT(t, S_ACTOR_INSERT, BIND_I(agency), BIND_T(kind),
                        BIND_T(role))) == NULL) return t->rc;
  if (contact) sqlite3_bind_int64(s, 4, contact);
  sqlite3_bind_text(s, 5, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 6, email, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 7, now);
  rc = tesoro__run(t, s);
  if (rc == TESORO_OK && out) *out = sqlite3_last_insert_rowid(t->db);
  return rc;
}

static int tesoro__currency(tesoro *t, const char *currency) {
  if (currency == NULL || strlen(currency) != 3 || !isupper((unsigned char)currency[0]) ||
      !isupper((unsigned char)currency[1]) || !isupper((unsigned char)currency[2]))
    return tesoro__fail(t, TESORO_EINVAL,
                        "currency must be an ISO 4217 code such as EUR");
  return TESORO_OK;
}

TESORO_API int tesoro_agency_create(tesoro *t, const char *name,
                                    const char *timezone, const char *currency,
                                    const char *admin_name,
                                    const char *admin_email,
                                    int64_t *out_agency, int64_t *out_admin) {
  sqlite3_stmt *s;
  int64_t agency = 0, admin = 0, now;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_agency, "out_agency")) ||
      (rc = tesoro__out(t, out_admin, "out_admin")) ||
      (rc = tesoro__text(t, "agency name", name, TESORO_MAX_NAME, 1)) ||
      (rc = tesoro__text(t, "time zone", timezone, 100, 0)) ||
      (rc = tesoro__currency(t, currency)) ||
      (rc = tesoro__text(t, "admin name", admin_name, TESORO_MAX_NAME, 1)) ||
      (rc = tesoro__email(t, "admin e-mail", admin_email, 1)))
    return rc;
  if (timezone == NULL || timezone[0] == 0) timezone = "UTC";
  if (!tesoro__zone_valid(timezone))
    return tesoro__fail(t, TESORO_EINVAL, "time zone %s is not an IANA zone",
                        timezone);
  now = tesoro__now(t);
  if ((rc = tesoro__write_begin(t))) return rc;
  if ((s = tesoro__stmt(t, S_AGENCY_INSERT)) == NULL)
    return tesoro__write_end(t, t->rc);
  sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, timezone, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 3, currency, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 4, now);
  rc = tesoro__run(t, s);
  if (rc == TESORO_OK) agency = sqlite3_last_insert_rowid(t->db);
  if (rc == TESORO_OK)
    rc = tesoro__actor_insert(t, agency, "agent", "admin", 0, admin_name,
                              admin_email, now, &admin);
  if (rc == TESORO_OK)
    rc = tesoro__actor_insert(t, agency, "website", NULL, 0, "website", NULL,
                              now, NULL);
  if (rc == TESORO_OK)
    rc = tesoro__actor_insert(t, agency, "system", NULL, 0, "tesoro", NULL,
                              now, NULL);
  if ((rc = tesoro__write_end(t, rc))) return rc;
  *out_agency = agency;
  *out_admin = admin;
  return TESORO_OK;
}

TESORO_API int tesoro_agency_website_actor(tesoro *t, int64_t actor,
                                           int64_t agency, int64_t *out_actor) {
  tesoro__actor a, website;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_actor, "out_actor")) ||
      (rc = tesoro__id(t, "agency", agency)) ||
      (rc = tesoro__actor_as(t, actor, R_STAFF,
                             "look up the website actor", &a)))
    return rc;
  /* An unknown agency is ENOTFOUND before it is someone else's. */
  if ((rc = tesoro__agency_actor(t, agency, "website", &website))) return rc;
  if (a.agency != agency)
    return tesoro__fail(t, TESORO_EDENIED,
                        "agency %lld is not actor %lld's agency",
                        (long long)agency, (long long)actor);
  *out_actor = website.id;
  return TESORO_OK;
}

/* Write one setting of the caller's agency (admins only) with statement
** `id`, which takes (agency, value). */
static int tesoro__agency_setting(tesoro *t, int64_t actor, int id,
                                  int64_t value, const char *action) {
  tesoro__actor a;
  sqlite3_stmt *s;
  int rc;
  if ((rc = tesoro__actor_load(t, actor, &a)) ||
      (rc = tesoro__require(t, &a, R_ADMIN, action)))
    return rc;
  if ((rc = tesoro__write_begin(t))) return rc;
  if ((s = TESORO__STMT(t, id, BIND_I(a.agency), BIND_I(value))) == NULL)
    return tesoro__write_end(t, t->rc);
  rc = tesoro__run(t, s);
  t->channels.n = 0; /* push or calendar may have changed */
  /* the portal switched off: its sessions end with it */
  if (rc == TESORO_OK && id == S_AGENCY_SET_PORTAL && value == 0) {
    if ((s = tesoro__stmt(t, S_PORTAL_SESSIONS_END_AGENCY)) == NULL)
      return tesoro__write_end(t, t->rc);
    sqlite3_bind_int64(s, 1, a.agency);
    rc = tesoro__run(t, s);
  }
  return tesoro__write_end(t, rc);
}

TESORO_API int tesoro_agent_create(tesoro *t, int64_t actor, const char *name,
                                   const char *email, int role,
                                   int64_t *out_agent) {
  tesoro__actor a;
  sqlite3_stmt *s;
  int64_t id = 0, taken = 0;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_agent, "out_agent")) ||
      (rc = tesoro__text(t, "agent name", name, TESORO_MAX_NAME, 1)) ||
      (rc = tesoro__email(t, "agent e-mail", email, 1)))
    return rc;
  if (role < TESORO_ROLE_AGENT || role > TESORO_ROLE_CLOSINGS)
    return tesoro__fail(t, TESORO_EINVAL, "unknown role %d", role);
  if ((rc = tesoro__actor_as(t, actor, R_ADMIN, "add staff", &a)))
    return rc;
  if ((rc = tesoro__write_begin(t))) return rc;
  if ((s = tesoro__stmt(t, S_STAFF_EMAIL_TAKEN)) == NULL)
    return tesoro__write_end(t, t->rc);
  sqlite3_bind_int64(s, 1, a.agency);
  sqlite3_bind_text(s, 2, email, -1, SQLITE_STATIC);
  rc = tesoro__int(t, s, &taken);
  if (rc == TESORO_OK)
    rc = tesoro__fail(t, TESORO_EEXISTS, "a staff member with e-mail %s exists",
                      email);
  else if (rc == TESORO_DONE)
    rc = tesoro__actor_insert(t, a.agency, "agent", tesoro__role_names[role], 0,
                              name, email, tesoro__now(t), &id);
  if ((rc = tesoro__write_end(t, rc))) return rc;
  *out_agent = id;
  return TESORO_OK;
}

TESORO_API int tesoro_actor_info(tesoro *t, int64_t actor, int *out_kind,
                                 int64_t *out_agency, int64_t *out_contact) {
  tesoro__actor a;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__actor_load(t, actor, &a))) return rc;
  if (out_kind) *out_kind = a.kind;
  if (out_agency) *out_agency = a.agency;
  if (out_contact) *out_contact = a.contact;
  return TESORO_OK;
}

static int tesoro__contact_by_email(tesoro *t, int64_t agency,
                                    const char *email, int64_t *out) {
  int rc;
  *out = 0;
  rc = tesoro__lookup(t, S_CONTACT_BY_EMAIL, agency, email, out);
  return rc == TESORO_DONE ? TESORO_OK : rc;
}

/*
** Insert a contact of c->agency with its client actor and first history
** row, as c->actor; `role` (may be NULL) is its first CRM role.  On success
** the context points at the contact (entity, id, contact).
*/
static int tesoro__contact_insert(tesoro__ctx *c, const char *name,
                                  const char *email, const char *phone,
                                  const char *language, int64_t agent,
                                  const char *role) {
  tesoro *t = c->t;
  sqlite3_stmt *s;
  int64_t id;
  int rc;
  if ((s = TESORO__STMT(t, S_CONTACT_INSERT, BIND_I(c->agency), BIND_T(name),
                        BIND_T(tesoro__opt(email)), BIND_T(tesoro__opt(phone)),
                        BIND_T(tesoro__opt(language)))) == NULL) return t->rc;
  if (agent) sqlite3_bind_int64(s, 6, agent);
  sqlite3_bind_int64(s, 7, c->now);
  if ((rc = tesoro__run(t, s))) return rc;
  id = sqlite3_last_insert_rowid(t->db);
  c->entity = TESORO_ENTITY_CONTACT;
  c->id = c->contact = id;
  c->event_name = "create";
  if ((rc = tesoro__actor_insert(t, c->agency, "client", NULL, id, name,
                                 tesoro__opt(email), c->now, NULL)) ||
      (rc = tesoro__history(t, c->agency, TESORO_ENTITY_CONTACT, id, 1,
                            "create", NULL, NULL, c->actor->id, c->now, NULL,
                            0, NULL)))
    return rc;
  c->seq = 1;
  if (role) {
    if ((rc = TESORO__EXEC(t, S_CONTACT_ROLE_ADD, BIND_I(id), BIND_T(role))))
      return rc;
  }
  return tesoro__activity(c, "contact_created", name);
}

/*
** The agency's contact with `email` (compared case-insensitively), else a
** new one made by c->actor, assigned to `agent` (0: nobody), with `role`:
** the one rule of contact requests, portal registrations and approved web
** customers.  *out is its id; the context is left as it was.
*/
static int tesoro__contact_for(tesoro__ctx *c, const char *name,
                               const char *email, const char *phone,
                               int64_t agent, const char *role, int64_t *out) {
  tesoro__ctx made = *c;
  int rc;
  *out = 0;
  if (tesoro__opt(email) &&
      (rc = tesoro__contact_by_email(c->t, c->agency, email, out)))
    return rc;
  if (*out) return TESORO_OK;
  if ((rc = tesoro__contact_insert(&made, name, email, phone, NULL, agent, role)))
    return rc;
  *out = made.contact;
  return TESORO_OK;
}

/* May `a` name `contact` (it exists, in a's agency, and is a client's own)?
** The actor's role is the caller's rule: the website, say, names contacts
** in its events without reading them. */
static int tesoro__contact_reach(tesoro *t, const tesoro__actor *a,
                                 int64_t contact, int64_t *out_version) {
  sqlite3_stmt *s;
  int64_t agency;
  int rc;
  if ((rc = tesoro__find(t, S_CONTACT_LOAD, "contact", contact, &s)))
    return rc;
  agency = sqlite3_column_int64(s, 0);
  if (out_version) *out_version = sqlite3_column_int64(s, 3);
  sqlite3_reset(s);
  return tesoro__reach(t, a, "contact", contact, agency, contact);
}

/* tesoro__actor_as, then may the actor name `contact` (contact_reach)? */
static int tesoro__actor_on_contact(tesoro *t, int64_t actor, int mask,
                                    const char *action, int64_t contact,
                                    tesoro__actor *a) {
  int rc = tesoro__actor_as(t, actor, mask, action, a);
  return rc ? rc : tesoro__contact_reach(t, a, contact, NULL);
}

/* Point a contact at an agent: bumps its version, with a history row. */
static int tesoro__contact_set_agent(tesoro__ctx *c, int64_t contact,
                                     int64_t agent, int64_t expected) {
  tesoro *t = c->t;
  int64_t version;
  int rc;
  if ((rc = tesoro__contact_reach(t, c->actor, contact, &version)) ||
      (rc = tesoro__contact_writable(t, c->actor, contact)) ||
      (rc = tesoro__version_ok(t, "contact", contact, version, expected)))
    return rc;
  if ((rc = TESORO__EXEC(t, S_CONTACT_ASSIGN, BIND_I(contact), BIND_I(agent),
                         BIND_I(version)))) return rc;
  if (sqlite3_changes(t->db) != 1)
    return tesoro__fail(t, TESORO_ECONFLICT, "contact %lld changed meanwhile",
                        (long long)contact);
  return tesoro__history(t, c->actor->agency, TESORO_ENTITY_CONTACT, contact,
                         version + 1, "assign", NULL, NULL, c->actor->id,
                         c->now, NULL, agent, NULL);
}

static int tesoro__exchange_contact(tesoro__ctx *c);

TESORO_API int tesoro_contact_create(tesoro *t, int64_t actor, const char *name,
                                     const char *email, const char *phone,
                                     const char *language,
                                     int64_t *out_contact) {
  tesoro__actor a;
  tesoro__ctx c;
  int64_t existing = 0;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_contact, "out_contact")) ||
      (rc = tesoro__text(t, "contact name", name, TESORO_MAX_NAME, 1)) ||
      (rc = tesoro__email(t, "contact e-mail", email, 0)) ||
      (rc = tesoro__text(t, "phone", phone, TESORO_MAX_PHONE, 0)) ||
      (rc = tesoro__text(t, "language", language, 35, 0)) ||
      (rc = tesoro__actor_as(t, actor, R_STAFF, "create contacts", &a)))
    return rc;
  tesoro__ctx_new(&c, t, &a, 0, 0);
  if ((rc = tesoro__write_begin(t))) return rc;
  if (tesoro__opt(email))
    rc = tesoro__contact_by_email(t, a.agency, email, &existing);
  if (rc == TESORO_OK && existing)
    rc = tesoro__fail(t, TESORO_EEXISTS, "contact %lld already has e-mail %s",
                      (long long)existing, email);
  if (rc == TESORO_OK)
    rc = tesoro__contact_insert(&c, name, email, phone, language, a.id, NULL);
  if (rc == TESORO_OK && tesoro__opt(email)) /* the website makes an account */
    rc = tesoro__exchange_contact(&c);
  if ((rc = tesoro__write_end(t, rc))) return rc;
  *out_contact = c.id;
  return TESORO_OK;
}

TESORO_API int tesoro_contact_assign(tesoro *t, int64_t actor, int64_t contact,
                                     int64_t agent, int64_t expected_version) {
  tesoro__actor a, target;
  tesoro__ctx c;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__id(t, "contact", contact)) ||
      (rc = tesoro__id(t, "agent", agent)))
    return rc;
  if (expected_version < 0)
    return tesoro__fail(t, TESORO_EINVAL, "expected_version must be >= 0");
  if ((rc = tesoro__actor_as(t, actor, R_STAFF, "assign contacts", &a)) ||
      (rc = tesoro__actor_load(t, agent, &target)))
    return rc;
  if (target.kind != TESORO_ACTOR_AGENT)
    return tesoro__fail(t, TESORO_EINVAL, "actor %lld is not agency staff",
                        (long long)agent);
  if (target.agency != a.agency)
    return tesoro__fail(t, TESORO_EDENIED,
                        "agent %lld belongs to another agency", (long long)agent);
  tesoro__ctx_new(&c, t, &a, 0, 0);
  if ((rc = tesoro__write_begin(t))) return rc;
  return tesoro__write_end(
      t, tesoro__contact_set_agent(&c, contact, agent, expected_version));
}

/* Load an entity's owner (agency, contact) for a read, and check `a` may
** read it: staff of the agency, or the entity's own client. */
static int tesoro__reach_entity(tesoro *t, const tesoro__actor *a, int entity,
                                int64_t id) {
  const tesoro__machine *m = tesoro__machine_of(entity);
  sqlite3_stmt *s;
  int64_t agency, contact;
  int rc;
  if (entity != TESORO_ENTITY_CONTACT && m == NULL)
    return tesoro__fail(t, TESORO_EINVAL, "unknown entity kind %d", entity);
  if ((rc = tesoro__find(t, m ? m->load : S_CONTACT_LOAD,
                         tesoro__entity_name(entity), id, &s)))
    return rc;
  agency = sqlite3_column_int64(s, 0);
  contact = sqlite3_column_int64(s, 1);
  sqlite3_reset(s);
  if ((rc = tesoro__reach(t, a, tesoro__entity_name(entity), id, agency, contact)))
    return rc;
  if (m && m->insiders)
    return tesoro__require(t, a, R_STAFF, "read this");
  if (!(a->bit & (R_STAFF | R_CLIENT)))
    return tesoro__require(t, a, R_STAFF | R_CLIENT, "read this");
  if (m && m->portal && a->kind == TESORO_ACTOR_CLIENT)
    return tesoro__portal_gate(t, a, 0);
  return TESORO_OK;
}

TESORO_API int tesoro_contact_client_actor(tesoro *t, int64_t actor,
                                           int64_t contact, int64_t *out_actor) {
  tesoro__actor a;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_actor, "out_actor")) ||
      (rc = tesoro__actor_on_contact(t, actor, R_STAFF,
                                     "look up a contact's client actor",
                                     contact, &a)))
    return rc;
  return tesoro__client_of(t, contact, out_actor);
}

/* =========================================================================
** 13. Seller onboarding
**
** The owner's contact form opens a room; the room's start_onboarding creates
** the mandate; the mandate's negotiation, seller form and validation lead
** to the listing.  Guards and effects of the room, mandate and listing rows
** of section 8 live here.
*/

/* The seller form's fields; a listing takes the property fields (from
** "address" on). */
static const tesoro__field tesoro__form_fields[] = {
    {"full_name", 't', 1, 1, TESORO_MAX_NAME},
    {"email", 'e', 1, 1, TESORO_MAX_EMAIL},
    {"phone", 't', 1, 1, TESORO_MAX_PHONE},
    {"address", 't', 1, 1, TESORO_MAX_SHORT},
    {"property_type", 'p', 1, 0, 0},
    {"title", 't', 0, 1, TESORO_MAX_SHORT},
    {"price", 'i', 0, 1, TESORO__MAX_MONEY},
    {"bedrooms", 'i', 0, 0, 1000},
    {"bathrooms", 'i', 0, 0, 1000},
    {"floor_area", 'i', 0, 1, 100000000},
    {"energy_label", 'l', 0, 1, 16},
    {"description", 't', 0, 1, TESORO_MAX_TEXT},
    {"longitude", 'r', 0, -180, 180},
    {"latitude", 'r', 0, -90, 90},
};
#define TESORO__LISTING_FIELDS 3 /* index of "address" */

TESORO_API int tesoro_contact_request_submit(
    tesoro *t, int64_t actor, const char *name, const char *email,
    int property_type, const char *location, int64_t budget,
    const char *timeline, const char *description, int64_t *out_room,
    int64_t *out_client) {
  tesoro__actor a;
  tesoro__ctx c;
  sqlite3_stmt *s;
  int64_t contact = 0, client = 0;
  char summary[TESORO_MAX_SHORT + 64];
  int rc, existed;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_room, "out_room")) ||
      (rc = tesoro__text(t, "name", name, TESORO_MAX_NAME, 1)) ||
      (rc = tesoro__email(t, "e-mail", email, 1)) ||
      (rc = tesoro__text(t, "location", location, TESORO_MAX_SHORT, 1)) ||
      (rc = tesoro__text(t, "timeline", timeline, TESORO_MAX_SHORT, 0)) ||
      (rc = tesoro__text(t, "description", description, TESORO_MAX_TEXT, 0)))
    return rc;
  if (property_type < 1 || property_type >= COUNT(tesoro__property_types))
    return tesoro__fail(t, TESORO_EINVAL, "unknown property type %d",
                        property_type);
  if (budget < 0 || budget > TESORO__MAX_MONEY)
    return tesoro__fail(t, TESORO_EINVAL,
                        "budget must be 0 (not given) or 1 to %lld",
                        (long long)TESORO__MAX_MONEY);
  if ((rc = tesoro__actor_as(t, actor, R_WEBSITE,
                             "submit contact requests", &a)))
    return rc;
  tesoro__ctx_new(&c, t, &a, 0, 0);
  if ((rc = tesoro__write_begin(t))) return rc;
  /* The website learns nothing of a person the CRM already knows: their
  ** client actor is handed out only for a contact this form created. */
  rc = tesoro__contact_by_email(t, a.agency, email, &contact);
  existed = contact != 0;
  if (rc == TESORO_OK && !existed)
    rc = tesoro__contact_for(&c, name, email, NULL, 0, "lead", &contact);
  if (rc == TESORO_OK)
    rc = tesoro__create_begin(&c, &tesoro__room_machine, -1);
  if (rc == TESORO_OK && (s = tesoro__stmt(t, S_ROOM_INSERT)) == NULL) rc = t->rc;
  if (rc == TESORO_OK) {
    sqlite3_bind_int64(s, 1, a.agency);
    sqlite3_bind_int64(s, 2, contact);
    sqlite3_bind_text(s, 3, tesoro__property_types[property_type], -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, location, -1, SQLITE_STATIC);
    if (budget) sqlite3_bind_int64(s, 5, budget);
    sqlite3_bind_text(s, 6, tesoro__opt(timeline), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, tesoro__opt(description), -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 8, c.now);
    sqlite3_bind_text(s, 9, c.m->states[c.to], -1, SQLITE_STATIC);
    rc = tesoro__run(t, s);
  }
  if (rc == TESORO_OK) {
    c.contact = contact;
    snprintf(summary, sizeof summary, "Contact request from %s: %s in %s", name,
             tesoro__property_types[property_type], location);
    if ((rc = tesoro__notice_data(&c, summary, NULL)) == TESORO_OK &&
        (rc = tesoro__created(&c, sqlite3_last_insert_rowid(t->db))) ==
            TESORO_OK &&
        (rc = tesoro__activity(&c, "contact_request", summary)) == TESORO_OK &&
        !existed)
      rc = tesoro__client_of(t, contact, &client);
  }
  if ((rc = tesoro__write_end(t, rc))) return rc;
  *out_room = c.id;
  if (out_client) *out_client = client;
  return TESORO_OK;
}

/* --- room --- */

static int64_t tesoro__next_ref(tesoro__ctx *c, char *ref, size_t n) {
  sqlite3_stmt *s;
  int rc;
  if ((rc = TESORO__EXEC(c->t, S_AGENCY_COUNT_REF, BIND_I(c->agency))) ||
      (rc = TESORO__ROW(c->t, &s, S_AGENCY_LAST_REF, BIND_I(c->agency))))
    return rc;
  snprintf(ref, n, "%s", (const char *)sqlite3_column_text(s, 0));
  sqlite3_reset(s);
  return TESORO_OK;
}

/* A listing of the context's agency for `mandate`, begun in state `first`
** (LISTING_*). */
static int tesoro__listing_insert(tesoro__ctx *c, int64_t mandate, int first,
                                  int64_t *out) {
  tesoro__ctx made = *c;
  char ref[32];
  int rc;
  if ((rc = tesoro__create_begin(&made, &tesoro__listing_machine, first)) ||
      (rc = (int)tesoro__next_ref(c, ref, sizeof ref)))
    return rc;
  if ((rc = TESORO__EXEC(c->t, S_LISTING_INSERT, BIND_I(c->agency),
                         BIND_I(mandate), BIND_T(ref),
                         BIND_T(made.m->states[made.to]), BIND_I(c->now))))
    return rc;
  *out = sqlite3_last_insert_rowid(c->t->db);
  return tesoro__created(&made, *out);
}

static int fx_room_start_onboarding(tesoro__ctx *c) {
  tesoro *t = c->t;
  tesoro__ctx made = *c;
  const int *with_listing = c->args;
  int64_t agent, mandate, listing;
  int rc;
  if ((rc = TESORO__EXEC(t, S_CONTACT_ROLE_ADD, BIND_I(c->contact),
                         BIND_T("owner")))) return rc;
  /* The agent who takes the owner on becomes their agent, unless the
  ** contact already has one. */
  if ((rc = tesoro__contact_agent(t, c->contact, &agent))) return rc;
  if (!agent && (rc = tesoro__contact_set_agent(c, c->contact, c->actor->id, 0)))
    return rc;
  if ((rc = tesoro__create_begin(&made, &tesoro__mandate_machine, -1)))
    return rc;
  if ((rc = TESORO__EXEC(t, S_MANDATE_INSERT, BIND_I(c->agency), BIND_I(c->id),
                         BIND_I(c->contact), BIND_I(c->now),
                         BIND_T(made.m->states[made.to])))) return rc;
  mandate = sqlite3_last_insert_rowid(t->db);
  if ((rc = tesoro__created(&made, mandate))) return rc;
  if (with_listing && *with_listing &&
      (rc = tesoro__listing_insert(c, mandate, LISTING_PLACEHOLDER, &listing)))
    return rc;
  c->out_id = mandate;
  if ((rc = tesoro__history_ref(c, mandate))) return rc;
  return tesoro__activity(c, "onboarding_started", "Seller onboarding started");
}

static int fx_room_end(tesoro__ctx *c) {
  tesoro *t = c->t;
  sqlite3_stmt *s;
  int64_t mandate = 0;
  const char *state = NULL;
  char summary[TESORO_MAX_REASON + 32];
  int rc;
  if ((rc = TESORO__EXEC(t, S_ROOM_SET_END, BIND_I(c->id), BIND_T(c->reason),
                         BIND_I(c->actor->id)))) return rc;
  /* A room that ends takes its unfinished mandate with it. */
  if ((s = TESORO__STMT(t, S_ROOM_MANDATE, BIND_I(c->id))) == NULL)
    return t->rc;
  if ((rc = tesoro__row(t, s)) < 0) return rc;
  if (rc == TESORO_ROW) {
    mandate = sqlite3_column_int64(s, 0);
    state = (const char *)sqlite3_column_text(s, 1);
    if (!tesoro__event_from(&tesoro__mandate_machine, MANDATE_EV_CANCEL, state))
      mandate = 0;
    sqlite3_reset(s);
  }
  if (mandate && (rc = tesoro__fire_nested(c, &tesoro__mandate_machine, mandate,
                                           MANDATE_EV_CANCEL, c->actor, NULL)))
    return rc;
  snprintf(summary, sizeof summary, "Room %s: %s", c->m->states[c->to],
           c->reason);
  return tesoro__activity(c, c->to == ROOM_LOST ? "room_lost" : "room_closed",
                          summary);
}

/* Chat messages and private notes: the same effect, two kinds.  Notes
** notify no one (the room's notice rows) and stay off the timeline the
** client could be shown. */
static int fx_room_message(tesoro__ctx *c) {
  tesoro *t = c->t;
  const char *body = c->args;
  int note = c->event == ROOM_EV_ADD_NOTE;
  int rc;
  if ((rc = TESORO__EXEC(t, S_ROOM_MESSAGE_INSERT, BIND_I(c->id),
                         BIND_T(note ? "note" : "message"),
                         BIND_I(c->actor->id), BIND_T(body), BIND_I(c->now))))
    return rc;
  c->out_id = sqlite3_last_insert_rowid(t->db);
  if ((rc = tesoro__history_ref(c, c->out_id)) || note) return rc;
  return tesoro__activity(c, "room_message", "Message in the contact room");
}

TESORO_API int tesoro_room_message_post(tesoro *t, int64_t actor, int64_t room,
                                        const char *body, int64_t *out_message) {
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_message, "out_message")) ||
      (rc = tesoro__text(t, "message", body, TESORO_MAX_TEXT, 1)))
    return rc;
  return tesoro__transition(t, actor, &tesoro__room_machine, room,
                            ROOM_EV_POST_MESSAGE, 0, body, NULL, out_message,
                            NULL);
}

TESORO__NOTE_CALL(tesoro_room_note_add, tesoro__room_machine, ROOM_EV_ADD_NOTE)

TESORO_API int tesoro_room_start_onboarding(tesoro *t, int64_t actor,
                                            int64_t room, int with_listing,
                                            int64_t expected_version,
                                            int64_t *out_mandate) {
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_mandate, "out_mandate"))) return rc;
  if (with_listing != 0 && with_listing != 1)
    return tesoro__fail(t, TESORO_EINVAL, "with_listing must be 0 or 1");
  return tesoro__transition(t, actor, &tesoro__room_machine, room,
                            ROOM_EV_START_ONBOARDING, expected_version,
                            &with_listing, NULL, out_mandate, NULL);
}

TESORO__REASON_CALL(tesoro_room_mark_lost, tesoro__room_machine,
                    ROOM_EV_MARK_LOST, 1)

TESORO__REASON_CALL(tesoro_room_close, tesoro__room_machine, ROOM_EV_CLOSE, 1)

/* --- mandate --- */

typedef struct tesoro__terms {
  int type;
  int64_t value;
  const char *currency;
  int exclusive, days;
  int64_t proposal; /* accept: the proposal accepted */
} tesoro__terms;

static const char *tesoro__party(const tesoro__actor *a) {
  return a->kind == TESORO_ACTOR_CLIENT ? "client" : "agent";
}

/* The mandate's open proposal and its author's party ("" when none). */
static int tesoro__open_proposal(tesoro__ctx *c, int64_t *out, char party[8]) {
  tesoro *t = c->t;
  sqlite3_stmt *s = tesoro__stmt(t, S_MANDATE_GET);
  int rc;
  *out = 0;
  party[0] = 0;
  if (s == NULL) return t->rc;
  sqlite3_bind_int64(s, 1, c->id);
  if ((rc = tesoro__row(t, s)) != TESORO_ROW) return rc < 0 ? rc : TESORO_EDB;
  *out = sqlite3_column_int64(s, 1);
  sqlite3_reset(s);
  if (!*out) return TESORO_OK;
  if ((rc = TESORO__ROW(t, &s, S_PROPOSAL_LOAD, BIND_I(*out)))) return rc;
  snprintf(party, 8, "%s", (const char *)sqlite3_column_text(s, 1));
  sqlite3_reset(s);
  return TESORO_OK;
}

static int fx_propose(tesoro__ctx *c) {
  tesoro *t = c->t;
  const tesoro__terms *terms = c->args;
  const char *party = tesoro__party(c->actor);
  char open_party[8];
  int64_t open, proposal;
  int rc;
  if ((rc = tesoro__open_proposal(c, &open, open_party))) return rc;
  if (open) {
    if ((rc = TESORO__EXEC(t, S_PROPOSAL_SUPERSEDE, BIND_I(open),
                           BIND_I(c->now)))) return rc;
  }
  if ((rc = TESORO__EXEC(t, S_PROPOSAL_INSERT, BIND_I(c->id),
                         BIND_I(c->actor->id), BIND_T(party),
                         BIND_T(terms->type == TESORO_COMMISSION_FIXED
                                    ? "fixed" : "percentage"),
                         BIND_I(terms->value),
                         BIND_T(tesoro__opt(terms->currency)),
                         BIND_I(terms->exclusive), BIND_I(terms->days),
                         BIND_I(c->now)))) return rc;
  proposal = c->out_id = sqlite3_last_insert_rowid(t->db);
  if ((rc = TESORO__EXEC(t, S_MANDATE_SET_OPEN, BIND_I(c->id),
                         BIND_I(proposal))) ||
      (rc = tesoro__history_ref(c, proposal)))
    return rc;
  return tesoro__activity(c, "mandate_proposal", "Mandate terms proposed");
}

/* Only the party that did not author the open proposal accepts it, and only
** that proposal: accepting one that was superseded meanwhile is refused. */
static int guard_accept(tesoro__ctx *c) {
  const tesoro__terms *terms = c->args;
  char party[8];
  int64_t open;
  int rc;
  if ((rc = tesoro__open_proposal(c, &open, party))) return rc;
  if (strcmp(party, tesoro__party(c->actor)) == 0)
    return tesoro__fail(c->t, TESORO_EDENIED,
                        "proposal %lld was made by the %s side; only the other "
                        "party can accept it",
                        (long long)open, party);
  if (c->checking || terms->proposal == open) return TESORO_OK;
  {
    sqlite3_stmt *s;
    int64_t owner = 0;
    if ((s = TESORO__STMT(c->t, S_PROPOSAL_LOAD,
                          BIND_I(terms->proposal))) == NULL) return c->t->rc;
    if ((rc = tesoro__int(c->t, s, &owner)) < 0) return rc;
    if (rc == TESORO_DONE || owner != c->id)
      return tesoro__fail(c->t, TESORO_ENOTFOUND,
                          "proposal %lld is not a proposal of mandate %lld",
                          (long long)terms->proposal, (long long)c->id);
  }
  return tesoro__fail(c->t, TESORO_EGUARD,
                      "proposal %lld is not the open proposal of mandate %lld "
                      "(superseded by proposal %lld)",
                      (long long)terms->proposal, (long long)c->id,
                      (long long)open);
}

static int fx_accept(tesoro__ctx *c) {
  tesoro *t = c->t;
  const tesoro__terms *terms = c->args;
  sqlite3_stmt *s;
  const char *json;
  int rc;
  if ((rc = TESORO__EXEC(t, S_PROPOSAL_ACCEPT, BIND_I(terms->proposal),
                         BIND_T(tesoro__party(c->actor)), BIND_I(c->now))))
    return rc;
  if ((rc = TESORO__EXEC(t, S_MANDATE_AGREE, BIND_I(c->id),
                         BIND_I(terms->proposal))) ||
      (rc = tesoro__history_ref(c, terms->proposal)))
    return rc;
  if ((rc = TESORO__ROW(t, &s, S_PROPOSAL_TERMS_JSON, BIND_I(terms->proposal),
                        BIND_T(TESORO__DISCLAIMER)))) return rc;
  json = (const char *)sqlite3_column_text(s, 0);
  c->out_text = json ? TESORO_MALLOC(strlen(json) + 1) : NULL;
  if (c->out_text) memcpy(c->out_text, json, strlen(json) + 1);
  sqlite3_reset(s);
  if (c->out_text == NULL) return tesoro__fail(t, TESORO_ENOMEM, "out of memory");
  if ((rc = tesoro__activity(c, "mandate_terms_agreed", "Mandate terms agreed")))
    return rc;
  return tesoro__notice_data(c, NULL, c->out_text); /* the terms, told */
}

static int fx_share_form(tesoro__ctx *c) {
  return tesoro__activity(c, "seller_form_shared", "Seller form shared");
}

static int tesoro__has_document(tesoro__ctx *c, const char *kind, int64_t *out) {
  sqlite3_stmt *s;
  if ((s = TESORO__STMT(c->t, S_DOCUMENT_HAS_KIND, BIND_I(c->entity),
                        BIND_I(c->id), BIND_T(kind))) == NULL) return c->t->rc;
  return tesoro__int(c->t, s, out);
}

static int guard_signed_mandate(tesoro__ctx *c) {
  int64_t n = 0;
  int rc = tesoro__has_document(c, "signed_mandate", &n);
  if (rc) return rc;
  if (n == 0)
    return tesoro__fail(c->t, TESORO_EGUARD,
                        "mandate %lld has no signed mandate document (PDF) "
                        "attached",
                        (long long)c->id);
  return TESORO_OK;
}

static int tesoro__store_args(tesoro__ctx *c, int id);

static int fx_submit_form(tesoro__ctx *c) {
  tesoro *t = c->t;
  int64_t agent;
  int rc;
  if ((rc = tesoro__store_args(c, S_MANDATE_SET_FORM)) ||
      (rc = tesoro__contact_agent(t, c->contact, &agent)) ||
      (rc = tesoro__task_open(c, "review_seller_form", "review seller form",
                              TESORO_ENTITY_MANDATE, c->id, agent)))
    return rc;
  return tesoro__activity(c, "seller_form_submitted", "Seller form submitted");
}

static int fx_request_changes(tesoro__ctx *c) {
  char summary[TESORO_MAX_REASON + 32];
  int rc;
  snprintf(summary, sizeof summary, "Changes requested: %s", c->reason);
  if ((rc = tesoro__task_done(c, "review_seller_form", TASK_EV_CANCEL,
                              "seller_form_changes_requested", summary)))
    return rc;
  return tesoro__notice_data(c, summary, NULL);
}

/* Validation needs the signed mandate and a finished review: the newest
** "review seller form" task of the mandate must be done. */
static int guard_validate(tesoro__ctx *c) {
  sqlite3_stmt *s;
  int rc;
  if ((rc = guard_signed_mandate(c))) return rc;
  if ((s = TESORO__STMT(c->t, S_TASK_LAST_STATE, BIND_I(TESORO_ENTITY_MANDATE),
                        BIND_I(c->id), BIND_T("review_seller_form"))) == NULL)
    return c->t->rc;
  if ((rc = tesoro__row(c->t, s)) < 0) return rc;
  if (rc == TESORO_ROW) {
    const char *state = (const char *)sqlite3_column_text(s, 0);
    rc = strcmp(state, "done") == 0
             ? TESORO_OK
             : tesoro__fail(c->t, TESORO_EGUARD,
                            "the review task of mandate %lld is %s; complete "
                            "the review first",
                            (long long)c->id, state);
    sqlite3_reset(s);
    return rc;
  }
  return tesoro__fail(c->t, TESORO_EGUARD,
                      "mandate %lld has no review task; complete the review first",
                      (long long)c->id);
}

/* Run statement `id` with ?1 = the entity and ?2 = the call's text
** argument (a JSON document validated before the transaction began). */
static int tesoro__store_args(tesoro__ctx *c, int id) {
  return TESORO__EXEC(c->t, id, BIND_I(c->id), BIND_T((const char *)c->args));
}

static int fx_listing_fill(tesoro__ctx *c) {
  return tesoro__store_args(c, S_LISTING_FILL);
}

static int fx_validate(tesoro__ctx *c) {
  tesoro *t = c->t;
  tesoro__actor system;
  sqlite3_stmt *s;
  int64_t room, days, listing = 0, agent;
  char *form = NULL;
  int rc, placeholder = 0;

  if ((rc = TESORO__EXEC(t, S_MANDATE_SET_VALIDATED, BIND_I(c->id),
                         BIND_I(c->now)))) return rc;
  if ((rc = TESORO__ROW(t, &s, S_MANDATE_GET, BIND_I(c->id)))) return rc;
  room = sqlite3_column_int64(s, 0);
  days = sqlite3_column_int64(s, 2);
  {
    const char *text = (const char *)sqlite3_column_text(s, 4);
    size_t n = text ? strlen(text) + 1 : 0;
    form = n ? TESORO_MALLOC(n) : NULL;
    if (form) memcpy(form, text, n);
  }
  sqlite3_reset(s);
  if (form == NULL) return tesoro__fail(t, TESORO_ENOMEM, "out of memory");

  if ((rc = tesoro__agency_actor(t, c->agency, "system", &system))) goto done;
  if ((s = tesoro__stmt(t, S_LISTING_OF_MANDATE)) == NULL) { rc = t->rc; goto done; }
  sqlite3_bind_int64(s, 1, c->id);
  if ((rc = tesoro__row(t, s)) < 0) goto done;
  if (rc == TESORO_ROW) {
    listing = sqlite3_column_int64(s, 0);
    placeholder = strcmp((const char *)sqlite3_column_text(s, 1), "placeholder") == 0;
    sqlite3_reset(s);
  }
  /* The listing draft is filled from the seller form: the placeholder made
  ** at start_onboarding if there is one, else a new listing. */
  if (listing && placeholder) {
    rc = tesoro__fire_nested(c, &tesoro__listing_machine, listing,
                             LISTING_EV_FILL, &system, form);
  } else if (!listing) {
    tesoro__ctx fill = *c;
    if ((rc = tesoro__listing_insert(c, c->id, LISTING_DRAFT, &listing))) goto done;
    fill.id = listing;
    fill.args = form;
    rc = fx_listing_fill(&fill);
  } else {
    rc = TESORO_OK;
  }
  if (rc) goto done;
  /* The photos, property documents and energy certificate sent with the
  ** form are the listing's from the start (staff add and remove from
  ** there); the mandate keeps what the seller submitted. */
  if ((rc = TESORO__EXEC(t, S_DOCUMENTS_TO_LISTING, BIND_I(c->id),
                         BIND_I(listing), BIND_I(TESORO_ENTITY_LISTING),
                         BIND_I(TESORO_ENTITY_MANDATE))) ||
      (rc = tesoro__fire_nested(c, &tesoro__room_machine, room,
                                ROOM_EV_MANDATE_VALIDATED, &system, NULL)) ||
      (rc = tesoro__contact_agent(t, c->contact, &agent)) ||
      (rc = tesoro__task_open(c, "publish_listing", "complete and publish listing",
                              TESORO_ENTITY_LISTING, listing, agent)) ||
      (rc = tesoro__timer_plan(c, TESORO_ENTITY_MANDATE, c->id, "mandate_expiry",
                               c->now + days * TESORO__DAY)) ||
      (rc = tesoro__activity(c, "mandate_validated", "Mandate validated")))
    goto done;
  c->out_id = listing;
  rc = tesoro__history_ref(c, listing);
done:
  TESORO_FREE(form);
  return rc;
}

static int fx_mandate_cancel(tesoro__ctx *c) {
  int rc = TESORO__EXEC(c->t, S_MANDATE_SET_END, BIND_I(c->id),
                        BIND_T(c->reason));
  if (rc == TESORO_OK)
    rc = tesoro__task_done(c, "review_seller_form", TASK_EV_CANCEL,
                           "mandate_cancelled", "Mandate cancelled");
  return rc;
}

TESORO_API int tesoro_mandate_propose(tesoro *t, int64_t actor, int64_t mandate,
                                      int commission_type, int64_t value,
                                      const char *currency, int exclusive,
                                      int duration_days,
                                      int64_t expected_version,
                                      int64_t *out_proposal) {
  tesoro__terms terms;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_proposal, "out_proposal"))) return rc;
  if (commission_type == TESORO_COMMISSION_PERCENTAGE) {
    if (value < 1 || value > 10000)
      return tesoro__fail(t, TESORO_EINVAL,
                          "a percentage commission is 1..10000 basis points "
                          "(0 < v <= 100 %%)");
    if (tesoro__opt(currency))
      return tesoro__fail(t, TESORO_EINVAL,
                          "a percentage commission takes no currency");
  } else if (commission_type == TESORO_COMMISSION_FIXED) {
    if (value <= 0)
      return tesoro__fail(t, TESORO_EINVAL, "a fixed commission must be > 0");
    if ((rc = tesoro__currency(t, currency))) return rc;
  } else {
    return tesoro__fail(t, TESORO_EINVAL, "unknown commission type %d",
                        commission_type);
  }
  if (exclusive != 0 && exclusive != 1)
    return tesoro__fail(t, TESORO_EINVAL, "exclusive must be 0 or 1");
  if (duration_days < 1 || duration_days > 3650)
    return tesoro__fail(t, TESORO_EINVAL, "duration must be 1..3650 days");
  terms.type = commission_type;
  terms.value = value;
  terms.currency = currency;
  terms.exclusive = exclusive;
  terms.days = duration_days;
  terms.proposal = 0;
  return tesoro__transition(t, actor, &tesoro__mandate_machine, mandate,
                            MANDATE_EV_PROPOSE, expected_version, &terms, NULL,
                            out_proposal, NULL);
}

TESORO_API int tesoro_mandate_accept(tesoro *t, int64_t actor, int64_t mandate,
                                     int64_t proposal, int64_t expected_version,
                                     char **out_json) {
  tesoro__terms terms;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__id(t, "proposal", proposal))) return rc;
  memset(&terms, 0, sizeof terms);
  terms.proposal = proposal;
  return tesoro__transition(t, actor, &tesoro__mandate_machine, mandate,
                            MANDATE_EV_ACCEPT, expected_version, &terms, NULL,
                            NULL, out_json);
}

TESORO__EVENT_CALL(tesoro_mandate_share_form, tesoro__mandate_machine,
                   MANDATE_EV_SHARE_FORM)

TESORO_API int tesoro_mandate_submit_form(tesoro *t, int64_t actor,
                                          int64_t mandate,
                                          const char *form_json,
                                          int64_t expected_version) {
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__json_fields(t, "seller form", form_json,
                                tesoro__form_fields, COUNT(tesoro__form_fields),
                                0)))
    return rc;
  return tesoro__transition(t, actor, &tesoro__mandate_machine, mandate,
                            MANDATE_EV_SUBMIT_FORM, expected_version, form_json,
                            NULL, NULL, NULL);
}

TESORO__REASON_CALL(tesoro_mandate_request_changes, tesoro__mandate_machine,
                    MANDATE_EV_REQUEST_CHANGES, 1)

TESORO_API int tesoro_mandate_validate(tesoro *t, int64_t actor,
                                       int64_t mandate,
                                       int64_t expected_version,
                                       int64_t *out_listing) {
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_listing, "out_listing"))) return rc;
  return tesoro__transition(t, actor, &tesoro__mandate_machine, mandate,
                            MANDATE_EV_VALIDATE, expected_version, NULL, NULL,
                            out_listing, NULL);
}

TESORO__REASON_CALL(tesoro_mandate_cancel, tesoro__mandate_machine,
                    MANDATE_EV_CANCEL, 1)

/* --- listing --- */

/* Facts the publish and expiry guards read: is the listing complete, its
** mandate's state, and when the mandate expires. */
typedef struct tesoro__listing_facts {
  int complete;
  char mandate_state[16];
  int64_t expires;
} tesoro__listing_facts;

static int tesoro__listing_facts_get(tesoro__ctx *c, tesoro__listing_facts *f) {
  sqlite3_stmt *s;
  int rc;
  if ((rc = TESORO__ROW(c->t, &s, S_LISTING_PUBLISH_FACTS, BIND_I(c->id))))
    return rc;
  f->complete = sqlite3_column_int(s, 0);
  tesoro__column_copy(s, 1, f->mandate_state, sizeof f->mandate_state);
  f->expires = sqlite3_column_int64(s, 2);
  sqlite3_reset(s);
  return TESORO_OK;
}

/* Publishing needs a valid mandate: validated, and not expired (validated
** time + agreed duration); and a listing a buyer can read. */
static int guard_valid_mandate(tesoro__ctx *c) {
  tesoro__listing_facts f;
  int rc;
  if ((rc = tesoro__listing_facts_get(c, &f))) return rc;
  if (strcmp(f.mandate_state, "validated") != 0)
    return tesoro__fail(c->t, TESORO_EGUARD,
                        "listing %lld has no valid mandate: the mandate is %s",
                        (long long)c->id, f.mandate_state);
  if (c->now >= f.expires)
    return tesoro__fail(c->t, TESORO_EGUARD,
                        "the mandate of listing %lld expired at %lld",
                        (long long)c->id, (long long)f.expires);
  if (!f.complete)
    return tesoro__fail(c->t, TESORO_EGUARD,
                        "listing %lld needs a title, address and price before "
                        "it is published",
                        (long long)c->id);
  return TESORO_OK;
}

static int guard_mandate_expired(tesoro__ctx *c) {
  tesoro__listing_facts f;
  int rc = tesoro__listing_facts_get(c, &f);
  if (rc == TESORO_OK && c->now < f.expires)
    rc = tesoro__fail(c->t, TESORO_EGUARD,
                      "the mandate of listing %lld runs until %lld",
                      (long long)c->id, (long long)f.expires);
  return rc;
}

static int fx_publish(tesoro__ctx *c) {
  int rc = TESORO__EXEC(c->t, S_LISTING_SET_PUBLISHED, BIND_I(c->id),
                        BIND_I(c->now));
  return rc ? rc : tesoro__task_done(c, "publish_listing", TASK_EV_COMPLETE,
                                     "listing_published", "Listing published");
}

static int fx_listing_update(tesoro__ctx *c) {
  return tesoro__store_args(c, S_LISTING_UPDATE);
}

/* When a validated mandate expires: its published listing goes offline and
** the agent gets a task to renew the mandate. */
static int timer_mandate_expiry(tesoro__ctx *c) {
  tesoro *t = c->t;
  sqlite3_stmt *s;
  int64_t listing = 0, agent;
  int live = 0, rc; /* the listing is in a state "expire" leaves */
  if (c->from != MANDATE_VALIDATED) return TESORO_OK;
  if ((s = TESORO__STMT(t, S_LISTING_OF_MANDATE, BIND_I(c->id))) == NULL)
    return t->rc;
  if ((rc = tesoro__row(t, s)) < 0) return rc;
  if (rc == TESORO_ROW) {
    listing = sqlite3_column_int64(s, 0);
    live = tesoro__event_from(&tesoro__listing_machine, LISTING_EV_EXPIRE,
                                   (const char *)sqlite3_column_text(s, 1));
    sqlite3_reset(s);
  }
  if (live && (rc = tesoro__fire_nested(c, &tesoro__listing_machine, listing,
                                             LISTING_EV_EXPIRE, c->actor, NULL)))
    return rc;
  if ((rc = tesoro__contact_agent(t, c->contact, &agent))) return rc;
  return tesoro__task_open(c, "renew_mandate", "renew mandate",
                           TESORO_ENTITY_MANDATE, c->id, agent);
}

TESORO_API int tesoro_listing_update(tesoro *t, int64_t actor, int64_t listing,
                                     const char *fields_json,
                                     int64_t expected_version) {
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__json_fields(
           t, "listing fields", fields_json,
           tesoro__form_fields + TESORO__LISTING_FIELDS,
           COUNT(tesoro__form_fields) - TESORO__LISTING_FIELDS, 1)))
    return rc;
  return tesoro__transition(t, actor, &tesoro__listing_machine, listing,
                            LISTING_EV_UPDATE, expected_version, fields_json,
                            NULL, NULL, NULL);
}

TESORO__EVENT_CALL(tesoro_listing_publish, tesoro__listing_machine,
                   LISTING_EV_PUBLISH)

TESORO__EVENT_CALL(tesoro_listing_unpublish, tesoro__listing_machine,
                   LISTING_EV_UNPUBLISH)

TESORO__EVENT_CALL(tesoro_task_complete, tesoro__task_machine, TASK_EV_COMPLETE)

TESORO__EVENT_CALL(tesoro_task_cancel, tesoro__task_machine, TASK_EV_CANCEL)

/* =========================================================================
** 14. Viewing appointments
**
** Deals, the listings offered to them, and the viewings clients request.
** A request is an event of the deal property that creates the appointment;
** the appointment's machine (section 8) does the rest, with three timers
** per confirmed viewing (completion, reminder, feedback request) and one
** per viewing the clock completed (the no-show window, after which the
** property counts as viewed).  "The day of the viewing" is the agency's
** local calendar day (section 4).
*/
static int tesoro__text_out(tesoro *t, sqlite3_stmt *s, char **out);

typedef struct tesoro__offer {
  int64_t deal, agent, listing, contact_agent;
  int active, live; /* the deal is active; the listing is on offer */
} tesoro__offer;

typedef struct tesoro__request {
  const int64_t *preferred;
  int count;
  tesoro__offer offer; /* read by the guard, for the effect */
} tesoro__request;

/* The context's agency's IANA zone. */
static int tesoro__agency_zone(tesoro__ctx *c, char zone[128]) {
  sqlite3_stmt *s;
  int rc;
  if ((rc = TESORO__ROW(c->t, &s, S_AGENCY_ZONE, BIND_I(c->agency)))) return rc;
  snprintf(zone, 128, "%s", (const char *)sqlite3_column_text(s, 0));
  sqlite3_reset(s);
  return TESORO_OK;
}

/* The agency-local date (yyyymmdd) of `instant` for the context's agency. */
static int tesoro__agency_date(tesoro__ctx *c, int64_t instant, int32_t *out) {
  char zone[128];
  int rc = tesoro__agency_zone(c, zone);
  return rc ? rc : tesoro__zone_date(c->t, zone, instant, out);
}

/* --- deals --- */

TESORO_API int tesoro_deal_create(tesoro *t, int64_t actor, int64_t contact,
                                  const char *name, int64_t *out_deal) {
  tesoro__actor a;
  tesoro__ctx c;
  int64_t agent; /* tesoro__contact_agent sets it */
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_deal, "out_deal")) ||
      (rc = tesoro__text(t, "deal name", name, TESORO_MAX_SHORT, 1)) ||
      (rc = tesoro__actor_on_contact(t, actor, R_STAFF,
                                     "open deals", contact, &a)) ||
      (rc = tesoro__contact_writable(t, &a, contact)))
    return rc;
  tesoro__ctx_new(&c, t, &a, 0, contact);
  if ((rc = tesoro__write_begin(t))) return rc;
  rc = tesoro__contact_agent(t, contact, &agent);
  if (rc == TESORO_OK) rc = tesoro__create_begin(&c, &tesoro__deal_machine, -1);
  if (rc == TESORO_OK)
    rc = TESORO__EXEC(t, S_DEAL_INSERT, BIND_I(a.agency), BIND_I(contact),
                      BIND_I(agent ? agent : a.id), BIND_T(name), BIND_I(c.now),
                      BIND_T(c.m->states[c.to]));
  if (rc == TESORO_OK) {
    if ((rc = tesoro__created(&c, sqlite3_last_insert_rowid(t->db))) ==
        TESORO_OK)
      rc = tesoro__activity(&c, "deal_created", name);
  }
  if ((rc = tesoro__write_end(t, rc))) return rc;
  *out_deal = c.id;
  return TESORO_OK;
}

/* Only a published listing of the deal's agency, and only once per deal. */
static int guard_offer(tesoro__ctx *c) {
  const int64_t *listing = c->args;
  sqlite3_stmt *s;
  int64_t agency, existing = 0;
  int rc;
  if (c->checking) return TESORO_OK;
  if ((s = TESORO__STMT(c->t, S_LISTING_OFFER_FACTS, BIND_I(*listing),
                        BIND_I(c->now))) == NULL) return c->t->rc;
  if ((rc = tesoro__row(c->t, s)) == TESORO_DONE)
    return tesoro__fail(c->t, TESORO_ENOTFOUND, "listing %lld does not exist",
                        (long long)*listing);
  if (rc != TESORO_ROW) return rc;
  agency = sqlite3_column_int64(s, 0);
  if (agency != c->agency)
    rc = tesoro__fail(c->t, TESORO_EDENIED,
                      "listing %lld belongs to another agency than deal %lld",
                      (long long)*listing, (long long)c->id);
  else if (strcmp((const char *)sqlite3_column_text(s, 1), "published") != 0)
    rc = tesoro__fail(c->t, TESORO_EGUARD,
                      "listing %lld is %s; only published listings can be "
                      "offered", (long long)*listing,
                      (const char *)sqlite3_column_text(s, 1));
  else if (!sqlite3_column_int(s, 2))
    rc = tesoro__fail(c->t, TESORO_EGUARD,
                      "the mandate of listing %lld has expired; it cannot be "
                      "offered", (long long)*listing);
  else
    rc = TESORO_OK;
  sqlite3_reset(s);
  if (rc) return rc;
  if ((s = TESORO__STMT(c->t, S_DEAL_PROPERTY_OF, BIND_I(c->id),
                        BIND_I(*listing))) == NULL) return c->t->rc;
  if ((rc = tesoro__int(c->t, s, &existing)) < 0) return rc;
  if (rc == TESORO_OK)
    return tesoro__fail(c->t, TESORO_EEXISTS,
                        "listing %lld is already offered to deal %lld (deal "
                        "property %lld)", (long long)*listing,
                        (long long)c->id, (long long)existing);
  return TESORO_OK;
}

static int fx_offer(tesoro__ctx *c) {
  tesoro *t = c->t;
  const int64_t *listing = c->args;
  tesoro__ctx offered = *c;
  int rc;
  if ((rc = tesoro__create_begin(&offered, &tesoro__deal_property_machine, -1)))
    return rc;
  if ((rc = TESORO__EXEC(t, S_DEAL_PROPERTY_INSERT, BIND_I(c->agency),
                         BIND_I(c->id), BIND_I(*listing), BIND_I(c->now),
                         BIND_T(offered.m->states[offered.to])))) return rc;
  c->out_id = sqlite3_last_insert_rowid(t->db);
  if ((rc = tesoro__created(&offered, c->out_id)) ||
      (rc = tesoro__history_ref(c, c->out_id)))
    return rc;
  return tesoro__activity(c, "property_offered", "Property offered");
}

static int fx_deal_close(tesoro__ctx *c) {
  int rc;
  if ((rc = TESORO__EXEC(c->t, S_DEAL_SET_END, BIND_I(c->id),
                         BIND_T(c->reason)))) return rc;
  return tesoro__activity(c, "deal_closed", c->reason);
}

TESORO__REASON_CALL(tesoro_deal_close, tesoro__deal_machine, DEAL_EV_CLOSE, 1)

TESORO_API int tesoro_deal_offer(tesoro *t, int64_t actor, int64_t deal,
                                 int64_t listing, int64_t *out_deal_property) {
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_deal_property, "out_deal_property")) ||
      (rc = tesoro__id(t, "listing", listing)))
    return rc;
  return tesoro__transition(t, actor, &tesoro__deal_machine, deal,
                            DEAL_EV_OFFER, 0, &listing, NULL,
                            out_deal_property, NULL);
}

/* --- the request: a deal property's event that creates the appointment --- */

static int tesoro__offer_get(tesoro__ctx *c, tesoro__offer *o) {
  sqlite3_stmt *s;
  int rc;
  if ((rc = TESORO__ROW(c->t, &s, S_DEAL_PROPERTY_FACTS, BIND_I(c->id),
                        BIND_I(c->now)))) return rc;
  o->deal = sqlite3_column_int64(s, 0);
  o->live = sqlite3_column_int(s, 5);
  o->active = strcmp((const char *)sqlite3_column_text(s, 1), "active") == 0;
  o->agent = sqlite3_column_int64(s, 2);
  o->listing = sqlite3_column_int64(s, 3);
  o->contact_agent = sqlite3_column_int64(s, 4);
  sqlite3_reset(s);
  return TESORO_OK;
}

static int guard_request_viewing(tesoro__ctx *c) {
  /* the call's own struct (NULL for tesoro_allowed_events): the offer read
  ** here is the one its effect uses, in the same transaction */
  tesoro__request *r = (tesoro__request *)(uintptr_t)c->args;
  tesoro__offer o;
  int rc;
  if ((rc = tesoro__offer_get(c, &o))) return rc;
  if (r) r->offer = o;
  if (!o.active)
    return tesoro__fail(c->t, TESORO_EGUARD,
                        "deal %lld is closed; viewings can be requested only "
                        "on an active deal", (long long)o.deal);
  if (!o.live)
    return tesoro__fail(c->t, TESORO_EGUARD,
                        "listing %lld is no longer on offer (unpublished, or "
                        "its mandate expired); no viewing can be requested",
                        (long long)o.listing);
  for (int i = 0; !c->checking && i < r->count; i++)
    if (r->preferred[i] <= c->now)
      return tesoro__fail(c->t, TESORO_EGUARD,
                          "preferred date-time %d (%lld) is in the past",
                          i + 1, (long long)r->preferred[i]);
  return TESORO_OK;
}

typedef struct tesoro__appt tesoro__appt;
static int tesoro__calendar_sync(tesoro__ctx *c, int64_t owner,
                                 const tesoro__appt *a);

static int fx_request_viewing(tesoro__ctx *c) {
  tesoro *t = c->t;
  const tesoro__request *r = c->args;
  const tesoro__offer o = r->offer;
  tesoro__ctx a;
  char preferred[80], extra[100];
  int64_t owner;
  int rc, used = 0;
  owner = o.contact_agent ? o.contact_agent : o.agent;
  for (int i = 0; i < r->count; i++)
    used += snprintf(preferred + used, sizeof preferred - (size_t)used,
                     "%s%lld", i ? "," : "[", (long long)r->preferred[i]);
  snprintf(preferred + used, sizeof preferred - (size_t)used, "]");
  /* From here on the appointment is the subject: its first history row is
  ** the request, and the notifications hang on it. */
  a = *c;
  if ((rc = tesoro__create_begin(&a, &tesoro__appointment_machine, -1)))
    return rc;
  a.agent = owner;
  if ((rc = TESORO__EXEC(t, S_APPOINTMENT_INSERT, BIND_I(c->agency),
                         BIND_I(c->contact), BIND_I(o.deal), BIND_I(c->id),
                         BIND_I(o.listing), BIND_I(owner), BIND_T(preferred),
                         BIND_I(c->now), BIND_T(a.m->states[a.to])))) return rc;
  c->out_id = sqlite3_last_insert_rowid(t->db);
  snprintf(extra, sizeof extra, "{\"preferred\":%s}", preferred);
  /* the owner is told (the appointment's notice rows), with the dates */
  if ((rc = tesoro__notice_data(&a, NULL, extra)) ||
      (rc = tesoro__created(&a, c->out_id)) ||
      (rc = tesoro__calendar_sync(&a, owner, NULL)))
    return rc;
  return tesoro__history_ref(c, a.id);
}

/* The request's line, on the appointment's first history row. */
static int fx_requested(tesoro__ctx *c) {
  return tesoro__activity(c, "viewing_requested", "Viewing requested");
}

TESORO_API int tesoro_appointment_request(tesoro *t, int64_t actor,
                                          int64_t deal_property,
                                          const int64_t *preferred, int count,
                                          int64_t *out_appointment) {
  tesoro__request r;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_appointment, "out_appointment"))) return rc;
  if (count < 1 || count > TESORO_MAX_PREFERRED)
    return tesoro__fail(t, TESORO_EINVAL,
                        "a viewing request needs 1 to %d preferred "
                        "date-times, not %d", TESORO_MAX_PREFERRED, count);
  if (preferred == NULL)
    return tesoro__fail(t, TESORO_EINVAL, "preferred is NULL");
  for (int i = 0; i < count; i++) {
    if (preferred[i] <= 0)
      return tesoro__fail(t, TESORO_EINVAL,
                          "preferred date-time %d must be > 0", i + 1);
    for (int j = 0; j < i; j++)
      if (preferred[j] == preferred[i])
        return tesoro__fail(t, TESORO_EINVAL,
                            "preferred date-times %d and %d are duplicates",
                            j + 1, i + 1);
  }
  r.preferred = preferred;
  r.count = count;
  return tesoro__transition(t, actor, &tesoro__deal_property_machine,
                            deal_property, DP_EV_REQUEST_VIEWING, 0, &r, NULL,
                            out_appointment, NULL);
}

/* --- the client's property feed --- */

typedef struct tesoro__verdict {
  const char *reasons; /* JSON array of reason names: not_interested only */
  const char *note;
  int favourite;       /* 0/1, or -1: unchanged */
} tesoro__verdict;

static const char *const tesoro__reject_reasons[] = {
    "price", "location", "size", "layout", "condition", "other"};

static int fx_feed(tesoro__ctx *c) {
  static const tesoro__verdict plain = {NULL, NULL, -1}; /* a bare verdict */
  const tesoro__verdict *v = c->args ? c->args : &plain;
  char kind[48];
  int rc;
  if ((rc = TESORO__EXEC(c->t, S_DEAL_PROPERTY_FEED, BIND_I(c->id),
                         BIND_T(v->reasons), BIND_T(v->note),
                         BIND_I(v->favourite)))) return rc;
  snprintf(kind, sizeof kind, "property_%s", c->event_name);
  return tesoro__activity(c, kind,
                          c->event != DP_EV_FAVOURITE ? c->m->states[c->to]
                          : v->favourite             ? "Property saved as favourite"
                                                     : "Property removed from favourites");
}

static int tesoro__verdict_event(tesoro *t, int64_t actor, int64_t deal_property,
                                 int event, const tesoro__verdict *v,
                                 int64_t expected) {
  return tesoro__transition(t, actor, &tesoro__deal_property_machine,
                            deal_property, event, expected, v, NULL, NULL, NULL);
}

TESORO__EVENT_CALL(tesoro_deal_property_interested,
                   tesoro__deal_property_machine, DP_EV_INTERESTED)

TESORO_API int tesoro_deal_property_not_interested(tesoro *t, int64_t actor,
                                                   int64_t deal_property,
                                                   int reasons,
                                                   const char *note,
                                                   int64_t expected_version) {
  tesoro__verdict v = {NULL, NULL, -1};
  char json[128];
  int rc, used = 0;
  TESORO__ENTER(t);
  if (reasons <= 0 || reasons >= (1 << COUNT(tesoro__reject_reasons)))
    return tesoro__fail(t, TESORO_EINVAL,
                        "not_interested needs one or more known reasons "
                        "(TESORO_REJECT_*), not %d", reasons);
  if ((rc = tesoro__text(t, "note", note, TESORO_MAX_REASON, 0))) return rc;
  for (int i = 0; i < COUNT(tesoro__reject_reasons); i++)
    if (reasons & (1 << i))
      used += snprintf(json + used, sizeof json - (size_t)used, "%s\"%s\"",
                       used ? "," : "[", tesoro__reject_reasons[i]);
  snprintf(json + used, sizeof json - (size_t)used, "]");
  v.reasons = json;
  v.note = tesoro__opt(note);
  return tesoro__verdict_event(t, actor, deal_property, DP_EV_NOT_INTERESTED,
                               &v, expected_version);
}

TESORO__EVENT_CALL(tesoro_deal_property_approve,
                   tesoro__deal_property_machine, DP_EV_APPROVE)

TESORO_API int tesoro_deal_property_favourite(tesoro *t, int64_t actor,
                                              int64_t deal_property, int on,
                                              int64_t expected_version) {
  tesoro__verdict v = {NULL, NULL, on};
  TESORO__ENTER(t);
  if (on != 0 && on != 1)
    return tesoro__fail(t, TESORO_EINVAL, "favourite must be 0 or 1");
  return tesoro__verdict_event(t, actor, deal_property, DP_EV_FAVOURITE, &v,
                               expected_version);
}

/* --- the appointment's guards and effects --- */

struct tesoro__appt {
  int64_t start_at, duration, owner, deal_property, no_show_at;
  int64_t reminder_at; /* the planned reminder's due time, or 0 */
};

/* The facts from S_APPOINTMENT_LOAD's columns after its first four. */
static void tesoro__appt_of(const int64_t v[6], tesoro__appt *a) {
  a->start_at = v[0];
  a->duration = v[1];
  a->reminder_at = v[2];
  a->owner = v[3];
  a->deal_property = v[4];
  a->no_show_at = v[5];
}

/* The appointment's own facts: as the load read them before the move
** (c->seq 0: the guards, a timer's handler) and after a move that writes
** none of them; after a start (confirm, reschedule) or a no-show, and in
** the request that made it (no load), read again. */
static int tesoro__appt_get(tesoro__ctx *c, tesoro__appt *a) {
  int64_t v[COUNT(c->before)];
  if (c->seq == 0 ||
      (c->from >= 0 && c->row->move != S_APPOINTMENT_MOVE_START &&
       c->row->move != S_APPOINTMENT_MOVE_NO_SHOW)) {
    tesoro__appt_of(c->before, a);
  } else {
    sqlite3_stmt *s;
    int rc;
    if ((rc = TESORO__ROW(c->t, &s, S_APPOINTMENT_LOAD, BIND_I(c->id))))
      return rc;
    for (int i = 0; i < COUNT(v); i++) v[i] = sqlite3_column_int64(s, 4 + i);
    sqlite3_reset(s);
    tesoro__appt_of(v, a);
  }
  c->agent = a->owner; /* for the notice step: read once */
  return TESORO_OK;
}

/* An appointment's timers, as bits of `which` below, and when each is due:
** all follow from its row (the reminder from reminder_at, which the
** confirm or reschedule that planned it set).  0: none of that kind. */
enum {
  APPT_T_COMPLETE = 1, /* the clock completes it at its end */
  APPT_T_FEEDBACK = 2, /* the client is asked an hour after the end */
  APPT_T_REMINDER = 4, /* a reminder before the start */
  APPT_T_NO_SHOW = 8   /* the no-show window closes, 7 days on */
};
static const char *const tesoro__appt_timer_kinds[] = {
    "appointment_complete", "viewing_feedback", "viewing_reminder",
    "no_show_window"};

static int64_t tesoro__appt_due(const tesoro__appt *a, int bit) {
  switch (bit) {
  case APPT_T_COMPLETE: return a->start_at + a->duration;
  case APPT_T_FEEDBACK:
    return a->start_at + a->duration + TESORO__FEEDBACK_AFTER_S;
  case APPT_T_REMINDER: return a->reminder_at;
  default: return a->start_at + TESORO_NO_SHOW_WINDOW_S;
  }
}

/* Plan (or, `withdraw`, withdraw) the appointment's timers in `which`. */
static int tesoro__appt_timers(tesoro__ctx *c, const tesoro__appt *a,
                               int which, int withdraw) {
  int rc = TESORO_OK;
  for (int i = 0; rc == TESORO_OK && i < COUNT(tesoro__appt_timer_kinds); i++) {
    int64_t due = tesoro__appt_due(a, 1 << i);
    if (!(which & (1 << i)) || due == 0) continue;
    rc = withdraw ? tesoro__timer_withdraw(c, tesoro__appt_timer_kinds[i], due)
                  : tesoro__timer_plan(c, c->entity, c->id,
                                       tesoro__appt_timer_kinds[i], due);
  }
  return rc;
}

/* Queue the appointment, as it is at this transition, for the owner's
** calendar.  The row holds what only this moment knows, the start time;
** the rest of the appointment is rendered when the host fetches it, from
** the appointment and this transition's history row (the view
** outbox_delivery, schema.sql): a 30-field JSON object per
** transition was a tenth of its cost. */
static int tesoro__calendar_sync(tesoro__ctx *c, int64_t owner,
                                 const tesoro__appt *a) {
  char extra[80];
  int64_t start_at = a ? a->start_at : 0;
  if (start_at)
    snprintf(extra, sizeof extra, "{\"start_at\":%lld,\"duration_s\":%lld}",
             (long long)start_at, (long long)a->duration);
  return tesoro__outbox(c, "calendar", owner, CH_CALENDAR,
                        "Calendar Meeting Event", "Viewing appointment",
                        start_at ? extra : NULL);
}

/* The deal property counts as viewed, when its status allows; c is the
** appointment that was viewed. */
static int tesoro__property_viewed(tesoro__ctx *c, int64_t deal_property) {
  sqlite3_stmt *s;
  int live, rc;
  if ((rc = TESORO__ROW(c->t, &s, S_DEAL_PROPERTY_LOAD, BIND_I(deal_property))))
    return rc;
  live = tesoro__event_from(&tesoro__deal_property_machine,
                            DP_EV_VIEWING_COMPLETED,
                            (const char *)sqlite3_column_text(s, 2));
  sqlite3_reset(s);
  if (!live) return TESORO_OK;
  return tesoro__fire_by_system(c, &tesoro__deal_property_machine,
                                deal_property, DP_EV_VIEWING_COMPLETED, &c->id);
}

/* The viewing that made the property viewed, in its history row: a
** no-show on that viewing (and no later one) takes the status back. */
static int fx_viewed(tesoro__ctx *c) {
  return c->args ? tesoro__history_ref(c, *(const int64_t *)c->args)
                 : TESORO_OK;
}

/* A no-show recorded on appointment c: if the deal property is viewed by
** that viewing's completion, it goes back to the status it had before
** (an approval since stands). */
static int tesoro__property_unviewed(tesoro__ctx *c, int64_t deal_property) {
  char before[16] = "";
  sqlite3_stmt *s;
  int rc;
  if ((rc = TESORO__ROW(c->t, &s, S_DEAL_PROPERTY_VIEWED_BY,
                        BIND_I(deal_property), BIND_I(c->id))))
    return rc;
  tesoro__column_copy(s, 0, before, sizeof before);
  sqlite3_reset(s);
  if (before[0] == 0) return TESORO_OK;
  return tesoro__fire_by_system(c, &tesoro__deal_property_machine,
                                deal_property,
                                strcmp(before, "interesting") == 0
                                    ? DP_EV_NO_SHOW_INTERESTING
                                    : DP_EV_NO_SHOW,
                                NULL);
}

static int guard_start_time(tesoro__ctx *c) {
  const int64_t *start = c->args;
  if (c->checking || *start > c->now) return TESORO_OK;
  return tesoro__fail(c->t, TESORO_EGUARD,
                      "start time %lld of appointment %lld is not in the "
                      "future (now %lld)", (long long)*start,
                      (long long)c->id, (long long)c->now);
}

static int guard_cancel_reason(tesoro__ctx *c) {
  if (c->checking || !(c->actor->bit & R_STAFF) || c->reason) return TESORO_OK;
  return tesoro__fail(c->t, TESORO_EINVAL,
                      "staff must give a reason to cancel appointment %lld",
                      (long long)c->id);
}

static int guard_viewing_day(tesoro__ctx *c) {
  tesoro__appt a;
  int32_t today, day;
  int rc;
  if ((rc = tesoro__appt_get(c, &a)) ||
      (rc = tesoro__agency_date(c, c->now, &today)) ||
      (rc = tesoro__agency_date(c, a.start_at, &day)))
    return rc;
  if (today == day) return TESORO_OK;
  return tesoro__fail(c->t, TESORO_EGUARD,
                      "appointment %lld can be started only on the day of the "
                      "viewing, %04d-%02d-%02d (agency time); today is "
                      "%04d-%02d-%02d", (long long)c->id, (int)(day / 10000),
                      (int)(day / 100 % 100), (int)(day % 100),
                      (int)(today / 10000), (int)(today / 100 % 100),
                      (int)(today % 100));
}

static int guard_viewing_ended(tesoro__ctx *c) {
  tesoro__appt a;
  int rc = tesoro__appt_get(c, &a);
  if (rc || a.start_at + a.duration <= c->now) return rc;
  return tesoro__fail(c->t, TESORO_EGUARD,
                      "appointment %lld ends at %lld; it completes by itself "
                      "only after that", (long long)c->id,
                      (long long)(a.start_at + a.duration));
}

/* A tick that runs late (or a write's catch-up after a pause) must not
** say "coming up" about a viewing that has begun: the reminder is moot. */
static int guard_reminder_ahead(tesoro__ctx *c) {
  tesoro__appt a;
  int rc = tesoro__appt_get(c, &a);
  if (rc || c->now < a.start_at) return rc;
  return tesoro__fail(c->t, TESORO_EGUARD,
                      "appointment %lld started at %lld; its reminder is no "
                      "longer sent", (long long)c->id, (long long)a.start_at);
}

static int guard_no_show(tesoro__ctx *c) {
  tesoro__appt a;
  int64_t by_clock = 0; /* completed by the clock, not by start_viewing */
  int rc;
  if ((rc = tesoro__appt_get(c, &a)) ||
      (rc = tesoro__lookup(c->t, S_APPOINTMENT_BY_CLOCK, c->id, NULL,
                           &by_clock)) < 0)
    return rc;
  if (!by_clock)
    return tesoro__fail(c->t, TESORO_EGUARD,
                        "the client started appointment %lld; a no-show can "
                        "be recorded only for a viewing the clock completed",
                        (long long)c->id);
  if (a.no_show_at)
    return tesoro__fail(c->t, TESORO_EGUARD,
                        "a no-show is already recorded for appointment %lld",
                        (long long)c->id);
  if (c->now >= a.start_at + TESORO_NO_SHOW_WINDOW_S)
    return tesoro__fail(c->t, TESORO_EGUARD,
                        "the no-show window of appointment %lld closed 7 days "
                        "after its start, at %lld", (long long)c->id,
                        (long long)(a.start_at + TESORO_NO_SHOW_WINDOW_S));
  return TESORO_OK;
}

/* confirm and reschedule (the move set the start): (re)plan the timers,
** tell the client and the calendar.  A pending appointment has no timers
** to withdraw. */
static int fx_schedule(tesoro__ctx *c) {
  const char *summary = c->event == APPT_EV_CONFIRM ? "Viewing confirmed"
                                                    : "Viewing rescheduled";
  tesoro__appt a;
  char extra[80];
  int rc;
  if ((rc = tesoro__appt_get(c, &a))) return rc;
  /* The move set the new start: a reschedule withdraws what the old one,
  ** as the load read it, planned. */
  if (c->event == APPT_EV_RESCHEDULE) {
    tesoro__appt was;
    tesoro__appt_of(c->before, &was);
    if ((rc = tesoro__appt_timers(c, &was, APPT_T_COMPLETE | APPT_T_FEEDBACK |
                                               APPT_T_REMINDER, 1)))
      return rc;
  }
  if ((rc = tesoro__appt_timers(c, &a, APPT_T_COMPLETE | APPT_T_FEEDBACK |
                                           APPT_T_REMINDER, 0)))
    return rc;
  snprintf(extra, sizeof extra, "{\"state\":\"confirmed\",\"start_at\":%lld}",
           (long long)a.start_at);
  if ((rc = tesoro__calendar_sync(c, a.owner, &a)) ||
      (rc = tesoro__activity(c, c->event == APPT_EV_CONFIRM
                                    ? "viewing_confirmed"
                                    : "viewing_rescheduled",
                             summary)))
    return rc;
  return tesoro__notice_data(c, NULL, extra);
}

/* reject and cancel (the move recorded who, when and why): no timers
** left, the other side told. */
static int fx_appointment_end(tesoro__ctx *c) {
  const char *what = c->m->states[c->to];
  char summary[TESORO_MAX_REASON + 64], extra[64];
  tesoro__appt a;
  int rc;
  if ((rc = tesoro__appt_get(c, &a)) ||
      (c->from != APPT_PENDING &&
       (rc = tesoro__appt_timers(c, &a, APPT_T_COMPLETE | APPT_T_FEEDBACK |
                                            APPT_T_REMINDER, 1))))
    return rc;
  snprintf(summary, sizeof summary, "Viewing %s%s%s", what,
           c->reason ? ": " : "", c->reason ? c->reason : "");
  snprintf(extra, sizeof extra, "{\"state\":\"%s\"}", what);
  if ((rc = tesoro__calendar_sync(c, a.owner, &a)) ||
      (rc = tesoro__activity(c, c->to == APPT_REJECTED ? "viewing_rejected"
                                                       : "viewing_cancelled",
                             summary)))
    return rc;
  return tesoro__notice_data(c, summary, extra);
}

/* start_viewing (the client is there: the property is viewed now) and the
** clock's complete (it may yet turn out a no-show: wait for the window). */
static int fx_completed(tesoro__ctx *c) {
  int by_client = c->event == APPT_EV_START_VIEWING;
  tesoro__appt a;
  int rc;
  /* the clock's complete is its own timer firing, gone already
  ** (tesoro__timer_fire) */
  if ((rc = tesoro__appt_get(c, &a)) ||
      (rc = tesoro__appt_timers(
           c, &a, APPT_T_REMINDER | (by_client ? APPT_T_COMPLETE : 0), 1)))
    return rc;
  if ((rc = tesoro__property_viewed(c, a.deal_property)) ||
      (rc = tesoro__calendar_sync(c, a.owner, &a)))
    return rc;
  return tesoro__activity(c, "viewing_completed",
                          by_client ? "Viewing started by the client"
                                    : "Viewing completed");
}

static int fx_no_show(tesoro__ctx *c) {
  tesoro__appt a;
  int rc;
  if ((rc = tesoro__appt_get(c, &a)) ||
      (rc = tesoro__appt_timers(c, &a, APPT_T_FEEDBACK | APPT_T_NO_SHOW, 1)) ||
      (rc = tesoro__property_unviewed(c, a.deal_property)) ||
      (rc = tesoro__calendar_sync(c, a.owner, &a)))
    return rc;
  return tesoro__activity(c, "viewing_no_show",
                          "The client did not come to the viewing");
}

/* The reminder itself is the appointment's notice rows (the client and
** the owner); the effect gives them the start. */
static int fx_reminder(tesoro__ctx *c) {
  tesoro__appt a;
  char extra[48];
  int rc;
  if ((rc = tesoro__appt_get(c, &a))) return rc;
  snprintf(extra, sizeof extra, "{\"start_at\":%lld}", (long long)a.start_at);
  return tesoro__notice_data(c, NULL, extra);
}

/* The appointment's owner, whom its TO_AGENT notices tell. */
static int agent_appointment(tesoro__ctx *c, int64_t *out) {
  tesoro__appt a;
  int rc = tesoro__appt_get(c, &a);
  *out = rc ? 0 : a.owner;
  return rc;
}

static int fx_appointment_note(tesoro__ctx *c) {
  int rc = tesoro__note_insert(c, S_APPOINTMENT_NOTE_INSERT);
  return rc ? rc : tesoro__activity(c, "viewing_note", "Note on the viewing");
}

static int fx_rate(tesoro__ctx *c) {
  const int *stars = c->args;
  char summary[40];
  int rc;
  if ((rc = TESORO__EXEC(c->t, S_APPOINTMENT_SET_RATING, BIND_I(c->id),
                         BIND_I(*stars), BIND_I(c->now)))) return rc;
  snprintf(summary, sizeof summary, "Viewing rated %d of 5", *stars);
  return tesoro__activity(c, "viewing_rated", summary);
}

/* Timers of an appointment: each fires its event if the appointment is
** still in a state the event leaves; a guard's "no" makes the timer moot. */
static int timer_appointment(tesoro__ctx *c) {
  static const struct {
    const char *kind;
    int event;
  } fires[] = {{"appointment_complete", APPT_EV_COMPLETE},
               {"viewing_reminder", APPT_EV_SEND_REMINDER},
               {"viewing_feedback", APPT_EV_REQUEST_FEEDBACK}};
  int rc;
  for (int i = 0; i < COUNT(fires); i++) {
    tesoro__ctx move;
    if (strcmp(c->event_name, fires[i].kind) != 0 ||
        !tesoro__event_from(c->m, fires[i].event, c->m->states[c->from]))
      continue;
    /* the timer's context has just loaded the appointment: move it */
    move = *c;
    move.event = fires[i].event;
    move.loaded = 1;
    rc = tesoro__fire(&move);
    return rc == TESORO_EGUARD ? tesoro__ok(c->t) : rc;
  }
  return TESORO_OK;
}

/* Seven days after a viewing the clock completed, without a no-show: the
** client came, and the property counts as viewed. */
static int timer_no_show_window(tesoro__ctx *c) {
  tesoro__appt a;
  int rc;
  if (c->from != APPT_COMPLETED) return TESORO_OK;
  if ((rc = tesoro__appt_get(c, &a)) || a.no_show_at) return rc;
  return tesoro__property_viewed(c, a.deal_property);
}

/* --- the appointment's public calls --- */

static int tesoro__duration_valid(tesoro *t, int64_t duration_s, int zero_ok) {
  if ((zero_ok && duration_s == 0) ||
      (duration_s >= TESORO_MIN_VIEWING_S && duration_s <= TESORO_MAX_VIEWING_S))
    return TESORO_OK;
  return tesoro__fail(t, TESORO_EINVAL,
                      "a viewing lasts %d to %d seconds%s, not %lld",
                      TESORO_MIN_VIEWING_S, TESORO_MAX_VIEWING_S,
                      zero_ok ? " (0: keep its duration)" : "",
                      (long long)duration_s);
}

/* confirm, reschedule: the move's arguments are the start and duration */
static int tesoro__appointment_schedule(tesoro *t, int64_t actor,
                                        int64_t appointment, int64_t start_at,
                                        int64_t duration_s, int64_t expected,
                                        int event) {
  int64_t when[3] = {start_at, duration_s, t ? t->reminder_s : 0};
  int rc;
  TESORO__ENTER(t);
  if (start_at <= 0)
    return tesoro__fail(t, TESORO_EINVAL, "start time must be > 0");
  if ((rc = tesoro__duration_valid(t, duration_s, 1))) return rc;
  return tesoro__transition(t, actor, &tesoro__appointment_machine,
                            appointment, event, expected, when, NULL,
                            NULL, NULL);
}

TESORO_API int tesoro_appointment_confirm(tesoro *t, int64_t actor,
                                          int64_t appointment,
                                          int64_t start_at, int64_t duration_s,
                                          int64_t expected_version) {
  return tesoro__appointment_schedule(t, actor, appointment, start_at,
                                      duration_s, expected_version,
                                      APPT_EV_CONFIRM);
}

TESORO_API int tesoro_appointment_reschedule(tesoro *t, int64_t actor,
                                             int64_t appointment,
                                             int64_t start_at,
                                             int64_t duration_s,
                                             int64_t expected_version) {
  return tesoro__appointment_schedule(t, actor, appointment, start_at,
                                      duration_s, expected_version,
                                      APPT_EV_RESCHEDULE);
}

TESORO_API int tesoro_agency_set_viewing_duration(tesoro *t, int64_t actor,
                                                  int64_t duration_s) {
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__duration_valid(t, duration_s, 0))) return rc;
  return tesoro__agency_setting(t, actor, S_AGENCY_SET_VIEWING_DURATION,
                                duration_s, "set the viewing duration");
}

TESORO__REASON_CALL(tesoro_appointment_reject, tesoro__appointment_machine,
                    APPT_EV_REJECT, 1)

TESORO__REASON_CALL(tesoro_appointment_cancel, tesoro__appointment_machine,
                    APPT_EV_CANCEL, 0)

TESORO__REASON_CALL(tesoro_appointment_record_no_show,
                    tesoro__appointment_machine, APPT_EV_RECORD_NO_SHOW, 0)

TESORO__EVENT_CALL(tesoro_appointment_start_viewing,
                   tesoro__appointment_machine, APPT_EV_START_VIEWING)

TESORO__NOTE_CALL(tesoro_appointment_note_add, tesoro__appointment_machine,
                  APPT_EV_ADD_NOTE)

TESORO_API int tesoro_appointment_rate(tesoro *t, int64_t actor,
                                       int64_t appointment, int stars,
                                       int64_t expected_version) {
  TESORO__ENTER(t);
  if (stars < 1 || stars > 5)
    return tesoro__fail(t, TESORO_EINVAL, "a rating is 1 to 5 stars, not %d",
                        stars);
  return tesoro__transition(t, actor, &tesoro__appointment_machine,
                            appointment, APPT_EV_RATE, expected_version,
                            &stars, NULL, NULL, NULL);
}

/* =========================================================================
** 15. Referral stages
**
** A referral's stage moves forward through the table of section 8; this
** section holds its guards (stage data, revival to the last active stage,
** the list date), its one effect (store the data, plan or withdraw the
** list-date timer, queue the closing documents, fix the fee), and the
** pipeline reads.  Stage data arrives as the move's JSON and is written by
** one UPDATE, so a revival simply finds what an earlier move stored.
*/

/* The data each stage takes: which of it the call itself must give
** (REQUIRED), which must be known, given now or before (STORED).
** How a client was tried and reached (seed 002): "attempted_via" in
** left_voicemail, "contacted_via" in connected. */
static const tesoro__field tesoro__attempt_fields[] = {
    {"attempted_via", 'c', 0, TESORO__CHOICE_ATTEMPT, 0}};
static const tesoro__field tesoro__connected_fields[] = {
    {"contacted_via", 'c', 0, TESORO__CHOICE_CONTACT, 0}};
static const tesoro__field tesoro__meeting_fields[] = {
    {"meeting_at", 'i', TESORO__STORED, 1, INT64_MAX}};
static const tesoro__field tesoro__list_fields[] = {
    {"list_date", 'd', TESORO__STORED, 10, 10}};
static const tesoro__field tesoro__sale_fields[] = {
    {"sale_price", 'i', TESORO__STORED, 1, TESORO__MAX_MONEY},
    {"close_date", 'd', TESORO__STORED, 10, 10}};
static const tesoro__field tesoro__payment_fields[] = {
    {"paid_amount", 'i', TESORO__REQUIRED, 1, TESORO__MAX_MONEY}};
static const tesoro__field tesoro__failure_fields[] = {
    {"reason", 't', TESORO__REQUIRED, 1, TESORO_MAX_REASON}};
static const struct {
  const tesoro__field *fields;
  int n;
} tesoro__stage_data[] = {
    [RF_LEFT_VOICEMAIL] = {tesoro__attempt_fields, COUNT(tesoro__attempt_fields)},
    [RF_CONNECTED] = {tesoro__connected_fields, COUNT(tesoro__connected_fields)},
    [RF_MEETING_SCHEDULED] = {tesoro__meeting_fields, COUNT(tesoro__meeting_fields)},
    [RF_COMING_SOON] = {tesoro__list_fields, COUNT(tesoro__list_fields)},
    [RF_IN_ESCROW] = {tesoro__sale_fields, COUNT(tesoro__sale_fields)},
    [RF_CLOSED] = {tesoro__sale_fields, COUNT(tesoro__sale_fields)},
    [RF_CLOSED_PAID] = {tesoro__payment_fields, COUNT(tesoro__payment_fields)},
    [RF_FAILED] = {tesoro__failure_fields, COUNT(tesoro__failure_fields)},
};

/* A referral's stage data: given with this move, else as stored. */
typedef struct tesoro__stage_facts {
  int64_t meeting_at, sale_price, agent;
  char list_date[11], close_date[11], last_active[20];
} tesoro__stage_facts;

static int tesoro__stage_facts_get(tesoro__ctx *c, tesoro__stage_facts *f) {
  sqlite3_stmt *s;
  int rc = TESORO__ROW(c->t, &s, S_REFERRAL_FACTS, BIND_I(c->id),
                       BIND_T(c->args));
  if (rc) return rc;
  f->meeting_at = sqlite3_column_int64(s, 0);
  snprintf(f->list_date, sizeof f->list_date, "%s",
           sqlite3_column_text(s, 1) ? (const char *)sqlite3_column_text(s, 1) : "");
  f->sale_price = sqlite3_column_int64(s, 2);
  snprintf(f->close_date, sizeof f->close_date, "%s",
           sqlite3_column_text(s, 3) ? (const char *)sqlite3_column_text(s, 3) : "");
  snprintf(f->last_active, sizeof f->last_active, "%s",
           (const char *)sqlite3_column_text(s, 4));
  f->agent = sqlite3_column_int64(s, 5);
  /* a text column that could not be converted (out of memory) read as ""
  ** above; the reset reports it */
  if ((rc = sqlite3_reset(s)) != SQLITE_OK) return tesoro__dberr(c->t, rc);
  return TESORO_OK;
}

/* Today in the agency's zone, as YYYY-MM-DD. */
static int tesoro__agency_today(tesoro__ctx *c, char out[16]) {
  int32_t ymd;
  int rc = tesoro__agency_date(c, c->now, &ymd);
  if (rc == TESORO_OK)
    snprintf(out, 16, "%04d-%02d-%02d", (int)(ymd / 10000),
             (int)(ymd / 100 % 100), (int)(ymd % 100));
  return rc;
}

static int tesoro__json_text(tesoro *t, const char *json, const char *path,
                             char **out);

/* Another attempt in left_voicemail says how it was made. */
static int guard_attempt(tesoro__ctx *c) {
  char *via = NULL;
  int rc;
  if (c->checking) return TESORO_OK; /* the data may come with the call */
  if (c->args && (rc = tesoro__json_text(c->t, c->args, "$.attempted_via", &via)))
    return rc;
  if (via == NULL)
    return tesoro__fail(c->t, TESORO_EINVAL,
                        "another attempt in left_voicemail needs how it was "
                        "made (\"attempted_via\")");
  TESORO_FREE(via);
  return TESORO_OK;
}

static int guard_stage(tesoro__ctx *c) {
  const char *name = c->m->states[c->event];
  tesoro__stage_facts f;
  int rc;
  if ((rc = tesoro__stage_facts_get(c, &f))) return rc;
  if (c->from == RF_FAILED && strcmp(f.last_active, name) != 0)
    return tesoro__fail(c->t, TESORO_EGUARD,
                        "referral %lld failed at %s; from failed it can go "
                        "back only to %s", (long long)c->id, f.last_active,
                        f.last_active);
  if (c->checking) return TESORO_OK; /* the data may come with the call */
  /* Missing stage data is the caller's error (EINVAL), as a missing field
  ** of any JSON argument is. */
  for (int i = 0; i < tesoro__stage_data[c->event].n; i++) {
    const tesoro__field *fd = &tesoro__stage_data[c->event].fields[i];
    sqlite3_stmt *s;
    int64_t known = 0;
    if (fd->required != TESORO__STORED) continue;
    if ((s = TESORO__STMT(c->t, S_REFERRAL_FACT_KNOWN, BIND_I(c->id),
                          BIND_T(c->args), BIND_T(fd->key))) == NULL)
      return c->t->rc;
    if ((rc = tesoro__int(c->t, s, &known)) != TESORO_OK)
      return rc < 0 ? rc : TESORO_EDB;
    if (!known)
      return tesoro__fail(c->t, TESORO_EINVAL, "%s needs \"%s\"", name,
                          fd->key);
  }
  return TESORO_OK;
}

/* coming_soon also needs a list date that has not passed. */
static int guard_coming_soon(tesoro__ctx *c) {
  tesoro__stage_facts f;
  char today[16];
  int rc;
  if ((rc = guard_stage(c)) || c->checking ||
      (rc = tesoro__stage_facts_get(c, &f)) ||
      (rc = tesoro__agency_today(c, today)))
    return rc;
  if (strcmp(f.list_date, today) < 0)
    return tesoro__fail(c->t, TESORO_EGUARD,
                        "list date %s is before today (%s, agency time)",
                        f.list_date, today);
  return TESORO_OK;
}

/* The system's move to listing happens on the agency-local list date. */
static int guard_list_date(tesoro__ctx *c) {
  tesoro__stage_facts f;
  char today[16];
  int rc;
  if ((rc = tesoro__stage_facts_get(c, &f)) ||
      (rc = tesoro__agency_today(c, today)))
    return rc;
  if (f.list_date[0] && strcmp(f.list_date, today) <= 0) return TESORO_OK;
  return tesoro__fail(c->t, TESORO_EGUARD,
                      "referral %lld lists on %s; today is %s (agency time)",
                      (long long)c->id, f.list_date, today);
}

static int fx_stage(tesoro__ctx *c) {
  tesoro *t = c->t;
  const char *name = c->m->states[c->to];
  tesoro__stage_facts f;
  char summary[64], zone[128], extra[96];
  int64_t planned = 0; /* the list-date timer's due time, if one is pending */
  int rc;
  if ((rc = tesoro__lookup(t, S_REFERRAL_LIST_DUE, c->id, NULL,
                           &planned)) < 0 ||
      (planned &&
       (rc = tesoro__timer_withdraw(c, "referral_list_date", planned))) ||
      (rc = TESORO__EXEC(t, S_REFERRAL_APPLY, BIND_I(c->id), BIND_T(c->args),
                         BIND_T(name), BIND_I(c->now), BIND_I(c->actor->id),
                         BIND_T(c->reason))))
    return rc;
  c->args = NULL; /* stored now: read the referral itself from here on */
  if ((rc = tesoro__stage_facts_get(c, &f))) return rc;
  if (c->to == RF_COMING_SOON) {
    int64_t due = 0;
    int y = 0, m = 0, d = 0;
    sscanf(f.list_date, "%4d-%2d-%2d", &y, &m, &d);
    if ((rc = tesoro__agency_zone(c, zone)) ||
        (rc = tesoro__zone_midnight(t, zone, y * 10000 + m * 100 + d, &due)) ||
        (rc = tesoro__timer_plan(c, c->entity, c->id, "referral_list_date",
                                 due)) ||
        (rc = TESORO__EXEC(t, S_REFERRAL_SET_LIST_DUE, BIND_I(c->id),
                           BIND_I(due))))
      return rc;
  }
  snprintf(summary, sizeof summary, "Referral stage: %s", name);
  if ((rc = tesoro__activity(c, "referral_stage", summary))) return rc;
  /* the sale's fields, for the notice rows of the stage (in_escrow's) */
  snprintf(extra, sizeof extra, "{\"sale_price\":%lld,\"close_date\":\"%s\"}",
           (long long)f.sale_price, f.close_date);
  return tesoro__notice_data(c, NULL, extra);
}

/* The referral's agent, whom its TO_AGENT notices tell: as stored (the
** move's own stage data are stored by then). */
static int agent_referral(tesoro__ctx *c, int64_t *out) {
  tesoro__ctx stored = *c;
  tesoro__stage_facts f;
  int rc;
  stored.args = NULL;
  rc = tesoro__stage_facts_get(&stored, &f);
  *out = rc ? 0 : f.agent;
  return rc;
}

static int fx_referral_note(tesoro__ctx *c) {
  return tesoro__note_insert(c, S_REFERRAL_NOTE_INSERT);
}

/* Refusals in the pipeline's words: going back is never a move (a note
** is), and the privileged moves belong to the closings team. */
static int explain_referral(tesoro__ctx *c, int rc) {
  const char *from = c->m->states[c->from], *to;
  if (c->event == RF_EV_ADD_NOTE) return rc;
  to = c->m->states[c->event];
  if (rc == TESORO_EDENIED) {
    char who[96];
    int roles = 0;
    for (int i = 0; i < c->m->nrows; i++)
      if (c->m->rows[i].event == c->event && (c->m->rows[i].from & ST(c->from)))
        roles |= c->m->rows[i].roles;
    tesoro__roles_text(roles, who, sizeof who);
    return tesoro__fail(c->t, rc,
                        "only %s can move referral %lld from %s to %s; actor "
                        "%lld is %s", who, (long long)c->id, from, to,
                        (long long)c->actor->id,
                        c->actor->kind == TESORO_ACTOR_AGENT
                            ? tesoro__role_names[c->actor->bit == R_ADMIN      ? 2
                                                 : c->actor->bit == R_CLOSINGS ? 3
                                                                               : 1]
                            : tesoro__actor_kinds[c->actor->kind]);
  }
  if (c->from == c->event)
    return tesoro__fail(c->t, rc, "referral %lld is already %s",
                        (long long)c->id, from);
  if (c->event == RF_FAILED)
    return tesoro__fail(c->t, rc,
                        "referral %lld is %s; only a referral before closed "
                        "can fail", (long long)c->id, from);
  if (c->from == RF_FAILED)
    return tesoro__fail(c->t, rc,
                        "referral %lld failed; it can only go back to its last "
                        "active stage first", (long long)c->id);
  if (c->event < c->from)
    return tesoro__fail(c->t, rc,
                        "referral %lld is at %s and cannot move back to %s; "
                        "leave a note instead", (long long)c->id, from, to);
  return rc;
}

/* When the list date comes, a referral still coming soon is listing. */
static int timer_list_date(tesoro__ctx *c) {
  int rc;
  if (c->from != RF_COMING_SOON) return TESORO_OK;
  rc = tesoro__fire_nested(c, c->m, c->id, RF_LISTING, c->actor, NULL);
  return rc == TESORO_EGUARD ? tesoro__ok(c->t) : rc;
}

TESORO_API int tesoro_agency_set_referral_fee(tesoro *t, int64_t actor,
                                              int64_t basis_points) {
  TESORO__ENTER(t);
  if (basis_points < 0 || basis_points > 10000)
    return tesoro__fail(t, TESORO_EINVAL,
                        "the referral fee is 0..10000 basis points, not %lld",
                        (long long)basis_points);
  return tesoro__agency_setting(t, actor, S_AGENCY_SET_REFERRAL_FEE,
                                basis_points, "set the referral agreement");
}

TESORO_API int tesoro_referral_create(tesoro *t, int64_t actor, int64_t contact,
                                      int64_t agent, int64_t *out_referral) {
  tesoro__actor a, owner;
  tesoro__ctx c;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_referral, "out_referral")) ||
      (rc = tesoro__actor_as(t, actor, R_STAFF, "register referrals", &a)) ||
      (rc = tesoro__staff_of(t, &a, agent, &owner)) ||
      (rc = tesoro__reach_entity(t, &a, TESORO_ENTITY_CONTACT, contact)) ||
      (rc = tesoro__contact_writable(t, &a, contact)))
    return rc;
  tesoro__ctx_new(&c, t, &a, 0, contact);
  if ((rc = tesoro__write_begin(t))) return rc;
  if (rc == TESORO_OK)
    rc = tesoro__create_begin(&c, &tesoro__referral_machine, -1);
  if (rc == TESORO_OK)
    rc = TESORO__EXEC(t, S_REFERRAL_INSERT, BIND_I(a.agency), BIND_I(contact),
                      BIND_I(owner.id), BIND_I(c.now),
                      BIND_T(c.m->states[c.to]));
  if (rc == TESORO_OK) {
    if ((rc = tesoro__created(&c, sqlite3_last_insert_rowid(t->db))) ==
        TESORO_OK)
      rc = tesoro__activity(&c, "referral_created", "Referral registered");
  }
  if ((rc = tesoro__write_end(t, rc))) return rc;
  *out_referral = c.id;
  return TESORO_OK;
}

/* A text member of a JSON argument, copied (tesoro_free); NULL if absent. */
static int tesoro__json_text(tesoro *t, const char *json, const char *path,
                             char **out) {
  sqlite3_stmt *s = tesoro__stmt(t, S_JSON_TEXT);
  int rc;
  *out = NULL;
  if (s == NULL) return t->rc;
  sqlite3_bind_text(s, 1, json, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, path, -1, SQLITE_STATIC);
  if ((rc = tesoro__row(t, s)) != TESORO_ROW) return rc < 0 ? rc : TESORO_EDB;
  if (sqlite3_column_type(s, 0) == SQLITE_NULL) {
    sqlite3_reset(s);
    return TESORO_OK;
  }
  sqlite3_reset(s);
  return tesoro__text_out(t, s, out);
}

TESORO_API int tesoro_referral_move(tesoro *t, int64_t actor, int64_t referral,
                                    int stage, const char *data_json,
                                    int64_t expected_version) {
  char what[48], *reason = NULL;
  int rc, event = tesoro__stage_to_state(stage);
  TESORO__ENTER(t);
  if (event < 0)
    return tesoro__fail(t, TESORO_EINVAL, "unknown referral stage %d", stage);
  snprintf(what, sizeof what, "data for stage %s",
           tesoro__referral_states[event]);
  if (tesoro__opt(data_json)) {
    rc = tesoro__json_fields(t, what, data_json, tesoro__stage_data[event].fields,
                             tesoro__stage_data[event].n, 0);
    if (rc) return rc;
  } else {
    for (int i = 0; i < tesoro__stage_data[event].n; i++)
      if (tesoro__stage_data[event].fields[i].required == TESORO__REQUIRED)
        return tesoro__fail(t, TESORO_EINVAL, "%s needs \"%s\"", what,
                            tesoro__stage_data[event].fields[i].key);
  }
  if (event == RF_FAILED &&
      (rc = tesoro__json_text(t, data_json, "$.reason", &reason)))
    return rc;
  rc = tesoro__transition(t, actor, &tesoro__referral_machine, referral, event,
                          expected_version, tesoro__opt(data_json), reason,
                          NULL, NULL);
  TESORO_FREE(reason);
  return rc;
}

TESORO__NOTE_CALL(tesoro_referral_note_add, tesoro__referral_machine,
                  RF_EV_ADD_NOTE)

/* =========================================================================
** 16. Client portal
**
** Portal accounts and their secrets, the onboarding steps, the portal
** language, the home overview, the feed across a client's deals and the
** contact-agent message.  The account machine of section 8 holds the
** rules; this section checks secrets before firing it.  Secrets are hashed
** with libsodium's argon2id outside the write transaction — at the
** production cost a hash takes tens of milliseconds and must not hold the
** database lock — and each event fires with the version that was read, so
** a concurrent change turns into ECONFLICT instead of a lost update.
** Clear text lives only in the caller's buffers and in ours, which are
** wiped before returning.
*/

static int tesoro__cursor_new(tesoro *t, const char *sql, tesoro_cursor **out);
static sqlite3_stmt *tesoro__cursor_stmt(tesoro_cursor *c);
/* A new cursor's text parameter i, copied (`text` goes before the cursor
** does): on failure, out of memory, the cursor is freed. */
static int tesoro__cursor_text(tesoro *t, tesoro_cursor **out, int i,
                               const char *text) {
  int src = sqlite3_bind_text(tesoro__cursor_stmt(*out), i, text, -1,
                              SQLITE_TRANSIENT);
  if (src == SQLITE_OK) return TESORO_OK;
  tesoro_cursor_free(*out);
  *out = NULL;
  return tesoro__dberr(t, src);
}
static int tesoro__entity_cursor(tesoro *t, int64_t actor, int entity,
                                 int64_t id, const char *sql,
                                 tesoro_cursor **out);
/* The definition of a public call that lists rows of one entity (`sql`
** as tesoro__entity_cursor reads it). */
#define TESORO__ENTITY_LIST(call, entity, sql)                                \
  TESORO_API int call(tesoro *t, int64_t actor, int64_t id,                   \
                      tesoro_cursor **out) {                                  \
    return tesoro__entity_cursor(t, actor, TESORO_ENTITY_##entity, id, sql,   \
                                 out);                                        \
  }

/* An account as the portal functions read it (TESORO__ACCOUNT_COLUMNS). */
typedef struct tesoro__account {
  int64_t id, version, code_expires_at, locked_until, contact;
  int64_t reset_expires_at;
  int state, code_attempts; /* PA_*; wrong codes so far */
  int reset_attempts, deactivated;
  char password_hash[crypto_pwhash_STRBYTES];
  char code_hash[crypto_pwhash_STRBYTES];
  char reset_hash[crypto_pwhash_STRBYTES];
  char name[TESORO_MAX_NAME + 1];
} tesoro__account;

/* The arguments of the account machine's effects. */
typedef struct tesoro__portal_args {
  const char *name, *email;     /* register, verify */
  const char *hash;             /* register, change_password; login: a
                                   stronger hash, or NULL */
  const char *code_hash;        /* register */
  int64_t code_expires_at;      /* register */
  const char *language;         /* set_language: a static code */
  const char *message;          /* contact_agent */
  int64_t deal_property;        /* contact_agent: 0 or the property */
  const unsigned char *session; /* login: open a session with this token
                                   hash; logout: end it */
  const char *secret;           /* request_reset: the secret for the e-mail */
} tesoro__portal_args;

static const char *const tesoro__languages[] = {"en", "nl", "de", "fr", "es",
                                                "pt", "it", "pl", "sv", "no"};

/* Step `s` (bound) and read one account: TESORO_OK, TESORO_DONE (none). */
static int tesoro__account_read(tesoro *t, sqlite3_stmt *s,
                                tesoro__account *acc) {
  const char *state;
  int rc = tesoro__row(t, s);
  if (rc != TESORO_ROW) return rc;
  memset(acc, 0, sizeof *acc);
  acc->id = sqlite3_column_int64(s, 0);
  state = (const char *)sqlite3_column_text(s, 1);
  for (int i = 0; state && i < COUNT(tesoro__portal_account_states); i++)
    if (strcmp(state, tesoro__portal_account_states[i]) == 0) acc->state = i;
  tesoro__column_copy(s, 3, acc->password_hash, sizeof acc->password_hash);
  tesoro__column_copy(s, 4, acc->code_hash, sizeof acc->code_hash);
  tesoro__column_copy(s, 9, acc->name, sizeof acc->name);
  tesoro__column_copy(s, 10, acc->reset_hash, sizeof acc->reset_hash);
  acc->version = sqlite3_column_int64(s, 2);
  acc->code_expires_at = sqlite3_column_int64(s, 5);
  acc->code_attempts = sqlite3_column_int(s, 6);
  acc->locked_until = sqlite3_column_int64(s, 7);
  acc->contact = sqlite3_column_int64(s, 8);
  acc->reset_expires_at = sqlite3_column_int64(s, 11);
  acc->reset_attempts = sqlite3_column_int(s, 12);
  acc->deactivated = sqlite3_column_int(s, 13);
  sqlite3_reset(s);
  return TESORO_OK;
}

/* The account keyed by `key` through statement `id` (by id, by contact),
** or by (agency, e-mail) when `email` is not NULL. */
static int tesoro__account_find(tesoro *t, int id, int64_t key,
                                const char *email, tesoro__account *acc) {
  sqlite3_stmt *s;
  if ((s = TESORO__STMT(t, id, BIND_I(key))) == NULL) return t->rc;
  if (email) sqlite3_bind_text(s, 2, email, -1, SQLITE_STATIC);
  return tesoro__account_read(t, s, acc);
}

/* --- secrets --- */

/* The answers that must not tell whether an e-mail has an account. */
static const char tesoro__wrong_login[] =
    "e-mail or password is wrong, or the account is locked for a while after "
    "repeated failures";
static const char tesoro__wrong_code[] =
    "the verification code is wrong or has expired";

static int tesoro__hash_secret(tesoro *t, const char *secret,
                               char out[crypto_pwhash_STRBYTES]) {
  if (crypto_pwhash_str(out, secret, strlen(secret),
                        (unsigned long long)t->pw_ops, (size_t)t->pw_mem) != 0)
    return tesoro__fail(t, TESORO_ENOMEM, "out of memory hashing a secret");
  return TESORO_OK;
}

/* Constant-time in the secret: libsodium recomputes and compares. */
static int tesoro__secret_matches(const char *hash, const char *secret) {
  return hash[0] &&
         crypto_pwhash_str_verify(hash, secret, strlen(secret)) == 0;
}

/* Was `hash` made at a lower cost than the handle's setting?  Only then is
** a login's password hashed again: a cheaper setting never weakens it. */
static int tesoro__hash_cheaper(tesoro *t, const char *hash) {
  const char *p = strstr(hash, "$m=");
  unsigned long kib = 0, passes = 0;
  if (p == NULL || sscanf(p, "$m=%lu,t=%lu", &kib, &passes) != 2) return 1;
  return (int64_t)kib < t->pw_mem / 1024 || (int64_t)passes < t->pw_ops;
}

/* A login naming an unknown e-mail verifies against a decoy hash, so that
** the answer takes as long as for a known e-mail. */
static void tesoro__decoy_verify(tesoro *t, const char *password) {
  if (t->pw_decoy[0] == 0) {
    unsigned char noise[16];
    char text[2 * sizeof noise + 1];
    randombytes_buf(noise, sizeof noise);
    sodium_bin2hex(text, sizeof text, noise, sizeof noise);
    if (tesoro__hash_secret(t, text, t->pw_decoy)) t->pw_decoy[0] = 0;
  }
  if (t->pw_decoy[0]) (void)tesoro__secret_matches(t->pw_decoy, password);
}

/*
** The portal's password policy (tesoro.h), counted in characters (code points) and
** classified by Unicode (ICU): "special" is whatever is neither a letter
** nor a digit.  Control characters are refused: a password must be
** typeable.
*/
static int tesoro__password_policy(tesoro *t, const char *what,
                                   const char *password) {
  const uint8_t *p = (const uint8_t *)password;
  int32_t i = 0, n;
  int chars = 0, upper = 0, lower = 0, digit = 0, special = 0, rc;
  UChar32 ch;
  if ((rc = tesoro__text(t, what, password, TESORO_MAX_PASSWORD, 1))) return rc;
  n = (int32_t)strlen(password);
  while (i < n) {
    U8_NEXT(p, i, n, ch);
    if (ch < 0 || u_iscntrl(ch))
      return tesoro__fail(t, TESORO_EINVAL,
                          "%s must not contain control characters", what);
    chars++;
    upper |= u_isupper(ch) != 0;
    lower |= u_islower(ch) != 0;
    if (u_isdigit(ch)) digit = 1;
    else if (!u_isalpha(ch)) special = 1;
  }
  if (chars < TESORO_MIN_PASSWORD)
    return tesoro__fail(t, TESORO_EINVAL, "%s needs at least %d characters",
                        what, TESORO_MIN_PASSWORD);
  if (!upper)
    return tesoro__fail(t, TESORO_EINVAL, "%s needs an upper-case letter", what);
  if (!lower)
    return tesoro__fail(t, TESORO_EINVAL, "%s needs a lower-case letter", what);
  if (!digit) return tesoro__fail(t, TESORO_EINVAL, "%s needs a digit", what);
  if (!special)
    return tesoro__fail(t, TESORO_EINVAL,
                        "%s needs a special character (neither a letter nor "
                        "a digit)", what);
  return TESORO_OK;
}

/* A random temporary password with one character of each class of the
** policy, from an alphabet without look-alikes (no I, l, O, 0, 1). */
#define TESORO__PW_UPPER "ABCDEFGHJKLMNPQRSTUVWXYZ"
#define TESORO__PW_LOWER "abcdefghijkmnopqrstuvwxyz"
#define TESORO__PW_DIGIT "23456789"
#define TESORO__PW_SPECIAL "!#%+-=?@"
static void tesoro__temp_password(char out[TESORO_PORTAL_TEMP_PASSWORD_LEN + 1]) {
  static const char *const sets[] = {TESORO__PW_UPPER, TESORO__PW_LOWER,
                                     TESORO__PW_DIGIT, TESORO__PW_SPECIAL};
  static const char any[] = TESORO__PW_UPPER TESORO__PW_LOWER TESORO__PW_DIGIT
      TESORO__PW_SPECIAL;
  const int n = TESORO_PORTAL_TEMP_PASSWORD_LEN;
  for (int i = 0; i < n; i++) {
    const char *set = i < COUNT(sets) ? sets[i] : any;
    out[i] = set[randombytes_uniform((uint32_t)strlen(set))];
  }
  for (int i = n - 1; i > 0; i--) { /* Fisher–Yates */
    uint32_t j = randombytes_uniform((uint32_t)i + 1);
    char swap = out[i];
    out[i] = out[j];
    out[j] = swap;
  }
  out[n] = 0;
}

/* A copy of `s` for the caller (tesoro_free), made before the transaction
** so that no allocation can fail after a commit. */
static int tesoro__copy(tesoro *t, const char *s, char **out) {
  size_t n = strlen(s) + 1;
  if ((*out = TESORO_MALLOC(n)) == NULL)
    return tesoro__fail(t, TESORO_ENOMEM, "out of memory");
  memcpy(*out, s, n);
  return TESORO_OK;
}

static void tesoro__wipe_copy(char **p) {
  if (*p) sodium_memzero(*p, strlen(*p));
  TESORO_FREE(*p);
  *p = NULL;
}

/* The end of a call that made an account and hands back a secret: the
** clear text in `secret` (n bytes) is wiped; on success the account
** (c->id) and the secret's copy go to the caller, otherwise the copy is
** wiped too (c is then not read: it may be unset). */
static int tesoro__account_out(int rc, const tesoro__ctx *c, char *secret,
                               size_t n, char **copy, int64_t *out_account,
                               char **out_secret) {
  sodium_memzero(secret, n);
  if (rc == TESORO_OK) {
    *out_account = c->id;
    *out_secret = *copy;
    *copy = NULL;
  }
  tesoro__wipe_copy(copy);
  return rc;
}

/* --- the account machine's guards and effects --- */

static int tesoro__locked(tesoro *t, const tesoro__account *acc, int64_t now) {
  if (acc->locked_until <= now) return TESORO_OK;
  return tesoro__fail(t, TESORO_EDENIED,
                      "portal account %lld is locked for another %lld seconds "
                      "after %d failed logins",
                      (long long)acc->id, (long long)(acc->locked_until - now),
                      TESORO_PORTAL_LOGIN_MAX_FAILS);
}

static int guard_unlocked(tesoro__ctx *c) {
  tesoro__account acc;
  int rc = tesoro__account_find(c->t, S_PORTAL_ACCOUNT_BY_ID, c->id, NULL, &acc);
  return rc ? (rc < 0 ? rc : TESORO_EDB) : tesoro__locked(c->t, &acc, c->now);
}

/* A code is good for TESORO_PORTAL_CODE_TTL_S and a few wrong tries. */
static int guard_code(tesoro__ctx *c) {
  tesoro__account acc;
  int rc = tesoro__account_find(c->t, S_PORTAL_ACCOUNT_BY_ID, c->id, NULL, &acc);
  if (rc) return rc < 0 ? rc : TESORO_EDB;
  if (acc.code_attempts >= TESORO_PORTAL_CODE_MAX_TRIES)
    return tesoro__fail(c->t, TESORO_EGUARD,
                        "%d wrong verification codes: register again for a "
                        "new code", acc.code_attempts);
  if (c->now > acc.code_expires_at)
    return tesoro__fail(c->t, TESORO_EGUARD,
                        "the verification code expired %lld seconds ago: "
                        "register again for a new code",
                        (long long)(c->now - acc.code_expires_at));
  return TESORO_OK;
}

static int fx_portal_register(tesoro__ctx *c) {
  const tesoro__portal_args *args = c->args;
  return TESORO__EXEC(c->t, S_PORTAL_REGISTER_AGAIN, BIND_I(c->id),
                      BIND_T(args->name), BIND_T(args->hash),
                      BIND_T(args->code_hash), BIND_I(args->code_expires_at));
}

/* Link the verified account to the agency's contact with its e-mail, or
** to a new lead; *out_id is that contact's client actor. */
static int fx_portal_verify(tesoro__ctx *c) {
  const tesoro__portal_args *args = c->args;
  tesoro *t = c->t;
  tesoro__account acc, other;
  int64_t contact = 0;
  int rc;
  if ((rc = tesoro__account_find(t, S_PORTAL_ACCOUNT_BY_ID, c->id, NULL, &acc)))
    return rc < 0 ? rc : TESORO_EDB;
  if ((rc = tesoro__contact_for(c, acc.name, args->email, NULL, 0, "lead",
                                 &contact)))
    return rc;
  rc = tesoro__account_find(t, S_PORTAL_ACCOUNT_OF_CONTACT, contact, NULL, &other);
  if (rc == TESORO_OK)
    return tesoro__fail(t, TESORO_EEXISTS,
                        "contact %lld already has portal account %lld",
                        (long long)contact, (long long)other.id);
  if (rc != TESORO_DONE) return rc;
  if ((rc = TESORO__EXEC(t, S_PORTAL_VERIFIED, BIND_I(c->id), BIND_I(contact),
                         BIND_I(c->now)))) return rc;
  c->contact = contact; /* whose staff the notice rows tell */
  if ((rc = tesoro__activity(c, "portal_registered",
                             "Registered on the portal and verified the e-mail")))
    return rc;
  return tesoro__client_of(t, contact, &c->out_id);
}

static int fx_portal_code_failed(tesoro__ctx *c) {
  return TESORO__EXEC(c->t, S_PORTAL_CODE_FAILED, BIND_I(c->id));
}

/* The activity line of each account event that has one. */
static const char *tesoro__portal_summary(int event) {
  switch (event) {
  case PA_EV_LOGIN: return "Logged in to the portal";
  case PA_EV_CHANGE_PASSWORD: return "Changed the portal password";
  case PA_EV_FINISH_WELCOME: return "Saw the portal's welcome slides";
  case PA_EV_FINISH_TOUR: return "Finished the portal tour";
  case PA_EV_SKIP_TOUR: return "Skipped the portal tour";
  case PA_EV_RESTART_TOUR: return "Restarted the portal tour";
  case PA_EV_REGISTER_ATTEMPT:
    return "Someone tried to register on the portal with this e-mail";
  case PA_EV_REQUEST_RESET: return "Asked for a portal password reset";
  case PA_EV_RESET_PASSWORD: return "Reset the portal password";
  case PA_EV_RESEND_INVITATION: return "Portal invitation sent again";
  case PA_EV_DEACTIVATE: return "Portal account deactivated";
  default: return "Portal activity";
  }
}

/* "portal_<event>" on the contact's timeline. */
static int tesoro__portal_activity(tesoro__ctx *c, const char *summary) {
  char kind[48];
  snprintf(kind, sizeof kind, "portal_%s", c->event_name);
  return tesoro__activity(c, kind, summary ? summary
                                           : tesoro__portal_summary(c->event));
}

static int fx_portal_login(tesoro__ctx *c) {
  const tesoro__portal_args *args = c->args;
  sqlite3_stmt *s;
  int rc;
  if ((s = TESORO__STMT(c->t, S_PORTAL_LOGIN_OK, BIND_I(c->id),
                        BIND_I(c->now))) == NULL) return c->t->rc;
  if (args && args->hash) sqlite3_bind_text(s, 3, args->hash, -1, SQLITE_STATIC);
  if ((rc = tesoro__run(c->t, s))) return rc;
  if (args && args->session) {
    if ((s = tesoro__stmt(c->t, S_PORTAL_SESSION_INSERT)) == NULL) return c->t->rc;
    sqlite3_bind_blob(s, 1, args->session, crypto_generichash_BYTES,
                      SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, c->id);
    sqlite3_bind_int64(s, 3, c->agency);
    sqlite3_bind_int64(s, 4, c->now);
    sqlite3_bind_int64(s, 5, c->now + c->t->session_max_s);
    if ((rc = tesoro__run(c->t, s))) return rc;
  }
  return tesoro__portal_activity(c, NULL);
}

/* Every session of the account ends (password change or reset, resend,
** deactivation). */
static int tesoro__sessions_end(tesoro__ctx *c) {
  return TESORO__EXEC(c->t, S_PORTAL_SESSIONS_END, BIND_I(c->id));
}

/* Count the failure; the one that locks the account says so on the
** contact's timeline and in *out_id (the end of the lock). */
static int fx_portal_login_failed(tesoro__ctx *c) {
  sqlite3_stmt *s;
  int64_t until = 0, lock_end = c->now + TESORO_PORTAL_LOCK_S;
  int rc;
  if ((rc = TESORO__EXEC(c->t, S_PORTAL_LOGIN_FAILED, BIND_I(c->id),
                         BIND_I(lock_end),
                         BIND_I(TESORO_PORTAL_LOGIN_MAX_FAILS))) ||
      (s = TESORO__STMT(c->t, S_PORTAL_LOCKED_UNTIL, BIND_I(c->id))) == NULL)
    return rc ? rc : c->t->rc;
  if ((rc = tesoro__int(c->t, s, &until)) < 0) return rc;
  if (until != lock_end) return TESORO_OK;
  c->out_id = until;
  return tesoro__activity(c, "portal_locked",
                          "Portal account locked after repeated failed logins");
}

/* change_password, reset_password and resend_invitation: a new password
** (a reset or a resend also lifts a lockout, a resend a deactivation); any
** reset secret and every session end with the old one. */
static int fx_portal_password(tesoro__ctx *c) {
  const tesoro__portal_args *args = c->args;
  sqlite3_stmt *s;
  int rc;
  if ((s = tesoro__stmt(c->t, S_PORTAL_SET_PASSWORD)) == NULL) return c->t->rc;
  sqlite3_bind_int64(s, 1, c->id);
  sqlite3_bind_text(s, 2, args->hash, -1, SQLITE_STATIC);
  sqlite3_bind_int(s, 4, c->event != PA_EV_CHANGE_PASSWORD);
  if ((rc = tesoro__run(c->t, s)) || (rc = tesoro__sessions_end(c))) return rc;
  return tesoro__portal_activity(c, NULL);
}

static int fx_portal_resend(tesoro__ctx *c) {
  sqlite3_stmt *s;
  char *login = NULL;
  int rc;
  if ((rc = fx_portal_password(c))) return rc;
  if ((s = TESORO__STMT(c->t, S_PORTAL_INVITATION, BIND_I(c->id))) == NULL)
    return c->t->rc;
  if ((rc = tesoro__text_out(c->t, s, &login))) return rc;
  rc = tesoro__notice_data(c, NULL, login); /* the login, for the invitation */
  tesoro__wipe_copy(&login);
  return rc;
}

static int fx_portal_deactivate(tesoro__ctx *c) {
  int rc;
  if ((rc = TESORO__EXEC(c->t, S_PORTAL_DEACTIVATE, BIND_I(c->id),
                         BIND_I(c->now))) ||
      (rc = tesoro__sessions_end(c))) return rc;
  return tesoro__portal_activity(c, NULL);
}

/* The secret goes to the account's e-mail only; tesoro_outbox_ack removes
** it from the row once delivered. */
static int fx_portal_request_reset(tesoro__ctx *c) {
  const tesoro__portal_args *args = c->args;
  char extra[TESORO_PORTAL_RESET_LEN + 32];
  int rc;
  if ((rc = TESORO__EXEC(c->t, S_PORTAL_RESET_SET, BIND_I(c->id),
                         BIND_T(args->code_hash),
                         BIND_I(args->code_expires_at))) ||
      (rc = tesoro__portal_activity(c, NULL)))
    return rc;
  snprintf(extra, sizeof extra, "{\"secret\":\"%s\"}", args->secret);
  rc = tesoro__notice_data(c, NULL, extra); /* wiped after the notice step */
  sodium_memzero(extra, sizeof extra);
  return rc;
}

static int fx_portal_reset_failed(tesoro__ctx *c) {
  return TESORO__EXEC(c->t, S_PORTAL_RESET_FAILED, BIND_I(c->id));
}

static int fx_portal_register_attempt(tesoro__ctx *c) {
  return tesoro__portal_activity(c, NULL);
}

static int fx_portal_logout(tesoro__ctx *c) {
  const tesoro__portal_args *args = c->args;
  sqlite3_stmt *s;
  if ((s = tesoro__stmt(c->t, S_PORTAL_SESSION_DELETE)) == NULL) return c->t->rc;
  sqlite3_bind_blob(s, 1, args->session, crypto_generichash_BYTES,
                    SQLITE_STATIC);
  return tesoro__run(c->t, s);
}

static int fx_portal_step(tesoro__ctx *c) {
  return tesoro__portal_activity(c, NULL);
}

static int fx_portal_language(tesoro__ctx *c) {
  const tesoro__portal_args *args = c->args;
  char summary[40];
  int rc;
  if ((rc = TESORO__EXEC(c->t, S_PORTAL_SET_LANGUAGE, BIND_I(c->id),
                         BIND_T(args->language)))) return rc;
  snprintf(summary, sizeof summary, "Portal language set to %s", args->language);
  return tesoro__portal_activity(c, summary);
}

static int fx_portal_contact_agent(tesoro__ctx *c) {
  const tesoro__portal_args *args = c->args;
  sqlite3_stmt *s;
  char extra[96];
  int rc;
  if ((s = TESORO__STMT(c->t, S_PORTAL_MESSAGE_INSERT, BIND_I(c->agency),
                        BIND_I(c->contact))) == NULL) return c->t->rc;
  if (args->deal_property) sqlite3_bind_int64(s, 3, args->deal_property);
  sqlite3_bind_text(s, 4, args->message, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 5, c->now);
  if ((rc = tesoro__run(c->t, s))) return rc;
  c->out_id = sqlite3_last_insert_rowid(c->t->db);
  if (args->deal_property)
    snprintf(extra, sizeof extra, "{\"message_id\":%lld,\"deal_property_id\":%lld}",
             (long long)c->out_id, (long long)args->deal_property);
  else
    snprintf(extra, sizeof extra, "{\"message_id\":%lld}", (long long)c->out_id);
  if ((rc = tesoro__history_ref(c, c->out_id)) ||
      (rc = tesoro__portal_activity(c, args->message)))
    return rc;
  return tesoro__notice_data(c, args->message, extra);
}

/* --- the public calls --- */

/* Fire an account event as `actor` at the version `acc` was read at. */
static int tesoro__account_event(tesoro *t, int64_t actor,
                                 const tesoro__account *acc, int event,
                                 const tesoro__portal_args *args,
                                 int64_t *out_id) {
  return tesoro__transition(t, actor, &tesoro__portal_account_machine, acc->id,
                            event, acc->version, args, NULL, out_id, NULL);
}

/* The calling client and its account, after the portal gate. */
static int tesoro__client_account(tesoro *t, int64_t client,
                                  int set_password_ok, tesoro__actor *a,
                                  tesoro__account *acc) {
  int rc;
  if ((rc = tesoro__actor_load(t, client, a)) ||
      (rc = tesoro__require(t, a, R_CLIENT, "use a portal account")) ||
      (rc = tesoro__portal_gate(t, a, set_password_ok)))
    return rc;
  rc = tesoro__account_find(t, S_PORTAL_ACCOUNT_OF_CONTACT, a->contact, NULL,
                            acc);
  if (rc == TESORO_DONE)
    return tesoro__fail(t, TESORO_ENOTFOUND, "contact %lld has no portal account",
                        (long long)a->contact);
  return rc;
}

/* The calling client, for the portal's pages that need no account. */
static int tesoro__portal_client(tesoro *t, int64_t client, tesoro__actor *a) {
  int rc;
  if ((rc = tesoro__actor_load(t, client, a)) ||
      (rc = tesoro__require(t, a, R_CLIENT, "use the client portal")))
    return rc;
  return tesoro__portal_gate(t, a, 0);
}

/* The portal server, acting for someone not logged in yet. */
static int tesoro__portal_website(tesoro *t, int64_t website, const char *action,
                                  tesoro__actor *a) {
  int rc;
  if ((rc = tesoro__actor_load(t, website, a)) ||
      (rc = tesoro__require(t, a, R_WEBSITE, action)))
    return rc;
  return tesoro__portal_gate(t, a, 1);
}

/* A wrong password: record it (the lockout counts it), then refuse.  Only
** a logged-in client (`tell_lock`) learns that the account locked: to
** anyone else the answer is the same as for an unknown e-mail. */
static int tesoro__login_failed(tesoro *t, int64_t actor,
                                const tesoro__account *acc, const char *why,
                                int tell_lock) {
  int64_t locked = 0;
  int rc = tesoro__account_event(t, actor, acc, PA_EV_LOGIN_FAILED, NULL, &locked);
  if (rc) return rc;
  if (locked && tell_lock)
    return tesoro__fail(t, TESORO_EDENIED,
                        "%s; after %d failed logins the account is locked for "
                        "%d seconds", why, TESORO_PORTAL_LOGIN_MAX_FAILS,
                        TESORO_PORTAL_LOCK_S);
  return tesoro__fail(t, TESORO_EDENIED, "%s", why);
}

/* An agency's on/off switch (admin): `name` for the message, `action` for
** the refusal of anyone else. */
static int tesoro__agency_switch(tesoro *t, int64_t actor, int id, int value,
                                 const char *name, const char *action) {
  TESORO__ENTER(t);
  if (value != 0 && value != 1)
    return tesoro__fail(t, TESORO_EINVAL, "%s is 0 (off) or 1 (on), not %d",
                        name, value);
  return tesoro__agency_setting(t, actor, id, value, action);
}

/* Switching the portal off ends every session of the agency's clients
** (tesoro__agency_setting). */
TESORO_API int tesoro_agency_set_portal(tesoro *t, int64_t actor, int active) {
  return tesoro__agency_switch(t, actor, S_AGENCY_SET_PORTAL, active,
                               "the portal setting", "switch the client portal");
}

TESORO_API int tesoro_agency_set_push(tesoro *t, int64_t actor, int enabled) {
  return tesoro__agency_switch(t, actor, S_AGENCY_SET_PUSH, enabled,
                               "the push setting", "switch push notifications");
}

TESORO_API int tesoro_agency_set_calendar(tesoro *t, int64_t actor,
                                          int active) {
  return tesoro__agency_switch(t, actor, S_AGENCY_SET_CALENDAR, active,
                               "the calendar setting",
                               "switch the calendar integration");
}

TESORO_API int tesoro_portal_account_create(tesoro *t, int64_t actor,
                                            int64_t contact,
                                            int64_t *out_account,
                                            char **out_temp_password) {
  tesoro__actor a;
  tesoro__account acc;
  tesoro__ctx c;
  sqlite3_stmt *s;
  char password[TESORO_PORTAL_TEMP_PASSWORD_LEN + 1], hash[crypto_pwhash_STRBYTES];
  char email[TESORO_MAX_EMAIL + 1], *copy = NULL;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_account, "out_account")) ||
      (rc = tesoro__out(t, out_temp_password, "out_temp_password")) ||
      (rc = tesoro__actor_on_contact(t, actor, R_STAFF,
                                     "create portal accounts", contact, &a)) ||
      (rc = tesoro__contact_writable(t, &a, contact)) ||
      (rc = tesoro__portal_gate(t, &a, 1)))
    return rc;
  if ((rc = TESORO__ROW(t, &s, S_CONTACT_EMAIL, BIND_I(contact)))) return rc;
  snprintf(email, sizeof email, "%s",
           sqlite3_column_type(s, 0) == SQLITE_NULL
               ? "" : (const char *)sqlite3_column_text(s, 0));
  sqlite3_reset(s);
  if (email[0] == 0)
    return tesoro__fail(t, TESORO_EGUARD,
                        "contact %lld has no e-mail; the portal logs in with it",
                        (long long)contact);
  tesoro__temp_password(password);
  if ((rc = tesoro__hash_secret(t, password, hash)) ||
      (rc = tesoro__copy(t, password, &copy)))
    goto done;
  tesoro__ctx_new(&c, t, &a, TESORO_ENTITY_PORTAL_ACCOUNT, contact);
  if ((rc = tesoro__write_begin(t))) goto done;
  rc = tesoro__account_find(t, S_PORTAL_ACCOUNT_OF_CONTACT, contact, NULL, &acc);
  if (rc == TESORO_OK)
    rc = tesoro__fail(t, TESORO_EEXISTS, "contact %lld already has portal account %lld",
                      (long long)contact, (long long)acc.id);
  else if (rc == TESORO_DONE &&
           (rc = tesoro__account_find(t, S_PORTAL_ACCOUNT_BY_EMAIL, a.agency,
                                      email, &acc)) == TESORO_OK)
    rc = tesoro__fail(t, TESORO_EEXISTS,
                      "portal account %lld already uses contact %lld's e-mail",
                      (long long)acc.id, (long long)contact);
  if (rc == TESORO_DONE) rc = TESORO_OK;
  if (rc == TESORO_OK)
    rc = tesoro__create_begin(&c, &tesoro__portal_account_machine,
                              PA_SET_PASSWORD);
  if (rc == TESORO_OK) /* no name, no code: a temporary password */
    rc = TESORO__EXEC(t, S_PORTAL_ACCOUNT_INSERT, BIND_I(a.agency),
                      BIND_I(contact), BIND_T(c.m->states[c.to]), BIND_T(email),
                      BIND_NULL, BIND_T(hash), BIND_NULL, BIND_NULL,
                      BIND_I(a.id), BIND_I(c.now));
  if (rc == TESORO_OK) {
    /* the invitation (the account's notice rows) carries the login */
    int64_t id = sqlite3_last_insert_rowid(t->db);
    char *login = NULL;
    if ((s = tesoro__stmt(t, S_PORTAL_INVITATION)) == NULL) rc = t->rc;
    else {
      sqlite3_bind_int64(s, 1, id);
      rc = tesoro__text_out(t, s, &login);
    }
    if (rc == TESORO_OK) rc = tesoro__notice_data(&c, NULL, login);
    tesoro__wipe_copy(&login);
    if (rc == TESORO_OK &&
        (rc = tesoro__created(&c, id)) == TESORO_OK)
      rc = tesoro__activity(&c, "portal_account_created",
                            "Portal account created");
  }
  rc = tesoro__write_end(t, rc);
done:
  return tesoro__account_out(rc, &c, password, sizeof password, &copy,
                             out_account, out_temp_password);
}

TESORO_API int tesoro_portal_register(tesoro *t, int64_t website,
                                      const char *name, const char *email,
                                      const char *password,
                                      int64_t *out_account, char **out_code) {
  tesoro__actor a;
  tesoro__account acc;
  tesoro__ctx c;
  tesoro__portal_args args = {0};
  char code[TESORO_PORTAL_CODE_DIGITS + 1], *copy = NULL;
  char pw_hash[crypto_pwhash_STRBYTES], code_hash[crypto_pwhash_STRBYTES];
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_account, "out_account")) ||
      (rc = tesoro__out(t, out_code, "out_code")) ||
      (rc = tesoro__text(t, "name", name, TESORO_MAX_NAME, 1)) ||
      (rc = tesoro__email(t, "e-mail", email, 1)) ||
      (rc = tesoro__password_policy(t, "password", password)) ||
      (rc = tesoro__portal_website(t, website, "register portal users", &a)))
    return rc;
  snprintf(code, sizeof code, "%06u", (unsigned)randombytes_uniform(1000000));
  if ((rc = tesoro__hash_secret(t, password, pw_hash)) ||
      (rc = tesoro__hash_secret(t, code, code_hash)) ||
      (rc = tesoro__copy(t, code, &copy)))
    goto done;
  tesoro__ctx_new(&c, t, &a, TESORO_ENTITY_PORTAL_ACCOUNT, 0);
  args.name = name;
  args.hash = pw_hash;
  args.code_hash = code_hash;
  args.code_expires_at = c.now + TESORO_PORTAL_CODE_TTL_S;
  if ((rc = tesoro__write_begin(t))) goto done;
  rc = tesoro__account_find(t, S_PORTAL_ACCOUNT_BY_EMAIL, a.agency, email, &acc);
  if (rc == TESORO_OK && acc.state != PA_UNVERIFIED) {
    /* Answered as a new registration (no enumeration): nothing changes,
    ** the code is never stored, and the owner hears of the attempt. */
    c.m = &tesoro__portal_account_machine;
    c.id = acc.id;
    c.contact = acc.contact;
    c.event = PA_EV_REGISTER_ATTEMPT;
    c.expected = acc.version;
    rc = tesoro__fire(&c);
    c.id = 0;
  } else if (rc == TESORO_OK) { /* again, before verification */
    c.m = &tesoro__portal_account_machine;
    c.id = acc.id;
    c.event = PA_EV_REGISTER;
    c.expected = acc.version;
    c.args = &args;
    rc = tesoro__fire(&c);
  } else if (rc == TESORO_DONE) {
    rc = tesoro__create_begin(&c, &tesoro__portal_account_machine,
                              PA_UNVERIFIED);
    if (rc == TESORO_OK) /* no contact until the code is verified */
      rc = TESORO__EXEC(t, S_PORTAL_ACCOUNT_INSERT, BIND_I(a.agency),
                        BIND_NULL, BIND_T(c.m->states[c.to]), BIND_T(email),
                        BIND_T(name), BIND_T(pw_hash), BIND_T(code_hash),
                        BIND_I(args.code_expires_at), BIND_I(a.id),
                        BIND_I(c.now));
    if (rc == TESORO_OK) /* the machine's creation row: "register" */
      rc = tesoro__created(&c, sqlite3_last_insert_rowid(t->db));
  }
  rc = tesoro__write_end(t, rc);
done:
  return tesoro__account_out(rc, &c, code, sizeof code, &copy, out_account,
                             out_code);
}

TESORO_API int tesoro_portal_verify(tesoro *t, int64_t website,
                                    const char *email, const char *code,
                                    int64_t *out_client) {
  tesoro__actor a;
  tesoro__account acc;
  tesoro__portal_args args = {0};
  int64_t client = 0;
  int rc, right;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_client, "out_client")) ||
      (rc = tesoro__email(t, "e-mail", email, 1)) ||
      (rc = tesoro__text(t, "verification code", code, 16, 1)))
    return rc;
  if (strlen(code) != TESORO_PORTAL_CODE_DIGITS ||
      strspn(code, "0123456789") != TESORO_PORTAL_CODE_DIGITS)
    return tesoro__fail(t, TESORO_EINVAL, "a verification code is %d digits",
                        TESORO_PORTAL_CODE_DIGITS);
  if ((rc = tesoro__portal_website(t, website, "verify portal registrations", &a)))
    return rc;
  /* One answer for every failure, whether or not the e-mail has an account
  ** (no enumeration); only a wrong code of an unverified account counts. */
  rc = tesoro__account_find(t, S_PORTAL_ACCOUNT_BY_EMAIL, a.agency, email, &acc);
  if (rc != TESORO_OK && rc != TESORO_DONE) return rc;
  if (rc == TESORO_DONE || acc.state != PA_UNVERIFIED ||
      acc.code_attempts >= TESORO_PORTAL_CODE_MAX_TRIES ||
      tesoro__now(t) > acc.code_expires_at) {
    if (rc == TESORO_OK && acc.code_hash[0])
      (void)tesoro__secret_matches(acc.code_hash, code);
    else
      tesoro__decoy_verify(t, code);
    return tesoro__fail(t, TESORO_EDENIED, "%s", tesoro__wrong_code);
  }
  right = tesoro__secret_matches(acc.code_hash, code);
  args.email = email;
  if ((rc = tesoro__account_event(t, website, &acc,
                                  right ? PA_EV_VERIFY : PA_EV_CODE_FAILED,
                                  &args, &client)))
    return rc;
  if (!right) return tesoro__fail(t, TESORO_EDENIED, "%s", tesoro__wrong_code);
  *out_client = client;
  return TESORO_OK;
}

/*
** Log in, and open a session when `session` (a token's hash) is given.
** Every refusal an e-mail's owner did not earn by knowing the password is
** the same answer as for an unknown e-mail, after the same argon2id work.
*/
static int tesoro__login(tesoro *t, int64_t website, const char *email,
                         const char *password, const unsigned char *session,
                         int64_t *out_client, int *out_step) {
  tesoro__actor a;
  tesoro__account acc;
  tesoro__portal_args args = {0};
  char stronger[crypto_pwhash_STRBYTES];
  int64_t client = 0;
  int rc;
  if ((rc = tesoro__email(t, "e-mail", email, 1)) ||
      (rc = tesoro__text(t, "password", password, TESORO_MAX_PASSWORD, 1)) ||
      (rc = tesoro__portal_website(t, website, "log clients in", &a)))
    return rc;
  rc = tesoro__account_find(t, S_PORTAL_ACCOUNT_BY_EMAIL, a.agency, email, &acc);
  if (rc == TESORO_DONE) {
    tesoro__decoy_verify(t, password);
    return tesoro__fail(t, TESORO_EDENIED, "%s", tesoro__wrong_login);
  }
  if (rc) return rc;
  if (acc.deactivated || acc.locked_until > tesoro__now(t)) {
    (void)tesoro__secret_matches(acc.password_hash, password);
    return tesoro__fail(t, TESORO_EDENIED, "%s", tesoro__wrong_login);
  }
  if (!tesoro__secret_matches(acc.password_hash, password))
    return acc.state == PA_UNVERIFIED
               ? tesoro__fail(t, TESORO_EDENIED, "%s", tesoro__wrong_login)
               : tesoro__login_failed(t, website, &acc, tesoro__wrong_login, 0);
  if (acc.state == PA_UNVERIFIED)
    return tesoro__fail(t, TESORO_ESTATE,
                        "portal account %lld is not verified yet: enter the "
                        "code from the e-mail", (long long)acc.id);
  args.session = session;
  if (tesoro__hash_cheaper(t, acc.password_hash)) {
    if ((rc = tesoro__hash_secret(t, password, stronger))) return rc;
    args.hash = stronger;
  }
  if ((rc = tesoro__client_of(t, acc.contact, &client)) ||
      (rc = tesoro__account_event(t, client, &acc, PA_EV_LOGIN, &args, NULL)))
    return rc;
  if (out_client) *out_client = client;
  if (out_step) *out_step = acc.state + 1;
  return TESORO_OK;
}

TESORO_API int tesoro_portal_login(tesoro *t, int64_t website,
                                   const char *email, const char *password,
                                   int64_t *out_client, int *out_step) {
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_client, "out_client")) ||
      (rc = tesoro__out(t, out_step, "out_step")))
    return rc;
  return tesoro__login(t, website, email, password, NULL, out_client, out_step);
}

/* --- sessions --- */

/* The hash a session is stored by, of a token checked to be one tesoro
** could have made (43 base64url characters). */
static int tesoro__token_hash(tesoro *t, const char *token,
                              unsigned char out[crypto_generichash_BYTES]) {
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  int rc;
  if ((rc = tesoro__text(t, "session token", token, 64, 1))) return rc;
  if (strlen(token) != TESORO_PORTAL_TOKEN_LEN ||
      strspn(token, alphabet) != TESORO_PORTAL_TOKEN_LEN)
    return tesoro__fail(t, TESORO_EINVAL,
                        "a session token is %d base64url characters",
                        TESORO_PORTAL_TOKEN_LEN);
  crypto_generichash(out, crypto_generichash_BYTES, (const unsigned char *)token,
                     TESORO_PORTAL_TOKEN_LEN, NULL, 0);
  return TESORO_OK;
}

TESORO_API int tesoro_portal_session_open(tesoro *t, int64_t website,
                                          const char *email,
                                          const char *password,
                                          char **out_token, int64_t *out_client,
                                          int *out_step) {
  unsigned char raw[32], hash[crypto_generichash_BYTES];
  char token[TESORO_PORTAL_TOKEN_LEN + 1], *copy = NULL;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_token, "out_token"))) return rc;
  randombytes_buf(raw, sizeof raw);
  sodium_bin2base64(token, sizeof token, raw, sizeof raw,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  crypto_generichash(hash, sizeof hash, (const unsigned char *)token,
                     TESORO_PORTAL_TOKEN_LEN, NULL, 0);
  if ((rc = tesoro__copy(t, token, &copy)) == TESORO_OK &&
      (rc = tesoro__login(t, website, email, password, hash, out_client,
                          out_step)) == TESORO_OK) {
    *out_token = copy;
    copy = NULL;
  }
  sodium_memzero(raw, sizeof raw);
  sodium_memzero(token, sizeof token);
  tesoro__wipe_copy(&copy);
  return rc;
}

TESORO_API int tesoro_portal_session_client(tesoro *t, int64_t website,
                                            const char *token,
                                            int64_t *out_client) {
  static const char ended[] = "the session has ended; log in again";
  tesoro__actor a;
  unsigned char hash[crypto_generichash_BYTES];
  sqlite3_stmt *s;
  int64_t agency, last, expires, contact, now, client = 0;
  int rc, live;
  TESORO__ENTER(t);
  now = tesoro__now(t);
  if ((rc = tesoro__out(t, out_client, "out_client")) ||
      (rc = tesoro__token_hash(t, token, hash)) ||
      (rc = tesoro__portal_website(t, website, "resolve portal sessions", &a)))
    return rc;
  if ((s = tesoro__stmt(t, S_PORTAL_SESSION_GET)) == NULL) return t->rc;
  sqlite3_bind_blob(s, 1, hash, sizeof hash, SQLITE_STATIC);
  if ((rc = tesoro__row(t, s)) == TESORO_DONE)
    return tesoro__fail(t, TESORO_EDENIED, "%s", ended);
  if (rc != TESORO_ROW) return rc;
  agency = sqlite3_column_int64(s, 1);
  last = sqlite3_column_int64(s, 2);
  expires = sqlite3_column_int64(s, 3);
  contact = sqlite3_column_int64(s, 4);
  sqlite3_reset(s);
  if (agency != a.agency) return tesoro__fail(t, TESORO_EDENIED, "%s", ended);
  live = now < expires && now - last < t->session_idle_s;
  /* read everything before the write: a failure after a commit would
  ** report an error for a change that stayed */
  if (live && (rc = tesoro__client_of(t, contact, &client))) return rc;
  /* an ended session's row goes; a live one's use is noted once a minute */
  if (!live || now - last >= 60) {
    if ((rc = tesoro__write_begin(t))) return rc;
    if ((s = tesoro__stmt(t, live ? S_PORTAL_SESSION_TOUCH
                                  : S_PORTAL_SESSION_DELETE)) == NULL)
      return tesoro__write_end(t, t->rc);
    sqlite3_bind_blob(s, 1, hash, sizeof hash, SQLITE_STATIC);
    if (live) sqlite3_bind_int64(s, 2, now);
    if ((rc = tesoro__write_end(t, tesoro__run(t, s)))) return rc;
  }
  if (!live) return tesoro__fail(t, TESORO_EDENIED, "%s", ended);
  *out_client = client;
  return TESORO_OK;
}

TESORO_API int tesoro_portal_session_end(tesoro *t, int64_t website,
                                         const char *token) {
  unsigned char hash[crypto_generichash_BYTES]; /* the token's */
  tesoro__actor a;
  tesoro__account acc;
  tesoro__portal_args args = {0};
  sqlite3_stmt *s;
  int64_t account, agency;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__token_hash(t, token, hash)) ||
      (rc = tesoro__portal_website(t, website, "end portal sessions", &a)))
    return rc;
  if ((s = tesoro__stmt(t, S_PORTAL_SESSION_GET)) == NULL) return t->rc;
  sqlite3_bind_blob(s, 1, hash, sizeof hash, SQLITE_STATIC);
  if ((rc = tesoro__row(t, s)) == TESORO_DONE) return tesoro__ok(t);
  if (rc != TESORO_ROW) return rc;
  account = sqlite3_column_int64(s, 0);
  agency = sqlite3_column_int64(s, 1);
  sqlite3_reset(s);
  if (agency != a.agency) return tesoro__ok(t); /* not this website's */
  if ((rc = tesoro__account_find(t, S_PORTAL_ACCOUNT_BY_ID, account, NULL, &acc)))
    return rc < 0 ? rc : TESORO_EDB;
  args.session = hash;
  return tesoro__account_event(t, website, &acc, PA_EV_LOGOUT, &args, NULL);
}

/* --- password reset, invitation resend, deactivation --- */

TESORO_API int tesoro_portal_reset_request(tesoro *t, int64_t website,
                                           const char *email) {
  tesoro__actor a;
  tesoro__account acc;
  tesoro__portal_args args;
  unsigned char raw[TESORO_PORTAL_RESET_LEN * 3 / 4];
  char secret[TESORO_PORTAL_RESET_LEN + 1], hash[crypto_pwhash_STRBYTES];
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__email(t, "e-mail", email, 1)) ||
      (rc = tesoro__portal_website(t, website, "reset portal passwords", &a)))
    return rc;
  /* the secret is made and hashed whatever the e-mail: the same work */
  randombytes_buf(raw, sizeof raw);
  sodium_bin2base64(secret, sizeof secret, raw, sizeof raw,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  if ((rc = tesoro__hash_secret(t, secret, hash)) == TESORO_OK) {
    rc = tesoro__account_find(t, S_PORTAL_ACCOUNT_BY_EMAIL, a.agency, email,
                              &acc);
    if (rc == TESORO_OK && acc.state != PA_UNVERIFIED && !acc.deactivated) {
      memset(&args, 0, sizeof args);
      args.code_hash = hash;
      args.code_expires_at = tesoro__now(t) + TESORO_PORTAL_RESET_TTL_S;
      args.secret = secret;
      rc = tesoro__account_event(t, website, &acc, PA_EV_REQUEST_RESET, &args,
                                 NULL);
    } else if (rc == TESORO_OK || rc == TESORO_DONE) {
      rc = tesoro__ok(t);
    }
  }
  sodium_memzero(raw, sizeof raw);
  sodium_memzero(secret, sizeof secret);
  return rc;
}

TESORO_API int tesoro_portal_reset(tesoro *t, int64_t website,
                                   const char *email, const char *secret,
                                   const char *new_password,
                                   int64_t *out_client) {
  static const char wrong[] = "the reset secret is wrong or has expired";
  char hash[crypto_pwhash_STRBYTES]; /* the new password's */
  int64_t client = 0;
  tesoro__actor a;
  tesoro__account acc;
  tesoro__portal_args args = {0};
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__email(t, "e-mail", email, 1)) ||
      (rc = tesoro__text(t, "reset secret", secret, 64, 1)) ||
      (rc = tesoro__password_policy(t, "new password", new_password)) ||
      (rc = tesoro__portal_website(t, website, "reset portal passwords", &a)) ||
      (rc = tesoro__hash_secret(t, new_password, hash)))
    return rc;
  rc = tesoro__account_find(t, S_PORTAL_ACCOUNT_BY_EMAIL, a.agency, email, &acc);
  if (rc != TESORO_OK && rc != TESORO_DONE) return rc;
  if (rc == TESORO_DONE || acc.state == PA_UNVERIFIED || acc.deactivated ||
      !acc.reset_hash[0] || tesoro__now(t) >= acc.reset_expires_at ||
      acc.reset_attempts >= TESORO_PORTAL_RESET_MAX_TRIES) {
    tesoro__decoy_verify(t, secret);
    return tesoro__fail(t, TESORO_EDENIED, "%s", wrong);
  }
  if (!tesoro__secret_matches(acc.reset_hash, secret)) {
    rc = tesoro__account_event(t, website, &acc, PA_EV_RESET_FAILED, NULL, NULL);
    return rc ? rc : tesoro__fail(t, TESORO_EDENIED, "%s", wrong);
  }
  args.hash = hash;
  if ((rc = tesoro__client_of(t, acc.contact, &client)) ||
      (rc = tesoro__account_event(t, website, &acc, PA_EV_RESET_PASSWORD, &args,
                                  NULL)))
    return rc;
  if (out_client) *out_client = client;
  return TESORO_OK;
}

/* The account of `contact`, for a staff call that manages it. */
static int tesoro__staff_account(tesoro *t, int64_t actor, int64_t contact,
                                 const char *action, tesoro__account *acc) {
  tesoro__actor a;
  int rc;
  if ((rc = tesoro__actor_on_contact(t, actor, R_STAFF, action, contact, &a)) ||
      (rc = tesoro__contact_writable(t, &a, contact)) ||
      (rc = tesoro__portal_gate(t, &a, 1)))
    return rc;
  rc = tesoro__account_find(t, S_PORTAL_ACCOUNT_OF_CONTACT, contact, NULL, acc);
  if (rc == TESORO_DONE)
    return tesoro__fail(t, TESORO_ENOTFOUND, "contact %lld has no portal account",
                        (long long)contact);
  if (rc == TESORO_OK && acc->state == PA_UNVERIFIED)
    return tesoro__fail(t, TESORO_ESTATE,
                        "portal account %lld is an unverified registration: "
                        "the client registers again", (long long)acc->id);
  return rc;
}

TESORO_API int tesoro_portal_invitation_resend(tesoro *t, int64_t actor,
                                               int64_t contact,
                                               char **out_temp_password) {
  tesoro__account acc;
  tesoro__portal_args args = {0};
  char password[TESORO_PORTAL_TEMP_PASSWORD_LEN + 1], hash[crypto_pwhash_STRBYTES];
  char *copy = NULL;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_temp_password, "out_temp_password")) ||
      (rc = tesoro__staff_account(t, actor, contact, "resend portal invitations",
                                  &acc)))
    return rc;
  tesoro__temp_password(password);
  args.hash = hash;
  if ((rc = tesoro__hash_secret(t, password, hash)) == TESORO_OK &&
      (rc = tesoro__copy(t, password, &copy)) == TESORO_OK &&
      (rc = tesoro__account_event(t, actor, &acc, PA_EV_RESEND_INVITATION, &args,
                                  NULL)) == TESORO_OK) {
    *out_temp_password = copy;
    copy = NULL;
  }
  sodium_memzero(password, sizeof password);
  tesoro__wipe_copy(&copy);
  return rc;
}

TESORO_API int tesoro_portal_account_deactivate(tesoro *t, int64_t actor,
                                                int64_t contact) {
  tesoro__account acc;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__staff_account(t, actor, contact, "deactivate portal accounts",
                                  &acc)))
    return rc;
  if (acc.deactivated)
    return tesoro__fail(t, TESORO_ESTATE, "portal account %lld is already "
                        "deactivated", (long long)acc.id);
  return tesoro__account_event(t, actor, &acc, PA_EV_DEACTIVATE, NULL, NULL);
}

TESORO_API int tesoro_portal_password_change(tesoro *t, int64_t client,
                                             const char *current,
                                             const char *new_password) {
  tesoro__actor a;
  tesoro__account acc;
  tesoro__portal_args args = {0};
  char hash[crypto_pwhash_STRBYTES];
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__text(t, "current password", current, TESORO_MAX_PASSWORD, 1)) ||
      (rc = tesoro__password_policy(t, "new password", new_password)) ||
      (rc = tesoro__client_account(t, client, 1, &a, &acc)) ||
      (rc = tesoro__locked(t, &acc, tesoro__now(t))))
    return rc;
  if (!tesoro__secret_matches(acc.password_hash, current))
    return tesoro__login_failed(t, client, &acc, "the current password is wrong",
                                1);
  if (tesoro__secret_matches(acc.password_hash, new_password))
    return tesoro__fail(t, TESORO_EINVAL,
                        "the new password must differ from the current one");
  if ((rc = tesoro__hash_secret(t, new_password, hash))) return rc;
  args.hash = hash;
  return tesoro__account_event(t, client, &acc, PA_EV_CHANGE_PASSWORD, &args,
                               NULL);
}

TESORO_API int tesoro_portal_step(tesoro *t, int64_t client, int *out_step) {
  tesoro__actor a;
  tesoro__account acc;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_step, "out_step")) ||
      (rc = tesoro__client_account(t, client, 1, &a, &acc)))
    return rc;
  *out_step = acc.state + 1;
  return TESORO_OK;
}

/* An onboarding event of the calling client's account. */
static int tesoro__onboarding(tesoro *t, int64_t client, int event) {
  tesoro__actor a;
  tesoro__account acc;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__client_account(t, client, 0, &a, &acc))) return rc;
  return tesoro__account_event(t, client, &acc, event, NULL, NULL);
}

TESORO_API int tesoro_portal_welcome_finish(tesoro *t, int64_t client) {
  return tesoro__onboarding(t, client, PA_EV_FINISH_WELCOME);
}
TESORO_API int tesoro_portal_tour_finish(tesoro *t, int64_t client) {
  return tesoro__onboarding(t, client, PA_EV_FINISH_TOUR);
}
TESORO_API int tesoro_portal_tour_skip(tesoro *t, int64_t client) {
  return tesoro__onboarding(t, client, PA_EV_SKIP_TOUR);
}
TESORO_API int tesoro_portal_tour_restart(tesoro *t, int64_t client) {
  return tesoro__onboarding(t, client, PA_EV_RESTART_TOUR);
}

/* The static code equal to `s`, or NULL. */
static const char *tesoro__language_code(const char *s) {
  for (int i = 0; s && i < COUNT(tesoro__languages); i++)
    if (strcmp(s, tesoro__languages[i]) == 0) return tesoro__languages[i];
  return NULL;
}

TESORO_API int tesoro_portal_language(tesoro *t, int64_t client,
                                      const char **out_language) {
  tesoro__actor a;
  sqlite3_stmt *s;
  const char *code;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_language, "out_language")) ||
      (rc = tesoro__actor_load(t, client, &a)) ||
      (rc = tesoro__require(t, &a, R_CLIENT, "read their portal language")) ||
      (rc = tesoro__portal_gate(t, &a, 1)))
    return rc;
  if ((rc = TESORO__ROW(t, &s, S_PORTAL_LANGUAGE, BIND_I(a.contact))))
    return rc;
  code = tesoro__language_code((const char *)sqlite3_column_text(s, 0));
  sqlite3_reset(s);
  *out_language = code ? code : tesoro__languages[0];
  return TESORO_OK;
}

TESORO_API int tesoro_portal_set_language(tesoro *t, int64_t client,
                                          const char *language) {
  tesoro__actor a;
  tesoro__account acc;
  tesoro__portal_args args = {0};
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__text(t, "language", language, 16, 1))) return rc;
  if ((args.language = tesoro__language_code(language)) == NULL)
    return tesoro__fail(t, TESORO_EINVAL,
                        "unknown portal language \"%s\"; it is one of %s",
                        language, TESORO_PORTAL_LANGUAGES);
  if ((rc = tesoro__client_account(t, client, 0, &a, &acc))) return rc;
  return tesoro__account_event(t, client, &acc, PA_EV_SET_LANGUAGE, &args, NULL);
}

TESORO_API int tesoro_portal_home(tesoro *t, int64_t client,
                                  int64_t *out_upcoming,
                                  int64_t *out_unconfirmed,
                                  int64_t *out_new_properties,
                                  int64_t *out_ratings) {
  tesoro__actor a;
  sqlite3_stmt *s;
  int64_t *outs[] = {out_upcoming, out_unconfirmed, out_new_properties,
                     out_ratings};
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__portal_client(t, client, &a))) return rc;
  if ((rc = TESORO__ROW(t, &s, S_PORTAL_HOME, BIND_I(a.contact),
                        BIND_I(tesoro__now(t))))) return rc;
  for (int i = 0; i < COUNT(outs); i++)
    if (outs[i]) *outs[i] = sqlite3_column_int64(s, i);
  sqlite3_reset(s);
  return TESORO_OK;
}

TESORO_API int tesoro_portal_properties(tesoro *t, int64_t client, int view,
                                        tesoro_cursor **out) {
  tesoro__actor a;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__list_args(t, out, "property view", view, TESORO_FEED_NEW,
                              TESORO_FEED_FAVOURITES)) ||
      (rc = tesoro__portal_client(t, client, &a)) ||
      (rc = tesoro__cursor_new(
           t,
           "SELECT p.id, p.deal_id, p.listing_id, p.state, p.favourite, "
           "l.title, l.address, l.price, l.ref, " TESORO__LISTING_PHOTO
           " AS photo_id, p.reject_reasons, p.reject_note, p.created_at, "
           "p.version FROM deal_property p JOIN deal d ON d.id = p.deal_id "
           "JOIN listing l ON l.id = p.listing_id WHERE d.contact_id = ?1 "
           "AND d.state = 'active' AND " TESORO__LISTING_LIVE("?3")
           " AND (?2 <> 1 OR p.state = 'to_review') "
           "AND (?2 <> 3 OR p.favourite) ORDER BY iif(?2 = 2, CASE p.state "
           "WHEN 'to_review' THEN 1 WHEN 'interesting' THEN 2 WHEN "
           "'rejected' THEN 3 WHEN 'viewed' THEN 4 ELSE 5 END, 0), "
           "p.created_at DESC, p.id DESC",
           out)))
    return rc;
  TESORO__CURSOR_BIND(*out, BIND_I(a.contact), BIND_I(view),
                      BIND_I(tesoro__now(t)));
  return TESORO_OK;
}

/*
** May client `a` see listing `id` as a buyer (TESORO__CLIENT_LISTING)?
** *seller is set when the listing is the client's own, which the ordinary
** reach rule serves.  Each refusal names its cause: no such listing,
** another agency, not in the client's feed.
*/
static int tesoro__client_listing(tesoro *t, const tesoro__actor *a, int64_t id,
                                  int *seller) {
  sqlite3_stmt *s;
  int64_t agency, dp;
  int rc;
  *seller = 0;
  if ((rc = tesoro__find(t, S_LISTING_LOAD, "listing", id, &s)))
    return rc;
  agency = sqlite3_column_int64(s, 0);
  *seller = sqlite3_column_int64(s, 1) == a->contact;
  sqlite3_reset(s);
  if (agency != a->agency)
    return tesoro__fail(t, TESORO_EDENIED,
                        "listing %lld belongs to another agency than actor %lld",
                        (long long)id, (long long)a->id);
  if (*seller) return TESORO_OK;
  if ((rc = tesoro__portal_gate(t, a, 0))) return rc;
  if ((s = TESORO__STMT(t, S_CLIENT_LISTING, BIND_I(a->contact), BIND_I(id),
                        BIND_I(tesoro__now(t)))) == NULL) return t->rc;
  if ((rc = tesoro__int(t, s, &dp)) == TESORO_DONE)
    return tesoro__fail(t, TESORO_EDENIED,
                        "listing %lld is not in the property feed of client "
                        "actor %lld, who has no viewing of it either",
                        (long long)id, (long long)a->id);
  return rc;
}

/* The buyer's view of a listing (tesoro_portal_property's JSON). */
static int tesoro__property_json(tesoro *t, const tesoro__actor *a, int64_t id,
                                 char **out) {
  sqlite3_stmt *s;
  if ((s = TESORO__STMT(t, S_PORTAL_PROPERTY, BIND_I(a->contact), BIND_I(id),
                        BIND_I(tesoro__now(t)))) == NULL) return t->rc;
  return tesoro__text_out(t, s, out);
}

TESORO_API int tesoro_portal_property(tesoro *t, int64_t client, int64_t listing,
                                      char **out_json) {
  tesoro__actor a;
  int seller, rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_json, "out_json")) ||
      (rc = tesoro__actor_load(t, client, &a)) ||
      (rc = tesoro__require(t, &a, R_CLIENT, "read a property of their feed")) ||
      (rc = tesoro__client_listing(t, &a, listing, &seller)))
    return rc;
  if (seller)
    return tesoro__fail(t, TESORO_EDENIED,
                        "listing %lld is the client's own; read it with "
                        "tesoro_entity_json", (long long)listing);
  return tesoro__property_json(t, &a, listing, out_json);
}

TESORO_API int tesoro_portal_contact_agent(tesoro *t, int64_t client,
                                           int64_t deal_property,
                                           const char *message,
                                           int64_t *out_message) {
  tesoro__actor a;
  tesoro__account acc;
  tesoro__portal_args args = {0};
  int64_t id = 0;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__text(t, "message", message, TESORO_MAX_TEXT, 1))) return rc;
  if (deal_property < 0)
    return tesoro__fail(t, TESORO_EINVAL, "deal_property must be >= 0");
  if ((rc = tesoro__client_account(t, client, 0, &a, &acc)) ||
      (deal_property &&
       (rc = tesoro__reach_entity(t, &a, TESORO_ENTITY_DEAL_PROPERTY,
                                  deal_property))))
    return rc;
  args.message = message;
  args.deal_property = deal_property;
  if ((rc = tesoro__account_event(t, client, &acc, PA_EV_CONTACT_AGENT, &args,
                                  &id)))
    return rc;
  if (out_message) *out_message = id;
  return TESORO_OK;
}

TESORO_API int tesoro_contact_portal_account(tesoro *t, int64_t actor,
                                        int64_t contact, int64_t *out_account) {
  tesoro__actor a;
  tesoro__account acc;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_account, "out_account")) ||
      (rc = tesoro__actor_on_contact(t, actor, R_STAFF,
                                     "look up portal accounts", contact, &a)) ||
      (rc = tesoro__portal_gate(t, &a, 1)))
    return rc;
  rc = tesoro__account_find(t, S_PORTAL_ACCOUNT_OF_CONTACT, contact, NULL, &acc);
  if (rc == TESORO_DONE)
    return tesoro__fail(t, TESORO_ENOTFOUND, "contact %lld has no portal account",
                        (long long)contact);
  if (rc) return rc;
  *out_account = acc.id;
  return TESORO_OK;
}

/* =========================================================================
** 17. Website exchange
**
** A website event is a JSON object; it is validated field by field
** (tesoro__json_fields with the type's field list), recorded once in
** web_event under its source id, and applied as an event of the web
** customer's machine, whose effect does the type's work.  Order
** independence rests on stamps (see schema.sql's website tables): what an
** event sets is written only when the event's stamp is greater than the
** stored one.
** Counted things (views, enquiries, claims) are simply added.  The CRM's
** own changes queue "exchange" outbox rows for the website.  The call list
** and the matches are SQL over the same tables.
*/

/* What the web customer machine's effects take. */
typedef struct tesoro__web_args {
  const char *json;    /* the event, or the CRM's criteria */
  const char *stamp;   /* '<at>|<source_id>' */
  int64_t at;
  int64_t listing;     /* the event's listing, resolved; 0: none */
  const char *text;    /* CRM: the group, the vendor role */
  int alert;           /* CRM search: the e-mail alert */
  int64_t search;      /* CRM search: 0 new, else the one to edit */
  int applied;         /* out: 0 when superseded */
  int entity;          /* out: what the event made or changed */
  int64_t entity_id;
} tesoro__web_args;

/* Fields of every website event, and of search criteria. */
#define TESORO__WEB_HEAD                                                      \
  {"source_id", 't', 1, 1, TESORO_MAX_SOURCE_ID}, {"type", 't', 1, 1, 32},    \
  {"customer", 't', 1, 1, 200}, {"at", 'i', 1, 0, INT64_MAX}
#define TESORO__CRITERIA                                                      \
  {"min_price", 'i', 0, 0, TESORO__MAX_MONEY},                                \
  {"max_price", 'i', 0, 0, TESORO__MAX_MONEY},                                \
  {"property_types", 'a', 0, 0, 0}, {"min_bedrooms", 'i', 0, 0, 1000},        \
  {"max_bedrooms", 'i', 0, 0, 1000}, {"area", 'g', 0, 0, 0}
#define TESORO__LISTING_REF(required) {"listing", 't', required, 1, 32}

static const tesoro__field tesoro__web_customer_fields[] = {
    TESORO__WEB_HEAD, {"name", 't', 0, 1, TESORO_MAX_NAME},
    {"email", 'e', 0, 1, TESORO_MAX_EMAIL}, {"phone", 't', 0, 1, TESORO_MAX_PHONE},
    {"contact_id", 'i', 0, 1, INT64_MAX}};
static const tesoro__field tesoro__web_visit_fields[] = {
    TESORO__WEB_HEAD, {"visits", 'i', 1, 1, INT32_MAX}};
static const tesoro__field tesoro__web_search_fields[] = {
    TESORO__WEB_HEAD, {"search_id", 't', 1, 1, 200}, {"alert", 'b', 0, 0, 0},
    TESORO__CRITERIA};
static const tesoro__field tesoro__web_search_deleted_fields[] = {
    TESORO__WEB_HEAD, {"search_id", 't', 1, 1, 200}};
static const tesoro__field tesoro__web_view_fields[] = {
    TESORO__WEB_HEAD, TESORO__LISTING_REF(1)};
static const tesoro__field tesoro__web_save_fields[] = {
    TESORO__WEB_HEAD, TESORO__LISTING_REF(1), {"saved", 'b', 1, 0, 0}};
static const tesoro__field tesoro__web_rank_fields[] = {
    TESORO__WEB_HEAD, TESORO__LISTING_REF(1), {"rank", 'i', 1, 1, 5},
    {"note", 't', 0, 1, TESORO_MAX_TEXT}, {"shared", 'b', 0, 0, 0}};
static const tesoro__field tesoro__web_enquiry_fields[] = {
    TESORO__WEB_HEAD, {"enquiry_type", 't', 1, 1, 16}, TESORO__LISTING_REF(0),
    {"message", 't', 0, 1, TESORO_MAX_TEXT}};
static const tesoro__field tesoro__web_group_fields[] = {
    TESORO__WEB_HEAD, {"group", 't', 1, 1, 200}};
static const tesoro__field tesoro__web_claim_fields[] = {
    TESORO__WEB_HEAD, TESORO__LISTING_REF(1), {"note", 't', 0, 1, TESORO_MAX_TEXT}};
static const tesoro__field tesoro__web_consent_fields[] = {
    TESORO__WEB_HEAD, {"consent", 't', 1, 1, 16},
    {"statement", 't', 1, 1, TESORO_MAX_TEXT}};
static const tesoro__field tesoro__criteria_fields[] = {TESORO__CRITERIA};

/* The website's event types, in the order of WC_EV_CUSTOMER on.  `interest`:
** the event is a sign of interest, stamped as the customer's last activity
** (the call list's recency); details, groups and deletions are not. */
static const struct {
  const char *name;
  const tesoro__field *fields;
  int nfields;
  int interest;
} tesoro__web_types[] = {
#define T(name, f, interest)                                                  \
  {name, tesoro__web_##f##_fields, COUNT(tesoro__web_##f##_fields), interest}
    T("customer", customer, 0), T("visit", visit, 1),
    T("implied_search", search, 1), T("saved_search", search, 1),
    T("search_deleted", search_deleted, 0), T("property_view", view, 1),
    T("property_save", save, 1), T("property_rank", rank, 1),
    T("enquiry", enquiry, 1), T("group", group, 0),
    T("vendor_claim", claim, 1), T("consent", consent, 1),
#undef T
};

static const char *const tesoro__enquiry_types[] = {
    "property", "branch", "valuation", "mortgage", "viewing", "staff", "general"};

/* --- validation: property types and GeoJSON areas (RFC 7946) --- */

static int tesoro__property_types_valid(tesoro *t, const char *what,
                                       const char *type, const char *json) {
  sqlite3_stmt *s;
  int rc;
  if (strcmp(type, "array") != 0)
    return tesoro__fail(t, TESORO_EINVAL, "%s must be an array", what);
  if ((s = TESORO__STMT(t, S_JSON_ELEMENTS, BIND_T(json))) == NULL)
    return t->rc;
  while ((rc = tesoro__row(t, s)) == TESORO_ROW) {
    const char *v = (const char *)sqlite3_column_text(s, 2);
    const char *kind = (const char *)sqlite3_column_text(s, 1);
    if (kind == NULL || (v == NULL && strcmp(kind, "text") == 0)) {
      /* an element always has a type, a text a value: out of memory */
      sqlite3_reset(s);
      return tesoro__fail(t, TESORO_ENOMEM, "out of memory");
    }
    if (strcmp(kind, "text") != 0 || !tesoro__property_type(v)) {
      sqlite3_reset(s);
      return tesoro__fail(t, TESORO_EINVAL,
                          "%s may hold only house, apartment, office, land", what);
    }
  }
  return rc < 0 ? rc : TESORO_OK;
}

/* One position [longitude, latitude(, altitude)], read from a row of
** S_GEO_POSITIONS or S_GEO_POINT starting at column `col`. */
static int tesoro__geo_position(tesoro *t, const char *what, sqlite3_stmt *s,
                                int col, double *lon, double *lat) {
  const char *type = (const char *)sqlite3_column_text(s, col);
  int n = sqlite3_column_int(s, col + 1);
  const char *xt = (const char *)sqlite3_column_text(s, col + 2);
  const char *yt = (const char *)sqlite3_column_text(s, col + 4);
  if ((sqlite3_errcode(t->db) & 0xFF) == SQLITE_NOMEM) /* a text not made */
    return tesoro__fail(t, TESORO_ENOMEM, "out of memory");
  if (type == NULL || strcmp(type, "array") != 0 || n < 2 || n > 3)
    return tesoro__fail(t, TESORO_EINVAL,
                        "%s: a position is an array [longitude, latitude]", what);
  if (!xt || !yt || (strcmp(xt, "integer") && strcmp(xt, "real")) ||
      (strcmp(yt, "integer") && strcmp(yt, "real")))
    return tesoro__fail(t, TESORO_EINVAL, "%s: positions hold numbers", what);
  *lon = sqlite3_column_double(s, col + 3);
  *lat = sqlite3_column_double(s, col + 5);
  if (!(*lon >= -180 && *lon <= 180))
    return tesoro__fail(t, TESORO_EINVAL,
                        "%s: longitude %g is outside -180..180", what, *lon);
  if (!(*lat >= -90 && *lat <= 90))
    return tesoro__fail(t, TESORO_EINVAL,
                        "%s: latitude %g is outside -90..90", what, *lat);
  return TESORO_OK;
}

/* A GeoJSON geometry's "type" must be `want`. */
static int tesoro__geo_type(tesoro *t, const char *what, const char *json,
                            const char *want) {
  sqlite3_stmt *s;
  int rc, ok;
  char got[24] = "";
  if ((rc = TESORO__ROW(t, &s, S_GEO_TYPE, BIND_T(json)))) return rc;
  if (sqlite3_column_text(s, 0))
    snprintf(got, sizeof got, "%s", (const char *)sqlite3_column_text(s, 0));
  ok = sqlite3_column_int(s, 1);
  /* the reset reports a text the column could not convert (out of memory) */
  if ((rc = sqlite3_reset(s)) != SQLITE_OK) return tesoro__dberr(t, rc);
  if (!ok)
    return tesoro__fail(t, TESORO_EINVAL, "%s is not a GeoJSON object", what);
  if (strcmp(got, want) != 0)
    return tesoro__fail(t, TESORO_EINVAL,
                        "%s has type \"%s\"; it must be a GeoJSON %s", what, got,
                        want);
  return TESORO_OK;
}

static int tesoro__geo_point(tesoro *t, const char *what, const char *json) {
  sqlite3_stmt *s;
  double lon, lat;
  int rc;
  if ((rc = tesoro__geo_type(t, what, json, "Point"))) return rc;
  if ((rc = TESORO__ROW(t, &s, S_GEO_POINT, BIND_T(json)))) return rc;
  rc = tesoro__geo_position(t, what, s, 0, &lon, &lat);
  sqlite3_reset(s);
  return rc;
}

/* A Polygon: one or more rings, each closed, of at least 4 positions. */
static int tesoro__geo_polygon(tesoro *t, const char *what, const char *json) {
  sqlite3_stmt *s;
  int64_t ring = -1, count = 0;
  double first[2] = {0, 0}, last[2] = {0, 0}, lon, lat;
  int rc;
  if ((rc = tesoro__geo_type(t, what, json, "Polygon"))) return rc;
  if ((s = TESORO__STMT(t, S_GEO_POSITIONS, BIND_T(json))) == NULL)
    return t->rc;
  /* Rows: ring index, ring type, then one position per row (NULLs for an
  ** empty or non-array ring), and a final row with ring -1 to close. */
  while ((rc = tesoro__row(t, s)) == TESORO_ROW) {
    int64_t r = sqlite3_column_int64(s, 0);
    if (r != ring) { /* close the previous ring */
      if (ring >= 0 && count < 4)
        rc = tesoro__fail(t, TESORO_EINVAL,
                          "%s: ring %lld has %lld positions; a ring needs at "
                          "least 4", what, (long long)ring, (long long)count);
      else if (ring >= 0 && (first[0] != last[0] || first[1] != last[1]))
        rc = tesoro__fail(t, TESORO_EINVAL,
                          "%s: ring %lld is not closed (its first and last "
                          "positions differ)", what, (long long)ring);
      if (rc != TESORO_ROW) break;
      if (r < 0) break;
      if (strcmp((const char *)sqlite3_column_text(s, 1), "array") != 0) {
        rc = tesoro__fail(t, TESORO_EINVAL, "%s: ring %lld is not an array", what,
                          (long long)r);
        break;
      }
      ring = r;
      count = 0;
    }
    if (sqlite3_column_type(s, 2) == SQLITE_NULL) continue; /* empty ring */
    if ((rc = tesoro__geo_position(t, what, s, 3, &lon, &lat))) break;
    rc = TESORO_ROW;
    last[0] = lon;
    last[1] = lat;
    if (count++ == 0) {
      first[0] = lon;
      first[1] = lat;
    }
  }
  sqlite3_reset(s);
  if (rc < 0) return rc;
  if (ring < 0)
    return tesoro__fail(t, TESORO_EINVAL, "%s has no ring", what);
  return TESORO_OK;
}

/* A search area: {"name", "centre": Point, "radius": metres, "polygon"}. */
static int tesoro__area_valid(tesoro *t, const char *what, const char *type,
                              const char *json) {
  sqlite3_stmt *s;
  int has_centre = 0, has_radius = 0, has_polygon = 0, rc = TESORO_OK;
  char name[96];
  if (strcmp(type, "object") != 0)
    return tesoro__fail(t, TESORO_EINVAL, "%s must be an object", what);
  if ((s = TESORO__STMT(t, S_JSON_MEMBERS, BIND_T(json))) == NULL) return t->rc;
  while (rc == TESORO_OK && (rc = tesoro__row(t, s)) == TESORO_ROW) {
    const char *key = (const char *)sqlite3_column_text(s, 0);
    const char *kind = (const char *)sqlite3_column_text(s, 1);
    const char *value = (const char *)sqlite3_column_text(s, 2);
    snprintf(name, sizeof name, "%s.%s", what, key ? key : "");
    rc = TESORO_OK;
    if (key == NULL || kind == NULL) {
      /* an object's member always has both: SQLite ran out of memory */
      rc = tesoro__fail(t, TESORO_ENOMEM, "out of memory");
    } else if (strcmp(key, "name") == 0) {
      rc = strcmp(kind, "text") != 0
               ? tesoro__fail(t, TESORO_EINVAL, "%s must be a string", name)
           : value == NULL /* a text is never NULL: out of memory */
               ? tesoro__fail(t, TESORO_ENOMEM, "out of memory")
               : tesoro__text(t, name, value, TESORO_MAX_NAME, 1);
    } else if (strcmp(key, "radius") == 0) {
      has_radius = 1;
      if ((strcmp(kind, "integer") && strcmp(kind, "real")) ||
          !(sqlite3_column_double(s, 2) > 0))
        rc = tesoro__fail(t, TESORO_EINVAL, "%s must be a number of metres > 0",
                          name);
    } else if (strcmp(key, "centre") == 0 || strcmp(key, "polygon") == 0) {
      int centre = key[0] == 'c';
      /* The nested checks use other statements; copy before they run. */
      char *copy = sqlite3_mprintf("%s", value ? value : "");
      /* an object's text is never NULL: out of memory */
      if (copy == NULL || (value == NULL && strcmp(kind, "object") == 0))
        rc = tesoro__fail(t, TESORO_ENOMEM, "out of memory");
      else if (strcmp(kind, "object") != 0)
        rc = tesoro__fail(t, TESORO_EINVAL, "%s must be a GeoJSON %s", name,
                          centre ? "Point" : "Polygon");
      else
        rc = centre ? tesoro__geo_point(t, name, copy)
                    : tesoro__geo_polygon(t, name, copy);
      sqlite3_free(copy);
      if (centre) has_centre = 1;
      else has_polygon = 1;
    } else {
      rc = tesoro__fail(t, TESORO_EINVAL, "%s has an unknown field \"%.60s\"",
                        what, key);
    }
  }
  sqlite3_reset(s);
  if (rc < 0) return rc;
  if (has_radius && !has_centre)
    return tesoro__fail(t, TESORO_EINVAL, "%s: a radius needs a centre", what);
  if (!has_polygon && !(has_centre && has_radius))
    return tesoro__fail(t, TESORO_EINVAL,
                        "%s needs a polygon, or a centre and a radius", what);
  return TESORO_OK;
}

/* Criteria whose bounds do not cross (the fields were checked already). */
static int tesoro__criteria_bounds(tesoro *t, const char *what, const char *json) {
  sqlite3_stmt *s;
  int rc;
  int64_t crossed = 0;
  if ((s = TESORO__STMT(t, S_CRITERIA_CROSSED, BIND_T(json))) == NULL)
    return t->rc;
  if ((rc = tesoro__int(t, s, &crossed)) < 0) return rc;
  if (crossed)
    return tesoro__fail(t, TESORO_EINVAL,
                        "%s: a minimum is above its maximum (price or bedrooms)",
                        what);
  return TESORO_OK;
}

/* --- customers --- */

/* The listing with reference `ref` in the agency, or ENOTFOUND. */
static int tesoro__listing_by_ref(tesoro *t, int64_t agency, const char *ref,
                                  int64_t *out) {
  int rc = tesoro__lookup(t, S_LISTING_BY_REF, agency, ref, out);
  if (rc == TESORO_DONE)
    return tesoro__fail(t, TESORO_ENOTFOUND, "listing \"%.40s\" does not exist", ref);
  return rc;
}

/* Insert a web customer begun in state `first` (WC_*), by its creation
** row. */
static int tesoro__customer_insert(tesoro__ctx *c, const char *external,
                                   int64_t contact, int first, int64_t *out) {
  tesoro__ctx made = *c;
  sqlite3_stmt *s;
  int rc;
  if ((rc = tesoro__create_begin(&made, &tesoro__web_customer_machine, first)))
    return rc;
  if ((s = TESORO__STMT(c->t, S_WEB_CUSTOMER_INSERT, BIND_I(c->agency),
                        BIND_T(external))) == NULL) return c->t->rc;
  if (contact) sqlite3_bind_int64(s, 3, contact);
  sqlite3_bind_text(s, 4, made.m->states[made.to], -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 5, c->now);
  if ((rc = tesoro__run(c->t, s))) return rc;
  *out = sqlite3_last_insert_rowid(c->t->db);
  return tesoro__created(&made, *out);
}

/* The web customer of a contact, made (approved, no website id yet) when
** the CRM first works with the contact on the exchange. */
static int tesoro__contact_customer_get(tesoro__ctx *c, int64_t contact,
                                        int64_t *out) {
  sqlite3_stmt *s;
  int rc;
  if ((s = TESORO__STMT(c->t, S_WEB_CUSTOMER_OF_CONTACT,
                        BIND_I(contact))) == NULL) return c->t->rc;
  rc = tesoro__int(c->t, s, out);
  if (rc != TESORO_DONE) return rc;
  return tesoro__customer_insert(c, NULL, contact, WC_APPROVED, out);
}

/* The customer an event is about, by the website's id; made on first
** sight.  A "customer" event naming a contact that the CRM already works
** with adopts that contact's customer. */
static int tesoro__event_customer(tesoro__ctx *c, const char *external,
                                  int64_t contact, int64_t *out) {
  sqlite3_stmt *s;
  int rc;
  if ((s = TESORO__STMT(c->t, S_WEB_CUSTOMER_BY_EXTERNAL, BIND_I(c->agency),
                        BIND_T(external))) == NULL) return c->t->rc;
  if ((rc = tesoro__int(c->t, s, out)) != TESORO_DONE) return rc;
  if (contact) {
    if ((s = TESORO__STMT(c->t, S_WEB_CUSTOMER_UNKEYED, BIND_I(contact))) ==
        NULL) return c->t->rc;
    if ((rc = tesoro__int(c->t, s, out)) == TESORO_OK)
      return TESORO__EXEC(c->t, S_WEB_CUSTOMER_ADOPT, BIND_I(*out),
                          BIND_T(external));
    if (rc != TESORO_DONE) return rc;
    /* One web customer per contact: naming a contact that already has one
    ** under another website id is refused (not left to the UNIQUE index,
    ** whose EDB would roll a whole batch back). */
    if ((s = TESORO__STMT(c->t, S_WEB_CUSTOMER_OF_CONTACT,
                          BIND_I(contact))) == NULL) return c->t->rc;
    if ((rc = tesoro__int(c->t, s, out)) == TESORO_OK)
      return tesoro__fail(c->t, TESORO_EEXISTS,
                          "contact %lld is already web customer %lld",
                          (long long)contact, (long long)*out);
    if (rc != TESORO_DONE) return rc;
    return tesoro__customer_insert(c, external, contact, WC_APPROVED, out);
  }
  return tesoro__customer_insert(c, external, 0, WC_PROSPECT, out);
}

static int guard_reason(tesoro__ctx *c) {
  if (c->checking || c->reason) return TESORO_OK;
  return tesoro__fail(c->t, TESORO_EINVAL, "%s %lld: a reason is required to %s",
                      c->m->name, (long long)c->id, c->m->events[c->event]);
}

static int tesoro__consent_apply(tesoro__ctx *c, int64_t contact,
                                 const char *consent, const char *source,
                                 const char *statement, int64_t at,
                                 const char *stamp, int64_t expected);

/* Hand the consent the website reported for customer c->id to `contact`
** (when it is newer than the contact's). */
static int tesoro__customer_consent(tesoro__ctx *c, int64_t contact) {
  sqlite3_stmt *s;
  char consent[16], stamp[TESORO_MAX_SOURCE_ID + 32], *text;
  int64_t at;
  int rc;
  if ((s = TESORO__STMT(c->t, S_WEB_CUSTOMER_CONSENT_GET,
                        BIND_I(c->id))) == NULL) return c->t->rc;
  if ((rc = tesoro__row(c->t, s)) != TESORO_ROW) return rc < 0 ? rc : TESORO_OK;
  tesoro__column_copy(s, 0, consent, sizeof consent);
  at = sqlite3_column_int64(s, 1);
  text = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(s, 2));
  tesoro__column_copy(s, 3, stamp, sizeof stamp);
  sqlite3_reset(s);
  if (text == NULL) return tesoro__fail(c->t, TESORO_ENOMEM, "out of memory");
  rc = tesoro__consent_apply(c, contact, consent, "website_event", text, at,
                             stamp, 0);
  sqlite3_free(text);
  return rc;
}

/* Approve: link to the given contact, the one with the customer's e-mail,
** or a new applicant. */
static int fx_customer_approve(tesoro__ctx *c) {
  tesoro *t = c->t;
  const int64_t *given = c->args;
  sqlite3_stmt *s;
  int64_t contact = given ? *given : 0, other = 0;
  int rc;
  if (contact == 0) {
    char name[TESORO_MAX_NAME + 1] = "", email[TESORO_MAX_EMAIL + 1] = "",
         phone[TESORO_MAX_PHONE + 1] = "";
    if ((rc = TESORO__ROW(t, &s, S_WEB_CUSTOMER_DETAILS, BIND_I(c->id))))
      return rc;
    if (sqlite3_column_text(s, 0))
      snprintf(name, sizeof name, "%s", (const char *)sqlite3_column_text(s, 0));
    if (sqlite3_column_text(s, 1))
      snprintf(email, sizeof email, "%s", (const char *)sqlite3_column_text(s, 1));
    if (sqlite3_column_text(s, 2))
      snprintf(phone, sizeof phone, "%s", (const char *)sqlite3_column_text(s, 2));
    sqlite3_reset(s);
    rc = TESORO_OK;
    if (name[0])
      rc = tesoro__contact_for(c, name, email, phone, c->actor->id, "applicant",
                               &contact);
    else if (email[0])
      rc = tesoro__contact_by_email(t, c->agency, email, &contact);
    if (rc) return rc;
    if (contact == 0) /* nameless and matching nobody */
      return tesoro__fail(t, TESORO_EGUARD,
                          "web customer %lld has no name yet; approve it into "
                          "an existing contact", (long long)c->id);
  }
  if ((s = TESORO__STMT(t, S_WEB_CUSTOMER_OF_CONTACT, BIND_I(contact))) == NULL)
    return t->rc;
  if ((rc = tesoro__int(t, s, &other)) == TESORO_OK)
    return tesoro__fail(t, TESORO_EEXISTS,
                        "contact %lld is already web customer %lld",
                        (long long)contact, (long long)other);
  if (rc != TESORO_DONE) return rc;
  if ((rc = TESORO__EXEC(t, S_WEB_CUSTOMER_LINK, BIND_I(c->id),
                         BIND_I(contact)))) return rc;
  c->contact = contact;
  c->out_id = contact;
  if ((rc = tesoro__customer_consent(c, contact))) return rc;
  return tesoro__activity(c, "web_customer_approved",
                          "Web customer approved from the holding tank");
}

static int fx_customer_discard(tesoro__ctx *c) {
  return TESORO__EXEC(c->t, S_WEB_CUSTOMER_END, BIND_I(c->id),
                      BIND_T(c->reason));
}

/* Run statement `id` with (?1 customer or search, ?2 event JSON, ?3 stamp,
** ?4 at, ?5 listing): 1 when it changed a row. */
static int tesoro__web_write(tesoro__ctx *c, int id, int64_t key, int *changed) {
  const tesoro__web_args *w = c->args;
  sqlite3_stmt *s;
  int rc;
  if ((s = TESORO__STMT(c->t, id, BIND_I(key), BIND_T(w->json),
                        BIND_T(w->stamp), BIND_I(w->at))) == NULL)
    return c->t->rc;
  if (w->listing) sqlite3_bind_int64(s, 5, w->listing);
  if ((rc = tesoro__run(c->t, s))) return rc;
  if (changed) *changed = sqlite3_changes(c->t->db) > 0;
  return TESORO_OK;
}

/* Store a search's criteria and polygon from the JSON of `w`. */
static int tesoro__search_store(tesoro__ctx *c, int64_t search) {
  int rc;
  if ((rc = tesoro__web_write(c, S_SEARCH_SET_CRITERIA, search, NULL)) ||
      (rc = tesoro__web_write(c, S_SEARCH_VERTICES_CLEAR, search, NULL)))
    return rc;
  return tesoro__web_write(c, S_SEARCH_VERTICES_SET, search, NULL);
}

/* A website search event: make, edit, delete or bring back the search
** named by its search_id, when the event is the newest about it. */
static int tesoro__web_search(tesoro__ctx *c, int deleted) {
  tesoro *t = c->t;
  tesoro__web_args *w = (tesoro__web_args *)c->args;
  sqlite3_stmt *s;
  const char *state = NULL;
  char stamp[TESORO_MAX_SOURCE_ID + 32] = "";
  int64_t search = 0;
  int rc;
  if ((s = TESORO__STMT(t, S_SEARCH_BY_EXTERNAL, BIND_I(c->id),
                        BIND_T(w->json))) == NULL) return t->rc;
  rc = tesoro__row(t, s);
  if (rc == TESORO_ROW) {
    search = sqlite3_column_int64(s, 0);
    state = sqlite3_column_int(s, 1) ? "active" : "deleted";
    if (sqlite3_column_text(s, 2))
      snprintf(stamp, sizeof stamp, "%s", (const char *)sqlite3_column_text(s, 2));
    sqlite3_reset(s);
  } else if (rc < 0) {
    return rc;
  }
  w->entity = TESORO_ENTITY_SEARCH;
  if (search && strcmp(stamp, w->stamp) >= 0) { /* an older event */
    w->applied = 0;
    w->entity_id = search;
    return TESORO_OK;
  }
  if (search == 0) { /* first news of it, perhaps its deletion */
    tesoro__ctx made = *c;
    if ((rc = tesoro__create_begin(&made, &tesoro__search_machine,
                                   deleted ? SEARCH_DELETED : SEARCH_ACTIVE)))
      return rc;
    if ((rc = TESORO__EXEC(t, S_SEARCH_INSERT_WEB, BIND_I(c->agency),
                           BIND_I(c->id), BIND_T(w->json),
                           BIND_T(made.m->states[made.to]),
                           BIND_I(c->event == WC_EV_SAVED_SEARCH),
                           BIND_I(c->now)))) return rc;
    search = sqlite3_last_insert_rowid(t->db);
    if ((rc = tesoro__created(&made, search))) return rc;
    if (!deleted && (rc = tesoro__search_store(c, search))) return rc;
  } else if (deleted ? strcmp(state, "active") == 0 : 1) {
    if ((rc = tesoro__fire_nested(c, &tesoro__search_machine, search,
                                  deleted ? SEARCH_EV_DELETE : SEARCH_EV_SAVE,
                                  c->actor, w)))
      return rc;
  }
  w->entity_id = search;
  return tesoro__web_write(c, S_SEARCH_SET_STAMP, search, NULL);
}

/* The website told us something: do the type's work. */
static int fx_web_event(tesoro__ctx *c) {
  tesoro *t = c->t;
  tesoro__web_args *w = (tesoro__web_args *)c->args;
  int changed = 1, rc = TESORO_OK;
  char kind[40];
  w->applied = 1;
  w->entity = TESORO_ENTITY_WEB_CUSTOMER;
  w->entity_id = c->id;
  switch (c->event) {
  case WC_EV_CUSTOMER:
    rc = tesoro__web_write(c, S_WEB_CUSTOMER_DETAILS_SET, c->id, &changed);
    break;
  case WC_EV_VISIT:
    rc = tesoro__web_write(c, S_WEB_CUSTOMER_VISIT, c->id, &changed);
    break;
  case WC_EV_IMPLIED_SEARCH:
  case WC_EV_SAVED_SEARCH:
  case WC_EV_SEARCH_DELETED:
    rc = tesoro__web_search(c, c->event == WC_EV_SEARCH_DELETED);
    changed = w->applied;
    break;
  case WC_EV_PROPERTY_VIEW:
    if (t->batch.on) { /* counted at the batch's end (tesoro__batch_fold) */
      t->batch.view.customer = c->id;
      t->batch.view.listing = w->listing;
      t->batch.view.last_at = w->at;
    } else {
      rc = TESORO__EXEC(t, S_INTEREST_VIEWS, BIND_I(c->id), BIND_I(w->listing),
                        BIND_I(1), BIND_I(w->at));
    }
    break;
  case WC_EV_PROPERTY_SAVE:
    if ((rc = tesoro__web_write(c, S_INTEREST_ENSURE, c->id, NULL)) == TESORO_OK)
      rc = tesoro__web_write(c, S_INTEREST_SAVE, c->id, &changed);
    break;
  case WC_EV_PROPERTY_RANK:
    if ((rc = tesoro__web_write(c, S_INTEREST_ENSURE, c->id, NULL)) == TESORO_OK)
      rc = tesoro__web_write(c, S_INTEREST_RANK, c->id, &changed);
    break;
  case WC_EV_ENQUIRY:
    rc = tesoro__web_write(c, S_ENQUIRY_INSERT, c->id, NULL);
    break;
  case WC_EV_GROUP:
    rc = tesoro__web_write(c, S_WEB_CUSTOMER_GROUP, c->id, &changed);
    break;
  case WC_EV_CONSENT:
    if ((rc = tesoro__web_write(c, S_WEB_CUSTOMER_CONSENT, c->id, &changed)) ||
        !changed || !c->contact)
      break;
    rc = tesoro__customer_consent(c, c->contact);
    break;
  case WC_EV_VENDOR_CLAIM: {
    tesoro__ctx claim = *c;
    sqlite3_stmt *s;
    int64_t agent = 0;
    if ((rc = tesoro__create_begin(&claim, &tesoro__vendor_claim_machine, -1)))
      break;
    if ((s = tesoro__stmt(t, S_VENDOR_CLAIM_INSERT)) == NULL) {
      rc = t->rc;
      break;
    }
    sqlite3_bind_int64(s, 1, c->id);
    sqlite3_bind_text(s, 2, w->json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, w->at);
    sqlite3_bind_int64(s, 5, w->listing);
    sqlite3_bind_text(s, 6, claim.m->states[claim.to], -1, SQLITE_STATIC);
    if ((rc = tesoro__run(t, s))) break;
    w->entity_id = sqlite3_last_insert_rowid(t->db);
    w->entity = TESORO_ENTITY_VENDOR_CLAIM;
    if ((rc = tesoro__created(&claim, w->entity_id)) ||
        (c->contact && (rc = tesoro__contact_agent(t, c->contact, &agent))))
      break;
    rc = tesoro__task_open(&claim, "confirm_vendor", "confirm vendor claim",
                           claim.entity, claim.id, agent);
    break;
  }
  default: break;
  }
  if (rc) return rc;
  w->applied = changed;
  if (tesoro__web_types[c->event - WC_EV_CUSTOMER].interest) {
    if (t->batch.on) { /* written at the batch's end (tesoro__batch_active) */
      t->batch.active.id = c->id;
      t->batch.active.active_at = w->at;
    } else if ((rc = tesoro__web_write(c, S_WEB_CUSTOMER_ACTIVE, c->id, NULL))) {
      return rc;
    }
  }
  if (!changed) return TESORO_OK;
  strcpy(stpcpy(kind, "web_"), c->event_name); /* a name of <= 32 bytes */
  return tesoro__activity(c, kind, c->event_name);
}

/* --- CRM → website --- */

/* Queue capability `capability` for the website: payload the contact,
** its website id when known ("customer"), `extra_json`, and a listing's
** reference ("listing", e.g. TES-00001) where extra_json names one: the
** website's own names, as its events use them. */
static int tesoro__exchange(tesoro__ctx *c, int capability,
                            const char *template_name, int64_t contact,
                            const char *extra_json) {
  tesoro *t = c->t;
  tesoro__actor website;
  sqlite3_stmt *s;
  char *payload = NULL;
  int rc;
  if ((rc = tesoro__agency_actor(t, c->agency, "website", &website))) return rc;
  if ((s = TESORO__STMT(t, S_EXCHANGE_PAYLOAD, BIND_I(capability),
                        BIND_I(contact), BIND_T(extra_json))) == NULL)
    return t->rc;
  if ((rc = tesoro__text_out(t, s, &payload))) return rc;
  rc = tesoro__outbox(c, "exchange", website.id, CH_WEBSITE, template_name,
                      template_name, payload);
  TESORO_FREE(payload);
  return rc;
}

/* tesoro__exchange about the context's contact, with the extra that the
** bound statement `s` gives (NULL: t->rc says why it is not there). */
static int tesoro__exchange_of(tesoro__ctx *c, int capability,
                               const char *template_name, sqlite3_stmt *s) {
  char *extra = NULL;
  int rc;
  if (s == NULL) return c->t->rc;
  if ((rc = tesoro__text_out(c->t, s, &extra)) == TESORO_OK)
    rc = tesoro__exchange(c, capability, template_name, c->contact, extra);
  TESORO_FREE(extra);
  return rc;
}

/* Capability 2: a contact the CRM made, for the website to welcome. */
static int tesoro__exchange_contact(tesoro__ctx *c) {
  return tesoro__exchange_of(
      c, 2, "new_customer",
      TESORO__STMT(c->t, S_CONTACT_EXCHANGE, BIND_I(c->contact)));
}

/* Capabilities 9, 12 and 14, fired on the contact's customer by staff. */
static int fx_crm_exchange(tesoro__ctx *c) {
  tesoro *t = c->t;
  const tesoro__web_args *w = c->args;
  sqlite3_stmt *s;
  char extra[160];
  int rc;
  switch (c->event) {
  case WC_EV_REGISTER_INTEREST:
    if ((rc = tesoro__web_write(c, S_INTEREST_ENSURE, c->id, NULL)) ||
        (rc = tesoro__web_write(c, S_INTEREST_IN_BRANCH, c->id, NULL)))
      return rc;
    snprintf(extra, sizeof extra, "{\"listing_id\":%lld}", (long long)w->listing);
    if ((rc = tesoro__exchange(c, 9, "property_interest", c->contact, extra)))
      return rc;
    return tesoro__activity(c, "interest_registered", "Interest in a property");
  case WC_EV_SET_GROUP:
    if ((rc = TESORO__EXEC(t, S_WEB_CUSTOMER_GROUP_CRM, BIND_I(c->id),
                           BIND_T(tesoro__opt(w->text)), BIND_T(w->stamp))))
      return rc;
    if ((rc = tesoro__exchange_of(c, 12, "group_changed",
                                  TESORO__STMT(t, S_GROUP_EXTRA,
                                               BIND_T(tesoro__opt(w->text))))))
      return rc;
    return tesoro__activity(c, "group_changed", "Househunting group changed");
  case WC_EV_CONFIRM_VENDOR: {
    int64_t claim = 0;
    if ((rc = TESORO__EXEC(t, S_VENDOR_LINK_SET, BIND_I(c->contact),
                           BIND_I(w->listing), BIND_T(w->text),
                           BIND_I(c->actor->id), BIND_I(c->now)))) return rc;
    if ((s = TESORO__STMT(t, S_VENDOR_CLAIM_OPEN, BIND_I(c->id),
                          BIND_I(w->listing))) == NULL) return t->rc;
    rc = tesoro__int(t, s, &claim);
    if (rc == TESORO_OK)
      rc = tesoro__fire_nested(c, &tesoro__vendor_claim_machine, claim,
                               VC_EV_CONFIRM, c->actor, NULL);
    else if (rc == TESORO_DONE)
      rc = TESORO_OK;
    if (rc) return rc;
    snprintf(extra, sizeof extra, "{\"listing_id\":%lld,\"role\":\"%s\"}",
             (long long)w->listing, w->text);
    if ((rc = tesoro__exchange(c, 14, "vendor_confirmed", c->contact, extra)))
      return rc;
    return tesoro__activity(c, "vendor_confirmed", w->text);
  }
  default: return TESORO_OK;
  }
}

/* Store the criteria; a CRM search also tells the website (capability 6). */
static int fx_search_save(tesoro__ctx *c) {
  const tesoro__web_args *w = c->args;
  int rc = tesoro__search_store(c, c->id);
  if (rc || !(c->actor->bit & R_STAFF)) return rc;
  if ((rc = TESORO__EXEC(c->t, S_SEARCH_SET_ALERT, BIND_I(c->id),
                         BIND_I(w->alert)))) return rc;
  return tesoro__exchange_of(c, 6, "search_saved",
                             TESORO__STMT(c->t, S_SEARCH_EXTRA, BIND_I(c->id)));
}

static int fx_search_delete(tesoro__ctx *c) {
  char extra[48];
  if (!(c->actor->bit & R_STAFF)) return TESORO_OK;
  snprintf(extra, sizeof extra, "{\"search_id\":%lld}", (long long)c->id);
  return tesoro__exchange(c, 6, "search_deleted", c->contact, extra);
}

static int fx_vendor_claim_end(tesoro__ctx *c) {
  int rc;
  if ((rc = TESORO__EXEC(c->t, S_VENDOR_CLAIM_END, BIND_I(c->id),
                         BIND_T(c->reason)))) return rc;
  return tesoro__task_close(c, "confirm_vendor",
                            c->to == VC_CONFIRMED ? TASK_EV_COMPLETE
                                                  : TASK_EV_CANCEL);
}

/* --- ingest --- */

/* The members of an event that decide how it is applied: kept while the
** members are checked (tesoro__json_members' `take`), so the event is
** read once for both. */
typedef struct tesoro__web_head {
  char source[TESORO_MAX_SOURCE_ID + 1], external[201], ref[40], enquiry[20],
      consent[20];
  int64_t at, contact;
  /* Every member the check kept, for the event's digest
  ** (tesoro__web_digest): its field's key and the member. */
  struct {
    const char *key;
    const tesoro__member *m;
  } member[32];
  int members;
} tesoro__web_head;

/* Where each head member goes: text into a buffer of `size` bytes, or
** (size 0) an integer. */
static const struct {
  const char *key;
  size_t at, size;
} tesoro__web_head_members[] = {
#define H(key, field, size) {key, offsetof(tesoro__web_head, field), size}
    H("source_id", source, sizeof ((tesoro__web_head *)0)->source),
    H("customer", external, sizeof ((tesoro__web_head *)0)->external),
    H("listing", ref, sizeof ((tesoro__web_head *)0)->ref),
    H("enquiry_type", enquiry, sizeof ((tesoro__web_head *)0)->enquiry),
    H("consent", consent, sizeof ((tesoro__web_head *)0)->consent),
    H("at", at, 0),
    H("contact_id", contact, 0),
#undef H
};

static void tesoro__web_head_take(void *ctx, const tesoro__field *f,
                                  const tesoro__member *m) {
  tesoro__web_head *h = ctx;
  if (h->members < COUNT(h->member)) { /* a type has at most 32 fields */
    h->member[h->members].key = f->key;
    h->member[h->members++].m = m;
  }
  for (int i = 0; i < COUNT(tesoro__web_head_members); i++) {
    char *to = (char *)ctx + tesoro__web_head_members[i].at;
    if (strcmp(f->key, tesoro__web_head_members[i].key) != 0) continue;
    if (tesoro__web_head_members[i].size) { /* cut to size, as checked */
      size_t n = (size_t)m->bytes < tesoro__web_head_members[i].size
                     ? (size_t)m->bytes
                     : tesoro__web_head_members[i].size - 1;
      memcpy(to, m->value, n);
      to[n] = 0;
    } else
      *(int64_t *)(void *)to = m->integer;
    return;
  }
}

static int tesoro__web_member_order(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The bytes of an event's digest web_event keeps (schema section 7): the
** first 16 of tesoro__web_digest's 32. */
#define TESORO__WEB_DIGEST 16

/*
** The digest of what an event says, whatever its member order and
** whitespace: each member the check kept (the first of a repeated key, as
** everywhere else), in key order, as key, type and value (as
** tesoro__json_read gives them).  An object or array value counts by its
** own canonical digest, so its member order does not matter either.
*/
static int tesoro__web_digest(tesoro *t, tesoro__web_head *h,
                              unsigned char out[crypto_generichash_BYTES]) {
  crypto_generichash_state state;
  int rc;
  /* member[i].key leads its struct, so the array sorts by key */
  qsort(h->member, (size_t)h->members, sizeof h->member[0],
        tesoro__web_member_order);
  crypto_generichash_init(&state, NULL, 0, crypto_generichash_BYTES);
  for (int i = 0; i < h->members; i++) {
    const char *type = h->member[i].m->type;
    const char *value = h->member[i].m->value;
    unsigned char nested[crypto_hash_sha256_BYTES], len[8];
    size_t n = strlen(value);
    crypto_generichash_update(&state, (const unsigned char *)h->member[i].key,
                              strlen(h->member[i].key) + 1);
    crypto_generichash_update(&state, (const unsigned char *)type,
                              strlen(type) + 1);
    if (strcmp(type, "object") == 0 || strcmp(type, "array") == 0) {
      if ((rc = tesoro__json_canonical(t, value, nested))) return rc;
      crypto_generichash_update(&state, nested, sizeof nested);
      continue;
    }
    for (int b = 0; b < 8; b++) len[b] = (unsigned char)(n >> (8 * b));
    crypto_generichash_update(&state, len, sizeof len);
    crypto_generichash_update(&state, (const unsigned char *)value, n);
  }
  crypto_generichash_final(&state, out, crypto_generichash_BYTES);
  return TESORO_OK;
}

/* The slot of website id `key` in the batch's map of moved customers:
** the one holding it, or the empty one where it would go. */
static int *tesoro__batch_slot(tesoro *t, const char *key) {
  uint32_t hash = 2166136261u; /* FNV-1a */
  for (const unsigned char *p = (const unsigned char *)key; *p; p++)
    hash = (hash ^ *p) * 16777619u;
  for (uint32_t i = hash & (uint32_t)(t->batch.slots - 1);;
       i = (i + 1) & (uint32_t)(t->batch.slots - 1)) {
    int *slot = &t->batch.slot[i];
    if (*slot == 0 || strcmp(t->batch.moved[*slot - 1].key, key) == 0)
      return slot;
  }
}

/*
** A website event's answer (tesoro_exchange_ingest's result) from what
** web_event keeps of it, the same text for the event and its replays:
**   {"source_id":…,"status":"applied"|"superseded","customer_id":…,
**    "entity":"<name>","entity_id":…}
** as SQLite's json_object() writes it (no spaces; a string's ", \ and
** control characters escaped as its json_quote() does), written here: the
** SQL cost about 6 000 instructions an event (make bench).
*/
static int tesoro__web_result(tesoro *t, const char *source, int applied,
                              int64_t customer, int entity, int64_t entity_id,
                              char **out) {
  static const char special[32] = {['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n',
                                   ['\f'] = 'f', ['\r'] = 'r'};
  char text[6 * TESORO_MAX_SOURCE_ID + 160], *p = text;
  size_t n = strnlen(source, TESORO_MAX_SOURCE_ID);
  memcpy(p, "{\"source_id\":\"", 14);
  p += 14;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)source[i];
    if (c == '"' || c == '\\' || (c < 32 && special[c])) {
      *p++ = '\\';
      *p++ = c < 32 ? special[c] : (char)c;
    } else if (c < 32) {
      p += sprintf(p, "\\u00%02x", c);
    } else {
      *p++ = (char)c;
    }
  }
  p = stpcpy(p, applied ? "\",\"status\":\"applied\",\"customer_id\":"
                       : "\",\"status\":\"superseded\",\"customer_id\":");
  p += tesoro__decimal(p, customer, 0);
  p = stpcpy(stpcpy(stpcpy(p, ",\"entity\":\""), tesoro__entity_name(entity)),
             "\",\"entity_id\":");
  p += tesoro__decimal(p, entity_id, 0);
  strcpy(p, "}");
  return tesoro__copy(t, text, out);
}

/*
** Ingest one event, object `o` of read `j` (its JSON text `json`, checked
** as text and at the JSON boundary), inside the caller's transaction:
** check it, answer a replay with the earlier result, else apply it to its
** customer and record it.  *out_result is the result (tesoro_free).
*/
static int tesoro__ingest_read(tesoro *t, const tesoro__actor *a,
                               const char *json, const tesoro__json *j,
                               const tesoro__json_object *o,
                               char **out_result) {
  sqlite3_stmt *s;
  char stamp[TESORO__STAMP_MAX];
  const char *type, *key;
  const tesoro__member *named;
  unsigned char hash[crypto_generichash_BYTES];
  int64_t customer, listing = 0;
  int kind = -1, rc, slot;
  tesoro__web_head h;
  tesoro__web_args w;
  tesoro__ctx c;
  char *result = NULL;
  if (!o->is_object)
    return tesoro__fail(t, TESORO_EINVAL, "event is not a JSON object");
  named = tesoro__json_find(j, o, "type");
  type = named ? named->value : "";
  for (int i = 0; i < COUNT(tesoro__web_types); i++)
    if (strcmp(type, tesoro__web_types[i].name) == 0) kind = i;
  if (kind < 0)
    return tesoro__fail(t, TESORO_EINVAL, "event: unknown type \"%.32s\"", type);
  memset(&h, 0, sizeof h);
  if ((rc = tesoro__json_members(t, "event", j, o,
                                 tesoro__web_types[kind].fields,
                                 tesoro__web_types[kind].nfields, 0,
                                 tesoro__web_head_take, &h)) ||
      (tesoro__field_named(tesoro__web_types[kind].fields,
                           tesoro__web_types[kind].nfields, "min_price") &&
       (rc = tesoro__criteria_bounds(t, "event", json))) ||
      (rc = tesoro__web_digest(t, &h, hash)))
    return rc;
  if (kind + WC_EV_CUSTOMER == WC_EV_CONSENT && strcmp(h.consent, "granted") != 0 &&
      strcmp(h.consent, "denied") != 0)
    return tesoro__fail(t, TESORO_EINVAL,
                        "event: \"consent\" is \"granted\" or \"denied\"");
  if (kind + WC_EV_CUSTOMER == WC_EV_ENQUIRY) {
    int known = 0;
    for (int i = 0; i < COUNT(tesoro__enquiry_types); i++)
      known |= strcmp(h.enquiry, tesoro__enquiry_types[i]) == 0;
    if (!known)
      return tesoro__fail(t, TESORO_EINVAL,
                          "event: unknown enquiry type \"%s\"; it is one of "
                          "property, branch, valuation, mortgage, viewing, "
                          "staff, general", h.enquiry);
  }

  /* One clock ahead of the others must not freeze a customer's updates:
  ** a newer event wins, so an event from the far future would win for
  ** years. */
  if (h.at > tesoro__now(t) + t->event_skew_s)
    return tesoro__fail(t, TESORO_EINVAL,
                        "event: \"at\" is %lld seconds in the future; at most "
                        "%lld are allowed (TESORO_CONFIG_EVENT_SKEW_S)",
                        (long long)(h.at - tesoro__now(t)),
                        (long long)t->event_skew_s);

  /* A replay answers what it answered the first time.  The digest is of
  ** the event's content (tesoro__web_digest), not of its text. */
  if ((s = TESORO__STMT(t, S_WEB_EVENT_FIND, BIND_I(a->agency),
                        BIND_T(h.source))) == NULL) return t->rc;
  if ((rc = tesoro__row(t, s)) == TESORO_ROW) {
    if (sqlite3_column_bytes(s, 0) != TESORO__WEB_DIGEST ||
        memcmp(sqlite3_column_blob(s, 0), hash, TESORO__WEB_DIGEST) != 0) {
      sqlite3_reset(s);
      return tesoro__fail(t, TESORO_EEXISTS,
                          "source id \"%.60s\" was used for another event",
                          h.source);
    }
    rc = tesoro__web_result(t, h.source, sqlite3_column_int(s, 1),
                            sqlite3_column_int64(s, 2),
                            sqlite3_column_int(s, 3),
                            sqlite3_column_int64(s, 4), out_result);
    sqlite3_reset(s);
    return rc;
  }
  if (rc < 0) return rc;

  if (h.ref[0] && t->batch.on && strcmp(h.ref, t->batch.listing_ref) == 0) {
    listing = t->batch.listing;
  } else if (h.ref[0]) {
    if ((rc = tesoro__listing_by_ref(t, a->agency, h.ref, &listing))) return rc;
    if (t->batch.on) { /* the batch's agency's: emptied at its end */
      snprintf(t->batch.listing_ref, sizeof t->batch.listing_ref, "%s", h.ref);
      t->batch.listing = listing;
    }
  }
  if (h.contact && ((rc = tesoro__contact_reach(t, a, h.contact, NULL)) ||
                    (rc = tesoro__contact_writable(t, a, h.contact))))
    return rc;
  tesoro__stamp(stamp, h.at, h.source);
  tesoro__ctx_new(&c, t, a, TESORO_ENTITY_WEB_CUSTOMER, 0);
  key = t->batch.on ? tesoro__json_string(j, o, "customer") : NULL;
  if (key && (slot = *tesoro__batch_slot(t, key)) != 0)
    customer = t->batch.moved[slot - 1].id; /* moved by this batch */
  else if ((rc = tesoro__event_customer(&c, h.external, h.contact,
                                        &customer)))
    return rc;
  memset(&w, 0, sizeof w);
  w.json = json;
  w.stamp = stamp;
  w.at = h.at;
  w.listing = listing;
  if ((rc = tesoro__fire_nested(&c, &tesoro__web_customer_machine, customer,
                                WC_EV_CUSTOMER + kind, a, &w)))
    return rc;
  if (t->batch.pending.id == customer) t->batch.pending.key = key;
  if ((rc = tesoro__web_result(t, h.source, w.applied, customer, w.entity,
                               w.entity_id, &result)))
    return rc;
  if ((s = tesoro__stmt(t, S_WEB_EVENT_INSERT)) == NULL) rc = t->rc;
  if (rc == TESORO_OK) {
    sqlite3_bind_int64(s, 1, a->agency);
    sqlite3_bind_text(s, 2, h.source, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, hash, TESORO__WEB_DIGEST, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, tesoro__web_types[kind].name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, customer);
    sqlite3_bind_int64(s, 6, h.at);
    sqlite3_bind_int(s, 7, w.applied != 0);
    sqlite3_bind_int(s, 8, w.entity);
    sqlite3_bind_int64(s, 9, w.entity_id);
    sqlite3_bind_int64(s, 10, c.now);
    rc = tesoro__run(t, s);
  }
  if (rc) {
    TESORO_FREE(result);
    return rc;
  }
  *out_result = result;
  return TESORO_OK;
}

/* tesoro__ingest_read of one event's JSON text, checked and read here. */
static int tesoro__ingest(tesoro *t, const tesoro__actor *a, const char *json,
                          char **out_result) {
  tesoro__json j;
  int rc;
  if ((rc = tesoro__text(t, "event", json, TESORO_MAX_JSON, 1)) ||
      (rc = tesoro__json_boundary(t, "event", json)))
    return rc;
  if ((rc = tesoro__json_read(t, json, 0, &j)) == TESORO_OK)
    rc = j.ok ? tesoro__ingest_read(t, a, json, &j, &j.object[0], out_result)
              : tesoro__fail(t, TESORO_EINVAL, "event is not a JSON object");
  tesoro__json_done(&j);
  return rc;
}

TESORO_API int tesoro_exchange_ingest(tesoro *t, int64_t website,
                                      const char *event_json,
                                      char **out_result) {
  tesoro__actor a;
  char *result = NULL;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_result, "out_result")) ||
      (rc = tesoro__actor_load(t, website, &a)) ||
      (rc = tesoro__require(t, &a, R_WEBSITE, "send website events")) ||
      (rc = tesoro__write_begin(t)))
    return rc;
  if ((rc = tesoro__write_end(t, tesoro__ingest(t, &a, event_json, &result)))) {
    TESORO_FREE(result);
    return rc;
  }
  *out_result = result;
  return TESORO_OK;
}

#define TESORO__MAX_BATCH_BYTES (64 * 1024 * 1024)


/* The event that just succeeded was a sign of interest of batch.active's
** customer: keep the latest per customer (see struct tesoro__batch). */
static int tesoro__batch_keep_active(tesoro *t) {
  const struct tesoro__moved *a = &t->batch.active;
  struct tesoro__moved *moved;
  if (a->id == 0) return TESORO_OK;
  /* every event moves its customer (WC_WEB_ROW, the machine's fold) */
  if ((moved = tesoro__batch_moved(t, a->id)) == NULL)
    return tesoro__fail(t, TESORO_EDB, "web customer %lld: its event did not "
                        "move it", (long long)a->id);
  if (a->active_at > moved->active_at) moved->active_at = a->active_at;
  return TESORO_OK;
}

/* The event that just succeeded was a property view: count it with the
** batch's others of its (customer, listing). */
static void tesoro__batch_keep_view(tesoro *t) {
  const struct tesoro__views *v = &t->batch.view;
  uint64_t hash = ((uint64_t)v->customer * 0x9E3779B97F4A7C15u) ^
                  (uint64_t)v->listing;
  uint32_t mask = (uint32_t)(t->batch.slots - 1);
  for (uint32_t i = (uint32_t)(hash ^ (hash >> 32)) & mask;;
       i = (i + 1) & mask) {
    int *slot = &t->batch.view_slot[i];
    struct tesoro__views *at;
    if (*slot == 0) { /* its first */
      t->batch.views[t->batch.nviews] = *v;
      t->batch.views[t->batch.nviews].count = 1;
      *slot = ++t->batch.nviews;
      return;
    }
    at = &t->batch.views[*slot - 1];
    if (at->customer == v->customer && at->listing == v->listing) {
      at->count++;
      if (v->last_at > at->last_at) at->last_at = v->last_at;
      return;
    }
  }
}

/* Each moved entity's version (and a customer's last_activity_at), once
** per batch, by its machine's fold statement; then the batch's views. */
static int tesoro__batch_fold(tesoro *t) {
  for (int i = 0; i < t->batch.n; i++) {
    const struct tesoro__moved *m = &t->batch.moved[i];
    int rc = TESORO__EXEC(t, m->fold, BIND_I(m->id), BIND_I(m->seq),
                          BIND_I(m->active_at));
    if (rc) return rc;
    if (sqlite3_changes(t->db) != 1)
      return tesoro__fail(t, TESORO_ECONFLICT, "entity %lld changed meanwhile",
                          (long long)m->id);
  }
  for (int i = 0; i < t->batch.nviews; i++) {
    const struct tesoro__views *v = &t->batch.views[i];
    int rc = TESORO__EXEC(t, S_INTEREST_VIEWS, BIND_I(v->customer),
                          BIND_I(v->listing), BIND_I(v->count),
                          BIND_I(v->last_at));
    if (rc) return rc;
  }
  return TESORO_OK;
}

static void tesoro__batch_end(tesoro *t) {
  sqlite3_free(t->batch.moved);
  sqlite3_free(t->batch.slot);
  sqlite3_free(t->batch.views);
  sqlite3_free(t->batch.view_slot);
  memset(&t->batch, 0, sizeof t->batch);
}

/* What one pass over a batch gathers for the caller. */
typedef struct tesoro__batch_out {
  sqlite3_str *all;                   /* the results, a JSON array */
  int failed;                         /* events refused */
  char first[TESORO__MSG_MAX + 24];   /* "event N: " + the first refusal */
} tesoro__batch_out;

/*
** Apply the events of `events_json` (checked to be an array) in the open
** transaction, each answered in out->all.  A refused event must be undone
** alone.  Careful, each event runs in a savepoint of its own.  Otherwise
** none is opened: an event's checks come before its writes, so a refused
** event has usually written nothing (SQLite's change count has not moved)
** and is skipped with nothing to undo; one refused after it wrote sets
** *again, and the caller undoes the batch and runs it again carefully.
** (make bench: a savepoint per event cost 17 000 instructions an event,
** 13 % of the ingest, as every page the event wrote was copied to the
** savepoint's journal.)
*/
static int tesoro__batch_pass(tesoro *t, const tesoro__actor *a,
                              const tesoro__json *events, int careful,
                              tesoro__batch_out *out, int *again) {
  sqlite3_stmt *s;
  int rc = TESORO_OK;
  out->all = sqlite3_str_new(t->db);
  sqlite3_str_appendchar(out->all, 1, '[');
  for (int index = 0; rc == TESORO_OK && index < events->objects; index++) {
    const tesoro__json_object *o = &events->object[index];
    char *result = NULL;
    sqlite3_int64 changes = sqlite3_total_changes64(t->db);
    size_t n;
    int erc;
    if (careful && (erc = tesoro__exec_id(t, S_EVENT_SAVEPOINT))) {
      rc = erc;
      break;
    }
    t->batch.pending.id = t->batch.active.id = t->batch.view.customer = 0;
    if (!o->is_object) /* read as if it came alone */
      erc = tesoro__ingest(t, a, o->text, &result);
    else if ((erc = tesoro__text_length(t, "event", o->text, TESORO_MAX_JSON,
                                        1, &n)) == TESORO_OK &&
             (t->batch.checked ||
              (erc = tesoro__json_boundary(t, "event", o->text)) == TESORO_OK))
      erc = tesoro__ingest_read(t, a, o->text, events, o, &result);
    if (erc != TESORO_OK && !tesoro__is_event_error(erc)) {
      rc = erc; /* the database failed, not the event: abandon the batch */
      break;
    }
    if (erc != TESORO_OK) {
      char message[TESORO__MSG_MAX];
      if (!careful && sqlite3_total_changes64(t->db) != changes) {
        *again = 1; /* refused after it wrote: only a savepoint undoes it */
        break;
      }
      snprintf(message, sizeof message, "%s", t->msg);
      if (out->first[0] == 0) /* "event 3: ...", not "event 3: event: ..." */
        snprintf(out->first, sizeof out->first, "event %d%s%s", index,
                 strncmp(message, "event", 5) == 0 ? "" : ": ",
                 strncmp(message, "event", 5) == 0 ? message + 5 : message);
      out->failed++;
      if ((careful && ((rc = tesoro__exec_id(t, S_EVENT_ROLLBACK)) ||
                       (rc = tesoro__exec_id(t, S_EVENT_RELEASE)))) ||
          (s = tesoro__stmt(t, S_BATCH_ERROR)) == NULL) {
        rc = rc ? rc : t->rc;
        break;
      }
      sqlite3_bind_int(s, 1, index);
      sqlite3_bind_text(s, 2, tesoro_errname(erc), -1, SQLITE_STATIC);
      sqlite3_bind_text(s, 3, message, -1, SQLITE_STATIC); /* lives on */
      rc = tesoro__text_out(t, s, &result);
    } else if (!careful ||
               (rc = tesoro__exec_id(t, S_EVENT_RELEASE)) == TESORO_OK) {
      if (t->batch.pending.id) {
        t->batch.moved[t->batch.n++] = t->batch.pending;
        if (t->batch.pending.key)
          *tesoro__batch_slot(t, t->batch.pending.key) = t->batch.n;
      }
      if (t->batch.view.customer) tesoro__batch_keep_view(t);
      rc = tesoro__batch_keep_active(t);
    }
    if (rc == TESORO_OK) {
      if (index) sqlite3_str_appendchar(out->all, 1, ',');
      sqlite3_str_appendall(out->all, result);
    }
    TESORO_FREE(result);
  }
  if (rc == TESORO_OK && !*again) rc = tesoro__batch_fold(t);
  sqlite3_str_appendchar(out->all, 1, ']');
  if (rc == TESORO_OK && sqlite3_str_errcode(out->all) != SQLITE_OK)
    rc = tesoro__fail(t, TESORO_ENOMEM, "out of memory");
  return rc;
}

TESORO_API int tesoro_exchange_ingest_batch(tesoro *t, int64_t website,
                                            const char *events_json,
                                            int *out_failed,
                                            char **out_results) {
  tesoro__actor a;
  tesoro__batch_out out;
  tesoro__json events;
  int rc, count, checked;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_failed, "out_failed")) ||
      (rc = tesoro__out(t, out_results, "out_results")) ||
      (rc = tesoro__text(t, "events", events_json, TESORO__MAX_BATCH_BYTES, 1)) ||
      (rc = tesoro__actor_load(t, website, &a)) ||
      (rc = tesoro__require(t, &a, R_WEBSITE, "send website events")))
    return rc;
  if ((rc = tesoro__json_read(t, events_json, 1, &events)) == TESORO_OK &&
      !events.ok)
    rc = tesoro__fail(t, TESORO_EINVAL, "events is not a JSON array");
  if (rc == TESORO_OK && events.objects > TESORO_MAX_BATCH)
    rc = tesoro__fail(t, TESORO_EINVAL,
                      "a batch holds at most %d events, not %d",
                      TESORO_MAX_BATCH, events.objects);
  if (rc) {
    tesoro__json_done(&events);
    return rc;
  }
  count = events.objects;
  /* One scan of the batch spares each event its own (a refusal here only
  ** means the events are checked one by one). */
  checked = tesoro__json_boundary(t, "events", events_json) == TESORO_OK;
  tesoro__ok(t);
  for (int careful = 0;; careful = 1) {
    int again = 0;
    memset(&out, 0, sizeof out);
    for (t->batch.slots = 16; t->batch.slots < 2 * (count + 1);)
      t->batch.slots *= 2;
    t->batch.moved =
        sqlite3_malloc64(sizeof *t->batch.moved * (size_t)(count + 1));
    t->batch.slot = sqlite3_malloc64(sizeof *t->batch.slot *
                                     (size_t)t->batch.slots);
    t->batch.views =
        sqlite3_malloc64(sizeof *t->batch.views * (size_t)(count + 1));
    t->batch.view_slot = sqlite3_malloc64(sizeof *t->batch.view_slot *
                                          (size_t)t->batch.slots);
    if (t->batch.moved == NULL || t->batch.slot == NULL ||
        t->batch.views == NULL || t->batch.view_slot == NULL) {
      tesoro__batch_end(t);
      rc = tesoro__fail(t, TESORO_ENOMEM, "out of memory");
      break;
    }
    memset(t->batch.slot, 0, sizeof *t->batch.slot * (size_t)t->batch.slots);
    memset(t->batch.view_slot, 0,
           sizeof *t->batch.view_slot * (size_t)t->batch.slots);
    t->batch.n = 0;
    t->batch.on = 1;
    t->batch.checked = checked;
    if ((rc = tesoro__write_begin(t))) {
      tesoro__batch_end(t);
      break;
    }
    rc = tesoro__batch_pass(t, &a, &events, careful, &out, &again);
    tesoro__batch_end(t);
    if (!again || careful) {
      if ((rc = tesoro__write_end(t, rc)) == TESORO_OK) {
        *out_results = sqlite3_str_finish(out.all);
        out.all = NULL;
        *out_failed = out.failed;
      }
      break;
    }
    /* undo the pass (the code only makes write_end roll back) */
    sqlite3_free(sqlite3_str_finish(out.all));
    out.all = NULL;
    if ((rc = tesoro__write_end(t, TESORO_EDB)) != TESORO_EDB) break;
  }
  tesoro__json_done(&events);
  sqlite3_free(sqlite3_str_finish(out.all));
  if (rc == TESORO_OK && out.failed)
    snprintf(t->msg, sizeof t->msg, "%.*s", (int)sizeof t->msg - 1, out.first);
  return rc;
}

/* --- the holding tank and what the website told --- */

TESORO_API int tesoro_prospects(tesoro *t, int64_t actor, tesoro_cursor **out) {
  tesoro__actor a;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out, "out")) ||
      (rc = tesoro__actor_as(t, actor, R_STAFF, "see the holding tank", &a)) ||
      (rc = tesoro__cursor_new(
           t,
           "SELECT id, external_id, name, email, phone, visits, last_visit_at, "
           "created_at, version FROM web_customer WHERE agency_id = ?1 AND "
           "state = 'prospect' ORDER BY created_at DESC, id DESC",
           out)))
    return rc;
  TESORO__CURSOR_BIND(*out, BIND_I(a.agency));
  return TESORO_OK;
}

TESORO_API int tesoro_prospect_approve(tesoro *t, int64_t actor,
                                       int64_t customer, int64_t contact,
                                       int64_t expected_version,
                                       int64_t *out_contact) {
  tesoro__actor a;
  int64_t linked = 0;
  int rc;
  TESORO__ENTER(t);
  if (contact < 0) return tesoro__fail(t, TESORO_EINVAL, "contact must be >= 0");
  if ((rc = tesoro__actor_load(t, actor, &a)) ||
      (contact && (rc = tesoro__reach_entity(t, &a, TESORO_ENTITY_CONTACT, contact))) ||
      (rc = tesoro__contact_writable(t, &a, contact)))
    return rc;
  if ((rc = tesoro__transition(t, actor, &tesoro__web_customer_machine, customer,
                               WC_EV_APPROVE, expected_version, &contact, NULL,
                               &linked, NULL)))
    return rc;
  if (out_contact) *out_contact = linked;
  return TESORO_OK;
}

TESORO__REASON_CALL(tesoro_prospect_discard, tesoro__web_customer_machine,
                    WC_EV_DISCARD, 0)

TESORO__ENTITY_LIST(tesoro_customer_searches, WEB_CUSTOMER,
    "SELECT id, external_id, hard, alert, state, area_name AS name, "
    "min_price, max_price, property_types, min_bedrooms, max_bedrooms, "
    "json_extract(criteria, '$.area') AS area, source, updated_at "
    "FROM search WHERE customer_id = ?2 ORDER BY id")

TESORO__ENTITY_LIST(tesoro_customer_properties, WEB_CUSTOMER,
    "SELECT i.listing_id, l.ref, l.title, i.views, i.last_viewed_at, "
    "i.saved, i.rank, iif(i.note_shared, i.note, NULL) AS note, "
    "i.note_shared FROM web_interest i JOIN listing l ON l.id = "
    "i.listing_id WHERE i.customer_id = ?2 ORDER BY i.listing_id")

TESORO__ENTITY_LIST(tesoro_customer_enquiries, WEB_CUSTOMER,
    "SELECT id, type, listing_id, message, at FROM enquiry "
    "WHERE customer_id = ?2 ORDER BY at, id")

TESORO_API int tesoro_contact_customer(tesoro *t, int64_t actor,
                                       int64_t contact, int64_t *out_customer) {
  tesoro__actor a;
  int rc;
  TESORO__ENTER(t);
  rc = tesoro__out(t, out_customer, "out_customer");
  if (rc == TESORO_OK)
    rc = tesoro__actor_on_contact(t, actor, R_STAFF, "look up web customers",
                                  contact, &a);
  if (rc == TESORO_OK)
    rc = tesoro__lookup(t, S_WEB_CUSTOMER_OF_CONTACT, contact, NULL,
                        out_customer);
  if (rc == TESORO_DONE)
    rc = tesoro__fail(t, TESORO_ENOTFOUND, "contact %lld is no web customer",
                      (long long)contact);
  return rc;
}

TESORO_API int tesoro_customer_find(tesoro *t, int64_t actor,
                                    const char *external_id,
                                    int64_t *out_customer) {
  tesoro__actor a;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_customer, "out_customer")) ||
      (rc = tesoro__text(t, "external id", external_id, 200, 1)) ||
      (rc = tesoro__actor_as(t, actor, R_STAFF, "look up web customers", &a)))
    return rc;
  rc = tesoro__lookup(t, S_WEB_CUSTOMER_BY_EXTERNAL, a.agency, external_id,
                      out_customer);
  if (rc == TESORO_DONE)
    return tesoro__fail(t, TESORO_ENOTFOUND, "no web customer \"%.60s\"",
                        external_id);
  return rc;
}

/* --- CRM → website calls --- */

/* A staff call about a contact (and a listing): its actor, the contact's
** customer (made if needed) inside the opened transaction. */
static int tesoro__crm_begin(tesoro *t, int64_t actor, int64_t contact,
                             int64_t listing, tesoro__actor *a, tesoro__ctx *c,
                             int64_t *customer) {
  sqlite3_stmt *s;
  int64_t agency = 0;
  int rc;
  if ((rc = tesoro__actor_load(t, actor, a)) ||
      (rc = tesoro__require(t, a, R_STAFF, "tell the website")) ||
      (rc = tesoro__reach_entity(t, a, TESORO_ENTITY_CONTACT, contact)) ||
      (rc = tesoro__contact_writable(t, a, contact)))
    return rc;
  if (listing) {
    if ((rc = tesoro__find(t, S_LISTING_OFFER_FACTS, "listing", listing, &s)))
      return rc;
    agency = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (agency != a->agency)
      return tesoro__fail(t, TESORO_EDENIED, "listing %lld belongs to another agency",
                          (long long)listing);
  }
  tesoro__ctx_new(c, t, a, TESORO_ENTITY_WEB_CUSTOMER, contact);
  if ((rc = tesoro__write_begin(t))) return rc;
  if ((rc = tesoro__contact_customer_get(c, contact, customer)))
    return tesoro__write_end(t, rc);
  return TESORO_OK;
}

/* Fire a CRM event on the contact's customer and end the transaction. */
static int tesoro__crm_event(tesoro *t, int64_t actor, int64_t contact,
                             int64_t listing, int event, tesoro__web_args *w) {
  tesoro__actor a;
  tesoro__ctx c;
  int64_t customer;
  char stamp[TESORO__STAMP_MAX];
  int rc;
  if ((rc = tesoro__crm_begin(t, actor, contact, listing, &a, &c, &customer)))
    return rc;
  tesoro__stamp(stamp, c.now, "~crm");
  w->stamp = stamp;
  w->at = c.now;
  w->listing = listing;
  return tesoro__write_end(t, tesoro__fire_nested(&c, &tesoro__web_customer_machine,
                                                  customer, event, &a, w));
}

TESORO_API int tesoro_search_save(tesoro *t, int64_t actor, int64_t contact,
                                  int64_t search, const char *criteria_json,
                                  int alert, int64_t *out_search) {
  tesoro__actor a;
  tesoro__ctx c;
  tesoro__web_args w;
  sqlite3_stmt *s;
  int64_t customer, owner = 0;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_search, "out_search"))) return rc;
  if (alert != 0 && alert != 1)
    return tesoro__fail(t, TESORO_EINVAL, "alert is 0 or 1, not %d", alert);
  if (search < 0) return tesoro__fail(t, TESORO_EINVAL, "search must be >= 0");
  if ((rc = tesoro__json_fields(t, "criteria", criteria_json,
                                tesoro__criteria_fields,
                                COUNT(tesoro__criteria_fields), 0)) ||
      (rc = tesoro__criteria_bounds(t, "criteria", criteria_json)) ||
      (rc = tesoro__crm_begin(t, actor, contact, 0, &a, &c, &customer)))
    return rc;
  memset(&w, 0, sizeof w);
  w.json = criteria_json;
  w.alert = alert;
  w.at = c.now;
  if (search) {
    if ((s = tesoro__stmt(t, S_SEARCH_CUSTOMER)) == NULL) rc = t->rc;
    else sqlite3_bind_int64(s, 1, search);
    if (rc == TESORO_OK && (rc = tesoro__int(t, s, &owner)) == TESORO_DONE)
      rc = tesoro__fail(t, TESORO_ENOTFOUND, "search %lld does not exist",
                        (long long)search);
    if (rc == TESORO_OK && owner != customer)
      rc = tesoro__fail(t, TESORO_EDENIED, "search %lld is not contact %lld's",
                        (long long)search, (long long)contact);
  } else if ((s = tesoro__stmt(t, S_SEARCH_INSERT_CRM)) == NULL) {
    rc = t->rc;
  } else {
    tesoro__ctx made = c;
    if ((rc = tesoro__create_begin(&made, &tesoro__search_machine,
                                   SEARCH_ACTIVE)) == TESORO_OK) {
      sqlite3_bind_int64(s, 1, a.agency);
      sqlite3_bind_int64(s, 2, customer);
      sqlite3_bind_int64(s, 3, c.now);
      sqlite3_bind_text(s, 4, made.m->states[made.to], -1, SQLITE_STATIC);
      rc = tesoro__run(t, s);
    }
    if (rc == TESORO_OK) {
      search = sqlite3_last_insert_rowid(t->db);
      rc = tesoro__created(&made, search);
    }
  }
  if (rc == TESORO_OK)
    rc = tesoro__fire_nested(&c, &tesoro__search_machine, search, SEARCH_EV_SAVE,
                             &a, &w);
  if ((rc = tesoro__write_end(t, rc))) return rc;
  *out_search = search;
  return TESORO_OK;
}

TESORO_API int tesoro_search_delete(tesoro *t, int64_t actor, int64_t search,
                                    int64_t expected_version) {
  tesoro__actor a;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__actor_as(t, actor, R_STAFF, "delete searches", &a)))
    return rc;
  return tesoro__transition(t, actor, &tesoro__search_machine, search,
                            SEARCH_EV_DELETE, expected_version, NULL, NULL,
                            NULL, NULL);
}

TESORO_API int tesoro_interest_register(tesoro *t, int64_t actor,
                                        int64_t contact, int64_t listing) {
  tesoro__web_args w;
  TESORO__ENTER(t);
  memset(&w, 0, sizeof w);
  if (listing <= 0) return tesoro__fail(t, TESORO_EINVAL, "listing must be > 0");
  return tesoro__crm_event(t, actor, contact, listing, WC_EV_REGISTER_INTEREST, &w);
}

TESORO_API int tesoro_contact_set_group(tesoro *t, int64_t actor, int64_t contact,
                                const char *group) {
  tesoro__web_args w;
  int rc;
  TESORO__ENTER(t);
  if (group == NULL) return tesoro__fail(t, TESORO_EINVAL, "group is NULL");
  if ((rc = tesoro__text(t, "group", group, 200, 0))) return rc;
  memset(&w, 0, sizeof w);
  w.text = group;
  return tesoro__crm_event(t, actor, contact, 0, WC_EV_SET_GROUP, &w);
}

TESORO_API int tesoro_vendor_confirm(tesoro *t, int64_t actor, int64_t contact,
                                     int64_t listing, const char *role) {
  tesoro__web_args w;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__text(t, "role", role, 16, 1))) return rc;
  if (strcmp(role, "vendor") != 0 && strcmp(role, "landlord") != 0)
    return tesoro__fail(t, TESORO_EINVAL, "role is \"vendor\" or \"landlord\"");
  if (listing <= 0) return tesoro__fail(t, TESORO_EINVAL, "listing must be > 0");
  memset(&w, 0, sizeof w);
  w.text = role;
  return tesoro__crm_event(t, actor, contact, listing, WC_EV_CONFIRM_VENDOR, &w);
}

TESORO__REASON_CALL(tesoro_vendor_claim_reject, tesoro__vendor_claim_machine,
                    VC_EV_REJECT, 0)

/* --- call list and matches --- */

TESORO_API int tesoro_call_list(tesoro *t, int64_t actor, int limit,
                                tesoro_cursor **out) {
  tesoro__actor a;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__list_args(t, out, "limit", limit, 1, 1000)) ||
      (rc = tesoro__actor_as(t, actor, R_STAFF, "see the call list", &a)) ||
      (rc = tesoro__cursor_new(
           t,
           "WITH c AS (SELECT w.id AS customer_id, w.contact_id, "
           "coalesce(k.name, w.name) AS name, coalesce(k.email, w.email) AS "
           "email, coalesce(k.phone, w.phone) AS phone, w.visits, "
           "(SELECT coalesce(sum(views), 0) FROM web_interest i WHERE "
           "i.customer_id = w.id) AS views, (SELECT count(*) FROM "
           "web_interest i WHERE i.customer_id = w.id AND i.saved) AS saves, "
           "(SELECT count(*) FROM search s WHERE s.customer_id = w.id AND "
           "s.state = 'active' AND s.hard) AS hard_searches, (SELECT "
           "count(*) FROM search s WHERE s.customer_id = w.id AND s.state = "
           "'active' AND NOT s.hard) AS soft_searches, (SELECT count(*) FROM "
           "enquiry e WHERE e.customer_id = w.id) AS enquiries, "
           "w.last_activity_at FROM web_customer w LEFT JOIN contact k ON "
           "k.id = w.contact_id WHERE w.agency_id = ?1 AND w.state IN "
           "('prospect', 'approved')) "
           "SELECT customer_id, contact_id, name, email, phone, (visits + 2 * "
           "views + 4 * saves + 3 * hard_searches + soft_searches + 8 * "
           "enquiries) * 7.0 / (7 + max(0, (?2 - coalesce(last_activity_at, "
           "?2)) / 86400.0)) AS score, visits, views, saves, hard_searches, "
           "soft_searches, enquiries, last_activity_at FROM c "
           "ORDER BY score DESC, last_activity_at DESC, customer_id LIMIT ?3",
           out)))
    return rc;
  TESORO__CURSOR_BIND(*out, BIND_I(a.agency), BIND_I(tesoro__now(t)),
                      BIND_I(limit));
  return TESORO_OK;
}

/* Great-circle metres from search s's centre to listing l (haversine). */
#define TESORO__DISTANCE_M                                                    \
  "(2 * 6371008.8 * asin(min(1, sqrt(pow(sin(radians(l.latitude - "          \
  "s.centre_lat) / 2), 2) + cos(radians(s.centre_lat)) * "                    \
  "cos(radians(l.latitude)) * pow(sin(radians(l.longitude - s.centre_lon) "   \
  "/ 2), 2)))))"
/* Edges of search s's polygon that a ray east from listing l crosses. */
#define TESORO__CROSSINGS                                                     \
  "FROM search_vertex a JOIN search_vertex b ON b.search_id = a.search_id "   \
  "AND b.ring = a.ring AND b.idx = a.idx + 1 WHERE a.search_id = s.id AND "   \
  "(a.lat > l.latitude) <> (b.lat > l.latitude) AND l.longitude < (b.lon - "  \
  "a.lon) * (l.latitude - a.lat) / (b.lat - a.lat) + a.lon"

TESORO_API int tesoro_matches(tesoro *t, int64_t actor, int64_t customer,
                              tesoro_cursor **out) {
  return tesoro__entity_cursor(
      t, actor, TESORO_ENTITY_WEB_CUSTOMER, customer,
      "SELECT s.id AS search_id, s.hard, l.id AS listing_id, l.ref, l.title, "
      "l.price, l.property_type, l.bedrooms, iif(s.centre_lon IS NOT NULL "
      "AND l.longitude IS NOT NULL, " TESORO__DISTANCE_M ", NULL) AS "
      "distance_m FROM search s JOIN listing l ON l.agency_id = s.agency_id "
      "AND l.state = 'published' WHERE s.customer_id = ?2 AND s.state = "
      "'active' AND (s.min_price IS NULL OR l.price >= s.min_price) AND "
      "(s.max_price IS NULL OR l.price <= s.max_price) AND "
      "(coalesce(json_array_length(s.property_types), 0) = 0 OR "
      "l.property_type IN (SELECT value FROM json_each(s.property_types))) "
      "AND (s.min_bedrooms IS NULL OR l.bedrooms >= s.min_bedrooms) AND "
      "(s.max_bedrooms IS NULL OR l.bedrooms <= s.max_bedrooms) AND "
      "((s.min_lon IS NULL AND s.radius_m IS NULL) OR (l.longitude IS NOT "
      "NULL AND ((s.min_lon IS NOT NULL AND l.longitude BETWEEN s.min_lon "
      "AND s.max_lon AND l.latitude BETWEEN s.min_lat AND s.max_lat AND "
      "(SELECT count(*) " TESORO__CROSSINGS " AND a.ring = 0) % 2 = 1 AND "
      "NOT EXISTS (SELECT a.ring " TESORO__CROSSINGS " AND a.ring > 0 GROUP "
      "BY a.ring HAVING count(*) % 2 = 1)) OR (s.radius_m IS NOT NULL AND "
      TESORO__DISTANCE_M " <= s.radius_m)))) "
      "ORDER BY s.hard DESC, s.id, l.id DESC",
      out);
}

/* =========================================================================
** 18. Privacy
**
** Consent, the one-contact export and the erasure.  The privacy map below
** is the one place that says, for every column of every table, whether it
** holds personal data and what erasure does to it; the export and the
** erasure are both generated from it (from this static text only, never
** from caller data), and test_privacy fails when a column of schema.sql is
** missing from it.  A new table or column is classified here or the build
** of the tests goes red.
*/

/* The rows about contact ?1, as SQL fragments. */
#define C_CLIENT "(SELECT id FROM actor WHERE contact_id = ?1)"
#define C_ROOMS "(SELECT id FROM room WHERE contact_id = ?1)"
#define C_MANDATES "(SELECT id FROM mandate WHERE contact_id = ?1)"
#define C_DEALS "(SELECT id FROM deal WHERE contact_id = ?1)"
#define C_DEAL_PROPERTIES                                                     \
  "(SELECT p.id FROM deal_property p JOIN deal d ON d.id = p.deal_id WHERE "  \
  "d.contact_id = ?1)"
#define C_APPOINTMENTS "(SELECT id FROM appointment WHERE contact_id = ?1)"
#define C_REFERRALS "(SELECT id FROM referral WHERE contact_id = ?1)"
#define C_ACCOUNTS "(SELECT id FROM portal_account WHERE contact_id = ?1)"
#define C_CUSTOMERS "(SELECT id FROM web_customer WHERE contact_id = ?1)"
#define C_SEARCHES "(SELECT id FROM search WHERE customer_id IN " C_CUSTOMERS ")"
#define C_CLAIMS "(SELECT id FROM vendor_claim WHERE customer_id IN " C_CUSTOMERS ")"
/* The contact itself, and the kinds no row of which is about a person
** (a listing is the agency's; a task is staff's work). */
#define C_SELF "(SELECT ?1)"
#define C_NONE "(SELECT NULL WHERE 0)"
/* Rows naming (entity, entity_id) the contact or one of its workflow
** entities (history, documents): one arm per entity of the registry
** (section 1), with its rows about the contact. */
#define C_ENTITY_ARM(NAME, name, rows)                                        \
  "(entity = " TESORO__SQL_ENTITY(NAME) " AND entity_id IN " rows ") OR "
#define C_ENTITIES "(" TESORO__ENTITIES(C_ENTITY_ARM) "0)"

/* The rows about website-only person (web customer) ?1. */
#define W_SEARCHES "(SELECT id FROM search WHERE customer_id = ?1)"
#define W_CLAIMS "(SELECT id FROM vendor_claim WHERE customer_id = ?1)"
#define W_HISTORY                                                             \
  "((entity = " TESORO__SQL_ENTITY(WEB_CUSTOMER) " AND entity_id = ?1) OR "   \
  "(entity = " TESORO__SQL_ENTITY(SEARCH) " AND entity_id IN " W_SEARCHES     \
  ") OR (entity = " TESORO__SQL_ENTITY(VENDOR_CLAIM) " AND entity_id IN "     \
  W_CLAIMS "))"

/*
** Per table: the rows about contact ?1 (NULL: no row is about anyone), a
** narrower filter for the client's own export (NULL: the same rows), the
** columns that are not personal, the personal ones as "column:action",
** and the rows about website-only person ?1 (NULL: none):
**   n  set NULL          e  set 'erased'      j  set '{"erased":true}'
**   m  a placeholder e-mail unique per row     (all four are exported)
**   h  a hash nothing verifies   x  set NULL   (secrets: never exported)
**   b  bytes: exported base64 only on request; erasure deletes the rows
** and among the columns that are not personal:
**   d  a digest's bytes, exported as lower-case hex
*/
typedef struct tesoro__privacy {
  const char *table, *rows, *client_rows, *kept, *personal, *customer_rows;
} tesoro__privacy;

static const tesoro__privacy tesoro__privacy_map[] = {
    {"agency", NULL, NULL,
     "id name timezone currency portal_active listing_counter created_at "
     "referral_fee_bp viewing_duration_s push_enabled calendar_active uid_key",
     "", NULL},
    {"actor", "contact_id = ?1", NULL,
     "id agency_id kind role contact_id created_at channels_off",
     "name:e email:n", NULL},
    {"contact", "id = ?1", NULL,
     "id agency_id version language assigned_agent_id created_at consent "
     "consent_at consent_source consent_text consent_stamp erased_at erased_by",
     "name:e email:n phone:n", NULL},
    {"contact_role", "contact_id = ?1", NULL, "contact_id role", "", NULL},
    {"history", C_ENTITIES, NULL,
     "entity entity_id seq agency_id event from_state to_state actor_id at "
     "line_kind line_ns", "details:n line_summary:e", W_HISTORY},
    {"activity", "contact_id = ?1", NULL,
     "id agency_id contact_id kind actor_id at entity entity_id ns",
     "summary:e", NULL},
    {"task", NULL, NULL,
     "id agency_id version state kind title entity entity_id assignee_id "
     "created_at closed_at", "", NULL},
    {"outbox", /* by recipient, or caused by a change of their entities */
     "recipient_id IN " C_CLIENT " OR " C_ENTITIES,
     "recipient_id IN " C_CLIENT,
     "id agency_id kind recipient_id channels undelivered dead template "
     "entity entity_id seq status attempts next_attempt_at last_error "
     "created_at delivered_at",
     "summary:e payload:j", W_HISTORY},
    {"timer", NULL, NULL, "entity entity_id kind due_at agency_id", "", NULL},
    {"document",
     C_ENTITIES " OR uploaded_by IN " C_CLIENT, NULL,
     "id agency_id entity entity_id kind mime size sha256 uploaded_by created_at",
     "name:e data:b", NULL},
    {"room", "contact_id = ?1", NULL,
     "id agency_id contact_id version state property_type ended_by created_at",
     "location:e budget:n timeline:n description:n end_reason:n", NULL},
    {"room_message", "room_id IN " C_ROOMS,
     "room_id IN " C_ROOMS " AND kind = 'message'",
     "id room_id kind author_id created_at", "body:e", NULL},
    {"mandate", "contact_id = ?1", NULL,
     "id agency_id room_id contact_id version state open_proposal_id "
     "agreed_proposal_id commission_type commission_value currency exclusive "
     "duration_days validated_at created_at", "form_json:n end_reason:n", NULL},
    {"proposal", "mandate_id IN " C_MANDATES, NULL,
     "id mandate_id author_id author_party commission_type commission_value "
     "currency exclusive duration_days created_at superseded_at "
     "accepted_by_agent_at accepted_by_client_at", "", NULL},
    {"listing", "mandate_id IN " C_MANDATES, NULL,
     "id agency_id mandate_id ref version state title address price "
     "property_type bedrooms bathrooms floor_area energy_label description "
     "published_at created_at longitude latitude", "", NULL},
    {"deal", "contact_id = ?1", NULL,
     "id agency_id contact_id agent_id version state created_at",
     "name:e end_reason:n", NULL},
    {"deal_property", "deal_id IN " C_DEALS, NULL,
     "id agency_id deal_id listing_id version state favourite created_at "
     "reject_reasons", "reject_note:n", NULL},
    {"appointment", "contact_id = ?1", NULL,
     "id agency_id contact_id deal_id deal_property_id listing_id owner_id "
     "version state type category preferred start_at duration_s completed_at "
     "completed_by ended_at ended_by no_show_at no_show_by rating rated_at "
     "created_at reminder_at", "end_reason:n", NULL},
    {"appointment_note", "appointment_id IN " C_APPOINTMENTS, NULL,
     "id appointment_id author_id created_at", "body:e", NULL},
    {"referral", "contact_id = ?1", NULL,
     "id agency_id contact_id agent_id version state last_active_stage "
     "meeting_at list_date sale_price close_date fee_bp fee_owed paid_amount "
     /* "erased", not NULL: a failed referral keeps a reason (tesoro_check) */
     "paid_at failed_at failed_by created_at attempted_via contacted_via "
     "list_due", "fail_reason:e", NULL},
    {"referral_note", "referral_id IN " C_REFERRALS, NULL,
     "id referral_id author_id created_at", "body:e", NULL},
    {"portal_account", "contact_id = ?1", NULL,
     "id agency_id contact_id version state code_expires_at code_attempts "
     "failed_logins locked_until language last_login_at created_by created_at "
     "reset_expires_at reset_attempts deactivated_at",
     "email:m name:n password_hash:h code_hash:x reset_hash:x email_pending:n", NULL},
    /* a session is a secret's hash: erasure deletes the rows */
    {"portal_session", "account_id IN " C_ACCOUNTS, NULL,
     "account_id agency_id created_at last_used_at expires_at",
     "token_hash:b", NULL},

    {"portal_message", "contact_id = ?1", NULL,
     "id agency_id contact_id deal_property_id created_at", "body:e", NULL},
    {"web_customer", "contact_id = ?1", NULL,
     "id agency_id contact_id version state details_stamp visits "
     "last_visit_at visit_stamp group_stamp last_activity_at created_at "
     "consent consent_at consent_text consent_stamp erased_at erased_by",
     "external_id:n name:n email:n phone:n group_ref:n end_reason:n",
     "id = ?1"},
    {"web_event", "customer_id IN " C_CUSTOMERS, NULL,
     "agency_id source_id digest:d type customer_id at applied entity "
     "entity_id received_at", "",
     "customer_id = ?1"},
    {"search", "customer_id IN " C_CUSTOMERS, NULL,
     "id agency_id customer_id external_id version state hard alert source "
     "criteria min_price max_price property_types min_bedrooms max_bedrooms "
     "area_name centre_lon centre_lat radius_m min_lon max_lon min_lat "
     "max_lat stamp updated_at created_at", "", "customer_id = ?1"},
    {"search_vertex", "search_id IN " C_SEARCHES, NULL,
     "search_id ring idx lon lat", "", "search_id IN " W_SEARCHES},
    {"web_interest", "customer_id IN " C_CUSTOMERS, NULL,
     "customer_id listing_id views last_viewed_at saved save_stamp rank "
     "note_shared rank_stamp in_branch_at", "note:n", "customer_id = ?1"},
    {"enquiry", "customer_id IN " C_CUSTOMERS, NULL,
     "id agency_id customer_id type listing_id at", "message:n",
     "customer_id = ?1"},
    {"vendor_claim", "customer_id IN " C_CUSTOMERS, NULL,
     "id agency_id customer_id listing_id version state created_at",
     "note:n end_reason:n", "customer_id = ?1"},
    /* the source system's ids (of agents, contacts, listings...) */
    {"import_ref", NULL, NULL,
     "agency_id type external_id entity entity_id digest line imported_at", "",
     NULL},
    {"vendor_link", "contact_id = ?1", NULL,
     "contact_id listing_id role created_by created_at", "", NULL},
};

/* Call `each(word, len, action, arg)` for each "name[:action]" word. */
static void tesoro__privacy_words(const char *list,
                                  void (*each)(const char *, int, char, void *),
                                  void *arg) {
  while (list && *list) {
    const char *end = list + strcspn(list, " ");
    const char *colon = memchr(list, ':', (size_t)(end - list));
    int len = (int)((colon ? colon : end) - list);
    if (len > 0) each(list, len, colon ? colon[1] : 'k', arg);
    list = *end ? end + 1 : end;
  }
}

/* --- the export --- */

typedef struct tesoro__export_cols {
  sqlite3_str *sql;
  int first, bytes; /* bytes: document contents wanted */
} tesoro__export_cols;

static void tesoro__export_col(const char *name, int len, char action, void *arg) {
  tesoro__export_cols *x = arg;
  if (action == 'h' || action == 'x' || (action == 'b' && !x->bytes)) return;
  sqlite3_str_appendf(x->sql, "%s'%.*s', ", x->first ? "" : ", ", len, name);
  x->first = 0;
  if (action == 'b')
    sqlite3_str_appendf(x->sql, "tesoro_base64(%.*s)", len, name);
  else if (action == 'd')
    sqlite3_str_appendf(x->sql, "lower(hex(%.*s))", len, name);
  else
    sqlite3_str_appendf(x->sql, "%.*s", len, name);
}

/* Whose rows an export or erasure reads: a contact's (for staff or for
** the contact's own client), or a website-only person's. */
enum { PRIVACY_STAFF, PRIVACY_CLIENT, PRIVACY_CUSTOMER };

static const char *tesoro__privacy_rows(const tesoro__privacy *p, int whose) {
  if (whose == PRIVACY_CUSTOMER) return p->customer_rows;
  return whose == PRIVACY_CLIENT && p->client_rows ? p->client_rows : p->rows;
}

/* The export of `id` (see tesoro_contact_export) in *out_json: one
** statement, json_object of one json_group_array per table. */
static int tesoro__export(tesoro *t, int whose, int64_t id, int flags,
                          char **out_json) {
  tesoro__export_cols x;
  sqlite3_stmt *s = NULL;
  char *sql;
  int rc, src;
  memset(&x, 0, sizeof x);
  x.sql = sqlite3_str_new(t->db);
  x.bytes = (flags & TESORO_EXPORT_DOCUMENT_BYTES) != 0;
  sqlite3_str_appendf(x.sql, "SELECT json_object('format', 'tesoro-export-1', "
                      "'%s', ?1, 'exported_at', ?2, 'for', ?3, 'tables', "
                      "json_object(", whose == PRIVACY_CUSTOMER
                                          ? "web_customer_id" : "contact_id");
  for (int i = 0, n = 0; i < COUNT(tesoro__privacy_map); i++) {
    const tesoro__privacy *p = &tesoro__privacy_map[i];
    const char *rows = tesoro__privacy_rows(p, whose);
    if (rows == NULL) continue;
    sqlite3_str_appendf(x.sql, "%s'%s', (SELECT coalesce(json_group_array("
                        "json_object(", n++ ? ", " : "", p->table);
    x.first = 1;
    tesoro__privacy_words(p->kept, tesoro__export_col, &x);
    tesoro__privacy_words(p->personal, tesoro__export_col, &x);
    sqlite3_str_appendf(x.sql, ")), json_array()) FROM %s WHERE %s)", p->table,
                        rows);
  }
  sqlite3_str_appendall(x.sql, "))");
  if ((sql = sqlite3_str_finish(x.sql)) == NULL)
    return tesoro__fail(t, TESORO_ENOMEM, "out of memory");
  src = sqlite3_prepare_v2(t->db, sql, -1, &s, NULL);
  sqlite3_free(sql);
  if (src != SQLITE_OK) return tesoro__dberr(t, src);
  sqlite3_bind_int64(s, 1, id);
  sqlite3_bind_int64(s, 2, tesoro__now(t));
  sqlite3_bind_text(s, 3, whose == PRIVACY_CLIENT ? "client" : "staff", -1,
                    SQLITE_STATIC);
  rc = tesoro__text_out(t, s, out_json);
  sqlite3_finalize(s);
  return rc;
}

TESORO_API int tesoro_contact_export(tesoro *t, int64_t actor, int64_t contact,
                                     int flags, char **out_json) {
  tesoro__actor a;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_json, "out_json"))) return rc;
  if (flags & ~TESORO_EXPORT_DOCUMENT_BYTES)
    return tesoro__fail(t, TESORO_EINVAL, "unknown export flags %d", flags);
  if ((rc = tesoro__actor_load(t, actor, &a)) ||
      (rc = tesoro__reach_entity(t, &a, TESORO_ENTITY_CONTACT, contact)))
    return rc;
  return tesoro__export(t, a.kind == TESORO_ACTOR_CLIENT ? PRIVACY_CLIENT
                                                         : PRIVACY_STAFF,
                        contact, flags, out_json);
}

/* --- the erasure --- */

static void tesoro__erase_col(const char *name, int len, char action, void *arg) {
  tesoro__export_cols *x = arg;
  static const char *const values[] = {
      "n", "NULL", "e", "'erased'", "j", "'{\"erased\":true}'",
      "m", "'erased-' || rowid || '@erased.invalid'",
      /* parses as argon2id, but its salt is too short: nothing verifies */
      "h", "'$argon2id$v=19$m=8,t=1,p=1$ZXJhc2Vk$ZXJhc2Vk'", "x", "NULL"};
  for (int i = 0; i < COUNT(values); i += 2)
    if (values[i][0] == action) {
      sqlite3_str_appendf(x->sql, "%s%.*s = %s", x->first ? "" : ", ", len,
                          name, values[i + 1]);
      x->first = 0;
    }
  if (action == 'b') x->bytes = 1; /* the statement becomes a DELETE */
}

/* Run one generated statement with ?1 = the contact (or web customer). */
static int tesoro__run_sql(tesoro *t, const char *sql, int64_t contact) {
  sqlite3_stmt *s = NULL;
  int src = sqlite3_prepare_v2(t->db, sql, -1, &s, NULL);
  if (src != SQLITE_OK) return tesoro__dberr(t, src);
  sqlite3_bind_int64(s, 1, contact);
  src = sqlite3_step(s);
  sqlite3_finalize(s);
  return src == SQLITE_DONE ? TESORO_OK : tesoro__dberr(t, src);
}

/* Withdraw the undelivered outbox rows about `id` (a contact or, `whose`
** PRIVACY_CUSTOMER, a website-only person), then overwrite or delete every
** personal column of every row about them. */
static int tesoro__erase_rows(tesoro *t, int whose, int64_t id) {
  int rc = tesoro__run_sql(
      t,
      whose == PRIVACY_CUSTOMER
          ? "UPDATE outbox SET status = 'withdrawn' WHERE status = 'pending' "
            "AND " W_HISTORY
          : "UPDATE outbox SET status = 'withdrawn' WHERE status = 'pending' "
            "AND (recipient_id IN " C_CLIENT " OR " C_ENTITIES ")",
      id);
  /* Child rows first: their selectors read the parents' ids, never the
  ** personal columns, so the order is free but for deletions. */
  for (int i = 0; rc == TESORO_OK && i < COUNT(tesoro__privacy_map); i++) {
    const tesoro__privacy *p = &tesoro__privacy_map[i];
    const char *rows = tesoro__privacy_rows(p, whose);
    tesoro__export_cols x;
    char *sql;
    if (rows == NULL || p->personal[0] == 0) continue;
    memset(&x, 0, sizeof x);
    x.sql = sqlite3_str_new(t->db);
    x.first = 1;
    sqlite3_str_appendf(x.sql, "UPDATE %s SET ", p->table);
    tesoro__privacy_words(p->personal, tesoro__erase_col, &x);
    sqlite3_str_appendf(x.sql, " WHERE %s", rows);
    if (x.bytes) { /* rows with contents go whole */
      sqlite3_str_reset(x.sql);
      sqlite3_str_appendf(x.sql, "DELETE FROM %s WHERE %s", p->table, rows);
    }
    if ((sql = sqlite3_str_finish(x.sql)) == NULL)
      return tesoro__fail(t, TESORO_ENOMEM, "out of memory");
    rc = tesoro__run_sql(t, sql, id);
    sqlite3_free(sql);
  }
  return rc;
}

TESORO_API int tesoro_contact_erase(tesoro *t, int64_t actor, int64_t contact,
                                    const char *reason) {
  tesoro__actor a;
  tesoro__ctx c;
  sqlite3_stmt *s;
  int64_t version = 0, erased = 0;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__text(t, "reason", reason, TESORO_MAX_REASON, 0)) ||
      (rc = tesoro__actor_on_contact(t, actor, R_ADMIN,
                                     "erase a contact", contact, &a)))
    return rc;
  tesoro__ctx_new(&c, t, &a, TESORO_ENTITY_CONTACT, contact);
  c.id = contact;
  if ((rc = tesoro__write_begin(t))) return rc;
  if ((s = tesoro__stmt(t, S_CONTACT_ERASED)) == NULL) rc = t->rc;
  else sqlite3_bind_int64(s, 1, contact);
  if (rc == TESORO_OK && (rc = tesoro__row(t, s)) == TESORO_ROW) {
    version = sqlite3_column_int64(s, 0);
    erased = sqlite3_column_int64(s, 1);
    sqlite3_reset(s);
    rc = TESORO_OK;
  } else if (rc == TESORO_DONE) {
    rc = TESORO_EDB;
  }
  if (rc == TESORO_OK && erased) /* already: nothing more to do */
    return tesoro__write_end(t, TESORO_OK);
  if (rc == TESORO_OK) rc = tesoro__erase_rows(t, PRIVACY_STAFF, contact);
  tesoro__forget(t); /* its client actor acts no more */
  if (rc == TESORO_OK)
    rc = TESORO__EXEC(t, S_CONTACT_SET_ERASED, BIND_I(contact), BIND_I(c.now),
                      BIND_I(a.id));
  if (rc == TESORO_OK) /* who and when; the reason is not personal data */
    rc = tesoro__history(t, a.agency, TESORO_ENTITY_CONTACT, contact, version + 1,
                         "erase", NULL, NULL, a.id, c.now, tesoro__opt(reason),
                         0, NULL);
  if ((rc = tesoro__write_end(t, rc))) return rc;
  tesoro__wal_scrub(t);
  return TESORO_OK;
}

/* --- website-only people --- */

/* Web customer `customer`'s version and erasure, for the staff `a` of its
** agency; one approved into a contact is refused: its data is the
** contact's, exported and erased with it. */
static int tesoro__web_only(tesoro *t, const tesoro__actor *a,
                            int64_t customer, int64_t *out_version,
                            int *out_erased, char out_state[16]) {
  sqlite3_stmt *s;
  int64_t contact;
  int rc;
  if ((rc = tesoro__require(t, a, R_STAFF, "export or erase web customers")) ||
      (rc = tesoro__reach_entity(t, a, TESORO_ENTITY_WEB_CUSTOMER, customer)))
    return rc;
  if ((rc = TESORO__ROW(t, &s, S_WEB_CUSTOMER_ERASED, BIND_I(customer))))
    return rc;
  *out_version = sqlite3_column_int64(s, 0);
  *out_erased = sqlite3_column_int(s, 1);
  contact = sqlite3_column_int64(s, 2);
  tesoro__column_copy(s, 3, out_state, 16);
  sqlite3_reset(s);
  if (contact)
    return tesoro__fail(t, TESORO_ESTATE,
                        "web customer %lld was approved into contact %lld: "
                        "export or erase the contact",
                        (long long)customer, (long long)contact);
  return TESORO_OK;
}

TESORO_API int tesoro_web_customer_export(tesoro *t, int64_t actor,
                                          int64_t customer, char **out_json) {
  tesoro__actor a;
  int64_t version;
  int rc, erased;
  char state[16];
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_json, "out_json")) ||
      (rc = tesoro__actor_load(t, actor, &a)) ||
      (rc = tesoro__web_only(t, &a, customer, &version, &erased, state)))
    return rc;
  return tesoro__export(t, PRIVACY_CUSTOMER, customer, 0, out_json);
}

TESORO_API int tesoro_web_customer_erase(tesoro *t, int64_t actor,
                                         int64_t customer, const char *reason) {
  tesoro__actor a;
  sqlite3_stmt *s;
  int64_t version = 0, now;
  int rc, erased = 0;
  char state[16] = "";
  TESORO__ENTER(t);
  if ((rc = tesoro__text(t, "reason", reason, TESORO_MAX_REASON, 0)) ||
      (rc = tesoro__actor_as(t, actor, R_ADMIN, "erase a web customer", &a)))
    return rc;
  now = tesoro__now(t);
  if ((rc = tesoro__write_begin(t))) return rc;
  rc = tesoro__web_only(t, &a, customer, &version, &erased, state);
  if (rc == TESORO_OK && erased) /* already: nothing more to do */
    return tesoro__write_end(t, TESORO_OK);
  if (rc == TESORO_OK) rc = tesoro__erase_rows(t, PRIVACY_CUSTOMER, customer);
  if (rc == TESORO_OK &&
      (s = tesoro__stmt(t, S_WEB_CUSTOMER_SET_ERASED)) == NULL)
    rc = t->rc;
  if (rc == TESORO_OK) {
    sqlite3_bind_int64(s, 1, customer);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, a.id);
    rc = tesoro__run(t, s);
  }
  if (rc == TESORO_OK)
    rc = tesoro__history(t, a.agency, TESORO_ENTITY_WEB_CUSTOMER, customer,
                         version + 1, "erase", state, state, a.id, now,
                         tesoro__opt(reason), 0, NULL);
  if ((rc = tesoro__write_end(t, rc))) return rc;
  tesoro__wal_scrub(t);
  return TESORO_OK;
}

/* An erased web customer is frozen: staff can neither approve nor discard
** it (the website cannot name it: its id is gone). */
static int guard_customer_live(tesoro__ctx *c) {
  sqlite3_stmt *s;
  int rc, erased = 0;
  if ((s = TESORO__STMT(c->t, S_WEB_CUSTOMER_ERASED, BIND_I(c->id))) == NULL)
    return c->t->rc;
  if ((rc = tesoro__row(c->t, s)) == TESORO_ROW) erased = sqlite3_column_int(s, 1);
  sqlite3_reset(s);
  if (rc < 0) return rc;
  if (erased)
    return tesoro__fail(c->t, TESORO_ESTATE,
                        "web customer %lld was erased; nothing may be written "
                        "about it", (long long)c->id);
  return TESORO_OK;
}

static int guard_customer_discard(tesoro__ctx *c) {
  int rc = guard_customer_live(c);
  return rc ? rc : guard_reason(c);
}

/* --- consent --- */

static const char *const tesoro__consents[] = {NULL, "not_asked", "granted",
                                               "denied"};

/* Set the contact's consent when `stamp` is newer than the stored one,
** with a history row "consent" from the old value to the new. */
static int tesoro__consent_apply(tesoro__ctx *c, int64_t contact,
                                 const char *consent, const char *source,
                                 const char *statement, int64_t at,
                                 const char *stamp, int64_t expected) {
  tesoro *t = c->t;
  sqlite3_stmt *s;
  char old[16] = "", own[TESORO__STAMP_MAX];
  int64_t version, agency, stored_at;
  int rc;
  if ((rc = TESORO__ROW(t, &s, S_CONTACT_CONSENT, BIND_I(contact)))) return rc;
  agency = sqlite3_column_int64(s, 0);
  version = sqlite3_column_int64(s, 1);
  tesoro__column_copy(s, 2, old, sizeof old);
  stored_at = sqlite3_column_int64(s, 4);
  /* The newest decision wins, whoever made it.  A website event's stamp
  ** is its time and source id, and applies only when newer than the
  ** stored one; a decision in the CRM or the portal is made now, applies,
  ** and is never dated before the one it replaces, so the stored time
  ** never goes back and an older website event cannot undo it ("~" sorts
  ** after a source id: at the same second the CRM's decision stands). */
  if (stamp == NULL) { /* made now: the newest, always */
    if (at < stored_at) at = stored_at;
    tesoro__stamp(own, at, "~");
    stamp = own;
    rc = 0;
  } else {
    rc = sqlite3_column_text(s, 3) &&
         strcmp((const char *)sqlite3_column_text(s, 3), stamp) >= 0;
  }
  sqlite3_reset(s);
  if (rc) return TESORO_OK; /* a newer consent is already recorded */
  if ((rc = tesoro__version_ok(t, "contact", contact, version, expected)))
    return rc;
  if ((rc = TESORO__EXEC(t, S_CONTACT_SET_CONSENT, BIND_I(contact),
                         BIND_T(consent), BIND_I(at), BIND_T(source),
                         BIND_T(statement), BIND_T(stamp), BIND_I(version))))
    return rc;
  if (sqlite3_changes(t->db) != 1)
    return tesoro__fail(t, TESORO_ECONFLICT, "contact %lld changed meanwhile",
                        (long long)contact);
  return tesoro__history(t, agency, TESORO_ENTITY_CONTACT, contact, version + 1,
                         "consent", old, consent, c->actor->id, c->now,
                         statement, 0, NULL);
}

/* What a correction may change: the creation rules, each field optional,
** null clearing all but the name. */
static const tesoro__field tesoro__contact_fields[] = {
    {"name", 't', 1, 1, TESORO_MAX_NAME},
    {"email", 'e', 0, 1, TESORO_MAX_EMAIL},
    {"phone", 't', 0, 1, TESORO_MAX_PHONE},
    {"language", 't', 0, 1, 35},
};

/*
** Correct a contact (GDPR rectification).  One history row "correct"
** holds the fields' old and new values (history details, which erasure
** removes).  A linked website customer hears of it; a changed portal
** login e-mail waits for verification by a code sent to the new address.
*/
TESORO_API int tesoro_contact_update(tesoro *t, int64_t actor, int64_t contact,
                                     const char *fields_json,
                                     int64_t expected_version) {
  tesoro__actor a;
  tesoro__ctx c;
  sqlite3_stmt *s;
  char *details = NULL, code[TESORO_PORTAL_CODE_DIGITS + 1],
       code_hash[crypto_pwhash_STRBYTES], extra[48], *new_email = NULL;
  int64_t version = 0, other = 0, account = 0;
  int rc, email_changed = 0;
  TESORO__ENTER(t);
  if (expected_version < 0)
    return tesoro__fail(t, TESORO_EINVAL, "expected_version must be >= 0");
  if ((rc = tesoro__json_fields(t, "contact fields", fields_json,
                                tesoro__contact_fields,
                                COUNT(tesoro__contact_fields), 1)) ||
      (rc = tesoro__actor_on_contact(t, actor, R_STAFF | R_CLIENT,
                                     "correct a contact", contact, &a)) ||
      (rc = tesoro__contact_writable(t, &a, contact)) ||
      (rc = tesoro__json_text(t, fields_json, "$.email", &new_email)))
    return rc;
  /* the code for a new login e-mail, hashed before the write lock */
  snprintf(code, sizeof code, "%06u", (unsigned)randombytes_uniform(1000000));
  if (new_email && (rc = tesoro__hash_secret(t, code, code_hash))) goto done;
  tesoro__ctx_new(&c, t, &a, TESORO_ENTITY_CONTACT, contact);
  c.id = contact;
  if ((rc = tesoro__write_begin(t))) goto done;
  if ((s = tesoro__stmt(t, S_CONTACT_CORRECT_DETAILS)) == NULL) {
    rc = t->rc;
  } else {
    sqlite3_bind_int64(s, 1, contact);
    sqlite3_bind_text(s, 2, fields_json, -1, SQLITE_STATIC);
    if ((rc = tesoro__row(t, s)) == TESORO_ROW) {
      const char *text = (const char *)sqlite3_column_text(s, 0);
      version = sqlite3_column_int64(s, 1);
      email_changed = sqlite3_column_int(s, 2);
      rc = text ? tesoro__copy(t, text, &details)
                : tesoro__fail(t, TESORO_ENOMEM, "out of memory");
    } else if (rc == TESORO_DONE) {
      rc = TESORO_EDB;
    }
    sqlite3_reset(s);
  }
  if (rc == TESORO_OK)
    rc = tesoro__version_ok(t, "contact", contact, version, expected_version);
  if (rc == TESORO_OK && email_changed &&
      (rc = tesoro__contact_by_email(t, a.agency, new_email, &other)) ==
          TESORO_OK &&
      other && other != contact)
    rc = tesoro__fail(t, TESORO_EEXISTS, "contact %lld already has e-mail %s",
                      (long long)other, new_email);
  if (rc == TESORO_OK && (s = tesoro__stmt(t, S_CONTACT_CORRECT)) == NULL)
    rc = t->rc;
  if (rc == TESORO_OK) {
    sqlite3_bind_int64(s, 1, contact);
    sqlite3_bind_text(s, 2, fields_json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, version);
    if ((rc = tesoro__run(t, s)) == TESORO_OK && sqlite3_changes(t->db) != 1)
      rc = tesoro__fail(t, TESORO_ECONFLICT, "contact %lld changed meanwhile",
                        (long long)contact);
  }
  if (rc == TESORO_OK)
    rc = tesoro__history(t, a.agency, TESORO_ENTITY_CONTACT, contact,
                         version + 1, "correct", NULL, NULL, a.id, c.now,
                         NULL, 0, NULL);
  c.seq = version + 1;
  if (rc == TESORO_OK &&
      (s = tesoro__stmt(t, S_HISTORY_SET_DETAILS)) == NULL)
    rc = t->rc;
  if (rc == TESORO_OK) { /* {"old": {...}, "new": {...}} */
    sqlite3_bind_int(s, 1, c.entity);
    sqlite3_bind_int64(s, 2, c.id);
    sqlite3_bind_int64(s, 3, c.seq);
    sqlite3_bind_text(s, 4, details, -1, SQLITE_STATIC);
    rc = tesoro__run(t, s);
  }
  if (rc == TESORO_OK)
    rc = tesoro__activity(&c, "contact_corrected", "Contact details corrected");
  /* the website's customer, when there is one, learns the new details */
  if (rc == TESORO_OK &&
      (s = tesoro__stmt(t, S_CONTACT_CUSTOMER_LINKED)) != NULL) {
    int64_t linked = 0;
    sqlite3_bind_int64(s, 1, contact);
    if ((rc = tesoro__int(t, s, &linked)) == TESORO_DONE) rc = TESORO_OK;
    if (rc == TESORO_OK && linked) {
      char *payload = NULL;
      if ((s = tesoro__stmt(t, S_CONTACT_EXCHANGE)) == NULL) rc = t->rc;
      else {
        sqlite3_bind_int64(s, 1, contact);
        if ((rc = tesoro__text_out(t, s, &payload)) == TESORO_OK)
          rc = tesoro__exchange(&c, 2, "customer_updated", contact, payload);
        TESORO_FREE(payload);
      }
    }
  } else if (rc == TESORO_OK) {
    rc = t->rc;
  }
  /* a changed portal login waits for its code, sent to the new address */
  if (rc == TESORO_OK && email_changed &&
      (s = tesoro__stmt(t, S_PORTAL_ACCOUNT_ID_OF_CONTACT)) != NULL) {
    sqlite3_bind_int64(s, 1, contact);
    if ((rc = tesoro__int(t, s, &account)) == TESORO_DONE) rc = TESORO_OK;
    if (rc == TESORO_OK && account &&
        (s = tesoro__stmt(t, S_PORTAL_EMAIL_PENDING)) == NULL)
      rc = t->rc;
    if (rc == TESORO_OK && account) {
      sqlite3_bind_int64(s, 1, account);
      sqlite3_bind_text(s, 2, new_email, -1, SQLITE_STATIC);
      sqlite3_bind_text(s, 3, code_hash, -1, SQLITE_STATIC);
      sqlite3_bind_int64(s, 4, c.now + TESORO_PORTAL_CODE_TTL_S);
      rc = tesoro__run(t, s);
    }
    if (rc == TESORO_OK && account) {
      /* A contact has no machine (a correction is no transition): its one
      ** notice is a row of its own, sent as the machines' rows are. */
      static const tesoro__notice verification = {
          0, 0, TO_CLIENT, CH_EMAIL, "Portal E-mail Verification",
          "Confirm your new e-mail for the portal"};
      snprintf(extra, sizeof extra, "{\"secret\":\"%s\"}", code);
      if ((rc = tesoro__notice_data(&c, NULL, extra)) == TESORO_OK)
        rc = tesoro__notice_send(&c, &verification);
      tesoro__notice_clear(&c);
      sodium_memzero(extra, sizeof extra);
    }
  } else if (rc == TESORO_OK && email_changed) {
    rc = t->rc;
  }
  rc = tesoro__write_end(t, rc);
done:
  sodium_memzero(code, sizeof code);
  TESORO_FREE(details);
  TESORO_FREE(new_email);
  return rc;
}

/*
** The code a contact correction sent to a new portal e-mail (the client):
** the login becomes that e-mail.
*/
TESORO_API int tesoro_portal_email_verify(tesoro *t, int64_t client,
                                          const char *code) {
  static const char wrong[] = "the verification code is wrong or has expired";
  tesoro__actor a;
  tesoro__account acc;
  sqlite3_stmt *s;
  int rc, pending = 0;
  TESORO__ENTER(t);
  if ((rc = tesoro__text(t, "verification code", code, 16, 1))) return rc;
  if ((rc = tesoro__client_account(t, client, 1, &a, &acc))) return rc;
  if ((s = TESORO__STMT(t, S_PORTAL_EMAIL_PENDING_GET, BIND_I(acc.id))) == NULL)
    return t->rc;
  if ((rc = tesoro__row(t, s)) == TESORO_ROW)
    pending = sqlite3_column_type(s, 0) != SQLITE_NULL;
  sqlite3_reset(s);
  if (rc < 0) return rc;
  if (!pending)
    return tesoro__fail(t, TESORO_ESTATE,
                        "portal account %lld has no new e-mail to verify",
                        (long long)acc.id);
  if (acc.code_attempts >= TESORO_PORTAL_CODE_MAX_TRIES ||
      tesoro__now(t) > acc.code_expires_at ||
      !tesoro__secret_matches(acc.code_hash, code)) {
    if (acc.code_attempts < TESORO_PORTAL_CODE_MAX_TRIES &&
        tesoro__now(t) <= acc.code_expires_at) {
      if ((rc = tesoro__write_begin(t))) return rc;
      rc = TESORO__EXEC(t, S_PORTAL_CODE_FAILED, BIND_I(acc.id));
      if ((rc = tesoro__write_end(t, rc))) return rc;
    }
    return tesoro__fail(t, TESORO_EDENIED, "%s", wrong);
  }
  if ((rc = tesoro__write_begin(t))) return rc;
  if ((s = tesoro__stmt(t, S_PORTAL_EMAIL_CONFIRMED)) == NULL)
    return tesoro__write_end(t, t->rc);
  sqlite3_bind_int64(s, 1, acc.id);
  return tesoro__write_end(t, tesoro__run(t, s));
}

TESORO_API int tesoro_contact_set_consent(tesoro *t, int64_t actor,
                                          int64_t contact, int consent,
                                          const char *statement,
                                          int64_t expected_version) {
  static const char *const sources[] = {NULL, "crm", "portal", "web_form", NULL};
  tesoro__actor a;
  tesoro__ctx c;
  int rc;
  TESORO__ENTER(t);
  if (consent < TESORO_CONSENT_NOT_ASKED || consent > TESORO_CONSENT_DENIED)
    return tesoro__fail(t, TESORO_EINVAL, "unknown consent %d", consent);
  if (expected_version < 0)
    return tesoro__fail(t, TESORO_EINVAL, "expected_version must be >= 0");
  if ((rc = tesoro__text(t, "consent statement", statement, TESORO_MAX_TEXT,
                         consent == TESORO_CONSENT_GRANTED)) ||
      (rc = tesoro__actor_load(t, actor, &a)) ||
      (rc = tesoro__require(t, &a, R_STAFF | R_CLIENT | R_WEBSITE,
                            "record consent")))
    return rc;
  /* The website records consent from its forms for any contact of its
  ** agency; staff for theirs; a client only their own. */
  if ((rc = tesoro__contact_reach(t, &a, contact, NULL)) ||
      (rc = tesoro__contact_writable(t, &a, contact)))
    return rc;
  tesoro__ctx_new(&c, t, &a, TESORO_ENTITY_CONTACT, contact);
  if ((rc = tesoro__write_begin(t))) return rc;
  return tesoro__write_end(
      t, tesoro__consent_apply(&c, contact, tesoro__consents[consent],
                               sources[a.kind], tesoro__opt(statement), c.now,
                               NULL, expected_version));
}

/* The privacy map as JSON, for the schema guard of test_privacy. */
static void tesoro__map_col(const char *name, int len, char action, void *arg) {
  tesoro__export_cols *x = arg;
  sqlite3_str_appendf(x->sql, "%s{\"column\":\"%.*s\",\"class\":\"%s\"}",
                      x->first ? "" : ",", len, name,
                      action == 'k' || action == 'd'  ? "kept"
                      : action == 'h' || action == 'x' ? "secret"
                      : action == 'b'                  ? "bytes"
                                                       : "personal");
  x->first = 0;
}

TESORO_API int tesoro_privacy_map(char **out_json) {
  tesoro__export_cols x;
  char *json;
  if (out_json == NULL) return TESORO_EINVAL;
  memset(&x, 0, sizeof x);
  x.sql = sqlite3_str_new(NULL);
  sqlite3_str_appendchar(x.sql, 1, '[');
  for (int i = 0; i < COUNT(tesoro__privacy_map); i++) {
    const tesoro__privacy *p = &tesoro__privacy_map[i];
    sqlite3_str_appendf(x.sql, "%s{\"table\":\"%s\",\"about_contact\":%s,"
                        "\"columns\":[", i ? "," : "", p->table,
                        p->rows ? "true" : "false");
    x.first = 1;
    tesoro__privacy_words(p->kept, tesoro__map_col, &x);
    tesoro__privacy_words(p->personal, tesoro__map_col, &x);
    sqlite3_str_appendall(x.sql, "]}");
  }
  sqlite3_str_appendchar(x.sql, 1, ']');
  if ((json = sqlite3_str_finish(x.sql)) == NULL) return TESORO_ENOMEM;
  *out_json = json;
  return TESORO_OK;
}

/* =========================================================================
** 19. Reading
**
** Every read names its actor and passes the same reach check as a write:
** staff of the entity's agency, or the entity's own client.  Lists come back
** as cursors (section 20); single entities as JSON built by SQLite.
*/
/* Copy the first column of a one-row statement into a tesoro_free string. */
static int tesoro__text_out(tesoro *t, sqlite3_stmt *s, char **out) {
  const char *text;
  size_t n;
  int rc = tesoro__row(t, s);
  if (rc != TESORO_ROW) return rc < 0 ? rc : TESORO_EDB;
  text = (const char *)sqlite3_column_text(s, 0);
  n = text ? strlen(text) + 1 : 0;
  *out = n ? TESORO_MALLOC(n) : NULL;
  if (*out) memcpy(*out, text, n);
  sqlite3_reset(s);
  return *out ? TESORO_OK : tesoro__fail(t, TESORO_ENOMEM, "out of memory");
}

#define TESORO__JSON_SLOT(NAME, name, rows) [TESORO_ENTITY_##NAME] = S_##NAME##_JSON,
static const int tesoro__json_stmts[TESORO__ENTITY_MAX + 1] = {
    TESORO__ENTITIES(TESORO__JSON_SLOT)};
#undef TESORO__JSON_SLOT

TESORO_API int tesoro_entity_json(tesoro *t, int64_t actor, int entity,
                                  int64_t id, char **out) {
  tesoro__actor a;
  sqlite3_stmt *s;
  int seller = 1, rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out, "out")) ||
      (rc = tesoro__actor_load(t, actor, &a)))
    return rc;
  /* A buyer reads a listing of their feed as tesoro_portal_property does. */
  if (entity == TESORO_ENTITY_LISTING && a.kind == TESORO_ACTOR_CLIENT &&
      ((rc = tesoro__client_listing(t, &a, id, &seller)) || !seller))
    return rc ? rc : tesoro__property_json(t, &a, id, out);
  if ((rc = tesoro__reach_entity(t, &a, entity, id))) return rc;
  if ((s = tesoro__stmt(t, tesoro__json_stmts[entity])) == NULL) return t->rc;
  sqlite3_bind_int64(s, 1, id);
  return tesoro__text_out(t, s, out);
}

/* A context of machine m's entity `id` as `actor` reads it: the actor may
** reach it; its state and version loaded (`checking`: nothing is written,
** as for tesoro_allowed_events). */
static int tesoro__entity_read(tesoro *t, int64_t actor,
                               const tesoro__machine *m, int64_t id,
                               int checking, tesoro__actor *a, tesoro__ctx *c) {
  int rc;
  if ((rc = tesoro__id(t, m->name, id)) ||
      (rc = tesoro__actor_load(t, actor, a)) ||
      (rc = tesoro__reach_entity(t, a, m->entity, id)))
    return rc;
  tesoro__ctx_new(c, t, a, m->entity, 0);
  c->m = m;
  c->id = id;
  c->checking = checking;
  return tesoro__load(c);
}

TESORO_API int tesoro_entity_state(tesoro *t, int64_t actor, int entity,
                                   int64_t id, const char **out_state,
                                   int64_t *out_version) {
  const tesoro__machine *m = tesoro__machine_of(entity);
  tesoro__actor a;
  tesoro__ctx c;
  int rc;
  TESORO__ENTER(t);
  if (m == NULL)
    return tesoro__fail(t, TESORO_EINVAL, "%s has no state machine",
                        entity == TESORO_ENTITY_CONTACT ? "a contact"
                                                        : "this entity kind");
  if ((rc = tesoro__entity_read(t, actor, m, id, 0, &a, &c))) return rc;
  if (out_state) *out_state = c.m->states[c.from];
  if (out_version) *out_version = c.version;
  return TESORO_OK;
}

/*
** A cursor over one entity's rows, after checking (actor, entity, id).  The
** SQL reads ?1 = the entity kind, ?2 = its id, ?3 = 1 when the actor is
** staff (a client never receives a private note).
*/
static int tesoro__entity_cursor(tesoro *t, int64_t actor, int entity,
                                 int64_t id, const char *sql,
                                 tesoro_cursor **out) {
  tesoro__actor a;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out, "out")) ||
      (rc = tesoro__actor_load(t, actor, &a)) ||
      (rc = tesoro__reach_entity(t, &a, entity, id)) ||
      (rc = tesoro__cursor_new(t, sql, out)))
    return rc;
  TESORO__CURSOR_BIND(*out, BIND_I(entity), BIND_I(id),
                      BIND_I((a.bit & R_STAFF) != 0));
  return TESORO_OK;
}

TESORO_API int tesoro_history(tesoro *t, int64_t actor, int entity, int64_t id,
                              tesoro_cursor **out) {
  return tesoro__entity_cursor(
      t, actor, entity, id,
      "SELECT h.seq, h.event, h.from_state, h.to_state, h.actor_id, "
      "a.kind AS actor_kind, h.at, h.details FROM history h "
      "JOIN actor a ON a.id = h.actor_id "
      "WHERE h.entity = ?1 AND h.entity_id = ?2 ORDER BY h.seq",
      out);
}

/* A client sees only the photos of a listing, their own included: the
** mandate, the seller's form and staff documents stay with staff. */
TESORO_API int tesoro_documents(tesoro *t, int64_t actor, int entity,
                                int64_t entity_id, tesoro_cursor **out) {
  static const char sql[] =
      "SELECT id, CASE kind WHEN 'shared' THEN 1 WHEN 'signed_mandate' THEN 2 "
      "WHEN 'property_document' THEN 3 WHEN 'photo' THEN 4 "
      "WHEN 'energy_certificate' THEN 5 WHEN 'voice_note' THEN 6 END AS kind, "
      "kind AS kind_name, name, "
      "mime, size, sha256, uploaded_by, created_at "
      "FROM document WHERE entity = ?1 AND entity_id = ?2 AND (?3 OR ?1 <> " TESORO__SQL_ENTITY(LISTING) " "
      "OR kind = 'photo') ORDER BY id";
  tesoro__actor a;
  int seller, rc;
  TESORO__ENTER(t);
  if (entity == TESORO_ENTITY_LISTING) {
    if ((rc = tesoro__out(t, out, "out")) ||
        (rc = tesoro__actor_load(t, actor, &a)))
      return rc;
    if (a.kind == TESORO_ACTOR_CLIENT) {
      if ((rc = tesoro__client_listing(t, &a, entity_id, &seller))) return rc;
      if (!seller) {
        if ((rc = tesoro__cursor_new(t, sql, out))) return rc;
        TESORO__CURSOR_BIND(*out, BIND_I(entity), BIND_I(entity_id), BIND_I(0));
        return TESORO_OK;
      }
    }
  }
  return tesoro__entity_cursor(t, actor, entity, entity_id, sql, out);
}

TESORO_API int tesoro_document_read(tesoro *t, int64_t actor, int64_t document,
                                    void **out_data, int64_t *out_size) {
  tesoro__actor a;
  sqlite3_stmt *s;
  int entity, photo, seller, rc;
  int64_t id, size;
  void *copy;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_data, "out_data")) ||
      (rc = tesoro__out(t, out_size, "out_size")) ||
      (rc = tesoro__id(t, "document", document)) ||
      (rc = tesoro__actor_load(t, actor, &a)))
    return rc;
  if ((rc = tesoro__find(t, S_DOCUMENT_LOAD, "document", document, &s)))
    return rc;
  entity = sqlite3_column_int(s, 0);
  id = sqlite3_column_int64(s, 1);
  photo = sqlite3_column_int(s, 3);
  sqlite3_reset(s);
  if (entity == TESORO_ENTITY_LISTING && a.kind == TESORO_ACTOR_CLIENT) {
    if ((rc = tesoro__client_listing(t, &a, id, &seller))) return rc;
    if (!photo)
      return tesoro__fail(t, TESORO_EDENIED,
                          "document %lld is not a photo; a client reads only "
                          "the photos of a listing", (long long)document);
  } else if ((rc = tesoro__reach_entity(t, &a, entity, id))) {
    return rc;
  }
  /* Read the bytes again after the reach check: the statement is shared. */
  if ((rc = TESORO__ROW(t, &s, S_DOCUMENT_LOAD, BIND_I(document)))) return rc;
  size = sqlite3_column_bytes(s, 2);
  copy = TESORO_MALLOC((sqlite3_uint64)size);
  if (copy) memcpy(copy, sqlite3_column_blob(s, 2), (size_t)size);
  sqlite3_reset(s);
  if (copy == NULL) return tesoro__fail(t, TESORO_ENOMEM, "out of memory");
  *out_data = copy;
  *out_size = size;
  return TESORO_OK;
}

TESORO__ENTITY_LIST(tesoro_room_messages, ROOM,
    "SELECT m.id, m.kind, m.author_id, a.kind AS author_kind, m.body, "
    "m.created_at FROM room_message m JOIN actor a ON a.id = m.author_id "
    "WHERE m.room_id = ?2 AND (?3 OR m.kind = 'message') "
    "ORDER BY m.id")

TESORO__ENTITY_LIST(tesoro_mandate_proposals, MANDATE,
    "SELECT id, author_id, author_party, commission_type, commission_value "
    "AS value, currency, exclusive, duration_days, created_at, "
    "superseded_at, accepted_by_agent_at, accepted_by_client_at "
    "FROM proposal WHERE mandate_id = ?2 ORDER BY created_at, id")

TESORO__ENTITY_LIST(tesoro_activities, CONTACT,
    "SELECT id, kind, actor_id, at, entity, entity_id, summary "
    "FROM timeline WHERE contact_id = ?2 ORDER BY at DESC, id DESC")

TESORO_API int tesoro_tasks(tesoro *t, int64_t actor, int entity,
                            int64_t entity_id, tesoro_cursor **out) {
  tesoro__actor a;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out, "out")) ||
      (rc = tesoro__actor_as(t, actor, R_STAFF, "list tasks", &a)))
    return rc;
  if (entity || entity_id) {
    if ((rc = tesoro__reach_entity(t, &a, entity, entity_id))) return rc;
  }
  if ((rc = tesoro__cursor_new(
           t,
           "SELECT id, kind, title, state, entity, entity_id, assignee_id, "
           "created_at, version FROM task WHERE agency_id = ?1 AND state = "
           "'open' AND (?2 = 0 OR (entity = ?2 AND entity_id = ?3)) "
           "ORDER BY created_at, id",
           out)))
    return rc;
  TESORO__CURSOR_BIND(*out, BIND_I(a.agency), /* and the entity, if any */
                      BIND_I(entity), BIND_I(entity_id));
  return TESORO_OK;
}

/* Operator statistics: one static UNION over every machine's table and the
** outbox, so the counts come from the rows themselves, not from counters. */
TESORO_API int tesoro_stats(tesoro *t, int64_t agency, tesoro_cursor **out) {
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out, "out"))) return rc;
  if (agency < 0) return tesoro__fail(t, TESORO_EINVAL, "agency must be >= 0");
  if ((rc = tesoro__cursor_new(
           t,
           "SELECT 'room' AS what, state, count(*) AS count FROM room WHERE ?1 IN (0, agency_id) GROUP BY state "
      "UNION ALL "
      "SELECT 'mandate', state, count(*) FROM mandate WHERE ?1 IN (0, agency_id) GROUP BY state "
      "UNION ALL "
      "SELECT 'listing', state, count(*) FROM listing WHERE ?1 IN (0, agency_id) GROUP BY state "
      "UNION ALL "
      "SELECT 'task', state, count(*) FROM task WHERE ?1 IN (0, agency_id) GROUP BY state "
      "UNION ALL "
      "SELECT 'deal', state, count(*) FROM deal WHERE ?1 IN (0, agency_id) GROUP BY state "
      "UNION ALL "
      "SELECT 'deal_property', state, count(*) FROM deal_property WHERE ?1 IN (0, agency_id) GROUP BY state "
      "UNION ALL "
      "SELECT 'appointment', state, count(*) FROM appointment WHERE ?1 IN (0, agency_id) GROUP BY state "
      "UNION ALL "
      "SELECT 'referral', state, count(*) FROM referral WHERE ?1 IN (0, agency_id) GROUP BY state "
      "UNION ALL "
      "SELECT 'portal_account', state, count(*) FROM portal_account WHERE ?1 IN (0, agency_id) GROUP BY state "
      "UNION ALL "
      "SELECT 'web_customer', state, count(*) FROM web_customer WHERE ?1 IN (0, agency_id) GROUP BY state "
      "UNION ALL "
      "SELECT 'search', state, count(*) FROM search WHERE ?1 IN (0, agency_id) GROUP BY state "
      "UNION ALL "
      "SELECT 'vendor_claim', state, count(*) FROM vendor_claim WHERE ?1 IN (0, agency_id) GROUP BY state "
      "UNION ALL "
      "SELECT 'outbox', status, count(*) FROM outbox_delivery WHERE ?1 IN (0, agency_id) GROUP BY status "
           "ORDER BY 1, 2",
           out)))
    return rc;
  TESORO__CURSOR_BIND(*out, BIND_I(agency));
  return TESORO_OK;
}

/*
** The payload the host gets for delivery `d` of history row `h`: the head
** (the entity, its id, the event, the summary), then the message's own
** fields, then, for a calendar message, the appointment as it was at `h`:
** its state and version from `h`, the completion, end and no-show only if
** `h` is at or after them (each happens once, in that order of the
** machine), the start the message was sent for, everything else from the
** appointment (fixed once it exists, or erased by a privacy erasure).
** Objects are joined as text without their braces: the head's last member
** is a string, so rtrim() takes its '}' alone.
*/
#define TESORO__OUTBOX_PAYLOAD                                                \
  "rtrim(json_object('entity', " TESORO__ENTITY_NAME_SQL("h.entity") ", "     \
  "'entity_id', h.entity_id, 'event', h.event, 'summary', d.summary), '}') "  \
  "|| coalesce(',' || substr(d.payload, 2, length(d.payload) - 2), '') || "   \
  "iif(d.kind = 'calendar', coalesce((SELECT ',' || substr(j, 2, length(j) "  \
  "- 2) FROM (SELECT json_object('id', a.id, 'agency_id', a.agency_id, "      \
  "'contact_id', a.contact_id, 'deal_id', a.deal_id, 'deal_property_id', "    \
  "a.deal_property_id, 'listing_id', a.listing_id, 'owner_id', a.owner_id, "  \
  "'state', h.to_state, 'version', h.seq, 'status_colour', CASE h.to_state " \
  "WHEN 'pending' THEN 'yellow' WHEN 'confirmed' THEN 'green' WHEN "          \
  "'completed' THEN 'green' ELSE 'red' END, 'type', a.type, 'category', "     \
  "a.category, 'participants', json_array(json_object('contact_id', "         \
  "a.contact_id, 'role', 'client')), 'title', l.title, 'address', "           \
  "l.address, 'ref', l.ref, 'preferred', json(a.preferred), 'end_at', "       \
  "json_extract(d.payload, '$.start_at') + coalesce(json_extract(d.payload, "\
  "'$.duration_s'), a.duration_s), 'completed_at', "                          \
  "iif(h.to_state = 'completed', a.completed_at, NULL), 'completed_by', "     \
  "iif(h.to_state = 'completed', a.completed_by, NULL), 'ended_at', "         \
  "iif(h.to_state = 'cancelled' OR h.to_state = 'rejected', a.ended_at, "     \
  "NULL), 'ended_by', iif(h.to_state = 'cancelled' OR h.to_state = "          \
  "'rejected', a.ended_by, NULL), 'end_reason', iif(h.to_state = "            \
  "'cancelled' OR h.to_state = 'rejected', a.end_reason, NULL), 'no_show', " \
  "h.event = 'record_no_show', 'no_show_at', iif(h.event = "                  \
  "'record_no_show', a.no_show_at, NULL), 'no_show_by', iif(h.event = "       \
  "'record_no_show', a.no_show_by, NULL), 'created_at', a.created_at) AS j "  \
  "FROM appointment a JOIN listing l ON l.id = a.listing_id WHERE a.id = "    \
  "h.entity_id AND h.entity = " TESORO__SQL_ENTITY(APPOINTMENT) ")), ''), '') || '}'"

TESORO_API int tesoro_outbox_fetch(tesoro *t, int64_t agency, int limit,
                                   tesoro_cursor **out) {
  sqlite3_stmt *s;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__list_args(t, out, "limit", limit, 1, 10000))) return rc;
  if (agency < 0) return tesoro__fail(t, TESORO_EINVAL, "agency must be >= 0");
  if (agency) {
    tesoro__actor system;
    if ((rc = tesoro__agency_actor(t, agency, "system", &system))) return rc;
  }
  if ((s = TESORO__STMT(t, S_OUTBOX_FLOOR, BIND_I(t->outbox_floor))) == NULL)
    return t->rc;
  if ((rc = tesoro__int(t, s, &t->outbox_floor)) != TESORO_OK)
    return rc < 0 ? rc : TESORO_EDB;
  if ((rc = tesoro__cursor_new(
           t,
           /* the due messages (first attempts from the floor on, retries
           ** from outbox_retry), then their deliveries, each rendered
           ** (TESORO__OUTBOX_PAYLOAD) */
           "SELECT d.id, CAST(d.id AS TEXT) AS uid, d.agency_id, d.kind, "
           "coalesce(d.recipient_id, 0) AS recipient_id, d.channel, "
           "d.template, " TESORO__LANGUAGE("rp", "rc") " AS language, "
           TESORO__OUTBOX_PAYLOAD " AS payload, h.entity, h.entity_id, "
           "h.event, h.from_state AS old_state, h.to_state AS new_state, "
           "h.seq, d.attempts, d.created_at "
           "FROM outbox_delivery d JOIN history h ON h.entity = d.entity AND "
           "h.entity_id = d.entity_id AND h.seq = d.seq "
           "LEFT JOIN actor ra ON ra.id = d.recipient_id "
           "LEFT JOIN contact rc ON rc.id = ra.contact_id "
           "LEFT JOIN portal_account rp ON rp.contact_id = rc.id "
           "WHERE d.message_id IN (SELECT id FROM (SELECT id, next_attempt_at "
           "FROM outbox WHERE id >= ?4 AND status = 'pending' AND attempts = 0 "
           "AND next_attempt_at <= ?1 AND (?2 = 0 OR agency_id = ?2) UNION "
           "ALL SELECT id, next_attempt_at FROM outbox WHERE status = "
           "'pending' AND attempts > 0 AND next_attempt_at <= ?1 AND (?2 = 0 "
           "OR agency_id = ?2)) ORDER BY next_attempt_at, id LIMIT ?3) "
           "AND d.status = 'pending' "
           "ORDER BY d.next_attempt_at, d.id LIMIT ?3",
           out)))
    return rc;
  TESORO__CURSOR_BIND(*out, BIND_I(tesoro__now(t)), BIND_I(agency),
                      BIND_I(limit), BIND_I(t->outbox_floor));
  return TESORO_OK;
}

TESORO__ENTITY_LIST(tesoro_deal_properties, DEAL,
    "SELECT p.id, p.listing_id, p.state, p.favourite, l.title, l.address, "
    "l.price, l.ref, " TESORO__LISTING_PHOTO " AS photo_id, p.created_at, "
    "p.version FROM deal_property p JOIN listing l ON l.id = p.listing_id "
    "WHERE p.deal_id = ?2 ORDER BY p.created_at DESC, p.id DESC")

TESORO__ENTITY_LIST(tesoro_appointment_notes, APPOINTMENT,
    "SELECT id, author_id, body, created_at FROM appointment_note "
    "WHERE appointment_id = ?2 ORDER BY id")

TESORO_API int tesoro_client_appointments(tesoro *t, int64_t actor, int list,
                                          tesoro_cursor **out) {
  tesoro__actor a;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__list_args(t, out, "appointment list", list,
                              TESORO_LIST_UPCOMING, TESORO_LIST_UNCONFIRMED)) ||
      (rc = tesoro__actor_as(t, actor, R_CLIENT,
                             "list their own appointments", &a)) ||
      (rc = tesoro__portal_gate(t, &a, 0)))
    return rc;
  /* One text per list, each a search of appointment_client (contact):
  ** a client has few appointments, sorted once found. */
#define TESORO__CLIENT_APPOINTMENTS                                           \
  "SELECT a.id, a.state, " TESORO__STATUS_COLOUR " AS status_colour, "        \
  "a.deal_id, a.deal_property_id, a.listing_id, l.title, "                    \
  TESORO__LISTING_PHOTO " AS photo_id, a.preferred, a.start_at, "             \
  "l.price, g.currency, l.ref, l.address, a.rating, a.version "               \
  "FROM appointment a JOIN listing l ON l.id = a.listing_id "                 \
  "JOIN agency g ON g.id = a.agency_id WHERE a.contact_id = ?1 AND "
  static const char *const lists[] = {
      TESORO__CLIENT_APPOINTMENTS
      "a.state = 'confirmed' AND a.start_at > ?2 ORDER BY a.start_at, a.id",
      TESORO__CLIENT_APPOINTMENTS
      "(a.state IN ('completed', 'cancelled', 'rejected') OR "
      "(a.state = 'confirmed' AND a.start_at <= ?2)) "
      "ORDER BY " TESORO__APPOINTMENT_AT " DESC, a.id DESC",
      TESORO__CLIENT_APPOINTMENTS
      "a.state = 'pending' AND ?2 IS NOT NULL "
      "ORDER BY " TESORO__APPOINTMENT_AT ", a.id"};
#undef TESORO__CLIENT_APPOINTMENTS
  if ((rc = tesoro__cursor_new(t, lists[list - TESORO_LIST_UPCOMING], out)))
    return rc;
  TESORO__CURSOR_BIND(*out, BIND_I(a.contact), BIND_I(tesoro__now(t)));
  return TESORO_OK;
}

TESORO_API int tesoro_agent_appointments(tesoro *t, int64_t actor,
                                         int64_t agent, int state,
                                         int64_t from, int64_t to,
                                         tesoro_cursor **out) {
  tesoro__actor a, owner;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__list_args(t, out, "appointment state", state, 0,
                              COUNT(tesoro__appointment_states))))
    return rc;
  if (from < 0 || to < 0 || (from && to && to <= from))
    return tesoro__fail(t, TESORO_EINVAL,
                        "the range [from, to) must be >= 0 and not empty");
  if ((rc = tesoro__actor_as(t, actor, R_STAFF,
                             "list an agent's appointments", &a)) ||
      (rc = tesoro__staff_of(t, &a, agent, &owner)))
    return rc;
  if ((rc = tesoro__cursor_new(
           t,
           "SELECT a.id, a.state, " TESORO__STATUS_COLOUR " AS status_colour, "
           TESORO__APPOINTMENT_AT " AS at, a.start_at, a.preferred, "
           "a.contact_id, c.name AS contact_name, a.deal_id, a.listing_id, "
           "l.title, l.address, l.ref, a.no_show_at IS NOT NULL AS no_show, "
           "a.rating, a.version FROM appointment a JOIN listing l ON l.id = "
           "a.listing_id JOIN contact c ON c.id = a.contact_id "
           "WHERE a.owner_id = ?1 AND (?2 IS NULL OR a.state = ?2) "
           "AND (?3 = 0 OR " TESORO__APPOINTMENT_AT " >= ?3) "
           "AND (?4 = 0 OR " TESORO__APPOINTMENT_AT " < ?4) ORDER BY at, a.id",
           out)))
    return rc;
  TESORO__CURSOR_BIND(*out, BIND_I(owner.id),
                      BIND_T(state ? tesoro__appointment_states[state - 1]
                                   : NULL),
                      BIND_I(from), BIND_I(to));
  return TESORO_OK;
}

TESORO__ENTITY_LIST(tesoro_referral_notes, REFERRAL,
    "SELECT id, author_id, body, created_at FROM referral_note "
    "WHERE referral_id = ?2 ORDER BY id")

TESORO_API int tesoro_referrals(tesoro *t, int64_t actor, int filter, int stage,
                                int64_t agent, tesoro_cursor **out) {
  tesoro__actor a, owner;
  int rc;
  TESORO__ENTER(t);
  if ((rc = tesoro__list_args(t, out, "referral filter", filter,
                              TESORO_REFERRALS_ALL, TESORO_REFERRALS_CLOSED)))
    return rc;
  if (stage != 0 && tesoro__stage_to_state(stage) < 0)
    return tesoro__fail(t, TESORO_EINVAL, "unknown referral stage %d", stage);
  if ((rc = tesoro__actor_as(t, actor, R_STAFF, "list referrals", &a)) ||
      (agent && (rc = tesoro__staff_of(t, &a, agent, &owner))))
    return rc;
  if ((rc = tesoro__cursor_new(
           t,
           "SELECT r.id, r.contact_id, c.name AS contact_name, r.agent_id, "
           "r.state AS stage, r.last_active_stage, r.attempted_via, "
           "r.contacted_via, r.meeting_at, r.list_date, "
           "r.sale_price, r.close_date, r.fee_bp, r.fee_owed, r.paid_amount, "
           "r.created_at, r.version FROM referral r JOIN contact c ON c.id = "
           "r.contact_id WHERE r.agency_id = ?1 AND CASE ?2 "
           "WHEN 1 THEN r.state NOT IN ('closed', 'closed_paid', 'failed') "
           "WHEN 2 THEN r.state = 'failed' "
           "WHEN 3 THEN r.state IN ('closed', 'closed_paid') ELSE 1 END "
           "AND (?3 IS NULL OR r.state = ?3) AND (?4 = 0 OR r.agent_id = ?4) "
           "ORDER BY r.created_at DESC, r.id DESC",
           out)))
    return rc;
  TESORO__CURSOR_BIND(
      *out, BIND_I(a.agency), BIND_I(filter),
      BIND_T(stage ? tesoro__referral_states[tesoro__stage_to_state(stage)]
                   : NULL),
      BIND_I(agent));
  return TESORO_OK;
}

TESORO_API int tesoro_referral_pipeline(tesoro *t, int64_t actor, int64_t agent,
                                        tesoro_cursor **out) {
  tesoro__actor a, owner;
  char stages[256];
  int rc, used = 0;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out, "out")) ||
      (rc = tesoro__actor_as(t, actor, R_STAFF,
                             "see the referral pipeline", &a)) ||
      (agent && (rc = tesoro__staff_of(t, &a, agent, &owner))))
    return rc;
  /* The stages come from the machine's own table, in its order, as a JSON
  ** array of [number, name]. */
  for (int i = 0; i < COUNT(tesoro__referral_states); i++)
    used += snprintf(stages + used, sizeof stages - (size_t)used,
                     "%s[%d,\"%s\"]", i ? "," : "[", tesoro__state_stage[i],
                     tesoro__referral_states[i]);
  snprintf(stages + used, sizeof stages - (size_t)used, "]");
  /* Two texts, not "(?2 = 0 OR agent_id = ?2)": each count is then read
  ** from its own index alone, (agency_id, state) or (agent_id, state); the
  ** agent's agency needs no test, tesoro__staff_of checked it. */
  if ((rc = tesoro__cursor_new(
           t,
           agent ? "SELECT s.value ->> 0 AS stage, s.value ->> 1 AS name, "
                   "(SELECT count(*) FROM referral r WHERE r.agent_id = ?2 "
                   "AND r.state = s.value ->> 1 AND ?1 > 0) AS count "
                   "FROM json_each(?3) s ORDER BY s.key"
                 : "SELECT s.value ->> 0 AS stage, s.value ->> 1 AS name, "
                   "(SELECT count(*) FROM referral r WHERE r.agency_id = ?1 "
                   "AND r.state = s.value ->> 1) AS count FROM json_each(?3) s "
                   "ORDER BY s.key",
           out)))
    return rc;
  sqlite3_bind_int64(tesoro__cursor_stmt(*out), 1, a.agency);
  sqlite3_bind_int64(tesoro__cursor_stmt(*out), 2, agent);
  return tesoro__cursor_text(t, out, 3, stages);
}

/* --- iCalendar (RFC 5545) --- */

/* Append one content line, folded: no physical line longer than 75 octets,
** continuation lines start with a space, and a fold never falls inside a
** UTF-8 sequence (continuation bytes are 10xxxxxx). */
static void tesoro__ics_line(sqlite3_str *out, const char *line) {
  size_t width = 0;
  for (const unsigned char *p = (const unsigned char *)line; *p;) {
    size_t len = 1;
    while ((p[len] & 0xC0) == 0x80) len++;
    if (width + len > 75) {
      sqlite3_str_appendall(out, "\r\n ");
      width = 1;
    }
    sqlite3_str_append(out, (const char *)p, (int)len);
    width += len;
    p += len;
  }
  sqlite3_str_appendall(out, "\r\n");
}

/* Append `text` as an escaped TEXT value (§3.3.11): backslash, semicolon
** and comma get a backslash; a newline (LF, CRLF or CR) becomes \n. */
static void tesoro__ics_text(sqlite3_str *out, const char *text) {
  for (const char *p = text ? text : ""; *p; p++) {
    switch (*p) {
    case '\\': sqlite3_str_appendall(out, "\\\\"); break;
    case ';': sqlite3_str_appendall(out, "\\;"); break;
    case ',': sqlite3_str_appendall(out, "\\,"); break;
    case '\r':
      if (p[1] == '\n') p++;
      /* fall through */
    case '\n': sqlite3_str_appendall(out, "\\n"); break;
    default: sqlite3_str_appendchar(out, 1, *p);
    }
  }
}

/* A property line "NAME:value" with the value escaped as TEXT.  Returns
** non-zero when memory ran out. */
static int tesoro__ics_prop(sqlite3_str *out, const char *name,
                            const char *text) {
  sqlite3_str *line = sqlite3_str_new(NULL);
  char *folded;
  sqlite3_str_appendf(line, "%s:", name);
  tesoro__ics_text(line, text);
  if ((folded = sqlite3_str_finish(line)) == NULL) return 1;
  tesoro__ics_line(out, folded);
  sqlite3_free(folded);
  return 0;
}

static void tesoro__ics_time(sqlite3_str *out, const char *name, int64_t at) {
  int f[6];
  char line[64];
  tesoro__utc_fields(at, f);
  snprintf(line, sizeof line, "%s:%04d%02d%02dT%02d%02d%02dZ", name, f[0], f[1],
           f[2], f[3], f[4], f[5]);
  tesoro__ics_line(out, line);
}

/* Append `text` with every control character dropped: TEXT values
** (RFC 5545 §3.3.11) allow none but the newline, which is escaped. */
static void tesoro__ics_clean(sqlite3_str *out, const char *text) {
  for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p;
       p++)
    if ((*p >= 0x20 && *p != 0x7F) || *p == '\n' || *p == '\r')
      sqlite3_str_appendchar(out, 1, (char)*p);
}

/*
** Append the VEVENT of the appointment in the row of `s`
** (TESORO__ICS_COLUMNS), with `link` (may be NULL) in its description and,
** when `alarm`, a VALARM 30 minutes before.  Returns non-zero when memory
** ran out.
*/
static int tesoro__ics_event(tesoro *t, sqlite3_stmt *s, sqlite3_str *ics,
                             const char *link, int alarm) {
  const char *state = (const char *)sqlite3_column_text(s, 0);
  int64_t at = sqlite3_column_int64(s, 1), duration = sqlite3_column_int64(s, 2);
  int64_t version = sqlite3_column_int64(s, 3), price = sqlite3_column_int64(s, 6);
  const char *title = (const char *)sqlite3_column_text(s, 4);
  const char *address = (const char *)sqlite3_column_text(s, 5);
  const char *ref = (const char *)sqlite3_column_text(s, 7);
  const char *currency = (const char *)sqlite3_column_text(s, 8);
  sqlite3_str *desc = sqlite3_str_new(NULL), *sum = sqlite3_str_new(NULL);
  sqlite3_str *loc = sqlite3_str_new(NULL);
  char line[160], *description, *summary, *location;
  int oom;
  const char *status = state == NULL ? "CANCELLED"
                       : strcmp(state, "pending") == 0 ? "TENTATIVE"
                       : strcmp(state, "confirmed") == 0 ||
                               strcmp(state, "completed") == 0
                           ? "CONFIRMED"
                           : "CANCELLED";
  tesoro__ics_clean(desc, title ? title : "Property");
  sqlite3_str_appendf(desc, "\nPrice: %s %lld.%02lld\nReference: %s", currency,
                      (long long)(price / 100), (long long)(price % 100), ref);
  if (address) {
    sqlite3_str_appendall(desc, "\nAddress: ");
    tesoro__ics_clean(desc, address);
    tesoro__ics_clean(loc, address);
  }
  if (tesoro__opt(link)) {
    sqlite3_str_appendall(desc, "\n");
    tesoro__ics_clean(desc, link);
  }
  tesoro__ics_clean(sum, title ? title : "Property");
  sqlite3_str_appendall(sum, " Property Viewing");
  /* an empty string finishes as NULL: only the error code tells memory */
  oom = sqlite3_str_errcode(desc) || sqlite3_str_errcode(sum) ||
        sqlite3_str_errcode(loc);
  description = sqlite3_str_finish(desc);
  summary = sqlite3_str_finish(sum);
  location = sqlite3_str_finish(loc);

  tesoro__ics_line(ics, "BEGIN:VEVENT");
  snprintf(line, sizeof line, "UID:appointment-%lld-%s@tesoro",
           (long long)sqlite3_column_int64(s, 9),
           (const char *)sqlite3_column_text(s, 10));
  tesoro__ics_line(ics, line);
  snprintf(line, sizeof line, "SEQUENCE:%lld", (long long)(version - 1));
  tesoro__ics_line(ics, line);
  tesoro__ics_time(ics, "DTSTAMP", tesoro__now(t));
  tesoro__ics_time(ics, "DTSTART", at);
  tesoro__ics_time(ics, "DTEND", at + duration);
  oom = oom || tesoro__ics_prop(ics, "SUMMARY", summary) ||
        (address && tesoro__ics_prop(ics, "LOCATION", location)) ||
        tesoro__ics_prop(ics, "DESCRIPTION", description);
  snprintf(line, sizeof line, "STATUS:%s", status);
  tesoro__ics_line(ics, line);
  if (alarm) {
    tesoro__ics_line(ics, "BEGIN:VALARM");
    tesoro__ics_line(ics, "ACTION:DISPLAY");
    oom |= tesoro__ics_prop(ics, "DESCRIPTION", "Property viewing in 30 minutes");
    tesoro__ics_line(ics, "TRIGGER:-PT30M");
    tesoro__ics_line(ics, "END:VALARM");
  }
  tesoro__ics_line(ics, "END:VEVENT");
  sqlite3_free(description);
  sqlite3_free(summary);
  sqlite3_free(location);
  return oom;
}

static void tesoro__ics_begin(sqlite3_str *ics) {
  tesoro__ics_line(ics, "BEGIN:VCALENDAR");
  tesoro__ics_line(ics, "VERSION:2.0");
  tesoro__ics_line(ics, "PRODID:-//tesoro//tesoro " TESORO_VERSION "//EN");
  tesoro__ics_line(ics, "CALSCALE:GREGORIAN");
  tesoro__ics_line(ics, "METHOD:PUBLISH");
}

/* End the calendar and hand its text out (or report memory running out). */
static int tesoro__ics_end(tesoro *t, sqlite3_str *ics, int oom, char **out) {
  char *text;
  tesoro__ics_line(ics, "END:VCALENDAR");
  oom |= sqlite3_str_errcode(ics) != SQLITE_OK;
  text = sqlite3_str_finish(ics);
  if (oom || text == NULL) {
    sqlite3_free(text);
    return tesoro__fail(t, TESORO_ENOMEM, "out of memory");
  }
  *out = text;
  return TESORO_OK;
}

TESORO_API int tesoro_appointment_ics(tesoro *t, int64_t actor,
                                      int64_t appointment, const char *link,
                                      char **out) {
  tesoro__actor a;
  sqlite3_stmt *s;
  sqlite3_str *ics;
  int rc, oom;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out, "out")) ||
      (rc = tesoro__text(t, "link", link, TESORO_MAX_SHORT, 0)) ||
      (rc = tesoro__actor_load(t, actor, &a)) ||
      (rc = tesoro__reach_entity(t, &a, TESORO_ENTITY_APPOINTMENT, appointment)))
    return rc;
  if ((rc = TESORO__ROW(t, &s, S_APPOINTMENT_ICS_FACTS, BIND_I(appointment))))
    return rc;
  ics = sqlite3_str_new(NULL);
  tesoro__ics_begin(ics);
  oom = tesoro__ics_event(t, s, ics, link, 1);
  sqlite3_reset(s);
  return tesoro__ics_end(t, ics, oom, out);
}

TESORO_API int tesoro_calendar_feed(tesoro *t, int64_t actor, int64_t subject,
                                    char **out_ics) {
  tesoro__actor a, who;
  sqlite3_stmt *s;
  sqlite3_str *ics;
  int rc, oom = 0;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_ics, "out_ics")) ||
      (rc = tesoro__actor_load(t, actor, &a)) ||
      (rc = tesoro__actor_load(t, subject, &who)))
    return rc;
  if (who.agency != a.agency)
    return tesoro__fail(t, TESORO_EDENIED,
                        "actor %lld belongs to another agency than actor %lld",
                        (long long)subject, (long long)actor);
  if (who.kind != TESORO_ACTOR_AGENT && who.kind != TESORO_ACTOR_CLIENT)
    return tesoro__fail(t, TESORO_EINVAL,
                        "actor %lld is the %s, which has no calendar",
                        (long long)subject, tesoro__actor_kinds[who.kind]);
  if (a.id != who.id && !(a.bit & R_ADMIN))
    return tesoro__fail(t, TESORO_EDENIED,
                        "only actor %lld itself or an admin of its agency reads "
                        "its calendar", (long long)subject);
  /* a client's feed is a portal call */
  if (who.kind == TESORO_ACTOR_CLIENT && (rc = tesoro__portal_gate(t, &who, 0)))
    return rc;
  if ((s = TESORO__STMT(t, S_CALENDAR_FEED,
                        BIND_I(who.kind == TESORO_ACTOR_AGENT ? who.id : 0),
                        BIND_I(who.kind == TESORO_ACTOR_CLIENT ? who.contact
                                                               : 0))) == NULL)
    return t->rc;
  ics = sqlite3_str_new(NULL);
  tesoro__ics_begin(ics);
  while (!oom && (rc = tesoro__row(t, s)) == TESORO_ROW)
    oom = tesoro__ics_event(t, s, ics, NULL, 0);
  sqlite3_reset(s);
  if (rc < 0 && !oom) {
    sqlite3_free(sqlite3_str_finish(ics));
    return rc;
  }
  return tesoro__ics_end(t, ics, oom, out_ics);
}

/*
** The allowed-events query: for each event of the machine, run the engine's
** own checks (state row, role, guard without arguments) without writing,
** and collect the verdicts into a JSON array the cursor then reads.
*/
TESORO_API int tesoro_allowed_events(tesoro *t, int64_t actor, int entity, int64_t id,
                              tesoro_cursor **out) {
  tesoro__actor a;
  tesoro__ctx c;
  sqlite3_stmt *s;
  char *json = NULL, why[TESORO__MSG_MAX];
  int rc;
  const tesoro__machine *m = tesoro__machine_of(entity);
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out, "out"))) return rc;
  if (m == NULL)
    return tesoro__fail(t, TESORO_EINVAL, "entity kind %d has no state machine",
                        entity);
  if ((rc = tesoro__entity_read(t, actor, m, id, 1, &a, &c))) return rc;
  json = TESORO_MALLOC(3);
  if (json == NULL) return tesoro__fail(t, TESORO_ENOMEM, "out of memory");
  memcpy(json, "[]", 3);
  for (int e = 0; e < c.m->nevents && rc == TESORO_OK; e++) {
    const tesoro__trans *row = NULL;
    const char *to = NULL;
    int verdict, moves = 0;
    for (int i = 0; i < m->nrows; i++) /* a creation is not a move */
      moves |= m->rows[i].event == e && m->rows[i].from != TESORO__NEW;
    if (!moves) continue;
    c.event = e;
    verdict = tesoro__match(&c, &row);
    if (verdict == TESORO_OK && row->guard) verdict = row->guard(&c);
    if (verdict < 0 && verdict != TESORO_ESTATE && verdict != TESORO_EDENIED &&
        verdict != TESORO_EGUARD) {
      rc = verdict; /* a real failure, not a "no" */
      break;
    }
    if (row) to = c.m->states[row->to == TESORO__SAME ? c.from : row->to];
    if ((s = tesoro__stmt(t, S_JSON_APPEND)) == NULL) { rc = t->rc; break; }
    sqlite3_bind_text(s, 1, json, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, c.m->events[e], -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, to, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, verdict == TESORO_OK);
    sqlite3_bind_int(s, 5, verdict);
    if (verdict) { /* the refusal's words, kept from what the step may write */
      snprintf(why, sizeof why, "%s", t->msg);
      sqlite3_bind_text(s, 6, why, -1, SQLITE_STATIC);
    }
    {
      char *next = NULL;
      rc = tesoro__text_out(t, s, &next);
      TESORO_FREE(json);
      json = next;
    }
  }
  if (rc == TESORO_OK)
    rc = tesoro__cursor_new(
        t,
        "SELECT json_extract(value, '$.event') AS event, "
        "json_extract(value, '$.to_state') AS to_state, "
        "json_extract(value, '$.allowed') AS allowed, "
        "json_extract(value, '$.code') AS code, "
        "json_extract(value, '$.reason') AS reason "
        "FROM json_each(?1) ORDER BY key",
        out);
  if (rc == TESORO_OK && (rc = tesoro__cursor_text(t, out, 1, json)) == 0)
    tesoro__ok(t);
  TESORO_FREE(json);
  return rc;
}

/* =========================================================================
** 20. Cursors
**
** A cursor steps one prepared statement like sqlite3_step.  The statement
** comes from the handle's cursor cache when one with the same SQL text is
** free (compared as text: generated SQL may come from different buffers),
** and goes back to it, reset, when the cursor is freed; so the lists a host
** reads again and again are prepared once per handle.  The handle keeps a
** list of its cursors so that closing it can finalise every statement; an
** orphaned cursor answers TESORO_EMISUSE until freed.
*/
struct tesoro_cursor {
  tesoro *t;
  sqlite3_stmt *stmt;
  tesoro_cursor *next, *prev;
  int done;
  int slot; /* 1 + its index in t->cursor_cache, or 0: not cached */
};

static sqlite3_stmt *tesoro__cursor_stmt(tesoro_cursor *c) { return c->stmt; }

static int tesoro__cursor_new(tesoro *t, const char *sql, tesoro_cursor **out) {
  tesoro_cursor *c = TESORO_MALLOC(sizeof *c);
  int src;
  if (c == NULL) return tesoro__fail(t, TESORO_ENOMEM, "out of memory");
  memset(c, 0, sizeof *c);
  for (int i = 0; i < COUNT(t->cursor_cache) && !c->slot; i++) {
    struct tesoro__cursor_slot *slot = &t->cursor_cache[i];
    if (slot->stmt && !slot->busy && strcmp(sqlite3_sql(slot->stmt), sql) == 0) {
      slot->busy = 1;
      c->stmt = slot->stmt;
      c->slot = i + 1;
    }
  }
  if (!c->slot) {
    src = sqlite3_prepare_v3(t->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                             &c->stmt, NULL);
    if (src != SQLITE_OK) {
      TESORO_FREE(c);
      return tesoro__dberr(t, src);
    }
    for (int i = 0; i < COUNT(t->cursor_cache) && !c->slot; i++) {
      if (t->cursor_cache[i].stmt == NULL) {
        t->cursor_cache[i].stmt = c->stmt;
        t->cursor_cache[i].busy = 1;
        c->slot = i + 1;
      }
    }
  }
  c->t = t;
  c->next = t->cursors;
  if (t->cursors) t->cursors->prev = c;
  t->cursors = c;
  *out = c;
  return TESORO_OK;
}

static void tesoro__cursors_orphan(tesoro *t) {
  tesoro_cursor *c = t->cursors;
  while (c) {
    tesoro_cursor *next = c->next;
    if (!c->slot) sqlite3_finalize(c->stmt);
    c->stmt = NULL;
    c->t = NULL;
    c->next = c->prev = NULL;
    c = next;
  }
  t->cursors = NULL;
  for (int i = 0; i < COUNT(t->cursor_cache); i++) {
    sqlite3_finalize(t->cursor_cache[i].stmt);
    t->cursor_cache[i].stmt = NULL;
  }
}

TESORO_API int tesoro_cursor_next(tesoro_cursor *c) {
  int src;
  if (c == NULL || c->t == NULL) return TESORO_EMISUSE;
  if (c->done) return TESORO_DONE;
  src = sqlite3_step(c->stmt);
  if (src == SQLITE_ROW) return TESORO_ROW;
  c->done = 1;
  sqlite3_reset(c->stmt); /* ends the read transaction now, not at free */
  if (src == SQLITE_DONE) return TESORO_DONE;
  return tesoro__dberr(c->t, src);
}

TESORO_API int tesoro_cursor_columns(tesoro_cursor *c) {
  return c && c->stmt ? sqlite3_column_count(c->stmt) : 0;
}

static int tesoro__col_ok(tesoro_cursor *c, int col) {
  return c && c->stmt && !c->done && col >= 0 &&
         col < sqlite3_column_count(c->stmt);
}

TESORO_API const char *tesoro_cursor_name(tesoro_cursor *c, int col) {
  if (!c || !c->stmt || col < 0 || col >= sqlite3_column_count(c->stmt))
    return NULL;
  return sqlite3_column_name(c->stmt, col);
}

TESORO_API int tesoro_cursor_index(tesoro_cursor *c, const char *name) {
  if (!c || !c->stmt || !name) return -1;
  for (int i = 0; i < sqlite3_column_count(c->stmt); i++)
    if (strcmp(sqlite3_column_name(c->stmt, i), name) == 0) return i;
  return -1;
}

TESORO_API int64_t tesoro_cursor_int(tesoro_cursor *c, int col) {
  return tesoro__col_ok(c, col) ? sqlite3_column_int64(c->stmt, col) : 0;
}

TESORO_API double tesoro_cursor_double(tesoro_cursor *c, int col) {
  return tesoro__col_ok(c, col) ? sqlite3_column_double(c->stmt, col) : 0.0;
}

TESORO_API const char *tesoro_cursor_text(tesoro_cursor *c, int col) {
  return tesoro__col_ok(c, col) ? (const char *)sqlite3_column_text(c->stmt, col)
                                : NULL;
}

TESORO_API int tesoro_cursor_isnull(tesoro_cursor *c, int col) {
  return !tesoro__col_ok(c, col) ||
         sqlite3_column_type(c->stmt, col) == SQLITE_NULL;
}

TESORO_API int tesoro_cursor_type(tesoro_cursor *c, int col) {
  /* SQLITE_INTEGER .. SQLITE_NULL are 1 .. 5, as TESORO_TYPE_* promise */
  if (!tesoro__col_ok(c, col)) return TESORO_TYPE_NULL;
  return sqlite3_column_type(c->stmt, col);
}

TESORO_API void tesoro_cursor_free(tesoro_cursor *c) {
  if (c == NULL) return;
  if (c->t) {
    if (c->prev) c->prev->next = c->next;
    else c->t->cursors = c->next;
    if (c->next) c->next->prev = c->prev;
    if (c->slot) {
      sqlite3_reset(c->stmt);
      sqlite3_clear_bindings(c->stmt);
      c->t->cursor_cache[c->slot - 1].busy = 0;
    } else {
      sqlite3_finalize(c->stmt);
    }
  }
  TESORO_FREE(c);
}

/* =========================================================================
** 21. Import and export (the agency interchange format)
**
** An agency moves in as a JSON Lines file: a header line, then one record
** per line, each naming its type and the source system's id.  The import
** replays each record through the workflow's own calls (so every field is
** checked exactly as the workflow checks it, and the timers it would have
** planned are planned), with the clock at the record's time and the outbox
** silent, then folds the history those calls wrote into one "imported" row
** per entity it created.  The whole file is one transaction: one bad line
** and nothing is kept.  The export writes the same format.
*/
/* One record's members, as tesoro__json_members found them (a type has at
** most TESORO__REC_MAX: see the asserts under tesoro__import_types). */
#define TESORO__REC_MAX 24
typedef struct tesoro__rec {
  const tesoro__field *fields;
  int n;
  char *text[TESORO__REC_MAX]; /* text, object and array members (JSON) */
  int64_t num[TESORO__REC_MAX]; /* integer and boolean members */
  int given[TESORO__REC_MAX];
  int nomem; /* a text member could not be copied */
} tesoro__rec;

static void tesoro__rec_take(void *ctx, const tesoro__field *f,
                             const tesoro__member *m) {
  tesoro__rec *r = ctx;
  int i = (int)(f - r->fields);
  r->given[i] = 1;
  if (f->type == 'b' || f->type == 'i')
    r->num[i] = m->integer;
  else if ((r->text[i] = sqlite3_mprintf("%s", m->value)) == NULL)
    r->nomem = 1;
}

static void tesoro__rec_free(tesoro__rec *r) {
  for (int i = 0; i < TESORO__REC_MAX; i++) sqlite3_free(r->text[i]);
  memset(r, 0, sizeof *r);
}

/* The member `key` of the record: text (NULL when not given) or number. */
static int tesoro__rec_index(const tesoro__rec *r, const char *key) {
  for (int i = 0; i < r->n; i++)
    if (strcmp(r->fields[i].key, key) == 0) return i;
  return -1;
}
static const char *tesoro__rec_text(const tesoro__rec *r, const char *key) {
  int i = tesoro__rec_index(r, key);
  return i >= 0 ? r->text[i] : NULL;
}
static int64_t tesoro__rec_num(const tesoro__rec *r, const char *key) {
  int i = tesoro__rec_index(r, key);
  return i >= 0 ? r->num[i] : 0;
}

/* The import in progress: the importer, the line, the counts. */
typedef struct tesoro__import {
  tesoro *t;
  tesoro__actor admin;
  int64_t line, imported, present, website;
  int64_t at; /* the record's time */
  const char *type, *external_id;
} tesoro__import;

/* The entity imported as `type` `external_id` (ENOTFOUND names the line's
** reference `what`). */
static int tesoro__import_ref(tesoro__import *im, const char *type,
                              const char *external_id, const char *what,
                              int64_t *out_id) {
  tesoro *t = im->t;
  sqlite3_stmt *s;
  int rc;
  if ((s = TESORO__STMT(t, S_IMPORT_REF, BIND_I(im->admin.agency), BIND_T(type),
                        BIND_T(external_id))) == NULL) return t->rc;
  rc = tesoro__int(t, s, out_id);
  if (rc == TESORO_DONE)
    return tesoro__fail(t, TESORO_ENOTFOUND,
                        "%s \"%.60s\" is not an imported %s (it must come on "
                        "an earlier line)", what, external_id, type);
  return rc;
}

/* The staff actor named by the record's "agent" (the importer if none). */
static int tesoro__import_staff(tesoro__import *im, const tesoro__rec *r,
                                int64_t *out) {
  const char *agent = tesoro__rec_text(r, "agent");
  *out = im->admin.id;
  return agent ? tesoro__import_ref(im, "agent", agent, "agent", out)
               : TESORO_OK;
}

static const tesoro__field tesoro__import_agent_fields[] = {
    {"type", 't', 1, 0, 20},         {"external_id", 't', 1, 0, 200},
    {"at", 'i', 0, 1, INT64_MAX},    {"name", 't', 1, 0, TESORO_MAX_NAME},
    {"email", 'e', 1, 0, 0},         {"role", 't', 1, 0, 20}};

static int tesoro__import_agent(tesoro__import *im, const tesoro__rec *r,
                                int *out_entity, int64_t *out_id) {
  const char *role = tesoro__rec_text(r, "role");
  int i;
  for (i = 1; i < COUNT(tesoro__role_names) &&
              strcmp(tesoro__role_names[i], role) != 0;
       i++) {
  }
  if (i == COUNT(tesoro__role_names))
    return tesoro__fail(im->t, TESORO_EINVAL,
                        "role must be agent, admin or closings");
  *out_entity = 0; /* an actor, not a machine's entity */
  return tesoro_agent_create(im->t, im->admin.id, tesoro__rec_text(r, "name"),
                             tesoro__rec_text(r, "email"), i, out_id);
}

static const tesoro__field tesoro__import_contact_fields[] = {
    {"type", 't', 1, 0, 20},          {"external_id", 't', 1, 0, 200},
    {"at", 'i', 0, 1, INT64_MAX},     {"name", 't', 1, 0, TESORO_MAX_NAME},
    {"email", 'e', 0, 0, 0},          {"phone", 't', 0, 0, TESORO_MAX_PHONE},
    {"language", 't', 0, 0, 16},      {"agent", 't', 0, 0, 200},
    {"consent", 't', 0, 0, 20},       {"consent_text", 't', 0, 0, TESORO_MAX_TEXT}};

static int tesoro__import_contact(tesoro__import *im, const tesoro__rec *r,
                                  int *out_entity, int64_t *out_id) {
  const char *consent = tesoro__rec_text(r, "consent");
  int64_t staff;
  int rc, code = 0;
  if (consent) /* by its name, as tesoro__consents spells it */
    for (code = COUNT(tesoro__consents) - 1;
         code > 0 && strcmp(tesoro__consents[code], consent) != 0; code--) {
    }
  if (consent && code == 0)
    return tesoro__fail(im->t, TESORO_EINVAL,
                        "consent must be granted, denied or not_asked");
  *out_entity = TESORO_ENTITY_CONTACT;
  if ((rc = tesoro__import_staff(im, r, &staff)) ||
      (rc = tesoro_contact_create(im->t, staff, tesoro__rec_text(r, "name"),
                                  tesoro__rec_text(r, "email"),
                                  tesoro__rec_text(r, "phone"),
                                  tesoro__rec_text(r, "language"), out_id)))
    return rc;
  if (code > TESORO_CONSENT_NOT_ASKED)
    rc = tesoro_contact_set_consent(im->t, im->admin.id, *out_id, code,
                                    tesoro__rec_text(r, "consent_text"), 0);
  return rc;
}

static const tesoro__field tesoro__import_listing_fields[] = {
    {"type", 't', 1, 0, 20},        {"external_id", 't', 1, 0, 200},
    {"at", 'i', 0, 1, INT64_MAX},   {"seller", 't', 1, 0, 200},
    {"agent", 't', 0, 0, 200},      {"state", 't', 1, 0, 20},
    {"commission_type", 't', 1, 0, 20},
    {"commission_value", 'i', 1, 1, INT64_MAX},
    {"currency", 't', 0, 0, 3},     {"exclusive", 'b', 1, 0, 1},
    {"duration_days", 'i', 1, 1, 3650},
    {"fields", 'o', 1, 0, 0},
    {"signed_mandate", 't', 1, 0, INT32_MAX}, /* base64 PDF */
    {"form", 'o', 0, 0, 0},                   /* the seller form as sent */
    {"photos", 'A', 0, 0, 0},                 /* [{name, mime, data}] */
    {"ref", 't', 0, 0, 40}};                  /* the export's; not reused */

/* The listing's photos: [{"name", "mime", "data": base64}], each added as
** staff add one (its type checked by its bytes). */
static int tesoro__import_photos(tesoro__import *im, int64_t staff,
                                 int64_t listing, const char *photos) {
  tesoro *t = im->t;
  sqlite3_stmt *s;
  int rc, n = 0;
  if ((s = TESORO__STMT(t, S_IMPORT_PHOTOS, BIND_T(photos))) == NULL)
    return t->rc;
  while ((rc = tesoro__row(t, s)) == TESORO_ROW) {
    const char *name = (const char *)sqlite3_column_text(s, 0);
    const char *mime = (const char *)sqlite3_column_text(s, 1);
    const char *b64 = (const char *)sqlite3_column_text(s, 2);
    size_t b64_len = b64 ? strlen(b64) : 0, len = 0;
    unsigned char *bytes;
    int64_t doc = 0;
    n++;
    if (!sqlite3_column_int(s, 3) || !name || !mime || !b64) {
      rc = tesoro__fail(t, TESORO_EINVAL, "photo %d must be {\"name\", "
                        "\"mime\", \"data\"} (text; data base64)", n);
      break;
    }
    if ((bytes = TESORO_MALLOC(b64_len + 1)) == NULL) {
      rc = tesoro__fail(t, TESORO_ENOMEM, "out of memory");
      break;
    }
    if (sodium_base642bin(bytes, b64_len + 1, b64, b64_len, NULL, &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
      rc = tesoro__fail(t, TESORO_EINVAL, "photo %d: data must be base64", n);
    else /* the cursor stays on this row: document_add runs other statements */
      rc = tesoro_document_add(t, staff, TESORO_ENTITY_LISTING, listing,
                               TESORO_DOC_PHOTO, name, mime, bytes,
                               (int64_t)len, &doc);
    TESORO_FREE(bytes);
    if (rc) break;
  }
  sqlite3_reset(s); /* the loop ends on TESORO_DONE or an error */
  return rc < 0 ? rc : TESORO_OK;
}

/* The seller's client actor, and the room the website would have opened
** (a listing enters through the seller onboarding, as it does in tesoro). */
static int tesoro__import_listing(tesoro__import *im, const tesoro__rec *r,
                                  int *out_entity, int64_t *out_id) {
  const char *state = tesoro__rec_text(r, "state");
  tesoro *t = im->t;
  const char *fields = tesoro__rec_text(r, "fields");
  const char *type = tesoro__rec_text(r, "commission_type");
  const char *b64 = tesoro__rec_text(r, "signed_mandate");
  int64_t contact, staff, room = 0, client = 0, mandate = 0, proposal = 0;
  int64_t doc = 0, task = 0, listing = 0;
  unsigned char *pdf = NULL;
  size_t pdf_len = 0, b64_len = strlen(b64);
  char *form = NULL, *name = NULL, *email = NULL, *phone = NULL;
  char *address = NULL, *ptype = NULL;
  int64_t price = 0;
  sqlite3_stmt *s;
  int rc, commission;
  if (strcmp(state, "draft") != 0 && strcmp(state, "published") != 0 &&
      strcmp(state, "unpublished") != 0)
    return tesoro__fail(t, TESORO_EINVAL,
                        "state must be draft, published or unpublished");
  commission = strcmp(type, "percentage") == 0 ? TESORO_COMMISSION_PERCENTAGE
               : strcmp(type, "fixed") == 0    ? TESORO_COMMISSION_FIXED
                                               : 0;
  if (commission == 0)
    return tesoro__fail(t, TESORO_EINVAL,
                        "commission_type must be percentage or fixed");
  if ((rc = tesoro__import_ref(im, "contact", tesoro__rec_text(r, "seller"),
                               "seller", &contact)) ||
      (rc = tesoro__import_staff(im, r, &staff)))
    return rc;
  /* the seller form, from the contact and the listing's fields */
  if ((rc = TESORO__ROW(t, &s, S_IMPORT_SELLER, BIND_I(contact),
                        BIND_T(fields)))) return rc;
  name = sqlite3_mprintf("%s", sqlite3_column_text(s, 0));
  if (sqlite3_column_type(s, 1) != SQLITE_NULL)
    email = sqlite3_mprintf("%s", sqlite3_column_text(s, 1));
  if (sqlite3_column_type(s, 2) != SQLITE_NULL)
    phone = sqlite3_mprintf("%s", sqlite3_column_text(s, 2));
  if (sqlite3_column_type(s, 3) != SQLITE_NULL)
    address = sqlite3_mprintf("%s", sqlite3_column_text(s, 3));
  ptype = sqlite3_mprintf("%s", sqlite3_column_text(s, 4));
  price = sqlite3_column_int64(s, 5);
  form = sqlite3_mprintf("%s", tesoro__rec_text(r, "form")
                                   ? tesoro__rec_text(r, "form")
                                   : (const char *)sqlite3_column_text(s, 6));
  sqlite3_reset(s);
  rc = TESORO_OK;
  pdf = TESORO_MALLOC(b64_len + 1);
  if (name == NULL || ptype == NULL || form == NULL || pdf == NULL)
    rc = tesoro__fail(t, TESORO_ENOMEM, "out of memory");
  else if (email == NULL || address == NULL)
    rc = tesoro__fail(t, TESORO_EINVAL,
                      "the seller needs an e-mail and the fields an address "
                      "(the seller onboarding asks for both)");
  else if (sodium_base642bin(pdf, b64_len + 1, b64, b64_len, NULL, &pdf_len,
                             NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
    rc = tesoro__fail(t, TESORO_EINVAL, "signed_mandate must be base64");
  if (rc == TESORO_OK)
    rc = tesoro_contact_request_submit(
        t, im->website, name, email, tesoro__property_type(ptype), address,
        price > 0 ? price : 0, NULL, NULL, &room, NULL);
  if (rc == TESORO_OK)
    rc = tesoro_contact_client_actor(t, im->admin.id, contact, &client);
  if (rc == TESORO_OK)
    rc = tesoro_room_start_onboarding(t, staff, room, 0, 0, &mandate);
  if (rc == TESORO_OK)
    rc = tesoro_mandate_propose(
        t, staff, mandate, commission, tesoro__rec_num(r, "commission_value"),
        tesoro__rec_text(r, "currency"), (int)tesoro__rec_num(r, "exclusive"),
        (int)tesoro__rec_num(r, "duration_days"), 0, &proposal);
  if (rc == TESORO_OK)
    rc = tesoro_mandate_accept(t, client, mandate, proposal, 0, NULL);
  if (rc == TESORO_OK) rc = tesoro_mandate_share_form(t, staff, mandate, 0);
  if (rc == TESORO_OK)
    rc = tesoro_document_add(t, client, TESORO_ENTITY_MANDATE, mandate,
                             TESORO_DOC_SIGNED_MANDATE, "signed-mandate.pdf",
                             "application/pdf", pdf, (int64_t)pdf_len, &doc);
  if (rc == TESORO_OK)
    rc = tesoro_mandate_submit_form(t, client, mandate, form, 0);
  if (rc == TESORO_OK && (s = tesoro__stmt(t, S_IMPORT_REVIEW_TASK)) == NULL)
    rc = t->rc;
  if (rc == TESORO_OK) {
    sqlite3_bind_int64(s, 1, mandate);
    rc = tesoro__int(t, s, &task);
    rc = rc == TESORO_OK ? tesoro_task_complete(t, staff, task, 0)
                         : rc < 0 ? rc : TESORO_EDB;
  }
  if (rc == TESORO_OK)
    rc = tesoro_mandate_validate(t, staff, mandate, 0, &listing);
  if (rc == TESORO_OK) rc = tesoro_listing_update(t, staff, listing, fields, 0);
  if (rc == TESORO_OK && tesoro__rec_text(r, "photos"))
    rc = tesoro__import_photos(im, staff, listing,
                               tesoro__rec_text(r, "photos"));
  if (rc == TESORO_OK && strcmp(state, "draft") != 0)
    rc = tesoro_listing_publish(t, staff, listing, 0);
  if (rc == TESORO_OK && strcmp(state, "unpublished") == 0)
    rc = tesoro_listing_unpublish(t, staff, listing, 0);
  sqlite3_free(name);
  sqlite3_free(email);
  sqlite3_free(phone);
  sqlite3_free(address);
  sqlite3_free(ptype);
  sqlite3_free(form);
  TESORO_FREE(pdf);
  *out_entity = TESORO_ENTITY_LISTING;
  *out_id = listing;
  return rc;
}

static const tesoro__field tesoro__import_appointment_fields[] = {
    {"type", 't', 1, 0, 20},        {"external_id", 't', 1, 0, 200},
    {"at", 'i', 0, 1, INT64_MAX},   {"contact", 't', 1, 0, 200},
    {"listing", 't', 1, 0, 200},    {"agent", 't', 0, 0, 200},
    {"state", 't', 1, 0, 20},       {"preferred", 'A', 1, 0, 0},
    {"start_at", 'i', 0, 1, INT64_MAX},
    {"duration_s", 'i', 0, 1, INT64_MAX},
    {"end_reason", 't', 0, 0, TESORO_MAX_REASON},
    {"rating", 'i', 0, 1, 5},
    {"cancelled_by", 't', 0, 0, 20},      /* "client" or "agency" */
    {"notes", 'A', 0, 0, 0},              /* the client's, after it */
    {"no_show", 'b', 0, 0, 1}};           /* the client did not come */

/* The strings of a JSON array (`what` names it in errors), copied:
** *out (sqlite3_free each and the array), *out_n of them. */
static int tesoro__import_strings(tesoro *t, const char *json, const char *what,
                                  char ***out, int *out_n) {
  sqlite3_stmt *s = tesoro__stmt(t, S_JSON_MEMBERS);
  int rc, n = 0;
  *out = NULL;
  *out_n = 0;
  if (s == NULL) return t->rc;
  sqlite3_bind_text(s, 1, json, -1, SQLITE_STATIC);
  while ((rc = tesoro__row(t, s)) == TESORO_ROW) {
    char **more;
    if (strcmp((const char *)sqlite3_column_text(s, 1), "text") != 0 ||
        n == 64) {
      rc = tesoro__fail(t, TESORO_EINVAL, "%s must be up to 64 strings", what);
      break;
    }
    if ((more = sqlite3_realloc64(*out, sizeof *more * (size_t)(n + 1))) == NULL ||
        (more[n] = sqlite3_mprintf("%s", sqlite3_column_text(s, 2))) == NULL) {
      if (more) *out = more;
      rc = tesoro__fail(t, TESORO_ENOMEM, "out of memory");
      break;
    }
    *out = more;
    *out_n = ++n;
  }
  sqlite3_reset(s);
  return rc < 0 ? rc : TESORO_OK;
}

/* A viewing: the listing offered to the contact's deal (the first active
** one, or a new "Imported viewings"), requested by the contact's client,
** then answered as the record says. */
static int tesoro__import_appointment(tesoro__import *im, const tesoro__rec *r,
                                      int *out_entity, int64_t *out_id) {
  tesoro *t = im->t;
  const char *state = tesoro__rec_text(r, "state");
  const char *reason = tesoro__rec_text(r, "end_reason");
  int64_t contact, listing, staff, client = 0, deal = 0, dp = 0, when[3];
  int n = 0, rc;
  sqlite3_stmt *s;
  if (strcmp(state, "pending") != 0 && strcmp(state, "confirmed") != 0 &&
      strcmp(state, "rejected") != 0 && strcmp(state, "cancelled") != 0 &&
      strcmp(state, "completed") != 0)
    return tesoro__fail(t, TESORO_EINVAL,
                        "state must be pending, confirmed, completed, "
                        "rejected or cancelled");
  if ((r->given[tesoro__rec_index(r, "rating")] ||
       r->given[tesoro__rec_index(r, "notes")] ||
       tesoro__rec_num(r, "no_show")) &&
      strcmp(state, "completed"))
    return tesoro__fail(t, TESORO_EINVAL, "only a completed viewing has a "
                                          "rating, notes or a no-show");
  if (tesoro__rec_text(r, "cancelled_by") &&
      (strcmp(state, "cancelled") ||
       (strcmp(tesoro__rec_text(r, "cancelled_by"), "client") &&
        strcmp(tesoro__rec_text(r, "cancelled_by"), "agency"))))
    return tesoro__fail(t, TESORO_EINVAL, "cancelled_by is \"client\" or "
                                          "\"agency\", of a cancelled viewing");
  if ((rc = tesoro__import_ref(im, "contact", tesoro__rec_text(r, "contact"),
                               "contact", &contact)) ||
      (rc = tesoro__import_ref(im, "listing", tesoro__rec_text(r, "listing"),
                               "listing", &listing)) ||
      (rc = tesoro__import_staff(im, r, &staff)))
    return rc;
  if ((s = TESORO__STMT(t, S_JSON_MEMBERS,
                        BIND_T(tesoro__rec_text(r, "preferred")))) == NULL)
    return t->rc;
  while ((rc = tesoro__row(t, s)) == TESORO_ROW) {
    if (n == 3 || strcmp((const char *)sqlite3_column_text(s, 1), "integer")) {
      sqlite3_reset(s);
      return tesoro__fail(t, TESORO_EINVAL,
                          "preferred must be 1 to 3 times (integers)");
    }
    when[n++] = sqlite3_column_int64(s, 2);
  }
  sqlite3_reset(s);
  if (rc < 0) return rc;
  if ((s = TESORO__STMT(t, S_IMPORT_DEAL, BIND_I(contact),
                        BIND_I(listing))) == NULL) return t->rc;
  if ((rc = tesoro__row(t, s)) == TESORO_ROW) {
    deal = sqlite3_column_int64(s, 0);
    dp = sqlite3_column_int64(s, 1);
    rc = TESORO_OK;
  }
  sqlite3_reset(s);
  if (rc < 0) return rc;
  rc = tesoro_contact_client_actor(t, im->admin.id, contact, &client);
  if (rc == TESORO_OK && deal == 0)
    rc = tesoro_deal_create(t, staff, contact, "Imported viewings", &deal);
  if (rc == TESORO_OK && dp == 0) rc = tesoro_deal_offer(t, staff, deal, listing, &dp);
  if (rc == TESORO_OK)
    rc = tesoro_appointment_request(t, client, dp, when, n, out_id);
  if (rc == TESORO_OK && strcmp(state, "pending") != 0 &&
      strcmp(state, "rejected") != 0)
    rc = tesoro_appointment_confirm(t, staff, *out_id,
                                    tesoro__rec_num(r, "start_at"),
                                    tesoro__rec_num(r, "duration_s"), 0);
  if (rc == TESORO_OK && strcmp(state, "rejected") == 0)
    rc = tesoro_appointment_reject(t, staff, *out_id, reason, 0);
  if (rc == TESORO_OK && strcmp(state, "cancelled") == 0)
    rc = tesoro_appointment_cancel(
        t,
        tesoro__rec_text(r, "cancelled_by") &&
                strcmp(tesoro__rec_text(r, "cancelled_by"), "client") == 0
            ? client
            : staff,
        *out_id, reason, 0);
  if (rc == TESORO_OK && strcmp(state, "completed") == 0) {
    /* completed as the clock completes it: at its end, by its timer */
    sqlite3_stmt *q = tesoro__stmt(t, S_IMPORT_APPOINTMENT_END);
    int64_t end = 0;
    if (q == NULL) rc = t->rc;
    else {
      sqlite3_bind_int64(q, 1, *out_id);
      rc = tesoro__int(t, q, &end);
    }
    if (rc == TESORO_OK && (rc = tesoro__write_begin(t)) == TESORO_OK)
      rc = tesoro__write_end(t, tesoro__catch_up(t, TESORO_ENTITY_APPOINTMENT,
                                                 *out_id, end));
    t->clock = end;
    if (rc == TESORO_OK && r->given[tesoro__rec_index(r, "rating")])
      rc = tesoro_appointment_rate(t, client, *out_id,
                                   (int)tesoro__rec_num(r, "rating"), 0);
    if (rc == TESORO_OK && tesoro__rec_text(r, "notes")) {
      char **notes = NULL;
      int n_notes = 0;
      rc = tesoro__import_strings(t, tesoro__rec_text(r, "notes"), "notes",
                                  &notes, &n_notes);
      for (int k = 0; rc == TESORO_OK && k < n_notes; k++) {
        int64_t note = 0;
        rc = tesoro_appointment_note_add(t, client, *out_id, notes[k], &note);
      }
      for (int k = 0; k < n_notes; k++) sqlite3_free(notes[k]);
      sqlite3_free(notes);
    }
    if (rc == TESORO_OK && tesoro__rec_num(r, "no_show"))
      rc = tesoro_appointment_record_no_show(t, staff, *out_id, NULL, 0);
  }
  *out_entity = TESORO_ENTITY_APPOINTMENT;
  return rc;
}

static const tesoro__field tesoro__import_referral_fields[] = {
    {"type", 't', 1, 0, 20},       {"external_id", 't', 1, 0, 200},
    {"at", 'i', 0, 1, INT64_MAX},  {"contact", 't', 1, 0, 200},
    {"agent", 't', 1, 0, 200},     {"stage", 't', 1, 0, 40},
    {"data", 'o', 0, 0, 0}};

/* A referral created and moved up to its stage: through each stage on
** the way whose data the record holds (the members that stage takes), and
** into its own; a member no stage on the way takes is refused. */
static int tesoro__import_referral(tesoro__import *im, const tesoro__rec *r,
                                   int *out_entity, int64_t *out_id) {
  tesoro *t = im->t;
  const char *stage = tesoro__rec_text(r, "stage");
  const char *data = tesoro__rec_text(r, "data");
  int64_t contact, agent, used = 0, members = 0;
  int i, rc;
  for (i = 0; i < COUNT(tesoro__referral_states) &&
              strcmp(tesoro__referral_states[i], stage) != 0;
       i++) {
  }
  if (i == COUNT(tesoro__referral_states))
    return tesoro__fail(im->t, TESORO_EINVAL, "stage \"%.40s\" is not a "
                        "referral stage", stage);
  *out_entity = TESORO_ENTITY_REFERRAL;
  if ((rc = tesoro__import_ref(im, "contact", tesoro__rec_text(r, "contact"),
                               "contact", &contact)) ||
      (rc = tesoro__import_ref(im, "agent", tesoro__rec_text(r, "agent"),
                               "agent", &agent)) ||
      (rc = tesoro_referral_create(im->t, im->admin.id, contact, agent, out_id)))
    return rc;
  for (int k = 0; k <= i && rc == TESORO_OK; k++) {
    sqlite3_stmt *s = tesoro__stmt(t, S_IMPORT_STAGE_DATA);
    sqlite3_str *keys = sqlite3_str_new(NULL);
    char *list, *subset = NULL;
    int64_t n = 0;
    if (s == NULL) {
      sqlite3_free(sqlite3_str_finish(keys));
      return t->rc;
    }
    sqlite3_str_appendchar(keys, 1, ' ');
    for (int f = 0; f < tesoro__stage_data[k].n; f++)
      sqlite3_str_appendf(keys, "%s ", tesoro__stage_data[k].fields[f].key);
    if ((list = sqlite3_str_finish(keys)) == NULL)
      return tesoro__fail(t, TESORO_ENOMEM, "out of memory");
    sqlite3_bind_text(s, 1, data ? data : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, list, -1, SQLITE_STATIC);
    if ((rc = tesoro__row(t, s)) == TESORO_ROW) {
      n = sqlite3_column_int64(s, 1);
      members = sqlite3_column_int64(s, 2);
      if (n) subset = sqlite3_mprintf("%s", sqlite3_column_text(s, 0));
      rc = n && subset == NULL ? tesoro__fail(t, TESORO_ENOMEM, "out of memory")
                               : TESORO_OK;
    }
    sqlite3_reset(s);
    sqlite3_free(list);
    used += n;
    /* the first stage is where a referral starts: only its data moves;
    ** a payment is recorded by closings, as in the workflow */
    if (rc == TESORO_OK && (k == i ? k > 0 || n : n)) {
      int64_t who = im->admin.id;
      if (k == RF_CLOSED_PAID) {
        sqlite3_stmt *q = tesoro__stmt(t, S_IMPORT_CLOSINGS);
        if (q == NULL) rc = t->rc;
        else {
          sqlite3_bind_int64(q, 1, im->admin.agency);
          rc = tesoro__int(t, q, &who);
          if (rc == TESORO_OK && who == 0)
            rc = tesoro__fail(t, TESORO_EINVAL,
                              "a paid referral is recorded by closings: "
                              "import an agent with the role closings first");
        }
      }
      if (rc == TESORO_OK)
        rc = tesoro_referral_move(t, who, *out_id, k + 1, subset, 0);
    }
    sqlite3_free(subset);
  }
  if (rc == TESORO_OK && used < members)
    rc = tesoro__fail(t, TESORO_EINVAL,
                      "data holds a member no stage up to %s takes", stage);
  return rc;
}

static const tesoro__field tesoro__import_portal_account_fields[] = {
    {"type", 't', 1, 0, 20},       {"external_id", 't', 1, 0, 200},
    {"at", 'i', 0, 1, INT64_MAX},  {"contact", 't', 1, 0, 200}};

/* A portal account, invited afresh: no secret travels in the file, and the
** invitation is not sent (tesoro_portal_invitation_resend sends one). */
static int tesoro__import_portal_account(tesoro__import *im,
                                         const tesoro__rec *r, int *out_entity,
                                         int64_t *out_id) {
  int64_t contact;
  char *temp = NULL;
  int rc;
  *out_entity = TESORO_ENTITY_PORTAL_ACCOUNT;
  if ((rc = tesoro__import_ref(im, "contact", tesoro__rec_text(r, "contact"),
                               "contact", &contact)) ||
      (rc = tesoro_portal_account_create(im->t, im->admin.id, contact, out_id,
                                         &temp)))
    return rc;
  sodium_memzero(temp, strlen(temp));
  tesoro_free(temp);
  return TESORO_OK;
}

static const tesoro__field tesoro__import_web_customer_fields[] = {
    {"type", 't', 1, 0, 20},          {"external_id", 't', 1, 0, 200},
    {"at", 'i', 0, 1, INT64_MAX},     {"name", 't', 0, 0, TESORO_MAX_NAME},
    {"email", 'e', 0, 0, 0},          {"phone", 't', 0, 0, TESORO_MAX_PHONE},
    {"contact", 't', 0, 0, 200}};

/* A person the website knows, under the website's own id, as its
** "customer" event makes one; approved into `contact` when given. */
static int tesoro__import_web_customer(tesoro__import *im,
                                       const tesoro__rec *r, int *out_entity,
                                       int64_t *out_id) {
  tesoro *t = im->t;
  sqlite3_stmt *s = tesoro__stmt(t, S_IMPORT_CUSTOMER_EVENT);
  char *event = NULL, *result = NULL;
  int64_t contact = 0;
  int rc;
  *out_entity = TESORO_ENTITY_WEB_CUSTOMER;
  if (tesoro__rec_text(r, "contact") &&
      (rc = tesoro__import_ref(im, "contact", tesoro__rec_text(r, "contact"),
                               "contact", &contact)))
    return rc;
  if (s == NULL) return t->rc;
  sqlite3_bind_text(s, 1, tesoro__rec_text(r, "external_id"), -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 2, im->at);
  sqlite3_bind_text(s, 3, tesoro__rec_text(r, "name"), -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 4, tesoro__rec_text(r, "email"), -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 5, tesoro__rec_text(r, "phone"), -1, SQLITE_STATIC);
  rc = tesoro__text_out(t, s, &event);
  if (rc == TESORO_OK)
    rc = tesoro_exchange_ingest(t, im->website, event, &result);
  tesoro_free(event);
  tesoro_free(result);
  if (rc == TESORO_OK)
    rc = tesoro_customer_find(t, im->admin.id, tesoro__rec_text(r, "external_id"),
                              out_id);
  if (rc == TESORO_OK && contact)
    rc = tesoro_prospect_approve(t, im->admin.id, *out_id, contact, 0, NULL);
  return rc;
}

static const tesoro__field tesoro__import_search_fields[] = {
    {"type", 't', 1, 0, 20},       {"external_id", 't', 1, 0, 200},
    {"at", 'i', 0, 1, INT64_MAX},  {"contact", 't', 1, 0, 200},
    {"criteria", 'o', 1, 0, 0},    {"alert", 'b', 0, 0, 1}};

/* A saved (hard) search of a contact, as staff save one in the CRM. */
static int tesoro__import_search(tesoro__import *im, const tesoro__rec *r,
                                 int *out_entity, int64_t *out_id) {
  int64_t contact;
  int rc;
  *out_entity = TESORO_ENTITY_SEARCH;
  if ((rc = tesoro__import_ref(im, "contact", tesoro__rec_text(r, "contact"),
                               "contact", &contact)))
    return rc;
  return tesoro_search_save(im->t, im->admin.id, contact, 0,
                            tesoro__rec_text(r, "criteria"),
                            (int)tesoro__rec_num(r, "alert"), out_id);
}

static const struct {
  const char *type;
  const tesoro__field *fields;
  int n;
  int (*make)(tesoro__import *, const tesoro__rec *, int *, int64_t *);
} tesoro__import_types[] = {
#define TESORO__IMPORT_TYPE(name)                                             \
  {#name, tesoro__import_##name##_fields,                                     \
   COUNT(tesoro__import_##name##_fields), tesoro__import_##name}
    TESORO__IMPORT_TYPE(agent),       TESORO__IMPORT_TYPE(contact),
    TESORO__IMPORT_TYPE(listing),     TESORO__IMPORT_TYPE(appointment),
    TESORO__IMPORT_TYPE(referral),    TESORO__IMPORT_TYPE(portal_account),
    TESORO__IMPORT_TYPE(web_customer), TESORO__IMPORT_TYPE(search),
#undef TESORO__IMPORT_TYPE
};
#define TESORO__REC_FITS(name)                                                \
  _Static_assert(COUNT(tesoro__import_##name##_fields) <= TESORO__REC_MAX,    \
                 "tesoro__rec holds " #name "'s members")
TESORO__REC_FITS(agent);
TESORO__REC_FITS(contact);
TESORO__REC_FITS(listing);
TESORO__REC_FITS(appointment);
TESORO__REC_FITS(referral);
TESORO__REC_FITS(portal_account);
TESORO__REC_FITS(web_customer);
TESORO__REC_FITS(search);
#undef TESORO__REC_FITS

/* Fold the history the record's calls wrote of each entity they made
** (t->import_made) into one "imported" row: who imported, when the record
** says, from which line and source id. */
static int tesoro__import_fold(tesoro__import *im) {
  tesoro *t = im->t;
  int rc;
  for (int i = 0; i < t->import_made.n; i++) {
    int entity = t->import_made.made[i].entity;
    int64_t made = t->import_made.made[i].id;
    sqlite3_stmt *u;
    char state[32] = "";
    if (entity < 1 || entity > TESORO__ENTITY_MAX)
      return tesoro__fail(t, TESORO_EDB, "history of an unknown entity %d",
                          entity);
    if ((u = t->fold[entity]) == NULL) {
      /* the table is the entity's name, from the static list */
      char *sql = sqlite3_mprintf("UPDATE %s SET version = 1 WHERE id = ?1",
                                  tesoro__entity_name(entity));
      if (sql == NULL) return tesoro__fail(t, TESORO_ENOMEM, "out of memory");
      rc = sqlite3_prepare_v3(t->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                              &t->fold[entity], NULL);
      sqlite3_free(sql);
      if (rc != SQLITE_OK) return tesoro__dberr(t, rc);
      u = t->fold[entity];
    }
    sqlite3_bind_int64(u, 1, made);
    if ((rc = tesoro__run(t, u))) return rc;
    /* its state: where its last history row took it (a contact: none) */
    if ((rc = TESORO__ROW(t, &u, S_IMPORT_STATE, BIND_I(entity),
                          BIND_I(made))))
      return rc;
    tesoro__column_copy(u, 0, state, sizeof state);
    /* no text for a state there is: SQLite ran out of memory */
    rc = !state[0] && sqlite3_column_type(u, 0) != SQLITE_NULL;
    sqlite3_reset(u);
    if (rc) return tesoro__fail(t, TESORO_ENOMEM, "out of memory");
    if ((rc = TESORO__EXEC(t, S_IMPORT_FOLD, BIND_I(entity), BIND_I(made))))
      return rc;
    /* bound as they are, not copied: a copy can fail unseen */
    if ((rc = TESORO__EXEC(t, S_IMPORT_HISTORY, BIND_I(im->admin.agency),
                           BIND_I(entity), BIND_I(made),
                           BIND_T(state[0] ? state : NULL),
                           BIND_I(im->admin.id), BIND_I(im->at),
                           BIND_I(im->line), BIND_T(im->type),
                           BIND_T(im->external_id))))
      return rc;
  }
  return TESORO_OK;
}

/* One line: its record checked, made (or found present), folded. */
static int tesoro__import_line(tesoro__import *im, const char *line) {
  tesoro *t = im->t;
  unsigned char digest[crypto_hash_sha256_BYTES];
  tesoro__rec r;
  sqlite3_stmt *s;
  int64_t id = 0;
  const char *type;
  int i = 0, rc, entity = 0;
  tesoro__json j;
  if ((rc = tesoro__json_boundary(t, "the record", line))) return rc;
  if ((rc = tesoro__json_read(t, line, 0, &j))) {
    tesoro__json_done(&j);
    return rc;
  }
  if ((type = j.ok ? tesoro__json_string(&j, &j.object[0], "type") : NULL))
    for (i = 0; i < COUNT(tesoro__import_types) &&
                strcmp(tesoro__import_types[i].type, type) != 0;
         i++) {
    }
  if (type == NULL || i == COUNT(tesoro__import_types)) {
    tesoro__json_done(&j);
    return tesoro__fail(t, TESORO_EINVAL,
                        "a record is a JSON object whose \"type\" is agent, "
                        "contact, listing, appointment, referral, "
                        "portal_account, web_customer or search");
  }
  memset(&r, 0, sizeof r);
  r.fields = tesoro__import_types[i].fields;
  r.n = tesoro__import_types[i].n;
  rc = tesoro__json_members(t, "the record", &j, &j.object[0], r.fields, r.n,
                            0, tesoro__rec_take, &r);
  tesoro__json_done(&j);
  if (rc == TESORO_OK && r.nomem)
    rc = tesoro__fail(t, TESORO_ENOMEM, "out of memory");
  if (rc || (rc = tesoro__json_canonical(t, line, digest))) {
    tesoro__rec_free(&r);
    return rc;
  }
  im->type = tesoro__import_types[i].type;
  im->external_id = tesoro__rec_text(&r, "external_id");
  {
    int at = tesoro__rec_index(&r, "at"); /* every type has one */
    im->at = r.given[at] ? r.num[at] : tesoro__now(t);
  }
  /* already imported? the same record is present, another a conflict */
  if ((s = tesoro__stmt(t, S_IMPORT_DIGEST)) == NULL) rc = t->rc;
  else {
    sqlite3_bind_int64(s, 1, im->admin.agency);
    sqlite3_bind_text(s, 2, im->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, im->external_id, -1, SQLITE_STATIC);
    if ((rc = tesoro__row(t, s)) == TESORO_ROW) {
      int same = sqlite3_column_bytes(s, 0) == (int)sizeof digest &&
                 memcmp(sqlite3_column_blob(s, 0), digest, sizeof digest) == 0;
      sqlite3_reset(s);
      rc = same ? (im->present++, TESORO_DONE)
                : tesoro__fail(t, TESORO_ECONFLICT,
                               "%s \"%.60s\" was imported before with other "
                               "content", im->type, im->external_id);
    } else {
      sqlite3_reset(s);
      if (rc == TESORO_DONE) rc = TESORO_OK; /* not imported yet */
    }
  }
  if (rc == TESORO_DONE) {
    tesoro__rec_free(&r);
    return TESORO_OK;
  }
  t->import_made.n = 0;
  if (rc == TESORO_OK) {
    int64_t saved = t->clock;
    t->clock = im->at;
    rc = tesoro__import_types[i].make(im, &r, &entity, &id);
    t->clock = saved;
  }
  if (rc == TESORO_OK) rc = tesoro__import_fold(im);
  if (rc == TESORO_OK && (s = tesoro__stmt(t, S_IMPORT_REF_INSERT)) == NULL)
    rc = t->rc;
  if (rc == TESORO_OK) {
    sqlite3_bind_int64(s, 1, im->admin.agency);
    sqlite3_bind_text(s, 2, im->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, im->external_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, entity);
    sqlite3_bind_int64(s, 5, id);
    sqlite3_bind_blob(s, 6, digest, sizeof digest, SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, im->line);
    sqlite3_bind_int64(s, 8, tesoro__now(t));
    rc = tesoro__run(t, s);
  }
  if (rc == TESORO_OK) im->imported++;
  tesoro__rec_free(&r);
  return rc;
}

/* Read one line of `f` into *buf (without its end); 0 at the end. */
static int tesoro__read_line(FILE *f, char **buf, size_t *cap, int *eof) {
  size_t n = 0;
  int c;
  while ((c = getc(f)) != EOF && c != '\n') {
    if (n + 2 > *cap) {
      size_t more = *cap ? *cap * 2 : 4096;
      char *p = TESORO_MALLOC(more);
      if (p == NULL) return TESORO_ENOMEM;
      if (*buf) memcpy(p, *buf, n);
      TESORO_FREE(*buf);
      *buf = p;
      *cap = more;
    }
    (*buf)[n++] = (char)c;
  }
  if (n > 0 && (*buf)[n - 1] == '\r') n--;
  if (*buf) (*buf)[n] = 0;
  *eof = c == EOF && n == 0;
  return TESORO_OK;
}

TESORO_API int tesoro_agency_import(tesoro *t, int64_t actor, const char *path,
                                    char **out_report) {
  tesoro__import im;
  FILE *f;
  char *line = NULL, *report;
  size_t cap = 0;
  int rc, eof = 0;
  TESORO__ENTER(t);
  if ((rc = tesoro__out(t, out_report, "out_report")) ||
      (rc = tesoro__text(t, "path", path, 4096, 1)))
    return rc;
  if (t->readonly) return tesoro__read_only(t);
  if (t->host_txn)
    return tesoro__fail(t, TESORO_EMISUSE,
                        "an import is its own transaction: commit first");
  memset(&im, 0, sizeof im);
  im.t = t;
  if ((rc = tesoro__actor_load(t, actor, &im.admin)) ||
      (rc = tesoro__require(t, &im.admin, R_ADMIN, "import records")) ||
      (rc = tesoro_agency_website_actor(t, actor, im.admin.agency, &im.website)))
    return rc;
  if ((f = fopen(path, "rb")) == NULL)
    return tesoro__fail(t, TESORO_ENOTFOUND, "%s: %s", path, strerror(errno));
  if ((rc = tesoro__exec_id(t, S_BEGIN)) == TESORO_OK) {
    t->host_txn = 1; /* each call below in a savepoint of this transaction */
    t->importing = 1;
  }
  while (rc == TESORO_OK) {
    if ((rc = tesoro__read_line(f, &line, &cap, &eof))) {
      rc = tesoro__fail(t, TESORO_ENOMEM, "out of memory");
      break;
    }
    if (eof) break;
    im.line++;
    if (im.line == 1) {
      tesoro__json j;
      int ok = 0;
      if ((rc = tesoro__json_boundary(t, "the header", line)) == TESORO_OK &&
          (rc = tesoro__json_read(t, line, 0, &j)) == TESORO_OK && j.ok) {
        const char *type = tesoro__json_string(&j, &j.object[0], "type");
        const char *format = tesoro__json_string(&j, &j.object[0], "format");
        ok = type && strcmp(type, "header") == 0 && format &&
             strcmp(format, TESORO__IMPORT_FORMAT) == 0;
      }
      tesoro__json_done(&j);
      if (rc == TESORO_OK && !ok)
        rc = tesoro__fail(t, TESORO_EINVAL,
                          "the first line must be the header {\"type\": "
                          "\"header\", \"format\": \"" TESORO__IMPORT_FORMAT
                          "\", ...}");
    } else {
      rc = tesoro__import_line(&im, line);
    }
    if (rc) {
      char msg[TESORO__MSG_MAX];
      snprintf(msg, sizeof msg, "%s", t->msg);
      tesoro__fail(t, rc, "line %lld: %s", (long long)im.line, msg);
    }
  }
  t->importing = 0;
  if (t->host_txn) {
    t->host_txn = 0;
    if (rc == TESORO_OK) rc = tesoro__exec_id(t, S_COMMIT);
    if (rc != TESORO_OK && !sqlite3_get_autocommit(t->db)) {
      int saved = t->rc;
      char msg[TESORO__MSG_MAX];
      memcpy(msg, t->msg, sizeof msg);
      tesoro__exec_id(t, S_ROLLBACK);
      t->rc = saved;
      memcpy(t->msg, msg, sizeof msg);
    }
    t->due_known = 0;
  }
  fclose(f);
  TESORO_FREE(line);
  if (rc == TESORO_OK && im.line == 0)
    rc = tesoro__fail(t, TESORO_EINVAL, "%s is empty: no header line", path);
  if (rc) return rc;
  report = sqlite3_mprintf("{\"format\":\"" TESORO__IMPORT_FORMAT "\","
                           "\"lines\":%lld,\"imported\":%lld,\"present\":%lld}",
                           (long long)im.line, (long long)im.imported,
                           (long long)im.present);
  if (report == NULL) return tesoro__fail(t, TESORO_ENOMEM, "out of memory");
  *out_report = report;
  return TESORO_OK;
}

/* --- the export --- */

/* One statement per record type, each row one line, in an order an import
** can follow (what a record names comes before it). */
static const char *const tesoro__export_sql[] = {
    /* agents, but the first admin (the agency's creator imports) */
    "SELECT json_patch('{}', json_object('type', 'agent', 'external_id', " TESORO__EXTERNAL("'agent'", "a.id")
    ", 'name', a.name, 'email', a.email, 'role', a.role, 'at', a.created_at)) "
    "FROM actor a WHERE a.agency_id = ?1 AND a.kind = 'agent' AND a.id != "
    "(SELECT min(id) FROM actor WHERE agency_id = ?1 AND role = 'admin') "
    "ORDER BY a.id",
    "SELECT json_patch('{}', json_object('type', 'contact', 'external_id', " TESORO__EXTERNAL("'contact'", "c.id")
    ", 'at', c.created_at, 'name', c.name, 'email', c.email, 'phone', "
    "c.phone, 'language', c.language, 'agent', (SELECT " TESORO__EXTERNAL("'agent'", "x.id")
    " FROM actor x WHERE x.id = c.assigned_agent_id AND x.id != (SELECT "
    "min(id) FROM actor WHERE agency_id = ?1 AND role = 'admin')), "
    "'consent', nullif(c.consent, 'not_asked'), 'consent_text', "
    "c.consent_text)) FROM contact c WHERE c.agency_id = ?1 AND c.erased_at "
    "IS NULL ORDER BY c.id",
    "SELECT json_patch('{}', json_object('type', 'listing', 'external_id', " TESORO__EXTERNAL("'listing'", "l.id")
    ", 'at', l.created_at, 'seller', (SELECT " TESORO__EXTERNAL("'contact'", "m.contact_id")
    "), 'state', l.state, 'commission_type', m.commission_type, "
    "'commission_value', m.commission_value, 'currency', m.currency, "
    "'exclusive', json(iif(m.exclusive, 'true', 'false')), 'duration_days', "
    "m.duration_days, 'ref', l.ref, 'fields', json_patch('{}', "
    "json_object('title', l.title, 'address', l.address, 'price', l.price, "
    "'property_type', l.property_type, 'bedrooms', l.bedrooms, 'bathrooms', "
    "l.bathrooms, 'floor_area', l.floor_area, 'energy_label', "
    "l.energy_label, 'description', l.description, 'latitude', l.latitude, "
    "'longitude', l.longitude)), 'form', json(m.form_json), "
    "'photos', json((SELECT json_group_array(json_object('name', d.name, "
    "'mime', d.mime, 'data', tesoro_base64(d.data))) FROM (SELECT * FROM "
    "document d WHERE d.entity = " TESORO__SQL_ENTITY(LISTING) " AND d.entity_id = l.id AND d.kind = "
    "'photo' ORDER BY d.id) d HAVING count(*) > 0)), "
    "'signed_mandate', (SELECT "
    "tesoro_base64(d.data) FROM document d WHERE d.entity = " TESORO__SQL_ENTITY(MANDATE) " AND "
    "d.entity_id = m.id AND d.kind = 'signed_mandate' ORDER BY d.id DESC "
    "LIMIT 1))) FROM listing l JOIN mandate m ON m.id = l.mandate_id JOIN "
    "contact c ON c.id = m.contact_id WHERE l.agency_id = ?1 AND l.state != "
    "'placeholder' AND m.state = 'validated' AND c.erased_at IS NULL "
    "ORDER BY l.id",
    "SELECT json_patch('{}', json_object('type', 'appointment', 'external_id', " TESORO__EXTERNAL("'appointment'", "a.id")
    ", 'at', a.created_at, 'contact', (SELECT " TESORO__EXTERNAL("'contact'", "a.contact_id")
    "), 'listing', (SELECT " TESORO__EXTERNAL("'listing'", "a.listing_id")
    "), 'state', a.state, 'preferred', json(a.preferred), 'start_at', "
    "iif(a.state = 'confirmed' OR a.state = 'completed' OR a.state = "
    "'cancelled' AND a.start_at IS NOT NULL, a.start_at, NULL), "
    "'duration_s', iif(a.state = 'confirmed' OR a.state = 'completed', "
    "a.duration_s, NULL), 'end_reason', a.end_reason, 'rating', a.rating, "
    "'cancelled_by', iif(a.state = 'cancelled', iif((SELECT kind FROM actor "
    "WHERE id = a.ended_by) = 'client', 'client', 'agency'), NULL), "
    "'notes', json((SELECT json_group_array(n.body) FROM (SELECT body FROM "
    "appointment_note WHERE appointment_id = a.id AND author_id = (SELECT id "
    "FROM actor WHERE contact_id = a.contact_id) ORDER BY id) n HAVING "
    "count(*) > 0)), 'no_show', iif(a.no_show_at IS NOT NULL, json('true'), "
    "NULL))) "
    "FROM appointment a JOIN contact c ON c.id = a.contact_id WHERE "
    "a.agency_id = ?1 AND c.erased_at IS NULL ORDER BY a.id",
    "SELECT json_patch('{}', json_object('type', 'referral', 'external_id', " TESORO__EXTERNAL("'referral'", "r.id")
    ", 'at', r.created_at, 'contact', (SELECT " TESORO__EXTERNAL("'contact'", "r.contact_id")
    "), 'agent', (SELECT " TESORO__EXTERNAL("'agent'", "r.agent_id")
    "), 'stage', r.state, 'data', nullif(json_patch('{}', json_object("
    "'meeting_at', r.meeting_at, 'list_date', r.list_date, 'sale_price', "
    "r.sale_price, 'close_date', r.close_date, 'paid_amount', "
    "r.paid_amount, 'reason', iif(r.state = 'failed', r.fail_reason, "
    "NULL))), '{}'))) FROM referral r JOIN contact c ON c.id = r.contact_id "
    "WHERE r.agency_id = ?1 AND c.erased_at IS NULL ORDER BY r.id",
    "SELECT json_object('type', 'portal_account', 'external_id', "
    TESORO__EXTERNAL("'portal_account'", "p.id") ", 'at', p.created_at, "
    "'contact', (SELECT " TESORO__EXTERNAL("'contact'", "p.contact_id") ")) "
    "FROM portal_account p JOIN contact c ON c.id = p.contact_id WHERE "
    "p.agency_id = ?1 AND p.deactivated_at IS NULL AND c.erased_at IS NULL "
    "ORDER BY p.id",
    /* the website's own id is the customer's external_id */
    "SELECT json_patch('{}', json_object('type', 'web_customer', "
    "'external_id', w.external_id, 'at', w.created_at, 'name', w.name, "
    "'email', w.email, 'phone', w.phone, 'contact', (SELECT "
    TESORO__EXTERNAL("'contact'", "w.contact_id") " WHERE w.contact_id IS "
    "NOT NULL))) FROM web_customer w WHERE w.agency_id = ?1 AND "
    "w.external_id IS NOT NULL AND w.state != 'discarded' AND w.erased_at "
    "IS NULL ORDER BY w.id",
    "SELECT json_object('type', 'search', 'external_id', "
    TESORO__EXTERNAL("'search'", "s.id") ", 'at', s.created_at, 'contact', "
    "(SELECT " TESORO__EXTERNAL("'contact'", "w.contact_id") "), 'criteria', "
    "json(s.criteria), 'alert', json(iif(s.alert, 'true', 'false'))) FROM "
    "search s JOIN web_customer w ON w.id = s.customer_id JOIN contact c ON "
    "c.id = w.contact_id WHERE s.agency_id = ?1 AND s.state = 'active' AND "
    "s.source = 'crm' AND c.erased_at IS NULL ORDER BY s.id",
};

TESORO_API int tesoro_agency_export(tesoro *t, int64_t actor, const char *path,
                                    int64_t *out_records) {
  tesoro__actor a;
  sqlite3_stmt *s = NULL;
  FILE *f;
  int64_t records = 0;
  int rc, src = SQLITE_OK, began;
  TESORO__ENTER(t);
  if ((rc = tesoro__text(t, "path", path, 4096, 1)) ||
      (rc = tesoro__actor_as(t, actor, R_ADMIN, "export the agency", &a)))
    return rc;
  if ((f = fopen(path, "wb")) == NULL)
    return tesoro__fail(t, TESORO_EINVAL, "%s: %s", path, strerror(errno));
  /* one read transaction: the file is one moment's agency (inside the
  ** host's transaction, that one) */
  began = sqlite3_get_autocommit(t->db);
  rc = began ? tesoro__exec_id(t, S_BEGIN_READ) : TESORO_OK;
  if (rc == TESORO_OK &&
      (s = tesoro__stmt(t, S_EXPORT_HEADER)) == NULL)
    rc = t->rc;
  if (rc == TESORO_OK) {
    sqlite3_bind_int64(s, 1, a.agency);
    if ((rc = tesoro__row(t, s)) == TESORO_ROW) {
      fprintf(f, "%s\n", sqlite3_column_text(s, 0));
      rc = TESORO_OK;
    } else if (rc == TESORO_DONE) {
      rc = TESORO_EDB;
    }
    sqlite3_reset(s);
  }
  for (int i = 0; rc == TESORO_OK && i < COUNT(tesoro__export_sql); i++) {
    sqlite3_stmt *q = NULL;
    if ((src = sqlite3_prepare_v2(t->db, tesoro__export_sql[i], -1, &q, NULL))) {
      rc = tesoro__dberr(t, src);
      break;
    }
    sqlite3_bind_int64(q, 1, a.agency);
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
      fprintf(f, "%s\n", sqlite3_column_text(q, 0));
      records++;
    }
    if (src != SQLITE_DONE) rc = tesoro__dberr(t, src);
    sqlite3_finalize(q);
  }
  if (began && !sqlite3_get_autocommit(t->db)) tesoro__exec_id(t, S_COMMIT);
  if (fclose(f) != 0 && rc == TESORO_OK)
    rc = tesoro__fail(t, TESORO_EDB, "%s: %s", path, strerror(errno));
  if (rc) return rc;
  if (out_records) *out_records = records;
  return TESORO_OK;
}

/* =========================================================================
** 22. Checker
**
** tesoro_check: SQLite's own checks, then tesoro's invariants, each a query
** that returns a description of its first violation or nothing.  Adding an
** invariant is adding a row.
*/
#define TESORO__STATE_MATCHES_HISTORY(table, entity)                          \
  "SELECT '" table " ' || x.id || ' is ' || coalesce(x.state, '-') || "       \
  "' at version ' || x.version || ' but its history disagrees' FROM " table   \
  " x WHERE NOT EXISTS (SELECT 1 FROM history h WHERE h.entity = " entity     \
  " AND h.entity_id = x.id AND h.seq = x.version AND h.to_state IS x.state) " \
  "OR (SELECT count(*) || ':' || max(seq) FROM history h WHERE h.entity = "   \
  entity " AND h.entity_id = x.id) != x.version || ':' || x.version LIMIT 1"

/* The agency of entity h.entity_id (x.entity_id) of kind h.entity
** (x.entity), as CASE arms. */
#define TESORO__AGENCY_OF(alias, NAME, name)                                  \
  " WHEN " TESORO__SQL_ENTITY(NAME) " THEN (SELECT agency_id FROM " #name     \
  " WHERE id = " alias ".entity_id)"
#define TESORO__AGENCY_OF_H(NAME, name, rows) TESORO__AGENCY_OF("h", NAME, name)
#define TESORO__AGENCY_OF_X(NAME, name, rows) TESORO__AGENCY_OF("x", NAME, name)

static const struct {
  const char *rule;
  const char *sql;
} tesoro__invariants[] = {
#define TESORO__STATE_RULE(NAME, name, rows)                                  \
  {#name " state = last history",                                             \
   TESORO__STATE_MATCHES_HISTORY(#name, TESORO__SQL_ENTITY(NAME))},
    TESORO__MACHINES(TESORO__STATE_RULE)
#undef TESORO__STATE_RULE
    {"contact version = last history",
     "SELECT 'contact ' || x.id || ' at version ' || x.version || ' but its "
     "history disagrees' FROM contact x WHERE (SELECT count(*) || ':' || "
     "max(seq) FROM history h WHERE h.entity = " TESORO__SQL_ENTITY(CONTACT)
     " AND h.entity_id = x.id) != "
     "x.version || ':' || x.version LIMIT 1"},
    {"history belongs to an existing entity of its agency",
     "SELECT 'history row ' || h.entity || '/' || h.entity_id || '/' || h.seq "
     "|| ' points at a missing entity' FROM "
     "history h WHERE h.agency_id IS NOT CASE h.entity "
     TESORO__ENTITIES(TESORO__AGENCY_OF_H) " END LIMIT 1"},
    /* history, activity, outbox and timer declare no foreign keys (see
    ** schema.sql): these hold what the keys held */
    {"history, activity and outbox name actors that exist",
     "SELECT x.what || ' ' || x.id || ' names a missing actor ' || x.actor "
     "FROM (SELECT 'history row' AS what, entity || '/' || entity_id || '/' "
     "|| seq AS id, actor_id AS actor FROM history "
     "UNION ALL SELECT 'timeline line', contact_id || '/' || id, actor_id "
     "FROM activity UNION ALL "
     "SELECT 'outbox row', id, recipient_id FROM outbox WHERE recipient_id "
     "IS NOT NULL) x WHERE NOT EXISTS (SELECT 1 FROM actor a WHERE a.id = "
     "x.actor) LIMIT 1"},
    {"activity is about a contact of its agency",
     "SELECT 'timeline line ' || a.contact_id || '/' || a.id || ' is about "
     "a missing contact' FROM "
     "activity a WHERE a.agency_id IS NOT (SELECT agency_id FROM contact c "
     "WHERE c.id = a.contact_id) LIMIT 1"},
    /* json_type, not json_valid: see tesoro__json_top (malformed JSON
    ** raises an error, EDB; out of memory stays ENOMEM) */
    {"history details are JSON objects",
     "SELECT 'history row ' || entity || '/' || entity_id || '/' || seq || "
     "' has details that are not a JSON "
     "object' FROM history WHERE details IS NOT NULL AND json_type(details) "
     "IS NOT 'object' LIMIT 1"},
    {"every outbox payload is a JSON object",
     "SELECT 'outbox row ' || id || ' has a payload that is not a JSON "
     "object' FROM outbox WHERE payload IS NOT NULL AND json_type(payload) "
     "IS NOT 'object' LIMIT 1"},
    {"outbox row has its cause in its agency",
     "SELECT 'outbox row ' || o.id || ' has no cause in its agency' FROM "
     "outbox o LEFT JOIN history h ON h.entity = o.entity AND h.entity_id = "
     "o.entity_id AND h.seq = o.seq WHERE h.seq IS NULL "
     "OR h.agency_id != o.agency_id LIMIT 1"},
    {"task, document and timer point at an entity of their agency",
     "SELECT x.what || ' ' || x.id || ' points at a missing entity' FROM ("
     "SELECT 'task' AS what, id, agency_id, entity, entity_id FROM task "
     "UNION ALL SELECT 'document', id, agency_id, entity, entity_id FROM "
     "document UNION ALL SELECT 'timer', entity_id, agency_id, entity, entity_id "
     "FROM timer) x WHERE x.agency_id IS NOT CASE x.entity "
     TESORO__MACHINES(TESORO__AGENCY_OF_X) " END LIMIT 1"},
    {"every contact has one client actor of its agency",
     "SELECT 'contact ' || c.id || ' has no client actor' FROM contact c "
     "WHERE NOT EXISTS (SELECT 1 FROM actor a WHERE a.contact_id = c.id AND "
     "a.agency_id = c.agency_id AND a.kind = 'client') LIMIT 1"},
    {"every agency has its website and system actors",
     "SELECT 'agency ' || g.id || ' lacks its website or system actor' FROM "
     "agency g WHERE (SELECT count(*) FROM actor a WHERE a.agency_id = g.id "
     "AND a.kind IN ('website', 'system')) != 2 LIMIT 1"},
    {"rooms, mandates and their contacts share an agency",
     "SELECT 'room ' || r.id || ' and its contact or mandate disagree on the "
     "agency' FROM room r JOIN contact c ON c.id = r.contact_id LEFT JOIN "
     "mandate m ON m.room_id = r.id WHERE c.agency_id != r.agency_id OR "
     "m.agency_id != r.agency_id OR m.contact_id != r.contact_id LIMIT 1"},
    {"the open proposal belongs to its mandate",
     "SELECT 'mandate ' || m.id || ' has a foreign open proposal' FROM "
     "mandate m JOIN proposal p ON p.id IN (m.open_proposal_id, "
     "m.agreed_proposal_id) WHERE p.mandate_id != m.id LIMIT 1"},
    {"agreed terms are those of a proposal both parties accepted",
     "SELECT 'mandate ' || m.id || ' has terms nobody agreed' FROM mandate m "
     "LEFT JOIN proposal p ON p.id = m.agreed_proposal_id WHERE m.state IN "
     "('terms_agreed', 'form_shared', 'form_submitted', 'validated') AND (p.id "
     "IS NULL OR p.accepted_by_agent_at IS NULL OR p.accepted_by_client_at IS "
     "NULL OR p.commission_type IS NOT m.commission_type OR "
     "p.commission_value IS NOT m.commission_value OR p.duration_days IS NOT "
     "m.duration_days OR p.exclusive IS NOT m.exclusive) LIMIT 1"},
    {"a validated mandate has its successful room and its listing",
     "SELECT 'mandate ' || m.id || ' is validated without its room or "
     "listing' FROM mandate m JOIN room r ON r.id = m.room_id WHERE "
     "(m.state = 'validated') != (r.state = 'successful') OR (m.state = "
     "'validated' AND (m.validated_at IS NULL OR NOT EXISTS (SELECT 1 FROM "
     "listing l WHERE l.mandate_id = m.id AND l.state != 'placeholder'))) "
     "LIMIT 1"},
    {"a published listing has a validated mandate",
     "SELECT 'listing ' || l.id || ' is published without a validated "
     "mandate' FROM listing l JOIN mandate m ON m.id = l.mandate_id WHERE "
     "l.state = 'published' AND m.state != 'validated' LIMIT 1"},
    {"a deal, its properties, appointments and contact share an agency",
     "SELECT 'appointment ' || a.id || ' disagrees with its deal, property or "
     "contact' FROM appointment a JOIN deal d ON d.id = a.deal_id JOIN "
     "deal_property p ON p.id = a.deal_property_id JOIN listing l ON l.id = "
     "a.listing_id WHERE d.agency_id != a.agency_id OR d.contact_id != "
     "a.contact_id OR p.deal_id != d.id OR p.listing_id != l.id OR "
     "l.agency_id != a.agency_id OR (SELECT agency_id FROM actor WHERE id = "
     "a.owner_id) != a.agency_id UNION ALL SELECT 'deal ' || d.id || ' and "
     "its contact or property disagree on the agency' FROM deal d JOIN "
     "contact c ON c.id = d.contact_id LEFT JOIN deal_property p ON "
     "p.deal_id = d.id LEFT JOIN listing l ON l.id = p.listing_id WHERE "
     "c.agency_id != d.agency_id OR p.agency_id != d.agency_id OR "
     "l.agency_id != d.agency_id LIMIT 1"},
    {"a portal account is verified exactly when it has a contact, and a "
     "code only before, or while a new e-mail waits for it",
     "SELECT 'portal account ' || p.id || ' is ' || p.state || ' but its "
     "contact or code disagrees' FROM portal_account p LEFT JOIN contact c ON "
     "c.id = p.contact_id WHERE (p.state = 'unverified') != (p.contact_id IS "
     "NULL) OR (p.state = 'unverified' OR p.email_pending IS NOT NULL) != "
     "(p.code_hash IS NOT NULL AND p.code_expires_at IS NOT NULL) OR "
     "(p.state = 'unverified' AND p.email_pending IS NOT NULL) OR "
     "c.agency_id != p.agency_id LIMIT 1"},
    {"a web customer is approved exactly when it has a contact of its agency",
     "SELECT 'web customer ' || w.id || ' is ' || w.state || ' but its "
     "contact disagrees' FROM web_customer w LEFT JOIN contact c ON c.id = "
     "w.contact_id WHERE (w.state = 'approved') != (w.contact_id IS NOT NULL) "
     "OR c.agency_id != w.agency_id LIMIT 1"},
    {"searches, claims and events belong to a customer of their agency",
     "SELECT x.what || ' ' || x.id || ' and its customer disagree on the "
     "agency' FROM (SELECT 'search' AS what, id, agency_id, customer_id FROM "
     "search UNION ALL SELECT 'vendor claim', id, agency_id, customer_id FROM "
     "vendor_claim UNION ALL SELECT 'web event', source_id, agency_id, "
     "customer_id FROM web_event UNION ALL SELECT 'enquiry', id, agency_id, "
     "customer_id FROM enquiry) x LEFT JOIN web_customer w ON w.id = "
     "x.customer_id WHERE w.id IS NULL OR w.agency_id != x.agency_id LIMIT 1"},
    {"no secret is stored in clear",
     "SELECT 'portal account ' || id || ' holds a secret that is not an "
     "argon2id hash' FROM portal_account WHERE password_hash NOT LIKE "
     "'$argon2id$v=%$m=%,t=%,p=%$%$%' OR (code_hash IS NOT NULL AND "
     "code_hash NOT LIKE '$argon2id$v=%$m=%,t=%,p=%$%$%') LIMIT 1"},
    {"no timer is pending for a viewing that no longer happens",
     "SELECT 'appointment ' || a.id || ' is ' || a.state || ' but has a "
     "pending ' || t.kind || ' timer' FROM appointment a JOIN timer t ON "
     "t.entity = " TESORO__SQL_ENTITY(APPOINTMENT) " AND t.entity_id = a.id WHERE "
     "a.state IN ('cancelled', 'rejected') OR (a.state = 'completed' AND "
     "t.kind IN ('appointment_complete', 'viewing_reminder')) OR "
     "(a.no_show_at IS NOT NULL AND t.kind IN ('viewing_feedback', "
     "'no_show_window')) LIMIT 1"},
    /* a withdrawal deletes a timer by the due time its row gives */
    {"a timer is due when the viewing or referral it is about says",
     "SELECT t.kind || ' timer of ' || CASE t.entity WHEN "
     TESORO__SQL_ENTITY(APPOINTMENT) " THEN 'appointment ' ELSE 'referral ' "
     "END || t.entity_id || ' is due at ' || t.due_at || ', not when its row says' "
     "FROM timer t LEFT JOIN appointment a ON t.entity = "
     TESORO__SQL_ENTITY(APPOINTMENT) " AND a.id = t.entity_id LEFT JOIN "
     "referral r ON t.entity = " TESORO__SQL_ENTITY(REFERRAL) " AND r.id = "
     "t.entity_id WHERE t.due_at IS NOT CASE t.kind "
     "WHEN 'appointment_complete' THEN a.start_at + a.duration_s "
     "WHEN 'viewing_feedback' THEN a.start_at + a.duration_s + "
     TESORO__NUMBER_TEXT(TESORO__FEEDBACK_AFTER_S) " "
     "WHEN 'viewing_reminder' THEN a.reminder_at "
     "WHEN 'no_show_window' THEN a.start_at + "
     TESORO__NUMBER_TEXT(TESORO_NO_SHOW_WINDOW_S) " "
     "WHEN 'referral_list_date' THEN r.list_due ELSE t.due_at END LIMIT 1"},
    {"a confirmed or completed viewing has its start, a completed one its "
     "completion",
     "SELECT 'appointment ' || a.id || ' is ' || a.state || ' without its "
     "times' FROM appointment a WHERE (a.state IN ('confirmed', 'completed') "
     "AND a.start_at IS NULL) OR (a.state = 'completed') != (a.completed_at "
     "IS NOT NULL AND a.completed_by IS NOT NULL) LIMIT 1"},
    {"a no-show is recorded only on a viewing the clock completed",
     "SELECT 'appointment ' || a.id || ' has a no-show but the client "
     "started it' FROM appointment a JOIN actor w ON w.id = a.completed_by "
     "WHERE a.no_show_at IS NOT NULL AND w.kind != 'system' LIMIT 1"},
    {"a referral, its contact and its agent share an agency",
     "SELECT 'referral ' || r.id || ' disagrees with its contact or agent on "
     "the agency' FROM referral r JOIN contact c ON c.id = r.contact_id JOIN "
     "actor a ON a.id = r.agent_id WHERE c.agency_id != r.agency_id OR "
     "a.agency_id != r.agency_id OR a.kind != 'agent' LIMIT 1"},
    {"a closed referral owes its fee; a paid one has its payment",
     "SELECT 'referral ' || r.id || ' is ' || r.state || ' but its fee or "
     "payment disagrees' FROM referral r WHERE (r.state IN ('closed', "
     "'closed_paid')) != (r.fee_owed IS NOT NULL AND r.sale_price IS NOT "
     "NULL) OR (r.state = 'closed_paid') != (r.paid_amount IS NOT NULL) OR "
     "r.fee_owed != (r.sale_price * r.fee_bp + 5000) / 10000 LIMIT 1"},
    {"a failed referral keeps who failed it and why, and where it was",
     "SELECT 'referral ' || r.id || ' failed without who, why or its last "
     "stage' FROM referral r WHERE r.state = 'failed' AND (r.failed_by IS "
     "NULL OR r.fail_reason IS NULL OR r.last_active_stage IN ('closed', "
     "'closed_paid')) LIMIT 1"},
    {"the reference counter covers every listing",
     "SELECT 'agency ' || g.id || ' has more listings than references' FROM "
     "agency g WHERE g.listing_counter < (SELECT count(*) FROM listing l "
     "WHERE l.agency_id = g.id) LIMIT 1"},
};

TESORO_API int tesoro_check(tesoro *t) {
  sqlite3_stmt *s = NULL;
  int src, rc = TESORO_OK;
  TESORO__ENTER(t);
  src = sqlite3_prepare_v2(t->db, "PRAGMA integrity_check", -1, &s, NULL);
  if (src == SQLITE_OK && (src = sqlite3_step(s)) == SQLITE_ROW) {
    const char *verdict = (const char *)sqlite3_column_text(s, 0);
    if (verdict && strcmp(verdict, "ok") != 0)
      rc = tesoro__fail(t, TESORO_EDB, "integrity_check: %s", verdict);
    src = SQLITE_OK;
  }
  sqlite3_finalize(s);
  if (src != SQLITE_OK) return tesoro__dberr(t, src);
  if (rc) return rc;
  src = sqlite3_prepare_v2(t->db, "PRAGMA foreign_key_check", -1, &s, NULL);
  if (src == SQLITE_OK && (src = sqlite3_step(s)) == SQLITE_ROW) {
    rc = tesoro__fail(t, TESORO_EDB,
                      "foreign_key_check: %s row %lld points at a missing %s",
                      (const char *)sqlite3_column_text(s, 0),
                      (long long)sqlite3_column_int64(s, 1),
                      (const char *)sqlite3_column_text(s, 2));
    src = SQLITE_OK;
  } else if (src == SQLITE_DONE) {
    src = SQLITE_OK;
  }
  sqlite3_finalize(s);
  if (src != SQLITE_OK) return tesoro__dberr(t, src);
  if (rc) return rc;
  for (int i = 0; i < COUNT(tesoro__invariants) && rc == TESORO_OK; i++) {
    src = sqlite3_prepare_v2(t->db, tesoro__invariants[i].sql, -1, &s, NULL);
    if (src == SQLITE_OK) src = sqlite3_step(s);
    if (src == SQLITE_ROW)
      rc = tesoro__fail(t, TESORO_EDB, "invariant \"%s\" broken: %s",
                        tesoro__invariants[i].rule,
                        (const char *)sqlite3_column_text(s, 0));
    else if (src != SQLITE_DONE)
      rc = tesoro__dberr(t, src);
    sqlite3_finalize(s);
  }
  return rc;
}

/* =========================================================================
** 23. Schema text
**
** schema.sql, verbatim, one string per line (C11 only promises 4095-byte
** literals), read only through tesoro__schema_line: the migrations of
** section 5 and tesoro_schema_text.  test/sync_schema.sh writes it;
** test_foundation compares it with the file byte for byte.
*/
static const char *const tesoro__schema_lines[] = {
/* >>schema — generated from schema.sql by test/sync_schema.sh */
    "-- tesoro schema: the single source of the database layout.\n",
    "--\n",
    "-- The file is an ordered list of sections, each opened by a line\n",
    "-- \"-- @version N\".  A new database runs every section; a database at\n",
    "-- user_version K runs the sections after K, each in its own transaction\n",
    "-- together with the bump of user_version.  So a section, once released, is\n",
    "-- never edited: a change is a new section (CREATE, ALTER, or a rebuild).\n",
    "-- tesoro.c carries this file verbatim; test_foundation fails if they differ.\n",
    "--\n",
    "-- Conventions: every table is STRICT; every state column has a CHECK that\n",
    "-- mirrors its machine's states (a bug in C cannot store an impossible state),\n",
    "-- written as `x = 'a' OR x = 'b' ...` rather than an IN list: SQLite (3.40)\n",
    "-- evaluates `x IN ('a', 'b', 'c')` with three or more constants by building\n",
    "-- a temporary b-tree of the list each time a statement runs, which once cost\n",
    "-- 40 % of a transition's instructions (make bench); test_performance fails\n",
    "-- if an INSERT into any table builds one.  Instants are INTEGER seconds since\n",
    "-- the epoch, UTC; money is INTEGER minor units; `entity` columns hold\n",
    "-- TESORO_ENTITY_* numbers.\n",
    "\n",
    "-- @version 1\n",
    "-- The layout of tesoro 0.1.0.\n",
    "\n",
    "-- ---------------------------------------------------------------------------\n",
    "-- Foundation: agencies, actors, contacts, history, activity, tasks, outbox,\n",
    "-- timers, documents.\n",
    "\n",
    "-- viewing_duration_s: the default length of a viewing.  push_enabled and\n",
    "-- calendar_active: the seed's conditions on channels, \"push (if enabled)\"\n",
    "-- and \"calendar (if calendar integration is active)\".  uid_key is random\n",
    "-- per agency (tesoro_agency_create), so that calendar UIDs of two files'\n",
    "-- agency 1 differ.\n",
    "CREATE TABLE agency (\n",
    "  id                 INTEGER PRIMARY KEY,\n",
    "  name               TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 200),\n",
    "  timezone           TEXT    NOT NULL DEFAULT 'UTC',\n",
    "  currency           TEXT    NOT NULL CHECK (length(currency) = 3),\n",
    "  portal_active      INTEGER NOT NULL DEFAULT 0 CHECK (portal_active IN (0, 1)),\n",
    "  listing_counter    INTEGER NOT NULL DEFAULT 0,\n",
    "  created_at         INTEGER NOT NULL,\n",
    "  referral_fee_bp    INTEGER NOT NULL DEFAULT 0\n",
    "                       CHECK (referral_fee_bp BETWEEN 0 AND 10000),\n",
    "  viewing_duration_s INTEGER NOT NULL DEFAULT 3600\n",
    "                       CHECK (viewing_duration_s BETWEEN 300 AND 43200),\n",
    "  push_enabled       INTEGER NOT NULL DEFAULT 1 CHECK (push_enabled IN (0, 1)),\n",
    "  calendar_active    INTEGER NOT NULL DEFAULT 1 CHECK (calendar_active IN (0, 1)),\n",
    "  uid_key            TEXT    NOT NULL DEFAULT ''\n",
    ") STRICT;\n",
    "\n",
    "-- Everyone who can act: staff, one client per contact, the website, the system.\n",
    "-- channels_off: the channels a recipient turned off (the outbox's bits:\n",
    "-- push 2, email 4, calendar 16; crm 1 and website 8 cannot be).\n",
    "CREATE TABLE actor (\n",
    "  id           INTEGER PRIMARY KEY,\n",
    "  agency_id    INTEGER NOT NULL REFERENCES agency(id),\n",
    "  kind         TEXT    NOT NULL CHECK (kind = 'agent' OR kind = 'client' OR kind = 'website' OR kind = 'system'),\n",
    "  role         TEXT    CHECK (role = 'agent' OR role = 'admin' OR role = 'closings'),\n",
    "  contact_id   INTEGER REFERENCES contact(id),\n",
    "  name         TEXT    NOT NULL,\n",
    "  email        TEXT,\n",
    "  created_at   INTEGER NOT NULL,\n",
    "  channels_off INTEGER NOT NULL DEFAULT 0 CHECK (channels_off & ~22 = 0),\n",
    "  CHECK ((kind = 'agent') = (role IS NOT NULL)),\n",
    "  CHECK ((kind = 'client') = (contact_id IS NOT NULL))\n",
    ") STRICT;\n",
    "CREATE UNIQUE INDEX actor_staff_email ON actor(agency_id, lower(email)) WHERE kind = 'agent';\n",
    "CREATE UNIQUE INDEX actor_client_contact ON actor(contact_id) WHERE contact_id IS NOT NULL;\n",
    "CREATE UNIQUE INDEX actor_one_per_agency ON actor(agency_id, kind)\n",
    "  WHERE kind = 'website' OR kind = 'system';\n",
    "-- An agency's website or system actor, read once per transition.\n",
    "CREATE INDEX actor_agency_kind ON actor(agency_id, kind);\n",
    "\n",
    "-- Privacy (SPEC §7): marketing consent (consent ... consent_stamp) and the\n",
    "-- record of an erasure (erased_at, erased_by).  Which columns hold personal\n",
    "-- data is listed in one place, tesoro.c's privacy map, which drives the\n",
    "-- export and the erasure.\n",
    "CREATE TABLE contact (\n",
    "  id                INTEGER PRIMARY KEY,\n",
    "  agency_id         INTEGER NOT NULL REFERENCES agency(id),\n",
    "  version           INTEGER NOT NULL DEFAULT 1,\n",
    "  name              TEXT    NOT NULL,\n",
    "  email             TEXT,\n",
    "  phone             TEXT,\n",
    "  language          TEXT,\n",
    "  assigned_agent_id INTEGER REFERENCES actor(id),\n",
    "  created_at        INTEGER NOT NULL,\n",
    "  consent           TEXT    NOT NULL DEFAULT 'not_asked'\n",
    "                      CHECK (consent = 'granted' OR consent = 'denied' OR consent = 'not_asked'),\n",
    "  consent_at        INTEGER,\n",
    "  consent_source    TEXT\n",
    "                      CHECK (consent_source = 'crm' OR consent_source = 'portal' OR consent_source = 'web_form' OR consent_source = 'website_event'),\n",
    "  consent_text      TEXT,\n",
    "  consent_stamp     TEXT,\n",
    "  erased_at         INTEGER,\n",
    "  erased_by         INTEGER REFERENCES actor(id)\n",
    ") STRICT;\n",
    "CREATE UNIQUE INDEX contact_email ON contact(agency_id, lower(email)) WHERE email IS NOT NULL;\n",
    "\n",
    "CREATE TABLE contact_role (\n",
    "  contact_id INTEGER NOT NULL REFERENCES contact(id),\n",
    "  role       TEXT    NOT NULL CHECK (role = 'owner' OR role = 'lead' OR role = 'applicant'),\n",
    "  PRIMARY KEY (contact_id, role)\n",
    ") STRICT, WITHOUT ROWID;\n",
    "\n",
    "-- History, activity, outbox and timer are appended to by the engine alone\n",
    "-- and declare no foreign keys: each key is an id the engine has just read,\n",
    "-- and each declared one cost a parent lookup for every row written or\n",
    "-- deleted (make bench).  tesoro_check verifies that every row points at what\n",
    "-- exists in its agency; the rest of the schema keeps its foreign keys.\n",
    "\n",
    "-- One row per change of an entity: seq is the entity's version after it.\n",
    "-- Keyed by (entity, entity_id, seq) alone, so a change writes one b-tree\n",
    "-- (a row id beside the key was a second one, make bench: about 5 000\n",
    "-- instructions a row), and the key refuses a second row for one version.\n",
    "-- details is written by tesoro with json_object(); tesoro_check, not a CHECK\n",
    "-- evaluated on every row written, verifies it is valid JSON.\n",
    "CREATE TABLE history (\n",
    "  entity     INTEGER NOT NULL CHECK (entity > 0),\n",
    "  entity_id  INTEGER NOT NULL,\n",
    "  seq        INTEGER NOT NULL CHECK (seq > 0),\n",
    "  agency_id  INTEGER NOT NULL,\n",
    "  event      TEXT    NOT NULL,\n",
    "  from_state TEXT,\n",
    "  to_state   TEXT,\n",
    "  actor_id   INTEGER NOT NULL,\n",
    "  at         INTEGER NOT NULL,\n",
    "  details    TEXT,\n",
    "  PRIMARY KEY (entity, entity_id, seq)\n",
    ") STRICT, WITHOUT ROWID;\n",
    "\n",
    "CREATE TABLE activity (\n",
    "  id         INTEGER PRIMARY KEY,\n",
    "  agency_id  INTEGER NOT NULL,\n",
    "  contact_id INTEGER NOT NULL,\n",
    "  kind       TEXT    NOT NULL,\n",
    "  actor_id   INTEGER NOT NULL,\n",
    "  at         INTEGER NOT NULL,\n",
    "  entity     INTEGER NOT NULL,\n",
    "  entity_id  INTEGER NOT NULL,\n",
    "  summary    TEXT    NOT NULL\n",
    ") STRICT;\n",
    "CREATE INDEX activity_contact ON activity(contact_id, at);\n",
    "\n",
    "CREATE TABLE task (\n",
    "  id          INTEGER PRIMARY KEY,\n",
    "  agency_id   INTEGER NOT NULL REFERENCES agency(id),\n",
    "  version     INTEGER NOT NULL DEFAULT 1,\n",
    "  state       TEXT    NOT NULL CHECK (state = 'open' OR state = 'done' OR state = 'cancelled'),\n",
    "  kind        TEXT    NOT NULL,\n",
    "  title       TEXT    NOT NULL,\n",
    "  entity      INTEGER NOT NULL,\n",
    "  entity_id   INTEGER NOT NULL,\n",
    "  assignee_id INTEGER REFERENCES actor(id),\n",
    "  created_at  INTEGER NOT NULL,\n",
    "  closed_at   INTEGER\n",
    ") STRICT;\n",
    "CREATE INDEX task_open ON task(agency_id, entity, entity_id) WHERE state = 'open';\n",
    "-- The task a step waits for.\n",
    "CREATE INDEX task_entity ON task(entity, entity_id);\n",
    "\n",
    "-- The transactional outbox: one row per message, its channels a set of bits\n",
    "-- (crm 1, push 2, email 4, website 8, calendar 16).  A delivery — the unit\n",
    "-- tesoro_outbox_fetch returns and the host acknowledges or fails — is\n",
    "-- (message, channel), with the stable id message * 8 + channel number\n",
    "-- (crm 0 … calendar 4): the receiver deduplicates on it.  `undelivered`\n",
    "-- holds the channels not yet acknowledged, `dead` those of them that ran\n",
    "-- out of attempts.  The message is pending while a channel is neither,\n",
    "-- delivered when none is undelivered, else dead (or withdrawn by an\n",
    "-- erasure).  Attempts and the next attempt are the message's.\n",
    "--\n",
    "-- (entity, entity_id, seq) is the history row of the change that caused\n",
    "-- the message.  A message stores what only its moment knows: the summary\n",
    "-- and its own fields (`payload`, an object written by tesoro's JSON\n",
    "-- functions and verified by tesoro_check, or NULL).  tesoro_outbox_fetch\n",
    "-- renders the rest when the host reads it: the head (entity, id and event\n",
    "-- from the history row), the recipient's language, and for a calendar\n",
    "-- message the appointment as it was at that history row.  No index on that\n",
    "-- key: its only readers, a contact's export and erasure, also select by\n",
    "-- recipient, which no index serves, so they read the whole table either way.\n",
    "CREATE TABLE outbox (\n",
    "  id              INTEGER PRIMARY KEY,\n",
    "  agency_id       INTEGER NOT NULL,\n",
    "  kind            TEXT    NOT NULL CHECK (kind = 'notification' OR kind = 'exchange' OR kind = 'calendar'),\n",
    "  recipient_id    INTEGER,\n",
    "  channels        INTEGER NOT NULL CHECK (channels BETWEEN 1 AND 31),\n",
    "  undelivered     INTEGER NOT NULL CHECK (undelivered & ~channels = 0),\n",
    "  dead            INTEGER NOT NULL DEFAULT 0 CHECK (dead & ~undelivered = 0),\n",
    "  template        TEXT    NOT NULL,\n",
    "  summary         TEXT    NOT NULL,\n",
    "  payload         TEXT,\n",
    "  entity          INTEGER NOT NULL,\n",
    "  entity_id       INTEGER NOT NULL,\n",
    "  seq             INTEGER NOT NULL,\n",
    "  status          TEXT    NOT NULL DEFAULT 'pending'\n",
    "                  CHECK (status = 'pending' OR status = 'delivered' OR status = 'dead' OR status = 'withdrawn'),\n",
    "  attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),\n",
    "  next_attempt_at INTEGER NOT NULL,\n",
    "  last_error      TEXT,\n",
    "  created_at      INTEGER NOT NULL,\n",
    "  delivered_at    INTEGER,\n",
    "  CHECK ((status = 'delivered') = (undelivered = 0))\n",
    ") STRICT;\n",
    "-- The messages tesoro_outbox_fetch finds: a first attempt by id (its\n",
    "-- next_attempt_at is its created_at), scanning on from the oldest pending\n",
    "-- one, so writing a message writes no index; a retry (attempts > 0) by this\n",
    "-- index, which only a failed delivery writes.  Rows are never deleted, so\n",
    "-- ids only grow and nothing pending hides below the oldest one seen.\n",
    "CREATE INDEX outbox_retry ON outbox(next_attempt_at, id)\n",
    "  WHERE status = 'pending' AND attempts > 0;\n",
    "\n",
    "-- The deliveries of every message, one row per (message, channel), with\n",
    "-- each delivery's status: for the counts, the CLI, tesoro_check and tests.\n",
    "-- The payload here is the message's own fields; tesoro_outbox_fetch gives\n",
    "-- the host the whole payload.\n",
    "CREATE VIEW outbox_delivery AS\n",
    "WITH channel(number, name) AS (VALUES (0, 'crm'), (1, 'push'), (2, 'email'),\n",
    "                                      (3, 'website'), (4, 'calendar'))\n",
    "SELECT o.id * 8 + ch.number AS id, o.id AS message_id, o.agency_id, o.kind,\n",
    "       o.recipient_id, ch.name AS channel, o.template, o.summary, o.payload,\n",
    "       o.entity, o.entity_id, o.seq,\n",
    "       CASE WHEN o.undelivered & (1 << ch.number) = 0 THEN 'delivered'\n",
    "            WHEN o.dead & (1 << ch.number) THEN 'dead'\n",
    "            ELSE o.status END AS status,\n",
    "       o.attempts, o.next_attempt_at, o.last_error, o.created_at,\n",
    "       o.delivered_at\n",
    "FROM outbox o JOIN channel ch ON o.channels & (1 << ch.number);\n",
    "\n",
    "-- Time-driven transitions: only the pending timers are rows, keyed by what\n",
    "-- they are about; one that fires or is withdrawn is deleted (what fired is\n",
    "-- in history).  A timer whose entity has moved on by the time it is due has\n",
    "-- no effect.  timer_due also carries the agency, so a tick reads the due\n",
    "-- ones from the index alone.\n",
    "CREATE TABLE timer (\n",
    "  entity    INTEGER NOT NULL,\n",
    "  entity_id INTEGER NOT NULL,\n",
    "  kind      TEXT    NOT NULL,\n",
    "  due_at    INTEGER NOT NULL,\n",
    "  agency_id INTEGER NOT NULL,\n",
    "  PRIMARY KEY (entity, entity_id, kind, due_at)\n",
    ") STRICT, WITHOUT ROWID;\n",
    "CREATE INDEX timer_due ON timer(due_at, agency_id);\n",
    "\n",
    "-- Documents, among them audio voice notes; one may hang on an appointment.\n",
    "CREATE TABLE document (\n",
    "  id          INTEGER PRIMARY KEY,\n",
    "  agency_id   INTEGER NOT NULL REFERENCES agency(id),\n",
    "  entity      INTEGER NOT NULL,\n",
    "  entity_id   INTEGER NOT NULL,\n",
    "  kind        TEXT    NOT NULL CHECK (kind = 'shared' OR kind = 'signed_mandate'\n",
    "                OR kind = 'property_document' OR kind = 'photo' OR kind = 'energy_certificate'\n",
    "                OR kind = 'voice_note'),\n",
    "  name        TEXT    NOT NULL,\n",
    "  mime        TEXT    NOT NULL CHECK (mime = 'application/pdf' OR mime = 'image/jpeg'\n",
    "                OR mime = 'image/png' OR mime = 'image/webp' OR mime = 'audio/mpeg' OR mime = 'audio/mp4'\n",
    "                OR mime = 'audio/aac' OR mime = 'audio/ogg' OR mime = 'audio/wav' OR mime = 'audio/webm'),\n",
    "  size        INTEGER NOT NULL CHECK (size > 0 AND size = length(data)),\n",
    "  sha256      TEXT    NOT NULL CHECK (length(sha256) = 64),\n",
    "  data        BLOB    NOT NULL,\n",
    "  uploaded_by INTEGER NOT NULL REFERENCES actor(id),\n",
    "  created_at  INTEGER NOT NULL\n",
    ") STRICT;\n",
    "CREATE INDEX document_entity ON document(entity, entity_id);\n",
    "\n",
    "-- ---------------------------------------------------------------------------\n",
    "-- Seller onboarding: contact rooms, mandates and their proposals, listings.\n",
    "\n",
    "CREATE TABLE room (\n",
    "  id            INTEGER PRIMARY KEY,\n",
    "  agency_id     INTEGER NOT NULL REFERENCES agency(id),\n",
    "  contact_id    INTEGER NOT NULL REFERENCES contact(id),\n",
    "  version       INTEGER NOT NULL DEFAULT 1,\n",
    "  state         TEXT    NOT NULL CHECK (state = 'open' OR state = 'in_progress' OR state = 'lost'\n",
    "                  OR state = 'closed' OR state = 'successful'),\n",
    "  property_type TEXT    NOT NULL CHECK (property_type = 'house' OR property_type = 'apartment'\n",
    "                  OR property_type = 'office' OR property_type = 'land'),\n",
    "  location      TEXT    NOT NULL,\n",
    "  budget        INTEGER CHECK (budget > 0),\n",
    "  timeline      TEXT,\n",
    "  description   TEXT,\n",
    "  end_reason    TEXT,\n",
    "  ended_by      INTEGER REFERENCES actor(id),\n",
    "  created_at    INTEGER NOT NULL\n",
    ") STRICT;\n",
    "CREATE INDEX room_agency ON room(agency_id, state);\n",
    "CREATE INDEX room_contact ON room(contact_id);\n",
    "\n",
    "CREATE TABLE room_message (\n",
    "  id         INTEGER PRIMARY KEY,\n",
    "  room_id    INTEGER NOT NULL REFERENCES room(id),\n",
    "  kind       TEXT    NOT NULL CHECK (kind IN ('message', 'note')),\n",
    "  author_id  INTEGER NOT NULL REFERENCES actor(id),\n",
    "  body       TEXT    NOT NULL,\n",
    "  created_at INTEGER NOT NULL\n",
    ") STRICT;\n",
    "CREATE INDEX room_message_room ON room_message(room_id, id);\n",
    "\n",
    "-- Agreed terms are copied from the accepted proposal and frozen here.\n",
    "CREATE TABLE mandate (\n",
    "  id                  INTEGER PRIMARY KEY,\n",
    "  agency_id           INTEGER NOT NULL REFERENCES agency(id),\n",
    "  room_id             INTEGER NOT NULL UNIQUE REFERENCES room(id),\n",
    "  contact_id          INTEGER NOT NULL REFERENCES contact(id),\n",
    "  version             INTEGER NOT NULL DEFAULT 1,\n",
    "  state               TEXT    NOT NULL CHECK (state = 'draft' OR state = 'negotiating'\n",
    "                        OR state = 'terms_agreed' OR state = 'form_shared' OR state = 'form_submitted'\n",
    "                        OR state = 'validated' OR state = 'cancelled'),\n",
    "  open_proposal_id    INTEGER REFERENCES proposal(id),\n",
    "  agreed_proposal_id  INTEGER REFERENCES proposal(id),\n",
    "  commission_type     TEXT    CHECK (commission_type IN ('percentage', 'fixed')),\n",
    "  commission_value    INTEGER,\n",
    "  currency            TEXT,\n",
    "  exclusive           INTEGER CHECK (exclusive IN (0, 1)),\n",
    "  duration_days       INTEGER,\n",
    "  form_json           TEXT    CHECK (form_json IS NULL OR json_valid(form_json)),\n",
    "  validated_at        INTEGER,\n",
    "  end_reason          TEXT,\n",
    "  created_at          INTEGER NOT NULL\n",
    ") STRICT;\n",
    "\n",
    "CREATE TABLE proposal (\n",
    "  id                    INTEGER PRIMARY KEY,\n",
    "  mandate_id            INTEGER NOT NULL REFERENCES mandate(id),\n",
    "  author_id             INTEGER NOT NULL REFERENCES actor(id),\n",
    "  author_party          TEXT    NOT NULL CHECK (author_party IN ('agent', 'client')),\n",
    "  commission_type       TEXT    NOT NULL CHECK (commission_type IN ('percentage', 'fixed')),\n",
    "  commission_value      INTEGER NOT NULL CHECK (commission_value > 0),\n",
    "  currency              TEXT,\n",
    "  exclusive             INTEGER NOT NULL CHECK (exclusive IN (0, 1)),\n",
    "  duration_days         INTEGER NOT NULL CHECK (duration_days > 0),\n",
    "  created_at            INTEGER NOT NULL,\n",
    "  superseded_at         INTEGER,\n",
    "  accepted_by_agent_at  INTEGER,\n",
    "  accepted_by_client_at INTEGER,\n",
    "  CHECK (commission_type = 'fixed' OR commission_value <= 10000),\n",
    "  CHECK ((commission_type = 'fixed') = (currency IS NOT NULL))\n",
    ") STRICT;\n",
    "CREATE INDEX proposal_mandate ON proposal(mandate_id, id);\n",
    "\n",
    "-- longitude and latitude: where the listing is, for the website's searches.\n",
    "CREATE TABLE listing (\n",
    "  id            INTEGER PRIMARY KEY,\n",
    "  agency_id     INTEGER NOT NULL REFERENCES agency(id),\n",
    "  mandate_id    INTEGER NOT NULL UNIQUE REFERENCES mandate(id),\n",
    "  ref           TEXT    NOT NULL,\n",
    "  version       INTEGER NOT NULL DEFAULT 1,\n",
    "  state         TEXT    NOT NULL CHECK (state = 'placeholder' OR state = 'draft'\n",
    "                  OR state = 'published' OR state = 'unpublished'),\n",
    "  title         TEXT,\n",
    "  address       TEXT,\n",
    "  price         INTEGER CHECK (price > 0),\n",
    "  property_type TEXT    CHECK (property_type = 'house' OR property_type = 'apartment' OR property_type = 'office' OR property_type = 'land'),\n",
    "  bedrooms      INTEGER CHECK (bedrooms >= 0),\n",
    "  bathrooms     INTEGER CHECK (bathrooms >= 0),\n",
    "  floor_area    INTEGER CHECK (floor_area > 0),\n",
    "  energy_label  TEXT,\n",
    "  description   TEXT,\n",
    "  published_at  INTEGER,\n",
    "  created_at    INTEGER NOT NULL,\n",
    "  longitude     REAL    CHECK (longitude BETWEEN -180 AND 180),\n",
    "  latitude      REAL    CHECK (latitude BETWEEN -90 AND 90),\n",
    "  UNIQUE (agency_id, ref)\n",
    ") STRICT;\n",
    "\n",
    "-- ---------------------------------------------------------------------------\n",
    "-- Viewing appointments: deals, the properties offered to them, appointments\n",
    "-- and the client's notes on them.\n",
    "\n",
    "CREATE TABLE deal (\n",
    "  id         INTEGER PRIMARY KEY,\n",
    "  agency_id  INTEGER NOT NULL REFERENCES agency(id),\n",
    "  contact_id INTEGER NOT NULL REFERENCES contact(id),\n",
    "  agent_id   INTEGER NOT NULL REFERENCES actor(id),\n",
    "  version    INTEGER NOT NULL DEFAULT 1,\n",
    "  state      TEXT    NOT NULL CHECK (state = 'active' OR state = 'closed'),\n",
    "  name       TEXT    NOT NULL,\n",
    "  end_reason TEXT,\n",
    "  created_at INTEGER NOT NULL\n",
    ") STRICT;\n",
    "CREATE INDEX deal_contact ON deal(contact_id);\n",
    "\n",
    "-- reject_reasons: why a client is not interested in the property (the\n",
    "-- portal's feed; a JSON array of reasons from a fixed list); reject_note:\n",
    "-- their own words.\n",
    "CREATE TABLE deal_property (\n",
    "  id             INTEGER PRIMARY KEY,\n",
    "  agency_id      INTEGER NOT NULL REFERENCES agency(id),\n",
    "  deal_id        INTEGER NOT NULL REFERENCES deal(id),\n",
    "  listing_id     INTEGER NOT NULL REFERENCES listing(id),\n",
    "  version        INTEGER NOT NULL DEFAULT 1,\n",
    "  state          TEXT    NOT NULL CHECK (state = 'to_review' OR state = 'interesting'\n",
    "                   OR state = 'rejected' OR state = 'viewed' OR state = 'approved'),\n",
    "  favourite      INTEGER NOT NULL DEFAULT 0 CHECK (favourite IN (0, 1)),\n",
    "  created_at     INTEGER NOT NULL,\n",
    "  reject_reasons TEXT    CHECK (reject_reasons IS NULL OR json_valid(reject_reasons)),\n",
    "  reject_note    TEXT,\n",
    "  UNIQUE (deal_id, listing_id)\n",
    ") STRICT;\n",
    "\n",
    "-- A viewing is a CRM meeting: type and category are fixed for viewings.\n",
    "-- preferred: the client's 1-3 date-times as a JSON array, in their order.\n",
    "CREATE TABLE appointment (\n",
    "  id               INTEGER PRIMARY KEY,\n",
    "  agency_id        INTEGER NOT NULL REFERENCES agency(id),\n",
    "  contact_id       INTEGER NOT NULL REFERENCES contact(id),\n",
    "  deal_id          INTEGER NOT NULL REFERENCES deal(id),\n",
    "  deal_property_id INTEGER NOT NULL REFERENCES deal_property(id),\n",
    "  listing_id       INTEGER NOT NULL REFERENCES listing(id),\n",
    "  owner_id         INTEGER NOT NULL REFERENCES actor(id),\n",
    "  version          INTEGER NOT NULL DEFAULT 1,\n",
    "  state            TEXT    NOT NULL CHECK (state = 'pending' OR state = 'confirmed'\n",
    "                     OR state = 'completed' OR state = 'cancelled' OR state = 'rejected'),\n",
    "  type             TEXT    NOT NULL DEFAULT 'visit_location'\n",
    "                     CHECK (type = 'visit_location'),\n",
    "  category         TEXT    NOT NULL DEFAULT 'visit' CHECK (category = 'visit'),\n",
    "  preferred        TEXT    NOT NULL CHECK (json_valid(preferred) AND\n",
    "                     json_array_length(preferred) BETWEEN 1 AND 3),\n",
    "  start_at         INTEGER,\n",
    "  duration_s       INTEGER NOT NULL DEFAULT 3600 CHECK (duration_s > 0),\n",
    "  completed_at     INTEGER,\n",
    "  completed_by     INTEGER REFERENCES actor(id),\n",
    "  ended_at         INTEGER,\n",
    "  ended_by         INTEGER REFERENCES actor(id),\n",
    "  end_reason       TEXT,\n",
    "  no_show_at       INTEGER,\n",
    "  no_show_by       INTEGER REFERENCES actor(id),\n",
    "  rating           INTEGER CHECK (rating BETWEEN 1 AND 5),\n",
    "  rated_at         INTEGER,\n",
    "  created_at       INTEGER NOT NULL,\n",
    "  -- A transition moves the state before its effect writes the times, so\n",
    "  -- \"confirmed has a start\" and \"completed has completed_at\" are checked\n",
    "  -- by tesoro_check, not here.\n",
    "  CHECK (rating IS NULL OR state = 'completed'),\n",
    "  CHECK (no_show_at IS NULL OR state = 'completed')\n",
    ") STRICT;\n",
    "-- A client's appointment lists, by start and not by state: a transition\n",
    "-- moves the state, and an index holding it was rewritten by every move\n",
    "-- (make bench: about 12 000 instructions a transition).  A client has few\n",
    "-- appointments, so the lists filter the state on the rows found.\n",
    "CREATE INDEX appointment_client ON appointment(contact_id, start_at);\n",
    "CREATE INDEX appointment_owner ON appointment(owner_id, start_at);\n",
    "\n",
    "CREATE TABLE appointment_note (\n",
    "  id             INTEGER PRIMARY KEY,\n",
    "  appointment_id INTEGER NOT NULL REFERENCES appointment(id),\n",
    "  author_id      INTEGER NOT NULL REFERENCES actor(id),\n",
    "  body           TEXT    NOT NULL,\n",
    "  created_at     INTEGER NOT NULL\n",
    ") STRICT;\n",
    "CREATE INDEX appointment_note_appointment ON appointment_note(appointment_id, id);\n",
    "\n",
    "-- ---------------------------------------------------------------------------\n",
    "-- Referral stages: referrals and their notes; the agency's fee is\n",
    "-- agency.referral_fee_bp.\n",
    "\n",
    "-- last_active_stage: the newest active stage, where a failed referral\n",
    "-- may go back to.  Dates are agency-local calendar dates, 'YYYY-MM-DD'\n",
    "-- (\"+0 days\" makes date() normalise 02-30, which it otherwise keeps).\n",
    "-- attempted_via and contacted_via: how the client was tried and reached\n",
    "-- (seed: a voicemail, a text or an e-mail; a phone call, a text or an\n",
    "-- e-mail), the newest of each, as stage data; history keeps every attempt.\n",
    "CREATE TABLE referral (\n",
    "  id                INTEGER PRIMARY KEY,\n",
    "  agency_id         INTEGER NOT NULL REFERENCES agency(id),\n",
    "  contact_id        INTEGER NOT NULL REFERENCES contact(id),\n",
    "  agent_id          INTEGER NOT NULL REFERENCES actor(id),\n",
    "  version           INTEGER NOT NULL DEFAULT 1,\n",
    "  state             TEXT    NOT NULL CHECK (state = 'left_voicemail'\n",
    "                      OR state = 'connected' OR state = 'meeting_scheduled' OR state = 'met_with_person'\n",
    "                      OR state = 'coming_soon' OR state = 'making_an_offer' OR state = 'listing' OR state = 'in_escrow'\n",
    "                      OR state = 'closed' OR state = 'closed_paid' OR state = 'failed'),\n",
    "  last_active_stage TEXT    NOT NULL CHECK (last_active_stage = 'left_voicemail' OR last_active_stage = 'connected' OR last_active_stage = 'meeting_scheduled'\n",
    "                      OR last_active_stage = 'met_with_person' OR last_active_stage = 'coming_soon' OR last_active_stage = 'making_an_offer'\n",
    "                      OR last_active_stage = 'listing' OR last_active_stage = 'in_escrow' OR last_active_stage = 'closed' OR last_active_stage = 'closed_paid'),\n",
    "  meeting_at        INTEGER CHECK (meeting_at > 0),\n",
    "  list_date         TEXT    CHECK (list_date IS date(list_date, '+0 days')),\n",
    "  sale_price        INTEGER CHECK (sale_price > 0),\n",
    "  close_date        TEXT    CHECK (close_date IS date(close_date, '+0 days')),\n",
    "  fee_bp            INTEGER NOT NULL CHECK (fee_bp BETWEEN 0 AND 10000),\n",
    "  fee_owed          INTEGER CHECK (fee_owed >= 0),\n",
    "  paid_amount       INTEGER CHECK (paid_amount > 0),\n",
    "  paid_at           INTEGER,\n",
    "  failed_at         INTEGER,\n",
    "  failed_by         INTEGER REFERENCES actor(id),\n",
    "  fail_reason       TEXT,\n",
    "  created_at        INTEGER NOT NULL,\n",
    "  attempted_via     TEXT    CHECK (attempted_via = 'voicemail' OR attempted_via = 'text' OR\n",
    "                      attempted_via = 'email'),\n",
    "  contacted_via     TEXT    CHECK (contacted_via = 'phone' OR contacted_via = 'text' OR\n",
    "                      contacted_via = 'email')\n",
    ") STRICT;\n",
    "CREATE INDEX referral_agency ON referral(agency_id, state);\n",
    "CREATE INDEX referral_agent ON referral(agent_id, state);\n",
    "\n",
    "CREATE TABLE referral_note (\n",
    "  id          INTEGER PRIMARY KEY,\n",
    "  referral_id INTEGER NOT NULL REFERENCES referral(id),\n",
    "  author_id   INTEGER NOT NULL REFERENCES actor(id),\n",
    "  body        TEXT    NOT NULL,\n",
    "  created_at  INTEGER NOT NULL\n",
    ") STRICT;\n",
    "CREATE INDEX referral_note_referral ON referral_note(referral_id, id);\n",
    "\n",
    "-- ---------------------------------------------------------------------------\n",
    "-- The client portal: accounts, sessions, messages to the agent.\n",
    "\n",
    "-- An account's state is its onboarding step; contact_id is NULL only while\n",
    "-- a self-registration awaits verification.  Secrets are argon2id strings\n",
    "-- (libsodium crypto_pwhash_str), never clear text: the CHECKs refuse\n",
    "-- anything else.  The e-mail is unique per agency, compared\n",
    "-- case-insensitively.  reset_*: a password reset (the secret's hash, its end\n",
    "-- and wrong tries).  deactivated_at: staff switched the account off (no\n",
    "-- login, no session).  email_pending: a login e-mail changed by a contact\n",
    "-- correction, waiting until its owner verifies it with the code sent to it.\n",
    "CREATE TABLE portal_account (\n",
    "  id               INTEGER PRIMARY KEY,\n",
    "  agency_id        INTEGER NOT NULL REFERENCES agency(id),\n",
    "  contact_id       INTEGER REFERENCES contact(id),\n",
    "  version          INTEGER NOT NULL DEFAULT 1,\n",
    "  state            TEXT    NOT NULL CHECK (state = 'unverified'\n",
    "                     OR state = 'set_password' OR state = 'welcome' OR state = 'tour' OR state = 'ready'),\n",
    "  email            TEXT    NOT NULL CHECK (length(email) BETWEEN 3 AND 254),\n",
    "  name             TEXT    CHECK (length(name) BETWEEN 1 AND 200),\n",
    "  password_hash    TEXT    NOT NULL CHECK (password_hash LIKE '$argon2id$%'),\n",
    "  code_hash        TEXT    CHECK (code_hash LIKE '$argon2id$%'),\n",
    "  code_expires_at  INTEGER,\n",
    "  code_attempts    INTEGER NOT NULL DEFAULT 0 CHECK (code_attempts BETWEEN 0 AND 5),\n",
    "  failed_logins    INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins BETWEEN 0 AND 4),\n",
    "  locked_until     INTEGER,\n",
    "  language         TEXT    CHECK (language = 'en' OR language = 'nl' OR language = 'de' OR language = 'fr' OR language = 'es'\n",
    "                     OR language = 'pt' OR language = 'it' OR language = 'pl' OR language = 'sv' OR language = 'no'),\n",
    "  last_login_at    INTEGER,\n",
    "  created_by       INTEGER NOT NULL REFERENCES actor(id),\n",
    "  created_at       INTEGER NOT NULL,\n",
    "  reset_hash       TEXT    CHECK (reset_hash LIKE '$argon2id$%'),\n",
    "  reset_expires_at INTEGER,\n",
    "  reset_attempts   INTEGER NOT NULL DEFAULT 0 CHECK (reset_attempts BETWEEN 0 AND 5),\n",
    "  deactivated_at   INTEGER,\n",
    "  email_pending    TEXT\n",
    ") STRICT;\n",
    "CREATE UNIQUE INDEX portal_account_email ON portal_account(agency_id, lower(email));\n",
    "CREATE UNIQUE INDEX portal_account_contact ON portal_account(contact_id)\n",
    "  WHERE contact_id IS NOT NULL;\n",
    "\n",
    "-- Portal sessions, keyed by the BLAKE2b-256 hash of their token: the token\n",
    "-- itself is never stored.  A session row goes when the session ends.\n",
    "CREATE TABLE portal_session (\n",
    "  token_hash   BLOB    PRIMARY KEY CHECK (length(token_hash) = 32),\n",
    "  account_id   INTEGER NOT NULL REFERENCES portal_account(id),\n",
    "  agency_id    INTEGER NOT NULL REFERENCES agency(id),\n",
    "  created_at   INTEGER NOT NULL,\n",
    "  last_used_at INTEGER NOT NULL,\n",
    "  expires_at   INTEGER NOT NULL\n",
    ") STRICT, WITHOUT ROWID;\n",
    "CREATE INDEX portal_session_account ON portal_session(account_id);\n",
    "CREATE INDEX portal_session_agency ON portal_session(agency_id);\n",
    "\n",
    "-- Contact agent: a client's message to their agent from the portal.\n",
    "CREATE TABLE portal_message (\n",
    "  id               INTEGER PRIMARY KEY,\n",
    "  agency_id        INTEGER NOT NULL REFERENCES agency(id),\n",
    "  contact_id       INTEGER NOT NULL REFERENCES contact(id),\n",
    "  deal_property_id INTEGER REFERENCES deal_property(id),\n",
    "  body             TEXT    NOT NULL CHECK (length(body) > 0),\n",
    "  created_at       INTEGER NOT NULL\n",
    ") STRICT;\n",
    "CREATE INDEX portal_message_contact ON portal_message(contact_id, id);\n",
    "\n",
    "-- ---------------------------------------------------------------------------\n",
    "-- Website exchange (SPEC §6): web customers and the prospect holding tank,\n",
    "-- the website's events (for idempotent replays), searches with their\n",
    "-- polygon vertices, interest per property, enquiries, vendor claims and\n",
    "-- firm vendor links.\n",
    "-- A \"stamp\" is '<event time, 20 digits>|<source_id>': comparing stamps as\n",
    "-- text orders events by time, then source id — the same whatever order\n",
    "-- they arrived in.\n",
    "\n",
    "-- consent ... consent_stamp: the marketing consent the website reported\n",
    "-- before the customer became a contact.  erased_at, erased_by: a\n",
    "-- website-only person (a prospect never approved, or discarded) erased\n",
    "-- (tesoro_web_customer_erase); the row stays for the books.\n",
    "CREATE TABLE web_customer (\n",
    "  id               INTEGER PRIMARY KEY,\n",
    "  agency_id        INTEGER NOT NULL REFERENCES agency(id),\n",
    "  external_id      TEXT    CHECK (length(external_id) BETWEEN 1 AND 200),\n",
    "  contact_id       INTEGER REFERENCES contact(id),\n",
    "  version          INTEGER NOT NULL DEFAULT 1,\n",
    "  state            TEXT    NOT NULL CHECK (state = 'prospect' OR state = 'approved' OR state = 'discarded'),\n",
    "  name             TEXT,\n",
    "  email            TEXT,\n",
    "  phone            TEXT,\n",
    "  details_stamp    TEXT,\n",
    "  visits           INTEGER NOT NULL DEFAULT 0 CHECK (visits >= 0),\n",
    "  last_visit_at    INTEGER,\n",
    "  visit_stamp      TEXT,\n",
    "  group_ref        TEXT,\n",
    "  group_stamp      TEXT,\n",
    "  last_activity_at INTEGER,\n",
    "  end_reason       TEXT,\n",
    "  created_at       INTEGER NOT NULL,\n",
    "  consent          TEXT    CHECK (consent IN ('granted', 'denied')),\n",
    "  consent_at       INTEGER,\n",
    "  consent_text     TEXT,\n",
    "  consent_stamp    TEXT,\n",
    "  erased_at        INTEGER,\n",
    "  erased_by        INTEGER\n",
    ") STRICT;\n",
    "CREATE UNIQUE INDEX web_customer_external ON web_customer(agency_id, external_id)\n",
    "  WHERE external_id IS NOT NULL;\n",
    "CREATE UNIQUE INDEX web_customer_contact ON web_customer(contact_id)\n",
    "  WHERE contact_id IS NOT NULL;\n",
    "CREATE INDEX web_customer_state ON web_customer(agency_id, state);\n",
    "\n",
    "-- Every ingested event once: its digest tells a replay from a reuse.  No\n",
    "-- foreign keys and no JSON check: each was a parent lookup or a parse for\n",
    "-- every website event; tesoro_check holds both rules (a customer of the\n",
    "-- event's agency; the result an object).\n",
    "CREATE TABLE web_event (\n",
    "  id          INTEGER PRIMARY KEY,\n",
    "  agency_id   INTEGER NOT NULL,\n",
    "  source_id   TEXT    NOT NULL CHECK (length(source_id) BETWEEN 1 AND 200),\n",
    "  digest      TEXT    NOT NULL CHECK (length(digest) = 64),\n",
    "  type        TEXT    NOT NULL,\n",
    "  customer_id INTEGER NOT NULL,\n",
    "  at          INTEGER NOT NULL CHECK (at >= 0),\n",
    "  result      TEXT    NOT NULL,\n",
    "  received_at INTEGER NOT NULL,\n",
    "  UNIQUE (agency_id, source_id)\n",
    ") STRICT;\n",
    "\n",
    "CREATE TABLE search (\n",
    "  id             INTEGER PRIMARY KEY,\n",
    "  agency_id      INTEGER NOT NULL REFERENCES agency(id),\n",
    "  customer_id    INTEGER NOT NULL REFERENCES web_customer(id),\n",
    "  external_id    TEXT,\n",
    "  version        INTEGER NOT NULL DEFAULT 1,\n",
    "  state          TEXT    NOT NULL CHECK (state = 'active' OR state = 'deleted'),\n",
    "  hard           INTEGER NOT NULL CHECK (hard IN (0, 1)),\n",
    "  alert          INTEGER NOT NULL DEFAULT 0 CHECK (alert IN (0, 1)),\n",
    "  source         TEXT    NOT NULL CHECK (source IN ('website', 'crm')),\n",
    "  criteria       TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(criteria)),\n",
    "  min_price      INTEGER,\n",
    "  max_price      INTEGER,\n",
    "  property_types TEXT    CHECK (property_types IS NULL OR json_valid(property_types)),\n",
    "  min_bedrooms   INTEGER,\n",
    "  max_bedrooms   INTEGER,\n",
    "  area_name      TEXT,\n",
    "  centre_lon     REAL,\n",
    "  centre_lat     REAL,\n",
    "  radius_m       REAL    CHECK (radius_m > 0),\n",
    "  min_lon        REAL,\n",
    "  max_lon        REAL,\n",
    "  min_lat        REAL,\n",
    "  max_lat        REAL,\n",
    "  stamp          TEXT,\n",
    "  updated_at     INTEGER NOT NULL,\n",
    "  created_at     INTEGER NOT NULL\n",
    ") STRICT;\n",
    "CREATE UNIQUE INDEX search_external ON search(customer_id, external_id)\n",
    "  WHERE external_id IS NOT NULL;\n",
    "-- A customer's searches, for the call list.\n",
    "CREATE INDEX search_customer ON search(customer_id, state);\n",
    "\n",
    "-- A search polygon's positions: ring 0 the outline, others holes.\n",
    "CREATE TABLE search_vertex (\n",
    "  search_id INTEGER NOT NULL REFERENCES search(id),\n",
    "  ring      INTEGER NOT NULL,\n",
    "  idx       INTEGER NOT NULL,\n",
    "  lon       REAL    NOT NULL,\n",
    "  lat       REAL    NOT NULL,\n",
    "  PRIMARY KEY (search_id, ring, idx)\n",
    ") STRICT, WITHOUT ROWID;\n",
    "\n",
    "CREATE TABLE web_interest (\n",
    "  customer_id    INTEGER NOT NULL REFERENCES web_customer(id),\n",
    "  listing_id     INTEGER NOT NULL REFERENCES listing(id),\n",
    "  views          INTEGER NOT NULL DEFAULT 0 CHECK (views >= 0),\n",
    "  last_viewed_at INTEGER,\n",
    "  saved          INTEGER NOT NULL DEFAULT 0 CHECK (saved IN (0, 1)),\n",
    "  save_stamp     TEXT,\n",
    "  rank           INTEGER CHECK (rank BETWEEN 1 AND 5),\n",
    "  note           TEXT,\n",
    "  note_shared    INTEGER NOT NULL DEFAULT 0 CHECK (note_shared IN (0, 1)),\n",
    "  rank_stamp     TEXT,\n",
    "  in_branch_at   INTEGER,\n",
    "  PRIMARY KEY (customer_id, listing_id)\n",
    ") STRICT, WITHOUT ROWID;\n",
    "\n",
    "CREATE TABLE enquiry (\n",
    "  id          INTEGER PRIMARY KEY,\n",
    "  agency_id   INTEGER NOT NULL REFERENCES agency(id),\n",
    "  customer_id INTEGER NOT NULL REFERENCES web_customer(id),\n",
    "  type        TEXT    NOT NULL CHECK (type = 'property' OR type = 'branch' OR type = 'valuation'\n",
    "                OR type = 'mortgage' OR type = 'viewing' OR type = 'staff' OR type = 'general'),\n",
    "  listing_id  INTEGER REFERENCES listing(id),\n",
    "  message     TEXT,\n",
    "  at          INTEGER NOT NULL\n",
    ") STRICT;\n",
    "CREATE INDEX enquiry_customer ON enquiry(customer_id, at);\n",
    "\n",
    "CREATE TABLE vendor_claim (\n",
    "  id          INTEGER PRIMARY KEY,\n",
    "  agency_id   INTEGER NOT NULL REFERENCES agency(id),\n",
    "  customer_id INTEGER NOT NULL REFERENCES web_customer(id),\n",
    "  listing_id  INTEGER NOT NULL REFERENCES listing(id),\n",
    "  version     INTEGER NOT NULL DEFAULT 1,\n",
    "  state       TEXT    NOT NULL CHECK (state = 'claimed' OR state = 'confirmed' OR state = 'rejected'),\n",
    "  note        TEXT,\n",
    "  end_reason  TEXT,\n",
    "  created_at  INTEGER NOT NULL\n",
    ") STRICT;\n",
    "CREATE INDEX vendor_claim_customer ON vendor_claim(customer_id, listing_id);\n",
    "\n",
    "CREATE TABLE vendor_link (\n",
    "  contact_id INTEGER NOT NULL REFERENCES contact(id),\n",
    "  listing_id INTEGER NOT NULL REFERENCES listing(id),\n",
    "  role       TEXT    NOT NULL CHECK (role IN ('vendor', 'landlord')),\n",
    "  created_by INTEGER NOT NULL REFERENCES actor(id),\n",
    "  created_at INTEGER NOT NULL,\n",
    "  PRIMARY KEY (contact_id, listing_id)\n",
    ") STRICT, WITHOUT ROWID;\n",
    "\n",
    "-- ---------------------------------------------------------------------------\n",
    "-- What tesoro_agency_import brought in: per agency, record type and the\n",
    "-- source system's id, the entity made from it and the digest of the record\n",
    "-- (the same record again is \"present\"; another under that id a conflict).\n",
    "CREATE TABLE import_ref (\n",
    "  agency_id   INTEGER NOT NULL,\n",
    "  type        TEXT    NOT NULL,\n",
    "  external_id TEXT    NOT NULL CHECK (length(external_id) BETWEEN 1 AND 200),\n",
    "  entity      INTEGER NOT NULL,\n",
    "  entity_id   INTEGER NOT NULL,\n",
    "  digest      BLOB    NOT NULL,\n",
    "  line        INTEGER NOT NULL,\n",
    "  imported_at INTEGER NOT NULL,\n",
    "  PRIMARY KEY (agency_id, type, external_id)\n",
    ") STRICT, WITHOUT ROWID;\n",
    "CREATE INDEX import_ref_entity ON import_ref(agency_id, type, entity_id);\n",
    "\n",
    "-- @version 2\n",
    "-- A client's appointments by contact alone: with the start in it, every\n",
    "-- confirmed or moved viewing rewrote its index entry, one page more for\n",
    "-- the write (make bench).  A client has few appointments; their lists\n",
    "-- sort the ones found.\n",
    "DROP INDEX appointment_client;\n",
    "CREATE INDEX appointment_client ON appointment(contact_id);\n",
    "\n",
    "-- @version 3\n",
    "-- A contact's timeline keyed by the contact: one b-tree a line, where a\n",
    "-- table and its index were two (make bench: 0.7 WAL pages a transition).\n",
    "-- id numbers the contact's lines in the order they were written (a line\n",
    "-- takes the contact's highest id + 1); the lines of a file from before\n",
    "-- keep theirs.\n",
    "ALTER TABLE activity RENAME TO activity_before_3;\n",
    "CREATE TABLE activity (\n",
    "  contact_id INTEGER NOT NULL,\n",
    "  id         INTEGER NOT NULL CHECK (id > 0),\n",
    "  agency_id  INTEGER NOT NULL,\n",
    "  kind       TEXT    NOT NULL,\n",
    "  actor_id   INTEGER NOT NULL,\n",
    "  at         INTEGER NOT NULL,\n",
    "  entity     INTEGER NOT NULL,\n",
    "  entity_id  INTEGER NOT NULL,\n",
    "  summary    TEXT    NOT NULL,\n",
    "  PRIMARY KEY (contact_id, id)\n",
    ") STRICT, WITHOUT ROWID;\n",
    "INSERT INTO activity(contact_id, id, agency_id, kind, actor_id, at, entity,\n",
    "                     entity_id, summary)\n",
    "  SELECT contact_id, id, agency_id, kind, actor_id, at, entity, entity_id,\n",
    "         summary FROM activity_before_3;\n",
    "DROP TABLE activity_before_3;\n",
    "\n",
    "-- An agent's viewings by owner alone, as a client's (section 2): with the\n",
    "-- start in it, a confirmed or moved viewing rewrote its entry, and an\n",
    "-- agent's entries spread over pages by start (make bench: 0.6 WAL pages a\n",
    "-- transition).  The agent's lists sort what they find.\n",
    "DROP INDEX appointment_owner;\n",
    "CREATE INDEX appointment_owner ON appointment(owner_id);\n",
    "\n",
    "-- @version 4\n",
    "-- Pending timers keyed by their due time alone: the tick reads them from\n",
    "-- the key's front, and a table keyed by what they are about needed a\n",
    "-- second b-tree ordered by due (make bench: one WAL page a transition).\n",
    "-- A withdrawal deletes by the whole key, so the rows the timers are about\n",
    "-- keep their due times: an appointment's follow from its start and\n",
    "-- duration and, for the reminder, reminder_at (the reminder its last\n",
    "-- confirm or reschedule planned, NULL: none); a referral's list-date timer\n",
    "-- is list_due (the one last planned).\n",
    "ALTER TABLE appointment ADD COLUMN reminder_at INTEGER;\n",
    "UPDATE appointment SET reminder_at = (SELECT due_at FROM timer WHERE\n",
    "  entity = 8 AND entity_id = appointment.id AND kind = 'viewing_reminder');\n",
    "ALTER TABLE referral ADD COLUMN list_due INTEGER;\n",
    "UPDATE referral SET list_due = (SELECT due_at FROM timer WHERE\n",
    "  entity = 9 AND entity_id = referral.id AND kind = 'referral_list_date');\n",
    "ALTER TABLE timer RENAME TO timer_before_3;\n",
    "CREATE TABLE timer (\n",
    "  due_at    INTEGER NOT NULL,\n",
    "  entity    INTEGER NOT NULL,\n",
    "  entity_id INTEGER NOT NULL,\n",
    "  kind      TEXT    NOT NULL,\n",
    "  agency_id INTEGER NOT NULL,\n",
    "  PRIMARY KEY (due_at, entity, entity_id, kind)\n",
    ") STRICT, WITHOUT ROWID;\n",
    "INSERT INTO timer(due_at, entity, entity_id, kind, agency_id)\n",
    "  SELECT due_at, entity, entity_id, kind, agency_id FROM timer_before_3;\n",
    "DROP TABLE timer_before_3;\n",
    "\n",
    "-- @version 5\n",
    "-- A website event keeps what its answer says, not the answer's text: the\n",
    "-- answer (tesoro_exchange_ingest's result) is rendered from these columns\n",
    "-- for the event and each replay alike.  The text made a row about 110\n",
    "-- bytes longer, and a batch's events filled that many more pages (make\n",
    "-- bench: about 6 of the 63 WAL pages a batch of 500).  applied: 0 when\n",
    "-- superseded; entity: the TESORO_ENTITY_* number of what the event made\n",
    "-- or changed (0: none), entity_id its id.\n",
    "ALTER TABLE web_event RENAME TO web_event_before_5;\n",
    "CREATE TABLE web_event (\n",
    "  id          INTEGER PRIMARY KEY,\n",
    "  agency_id   INTEGER NOT NULL,\n",
    "  source_id   TEXT    NOT NULL CHECK (length(source_id) BETWEEN 1 AND 200),\n",
    "  digest      TEXT    NOT NULL CHECK (length(digest) = 64),\n",
    "  type        TEXT    NOT NULL,\n",
    "  customer_id INTEGER NOT NULL,\n",
    "  at          INTEGER NOT NULL CHECK (at >= 0),\n",
    "  applied     INTEGER NOT NULL CHECK (applied IN (0, 1)),\n",
    "  entity      INTEGER NOT NULL CHECK (entity >= 0),\n",
    "  entity_id   INTEGER NOT NULL,\n",
    "  received_at INTEGER NOT NULL,\n",
    "  UNIQUE (agency_id, source_id)\n",
    ") STRICT;\n",
    "INSERT INTO web_event(id, agency_id, source_id, digest, type, customer_id,\n",
    "                      at, applied, entity, entity_id, received_at)\n",
    "  SELECT id, agency_id, source_id, digest, type, customer_id, at,\n",
    "         json_extract(result, '$.status') = 'applied',\n",
    "         CASE json_extract(result, '$.entity')\n",
    "           WHEN 'contact' THEN 1 WHEN 'room' THEN 2 WHEN 'mandate' THEN 3\n",
    "           WHEN 'listing' THEN 4 WHEN 'task' THEN 5 WHEN 'deal' THEN 6\n",
    "           WHEN 'deal_property' THEN 7 WHEN 'appointment' THEN 8\n",
    "           WHEN 'referral' THEN 9 WHEN 'portal_account' THEN 10\n",
    "           WHEN 'web_customer' THEN 11 WHEN 'search' THEN 12\n",
    "           WHEN 'vendor_claim' THEN 13 ELSE 0 END,\n",
    "         coalesce(json_extract(result, '$.entity_id'), 0), received_at\n",
    "    FROM web_event_before_5;\n",
    "DROP TABLE web_event_before_5;\n",
    "\n",
    "-- @version 6\n",
    "-- A contact's timeline without a page of its own per transition: the line\n",
    "-- of a viewing's step is kept on that step's history row (line_kind,\n",
    "-- line_summary), where the row is written anyway; other lines stay rows of\n",
    "-- activity (make bench: one b-tree page and 16 000 instructions a\n",
    "-- transition).  line_ns and activity.ns place each line in the order lines\n",
    "-- were written (the writing machine's clock in nanoseconds, rising on each\n",
    "-- handle); rows from before have none and come first, by their id.\n",
    "-- timeline is the one list of a contact's lines, numbered 1, 2, ... in that\n",
    "-- order: what tesoro_activities reads.\n",
    "ALTER TABLE history ADD COLUMN line_kind TEXT;\n",
    "ALTER TABLE history ADD COLUMN line_summary TEXT;\n",
    "ALTER TABLE history ADD COLUMN line_ns INTEGER;\n",
    "ALTER TABLE activity ADD COLUMN ns INTEGER;\n",
    "CREATE VIEW timeline AS\n",
    "  SELECT contact_id, row_number() OVER (PARTITION BY contact_id\n",
    "           ORDER BY coalesce(ns, 0), source, k) AS id,\n",
    "         agency_id, kind, actor_id, at, entity, entity_id, summary\n",
    "    FROM (SELECT contact_id, agency_id, kind, actor_id, at, entity,\n",
    "                 entity_id, summary, ns, 0 AS source, id AS k\n",
    "            FROM activity\n",
    "          UNION ALL\n",
    "          -- CROSS JOIN: the contact's appointments first (by their index)\n",
    "          SELECT a.contact_id, h.agency_id, h.line_kind, h.actor_id, h.at,\n",
    "                 h.entity, h.entity_id, h.line_summary, h.line_ns, 1, h.seq\n",
    "            FROM appointment a CROSS JOIN history h\n",
    "              ON h.entity = 8 AND h.entity_id = a.id\n",
    "           WHERE h.line_kind IS NOT NULL);\n",
    "\n",
    "-- @version 7\n",
    "-- A website event keyed by the agency and its source id, the key its\n",
    "-- replays look up: a row and a UNIQUE index were two b-trees an event.\n",
    "-- The digest keeps the first 128 of its 256 bits, as bytes (they were 64\n",
    "-- hex digits), ample to tell a replay from a reuse of the id; the row\n",
    "-- is about half its bytes (make bench: web_event wrote 20 of a batch's 43\n",
    "-- WAL pages).  tesoro_unhex is tesoro's (SQLite 3.40 has no unhex()).\n",
    "ALTER TABLE web_event RENAME TO web_event_before_7;\n",
    "CREATE TABLE web_event (\n",
    "  agency_id   INTEGER NOT NULL,\n",
    "  source_id   TEXT    NOT NULL CHECK (length(source_id) BETWEEN 1 AND 200),\n",
    "  digest      BLOB    NOT NULL CHECK (length(digest) = 16),\n",
    "  type        TEXT    NOT NULL,\n",
    "  customer_id INTEGER NOT NULL,\n",
    "  at          INTEGER NOT NULL CHECK (at >= 0),\n",
    "  applied     INTEGER NOT NULL CHECK (applied IN (0, 1)),\n",
    "  entity      INTEGER NOT NULL CHECK (entity >= 0),\n",
    "  entity_id   INTEGER NOT NULL,\n",
    "  received_at INTEGER NOT NULL,\n",
    "  PRIMARY KEY (agency_id, source_id)\n",
    ") STRICT, WITHOUT ROWID;\n",
    "INSERT INTO web_event(agency_id, source_id, digest, type, customer_id, at,\n",
    "                      applied, entity, entity_id, received_at)\n",
    "  SELECT agency_id, source_id, tesoro_unhex(substr(digest, 1, 32)), type,\n",
    "         customer_id, at, applied, entity, entity_id, received_at\n",
    "    FROM web_event_before_7;\n",
    "DROP TABLE web_event_before_7;\n",
/* <<schema */
    NULL};

static const char *tesoro__schema_line(size_t i) {
  return i < sizeof tesoro__schema_lines / sizeof tesoro__schema_lines[0]
             ? tesoro__schema_lines[i]
             : NULL;
}
