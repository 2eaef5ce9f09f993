"""Navigation context: which role-specific links to show. Decides nothing about visibility."""

from __future__ import annotations

from django.http import HttpRequest

from .models import Membership


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_roles": frozenset()}
    roles = set(Membership.objects.filter(user=user).values_list("role", flat=True))
    if user.is_superuser:
        roles.add(Membership.Role.CUSTODIAN)
    return {"nav_roles": frozenset(roles)}
