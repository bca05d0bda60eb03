#!/usr/bin/env python3
"""bench_peer.py -- the viewing lifecycle in plain Python, for `make bench`.

A peer, not a floor: what the same workflow costs written the obvious way
in Python with the standard library's sqlite3 module, so tesoro's
transitions per second can be read against it.  The workload is
tesoro's appointment lifecycle as bench.c's lean floor has it:

  request   the client asks for a viewing of a deal property: the deal
            property's version moves (request_viewing, state kept) and a
            pending appointment is created; the owner gets a message on
            crm, push and email, and a calendar message.
  confirm   staff confirm a start time: pending -> confirmed; the client
            gets an e-mail, the owner a calendar message.
  complete  confirmed -> completed, by the system; a calendar message.
            (tesoro completes by a timer; here it is a direct call, so
            there are no timer rows.)

Each transition is one transaction (BEGIN IMMEDIATE ... COMMIT) that reads
the actor row (kind, role, agency) and the entity row, checks the move
against a transition table and the actor's role, writes the state with a
compare-and-set on the version, adds one history row and one outbox row per
message.  The pragmas are tesoro's: WAL, synchronous=NORMAL, foreign keys,
secure_delete, temp_store=MEMORY.

Usage: bench_peer.py [--transitions N] [--rounds R] [--dir DIR]
                     [--mode both|file|memory]
Prints one line:
  file_tps=<transitions/s> file_us=<us/transition> memory_tps=.. memory_us=..
  transitions=N
each the best of R rounds, a round a fresh database (DIR/peer.db, and
:memory:); a mode that leaves one out prints 0 for its figures.  bench.c
runs it once a round (R = 1), in turn with tesoro and the floors.
"""

import argparse
import json
import os
import sqlite3
import sys
import time

SCHEMA = """
CREATE TABLE actor (
  id     INTEGER PRIMARY KEY,
  agency INTEGER NOT NULL,
  kind   TEXT    NOT NULL,
  role   TEXT
) STRICT;
CREATE TABLE deal_property (
  id      INTEGER PRIMARY KEY,
  agency  INTEGER NOT NULL,
  client  INTEGER NOT NULL REFERENCES actor(id),
  owner   INTEGER NOT NULL REFERENCES actor(id),
  state   TEXT    NOT NULL,
  version INTEGER NOT NULL
) STRICT;
CREATE TABLE appointment (
  id            INTEGER PRIMARY KEY,
  agency        INTEGER NOT NULL,
  deal_property INTEGER NOT NULL REFERENCES deal_property(id),
  client        INTEGER NOT NULL REFERENCES actor(id),
  owner         INTEGER NOT NULL REFERENCES actor(id),
  state         TEXT    NOT NULL,
  version       INTEGER NOT NULL,
  preferred     TEXT    NOT NULL,
  start_at      INTEGER
) STRICT;
CREATE TABLE history (
  entity     INTEGER NOT NULL,
  id         INTEGER NOT NULL,
  seq        INTEGER NOT NULL,
  event      TEXT    NOT NULL,
  from_state TEXT,
  to_state   TEXT    NOT NULL,
  actor      INTEGER NOT NULL REFERENCES actor(id),
  at         INTEGER NOT NULL,
  reason     TEXT,
  PRIMARY KEY (entity, id, seq)
) STRICT, WITHOUT ROWID;
CREATE TABLE outbox (
  id        INTEGER PRIMARY KEY,
  recipient INTEGER NOT NULL REFERENCES actor(id),
  channels  TEXT    NOT NULL,
  template  TEXT    NOT NULL,
  payload   TEXT    NOT NULL,
  at        INTEGER NOT NULL
) STRICT;
"""

APPOINTMENT, DEAL_PROPERTY = 8, 7
CLIENT, AGENT, ADMIN, SYSTEM = 1, 2, 4, 8
STAFF = AGENT | ADMIN

# (entity, from, event) -> (to, roles); from None: the entity is created.
RULES = {
    (APPOINTMENT, None, "request"): ("pending", CLIENT),
    (APPOINTMENT, "pending", "confirm"): ("confirmed", STAFF),
    (APPOINTMENT, "confirmed", "complete"): ("completed", SYSTEM),
}
for _state in ("to_review", "interesting", "viewed", "approved"):
    RULES[(DEAL_PROPERTY, _state, "request_viewing")] = (_state, CLIENT)

T0 = 1780000000
SYSTEM_ACTOR, AGENT_ACTOR, CLIENT_ACTOR, DEAL_PROPERTY_ID = 1, 2, 3, 1


class Refused(Exception):
    """A rule said no: the transaction rolls back."""


class Peer:
    def __init__(self, path):
        self.db = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL",
                       "foreign_keys = ON", "secure_delete = ON",
                       "temp_store = MEMORY"):
            self.db.execute("PRAGMA " + pragma)
        self.db.executescript(SCHEMA)
        self.db.executemany("INSERT INTO actor VALUES (?, 1, ?, ?)",
                            [(SYSTEM_ACTOR, "system", None),
                             (AGENT_ACTOR, "agent", "agent"),
                             (CLIENT_ACTOR, "client", None)])
        self.db.execute("INSERT INTO deal_property VALUES (?, 1, ?, ?, 'to_review', 1)",
                        (DEAL_PROPERTY_ID, CLIENT_ACTOR, AGENT_ACTOR))

    def close(self):
        self.db.close()

    # -- one transaction per transition ---------------------------------
    def _transaction(self, work, *args):
        self.db.execute("BEGIN IMMEDIATE")
        try:
            result = work(*args)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return result

    def _actor(self, actor):
        row = self.db.execute("SELECT agency, kind, role FROM actor WHERE id = ?",
                              (actor,)).fetchone()
        if row is None:
            raise Refused("no such actor")
        agency, kind, role = row
        roles = {"client": CLIENT, "system": SYSTEM}.get(kind, 0)
        if kind == "agent":
            roles = ADMIN if role == "admin" else AGENT
        return agency, roles

    @staticmethod
    def _rule(entity, state, event, roles):
        rule = RULES.get((entity, state, event))
        if rule is None:
            raise Refused("%s is not allowed from %s" % (event, state))
        if not rule[1] & roles:
            raise Refused("%s is not allowed to this actor" % event)
        return rule[0]

    def _history(self, entity, id_, seq, event, from_, to, actor, at):
        self.db.execute("INSERT INTO history VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                        (entity, id_, seq, event, from_, to, actor, at))

    def _message(self, recipient, channels, template, payload, at):
        self.db.execute("INSERT INTO outbox(recipient, channels, template, payload, at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (recipient, channels, template, json.dumps(payload), at))

    def _appointment(self, appointment):
        row = self.db.execute("SELECT agency, client, owner, state, version, start_at "
                              "FROM appointment WHERE id = ?", (appointment,)).fetchone()
        if row is None:
            raise Refused("no such appointment")
        return row

    def _set_appointment(self, appointment, state, version, start_at):
        cur = self.db.execute("UPDATE appointment SET state = ?, version = ?, "
                              "start_at = coalesce(?, start_at) "
                              "WHERE id = ? AND version = ?",
                              (state, version + 1, start_at, appointment, version))
        if cur.rowcount != 1:
            raise Refused("the appointment changed meanwhile")

    # -- the three calls -------------------------------------------------
    def request(self, actor, deal_property, preferred, now):
        return self._transaction(self._request, actor, deal_property, preferred, now)

    def _request(self, actor, deal_property, preferred, now):
        agency, roles = self._actor(actor)
        row = self.db.execute("SELECT agency, client, owner, state, version "
                              "FROM deal_property WHERE id = ?", (deal_property,)).fetchone()
        if row is None:
            raise Refused("no such deal property")
        dp_agency, client, owner, state, version = row
        if dp_agency != agency or client != actor:
            raise Refused("not this client's deal property")
        if not 1 <= len(preferred) <= 3 or len(set(preferred)) != len(preferred) \
                or min(preferred) <= now:
            raise Refused("preferred times: 1 to 3, different, in the future")
        kept = self._rule(DEAL_PROPERTY, state, "request_viewing", roles)
        cur = self.db.execute("UPDATE deal_property SET state = ?, version = ? "
                              "WHERE id = ? AND version = ?",
                              (kept, version + 1, deal_property, version))
        if cur.rowcount != 1:
            raise Refused("the deal property changed meanwhile")
        self._history(DEAL_PROPERTY, deal_property, version + 1, "request_viewing",
                      state, kept, actor, now)
        to = self._rule(APPOINTMENT, None, "request", roles)
        appointment = self.db.execute(
            "INSERT INTO appointment(agency, deal_property, client, owner, state, "
            "version, preferred) VALUES (?, ?, ?, ?, ?, 1, ?)",
            (agency, deal_property, client, owner, to, json.dumps(preferred))).lastrowid
        self._history(APPOINTMENT, appointment, 1, "request", None, to, actor, now)
        payload = {"entity": "appointment", "entity_id": appointment,
                   "event": "request", "state": to}
        self._message(owner, "crm,push,email", "Meeting Created By Portal User",
                      payload, now)
        self._message(owner, "calendar", "Calendar Meeting Event", payload, now)
        return appointment

    def confirm(self, actor, appointment, start_at, now):
        self._transaction(self._confirm, actor, appointment, start_at, now)

    def _confirm(self, actor, appointment, start_at, now):
        agency, roles = self._actor(actor)
        ap_agency, client, owner, state, version, _ = self._appointment(appointment)
        if ap_agency != agency:
            raise Refused("another agency's appointment")
        if start_at <= now:
            raise Refused("the start time is in the past")
        to = self._rule(APPOINTMENT, state, "confirm", roles)
        self._set_appointment(appointment, to, version, start_at)
        self._history(APPOINTMENT, appointment, version + 1, "confirm", state, to,
                      actor, now)
        payload = {"entity": "appointment", "entity_id": appointment,
                   "event": "confirm", "state": to, "start_at": start_at}
        self._message(client, "email", "Meeting Status Changed By Portal User",
                      payload, now)
        self._message(owner, "calendar", "Calendar Meeting Event", payload, now)

    def complete(self, actor, appointment, now):
        self._transaction(self._complete, actor, appointment, now)

    def _complete(self, actor, appointment, now):
        agency, roles = self._actor(actor)
        ap_agency, _, owner, state, version, start_at = self._appointment(appointment)
        if ap_agency != agency:
            raise Refused("another agency's appointment")
        if start_at is None or start_at > now:
            raise Refused("the viewing has not started")
        to = self._rule(APPOINTMENT, state, "complete", roles)
        self._set_appointment(appointment, to, version, None)
        self._history(APPOINTMENT, appointment, version + 1, "complete", state, to,
                      actor, now)
        self._message(owner, "calendar", "Calendar Meeting Event",
                      {"entity": "appointment", "entity_id": appointment,
                       "event": "complete", "state": to, "start_at": start_at}, now)


def cycle(peer, transitions):
    """bench.c's viewing cycle: one call per transition, two hours apart."""
    appointment = 0
    for i in range(transitions):
        base = T0 + 86400 + (i // 3) * 7200
        step = i % 3
        if step == 0:
            appointment = peer.request(CLIENT_ACTOR, DEAL_PROPERTY_ID, [base + 3600], base)
        elif step == 1:
            peer.confirm(AGENT_ACTOR, appointment, base + 3600, base)
        else:
            peer.complete(SYSTEM_ACTOR, appointment, base + 3600)


def best_seconds(path, transitions, rounds):
    best = float("inf")
    for _ in range(rounds):
        if path != ":memory:":
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)
        peer = Peer(path)
        start = time.perf_counter()
        cycle(peer, transitions)
        best = min(best, time.perf_counter() - start)
        peer.close()
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", type=int, default=3 * 1500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", default=".")
    parser.add_argument("--mode", choices=("both", "file", "memory"),
                        default="both")
    args = parser.parse_args()
    n = args.transitions
    figures = {"file": (0.0, 0.0), "memory": (0.0, 0.0)}
    for mode in ("file", "memory"):
        if args.mode not in ("both", mode):
            continue
        path = os.path.join(args.dir, "peer.db") if mode == "file" else ":memory:"
        seconds = best_seconds(path, n, args.rounds)
        figures[mode] = (n / seconds, seconds / n * 1e6)
    for suffix in ("", "-wal", "-shm"):
        path = os.path.join(args.dir, "peer.db" + suffix)
        if os.path.exists(path):
            os.remove(path)
    print("file_tps=%.0f file_us=%.2f memory_tps=%.0f memory_us=%.2f transitions=%d"
          % (figures["file"] + figures["memory"] + (n,)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
