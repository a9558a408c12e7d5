"""How archiver writes XML: small documents as lxml trees, big ones streamed.

Every document is UTF-8 with an XML declaration, indented two spaces, ending with a
newline. lxml escapes every value and refuses what XML 1.0 cannot hold (ValueError), so no
code here or in the builders escapes anything by hand. (``Stream.nested``, behind
``Stream.leaves``, runs by the hundred thousand: it writes an element itself only where
nothing in it needs escaping or refusing -- the very bytes lxml would write, which a test
compares.)

A big document (METS and PREMIS of a bag of 100,000 files) is streamed with
``etree.xmlfile``: its containers are opened and closed as it is written
(``Stream.element``), and what they hold is written as it is made -- leaves
(``Stream.leaf``, ``Stream.leaves``), and complete subtrees built with lxml, such as the
Dublin Core record METS wraps (``Stream.write``). Memory holds one subtree at a time,
whatever the size of the document. A subtree is serialised on its own, so its top element
declares the namespaces it uses again; what the stream opens itself does not -- which is
why what comes once per file (a PREMIS object, a METS file entry) is streamed, not
written as a subtree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from lxml import etree

if TYPE_CHECKING:  # the stubs name the writer class; lxml does not export it
    from lxml.etree._serializer import _IncrementalFileWriter

DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
INDENT = "  "
# (tag, text, attributes) of an element that holds only text, or nothing: Stream.leaves
Leaf = tuple[str, str, Mapping[str, str] | None]
# A leaf, or (tag, attributes, children) of an element holding elements: Stream.nested
Branch = tuple[str, Mapping[str, str] | None, Sequence["Node"]]
Node = Leaf | Branch
# What Stream.copy writes for an element's attributes.
Rewrite = Callable[[etree._Element], Mapping[str, str] | etree._Attrib]
XML = "http://www.w3.org/XML/1998/namespace"  # the xml: prefix's, declared by no document
_XML_NAMESPACE = f"{{{XML}}}"
_COPIED = 1000  # elements Stream.copy writes between pauses
# A value lxml writes as it is: no character it escapes (& < > " and the controls it writes
# as references) or refuses (other controls, surrogates, U+FFFE, U+FFFF); DEL and the C1
# controls are left to lxml too.
_PLAIN = re.compile('[^&<>"\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]*\\Z')


class Output(Protocol):
    """Where a streamed document goes: a binary file, or anything that takes bytes alike."""

    def write(self, data: bytes, /) -> int: ...


def sub(
    parent: etree._Element, tag: str, text: str | None = None, attrib: dict[str, str] | None = None
) -> etree._Element:
    """A child element ``tag`` (qualified: ``{namespace}local``) holding ``text``."""
    element = etree.SubElement(parent, tag, attrib)
    element.text = text
    return element


def serialise(root: etree._Element) -> bytes:
    """A whole document from its root element (and the processing instructions before it)."""
    etree.indent(root, space=INDENT)
    tree = root.getroottree()
    # pretty_print puts each node before the root on a line of its own and ends with a
    # newline; inside, the whitespace indent() gave is kept as it is.
    return DECLARATION + etree.tostring(tree, encoding="UTF-8", pretty_print=True)


def _line(depth: int) -> str:
    return "\n" + INDENT * depth


class Stream:
    """A document being written: where it is (the depth), and how to add to it there."""

    def __init__(self, writer: _IncrementalFileWriter, output: Output) -> None:
        self._writer = writer
        self._output = output
        self._depth = 0
        self._breaks = [_line(depth) for depth in range(16)]
        self._verbatim = 0  # how many elements open around here are written verbatim
        self._prefixes: dict[str, str] = {}  # namespace -> prefix, as the root declares them
        self._names: dict[str, str | None] = {}  # {namespace}local -> prefix:local, or None

    def element(
        self,
        tag: str,
        attrib: Mapping[str, str] | None = None,
        nsmap: Mapping[str, str] | Mapping[str | None, str] | None = None,
        *,
        verbatim: bool = False,
    ) -> _Open:
        """Open ``tag``; what is written inside the ``with`` goes into it, one level deeper.

        ``verbatim``: nothing is added inside it -- no line break, no indentation; what is
        written there is all it holds (text between elements matters in mixed content).
        """
        if self._depth == 0 and nsmap:  # the root's prefixes: what leaves may write itself
            self._prefixes = {uri: prefix for prefix, uri in nsmap.items() if prefix}
            self._names = {}
        return _Open(self, [self._writer.element(tag, attrib, nsmap)], verbatim)

    def elements(self, *chain: tuple[str, Mapping[str, str] | None]) -> _Open:
        """Open (tag, attributes) each inside the one before: ``element`` nested, in one."""
        return _Open(self, [self._writer.element(tag, attrib) for tag, attrib in chain])

    def leaf(self, tag: str, text: str, attrib: Mapping[str, str] | None = None) -> None:
        """An element holding only ``text``, on a line of its own."""
        self._start_line()
        with self._writer.element(tag, attrib):
            self._writer.write(text)

    def leaves(self, tag: str, attrib: Mapping[str, str] | None, leaves: Iterable[Leaf]) -> None:
        """An element holding only leaves, one a line: an identifier, a link, a file entry.

        The same as ``element`` and ``leaf`` calls, in one: these come by the hundred thousand.
        """
        self.nested(tag, attrib, list(leaves))

    def nested(self, tag: str, attrib: Mapping[str, str] | None, children: Sequence[Node]) -> None:
        """An element holding elements, one a line, each a leaf (tag, text, attributes) or
        itself such an element (tag, attributes, children): a PREMIS file object in one call.

        Where no name or value needs lxml -- every name's prefix declared on the root, no
        value holding a character XML escapes or refuses -- it is written as the text lxml
        would write, in one piece; else element by element through lxml.
        """
        plain = None if self._verbatim else self._serialised(tag, attrib, children, self._depth)
        if plain is None:
            self._write_nested(tag, attrib, children)
            return
        for _ in self.raw(["".join(plain).encode("utf-8")]):
            pass

    def _write_nested(
        self, tag: str, attrib: Mapping[str, str] | None, children: Sequence[Node]
    ) -> None:
        with self.element(tag, attrib):
            for child in children:
                if isinstance(child[1], str):
                    self.leaf(*child)
                else:
                    self._write_nested(*child)

    def _serialised(
        self, tag: str, attrib: Mapping[str, str] | None, children: Sequence[Node], depth: int
    ) -> list[str] | None:
        """The element as lxml writes it at ``depth``, in pieces; None when lxml must."""
        name = self._qualified(tag)
        start = self._start_tag(name, attrib)
        if start is None:
            return None
        inner = self._break(depth + 1)
        pieces = [start]
        for child in children:
            if isinstance(child[1], str):  # a leaf: (tag, text, attributes)
                child_tag, text, child_attrib = child
                child_name = self._qualified(child_tag)
                opened = self._start_tag(child_name, child_attrib)
                if opened is None or not _PLAIN.match(text):
                    return None
                pieces += (inner, opened, text, f"</{child_name}>")
            else:
                inside = self._serialised(*child, depth + 1)
                if inside is None:
                    return None
                pieces.append(inner)
                pieces += inside
        pieces += (self._break(depth), f"</{name}>")
        return pieces

    def _start_tag(self, name: str | None, attrib: Mapping[str, str] | None) -> str | None:
        """``<name attr="value"...>``, or None (no name: a namespace the root did not
        declare; a value lxml would escape)."""
        if name is None:
            return None
        if not attrib:
            return f"<{name}>"
        pieces = ["<", name]
        for key, value in attrib.items():
            qualified = self._qualified(key) if key.startswith("{") else key
            if qualified is None or not _PLAIN.match(value):
                return None
            pieces += (" ", qualified, '="', value, '"')
        pieces.append(">")
        return "".join(pieces)

    def _qualified(self, tag: str) -> str | None:
        """``prefix:local`` for ``{namespace}local`` when the root declared the namespace."""
        try:
            return self._names[tag]
        except KeyError:
            namespace, _, local = tag[1:].partition("}")
            prefix = self._prefixes.get(namespace) if tag.startswith("{") else None
            found = self._names[tag] = f"{prefix}:{local}" if prefix else None
            return found

    def write(self, element: etree._Element, *, indented: bool = False) -> None:
        """A complete subtree, indented to this depth (unless it already is: ``indented``,
        or it goes in a verbatim element)."""
        if not indented and not self._verbatim:
            etree.indent(element, space=INDENT, level=self._depth)
        self._start_line()
        self._writer.write(element, with_tail=False)

    def copy(
        self,
        events: Iterable[tuple[str, etree._Element]],
        *,
        default: str = "",
        attributes: Rewrite | None = None,
    ) -> Iterator[None]:
        """Write a parsed document's root element here as it was: its elements, attributes,
        text and whitespace (comments and processing instructions are left out).

        ``events``: its ("start", element) and ("end", element) pairs from an iterparse,
        written as they come and dropped once written, so memory stays flat whatever the
        size. ``default``: the namespace unprefixed names have where the stream is (an
        element in no namespace there gets ``xmlns=""``). ``attributes``: what to write
        for an element's attributes, in place of its own.

        A generator: it pauses after each ``_COPIED`` elements, what it wrote handed to the
        output (``flush``), so the caller can send that on before the rest is read.
        """
        writer = self._writer
        self._start_line()
        tags: list[AbstractContextManager[None]] = []
        defaults = [default]
        pending: etree._Element | None = None  # its text (after a start) or tail is next
        started = False
        count = 0
        try:
            for event, element in events:
                if pending is not None:
                    text = pending.text if started else pending.tail
                    if text:
                        writer.write(text)
                    if not started:
                        _drop(pending)
                if event == "start":
                    nsmap = _declared(element, defaults[-1])
                    defaults.append(nsmap.get(None, defaults[-1]) if nsmap else defaults[-1])
                    attrib = element.attrib if attributes is None else attributes(element)
                    if any(name.startswith(_XML_NAMESPACE) for name in attrib):
                        nsmap = {**(nsmap or {}), "xml": XML}  # else lxml binds it to ns0
                    tag = writer.element(element.tag, attrib, nsmap)
                    tag.__enter__()
                    tags.append(tag)
                    started = True
                    count += 1
                    if count % _COPIED == 0:
                        writer.flush()
                        yield
                else:
                    tags.pop().__exit__(None, None, None)
                    defaults.pop()
                    started = False
                pending = element
            if pending is not None:
                _drop(pending)
        except BaseException as error:
            # The elements left open are closed in the writer (so the stream's own stay in
            # step), never handed on: a response that ends here stays visibly broken.
            for tag in reversed(tags):
                tag.__exit__(type(error), error, error.__traceback__)
            raise

    def raw(self, pieces: Iterable[bytes]) -> Iterator[None]:
        """Bytes that are already XML -- an element, its namespaces declared on it -- written
        here as they are, on a line of their own, pausing after each piece.

        The caller vouches for them: UTF-8, well-formed, every name in its namespace
        wherever it is put (nothing in no namespace when a default one is in scope here).
        """
        self._start_line()  # also ends a start tag lxml keeps open until something follows
        self._writer.flush()
        for piece in pieces:
            self._output.write(piece)
            yield

    def text(self, text: str) -> None:
        """Character data where the stream is (escaped as lxml does)."""
        self._writer.write(text)

    def flush(self) -> None:
        """Hand what is written so far to the output (lxml buffers it otherwise)."""
        self._writer.flush()

    @property
    def depth(self) -> int:
        return self._depth

    def _break(self, depth: int) -> str:
        """A line break and the indentation of ``depth``."""
        while len(self._breaks) <= depth:
            self._breaks.append(_line(len(self._breaks)))
        return self._breaks[depth]

    def _start_line(self) -> None:
        """Before a start tag (the root's follows the declaration's line break)."""
        if self._depth and not self._verbatim:
            self._writer.write(self._break(self._depth))

    def _end_line(self) -> None:
        """Before the end tag of an element that holds elements."""
        if not self._verbatim:
            self._writer.write(self._break(self._depth))


def _declared(element: etree._Element, default: str) -> dict[str | None, str] | None:
    """The namespaces ``element`` declares (all it has in scope, for a root), and
    ``xmlns=""`` for an element in no namespace where ``default`` is a namespace."""
    parent = element.getparent()
    inherited = parent.nsmap if parent is not None else {}
    declared: dict[str | None, str] = {
        prefix: uri for prefix, uri in element.nsmap.items() if inherited.get(prefix) != uri
    }
    if not str(element.tag).startswith("{") and declared.get(None, default):
        declared[None] = ""
    return declared or None


def _drop(element: etree._Element) -> None:
    """Forget a written element and the siblings written before it (not its tail)."""
    element.clear(keep_tail=True)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


class _Open:
    """``with stream.element(...)``: each start tag on a line of its own, what follows one
    level deeper, each end tag back on a line of its own (none of that inside a verbatim
    element). A class, not a generator: a METS document opens hundreds of thousands."""

    __slots__ = ("_stream", "_tags", "_verbatim")

    def __init__(
        self, stream: Stream, tags: list[AbstractContextManager[None]], verbatim: bool = False
    ) -> None:
        self._stream = stream
        self._tags = tags
        self._verbatim = verbatim

    def __enter__(self) -> None:
        stream = self._stream
        for tag in self._tags:
            stream._start_line()
            tag.__enter__()
            stream._depth += 1
        stream._verbatim += self._verbatim

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        stream = self._stream
        for tag in reversed(self._tags):
            stream._depth -= 1
            stream._end_line()
            tag.__exit__(kind, error, traceback)
        stream._verbatim -= self._verbatim


@contextmanager
def stream(output: Output) -> Iterator[Stream]:
    """Write one document to ``output``; open its root element inside the ``with``."""
    output.write(DECLARATION)
    with etree.xmlfile(output, encoding="UTF-8") as writer:
        yield Stream(writer, output)
    output.write(b"\n")
