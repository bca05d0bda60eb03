"""tesoro.py -- a Python binding of tesoro over ctypes (standard library only).

tesoro keeps an estate agency's workflows as persistent state machines in
one SQLite file.  This module loads libtesoro.so, declares the C prototype of
every function in tesoro.h (``PROTOTYPES``), and wraps them in a small
Pythonic layer:

- ``Tesoro(path)`` is the handle: a context manager, closed by ``close()``.
  Every C function ``tesoro_X(t, ...)`` is the method ``Tesoro.X(...)``;
  out-parameters come back as return values (a namedtuple when there are
  several), ``expected_version`` is a keyword that defaults to 0 (no check).
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

Library lookup: ``$TESORO_LIBRARY`` if set, else ``build/libtesoro.so`` of
the source tree this file sits in, else ``ctypes.util.find_library("tesoro")``.
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

# ---------------------------------------------------------------------------
# Constants of tesoro.h (the test suite checks each against the header).

VERSION = "0.1.0"
VERSION_NUMBER = 1000
SCHEMA_VERSION = 12
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


def error_for(code, message=None):
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
tesoro_allowed I t:H actor:L entity:I id:L out:OUT
tesoro_machine_dot I entity:I out:OUT
tesoro_machine_diagram I entity:I format:I out:OUT
tesoro_activities I t:H actor:L contact:L out:OUT
tesoro_tasks I t:H actor:L entity:I entity_id:L out:OUT
tesoro_task_complete I t:H actor:L task:L expected_version:L
tesoro_task_cancel I t:H actor:L task:L expected_version:L
tesoro_outbox_fetch I t:H agency:L limit:I out:OUT
tesoro_outbox_ack I t:H id:L
tesoro_outbox_fail I t:H id:L error:S
tesoro_outbox_counts I t:H out_pending:PL out_delivered:PL out_dead:PL
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
tesoro_appointments_client I t:H actor:L list:I out:OUT
tesoro_appointments_agent I t:H actor:L agent:L state:I from:L to:L out:OUT
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
tesoro_portal_welcome_done I t:H client:L
tesoro_portal_tour_done I t:H client:L
tesoro_portal_tour_skip I t:H client:L
tesoro_portal_tour_restart I t:H client:L
tesoro_portal_language I t:H client:L out_language:PS
tesoro_portal_language_set I t:H client:L language:S
tesoro_portal_home I t:H client:L out_upcoming:PL out_unconfirmed:PL out_new_properties:PL out_ratings:PL
tesoro_portal_properties I t:H client:L view:I out:OUT
tesoro_portal_property I t:H client:L listing:L out_json:OUT
tesoro_portal_contact_agent I t:H client:L deal_property:L message:S out_message:PL
tesoro_portal_account_of I t:H actor:L contact:L out_account:PL
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
tesoro_group_set I t:H actor:L contact:L group:S
tesoro_vendor_confirm I t:H actor:L contact:L listing:L role:S
tesoro_vendor_claim_reject I t:H actor:L claim:L reason:S expected_version:L
tesoro_call_list I t:H actor:L limit:I out:OUT
tesoro_matches I t:H actor:L customer:L out:OUT
tesoro_contact_consent_set I t:H actor:L contact:L consent:I statement:S expected_version:L
tesoro_contact_export I t:H actor:L contact:L flags:I out_json:OUT
tesoro_contact_erase I t:H actor:L contact:L reason:S
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


def _library_path():
    env = os.environ.get("TESORO_LIBRARY")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, os.pardir, os.pardir))
    for name in ("libtesoro.so", "libtesoro.dylib"):
        candidate = os.path.join(root, "build", name)
        if os.path.exists(candidate):
            return candidate
    found = ctypes.util.find_library("tesoro")
    if found:
        return found
    raise ImportError("libtesoro not found: build it (make) or set "
                      "TESORO_LIBRARY to its path")


def _load(path):
    """Load the library and declare every prototype it exports.  A function
    of tesoro.h the library does not export (a library built before it
    was added) is left out and named in the second result: loading still
    works, and only calling that one function fails (see _function)."""
    lib = ctypes.CDLL(path)
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


def entity_kind(entity):
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


def version():
    """The library's version text ("0.1.0")."""
    return _lib.tesoro_version().decode()


def libversion_number():
    return _lib.tesoro_libversion_number()


def errstr(rc):
    """Static English text of a result code."""
    return _lib.tesoro_errstr(_int(rc, "rc", _INT_MIN, _INT_MAX)).decode()


def errname(rc):
    """The code's name without prefix ("EDENIED"); "UNKNOWN" otherwise."""
    return _lib.tesoro_errname(_int(rc, "rc", _INT_MIN, _INT_MAX)).decode()


def schema_text():
    """The schema.sql text the library carries."""
    out = ctypes.c_void_p()
    _static_call("tesoro_schema_text", ctypes.byref(out))
    return _take_text(out)


def machine_dot(entity):
    """Graphviz DOT of one machine (ENTITY_ROOM .. ENTITY_VENDOR_CLAIM)."""
    out = ctypes.c_void_p()
    _static_call("tesoro_machine_dot", entity_kind(entity), ctypes.byref(out))
    return _take_text(out)


def machine_diagram(entity, format=DIAGRAM_MERMAID):
    """A machine's diagram as DIAGRAM_DOT or DIAGRAM_MERMAID text."""
    out = ctypes.c_void_p()
    _static_call("tesoro_machine_diagram", entity_kind(entity), format,
                 ctypes.byref(out))
    return _take_text(out)


def privacy_map():
    """The privacy map, as JSON text."""
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

    def __init__(self, db, ptr):
        self._db = db
        self._ptr = ptr
        self._as_text = False
        count = _lib.tesoro_cursor_columns(ptr)
        self.columns = tuple(_lib.tesoro_cursor_name(ptr, i).decode("utf-8")
                             for i in range(count))

    def as_text(self):
        """Yield every value as the library's text (None for NULL), as a C
        caller printing tesoro_cursor_text would see it.  Returns self."""
        self._as_text = True
        return self

    @property
    def closed(self):
        return self._ptr is None

    def __iter__(self):
        return self

    def __next__(self):
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

    def _row(self):
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

    def all(self):
        """Every remaining row, as a list (the cursor is then freed)."""
        return list(self)

    def _free(self):
        ptr, self._ptr = self._ptr, None
        if ptr is not None and _lib is not None:
            _lib.tesoro_cursor_free(ptr)

    def close(self):
        """Free the C cursor now (idempotent)."""
        with self._db._lock:
            self._free()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass


# ---------------------------------------------------------------------------
# Results with several values.

Agency = collections.namedtuple("Agency", "agency admin")
ActorInfo = collections.namedtuple("ActorInfo", "kind agency contact")
EntityState = collections.namedtuple("EntityState", "state version")
OutboxCounts = collections.namedtuple("OutboxCounts",
                                      "pending delivered dead")
ContactRequest = collections.namedtuple("ContactRequest", "room client")
PortalAccount = collections.namedtuple("PortalAccount",
                                       "account temp_password")
Registration = collections.namedtuple("Registration", "account code")
Login = collections.namedtuple("Login", "client step")
PortalSession = collections.namedtuple("PortalSession", "token client step")
PortalHome = collections.namedtuple(
    "PortalHome", "upcoming unconfirmed new_properties ratings")
BatchResult = collections.namedtuple("BatchResult", "failed results message")


def _i64():
    return ctypes.c_int64()


def _ref(x):
    return ctypes.byref(x)


# ---------------------------------------------------------------------------
# The handle.


class Tesoro:
    """A handle on one tesoro database file (":memory:" for a private
    in-memory one).  Use it as a context manager or call close()."""

    def __init__(self, path, readonly=False):
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
    def closed(self):
        return self._h is None

    def close(self):
        """Close the handle (idempotent).  Cursors still open answer Misuse
        from then on and are freed by their own object."""
        with self._lock:
            handle, self._h = self._h, None
            if handle is not None:
                _lib.tesoro_close(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
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

    def errcode(self):
        """The result code of the last call (OK after a success); EMISUSE
        once the handle is closed."""
        with self._lock:
            if self._h is None:
                return EMISUSE
            return _lib.tesoro_errcode(self._h)

    def errmsg(self):
        """The message of the last call ("not an error" after a success)."""
        with self._lock:
            if self._h is None:
                return "the handle is closed"
            return _lib.tesoro_errmsg(self._h).decode("utf-8", "replace")

    # -- handle settings, clock, transactions -------------------------------

    def config(self, option, value):
        self._call("tesoro_config", option, value)

    def clock_set(self, now):
        """Pin "now" (UTC seconds); 0 returns to the system clock."""
        self._call("tesoro_clock_set", now)

    def now(self):
        with self._lock:
            if self._h is None:
                raise _binding_error(Misuse, "the handle is closed")
            return _lib.tesoro_now(self._h)

    def begin(self):
        self._call("tesoro_begin")

    def commit(self):
        self._call("tesoro_commit")

    def rollback(self):
        self._call("tesoro_rollback")

    @contextlib.contextmanager
    def transaction(self):
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

    def agency_create(self, name, timezone, currency, admin_name,
                      admin_email):
        """Operator call.  Returns Agency(agency, admin)."""
        agency, admin = _i64(), _i64()
        self._call("tesoro_agency_create", name, timezone, currency,
                   admin_name, admin_email, _ref(agency), _ref(admin))
        return Agency(agency.value, admin.value)

    def agency_website_actor(self, actor, agency):
        return self._id("tesoro_agency_website_actor", actor, agency)

    def agent_create(self, actor, name, email, role=ROLE_AGENT):
        return self._id("tesoro_agent_create", actor, name, email, role)

    def actor_info(self, actor):
        kind, agency, contact = ctypes.c_int(), _i64(), _i64()
        self._call("tesoro_actor_info", actor, _ref(kind), _ref(agency),
                   _ref(contact))
        return ActorInfo(kind.value, agency.value, contact.value)

    def contact_create(self, actor, name, email=None, phone=None,
                       language=None):
        return self._id("tesoro_contact_create", actor, name, email, phone,
                        language)

    def contact_update(self, actor, contact, fields, expected_version=0):
        """Correct a contact: `fields` (JSON text or a dict) with any of
        name, email, phone, language; None clears one (not the name)."""
        self._call("tesoro_contact_update", actor, contact, _json_arg(fields),
                   expected_version)

    def portal_email_verify(self, client, code):
        self._call("tesoro_portal_email_verify", client, code)

    def contact_assign(self, actor, contact, agent, expected_version=0):
        self._call("tesoro_contact_assign", actor, contact, agent,
                   expected_version)

    def contact_client_actor(self, actor, contact):
        return self._id("tesoro_contact_client_actor", actor, contact)

    def entity_json(self, actor, entity, id):
        """The entity as the library's JSON text."""
        return self._textout("tesoro_entity_json", actor, entity_kind(entity),
                             id)

    def entity(self, actor, entity, id):
        """The entity as a dict (entity_json, parsed)."""
        return json.loads(self.entity_json(actor, entity, id))

    def entity_state(self, actor, entity, id):
        """EntityState(state name, version)."""
        state, ver = ctypes.c_char_p(), _i64()
        self._call("tesoro_entity_state", actor, entity_kind(entity), id,
                   _ref(state), _ref(ver))
        return EntityState(state.value.decode("utf-8"), ver.value)

    # -- engine queries -----------------------------------------------------

    def history(self, actor, entity, id):
        return self._cursor("tesoro_history", actor, entity_kind(entity), id)

    def allowed(self, actor, entity, id):
        return self._cursor("tesoro_allowed", actor, entity_kind(entity), id)

    # -- activities, tasks --------------------------------------------------

    def activities(self, actor, contact):
        return self._cursor("tesoro_activities", actor, contact)

    def tasks(self, actor, entity=0, entity_id=0):
        return self._cursor("tesoro_tasks", actor, entity_kind(entity),
                            entity_id)

    def task_complete(self, actor, task, expected_version=0):
        self._call("tesoro_task_complete", actor, task, expected_version)

    def task_cancel(self, actor, task, expected_version=0):
        self._call("tesoro_task_cancel", actor, task, expected_version)

    # -- outbox, stats, timers ----------------------------------------------

    def outbox_fetch(self, agency=0, limit=100):
        return self._cursor("tesoro_outbox_fetch", agency, limit)

    def outbox_ack(self, id):
        self._call("tesoro_outbox_ack", id)

    def outbox_fail(self, id, error=None):
        self._call("tesoro_outbox_fail", id, error)

    def outbox_counts(self):
        pending, delivered, dead = _i64(), _i64(), _i64()
        self._call("tesoro_outbox_counts", _ref(pending), _ref(delivered),
                   _ref(dead))
        return OutboxCounts(pending.value, delivered.value, dead.value)

    # -- notification preferences -------------------------------------------

    def notification_set(self, actor, recipient, channel, on):
        """Turn `channel` (one CHANNEL_*: push, email or calendar) off (0) or
        on (1) for `recipient`."""
        self._call("tesoro_notification_set", actor, recipient, channel, on)

    def notification_channels(self, actor, recipient):
        """The CHANNEL_* bits `recipient` receives on, the agency's
        switches applied."""
        channels = ctypes.c_int()
        self._call("tesoro_notification_channels", actor, recipient,
                   _ref(channels))
        return channels.value

    def agency_set_push(self, actor, enabled):
        """Push notifications of the agency: 1 enabled, 0 disabled."""
        self._call("tesoro_agency_set_push", actor, enabled)

    def agency_set_calendar(self, actor, active):
        """The agency's calendar integration: 1 active, 0 inactive."""
        self._call("tesoro_agency_set_calendar", actor, active)

    def stats(self, agency=0):
        return self._cursor("tesoro_stats", agency)

    def tick(self, now):
        """Fire the timers due at `now`; returns how many fired."""
        fired = ctypes.c_int()
        self._call("tesoro_tick", now, _ref(fired))
        return fired.value

    def checkpoint(self):
        """Copy the WAL into the database file (PASSIVE); returns
        (wal_pages, copied_pages)."""
        wal, copied = ctypes.c_int(), ctypes.c_int()
        self._call("tesoro_checkpoint", _ref(wal), _ref(copied))
        return wal.value, copied.value

    # -- documents ----------------------------------------------------------

    def document_add(self, actor, entity, entity_id, kind, name, mime, data):
        """Attach `data` (bytes) to an entity; returns the document id."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("document contents must be bytes, not %s"
                            % type(data).__name__)
        data = bytes(data)
        return self._id("tesoro_document_add", actor, entity_kind(entity),
                        entity_id, kind, name, mime, data, len(data))

    def document_read(self, actor, document):
        """The document's bytes."""
        out, size = ctypes.c_void_p(), _i64()
        self._call("tesoro_document_read", actor, document, _ref(out),
                   _ref(size))
        return _take_bytes(out, size.value)

    def documents(self, actor, entity, entity_id):
        return self._cursor("tesoro_documents", actor, entity_kind(entity),
                            entity_id)

    # -- seller onboarding --------------------------------------------------

    def contact_request_submit(self, actor, name, email, property_type,
                               location, budget=0, timeline=None,
                               description=None):
        """The owner's contact form (website actor): ContactRequest(room,
        client)."""
        room, client = _i64(), _i64()
        self._call("tesoro_contact_request_submit", actor, name, email,
                   property_type, location, budget, timeline, description,
                   _ref(room), _ref(client))
        return ContactRequest(room.value, client.value)

    def room_message_post(self, actor, room, body):
        return self._id("tesoro_room_message_post", actor, room, body)

    def room_note_add(self, actor, room, body):
        return self._id("tesoro_room_note_add", actor, room, body)

    def room_messages(self, actor, room):
        return self._cursor("tesoro_room_messages", actor, room)

    def room_start_onboarding(self, actor, room, with_listing,
                              expected_version=0):
        """Returns the new draft mandate.  `with_listing` is passed as C
        takes it: 0 or 1 (anything else is InvalidArgument)."""
        return self._id("tesoro_room_start_onboarding", actor, room,
                        with_listing, expected_version)

    def room_mark_lost(self, actor, room, reason, expected_version=0):
        self._call("tesoro_room_mark_lost", actor, room, reason,
                   expected_version)

    def room_close(self, actor, room, reason, expected_version=0):
        self._call("tesoro_room_close", actor, room, reason, expected_version)

    def mandate_propose(self, actor, mandate, commission_type, value,
                        currency, exclusive, duration_days,
                        expected_version=0):
        """Returns the new proposal.  Every term is given, as in C: no
        duration or exclusivity is assumed (`currency` None: NULL)."""
        return self._id("tesoro_mandate_propose", actor, mandate,
                        commission_type, value, currency, exclusive,
                        duration_days, expected_version)

    def mandate_accept(self, actor, mandate, proposal, expected_version=0):
        """Returns the agreed terms, as JSON text."""
        return self._textout("tesoro_mandate_accept", actor, mandate,
                             proposal, expected_version)

    def mandate_share_form(self, actor, mandate, expected_version=0):
        self._call("tesoro_mandate_share_form", actor, mandate,
                   expected_version)

    def mandate_submit_form(self, actor, mandate, form, expected_version=0):
        """`form`: JSON text or a dict."""
        self._call("tesoro_mandate_submit_form", actor, mandate,
                   _json_arg(form), expected_version)

    def mandate_request_changes(self, actor, mandate, reason,
                                expected_version=0):
        self._call("tesoro_mandate_request_changes", actor, mandate, reason,
                   expected_version)

    def mandate_validate(self, actor, mandate, expected_version=0):
        """Returns the listing filled from the form."""
        return self._id("tesoro_mandate_validate", actor, mandate,
                        expected_version)

    def mandate_cancel(self, actor, mandate, reason, expected_version=0):
        self._call("tesoro_mandate_cancel", actor, mandate, reason,
                   expected_version)

    def mandate_proposals(self, actor, mandate):
        return self._cursor("tesoro_mandate_proposals", actor, mandate)

    def listing_update(self, actor, listing, fields, expected_version=0):
        """`fields`: JSON text or a dict."""
        self._call("tesoro_listing_update", actor, listing, _json_arg(fields),
                   expected_version)

    def listing_publish(self, actor, listing, expected_version=0):
        self._call("tesoro_listing_publish", actor, listing, expected_version)

    def listing_unpublish(self, actor, listing, expected_version=0):
        self._call("tesoro_listing_unpublish", actor, listing,
                   expected_version)

    # -- deals and viewing appointments -------------------------------------

    def agency_set_viewing_duration(self, actor, duration_s):
        """The agency's default viewing duration, in seconds
        (MIN_VIEWING_S..MAX_VIEWING_S); later requests take it."""
        self._call("tesoro_agency_set_viewing_duration", actor, duration_s)

    def deal_create(self, actor, contact, name):
        return self._id("tesoro_deal_create", actor, contact, name)

    def deal_close(self, actor, deal, reason, expected_version=0):
        self._call("tesoro_deal_close", actor, deal, reason, expected_version)

    def deal_offer(self, actor, deal, listing):
        """Returns the deal property (the offer)."""
        return self._id("tesoro_deal_offer", actor, deal, listing)

    def deal_properties(self, actor, deal):
        return self._cursor("tesoro_deal_properties", actor, deal)

    def deal_property_interested(self, actor, deal_property,
                                 expected_version=0):
        self._call("tesoro_deal_property_interested", actor, deal_property,
                   expected_version)

    def deal_property_not_interested(self, actor, deal_property, reasons,
                                     note=None, expected_version=0):
        self._call("tesoro_deal_property_not_interested", actor,
                   deal_property, reasons, note, expected_version)

    def deal_property_approve(self, actor, deal_property,
                              expected_version=0):
        self._call("tesoro_deal_property_approve", actor, deal_property,
                   expected_version)

    def deal_property_favourite(self, actor, deal_property, on,
                                expected_version=0):
        self._call("tesoro_deal_property_favourite", actor, deal_property,
                   on, expected_version)

    def appointment_request(self, actor, deal_property, preferred):
        """`preferred`: a sequence of 1..3 UTC instants.  Returns the
        appointment."""
        values = [_int(v, "preferred", _I64_MIN, _I64_MAX)
                  for v in preferred]
        array = (ctypes.c_int64 * len(values))(*values) if values else None
        return self._id("tesoro_appointment_request", actor, deal_property,
                        array, _int(len(values), "count", 0, _INT_MAX))

    def appointment_confirm(self, actor, appointment, start_at, duration_s,
                            expected_version=0):
        """`duration_s`: 0 keeps the viewing's duration, else
        MIN_VIEWING_S..MAX_VIEWING_S seconds."""
        self._call("tesoro_appointment_confirm", actor, appointment, start_at,
                   duration_s, expected_version)

    def appointment_reschedule(self, actor, appointment, start_at,
                               duration_s, expected_version=0):
        """`duration_s`: 0 keeps the viewing's duration, else
        MIN_VIEWING_S..MAX_VIEWING_S seconds."""
        self._call("tesoro_appointment_reschedule", actor, appointment,
                   start_at, duration_s, expected_version)

    def appointment_reject(self, actor, appointment, reason,
                           expected_version=0):
        self._call("tesoro_appointment_reject", actor, appointment, reason,
                   expected_version)

    def appointment_cancel(self, actor, appointment, reason=None,
                           expected_version=0):
        self._call("tesoro_appointment_cancel", actor, appointment, reason,
                   expected_version)

    def appointment_start_viewing(self, actor, appointment,
                                  expected_version=0):
        self._call("tesoro_appointment_start_viewing", actor, appointment,
                   expected_version)

    def appointment_record_no_show(self, actor, appointment, note=None,
                                   expected_version=0):
        self._call("tesoro_appointment_record_no_show", actor, appointment,
                   note, expected_version)

    def appointment_note_add(self, actor, appointment, body):
        return self._id("tesoro_appointment_note_add", actor, appointment,
                        body)

    def appointment_rate(self, actor, appointment, stars,
                         expected_version=0):
        self._call("tesoro_appointment_rate", actor, appointment, stars,
                   expected_version)

    def appointment_notes(self, actor, appointment):
        return self._cursor("tesoro_appointment_notes", actor, appointment)

    def appointments_client(self, actor, list):
        return self._cursor("tesoro_appointments_client", actor, list)

    def appointments_agent(self, actor, agent=0, state=0, from_=0, to=0):
        return self._cursor("tesoro_appointments_agent", actor, agent, state,
                            from_, to)

    def appointment_ics(self, actor, appointment, link=None):
        """The appointment as iCalendar text (CRLF line endings)."""
        return self._textout("tesoro_appointment_ics", actor, appointment,
                             link)

    def calendar_feed(self, actor, subject):
        """Every viewing of `subject` (an agent or a client) as one
        iCalendar text (CRLF line endings), to subscribe to."""
        return self._textout("tesoro_calendar_feed", actor, subject)

    # -- referrals ----------------------------------------------------------

    def agency_set_referral_fee(self, actor, basis_points):
        self._call("tesoro_agency_set_referral_fee", actor, basis_points)

    def referral_create(self, actor, contact, agent=0):
        return self._id("tesoro_referral_create", actor, contact, agent)

    def referral_move(self, actor, referral, stage, data=None,
                      expected_version=0):
        """`data`: the stage data, JSON text or a dict (None: none)."""
        self._call("tesoro_referral_move", actor, referral, stage,
                   _json_arg(data), expected_version)

    def referral_note_add(self, actor, referral, body):
        return self._id("tesoro_referral_note_add", actor, referral, body)

    def referral_notes(self, actor, referral):
        return self._cursor("tesoro_referral_notes", actor, referral)

    def referrals(self, actor, filter=REFERRALS_ALL, stage=0, agent=0):
        return self._cursor("tesoro_referrals", actor, filter, stage, agent)

    def referral_pipeline(self, actor, agent=0):
        return self._cursor("tesoro_referral_pipeline", actor, agent)

    # -- client portal ------------------------------------------------------

    def agency_set_portal(self, actor, active):
        self._call("tesoro_agency_set_portal", actor, active)

    def portal_account_create(self, actor, contact):
        """PortalAccount(account, temp_password)."""
        account, temp = _i64(), ctypes.c_void_p()
        self._call("tesoro_portal_account_create", actor, contact,
                   _ref(account), _ref(temp))
        return PortalAccount(account.value, _take_text(temp))

    def portal_register(self, website, name, email, password):
        """Registration(account, code): the code for the host to e-mail."""
        account, code = _i64(), ctypes.c_void_p()
        self._call("tesoro_portal_register", website, name, email, password,
                   _ref(account), _ref(code))
        return Registration(account.value, _take_text(code))

    def portal_verify(self, website, email, code):
        """Returns the client actor, now logged in."""
        return self._id("tesoro_portal_verify", website, email, code)

    def portal_login(self, website, email, password):
        """Login(client, step)."""
        client, step = _i64(), ctypes.c_int()
        self._call("tesoro_portal_login", website, email, password,
                   _ref(client), _ref(step))
        return Login(client.value, step.value)

    def portal_password_change(self, client, current, new_password):
        self._call("tesoro_portal_password_change", client, current,
                   new_password)

    def portal_step(self, client):
        step = ctypes.c_int()
        self._call("tesoro_portal_step", client, _ref(step))
        return step.value

    def portal_welcome_done(self, client):
        self._call("tesoro_portal_welcome_done", client)

    def portal_tour_done(self, client):
        self._call("tesoro_portal_tour_done", client)

    def portal_tour_skip(self, client):
        self._call("tesoro_portal_tour_skip", client)

    def portal_tour_restart(self, client):
        self._call("tesoro_portal_tour_restart", client)

    def portal_language(self, client):
        language = ctypes.c_char_p()
        self._call("tesoro_portal_language", client, _ref(language))
        return language.value.decode("utf-8")

    def portal_language_set(self, client, language):
        self._call("tesoro_portal_language_set", client, language)

    def portal_home(self, client):
        """PortalHome(upcoming, unconfirmed, new_properties, ratings)."""
        outs = [_i64() for _ in range(4)]
        self._call("tesoro_portal_home", client, *[_ref(o) for o in outs])
        return PortalHome(*[o.value for o in outs])

    def portal_properties(self, client, view=FEED_ALL):
        return self._cursor("tesoro_portal_properties", client, view)

    def portal_property(self, client, listing):
        """One listing as the client sees it (with its photos), as JSON
        text."""
        return self._textout("tesoro_portal_property", client, listing)

    def portal_contact_agent(self, client, deal_property, message):
        return self._id("tesoro_portal_contact_agent", client, deal_property,
                        message)

    def portal_account_of(self, actor, contact):
        return self._id("tesoro_portal_account_of", actor, contact)

    def portal_session_open(self, website, email, password):
        """Log in and open a session: PortalSession(token, client, step),
        the token for the host's cookie."""
        token, client, step = ctypes.c_void_p(), _i64(), ctypes.c_int()
        self._call("tesoro_portal_session_open", website, email, password,
                   _ref(token), _ref(client), _ref(step))
        return PortalSession(_take_text(token), client.value, step.value)

    def portal_session_client(self, website, token):
        """The client actor of a live session (Denied once it has
        ended)."""
        return self._id("tesoro_portal_session_client", website, token)

    def portal_session_end(self, website, token):
        """Log out: the session ends (again is no error)."""
        self._call("tesoro_portal_session_end", website, token)

    def portal_reset_request(self, website, email):
        """Queue a "Portal Password Reset" e-mail with a reset secret when
        an active account has `email` (the same answer otherwise)."""
        self._call("tesoro_portal_reset_request", website, email)

    def portal_reset(self, website, email, secret, new_password):
        """Set a new password with the reset secret; returns the account's
        client actor."""
        return self._id("tesoro_portal_reset", website, email, secret,
                        new_password)

    def portal_invitation_resend(self, actor, contact):
        """A new temporary password for the contact's account, returned
        once; the "Portal Invitation" e-mail is queued again."""
        return self._textout("tesoro_portal_invitation_resend", actor,
                             contact)

    def portal_account_deactivate(self, actor, contact):
        self._call("tesoro_portal_account_deactivate", actor, contact)

    # -- website exchange ---------------------------------------------------

    def exchange_ingest(self, website, event):
        """One website event (JSON text or a dict); its result as JSON
        text."""
        return self._textout("tesoro_exchange_ingest", website,
                             _json_arg(event))

    def exchange_ingest_batch(self, website, events):
        """Many events (JSON text or a list) in one transaction.
        BatchResult(failed, results JSON text, message naming the first
        skipped event or None)."""
        failed, results = ctypes.c_int(), ctypes.c_void_p()
        with self._lock:
            self._call("tesoro_exchange_ingest_batch", website,
                       _json_arg(events), _ref(failed), _ref(results))
            message = self.errmsg() if failed.value else None
        return BatchResult(failed.value, _take_text(results), message)

    def prospects(self, actor):
        return self._cursor("tesoro_prospects", actor)

    def prospect_approve(self, actor, customer, contact=0,
                         expected_version=0):
        """Returns the contact the customer is now linked to."""
        return self._id("tesoro_prospect_approve", actor, customer, contact,
                        expected_version)

    def prospect_discard(self, actor, customer, reason, expected_version=0):
        self._call("tesoro_prospect_discard", actor, customer, reason,
                   expected_version)

    def customer_searches(self, actor, customer):
        return self._cursor("tesoro_customer_searches", actor, customer)

    def customer_properties(self, actor, customer):
        return self._cursor("tesoro_customer_properties", actor, customer)

    def customer_enquiries(self, actor, customer):
        return self._cursor("tesoro_customer_enquiries", actor, customer)

    def customer_find(self, actor, external_id):
        return self._id("tesoro_customer_find", actor, external_id)

    def contact_customer(self, actor, contact):
        return self._id("tesoro_contact_customer", actor, contact)

    def search_save(self, actor, contact, search, criteria, alert):
        """`criteria`: JSON text or a dict; `search` 0 makes a new hard
        search, else edits that one; `alert` 0 or 1, as C takes it.
        Returns the search."""
        return self._id("tesoro_search_save", actor, contact, search,
                        _json_arg(criteria), alert)

    def search_delete(self, actor, search, expected_version=0):
        self._call("tesoro_search_delete", actor, search, expected_version)

    def interest_register(self, actor, contact, listing):
        self._call("tesoro_interest_register", actor, contact, listing)

    def group_set(self, actor, contact, group):
        self._call("tesoro_group_set", actor, contact, group)

    def vendor_confirm(self, actor, contact, listing, role="vendor"):
        self._call("tesoro_vendor_confirm", actor, contact, listing, role)

    def vendor_claim_reject(self, actor, claim, reason, expected_version=0):
        self._call("tesoro_vendor_claim_reject", actor, claim, reason,
                   expected_version)

    def call_list(self, actor, limit=50):
        return self._cursor("tesoro_call_list", actor, limit)

    def matches(self, actor, customer):
        return self._cursor("tesoro_matches", actor, customer)

    # -- privacy ------------------------------------------------------------

    def contact_consent_set(self, actor, contact, consent, statement=None,
                            expected_version=0):
        self._call("tesoro_contact_consent_set", actor, contact, consent,
                   statement, expected_version)

    def contact_export(self, actor, contact, flags=0):
        """Everything stored about the contact, as JSON text."""
        return self._textout("tesoro_contact_export", actor, contact, flags)

    def contact_erase(self, actor, contact, reason):
        self._call("tesoro_contact_erase", actor, contact, reason)

    # -- checker ------------------------------------------------------------

    def check(self):
        """Operator call: integrity, foreign keys and tesoro's invariants;
        raises DatabaseError naming the first violation."""
        self._call("tesoro_check")
