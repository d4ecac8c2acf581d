"""What every parser shares: the summary of a run and the per-document problems it met.

A parser is a generator function ``parse(path, *, report) -> Iterator[PatentDocument]``. It yields
documents one at a time (bounded memory whatever the file size) and records in ``report`` what it
read, skipped (not a patent: sequence listings, DOCDB family-only records...) and rejected (broken).
A rejected document never stops the file: the parser logs it, records it and goes on.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from patent_rag.errors import ParseError

__all__ = ["ParseIssue", "ParseReport"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParseIssue:
    """One document that was skipped or rejected, and where it is."""

    outcome: Literal["skipped", "rejected"]
    reason: str
    file: str
    document: int
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}, document {self.document}" + (f", line {self.line}" if self.line else "")
        return f"{where}: {self.reason}"


@dataclass
class ParseReport:
    """Counts of one parsing run; shared across files when several are parsed."""

    read: int = 0
    issues: list[ParseIssue] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return sum(1 for issue in self.issues if issue.outcome == "skipped")

    @property
    def rejected(self) -> int:
        return sum(1 for issue in self.issues if issue.outcome == "rejected")

    def skip(self, reason: str, *, file: str, document: int, line: int | None = None) -> None:
        self.issues.append(ParseIssue("skipped", reason, file, document, line))
        logger.debug("skipped %s document %d: %s", file, document, reason)

    def reject(self, error: ParseError) -> None:
        self.issues.append(
            ParseIssue("rejected", error.reason, error.file or "?", error.document or 0, error.line)
        )
        logger.warning("rejected %s", error)

    def reasons(self) -> Counter[str]:
        """How often each skip/reject reason occurred (for the CLI summary)."""
        return Counter(f"{issue.outcome}: {issue.reason}" for issue in self.issues)

    def summary(self) -> str:
        return f"{self.read} read, {self.skipped} skipped, {self.rejected} rejected"
