"""What a local model folder is: the known profile its files name, else the task its own prompts define.

A folder given as the model (``Encoder("./pe-small")``, ``--model ./pe-small``, as ``hf download
datalyes/patembed-small --local-dir ./pe-small`` makes it) carries no profile name, and its folder name
says nothing. Its files do. :func:`profile_for_dir` reads them and takes the first answer of:

1. **Recognition**: evidence naming a registered profile, strongest first:

   1. the model card names the model itself: front matter ``model_id``, ``model_name`` or
      ``model-index[].name``, or the card's title (its first ``#`` heading);
   2. the model card's ``base_model`` (a model derived from a known one keeps its recipe);
   3. the folder's prompt table holds every task of an asymmetric profile with the same prompts
      (patembed's ``retrieval_IN/MIXED/OUT``, e5's ``query: `` / ``passage: ``);
   4. ``config.json``'s ``_name_or_path`` (the id the weights were saved from);
   5. a profile's hub id (``owner/name``) anywhere in the model card's text, as usage examples write it.
      Prose that merely mentions a model is the weakest evidence: a comparison table names many.

   Names match exactly (profile name, hub id, or a hub id's last part), never as substrings. A
   candidate must agree with the loaded model (embedding dim and pooling); when several agree, the max
   sequence length decides. A level whose candidates all disagree, or stay several, is skipped with a
   log line; the first level left with exactly one candidate wins. The folder then gets that profile's
   recipe (tasks, prompts, max length) with the folder as ``model_id``; its own prompts still extend it.
2. **The model's own retrieval task**: unrecognized, the folder gets a profile read from its files,
   and :func:`apply_model_prompts` makes the retrieval task its prompts define (:func:`retrieval_task`)
   the default.
3. **Refusal**: prompts, but no retrieval task among them: :class:`UnknownTaskError` lists the tasks.

A folder with neither prompts nor a recognizable identity is encoded without prompts, and the log says so.
A folder's own code is never run (``trust_remote_code`` stays off): a model that needs it is given by
profile name with ``model_path``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from patent_rag.encoding.loading import read_model_prompts
from patent_rag.encoding.models import ModelProfile, TaskPrompts, list_profiles
from patent_rag.errors import UnknownTaskError

__all__ = ["ModelFacts", "apply_model_prompts", "profile_for_dir", "retrieval_task"]

logger = logging.getLogger(__name__)

_CARD = "README.md"
_CARD_MAX_BYTES = 1 << 20  # model cards are a few KB; a larger README is read only this far
_RETRIEVAL = re.compile(r"retrieval(?![a-z0-9])", re.IGNORECASE)


@dataclass(frozen=True)
class ModelFacts:
    """What the loaded model itself says; a candidate profile must agree with it."""

    dim: int
    pooling: str
    normalize: bool
    max_seq_length: int


@dataclass(frozen=True)
class _Level:
    evidence: str  # how a candidate at this level was found, e.g. "README.md base_model"
    claims_identity: bool  # a mismatch here is worth a warning (the card says what the model is)
    derived: bool  # the evidence names the model this one derives from, not the model itself
    candidates: tuple[tuple[ModelProfile, str], ...]  # profile and the value that named it


def profile_for_dir(model_id: str, model_dir: Path, facts: ModelFacts) -> ModelProfile:
    """The profile of the model folder ``model_dir`` (given by the user as ``model_id``).

    A recognized copy of a known model gets its profile, hub id included: an index it builds records the
    model, not the folder, and can be searched with any copy of the same weights (the fingerprint's
    weights digest tells copies apart). A model derived from a known one (only its ``base_model`` is
    known) gets that recipe under the folder's name; a folder that is not recognized gets a profile read
    from ``facts``, whose default task :func:`apply_model_prompts` picks. Both are identified by the
    folder's absolute path, so the index can be searched from any working directory. The evidence is in
    ``notes``.
    """
    own = read_model_prompts(model_dir, default_task="retrieval")
    absolute = os.path.abspath(os.path.expanduser(model_id))
    folder = Path(absolute).name or model_id
    found = _recognize(model_dir, facts, own)
    if found is not None:
        known, evidence, derived = found
        notes = f"{'derived from' if derived else 'a copy of'} {known.name}, recognized by {evidence}"
        logger.info("%s: %s", model_id, notes)
        return dataclasses.replace(
            known,
            name=folder if derived else known.name,
            model_id=absolute if derived else known.model_id,
            package=None,
            trust_remote_code=False,  # a folder's own code is never run on the strength of its files
            notes=notes,
        )
    if not _prompted(own):
        logger.warning(
            "%s is not a model patent_rag recognizes and carries no prompts: queries and documents are "
            "encoded without a prompt. If the model expects prompts, register its profile "
            "(patent_rag.register_profile) and pass its name.",
            model_id,
        )
    return ModelProfile(
        name=folder,
        model_id=absolute,
        dim=facts.dim,
        pooling=facts.pooling,  # type: ignore[arg-type]  # as the loaded files say, checked again on load
        max_seq_length=facts.max_seq_length,
        normalize=facts.normalize,
        notes="read from the folder's own files (not a recognized model)",
    )


def apply_model_prompts(
    profile: ModelProfile,
    own: Mapping[str, TaskPrompts],
    *,
    where: Path,
    document_task: str | None = None,
) -> ModelProfile:
    """``profile`` with the prompts the model carries (``own``), and a default task that uses them.

    A profile that knows no prompts at all (a folder read from its files, a symmetric profile) while the
    model carries some must not encode with none: its empty tasks the model does not define are dropped
    and the default becomes the model's retrieval task (:func:`retrieval_task`). When the model defines
    none, an explicit ``document_task`` is the default; else :class:`UnknownTaskError`.
    """
    merged = profile.with_prompts(own)
    if not _prompted(own) or _prompted(profile.tasks) or _has_prompt(merged.prompts()):
        return merged
    tasks = {name: prompts for name, prompts in merged.tasks.items() if name in own}
    if document_task is not None and document_task in tasks:
        try:
            default = retrieval_task(own, where=where)
        except UnknownTaskError:
            default = document_task
    else:
        default = retrieval_task(own, where=where)
    logger.info("%s: using the model's own task %r (its prompts define it)", where, default)
    return dataclasses.replace(merged, tasks=tasks, default_task=default)


def retrieval_task(tasks: Mapping[str, TaskPrompts], *, where: Path) -> str:
    """The task a model's own prompt table defines for retrieval.

    Retrieval tasks are those named ``retrieval`` or ``retrieval`` + a qualifier (``retrieval_MIXED``,
    ``Retrieval-query``), with a prompt on at least one side. The only one is taken; of several,
    ``retrieval`` itself, else the one qualified ``MIXED`` (patembed's task for prior-art search, where
    the query and the documents may come from the same or different domains).

    Raises:
        UnknownTaskError: none, or several without one of those names; the message lists the tasks.
    """
    prompted = sorted(name for name, prompts in tasks.items() if _has_prompt(prompts))
    retrieval = [name for name in prompted if _RETRIEVAL.match(name)]
    if len(retrieval) == 1:
        return retrieval[0]
    for qualifier in ("", "mixed"):
        preferred = [name for name in retrieval if _qualifier(name) == qualifier]
        if len(preferred) == 1:
            return preferred[0]
    choose = (
        "choose the task whose prompts encode documents and queries: document_task=NAME (Encoder, "
        "PatentEmbedding; CLI: --task NAME), or register a ModelProfile for this model "
        "(patent_rag.register_profile) and pass its name"
    )
    if retrieval:
        raise UnknownTaskError(
            f"{where}: the model's prompts define several retrieval tasks {retrieval} and none is named "
            f"'retrieval' or 'retrieval_MIXED'; {choose}"
        )
    raise UnknownTaskError(
        f"{where}: the model's prompts define no retrieval task (one named 'retrieval' or 'retrieval_*'); "
        f"its tasks are {prompted}; {choose}"
    )


def _qualifier(task: str) -> str:
    """``retrieval_MIXED`` -> ``mixed``; ``retrieval`` -> ``""``."""
    return task[len("retrieval") :].strip("_-. ").lower()


def _has_prompt(prompts: TaskPrompts) -> bool:
    return bool(prompts.query or prompts.document)


def _prompted(tasks: Mapping[str, TaskPrompts]) -> bool:
    return any(_has_prompt(prompts) for prompts in tasks.values())


def _recognize(
    model_dir: Path, facts: ModelFacts, own: Mapping[str, TaskPrompts]
) -> tuple[ModelProfile, str, bool] | None:
    for level in _levels(model_dir, own):
        candidates = {profile.name: (profile, value) for profile, value in level.candidates}
        if not candidates:
            continue
        agree = [
            (profile, value)
            for profile, value in candidates.values()
            if profile.dim == facts.dim and profile.pooling == facts.pooling
        ]
        if len(agree) > 1:
            agree = [item for item in agree if item[0].max_seq_length == facts.max_seq_length] or agree
        if len(agree) == 1:
            profile, value = agree[0]
            evidence = f"{level.evidence} {value!r}" if value else level.evidence
            return profile, evidence, level.derived
        names = sorted(candidates)
        if agree:
            logger.info(
                "%s: %s fits several profiles %s; not deciding on it",
                model_dir,
                level.evidence,
                sorted(p.name for p, _ in agree),
            )
        else:
            logger.log(
                logging.WARNING if level.claims_identity else logging.INFO,
                "%s: %s names %s, but the model produces %d-dim vectors with %s pooling: not that model",
                model_dir,
                level.evidence,
                ", ".join(names),
                facts.dim,
                facts.pooling,
            )
    return None


def _levels(model_dir: Path, own: Mapping[str, TaskPrompts]) -> Iterator[_Level]:
    profiles = list_profiles()
    front, body = _read_card(model_dir)
    names = [*_strings(front.get("model_id")), *_strings(front.get("model_name"))]
    index = front.get("model-index")
    if isinstance(index, list):
        names += [n for entry in index if isinstance(entry, Mapping) for n in _strings(entry.get("name"))]
    title = _title(body)
    yield _Level(
        f"{_CARD} name",
        True,
        False,
        tuple((p, name) for name in [*names, *([title] if title else [])] for p in _named(profiles, name)),
    )
    yield _Level(
        f"{_CARD} base_model",
        True,
        True,
        tuple((p, base) for base in _strings(front.get("base_model")) for p in _named(profiles, base)),
    )
    yield _Level(
        "its prompt table",
        False,
        False,
        tuple(
            (p, "")
            for p in profiles
            if _prompted(p.tasks) and all(own.get(task) == prompts for task, prompts in p.tasks.items())
        ),
    )
    saved_from = _name_or_path(model_dir)
    yield _Level(
        "config.json _name_or_path",
        False,
        False,
        tuple((p, saved_from) for p in _named(profiles, saved_from)) if saved_from else (),
    )
    yield _Level(
        f"{_CARD} mentions",
        False,
        False,
        tuple(
            (p, p.model_id)
            for p in profiles
            if _is_hub_id(p.model_id)
            and re.search(rf"(?<![\w./-]){re.escape(p.model_id)}(?![\w/-]|\.\w)", body, re.IGNORECASE)
        ),
    )


def _named(profiles: list[ModelProfile], name: str) -> list[ModelProfile]:
    """Profiles whose name, hub id, or hub id's last part is exactly ``name`` (case-insensitive)."""
    wanted = name.strip().lower()
    if not wanted:
        return []
    found = []
    for profile in profiles:
        ids = {profile.name.lower(), profile.model_id.lower()}
        if _is_hub_id(profile.model_id):
            ids.add(profile.model_id.rsplit("/", 1)[-1].lower())
        if wanted in ids:
            found.append(profile)
    return found


def _is_hub_id(model_id: str) -> bool:
    return re.fullmatch(r"[\w.-]+/[\w.-]+", model_id) is not None and not model_id.startswith(".")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _read_card(model_dir: Path) -> tuple[dict[str, Any], str]:
    """The model card's YAML front matter and its text (both empty when there is no card)."""
    path = model_dir / _CARD
    if not path.is_file():
        return {}, ""
    with path.open("rb") as handle:
        text = handle.read(_CARD_MAX_BYTES).decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, text
    end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), None)
    if end is None:
        return {}, text
    import yaml  # a dependency of transformers and huggingface_hub, which read model cards with it

    try:
        front = yaml.safe_load("\n".join(lines[1:end]))
    except (yaml.YAMLError, RecursionError) as exc:
        logger.info("%s: front matter is not valid YAML (%s); reading the text only", path, exc)
        front = None
    return (front if isinstance(front, dict) else {}), "\n".join(lines[end + 1 :])


def _title(body: str) -> str | None:
    """The card's first ``#`` heading outside code blocks."""
    fenced = False
    for line in body.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#") and line[1:2].isspace():
            return line[1:].strip().rstrip("#").strip() or None
    return None


def _name_or_path(model_dir: Path) -> str | None:
    for config in (model_dir / "config.json", model_dir / "0_Transformer" / "config.json"):
        try:
            value = json.loads(config.read_text(encoding="utf-8")).get("_name_or_path")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(value, str) and value:
            return value
    return None
