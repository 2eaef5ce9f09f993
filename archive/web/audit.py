"""Custodian-only pages over the audit trail and the alerts raised from it.

Everyone else gets the same 404 as for a page that does not exist. Reading the trail is itself audited.
"""

from __future__ import annotations

from datetime import datetime, time

from django import forms
from django.contrib.auth.models import AnonymousUser, User
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from ..models import Alert, AuditEvent, Membership
from ..services import audit_log

PAGE_SIZE = 100


def is_custodian(user: User | AnonymousUser | None) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or user.memberships.filter(role=Membership.Role.CUSTODIAN).exists()


def _require_custodian(request: HttpRequest) -> None:
    if not is_custodian(request.user):
        raise Http404


class AuditFilterForm(forms.Form):
    action = forms.CharField(required=False, max_length=40)
    actor = forms.CharField(required=False, max_length=150, help_text="username")
    target = forms.CharField(required=False, max_length=64, help_text="interview, narrator or collection id")
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


def audit_events(request: HttpRequest) -> HttpResponse:
    _require_custodian(request)
    form = AuditFilterForm(request.GET or None)
    events = AuditEvent.objects.order_by("-id")
    filters: dict[str, str] = {}
    if form.is_valid():
        data = form.cleaned_data
        if data["action"]:
            events = events.filter(action=data["action"])
        if data["actor"]:
            events = events.filter(actor_label=data["actor"])
        if data["target"]:
            events = events.filter(target_id=data["target"])
        if data["since"]:
            events = events.filter(created_at__gte=timezone.make_aware(datetime.combine(data["since"], time.min)))
        if data["until"]:
            events = events.filter(created_at__lte=timezone.make_aware(datetime.combine(data["until"], time.max)))
        filters = {key: str(value) for key, value in data.items() if value}
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    audit_log(actor=request.user, action="audit_view", tier="custodian", detail={"filters": sorted(filters)})
    actions = AuditEvent.objects.order_by().values_list("action", flat=True).distinct()
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    return render(
        request,
        "archive/audit.html",
        {
            "form": form,
            "page": page,
            "actions": sorted(set(actions)),
            "query": query,
            "open_alerts": Alert.objects.filter(resolved_at__isnull=True).count(),
        },
    )


def alert_list(request: HttpRequest) -> HttpResponse:
    _require_custodian(request)
    return render(
        request,
        "archive/audit_alerts.html",
        {
            "open": Alert.objects.filter(resolved_at__isnull=True),
            "resolved": Alert.objects.filter(resolved_at__isnull=False)[:50],
        },
    )


@require_POST
def alert_resolve(request: HttpRequest, alert_id: int) -> HttpResponse:
    _require_custodian(request)
    alert = get_object_or_404(Alert, pk=alert_id, resolved_at__isnull=True)
    Alert.objects.filter(pk=alert.pk).update(resolved_at=timezone.now())
    audit_log(
        actor=request.user, action="alert_resolve", target_type="alert", target_id=str(alert.pk), tier="custodian"
    )
    return redirect("archive:audit_alerts")
