"""Checking conversations before the chat template sees them: a report that names the row and the field.

Problems a learner can fix or drop go into a ``ValidationReport``; data that cannot be checked at
all raises ``DataError`` at once. ``role_counts`` and ``check_sharegpt`` look at every row, where
Unsloth's ``standardize_sharegpt`` infers the format from the first rows and fails later with a
bare ``KeyError``. Introduced in 03_dataset_cleaning.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

#: The roles a training conversation may use (the Qwen3 template also knows "tool"; our data does not).
ROLES = ("system", "user", "assistant")

#: The strings Qwen3's chat template writes around turns: inside a turn's text they forge a turn.
CONTROL_TOKENS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")

#: What to do about each kind of problem, printed with the report (in Chinese, as a learner reads it).
FIXES: dict[str, str] = {
    "null_conversation": "这一行没有对话（None）：删掉这一行",
    "empty_conversation": "对话一个回合也没有：删掉这一行",
    "null_turn": "某个回合是 None：删掉这一行",
    "unknown_role": f"角色不在 {list(ROLES)} 之中：按 standardize_sharegpt 的别名映射过去，或删掉这一行",
    "null_content": "content 是 None：删掉这一行，或补上这个回合的内容",
    "non_string_content": "content 不是字符串：用 str() 转换，或删掉这一行",
    "empty_content": "content 为空或只有空白：删掉这一行，或补上这个回合的内容",
    "special_token": "content 里有对话模板的控制符：模板会把它读成一个伪造的回合（损失掩码也会在上面训练）；"
                     "删掉这一行，或去掉这个控制符",
    "system_not_first": "system 回合不在最前面：把它移到开头，或删掉这一行",
    "first_not_user": "system 提示之后的第一个回合不是用户的：删掉这一行",
    "repeated_role": "同一个角色连续说了两个回合：合并它们，或删掉这一行",
    "last_not_assistant": "对话不是以助手的回答结束：删掉最后一个回合，或删掉这一行",
}


class DataError(ValueError):
    """A data set (or a setting) that cannot be used; the message names the row, the field and the fix.

    Introduced in 03_dataset_cleaning."""


@dataclass(frozen=True)
class Problem:
    """One finding: which row, which field, what kind, in words."""

    row: int
    field: str
    kind: str
    message: str

    def __str__(self) -> str:
        return f"第 {self.row} 行，{self.field}：{self.message}"


@dataclass
class ValidationReport:
    """What ``validate_conversations`` found. Introduced in 03_dataset_cleaning."""

    n_rows: int
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        """Number of problems of each kind, in the order of ``FIXES``."""
        found = Counter(p.kind for p in self.problems)
        return {kind: found[kind] for kind in FIXES if kind in found}

    def rows(self, *kinds: str) -> list[int]:
        """Sorted indices of the rows with a problem of one of ``kinds`` (any kind if none given)."""
        return sorted({p.row for p in self.problems if not kinds or p.kind in kinds})

    def good_rows(self) -> list[int]:
        """Indices of the rows without problems: ``dataset.select(report.good_rows())`` drops the others."""
        bad = set(self.rows())
        return [i for i in range(self.n_rows) if i not in bad]

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame([vars(p) for p in self.problems], columns=["row", "field", "kind", "message"])

    def summary(self, limit: int = 10) -> str:
        """A table (kind, problems, rows, what to do) and the first ``limit`` problems."""
        if self.ok:
            return f"检查了 {self.n_rows} 行：没有问题"
        lines = [f"检查了 {self.n_rows} 行：{len(self.rows())} 行共有 {len(self.problems)} 个问题",
                 f"  {'类别':<18}{'问题数':>5}{'行数':>6}  怎么办"]
        for kind, n in self.counts().items():
            lines.append(f"  {kind:<20}{n:>8}{len(self.rows(kind)):>8}  {FIXES[kind]}")
        lines += [f"  {p}" for p in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(f"  ……还有 {len(self.problems) - limit} 个（report.to_pandas() 列出全部）")
        return "\n".join(lines)

    __str__ = summary


def _conversations(dataset, keys: tuple[str, str]):
    """The ``conversations`` column of a ``datasets.Dataset`` (read lazily), or a list of conversations."""
    from datasets import Dataset, List

    if not isinstance(dataset, Dataset):
        if isinstance(dataset, (list, tuple)):
            return dataset
        raise DataError(f"expected a datasets.Dataset or a list of conversations, got {type(dataset).__name__}")
    if "conversations" not in dataset.column_names:
        raise DataError(f"no 'conversations' column; the data set has {dataset.column_names}. Reasoning rows: "
                        "map generate_conversation over them first")
    feature = dataset.features["conversations"]
    turn = feature.feature if isinstance(feature, List) else None
    if not isinstance(turn, dict):
        raise DataError(f"column 'conversations' has type {feature}; expected a list of {{{keys[0]}, {keys[1]}}} turns")
    missing = [k for k in keys if k not in turn]
    if missing:
        hint = " (ShareGPT turns: run standardize_sharegpt first)" if {"from", "value"} <= set(turn) else ""
        raise DataError(f"turns in 'conversations' have fields {sorted(turn)}, missing {missing}{hint}")
    return dataset["conversations"]


def _row_problems(row: int, conversation) -> list[Problem]:
    if conversation is None:
        return [Problem(row, "conversations", "null_conversation", "是 None")]
    if len(conversation) == 0:
        return [Problem(row, "conversations", "empty_conversation", "一个回合也没有")]
    found, previous = [], None
    for i, turn in enumerate(conversation):
        where = f"conversations[{i}]"
        if not isinstance(turn, dict):
            what = "是 None" if turn is None else f"是 {turn!r:.40}，不是一个回合"
            found.append(Problem(row, where, "null_turn", what))
            previous = None
            continue
        role, content = turn.get("role"), turn.get("content")
        if role not in ROLES:
            found.append(Problem(row, f"{where}.role", "unknown_role", f"{role!r:.40} 不在 {list(ROLES)} 之中"))
        if content is None:
            found.append(Problem(row, f"{where}.content", "null_content", "是 None"))
        elif not isinstance(content, str):
            found.append(Problem(row, f"{where}.content", "non_string_content",
                                 f"是 {type(content).__name__}（{content!r:.40}），不是字符串"))
        elif not content.strip():
            found.append(Problem(row, f"{where}.content", "empty_content",
                                 "是空的" if content == "" else f"只有空白（{content!r:.40}）"))
        elif any(token in content for token in CONTROL_TOKENS):
            at, token = min((content.index(t), t) for t in CONTROL_TOKENS if t in content)
            found.append(Problem(row, f"{where}.content", "special_token", f"第 {at} 个字符处有 {token}"))
        if role == "system" and i > 0:
            found.append(Problem(row, f"{where}.role", "system_not_first", f"system 回合在第 {i} 个位置"))
        elif role == "assistant" and (i == 0 or (i == 1 and previous == "system")):
            found.append(Problem(row, f"{where}.role", "first_not_user", "对话以助手的回合开头"))
        elif role in ROLES and role != "system" and role == previous:
            found.append(Problem(row, f"{where}.role", "repeated_role", f"连续第二个 {role} 回合"))
        if i == len(conversation) - 1 and role in ROLES and role != "assistant":
            found.append(Problem(row, f"{where}.role", "last_not_assistant", f"最后一个回合是 {role} 的"))
        previous = role
    return found


def validate_conversations(dataset) -> ValidationReport:
    """Check every row's ``conversations`` (role/content turns, as ``generate_conversation`` and
    ``standardize_sharegpt`` write them) of a ``datasets.Dataset`` or a list of conversations; the
    kinds of problem are those of ``FIXES``. ``DataError`` when it cannot be checked at all (no such
    column, ShareGPT turns not yet standardized, a column of strings). Introduced in 03_dataset_cleaning."""
    conversations = _conversations(dataset, ("role", "content"))
    problems = [p for row, conversation in enumerate(conversations) for p in _row_problems(row, conversation)]
    return ValidationReport(n_rows=len(conversations), problems=problems)


def role_counts(dataset, key: str | None = None) -> dict[str, int]:
    """How many turns of each role the whole data set has, most frequent first; ``key``: the turn
    field that holds the role, "from" (ShareGPT) or "role", found if None.
    Introduced in 03_dataset_cleaning."""
    from datasets import Dataset

    if key is None:
        feature = dataset.features.get("conversations") if isinstance(dataset, Dataset) else None
        turn = getattr(feature, "feature", None)
        key = "from" if isinstance(turn, dict) and "from" in turn else "role"
    content = {"from": "value", "role": "content"}.get(key, key)
    counts = Counter(t[key] for c in _conversations(dataset, (key, content)) if c for t in c if t)
    return dict(counts.most_common())


#: The ShareGPT role names Unsloth's ``standardize_sharegpt`` maps (to system, user, assistant).
SHAREGPT_ROLES = ("system", "human", "user", "input", "gpt", "assistant", "output")


def check_sharegpt(dataset, limit: int = 5) -> int:
    """Refuse ShareGPT rows that ``standardize_sharegpt`` would fail on with an error naming no row:
    a ``conversations`` that is null or not a list, a turn that is null or lacks ``from``/``value``,
    a ``value`` that is not text, a role it does not map. Raises ``DataError`` naming the first
    ``limit`` rows, their field and the fix; returns the number of rows checked. Run it before
    ``standardize_sharegpt``. Introduced in 03_dataset_cleaning."""
    bad: list[str] = []
    rows = _conversations(dataset, ("from", "value"))
    for i, conversation in enumerate(rows):
        if not isinstance(conversation, list) or not conversation:
            bad.append(f"row {i}: conversations is {conversation!r}, not a list of turns")
            continue
        for j, turn in enumerate(conversation):
            if not isinstance(turn, dict) or turn.get("from") is None or turn.get("value") is None:
                bad.append(f"row {i}, turn {j}: {turn!r} lacks 'from' or 'value'")
            elif turn["from"] not in SHAREGPT_ROLES:
                bad.append(f"row {i}, turn {j}: role 'from' = {turn['from']!r}, which standardize_sharegpt does "
                           f"not map (it knows {', '.join(SHAREGPT_ROLES)})")
            elif not isinstance(turn["value"], str):
                bad.append(f"row {i}, turn {j}: 'value' is {type(turn['value']).__name__}, not text")
            else:
                continue
            break
        if len(bad) >= limit:
            break
    if bad:
        raise DataError("ShareGPT rows standardize_sharegpt cannot convert: " + "; ".join(bad)
                        + ". Drop these rows (dataset.filter) or fix them in the source data.")
    return len(rows)


__all__ = ["FIXES", "ROLES", "SHAREGPT_ROLES", "DataError", "Problem", "ValidationReport", "check_sharegpt",
           "role_counts", "validate_conversations"]
