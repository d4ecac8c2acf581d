"""Text to vectors: model profiles and their task prompts (:mod:`.models`), the files a model is
loaded from (:mod:`.loading`, :mod:`.model_dir`), the :class:`~.encoder.Encoder` that applies a
profile's recipe, the fingerprint an index records, and the encoder an index was built with
(:mod:`.resolve`). Nothing here knows a retrieval framework."""

from __future__ import annotations

from patent_rag.encoding.encoder import Encoder
from patent_rag.encoding.fingerprint import Fingerprint
from patent_rag.encoding.models import ModelProfile, TaskPrompts, get_profile, list_profiles, register_profile

__all__ = [
    "Encoder",
    "Fingerprint",
    "ModelProfile",
    "TaskPrompts",
    "get_profile",
    "list_profiles",
    "register_profile",
]
