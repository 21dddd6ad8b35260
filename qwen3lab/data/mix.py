"""How many rows of each set the mix of notebook 04 takes: the source's formula and the corrected one.

The source tutorial says ``chat_percentage = 0.75`` means 75% chat rows but samples
``int(len(reasoning) * (1.0 - chat_percentage))`` chat rows, a 20% share on the full sets
(https://github.com/unslothai/notebooks/issues/38). The share ``p`` holds with
``n_chat = int(n_reasoning * p / (1 - p))``; when the chat rows run out, the corrected mix takes
every chat row and ``int(n_chat * (1 - p) / p)`` reasoning rows instead. Introduced in 04_sampling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

from .validate import DataError


@dataclass(frozen=True)
class Mix:
    """Rows taken from each set. Introduced in 04_sampling."""

    reasoning: int
    chat: int

    @property
    def total(self) -> int:
        return self.reasoning + self.chat

    @property
    def chat_share(self) -> float:
        """The chat rows' share of the mix (0 for an empty mix)."""
        return self.chat / self.total if self.total else 0.0


def mix_counts(n_reasoning: int, n_chat: int, chat_percentage: float) -> tuple[Mix, Mix]:
    """(the source's formula, the corrected one) for sets of ``n_reasoning`` and ``n_chat`` rows.

    The source's: every reasoning row and ``int(n_reasoning * (1.0 - p))`` chat rows (what its
    ``pd.Series(...).sample(...)`` asks for). The corrected: chat rows make up ``p`` of the mix (to
    the row), every row of the set that runs out first; 0 and 1 give only reasoning or only chat
    rows. ``DataError`` for a ``p`` outside [0, 1] or sets too small to mix at ``p``.
    Introduced in 04_sampling.
    """
    if isinstance(chat_percentage, bool) or not isinstance(chat_percentage, Real):
        raise DataError(f"chat_percentage={chat_percentage!r} must be a number in [0, 1], e.g. 0.75 (the source "
                        "tutorial's: 75% chat rows)")
    p = float(chat_percentage)
    if math.isnan(p) or not 0.0 <= p <= 1.0:
        raise DataError(f"chat_percentage={chat_percentage!r} is outside [0, 1]: it is the share of chat rows in "
                        "the mix (0 = only reasoning, 1 = only chat)")
    source = Mix(n_reasoning, int(n_reasoning * (1.0 - p)))
    if p == 0.0:
        corrected = Mix(n_reasoning, 0)
    elif p == 1.0:
        corrected = Mix(0, n_chat)
    else:
        wanted = int(n_reasoning * p / (1 - p) + 1e-9)  # + 1e-9: 0.6 / 0.4 is 1.4999999999999998
        corrected = (Mix(n_reasoning, wanted) if wanted <= n_chat
                     else Mix(int(n_chat * (1 - p) / p + 1e-9), n_chat))
    if corrected.total == 0 or (0.0 < p < 1.0 and 0 in (corrected.reasoning, corrected.chat)):
        raise DataError(f"chat_percentage={p} of {n_reasoning} reasoning and {n_chat} chat rows gives "
                        f"{corrected.reasoning} reasoning and {corrected.chat} chat rows: too few rows to mix")
    return source, corrected


__all__ = ["Mix", "mix_counts"]
