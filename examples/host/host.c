/*
** host.c — the reference host: tesoro embedded in a small web application.
**
**   build/host --db FILE [--port N] [--config FILE] [--maildir DIR]
**              [--tick-ms N] [--deliver-ms N] [--clock-file FILE] [--verbose]
**   build/host --db FILE --seed-demo [--zone ZONE] [--clock-file FILE]
**
** It serves the client portal and the agent's viewing desk on 127.0.0.1
** (pages.c, over web.c), and runs beside them the two loops every tesoro
** host needs: a delivery loop that turns the outbox into e-mails — files in
** a maildir, acknowledged once written — and a tick loop that fires the
** timers and checkpoints the write-ahead log off the request path.
** SIGINT or SIGTERM stops it: requests first, then the loops, then the
** handles; its last line is a summary.
**
** This file: 1. options and the config file  2. the clock  3. the delivery
** loop  4. the tick loop  5. main.
*/
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "host.h"

/* ------------------------------------------------------------------------
** 1. The config file: `key value` lines, `#` comments.  It holds a secret
** (the key) and password hashes, so it is written 0600, under a temporary
** name renamed into place.
*/

static void hex_encode(const unsigned char *in, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

static int hex_decode(const char *in, unsigned char *out, size_t n) {
  size_t len;
  return sodium_hex2bin(out, n, in, strlen(in), NULL, &len, NULL) == 0 &&
                 len == n
             ? 0
             : -1;
}

int config_read(const char *path, host_config *cfg, char *err, size_t errlen) {
  char line[1024];
  int lineno = 0, have_key = 0;
  FILE *f = fopen(path, "r");
  memset(cfg, 0, sizeof *cfg);
  snprintf(cfg->zone, sizeof cfg->zone, "UTC");
  snprintf(cfg->currency, sizeof cfg->currency, "EUR");
  snprintf(cfg->name, sizeof cfg->name, "tesoro");
  if (f == NULL) {
    snprintf(err, errlen, "%s: %s (run --seed-demo, or write one)", path,
             strerror(errno));
    return -1;
  }
  while (fgets(line, sizeof line, f)) {
    char *key = line, *val;
    lineno++;
    line[strcspn(line, "\r\n")] = '\0';
    while (*key == ' ' || *key == '\t') key++;
    if (*key == '#' || *key == '\0') continue;
    val = key + strcspn(key, " \t");
    if (*val) *val++ = '\0';
    while (*val == ' ' || *val == '\t') val++;
    if (strcmp(key, "agency") == 0) {
      cfg->agency = strtoll(val, NULL, 10);
    } else if (strcmp(key, "website") == 0) {
      cfg->website = strtoll(val, NULL, 10);
    } else if (strcmp(key, "name") == 0) {
      snprintf(cfg->name, sizeof cfg->name, "%s", val);
    } else if (strcmp(key, "zone") == 0) {
      snprintf(cfg->zone, sizeof cfg->zone, "%s", val);
    } else if (strcmp(key, "currency") == 0) {
      snprintf(cfg->currency, sizeof cfg->currency, "%s", val);
    } else if (strcmp(key, "key") == 0) {
      have_key = hex_decode(val, cfg->key, sizeof cfg->key) == 0;
    } else if (strcmp(key, "staff") == 0 && cfg->nstaff < HOST_MAX_STAFF) {
      host_staff *s = &cfg->staff[cfg->nstaff];
      char email[TESORO_MAX_EMAIL + 1], hash[HOST_HASH_LEN];
      long long agent;
      if (sscanf(val, "%lld %254s %127s", &agent, email, hash) != 3) {
        snprintf(err, errlen, "%s:%d: staff ID EMAIL HASH", path, lineno);
        fclose(f);
        return -1;
      }
      s->agent = agent;
      snprintf(s->email, sizeof s->email, "%s", email);
      snprintf(s->hash, sizeof s->hash, "%s", hash);
      cfg->nstaff++;
    } else {
      snprintf(err, errlen, "%s:%d: unknown setting '%s'", path, lineno, key);
      fclose(f);
      return -1;
    }
  }
  fclose(f);
  if (cfg->agency <= 0 || cfg->website <= 0 || !have_key) {
    snprintf(err, errlen, "%s: agency, website and key are required", path);
    return -1;
  }
  return 0;
}

int config_write(const char *path, const host_config *cfg) {
  char tmp[4096], key[2 * HOST_KEY_LEN + 1];
  FILE *f;
  int fd, ok;
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
    if (fd >= 0) close(fd);
    return -1;
  }
  hex_encode(cfg->key, sizeof cfg->key, key);
  fprintf(f,
          "# tesoro reference host: what tesoro's API does not hand back (the\n"
          "# agency's zone, currency and name; staff e-mail addresses and desk\n"
          "# logins), and the host's key for CSRF tokens and feed URLs.\n"
          "agency %" PRId64 "\nwebsite %" PRId64 "\nname %s\nzone %s\n"
          "currency %s\nkey %s\n",
          cfg->agency, cfg->website, cfg->name, cfg->zone, cfg->currency, key);
  for (int i = 0; i < cfg->nstaff; i++)
    fprintf(f, "staff %" PRId64 " %s %s\n", cfg->staff[i].agent,
            cfg->staff[i].email, cfg->staff[i].hash);
  sodium_memzero(key, sizeof key);
  ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) {
    unlink(tmp);
    return -1;
  }
  return 0;
}

const host_staff *config_staff_by_email(const host_config *cfg,
                                        const char *email) {
  for (int i = 0; i < cfg->nstaff; i++)
    if (strcasecmp(cfg->staff[i].email, email) == 0) return &cfg->staff[i];
  return NULL;
}

const host_staff *config_staff_by_agent(const host_config *cfg, int64_t agent) {
  for (int i = 0; i < cfg->nstaff; i++)
    if (cfg->staff[i].agent == agent) return &cfg->staff[i];
  return NULL;
}

/* ------------------------------------------------------------------------
** 2. The clock.  Every handle is pinned to host_now() before it works, so
** that a test can move time for the whole host by writing one file (the
** browser test passes a viewing that way, and the tick loop completes it).
** Without --clock-file it is the system clock.
*/

int64_t host_now(const host *h) {
  char text[32] = "";
  FILE *f;
  if (h->clock_file && (f = fopen(h->clock_file, "r")) != NULL) {
    int64_t now = fgets(text, sizeof text, f) ? strtoll(text, NULL, 10) : 0;
    fclose(f);
    if (now > 0) return now;
  }
  return (int64_t)time(NULL);
}

/* Both loops wait on this, so that a stop ends a wait at once. */
static pthread_mutex_t stop_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cond = PTHREAD_COND_INITIALIZER;
static int stopping;

/* Wait `ms` milliseconds; 1 when the host is stopping. */
static int loop_wait(int ms) {
  struct timespec until;
  int stop;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&stop_lock);
  while (!stopping &&
         pthread_cond_timedwait(&stop_cond, &stop_lock, &until) == 0) {
  }
  stop = stopping;
  pthread_mutex_unlock(&stop_lock);
  return stop;
}

typedef struct loop {
  host *h;
  int ms;
  tesoro *t;           /* the loop's own handle */
  int64_t done, other; /* delivery: mails written, other deliveries acked */
  int64_t failed;      /* deliveries failed (retried by tesoro) */
  int64_t fired;       /* tick: timers fired */
  int64_t checkpoints;
} loop;

static int loop_open(loop *l, const char *what) {
  int rc = tesoro_open(l->h->db_path, &l->t);
  if (rc == TESORO_OK)
    rc = tesoro_config(l->t, TESORO_CONFIG_CHECKPOINT_PAGES, 100000);
  if (rc != TESORO_OK)
    fprintf(stderr, "host: %s: %s: %s\n", what, tesoro_errname(rc),
            tesoro_errmsg(l->t));
  return rc;
}

/* ------------------------------------------------------------------------
** 3. The delivery loop: outbox rows to a maildir.
**
** Each e-mail delivery becomes one file, written to tmp/ and renamed into
** new/ (the maildir protocol: a reader never sees half a mail), then
** acknowledged.  Delivery is at least once: a host stopped between the
** rename and the ack writes the same file again, under the same name —
** <created_at>.<delivery id> — so the maildir holds each delivery once, in
** the outbox's order.  The reference host has no CRM inbox, push service or
** calendar integration: those deliveries are acknowledged unsent (a real
** host hands them on here).
*/

typedef struct delivery {
  int64_t id, recipient, created_at;
  char *uid, *channel, *template_name, *language, *payload;
} delivery;

static char *dup_text(const char *s) {
  size_t n = s ? strlen(s) : 0;
  char *p = malloc(n + 1);
  if (p) memcpy(p, s ? s : "", n + 1);
  return p;
}

static void delivery_free(delivery *d) {
  free(d->uid);
  free(d->channel);
  free(d->template_name);
  free(d->language);
  free(d->payload);
}

/* A header value: printable ASCII as is (control characters dropped, so
** no text can add a header), anything else as RFC 2047 encoded words. */
static void header_text(buf *b, const char *s) {
  int ascii = 1;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p >= 0x80) ascii = 0;
  if (ascii) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
      if (*p >= 0x20 && *p != 0x7f) buf_putn(b, (const char *)p, 1);
    return;
  }
  while (*s) {
    /* at most 45 bytes per word, never splitting a UTF-8 character */
    char enc[64];
    size_t n = strlen(s) > 45 ? 45 : strlen(s);
    while (n < strlen(s) && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    sodium_bin2base64(enc, sizeof enc, (const unsigned char *)s, n,
                      sodium_base64_VARIANT_ORIGINAL);
    buf_printf(b, "=?UTF-8?B?%s?=", enc);
    s += n;
    if (*s) buf_put(b, "\n ");
  }
}

/* The recipient's name and address.  tesoro names recipients by actor:
** a client's contact is readable by that client; staff addresses come from
** the host's config (no API call returns an agent's e-mail). */
static int mail_recipient(host *h, tesoro *t, int64_t actor, char **name,
                          char **email) {
  int kind = 0;
  int64_t agency = 0, contact = 0;
  *name = *email = NULL;
  if (tesoro_actor_info(t, actor, &kind, &agency, &contact) != TESORO_OK)
    return -1;
  if (kind == TESORO_ACTOR_CLIENT) {
    char *json = NULL;
    if (tesoro_entity_json(t, actor, TESORO_ENTITY_CONTACT, contact, &json) !=
        TESORO_OK)
      return -1;
    *name = json_text(json, "$.name");
    *email = json_text(json, "$.email");
    tesoro_free(json);
  } else if (kind == TESORO_ACTOR_AGENT) {
    const host_staff *s = config_staff_by_agent(&h->cfg, actor);
    if (s) *email = dup_text(s->email);
  }
  if (*email == NULL || **email == '\0') {
    free(*name);
    free(*email);
    *name = *email = NULL;
    return -1;
  }
  return 0;
}

/* The body: the summary, then the payload's facts, one per line. */
static void mail_body(host *h, buf *b, const delivery *d) {
  char *summary = json_text(d->payload, "$.summary");
  char *entity = json_text(d->payload, "$.entity");
  char *event = json_text(d->payload, "$.event");
  json_item *m = NULL;
  int n = json_items(d->payload, "$", &m);
  buf_printf(b, "%s\n\n", summary ? summary : d->template_name);
  for (int i = 0; i < n; i++) {
    const char *key = m[i].key;
    size_t kn = key ? strlen(key) : 0;
    /* the summary leads, the entity and event are in the footer; a
    ** "secret" (a reset secret, a verification code) is what such an
    ** e-mail is for, and tesoro drops it from the row on the ack */
    if (key == NULL || strcmp(key, "summary") == 0 ||
        strcmp(key, "entity") == 0 || strcmp(key, "entity_id") == 0 ||
        strcmp(key, "event") == 0)
      continue;
    buf_printf(b, "%s: ", key);
    if (m[i].kind == JSON_ARRAY && strcmp(key, "preferred") == 0) {
      /* the requested date-times, in the agency's zone */
      json_item *e = NULL;
      int ne = json_items(m[i].value, "$", &e);
      for (int j = 0; j < ne; j++) {
        char when[64];
        local_format(h->cfg.zone, e[j].num, when, sizeof when);
        buf_printf(b, "%s%s", j ? "; " : "", when);
      }
      json_items_free(e, ne);
    } else if (kn > 3 && strcmp(key + kn - 3, "_at") == 0 &&
               (m[i].kind == JSON_INTEGER || m[i].kind == JSON_REAL) &&
               m[i].num >= 0) {
      char when[64];
      local_format(h->cfg.zone, m[i].num, when, sizeof when);
      buf_put(b, when);
    } else {
      buf_put(b, m[i].value);
    }
    buf_put(b, "\n");
  }
  buf_printf(b, "\n-- \n%s, delivery %s (%s of %s %" PRId64 ")\n", h->cfg.name,
             d->uid, event ? event : "-", entity ? entity : "-",
             json_int(d->payload, "$.entity_id", 0));
  json_items_free(m, n);
  free(summary);
  free(entity);
  free(event);
}

/* Write one e-mail into the maildir: 0, or -1 with the reason in `why`. */
static int mail_write(host *h, tesoro *t, const delivery *d, char *why,
                      size_t whylen) {
  char *name = NULL, *email = NULL, date[64], file[64], tmp[4096], dst[4096];
  time_t created = (time_t)d->created_at;
  struct tm tm;
  buf b = {0};
  FILE *f;
  int fd, ok;
  if (mail_recipient(h, t, d->recipient, &name, &email) != 0) {
    snprintf(why, whylen, "no e-mail address for actor %" PRId64, d->recipient);
    return -1;
  }
  gmtime_r(&created, &tm);
  strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  buf_put(&b, "From: ");
  header_text(&b, h->cfg.name);
  buf_put(&b, " <noreply@tesoro-host.invalid>\nTo: ");
  if (name && *name) {
    header_text(&b, name);
    buf_put(&b, " ");
  }
  buf_put(&b, "<");
  header_text(&b, email);
  buf_printf(&b, ">\nDate: %s\nSubject: ", date);
  header_text(&b, d->template_name);
  buf_printf(&b,
             "\nMessage-ID: <%s.%" PRId64 "@tesoro-host.invalid>\n"
             "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
             "Content-Transfer-Encoding: 8bit\nContent-Language: ",
             d->uid, h->cfg.agency);
  header_text(&b, d->language);
  buf_put(&b, "\nX-Tesoro-Template: ");
  header_text(&b, d->template_name);
  buf_printf(&b, "\nX-Tesoro-Delivery: %s\n\n", d->uid);
  mail_body(h, &b, d);
  free(name);
  free(email);
  if (b.oom) {
    buf_free(&b);
    snprintf(why, whylen, "out of memory");
    return -1;
  }
  snprintf(file, sizeof file, "%010" PRId64 ".%012" PRId64 ".tesoro",
           d->created_at, d->id);
  snprintf(tmp, sizeof tmp, "%s/tmp/%s", h->maildir, file);
  snprintf(dst, sizeof dst, "%s/new/%s", h->maildir, file);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
    if (fd >= 0) close(fd);
    buf_free(&b);
    snprintf(why, whylen, "cannot write tmp/%s: %s", file, strerror(errno));
    return -1;
  }
  ok = fwrite(b.p, 1, b.n, f) == b.n && fflush(f) == 0 && fsync(fd) == 0;
  ok = fclose(f) == 0 && ok;
  buf_free(&b);
  if (!ok || rename(tmp, dst) != 0) {
    snprintf(why, whylen, "cannot deliver new/%s: %s", file, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}

/* One batch: copy the due rows out of the cursor first, so that no read
** snapshot is open while the acks write. */
#define DELIVERY_BATCH 64
static int deliver_batch(loop *l) {
  host *h = l->h;
  delivery d[DELIVERY_BATCH];
  tesoro_cursor *c = NULL;
  int n = 0, rc;
  memset(d, 0, sizeof d);
  rc = tesoro_outbox_fetch(l->t, h->cfg.agency, DELIVERY_BATCH, &c);
  while (rc == TESORO_OK && (rc = tesoro_cursor_next(c)) == TESORO_ROW &&
         n < DELIVERY_BATCH) {
    delivery *x = &d[n++];
    x->id = tesoro_cursor_int(c, tesoro_cursor_index(c, "id"));
    x->recipient = tesoro_cursor_int(c, tesoro_cursor_index(c, "recipient_id"));
    x->created_at = tesoro_cursor_int(c, tesoro_cursor_index(c, "created_at"));
    x->uid = dup_text(tesoro_cursor_text(c, tesoro_cursor_index(c, "uid")));
    x->channel = dup_text(tesoro_cursor_text(c, tesoro_cursor_index(c, "channel")));
    x->template_name =
        dup_text(tesoro_cursor_text(c, tesoro_cursor_index(c, "template")));
    x->language = dup_text(tesoro_cursor_text(c, tesoro_cursor_index(c, "language")));
    x->payload = dup_text(tesoro_cursor_text(c, tesoro_cursor_index(c, "payload")));
    rc = TESORO_OK;
  }
  tesoro_cursor_free(c);
  if (rc < 0)
    fprintf(stderr, "host: outbox: %s: %s\n", tesoro_errname(rc),
            tesoro_errmsg(l->t));
  for (int i = 0; i < n; i++) {
    char why[512] = "";
    int ok;
    if (!d[i].uid || !d[i].channel || !d[i].template_name || !d[i].language ||
        !d[i].payload) {
      delivery_free(&d[i]);
      continue; /* out of memory: the row stays pending for the next round */
    }
    if (strcmp(d[i].channel, "email") == 0) {
      ok = mail_write(h, l->t, &d[i], why, sizeof why) == 0;
      rc = ok ? tesoro_outbox_ack(l->t, d[i].id)
              : tesoro_outbox_fail(l->t, d[i].id, why);
      if (ok && rc == TESORO_OK) l->done++;
      if (!ok) {
        l->failed++;
        fprintf(stderr, "host: delivery %s failed: %s\n", d[i].uid, why);
      }
    } else {
      rc = tesoro_outbox_ack(l->t, d[i].id);
      if (rc == TESORO_OK) l->other++;
    }
    if (rc < 0)
      fprintf(stderr, "host: delivery %s: %s: %s\n", d[i].uid,
              tesoro_errname(rc), tesoro_errmsg(l->t));
    else if (h->verbose)
      fprintf(stderr, "host: delivered %s %s \"%s\"\n", d[i].uid, d[i].channel,
              d[i].template_name);
    delivery_free(&d[i]);
  }
  return n;
}

static void *delivery_loop(void *arg) {
  loop *l = arg;
  do {
    tesoro_clock_set(l->t, host_now(l->h));
    while (deliver_batch(l) == DELIVERY_BATCH) {
    }
  } while (!loop_wait(l->ms));
  return NULL;
}

/* ------------------------------------------------------------------------
** 4. The tick loop: timers, then a passive checkpoint.  The request
** handle's checkpoint threshold is raised (TESORO_CONFIG_CHECKPOINT_PAGES),
** so no request pays for copying the log into the file: this loop does it
** (tesoro.h, tesoro_checkpoint).
*/

static void *tick_loop(void *arg) {
  loop *l = arg;
  do {
    int64_t now = host_now(l->h);
    int fired = 0, rc, wal = 0, copied = 0;
    tesoro_clock_set(l->t, now);
    do { /* a full batch (TESORO_CONFIG_TICK_BATCH, left at its default
          ** of 500 here) means more may be due */
      rc = tesoro_tick(l->t, now, &fired);
      if (rc == TESORO_OK) l->fired += fired;
    } while (rc == TESORO_OK && fired == 500);
    if (rc < 0)
      fprintf(stderr, "host: tick: %s: %s\n", tesoro_errname(rc),
              tesoro_errmsg(l->t));
    else if (fired && l->h->verbose)
      fprintf(stderr, "host: tick at %" PRId64 ": %d timer(s) fired\n", now,
              fired);
    rc = tesoro_checkpoint(l->t, &wal, &copied);
    if (rc == TESORO_OK)
      l->checkpoints++;
    else if (rc != TESORO_EBUSY)
      fprintf(stderr, "host: checkpoint: %s: %s\n", tesoro_errname(rc),
              tesoro_errmsg(l->t));
  } while (!loop_wait(l->ms));
  return NULL;
}

/* ------------------------------------------------------------------------
** 5. main.
*/

static const char usage[] =
    "usage: host --db FILE [--port N] [--config FILE] [--maildir DIR]\n"
    "            [--tick-ms N] [--deliver-ms N] [--clock-file FILE] [--verbose]\n"
    "       host --db FILE --seed-demo [--zone ZONE] [--config FILE]\n"
    "            [--clock-file FILE] [--port N ...]\n"
    "\n"
    "Serves tesoro's client portal and the agent's viewing desk on\n"
    "http://127.0.0.1:N/ (--port 0: a free port, printed), delivers the\n"
    "outbox's e-mails into the maildir (default FILE.maildir) and fires the\n"
    "timers.  The config file (default FILE.host) holds the agency, its\n"
    "website actor, zone, currency, the staff's desk logins and the host's\n"
    "key; --seed-demo creates a demo agency in FILE and writes it (then\n"
    "serves too when --port is given).  --clock-file: tests only, \"now\" is\n"
    "the instant (UTC seconds) in that file.\n";

static int mkdirs(const char *dir) {
  char path[4096];
  static const char *const subs[] = {"", "/tmp", "/new", "/cur"};
  for (int i = 0; i < 4; i++) {
    snprintf(path, sizeof path, "%s%s", dir, subs[i]);
    if (mkdir(path, 0700) != 0 && errno != EEXIST) return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  host h;
  loop deliver, ticker;
  pthread_t deliver_thread, tick_thread;
  struct MHD_Daemon *d;
  sigset_t stop_signals;
  char config_path[4096] = "", maildir[4096] = "", err[512];
  const char *zone = "Europe/Amsterdam";
  int port = -1, seed = 0, bound = 0, sig = 0, rc, kind = 0;
  int64_t agency = 0;

  memset(&h, 0, sizeof h);
  memset(&deliver, 0, sizeof deliver);
  memset(&ticker, 0, sizeof ticker);
  deliver.ms = ticker.ms = 1000;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0) {
      fputs(usage, stdout);
      return 0;
    } else if (strcmp(a, "--seed-demo") == 0) {
      seed = 1;
    } else if (strcmp(a, "--verbose") == 0) {
      h.verbose = 1;
    } else if (v == NULL) {
      fprintf(stderr, "host: %s needs a value\n%s", a, usage);
      return 2;
    } else if (strcmp(a, "--db") == 0) {
      h.db_path = v, i++;
    } else if (strcmp(a, "--port") == 0) {
      port = atoi(v), i++;
    } else if (strcmp(a, "--config") == 0) {
      snprintf(config_path, sizeof config_path, "%s", v), i++;
    } else if (strcmp(a, "--maildir") == 0) {
      snprintf(maildir, sizeof maildir, "%s", v), i++;
    } else if (strcmp(a, "--zone") == 0) {
      zone = v, i++;
    } else if (strcmp(a, "--clock-file") == 0) {
      h.clock_file = v, i++;
    } else if (strcmp(a, "--tick-ms") == 0) {
      ticker.ms = atoi(v), i++;
    } else if (strcmp(a, "--deliver-ms") == 0) {
      deliver.ms = atoi(v), i++;
    } else {
      fprintf(stderr, "host: unknown option %s\n%s", a, usage);
      return 2;
    }
  }
  if (h.db_path == NULL || (!seed && port < 0) || port > 65535 ||
      ticker.ms < 10 || deliver.ms < 10) {
    fputs(usage, stderr);
    return 2;
  }
  if (!*config_path) snprintf(config_path, sizeof config_path, "%s.host", h.db_path);
  if (!*maildir) snprintf(maildir, sizeof maildir, "%s.maildir", h.db_path);
  h.maildir = maildir;
  if (sodium_init() < 0) {
    fprintf(stderr, "host: libsodium would not initialise\n");
    return 1;
  }
  if (seed) {
    if (seed_demo(h.db_path, config_path, h.clock_file, zone) != 0) return 1;
    if (port < 0) return 0;
  }
  if (config_read(config_path, &h.cfg, err, sizeof err) != 0) {
    fprintf(stderr, "host: %s\n", err);
    return 1;
  }

  /* The request handle, and a check that the config names this file's
  ** agency and its website actor. */
  rc = tesoro_open(h.db_path, &h.t);
  if (rc == TESORO_OK)
    rc = tesoro_config(h.t, TESORO_CONFIG_CHECKPOINT_PAGES, 100000);
  if (rc == TESORO_OK)
    rc = tesoro_actor_info(h.t, h.cfg.website, &kind, &agency, NULL);
  if (rc != TESORO_OK || kind != TESORO_ACTOR_WEBSITE ||
      agency != h.cfg.agency) {
    fprintf(stderr, "host: %s: %s\n", h.db_path,
            rc != TESORO_OK ? tesoro_errmsg(h.t)
                            : "the config's website actor is not the agency's");
    tesoro_close(h.t);
    return 1;
  }
  if (mkdirs(h.maildir) != 0) {
    fprintf(stderr, "host: %s: %s\n", h.maildir, strerror(errno));
    tesoro_close(h.t);
    return 1;
  }

  /* Signals: blocked in every thread, taken by main with sigwait. */
  signal(SIGPIPE, SIG_IGN);
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

  deliver.h = ticker.h = &h;
  if (json_open() || loop_open(&deliver, "delivery loop") ||
      loop_open(&ticker, "tick loop")) {
    tesoro_close(deliver.t);
    tesoro_close(ticker.t);
    tesoro_close(h.t);
    json_close();
    return 1;
  }
  pthread_create(&deliver_thread, NULL, delivery_loop, &deliver);
  pthread_create(&tick_thread, NULL, tick_loop, &ticker);
  d = web_start(&h, port, &bound);
  if (d == NULL) {
    fprintf(stderr, "host: cannot listen on 127.0.0.1:%d\n", port);
  } else {
    printf("host: listening on http://127.0.0.1:%d/ (portal /, desk /desk)\n",
           bound);
    fflush(stdout);
    sigwait(&stop_signals, &sig);
    web_stop(d);
  }
  pthread_mutex_lock(&stop_lock);
  stopping = 1;
  pthread_cond_broadcast(&stop_cond);
  pthread_mutex_unlock(&stop_lock);
  pthread_join(deliver_thread, NULL);
  pthread_join(tick_thread, NULL);
  json_close();
  tesoro_close(deliver.t);
  tesoro_close(ticker.t);
  tesoro_close(h.t);
  sodium_memzero(&h.cfg, sizeof h.cfg);
  printf("host: stopped requests=%" PRId64 " refusals=%" PRId64
         " mails=%" PRId64 " other_deliveries=%" PRId64
         " failed_deliveries=%" PRId64 " timers_fired=%" PRId64
         " checkpoints=%" PRId64 "\n",
         h.requests, h.refusals, deliver.done, deliver.other, deliver.failed,
         ticker.fired, ticker.checkpoints);
  return d == NULL;
}
