/* The outbox deliveries by status (pending, delivered, dead) over the whole
** file, as tesoro_stats(t, 0) reports them; any out may be NULL.  Returns
** tesoro_stats's code.  Shared by the cmocka suites (testutil.h) and the
** fuzzers (fuzz_common.h). */
#ifndef TESORO_TEST_OUTBOX_COUNTS_H
#define TESORO_TEST_OUTBOX_COUNTS_H
#include <stdint.h>
#include <string.h>
#include "tesoro.h"

static inline int outbox_counts(tesoro *t, int64_t *out_pending,
                                int64_t *out_delivered, int64_t *out_dead) {
  static const char *const names[3] = {"pending", "delivered", "dead"};
  tesoro_cursor *c = NULL;
  int64_t n[3] = {0, 0, 0};
  int rc;
  if (out_pending) *out_pending = 0;
  if (out_delivered) *out_delivered = 0;
  if (out_dead) *out_dead = 0;
  if ((rc = tesoro_stats(t, 0, &c)) != TESORO_OK) return rc;
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
    const char *what = tesoro_cursor_text(c, 0);
    const char *status = tesoro_cursor_text(c, 1);
    if (what == NULL || status == NULL || strcmp(what, "outbox") != 0) continue;
    for (int i = 0; i < 3; i++)
      if (strcmp(status, names[i]) == 0) n[i] = tesoro_cursor_int(c, 2);
  }
  tesoro_cursor_free(c);
  if (rc != TESORO_DONE) return rc;
  if (out_pending) *out_pending = n[0];
  if (out_delivered) *out_delivered = n[1];
  if (out_dead) *out_dead = n[2];
  return TESORO_OK;
}
#endif
