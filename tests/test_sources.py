"""Guards the one loader: bundled rows come back as datasets.Dataset objects in the exact
schemas of unsloth/OpenMathReasoning-mini (cot) and mlabonne/FineTome-100k, with enough rows."""

from qwen3lab.config import get_config
from qwen3lab.data.sources import load_datasets


def test_bundled_schemas_and_counts():
    reasoning, chat = load_datasets(get_config("tiny"))
    assert reasoning.column_names == ["expected_answer", "problem_type", "problem_source", "generation_model",
                                      "pass_rate_72b_tir", "problem", "generated_solution", "inference_mode"]
    assert all(f.dtype == "string" for f in reasoning.features.values())
    assert chat.column_names == ["conversations", "source", "score"]
    assert chat.features["score"].dtype == "float64"
    assert set(chat.features["conversations"].feature) == {"from", "value"}
    assert len(reasoning) >= 200 and len(chat) >= 400


def test_bundled_rows_look_like_the_real_ones():
    reasoning, chat = load_datasets(get_config("tiny"))
    row = reasoning[0]
    assert "<think>" in row["generated_solution"] and "\\boxed{" in row["generated_solution"]
    roles = {turn["from"] for conv in chat["conversations"] for turn in conv}
    assert roles == {"human", "gpt", "system"}
