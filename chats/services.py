"""Writes: every change to chats goes through here, one transaction each.

Each service also records, in the same transaction, what must happen after it (emails to the
admins, live events) and queues the delivery tasks only once the transaction has committed.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from core.errors import Conflict, DomainError, Forbidden, NotFound, TooMany
from core.validators import validate_visible_text

from . import selectors
from .emails import personal
from .emails import recording as emails
from .emails.digest import parse_limit
from .live import recording as live
from .models import Chat, Invitation, Membership, MembershipEvent, Message, Notification, Role

User = get_user_model()


def _check_visible(value: str, field: str) -> str:
    """Titles and usernames reach emails and other people's screens: no control or bidi
    characters, whichever path (API, admin, a script) writes them."""
    try:
        validate_visible_text(value)
    except ValidationError as exc:
        raise DomainError(exc.messages[0], field=field) from None
    return value


def register_user(*, username: str, email: str, password: str) -> User:
    """Usernames are unique regardless of case, so "Alice" cannot impersonate "alice"."""
    _check_visible(username, "username")
    taken = Conflict("A user with that username already exists.", field="username")
    if User.objects.filter(username__iexact=username).exists():
        raise taken
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
            personal.record_confirmation(user)
            return user
    except IntegrityError:  # a concurrent registration won the race
        raise taken from None


def issue_token(*, user_id: int) -> str:
    """The user's API token, created on first login and the same one afterwards."""
    token, _ = Token.objects.get_or_create(user_id=user_id)
    return token.key


@transaction.atomic
def create_chat(*, title: str, creator_id: int) -> Chat:
    _check_visible(title, "title")
    chat = Chat.objects.create(title=title, created_by_id=creator_id)
    Membership.objects.create(chat=chat, user_id=creator_id, role=Role.OWNER)
    MembershipEvent.objects.create(chat_id=chat.pk, user_id=creator_id, kind="join")
    return chat


@transaction.atomic
def update_chat(*, chat_id: int, actor_id: int, title: str | None = None) -> Chat:
    """Owners and admins rename a chat; without a title (an empty PATCH) nothing changes."""
    selectors.require_admin(chat_id, actor_id)
    chat = Chat.objects.select_for_update().get(pk=chat_id)
    if title is not None:
        chat.title = _check_visible(title, "title")
        chat.save(update_fields=["title", "updated_at"])
    return chat


def delete_chat(*, chat_id: int, actor_id: int) -> None:
    """Only the owner deletes a chat; the other admins are told by email."""
    with transaction.atomic():
        membership = selectors.require_admin(chat_id, actor_id)
        if membership.role != Role.OWNER:
            raise Forbidden("Only the chat's owner may delete it.", field="chat_id")
        chat = Chat.objects.select_for_update().get(pk=chat_id)
        member_ids = list(chat.memberships.values_list("user_id", flat=True))
        # After-commit steps run in the order they are recorded: the members' live feeds end
        # first, within the request, then the emails are handed over.
        live.unsubscribe_after_commit([(chat_id, uid) for uid in member_ids])
        emails.record(
            Notification.Event.CHAT_DELETED, chat=chat, actor_id=actor_id, subject_user=None
        )
        MembershipEvent.objects.bulk_create(
            MembershipEvent(chat_id=chat_id, user_id=uid, kind="leave") for uid in member_ids
        )
        chat.delete()


def add_member(*, chat_id: int, actor_id: int, user_id: int, role: str = Role.MEMBER) -> Membership:
    """Add a user whose setting lets the actor add them (selectors.may_add_directly) and email
    every other admin about it, after commit. Anyone else is invited instead: add_or_invite."""
    _check_role(role)
    with transaction.atomic():
        selectors.require_admin(chat_id, actor_id)
        selectors.get_user(user_id)
        if not selectors.may_add_directly(actor_id, user_id):
            raise Forbidden("This user's setting asks for an invitation.", field="user_id")
        return _join(chat_id, user_id, role, actor_id)


def add_or_invite(
    *, chat_id: int, actor_id: int, user_id: int, role: str = Role.MEMBER
) -> Membership | None:
    """The API's add: the membership where the user's setting allows a direct add; otherwise
    None, having invited them. An unknown or deactivated id also gets None (and nothing
    happens), so the answer does not tell which ids are accounts."""
    _check_role(role)
    with transaction.atomic():
        selectors.require_admin(chat_id, actor_id)
        user = User.objects.filter(pk=user_id, is_active=True).first()
        if user is None:
            return None
        if selectors.get_membership(chat_id, user_id) is not None:
            raise Conflict("This user is already a member of the chat.", field="user_id")
        if selectors.may_add_directly(actor_id, user_id):
            return _join(chat_id, user_id, role, actor_id)
        _invite(chat_id, user, role, actor_id)
        return None


def _check_role(role: str) -> None:
    if role not in (Role.ADMIN, Role.MEMBER):
        raise DomainError("Role must be 'admin' or 'member'.", field="role")


def _join(chat_id: int, user_id: int, role: str, actor_id: int | None) -> Membership:
    """The membership, its join event and the other admins' emails, in the caller's transaction."""
    chat = Chat.objects.select_for_update().get(pk=chat_id)
    # Recorded before the insert, so the newcomer (even as an admin) is not told of their own
    # join; a conflict below rolls these rows back with everything else.
    emails.record(
        Notification.Event.MEMBER_ADDED, chat=chat, actor_id=actor_id, subject_user=user_id
    )
    try:
        with transaction.atomic():
            membership = Membership.objects.create(chat=chat, user_id=user_id, role=role)
    except IntegrityError:
        raise Conflict("This user is already a member of the chat.", field="user_id") from None
    MembershipEvent.objects.create(chat_id=chat_id, user_id=user_id, kind="join")
    return membership


def _invite(chat_id: int, user: User, role: str, actor_id: int) -> None:
    """A pending invitation (one per chat and user: asking again changes nothing) and its
    email, within the inviter's INVITATION_LIMIT."""
    pending = Invitation.objects.filter(
        chat_id=chat_id, user_id=user.pk, status=Invitation.Status.PENDING
    )
    if pending.exists():
        return
    limit = parse_limit(settings.INVITATION_LIMIT)
    if limit is not None:
        count, seconds = limit
        since = timezone.now() - timedelta(seconds=seconds)
        if (
            Invitation.objects.filter(invited_by_id=actor_id, created_at__gte=since).count()
            >= count
        ):
            raise TooMany(
                f"You may send {settings.INVITATION_LIMIT} invitations; try again later.",
                field="user_id",
                retry_after=seconds,
            )
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                chat_id=chat_id, user=user, role=role, invited_by_id=actor_id
            )
    except IntegrityError:  # a concurrent invitation won the race
        return
    personal.record_invitation(invitation)


def answer_invitation(*, invitation_id: int, user_id: int, accept: bool) -> Membership | None:
    """The invitee accepts (the membership, as a direct add would have made it) or declines
    (None). Answering twice the same way changes nothing; only the invitee may answer."""
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update().filter(pk=invitation_id, user_id=user_id).first()
        )
        if invitation is None:
            raise NotFound("Invitation not found.", field="invitation_id")
        if invitation.status != Invitation.Status.PENDING:
            accepted = invitation.status == Invitation.Status.ACCEPTED
            if accepted != accept:
                raise Conflict(f"This invitation was {invitation.status}.", field="invitation_id")
            return selectors.get_membership(invitation.chat_id, user_id) if accept else None
        invitation.status = Invitation.Status.ACCEPTED if accept else Invitation.Status.DECLINED
        invitation.answered_at = timezone.now()
        invitation.save(update_fields=["status", "answered_at"])
        if not accept:
            return None
        existing = selectors.get_membership(invitation.chat_id, user_id)
        if existing is not None:  # added meanwhile
            return existing
        # Every admin is told, the inviter too: the newcomer is the one who acted.
        return _join(invitation.chat_id, user_id, invitation.role, user_id)


def remove_member(*, chat_id: int, actor_id: int, user_id: int) -> None:
    """Admins remove others; anyone may leave. The owner cannot leave: delete the chat instead."""
    with transaction.atomic():
        if actor_id != user_id:
            selectors.require_admin(chat_id, actor_id)
        chat = Chat.objects.select_for_update().filter(pk=chat_id).first()
        membership = selectors.get_membership(chat_id, user_id)
        if chat is None or membership is None:
            raise NotFound("This user is not a member of the chat.", field="user_id")
        if membership.role == Role.OWNER:
            raise Conflict("The owner cannot be removed; delete the chat instead.", field="user_id")
        membership.delete()
        MembershipEvent.objects.create(chat_id=chat_id, user_id=user_id, kind="leave")
        # Before the emails' hand-over: the member's live feed ends first, within the request.
        live.unsubscribe_after_commit([(chat_id, user_id)])
        emails.record(
            Notification.Event.MEMBER_REMOVED, chat=chat, actor_id=actor_id, subject_user=user_id
        )


def forget_user(*, user_id: int) -> None:
    """Before an account is deleted: each chat it owns passes to its longest-standing admin (else
    member), so a chat always keeps an owner; a chat left with nobody goes. Every membership
    the account had is logged as a leave, so the statistics see it."""
    with transaction.atomic():
        memberships = list(Membership.objects.select_for_update().filter(user_id=user_id))
        for owned in (m for m in memberships if m.role == Role.OWNER):
            heir = (
                Membership.objects.filter(chat_id=owned.chat_id)
                .exclude(user_id=user_id)
                .order_by("role", "joined_at", "id")  # "admin" sorts before "member"
                .first()
            )
            if heir is None:
                Chat.objects.filter(pk=owned.chat_id).delete()
                continue
            owned.role = Role.MEMBER  # at most one owner: step down before the heir steps up
            owned.save(update_fields=["role"])
            heir.role = Role.OWNER
            heir.save(update_fields=["role"])
        MembershipEvent.objects.bulk_create(
            MembershipEvent(chat_id=m.chat_id, user_id=user_id, kind="leave") for m in memberships
        )
        # The deleted account's open pages stop receiving its chats once the deletion commits:
        # one Centrifugo call for all of them, not one per chat in the deleting request.
        live.unsubscribe_after_commit([(m.chat_id, user_id) for m in memberships])


def _check_text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise DomainError("Message text must not be empty.", field="text")
    if len(text) > settings.MESSAGE_MAX_LENGTH:
        raise DomainError(
            f"Message text must be at most {settings.MESSAGE_MAX_LENGTH} characters.", field="text"
        )
    return text


def post_message(*, chat_id: int, author_id: int, text: str, author: User | None = None) -> Message:
    """A member's new message and its live event. Forbidden for anyone else (the API answers
    that 404, as for a chat it cannot see). `author`, the author's account when the caller has
    it at hand (the API: the request's user), spares reading it again for the message's shape:
    this is the path of every message."""
    text = _check_text(text)
    known = author is not None and author.pk == author_id
    by = {"author": author} if known else {"author_id": author_id}
    with transaction.atomic():
        if not selectors.is_member(chat_id, author_id):
            raise Forbidden("Only members of the chat may post in it.", field="chat_id")
        message = Message.objects.create(chat_id=chat_id, text=text, **by)
        live.record_message_event("message_created", message)
    return message


def _own_message(chat_id: int, message_id: int, actor_id: int) -> Message:
    message = (
        Message.objects.select_for_update()
        .filter(pk=message_id, chat_id=chat_id, deleted_at__isnull=True)
        .first()
    )
    if message is None or selectors.get_membership(chat_id, actor_id) is None:
        raise NotFound("Message not found.", field="message_id")
    if message.author_id != actor_id:
        raise Forbidden("Only the author may change a message.", field="message_id")
    return message


def edit_message(
    *, chat_id: int, message_id: int, actor_id: int, text: str | None = None
) -> Message:
    """The author edits a message; without a text (an empty PATCH) nothing changes."""
    if text is None:
        with transaction.atomic():
            return _own_message(chat_id, message_id, actor_id)
    text = _check_text(text)
    with transaction.atomic():
        message = _own_message(chat_id, message_id, actor_id)
        message.text = text
        message.edited_at = timezone.now()
        message.save(update_fields=["text", "edited_at"])
        live.record_message_event("message_edited", message)
    return message


def delete_message(*, chat_id: int, message_id: int, actor_id: int) -> None:
    """Soft delete: the row stays for statistics; readers no longer see it."""
    with transaction.atomic():
        message = _own_message(chat_id, message_id, actor_id)
        message.deleted_at = timezone.now()
        message.save(update_fields=["deleted_at"])
        live.record_message_event("message_deleted", message)
