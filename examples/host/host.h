/*
** host.h — what the reference host's files share.
**
**   host.c   main: options, the host's config file, the request handle,
**            the delivery loop (outbox → maildir), the tick loop
**            (timers and checkpoints), start and stop
**   web.c    HTTP on libmicrohttpd: requests, forms, cookies, CSRF,
**            sessions, responses, tesoro errors as HTTP statuses; and the
**            small helpers the pages need (HTML escaping, reading JSON
**            with SQLite, local time)
**   pages.c  the client portal and the agent's viewing desk
**   seed.c   --seed-demo: a demo agency, made with the public API only
**
** Threads: libmicrohttpd runs every request on its one internal thread,
** which alone uses the request handle; the delivery and tick loops each
** open a handle of their own (a tesoro handle is used by one thread at a
** time — README, Threading).  The request thread and the delivery loop
** read JSON through one SQLite connection of the host's (web.c), one call
** at a time.
*/
#ifndef HOST_H
#define HOST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "tesoro.h"

/* ------------------------------------------------------------------------
** The host's config file (written by --seed-demo, or by the installer that
** created the agency): what tesoro does not hand back through its API —
** the agency's zone, currency and name, the staff's desk logins and
** e-mail addresses — and the host's secret key.
*/
#define HOST_MAX_STAFF 32
#define HOST_HASH_LEN 128 /* crypto_pwhash_STRBYTES */
#define HOST_KEY_LEN 32   /* crypto_auth_KEYBYTES */

typedef struct host_staff {
  int64_t agent;
  char email[TESORO_MAX_EMAIL + 1];
  char hash[HOST_HASH_LEN]; /* argon2id string of the desk password */
} host_staff;

typedef struct host_config {
  int64_t agency, website;
  char name[TESORO_MAX_NAME + 1];
  char zone[64];
  char currency[4];
  unsigned char key[HOST_KEY_LEN]; /* CSRF tokens and calendar-feed URLs */
  host_staff staff[HOST_MAX_STAFF];
  int nstaff;
} host_config;

int config_read(const char *path, host_config *cfg, char *err, size_t errlen);
int config_write(const char *path, const host_config *cfg);
const host_staff *config_staff_by_email(const host_config *cfg,
                                        const char *email);
const host_staff *config_staff_by_agent(const host_config *cfg, int64_t agent);

/* ------------------------------------------------------------------------
** The running host.
*/
typedef struct host {
  host_config cfg;
  const char *db_path;
  const char *maildir;
  const char *clock_file; /* tests: "now" is the instant in this file */
  int verbose;
  tesoro *t;        /* the request handle (the HTTP thread's alone) */
  int64_t requests; /* served, for the summary line */
  int64_t refusals; /* answered 4xx */
} host;

/* "Now" for every handle: the clock file's instant, else the system's. */
int64_t host_now(const host *h);

/* ------------------------------------------------------------------------
** web.c — the HTTP server.
*/
struct MHD_Daemon;
struct MHD_Daemon *web_start(host *h, int port, int *out_port);
void web_stop(struct MHD_Daemon *d);

/* A growable text buffer; `oom` is set once an allocation failed. */
typedef struct buf {
  char *p;
  size_t n, cap;
  int oom;
} buf;

void buf_put(buf *b, const char *s);             /* markup, as is */
void buf_putn(buf *b, const char *s, size_t n);  /* bytes, as is */
void buf_printf(buf *b, const char *fmt, ...)     /* markup: trusted values */
    __attribute__((format(printf, 2, 3)));
void buf_esc(buf *b, const char *s);             /* text, HTML-escaped */
void buf_free(buf *b);

/* A request as the pages see it. */
#define REQ_MAX_FIELDS 48
#define REQ_MAX_IDS 2
typedef struct req_field {
  char *key;
  buf value;
} req_field;

typedef struct req req;
struct req {
  host *h;
  struct MHD_Connection *conn;
  const char *method, *url;
  int is_post;
  int64_t id[REQ_MAX_IDS]; /* the numbers a route's pattern matched */
  /* the form (POST body, application/x-www-form-urlencoded) */
  req_field fields[REQ_MAX_FIELDS];
  int nfields;
  size_t body_bytes;
  int body_too_big;
  struct MHD_PostProcessor *pp;
  int form_read;     /* the post processor has read the whole body */
  /* who: the browser, the portal client, the desk agent */
  char visitor[48];  /* the visitor cookie (set when it was missing) */
  int new_visitor;
  char csrf[48];     /* the token every form of this page carries */
  const char *session; /* portal session token (cookie), or NULL */
  int64_t client;      /* its client actor, 0 when none */
  int session_ended;   /* a session cookie came, but the session had ended */
  int step;            /* the portal account's onboarding step */
  int64_t agent;       /* the desk's staff actor, 0 when none */
  /* the response */
  int status;
  buf out;
  const char *content_type;
  const char *location;      /* a redirect */
  char location_buf[256];
  const char *disposition;   /* Content-Disposition */
  char disposition_buf[128];
  void *bytes;               /* a binary body (tesoro_free'd) instead of out */
  int64_t nbytes;
  char set_cookie[3][200];
  int ncookies;
  int cache_private;         /* photos: cacheable by this browser alone */
};

/* Form fields: the first value, or NULL; every value of a key. */
const char *req_field_get(const req *r, const char *key);
int req_field_all(const req *r, const char *key, const char **out, int max);
const char *req_query(const req *r, const char *key);
int req_field_int(const req *r, const char *key, int64_t *out);

/* Responses. */
void res_redirect(req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void res_cookie(req *r, const char *name, const char *value, int max_age);
/* A refusal of tesoro: its message, with the status its code maps to. */
void res_tesoro_error(req *r, int rc);
/* A refusal of the host itself (a form that cannot be read, no CSRF). */
void res_host_error(req *r, int status, const char *message);
int http_status_of(int rc);
/* The error page (pages.c): the status, tesoro's code name (NULL for the
** host's own refusals) and the message. */
void pages_error(req *r, int status, const char *name, const char *message);

/* Session helpers for the pages. */
int desk_login(req *r, int64_t agent);
void desk_logout(req *r);
void feed_token(const host *h, int64_t client, char out[48]);
int feed_token_ok(const host *h, int64_t client, const char *token);

/* Reading tesoro's JSON outputs, with SQLite's JSON functions (web.c, 6).
** `path` is a constant of the host's, in SQLite's syntax: "$.title",
** "$.photos", "$" for the whole text.  json_open runs before the threads
** that read JSON start, json_close after they stopped. */
int json_open(void);
void json_close(void);

typedef enum json_kind {
  JSON_ABSENT, /* no such path, or not JSON */
  JSON_NULL, JSON_TRUE, JSON_FALSE, JSON_INTEGER, JSON_REAL, JSON_TEXT,
  JSON_ARRAY, JSON_OBJECT
} json_kind;

json_kind json_kind_at(const char *json, const char *path);
int json_has(const char *json, const char *path);    /* there, and not null */
/* The value as malloc'd text (a string unescaped, a number in decimal, an
** array or object as JSON), or NULL when absent or null. */
char *json_text(const char *json, const char *path);
/* A number (truncated to an integer), or `dflt` when it is not a number. */
int64_t json_int(const char *json, const char *path, int64_t dflt);

/* The elements of the array, or the members of the object, at `path`, in
** order: their count (0 when there is no array or object there, -1 when
** out of memory or not JSON) and *items, freed with json_items_free. */
typedef struct json_item {
  char *key;      /* an object member's key; NULL for an array element */
  json_kind kind;
  char *value;    /* as json_text gives it; "true", "false", "null" as such */
  int64_t num;    /* a number's value (truncated), else 0 */
} json_item;
int json_items(const char *json, const char *path, json_item **items);
void json_items_free(json_item *items, int n);

/* Agency-local time (ICU), in the zone of the host's config. */
int local_parse(const char *zone, const char *text, int64_t *out);
void local_format(const char *zone, int64_t t, char *out, size_t len);
void local_input(const char *zone, int64_t t, char *out, size_t len);
void local_date(const char *zone, int64_t t, char *out, size_t len);

/* Money in minor units as "EUR 650,000". */
void money_format(int64_t minor, const char *currency, char *out, size_t len);

/* ------------------------------------------------------------------------
** pages.c — every route.
*/
int pages_dispatch(req *r);

/* ------------------------------------------------------------------------
** seed.c — the demo world.
*/
int seed_demo(const char *db_path, const char *config_path,
              const char *clock_file, const char *zone);

#endif /* HOST_H */
