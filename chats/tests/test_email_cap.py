"""Nobody can flood an inbox through the platform: at most EMAIL_RECIPIENT_LIMIT emails per inbox
and period, the rest folded into one digest that beat sends once the period has room.

The fast tests read the rows `services` wrote and what `chats.digest` builds; the slow ones read
a real SMTP server's inbox, filled by a real worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

import testing
from accounts.addresses import canonical
from chats import services
from chats.emails import digest
from chats.models import Chat, Notification, Role
from chats.tasks import build_email_digests_task, send_admin_notification_task
from core import outbox
from core.outbox import OutboxStatus

User = get_user_model()


def flood(owner: User, chat: Chat, prefix: str, n: int, make_user: Callable[..., User]) -> None:
    """The owner adds n new users: each add emails the chat's other admins."""
    for i in range(n):
        user = make_user(f"{prefix}{i}")
        services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=user.pk)


def statuses(recipient: User) -> list[str]:
    rows = Notification.objects.filter(recipient_id=recipient.pk, event="member_added")
    return list(rows.order_by("id").values_list("status", flat=True))


@pytest.fixture
def admin_of(make_user) -> Callable[..., tuple[User, Chat]]:
    """A chat owned by a new user with `admin` as its admin: the owner's adds email `admin`."""

    def make(admin: User, title: str = "Flood") -> tuple[User, Chat]:
        owner = make_user()
        chat = services.create_chat(title=title, creator_id=owner.pk)
        services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)
        return owner, chat

    return make


# --- the cap, at record time ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "adds", "expected"),
    [
        ("3/hour", 4, ["pending"] * 3 + ["held"]),  # up to the cap queued, the next one held
        ("", 30, ["pending"] * 30),  # an empty limit means no cap
    ],
)
@pytest.mark.django_db
def test_emails_up_to_the_cap_are_queued_and_the_rest_held(
    settings, make_user, admin_of, limit: str, adds: int, expected: list[str]
):
    settings.EMAIL_RECIPIENT_LIMIT = limit
    adam = make_user("adam")
    owner, chat = admin_of(adam)

    flood(owner, chat, "a", adds, make_user)

    assert statuses(adam) == expected


@pytest.mark.django_db
def test_the_cap_counts_one_inbox_across_chats_and_spares_other_recipients(
    settings, make_user, admin_of
):
    settings.EMAIL_RECIPIENT_LIMIT = "4/hour"
    adam, bea = make_user("adam"), make_user("bea")
    owner_1, chat_1 = admin_of(adam, "One")
    owner_2, chat_2 = admin_of(adam, "Two")
    services.add_member(chat_id=chat_2.pk, actor_id=owner_2.pk, user_id=bea.pk, role=Role.ADMIN)

    flood(owner_1, chat_1, "a", 3, make_user)
    flood(owner_2, chat_2, "b", 3, make_user)

    # adam: bea's join, then 3 + 3 adds; his fifth email onwards is held
    assert statuses(adam) == ["pending"] * 4 + ["held"] * 3
    assert statuses(bea) == ["pending"] * 3


@pytest.mark.django_db
def test_accounts_sharing_one_mailbox_share_its_cap(settings, make_user, admin_of):
    """Accounts whose addresses reach one mailbox, however spelt (case, a +tag), are one inbox:
    the cap counts accounts.addresses.canonical, not the address as typed."""
    settings.EMAIL_RECIPIENT_LIMIT = "2/hour"
    twins = [make_user("twin_a", email="victim@example.com"),
             make_user("twin_b", email="VICTIM+b@Example.com")]  # fmt: skip
    owner, chat = admin_of(twins[0])
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=twins[1].pk, role=Role.ADMIN)

    flood(owner, chat, "a", 2, make_user)

    # twin_b's join (to twin_a), then each add to both twins: one inbox, 2 emails, 3 held
    rows = Notification.objects.filter(event="member_added").order_by("id")
    assert list(rows.values_list("status", flat=True)) == ["pending"] * 2 + ["held"] * 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_changes_in_many_chats_still_send_one_inbox_only_the_cap(
    settings, make_user, admin_of
):
    """Ten requests at once, each in its own chat (no chat lock in common) and connection."""
    settings.EMAIL_RECIPIENT_LIMIT = "3/hour"
    adam = make_user("adam")
    chats = [admin_of(adam, f"Chat {i}") for i in range(10)]
    newcomers = [make_user() for _ in chats]
    start = threading.Barrier(len(chats))

    def add(i: int) -> None:
        (owner, chat), user = chats[i], newcomers[i]
        start.wait()
        try:
            services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=user.pk)
        finally:
            connection.close()

    with ThreadPoolExecutor(len(chats)) as pool:
        list(pool.map(add, range(len(chats))))

    assert sorted(statuses(adam)) == ["held"] * 7 + ["pending"] * 3


@pytest.mark.django_db
def test_a_held_email_is_never_sent_alone_nor_requeued_by_the_sweeper(
    settings, make_user, admin_of
):
    settings.EMAIL_RECIPIENT_LIMIT = "1/hour"
    settings.OUTBOX_STALE_SECONDS = 0
    adam = make_user("adam")
    owner, chat = admin_of(adam)
    flood(owner, chat, "a", 2, make_user)
    held = Notification.objects.get(status=Notification.HELD)

    assert held.pk not in outbox.stale_ids(Notification)
    assert outbox.claim(Notification, held.pk, lease_seconds=10) is None
    assert send_admin_notification_task.apply(args=[held.pk]).get() == "skipped"
    assert Notification.objects.get(pk=held.pk).status == Notification.HELD


@pytest.mark.django_db
def test_the_admin_shows_held_emails_and_the_digest_that_carried_them(
    settings, make_user, admin_of, admin_client
):
    settings.EMAIL_RECIPIENT_LIMIT = "1/hour"
    adam = make_user("adam")
    owner, chat = admin_of(adam)
    flood(owner, chat, "a", 3, make_user)
    page = admin_client.get("/admin/chats/notification/?status__exact=held").content.decode()
    assert page.count("Held for a digest") >= 2  # the filter, and each held row
    settings.EMAIL_RECIPIENT_LIMIT = "2/hour"
    [pk] = digest.build_digests()

    page = admin_client.get("/admin/chats/notification/?status__exact=folded").content.decode()
    assert "Folded into a digest" in page and f'<td class="field-digest_id">{pk}</td>' in page


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("EMAIL_RECIPIENT_LIMIT", "banana"),
        ("EMAIL_RECIPIENT_LIMIT", "0/hour"),
        ("AUTH_RATE_LIMIT", "0/min"),
        ("WRITE_RATE_LIMIT", "60 per minute"),
    ],
)
def test_a_malformed_limit_stops_django_at_start_naming_the_variable(name: str, value: str):
    """Not a 500 on every membership change later: the process does not start."""
    result = testing.manage_check(**{name: value})
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith(f"django.core.exceptions.ImproperlyConfigured: {name} must look like")


@pytest.mark.django_db(transaction=True)
def test_two_adds_each_emailing_the_others_newcomer_both_succeed(settings, make_user, admin_of):
    """At once, bob joins ann's chat and ann joins bob's: each change emails the user the other
    adds. Row locks on the recipients deadlocked with the membership inserts' key-share locks
    (PostgreSQL aborted one add: a 500); a lock per inbox cannot."""
    settings.EMAIL_RECIPIENT_LIMIT = "20/hour"

    def add(start: threading.Barrier, owner: User, chat: Chat, user: User) -> None:
        start.wait()
        try:
            services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=user.pk)
        finally:
            connection.close()

    for round_ in range(5):  # the race is not certain each time
        ann, bob = make_user(f"ann{round_}"), make_user(f"bob{round_}")
        start = threading.Barrier(2)
        with ThreadPoolExecutor(2) as pool:
            adds = [
                pool.submit(add, start, *admin_of(ann, "Ann's"), bob),
                pool.submit(add, start, *admin_of(bob, "Bob's"), ann),
            ]
            for done in adds:
                done.result()  # re-raises a deadlock

        assert statuses(ann) == statuses(bob) == ["pending"]


# --- the digest ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_digest_waits_for_room_then_folds_every_held_email_into_one(
    settings, make_user, admin_of
):
    settings.EMAIL_RECIPIENT_LIMIT = "2/hour"
    adam = make_user("adam")
    owner, chat = admin_of(adam)
    flood(owner, chat, "a", 30, make_user)

    assert digest.build_digests() == []  # the window is full: nothing yet
    settings.EMAIL_RECIPIENT_LIMIT = "3/hour"  # room for exactly one more email: the digest
    [pk] = digest.build_digests()

    made = Notification.objects.get(pk=pk)
    assert (made.event, made.status, made.recipient_email) == ("digest", "pending", adam.email)
    assert made.subject == "28 more chat notifications in one email"
    assert sorted(statuses(adam)) == ["folded"] * 28 + ["pending"] * 2
    assert made.folded.count() == 28
    listed = [f"[Flood] a{i} joined the chat" for i in range(2, 2 + digest.LISTED)]
    assert all(line in made.body_text for line in listed)
    assert "a22 joined" not in made.body_text
    assert "…and 8 more." in made.body_text and "…and 8 more." in made.body_html
    assert f"{settings.PUBLIC_BASE_URL}/settings/email/" in made.body_text
    assert digest.counted_since(canonical(adam.email), made.created_at) == 1  # counts as one
    assert digest.build_digests() == []  # nothing left to fold


# --- one line of subject -------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db
def test_a_newline_in_a_chat_title_no_longer_breaks_its_emails(settings, smtp, make_user):
    settings.EMAIL_RECIPIENT_LIMIT = ""
    smtp.send_here(settings)
    owner, adam, nina = make_user("olga"), make_user("adam"), make_user("nina")
    chat = services.create_chat(title="Ops", creator_id=owner.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=adam.pk, role=Role.ADMIN)
    Chat.objects.filter(pk=chat.pk).update(title="Ops\r\nBcc: everyone@example.com")  # older data
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=nina.pk)
    row = Notification.objects.get(subject__contains="nina")
    # and a row recorded before this fix, with the newline in its subject
    old = Notification.objects.create(
        event="member_added", chat_id=chat.pk, recipient_id=adam.pk, recipient_email=adam.email,
        subject="[Ops\n] old joined the chat", body_text="b", body_html="<p>b</p>",
    )  # fmt: skip

    assert send_admin_notification_task.apply(args=[row.pk]).get() == "sent"
    assert send_admin_notification_task.apply(args=[old.pk]).get() == "sent"

    subjects = sorted(m.subject for m in smtp.inbox.messages())
    assert subjects == [
        "[Ops Bcc: everyone@example.com] nina joined the chat",
        "[Ops ] old joined the chat",
    ]
    assert all(m.envelope_to == ["adam@example.com"] for m in smtp.inbox.messages())


@pytest.mark.django_db
def test_a_subject_drops_exactly_what_the_title_validator_refuses(settings, make_user):
    """One definition of unsafe (core.validators): an invisible BOM in an older title no longer
    reaches the inbox, and an emoji's zero-width joiner (which titles may hold) stays."""
    settings.EMAIL_RECIPIENT_LIMIT = ""
    owner, adam, nina = make_user("olga"), make_user("adam"), make_user("nina")
    chat = services.create_chat(title="Ops", creator_id=owner.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=adam.pk, role=Role.ADMIN)
    Chat.objects.filter(pk=chat.pk).update(title="Ops\ufeff\u202eDev \U0001f469\u200d\U0001f4bb")
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=nina.pk)

    [row] = Notification.objects.filter(recipient_id=adam.pk, subject__contains="nina")
    assert row.subject == "[Ops Dev \U0001f469\u200d\U0001f4bb] nina joined the chat"


# --- end to end: a flood through a real worker into a real inbox ---------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_flood_of_30_adds_sends_the_cap_then_one_digest_naming_the_rest(
    settings, smtp, capped_worker, make_user, client_for
):
    settings.EMAIL_RECIPIENT_LIMIT = "3/minute"
    adam = make_user("adam")
    owner = make_user("mallory")
    chat = services.create_chat(title="Flood", creator_id=owner.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=adam.pk, role=Role.ADMIN)
    api = client_for(owner)
    for i in range(30):
        user = make_user(f"victim{i:02}")
        response = api.post(f"/api/chats/{chat.pk}/members/", {"user_id": user.pk}, format="json")
        assert response.status_code == 201, response.content

    def inbox() -> list:
        return [m for m in smtp.inbox.messages() if m.envelope_to == ["adam@example.com"]]

    testing.wait_until(lambda: len(inbox()) == 3, 30, "the first 3 emails")
    assert build_email_digests_task.apply().get() == 0  # beat, while the minute is full
    testing.wait_until(  # beat, every 2 s, through the worker: the digest once the minute allows
        lambda: build_email_digests_task.delay() and len(inbox()) == 4, 90, "the digest", interval=2
    )

    mails = inbox()
    assert sorted(m.subject for m in mails if "joined" in m.subject) == [
        f"[Flood] victim{i:02} joined the chat" for i in range(3)
    ]
    [mail] = [m for m in mails if "in one email" in m.subject]
    assert mail.subject == "27 more chat notifications in one email"
    for i in range(3, 3 + digest.LISTED):
        assert f"[Flood] victim{i:02} joined the chat" in mail.text
        assert f"victim{i:02} joined" in mail.html
    assert "victim23" not in mail.text
    assert "…and 7 more." in mail.text and "…and 7 more." in mail.html
    assert f"{settings.PUBLIC_BASE_URL}/settings/email/" in mail.text
    assert "at most 3 emails per minute" in mail.text
    # Nothing lost: every held email is folded into the digest that was sent.
    made = Notification.objects.get(event="digest")
    assert made.status == OutboxStatus.SENT
    assert mail.message_id == f"<notification-{made.pk}@chatplatform.local>"
    assert sorted(statuses(adam)) == ["folded"] * 27 + ["sent"] * 3
    assert made.folded.count() == 27
    assert build_email_digests_task.apply().get() == 0  # nothing left for the next beat
