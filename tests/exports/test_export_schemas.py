"""The XML exports checked against the formats' published schemas, at every tier, for interviews of
every shape the archive holds: OHMS with lxml's XMLSchema (ohms.xsd 6.0), TEI with jing (tei_all.rng).

The schemas live outside the project, in ../shared/schemas next to the repository; without that
directory this suite is skipped. Rawi has no OAI-PMH or Dublin Core output, so OAI-PMH.xsd and
oai_dc.xsd have nothing to check yet.
"""

from __future__ import annotations

import datetime
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from archive.exports import export_bytes
from archive.exports.scholarly import OHMS_NS, TEI_NS, ohms_record_id
from archive.gate import Rendering, SegmentRendering
from archive.gate import policy as access
from archive.services.exports import export_collection, export_interview
from tests.builders import INTERVIEW_ID, SCHEMAS, build_shapes, make_rendering

TIERS = ("public", "researcher", "staff", "custodian")
XML_FORMATS = ("ohms", "tei")
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

pytestmark = pytest.mark.skipif(not SCHEMAS.is_dir(), reason=f"published schemas not found at {SCHEMAS}")


# Validators ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ohms_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMAS / "ohms.xsd")))


def ohms_errors(schema: etree.XMLSchema, paths: list[Path]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for path in paths:
        if not schema.validate(etree.parse(str(path))):
            errors[path.name] = [f"{e.line}: {e.message}" for e in schema.error_log]
    return errors


def jing_errors(paths: list[Path]) -> dict[str, list[str]]:
    """Validate all files in one jing run (compiling tei_all.rng is most of its time)."""
    jing = shutil.which("jing")
    if jing is None:
        pytest.fail("jing is required to validate TEI (apt-get install -y jing)")
    result = subprocess.run(
        [jing, str(SCHEMAS / "tei_all.rng"), *(str(p) for p in paths)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    errors: dict[str, list[str]] = {}
    by_path = {str(p): p.name for p in paths}
    for line in result.stdout.splitlines():
        path, _sep, rest = line.partition(":")
        errors.setdefault(by_path.get(path, path), []).append(rest)
    if result.returncode != 0 and not errors:
        pytest.fail(f"jing failed without reporting a file: {result.stderr or result.stdout}")
    return errors


def write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


# The suite -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_validates_every_xml_export_of_every_shape_at_every_tier(demo, tmp_path, ohms_schema):
    shapes = build_shapes(demo, tmp_path)
    out = tmp_path / "exports"
    out.mkdir()
    files: dict[str, list[Path]] = {fmt: [] for fmt in XML_FORMATS}
    exported: set[tuple[str, str]] = set()
    for name, interview in shapes.items():
        for tier in access.visible_tiers(interview):
            for fmt in XML_FORMATS:
                result = export_interview(interview=interview, fmt=fmt, tier=tier, requester_tier=tier)
                files[fmt].append(write(out, f"{name}-{tier}.{fmt}.xml", result.open().read()))
            exported.add((name, tier))
    # The TEI and OHMS written into collection bags, too.
    for tier in TIERS:
        bag = tmp_path / f"bag-{tier}"
        export_collection(
            collection=shapes["chat"].collection,
            tier=tier,
            requester_tier=tier,
            formats=XML_FORMATS,
            as_operator=True,
            destination=bag,
        )
        for path in sorted(bag.glob("data/*/*.xml")):
            fmt = "ohms" if path.name.endswith(".ohms.xml") else "tei"
            files[fmt].append(write(out, f"bag-{tier}-{path.parent.name}-{path.name}", path.read_bytes()))

    built = ("chat", "email", "vtt", "whisper", "awaiting-transcript")
    assert {(name, tier) for name in built for tier in TIERS} <= exported
    assert ("demo-sealed-committee", "custodian") in exported
    assert ("demo-sealed-committee", "staff") not in exported
    assert {name for name, tier in exported if tier == "public"} >= {
        "chat",
        "demo-whatsapp-teacher",
        "demo-voxpop",
        "demo-skype-photographer",
    }
    assert len(files["ohms"]) == len(files["tei"]) == len(exported) + len(built) * len(TIERS)

    assert ohms_errors(ohms_schema, files["ohms"]) == {}
    assert jing_errors(files["tei"]) == {}
    # The exports carry what makes the shapes different, so the check covered them.
    public_vtt = (out / "vtt-public.tei.xml").read_text(encoding="utf-8")
    assert 'reason="redacted"' in public_vtt
    assert "باب عمرو" not in public_vtt
    assert "كنا في" in public_vtt
    assert 'xml:lang="ar"' in (out / "demo-whatsapp-teacher-public.tei.xml").read_text(encoding="utf-8")
    mixed = etree.parse(str(out / "whisper-public.tei.xml"))
    assert [u.get(XML_LANG) for u in mixed.iterfind(".//t:u", {"t": TEI_NS})] == ["en", "en", "en", "ar"]
    whisper = {tier: (out / f"whisper-{tier}.tei.xml").read_text(encoding="utf-8") for tier in TIERS}
    assert "<listPerson>" not in whisper["public"]
    assert "<desc>name withheld</desc></gap> kept the bakery open." in whisper["staff"]
    assert "Abu Salim kept the bakery open." in whisper["custodian"]
    # Chat and email messages carry when they were sent: to the second from staff up, the month below.
    read = {
        (name, tier, fmt): (out / f"{name}-{tier}.{fmt}.xml").read_text(encoding="utf-8")
        for name in ("chat", "email")
        for tier in TIERS
        for fmt in XML_FORMATS
    }
    for tier in ("staff", "custodian"):
        assert '<date type="sent" when="2020-12-31T21:45:00"/>' in read["chat", tier, "tei"]
        assert "[2020-12-31 21:45:00] " in read["chat", tier, "ohms"]
        assert '<date type="sent" when="2017-01-04T07:00:00"/>' in read["email", tier, "tei"]
        assert "[2017-01-04 07:00:00] " in read["email", tier, "ohms"]
    for tier in ("public", "researcher"):
        sent = etree.fromstring(read["chat", tier, "tei"].encode()).iterfind(".//t:u/t:date", {"t": TEI_NS})
        assert {date.get("when") for date in sent} == {"2020-12"}
        assert "[2020-12] " in read["chat", tier, "ohms"] and "21:45" not in read["chat", tier, "ohms"]
        assert '<date type="sent" when="2017-01"/>' in read["email", tier, "tei"]
    awaiting = (out / "awaiting-transcript-custodian.tei.xml").read_text(encoding="utf-8")
    assert '<p>\n        <gap reason="untranscribed"/>\n      </p>' in awaiting
    assert "<u " not in awaiting


# What the fixes guarantee, on hand-made renderings ------------------------------------------------


def ohms_record(rendering: Rendering):
    return etree.fromstring(export_bytes(rendering, "ohms")).find(f"{{{OHMS_NS}}}record")


def test_it_gives_the_ohms_record_a_stable_integer_id_and_keeps_the_public_id_as_text():
    public = ohms_record(make_rendering())
    staff = ohms_record(make_rendering(tier="staff", recorded_on="2012-02-14"))
    other = ohms_record(make_rendering(interview_id="6f1c2a4e-0000-4000-8000-000000000002"))

    assert public.get("id") == staff.get("id") == str(ohms_record_id(INTERVIEW_ID))
    assert other.get("id") != public.get("id")
    # Derived from the public id alone: the same number in every export, run and release.
    assert ohms_record_id(INTERVIEW_ID) == 1989410048
    assert public.findtext(f"{{{OHMS_NS}}}cms_record_id") == INTERVIEW_ID
    assert public.findtext(f"{{{OHMS_NS}}}accession") == INTERVIEW_ID
    today = datetime.datetime.now(tz=datetime.UTC).date()
    assert datetime.date.fromisoformat(public.get("dt")) in {today, today - datetime.timedelta(days=1)}
    assert public.find(f"{{{OHMS_NS}}}date").get("value") == "2012-02-01"
    assert staff.find(f"{{{OHMS_NS}}}date").get("value") == "2012-02-14"


def test_it_writes_ohms_elements_in_the_schemas_order(ohms_schema):
    record = ohms_record(make_rendering(recorded_on=""))
    tags = [etree.QName(child).localname for child in record]
    assert tags.index("index") < tags.index("type") < tags.index("description") < tags.index("transcript")
    assert tags[-1] == "series_link"
    assert record.find(f"{{{OHMS_NS}}}date").get("value") == ""
    assert ohms_schema.validate(record.getroottree())


def test_it_keeps_text_that_xml_cannot_carry_out_of_the_xml_exports(ohms_schema, tmp_path):
    segment = SegmentRendering(0, 0.0, 2.0, "Resident\x0b B", "a form feed\x0c and a nul\x00 in a chat", "en")
    rendering = make_rendering(segments=(segment,), title="Title\x1b")
    ohms = export_bytes(rendering, "ohms")
    tei = export_bytes(rendering, "tei")
    assert b"a form feed and a nul in a chat" in ohms
    assert b"a form feed and a nul in a chat" in tei
    assert ohms_schema.validate(etree.fromstring(ohms).getroottree())
    assert jing_errors([write(tmp_path, "controls.tei.xml", tei)]) == {}


def test_tei_lists_the_speakers_or_omits_the_participants(tmp_path):
    ns = {"t": TEI_NS}
    silent = tuple(s._replace(speaker="") for s in make_rendering().segments)
    unspoken = make_rendering(segments=silent)
    empty = make_rendering(segments=())
    with_speakers = etree.fromstring(export_bytes(make_rendering(), "tei"))
    assert [p.findtext("t:persName", namespaces=ns) for p in with_speakers.iterfind(".//t:person", ns)] == [
        "Interviewer",
        "Resident B",
        "Speaker 1",
    ]
    for rendering in (unspoken, empty):
        root = etree.fromstring(export_bytes(rendering, "tei"))
        assert root.find(".//t:particDesc", ns) is None
        assert root.find(".//t:listPerson", ns) is None
    assert [u.get("who") for u in etree.fromstring(export_bytes(unspoken, "tei")).iterfind(".//t:u", ns)] == [None] * 5
    placeholder = etree.fromstring(export_bytes(empty, "tei")).find(".//t:body/t:p/t:gap", ns)
    assert placeholder.get("reason") == "untranscribed"
    paths = [
        write(tmp_path, "speakers.tei.xml", etree.tostring(with_speakers)),
        write(tmp_path, "unspoken.tei.xml", export_bytes(unspoken, "tei")),
        write(tmp_path, "empty.tei.xml", export_bytes(empty, "tei")),
    ]
    # The validators are not taking everything: an empty participant list is refused.
    broken = etree.fromstring(export_bytes(unspoken, "tei"))
    profile = broken.find(".//t:profileDesc", ns)
    etree.SubElement(etree.SubElement(profile, f"{{{TEI_NS}}}particDesc"), f"{{{TEI_NS}}}listPerson")
    paths.append(write(tmp_path, "broken.tei.xml", etree.tostring(broken)))

    errors = jing_errors(paths)

    assert list(errors) == ["broken.tei.xml"]
    assert any("listPerson" in message for message in errors["broken.tei.xml"])


def test_the_ohms_schema_refuses_a_textual_record_id(ohms_schema):
    root = etree.fromstring(export_bytes(make_rendering(), "ohms"))
    root.find(f"{{{OHMS_NS}}}record").set("id", INTERVIEW_ID)
    assert not ohms_schema.validate(root.getroottree())
    assert "'id'" in str(ohms_schema.error_log.last_error.message)
