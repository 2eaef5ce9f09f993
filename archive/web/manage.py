"""Pages for the daily work: editing an interview and its narrators, its workflow status, revoking
redactions. Every change is an ordinary form POST to the same services the API uses
(services.editorial, services.narrators), so the pages and the API decide alike.

The edit form is filled from the editor's own rendering, never from raw fields: text hidden above the
editor's tier shows as its replacement. Only the fields the editor actually changed are saved, so a
field they left alone keeps what it holds.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from ..accounts import can_manage_account
from ..gate import NotVisible, policy, rendering_for
from ..gate import render as render_for_tier
from ..gate.editors import editor_tier, redactions_for
from ..grants import REQUESTABLE_TIERS, can_decide
from ..models import TIER_ORDER, AccessRequest, Collection, Interview, Membership, Narrator, Redaction, Tier
from ..services.access_requests import (
    RequestRefused,
    access_request_create,
    access_request_decide,
    request_collection,
)
from ..services.accounts import second_factor_reset
from ..services.dashboard import work_in_progress
from ..services.editorial import (
    EDITORIAL_FIELDS,
    TRANSITIONS,
    InvalidChange,
    NotAllowed,
    interview_edit,
    interview_set_status,
    redaction_revoke,
)
from ..services.interviews import PublicationBlocked
from ..services.narrators import narrator_by_reference, narrator_update, narrators_for_editing
from ..services.planning import interview_plan, plan_read, plan_update
from ..services.purge import PurgeRefused, can_purge, interview_purge
from ..services.users import (
    UserChangeRefused,
    custodian_collections,
    membership_set,
    user_deactivate,
    user_invite,
    user_reactivate,
)


def editable_interview(request: HttpRequest, public_id: object, *, redact: bool = False) -> tuple[Interview, str]:
    """(interview, the tier the user works at); 404 alike for missing, not visible and not allowed."""
    interview, tier = policy.interview_for(request.user, public_id)
    allowed = policy.can_redact(request.user, interview) if redact else policy.can_edit(request.user, interview)
    if not allowed:
        raise Http404
    return interview, editor_tier(tier)


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.replace("\r", "").split("\n") if line.strip()]


class InterviewForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=300)
    summary = forms.CharField(label=_("Summary"), required=False, widget=forms.Textarea(attrs={"rows": 5}))
    recorded_on = forms.DateField(
        label=_("Recorded on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    mode = forms.ChoiceField(label=_("Mode"), choices=Interview.Mode.choices)
    place = forms.CharField(label=_("Place (exact, shown from staff)"), max_length=200, required=False)
    place_general = forms.CharField(label=_("Place (general, shown below staff)"), max_length=200, required=False)
    topics = forms.CharField(
        label=_("Topics"), required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text=_("One per line.")
    )
    languages = forms.CharField(
        label=_("Languages"), required=False, help_text=_("ISO codes separated by spaces, e.g. ar en.")
    )
    interviewer_label = forms.CharField(label=_("Interviewer as shown"), max_length=120, required=False)
    access_level = forms.ChoiceField(
        label=_("Access level"), choices=Tier.choices, help_text=_("The lowest tier that may know it exists.")
    )
    embargo_until = forms.DateField(
        label=_("Embargo until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, editorial: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not editorial:
            for name in EDITORIAL_FIELDS:
                self.fields[name].disabled = True
                self.fields[name].help_text = _("Decided by editors.")

    def changes(self) -> dict[str, Any]:
        data = self.cleaned_data
        out: dict[str, Any] = {}
        for name in self.changed_data:
            value = data[name]
            if name == "topics":
                value = _lines(value)
            elif name == "languages":
                value = value.split()
            out[name] = value
        return out


def _initial(interview: Interview, tier: str) -> dict[str, Any]:
    """The form's values as the editor's tier renders them."""
    own = rendering_for(interview, tier, with_segments=False)
    # The generalised place is what readers below staff see: rendered for them (it may hold names
    # redacted for them too), whether or not the interview is visible to them today.
    general = render_for_tier(interview, Tier.RESEARCHER).place
    return {
        "title": own.title,
        "summary": own.summary,
        "recorded_on": date.fromisoformat(own.recorded_on) if own.recorded_on else None,
        "mode": own.mode,
        "place": own.place,
        "place_general": general,
        "topics": "\n".join(own.topics),
        "languages": " ".join(own.languages),
        "interviewer_label": own.interviewer,
        "access_level": interview.access_level,
        "embargo_until": interview.embargo_until,
    }


class NarratorForm(forms.Form):
    anonymity = forms.ChoiceField(label=_("Anonymity"), choices=Narrator.Anonymity.choices)
    pseudonym = forms.CharField(label=_("Pseudonym"), max_length=120, required=False)
    descriptor = forms.CharField(label=_("Public descriptor"), max_length=200, required=False)


def _page(
    request: HttpRequest, interview: Interview, tier: str, form: InterviewForm, status: int = 200
) -> HttpResponse:
    narrators = [
        (
            row,
            NarratorForm(
                initial={"anonymity": row.anonymity, "pseudonym": row.pseudonym or "", "descriptor": row.descriptor},
                # One form per narrator on one page: each needs ids of its own for its labels.
                auto_id=f"id_narrator{number}_%s",
            ),
        )
        for number, row in enumerate(
            narrators_for_editing(interview=interview, tier=tier) if policy.can_redact(request.user, interview) else [],
            1,
        )
    ]
    redactions = []
    if policy.can_redact(request.user, interview):
        redactions = [
            r
            for r in redactions_for(interview)
            if r["status"] != Redaction.Status.REJECTED and TIER_ORDER[r["visible_from"]] <= TIER_ORDER[tier]
        ]
    own = rendering_for(interview, tier, with_segments=False)
    labels = dict(Interview.Status.choices)
    context = {
        "interview": interview,
        "title": own.title,
        "tier": tier,
        "form": form,
        "narrators": narrators,
        "redactions": redactions,
        "moves": [(move, labels[move]) for move in TRANSITIONS.get(interview.status, ())],
        "status_label": labels.get(interview.status, interview.status),
        "editorial": policy.can_redact(request.user, interview),
        "can_purge": can_purge(request.user, interview),
    }
    return render(request, "archive/manage/interview_edit.html", context, status=status)


@login_required
def interview_manage(request: HttpRequest, public_id: str) -> HttpResponse:
    interview, tier = editable_interview(request, public_id)
    editorial = policy.can_redact(request.user, interview)
    initial = _initial(interview, tier)
    if request.method != "POST":
        return _page(request, interview, tier, InterviewForm(initial=initial, editorial=editorial))
    form = InterviewForm(request.POST, initial=initial, editorial=editorial)
    if form.is_valid():
        try:
            interview_edit(interview=interview, actor=request.user, changes=form.changes())
        except (NotAllowed, InvalidChange) as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Saved."))
            return _back(interview)
    return _page(request, interview, tier, form, status=400)


def _back(interview: Interview, anchor: str = "") -> HttpResponseRedirect:
    url = reverse("archive:manage_interview", args=[interview.public_id])
    return HttpResponseRedirect(f"{url}#{anchor}" if anchor else url)


@login_required
@require_POST
def interview_status(request: HttpRequest, public_id: str) -> HttpResponse:
    interview, _tier = editable_interview(request, public_id)
    try:
        interview_set_status(interview=interview, status=request.POST.get("status", ""), actor=request.user)
    except PublicationBlocked as blocked:
        messages.error(request, _("Publication refused:"))
        for reason in blocked.reasons:
            messages.error(request, reason)
    except (NotAllowed, InvalidChange) as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Status changed."))
    return _back(interview, "status")


@login_required
@require_POST
def narrator_manage(request: HttpRequest, public_id: str, reference: str) -> HttpResponse:
    interview, tier = editable_interview(request, public_id, redact=True)
    narrator = narrator_by_reference(interview=interview, tier=tier, reference=reference)
    if narrator is None:
        raise Http404
    form = NarratorForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return _back(interview, "narrators")
    changes = dict(form.cleaned_data)
    if not changes["pseudonym"]:
        changes.pop("pseudonym")  # an anonymous narrator's pseudonym is not shown below custodian
    try:
        narrator_update(narrator=narrator, actor=request.user, tier=tier, **changes)
    except (NotAllowed, InvalidChange) as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Narrator saved."))
    return _back(interview, "narrators")


@login_required
@require_POST
def redaction_revoke_view(request: HttpRequest, public_id: str, redaction_id: str) -> HttpResponse:
    interview, tier = editable_interview(request, public_id, redact=True)
    redaction = Redaction.objects.filter(public_id=redaction_id, interview=interview).first()
    if redaction is None or TIER_ORDER[redaction.visible_from] > TIER_ORDER[tier]:
        raise Http404
    try:
        redaction_revoke(redaction=redaction, actor=request.user, tier=tier)
    except (NotAllowed, InvalidChange) as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Redaction revoked."))
    return _back(interview, "redactions")


# Dashboard -----------------------------------------------------------------------------------------


def _title(interview: Interview, tier: str) -> str:
    try:
        return rendering_for(interview, tier, with_segments=False).title
    except NotVisible:
        return _("(being rebuilt)")


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    board = work_in_progress(request.user)
    sections = [
        ("failed", _("Failed transcription jobs"), board.failed_jobs),
        ("suggestions", _("Suggested redactions waiting"), board.suggestions),
        ("held", _("Redactions held after a change"), board.held),
        ("review", _("In review"), board.in_review),
        ("planned", _("Planned interviews"), board.planned),
        ("consent", _("Consent reviews due"), board.reviews_due),
        ("embargo", _("Embargoes ending"), board.embargoes_ending),
    ]
    rows = [(key, label, [(row, _title(row.interview, row.tier)) for row in items]) for key, label, items in sections]
    context = {
        "sections": rows,
        "board": board,
        "custodian_of": custodian_collections(request.user),
        "plan_in": [c for c, _n in policy.visible_collections(request.user) if policy.can_upload(request.user, c)],
    }
    return render(request, "archive/manage/dashboard.html", context)


# Planned interviews ----------------------------------------------------------------------------------


class PlanForm(forms.Form):
    title = forms.CharField(label=_("Working title"), max_length=300)
    narrator = forms.CharField(
        label=_("Narrator's real name"),
        max_length=200,
        required=False,
        help_text=_("Stored encrypted; shown only as the anonymity allows."),
    )
    anonymity = forms.ChoiceField(
        label=_("Anonymity"), choices=Narrator.Anonymity.choices, initial=Narrator.Anonymity.ANONYMOUS
    )
    agreed_channel = forms.ChoiceField(
        label=_("Agreed channel"), choices=[("", "—"), *Interview.Mode.choices], required=False
    )
    scheduled_for = forms.DateTimeField(
        label=_("When"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    consent_script = forms.CharField(
        label=_("Consent script to read"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    questions = forms.CharField(label=_("Questions"), required=False, widget=forms.Textarea(attrs={"rows": 6}))
    notes = forms.CharField(
        label=_("Notes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Sealed: shown only to the interview's editors and its interviewer."),
    )


class PlanEditForm(PlanForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("title", "narrator", "anonymity"):
            del self.fields[name]


@login_required
def plan_new(request: HttpRequest, slug: str) -> HttpResponse:
    collection = policy.collection_for(request.user, slug)
    if not policy.can_upload(request.user, collection):
        raise Http404
    form = PlanForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            interview = interview_plan(
                collection=collection,
                title=data["title"],
                actor=request.user,
                agreed_channel=data["agreed_channel"],
                scheduled_for=data["scheduled_for"],
                consent_script=data["consent_script"],
                questions=data["questions"],
                notes=data["notes"],
                narrator_name=data["narrator"],
                anonymity=data["anonymity"],
            )
        except ValueError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Interview planned."))
            return HttpResponseRedirect(reverse("archive:manage_plan", args=[interview.public_id]))
    context = {"form": form, "collection": collection, "interview": None}
    return render(request, "archive/manage/plan.html", context, status=400 if form.errors else 200)


@login_required
def plan_edit(request: HttpRequest, public_id: str) -> HttpResponse:
    interview, tier = editable_interview(request, public_id)
    if request.method == "POST":
        form = PlanEditForm(request.POST)
        if form.is_valid():
            try:
                plan_update(interview=interview, actor=request.user, **form.cleaned_data)
            except ValueError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, _("Plan saved."))
                return HttpResponseRedirect(reverse("archive:manage_plan", args=[interview.public_id]))
    else:
        plan = plan_read(interview=interview, actor=request.user)
        initial = {}
        if plan is not None:
            initial = {
                "agreed_channel": plan.agreed_channel,
                "scheduled_for": plan.scheduled_for,
                "consent_script": plan.consent_script,
                "questions": plan.questions,
                "notes": plan.notes,
            }
        form = PlanEditForm(initial=initial)
    context = {
        "form": form,
        "interview": interview,
        "title": _title(interview, tier),
        "collection": interview.collection,
    }
    return render(request, "archive/manage/plan.html", context, status=400 if form.errors else 200)


# Deleting an interview (custodians) ------------------------------------------------------------------


@login_required
def interview_delete(request: HttpRequest, public_id: str) -> HttpResponse:
    interview, tier = policy.interview_for(request.user, public_id)
    if not can_purge(request.user, interview):
        raise Http404
    confirm = request.POST.get("confirm", "")
    if request.method == "POST" and confirm == "DELETE":
        try:
            interview_purge(interview=interview, actor=request.user, reason=request.POST.get("reason", ""))
        except PurgeRefused as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("The interview was deleted; its tombstone and audit trail remain."))
            return HttpResponseRedirect(reverse("archive:manage_dashboard"))
    context = {"interview": interview, "title": _title(interview, tier), "wrong": request.method == "POST"}
    return render(request, "archive/manage/delete.html", context, status=400 if request.method == "POST" else 200)


# Access requests -----------------------------------------------------------------------------------


class AccessRequestForm(forms.Form):
    tier = forms.ChoiceField(label=_("Tier asked for"), choices=[(t, t) for t in REQUESTABLE_TIERS])
    purpose = forms.CharField(label=_("Purpose"), max_length=2000, widget=forms.Textarea(attrs={"rows": 4}))


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("grant", _("Grant")), ("refuse", _("Refuse"))])
    terms = forms.CharField(label=_("Terms"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    ends_on = forms.DateField(label=_("Ends on"), required=False, widget=forms.DateInput(attrs={"type": "date"}))


@login_required
def access_request_new(request: HttpRequest, public_id: str) -> HttpResponse:
    interview, tier = policy.interview_for(request.user, public_id)
    form = AccessRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            access_request_create(
                requester=request.user,
                tier=form.cleaned_data["tier"],
                purpose=form.cleaned_data["purpose"],
                interview=interview,
                current_tier=tier,
            )
        except RequestRefused as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Your request was sent to the collection's custodians."))
            return HttpResponseRedirect(reverse("archive:manage_access_requests"))
    context = {"form": form, "interview": interview, "title": _title(interview, tier), "tier": tier}
    return render(request, "archive/manage/access_request_new.html", context, status=400 if form.errors else 200)


@login_required
def access_requests(request: HttpRequest) -> HttpResponse:
    rows = AccessRequest.objects.select_related("interview__collection", "collection", "requester")
    own = list(rows.filter(requester=request.user))
    to_decide = [
        (row, DecisionForm(prefix=str(row.public_id)))
        for row in rows.filter(status=AccessRequest.Status.PENDING).exclude(requester=request.user)
        if can_decide(request.user, request_collection(row))
    ]
    context = {"own": own, "to_decide": to_decide}
    return render(request, "archive/manage/access_requests.html", context)


@login_required
@require_POST
def access_request_decision(request: HttpRequest, request_id: str) -> HttpResponse:
    row = (
        AccessRequest.objects.select_related("interview__collection", "collection").filter(public_id=request_id).first()
    )
    if row is None or not can_decide(request.user, request_collection(row)):
        raise Http404
    form = DecisionForm(request.POST, prefix=str(row.public_id))
    if form.is_valid():
        data = form.cleaned_data
        try:
            access_request_decide(
                request=row,
                grant=data["decision"] == "grant",
                actor=request.user,
                terms=data["terms"],
                ends_on=data["ends_on"],
            )
        except RequestRefused as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("Decision recorded."))
    else:
        messages.error(request, _("The decision form is incomplete."))
    return HttpResponseRedirect(reverse("archive:manage_access_requests"))


# Users and roles (custodians) -----------------------------------------------------------------------


class InviteForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    email = forms.EmailField(label=_("Email"), required=False)
    collection = forms.ChoiceField(label=_("Collection"))
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices)

    def __init__(self, *args: Any, collections: list[Collection], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["collection"].choices = [(c.slug, c.title) for c in collections]


@login_required
def users(request: HttpRequest) -> HttpResponse:
    collections = custodian_collections(request.user)
    if not collections:
        raise Http404
    form = InviteForm(request.POST or None, collections=collections)
    invited_link = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        collection = next(c for c in collections if c.slug == data["collection"])
        try:
            _user, uid, token = user_invite(
                actor=request.user,
                collection=collection,
                username=data["username"],
                email=data["email"],
                role=data["role"],
            )
        except UserChangeRefused as error:
            form.add_error(None, str(error))
        else:
            invited_link = request.build_absolute_uri(reverse("archive:manage_set_password", args=[uid, token]))
            form = InviteForm(collections=collections)
    members = (
        Membership.objects.filter(collection__in=collections)
        .select_related("user", "collection")
        .order_by("user__username", "collection__title", "role")
    )
    people: dict[int, dict[str, Any]] = {}
    for membership in members:
        entry = people.setdefault(membership.user_id, {"user": membership.user, "roles": []})
        entry["roles"].append(membership)
    context = {
        "people": list(people.values()),
        "form": form,
        "invited_link": invited_link,
        "collections": collections,
        "roles": Membership.Role.choices,
    }
    return render(request, "archive/manage/users.html", context, status=400 if form.errors else 200)


def _managed(request: HttpRequest, username: str) -> User:
    target = User.objects.filter(username=username).first()
    if not can_manage_account(request.user, target):
        raise Http404
    return target


@login_required
@require_POST
def user_action(request: HttpRequest, username: str) -> HttpResponse:
    target = _managed(request, username)
    action = request.POST.get("action", "")
    try:
        if action == "deactivate":
            user_deactivate(actor=request.user, user=target)
        elif action == "reactivate":
            user_reactivate(actor=request.user, user=target)
        elif action == "reset_second_factor":
            second_factor_reset(actor=request.user, user=target)
        elif action in ("add_role", "remove_role"):
            collection = next(
                (c for c in custodian_collections(request.user) if c.slug == request.POST.get("collection")), None
            )
            if collection is None:
                raise Http404
            membership_set(
                actor=request.user,
                user=target,
                collection=collection,
                role=request.POST.get("role", ""),
                present=action == "add_role",
            )
        else:
            raise Http404
    except UserChangeRefused as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Saved."))
    return HttpResponseRedirect(reverse("archive:manage_users"))
