"""What an element's similarity to an ordinary passage of the index looks like: the background its
scores are standardized against.

A fixed sample of passages is drawn from the index once per store: the first patents in the
store's own id order (which hashes publication numbers, so the draw follows no field or date), a
few passages spread over each. For each element, the mean and spread of its
similarity to those passages turn a raw similarity into a z score: "so many standard deviations
above what this element scores against an ordinary passage of this index, with this model". That
makes one threshold mean the same with models whose cosines live on different scales, and for
generic elements ("a processor") that match everything a little.

Every passage of the sampled patents gives the document frequencies of the lexical score (BM25
with the index's own tokenizer and term weights, :class:`~patent_rag.stores.sparse.Bm25Encoder`).
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from patent_rag.charts._passages import reference_text
from patent_rag.encoding.encoder import Encoder
from patent_rag.stores.base import SearchHit, Store
from patent_rag.stores.filters import SearchFilter
from patent_rag.stores.sparse import Bm25Encoder, SparseTerms

__all__ = ["Background", "Lexicon", "background_for"]

_PATENTS = 32  # patents the sample spreads over
_CHUNK_LIMIT = 20_000  # the sample patents' chunks read at most
_CACHED = 20_000  # passage vectors kept per store (about 30 MB at 384 dimensions)
_LOCK = threading.Lock()
_CACHE: weakref.WeakKeyDictionary[Store, dict[int, Background]] = weakref.WeakKeyDictionary()


class Lexicon:
    """BM25 of an element against passages: the index's tokenizer and term weights, document
    frequencies from a sample of the index. Scores are normalised by the element's total IDF, so
    1.0 is every term of the element present with the stored weight of one occurrence in a
    passage of average length."""

    def __init__(self, bm25: Bm25Encoder, sample: Sequence[str]) -> None:
        self._bm25 = bm25
        self._size = len(sample)
        frequency: dict[int, int] = {}
        for terms in bm25.embed_documents(sample):
            for term in terms.indices:
                frequency[term] = frequency.get(term, 0) + 1
        self._frequency = frequency

    def idf(self, term: int) -> float:
        df = self._frequency.get(term, 0)
        return math.log(1.0 + (self._size - df + 0.5) / (df + 0.5))

    def terms(self, texts: Sequence[str]) -> list[SparseTerms]:
        return self._bm25.embed_documents(texts)

    def query(self, text: str) -> dict[int, float]:
        """The element's terms and their IDF weights, summing to 1 (empty: no term)."""
        terms = self._bm25.embed_query(text).indices
        weights = {term: self.idf(term) for term in terms}
        total = sum(weights.values())
        return {term: weight / total for term, weight in weights.items()} if total > 0 else {}

    @staticmethod
    def score(query: dict[int, float], terms: SparseTerms) -> float:
        stored = dict(zip(terms.indices, terms.values, strict=True))
        return float(sum(weight * stored.get(term, 0.0) for term, weight in query.items()))


@dataclass
class Background:
    """A fixed sample of the index's passages, their vectors (made on first use) and a lexicon;
    also the store's cache of passage vectors, so charts against the same references encode their
    passages once."""

    texts: list[str]
    lexicon: Lexicon
    terms: list[SparseTerms]
    _vectors: dict[str, np.ndarray] = field(default_factory=dict)
    _passages: OrderedDict[tuple[str, str], np.ndarray] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def vectors(self, encoder: Encoder) -> np.ndarray:
        """The sample's document vectors, unit length (one encoding per encoder fingerprint)."""
        key = repr(encoder.fingerprint)
        if key not in self._vectors:
            self._vectors[key] = unit_rows(encoder.encode_documents(self.texts))
        return self._vectors[key]

    def passage_vectors(self, encoder: Encoder, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Unit document vectors of ``texts``, encoded in one batch for those not cached (the
        :data:`_CACHED` most recently used are kept)."""
        model = repr(encoder.fingerprint)
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for text in texts:
                vector = self._passages.get((model, text))
                if vector is not None:
                    self._passages.move_to_end((model, text))
                    found[text] = vector
        missing = [text for text in dict.fromkeys(texts) if text not in found]
        if missing:
            made = dict(zip(missing, unit_rows(encoder.encode_documents(missing)), strict=True))
            found.update(made)
            with self._lock:
                for text, vector in made.items():
                    self._passages[(model, text)] = vector
                while len(self._passages) > _CACHED:
                    self._passages.popitem(last=False)
        return found


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (cosine = dot product), whatever the profile normalises."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _sample(store: Store, size: int) -> tuple[list[str], list[str]]:
    """``size`` passages spread over the sample's patents, and every passage of those patents."""
    heads = store.fetch(SearchFilter(sections=("abstract", "title")), limit=_PATENTS)
    numbers = tuple(dict.fromkeys(hit.publication_number for hit in heads))
    if not numbers:
        return [], []
    chunks = store.fetch(SearchFilter(publication_numbers=numbers), limit=_CHUNK_LIMIT)
    by_patent: dict[str, list[SearchHit]] = {}
    for chunk in chunks:
        by_patent.setdefault(chunk.publication_number, []).append(chunk)
    per_patent = max(1, math.ceil(size / len(by_patent)))
    texts: list[str] = []
    every: list[str] = []
    for patent in sorted(by_patent):
        passages = reference_text(by_patent[patent]).passages
        every += [piece for passage in passages for piece in passage.pieces]
        step = max(1.0, len(passages) / per_patent)
        picked = {int(i * step) for i in range(per_patent) if int(i * step) < len(passages)}
        texts += [passages[i].pieces[0] for i in sorted(picked)]
    return _spread(texts, size), every


def _spread(items: list[str], size: int) -> list[str]:
    if len(items) <= size:
        return items
    step = len(items) / size
    return [items[int(i * step)] for i in range(size)]


def background_for(store: Store, size: int) -> Background:
    """The background sample of an open store, drawn once per store and size (cached while the
    store lives; an index that grows meanwhile keeps its first sample)."""
    with _LOCK:
        cached = _CACHE.get(store, {}).get(size)
    if cached is not None:
        return cached
    texts, every = _sample(store, size)
    # Document frequencies from every passage of the sample's patents: terms cost no model call.
    lexicon = Lexicon(store.bm25, every)
    made = Background(texts=texts, lexicon=lexicon, terms=lexicon.terms(texts))
    with _LOCK:
        try:
            return _CACHE.setdefault(store, {}).setdefault(size, made)
        except TypeError:  # a store that takes no weak reference is not cached
            return made
