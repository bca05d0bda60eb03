#include <stdio.h>
#include "tesoro.h"

int main(int argc, char **argv) {
  tesoro *t;
  tesoro_cursor *c = NULL;
  int64_t agency, admin, contact, referral;
  int rc = tesoro_open(argc > 1 ? argv[1] : "quickstart.db", &t);
  if (!rc) rc = tesoro_agency_create(t, "Tesoro Homes", "Europe/Amsterdam",
                  "EUR", "Alice Admin", "alice@example.com", &agency, &admin);
  if (!rc) rc = tesoro_contact_create(t, admin, "Ada Owner", "ada@example.com",
                                      NULL, "nl", &contact);
  if (!rc) rc = tesoro_referral_create(t, admin, contact, 0, &referral);
  if (!rc) rc = tesoro_referral_move(t, admin, referral, TESORO_STAGE_IN_ESCROW,
      "{\"sale_price\": 42500000, \"close_date\": \"2030-09-30\"}", 1);
  if (!rc) rc = tesoro_outbox_fetch(t, agency, 100, &c);
  if (!rc) while ((rc = tesoro_cursor_next(c)) == TESORO_ROW)
    printf("%s on %s\n", tesoro_cursor_text(c, 6), tesoro_cursor_text(c, 5));
  tesoro_cursor_free(c);
  if (rc < 0) fprintf(stderr, "%s: %s\n", tesoro_errname(rc), tesoro_errmsg(t));
  tesoro_close(t);
  return rc < 0;
}
