"""Bytes to text: hashing, encodings, gzip and line statistics of landing files.

Every file is hashed (sha256 of the bytes as delivered) in one pass that, for plain text, also validates UTF-8 and
counts lines. Text that is gzip-compressed or not UTF-8 is streamed through Python's codecs into a temporary UTF-8
file that DuckDB then reads. Problems are :class:`~ingestion.errors.FileError` with the file, the byte offset and
what to do.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from ingestion.errors import FileError

_CHUNK = 8 << 20
_UTF8_BOM = codecs.BOM_UTF8
# Put on every blank CSV line before DuckDB reads the file: DuckDB skips blank lines without counting them as
# rows, which would shift the line numbers of every later row. A marked blank line becomes a rejected line with
# a known line number; we drop it there. Inside a quoted value the marker is removed again.
BLANK_MARKER = "~~c360-blank-line~~"


def encoding_setting(source: str) -> str:
    """Name of the environment variable that sets ``source``'s file encoding, e.g. ``C360_ORDERS_ENCODING``."""
    return f"C360_{source.upper()}_ENCODING"


@dataclass
class Scan:
    """What one pass over the delivered bytes found."""

    sha256: str
    size: int
    head: bytes
    tail: bytes
    text: TextStats | None = None  # for plain (uncompressed) text read as UTF-8
    decode_error: FileError | None = None


@dataclass
class TextStats:
    """Line statistics of UTF-8 text, for CSV line numbers (see :func:`stage_csv`)."""

    content_lines: int = 0  # physical lines up to the last one with content (trailing line breaks ignored)
    only_whitespace: bool = True
    newlines: int = 0

    def feed(self, data: bytes) -> None:
        """Account for the next piece of the text."""
        count = data.count(b"\n")
        end = len(data)
        while end and data[end - 1] in (10, 13):  # trailing line breaks
            end -= 1
        if end:
            self.content_lines = self.newlines + count - data.count(b"\n", end) + 1
            if self.only_whitespace and not data.isspace():
                self.only_whitespace = False
        self.newlines += count


def scan_file(path: Path, rel: str, source: str, *, validate_utf8: bool, encoding: str | None) -> Scan:
    """Hash the file; for plain text read as UTF-8 also validate it and count lines, in the same pass."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    tail = b""
    stats = TextStats() if validate_utf8 else None
    decoder = codecs.getincrementaldecoder("utf-8")() if validate_utf8 else None
    decode_error: FileError | None = None
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            if not head:
                head = chunk[:65536]
            tail = (tail + chunk)[-8:]
            if decoder is not None and (decoder.getstate()[0] or not chunk.isascii()):  # ASCII is UTF-8
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    offset = size + len(chunk) - len(exc.object) + exc.start
                    decode_error = undecodable(rel, source, encoding, offset, exc)
                    decoder = None
            if stats is not None:
                stats.feed(chunk)
            size += len(chunk)
    if decoder is not None and decode_error is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            decode_error = undecodable(rel, source, encoding, size - len(exc.object) + exc.start, exc)
    return Scan(digest.hexdigest(), size, head, tail, stats, decode_error)


def undecodable(
    rel: str, source: str, encoding: str | None, offset: int, exc: UnicodeDecodeError, *, gz: bool = False
) -> FileError:
    bad = exc.object[exc.start : exc.start + 4].hex(" ")
    where = " (counted after gzip decompression)" if gz else ""
    setting = encoding_setting(source)
    if encoding in (None, "utf-8"):
        advice = (
            f"The file is not UTF-8. Set {setting} to the encoding the export uses "
            f"(for example {setting}=gb18030 or {setting}=latin-1) and run again."
        )
        tried = "UTF-8"
    else:
        advice = f"Check {setting} (currently {encoding!r}): it does not match the file's encoding."
        tried = encoding
    return FileError(f"{rel}: bytes {bad} at byte offset {offset}{where} are not valid {tried}. {advice}")


def binary_problem(head: bytes, rel: str, source: str, encoding: str | None, fmt: str) -> str | None:
    """Why ``head`` (first bytes of a file that should be text) is not CSV/JSON text, or None."""
    what = "CSV" if fmt == "csv" else "JSON"
    if head.startswith(b"PAR1"):
        return f"{rel}: is a Parquet file, not {what} text; rename it to end in .parquet"
    if head.startswith(b"\x1f\x8b"):
        return f"{rel}: is gzip-compressed, not {what} text; rename it to end in .gz (e.g. .csv.gz)"
    if head.startswith(b"PK\x03\x04"):
        return (
            f"{rel}: is a ZIP archive (an Excel .xlsx workbook?), not {what} text; "
            "export the sheet as CSV (UTF-8) instead"
        )
    utf16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if encoding is None or not encoding.startswith(("utf-16", "utf-32")):
        if utf16:
            return (
                f"{rel}: is UTF-16 text (it starts with a UTF-16 byte order mark); set "
                f"{encoding_setting(source)}=utf-16 or export as UTF-8"
            )
        if b"\x00" in head:
            return (
                f"{rel}: contains NUL bytes, so it is binary data, not {what} text; check that the export "
                "produced the right file"
            )
    return None


def decode_to_utf8(
    path: Path, rel: str, source: str, compressed: bool, encoding: str | None, dest: Path, fmt: str
) -> TextStats:
    """Stream ``path`` (gzip and/or in ``encoding``) into ``dest`` as UTF-8 without BOM; count lines."""
    stats = TextStats()
    opener = gzip.open if compressed else open
    codec = encoding or "utf-8"
    consumed = 0
    try:
        with opener(path, "rb") as src, dest.open("wb") as out:  # type: ignore[operator]
            first = src.read(_CHUNK)
            if first.startswith(_UTF8_BOM):
                codec = "utf-8"
                first = first[len(_UTF8_BOM) :]
                consumed = len(_UTF8_BOM)
            problem = binary_problem(first[:65536], rel, source, encoding, fmt) if first else None
            if problem:
                raise FileError(problem + (" (after gzip decompression)" if compressed else ""))
            passthrough = codec == "utf-8"
            decoder = codecs.getincrementaldecoder(codec)()
            chunk = first
            while chunk:
                try:
                    if passthrough and not decoder.getstate()[0] and chunk.isascii():
                        text = ""  # ASCII is valid UTF-8 and written as it is
                    else:
                        text = decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    offset = consumed + len(chunk) - len(exc.object) + exc.start
                    raise undecodable(rel, source, encoding, offset, exc, gz=compressed) from None
                data = chunk if passthrough else text.encode("utf-8")
                out.write(data)
                stats.feed(data)
                consumed += len(chunk)
                chunk = src.read(_CHUNK)
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                offset = consumed - len(exc.object) + exc.start
                raise undecodable(rel, source, encoding, offset, exc, gz=compressed) from None
    except EOFError as exc:
        raise FileError(
            f"{rel}: the gzip data is truncated ({exc}); the file was probably cut off during transfer. "
            "Re-deliver the complete file."
        ) from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise FileError(
            f"{rel}: is not valid gzip data ({exc}); re-deliver it, or remove the .gz ending if it is not "
            "compressed"
        ) from None
    return stats


def mark_blank_lines(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest``, putting ``BLANK_MARKER`` on every blank line (see the marker's comment)."""
    marker = b"\n" + BLANK_MARKER.encode()
    pattern = re.compile(rb"\n(?=\r?\n)")
    carry = b""
    with src.open("rb") as f, dest.open("wb") as out:
        while True:
            chunk = f.read(_CHUNK)
            buf = carry + chunk
            if not chunk:
                out.write(pattern.sub(marker, buf))
                return
            # keep trailing line breaks for the next round, so a blank line is never split across chunks
            keep = len(buf) - len(buf.rstrip(b"\r\n"))
            work, carry = (buf[: len(buf) - keep], buf[len(buf) - keep :]) if keep else (buf, b"")
            out.write(pattern.sub(marker, work))


def looks_like_text(head: bytes) -> bool:
    try:
        head[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in head[:4096]
