"""OAI-PMH 2.0 at /oai: every verb's answer validated against OAI-PMH.xsd (and each record's Dublin
Core against oai_dc.xsd) with lxml, for the demo archive and for interviews of every shape; the
protocol's errors, paging and datestamps; and a leak check (a sealed interview, a staff-only one and
a name redacted from a public interview's metadata never reach a harvester).

The schemas are read from ../shared/schemas next to the repository; without it the schema checks are
skipped (the protocol and leak checks still run). oai_dc.xsd imports the DCMI schema for simple Dublin
Core and, through it, the W3C's xml.xsd from the web; those two are not among the shared schemas, so
they are resolved offline to the declarations they publish (fifteen elements of `SimpleLiteral`, text
with an optional xml:lang), unless a copy of either lies in ../shared/schemas, which is then used.
"""

from __future__ import annotations

import datetime
import re
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from lxml import etree

from archive.gate import NotVisible, rendering_for
from archive.gate import policy as access
from archive.models import Interview, RenderedInterview
from archive.services import redact_phrase
from archive.services.interviews import interview_update
from archive.web import oai
from tests.builders import SCHEMAS, build_shapes, canaries_for, imported_interview, resident_eml

pytestmark = pytest.mark.django_db

NS = {"o": oai.OAI_NS, "dc": oai.DC_NS, "oai_dc": oai.OAI_DC_NS}
DC_URL = "http://dublincore.org/schemas/xmls/simpledc20021212.xsd"
XML_XSD_URL = "http://www.w3.org/2001/03/xml.xsd"
DC_ELEMENTS = ("title", "creator", "subject", "description", "publisher", "contributor", "date", "type", "format")
DC_ELEMENTS += ("identifier", "source", "language", "relation", "coverage", "rights")
SIMPLE_DC = f"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns="{oai.DC_NS}"
    targetNamespace="{oai.DC_NS}" elementFormDefault="qualified" attributeFormDefault="unqualified">
  <xs:import namespace="http://www.w3.org/XML/1998/namespace" schemaLocation="{XML_XSD_URL}"/>
  <xs:complexType name="SimpleLiteral">
    <xs:complexContent mixed="true">
      <xs:restriction base="xs:anyType">
        <xs:sequence><xs:any processContents="lax" minOccurs="0" maxOccurs="0"/></xs:sequence>
        <xs:attribute ref="xml:lang" use="optional"/>
      </xs:restriction>
    </xs:complexContent>
  </xs:complexType>
  <xs:element name="any" type="SimpleLiteral" abstract="true"/>
  {"".join(f'<xs:element name="{name}" substitutionGroup="any"/>' for name in DC_ELEMENTS)}
</xs:schema>"""
XML_NAMESPACE_XSD = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
    targetNamespace="http://www.w3.org/XML/1998/namespace">
  <xs:attribute name="lang">
    <xs:simpleType>
      <xs:union memberTypes="xs:language">
        <xs:simpleType><xs:restriction base="xs:string"><xs:enumeration value=""/></xs:restriction></xs:simpleType>
      </xs:union>
    </xs:simpleType>
  </xs:attribute>
</xs:schema>"""
LIST_VERBS = ("ListIdentifiers", "ListRecords")


# Validators ------------------------------------------------------------------------------------


class _OfflineImports(etree.Resolver):
    def resolve(self, url, pubid, context):
        for remote, name, fallback in ((DC_URL, "simpledc20021212.xsd", SIMPLE_DC), (XML_XSD_URL, "xml.xsd", None)):
            if url == remote:
                local = SCHEMAS / name
                if local.is_file():
                    return self.resolve_filename(str(local), context)
                return self.resolve_string(fallback or XML_NAMESPACE_XSD, context)
        return None


def _schema(name: str) -> etree.XMLSchema:
    if not SCHEMAS.is_dir():
        pytest.skip(f"published schemas not found at {SCHEMAS}")
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_OfflineImports())
    return etree.XMLSchema(etree.parse(str(SCHEMAS / name), parser))


@pytest.fixture(scope="module")
def schemas() -> tuple[etree.XMLSchema, etree.XMLSchema]:
    return _schema("OAI-PMH.xsd"), _schema("oai_dc.xsd")


def schema_errors(schemas, responses: dict[str, etree._Element]) -> dict[str, list[str]]:
    """Every response against OAI-PMH.xsd, and every Dublin Core record in it against oai_dc.xsd."""
    oai_pmh, oai_dc = schemas
    errors: dict[str, list[str]] = {}
    for label, root in responses.items():
        if not oai_pmh.validate(root.getroottree()):
            errors[label] = [f"{e.line}: {e.message}" for e in oai_pmh.error_log]
        for index, dc in enumerate(root.iterfind(".//oai_dc:dc", NS)):
            document = etree.ElementTree(etree.fromstring(etree.tostring(dc)))
            if not oai_dc.validate(document):
                errors[f"{label} dc {index}"] = [f"{e.line}: {e.message}" for e in oai_dc.error_log]
    return errors


# Requests --------------------------------------------------------------------------------------


def ask(client: Client | None = None, *, method: str = "get", **arguments: str) -> etree._Element:
    client = client or Client()
    response = getattr(client, method)("/oai", arguments)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    return etree.fromstring(response.content)


def error_code(root: etree._Element) -> str | None:
    error = root.find("o:error", NS)
    return None if error is None else error.get("code")


def harvest(verb: str, client: Client | None = None, **arguments: str) -> list[etree._Element]:
    """Every page of a list, following resumption tokens."""
    pages = [ask(client, verb=verb, **arguments)]
    while token := pages[-1].findtext(f"o:{verb}/o:resumptionToken", namespaces=NS):
        pages.append(ask(client, verb=verb, resumptionToken=token))
    return pages


def identifiers(pages: list[etree._Element]) -> list[str]:
    return [text for page in pages for text in page.xpath(".//o:header/o:identifier/text()", namespaces=NS)]


def oai_id(interview: Interview) -> str:
    return f"oai:testserver:{interview.public_id}"


def public_ids() -> set[str]:
    """What the public may see, by the gate's own rule (the interview list's rule)."""
    return {oai_id(interview) for interview, _tier in access.visible_interviews(None)}


def dc_fields(root: etree._Element) -> dict[str, list[str]]:
    dc = root.find(".//oai_dc:dc", NS)
    fields: dict[str, list[str]] = {}
    for child in dc:
        fields.setdefault(etree.QName(child).localname, []).append(child.text)
    return fields


# Every verb, every shape -----------------------------------------------------------------------


def test_it_answers_every_verb_validly_for_every_shape(demo, tmp_path, schemas):
    shapes = build_shapes(demo, tmp_path)
    public = {name: i for name, i in shapes.items() if "public" in access.visible_tiers(i)}
    assert {"chat", "email", "vtt", "whisper", "awaiting-transcript", "demo-whatsapp-teacher", "demo-voxpop"} <= set(
        public
    )
    assert "demo-sealed-committee" not in public

    responses: dict[str, etree._Element] = {
        "Identify": ask(verb="Identify"),
        "ListMetadataFormats": ask(verb="ListMetadataFormats"),
        "ListSets": ask(verb="ListSets"),
    }
    for verb in LIST_VERBS:
        for number, page in enumerate(harvest(verb, metadataPrefix="oai_dc")):
            responses[f"{verb} page {number}"] = page
        responses[f"{verb} set"] = ask(verb=verb, metadataPrefix="oai_dc", set="schema-checks")
        responses[f"{verb} window"] = ask(
            verb=verb, metadataPrefix="oai_dc", **{"from": "2000-01-01", "until": "2999-12-31"}
        )
    for name, interview in public.items():
        responses[f"GetRecord {name}"] = ask(verb="GetRecord", identifier=oai_id(interview), metadataPrefix="oai_dc")
        responses[f"ListMetadataFormats {name}"] = ask(verb="ListMetadataFormats", identifier=oai_id(interview))

    assert schema_errors(schemas, responses) == {}
    assert {label for label, root in responses.items() if error_code(root)} == set()
    assert set(identifiers([responses["ListRecords page 0"]])) == public_ids() >= {oai_id(i) for i in public.values()}
    assert {s.text for s in responses["ListSets"].iterfind(".//o:setSpec", NS)} == {
        "schema-checks",
        demo.collection.slug,
    }
    assert set(identifiers([responses["ListIdentifiers set"]])) == {
        oai_id(i) for name, i in public.items() if not name.startswith("demo-")
    }

    # What makes the shapes different reaches the records: Arabic, sound, the public date precision.
    vtt = dc_fields(responses["GetRecord vtt"])
    assert vtt["language"] == ["ar"]
    assert dc_fields(responses["GetRecord whisper"])["type"] == ["Text", "Sound"]
    assert dc_fields(responses["GetRecord chat"])["type"] == ["Text"]
    teacher = demo.interview("whatsapp-teacher")
    rendering = rendering_for(teacher, "public", with_segments=False)
    fields = dc_fields(responses["GetRecord demo-whatsapp-teacher"])
    assert fields["title"] == [rendering.title]
    assert fields.get("description", []) == ([rendering.summary] if rendering.summary else [])
    assert fields.get("subject", []) == list(rendering.topics)
    assert fields.get("coverage", []) == ([rendering.place] if rendering.place else [])
    assert fields["language"] == list(rendering.languages)
    assert fields["identifier"] == [f"http://testserver/interviews/{teacher.public_id}/"]
    assert fields["rights"] == [oai.RIGHTS]
    if teacher.recorded_on:
        assert fields["date"] == [teacher.recorded_on.isoformat()[:7]]
    stored = RenderedInterview.objects.get(interview=teacher, tier="public")
    header = responses["GetRecord demo-whatsapp-teacher"].find(".//o:header", NS)
    assert header.findtext("o:datestamp", namespaces=NS) == stored.built_at.astimezone(datetime.UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert header.findtext("o:setSpec", namespaces=NS) == demo.collection.slug


def test_it_validates_the_identify_answer(demo, schemas):
    root = ask(verb="Identify")
    assert schema_errors(schemas, {"Identify": root}) == {}
    identify = root.find("o:Identify", NS)
    assert identify.findtext("o:baseURL", namespaces=NS) == "http://testserver/oai"
    assert identify.findtext("o:protocolVersion", namespaces=NS) == "2.0"
    assert identify.findtext("o:adminEmail", namespaces=NS) == "webmaster@testserver.invalid"
    assert identify.findtext("o:deletedRecord", namespaces=NS) == "no"
    assert identify.findtext("o:granularity", namespaces=NS) == "YYYY-MM-DDThh:mm:ssZ"
    request = root.find("o:request", NS)
    assert dict(request.attrib) == {"verb": "Identify"}


def test_it_names_the_sites_admins_when_configured(demo, settings):
    settings.ADMINS = [("Archivist", "archivist@rawi.example.org")]
    root = ask(verb="Identify")
    assert root.findtext("o:Identify/o:adminEmail", namespaces=NS) == "archivist@rawi.example.org"


# Errors ----------------------------------------------------------------------------------------


def test_it_answers_each_protocol_error_validly(demo, schemas):
    sealed = demo.interview("sealed-committee")
    teacher = demo.interview("whatsapp-teacher")
    cases = {
        "badVerb": [{}, {"verb": "Delete"}, {"verb": ["Identify", "Identify"]}],
        "badArgument": [
            {"verb": "Identify", "set": "x"},
            {"verb": "ListRecords"},
            {"verb": "GetRecord", "identifier": oai_id(teacher)},
            {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "from": "2012-13-01"},
            {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "from": "2012-01-01T00:00:00"},
            {
                "verb": "ListIdentifiers",
                "metadataPrefix": "oai_dc",
                "from": "2012-01-01",
                "until": "2013-01-01T00:00:00Z",
            },
            {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "from": "2013-01-02", "until": "2013-01-01"},
            {"verb": "ListRecords", "metadataPrefix": ["oai_dc", "oai_dc"]},
            {"verb": "ListRecords", "metadataPrefix": "oai dc"},
            {"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "a set"},
            {"verb": "GetRecord", "identifier": "oai:testserver: 1", "metadataPrefix": "oai_dc"},
            {"verb": "ListRecords", "metadataPrefix": "oai_dc", "resumptionToken": "x"},
        ],
        "cannotDisseminateFormat": [
            {"verb": "ListRecords", "metadataPrefix": "marc21"},
            {"verb": "GetRecord", "identifier": oai_id(teacher), "metadataPrefix": "ohms"},
        ],
        "idDoesNotExist": [
            {"verb": "GetRecord", "identifier": oai_id(sealed), "metadataPrefix": "oai_dc"},
            {"verb": "GetRecord", "identifier": f"oai:testserver:{uuid.uuid4()}", "metadataPrefix": "oai_dc"},
            {"verb": "GetRecord", "identifier": f"oai:elsewhere.org:{teacher.public_id}", "metadataPrefix": "oai_dc"},
            {"verb": "GetRecord", "identifier": "oai:testserver:not-a-uuid", "metadataPrefix": "oai_dc"},
            {"verb": "ListMetadataFormats", "identifier": oai_id(sealed)},
        ],
        "noRecordsMatch": [
            {"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "no-such-collection"},
            {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "until": "1999-12-31"},
            {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "from": "2999-01-01T00:00:00Z"},
        ],
        "badResumptionToken": [
            {"verb": "ListRecords", "resumptionToken": "forged"},
            {"verb": "ListSets", "resumptionToken": "forged"},
        ],
    }
    responses = {}
    for code, requests in cases.items():
        for number, arguments in enumerate(requests):
            root = ask(**arguments)
            assert error_code(root) == code, (code, arguments)
            responses[f"{code} {number}"] = root
            echoed = dict(root.find("o:request", NS).attrib)
            if code in ("badVerb", "badArgument"):
                assert echoed == {}, arguments  # the base URL only, as the protocol requires
            else:
                assert echoed["verb"] == arguments["verb"]
    assert schema_errors(schemas, responses) == {}
    # A hidden interview and one that never existed are the same answer.
    hidden, missing = responses["idDoesNotExist 0"], responses["idDoesNotExist 1"]
    assert etree.tostring(hidden.find("o:error", NS)) == etree.tostring(missing.find("o:error", NS))


def test_it_refuses_methods_other_than_get_and_post(demo):
    assert Client().put("/oai", {"verb": "Identify"}).status_code == 405


def test_it_answers_a_post_as_it_answers_a_get(demo):
    client = Client(enforce_csrf_checks=True)
    posted = ask(client, method="post", verb="ListIdentifiers", metadataPrefix="oai_dc")
    got = ask(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    assert identifiers([posted]) == identifiers([got])
    assert len(identifiers([got])) >= 3


# Paging and datestamps -------------------------------------------------------------------------


@pytest.mark.parametrize("verb", LIST_VERBS)
def test_it_pages_with_signed_resumption_tokens(demo, monkeypatch, schemas, verb):
    monkeypatch.setattr(oai, "PAGE_SIZE", 3)
    pages = harvest(verb, metadataPrefix="oai_dc")
    expected = public_ids()
    assert len(expected) >= 4  # more than one page, the last one short
    assert len(pages) == -(-len(expected) // 3)
    harvested = identifiers(pages)
    assert sorted(harvested) == sorted(expected)  # each once
    tokens = [page.find(f"o:{verb}/o:resumptionToken", NS) for page in pages]
    assert tokens[0].get("cursor") == "0"
    assert [t.get("cursor") for t in tokens[1:]] == [str(3 * n) for n in range(1, len(pages))]
    assert tokens[-1].text is None and tokens[-1].get("expirationDate") is None
    assert all(t.text and t.get("expirationDate") for t in tokens[:-1])
    assert schema_errors(schemas, {str(n): page for n, page in enumerate(pages)}) == {}
    # Datestamp order, so a harvest picks up what changed behind it.
    stamps = [t for page in pages for t in page.xpath(".//o:header/o:datestamp/text()", namespaces=NS)]
    assert stamps == sorted(stamps)

    token = tokens[0].text
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    other = "ListRecords" if verb == "ListIdentifiers" else "ListIdentifiers"
    assert error_code(ask(verb=verb, resumptionToken=tampered)) == "badResumptionToken"
    assert error_code(ask(verb=other, resumptionToken=token)) == "badResumptionToken"
    assert error_code(ask(verb=verb, resumptionToken=token, metadataPrefix="oai_dc")) == "badArgument"


def test_it_refuses_an_expired_resumption_token(demo, monkeypatch):
    monkeypatch.setattr(oai, "PAGE_SIZE", 1)
    token = ask(verb="ListIdentifiers", metadataPrefix="oai_dc").findtext(".//o:resumptionToken", namespaces=NS)
    monkeypatch.setattr(oai, "TOKEN_MAX_AGE", datetime.timedelta(seconds=-1))
    assert error_code(ask(verb="ListIdentifiers", resumptionToken=token)) == "badResumptionToken"


def test_it_selects_by_datestamp_with_both_granularities(demo):
    teacher = demo.interview("whatsapp-teacher")
    all_ids = set(identifiers([ask(verb="ListIdentifiers", metadataPrefix="oai_dc")]))
    latest = max(RenderedInterview.objects.filter(tier="public").values_list("built_at", flat=True))
    after_all = (latest + datetime.timedelta(seconds=1)).astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert error_code(ask(verb="ListIdentifiers", metadataPrefix="oai_dc", **{"from": after_all})) == "noRecordsMatch"
    today = latest.astimezone(datetime.UTC).date().isoformat()
    by_day = ask(verb="ListIdentifiers", metadataPrefix="oai_dc", **{"from": today, "until": today})
    assert set(identifiers([by_day])) == all_ids

    # A change to what the public sees moves the record's datestamp: an incremental harvest gets it.
    before = RenderedInterview.objects.get(interview=teacher, tier="public").built_at
    interview_update(interview=teacher, summary="A teacher on the school that became a shelter.")
    changed = RenderedInterview.objects.get(interview=teacher, tier="public").built_at
    assert changed > before
    since = changed.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    incremental = ask(verb="ListRecords", metadataPrefix="oai_dc", **{"from": since})
    assert oai_id(teacher) in identifiers([incremental])
    record = ask(verb="GetRecord", identifier=oai_id(teacher), metadataPrefix="oai_dc")
    assert dc_fields(record)["description"] == ["A teacher on the school that became a shelter."]
    until = ask(verb="ListIdentifiers", metadataPrefix="oai_dc", until=since)
    assert oai_id(teacher) in identifiers([until])


# Leaks -----------------------------------------------------------------------------------------


def _everything(client: Client | None = None) -> tuple[str, list[str]]:
    """A harvester's whole view: every verb, every page, GetRecord for every interview the archive holds."""
    roots = [ask(client, verb="Identify"), ask(client, verb="ListSets"), ask(client, verb="ListMetadataFormats")]
    for verb in LIST_VERBS:
        roots += harvest(verb, client, metadataPrefix="oai_dc")
    found = []
    for public_id in Interview.objects.values_list("public_id", flat=True):
        root = ask(client, verb="GetRecord", identifier=f"oai:testserver:{public_id}", metadataPrefix="oai_dc")
        roots.append(root)
        if error_code(root) is None:
            found.append(f"oai:testserver:{public_id}")
    # The date of the answer and the echo of the harvester's own request are not what the archive sent.
    echoes = re.compile(r"<responseDate>[^<]*</responseDate>|<request[^>]*>[^<]*</request>")
    text = "\n".join(echoes.sub("", etree.tostring(root, encoding="unicode")) for root in roots)
    return text, found


def test_it_never_lets_a_hidden_interview_or_a_redacted_name_reach_a_harvester(demo, client_as):
    canary = "Qasim Zarqawi-Nour"
    redacted = imported_interview(resident_eml(), "canary.eml", "Queues at the bakery", "en")
    interview_update(
        interview=redacted,
        summary=f"He queued with {canary} every morning.",
        topics=["bread", canary],
        place_general=f"the street where {canary} lived",
        recorded_on=datetime.date(2013, 5, 17),
    )
    redact_phrase(phrase=canary, category="name", visible_from="staff")
    staff_only = imported_interview(resident_eml(), "staff.eml", "Minutes of the local council, staff only", "en")
    interview_update(interview=staff_only, access_level="staff")
    sealed = demo.interview("sealed-committee")
    hidden = [
        staff_only,
        sealed,
        *(i for i in Interview.objects.all() if "public" not in access.visible_tiers(i)),
    ]
    assert "public" in access.visible_tiers(redacted)
    assert canary in rendering_for(redacted, "staff").summary
    assert "public" not in access.visible_tiers(staff_only)
    for interview in hidden:
        with pytest.raises(NotVisible):
            rendering_for(interview, "public")

    text, found = _everything()

    # The redacted interview is there, with its name replaced everywhere the record carries it.
    assert oai_id(redacted) in found
    record = dc_fields(ask(verb="GetRecord", identifier=oai_id(redacted), metadataPrefix="oai_dc"))
    assert record["date"] == ["2013-05"]
    assert canary not in " ".join(v for values in record.values() for v in values)
    assert len(record["subject"]) == 2 and record["subject"][0] == "bread"
    assert canary not in text
    assert canary.split()[1] not in text
    # The hidden ones are nowhere: not their ids, not their titles.
    assert set(found) == public_ids()
    for interview in hidden:
        assert str(interview.public_id) not in text, interview.title
        assert interview.title not in text, interview.title
    # Nor anything else the public must never receive (the leak suite's canaries).
    leaks = [(c.why, c.text) for c in canaries_for("public") if c.text in text]
    assert leaks == []
    # A signed-in custodian harvesting gets exactly the public's records: OAI has no other tier.
    custodian_text, custodian_found = _everything(client_as("custodian"))
    assert custodian_found == found
    assert custodian_text == text


def test_it_does_not_write_while_answering(demo):
    with CaptureQueriesContext(connection) as queries:
        _everything()
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert writes == []
    assert len(queries.captured_queries) > 10
