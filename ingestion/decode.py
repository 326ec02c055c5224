"""Bytes to text: hashing, encodings, gzip, line endings and line lengths of landing files.

Every file is read once by Python, and hashed (sha256 of the bytes as delivered) in that pass: plain files by
:func:`scan_file`, which for text also validates UTF-8 and collects line statistics (:class:`TextStats`), gzip files
by :func:`rewrite_text` while it decompresses them (:class:`HashingReader`). DuckDB then reads the delivered file
itself when it is UTF-8 with LF or CRLF line breaks and no line is longer than ``MAX_LINE_BYTES``; otherwise
:func:`prepare_text` first streams it into a temporary UTF-8 file (:func:`rewrite_text`), which:

- decompresses gzip;
- decodes the file's encoding, chosen per file: a byte order mark wins, then valid UTF-8, then the source's
  configured encoding (``C360_<SOURCE>_ENCODING``), which therefore only applies to files that are not UTF-8;
- turns old-Mac line breaks (CR alone: the first piece of text that holds a line break holds no LF) into LF, and
  in LF or CRLF files replaces a lone CR (inside a value) by ``CR_MARKER``, which the readers turn back into a CR:
  DuckDB's CSV reader would otherwise stop at it;
- replaces every line longer than ``MAX_LINE_BYTES`` by ``LONG_LINE_MARKER``, so that the line is quarantined
  with its line number instead of vanishing (DuckDB drops a line longer than its read buffer without a word).

Line numbers stay those of the delivered file: nothing adds or removes a line break. Problems are
:class:`~ingestion.errors.FileError` naming the file, the byte offset and what to do, never the bytes themselves.
"""

from __future__ import annotations

import base64
import codecs
import gzip
import hashlib
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ingestion.errors import FileError

#: Longest line (in bytes of UTF-8, line break not counted) a CSV or JSON Lines file may hold; a longer line, or a
#: record longer than this across quoted line breaks, is quarantined with its line number.
MAX_LINE_BYTES = 2 * 1024 * 1024

# Files are read in pieces no longer than the longest line, so that only a line running across a piece boundary
# can be too long (see TextStats).
_CHUNK = MAX_LINE_BYTES
_HEAD = 65536
# Kept of an over-long line, for the quarantine's raw_record.
_LONG_LINE_PREFIX = 1024

# Put on every blank CSV line before DuckDB reads the file: DuckDB skips blank lines without counting them as
# rows, which would shift the line numbers of every later row. A marked blank line becomes a rejected line with
# a known line number; we drop it there. Inside a quoted value the marker is removed again.
BLANK_MARKER = "~~c360-blank-line~~"
#: Stands for a lone CR inside a line of an LF or CRLF file; the readers turn it back into a CR.
CR_MARKER = "~~c360-cr~~"
#: Replaces a line longer than MAX_LINE_BYTES, followed by the line's first bytes in base64 (no delimiter, quote or
#: JSON can be made of those, so the line is always rejected by the reader, with its line number).
LONG_LINE_MARKER = "~~c360-line-too-long~~"

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_LONE_CR = re.compile(rb"\r(?!\n)")


def encoding_setting(source: str) -> str:
    """Name of the environment variable that sets ``source``'s file encoding, e.g. ``C360_ORDERS_ENCODING``."""
    return f"C360_{source.upper()}_ENCODING"


def line_too_long_reason() -> str:
    """Quarantine reason of an over-long line."""
    return (
        f"the line is longer than the maximum line size of {MAX_LINE_BYTES:,} bytes, so it was not read; "
        "check the export (an unclosed quote or a missing line break?)"
    )


# ----------------------------------------------------------------------------------------------- line statistics


@dataclass
class TextStats:
    """Line statistics of text, for line numbers and for deciding whether DuckDB can read a file as delivered.

    Pieces are accounted for in order; :meth:`finish` closes the text.
    """

    content_lines: int = 0  # physical lines up to the last one with content (trailing line breaks ignored)
    only_whitespace: bool = True
    newlines: int = 0
    lone_crs: int = 0  # CRs not followed by LF
    long_lines: int = 0  # lines longer than MAX_LINE_BYTES
    size: int = 0  # bytes
    ends_with_lf: bool = False
    _run: int = 0  # bytes of the current line so far
    _run_counted: bool = False  # the current line was counted as too long
    _cr_pending: bool = False  # the last piece ended with a CR

    def feed(self, data: bytes) -> None:
        """Account for the next piece of the text."""
        for start in range(0, len(data), MAX_LINE_BYTES):
            self._feed(data if len(data) <= MAX_LINE_BYTES else data[start : start + MAX_LINE_BYTES])

    @property
    def physical_lines(self) -> int:
        """Lines of the text, blank ones included (a last line without a line break counts)."""
        return self.newlines + (1 if self.size and not self.ends_with_lf else 0)

    def finish(self) -> None:
        """Account for the end of the text."""
        if self._cr_pending:
            self.lone_crs += 1
            self._cr_pending = False

    def _feed(self, piece: bytes) -> None:
        n = len(piece)
        if not n:
            return
        self.size += n
        self.ends_with_lf = piece[-1] == 0x0A
        prev_cr = self._cr_pending
        if prev_cr:  # does the CR that ended the last piece start a CRLF?
            if piece[0] != 0x0A:
                self.lone_crs += 1
            self._cr_pending = False
        if (crs := piece.count(b"\r")) and (lone := crs - piece.count(b"\r\n")):
            if piece[-1] == 0x0D:
                lone -= 1
                self._cr_pending = True
            self.lone_crs += lone
        count = piece.count(b"\n")
        end = n
        while end and piece[end - 1] in (10, 13):  # trailing line breaks
            end -= 1
        if end:
            self.content_lines = self.newlines + count - piece.count(b"\n", end) + 1
            if self.only_whitespace and not piece.isspace():
                self.only_whitespace = False
        self.newlines += count
        # Line lengths: a piece is at most MAX_LINE_BYTES long, so only the line it starts in can be too long.
        first = piece.find(b"\n")
        if first == -1:
            self._run += n
            if not self._run_counted and self._run - (piece[-1] == 0x0D) > MAX_LINE_BYTES:
                self.long_lines += 1
                self._run_counted = True
            return
        cr_before = piece[first - 1] == 0x0D if first else prev_cr
        if not self._run_counted and self._run + first - cr_before > MAX_LINE_BYTES:
            self.long_lines += 1
        self._run = n - piece.rfind(b"\n") - 1
        self._run_counted = False


# ----------------------------------------------------------------------------------------------- the delivered bytes


@dataclass
class Scan:
    """What one pass over the delivered bytes found."""

    sha256: str
    size: int
    head: bytes
    tail: bytes
    text: TextStats | None = None  # for plain (uncompressed) text
    not_utf8_at: int | None = None  # byte offset of the first byte that is not UTF-8, if any


class HashingReader:
    """Reads a binary file, hashing (sha256) and counting the bytes read, keeping the first and last ones."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self._digest = hashlib.sha256()
        self.size = 0
        self.head = b""
        self.tail = b""

    def read(self, n: int = -1) -> bytes:
        """The next bytes of the file (what ``gzip`` and the scan read)."""
        data = self._f.read(n)
        if data:
            self._digest.update(data)
            if len(self.head) < _HEAD:
                self.head += data[: _HEAD - len(self.head)]
            self.tail = (self.tail + data)[-8:]
            self.size += len(data)
        return data

    def scan(self) -> Scan:
        """What was read so far, as a :class:`Scan` of the whole file (read it to the end first)."""
        while self.read(_CHUNK):
            pass
        return Scan(self._digest.hexdigest(), self.size, self.head, self.tail)


def scan_file(path: Path, *, text: bool) -> Scan:
    """Hash the file; for plain text (``text``) also validate UTF-8 and collect line statistics, in the same pass."""
    stats = TextStats() if text else None
    decoder = codecs.getincrementaldecoder("utf-8")() if text else None
    not_utf8_at: int | None = None
    with path.open("rb") as f:
        reader = HashingReader(f)
        while chunk := reader.read(_CHUNK):
            if decoder is not None and (decoder.getstate()[0] or not chunk.isascii()):  # ASCII is UTF-8
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    not_utf8_at = max(reader.size - len(exc.object) + exc.start, 0)
                    decoder = None
            if stats is not None:
                stats.feed(chunk)
        scan = reader.scan()
    if decoder is not None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            not_utf8_at = max(scan.size - len(exc.object) + exc.start, 0)
    if stats is not None:
        stats.finish()
    scan.text, scan.not_utf8_at = stats, not_utf8_at
    return scan


def bom_encoding(head: bytes) -> str | None:
    """The encoding a byte order mark at the start of ``head`` announces, or None."""
    return next((codec for bom, codec in _BOMS if head.startswith(bom)), None)


def undecodable(
    rel: str, source: str, tried: str, configured: str | None, offset: int, *, gz: bool = False
) -> FileError:
    """The error for bytes that are not valid in the encoding ``tried`` (the bytes themselves are not shown)."""
    where = " (counted after gzip decompression)" if gz else ""
    setting = encoding_setting(source)
    if configured in (None, "utf-8"):
        advice = (
            f"The file is not UTF-8. Set {setting} to the encoding the export uses "
            f"(for example {setting}=gb18030 or {setting}=latin-1) and run again."
        )
    else:
        advice = (
            f"The file is not UTF-8 either. Check {setting} (currently {configured!r}): it does not match the "
            "file's encoding."
        )
    shown = "UTF-8" if tried == "utf-8" else tried
    return FileError(f"{rel}: the bytes at byte offset {offset}{where} are not valid {shown}. {advice}")


def binary_problem(head: bytes, rel: str, source: str, codec: str | None, fmt: str) -> str | None:
    """Why ``head`` (first bytes of a file that should be text in ``codec``) is not CSV/JSON text, or None."""
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
    wide = codec is not None and codec.startswith(("utf-16", "utf-32"))
    if not wide and b"\x00" in head:
        return (
            f"{rel}: contains NUL bytes, so it is binary data (or UTF-16 text without a byte order mark), not "
            f"{what} text; check that the export produced the right file, or set {encoding_setting(source)}=utf-16 "
            "if it is UTF-16"
        )
    return None


# ----------------------------------------------------------------------------------------------- text for DuckDB


@dataclass
class Text:
    """A text file ready for DuckDB: UTF-8, LF or CRLF line breaks, no line longer than MAX_LINE_BYTES."""

    path: Path
    stats: TextStats
    long_lines: int = 0  # over-long lines replaced by LONG_LINE_MARKER and their start in base64
    cr_marked: bool = False  # lone CRs were replaced by CR_MARKER
    delivered: Scan | None = None  # the delivered file as the rewrite read it


def prepare_text(
    path: Path,
    scan: Scan,
    *,
    rel: str,
    source: str,
    fmt: str,
    compressed: bool,
    configured: str | None,
    dest: Path,
) -> Text:
    """The delivered file itself when DuckDB can read it as it is, else a rewritten copy at ``dest``."""
    codec = None  # gzip: decided while decompressing
    if not compressed:
        stats = scan.text
        assert stats is not None
        codec = bom_encoding(scan.head)
        if codec is None and scan.not_utf8_at is None and b"\x00" not in scan.head:
            codec = "utf-8"
        if (problem := binary_problem(scan.head, rel, source, codec or configured, fmt)) is not None:
            raise FileError(problem)
        if codec is None:
            if configured in (None, "utf-8"):
                raise undecodable(rel, source, "utf-8", configured, scan.not_utf8_at or 0)
            codec = configured
        clean = not stats.lone_crs and not stats.long_lines
        if codec == "utf-8" and (clean or _is_json_array(fmt, scan.head)):
            return Text(path, stats)
    return rewrite_text(
        path, dest, rel=rel, source=source, fmt=fmt, compressed=compressed, configured=configured, codec=codec
    )


def rewrite_text(
    path: Path,
    dest: Path,
    *,
    rel: str,
    source: str,
    fmt: str,
    compressed: bool,
    configured: str | None,
    codec: str | None = None,
) -> Text:
    """Stream ``path`` (gzip and/or any encoding) into ``dest`` as UTF-8 for DuckDB (see the module docstring).

    ``codec`` None means: a byte order mark decides; else the text is read as UTF-8 and, if it is not UTF-8 and
    an encoding is configured, read again in that encoding.
    """

    def attempt(codec: str | None) -> Text:
        with path.open("rb") as raw, dest.open("wb") as out:
            reader = HashingReader(raw)  # the delivered bytes are hashed in the same pass
            src = gzip.GzipFile(fileobj=reader, mode="rb") if compressed else reader  # type: ignore[arg-type]
            first = src.read(_CHUNK)
            consumed = 0
            bom = bom_encoding(first)
            if bom == "utf-8":
                first = first[len(codecs.BOM_UTF8) :]
                consumed = len(codecs.BOM_UTF8)
            speculative = False
            if bom is not None:
                codec = bom
            elif codec is None:  # UTF-8 unless it turns out not to be
                wide = configured is not None and configured.startswith(("utf-16", "utf-32"))
                codec = configured if wide and b"\x00" in first[:_HEAD] else "utf-8"
                speculative = codec == "utf-8" and configured not in (None, "utf-8")
            if first and (problem := binary_problem(first[:_HEAD], rel, source, codec, fmt)):
                raise FileError(problem + (" (after gzip decompression)" if compressed else ""))
            passthrough = codec == "utf-8"
            decoder = codecs.getincrementaldecoder(codec)()
            writer = _LineWriter(out, lines=not _is_json_array(fmt, first))
            chunk = first
            try:
                while chunk:
                    if passthrough and not decoder.getstate()[0] and chunk.isascii():
                        data = chunk  # ASCII is valid UTF-8 and written as it is
                    else:
                        text = decoder.decode(chunk)
                        data = chunk if passthrough else text.encode("utf-8")
                    writer.write(data)
                    consumed += len(chunk)
                    chunk = src.read(_CHUNK)
                decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                if speculative:
                    raise _NotUtf8 from None
                offset = consumed + len(chunk) - len(exc.object) + exc.start if chunk else consumed
                raise undecodable(rel, source, codec, configured, max(offset, 0), gz=compressed) from None
            writer.close()
            return Text(dest, writer.stats, writer.long_lines, writer.cr_marked, reader.scan())

    try:
        if codec is not None:
            return attempt(codec)
        try:
            return attempt(None)
        except _NotUtf8:
            return attempt(configured)
    except EOFError as exc:
        raise FileError(
            f"{rel}: the gzip data is truncated ({exc}); the file was probably cut off during transfer. "
            "Re-deliver the complete file."
        ) from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        # BadGzipFile's message quotes the file's first bytes: not shown
        why = "it does not start like gzip data" if isinstance(exc, gzip.BadGzipFile) else str(exc)
        raise FileError(
            f"{rel}: is not valid gzip data ({why}); re-deliver it, or remove the .gz ending if it is not "
            "compressed"
        ) from None


class _NotUtf8(Exception):
    """Text without a BOM is not UTF-8 and another encoding is configured: read it again in that one."""


def _is_json_array(fmt: str, head: bytes) -> bool:
    """A ``.json`` file holding one JSON array: read as one document, so its lines do not matter."""
    return fmt == "json" and head.lstrip(b" \t\r\n\xef\xbb\xbf").startswith(b"[")


class _LineWriter:
    """Writes UTF-8 text for DuckDB: fixes line breaks and replaces over-long lines (see the module docstring).

    With ``lines`` false (a JSON array) the text is written as it is.
    """

    def __init__(self, out: BinaryIO, *, lines: bool) -> None:
        self.out = out
        self.lines = lines
        self.stats = TextStats()
        self.long_lines = 0
        self.cr_marked = False
        self._cr_only: bool | None = None  # old-Mac line breaks (CR alone)
        self._held_cr = False  # the last piece ended with a CR (it may start a CRLF)
        self._line: list[bytes] = []  # start of the current line, not written yet (at most MAX_LINE_BYTES)
        self._line_bytes = 0
        self._skipping = False  # the current line is too long: drop it up to its line break
        self._long_marker = b""  # what replaces it: LONG_LINE_MARKER and the line's start in base64

    def write(self, data: bytes) -> None:
        if not self.lines:
            self._emit(data)
            return
        if self._held_cr:
            data = b"\r" + data
            self._held_cr = False
        if data.endswith(b"\r"):
            data = data[:-1]
            self._held_cr = True
        if self._cr_only is None and (b"\r" in data or b"\n" in data):
            self._cr_only = b"\n" not in data  # decided by the first piece that holds a line break
        if b"\r" in data:
            if self._cr_only:
                data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            else:
                data, n = _LONE_CR.subn(CR_MARKER.encode(), data)
                self.cr_marked = self.cr_marked or n > 0
        for start in range(0, len(data), MAX_LINE_BYTES):
            self._filter(data[start : start + MAX_LINE_BYTES] if len(data) > MAX_LINE_BYTES else data)

    def close(self) -> None:
        if self.lines and self._held_cr:
            if self._cr_only or self._cr_only is None:
                self._filter(b"\n")
            else:
                self.cr_marked = True
                self._filter(CR_MARKER.encode())
        if self._skipping:
            self._emit(self._long_marker)
        else:
            self._emit(b"".join(self._line))
        self._line = []
        self.stats.finish()

    def _filter(self, piece: bytes) -> None:
        """Write ``piece`` (at most MAX_LINE_BYTES), holding back the current line until its length is known."""
        first = piece.find(b"\n")
        if first == -1:
            self._extend(piece)
            return
        self._extend(piece[:first], ends_line=True)
        last = piece.rfind(b"\n")
        self._emit(piece[first : last + 1])  # whole lines: shorter than the piece, so not too long
        self._line = [piece[last + 1 :]] if last + 1 < len(piece) else []
        self._line_bytes = len(piece) - last - 1

    def _extend(self, part: bytes, *, ends_line: bool = False) -> None:
        if not self._skipping:
            length = self._line_bytes + len(part) - (ends_line and part.endswith(b"\r"))
            if length > MAX_LINE_BYTES:
                start = (b"".join(self._line) + part)[:_LONG_LINE_PREFIX].decode("utf-8", errors="ignore")
                self._long_marker = LONG_LINE_MARKER.encode() + base64.b64encode(start.encode())
                self.long_lines += 1
                self._skipping = True
                self._line, self._line_bytes = [], 0
            else:
                self._line.append(part)
                self._line_bytes += len(part)
        if ends_line:
            if self._skipping:
                self._emit(self._long_marker)
            else:
                self._emit(b"".join(self._line))
            self._skipping = False
            self._line, self._line_bytes = [], 0

    def _emit(self, data: bytes) -> None:
        if data:
            self.out.write(data)
            self.stats.feed(data)


def mark_blank_lines(src: Path, dest: Path) -> TextStats:
    """Copy ``src`` to ``dest``, putting ``BLANK_MARKER`` on every blank line (see the marker's comment)."""
    marker = b"\n" + BLANK_MARKER.encode()
    pattern = re.compile(rb"\n(?=\r?\n)")
    carry = b""
    stats = TextStats()
    with src.open("rb") as f, dest.open("wb") as out:
        while True:
            chunk = f.read(_CHUNK)
            buf = carry + chunk
            if not chunk:
                data = pattern.sub(marker, buf)
                out.write(data)
                stats.feed(data)
                stats.finish()
                return stats
            # keep trailing line breaks for the next round, so a blank line is never split across chunks
            keep = len(buf) - len(buf.rstrip(b"\r\n"))
            work, carry = (buf[: len(buf) - keep], buf[len(buf) - keep :]) if keep else (buf, b"")
            data = pattern.sub(marker, work)
            out.write(data)
            stats.feed(data)
