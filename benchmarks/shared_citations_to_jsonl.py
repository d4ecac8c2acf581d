"""Convert the PatSnap CS3245 export into patent_rag JSONL records, outside the repository.

The export has no stated license, so the records are written only to a path outside the
repository (a temporary directory by default), never next to the code.

    python benchmarks/shared_citations_to_jsonl.py [OUT.jsonl] [--data DIR]

Prints the output path and the number of records; exits with a clear message when the data folder
(``../shared/data/patsnap_cs3245``) is absent.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from shared_citations import DATA, DataMissing, load_records  # noqa: E402

from patent_rag.documents import PatentDocument  # noqa: E402

__all__ = ["convert"]


def convert(out: Path, *, data: Path = DATA) -> int:
    """Write every PatSnap record as one JSONL line to ``out``; return how many were written.

    Raises:
        DataMissing: the data folder is not there.
        ValueError: ``out`` lies inside the repository.
    """
    out = out.resolve()
    if out.is_relative_to(ROOT.resolve()):
        raise ValueError(f"{out} is inside the repository; the PatSnap data may not be copied there")
    count = 0
    with out.open("w", encoding="utf-8") as handle:
        for record in load_records(data):
            handle.write(PatentDocument(**record).model_dump_json(exclude_defaults=True) + "\n")  # type: ignore[arg-type]
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", nargs="?", type=Path, help="output JSONL (default: a new temporary file)")
    parser.add_argument("--data", type=Path, default=DATA, help="the patsnap_cs3245 folder")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="patsnap-")) / "patsnap.jsonl"
    try:
        count = convert(out, data=args.data)
    except DataMissing as error:
        sys.exit(f"skipped: {error}")
    print(f"{count} records -> {out}")


if __name__ == "__main__":
    main()
