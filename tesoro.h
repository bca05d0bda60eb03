/*
** tesoro.h — the public interface of tesoro, an embedded library that keeps
** an estate agency's workflows as persistent state machines in one SQLite file.
**
** This header is the authoritative documentation of the API.  Every function
** says what it does, each result it can return and who owns what it hands back.
**
** CONVENTIONS
**
**   - Every function that can fail returns an int: TESORO_OK (0) on success,
**     a negative TESORO_E* code on failure, and for cursors the positive
**     statuses TESORO_ROW / TESORO_DONE.  A binding raises on rc < 0.
**   - Out-parameters come last.  On failure they are left untouched unless the
**     function says otherwise.
**   - tesoro_errmsg(t) is one line naming the broken rule, e.g.
**     "room 4 is lost; start_onboarding needs it open".  It is borrowed: valid
**     until the next call on the same handle.  Read it on the thread that
**     failed.
**   - Memory that tesoro hands back through a `char **` or `void **` belongs
**     to the caller and is released with tesoro_free().  Never mix allocators:
**     a Python or Node caller cannot reach the library's free().
**   - Ids are int64_t and always > 0.  Enumerations cross the API as int.
**     Text is NUL-terminated UTF-8; invalid UTF-8 is refused with
**     TESORO_EINVAL.  Every text argument has a maximum length in bytes
**     (TESORO_MAX_*) and is stored exactly as given.
**   - Instants are UTC seconds since the Unix epoch (int64_t).  Money is an
**     int64_t in minor units (cents) of the agency's currency, except where a
**     call takes its own currency (a fixed commission may be agreed in any
**     ISO 4217 currency).
**   - JSON arguments and website events are held to more than JSON: a
**     string with the escape \u0000 or a surrogate escape without its pair
**     (\ud800 alone), an integer beyond 64 bits, a number beyond a double
**     (1e400) or a fraction where an integer is meant is EINVAL, never cut
**     short, clamped or stored as infinity; money is at
**     most TESORO_MAX_MONEY; a missing required member is EINVAL in every
**     call (never EGUARD); an unknown member is EINVAL.
**   - Optional text given as "" means "not given" and is stored as NULL.
**     Text has no length argument: a binding must refuse strings with an
**     embedded NUL, which C would see shortened.
**   - A `const char **` out-parameter (tesoro_entity_state,
**     tesoro_portal_language) points at static text: never freed.
**   - Calls without a handle (tesoro_machine_diagram, tesoro_schema_text,
**     tesoro_privacy_map) can only say what tesoro_errstr says of their code.
**   - tesoro_cursor_index returns -1 for an unknown column: an index, not an
**     error code, though -1 equals TESORO_EINVAL.
**   - Names: tesoro_<noun>_<verb> for an action (tesoro_appointment_confirm);
**     tesoro_<noun>_set_<what> for a setting (tesoro_agency_set_portal,
**     tesoro_contact_set_consent); tesoro_<owner>_<what>(t, actor, owner,
**     &out) for a look-up (tesoro_contact_client_actor, tesoro_entity_json);
**     tesoro_[<owner>_]<nouns>(..., tesoro_cursor **out) for a list
**     (tesoro_referrals, tesoro_deal_properties, tesoro_agent_appointments).
**   - Each function's "Returns" names its own codes.  Besides them every
**     call on a handle may return TESORO_EMISUSE (NULL or closed handle),
**     TESORO_EBUSY, TESORO_ENOMEM and TESORO_EDB, and every call that
**     writes TESORO_EREADONLY on a read-only handle.
**   - No struct is passed or returned by value, nothing is variadic, and no
**     caller-sized buffer is filled: FFI callers (ctypes, libffi, cgo) need
**     only pointers, int, int64_t and double.
**
** ACTORS
**
**   Every call that changes or reveals an agency's data names its actor by id
**   (int64_t).  Actors are rows of the database:
**     - agent:   agency staff, with the role TESORO_ROLE_AGENT, _ADMIN or
**                _CLOSINGS.  In the rule tables "agent" means any staff role;
**                "closings" means that role only; "admin" means that role only.
**     - client:  a person acting for one CRM contact.  Each contact has exactly
**                one client actor (tesoro_contact_client_actor).  The host has
**                authenticated the person (typically a portal login, §5).
**     - website: the agency's website (public forms, the event exchange).
**                One per agency, created with it.
**     - system:  timers and the library itself; used internally by tick.
**                A call that names the system actor is refused (EDENIED).
**   An actor of one agency can neither see nor touch another agency's data:
**   such a call fails with TESORO_EDENIED and changes nothing.  A client sees
**   only their own contact's data.
**
**   Operator calls — tesoro_agency_create, tesoro_tick, tesoro_outbox_*,
**   tesoro_check — are made by the host process itself (its delivery worker,
**   its scheduler, its installer), never on behalf of a user, and take no
**   actor.  Hosts must not expose them to end users.
**
** TRANSITIONS AND VERSIONS
**
**   Each workflow entity (room, mandate, listing, task, ...) has a state and a
**   version.  Every call that changes an entity runs in one SQLite transaction
**   (a savepoint, so a host transaction opened with tesoro_begin may enclose
**   it) that checks the actor, the state and the rule, writes the new state,
**   one history row and every side effect (activities, tasks, outbox rows,
**   timers) — all of it or nothing.  Mutating calls take `expected_version`:
**   0 skips the check; any other value must equal the entity's current
**   version or the call fails with TESORO_ECONFLICT and changes nothing.
**
**   Calls that change something without taking expected_version, and why:
**     - they create the entity (tesoro_*_create, tesoro_contact_request_submit,
**       tesoro_appointment_request, tesoro_portal_register, tesoro_deal_offer
**       — whose deal row is the new deal property —, tesoro_document_add,
**       tesoro_search_save with `search` 0, tesoro_exchange_ingest[_batch],
**       whose replay rule is its concurrency control);
**     - they only append a row to an entity (tesoro_room_message_post,
**       tesoro_room_note_add, tesoro_appointment_note_add,
**       tesoro_referral_note_add, tesoro_portal_contact_agent,
**       tesoro_interest_register, tesoro_vendor_confirm);
**     - they set a value whose last writer wins and that nobody edits from
**       a stale read (tesoro_agency_set_*, tesoro_notification_set,
**       tesoro_contact_set_group, tesoro_portal_set_language,
**       tesoro_clock_set, tesoro_config; tesoro_search_save on an existing
**       search replaces its criteria whole, as the website's own saves of
**       that search do, which carry no version: the newest save wins);
**     - the account belongs to one person, who is the caller (every
**       tesoro_portal_* call of a client or the website: login, password,
**       onboarding steps, sessions, resets — see the portal section);
**     - they are idempotent, end-of-life operations whose result does not
**       depend on what the caller read (tesoro_contact_erase,
**       tesoro_web_customer_erase, tesoro_portal_account_deactivate,
**       tesoro_portal_invitation_resend);
**     - operator calls (tesoro_outbox_*, tesoro_tick, tesoro_checkpoint,
**       tesoro_agency_import).
**
**   Error classes: TESORO_EINVAL for malformed input (NULL, empty, too long,
**   invalid UTF-8, unknown enumeration value, out-of-range number, malformed
**   JSON, a "PDF" that is not a PDF); TESORO_ESTATE when the entity's state
**   does not allow the event; TESORO_EDENIED when the actor may not do it;
**   TESORO_EGUARD when a business rule that depends on stored data or on the
**   time refuses it (a start time in the past, an expired mandate, the review
**   task still open).
**
** THREADING
**
**   tesoro keeps no mutable global state.  A handle, and every cursor made from
**   it, must be used by one thread at a time; different handles (on the same
**   file or not) may be used concurrently from different threads and processes.
**   Writers serialise through SQLite: a writer that cannot get the lock within
**   the busy timeout gets TESORO_EBUSY.
**
**   SQLite's process-wide settings (sqlite3_config) are the host's: tesoro
**   sets none.  SQLite's memory statistics, on by default, lock a mutex
**   around each of the hundred or so allocations of a transition; a host
**   that reads neither sqlite3_memory_used() nor a heap limit may call
**   sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) before its first SQLite call
**   (about 12 % fewer instructions a transition, test/bench.c).
*/
#ifndef TESORO_H
#define TESORO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef TESORO_API
#  if defined(_WIN32)
#    define TESORO_API
#  else
#    define TESORO_API __attribute__((visibility("default")))
#  endif
#endif

/* ------------------------------------------------------------------------
** Versions.  TESORO_VERSION_NUMBER is X*1000000 + Y*1000 + Z.  Compare it
** with tesoro_libversion_number() to check header and library agree.
** TESORO_SCHEMA_VERSION is the PRAGMA user_version this library writes;
** TESORO_APPLICATION_ID the PRAGMA application_id ("TSRO").
*/
#define TESORO_VERSION        "0.1.0"
#define TESORO_VERSION_NUMBER 1000
#define TESORO_SCHEMA_VERSION 7
#define TESORO_APPLICATION_ID 0x5453524f

TESORO_API const char *tesoro_version(void);
TESORO_API int tesoro_libversion_number(void);

/* ------------------------------------------------------------------------
** Result codes.  One list generates the enum, the names and the static
** messages (tesoro_errstr, tesoro_errname).
*/
#define TESORO_RESULT_MAP(XX)                                                     \
  XX(OK,        0,   "not an error")                                          \
  XX(ROW,       100, "a row is ready")                                        \
  XX(DONE,      101, "no more rows")                                          \
  XX(EINVAL,    -1,  "invalid argument")                                      \
  XX(ENOTFOUND, -2,  "not found")                                             \
  XX(ESTATE,    -3,  "not allowed in the current state")                      \
  XX(EDENIED,   -4,  "permission denied")                                     \
  XX(EGUARD,    -5,  "refused by a business rule")                            \
  XX(ECONFLICT, -6,  "changed by someone else since it was read")             \
  XX(EEXISTS,   -7,  "already exists")                                        \
  XX(EBUSY,     -8,  "database is busy")                                      \
  XX(ENOMEM,    -9,  "out of memory")                                         \
  XX(EDB,       -10, "database or I/O error")                                 \
  XX(EMISUSE,   -11, "library used incorrectly")                              \
  XX(ENOTDB,    -12, "not a tesoro database")                                 \
  XX(ESCHEMA,   -13, "database written by a newer tesoro")                   \
  XX(EREADONLY, -14, "the handle is read-only")

#define TESORO_RESULT_ENUMERATOR(name, value, text) TESORO_##name = value,
enum tesoro_result { TESORO_RESULT_MAP(TESORO_RESULT_ENUMERATOR) };
#undef TESORO_RESULT_ENUMERATOR

/* Static English text for a result code ("permission denied"); never NULL.
** Returns the text; never an error code. */
TESORO_API const char *tesoro_errstr(int rc);
/* The code's name without prefix ("EDENIED"); "UNKNOWN" for other values.
** Returns the name; never an error code. */
TESORO_API const char *tesoro_errname(int rc);

/* ------------------------------------------------------------------------
** Limits on text arguments, in bytes (not counting the NUL).
*/
#define TESORO_MAX_NAME        200   /* person, agency, file names */
#define TESORO_MAX_EMAIL       254   /* RFC 5321 path limit */
#define TESORO_MAX_PHONE       40
#define TESORO_MAX_SHORT       500   /* location, timeline, titles, addresses */
#define TESORO_MAX_REASON      2000  /* reasons for endings and changes */
#define TESORO_MAX_TEXT        20000 /* messages, notes, descriptions */
#define TESORO_MAX_JSON        200000 /* JSON arguments */

/* The largest amount of money anywhere (prices, budgets, sale prices,
** payments), in minor units: 10^13, so that a fee in basis points cannot
** overflow.  A larger one is EINVAL. */
#define TESORO_MAX_MONEY INT64_C(10000000000000)

/* ------------------------------------------------------------------------
** Enumerations.
*/
/* Staff roles (tesoro_agent_create). */
#define TESORO_ROLE_AGENT    1
#define TESORO_ROLE_ADMIN    2
#define TESORO_ROLE_CLOSINGS 3

/* Actor kinds (tesoro_actor_kind). */
#define TESORO_ACTOR_AGENT   1
#define TESORO_ACTOR_CLIENT  2
#define TESORO_ACTOR_WEBSITE 3
#define TESORO_ACTOR_SYSTEM  4

/* Entity kinds: the things with an id, a version and (most) a state machine. */
#define TESORO_ENTITY_CONTACT  1
#define TESORO_ENTITY_ROOM     2
#define TESORO_ENTITY_MANDATE  3
#define TESORO_ENTITY_LISTING  4
#define TESORO_ENTITY_TASK     5
#define TESORO_ENTITY_DEAL          6 /* a client contact's search */
#define TESORO_ENTITY_DEAL_PROPERTY 7 /* a listing offered to a deal */
#define TESORO_ENTITY_APPOINTMENT   8 /* a viewing (a CRM meeting) */
#define TESORO_ENTITY_REFERRAL      9 /* a client passed on by a referral network */
#define TESORO_ENTITY_PORTAL_ACCOUNT 10 /* a client's login to the portal */
#define TESORO_ENTITY_WEB_CUSTOMER  11 /* a person the website knows (§6) */
#define TESORO_ENTITY_SEARCH        12 /* a customer's search criteria */
#define TESORO_ENTITY_VENDOR_CLAIM  13 /* "I am the vendor of this property" */

/* Property types of a contact request and a listing. */
#define TESORO_PROPERTY_HOUSE     1
#define TESORO_PROPERTY_APARTMENT 2
#define TESORO_PROPERTY_OFFICE    3
#define TESORO_PROPERTY_LAND      4

/* Commission types of a mandate proposal. */
#define TESORO_COMMISSION_PERCENTAGE 1 /* value in basis points: 1..10000 = 0.01 %..100 % */
#define TESORO_COMMISSION_FIXED      2 /* value in minor units of `currency`, > 0 */

/* Document kinds, with the content each accepts (checked on magic bytes). */
#define TESORO_DOC_SHARED             1 /* room: PDF, JPEG, PNG, WebP */
#define TESORO_DOC_SIGNED_MANDATE     2 /* mandate: PDF only */
#define TESORO_DOC_PROPERTY_DOCUMENT  3 /* mandate, listing: PDF, JPEG, PNG, WebP */
#define TESORO_DOC_PHOTO              4 /* mandate, listing: JPEG, PNG, WebP */
#define TESORO_DOC_ENERGY_CERTIFICATE 5 /* mandate, listing: PDF, JPEG, PNG */
#define TESORO_DOC_VOICE_NOTE         6 /* appointment: audio/mpeg, audio/mp4,
                                           audio/aac, audio/ogg, audio/wav,
                                           audio/webm */
/* TESORO_DOC_PHOTO is also a completed viewing's photo (appointment). */

/* Settings of a handle (tesoro_config). */
#define TESORO_CONFIG_BUSY_TIMEOUT_MS     1 /* default 5000 */
#define TESORO_CONFIG_MAX_DOCUMENT_BYTES  2 /* default 25 MiB */
#define TESORO_CONFIG_OUTBOX_MAX_ATTEMPTS 3 /* default 8: then the row is dead */
#define TESORO_CONFIG_OUTBOX_BACKOFF_S    4 /* default 60: first retry delay, doubled per attempt */
#define TESORO_CONFIG_TICK_BATCH          5 /* default 500: timers fired per tick call at most */
#define TESORO_CONFIG_REMINDER_LEAD_S     6 /* default 86400: viewing reminder
                                               this long before the start */
#define TESORO_CONFIG_PWHASH_OPSLIMIT     7 /* argon2id passes; default
                                               crypto_pwhash_OPSLIMIT_INTERACTIVE
                                               (2), at least 1 */
#define TESORO_CONFIG_PWHASH_MEMLIMIT     8 /* argon2id memory in bytes; default
                                               crypto_pwhash_MEMLIMIT_INTERACTIVE
                                               (64 MiB), at least 8192 */
#define TESORO_CONFIG_SYNCHRONOUS         9 /* TESORO_SYNC_NORMAL (default): a
                                               power cut may lose the last
                                               commits, never consistency;
                                               TESORO_SYNC_FULL: a commit that
                                               returned survives it too (one
                                               fsync per commit; group calls
                                               with tesoro_begin/commit) */
#define TESORO_CONFIG_CHECKPOINT_PAGES   10 /* default 1000 (SQLite's): WAL size,
                                               in pages, at which a committing
                                               call checkpoints the WAL itself.
                                               A host that runs tesoro_checkpoint
                                               raises it (e.g. 100000) so no call
                                               pays for a checkpoint; it stays
                                               the guard that bounds the WAL
                                               when the host never does.
                                               At most 10000000. */
#define TESORO_CONFIG_SESSION_IDLE_S     11 /* default 1800: a portal session
                                               unused this long has ended */
#define TESORO_CONFIG_SESSION_MAX_S      12 /* default 604800 (7 days): a
                                               portal session ends this long
                                               after its login, however used */
#define TESORO_CONFIG_EVENT_SKEW_S       13 /* default 300: a website event whose
                                               "at" is further ahead of the
                                               handle's clock is refused
                                               (EINVAL), so one bad clock
                                               cannot freeze a customer's
                                               updates; at most 7 days */
#define TESORO_SYNC_NORMAL 1
#define TESORO_SYNC_FULL   2

typedef struct tesoro tesoro;
typedef struct tesoro_cursor tesoro_cursor;

/* ------------------------------------------------------------------------
** Handle.
*/

/*
** Open (creating if absent) the tesoro database at `path` and store the
** handle in *out.  Like sqlite3_open, *out is set even on failure (unless it
** is NULL or memory ran out) so tesoro_errmsg can say why; close it either way.
** ":memory:" opens a private in-memory database.
**
** On open the file is configured (WAL journal, foreign keys on, busy timeout,
** synchronous=NORMAL) and its schema is created from the copy of schema.sql
** carried in the library, or migrated forward from an older user_version, one
** step per transaction.
**
** Returns TESORO_OK; TESORO_EINVAL (path or out NULL, path empty);
** TESORO_ENOTDB (the file is not an SQLite database, or one with another
** application_id); TESORO_ESCHEMA (user_version newer than this library);
** TESORO_EBUSY; TESORO_ENOMEM; TESORO_EDB (cannot open or write the file).
*/
TESORO_API int tesoro_open(const char *path, tesoro **out);

/*
** Open an existing tesoro file read-only (a replica, a report, a backup
** check).  Every read call works; every call that would write is refused
** with TESORO_EREADONLY and changes nothing (a tesoro_portal_session_client
** that would note a session's use included); tesoro_tick,
** tesoro_checkpoint and migrations are writes.  No pragma that writes is
** run and no migration is attempted: a file of an older schema is
** ESCHEMA ("open it read-write once to migrate it"), a missing or empty
** one ENOTDB or EDB, each message naming the path.
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTDB; TESORO_ESCHEMA;
** TESORO_EBUSY; TESORO_ENOMEM; TESORO_EDB.
*/
TESORO_API int tesoro_open_readonly(const char *path, tesoro **out);

/*
** Close the handle, finalising every statement.  Cursors still open are
** invalidated (their next call returns TESORO_EMISUSE) and must still be
** freed.  tesoro_close(NULL) is a harmless no-op.  Returns TESORO_OK.
*/
TESORO_API int tesoro_close(tesoro *t);

/* Result code and one-line message of the last failing call on `t`
** ("not an error" after a success).  NULL handle: "out of memory" / ENOMEM.
** Returns the code (TESORO_ENOMEM for a NULL handle); tesoro_errmsg its
** message, never NULL. */
TESORO_API int tesoro_errcode(tesoro *t);
TESORO_API const char *tesoro_errmsg(tesoro *t);

/* Free anything tesoro returned through a `char **` or `void **`.  NULL ok.
** Returns nothing. */
TESORO_API void tesoro_free(void *p);

/*
** Change a setting (TESORO_CONFIG_*).  Returns TESORO_OK, TESORO_EINVAL for
** an unknown option or a value out of range (every value must be > 0).
*/
TESORO_API int tesoro_config(tesoro *t, int option, int64_t value);

/*
** The handle's clock.  tesoro_clock_set(t, now) pins "now" for every later
** call (tests, simulations, replays); now = 0 returns to the system clock.
** tesoro_now returns the current value (0 for a NULL handle).
** Returns TESORO_OK; TESORO_EINVAL (now < 0); TESORO_EMISUSE (NULL handle).
*/
TESORO_API int tesoro_clock_set(tesoro *t, int64_t now);
TESORO_API int64_t tesoro_now(tesoro *t);

/*
** Host transactions.  Calls between tesoro_begin and tesoro_commit share one
** SQLite transaction (one fsync); each call still runs in its own savepoint,
** so a refused call is rolled back alone and the others stay.  tesoro_rollback
** undoes them all.  Nesting is not supported: a second begin is EMISUSE.
** All or nothing under every fault: when SQLite itself rolls the
** transaction back (a full disk, an I/O error, memory running out) or
** tesoro_commit fails, nothing of it is kept, and every later call on the
** handle — tesoro_commit too — fails with TESORO_EDB ("... call
** tesoro_rollback") until the host calls tesoro_rollback, which then
** returns TESORO_OK and ends it.  No call after the failure stores anything.
** Returns TESORO_OK, TESORO_EMISUSE, TESORO_EBUSY, TESORO_EDB.
*/
TESORO_API int tesoro_begin(tesoro *t);
TESORO_API int tesoro_commit(tesoro *t);
TESORO_API int tesoro_rollback(tesoro *t);

/*
** A copy of the schema.sql text this library carries (the schema of
** TESORO_SCHEMA_VERSION).  *out is freed with tesoro_free.
** Returns TESORO_OK, TESORO_EINVAL (out NULL), TESORO_ENOMEM.
*/
TESORO_API int tesoro_schema_text(char **out);

/* ------------------------------------------------------------------------
** Agencies, staff, contacts.
*/

/*
** Operator call: create an agency with its first admin, its website actor
** and its system actor.  `timezone` is an IANA name ("Europe/Amsterdam");
** NULL or "" means "UTC".  `currency` is an ISO 4217 code (3 upper-case
** letters).  The admin is an agent with TESORO_ROLE_ADMIN.
** Returns TESORO_OK; TESORO_EINVAL (name empty/too long/bad UTF-8, unknown
** time zone, bad currency, bad admin name/e-mail).
*/
TESORO_API int tesoro_agency_create(tesoro *t, const char *name,
                                    const char *timezone, const char *currency,
                                    const char *admin_name,
                                    const char *admin_email,
                                    int64_t *out_agency, int64_t *out_admin);

/* The agency's website actor.  `actor` must be staff of that agency.
** Returns TESORO_OK; TESORO_EINVAL (bad id, out NULL); TESORO_ENOTFOUND;
** TESORO_EDENIED. */
TESORO_API int tesoro_agency_website_actor(tesoro *t, int64_t actor,
                                           int64_t agency, int64_t *out_actor);

/*
** Add a staff member (admin only).  `role` is TESORO_ROLE_*.  E-mail is
** unique among the agency's staff, compared case-insensitively (EEXISTS).
** Returns TESORO_OK; TESORO_EINVAL (name, e-mail, role); TESORO_ENOTFOUND;
** TESORO_EDENIED (not an admin); TESORO_EEXISTS (e-mail taken).
*/
TESORO_API int tesoro_agent_create(tesoro *t, int64_t actor, const char *name,
                                   const char *email, int role,
                                   int64_t *out_agent);

/*
** Facts about an actor, for hosts and bindings: its kind (TESORO_ACTOR_*),
** agency and, for a client, its contact (0 otherwise).  Any out may be NULL.
** Returns TESORO_OK, TESORO_ENOTFOUND.
*/
TESORO_API int tesoro_actor_info(tesoro *t, int64_t actor, int *out_kind,
                                 int64_t *out_agency, int64_t *out_contact);

/*
** Create a CRM contact (staff).  `email`, `phone`, `language` may be NULL;
** e-mail is unique per agency, case-insensitively (EEXISTS).  `language` is a
** free code as the CRM stores it ("nl", "pt-BR").  The contact is assigned to
** the creating agent.  The contact's client actor is created with it.
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED (not
** staff); TESORO_EEXISTS (e-mail taken).
*/
TESORO_API int tesoro_contact_create(tesoro *t, int64_t actor, const char *name,
                                     const char *email, const char *phone,
                                     const char *language,
                                     int64_t *out_contact);

/* Assign a contact to an agent of the same agency (staff).
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_ECONFLICT (expected_version). */
TESORO_API int tesoro_contact_assign(tesoro *t, int64_t actor, int64_t contact,
                                     int64_t agent, int64_t expected_version);

/*
** Correct a contact (GDPR rectification): staff of its agency, or the
** contact's own client.  `fields_json` holds any of "name", "email",
** "phone", "language", checked as at creation (an e-mail another contact
** of the agency has is EEXISTS); null clears a field, but not the name.
** One history row "correct" keeps the fields' old and new values (in its
** details, which an erasure removes).  When the contact is linked to a
** website customer, the website hears of it ("customer_updated", with
** its customer id).  A changed e-mail of a contact with a portal account
** does not change the login at once: a 6-digit code goes to the new
** address ("Portal E-mail Verification"; the code is the payload's
** "secret", removed when the delivery is acknowledged), and
** tesoro_portal_email_verify switches the login; until then the old
** e-mail logs in.
** Returns TESORO_OK; EINVAL; EDENIED; ENOTFOUND; EEXISTS; ECONFLICT;
** ESTATE (an erased contact).
*/
TESORO_API int tesoro_contact_update(tesoro *t, int64_t actor, int64_t contact,
                                     const char *fields_json,
                                     int64_t expected_version);

/* Verify a new portal e-mail with its code (the client): the login
** becomes it.  EDENIED "the verification code is wrong or has expired"
** (a wrong code counts, TESORO_PORTAL_CODE_MAX_TRIES at most); ESTATE
** when no new e-mail waits.
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND (no portal account);
** TESORO_EDENIED (not a client, portal off); TESORO_EGUARD (password still
** to be set); TESORO_ESTATE (the step does not allow it). */
TESORO_API int tesoro_portal_email_verify(tesoro *t, int64_t client,
                                          const char *code);

/* The client actor of a contact (staff only: the website is only the
** website, and never obtains a contact's client actor this way).
** Returns TESORO_OK; TESORO_EINVAL (bad id, out NULL); TESORO_ENOTFOUND;
** TESORO_EDENIED. */
TESORO_API int tesoro_contact_client_actor(tesoro *t, int64_t actor,
                                           int64_t contact, int64_t *out_actor);

/*
** One entity as a JSON object (built by SQLite's JSON functions): its
** fields, "state" and "version".  A client reading a room never sees private
** notes (they are not part of the room object anyway).  *out is freed with
** tesoro_free.  Returns TESORO_OK, TESORO_EINVAL, TESORO_ENOTFOUND,
** TESORO_EDENIED.
*/
TESORO_API int tesoro_entity_json(tesoro *t, int64_t actor, int entity,
                                  int64_t id, char **out);

/*
** State name (static text, e.g. "in_progress") and version of an entity
** with a state machine.  Either out may be NULL.
** Returns TESORO_OK; TESORO_EINVAL (bad id, out NULL); TESORO_ENOTFOUND;
** TESORO_EDENIED.
*/
TESORO_API int tesoro_entity_state(tesoro *t, int64_t actor, int entity,
                                   int64_t id, const char **out_state,
                                   int64_t *out_version);

/* ------------------------------------------------------------------------
** The engine's queries: history, allowed events, diagrams.
*/

/*
** History of an entity, oldest first.  Columns: seq, event, from_state,
** to_state, actor_id, actor_kind, at, details (JSON).  A row is known by
** (entity, id, seq): seq is the entity's version after the change.  Staff
** of the agency, or the client of the entity's contact.
** Returns TESORO_OK; TESORO_EINVAL (bad id or filter, out NULL);
** TESORO_ENOTFOUND; TESORO_EDENIED.
*/
TESORO_API int tesoro_history(tesoro *t, int64_t actor, int entity, int64_t id,
                              tesoro_cursor **out);

/*
** For each event of the entity's machine: may `actor` fire it now?
** Columns: event, to_state, allowed (0/1), code (TESORO_OK or the error the
** call would return), reason (NULL when allowed).  Guards that need the
** call's arguments (a start time, a reason) are not evaluated here.
** Returns TESORO_OK; TESORO_EINVAL (bad id or filter, out NULL);
** TESORO_ENOTFOUND; TESORO_EDENIED.
*/
TESORO_API int tesoro_allowed_events(tesoro *t, int64_t actor, int entity, int64_t id,
                              tesoro_cursor **out);

/*
** The diagram of one machine, generated from the same table the engine
** runs, in a chosen format: TESORO_DIAGRAM_DOT (Graphviz DOT: one edge per
** row of the machine's table, labelled "event [roles]") or
** TESORO_DIAGRAM_MERMAID (a Mermaid `stateDiagram-v2` block body, one line
** "from --> to : event (roles)" per edge; a trailing " *" marks a guarded
** row).  Every entity 2..13 has one (a contact is a record, not a
** machine).  No handle: the error is only the code.  *out: tesoro_free.
** Returns TESORO_OK; TESORO_EINVAL (unknown entity or format, out NULL);
** TESORO_ENOMEM.
*/
#define TESORO_DIAGRAM_DOT     1
#define TESORO_DIAGRAM_MERMAID 2
TESORO_API int tesoro_machine_diagram(int entity, int format, char **out);

/* ------------------------------------------------------------------------
** Activity timeline, tasks.
*/

/*
** The contact's activity timeline, newest first.  Columns: id, kind,
** actor_id, at, entity, entity_id, summary; id numbers the contact's lines
** in the order they were written (1, 2, ...; a line of two in the same
** second sorts by it; "written" by the writing machine's clock, to the
** nanosecond).  Staff of the agency, or the contact's own client.  An
** import (tesoro_agency_import) writes no lines.  In SQL the lines are the
** view `timeline` (schema.sql): a viewing's on its history rows, the
** others in the table activity.
** Returns TESORO_OK; TESORO_EINVAL (bad id or filter, out NULL);
** TESORO_ENOTFOUND; TESORO_EDENIED.
*/
TESORO_API int tesoro_activities(tesoro *t, int64_t actor, int64_t contact,
                                 tesoro_cursor **out);

/*
** Open tasks of the agency (staff), oldest first; `entity`/`entity_id` 0 for
** all.  Columns: id, kind, title, state, entity, entity_id, assignee_id,
** created_at, version.
** Returns TESORO_OK; TESORO_EINVAL (bad id or filter, out NULL);
** TESORO_ENOTFOUND; TESORO_EDENIED.
*/
TESORO_API int tesoro_tasks(tesoro *t, int64_t actor, int entity,
                            int64_t entity_id, tesoro_cursor **out);

/* Task machine: open → done, open → cancelled (staff).
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_ECONFLICT (expected_version). */
TESORO_API int tesoro_task_complete(tesoro *t, int64_t actor, int64_t task,
                                    int64_t expected_version);
TESORO_API int tesoro_task_cancel(tesoro *t, int64_t actor, int64_t task,
                                  int64_t expected_version);

/* ------------------------------------------------------------------------
** Outbox: notifications and events for the host to deliver, written in the
** same transaction as the change that caused them.  A message goes to one
** recipient on one or more channels; each (message, channel) is a delivery,
** which the host fetches, then acknowledges or fails on its own.  A
** delivery's id is stable: message number * 8 + channel number (crm 0,
** push 1, email 2, website 3, calendar 4), and `uid` is the same number as
** text.  Delivery is at least once: the receiver deduplicates on it.
** Attempts and the backoff are counted per message (a failed delivery
** puts the message's other undelivered channels back with it); the
** channel that fails the last allowed attempt is dead, its siblings are
** not.
*/

/*
** Operator call: rows due for delivery (pending, next attempt <= now),
** oldest first, at most `limit` (1..10000); agency 0 means every agency.
** Columns: id, uid, agency_id, kind ("notification", "exchange", "calendar"),
** recipient_id (actor id, 0 for a non-actor such as the website), channel
** ("crm", "push", "email", "website", "calendar"), template, language,
** payload (JSON), entity, entity_id, event, old_state, new_state, seq,
** attempts, created_at.  Deliveries of one message come together, in
** channel order.  A calendar payload is rendered when fetched, as the
** appointment was at the message's transition (see tesoro_appointment_*).
** A first delivery is found by reading on from the oldest message still
** waiting for one: acknowledge or fail every delivery fetched, or each
** fetch reads all that was written after the one left waiting.
** Returns TESORO_OK; TESORO_EINVAL (bad id or limit, out NULL);
** TESORO_ENOTFOUND; TESORO_ESTATE.
*/
TESORO_API int tesoro_outbox_fetch(tesoro *t, int64_t agency, int limit,
                                   tesoro_cursor **out);

/* Operator call: row delivered.  ENOTFOUND; ESTATE if already delivered/dead.
** Returns TESORO_OK; TESORO_EINVAL (bad id or limit, out NULL);
** TESORO_ENOTFOUND; TESORO_ESTATE. */
TESORO_API int tesoro_outbox_ack(tesoro *t, int64_t id);

/*
** Operator call: delivery failed.  The row is retried after the backoff
** (TESORO_CONFIG_OUTBOX_BACKOFF_S * 2^(attempts-1)), and becomes "dead" after
** TESORO_CONFIG_OUTBOX_MAX_ATTEMPTS failures.  `error` may be NULL.
** Returns TESORO_OK; TESORO_EINVAL (bad id or limit, out NULL);
** TESORO_ENOTFOUND; TESORO_ESTATE.
*/
TESORO_API int tesoro_outbox_fail(tesoro *t, int64_t id, const char *error);

/*
** NOTIFICATION PREFERENCES.  Each recipient may turn a channel off for
** themselves: a client the push or e-mail notifications, an agent the
** e-mail, push or calendar.  The CRM channel (the agent's notification
** list) cannot be turned off, and the contact's timeline (activity) is
** written whatever a recipient turned off.  Two agency settings are the
** seed's conditions: push notifications (on by default: "push (if
** enabled)") and the calendar integration (on by
** default: "calendar (if calendar integration is active)").  A channel
** off — for the recipient or the agency — queues nothing: a message is
** written for the channels that remain, and not at all when none does, so
** the outbox never holds a delivery that will not be made.  Website
** deliveries (the exchange) follow no preference.
*/
#define TESORO_CHANNEL_CRM      1
#define TESORO_CHANNEL_PUSH     2
#define TESORO_CHANNEL_EMAIL    4
#define TESORO_CHANNEL_WEBSITE  8
#define TESORO_CHANNEL_CALENDAR 16

/* Turn `channel` (one TESORO_CHANNEL_*: push, email or calendar) off (0)
** or on (1) for `recipient` (an actor id): the recipient themselves, or an
** admin for staff of their agency.  Returns TESORO_OK; EINVAL (crm,
** website, several bits, on not 0 or 1); EDENIED; ENOTFOUND. */
TESORO_API int tesoro_notification_set(tesoro *t, int64_t actor,
                                       int64_t recipient, int channel, int on);

/* The channels (TESORO_CHANNEL_* bits) `recipient` receives on, the
** agency's switches applied; the same callers as tesoro_notification_set.
** Returns TESORO_OK; TESORO_EINVAL (out NULL); TESORO_ENOTFOUND;
** TESORO_EDENIED. */
TESORO_API int tesoro_notification_channels(tesoro *t, int64_t actor,
                                            int64_t recipient,
                                            int *out_channels);

/* The agency's switches (admin): push notifications enabled, calendar
** integration active (1 on, 0 off).
** Returns TESORO_OK; TESORO_EINVAL (not 0 or 1); TESORO_ENOTFOUND;
** TESORO_EDENIED (not an admin). */
TESORO_API int tesoro_agency_set_push(tesoro *t, int64_t actor, int enabled);
TESORO_API int tesoro_agency_set_calendar(tesoro *t, int64_t actor,
                                          int active);

/*
** Operator call: how many entities each machine holds in each state, and the
** outbox deliveries by status, for one agency (0: the whole file).  Columns:
** what ("appointment", "outbox", ...), state, count; ordered by what,
** state.  The outbox rows read state "pending", "delivered", "dead" or
** "withdrawn" (an erasure's; a
** status without rows has no row): the queue's health is these rows.
** Returns TESORO_OK, TESORO_EINVAL (agency < 0, out NULL).
*/
TESORO_API int tesoro_stats(tesoro *t, int64_t agency, tesoro_cursor **out);

/* ------------------------------------------------------------------------
** Timers.
*/

/*
** Operator call: fire every timer due at or before `now`, in order of due
** time, then agency, entity kind, entity id and timer kind, at most TESORO_CONFIG_TICK_BATCH per call, all in one transaction
** (one commit) with each timer in a savepoint of its own; *out_fired (may be
** NULL) is how many fired and were committed.  A timer that is refused (a
** rule's error) is undone alone: the timers before it are committed, it and
** the ones after it stay due, and its error is returned.  A database failure
** undoes the whole call (*out_fired 0).  Idempotent: a timer fires once, and
** running tick again for the same `now` fires nothing more.  A timer whose
** entity has moved on is discarded without effect.
** Returns TESORO_OK; a refused timer's code (TESORO_ESTATE, TESORO_EGUARD,
** ...); TESORO_EINVAL (now <= 0); TESORO_EMISUSE inside a host transaction.
*/
TESORO_API int tesoro_tick(tesoro *t, int64_t now, int *out_fired);

/*
** Operator call: copy the write-ahead log into the database file (a
** PASSIVE checkpoint: it never waits for other connections, and copies as
** much as their open reads allow).  Run it off the request path — from the
** tick loop, or from a background thread with a handle of its own (a handle
** is used by one thread at a time) — and raise
** TESORO_CONFIG_CHECKPOINT_PAGES on the request handles: then no call pays
** for a checkpoint inside its commit.  *out_wal_pages (may be NULL) is the
** WAL's size in pages, *out_copied (may be NULL) how many of them are now
** in the database file; both are 0 for a database without a WAL
** (":memory:").  Returns TESORO_OK; TESORO_EMISUSE inside a host
** transaction; TESORO_EBUSY; TESORO_EDB.
*/
TESORO_API int tesoro_checkpoint(tesoro *t, int *out_wal_pages, int *out_copied);

/* ------------------------------------------------------------------------
** Documents: BLOBs with kind, file name, MIME type checked against the
** content's magic bytes, size limit and SHA-256 digest.
*/

/*
** Attach a document to an entity.  `mime` must name the type the content
** really is ("application/pdf", "image/jpeg", "image/png", "image/webp")
** and be one the kind accepts (see TESORO_DOC_*); size 1..the configured
** limit.  Who may: room documents — staff and the room's client while the
** room is open or in progress; mandate documents — the client while the form
** is shared, staff until validation; listing documents — staff.
** Returns TESORO_OK; TESORO_EINVAL (kind, name, MIME type not the content's,
** size); TESORO_ENOTFOUND; TESORO_EDENIED; TESORO_ESTATE.
*/
TESORO_API int tesoro_document_add(tesoro *t, int64_t actor, int entity,
                                   int64_t entity_id, int kind,
                                   const char *name, const char *mime,
                                   const void *data, int64_t size,
                                   int64_t *out_document);

/*
** The document's bytes: *out_data (freed with tesoro_free) and *out_size.
** Same audience as the entity it is attached to.
** Returns TESORO_OK; TESORO_EINVAL (bad id, out NULL); TESORO_ENOTFOUND;
** TESORO_EDENIED.
*/
TESORO_API int tesoro_document_read(tesoro *t, int64_t actor, int64_t document,
                                    void **out_data, int64_t *out_size);

/* Documents of an entity.  Columns: id, kind (TESORO_DOC_*), kind_name
** ("signed_mandate"), name, mime, size, sha256 (hex), uploaded_by,
** created_at.  Of a listing, a client lists (and reads) only the photos:
** the seller of their own listing, and a buyer of a listing
** tesoro_portal_property lets them see.
** Returns TESORO_OK; TESORO_EINVAL (bad id or filter, out NULL);
** TESORO_ENOTFOUND; TESORO_EDENIED. */
TESORO_API int tesoro_documents(tesoro *t, int64_t actor, int entity,
                                int64_t entity_id, tesoro_cursor **out);

/* ------------------------------------------------------------------------
** Seller onboarding: contact room → mandate → listing.
*/

/*
** The owner's contact form, submitted by the agency's website actor.  The
** contact is matched by e-mail within the agency (case-insensitively) or
** created; a room (state "open") is created, the agency's admins and the
** contact's agent notified.  `property_type` TESORO_PROPERTY_*; `location`
** required; `budget` 0 = not given, else 1..TESORO_MAX_MONEY (minor units); `timeline` and
** `description` may be NULL.  *out_room, and *out_client (may be NULL): the
** owner's client actor when this form created the contact, for the host to
** act as the new owner in the room; 0 when the e-mail matched a contact the
** agency already has — the website never obtains the client actor of a
** person it did not just introduce (staff get it with
** tesoro_contact_client_actor).
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_EEXISTS where the text above says so.
*/
TESORO_API int tesoro_contact_request_submit(
    tesoro *t, int64_t actor, const char *name, const char *email,
    int property_type, const char *location, int64_t budget,
    const char *timeline, const char *description, int64_t *out_room,
    int64_t *out_client);

/*
** Room chat: a message from staff or the room's client, while the room is
** open or in progress (terminal rooms are read-only: ESTATE).
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_EEXISTS where the text above says so.
*/
TESORO_API int tesoro_room_message_post(tesoro *t, int64_t actor, int64_t room,
                                        const char *body, int64_t *out_message);

/* A private note (staff only; never visible to a client).
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_EEXISTS where the text above says so. */
TESORO_API int tesoro_room_note_add(tesoro *t, int64_t actor, int64_t room,
                                    const char *body, int64_t *out_note);

/*
** The room's conversation, oldest first.  Columns: id, kind ("message" or
** "note"), author_id, author_kind, body, created_at.  Staff see notes; the
** client never does.
** Returns TESORO_OK; TESORO_EINVAL (bad id or filter, out NULL);
** TESORO_ENOTFOUND; TESORO_EDENIED.
*/
TESORO_API int tesoro_room_messages(tesoro *t, int64_t actor, int64_t room,
                                    tesoro_cursor **out);

/*
** Room machine (staff):
**   start_onboarding  open → in_progress: the contact gains the role "owner",
**                     a draft mandate is created (*out_mandate) and, when
**                     `with_listing` is non-zero, a listing placeholder.
**   mark_lost         open, in_progress → lost    (reason required)
**   close             open, in_progress → closed  (reason required)
**   A lost or closed room cancels its mandate if one is still open.
**   The room becomes "successful" when its mandate is validated.
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_ECONFLICT (expected_version).
*/
TESORO_API int tesoro_room_start_onboarding(tesoro *t, int64_t actor,
                                            int64_t room, int with_listing,
                                            int64_t expected_version,
                                            int64_t *out_mandate);
TESORO_API int tesoro_room_mark_lost(tesoro *t, int64_t actor, int64_t room,
                                     const char *reason,
                                     int64_t expected_version);
TESORO_API int tesoro_room_close(tesoro *t, int64_t actor, int64_t room,
                                 const char *reason, int64_t expected_version);

/*
** Mandate machine.
**   propose        draft, negotiating → negotiating (staff, the client).
**                  Terms: commission type and value (TESORO_COMMISSION_*),
**                  `currency` (ISO 4217; required for fixed, NULL for a
**                  percentage), exclusivity (0/1), duration in days (1..3650).
**                  Supersedes the open proposal; the proposer counts as
**                  accepting it; the other party is notified.  *out_proposal.
**   accept         negotiating → terms_agreed, by the party that did not
**                  author the open proposal, naming that proposal (a
**                  superseded one: EGUARD; one of another mandate or none:
**                  ENOTFOUND).  Terms are frozen on the mandate.
**                  *out_json (may be NULL; tesoro_free) is the agreed terms
**                  with the legal disclaimer that only the signed contract is
**                  binding — the same payload the other party is notified with.
**   share_form     terms_agreed → form_shared (staff); client notified.
**   submit_form    form_shared → form_submitted (client).  `form_json` is an
**                  object with personal info "full_name", "email", "phone"
**                  and property details "address", "property_type" (house,
**                  apartment, office, land) — all required — and optional
**                  "title", "price", "bedrooms", "bathrooms", "floor_area",
**                  "energy_label", "description".  A signed mandate document
**                  (TESORO_DOC_SIGNED_MANDATE) must be attached first.
**                  Creates the staff task "review seller form".
**   request_changes form_submitted → form_shared (staff, reason required);
**                  client notified.
**   validate       form_submitted → validated (staff): the signed mandate is
**                  present and the review task is done; a listing draft is
**                  filled from the form (*out_listing), with copies of the
**                  photos, property documents and energy certificate sent
**                  with the form (the mandate keeps its own); the room becomes
**                  successful; task "complete and publish listing".
**   cancel         any state but validated/cancelled → cancelled (staff,
**                  reason required).
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_ECONFLICT (expected_version).
*/
TESORO_API int tesoro_mandate_propose(tesoro *t, int64_t actor, int64_t mandate,
                                      int commission_type, int64_t value,
                                      const char *currency, int exclusive,
                                      int duration_days,
                                      int64_t expected_version,
                                      int64_t *out_proposal);
TESORO_API int tesoro_mandate_accept(tesoro *t, int64_t actor, int64_t mandate,
                                     int64_t proposal, int64_t expected_version,
                                     char **out_json);
TESORO_API int tesoro_mandate_share_form(tesoro *t, int64_t actor,
                                         int64_t mandate,
                                         int64_t expected_version);
TESORO_API int tesoro_mandate_submit_form(tesoro *t, int64_t actor,
                                          int64_t mandate,
                                          const char *form_json,
                                          int64_t expected_version);
TESORO_API int tesoro_mandate_request_changes(tesoro *t, int64_t actor,
                                              int64_t mandate,
                                              const char *reason,
                                              int64_t expected_version);
TESORO_API int tesoro_mandate_validate(tesoro *t, int64_t actor,
                                       int64_t mandate,
                                       int64_t expected_version,
                                       int64_t *out_listing);
TESORO_API int tesoro_mandate_cancel(tesoro *t, int64_t actor, int64_t mandate,
                                     const char *reason,
                                     int64_t expected_version);

/*
** The negotiation history, oldest first.  Columns: id, author_id,
** author_party ("agent"/"client"), commission_type, value, currency,
** exclusive, duration_days, created_at, superseded_at, accepted_by_agent_at,
** accepted_by_client_at (NULL when not accepted by that party).
** Returns TESORO_OK; TESORO_EINVAL (bad id or filter, out NULL);
** TESORO_ENOTFOUND; TESORO_EDENIED.
*/
TESORO_API int tesoro_mandate_proposals(tesoro *t, int64_t actor,
                                        int64_t mandate, tesoro_cursor **out);

/*
** Listings.  A listing has a per-agency reference number ("TES-00001",
** unique and stable).  Listing machine (staff):
**   fill       placeholder → draft          (by mandate validation)
**   publish    draft, unpublished → published: the mandate is validated and
**              not expired (validated time + agreed duration), and the listing
**              has a title, an address and a price (EGUARD otherwise);
**              completes the "complete and publish listing" task.
**   unpublish  published → unpublished
**   expire     published → unpublished (system, fired by tesoro_tick when the
**              mandate expires — an agency may not advertise without a valid
**              mandate).  At expiry tick also opens the staff task "renew
**              mandate", whether or not the listing was published.
** tesoro_listing_update sets fields from a JSON object with any of "title",
** "address", "price", "property_type", "bedrooms", "bathrooms",
** "floor_area", "energy_label", "description", "longitude" (-180..180),
** "latitude" (-90..90) (unknown keys: EINVAL).  An energy label is one of
** the Dutch/EU classes A++++, A+++, A++, A+, A, B, C, D, E, F, G (EINVAL
** otherwise; the seller's form checks it the same way).
** A listing is "on offer" while it is published and its mandate is valid
** at the call's time: offering it to a deal, requesting a viewing of it
** and every client read of the feed (tesoro_portal_properties,
** tesoro_portal_home's new count, tesoro_portal_property) ask this
** themselves, so an expired mandate withdraws the listing even before
** tesoro_tick records its unpublishing.
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_ECONFLICT (expected_version).
*/
TESORO_API int tesoro_listing_update(tesoro *t, int64_t actor, int64_t listing,
                                     const char *fields_json,
                                     int64_t expected_version);
TESORO_API int tesoro_listing_publish(tesoro *t, int64_t actor, int64_t listing,
                                      int64_t expected_version);
TESORO_API int tesoro_listing_unpublish(tesoro *t, int64_t actor,
                                        int64_t listing,
                                        int64_t expected_version);

/* ------------------------------------------------------------------------
** Deals and viewing appointments.
**
** A deal is a client contact's search, with the agent responsible for it.
** Staff offer published listings to a deal; each offer is a "deal
** property" with the status the client portal shows (to_review,
** interesting, rejected, viewed, approved).  The client requests viewings
** of a deal property; each request is a new appointment, a CRM meeting of
** type "visit_location" and category "visit", linked to the deal, the deal
** property and its listing, with the client's contact as participant and,
** as owner, the agent assigned to the contact (else the deal's agent).
**
** Appointment machine:
**   request        → pending       client, on a deal property of an active
**                                  deal; 1–3 preferred date-times, none in
**                                  the past (EGUARD), no duplicates.  The
**                                  owner: crm, push, email "Meeting Created
**                                  By Portal User".
**   confirm        pending → confirmed     staff; a start time in the
**                                  future (a preferred one or any other).
**                                  Client: email "Meeting Status Changed By
**                                  Portal User".
**   reschedule     confirmed → confirmed   staff; a new future start time;
**                                  client notified as on confirm.
**   reject         pending → rejected      staff, reason required; client
**                                  notified as on confirm.
**   cancel         pending, confirmed → cancelled   the client (reason
**                                  optional) or staff (reason required).
**                                  Client cancels: the owner gets crm, push,
**                                  email "Meeting Cancelled By Portal User";
**                                  staff cancel: the client gets the status
**                                  e-mail.
**   start_viewing  confirmed → completed   client, only on the agency-local
**                                  calendar day of the start time (EGUARD).
**   complete       confirmed → completed   system, by tesoro_tick once the
**                                  viewing has ended (start + duration).
**   record_no_show completed → completed   staff, only for a viewing the
**                                  timer completed, before start + 7 days;
**                                  the property is no longer viewed (below).
**   send_reminder, request_feedback        system (timers, see below).
**   add_note, rate, add_document           the client, once completed.
** Every request, confirm, reschedule, reject, cancel, completion and
** no-show also queues a "calendar" outbox row (channel "calendar",
** template "Calendar Meeting Event") for the owner's calendar integration.
** Its payload is the appointment's JSON (as tesoro_entity_json gives it,
** without the rating, which is no calendar's business) as it was at that
** transition: its state, version, start and end times, and the
** completion, end or no-show only once they had happened.  It is rendered
** when the host fetches it, from what the transition recorded.
**
** DURATION.  A viewing lasts the agency's default
** (tesoro_agency_set_viewing_duration; one hour unless set), taken when it
** is requested; confirm and reschedule may set its own (`duration_s`, 0:
** keep the viewing's).  Its end (start + duration) is DTEND in iCalendar,
** end_at in its JSON and the calendar payloads, and when the clock
** completes it.
**
** Timers: on confirm (and again on reschedule) tesoro plans the completion
** at the end, a reminder TESORO_CONFIG_REMINDER_LEAD_S before the start
** (client: email and push; owner: crm and push; "Viewing Reminder") unless
** that moment has already passed (nor later: a reminder the tick reaches
** only after the start is dropped), and a feedback request to the client an
** hour after the end ("Viewing Feedback Request").  Reschedule re-plans
** them; cancel, reject and a no-show withdraw what is still pending, so no
** reminder is ever sent for a viewing that no longer happens.
**
** The deal property becomes "viewed" (from to_review or interesting) when
** the viewing completes, started by the client or by the clock (the
** system's history row names the viewing in details "ref").  A no-show
** recorded for that viewing puts the property back where it was
** (events viewing_no_show → to_review, viewing_no_show_interesting →
** interesting, by the system, in the same call); a property viewed at
** another viewing, or approved since, stays as it is.
**
** NO RULE WAITS FOR THE TICK.  Every write on an entity first fires that
** entity's timers that are due at the call's time (for a deal property,
** its viewings' too), in the call's transaction, as tesoro_tick would
** (history by the system actor at the call's time): so a staff cancel of a
** viewing that has already ended is refused because it is completed, a
** no-show can be recorded as soon as the viewing has ended, and a property
** whose viewing has ended is viewed.  Verification codes, reset secrets,
** sessions and lockouts compare their times at the call.  If that changed
** the entity, the caller's expected_version no longer matches (ECONFLICT:
** reload it).  Reads show what is recorded, except where a rule reads the
** time itself (the listing on offer, the lists by start time).
**
** Status colours: pending yellow; confirmed and completed green; cancelled
** and rejected red.
*/

#define TESORO_APPOINTMENT_PENDING   1
#define TESORO_APPOINTMENT_CONFIRMED 2
#define TESORO_APPOINTMENT_COMPLETED 3
#define TESORO_APPOINTMENT_CANCELLED 4
#define TESORO_APPOINTMENT_REJECTED  5

/* The client's three lists (portal tabs). */
#define TESORO_LIST_UPCOMING    1 /* confirmed, start in the future; soonest first */
#define TESORO_LIST_RECENT      2 /* start in the past, or cancelled, rejected,
                                     completed; latest first */
#define TESORO_LIST_UNCONFIRMED 3 /* pending; by earliest preferred date */

#define TESORO_MAX_PREFERRED 3 /* preferred date-times per request */
#define TESORO_NO_SHOW_WINDOW_S (7 * 86400)
#define TESORO_VIEWING_DURATION_S 3600 /* the agency default's default */
#define TESORO_MIN_VIEWING_S 300       /* a viewing's duration, 5 minutes .. */
#define TESORO_MAX_VIEWING_S 43200     /* .. 12 hours */

/* The agency's default viewing duration (admin), in seconds,
** TESORO_MIN_VIEWING_S..TESORO_MAX_VIEWING_S; later requests take it.
** Returns TESORO_OK; TESORO_EINVAL (out of range); TESORO_ENOTFOUND;
** TESORO_EDENIED (not an admin). */
TESORO_API int tesoro_agency_set_viewing_duration(tesoro *t, int64_t actor,
                                                  int64_t duration_s);

/*
** Open a deal for a client contact (staff).  `name` describes the search
** ("3-bedroom house in Utrecht").  The deal's agent is the contact's
** assigned agent, else the caller.  Deal machine: offer (active → active,
** staff) and close (active → closed, staff, reason required).
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_ECONFLICT (expected_version).
*/
TESORO_API int tesoro_deal_create(tesoro *t, int64_t actor, int64_t contact,
                                  const char *name, int64_t *out_deal);
TESORO_API int tesoro_deal_close(tesoro *t, int64_t actor, int64_t deal,
                                 const char *reason, int64_t expected_version);

/*
** Offer a listing to a deal (staff): the listing must be published
** (EGUARD) and of the same agency (EDENIED); a listing is offered to a deal
** once (EEXISTS).  *out_deal_property: the offer, status "to_review".
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_EEXISTS where the text above says so.
*/
TESORO_API int tesoro_deal_offer(tesoro *t, int64_t actor, int64_t deal,
                                 int64_t listing, int64_t *out_deal_property);

/*
** The deal's properties, newest first (staff or the deal's client).
** Columns: id, listing_id, state, favourite, title, address, price, ref,
** photo_id (the listing's first photo document, or NULL), created_at,
** version.
** Returns TESORO_OK; TESORO_EINVAL (bad id or filter, out NULL);
** TESORO_ENOTFOUND; TESORO_EDENIED.
*/
TESORO_API int tesoro_deal_properties(tesoro *t, int64_t actor, int64_t deal,
                                      tesoro_cursor **out);

/*
** The client's verdicts on a deal property (the portal's property feed,
** as the client sees it), each by the deal's client only:
**   interested      to_review, rejected → interesting
**   not_interested  to_review, interesting → rejected: `reasons` is one or
**                   more TESORO_REJECT_* (or-ed), `note` free text (NULL:
**                   none); both are kept on the deal property
**   approve         interesting, viewed → approved
**   favourite       any status; `on` 0 or 1
** (viewed is set by the viewing's completion and taken back by its
** no-show, see above.)  Each is an
** activity on the contact's timeline.
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_ECONFLICT (expected_version).
*/
#define TESORO_REJECT_PRICE     1
#define TESORO_REJECT_LOCATION  2
#define TESORO_REJECT_SIZE      4
#define TESORO_REJECT_LAYOUT    8
#define TESORO_REJECT_CONDITION 16
#define TESORO_REJECT_OTHER     32
TESORO_API int tesoro_deal_property_interested(tesoro *t, int64_t actor,
                                               int64_t deal_property,
                                               int64_t expected_version);
TESORO_API int tesoro_deal_property_not_interested(tesoro *t, int64_t actor,
                                                   int64_t deal_property,
                                                   int reasons,
                                                   const char *note,
                                                   int64_t expected_version);
TESORO_API int tesoro_deal_property_approve(tesoro *t, int64_t actor,
                                            int64_t deal_property,
                                            int64_t expected_version);
TESORO_API int tesoro_deal_property_favourite(tesoro *t, int64_t actor,
                                              int64_t deal_property, int on,
                                              int64_t expected_version);

/*
** Request a viewing (the client): `preferred` holds `count` (1..3) UTC
** instants, each in the future and all different.  *out_appointment.
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_EEXISTS where the text above says so.
*/
TESORO_API int tesoro_appointment_request(tesoro *t, int64_t actor,
                                          int64_t deal_property,
                                          const int64_t *preferred, int count,
                                          int64_t *out_appointment);
/* `duration_s`: 0 keeps the viewing's duration, else
** TESORO_MIN_VIEWING_S..TESORO_MAX_VIEWING_S seconds (EINVAL).
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_ECONFLICT (expected_version). */
TESORO_API int tesoro_appointment_confirm(tesoro *t, int64_t actor,
                                          int64_t appointment,
                                          int64_t start_at, int64_t duration_s,
                                          int64_t expected_version);
TESORO_API int tesoro_appointment_reschedule(tesoro *t, int64_t actor,
                                             int64_t appointment,
                                             int64_t start_at,
                                             int64_t duration_s,
                                             int64_t expected_version);
TESORO_API int tesoro_appointment_reject(tesoro *t, int64_t actor,
                                         int64_t appointment,
                                         const char *reason,
                                         int64_t expected_version);
/* `reason` may be NULL for the client; staff must give one (EINVAL).
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_ECONFLICT (expected_version). */
TESORO_API int tesoro_appointment_cancel(tesoro *t, int64_t actor,
                                         int64_t appointment,
                                         const char *reason,
                                         int64_t expected_version);
TESORO_API int tesoro_appointment_start_viewing(tesoro *t, int64_t actor,
                                                int64_t appointment,
                                                int64_t expected_version);
/* `note` may be NULL.
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_ECONFLICT (expected_version). */
TESORO_API int tesoro_appointment_record_no_show(tesoro *t, int64_t actor,
                                                 int64_t appointment,
                                                 const char *note,
                                                 int64_t expected_version);

/*
** After completion, the client only: a note (*out_note), and one rating
** of 1..5 stars that a later call replaces.  Photos (TESORO_DOC_PHOTO) and
** voice notes (TESORO_DOC_VOICE_NOTE) go through tesoro_document_add with
** TESORO_ENTITY_APPOINTMENT.
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_ECONFLICT (expected_version).
*/
TESORO_API int tesoro_appointment_note_add(tesoro *t, int64_t actor,
                                           int64_t appointment,
                                           const char *body,
                                           int64_t *out_note);
TESORO_API int tesoro_appointment_rate(tesoro *t, int64_t actor,
                                       int64_t appointment, int stars,
                                       int64_t expected_version);

/* The appointment's notes, oldest first (staff or its client).  Columns:
** id, author_id, body, created_at.
** Returns TESORO_OK; TESORO_EINVAL (bad id or filter, out NULL);
** TESORO_ENOTFOUND; TESORO_EDENIED. */
TESORO_API int tesoro_appointment_notes(tesoro *t, int64_t actor,
                                        int64_t appointment,
                                        tesoro_cursor **out);

/*
** One of the client's lists (TESORO_LIST_*), for the client actor `actor`,
** judged at the handle's "now".  Columns: id, state, status_colour,
** deal_id, deal_property_id, listing_id, title, photo_id (NULL when the
** listing has no photo), preferred (JSON array of instants, as requested),
** start_at (NULL until confirmed), price, currency, ref, address, rating
** (NULL until rated), version.
** Returns TESORO_OK; TESORO_EINVAL (bad id or filter, out NULL);
** TESORO_ENOTFOUND; TESORO_EDENIED.
*/
TESORO_API int tesoro_client_appointments(tesoro *t, int64_t actor, int list,
                                          tesoro_cursor **out);

/*
** An agent's appointments (staff of the agent's agency): `agent` 0 means
** the caller; `state` 0 means any, else TESORO_APPOINTMENT_*; the time of
** an appointment is its start time, or its earliest preferred date while
** it has none, and must fall in [from, to) — 0 leaves a bound open.  Ordered
** by that time.  Columns: id, state, status_colour, at, start_at,
** preferred, contact_id, contact_name, deal_id, listing_id, title,
** address, ref, no_show (0/1), rating, version.
** Returns TESORO_OK; TESORO_EINVAL (bad id or filter, out NULL);
** TESORO_ENOTFOUND; TESORO_EDENIED.
*/
TESORO_API int tesoro_agent_appointments(tesoro *t, int64_t actor,
                                         int64_t agent, int state,
                                         int64_t from, int64_t to,
                                         tesoro_cursor **out);

/*
** The appointment as an iCalendar file (RFC 5545), for the client or
** staff: one VEVENT with a stable UID, DTSTAMP (now), DTSTART (the start
** time, or the earliest preferred date while unconfirmed) and DTEND the
** viewing's duration later, in UTC, SUMMARY "<title> Property Viewing", LOCATION the address,
** DESCRIPTION title, price, reference, address and `link` (NULL: none),
** STATUS CONFIRMED (confirmed, completed), TENTATIVE (pending) or
** CANCELLED (cancelled, rejected), SEQUENCE (version - 1) and a VALARM 30
** minutes before.  CRLF line endings, lines folded at 75 octets (never
** inside a UTF-8 character), TEXT values escaped and free of control
** characters (each is dropped).  The UID is "appointment-<id>-<the
** agency's random key>@tesoro", unique across agencies and files.
** *out: tesoro_free.
** Returns TESORO_OK; TESORO_EINVAL (bad id, out NULL); TESORO_ENOTFOUND;
** TESORO_EDENIED.
*/
TESORO_API int tesoro_appointment_ics(tesoro *t, int64_t actor,
                                      int64_t appointment, const char *link,
                                      char **out);

/*
** A calendar feed to subscribe to once (Google, Apple, Outlook): one
** VCALENDAR with a VEVENT, as tesoro_appointment_ics writes it (no link,
** no alarm), for every viewing of `subject` — an agent, as the viewings'
** owner, or a client — confirmed, completed, pending (TENTATIVE) and
** cancelled or rejected (STATUS:CANCELLED), SEQUENCE rising with each
** change.  The caller is the subject or an admin of their agency.
** *out_ics: tesoro_free.  Returns TESORO_OK; EDENIED; ENOTFOUND; EINVAL
** (the subject is the website or the system).
*/
TESORO_API int tesoro_calendar_feed(tesoro *t, int64_t actor, int64_t subject,
                                    char **out_ics);

/* ------------------------------------------------------------------------
** Referral stages.
**
** A referral is a client contact passed to one of the agency's agents by a
** referral network.  Its stage moves forward through the active stages
**   left_voicemail < connected < meeting_scheduled < met_with_person <
**   coming_soon < making_an_offer < listing < in_escrow < closed
** then closed_paid; "failed" stands outside the order.  Referral machine
** (event = the stage moved to; "staff" is any staff role):
**   forward        any active stage → any later active stage   staff
**   attempt        left_voicemail → left_voicemail, with "attempted_via"  staff
**   back           refused (ESTATE): "leave a note instead"
**   failed         any active stage before closed → failed     staff, reason
**   revive         failed → the last active stage, only        staff
** Failing a referral that is failed, closed or closed_paid is ESTATE (no
** row allows it); reviving a failed one to any stage but its last active
** one is EGUARD (the row exists, its guard refuses).
**   in_escrow → listing, making_an_offer                       closings only
**   coming_soon → listing on the list date                     system (tick)
**   closed → closed_paid, with the payment                     closings only
**   add_note       any stage                                   staff
** Stage data, given with the move as a JSON object (`data_json`; NULL or ""
** when there is none) or already stored on the referral (a revival):
**   left_voicemail     "attempted_via": "voicemail", "text" or "email" — how
**                      the client was tried; a move to left_voicemail while
**                      in it records another attempt and requires it
**   connected          "contacted_via": "phone", "text" or "email" — how
**                      the client was reached (optional)
**   meeting_scheduled  "meeting_at" (instant) — required
**   coming_soon        "list_date" ("YYYY-MM-DD", today or later in the
**                      agency's zone) — required; on that agency-local date
**                      tesoro_tick moves the referral to listing
**   in_escrow, closed  "sale_price" (> 0, minor units) and "close_date"
**                      ("YYYY-MM-DD") — required; entering in_escrow queues
**                      the "Closing Documents" e-mail (and crm notice) to
**                      the referral's agent
**   closed_paid        "paid_amount" (> 0) — required
**   failed             "reason" — required
** A key that does not belong to the stage moved to is EINVAL, and so is
** a required one that is missing (never EGUARD: a missing field is the
** caller's error in every JSON argument).  Entering
** closed fixes the fee owed: sale price × the fee (basis points) the agency
** had agreed when the referral was created, rounded half up — also for a
** referral that failed before.  Referrals are staff-only: a client cannot
** read them.
*/
#define TESORO_STAGE_LEFT_VOICEMAIL    1
#define TESORO_STAGE_CONNECTED         2
#define TESORO_STAGE_MEETING_SCHEDULED 3
#define TESORO_STAGE_MET_WITH_PERSON   4
#define TESORO_STAGE_COMING_SOON       5
#define TESORO_STAGE_MAKING_AN_OFFER   6
#define TESORO_STAGE_LISTING           7
#define TESORO_STAGE_IN_ESCROW         8
#define TESORO_STAGE_CLOSED            9
#define TESORO_STAGE_CLOSED_PAID       10
#define TESORO_STAGE_FAILED            11

/* Filters of tesoro_referrals. */
#define TESORO_REFERRALS_ALL    0
#define TESORO_REFERRALS_ACTIVE 1 /* left_voicemail .. in_escrow */
#define TESORO_REFERRALS_FAILED 2
#define TESORO_REFERRALS_CLOSED 3 /* closed and closed_paid */

/*
** The agency's referral agreement (admin): the fee, in basis points of the
** sale price (0..10000; 250 = 2.50 %).  New referrals take the fee agreed
** at their creation.  Default 0.
** Returns TESORO_OK; TESORO_EINVAL (out of range); TESORO_ENOTFOUND;
** TESORO_EDENIED (not an admin).
*/
TESORO_API int tesoro_agency_set_referral_fee(tesoro *t, int64_t actor,
                                              int64_t basis_points);

/*
** Register a referral (staff) for a contact of the agency, with `agent` (a
** staff member of the agency; 0 = the caller), at left_voicemail.
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_EEXISTS where the text above says so.
*/
TESORO_API int tesoro_referral_create(tesoro *t, int64_t actor, int64_t contact,
                                      int64_t agent, int64_t *out_referral);

/* Move a referral to `stage` (TESORO_STAGE_*), see above.
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_ECONFLICT (expected_version). */
TESORO_API int tesoro_referral_move(tesoro *t, int64_t actor, int64_t referral,
                                    int stage, const char *data_json,
                                    int64_t expected_version);

/* A note on the referral (staff), in any stage.  Notes, oldest first:
** columns id, author_id, body, created_at.
** Returns TESORO_OK; TESORO_EINVAL (bad id or filter, out NULL);
** TESORO_ENOTFOUND; TESORO_EDENIED. */
TESORO_API int tesoro_referral_note_add(tesoro *t, int64_t actor,
                                        int64_t referral, const char *body,
                                        int64_t *out_note);
TESORO_API int tesoro_referral_notes(tesoro *t, int64_t actor,
                                     int64_t referral, tesoro_cursor **out);

/*
** The agency's referrals (staff), newest first: `filter` TESORO_REFERRALS_*,
** `stage` 0 or one TESORO_STAGE_*, `agent` 0 (all) or a staff member.
** Columns: id, contact_id, contact_name, agent_id, stage, last_active_stage,
** attempted_via, contacted_via, meeting_at, list_date, sale_price,
** close_date, fee_bp, fee_owed, paid_amount, created_at, version.
** Returns TESORO_OK; TESORO_EINVAL (bad id or filter, out NULL);
** TESORO_ENOTFOUND; TESORO_EDENIED.
*/
TESORO_API int tesoro_referrals(tesoro *t, int64_t actor, int filter, int stage,
                                int64_t agent, tesoro_cursor **out);

/*
** The pipeline view (staff): one row per stage, in stage order, with the
** number of referrals in it (`agent` 0: all).  Columns: stage (number),
** name, count.
** Returns TESORO_OK; TESORO_EINVAL (bad id or filter, out NULL);
** TESORO_ENOTFOUND; TESORO_EDENIED.
*/
TESORO_API int tesoro_referral_pipeline(tesoro *t, int64_t actor, int64_t agent,
                                        tesoro_cursor **out);

/* ------------------------------------------------------------------------
** Client portal: accounts, login, onboarding, languages, the
** home overview and the property feed across a client's deals.
**
** THE PORTAL SETTING.  Every portal call is refused with TESORO_EDENIED
** ("the client portal of agency N is not active") unless the agency's
** admin has switched the portal on.  Portal calls are: every
** tesoro_portal_* function, and every call a client actor makes on a deal,
** a deal property or an appointment (the feed's verdicts, viewing requests,
** notes, ratings, the client's lists and iCalendar).  Staff calls on deals
** and appointments keep working with the portal off: the CRM does not
** depend on the portal.  Seller onboarding (rooms, mandates) is not a
** portal call.
**
** ACCOUNT STATES ARE THE ONBOARDING STEPS.  A portal account is an entity
** (TESORO_ENTITY_PORTAL_ACCOUNT) with this machine:
**
**   create (staff)            — → set_password
**   register (website)        — → unverified; again on an unverified
**                             account: new name, password and code
**   verify (website)          unverified → welcome
**   change_password (client)  set_password → welcome; welcome, tour,
**                             ready → same
**   finish_welcome (client)   welcome → tour
**   finish_tour, skip_tour    tour → ready
**   restart_tour (client)     ready → tour
**   login (client), login_failed, code_failed (website), set_language and
**   contact_agent (client): no move; each is a history row.
**
** While the account is in set_password (a CRM-made account whose temporary
** password is unchanged) every portal call of its client is refused with
** TESORO_EGUARD except those the set-password page needs:
** tesoro_portal_password_change, tesoro_portal_step and
** tesoro_portal_language.  A client without a portal account (the host
** authenticated it another way) may use the feed, viewings and home; the
** account's own calls need the account (ENOTFOUND).
**
** SECRETS.  Passwords and verification codes are stored only as argon2id
** strings (libsodium crypto_pwhash_str) and are never written to the
** outbox, history, activity or an error message.  The temporary password
** and the verification code are returned once, to the caller; the host
** puts them into the e-mail it sends (the invitation outbox row names the
** account and its login e-mail, not the password).  The hash cost is the
** handle's TESORO_CONFIG_PWHASH_* setting; a login whose stored hash is
** cheaper than the setting stores a new hash (never a cheaper one).
**
** SECURITY COUNTERS ARE THE EXCEPTION TO "A REFUSED CALL CHANGES NOTHING":
** a wrong password or a wrong code is refused *and* recorded (login_failed,
** code_failed), because counting them is the rule.
**
** The portal server is not yet a client when it registers, verifies or
** logs someone in: those calls take the agency's website actor, which
** also names the agency.  The account's own calls take its client actor
** (tesoro_actor_info tells a host which contact that is) and, since an
** account belongs to one person, no expected_version.
*/

/* Onboarding steps: the states of a portal account. */
#define TESORO_PORTAL_UNVERIFIED   1 /* self-registered; code not yet verified */
#define TESORO_PORTAL_SET_PASSWORD 2 /* must replace the temporary password */
#define TESORO_PORTAL_WELCOME      3 /* the welcome slides */
#define TESORO_PORTAL_TOUR         4 /* the guided tour of the home page */
#define TESORO_PORTAL_READY        5 /* tour finished or skipped */

#define TESORO_PORTAL_CODE_DIGITS      6   /* verification code: 000000..999999 */
#define TESORO_PORTAL_CODE_TTL_S       900 /* valid this long after it is issued,
                                              the 900th second included */
#define TESORO_PORTAL_CODE_MAX_TRIES   5   /* wrong codes; then register again */
#define TESORO_PORTAL_LOGIN_MAX_FAILS  5   /* wrong passwords in a row lock ... */
#define TESORO_PORTAL_LOCK_S           900 /* ... the account this long */
#define TESORO_PORTAL_TEMP_PASSWORD_LEN 16
#define TESORO_MIN_PASSWORD 8   /* characters (code points) */
#define TESORO_MAX_PASSWORD 256 /* bytes */
#define TESORO_PORTAL_LANGUAGES "en nl de fr es pt it pl sv no"

/*
** Switch the agency's portal on (1) or off (0) (admin only; default off).
** Returns TESORO_OK; TESORO_EINVAL (not 0 or 1); TESORO_ENOTFOUND;
** TESORO_EDENIED (not an admin).
*/
TESORO_API int tesoro_agency_set_portal(tesoro *t, int64_t actor, int active);

/*
** Route 1, from the CRM (staff): a portal account for `contact`, whose
** e-mail becomes the login.  *out_temp_password (tesoro_free) is a random
** password of TESORO_PORTAL_TEMP_PASSWORD_LEN characters that meets the
** password policy; only its hash is kept.  The account is active at once,
** in set_password.  Queues the "Portal Invitation" e-mail to the client and
** logs "portal_account_created" on the contact.
** Returns TESORO_OK; EDENIED (portal off, another agency, not staff);
** EGUARD (the contact has no e-mail); EEXISTS (the contact has an account,
** or an account uses its e-mail).
*/
TESORO_API int tesoro_portal_account_create(tesoro *t, int64_t actor,
                                            int64_t contact,
                                            int64_t *out_account,
                                            char **out_temp_password);

/*
** Route 2, self-registration through the portal (the website actor):
** name, e-mail and password (the policy below).  *out_code (tesoro_free)
** is the 6-digit verification code for the host to e-mail; it is valid for
** TESORO_PORTAL_CODE_TTL_S and TESORO_PORTAL_CODE_MAX_TRIES wrong tries.
** Registering again an e-mail whose account is still unverified replaces
** its name, password and code (the old code stops working): whoever proves
** the mailbox sets the password.
** Returns TESORO_OK; EINVAL (name, e-mail, password policy); EDENIED
** (portal off, not the website); EEXISTS (a verified account has it).
*/
TESORO_API int tesoro_portal_register(tesoro *t, int64_t website,
                                      const char *name, const char *email,
                                      const char *password,
                                      int64_t *out_account, char **out_code);

/*
** Verify a self-registration (the website actor).  The account becomes
** active (step welcome) and is linked to the agency's contact with that
** e-mail (compared case-insensitively), else to a new lead contact made
** from the registration.  The code is single use.  *out_client: the
** contact's client actor, now logged in.
** Returns TESORO_OK; EINVAL (code not 6 digits); EDENIED (one answer for
** an unknown e-mail, an account already verified, a wrong code (recorded),
** an expired or used-up one — see NO ACCOUNT ENUMERATION below — and for
** the portal switched off); EEXISTS (the matching contact already has
** another account).
*/
TESORO_API int tesoro_portal_verify(tesoro *t, int64_t website,
                                    const char *email, const char *code,
                                    int64_t *out_client);

/*
** Log in (the website actor).  On success *out_client is the account's
** client actor and *out_step its TESORO_PORTAL_* step; TESORO_PORTAL_SET_
** PASSWORD means the host must show "set password" first.  A wrong password
** counts; TESORO_PORTAL_LOGIN_MAX_FAILS in a row lock the account for
** TESORO_PORTAL_LOCK_S, during which even the right password is refused.
** A success resets the count.
** Returns TESORO_OK; EDENIED ("e-mail or password is wrong" — the same for
** an unknown e-mail, which costs the same time; "locked until ..."; portal
** off); ESTATE (not verified yet).
*/
TESORO_API int tesoro_portal_login(tesoro *t, int64_t website,
                                   const char *email, const char *password,
                                   int64_t *out_client, int *out_step);

/*
** Change the password (the client).  `current` must be right (a wrong one
** counts as a failed login) and `new_password` must meet the policy —
** at least TESORO_MIN_PASSWORD characters with an upper-case letter, a
** lower-case letter, a digit and a special character (anything that is
** neither a letter nor a digit); no control characters — and differ from
** the current one.  Letters and digits are Unicode's (ICU).
** From set_password this moves the account on to welcome.
** Returns TESORO_OK; EINVAL (each policy rule has its own message);
** EDENIED (wrong current password, locked, portal off).
*/
TESORO_API int tesoro_portal_password_change(tesoro *t, int64_t client,
                                             const char *current,
                                             const char *new_password);

/* The account's current onboarding step (TESORO_PORTAL_*), its client.
** Not a duplicate of tesoro_entity_state: a client never learns its
** account's id, and the step is the number tesoro_portal_login gives.
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND (no portal account);
** TESORO_EDENIED (not a client, portal off); TESORO_EGUARD (password still
** to be set); TESORO_ESTATE (the step does not allow it). */
TESORO_API int tesoro_portal_step(tesoro *t, int64_t client, int *out_step);

/* Onboarding (the client): welcome slides seen (welcome → tour); tour
** finished or skipped (tour → ready); tour restarted (ready → tour).
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND (no portal account);
** TESORO_EDENIED (not a client, portal off); TESORO_EGUARD (password still
** to be set); TESORO_ESTATE (the step does not allow it). */
TESORO_API int tesoro_portal_welcome_finish(tesoro *t, int64_t client);
TESORO_API int tesoro_portal_tour_finish(tesoro *t, int64_t client);
TESORO_API int tesoro_portal_tour_skip(tesoro *t, int64_t client);
TESORO_API int tesoro_portal_tour_restart(tesoro *t, int64_t client);

/*
** The portal language: the one the user chose, else the contact's language
** when its primary subtag (before "-" or "_", any case: "nl-BE", "NL") is
** one of TESORO_PORTAL_LANGUAGES, else "en".  *out_language points at a
** static string.  Notifications to the client use the same language.
** tesoro_portal_set_language takes exactly one of the ten lower-case codes
** (EINVAL otherwise).
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND (no portal account);
** TESORO_EDENIED (not a client, portal off); TESORO_EGUARD (password still
** to be set); TESORO_ESTATE (the step does not allow it).
*/
TESORO_API int tesoro_portal_language(tesoro *t, int64_t client,
                                      const char **out_language);
TESORO_API int tesoro_portal_set_language(tesoro *t, int64_t client,
                                          const char *language);

/*
** Home overview (the client): upcoming appointments (confirmed, in the
** future), unconfirmed ones (pending), new properties (to_review, in the
** client's active deals) and ratings given.  Any out may be NULL.
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND (no portal account);
** TESORO_EDENIED (not a client, portal off); TESORO_EGUARD (password still
** to be set); TESORO_ESTATE (the step does not allow it).
*/
TESORO_API int tesoro_portal_home(tesoro *t, int64_t client,
                                  int64_t *out_upcoming,
                                  int64_t *out_unconfirmed,
                                  int64_t *out_new_properties,
                                  int64_t *out_ratings);

/*
** The client's properties across their active deals.  Views:
**   TESORO_FEED_NEW         to_review, newest first
**   TESORO_FEED_ALL         grouped by status in the order to_review,
**                           interesting, rejected, viewed, approved;
**                           newest first within a status
**   TESORO_FEED_FAVOURITES  favourites, newest first
** Columns: id, deal_id, listing_id, state, favourite, title, address,
** price, ref, photo_id, reject_reasons (JSON array or NULL), reject_note,
** created_at, version.
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND (no portal account);
** TESORO_EDENIED (not a client, portal off); TESORO_EGUARD (password still
** to be set); TESORO_ESTATE (the step does not allow it).
*/
#define TESORO_FEED_NEW        1
#define TESORO_FEED_ALL        2
#define TESORO_FEED_FAVOURITES 3
TESORO_API int tesoro_portal_properties(tesoro *t, int64_t client, int view,
                                        tesoro_cursor **out);

/*
** One property as the client sees it (the client, a buyer): a listing in
** their feed — offered to an active deal of theirs while it is on offer
** (published, its mandate validated and not expired at the call's time) —
** or one they have a viewing for, whatever its state.  *out_json
** (tesoro_free) is an object with listing_id, ref, title, address, price,
** property_type, bedrooms, bathrooms, floor_area, description, latitude,
** longitude, energy_label, deal_property_id, deal_id, status (the feed
** status), favourite, reject_reasons, reject_note, in_feed (false when
** only a viewing lets them see it) and photos: [{id, name, mime, size}] in
** upload order.  Only photos: the mandate, the seller's form and staff
** documents never reach a buyer.  The client may list those photos
** (tesoro_documents on the listing shows a client only photos, the seller
** of their own listing too) and read them (tesoro_document_read); and
** tesoro_entity_json on such a listing gives the client this same object.
** Returns TESORO_OK; EDENIED ("not in the property feed of client ...":
** the feed does not hold it and there is no viewing of it; another agency;
** portal off; the seller's own listing, which tesoro_entity_json reads);
** ENOTFOUND (no such listing).
*/
TESORO_API int tesoro_portal_property(tesoro *t, int64_t client,
                                      int64_t listing, char **out_json);

/*
** Contact agent (the client): a message to the contact's assigned agent
** (else the admins), on the crm and email channels ("Contact Agent"),
** kept on the contact's timeline.  `deal_property` 0 or one of the
** client's offered properties the message is about.  *out_message may be
** NULL.
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND (no portal account);
** TESORO_EDENIED (not a client, portal off); TESORO_EGUARD (password still
** to be set); TESORO_ESTATE (the step does not allow it).
*/
TESORO_API int tesoro_portal_contact_agent(tesoro *t, int64_t client,
                                           int64_t deal_property,
                                           const char *message,
                                           int64_t *out_message);

/*
** Staff: the portal account of a contact (ENOTFOUND if none).  Read it
** with tesoro_entity_json: e-mail, state, language, last login, lock —
** never a hash.
** Returns TESORO_OK; TESORO_EINVAL (bad id, out NULL); TESORO_ENOTFOUND;
** TESORO_EDENIED.
*/
TESORO_API int tesoro_contact_portal_account(tesoro *t, int64_t actor,
                                        int64_t contact, int64_t *out_account);

/*
** NO ACCOUNT ENUMERATION.  Whoever types an e-mail into the portal learns
** nothing of whether an account has it: login, verification, registration
** and password reset answer an unknown e-mail exactly as a known one — the
** same code, the same message, and the same work (an argon2id check
** against a decoy hash where there is no account):
**   login     EDENIED "e-mail or password is wrong, or the account is
**             locked for a while after repeated failures" for an unknown
**             e-mail, a wrong password, a locked or a deactivated account.
**             Only the right password of an unverified account learns
**             ESTATE ("not verified yet").
**   verify    EDENIED "the verification code is wrong or has expired" for
**             an unknown e-mail, a verified account, a wrong, expired or
**             used-up code (a wrong code of an unverified account is still
**             counted).
**   register  TESORO_OK and a code for an e-mail a verified account has,
**             too: nothing changes, the code never verifies, *out_account
**             is 0, and the account's owner gets the "Portal Account
**             Exists" e-mail (log in, or reset the password).  A host shows
**             the same page whatever *out_account is.
**   reset     tesoro_portal_reset_request answers TESORO_OK whatever the
**             e-mail; tesoro_portal_reset one message for every failure.
*/

/*
** SESSIONS.  tesoro_portal_session_open logs in as tesoro_portal_login does
** and returns an opaque session token: 256 random bits, base64url (43
** characters).  Only its BLAKE2b hash is stored.  The host keeps the token
** in a cookie and turns it back into the client actor on each request with
** tesoro_portal_session_client.  A session ends when the client logs out
** (tesoro_portal_session_end), after TESORO_CONFIG_SESSION_IDLE_S without
** use or TESORO_CONFIG_SESSION_MAX_S after its login (handle settings), and
** for every session of the account at once on a password change or reset,
** an invitation resend, a deactivation, the contact's erasure and when the
** agency switches its portal off.  A use moves the idle expiry on, writing
** at most once a minute per session.  Host-authenticated client actor ids
** keep working without sessions.
*/
#define TESORO_PORTAL_TOKEN_LEN 43

/* Log in and open a session (the website actor): as tesoro_portal_login;
** *out_token (tesoro_free) is the session's token; *out_client and
** *out_step as there (either may be NULL).
** Returns as tesoro_portal_login. */
TESORO_API int tesoro_portal_session_open(tesoro *t, int64_t website,
                                          const char *email,
                                          const char *password,
                                          char **out_token, int64_t *out_client,
                                          int *out_step);

/* The client actor of a live session (the website actor).  EDENIED "the
** session has ended" for a token that is unknown, ended or expired, alike;
** EINVAL for a token that is not one tesoro could have made.
** Returns TESORO_OK; TESORO_EINVAL (not a token); TESORO_EDENIED (ended,
** unknown, not the website, portal off). */
TESORO_API int tesoro_portal_session_client(tesoro *t, int64_t website,
                                            const char *token,
                                            int64_t *out_client);

/* Log out (the website actor): the session ends.  Ending a session that
** has already ended is TESORO_OK.
** Returns TESORO_OK; TESORO_EINVAL (not a token); TESORO_EDENIED (not the
** website, portal off). */
TESORO_API int tesoro_portal_session_end(tesoro *t, int64_t website,
                                         const char *token);

/*
** PASSWORD RESET.  tesoro_portal_reset_request (the website actor): when an
** active account has this e-mail, a single-use reset secret
** (TESORO_PORTAL_RESET_LEN characters) is made, stored only as an argon2id
** hash, and queued to the account's e-mail as the "Portal Password Reset"
** message, whose payload holds it as "secret" until the host acknowledges
** the delivery: tesoro_outbox_ack then removes it from the row (and, when
** no reader holds the log, from the WAL).  The secret works for
** TESORO_PORTAL_RESET_TTL_S and TESORO_PORTAL_RESET_MAX_TRIES wrong tries;
** a new request, a password change or an invitation resend revokes it.
** Unknown, unverified and deactivated e-mails get the same TESORO_OK and
** nothing is queued.
**
** tesoro_portal_reset (the website actor) sets a new password with the
** secret: the password meets the policy (EINVAL), the secret is used up,
** the lockout is cleared, every session of the account ends, and an
** account in set_password moves on to welcome.  *out_client (may be NULL):
** the account's client actor.  Every failure is EDENIED "the reset secret
** is wrong or has expired" (a wrong secret of a known account counts).
** Returns TESORO_OK (whatever the e-mail); TESORO_EINVAL; TESORO_EDENIED
** (not the website, portal off); reset: TESORO_OK; TESORO_EINVAL (password
** policy); TESORO_EDENIED.
*/
#define TESORO_PORTAL_RESET_LEN       32
#define TESORO_PORTAL_RESET_TTL_S     3600
#define TESORO_PORTAL_RESET_MAX_TRIES 5
TESORO_API int tesoro_portal_reset_request(tesoro *t, int64_t website,
                                           const char *email);
TESORO_API int tesoro_portal_reset(tesoro *t, int64_t website,
                                   const char *email, const char *secret,
                                   const char *new_password,
                                   int64_t *out_client);

/*
** Resend the invitation (staff) of the contact's CRM-made or verified
** account: a new temporary password, returned once in *out_temp_password
** (tesoro_free) as by tesoro_portal_account_create; the account goes back
** to set_password (a deactivated one is active again); the earlier
** password, any reset secret and every session stop working; the "Portal
** Invitation" e-mail is queued again.  An invitation lost between the call
** and the e-mail is never a stranded account.
** Returns TESORO_OK; EDENIED (not staff, another agency, portal off);
** ENOTFOUND (no account); ESTATE (an unverified self-registration: the
** client registers again).
*/
TESORO_API int tesoro_portal_invitation_resend(tesoro *t, int64_t actor,
                                               int64_t contact,
                                               char **out_temp_password);

/* Deactivate the contact's account (staff): no login, no session, no
** reset until an invitation resend.  ESTATE if already deactivated.
** Returns TESORO_OK; TESORO_ENOTFOUND (no account); TESORO_EDENIED (not
** staff, portal off); TESORO_ESTATE. */
TESORO_API int tesoro_portal_account_deactivate(tesoro *t, int64_t actor,
                                                int64_t contact);

/* ------------------------------------------------------------------------
** Website exchange (the Homeflow People Exchange).
**
** WEB CUSTOMERS.  Everyone the website tells the CRM about is a web
** customer (TESORO_ENTITY_WEB_CUSTOMER), keyed by the website's own
** customer id.  Its machine is the prospect holding tank:
**   (first event about it)   — → prospect
**   approve (staff)          prospect → approved: linked to a contact
**   discard (staff)          prospect → discarded, reason required
** A customer first seen through an event other than "customer" (events
** arrive in any order) is a prospect without details until its customer
** event arrives.  Events about an approved customer are also lines on its
** contact's activity timeline; events about a discarded one are recorded
** and applied but stay off every timeline and list.  A contact the CRM
** works with on the exchange (a search set in the CRM, interest, a group)
** gets a web customer too, approved and without a website id until the
** website names it (a "customer" event with "contact_id"; EEXISTS when
** that contact already is the customer of another website id).
**
** INGEST.  A website event is one JSON object:
**   {"source_id": "...", "type": "...", "customer": "...", "at": T, ...}
** source_id (1..200 bytes) is unique per agency: a replay — the same
** source_id with the same content, whatever the order of its members and
** its whitespace (told apart by a 128-bit BLAKE2b digest of the members)
** — returns the earlier result and changes nothing; the same source_id
** with different content is EEXISTS.  "at" is the event
** time (UTC seconds), at most TESORO_CONFIG_EVENT_SKEW_S (5 minutes unless
** set) ahead of the handle's clock (EINVAL).  Per customer, state that an event sets
** (details, visit count, a search, a save, a rank, a group) keeps the
** newest event time; ties go to the greater source_id, so the outcome
** never depends on arrival order.  An older event arriving late is stored
** (its replay is still a replay) with status "superseded" and changes
** nothing else.  Counted things (views, enquiries, claims) are each kept.
**
** Types and their own fields (capability numbers of seed 003):
**   customer        (1)  name, email, phone, contact_id (all optional)
**   visit           (3)  visits: the website's cumulative count (>= 1)
**   implied_search  (4)  search_id; criteria (below)   — a soft search
**   saved_search    (5)  search_id; criteria; alert (true/false) — hard
**   search_deleted  (5)  search_id
**   property_view   (7)  listing: the listing's reference ("TES-00001")
**   property_save   (8)  listing; saved (true: save, false: unsave)
**   property_rank  (10)  listing; rank 1..5; note; shared (true/false)
**   enquiry        (11)  enquiry_type: property, branch, valuation,
**                        mortgage, viewing, staff, general; listing
**                        (optional); message
**   group          (12)  group: the househunting group's id
**   vendor_claim   (13)  listing; note — a soft link and a staff task
**                        "confirm vendor" for the customer's agent
**   consent              consent: "granted" or "denied"; statement — the
**                        marketing consent the person gave on the website
**                        (see tesoro_contact_set_consent)
** Search criteria: min_price, max_price (minor units), property_types (an
** array of "house", "apartment", "office", "land"), min_bedrooms,
** max_bedrooms, area.  All optional; bounds must not cross.  `area` is an
** object {"name": text, "centre": a GeoJSON Point, "radius": metres > 0,
** "polygon": a GeoJSON Polygon} with a polygon, or a centre and a radius,
** or both (RFC 7946: positions [longitude, latitude] with longitude
** -180..180 and latitude -90..90; each ring closed — first position equal
** to the last — with at least 4 positions; the first ring the outline,
** the others holes).  Each invalid case is EINVAL naming the reason.  A
** member the event's type does not have is EINVAL; a member given twice
** counts with its first value (as SQLite's json_extract() reads it).
**
** Result: a JSON object {"source_id", "status": "applied" or
** "superseded", "customer_id", "entity", "entity_id"} (*out_result,
** tesoro_free; the entity is what the event created or changed, e.g. the
** search).
** Returns TESORO_OK (a replay too); TESORO_EINVAL (malformed event, a
** member its type lacks, "at" too far ahead); TESORO_EDENIED (not the
** website); TESORO_EEXISTS (a source_id reused with other content, a
** contact already another customer's); TESORO_ESTATE (an erased contact).
*/
#define TESORO_MAX_SOURCE_ID 200

TESORO_API int tesoro_exchange_ingest(tesoro *t, int64_t website,
                                      const char *event_json,
                                      char **out_result);

/*
** Many events in one transaction (a JSON array, at most
** TESORO_MAX_BATCH events).  Each event is applied whole or not at all: a
** bad event is skipped and reported, the others commit.  *out_results
** (tesoro_free) is an array with one entry per event, in order: its result
** object, or {"index": i, "error": "EINVAL", "message": "..."} (the code as
** tesoro_errname names it).
** *out_failed counts the skipped events; tesoro_errmsg names the first
** ("event 3: ..."; the one exception to "not an error" after a success).
** A customer's events in one batch move its version once and share one
** history row, its first applied event's; each event is still applied in
** order and kept under its source id (tesoro_exchange_ingest, one event
** per call, writes a row and moves the version for each).
** Returns TESORO_OK when the batch committed (even with
** skipped events); EINVAL when `events_json` is not an array; a database
** error (EBUSY, ENOMEM, EDB) rolls the whole batch back.
*/
#define TESORO_MAX_BATCH 10000
TESORO_API int tesoro_exchange_ingest_batch(tesoro *t, int64_t website,
                                            const char *events_json,
                                            int *out_failed,
                                            char **out_results);

/*
** The holding tank (staff).  tesoro_prospects lists prospects, newest
** first: id, external_id, name, email, phone, visits, last_visit_at,
** created_at, version.  Approve links the customer to `contact` (0: the
** agency's contact with the customer's e-mail, case-insensitively, else a
** new contact with the role "applicant"); *out_contact may be NULL.
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_ECONFLICT (expected_version).
*/
TESORO_API int tesoro_prospects(tesoro *t, int64_t actor, tesoro_cursor **out);
TESORO_API int tesoro_prospect_approve(tesoro *t, int64_t actor,
                                       int64_t customer, int64_t contact,
                                       int64_t expected_version,
                                       int64_t *out_contact);
TESORO_API int tesoro_prospect_discard(tesoro *t, int64_t actor,
                                       int64_t customer, const char *reason,
                                       int64_t expected_version);

/*
** What the website told about a customer (staff): each a cursor.
**   tesoro_customer_searches   id, external_id, hard, alert, state, name
**                              (area name), min_price, max_price,
**                              property_types, min_bedrooms, max_bedrooms,
**                              area (JSON), source ("website" or "crm"),
**                              updated_at
**   tesoro_customer_properties listing_id, ref, title, views,
**                              last_viewed_at, saved, rank, note,
**                              note_shared — a private note reads NULL
**   tesoro_customer_enquiries  id, type, listing_id, message, at
** Returns TESORO_OK; TESORO_EINVAL (bad id or filter, out NULL);
** TESORO_ENOTFOUND; TESORO_EDENIED.
*/
TESORO_API int tesoro_customer_searches(tesoro *t, int64_t actor,
                                        int64_t customer, tesoro_cursor **out);
TESORO_API int tesoro_customer_properties(tesoro *t, int64_t actor,
                                          int64_t customer,
                                          tesoro_cursor **out);
TESORO_API int tesoro_customer_enquiries(tesoro *t, int64_t actor,
                                         int64_t customer, tesoro_cursor **out);
/* The web customer the website calls `external_id` (staff); ENOTFOUND if
** none.
** Returns TESORO_OK; TESORO_EINVAL (bad id, out NULL); TESORO_ENOTFOUND;
** TESORO_EDENIED. */
TESORO_API int tesoro_customer_find(tesoro *t, int64_t actor,
                                    const char *external_id,
                                    int64_t *out_customer);
/* The web customer of a contact (staff); ENOTFOUND if none.
** Returns TESORO_OK; TESORO_EINVAL (bad id, out NULL); TESORO_ENOTFOUND;
** TESORO_EDENIED. */
TESORO_API int tesoro_contact_customer(tesoro *t, int64_t actor,
                                       int64_t contact, int64_t *out_customer);

/*
** CRM → website (staff).  Each change queues an outbox row of kind
** "exchange", channel "website", to the agency's website actor, whose
** template names the capability and whose payload carries "capability",
** the contact, and the website's own names as its events use them: the
** customer's website id ("customer") when known and, for a listing, its
** reference ("listing", e.g. "TES-00001") beside tesoro's listing_id:
**   2  new_customer       a contact created by staff with an e-mail;
**      customer_updated   a contact corrected (tesoro_contact_update)
**   6  search_saved       tesoro_search_save (criteria as for events;
**                         `search` 0 makes a new hard search, else edits
**                         one of the contact's) and search_deleted
**                         (tesoro_search_delete)
**   9  property_interest  tesoro_interest_register: the contact showed
**                         interest in a listing in branch; the website
**                         treats it as a saved property
**   12 group_changed      tesoro_contact_set_group (group "" leaves the group)
**   14 vendor_confirmed   tesoro_vendor_confirm: a firm link of a contact
**                         to a listing as "vendor" or "landlord"; an open
**                         vendor claim of that contact on that listing is
**                         confirmed with it and its task completed
** Vendor claims can also be rejected (tesoro_vendor_claim_reject, reason
** required); the claim's task is cancelled.
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_ECONFLICT (expected_version).
*/
TESORO_API int tesoro_search_save(tesoro *t, int64_t actor, int64_t contact,
                                  int64_t search, const char *criteria_json,
                                  int alert, int64_t *out_search);
TESORO_API int tesoro_search_delete(tesoro *t, int64_t actor, int64_t search,
                                    int64_t expected_version);
TESORO_API int tesoro_interest_register(tesoro *t, int64_t actor,
                                        int64_t contact, int64_t listing);
TESORO_API int tesoro_contact_set_group(tesoro *t, int64_t actor, int64_t contact,
                                const char *group);
TESORO_API int tesoro_vendor_confirm(tesoro *t, int64_t actor, int64_t contact,
                                     int64_t listing, const char *role);
TESORO_API int tesoro_vendor_claim_reject(tesoro *t, int64_t actor,
                                          int64_t claim, const char *reason,
                                          int64_t expected_version);

/*
** The call list (staff): approved customers and prospects, ranked by
**   score = (visits + 2 views + 4 saves + 3 hard searches + 1 soft search
**            + 8 enquiries) * 7 / (7 + days since the last activity)
** — counts weighted by how strong a signal each is, halved after a week
** without activity.  Columns: customer_id, contact_id, name, email, phone,
** score, visits, views, saves, hard_searches, soft_searches, enquiries,
** last_activity_at.  Highest score first; ties: latest activity, then id.
** `limit` 1..1000.
** Returns TESORO_OK; TESORO_EINVAL (bad id or filter, out NULL);
** TESORO_ENOTFOUND; TESORO_EDENIED.
*/
TESORO_API int tesoro_call_list(tesoro *t, int64_t actor, int limit,
                                tesoro_cursor **out);

/*
** Published listings of the agency that fit a customer's active searches
** (staff): price within the bounds, type among the types, bedrooms within
** the bounds, and — when the search has an area — the listing's location
** inside the polygon (holes excluded) or within the radius of the centre
** (great-circle distance: haversine on a sphere of 6 371 008.8 m, the
** Earth's mean radius; inside a ring by the even-odd rule, so a point in a
** hole is outside).  A listing without a location never matches a
** search with an area.  Columns: search_id, hard (1: saved search, 0:
** implied), listing_id, ref, title, price, property_type, bedrooms,
** distance_m (from the centre, or NULL).  Hard matches first, then by
** search, then newest listing first.
** Returns TESORO_OK; TESORO_EINVAL (bad id or filter, out NULL);
** TESORO_ENOTFOUND; TESORO_EDENIED.
*/
TESORO_API int tesoro_matches(tesoro *t, int64_t actor, int64_t customer,
                              tesoro_cursor **out);

/* ------------------------------------------------------------------------
** Privacy: marketing consent, the export of one contact, and
** the erasure that keeps the books.
**
** Every column of every table is classified once, in the library's
** privacy map (tesoro_privacy_map prints it): not personal ("kept"),
** personal, secret (password and code hashes: never exported) or bytes
** (document contents).  The export and the erasure are both generated from
** that map, so they cover the same columns; a test fails when schema.sql
** has a column the map does not classify.
*/

/* Marketing consent of a contact. */
#define TESORO_CONSENT_NOT_ASKED 1
#define TESORO_CONSENT_GRANTED   2
#define TESORO_CONSENT_DENIED    3

/*
** Record the contact's marketing consent.  Staff record it from the CRM
** (source "crm"), the contact's client from the portal ("portal"), the
** agency's website from a web form ("web_form"); a website "consent" event
** (tesoro_exchange_ingest) records "website_event".  The newest decision
** wins, whoever made it: a website event applies only when its time is
** later than the stored decision's, so an older event never undoes a
** CRM or portal decision; a call here applies at once, dated now or, if
** a stored decision is dated later (a website event within the clock
** skew), at that time: consent_at never goes backwards.  `statement` is the text the person agreed to or refused;
** required for TESORO_CONSENT_GRANTED.  Each change is a history row of the
** contact, "consent", from the old value to the new.  The contact's JSON
** (tesoro_entity_json) shows consent, consent_at, consent_source and
** consent_text.
** Returns TESORO_OK; EINVAL; EDENIED (another agency, another client);
** ECONFLICT.
*/
TESORO_API int tesoro_contact_set_consent(tesoro *t, int64_t actor,
                                          int64_t contact, int consent,
                                          const char *statement,
                                          int64_t expected_version);

/*
** Everything tesoro stores about one contact as one JSON document
** (*out_json, tesoro_free): {"format": "tesoro-export-1", "contact_id",
** "exported_at", "for": "staff" or "client", "tables": {"<table>": [rows
** as objects]}} for every table of the privacy map that holds rows about
** the contact — the contact, its client actor, rooms and their messages,
** mandates, proposals, its listings, deals, offered properties,
** appointments and notes, referrals and notes, the portal account and
** messages, its web customer and the exchange data, activities, history,
** outbox rows and documents' metadata.  Secrets are never in it.  Staff of
** the agency, or the contact's own client, who does not get the private
** room notes nor the staff's notifications.  flags:
** TESORO_EXPORT_DOCUMENT_BYTES adds each document's bytes, base64.
** Returns TESORO_OK; TESORO_EINVAL (bad id, out NULL); TESORO_ENOTFOUND;
** TESORO_EDENIED.
*/
#define TESORO_EXPORT_DOCUMENT_BYTES 1
TESORO_API int tesoro_contact_export(tesoro *t, int64_t actor, int64_t contact,
                                     int flags, char **out_json);

/*
** Erase a contact (admin only), for good.  Every personal column of every
** row about the contact is overwritten ("erased", NULL, a placeholder
** e-mail, a password hash nothing verifies); documents about the contact
** or uploaded by its client are deleted; its undelivered outbox rows are
** withdrawn and every outbox payload about it is blanked; its portal
** account can no longer log in and its client actor no longer acts
** (EDENIED).  Kept: the rows themselves, their states, times and ids, the
** history's events (without their details), mandates' financial terms,
** proposals, listings, referral fees and payments — the books.  The
** erasure is a history row "erase" of the contact (who, when, `reason`).
** A second call changes nothing.  The file is written with SQLite's
** secure_delete, and the WAL is checkpointed after the erasure (best
** effort), so the old values leave the file.  Every portal session of
** the contact ends.  An erased contact is frozen: every later write that
** names it or one of its entities — consent, searches, groups, interests,
** deals, referrals, portal accounts, assignment, notes and moves, a
** prospect approved into it, a website event naming it — is ESTATE
** ("erased"), so personal data cannot flow back (timers still end what
** was running).
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_EEXISTS where the text above says so.
*/
TESORO_API int tesoro_contact_erase(tesoro *t, int64_t actor, int64_t contact,
                                    const char *reason);

/*
** A website-only person — a web customer never approved into a contact (a
** prospect, or one discarded) — has the same rights.  Export (staff of the
** agency): the same format, with "web_customer_id" in place of
** "contact_id", over the customer, its website events, searches,
** interests, enquiries, vendor claims, their history and outbox rows.
** Erase (an admin): the same guarantees as tesoro_contact_erase — the
** personal columns of those rows overwritten (the website's own customer
** id too), undelivered outbox rows withdrawn, secure_delete and a WAL
** checkpoint, the rows and states kept, a history row "erase"; a second
** call changes nothing.  An erased customer is frozen: approving or
** discarding it is ESTATE ("erased"); a later website event with the same
** id is a new prospect.  A customer approved into a contact is ESTATE for
** both: its data is the contact's (tesoro_contact_export and _erase).
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_EEXISTS where the text above says so.
*/
TESORO_API int tesoro_web_customer_export(tesoro *t, int64_t actor,
                                          int64_t customer, char **out_json);
TESORO_API int tesoro_web_customer_erase(tesoro *t, int64_t actor,
                                         int64_t customer, const char *reason);

/* ------------------------------------------------------------------------
** Import and export: an agency in one file (format "tesoro-agency-1").
**
** JSON Lines: line 1 is the header {"type": "header", "format":
** "tesoro-agency-1"} (an export adds the agency's "name", "timezone",
** "currency", "portal_active", "admin_name" and "admin_email", which
** `tesoro import` uses to create the agency in a new file; appointments
** need the portal on, as their requests are the client's); every other
** line is one record, a JSON
** object with its "type", the source system's "external_id" (1..200 bytes,
** unique per type) and "at" (when it happened, Unix seconds; default: now),
** and no members but those listed:
**   agent        name, email, role ("agent", "admin", "closings")
**   contact      name; email, phone, language, agent (an agent's
**                external_id: the assigned agent), consent ("granted",
**                "denied", "not_asked"), consent_text
**   listing      seller (a contact's external_id, with an e-mail), agent,
**                state ("draft",
**                "published", "unpublished"), commission_type
**                ("percentage", "fixed"), commission_value, currency,
**                exclusive (true/false), duration_days, fields (an object as
**                tesoro_listing_update takes, with "address" and
**                "property_type"), signed_mandate (the signed PDF, base64),
**                photos ([{"name", "mime", "data": base64}], each
**                checked as tesoro_document_add checks a photo),
**                form (the seller form as the seller sent it; default:
**                the contact's name, e-mail and phone with the fields),
**                ref (written by the export, ignored)
**   appointment  contact, listing, agent, state ("pending", "confirmed",
**                "completed", "rejected", "cancelled"), preferred (1 to 3
**                times), start_at and duration_s (confirmed, completed,
**                cancelled), end_reason, cancelled_by ("client" or
**                "agency"), rating (completed: 1..5, the client's), notes
**                (completed: the client's, strings), no_show (completed:
**                true records the client's absence); a completed one is
**                completed by its timer
**   referral     contact, agent, stage (a referral state name, e.g.
**                "closed_paid"), data (the data of the stages on the way,
**                as tesoro_referral_move takes each; a payment is
**                recorded by the agency's first closings member)
**   portal_account  contact (with an e-mail); invited afresh: no secret
**                is in the file and no invitation is sent
**                (tesoro_portal_invitation_resend sends one)
**   web_customer the website's customer id as external_id; name, email,
**                phone; contact (approved into it when given)
**   search       contact (linked to a web customer), criteria (as
**                tesoro_search_save takes), alert (true/false)
** References name records of earlier lines (or of an earlier import).
**
** Import (an admin of the agency): each record goes through the calls of
** its workflow (so every field is checked as the workflow checks it, and
** the timers it would have planned — a mandate's expiry, a confirmed
** viewing's reminder and completion, a coming-soon list date — are
** planned), with the clock at the record's "at", and **nothing is queued
** in the outbox**.  The history those calls wrote for the entities they
** created is folded into one row per entity: event "imported", the
** importer, the record's time, details {"source": "import", "line",
** "type", "external_id"}; the contact timeline gets no rows.  A record
** whose (type, external_id) was imported before with the same content is
** "present" and changes nothing; with other content it is ECONFLICT.  The
** file is one transaction: **all or nothing** — the first bad line stops
** the import, nothing of the file is kept, and the error names the line
** ("line 7: ...").  *out_report (tesoro_free): {"format", "lines",
** "imported", "present"}.  Not inside tesoro_begin (EMISUSE).
**
** Export (an admin): the agency's agents (but its first admin), contacts,
** validated listings, appointments, referrals, portal accounts, web
** customers (not discarded ones) and the
** CRM's saved searches, in that order, each with the external_id it was
** imported under or "<type>-<id>"; erased contacts and what is theirs are
** left out.  *out_records (may be NULL): the records written.  The file is
** written in one read transaction: one moment's agency.
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_EEXISTS where the text above says so.
*/
TESORO_API int tesoro_agency_import(tesoro *t, int64_t actor, const char *path,
                                    char **out_report);
TESORO_API int tesoro_agency_export(tesoro *t, int64_t actor, const char *path,
                                    int64_t *out_records);

/*
** The privacy map (no handle needed), as JSON: [{"table", "about_contact",
** "columns": [{"column", "class": "kept", "personal", "secret" or
** "bytes"}]}].  *out_json is freed with tesoro_free.
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_EEXISTS where the text above says so.
*/
TESORO_API int tesoro_privacy_map(char **out_json);

/* ------------------------------------------------------------------------
** Cursors: every list comes back as a cursor, stepped like sqlite3_step.
*/

/* Advance: TESORO_ROW (a row is ready), TESORO_DONE, or an error (EMISUSE
** when the handle was closed).  An error's message is tesoro_errmsg of the
** cursor's handle (none can be read once the handle is closed).
** Returns TESORO_ROW; TESORO_DONE; TESORO_EMISUSE; a database error
** (TESORO_EBUSY, TESORO_ENOMEM, TESORO_EDB). */
TESORO_API int tesoro_cursor_next(tesoro_cursor *c);
/* Number of columns; name of column i (static for the cursor's life).
** Returns the count (0 for a NULL cursor); tesoro_cursor_name NULL for a bad
** column. */
TESORO_API int tesoro_cursor_columns(tesoro_cursor *c);
TESORO_API const char *tesoro_cursor_name(tesoro_cursor *c, int col);
/* Column index by name, or -1.
** Returns the index, or -1 (not an error code). */
TESORO_API int tesoro_cursor_index(tesoro_cursor *c, const char *name);
/* Values of the current row.  Text is valid until the next call on the
** cursor; NULL for SQL NULL or a bad column.  Numbers are 0 for NULL.
** Return the value (see above); never an error code. */
TESORO_API int64_t tesoro_cursor_int(tesoro_cursor *c, int col);
TESORO_API double tesoro_cursor_double(tesoro_cursor *c, int col);
TESORO_API const char *tesoro_cursor_text(tesoro_cursor *c, int col);
TESORO_API int tesoro_cursor_isnull(tesoro_cursor *c, int col);
/* The type of a value of the current row, so that a binding need not guess
** from text: TESORO_TYPE_INTEGER, _FLOAT, _TEXT, _BLOB or _NULL (also for no
** row or a bad column).  The numbers are SQLite's.
** Returns a TESORO_TYPE_* value. */
#define TESORO_TYPE_INTEGER 1
#define TESORO_TYPE_FLOAT   2
#define TESORO_TYPE_TEXT    3
#define TESORO_TYPE_BLOB    4
#define TESORO_TYPE_NULL    5
TESORO_API int tesoro_cursor_type(tesoro_cursor *c, int col);
/* Release the cursor.  NULL ok.  Valid after the handle was closed.
** Returns nothing. */
TESORO_API void tesoro_cursor_free(tesoro_cursor *c);

/* ------------------------------------------------------------------------
** Invariant checker.
*/

/*
** Operator call: PRAGMA integrity_check, PRAGMA foreign_key_check and
** tesoro's own invariants (each entity's state equals the to_state of its
** last history row and its version its last seq; every outbox row and task
** has its cause; no cancelled or rejected viewing keeps a pending timer;
** every pending timer is due when the viewing or referral it is about says,
** so that a withdrawal finds it; ...).  TESORO_OK when all hold; otherwise TESORO_EDB with
** the first violation in tesoro_errmsg.
** Returns TESORO_OK; TESORO_EINVAL; TESORO_ENOTFOUND; TESORO_EDENIED;
** TESORO_ESTATE; TESORO_EGUARD; TESORO_EEXISTS where the text above says so.
*/
TESORO_API int tesoro_check(tesoro *t);

#ifdef __cplusplus
}
#endif
#endif /* TESORO_H */
