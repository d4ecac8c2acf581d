"""The encoder fingerprint: everything that determines a document vector.

An index stores the fingerprint of the encoder that filled it. Opening or searching the index with
an encoder whose fingerprint differs in an identity field (model, weights, pooling, dim,
normalization, document prompt, max length) is refused before anything is written or searched.
Precision and backend are recorded but are not identity fields: the encoder uses a reduced
precision only where its vectors stay faithful to fp32's (mean cosine >= 0.999), so an index built
in one can be searched in the other.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from patent_rag.errors import FingerprintMismatchError

__all__ = ["Fingerprint"]

_INFORMATIVE = frozenset({"precision", "backend"})
_TYPES: dict[str, tuple[type, str]] = {
    "str": (str, "a string"),
    "int": (int, "an integer"),
    "bool": (bool, "a boolean"),
}


@dataclass(frozen=True)
class Fingerprint:
    """Identity of an encoder's document side.

    Example:
        >>> a = Fingerprint(model_id="m", revision="abc", pooling="mean", dim=384, normalize=True,
        ...                 document_prompt="", max_seq_length=256, precision="fp32")
        >>> a.ensure_matches(a)
    """

    model_id: str
    revision: str
    pooling: str
    dim: int
    normalize: bool
    document_prompt: str
    max_seq_length: int
    precision: str = "fp32"
    backend: str = "torch"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fingerprint:
        """The fingerprint stored as ``data``.

        Raises:
            TypeError: a field is missing or of the wrong type (``"dim": "abc"``).
        """
        known = {f.name: f.type for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        for key, value in values.items():
            kind, name = _TYPES[str(known[key])]
            # bool is an int in Python: a stored true is no dimension.
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise TypeError(f"fingerprint field {key!r} is {value!r}, not {name}")
        return cls(**values)

    def differences(self, other: Fingerprint) -> dict[str, tuple[Any, Any]]:
        """Identity fields whose values differ, as ``{field: (self's, other's)}``."""
        return {
            f.name: (getattr(self, f.name), getattr(other, f.name))
            for f in fields(self)
            if f.name not in _INFORMATIVE and getattr(self, f.name) != getattr(other, f.name)
        }

    def ensure_matches(self, index: Fingerprint, *, index_name: str = "the index") -> None:
        """Raise :class:`FingerprintMismatchError` naming both sides when the identities differ.

        ``self`` is the encoder's fingerprint, ``index`` the one stored with the index.
        """
        diff = self.differences(index)
        if not diff:
            return
        lines = "; ".join(
            f"{name}: encoder={mine!r} vs index={theirs!r}" for name, (mine, theirs) in diff.items()
        )
        raise FingerprintMismatchError(
            f"encoder does not match {index_name} ({lines}). Use the model and document prompt the "
            f"index was built with ({index.model_id!r}), or re-ingest into a new index."
        )
