/*
** workflows.c — the main job of `make example`: a day at the agency, on a
** database file.  One property owner walks from the contact form to a
** published listing; then a buyer gets a portal account from the CRM, logs
** in, sets his password, goes through the onboarding, marks the property
** interesting and requests a viewing, which he rates afterwards; the
** viewing is written as an .ics file; then a
** referral goes through the pipeline to closed_paid, failing once on the
** way and coming back; then the website sends a batch of events about its
** visitors, and the CRM shows its call list and matches.  Each
** step is printed; then the histories and the outbox the host would
** deliver.  Usage: workflows_example DB_FILE [ICS_FILE]
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "tesoro.h"

static tesoro *db;

/* Stop at the first failure with tesoro's own message. */
static void check(int rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "%s failed: %s (%s)\n", what, tesoro_errmsg(db),
            tesoro_errname(rc));
    tesoro_close(db);
    exit(1);
  }
}

static void step(const char *what, int rc) {
  check(rc, what);
  printf("  ok  %s\n", what);
}

static void print_state(int64_t actor, int entity, int64_t id, const char *name) {
  const char *state;
  int64_t version;
  check(tesoro_entity_state(db, actor, entity, id, &state, &version), "state");
  printf("      %s %lld is %s (version %lld)\n", name, (long long)id, state,
         (long long)version);
}

/* Print every row of a cursor, one line per row, as name=value pairs. */
static void print_cursor(tesoro_cursor *c, const char *const *columns) {
  int rc;
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
    printf("     ");
    for (int i = 0; columns[i]; i++) {
      int col = tesoro_cursor_index(c, columns[i]);
      const char *v = tesoro_cursor_text(c, col);
      printf(" %s=%s", columns[i], v ? v : "-");
    }
    printf("\n");
  }
  check(rc, "cursor");
  tesoro_cursor_free(c);
}

/* Find the open task of `kind` about (entity, id). */
static int64_t find_task(int64_t actor, int entity, int64_t id, const char *kind) {
  tesoro_cursor *c;
  int64_t task = 0;
  check(tesoro_tasks(db, actor, entity, id, &c), "tasks");
  while (tesoro_cursor_next(c) == TESORO_ROW)
    if (strcmp(tesoro_cursor_text(c, tesoro_cursor_index(c, "kind")), kind) == 0)
      task = tesoro_cursor_int(c, tesoro_cursor_index(c, "id"));
  tesoro_cursor_free(c);
  return task;
}

/* A tiny JPEG header: enough for tesoro's magic-byte check. */
static const unsigned char photo[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J',
                                      'F',  'I',  'F',  0x00, 0x01, 0x01, 0x00,
                                      0xFF, 0xD9};

/* Print one of the client's appointment lists. */
static void print_list(int64_t client, int list, const char *name) {
  static const char *const cols[] = {"id", "state", "status_colour", "title",
                                     "preferred", "start_at", "price", "ref",
                                     "photo_id", "rating", NULL};
  tesoro_cursor *c;
  printf("      %s:\n", name);
  check(tesoro_client_appointments(db, client, list, &c), "appointments");
  print_cursor(c, cols);
}

/* A tiny valid-looking PDF: tesoro checks the magic bytes. */
static const char signed_mandate[] =
    "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

int main(int argc, char **argv) {
  const int64_t start = 1780000000; /* 2026-05-28 */
  /* The viewing: Wednesday 3 June 2026, 10:00 in Amsterdam (08:00 UTC). */
  const int64_t viewing = 1780473600, second_choice = 1780574400;
  int64_t agency, admin, agent, website, room, owner, mandate, p1, p2, listing,
      doc, msg, task, buyer, client, deal, offered, appointment, note, closer,
      referred, referral;
  int fired;
  char *json = NULL;
  const char *path = argc > 1 ? argv[1] : "example.db";
  const char *ics_path = argc > 2 ? argv[2] : "viewing.ics";
  /* the agent's calendar feed: argv[3], else agent.ics beside the viewing */
  char feed_path[1024];
  const char *slash = strrchr(ics_path, '/');
  if (argc > 3)
    snprintf(feed_path, sizeof feed_path, "%s", argv[3]);
  else
    snprintf(feed_path, sizeof feed_path, "%.*sagent.ics",
             slash ? (int)(slash - ics_path + 1) : 0, ics_path);

  printf("tesoro %s — a day at the agency, on %s\n\n", tesoro_version(), path);
  if (tesoro_open(path, &db) != TESORO_OK) check(tesoro_errcode(db), "open");
  check(tesoro_clock_set(db, start), "clock");

  printf("1. The agency\n");
  step("create agency Tesoro Homes (Europe/Amsterdam, EUR) with admin Alice",
       tesoro_agency_create(db, "Tesoro Homes", "Europe/Amsterdam", "EUR",
                            "Alice Admin", "alice@tesoro.example", &agency, &admin));
  step("add agent Andy",
       tesoro_agent_create(db, admin, "Andy Agent", "andy@tesoro.example",
                           TESORO_ROLE_AGENT, &agent));
  step("look up the website actor",
       tesoro_agency_website_actor(db, admin, agency, &website));

  printf("\n2. The owner's contact form, from the website\n");
  step("Olivia asks to sell her house in Utrecht",
       tesoro_contact_request_submit(db, website, "Olivia Owner",
                                     "olivia@example.com", TESORO_PROPERTY_HOUSE,
                                     "Utrecht, Oudegracht", 65000000,
                                     "within 3 months", "Canal house, 4 floors",
                                     &room, &owner));
  print_state(agent, TESORO_ENTITY_ROOM, room, "room");
  step("Olivia writes in the contact room",
       tesoro_room_message_post(db, owner, room, "When can you come by?", &msg));
  step("Andy answers", tesoro_room_message_post(db, agent, room,
                                                "Tomorrow at 10, if that suits.", &msg));
  step("Andy keeps a private note",
       tesoro_room_note_add(db, agent, room, "Motivated seller; price realistic.", &msg));

  printf("\n3. Seller onboarding and the mandate negotiation\n");
  step("Andy starts seller onboarding (with a listing placeholder)",
       tesoro_room_start_onboarding(db, agent, room, 1, 0, &mandate));
  print_state(agent, TESORO_ENTITY_ROOM, room, "room");
  print_state(agent, TESORO_ENTITY_MANDATE, mandate, "mandate");
  step("Andy proposes 1.50 %, exclusive, 180 days",
       tesoro_mandate_propose(db, agent, mandate, TESORO_COMMISSION_PERCENTAGE,
                              150, NULL, 1, 180, 0, &p1));
  tesoro_clock_set(db, start + 3600);
  step("Olivia counters with 1.25 %, exclusive, 120 days",
       tesoro_mandate_propose(db, owner, mandate, TESORO_COMMISSION_PERCENTAGE,
                              125, NULL, 1, 120, 0, &p2));
  tesoro_clock_set(db, start + 7200);
  step("Andy accepts Olivia's proposal",
       tesoro_mandate_accept(db, agent, mandate, p2, 0, &json));
  printf("      agreed: %s\n", json);
  tesoro_free(json);
  print_state(agent, TESORO_ENTITY_MANDATE, mandate, "mandate");
  printf("      negotiation history:\n");
  {
    static const char *const cols[] = {"id", "author_party", "value",
                                       "duration_days", "superseded_at",
                                       "accepted_by_agent_at",
                                       "accepted_by_client_at", NULL};
    tesoro_cursor *c;
    check(tesoro_mandate_proposals(db, agent, mandate, &c), "proposals");
    print_cursor(c, cols);
  }

  printf("\n4. Seller form, signed mandate, validation\n");
  step("Andy shares the seller form", tesoro_mandate_share_form(db, agent, mandate, 0));
  tesoro_clock_set(db, start + 86400);
  step("Olivia uploads the signed mandate (PDF)",
       tesoro_document_add(db, owner, TESORO_ENTITY_MANDATE, mandate,
                           TESORO_DOC_SIGNED_MANDATE, "mandate-signed.pdf",
                           "application/pdf", signed_mandate,
                           (int64_t)sizeof signed_mandate - 1, &doc));
  step("Olivia submits the seller form",
       tesoro_mandate_submit_form(
           db, owner, mandate,
           "{\"full_name\":\"Olivia Owner\",\"email\":\"olivia@example.com\","
           "\"phone\":\"+31 6 5555 0101\",\"address\":\"Oudegracht 12, Utrecht\","
           "\"property_type\":\"house\",\"title\":\"Canal house on the Oudegracht\","
           "\"price\":65000000,\"bedrooms\":4,\"bathrooms\":2,\"floor_area\":210,"
           "\"energy_label\":\"C\"}",
           0));
  task = find_task(agent, TESORO_ENTITY_MANDATE, mandate, "review_seller_form");
  step("Andy reviews the form (task done)", tesoro_task_complete(db, agent, task, 0));
  step("Andy validates the mandate",
       tesoro_mandate_validate(db, agent, mandate, 0, &listing));
  print_state(agent, TESORO_ENTITY_ROOM, room, "room");
  print_state(agent, TESORO_ENTITY_LISTING, listing, "listing");

  printf("\n5. The listing\n");
  step("Andy completes the description",
       tesoro_listing_update(db, agent, listing,
                             "{\"description\":\"Four floors of light on the canal.\","
                             "\"longitude\":5.1214,\"latitude\":52.0894}", 0));
  step("Andy publishes the listing", tesoro_listing_publish(db, agent, listing, 0));
  check(tesoro_entity_json(db, agent, TESORO_ENTITY_LISTING, listing, &json), "json");
  printf("      %s\n", json);
  tesoro_free(json);
  printf("      listing history:\n");
  {
    static const char *const cols[] = {"seq", "event", "from_state", "to_state",
                                       "actor_kind", NULL};
    tesoro_cursor *c;
    check(tesoro_history(db, agent, TESORO_ENTITY_LISTING, listing, &c), "history");
    print_cursor(c, cols);
  }

  printf("\n6. The client portal, and a viewing from the request to the rating\n");
  step("Andy adds a photo to the listing",
       tesoro_document_add(db, agent, TESORO_ENTITY_LISTING, listing,
                           TESORO_DOC_PHOTO, "front.jpg", "image/jpeg", photo,
                           (int64_t)sizeof photo, &doc));
  step("Andy adds buyer Bram as a contact",
       tesoro_contact_create(db, agent, "Bram Buyer", "bram@example.com",
                             "+31 6 5555 0202", "nl", &buyer));
  step("Andy opens Bram's deal",
       tesoro_deal_create(db, agent, buyer, "Family house in Utrecht", &deal));
  step("Andy offers the canal house to the deal",
       tesoro_deal_offer(db, agent, deal, listing, &offered));
  step("Alice switches the client portal on",
       tesoro_agency_set_portal(db, admin, 1));
  {
    char *temporary = NULL;
    int portal_step;
    const char *language;
    int64_t account, upcoming, unconfirmed, fresh, ratings;
    static const char *const cols[] = {"id", "state", "title", "price", NULL};
    tesoro_cursor *c;
    step("Andy creates Bram's portal account (the invitation e-mail is queued)",
         tesoro_portal_account_create(db, agent, buyer, &account, &temporary));
    printf("      a temporary password of %zu characters, returned once, "
           "stored only as an argon2id hash\n", strlen(temporary));
    step("Bram logs in with the temporary password",
         tesoro_portal_login(db, website, "bram@example.com", temporary,
                             &client, &portal_step));
    printf("      onboarding step %d: set password\n", portal_step);
    step("Bram sets his own password",
         tesoro_portal_password_change(db, client, temporary, "Grachten#2026"));
    tesoro_free(temporary);
    step("Bram reads the welcome slides", tesoro_portal_welcome_finish(db, client));
    step("Bram skips the tour", tesoro_portal_tour_skip(db, client));
    check(tesoro_portal_step(db, client, &portal_step), "step");
    check(tesoro_portal_language(db, client, &language), "language");
    printf("      onboarding step %d (ready); portal language %s (from the contact)\n",
           portal_step, language);
    check(tesoro_portal_home(db, client, &upcoming, &unconfirmed, &fresh, &ratings),
          "home");
    printf("      home: %lld upcoming, %lld unconfirmed, %lld new properties, "
           "%lld ratings\n", (long long)upcoming, (long long)unconfirmed,
           (long long)fresh, (long long)ratings);
    printf("      new properties:\n");
    check(tesoro_portal_properties(db, client, TESORO_FEED_NEW, &c), "properties");
    print_cursor(c, cols);
    step("Bram marks the canal house interesting",
         tesoro_deal_property_interested(db, client, offered, 0));
    step("Bram saves it as a favourite",
         tesoro_deal_property_favourite(db, client, offered, 1, 0));
    {
      char *details = NULL;
      void *bytes = NULL;
      int64_t size = 0;
      step("Bram opens the canal house's details",
           tesoro_portal_property(db, client, listing, &details));
      printf("      %s\n", details);
      tesoro_free(details);
      step("Bram opens its photo", tesoro_document_read(db, client, doc, &bytes,
                                                        &size));
      printf("      front.jpg, %lld bytes\n", (long long)size);
      tesoro_free(bytes);
    }
  }
  tesoro_clock_set(db, start + 2 * 86400);
  {
    const int64_t preferred[] = {viewing, second_choice};
    step("Bram requests a viewing with two preferred dates (portal)",
         tesoro_appointment_request(db, client, offered, preferred, 2,
                                    &appointment));
  }
  print_list(client, TESORO_LIST_UNCONFIRMED, "Bram's unconfirmed viewings");
  step("Andy confirms the first preferred date",
       tesoro_appointment_confirm(db, agent, appointment, viewing, 0, 0));
  print_list(client, TESORO_LIST_UPCOMING, "Bram's upcoming viewings");
  check(tesoro_tick(db, viewing - 86400, &fired), "tick");
  printf("  ok  tick, 24 hours before the viewing: %d timer(s) fired (the reminder)\n",
         fired);
  tesoro_clock_set(db, viewing - 300);
  step("On the day, Bram starts the viewing (09:55 in Amsterdam)",
       tesoro_appointment_start_viewing(db, client, appointment, 0));
  step("Bram rates the viewing 4 stars",
       tesoro_appointment_rate(db, client, appointment, 4, 0));
  step("Bram notes what he liked",
       tesoro_appointment_note_add(db, client, appointment,
                                   "Lovely light; the kitchen needs work.", &note));
  check(tesoro_tick(db, viewing + 7200, &fired), "tick");
  printf("  ok  tick, an hour after the viewing's end: %d timer(s) fired (the "
         "feedback request)\n", fired);
  print_state(agent, TESORO_ENTITY_APPOINTMENT, appointment, "appointment");
  print_state(client, TESORO_ENTITY_DEAL_PROPERTY, offered, "deal property");
  step("Bram approves the canal house",
       tesoro_deal_property_approve(db, client, offered, 0));
  step("Bram asks Andy about the kitchen (contact agent)",
       tesoro_portal_contact_agent(db, client, offered,
                                   "Could we get a quote for the kitchen?", NULL));
  print_list(client, TESORO_LIST_RECENT, "Bram's recent viewings");
  {
    /* a forgotten password: the secret reaches Bram only by e-mail, through
       the outbox; the host delivers it and acknowledges the row */
    tesoro_cursor *c;
    char secret[64] = "";
    int64_t delivery = 0, again = 0;
    step("Bram forgot his password and asks for a reset",
         tesoro_portal_reset_request(db, website, "bram@example.com"));
    check(tesoro_outbox_fetch(db, agency, 1000, &c), "outbox");
    while (tesoro_cursor_next(c) == TESORO_ROW) {
      const char *p = strstr(tesoro_cursor_text(c, tesoro_cursor_index(c, "payload")),
                             "\"secret\":\"");
      if (p == NULL) continue;
      snprintf(secret, sizeof secret, "%.*s", TESORO_PORTAL_RESET_LEN, p + 10);
      delivery = tesoro_cursor_int(c, tesoro_cursor_index(c, "id"));
    }
    tesoro_cursor_free(c);
    printf("      the \"Portal Password Reset\" e-mail carries a %zu-character "
           "secret\n", strlen(secret));
    step("the host delivers the e-mail (the secret leaves the outbox row)",
         tesoro_outbox_ack(db, delivery));
    step("Bram sets a new password with the secret",
         tesoro_portal_reset(db, website, "bram@example.com", secret,
                             "Kanaal#2027", &again));
    printf("      the secret is single use: a second try is refused: %s\n",
           tesoro_portal_reset(db, website, "bram@example.com", secret,
                               "Kanaal#2028", &again) == TESORO_EDENIED
               ? tesoro_errmsg(db) : "NOT REFUSED");
  }
  {
    static const char *const cols[] = {"kind", "summary", NULL};
    tesoro_cursor *c;
    printf("      Bram's timeline in the CRM (newest first):\n");
    check(tesoro_activities(db, agent, buyer, &c), "activities");
    print_cursor(c, cols);
  }
  printf("      appointment history:\n");
  {
    static const char *const cols[] = {"seq", "event", "from_state", "to_state",
                                       "actor_kind", NULL};
    tesoro_cursor *c;
    check(tesoro_history(db, agent, TESORO_ENTITY_APPOINTMENT, appointment, &c),
          "history");
    print_cursor(c, cols);
  }
  check(tesoro_appointment_ics(db, client, appointment,
                               "https://tesoro.example/listings/TES-00001", &json),
        "ics");
  {
    FILE *f = fopen(ics_path, "wb");
    if (f == NULL || fputs(json, f) == EOF || fclose(f) != 0) {
      fprintf(stderr, "cannot write %s\n", ics_path);
      tesoro_free(json);
      tesoro_close(db);
      return 1;
    }
    printf("  ok  wrote the viewing to %s:\n%s", ics_path, json);
  }
  tesoro_free(json);
  check(tesoro_calendar_feed(db, agent, agent, &json), "calendar feed");
  {
    FILE *f = fopen(feed_path, "wb");
    if (f == NULL || fputs(json, f) == EOF || fclose(f) != 0) {
      fprintf(stderr, "cannot write %s\n", feed_path);
      tesoro_free(json);
      tesoro_close(db);
      return 1;
    }
    printf("  ok  wrote Andy's calendar feed (every viewing he owns, to "
           "subscribe to once) to %s\n", feed_path);
  }
  tesoro_free(json);

  printf("\n7. A referral, from left_voicemail to closed_paid\n");
  step("Alice agrees a referral fee of 2.50 % of the sale price",
       tesoro_agency_set_referral_fee(db, admin, 250));
  step("Alice adds Cleo to the closings team",
       tesoro_agent_create(db, admin, "Cleo Closings", "cleo@tesoro.example",
                           TESORO_ROLE_CLOSINGS, &closer));
  step("Andy adds the referred client Rita",
       tesoro_contact_create(db, agent, "Rita Referred", "rita@example.com",
                             NULL, "en", &referred));
  step("the network's referral of Rita is registered for Andy",
       tesoro_referral_create(db, agent, referred, 0, &referral));
  step("Andy connected with Rita",
       tesoro_referral_move(db, agent, referral, TESORO_STAGE_CONNECTED, NULL, 0));
  step("Andy schedules a meeting",
       tesoro_referral_move(db, agent, referral, TESORO_STAGE_MEETING_SCHEDULED,
                            "{\"meeting_at\":1780570800}", 0));
  step("Andy met Rita",
       tesoro_referral_move(db, agent, referral, TESORO_STAGE_MET_WITH_PERSON,
                            NULL, 0));
  printf("      back to connected is refused: %s\n",
         tesoro_referral_move(db, agent, referral, TESORO_STAGE_CONNECTED, NULL,
                              0) == TESORO_ESTATE
             ? tesoro_errmsg(db)
             : "UNEXPECTED");
  step("Andy leaves a note instead",
       tesoro_referral_note_add(db, agent, referral,
                                "Rita called back; still comparing agents.", &note));
  step("Rita goes quiet: Andy marks the referral failed",
       tesoro_referral_move(db, agent, referral, TESORO_STAGE_FAILED,
                            "{\"reason\":\"No answer for three weeks\"}", 0));
  step("Rita is back: the referral returns to its last active stage",
       tesoro_referral_move(db, agent, referral, TESORO_STAGE_MET_WITH_PERSON,
                            NULL, 0));
  step("Listing agreement signed: coming soon, listing on 10 June",
       tesoro_referral_move(db, agent, referral, TESORO_STAGE_COMING_SOON,
                            "{\"list_date\":\"2026-06-10\"}", 0));
  check(tesoro_tick(db, 1781042400, &fired), "tick"); /* 10 June, 00:00 Amsterdam */
  printf("  ok  tick at midnight on the list date: %d timer(s) fired\n", fired);
  print_state(agent, TESORO_ENTITY_REFERRAL, referral, "referral");
  step("Under contract: in escrow at EUR 485,000, closing 15 July",
       tesoro_referral_move(db, agent, referral, TESORO_STAGE_IN_ESCROW,
                            "{\"sale_price\":48500000,\"close_date\":\"2026-07-15\"}",
                            0));
  step("Closed", tesoro_referral_move(db, agent, referral, TESORO_STAGE_CLOSED,
                                      NULL, 0));
  step("Cleo records the payment of the fee: closed_paid",
       tesoro_referral_move(db, closer, referral, TESORO_STAGE_CLOSED_PAID,
                            "{\"paid_amount\":1212500}", 0));
  check(tesoro_entity_json(db, agent, TESORO_ENTITY_REFERRAL, referral, &json),
        "json");
  printf("      %s\n", json);
  tesoro_free(json);
  printf("      referral history:\n");
  {
    static const char *const cols[] = {"seq", "event", "from_state", "to_state",
                                       "actor_kind", "details", NULL};
    tesoro_cursor *c;
    check(tesoro_history(db, agent, TESORO_ENTITY_REFERRAL, referral, &c),
          "history");
    print_cursor(c, cols);
  }
  printf("      the pipeline:\n");
  {
    static const char *const cols[] = {"stage", "name", "count", NULL};
    tesoro_cursor *c;
    check(tesoro_referral_pipeline(db, agent, 0, &c), "pipeline");
    print_cursor(c, cols);
  }

  printf("\n8. The website exchange\n");
  {
    /* What the agency's website sends in one batch: two customers, their
    ** visits, views, a save, searches with GeoJSON areas, an enquiry — and
    ** one broken event (a rank of 6), which is skipped and reported. */
    static const char batch[] =
        "[{\"source_id\":\"hf-9001\",\"type\":\"customer\",\"customer\":\"hf-c1\","
        "\"at\":1780100000,\"name\":\"Sanne de Vries\",\"email\":\"sanne@example.com\","
        "\"phone\":\"+31 6 4444 0303\"},"
        "{\"source_id\":\"hf-9002\",\"type\":\"visit\",\"customer\":\"hf-c1\","
        "\"at\":1780100100,\"visits\":3},"
        "{\"source_id\":\"hf-9003\",\"type\":\"property_view\",\"customer\":\"hf-c1\","
        "\"at\":1780100200,\"listing\":\"TES-00001\"},"
        "{\"source_id\":\"hf-9004\",\"type\":\"property_save\",\"customer\":\"hf-c1\","
        "\"at\":1780100300,\"listing\":\"TES-00001\",\"saved\":true},"
        "{\"source_id\":\"hf-9005\",\"type\":\"saved_search\",\"customer\":\"hf-c1\","
        "\"at\":1780100400,\"search_id\":\"s-1\",\"alert\":true,\"max_price\":70000000,"
        "\"area\":{\"name\":\"Utrecht binnenstad\",\"polygon\":{\"type\":\"Polygon\","
        "\"coordinates\":[[[5.10,52.08],[5.13,52.08],[5.13,52.10],[5.10,52.10],[5.10,52.08]]]}}},"
        "{\"source_id\":\"hf-9006\",\"type\":\"implied_search\",\"customer\":\"hf-c1\","
        "\"at\":1780100500,\"search_id\":\"s-2\",\"area\":{\"name\":\"Near the Dom\","
        "\"centre\":{\"type\":\"Point\",\"coordinates\":[5.1213,52.0907]},\"radius\":1500}},"
        "{\"source_id\":\"hf-9007\",\"type\":\"enquiry\",\"customer\":\"hf-c1\","
        "\"at\":1780100600,\"enquiry_type\":\"viewing\",\"listing\":\"TES-00001\","
        "\"message\":\"Can I see it on Saturday?\"},"
        "{\"source_id\":\"hf-9008\",\"type\":\"property_rank\",\"customer\":\"hf-c1\","
        "\"at\":1780100700,\"listing\":\"TES-00001\",\"rank\":6},"
        "{\"source_id\":\"hf-9009\",\"type\":\"visit\",\"customer\":\"hf-c2\","
        "\"at\":1780050000,\"visits\":1},"
        "{\"source_id\":\"hf-9010\",\"type\":\"property_view\",\"customer\":\"hf-c2\","
        "\"at\":1780050100,\"listing\":\"TES-00001\"}]";
    static const char *const call_cols[] = {"customer_id", "name", "score", "visits",
                                            "views", "saves", "hard_searches",
                                            "enquiries", NULL};
    static const char *const match_cols[] = {"search_id", "hard", "ref", "title",
                                             "price", "distance_m", NULL};
    char *results = NULL, *again = NULL;
    int failed = 0;
    int64_t sanne = 0, sanne_contact = 0;
    tesoro_cursor *c;
    tesoro_clock_set(db, 1780100800);
    step("the website sends a batch of 10 events",
         tesoro_exchange_ingest_batch(db, website, batch, &failed, &results));
    printf("      %d skipped: %s\n", failed, tesoro_errmsg(db));
    step("the website sends the same batch again (a retry)",
         tesoro_exchange_ingest_batch(db, website, batch, &failed, &again));
    printf("      the retry's results are %s the first ones; nothing changed\n",
           strcmp(results, again) == 0 ? "identical to" : "DIFFERENT FROM");
    tesoro_free(results);
    tesoro_free(again);
    {
      static const char *const cols[] = {"id", "external_id", "name", "visits", NULL};
      printf("      the holding tank:\n");
      check(tesoro_prospects(db, agent, &c), "prospects");
      print_cursor(c, cols);
    }
    printf("      the call list:\n");
    check(tesoro_call_list(db, agent, 10, &c), "call list");
    print_cursor(c, call_cols);
    check(tesoro_customer_find(db, agent, "hf-c1", &sanne), "customer");
    step("Andy approves Sanne from the holding tank (a new applicant contact)",
         tesoro_prospect_approve(db, agent, sanne, 0, 0, &sanne_contact));
    printf("      matches for Sanne (hard searches first):\n");
    check(tesoro_matches(db, agent, sanne, &c), "matches");
    print_cursor(c, match_cols);
    step("Sanne calls in; Andy registers her interest (told to the website)",
         tesoro_interest_register(db, agent, sanne_contact, listing));
  }

  printf("\n9. The outbox the host delivers\n");
  {
    static const char *const cols[] = {"id", "recipient_id", "channel", "template",
                                       "event", "new_state", NULL};
    tesoro_cursor *c;
    check(tesoro_outbox_fetch(db, 0, 100, &c), "outbox");
    print_cursor(c, cols);
    /* the deliveries by status, as the operator's statistics give them */
    check(tesoro_stats(db, 0, &c), "stats");
    while (tesoro_cursor_next(c) == TESORO_ROW)
      if (strcmp(tesoro_cursor_text(c, 0), "outbox") == 0)
        printf("      %s=%lld\n", tesoro_cursor_text(c, 1),
               (long long)tesoro_cursor_int(c, 2));
    tesoro_cursor_free(c);
  }

  printf("\n10. The checker\n");
  step("tesoro_check: integrity, foreign keys and tesoro's invariants",
       tesoro_check(db));
  tesoro_close(db);

  /* An independent look at the file with plain SQLite. */
  {
    sqlite3 *raw;
    sqlite3_stmt *s;
    int ok = 1;
    if (sqlite3_open_v2(path, &raw, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return 1;
    sqlite3_prepare_v2(raw, "PRAGMA integrity_check", -1, &s, NULL);
    ok = sqlite3_step(s) == SQLITE_ROW &&
         strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0;
    sqlite3_finalize(s);
    sqlite3_prepare_v2(raw, "PRAGMA foreign_key_check", -1, &s, NULL);
    ok = ok && sqlite3_step(s) == SQLITE_DONE;
    sqlite3_finalize(s);
    sqlite3_close(raw);
    printf("  %s  PRAGMA integrity_check and foreign_key_check on %s\n",
           ok ? "ok" : "FAIL", path);
    return ok ? 0 : 1;
  }
}
