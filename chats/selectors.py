"""Reads: every query the API, the services and the tasks need, in one place."""

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from accounts import profiles
from accounts.models import AddPolicy
from core.errors import DomainError, Forbidden, NotFound

from .models import Chat, Invitation, Membership, Message, Role

User = get_user_model()
ADMIN_ROLES = (Role.OWNER, Role.ADMIN)


def chats_for_user(user_id: int) -> QuerySet[Chat]:
    return Chat.objects.filter(memberships__user_id=user_id).order_by("id")


def get_membership(chat_id: int, user_id: int) -> Membership | None:
    return Membership.objects.filter(chat_id=chat_id, user_id=user_id).first()


def is_member(chat_id: int, user_id: int) -> bool:
    """Whether the user belongs to the chat: an EXISTS, the cheapest check, on the path of
    every message."""
    return Membership.objects.filter(chat_id=chat_id, user_id=user_id).exists()


def chat_for_member(chat_id: int, user_id: int) -> Chat:
    """The chat if the user is a member; 404 otherwise, so outsiders cannot probe chat ids."""
    chat = Chat.objects.filter(pk=chat_id, memberships__user_id=user_id).first()
    if chat is None:
        raise NotFound("Chat not found.", field="chat_id")
    return chat


def require_member(chat_id: int, user_id: int) -> None:
    """404 unless the user is a member (as `chat_for_member`), for a view that needs no chat."""
    if not is_member(chat_id, user_id):
        raise NotFound("Chat not found.", field="chat_id")


def require_admin(chat_id: int, user_id: int) -> Membership:
    """The caller's membership if they own or administer the chat."""
    membership = get_membership(chat_id, user_id)
    if membership is None:
        raise NotFound("Chat not found.", field="chat_id")
    if membership.role not in ADMIN_ROLES:
        raise Forbidden("Only the chat's owner or admins may do this.", field="chat_id")
    return membership


def members_of(chat_id: int) -> QuerySet[Membership]:
    return Membership.objects.filter(chat_id=chat_id).select_related("user").order_by("id")


def admins_to_notify(chat_id: int, exclude_user_id: int | None) -> list[Membership]:
    """Owners and admins who want membership emails, except whoever made the change: each
    active, with a confirmed address and email on (accounts.profiles.receives_email)."""
    qs = (
        Membership.objects.filter(chat_id=chat_id, role__in=ADMIN_ROLES, email_notifications=True)
        .filter(profiles.receives_email("user__"))
        .select_related("user")
        .order_by("id")
    )
    if exclude_user_id is not None:
        qs = qs.exclude(user_id=exclude_user_id)
    return list(qs)


def admin_memberships_of(user_id: int) -> QuerySet[Membership]:
    """The chats whose membership emails the user gets (or turned off): where they are an admin."""
    return (
        Membership.objects.filter(user_id=user_id, role__in=ADMIN_ROLES)
        .select_related("chat")
        .order_by("chat__title", "chat_id")
    )


def messages_of(chat_id: int) -> QuerySet[Message]:
    """A chat's messages as the API lists them: of the author, only the name its shape shows
    (chats.shapes), not the whole account row for each message."""
    return (
        Message.objects.filter(chat_id=chat_id, deleted_at__isnull=True)
        .select_related("author")
        .only("chat", "author__username", "text", "created_at", "edited_at", "deleted_at")
        .order_by("-created_at", "-id")
    )


def get_user(user_id: int, field: str = "user_id") -> User:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise DomainError(f"User {user_id} does not exist.", field=field)
    return user


def shares_a_chat(user_id: int, other_id: int) -> bool:
    """Whether the two are members of one chat (the `contacts` add policy)."""
    return Membership.objects.filter(user_id=user_id, chat__memberships__user_id=other_id).exists()


def may_add_directly(actor_id: int, user_id: int) -> bool:
    """Whether the user's setting lets `actor_id` add them without asking (accounts.AddPolicy)."""
    policy = profiles.policy_of(user_id)
    if policy == AddPolicy.EVERYONE:
        return True
    return policy == AddPolicy.CONTACTS and shares_a_chat(user_id, actor_id)


def pending_invitations_of(user_id: int) -> QuerySet[Invitation]:
    return (
        Invitation.objects.filter(user_id=user_id, status=Invitation.Status.PENDING)
        .select_related("chat", "invited_by")
        .order_by("id")
    )
