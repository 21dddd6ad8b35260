"""Edit a wheel in place, keeping its RECORD true, for the wheel folders a GPU machine without a
package index installs from (tools/gpu_session/wheels.sh):

    python wheel_edit.py drop WHEEL GLOB [GLOB ...]     # leave out the members matching a glob
    python wheel_edit.py add WHEEL MEMBER FILE          # put FILE into the wheel as MEMBER

``drop`` slims wheels under the device's 64 MiB carry limit (unsloth's web studio, bitsandbytes'
binaries for other CUDA and ROCm builds); ``add`` brings a shared library the GPU image lacks.
The wheel is rewritten beside itself and moved into place.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import os
import sys
import zipfile


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def rewrite(wheel: str, drop: list[str], add: dict[str, bytes]) -> int:
    """Copy ``wheel`` without the members matching ``drop`` and with ``add``; returns members dropped."""
    with zipfile.ZipFile(wheel) as zin, zipfile.ZipFile(wheel + ".tmp", "w", zipfile.ZIP_DEFLATED) as zout:
        gone = {n for n in zin.namelist() if any(fnmatch.fnmatch(n, g) for g in drop)} | set(add)
        for info in zin.infolist():
            if info.filename in gone:
                continue
            body = zin.read(info.filename)
            if info.filename.endswith(".dist-info/RECORD"):
                kept = [line for line in body.decode().splitlines() if line and line.split(",")[0] not in gone]
                body = ("\n".join(kept + [_record_line(n, d) for n, d in add.items()]) + "\n").encode()
            zout.writestr(info, body)
        for name, data in add.items():
            member = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            member.external_attr, member.compress_type = 0o100755 << 16, zipfile.ZIP_DEFLATED
            zout.writestr(member, data)
    os.replace(wheel + ".tmp", wheel)
    return len(gone) - len(add)


def main(argv: list[str]) -> int:
    if len(argv) >= 3 and argv[0] == "drop":
        n = rewrite(argv[1], argv[2:], {})
    elif len(argv) == 4 and argv[0] == "add":
        n = rewrite(argv[1], [], {argv[2]: open(argv[3], "rb").read()})
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(f"{os.path.basename(argv[1])}: {argv[0]} done ({n} members dropped), {os.path.getsize(argv[1]) / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
