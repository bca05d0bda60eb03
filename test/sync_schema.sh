#!/bin/sh
# Copy schema.sql into tesoro.c, between the ">>schema" and "<<schema" marks,
# as one C string per line.  test_foundation fails until this has been run
# after an edit of schema.sql.
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp)
awk '
  FNR == NR {
    gsub(/\\/, "\\\\"); gsub(/"/, "\\\"");
    lines[++n] = "    \"" $0 "\\n\","; next
  }
  /\/\* >>schema/ { print; for (i = 1; i <= n; i++) print lines[i]; skip = 1; next }
  /\/\* <<schema/ { skip = 0 }
  !skip { print }
' schema.sql tesoro.c > "$tmp"
cat "$tmp" > tesoro.c
rm -f "$tmp"
