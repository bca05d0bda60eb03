#!/usr/bin/env python3
"""Write test/agency.jsonl: a realistic agency in the tesoro-agency-1 format.

Five staff (four agents and a closings member), 200 contacts, 50 listings
(40 published, 5 draft, 5 unpublished, each with its signed mandate and a
photo), viewings in every state, referrals at every stage, portal
accounts, website customers (half linked to contacts) and saved searches.
Deterministic: the same file every run.  Times are around the test suites'
pinned clock TU_NOW (testutil.h): past records before it, booked viewings
after it.  Usage: python3 test/make_fixture.py > test/agency.jsonl
"""
import base64
import json
import sys

TU_NOW = 1780000000
DAY = 86400
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806"
                    "0000001f15c4890000000d49444154789c6360000002000001e2"
                    "21bc330000000049454e44ae426082")
STREETS = ["Oudegracht", "Herengracht", "Keizersgracht", "Damrak",
           "Coolsingel", "Lange Voorhout", "Vismarkt", "Grote Markt"]
CITIES = ["Utrecht", "Amsterdam", "Rotterdam", "Den Haag", "Groningen"]
TYPES = ["house", "apartment", "office", "land"]
LABELS = ["A++", "A+", "A", "B", "C", "D", "E"]


def rec(**kv):
    return json.dumps(kv, separators=(",", ":"))


def main(out):
    pdf = base64.b64encode(PDF).decode()
    png = base64.b64encode(PNG).decode()
    w = out.write
    w(rec(type="header", format="tesoro-agency-1") + "\n")
    staff = [("ag-%d" % i, "Agent %s" % n, "agent") for i, n in
             enumerate(["Noor", "Daan", "Sanne", "Bram"], 1)]
    staff.append(("ag-5", "Carla Closings", "closings"))
    for ext, name, role in staff:
        w(rec(type="agent", external_id=ext, at=TU_NOW - 400 * DAY,
              name=name, email=ext + "@fixture.example", role=role) + "\n")
    for i in range(200):
        kv = dict(type="contact", external_id="c-%03d" % i,
                  at=TU_NOW - (300 - i) * DAY, name="Contact %03d" % i,
                  email="contact%03d@fixture.example" % i,
                  phone="+31 6 %08d" % (10000000 + i),
                  agent="ag-%d" % (1 + i % 4))
        if i % 3 == 0:
            kv["language"] = "nl"
        if i % 5 == 0:
            kv["consent"] = "granted"
            kv["consent_text"] = "Yes to the newsletter"
        w(rec(**kv) + "\n")
    for i in range(50):
        state = "published" if i < 40 else "draft" if i < 45 else "unpublished"
        street = STREETS[i % len(STREETS)]
        city = CITIES[i % len(CITIES)]
        fields = dict(address="%s %d, %s" % (street, i + 1, city),
                      property_type=TYPES[i % 4],
                      title="%s %d" % (street, i + 1),
                      price=25000000 + 500000 * i,
                      bedrooms=1 + i % 5, bathrooms=1 + i % 2,
                      floor_area=60 + 3 * i,
                      energy_label=LABELS[i % len(LABELS)],
                      description="A home on the %s in %s." % (street, city))
        w(rec(type="listing", external_id="l-%02d" % i,
              at=TU_NOW - (200 - i) * DAY, seller="c-%03d" % i,
              agent="ag-%d" % (1 + i % 4), state=state,
              commission_type="percentage" if i % 4 else "fixed",
              commission_value=150 if i % 4 else 500000,
              exclusive=i % 3 != 0, duration_days=365,
              fields=fields, **({} if i % 4 else {"currency": "EUR"}),
              photos=[dict(name="front-%02d.png" % i, mime="image/png",
                           data=png)],
              signed_mandate=pdf) + "\n")
    states = ["pending", "confirmed", "completed", "rejected", "cancelled"]
    for i in range(60):
        state = states[i % 5]
        buyer = "c-%03d" % (50 + i)
        listing = "l-%02d" % (i % 40)
        if state in ("confirmed", "pending"):
            at = TU_NOW - DAY - i
            start = TU_NOW + (2 + i % 10) * DAY + 10 * 3600
        else:
            at = TU_NOW - (60 - i % 30) * DAY
            start = at + 5 * DAY + 10 * 3600
        kv = dict(type="appointment", external_id="v-%02d" % i, at=at,
                  contact=buyer, listing=listing, agent="ag-%d" % (1 + i % 4),
                  state=state, preferred=[start, start + DAY][: 1 + i % 2])
        if state in ("confirmed", "completed", "cancelled"):
            kv["start_at"] = start
        if state in ("rejected", "cancelled"):
            kv["end_reason"] = "The client found another home"
        if state == "completed":
            kv["rating"] = 1 + i % 5
        w(rec(**kv) + "\n")
    stages = [("left_voicemail", None), ("connected", None),
              ("meeting_scheduled", {"meeting_at": TU_NOW + 3 * DAY}),
              ("met_with_person", {"meeting_at": TU_NOW - 3 * DAY}),
              ("coming_soon", {"list_date": "2026-09-01"}),
              ("making_an_offer", None), ("listing", None),
              ("in_escrow", {"sale_price": 41000000,
                             "close_date": "2026-08-01"}),
              ("closed", {"sale_price": 39000000,
                          "close_date": "2026-05-01"}),
              ("closed_paid", {"sale_price": 52000000,
                               "close_date": "2026-04-01",
                               "paid_amount": 1300000}),
              ("failed", {"reason": "The client stopped answering"})]
    for i in range(33):
        stage, data = stages[i % len(stages)]
        kv = dict(type="referral", external_id="r-%02d" % i,
                  at=TU_NOW - (90 - i) * DAY, contact="c-%03d" % (110 + i),
                  agent="ag-%d" % (1 + i % 4), stage=stage)
        if data:
            kv["data"] = data
        w(rec(**kv) + "\n")
    for i in range(20):
        w(rec(type="portal_account", external_id="pa-%02d" % i,
              at=TU_NOW - 20 * DAY + i, contact="c-%03d" % (50 + i)) + "\n")
    for i in range(20):
        kv = dict(type="web_customer", external_id="web-%03d" % i,
                  at=TU_NOW - 10 * DAY + i, name="Visitor %03d" % i,
                  email="visitor%03d@fixture.example" % i)
        if i < 10:
            kv["contact"] = "c-%03d" % (150 + i)
        w(rec(**kv) + "\n")
    for i in range(10):
        w(rec(type="search", external_id="s-%02d" % i,
              at=TU_NOW - 5 * DAY + i, contact="c-%03d" % (150 + i),
              criteria={"max_price": 40000000 + 1000000 * i,
                        "property_types": [TYPES[i % 2]]},
              alert=i % 2 == 0) + "\n")


if __name__ == "__main__":
    main(sys.stdout)
