#!/usr/bin/env bash
# The performance run of docs/benchmarks.md on one GPU, in the background, most valuable first:
#
#   1. benchmarks/bench_train.py at max_seq_length 8192: the source recipe (b), the fitted recipe (c)
#      and the Liger peer (l), the same rows and steps for each;
#   2. notebook 05 itself with the speed layer on (QWEN3LAB_SPEED_LAYER=true), on the full profile's
#      rehearsal hub (03 and 04 run on the CPU while step 1 runs), for its own trained tokens/s;
#   3. notebook 05 under fast.cap_gpu_memory 24 and 16 GiB (and 79, an 80 GB card, on a bigger card),
#      then the benchmark under the same caps.
#
#   bash tools/gpu_session/perf.sh            # from the repo root, wheels in .whl/ (docs/gpu.md)
#   bash tools/gpu_session/poll.sh 300        # follow it; results in $WORK/logs/perf, packed by poll
#
# WORK (default /tmp) holds the copy of the tree, the benchmark's model and data and the artifacts;
# HF_HOME (default $SHM/qwen3lab-hf) the rehearsal hub. STEPS (default 20) benchmark steps a recipe, WARMUP
# (default 8) of them left out of the timing (at 8192 the first step split in two passes recompiles).
# RECIPES (default c,b,l) the benchmark's recipes; ONLY_BENCH=1 runs the benchmark alone (little device time).
set -u
. "$(dirname "$0")/common.sh"
begin_session
install_wheels || exit 1
hub=${HF_HOME:-$SHM/qwen3lab-hf}
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; echo "cores $(nproc)"; free -g
  python3 -c 'import torch, transformers, trl, peft, bitsandbytes, unsloth, liger_kernel
print("torch", torch.__version__, "transformers", transformers.__version__, "trl", trl.__version__, "peft", peft.__version__,
      "bitsandbytes", bitsandbytes.__version__, "unsloth", unsloth.__version__)' 2>&1 | grep -v Unsloth | tail -n 1
} > $WORK/logs/machine.txt 2>&1
echo "exit 0 (no tiny series in a performance run)" > $WORK/logs/tiny.log
rm -rf "$WORK/proj-perf" && cp -r . "$WORK/proj-perf"
cd "$WORK/proj-perf" && setsid nohup env PYTHONPATH=$WORK/site:$WORK/proj-perf PYTHONUNBUFFERED=1 \
  HF_HOME="$hub" STEPS="${STEPS:-20}" WARMUP="${WARMUP:-8}" RECIPES="${RECIPES:-c,b,l}" ONLY_BENCH="${ONLY_BENCH:-0}" bash -c '
  trap '"'"'echo "exit $?"'"'"' EXIT
  R=$WORK/logs/perf; mkdir -p $R; home=$WORK/q-perf/artifacts
  bench() { local tag=$1; shift
    python3 benchmarks/bench_train.py --steps $STEPS --warmup $WARMUP --model-dir $SHM/qwen3-8b-shape --logs $R/logs \
      --out $R/$tag.json "$@" > $R/$tag.txt 2>&1; echo "bench $tag: exit $? at $(( $(date +%s) - $(cat $WORK/t0) )) s"; }
  nb05() { local tag=$1; shift
    env "$@" QWEN3LAB_PROFILE=full QWEN3LAB_SPEED_LAYER=true HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 \
      QWEN3LAB_HOME=$home python3 tools/run_notebooks.py --no-progress notebooks/05_*.ipynb > $R/05-$tag.log 2>&1
    echo "05 $tag: exit $? at $(( $(date +%s) - $(cat $WORK/t0) )) s"
    cp $home/notebooks/05_lora_training.ipynb $R/05-$tag.ipynb 2>/dev/null
    cp $home/notebooks/summary.md $R/05-$tag-summary.md 2>/dev/null
    grep -ho "[0-9]* 步：全部算在内每秒训练 [^\"]*" $R/05-$tag.ipynb | head -n 1
    grep -ho "去掉前 8 步：每秒训练 [0-9,]* 个 token" $R/05-$tag.ipynb | head -n 1
    grep -ho "峰值 [0-9.]* GiB = [^\"]*" $R/05-$tag.ipynb | head -n 1; }
  if [ "$ONLY_BENCH" = 1 ]; then bench seq8192 --recipes "$RECIPES"; exit 0; fi  # little device time left
  python3 tools/rehearsal_hub.py --hf-home "$HF_HOME" --shape full > $R/hub.log 2>&1; echo "hub: exit $? at $(( $(date +%s) - $(cat $WORK/t0) )) s"
  ( env QWEN3LAB_PROFILE=full HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 QWEN3LAB_HOME=$home \
      python3 tools/run_notebooks.py --no-progress notebooks/03_*.ipynb notebooks/04_*.ipynb > $R/03-04.log 2>&1
    echo "03-04: exit $? at $(( $(date +%s) - $(cat $WORK/t0) )) s" ) &
  data=$!
  bench seq8192 --recipes "$RECIPES"
  wait $data
  nb05 nocap
  nb05 cap24 QWEN3LAB_GPU_MEMORY_CAP_GIB=24
  nb05 cap16 QWEN3LAB_GPU_MEMORY_CAP_GIB=16
  if [ "$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits | head -n 1)" -gt 90000 ]; then
    nb05 cap79 QWEN3LAB_GPU_MEMORY_CAP_GIB=79   # an 80 GB card on a bigger one
    bench seq8192-cap79 --memory-cap-gib 79 --recipes c,b
  fi
  bench seq8192-cap24 --memory-cap-gib 24 --recipes c,b
  bench seq8192-cap16 --memory-cap-gib 16 --recipes c,b
' > $WORK/logs/full.log 2>&1 < /dev/null &
start_monitor 15
echo "performance run started at $(date -u +%T)"
