#!/usr/bin/env bash
# The table in docs/reliability.md is the output of the fault tests: each test
# writes its row (tests/faults/fault_fixtures.h record_row) into ROWS_DIR.
#   --check ROWS_DIR DOC   fail, showing the difference, unless DOC's table is exactly the rows
#   --write ROWS_DIR DOC   put the rows into DOC (after running the fault tests)
set -euo pipefail
mode=$1 rows=$2 doc=$3
begin='<!-- fault-test rows: generated, do not edit (tests/reliability_doc.sh --write) -->'
end='<!-- end of fault-test rows -->'
[ -d "$rows" ] || { echo "reliability_doc: no rows in $rows: run the fault tests (ctest -L faults, or tokengrow_faults) first" >&2; exit 1; }
table=$(mktemp)
trap 'rm -f "$table" "$table.doc"' EXIT
{
  echo '| id | area | fault or bad input | what tokengrow did (asserted by the test) |'
  echo '|---|---|---|---|'
  find "$rows" -name '*.md' | sort -V | xargs cat
} > "$table"
# The doc with its generated block replaced by the table.
awk -v begin="$begin" -v end="$end" -v table="$table" '
  $0 == begin { print; while ((getline line < table) > 0) print line; skipping = 1; next }
  $0 == end { skipping = 0 }
  !skipping { print }' "$doc" > "$table.doc"
grep -qxF "$begin" "$doc" || { echo "reliability_doc: $doc has no line: $begin" >&2; exit 1; }
case "$mode" in
  --write) cp "$table.doc" "$doc"; echo "reliability_doc: wrote $(($(wc -l < "$table") - 2)) rows into $doc" ;;
  --check)
    if ! diff -u "$doc" "$table.doc"; then
      echo "reliability_doc: $doc does not match what the fault tests observed (diff above);" \
           "after checking the change, run: bash tests/reliability_doc.sh --write $rows $doc" >&2
      exit 1
    fi
    echo "reliability_doc: $doc matches the $(($(wc -l < "$table") - 2)) rows the fault tests wrote" ;;
  *) echo "usage: reliability_doc.sh --check|--write ROWS_DIR DOC" >&2; exit 2 ;;
esac
