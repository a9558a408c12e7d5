"""The XML builders' machinery: streamed documents, and file objects refilled per shape."""

from __future__ import annotations

import re
from io import BytesIO

import pytest
from lxml import etree

from archiver.formats import PLAIN_TEXT, UNKNOWN, Format
from archiver.provenance import FileObject, Identifier, Provenance, Representation
from archiver.text import TextProperties
from archiver.xml import parsing, premis, writing
from tests.helpers_xml import NS

TRICKY = "A & B <c> \"d\" 'e'\r\n\ttabbed ☕ \U0001f600"


def test_a_streamed_document_is_indented_by_depth_and_gives_back_every_value() -> None:
    output = BytesIO()
    with writing.stream(output) as stream, stream.element("root", {"a": TRICKY}):
        stream.leaf("leaf", TRICKY, {"b": TRICKY})
        with stream.elements(("outer", None), ("inner", {"c": "1"})):
            stream.leaves("pair", None, [("one", TRICKY, None), ("two", "", {"d": TRICKY})])
        built = etree.Element("built")
        etree.SubElement(built, "child").text = TRICKY
        stream.write(built)
    data = output.getvalue()
    assert data.startswith(writing.DECLARATION) and data.endswith(b"</root>\n")
    root = parsing.parse_bytes(data).getroot()
    assert root.get("a") == TRICKY
    assert [(e.tag, e.text, dict(e.attrib)) for e in root.iter("leaf", "one", "two", "child")] == [
        ("leaf", TRICKY, {"b": TRICKY}),
        ("one", TRICKY, {}),
        ("two", None, {"d": TRICKY}),
        ("child", TRICKY, {}),
    ]
    starts = [
        line[: len(line) - len(line.lstrip())]
        for line in data.decode().splitlines()
        if line.lstrip().startswith(("<outer", "<inner", "<pair", "<one", "<built", "<child"))
    ]
    assert starts == ["  ", "    ", "      ", "        ", "  ", "    "]


def test_a_value_xml_cannot_hold_is_refused_while_streaming() -> None:
    with (
        pytest.raises(ValueError, match="XML compatible"),
        writing.stream(BytesIO()) as stream,
        stream.element("root"),
    ):
        stream.leaf("leaf", "bell\x07")


def _file(number: int, fmt: Format, text: TextProperties | None) -> FileObject:
    path = f"data/{TRICKY if number == 3 else ''}f{number}"
    return FileObject(
        identifier=Identifier("local", f"bag/{path}"),
        path=path,
        original_name=f"original {number} <{number}>",
        size=number * 1000,
        digests={"sha256": f"{number:064x}", "sha512": f"{number:0128x}"},
        format=fmt,
        text=text,
    )


# Files of every shape, interleaved, so that forms are refilled in every order.
XML_1_0 = Format("fmt/101", "Extensible Markup Language", "1.0", "application/xml", "Text")
NAMED = Format(None, "Some Format", None, "application/x-some", None)
FILES = [
    _file(n, fmt, text)
    for n, (fmt, text) in enumerate(
        [
            (PLAIN_TEXT, TextProperties("UTF-8", False, "LF", 10)),
            (UNKNOWN, None),
            (XML_1_0, TextProperties("US-ASCII", True, "CRLF", 0)),
            (PLAIN_TEXT, TextProperties("UTF-8", True, "mixed", 12345)),
            (NAMED, None),
            (UNKNOWN, None),
            (XML_1_0, TextProperties("UTF-8", False, "none", 7)),
            (PLAIN_TEXT, TextProperties("US-ASCII", False, "CR", 1)),
        ]
    )
]


def test_every_file_object_shape_is_valid_premis() -> None:
    representation = Representation(Identifier("local", "bag"), "bag")
    output = BytesIO()
    premis.write(output, Provenance(representation, tuple(FILES), (), ()))
    tree = parsing.parse_bytes(output.getvalue())
    assert parsing.schema_errors(parsing.preservation_schema(), tree) == []
    paths = tree.xpath("//premis:contentLocationValue/text()", namespaces=NS)
    assert paths == [obj.path for obj in FILES]


def test_a_verbatim_element_holds_exactly_what_is_written_in_it() -> None:
    output = BytesIO()
    with writing.stream(output) as stream, stream.element("root"):
        with stream.element("mixed", verbatim=True):
            stream.text("text ")
            stream.write(etree.fromstring("<b>bold <i>and</i></b>"))
            stream.text(" tail")
        stream.leaf("after", "x")
    data = output.getvalue()
    assert data.startswith(writing.DECLARATION + b"<root>")
    assert b"<mixed>text <b>bold <i>and</i></b> tail</mixed>\n  <after>x</after>" in data


def test_well_formedness_is_checked_without_a_tree_and_a_pi_before_the_root_is_no_bother() -> None:
    document = b'<?xml version="1.0"?>\n<?pi x?>\n<a><b/></a>\n'
    assert parsing.syntax_error(BytesIO(document)) is None
    error = parsing.syntax_error(BytesIO(document[:-6]))
    assert error is not None and error.lineno == 3
    assert parsing.syntax_error(BytesIO(b"")) is not None
    schema = parsing.preservation_schema()
    found = parsing.streamed_schema_error(schema, BytesIO(document))
    assert found is not None and "No matching global declaration" in found[1]


# -- a parsed document copied into a stream (what the OAI provider serves) ---------------------

DOCUMENT = (
    '<?xml version="1.0" encoding="ISO-8859-1"?>\n<!-- a comment -->\n<?pi before?>\n'
    '<m:mets xmlns:m="urn:m" xmlns:xsi="urn:xsi" xsi:a="1">\n'
    '  <m:x ID="a">t\u00e9xt &amp; &lt;<b>bold</b> tail<!-- gone --></m:x>\n'
    '  <plain xml:lang="en"><inner/></plain><?pi inside?>\n'
    '  <d xmlns="urn:d"><e k="v"/>\r\n</d>\n'
    "</m:mets>\n<!-- after -->\n"
).encode("iso-8859-1")


OAI_DEFAULT: dict[str | None, str] = {None: "urn:oai"}


def _copied(document: bytes, **options: object) -> bytes:
    output = BytesIO()
    events = parsing.iterparse(BytesIO(document), ("start", "end"), content_only=True)
    with (
        writing.stream(output) as stream,
        stream.element("{urn:oai}root", nsmap=OAI_DEFAULT),
        stream.element("{urn:oai}metadata"),
    ):
        for _ in stream.copy(events, default="urn:oai", **options):  # type: ignore[arg-type]
            pass
    return output.getvalue()


def test_a_copied_document_keeps_its_names_text_and_whitespace_but_not_comments_or_pis() -> None:
    data = _copied(DOCUMENT)
    root = parsing.parse_bytes(data).getroot()
    [copied] = root[0]
    original = etree.fromstring(DOCUMENT, etree.XMLParser(remove_comments=True, remove_pis=True))
    # The same elements in the same namespaces, the same attributes, the same characters:
    assert _canonical(copied) == _canonical(original)
    assert b"comment" not in data and b"<?pi" not in data
    # An element in no namespace is put back in none, not into the response's default one:
    assert root.find("{urn:oai}metadata/{urn:m}mets/plain") is not None
    # xml:lang stays in the xml namespace (lxml would bind that namespace to "ns0").
    assert b'xml:lang="en"' in data and b"ns0" not in data
    assert 't\u00e9xt &amp; &lt;<b xmlns="">bold</b> tail</m:x>'.encode() in data  # UTF-8


def _canonical(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True)


def test_a_copy_rewrites_the_attributes_it_is_told_to_and_drops_what_it_wrote() -> None:
    seen: list[etree._Element] = []

    def upper_ids(element: etree._Element) -> dict[str, str]:
        seen.append(element)
        return {k: v.upper() if k == "ID" else v for k, v in element.attrib.items()}

    data = _copied(DOCUMENT, attributes=upper_ids)
    assert b'ID="A"' in data and b'ID="a"' not in data
    # Each element was dropped once written: the parsed tree holds nothing at the end.
    root = seen[0]
    assert len(root) <= 1 and all(len(child) == 0 and not child.text for child in root)


@pytest.mark.parametrize(
    "value",
    [
        "plain/ascii.txt",
        "Kant's \u201cessay\u201d \u00e9t\u00e9 \u6f22\u5b57 \U0001f600.txt",
        "tab\there",
        'amp & lt < gt > quote "',
        "del \x7f and c1 \x85",
        "",
    ],
)
def test_elements_written_in_one_piece_are_the_bytes_lxml_writes(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stream.leaves writes an element whose names and values need nothing of lxml as text
    of its own: byte for byte what lxml writes (which every other value goes through)."""

    def document() -> bytes:
        output = BytesIO()
        with (
            writing.stream(output) as stream,
            stream.element(premis._tag("premis"), {"version": "3.0"}, premis.NSMAP),
            stream.element(premis._tag("object"), {f"{{{NS['xsi']}}}type": "premis:file"}),
        ):
            stream.leaves(
                premis._tag("storage"),
                {"note": value},
                [
                    (premis._tag("contentLocationType"), value, None),
                    (premis._tag("contentLocationValue"), value, {"a": value, "b": "2"}),
                    ("{urn:undeclared}x", "y", None),  # no prefix declared: lxml's
                ],
            )
            stream.leaves(premis._tag("fixity"), None, [(premis._tag("size"), value, None)])
            stream.nested(
                premis._tag("objectCharacteristics"),
                {"n": "1"},
                [
                    (premis._tag("size"), "8", None),
                    (
                        premis._tag("format"),
                        None,
                        [
                            (premis._tag("formatDesignation"), None, []),
                            (premis._tag("formatName"), value, {"v": value}),
                        ],
                    ),
                    (premis._tag("originalName"), "last", None),
                ],
            )
        return output.getvalue()

    ours = document()
    monkeypatch.setattr(writing, "_PLAIN", re.compile(r"(?!)"))  # nothing is plain: all lxml
    assert ours == document()
