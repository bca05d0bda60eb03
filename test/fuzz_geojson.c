/*
** fuzz_geojson.c — GeoJSON search areas (RFC 7946, SPEC §6) through the
** search calls and tesoro_matches.
**
** The input is the text of an `area` value.  It goes in three ways:
**   1. tesoro_search_save for bob (a new CRM search, criteria {"area": …});
**   2. tesoro_search_save editing ada's existing search with the same
**      criteria;
**   3. a website "saved_search" event for a new web customer with the same
**      area (tesoro_exchange_ingest).
** What must hold:
**   - no crash or sanitizer report; each answer is TESORO_OK or EINVAL with
**     a message; a refusal leaves the machines' counts unchanged;
**   - when the input is valid JSON on its own, the three agree: all accept
**     or all refuse (the criteria are validated the same way everywhere);
**   - an accepted area is searched as documented: tesoro_matches lists the
**     agency's published listings inside the polygon (even-odd, holes
**     excluded) or within the radius of the centre (great circle), and
**     nothing else — recomputed here from the input, independently — with
**     distance_m the great-circle distance from the centre (or NULL without
**     one); the CRM search and the web search match the same listings;
**   - tesoro_check passes after each accepted area.
*/
#include "fuzz_common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The agency's published listings and where the world put them. */
typedef struct fz_place {
  int64_t id;
  double lon, lat;
} fz_place;

#define FZ_EARTH_M 6371008.8 /* mean radius; tolerance below covers others */
#define FZ_PI 3.14159265358979323846

static double fz_rad(double deg) { return deg * FZ_PI / 180.0; }

static double fz_haversine(double lon1, double lat1, double lon2, double lat2) {
  double dlat = fz_rad(lat2 - lat1), dlon = fz_rad(lon2 - lon1);
  double a = sin(dlat / 2) * sin(dlat / 2) + cos(fz_rad(lat1)) *
                                                 cos(fz_rad(lat2)) *
                                                 sin(dlon / 2) * sin(dlon / 2);
  if (a > 1)
    a = 1;
  return 2 * FZ_EARTH_M * asin(sqrt(a));
}

/* Even-odd test of (lon, lat) against every ring of the area's polygon,
** read from the input by the private SQLite connection.  *inside: in the
** outline and in no hole.  Returns 0 when the point is too close to an edge
** for the verdict to be certain (the caller then skips it). */
static int fz_in_polygon(const char *area, double lon, double lat,
                         int *inside) {
  struct sqlite3_stmt *s =
      fz_jprep("SELECT r.key, p.key, json_extract(p.value, '$[0]'), "
               "json_extract(p.value, '$[1]') FROM json_each(?1, "
               "'$.polygon.coordinates') "
               "r, json_each(r.value) p ORDER BY r.key, p.key");
  int64_t ring = -1;
  int crossings = 0, certain = 1, in_outline = 0, in_hole = 0;
  double plon = 0, plat = 0;
  sqlite3_bind_text(s, 1, area, -1, SQLITE_STATIC);
  for (;;) {
    int row = sqlite3_step(s) == SQLITE_ROW;
    int64_t r = row ? sqlite3_column_int64(s, 0) : -2;
    double x = row ? sqlite3_column_double(s, 2) : 0;
    double y = row ? sqlite3_column_double(s, 3) : 0;
    if (r != ring) {
      if (ring == 0)
        in_outline = crossings % 2;
      else if (ring > 0 && crossings % 2)
        in_hole = 1;
      ring = r;
      crossings = 0;
      if (!row)
        break;
    } else if ((plat > lat) != (y > lat)) {
      /* one operation per statement: no contraction into an FMA */
      double dx = x - plon;
      double dy = lat - plat;
      double span = y - plat;
      double cross = dx * dy;
      cross = cross / span;
      cross = cross + plon;
      if (fabs(lon - cross) <= 1e-9 * (1 + fabs(cross)))
        certain = 0;
      if (lon < cross)
        crossings++;
    }
    plon = x;
    plat = y;
  }
  sqlite3_finalize(s);
  *inside = in_outline && !in_hole;
  return certain;
}

/* Number of an area (json_extract as double); NAN when absent. */
static double fz_area_number(const char *area, const char *path) {
  struct sqlite3_stmt *s = fz_jprep("SELECT json_extract(?1, ?2)");
  double v = NAN;
  sqlite3_bind_text(s, 1, area, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, path, -1, SQLITE_STATIC);
  if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
    v = sqlite3_column_double(s, 0);
  sqlite3_finalize(s);
  return v;
}

/* The listings `customer` matches through `search` as a bit set over
** places[], checking each row's distance on the way. */
static unsigned fz_matched(fz_world *w, int64_t customer, int64_t search,
                           const fz_place *places, int nplaces,
                           const char *area) {
  tesoro_cursor *c = NULL;
  unsigned set = 0;
  int rc, i;
  double clon = fz_area_number(area, "$.centre.coordinates[0]");
  double clat = fz_area_number(area, "$.centre.coordinates[1]");
  fz_expect(w, tesoro_matches(w->t, w->agent, customer, &c), FZ_BIT(TESORO_OK),
            "tesoro_matches");
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
    int64_t sid = tesoro_cursor_int(c, tesoro_cursor_index(c, "search_id"));
    int64_t lid = tesoro_cursor_int(c, tesoro_cursor_index(c, "listing_id"));
    int dcol = tesoro_cursor_index(c, "distance_m");
    if (sid != search)
      continue;
    for (i = 0; i < nplaces && places[i].id != lid; i++) {
    }
    if (i == nplaces)
      fz_fail("tesoro_matches lists listing %lld, not a published listing of "
              "the agency",
              (long long)lid);
    set |= 1u << i;
    if (isnan(clon)) {
      if (!tesoro_cursor_isnull(c, dcol))
        fz_fail("distance_m is %g for an area without a centre",
                tesoro_cursor_double(c, dcol));
    } else {
      double got = tesoro_cursor_double(c, dcol);
      double want = fz_haversine(clon, clat, places[i].lon, places[i].lat);
      if (tesoro_cursor_isnull(c, dcol) || !isfinite(got) || got < 0 ||
          fabs(got - want) > 1e-5 * want + 1e-3)
        fz_fail("distance_m of listing %lld is %g; the great circle gives %g",
                (long long)lid, got, want);
    }
  }
  tesoro_cursor_free(c);
  if (rc != TESORO_DONE)
    fz_fail("tesoro_matches cursor: %s", tesoro_errmsg(w->t));
  return set;
}

/* What the area must match, recomputed; *certain is cleared when a point
** sits on an edge or on the circle. */
static unsigned fz_expected(const char *area, const fz_place *places,
                            int nplaces, int *certain) {
  unsigned set = 0;
  double clon = fz_area_number(area, "$.centre.coordinates[0]");
  double clat = fz_area_number(area, "$.centre.coordinates[1]");
  double radius = fz_area_number(area, "$.radius");
  int has_polygon = fz_json_type(area, "$.polygon")[0] != 0;
  *certain = 1;
  for (int i = 0; i < nplaces; i++) {
    int in = 0;
    if (has_polygon && !fz_in_polygon(area, places[i].lon, places[i].lat, &in))
      *certain = 0;
    if (!in && !isnan(clon) && !isnan(radius)) {
      double d = fz_haversine(clon, clat, places[i].lon, places[i].lat);
      if (fabs(d - radius) <= 1e-5 * radius + 1e-3)
        *certain = 0;
      in = d <= radius;
    }
    if (in)
      set |= 1u << i;
  }
  return set;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_world *w = fz_world_get();
  const fz_place places[] = {{w->listing, 5.12, 52.09},
                             {w->listing_east, 179.99, -16.5},
                             {w->listing_pole, 10.0, 89.9}};
  const int nplaces = (int)(sizeof places / sizeof places[0]);
  char *area = fz_strndup(data, size), *criteria, *event, *before, *res = NULL;
  size_t clen = size + 16, elen = size + 256;
  int64_t search = 0, edited = 0, customer = 0, web_customer = 0,
          web_search = 0;
  int rc_new, rc_edit, rc_web, valid = fz_json_valid(area);
  const unsigned ok_or_einval = FZ_BIT(TESORO_OK) | FZ_BIT(TESORO_EINVAL);

  criteria = malloc(clen);
  event = malloc(elen);
  if (!criteria || !event)
    fz_fail("out of memory");
  snprintf(criteria, clen, "{\"area\":%s}", area);
  snprintf(event, elen,
           "{\"source_id\":\"geo\",\"type\":\"saved_search\",\"customer\":"
           "\"geo\",\"at\":%lld,\"search_id\":\"g\",\"area\":%s}",
           (long long)(FZ_NOW - 60), area);
  fz_input_begin(w);

  before = fz_stats(w);
  rc_new = fz_expect(
      w,
      tesoro_search_save(w->t, w->agent, w->contact2, 0, criteria, 1, &search),
      ok_or_einval, "tesoro_search_save (new)");
  fz_refused_kept(w, rc_new, before, "tesoro_search_save");

  before = fz_stats(w);
  rc_edit = fz_expect(w,
                      tesoro_search_save(w->t, w->agent, w->contact, w->search,
                                         criteria, 0, &edited),
                      ok_or_einval, "tesoro_search_save (edit)");
  fz_refused_kept(w, rc_edit, before, "tesoro_search_save (edit)");
  if (rc_edit == TESORO_OK && edited != w->search)
    fz_fail("editing search %lld answered search %lld", (long long)w->search,
            (long long)edited);

  before = fz_stats(w);
  rc_web = fz_expect(w, tesoro_exchange_ingest(w->t, w->website, event, &res),
                     ok_or_einval, "tesoro_exchange_ingest (saved_search)");
  fz_refused_kept(w, rc_web, before, "an area event");

  if (valid && (rc_new != rc_edit || rc_new != rc_web))
    fz_fail("the same area is %s by a new CRM search, %s by an edit and %s by "
            "a website event",
            tesoro_errname(rc_new), tesoro_errname(rc_edit),
            tesoro_errname(rc_web));

  if (rc_new == TESORO_OK) {
    int certain;
    unsigned want = fz_expected(area, places, nplaces, &certain), got;
    fz_require(w,
               tesoro_contact_customer(w->t, w->agent, w->contact2, &customer),
               "tesoro_contact_customer");
    got = fz_matched(w, customer, search, places, nplaces, area);
    if (getenv("FZ_VERBOSE"))
      fprintf(stderr, "fz: matches %#x, recomputed %#x%s\n", got, want,
              certain ? "" : " (a point on an edge: not compared)");
    if (certain && got != want)
      fz_fail("tesoro_matches found listings %#x inside the area; they are %#x",
              got, want);
    if (rc_web == TESORO_OK) {
      char *id = fz_json_text(res, "$.entity_id");
      unsigned web;
      web_search = id ? strtoll(id, NULL, 10) : 0;
      free(id);
      fz_require(w, tesoro_customer_find(w->t, w->agent, "geo", &web_customer),
                 "tesoro_customer_find");
      web = fz_matched(w, web_customer, web_search, places, nplaces, area);
      if (web != got)
        fz_fail("the web search matches %#x, the CRM search %#x", web, got);
    }
    {
      tesoro_cursor *c = NULL;
      fz_require(w, tesoro_customer_searches(w->t, w->agent, customer, &c),
                 "tesoro_customer_searches");
      fz_drain(w, c);
    }
  }
  if (rc_new == TESORO_OK || rc_edit == TESORO_OK || rc_web == TESORO_OK)
    fz_check(w, "an accepted area");
  tesoro_free(res);
  fz_input_end(w);
  free(area);
  free(criteria);
  free(event);
  return 0;
}
