"""USPTO parsing throughput: documents/s and MB/s, against bare lxml on the same documents.

Runs on the largest bulk fixture in ``tests/fixtures/uspto`` and, when the shared data folder is
present, on a simulated week of grants: the PatentsView weekly slices, decompressed and
concatenated until about ``--week-mb`` megabytes (a real ``ipgYYMMDD.xml`` week is ~7k documents,
~500 MB). The baseline splits the same file and calls ``lxml.etree.fromstring`` on each document
with lxml's default parser (no safety checks, no field extraction), so the difference is the cost
of safe parsing plus building the records.

    python benchmarks/parse_throughput.py [--shared-data ../shared/data] [--week-mb 500]
"""

from __future__ import annotations

import argparse
import gzip
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path

from lxml import etree

from patent_rag.documents.parsers import ParseReport, parse_files
from patent_rag.documents.parsers._input import open_input
from patent_rag.documents.parsers._xml import split_documents

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "uspto"


def _xml_bytes(path: Path) -> int:
    total = 0
    for member in open_input(path):
        while chunk := member.stream.read(1 << 20):
            total += len(chunk)
    return total


def _ours(path: Path) -> tuple[float, ParseReport]:
    report = ParseReport()
    start = time.perf_counter()
    for _ in parse_files([path], format="uspto", report=report):
        pass
    return time.perf_counter() - start, report


def _bare_lxml(path: Path) -> tuple[float, int]:
    count = 0
    start = time.perf_counter()
    for member in open_input(path):
        for raw in split_documents(member.stream):
            try:
                etree.fromstring(raw.data)
                count += 1
            except etree.XMLSyntaxError:
                pass  # the stock parser rejects the undeclared &entities; counted as not read
    return time.perf_counter() - start, count


def _line(label: str, seconds: float, documents: int, megabytes: float) -> str:
    return (
        f"  {label:<34} {documents:>6} docs  {seconds:7.2f} s  "
        f"{documents / seconds:8.0f} docs/s  {megabytes / seconds:7.1f} MB/s\n"
    )


def bench(path: Path, title: str) -> None:
    megabytes = _xml_bytes(path) / 1e6
    sys.stdout.write(f"{title}: {path.name}, {megabytes:.1f} MB of XML\n")
    seconds, report = _ours(path)
    sys.stdout.write(_line("patent_rag parse_files (uspto)", seconds, report.read, megabytes))
    sys.stdout.write(f"  {'':<34} {report.summary()}\n")
    seconds, count = _bare_lxml(path)
    sys.stdout.write(_line("bare lxml.etree.fromstring", seconds, count, megabytes))


def simulated_week(shared: Path, target_mb: float, directory: Path) -> Path | None:
    slices = sorted((shared / "uspto_xml" / "patentsview_fixtures").glob("ipg*.small.xml.gz"))
    if not slices:
        return None
    parts = [gzip.decompress(part.read_bytes()) for part in slices]
    week = directory / "ipg-simulated-week.xml"
    written = 0
    with week.open("wb") as out:
        while written < target_mb * 1e6:
            for part in parts:
                out.write(part)
                written += len(part)
    return week


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared-data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--week-mb", type=float, default=500.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    largest = max(FIXTURES.glob("*.gz"), key=lambda path: path.stat().st_size)
    bench(largest, "largest bulk fixture")
    with tempfile.TemporaryDirectory() as directory:
        week = simulated_week(args.shared_data, args.week_mb, Path(directory))
        if week is None:
            sys.stdout.write(f"simulated week skipped: no weekly slices under {args.shared_data}\n")
        else:
            bench(week, "simulated week of grants")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sys.stdout.write(f"peak resident memory: {peak:.0f} MB\n")


if __name__ == "__main__":
    main()
