#!/usr/bin/env bash
# Follow the runs tools/gpu_session/start.sh started: wait up to SECONDS (default 60) or until both
# series have ended, print where they are (each notebook's last line in its cells.log), and pack
# the logs, reports, executed notebooks, their cell logs and 07/08/09's outputs into $OUT/r.tgz (OUT
# defaults to /tmp). Exits 1 at once on a machine where no run was started (a fresh machine: the
# one that held the run was given back).
#
#   bash tools/gpu_session/poll.sh 540
set -u
. "$(dirname "$0")/common.sh"
[ -s $WORK/t0 ] || { echo "no run on this machine: $WORK/t0 is missing (a fresh machine; the run is gone)"; exit 1; }
out=${OUT:-/tmp}
end=$(( $(date +%s) + ${1:-60} ))
ended() { grep -q '^exit ' $WORK/logs/full.log 2>/dev/null && grep -q '^exit ' $WORK/logs/tiny.log 2>/dev/null; }
while [ "$(date +%s)" -lt "$end" ] && ! ended; do sleep 5; done
echo "== $(( $(date +%s) - $(cat $WORK/t0) )) s since the start"
for s in full tiny; do echo "== $s"; grep -vE ' started$' $WORK/logs/$s.log | tail -n 30; done
for d in /tmp/qwen3lab-test-gpu.*; do
  [ -f "$d/runner.log" ] && { echo "== runner ($d)"; grep -vE ' started$' "$d/runner.log" | tail -n 12; }
done
# where each notebook is now, cell by cell (qwen3lab's CellLog); a finished one's last line is its result
for f in $WORK/q-full/artifacts/notebooks/*.cells.log; do
  [ -f "$f" ] && echo "== $(basename "$f"): $(tail -n 1 "$f" | sed 's/^ *//')"
done
echo "== monitor"; tail -n 2 $WORK/logs/monitor.txt
du -sh $SHM/qwen3lab-hf $WORK/q-full/artifacts/* $WORK/q-full/artifacts/.gguf-work 2>/dev/null > $WORK/logs/du.txt
mkdir -p $WORK/logs/series
for d in /tmp/qwen3lab-test-gpu.*; do [ -d "$d" ] && cp -r "$d" $WORK/logs/series/ 2>/dev/null; done
gzip -qf $WORK/logs/series/*/gpumem.txt 2>/dev/null
for h in $WORK/q-full/artifacts $SHM/q-tiny/artifacts; do
  tag=$(basename "$(dirname "$h")"); mkdir -p $WORK/logs/$tag
  # the executed copies and their cell logs (under 1 MB for the series): written as each notebook
  # ends, and the logs while it runs, so a run cut off early still tells where its time went
  mkdir -p $WORK/logs/$tag/notebooks; cp $h/notebooks/* $WORK/logs/$tag/notebooks/ 2>/dev/null
  cp $h/../gpu-report.txt $WORK/logs/$tag/ 2>/dev/null
  cp $h/eval/*.csv $h/eval/*.json $WORK/logs/$tag/ 2>/dev/null
  cp $h/gguf/manifest.json $WORK/logs/$tag/gguf-manifest.json 2>/dev/null
  cp $h/grpo/history.csv $WORK/logs/$tag/grpo-history.csv 2>/dev/null
  cp $h/grpo/manifest.json $WORK/logs/$tag/grpo-manifest.json 2>/dev/null
done
tar -czf "$out/r.tgz" -C "$WORK" logs 2>/dev/null
true
