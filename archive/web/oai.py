"""OAI-PMH 2.0 for harvesters: the public tier's records as unqualified Dublin Core (oai_dc).

Served at /oai (archive/web/urls.py). Only what the public may see leaves here: every record is
built from the interview's stored public rendering (gate.rendering_for), and an interview the public
may not know exists is, for OAI as for the pages, an identifier that does not exist: absent from
every list, idDoesNotExist for GetRecord. A record's datestamp is when its public rendering was last
built, so a harvester asking `from` its last harvest receives every record whose public face changed.

Sets are collections (setSpec: the collection's slug). Resumption tokens are stateless: the request's
arguments and the position after the last record sent (datestamp, public id), signed so that they
cannot be forged or edited, and refused after a day. Deleted records are not reported (`no`): an
interview that is sealed or withdrawn simply disappears, and a deleted header would tell harvesters
that something they never saw exists. Nothing here writes.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db.models import Min, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.http.request import split_domain_port
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from lxml import etree

from ..gate import NotVisible, Rendering, rendering_for
from ..gate import policy as access
from ..models import RenderedInterview, Tier

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
OAI_SCHEMA = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
OAI_DC_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
DC_NS = "http://purl.org/dc/elements/1.1/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
METADATA_PREFIX = "oai_dc"

REPOSITORY_NAME = "Rawi oral-testimony archive"
RIGHTS = (
    "Shared under the narrators' consent. Quote or republish it only within those terms, and never try to "
    "identify a narrator who is not named."
)
PAGE_SIZE = 100
RESUMPTION_SALT = "archive.web.oai.resumption"
TOKEN_MAX_AGE = datetime.timedelta(days=1)
EMAIL = re.compile(r"\S+@(\S+\.)+\S+")

# The arguments each verb takes: (required, optional). `resumptionToken` is exclusive.
VERBS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "Identify": (frozenset(), frozenset()),
    "ListMetadataFormats": (frozenset(), frozenset({"identifier"})),
    "ListSets": (frozenset(), frozenset()),
    "GetRecord": (frozenset({"identifier", "metadataPrefix"}), frozenset()),
    "ListIdentifiers": (frozenset({"metadataPrefix"}), frozenset({"from", "until", "set"})),
    "ListRecords": (frozenset({"metadataPrefix"}), frozenset({"from", "until", "set"})),
}
RESUMABLE = {"ListIdentifiers", "ListRecords", "ListSets"}
# The protocol's syntax for arguments that are echoed back in <request> (OAI-PMH.xsd's types).
SYNTAX = {
    "metadataPrefix": re.compile(r"[A-Za-z0-9\-_.!~*'()]+"),
    "set": re.compile(r"[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*"),
    "identifier": re.compile(r"[^\s<>\"{}|\\^`]+"),
}

# Characters XML 1.0 cannot carry (imported chats and e-mails can hold them; lxml refuses them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class OAIError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Window:
    """What a list request asks for: its set, its datestamp bounds and where the last page ended."""

    set_spec: str = ""
    start: datetime.datetime | None = None  # inclusive
    end: datetime.datetime | None = None  # exclusive
    after: tuple[datetime.datetime, str] | None = None  # (built_at, public id) of the last record sent
    cursor: int = 0


# The endpoint -----------------------------------------------------------------------------------


@csrf_exempt  # harvesters POST form-encoded requests; nothing here changes state
@require_http_methods(["GET", "POST"])
def endpoint(request: HttpRequest) -> HttpResponse:
    arguments = request.POST if request.method == "POST" else request.GET
    root = etree.Element(f"{{{OAI_NS}}}OAI-PMH", nsmap={None: OAI_NS, "xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_NS} {OAI_SCHEMA}")
    _sub(root, "responseDate", _utc(timezone.now()))
    echo = _sub(root, "request", base_url(request))
    try:
        verb, args = _parse(arguments)
        body = HANDLERS[verb](request, args)
    except OAIError as error:
        if error.code not in ("badVerb", "badArgument"):
            _echo(echo, arguments)
        _sub(root, "error", error.message, code=error.code)
    else:
        _echo(echo, arguments)
        root.append(body)
    payload = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return HttpResponse(payload, content_type="text/xml; charset=utf-8")


def _parse(arguments) -> tuple[str, dict[str, str]]:
    verbs = arguments.getlist("verb")
    if len(verbs) != 1 or verbs[0] not in VERBS:
        raise OAIError("badVerb", "The verb is missing, repeated or not an OAI-PMH verb.")
    verb = verbs[0]
    args: dict[str, str] = {}
    for name in arguments:
        if name == "verb":
            continue
        values = arguments.getlist(name)
        if len(values) != 1:
            raise OAIError("badArgument", f"The argument {name} is repeated.")
        args[name] = values[0]
    required, optional = VERBS[verb]
    if "resumptionToken" in args and verb in RESUMABLE:
        if len(args) != 1:
            raise OAIError("badArgument", "resumptionToken is an exclusive argument.")
        return verb, args
    unknown = set(args) - required - optional
    if unknown:
        raise OAIError("badArgument", f"{verb} does not take {', '.join(sorted(unknown))}.")
    missing = required - set(args)
    if missing:
        raise OAIError("badArgument", f"{verb} requires {', '.join(sorted(missing))}.")
    for name, pattern in SYNTAX.items():
        if name in args and not pattern.fullmatch(args[name]):
            raise OAIError("badArgument", f"The value of {name} is not well formed.")
    return verb, args


def _echo(element: etree._Element, arguments) -> None:
    """The request's arguments as attributes of <request> (only for requests that were well formed)."""
    for name in ("verb", "identifier", "metadataPrefix", "from", "until", "set", "resumptionToken"):
        if name in arguments:
            element.set(name, _xml_text(arguments[name]))


def base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("archive:oai"))


# Identifiers, datestamps, tokens ----------------------------------------------------------------


def _namespace(request: HttpRequest) -> str:
    """The repository's part of its identifiers: the host harvesters reach it at, without a port."""
    domain, _port = split_domain_port(request.get_host())
    return domain or "localhost"


def oai_identifier(request: HttpRequest, public_id: str) -> str:
    return f"oai:{_namespace(request)}:{public_id}"


def _public_id(request: HttpRequest, identifier: str) -> uuid.UUID:
    prefix = f"oai:{_namespace(request)}:"
    if identifier.startswith(prefix):
        try:
            return uuid.UUID(identifier[len(prefix) :])
        except ValueError:
            pass
    raise OAIError("idDoesNotExist", "No item has this identifier in this repository.")


def _utc(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_datestamp(value: str, *, name: str) -> tuple[datetime.datetime, bool]:
    """A `from`/`until` argument as a UTC moment, and whether it is a whole day."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            day = datetime.date.fromisoformat(value)
            return datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.UTC), True
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", value):
            moment = datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
            return moment, False
    except ValueError:
        pass
    raise OAIError("badArgument", f"{name} is not a UTC datestamp (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ).")


def _window(args: dict[str, str]) -> Window:
    start = end = None
    days: set[bool] = set()
    if "from" in args:
        start, day = _parse_datestamp(args["from"], name="from")
        days.add(day)
    if "until" in args:
        until, day = _parse_datestamp(args["until"], name="until")
        days.add(day)
        end = until + (datetime.timedelta(days=1) if day else datetime.timedelta(seconds=1))
    if len(days) > 1:
        raise OAIError("badArgument", "from and until must have the same granularity.")
    if start is not None and end is not None and start >= end:
        raise OAIError("badArgument", "from is later than until.")
    return Window(set_spec=args.get("set", ""), start=start, end=end)


def _token(verb: str, args: dict[str, str], after: tuple[datetime.datetime, str] | str, cursor: int) -> str:
    position = [after[0].isoformat(), after[1]] if isinstance(after, tuple) else after
    state = {"v": verb, "a": {k: v for k, v in args.items() if k != "resumptionToken"}, "p": position, "c": cursor}
    return signing.dumps(state, salt=RESUMPTION_SALT, compress=True)


def _resume(verb: str, token: str) -> tuple[dict[str, str], list | str, int]:
    try:
        state = signing.loads(token, salt=RESUMPTION_SALT, max_age=TOKEN_MAX_AGE)
        if state["v"] != verb:
            raise ValueError(verb)
        return dict(state["a"]), state["p"], int(state["c"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise OAIError("badResumptionToken", "The resumption token is invalid or has expired.") from None


def _resumption(parent: etree._Element, token: str, cursor: int) -> None:
    expires = timezone.now() + TOKEN_MAX_AGE
    attributes = {"cursor": str(cursor)}
    if token:
        attributes["expirationDate"] = _utc(expires)
    _sub(parent, "resumptionToken", token, **attributes)


# The public face of the archive ------------------------------------------------------------------


def _public_rows(window: Window) -> QuerySet[RenderedInterview]:
    rows = RenderedInterview.objects.filter(tier=Tier.PUBLIC).select_related("interview", "interview__collection")
    if window.set_spec:
        rows = rows.filter(interview__collection__slug=window.set_spec)
    if window.start is not None:
        rows = rows.filter(built_at__gte=window.start)
    if window.end is not None:
        rows = rows.filter(built_at__lt=window.end)
    if window.after is not None:
        moment, public_id = window.after
        rows = rows.filter(Q(built_at__gt=moment) | Q(built_at=moment, interview__public_id__gt=public_id))
    return rows.order_by("built_at", "interview__public_id")


def _records(window: Window) -> Iterator[tuple[RenderedInterview, Rendering]]:
    """The public renderings in the window, in datestamp order; whatever the public may not see (or
    whose rendering is not current) is skipped as if it did not exist."""
    for row in _public_rows(window).iterator(chunk_size=PAGE_SIZE + 1):
        try:
            rendering = rendering_for(row.interview, Tier.PUBLIC, with_segments=False)
        except NotVisible:
            continue
        yield row, rendering


def _one_record(request: HttpRequest, identifier: str) -> tuple[RenderedInterview, Rendering]:
    public_id = _public_id(request, identifier)
    row = RenderedInterview.objects.filter(tier=Tier.PUBLIC, interview__public_id=public_id).select_related(
        "interview", "interview__collection"
    )
    stored = row.first()
    if stored is not None:
        try:
            return stored, rendering_for(stored.interview, Tier.PUBLIC, with_segments=False)
        except NotVisible:
            pass
    raise OAIError("idDoesNotExist", "No item has this identifier in this repository.")


def _header(parent: etree._Element, request: HttpRequest, row: RenderedInterview, rendering: Rendering) -> None:
    header = _sub(parent, "header")
    _sub(header, "identifier", oai_identifier(request, rendering.interview_id))
    _sub(header, "datestamp", _utc(row.built_at))
    _sub(header, "setSpec", rendering.collection_slug)


def dublin_core(request: HttpRequest, rendering: Rendering) -> etree._Element:
    """The public rendering as oai_dc: nothing that is not on the interview's public page."""
    dc = etree.Element(f"{{{OAI_DC_NS}}}dc", nsmap={"oai_dc": OAI_DC_NS, "dc": DC_NS, "xsi": XSI_NS})
    dc.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_DC_NS} {OAI_DC_SCHEMA}")

    def element(name: str, value: str) -> None:
        value = _xml_text(value).strip()
        if value:
            etree.SubElement(dc, f"{{{DC_NS}}}{name}").text = value

    element("title", rendering.title)
    for topic in rendering.topics:
        element("subject", topic)
    element("description", rendering.summary)
    element("publisher", REPOSITORY_NAME)
    element("date", rendering.recorded_on)
    element("type", "Text")
    if rendering.audio_allowed and rendering.audio_parts:
        element("type", "Sound")
    page = reverse("archive:interview_detail", args=[rendering.interview_id])
    element("identifier", request.build_absolute_uri(page))
    for language in rendering.languages:
        element("language", language)
    element("coverage", rendering.place)
    element("rights", RIGHTS)
    return dc


# Verbs -------------------------------------------------------------------------------------------


def identify(request: HttpRequest, args: dict[str, str]) -> etree._Element:
    body = etree.Element(f"{{{OAI_NS}}}Identify")
    _sub(body, "repositoryName", REPOSITORY_NAME)
    _sub(body, "baseURL", base_url(request))
    _sub(body, "protocolVersion", "2.0")
    for email in admin_emails(request):
        _sub(body, "adminEmail", email)
    earliest = RenderedInterview.objects.filter(tier=Tier.PUBLIC).aggregate(first=Min("built_at"))["first"]
    _sub(body, "earliestDatestamp", _utc(earliest or timezone.now()))
    _sub(body, "deletedRecord", "no")
    _sub(body, "granularity", "YYYY-MM-DDThh:mm:ssZ")
    return body


def admin_emails(request: HttpRequest) -> list[str]:
    """Who answers for the repository: the site's ADMINS, else its sender address; an address the
    protocol would refuse (Django's default webmaster@localhost) becomes one at this host, under the
    reserved .invalid domain when the host has no domain of its own."""
    emails = [email for _name, email in settings.ADMINS] or [settings.DEFAULT_FROM_EMAIL]
    valid = [email for email in emails if EMAIL.fullmatch(email)]
    if valid:
        return valid
    host = _namespace(request)
    return [f"webmaster@{host}" if "." in host else f"webmaster@{host}.invalid"]


def list_metadata_formats(request: HttpRequest, args: dict[str, str]) -> etree._Element:
    if "identifier" in args:
        _one_record(request, args["identifier"])
    body = etree.Element(f"{{{OAI_NS}}}ListMetadataFormats")
    fmt = _sub(body, "metadataFormat")
    _sub(fmt, "metadataPrefix", METADATA_PREFIX)
    _sub(fmt, "schema", OAI_DC_SCHEMA)
    _sub(fmt, "metadataNamespace", OAI_DC_NS)
    return body


def list_sets(request: HttpRequest, args: dict[str, str]) -> etree._Element:
    if "resumptionToken" in args:
        # Every set fits on one page, so no token is ever issued.
        _resume("ListSets", args["resumptionToken"])
    sets = sorted(
        ((collection.slug, collection.title) for collection, count in access.visible_collections(None) if count),
    )
    if not sets:
        raise OAIError("noSetHierarchy", "No collection is open to the public.")
    body = etree.Element(f"{{{OAI_NS}}}ListSets")
    for slug, title in sets:
        entry = _sub(body, "set")
        _sub(entry, "setSpec", slug)
        _sub(entry, "setName", title)
    return body


def get_record(request: HttpRequest, args: dict[str, str]) -> etree._Element:
    _check_prefix(args["metadataPrefix"])
    row, rendering = _one_record(request, args["identifier"])
    body = etree.Element(f"{{{OAI_NS}}}GetRecord")
    record = _sub(body, "record")
    _header(record, request, row, rendering)
    _sub(record, "metadata").append(dublin_core(request, rendering))
    return body


def _check_prefix(prefix: str) -> None:
    if prefix != METADATA_PREFIX:
        raise OAIError("cannotDisseminateFormat", f"Only {METADATA_PREFIX} is disseminated.")


def _list(request: HttpRequest, args: dict[str, str], verb: str, *, with_metadata: bool) -> etree._Element:
    resumed = "resumptionToken" in args
    if resumed:
        original, position, cursor = _resume(verb, args["resumptionToken"])
        try:
            window = _window(original)
            moment = datetime.datetime.fromisoformat(position[0])
            after = (moment, str(uuid.UUID(position[1])))
        except (OAIError, IndexError, TypeError, ValueError):
            raise OAIError("badResumptionToken", "The resumption token is invalid or has expired.") from None
        window = Window(window.set_spec, window.start, window.end, after, cursor)
        args = original
    else:
        window = _window(args)
    _check_prefix(args.get("metadataPrefix", ""))
    body = etree.Element(f"{{{OAI_NS}}}{verb}")
    sent = 0
    last: tuple[datetime.datetime, str] | None = None
    more = False
    for row, rendering in _records(window):
        if sent == PAGE_SIZE:
            more = True
            break
        if with_metadata:
            record = _sub(body, "record")
            _header(record, request, row, rendering)
            _sub(record, "metadata").append(dublin_core(request, rendering))
        else:
            _header(body, request, row, rendering)
        sent += 1
        last = (row.built_at, rendering.interview_id)
    if not sent:
        # Also when the records after a token went away (sealed, withdrawn) since the last page.
        raise OAIError("noRecordsMatch", "No public records match these arguments.")
    if more and last is not None:
        _resumption(body, _token(verb, args, last, window.cursor + sent), window.cursor)
    elif resumed:
        _resumption(body, "", window.cursor)
    return body


def list_identifiers(request: HttpRequest, args: dict[str, str]) -> etree._Element:
    return _list(request, args, "ListIdentifiers", with_metadata=False)


def list_records(request: HttpRequest, args: dict[str, str]) -> etree._Element:
    return _list(request, args, "ListRecords", with_metadata=True)


HANDLERS = {
    "Identify": identify,
    "ListMetadataFormats": list_metadata_formats,
    "ListSets": list_sets,
    "GetRecord": get_record,
    "ListIdentifiers": list_identifiers,
    "ListRecords": list_records,
}


# XML helpers -------------------------------------------------------------------------------------


def _xml_text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{OAI_NS}}}{tag}", attributes)
    if text is not None:
        element.text = _xml_text(text)
    return element
