#!/usr/bin/env python3
"""Write test/fixtures/v0.1.0.sql: a small database of tesoro 0.1.0 as SQL.

The database is made by the library itself through its public API (the
Python binding over build/libtesoro.so): the seller onboarding of
examples/python/onboarding.py (one agency, its admin and an agent, the
owner's contact room, the mandate and the published listing), then a buyer
contact with a deal, the listing offered to it, an appointment requested by
the buyer and confirmed by the agent, a referral moved to "connected", and
one website event ingested.  The dump is python3's
sqlite3.Connection.iterdump() text, after the two pragmas a dump leaves out
(application_id and user_version).

test_foundation's test_open_migrates_the_v0_1_0_fixture loads it into a
fresh file and opens it with the library under test: once the schema has
a section after 1, that open migrates it.  Regenerate only with the
library of the release the file is named after (tesoro 0.1.0, schema 1):
it stands for the files that release writes.

Usage (from the tree root, after `make`):
  TESORO_LIBRARY=build/libtesoro.so python3 test/make_v010_fixture.py
"""
import contextlib
import io
import os
import sqlite3
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples", "python", "src"))
sys.path.insert(0, os.path.join(ROOT, "examples", "python"))

import tesoro  # noqa: E402
from onboarding import START, onboarding  # noqa: E402

OUT = os.path.join(ROOT, "test", "fixtures", "v0.1.0.sql")
DAY = 86400


def populate(db):
    with contextlib.redirect_stdout(io.StringIO()):
        onboarding(db)   # agency 1, admin 1, agent, room, mandate, listing
    # the onboarding's agent, website actor and listing (read-only SQL)
    con = sqlite3.connect(db_path)
    agent = con.execute(
        "SELECT id FROM actor WHERE kind = 'agent' AND role = 'agent'").fetchone()[0]
    website = con.execute(
        "SELECT id FROM actor WHERE kind = 'website'").fetchone()[0]
    listing = con.execute(
        "SELECT id FROM listing WHERE state = 'published'").fetchone()[0]
    con.close()

    db.clock_set(START + 2 * DAY)
    db.agency_set_portal(1, 1)   # the admin switches the client portal on
    buyer = db.contact_create(agent, "Bob Buyer", "bob@example.com",
                              "+31 6 5555 0202", "nl")
    client = db.contact_client_actor(agent, buyer)
    deal = db.deal_create(agent, buyer, "House in Utrecht")
    offer = db.deal_offer(agent, deal, listing)
    appointment = db.appointment_request(client, offer,
                                         [START + 5 * DAY + 36000,
                                          START + 6 * DAY + 36000])
    db.appointment_confirm(agent, appointment, START + 5 * DAY + 36000, 0)

    referral = db.referral_create(agent, buyer)
    db.referral_move(agent, referral, tesoro.STAGE_CONNECTED,
                     {"contacted_via": "phone"})

    db.exchange_ingest(website, {
        "source_id": "hf-1", "type": "customer", "customer": "c1",
        "at": START + 2 * DAY - 100, "name": "Sanne Surfer",
        "email": "sanne@example.com"})
    db.check()


def main():
    global db_path
    tmp = tempfile.mkdtemp()
    db_path = os.path.join(tmp, "v010.db")
    with tesoro.Tesoro(db_path) as db:
        populate(db)
    con = sqlite3.connect(db_path)
    app_id = con.execute("PRAGMA application_id").fetchone()[0]
    version = con.execute("PRAGMA user_version").fetchone()[0]
    assert version == tesoro.SCHEMA_VERSION == 1, version
    lines = ["-- tesoro 0.1.0 (schema 1): written by test/make_v010_fixture.py",
             "PRAGMA application_id = %d;" % app_id,
             "PRAGMA user_version = %d;" % version]
    lines.extend(con.iterdump())
    con.close()
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    for name in os.listdir(tmp):
        os.remove(os.path.join(tmp, name))
    os.rmdir(tmp)
    print("wrote %s (%d bytes)" % (OUT, os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
