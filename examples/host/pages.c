/*
** pages.c — the client portal and the agent's viewing desk, server-rendered.
**
** 1. layout, assets and the error page  2. small helpers  3. the portal:
** login and onboarding  4. home, the property feed, a property  5. the
** appointments, one viewing, its .ics, the calendar feed  6. the profile
** 7. the desk  8. the routes.
**
** Every page reads and writes through tesoro alone, as the person asking:
** the portal client of the session, or the desk's agent.  tesoro decides
** what each may see and do; a refusal is shown with tesoro's own message
** and the status its code maps to (web.c, http_status_of).  Buttons are
** shown from tesoro_allowed_events, so a page offers what the rules allow now.
** Every form is a POST carrying the CSRF token and, where it changes an
** entity, the version the page showed (two tabs: the second is a 409).
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>
#include <sodium.h>

#include "host.h"

/* ------------------------------------------------------------------------
** 1. Layout and assets.
*/

static const char host_css[] =
    ":root{--ink:#1f2933;--muted:#647587;--line:#e1e6eb;--bg:#f4f6f8;"
    "--brand:#0b5e4a;--yellow:#f0b429;--green:#2f9e44;--red:#d64545}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;font:15px/1.45 'DejaVu Sans',system-ui,sans-serif;"
    "color:var(--ink);background:var(--bg)}\n"
    "a{color:var(--brand)}\n"
    "header.top{background:var(--brand);color:#fff}\n"
    "header.top .in{max-width:880px;margin:0 auto;padding:10px 18px;"
    "display:flex;align-items:center;gap:20px}\n"
    "header.top .brand{font-weight:700;font-size:17px;letter-spacing:.02em}\n"
    "header.top nav a{color:#d4ece4;text-decoration:none;margin-right:16px;"
    "padding-bottom:3px}\n"
    "header.top nav a.on{color:#fff;border-bottom:2px solid #fff}\n"
    "header.top form{margin:0 0 0 auto}\n"
    "header.top button{background:transparent;border:1px solid #9fd3c2;"
    "color:#fff;padding:4px 10px}\n"
    "main{max-width:880px;margin:20px auto;padding:0 18px}\n"
    "h1{font-size:23px;margin:4px 0 14px}h2{font-size:18px;margin:22px 0 10px}\n"
    ".muted{color:var(--muted)}.small{font-size:13px}\n"
    ".card{background:#fff;border:1px solid var(--line);border-radius:10px;"
    "padding:14px 16px;margin-bottom:12px}\n"
    ".flash{background:#e3f6ea;border:1px solid #b4e2c4;border-radius:8px;"
    "padding:9px 14px;margin-bottom:14px}\n"
    ".notice{background:#fff8e1;border:1px solid #f3d98b;border-radius:8px;"
    "padding:9px 14px;margin-bottom:14px}\n"
    ".tabs{display:flex;gap:8px;margin:0 0 14px}\n"
    ".tabs a{padding:7px 15px;border-radius:18px;background:#fff;border:1px "
    "solid var(--line);color:var(--ink);text-decoration:none}\n"
    ".tabs a.on{background:var(--ink);border-color:var(--ink);color:#fff}\n"
    ".tabs .n{display:inline-block;min-width:20px;margin-left:6px;padding:0 6px;"
    "border-radius:10px;background:var(--bg);color:var(--ink);font-size:12px;"
    "text-align:center}\n"
    ".badge{display:inline-block;padding:3px 11px;border-radius:12px;"
    "font-size:12px;font-weight:700;text-transform:uppercase;"
    "letter-spacing:.04em;color:#fff}\n"
    ".badge.yellow{background:var(--yellow);color:#3d2b00}\n"
    ".badge.green{background:var(--green)}.badge.red{background:var(--red)}\n"
    ".badge.grey{background:#dde3e9;color:var(--ink)}\n"
    ".row{display:grid;grid-template-columns:132px 1fr auto;gap:16px;"
    "align-items:center}\n"
    ".thumb{width:132px;height:88px;object-fit:cover;border-radius:7px;"
    "background:#dde3e9;display:block}\n"
    ".title{font-weight:700;font-size:16px;text-decoration:none;color:var(--ink)}\n"
    ".when{margin-top:4px}.when b{font-weight:600}\n"
    ".tiles{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;"
    "margin-bottom:8px}\n"
    ".tile{background:#fff;border:1px solid var(--line);border-radius:10px;"
    "padding:12px 14px;text-decoration:none;color:var(--ink)}\n"
    ".tile b{display:block;font-size:26px}\n"
    ".gallery{display:flex;gap:10px;flex-wrap:wrap;margin-bottom:10px}\n"
    ".gallery img{width:260px;height:170px;object-fit:cover;border-radius:8px}\n"
    ".facts{display:flex;gap:18px;flex-wrap:wrap;margin:8px 0}\n"
    "form.inline{display:inline}\n"
    "button,.button{background:var(--brand);color:#fff;border:0;"
    "border-radius:6px;padding:7px 14px;font:inherit;cursor:pointer;"
    "text-decoration:none;display:inline-block}\n"
    "button.secondary,.button.secondary{background:#fff;color:var(--ink);"
    "border:1px solid var(--line)}\n"
    "button.danger{background:var(--red)}\n"
    "label{display:block;margin:8px 0 3px;font-weight:600}\n"
    "label.check{display:inline-block;font-weight:400;margin-right:12px}\n"
    "input[type=text],input[type=email],input[type=password],"
    "input[type=datetime-local],select,textarea{font:inherit;padding:6px 8px;"
    "border:1px solid #c5ced6;border-radius:6px;min-width:260px}\n"
    "textarea{width:100%;min-height:70px}\n"
    "table{border-collapse:collapse}td,th{padding:5px 14px 5px 0;"
    "text-align:left}\n"
    ".error h1{color:var(--red)}\n"
    ".stars{color:#e5a000;letter-spacing:2px}\n"
    ".slides{display:grid;grid-template-columns:repeat(3,1fr);gap:12px}\n"
    ".card>h2:first-child{margin-top:0}\n#feed-url{width:100%}\n"
    ".desk-appointment form{margin-top:8px}\n"
    ".desk-appointment input[type=text],.desk-appointment "
    "input[type=datetime-local]{min-width:0;width:230px}\n";

/* Plain JavaScript where it helps: a confirmation before a cancellation,
** and the desk's "another time" field enabled only when chosen. */
static const char host_js[] =
    "document.addEventListener('submit',function(e){var m=e.target.dataset."
    "confirm;if(m&&!window.confirm(m))e.preventDefault();});\n"
    "document.addEventListener('change',function(e){var f=e.target.form;"
    "if(!f||e.target.name!=='start')return;var o=f.querySelector("
    "'input[name=other]');if(o)o.disabled=e.target.value!=='other';});\n";

enum { NAV_NONE, NAV_CLIENT, NAV_DESK };

static void page_begin(req *r, const char *title, int nav, const char *on) {
  buf *b = &r->out;
  static const char *const links[][2] = {{"/", "Home"},
                                         {"/properties", "Properties"},
                                         {"/appointments", "Appointments"},
                                         {"/profile", "Profile"}};
  buf_put(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             "<meta name=\"viewport\" content=\"width=device-width\">"
             "<title>");
  buf_esc(b, title);
  buf_put(b, " — ");
  buf_esc(b, r->h->cfg.name);
  buf_put(b, "</title><link rel=\"stylesheet\" href=\"/static/host.css\">"
             "<script src=\"/static/host.js\" defer></script></head>\n<body>"
             "<header class=\"top\"><div class=\"in\"><span class=\"brand\">");
  buf_esc(b, r->h->cfg.name);
  buf_put(b, nav == NAV_DESK ? " · Viewing desk" : "");
  buf_put(b, "</span>");
  if (nav == NAV_CLIENT) {
    buf_put(b, "<nav>");
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
      buf_printf(b, "<a href=\"%s\"%s>%s</a>", links[i][0],
                 on && strcmp(on, links[i][0]) == 0 ? " class=\"on\"" : "",
                 links[i][1]);
    buf_printf(b, "</nav><form method=\"post\" action=\"/logout\">"
                  "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
                  "<button>Log out</button></form>", r->csrf);
  } else if (nav == NAV_DESK) {
    buf_printf(b, "<nav><a href=\"/desk\" class=\"on\">Viewings</a></nav>"
                  "<form method=\"post\" action=\"/desk/logout\">"
                  "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
                  "<button>Sign out</button></form>", r->csrf);
  }
  buf_put(b, "</div></header>\n<main>");
}

static void page_end(req *r) { buf_put(&r->out, "</main></body></html>\n"); }

/* A form posting to `action` (the host's own path), with the CSRF token. */
static void form_begin(req *r, const char *action, const char *cls) {
  buf_put(&r->out, "<form method=\"post\" action=\"");
  buf_esc(&r->out, action);
  buf_put(&r->out, "\"");
  if (cls) buf_printf(&r->out, " class=\"%s\"", cls);
  buf_printf(&r->out, "><input type=\"hidden\" name=\"csrf\" value=\"%s\">",
             r->csrf);
}

static void hidden_int(req *r, const char *name, int64_t v) {
  buf_printf(&r->out, "<input type=\"hidden\" name=\"%s\" value=\"%" PRId64 "\">",
             name, v);
}

/* The short notice after a POST redirected here (?ok=KEY): fixed texts. */
static void flash(req *r) {
  static const char *const texts[][2] = {
      {"requested", "Viewing requested. Your agent will get in touch."},
      {"saved", "Saved."},
      {"cancelled", "The viewing is cancelled."},
      {"started", "Enjoy the viewing! Notes and a rating are open now."},
      {"rated", "Thank you for rating the viewing."},
      {"noted", "Your note is saved."},
      {"language", "Language saved."},
      {"confirmed", "Viewing confirmed: the client gets an e-mail."},
      {"rejected", "Request rejected: the client gets an e-mail."},
      {"rescheduled", "Viewing moved: the client gets an e-mail."},
      {"no_show", "No-show recorded."},
      {"changed", "Your password is changed. Log in with the new one."},
      {"ended", "Your session has ended. Please log in again."},
      {"out", "You are logged out."}};
  const char *ok = req_query(r, "ok");
  if (ok == NULL) return;
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
    if (strcmp(ok, texts[i][0]) == 0)
      buf_printf(&r->out, "<p class=\"flash\" id=\"flash\">%s</p>", texts[i][1]);
}

/* The error page.  `message` may be tesoro_errmsg's, which the next call
** on the handle replaces: it is copied before anything else runs. */
void pages_error(req *r, int status, const char *name, const char *message) {
  static const struct { int status; const char *title; } titles[] = {
      {400, "Bad request"}, {403, "Not allowed"}, {404, "Not found"},
      {405, "Method not allowed"}, {409, "Conflict"}, {413, "Too large"},
      {415, "Unsupported form"}, {503, "Busy, try again"}};
  char msg[1024], back[256] = "/";
  const char *title = "Server error", *ref;
  snprintf(msg, sizeof msg, "%s", message ? message : "");
  for (size_t i = 0; i < sizeof titles / sizeof titles[0]; i++)
    if (titles[i].status == status) title = titles[i].title;
  /* "Back" to the page the form was on, when it was one of ours */
  ref = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Referer");
  if (ref && strstr(ref, "://") && (ref = strchr(strstr(ref, "://") + 3, '/')))
    snprintf(back, sizeof back, "%s", ref);
  buf_free(&r->out);
  r->status = status;
  r->location = NULL;
  tesoro_free(r->bytes);
  r->bytes = NULL;
  r->content_type = NULL;
  r->disposition = NULL;
  page_begin(r, title,
             strncmp(r->url, "/desk", 5) == 0 ? (r->agent ? NAV_DESK : NAV_NONE)
             : r->client && r->step != TESORO_PORTAL_SET_PASSWORD ? NAV_CLIENT
                                                                   : NAV_NONE,
             NULL);
  buf_printf(&r->out, "<div class=\"card error\"><h1 id=\"error-status\">%d %s"
                      "</h1><p class=\"message\" id=\"error-message\">",
             status, title);
  buf_esc(&r->out, msg);
  buf_put(&r->out, "</p>");
  if (name) {
    buf_put(&r->out, "<p class=\"muted small\">tesoro: <code id=\"error-code\">");
    buf_esc(&r->out, name);
    buf_put(&r->out, "</code>; nothing was changed.</p>");
  }
  buf_put(&r->out, "<p><a class=\"button secondary\" href=\"");
  buf_esc(&r->out, back);
  buf_put(&r->out, "\">Back</a></p></div>");
  page_end(r);
}

/* ------------------------------------------------------------------------
** 2. Helpers.
*/

/* A refusal: answer it and tell the caller to stop. */
static int fail(req *r, int rc) {
  res_tesoro_error(r, rc);
  return rc;
}

static const char *col_text(tesoro_cursor *c, const char *name) {
  return tesoro_cursor_text(c, tesoro_cursor_index(c, name));
}
static int64_t col_int(tesoro_cursor *c, const char *name) {
  return tesoro_cursor_int(c, tesoro_cursor_index(c, name));
}
static int col_null(tesoro_cursor *c, const char *name) {
  return tesoro_cursor_isnull(c, tesoro_cursor_index(c, name));
}

/* The events `actor` may fire on the entity now (tesoro_allowed_events), as
** " a b c " for allowed_has. */
typedef struct events { char names[512]; } events;
static int allowed(req *r, int64_t actor, int entity, int64_t id, events *e) {
  tesoro_cursor *c = NULL;
  int rc = tesoro_allowed_events(r->h->t, actor, entity, id, &c);
  size_t n = 1;
  snprintf(e->names, sizeof e->names, " ");
  while (rc == TESORO_OK && (rc = tesoro_cursor_next(c)) == TESORO_ROW) {
    const char *ev = col_text(c, "event");
    if (col_int(c, "allowed") && ev && n + strlen(ev) + 2 < sizeof e->names)
      n += (size_t)snprintf(e->names + n, sizeof e->names - n, "%s ", ev);
    rc = TESORO_OK;
  }
  tesoro_cursor_free(c);
  return rc < 0 ? rc : TESORO_OK;
}
static int allowed_has(const events *e, const char *ev) {
  char key[64];
  snprintf(key, sizeof key, " %s ", ev);
  return strstr(e->names, key) != NULL;
}

static void when(req *r, int64_t t) {
  char text[64];
  local_format(r->h->cfg.zone, t, text, sizeof text);
  buf_esc(&r->out, text);
}

static void price(req *r, int64_t minor, const char *currency) {
  char text[64];
  money_format(minor, currency && *currency ? currency : r->h->cfg.currency,
               text, sizeof text);
  buf_esc(&r->out, text);
}

static void photo(req *r, int64_t id, const char *alt) {
  if (id > 0) {
    buf_printf(&r->out, "<img class=\"thumb\" src=\"/photo/%" PRId64 "\" alt=\"",
               id);
    buf_esc(&r->out, alt ? alt : "");
    buf_put(&r->out, "\">");
  } else {
    buf_put(&r->out, "<div class=\"thumb\"></div>");
  }
}

/* The preferred date-times of a viewing (a JSON array of instants, at
** `path` in `json`). */
static void preferred_list(req *r, const char *json, const char *path) {
  json_item *e = NULL;
  int n = json_items(json, path, &e);
  for (int i = 0; i < n; i++) {
    buf_put(&r->out, i ? " · " : "");
    when(r, e[i].num);
  }
  json_items_free(e, n);
}

static void stars(req *r, int64_t n) {
  buf_put(&r->out, "<span class=\"stars\">");
  for (int i = 1; i <= 5; i++) buf_put(&r->out, i <= n ? "★" : "☆");
  buf_put(&r->out, "</span>");
}

static const char *state_label(const char *state) {
  static const char *const labels[][2] = {
      {"to_review", "To review"}, {"interesting", "Interesting"},
      {"rejected", "Not interested"}, {"viewed", "Viewed"},
      {"approved", "Approved"}};
  for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
    if (state && strcmp(state, labels[i][0]) == 0) return labels[i][1];
  return state ? state : "";
}

/* An appointment's status badge, in the seed's colour (tesoro gives it). */
static void badge(req *r, const char *state, const char *colour) {
  buf_put(&r->out, "<span class=\"badge ");
  buf_esc(&r->out, colour ? colour : "grey");
  buf_put(&r->out, "\" data-state=\"");
  buf_esc(&r->out, state);
  buf_put(&r->out, "\">");
  buf_esc(&r->out, state);
  buf_put(&r->out, "</span>");
}

/* The reasons of a "not interested" (the JSON array at `path` in `json`),
** and its note when given, as the feed shows them; nothing when there is
** no array. */
static const char *const reject_names[][2] = {
    {"price", "Price"}, {"location", "Location"}, {"size", "Size"},
    {"layout", "Layout"}, {"condition", "Condition"}, {"other", "Other"}};
static void reject_reasons(req *r, const char *json, const char *path,
                           const char *note) {
  json_item *e = NULL;
  int n;
  if (json_kind_at(json, path) != JSON_ARRAY) return;
  n = json_items(json, path, &e);
  buf_put(&r->out, "<div class=\"small reasons\">Not for me: ");
  for (int j = 0; j < n; j++) {
    const char *name = e[j].kind == JSON_TEXT ? e[j].value : NULL;
    const char *label = name;
    for (size_t i = 0; name && i < 6; i++)
      if (strcmp(name, reject_names[i][0]) == 0) label = reject_names[i][1];
    buf_put(&r->out, j ? ", " : "");
    buf_esc(&r->out, label ? label : "");
  }
  json_items_free(e, n);
  if (note) {
    buf_put(&r->out, " — “");
    buf_esc(&r->out, note);
    buf_put(&r->out, "”");
  }
  buf_put(&r->out, "</div>");
}

/* ------------------------------------------------------------------------
** 3. The portal: login and the onboarding steps (seed 004: set password,
** welcome slides, the tour — which can be skipped and restarted).
*/

static void redirect_for_step(req *r, int step) {
  switch (step) {
  case TESORO_PORTAL_SET_PASSWORD: res_redirect(r, "/password"); break;
  case TESORO_PORTAL_WELCOME: res_redirect(r, "/welcome"); break;
  case TESORO_PORTAL_TOUR: res_redirect(r, "/tour"); break;
  default: res_redirect(r, "/"); break;
  }
}

static void get_login(req *r) {
  buf *b = &r->out;
  if (r->client) {
    redirect_for_step(r, r->step);
    return;
  }
  page_begin(r, "Log in", NAV_NONE, NULL);
  buf_put(b, "<h1>Your client portal</h1>");
  flash(r);
  buf_put(b, "<div class=\"card\">");
  form_begin(r, "/login", NULL);
  buf_put(b, "<label for=\"email\">E-mail</label><input type=\"email\" "
             "id=\"email\" name=\"email\" autocomplete=\"username\" required>"
             "<label for=\"password\">Password</label><input type=\"password\" "
             "id=\"password\" name=\"password\" "
             "autocomplete=\"current-password\" required>"
             "<p><button id=\"login\">Log in</button></p></form>"
             "<p class=\"muted small\">Your agent sent you an invitation with a "
             "temporary password. Agents: the <a href=\"/desk\">viewing "
             "desk</a>.</p></div>");
  page_end(r);
}

static void post_login(req *r) {
  host *h = r->h;
  const char *email = req_field_get(r, "email"), *pw = req_field_get(r, "password");
  char *token = NULL;
  int64_t client = 0;
  int step = 0, rc;
  rc = tesoro_portal_session_open(h->t, h->cfg.website, email ? email : "",
                                  pw ? pw : "", &token, &client, &step);
  if (rc != TESORO_OK) {
    fail(r, rc);
    return;
  }
  res_cookie(r, "tesoro_session", token, -1);
  sodium_memzero(token, strlen(token));
  tesoro_free(token);
  redirect_for_step(r, step);
}

static void post_logout(req *r) {
  if (r->session) tesoro_portal_session_end(r->h->t, r->h->cfg.website, r->session);
  res_cookie(r, "tesoro_session", "", 0);
  res_redirect(r, "/login?ok=out");
}

static void get_password(req *r) {
  buf *b = &r->out;
  int first = r->step == TESORO_PORTAL_SET_PASSWORD;
  page_begin(r, first ? "Set your password" : "Change your password",
             first ? NAV_NONE : NAV_CLIENT, "/profile");
  buf_printf(b, "<h1>%s</h1>", first ? "Welcome! First, choose your password"
                                     : "Change your password");
  buf_put(b, "<div class=\"card\">");
  form_begin(r, "/password", NULL);
  buf_printf(b,
             "<label for=\"current\">%s</label><input type=\"password\" "
             "id=\"current\" name=\"current\" autocomplete=\"current-password\" "
             "required><label for=\"new\">New password</label><input "
             "type=\"password\" id=\"new\" name=\"new\" "
             "autocomplete=\"new-password\" required><label for=\"repeat\">The "
             "new password again</label><input type=\"password\" id=\"repeat\" "
             "name=\"repeat\" autocomplete=\"new-password\" required>"
             "<p class=\"muted small\">At least %d characters, with an "
             "upper-case letter, a lower-case letter, a digit and a special "
             "character.</p><p><button id=\"set-password\">Save password"
             "</button></p></form></div>",
             first ? "Temporary password (from the invitation)"
                   : "Current password",
             TESORO_MIN_PASSWORD);
  page_end(r);
}

static void post_password(req *r) {
  const char *cur = req_field_get(r, "current"), *pw = req_field_get(r, "new"),
             *again = req_field_get(r, "repeat");
  int rc;
  if (!pw || !again || strcmp(pw, again) != 0) {
    res_host_error(r, 400, "the two new passwords differ: type the same one twice");
    return;
  }
  rc = tesoro_portal_password_change(r->h->t, r->client, cur ? cur : "", pw);
  if (rc != TESORO_OK) {
    fail(r, rc);
    return;
  }
  /* A password change ends every session of the account, this one too. */
  res_cookie(r, "tesoro_session", "", 0);
  res_redirect(r, "/login?ok=changed");
}

static void get_welcome(req *r) {
  buf *b = &r->out;
  page_begin(r, "Welcome", NAV_NONE, NULL);
  buf_put(b, "<h1>Welcome to your client portal</h1><div class=\"slides\">"
             "<div class=\"card\"><h2>Your properties</h2><p>Your agent "
             "selects homes for you. Mark each one interesting or not, and "
             "keep favourites.</p></div>"
             "<div class=\"card\"><h2>Viewings</h2><p>Ask for a viewing with up "
             "to three dates; your agent confirms one. Add it to your "
             "calendar.</p></div>"
             "<div class=\"card\"><h2>Together</h2><p>Your verdicts, notes and "
             "ratings reach your agent at once, so the next selection fits "
             "better.</p></div></div>");
  form_begin(r, "/welcome", NULL);
  buf_put(b, "<p><button id=\"welcome-done\">Continue</button></p></form>");
  page_end(r);
}

static void post_welcome(req *r) {
  int rc = tesoro_portal_welcome_finish(r->h->t, r->client);
  if (rc != TESORO_OK) {
    fail(r, rc);
    return;
  }
  res_redirect(r, "/tour");
}

static void get_tour(req *r) {
  buf *b = &r->out;
  page_begin(r, "Tour", NAV_CLIENT, "/");
  buf_put(b, "<h1>A short tour of your home page</h1><div class=\"card\"><ol>"
             "<li><b>Overview</b> — your upcoming and unconfirmed viewings, new "
             "properties and the ratings you gave.</li>"
             "<li><b>New properties</b> — what your agent offered you since you "
             "last looked.</li>"
             "<li><b>Properties</b> — everything, grouped by your verdict.</li>"
             "<li><b>Appointments</b> — Upcoming, Recent and Unconfirmed "
             "viewings.</li>"
             "<li><b>Profile</b> — language, your calendar feed, and this "
             "tour again.</li></ol>");
  form_begin(r, "/tour", "inline");
  buf_put(b, "<input type=\"hidden\" name=\"action\" value=\"finish\">"
             "<button id=\"tour-finish\">Finish the tour</button></form> ");
  form_begin(r, "/tour", "inline");
  buf_put(b, "<input type=\"hidden\" name=\"action\" value=\"skip\">"
             "<button class=\"secondary\" id=\"tour-skip\">Skip the tour"
             "</button></form></div>");
  page_end(r);
}

static void post_tour(req *r) {
  const char *action = req_field_get(r, "action");
  int rc;
  if (action && strcmp(action, "restart") == 0)
    rc = tesoro_portal_tour_restart(r->h->t, r->client);
  else if (action && strcmp(action, "skip") == 0)
    rc = tesoro_portal_tour_skip(r->h->t, r->client);
  else
    rc = tesoro_portal_tour_finish(r->h->t, r->client);
  if (rc != TESORO_OK) {
    fail(r, rc);
    return;
  }
  res_redirect(r, action && strcmp(action, "restart") == 0 ? "/tour" : "/");
}

/* ------------------------------------------------------------------------
** 4. Home, the property feed and one property.
*/

/* One property of the feed, as a row. */
static void feed_row(req *r, tesoro_cursor *c) {
  buf *b = &r->out;
  const char *state = col_text(c, "state");
  buf_put(b, "<div class=\"card row property\">");
  photo(r, col_null(c, "photo_id") ? 0 : col_int(c, "photo_id"), col_text(c, "title"));
  buf_printf(b, "<div><a class=\"title\" href=\"/property/%" PRId64 "\">",
             col_int(c, "listing_id"));
  buf_esc(b, col_text(c, "title"));
  buf_put(b, "</a>");
  if (col_int(c, "favourite")) buf_put(b, " <span class=\"stars\" title=\"favourite\">♥</span>");
  buf_put(b, "<div class=\"muted\">");
  buf_esc(b, col_text(c, "address"));
  buf_put(b, " · ");
  price(r, col_int(c, "price"), NULL);
  buf_put(b, " · ");
  buf_esc(b, col_text(c, "ref"));
  buf_put(b, "</div>");
  /* the reasons, shown by the same code as the property page; the note
  ** follows on a line of its own */
  reject_reasons(r, col_null(c, "reject_reasons") ? NULL
                                                  : col_text(c, "reject_reasons"),
                 "$", NULL);
  if (!col_null(c, "reject_note")) {
    buf_put(b, "<div class=\"small muted\">“");
    buf_esc(b, col_text(c, "reject_note"));
    buf_put(b, "”</div>");
  }
  buf_put(b, "</div><span class=\"badge grey\" data-state=\"");
  buf_esc(b, state);
  buf_put(b, "\">");
  buf_esc(b, state_label(state));
  buf_put(b, "</span></div>");
}

static void get_home(req *r) {
  host *h = r->h;
  buf *b = &r->out;
  tesoro_cursor *c = NULL;
  int64_t upcoming = 0, unconfirmed = 0, fresh = 0, ratings = 0;
  int rc, n = 0;
  if (r->step == TESORO_PORTAL_WELCOME || r->step == TESORO_PORTAL_TOUR) {
    redirect_for_step(r, r->step);
    return;
  }
  if ((rc = tesoro_portal_home(h->t, r->client, &upcoming, &unconfirmed, &fresh,
                               &ratings)) ||
      (rc = tesoro_portal_properties(h->t, r->client, TESORO_FEED_NEW, &c))) {
    fail(r, rc);
    return;
  }
  page_begin(r, "Home", NAV_CLIENT, "/");
  buf_put(b, "<h1>Home</h1>");
  flash(r);
  buf_printf(b,
             "<div class=\"tiles\"><a class=\"tile\" id=\"tile-upcoming\" "
             "href=\"/appointments?tab=upcoming\"><b>%" PRId64 "</b>Upcoming "
             "viewings</a><a class=\"tile\" id=\"tile-unconfirmed\" "
             "href=\"/appointments?tab=unconfirmed\"><b>%" PRId64 "</b>"
             "Unconfirmed</a><a class=\"tile\" id=\"tile-new\" "
             "href=\"/properties?view=new\"><b>%" PRId64 "</b>New properties</a>"
             "<a class=\"tile\" id=\"tile-ratings\" href=\"/appointments?tab=recent\">"
             "<b>%" PRId64 "</b>Ratings given</a></div>",
             upcoming, unconfirmed, fresh, ratings);
  buf_put(b, "<h2>New properties</h2>");
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
    feed_row(r, c);
    n++;
  }
  tesoro_cursor_free(c);
  if (rc < 0) {
    fail(r, rc);
    return;
  }
  if (n == 0)
    buf_put(b, "<p class=\"muted\">Nothing new. All your properties are under "
               "<a href=\"/properties?view=all\">Properties</a>.</p>");
  page_end(r);
}

static void get_properties(req *r) {
  static const struct { const char *key, *label; int view; } views[] = {
      {"all", "All", TESORO_FEED_ALL},
      {"new", "New", TESORO_FEED_NEW},
      {"favourites", "Favourites", TESORO_FEED_FAVOURITES}};
  buf *b = &r->out;
  const char *view = req_query(r, "view"), *group = NULL;
  tesoro_cursor *c = NULL;
  size_t v = 0;
  int rc, n = 0;
  for (size_t i = 0; view && i < 3; i++)
    if (strcmp(view, views[i].key) == 0) v = i;
  if ((rc = tesoro_portal_properties(r->h->t, r->client, views[v].view, &c))) {
    fail(r, rc);
    return;
  }
  page_begin(r, "Properties", NAV_CLIENT, "/properties");
  buf_put(b, "<h1>Your properties</h1>");
  flash(r);
  buf_put(b, "<div class=\"tabs\">");
  for (size_t i = 0; i < 3; i++)
    buf_printf(b, "<a href=\"/properties?view=%s\"%s>%s</a>", views[i].key,
               i == v ? " class=\"on\"" : "", views[i].label);
  buf_put(b, "</div>");
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
    const char *state = col_text(c, "state");
    if (views[v].view == TESORO_FEED_ALL &&
        (group == NULL || strcmp(group, state_label(state)) != 0)) {
      group = state_label(state); /* grouped by status, in tesoro's order */
      buf_put(b, "<h2>");
      buf_esc(b, group);
      buf_put(b, "</h2>");
    }
    feed_row(r, c);
    n++;
  }
  tesoro_cursor_free(c);
  if (rc < 0) {
    fail(r, rc);
    return;
  }
  if (n == 0) buf_put(b, "<p class=\"muted\">No properties here yet.</p>");
  page_end(r);
}

static void get_property(req *r) {
  host *h = r->h;
  buf *b = &r->out;
  int64_t listing = r->id[0], dp, version = 0;
  char *json = NULL, *s, min[32];
  json_item *photos = NULL;
  events ev = {{0}};
  int rc, in_feed, favourite, n;
  if ((rc = tesoro_portal_property(h->t, r->client, listing, &json))) {
    fail(r, rc);
    return;
  }
  dp = json_int(json, "$.deal_property_id", 0);
  in_feed = json_kind_at(json, "$.in_feed") == JSON_TRUE;
  favourite = json_kind_at(json, "$.favourite") == JSON_TRUE;
  if (in_feed && dp > 0) {
    if ((rc = tesoro_entity_state(h->t, r->client, TESORO_ENTITY_DEAL_PROPERTY,
                                  dp, NULL, &version)) ||
        (rc = allowed(r, r->client, TESORO_ENTITY_DEAL_PROPERTY, dp, &ev))) {
      tesoro_free(json);
      fail(r, rc);
      return;
    }
  }
  s = json_text(json, "$.title");
  page_begin(r, s ? s : "Property", NAV_CLIENT, "/properties");
  flash(r);
  buf_put(b, "<h1>");
  buf_esc(b, s);
  buf_put(b, "</h1>");
  free(s);
  /* the photos, in upload order: only photos ever reach a buyer */
  buf_put(b, "<div class=\"gallery\">");
  n = json_items(json, "$.photos", &photos);
  for (int i = 0; i < n && photos[i].kind == JSON_OBJECT; i++) {
    char *name = json_text(photos[i].value, "$.name");
    buf_printf(b, "<img class=\"photo\" src=\"/photo/%" PRId64 "\" alt=\"",
               json_int(photos[i].value, "$.id", 0));
    buf_esc(b, name);
    buf_put(b, "\">");
    free(name);
  }
  json_items_free(photos, n);
  buf_put(b, "</div><div class=\"card\"><div class=\"muted\">");
  s = json_text(json, "$.address");
  buf_esc(b, s);
  free(s);
  s = json_text(json, "$.ref");
  buf_put(b, " · ");
  buf_esc(b, s);
  free(s);
  buf_put(b, "</div><div class=\"facts\"><b id=\"price\">");
  price(r, json_int(json, "$.price", 0), NULL);
  buf_put(b, "</b>");
  if (json_has(json, "$.bedrooms"))
    buf_printf(b, "<span>%" PRId64 " bedrooms</span>", json_int(json, "$.bedrooms", 0));
  if (json_has(json, "$.bathrooms"))
    buf_printf(b, "<span>%" PRId64 " bathrooms</span>", json_int(json, "$.bathrooms", 0));
  if (json_has(json, "$.floor_area"))
    buf_printf(b, "<span>%" PRId64 " m²</span>", json_int(json, "$.floor_area", 0));
  if ((s = json_text(json, "$.energy_label")) != NULL) {
    buf_put(b, "<span>Energy label ");
    buf_esc(b, s);
    buf_put(b, "</span>");
    free(s);
  }
  buf_put(b, "</div>");
  if ((s = json_text(json, "$.description")) != NULL) {
    buf_put(b, "<p>");
    buf_esc(b, s);
    buf_put(b, "</p>");
    free(s);
  }
  if (in_feed) {
    s = json_text(json, "$.status");
    buf_put(b, "<p>Your verdict: <span class=\"badge grey\" id=\"status\" "
               "data-state=\"");
    buf_esc(b, s);
    buf_put(b, "\">");
    buf_esc(b, state_label(s));
    buf_put(b, "</span>");
    if (favourite) buf_put(b, " <span class=\"stars\">♥ favourite</span>");
    free(s);
    buf_put(b, "</p>");
    s = json_text(json, "$.reject_note");
    reject_reasons(r, json, "$.reject_reasons", s);
    free(s);
  }
  buf_put(b, "</div>");

  if (in_feed && dp > 0) {
    char action[64];
    snprintf(action, sizeof action, "/property/%" PRId64 "/verdict", listing);
    buf_put(b, "<div class=\"card\"><h2>Your verdict</h2>");
    if (allowed_has(&ev, "interested")) {
      form_begin(r, action, "inline");
      hidden_int(r, "dp", dp);
      hidden_int(r, "version", version);
      buf_put(b, "<input type=\"hidden\" name=\"action\" value=\"interested\">"
                 "<button id=\"interested\">Interested</button></form> ");
    }
    if (allowed_has(&ev, "approve")) {
      form_begin(r, action, "inline");
      hidden_int(r, "dp", dp);
      hidden_int(r, "version", version);
      buf_put(b, "<input type=\"hidden\" name=\"action\" value=\"approve\">"
                 "<button id=\"approve\">Approve</button></form> ");
    }
    form_begin(r, action, "inline");
    hidden_int(r, "dp", dp);
    hidden_int(r, "version", version);
    buf_printf(b, "<input type=\"hidden\" name=\"action\" value=\"favourite\">"
                  "<input type=\"hidden\" name=\"on\" value=\"%d\">"
                  "<button class=\"secondary\" id=\"favourite\">%s</button></form>",
               !favourite, favourite ? "♥ Remove from favourites"
                                     : "♡ Add to favourites");
    if (allowed_has(&ev, "not_interested")) {
      form_begin(r, action, "not-interested");
      hidden_int(r, "dp", dp);
      hidden_int(r, "version", version);
      buf_put(b, "<input type=\"hidden\" name=\"action\" value=\"not_interested\">"
                 "<label>Not interested? Tell your agent why</label>");
      for (int i = 0; i < 6; i++)
        buf_printf(b, "<label class=\"check\"><input type=\"checkbox\" "
                      "name=\"reason\" value=\"%s\"> %s</label>",
                   reject_names[i][0], reject_names[i][1]);
      buf_put(b, "<textarea name=\"note\" placeholder=\"Anything else (optional)\">"
                 "</textarea><p><button class=\"secondary\" "
                 "id=\"not-interested\">Not interested</button></p></form>");
    }
    buf_put(b, "</div>");

    /* Request a viewing: one to three dates (seed 001); the browser keeps
    ** past ones out with `min`, tesoro refuses them whatever the browser. */
    snprintf(action, sizeof action, "/property/%" PRId64 "/viewing", listing);
    local_input(h->cfg.zone, host_now(h), min, sizeof min);
    buf_put(b, "<div class=\"card\"><h2>Request a viewing</h2>");
    form_begin(r, action, "request-viewing");
    hidden_int(r, "dp", dp);
    buf_put(b, "<p class=\"muted small\">Choose one to three dates and times (");
    buf_esc(b, h->cfg.zone);
    buf_put(b, " time). Your agent confirms one of them, or proposes "
               "another.</p>");
    for (int i = 1; i <= TESORO_MAX_PREFERRED; i++)
      buf_printf(b, "<label for=\"preferred%d\">Date %d%s</label><input "
                    "type=\"datetime-local\" id=\"preferred%d\" "
                    "name=\"preferred\" min=\"%s\"%s>",
                 i, i, i == 1 ? "" : " (optional)", i, min,
                 i == 1 ? " required" : "");
    buf_put(b, "<p><button id=\"request-viewing\">Request viewing</button></p>"
               "</form></div>");
  }
  tesoro_free(json);
  page_end(r);
}

static int reason_bits(req *r) {
  static const int bits[] = {TESORO_REJECT_PRICE, TESORO_REJECT_LOCATION,
                             TESORO_REJECT_SIZE, TESORO_REJECT_LAYOUT,
                             TESORO_REJECT_CONDITION, TESORO_REJECT_OTHER};
  const char *v[8];
  int n = req_field_all(r, "reason", v, 8), bitset = 0;
  for (int i = 0; i < n && i < 8; i++)
    for (int j = 0; j < 6; j++)
      if (strcmp(v[i], reject_names[j][0]) == 0) bitset |= bits[j];
  return bitset;
}

static void post_verdict(req *r) {
  tesoro *t = r->h->t;
  const char *action = req_field_get(r, "action"), *note = req_field_get(r, "note");
  int64_t dp = 0, version = 0, on = 0;
  int rc;
  if (req_field_int(r, "dp", &dp) || req_field_int(r, "version", &version) ||
      action == NULL) {
    res_host_error(r, 400, "the form lacks its property or version");
    return;
  }
  if (strcmp(action, "interested") == 0)
    rc = tesoro_deal_property_interested(t, r->client, dp, version);
  else if (strcmp(action, "approve") == 0)
    rc = tesoro_deal_property_approve(t, r->client, dp, version);
  else if (strcmp(action, "favourite") == 0 && req_field_int(r, "on", &on) == 0)
    rc = tesoro_deal_property_favourite(t, r->client, dp, (int)on, version);
  else if (strcmp(action, "not_interested") == 0)
    rc = tesoro_deal_property_not_interested(t, r->client, dp, reason_bits(r),
                                             note && *note ? note : NULL, version);
  else {
    res_host_error(r, 400, "unknown verdict");
    return;
  }
  if (rc != TESORO_OK) {
    fail(r, rc);
    return;
  }
  res_redirect(r, "/property/%" PRId64 "?ok=saved", r->id[0]);
}

/* The dates go to tesoro as given (empty fields skipped): how many, and
** whether they are in the future, is tesoro's rule, and so its message. */
#define FORM_MAX_DATES 8
static void post_viewing(req *r) {
  const char *v[FORM_MAX_DATES + 1];
  int64_t when_at[FORM_MAX_DATES], dp = 0, appointment = 0;
  int n = req_field_all(r, "preferred", v, FORM_MAX_DATES + 1), count = 0, rc;
  if (req_field_int(r, "dp", &dp)) {
    res_host_error(r, 400, "the form lacks its property");
    return;
  }
  if (n > FORM_MAX_DATES) {
    res_host_error(r, 400, "too many dates in one form");
    return;
  }
  for (int i = 0; i < n; i++) {
    if (*v[i] == '\0') continue;
    if (local_parse(r->h->cfg.zone, v[i], &when_at[count]) != 0) {
      char msg[160];
      snprintf(msg, sizeof msg, "'%.40s' is not a date and time "
                                "(YYYY-MM-DDTHH:MM)", v[i]);
      res_host_error(r, 400, msg);
      return;
    }
    count++;
  }
  rc = tesoro_appointment_request(r->h->t, r->client, dp, when_at, count,
                                  &appointment);
  if (rc != TESORO_OK) {
    fail(r, rc);
    return;
  }
  res_redirect(r, "/appointments?tab=unconfirmed&ok=requested");
}

/* A document's bytes: photos, to the client who may see them or to staff. */
static void get_photo(req *r) {
  int64_t actor = r->client ? r->client : r->agent;
  const unsigned char *p;
  int rc;
  if (actor == 0) {
    res_host_error(r, 403, "log in to see photos");
    return;
  }
  if ((rc = tesoro_document_read(r->h->t, actor, r->id[0], &r->bytes,
                                 &r->nbytes))) {
    fail(r, rc);
    return;
  }
  p = r->bytes;
  r->content_type =
      r->nbytes > 8 && memcmp(p, "\x89PNG", 4) == 0 ? "image/png"
      : r->nbytes > 3 && p[0] == 0xFF && p[1] == 0xD8 ? "image/jpeg"
      : r->nbytes > 12 && memcmp(p + 8, "WEBP", 4) == 0 ? "image/webp"
                                                       : "application/octet-stream";
  r->cache_private = 1;
}

/* ------------------------------------------------------------------------
** 5. Appointments: the three tabs (seed 001), one viewing, its .ics, the
** calendar feed.
*/

static void appointment_row(req *r, tesoro_cursor *c) {
  buf *b = &r->out;
  int64_t id = col_int(c, "id");
  buf_printf(b, "<div class=\"card row appointment\" id=\"appointment-%" PRId64
                "\">", id);
  photo(r, col_null(c, "photo_id") ? 0 : col_int(c, "photo_id"), col_text(c, "title"));
  buf_printf(b, "<div><a class=\"title\" href=\"/appointment/%" PRId64 "\">", id);
  buf_esc(b, col_text(c, "title"));
  buf_put(b, "</a><div class=\"muted\">");
  price(r, col_int(c, "price"), col_text(c, "currency"));
  buf_put(b, " · ");
  buf_esc(b, col_text(c, "ref"));
  buf_put(b, "</div>");
  if (!col_null(c, "start_at")) {
    buf_put(b, "<div class=\"when start\"><b>");
    when(r, col_int(c, "start_at"));
    buf_put(b, "</b></div>");
  }
  buf_put(b, "<div class=\"small muted preferred\">Preferred: ");
  preferred_list(r, col_text(c, "preferred"), "$");
  buf_put(b, "</div>");
  if (!col_null(c, "rating")) stars(r, col_int(c, "rating"));
  buf_put(b, "</div>");
  badge(r, col_text(c, "state"), col_text(c, "status_colour"));
  buf_put(b, "</div>");
}

static void get_appointments(req *r) {
  static const struct { const char *key, *label; int list; } tabs[] = {
      {"upcoming", "Upcoming", TESORO_LIST_UPCOMING},
      {"recent", "Recent", TESORO_LIST_RECENT},
      {"unconfirmed", "Unconfirmed", TESORO_LIST_UNCONFIRMED}};
  buf *b = &r->out, rows = {0};
  const char *tab = req_query(r, "tab");
  int64_t counts[3] = {0, 0, 0};
  size_t on = 0;
  int rc = TESORO_OK;
  for (size_t i = 0; tab && i < 3; i++)
    if (strcmp(tab, tabs[i].key) == 0) on = i;
  /* every tab's count, and the rows of the one shown */
  for (size_t i = 0; i < 3 && rc == TESORO_OK; i++) {
    tesoro_cursor *c = NULL;
    buf keep = r->out;
    rc = tesoro_client_appointments(r->h->t, r->client, tabs[i].list, &c);
    if (i == on) r->out = rows;
    while (rc == TESORO_OK && (rc = tesoro_cursor_next(c)) == TESORO_ROW) {
      counts[i]++;
      if (i == on) appointment_row(r, c);
      rc = TESORO_OK;
    }
    if (i == on) {
      rows = r->out;
      r->out = keep;
    }
    tesoro_cursor_free(c);
    if (rc == TESORO_DONE) rc = TESORO_OK;
  }
  if (rc < 0) {
    buf_free(&rows);
    fail(r, rc);
    return;
  }
  page_begin(r, "Appointments", NAV_CLIENT, "/appointments");
  buf_put(b, "<h1>Appointments</h1>");
  flash(r);
  buf_put(b, "<div class=\"tabs\">");
  for (size_t i = 0; i < 3; i++)
    buf_printf(b, "<a href=\"/appointments?tab=%s\" id=\"tab-%s\"%s>%s"
                  "<span class=\"n\">%" PRId64 "</span></a>",
               tabs[i].key, tabs[i].key, i == on ? " class=\"on\"" : "",
               tabs[i].label, counts[i]);
  buf_put(b, "</div>");
  if (rows.oom) b->oom = 1;
  if (rows.n) buf_putn(b, rows.p, rows.n);
  else buf_put(b, "<p class=\"muted\">No viewings here.</p>");
  buf_free(&rows);
  page_end(r);
}

static void get_appointment(req *r) {
  host *h = r->h;
  buf *b = &r->out;
  int64_t id = r->id[0], version;
  char *json = NULL, *s, *colour, *state, action[64];
  tesoro_cursor *c = NULL;
  events ev = {{0}};
  int rc;
  if ((rc = tesoro_entity_json(h->t, r->client, TESORO_ENTITY_APPOINTMENT, id,
                               &json)) ||
      (rc = allowed(r, r->client, TESORO_ENTITY_APPOINTMENT, id, &ev)) ||
      (rc = tesoro_appointment_notes(h->t, r->client, id, &c))) {
    tesoro_free(json);
    fail(r, rc);
    return;
  }
  version = json_int(json, "$.version", 0);
  s = json_text(json, "$.title");
  page_begin(r, s ? s : "Viewing", NAV_CLIENT, "/appointments");
  flash(r);
  buf_put(b, "<h1>");
  buf_esc(b, s);
  buf_put(b, " <span class=\"muted\">viewing</span></h1><div class=\"card\">");
  free(s);
  state = json_text(json, "$.state");
  colour = json_text(json, "$.status_colour");
  badge(r, state, colour);
  free(colour);
  buf_put(b, "<p class=\"muted\">");
  s = json_text(json, "$.address");
  buf_esc(b, s);
  free(s);
  s = json_text(json, "$.ref");
  buf_put(b, " · ");
  buf_esc(b, s);
  free(s);
  buf_printf(b, " · <a href=\"/property/%" PRId64 "\">the property</a></p>",
             json_int(json, "$.listing_id", 0));
  if (json_has(json, "$.start_at")) {
    buf_put(b, "<p class=\"when\" id=\"start\"><b>");
    when(r, json_int(json, "$.start_at", 0));
    buf_put(b, "</b> until ");
    when(r, json_int(json, "$.end_at", 0));
    buf_put(b, "</p>");
  }
  buf_put(b, "<p class=\"small muted\">Preferred: ");
  preferred_list(r, json, "$.preferred");
  buf_put(b, "</p>");
  if ((s = json_text(json, "$.end_reason")) != NULL) {
    buf_put(b, "<p>Reason: ");
    buf_esc(b, s);
    buf_put(b, "</p>");
    free(s);
  }
  if (json_has(json, "$.rating")) {
    buf_put(b, "<p id=\"rating\">Your rating: ");
    stars(r, json_int(json, "$.rating", 0));
    buf_put(b, "</p>");
  }
  buf_printf(b, "<p><a class=\"button secondary\" id=\"ics\" "
                "href=\"/appointment/%" PRId64 ".ics\">Add to calendar (.ics)"
                "</a></p></div>", id);

  if (allowed_has(&ev, "start_viewing")) {
    snprintf(action, sizeof action, "/appointment/%" PRId64 "/start", id);
    buf_put(b, "<div class=\"card\"><h2>It is the day</h2>");
    form_begin(r, action, NULL);
    hidden_int(r, "version", version);
    buf_put(b, "<button id=\"start-viewing\">Start viewing</button></form></div>");
  }
  if (allowed_has(&ev, "rate")) {
    snprintf(action, sizeof action, "/appointment/%" PRId64 "/rate", id);
    int64_t rated = json_int(json, "$.rating", 0); /* one rating, replaced */
    buf_printf(b, "<div class=\"card\"><h2>%s</h2>",
               rated ? "Change your rating" : "Rate the viewing");
    form_begin(r, action, "rate");
    hidden_int(r, "version", version);
    for (int i = 1; i <= 5; i++)
      buf_printf(b, "<label class=\"check\"><input type=\"radio\" name=\"stars\" "
                    "value=\"%d\" id=\"stars%d\"%s%s> %d ★</label>",
                 i, i, i == 1 ? " required" : "", i == rated ? " checked" : "",
                 i);
    buf_put(b, "<p><button id=\"rate\">Rate</button></p></form></div>");
  }
  if (allowed_has(&ev, "add_note")) {
    snprintf(action, sizeof action, "/appointment/%" PRId64 "/note", id);
    buf_put(b, "<div class=\"card\"><h2>Notes</h2>");
    while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
      buf_put(b, "<p class=\"note\">");
      buf_esc(b, col_text(c, "body"));
      buf_put(b, " <span class=\"muted small\">");
      when(r, col_int(c, "created_at"));
      buf_put(b, "</span></p>");
    }
    form_begin(r, action, "note");
    buf_put(b, "<textarea name=\"body\" id=\"note\" placeholder=\"What did you "
               "think?\" required></textarea><p><button id=\"add-note\">Add note"
               "</button></p></form></div>");
  }
  if (allowed_has(&ev, "cancel")) {
    snprintf(action, sizeof action, "/appointment/%" PRId64 "/cancel", id);
    /* host.js asks first (data-confirm): cancelling cannot be undone */
    buf_printf(b, "<div class=\"card\"><form method=\"post\" action=\"%s\" "
                  "data-confirm=\"Cancel this viewing?\"><input type=\"hidden\" "
                  "name=\"csrf\" value=\"%s\">", action, r->csrf);
    hidden_int(r, "version", version);
    buf_put(b, "<input type=\"text\" name=\"reason\" placeholder=\"Reason "
               "(optional)\"> <button class=\"danger\" id=\"cancel\">Cancel "
               "appointment</button></form></div>");
  }
  free(state);
  tesoro_cursor_free(c);
  tesoro_free(json);
  page_end(r);
}

static void post_appointment(req *r, const char *what) {
  tesoro *t = r->h->t;
  int64_t id = r->id[0], version = 0, stars_given = 0, note = 0;
  const char *text;
  int rc;
  req_field_int(r, "version", &version); /* absent: 0, no check */
  if (strcmp(what, "cancel") == 0) {
    text = req_field_get(r, "reason");
    rc = tesoro_appointment_cancel(t, r->client, id, text && *text ? text : NULL,
                                   version);
  } else if (strcmp(what, "start") == 0) {
    rc = tesoro_appointment_start_viewing(t, r->client, id, version);
  } else if (strcmp(what, "rate") == 0) {
    if (req_field_int(r, "stars", &stars_given)) {
      res_host_error(r, 400, "choose one to five stars");
      return;
    }
    rc = tesoro_appointment_rate(t, r->client, id, (int)stars_given, version);
  } else {
    text = req_field_get(r, "body");
    rc = tesoro_appointment_note_add(t, r->client, id, text ? text : "", &note);
  }
  if (rc != TESORO_OK) {
    fail(r, rc);
    return;
  }
  res_redirect(r, "/appointment/%" PRId64 "?ok=%s", id,
               strcmp(what, "cancel") == 0   ? "cancelled"
               : strcmp(what, "start") == 0  ? "started"
               : strcmp(what, "rate") == 0   ? "rated"
                                             : "noted");
}
static void post_cancel(req *r) { post_appointment(r, "cancel"); }
static void post_start(req *r) { post_appointment(r, "start"); }
static void post_rate(req *r) { post_appointment(r, "rate"); }
static void post_note(req *r) { post_appointment(r, "note"); }

/* The site's own address, for links inside calendar files. */
static void site(req *r, char *out, size_t len) {
  const char *hst = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Host");
  snprintf(out, len, "http://%s", hst && !strpbrk(hst, "/\\ \"<>") ? hst
                                                                   : "127.0.0.1");
}

static void get_ics(req *r) {
  char link[320], base[256];
  char *ics = NULL;
  int rc;
  site(r, base, sizeof base);
  snprintf(link, sizeof link, "%s/appointment/%" PRId64, base, r->id[0]);
  if ((rc = tesoro_appointment_ics(r->h->t, r->client, r->id[0], link, &ics))) {
    fail(r, rc);
    return;
  }
  buf_put(&r->out, ics);
  tesoro_free(ics);
  r->content_type = "text/calendar; charset=utf-8";
  snprintf(r->disposition_buf, sizeof r->disposition_buf,
           "attachment; filename=\"viewing-%" PRId64 ".ics\"", r->id[0]);
  r->disposition = r->disposition_buf;
}

/* The client's calendar feed: no cookie (calendar apps subscribe to a URL),
** so the URL carries the host's token for that client. */
static void get_feed(req *r) {
  int64_t client = r->id[0];
  char *ics = NULL;
  int rc;
  if (!feed_token_ok(r->h, client, req_query(r, "key"))) {
    res_host_error(r, 403, "this calendar feed's key is wrong");
    return;
  }
  if ((rc = tesoro_calendar_feed(r->h->t, client, client, &ics))) {
    fail(r, rc);
    return;
  }
  buf_put(&r->out, ics);
  tesoro_free(ics);
  r->content_type = "text/calendar; charset=utf-8";
}

/* ------------------------------------------------------------------------
** 6. The profile: language, the calendar feed, the tour again.
*/

static void get_profile(req *r) {
  host *h = r->h;
  buf *b = &r->out;
  static const char *const codes[][2] = {
      {"en", "English"}, {"nl", "Nederlands"}, {"de", "Deutsch"},
      {"fr", "Français"}, {"es", "Español"}, {"pt", "Português"},
      {"it", "Italiano"}, {"pl", "Polski"}, {"sv", "Svenska"}, {"no", "Norsk"}};
  const char *language = "en";
  char *json = NULL, *s, token[48], base[256];
  int64_t contact = 0;
  int rc;
  if ((rc = tesoro_actor_info(h->t, r->client, NULL, NULL, &contact)) ||
      (rc = tesoro_entity_json(h->t, r->client, TESORO_ENTITY_CONTACT, contact,
                               &json)) ||
      (rc = tesoro_portal_language(h->t, r->client, &language))) {
    tesoro_free(json);
    fail(r, rc);
    return;
  }
  page_begin(r, "Profile", NAV_CLIENT, "/profile");
  buf_put(b, "<h1>Profile</h1>");
  flash(r);
  buf_put(b, "<div class=\"card\"><b>");
  s = json_text(json, "$.name");
  buf_esc(b, s);
  free(s);
  buf_put(b, "</b><div class=\"muted\">");
  s = json_text(json, "$.email");
  buf_esc(b, s);
  free(s);
  buf_put(b, "</div></div><div class=\"card\"><h2>Language</h2>");
  tesoro_free(json);
  form_begin(r, "/profile/language", NULL);
  buf_put(b, "<select name=\"language\" id=\"language\">");
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
    buf_printf(b, "<option value=\"%s\"%s>%s</option>", codes[i][0],
               strcmp(codes[i][0], language) == 0 ? " selected" : "",
               codes[i][1]);
  buf_put(b, "</select> <button>Save</button></form></div>");
  /* the calendar feed: every viewing, to subscribe to once */
  feed_token(h, r->client, token);
  site(r, base, sizeof base);
  buf_put(b, "<div class=\"card\"><h2>Your calendar</h2><p class=\"muted "
             "small\">Subscribe to this address in Google, Apple or Outlook "
             "calendar: your viewings appear and stay up to date.</p>"
             "<input type=\"text\" readonly id=\"feed-url\" value=\"");
  buf_esc(b, base);
  buf_printf(b, "/calendar/%" PRId64 ".ics?key=%s\"></div>", r->client, token);
  buf_put(b, "<div class=\"card\"><h2>The tour</h2>");
  form_begin(r, "/tour", "inline");
  buf_put(b, "<input type=\"hidden\" name=\"action\" value=\"restart\">"
             "<button class=\"secondary\" id=\"restart-tour\">Restart the tour"
             "</button></form> <a class=\"button secondary\" href=\"/password\">"
             "Change password</a></div>");
  page_end(r);
}

static void post_language(req *r) {
  const char *language = req_field_get(r, "language");
  int rc = tesoro_portal_set_language(r->h->t, r->client,
                                      language ? language : "");
  if (rc != TESORO_OK) {
    fail(r, rc);
    return;
  }
  res_redirect(r, "/profile?ok=language");
}

/* ------------------------------------------------------------------------
** 7. The desk: an agent's viewing requests (confirm, reject), confirmed
** viewings (reschedule), completed ones (the client's rating and notes, a
** no-show) and the referral pipeline.  Staff sign in with the host's own
** logins (the config's staff lines): tesoro has no staff passwords.
*/

static void get_desk_login(req *r) {
  buf *b = &r->out;
  if (r->agent) {
    res_redirect(r, "/desk");
    return;
  }
  page_begin(r, "Sign in", NAV_NONE, NULL);
  buf_put(b, "<h1>Viewing desk</h1><div class=\"card\">");
  form_begin(r, "/desk/login", NULL);
  buf_put(b, "<label for=\"email\">Staff e-mail</label><input type=\"email\" "
             "id=\"email\" name=\"email\" autocomplete=\"username\" required>"
             "<label for=\"password\">Password</label><input type=\"password\" "
             "id=\"password\" name=\"password\" "
             "autocomplete=\"current-password\" required>"
             "<p><button id=\"desk-login\">Sign in</button></p></form></div>");
  page_end(r);
}

static void post_desk_login(req *r) {
  static char decoy[HOST_HASH_LEN]; /* the HTTP thread's: see web.c */
  const char *email = req_field_get(r, "email"), *pw = req_field_get(r, "password");
  const host_staff *s = email ? config_staff_by_email(&r->h->cfg, email) : NULL;
  int kind = 0, ok;
  int64_t agency = 0;
  if (!*decoy && crypto_pwhash_str(decoy, "decoy", 5,
                                   crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                   crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    res_host_error(r, 500, "out of memory");
    return;
  }
  /* an unknown e-mail costs the same hash check as a wrong password */
  ok = crypto_pwhash_str_verify(s ? s->hash : decoy, pw ? pw : "",
                                strlen(pw ? pw : "")) == 0 && s != NULL;
  if (ok && tesoro_actor_info(r->h->t, s->agent, &kind, &agency, NULL) == TESORO_OK)
    ok = kind == TESORO_ACTOR_AGENT && agency == r->h->cfg.agency;
  else
    ok = 0;
  if (!ok) {
    res_host_error(r, 403, "e-mail or password is wrong");
    return;
  }
  desk_login(r, s->agent);
  res_redirect(r, "/desk");
}

static void post_desk_logout(req *r) {
  desk_logout(r);
  res_redirect(r, "/desk/login");
}

/* One appointment on the desk, with the forms its state allows. */
static int desk_row(req *r, tesoro_cursor *c) {
  buf *b = &r->out;
  int64_t id = col_int(c, "id"), version = col_int(c, "version");
  const char *state = col_text(c, "state");
  char action[80];
  events ev = {{0}};
  int rc;
  if ((rc = allowed(r, r->agent, TESORO_ENTITY_APPOINTMENT, id, &ev))) return rc;
  buf_printf(b, "<div class=\"card desk-appointment\" id=\"desk-%" PRId64 "\">", id);
  badge(r, state, col_text(c, "status_colour"));
  buf_put(b, " <b>");
  buf_esc(b, col_text(c, "contact_name"));
  buf_put(b, "</b> — ");
  buf_esc(b, col_text(c, "title"));
  buf_put(b, " <span class=\"muted\">");
  buf_esc(b, col_text(c, "ref"));
  buf_put(b, ", ");
  buf_esc(b, col_text(c, "address"));
  buf_put(b, "</span>");
  if (!col_null(c, "start_at")) {
    buf_put(b, "<div class=\"when\"><b>");
    when(r, col_int(c, "start_at"));
    buf_put(b, "</b></div>");
  }
  if (allowed_has(&ev, "confirm")) {
    json_item *pref = NULL;
    int n = json_items(col_text(c, "preferred"), "$", &pref);
    snprintf(action, sizeof action, "/desk/appointment/%" PRId64 "/confirm", id);
    form_begin(r, action, "confirm");
    hidden_int(r, "version", version);
    buf_put(b, "<div class=\"small muted\">The client's preferred dates:</div>");
    for (int i = 1; i <= n; i++) {
      int64_t t = pref[i - 1].num;
      buf_printf(b, "<label class=\"check\"><input type=\"radio\" name=\"start\" "
                    "value=\"%" PRId64 "\" id=\"start-%" PRId64 "-%d\"%s> ",
                 t, id, i, i == 1 ? " checked" : "");
      when(r, t);
      buf_put(b, "</label>");
    }
    json_items_free(pref, n);
    buf_put(b, "<label class=\"check\"><input type=\"radio\" name=\"start\" "
               "value=\"other\"> another time:</label><input "
               "type=\"datetime-local\" name=\"other\" disabled> ");
    buf_printf(b, "<button id=\"confirm-%" PRId64 "\">Confirm</button></form>", id);
  }
  if (allowed_has(&ev, "reject")) {
    snprintf(action, sizeof action, "/desk/appointment/%" PRId64 "/reject", id);
    form_begin(r, action, "reject");
    hidden_int(r, "version", version);
    buf_printf(b, "<input type=\"text\" name=\"reason\" placeholder=\"Why none "
                  "of the dates works\" required> <button class=\"secondary\" "
                  "id=\"reject-%" PRId64 "\">Reject</button></form>", id);
  }
  if (allowed_has(&ev, "reschedule")) {
    snprintf(action, sizeof action, "/desk/appointment/%" PRId64 "/reschedule", id);
    form_begin(r, action, "reschedule");
    hidden_int(r, "version", version);
    buf_printf(b, "<input type=\"datetime-local\" name=\"other\" required> "
                  "<button class=\"secondary\" id=\"reschedule-%" PRId64 "\">"
                  "Reschedule</button></form>", id);
  }
  if (strcmp(state, "completed") == 0) {
    tesoro_cursor *notes = NULL;
    if (!col_null(c, "rating")) {
      buf_put(b, "<div class=\"rating\">The client's rating: ");
      stars(r, col_int(c, "rating"));
      buf_put(b, "</div>");
    }
    if (col_int(c, "no_show")) buf_put(b, "<div><b>No-show</b></div>");
    if ((rc = tesoro_appointment_notes(r->h->t, r->agent, id, &notes))) return rc;
    while ((rc = tesoro_cursor_next(notes)) == TESORO_ROW) {
      buf_put(b, "<div class=\"note\">“");
      buf_esc(b, col_text(notes, "body"));
      buf_put(b, "”</div>");
    }
    tesoro_cursor_free(notes);
    if (rc < 0) return rc;
  }
  if (allowed_has(&ev, "record_no_show")) {
    snprintf(action, sizeof action, "/desk/appointment/%" PRId64 "/no-show", id);
    form_begin(r, action, "inline");
    hidden_int(r, "version", version);
    buf_printf(b, "<button class=\"secondary\" id=\"no-show-%" PRId64 "\">The "
                  "client did not come</button></form>", id);
  }
  buf_put(b, "</div>");
  return TESORO_OK;
}

static void get_desk(req *r) {
  static const struct { int state; const char *title; } sections[] = {
      {TESORO_APPOINTMENT_PENDING, "Viewing requests"},
      {TESORO_APPOINTMENT_CONFIRMED, "Confirmed viewings"},
      {TESORO_APPOINTMENT_COMPLETED, "Completed viewings"}};
  buf *b = &r->out;
  const host_staff *me = config_staff_by_agent(&r->h->cfg, r->agent);
  tesoro_cursor *c = NULL;
  int rc = TESORO_OK;
  page_begin(r, "Viewing desk", NAV_DESK, NULL);
  buf_put(b, "<h1>Viewings of ");
  buf_esc(b, me ? me->email : "");
  buf_put(b, "</h1>");
  flash(r);
  for (size_t i = 0; i < 3 && rc == TESORO_OK; i++) {
    int n = 0;
    buf_printf(b, "<h2>%s</h2>", sections[i].title);
    rc = tesoro_agent_appointments(r->h->t, r->agent, 0, sections[i].state, 0, 0,
                                   &c);
    while (rc == TESORO_OK && (rc = tesoro_cursor_next(c)) == TESORO_ROW) {
      rc = desk_row(r, c);
      n++;
    }
    tesoro_cursor_free(c);
    c = NULL;
    if (rc >= 0) rc = TESORO_OK;
    if (n == 0) buf_put(b, "<p class=\"muted\">None.</p>");
  }
  /* the referral pipeline: how many referrals are in each stage */
  if (rc == TESORO_OK) {
    buf_put(b, "<h2>Referral pipeline</h2><div class=\"card\"><table "
               "id=\"pipeline\"><tr><th>Stage</th><th>Referrals</th></tr>");
    rc = tesoro_referral_pipeline(r->h->t, r->agent, 0, &c);
    while (rc == TESORO_OK && (rc = tesoro_cursor_next(c)) == TESORO_ROW) {
      buf_put(b, "<tr data-stage=\"");
      buf_esc(b, col_text(c, "name"));
      buf_put(b, "\"><td>");
      buf_esc(b, col_text(c, "name"));
      buf_printf(b, "</td><td class=\"count\">%" PRId64 "</td></tr>",
                 col_int(c, "count"));
      rc = TESORO_OK;
    }
    tesoro_cursor_free(c);
    buf_put(b, "</table></div>");
  }
  if (rc < 0) {
    fail(r, rc);
    return;
  }
  page_end(r);
}

static void post_desk(req *r, const char *what) {
  host *h = r->h;
  int64_t id = r->id[0], version = 0, start = 0;
  const char *text = req_field_get(r, "reason"), *choice = req_field_get(r, "start"),
             *other = req_field_get(r, "other");
  int rc;
  req_field_int(r, "version", &version);
  if (strcmp(what, "confirm") == 0 || strcmp(what, "reschedule") == 0) {
    /* a preferred date (its instant), or another agency-local time */
    if (choice && strcmp(choice, "other") != 0) {
      if (req_field_int(r, "start", &start)) start = 0;
    } else if (!other || local_parse(h->cfg.zone, other, &start) != 0) {
      res_host_error(r, 400, "choose a date and time (YYYY-MM-DDTHH:MM)");
      return;
    }
  }
  if (strcmp(what, "confirm") == 0)
    rc = tesoro_appointment_confirm(h->t, r->agent, id, start, 0, version);
  else if (strcmp(what, "reschedule") == 0)
    rc = tesoro_appointment_reschedule(h->t, r->agent, id, start, 0, version);
  else if (strcmp(what, "reject") == 0)
    rc = tesoro_appointment_reject(h->t, r->agent, id, text ? text : "", version);
  else
    rc = tesoro_appointment_record_no_show(h->t, r->agent, id, NULL, version);
  if (rc != TESORO_OK) {
    fail(r, rc);
    return;
  }
  res_redirect(r, "/desk?ok=%s",
               strcmp(what, "confirm") == 0      ? "confirmed"
               : strcmp(what, "reschedule") == 0 ? "rescheduled"
               : strcmp(what, "reject") == 0     ? "rejected"
                                                 : "no_show");
}
static void post_confirm(req *r) { post_desk(r, "confirm"); }
static void post_reject(req *r) { post_desk(r, "reject"); }
static void post_reschedule(req *r) { post_desk(r, "reschedule"); }
static void post_no_show(req *r) { post_desk(r, "no_show"); }

/* ------------------------------------------------------------------------
** 8. The routes.  A pattern's '#' is an id (1..18 digits).  Who may ask:
** anyone, a portal client past "set password", a client in any onboarding
** step, or a desk agent; the others are sent to the right login page.
*/

static void get_css(req *r) {
  buf_put(&r->out, host_css);
  r->content_type = "text/css; charset=utf-8";
}
static void get_js(req *r) {
  buf_put(&r->out, host_js);
  r->content_type = "text/javascript; charset=utf-8";
}
static void get_favicon(req *r) { r->status = 204; }

enum { ANYONE, CLIENT, ONBOARDING, DESK, VIEWER };

static const struct route {
  const char *method, *pattern;
  int who;
  void (*page)(req *);
} routes[] = {
    {"GET", "/static/host.css", ANYONE, get_css},
    {"GET", "/static/host.js", ANYONE, get_js},
    {"GET", "/favicon.ico", ANYONE, get_favicon},
    /* the portal */
    {"GET", "/login", ANYONE, get_login},
    {"POST", "/login", ANYONE, post_login},
    {"POST", "/logout", ANYONE, post_logout},
    {"GET", "/password", ONBOARDING, get_password},
    {"POST", "/password", ONBOARDING, post_password},
    {"GET", "/welcome", ONBOARDING, get_welcome},
    {"POST", "/welcome", ONBOARDING, post_welcome},
    {"GET", "/tour", ONBOARDING, get_tour},
    {"POST", "/tour", ONBOARDING, post_tour},
    {"GET", "/", CLIENT, get_home},
    {"GET", "/properties", CLIENT, get_properties},
    {"GET", "/property/#", CLIENT, get_property},
    {"POST", "/property/#/verdict", CLIENT, post_verdict},
    {"POST", "/property/#/viewing", CLIENT, post_viewing},
    {"GET", "/photo/#", VIEWER, get_photo},
    {"GET", "/appointments", CLIENT, get_appointments},
    {"GET", "/appointment/#", CLIENT, get_appointment},
    {"GET", "/appointment/#.ics", CLIENT, get_ics},
    {"POST", "/appointment/#/cancel", CLIENT, post_cancel},
    {"POST", "/appointment/#/start", CLIENT, post_start},
    {"POST", "/appointment/#/rate", CLIENT, post_rate},
    {"POST", "/appointment/#/note", CLIENT, post_note},
    {"GET", "/calendar/#.ics", ANYONE, get_feed},
    {"GET", "/profile", CLIENT, get_profile},
    {"POST", "/profile/language", CLIENT, post_language},
    /* the desk */
    {"GET", "/desk/login", ANYONE, get_desk_login},
    {"POST", "/desk/login", ANYONE, post_desk_login},
    {"POST", "/desk/logout", ANYONE, post_desk_logout},
    {"GET", "/desk", DESK, get_desk},
    {"POST", "/desk/appointment/#/confirm", DESK, post_confirm},
    {"POST", "/desk/appointment/#/reject", DESK, post_reject},
    {"POST", "/desk/appointment/#/reschedule", DESK, post_reschedule},
    {"POST", "/desk/appointment/#/no-show", DESK, post_no_show},
};

static int match(const char *pattern, const char *url, int64_t *ids) {
  int n = 0;
  while (*pattern && *url) {
    if (*pattern == '#') {
      int64_t v = 0;
      int digits = 0;
      while (*url >= '0' && *url <= '9' && digits < 18)
        v = v * 10 + (*url++ - '0'), digits++;
      if (digits == 0 || v == 0 || n == REQ_MAX_IDS) return 0;
      ids[n++] = v;
      pattern++;
    } else if (*pattern++ != *url++) {
      return 0;
    }
  }
  return *pattern == '\0' && *url == '\0';
}

int pages_dispatch(req *r) {
  const char *method = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;
  int path_matched = 0;
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
    const struct route *rt = &routes[i];
    if (!match(rt->pattern, r->url, r->id)) continue;
    path_matched = 1;
    if (strcmp(rt->method, method) != 0) continue;
    switch (rt->who) {
    case CLIENT:
      if (r->client && r->step == TESORO_PORTAL_SET_PASSWORD) {
        res_redirect(r, "/password");
        return 0;
      }
      /* fall through */
    case ONBOARDING:
      if (!r->client) {
        res_redirect(r, r->session_ended ? "/login?ok=ended" : "/login");
        return 0;
      }
      break;
    case DESK:
      if (!r->agent) {
        res_redirect(r, "/desk/login");
        return 0;
      }
      break;
    default:
      break;
    }
    rt->page(r);
    return 0;
  }
  if (path_matched)
    res_host_error(r, 405, "this page does not take that method");
  else
    res_host_error(r, 404, "there is no such page");
  return 0;
}
