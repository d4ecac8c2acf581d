"""Loading the encoder an index was built with: the model given or the one recorded, and messages that
name the right one when neither can be found."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from patent_rag.encoding.encoder import Encoder
from patent_rag.encoding.fingerprint import Fingerprint
from patent_rag.encoding.resolve import encoder_for_index
from patent_rag.errors import UnknownModelError
from tests.conftest import PATEMBED_PROMPTS
from tests.test_model_dir import model_folder

MINILM_INDEX = Fingerprint(
    model_id="sentence-transformers/all-MiniLM-L6-v2",
    revision="0123456789abcdef",
    pooling="mean",
    dim=384,
    normalize=True,
    document_prompt="",
    max_seq_length=256,
)


def test_an_unknown_model_given_is_named_not_the_index_model() -> None:
    with pytest.raises(UnknownModelError) as caught:
        encoder_for_index(MINILM_INDEX, model="nosuchprofile")
    message = str(caught.value)
    assert message.startswith(
        "unknown model 'nosuchprofile' (--model / model=): it is neither a known profile nor a model "
        "directory here. Known profiles: all-minilm-l6-v2, bge-base-en-v1.5, "
    )
    assert message.endswith(
        "; or give a local model directory, or leave the model out to use the one the index was built "
        "with ('sentence-transformers/all-MiniLM-L6-v2')."
    )
    assert "not a known profile" not in message


def test_an_unknown_recorded_model_says_to_pass_one() -> None:
    lost = Fingerprint(**{**MINILM_INDEX.as_dict(), "model_id": "./models/gone"})
    with pytest.raises(
        UnknownModelError,
        match=(
            r"^the index was built with model './models/gone', which is neither a known profile nor a model "
            r"directory here; pass the model \(CLI: --model NAME or DIR, --model-path DIR\) or register its "
            r"profile\. Known profiles: all-minilm-l6-v2, "
        ),
    ):
        encoder_for_index(lost)


def test_an_index_built_from_a_folder_with_another_task_is_searched_with_it(
    tiny_patembed_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "pe"
    shutil.copytree(tiny_patembed_dir, folder)
    built = Encoder(str(folder), precision="fp32", document_task="retrieval_IN")
    assert built.document_prompt == PATEMBED_PROMPTS["retrieval_IN"]["pos_text"]
    found = encoder_for_index(built.fingerprint, precision="fp32")
    assert found.document_task == "retrieval_IN"
    assert found.fingerprint == built.fingerprint
    assert found.prompts().query == PATEMBED_PROMPTS["retrieval_MIXED"]["q_text"]


@pytest.fixture(scope="module")
def minilm_index(minilm_encoder: Encoder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from patent_rag.ingest import ingest_documents
    from patent_rag.stores import open_store
    from tests.test_retriever import sample_documents

    location = str(tmp_path_factory.mktemp("resolve") / "index")
    store = open_store(location)
    ingest_documents(sample_documents()[:2], store=store, encoder=minilm_encoder)
    store.close()
    yield location


def test_cli_search_with_an_unknown_model_names_it(minilm_index: str) -> None:
    from typer.testing import CliRunner

    import patent_rag.cli.commands  # noqa: F401  (registers the commands)
    from patent_rag.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["search", "oscillator", "--index", minilm_index, "--model", "nosuchprofile"])
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert "unknown model 'nosuchprofile' (--model / model=): it is neither a known profile" in output
    assert "Known profiles: all-minilm-l6-v2," in output
    assert "not a known profile here" not in output
    # Without --model, the index's own model is used.
    result = runner.invoke(app, ["search", "oscillator", "--index", minilm_index, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["hits"]


def test_an_index_built_from_a_relative_folder_is_searched_from_anywhere_and_with_any_copy(
    tiny_patembed_small_dir: Path, tiny_patembed_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    model_folder(tiny_patembed_small_dir, workdir / "pe-small", prompts=PATEMBED_PROMPTS)  # a patembed copy
    shutil.copytree(tiny_patembed_dir, workdir / "mine")  # not a recognized model
    monkeypatch.chdir(workdir)
    copy_built = Encoder("./pe-small", precision="fp32")
    own_built = Encoder("./mine", precision="fp32")
    assert copy_built.fingerprint.model_id == "datalyes/patembed-small"
    assert own_built.fingerprint.model_id == str(workdir / "mine")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    # The unrecognized folder is found by its absolute path from any working directory.
    assert encoder_for_index(own_built.fingerprint, precision="fp32").fingerprint == own_built.fingerprint
    # Another copy of the same weights, by folder or by profile + --model-path, matches the index.
    shutil.copytree(workdir / "pe-small", elsewhere / "copy")
    by_folder = encoder_for_index(copy_built.fingerprint, model="./copy", precision="fp32")
    by_profile = encoder_for_index(
        copy_built.fingerprint, model="patembed-small", model_path="./copy", precision="fp32"
    )
    for found in (by_folder, by_profile):
        found.fingerprint.ensure_matches(copy_built.fingerprint)
        assert found.document_prompt == PATEMBED_PROMPTS["retrieval_MIXED"]["pos_text"]
