"""The small pieces: paths, manifests, bag-info, text analysis, formats, escaping, the clock."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver import formats
from archiver.bagit import baginfo, manifest, paths, tagfile
from archiver.clock import Clock, from_w3cdtf, w3cdtf
from archiver.errors import ClockError
from archiver.text import TextAnalyser
from archiver.xml import characters
from tests.conftest import BAGS_EPOCH, CliRunner


@pytest.mark.parametrize(
    ("path", "encoded"),
    [
        ("data/plain.txt", "data/plain.txt"),
        ("data/50% off.txt", "data/50%25 off.txt"),
        ("data/a\nb", "data/a%0Ab"),
        ("data/a\r\nb", "data/a%0D%0Ab"),
        ("data/%0A literally", "data/%250A literally"),
    ],
)
def test_manifest_paths_encode_cr_lf_and_percent_only(path: str, encoded: str) -> None:
    assert paths.encode(path) == encoded
    assert paths.decode(encoded) == path


def test_decoding_leaves_other_percent_sequences_alone() -> None:
    assert paths.decode("data/%20space%41") == "data/%20space%41"
    assert paths.decode("data/%0a%0d%25") == "data/\n\r%"


@given(st.text(min_size=1))
def test_encoding_then_decoding_gives_the_path_back(path: str) -> None:
    encoded = paths.encode(path)
    assert "\n" not in encoded and "\r" not in encoded
    assert paths.decode(encoded) == path


@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", "../x", "data/../../x", "~root/x", "C:/x", "data\\..\\x", "\\\\?\\C:\\x"],
)
def test_paths_that_could_leave_the_bag_are_unsafe(path: str) -> None:
    assert paths.unsafe_reason(path) is not None


def test_ordinary_paths_are_safe() -> None:
    assert paths.unsafe_reason("data/a..b/c.txt") is None


def test_manifest_lines_parse_with_any_whitespace_and_keep_spaces_in_paths() -> None:
    entries, bad = manifest.parse_manifest(
        [
            "ABC123  data/with space.txt",
            "def456\tdata/tab.txt",
            "*x",
            "nothex data/x",
            "",
            "abc *data/star",
        ]
    )
    assert [(e.digest, e.path) for e in entries] == [
        ("abc123", "data/with space.txt"),
        ("def456", "data/tab.txt"),
        ("abc", "data/star"),
    ]
    assert entries[2].starred
    assert [b.line for b in bad] == [3, 4, 5]


def test_written_manifests_are_sorted_by_path_bytes() -> None:
    text = manifest.format_manifest([("data/b", "2"), ("data/B", "1"), ("data/a", "3")]).decode()
    assert text == "1  data/B\n3  data/a\n2  data/b\n"


def test_bag_info_strict_and_lenient_separators() -> None:
    lines = ["Source-Organization: Org", "Contact-Name :  Someone", "Bad-Line", "  folded on"]
    strict, strict_bad = baginfo.parse_bag_info(lines, strict=True)
    lenient, lenient_bad = baginfo.parse_bag_info(lines, strict=False)
    assert [e.value for e in lenient] == ["Org", "Someone\nfolded on"]
    assert [b.line for b in lenient_bad] == [3]
    assert sorted(b.line for b in strict_bad) == [2, 3]
    assert strict[1].label == "Contact-Name"


def test_bag_info_refuses_values_it_cannot_write() -> None:
    with pytest.raises(ValueError, match="carriage return"):
        baginfo.format_bag_info([("Label", "two\r\nlines")])
    with pytest.raises(ValueError, match="whitespace"):
        baginfo.format_bag_info([("Label", "two\n  indented lines")])
    with pytest.raises(ValueError, match="empty"):
        baginfo.format_bag_info([("Label", "")])
    with pytest.raises(ValueError, match="label"):
        baginfo.format_bag_info([("Bad: label", "x")])


@pytest.mark.parametrize(
    "value", ["one line", "two\nlines", "a\n\nblank line kept", "trailing\nbreak\n"]
)
def test_bag_info_values_with_line_breaks_are_folded_and_read_back_the_same(value: str) -> None:
    written = baginfo.format_bag_info([("First", value), ("Second", "after")])
    lines = tagfile.split_lines(written.decode()).lines
    elements, bad = baginfo.parse_bag_info(lines, strict=True)
    assert bad == []
    assert [(e.label, e.value) for e in elements] == [("First", value), ("Second", "after")]


def _analyse(data: bytes, chunk: int) -> TextAnalyser:
    analyser = TextAnalyser()
    for start in range(0, len(data), chunk):
        analyser(memoryview(data[start : start + chunk]))
    return analyser


def _analyse_in_place(data: bytes, chunk: int) -> TextAnalyser:
    """As the hashing pump feeds it: views of one buffer, refilled for every chunk."""
    buffer = memoryview(bytearray(chunk))
    analyser = TextAnalyser()
    for start in range(0, len(data), chunk):
        piece = data[start : start + chunk]
        buffer[: len(piece)] = piece
        analyser(buffer[: len(piece)])
    return analyser


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 4096])
def test_text_read_through_one_reused_buffer_is_judged_as_from_copies(chunk: int) -> None:
    # A view of a whole buffer is read in place (no copy), a shorter one copied: both must
    # judge the text alike, the offset of a bad byte included.
    text = "\ufeffCaf\u00e9 \u201cq\u201d\r\nline\r\rlone CR\n\u00fc end\r".encode() * 3
    assert _analyse_in_place(text, chunk).verdict() == _analyse(text, chunk).verdict()
    bad = text[:5] + b"\xff" + text[5:]
    problem = _analyse_in_place(bad, chunk).verdict().problem
    assert problem is not None
    assert problem == _analyse(bad, chunk).verdict().problem


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 4096])
def test_text_properties_do_not_depend_on_chunk_boundaries(chunk: int) -> None:
    text = "Caf\u00e9 \u201cquoted\u201d\r\nsecond line\r\n\u00fcnicode end"
    verdict = _analyse(text.encode(), chunk).verdict()
    assert verdict.properties is not None
    assert verdict.properties.characters == len(text)
    assert verdict.properties.line_endings == "CRLF"
    assert verdict.properties.encoding == "UTF-8"
    assert verdict.first_line == "Caf\u00e9 \u201cquoted\u201d"


@pytest.mark.parametrize(
    ("data", "endings"),
    [
        (b"a\nb\n", "LF"),
        (b"a\rb", "CR"),
        (b"a\r", "CR"),
        (b"a\r\nb\r\n", "CRLF"),
        (b"a\r\nb\nc", "mixed"),
        (b"a\r\rb", "CR"),
        (b"\r\n\r\n\r", "mixed"),
        (b"abc", "none"),
        (b"", "none"),
    ],
)
@pytest.mark.parametrize("chunk", [1, 2, 3, 64])
def test_line_ending_styles_whatever_the_chunks(data: bytes, endings: str, chunk: int) -> None:
    verdict = _analyse(data, chunk).verdict()
    assert verdict.properties is not None
    assert verdict.properties.line_endings == endings
    assert verdict.properties.characters == len(data)
    assert verdict.properties.encoding == "US-ASCII"


@pytest.mark.parametrize("chunk", [100_000, 1 << 20])
@pytest.mark.parametrize("bad_at", [None, 5, 32_767, 32_768, 65_537, 99_000])
def test_a_big_chunk_decoded_in_pieces_counts_and_places_errors_as_one_piece_would(
    chunk: int, bad_at: int | None
) -> None:
    """A chunk is decoded 32 KiB at a time: characters split between pieces are counted
    once, and a bad byte's offset is the file's, whichever piece it falls in."""
    text = (
        "\u201cQuoted\u201d caf\u00e9 \U0001f600 " * 5000
    )  # multi-byte sequences on every boundary
    data = bytearray(text.encode())
    if bad_at is not None:
        data[bad_at] = 0xFF
    verdict = _analyse(bytes(data), chunk).verdict()
    if bad_at is None:
        assert verdict.properties is not None
        assert verdict.properties.characters == len(text)
    else:
        with pytest.raises(UnicodeDecodeError) as whole:  # where one decode of it all fails
            bytes(data).decode("utf-8")
        at = whole.value.start
        assert verdict.properties is None
        assert verdict.problem == f"not UTF-8: byte 0x{data[at]:02X} at offset {at}"


def test_a_bom_is_noted_and_not_counted() -> None:
    verdict = _analyse(codecs.BOM_UTF8 + "\u00e9".encode(), 2).verdict()
    assert verdict.properties is not None
    assert verdict.properties.byte_order_mark and verdict.properties.characters == 1


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"ok\xe9ok", "byte 0xE9 at offset 2"),
        (b"ab\x00", "NUL byte at offset 2"),
        ("\u00e9".encode()[:1], "truncated character"),
    ],
)
def test_bytes_that_are_not_utf8_text_are_not_claimed_as_text(data: bytes, problem: str) -> None:
    verdict = _analyse(data, 2).verdict()
    assert verdict.properties is None
    assert verdict.problem is not None and problem in verdict.problem


@pytest.mark.parametrize(
    ("name", "head", "is_text", "puid"),
    [
        ("a.txt", b"hello", True, "x-fmt/111"),
        ("a", b"hello", True, "x-fmt/111"),
        ("a.md", b"# hi", True, "fmt/1149"),
        ("a.csv", b"a,b", True, "x-fmt/18"),
        ("a.xml", b'<?xml version="1.0"?><a/>', True, "fmt/101"),
        ("a.pdf", b"%PDF-1.7\n", False, "fmt/276"),
        ("a.pdf", b"%PDF-1.4\n", False, "fmt/18"),
        ("a.gif", b"GIF89a....", False, "fmt/4"),
        ("a.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x02", False, "fmt/44"),
        ("a.txt", b"\xe9t\xe9", False, "x-fmt/111"),
        ("a.bin", b"\x00\x01", False, None),
    ],
)
def test_pronom_identification(name: str, head: bytes, is_text: bool, puid: str | None) -> None:
    assert formats.identify(name, head, is_text).puid == puid


@pytest.mark.parametrize(
    "character", ["\x00", "\x08", "\x0b", "\x0c", "\x1f", "\ud800", "\ufffe", "\uffff"]
)
def test_a_character_xml_cannot_hold_is_named_replaced_and_refused_by_lxml(character: str) -> None:
    from lxml import etree

    value = f"a{character}b"
    assert characters.xml_problem(value) == (
        f"U+{ord(character):04X} cannot appear in an XML 1.0 document"
    )
    assert characters.xml_safe(value) == "a\ufffdb"
    # the check and lxml agree: nothing illegal is written
    with pytest.raises(ValueError, match=r"XML compatible|surrogates not allowed"):
        etree.Element("e").text = value


@pytest.mark.parametrize("character", ["\t", "\n", "\r", "\x7f", "\ue000", "\U0001f600"])
def test_a_character_xml_can_hold_passes(character: str) -> None:
    value = f"a{character}b"
    assert characters.xml_problem(value) is None
    assert characters.xml_safe(value) == value


def test_the_clock_honours_source_date_epoch() -> None:
    assert w3cdtf(Clock.from_environment({"SOURCE_DATE_EPOCH": str(BAGS_EPOCH)}).now()) == (
        "2026-11-27T00:00:00Z"
    )
    assert Clock.from_environment({}).fixed is None
    with pytest.raises(ClockError, match="whole number"):
        Clock.from_environment({"SOURCE_DATE_EPOCH": "yesterday"})


@given(st.datetimes(min_value=datetime(1, 1, 1), timezones=st.just(UTC)))
def test_a_timestamp_reads_back_as_the_moment_it_was_written_from(moment: datetime) -> None:
    assert from_w3cdtf(w3cdtf(moment)) == moment.replace(microsecond=0)


@pytest.mark.parametrize(
    "text",
    ["2018-6-15T08:30:00Z", "2018-06-15T08:30:00", "2018-06-15T08:30:00+00:00", "2018-06-15"],
)
def test_a_timestamp_not_written_by_w3cdtf_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="2018"):
        from_w3cdtf(text)


def test_a_bad_source_date_epoch_is_exit_2_and_nothing_is_written(
    tmp_path: Path, cli: CliRunner, monkeypatch: pytest.MonkeyPatch, sample_copy: Path
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1.5")
    from archiver.cli import main

    assert main(["bag", str(sample_copy), "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("character", ["\x01", "\x1f", "\ufffe", "\uffff"])
def test_a_file_name_xml_cannot_hold_is_refused_with_the_reason(
    tmp_path: Path, character: str
) -> None:
    """METS and PREMIS must name every file: a name XML 1.0 cannot hold is refused before
    anything is written (the property test below draws only names it can hold)."""
    from archiver.errors import SourceError
    from archiver.packing import make_bag

    source = tmp_path / "src"
    source.mkdir()
    (source / f"a{character}b.txt").write_text("text\n", encoding="utf-8")
    with pytest.raises(SourceError, match=f"U\\+{ord(character):04X} cannot appear"):
        make_bag([source], tmp_path / "out", bag_id="h", workers=1)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


@settings(max_examples=25, deadline=None)
@given(
    names=st.lists(
        st.text(
            # what a name may hold: not '/', NUL, controls, surrogates, nor the two
            # noncharacters XML 1.0 cannot hold (such names are refused, with the reason)
            st.characters(
                blacklist_categories=["Cs", "Cc"], blacklist_characters="/\x00\ufffe\uffff"
            ),
            min_size=1,
            max_size=20,
        ).filter(lambda n: n not in {".", ".."}),
        min_size=1,
        max_size=4,
        unique_by=lambda n: paths.collision_key(n),
    )
)
def test_any_file_names_make_a_valid_bag_with_schema_valid_metadata(names: list[str]) -> None:
    import tempfile

    from archiver.packing import make_bag
    from archiver.validation import validate_bag

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        source = root / "src"
        source.mkdir()
        for index, name in enumerate(names):
            try:
                (source / name).write_bytes(f"text {index}\n".encode())
            except OSError:  # a name this file system cannot store (too long in bytes)
                return
        result = make_bag(
            [source], root / "out", bag_id="h", clock=Clock.from_epoch(BAGS_EPOCH), workers=1
        )
        report = validate_bag(result.path)
        assert report.valid, report.to_json()
        assert report.findings == [] or all(f.code == "bag.name.windows" for f in report.findings)


@pytest.mark.parametrize("pattern", ["AUAUAUA", "UUUAAAU", "AAAAAAA", "UAUAUAU"])
def test_a_big_copy_read_ahead_on_two_threads_digests_and_reads_every_byte_in_order(
    tmp_path: Path, pattern: str
) -> None:
    """A big file is copied and digested on two threads, several chunks read ahead, the text
    check meeting ASCII chunks (counted without decoding) and others in any order. Every
    digest and the character count are those of the whole file read in order, and no thread
    the copy started outlives it."""
    import hashlib
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from archiver.bagit import hashing

    piece = {"A": b"plain ascii line\n", "U": "caf\u00e9 \u201cq\u201d \U0001f600\n".encode()}
    chunk = hashing.BIG_CHUNK
    data = b"".join((piece[c] * (chunk // len(piece[c]) + 1))[:chunk] for c in pattern)
    data += piece["A"]  # a last, short chunk
    source = tmp_path / "big.txt"
    source.write_bytes(data)
    analyser = TextAnalyser()
    before = set(threading.enumerate())
    with ThreadPoolExecutor(1) as helper:
        found = hashing.copy_file(
            source, tmp_path / "copy.txt", ["sha256", "sha512"], [analyser], helper=helper
        )
    assert set(threading.enumerate()) == before
    assert (tmp_path / "copy.txt").read_bytes() == data
    assert found.size == len(data)
    assert found.digests == {
        "sha256": hashlib.sha256(data).hexdigest(),
        "sha512": hashlib.sha512(data).hexdigest(),
    }
    verdict = analyser.verdict()
    assert verdict.properties is not None, verdict.problem
    assert verdict.properties.characters == len(data.decode("utf-8"))
