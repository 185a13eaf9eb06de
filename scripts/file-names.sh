#!/usr/bin/env bash
# A file name says what it holds: no name of src/ repeats across folders, except mod.rs and at most two others
# (issue 24: six modules were called `config`, three `host`). Prints every repeated name with its paths; exit 1
# when more than ALLOWED names other than mod.rs repeat.
set -euo pipefail
cd "$(dirname "$0")/../src"
ALLOWED=2
repeated=$(find . -name '*.rs' -printf '%f\n' | sort | uniq -d | grep -vx 'mod.rs' || true)
count=0
for name in $repeated; do
  count=$((count + 1))
  echo "repeated: $name: $(find . -name "$name" | sed "s|^\./|src/|" | sort | tr "\n" " ")"
done
if [ "$count" -gt "$ALLOWED" ]; then
  echo "file-names.sh: $count file names repeat across folders of src/ (allowed: mod.rs and $ALLOWED others);" \
       "rename one so its name says what it holds" >&2
  exit 1
fi
