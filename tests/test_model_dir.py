"""A model given as a folder, under any name: recognized from its files, else encoded with the retrieval
task its own prompts define, else refused; never encoded without the prompts it carries."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from patent_rag.encoding.encoder import Encoder
from patent_rag.encoding.model_dir import retrieval_task
from patent_rag.encoding.models import TaskPrompts
from patent_rag.errors import UnknownTaskError
from patent_rag.llama_index.embedding import PatentEmbedding
from tests.conftest import PATEMBED_PROMPTS

QUERY = "foldable display hinge with a torsion spring"
DOCS = ["A hinge assembly lets a foldable smartphone display bend.", "A yeast strain ferments wort."]
MIXED = TaskPrompts(
    query="encode query for mixed document retrieval: ", document="encode document for mixed retrieval: "
)
# The patembed-small model card's shape: no identity in the front matter, the name as title, the hub id
# in the usage example, another family member named in prose.
PATEMBED_CARD = """---
license: cc-by-nc-sa-4.0
library_name: sentence-transformers
pipeline_tag: sentence-similarity
---

# patembed-small

Distilled from patembed-large. Uses task-specific instruction prompts.

```python
# Load the model
model = SentenceTransformer('datalyes/patembed-small')
```
"""


def model_folder(
    source: Path,
    target: Path,
    *,
    prompts: Mapping[str, Any] | None = None,
    card: str | None = None,
    name_or_path: str | None = None,
) -> Path:
    """A copy of ``source`` at ``target`` with the given prompt table, model card and config.json id."""
    shutil.copytree(source, target)
    config_file = target / "config_sentence_transformers.json"
    config = json.loads(config_file.read_text())
    config["prompts"] = {"query": "", "document": "", **(prompts or {})}  # as sentence-transformers saves
    config_file.write_text(json.dumps(config))
    (target / "README.md").unlink(missing_ok=True)
    if card is not None:
        (target / "README.md").write_text(card)
    if name_or_path is not None:
        hf_config = json.loads((target / "config.json").read_text())
        hf_config["_name_or_path"] = name_or_path
        (target / "config.json").write_text(json.dumps(hf_config))
    return target


def reference(model_dir: Path, texts: list[str], prompt: str, *, precision: str = "fp32") -> np.ndarray:
    """The model itself encoding ``prompt + text``: the prompt written into the input by hand. In
    bf16 its transformer runs in bf16 and pooling onwards in fp32."""
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    if precision == "bf16":
        model[0].to(torch.bfloat16)
        model[0].register_forward_hook(
            lambda module, inputs, out: {**out, "token_embeddings": out["token_embeddings"].float()}
        )
    return np.asarray(model.encode([prompt + text for text in texts], convert_to_numpy=True))


def assert_encodes_with(encoder: Encoder, model_dir: Path, prompts: TaskPrompts) -> None:
    np.testing.assert_allclose(
        encoder.encode_queries([QUERY]), reference(model_dir, [QUERY], prompts.query), atol=1e-5
    )
    np.testing.assert_allclose(
        encoder.encode_documents(DOCS), reference(model_dir, DOCS, prompts.document), atol=1e-5
    )
    if prompts.query:
        assert not np.allclose(encoder.encode_queries([QUERY]), reference(model_dir, [QUERY], ""), atol=1e-3)


@pytest.mark.parametrize(
    ("card", "name", "evidence"),
    [
        ("---\nbase_model: datalyes/patembed-small\n---\n# My fine-tune\n", "pe-small", "base_model"),
        ("---\nmodel-index:\n- name: datalyes/patembed-small\n---\n", "patembed-small", "README.md name"),
        (PATEMBED_CARD, "patembed-small", "README.md name 'patembed-small'"),
    ],
)
def test_patembed_folder_under_any_name_is_recognized_by_its_card(
    tiny_patembed_small_dir: Path, tmp_path: Path, card: str, name: str, evidence: str
) -> None:
    folder = model_folder(tiny_patembed_small_dir, tmp_path / "pe-small", prompts=PATEMBED_PROMPTS, card=card)
    encoder = Encoder(str(folder), precision="fp32")
    assert encoder.profile.name == name and evidence in encoder.profile.notes
    assert "patembed-small" in encoder.profile.notes
    assert (encoder.profile.default_task, encoder.document_task) == ("retrieval_MIXED", "retrieval_MIXED")
    assert encoder.prompts() == MIXED and encoder.document_prompt == MIXED.document
    assert encoder.fingerprint.document_prompt == MIXED.document
    # A copy records the model it is; a model derived from it, its own folder.
    assert encoder.fingerprint.model_id == (str(folder) if name == "pe-small" else "datalyes/patembed-small")
    assert_encodes_with(encoder, folder, MIXED)
    np.testing.assert_allclose(
        encoder.encode_queries([QUERY], task="retrieval_IN"),
        reference(folder, [QUERY], PATEMBED_PROMPTS["retrieval_IN"]["q_text"]),
        atol=1e-5,
    )


def test_the_prompt_table_alone_recognizes_patembed(
    tiny_patembed_small_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = model_folder(tiny_patembed_small_dir, tmp_path / "downloaded", prompts=PATEMBED_PROMPTS)
    with caplog.at_level(logging.INFO, logger="patent_rag"):
        encoder = Encoder(str(folder), precision="fp32")
    assert encoder.profile.name == "patembed-small"
    assert encoder.profile.notes == "a copy of patembed-small, recognized by its prompt table"
    assert_encodes_with(encoder, folder, MIXED)
    # The log names the prompts on both sides.
    assert "query prompt 'encode query for mixed document retrieval: '" in caplog.text
    assert "document prompt 'encode document for mixed retrieval: '" in caplog.text


def test_patent_embedding_on_a_folder_applies_the_prompts(
    tiny_patembed_small_dir: Path, tmp_path: Path
) -> None:
    card = "---\nbase_model: datalyes/patembed-small\n---\n"
    folder = model_folder(tiny_patembed_small_dir, tmp_path / "x", prompts=PATEMBED_PROMPTS, card=card)
    embedding = PatentEmbedding(model=str(folder), precision="fp32")
    assert embedding.document_task == "retrieval_MIXED"
    np.testing.assert_allclose(
        embedding.get_query_embedding(QUERY), reference(folder, [QUERY], MIXED.query)[0], atol=1e-5
    )
    np.testing.assert_allclose(
        embedding.get_text_embedding_batch(DOCS), reference(folder, DOCS, MIXED.document), atol=1e-5
    )


def test_cli_embed_on_a_folder_reports_and_uses_the_prompts(
    tiny_patembed_small_dir: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from patent_rag.cli import app

    folder = model_folder(tiny_patembed_small_dir, tmp_path / "pe-small", prompts=PATEMBED_PROMPTS)
    runner = CliRunner()
    for flags, prompt in (([], MIXED.query), (["--document"], MIXED.document)):
        result = runner.invoke(app, ["embed", QUERY, "--model", str(folder), "--json", *flags])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert (summary["model"], summary["task"], summary["prompt"]) == (
            "patembed-small",
            "retrieval_MIXED",
            prompt,
        )
        # The CLI picks its precision (bf16 where native and faithful): the reference runs in the same.
        expected = reference(folder, [QUERY], prompt, precision=summary["precision"])[0][:8]
        np.testing.assert_allclose(summary["head"], expected, atol=2e-6)
        without = reference(folder, [QUERY], "", precision=summary["precision"])[0][:8]
        assert not np.allclose(summary["head"], without, atol=1e-3)
        assert summary["fingerprint"]["document_prompt"] == MIXED.document


def test_unrecognized_folder_uses_the_retrieval_task_its_prompts_define(
    tiny_patembed_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # dim 16: no patembed profile fits, whatever the card claims.
    card = "---\nbase_model: datalyes/patembed-small\n---\n"
    folder = model_folder(tiny_patembed_dir, tmp_path / "mine", prompts=PATEMBED_PROMPTS, card=card)
    with caplog.at_level(logging.INFO, logger="patent_rag"):
        encoder = Encoder(str(folder), precision="fp32")
    assert (
        "README.md base_model names patembed-small, but the model produces 16-dim vectors with mean pooling: "
        "not that model" in caplog.text
    )
    assert encoder.profile.name == "mine" and "not a recognized model" in encoder.profile.notes
    assert encoder.profile.default_task == "retrieval_MIXED"
    assert sorted(encoder.profile.tasks) == sorted(PATEMBED_PROMPTS)  # no prompt-less placeholder task
    assert encoder.prompts() == MIXED
    assert_encodes_with(encoder, folder, MIXED)


def test_the_fixture_folder_itself_is_encoded_with_its_prompts(tiny_patembed_dir: Path) -> None:
    """A folder named "model" with sentence-transformers' generic model card."""
    encoder = Encoder(str(tiny_patembed_dir), precision="fp32")
    assert encoder.document_prompt == MIXED.document and encoder.prompts().query == MIXED.query


def test_a_folder_is_loaded_once(tiny_patembed_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import patent_rag.encoding.encoder as encoder_module

    loads: list[Path] = []
    real_load = encoder_module._load

    def counting_load(model_dir: Path, device: str, *, trust_remote_code: bool) -> Any:
        loads.append(model_dir)
        return real_load(model_dir, device, trust_remote_code=trust_remote_code)

    monkeypatch.setattr(encoder_module, "_load", counting_load)
    Encoder(str(tiny_patembed_dir), precision="fp32")
    assert loads == [tiny_patembed_dir]


def test_card_fields_outrank_prose_mentions(tiny_patembed_small_dir: Path, tmp_path: Path) -> None:
    # e5-small-v2 and patembed-small have the same shape (384-dim, mean pooling, 512 tokens): only the
    # evidence tells them apart. No prompt table here, so the card decides.
    prose = "Compared with datalyes/patembed-small and intfloat/e5-small-v2, this model..."
    named = model_folder(
        tiny_patembed_small_dir,
        tmp_path / "a",
        card=f"---\nmodel-index:\n- name: e5-small-v2\n---\n{prose}\n",
    )
    encoder = Encoder(str(named), precision="fp32")
    assert encoder.profile.name == "e5-small-v2"
    assert encoder.prompts() == TaskPrompts(query="query: ", document="passage: ")
    assert_encodes_with(encoder, named, TaskPrompts(query="query: ", document="passage: "))

    mentioned = model_folder(
        tiny_patembed_small_dir,
        tmp_path / "b",
        card="# Usage\n\n```python\nSentenceTransformer('datalyes/patembed-small')\n```\n",
    )
    assert Encoder(str(mentioned), precision="fp32").profile.notes == (
        "a copy of patembed-small, recognized by README.md mentions 'datalyes/patembed-small'"
    )


def test_prose_naming_two_models_of_the_same_shape_recognizes_neither(
    tiny_patembed_small_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    prose = "Compared with datalyes/patembed-small and intfloat/e5-small-v2, this model..."
    folder = model_folder(tiny_patembed_small_dir, tmp_path / "c", card=prose)
    with caplog.at_level(logging.INFO, logger="patent_rag"):
        encoder = Encoder(str(folder), precision="fp32")
    assert "README.md mentions fits several profiles ['e5-small-v2', 'patembed-small']" in caplog.text
    assert encoder.profile.name == "c" and encoder.prompts() == TaskPrompts()
    assert (
        "is not a model patent_rag recognizes and carries no prompts: queries and documents are encoded "
        "without a prompt" in caplog.text
    )
    assert_encodes_with(encoder, folder, TaskPrompts())


def test_config_name_or_path_recognizes(tiny_patembed_small_dir: Path, tmp_path: Path) -> None:
    folder = model_folder(tiny_patembed_small_dir, tmp_path / "d", name_or_path="intfloat/e5-small-v2")
    encoder = Encoder(str(folder), precision="fp32")
    assert encoder.profile.notes == (
        "a copy of e5-small-v2, recognized by config.json _name_or_path 'intfloat/e5-small-v2'"
    )


@pytest.mark.parametrize(
    "prompts",
    [
        {"query": "q: ", "document": "d: "},
        {"query": "q: ", "passage": "d: "},
        {"search_query": "q: ", "search_document": "d: ", "clustering": "c: "},
    ],
)
def test_flat_prompts_map_to_query_and_document(
    tiny_patentsberta_dir: Path, tmp_path: Path, prompts: dict[str, str]
) -> None:
    folder = model_folder(tiny_patentsberta_dir, tmp_path / "flat", prompts=prompts)
    encoder = Encoder(str(folder), precision="fp32")
    assert encoder.profile.default_task == "retrieval"
    assert encoder.prompts() == TaskPrompts(query="q: ", document="d: ")
    assert_encodes_with(encoder, folder, TaskPrompts(query="q: ", document="d: "))


def test_prompts_without_a_retrieval_task_are_refused(tiny_patentsberta_dir: Path, tmp_path: Path) -> None:
    prompts = {
        "classification": {"q_text": "classify: ", "pos_text": "classify: "},
        "problem2solution": {"q_text": "encode problem: ", "pos_text": "encode solution: "},
    }
    folder = model_folder(tiny_patentsberta_dir, tmp_path / "tasks-only", prompts=prompts)
    with pytest.raises(
        UnknownTaskError,
        match=(
            r"tasks-only: the model's prompts define no retrieval task \(one named 'retrieval' or "
            r"'retrieval_\*'\); its tasks are \['classification', 'problem2solution'\]; choose the task "
            r"whose prompts encode documents and queries: document_task=NAME \(Encoder, PatentEmbedding; "
            r"CLI: --task NAME\)"
        ),
    ):
        Encoder(str(folder), precision="fp32")
    # Chosen explicitly, the task serves both sides.
    encoder = Encoder(str(folder), precision="fp32", document_task="problem2solution")
    assert encoder.prompts() == TaskPrompts(query="encode problem: ", document="encode solution: ")
    assert_encodes_with(encoder, folder, encoder.prompts())


def test_cli_task_chooses_the_prompts_of_a_folder_without_a_retrieval_task(
    tiny_patentsberta_dir: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    import patent_rag.cli.commands  # noqa: F401  (registers the commands)
    from patent_rag.cli import app

    prompts = {
        "problem2solution": {"q_text": "encode problem: ", "pos_text": "encode solution: "},
        "classification": {"q_text": "classify: ", "pos_text": "classify: "},
    }
    folder = model_folder(tiny_patentsberta_dir, tmp_path / "tasks-only", prompts=prompts)
    runner = CliRunner()
    refused = runner.invoke(app, ["embed", QUERY, "--model", str(folder)])
    assert refused.exit_code == 1 and "CLI: --task NAME" in refused.output
    for flags, prompt in (([], "encode problem: "), (["--document"], "encode solution: ")):
        result = runner.invoke(
            app, ["embed", QUERY, "--model", str(folder), "--task", "problem2solution", "--json", *flags]
        )
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["prompt"] == prompt
        expected = reference(folder, [QUERY], prompt, precision=summary["precision"])[0][:8]
        np.testing.assert_allclose(summary["head"], expected, atol=2e-6)

    records = tmp_path / "records.jsonl"
    records.write_text(
        json.dumps({"publication_number": "US1000001B2", "title": "Hinge", "abstract": DOCS[0]}) + "\n"
    )
    index = str(tmp_path / "idx")
    ingest_args = ["ingest", str(records), "--index", index, "--model", str(folder)]
    assert runner.invoke(app, ingest_args).exit_code == 1
    assert runner.invoke(app, [*ingest_args, "--batch-tokens", "0"]).exit_code == 2
    built = runner.invoke(app, [*ingest_args, "--task", "problem2solution", "--batch-tokens", "64"])
    assert built.exit_code == 0, built.output
    info = json.loads(runner.invoke(app, ["info", "--index", index, "--json"]).stdout)
    assert info["fingerprint"]["document_prompt"] == "encode solution: "
    # Search finds the task from the index's document prompt: no --task needed.
    found = runner.invoke(app, ["search", "foldable hinge", "--index", index, "--json"])
    assert found.exit_code == 0, found.output
    assert [hit["publication_number"] for hit in json.loads(found.stdout)["hits"]] == ["US1000001B2"]


def test_several_retrieval_tasks_without_a_preferred_one_are_refused(
    tiny_patentsberta_dir: Path, tmp_path: Path
) -> None:
    prompts = {
        "retrieval_IN": {"q_text": "in query: ", "pos_text": "in doc: "},
        "retrieval_OUT": {"q_text": "out query: ", "pos_text": "out doc: "},
    }
    folder = model_folder(tiny_patentsberta_dir, tmp_path / "two", prompts=prompts)
    with pytest.raises(
        UnknownTaskError,
        match=r"several retrieval tasks \['retrieval_IN', 'retrieval_OUT'\] and none is named 'retrieval'",
    ):
        Encoder(str(folder), precision="fp32")


def test_folder_without_prompts_or_identity_is_symmetric_and_says_so(
    tiny_patentsberta_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = model_folder(tiny_patentsberta_dir, tmp_path / "plain")
    with caplog.at_level(logging.WARNING, logger="patent_rag"):
        encoder = Encoder(str(folder), precision="fp32")
    assert f"{folder} is not a model patent_rag recognizes and carries no prompts" in caplog.text
    assert encoder.prompts() == TaskPrompts() and encoder.profile.pooling == "cls"
    assert_encodes_with(encoder, folder, TaskPrompts())


@pytest.mark.parametrize(
    ("tasks", "expected"),
    [
        (["retrieval_MIXED", "retrieval_IN", "retrieval_OUT", "problem2solution"], "retrieval_MIXED"),
        (["retrieval", "retrieval_IN"], "retrieval"),
        (["Retrieval-query", "clustering"], "Retrieval-query"),
        (["retrieval_in"], "retrieval_in"),
    ],
)
def test_retrieval_task_rule(tasks: list[str], expected: str) -> None:
    table = {name: TaskPrompts(query=f"{name}: ") for name in tasks}
    assert retrieval_task(table, where=Path("m")) == expected


def test_retrieval_task_rule_ignores_look_alikes_and_empty_tasks() -> None:
    table = {
        "retrievals": TaskPrompts(query="x: "),
        "retrieval": TaskPrompts(),
        "clustering": TaskPrompts("c"),
    }
    with pytest.raises(UnknownTaskError, match=r"its tasks are \['clustering', 'retrievals'\]"):
        retrieval_task(table, where=Path("m"))
