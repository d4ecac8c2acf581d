"""Model profiles: the built-in recipes, registration, offline resolution."""

from __future__ import annotations

import pytest

from patent_rag.encoding.loading import resolve_model_dir
from patent_rag.encoding.models import ModelProfile, TaskPrompts, get_profile, list_profiles, register_profile
from patent_rag.errors import ConfigurationError, ModelUnavailableError, UnknownModelError

PATEMBED_DIMS = {
    "large": 1024,
    "base": 768,
    "base_small": 512,
    "small": 384,
    "mini": 256,
    "nano": 128,
    "base_long_1024": 768,
    "base_long_2048": 768,
    "base_long_4096": 768,
}


@pytest.mark.parametrize(("suffix", "dim"), sorted(PATEMBED_DIMS.items()))
def test_patembed_family(suffix: str, dim: int) -> None:
    profile = get_profile(f"patembed-{suffix}")
    assert profile.model_id == f"datalyes/patembed-{suffix}"
    assert (profile.dim, profile.pooling, profile.normalize) == (dim, "mean", True)
    assert profile.default_task == "retrieval_MIXED"
    assert profile.prompts() == TaskPrompts(
        query="encode query for mixed document retrieval: ", document="encode document for mixed retrieval: "
    )
    assert profile.prompts("retrieval_IN").document == "encode document for same retrieval: "
    assert profile.prompts("retrieval_OUT").query == "encode query for different document retrieval: "
    assert not profile.symmetric
    expected_len = int(suffix.rsplit("_", 1)[1]) if "long" in suffix else 512
    assert profile.max_seq_length == expected_len


def test_patentsberta_versions_are_not_interchangeable() -> None:
    v1, v2 = get_profile("patentsberta"), get_profile("AAUBS/PatentSBERTa_V2")
    assert (v1.model_id, v1.pooling, v1.dim, v1.normalize, v1.symmetric) == (
        "AI-Growth-Lab/PatentSBERTa",
        "cls",
        768,
        False,
        True,
    )
    assert (v2.pooling, v2.dim) == ("mean", 768)


@pytest.mark.parametrize(
    ("name", "query", "document"),
    [
        ("bge-base-en-v1.5", "Represent this sentence for searching relevant passages: ", ""),
        ("e5-base-v2", "query: ", "passage: "),
        ("nomic-embed-text-v1.5", "search_query: ", "search_document: "),
        ("paecter", "", ""),
        ("all-minilm-l6-v2", "", ""),
    ],
)
def test_general_models(name: str, query: str, document: str) -> None:
    assert get_profile(name).prompts() == TaskPrompts(query=query, document=document)


def test_unknown_model_lists_known_profiles() -> None:
    with pytest.raises(
        UnknownModelError, match=r"unknown model 'patembed-huge'; known profiles: all-minilm-l6-v2, "
    ):
        get_profile("patembed-huge")


def test_register_own_profile() -> None:
    profile = ModelProfile(
        name="test-own",
        model_id="/nowhere/own-model",
        dim=8,
        pooling="cls",
        max_seq_length=32,
        normalize=False,
        tasks={"search": TaskPrompts(query="q: ", document="d: ")},
        default_task="search",
    )
    assert register_profile(profile) is profile
    assert get_profile("TEST-OWN") is profile
    assert profile in list_profiles()
    with pytest.raises(ConfigurationError, match="already exists; pass overwrite=True"):
        register_profile(profile)
    register_profile(profile, overwrite=True)


def test_bad_default_task_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"default task 'x' is not one of its tasks \['retrieval'\]"):
        ModelProfile(
            name="bad",
            model_id="m",
            dim=1,
            pooling="mean",
            max_seq_length=8,
            normalize=True,
            default_task="x",
        )


def test_offline_minilm_resolves_from_its_package() -> None:
    path = resolve_model_dir(get_profile("all-minilm-l6-v2"))
    assert (path / "model.safetensors").is_file()


def test_hub_model_not_available_offline_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("PATENT_RAG_MODEL_DIR", raising=False)
    with pytest.raises(ModelUnavailableError, match=r"hf download datalyes/patembed-small --local-dir DIR"):
        resolve_model_dir(get_profile("patembed-small"))


def test_model_dir_env_is_searched(monkeypatch: pytest.MonkeyPatch, tiny_patembed_dir) -> None:  # type: ignore[no-untyped-def]
    import shutil

    root = tiny_patembed_dir.parent / "models-root"
    if not root.exists():
        shutil.copytree(tiny_patembed_dir, root / "patembed-small")
    monkeypatch.setenv("PATENT_RAG_MODEL_DIR", str(root))
    assert resolve_model_dir(get_profile("patembed-small")) == root / "patembed-small"
