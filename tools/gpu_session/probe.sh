#!/usr/bin/env bash
# Probe some notebooks alone at the full profile's shape, in the background, when a lent machine has
# too little time left for the whole series (about 1,400 s): the rehearsal hub, then the notebooks
# named (default: 08) through the runner, in order, on the full profile. Without 06 in the list,
# 08 gets a STAND-IN for artifacts/merged: the hub's random-weight unsloth/Qwen3-8B (16 GB, bf16,
# the layout 06's merge writes), with a manifest that says so. A probe measures what those
# notebooks cost on the 8B and whether their checks hold at that size; it is not a series run and
# proves nothing about the notebooks it skips. Follow it with tools/gpu_session/poll.sh.
#
#   bash tools/gpu_session/probe.sh            # 08 on a stand-in merged model
#   bash tools/gpu_session/probe.sh 03 04 05   # data and training, for 05's tokens/s
set -u
nbs=$(for n in "${@:-08}"; do ls notebooks/"$n"_*.ipynb; done) || exit 2
only=models; standin=0
case " $* " in *" 03 "*) only=all;; esac
case " ${*:-08} " in *" 06 "*) ;; *" 08 "*) standin=1;; esac
echo "probe: $(echo $nbs | xargs -n1 basename | tr "\n" " ")(hub: $only; stand-in merged model: $standin)"
. "$(dirname "$0")/common.sh"
begin_session
install_wheels || exit 1
rm -rf $WORK/proj-full && cp -r . $WORK/proj-full
echo "exit 0 (no tiny series in a probe)" > $WORK/logs/tiny.log
cd $WORK/proj-full && setsid nohup env PYTHONPATH=$WORK/site:$WORK/proj-full PYTHONUNBUFFERED=1 \
  QWEN3LAB_PROFILE=full QWEN3LAB_HOME=$WORK/q-full/artifacts HF_HOME=$SHM/qwen3lab-hf \
  NBS="$nbs" ONLY=$only STANDIN=$standin QWEN3LAB_MAX_NEW_TOKENS=${REPLY_OFF:-64} QWEN3LAB_MAX_NEW_TOKENS_THINKING=${REPLY_ON:-128} bash -c '
  set -e; trap '"'"'echo "exit $?"'"'"' EXIT
  t=$(date +%s)
  python3 tools/rehearsal_hub.py --hf-home "$HF_HOME" --shape full --only "$ONLY"
  export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
  mkdir -p "$QWEN3LAB_HOME"; merged=$QWEN3LAB_HOME/merged
  if [ "$STANDIN" = 1 ]; then rm -rf "$merged"
  cp -rL "$HF_HOME"/hub/models--unsloth--Qwen3-8B/snapshots/* "$merged.tmp" && mv "$merged.tmp" "$merged"
  python3 - <<PY
from qwen3lab import artifacts as a
a.write_manifest("$merged", what="STAND-IN for a merged model: the rehearsal hub'"'"'s random-weight unsloth/Qwen3-8B, "
                 "copied by tools/gpu_session/probe.sh to probe notebook 08 without 06; not a merge", cfg={"profile": "full"})
PY
  echo "stand-in merged model: $(du -sh "$merged" | cut -f1) in $(( $(date +%s) - t )) s"; fi
  python3 tools/run_notebooks.py --no-progress $NBS' > $WORK/logs/full.log 2>&1 < /dev/null &
start_monitor 10
echo "probe started at $(date -u +%T)"
