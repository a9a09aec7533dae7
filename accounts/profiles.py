"""Reading and changing what a user consented to; a user without a Profile has the defaults."""

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db.models import F, Q
from django.utils import timezone

from .models import DEFAULT_ADD_POLICY, Profile

User = get_user_model()


def profile_of(user_id: int) -> Profile:
    """The user's profile, or an unsaved one with the defaults."""
    return Profile.objects.filter(user_id=user_id).select_related("user").first() or Profile(
        user=User.objects.get(pk=user_id)
    )


def update(user_id: int, **fields: object) -> Profile:
    """Set some of the profile's fields, creating it with the defaults for the rest."""
    profile, _ = Profile.objects.update_or_create(user_id=user_id, defaults=fields)
    return profile


def set_confirmed(user_id: int, email: str) -> Profile:
    """`email` is confirmed: the address email may go to while it stays the user's."""
    return update(user_id, confirmed_email=email, confirmed_at=timezone.now())


def may_email(prefix: str = "") -> Q:
    """Users (through `prefix`, e.g. "user__") who take email at all: active and not off.
    A confirmation email needs only this; every other email needs `receives_email` too."""
    return Q(**{f"{prefix}is_active": True}) & ~Q(**{f"{prefix}profile__email_off": True})


def receives_email(prefix: str = "") -> Q:
    """Users who take the platform's emails: active, email on, their address confirmed (a user
    without a profile has not confirmed: the join leaves it NULL, which matches nothing)."""
    return (
        may_email(prefix)
        & ~Q(**{f"{prefix}email": ""})
        & Q(**{f"{prefix}profile__confirmed_email": F(f"{prefix}email")})
    )


def policy_of(user_id: int) -> str:
    policy = Profile.objects.filter(user_id=user_id).values_list("who_can_add", flat=True).first()
    return policy or Profile._meta.get_field("who_can_add").default


def confirm_all(users: Iterable[User], who_can_add: str = DEFAULT_ADD_POLICY) -> None:
    """Profiles with each user's current address confirmed, for users made in bulk whose
    addresses are known good (the demo's people, a benchmark's): one INSERT."""
    now = timezone.now()
    rows = [
        Profile(user_id=u.pk, confirmed_email=u.email, confirmed_at=now, who_can_add=who_can_add)
        for u in users
    ]
    Profile.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["user"],
        update_fields=["confirmed_email", "confirmed_at", "who_can_add"],
    )
