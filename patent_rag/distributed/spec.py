"""The values a distributed ingest is configured with: how workers load the encoder, and the cluster.

Both are small frozen values sent to every worker as they are; nothing here imports Ray.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from patent_rag.encoding.encoder import Encoder, Precision
from patent_rag.encoding.models import ModelProfile
from patent_rag.errors import ConfigurationError

__all__ = ["EncoderSpec", "RayOptions"]


@dataclass(frozen=True, kw_only=True)
class EncoderSpec:
    """How each worker loads its encoder: :class:`~patent_rag.encoding.encoder.Encoder`'s arguments.

    Workers receive this, not the weights: each loads the model once, from ``model_path`` when
    given (a folder every node can read), and the driver checks that every worker's fingerprint
    agrees before anything is written.

    Example:
        >>> EncoderSpec(model="patembed-small", model_path="/models/patembed-small").document_task is None
        True
    """

    model: str | ModelProfile = "all-minilm-l6-v2"
    model_path: str | None = None
    device: str = "auto"
    precision: Precision = "auto"
    document_task: str | None = None
    batch_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.precision not in get_args(Precision):
            choices = ", ".join(repr(value) for value in get_args(Precision))
            raise ConfigurationError(f"precision must be one of {choices}, got {self.precision!r}")
        if self.batch_tokens is not None and self.batch_tokens < 1:
            raise ConfigurationError(f"batch_tokens must be >= 1, got {self.batch_tokens}")

    @classmethod
    def of(cls, encoder: Encoder) -> EncoderSpec:
        """The spec that loads ``encoder``'s model, task, precision and token budget again."""
        return cls(
            model=encoder.profile,
            model_path=str(encoder.model_dir),
            precision=encoder.precision,
            document_task=encoder.document_task,
            batch_tokens=encoder.batch_tokens,
        )

    def load(self) -> Encoder:
        return Encoder(
            self.model,
            model_path=self.model_path,
            device=self.device,
            precision=self.precision,
            document_task=self.document_task,
            batch_tokens=self.batch_tokens,
        )


@dataclass(frozen=True, kw_only=True)
class RayOptions:
    """Where and how wide a distributed ingest runs.

    Attributes:
        address: the cluster: ``None`` joins the one ``RAY_ADDRESS`` names or starts a local one
            (Ray's default), ``"local"`` always starts one on this machine, ``"auto"`` joins the
            cluster ``ray start`` runs here, ``"ray://HOST:10001"`` a remote one. Ignored when Ray
            is already initialized in this process.
        workers: how many workers (one model each); default: as many as the cluster's GPUs (or
            CPUs, ``cpus_per_worker`` each) allow.
        cpus_per_worker: CPUs reserved per worker; its torch threads follow (Ray sets
            ``OMP_NUM_THREADS``).
        gpus_per_worker: GPUs per worker; default 1 when the cluster has GPUs, else 0.
        parts_per_file: how many parts each input file is split into (zip archives are never
            split); default: enough for every worker to have two to work on.
        retries: how many times one part is restarted on a new worker after its worker died.
    """

    address: str | None = None
    workers: int | None = None
    cpus_per_worker: float = 1.0
    gpus_per_worker: float | None = None
    parts_per_file: int | None = None
    retries: int = 3

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ConfigurationError(f"workers must be >= 1, got {self.workers}")
        if self.cpus_per_worker <= 0:
            raise ConfigurationError(f"cpus_per_worker must be > 0, got {self.cpus_per_worker}")
        if self.gpus_per_worker is not None and self.gpus_per_worker < 0:
            raise ConfigurationError(f"gpus_per_worker must be >= 0, got {self.gpus_per_worker}")
        if self.parts_per_file is not None and self.parts_per_file < 1:
            raise ConfigurationError(f"parts_per_file must be >= 1, got {self.parts_per_file}")
        if self.retries < 0:
            raise ConfigurationError(f"retries must be >= 0, got {self.retries}")
