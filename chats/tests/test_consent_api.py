"""Being added to a chat takes consent, and only confirmed addresses get email (docs/consent.md).

The fast tests read the API's answers and the rows it wrote; the slow ones drive the flood
attempts a stranger could make through a real worker into a real SMTP inbox, and check the
inbox holds at most what its owner consented to.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

import testing
from accounts.models import AddPolicy
from chats import services
from chats.models import Invitation, Membership, Notification, Role
from core.errors import Forbidden

User = get_user_model()
pytestmark = pytest.mark.django_db


def add(api, chat_id: int, user_id: int, role: str = "member"):
    return api.post(
        f"/api/chats/{chat_id}/members/", {"user_id": user_id, "role": role}, format="json"
    )


def emails_to(user: User, event: str | None = None) -> list[Notification]:
    rows = Notification.objects.filter(recipient_id=user.pk)
    return list(rows.filter(event=event) if event else rows)


@pytest.fixture
def owner_api(make_user, client_for):
    owner = make_user("olga")
    chat = services.create_chat(title="Ops", creator_id=owner.pk)
    return owner, chat, client_for(owner)


# --- who may add whom ----------------------------------------------------------------------------


def test_everyone_is_added_at_once_and_the_other_admins_are_told(owner_api, make_user):
    owner, chat, api = owner_api
    adam = make_user("adam")
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=adam.pk, role=Role.ADMIN)
    open_door = make_user("nina", who_can_add=AddPolicy.EVERYONE)

    response = add(api, chat.pk, open_door.pk)

    assert response.status_code == 201, response.content
    assert response.json()["username"] == "nina"
    assert [n.subject for n in emails_to(adam)] == ["[Ops] nina joined the chat"]


def test_a_stranger_is_invited_and_nobody_is_emailed_until_they_accept(
    owner_api, make_user, client_for
):
    owner, chat, api = owner_api
    adam = make_user("adam")
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=adam.pk, role=Role.ADMIN)
    stranger = make_user("sam", who_can_add=AddPolicy.CONTACTS)

    response = add(api, chat.pk, stranger.pk, role="admin")

    assert response.status_code == 202, response.content
    assert response.json()["status"] == "invited"
    assert not Membership.objects.filter(chat=chat, user=stranger).exists()
    assert emails_to(adam) == []  # no join yet: the admins hear nothing
    [invitation_email] = emails_to(stranger)
    assert invitation_email.event == "invitation"
    assert invitation_email.subject == "[Ops] olga invited you to the chat"
    assert "/invitations/" in invitation_email.body_text
    assert emails_to(stranger, "member_added") == []  # not an admin of anything before accepting

    sam = client_for(stranger)
    [listed] = sam.get("/api/invitations/").json()["results"]
    assert (listed["chat_title"], listed["role"], listed["invited_by"]) == ("Ops", "admin", "olga")
    accepted = sam.post(f"/api/invitations/{listed['id']}/accept/")

    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["role"] == "admin"
    assert Membership.objects.get(chat=chat, user=stranger).role == Role.ADMIN
    # Now the admins are told, the inviter too (the newcomer is the one who acted).
    assert [n.subject for n in emails_to(adam)] == ["[Ops] sam joined the chat"]
    assert [n.subject for n in emails_to(owner)] == ["[Ops] sam joined the chat"]
    assert sam.get("/api/invitations/").json()["results"] == []


def test_people_who_share_a_chat_add_each_other_under_the_default(owner_api, make_user):
    owner, chat, api = owner_api
    friend = make_user("fred", who_can_add=AddPolicy.CONTACTS)
    other = services.create_chat(title="Lunch", creator_id=friend.pk)
    services.add_member(chat_id=other.pk, actor_id=friend.pk, user_id=owner.pk)

    assert add(api, chat.pk, friend.pk).status_code == 201


def test_nobody_means_an_invitation_even_from_a_contact(owner_api, make_user):
    owner, chat, api = owner_api
    hermit = make_user("hermit", who_can_add=AddPolicy.NOBODY)
    other = services.create_chat(title="Lunch", creator_id=hermit.pk)
    services.add_member(chat_id=other.pk, actor_id=hermit.pk, user_id=owner.pk)

    assert add(api, chat.pk, hermit.pk).status_code == 202
    assert Invitation.objects.filter(chat=chat, user=hermit, status="pending").count() == 1


def test_the_default_for_a_new_account_asks_for_an_invitation(owner_api, client):
    _, chat, api = owner_api
    response = client.post(
        "/api/auth/register/",
        {"username": "newbie", "email": "newbie@example.com", "password": "a-long-pass-phrase"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content

    assert add(api, chat.pk, response.json()["id"]).status_code == 202


def test_an_unknown_or_deactivated_id_gets_the_same_answer_as_an_invitation(owner_api, make_user):
    _, chat, api = owner_api
    stranger = make_user("sam", who_can_add=AddPolicy.CONTACTS)
    gone = make_user("gone", who_can_add=AddPolicy.EVERYONE, is_active=False)
    unknown = User.objects.order_by("-pk").first().pk + 1000

    answers = {uid: add(api, chat.pk, uid) for uid in (stranger.pk, gone.pk, unknown)}

    assert {r.status_code for r in answers.values()} == {202}
    bodies = [{**r.json(), "user_id": None} for r in answers.values()]
    assert bodies[0] == bodies[1] == bodies[2]
    assert list(Invitation.objects.values_list("user_id", flat=True)) == [stranger.pk]
    assert Notification.objects.filter(recipient_id__in=[gone.pk, unknown]).count() == 0


def test_asking_again_invites_once_and_a_member_is_a_conflict(owner_api, make_user):
    owner, chat, api = owner_api
    stranger = make_user("sam", who_can_add=AddPolicy.CONTACTS)
    member = make_user("mia")
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=member.pk)

    assert [add(api, chat.pk, stranger.pk).status_code for _ in range(3)] == [202] * 3
    assert Invitation.objects.filter(user=stranger).count() == 1
    assert len(emails_to(stranger, "invitation")) == 1
    conflict = add(api, chat.pk, member.pk)
    assert conflict.status_code == 409
    assert "user_id" in conflict.json()


def test_only_the_invitee_answers_and_a_declined_invitation_stays_declined(
    owner_api, make_user, client_for
):
    _, chat, api = owner_api
    stranger = make_user("sam", who_can_add=AddPolicy.CONTACTS)
    add(api, chat.pk, stranger.pk)
    invitation = Invitation.objects.get(user=stranger)

    assert api.post(f"/api/invitations/{invitation.pk}/accept/").status_code == 404  # the owner
    sam = client_for(stranger)
    assert sam.post(f"/api/invitations/{invitation.pk}/decline/").status_code == 204
    assert sam.post(f"/api/invitations/{invitation.pk}/decline/").status_code == 204  # again
    late = sam.post(f"/api/invitations/{invitation.pk}/accept/")
    assert late.status_code == 409 and "invitation_id" in late.json()
    assert not Membership.objects.filter(chat=chat, user=stranger).exists()
    assert Notification.objects.filter(event="member_added").count() == 0


def test_invitations_per_inviter_are_limited(owner_api, make_user, settings):
    settings.INVITATION_LIMIT = "2/hour"
    _, chat, api = owner_api
    strangers = [make_user(who_can_add=AddPolicy.CONTACTS) for _ in range(3)]

    answers = [add(api, chat.pk, s.pk) for s in strangers]

    assert [r.status_code for r in answers] == [202, 202, 429]
    assert answers[2]["Retry-After"] == "3600"
    assert "2/hour" in answers[2].json()["user_id"][0]
    assert Invitation.objects.count() == 2


def test_the_direct_service_refuses_what_the_setting_does_not_allow(owner_api, make_user):
    owner, chat, _ = owner_api
    stranger = make_user("sam", who_can_add=AddPolicy.CONTACTS)
    with pytest.raises(Forbidden):
        services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=stranger.pk)


def test_plus_tag_spellings_of_one_mailbox_share_its_cap(owner_api, make_user, settings):
    settings.EMAIL_RECIPIENT_LIMIT = "3/hour"
    owner, chat, _ = owner_api
    spellings = ["vic@example.com", "vic+1@example.com", "Vic+news@EXAMPLE.com"]
    for n, address in enumerate(spellings):
        admin = make_user(f"vic{n}", email=address)
        services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)
    for _ in range(3):
        services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=make_user().pk)

    rows = Notification.objects.filter(recipient_key="vic@example.com")
    assert rows.count() == 1 + 2 + 3 * 3  # each join told to every admin already there
    assert rows.exclude(status="held").count() == 3


# --- the account's settings ----------------------------------------------------------------------


def test_the_account_shows_and_changes_what_the_user_consented_to(make_user, client_for):
    nina = make_user("nina", confirmed=False, who_can_add=AddPolicy.CONTACTS)
    api = client_for(nina)

    assert api.get("/api/account/").json() == {
        "username": "nina",
        "email": "nina@example.com",
        "email_confirmed": False,
        "who_can_add": "contacts",
        "email_off": False,
    }
    changed = api.patch("/api/account/", {"who_can_add": "nobody"}, format="json")
    assert changed.status_code == 200 and changed.json()["who_can_add"] == "nobody"
    bad = api.patch("/api/account/", {"who_can_add": "strangers"}, format="json")
    assert bad.status_code == 400 and "who_can_add" in bad.json()
    ignored = api.patch("/api/account/", {"email_confirmed": True}, format="json")
    assert ignored.json()["email_confirmed"] is False  # read-only


# --- confirmation --------------------------------------------------------------------------------


def register(client: Client, username: str, email: str):
    return client.post(
        "/api/auth/register/",
        {"username": username, "email": email, "password": "a-long-pass-phrase"},
        content_type="application/json",
    )


def confirm_path(row: Notification) -> str:
    """The path of the confirmation link in a confirmation email's text."""
    return urlsplit(re.search(r"https?://\S+/account/confirm/\S+/", row.body_text).group(0)).path


def test_registering_sends_one_confirmation_and_nothing_else_until_confirmed(
    client, make_user, settings
):
    assert register(client, "nina", "nina@example.com").status_code == 201
    nina = User.objects.get(username="nina")
    [row] = emails_to(nina)
    assert (row.event, row.status, row.recipient_key) == ("confirm_email", "pending", nina.email)
    # An admin not yet confirmed gets none of a chat's emails.
    owner = make_user("olga")
    chat = services.create_chat(title="Ops", creator_id=owner.pk)
    Membership.objects.create(chat=chat, user=nina, role=Role.ADMIN)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=make_user().pk)
    assert emails_to(nina, "member_added") == []

    path = confirm_path(row)
    assert "Confirm my address" in client.get(path).content.decode()  # a GET changes nothing
    assert emails_to(nina, "member_added") == []
    confirmed = client.post(path)
    assert confirmed.status_code == 200 and "Address confirmed" in confirmed.content.decode()

    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=make_user().pk)
    assert len(emails_to(nina, "member_added")) == 1


def test_a_confirmation_link_is_void_once_the_address_changed_or_expired(client, settings):
    register(client, "nina", "nina@example.com")
    nina = User.objects.get(username="nina")
    path = confirm_path(emails_to(nina)[0])
    User.objects.filter(pk=nina.pk).update(email="other@example.com")
    assert client.post(path).status_code == 400
    User.objects.filter(pk=nina.pk).update(email="nina@example.com")
    settings.EMAIL_CONFIRMATION_MAX_AGE = 0
    assert client.get(path).status_code == 400  # expired
    assert client.get("/account/confirm/forged/").status_code == 400


def test_registering_one_mailbox_many_times_sends_it_the_confirmation_limit(client, settings):
    """A stranger registering someone's address under new names and +tags."""
    settings.EMAIL_CONFIRMATION_LIMIT = "3/day"
    settings.REGISTER_RATE_LIMIT = ""
    spellings = [
        "Vic@Example.com",
        "vic+1@example.com",
        "VIC+news@EXAMPLE.COM",
        "vic+2@example.com",
    ]
    for n, address in enumerate(spellings * 2):
        assert register(client, f"fake{n}", address).status_code == 201

    rows = Notification.objects.filter(event="confirm_email")
    assert rows.count() == 3
    assert set(rows.values_list("recipient_key", flat=True)) == {"vic@example.com"}


def test_asking_for_a_new_link_is_limited_and_refused_once_confirmed(
    make_user, client_for, settings
):
    settings.EMAIL_CONFIRMATION_LIMIT = "2/day"
    nina = make_user("nina", confirmed=False)
    api = client_for(nina)

    assert [api.post("/api/account/confirmation/").status_code for _ in range(3)] == [202] * 3
    assert len(emails_to(nina, "confirm_email")) == 2  # the mailbox's limit; the answer alike
    done = client_for(make_user("olga")).post("/api/account/confirmation/")
    assert done.status_code == 409 and "email" in done.json()


# --- end to end: what a stranger can make the platform send ------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_strangers_flood_attempts_end_with_what_the_victim_consented_to(
    settings, smtp, capped_worker, make_user, client_for, client
):
    """Mallory registers Vic's address under +tags, adds those accounts and Vic's real one to
    her chats as admins, and floods the chats with joins: Vic's inbox gets one invitation and
    the confirmation limit, nothing else."""
    settings.EMAIL_CONFIRMATION_LIMIT = "2/day"
    settings.REGISTER_RATE_LIMIT = ""
    vic = make_user("vic", who_can_add=AddPolicy.CONTACTS)  # confirmed, the default setting
    mallory = make_user("mallory")
    api = client_for(mallory)
    chat = services.create_chat(title="Free prizes", creator_id=mallory.pk)
    fakes = []
    for n in range(4):
        assert register(client, f"vic-fake{n}", f"vic+{n}@example.com").status_code == 201
        fakes.append(User.objects.get(username=f"vic-fake{n}"))
    for target in [vic, *fakes]:
        assert add(api, chat.pk, target.pk, role="admin").status_code == 202
    for _ in range(10):  # joins that would each email every admin
        assert add(api, chat.pk, make_user().pk).status_code == 201

    def vic_inbox() -> list:
        return [m for m in smtp.inbox.messages() if m.envelope_to[0].startswith("vic")]

    testing.wait_until(lambda: len(vic_inbox()) >= 3, 30, "the confirmations and invitation")
    testing.wait_until(
        lambda: not Notification.objects.filter(status__in=["pending", "sending"]).exists(),
        30,
        "every queued email",
    )
    subjects = sorted(m.subject for m in vic_inbox())
    assert subjects == [
        "Confirm your email address",
        "Confirm your email address",
        "[Free prizes] mallory invited you to the chat",
    ]
    assert Membership.objects.filter(chat=chat, role=Role.ADMIN).count() == 0
