"""The encoder applies each model's exact recipe: checked against a hand-written reference."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel, AutoTokenizer

from patent_rag.encoding.encoder import Encoder
from patent_rag.encoding.models import ModelProfile, TaskPrompts, get_profile
from patent_rag.errors import ConfigurationError, EncodingError, PromptMissingError, UnknownTaskError

TEXTS = [
    "A wireless device adjusts its transmit power using channel state feedback.",
    "1. A hinge assembly for a foldable display, comprising a first bracket and a second bracket.",
    "short",
]


def patembed_profile(model_dir: Path) -> ModelProfile:
    """patembed-small's built-in profile pointed at the tiny model (dim 16, max length 64)."""
    builtin = get_profile("patembed-small")
    return ModelProfile(
        name="tiny-patembed-small",
        model_id=str(model_dir),
        dim=16,
        pooling="mean",
        max_seq_length=64,
        normalize=True,
        tasks=builtin.tasks,
        default_task=builtin.default_task,
    )


def reference_vectors(model_dir: Path, texts: list[str], prompt: str, *, pooling: str) -> np.ndarray:
    """prompt + text -> transformer -> pooling -> (dense -> normalize when the model has them)."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    batch = tokenizer(
        [prompt + t for t in texts], padding=True, truncation=True, max_length=64, return_tensors="pt"
    )
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = hidden[:, 0] if pooling == "cls" else (hidden * mask).sum(1) / mask.sum(1)
    dense_dir = next(model_dir.glob("*_Dense"), None)
    if dense_dir is not None:
        weights = load_file(dense_dir / "model.safetensors")
        pooled = torch.tanh(pooled @ weights["linear.weight"].T + weights["linear.bias"])
    if next(model_dir.glob("*_Normalize"), None) is not None or dense_dir is not None:
        pooled = torch.nn.functional.normalize(pooled, dim=-1)
    return pooled.numpy()


@pytest.fixture(scope="module")
def patembed(tiny_patembed_dir: Path) -> Encoder:
    return Encoder(patembed_profile(tiny_patembed_dir), precision="fp32")


@pytest.mark.parametrize("task", ["retrieval_IN", "retrieval_MIXED", "retrieval_OUT"])
def test_patembed_queries_match_reference_recipe(
    patembed: Encoder, tiny_patembed_dir: Path, task: str
) -> None:
    prompt = get_profile("patembed-small").prompts(task).query
    expected = reference_vectors(tiny_patembed_dir, TEXTS, prompt, pooling="mean")
    np.testing.assert_allclose(patembed.encode_queries(TEXTS, task=task), expected, atol=1e-5)


def test_patembed_documents_use_the_document_prompt(patembed: Encoder, tiny_patembed_dir: Path) -> None:
    prompt = "encode document for mixed retrieval: "
    assert patembed.document_prompt == prompt
    expected = reference_vectors(tiny_patembed_dir, TEXTS, prompt, pooling="mean")
    np.testing.assert_allclose(patembed.encode_documents(TEXTS), expected, atol=1e-5)
    without_prompt = reference_vectors(tiny_patembed_dir, TEXTS, "", pooling="mean")
    assert not np.allclose(patembed.encode_documents(TEXTS), without_prompt, atol=1e-3)


def test_document_task_fixes_the_document_prompt(tiny_patembed_dir: Path) -> None:
    encoder = Encoder(patembed_profile(tiny_patembed_dir), precision="fp32", document_task="retrieval_OUT")
    assert encoder.document_prompt == "encode document for different retrieval: "
    assert encoder.fingerprint.document_prompt == "encode document for different retrieval: "
    expected = reference_vectors(tiny_patembed_dir, TEXTS, encoder.document_prompt, pooling="mean")
    np.testing.assert_allclose(encoder.encode_documents(TEXTS), expected, atol=1e-5)


def test_prompts_read_from_the_model_extend_the_table(patembed: Encoder) -> None:
    assert patembed.prompts("problem2solution") == TaskPrompts(
        query="encode problem: ", document="encode document for mixed retrieval: "
    )
    assert patembed.profile.prompts("problem2solution").document == "encode solution: "


def test_stock_prompt_name_cannot_see_nested_prompts(tiny_patembed_dir: Path) -> None:
    """Why the encoder exists: sentence-transformers' by-name prompts miss patembed's nested table."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_patembed_dir), device="cpu")
    assert model.prompts.get("query", "") == "" and model.prompts.get("document", "") == ""
    stock = model.encode_query(TEXTS[:1], convert_to_numpy=True)
    no_prompt = reference_vectors(tiny_patembed_dir, TEXTS[:1], "", pooling="mean")
    np.testing.assert_allclose(stock, no_prompt, atol=1e-5)


def test_patentsberta_cls_pooling_matches_reference(tiny_patentsberta_dir: Path) -> None:
    profile = ModelProfile(
        name="tiny-patentsberta",
        model_id=str(tiny_patentsberta_dir),
        dim=32,
        pooling="cls",
        max_seq_length=64,
        normalize=False,
    )
    encoder = Encoder(profile, precision="fp32")
    expected = reference_vectors(tiny_patentsberta_dir, TEXTS, "", pooling="cls")
    np.testing.assert_allclose(encoder.encode_documents(TEXTS), expected, atol=1e-5)
    np.testing.assert_allclose(encoder.encode_queries(TEXTS), expected, atol=1e-5)
    assert encoder.fingerprint.pooling == "cls" and encoder.fingerprint.normalize is False


def test_pooling_mismatch_is_refused(tiny_patentsberta_dir: Path) -> None:
    wrong = ModelProfile(
        name="wrong",
        model_id=str(tiny_patentsberta_dir),
        dim=32,
        pooling="mean",
        max_seq_length=64,
        normalize=False,
    )
    with pytest.raises(ConfigurationError, match=r"use 'cls' pooling but profile 'wrong' says 'mean'"):
        Encoder(wrong, precision="fp32")


def test_dim_mismatch_is_refused(tiny_patembed_dir: Path) -> None:
    wrong = ModelProfile(
        name="wrong-dim",
        model_id=str(tiny_patembed_dir),
        dim=384,
        pooling="mean",
        max_seq_length=64,
        normalize=True,
    )
    with pytest.raises(ConfigurationError, match=r"produce 16-dim vectors but profile 'wrong-dim' says 384"):
        Encoder(wrong, precision="fp32")


def test_unknown_task_lists_the_known_ones(patembed: Encoder) -> None:
    with pytest.raises(
        UnknownTaskError, match=r"has no task 'retrieval'; choose one of \['problem2solution'"
    ):
        patembed.encode_queries(["x"], task="retrieval")


def test_half_nested_prompt_is_a_clear_error(tiny_patembed_dir: Path, tmp_path: Path) -> None:
    import json
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_patembed_dir, broken)
    config = json.loads((broken / "config_sentence_transformers.json").read_text())
    config["prompts"] = {"retrieval_MIXED": {"q_text": "only a query: ", "neg_text": "x"}}
    (broken / "config_sentence_transformers.json").write_text(json.dumps(config))
    with pytest.raises(
        PromptMissingError, match=r"task 'retrieval_MIXED' has prompts for \['neg_text', 'q_text'\]"
    ):
        Encoder(patembed_profile(broken), precision="fp32")


def test_empty_text_is_an_error_not_a_vector(patembed: Encoder) -> None:
    with pytest.raises(EncodingError, match=r"input 1 is empty or not text \(' '\)"):
        patembed.encode_documents(["fine", " "])
    with pytest.raises(EncodingError, match="single str"):
        patembed.encode_documents("not a list")  # type: ignore[arg-type]
    assert patembed.encode_documents([]).shape == (0, 16)


def test_nan_vectors_are_refused(tiny_patembed_dir: Path) -> None:
    encoder = Encoder(patembed_profile(tiny_patembed_dir), precision="fp32")
    with torch.no_grad():
        for parameter in encoder._model[2].parameters():  # the Dense module
            parameter.fill_(float("nan"))
    with pytest.raises(EncodingError, match="NaN or infinite values for input 0"):
        encoder.encode_documents(["anything"])


def test_truncation_is_counted_and_logged(patembed: Encoder, caplog: pytest.LogCaptureFixture) -> None:
    before = patembed.truncated_inputs
    budget = patembed.document_token_budget
    fits = " ".join(["power"] * budget)
    too_long = fits + " power power"
    assert patembed.count_tokens(fits) == budget
    with caplog.at_level(logging.WARNING, logger="patent_rag.encoding.encoder"):
        patembed.encode_documents([fits])
        assert patembed.truncated_inputs == before
        patembed.encode_documents([fits, too_long])
    assert patembed.truncated_inputs == before + 1
    assert (
        "1 of 2 inputs exceed tiny-patembed-small's max length of 64 tokens (prompt included)" in caplog.text
    )


def test_fingerprint_identifies_the_document_side(patembed: Encoder, tiny_patembed_dir: Path) -> None:
    fp = patembed.fingerprint
    assert (fp.model_id, fp.pooling, fp.dim, fp.normalize, fp.max_seq_length) == (
        str(tiny_patembed_dir),
        "mean",
        16,
        True,
        64,
    )
    assert len(fp.revision) == 16
    assert Encoder(patembed_profile(tiny_patembed_dir), precision="fp32").fingerprint == fp


def test_minilm_ranks_the_relevant_passage_first(minilm_encoder: Encoder) -> None:
    query = minilm_encoder.encode_query("foldable smartphone display hinge")
    docs = minilm_encoder.encode_documents(
        [
            "A hinge mechanism lets the flexible screen of a folding phone bend without creasing.",
            "A method of brewing beer with reduced gluten content using enzymes.",
        ]
    )
    scores = docs @ query
    assert scores[0] > scores[1] + 0.2


def test_query_and_document_sides_differ_exactly_when_prompts_differ(minilm_encoder: Encoder) -> None:
    text = ["A battery thermal management system for electric vehicles."]
    np.testing.assert_array_equal(minilm_encoder.encode_queries(text), minilm_encoder.encode_documents(text))
    base = get_profile("all-minilm-l6-v2")
    asymmetric = ModelProfile(
        name="minilm-e5-style",
        model_id=base.model_id,
        dim=384,
        pooling="mean",
        max_seq_length=256,
        normalize=True,
        package=base.package,
        tasks={"retrieval": TaskPrompts(query="query: ", document="passage: ")},
    )
    encoder = Encoder(asymmetric, precision="fp32")
    assert not np.allclose(encoder.encode_queries(text), encoder.encode_documents(text), atol=1e-3)
    assert encoder.fingerprint.document_prompt == "passage: "
    assert encoder.fingerprint.revision == minilm_encoder.fingerprint.revision


def test_auto_precision_is_faithful(minilm_encoder: Encoder) -> None:
    auto = Encoder("all-minilm-l6-v2")
    texts = ["A hinge for a foldable display.", "Wireless power control in LTE uplink transmissions."]
    reference = minilm_encoder.encode_documents(texts)
    cosine = np.sum(auto.encode_documents(texts) * reference, axis=1)
    assert auto.precision in ("fp32", "bf16")
    assert cosine.min() >= 0.999


def test_placeholder_empty_prompts_do_not_override_the_table(tiny_patembed_dir: Path, tmp_path: Path) -> None:
    import json
    import shutil

    model_dir = tmp_path / "with-placeholders"
    shutil.copytree(tiny_patembed_dir, model_dir)
    config = json.loads((model_dir / "config_sentence_transformers.json").read_text())
    config["prompts"] = {"query": "", "document": "", **config["prompts"]}
    (model_dir / "config_sentence_transformers.json").write_text(json.dumps(config))
    encoder = Encoder(patembed_profile(model_dir), precision="fp32")
    assert encoder.prompts().query == "encode query for mixed document retrieval: "


def test_precision_is_picked_from_explicit_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    import patent_rag.encoding.encoder as encoder_module

    vectors = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    calls: list[str] = []

    def probe(*, precision: str) -> np.ndarray:
        calls.append(precision)
        return vectors if precision == "fp32" else drifted

    pick = encoder_module._pick_precision
    monkeypatch.setattr(encoder_module, "_runs_natively", lambda precision, device: device == "native")
    drifted = vectors
    assert pick("fp32", "native", probe, model_name="m") == "fp32"
    assert pick("bf16", "native", probe, model_name="m") == "bf16"
    assert pick("auto", "cpu", probe, model_name="m") == "fp32"
    assert calls == []  # no probe unless auto precision on native bf16 hardware
    assert pick("auto", "native", probe, model_name="m") == "bf16"
    drifted = np.array([[1.0, 0.1], [0.0, 1.0]], dtype=np.float32)  # cosines 0.995 and 1: mean 0.9975
    assert pick("auto", "native", probe, model_name="m") == "fp32"
    assert calls == ["fp32", "bf16", "fp32", "bf16"]


def test_a_bad_precision_is_refused_before_the_model_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    import patent_rag.encoding.encoder as encoder_module

    monkeypatch.setattr(encoder_module, "_load", lambda *args, **kwargs: pytest.fail("loaded"))
    expected = r"precision must be 'auto', 'fp32', 'bf16' or 'fp16', got 'int8'"
    with pytest.raises(ConfigurationError, match=expected):
        Encoder("all-minilm-l6-v2", precision="int8")  # type: ignore[arg-type]


def test_auto_precision_probe_leaves_no_trace(minilm_encoder: Encoder) -> None:
    auto = Encoder("all-minilm-l6-v2")
    assert auto.truncated_inputs == 0
    assert auto.fingerprint == dataclasses.replace(minilm_encoder.fingerprint, precision=auto.precision)
