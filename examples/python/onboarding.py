"""onboarding.py -- seller onboarding through the Python binding.

The same story as sections 1-5 of examples/workflows.c, printed with the
same lines: the agency is created, the owner Olivia sends the contact form
from the website, the room becomes seller onboarding, the mandate is
negotiated, the seller form is submitted with the signed mandate, the
mandate is validated and the listing published.  Then the checker runs.

Usage: python3 onboarding.py [DB_FILE]   (default: onboarding.db)
"""

import importlib.util
import os
import sys

# The installed package (pip install ./examples/python), else this tree's.
if importlib.util.find_spec("tesoro") is None:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "src"))

import tesoro  # noqa: E402  (after the path is set)
from tesoro import Tesoro, TesoroError  # noqa: E402

START = 1780000000  # 2026-05-28, the C example's clock

# A tiny valid-looking PDF: tesoro checks the magic bytes.
SIGNED_MANDATE = (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n"
                  b"trailer << /Root 1 0 R >>\n%%EOF\n")

SELLER_FORM = {
    "full_name": "Olivia Owner", "email": "olivia@example.com",
    "phone": "+31 6 5555 0101", "address": "Oudegracht 12, Utrecht",
    "property_type": "house", "title": "Canal house on the Oudegracht",
    "price": 65000000, "bedrooms": 4, "bathrooms": 2, "floor_area": 210,
    "energy_label": "C",
}


class Failed(Exception):
    """A step failed: `what` and the library's error."""

    def __init__(self, what, error):
        super().__init__(what)
        self.what, self.error = what, error


def step(what, call, *args, **kwargs):
    """Run one step, print it, return its result."""
    try:
        result = call(*args, **kwargs)
    except TesoroError as error:
        raise Failed(what, error) from error
    print("  ok  %s" % what)
    return result


def print_state(db, actor, entity, id, name):
    state, version = db.entity_state(actor, entity, id)
    print("      %s %d is %s (version %d)" % (name, id, state, version))


def print_cursor(cursor, columns):
    """Each row on one line as name=value pairs, as the C example does."""
    with cursor:
        for row in cursor.as_text():
            values = "".join(" %s=%s" % (c, row.get(c) if row.get(c)
                                         is not None else "-")
                             for c in columns)
            print("     " + values)


def find_task(db, actor, entity, id, kind):
    task = 0
    for row in db.tasks(actor, entity, id):
        if row["kind"] == kind:
            task = row["id"]
    return task


def onboarding(db):
    db.clock_set(START)

    print("1. The agency")
    agency, admin = step(
        "create agency Tesoro Homes (Europe/Amsterdam, EUR) with admin Alice",
        db.agency_create, "Tesoro Homes", "Europe/Amsterdam", "EUR",
        "Alice Admin", "alice@tesoro.example")
    agent = step("add agent Andy", db.agent_create, admin, "Andy Agent",
                 "andy@tesoro.example", tesoro.ROLE_AGENT)
    website = step("look up the website actor", db.agency_website_actor,
                   admin, agency)

    print("\n2. The owner's contact form, from the website")
    room, owner = step(
        "Olivia asks to sell her house in Utrecht",
        db.contact_request_submit, website, "Olivia Owner",
        "olivia@example.com", tesoro.PROPERTY_HOUSE, "Utrecht, Oudegracht",
        65000000, "within 3 months", "Canal house, 4 floors")
    print_state(db, agent, tesoro.ENTITY_ROOM, room, "room")
    step("Olivia writes in the contact room", db.room_message_post, owner,
         room, "When can you come by?")
    step("Andy answers", db.room_message_post, agent, room,
         "Tomorrow at 10, if that suits.")
    step("Andy keeps a private note", db.room_note_add, agent, room,
         "Motivated seller; price realistic.")

    print("\n3. Seller onboarding and the mandate negotiation")
    mandate = step("Andy starts seller onboarding (with a listing placeholder)",
                   db.room_start_onboarding, agent, room, with_listing=True)
    print_state(db, agent, tesoro.ENTITY_ROOM, room, "room")
    print_state(db, agent, tesoro.ENTITY_MANDATE, mandate, "mandate")
    step("Andy proposes 1.50 %, exclusive, 180 days", db.mandate_propose,
         agent, mandate, tesoro.COMMISSION_PERCENTAGE, 150, None, True, 180)
    db.clock_set(START + 3600)
    p2 = step("Olivia counters with 1.25 %, exclusive, 120 days",
              db.mandate_propose, owner, mandate,
              tesoro.COMMISSION_PERCENTAGE, 125, None, True, 120)
    db.clock_set(START + 7200)
    agreed = step("Andy accepts Olivia's proposal", db.mandate_accept, agent,
                  mandate, p2)
    print("      agreed: %s" % agreed)
    print_state(db, agent, tesoro.ENTITY_MANDATE, mandate, "mandate")
    print("      negotiation history:")
    print_cursor(db.mandate_proposals(agent, mandate),
                 ["id", "author_party", "value", "duration_days",
                  "superseded_at", "accepted_by_agent_at",
                  "accepted_by_client_at"])

    print("\n4. Seller form, signed mandate, validation")
    step("Andy shares the seller form", db.mandate_share_form, agent, mandate)
    db.clock_set(START + 86400)
    step("Olivia uploads the signed mandate (PDF)", db.document_add, owner,
         tesoro.ENTITY_MANDATE, mandate, tesoro.DOC_SIGNED_MANDATE,
         "mandate-signed.pdf", "application/pdf", SIGNED_MANDATE)
    step("Olivia submits the seller form", db.mandate_submit_form, owner,
         mandate, SELLER_FORM)
    task = find_task(db, agent, tesoro.ENTITY_MANDATE, mandate,
                     "review_seller_form")
    step("Andy reviews the form (task done)", db.task_complete, agent, task)
    listing = step("Andy validates the mandate", db.mandate_validate, agent,
                   mandate)
    print_state(db, agent, tesoro.ENTITY_ROOM, room, "room")
    print_state(db, agent, tesoro.ENTITY_LISTING, listing, "listing")

    print("\n5. The listing")
    step("Andy completes the description", db.listing_update, agent, listing,
         {"description": "Four floors of light on the canal.",
          "longitude": 5.1214, "latitude": 52.0894})
    step("Andy publishes the listing", db.listing_publish, agent, listing)
    print("      %s" % db.entity_json(agent, tesoro.ENTITY_LISTING, listing))
    print("      listing history:")
    print_cursor(db.history(agent, tesoro.ENTITY_LISTING, listing),
                 ["seq", "event", "from_state", "to_state", "actor_kind"])

    print("\n6. The checker")
    step("tesoro_check: integrity, foreign keys and tesoro's invariants",
         db.check)


def main(argv):
    path = argv[1] if len(argv) > 1 else "onboarding.db"
    print("tesoro %s (Python) — seller onboarding, on %s\n"
          % (tesoro.version(), path))
    try:
        with Tesoro(path) as db:
            onboarding(db)
    except Failed as failed:
        print("%s failed: %s (%s)" % (failed.what, failed.error.message,
                                      failed.error.name), file=sys.stderr)
        return 1
    except TesoroError as error:
        print("tesoro: %s (%s)" % (error.message, error.name),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
