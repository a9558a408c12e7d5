"""The XML builders' machinery: streamed documents, and file objects refilled per shape."""

from __future__ import annotations

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
        representation=Identifier("local", "bag"),
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


@pytest.mark.parametrize("standalone", [True, False])
def test_a_refilled_file_object_is_the_one_built_for_that_file_alone(standalone: bool) -> None:
    def written(each_built_anew: bool) -> bytes:
        output = BytesIO()
        objects = premis.FileObjects(standalone=standalone)
        with writing.stream(output) as stream, stream.element("root"):
            for obj in FILES:
                if each_built_anew:
                    objects = premis.FileObjects(standalone=standalone)
                objects.write(stream, obj)
        return output.getvalue()

    assert written(each_built_anew=False) == written(each_built_anew=True)


def test_every_file_object_shape_is_valid_premis() -> None:
    representation = Representation(Identifier("local", "bag"), "bag", ())
    output = BytesIO()
    premis.write(output, Provenance(representation, tuple(FILES), (), ()))
    tree = parsing.parse_bytes(output.getvalue())
    assert parsing.schema_errors(parsing.preservation_schema(), tree) == []
    paths = tree.xpath("//premis:contentLocationValue/text()", namespaces=NS)
    assert paths == [obj.path for obj in FILES]


def test_a_verbatim_element_holds_exactly_what_is_written_in_it() -> None:
    output = BytesIO()
    stylesheet = etree.ProcessingInstruction("xml-stylesheet", 'href="s.xsl"')
    with writing.stream(output, [stylesheet]) as stream, stream.element("root"):
        with stream.element("mixed", verbatim=True):
            stream.text("text ")
            stream.write(etree.fromstring("<b>bold <i>and</i></b>"))
            stream.text(" tail")
        stream.leaf("after", "x")
    data = output.getvalue()
    assert data.startswith(writing.DECLARATION + b'<?xml-stylesheet href="s.xsl"?>\n<root>')
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
