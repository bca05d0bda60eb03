-- tesoro schema: the single source of the database layout.
--
-- The file is an ordered list of sections, each opened by a line
-- "-- @version N".  A new database runs every section; a database at
-- user_version K runs the sections after K, each in its own transaction
-- together with the bump of user_version.  So a section, once released, is
-- never edited: a change is a new section (CREATE, ALTER, or a rebuild).
-- tesoro.c carries this file verbatim; test_foundation fails if they differ.
--
-- Conventions: every table is STRICT; every state column has a CHECK that
-- mirrors its machine's states (a bug in C cannot store an impossible state),
-- written as `x = 'a' OR x = 'b' ...` rather than an IN list: SQLite (3.40)
-- evaluates `x IN ('a', 'b', 'c')` with three or more constants by building
-- a temporary b-tree of the list each time a statement runs, which once cost
-- 40 % of a transition's instructions (make bench); test_performance fails
-- if an INSERT into any table builds one.  Instants are INTEGER seconds since
-- the epoch, UTC; money is INTEGER minor units; `entity` columns hold
-- TESORO_ENTITY_* numbers.

-- @version 1
-- The layout of tesoro 0.1.0.

-- ---------------------------------------------------------------------------
-- Foundation: agencies, actors, contacts, history, activity, tasks, outbox,
-- timers, documents.

-- viewing_duration_s: the default length of a viewing.  push_enabled and
-- calendar_active: the seed's conditions on channels, "push (if enabled)"
-- and "calendar (if calendar integration is active)".  uid_key is random
-- per agency (tesoro_agency_create), so that calendar UIDs of two files'
-- agency 1 differ.
CREATE TABLE agency (
  id                 INTEGER PRIMARY KEY,
  name               TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  timezone           TEXT    NOT NULL DEFAULT 'UTC',
  currency           TEXT    NOT NULL CHECK (length(currency) = 3),
  portal_active      INTEGER NOT NULL DEFAULT 0 CHECK (portal_active IN (0, 1)),
  listing_counter    INTEGER NOT NULL DEFAULT 0,
  created_at         INTEGER NOT NULL,
  referral_fee_bp    INTEGER NOT NULL DEFAULT 0
                       CHECK (referral_fee_bp BETWEEN 0 AND 10000),
  viewing_duration_s INTEGER NOT NULL DEFAULT 3600
                       CHECK (viewing_duration_s BETWEEN 300 AND 43200),
  push_enabled       INTEGER NOT NULL DEFAULT 1 CHECK (push_enabled IN (0, 1)),
  calendar_active    INTEGER NOT NULL DEFAULT 1 CHECK (calendar_active IN (0, 1)),
  uid_key            TEXT    NOT NULL DEFAULT ''
) STRICT;

-- Everyone who can act: staff, one client per contact, the website, the system.
-- channels_off: the channels a recipient turned off (the outbox's bits:
-- push 2, email 4, calendar 16; crm 1 and website 8 cannot be).
CREATE TABLE actor (
  id           INTEGER PRIMARY KEY,
  agency_id    INTEGER NOT NULL REFERENCES agency(id),
  kind         TEXT    NOT NULL CHECK (kind = 'agent' OR kind = 'client' OR kind = 'website' OR kind = 'system'),
  role         TEXT    CHECK (role = 'agent' OR role = 'admin' OR role = 'closings'),
  contact_id   INTEGER REFERENCES contact(id),
  name         TEXT    NOT NULL,
  email        TEXT,
  created_at   INTEGER NOT NULL,
  channels_off INTEGER NOT NULL DEFAULT 0 CHECK (channels_off & ~22 = 0),
  CHECK ((kind = 'agent') = (role IS NOT NULL)),
  CHECK ((kind = 'client') = (contact_id IS NOT NULL))
) STRICT;
CREATE UNIQUE INDEX actor_staff_email ON actor(agency_id, lower(email)) WHERE kind = 'agent';
CREATE UNIQUE INDEX actor_client_contact ON actor(contact_id) WHERE contact_id IS NOT NULL;
CREATE UNIQUE INDEX actor_one_per_agency ON actor(agency_id, kind)
  WHERE kind = 'website' OR kind = 'system';
-- An agency's website or system actor, read once per transition.
CREATE INDEX actor_agency_kind ON actor(agency_id, kind);

-- Privacy (SPEC §7): marketing consent (consent ... consent_stamp) and the
-- record of an erasure (erased_at, erased_by).  Which columns hold personal
-- data is listed in one place, tesoro.c's privacy map, which drives the
-- export and the erasure.
CREATE TABLE contact (
  id                INTEGER PRIMARY KEY,
  agency_id         INTEGER NOT NULL REFERENCES agency(id),
  version           INTEGER NOT NULL DEFAULT 1,
  name              TEXT    NOT NULL,
  email             TEXT,
  phone             TEXT,
  language          TEXT,
  assigned_agent_id INTEGER REFERENCES actor(id),
  created_at        INTEGER NOT NULL,
  consent           TEXT    NOT NULL DEFAULT 'not_asked'
                      CHECK (consent = 'granted' OR consent = 'denied' OR consent = 'not_asked'),
  consent_at        INTEGER,
  consent_source    TEXT
                      CHECK (consent_source = 'crm' OR consent_source = 'portal' OR consent_source = 'web_form' OR consent_source = 'website_event'),
  consent_text      TEXT,
  consent_stamp     TEXT,
  erased_at         INTEGER,
  erased_by         INTEGER REFERENCES actor(id)
) STRICT;
CREATE UNIQUE INDEX contact_email ON contact(agency_id, lower(email)) WHERE email IS NOT NULL;

CREATE TABLE contact_role (
  contact_id INTEGER NOT NULL REFERENCES contact(id),
  role       TEXT    NOT NULL CHECK (role = 'owner' OR role = 'lead' OR role = 'applicant'),
  PRIMARY KEY (contact_id, role)
) STRICT, WITHOUT ROWID;

-- History, activity, outbox and timer are appended to by the engine alone
-- and declare no foreign keys: each key is an id the engine has just read,
-- and each declared one cost a parent lookup for every row written or
-- deleted (make bench).  tesoro_check verifies that every row points at what
-- exists in its agency; the rest of the schema keeps its foreign keys.

-- One row per change of an entity: seq is the entity's version after it.
-- Keyed by (entity, entity_id, seq) alone, so a change writes one b-tree
-- (a row id beside the key was a second one, make bench: about 5 000
-- instructions a row), and the key refuses a second row for one version.
-- details is written by tesoro with json_object(); tesoro_check, not a CHECK
-- evaluated on every row written, verifies it is valid JSON.
CREATE TABLE history (
  entity     INTEGER NOT NULL CHECK (entity > 0),
  entity_id  INTEGER NOT NULL,
  seq        INTEGER NOT NULL CHECK (seq > 0),
  agency_id  INTEGER NOT NULL,
  event      TEXT    NOT NULL,
  from_state TEXT,
  to_state   TEXT,
  actor_id   INTEGER NOT NULL,
  at         INTEGER NOT NULL,
  details    TEXT,
  PRIMARY KEY (entity, entity_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE activity (
  id         INTEGER PRIMARY KEY,
  agency_id  INTEGER NOT NULL,
  contact_id INTEGER NOT NULL,
  kind       TEXT    NOT NULL,
  actor_id   INTEGER NOT NULL,
  at         INTEGER NOT NULL,
  entity     INTEGER NOT NULL,
  entity_id  INTEGER NOT NULL,
  summary    TEXT    NOT NULL
) STRICT;
CREATE INDEX activity_contact ON activity(contact_id, at);

CREATE TABLE task (
  id          INTEGER PRIMARY KEY,
  agency_id   INTEGER NOT NULL REFERENCES agency(id),
  version     INTEGER NOT NULL DEFAULT 1,
  state       TEXT    NOT NULL CHECK (state = 'open' OR state = 'done' OR state = 'cancelled'),
  kind        TEXT    NOT NULL,
  title       TEXT    NOT NULL,
  entity      INTEGER NOT NULL,
  entity_id   INTEGER NOT NULL,
  assignee_id INTEGER REFERENCES actor(id),
  created_at  INTEGER NOT NULL,
  closed_at   INTEGER
) STRICT;
CREATE INDEX task_open ON task(agency_id, entity, entity_id) WHERE state = 'open';
-- The task a step waits for.
CREATE INDEX task_entity ON task(entity, entity_id);

-- The transactional outbox: one row per message, its channels a set of bits
-- (crm 1, push 2, email 4, website 8, calendar 16).  A delivery — the unit
-- tesoro_outbox_fetch returns and the host acknowledges or fails — is
-- (message, channel), with the stable id message * 8 + channel number
-- (crm 0 … calendar 4): the receiver deduplicates on it.  `undelivered`
-- holds the channels not yet acknowledged, `dead` those of them that ran
-- out of attempts.  The message is pending while a channel is neither,
-- delivered when none is undelivered, else dead (or withdrawn by an
-- erasure).  Attempts and the next attempt are the message's.
--
-- (entity, entity_id, seq) is the history row of the change that caused
-- the message.  A message stores what only its moment knows: the summary
-- and its own fields (`payload`, an object written by tesoro's JSON
-- functions and verified by tesoro_check, or NULL).  tesoro_outbox_fetch
-- renders the rest when the host reads it: the head (entity, id and event
-- from the history row), the recipient's language, and for a calendar
-- message the appointment as it was at that history row.  No index on that
-- key: its only readers, a contact's export and erasure, also select by
-- recipient, which no index serves, so they read the whole table either way.
CREATE TABLE outbox (
  id              INTEGER PRIMARY KEY,
  agency_id       INTEGER NOT NULL,
  kind            TEXT    NOT NULL CHECK (kind = 'notification' OR kind = 'exchange' OR kind = 'calendar'),
  recipient_id    INTEGER,
  channels        INTEGER NOT NULL CHECK (channels BETWEEN 1 AND 31),
  undelivered     INTEGER NOT NULL CHECK (undelivered & ~channels = 0),
  dead            INTEGER NOT NULL DEFAULT 0 CHECK (dead & ~undelivered = 0),
  template        TEXT    NOT NULL,
  summary         TEXT    NOT NULL,
  payload         TEXT,
  entity          INTEGER NOT NULL,
  entity_id       INTEGER NOT NULL,
  seq             INTEGER NOT NULL,
  status          TEXT    NOT NULL DEFAULT 'pending'
                  CHECK (status = 'pending' OR status = 'delivered' OR status = 'dead' OR status = 'withdrawn'),
  attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT,
  created_at      INTEGER NOT NULL,
  delivered_at    INTEGER,
  CHECK ((status = 'delivered') = (undelivered = 0))
) STRICT;
-- The messages tesoro_outbox_fetch finds: a first attempt by id (its
-- next_attempt_at is its created_at), scanning on from the oldest pending
-- one, so writing a message writes no index; a retry (attempts > 0) by this
-- index, which only a failed delivery writes.  Rows are never deleted, so
-- ids only grow and nothing pending hides below the oldest one seen.
CREATE INDEX outbox_retry ON outbox(next_attempt_at, id)
  WHERE status = 'pending' AND attempts > 0;

-- The deliveries of every message, one row per (message, channel), with
-- each delivery's status: for the counts, the CLI, tesoro_check and tests.
-- The payload here is the message's own fields; tesoro_outbox_fetch gives
-- the host the whole payload.
CREATE VIEW outbox_delivery AS
WITH channel(number, name) AS (VALUES (0, 'crm'), (1, 'push'), (2, 'email'),
                                      (3, 'website'), (4, 'calendar'))
SELECT o.id * 8 + ch.number AS id, o.id AS message_id, o.agency_id, o.kind,
       o.recipient_id, ch.name AS channel, o.template, o.summary, o.payload,
       o.entity, o.entity_id, o.seq,
       CASE WHEN o.undelivered & (1 << ch.number) = 0 THEN 'delivered'
            WHEN o.dead & (1 << ch.number) THEN 'dead'
            ELSE o.status END AS status,
       o.attempts, o.next_attempt_at, o.last_error, o.created_at,
       o.delivered_at
FROM outbox o JOIN channel ch ON o.channels & (1 << ch.number);

-- Time-driven transitions: only the pending timers are rows, keyed by what
-- they are about; one that fires or is withdrawn is deleted (what fired is
-- in history).  A timer whose entity has moved on by the time it is due has
-- no effect.  timer_due also carries the agency, so a tick reads the due
-- ones from the index alone.
CREATE TABLE timer (
  entity    INTEGER NOT NULL,
  entity_id INTEGER NOT NULL,
  kind      TEXT    NOT NULL,
  due_at    INTEGER NOT NULL,
  agency_id INTEGER NOT NULL,
  PRIMARY KEY (entity, entity_id, kind, due_at)
) STRICT, WITHOUT ROWID;
CREATE INDEX timer_due ON timer(due_at, agency_id);

-- Documents, among them audio voice notes; one may hang on an appointment.
CREATE TABLE document (
  id          INTEGER PRIMARY KEY,
  agency_id   INTEGER NOT NULL REFERENCES agency(id),
  entity      INTEGER NOT NULL,
  entity_id   INTEGER NOT NULL,
  kind        TEXT    NOT NULL CHECK (kind = 'shared' OR kind = 'signed_mandate'
                OR kind = 'property_document' OR kind = 'photo' OR kind = 'energy_certificate'
                OR kind = 'voice_note'),
  name        TEXT    NOT NULL,
  mime        TEXT    NOT NULL CHECK (mime = 'application/pdf' OR mime = 'image/jpeg'
                OR mime = 'image/png' OR mime = 'image/webp' OR mime = 'audio/mpeg' OR mime = 'audio/mp4'
                OR mime = 'audio/aac' OR mime = 'audio/ogg' OR mime = 'audio/wav' OR mime = 'audio/webm'),
  size        INTEGER NOT NULL CHECK (size > 0 AND size = length(data)),
  sha256      TEXT    NOT NULL CHECK (length(sha256) = 64),
  data        BLOB    NOT NULL,
  uploaded_by INTEGER NOT NULL REFERENCES actor(id),
  created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX document_entity ON document(entity, entity_id);

-- ---------------------------------------------------------------------------
-- Seller onboarding: contact rooms, mandates and their proposals, listings.

CREATE TABLE room (
  id            INTEGER PRIMARY KEY,
  agency_id     INTEGER NOT NULL REFERENCES agency(id),
  contact_id    INTEGER NOT NULL REFERENCES contact(id),
  version       INTEGER NOT NULL DEFAULT 1,
  state         TEXT    NOT NULL CHECK (state = 'open' OR state = 'in_progress' OR state = 'lost'
                  OR state = 'closed' OR state = 'successful'),
  property_type TEXT    NOT NULL CHECK (property_type = 'house' OR property_type = 'apartment'
                  OR property_type = 'office' OR property_type = 'land'),
  location      TEXT    NOT NULL,
  budget        INTEGER CHECK (budget > 0),
  timeline      TEXT,
  description   TEXT,
  end_reason    TEXT,
  ended_by      INTEGER REFERENCES actor(id),
  created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX room_agency ON room(agency_id, state);
CREATE INDEX room_contact ON room(contact_id);

CREATE TABLE room_message (
  id         INTEGER PRIMARY KEY,
  room_id    INTEGER NOT NULL REFERENCES room(id),
  kind       TEXT    NOT NULL CHECK (kind IN ('message', 'note')),
  author_id  INTEGER NOT NULL REFERENCES actor(id),
  body       TEXT    NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX room_message_room ON room_message(room_id, id);

-- Agreed terms are copied from the accepted proposal and frozen here.
CREATE TABLE mandate (
  id                  INTEGER PRIMARY KEY,
  agency_id           INTEGER NOT NULL REFERENCES agency(id),
  room_id             INTEGER NOT NULL UNIQUE REFERENCES room(id),
  contact_id          INTEGER NOT NULL REFERENCES contact(id),
  version             INTEGER NOT NULL DEFAULT 1,
  state               TEXT    NOT NULL CHECK (state = 'draft' OR state = 'negotiating'
                        OR state = 'terms_agreed' OR state = 'form_shared' OR state = 'form_submitted'
                        OR state = 'validated' OR state = 'cancelled'),
  open_proposal_id    INTEGER REFERENCES proposal(id),
  agreed_proposal_id  INTEGER REFERENCES proposal(id),
  commission_type     TEXT    CHECK (commission_type IN ('percentage', 'fixed')),
  commission_value    INTEGER,
  currency            TEXT,
  exclusive           INTEGER CHECK (exclusive IN (0, 1)),
  duration_days       INTEGER,
  form_json           TEXT    CHECK (form_json IS NULL OR json_valid(form_json)),
  validated_at        INTEGER,
  end_reason          TEXT,
  created_at          INTEGER NOT NULL
) STRICT;

CREATE TABLE proposal (
  id                    INTEGER PRIMARY KEY,
  mandate_id            INTEGER NOT NULL REFERENCES mandate(id),
  author_id             INTEGER NOT NULL REFERENCES actor(id),
  author_party          TEXT    NOT NULL CHECK (author_party IN ('agent', 'client')),
  commission_type       TEXT    NOT NULL CHECK (commission_type IN ('percentage', 'fixed')),
  commission_value      INTEGER NOT NULL CHECK (commission_value > 0),
  currency              TEXT,
  exclusive             INTEGER NOT NULL CHECK (exclusive IN (0, 1)),
  duration_days         INTEGER NOT NULL CHECK (duration_days > 0),
  created_at            INTEGER NOT NULL,
  superseded_at         INTEGER,
  accepted_by_agent_at  INTEGER,
  accepted_by_client_at INTEGER,
  CHECK (commission_type = 'fixed' OR commission_value <= 10000),
  CHECK ((commission_type = 'fixed') = (currency IS NOT NULL))
) STRICT;
CREATE INDEX proposal_mandate ON proposal(mandate_id, id);

-- longitude and latitude: where the listing is, for the website's searches.
CREATE TABLE listing (
  id            INTEGER PRIMARY KEY,
  agency_id     INTEGER NOT NULL REFERENCES agency(id),
  mandate_id    INTEGER NOT NULL UNIQUE REFERENCES mandate(id),
  ref           TEXT    NOT NULL,
  version       INTEGER NOT NULL DEFAULT 1,
  state         TEXT    NOT NULL CHECK (state = 'placeholder' OR state = 'draft'
                  OR state = 'published' OR state = 'unpublished'),
  title         TEXT,
  address       TEXT,
  price         INTEGER CHECK (price > 0),
  property_type TEXT    CHECK (property_type = 'house' OR property_type = 'apartment' OR property_type = 'office' OR property_type = 'land'),
  bedrooms      INTEGER CHECK (bedrooms >= 0),
  bathrooms     INTEGER CHECK (bathrooms >= 0),
  floor_area    INTEGER CHECK (floor_area > 0),
  energy_label  TEXT,
  description   TEXT,
  published_at  INTEGER,
  created_at    INTEGER NOT NULL,
  longitude     REAL    CHECK (longitude BETWEEN -180 AND 180),
  latitude      REAL    CHECK (latitude BETWEEN -90 AND 90),
  UNIQUE (agency_id, ref)
) STRICT;

-- ---------------------------------------------------------------------------
-- Viewing appointments: deals, the properties offered to them, appointments
-- and the client's notes on them.

CREATE TABLE deal (
  id         INTEGER PRIMARY KEY,
  agency_id  INTEGER NOT NULL REFERENCES agency(id),
  contact_id INTEGER NOT NULL REFERENCES contact(id),
  agent_id   INTEGER NOT NULL REFERENCES actor(id),
  version    INTEGER NOT NULL DEFAULT 1,
  state      TEXT    NOT NULL CHECK (state = 'active' OR state = 'closed'),
  name       TEXT    NOT NULL,
  end_reason TEXT,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX deal_contact ON deal(contact_id);

-- reject_reasons: why a client is not interested in the property (the
-- portal's feed; a JSON array of reasons from a fixed list); reject_note:
-- their own words.
CREATE TABLE deal_property (
  id             INTEGER PRIMARY KEY,
  agency_id      INTEGER NOT NULL REFERENCES agency(id),
  deal_id        INTEGER NOT NULL REFERENCES deal(id),
  listing_id     INTEGER NOT NULL REFERENCES listing(id),
  version        INTEGER NOT NULL DEFAULT 1,
  state          TEXT    NOT NULL CHECK (state = 'to_review' OR state = 'interesting'
                   OR state = 'rejected' OR state = 'viewed' OR state = 'approved'),
  favourite      INTEGER NOT NULL DEFAULT 0 CHECK (favourite IN (0, 1)),
  created_at     INTEGER NOT NULL,
  reject_reasons TEXT    CHECK (reject_reasons IS NULL OR json_valid(reject_reasons)),
  reject_note    TEXT,
  UNIQUE (deal_id, listing_id)
) STRICT;

-- A viewing is a CRM meeting: type and category are fixed for viewings.
-- preferred: the client's 1-3 date-times as a JSON array, in their order.
CREATE TABLE appointment (
  id               INTEGER PRIMARY KEY,
  agency_id        INTEGER NOT NULL REFERENCES agency(id),
  contact_id       INTEGER NOT NULL REFERENCES contact(id),
  deal_id          INTEGER NOT NULL REFERENCES deal(id),
  deal_property_id INTEGER NOT NULL REFERENCES deal_property(id),
  listing_id       INTEGER NOT NULL REFERENCES listing(id),
  owner_id         INTEGER NOT NULL REFERENCES actor(id),
  version          INTEGER NOT NULL DEFAULT 1,
  state            TEXT    NOT NULL CHECK (state = 'pending' OR state = 'confirmed'
                     OR state = 'completed' OR state = 'cancelled' OR state = 'rejected'),
  type             TEXT    NOT NULL DEFAULT 'visit_location'
                     CHECK (type = 'visit_location'),
  category         TEXT    NOT NULL DEFAULT 'visit' CHECK (category = 'visit'),
  preferred        TEXT    NOT NULL CHECK (json_valid(preferred) AND
                     json_array_length(preferred) BETWEEN 1 AND 3),
  start_at         INTEGER,
  duration_s       INTEGER NOT NULL DEFAULT 3600 CHECK (duration_s > 0),
  completed_at     INTEGER,
  completed_by     INTEGER REFERENCES actor(id),
  ended_at         INTEGER,
  ended_by         INTEGER REFERENCES actor(id),
  end_reason       TEXT,
  no_show_at       INTEGER,
  no_show_by       INTEGER REFERENCES actor(id),
  rating           INTEGER CHECK (rating BETWEEN 1 AND 5),
  rated_at         INTEGER,
  created_at       INTEGER NOT NULL,
  -- A transition moves the state before its effect writes the times, so
  -- "confirmed has a start" and "completed has completed_at" are checked
  -- by tesoro_check, not here.
  CHECK (rating IS NULL OR state = 'completed'),
  CHECK (no_show_at IS NULL OR state = 'completed')
) STRICT;
-- A client's appointment lists, by start and not by state: a transition
-- moves the state, and an index holding it was rewritten by every move
-- (make bench: about 12 000 instructions a transition).  A client has few
-- appointments, so the lists filter the state on the rows found.
CREATE INDEX appointment_client ON appointment(contact_id, start_at);
CREATE INDEX appointment_owner ON appointment(owner_id, start_at);

CREATE TABLE appointment_note (
  id             INTEGER PRIMARY KEY,
  appointment_id INTEGER NOT NULL REFERENCES appointment(id),
  author_id      INTEGER NOT NULL REFERENCES actor(id),
  body           TEXT    NOT NULL,
  created_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX appointment_note_appointment ON appointment_note(appointment_id, id);

-- ---------------------------------------------------------------------------
-- Referral stages: referrals and their notes; the agency's fee is
-- agency.referral_fee_bp.

-- last_active_stage: the newest active stage, where a failed referral
-- may go back to.  Dates are agency-local calendar dates, 'YYYY-MM-DD'
-- ("+0 days" makes date() normalise 02-30, which it otherwise keeps).
-- attempted_via and contacted_via: how the client was tried and reached
-- (seed: a voicemail, a text or an e-mail; a phone call, a text or an
-- e-mail), the newest of each, as stage data; history keeps every attempt.
CREATE TABLE referral (
  id                INTEGER PRIMARY KEY,
  agency_id         INTEGER NOT NULL REFERENCES agency(id),
  contact_id        INTEGER NOT NULL REFERENCES contact(id),
  agent_id          INTEGER NOT NULL REFERENCES actor(id),
  version           INTEGER NOT NULL DEFAULT 1,
  state             TEXT    NOT NULL CHECK (state = 'left_voicemail'
                      OR state = 'connected' OR state = 'meeting_scheduled' OR state = 'met_with_person'
                      OR state = 'coming_soon' OR state = 'making_an_offer' OR state = 'listing' OR state = 'in_escrow'
                      OR state = 'closed' OR state = 'closed_paid' OR state = 'failed'),
  last_active_stage TEXT    NOT NULL CHECK (last_active_stage = 'left_voicemail' OR last_active_stage = 'connected' OR last_active_stage = 'meeting_scheduled'
                      OR last_active_stage = 'met_with_person' OR last_active_stage = 'coming_soon' OR last_active_stage = 'making_an_offer'
                      OR last_active_stage = 'listing' OR last_active_stage = 'in_escrow' OR last_active_stage = 'closed' OR last_active_stage = 'closed_paid'),
  meeting_at        INTEGER CHECK (meeting_at > 0),
  list_date         TEXT    CHECK (list_date IS date(list_date, '+0 days')),
  sale_price        INTEGER CHECK (sale_price > 0),
  close_date        TEXT    CHECK (close_date IS date(close_date, '+0 days')),
  fee_bp            INTEGER NOT NULL CHECK (fee_bp BETWEEN 0 AND 10000),
  fee_owed          INTEGER CHECK (fee_owed >= 0),
  paid_amount       INTEGER CHECK (paid_amount > 0),
  paid_at           INTEGER,
  failed_at         INTEGER,
  failed_by         INTEGER REFERENCES actor(id),
  fail_reason       TEXT,
  created_at        INTEGER NOT NULL,
  attempted_via     TEXT    CHECK (attempted_via = 'voicemail' OR attempted_via = 'text' OR
                      attempted_via = 'email'),
  contacted_via     TEXT    CHECK (contacted_via = 'phone' OR contacted_via = 'text' OR
                      contacted_via = 'email')
) STRICT;
CREATE INDEX referral_agency ON referral(agency_id, state);
CREATE INDEX referral_agent ON referral(agent_id, state);

CREATE TABLE referral_note (
  id          INTEGER PRIMARY KEY,
  referral_id INTEGER NOT NULL REFERENCES referral(id),
  author_id   INTEGER NOT NULL REFERENCES actor(id),
  body        TEXT    NOT NULL,
  created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX referral_note_referral ON referral_note(referral_id, id);

-- ---------------------------------------------------------------------------
-- The client portal: accounts, sessions, messages to the agent.

-- An account's state is its onboarding step; contact_id is NULL only while
-- a self-registration awaits verification.  Secrets are argon2id strings
-- (libsodium crypto_pwhash_str), never clear text: the CHECKs refuse
-- anything else.  The e-mail is unique per agency, compared
-- case-insensitively.  reset_*: a password reset (the secret's hash, its end
-- and wrong tries).  deactivated_at: staff switched the account off (no
-- login, no session).  email_pending: a login e-mail changed by a contact
-- correction, waiting until its owner verifies it with the code sent to it.
CREATE TABLE portal_account (
  id               INTEGER PRIMARY KEY,
  agency_id        INTEGER NOT NULL REFERENCES agency(id),
  contact_id       INTEGER REFERENCES contact(id),
  version          INTEGER NOT NULL DEFAULT 1,
  state            TEXT    NOT NULL CHECK (state = 'unverified'
                     OR state = 'set_password' OR state = 'welcome' OR state = 'tour' OR state = 'ready'),
  email            TEXT    NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
  name             TEXT    CHECK (length(name) BETWEEN 1 AND 200),
  password_hash    TEXT    NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
  code_hash        TEXT    CHECK (code_hash LIKE '$argon2id$%'),
  code_expires_at  INTEGER,
  code_attempts    INTEGER NOT NULL DEFAULT 0 CHECK (code_attempts BETWEEN 0 AND 5),
  failed_logins    INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins BETWEEN 0 AND 4),
  locked_until     INTEGER,
  language         TEXT    CHECK (language = 'en' OR language = 'nl' OR language = 'de' OR language = 'fr' OR language = 'es'
                     OR language = 'pt' OR language = 'it' OR language = 'pl' OR language = 'sv' OR language = 'no'),
  last_login_at    INTEGER,
  created_by       INTEGER NOT NULL REFERENCES actor(id),
  created_at       INTEGER NOT NULL,
  reset_hash       TEXT    CHECK (reset_hash LIKE '$argon2id$%'),
  reset_expires_at INTEGER,
  reset_attempts   INTEGER NOT NULL DEFAULT 0 CHECK (reset_attempts BETWEEN 0 AND 5),
  deactivated_at   INTEGER,
  email_pending    TEXT
) STRICT;
CREATE UNIQUE INDEX portal_account_email ON portal_account(agency_id, lower(email));
CREATE UNIQUE INDEX portal_account_contact ON portal_account(contact_id)
  WHERE contact_id IS NOT NULL;

-- Portal sessions, keyed by the BLAKE2b-256 hash of their token: the token
-- itself is never stored.  A session row goes when the session ends.
CREATE TABLE portal_session (
  token_hash   BLOB    PRIMARY KEY CHECK (length(token_hash) = 32),
  account_id   INTEGER NOT NULL REFERENCES portal_account(id),
  agency_id    INTEGER NOT NULL REFERENCES agency(id),
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX portal_session_account ON portal_session(account_id);
CREATE INDEX portal_session_agency ON portal_session(agency_id);

-- Contact agent: a client's message to their agent from the portal.
CREATE TABLE portal_message (
  id               INTEGER PRIMARY KEY,
  agency_id        INTEGER NOT NULL REFERENCES agency(id),
  contact_id       INTEGER NOT NULL REFERENCES contact(id),
  deal_property_id INTEGER REFERENCES deal_property(id),
  body             TEXT    NOT NULL CHECK (length(body) > 0),
  created_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX portal_message_contact ON portal_message(contact_id, id);

-- ---------------------------------------------------------------------------
-- Website exchange (SPEC §6): web customers and the prospect holding tank,
-- the website's events (for idempotent replays), searches with their
-- polygon vertices, interest per property, enquiries, vendor claims and
-- firm vendor links.
-- A "stamp" is '<event time, 20 digits>|<source_id>': comparing stamps as
-- text orders events by time, then source id — the same whatever order
-- they arrived in.

-- consent ... consent_stamp: the marketing consent the website reported
-- before the customer became a contact.  erased_at, erased_by: a
-- website-only person (a prospect never approved, or discarded) erased
-- (tesoro_web_customer_erase); the row stays for the books.
CREATE TABLE web_customer (
  id               INTEGER PRIMARY KEY,
  agency_id        INTEGER NOT NULL REFERENCES agency(id),
  external_id      TEXT    CHECK (length(external_id) BETWEEN 1 AND 200),
  contact_id       INTEGER REFERENCES contact(id),
  version          INTEGER NOT NULL DEFAULT 1,
  state            TEXT    NOT NULL CHECK (state = 'prospect' OR state = 'approved' OR state = 'discarded'),
  name             TEXT,
  email            TEXT,
  phone            TEXT,
  details_stamp    TEXT,
  visits           INTEGER NOT NULL DEFAULT 0 CHECK (visits >= 0),
  last_visit_at    INTEGER,
  visit_stamp      TEXT,
  group_ref        TEXT,
  group_stamp      TEXT,
  last_activity_at INTEGER,
  end_reason       TEXT,
  created_at       INTEGER NOT NULL,
  consent          TEXT    CHECK (consent IN ('granted', 'denied')),
  consent_at       INTEGER,
  consent_text     TEXT,
  consent_stamp    TEXT,
  erased_at        INTEGER,
  erased_by        INTEGER
) STRICT;
CREATE UNIQUE INDEX web_customer_external ON web_customer(agency_id, external_id)
  WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX web_customer_contact ON web_customer(contact_id)
  WHERE contact_id IS NOT NULL;
CREATE INDEX web_customer_state ON web_customer(agency_id, state);

-- Every ingested event once: its digest tells a replay from a reuse.  No
-- foreign keys and no JSON check: each was a parent lookup or a parse for
-- every website event; tesoro_check holds both rules (a customer of the
-- event's agency; the result an object).
CREATE TABLE web_event (
  id          INTEGER PRIMARY KEY,
  agency_id   INTEGER NOT NULL,
  source_id   TEXT    NOT NULL CHECK (length(source_id) BETWEEN 1 AND 200),
  digest      TEXT    NOT NULL CHECK (length(digest) = 64),
  type        TEXT    NOT NULL,
  customer_id INTEGER NOT NULL,
  at          INTEGER NOT NULL CHECK (at >= 0),
  result      TEXT    NOT NULL,
  received_at INTEGER NOT NULL,
  UNIQUE (agency_id, source_id)
) STRICT;

CREATE TABLE search (
  id             INTEGER PRIMARY KEY,
  agency_id      INTEGER NOT NULL REFERENCES agency(id),
  customer_id    INTEGER NOT NULL REFERENCES web_customer(id),
  external_id    TEXT,
  version        INTEGER NOT NULL DEFAULT 1,
  state          TEXT    NOT NULL CHECK (state = 'active' OR state = 'deleted'),
  hard           INTEGER NOT NULL CHECK (hard IN (0, 1)),
  alert          INTEGER NOT NULL DEFAULT 0 CHECK (alert IN (0, 1)),
  source         TEXT    NOT NULL CHECK (source IN ('website', 'crm')),
  criteria       TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(criteria)),
  min_price      INTEGER,
  max_price      INTEGER,
  property_types TEXT    CHECK (property_types IS NULL OR json_valid(property_types)),
  min_bedrooms   INTEGER,
  max_bedrooms   INTEGER,
  area_name      TEXT,
  centre_lon     REAL,
  centre_lat     REAL,
  radius_m       REAL    CHECK (radius_m > 0),
  min_lon        REAL,
  max_lon        REAL,
  min_lat        REAL,
  max_lat        REAL,
  stamp          TEXT,
  updated_at     INTEGER NOT NULL,
  created_at     INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX search_external ON search(customer_id, external_id)
  WHERE external_id IS NOT NULL;
-- A customer's searches, for the call list.
CREATE INDEX search_customer ON search(customer_id, state);

-- A search polygon's positions: ring 0 the outline, others holes.
CREATE TABLE search_vertex (
  search_id INTEGER NOT NULL REFERENCES search(id),
  ring      INTEGER NOT NULL,
  idx       INTEGER NOT NULL,
  lon       REAL    NOT NULL,
  lat       REAL    NOT NULL,
  PRIMARY KEY (search_id, ring, idx)
) STRICT, WITHOUT ROWID;

CREATE TABLE web_interest (
  customer_id    INTEGER NOT NULL REFERENCES web_customer(id),
  listing_id     INTEGER NOT NULL REFERENCES listing(id),
  views          INTEGER NOT NULL DEFAULT 0 CHECK (views >= 0),
  last_viewed_at INTEGER,
  saved          INTEGER NOT NULL DEFAULT 0 CHECK (saved IN (0, 1)),
  save_stamp     TEXT,
  rank           INTEGER CHECK (rank BETWEEN 1 AND 5),
  note           TEXT,
  note_shared    INTEGER NOT NULL DEFAULT 0 CHECK (note_shared IN (0, 1)),
  rank_stamp     TEXT,
  in_branch_at   INTEGER,
  PRIMARY KEY (customer_id, listing_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE enquiry (
  id          INTEGER PRIMARY KEY,
  agency_id   INTEGER NOT NULL REFERENCES agency(id),
  customer_id INTEGER NOT NULL REFERENCES web_customer(id),
  type        TEXT    NOT NULL CHECK (type = 'property' OR type = 'branch' OR type = 'valuation'
                OR type = 'mortgage' OR type = 'viewing' OR type = 'staff' OR type = 'general'),
  listing_id  INTEGER REFERENCES listing(id),
  message     TEXT,
  at          INTEGER NOT NULL
) STRICT;
CREATE INDEX enquiry_customer ON enquiry(customer_id, at);

CREATE TABLE vendor_claim (
  id          INTEGER PRIMARY KEY,
  agency_id   INTEGER NOT NULL REFERENCES agency(id),
  customer_id INTEGER NOT NULL REFERENCES web_customer(id),
  listing_id  INTEGER NOT NULL REFERENCES listing(id),
  version     INTEGER NOT NULL DEFAULT 1,
  state       TEXT    NOT NULL CHECK (state = 'claimed' OR state = 'confirmed' OR state = 'rejected'),
  note        TEXT,
  end_reason  TEXT,
  created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX vendor_claim_customer ON vendor_claim(customer_id, listing_id);

CREATE TABLE vendor_link (
  contact_id INTEGER NOT NULL REFERENCES contact(id),
  listing_id INTEGER NOT NULL REFERENCES listing(id),
  role       TEXT    NOT NULL CHECK (role IN ('vendor', 'landlord')),
  created_by INTEGER NOT NULL REFERENCES actor(id),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (contact_id, listing_id)
) STRICT, WITHOUT ROWID;

-- ---------------------------------------------------------------------------
-- What tesoro_agency_import brought in: per agency, record type and the
-- source system's id, the entity made from it and the digest of the record
-- (the same record again is "present"; another under that id a conflict).
CREATE TABLE import_ref (
  agency_id   INTEGER NOT NULL,
  type        TEXT    NOT NULL,
  external_id TEXT    NOT NULL CHECK (length(external_id) BETWEEN 1 AND 200),
  entity      INTEGER NOT NULL,
  entity_id   INTEGER NOT NULL,
  digest      BLOB    NOT NULL,
  line        INTEGER NOT NULL,
  imported_at INTEGER NOT NULL,
  PRIMARY KEY (agency_id, type, external_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX import_ref_entity ON import_ref(agency_id, type, entity_id);

-- @version 2
-- A client's appointments by contact alone: with the start in it, every
-- confirmed or moved viewing rewrote its index entry, one page more for
-- the write (make bench).  A client has few appointments; their lists
-- sort the ones found.
DROP INDEX appointment_client;
CREATE INDEX appointment_client ON appointment(contact_id);

-- @version 3
-- A contact's timeline keyed by the contact: one b-tree a line, where a
-- table and its index were two (make bench: 0.7 WAL pages a transition).
-- id numbers the contact's lines in the order they were written (a line
-- takes the contact's highest id + 1); the lines of a file from before
-- keep theirs.
ALTER TABLE activity RENAME TO activity_before_3;
CREATE TABLE activity (
  contact_id INTEGER NOT NULL,
  id         INTEGER NOT NULL CHECK (id > 0),
  agency_id  INTEGER NOT NULL,
  kind       TEXT    NOT NULL,
  actor_id   INTEGER NOT NULL,
  at         INTEGER NOT NULL,
  entity     INTEGER NOT NULL,
  entity_id  INTEGER NOT NULL,
  summary    TEXT    NOT NULL,
  PRIMARY KEY (contact_id, id)
) STRICT, WITHOUT ROWID;
INSERT INTO activity(contact_id, id, agency_id, kind, actor_id, at, entity,
                     entity_id, summary)
  SELECT contact_id, id, agency_id, kind, actor_id, at, entity, entity_id,
         summary FROM activity_before_3;
DROP TABLE activity_before_3;

-- An agent's viewings by owner alone, as a client's (section 2): with the
-- start in it, a confirmed or moved viewing rewrote its entry, and an
-- agent's entries spread over pages by start (make bench: 0.6 WAL pages a
-- transition).  The agent's lists sort what they find.
DROP INDEX appointment_owner;
CREATE INDEX appointment_owner ON appointment(owner_id);

-- @version 4
-- Pending timers keyed by their due time alone: the tick reads them from
-- the key's front, and a table keyed by what they are about needed a
-- second b-tree ordered by due (make bench: one WAL page a transition).
-- A withdrawal deletes by the whole key, so the rows the timers are about
-- keep their due times: an appointment's follow from its start and
-- duration and, for the reminder, reminder_at (the reminder its last
-- confirm or reschedule planned, NULL: none); a referral's list-date timer
-- is list_due (the one last planned).
ALTER TABLE appointment ADD COLUMN reminder_at INTEGER;
UPDATE appointment SET reminder_at = (SELECT due_at FROM timer WHERE
  entity = 8 AND entity_id = appointment.id AND kind = 'viewing_reminder');
ALTER TABLE referral ADD COLUMN list_due INTEGER;
UPDATE referral SET list_due = (SELECT due_at FROM timer WHERE
  entity = 9 AND entity_id = referral.id AND kind = 'referral_list_date');
ALTER TABLE timer RENAME TO timer_before_3;
CREATE TABLE timer (
  due_at    INTEGER NOT NULL,
  entity    INTEGER NOT NULL,
  entity_id INTEGER NOT NULL,
  kind      TEXT    NOT NULL,
  agency_id INTEGER NOT NULL,
  PRIMARY KEY (due_at, entity, entity_id, kind)
) STRICT, WITHOUT ROWID;
INSERT INTO timer(due_at, entity, entity_id, kind, agency_id)
  SELECT due_at, entity, entity_id, kind, agency_id FROM timer_before_3;
DROP TABLE timer_before_3;

-- @version 5
-- A website event keeps what its answer says, not the answer's text: the
-- answer (tesoro_exchange_ingest's result) is rendered from these columns
-- for the event and each replay alike.  The text made a row about 110
-- bytes longer, and a batch's events filled that many more pages (make
-- bench: about 6 of the 63 WAL pages a batch of 500).  applied: 0 when
-- superseded; entity: the TESORO_ENTITY_* number of what the event made
-- or changed (0: none), entity_id its id.
ALTER TABLE web_event RENAME TO web_event_before_5;
CREATE TABLE web_event (
  id          INTEGER PRIMARY KEY,
  agency_id   INTEGER NOT NULL,
  source_id   TEXT    NOT NULL CHECK (length(source_id) BETWEEN 1 AND 200),
  digest      TEXT    NOT NULL CHECK (length(digest) = 64),
  type        TEXT    NOT NULL,
  customer_id INTEGER NOT NULL,
  at          INTEGER NOT NULL CHECK (at >= 0),
  applied     INTEGER NOT NULL CHECK (applied IN (0, 1)),
  entity      INTEGER NOT NULL CHECK (entity >= 0),
  entity_id   INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  UNIQUE (agency_id, source_id)
) STRICT;
INSERT INTO web_event(id, agency_id, source_id, digest, type, customer_id,
                      at, applied, entity, entity_id, received_at)
  SELECT id, agency_id, source_id, digest, type, customer_id, at,
         json_extract(result, '$.status') = 'applied',
         CASE json_extract(result, '$.entity')
           WHEN 'contact' THEN 1 WHEN 'room' THEN 2 WHEN 'mandate' THEN 3
           WHEN 'listing' THEN 4 WHEN 'task' THEN 5 WHEN 'deal' THEN 6
           WHEN 'deal_property' THEN 7 WHEN 'appointment' THEN 8
           WHEN 'referral' THEN 9 WHEN 'portal_account' THEN 10
           WHEN 'web_customer' THEN 11 WHEN 'search' THEN 12
           WHEN 'vendor_claim' THEN 13 ELSE 0 END,
         coalesce(json_extract(result, '$.entity_id'), 0), received_at
    FROM web_event_before_5;
DROP TABLE web_event_before_5;

-- @version 6
-- A contact's timeline without a page of its own per transition: the line
-- of a viewing's step is kept on that step's history row (line_kind,
-- line_summary), where the row is written anyway; other lines stay rows of
-- activity (make bench: one b-tree page and 16 000 instructions a
-- transition).  line_ns and activity.ns place each line in the order lines
-- were written (the writing machine's clock in nanoseconds, rising on each
-- handle); rows from before have none and come first, by their id.
-- timeline is the one list of a contact's lines, numbered 1, 2, ... in that
-- order: what tesoro_activities reads.
ALTER TABLE history ADD COLUMN line_kind TEXT;
ALTER TABLE history ADD COLUMN line_summary TEXT;
ALTER TABLE history ADD COLUMN line_ns INTEGER;
ALTER TABLE activity ADD COLUMN ns INTEGER;
CREATE VIEW timeline AS
  SELECT contact_id, row_number() OVER (PARTITION BY contact_id
           ORDER BY coalesce(ns, 0), source, k) AS id,
         agency_id, kind, actor_id, at, entity, entity_id, summary
    FROM (SELECT contact_id, agency_id, kind, actor_id, at, entity,
                 entity_id, summary, ns, 0 AS source, id AS k
            FROM activity
          UNION ALL
          -- CROSS JOIN: the contact's appointments first (by their index)
          SELECT a.contact_id, h.agency_id, h.line_kind, h.actor_id, h.at,
                 h.entity, h.entity_id, h.line_summary, h.line_ns, 1, h.seq
            FROM appointment a CROSS JOIN history h
              ON h.entity = 8 AND h.entity_id = a.id
           WHERE h.line_kind IS NOT NULL);

-- @version 7
-- A website event keyed by the agency and its source id, the key its
-- replays look up: a row and a UNIQUE index were two b-trees an event.
-- The digest keeps the first 128 of its 256 bits, as bytes (they were 64
-- hex digits), ample to tell a replay from a reuse of the id; the row
-- is about half its bytes (make bench: web_event wrote 20 of a batch's 43
-- WAL pages).  tesoro_unhex is tesoro's (SQLite 3.40 has no unhex()).
ALTER TABLE web_event RENAME TO web_event_before_7;
CREATE TABLE web_event (
  agency_id   INTEGER NOT NULL,
  source_id   TEXT    NOT NULL CHECK (length(source_id) BETWEEN 1 AND 200),
  digest      BLOB    NOT NULL CHECK (length(digest) = 16),
  type        TEXT    NOT NULL,
  customer_id INTEGER NOT NULL,
  at          INTEGER NOT NULL CHECK (at >= 0),
  applied     INTEGER NOT NULL CHECK (applied IN (0, 1)),
  entity      INTEGER NOT NULL CHECK (entity >= 0),
  entity_id   INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (agency_id, source_id)
) STRICT, WITHOUT ROWID;
INSERT INTO web_event(agency_id, source_id, digest, type, customer_id, at,
                      applied, entity, entity_id, received_at)
  SELECT agency_id, source_id, tesoro_unhex(substr(digest, 1, 32)), type,
         customer_id, at, applied, entity, entity_id, received_at
    FROM web_event_before_7;
DROP TABLE web_event_before_7;
