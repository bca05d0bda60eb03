#!/bin/sh
# Rewrite the README's state diagrams from the machine tables, through the
# `tesoro` tool: every line `<!-- diagram: MACHINE -->` is followed by a
# ```mermaid block holding exactly `tesoro dot MACHINE --mermaid`.  A marker
# without a block gets one.  test_cli fails while a block differs.
#
#   test/update_diagrams.sh [FILE [TESORO]]    (default README.md build/tesoro)
set -eu
cd "$(dirname "$0")/.."
file=${1:-README.md}
tool=${2:-build/tesoro}
[ -x "$tool" ] || { echo "update_diagrams: no $tool (run make)" >&2; exit 1; }
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
awk -v tool="$tool" '
  function emit(name,   cmd, line, n) {
    print "```mermaid"
    cmd = tool " dot " name " --mermaid"
    n = 0
    while ((cmd | getline line) > 0) { print line; n++ }
    close(cmd)
    if (n == 0) { print "update_diagrams: no diagram for " name > "/dev/stderr"; failed = 1 }
    print "```"
  }
  pending != "" {
    name = pending; pending = ""
    emit(name)
    if ($0 == "```mermaid") { skip = 1; next }
  }
  skip { if ($0 == "```") skip = 0; next }
  /^<!-- diagram: [a-z_]+ -->$/ { print; pending = $3; next }
  { print }
  END {
    if (pending != "") emit(pending)
    if (skip) { print "update_diagrams: unclosed mermaid block" > "/dev/stderr"; failed = 1 }
    exit failed
  }
' "$file" > "$tmp"
cat "$tmp" > "$file"
