/*
** testutil.h — the shared fixture and assertions of tesoro's cmocka suites.
**
** Every suite builds the same small world (tu_setup): two agencies with their
** staff, website actors and contacts, in a fresh file under a fresh mkdtemp
** directory, with the handle's clock pinned at TU_NOW.  Refused calls are
** checked with TU_ASSERT_REFUSED, which proves "the database is unchanged" by
** hashing every row of every table before and after the call (tu_digest).
*/
#ifndef TESORO_TESTUTIL_H
#define TESORO_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "tesoro.h"
#include "outbox_counts.h"

#define TU_NOW 1780000000 /* 2026-05-28T20:26:40Z: the fixture's pinned clock */

typedef struct tu_world {
  tesoro *t;
  char dir[256];  /* a fresh mkdtemp directory */
  char path[512]; /* dir/tesoro.db */
  /* Both agencies have the client portal on; the handle hashes passwords
     at libsodium's minimum cost (opslimit 1, memlimit 8192). */
  /* agency "Tesoro Homes", Europe/Amsterdam, EUR: admin "Alice Admin",
     agent "Andy Agent", agent2 "Anna Agent", closings "Carl Closings" */
  int64_t agency, admin, agent, agent2, closings, website;
  /* "Other Estates", UTC, GBP: admin "Oscar Other", agent "Olga Other" */
  int64_t other_agency, other_admin, other_agent, other_website;
  /* contact "Ada Owner" ada@example.com, assigned to agent, and its client */
  int64_t contact, client;
  /* "Bob Buyer" bob@example.com, same agency, assigned to agent2 */
  int64_t contact2, client2;
  /* "Otto Owner" otto@example.com of other_agency, assigned to other_agent */
  int64_t other_contact, other_client;
} tu_world;

/* cmocka setup: builds the world, stores tu_world* in *state.  0 or -1. */
int tu_setup(void **state);
/* cmocka teardown: closes the handle, removes the directory and its files. */
int tu_teardown(void **state);
/* A test of a suite that runs in that world: each suite's T(). */
#define TU_TEST(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)

/*
** Digest (64 hex chars + NUL) of the whole database file: application_id,
** user_version, sqlite_master, and every row of every table ordered by every
** column, read through a separate read-only sqlite3 connection.
*/
void tu_digest(tu_world *w, char out[65]);
/* Same, for any database file path. */
void tu_digest_path(const char *path, char out[65]);

/* Implementation of the macros below (report at file:line on failure). */
void tu_check_ok_(tu_world *w, int rc, const char *call, const char *file,
                  int line);
void tu_check_err_(tu_world *w, int rc, int code, const char *needle,
                   const char *call, const char *file, int line);
void tu_check_digest_(const char *before, const char *after, const char *call,
                      const char *file, int line);

/* Does `hay` contain `needle`, ignoring ASCII case?  (NULL: no.) */
int tu_contains_ci(const char *hay, const char *needle);
/* Every one of the needles is in `hay`, ignoring ASCII case (the test
   fails at file:line naming the first that is not). */
void tu_has_all_ci_(const char *hay, const char *const *needles,
                    const char *file, int line);
#define TU_HAS_ALL_CI(hay, ...)                                               \
  tu_has_all_ci_((hay), (const char *const[]){__VA_ARGS__, NULL}, __FILE__,  \
                 __LINE__)

/* Assert rc == code and that tesoro_errmsg(w->t) contains `needle`
   (case-insensitively; needle may be NULL). */
#define TU_ASSERT_ERR(w, call, code, needle)                                  \
  do {                                                                        \
    int tu_rc_ = (call);                                                      \
    tu_check_err_((w), tu_rc_, (code), (needle), #call, __FILE__, __LINE__);  \
  } while (0)

/* The call fails with `code` (errmsg contains needle) and the database digest
   is identical before and after it. */
#define TU_ASSERT_REFUSED(w, call, code, needle)                              \
  do {                                                                        \
    char tu_before_[65], tu_after_[65];                                       \
    int tu_rc_;                                                               \
    tu_digest((w), tu_before_);                                               \
    tu_rc_ = (call);                                                          \
    tu_check_err_((w), tu_rc_, (code), (needle), #call, __FILE__, __LINE__);  \
    tu_digest((w), tu_after_);                                                \
    tu_check_digest_(tu_before_, tu_after_, #call, __FILE__, __LINE__);       \
  } while (0)

/* The call returns TESORO_OK (else print tesoro_errmsg and fail). */
#define TU_OK(w, call)                                                        \
  tu_check_ok_((w), (call), #call, __FILE__, __LINE__)

/* Sample documents with correct magic bytes. */
extern const unsigned char tu_pdf[];
extern const size_t tu_pdf_size; /* "%PDF-1.4 ..." */
extern const unsigned char tu_jpeg[];
extern const size_t tu_jpeg_size; /* FF D8 FF E0 ... */
extern const unsigned char tu_png[];
extern const size_t tu_png_size; /* 89 50 4E 47 0D 0A 1A 0A ... */
extern const unsigned char tu_webp[];
extern const size_t tu_webp_size; /* "RIFF" size "WEBP" ... */

/* Count the rows of a cursor and free it (-1 if next returned an error;
   asserts c is not NULL). */
int tu_count(tesoro_cursor *c);

#define tu_outbox_counts outbox_counts /* see outbox_counts.h */

/* One value (first column of the first row; 0 when no row) of a query run
   against w->path through a separate sqlite3 connection.  Fails the test if
   the SQL is wrong. */
int64_t tu_sql_int(tu_world *w, const char *sql);
/* Same, returning a malloc'd copy of a text value (NULL for SQL NULL / no
   row); the caller frees it with free(). */
char *tu_sql_text(tu_world *w, const char *sql);
/* Execute SQL (e.g. a deliberate corruption) through a separate read-write
   sqlite3 connection; returns the sqlite3 result code (SQLITE_OK is 0).  The
   message of a failure is copied to errbuf when errbuf is not NULL. */
int tu_sql_exec(tu_world *w, const char *sql, char *errbuf, size_t errlen);
/* tu_sql_int / tu_sql_text with printf-style SQL (test-built, never
   caller data), formatted by tu_fmt. */
#define tu_sqlf(w, ...) tu_sql_int((w), tu_fmt(__VA_ARGS__))
#define tu_sqlf_text(w, ...) tu_sql_text((w), tu_fmt(__VA_ARGS__))
/* The same three on any database file path (created if absent by exec). */
int64_t tu_sql_int_path(const char *path, const char *sql);
char *tu_sql_text_path(const char *path, const char *sql);
int tu_sql_exec_path(const char *path, const char *sql, char *errbuf,
                     size_t errlen);

/* A string of n bytes of 'x' (free with free()). */
char *tu_long_string(size_t n);
#define TU_BAD_UTF8 "bad\xC3\x28utf8"

/* Read a whole file into a malloc'd buffer (NUL-terminated too); NULL if it
   cannot be read.  *size may be NULL. */
unsigned char *tu_read_file(const char *path, size_t *size);

/* Column lookups on the current row of a cursor, by column name (the test
   fails if the column does not exist). */
int tu_col_index(tesoro_cursor *c, const char *name);
/* The cursor has each of the named columns. */
void tu_has_columns_(tesoro_cursor *c, const char *const *names);
#define TU_HAS_COLUMNS(c, ...)                                                \
  tu_has_columns_((c), (const char *const[]){__VA_ARGS__, NULL})
int64_t tu_col_int(tesoro_cursor *c, const char *name);
const char *tu_col_text(tesoro_cursor *c, const char *name);

/* The row of `event` in tesoro_allowed_events(actor, entity, id): its
   "allowed" flag (and its "code" in *code when code is not NULL); -1 when
   the event is not listed.  The row has a "reason" exactly when it is not
   allowed (the test fails otherwise). */
int tu_allowed_of(tu_world *w, int64_t actor, int entity, int64_t id,
                  const char *event, int *code);

/*
** Published listings for the viewing suites.  tesoro_listing_in walks seller
** onboarding for a fresh owner (a contact request from `website` with a new
** e-mail on every call, handled by `staff`): start onboarding, propose,
** accept, share the form, attach a signed mandate PDF, submit, complete the
** review task, validate; then sets title, address and price and, when
** `publish` is non-zero, publishes.  Returns the listing id (the test fails
** if any step fails).
*/
int64_t tu_listing_in(tu_world *w, int64_t website, int64_t staff,
                      const char *title, const char *address, int64_t price,
                      int publish);
/* A published listing of w->agency (website w->website, staff w->agent). */
int64_t tu_published_listing(tu_world *w, const char *title,
                             const char *address, int64_t price);
/* A published listing of w->other_agency (staff w->other_agent). */
int64_t tu_published_listing_other(tu_world *w, const char *title,
                                   const char *address, int64_t price);
/* Attach tu_jpeg to a listing as a photo (by `staff`); the document id. */
int64_t tu_listing_photo(tu_world *w, int64_t staff, int64_t listing);

/*
** Helpers the suites share (each was once a static copy in several suites).
*/

/* printf into one of 8 static rotating buffers of 8 KiB (JSON and SQL built
   by the test, never caller data): up to 8 results may be alive at once. */
char *tu_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A malloc'd copy of s (NULL stays NULL); the test fails when out of
   memory. */
char *tu_strdup(const char *s);

/* A statement on a private in-memory SQLite (never the code under test):
   `sql` prepared (else the test fails, with SQLite's message), ?1 = a and
   ?2 = b bound as text where not NULL.  tu_mem_done finalizes it and closes
   its connection; tu_mem_text steps it to its first row (asserted), returns
   the first column as a malloc'd copy (NULL for SQL NULL) and is done. */
sqlite3_stmt *tu_mem_stmt(const char *sql, const char *a, const char *b);
void tu_mem_done(sqlite3_stmt *st);
char *tu_mem_text(sqlite3_stmt *st);

/* json_extract(json, path) as text, through a private in-memory SQLite
   (never through the code under test).  malloc'd (free()); NULL for JSON
   null / absent; fails the test when `json` is NULL or not JSON. */
char *tu_jget(const char *json, const char *path);
/* tu_jget(json, path) is `want` (the test fails otherwise). */
void tu_assert_json_eq(const char *json, const char *path, const char *want);

/* got equals want, NULL-aware (NULL: SQL NULL); reports file:line.
   tu_text_is_ frees got (a malloc'd value), tu_str_is_ does not. */
void tu_text_is_(char *got, const char *want, const char *file, int line);
void tu_str_is_(const char *got, const char *want, const char *file, int line);
#define TU_TEXT_IS(got, want) tu_text_is_((got), (want), __FILE__, __LINE__)
#define TU_STR_IS(got, want) tu_str_is_((got), (want), __FILE__, __LINE__)

/* Does the n-byte buffer contain the text (non-empty)?  (memmem is not in
   C11/POSIX.) */
int tu_has_bytes(const unsigned char *hay, size_t n, const char *needle);

/* The "id" of every row of a cursor, in order, into ids (more than max rows
   fail the test); asserts the cursor ends TESORO_DONE and frees it.  Returns
   the count. */
int tu_cursor_ids(tesoro_cursor *c, int64_t *ids, int max);
/* Is `id` one of the n ids? */
int tu_has_id(const int64_t *ids, int n, int64_t id);
/* got[0..n) is exactly want[0..m), in this order. */
void tu_assert_ids(const int64_t *got, int n, const int64_t *want, int m);

/* The version of an entity: tesoro_entity_state as w->admin (asserted OK and
   > 0); for TESORO_ENTITY_CONTACT, which has no machine, the contact row's
   version column read from the file. */
int64_t tu_version_of(tu_world *w, int entity, int64_t id);
/* The entity's state (tesoro_entity_state as w->admin) is `want`. */
void tu_assert_state(tu_world *w, int entity, int64_t id, const char *want);

/* Who may not change w->agency's settings, and what the refusal names:
   the agent and closings ("admin"), the client and the website (NULL). */
typedef struct tu_not_admin {
  int64_t actor;
  const char *needle;
} tu_not_admin;
#define TU_NOT_ADMINS 4
void tu_not_admins(const tu_world *w, tu_not_admin out[TU_NOT_ADMINS]);
/* `call`, made with the int64_t `who` (a name the call uses), is refused
   (TU_ASSERT_REFUSED, TESORO_EDENIED) for each of tu_not_admins. */
#define TU_ADMIN_ONLY(w, who, call)                                           \
  do {                                                                        \
    tu_not_admin tu_na_[TU_NOT_ADMINS];                                       \
    tu_not_admins((w), tu_na_);                                               \
    for (int tu_i_ = 0; tu_i_ < TU_NOT_ADMINS; tu_i_++) {                     \
      int64_t who = tu_na_[tu_i_].actor;                                      \
      TU_ASSERT_REFUSED((w), (call), TESORO_EDENIED, tu_na_[tu_i_].needle);   \
    }                                                                         \
  } while (0)

/* One column (a literal) of the row `id` of a table (a literal), read from
   the file: tu_sql_int's or tu_sql_text's value. */
#define tu_row_int(w, table, id, column)                                      \
  tu_sqlf((w), "SELECT " column " FROM " table " WHERE id = %lld",           \
          (long long)(id))
#define tu_row_text(w, table, id, column)                                     \
  tu_sqlf_text((w), "SELECT " column " FROM " table " WHERE id = %lld",      \
               (long long)(id))

/* The last row of an entity's history (tesoro_history as w->admin); the test
   fails when the entity has no history.  Texts are malloc'd copies (NULL for
   SQL NULL): free them with tu_history_free. */
typedef struct tu_history {
  char *event, *from_state, *to_state, *details;
  int64_t actor, at, seq;
  int rows; /* rows in the whole history */
} tu_history;
void tu_last_history(tu_world *w, int entity, int64_t id, tu_history *h);
void tu_history_free(tu_history *h);

/* Website events.  tu_ingest_: tesoro_exchange_ingest by `website` returns
   OK and a result (free with tesoro_free), else the test fails at
   file:line.  tu_ingest_status_: the same, and the result's status is
   `status` (the result is freed). */
char *tu_ingest_(tu_world *w, int64_t website, const char *json,
                 const char *file, int line);
void tu_ingest_status_(tu_world *w, int64_t website, const char *json,
                       const char *status, const char *file, int line);
#define TU_INGEST(w, json)                                                    \
  tu_ingest_((w), (w)->website, (json), __FILE__, __LINE__)
#define TU_APPLIED(w, json)                                                   \
  tu_ingest_status_((w), (w)->website, (json), "applied", __FILE__, __LINE__)
#define TU_SUPERSEDED(w, json)                                                \
  tu_ingest_status_((w), (w)->website, (json), "superseded", __FILE__,       \
                    __LINE__)

#endif /* TESORO_TESTUTIL_H */
