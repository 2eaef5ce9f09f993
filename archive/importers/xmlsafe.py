"""XML from uploads, read by a parser that refuses DTDs itself (defusedxml over expat).

A document type declaration is where entity expansion ("billion laughs") and external entities
(reading local files, reaching the network) begin; no format the archive imports needs one. The
parser raises as soon as it meets a DTD, an entity declaration or an external reference, wherever it
stands in the file, so nothing depends on scanning a prefix of it.
"""

from __future__ import annotations

import xml.sax
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree
import defusedxml.sax

from .base import ImportRefused

_REFUSALS = (defusedxml.DTDForbidden, defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden)
_FORBID = {"forbid_dtd": True, "forbid_entities": True, "forbid_external": True}


def parse_xml(text: str | bytes, *, what: str, refused: str) -> Element:
    """The document's root element. `refused` is the reason given for a DTD or entity declaration;
    malformed XML is refused with the line where parsing stopped."""
    try:
        return defusedxml.ElementTree.fromstring(text, **_FORBID)
    except _REFUSALS as exc:
        raise ImportRefused(refused, code="xml_entities") from exc
    except ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else "?"
        raise ImportRefused(f"The {what} is malformed (line {line}).", code="format") from exc


def check_xml(data: bytes, *, refused: str, damaged: str) -> None:
    """Read a whole document without building it (a streaming parse), refusing DTDs and entities."""
    try:
        defusedxml.sax.parseString(data, xml.sax.ContentHandler(), **_FORBID)
    except _REFUSALS as exc:
        raise ImportRefused(refused, code="xml_entities") from exc
    except xml.sax.SAXException as exc:
        raise ImportRefused(damaged, code="format") from exc


def looks_like_xml(data: bytes) -> bool:
    """Whether a member is XML by its content (any name: a part may be XML under any extension)."""
    head = data[:64].lstrip(b"\xef\xbb\xbf").lstrip()
    return head.startswith(b"<") or head.startswith(b"\xff\xfe<") or head.startswith(b"\xfe\xff\x00<")
