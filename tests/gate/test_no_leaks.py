"""The leak suite: canaries placed in redacted spans, entity redactions, narrator identities, sealed and
embargoed interviews and quarantined metadata must never reach a tier that may not see them.

Every URL is generated from the URLconf and the API schema, so a new endpoint is covered without
editing this file. Each is requested signed out, as the demo researcher and as a signed-in outsider.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import subprocess
import zipfile
from urllib.parse import quote

import pytest
import yaml
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from archive import models
from archive.models import RenderedSegment
from tests.builders import canaries_for

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

VIEWERS = {None: "public", "researcher": "researcher", "charlie": "public"}
UUID_MODELS = [
    models.Interview,
    models.Collection,
    models.Narrator,
    models.Recording,
    models.Redaction,
    models.Entity,
    models.TranscriptionJob,
    models.Attachment,
]
SKIP_PREFIXES = ("/static/", "/api/docs/")
SKIP_NAMES = {"logout"}


def _uuid_candidates() -> list[str]:
    ids: list[str] = []
    for model in UUID_MODELS:
        ids.extend(str(pk) for pk in model.objects.values_list("public_id", flat=True))
    ids.append("00000000-0000-4000-8000-000000000000")
    return ids


def _walk(patterns, prefix: str = "") -> list[tuple[str, str]]:
    routes: list[tuple[str, str]] = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            routes.extend(_walk(entry.url_patterns, prefix + str(entry.pattern)))
        elif isinstance(entry, URLPattern):
            routes.append((prefix + str(entry.pattern), entry.name or ""))
    return routes


def _fill(route: str, values: dict[str, list[str]]) -> list[str]:
    if route.startswith("^") or "(?P" in route:
        return []  # regex routes (static files, format suffixes) take no object ids
    params = re.findall(r"<(?:(\w+):)?(\w+)>", route)
    choices = []
    for converter, _name in params:
        choices.append(values.get(converter or "str", values["str"]))
    urls = []
    for combo in itertools.product(*choices) if choices else [()]:
        url = route
        for value in combo:
            url = re.sub(r"<(?:\w+:)?\w+>", value, url, count=1)
        urls.append("/" + url)
    return urls


def all_urls(client: Client) -> list[str]:
    """Every GET-able URL the URLconf and the API schema can produce for the archive's objects."""
    uuids = _uuid_candidates()
    slugs = [*models.Collection.objects.values_list("slug", flat=True), "no-such-collection"]
    ints = ["0", "1", "2", "999999"]
    values = {"uuid": uuids, "slug": slugs, "int": ints, "str": uuids[:20] + slugs, "path": slugs}
    urls: set[str] = set()
    for route, name in _walk(get_resolver().url_patterns):
        if name in SKIP_NAMES:
            continue
        urls.update(u for u in _fill(route, values) if not u.startswith(SKIP_PREFIXES))
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content
    spec = json.loads(schema) if schema.strip().startswith(b"{") else _yaml(schema)
    for path, operations in spec.get("paths", {}).items():
        get = operations.get("get")
        if not get:
            continue
        base_urls = _fill(re.sub(r"\{(\w+)\}", r"<str:\1>", path.lstrip("/")), values | {"str": uuids + slugs})
        query_sets = _query_variants(get.get("parameters", []))
        for base in base_urls:
            for query in query_sets:
                urls.add(base + query)
    return sorted(urls)


def _yaml(raw: bytes) -> dict:
    return yaml.safe_load(raw)


def _query_variants(parameters: list[dict]) -> list[str]:
    variants = [""]
    for parameter in parameters:
        if parameter.get("in") != "query":
            continue
        enum = parameter.get("schema", {}).get("enum")
        if enum:
            variants += [f"?{parameter['name']}={value}" for value in enum]
    return variants


def _texts_of(response) -> list[str]:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    texts = [raw.decode("utf-8", "ignore"), " ".join(f"{k}: {v}" for k, v in response.headers.items())]
    if raw.startswith(b"PK"):
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                texts += [archive.read(name).decode("utf-8", "ignore") for name in archive.namelist()]
        except zipfile.BadZipFile:
            pass
    if raw.startswith(b"%PDF"):
        out = subprocess.run(["pdftotext", "-", "-"], input=raw, capture_output=True, check=False)
        texts.append(out.stdout.decode("utf-8", "ignore"))
    return texts


def _client(username: str | None) -> Client:
    client = Client()
    if username == "charlie":
        user, _ = User.objects.get_or_create(username="charlie")
        client.force_login(user)
    elif username:
        client.force_login(User.objects.get(username=username))
    return client


def find_leaks(username: str | None) -> tuple[list[tuple[str, str, str]], dict[int, int], int]:
    canaries = canaries_for(VIEWERS[username])
    client = _client(username)
    urls = all_urls(client)
    leaks = []
    statuses: dict[int, int] = {}
    for url in urls:
        response = client.get(url)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, f"{url} answered {response.status_code}"
        for text in _texts_of(response):
            # A redirect to sign-in carries the requester's own URL back (?next=…): not a leak.
            text = text.replace(quote(url.split("?")[0]), "").replace(url.split("?")[0], "")
            for canary in canaries:
                if canary.text in text:
                    leaks.append((url, canary.why, canary.text))
    return leaks, statuses, len(urls)


@pytest.mark.parametrize("username", list(VIEWERS))
def test_it_leaks_no_canary_through_any_url(demo, username):
    assert len(canaries_for(VIEWERS[username])) >= 8, "the demo must plant canaries for this suite to mean anything"
    leaks, statuses, count = find_leaks(username)
    assert count >= 10
    assert leaks == []
    assert statuses.get(200, 0) >= 5, statuses


def test_it_catches_a_planted_leak(demo):
    """The suite can fail: a renderer bug that puts a legal name into public text is found."""
    row = RenderedSegment.objects.filter(
        rendering__tier="public", rendering__interview=demo.interview("voxpop")
    ).first()
    row.text = "Yusuf Kamal Darwish said so"
    row.save()
    leaks, _statuses, _count = find_leaks(None)
    assert {(why, text) for _url, why, text in leaks} == {("legal name of anonymous narrator", "Yusuf Kamal Darwish")}


@pytest.mark.parametrize("username", [None, "researcher"])
def test_it_finds_nothing_when_searching_for_canaries(demo, username):
    """The search API answers a query for hidden text with no hits, no count and no snippet."""
    client = _client(username)
    if client.get("/api/v1/search/", {"q": "siege"}).status_code == 404:
        pytest.skip("search API not present")
    for canary in canaries_for(VIEWERS[username]):
        if canary.why.startswith("text of") or canary.why == "quarantined metadata":
            continue
        response = client.get("/api/v1/search/", {"q": f'"{canary.text}"'})
        assert response.status_code == 200
        body = response.json()
        assert body["total"] == 0, (canary.why, body["total"])
        hits = json.dumps(body["hits"], ensure_ascii=False)
        facets = json.dumps(body["facets"], ensure_ascii=False)
        assert canary.text not in hits and canary.text not in facets, canary.why
        assert all(count == 0 for values in body["facets"].values() for count in _counts(values)), canary.why
        # Autocomplete offers nothing that starts like the hidden text.
        prefix = canary.text.split()[0][:4]
        suggestions = client.get("/api/v1/search/suggest/", {"q": prefix})
        if suggestions.status_code == 200:
            assert canary.text.split()[0] not in json.dumps(suggestions.json(), ensure_ascii=False), canary.why


def _counts(values) -> list[int]:
    if isinstance(values, dict):
        return [v for v in values.values() if isinstance(v, int)]
    if isinstance(values, list):
        return [item.get("count", 0) for item in values if isinstance(item, dict)]
    return []


def test_it_plants_each_kind_of_canary_in_the_demo(demo):
    whys = {c.why for c in canaries_for("public")}
    assert "span redaction" in whys
    assert "entity redaction" in whys
    assert "legal name of anonymous narrator" in whys
    assert "legal name of sealed narrator" in whys
    assert "title of an interview hidden at this tier" in whys
    assert "text of an interview hidden at this tier" in whys
    assert "quarantined metadata" in whys
    assert "id of an anonymous or sealed narrator" in whys
