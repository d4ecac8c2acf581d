"""The one place that turns text into vectors.

:class:`Encoder` loads a model by profile, verifies the loaded files match the profile's recipe
(pooling, dim), and encodes queries with a task's query prompt and documents with the index's
document prompt, passing explicit ``prompt=`` strings to sentence-transformers (never
``prompt_name``: patembed's nested prompt dicts are invisible to it).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from patent_rag.encoding.fingerprint import Fingerprint
from patent_rag.encoding.loading import model_dir_at, read_model_prompts, resolve_model_dir, weights_digest
from patent_rag.encoding.model_dir import ModelFacts, apply_model_prompts, profile_for_dir
from patent_rag.encoding.models import ModelProfile, TaskPrompts, get_profile
from patent_rag.errors import ConfigurationError, EncodingError, ModelUnavailableError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

__all__ = ["Encoder", "Precision"]

logger = logging.getLogger(__name__)

Precision = Literal["auto", "fp32", "bf16"]

# Patent-like probes for the bf16 faithfulness check (cosine to fp32 must stay >= 0.999).
_PROBES = (
    "A method for controlling transmission power of a user equipment in a wireless network.",
    "1. A semiconductor device comprising a substrate, a gate electrode and an insulating layer "
    "disposed between the substrate and the gate electrode, wherein the insulating layer comprises hafnium.",
    "The present invention relates to pharmaceutical compositions for the treatment of diabetes.",
    "hinge",
)
_FAITHFUL_COSINE = 0.999


class Encoder:
    """Encode patent queries and documents with a model's exact recipe.

    Args:
        model: a profile name (``"patembed-small"``), hub id, local model directory, or a
            :class:`ModelProfile`. A directory is recognized from its files as a known profile, else
            encoded with the retrieval task its own prompts define (see :mod:`patent_rag.encoding.model_dir`);
            ``profile.notes`` says which, and the prompts used are logged and in :meth:`prompts`.
        model_path: where the weights are, when the profile's hub id is not available offline.
        device: ``"auto"`` (CUDA when present, else CPU), or a torch device string.
        precision: ``"auto"`` picks bf16 where the hardware runs it natively and a probe shows it
            faithful (cosine >= 0.999 to fp32), else fp32.
        document_task: the task whose document prompt this encoder (and the index it fills) uses
            (default: the profile's default task, which queries use too).
        batch_size: inputs per forward pass; inputs are length-sorted over the whole call.

    Example:
        >>> enc = Encoder("all-minilm-l6-v2")
        >>> enc.encode_query("wireless power control").shape
        (384,)
    """

    def __init__(
        self,
        model: str | ModelProfile = "all-minilm-l6-v2",
        *,
        model_path: str | os.PathLike[str] | None = None,
        device: str = "auto",
        precision: Precision = "auto",
        document_task: str | None = None,
        batch_size: int = 32,
    ) -> None:
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be >= 1, got {batch_size}")
        if precision not in get_args(Precision):
            choices = [repr(value) for value in get_args(Precision)]
            raise ConfigurationError(
                f"precision must be {', '.join(choices[:-1])} or {choices[-1]}, got {precision!r}"
            )
        # Each step computes its result from explicit inputs; the encoder is assigned once, at the end.
        picked_device = _pick_device(device)
        model_dir, profile, loaded = _open(model, model_path, picked_device, document_task)
        task = document_task or profile.default_task
        document_prompt = profile.prompts(task).document
        pooling, has_normalize = _verify_recipe(loaded, profile, model_dir)
        normalize_out = profile.normalize and not has_normalize  # only when the model lacks the module
        probe = functools.partial(
            _embed,
            loaded,
            list(_PROBES),
            prompt=document_prompt,
            batch_size=batch_size,
            normalize=normalize_out,
            device=picked_device,
        )
        chosen = _pick_precision(precision, picked_device, probe, model_name=profile.name)
        counter = _token_counter(loaded)

        self.device = picked_device
        self.model_dir = model_dir
        self.profile = profile
        self.document_task = task
        self.document_prompt = document_prompt
        self.batch_size = batch_size
        self.precision: Literal["fp32", "bf16"] = chosen
        self.truncated_inputs = 0
        self.fingerprint = Fingerprint(
            model_id=profile.model_id,
            revision=weights_digest(model_dir),
            pooling=pooling,
            dim=profile.dim,
            normalize=profile.normalize or has_normalize,
            document_prompt=document_prompt,
            max_seq_length=profile.max_seq_length,
            precision=chosen,
        )
        self._model = loaded
        self._normalize_out = normalize_out
        self._counter = counter
        logger.info(
            "loaded %s from %s on %s (%s); task %r: query prompt %r; document task %r: document prompt %r",
            profile.name,
            model_dir,
            picked_device,
            chosen,
            profile.default_task,
            profile.prompts().query,
            task,
            document_prompt,
        )

    def __repr__(self) -> str:
        return f"Encoder(model={self.profile.name!r}, device={self.device!r}, precision={self.precision!r})"

    @property
    def dim(self) -> int:
        return self.profile.dim

    @property
    def max_seq_length(self) -> int:
        return self.profile.max_seq_length

    def prompts(self, task: str | None = None) -> TaskPrompts:
        """The prompts actually used for ``task``: query side per call, document side fixed."""
        return TaskPrompts(query=self.profile.prompts(task).query, document=self.document_prompt)

    def with_document_task(self, task: str) -> Encoder:
        """This encoder with ``task``'s document prompt, sharing the loaded model (e.g. for an index built
        with that task).

        Raises:
            UnknownTaskError: the profile has no such task.
        """
        prompt = self.profile.prompts(task).document
        other = copy.copy(self)
        other.document_task, other.document_prompt, other.truncated_inputs = task, prompt, 0
        other.fingerprint = dataclasses.replace(self.fingerprint, document_prompt=prompt)
        return other

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` alone: no special tokens, no prompt."""
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    @property
    def document_token_budget(self) -> int:
        """Tokens a document text may have before the model truncates it (prompt and specials deducted)."""
        overhead = len(self._counter.encode(self.document_prompt, add_special_tokens=True).ids)
        # Byte-level BPE can merge across the prompt/text seam: keep one token in reserve.
        return self.max_seq_length - overhead - (1 if self.document_prompt else 0)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Document vectors, float32 ``[len(texts), dim]``, with the document prompt."""
        return self._encode(texts, self.document_prompt)

    def encode_queries(self, texts: Sequence[str], *, task: str | None = None) -> np.ndarray:
        """Query vectors with ``task``'s query prompt (the profile's default task when None)."""
        return self._encode(texts, self.profile.prompts(task).query)

    def encode_query(self, text: str, *, task: str | None = None) -> np.ndarray:
        """One query vector ``[dim]``."""
        return self.encode_queries([text], task=task)[0]

    def _encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        if isinstance(texts, str):
            raise EncodingError("expected a sequence of texts, got a single str; wrap it in a list")
        batch = list(texts)
        for i, text in enumerate(batch):
            if not isinstance(text, str) or not text.strip():
                raise EncodingError(f"input {i} is empty or not text ({text!r}); empty text has no vector")
        if not batch:
            return np.empty((0, self.dim), dtype=np.float32)
        self._count_truncated(batch, prompt)
        return _embed(
            self._model,
            batch,
            prompt=prompt,
            batch_size=self.batch_size,
            normalize=self._normalize_out,
            device=self.device,
            precision=self.precision,
        )

    def _count_truncated(self, batch: list[str], prompt: str) -> None:
        lengths = [len(e.ids) for e in self._counter.encode_batch([prompt + t for t in batch])]
        over = [i for i, n in enumerate(lengths) if n > self.max_seq_length]
        if over:
            self.truncated_inputs += len(over)
            logger.warning(
                "%d of %d inputs exceed %s's max length of %d tokens (prompt included) and were truncated "
                "(first: input %d, %d tokens); chunk long text with patent_rag.documents.chunking",
                len(over),
                len(batch),
                self.profile.name,
                self.max_seq_length,
                over[0],
                lengths[over[0]],
            )


def _open(
    model: str | ModelProfile,
    model_path: str | os.PathLike[str] | None,
    device: str,
    document_task: str | None,
) -> tuple[Path, ModelProfile, SentenceTransformer]:
    """The model's folder, its profile (with the prompts its files carry) and the loaded model.

    A folder is loaded once: its profile is read from the loaded model and the folder's files. A
    profile's weights are loaded after its prompts are read, so a bad prompt table costs no load.
    """
    directory = _directory(model)
    loaded: SentenceTransformer | None = None
    if directory is not None:
        model_dir = model_dir_at(model_path if model_path is not None else directory)
        loaded = _load(model_dir, device, trust_remote_code=False)
        base = profile_for_dir(directory, model_dir, _facts(loaded))
    else:
        base = model if isinstance(model, ModelProfile) else get_profile(model)
        model_dir = resolve_model_dir(base, model_path=model_path)
    profile = apply_model_prompts(
        base,
        read_model_prompts(model_dir, default_task=base.default_task),
        where=model_dir,
        document_task=document_task,
    )
    if loaded is None:
        loaded = _load(model_dir, device, trust_remote_code=profile.trust_remote_code)
    loaded.max_seq_length = profile.max_seq_length
    return model_dir, profile, loaded


def _verify_recipe(model: SentenceTransformer, profile: ModelProfile, model_dir: Path) -> tuple[str, bool]:
    """The loaded model's pooling and whether it ends in a Normalize module, once checked against
    the profile.

    Raises:
        ConfigurationError: the pooling or the dim of the files differs from the profile's.
    """
    facts = _facts(model)
    if facts.pooling != profile.pooling:
        raise ConfigurationError(
            f"model files at {model_dir} use {facts.pooling!r} pooling but profile {profile.name!r} "
            f"says {profile.pooling!r}; use the profile that matches these weights "
            "(e.g. PatentSBERTa is CLS, PatentSBERTa_V2 is mean) or register your own"
        )
    dim = model.get_embedding_dimension()
    if dim != profile.dim:
        raise ConfigurationError(
            f"model files at {model_dir} produce {dim}-dim vectors but profile "
            f"{profile.name!r} says {profile.dim}"
        )
    return facts.pooling, facts.normalize


def _pick_precision(
    requested: Precision,
    device: str,
    probe: Callable[..., np.ndarray],
    *,
    model_name: str,
) -> Literal["fp32", "bf16"]:
    """The precision to encode in: ``requested``, or for ``"auto"`` bf16 where ``device`` runs it
    natively and ``probe`` (the probe texts' vectors, called with ``precision=``) stays faithful
    to fp32."""
    if requested == "fp32":
        return "fp32"
    if requested == "bf16":
        if not _native_bf16(device):
            logger.warning("bf16 requested on %s without native bf16 support: expect it to be slow", device)
        return "bf16"
    if not _native_bf16(device):
        return "fp32"
    reference = probe(precision="fp32")
    candidate = probe(precision="bf16")
    cosine = float(np.min(_cosine(reference, candidate)))
    if cosine < _FAITHFUL_COSINE:
        logger.info("bf16 is not faithful for %s (min cosine %.5f): using fp32", model_name, cosine)
        return "fp32"
    return "bf16"


def _embed(
    model: SentenceTransformer,
    texts: list[str],
    *,
    prompt: str,
    batch_size: int,
    normalize: bool,
    device: str,
    precision: Literal["fp32", "bf16"] = "fp32",
) -> np.ndarray:
    """Vectors of non-empty ``texts``, float32, checked finite and non-zero."""
    with _autocast(precision, device):
        vectors = model.encode(
            texts,
            prompt=prompt or None,
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=normalize,
            show_progress_bar=False,
        )
    vectors = np.asarray(vectors, dtype=np.float32)
    _check_vectors(vectors)
    return vectors


@contextlib.contextmanager
def _autocast(precision: Literal["fp32", "bf16"], device: str) -> Iterator[None]:
    if precision != "bf16":
        yield
        return
    import torch

    # Autocast keeps layer norms and softmax in fp32: as fast as casting the weights, and closer to
    # the fp32 vectors (see docs/benchmarks.md).
    with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16):
        yield


def _directory(model: str | ModelProfile) -> str | None:
    """``model`` (user home expanded) when it names a local directory, else None."""
    if isinstance(model, ModelProfile):
        return None
    expanded = os.path.expanduser(model)
    return expanded if os.path.isdir(expanded) else None


def _facts(model: SentenceTransformer) -> ModelFacts:
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling

    pooling = next((_pooling_name(m) for m in model if isinstance(m, Pooling)), "none")
    return ModelFacts(
        dim=int(model.get_embedding_dimension() or 0),
        pooling=pooling,
        normalize=any(isinstance(m, Normalize) for m in model),
        max_seq_length=int(model.max_seq_length or 512),
    )


def _pooling_name(pooling: object) -> str:
    mode = getattr(pooling, "pooling_mode", "unknown")
    return mode if isinstance(mode, str) else "+".join(mode)


def _load(model_dir: Path, device: str, *, trust_remote_code: bool) -> SentenceTransformer:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ModelUnavailableError("sentence-transformers is not installed: pip install patent-rag") from exc
    try:
        return SentenceTransformer(
            str(model_dir), device=device, local_files_only=True, trust_remote_code=trust_remote_code
        )
    except (OSError, ValueError) as exc:
        raise ModelUnavailableError(f"cannot load the model at {model_dir}: {exc}") from exc


def _token_counter(model: Any) -> Tokenizer:
    from tokenizers import Tokenizer

    backend = model.tokenizer.backend_tokenizer
    # A private copy: the model's own tokenizer carries per-call truncation/padding state.
    counter = Tokenizer.from_str(backend.to_str())
    counter.no_truncation()
    counter.no_padding()
    return counter


def _pick_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _native_bf16(device: str) -> bool:
    import torch

    if device.startswith("cuda"):
        return bool(torch.cuda.is_bf16_supported())
    if device != "cpu":
        return False
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _check_vectors(vectors: np.ndarray) -> None:
    bad_rows = ~np.isfinite(vectors).all(axis=1)
    if bad_rows.any():
        raise EncodingError(f"the model produced NaN or infinite values for input {int(np.argmax(bad_rows))}")
    zero_rows = ~np.any(vectors, axis=1)
    if zero_rows.any():
        raise EncodingError(f"the model produced an all-zero vector for input {int(np.argmax(zero_rows))}")
