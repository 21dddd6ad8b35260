#!/usr/bin/env bash
# Start the whole series twice on a GPU machine, in the background, and return at once:
# the full profile on the rehearsal hub (`make test-gpu PROFILE=full REHEARSAL=1 JOBS=2`) and the
# tiny profile under nbval (`make test-gpu`), side by side, each from its own copy of the tree.
# For a machine lent for a limited time (docs/gpu.md): follow the runs with tools/gpu_session/poll.sh.
#
#   bash tools/gpu_session/start.sh     # from the repo root; wheels in .whl/ and .whl-gguf/ (docs/gpu.md)
#
# Installs the wheels into $WORK/site and compiles them to bytecode once (common.sh), records the
# machine, starts both series and a monitor of RAM, /dev/shm, disk and GPU memory (PROFILE_IMPORT=1:
# and profiles `import qwen3lab` once beside them, niced). Logs go to $WORK/logs. EVAL_ROWS (default 64)
# sets the full profile's held-out rows per set for 07 (its default, 200, takes about 3x as long).
# REPLY_TOKENS="OFF ON" (default "64 128") sets the full series' reply lengths, thinking off and on:
# a random 8B's every reply runs to its limit, so in a rehearsal they cost time and show nothing.
# At the source's 256 and 1024 (REPLY_TOKENS=profile keeps them) 06 took 799 s and 07 546 s on the
# H200 (2026-12-02), and the series did not fit in 30 minutes of device time.
# FULL_NOTEBOOKS (default: all) runs only the numbered notebooks of the full series; list the ones they
# read from too, e.g. FULL_NOTEBOOKS="00 03 04 05 09" for 09 (the tiny series always runs whole).
set -u
. "$(dirname "$0")/common.sh"
begin_session
install_wheels || exit 1
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; echo "cores $(nproc)"; free -g
  df -h "$WORK" "$SHM"; env | grep -E '^PYTHON|^HF_|^CUDA' || true; } | tee $WORK/logs/machine.txt
for p in full tiny; do rm -rf $WORK/proj-$p; cp -r . $WORK/proj-$p; done
rows=${EVAL_ROWS:-64}
replies=(); [ "${REPLY_TOKENS:-64 128}" = profile ] || { read -r off on <<<"${REPLY_TOKENS:-64 128}"
  replies=(QWEN3LAB_MAX_NEW_TOKENS=$off QWEN3LAB_MAX_NEW_TOKENS_THINKING=$on); }
full_nbs=(); [ -n "${FULL_NOTEBOOKS:-}" ] && full_nbs=("NOTEBOOKS=$(for n in $FULL_NOTEBOOKS; do printf 'notebooks/%s_*.ipynb ' "$n"; done)")
echo "full series: $rows + $rows evaluation rows; reply lengths: ${replies[*]:-as in the profile}; ${FULL_NOTEBOOKS:-every notebook}"
cd $WORK/proj-full && setsid nohup env PYTHONPATH=$WORK/site:$WORK/proj-full PYTHONUNBUFFERED=1 \
  QWEN3LAB_EVAL_REASONING_ROWS=$rows QWEN3LAB_EVAL_CHAT_ROWS=$rows "${replies[@]}" "${full_nbs[@]}" QWEN3LAB_HOME=$WORK/q-full/artifacts \
  HF_HOME=$SHM/qwen3lab-hf bash -c 'make test-gpu PY=python3 PROFILE=full REHEARSAL=1 JOBS=2; echo "exit $?"' \
  > $WORK/logs/full.log 2>&1 < /dev/null &
sleep 2
cd $WORK/proj-tiny && setsid nohup env PYTHONPATH=$WORK/site:$WORK/proj-tiny PYTHONUNBUFFERED=1 \
  QWEN3LAB_HOME=$SHM/q-tiny/artifacts bash -c 'make test-gpu PY=python3; echo "exit $?"' \
  > $WORK/logs/tiny.log 2>&1 < /dev/null &
[ "${PROFILE_IMPORT:-0}" = 1 ] && cd $WORK/proj-tiny && setsid nohup env PYTHONPATH=$WORK/site:$WORK/proj-tiny nice -n 10 \
  python3 -X importtime tools/gpu_session/import_profile.py > $WORK/logs/importprofile.txt 2> $WORK/logs/importtime.txt < /dev/null &
start_monitor 20
echo "started at $(date -u +%T)"
