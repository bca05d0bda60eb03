#!/bin/sh
# install_test.sh — tesoro as an installed package, the way a consumer
# builds against it (`make test-install`).
#
#   1. `make install DESTDIR=<tmp>/root PREFIX=/usr`: the header, both
#      libraries, the SONAME links and tesoro.pc land where they should.
#   2. pkg-config, pointed into that tree (PKG_CONFIG_PATH and
#      PKG_CONFIG_SYSROOT_DIR), is the only source of flags.
#   3. A small consumer (only tesoro.h) and examples/workflows.c are linked
#      dynamically — run with LD_LIBRARY_PATH into the tree, and ldd must
#      resolve libtesoro.so.0 there — and statically against libtesoro.a
#      with `pkg-config --static --libs` (which must be needed: the plain
#      --libs cannot link the archive) — no libtesoro in NEEDED.  Each runs.
#
# The temporary tree is removed on exit, whatever happens.  Flags from
# pkg-config and $CC are word lists on purpose (unquoted).
# shellcheck disable=SC2086,SC2046
set -eu
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
CC=${CC:-cc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tesoro-install-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
root=$tmp/root
lib=$root/usr/lib
checks=0

fail() { echo "install_test: FAIL: $*" >&2; exit 1; }
ok() { checks=$((checks + 1)); }

# 1. Install into the tree.
$MAKE --no-print-directory -s install DESTDIR="$root" PREFIX=/usr >/dev/null
for f in usr/include/tesoro.h usr/lib/libtesoro.a usr/lib/libtesoro.so \
         usr/lib/libtesoro.so.0 usr/lib/pkgconfig/tesoro.pc; do
  [ -e "$root/$f" ] || fail "make install did not write /$f"
  ok
done
[ -x "$root/usr/bin/tesoro" ] || fail "make install did not write /usr/bin/tesoro"
"$root/usr/bin/tesoro" --version | grep -q "tesoro" ||
  fail "the installed tesoro tool does not run"
ok
[ "$(readlink "$lib/libtesoro.so")" = "$(readlink "$lib/libtesoro.so.0")" ] ||
  fail "libtesoro.so and libtesoro.so.0 point at different files"
readelf -d "$lib/libtesoro.so.0" | grep -q 'SONAME.*\[libtesoro\.so\.0\]' ||
  fail "libtesoro.so.0 has no SONAME libtesoro.so.0"
ok
for dep in libsqlite3 libsodium libicui18n; do
  readelf -d "$lib/libtesoro.so.0" | grep -q "NEEDED.*\[$dep\." ||
    fail "libtesoro.so.0 does not record its dependency $dep"
  ok
done

# 2. pkg-config into the tree, nothing else.
export PKG_CONFIG_SYSROOT_DIR="$root"
export PKG_CONFIG_PATH="$lib/pkgconfig"
want_version=$(sed -n 's/^#define TESORO_VERSION  *"\(.*\)"$/\1/p' tesoro.h)
[ "$(pkg-config --modversion tesoro)" = "$want_version" ] ||
  fail "pkg-config --modversion tesoro is not $want_version"
ok
cflags=$(pkg-config --cflags tesoro)
libs=$(pkg-config --libs tesoro)
static_libs=$(pkg-config --static --libs tesoro)
case " $cflags " in *" -I$root/usr/include "*) ok ;;
  *) fail "--cflags does not point into the tree: $cflags" ;; esac
case " $libs " in *" -L$lib "*) ok ;;
  *) fail "--libs does not point into the tree: $libs" ;; esac

# The consumer: only tesoro.h, a database file, an agency, a contact
# request, and the outbox it caused.
cat > "$tmp/consumer.c" <<'EOF'
#include <stdio.h>
#include <tesoro.h>

int main(int argc, char **argv) {
  tesoro *t = NULL;
  tesoro_cursor *c = NULL;
  int64_t agency, admin, website, room;
  int rows = 0, rc;
  if (argc != 2) return 2;
  if (tesoro_libversion_number() != TESORO_VERSION_NUMBER) {
    fprintf(stderr, "header %d, library %d\n", TESORO_VERSION_NUMBER,
            tesoro_libversion_number());
    return 1;
  }
  rc = tesoro_open(argv[1], &t);
  if (rc == TESORO_OK)
    rc = tesoro_agency_create(t, "Installed Homes", "Europe/Amsterdam", "EUR",
                              "Ivy Installer", "ivy@example.com", &agency,
                              &admin);
  if (rc == TESORO_OK)
    rc = tesoro_agency_website_actor(t, admin, agency, &website);
  if (rc == TESORO_OK)
    rc = tesoro_contact_request_submit(t, website, "Ada Owner",
                                       "ada@example.com",
                                       TESORO_PROPERTY_HOUSE, "Utrecht", 0,
                                       NULL, NULL, &room, NULL);
  if (rc == TESORO_OK) rc = tesoro_outbox_fetch(t, agency, 100, &c);
  while (rc == TESORO_OK && tesoro_cursor_next(c) == TESORO_ROW) rows++;
  tesoro_cursor_free(c);
  if (rc == TESORO_OK) rc = tesoro_check(t);
  if (rc != TESORO_OK) {
    fprintf(stderr, "consumer: %s: %s\n", tesoro_errname(rc),
            tesoro_errmsg(t));
    tesoro_close(t);
    return 1;
  }
  tesoro_close(t);
  printf("consumer ok: tesoro %s, room %lld, outbox %d\n", tesoro_version(),
         (long long)room, rows);
  return rows > 0 ? 0 : 1;
}
EOF

# 3a. Dynamic.
$CC -std=c11 -Wall -Wextra -Werror $cflags "$tmp/consumer.c" \
  -o "$tmp/consumer-dynamic" $libs
readelf -d "$tmp/consumer-dynamic" | grep -q 'NEEDED.*\[libtesoro\.so\.0\]' ||
  fail "the dynamic consumer does not need libtesoro.so.0"
ok
resolved=$(LD_LIBRARY_PATH=$lib ldd "$tmp/consumer-dynamic" |
           sed -n 's/^[[:space:]]*libtesoro\.so\.0 => \([^ ]*\) .*/\1/p')
[ "$resolved" = "$lib/libtesoro.so.0" ] ||
  fail "libtesoro.so.0 resolves to '$resolved', not the installed tree"
ok
out=$(LD_LIBRARY_PATH=$lib "$tmp/consumer-dynamic" "$tmp/dynamic.db")
case $out in "consumer ok: tesoro $want_version, "*) ok ;;
  *) fail "dynamic consumer printed: $out" ;; esac

# 3b. Static libtesoro: the archive plus what --static names.  The plain
# --libs must not be enough (the archive needs SQLite, libsodium, ICU:
# Requires.private is what brings them).
static_flags=$(printf '%s\n' "$static_libs" | sed 's/-ltesoro\b/-l:libtesoro.a/')
plain_flags=$(printf '%s\n' "$libs" | sed 's/-ltesoro\b/-l:libtesoro.a/')
if $CC $cflags "$tmp/consumer.c" -o "$tmp/consumer-plain" $plain_flags \
     >/dev/null 2>&1; then
  fail "libtesoro.a linked without its dependencies: --static would be moot"
fi
ok
$CC -std=c11 -Wall -Wextra -Werror $cflags "$tmp/consumer.c" \
  -o "$tmp/consumer-static" $static_flags
if readelf -d "$tmp/consumer-static" | grep -q 'NEEDED.*libtesoro'; then
  fail "the static consumer still needs libtesoro.so"
fi
ok
nm "$tmp/consumer-static" | grep -q ' T tesoro_open$' ||
  fail "tesoro_open is not linked into the static consumer"
ok
out=$(env -u LD_LIBRARY_PATH "$tmp/consumer-static" "$tmp/static.db")
case $out in "consumer ok: tesoro $want_version, "*) ok ;;
  *) fail "static consumer printed: $out" ;; esac

# 3c. The whole example walk (it also reads the file with SQLite itself,
# so it asks pkg-config for sqlite3 too), both ways, each in its own
# directory: the two runs must print the same story and the same .ics.
wf_cflags=$(pkg-config --cflags tesoro sqlite3)
$CC -std=c11 $wf_cflags examples/workflows.c -o "$tmp/workflows-dynamic" \
  $(pkg-config --libs tesoro sqlite3)
$CC -std=c11 $wf_cflags examples/workflows.c -o "$tmp/workflows-static" \
  $(pkg-config --static --libs tesoro sqlite3 | sed 's/-ltesoro\b/-l:libtesoro.a/')
mkdir "$tmp/dynamic" "$tmp/static"
(cd "$tmp/dynamic" && LD_LIBRARY_PATH=$lib ../workflows-dynamic wf.db wf.ics \
  > out.txt) || fail "examples/workflows.c, linked dynamically, failed"
ok
(cd "$tmp/static" && ../workflows-static wf.db wf.ics > out.txt) ||
  fail "examples/workflows.c, linked statically, failed"
ok
[ -s "$tmp/static/wf.ics" ] || fail "the example wrote no .ics file"
# Calendar UIDs carry each file's random agency key: compare without them.
for f in out.txt wf.ics; do
  for way in dynamic static; do
    grep -v '^UID:appointment-' "$tmp/$way/$f" > "$tmp/$way/$f.cmp"
  done
done
cmp -s "$tmp/dynamic/out.txt.cmp" "$tmp/static/out.txt.cmp" ||
  fail "the dynamic and static example runs printed different stories"
cmp -s "$tmp/dynamic/wf.ics.cmp" "$tmp/static/wf.ics.cmp" ||
  fail "the dynamic and static example runs wrote different .ics files"
ok

echo "install_test: ok ($checks checks; dynamic and static links of the" \
     "installed package run)"
echo "torture install_checks=$checks"
