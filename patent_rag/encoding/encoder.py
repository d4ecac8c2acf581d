"""The one place that turns text into vectors.

:class:`Encoder` loads a model by profile, verifies the loaded files match the profile's recipe
(pooling, dim), and encodes queries with a task's query prompt and documents with the index's
document prompt, passing explicit ``prompt=`` strings to sentence-transformers (never
``prompt_name``: patembed's nested prompt dicts are invisible to it).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from patent_rag.encoding.fingerprint import Fingerprint
from patent_rag.encoding.loading import model_dir_at, read_model_prompts, resolve_model_dir, weights_digest
from patent_rag.encoding.model_dir import ModelFacts, apply_model_prompts, profile_for_dir
from patent_rag.encoding.models import ModelProfile, TaskPrompts, get_profile
from patent_rag.encoding.probes import PROBES
from patent_rag.errors import ConfigurationError, EncodingError, ModelUnavailableError

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

__all__ = ["Encoder", "Precision"]

logger = logging.getLogger(__name__)

Precision = Literal["auto", "fp32", "bf16", "fp16"]
Chosen = Literal["fp32", "bf16", "fp16"]

# A reduced precision is faithful when its probe vectors keep these cosines to fp32's.
_FAITHFUL_MEAN = 0.999
_FAITHFUL_MIN = 0.99
# Padded tokens per forward pass (inputs x longest input). On CPU a pass's activations (tokens x
# hidden) are kept near 4M values, which measured fastest for hidden sizes 384 and 1024; a GPU
# needs far larger passes to fill (docs/benchmarks.md).
_CPU_PASS_VALUES = 4 * 1024 * 1024
_GPU_BATCH_TOKENS = 32768


class Encoder:
    """Encode patent queries and documents with a model's exact recipe.

    Args:
        model: a profile name (``"patembed-small"``), hub id, local model directory, or a
            :class:`ModelProfile`. A directory is recognized from its files as a known profile, else
            encoded with the retrieval task its own prompts define (see :mod:`patent_rag.encoding.model_dir`);
            ``profile.notes`` says which, and the prompts used are logged and in :meth:`prompts`.
        model_path: where the weights are, when the profile's hub id is not available offline.
        device: ``"auto"`` (CUDA when present, else CPU), or a torch device string.
        precision: ``"auto"`` picks bf16 where the hardware runs it natively (fp16 on a GPU without
            bf16) when probes of real patent text stay faithful to fp32 (mean cosine >= 0.999, min
            >= 0.99), else fp32. ``"bf16"`` and ``"fp16"`` force a half type. The transformer's
            weights are converted once; pooling and the layers after it stay in fp32.
        document_task: the task whose document prompt this encoder (and the index it fills) uses
            (default: the profile's default task, which queries use too).
        batch_tokens: padded tokens per forward pass. Each call's inputs are sorted by token count
            and packed so that inputs x the longest of them stays within this budget, so short
            texts go many to a pass and long ones few. Default on CPU: 4096 tokens for a model of
            hidden size 1024, 8192 for 384 (about 4M activations a pass); 32768 on CUDA.

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
        batch_tokens: int | None = None,
    ) -> None:
        if batch_tokens is not None and batch_tokens < 1:
            raise ConfigurationError(f"batch_tokens must be >= 1, got {batch_tokens}")
        if precision not in get_args(Precision):
            choices = [repr(value) for value in get_args(Precision)]
            raise ConfigurationError(
                f"precision must be {', '.join(choices[:-1])} or {choices[-1]}, got {precision!r}"
            )
        # Each step computes its result from explicit inputs; the encoder is assigned once, at the end.
        picked_device = _pick_device(device)
        model_dir, profile, loaded = _open(model, model_path, picked_device, document_task)
        budget = batch_tokens or _default_batch_tokens(loaded, picked_device)
        task = document_task or profile.default_task
        document_prompt = profile.prompts(task).document
        pooling, has_normalize = _verify_recipe(loaded, profile, model_dir)
        normalize_out = profile.normalize and not has_normalize  # only when the model lacks the module
        counter = _token_counter(loaded)
        weights = _Weights(loaded)
        probe_lengths = _token_lengths(counter, list(PROBES), document_prompt, profile.max_seq_length)

        def probe(*, precision: Chosen) -> np.ndarray:
            weights.use(precision)
            return _embed(
                loaded,
                list(PROBES),
                probe_lengths,
                prompt=document_prompt,
                batch_tokens=budget,
                normalize=normalize_out,
            )

        chosen = _pick_precision(precision, picked_device, probe, model_name=profile.name)
        weights.use(chosen)
        weights.settle()

        self.device = picked_device
        self.model_dir = model_dir
        self.profile = profile
        self.document_task = task
        self.document_prompt = document_prompt
        self.batch_tokens = budget
        self.precision: Chosen = chosen
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
            backend="torch",
        )
        self._model = loaded
        self._weights = weights
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
        lengths = _token_lengths(self._counter, batch, prompt, limit=None)
        self._count_truncated(batch, lengths)
        return _embed(
            self._model,
            batch,
            [min(n, self.max_seq_length) for n in lengths],
            prompt=prompt,
            batch_tokens=self.batch_tokens,
            normalize=self._normalize_out,
        )

    def _count_truncated(self, batch: list[str], lengths: list[int]) -> None:
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
) -> Chosen:
    """The precision to encode in: ``requested``, or for ``"auto"`` the half type ``device`` runs
    natively when ``probe`` (the probe texts' vectors, called with ``precision=``) stays faithful
    to fp32, else fp32."""
    if requested != "auto":
        if requested != "fp32" and not _runs_natively(requested, device):
            logger.warning(
                "%s requested on %s, which does not run it natively: expect it to be slow", requested, device
            )
        return requested
    candidate: Chosen | None = next((half for half in _HALVES if _runs_natively(half, device)), None)
    if candidate is None:
        return "fp32"
    reference = probe(precision="fp32")
    try:
        cosine = _cosine(reference, probe(precision=candidate))
    except EncodingError as error:  # fp16 overflows in some models: infinite or NaN activations
        logger.info("%s fails for %s (%s): using fp32", candidate, model_name, error)
        return "fp32"
    if cosine.mean() < _FAITHFUL_MEAN or cosine.min() < _FAITHFUL_MIN:
        logger.info(
            "%s is not faithful for %s (cosine to fp32: mean %.5f, min %.5f): using fp32",
            candidate,
            model_name,
            cosine.mean(),
            cosine.min(),
        )
        return "fp32"
    return candidate


_HALVES: tuple[Chosen, ...] = ("bf16", "fp16")


class _Weights:
    """Switches a loaded model's transformer between fp32 (as loaded) and a half type.

    Only the transformer modules are converted, where the matrix products are; their token
    embeddings are cast back to fp32 so pooling, dense layers and normalization run in fp32. The
    fp32 tensors are kept until :meth:`settle`, so a probe can return to them exactly.
    """

    def __init__(self, model: SentenceTransformer) -> None:
        from sentence_transformers.sentence_transformer.modules import Transformer

        modules = [module for module in model if isinstance(module, Transformer)]
        for module in modules:
            module.register_forward_hook(_features_to_fp32)
        # Parameters only: float buffers (rotary frequencies, for one) are kept in fp32 on purpose.
        self._fp32 = [
            (tensor, tensor.data)
            for module in modules
            for tensor in module.parameters()
            if tensor.is_floating_point()
        ]
        self._precision: Chosen = "fp32"

    def use(self, precision: Chosen) -> None:
        if precision == self._precision:
            return
        if precision != "fp32" and not self._fp32:
            raise ConfigurationError(f"{precision} needs a transformer module; this model has none: use fp32")
        dtype = _dtype(precision)
        for tensor, original in self._fp32:
            tensor.data = original if dtype is None else original.to(dtype)
        self._precision = precision

    def settle(self) -> None:
        """Drop the fp32 copies when a half type was chosen (the model then holds only that)."""
        if self._precision != "fp32":
            self._fp32 = []


def _dtype(precision: Chosen) -> torch.dtype | None:
    import torch

    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def _features_to_fp32(module: object, inputs: object, features: dict[str, Any]) -> dict[str, Any]:
    import torch

    for key, value in features.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and value.dtype != torch.float32:
            features[key] = value.float()
    return features


def _token_lengths(counter: Tokenizer, texts: list[str], prompt: str, limit: int | None) -> list[int]:
    """Tokens of ``prompt + text`` for each text, special tokens included, capped at ``limit``."""
    lengths = [len(encoding.ids) for encoding in counter.encode_batch([prompt + text for text in texts])]
    return lengths if limit is None else [min(n, limit) for n in lengths]


def _default_batch_tokens(model: SentenceTransformer, device: str) -> int:
    """The token budget per pass: large on a GPU; on CPU a power of two near 4M values / hidden
    size (4096 at hidden 1024, 8192 at 384), between 1024 and 16384."""
    if device.startswith("cuda"):
        return _GPU_BATCH_TOKENS
    from sentence_transformers.sentence_transformer.modules import Transformer

    hidden = max((m.get_embedding_dimension() for m in model if isinstance(m, Transformer)), default=0)
    if not hidden:
        return 4096
    return min(16384, max(1024, 2 ** round(math.log2(_CPU_PASS_VALUES / hidden))))


def _batches(lengths: Sequence[int], budget: int) -> list[list[int]]:
    """Input indexes grouped into forward passes: longest first, each pass's padded size (its
    inputs x its longest input) within ``budget``; an input longer than the budget goes alone."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for i in order:
        if batches and (len(batches[-1]) + 1) * lengths[batches[-1][0]] <= budget:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def _embed(
    model: SentenceTransformer,
    texts: list[str],
    lengths: Sequence[int],
    *,
    prompt: str,
    batch_tokens: int,
    normalize: bool,
) -> np.ndarray:
    """Vectors of non-empty ``texts`` (``lengths``: their token counts), float32, checked finite
    and non-zero."""
    parts: list[np.ndarray] = []
    order: list[int] = []
    for batch in _batches(lengths, batch_tokens):
        parts.append(
            model.encode(
                [texts[i] for i in batch],
                prompt=prompt or None,
                batch_size=len(batch),
                convert_to_numpy=True,
                normalize_embeddings=normalize,
                show_progress_bar=False,
            )
        )
        order += batch
    vectors = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
    vectors[order] = np.concatenate(parts)
    _check_vectors(vectors)
    return vectors


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


def _runs_natively(precision: Chosen, device: str) -> bool:
    """Whether ``device`` has hardware for ``precision``'s matrix products."""
    import torch

    if precision == "fp32":
        return True
    if device.startswith("cuda"):
        return precision == "fp16" or bool(torch.cuda.is_bf16_supported())
    if device != "cpu" or not torch.backends.mkldnn.is_available():
        return False
    if precision == "bf16":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return bool(torch.ops.mkldnn._is_mkldnn_fp16_supported())


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _check_vectors(vectors: np.ndarray) -> None:
    bad_rows = ~np.isfinite(vectors).all(axis=1)
    if bad_rows.any():
        raise EncodingError(f"the model produced NaN or infinite values for input {int(np.argmax(bad_rows))}")
    zero_rows = ~np.any(vectors, axis=1)
    if zero_rows.any():
        raise EncodingError(f"the model produced an all-zero vector for input {int(np.argmax(zero_rows))}")
