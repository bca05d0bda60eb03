// test_cpp.cpp — tesoro.h from C++17: the header compiles as C++ under
// g++ -std=c++17 -Wall -Wextra -Werror -Wpedantic (extern "C", no C-only
// constructs), and the static library links into and runs from a C++
// program.  Ownership is expressed the C++ way: the handle and the cursor in
// std::unique_ptr with tesoro_close / tesoro_cursor_free, strings handed
// back by tesoro in a unique_ptr that calls tesoro_free.
//
// `make test-cpp` builds and runs it; exit 0 when every check holds.
#include "tesoro.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

int checks = 0;
int failures = 0;

void check(bool ok, const char *what, int line) {
  ++checks;
  if (!ok) {
    ++failures;
    std::fprintf(stderr, "test_cpp.cpp:%d: check failed: %s\n", line, what);
  }
}
#define CHECK(x) check((x), #x, __LINE__)

struct handle_closer {
  void operator()(tesoro *t) const { tesoro_close(t); }
};
struct cursor_freer {
  void operator()(tesoro_cursor *c) const { tesoro_cursor_free(c); }
};
struct tesoro_deleter {
  void operator()(void *p) const { tesoro_free(p); }
};
using handle_ptr = std::unique_ptr<tesoro, handle_closer>;
using cursor_ptr = std::unique_ptr<tesoro_cursor, cursor_freer>;
using text_ptr = std::unique_ptr<char, tesoro_deleter>;

// The API's types are what a C++ caller expects.
static_assert(std::is_same<decltype(&tesoro_open),
                           int (*)(const char *, tesoro **)>::value,
              "tesoro_open signature");
static_assert(std::is_same<decltype(&tesoro_cursor_int),
                           std::int64_t (*)(tesoro_cursor *, int)>::value,
              "tesoro_cursor_int signature");
static_assert(TESORO_OK == 0 && TESORO_EINVAL < 0 && TESORO_ROW > 0,
              "result codes usable in constant expressions");
static_assert(TESORO_VERSION_NUMBER > 0, "version macro");

}  // namespace

int main() {
  tesoro *raw = nullptr;
  int rc = tesoro_open(":memory:", &raw);
  handle_ptr t(raw);
  CHECK(rc == TESORO_OK);
  if (rc != TESORO_OK) return 1;
  CHECK(tesoro_libversion_number() == TESORO_VERSION_NUMBER);
  CHECK(std::string(tesoro_version()) == TESORO_VERSION);
  CHECK(tesoro_clock_set(t.get(), 1780000000) == TESORO_OK);

  // An agency, a contact.
  std::int64_t agency = 0, admin = 0, website = 0, contact = 0, client = 0;
  CHECK(tesoro_agency_create(t.get(), "Tesoro Homes", "Europe/Amsterdam",
                             "EUR", "Alice Admin", "alice@example.com",
                             &agency, &admin) == TESORO_OK);
  CHECK(agency > 0 && admin > 0);
  CHECK(tesoro_agency_website_actor(t.get(), admin, agency, &website) ==
        TESORO_OK);
  const std::vector<std::pair<std::string, std::string>> people = {
      {"Ada Owner", "ada@example.com"},
      {"Bob Buyer", "bob@example.com"},
      {"Zo\u00eb Zeeman", "zoe@example.com"}};  // UTF-8 from a C++ literal
  for (const auto &person : people) {
    std::int64_t id = 0;
    CHECK(tesoro_contact_create(t.get(), admin, person.first.c_str(),
                                person.second.c_str(), nullptr, "nl",
                                &id) == TESORO_OK);
    CHECK(id > 0);
    if (!contact) contact = id;
  }
  CHECK(tesoro_contact_client_actor(t.get(), admin, contact, &client) ==
        TESORO_OK);
  int kind = 0;
  std::int64_t of_agency = 0, of_contact = 0;
  CHECK(tesoro_actor_info(t.get(), client, &kind, &of_agency, &of_contact) ==
        TESORO_OK);
  CHECK(kind == TESORO_ACTOR_CLIENT && of_agency == agency &&
        of_contact == contact);

  // A string handed back by tesoro, freed by tesoro_free.
  {
    char *json = nullptr;
    CHECK(tesoro_entity_json(t.get(), admin, TESORO_ENTITY_CONTACT, contact,
                             &json) == TESORO_OK);
    text_ptr owned(json);
    CHECK(owned && std::strstr(owned.get(), "\"Ada Owner\"") != nullptr);
  }

  // A seller's contact request, then a cursor loop over the contact's
  // timeline and over the outbox.
  std::int64_t room = 0;
  CHECK(tesoro_contact_request_submit(
            t.get(), website, "Ada Owner", "ada@example.com",
            TESORO_PROPERTY_HOUSE, "Herengracht 100, Amsterdam", 0, nullptr,
            nullptr, &room, nullptr) == TESORO_OK);
  CHECK(room > 0);
  {
    tesoro_cursor *c = nullptr;
    CHECK(tesoro_history(t.get(), admin, TESORO_ENTITY_ROOM, room, &c) ==
          TESORO_OK);
    cursor_ptr cur(c);
    int event = tesoro_cursor_index(cur.get(), "event");
    int to = tesoro_cursor_index(cur.get(), "to_state");
    CHECK(event >= 0 && to >= 0);
    CHECK(tesoro_cursor_index(cur.get(), "no_such_column") == -1);
    std::vector<std::string> states;
    while ((rc = tesoro_cursor_next(cur.get())) == TESORO_ROW)
      states.emplace_back(tesoro_cursor_text(cur.get(), to));
    CHECK(rc == TESORO_DONE);
    CHECK(states.size() == 1 && states[0] == "open");
  }
  {
    tesoro_cursor *c = nullptr;
    CHECK(tesoro_outbox_fetch(t.get(), agency, 100, &c) == TESORO_OK);
    cursor_ptr cur(c);
    int n = 0;
    const int cols = tesoro_cursor_columns(cur.get());
    CHECK(cols > 0 && std::string(tesoro_cursor_name(cur.get(), 0)) == "id");
    while (tesoro_cursor_next(cur.get()) == TESORO_ROW) {
      CHECK(tesoro_cursor_int(cur.get(), 0) > 0);
      ++n;
    }
    std::int64_t pending = 0;
    tesoro_cursor *stats = nullptr;
    CHECK(tesoro_stats(t.get(), 0, &stats) == TESORO_OK);
    while (tesoro_cursor_next(stats) == TESORO_ROW)
      if (std::string(tesoro_cursor_text(stats, 0)) == "outbox" &&
          std::string(tesoro_cursor_text(stats, 1)) == "pending")
        pending = tesoro_cursor_int(stats, 2);
    tesoro_cursor_free(stats);
    CHECK(n > 0 && n == pending);
  }

  // Error paths: the code, its name, and the message on the handle.
  std::int64_t out = 0;
  rc = tesoro_contact_create(t.get(), admin, "", nullptr, nullptr, nullptr,
                             &out);
  CHECK(rc == TESORO_EINVAL);
  CHECK(std::string(tesoro_errname(rc)) == "EINVAL");
  CHECK(tesoro_errcode(t.get()) == TESORO_EINVAL);
  CHECK(std::strlen(tesoro_errmsg(t.get())) > 0);
  CHECK(out == 0);  // untouched on failure
  rc = tesoro_contact_create(t.get(), admin, "Ada Again", "ADA@example.com",
                             nullptr, nullptr, &out);
  CHECK(rc == TESORO_EEXISTS);
  rc = tesoro_history(t.get(), client, TESORO_ENTITY_ROOM, 999999, nullptr);
  CHECK(rc < 0);
  {
    tesoro_cursor *c = nullptr;
    rc = tesoro_history(t.get(), admin, TESORO_ENTITY_ROOM, 999999, &c);
    CHECK(rc == TESORO_ENOTFOUND && c == nullptr);
  }
  CHECK(std::string(tesoro_errstr(TESORO_EDENIED)) == "permission denied");
  CHECK(std::string(tesoro_errname(12345)) == "UNKNOWN");
  CHECK(tesoro_check(t.get()) == TESORO_OK);

  // A cursor outliving its handle: invalidated, still freed.
  tesoro_cursor *late = nullptr;
  CHECK(tesoro_stats(t.get(), 0, &late) == TESORO_OK);
  cursor_ptr late_cur(late);
  t.reset();
  CHECK(tesoro_cursor_next(late_cur.get()) == TESORO_EMISUSE);
  late_cur.reset();
  tesoro_close(nullptr);

  std::printf("test_cpp: %d checks, %d failed\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
