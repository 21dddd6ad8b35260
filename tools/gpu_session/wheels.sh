#!/usr/bin/env bash
# Build the two wheel folders that start.sh and probe.sh install on a GPU machine without a package
# index, from the repo root of a clone where `make setup` has run (docs/gpu.md):
#
#   .whl/       the training and notebook-test stack for Python 3.12 (WHEELHOUSE, default
#               ../shared/gpu/wheelhouse.sh) plus what 07 and the runner need beyond it
#   .whl-gguf/  for 08: the llama-cpp-python wheel `make setup` compiled (pip's wheel cache),
#               without its headers and its second copy of every library, with this machine's
#               libgomp.so.1 beside libggml-cpu.so (whose RUNPATH is $ORIGIN; the GPU image lacks
#               it), plus gguf and diskcache
#
#   bash tools/gpu_session/wheels.sh      # then carry [".whl", ".whl-gguf", ".venv/src/llama.cpp-0.3.36"]
#
# Both folders (and the one .whl-gguf is built in) are added to .git/info/exclude. Running it again rebuilds .whl-gguf from the cache.
set -euo pipefail
llama=llama_cpp_python-0.3.36-py3-none-linux_x86_64.whl
gomp=${LIBGOMP:-/lib/x86_64-linux-gnu/libgomp.so.1}
[ -d .venv/src/llama.cpp-0.3.36 ] || { echo "no .venv/src/llama.cpp-0.3.36: run make setup first"; exit 2; }
[ -f "$gomp" ] || { echo "no $gomp here (LIBGOMP=<path to libgomp.so.1>)"; exit 2; }
cached=$(find "${PIP_CACHE_DIR:-$HOME/.cache/pip}/wheels" -name "$llama" 2>/dev/null | head -n 1)
[ -n "$cached" ] || { echo "no $llama in pip's wheel cache: run make setup on this machine first"; exit 2; }

wheelhouse=${WHEELHOUSE:-../shared/gpu/wheelhouse.sh}
bash "$wheelhouse" nbclient==0.11.0 tokenizers==0.23.3 regex==2026.11.19 \
  math-verify==0.9.0 latex2sympy2_extended==1.11.0 antlr4-python3-runtime==4.13.2

for d in /.whl-gguf/ /.whl-gguf.tmp/; do grep -qx "$d" .git/info/exclude 2>/dev/null || echo "$d" >> .git/info/exclude; done
rm -rf .whl-gguf.tmp && mkdir .whl-gguf.tmp
cp "$cached" .whl-gguf.tmp/
python3 "$(dirname "$wheelhouse")/strip_wheel.py" ".whl-gguf.tmp/$llama" 'include/*' 'lib/*' 'llama_cpp/lib/*.so.0.*'
python3 - ".whl-gguf.tmp/$llama" "$gomp" <<'PY'
"""Add libgomp.so.1 to the wheel as llama_cpp/lib/libgomp.so.1, with its RECORD line."""
import base64, hashlib, os, sys, zipfile

wheel, gomp = sys.argv[1], sys.argv[2]
member = "llama_cpp/lib/libgomp.so.1"
data = open(gomp, "rb").read()
digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
with zipfile.ZipFile(wheel) as zin, zipfile.ZipFile(wheel + ".tmp", "w", zipfile.ZIP_DEFLATED) as zout:
    for info in zin.infolist():
        body = zin.read(info.filename)
        if info.filename == member:
            continue
        if info.filename.endswith(".dist-info/RECORD"):
            lines = [l for l in body.decode().splitlines() if l and not l.startswith(member + ",")]
            body = ("\n".join(lines + [f"{member},sha256={digest},{len(data)}"]) + "\n").encode()
        zout.writestr(info, body)
    lib = zipfile.ZipInfo(member, date_time=(1980, 1, 1, 0, 0, 0))
    lib.external_attr, lib.compress_type = 0o100755 << 16, zipfile.ZIP_DEFLATED
    zout.writestr(lib, data)
os.replace(wheel + ".tmp", wheel)
print(f"{os.path.basename(wheel)}: + {member} ({len(data):,} bytes)")
PY
(cd .whl-gguf.tmp && python3 -m pip download -q --no-deps --only-binary=:all: gguf==0.19.0 diskcache==5.6.3 2>&1 \
  | grep -v 'is ignored' || true)
ls .whl-gguf.tmp/gguf-0.19.0-*.whl .whl-gguf.tmp/diskcache-5.6.3-*.whl >/dev/null
rm -rf .whl-gguf && mv .whl-gguf.tmp .whl-gguf
du -sh .whl .whl-gguf .venv/src/llama.cpp-0.3.36
