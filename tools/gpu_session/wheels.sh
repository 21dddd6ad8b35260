#!/usr/bin/env bash
# Build the two wheel folders that start.sh and probe.sh install on a GPU machine without a package
# index, from the repo root of a clone where `make setup` has run (docs/gpu.md):
#
#   .whl/       the training and notebook-test stack for Python 3.12 (tools/gpu_session/wheels.txt),
#               unsloth without its web studio, bitsandbytes with its CPU and CUDA 13 binaries only
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

here=$(dirname "$0")
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
mkdir -p .whl
plats=(); for n in 28 27 26 24 17 12 5; do plats+=(--platform "manylinux_2_${n}_x86_64"); done
plats+=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${plats[@]}" \
  -d .whl -r "$here/wheels.txt" 2>&1 | grep -v 'is ignored' || true
ls .whl/pwinput-*.whl >/dev/null 2>&1 || python3 -m pip wheel -q --no-deps -w .whl pwinput==1.0.3
for w in .whl/unsloth-2*.whl; do python3 "$here/wheel_edit.py" drop "$w" 'studio/*'; done
for w in .whl/bitsandbytes-*.whl; do
  python3 "$here/wheel_edit.py" drop "$w" 'bitsandbytes/libbitsandbytes_cuda1[12]*.so' \
    'bitsandbytes/libbitsandbytes_rocm*.so' 'bitsandbytes/libbitsandbytes_xpu*.so'
done

for d in /.whl-gguf/ /.whl-gguf.tmp/; do grep -qx "$d" .git/info/exclude 2>/dev/null || echo "$d" >> .git/info/exclude; done
rm -rf .whl-gguf.tmp && mkdir .whl-gguf.tmp
cp "$cached" .whl-gguf.tmp/
python3 "$here/wheel_edit.py" drop ".whl-gguf.tmp/$llama" 'include/*' 'lib/*' 'llama_cpp/lib/*.so.0.*'
python3 "$here/wheel_edit.py" add ".whl-gguf.tmp/$llama" llama_cpp/lib/libgomp.so.1 "$gomp"
(cd .whl-gguf.tmp && python3 -m pip download -q --no-deps --only-binary=:all: gguf==0.19.0 diskcache==5.6.3 2>&1 \
  | grep -v 'is ignored' || true)
ls .whl-gguf.tmp/gguf-0.19.0-*.whl .whl-gguf.tmp/diskcache-5.6.3-*.whl >/dev/null
rm -rf .whl-gguf && mv .whl-gguf.tmp .whl-gguf
du -sh .whl .whl-gguf .venv/src/llama.cpp-0.3.36
