/*
** fuzz_event.c — website-event JSON (SPEC §6) through tesoro_exchange_ingest
** and, for an input that starts with '[', tesoro_exchange_ingest_batch.
**
** The input is the event text itself (the seed corpus holds a valid event of
** every type).  What must hold for every input:
**   - no crash, no sanitizer report; tesoro_check passes after whatever
**     was accepted (a refusal is proved a no-op by the fingerprint below);
**   - the result is TESORO_OK or a business-rule error with a message;
**   - a refused event leaves *out_result untouched and the machines' counts
**     unchanged;
**   - an accepted event's result is a JSON object naming its source_id with
**     status "applied" or "superseded", and its replay returns the very same
**     result;
**   - a batch answers OK or EINVAL; when OK its results array has one entry
**     per event and *out_failed counts the entries that are errors.
*/
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_single(fz_world *w, const char *json) {
  char *res = NULL, *again = NULL, *before = fz_stats(w);
  int rc = tesoro_exchange_ingest(w->t, w->website, json, &res);
  fz_expect(w, rc, FZ_RULES, "tesoro_exchange_ingest");
  if (rc != TESORO_OK && res != NULL)
    fz_fail("a refused ingest set *out_result");
  if (fz_refused_kept(w, rc, before, "tesoro_exchange_ingest"))
    return;
  if (res == NULL || strcmp(fz_json_type(res, "$"), "object") != 0)
    fz_fail("ingest result is not a JSON object: %s", res ? res : "(NULL)");
  {
    char *status = fz_json_text(res, "$.status");
    char *given = fz_json_text(json, "$.source_id");
    char *got = fz_json_text(res, "$.source_id");
    if (status == NULL ||
        (strcmp(status, "applied") != 0 && strcmp(status, "superseded") != 0))
      fz_fail("ingest result has status %s", status ? status : "(none)");
    fz_same_text("the result's source_id", got, given);
    free(status);
    free(given);
    free(got);
  }
  before = fz_stats(w);
  rc = tesoro_exchange_ingest(w->t, w->website, json, &again);
  if (rc != TESORO_OK)
    fz_fail("the replay of an accepted event failed: %s: %s",
            tesoro_errname(rc), tesoro_errmsg(w->t));
  if (again == NULL || strcmp(res, again) != 0)
    fz_fail("a replay answered %s, the first ingest %s",
            again ? again : "(NULL)", res);
  fz_same_stats(before, fz_stats(w), "the replay of an event");
  fz_check(w, "an accepted event");
  tesoro_free(res);
  tesoro_free(again);
}

static void fz_batch(fz_world *w, const char *json) {
  char *results = NULL, *before = fz_stats(w);
  int failed = -1, rc, n, errors = 0, i;
  rc = tesoro_exchange_ingest_batch(w->t, w->website, json, &failed, &results);
  fz_expect(w, rc, FZ_BIT(TESORO_OK) | FZ_BIT(TESORO_EINVAL),
            "tesoro_exchange_ingest_batch");
  if (rc != TESORO_OK && results != NULL)
    fz_fail("a refused batch set *out_results");
  if (fz_refused_kept(w, rc, before, "tesoro_exchange_ingest_batch"))
    return;
  if (results == NULL || strcmp(fz_json_type(results, "$"), "array") != 0)
    fz_fail("batch results are not a JSON array: %s",
            results ? results : "(NULL)");
  n = fz_json_length(json);
  if (fz_json_length(results) != n)
    fz_fail("a batch of %d events answered %d results: %.300s", n,
            fz_json_length(results), results);
  for (i = 0; i < n; i++) {
    char path[48], *error;
    snprintf(path, sizeof path, "$[%d].error", i);
    if ((error = fz_json_text(results, path)) != NULL)
      errors++;
    free(error);
  }
  if (failed != errors)
    fz_fail("batch: *out_failed is %d but %d results are errors", failed,
            errors);
  if (failed > 0 && strncmp(tesoro_errmsg(w->t), "event ", 6) != 0)
    fz_fail("batch with skipped events: errmsg \"%s\" does not name the first",
            tesoro_errmsg(w->t));
  fz_check(w, "a batch");
  tesoro_free(results);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_world *w = fz_world_get();
  char *json = fz_strndup(data, size);
  fz_input_begin(w);
  if (size > 0 && data[0] == '[')
    fz_batch(w, json);
  else
    fz_single(w, json);
  fz_input_end(w);
  free(json);
  return 0;
}
