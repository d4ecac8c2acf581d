"""Load the encoder an index was built with, from the fingerprint stored with it.

An index records its encoder's fingerprint (model id, document prompt...). Searching needs the same
model and document prompt, so the CLI and :meth:`PriorArtRetriever` users need not repeat
``--model``: :func:`encoder_for_index` finds the profile by the recorded model id and the task
by the recorded document prompt.

Example:
    >>> from patent_rag.stores import open_store
    >>> store = open_store("my-index")
    >>> store.open()  # doctest: +SKIP
    >>> encoder = encoder_for_index(store.metadata.fingerprint)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from patent_rag.encoding.encoder import Encoder, Precision
from patent_rag.encoding.fingerprint import Fingerprint
from patent_rag.encoding.loading import read_model_prompts
from patent_rag.encoding.models import ModelProfile, get_profile, list_profiles
from patent_rag.errors import UnknownModelError

__all__ = ["encoder_for_index"]

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_loaded: dict[tuple[object, ...], Encoder] = {}  # the last encoder loaded, kept for the next search


def _document_task(profile: ModelProfile, document_prompt: str) -> str | None:
    if profile.prompts().document == document_prompt:
        return None
    for name, prompts in profile.tasks.items():
        if prompts.document == document_prompt:
            return name
    return None  # the model's own prompt table may have it; the fingerprint check will tell


def _named_task(folder: Path, document_prompt: str) -> str | None:
    """The one task of a folder's own prompt table, by its own name, whose document prompt is this."""
    plain = "\0"  # plain query/document prompts have no task name of their own
    tasks = read_model_prompts(folder, default_task=plain) if document_prompt else {}
    named = [name for name, prompts in tasks.items() if name != plain and prompts.document == document_prompt]
    return named[0] if len(named) == 1 else None


def encoder_for_index(
    fingerprint: Fingerprint,
    *,
    model: str | ModelProfile | None = None,
    model_path: str | os.PathLike[str] | None = None,
    device: str = "auto",
    precision: Precision = "auto",
) -> Encoder:
    """The encoder for an index's ``fingerprint`` (``model`` overrides the recorded model id).

    Raises:
        UnknownModelError: ``model`` is neither a known profile nor a local directory (the message
            lists the profiles), or, with no ``model``, the recorded model is neither; the message says
            to pass ``--model`` / ``model=``.
        ModelUnavailableError: the model's weights are not available offline.
    """
    chosen: str | ModelProfile = model or fingerprint.model_id
    build: Callable[[], Encoder]
    if isinstance(chosen, str) and Path(chosen).expanduser().is_dir():
        directory = chosen
        key: tuple[object, ...] = ("dir", str(Path(chosen).expanduser().resolve()))

        def build() -> Encoder:
            # A folder whose prompts define no retrieval task is refused without a task: name the one
            # whose document prompt built the index. Otherwise match it once the folder's profile is read.
            folder = Path(model_path if model_path is not None else directory).expanduser()
            named = _named_task(folder, fingerprint.document_prompt)
            encoder = Encoder(
                directory, model_path=model_path, device=device, precision=precision, document_task=named
            )
            task = None if named else _document_task(encoder.profile, fingerprint.document_prompt)
            return encoder if task is None else encoder.with_document_task(task)

    else:
        profile = chosen if isinstance(chosen, ModelProfile) else _known_profile(chosen, fingerprint, model)
        task = _document_task(profile, fingerprint.document_prompt)
        logger.info("index built with %s (document task %s)", profile.name, task or profile.default_task)
        key = (profile.name, profile.model_id, task)

        def build() -> Encoder:
            return Encoder(
                profile, model_path=model_path, device=device, precision=precision, document_task=task
            )

    key = (
        *key,
        None if model_path is None else str(model_path),
        device,
        precision,
        fingerprint.document_prompt,
    )
    with _lock:
        if key not in _loaded:
            # Loading takes seconds; a process that searches several times (tests, notebooks) loads once.
            _loaded.clear()
            _loaded[key] = build()
        return _loaded[key]


def _known_profile(name: str, fingerprint: Fingerprint, given: str | ModelProfile | None) -> ModelProfile:
    try:
        return get_profile(name)
    except UnknownModelError:
        pass
    known = ", ".join(profile.name for profile in list_profiles())
    if given is not None:
        raise UnknownModelError(
            f"unknown model {name!r} (--model / model=): it is neither a known profile nor a model directory "
            f"here. Known profiles: {known}; or give a local model directory, or leave the model out to use "
            f"the one the index was built with ({fingerprint.model_id!r})."
        ) from None
    raise UnknownModelError(
        f"the index was built with model {fingerprint.model_id!r}, which is neither a known profile nor a "
        "model directory here; pass the model (CLI: --model NAME or DIR, --model-path DIR) or register its "
        f"profile. Known profiles: {known}."
    ) from None
