/*
** seed.c — `host --db FILE --seed-demo`: a small agency to try the host on.
**
** Made with tesoro's public API only, as an installer or a CRM would: the
** agency and its staff; three listings taken from the owner's contact form
** through the mandate to publication, each with photos; a buyer, Bram, with
** two properties offered and a portal account (his temporary password is
** printed: the browser walk starts with it); a second buyer, Carla, with
** her own property and a pending viewing request (the walk's cross-client
** URL); and referrals in several stages for the desk's pipeline.  Then the
** host's config file.  Apart from serving: the host never makes data on
** its own.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "host.h"

typedef struct seed {
  tesoro *t;
  int64_t agency, admin, agent, website;
  const char *zone;
} seed;

/* Stop at the first refusal, with tesoro's message. */
#define CHECK(call)                                                          \
  do {                                                                       \
    int rc_ = (call);                                                        \
    if (rc_ < 0) {                                                           \
      fprintf(stderr, "host: seed: %s: %s: %s\n", #call, tesoro_errname(rc_), \
              tesoro_errmsg(s->t));                                          \
      return rc_;                                                            \
    }                                                                        \
  } while (0)

/* ------------------------------------------------------------------------
** A photo of a house, drawn as a PNG (palette, stored deflate blocks: no
** zlib needed) so that the pages show real images.
*/

static uint32_t crc32_of(const unsigned char *p, size_t n, uint32_t crc) {
  crc = ~crc;
  while (n--) {
    crc ^= *p++;
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1));
  }
  return ~crc;
}

static void put32(buf *b, uint32_t v) {
  unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                        (unsigned char)(v >> 8), (unsigned char)v};
  buf_putn(b, (const char *)x, 4);
}

static void png_chunk(buf *b, const char *type, const unsigned char *data,
                      size_t n) {
  uint32_t crc = crc32_of((const unsigned char *)type, 4, 0);
  put32(b, (uint32_t)n);
  buf_putn(b, type, 4);
  if (n) buf_putn(b, (const char *)data, n);
  put32(b, crc32_of(data, n, crc));
}

enum { W = 360, H = 240, SKY = 0, GRASS = 32, WALL, ROOF, GLASS, DOOR, SUN,
       PATH, TREE, TRUNK, COLOURS };

static int pixel(int x, int y, int mirror) {
  int dx, dy;
  if (mirror) x = W - 1 - x;
  dx = x - 300, dy = y - 48;
  if (dx * dx + dy * dy <= 22 * 22) return SUN;
  dx = x - 62, dy = y - 128;
  if (dx * dx + dy * dy <= 30 * 30) return TREE;
  if (x >= 57 && x <= 67 && y > 150 && y < 185) return TRUNK;
  if (y >= 60 && y < 112 && abs(x - 180) <= (y - 60) * 90 / 52) return ROOF;
  if (x >= 104 && x <= 256 && y >= 112 && y <= 188) {
    if ((x >= 122 && x <= 158 && y >= 126 && y <= 156) ||
        (x >= 202 && x <= 238 && y >= 126 && y <= 156))
      return (x == 140 || y == 141) ? WALL : GLASS;
    if (x >= 168 && x <= 192 && y >= 146) return DOOR;
    return WALL;
  }
  if (y > 180) {
    if (y > 188 && abs(x - 180) <= 12 + (y - 188) / 2) return PATH;
    return GRASS;
  }
  return SKY + y * 32 / 181;
}

static unsigned char *house_png(const unsigned char wall[3], int mirror,
                                size_t *size) {
  static const unsigned char fixed[][3] = {
      {92, 158, 84}, {0, 0, 0},       {146, 58, 48},  {250, 232, 160},
      {96, 62, 40},  {255, 206, 84},  {206, 194, 170}, {52, 122, 64},
      {110, 78, 50}};
  unsigned char pal[COLOURS * 3], ihdr[13], *raw, *z;
  size_t rawn = (size_t)H * (W + 1), zn = 0, off = 0;
  uint32_t a = 1, bsum = 0;
  buf b = {0};
  for (int i = 0; i < 32; i++) { /* the sky, light towards the horizon */
    pal[3 * i] = (unsigned char)(112 + i * 3);
    pal[3 * i + 1] = (unsigned char)(172 + i * 2);
    pal[3 * i + 2] = (unsigned char)(232 + i / 2);
  }
  memcpy(pal + 3 * GRASS, fixed, sizeof fixed);
  memcpy(pal + 3 * WALL, wall, 3);
  raw = malloc(rawn);
  z = malloc(rawn + rawn / 65535 * 5 + 32);
  if (raw == NULL || z == NULL) {
    free(raw);
    free(z);
    return NULL;
  }
  for (int y = 0; y < H; y++) {
    raw[(size_t)y * (W + 1)] = 0; /* filter: none */
    for (int x = 0; x < W; x++)
      raw[(size_t)y * (W + 1) + 1 + (size_t)x] = (unsigned char)pixel(x, y, mirror);
  }
  /* zlib: header, stored blocks of at most 65535 bytes, Adler-32 */
  z[zn++] = 0x78;
  z[zn++] = 0x01;
  while (off < rawn) {
    size_t n = rawn - off > 65535 ? 65535 : rawn - off;
    z[zn++] = off + n == rawn;
    z[zn++] = (unsigned char)n;
    z[zn++] = (unsigned char)(n >> 8);
    z[zn++] = (unsigned char)~n;
    z[zn++] = (unsigned char)(~n >> 8);
    memcpy(z + zn, raw + off, n);
    zn += n;
    off += n;
  }
  for (size_t i = 0; i < rawn; i++) {
    a = (a + raw[i]) % 65521;
    bsum = (bsum + a) % 65521;
  }
  z[zn++] = (unsigned char)(bsum >> 8);
  z[zn++] = (unsigned char)bsum;
  z[zn++] = (unsigned char)(a >> 8);
  z[zn++] = (unsigned char)a;
  buf_putn(&b, "\x89PNG\r\n\x1a\n", 8);
  memset(ihdr, 0, sizeof ihdr);
  ihdr[2] = W >> 8, ihdr[3] = W & 255, ihdr[6] = H >> 8, ihdr[7] = H & 255;
  ihdr[8] = 8;  /* bits per index */
  ihdr[9] = 3;  /* palette */
  png_chunk(&b, "IHDR", ihdr, sizeof ihdr);
  png_chunk(&b, "PLTE", pal, sizeof pal);
  png_chunk(&b, "IDAT", z, zn);
  png_chunk(&b, "IEND", NULL, 0);
  free(raw);
  free(z);
  if (b.oom) {
    buf_free(&b);
    return NULL;
  }
  *size = b.n;
  return (unsigned char *)b.p;
}

/* ------------------------------------------------------------------------
** The world.
*/

static const char signed_mandate[] =
    "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n"
    "%%EOF\n";

static int64_t find_task(seed *s, int64_t mandate) {
  tesoro_cursor *c = NULL;
  int64_t task = 0;
  if (tesoro_tasks(s->t, s->agent, TESORO_ENTITY_MANDATE, mandate, &c) == TESORO_OK)
    while (tesoro_cursor_next(c) == TESORO_ROW)
      if (strcmp(tesoro_cursor_text(c, tesoro_cursor_index(c, "kind")),
                 "review_seller_form") == 0)
        task = tesoro_cursor_int(c, tesoro_cursor_index(c, "id"));
  tesoro_cursor_free(c);
  return task;
}

/* An owner's contact form, through the mandate, to a published listing
** with two photos. */
static int make_listing(seed *s, const char *owner, const char *email,
                        int type, const char *location, const char *form,
                        const char *details, const unsigned char wall[3],
                        int64_t *out_listing) {
  int64_t room, client, mandate, proposal, doc, listing;
  CHECK(tesoro_contact_request_submit(s->t, s->website, owner, email, type,
                                      location, 0, NULL, NULL, &room, &client));
  CHECK(tesoro_room_start_onboarding(s->t, s->agent, room, 1, 0, &mandate));
  CHECK(tesoro_mandate_propose(s->t, s->agent, mandate,
                               TESORO_COMMISSION_PERCENTAGE, 150, NULL, 1, 180,
                               0, &proposal));
  CHECK(tesoro_mandate_accept(s->t, client, mandate, proposal, 0, NULL));
  CHECK(tesoro_mandate_share_form(s->t, s->agent, mandate, 0));
  CHECK(tesoro_document_add(s->t, client, TESORO_ENTITY_MANDATE, mandate,
                            TESORO_DOC_SIGNED_MANDATE, "mandate-signed.pdf",
                            "application/pdf", signed_mandate,
                            (int64_t)sizeof signed_mandate - 1, &doc));
  CHECK(tesoro_mandate_submit_form(s->t, client, mandate, form, 0));
  CHECK(tesoro_task_complete(s->t, s->agent, find_task(s, mandate), 0));
  CHECK(tesoro_mandate_validate(s->t, s->agent, mandate, 0, &listing));
  CHECK(tesoro_listing_update(s->t, s->agent, listing, details, 0));
  for (int mirror = 0; mirror < 2; mirror++) {
    size_t n = 0;
    unsigned char *png = house_png(wall, mirror, &n);
    int rc;
    if (png == NULL) return TESORO_ENOMEM;
    rc = tesoro_document_add(s->t, s->agent, TESORO_ENTITY_LISTING, listing,
                             TESORO_DOC_PHOTO, mirror ? "garden.png" : "front.png",
                             "image/png", png, (int64_t)n, &doc);
    free(png);
    CHECK(rc);
  }
  CHECK(tesoro_listing_publish(s->t, s->agent, listing, 0));
  *out_listing = listing;
  return TESORO_OK;
}

static int make_referral(seed *s, const char *name, const char *email,
                         int stage, const char *data) {
  int64_t contact, referral;
  CHECK(tesoro_contact_create(s->t, s->agent, name, email, NULL, "en", &contact));
  CHECK(tesoro_referral_create(s->t, s->agent, contact, 0, &referral));
  if (stage) CHECK(tesoro_referral_move(s->t, s->agent, referral, stage, data, 0));
  return TESORO_OK;
}

static int add_staff(host_config *cfg, int64_t agent, const char *email,
                     const char *password) {
  host_staff *st = &cfg->staff[cfg->nstaff];
  st->agent = agent;
  snprintf(st->email, sizeof st->email, "%s", email);
  if (crypto_pwhash_str(st->hash, password, strlen(password),
                        crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    return -1;
  cfg->nstaff++;
  return 0;
}

static int world(seed *s, host_config *cfg, char **temp_password,
                 int64_t *carla_appointment) {
  static const unsigned char cream[3] = {236, 222, 196},
                             brick[3] = {190, 104, 78},
                             slate[3] = {150, 170, 190};
  int64_t canal, park, amersfoort, bram, carla, deal, dp, offered, account,
      carla_client, when_at;
  char *carla_temp = NULL, day[16], text[64], data[64];
  int step, rc;
  CHECK(tesoro_agency_create(s->t, "Tesoro Homes", s->zone, "EUR",
                             "Alice Admin", "alice@tesoro.example", &s->agency,
                             &s->admin));
  CHECK(tesoro_agent_create(s->t, s->admin, "Andy Agent", "andy@tesoro.example",
                            TESORO_ROLE_AGENT, &s->agent));
  CHECK(tesoro_agency_website_actor(s->t, s->admin, s->agency, &s->website));
  CHECK(tesoro_agency_set_portal(s->t, s->admin, 1));

  CHECK(make_listing(
      s, "Olivia Owner", "olivia@example.com", TESORO_PROPERTY_HOUSE,
      "Utrecht, Oudegracht",
      "{\"full_name\":\"Olivia Owner\",\"email\":\"olivia@example.com\","
      "\"phone\":\"+31 6 5555 0101\",\"address\":\"Oudegracht 12, Utrecht\","
      "\"property_type\":\"house\",\"title\":\"Canal house on the Oudegracht\","
      "\"price\":65000000,\"bedrooms\":4,\"bathrooms\":2,\"floor_area\":210,"
      "\"energy_label\":\"C\"}",
      "{\"description\":\"Four floors of light on the canal, with a wharf "
      "cellar and a garden behind.\",\"longitude\":5.1214,\"latitude\":52.0894}",
      cream, &canal));
  CHECK(make_listing(
      s, "Pieter Park", "pieter@example.com", TESORO_PROPERTY_APARTMENT,
      "Amsterdam, Vondelpark",
      "{\"full_name\":\"Pieter Park\",\"email\":\"pieter@example.com\","
      "\"phone\":\"+31 6 5555 0303\",\"address\":\"Vondelstraat 80, Amsterdam\","
      "\"property_type\":\"apartment\",\"title\":\"Apartment by the Vondelpark\","
      "\"price\":49500000,\"bedrooms\":2,\"bathrooms\":1,\"floor_area\":84,"
      "\"energy_label\":\"B\"}",
      "{\"description\":\"Second floor, a balcony over the park.\"}", slate,
      &park));
  CHECK(make_listing(
      s, "Anna Amersfoort", "anna@example.com", TESORO_PROPERTY_HOUSE,
      "Amersfoort, Zonnehof",
      "{\"full_name\":\"Anna Amersfoort\",\"email\":\"anna@example.com\","
      "\"phone\":\"+31 6 5555 0404\",\"address\":\"Zonnehof 3, Amersfoort\","
      "\"property_type\":\"house\",\"title\":\"Family house in Amersfoort\","
      "\"price\":42500000,\"bedrooms\":3,\"bathrooms\":1,\"floor_area\":128,"
      "\"energy_label\":\"A\"}",
      "{\"description\":\"A quiet street, a school round the corner.\"}", brick,
      &amersfoort));

  /* Bram: the walk's client; logs in first with the temporary password. */
  CHECK(tesoro_contact_create(s->t, s->agent, "Bram Buyer", "bram@example.com",
                              "+31 6 5555 0202", "en", &bram));
  CHECK(tesoro_deal_create(s->t, s->agent, bram, "Family house in Utrecht", &deal));
  CHECK(tesoro_deal_offer(s->t, s->agent, deal, park, &dp));
  CHECK(tesoro_deal_offer(s->t, s->agent, deal, canal, &dp));
  CHECK(tesoro_portal_account_create(s->t, s->agent, bram, &account,
                                     temp_password));

  /* Carla: another client, with a viewing request of her own. */
  CHECK(tesoro_contact_create(s->t, s->agent, "Carla Client",
                              "carla@example.com", NULL, "en", &carla));
  CHECK(tesoro_deal_create(s->t, s->agent, carla, "House near Amersfoort", &deal));
  CHECK(tesoro_deal_offer(s->t, s->agent, deal, amersfoort, &offered));
  CHECK(tesoro_portal_account_create(s->t, s->agent, carla, &account, &carla_temp));
  rc = tesoro_portal_login(s->t, s->website, "carla@example.com", carla_temp,
                           &carla_client, &step);
  if (rc == TESORO_OK)
    rc = tesoro_portal_password_change(s->t, carla_client, carla_temp,
                                       "Carla#Demo2026");
  tesoro_free(carla_temp);
  CHECK(rc);
  CHECK(tesoro_portal_welcome_finish(s->t, carla_client));
  CHECK(tesoro_portal_tour_skip(s->t, carla_client));
  local_date(s->zone, tesoro_now(s->t) + 4 * 86400, day, sizeof day);
  snprintf(text, sizeof text, "%sT14:00", day);
  if (local_parse(s->zone, text, &when_at) != 0) return TESORO_EINVAL;
  CHECK(tesoro_appointment_request(s->t, carla_client, offered, &when_at, 1,
                                   carla_appointment));

  /* Referrals in several stages, for the desk's pipeline. */
  CHECK(make_referral(s, "Vic Voicemail", "vic@example.com", 0, NULL));
  CHECK(make_referral(s, "Rita Referred", "rita@example.com",
                      TESORO_STAGE_CONNECTED, "{\"contacted_via\":\"phone\"}"));
  snprintf(data, sizeof data, "{\"meeting_at\":%" PRId64 "}",
           tesoro_now(s->t) + 2 * 86400);
  CHECK(make_referral(s, "Sam Seller", "sam@example.com",
                      TESORO_STAGE_MEETING_SCHEDULED, data));
  local_date(s->zone, tesoro_now(s->t) + 10 * 86400, day, sizeof day);
  snprintf(data, sizeof data, "{\"list_date\":\"%s\"}", day);
  CHECK(make_referral(s, "Tina Tenant", "tina@example.com",
                      TESORO_STAGE_COMING_SOON, data));
  CHECK(make_referral(s, "Uma Undecided", "uma@example.com", TESORO_STAGE_FAILED,
                      "{\"reason\":\"Chose another agency\"}"));

  /* the host's config: what it must know that the API does not return */
  cfg->agency = s->agency;
  cfg->website = s->website;
  snprintf(cfg->name, sizeof cfg->name, "Tesoro Homes");
  snprintf(cfg->zone, sizeof cfg->zone, "%s", s->zone);
  snprintf(cfg->currency, sizeof cfg->currency, "EUR");
  randombytes_buf(cfg->key, sizeof cfg->key);
  if (add_staff(cfg, s->admin, "alice@tesoro.example", "Alice#Desk2026") ||
      add_staff(cfg, s->agent, "andy@tesoro.example", "Andy#Desk2026")) {
    fprintf(stderr, "host: seed: cannot hash the desk passwords\n");
    return TESORO_ENOMEM;
  }
  CHECK(tesoro_check(s->t));
  return TESORO_OK;
}

int seed_demo(const char *db_path, const char *config_path,
              const char *clock_file, const char *zone) {
  seed s;
  host clock;
  host_config cfg;
  char *temp = NULL;
  int64_t carla_appointment = 0;
  int rc;
  if (access(db_path, F_OK) == 0 || access(config_path, F_OK) == 0) {
    fprintf(stderr, "host: seed: %s or %s exists already; the demo goes into "
                    "a new file\n", db_path, config_path);
    return -1;
  }
  memset(&s, 0, sizeof s);
  memset(&clock, 0, sizeof clock);
  memset(&cfg, 0, sizeof cfg);
  s.zone = zone;
  clock.clock_file = clock_file;
  rc = tesoro_open(db_path, &s.t);
  if (rc != TESORO_OK)
    fprintf(stderr, "host: seed: %s: %s\n", db_path, tesoro_errmsg(s.t));
  if (rc == TESORO_OK) rc = tesoro_clock_set(s.t, host_now(&clock));
  if (rc == TESORO_OK) rc = world(&s, &cfg, &temp, &carla_appointment);
  if (rc != TESORO_OK) { /* CHECK has said which call, and why */
    fprintf(stderr, "host: seed: no demo was made (%s)\n", tesoro_errname(rc));
    tesoro_free(temp);
    tesoro_close(s.t);
    return -1;
  }
  tesoro_close(s.t);
  if (config_write(config_path, &cfg) != 0) {
    fprintf(stderr, "host: seed: cannot write %s\n", config_path);
    tesoro_free(temp);
    return -1;
  }
  printf("seeded Tesoro Homes (%s) into %s; the host's config is %s\n"
         "  portal: bram@example.com, temporary password %s\n"
         "  portal: carla@example.com, password Carla#Demo2026 (her viewing "
         "request: appointment %" PRId64 ")\n"
         "  desk:   andy@tesoro.example, password Andy#Desk2026; "
         "alice@tesoro.example, password Alice#Desk2026\n",
         zone, db_path, config_path, temp, carla_appointment);
  fflush(stdout);
  sodium_memzero(&cfg, sizeof cfg);
  tesoro_free(temp);
  return 0;
}
