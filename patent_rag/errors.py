"""The one error tree of patent_rag.

Every error the library raises on purpose derives from :class:`PatentRagError`, so
``except PatentRagError`` catches all of them and nothing else. The tree is shallow::

    PatentRagError
    ├── ConfigurationError            bad choice of model, task, option (also a ValueError)
    │   ├── UnknownModelError         no profile by that name; lists the known ones
    │   ├── UnknownTaskError          the profile has no such task; lists its tasks
    │   ├── PromptMissingError        a task lacks a query or document prompt
    │   └── PatentNotFoundError       a publication number that is not in the index
    ├── ModelUnavailableError         weights cannot be loaded offline; says what to install
    ├── EncodingError                 empty input, or a NaN / infinite / all-zero vector (also a ValueError)
    ├── ParseError                    a document could not be read; names file, document and line
    │   ├── UnsafeXMLError            entity expansion, external entities, DTD tricks
    │   └── UnsupportedFormatError    the input is not a format we read
    ├── StoreError                    anything a Qdrant backend reports
    │   ├── IndexNotFoundError
    │   ├── IndexExistsError
    │   ├── IndexLockedError          another process holds an embedded index
    │   ├── IndexCorruptError         the index's files are damaged or disagree; says how to rebuild
    │   ├── IndexOutdatedError        built by an earlier patent_rag with another layout; says how to rebuild
    │   ├── InvalidVectorError        refused before writing (NaN, inf, zero, wrong dim)
    │   └── BackendUnavailableError   server unreachable, timeout, auth failure
    ├── FingerprintMismatchError      encoder and index disagree; names both sides
    ├── WorkerError                   a distributed worker cannot start, or keeps dying; names it
    └── LLMError                      the LLM endpoint is unreachable, refuses, or answers nonsense

Messages say what would work: the valid choices, the package to install, the file to fix.
"""

from __future__ import annotations

__all__ = [
    "BackendUnavailableError",
    "ConfigurationError",
    "EncodingError",
    "FingerprintMismatchError",
    "IndexCorruptError",
    "IndexExistsError",
    "IndexLockedError",
    "IndexNotFoundError",
    "IndexOutdatedError",
    "InvalidVectorError",
    "LLMError",
    "ModelUnavailableError",
    "ParseError",
    "PatentNotFoundError",
    "PatentRagError",
    "PromptMissingError",
    "StoreError",
    "UnknownModelError",
    "UnknownTaskError",
    "UnsafeXMLError",
    "UnsupportedFormatError",
    "WorkerError",
]


class PatentRagError(Exception):
    """Root of every error patent_rag raises on purpose."""


class ConfigurationError(PatentRagError, ValueError):
    """A choice (model, task, option) that cannot work."""


class UnknownModelError(ConfigurationError):
    """No model profile by that name."""


class UnknownTaskError(ConfigurationError):
    """The model profile has no such task."""


class PromptMissingError(ConfigurationError):
    """A task of an asymmetric profile lacks its query or document prompt."""


class PatentNotFoundError(ConfigurationError):
    """A publication number that is not in the index."""


class ModelUnavailableError(PatentRagError):
    """The model's weights cannot be loaded here (offline, not installed, bad path)."""


class EncodingError(PatentRagError, ValueError):
    """An input cannot be encoded, or the model produced an unusable vector."""


class ParseError(PatentRagError):
    """A document could not be parsed.

    Attributes locate it so a user can open the file at the right place.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        document: int | None = None,
        line: int | None = None,
    ) -> None:
        self.reason = message
        self.file = file
        self.document = document
        self.line = line
        where = [
            part
            for part in (
                f"file {file}" if file is not None else None,
                f"document {document}" if document is not None else None,
                f"line {line}" if line is not None else None,
            )
            if part
        ]
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class UnsafeXMLError(ParseError):
    """XML that tries entity expansion, external entities or other DTD tricks."""


class UnsupportedFormatError(ParseError):
    """The input is not in a format patent_rag reads."""


class StoreError(PatentRagError):
    """A vector store backend reported a failure."""


class IndexNotFoundError(StoreError):
    """The index (collection or shard) does not exist."""


class IndexExistsError(StoreError):
    """The index already exists and overwriting was not asked for."""


class IndexLockedError(StoreError):
    """Another process holds the embedded index."""


class IndexCorruptError(StoreError):
    """The index's files are damaged or disagree (a part missing or truncated); it must be rebuilt."""


class IndexOutdatedError(StoreError):
    """The index was built by an earlier patent_rag whose layout this one does not read; rebuild it."""


class InvalidVectorError(StoreError):
    """A vector was refused before writing: NaN, infinite, all-zero or the wrong size."""


class BackendUnavailableError(StoreError):
    """The backend cannot be reached (connection, timeout, authentication)."""


class FingerprintMismatchError(PatentRagError):
    """The encoder's fingerprint does not match the index's."""


class WorkerError(PatentRagError):
    """A distributed worker (a Ray actor) could not start, disagrees with the others, or died too often."""


class LLMError(PatentRagError):
    """The LLM endpoint is unreachable, refused the request, or sent an unusable answer."""
