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
from pathlib import Path

from patent_rag.encoder import Encoder, Precision
from patent_rag.errors import UnknownModelError
from patent_rag.fingerprint import Fingerprint
from patent_rag.models import ModelProfile, get_profile

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
        UnknownModelError: the recorded model is neither a known profile nor a local directory;
            the message says to pass ``--model`` / ``model=``.
        ModelUnavailableError: the model's weights are not available offline.
    """
    chosen: str | ModelProfile = model or fingerprint.model_id
    if isinstance(chosen, str) and Path(chosen).expanduser().is_dir():
        return Encoder(chosen, model_path=model_path, device=device, precision=precision)
    try:
        profile = chosen if isinstance(chosen, ModelProfile) else get_profile(chosen)
    except UnknownModelError as error:
        raise UnknownModelError(
            f"the index was built with model {fingerprint.model_id!r}, which is not a known profile here; "
            "pass the model (CLI: --model NAME or DIR, --model-path DIR) or register its profile. "
            f"({error})"
        ) from None
    task = _document_task(profile, fingerprint.document_prompt)
    logger.info("index built with %s (document task %s)", profile.name, task or profile.default_task)
    key = (
        profile.name,
        profile.model_id,
        None if model_path is None else str(model_path),
        device,
        precision,
        task,
    )
    with _lock:
        if key not in _loaded:
            # Loading takes seconds; a process that searches several times (tests, notebooks) loads once.
            _loaded.clear()
            _loaded[key] = Encoder(
                profile, model_path=model_path, device=device, precision=precision, document_task=task
            )
        return _loaded[key]
