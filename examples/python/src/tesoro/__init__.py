"""tesoro -- the Python binding of tesoro, over ctypes (standard library only).

Install it with ``pip install ./examples/python`` (from the tesoro tree); it
needs the C library, libtesoro, installed (``make install``) or named by
``$TESORO_LIBRARY``.

tesoro keeps an estate agency's workflows as persistent state machines in
one SQLite file.  This module loads libtesoro.so, declares the C prototype of
every function in tesoro.h (``PROTOTYPES``), and wraps them in a small
Pythonic layer:

- ``Tesoro(path)`` is the handle: a context manager, closed by ``close()``.
  Every C function ``tesoro_X(t, ...)`` is the method ``Tesoro.X(...)``;
  out-parameters come back as return values (a NamedTuple when there are
  several), ``expected_version`` is a keyword that defaults to 0 (no check).
  Each method carries type hints (the package ships ``py.typed``) and, as
  its docstring, what it returns and tesoro.h's text for its C function.
- A negative result code raises ``TesoroError`` -- one subclass per code
  (``InvalidArgument``, ``NotFound``, ``StateError``, ``Denied``,
  ``GuardError``, ``Conflict``, ``Exists``, ``Busy``, ...) -- carrying
  ``code``, ``name`` and ``message`` (tesoro_errmsg: the broken rule).
- Lists come back as ``Cursor`` objects: iterators of dicts keyed by the
  column names.  The C cursor is freed when the iteration ends, when it
  fails, on ``close()`` / ``with``, and at the latest when the object dies.
- Text goes in as ``str`` (encoded to UTF-8) or as ``bytes`` (passed as
  given, so the library's own UTF-8 check can be reached); ``None`` is NULL.
  Text comes back as ``str``.  Document contents are ``bytes``.  JSON
  arguments may be given as text or as a dict/list (serialised here);
  JSON results are returned as the library's text, exactly.
- Memory tesoro hands back through ``char **`` / ``void **`` is copied and
  released with ``tesoro_free`` at once: ctypes never owns a pointer that
  must be freed (those out-parameters are declared ``POINTER(c_void_p)``).

Library lookup: ``$TESORO_LIBRARY`` if set; else, when this package is
imported from a tesoro source tree (examples/python/src), that tree's
``build/libtesoro.so``; else an installed libtesoro found by
``ctypes.util.find_library("tesoro")`` (``make install`` puts it in
/usr/local/lib; run ``ldconfig`` after), else ``libtesoro.so.0`` as the
dynamic loader finds it (``LD_LIBRARY_PATH``).
A function of tesoro.h that library does not export (one built before the
function was added) does not stop the import: it is named in ``MISSING``,
and calling its method raises ``AttributeError``.

Threading: a handle serialises its calls with a lock (tesoro's rule is "one
thread at a time per handle"), so a failing call and the read of its
message are one step even when threads share a ``Tesoro``.
"""

import collections
import contextlib
import ctypes
import ctypes.util
import json
import os
import threading
from typing import (Any, Dict, Iterator, List, Mapping, NamedTuple, Optional,
                    Sequence, Tuple, Union)

Text = Union[str, bytes, bytearray, memoryview]
"""A text argument: str (sent as UTF-8) or bytes (sent as given)."""
JSON = Union[str, bytes, bytearray, Mapping[str, Any], Sequence[Any]]
"""A JSON argument: its text, or a dict or list the binding serialises."""
Entity = Union[int, str]
"""An ENTITY_* number or its name ("room", "deal_property")."""
Row = Dict[str, Any]
"""One row of a Cursor: column name -> int, float, str or None."""

# ---------------------------------------------------------------------------
# Constants of tesoro.h (the test suite checks each against the header).

VERSION = "0.1.0"
VERSION_NUMBER = 1000
SCHEMA_VERSION = 7
APPLICATION_ID = 0x5453524F

OK = 0
ROW = 100
DONE = 101
EINVAL = -1
ENOTFOUND = -2
ESTATE = -3
EDENIED = -4
EGUARD = -5
ECONFLICT = -6
EEXISTS = -7
EBUSY = -8
ENOMEM = -9
EDB = -10
EMISUSE = -11
ENOTDB = -12
ESCHEMA = -13
EREADONLY = -14

MAX_NAME = 200
MAX_EMAIL = 254
MAX_PHONE = 40
MAX_SHORT = 500
MAX_REASON = 2000
MAX_TEXT = 20000
MAX_JSON = 200000
MAX_MONEY = 10000000000000

ROLE_AGENT = 1
ROLE_ADMIN = 2
ROLE_CLOSINGS = 3

ACTOR_AGENT = 1
ACTOR_CLIENT = 2
ACTOR_WEBSITE = 3
ACTOR_SYSTEM = 4

ENTITY_CONTACT = 1
ENTITY_ROOM = 2
ENTITY_MANDATE = 3
ENTITY_LISTING = 4
ENTITY_TASK = 5
ENTITY_DEAL = 6
ENTITY_DEAL_PROPERTY = 7
ENTITY_APPOINTMENT = 8
ENTITY_REFERRAL = 9
ENTITY_PORTAL_ACCOUNT = 10
ENTITY_WEB_CUSTOMER = 11
ENTITY_SEARCH = 12
ENTITY_VENDOR_CLAIM = 13

PROPERTY_HOUSE = 1
PROPERTY_APARTMENT = 2
PROPERTY_OFFICE = 3
PROPERTY_LAND = 4

COMMISSION_PERCENTAGE = 1
COMMISSION_FIXED = 2

DOC_SHARED = 1
DOC_SIGNED_MANDATE = 2
DOC_PROPERTY_DOCUMENT = 3
DOC_PHOTO = 4
DOC_ENERGY_CERTIFICATE = 5
DOC_VOICE_NOTE = 6

CONFIG_BUSY_TIMEOUT_MS = 1
CONFIG_MAX_DOCUMENT_BYTES = 2
CONFIG_OUTBOX_MAX_ATTEMPTS = 3
CONFIG_OUTBOX_BACKOFF_S = 4
CONFIG_TICK_BATCH = 5
CONFIG_REMINDER_LEAD_S = 6
CONFIG_PWHASH_OPSLIMIT = 7
CONFIG_PWHASH_MEMLIMIT = 8
CONFIG_SYNCHRONOUS = 9
CONFIG_CHECKPOINT_PAGES = 10
CONFIG_SESSION_IDLE_S = 11
CONFIG_SESSION_MAX_S = 12
CONFIG_EVENT_SKEW_S = 13
SYNC_NORMAL = 1
SYNC_FULL = 2

CHANNEL_CRM = 1
CHANNEL_PUSH = 2
CHANNEL_EMAIL = 4
CHANNEL_WEBSITE = 8
CHANNEL_CALENDAR = 16

DIAGRAM_DOT = 1
DIAGRAM_MERMAID = 2

APPOINTMENT_PENDING = 1
APPOINTMENT_CONFIRMED = 2
APPOINTMENT_COMPLETED = 3
APPOINTMENT_CANCELLED = 4
APPOINTMENT_REJECTED = 5

LIST_UPCOMING = 1
LIST_RECENT = 2
LIST_UNCONFIRMED = 3

MAX_PREFERRED = 3
NO_SHOW_WINDOW_S = 7 * 86400
VIEWING_DURATION_S = 3600
MIN_VIEWING_S = 300
MAX_VIEWING_S = 43200

REJECT_PRICE = 1
REJECT_LOCATION = 2
REJECT_SIZE = 4
REJECT_LAYOUT = 8
REJECT_CONDITION = 16
REJECT_OTHER = 32

STAGE_LEFT_VOICEMAIL = 1
STAGE_CONNECTED = 2
STAGE_MEETING_SCHEDULED = 3
STAGE_MET_WITH_PERSON = 4
STAGE_COMING_SOON = 5
STAGE_MAKING_AN_OFFER = 6
STAGE_LISTING = 7
STAGE_IN_ESCROW = 8
STAGE_CLOSED = 9
STAGE_CLOSED_PAID = 10
STAGE_FAILED = 11

REFERRALS_ALL = 0
REFERRALS_ACTIVE = 1
REFERRALS_FAILED = 2
REFERRALS_CLOSED = 3

PORTAL_UNVERIFIED = 1
PORTAL_SET_PASSWORD = 2
PORTAL_WELCOME = 3
PORTAL_TOUR = 4
PORTAL_READY = 5

PORTAL_CODE_DIGITS = 6
PORTAL_CODE_TTL_S = 900
PORTAL_CODE_MAX_TRIES = 5
PORTAL_LOGIN_MAX_FAILS = 5
PORTAL_LOCK_S = 900
PORTAL_TEMP_PASSWORD_LEN = 16
MIN_PASSWORD = 8
MAX_PASSWORD = 256
PORTAL_LANGUAGES = "en nl de fr es pt it pl sv no"
PORTAL_TOKEN_LEN = 43
PORTAL_RESET_LEN = 32
PORTAL_RESET_TTL_S = 3600
PORTAL_RESET_MAX_TRIES = 5

FEED_NEW = 1
FEED_ALL = 2
FEED_FAVOURITES = 3

MAX_SOURCE_ID = 200
MAX_BATCH = 10000

CONSENT_NOT_ASKED = 1
CONSENT_GRANTED = 2
CONSENT_DENIED = 3

TYPE_INTEGER = 1
TYPE_FLOAT = 2
TYPE_TEXT = 3
TYPE_BLOB = 4
TYPE_NULL = 5

EXPORT_DOCUMENT_BYTES = 1

_INT_MIN, _INT_MAX = -(2 ** 31), 2 ** 31 - 1
_I64_MIN, _I64_MAX = -(2 ** 63), 2 ** 63 - 1

# ---------------------------------------------------------------------------
# Exceptions: one class per result code.


class TesoroError(Exception):
    """A tesoro call failed: ``code`` (negative TESORO_E*), ``name``
    ("EDENIED") and ``message`` (tesoro_errmsg: the rule that refused it)."""

    code = None

    def __init__(self, code, name, message):
        super().__init__("%s (%s)" % (message, name))
        self.code = code
        self.name = name
        self.message = message


class InvalidArgument(TesoroError, ValueError):
    """EINVAL: malformed input (NULL, empty, too long, bad UTF-8, range)."""
    code = EINVAL


class NotFound(TesoroError, LookupError):
    """ENOTFOUND: no such entity."""
    code = ENOTFOUND


class StateError(TesoroError):
    """ESTATE: the entity's state does not allow the event."""
    code = ESTATE


class Denied(TesoroError, PermissionError):
    """EDENIED: the actor may not do it (another agency, a client...)."""
    code = EDENIED


class GuardError(TesoroError):
    """EGUARD: a business rule on stored data or time refuses it."""
    code = EGUARD


class Conflict(TesoroError):
    """ECONFLICT: expected_version is not the entity's version."""
    code = ECONFLICT


class Exists(TesoroError):
    """EEXISTS: already exists."""
    code = EEXISTS


class Busy(TesoroError):
    """EBUSY: the database lock was not obtained within the busy timeout."""
    code = EBUSY


class OutOfMemory(TesoroError, MemoryError):
    """ENOMEM."""
    code = ENOMEM


class DatabaseError(TesoroError):
    """EDB: database or I/O error (also tesoro_check's violations)."""
    code = EDB


class Misuse(TesoroError):
    """EMISUSE: the library was used incorrectly (e.g. a closed handle)."""
    code = EMISUSE


class NotADatabase(TesoroError):
    """ENOTDB: the file is not a tesoro database."""
    code = ENOTDB


class SchemaError(TesoroError):
    """ESCHEMA: the database was written by a newer tesoro."""
    code = ESCHEMA


class ReadOnly(TesoroError):
    """EREADONLY: a write on a read-only handle."""
    code = EREADONLY


ERRORS = {cls.code: cls for cls in (
    InvalidArgument, NotFound, StateError, Denied, GuardError, Conflict,
    Exists, Busy, OutOfMemory, DatabaseError, Misuse, NotADatabase,
    SchemaError, ReadOnly)}


def error_for(code: int, message: Optional[str] = None) -> "TesoroError":
    """The exception for result `code` with `message` (default: the static
    text of the code)."""
    name = errname(code)
    if message is None:
        message = errstr(code)
    return ERRORS.get(code, TesoroError)(code, name, message)


def _binding_error(cls, message):
    """An error the binding raises itself, before calling C, for input that
    cannot cross a C boundary faithfully (see _text, _int)."""
    return cls(cls.code, errname(cls.code), message)


# ---------------------------------------------------------------------------
# Prototypes.  Each entry is "C name", result type, "arg:TYPE ..." with the
# codes below, in the order of tesoro.h.  Out-parameters that hand back
# memory to free (char **, void **) are OUT = POINTER(c_void_p): the binding
# copies the bytes and calls tesoro_free; a `const char *` result is borrowed
# or static text, which ctypes copies (c_char_p) and never frees.

_POINTER_VOID = ctypes.POINTER(ctypes.c_void_p)
_TYPES = {
    "H": ctypes.c_void_p,                  # tesoro *
    "C": ctypes.c_void_p,                  # tesoro_cursor *
    "I": ctypes.c_int,                     # int
    "L": ctypes.c_int64,                   # int64_t
    "D": ctypes.c_double,                  # double
    "S": ctypes.c_char_p,                  # const char * (text in; static out)
    "B": ctypes.c_void_p,                  # const void * (bytes in)
    "P": ctypes.c_void_p,                  # void * (to free)
    "PI": ctypes.POINTER(ctypes.c_int),    # int *
    "PL": ctypes.POINTER(ctypes.c_int64),  # int64_t *, const int64_t *
    "PS": ctypes.POINTER(ctypes.c_char_p),  # const char ** (static text out)
    "OUT": _POINTER_VOID,                  # char **, void **, tesoro(_cursor) **
    "V": None,                             # void result
}

_PROTOTYPE_SPEC = """
tesoro_version S
tesoro_libversion_number I
tesoro_errstr S rc:I
tesoro_errname S rc:I
tesoro_open I path:S out:OUT
tesoro_open_readonly I path:S out:OUT
tesoro_close I t:H
tesoro_errcode I t:H
tesoro_errmsg S t:H
tesoro_free V p:P
tesoro_config I t:H option:I value:L
tesoro_clock_set I t:H now:L
tesoro_now L t:H
tesoro_begin I t:H
tesoro_commit I t:H
tesoro_rollback I t:H
tesoro_schema_text I out:OUT
tesoro_agency_create I t:H name:S timezone:S currency:S admin_name:S admin_email:S out_agency:PL out_admin:PL
tesoro_agency_website_actor I t:H actor:L agency:L out_actor:PL
tesoro_agent_create I t:H actor:L name:S email:S role:I out_agent:PL
tesoro_actor_info I t:H actor:L out_kind:PI out_agency:PL out_contact:PL
tesoro_contact_create I t:H actor:L name:S email:S phone:S language:S out_contact:PL
tesoro_contact_update I t:H actor:L contact:L fields_json:S expected_version:L
tesoro_portal_email_verify I t:H client:L code:S
tesoro_contact_assign I t:H actor:L contact:L agent:L expected_version:L
tesoro_contact_client_actor I t:H actor:L contact:L out_actor:PL
tesoro_entity_json I t:H actor:L entity:I id:L out:OUT
tesoro_entity_state I t:H actor:L entity:I id:L out_state:PS out_version:PL
tesoro_history I t:H actor:L entity:I id:L out:OUT
tesoro_allowed_events I t:H actor:L entity:I id:L out:OUT
tesoro_machine_diagram I entity:I format:I out:OUT
tesoro_activities I t:H actor:L contact:L out:OUT
tesoro_tasks I t:H actor:L entity:I entity_id:L out:OUT
tesoro_task_complete I t:H actor:L task:L expected_version:L
tesoro_task_cancel I t:H actor:L task:L expected_version:L
tesoro_outbox_fetch I t:H agency:L limit:I out:OUT
tesoro_outbox_ack I t:H id:L
tesoro_outbox_fail I t:H id:L error:S
tesoro_notification_set I t:H actor:L recipient:L channel:I on:I
tesoro_notification_channels I t:H actor:L recipient:L out_channels:PI
tesoro_agency_set_push I t:H actor:L enabled:I
tesoro_agency_set_calendar I t:H actor:L active:I
tesoro_stats I t:H agency:L out:OUT
tesoro_tick I t:H now:L out_fired:PI
tesoro_checkpoint I t:H out_wal_pages:PI out_copied:PI
tesoro_document_add I t:H actor:L entity:I entity_id:L kind:I name:S mime:S data:B size:L out_document:PL
tesoro_document_read I t:H actor:L document:L out_data:OUT out_size:PL
tesoro_documents I t:H actor:L entity:I entity_id:L out:OUT
tesoro_contact_request_submit I t:H actor:L name:S email:S property_type:I location:S budget:L timeline:S description:S out_room:PL out_client:PL
tesoro_room_message_post I t:H actor:L room:L body:S out_message:PL
tesoro_room_note_add I t:H actor:L room:L body:S out_note:PL
tesoro_room_messages I t:H actor:L room:L out:OUT
tesoro_room_start_onboarding I t:H actor:L room:L with_listing:I expected_version:L out_mandate:PL
tesoro_room_mark_lost I t:H actor:L room:L reason:S expected_version:L
tesoro_room_close I t:H actor:L room:L reason:S expected_version:L
tesoro_mandate_propose I t:H actor:L mandate:L commission_type:I value:L currency:S exclusive:I duration_days:I expected_version:L out_proposal:PL
tesoro_mandate_accept I t:H actor:L mandate:L proposal:L expected_version:L out_json:OUT
tesoro_mandate_share_form I t:H actor:L mandate:L expected_version:L
tesoro_mandate_submit_form I t:H actor:L mandate:L form_json:S expected_version:L
tesoro_mandate_request_changes I t:H actor:L mandate:L reason:S expected_version:L
tesoro_mandate_validate I t:H actor:L mandate:L expected_version:L out_listing:PL
tesoro_mandate_cancel I t:H actor:L mandate:L reason:S expected_version:L
tesoro_mandate_proposals I t:H actor:L mandate:L out:OUT
tesoro_listing_update I t:H actor:L listing:L fields_json:S expected_version:L
tesoro_listing_publish I t:H actor:L listing:L expected_version:L
tesoro_listing_unpublish I t:H actor:L listing:L expected_version:L
tesoro_agency_set_viewing_duration I t:H actor:L duration_s:L
tesoro_deal_create I t:H actor:L contact:L name:S out_deal:PL
tesoro_deal_close I t:H actor:L deal:L reason:S expected_version:L
tesoro_deal_offer I t:H actor:L deal:L listing:L out_deal_property:PL
tesoro_deal_properties I t:H actor:L deal:L out:OUT
tesoro_deal_property_interested I t:H actor:L deal_property:L expected_version:L
tesoro_deal_property_not_interested I t:H actor:L deal_property:L reasons:I note:S expected_version:L
tesoro_deal_property_approve I t:H actor:L deal_property:L expected_version:L
tesoro_deal_property_favourite I t:H actor:L deal_property:L on:I expected_version:L
tesoro_appointment_request I t:H actor:L deal_property:L preferred:PL count:I out_appointment:PL
tesoro_appointment_confirm I t:H actor:L appointment:L start_at:L duration_s:L expected_version:L
tesoro_appointment_reschedule I t:H actor:L appointment:L start_at:L duration_s:L expected_version:L
tesoro_appointment_reject I t:H actor:L appointment:L reason:S expected_version:L
tesoro_appointment_cancel I t:H actor:L appointment:L reason:S expected_version:L
tesoro_appointment_start_viewing I t:H actor:L appointment:L expected_version:L
tesoro_appointment_record_no_show I t:H actor:L appointment:L note:S expected_version:L
tesoro_appointment_note_add I t:H actor:L appointment:L body:S out_note:PL
tesoro_appointment_rate I t:H actor:L appointment:L stars:I expected_version:L
tesoro_appointment_notes I t:H actor:L appointment:L out:OUT
tesoro_client_appointments I t:H actor:L list:I out:OUT
tesoro_agent_appointments I t:H actor:L agent:L state:I from:L to:L out:OUT
tesoro_appointment_ics I t:H actor:L appointment:L link:S out:OUT
tesoro_calendar_feed I t:H actor:L subject:L out_ics:OUT
tesoro_agency_set_referral_fee I t:H actor:L basis_points:L
tesoro_referral_create I t:H actor:L contact:L agent:L out_referral:PL
tesoro_referral_move I t:H actor:L referral:L stage:I data_json:S expected_version:L
tesoro_referral_note_add I t:H actor:L referral:L body:S out_note:PL
tesoro_referral_notes I t:H actor:L referral:L out:OUT
tesoro_referrals I t:H actor:L filter:I stage:I agent:L out:OUT
tesoro_referral_pipeline I t:H actor:L agent:L out:OUT
tesoro_agency_set_portal I t:H actor:L active:I
tesoro_portal_account_create I t:H actor:L contact:L out_account:PL out_temp_password:OUT
tesoro_portal_register I t:H website:L name:S email:S password:S out_account:PL out_code:OUT
tesoro_portal_verify I t:H website:L email:S code:S out_client:PL
tesoro_portal_login I t:H website:L email:S password:S out_client:PL out_step:PI
tesoro_portal_password_change I t:H client:L current:S new_password:S
tesoro_portal_step I t:H client:L out_step:PI
tesoro_portal_welcome_finish I t:H client:L
tesoro_portal_tour_finish I t:H client:L
tesoro_portal_tour_skip I t:H client:L
tesoro_portal_tour_restart I t:H client:L
tesoro_portal_language I t:H client:L out_language:PS
tesoro_portal_set_language I t:H client:L language:S
tesoro_portal_home I t:H client:L out_upcoming:PL out_unconfirmed:PL out_new_properties:PL out_ratings:PL
tesoro_portal_properties I t:H client:L view:I out:OUT
tesoro_portal_property I t:H client:L listing:L out_json:OUT
tesoro_portal_contact_agent I t:H client:L deal_property:L message:S out_message:PL
tesoro_contact_portal_account I t:H actor:L contact:L out_account:PL
tesoro_portal_session_open I t:H website:L email:S password:S out_token:OUT out_client:PL out_step:PI
tesoro_portal_session_client I t:H website:L token:S out_client:PL
tesoro_portal_session_end I t:H website:L token:S
tesoro_portal_reset_request I t:H website:L email:S
tesoro_portal_reset I t:H website:L email:S secret:S new_password:S out_client:PL
tesoro_portal_invitation_resend I t:H actor:L contact:L out_temp_password:OUT
tesoro_portal_account_deactivate I t:H actor:L contact:L
tesoro_exchange_ingest I t:H website:L event_json:S out_result:OUT
tesoro_exchange_ingest_batch I t:H website:L events_json:S out_failed:PI out_results:OUT
tesoro_prospects I t:H actor:L out:OUT
tesoro_prospect_approve I t:H actor:L customer:L contact:L expected_version:L out_contact:PL
tesoro_prospect_discard I t:H actor:L customer:L reason:S expected_version:L
tesoro_customer_searches I t:H actor:L customer:L out:OUT
tesoro_customer_properties I t:H actor:L customer:L out:OUT
tesoro_customer_enquiries I t:H actor:L customer:L out:OUT
tesoro_customer_find I t:H actor:L external_id:S out_customer:PL
tesoro_contact_customer I t:H actor:L contact:L out_customer:PL
tesoro_search_save I t:H actor:L contact:L search:L criteria_json:S alert:I out_search:PL
tesoro_search_delete I t:H actor:L search:L expected_version:L
tesoro_interest_register I t:H actor:L contact:L listing:L
tesoro_contact_set_group I t:H actor:L contact:L group:S
tesoro_vendor_confirm I t:H actor:L contact:L listing:L role:S
tesoro_vendor_claim_reject I t:H actor:L claim:L reason:S expected_version:L
tesoro_call_list I t:H actor:L limit:I out:OUT
tesoro_matches I t:H actor:L customer:L out:OUT
tesoro_contact_set_consent I t:H actor:L contact:L consent:I statement:S expected_version:L
tesoro_contact_export I t:H actor:L contact:L flags:I out_json:OUT
tesoro_contact_erase I t:H actor:L contact:L reason:S
tesoro_web_customer_export I t:H actor:L customer:L out_json:OUT
tesoro_web_customer_erase I t:H actor:L customer:L reason:S
tesoro_agency_import I t:H actor:L path:S out_report:OUT
tesoro_agency_export I t:H actor:L path:S out_records:PL
tesoro_privacy_map I out_json:OUT
tesoro_cursor_next I c:C
tesoro_cursor_columns I c:C
tesoro_cursor_name S c:C col:I
tesoro_cursor_index I c:C name:S
tesoro_cursor_int L c:C col:I
tesoro_cursor_double D c:C col:I
tesoro_cursor_text S c:C col:I
tesoro_cursor_isnull I c:C col:I
tesoro_cursor_type I c:C col:I
tesoro_cursor_free V c:C
tesoro_check I t:H
"""

_Prototype = collections.namedtuple("_Prototype", "name restype args")


def _parse_prototypes(spec):
    protos = collections.OrderedDict()
    for line in spec.strip().splitlines():
        words = line.split()
        args = tuple(tuple(w.split(":")) for w in words[2:])
        protos[words[0]] = _Prototype(words[0], words[1], args)
    return protos


PROTOTYPES = _parse_prototypes(_PROTOTYPE_SPEC)


def _library_path() -> str:
    """Where libtesoro is (see the module's docstring)."""
    env = os.environ.get("TESORO_LIBRARY")
    if env:
        return env
    # examples/python/src/tesoro/__init__.py of a tesoro tree: its build/
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, *[os.pardir] * 4))
    if os.path.exists(os.path.join(root, "tesoro.h")):
        for name in ("libtesoro.so", "libtesoro.dylib"):
            candidate = os.path.join(root, "build", name)
            if os.path.exists(candidate):
                return candidate
    found = ctypes.util.find_library("tesoro")
    if found:
        return found
    return "libtesoro.so.0"


def _open_library(path: str) -> ctypes.CDLL:
    try:
        return ctypes.CDLL(path)
    except OSError as e:
        raise ImportError("libtesoro not found (%s): install it (make "
                          "install) or set TESORO_LIBRARY to its path"
                          % e) from None


def _load(path):
    """Load the library and declare every prototype it exports.  A function
    of tesoro.h the library does not export (a library built before it
    was added) is left out and named in the second result: loading still
    works, and only calling that one function fails (see _function)."""
    lib = _open_library(path)
    missing = []
    for proto in PROTOTYPES.values():
        try:
            fn = getattr(lib, proto.name)
        except AttributeError:
            missing.append(proto.name)
            continue
        fn.restype = _TYPES[proto.restype]
        fn.argtypes = [_TYPES[code] for _, code in proto.args]
    number = lib.tesoro_libversion_number()
    if number // 1000 != VERSION_NUMBER // 1000:
        raise ImportError("libtesoro %s at %s does not match this binding "
                          "(%s)" % (lib.tesoro_version().decode(), path,
                                    VERSION))
    return lib, frozenset(missing)


LIBRARY_PATH = _library_path()
_lib, MISSING = _load(LIBRARY_PATH)
"""The functions of PROTOTYPES that the loaded library does not export;
calling one of their methods raises AttributeError."""


def _function(fname):
    """The declared ctypes function `fname`; AttributeError naming the
    library when it does not export it."""
    if fname in MISSING:
        raise AttributeError("%s is not exported by %s (a libtesoro older "
                             "than this binding)" % (fname, LIBRARY_PATH))
    return getattr(_lib, fname)

# ---------------------------------------------------------------------------
# Arguments in, results out.


def _text(value, what):
    """A text argument: None (NULL), str (UTF-8) or bytes (as given).  A NUL
    byte cannot cross the C boundary (the C side would see a shorter
    string), so it is refused here with InvalidArgument."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            data = value.encode("utf-8")
        except UnicodeEncodeError:
            raise _binding_error(InvalidArgument,
                                 "%s is not valid Unicode" % what) from None
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
    else:
        raise TypeError("%s must be str, bytes or None, not %s"
                        % (what, type(value).__name__))
    if b"\0" in data:
        raise _binding_error(InvalidArgument,
                             "%s contains a NUL character" % what)
    return data


def _int(value, what, lo, hi):
    """An integer argument, checked against the C type's range: ctypes
    would silently truncate 2**32 + 1 to 1."""
    if not isinstance(value, int):
        raise TypeError("%s must be an int, not %s"
                        % (what, type(value).__name__))
    if not lo <= value <= hi:
        raise _binding_error(InvalidArgument,
                             "%s %d is out of range" % (what, value))
    return int(value)


def _convert(proto, args, skip):
    """Check and convert Python arguments for the C arguments of `proto`
    after the first `skip` (the handle)."""
    specs = proto.args[skip:]
    out = []
    for (name, code), value in zip(specs, args):
        if code == "S":
            out.append(_text(value, name))
        elif code == "I":
            out.append(_int(value, name, _INT_MIN, _INT_MAX))
        elif code == "L":
            out.append(_int(value, name, _I64_MIN, _I64_MAX))
        else:
            out.append(value)
    return out


def _json_arg(value):
    """JSON arguments: text as given, None as NULL, anything else dumped."""
    if value is None or isinstance(value, (str, bytes, bytearray)):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _take_text(ptr):
    """Copy the text tesoro returned through a char ** and free it."""
    if not ptr.value:
        return None
    try:
        return ctypes.string_at(ptr.value).decode("utf-8")
    finally:
        _lib.tesoro_free(ptr)


def _take_bytes(ptr, size):
    """Copy the bytes tesoro returned through a void ** and free them."""
    if not ptr.value:
        return b""
    try:
        return ctypes.string_at(ptr.value, size)
    finally:
        _lib.tesoro_free(ptr)


def _static_call(fname, *args):
    """Call a function without a handle; failures carry the code's text."""
    proto = PROTOTYPES[fname]
    rc = _function(fname)(*_convert(proto, args, 0))
    if rc < 0:
        raise error_for(rc)
    return rc


_ENTITY_NAMES = {
    "contact": ENTITY_CONTACT, "room": ENTITY_ROOM,
    "mandate": ENTITY_MANDATE, "listing": ENTITY_LISTING,
    "task": ENTITY_TASK, "deal": ENTITY_DEAL,
    "deal_property": ENTITY_DEAL_PROPERTY,
    "appointment": ENTITY_APPOINTMENT, "referral": ENTITY_REFERRAL,
    "portal_account": ENTITY_PORTAL_ACCOUNT,
    "web_customer": ENTITY_WEB_CUSTOMER, "search": ENTITY_SEARCH,
    "vendor_claim": ENTITY_VENDOR_CLAIM,
}


def entity_kind(entity: Entity) -> int:
    """TESORO_ENTITY_* from an int or a name ("room", "deal_property")."""
    if isinstance(entity, str):
        try:
            return _ENTITY_NAMES[entity]
        except KeyError:
            raise _binding_error(InvalidArgument,
                                 "unknown entity %r" % entity) from None
    return entity


# ---------------------------------------------------------------------------
# Functions without a handle.


def version() -> str:
    """The library's version text ("0.1.0").

    C: tesoro_version (tesoro.h).
    """
    return _lib.tesoro_version().decode()


def libversion_number() -> int:
    """C: tesoro_libversion_number."""
    return _lib.tesoro_libversion_number()


def errstr(rc: int) -> str:
    """Static English text of a result code.

    From tesoro.h, tesoro_errstr:

    Static English text for a result code ("permission denied"); never NULL.
    """
    return _lib.tesoro_errstr(_int(rc, "rc", _INT_MIN, _INT_MAX)).decode()


def errname(rc: int) -> str:
    """The code's name without prefix ("EDENIED"); "UNKNOWN" otherwise.

    From tesoro.h, tesoro_errname:

    The code's name without prefix ("EDENIED"); "UNKNOWN" for other values.
    """
    return _lib.tesoro_errname(_int(rc, "rc", _INT_MIN, _INT_MAX)).decode()


def schema_text() -> str:
    """The schema.sql text the library carries.

    From tesoro.h, tesoro_schema_text:

    A copy of the schema.sql text this library carries (the schema of
    TESORO_SCHEMA_VERSION).  *out is freed with tesoro_free. Returns TESORO_OK,
    TESORO_EINVAL (out NULL), TESORO_ENOMEM.
    """
    out = ctypes.c_void_p()
    _static_call("tesoro_schema_text", ctypes.byref(out))
    return _take_text(out)


def machine_dot(entity: Entity) -> str:
    """Graphviz DOT of one machine (ENTITY_ROOM .. ENTITY_VENDOR_CLAIM):
    machine_diagram(entity, DIAGRAM_DOT).  tesoro_machine_dot was merged
    into tesoro_machine_diagram; this name stays."""
    return machine_diagram(entity, DIAGRAM_DOT)


def machine_diagram(entity: Entity, format: int = DIAGRAM_MERMAID) -> str:
    """A machine's diagram as DIAGRAM_DOT or DIAGRAM_MERMAID text.

    From tesoro.h, tesoro_machine_diagram:

    The same diagram in a chosen format: TESORO_DIAGRAM_DOT (what
    tesoro_machine_dot returns) or TESORO_DIAGRAM_MERMAID (a Mermaid
    `stateDiagram-v2` block body, one line "from --> to : event (roles)" per
    edge; a trailing " *" marks a guarded row).  Every entity 2..13 has one (a
    contact is a record, not a machine). Returns TESORO_OK, TESORO_EINVAL
    (unknown entity or format, out NULL), TESORO_ENOMEM.  *out: tesoro_free.
    """
    out = ctypes.c_void_p()
    _static_call("tesoro_machine_diagram", entity_kind(entity), format,
                 ctypes.byref(out))
    return _take_text(out)


def privacy_map() -> str:
    """The privacy map, as JSON text.

    From tesoro.h, tesoro_privacy_map:

    The privacy map (no handle needed), as JSON: [{"table", "about_contact",
    "columns": [{"column", "class": "kept", "personal", "secret" or
    "bytes"}]}].  *out_json is freed with tesoro_free.
    """
    out = ctypes.c_void_p()
    _static_call("tesoro_privacy_map", ctypes.byref(out))
    return _take_text(out)


# ---------------------------------------------------------------------------
# Cursors.

class Cursor:
    """The rows of one tesoro list: iterate it to get one dict per row
    (column name -> int, float, str or None).  The C cursor is freed when
    the rows run out, when stepping fails, on close() / leaving a ``with``
    block, and at the latest when this object is collected."""

    def __init__(self, db: "Tesoro", ptr: ctypes.c_void_p) -> None:
        self._db = db
        self._ptr = ptr
        self._as_text = False
        count = _lib.tesoro_cursor_columns(ptr)
        self.columns = tuple(_lib.tesoro_cursor_name(ptr, i).decode("utf-8")
                             for i in range(count))

    def as_text(self) -> "Cursor":
        """Yield every value as the library's text (None for NULL), as a C
        caller printing tesoro_cursor_text would see it.  Returns self."""
        self._as_text = True
        return self

    @property
    def closed(self) -> bool:
        """True once the C cursor is freed."""
        return self._ptr is None

    def __iter__(self) -> "Cursor":
        return self

    def __next__(self) -> Row:
        with self._db._lock:
            if self._ptr is None:
                raise StopIteration
            rc = _lib.tesoro_cursor_next(self._ptr)
            if rc == ROW:
                return self._row()
            if rc == DONE:
                self._free()
                raise StopIteration
            if self._db.closed:
                # The handle is gone, and its message with it.
                error = _binding_error(Misuse, "the cursor's handle was "
                                       "closed") if rc == EMISUSE \
                    else error_for(rc)
            else:
                error = self._db._error(rc)
            self._free()
            raise error

    def _row(self) -> Row:
        row = {}
        ptr = self._ptr
        for i, name in enumerate(self.columns):
            kind = _lib.tesoro_cursor_type(ptr, i)
            if kind == TYPE_NULL:
                row[name] = None
            elif self._as_text or kind in (TYPE_TEXT, TYPE_BLOB):
                row[name] = _lib.tesoro_cursor_text(ptr, i).decode("utf-8")
            elif kind == TYPE_INTEGER:
                row[name] = _lib.tesoro_cursor_int(ptr, i)
            else:
                row[name] = _lib.tesoro_cursor_double(ptr, i)
        return row

    def all(self) -> List[Row]:
        """Every remaining row, as a list (the cursor is then freed)."""
        return list(self)

    def _free(self):
        ptr, self._ptr = self._ptr, None
        if ptr is not None and _lib is not None:
            _lib.tesoro_cursor_free(ptr)

    def close(self) -> None:
        """Free the C cursor now (idempotent)."""
        with self._db._lock:
            self._free()

    def __enter__(self) -> "Cursor":
        return self

    def __exit__(self, *exc: object) -> bool:
        self.close()
        return False

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass


# ---------------------------------------------------------------------------
# Results with several values.

class Agency(NamedTuple):
    """Tesoro.agency_create: the new agency and its first admin."""
    agency: int
    admin: int


class ActorInfo(NamedTuple):
    """Tesoro.actor_info: ACTOR_* kind, agency, contact (0 but a client)."""
    kind: int
    agency: int
    contact: int


class EntityState(NamedTuple):
    """Tesoro.entity_state: the state's name and the entity's version."""
    state: str
    version: int


class OutboxCounts(NamedTuple):
    """Tesoro.outbox_counts: outbox rows by status."""
    pending: int
    delivered: int
    dead: int


class ContactRequest(NamedTuple):
    """Tesoro.contact_request_submit: the room and the owner's client."""
    room: int
    client: int


class PortalAccount(NamedTuple):
    """Tesoro.portal_account_create: the account and its temporary
    password (returned once)."""
    account: int
    temp_password: str


class Registration(NamedTuple):
    """Tesoro.portal_register: the account and the code to e-mail."""
    account: int
    code: str


class Login(NamedTuple):
    """Tesoro.portal_login: the client actor and its PORTAL_* step."""
    client: int
    step: int


class PortalSession(NamedTuple):
    """Tesoro.portal_session_open: the token for the host's cookie, the
    client actor and its PORTAL_* step."""
    token: str
    client: int
    step: int


class PortalHome(NamedTuple):
    """Tesoro.portal_home: the client's home overview."""
    upcoming: int
    unconfirmed: int
    new_properties: int
    ratings: int


class BatchResult(NamedTuple):
    """Tesoro.exchange_ingest_batch: how many events were skipped, the
    results as JSON text, and the message naming the first skipped one."""
    failed: int
    results: str
    message: Optional[str]


def _i64():
    return ctypes.c_int64()


def _ref(x):
    return ctypes.byref(x)


# ---------------------------------------------------------------------------
# The handle.


class Tesoro:
    """A handle on one tesoro database file (":memory:" for a private
    in-memory one).  Use it as a context manager or call close()."""

    def __init__(self, path: str, readonly: bool = False) -> None:
        """`readonly`: tesoro_open_readonly instead of tesoro_open."""
        data = _text(path, "path")
        handle = ctypes.c_void_p()
        self._lock = threading.RLock()
        self._h = None
        rc = (_lib.tesoro_open_readonly if readonly else _lib.tesoro_open)(
            data, _ref(handle))
        if rc != OK:
            message = (_lib.tesoro_errmsg(handle).decode("utf-8", "replace")
                       if handle.value else errstr(rc))
            _lib.tesoro_close(handle)
            raise error_for(rc, message)
        self._h = handle
        self.path = path

    # -- lifecycle ----------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once close() has run."""
        return self._h is None

    def close(self) -> None:
        """Close the handle (idempotent).  Cursors still open answer Misuse
        from then on and are freed by their own object."""
        with self._lock:
            handle, self._h = self._h, None
            if handle is not None:
                _lib.tesoro_close(handle)

    def __enter__(self) -> "Tesoro":
        return self

    def __exit__(self, *exc: object) -> bool:
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    # -- calling ------------------------------------------------------------

    def _error(self, rc):
        """The exception for a failed call; the caller holds the lock."""
        message = _lib.tesoro_errmsg(self._h).decode("utf-8", "replace")
        return error_for(rc, message)

    def _call(self, fname, *args):
        proto = PROTOTYPES[fname]
        fn = _function(fname)
        cargs = _convert(proto, args, 1)
        with self._lock:
            if self._h is None:
                raise _binding_error(Misuse, "the handle is closed")
            rc = fn(self._h, *cargs)
            if rc < 0:
                raise self._error(rc)
            return rc

    def _id(self, fname, *args):
        out = _i64()
        self._call(fname, *args, _ref(out))
        return out.value

    def _textout(self, fname, *args):
        out = ctypes.c_void_p()
        self._call(fname, *args, _ref(out))
        return _take_text(out)

    def _cursor(self, fname, *args):
        out = ctypes.c_void_p()
        with self._lock:
            self._call(fname, *args, _ref(out))
            try:
                return Cursor(self, out)
            except BaseException:
                _lib.tesoro_cursor_free(out)
                raise

    def errcode(self) -> int:
        """The result code of the last call (OK after a success); EMISUSE
        once the handle is closed.

        From tesoro.h, tesoro_errcode:

        Result code and one-line message of the last failing call on `t` ("not
        an error" after a success).  NULL handle: "out of memory" / ENOMEM.
        """
        with self._lock:
            if self._h is None:
                return EMISUSE
            return _lib.tesoro_errcode(self._h)

    def errmsg(self) -> str:
        """The message of the last call ("not an error" after a success).

        From tesoro.h, tesoro_errmsg:

        Result code and one-line message of the last failing call on `t` ("not
        an error" after a success).  NULL handle: "out of memory" / ENOMEM.
        """
        with self._lock:
            if self._h is None:
                return "the handle is closed"
            return _lib.tesoro_errmsg(self._h).decode("utf-8", "replace")

    # -- handle settings, clock, transactions -------------------------------

    def config(self, option: int, value: int) -> None:
        """C: tesoro_config.

        From tesoro.h, tesoro_config:

        Change a setting (TESORO_CONFIG_*).  Returns TESORO_OK, TESORO_EINVAL
        for an unknown option or a value out of range (every value must be >
        0).
        """
        self._call("tesoro_config", option, value)

    def clock_set(self, now: int) -> None:
        """Pin "now" (UTC seconds); 0 returns to the system clock.

        From tesoro.h, tesoro_clock_set:

        The handle's clock.  tesoro_clock_set(t, now) pins "now" for every
        later call (tests, simulations, replays); now = 0 returns to the system
        clock. tesoro_now returns the current value (0 for a NULL handle).
        """
        self._call("tesoro_clock_set", now)

    def now(self) -> int:
        """C: tesoro_now.

        From tesoro.h, tesoro_now:

        The handle's clock.  tesoro_clock_set(t, now) pins "now" for every
        later call (tests, simulations, replays); now = 0 returns to the system
        clock. tesoro_now returns the current value (0 for a NULL handle).
        """
        with self._lock:
            if self._h is None:
                raise _binding_error(Misuse, "the handle is closed")
            return _lib.tesoro_now(self._h)

    def begin(self) -> None:
        """C: tesoro_begin.

        From tesoro.h, tesoro_begin:

        Host transactions.  Calls between tesoro_begin and tesoro_commit share
        one SQLite transaction (one fsync); each call still runs in its own
        savepoint, so a refused call is rolled back alone and the others stay.
        tesoro_rollback undoes them all.  Nesting is not supported: a second
        begin is EMISUSE. All or nothing under every fault: when SQLite itself
        rolls the transaction back (a full disk, an I/O error, memory running
        out) or tesoro_commit fails, nothing of it is kept, and every later
        call on the handle — tesoro_commit too — fails with TESORO_EDB ("...
        call tesoro_rollback") until the host calls tesoro_rollback, which then
        returns TESORO_OK and ends it.  No call after the failure stores
        anything. Returns TESORO_OK, TESORO_EMISUSE, TESORO_EBUSY, TESORO_EDB.
        """
        self._call("tesoro_begin")

    def commit(self) -> None:
        """C: tesoro_commit.

        tesoro.h describes tesoro_commit with tesoro_begin: see Tesoro.begin.
        """
        self._call("tesoro_commit")

    def rollback(self) -> None:
        """C: tesoro_rollback.

        tesoro.h describes tesoro_rollback with tesoro_begin: see Tesoro.begin.
        """
        self._call("tesoro_rollback")

    @contextlib.contextmanager
    def transaction(self) -> Iterator["Tesoro"]:
        """One host transaction: committed when the block ends, rolled back
        when it raises."""
        self.begin()
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        self.commit()

    # -- agencies, staff, contacts ------------------------------------------

    def agency_create(self, name: Text, timezone: Text, currency: Text,
                      admin_name: Text, admin_email: Text) -> Agency:
        """Operator call.  Returns Agency(agency, admin).

        From tesoro.h, tesoro_agency_create:

        Operator call: create an agency with its first admin, its website actor
        and its system actor.  `timezone` is an IANA name ("Europe/Amsterdam");
        NULL or "" means "UTC".  `currency` is an ISO 4217 code (3 upper-case
        letters).  The admin is an agent with TESORO_ROLE_ADMIN. Returns
        TESORO_OK; TESORO_EINVAL (name empty/too long/bad UTF-8, unknown time
        zone, bad currency, bad admin name/e-mail).
        """
        agency, admin = _i64(), _i64()
        self._call("tesoro_agency_create", name, timezone, currency,
                   admin_name, admin_email, _ref(agency), _ref(admin))
        return Agency(agency.value, admin.value)

    def agency_website_actor(self, actor: int, agency: int) -> int:
        """C: tesoro_agency_website_actor.

        From tesoro.h, tesoro_agency_website_actor:

        The agency's website actor.  `actor` must be staff of that agency.
        """
        return self._id("tesoro_agency_website_actor", actor, agency)

    def agent_create(self, actor: int, name: Text, email: Text,
                     role: int = ROLE_AGENT) -> int:
        """C: tesoro_agent_create.

        From tesoro.h, tesoro_agent_create:

        Add a staff member (admin only).  `role` is TESORO_ROLE_*.  E-mail is
        unique among the agency's staff, compared case-insensitively (EEXISTS).
        """
        return self._id("tesoro_agent_create", actor, name, email, role)

    def actor_info(self, actor: int) -> ActorInfo:
        """C: tesoro_actor_info.

        From tesoro.h, tesoro_actor_info:

        Facts about an actor, for hosts and bindings: its kind
        (TESORO_ACTOR_*), agency and, for a client, its contact (0 otherwise).
        Any out may be NULL. Returns TESORO_OK, TESORO_ENOTFOUND.
        """
        kind, agency, contact = ctypes.c_int(), _i64(), _i64()
        self._call("tesoro_actor_info", actor, _ref(kind), _ref(agency),
                   _ref(contact))
        return ActorInfo(kind.value, agency.value, contact.value)

    def contact_create(self, actor: int, name: Text,
                       email: Optional[Text] = None,
                       phone: Optional[Text] = None,
                       language: Optional[Text] = None) -> int:
        """C: tesoro_contact_create.

        From tesoro.h, tesoro_contact_create:

        Create a CRM contact (staff).  `email`, `phone`, `language` may be
        NULL; e-mail is unique per agency, case-insensitively (EEXISTS).
        `language` is a free code as the CRM stores it ("nl", "pt-BR").  The
        contact is assigned to the creating agent.  The contact's client actor
        is created with it.
        """
        return self._id("tesoro_contact_create", actor, name, email, phone,
                        language)

    def contact_update(self, actor: int, contact: int, fields: JSON,
                       expected_version: int = 0) -> None:
        """Correct a contact: `fields` (JSON text or a dict) with any of
        name, email, phone, language; None clears one (not the name).

        From tesoro.h, tesoro_contact_update:

        Correct a contact (GDPR rectification): staff of its agency, or the
        contact's own client.  `fields_json` holds any of "name", "email",
        "phone", "language", checked as at creation (an e-mail another contact
        of the agency has is EEXISTS); null clears a field, but not the name.
        One history row "correct" keeps the fields' old and new values (in its
        details, which an erasure removes).  When the contact is linked to a
        website customer, the website hears of it ("customer_updated", with its
        customer id).  A changed e-mail of a contact with a portal account does
        not change the login at once: a 6-digit code goes to the new address
        ("Portal E-mail Verification"; the code is the payload's "secret",
        removed when the delivery is acknowledged), and
        tesoro_portal_email_verify switches the login; until then the old
        e-mail logs in. Returns TESORO_OK; EINVAL; EDENIED; ENOTFOUND; EEXISTS;
        ECONFLICT; ESTATE (an erased contact).
        """
        self._call("tesoro_contact_update", actor, contact, _json_arg(fields),
                   expected_version)

    def portal_email_verify(self, client: int, code: Text) -> None:
        """C: tesoro_portal_email_verify.

        From tesoro.h, tesoro_portal_email_verify:

        Verify a new portal e-mail with its code (the client): the login
        becomes it.  EDENIED "the verification code is wrong or has expired" (a
        wrong code counts, TESORO_PORTAL_CODE_MAX_TRIES at most); ESTATE when
        no new e-mail waits.
        """
        self._call("tesoro_portal_email_verify", client, code)

    def contact_assign(self, actor: int, contact: int, agent: int,
                       expected_version: int = 0) -> None:
        """C: tesoro_contact_assign.

        From tesoro.h, tesoro_contact_assign:

        Assign a contact to an agent of the same agency (staff).
        """
        self._call("tesoro_contact_assign", actor, contact, agent,
                   expected_version)

    def contact_client_actor(self, actor: int, contact: int) -> int:
        """C: tesoro_contact_client_actor.

        From tesoro.h, tesoro_contact_client_actor:

        The client actor of a contact (staff only: the website is only the
        website, and never obtains a contact's client actor this way).
        """
        return self._id("tesoro_contact_client_actor", actor, contact)

    def entity_json(self, actor: int, entity: Entity, id: int) -> str:
        """The entity as the library's JSON text.

        From tesoro.h, tesoro_entity_json:

        One entity as a JSON object (built by SQLite's JSON functions): its
        fields, "state" and "version".  A client reading a room never sees
        private notes (they are not part of the room object anyway).  *out is
        freed with tesoro_free.  Returns TESORO_OK, TESORO_EINVAL,
        TESORO_ENOTFOUND, TESORO_EDENIED.
        """
        return self._textout("tesoro_entity_json", actor, entity_kind(entity),
                             id)

    def entity(self, actor: int, entity: Entity, id: int) -> Dict[str, Any]:
        """The entity as a dict (entity_json, parsed)."""
        return json.loads(self.entity_json(actor, entity, id))

    def entity_state(self, actor: int, entity: Entity,
                     id: int) -> EntityState:
        """EntityState(state name, version).

        From tesoro.h, tesoro_entity_state:

        State name (static text, e.g. "in_progress") and version of an entity
        with a state machine.  Either out may be NULL.
        """
        state, ver = ctypes.c_char_p(), _i64()
        self._call("tesoro_entity_state", actor, entity_kind(entity), id,
                   _ref(state), _ref(ver))
        return EntityState(state.value.decode("utf-8"), ver.value)

    # -- engine queries -----------------------------------------------------

    def history(self, actor: int, entity: Entity, id: int) -> Cursor:
        """C: tesoro_history.

        From tesoro.h, tesoro_history:

        History of an entity, oldest first.  Columns: seq, event, from_state,
        to_state, actor_id, actor_kind, at, details (JSON).  A row is known by
        (entity, id, seq): seq is the entity's version after the change.
        Staff of the agency, or the client of the entity's contact.
        """
        return self._cursor("tesoro_history", actor, entity_kind(entity), id)

    def allowed_events(self, actor: int, entity: Entity, id: int) -> Cursor:
        """C: tesoro_allowed_events.

        From tesoro.h, tesoro_allowed_events:

        For each event of the entity's machine: may `actor` fire it now?
        Columns: event, to_state, allowed (0/1), code (TESORO_OK or the error
        the call would return), reason (NULL when allowed).  Guards that need
        the call's arguments (a start time, a reason) are not evaluated here.
        """
        return self._cursor("tesoro_allowed_events", actor, entity_kind(entity), id)

    # -- activities, tasks --------------------------------------------------

    def activities(self, actor: int, contact: int) -> Cursor:
        """C: tesoro_activities.

        From tesoro.h, tesoro_activities:

        The contact's activity timeline, newest first.  Columns: id, kind,
        actor_id, at, entity, entity_id, summary; id numbers the contact's
        lines in the order they were written (1, 2, ...; a line of two in the
        same second sorts by it; "written" by the writing machine's clock, to
        the nanosecond).  Staff of the agency, or the contact's own client.
        An import (tesoro_agency_import) writes no lines.  In SQL the lines
        are the view `timeline` (schema.sql): a viewing's on its history rows,
        the others in the table activity.
        """
        return self._cursor("tesoro_activities", actor, contact)

    def tasks(self, actor: int, entity: Entity = 0,
              entity_id: int = 0) -> Cursor:
        """C: tesoro_tasks.

        From tesoro.h, tesoro_tasks:

        Open tasks of the agency (staff), oldest first; `entity`/`entity_id` 0
        for all.  Columns: id, kind, title, state, entity, entity_id,
        assignee_id, created_at, version.
        """
        return self._cursor("tesoro_tasks", actor, entity_kind(entity),
                            entity_id)

    def task_complete(self, actor: int, task: int,
                      expected_version: int = 0) -> None:
        """C: tesoro_task_complete.

        From tesoro.h, tesoro_task_complete:

        Task machine: open → done, open → cancelled (staff).
        """
        self._call("tesoro_task_complete", actor, task, expected_version)

    def task_cancel(self, actor: int, task: int,
                    expected_version: int = 0) -> None:
        """C: tesoro_task_cancel.

        From tesoro.h, tesoro_task_cancel:

        Task machine: open → done, open → cancelled (staff).
        """
        self._call("tesoro_task_cancel", actor, task, expected_version)

    # -- outbox, stats, timers ----------------------------------------------

    def outbox_fetch(self, agency: int = 0, limit: int = 100) -> Cursor:
        """C: tesoro_outbox_fetch.

        From tesoro.h, tesoro_outbox_fetch:

        Operator call: rows due for delivery (pending, next attempt <= now),
        oldest first, at most `limit` (1..10000); agency 0 means every agency.
        Columns: id, uid, agency_id, kind ("notification", "exchange",
        "calendar"), recipient_id (actor id, 0 for a non-actor such as the
        website), channel ("crm", "push", "email", "website", "calendar"),
        template, language, payload (JSON), entity, entity_id, event,
        old_state, new_state, seq, attempts, created_at.  Deliveries of one
        message come together, in channel order.  A calendar payload is
        rendered when fetched, as the appointment was at the message's
        transition (see tesoro_appointment_*).  A first delivery is found by
        reading on from the oldest message still waiting for one: acknowledge
        or fail every delivery fetched, or each fetch reads all that was
        written after the one left waiting.
        """
        return self._cursor("tesoro_outbox_fetch", agency, limit)

    def outbox_ack(self, id: int) -> None:
        """C: tesoro_outbox_ack.

        From tesoro.h, tesoro_outbox_ack:

        Operator call: row delivered.  ENOTFOUND; ESTATE if already
        delivered/dead.
        """
        self._call("tesoro_outbox_ack", id)

    def outbox_fail(self, id: int, error: Optional[Text] = None) -> None:
        """C: tesoro_outbox_fail.

        From tesoro.h, tesoro_outbox_fail:

        Operator call: delivery failed.  The row is retried after the backoff
        (TESORO_CONFIG_OUTBOX_BACKOFF_S * 2^(attempts-1)), and becomes "dead"
        after TESORO_CONFIG_OUTBOX_MAX_ATTEMPTS failures.  `error` may be NULL.
        """
        self._call("tesoro_outbox_fail", id, error)

    def outbox_counts(self) -> OutboxCounts:
        """OutboxCounts(pending, delivered, dead) of the whole file, read
        from stats(0) (tesoro_outbox_counts was merged into tesoro_stats;
        this name stays)."""
        counts = {"pending": 0, "delivered": 0, "dead": 0}
        with self.stats(0) as rows:
            for row in rows:
                if row["what"] == "outbox" and row["state"] in counts:
                    counts[row["state"]] = row["count"]
        return OutboxCounts(counts["pending"], counts["delivered"],
                            counts["dead"])

    # -- notification preferences -------------------------------------------

    def notification_set(self, actor: int, recipient: int, channel: int,
                         on: int) -> None:
        """Turn `channel` (one CHANNEL_*: push, email or calendar) off (0) or
        on (1) for `recipient`.

        From tesoro.h, tesoro_notification_set:

        Turn `channel` (one TESORO_CHANNEL_*: push, email or calendar) off (0)
        or on (1) for `recipient` (an actor id): the recipient themselves, or
        an admin for staff of their agency.  Returns TESORO_OK; EINVAL (crm,
        website, several bits, on not 0 or 1); EDENIED; ENOTFOUND.
        """
        self._call("tesoro_notification_set", actor, recipient, channel, on)

    def notification_channels(self, actor: int, recipient: int) -> int:
        """The CHANNEL_* bits `recipient` receives on, the agency's
        switches applied.

        From tesoro.h, tesoro_notification_channels:

        The channels (TESORO_CHANNEL_* bits) `recipient` receives on, the
        agency's switches applied; the same callers as tesoro_notification_set.
        """
        channels = ctypes.c_int()
        self._call("tesoro_notification_channels", actor, recipient,
                   _ref(channels))
        return channels.value

    def agency_set_push(self, actor: int, enabled: int) -> None:
        """Push notifications of the agency: 1 enabled, 0 disabled.

        From tesoro.h, tesoro_agency_set_push:

        The agency's switches (admin): push notifications enabled, calendar
        integration active (1 on, 0 off).
        """
        self._call("tesoro_agency_set_push", actor, enabled)

    def agency_set_calendar(self, actor: int, active: int) -> None:
        """The agency's calendar integration: 1 active, 0 inactive.

        From tesoro.h, tesoro_agency_set_calendar:

        The agency's switches (admin): push notifications enabled, calendar
        integration active (1 on, 0 off).
        """
        self._call("tesoro_agency_set_calendar", actor, active)

    def stats(self, agency: int = 0) -> Cursor:
        """C: tesoro_stats.

        From tesoro.h, tesoro_stats:

        Operator call: how many entities each machine holds in each state, and
        the outbox rows by status, for one agency (0: the whole file).
        Columns: what ("appointment", "outbox", ...), state, count; ordered by
        what, state. Returns TESORO_OK, TESORO_EINVAL (agency < 0, out NULL).
        """
        return self._cursor("tesoro_stats", agency)

    def tick(self, now: int) -> int:
        """Fire the timers due at `now`; returns how many fired.

        From tesoro.h, tesoro_tick:

        Operator call: fire every timer due at or before `now`, in (due time,
        id) order, at most TESORO_CONFIG_TICK_BATCH per call, all in one
        transaction (one commit) with each timer in a savepoint of its own;
        *out_fired (may be NULL) is how many fired and were committed.  A timer
        that is refused (a rule's error) is undone alone: the timers before it
        are committed, it and the ones after it stay due, and its error is
        returned.  A database failure undoes the whole call (*out_fired 0).
        Idempotent: a timer fires once, and running tick again for the same
        `now` fires nothing more.  A timer whose entity has moved on is
        discarded without effect.
        """
        fired = ctypes.c_int()
        self._call("tesoro_tick", now, _ref(fired))
        return fired.value

    def checkpoint(self) -> Tuple[int, int]:
        """Copy the WAL into the database file (PASSIVE); returns
        (wal_pages, copied_pages).

        From tesoro.h, tesoro_checkpoint:

        Operator call: copy the write-ahead log into the database file (a
        PASSIVE checkpoint: it never waits for other connections, and copies as
        much as their open reads allow).  Run it off the request path — from
        the tick loop, or from a background thread with a handle of its own (a
        handle is used by one thread at a time) — and raise
        TESORO_CONFIG_CHECKPOINT_PAGES on the request handles: then no call
        pays for a checkpoint inside its commit.  *out_wal_pages (may be NULL)
        is the WAL's size in pages, *out_copied (may be NULL) how many of them
        are now in the database file; both are 0 for a database without a WAL
        (":memory:").  Returns TESORO_OK; TESORO_EMISUSE inside a host
        transaction; TESORO_EBUSY; TESORO_EDB.
        """
        wal, copied = ctypes.c_int(), ctypes.c_int()
        self._call("tesoro_checkpoint", _ref(wal), _ref(copied))
        return wal.value, copied.value

    # -- documents ----------------------------------------------------------

    def document_add(self, actor: int, entity: Entity, entity_id: int,
                     kind: int, name: Text, mime: Text,
                     data: Union[bytes, bytearray, memoryview]) -> int:
        """Attach `data` (bytes) to an entity; returns the document id.

        From tesoro.h, tesoro_document_add:

        Attach a document to an entity.  `mime` must name the type the content
        really is ("application/pdf", "image/jpeg", "image/png", "image/webp")
        and be one the kind accepts (see TESORO_DOC_*); size 1..the configured
        limit.  Who may: room documents — staff and the room's client while the
        room is open or in progress; mandate documents — the client while the
        form is shared, staff until validation; listing documents — staff.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("document contents must be bytes, not %s"
                            % type(data).__name__)
        data = bytes(data)
        return self._id("tesoro_document_add", actor, entity_kind(entity),
                        entity_id, kind, name, mime, data, len(data))

    def document_read(self, actor: int, document: int) -> bytes:
        """The document's bytes.

        From tesoro.h, tesoro_document_read:

        The document's bytes: *out_data (freed with tesoro_free) and *out_size.
        Same audience as the entity it is attached to.
        """
        out, size = ctypes.c_void_p(), _i64()
        self._call("tesoro_document_read", actor, document, _ref(out),
                   _ref(size))
        return _take_bytes(out, size.value)

    def documents(self, actor: int, entity: Entity, entity_id: int) -> Cursor:
        """C: tesoro_documents.

        From tesoro.h, tesoro_documents:

        Documents of an entity.  Columns: id, kind (TESORO_DOC_*), kind_name
        ("signed_mandate"), name, mime, size, sha256 (hex), uploaded_by,
        created_at.  Of a listing, a client lists (and reads) only the photos:
        the seller of their own listing, and a buyer of a listing
        tesoro_portal_property lets them see.
        """
        return self._cursor("tesoro_documents", actor, entity_kind(entity),
                            entity_id)

    # -- seller onboarding --------------------------------------------------

    def contact_request_submit(self, actor: int, name: Text, email: Text,
                               property_type: int, location: Text,
                               budget: int = 0,
                               timeline: Optional[Text] = None,
                               description: Optional[Text] = None
                               ) -> ContactRequest:
        """The owner's contact form (website actor): ContactRequest(room,
        client).

        From tesoro.h, tesoro_contact_request_submit:

        The owner's contact form, submitted by the agency's website actor.  The
        contact is matched by e-mail within the agency (case-insensitively) or
        created; a room (state "open") is created, the agency's admins and the
        contact's agent notified.  `property_type` TESORO_PROPERTY_*;
        `location` required; `budget` 0 = not given, else 1..TESORO_MAX_MONEY
        (minor units); `timeline` and `description` may be NULL.  *out_room,
        and *out_client (may be NULL): the owner's client actor when this form
        created the contact, for the host to act as the new owner in the room;
        0 when the e-mail matched a contact the agency already has — the
        website never obtains the client actor of a person it did not just
        introduce (staff get it with tesoro_contact_client_actor).
        """
        room, client = _i64(), _i64()
        self._call("tesoro_contact_request_submit", actor, name, email,
                   property_type, location, budget, timeline, description,
                   _ref(room), _ref(client))
        return ContactRequest(room.value, client.value)

    def room_message_post(self, actor: int, room: int, body: Text) -> int:
        """C: tesoro_room_message_post.

        From tesoro.h, tesoro_room_message_post:

        Room chat: a message from staff or the room's client, while the room is
        open or in progress (terminal rooms are read-only: ESTATE).
        """
        return self._id("tesoro_room_message_post", actor, room, body)

    def room_note_add(self, actor: int, room: int, body: Text) -> int:
        """C: tesoro_room_note_add.

        From tesoro.h, tesoro_room_note_add:

        A private note (staff only; never visible to a client).
        """
        return self._id("tesoro_room_note_add", actor, room, body)

    def room_messages(self, actor: int, room: int) -> Cursor:
        """C: tesoro_room_messages.

        From tesoro.h, tesoro_room_messages:

        The room's conversation, oldest first.  Columns: id, kind ("message" or
        "note"), author_id, author_kind, body, created_at.  Staff see notes;
        the client never does.
        """
        return self._cursor("tesoro_room_messages", actor, room)

    def room_start_onboarding(self, actor: int, room: int, with_listing: int,
                              expected_version: int = 0) -> int:
        """Returns the new draft mandate.  `with_listing` is passed as C
        takes it: 0 or 1 (anything else is InvalidArgument).

        From tesoro.h, tesoro_room_start_onboarding:

        Room machine (staff):
          start_onboarding  open → in_progress: the contact gains the role "owner",
                            a draft mandate is created (*out_mandate) and, when
                            `with_listing` is non-zero, a listing placeholder.
          mark_lost         open, in_progress → lost    (reason required)
          close             open, in_progress → closed  (reason required)
          A lost or closed room cancels its mandate if one is still open.
          The room becomes "successful" when its mandate is validated.
        """
        return self._id("tesoro_room_start_onboarding", actor, room,
                        with_listing, expected_version)

    def room_mark_lost(self, actor: int, room: int, reason: Text,
                       expected_version: int = 0) -> None:
        """C: tesoro_room_mark_lost.

        From tesoro.h, tesoro_room_mark_lost:

        Room machine (staff):
          start_onboarding  open → in_progress: the contact gains the role "owner",
                            a draft mandate is created (*out_mandate) and, when
                            `with_listing` is non-zero, a listing placeholder.
          mark_lost         open, in_progress → lost    (reason required)
          close             open, in_progress → closed  (reason required)
          A lost or closed room cancels its mandate if one is still open.
          The room becomes "successful" when its mandate is validated.
        """
        self._call("tesoro_room_mark_lost", actor, room, reason,
                   expected_version)

    def room_close(self, actor: int, room: int, reason: Text,
                   expected_version: int = 0) -> None:
        """C: tesoro_room_close.

        From tesoro.h, tesoro_room_close:

        Room machine (staff):
          start_onboarding  open → in_progress: the contact gains the role "owner",
                            a draft mandate is created (*out_mandate) and, when
                            `with_listing` is non-zero, a listing placeholder.
          mark_lost         open, in_progress → lost    (reason required)
          close             open, in_progress → closed  (reason required)
          A lost or closed room cancels its mandate if one is still open.
          The room becomes "successful" when its mandate is validated.
        """
        self._call("tesoro_room_close", actor, room, reason, expected_version)

    def mandate_propose(self, actor: int, mandate: int, commission_type: int,
                        value: int, currency: Optional[Text], exclusive: int,
                        duration_days: int, expected_version: int = 0) -> int:
        """Returns the new proposal.  Every term is given, as in C: no
        duration or exclusivity is assumed (`currency` None: NULL).

        From tesoro.h, tesoro_mandate_propose:

        Mandate machine.
          propose        draft, negotiating → negotiating (staff, the client).
                         Terms: commission type and value (TESORO_COMMISSION_*),
                         `currency` (ISO 4217; required for fixed, NULL for a
                         percentage), exclusivity (0/1), duration in days (1..3650).
                         Supersedes the open proposal; the proposer counts as
                         accepting it; the other party is notified.  *out_proposal.
          accept         negotiating → terms_agreed, by the party that did not
                         author the open proposal, naming that proposal (a
                         superseded one: EGUARD; one of another mandate or none:
                         ENOTFOUND).  Terms are frozen on the mandate.
                         *out_json (may be NULL; tesoro_free) is the agreed terms
                         with the legal disclaimer that only the signed contract is
                         binding — the same payload the other party is notified with.
          share_form     terms_agreed → form_shared (staff); client notified.
          submit_form    form_shared → form_submitted (client).  `form_json` is an
                         object with personal info "full_name", "email", "phone"
                         and property details "address", "property_type" (house,
                         apartment, office, land) — all required — and optional
                         "title", "price", "bedrooms", "bathrooms", "floor_area",
                         "energy_label", "description".  A signed mandate document
                         (TESORO_DOC_SIGNED_MANDATE) must be attached first.
                         Creates the staff task "review seller form".
          request_changes form_submitted → form_shared (staff, reason required);
                         client notified.
          validate       form_submitted → validated (staff): the signed mandate is
                         present and the review task is done; a listing draft is
                         filled from the form (*out_listing), with copies of the
                         photos, property documents and energy certificate sent
                         with the form (the mandate keeps its own); the room becomes
                         successful; task "complete and publish listing".
          cancel         any state but validated/cancelled → cancelled (staff,
                         reason required).
        """
        return self._id("tesoro_mandate_propose", actor, mandate,
                        commission_type, value, currency, exclusive,
                        duration_days, expected_version)

    def mandate_accept(self, actor: int, mandate: int, proposal: int,
                       expected_version: int = 0) -> Optional[str]:
        """Returns the agreed terms, as JSON text.

        tesoro.h describes tesoro_mandate_accept with tesoro_mandate_propose:
        see Tesoro.mandate_propose.
        """
        return self._textout("tesoro_mandate_accept", actor, mandate,
                             proposal, expected_version)

    def mandate_share_form(self, actor: int, mandate: int,
                           expected_version: int = 0) -> None:
        """C: tesoro_mandate_share_form.

        tesoro.h describes tesoro_mandate_share_form with
        tesoro_mandate_propose: see Tesoro.mandate_propose.
        """
        self._call("tesoro_mandate_share_form", actor, mandate,
                   expected_version)

    def mandate_submit_form(self, actor: int, mandate: int, form: JSON,
                            expected_version: int = 0) -> None:
        """`form`: JSON text or a dict.

        tesoro.h describes tesoro_mandate_submit_form with
        tesoro_mandate_propose: see Tesoro.mandate_propose.
        """
        self._call("tesoro_mandate_submit_form", actor, mandate,
                   _json_arg(form), expected_version)

    def mandate_request_changes(self, actor: int, mandate: int, reason: Text,
                                expected_version: int = 0) -> None:
        """C: tesoro_mandate_request_changes.

        tesoro.h describes tesoro_mandate_request_changes with
        tesoro_mandate_propose: see Tesoro.mandate_propose.
        """
        self._call("tesoro_mandate_request_changes", actor, mandate, reason,
                   expected_version)

    def mandate_validate(self, actor: int, mandate: int,
                         expected_version: int = 0) -> int:
        """Returns the listing filled from the form.

        tesoro.h describes tesoro_mandate_validate with tesoro_mandate_propose:
        see Tesoro.mandate_propose.
        """
        return self._id("tesoro_mandate_validate", actor, mandate,
                        expected_version)

    def mandate_cancel(self, actor: int, mandate: int, reason: Text,
                       expected_version: int = 0) -> None:
        """C: tesoro_mandate_cancel.

        tesoro.h describes tesoro_mandate_cancel with tesoro_mandate_propose:
        see Tesoro.mandate_propose.
        """
        self._call("tesoro_mandate_cancel", actor, mandate, reason,
                   expected_version)

    def mandate_proposals(self, actor: int, mandate: int) -> Cursor:
        """C: tesoro_mandate_proposals.

        From tesoro.h, tesoro_mandate_proposals:

        The negotiation history, oldest first.  Columns: id, author_id,
        author_party ("agent"/"client"), commission_type, value, currency,
        exclusive, duration_days, created_at, superseded_at,
        accepted_by_agent_at, accepted_by_client_at (NULL when not accepted by
        that party).
        """
        return self._cursor("tesoro_mandate_proposals", actor, mandate)

    def listing_update(self, actor: int, listing: int, fields: JSON,
                       expected_version: int = 0) -> None:
        """`fields`: JSON text or a dict.

        From tesoro.h, tesoro_listing_update:

        Listings.  A listing has a per-agency reference number ("TES-00001",
        unique and stable).  Listing machine (staff):
          fill       placeholder → draft          (by mandate validation)
          publish    draft, unpublished → published: the mandate is validated and
                     not expired (validated time + agreed duration), and the listing
                     has a title, an address and a price (EGUARD otherwise);
                     completes the "complete and publish listing" task.
          unpublish  published → unpublished
          expire     published → unpublished (system, fired by tesoro_tick when the
                     mandate expires — an agency may not advertise without a valid
                     mandate).  At expiry tick also opens the staff task "renew
                     mandate", whether or not the listing was published.
        tesoro_listing_update sets fields from a JSON object with any of
        "title", "address", "price", "property_type", "bedrooms", "bathrooms",
        "floor_area", "energy_label", "description", "longitude" (-180..180),
        "latitude" (-90..90) (unknown keys: EINVAL).  An energy label is one of
        the Dutch/EU classes A++++, A+++, A++, A+, A, B, C, D, E, F, G (EINVAL
        otherwise; the seller's form checks it the same way). A listing is "on
        offer" while it is published and its mandate is valid at the call's
        time: offering it to a deal, requesting a viewing of it and every
        client read of the feed (tesoro_portal_properties, tesoro_portal_home's
        new count, tesoro_portal_property) ask this themselves, so an expired
        mandate withdraws the listing even before tesoro_tick records its
        unpublishing.
        """
        self._call("tesoro_listing_update", actor, listing, _json_arg(fields),
                   expected_version)

    def listing_publish(self, actor: int, listing: int,
                        expected_version: int = 0) -> None:
        """C: tesoro_listing_publish.

        tesoro.h describes tesoro_listing_publish with tesoro_listing_update:
        see Tesoro.listing_update.
        """
        self._call("tesoro_listing_publish", actor, listing, expected_version)

    def listing_unpublish(self, actor: int, listing: int,
                          expected_version: int = 0) -> None:
        """C: tesoro_listing_unpublish.

        tesoro.h describes tesoro_listing_unpublish with tesoro_listing_update:
        see Tesoro.listing_update.
        """
        self._call("tesoro_listing_unpublish", actor, listing,
                   expected_version)

    # -- deals and viewing appointments -------------------------------------

    def agency_set_viewing_duration(self, actor: int, duration_s: int) -> None:
        """The agency's default viewing duration, in seconds
        (MIN_VIEWING_S..MAX_VIEWING_S); later requests take it.

        From tesoro.h, tesoro_agency_set_viewing_duration:

        The agency's default viewing duration (admin), in seconds,
        TESORO_MIN_VIEWING_S..TESORO_MAX_VIEWING_S; later requests take it.
        """
        self._call("tesoro_agency_set_viewing_duration", actor, duration_s)

    def deal_create(self, actor: int, contact: int, name: Text) -> int:
        """C: tesoro_deal_create.

        From tesoro.h, tesoro_deal_create:

        Open a deal for a client contact (staff).  `name` describes the search
        ("3-bedroom house in Utrecht").  The deal's agent is the contact's
        assigned agent, else the caller.  Deal machine: offer (active → active,
        staff) and close (active → closed, staff, reason required).
        """
        return self._id("tesoro_deal_create", actor, contact, name)

    def deal_close(self, actor: int, deal: int, reason: Text,
                   expected_version: int = 0) -> None:
        """C: tesoro_deal_close.

        From tesoro.h, tesoro_deal_close:

        Open a deal for a client contact (staff).  `name` describes the search
        ("3-bedroom house in Utrecht").  The deal's agent is the contact's
        assigned agent, else the caller.  Deal machine: offer (active → active,
        staff) and close (active → closed, staff, reason required).
        """
        self._call("tesoro_deal_close", actor, deal, reason, expected_version)

    def deal_offer(self, actor: int, deal: int, listing: int) -> int:
        """Returns the deal property (the offer).

        From tesoro.h, tesoro_deal_offer:

        Offer a listing to a deal (staff): the listing must be published
        (EGUARD) and of the same agency (EDENIED); a listing is offered to a
        deal once (EEXISTS).  *out_deal_property: the offer, status
        "to_review".
        """
        return self._id("tesoro_deal_offer", actor, deal, listing)

    def deal_properties(self, actor: int, deal: int) -> Cursor:
        """C: tesoro_deal_properties.

        From tesoro.h, tesoro_deal_properties:

        The deal's properties, newest first (staff or the deal's client).
        Columns: id, listing_id, state, favourite, title, address, price, ref,
        photo_id (the listing's first photo document, or NULL), created_at,
        version.
        """
        return self._cursor("tesoro_deal_properties", actor, deal)

    def deal_property_interested(self, actor: int, deal_property: int,
                                 expected_version: int = 0) -> None:
        """C: tesoro_deal_property_interested.

        From tesoro.h, tesoro_deal_property_interested:

        The client's verdicts on a deal property (the portal's property feed,
        as the client sees it), each by the deal's client only:
          interested      to_review, rejected → interesting
          not_interested  to_review, interesting → rejected: `reasons` is one or
                          more TESORO_REJECT_* (or-ed), `note` free text (NULL:
                          none); both are kept on the deal property
          approve         interesting, viewed → approved
          favourite       any status; `on` 0 or 1
        (viewed is set by the viewing's completion and taken back by its
        no-show, see above.)  Each is an
        activity on the contact's timeline.
        """
        self._call("tesoro_deal_property_interested", actor, deal_property,
                   expected_version)

    def deal_property_not_interested(self, actor: int, deal_property: int,
                                     reasons: int, note: Optional[Text] = None,
                                     expected_version: int = 0) -> None:
        """C: tesoro_deal_property_not_interested.

        From tesoro.h, tesoro_deal_property_not_interested:

        The client's verdicts on a deal property (the portal's property feed,
        as the client sees it), each by the deal's client only:
          interested      to_review, rejected → interesting
          not_interested  to_review, interesting → rejected: `reasons` is one or
                          more TESORO_REJECT_* (or-ed), `note` free text (NULL:
                          none); both are kept on the deal property
          approve         interesting, viewed → approved
          favourite       any status; `on` 0 or 1
        (viewed is set by the viewing's completion and taken back by its
        no-show, see above.)  Each is an
        activity on the contact's timeline.
        """
        self._call("tesoro_deal_property_not_interested", actor,
                   deal_property, reasons, note, expected_version)

    def deal_property_approve(self, actor: int, deal_property: int,
                              expected_version: int = 0) -> None:
        """C: tesoro_deal_property_approve.

        From tesoro.h, tesoro_deal_property_approve:

        The client's verdicts on a deal property (the portal's property feed,
        as the client sees it), each by the deal's client only:
          interested      to_review, rejected → interesting
          not_interested  to_review, interesting → rejected: `reasons` is one or
                          more TESORO_REJECT_* (or-ed), `note` free text (NULL:
                          none); both are kept on the deal property
          approve         interesting, viewed → approved
          favourite       any status; `on` 0 or 1
        (viewed is set by the viewing's completion and taken back by its
        no-show, see above.)  Each is an
        activity on the contact's timeline.
        """
        self._call("tesoro_deal_property_approve", actor, deal_property,
                   expected_version)

    def deal_property_favourite(self, actor: int, deal_property: int, on: int,
                                expected_version: int = 0) -> None:
        """C: tesoro_deal_property_favourite.

        From tesoro.h, tesoro_deal_property_favourite:

        The client's verdicts on a deal property (the portal's property feed,
        as the client sees it), each by the deal's client only:
          interested      to_review, rejected → interesting
          not_interested  to_review, interesting → rejected: `reasons` is one or
                          more TESORO_REJECT_* (or-ed), `note` free text (NULL:
                          none); both are kept on the deal property
          approve         interesting, viewed → approved
          favourite       any status; `on` 0 or 1
        (viewed is set by the viewing's completion and taken back by its
        no-show, see above.)  Each is an
        activity on the contact's timeline.
        """
        self._call("tesoro_deal_property_favourite", actor, deal_property,
                   on, expected_version)

    def appointment_request(self, actor: int, deal_property: int,
                            preferred: Sequence[int]) -> int:
        """`preferred`: a sequence of 1..3 UTC instants.  Returns the
        appointment.

        From tesoro.h, tesoro_appointment_request:

        Request a viewing (the client): `preferred` holds `count` (1..3) UTC
        instants, each in the future and all different.  *out_appointment.
        """
        values = [_int(v, "preferred", _I64_MIN, _I64_MAX)
                  for v in preferred]
        array = (ctypes.c_int64 * len(values))(*values) if values else None
        return self._id("tesoro_appointment_request", actor, deal_property,
                        array, _int(len(values), "count", 0, _INT_MAX))

    def appointment_confirm(self, actor: int, appointment: int, start_at: int,
                            duration_s: int,
                            expected_version: int = 0) -> None:
        """`duration_s`: 0 keeps the viewing's duration, else
        MIN_VIEWING_S..MAX_VIEWING_S seconds.

        From tesoro.h, tesoro_appointment_confirm:

        `duration_s`: 0 keeps the viewing's duration, else
        TESORO_MIN_VIEWING_S..TESORO_MAX_VIEWING_S seconds (EINVAL).
        """
        self._call("tesoro_appointment_confirm", actor, appointment, start_at,
                   duration_s, expected_version)

    def appointment_reschedule(self, actor: int, appointment: int,
                               start_at: int, duration_s: int,
                               expected_version: int = 0) -> None:
        """`duration_s`: 0 keeps the viewing's duration, else
        MIN_VIEWING_S..MAX_VIEWING_S seconds.

        From tesoro.h, tesoro_appointment_reschedule:

        `duration_s`: 0 keeps the viewing's duration, else
        TESORO_MIN_VIEWING_S..TESORO_MAX_VIEWING_S seconds (EINVAL).
        """
        self._call("tesoro_appointment_reschedule", actor, appointment,
                   start_at, duration_s, expected_version)

    def appointment_reject(self, actor: int, appointment: int, reason: Text,
                           expected_version: int = 0) -> None:
        """Reject a viewing request (staff, `reason` required): pending →
        rejected; the client is notified as on confirm.

        C: tesoro_appointment_reject (tesoro.h: the appointment machine).
        """
        self._call("tesoro_appointment_reject", actor, appointment, reason,
                   expected_version)

    def appointment_cancel(self, actor: int, appointment: int,
                           reason: Optional[Text] = None,
                           expected_version: int = 0) -> None:
        """C: tesoro_appointment_cancel.

        From tesoro.h, tesoro_appointment_cancel:

        `reason` may be NULL for the client; staff must give one (EINVAL).
        """
        self._call("tesoro_appointment_cancel", actor, appointment, reason,
                   expected_version)

    def appointment_start_viewing(self, actor: int, appointment: int,
                                  expected_version: int = 0) -> None:
        """The client starts the viewing, only on the agency-local calendar
        day of its start time (GuardError otherwise): confirmed → completed.

        C: tesoro_appointment_start_viewing (tesoro.h: the appointment
        machine).
        """
        self._call("tesoro_appointment_start_viewing", actor, appointment,
                   expected_version)

    def appointment_record_no_show(self, actor: int, appointment: int,
                                   note: Optional[Text] = None,
                                   expected_version: int = 0) -> None:
        """C: tesoro_appointment_record_no_show.

        From tesoro.h, tesoro_appointment_record_no_show:

        `note` may be NULL.
        """
        self._call("tesoro_appointment_record_no_show", actor, appointment,
                   note, expected_version)

    def appointment_note_add(self, actor: int, appointment: int,
                             body: Text) -> int:
        """C: tesoro_appointment_note_add.

        From tesoro.h, tesoro_appointment_note_add:

        After completion, the client only: a note (*out_note), and one rating
        of 1..5 stars that a later call replaces.  Photos (TESORO_DOC_PHOTO)
        and voice notes (TESORO_DOC_VOICE_NOTE) go through tesoro_document_add
        with TESORO_ENTITY_APPOINTMENT.
        """
        return self._id("tesoro_appointment_note_add", actor, appointment,
                        body)

    def appointment_rate(self, actor: int, appointment: int, stars: int,
                         expected_version: int = 0) -> None:
        """C: tesoro_appointment_rate.

        From tesoro.h, tesoro_appointment_rate:

        After completion, the client only: a note (*out_note), and one rating
        of 1..5 stars that a later call replaces.  Photos (TESORO_DOC_PHOTO)
        and voice notes (TESORO_DOC_VOICE_NOTE) go through tesoro_document_add
        with TESORO_ENTITY_APPOINTMENT.
        """
        self._call("tesoro_appointment_rate", actor, appointment, stars,
                   expected_version)

    def appointment_notes(self, actor: int, appointment: int) -> Cursor:
        """C: tesoro_appointment_notes.

        From tesoro.h, tesoro_appointment_notes:

        The appointment's notes, oldest first (staff or its client).  Columns:
        id, author_id, body, created_at.
        """
        return self._cursor("tesoro_appointment_notes", actor, appointment)

    def client_appointments(self, actor: int, list: int) -> Cursor:
        """C: tesoro_client_appointments.

        From tesoro.h, tesoro_client_appointments:

        One of the client's lists (TESORO_LIST_*), for the client actor
        `actor`, judged at the handle's "now".  Columns: id, state,
        status_colour, deal_id, deal_property_id, listing_id, title, photo_id
        (NULL when the listing has no photo), preferred (JSON array of
        instants, as requested), start_at (NULL until confirmed), price,
        currency, ref, address, rating (NULL until rated), version.
        """
        return self._cursor("tesoro_client_appointments", actor, list)

    def agent_appointments(self, actor: int, agent: int = 0, state: int = 0,
                           from_: int = 0, to: int = 0) -> Cursor:
        """C: tesoro_agent_appointments.

        From tesoro.h, tesoro_agent_appointments:

        An agent's appointments (staff of the agent's agency): `agent` 0 means
        the caller; `state` 0 means any, else TESORO_APPOINTMENT_*; the time of
        an appointment is its start time, or its earliest preferred date while
        it has none, and must fall in [from, to) — 0 leaves a bound open.
        Ordered by that time.  Columns: id, state, status_colour, at, start_at,
        preferred, contact_id, contact_name, deal_id, listing_id, title,
        address, ref, no_show (0/1), rating, version.
        """
        return self._cursor("tesoro_agent_appointments", actor, agent, state,
                            from_, to)

    def appointment_ics(self, actor: int, appointment: int,
                        link: Optional[Text] = None) -> str:
        """The appointment as iCalendar text (CRLF line endings).

        From tesoro.h, tesoro_appointment_ics:

        The appointment as an iCalendar file (RFC 5545), for the client or
        staff: one VEVENT with a stable UID, DTSTAMP (now), DTSTART (the start
        time, or the earliest preferred date while unconfirmed) and DTEND the
        viewing's duration later, in UTC, SUMMARY "<title> Property Viewing",
        LOCATION the address, DESCRIPTION title, price, reference, address and
        `link` (NULL: none), STATUS CONFIRMED (confirmed, completed), TENTATIVE
        (pending) or CANCELLED (cancelled, rejected), SEQUENCE (version - 1)
        and a VALARM 30 minutes before.  CRLF line endings, lines folded at 75
        octets (never inside a UTF-8 character), TEXT values escaped and free
        of control characters (each is dropped).  The UID is
        "appointment-<id>-<the agency's random key>@tesoro", unique across
        agencies and files. *out: tesoro_free.
        """
        return self._textout("tesoro_appointment_ics", actor, appointment,
                             link)

    def calendar_feed(self, actor: int, subject: int) -> str:
        """Every viewing of `subject` (an agent or a client) as one
        iCalendar text (CRLF line endings), to subscribe to.

        From tesoro.h, tesoro_calendar_feed:

        A calendar feed to subscribe to once (Google, Apple, Outlook): one
        VCALENDAR with a VEVENT, as tesoro_appointment_ics writes it (no link,
        no alarm), for every viewing of `subject` — an agent, as the viewings'
        owner, or a client — confirmed, completed, pending (TENTATIVE) and
        cancelled or rejected (STATUS:CANCELLED), SEQUENCE rising with each
        change.  The caller is the subject or an admin of their agency.
        *out_ics: tesoro_free.  Returns TESORO_OK; EDENIED; ENOTFOUND; EINVAL
        (the subject is the website or the system).
        """
        return self._textout("tesoro_calendar_feed", actor, subject)

    # -- referrals ----------------------------------------------------------

    def agency_set_referral_fee(self, actor: int, basis_points: int) -> None:
        """C: tesoro_agency_set_referral_fee.

        From tesoro.h, tesoro_agency_set_referral_fee:

        The agency's referral agreement (admin): the fee, in basis points of
        the sale price (0..10000; 250 = 2.50 %).  New referrals take the fee
        agreed at their creation.  Default 0.
        """
        self._call("tesoro_agency_set_referral_fee", actor, basis_points)

    def referral_create(self, actor: int, contact: int, agent: int = 0) -> int:
        """C: tesoro_referral_create.

        From tesoro.h, tesoro_referral_create:

        Register a referral (staff) for a contact of the agency, with `agent`
        (a staff member of the agency; 0 = the caller), at left_voicemail.
        """
        return self._id("tesoro_referral_create", actor, contact, agent)

    def referral_move(self, actor: int, referral: int, stage: int,
                      data: Optional[JSON] = None,
                      expected_version: int = 0) -> None:
        """`data`: the stage data, JSON text or a dict (None: none).

        From tesoro.h, tesoro_referral_move:

        Move a referral to `stage` (TESORO_STAGE_*), see above.
        """
        self._call("tesoro_referral_move", actor, referral, stage,
                   _json_arg(data), expected_version)

    def referral_note_add(self, actor: int, referral: int, body: Text) -> int:
        """C: tesoro_referral_note_add.

        From tesoro.h, tesoro_referral_note_add:

        A note on the referral (staff), in any stage.  Notes, oldest first:
        columns id, author_id, body, created_at.
        """
        return self._id("tesoro_referral_note_add", actor, referral, body)

    def referral_notes(self, actor: int, referral: int) -> Cursor:
        """C: tesoro_referral_notes.

        From tesoro.h, tesoro_referral_notes:

        A note on the referral (staff), in any stage.  Notes, oldest first:
        columns id, author_id, body, created_at.
        """
        return self._cursor("tesoro_referral_notes", actor, referral)

    def referrals(self, actor: int, filter: int = REFERRALS_ALL,
                  stage: int = 0, agent: int = 0) -> Cursor:
        """C: tesoro_referrals.

        From tesoro.h, tesoro_referrals:

        The agency's referrals (staff), newest first: `filter`
        TESORO_REFERRALS_*, `stage` 0 or one TESORO_STAGE_*, `agent` 0 (all) or
        a staff member. Columns: id, contact_id, contact_name, agent_id, stage,
        last_active_stage, attempted_via, contacted_via, meeting_at, list_date,
        sale_price, close_date, fee_bp, fee_owed, paid_amount, created_at,
        version.
        """
        return self._cursor("tesoro_referrals", actor, filter, stage, agent)

    def referral_pipeline(self, actor: int, agent: int = 0) -> Cursor:
        """C: tesoro_referral_pipeline.

        From tesoro.h, tesoro_referral_pipeline:

        The pipeline view (staff): one row per stage, in stage order, with the
        number of referrals in it (`agent` 0: all).  Columns: stage (number),
        name, count.
        """
        return self._cursor("tesoro_referral_pipeline", actor, agent)

    # -- client portal ------------------------------------------------------

    def agency_set_portal(self, actor: int, active: int) -> None:
        """C: tesoro_agency_set_portal.

        From tesoro.h, tesoro_agency_set_portal:

        Switch the agency's portal on (1) or off (0) (admin only; default off).
        """
        self._call("tesoro_agency_set_portal", actor, active)

    def portal_account_create(self, actor: int, contact: int) -> PortalAccount:
        """PortalAccount(account, temp_password).

        From tesoro.h, tesoro_portal_account_create:

        Route 1, from the CRM (staff): a portal account for `contact`, whose
        e-mail becomes the login.  *out_temp_password (tesoro_free) is a random
        password of TESORO_PORTAL_TEMP_PASSWORD_LEN characters that meets the
        password policy; only its hash is kept.  The account is active at once,
        in set_password.  Queues the "Portal Invitation" e-mail to the client
        and logs "portal_account_created" on the contact. Returns TESORO_OK;
        EDENIED (portal off, another agency, not staff); EGUARD (the contact
        has no e-mail); EEXISTS (the contact has an account, or an account uses
        its e-mail).
        """
        account, temp = _i64(), ctypes.c_void_p()
        self._call("tesoro_portal_account_create", actor, contact,
                   _ref(account), _ref(temp))
        return PortalAccount(account.value, _take_text(temp))

    def portal_register(self, website: int, name: Text, email: Text,
                        password: Text) -> Registration:
        """Registration(account, code): the code for the host to e-mail.

        From tesoro.h, tesoro_portal_register:

        Route 2, self-registration through the portal (the website actor):
        name, e-mail and password (the policy below).  *out_code (tesoro_free)
        is the 6-digit verification code for the host to e-mail; it is valid
        for TESORO_PORTAL_CODE_TTL_S and TESORO_PORTAL_CODE_MAX_TRIES wrong
        tries. Registering again an e-mail whose account is still unverified
        replaces its name, password and code (the old code stops working):
        whoever proves the mailbox sets the password. Returns TESORO_OK; EINVAL
        (name, e-mail, password policy); EDENIED (portal off, not the website);
        EEXISTS (a verified account has it).
        """
        account, code = _i64(), ctypes.c_void_p()
        self._call("tesoro_portal_register", website, name, email, password,
                   _ref(account), _ref(code))
        return Registration(account.value, _take_text(code))

    def portal_verify(self, website: int, email: Text, code: Text) -> int:
        """Returns the client actor, now logged in.

        From tesoro.h, tesoro_portal_verify:

        Verify a self-registration (the website actor).  The account becomes
        active (step welcome) and is linked to the agency's contact with that
        e-mail (compared case-insensitively), else to a new lead contact made
        from the registration.  The code is single use.  *out_client: the
        contact's client actor, now logged in. Returns TESORO_OK; EINVAL (code
        not 6 digits); ENOTFOUND (no account with that e-mail); ESTATE (already
        verified); EGUARD (code expired, or TESORO_PORTAL_CODE_MAX_TRIES wrong
        codes used up: register again); EDENIED (wrong code: recorded; or
        portal off); EEXISTS (the matching contact already has another
        account).
        """
        return self._id("tesoro_portal_verify", website, email, code)

    def portal_login(self, website: int, email: Text, password: Text) -> Login:
        """Login(client, step).

        From tesoro.h, tesoro_portal_login:

        Log in (the website actor).  On success *out_client is the account's
        client actor and *out_step its TESORO_PORTAL_* step; TESORO_PORTAL_SET_
        PASSWORD means the host must show "set password" first.  A wrong
        password counts; TESORO_PORTAL_LOGIN_MAX_FAILS in a row lock the
        account for TESORO_PORTAL_LOCK_S, during which even the right password
        is refused. A success resets the count. Returns TESORO_OK; EDENIED
        ("e-mail or password is wrong" — the same for an unknown e-mail, which
        costs the same time; "locked until ..."; portal off); ESTATE (not
        verified yet).
        """
        client, step = _i64(), ctypes.c_int()
        self._call("tesoro_portal_login", website, email, password,
                   _ref(client), _ref(step))
        return Login(client.value, step.value)

    def portal_password_change(self, client: int, current: Text,
                               new_password: Text) -> None:
        """C: tesoro_portal_password_change.

        From tesoro.h, tesoro_portal_password_change:

        Change the password (the client).  `current` must be right (a wrong one
        counts as a failed login) and `new_password` must meet the policy — at
        least TESORO_MIN_PASSWORD characters with an upper-case letter, a
        lower-case letter, a digit and a special character (anything that is
        neither a letter nor a digit); no control characters — and differ from
        the current one.  Letters and digits are Unicode's (ICU). From
        set_password this moves the account on to welcome. Returns TESORO_OK;
        EINVAL (each policy rule has its own message); EDENIED (wrong current
        password, locked, portal off).
        """
        self._call("tesoro_portal_password_change", client, current,
                   new_password)

    def portal_step(self, client: int) -> int:
        """C: tesoro_portal_step.

        From tesoro.h, tesoro_portal_step:

        The account's current onboarding step (TESORO_PORTAL_*), its client.
        """
        step = ctypes.c_int()
        self._call("tesoro_portal_step", client, _ref(step))
        return step.value

    def portal_welcome_finish(self, client: int) -> None:
        """C: tesoro_portal_welcome_finish.

        From tesoro.h, tesoro_portal_welcome_finish:

        Onboarding (the client): welcome slides seen (welcome → tour); tour
        finished or skipped (tour → ready); tour restarted (ready → tour).
        """
        self._call("tesoro_portal_welcome_finish", client)

    def portal_tour_finish(self, client: int) -> None:
        """C: tesoro_portal_tour_finish.

        From tesoro.h, tesoro_portal_tour_finish:

        Onboarding (the client): welcome slides seen (welcome → tour); tour
        finished or skipped (tour → ready); tour restarted (ready → tour).
        """
        self._call("tesoro_portal_tour_finish", client)

    def portal_tour_skip(self, client: int) -> None:
        """C: tesoro_portal_tour_skip.

        From tesoro.h, tesoro_portal_tour_skip:

        Onboarding (the client): welcome slides seen (welcome → tour); tour
        finished or skipped (tour → ready); tour restarted (ready → tour).
        """
        self._call("tesoro_portal_tour_skip", client)

    def portal_tour_restart(self, client: int) -> None:
        """C: tesoro_portal_tour_restart.

        From tesoro.h, tesoro_portal_tour_restart:

        Onboarding (the client): welcome slides seen (welcome → tour); tour
        finished or skipped (tour → ready); tour restarted (ready → tour).
        """
        self._call("tesoro_portal_tour_restart", client)

    def portal_language(self, client: int) -> str:
        """C: tesoro_portal_language.

        From tesoro.h, tesoro_portal_language:

        The portal language: the one the user chose, else the contact's
        language when its primary subtag (before "-" or "_", any case: "nl-BE",
        "NL") is one of TESORO_PORTAL_LANGUAGES, else "en".  *out_language
        points at a static string.  Notifications to the client use the same
        language. tesoro_portal_set_language takes exactly one of the ten
        lower-case codes (EINVAL otherwise).
        """
        language = ctypes.c_char_p()
        self._call("tesoro_portal_language", client, _ref(language))
        return language.value.decode("utf-8")

    def portal_set_language(self, client: int, language: Text) -> None:
        """C: tesoro_portal_set_language.

        From tesoro.h, tesoro_portal_set_language:

        The portal language: the one the user chose, else the contact's
        language when its primary subtag (before "-" or "_", any case: "nl-BE",
        "NL") is one of TESORO_PORTAL_LANGUAGES, else "en".  *out_language
        points at a static string.  Notifications to the client use the same
        language. tesoro_portal_set_language takes exactly one of the ten
        lower-case codes (EINVAL otherwise).
        """
        self._call("tesoro_portal_set_language", client, language)

    def portal_home(self, client: int) -> PortalHome:
        """PortalHome(upcoming, unconfirmed, new_properties, ratings).

        From tesoro.h, tesoro_portal_home:

        Home overview (the client): upcoming appointments (confirmed, in the
        future), unconfirmed ones (pending), new properties (to_review, in the
        client's active deals) and ratings given.  Any out may be NULL.
        """
        outs = [_i64() for _ in range(4)]
        self._call("tesoro_portal_home", client, *[_ref(o) for o in outs])
        return PortalHome(*[o.value for o in outs])

    def portal_properties(self, client: int, view: int = FEED_ALL) -> Cursor:
        """C: tesoro_portal_properties.

        From tesoro.h, tesoro_portal_properties:

        The client's properties across their active deals.  Views:
          TESORO_FEED_NEW         to_review, newest first
          TESORO_FEED_ALL         grouped by status in the order to_review,
                                  interesting, rejected, viewed, approved;
                                  newest first within a status
          TESORO_FEED_FAVOURITES  favourites, newest first
        Columns: id, deal_id, listing_id, state, favourite, title, address,
        price, ref, photo_id, reject_reasons (JSON array or NULL), reject_note,
        created_at, version.
        """
        return self._cursor("tesoro_portal_properties", client, view)

    def portal_property(self, client: int, listing: int) -> str:
        """One listing as the client sees it (with its photos), as JSON
        text.

        From tesoro.h, tesoro_portal_property:

        One property as the client sees it (the client, a buyer): a listing in
        their feed — offered to an active deal of theirs while it is on offer
        (published, its mandate validated and not expired at the call's time) —
        or one they have a viewing for, whatever its state.  *out_json
        (tesoro_free) is an object with listing_id, ref, title, address, price,
        property_type, bedrooms, bathrooms, floor_area, description, latitude,
        longitude, energy_label, deal_property_id, deal_id, status (the feed
        status), favourite, reject_reasons, reject_note, in_feed (false when
        only a viewing lets them see it) and photos: [{id, name, mime, size}]
        in upload order.  Only photos: the mandate, the seller's form and staff
        documents never reach a buyer.  The client may list those photos
        (tesoro_documents on the listing shows a client only photos, the seller
        of their own listing too) and read them (tesoro_document_read); and
        tesoro_entity_json on such a listing gives the client this same object.
        Returns TESORO_OK; EDENIED ("not in the property feed of client ...":
        the feed does not hold it and there is no viewing of it; another
        agency; portal off; the seller's own listing, which tesoro_entity_json
        reads); ENOTFOUND (no such listing).
        """
        return self._textout("tesoro_portal_property", client, listing)

    def portal_contact_agent(self, client: int, deal_property: int,
                             message: Text) -> int:
        """C: tesoro_portal_contact_agent.

        From tesoro.h, tesoro_portal_contact_agent:

        Contact agent (the client): a message to the contact's assigned agent
        (else the admins), on the crm and email channels ("Contact Agent"),
        kept on the contact's timeline.  `deal_property` 0 or one of the
        client's offered properties the message is about.  *out_message may be
        NULL.
        """
        return self._id("tesoro_portal_contact_agent", client, deal_property,
                        message)

    def contact_portal_account(self, actor: int, contact: int) -> int:
        """C: tesoro_contact_portal_account.

        From tesoro.h, tesoro_contact_portal_account:

        Staff: the portal account of a contact (ENOTFOUND if none).  Read it
        with tesoro_entity_json: e-mail, state, language, last login, lock —
        never a hash.
        """
        return self._id("tesoro_contact_portal_account", actor, contact)

    def portal_session_open(self, website: int, email: Text,
                            password: Text) -> PortalSession:
        """Log in and open a session: PortalSession(token, client, step),
        the token for the host's cookie.

        From tesoro.h, tesoro_portal_session_open:

        Log in and open a session (the website actor): as tesoro_portal_login;
        *out_token (tesoro_free) is the session's token; *out_client and
        *out_step as there (either may be NULL).
        """
        token, client, step = ctypes.c_void_p(), _i64(), ctypes.c_int()
        self._call("tesoro_portal_session_open", website, email, password,
                   _ref(token), _ref(client), _ref(step))
        return PortalSession(_take_text(token), client.value, step.value)

    def portal_session_client(self, website: int, token: Text) -> int:
        """The client actor of a live session (Denied once it has
        ended).

        From tesoro.h, tesoro_portal_session_client:

        The client actor of a live session (the website actor).  EDENIED "the
        session has ended" for a token that is unknown, ended or expired,
        alike; EINVAL for a token that is not one tesoro could have made.
        """
        return self._id("tesoro_portal_session_client", website, token)

    def portal_session_end(self, website: int, token: Text) -> None:
        """Log out: the session ends (again is no error).

        From tesoro.h, tesoro_portal_session_end:

        Log out (the website actor): the session ends.  Ending a session that
        has already ended is TESORO_OK.
        """
        self._call("tesoro_portal_session_end", website, token)

    def portal_reset_request(self, website: int, email: Text) -> None:
        """Queue a "Portal Password Reset" e-mail with a reset secret when
        an active account has `email` (the same answer otherwise).

        From tesoro.h, tesoro_portal_reset_request:

        PASSWORD RESET.  tesoro_portal_reset_request (the website actor): when
        an active account has this e-mail, a single-use reset secret
        (TESORO_PORTAL_RESET_LEN characters) is made, stored only as an
        argon2id hash, and queued to the account's e-mail as the "Portal
        Password Reset" message, whose payload holds it as "secret" until the
        host acknowledges the delivery: tesoro_outbox_ack then removes it from
        the row (and, when no reader holds the log, from the WAL).  The secret
        works for TESORO_PORTAL_RESET_TTL_S and TESORO_PORTAL_RESET_MAX_TRIES
        wrong tries; a new request, a password change or an invitation resend
        revokes it. Unknown, unverified and deactivated e-mails get the same
        TESORO_OK and nothing is queued.

        tesoro_portal_reset (the website actor) sets a new password with the
        secret: the password meets the policy (EINVAL), the secret is used up,
        the lockout is cleared, every session of the account ends, and an
        account in set_password moves on to welcome.  *out_client (may be
        NULL): the account's client actor.  Every failure is EDENIED "the reset
        secret is wrong or has expired" (a wrong secret of a known account
        counts).
        """
        self._call("tesoro_portal_reset_request", website, email)

    def portal_reset(self, website: int, email: Text, secret: Text,
                     new_password: Text) -> int:
        """Set a new password with the reset secret; returns the account's
        client actor.

        tesoro.h describes tesoro_portal_reset with
        tesoro_portal_reset_request: see Tesoro.portal_reset_request.
        """
        return self._id("tesoro_portal_reset", website, email, secret,
                        new_password)

    def portal_invitation_resend(self, actor: int, contact: int) -> str:
        """A new temporary password for the contact's account, returned
        once; the "Portal Invitation" e-mail is queued again.

        From tesoro.h, tesoro_portal_invitation_resend:

        Resend the invitation (staff) of the contact's CRM-made or verified
        account: a new temporary password, returned once in *out_temp_password
        (tesoro_free) as by tesoro_portal_account_create; the account goes back
        to set_password (a deactivated one is active again); the earlier
        password, any reset secret and every session stop working; the "Portal
        Invitation" e-mail is queued again.  An invitation lost between the
        call and the e-mail is never a stranded account. Returns TESORO_OK;
        EDENIED (not staff, another agency, portal off); ENOTFOUND (no
        account); ESTATE (an unverified self-registration: the client registers
        again).
        """
        return self._textout("tesoro_portal_invitation_resend", actor,
                             contact)

    def portal_account_deactivate(self, actor: int, contact: int) -> None:
        """C: tesoro_portal_account_deactivate.

        From tesoro.h, tesoro_portal_account_deactivate:

        Deactivate the contact's account (staff): no login, no session, no
        reset until an invitation resend.  ESTATE if already deactivated.
        """
        self._call("tesoro_portal_account_deactivate", actor, contact)

    # -- website exchange ---------------------------------------------------

    def exchange_ingest(self, website: int, event: JSON) -> str:
        """One website event (JSON text or a dict); its result as JSON
        text.

        From tesoro.h, tesoro_exchange_ingest:

        Website exchange (the Homeflow People Exchange).

        WEB CUSTOMERS.  Everyone the website tells the CRM about is a web
        customer (TESORO_ENTITY_WEB_CUSTOMER), keyed by the website's own
        customer id.  Its machine is the prospect holding tank:
          (first event about it)   — → prospect
          approve (staff)          prospect → approved: linked to a contact
          discard (staff)          prospect → discarded, reason required
        A customer first seen through an event other than "customer" (events
        arrive in any order) is a prospect without details until its customer
        event arrives.  Events about an approved customer are also lines on its
        contact's activity timeline; events about a discarded one are recorded
        and applied but stay off every timeline and list.  A contact the CRM
        works with on the exchange (a search set in the CRM, interest, a group)
        gets a web customer too, approved and without a website id until the
        website names it (a "customer" event with "contact_id"; EEXISTS when
        that contact already is the customer of another website id).

        INGEST.  A website event is one JSON object:
          {"source_id": "...", "type": "...", "customer": "...", "at": T, ...}
        source_id (1..200 bytes) is unique per agency: a replay — the same
        source_id with the same content, whatever the order of its members and
        its whitespace — returns the earlier result and changes nothing; the
        same source_id with different content is EEXISTS.  "at" is the event
        time (UTC seconds), at most TESORO_CONFIG_EVENT_SKEW_S (5 minutes
        unless set) ahead of the handle's clock (EINVAL).  Per customer, state
        that an event sets (details, visit count, a search, a save, a rank, a
        group) keeps the newest event time; ties go to the greater source_id,
        so the outcome never depends on arrival order.  An older event arriving
        late is stored (its replay is still a replay) with status "superseded"
        and changes nothing else.  Counted things (views, enquiries, claims)
        are each kept.

        Types and their own fields (capability numbers of seed 003):
          customer        (1)  name, email, phone, contact_id (all optional)
          visit           (3)  visits: the website's cumulative count (>= 1)
          implied_search  (4)  search_id; criteria (below)   — a soft search
          saved_search    (5)  search_id; criteria; alert (true/false) — hard
          search_deleted  (5)  search_id
          property_view   (7)  listing: the listing's reference ("TES-00001")
          property_save   (8)  listing; saved (true: save, false: unsave)
          property_rank  (10)  listing; rank 1..5; note; shared (true/false)
          enquiry        (11)  enquiry_type: property, branch, valuation,
                               mortgage, viewing, staff, general; listing
                               (optional); message
          group          (12)  group: the househunting group's id
          vendor_claim   (13)  listing; note — a soft link and a staff task
                               "confirm vendor" for the customer's agent
          consent              consent: "granted" or "denied"; statement — the
                               marketing consent the person gave on the website
                               (see tesoro_contact_set_consent)
        Search criteria: min_price, max_price (minor units), property_types (an
        array of "house", "apartment", "office", "land"), min_bedrooms,
        max_bedrooms, area.  All optional; bounds must not cross.  `area` is an
        object {"name": text, "centre": a GeoJSON Point, "radius": metres > 0,
        "polygon": a GeoJSON Polygon} with a polygon, or a centre and a radius,
        or both (RFC 7946: positions [longitude, latitude] with longitude
        -180..180 and latitude -90..90; each ring closed — first position equal
        to the last — with at least 4 positions; the first ring the outline,
        the others holes).  Each invalid case is EINVAL naming the reason.  A
        member the event's type does not have is EINVAL; a member given twice
        counts with its first value (as SQLite's json_extract() reads it).

        Result: a JSON object {"source_id", "status": "applied" or
        "superseded", "customer_id", "entity", "entity_id"} (*out_result,
        tesoro_free; the entity is what the event created or changed, e.g. the
        search).
        """
        return self._textout("tesoro_exchange_ingest", website,
                             _json_arg(event))

    def exchange_ingest_batch(self, website: int, events: JSON) -> BatchResult:
        """Many events (JSON text or a list) in one transaction.
        BatchResult(failed, results JSON text, message naming the first
        skipped event or None).

        From tesoro.h, tesoro_exchange_ingest_batch:

        Many events in one transaction (a JSON array, at most TESORO_MAX_BATCH
        events).  Each event is applied whole or not at all: a bad event is
        skipped and reported, the others commit.  *out_results (tesoro_free) is
        an array with one entry per event, in order: its result object, or
        {"index": i, "error": "EINVAL", "message": "..."} (the code as
        tesoro_errname names it). *out_failed counts the skipped events;
        tesoro_errmsg names the first ("event 3: ..."; the one exception to
        "not an error" after a success). Returns TESORO_OK when the batch
        committed (even with skipped events); EINVAL when `events_json` is not
        an array; a database error (EBUSY, ENOMEM, EDB) rolls the whole batch
        back.
        """
        failed, results = ctypes.c_int(), ctypes.c_void_p()
        with self._lock:
            self._call("tesoro_exchange_ingest_batch", website,
                       _json_arg(events), _ref(failed), _ref(results))
            message = self.errmsg() if failed.value else None
        return BatchResult(failed.value, _take_text(results), message)

    def prospects(self, actor: int) -> Cursor:
        """C: tesoro_prospects.

        From tesoro.h, tesoro_prospects:

        The holding tank (staff).  tesoro_prospects lists prospects, newest
        first: id, external_id, name, email, phone, visits, last_visit_at,
        created_at, version.  Approve links the customer to `contact` (0: the
        agency's contact with the customer's e-mail, case-insensitively, else a
        new contact with the role "applicant"); *out_contact may be NULL.
        """
        return self._cursor("tesoro_prospects", actor)

    def prospect_approve(self, actor: int, customer: int, contact: int = 0,
                         expected_version: int = 0) -> int:
        """Returns the contact the customer is now linked to.

        From tesoro.h, tesoro_prospect_approve:

        The holding tank (staff).  tesoro_prospects lists prospects, newest
        first: id, external_id, name, email, phone, visits, last_visit_at,
        created_at, version.  Approve links the customer to `contact` (0: the
        agency's contact with the customer's e-mail, case-insensitively, else a
        new contact with the role "applicant"); *out_contact may be NULL.
        """
        return self._id("tesoro_prospect_approve", actor, customer, contact,
                        expected_version)

    def prospect_discard(self, actor: int, customer: int, reason: Text,
                         expected_version: int = 0) -> None:
        """C: tesoro_prospect_discard.

        From tesoro.h, tesoro_prospect_discard:

        The holding tank (staff).  tesoro_prospects lists prospects, newest
        first: id, external_id, name, email, phone, visits, last_visit_at,
        created_at, version.  Approve links the customer to `contact` (0: the
        agency's contact with the customer's e-mail, case-insensitively, else a
        new contact with the role "applicant"); *out_contact may be NULL.
        """
        self._call("tesoro_prospect_discard", actor, customer, reason,
                   expected_version)

    def customer_searches(self, actor: int, customer: int) -> Cursor:
        """C: tesoro_customer_searches.

        From tesoro.h, tesoro_customer_searches:

        What the website told about a customer (staff): each a cursor.
          tesoro_customer_searches   id, external_id, hard, alert, state, name
                                     (area name), min_price, max_price,
                                     property_types, min_bedrooms, max_bedrooms,
                                     area (JSON), source ("website" or "crm"),
                                     updated_at
          tesoro_customer_properties listing_id, ref, title, views,
                                     last_viewed_at, saved, rank, note,
                                     note_shared — a private note reads NULL
          tesoro_customer_enquiries  id, type, listing_id, message, at
        """
        return self._cursor("tesoro_customer_searches", actor, customer)

    def customer_properties(self, actor: int, customer: int) -> Cursor:
        """C: tesoro_customer_properties.

        From tesoro.h, tesoro_customer_properties:

        What the website told about a customer (staff): each a cursor.
          tesoro_customer_searches   id, external_id, hard, alert, state, name
                                     (area name), min_price, max_price,
                                     property_types, min_bedrooms, max_bedrooms,
                                     area (JSON), source ("website" or "crm"),
                                     updated_at
          tesoro_customer_properties listing_id, ref, title, views,
                                     last_viewed_at, saved, rank, note,
                                     note_shared — a private note reads NULL
          tesoro_customer_enquiries  id, type, listing_id, message, at
        """
        return self._cursor("tesoro_customer_properties", actor, customer)

    def customer_enquiries(self, actor: int, customer: int) -> Cursor:
        """C: tesoro_customer_enquiries.

        From tesoro.h, tesoro_customer_enquiries:

        What the website told about a customer (staff): each a cursor.
          tesoro_customer_searches   id, external_id, hard, alert, state, name
                                     (area name), min_price, max_price,
                                     property_types, min_bedrooms, max_bedrooms,
                                     area (JSON), source ("website" or "crm"),
                                     updated_at
          tesoro_customer_properties listing_id, ref, title, views,
                                     last_viewed_at, saved, rank, note,
                                     note_shared — a private note reads NULL
          tesoro_customer_enquiries  id, type, listing_id, message, at
        """
        return self._cursor("tesoro_customer_enquiries", actor, customer)

    def customer_find(self, actor: int, external_id: Text) -> int:
        """C: tesoro_customer_find.

        From tesoro.h, tesoro_customer_find:

        The web customer the website calls `external_id` (staff); ENOTFOUND if
        none.
        """
        return self._id("tesoro_customer_find", actor, external_id)

    def contact_customer(self, actor: int, contact: int) -> int:
        """C: tesoro_contact_customer.

        From tesoro.h, tesoro_contact_customer:

        The web customer of a contact (staff); ENOTFOUND if none.
        """
        return self._id("tesoro_contact_customer", actor, contact)

    def search_save(self, actor: int, contact: int, search: int,
                    criteria: JSON, alert: int) -> int:
        """`criteria`: JSON text or a dict; `search` 0 makes a new hard
        search, else edits that one; `alert` 0 or 1, as C takes it.
        Returns the search.

        From tesoro.h, tesoro_search_save:

        CRM → website (staff).  Each change queues an outbox row of kind
        "exchange", channel "website", to the agency's website actor, whose
        template names the capability and whose payload carries "capability",
        the contact, and the website's own names as its events use them: the
        customer's website id ("customer") when known and, for a listing, its
        reference ("listing", e.g. "TES-00001") beside tesoro's listing_id:
          2  new_customer       a contact created by staff with an e-mail;
             customer_updated   a contact corrected (tesoro_contact_update)
          6  search_saved       tesoro_search_save (criteria as for events;
                                `search` 0 makes a new hard search, else edits
                                one of the contact's) and search_deleted
                                (tesoro_search_delete)
          9  property_interest  tesoro_interest_register: the contact showed
                                interest in a listing in branch; the website
                                treats it as a saved property
          12 group_changed      tesoro_contact_set_group (group "" leaves the group)
          14 vendor_confirmed   tesoro_vendor_confirm: a firm link of a contact
                                to a listing as "vendor" or "landlord"; an open
                                vendor claim of that contact on that listing is
                                confirmed with it and its task completed
        Vendor claims can also be rejected (tesoro_vendor_claim_reject, reason
        required); the claim's task is cancelled.
        """
        return self._id("tesoro_search_save", actor, contact, search,
                        _json_arg(criteria), alert)

    def search_delete(self, actor: int, search: int,
                      expected_version: int = 0) -> None:
        """C: tesoro_search_delete.

        tesoro.h describes tesoro_search_delete with tesoro_search_save: see
        Tesoro.search_save.
        """
        self._call("tesoro_search_delete", actor, search, expected_version)

    def interest_register(self, actor: int, contact: int,
                          listing: int) -> None:
        """C: tesoro_interest_register.

        tesoro.h describes tesoro_interest_register with tesoro_search_save:
        see Tesoro.search_save.
        """
        self._call("tesoro_interest_register", actor, contact, listing)

    def contact_set_group(self, actor: int, contact: int, group: Text) -> None:
        """C: tesoro_contact_set_group.

        tesoro.h describes tesoro_contact_set_group with tesoro_search_save: see
        Tesoro.search_save.
        """
        self._call("tesoro_contact_set_group", actor, contact, group)

    def vendor_confirm(self, actor: int, contact: int, listing: int,
                       role: Text = 'vendor') -> None:
        """C: tesoro_vendor_confirm.

        tesoro.h describes tesoro_vendor_confirm with tesoro_search_save: see
        Tesoro.search_save.
        """
        self._call("tesoro_vendor_confirm", actor, contact, listing, role)

    def vendor_claim_reject(self, actor: int, claim: int, reason: Text,
                            expected_version: int = 0) -> None:
        """C: tesoro_vendor_claim_reject.

        tesoro.h describes tesoro_vendor_claim_reject with tesoro_search_save:
        see Tesoro.search_save.
        """
        self._call("tesoro_vendor_claim_reject", actor, claim, reason,
                   expected_version)

    def call_list(self, actor: int, limit: int = 50) -> Cursor:
        """C: tesoro_call_list.

        From tesoro.h, tesoro_call_list:

        The call list (staff): approved customers and prospects, ranked by
          score = (visits + 2 views + 4 saves + 3 hard searches + 1 soft search
                   + 8 enquiries) * 7 / (7 + days since the last activity)
        — counts weighted by how strong a signal each is, halved after a week
        without activity.  Columns: customer_id, contact_id, name, email,
        phone, score, visits, views, saves, hard_searches, soft_searches,
        enquiries, last_activity_at.  Highest score first; ties: latest
        activity, then id. `limit` 1..1000.
        """
        return self._cursor("tesoro_call_list", actor, limit)

    def matches(self, actor: int, customer: int) -> Cursor:
        """C: tesoro_matches.

        From tesoro.h, tesoro_matches:

        Published listings of the agency that fit a customer's active searches
        (staff): price within the bounds, type among the types, bedrooms within
        the bounds, and — when the search has an area — the listing's location
        inside the polygon (holes excluded) or within the radius of the centre
        (great-circle distance).  A listing without a location never matches a
        search with an area.  Columns: search_id, hard (1: saved search, 0:
        implied), listing_id, ref, title, price, property_type, bedrooms,
        distance_m (from the centre, or NULL).  Hard matches first, then by
        search, then newest listing first.
        """
        return self._cursor("tesoro_matches", actor, customer)

    # -- privacy ------------------------------------------------------------

    def contact_set_consent(self, actor: int, contact: int, consent: int,
                            statement: Optional[Text] = None,
                            expected_version: int = 0) -> None:
        """C: tesoro_contact_set_consent.

        From tesoro.h, tesoro_contact_set_consent:

        Record the contact's marketing consent.  Staff record it from the CRM
        (source "crm"), the contact's client from the portal ("portal"), the
        agency's website from a web form ("web_form"); a website "consent"
        event (tesoro_exchange_ingest) records "website_event".  The newest
        decision wins, whoever made it: a website event applies only when its
        time is later than the stored decision's, so an older event never
        undoes a CRM or portal decision; a call here applies at once, dated now
        or, if a stored decision is dated later (a website event within the
        clock skew), at that time: consent_at never goes backwards.
        `statement` is the text the person agreed to or refused; required for
        TESORO_CONSENT_GRANTED.  Each change is a history row of the contact,
        "consent", from the old value to the new.  The contact's JSON
        (tesoro_entity_json) shows consent, consent_at, consent_source and
        consent_text. Returns TESORO_OK; EINVAL; EDENIED (another agency,
        another client); ECONFLICT.
        """
        self._call("tesoro_contact_set_consent", actor, contact, consent,
                   statement, expected_version)

    def contact_export(self, actor: int, contact: int, flags: int = 0) -> str:
        """Everything stored about the contact, as JSON text.

        From tesoro.h, tesoro_contact_export:

        Everything tesoro stores about one contact as one JSON document
        (*out_json, tesoro_free): {"format": "tesoro-export-1", "contact_id",
        "exported_at", "for": "staff" or "client", "tables": {"<table>": [rows
        as objects]}} for every table of the privacy map that holds rows about
        the contact — the contact, its client actor, rooms and their messages,
        mandates, proposals, its listings, deals, offered properties,
        appointments and notes, referrals and notes, the portal account and
        messages, its web customer and the exchange data, activities, history,
        outbox rows and documents' metadata.  Secrets are never in it.  Staff
        of the agency, or the contact's own client, who does not get the
        private room notes nor the staff's notifications.  flags:
        TESORO_EXPORT_DOCUMENT_BYTES adds each document's bytes, base64.
        """
        return self._textout("tesoro_contact_export", actor, contact, flags)

    def contact_erase(self, actor: int, contact: int, reason: Text) -> None:
        """C: tesoro_contact_erase.

        From tesoro.h, tesoro_contact_erase:

        Erase a contact (admin only), for good.  Every personal column of every
        row about the contact is overwritten ("erased", NULL, a placeholder
        e-mail, a password hash nothing verifies); documents about the contact
        or uploaded by its client are deleted; its undelivered outbox rows are
        withdrawn and every outbox payload about it is blanked; its portal
        account can no longer log in and its client actor no longer acts
        (EDENIED).  Kept: the rows themselves, their states, times and ids, the
        history's events (without their details), mandates' financial terms,
        proposals, listings, referral fees and payments — the books.  The
        erasure is a history row "erase" of the contact (who, when, `reason`).
        A second call changes nothing.  The file is written with SQLite's
        secure_delete, and the WAL is checkpointed after the erasure (best
        effort), so the old values leave the file.  Every portal session of the
        contact ends.  An erased contact is frozen: every later write that
        names it or one of its entities — consent, searches, groups, interests,
        deals, referrals, portal accounts, assignment, notes and moves, a
        prospect approved into it, a website event naming it — is ESTATE
        ("erased"), so personal data cannot flow back (timers still end what
        was running).
        """
        self._call("tesoro_contact_erase", actor, contact, reason)

    def web_customer_export(self, actor: int, customer: int) -> str:
        """Everything stored about a website-only person, as JSON text.

        From tesoro.h, tesoro_web_customer_export:

        A website-only person — a web customer never approved into a contact
        (a prospect, or one discarded) — has the same rights.  Export (staff
        of the agency): the same format, with "web_customer_id" in place of
        "contact_id", over the customer, its website events, searches,
        interests, enquiries, vendor claims, their history and outbox rows.
        A customer approved into a contact is ESTATE: its data is the
        contact's (tesoro_contact_export).
        """
        return self._textout("tesoro_web_customer_export", actor, customer)

    def web_customer_erase(self, actor: int, customer: int,
                           reason: Optional[Text] = None) -> None:
        """C: tesoro_web_customer_erase.

        From tesoro.h, tesoro_web_customer_erase:

        Erase a website-only person (an admin), with the same guarantees as
        tesoro_contact_erase: the personal columns of their rows overwritten
        (the website's own customer id too), undelivered outbox rows
        withdrawn, secure_delete and a WAL checkpoint, the rows and states
        kept, a history row "erase"; a second call changes nothing.  An
        erased customer is frozen: approving or discarding it is ESTATE
        ("erased"); a later website event with the same id is a new
        prospect.  A customer approved into a contact is ESTATE.
        """
        self._call("tesoro_web_customer_erase", actor, customer, reason)

    def agency_import(self, actor: int, path: Text) -> str:
        """Import a "tesoro-agency-1" JSON Lines file; the report as JSON.

        From tesoro.h, tesoro_agency_import:

        An admin of the agency.  Each record goes through the calls of its
        workflow (every field checked as the workflow checks it, its timers
        planned) with the clock at the record's "at" and nothing queued in
        the outbox; the history of what it created is folded into one
        "imported" row per entity.  A record imported before with the same
        content is "present"; with other content, ECONFLICT.  All or
        nothing: the first bad line stops the import, nothing is kept, and
        the error names the line.  The report: {"format", "lines",
        "imported", "present"}.
        """
        return self._textout("tesoro_agency_import", actor, path)

    def agency_export(self, actor: int, path: Text) -> int:
        """Export the agency to `path` in the same format; the record count.

        From tesoro.h, tesoro_agency_export:

        An admin.  Agents (but the first admin), contacts, validated
        listings, appointments (not completed ones) and referrals (not
        failed ones), each under the external id it was imported with or
        "<type>-<id>"; erased contacts and what is theirs are left out.
        """
        return self._id("tesoro_agency_export", actor, path)

    # -- checker ------------------------------------------------------------

    def check(self) -> None:
        """Operator call: integrity, foreign keys and tesoro's invariants;
        raises DatabaseError naming the first violation.

        From tesoro.h, tesoro_check:

        Operator call: PRAGMA integrity_check, PRAGMA foreign_key_check and
        tesoro's own invariants (each entity's state equals the to_state of its
        last history row and its version its last seq; every outbox row and
        task has its cause; no cancelled or rejected viewing keeps a pending
        timer; every pending timer is due when the viewing or referral it is
        about says, so that a withdrawal finds it; ...).  TESORO_OK when all
        hold; otherwise TESORO_EDB with the first violation in tesoro_errmsg.
        """
        self._call("tesoro_check")

    # Names from before the API's renames (v0.1.0), kept as aliases.
    portal_language_set = portal_set_language
    contact_consent_set = contact_set_consent
    group_set = contact_set_group
    appointments_client = client_appointments
    appointments_agent = agent_appointments
    allowed = allowed_events
    portal_account_of = contact_portal_account
    portal_welcome_done = portal_welcome_finish
    portal_tour_done = portal_tour_finish
