/*
** onboarding.c — the main job of `make example`: one property owner walks
** from the agency's contact form to a published listing, on a database file.
** Each step is printed; then the negotiation history, the listing's history
** and the outbox the host would deliver.  Usage: onboarding_example FILE
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

/* A tiny valid-looking PDF: tesoro checks the magic bytes. */
static const char signed_mandate[] =
    "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

int main(int argc, char **argv) {
  const int64_t start = 1780000000; /* 2026-05-28 */
  int64_t agency, admin, agent, website, room, owner, mandate, p1, p2, listing,
      doc, msg, task;
  char *json = NULL;
  const char *path = argc > 1 ? argv[1] : "example.db";

  printf("tesoro %s — seller onboarding on %s\n\n", tesoro_version(), path);
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
                             "{\"description\":\"Four floors of light on the canal.\"}", 0));
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

  printf("\n6. The outbox the host delivers\n");
  {
    static const char *const cols[] = {"id", "recipient_id", "channel", "template",
                                       "event", "new_state", NULL};
    tesoro_cursor *c;
    int64_t pending, delivered, dead;
    check(tesoro_outbox_fetch(db, 0, 100, &c), "outbox");
    print_cursor(c, cols);
    check(tesoro_outbox_counts(db, &pending, &delivered, &dead), "counts");
    printf("      pending=%lld delivered=%lld dead=%lld\n", (long long)pending,
           (long long)delivered, (long long)dead);
  }

  printf("\n7. The checker\n");
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
