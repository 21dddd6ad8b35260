# Shared by start.sh and probe.sh (sourced, from the repo root): the clock every log counts from,
# the wheels, and the monitor.

# WORK (default /tmp) holds the logs, the installed wheels, the copies of the tree and the full
# series' artifacts; SHM (default /dev/shm, RAM) the rehearsal hub and the tiny series' artifacts.
export WORK=${WORK:-/tmp} SHM=${SHM:-/dev/shm}

# $WORK/t0 (poll.sh and the monitor count from it) and $WORK/logs
begin_session() { date +%s > $WORK/t0; mkdir -p $WORK/logs; }

# .whl/ and .whl-gguf/ into $WORK/site, compiled to bytecode once: the image sets
# PYTHONDONTWRITEBYTECODE=1, so no process would ever write any (installed without it,
# `import qwen3lab` spent 14.8 s on the H200 compiling 3,392 module sources)
install_wheels() {
  local t; t=$(date +%s)
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target $WORK/site \
    .whl/*.whl $(ls .whl-gguf/*.whl 2>/dev/null) > $WORK/logs/pip.log 2>&1 || { tail -20 $WORK/logs/pip.log; return 1; }
  python3 -m compileall -q -j 0 $WORK/site > $WORK/logs/compileall.log 2>&1 || true
  echo "wheels installed and compiled: $(( $(date +%s) - t )) s"
}

# every SECONDS, into $WORK/logs/monitor.txt: seconds since begin_session, RAM, /dev/shm, disk, GPU memory
start_monitor() {
  setsid nohup bash -c 'while true; do
  echo "$(( $(date +%s) - $(cat $WORK/t0) )) s | RAM used $(free -m | awk "/Mem/ {print \$3}") MiB | shm $(du -sm $SHM 2>/dev/null | cut -f1) MiB | disk used $(df -m $WORK | awk "NR==2 {print \$3}") MiB | gpu $(nvidia-smi --query-gpu=memory.used --format=csv,noheader)"
  sleep '"$1"'; done' > $WORK/logs/monitor.txt 2>&1 < /dev/null &
}
