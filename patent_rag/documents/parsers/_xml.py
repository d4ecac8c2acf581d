"""Safe XML for untrusted patent files, shared by the USPTO and EPO parsers.

Patent XML is read with lxml under settings that never resolve an entity, never load a DTD and
never touch the network. Before lxml sees a document its prolog is inspected: any *parsed* entity
declaration (``<!ENTITY name "...">``, ``<!ENTITY name SYSTEM "file:...">``, parameter entities)
is refused with :class:`~patent_rag.errors.UnsafeXMLError`, which stops XXE, billion laughs and
quadratic blowup before a byte is expanded. Unparsed image entities (``<!ENTITY x SYSTEM "x.TIF"
NDATA TIF>``), which real USPTO SGML/pap files declare, are harmless and allowed.

Named character entities defined by the external DTDs (``&mdash;``, ``&lsqb;``, ISO Greek such
as ``&lgr;``) are rewritten to numeric references first, so they become text; an unknown name is
kept literally (``&name;``) rather than lost.

A document that fails to parse and holds a bare ``&`` (one that starts no ``&name;`` or ``&#...;``
reference, as in ``Dummett Copp & Co.`` in real EPO data) is parsed again with those ampersands
escaped; when that succeeds it is kept and recorded as recovered, with the line of the first one.
The repair only turns bytes into text after the prolog check, so it cannot enable an entity.

Example:
    >>> root = parse_document(b"<doc>a &mdash; b</doc>", file="x.xml")
    >>> text_of(root)
    'a — b'
"""

from __future__ import annotations

import html.entities
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import IO, Any

from lxml import etree

from patent_rag.documents.parsers.base import DEFAULT_MAX_DOCUMENT_BYTES, ParseReport
from patent_rag.errors import ParseError, UnsafeXMLError

__all__ = [
    "Prolog",
    "RawDocument",
    "inspect_prolog",
    "normalize_space",
    "parse_date",
    "parse_document",
    "root_name",
    "split_documents",
    "text_of",
]

logger = logging.getLogger(__name__)

_PREDEFINED = {b"lt", b"gt", b"amp", b"quot", b"apos"}
# ISO 8879 ISOgrk1 names used by USPTO files (&lgr; = lambda) that HTML5 does not define.
_ISO_GREEK_NAMES = (
    "agr Agr bgr Bgr ggr Ggr dgr Dgr egr Egr zgr Zgr eegr EEgr thgr THgr igr Igr kgr Kgr lgr Lgr "
    "mgr Mgr ngr Ngr xgr Xgr ogr Ogr pgr Pgr rgr Rgr sgr Sgr sfgr tgr Tgr ugr Ugr phgr PHgr khgr "
    "KHgr psgr PSgr ohgr OHgr"
)
_ISO_GREEK = dict(
    zip(_ISO_GREEK_NAMES.split(), "αΑβΒγΓδΔεΕζΖηΗθΘιΙκΚλΛμΜνΝξΞοΟπΠρΡσΣςτΤυΥφΦχΧψΨωΩ", strict=True)
)


def _char_refs(text: str) -> bytes:
    return b"".join(b"&#%d;" % ord(char) for char in text)


_ENTITY_TEXT: dict[bytes, bytes] = {
    name[:-1].encode("ascii"): _char_refs(value)
    for name, value in html.entities.html5.items()
    if name.endswith(";")
}
_ENTITY_TEXT.update({name.encode("ascii"): _char_refs(value) for name, value in _ISO_GREEK.items()})
_ENTITY_TEXT.update({name: b"&" + name + b";" for name in _PREDEFINED})
_ENTITY_REF = re.compile(rb"&([A-Za-z_][A-Za-z0-9._-]*);")
# An ampersand that starts no entity or character reference: text that should have been "&amp;".
_BARE_AMPERSAND = re.compile(rb"&(?![A-Za-z_:][A-Za-z0-9._:-]*;|#[0-9]+;|#x[0-9A-Fa-f]+;)")

_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_ASCII_COMPATIBLE = {
    "utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin1", "latin-1", "iso-8859-15",
    "windows-1252", "cp1252",
}  # fmt: skip
_UNPARSED_ENTITY = re.compile(
    rb"<!ENTITY\s+[^\s%\"'<>]+\s+(?:SYSTEM\s+(?:\"[^\"]*\"|'[^']*')|PUBLIC\s+(?:\"[^\"]*\"|'[^']*')"
    rb"\s+(?:\"[^\"]*\"|'[^']*'))\s+NDATA\s+[^\s<>]+\s*>$"
)
_NAME = re.compile(rb"[^\s\[>\"']+")
_QUOTED = re.compile(rb"\"([^\"]*)\"|'([^']*)'")
_LXML_WHERE = re.compile(r",? line \d+, column \d+$")
_LEADING_SPACE = re.compile(rb"\s*")
_DOCTYPE_NAME = re.compile(rb"<!DOCTYPE\s+([^\s\[>]+)")
_ELEMENT = re.compile(rb"<([A-Za-z_][\w:.-]*)")


@dataclass(frozen=True)
class Prolog:
    """What precedes the root element: DOCTYPE name and identifiers, and the root tag."""

    doctype: str | None
    system_id: str | None
    root: str | None
    public_id: str | None = None
    encoding: str | None = None


@dataclass(frozen=True)
class RawDocument:
    """One document cut out of a (possibly concatenated) file: 0-based index, 1-based start line.

    ``oversize`` is the document's size when it was over the splitter's limit: ``data`` then holds
    only its first bytes (enough to read its prolog) and the document must be refused.
    """

    index: int
    line: int
    data: bytes
    oversize: int = 0


def _decl_end(data: bytes, pos: int) -> int:
    """End (exclusive) of a ``<!...>`` declaration starting at ``pos``, honouring quoted literals."""
    length = len(data)
    i = pos + 2
    while i < length:
        char = data[i]
        if char in b"\"'":
            close = data.find(bytes([char]), i + 1)
            if close < 0:
                return -1
            i = close + 1
        elif char == 0x3E:  # '>'
            return i + 1
        else:
            i += 1
    return -1


def _at(data: bytes, pos: int, where: dict[str, Any]) -> dict[str, Any]:
    """Error location of byte ``pos``: the document's start line plus the newlines before it."""
    return {**where, "line": where["line"] + data.count(b"\n", 0, pos)}


def _check_subset(data: bytes, pos: int, where: dict[str, Any]) -> int:
    """Scan a DOCTYPE internal subset from ``pos`` (after '['); return the position after ']'."""
    length = len(data)
    while pos < length:
        char = data[pos]
        if char in b" \t\r\n":
            pos += 1
        elif char == 0x5D:  # ']'
            return pos + 1
        elif data.startswith(b"<!--", pos):
            end = data.find(b"-->", pos + 4)
            pos = length if end < 0 else end + 3
        elif data.startswith(b"<?", pos):
            end = data.find(b"?>", pos + 2)
            pos = length if end < 0 else end + 2
        elif data.startswith(b"<!", pos):
            end = _decl_end(data, pos)
            if end < 0:
                break
            declaration = data[pos:end]
            if declaration.startswith(b"<!ENTITY") and not _UNPARSED_ENTITY.match(declaration):
                name = _NAME.search(declaration, 8)
                label = name.group(0).decode("utf-8", "replace")[:40] if name else "?"
                raise UnsafeXMLError(
                    f"entity declaration {label!r} refused (entity declarations enable XXE and "
                    "entity-expansion bombs; patent XML never declares text entities): "
                    "remove the <!ENTITY> from the DOCTYPE",
                    **_at(data, pos, where),
                )
            pos = end
        elif char == 0x25:  # '%'
            raise UnsafeXMLError(
                "parameter entity reference in the DOCTYPE refused: remove it", **_at(data, pos, where)
            )
        else:
            raise ParseError("malformed DOCTYPE internal subset", **_at(data, pos, where))
    raise ParseError("unterminated DOCTYPE internal subset", **where)


def inspect_prolog(data: bytes, *, file: str, document: int = 0, line: int = 1) -> Prolog:
    """Check a document's prolog for unsafe declarations and return what it names.

    Raises:
        UnsafeXMLError: a parsed entity declaration or parameter entity reference.
        ParseError: an encoding that is not ASCII-compatible (UTF-16/32, EBCDIC...).
    """
    where: dict[str, Any] = {"file": file, "document": document, "line": line}
    head = data[:4]
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00")) or head[1:2] == b"\x00":
        raise ParseError("UTF-16/UTF-32 input is not supported; convert the file to UTF-8", **where)
    pos = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    declared = _XML_DECL.match(data, pos)
    named = declared.group(1).decode("ascii") if declared else None
    encoding = named.lower() if named else None
    if encoding is not None and encoding not in _ASCII_COMPATIBLE:
        raise ParseError(
            f"unsupported encoding {named!r}; "
            "patent XML is read as UTF-8, ASCII or Latin-1: convert the file to UTF-8",
            **where,
        )
    doctype = system_id = public_id = None
    length = len(data)
    while True:
        pos = data.find(b"<", pos)
        if pos < 0 or pos + 1 >= length:
            return Prolog(doctype, system_id, None, public_id, encoding)
        if data.startswith(b"<?", pos):
            end = data.find(b"?>", pos + 2)
            pos = length if end < 0 else end + 2
        elif data.startswith(b"<!--", pos):
            end = data.find(b"-->", pos + 4)
            pos = length if end < 0 else end + 3
        elif data.startswith(b"<!DOCTYPE", pos):
            cursor = pos + 9
            name = _NAME.search(data, cursor)
            doctype = name.group(0).decode("utf-8", "replace") if name else None
            cursor = name.end() if name else cursor
            literals: list[str] = []
            while cursor < length and data[cursor] not in b"[>":
                quoted = _QUOTED.match(data, cursor)
                if quoted:
                    literal = quoted.group(1) if quoted.group(1) is not None else quoted.group(2)
                    literals.append(literal.decode("utf-8", "replace"))
                    cursor = quoted.end()
                else:
                    cursor += 1
            if literals and b"PUBLIC" in data[pos + 9 : cursor]:
                public_id, system_id = literals[0], (literals[1] if len(literals) > 1 else None)
            elif literals:
                system_id = literals[0]
            if cursor < length and data[cursor] == 0x5B:  # '['
                cursor = _check_subset(data, cursor + 1, where)
            pos = cursor
        elif data.startswith(b"<!", pos):
            end = _decl_end(data, pos)
            pos = length if end < 0 else end
        else:
            name = _NAME.match(data, pos + 1)
            root = name.group(0).split(b"/")[0].decode("utf-8", "replace") if name else None
            return Prolog(doctype, system_id, root, public_id, encoding)


def root_name(head: bytes, *, file: str) -> str:
    """The local name (namespace prefix dropped) of the root element the first bytes of XML open.

    Falls back on the DOCTYPE name, then on the first element, when the prolog is one that
    :func:`inspect_prolog` refuses: the format is still told, and the parser reports the prolog.

    Example:
        >>> root_name(b'<?xml version="1.0"?><exch:exchange-documents>', file="x.xml")
        'exchange-documents'
    """
    try:
        root = inspect_prolog(head, file=file).root
    except ParseError:
        match = _DOCTYPE_NAME.search(head)
        root = match.group(1).decode("utf-8", "replace") if match else None
    if root is None:
        match = _ELEMENT.search(head, head.find(b">") + 1)
        root = match.group(1).decode("utf-8", "replace") if match else ""
    return root.rpartition(":")[2]


_local = threading.local()


def _parser(encoding: str) -> etree.XMLParser:
    # lxml parsers may be reused within one thread, never shared across threads. The encoding is
    # fixed to the one the prolog scan read, so libxml2 never auto-detects another one in which
    # the scanned bytes would mean something else.
    parsers: dict[str, etree.XMLParser] = _local.__dict__.setdefault("parsers", {})
    parser = parsers.get(encoding)
    if parser is None:
        parser = parsers[encoding] = etree.XMLParser(
            encoding=encoding,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            attribute_defaults=False,
            huge_tree=False,
            remove_comments=True,
        )
    return parser


def _entity_text(match: re.Match[bytes]) -> bytes:
    name = match.group(1)
    replacement = _ENTITY_TEXT.get(name)
    return replacement if replacement is not None else b"&amp;" + name + b";"


def parse_document(
    data: bytes, *, file: str, document: int = 0, line: int = 1, report: ParseReport | None = None
) -> etree._Element:
    """Parse the bytes of one XML document safely and return its root element.

    Args:
        data: the whole document, XML declaration and DOCTYPE included.
        file: shown in errors. document: 0-based index within the file. line: 1-based line of the
            document's first byte within the file (errors report file lines, not document lines).
        report: where a document recovered by escaping bare ``&`` is recorded (else it is logged).

    Raises:
        UnsafeXMLError: entity declarations (XXE, billion laughs, quadratic blowup).
        ParseError: malformed XML, wrong encoding; ``line`` points into the file.

    Example:
        >>> parse_document(b'<?xml version="1.0"?><a>x</a>', file="a.xml").tag
        'a'
    """
    prolog = inspect_prolog(data, file=file, document=document, line=line)
    if prolog.root is None:
        raise ParseError("no XML root element found", file=file, document=document, line=line)
    if b"&" in data:
        data = _ENTITY_REF.sub(_entity_text, data)
    parser = _parser(prolog.encoding or "utf-8")
    where = {"file": file, "document": document, "line": line}
    try:
        root = _parse(data, parser, where)
    except ParseError:
        bare = _BARE_AMPERSAND.search(data) if b"&" in data else None
        if bare is None:
            raise
        count = len(_BARE_AMPERSAND.findall(data))
        root = _parse(_BARE_AMPERSAND.sub(b"&amp;", data), parser, where)  # raises what remains broken
        at = line + data.count(b"\n", 0, bare.start())
        reason = (
            f"read after escaping {count} bare '&' as text (first on line {at}); "
            "the source should write '&amp;'"
        )
        if report is not None:
            report.recover(reason, file=file, document=document, line=at)
        else:
            logger.warning("file %s, document %d, line %d: %s", file, document, at, reason)
    return root


def _parse(data: bytes, parser: etree.XMLParser, where: dict[str, Any]) -> etree._Element:
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        message = _LXML_WHERE.sub("", str(error.msg or error)) or "malformed XML"
        at = where["line"] + (error.lineno or 1) - 1
        raise ParseError(f"malformed XML: {message}", **{**where, "line": at}) from None
    except (ValueError, LookupError) as error:
        raise ParseError(f"unreadable XML: {error}", **where) from None
    if root is None:
        raise ParseError("empty document", **where)
    return root


def _next_declaration(buffer: bytearray, start: int) -> int:
    """Offset of the next ``<?xml`` followed by whitespace (not ``<?xml-stylesheet``), or -1."""
    while (found := buffer.find(b"<?xml", start)) >= 0:
        if buffer[found + 5 : found + 6] in (b" ", b"\t", b"\r", b"\n"):
            return found
        if found + 5 >= len(buffer):
            return -1  # the next chunk decides
        start = found + 1
    return -1


def split_documents(
    stream: IO[bytes], *, chunk_size: int = 1 << 20, max_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
) -> Iterator[RawDocument]:
    r"""Cut a stream of concatenated XML documents before each ``<?xml`` declaration.

    Memory holds one document plus one chunk. Whitespace between documents is dropped and a
    document's line is that of its first non-blank byte. A document longer than ``max_bytes`` is
    not buffered: its first bytes are kept, the rest is read through to the next declaration
    without being held, and it comes out with ``oversize`` set to its size.

    Example:
        >>> import io
        >>> data = b"<?xml version='1.0'?><a/>\n  <?xml version='1.0'?>\n<b/>\n"
        >>> [(d.index, d.line) for d in split_documents(io.BytesIO(data))]
        [(0, 1), (1, 2)]
    """
    buffer = bytearray()
    line = 1
    index = 0
    scanned = 1
    first = True
    oversize: RawDocument | None = None  # the document being read through, its size so far
    # read1 hands over what is already decompressed, so a truncated gzip still yields its documents.
    read = getattr(stream, "read1", stream.read)
    while True:
        block = read(chunk_size)
        if first:
            block = block.removeprefix(b"\xef\xbb\xbf")
            first = False
        buffer += block
        while block and (cut := _next_declaration(buffer, scanned)) >= 0:
            piece = bytes(buffer[:cut])
            del buffer[:cut]  # bytearray drops its head without copying the rest
            scanned = 1
            if oversize is not None:
                yield RawDocument(oversize.index, oversize.line, oversize.data, oversize.oversize + cut)
                oversize = None
                index += 1
                line += piece.count(b"\n")
                continue
            document = piece.lstrip()
            if document:
                yield RawDocument(index, line + piece.count(b"\n", 0, len(piece) - len(document)), document)
                index += 1
            line += piece.count(b"\n")
        if not block:
            break
        if oversize is None and len(buffer) > max_bytes:
            start = _LEADING_SPACE.match(buffer).end()  # type: ignore[union-attr]
            head = bytes(buffer[start : start + (1 << 16)])
            oversize = RawDocument(index, line + buffer.count(b"\n", 0, start), head, -start)
        if oversize is not None:
            # Hold only the tail where a declaration may straddle two chunks.
            keep = max(0, len(buffer) - 6)
            line += buffer.count(b"\n", 0, keep)
            oversize = RawDocument(oversize.index, oversize.line, oversize.data, oversize.oversize + keep)
            del buffer[:keep]
            scanned = 0
        else:
            scanned = max(1, len(buffer) - 6)
    if oversize is not None:
        yield RawDocument(oversize.index, oversize.line, oversize.data, oversize.oversize + len(buffer))
        return
    document = bytes(buffer).lstrip()
    if document:
        yield RawDocument(index, line + buffer.count(b"\n", 0, len(buffer) - len(document)), document)


def normalize_space(text: str | None) -> str:
    """Collapse runs of whitespace to one space and strip the ends."""
    return " ".join(text.split()) if text else ""


def text_of(element: etree._Element | None) -> str:
    """All text inside ``element`` (children included, comments and PIs excluded), whitespace collapsed."""
    if element is None:
        return ""
    # Serializing as text runs in C, faster than joining itertext() (see docs/benchmarks.md).
    text = etree.tostring(element, method="text", encoding="unicode", with_tail=False)
    return " ".join(text.split())


def parse_date(text: str | None) -> date | None:
    """``"20131224"`` (or ``"2013-12-24"``) -> ``date(2013, 12, 24)``; anything else -> None."""
    if not text:
        return None
    digits = text.strip().replace("-", "")
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None
