"""What the backends share behind the seam: client-side grouping and reading scrolled records.

Callers never see these: they get :class:`~patent_rag.stores.base.HitGroup` values from
``search_groups`` whichever backend did the grouping.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from patent_rag.stores.base import HitGroup, SearchHit

__all__ = ["collect_hashes", "group_hits", "ordered_hits", "payload_key", "widening_groups"]


def widening_groups(
    search: Callable[[int], list[SearchHit]],
    *,
    key: Callable[[SearchHit], str | None],
    limit: int,
    group_size: int,
    start: int,
) -> list[HitGroup]:
    """Client-side group-by with exact top groups: fetch more chunks until ``limit`` groups are seen.

    Every group not among the fetched hits has no chunk scoring above the last fetched one, so
    once ``limit`` distinct groups are seen (or the index is exhausted) the top ``limit`` groups by
    best chunk are exact; a group's further evidence chunks are the best among those fetched. The
    next fetch is sized from the chunks per group seen so far (at least twice the last one).
    """
    fetch = max(start, 1)
    while True:
        hits = search(fetch)
        distinct = len({key(hit) for hit in hits})
        if distinct >= limit or len(hits) < fetch:
            return group_hits(hits, key=key, limit=limit, group_size=group_size)
        fetch = max(2 * fetch, math.ceil(1.25 * limit * len(hits) / max(distinct, 1)))


def payload_key(field: str) -> Callable[[SearchHit], str | None]:
    """A group key read from a payload field (None when the field is missing)."""

    def key(hit: SearchHit) -> str | None:
        value = hit.payload.get(field)
        return None if value is None else str(value)

    return key


def collect_hashes(publication_numbers: Sequence[str], records: Iterable[Any]) -> dict[str, dict[str, str]]:
    """``{publication number: {point id: content hash}}`` from scrolled records (id + payload)."""
    found: dict[str, dict[str, str]] = {number: {} for number in publication_numbers}
    for record in records:
        payload = record.payload or {}
        found.setdefault(payload.get("publication_number", ""), {})[str(record.id)] = payload.get(
            "content_hash", ""
        )
    return found


def ordered_hits(records: Iterable[Any]) -> list[SearchHit]:
    """Scrolled records as score-0 hits in patent and chunk order."""
    hits = [SearchHit(str(record.id), 0.0, dict(record.payload or {})) for record in records]
    return sorted(hits, key=lambda hit: (hit.publication_number, hit.payload.get("ordinal", 0)))


def group_hits(
    hits: Sequence[SearchHit], *, key: Callable[[SearchHit], str | None], limit: int, group_size: int
) -> list[HitGroup]:
    """Group score-ordered hits by ``key`` (None: dropped), groups ranked by their best hit.

    Equal scores (identical texts, e.g. an application and its grant) are ordered by chunk id and
    group key: engines return ties in no fixed order, and a ranking should not change between runs.
    """
    groups: dict[str, list[SearchHit]] = {}
    for hit in sorted(hits, key=lambda hit: (-hit.score, hit.id)):
        group = key(hit)
        if group is None:
            continue
        members = groups.setdefault(group, [])
        if len(members) < group_size:
            members.append(hit)
    ranked = sorted(groups.items(), key=lambda item: (-item[1][0].score, item[0]))
    return [HitGroup(group, tuple(members)) for group, members in ranked[:limit]]
