# Shared by start.sh and probe.sh (sourced, from the repo root): the clock every log counts from,
# the wheels, and the monitor.

# /tmp/t0 (poll.sh and the monitor count from it) and /tmp/logs
begin_session() { date +%s > /tmp/t0; mkdir -p /tmp/logs; }

# .whl/ and .whl-gguf/ into /tmp/site, compiled to bytecode once: the image sets
# PYTHONDONTWRITEBYTECODE=1, so no process would ever write any (installed without it,
# `import qwen3lab` spent 14.8 s on the H200 compiling 3,392 module sources)
install_wheels() {
  local t; t=$(date +%s)
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .whl/*.whl $(ls .whl-gguf/*.whl 2>/dev/null) > /tmp/logs/pip.log 2>&1 || { tail -20 /tmp/logs/pip.log; return 1; }
  python3 -m compileall -q -j 0 /tmp/site > /tmp/logs/compileall.log 2>&1 || true
  echo "wheels installed and compiled: $(( $(date +%s) - t )) s"
}

# every SECONDS, into /tmp/logs/monitor.txt: seconds since begin_session, RAM, /dev/shm, disk, GPU memory
start_monitor() {
  setsid nohup bash -c 'while true; do
  echo "$(( $(date +%s) - $(cat /tmp/t0) )) s | RAM used $(free -m | awk "/Mem/ {print \$3}") MiB | shm $(du -sm /dev/shm 2>/dev/null | cut -f1) MiB | disk used $(df -m /tmp | awk "NR==2 {print \$3}") MiB | gpu $(nvidia-smi --query-gpu=memory.used --format=csv,noheader)"
  sleep '"$1"'; done' > /tmp/logs/monitor.txt 2>&1 < /dev/null &
}
