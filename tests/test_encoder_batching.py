"""Token-budget batching and reduced precision change how the encoder runs, never what it returns."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import pytest
import torch

import patent_rag.encoding.encoder as encoder_module
from patent_rag.encoding.encoder import Encoder, _batches
from patent_rag.encoding.fingerprint import Fingerprint
from patent_rag.errors import ConfigurationError, EncodingError
from tests.test_encoder import patembed_profile, reference_vectors

WORDS = ("a", "hinge", "assembly", "for", "foldable", "display", "with", "first", "bracket", "wherein")


def mixed_texts(count: int, seed: int = 0) -> list[str]:
    """Texts from one word to past the tiny model's 64-token limit, in random order."""
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.choice([1, 3, 8, 20, 45, 90]))) for _ in range(count)]


@pytest.mark.parametrize("budget", [1, 7, 64, 100, 4096])
def test_batches_hold_every_input_once_within_the_budget(budget: int) -> None:
    rng = random.Random(budget)
    lengths = [rng.randint(1, 80) for _ in range(300)]
    batches = _batches(lengths, budget)
    assert sorted(i for batch in batches for i in batch) == list(range(300))
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert lengths[batch[0]] == longest  # the padded size is the first input's
        assert len(batch) == 1 or len(batch) * longest <= budget
    # Longest first: a device runs out of memory on the first pass, not after an hour.
    firsts = [lengths[batch[0]] for batch in batches]
    assert firsts == sorted(firsts, reverse=True)


def test_batches_fill_the_budget() -> None:
    assert _batches([10] * 10, 40) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert _batches([50, 5, 5, 5], 40) == [[0], [1, 2, 3]]
    assert _batches([], 40) == []


@pytest.mark.parametrize("budget", [1, 64, 300, 100_000])
def test_any_budget_gives_the_reference_vectors(tiny_patembed_dir: Path, budget: int) -> None:
    texts = mixed_texts(40)
    encoder = Encoder(patembed_profile(tiny_patembed_dir), precision="fp32", batch_tokens=budget)
    prompt = encoder.document_prompt
    expected = reference_vectors(tiny_patembed_dir, texts, prompt, pooling="mean")
    vectors = encoder.encode_documents(texts)
    np.testing.assert_allclose(vectors, expected, atol=2e-5)
    assert encoder.batch_tokens == budget


def test_the_budget_sets_how_many_inputs_share_a_pass(
    tiny_patembed_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder = Encoder(patembed_profile(tiny_patembed_dir), precision="fp32", batch_tokens=256)
    passes: list[list[str]] = []
    encode = type(encoder._model).encode

    def counting(model, texts, **kwargs):  # type: ignore[no-untyped-def]
        passes.append(list(texts))
        return encode(model, texts, **kwargs)

    monkeypatch.setattr(type(encoder._model), "encode", counting)
    short = ["hinge"] * 100
    encoder.encode_queries(short)
    tokens = encoder._counter.encode(encoder.prompts().query + "hinge").ids
    per_pass = 256 // len(tokens)
    full, rest = divmod(100, per_pass)
    assert [len(p) for p in passes] == [per_pass] * full + ([rest] if rest else [])


def test_truncated_inputs_are_still_counted(
    tiny_patembed_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    encoder = Encoder(patembed_profile(tiny_patembed_dir), precision="fp32", batch_tokens=128)
    with caplog.at_level(logging.WARNING, logger="patent_rag.encoding.encoder"):
        encoder.encode_documents(["hinge " * 200, "hinge", "bracket " * 100])
    assert encoder.truncated_inputs == 2
    assert "2 of 3 inputs exceed" in caplog.text


def test_a_bad_budget_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="batch_tokens must be >= 1, got 0"):
        Encoder("all-minilm-l6-v2", batch_tokens=0)


def test_bf16_converts_the_transformer_once_and_pools_in_fp32(minilm_encoder: Encoder) -> None:
    bf16 = Encoder("all-minilm-l6-v2", precision="bf16")
    transformer, *rest = list(bf16._model)
    assert {p.dtype for p in transformer.parameters()} == {torch.bfloat16}
    assert {p.dtype for module in rest for p in module.parameters()} <= {torch.float32}
    assert not bf16._weights._fp32  # no fp32 copy left behind
    texts = mixed_texts(30, seed=1)
    cosine = np.sum(bf16.encode_documents(texts) * minilm_encoder.encode_documents(texts), axis=1)
    assert cosine.mean() >= 0.999 and cosine.min() >= 0.99
    assert bf16.fingerprint.precision == "bf16"
    assert bf16.fingerprint.backend == "torch"
    assert not bf16.fingerprint.differences(minilm_encoder.fingerprint)


def test_auto_keeps_fp32_exactly_when_the_half_type_is_not_faithful(
    tiny_patembed_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fp32 = Encoder(patembed_profile(tiny_patembed_dir), precision="fp32")
    monkeypatch.setattr(encoder_module, "_runs_natively", lambda precision, device: precision == "bf16")
    monkeypatch.setattr(encoder_module, "_FAITHFUL_MEAN", 1.0001)  # no half type can pass
    auto = Encoder(patembed_profile(tiny_patembed_dir))
    assert auto.precision == "fp32"
    assert {p.dtype for p in auto._model.parameters()} == {torch.float32}
    texts = mixed_texts(20, seed=2)
    np.testing.assert_array_equal(auto.encode_documents(texts), fp32.encode_documents(texts))


def test_auto_falls_back_to_fp32_when_the_half_type_overflows(monkeypatch: pytest.MonkeyPatch) -> None:
    vectors = np.eye(2, dtype=np.float32)

    def probe(*, precision: str) -> np.ndarray:
        if precision == "fp16":
            raise EncodingError("the model produced NaN or infinite values for input 0")
        return vectors

    monkeypatch.setattr(encoder_module, "_runs_natively", lambda precision, device: precision == "fp16")
    assert encoder_module._pick_precision("auto", "cuda", probe, model_name="m") == "fp32"
    assert encoder_module._pick_precision("fp16", "cuda", probe, model_name="m") == "fp16"


def test_a_fingerprint_stored_before_backends_were_recorded_still_reads() -> None:
    stored = {
        "model_id": "m",
        "revision": "r",
        "pooling": "mean",
        "dim": 384,
        "normalize": True,
        "document_prompt": "",
        "max_seq_length": 256,
        "precision": "bf16",
    }
    fingerprint = Fingerprint.from_dict(stored)
    assert fingerprint.backend == "torch"
    other = Fingerprint.from_dict({**stored, "backend": "onnx", "precision": "fp32"})
    assert not fingerprint.differences(other)


def test_the_default_budget_follows_the_device_and_the_hidden_size(
    minilm_encoder: Encoder, tiny_patembed_dir: Path
) -> None:
    assert minilm_encoder.batch_tokens == 8192  # hidden 384
    tiny = Encoder(patembed_profile(tiny_patembed_dir), precision="fp32")
    hidden = tiny._model[0].get_embedding_dimension()
    assert tiny.batch_tokens == min(16384, max(1024, 2 ** round(np.log2(4 * 1024 * 1024 / hidden))))
    assert encoder_module._default_batch_tokens(tiny._model, "cuda:0") == 32768
