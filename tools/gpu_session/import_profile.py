"""Where `q.setup()` (Unsloth's import and patches included) spends its time on this machine:
the wall time, then the 40 calls with the most cumulative time and the 25 with the most own time.
Run with `python -X importtime` to get the per-module table on stderr too."""

import cProfile
import io
import pstats
import time

start = time.perf_counter()
profile = cProfile.Profile()
profile.enable()
import qwen3lab  # noqa: E402

qwen3lab.setup()

profile.disable()
print(f"import qwen3lab; qwen3lab.setup(): {time.perf_counter() - start:.1f} s")
for key, count in (("cumulative", 40), ("tottime", 25)):
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats(key).print_stats(count)
    print(text.getvalue())
