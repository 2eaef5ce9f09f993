"""The Arabic catalogue is complete and compiled, and pages follow the interface language."""

from __future__ import annotations

import ast
import gettext
import json
import re
from pathlib import Path

import pytest

from tests.builders import ROOT

LOCALE = ROOT / "archive" / "locale" / "ar" / "LC_MESSAGES"


def po_entries(path: Path) -> list[dict]:
    """msgid, msgid_plural, msgstr / msgstr[n] and flags of each entry (obsolete ones skipped)."""
    entries, current, key = [], None, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip() or line.startswith("#~"):
            if current:
                entries.append(current)
            current = None
            continue
        current = current or {"flags": "", "msgid": "", "msgid_plural": None, "msgstr": {}}
        if line.startswith("#,"):
            current["flags"] += line
            continue
        if line.startswith("#"):
            continue
        match = re.match(r"(msgid_plural|msgid|msgstr(?:\[(\d+)\])?) (\".*\")$", line)
        if match:
            key = (match.group(1).split("[")[0], match.group(2))
            value = ast.literal_eval(match.group(3))
        else:
            value = ast.literal_eval(line)
        name, index = key
        if name == "msgstr":
            current["msgstr"][int(index or 0)] = current["msgstr"].get(int(index or 0), "") + value
        else:
            current[name] = (current[name] or "") + value
    return [e for e in entries if e["msgid"]]


def test_it_translates_every_message_into_arabic_and_ships_it_compiled():
    entries = po_entries(LOCALE / "django.po")
    assert len(entries) > 300
    assert [e["msgid"] for e in entries if "fuzzy" in e["flags"] or not all(e["msgstr"].values())] == []
    compiled = gettext.GNUTranslations((LOCALE / "django.mo").open("rb"))
    stale = [
        e["msgid"] for e in entries if e["msgid_plural"] is None and compiled.gettext(e["msgid"]) != e["msgstr"][0]
    ]
    assert stale == [], "run: python manage.py compilemessages"
    assert compiled.ngettext("%(counter)s interview", "%(counter)s interviews", 2) == "مقابلتان"


@pytest.mark.django_db
def test_it_sets_lang_and_dir_from_the_interface_language(demo, client_as):
    client = client_as(None)
    english = client.get("/interviews/").content.decode()
    assert '<html lang="en" dir="ltr">' in english and ">Interviews<" in english
    arabic = client.get("/interviews/", HTTP_ACCEPT_LANGUAGE="ar").content.decode()
    assert '<html lang="ar" dir="rtl">' in arabic and ">المقابلات<" in arabic
    assert "WhatsApp voice" in english and "رسائل واتساب الصوتية" in arabic
    assert "February 2017" in english and "فبراير 2017" in arabic
    chosen = client.post("/i18n/setlang/", {"language": "ar"}, HTTP_REFERER="/collections/")
    assert (chosen.status_code, chosen["Location"]) == (302, "/collections/")
    assert '<html lang="ar" dir="rtl">' in client.get("/collections/").content.decode()


STATIC_JS = ROOT / "archive" / "static" / "archive"


def test_the_scripts_messages_are_translated_into_arabic_and_compiled():
    entries = po_entries(LOCALE / "djangojs.po")
    assert len(entries) >= 15
    assert [e["msgid"] for e in entries if "fuzzy" in e["flags"] or not all(e["msgstr"].values())] == []
    compiled = gettext.GNUTranslations((LOCALE / "djangojs.mo").open("rb"))
    assert [e["msgid"] for e in entries if compiled.gettext(e["msgid"]) != e["msgstr"][0]] == []
    # Every message a script shows goes through gettext(): no English sentence is left as a bare literal.
    bare = []
    for script in sorted(STATIC_JS.glob("*.js")):
        source = script.read_text(encoding="utf-8")
        for match in re.finditer(r'"([A-Z][^"\n]*\s[^"\n]*)"', source):
            if not source[: match.start()].endswith("gettext("):
                bare.append(f"{script.name}: {match.group(1)}")
    assert bare == []
    translated = {e["msgid"] for e in entries}
    called = {m for s in STATIC_JS.glob("*.js") for m in re.findall(r'gettext\("([^"]+)"\)', s.read_text("utf-8"))}
    assert called and called <= translated


@pytest.mark.django_db
def test_the_scripts_catalogue_follows_the_interface_language_and_loads_before_the_upload_script(demo, client_as):
    client = client_as("fieldresearcher")
    arabic = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="ar").content.decode()
    pair = json.dumps({"Uploading…": "جارٍ الرفع…"})[1:-1]  # as the catalogue writes it
    assert pair in arabic
    assert pair not in client.get("/jsi18n/").content.decode()
    page = client.get(f"/collections/{demo.collection.slug}/upload/").content.decode()
    catalogue, script = page.index('<script src="/jsi18n/" defer>'), page.index("archive/upload.js")
    assert catalogue < script
