"""One way to open patent input: plain, gzip or zip files, as named binary streams.

:func:`open_input` is what format detection and every parser read through, so each format
accepts the same containers: a plain file, a gzip file (``.gz``, concatenated members included)
or a zip archive (every member in turn, named ``archive.zip!member``). Containers are told by
their magic bytes, never by the file name.

Reading never loses what came before a problem. A truncated gzip, a corrupt deflate stream or a
zip member failing its CRC deliver every byte they could decompress, then raise
:class:`~patent_rag.errors.ParseError` naming the file, so a parser keeps the documents before the
cut and reports the rest. A zip whose central directory is missing (a download cut short) is read
member by member from its local headers instead, as far as its bytes go.

Example:
    >>> report = ParseReport()
    >>> for member in open_input("tests/fixtures/uspto/ipg130416.small.xml.gz", report=report):
    ...     print(member.name, member.stream.peek(5)[:5])
    tests/fixtures/uspto/ipg130416.small.xml.gz b'<?xml'
"""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from patent_rag.documents.parsers.base import ParseReport
from patent_rag.errors import ParseError

if TYPE_CHECKING:
    from patent_rag.documents.record import PatentDocument

__all__ = [
    "HEAD",
    "Member",
    "describe",
    "is_archive",
    "open_input",
    "read_head",
    "read_members",
    "unreadable",
]


HEAD = 1 << 16  # bytes looked at to detect a format or an XML root; also the streams' buffer size
_GZIP = b"\x1f\x8b"
_ZIP = b"PK\x03\x04"
_EMPTY_ZIP = b"PK\x05\x06"
# What decompressing or reading a damaged file raises (BadGzipFile is an OSError).
_READ_ERRORS = (OSError, EOFError, zlib.error, zipfile.BadZipFile)
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_DESCRIPTOR = b"PK\x07\x08"
_CENTRAL = b"PK\x01\x02"


@dataclass(frozen=True)
class Member:
    """One stream of input: the whole file, or one zip member (``name`` is then ``archive!member``)."""

    name: str
    stream: io.BufferedReader


def describe(error: BaseException) -> str:
    """A read failure in a few words: the OS's reason, or the decompressor's message."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def unreadable(error: BaseException, *, file: str, document: int | None = None) -> ParseError:
    """The ParseError for input that stopped being readable (what was read before it is kept)."""
    return ParseError(
        f"unreadable input ({describe(error)}): the file is truncated or damaged; "
        "the documents before this point were kept",
        file=file,
        document=document,
    )


class _Guarded(io.RawIOBase):
    """A raw stream over a decompressor that hands over every byte it got before a failure.

    The failure itself (truncation, corrupt data, CRC mismatch) is raised on the next read as a
    :class:`ParseError` naming the input, and again on every read after it.
    """

    def __init__(self, inner: IO[bytes] | io.IOBase, name: str) -> None:
        super().__init__()
        self._inner = inner
        self._read = getattr(inner, "read1", inner.read)
        self._name = name
        self._failure: BaseException | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._failure is not None:
            raise unreadable(self._failure, file=self._name) from self._failure
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view):
            try:
                data = self._read(len(view) - filled)
            except _READ_ERRORS as error:
                self._failure = error
                if filled:
                    return filled
                raise unreadable(error, file=self._name) from error
            if not data:
                break
            view[filled : filled + len(data)] = data
            filled += len(data)
        return filled

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()


def _buffered(inner: IO[bytes] | io.IOBase, name: str) -> io.BufferedReader:
    return io.BufferedReader(_Guarded(inner, name), buffer_size=HEAD)


def open_input(path: str | Path, *, report: ParseReport | None = None) -> Generator[Member, None, None]:
    """Yield the binary streams of a plain, gzip or zip file, one :class:`Member` at a time.

    A stream is closed when the caller moves on to the next. Problems with a whole file or zip
    member (cannot be opened, encrypted, unsupported compression) are recorded in ``report`` as
    rejected and reading goes on with the next member; without a report they raise.

    Raises:
        ParseError: (without ``report``) the file or a member cannot be opened. Reading a stream
            raises ParseError where its data stops being readable.
    """
    path = Path(path)
    name = str(path)
    try:
        raw = path.open("rb")
    except OSError as error:
        _fail(ParseError(f"cannot open the file: {describe(error)}", file=name), report)
        return
    with raw:
        try:
            magic = raw.read(4)
            raw.seek(0)
        except OSError as error:
            _fail(ParseError(f"cannot read the file: {describe(error)}", file=name), report)
            return
        if magic[:2] == _GZIP:
            with _buffered(gzip.GzipFile(fileobj=raw, mode="rb"), name) as stream:
                yield Member(name, stream)
        elif magic in (_ZIP, _EMPTY_ZIP):
            yield from _zip_members(raw, name, report)
        else:
            with _buffered(raw, name) as stream:
                yield Member(name, stream)


def is_archive(path: str | Path) -> bool:
    """Whether ``path`` is a zip archive (told by its magic bytes; False when it cannot be read)."""
    try:
        with Path(path).open("rb") as raw:
            return raw.read(4) in (_ZIP, _EMPTY_ZIP)
    except OSError:
        return False


def read_members(
    path: str | Path, read: Callable[[Member], Iterator[PatentDocument]], *, report: ParseReport
) -> Iterator[PatentDocument]:
    """Every document of a plain, gzip or zip file, each member read with ``read``."""
    for member in open_input(path, report=report):
        yield from read(member)


def _fail(error: ParseError, report: ParseReport | None) -> None:
    if report is None:
        raise error
    report.reject(error)


def _zip_members(raw: IO[bytes], name: str, report: ParseReport | None) -> Iterator[Member]:
    try:
        archive = zipfile.ZipFile(raw)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        # No readable central directory, typically a download cut short: the local headers still
        # say where each member starts, so read the members in order as far as the bytes go.
        if report is not None:
            reason = (
                f"the zip directory is unreadable ({describe(error)}; a download cut short?): "
                "its members were read in order from their own headers, as far as they go"
            )
            report.recover(reason, file=name, document=None)
        yield from _streamed_members(raw, name, report)
        return
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            label = f"{name}!{info.filename}"
            try:
                member = archive.open(info)
            except (RuntimeError, NotImplementedError, zipfile.BadZipFile, OSError, EOFError) as error:
                # Encrypted (RuntimeError) or an unsupported method (NotImplementedError).
                reason = f"cannot open the zip member ({describe(error)}); extract it with an unzip tool"
                _fail(ParseError(reason, file=label), report)
                continue
            with _buffered(member, label) as stream:
                yield Member(label, stream)


class _Source:
    """The archive's bytes read forward, with bytes read too far pushed back."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._back = b""

    def read(self, size: int) -> bytes:
        if self._back:
            data, self._back = self._back[:size], self._back[size:]
            return data
        return self._raw.read(size)

    def exactly(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            block = self.read(size - len(data))
            if not block:
                raise EOFError(f"zip data ends {size - len(data)} bytes early")
            data += block
        return data

    def push_back(self, data: bytes) -> None:
        self._back = data + self._back


class _LocalMember(io.RawIOBase):
    """One member's data read from its local header on (stored, or deflated until its end marker)."""

    def __init__(self, source: _Source, method: int, size: int | None) -> None:
        super().__init__()
        self._source = source
        self._left = size  # stored: bytes left; deflated: None (the stream marks its own end)
        self._inflate = zlib.decompressobj(-zlib.MAX_WBITS) if method == zipfile.ZIP_DEFLATED else None
        self.finished = self._inflate is None and not size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        data = self._next(len(view))
        view[: len(data)] = data
        return len(data)

    def _next(self, size: int) -> bytes:
        if self.finished or size == 0:
            return b""
        if self._inflate is None:
            left = self._left or 0
            data = self._source.read(min(size, left))
            if not data:
                raise EOFError(f"zip member ends {left} bytes early")
            self._left = left - len(data)
            self.finished = self._left == 0
            return data
        while True:
            if self._inflate.eof:
                self.finished = True
                return b""
            block = self._inflate.unconsumed_tail or self._source.read(HEAD)
            data = self._inflate.decompress(block, size)
            if self._inflate.eof:
                self._source.push_back(self._inflate.unused_data)  # the next header's bytes
            if data:
                return data
            if not block:
                raise EOFError("zip member ends before its deflate stream does")

    def drain(self) -> None:
        while not self.finished:
            if not self._next(HEAD):
                break


def _streamed_members(raw: IO[bytes], name: str, report: ParseReport | None) -> Iterator[Member]:
    raw.seek(0)
    source = _Source(raw)
    while True:
        header = source.read(_LOCAL_HEADER.size)
        if len(header) < _LOCAL_HEADER.size or header[:4] != _ZIP:
            return  # the central directory, or the end of what was downloaded
        _, _, flags, method, _, _, _, size, _, name_length, extra_length = _LOCAL_HEADER.unpack(header)
        try:
            member_name = source.exactly(name_length).decode("utf-8" if flags & 0x800 else "cp437", "replace")
            extra = source.exactly(extra_length)
        except EOFError as error:
            _fail(unreadable(error, file=name), report)
            return
        label = f"{name}!{member_name}"
        if method == zipfile.ZIP_STORED and size == 0xFFFFFFFF:
            size = _zip64_size(extra)
        if (
            flags & 0x1
            or method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
            or (method == zipfile.ZIP_STORED and flags & 0x8)
        ):
            reason = (
                "cannot read this zip member without the archive's central directory (encrypted, or an "
                "unsupported method); the archive is damaged or truncated: download it again"
            )
            _fail(ParseError(reason, file=label), report)
            return  # where the next member starts is unknown
        data = _LocalMember(source, method, size if method == zipfile.ZIP_STORED else None)
        if not member_name.endswith("/"):
            with _buffered(data, label) as stream:
                yield Member(label, stream)
        try:
            data.drain()  # to the next local header, whatever the caller left unread
            if flags & 0x8:
                _skip_descriptor(source)
        except (EOFError, zlib.error) as error:
            if member_name.endswith("/"):
                _fail(unreadable(error, file=label), report)
            return  # the caller met the same failure reading the member, and reported it


def _zip64_size(extra: bytes) -> int:
    offset = 0
    while offset + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, offset)
        if tag == 0x0001 and length >= 16:
            return int(struct.unpack_from("<Q", extra, offset + 12)[0])
        offset += 4 + length
    raise zipfile.BadZipFile("zip64 member without its sizes")


def _skip_descriptor(source: _Source) -> None:
    """Skip the data descriptor after a member: CRC and sizes, 12 to 24 bytes, signature optional."""
    first = source.exactly(4)
    source.exactly(12 if first == _DESCRIPTOR else 8)
    after = source.read(4)
    if len(after) == 4 and after not in (_ZIP, _CENTRAL, _EMPTY_ZIP):
        source.exactly(4)  # a zip64 descriptor: its two sizes take 8 bytes each
        return
    source.push_back(after)


def read_head(member: Member) -> bytes:
    """The first bytes of a member (up to :data:`HEAD`), leaving the stream where it was."""
    return member.stream.peek(HEAD)[:HEAD]
