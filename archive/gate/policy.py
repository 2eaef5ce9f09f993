"""Policy: the read gate's first half: who may know which interview exists, and at which tier they see it.

A user's effective tier for an interview comes from one place: their role, their memberships in the
interview's collection, whether they gathered it, and the access granted to them on request, which
counts only where the narrators' consent lets readers outside the archive's staff in and no embargo
is in force (grant_refusals). A grant never lets a reader hear a voice the narrators did not release
(hears): the staff tier hears it because the archive's staff hold it, and a reader let in is not staff.
An interview whose required level is above that tier does not exist for them: every lookup answers 404
and every list leaves it out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import TypeGuard

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet, Value
from django.http import Http404
from django.utils import timezone

from ..audit import audit_log
from ..grants import Grant, active_grants, granted_tiers
from ..models import TIER_ORDER, TIERS, Collection, ConsentRecord, Interview, Membership, Redaction, Tier

# Re-exported (callers write access.tiers_up_to, access.tier_at_least …).
from .tiers import as_tier
from .tiers import max_tier as max_tier
from .tiers import min_tier as min_tier
from .tiers import tier_at_least as tier_at_least
from .tiers import tiers_up_to as tiers_up_to

ROLE_TIER: dict[str, Tier] = {
    Membership.Role.RESEARCHER: Tier.RESEARCHER,
    Membership.Role.FIELD_RESEARCHER: Tier.RESEARCHER,
    Membership.Role.EDITOR: Tier.STAFF,
    Membership.Role.ARCHIVIST: Tier.STAFF,
    Membership.Role.CUSTODIAN: Tier.CUSTODIAN,
}
EDIT_ROLES = {Membership.Role.EDITOR, Membership.Role.CUSTODIAN}


@dataclass(frozen=True)
class ConsentCaps:
    """What the current consent versions allow for one interview."""

    floor: Tier  # the lowest tier that may see the interview at all
    voice_floor: Tier  # the lowest tier that may hear the audio
    version_stamp: str  # "narrator:version,…" of the versions relied on
    withdrawn: bool
    embargo_until: date | None


def current_consents(interview: Interview) -> list[ConsentRecord]:
    latest: dict[int, ConsentRecord] = {}
    for record in interview.consents.order_by("narrator_id", "-version"):
        latest.setdefault(record.narrator_id, record)
    return list(latest.values())


def consent_caps(interview: Interview) -> ConsentCaps:
    records = current_consents(interview)
    floor: Tier = Tier.PUBLIC
    voice_floor: Tier = Tier.PUBLIC
    withdrawn = False
    embargo: date | None = None
    if not records:
        # No consent on file: only the people who hold the interview may see it.
        return ConsentCaps(Tier.STAFF, Tier.STAFF, "", False, None)
    for record in records:
        if record.withdrawn or not record.archive:
            withdrawn = True
        if not record.research_access:
            floor = max_tier(floor, Tier.STAFF)
        elif not (record.publication and record.public_web):
            floor = max_tier(floor, Tier.RESEARCHER)
        if not record.voice_release:
            voice_floor = max_tier(voice_floor, Tier.STAFF)
        if record.embargo_until and (embargo is None or record.embargo_until > embargo):
            embargo = record.embargo_until
        if record.embargo_event:
            floor = max_tier(floor, Tier.STAFF)
    stamp = ",".join(f"{r.narrator.public_id}:v{r.version}" for r in sorted(records, key=lambda r: r.narrator_id))
    if withdrawn:
        floor = voice_floor = Tier.CUSTODIAN
    return ConsentCaps(floor, voice_floor, stamp, withdrawn, embargo)


def interview_grant_refusals(interview: Interview) -> list[str]:
    """grant_refusals for one interview: its narrators' current consent and its editors' embargo."""
    records = current_consents(interview)
    narrators = set(interview.narrators.values_list("pk", flat=True))
    unconsented = len(narrators - {record.narrator_id for record in records})
    return grant_refusals(records, embargo_until=interview.embargo_until, unconsented=unconsented)


def grant_refusals(
    records: Iterable[ConsentRecord],
    today: date | None = None,
    *,
    embargo_until: date | None = None,
    unconsented: int = 0,
) -> list[str]:
    """Why no access grant may reveal the interview; none when it may. A grant lets in a reader from
    outside the archive's staff: that is research access, which needs every narrator's consent (one
    current record per narrator) to archiving and to research access, none withdrawn, and no embargo in
    force, the consent's or the one an editor set on the interview (`embargo_until`): an embargo holds
    the interview at staff, and a grant would lift a reader over it. Publication and the public web
    concern the public, not a reader let in. `unconsented`: how many of its narrators have no consent on
    file (each must consent)."""
    records = list(records)
    today = today or timezone.localdate()
    reasons: list[str] = []
    if not records:
        reasons.append("no consent is on file for it")
    elif unconsented:
        reasons.append("a narrator's consent is not on file")
    for record in records:
        if record.withdrawn:
            reasons.append("a narrator withdrew their consent")
        if not record.archive:
            reasons.append("a narrator did not consent to its archiving")
        if not record.research_access:
            reasons.append("a narrator did not consent to research access")
        if record.embargo_event:
            reasons.append("a narrator's consent embargoes it until an event")
        if record.embargo_until and record.embargo_until > today:
            reasons.append(f"a narrator's consent embargoes it until {record.embargo_until.isoformat()}")
    if embargo_until and embargo_until > today:
        reasons.append(f"it is embargoed until {embargo_until.isoformat()}")
    return list(dict.fromkeys(reasons))


@dataclass(frozen=True)
class _Grants:
    """A user's grants in force, and the interviews they cover where a grant may count."""

    grants: list[Grant]
    consented: frozenset[int]

    def tiers(self, interview_id: int | None, collection_id: int) -> list[str]:
        if interview_id is None or interview_id not in self.consented:
            return []
        return granted_tiers(self.grants, interview_id, collection_id)


_NO_GRANTS = _Grants([], frozenset())


def _grants_of(user: User | AnonymousUser | None) -> _Grants:
    """The user's grants (one query), and for a user holding any, three more for the editors' embargo,
    the narrators and their current consent of every interview they cover: whatever interview is asked
    about, so that the queries are the same."""
    grants = active_grants(user)
    if not grants:
        return _NO_GRANTS
    interview_ids = {g.interview_id for g in grants if g.interview_id is not None}
    collection_ids = {g.collection_id for g in grants if g.collection_id is not None}
    covered = Q(pk__in=interview_ids) | Q(collection_id__in=collection_ids)
    embargoes = dict(Interview.objects.filter(covered).values_list("pk", "embargo_until"))
    narrators = _narrators_of(list(embargoes))
    latest = _latest_consents(Q(interview_id__in=interview_ids) | Q(interview__collection_id__in=collection_ids))
    today = timezone.localdate()
    consented = frozenset(
        pk
        for pk, records in latest.items()
        if not grant_refusals(
            records.values(),
            today,
            embargo_until=embargoes.get(pk),
            unconsented=len(narrators.get(pk, set()) - set(records)),
        )
    )
    return _Grants(grants, consented)


def computed_floor(interview: Interview, caps: ConsentCaps | None = None) -> Tier:
    """The floor derived from its inputs; the rendering service stores it on the interview."""
    caps = caps or consent_caps(interview)
    level = max_tier(interview.access_level, caps.floor)
    if interview.withdrawn_at is not None or interview.status in (Interview.Status.SEALED, Interview.Status.DELETED):
        level = Tier.CUSTODIAN
    elif interview.status != Interview.Status.PUBLISHED:
        # Planned, a draft, being transcribed, in review or set aside: only published interviews are
        # seen below staff; the rest is for the collection's staff and whoever gathered it.
        level = max_tier(level, Tier.STAFF)
    # An approved span redaction that could not follow the transcript into a new version or a
    # correction holds every tier below its own until an editor decides.
    held = Redaction.objects.filter(
        kind=Redaction.Kind.SPAN, status=Redaction.Status.APPROVED, held=True, segment__transcript__interview=interview
    ).values_list("visible_from", flat=True)
    return max_tier(level, *held)


def computed_embargo(interview: Interview, caps: ConsentCaps | None = None) -> date | None:
    caps = caps or consent_caps(interview)
    dates = [d for d in (interview.embargo_until, caps.embargo_until) if d]
    return max(dates) if dates else None


def required_tier(interview: Interview) -> Tier:
    """The lowest tier that may know this interview exists (an embargo in force lifts it to staff)."""
    return _required(interview.floor_tier, interview.embargo_effective)


def _required(floor_tier: str, embargo_effective: date | None) -> Tier:
    level = as_tier(floor_tier)
    if embargo_effective and embargo_effective > timezone.localdate():
        level = max_tier(level, Tier.STAFF)
    return level


def visible_tiers(interview: Interview) -> list[Tier]:
    """Tiers for which a rendering of this interview may exist."""
    floor = required_tier(interview)
    return [Tier(t) for t in TIERS if TIER_ORDER[t] >= TIER_ORDER[floor]]


def _is_authenticated(user: User | AnonymousUser | None) -> TypeGuard[User]:
    return bool(user is not None and user.is_authenticated and user.is_active)


def collection_tier(user: User | AnonymousUser | None, collection: Collection) -> Tier:
    if not _is_authenticated(user):
        return Tier.PUBLIC
    if user.is_superuser:
        return Tier.CUSTODIAN
    roles = [m.role for m in user.memberships.all() if m.collection_id == collection.pk]
    return max_tier(
        Tier.PUBLIC, *[ROLE_TIER[r] for r in roles], *granted_tiers(active_grants(user), None, collection.pk)
    )


def user_tier(user: User | AnonymousUser | None, interview: Interview) -> Tier:
    """The tier at which this user sees this interview (whether or not it is visible to them)."""
    if not _is_authenticated(user):
        return Tier.PUBLIC
    gathered = interview.interviewers.filter(pk=user.pk).exists()
    memberships = list(user.memberships.all())
    return _tier_of(user, memberships, interview.collection_id, gathered, _grants_of(user), interview.pk)


def can_see(user: User | AnonymousUser | None, interview: Interview) -> bool:
    return tier_at_least(user_tier(user, interview), required_tier(interview))


def interview_for(user: User | AnonymousUser | None, public_id: object) -> tuple[Interview, Tier]:
    """The one lookup helper: (interview, tier) or 404 alike for missing and not-yours.

    A missing id and a hidden one cost the same, so that neither the answer nor its timing tells
    them apart: one query for the row (with whether this user gathered it), one for the user's
    memberships, and for a signed-in user one audited denial either way."""
    try:
        key = Interview._meta.get_field("public_id").to_python(public_id)
    except (ValueError, TypeError, ValidationError):  # a malformed id cannot name anything: no lookup
        raise Http404 from None
    if key is None:
        raise Http404
    rows = Interview.objects.select_related("collection").filter(public_id=key)
    memberships: list[Membership] = []
    if _is_authenticated(user):
        rows = rows.annotate(gathered_by_user=_gathered_by(user))
        memberships = list(user.memberships.all())
    interview = next(iter(rows[:1]), None)
    grants = _grants_of(user)  # for a missing id too: the same queries either way
    tier = Tier.PUBLIC
    if interview is not None:
        gathered = bool(getattr(interview, "gathered_by_user", False))
        tier = _tier_of(user, memberships, interview.collection_id, gathered, grants, interview.pk)
        if tier_at_least(tier, required_tier(interview)):
            return interview, tier
    _log_denial(user, str(key), tier if interview is not None else "", found=interview is not None)
    raise Http404


def hears(user: User | AnonymousUser | None, interview: Interview, tier: str) -> bool:
    """Whether the user, seeing the interview at `tier` (interview_for), may hear its audio. The tier's
    rendering says whether anyone at that tier hears it; on top, a reader whose tier comes from a grant
    hears only a voice every narrator released: the staff tier hears an unreleased voice because the
    archive's staff hold it, and a reader let in from outside is not staff."""
    if not tier_at_least(tier, interview.voice_floor_tier):
        return False
    if not _is_authenticated(user):
        return True
    gathered = interview.interviewers.filter(pk=user.pk).exists()
    own = _tier_of(user, list(user.memberships.all()), interview.collection_id, gathered)
    return tier_at_least(own, interview.voice_floor_tier) or not _voice_held([interview.pk])


def unheard(user: User | AnonymousUser | None, pairs: Iterable[tuple[Interview, Tier]]) -> set[int]:
    """Of (interview, tier) pairs from visible_interviews, the interviews whose tier hears the audio but
    the user may not (hears), in a few queries: none for a user who holds no grant."""
    if not _is_authenticated(user) or not active_grants(user):
        return set()
    memberships = list(user.memberships.all())
    granted = [
        interview.pk
        for interview, tier in pairs
        if tier_at_least(tier, interview.voice_floor_tier)
        and not tier_at_least(
            _tier_of(user, memberships, interview.collection_id, bool(getattr(interview, "gathered_by_user", False))),
            interview.voice_floor_tier,
        )
    ]
    return _voice_held(granted) if granted else set()


def _voice_held(interview_ids: list[int]) -> set[int]:
    """The interviews of which a narrator's current consent does not release the voice (or of which a
    narrator has no consent on file)."""
    latest = _latest_consents(Q(interview_id__in=interview_ids))
    narrators = _narrators_of(interview_ids)
    held = set()
    for interview_id in set(latest) | set(narrators):
        records = latest.get(interview_id, {})
        if any(
            n not in records or not records[n].voice_release for n in narrators.get(interview_id, set()) | set(records)
        ):
            held.add(interview_id)
    return held


def _latest_consents(where: Q) -> dict[int, dict[int, ConsentRecord]]:
    """interview -> narrator -> current consent record, for the records `where` selects (one query; the
    many-interview form of current_consents)."""
    rows = (
        ConsentRecord.objects.filter(where)
        .order_by("interview_id", "narrator_id", "-version")
        .only(
            "interview_id",
            "narrator_id",
            "version",
            "withdrawn",
            "archive",
            "research_access",
            "voice_release",
            "embargo_until",
            "embargo_event",
        )
    )
    latest: dict[int, dict[int, ConsentRecord]] = {}
    for record in rows:
        latest.setdefault(record.interview_id, {}).setdefault(record.narrator_id, record)
    return latest


def _narrators_of(interview_ids: list[int]) -> dict[int, set[int]]:
    """Each interview's narrators (one query)."""
    narrators: dict[int, set[int]] = {}
    rows = Interview.narrators.through.objects.filter(interview_id__in=interview_ids)
    for interview_id, narrator_id in rows.values_list("interview_id", "narrator_id"):
        narrators.setdefault(interview_id, set()).add(narrator_id)
    return narrators


def _log_denial(user: User | AnonymousUser | None, public_id: str, tier: str, *, found: bool) -> None:
    """A signed-in user asked for an interview they may not see: audited (and alerted on when
    repeated) whether or not it exists, while the response stays the same 404. Probing ids that do
    not exist is an attempt like any other, and writing the event for both keeps their cost equal."""
    if not _is_authenticated(user):
        return
    audit_log(
        actor=user,
        action="access_denied",
        target_type="interview",
        target_id=public_id,
        tier=tier,
        detail={"found": found},
    )


def can_edit(user: User | AnonymousUser | None, interview: Interview) -> bool:
    """Edit rights on one interview (add a recording, make a transcript version, correct segments,
    change speakers): the collection's editors and custodians, and the interviewer who gathered it."""
    if not _is_authenticated(user):
        return False
    if user.is_superuser:
        return True
    if user.memberships.filter(collection_id=interview.collection_id, role__in=EDIT_ROLES).exists():
        return True
    return interview.interviewers.filter(pk=user.pk).exists()


@dataclass(frozen=True)
class Rights:
    """What one user may do with one interview (can_edit, can_redact, and can_upload to its collection)."""

    edit: bool
    redact: bool
    upload: bool


def rights_on(user: User | AnonymousUser | None, interview: Interview) -> Rights:
    """can_edit, can_redact and can_upload (to the interview's collection) in one reading of the roles."""
    if not _is_authenticated(user):
        return Rights(edit=False, redact=False, upload=False)
    if user.is_superuser:
        return Rights(edit=True, redact=True, upload=True)
    # Plain strings on both sides: a choice enum hashes by its name, not its value.
    roles = {
        str(r) for r in user.memberships.filter(collection_id=interview.collection_id).values_list("role", flat=True)
    }
    redact = bool(roles & {str(r) for r in EDIT_ROLES})
    edit = redact or interview.interviewers.filter(pk=user.pk).exists()
    upload = redact or str(Membership.Role.FIELD_RESEARCHER) in roles
    return Rights(edit=edit, redact=redact, upload=upload)


def can_redact(user: User | AnonymousUser | None, interview: Interview) -> bool:
    """Redaction and anonymity decisions: the collection's editors and custodians."""
    if not _is_authenticated(user):
        return False
    if user.is_superuser:
        return True
    return user.memberships.filter(collection_id=interview.collection_id, role__in=EDIT_ROLES).exists()


def can_upload(user: User | AnonymousUser | None, collection: Collection) -> bool:
    if not _is_authenticated(user):
        return False
    if user.is_superuser:
        return True
    return user.memberships.filter(
        collection=collection, role__in=[Membership.Role.FIELD_RESEARCHER, *EDIT_ROLES]
    ).exists()


def visible_interviews(
    user: User | AnonymousUser | None, queryset: QuerySet[Interview] | None = None
) -> list[tuple[Interview, Tier]]:
    """Every interview the user may know exists, with the tier they see it at."""
    queryset = queryset if queryset is not None else Interview.objects.all()
    interviews, memberships, grants = _as_reader(user, queryset.select_related("collection"))
    result: list[tuple[Interview, Tier]] = []
    for interview in interviews:
        gathered = bool(getattr(interview, "gathered_by_user", False))
        tier = _tier_of(user, memberships, interview.collection_id, gathered, grants, interview.pk)
        if tier_at_least(tier, required_tier(interview)):
            result.append((interview, tier))
    return result


def visible_interview_versions(user: User | AnonymousUser | None) -> list[tuple[int, Tier, int]]:
    """(pk, tier, policy version) of every interview the user may know exists: what visible_interviews
    decides, read as plain values (search asks this for every query)."""
    rows, memberships, grants = _as_reader(user, Interview.objects.all())
    result: list[tuple[int, Tier, int]] = []
    fields = ("pk", "collection_id", "floor_tier", "embargo_effective", "policy_version", "gathered_by_user")
    for pk, collection_id, floor_tier, embargo, version, gathered in rows.values_list(*fields):
        tier = _tier_of(user, memberships, collection_id, bool(gathered), grants, pk)
        if tier_at_least(tier, _required(floor_tier, embargo)):
            result.append((pk, tier, version))
    return result


def _as_reader(
    user: User | AnonymousUser | None, rows: QuerySet[Interview]
) -> tuple[QuerySet[Interview], list[Membership], _Grants]:
    """What deciding the user's tier on each of `rows` needs: the rows annotated with whether the user
    gathered each (`gathered_by_user`), the user's memberships and grants."""
    if not _is_authenticated(user):
        return rows.annotate(gathered_by_user=Value(False)), [], _grants_of(user)
    return rows.annotate(gathered_by_user=_gathered_by(user)), list(user.memberships.all()), _grants_of(user)


def _gathered_by(user: User) -> Exists:
    """Whether the user is one of the interviewers who gathered the interview (for an annotation)."""
    return Exists(Interview.interviewers.through.objects.filter(interview_id=OuterRef("pk"), user_id=user.pk))


def visible_interview_ids(user: User | AnonymousUser | None) -> dict[int, Tier]:
    return {pk: tier for pk, tier, _version in visible_interview_versions(user)}


def _tier_of(
    user: User | AnonymousUser | None,
    memberships: Iterable[Membership],
    collection_id: int,
    gathered: bool,
    grants: _Grants = _NO_GRANTS,
    interview_id: int | None = None,
) -> Tier:
    """The tier from the user's memberships in the collection and access granted to them on request
    (grants.py) where the interview's consent lets a grant count, custodian for whoever gathered it."""
    if not _is_authenticated(user):
        return Tier.PUBLIC
    if user.is_superuser or gathered:
        return Tier.CUSTODIAN
    roles = [ROLE_TIER[m.role] for m in memberships if m.collection_id == collection_id]
    return max_tier(Tier.PUBLIC, *roles, *grants.tiers(interview_id, collection_id))


def visible_collections(user: User | AnonymousUser | None) -> list[tuple[Collection, int]]:
    """Collections with at least one interview the user may see, and how many."""
    counts: dict[int, int] = {}
    collections: dict[int, Collection] = {}
    for interview, _tier in visible_interviews(user):
        counts[interview.collection_id] = counts.get(interview.collection_id, 0) + 1
        collections[interview.collection_id] = interview.collection
    if _is_authenticated(user):
        for membership in user.memberships.select_related("collection"):
            collections.setdefault(membership.collection_id, membership.collection)
            counts.setdefault(membership.collection_id, 0)
    return sorted(((c, counts[c.pk]) for c in collections.values()), key=lambda pair: pair[0].title)


def collection_for(user: User | AnonymousUser | None, slug: str) -> Collection:
    """The collection, if the user may see it (one of visible_collections), else 404."""
    return collection_with_interviews(user, slug)[0]


def collection_with_interviews(
    user: User | AnonymousUser | None, slug: str
) -> tuple[Collection, list[tuple[Interview, Tier]]]:
    """The collection, if the user may see it (one of visible_collections), with its interviews the
    user may see (visible_interviews); else 404."""
    collection = Collection.objects.filter(slug=slug).first()
    if collection is None:
        raise Http404
    interviews = visible_interviews(user, Interview.objects.filter(collection=collection))
    if interviews or (_is_authenticated(user) and user.memberships.filter(collection=collection).exists()):
        return collection, interviews
    raise Http404
