#!/usr/bin/env bash
# `make test-gpu`: every notebook under nbval, with Unsloth, on a CUDA GPU.
#
# PROFILE=full with the Hub (or a pre-filled cache) runs the real Qwen3-8B: the notebooks are
# executed and their assert cells must pass (the stored outputs of checked cells are the tiny
# profile's, so they are not compared). Otherwise the tiny model runs in 4-bit, offline, and
# checked cells are compared as on the CPU. Prints the wall time of each notebook and the peak
# GPU memory seen by nvidia-smi (all processes) during it and over the series.
# QWEN3LAB_UNSLOTH_LOADER=FastModel runs the tiny model through the full profile's loader
# (executed, asserts checked). Uses $PY (default: .venv/bin/python if present, else python3).
#
# PROFILE=full REHEARSAL=1: no Hub needed. HF_HOME (default /dev/shm/qwen3lab-hf: RAM, 23 GB of it;
# 61-80 s on an H200, the weights drawn and quantized on the GPU) gets the rehearsal hub of tools/rehearsal_hub.py (the four repos in the real
# shapes, random weights, synthetic rows; repos already there, rehearsal or real, are kept), then the
# series runs on it with HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1. A pre-filled HF_HOME works without
# REHEARSAL: set HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 yourself.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
export UNSLOTH_AUTO_INSTALL=0 TOKENIZERS_PARALLELISM=false
export QWEN3LAB_HOME=${QWEN3LAB_HOME:-$PWD/artifacts-gpu}
REPORT=${REPORT:-$QWEN3LAB_HOME/../gpu-report.txt}
LOGS=$(mktemp -d /tmp/qwen3lab-test-gpu.XXXXXX)  # per run: two runs (tiny and full) can share a GPU
if [ "${PROFILE:-tiny}" = full ] && [ "${REHEARSAL:-0}" = 1 ]; then
  command -v nvidia-smi >/dev/null || { echo "make test-gpu needs a CUDA GPU; on a CPU run \`make test\` instead" >&2; exit 1; }
  export HF_HOME=${HF_HOME:-/dev/shm/qwen3lab-hf} HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
  "$PY" tools/rehearsal_hub.py --hf-home "$HF_HOME" --shape full 2>&1 | tee $LOGS/hub.log
fi

profile=$("$PY" - "${PROFILE:-tiny}" <<'PY'
import sys, torch, importlib.util
if not torch.cuda.is_available():
    sys.exit("make test-gpu needs a CUDA GPU; on a CPU run `make test` instead")
if importlib.util.find_spec("unsloth") is None:
    sys.exit("make test-gpu needs Unsloth: pip install --no-deps unsloth==2026.10.9 unsloth_zoo==2026.10.9")
wanted = sys.argv[1]
if wanted == "full":
    from qwen3lab.config import get_config
    from qwen3lab.machine import MachineError, check_model_reachable
    try:
        check_model_reachable(get_config("full").model_name)
    except MachineError as err:
        print(f"full profile unavailable ({err}); using the tiny model in 4-bit "
              "(REHEARSAL=1 rehearses the full profile offline: docs/gpu.md)", file=sys.stderr)
        wanted = "tiny"
print(wanted)
PY
)
profile=$(tail -n 1 <<<"$profile")  # the last line: importing Unsloth prints its banner to stdout
export QWEN3LAB_PROFILE=$profile
# KEEP_HOME=1 keeps the artifacts of an earlier run (to re-run some notebooks: NOTEBOOKS="notebooks/06_*.ipynb")
[ "${KEEP_HOME:-0}" = 1 ] || rm -rf "$QWEN3LAB_HOME"
mkdir -p "$QWEN3LAB_HOME"  # the report is written beside it, through ..
# tiny: nbval compares checked cells, one notebook at a time, each with the peak GPU memory
# nvidia-smi saw during it (all processes). Full, or QWEN3LAB_UNSLOTH_LOADER set (the stored outputs
# come from the tiny profile's own loader): the runner executes the notebooks and their asserts
# must pass; it reports each kernel's own peak (PyTorch's max_memory_reserved), so JOBS=2 can run
# notebooks that do not need each other side by side (01 and 02 beside 03, 07 beside 06).
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 250 > $LOGS/gpumem.txt &
smi=$!
trap 'kill $smi 2>/dev/null || true' EXIT
{
  echo "profile=$profile loader=${QWEN3LAB_UNSLOTH_LOADER:-profile default} jobs=${JOBS:-1} $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader)"
  "$PY" -c "from qwen3lab import artifacts as a; print(' '.join(f'{k}={v}' for k, v in a.library_versions().items()))"
  # the config fields set from the environment (QWEN3LAB_<FIELD>): what this run changed from the profile
  overrides=$(env | grep -E '^QWEN3LAB_' | grep -vE '^QWEN3LAB_(HOME|PROFILE|CONFIG)=' | sort | tr '\n' ' ' || true)
  [ -n "$overrides" ] && echo "set from the environment: $overrides"
  [ -s $LOGS/hub.log ] && { echo "HF_HOME=$HF_HOME (rehearsal hub):"; grep -E ' s$|^rehearsal hub' $LOGS/hub.log; }
  true
} | tee "$REPORT"
status=0
passed=0; failed=0; notebooks=0; notebooks_ok=0; series_start=$(date +%s.%N)
nbs=$(ls ${NOTEBOOKS:-notebooks/[0-9][0-9]_*.ipynb})
if [ "$profile" = full ] || [ -n "${QWEN3LAB_UNSLOTH_LOADER:-}" ]; then
  "$PY" tools/run_notebooks.py --no-progress --jobs "${JOBS:-1}" $nbs > $LOGS/runner.log 2> $LOGS/runner.err || status=1
  grep -vE ' started$' $LOGS/runner.log | tee -a "$REPORT"
  # where each notebook's minutes went (the runner's summary: its three slowest cells)
  awk '/^## Where the time went/ { on = 1; print; next } on && /^- / { print; next } on && /^(\*\*|## )/ { exit }' \
    "$QWEN3LAB_HOME/notebooks/summary.md" 2>/dev/null | tee -a "$REPORT" || true
  [ $status = 0 ] || tail -n 60 $LOGS/runner.err
  notebooks=$(wc -w <<<"$nbs")
  notebooks_ok=$(grep -cE ' s  passed' $LOGS/runner.log || true)
else
  for nb in $nbs; do
    start=$(date +%s.%N); samples=$(wc -l < $LOGS/gpumem.txt)
    notebooks=$((notebooks + 1))
    if "$PY" -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env "$nb" > $LOGS/nb.log 2>&1; then
      result=passed; notebooks_ok=$((notebooks_ok + 1))
    else
      result=FAILED; status=1; tail -n 60 $LOGS/nb.log
    fi
    summary=$(tail -n 1 $LOGS/nb.log)
    passed=$((passed + $(grep -oE '[0-9]+ passed' <<<"$summary" | grep -oE '[0-9]+' || echo 0)))
    failed=$((failed + $(grep -oE '[0-9]+ failed' <<<"$summary" | grep -oE '[0-9]+' || echo 0)))
    secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
    nb_peak=$(tail -n +$((samples + 1)) $LOGS/gpumem.txt | sort -n | tail -n 1)
    printf '%-32s %-7s %6.1f s %7s MiB  %s\n' "$(basename "$nb")" "$result" "$secs" "${nb_peak:-?}" "$summary" | tee -a "$REPORT"
  done
fi
kill $smi 2>/dev/null || true
total=$(awk -v a="$series_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
# checked cells exist only under nbval; executed notebooks (full profile, or a loader set) count whole
cells=""; [ $((passed + failed)) -gt 0 ] && cells=" (nbval cells: $passed passed, $failed failed)"
echo "series: $notebooks_ok of $notebooks notebooks passed$cells in $total s" | tee -a "$REPORT"
peak=$(sort -n $LOGS/gpumem.txt | tail -n 1)
echo "peak GPU memory (nvidia-smi, all processes): ${peak} MiB" | tee -a "$REPORT"
exit $status
