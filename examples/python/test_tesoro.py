"""Tests of the Python binding (the package examples/python/src/tesoro).

Run from the repository root:  make test-python   (the source tree's package)
or:  make test-python-package   (the package pip installed in a fresh venv)
or:  TESORO_LIBRARY=build/libtesoro.so PYTHONPATH=examples/python/src \
       python3 -m unittest discover -s examples/python -v
The package tested is the `tesoro` that Python finds (PYTHONPATH first, then
an installed one), else the source tree's.  TESORO_TEST_INSTALLED=1 requires
an installed one.

What they prove:
- the binding declares every function of tesoro.h with the ctypes types the
  header's C types call for, and every constant with the header's value;
- each workflow runs end to end through the Pythonic layer;
- a refused call raises the exception class of its code, carrying the code,
  the name and the library's message, and leaves the file unchanged (a
  digest of every row, read through Python's own sqlite3);
- bad input (None, empty, overlong, invalid UTF-8, NUL, out-of-range
  numbers, another agency, the wrong state) raises the right class;
- cursors iterate as dicts and are freed; the handle's context manager
  closes it; strings tesoro returns are freed (SQLite's allocator count,
  which every tesoro allocation goes through, comes back to where it was);
- examples/python/onboarding.py prints the same onboarding steps as the C
  example (examples/workflows.c);
- the package: every public function and method has type hints and a
  docstring naming its C function, py.typed ships with it, and its version
  is the pyproject's and the library's.
"""

import base64
import ctypes
import ctypes.util
import gc
import hashlib
import importlib.util
import inspect
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, os.pardir, os.pardir))
SRC = os.path.join(HERE, "src")
if importlib.util.find_spec("tesoro") is None:
    sys.path.insert(0, SRC)

import tesoro  # noqa: E402
from tesoro import Tesoro  # noqa: E402

NOW = 1780000000          # 2026-05-28T20:26:40Z, as the C fixture
VIEWING = 1780473600      # Wednesday 3 June 2026, 10:00 in Amsterdam
SECOND_CHOICE = 1780574400

PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n"
       b"trailer << /Root 1 0 R >>\n%%EOF\n")
JPEG = bytes([0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10]) + b"JFIF" + \
    bytes([0x00, 0x01, 0x01, 0x00, 0xFF, 0xD9])
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(32))
BAD_UTF8 = b"bad\xC3\x28utf8"

SELLER_FORM = {
    "full_name": "Olivia Owner", "email": "olivia@example.com",
    "phone": "+31 6 5555 0101", "address": "Oudegracht 12, Utrecht",
    "property_type": "house", "title": "Canal house on the Oudegracht",
    "price": 65000000, "bedrooms": 4, "bathrooms": 2, "floor_area": 210,
    "energy_label": "C",
}

# ---------------------------------------------------------------------------
# Helpers.


def digest(path):
    """SHA-256 of every row of every table (and the schema), read through a
    separate read-only sqlite3 connection."""
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        h = hashlib.sha256()
        h.update(repr(con.execute("PRAGMA user_version").fetchone())
                 .encode())
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "ORDER BY name")]
        for table in tables:
            h.update(table.encode())
            rows = con.execute('SELECT * FROM "%s"' % table).fetchall()
            for row in sorted(repr(r) for r in rows):
                h.update(row.encode())
        return h.hexdigest()
    finally:
        con.close()


def sql_value(path, query, *params):
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        row = con.execute(query, params).fetchone()
        return row[0] if row else None
    finally:
        con.close()


def sqlite_memory_used():
    """Bytes currently allocated through SQLite's allocator -- which is
    where every byte tesoro hands back comes from (tesoro.c section 1).
    None when it cannot be read."""
    name = ctypes.util.find_library("sqlite3")
    if not name:
        return None
    lib = ctypes.CDLL(name)
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    lib.sqlite3_memory_used.argtypes = []
    return lib.sqlite3_memory_used


class WorldCase(unittest.TestCase):
    """A fresh file with two agencies, as test/testutil.c builds it."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tesoro-py-")
        self.path = os.path.join(self.dir, "tesoro.db")
        db = self.db = Tesoro(self.path)
        db.config(tesoro.CONFIG_PWHASH_OPSLIMIT, 1)
        db.config(tesoro.CONFIG_PWHASH_MEMLIMIT, 8192)
        db.clock_set(NOW)
        self.agency, self.admin = db.agency_create(
            "Tesoro Homes", "Europe/Amsterdam", "EUR", "Alice Admin",
            "alice@tesoro.example")
        self.agent = db.agent_create(self.admin, "Andy Agent",
                                     "andy@tesoro.example",
                                     tesoro.ROLE_AGENT)
        self.closings = db.agent_create(self.admin, "Carl Closings",
                                        "carl@tesoro.example",
                                        tesoro.ROLE_CLOSINGS)
        self.website = db.agency_website_actor(self.admin, self.agency)
        db.agency_set_portal(self.admin, True)
        self.other_agency, self.other_admin = db.agency_create(
            "Other Estates", "UTC", "GBP", "Oscar Other",
            "oscar@other.example")
        self.other_agent = db.agent_create(self.other_admin, "Olga Other",
                                           "olga@other.example")
        self.other_website = db.agency_website_actor(self.other_admin,
                                                     self.other_agency)
        self.contact = db.contact_create(self.agent, "Ada Owner",
                                         "ada@example.com", "+31 6 1",
                                         "nl")
        self.client = db.contact_client_actor(self.agent, self.contact)
        self.other_contact = db.contact_create(self.other_agent,
                                               "Otto Owner",
                                               "otto@example.com")
        self.owners = 0

    def tearDown(self):
        self.db.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def assertRefused(self, exc, needle, call, *args, **kwargs):
        """The call raises `exc` (code, name and a message containing
        `needle`) and the file is unchanged."""
        before = digest(self.path)
        with self.assertRaises(exc) as caught:
            call(*args, **kwargs)
        error = caught.exception
        self.assertEqual(error.code, exc.code)
        self.assertEqual(error.name, tesoro.errname(exc.code))
        self.assertTrue(error.message)
        if needle is not None:
            self.assertIn(needle.lower(), error.message.lower())
        self.assertEqual(digest(self.path), before,
                         "a refused call changed the file")
        return error

    def onboard(self, title="Canal house", address="Oudegracht 12, Utrecht",
                price=65000000, publish=True):
        """Seller onboarding for a fresh owner up to a (published) listing:
        (room, owner client, mandate, listing)."""
        db, agent = self.db, self.agent
        self.owners += 1
        room, owner = db.contact_request_submit(
            self.website, "Owner %d" % self.owners,
            "owner%d@example.com" % self.owners, tesoro.PROPERTY_HOUSE,
            "Utrecht")
        mandate = db.room_start_onboarding(agent, room, with_listing=True)
        proposal = db.mandate_propose(agent, mandate,
                                      tesoro.COMMISSION_PERCENTAGE, 150,
                                      None, True, 180)
        db.mandate_accept(owner, mandate, proposal)
        db.mandate_share_form(agent, mandate)
        db.document_add(owner, tesoro.ENTITY_MANDATE, mandate,
                        tesoro.DOC_SIGNED_MANDATE, "signed.pdf",
                        "application/pdf", PDF)
        form = dict(SELLER_FORM, title=title, address=address, price=price)
        db.mandate_submit_form(owner, mandate, form)
        for task in db.tasks(agent, tesoro.ENTITY_MANDATE, mandate):
            if task["kind"] == "review_seller_form":
                db.task_complete(agent, task["id"])
        listing = db.mandate_validate(agent, mandate)
        if publish:
            db.listing_publish(agent, listing)
        return room, owner, mandate, listing


# ---------------------------------------------------------------------------
# 1. The binding's surface against tesoro.h.


def header_text():
    with open(os.path.join(ROOT, "tesoro.h"), encoding="utf-8") as f:
        return f.read()


def header_prototypes():
    """{name: (result C type, [argument C types])} of every TESORO_API
    function in tesoro.h."""
    text = re.sub(r"/\*.*?\*/", " ", header_text(), flags=re.S)
    text = "\n".join(line for line in text.splitlines()
                     if not line.lstrip().startswith("#"))
    protos = {}
    for m in re.finditer(r"TESORO_API\s+([^;(]*?)\b(tesoro_\w+)\s*\(([^)]*)\)"
                         r"\s*;", text):
        result = " ".join(m.group(1).split())
        params = " ".join(m.group(3).split())
        args = []
        if params != "void":
            for param in params.split(","):
                # drop the parameter's name, keep its type
                ctype = re.sub(r"\w+$", "", param.strip()).strip()
                args.append(" ".join(ctype.replace("*", " * ").split()))
        protos[m.group(2)] = (" ".join(result.replace("*", " * ").split()),
                              args)
    return protos


# What each C type of tesoro.h must be in ctypes.  `char **` and `void **`
# hand back memory to free with tesoro_free: never c_char_p, which would
# let ctypes copy the text and lose the pointer.
C_TO_CTYPES = {
    "int": ctypes.c_int,
    "int64_t": ctypes.c_int64,
    "double": ctypes.c_double,
    "void": None,
    "const char *": ctypes.c_char_p,
    "const void *": ctypes.c_void_p,
    "void *": ctypes.c_void_p,
    "tesoro *": ctypes.c_void_p,
    "tesoro_cursor *": ctypes.c_void_p,
    "int *": ctypes.POINTER(ctypes.c_int),
    "int64_t *": ctypes.POINTER(ctypes.c_int64),
    "const int64_t *": ctypes.POINTER(ctypes.c_int64),
    "const char * *": ctypes.POINTER(ctypes.c_char_p),
    "char * *": ctypes.POINTER(ctypes.c_void_p),
    "void * *": ctypes.POINTER(ctypes.c_void_p),
    "tesoro * *": ctypes.POINTER(ctypes.c_void_p),
    "tesoro_cursor * *": ctypes.POINTER(ctypes.c_void_p),
}


def header_constants():
    """{NAME: value} of the header's #define TESORO_* constants and of the
    result codes of TESORO_RESULT_MAP."""
    consts = {}
    for m in re.finditer(r"^#define\s+TESORO_(\w+)\s+(.+?)\s*(?:/\*.*)?$",
                         header_text(), flags=re.M):
        name, value = m.group(1), m.group(2).strip()
        if name.startswith("_") or name in ("H", "API") or "(" in name:
            continue
        if value.startswith('"'):
            consts[name] = json.loads(value)
        elif re.fullmatch(r"[0-9xXa-fA-F()*+ -]+", value):
            consts[name] = eval(value, {"__builtins__": {}})  # digits only
    for m in re.finditer(r"XX\((\w+),\s*(-?\d+),", header_text()):
        consts[m.group(1)] = int(m.group(2))
    return consts


class TestSurface(unittest.TestCase):

    def test_every_header_function_is_declared_with_its_c_types(self):
        protos = header_prototypes()
        self.assertGreater(len(protos), 100)
        self.assertEqual(sorted(protos), sorted(tesoro.PROTOTYPES),
                         "functions of tesoro.h vs the binding's table")
        for name, (result, args) in protos.items():
            # the table's types, whether or not the library exports it yet
            proto = tesoro.PROTOTYPES[name]
            self.assertIn(result, C_TO_CTYPES, name)
            self.assertIs(tesoro._TYPES[proto.restype], C_TO_CTYPES[result],
                          name)
            self.assertEqual(len(proto.args), len(args), name)
            for i, ((_, code), ctype) in enumerate(zip(proto.args, args)):
                self.assertIn(ctype, C_TO_CTYPES, "%s arg %d" % (name, i))
                self.assertIs(tesoro._TYPES[code], C_TO_CTYPES[ctype],
                              "%s arg %d (%s)" % (name, i, ctype))
            if name in tesoro.MISSING:
                self.assertFalse(hasattr(tesoro._lib, name), name)
                continue
            # ... and the function ctypes calls was declared with them
            fn = getattr(tesoro._lib, name)
            self.assertIs(fn.restype, C_TO_CTYPES[result], name)
            self.assertEqual(len(fn.argtypes), len(args), name)
            for i, (declared, ctype) in enumerate(zip(fn.argtypes, args)):
                self.assertIs(declared, C_TO_CTYPES[ctype],
                              "%s arg %d (%s)" % (name, i, ctype))

    def test_a_function_the_library_lacks_raises_attribute_error(self):
        """The import tolerates a library without some of tesoro.h's
        functions (MISSING); calling one raises AttributeError, before
        any C call, naming the function."""
        self.assertLessEqual(set(tesoro.MISSING), set(tesoro.PROTOTYPES))
        if not tesoro.MISSING:
            self.skipTest("the library exports every function of tesoro.h")
        name = sorted(tesoro.MISSING)[0]
        with Tesoro(":memory:") as db:
            method = getattr(db, name[len("tesoro_"):])
            nargs = len(inspect.signature(method).parameters)
            with self.assertRaises(AttributeError) as caught:
                method(*[0] * nargs)
            self.assertIn(name, str(caught.exception))

    def test_every_header_constant_has_its_value(self):
        consts = header_constants()
        self.assertGreater(len(consts), 100)
        for name, value in consts.items():
            self.assertTrue(hasattr(tesoro, name), "tesoro.%s missing" % name)
            self.assertEqual(getattr(tesoro, name), value, name)

    def test_versions_agree(self):
        self.assertEqual(tesoro.version(), tesoro.VERSION)
        self.assertEqual(tesoro.libversion_number(), tesoro.VERSION_NUMBER)

    def test_every_error_code_has_its_exception_class(self):
        codes = [v for k, v in header_constants().items()
                 if k.startswith("E") and isinstance(v, int) and v < 0]
        self.assertEqual(len(codes), len(tesoro.ERRORS))
        for code in codes:
            error = tesoro.error_for(code, "why")
            self.assertIsInstance(error, tesoro.TesoroError)
            self.assertIsNot(type(error), tesoro.TesoroError)
            self.assertEqual(error.code, code)
            self.assertEqual(error.name, tesoro.errname(code))
            self.assertEqual(error.message, "why")
        self.assertEqual(tesoro.error_for(tesoro.EDENIED).message,
                         "permission denied")
        self.assertIs(type(tesoro.error_for(-99)), tesoro.TesoroError)
        self.assertEqual(tesoro.errname(-99), "UNKNOWN")
        self.assertTrue(issubclass(tesoro.InvalidArgument, ValueError))
        self.assertTrue(issubclass(tesoro.NotFound, LookupError))


# ---------------------------------------------------------------------------
# 2. The handle.


class TestHandle(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tesoro-py-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_context_manager_closes_the_handle(self):
        path = os.path.join(self.dir, "a.db")
        with Tesoro(path) as db:
            self.assertFalse(db.closed)
            db.agency_create("A", None, "EUR", "Ann", "ann@a.example")
        self.assertTrue(db.closed)
        with self.assertRaises(tesoro.Misuse) as caught:
            db.agency_create("B", None, "EUR", "Bob", "bob@b.example")
        self.assertEqual(caught.exception.code, tesoro.EMISUSE)
        self.assertEqual(db.errcode(), tesoro.EMISUSE)
        self.assertEqual(db.errmsg(), "the handle is closed")
        db.close()  # idempotent
        # closed means closed: the file is complete and another handle
        # takes the write lock at once
        self.assertEqual(sql_value(path, "SELECT count(*) FROM agency"), 1)
        with Tesoro(path) as again:
            again.config(tesoro.CONFIG_BUSY_TIMEOUT_MS, 1)
            again.agency_create("B", None, "EUR", "Bob", "bob@b.example")

    def test_context_manager_closes_on_exception(self):
        path = os.path.join(self.dir, "b.db")
        with self.assertRaises(tesoro.InvalidArgument):
            with Tesoro(path) as db:
                db.agency_create("", None, "EUR", "Ann", "ann@a.example")
        self.assertTrue(db.closed)

    def test_open_refusals(self):
        with self.assertRaises(tesoro.InvalidArgument):
            Tesoro("")
        with self.assertRaises(tesoro.InvalidArgument):
            Tesoro(None)
        junk = os.path.join(self.dir, "junk.db")
        with open(junk, "wb") as f:
            f.write(b"this is not a database file" * 100)
        with self.assertRaises(tesoro.NotADatabase) as caught:
            Tesoro(junk)
        self.assertEqual(caught.exception.code, tesoro.ENOTDB)
        other = os.path.join(self.dir, "other.db")
        con = sqlite3.connect(other)
        con.execute("PRAGMA application_id = 42")
        con.execute("CREATE TABLE t(x)")
        con.commit()
        con.close()
        with self.assertRaises(tesoro.NotADatabase):
            Tesoro(other)

    def test_newer_schema_is_refused(self):
        path = os.path.join(self.dir, "newer.db")
        Tesoro(path).close()
        con = sqlite3.connect(path)
        con.execute("PRAGMA user_version = %d" % (tesoro.SCHEMA_VERSION + 1))
        con.commit()
        con.close()
        with self.assertRaises(tesoro.SchemaError) as caught:
            Tesoro(path)
        self.assertIn(str(tesoro.SCHEMA_VERSION + 1), caught.exception.message)

    def test_clock_config_and_errcode(self):
        with Tesoro(":memory:") as db:
            db.clock_set(NOW)
            self.assertEqual(db.now(), NOW)
            db.clock_set(0)
            self.assertGreater(db.now(), NOW - 10 * 365 * 86400)
            with self.assertRaises(tesoro.InvalidArgument):
                db.config(999, 1)
            self.assertEqual(db.errcode(), tesoro.EINVAL)
            with self.assertRaises(tesoro.InvalidArgument):
                db.config(tesoro.CONFIG_TICK_BATCH, 0)
            db.config(tesoro.CONFIG_TICK_BATCH, 10)
            self.assertEqual(db.errmsg(), "not an error")

    def test_transaction_commits_and_rolls_back(self):
        path = os.path.join(self.dir, "tx.db")
        with Tesoro(path) as db:
            _, admin = db.agency_create("A", None, "EUR", "Ann",
                                        "ann@a.example")
            with db.transaction():
                db.contact_create(admin, "One", "one@a.example")
                db.contact_create(admin, "Two", "two@a.example")
            self.assertEqual(sql_value(path, "SELECT count(*) FROM contact"),
                             2)
            with self.assertRaises(RuntimeError):
                with db.transaction():
                    db.contact_create(admin, "Three", "three@a.example")
                    raise RuntimeError("host failure")
            self.assertEqual(sql_value(path, "SELECT count(*) FROM contact"),
                             2)
            # a refused call inside a transaction is rolled back alone
            with db.transaction():
                db.contact_create(admin, "Four", "four@a.example")
                with self.assertRaises(tesoro.Exists):
                    db.contact_create(admin, "Dup", "FOUR@a.example")
            self.assertEqual(sql_value(path, "SELECT count(*) FROM contact"),
                             3)
            db.begin()
            with self.assertRaises(tesoro.Misuse):
                db.begin()
            db.rollback()

    def test_threads_share_a_handle(self):
        """The binding's lock makes a handle usable from several threads:
        each failure carries its own message."""
        with Tesoro(":memory:") as db:
            _, admin = db.agency_create("A", None, "EUR", "Ann",
                                        "ann@a.example")
            errors = []

            def work(n):
                try:
                    for i in range(40):
                        db.contact_create(admin, "C%d-%d" % (n, i),
                                          "c%d-%d@a.example" % (n, i))
                        try:
                            db.contact_create(admin, "", None)
                        except tesoro.InvalidArgument as e:
                            if "name" not in e.message:
                                errors.append(e.message)
                except Exception as e:  # pragma: no cover - reported below
                    errors.append(repr(e))

            threads = [threading.Thread(target=work, args=(n,))
                       for n in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(errors, [])
            rows = db.stats().all()
            self.assertIsInstance(rows, list)


# ---------------------------------------------------------------------------
# 3. Errors and bad input.


class TestErrors(WorldCase):

    def test_exceptions_carry_code_name_and_message(self):
        error = self.assertRefused(tesoro.Denied, None,
                                   self.db.contact_client_actor,
                                   self.other_agent, self.contact)
        self.assertEqual(error.code, tesoro.EDENIED)
        self.assertEqual(error.name, "EDENIED")
        self.assertIn(error.message, str(error))
        self.assertIn("EDENIED", str(error))
        # the message is the library's own, not the static text
        self.assertNotEqual(error.message, tesoro.errstr(tesoro.EDENIED))
        self.assertIsInstance(error, PermissionError)

    def test_none_empty_overlong_text(self):
        db = self.db
        self.assertRefused(tesoro.InvalidArgument, "name",
                           db.contact_create, self.agent, None)
        self.assertRefused(tesoro.InvalidArgument, "name",
                           db.contact_create, self.agent, "")
        self.assertRefused(tesoro.InvalidArgument, None,
                           db.contact_create, self.agent,
                           "x" * (tesoro.MAX_NAME + 1))
        db.contact_create(self.agent, "x" * tesoro.MAX_NAME)  # the limit
        # multi-byte: the limit is in bytes, not characters
        self.assertRefused(tesoro.InvalidArgument, None,
                           db.contact_create, self.agent,
                           "é" * (tesoro.MAX_NAME // 2 + 1))
        room, _ = db.contact_request_submit(self.website, "Rob",
                                            "rob@example.com",
                                            tesoro.PROPERTY_LAND, "Utrecht")
        self.assertRefused(tesoro.InvalidArgument, None,
                           db.room_message_post, self.agent, room,
                           "m" * (tesoro.MAX_TEXT + 1))
        self.assertRefused(tesoro.InvalidArgument, None,
                           db.room_mark_lost, self.agent, room, None)

    def test_invalid_utf8_bytes_reach_the_library(self):
        error = self.assertRefused(tesoro.InvalidArgument, "UTF-8",
                                   self.db.contact_create, self.agent,
                                   BAD_UTF8)
        self.assertEqual(error.code, tesoro.EINVAL)
        # valid UTF-8 given as bytes is accepted and stored exactly
        contact = self.db.contact_create(self.agent, "Zoë".encode("utf-8"))
        self.assertEqual(self.db.entity(self.agent, "contact",
                                        contact)["name"], "Zoë")

    def test_text_the_c_side_cannot_see_whole_is_refused_here(self):
        db = self.db
        # a NUL would silently cut the string short in C
        self.assertRefused(tesoro.InvalidArgument, "NUL",
                           db.contact_create, self.agent, "Eve\0Mallory")
        self.assertRefused(tesoro.InvalidArgument, "NUL",
                           db.contact_create, self.agent, b"Eve\0")
        # a lone surrogate cannot be encoded as UTF-8
        self.assertRefused(tesoro.InvalidArgument, "Unicode",
                           db.contact_create, self.agent, "bad \udc80")
        with self.assertRaises(TypeError):
            db.contact_create(self.agent, 42)

    def test_numbers_out_of_the_c_range_are_refused(self):
        db = self.db
        # 2**32 + 2 would become TESORO_ROLE_ADMIN (2) in a C int
        self.assertRefused(tesoro.InvalidArgument, "out of range",
                           db.agent_create, self.admin, "Ivy",
                           "ivy@tesoro.example", 2 ** 32 + 2)
        self.assertRefused(tesoro.InvalidArgument, "out of range",
                           db.contact_client_actor, self.agent, 2 ** 64)
        self.assertRefused(tesoro.InvalidArgument, None,
                           db.agent_create, self.admin, "Ivy",
                           "ivy@tesoro.example", 7)
        with self.assertRaises(TypeError):
            db.contact_client_actor(self.agent, 1.0)
        with self.assertRaises(TypeError):
            db.contact_client_actor(self.agent, "1")

    def test_wrong_agency_state_guard_conflict_exists_notfound(self):
        db = self.db
        room, owner = db.contact_request_submit(
            self.website, "Rob", "rob@example.com", tesoro.PROPERTY_HOUSE,
            "Utrecht")
        self.assertRefused(tesoro.Denied, None, db.room_start_onboarding,
                           self.other_agent, room, 0)
        self.assertRefused(tesoro.Denied, None, db.room_start_onboarding,
                           owner, room, 0)
        version = db.entity_state(self.agent, "room", room).version
        self.assertRefused(tesoro.Conflict, None, db.room_start_onboarding,
                           self.agent, room, 0, expected_version=version + 7)
        mandate = db.room_start_onboarding(self.agent, room, 0,
                                           expected_version=version)
        self.assertRefused(tesoro.StateError, None, db.room_start_onboarding,
                           self.agent, room, 0)
        self.assertRefused(tesoro.StateError, None, db.mandate_share_form,
                           self.agent, mandate)
        self.assertRefused(tesoro.Exists, None, db.contact_create,
                           self.agent, "Ada again", "ADA@example.com")
        self.assertRefused(tesoro.NotFound, None, db.entity_json,
                           self.agent, tesoro.ENTITY_ROOM, 999)
        self.assertRefused(tesoro.InvalidArgument, None, db.entity_json,
                           self.agent, 99, 1)
        self.assertRefused(tesoro.InvalidArgument, "entity", db.entity_json,
                           self.agent, "castle", 1)

    def test_guard_error(self):
        db = self.db
        _, _, _, listing = self.onboard()
        deal = db.deal_create(self.agent, self.contact, "A house")
        offered = db.deal_offer(self.agent, deal, listing)
        self.assertRefused(tesoro.GuardError, None, db.appointment_request,
                           self.client, offered, [NOW - 60])
        self.assertRefused(tesoro.InvalidArgument, None,
                           db.appointment_request, self.client, offered, [])
        self.assertRefused(tesoro.InvalidArgument, None,
                           db.appointment_request, self.client, offered,
                           [NOW + 3600 * i for i in range(1, 5)])

    def test_handle_free_functions_raise_with_static_text(self):
        with self.assertRaises(tesoro.InvalidArgument) as caught:
            tesoro.machine_dot(tesoro.ENTITY_CONTACT)
        self.assertEqual(caught.exception.message, "invalid argument")
        with self.assertRaises(tesoro.InvalidArgument):
            tesoro.machine_diagram(tesoro.ENTITY_ROOM, 9)


# ---------------------------------------------------------------------------
# 4. Cursors and memory ownership.


class TestCursors(WorldCase):

    def test_rows_are_dicts_named_by_the_columns(self):
        db = self.db
        room, owner = db.contact_request_submit(
            self.website, "Rob", "rob@example.com", tesoro.PROPERTY_HOUSE,
            "Utrecht")
        db.room_message_post(owner, room, "Hello")
        db.room_note_add(self.agent, room, "Private")
        cursor = db.room_messages(self.agent, room)
        self.assertEqual(cursor.columns, ("id", "kind", "author_id",
                                          "author_kind", "body",
                                          "created_at"))
        rows = list(cursor)
        self.assertTrue(cursor.closed, "an exhausted cursor is freed")
        self.assertEqual([(r["kind"], r["body"]) for r in rows],
                         [("message", "Hello"), ("note", "Private")])
        self.assertEqual(rows[0]["author_id"], owner)
        self.assertIsInstance(rows[0]["id"], int)
        self.assertEqual(rows[0]["created_at"], NOW)
        self.assertEqual(list(cursor), [])  # stays exhausted
        # the client never sees the note
        self.assertEqual([r["kind"] for r in db.room_messages(owner, room)],
                         ["message"])

    def test_null_int_float_and_text_values(self):
        db = self.db
        rows = db.history(self.agent, "contact", self.contact).all()
        self.assertTrue(rows)
        self.assertIsNone(rows[0]["from_state"])
        _, _, _, listing = self.onboard()
        db.listing_update(self.agent, listing,
                          {"longitude": 5.1214, "latitude": 52.0894})
        entity = db.entity(self.agent, "listing", listing)
        self.assertEqual(entity["state"], "published")
        # a real number comes back as a float (matches: distance_m)
        db.exchange_ingest(self.website, {
            "source_id": "s1", "type": "implied_search", "customer": "c1",
            "at": NOW - 10, "search_id": "x",
            "area": {"name": "Dom", "radius": 2000, "centre": {
                "type": "Point", "coordinates": [5.1213, 52.0907]}}})
        customer = db.customer_find(self.agent, "c1")
        match = db.matches(self.agent, customer).all()
        self.assertEqual(len(match), 1)
        self.assertIsInstance(match[0]["distance_m"], float)
        self.assertGreater(match[0]["distance_m"], 0.0)
        self.assertLess(match[0]["distance_m"], 2000.0)
        # as_text gives the library's text for every value
        row = db.matches(self.agent, customer).as_text().all()[0]
        self.assertIsInstance(row["listing_id"], str)
        self.assertEqual(int(row["listing_id"]), listing)

    def test_digit_only_text_stays_text(self):
        """The binding asks each value's type (tesoro_cursor_type), so a
        TEXT value that looks like a number stays text."""
        self.db.exchange_ingest(self.website, {
            "source_id": "t1", "type": "customer", "customer": "123",
            "at": NOW - 10, "name": "42"})
        row = self.db.prospects(self.agent).all()[0]
        self.assertEqual((row["external_id"], row["name"]), ("123", "42"))

    def test_early_close_context_manager_and_gc_free_cursors(self):
        db = self.db
        for i in range(5):
            db.contact_create(self.agent, "C%d" % i)
        with db.activities(self.agent, self.contact) as cursor:
            pass
        self.assertTrue(cursor.closed)
        cursor = db.tasks(self.agent)
        cursor.close()
        cursor.close()
        self.assertTrue(cursor.closed)
        self.assertEqual(list(cursor), [])
        cursor = db.history(self.agent, "contact", self.contact)
        next(cursor)
        del cursor
        gc.collect()
        db.check()  # the handle is fine after cursors were dropped

    def test_cursor_outliving_its_handle(self):
        db = self.db
        cursor = db.history(self.agent, "contact", self.contact)
        db.close()
        with self.assertRaises(tesoro.Misuse) as caught:
            next(cursor)
        self.assertEqual(caught.exception.code, tesoro.EMISUSE)
        self.assertTrue(cursor.closed)

    def test_a_refused_list_raises_before_any_cursor(self):
        self.assertRefused(tesoro.Denied, None, self.db.history,
                           self.other_agent, "contact", self.contact)


class TestMemoryOwnership(WorldCase):
    """tesoro allocates through SQLite's allocator; sqlite3_memory_used()
    counts those bytes.  A binding that forgot tesoro_free would grow the
    count by the size of each returned string."""

    def setUp(self):
        super().setUp()
        self.used = sqlite_memory_used()
        if self.used is None:
            self.skipTest("libsqlite3 not found")
        # Prove the count sees tesoro's allocations (the same libsqlite3):
        # a string tesoro returns raises it until tesoro_free.
        out = ctypes.c_void_p()
        before = self.used()
        self.assertEqual(tesoro._lib.tesoro_schema_text(ctypes.byref(out)),
                         tesoro.OK)
        held = self.used() - before
        size = len(ctypes.string_at(out.value))
        tesoro._lib.tesoro_free(out)
        if held < size:
            self.skipTest("tesoro does not allocate through this libsqlite3")
        self.assertLess(self.used() - before, size)

    def measure(self, call, rounds):
        for _ in range(20):
            call()
        gc.collect()
        before = self.used()
        for _ in range(rounds):
            call()
        gc.collect()
        return self.used() - before

    def test_returned_strings_are_freed(self):
        db = self.db
        size = len(tesoro.schema_text())
        self.assertGreater(size, 10000)
        growth = self.measure(tesoro.schema_text, 2000)
        self.assertLess(growth, size * 20,
                        "schema_text leaks: %d bytes over 2000 calls" % growth)
        _, _, _, listing = self.onboard()
        json_size = len(db.entity_json(self.agent, "listing", listing))
        growth = self.measure(
            lambda: db.entity_json(self.agent, "listing", listing), 3000)
        self.assertLess(growth, json_size * 100)
        growth = self.measure(tesoro.privacy_map, 500)
        self.assertLess(growth, 100000)
        growth = self.measure(
            lambda: tesoro.machine_diagram(tesoro.ENTITY_APPOINTMENT), 2000)
        self.assertLess(growth, 100000)

    def test_documents_and_cursors_are_freed(self):
        db = self.db
        _, _, _, listing = self.onboard()
        big = b"%PDF-1.4\n" + b"x" * 200000
        doc = db.document_add(self.agent, "listing", listing,
                              tesoro.DOC_PROPERTY_DOCUMENT, "big.pdf",
                              "application/pdf", big)
        self.assertEqual(db.document_read(self.agent, doc), big)
        growth = self.measure(lambda: db.document_read(self.agent, doc), 300)
        self.assertLess(growth, len(big) * 3,
                        "document_read leaks: %d bytes" % growth)

        def half_read():
            cursor = db.history(self.agent, "listing", listing)
            next(cursor)
            cursor.close()
        growth = self.measure(half_read, 2000)
        self.assertLess(growth, 200000, "cursors leak: %d bytes" % growth)

        def abandoned():
            cursor = db.documents(self.agent, "listing", listing)
            next(cursor)
        growth = self.measure(abandoned, 2000)
        self.assertLess(growth, 200000,
                        "abandoned cursors leak: %d bytes" % growth)

    def test_many_calls_do_not_crash(self):
        db = self.db
        texts = set()
        for _ in range(5000):
            texts.add(db.entity_json(self.agent, "contact", self.contact))
            texts.add(tesoro.machine_dot(tesoro.ENTITY_ROOM))
            try:
                db.entity_json(self.agent, "contact", 424242)
            except tesoro.NotFound:
                pass
        self.assertEqual(len(texts), 2)


# ---------------------------------------------------------------------------
# 5. Workflows, end to end.


class TestAgencies(WorldCase):

    def test_agencies_staff_and_contacts(self):
        db = self.db
        info = db.actor_info(self.agent)
        self.assertEqual(info, (tesoro.ACTOR_AGENT, self.agency, 0))
        self.assertEqual(db.actor_info(self.client),
                         (tesoro.ACTOR_CLIENT, self.agency, self.contact))
        self.assertEqual(db.actor_info(self.website).kind,
                         tesoro.ACTOR_WEBSITE)
        self.assertRefused(tesoro.NotFound, None, db.actor_info, 9999)
        agent2 = db.agent_create(self.admin, "Anna Agent",
                                 "anna@tesoro.example")
        self.assertRefused(tesoro.Exists, None, db.agent_create, self.admin,
                           "Anna Again", "ANNA@tesoro.example")
        self.assertRefused(tesoro.Denied, None, db.agent_create, self.agent,
                           "Not admin", "na@tesoro.example")
        contact = self.db.entity(self.agent, "contact", self.contact)
        self.assertEqual((contact["name"], contact["email"],
                          contact["language"]),
                         ("Ada Owner", "ada@example.com", "nl"))
        version = contact["version"]
        db.contact_assign(self.admin, self.contact, agent2,
                          expected_version=version)
        self.assertEqual(db.entity(self.agent, "contact", self.contact)
                         ["version"], version + 1)
        self.assertRefused(tesoro.Conflict, None, db.contact_assign,
                           self.admin, self.contact, self.agent,
                           expected_version=version)
        self.assertRefused(tesoro.Denied, None, db.contact_assign,
                           self.admin, self.contact, self.other_agent)
        self.assertRefused(tesoro.Denied, None, db.agency_website_actor,
                           self.other_agent, self.agency)
        self.assertRefused(tesoro.InvalidArgument, "time zone",
                           db.agency_create, "Z", "Mars/Olympus", "EUR",
                           "Zed", "zed@z.example")
        self.assertRefused(tesoro.InvalidArgument, None, db.agency_create,
                           "Z", None, "euro", "Zed", "zed@z.example")
        activities = db.activities(self.agent, self.contact).all()
        self.assertTrue(activities)
        self.assertEqual(set(activities[0]), {
            "id", "kind", "actor_id", "at", "entity", "entity_id",
            "summary"})


class TestSellerOnboarding(WorldCase):

    def test_contact_request_to_published_listing(self):
        db, agent = self.db, self.agent
        room, owner = db.contact_request_submit(
            self.website, "Olivia Owner", "olivia@example.com",
            tesoro.PROPERTY_HOUSE, "Utrecht, Oudegracht", 65000000,
            "within 3 months", "Canal house")
        self.assertEqual(db.entity_state(agent, "room", room),
                         ("open", 1))
        self.assertEqual(db.actor_info(owner).kind, tesoro.ACTOR_CLIENT)
        # staff are notified of the new room
        self.assertTrue(any(r["entity"] == tesoro.ENTITY_ROOM
                            for r in db.outbox_fetch(self.agency, 100)))
        db.room_message_post(owner, room, "When can you come by?")
        db.room_message_post(agent, room, "Tomorrow at 10.")
        db.document_add(owner, "room", room, tesoro.DOC_SHARED, "plan.jpg",
                        "image/jpeg", JPEG)
        self.assertRefused(tesoro.InvalidArgument, None, db.document_add,
                           owner, "room", room, tesoro.DOC_SHARED, "x.pdf",
                           "application/pdf", JPEG)
        with self.assertRaises(TypeError):
            db.document_add(owner, "room", room, tesoro.DOC_SHARED, "x.pdf",
                            "application/pdf", "%PDF- text is not bytes")
        allowed = {r["event"]: r for r in db.allowed(agent, "room", room)}
        self.assertEqual(allowed["start_onboarding"]["allowed"], 1)
        self.assertEqual(allowed["start_onboarding"]["to_state"],
                         "in_progress")
        denied = {r["event"]: r for r in db.allowed(owner, "room", room)}
        self.assertEqual(denied["start_onboarding"]["allowed"], 0)
        self.assertEqual(denied["start_onboarding"]["code"], tesoro.EDENIED)
        self.assertIsNotNone(denied["start_onboarding"]["reason"])

        mandate = db.room_start_onboarding(agent, room, with_listing=True)
        self.assertEqual(db.entity_state(agent, "mandate", mandate).state,
                         "draft")
        p1 = db.mandate_propose(agent, mandate, tesoro.COMMISSION_PERCENTAGE,
                                150, None, True, 180)
        self.assertRefused(tesoro.InvalidArgument, None, db.mandate_propose,
                           owner, mandate, tesoro.COMMISSION_FIXED, 500000,
                           None, True, 120)
        p2 = db.mandate_propose(owner, mandate, tesoro.COMMISSION_FIXED,
                                500000, "EUR", False, 120)
        self.assertRefused(tesoro.Denied, None, db.mandate_accept, owner,
                           mandate, p2)
        self.assertRefused(tesoro.GuardError, None, db.mandate_accept, agent,
                           mandate, p1)
        terms = json.loads(db.mandate_accept(agent, mandate, p2))
        self.assertEqual((terms["proposal_id"], terms["commission_type"],
                          terms["commission_value"], terms["currency"]),
                         (p2, "fixed", 500000, "EUR"))
        self.assertIn("signed contract", terms["disclaimer"])
        proposals = db.mandate_proposals(agent, mandate).all()
        self.assertEqual([p["id"] for p in proposals], [p1, p2])
        self.assertIsNotNone(proposals[0]["superseded_at"])
        self.assertEqual(proposals[1]["author_party"], "client")

        db.mandate_share_form(agent, mandate)
        self.assertRefused(tesoro.GuardError, None, db.mandate_submit_form,
                           owner, mandate, SELLER_FORM)
        doc = db.document_add(owner, tesoro.ENTITY_MANDATE, mandate,
                              tesoro.DOC_SIGNED_MANDATE, "signed.pdf",
                              "application/pdf", PDF)
        self.assertEqual(db.document_read(agent, doc), PDF)
        docs = db.documents(agent, "mandate", mandate).all()
        self.assertEqual(len(docs), 1)
        self.assertEqual((docs[0]["kind_name"], docs[0]["size"],
                          docs[0]["sha256"]),
                         ("signed_mandate", len(PDF),
                          hashlib.sha256(PDF).hexdigest()))
        self.assertRefused(tesoro.InvalidArgument, None,
                           db.mandate_submit_form, owner, mandate,
                           '{"full_name": ')
        db.mandate_submit_form(owner, mandate, SELLER_FORM)
        db.mandate_request_changes(agent, mandate, "Phone number is wrong")
        self.assertEqual(db.entity_state(agent, "mandate", mandate).state,
                         "form_shared")
        db.mandate_submit_form(owner, mandate,
                               json.dumps(SELLER_FORM))  # text works too
        self.assertRefused(tesoro.GuardError, None, db.mandate_validate,
                           agent, mandate)
        tasks = [t for t in db.tasks(agent, "mandate", mandate)
                 if t["kind"] == "review_seller_form"]
        self.assertEqual(len(tasks), 1)
        db.task_complete(agent, tasks[0]["id"],
                         expected_version=tasks[0]["version"])
        listing = db.mandate_validate(agent, mandate)
        self.assertEqual(db.entity_state(agent, "room", room).state,
                         "successful")
        self.assertEqual(db.entity_state(agent, "listing", listing).state,
                         "draft")

        db.listing_update(agent, listing, {"description": "Light."})
        self.assertRefused(tesoro.InvalidArgument, None, db.listing_update,
                           agent, listing, {"colour": "red"})
        db.listing_publish(agent, listing)
        data = db.entity(agent, "listing", listing)
        self.assertEqual((data["state"], data["title"], data["price"],
                          data["ref"]),
                         ("published", SELLER_FORM["title"], 65000000,
                          "TES-00001"))
        history = db.history(agent, "listing", listing).all()
        self.assertEqual([h["event"] for h in history],
                         ["create", "fill", "update", "publish"])
        self.assertEqual([h["seq"] for h in history], [1, 2, 3, 4])
        db.listing_unpublish(agent, listing)
        self.assertRefused(tesoro.StateError, None, db.listing_unpublish,
                           agent, listing)
        db.check()

    def test_rooms_lost_closed_and_mandates_cancelled(self):
        db, agent = self.db, self.agent
        rooms = [db.contact_request_submit(
            self.website, "Owner %d" % i, "o%d@example.com" % i,
            tesoro.PROPERTY_APARTMENT, "Utrecht").room for i in range(3)]
        db.room_mark_lost(agent, rooms[0], "Went with another agency")
        db.room_close(agent, rooms[1], "Duplicate request")
        self.assertEqual(db.entity_state(agent, "room", rooms[0]).state,
                         "lost")
        self.assertEqual(db.entity_state(agent, "room", rooms[1]).state,
                         "closed")
        self.assertRefused(tesoro.StateError, None, db.room_message_post,
                           agent, rooms[0], "Anyone?")
        mandate = db.room_start_onboarding(agent, rooms[2], 0)
        owner = db.contact_client_actor(
            agent, db.entity(agent, "room", rooms[2])["contact_id"])
        proposal = db.mandate_propose(agent, mandate,
                                      tesoro.COMMISSION_PERCENTAGE, 200,
                                      None, 1, 180)
        db.mandate_accept(owner, mandate, proposal)
        db.mandate_share_form(agent, mandate)
        db.document_add(owner, "mandate", mandate, tesoro.DOC_SIGNED_MANDATE,
                        "signed.pdf", "application/pdf", PDF)
        db.mandate_submit_form(owner, mandate, SELLER_FORM)
        review = [t for t in db.tasks(agent, "mandate", mandate)
                  if t["kind"] == "review_seller_form"]
        self.assertEqual(len(review), 1)
        self.assertRefused(tesoro.Conflict, None, db.task_cancel, agent,
                           review[0]["id"],
                           expected_version=review[0]["version"] + 1)
        db.task_cancel(agent, review[0]["id"])
        self.assertEqual([t for t in db.tasks(agent, "mandate", mandate)
                          if t["kind"] == "review_seller_form"], [])
        self.assertRefused(tesoro.StateError, None, db.task_complete, agent,
                           review[0]["id"])
        db.mandate_cancel(agent, mandate, "Owner changed her mind")
        self.assertEqual(db.entity_state(agent, "mandate", mandate).state,
                         "cancelled")
        self.assertRefused(tesoro.StateError, None, db.mandate_cancel, agent,
                           mandate, "Again")
        db.check()


class TestDealsAndAppointments(WorldCase):

    def test_viewing_from_request_to_rating(self):
        db, agent, client = self.db, self.agent, self.client
        _, _, _, listing = self.onboard()
        photo = db.document_add(agent, "listing", listing, tesoro.DOC_PHOTO,
                                "front.jpg", "image/jpeg", JPEG)
        deal = db.deal_create(agent, self.contact, "House in Utrecht")
        offered = db.deal_offer(agent, deal, listing)
        self.assertRefused(tesoro.Exists, None, db.deal_offer, agent, deal,
                           listing)
        props = db.deal_properties(client, deal).all()
        self.assertEqual((props[0]["id"], props[0]["state"],
                          props[0]["photo_id"]),
                         (offered, "to_review", photo))
        db.deal_property_interested(client, offered)
        db.deal_property_favourite(client, offered, True)
        appointment = db.appointment_request(client, offered,
                                             [VIEWING, SECOND_CHOICE])
        pending = db.appointments_client(client,
                                         tesoro.LIST_UNCONFIRMED).all()
        self.assertEqual(len(pending), 1)
        self.assertEqual((pending[0]["state"], pending[0]["status_colour"],
                          json.loads(pending[0]["preferred"])),
                         ("pending", "yellow", [VIEWING, SECOND_CHOICE]))
        self.assertRefused(tesoro.Denied, None, db.appointment_confirm,
                           client, appointment, VIEWING, 0)
        db.appointment_confirm(agent, appointment, SECOND_CHOICE, 0)
        db.appointment_reschedule(agent, appointment, VIEWING, 0)
        upcoming = db.appointments_client(client, tesoro.LIST_UPCOMING).all()
        self.assertEqual(upcoming[0]["start_at"], VIEWING)
        mine = db.appointments_agent(agent, 0, tesoro.APPOINTMENT_CONFIRMED,
                                     VIEWING, VIEWING + 1).all()
        self.assertEqual([a["id"] for a in mine], [appointment])
        ics = db.appointment_ics(client, appointment,
                                 "https://tesoro.example/l/1")
        self.assertTrue(ics.startswith("BEGIN:VCALENDAR\r\n"))
        self.assertIn("DTSTART:20260603T080000Z\r\n", ics)
        self.assertIn("STATUS:CONFIRMED", ics)
        self.assertTrue(ics.endswith("END:VCALENDAR\r\n"))
        self.assertEqual(db.tick(VIEWING - 86400), 1)  # the reminder
        self.assertEqual(db.tick(VIEWING - 86400), 0)  # idempotent
        db.clock_set(VIEWING - 300)
        db.appointment_start_viewing(client, appointment)
        db.appointment_rate(client, appointment, 4)
        self.assertRefused(tesoro.InvalidArgument, None, db.appointment_rate,
                           client, appointment, 6)
        note = db.appointment_note_add(client, appointment, "Lovely light")
        notes = db.appointment_notes(agent, appointment).all()
        self.assertEqual([(n["id"], n["body"]) for n in notes],
                         [(note, "Lovely light")])
        voice = db.document_add(client, "appointment", appointment,
                                tesoro.DOC_VOICE_NOTE, "memo.mp3",
                                "audio/mpeg", MP3)
        self.assertEqual(db.document_read(agent, voice), MP3)
        self.assertEqual(db.entity_state(agent, "appointment",
                                         appointment).state, "completed")
        self.assertEqual(db.entity_state(client, "deal_property",
                                         offered).state, "viewed")
        db.deal_property_approve(client, offered)
        recent = db.appointments_client(client, tesoro.LIST_RECENT).all()
        self.assertEqual(recent[0]["rating"], 4)
        db.deal_close(agent, deal, "Bought it")
        self.assertRefused(tesoro.StateError, None, db.deal_close, agent,
                           deal, "Again")
        db.check()
        # the timeline: the deal's lines and the viewing's (kept on its
        # history rows) numbered 1, 2, ... in the order they were written,
        # listed newest first
        lines = db.activities(agent, self.contact).all()
        self.assertEqual(sorted(l["id"] for l in lines),
                         list(range(1, len(lines) + 1)))
        self.assertEqual([(l["at"], l["id"]) for l in lines],
                         sorted(((l["at"], l["id"]) for l in lines),
                                reverse=True))
        written = [l["kind"] for l in sorted(lines, key=lambda l: l["id"])]
        order = ["deal_created", "property_offered", "viewing_requested",
                 "viewing_confirmed", "viewing_rescheduled",
                 "viewing_completed", "viewing_rated", "deal_closed"]
        self.assertEqual([k for k in written if k in order], order)
        self.assertEqual(
            [l["entity_id"] for l in lines if l["kind"] == "viewing_rated"],
            [appointment])

    def test_reject_cancel_no_show_and_not_interested(self):
        db, agent, client = self.db, self.agent, self.client
        _, _, _, l1 = self.onboard("One")
        _, _, _, l2 = self.onboard("Two")
        deal = db.deal_create(agent, self.contact, "Anything")
        o1, o2 = db.deal_offer(agent, deal, l1), db.deal_offer(agent, deal,
                                                               l2)
        db.deal_property_not_interested(
            client, o2, tesoro.REJECT_PRICE | tesoro.REJECT_SIZE, "Too small")
        feed = {r["id"]: r for r in db.portal_properties(client,
                                                          tesoro.FEED_ALL)}
        self.assertEqual(feed[o2]["state"], "rejected")
        self.assertEqual(json.loads(feed[o2]["reject_reasons"]),
                         ["price", "size"])
        self.assertEqual(feed[o2]["reject_note"], "Too small")
        a1 = db.appointment_request(client, o1, [VIEWING])
        db.appointment_reject(agent, a1, "Not available")
        a2 = db.appointment_request(client, o1, [VIEWING])
        db.appointment_cancel(client, a2)  # the client needs no reason
        a3 = db.appointment_request(client, o1, [VIEWING])
        self.assertRefused(tesoro.InvalidArgument, None,
                           db.appointment_cancel, agent, a3)
        db.appointment_confirm(agent, a3, VIEWING, 0)
        # completed once the viewing has ended (start + the duration)
        db.tick(VIEWING + tesoro.VIEWING_DURATION_S - 1)
        self.assertEqual(db.entity_state(agent, "appointment", a3).state,
                         "confirmed")
        db.tick(VIEWING + tesoro.VIEWING_DURATION_S)
        self.assertEqual(db.entity_state(agent, "appointment", a3).state,
                         "completed")
        db.appointment_record_no_show(agent, a3, "Nobody came")
        states = {a["id"]: (a["state"], a["no_show"])
                  for a in db.appointments_agent(agent)}
        self.assertEqual(states, {a1: ("rejected", 0), a2: ("cancelled", 0),
                                  a3: ("completed", 1)})


def requires(*names):
    """Skip a test while the library does not export every C function it
    needs (tesoro.h declares them ahead of their implementation); it runs
    as soon as the library does."""
    missing = [n for n in names if not hasattr(tesoro._lib, n)]
    return unittest.skipIf(missing, "not exported by libtesoro yet: %s"
                           % ", ".join(missing))


def utc(ts):
    """An iCalendar UTC date-time (20260603T080000Z)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(ts))


def vevents(ics):
    """The VEVENT blocks of an iCalendar text, each with its CRLFs."""
    return re.findall(r"BEGIN:VEVENT\r\n.*?END:VEVENT\r\n", ics, flags=re.S)


class TestViewingDuration(WorldCase):

    def viewing(self, title, preferred=VIEWING):
        """A pending viewing of a fresh listing offered to the client:
        (offered deal property, appointment)."""
        _, _, _, listing = self.onboard(title)
        deal = self.db.deal_create(self.agent, self.contact, title)
        offered = self.db.deal_offer(self.agent, deal, listing)
        return offered, self.db.appointment_request(self.client, offered,
                                                    [preferred])

    def test_confirm_and_reschedule_take_a_duration(self):
        db, agent = self.db, self.agent
        _, appointment = self.viewing("Long")
        for bad in (tesoro.MIN_VIEWING_S - 1, tesoro.MAX_VIEWING_S + 1, -1):
            self.assertRefused(tesoro.InvalidArgument, "300 to 43200",
                               db.appointment_confirm, agent, appointment,
                               VIEWING, bad)
        db.appointment_confirm(agent, appointment, VIEWING, 5400)
        seen = db.entity(agent, "appointment", appointment)
        self.assertEqual((seen["state"], seen["start_at"], seen["end_at"]),
                         ("confirmed", VIEWING, VIEWING + 5400))
        ics = db.appointment_ics(self.client, appointment)
        self.assertIn("DTSTART:%s\r\n" % utc(VIEWING), ics)
        self.assertIn("DTEND:%s\r\n" % utc(VIEWING + 5400), ics)
        # 0 keeps the viewing's duration; a new one replaces it
        db.appointment_reschedule(agent, appointment, SECOND_CHOICE, 0)
        self.assertEqual(db.entity(agent, "appointment",
                                   appointment)["end_at"],
                         SECOND_CHOICE + 5400)
        self.assertRefused(tesoro.InvalidArgument, None,
                           db.appointment_reschedule, agent, appointment,
                           VIEWING, tesoro.MAX_VIEWING_S + 1)
        db.appointment_reschedule(agent, appointment, VIEWING,
                                  tesoro.MAX_VIEWING_S)
        self.assertEqual(db.entity(agent, "appointment",
                                   appointment)["end_at"],
                         VIEWING + tesoro.MAX_VIEWING_S)
        db.appointment_reschedule(agent, appointment, VIEWING, 5400,
                                  expected_version=4)
        self.assertRefused(tesoro.Conflict, None, db.appointment_reschedule,
                           agent, appointment, VIEWING, 0,
                           expected_version=4)
        # the clock completes it at its end, not at its start
        db.tick(VIEWING + 5400 - 1)
        self.assertEqual(db.entity_state(agent, "appointment",
                                         appointment).state, "confirmed")
        db.tick(VIEWING + 5400)
        self.assertEqual(db.entity_state(agent, "appointment",
                                         appointment).state, "completed")
        db.check()

    def test_agency_default_is_taken_when_requested(self):
        db, agent, admin = self.db, self.agent, self.admin
        _, before = self.viewing("Before")
        self.assertRefused(tesoro.Denied, "admin",
                           db.agency_set_viewing_duration, agent, 2700)
        for bad in (0, tesoro.MIN_VIEWING_S - 1, tesoro.MAX_VIEWING_S + 1):
            self.assertRefused(tesoro.InvalidArgument, None,
                               db.agency_set_viewing_duration, admin, bad)
        db.agency_set_viewing_duration(admin, tesoro.MIN_VIEWING_S)
        db.agency_set_viewing_duration(admin, tesoro.MAX_VIEWING_S)
        db.agency_set_viewing_duration(admin, 2700)
        _, after = self.viewing("After")
        db.appointment_confirm(agent, before, VIEWING, 0)
        db.appointment_confirm(agent, after, SECOND_CHOICE, 0)
        self.assertEqual(db.entity(agent, "appointment", before)["end_at"],
                         VIEWING + tesoro.VIEWING_DURATION_S)
        self.assertEqual(db.entity(agent, "appointment", after)["end_at"],
                         SECOND_CHOICE + 2700)
        # another agency's default is its own
        db.agency_set_viewing_duration(self.other_admin, 1800)
        _, third = self.viewing("Third")
        db.appointment_confirm(agent, third, VIEWING, 0)
        self.assertEqual(db.entity(agent, "appointment", third)["end_at"],
                         VIEWING + 2700)
        db.check()


class TestCalendarFeed(WorldCase):

    @requires("tesoro_calendar_feed")
    def test_one_vevent_per_viewing_of_the_subject(self):
        db, agent, client = self.db, self.agent, self.client
        offers = []
        for title in ("Confirmed", "Pending", "Cancelled"):
            _, _, _, listing = self.onboard(title)
            deal = db.deal_create(agent, self.contact, title)
            offers.append(db.deal_offer(agent, deal, listing))
        confirmed = db.appointment_request(client, offers[0], [VIEWING])
        db.appointment_confirm(agent, confirmed, VIEWING, 5400)
        pending = db.appointment_request(client, offers[1], [SECOND_CHOICE])
        cancelled = db.appointment_request(client, offers[2], [VIEWING])
        db.appointment_cancel(client, cancelled)
        # a viewing of another client of the same agent
        bob = db.contact_create(agent, "Bob Buyer", "bob@example.com")
        bob_client = db.contact_client_actor(agent, bob)
        deal = db.deal_create(agent, bob, "Bob's search")
        _, _, _, listing = self.onboard("Bob's")
        bobs = db.appointment_request(
            bob_client, db.deal_offer(agent, deal, listing), [VIEWING])

        feed = db.calendar_feed(client, client)
        self.assertTrue(feed.startswith("BEGIN:VCALENDAR\r\n"))
        self.assertTrue(feed.endswith("END:VCALENDAR\r\n"))
        self.assertEqual(feed.count("BEGIN:VCALENDAR"), 1)
        self.assertEqual(len(vevents(feed)), 3)
        self.assertEqual(feed.count("BEGIN:VEVENT"), 3)
        self.assertNotIn("VALARM", feed)
        for status in ("CONFIRMED", "TENTATIVE", "CANCELLED"):
            self.assertEqual(feed.count("\r\nSTATUS:%s\r\n" % status), 1,
                             status)
        self.assertIn("DTEND:%s\r\n" % utc(VIEWING + 5400), feed)
        # each VEVENT as tesoro_appointment_ics writes it, without alarm
        for appointment in (confirmed, pending, cancelled):
            event, = vevents(db.appointment_ics(client, appointment))
            event = re.sub(r"BEGIN:VALARM\r\n.*?END:VALARM\r\n", "", event,
                           flags=re.S)
            self.assertIn(event, feed)
        event, = vevents(db.appointment_ics(agent, bobs))
        self.assertNotIn(re.search(r"UID:[^\r]*", event).group(0), feed)

        # the agent's feed holds every viewing they own: Bob's too
        mine = db.calendar_feed(agent, agent)
        self.assertEqual(len(vevents(mine)), 4)
        self.assertEqual(len(vevents(db.calendar_feed(bob_client,
                                                      bob_client))), 1)
        # an admin of the subject's agency reads it as the subject does
        self.assertEqual(db.calendar_feed(self.admin, agent), mine)
        self.assertEqual(db.calendar_feed(self.admin, client), feed)
        # SEQUENCE rises with each change
        db.appointment_reschedule(agent, confirmed, SECOND_CHOICE, 0)
        self.assertNotEqual(db.calendar_feed(agent, agent), mine)
        self.assertIn("DTEND:%s\r\n" % utc(SECOND_CHOICE + 5400),
                      db.calendar_feed(agent, agent))

        for caller, subject in ((self.closings, agent), (client, agent),
                                (bob_client, client),
                                (self.other_admin, agent),
                                (self.other_agent, client)):
            self.assertRefused(tesoro.Denied, None, db.calendar_feed,
                               caller, subject)
        self.assertRefused(tesoro.InvalidArgument, None, db.calendar_feed,
                           self.admin, self.website)
        self.assertRefused(tesoro.NotFound, None, db.calendar_feed,
                           self.admin, 10 ** 9)

    @requires("tesoro_calendar_feed")
    def test_a_subject_without_viewings_has_an_empty_calendar(self):
        feed = self.db.calendar_feed(self.closings, self.closings)
        self.assertTrue(feed.startswith("BEGIN:VCALENDAR\r\n"))
        self.assertTrue(feed.endswith("END:VCALENDAR\r\n"))
        self.assertNotIn("BEGIN:VEVENT", feed)


class TestReferrals(WorldCase):

    def test_referral_pipeline_to_closed_paid(self):
        db, agent = self.db, self.agent
        db.agency_set_referral_fee(self.admin, 250)
        self.assertRefused(tesoro.Denied, None, db.agency_set_referral_fee,
                           agent, 300)
        referral = db.referral_create(agent, self.contact)
        db.referral_move(agent, referral, tesoro.STAGE_CONNECTED)
        # missing stage data is the caller's error, as everywhere
        self.assertRefused(tesoro.InvalidArgument, "meeting_at",
                           db.referral_move, agent, referral,
                           tesoro.STAGE_MEETING_SCHEDULED)
        self.assertRefused(tesoro.InvalidArgument, None, db.referral_move,
                           agent, referral, tesoro.STAGE_MEETING_SCHEDULED,
                           {"meeting_at": 1780570800, "sale_price": 1})
        db.referral_move(agent, referral, tesoro.STAGE_MEETING_SCHEDULED,
                         {"meeting_at": 1780570800})
        self.assertRefused(tesoro.StateError, "note", db.referral_move,
                           agent, referral, tesoro.STAGE_CONNECTED)
        note = db.referral_note_add(agent, referral, "Still comparing")
        self.assertEqual([n["id"] for n in db.referral_notes(agent,
                                                             referral)],
                         [note])
        db.referral_move(agent, referral, tesoro.STAGE_FAILED,
                         '{"reason":"No answer"}')
        self.assertEqual([r["id"] for r in db.referrals(
            agent, tesoro.REFERRALS_FAILED)], [referral])
        db.referral_move(agent, referral, tesoro.STAGE_MEETING_SCHEDULED)
        db.referral_move(agent, referral, tesoro.STAGE_COMING_SOON,
                         {"list_date": "2026-06-10"})
        self.assertEqual(db.tick(1781042400), 1)  # 10 June, Amsterdam
        self.assertEqual(db.entity_state(agent, "referral", referral).state,
                         "listing")
        db.referral_move(agent, referral, tesoro.STAGE_IN_ESCROW,
                         {"sale_price": 48500000,
                          "close_date": "2026-07-15"})
        db.referral_move(agent, referral, tesoro.STAGE_CLOSED)
        self.assertRefused(tesoro.Denied, None, db.referral_move, agent,
                           referral, tesoro.STAGE_CLOSED_PAID,
                           {"paid_amount": 1212500})
        db.referral_move(self.closings, referral, tesoro.STAGE_CLOSED_PAID,
                         {"paid_amount": 1212500})
        row = db.referrals(agent, tesoro.REFERRALS_CLOSED).all()[0]
        self.assertEqual((row["stage"], row["fee_bp"], row["fee_owed"],
                          row["paid_amount"]),
                         ("closed_paid", 250, 1212500, 1212500))
        pipeline = db.referral_pipeline(agent).all()
        self.assertEqual(len(pipeline), 11)
        self.assertEqual({p["name"]: p["count"] for p in pipeline}
                         ["closed_paid"], 1)
        self.assertRefused(tesoro.Denied, None, db.referrals,
                           self.client)
        self.assertEqual(db.referrals(self.other_agent).all(), [])


class TestPortal(WorldCase):

    def test_crm_account_login_and_onboarding(self):
        db, website = self.db, self.website
        account, temporary = db.portal_account_create(self.agent,
                                                      self.contact)
        self.assertEqual(len(temporary), tesoro.PORTAL_TEMP_PASSWORD_LEN)
        self.assertEqual(db.portal_account_of(self.agent, self.contact),
                         account)
        # the temporary password is stored only as a hash
        with open(self.path, "rb") as f:
            dump = f.read()
        self.assertNotIn(temporary.encode(), dump)
        self.assertRefused(tesoro.Exists, None, db.portal_account_create,
                           self.agent, self.contact)
        client, step = db.portal_login(website, "ada@example.com", temporary)
        self.assertEqual((client, step),
                         (self.client, tesoro.PORTAL_SET_PASSWORD))
        self.assertRefused(tesoro.GuardError, None, db.portal_home, client)
        # a wrong password counts: that is the exception to "unchanged"
        with self.assertRaises(tesoro.Denied) as caught:
            db.portal_login(website, "ada@example.com", "Wrong#Pass1")
        self.assertIn("wrong", caught.exception.message)
        self.assertRefused(tesoro.InvalidArgument, None,
                           db.portal_password_change, client, temporary,
                           "short")
        db.portal_password_change(client, temporary, "Grachten#2026")
        self.assertEqual(db.portal_step(client), tesoro.PORTAL_WELCOME)
        db.portal_welcome_done(client)
        db.portal_tour_done(client)
        self.assertEqual(db.portal_step(client), tesoro.PORTAL_READY)
        db.portal_tour_restart(client)
        db.portal_tour_skip(client)
        self.assertRefused(tesoro.StateError, None, db.portal_tour_skip,
                           client)
        self.assertEqual(db.portal_language(client), "nl")
        db.portal_language_set(client, "de")
        self.assertEqual(db.portal_language(client), "de")
        self.assertRefused(tesoro.InvalidArgument, None,
                           db.portal_language_set, client, "klingon")
        _, _, _, listing = self.onboard()
        deal = db.deal_create(self.agent, self.contact, "Search")
        offered = db.deal_offer(self.agent, deal, listing)
        self.assertEqual(db.portal_home(client),
                         (0, 0, 1, 0))
        self.assertEqual(db.portal_home(client).new_properties, 1)
        self.assertEqual([p["id"] for p in db.portal_properties(
            client, tesoro.FEED_NEW)], [offered])
        message = db.portal_contact_agent(client, offered,
                                          "Is the garden south-facing?")
        self.assertGreater(message, 0)
        self.assertEqual(db.portal_login(website, "ADA@example.com",
                                         "Grachten#2026").step,
                         tesoro.PORTAL_READY)
        db.agency_set_portal(self.admin, False)
        self.assertRefused(tesoro.Denied, "not active", db.portal_home,
                           client)

    def test_self_registration(self):
        db, website = self.db, self.website
        account, code = db.portal_register(website, "Nina New",
                                           "nina@example.com", "Secret#123")
        self.assertRegex(code, r"^[0-9]{6}$")
        self.assertRefused(tesoro.StateError, None, db.portal_login, website,
                           "nina@example.com", "Secret#123")
        wrong = "%06d" % ((int(code) + 1) % 1000000)
        with self.assertRaises(tesoro.Denied):
            db.portal_verify(website, "nina@example.com", wrong)
        self.assertRefused(tesoro.InvalidArgument, None, db.portal_verify,
                           website, "nina@example.com", "12ab56")
        client = db.portal_verify(website, "nina@example.com", code)
        self.assertEqual(db.portal_step(client), tesoro.PORTAL_WELCOME)
        info = db.actor_info(client)
        self.assertEqual(db.portal_account_of(self.agent, info.contact),
                         account)
        # a used code is answered as a wrong one (no account enumeration)
        self.assertRefused(tesoro.Denied, "wrong or has expired",
                           db.portal_verify, website, "nina@example.com", code)
        self.assertRefused(tesoro.Denied, None, db.portal_register,
                           self.agent, "X", "x@example.com", "Secret#123")


PASSWORD = "Grachten#2026"


def rows_containing(path, text):
    """The tables with a row whose text holds `text` (read through a
    separate sqlite3 connection)."""
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        found = []
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE "
                                    "type = 'table' ORDER BY name"):
            for row in con.execute('SELECT * FROM "%s"' % table):
                if any(text in (v.decode("latin-1") if isinstance(v, bytes)
                                else str(v)) for v in row):
                    found.append(table)
                    break
        return found
    finally:
        con.close()


def file_bytes(path):
    """The database file and its WAL, as they are on disk."""
    data = b""
    for name in (path, path + "-wal"):
        if os.path.exists(name):
            with open(name, "rb") as f:
                data += f.read()
    return data


class PortalCase(WorldCase):
    """The fixture's client (Ada, ada@example.com) with a CRM-made portal
    account whose password is PASSWORD, onboarding done."""

    EMAIL = "ada@example.com"

    def setUp(self):
        super().setUp()
        db = self.db
        self.account, temporary = db.portal_account_create(self.agent,
                                                           self.contact)
        db.portal_password_change(self.client, temporary, PASSWORD)
        db.portal_welcome_done(self.client)
        db.portal_tour_skip(self.client)

    def login_refusal(self, email, password):
        """The message of a refused login."""
        with self.assertRaises(tesoro.Denied) as caught:
            self.db.portal_login(self.website, email, password)
        return caught.exception.message

    def assertSessionEnded(self, token):
        with self.assertRaises(tesoro.Denied) as caught:
            self.db.portal_session_client(self.website, token)
        self.assertIn("the session has ended", caught.exception.message)

    def outbox(self, template):
        """Our agency's due deliveries of `template`."""
        return [r for r in self.db.outbox_fetch(self.agency, 10000)
                if r["template"] == template]


class TestPortalProperty(WorldCase):

    def test_the_buyer_sees_the_listing_and_its_photos_only(self):
        db, agent, client = self.db, self.agent, self.client
        _, owner, _, listing = self.onboard()
        front = db.document_add(agent, "listing", listing, tesoro.DOC_PHOTO,
                                "front.jpg", "image/jpeg", JPEG)
        db.document_add(agent, "listing", listing,
                        tesoro.DOC_PROPERTY_DOCUMENT, "plan.pdf",
                        "application/pdf", PDF)
        garden = db.document_add(agent, "listing", listing,
                                 tesoro.DOC_PHOTO, "garden.jpg",
                                 "image/jpeg", JPEG)
        self.assertRefused(tesoro.Denied, "not in the property feed",
                           db.portal_property, client, listing)
        deal = db.deal_create(agent, self.contact, "House in Utrecht")
        offered = db.deal_offer(agent, deal, listing)
        text = db.portal_property(client, listing)
        seen = json.loads(text)
        self.assertEqual((seen["listing_id"], seen["deal_property_id"],
                          seen["deal_id"], seen["status"], seen["in_feed"],
                          seen["favourite"]),
                         (listing, offered, deal, "to_review", True, False))
        self.assertEqual((seen["title"], seen["address"], seen["price"],
                          seen["bedrooms"], seen["energy_label"]),
                         ("Canal house", "Oudegracht 12, Utrecht", 65000000,
                          4, "C"))
        self.assertEqual(seen["photos"], [
            {"id": front, "name": "front.jpg", "mime": "image/jpeg",
             "size": len(JPEG)},
            {"id": garden, "name": "garden.jpg", "mime": "image/jpeg",
             "size": len(JPEG)}])
        self.assertEqual(db.document_read(client, garden), JPEG)
        # tesoro_entity_json gives the client the same object
        self.assertEqual(db.entity_json(client, "listing", listing), text)
        db.deal_property_not_interested(client, offered,
                                        tesoro.REJECT_PRICE, "Too dear")
        seen = json.loads(db.portal_property(client, listing))
        self.assertEqual((seen["status"], seen["reject_reasons"],
                          seen["reject_note"]),
                         ("rejected", ["price"], "Too dear"))

        # another client, the seller, another agency: refused
        bob = db.contact_create(agent, "Bob Buyer", "bob@example.com")
        bob_client = db.contact_client_actor(agent, bob)
        error = self.assertRefused(tesoro.Denied, "not in the property feed",
                                   db.portal_property, bob_client, listing)
        self.assertEqual(error.code, tesoro.EDENIED)
        self.assertRefused(tesoro.Denied, None, db.portal_property, owner,
                           listing)
        other = db.contact_client_actor(self.other_agent,
                                        self.other_contact)
        self.assertRefused(tesoro.Denied, None, db.portal_property, other,
                           listing)
        self.assertRefused(tesoro.NotFound, None, db.portal_property, client,
                           10 ** 9)
        db.agency_set_portal(self.admin, False)
        self.assertRefused(tesoro.Denied, None, db.portal_property, client,
                           listing)

    def test_a_viewing_keeps_a_listing_off_offer_visible(self):
        db, agent, client = self.db, self.agent, self.client
        _, _, _, listing = self.onboard()
        deal = db.deal_create(agent, self.contact, "House")
        offered = db.deal_offer(agent, deal, listing)
        db.appointment_request(client, offered, [VIEWING])
        db.listing_unpublish(agent, listing)
        seen = json.loads(db.portal_property(client, listing))
        self.assertEqual((seen["listing_id"], seen["in_feed"]),
                         (listing, False))
        self.assertEqual(seen["photos"], [])


class TestPortalSessions(PortalCase):

    @requires("tesoro_portal_session_open", "tesoro_portal_session_client",
              "tesoro_portal_session_end")
    def test_open_use_and_end(self):
        db, website = self.db, self.website
        session = db.portal_session_open(website, self.EMAIL, PASSWORD)
        self.assertIsInstance(session, tesoro.PortalSession)
        self.assertEqual((session.client, session.step),
                         (self.client, tesoro.PORTAL_READY))
        self.assertRegex(session.token,
                         r"^[A-Za-z0-9_-]{%d}$" % tesoro.PORTAL_TOKEN_LEN)
        # only the token's hash is stored
        self.assertNotIn(session.token.encode(), file_bytes(self.path))
        self.assertEqual(db.portal_session_client(website, session.token),
                         self.client)
        other = db.portal_session_open(website, self.EMAIL.upper(), PASSWORD)
        self.assertNotEqual(other.token, session.token)
        # the website actor only, of the account's agency
        self.assertRefused(tesoro.Denied, None, db.portal_session_client,
                           self.agent, session.token)
        self.assertRefused(tesoro.Denied, None, db.portal_session_client,
                           self.other_website, session.token)
        self.assertRefused(tesoro.Denied, None, db.portal_session_open,
                           self.agent, self.EMAIL, PASSWORD)
        db.portal_session_end(website, session.token)
        self.assertRefused(tesoro.Denied, "the session has ended",
                           db.portal_session_client, website, session.token)
        db.portal_session_end(website, session.token)  # again: no error
        # the other session lives on
        self.assertEqual(db.portal_session_client(website, other.token),
                         self.client)
        # unknown and ended tokens are alike; malformed ones are EINVAL
        unknown = "A" * tesoro.PORTAL_TOKEN_LEN
        self.assertRefused(tesoro.Denied, "the session has ended",
                           db.portal_session_client, website, unknown)
        for bad in ("", "short", "!" * tesoro.PORTAL_TOKEN_LEN,
                    "A" * (tesoro.PORTAL_TOKEN_LEN + 1)):
            self.assertRefused(tesoro.InvalidArgument, None,
                               db.portal_session_client, website, bad)
        self.assertRefused(tesoro.InvalidArgument, None,
                           db.portal_session_client, website, None)
        db.check()

    @requires("tesoro_portal_session_open")
    def test_no_account_enumeration(self):
        db, website = self.db, self.website
        wrong = self.login_refusal(self.EMAIL, "Wrong#Pass1")
        self.assertIn("wrong", wrong)
        for email, password in ((self.EMAIL, "Wrong#Pass2"),
                                ("nobody@example.com", PASSWORD)):
            with self.assertRaises(tesoro.Denied) as caught:
                db.portal_session_open(website, email, password)
            self.assertEqual(caught.exception.message, wrong)
        self.assertEqual(self.login_refusal("nobody@example.com", PASSWORD),
                         wrong)

    @requires("tesoro_portal_session_open", "tesoro_portal_session_client")
    def test_idle_and_maximum_lifetime(self):
        db, website = self.db, self.website
        token = db.portal_session_open(website, self.EMAIL, PASSWORD).token
        # unused for TESORO_CONFIG_SESSION_IDLE_S (1800): ended.  (Not
        # assertRefused: ending an expired session may be written.)
        db.clock_set(NOW + 1800 + 1)
        self.assertSessionEnded(token)
        # each use moves the idle expiry on ...
        token = db.portal_session_open(website, self.EMAIL, PASSWORD).token
        login = NOW + 1800 + 1
        at = login
        while at + 1500 < login + 604800:
            at += 1500
            db.clock_set(at)
            self.assertEqual(db.portal_session_client(website, token),
                             self.client, at - login)
        db.clock_set(login + 604800 - 1)
        self.assertEqual(db.portal_session_client(website, token),
                         self.client)
        # ... but not past TESORO_CONFIG_SESSION_MAX_S (7 days) after login
        db.clock_set(login + 604800 + 1)
        self.assertSessionEnded(token)
        # the handle settings
        db.clock_set(NOW + 10 ** 6)
        db.config(tesoro.CONFIG_SESSION_IDLE_S, 600)
        db.config(tesoro.CONFIG_SESSION_MAX_S, 86400)
        token = db.portal_session_open(website, self.EMAIL, PASSWORD).token
        db.clock_set(NOW + 10 ** 6 + 601)
        self.assertSessionEnded(token)

    @requires("tesoro_portal_session_open", "tesoro_portal_session_client")
    def test_password_change_and_portal_off_end_every_session(self):
        db, website = self.db, self.website
        tokens = [db.portal_session_open(website, self.EMAIL, PASSWORD).token
                  for _ in range(2)]
        db.portal_password_change(self.client, PASSWORD, "Kanalen#2027")
        for token in tokens:
            self.assertRefused(tesoro.Denied, None, db.portal_session_client,
                               website, token)
        token = db.portal_session_open(website, self.EMAIL,
                                       "Kanalen#2027").token
        db.agency_set_portal(self.admin, False)
        db.agency_set_portal(self.admin, True)
        self.assertRefused(tesoro.Denied, None, db.portal_session_client,
                           website, token)


class TestPortalReset(PortalCase):

    def reset_secret(self):
        """The secret of the latest "Portal Password Reset" e-mail."""
        rows = self.outbox("Portal Password Reset")
        self.assertTrue(rows)
        row = rows[-1]
        self.assertEqual((row["channel"], row["recipient_id"]),
                         ("email", self.client))
        secret = json.loads(row["payload"])["secret"]
        self.assertEqual(len(secret), tesoro.PORTAL_RESET_LEN)
        return row["id"], secret

    @requires("tesoro_portal_reset_request", "tesoro_portal_reset")
    def test_request_then_reset_once(self):
        db, website = self.db, self.website
        db.portal_reset_request(website, self.EMAIL)
        delivery, secret = self.reset_secret()
        # the secret is kept only in the outbox payload, never elsewhere
        self.assertEqual([t for t in rows_containing(self.path, secret)
                          if not t.startswith("outbox")], [])
        self.assertRefused(tesoro.InvalidArgument, None, db.portal_reset,
                           website, self.EMAIL, secret, "short")
        self.assertEqual(db.portal_reset(website, self.EMAIL, secret,
                                         "Kanalen#2027"), self.client)
        self.assertEqual(db.portal_login(website, self.EMAIL,
                                         "Kanalen#2027").client, self.client)
        self.login_refusal(self.EMAIL, PASSWORD)
        # used up (a wrong try of a known account is counted: no
        # assertRefused, which wants the file unchanged)
        with self.assertRaises(tesoro.Denied) as caught:
            db.portal_reset(website, self.EMAIL, secret, "Another#2028")
        self.assertIn("the reset secret is wrong or has expired",
                      caught.exception.message)
        # acknowledging the e-mail removes the secret from the file's rows
        db.outbox_ack(delivery)
        self.assertEqual(rows_containing(self.path, secret), [])
        db.check()

    @requires("tesoro_portal_reset_request", "tesoro_portal_reset")
    def test_unknown_email_and_other_actors(self):
        db, website = self.db, self.website
        before = db.outbox_counts()
        db.portal_reset_request(website, "nobody@example.com")
        self.assertEqual(db.outbox_counts(), before)
        self.assertEqual(self.outbox("Portal Password Reset"), [])
        self.assertRefused(tesoro.Denied, None, db.portal_reset_request,
                           self.agent, self.EMAIL)
        with self.assertRaises(tesoro.Denied) as caught:
            db.portal_reset(website, "nobody@example.com",
                            "x" * tesoro.PORTAL_RESET_LEN, "Kanalen#2027")
        self.assertIn("the reset secret is wrong or has expired",
                      caught.exception.message)

    @requires("tesoro_portal_reset_request", "tesoro_portal_reset")
    def test_wrong_tries_expiry_and_revocation(self):
        db, website = self.db, self.website
        db.portal_reset_request(website, self.EMAIL)
        _, first = self.reset_secret()
        db.portal_reset_request(website, self.EMAIL)  # revokes the first
        _, second = self.reset_secret()
        self.assertNotEqual(first, second)
        with self.assertRaises(tesoro.Denied):
            db.portal_reset(website, self.EMAIL, first, "Kanalen#2027")
        wrong = "y" * tesoro.PORTAL_RESET_LEN
        for _ in range(tesoro.PORTAL_RESET_MAX_TRIES):
            with self.assertRaises(tesoro.Denied):
                db.portal_reset(website, self.EMAIL, wrong, "Kanalen#2027")
        with self.assertRaises(tesoro.Denied):
            db.portal_reset(website, self.EMAIL, second, "Kanalen#2027")
        # a secret lives TESORO_PORTAL_RESET_TTL_S
        db.portal_reset_request(website, self.EMAIL)
        _, third = self.reset_secret()
        db.clock_set(NOW + tesoro.PORTAL_RESET_TTL_S + 1)
        with self.assertRaises(tesoro.Denied):
            db.portal_reset(website, self.EMAIL, third, "Kanalen#2027")
        # a password change revokes it
        db.portal_reset_request(website, self.EMAIL)
        _, fourth = self.reset_secret()
        db.portal_password_change(self.client, PASSWORD, "Kanalen#2027")
        with self.assertRaises(tesoro.Denied):
            db.portal_reset(website, self.EMAIL, fourth, "Another#2028")
        self.assertEqual(db.portal_login(website, self.EMAIL,
                                         "Kanalen#2027").client, self.client)

    @requires("tesoro_portal_reset_request", "tesoro_portal_reset")
    def test_reset_clears_the_lockout_and_finishes_set_password(self):
        db, website = self.db, self.website
        for _ in range(tesoro.PORTAL_LOGIN_MAX_FAILS):
            self.login_refusal(self.EMAIL, "Wrong#Pass1")
        self.login_refusal(self.EMAIL, PASSWORD)  # locked
        db.portal_reset_request(website, self.EMAIL)
        _, secret = self.reset_secret()
        db.portal_reset(website, self.EMAIL, secret, "Kanalen#2027")
        self.assertEqual(db.portal_login(website, self.EMAIL,
                                         "Kanalen#2027").step,
                         tesoro.PORTAL_READY)
        # a CRM-made account still on its temporary password
        bob = db.contact_create(self.agent, "Bob Buyer", "bob@example.com")
        db.portal_account_create(self.agent, bob)
        db.portal_reset_request(website, "bob@example.com")
        row = self.outbox("Portal Password Reset")[-1]
        bob_client = db.contact_client_actor(self.agent, bob)
        self.assertEqual(row["recipient_id"], bob_client)
        secret = json.loads(row["payload"])["secret"]
        self.assertEqual(db.portal_reset(website, "bob@example.com", secret,
                                         "Bobs#Wachtwoord1"), bob_client)
        self.assertEqual(db.portal_step(bob_client), tesoro.PORTAL_WELCOME)

    @requires("tesoro_portal_reset_request", "tesoro_portal_reset",
              "tesoro_portal_session_open", "tesoro_portal_session_client")
    def test_reset_ends_every_session(self):
        db, website = self.db, self.website
        token = db.portal_session_open(website, self.EMAIL, PASSWORD).token
        db.portal_reset_request(website, self.EMAIL)
        _, secret = self.reset_secret()
        db.portal_reset(website, self.EMAIL, secret, "Kanalen#2027")
        self.assertRefused(tesoro.Denied, None, db.portal_session_client,
                           website, token)


class TestPortalAccounts(PortalCase):

    @requires("tesoro_portal_invitation_resend")
    def test_invitation_resend(self):
        db, website = self.db, self.website
        invitations = len(self.outbox("Portal Invitation"))
        temporary = db.portal_invitation_resend(self.agent, self.contact)
        self.assertEqual(len(temporary), tesoro.PORTAL_TEMP_PASSWORD_LEN)
        self.assertNotIn(temporary.encode(), file_bytes(self.path))
        self.assertEqual(len(self.outbox("Portal Invitation")),
                         invitations + 1)
        self.login_refusal(self.EMAIL, PASSWORD)  # the earlier password
        self.assertEqual(db.portal_login(website, self.EMAIL, temporary),
                         (self.client, tesoro.PORTAL_SET_PASSWORD))
        again = db.portal_invitation_resend(self.admin, self.contact)
        self.assertNotEqual(again, temporary)
        self.login_refusal(self.EMAIL, temporary)
        self.assertRefused(tesoro.Denied, None, db.portal_invitation_resend,
                           self.client, self.contact)
        self.assertRefused(tesoro.Denied, None, db.portal_invitation_resend,
                           self.other_agent, self.contact)
        bob = db.contact_create(self.agent, "Bob Buyer", "bob@example.com")
        self.assertRefused(tesoro.NotFound, None,
                           db.portal_invitation_resend, self.agent, bob)
        db.check()

    @requires("tesoro_portal_account_deactivate",
              "tesoro_portal_invitation_resend")
    def test_deactivate_until_an_invitation_resend(self):
        db, website = self.db, self.website
        wrong = self.login_refusal(self.EMAIL, "Wrong#Pass1")
        self.assertRefused(tesoro.Denied, None,
                           db.portal_account_deactivate, self.client,
                           self.contact)
        self.assertRefused(tesoro.Denied, None,
                           db.portal_account_deactivate, self.other_agent,
                           self.contact)
        db.portal_account_deactivate(self.agent, self.contact)
        self.assertRefused(tesoro.StateError, None,
                           db.portal_account_deactivate, self.agent,
                           self.contact)
        # the same answer as a wrong password: nothing to learn
        self.assertEqual(self.login_refusal(self.EMAIL, PASSWORD), wrong)
        temporary = db.portal_invitation_resend(self.agent, self.contact)
        self.assertEqual(db.portal_login(website, self.EMAIL,
                                         temporary).step,
                         tesoro.PORTAL_SET_PASSWORD)
        db.check()

    @requires("tesoro_portal_account_deactivate",
              "tesoro_portal_reset_request", "tesoro_portal_session_open",
              "tesoro_portal_session_client")
    def test_a_deactivated_account_has_no_session_and_no_reset(self):
        db, website = self.db, self.website
        token = db.portal_session_open(website, self.EMAIL, PASSWORD).token
        db.portal_account_deactivate(self.agent, self.contact)
        self.assertRefused(tesoro.Denied, None, db.portal_session_client,
                           website, token)
        with self.assertRaises(tesoro.Denied):
            db.portal_session_open(website, self.EMAIL, PASSWORD)
        before = db.outbox_counts()
        db.portal_reset_request(website, self.EMAIL)
        self.assertEqual(db.outbox_counts(), before)

    @requires("tesoro_portal_invitation_resend",
              "tesoro_portal_session_open", "tesoro_portal_session_client")
    def test_invitation_resend_ends_every_session(self):
        db, website = self.db, self.website
        token = db.portal_session_open(website, self.EMAIL, PASSWORD).token
        db.portal_invitation_resend(self.agent, self.contact)
        self.assertRefused(tesoro.Denied, None, db.portal_session_client,
                           website, token)


class TestNotificationPreferences(WorldCase):

    CLIENT_DEFAULT = tesoro.CHANNEL_PUSH | tesoro.CHANNEL_EMAIL
    STAFF_DEFAULT = (tesoro.CHANNEL_CRM | tesoro.CHANNEL_PUSH |
                     tesoro.CHANNEL_EMAIL | tesoro.CHANNEL_CALENDAR)

    @requires("tesoro_notification_set", "tesoro_notification_channels")
    def test_recipients_turn_channels_off_and_on(self):
        db, agent, client, admin = self.db, self.agent, self.client, \
            self.admin
        self.assertEqual(db.notification_channels(client, client),
                         self.CLIENT_DEFAULT)
        self.assertEqual(db.notification_channels(agent, agent),
                         self.STAFF_DEFAULT)
        db.notification_set(client, client, tesoro.CHANNEL_EMAIL, 0)
        self.assertEqual(db.notification_channels(client, client),
                         tesoro.CHANNEL_PUSH)
        db.notification_set(client, client, tesoro.CHANNEL_EMAIL, 1)
        self.assertEqual(db.notification_channels(client, client),
                         self.CLIENT_DEFAULT)
        # an admin for staff of their agency
        db.notification_set(admin, agent, tesoro.CHANNEL_CALENDAR, 0)
        self.assertEqual(db.notification_channels(admin, agent),
                         self.STAFF_DEFAULT & ~tesoro.CHANNEL_CALENDAR)
        db.notification_set(agent, agent, tesoro.CHANNEL_PUSH, 0)
        self.assertEqual(db.notification_channels(agent, agent),
                         tesoro.CHANNEL_CRM | tesoro.CHANNEL_EMAIL)
        # the rules
        for channel, on in ((tesoro.CHANNEL_CRM, 0),
                            (tesoro.CHANNEL_WEBSITE, 0),
                            (tesoro.CHANNEL_PUSH | tesoro.CHANNEL_EMAIL, 0),
                            (0, 0), (tesoro.CHANNEL_PUSH, 2),
                            (tesoro.CHANNEL_PUSH, -1)):
            self.assertRefused(tesoro.InvalidArgument, None,
                               db.notification_set, agent, agent, channel,
                               on)
        for actor, recipient in ((agent, self.closings), (agent, client),
                                 (admin, client), (client, agent), (self.other_admin, agent),
                                 (self.closings, agent)):
            self.assertRefused(tesoro.Denied, None, db.notification_set,
                               actor, recipient, tesoro.CHANNEL_EMAIL, 0)
            self.assertRefused(tesoro.Denied, None,
                               db.notification_channels, actor, recipient)
        self.assertRefused(tesoro.NotFound, None, db.notification_set,
                           admin, 10 ** 9, tesoro.CHANNEL_EMAIL, 0)
        db.check()

    @requires("tesoro_notification_channels", "tesoro_agency_set_push",
              "tesoro_agency_set_calendar")
    def test_agency_switches(self):
        db, agent, admin = self.db, self.agent, self.admin
        db.agency_set_push(admin, 0)
        db.agency_set_calendar(admin, 0)
        self.assertEqual(db.notification_channels(agent, agent),
                         tesoro.CHANNEL_CRM | tesoro.CHANNEL_EMAIL)
        self.assertEqual(db.notification_channels(self.client, self.client),
                         tesoro.CHANNEL_EMAIL)
        for call in (db.agency_set_push, db.agency_set_calendar):
            self.assertRefused(tesoro.Denied, None, call, agent, 1)
            # 2 reaches the library as 2: neither on nor off
            self.assertRefused(tesoro.InvalidArgument, None, call, admin, 2)
        db.agency_set_push(admin, 1)
        db.agency_set_calendar(admin, 1)
        self.assertEqual(db.notification_channels(agent, agent),
                         self.STAFF_DEFAULT)
        # another agency's switches are its own
        db.agency_set_push(self.other_admin, 0)
        self.assertEqual(db.notification_channels(agent, agent),
                         self.STAFF_DEFAULT)

    @requires("tesoro_notification_set", "tesoro_agency_set_push",
              "tesoro_agency_set_calendar")
    def test_a_channel_off_queues_nothing_on_it(self):
        db, agent, client = self.db, self.agent, self.client
        _, _, _, listing = self.onboard()
        deal = db.deal_create(agent, self.contact, "House")
        offered = db.deal_offer(agent, deal, listing)
        db.agency_set_calendar(self.admin, 0)
        first = db.appointment_request(client, offered, [VIEWING])
        known = {r["id"] for r in db.outbox_fetch(0, 10000)}
        db.appointment_confirm(agent, first, VIEWING, 0)
        self.assertEqual([r for r in db.outbox_fetch(0, 10000)
                          if r["id"] not in known
                          and r["channel"] == "calendar"], [])
        # the client turns e-mail off, the agency push: at the reminder the
        # client has no channel left (no message at all), the owner crm
        db.notification_set(client, client, tesoro.CHANNEL_EMAIL, 0)
        db.agency_set_push(self.admin, 0)
        db.tick(VIEWING - 86400)
        db.clock_set(VIEWING - 86400)
        reminders = [(r["recipient_id"], r["channel"])
                     for r in db.outbox_fetch(0, 10000)
                     if r["template"] == "Viewing Reminder"]
        self.assertEqual(reminders, [(agent, "crm")])
        db.check()


class TestExchange(WorldCase):

    def test_events_prospects_searches_and_call_list(self):
        db, agent, website = self.db, self.agent, self.website
        _, _, _, listing = self.onboard("Canal", "Oudegracht 1", 60000000)
        db.listing_update(agent, listing, {"longitude": 5.1214,
                                           "latitude": 52.0894})
        ref = db.entity(agent, "listing", listing)["ref"]
        event = {"source_id": "hf-1", "type": "customer", "customer": "c1",
                 "at": NOW - 100, "name": "Sanne", "email":
                 "sanne@example.com"}
        first = json.loads(db.exchange_ingest(website, event))
        self.assertEqual(first["status"], "applied")
        self.assertEqual(db.exchange_ingest(website, event),
                         json.dumps(first, separators=(",", ":")))
        self.assertRefused(tesoro.Exists, None, db.exchange_ingest, website,
                           dict(event, name="Other"))
        self.assertRefused(tesoro.InvalidArgument, None, db.exchange_ingest,
                           website, "{not json")
        self.assertRefused(tesoro.Denied, None, db.exchange_ingest, agent,
                           dict(event, source_id="hf-x"))
        batch = [
            {"source_id": "hf-2", "type": "visit", "customer": "c1",
             "at": NOW - 90, "visits": 3},
            {"source_id": "hf-3", "type": "property_view", "customer": "c1",
             "at": NOW - 80, "listing": ref},
            {"source_id": "hf-4", "type": "property_rank", "customer": "c1",
             "at": NOW - 70, "listing": ref, "rank": 6},
            {"source_id": "hf-5", "type": "enquiry", "customer": "c1",
             "at": NOW - 60, "enquiry_type": "viewing", "listing": ref,
             "message": "Saturday?"},
            {"source_id": "hf-6", "type": "vendor_claim", "customer": "c2",
             "at": NOW - 50, "listing": ref, "note": "Mine"},
        ]
        result = db.exchange_ingest_batch(website, batch)
        self.assertEqual(result.failed, 1)
        self.assertIn("event 2", result.message)
        entries = json.loads(result.results)
        self.assertEqual(len(entries), 5)
        self.assertEqual(entries[2]["error"], "EINVAL")
        claim = entries[4]["entity_id"]
        self.assertRefused(tesoro.InvalidArgument, None,
                           db.exchange_ingest_batch, website, {"not": 1})

        prospects = {p["external_id"]: p for p in db.prospects(agent)}
        self.assertEqual(set(prospects), {"c1", "c2"})
        self.assertEqual(prospects["c1"]["visits"], 3)
        customer = db.customer_find(agent, "c1")
        self.assertRefused(tesoro.NotFound, None, db.customer_find, agent,
                           "nobody")
        self.assertEqual([e["type"] for e in db.customer_enquiries(
            agent, customer)], ["viewing"])
        props = db.customer_properties(agent, customer).all()
        self.assertEqual((props[0]["listing_id"], props[0]["views"]),
                         (listing, 1))
        calls = db.call_list(agent, 10).all()
        self.assertEqual(calls[0]["customer_id"], customer)
        self.assertIsInstance(calls[0]["score"], (int, float))
        contact = db.prospect_approve(agent, customer)
        self.assertEqual(db.contact_customer(agent, contact), customer)
        c2 = db.customer_find(agent, "c2")
        db.vendor_claim_reject(agent, claim, "Not the owner")
        db.prospect_discard(agent, c2, "Spam")
        self.assertRefused(tesoro.StateError, None, db.prospect_discard,
                           agent, c2, "Again")

        search = db.search_save(agent, contact, 0, {
            "max_price": 70000000, "property_types": ["house"],
            "area": {"name": "Centre", "polygon": {
                "type": "Polygon", "coordinates": [[[5.10, 52.08],
                                                    [5.13, 52.08],
                                                    [5.13, 52.10],
                                                    [5.10, 52.10],
                                                    [5.10, 52.08]]]}}},
            alert=1)
        searches = db.customer_searches(agent, customer).all()
        self.assertEqual([(s["id"], s["hard"], s["alert"], s["source"])
                          for s in searches], [(search, 1, 1, "crm")])
        matches = db.matches(agent, customer).all()
        self.assertEqual([(m["search_id"], m["listing_id"], m["hard"])
                          for m in matches], [(search, listing, 1)])
        self.assertRefused(tesoro.InvalidArgument, None, db.search_save,
                           agent, contact, 0,
                           {"min_price": 10, "max_price": 5}, 0)
        # flags go to C as given: 2 is not a flag, and is refused there
        self.assertRefused(tesoro.InvalidArgument, "alert", db.search_save,
                           agent, contact, 0, {"min_price": 10}, 2)
        self.assertRefused(tesoro.InvalidArgument, None,
                           db.deal_property_favourite, agent, 1, 2)
        # no default C does not have: every term of a proposal is given
        with self.assertRaises(TypeError):
            db.mandate_propose(agent, 1, tesoro.COMMISSION_PERCENTAGE, 150)
        db.interest_register(agent, contact, listing)
        db.group_set(agent, contact, "family-7")
        db.vendor_confirm(agent, self.contact, listing, "vendor")
        db.search_delete(agent, search)
        self.assertEqual(db.matches(agent, customer).all(), [])
        templates = [r["template"] for r in db.outbox_fetch(self.agency,
                                                             1000)
                     if r["kind"] == "exchange"]
        for capability in ("search_saved", "property_interest",
                           "group_changed", "vendor_confirmed"):
            self.assertIn(capability, templates)
        self.assertRefused(tesoro.Denied, None, db.prospects, self.client)
        db.check()


class TestPrivacy(WorldCase):

    def test_consent_export_and_erase(self):
        db = self.db
        db.contact_consent_set(self.agent, self.contact,
                               tesoro.CONSENT_GRANTED, "Send me news")
        self.assertRefused(tesoro.InvalidArgument, None,
                           db.contact_consent_set, self.agent, self.contact,
                           tesoro.CONSENT_GRANTED, None)
        self.assertRefused(tesoro.Denied, None, db.contact_consent_set,
                           self.other_agent, self.contact,
                           tesoro.CONSENT_DENIED)
        contact = db.entity(self.agent, "contact", self.contact)
        self.assertEqual(contact["consent_text"], "Send me news")
        room, owner = db.contact_request_submit(
            self.website, "Ada Owner", "ada@example.com",
            tesoro.PROPERTY_HOUSE, "Utrecht")
        # a contact the agency knows: the website gets no client actor
        self.assertEqual(owner, 0)
        owner = self.client
        doc = db.document_add(owner, "room", room, tesoro.DOC_SHARED,
                              "plan.pdf", "application/pdf", PDF)
        export = json.loads(db.contact_export(
            self.agent, self.contact, tesoro.EXPORT_DOCUMENT_BYTES))
        self.assertEqual(export["format"], "tesoro-export-1")
        self.assertEqual(export["contact_id"], self.contact)
        self.assertEqual(export["tables"]["contact"][0]["email"],
                         "ada@example.com")
        documents = export["tables"]["document"]
        self.assertEqual(base64.b64decode(documents[0]["data"]), PDF)
        mine = json.loads(db.contact_export(self.client, self.contact))
        self.assertEqual(mine["for"], "client")
        self.assertRefused(tesoro.Denied, None, db.contact_erase, self.agent,
                           self.contact, "Asked to be forgotten")
        db.contact_erase(self.admin, self.contact, "Asked to be forgotten")
        self.assertNotEqual(db.entity(self.admin, "contact",
                                      self.contact)["email"],
                            "ada@example.com")
        self.assertRefused(tesoro.NotFound, None, db.document_read,
                           self.agent, doc)
        with self.assertRaises(tesoro.Denied):
            db.room_message_post(self.client, room, "Still here?")
        with open(self.path, "rb") as f:
            self.assertNotIn(b"ada@example.com", f.read())
        # a website-only person: exported and erased the same way
        db.exchange_ingest(self.website, {
            "source_id": "p1", "type": "customer", "customer": "web-pat",
            "at": NOW - 10, "name": "Pat Prospect",
            "email": "pat@example.net"})
        pat = db.customer_find(self.agent, "web-pat")
        export = json.loads(db.web_customer_export(self.agent, pat))
        self.assertEqual(export["web_customer_id"], pat)
        self.assertEqual(export["tables"]["web_customer"][0]["email"],
                         "pat@example.net")
        self.assertRefused(tesoro.Denied, None, db.web_customer_erase,
                           self.agent, pat)
        db.web_customer_erase(self.admin, pat, "Asked to be forgotten")
        with self.assertRaises(tesoro.StateError):
            db.prospect_approve(self.agent, pat)
        with open(self.path, "rb") as f:
            self.assertNotIn(b"pat@example.net", f.read())
        # the agency out and back in, as JSON Lines
        out = os.path.join(self.dir, "agency.jsonl")
        records = db.agency_export(self.admin, out)
        with open(out) as f:
            lines = [json.loads(line) for line in f]
        self.assertEqual(lines[0]["format"], "tesoro-agency-1")
        self.assertEqual(len(lines), records + 1)
        self.assertRefused(tesoro.Denied, None, db.agency_import, self.agent,
                           out)
        with tesoro.Tesoro(os.path.join(self.dir, "moved.db")) as new:
            new.clock_set(NOW)
            _, admin = new.agency_create(
                lines[0]["name"], lines[0]["timezone"], lines[0]["currency"],
                lines[0]["admin_name"], lines[0]["admin_email"])
            report = json.loads(new.agency_import(admin, out))
            self.assertEqual(report["imported"], records)
            again = json.loads(new.agency_import(admin, out))
            self.assertEqual(again["present"], records)
            new.check()
        privacy = json.loads(tesoro.privacy_map())
        tables = {t["table"] for t in privacy}
        self.assertIn("contact", tables)
        classes = {c["class"] for t in privacy for c in t["columns"]}
        self.assertEqual(classes, {"kept", "personal", "secret", "bytes"})
        db.check()


class TestOperator(WorldCase):

    def test_outbox_tick_and_stats(self):
        db = self.db
        _, _, _, listing = self.onboard()
        rows = db.outbox_fetch(0, 10000).all()
        self.assertTrue(rows)
        self.assertEqual(set(rows[0]) >= {"id", "uid", "kind", "channel",
                                          "template", "payload"}, True)
        counts = db.outbox_counts()
        self.assertEqual(counts.pending, len(rows))
        ours = [r["id"] for r in rows if r["agency_id"] == self.agency]
        theirs = [r["id"] for r in rows
                  if r["agency_id"] == self.other_agency]
        self.assertGreaterEqual(len(ours), 3)
        self.assertTrue(theirs)
        db.outbox_ack(ours[0])
        self.assertRefused(tesoro.StateError, None, db.outbox_ack, ours[0])
        self.assertRefused(tesoro.NotFound, None, db.outbox_ack, 10 ** 9)
        db.config(tesoro.CONFIG_OUTBOX_MAX_ATTEMPTS, 1)
        db.outbox_fail(ours[1], "smtp down")
        db.outbox_fail(ours[2])
        self.assertEqual(db.outbox_counts(), (len(rows) - 3, 1, 2))
        self.assertEqual([r["id"] for r in db.outbox_fetch(
            self.other_agency, 100)], theirs)
        self.assertNotIn(ours[0], [r["id"] for r in db.outbox_fetch()])
        self.assertRefused(tesoro.InvalidArgument, None, db.outbox_fetch, 0,
                           0)
        stats = {(s["what"], s["state"]): s["count"]
                 for s in db.stats(self.agency)}
        self.assertEqual(stats[("listing", "published")], 1)
        self.assertEqual(stats[("outbox", "dead")], 2)
        self.assertRefused(tesoro.InvalidArgument, None, db.stats, -1)
        self.assertEqual(db.tick(NOW), 0)
        # the mandate expires after 180 days: tick unpublishes the listing
        fired = db.tick(NOW + 200 * 86400)
        self.assertGreaterEqual(fired, 1)
        self.assertEqual(db.entity_state(self.agent, "listing",
                                         listing).state, "unpublished")
        self.assertEqual(db.tick(NOW + 200 * 86400), 0)

    def test_diagrams_and_checker(self):
        for entity in range(tesoro.ENTITY_ROOM,
                            tesoro.ENTITY_VENDOR_CLAIM + 1):
            dot = tesoro.machine_dot(entity)
            self.assertTrue(dot.startswith("digraph"), entity)
            self.assertEqual(tesoro.machine_diagram(entity,
                                                    tesoro.DIAGRAM_DOT), dot)
            mermaid = tesoro.machine_diagram(entity)
            self.assertTrue(mermaid.startswith("stateDiagram-v2"), entity)
            self.assertEqual(mermaid.count("-->"), dot.count("->"))
        self.assertIn("open --> in_progress : start_onboarding",
                      tesoro.machine_diagram("room"))
        self.assertIn("CREATE TABLE", tesoro.schema_text())
        self.db.check()
        room, _ = self.db.contact_request_submit(
            self.website, "Rob", "rob@example.com", tesoro.PROPERTY_HOUSE,
            "Utrecht")
        con = sqlite3.connect(self.path)
        con.execute("UPDATE room SET state = 'lost' WHERE id = ?", (room,))
        con.commit()
        con.close()
        with self.assertRaises(tesoro.DatabaseError) as caught:
            self.db.check()
        self.assertEqual(caught.exception.code, tesoro.EDB)
        self.assertIn("room", caught.exception.message)


# ---------------------------------------------------------------------------
# 6. onboarding.py tells the C example's story.


def section(text, first="1. ", stop="6. "):
    """The lines from the one starting with `first` to the one before the
    line starting with `stop`."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith(first):
            inside = True
        elif line.startswith(stop):
            break
        if inside:
            lines.append(line)
    return lines


class TestOnboardingExample(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tesoro-py-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_same_steps_as_the_c_example(self):
        example = os.environ.get("TESORO_EXAMPLE",
                                 os.path.join(ROOT, "build",
                                              "workflows_example"))
        self.assertTrue(os.path.exists(example),
                        "%s missing: run make example" % example)
        c = subprocess.run([example, os.path.join(self.dir, "c.db"),
                            os.path.join(self.dir, "c.ics")],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(c.returncode, 0, c.stderr)
        py = subprocess.run([sys.executable,
                             os.path.join(HERE, "onboarding.py"),
                             os.path.join(self.dir, "py.db")],
                            capture_output=True, text=True, timeout=120,
                            env=dict(os.environ,
                                     TESORO_LIBRARY=tesoro.LIBRARY_PATH))
        self.assertEqual(py.returncode, 0, py.stderr)
        c_steps, py_steps = section(c.stdout), section(py.stdout)
        self.assertGreater(len(c_steps), 30)
        self.assertEqual(c_steps[0], "1. The agency")
        self.assertIn("5. The listing", c_steps)
        self.assertGreater(sum(line.startswith("  ok  ")
                               for line in c_steps), 15)
        self.assertEqual(py_steps, c_steps)
        self.assertIn("  ok  tesoro_check", py.stdout)

    def test_a_failing_step_is_reported_on_stderr(self):
        path = os.path.join(self.dir, "used.db")
        Tesoro(path).close()
        con = sqlite3.connect(path)  # a host trigger that refuses rooms
        con.execute("CREATE TRIGGER no_rooms BEFORE INSERT ON room "
                    "BEGIN SELECT RAISE(ABORT, 'rooms are closed'); END")
        con.commit()
        con.close()
        py = subprocess.run([sys.executable,
                             os.path.join(HERE, "onboarding.py"), path],
                            capture_output=True, text=True, timeout=120,
                            env=dict(os.environ,
                                     TESORO_LIBRARY=tesoro.LIBRARY_PATH))
        self.assertEqual(py.returncode, 1)
        self.assertIn("Olivia asks to sell her house in Utrecht failed: ",
                      py.stderr)
        self.assertIn("(EDB)", py.stderr)
        self.assertIn("  ok  look up the website actor", py.stdout)
        self.assertNotIn("Olivia asks", py.stdout)
        self.assertNotIn("Traceback", py.stderr)


# ---------------------------------------------------------------------------
# 7. The package: what pip installs and what editors read.


class TestPackage(unittest.TestCase):

    def test_the_package_under_test(self):
        """Under TESORO_TEST_INSTALLED=1 (make test-python-package) the
        tests run against an installed package, with its metadata and
        py.typed, never against the source tree."""
        here = os.path.dirname(os.path.abspath(tesoro.__file__))
        self.assertTrue(os.path.exists(os.path.join(here, "py.typed")))
        if os.environ.get("TESORO_TEST_INSTALLED") != "1":
            self.skipTest("the source tree's package (TESORO_TEST_INSTALLED "
                          "unset)")
        import importlib.metadata
        self.assertNotEqual(os.path.realpath(here),
                            os.path.realpath(os.path.join(SRC, "tesoro")))
        self.assertTrue(here.startswith(sys.prefix), here)
        self.assertEqual(importlib.metadata.version("tesoro"), tesoro.VERSION)

    def test_versions_agree(self):
        """pyproject.toml's version is the binding's, which is the
        library's (tesoro.h's TESORO_VERSION)."""
        with open(os.path.join(HERE, "pyproject.toml"),
                  encoding="utf-8") as f:
            m = re.search(r'^version\s*=\s*"([^"]+)"', f.read(), re.M)
        self.assertIsNotNone(m)
        self.assertEqual(m.group(1), tesoro.VERSION)
        self.assertEqual(tesoro.version(), tesoro.VERSION)

    def test_every_public_callable_has_hints_and_a_docstring(self):
        """Editors complete the API: every public method of Tesoro and
        Cursor and every public function has annotated parameters and
        result, and a docstring; one that calls a tesoro_X function names
        it."""
        import typing
        seen = 0
        callables = [(name, getattr(tesoro, name)) for name in dir(tesoro)
                     if inspect.isfunction(getattr(tesoro, name))
                     and getattr(tesoro, name).__module__ == "tesoro"]
        for cls in (Tesoro, tesoro.Cursor):
            for name, value in vars(cls).items():
                if isinstance(value, property):
                    value = value.fget
                if inspect.isfunction(value):
                    callables.append(("%s.%s" % (cls.__name__, name), value))
        for name, fn in callables:
            short = name.rsplit(".", 1)[-1]
            if short.startswith("_") and short not in ("__init__",):
                continue
            seen += 1
            hints = typing.get_type_hints(fn, vars(tesoro))
            params = [p for p in inspect.signature(fn).parameters.values()
                      if p.name != "self"
                      and p.kind is not p.VAR_POSITIONAL]
            for p in params:
                self.assertIn(p.name, hints, "%s(%s)" % (name, p.name))
            self.assertIn("return", hints, name)
            if short == "__init__":
                continue
            doc = inspect.getdoc(fn)
            self.assertTrue(doc, name)
            source = inspect.getsource(fn)
            for c_name in set(re.findall(r'"(tesoro_\w+)"', source)):
                self.assertIn(c_name, doc, name)
        self.assertGreater(seen, 150)


if __name__ == "__main__":
    unittest.main()
