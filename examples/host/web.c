/*
** web.c — HTTP for the reference host, on libmicrohttpd.
**
** 1. text buffers and HTML escaping  2. tokens: visitor, CSRF, desk
** sessions, calendar-feed URLs  3. requests: the form, who is asking
** 4. responses: statuses, headers, cookies; tesoro's errors as HTTP
** 5. the daemon  6. reading JSON (SQLite's JSON functions)  7. agency-local
** time and money.
**
** Every request runs on libmicrohttpd's one internal thread (no thread per
** connection), so the request handle is only ever used by that thread.  A
** login's argon2id hash (~0.1 s) holds the others up meanwhile: a host with
** many users runs a pool of threads, each with a handle of its own.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <microhttpd.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

#include "host.h"

/* Limits of what a browser may send. */
#define MAX_BODY (64 * 1024)  /* a form; uploads are not offered */
#define MAX_FIELD (16 * 1024)

/* ------------------------------------------------------------------------
** 1. Text buffers.  Everything a page shows that came from a user or from
** the database goes through buf_esc; buf_put and buf_printf are for the
** page's own markup and for numbers.
*/

static void buf_grow(buf *b, size_t more) {
  size_t cap;
  char *p;
  if (b->oom || b->n + more + 1 <= b->cap) return;
  cap = b->cap ? b->cap : 1024;
  while (cap < b->n + more + 1) cap *= 2;
  if ((p = realloc(b->p, cap)) == NULL) {
    b->oom = 1;
    return;
  }
  b->p = p;
  b->cap = cap;
}

void buf_putn(buf *b, const char *s, size_t n) {
  buf_grow(b, n);
  if (b->oom) return;
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
}

void buf_put(buf *b, const char *s) { buf_putn(b, s, strlen(s)); }

void buf_printf(buf *b, const char *fmt, ...) {
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  buf_grow(b, (size_t)n);
  if (b->oom) return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->n += (size_t)n;
}

void buf_esc(buf *b, const char *s) {
  const char *run = s;
  if (s == NULL) return;
  for (; *s; s++) {
    const char *e = NULL;
    switch (*s) {
    case '&': e = "&amp;"; break;
    case '<': e = "&lt;"; break;
    case '>': e = "&gt;"; break;
    case '"': e = "&quot;"; break;
    case '\'': e = "&#39;"; break;
    default: continue;
    }
    buf_putn(b, run, (size_t)(s - run));
    buf_put(b, e);
    run = s + 1;
  }
  buf_putn(b, run, (size_t)(s - run));
}

void buf_free(buf *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------------------
** 2. Tokens.  Random ones are 32 bytes as unpadded base64url (43
** characters, like tesoro's session tokens); derived ones are an HMAC
** (libsodium's crypto_auth) of what they stand for under the config's key.
*/

#define TOKEN_LEN 43

static void b64url(const unsigned char *bin, size_t n, char *out, size_t len) {
  sodium_bin2base64(out, len, bin, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static void random_token(char out[48]) {
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  b64url(raw, sizeof raw, out, 48);
}

static int token_shaped(const char *s) {
  if (s == NULL || strlen(s) != TOKEN_LEN) return 0;
  for (; *s; s++)
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
          (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
      return 0;
  return 1;
}

static void hmac_token(const host *h, const char *what, char out[48]) {
  unsigned char mac[crypto_auth_BYTES];
  crypto_auth(mac, (const unsigned char *)what, strlen(what), h->cfg.key);
  b64url(mac, sizeof mac, out, 48);
}

static int same_token(const char *a, const char *b) {
  return a && b && strlen(a) == TOKEN_LEN && strlen(b) == TOKEN_LEN &&
         sodium_memcmp(a, b, TOKEN_LEN) == 0;
}

/* The CSRF token of a browser: every form carries it, and a POST without
** it (or with another browser's) is refused before anything else runs.
** It is tied to the visitor cookie, so the login forms have one too. */
static void csrf_token(const host *h, const char *visitor, char out[48]) {
  char what[80];
  snprintf(what, sizeof what, "csrf:%s", visitor);
  hmac_token(h, what, out);
}

/* A client's calendar feed URL carries its own token: calendar apps
** subscribe without cookies, so the URL is the credential. */
void feed_token(const host *h, int64_t client, char out[48]) {
  char what[80];
  snprintf(what, sizeof what, "feed:%" PRId64 ":%" PRId64, h->cfg.agency,
           client);
  hmac_token(h, what, out);
}

int feed_token_ok(const host *h, int64_t client, const char *token) {
  char want[48];
  feed_token(h, client, want);
  return same_token(token, want);
}

/* Desk sessions.  Staff sign-in is the host's own (tesoro has no staff
** passwords): the host keeps these in memory, by the token's hash, on the
** HTTP thread alone.  A restart signs every agent out. */
#define DESK_SESSIONS 64
#define DESK_IDLE_S 1800
#define DESK_MAX_S 43200
typedef struct desk_session {
  unsigned char hash[32];
  int64_t agent, created, used;
} desk_session;
static desk_session desk[DESK_SESSIONS];

static void token_hash(const char *token, unsigned char out[32]) {
  crypto_generichash(out, 32, (const unsigned char *)token, strlen(token),
                     NULL, 0);
}

static desk_session *desk_find(const char *token, int64_t now) {
  unsigned char hash[32];
  if (!token_shaped(token)) return NULL;
  token_hash(token, hash);
  for (int i = 0; i < DESK_SESSIONS; i++) {
    desk_session *s = &desk[i];
    if (s->agent && sodium_memcmp(s->hash, hash, 32) == 0) {
      if (now - s->used > DESK_IDLE_S || now - s->created > DESK_MAX_S) {
        memset(s, 0, sizeof *s);
        return NULL;
      }
      return s;
    }
  }
  return NULL;
}

int desk_login(req *r, int64_t agent) {
  char token[48];
  int64_t now = host_now(r->h);
  desk_session *slot = &desk[0];
  for (int i = 0; i < DESK_SESSIONS; i++) /* a free slot, else the oldest */
    if (desk[i].agent == 0 || desk[i].used < slot->used) {
      slot = &desk[i];
      if (slot->agent == 0) break;
    }
  random_token(token);
  token_hash(token, slot->hash);
  slot->agent = agent;
  slot->created = slot->used = now;
  res_cookie(r, "tesoro_desk", token, -1);
  sodium_memzero(token, sizeof token);
  return 0;
}

void desk_logout(req *r) {
  const char *token =
      MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, "tesoro_desk");
  desk_session *s = desk_find(token, host_now(r->h));
  if (s) memset(s, 0, sizeof *s);
  res_cookie(r, "tesoro_desk", "", 0);
}

/* ------------------------------------------------------------------------
** 3. Requests.
*/

const char *req_field_get(const req *r, const char *key) {
  for (int i = 0; i < r->nfields; i++)
    if (strcmp(r->fields[i].key, key) == 0)
      return r->fields[i].value.p ? r->fields[i].value.p : "";
  return NULL;
}

int req_field_all(const req *r, const char *key, const char **out, int max) {
  int n = 0;
  for (int i = 0; i < r->nfields; i++)
    if (strcmp(r->fields[i].key, key) == 0) {
      if (n < max) out[n] = r->fields[i].value.p ? r->fields[i].value.p : "";
      n++;
    }
  return n;
}

const char *req_query(const req *r, const char *key) {
  return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

int req_field_int(const req *r, const char *key, int64_t *out) {
  const char *v = req_field_get(r, key);
  char *end;
  long long n;
  if (v == NULL || *v == '\0') return -1;
  n = strtoll(v, &end, 10);
  if (*end != '\0') return -1;
  *out = n;
  return 0;
}

/* libmicrohttpd hands a form's values in pieces (`off`). */
static enum MHD_Result on_field(void *cls, enum MHD_ValueKind kind,
                                const char *key, const char *filename,
                                const char *content_type,
                                const char *transfer_encoding,
                                const char *data, uint64_t off, size_t size) {
  req *r = cls;
  req_field *f = NULL;
  (void)kind, (void)filename, (void)content_type, (void)transfer_encoding;
  if (off > 0 && r->nfields > 0 &&
      strcmp(r->fields[r->nfields - 1].key, key) == 0)
    f = &r->fields[r->nfields - 1];
  if (f == NULL) {
    if (r->nfields == REQ_MAX_FIELDS) {
      r->body_too_big = 1;
      return MHD_NO;
    }
    f = &r->fields[r->nfields];
    if ((f->key = malloc(strlen(key) + 1)) == NULL) return MHD_NO;
    strcpy(f->key, key);
    memset(&f->value, 0, sizeof f->value);
    buf_put(&f->value, ""); /* an empty value is "", never NULL */
    r->nfields++;
  }
  if (f->value.n + size > MAX_FIELD) {
    r->body_too_big = 1;
    return MHD_NO;
  }
  buf_putn(&f->value, data, size);
  return f->value.oom ? MHD_NO : MHD_YES;
}

static void req_free(req *r) {
  for (int i = 0; i < r->nfields; i++) {
    free(r->fields[i].key);
    buf_free(&r->fields[i].value);
  }
  if (r->pp) MHD_destroy_post_processor(r->pp);
  buf_free(&r->out);
  tesoro_free(r->bytes);
  free((char *)r->url);
  free(r);
}

/* Who is asking: the visitor cookie (made when missing), the portal
** session's client and the desk session's agent.  0, or -1 when the
** request has already been answered (the database failed). */
static int req_identify(req *r) {
  host *h = r->h;
  const char *v, *session, *desk_token;
  v = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, "tesoro_visitor");
  if (token_shaped(v)) {
    snprintf(r->visitor, sizeof r->visitor, "%s", v);
  } else {
    random_token(r->visitor);
    r->new_visitor = 1;
    res_cookie(r, "tesoro_visitor", r->visitor, -1);
  }
  csrf_token(h, r->visitor, r->csrf);

  session = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND,
                                        "tesoro_session");
  if (session && *session) {
    int rc = tesoro_portal_session_client(h->t, h->cfg.website, session,
                                          &r->client);
    if (rc == TESORO_OK) {
      r->session = session;
      rc = tesoro_portal_step(h->t, r->client, &r->step);
      if (rc == TESORO_ENOTFOUND) { /* a client without an account */
        r->step = TESORO_PORTAL_READY;
        rc = TESORO_OK;
      }
    } else if (rc == TESORO_EDENIED || rc == TESORO_EINVAL) {
      /* ended, expired or never ours: sign the browser out */
      r->client = 0;
      r->session_ended = 1;
      res_cookie(r, "tesoro_session", "", 0);
      rc = TESORO_OK;
    }
    if (rc != TESORO_OK) {
      res_tesoro_error(r, rc);
      return -1;
    }
  }
  desk_token = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND,
                                           "tesoro_desk");
  if (desk_token) {
    desk_session *s = desk_find(desk_token, host_now(h));
    if (s) {
      s->used = host_now(h);
      r->agent = s->agent;
    }
  }
  return 0;
}

/* ------------------------------------------------------------------------
** 4. Responses.
*/

int http_status_of(int rc) {
  switch (rc) {
  case TESORO_EINVAL: return 400;
  case TESORO_EDENIED: return 403;
  case TESORO_ENOTFOUND: return 404;
  case TESORO_ESTATE: case TESORO_EGUARD: case TESORO_ECONFLICT:
  case TESORO_EEXISTS:
    return 409;
  case TESORO_EBUSY: case TESORO_EREADONLY: return 503;
  default: return 500;
  }
}

void res_tesoro_error(req *r, int rc) {
  const char *msg = tesoro_errmsg(r->h->t);
  pages_error(r, http_status_of(rc), tesoro_errname(rc),
              msg && *msg ? msg : tesoro_errstr(rc));
}

void res_host_error(req *r, int status, const char *message) {
  pages_error(r, status, NULL, message);
}

void res_redirect(req *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->location_buf, sizeof r->location_buf, fmt, ap);
  va_end(ap);
  r->location = r->location_buf;
  r->status = 303; /* See Other: after a POST, the browser GETs the page */
}

/* Cookies are HttpOnly (no script reads them) and SameSite=Lax (a POST
** from another site carries none); max_age -1: for the browser's session,
** 0: delete.  Behind TLS a host adds Secure. */
void res_cookie(req *r, const char *name, const char *value, int max_age) {
  char age[32] = "";
  if (r->ncookies == 3) return;
  if (max_age >= 0) snprintf(age, sizeof age, "; Max-Age=%d", max_age);
  snprintf(r->set_cookie[r->ncookies++], sizeof r->set_cookie[0],
           "%s=%s; Path=/; HttpOnly; SameSite=Lax%s", name, value, age);
}

static enum MHD_Result res_send(req *r) {
  struct MHD_Response *res;
  enum MHD_Result ok;
  host *h = r->h;
  if (r->out.oom) {
    buf_free(&r->out);
    r->status = 500;
    buf_put(&r->out, "out of memory\n");
    r->content_type = "text/plain; charset=utf-8";
  }
  if (r->bytes) {
    res = MHD_create_response_from_buffer((size_t)r->nbytes, r->bytes,
                                          MHD_RESPMEM_MUST_COPY);
  } else {
    res = MHD_create_response_from_buffer(r->out.n, r->out.p ? r->out.p : "",
                                          r->out.p ? MHD_RESPMEM_MUST_FREE
                                                   : MHD_RESPMEM_PERSISTENT);
    if (res) memset(&r->out, 0, sizeof r->out); /* libmicrohttpd frees it */
  }
  if (res == NULL) return MHD_NO;
  if (r->location) MHD_add_response_header(res, "Location", r->location);
  MHD_add_response_header(res, "Content-Type",
                          r->content_type ? r->content_type
                                          : "text/html; charset=utf-8");
  if (r->disposition)
    MHD_add_response_header(res, "Content-Disposition", r->disposition);
  MHD_add_response_header(res, "Cache-Control",
                          r->cache_private ? "private, max-age=3600"
                                           : "no-store");
  MHD_add_response_header(res, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(res, "Referrer-Policy", "same-origin");
  /* Only the host's own styles, scripts and images; no frames. */
  MHD_add_response_header(res, "Content-Security-Policy",
                          "default-src 'none'; img-src 'self'; style-src "
                          "'self'; script-src 'self'; form-action 'self'; "
                          "frame-ancestors 'none'; base-uri 'none'");
  for (int i = 0; i < r->ncookies; i++)
    MHD_add_response_header(res, "Set-Cookie", r->set_cookie[i]);
  if (r->status == 0) r->status = 200;
  if (r->status >= 400 && r->status < 500) h->refusals++;
  if (h->verbose)
    fprintf(stderr, "host: %s %s -> %d\n", r->method, r->url, r->status);
  ok = MHD_queue_response(r->conn, (unsigned)r->status, res);
  MHD_destroy_response(res);
  return ok;
}

/* ------------------------------------------------------------------------
** 5. The daemon.
*/

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **state) {
  host *h = cls;
  req *r = *state;
  (void)version;
  if (r == NULL) { /* the headers are in: set the request up */
    if ((r = calloc(1, sizeof *r)) == NULL) return MHD_NO;
    r->h = h;
    r->conn = conn;
    r->method = strcmp(method, "POST") == 0 ? "POST"
                : strcmp(method, "HEAD") == 0 ? "HEAD"
                : strcmp(method, "GET") == 0 ? "GET" : "OTHER";
    if ((r->url = malloc(strlen(url) + 1)) == NULL) {
      free(r);
      return MHD_NO;
    }
    strcpy((char *)r->url, url);
    r->is_post = strcmp(r->method, "POST") == 0;
    if (r->is_post) r->pp = MHD_create_post_processor(conn, 8192, on_field, r);
    *state = r;
    return MHD_YES;
  }
  if (*upload_size) { /* a piece of the body */
    r->body_bytes += *upload_size;
    if (r->body_bytes > MAX_BODY)
      r->body_too_big = 1;
    else if (r->pp && !r->body_too_big &&
             MHD_post_process(r->pp, upload, *upload_size) != MHD_YES)
      r->body_too_big = 1; /* too many fields, or memory ran out */
    *upload_size = 0;
    return MHD_YES;
  }

  /* The whole request is in: answer it.  libmicrohttpd hands over the
  ** form's last value (when it is empty) only as the post processor is
  ** destroyed, so that comes first. */
  if (r->pp) {
    if (MHD_destroy_post_processor(r->pp) != MHD_YES) r->body_too_big = 1;
    r->pp = NULL;
    r->form_read = 1;
  }
  h->requests++;
  tesoro_clock_set(h->t, host_now(h));
  if (strcmp(r->method, "OTHER") == 0) {
    res_host_error(r, 405, "this host answers GET and POST only");
  } else if (req_identify(r) != 0) {
    /* answered: the database could not tell who is asking */
  } else if (r->is_post && r->body_too_big) {
    res_host_error(r, 413, "the form is too large, or malformed");
  } else if (r->is_post && !r->form_read) {
    res_host_error(r, 415, "forms are sent as application/x-www-form-urlencoded");
  } else if (r->is_post && !same_token(req_field_get(r, "csrf"), r->csrf)) {
    res_host_error(r, 403,
                   "the form's CSRF token is missing or is not this "
                   "browser's: reload the page and send the form again");
  } else {
    pages_dispatch(r);
  }
  return res_send(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state,
                         enum MHD_RequestTerminationCode why) {
  (void)cls, (void)conn, (void)why;
  if (*state) req_free(*state);
  *state = NULL;
}

struct MHD_Daemon *web_start(host *h, int port, int *out_port) {
  struct sockaddr_in addr;
  struct MHD_Daemon *d;
  const union MHD_DaemonInfo *info;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only */
  d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
                       (uint16_t)port, NULL, NULL, on_request, h,
                       MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                       MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                       MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
                       MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
                       MHD_OPTION_END);
  if (d == NULL) return NULL;
  info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  *out_port = info ? info->port : port;
  return d;
}

void web_stop(struct MHD_Daemon *d) { MHD_stop_daemon(d); }

/* ------------------------------------------------------------------------
** 6. Reading JSON — what tesoro hands back — with SQLite's JSON functions
** (json_type, json_extract, json_each), on one private in-memory
** connection.  main opens it before the request thread and the delivery
** loop start and closes it after both stopped; they share it one call at a
** time (json_lock).  A call binds the JSON text and the path as parameters
** and copies the result out before the statement is reset.  Paths are the
** host's own constants ("$.title"), never text from a request.
*/

static pthread_mutex_t json_lock = PTHREAD_MUTEX_INITIALIZER;
static sqlite3 *json_db;
static sqlite3_stmt *json_value_stmt; /* the type and SQL value at a path */
static sqlite3_stmt *json_each_stmt;  /* the members or elements at a path */

static const char json_value_sql[] =
    "SELECT json_type(?1, ?2), json_extract(?1, ?2)";
static const char json_each_sql[] =
    "SELECT key, type, CASE WHEN type IN ('true', 'false', 'null') THEN type "
    "ELSE value END FROM json_each(?1, ?2) "
    "WHERE json_type(?1, ?2) IN ('array', 'object')";

int json_open(void) {
  if (sqlite3_open_v2(":memory:", &json_db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) ||
      sqlite3_prepare_v2(json_db, json_value_sql, -1, &json_value_stmt, NULL) ||
      sqlite3_prepare_v2(json_db, json_each_sql, -1, &json_each_stmt, NULL)) {
    fprintf(stderr, "host: SQLite's JSON functions: %s\n",
            json_db ? sqlite3_errmsg(json_db) : "out of memory");
    json_close();
    return -1;
  }
  return 0;
}

void json_close(void) {
  sqlite3_finalize(json_value_stmt);
  sqlite3_finalize(json_each_stmt);
  sqlite3_close(json_db);
  json_value_stmt = json_each_stmt = NULL;
  json_db = NULL;
}

/* json_type's answer as a json_kind (NULL: no such path). */
static json_kind kind_named(const unsigned char *name) {
  static const char *const names[] = {"null", "true", "false", "integer",
                                      "real", "text", "array", "object"};
  for (int i = 0; name && i < 8; i++)
    if (strcmp((const char *)name, names[i]) == 0)
      return (json_kind)(JSON_NULL + i);
  return JSON_ABSENT;
}

/* A column as a malloc'd string, or NULL (SQL NULL, or out of memory). */
static char *column_dup(sqlite3_stmt *s, int col) {
  const unsigned char *text = sqlite3_column_text(s, col);
  size_t n = (size_t)sqlite3_column_bytes(s, col);
  char *out;
  if (text == NULL || (out = malloc(n + 1)) == NULL) return NULL;
  memcpy(out, text, n);
  out[n] = '\0';
  return out;
}

/* Binds (json, path) to `s` under json_lock; json_done resets and unlocks. */
static sqlite3_stmt *json_bind(sqlite3_stmt **stmt, const char *json,
                               const char *path) {
  sqlite3_stmt *s;
  pthread_mutex_lock(&json_lock);
  s = *stmt;
  if (s && (sqlite3_bind_text(s, 1, json, -1, SQLITE_STATIC) ||
            sqlite3_bind_text(s, 2, path, -1, SQLITE_STATIC))) {
    sqlite3_clear_bindings(s);
    s = NULL;
  }
  if (s == NULL) pthread_mutex_unlock(&json_lock);
  return s;
}

static void json_done(sqlite3_stmt *s) {
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  pthread_mutex_unlock(&json_lock);
}

/* The kind of the value at `path`; with `text`, that value as malloc'd text
** (NULL when absent or null); with `num`, as a number. */
static json_kind json_value(const char *json, const char *path, char **text,
                            int64_t *num) {
  json_kind k = JSON_ABSENT;
  sqlite3_stmt *s = json_bind(&json_value_stmt, json, path);
  if (text) *text = NULL;
  if (s == NULL) return JSON_ABSENT;
  if (sqlite3_step(s) == SQLITE_ROW) { /* malformed JSON: an error, absent */
    k = kind_named(sqlite3_column_text(s, 0));
    if (text && k > JSON_NULL) *text = column_dup(s, 1);
    if (num) *num = sqlite3_column_int64(s, 1);
  }
  json_done(s);
  return k;
}

json_kind json_kind_at(const char *json, const char *path) {
  return json_value(json, path, NULL, NULL);
}

int json_has(const char *json, const char *path) {
  return json_value(json, path, NULL, NULL) > JSON_NULL;
}

char *json_text(const char *json, const char *path) {
  char *text;
  json_value(json, path, &text, NULL);
  return text;
}

int64_t json_int(const char *json, const char *path, int64_t dflt) {
  int64_t n = 0;
  json_kind k = json_value(json, path, NULL, &n);
  return k == JSON_INTEGER || k == JSON_REAL ? n : dflt;
}

int json_items(const char *json, const char *path, json_item **out) {
  json_item *v = NULL;
  int n = 0, cap = 0, rc = SQLITE_DONE, ok = 1;
  sqlite3_stmt *s = json_bind(&json_each_stmt, json, path);
  *out = NULL;
  if (s == NULL) return -1;
  while (ok && (rc = sqlite3_step(s)) == SQLITE_ROW) {
    json_item *it;
    if (n == cap) {
      json_item *more = realloc(v, (size_t)(cap ? 2 * cap : 8) * sizeof *v);
      if (more == NULL) break;
      v = more;
      cap = cap ? 2 * cap : 8;
    }
    it = &v[n++];
    it->key = NULL; /* an array's elements have an index, not a key */
    if (sqlite3_column_type(s, 0) == SQLITE_TEXT &&
        (it->key = column_dup(s, 0)) == NULL)
      ok = 0;
    it->kind = kind_named(sqlite3_column_text(s, 1));
    it->value = column_dup(s, 2);
    it->num = sqlite3_column_int64(s, 2);
    if (it->value == NULL) ok = 0;
  }
  if (!ok || rc != SQLITE_DONE) { /* out of memory, or malformed JSON */
    json_items_free(v, n);
    v = NULL;
    n = -1;
  }
  json_done(s);
  *out = v;
  return n;
}

void json_items_free(json_item *items, int n) {
  for (int i = 0; i < n; i++) {
    free(items[i].key);
    free(items[i].value);
  }
  free(items);
}

/* ------------------------------------------------------------------------
** 7. Agency-local time, with ICU (the zone is the agency's: a viewing is at
** the property, so its wall-clock time is the agency's, whatever the
** browser's zone).
*/

static UCalendar *cal_open(const char *zone) {
  UChar z[64];
  UErrorCode st = U_ZERO_ERROR;
  UCalendar *c;
  u_uastrncpy(z, zone, 63);
  z[63] = 0;
  c = ucal_open(z, -1, "en_GB", UCAL_GREGORIAN, &st);
  if (U_FAILURE(st)) {
    if (c) ucal_close(c);
    return NULL;
  }
  return c;
}

/* "YYYY-MM-DDTHH:MM" (what <input type=datetime-local> sends), agency-local,
** to UTC seconds.  A wall time that a DST change skips moves on by the gap
** (ICU's lenient calendar). */
int local_parse(const char *zone, const char *text, int64_t *out) {
  int y, mo, d, hh, mm, ss = 0, n = 0;
  static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  UErrorCode st = U_ZERO_ERROR;
  UCalendar *c;
  UDate ms;
  if (sscanf(text, "%4d-%2d-%2dT%2d:%2d%n", &y, &mo, &d, &hh, &mm, &n) != 5)
    return -1;
  if (text[n] == ':' && sscanf(text + n, ":%2d%n", &ss, &n) == 1) {
  } else if (text[n] != '\0') {
    return -1;
  }
  if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > days[mo - 1] ||
      (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) ||
      hh > 23 || mm > 59 || ss > 59)
    return -1;
  if ((c = cal_open(zone)) == NULL) return -1;
  ucal_clear(c);
  ucal_setDateTime(c, y, mo - 1, d, hh, mm, ss, &st);
  ms = ucal_getMillis(c, &st);
  ucal_close(c);
  if (U_FAILURE(st)) return -1;
  *out = (int64_t)(ms / 1000);
  return 0;
}

typedef struct local_fields { int y, mo, d, hh, mm, wd; } local_fields;

static int local_fields_of(const char *zone, int64_t t, local_fields *f) {
  UErrorCode st = U_ZERO_ERROR;
  UCalendar *c = cal_open(zone);
  if (c == NULL) return -1;
  ucal_setMillis(c, (UDate)t * 1000.0, &st);
  f->y = ucal_get(c, UCAL_YEAR, &st);
  f->mo = ucal_get(c, UCAL_MONTH, &st) + 1;
  f->d = ucal_get(c, UCAL_DATE, &st);
  f->hh = ucal_get(c, UCAL_HOUR_OF_DAY, &st);
  f->mm = ucal_get(c, UCAL_MINUTE, &st);
  f->wd = ucal_get(c, UCAL_DAY_OF_WEEK, &st); /* 1 = Sunday */
  ucal_close(c);
  return U_FAILURE(st) ? -1 : 0;
}

/* "Wed 3 Jun 2026, 10:00" */
void local_format(const char *zone, int64_t t, char *out, size_t len) {
  static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed",
                                   "Thu", "Fri", "Sat"};
  static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  local_fields f;
  if (local_fields_of(zone, t, &f) != 0) {
    snprintf(out, len, "%" PRId64, t);
    return;
  }
  snprintf(out, len, "%s %d %s %d, %02d:%02d", wd[(f.wd + 6) % 7], f.d,
           mon[f.mo - 1], f.y, f.hh, f.mm);
}

/* "2026-06-03T10:00", as <input type=datetime-local> takes it. */
void local_input(const char *zone, int64_t t, char *out, size_t len) {
  local_fields f;
  if (local_fields_of(zone, t, &f) != 0) f = (local_fields){1970, 1, 1, 0, 0, 0};
  snprintf(out, len, "%04d-%02d-%02dT%02d:%02d", f.y, f.mo, f.d, f.hh, f.mm);
}

/* "2026-06-03" */
void local_date(const char *zone, int64_t t, char *out, size_t len) {
  local_fields f;
  if (local_fields_of(zone, t, &f) != 0) f = (local_fields){1970, 1, 1, 0, 0, 0};
  snprintf(out, len, "%04d-%02d-%02d", f.y, f.mo, f.d);
}

/* "EUR 650,000" or "EUR 650,000.50" */
void money_format(int64_t minor, const char *currency, char *out, size_t len) {
  char digits[32], grouped[48];
  int64_t whole = minor / 100, cents = minor % 100;
  int n, g = 0;
  if (minor < 0) whole = -whole, cents = -cents;
  n = snprintf(digits, sizeof digits, "%" PRId64, whole);
  for (int i = 0; i < n; i++) {
    if (i > 0 && (n - i) % 3 == 0) grouped[g++] = ',';
    grouped[g++] = digits[i];
  }
  grouped[g] = '\0';
  if (cents)
    snprintf(out, len, "%s %s%s.%02" PRId64, currency, minor < 0 ? "-" : "",
             grouped, cents);
  else
    snprintf(out, len, "%s %s%s", currency, minor < 0 ? "-" : "", grouped);
}
