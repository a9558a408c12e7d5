"""What a text file is made of: encoding, line endings, characters and lines.

``TextAnalyser`` is fed the chunks of one pass over a file (it is a hashing consumer), so
a text is never read a second time. It gives up at the first byte that is not UTF-8 or at
a NUL byte: such a file is not claimed to be text of any kind.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

# How much of a text's opening is searched for its first non-empty line.
_OPENING_LIMIT = 4096


@dataclass(frozen=True)
class TextProperties:
    """Properties of a well-formed UTF-8 text, as recorded in PREMIS."""

    encoding: str  # "UTF-8", or "US-ASCII" when every byte is below 0x80
    byte_order_mark: bool
    line_endings: str  # "LF", "CRLF", "CR", "mixed" or "none"
    characters: int  # Unicode code points, BOM excluded
    lines: int  # line terminators, plus one for a last line without one

    def significant_properties(self) -> list[tuple[str, str]]:
        """(type, value) pairs in the order PREMIS significantProperties lists them."""
        return [
            ("character encoding", self.encoding),
            ("byte order mark", "present" if self.byte_order_mark else "absent"),
            ("line endings", self.line_endings),
            ("character count", str(self.characters)),
            ("line count", str(self.lines)),
        ]


@dataclass(frozen=True)
class TextVerdict:
    """Whether the bytes are well-formed UTF-8 text, and if not, why.

    ``first_line`` is the first non-empty line (whitespace collapsed), a title candidate.
    """

    properties: TextProperties | None
    problem: str | None
    first_line: str | None = None


class TextAnalyser:
    """Consumes chunks of a file and tells whether it is UTF-8 text, and its properties."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._offset = 0
        self._characters = 0
        self._crlf = self._cr = self._lf = 0
        self._last = b""
        self._ascii = True
        self._bom = False
        self._opening = ""
        self._first_line: str | None = None
        self.problem: str | None = None

    def __call__(self, chunk: memoryview) -> None:
        if self.problem is not None:
            return
        data = bytes(chunk)
        nul = data.find(b"\x00")
        if nul >= 0:
            self.problem = f"NUL byte at offset {self._offset + nul}"
            return
        pending = len(self._decoder.getstate()[0])
        try:
            text = self._decoder.decode(data)
        except UnicodeDecodeError as exc:
            at = self._offset - pending + exc.start
            self.problem = f"not UTF-8: byte 0x{exc.object[exc.start]:02X} at offset {at}"
            return
        if self._characters == 0 and text:  # the first character decoded, wherever chunks split
            self._bom = text[0] == "\ufeff"
        self._characters += len(text)
        if self._first_line is None and len(self._opening) < _OPENING_LIMIT:
            self._look_for_first_line(text)
        if self._ascii and not text.isascii():
            self._ascii = False
        self._crlf += data.count(b"\r\n")
        self._cr += data.count(b"\r")
        self._lf += data.count(b"\n")
        if self._last == b"\r" and data[:1] == b"\n":
            self._crlf += 1  # a CRLF split across two chunks
        self._last = data[-1:]
        self._offset += len(data)

    def _look_for_first_line(self, text: str, *, final: bool = False) -> None:
        self._opening += text[: _OPENING_LIMIT - len(self._opening)]
        lines = self._opening.lstrip("\ufeff").splitlines()
        complete = lines if final or len(self._opening) >= _OPENING_LIMIT else lines[:-1]
        for line in complete:
            if line.strip():
                self._first_line = " ".join(line.split())
                return

    def verdict(self) -> TextVerdict:
        if self.problem is None:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self.problem = f"not UTF-8: truncated character at offset {self._offset}"
        if self.problem is not None:
            return TextVerdict(None, self.problem)
        if self._first_line is None:
            self._look_for_first_line("", final=True)
        lone_cr = self._cr - self._crlf
        lone_lf = self._lf - self._crlf
        kinds = [name for name, n in (("CRLF", self._crlf), ("CR", lone_cr), ("LF", lone_lf)) if n]
        endings = "none" if not kinds else kinds[0] if len(kinds) == 1 else "mixed"
        terminators = self._crlf + lone_cr + lone_lf
        unterminated = self._offset > 0 and self._last not in (b"\r", b"\n")
        characters = self._characters - (1 if self._bom else 0)
        return TextVerdict(
            TextProperties(
                encoding="US-ASCII" if self._ascii else "UTF-8",
                byte_order_mark=self._bom,
                line_endings=endings,
                characters=characters,
                lines=terminators + (1 if unterminated else 0),
            ),
            None,
            self._first_line,
        )
