/*
** fuzz_document.c — document bytes through tesoro_document_add, with every
** kind on every entity that takes it and every MIME type.
**
** Input: byte 0 picks the target (entity, kind, actor; see fz_targets),
** byte 1 the claimed MIME type, byte 2 the file name; the rest is the
** document.  The handle's size limit is set to FZ_MAX_DOC so the fuzzer
** reaches both sides of it.  What must hold:
**   - no crash or sanitizer report; TESORO_OK or a documented refusal with a
**     message; a refusal leaves *out_document and the machines' counts alone;
**     an actor of another agency is never let in;
**   - an accepted document is 1..FZ_MAX_DOC bytes, of a MIME type its kind
**     takes (tesoro.h), and its first bytes are that type's magic (checked
**     here independently for PDF, JPEG, PNG and WebP; audio is never one of
**     those);
**   - tesoro_document_read returns the very bytes; tesoro_documents lists it
**     with its name and MIME verbatim, its size and the SHA-256 of the bytes
**     (computed here with libsodium); another agency's staff cannot read it;
**   - tesoro_check passes after each accepted document.
*/
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_DOC 1024

static const char *const fz_mimes[] = {
    "application/pdf", "image/jpeg", "image/png", "image/webp", "audio/mpeg",
    "audio/mp4", "audio/aac", "audio/ogg", "audio/wav", "audio/webm",
    /* not accepted anywhere */
    "image/jpg", "application/PDF", "text/plain", ""};
#define FZ_NMIMES ((unsigned)(sizeof fz_mimes / sizeof fz_mimes[0]))
enum { M_PDF = 1, M_JPEG = 2, M_PNG = 4, M_WEBP = 8, M_AUDIO = 0x3F0 };

static const char *const fz_names[] = {
    "doc.pdf", "Plattegrond – begane grond.png", "x", "voice note.m4a"};

/* What each kind takes (tesoro.h, TESORO_DOC_*), as bits over fz_mimes. */
static unsigned fz_kind_mimes(int kind) {
  switch (kind) {
  case TESORO_DOC_SHARED: return M_PDF | M_JPEG | M_PNG | M_WEBP;
  case TESORO_DOC_SIGNED_MANDATE: return M_PDF;
  case TESORO_DOC_PROPERTY_DOCUMENT: return M_PDF | M_JPEG | M_PNG | M_WEBP;
  case TESORO_DOC_PHOTO: return M_JPEG | M_PNG | M_WEBP;
  case TESORO_DOC_ENERGY_CERTIFICATE: return M_PDF | M_JPEG | M_PNG;
  case TESORO_DOC_VOICE_NOTE: return M_AUDIO;
  default: return 0;
  }
}

typedef struct fz_target {
  int entity;
  int64_t id;
  int kind;
  int64_t actor;
  int outsider; /* the actor is of another agency: never accepted */
} fz_target;

/* The world's entity that documents of each entity type are added to. */
static int64_t fz_target_id(const fz_world *w, int entity) {
  switch (entity) {
  case TESORO_ENTITY_ROOM: return w->room_open;
  case TESORO_ENTITY_MANDATE: return w->mandate_shared;
  case TESORO_ENTITY_LISTING: return w->listing;
  default: return w->appt_completed;
  }
}

static int fz_targets(fz_world *w, fz_target *t) {
  const struct {
    int entity, kind;
    int64_t actor;
    int outsider;
  } tab[] = {
      {TESORO_ENTITY_ROOM, TESORO_DOC_SHARED, w->agent, 0},
      {TESORO_ENTITY_MANDATE, TESORO_DOC_SIGNED_MANDATE, w->shared_client, 0},
      {TESORO_ENTITY_MANDATE, TESORO_DOC_PROPERTY_DOCUMENT, w->shared_client, 0},
      {TESORO_ENTITY_MANDATE, TESORO_DOC_PHOTO, w->shared_client, 0},
      {TESORO_ENTITY_MANDATE, TESORO_DOC_ENERGY_CERTIFICATE, w->agent, 0},
      {TESORO_ENTITY_LISTING, TESORO_DOC_PHOTO, w->agent, 0},
      {TESORO_ENTITY_LISTING, TESORO_DOC_PROPERTY_DOCUMENT, w->agent, 0},
      {TESORO_ENTITY_LISTING, TESORO_DOC_ENERGY_CERTIFICATE, w->agent2, 0},
      {TESORO_ENTITY_APPOINTMENT, TESORO_DOC_PHOTO, w->client2, 0},
      {TESORO_ENTITY_APPOINTMENT, TESORO_DOC_VOICE_NOTE, w->client2, 0},
      {TESORO_ENTITY_ROOM, TESORO_DOC_SHARED, w->other_agent, 1},
      {TESORO_ENTITY_LISTING, TESORO_DOC_PHOTO, w->other_admin, 1},
      {TESORO_ENTITY_APPOINTMENT, TESORO_DOC_VOICE_NOTE, w->other_client, 1},
      /* kinds on entities that do not take them */
      {TESORO_ENTITY_LISTING, TESORO_DOC_SIGNED_MANDATE, w->agent, 0},
      {TESORO_ENTITY_ROOM, TESORO_DOC_VOICE_NOTE, w->agent, 0},
  };
  int n;
  for (n = 0; n < (int)(sizeof tab / sizeof tab[0]); n++) {
    t[n].entity = tab[n].entity;
    t[n].id = fz_target_id(w, tab[n].entity);
    t[n].kind = tab[n].kind;
    t[n].actor = tab[n].actor;
    t[n].outsider = tab[n].outsider;
  }
  return n;
}

/* The type the first bytes say, as one fz_mimes bit (images and PDF only;
** 0 for anything else). */
static unsigned fz_sniff(const uint8_t *p, size_t n) {
  if (n >= 5 && memcmp(p, "%PDF-", 5) == 0)
    return M_PDF;
  if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)
    return M_JPEG;
  if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
    return M_PNG;
  if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
    return M_WEBP;
  return 0;
}

static void fz_listed(fz_world *w, const fz_target *tg, int64_t doc,
                      const char *name, const char *mime, const uint8_t *bytes,
                      size_t n) {
  tesoro_cursor *c = NULL;
  unsigned char md[crypto_hash_sha256_BYTES];
  char hex[2 * crypto_hash_sha256_BYTES + 1];
  int found = 0, rc;
  crypto_hash_sha256(md, bytes, n);
  sodium_bin2hex(hex, sizeof hex, md, sizeof md);
  fz_expect(w, tesoro_documents(w->t, tg->actor, tg->entity, tg->id, &c),
            FZ_BIT(TESORO_OK), "tesoro_documents");
  while ((rc = tesoro_cursor_next(c)) == TESORO_ROW) {
    if (tesoro_cursor_int(c, tesoro_cursor_index(c, "id")) != doc)
      continue;
    found = 1;
    fz_same_text("the document's name",
                 tesoro_cursor_text(c, tesoro_cursor_index(c, "name")), name);
    fz_same_text("the document's MIME type",
                 tesoro_cursor_text(c, tesoro_cursor_index(c, "mime")), mime);
    fz_same_text("the document's SHA-256",
                 tesoro_cursor_text(c, tesoro_cursor_index(c, "sha256")), hex);
    if (tesoro_cursor_int(c, tesoro_cursor_index(c, "size")) != (int64_t)n)
      fz_fail("the document's size is %lld, not %zu",
              (long long)tesoro_cursor_int(c, tesoro_cursor_index(c, "size")),
              n);
    if (tesoro_cursor_int(c, tesoro_cursor_index(c, "kind")) != tg->kind)
      fz_fail("the document's kind is wrong");
  }
  tesoro_cursor_free(c);
  if (rc != TESORO_DONE)
    fz_fail("tesoro_documents cursor: %s", tesoro_errmsg(w->t));
  if (!found)
    fz_fail("tesoro_documents does not list document %lld", (long long)doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_world *w = fz_world_get();
  fz_target targets[16], *tg;
  int ntargets = fz_targets(w, targets), rc;
  fz_in in = {data, size};
  unsigned mime_i, mime_bit;
  const char *mime, *name;
  const uint8_t *bytes;
  size_t n;
  int64_t doc = -1;
  char *before;

  tg = &targets[fz_u8(&in) % (unsigned)ntargets];
  mime_i = fz_u8(&in) % FZ_NMIMES;
  mime = fz_mimes[mime_i];
  mime_bit = mime_i < 10 ? 1u << mime_i : 0;
  name = fz_names[fz_u8(&in) % (sizeof fz_names / sizeof fz_names[0])];
  bytes = in.p;
  n = in.n;

  fz_input_begin(w);
  fz_require(w,
             tesoro_config(w->t, TESORO_CONFIG_MAX_DOCUMENT_BYTES, FZ_MAX_DOC),
             "tesoro_config");
  before = fz_stats(w);
  rc = tesoro_document_add(w->t, tg->actor, tg->entity, tg->id, tg->kind, name,
                           mime, bytes, (int64_t)n, &doc);
  fz_expect(w, rc,
            tg->outsider ? FZ_BIT(TESORO_EINVAL) | FZ_BIT(TESORO_EDENIED)
                         : FZ_RULES,
            "tesoro_document_add");
  if (rc != TESORO_OK && doc != -1)
    fz_fail("a refused document_add set *out_document");
  if (!fz_refused_kept(w, rc, before, "tesoro_document_add")) {
    void *back = NULL;
    int64_t back_size = -1;
    if (n == 0 || n > FZ_MAX_DOC)
      fz_fail("a document of %zu bytes was accepted (limit %d)", n, FZ_MAX_DOC);
    if (!(fz_kind_mimes(tg->kind) & mime_bit))
      fz_fail("kind %d accepted %s", tg->kind, mime);
    if ((mime_bit & (M_PDF | M_JPEG | M_PNG | M_WEBP)) &&
        fz_sniff(bytes, n) != mime_bit)
      fz_fail("content accepted as %s does not start with its magic", mime);
    if ((mime_bit & M_AUDIO) && fz_sniff(bytes, n) != 0)
      fz_fail("an image or PDF was accepted as %s", mime);
    fz_expect(w, tesoro_document_read(w->t, tg->actor, doc, &back, &back_size),
              FZ_BIT(TESORO_OK), "tesoro_document_read");
    if (back_size != (int64_t)n || back == NULL || memcmp(back, bytes, n) != 0)
      fz_fail("tesoro_document_read does not return the bytes given");
    tesoro_free(back);
    back = NULL;
    fz_listed(w, tg, doc, name, mime, bytes, n);
    rc = tesoro_document_read(w->t, w->other_agent, doc, &back, &back_size);
    fz_expect(w, rc, FZ_BIT(TESORO_EDENIED),
              "tesoro_document_read (other agency)");
    if (back != NULL)
      fz_fail("a refused read handed out the bytes");
    fz_check(w, "an accepted document");
  }
  fz_input_end(w);
  return 0;
}
