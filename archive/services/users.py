"""Users and roles, managed by custodians from the interface: invite someone into a collection with a
role, change their roles, deactivate them (their API tokens and sessions end at once), reset their
second factor (services.accounts). Every step audited; audit details carry ids, never names."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.contrib.sessions.models import Session
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from knox.models import AuthToken

from ..models import Collection, Membership
from .audit import audit_log
from .base import write


class UserChangeRefused(ValueError):
    pass


def is_custodian_of(user: User, collection: Collection) -> bool:
    if not (user.is_authenticated and user.is_active):
        return False
    return (
        user.is_superuser
        or Membership.objects.filter(user=user, collection=collection, role=Membership.Role.CUSTODIAN).exists()
    )


def custodian_collections(user: User) -> list[Collection]:
    if user.is_superuser:
        return list(Collection.objects.all())
    return list(Collection.objects.filter(memberships__user=user, memberships__role=Membership.Role.CUSTODIAN))


@write
def user_invite(*, actor: User, collection: Collection, username: str, email: str, role: str) -> tuple[User, str, str]:
    """A new account with no usable password, a member of `collection` with `role`. Returns the user
    and the (uid, token) of a one-time link that lets them set their password (the custodian passes
    it on; it stops working once the password is set)."""
    if not is_custodian_of(actor, collection):
        raise UserChangeRefused("Only the collection's custodians invite people into it.")
    if role not in Membership.Role.values:
        raise UserChangeRefused(f"role: one of {', '.join(Membership.Role.values)}.")
    model = get_user_model()
    username = username.strip()
    if not username or model.objects.filter(username=username).exists():
        raise UserChangeRefused("That username is empty or taken.")
    user = model(username=username, email=email.strip())
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    Membership.objects.create(user=user, collection=collection, role=role)
    audit_log(
        actor=actor,
        action="user_invite",
        target_type="collection",
        target_id=str(collection.public_id),
        detail={"user": user.pk, "role": role},
    )
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return user, uid, default_token_generator.make_token(user)


@write
def membership_set(*, actor: User, user: User, collection: Collection, role: str, present: bool) -> None:
    """Give `user` a role in the collection, or take it away."""
    if not is_custodian_of(actor, collection):
        raise UserChangeRefused("Only the collection's custodians change its roles.")
    if role not in Membership.Role.values:
        raise UserChangeRefused(f"role: one of {', '.join(Membership.Role.values)}.")
    if user.pk == actor.pk and role == Membership.Role.CUSTODIAN and not present:
        raise UserChangeRefused("A custodian cannot take their own custodian role away.")
    if present:
        _row, changed = Membership.objects.get_or_create(user=user, collection=collection, role=role)
    else:
        changed = bool(Membership.objects.filter(user=user, collection=collection, role=role).delete()[0])
    if changed:
        audit_log(
            actor=actor,
            action="membership_add" if present else "membership_remove",
            target_type="collection",
            target_id=str(collection.public_id),
            detail={"user": user.pk, "role": role},
        )


@write
def user_deactivate(*, actor: User, user: User) -> int:
    """The account can no longer sign in; its API tokens and sessions end now. Returns how many
    sessions ended."""
    if user.pk == actor.pk:
        raise UserChangeRefused("You cannot deactivate yourself.")
    user.is_active = False
    user.save(update_fields=["is_active"])
    tokens, _ = AuthToken.objects.filter(user=user).delete()
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
            ended += 1
    audit_log(
        actor=actor,
        action="user_deactivate",
        target_type="user",
        target_id=str(user.pk),
        detail={"tokens_revoked": tokens, "sessions_ended": ended},
    )
    return ended


@write
def user_reactivate(*, actor: User, user: User) -> None:
    user.is_active = True
    user.save(update_fields=["is_active"])
    audit_log(actor=actor, action="user_reactivate", target_type="user", target_id=str(user.pk))
