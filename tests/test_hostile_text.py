"""What users type is data everywhere: the hostile corpus (testing.hostile) as chat titles,
usernames and messages, through the API, the admins' emails in a real SMTP inbox, and the pages
in headless Chromium (chat, live statistics, dashboards), where no dialog opens and no script
or element of theirs runs. The report, the CSV and the notebooks: metrics/tests and
notebooks/tests (test_hostile_*).
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model

from chats import services
from chats.models import Chat, Message, Notification, Role
from chats.tasks import send_admin_notification_task
from metrics import jobs
from monitoring.grafana import build
from testing.browser import screenshot
from testing.hostile import ACCEPTED, REFUSED_IN_NAMES

User = get_user_model()


class Elements(HTMLParser):
    """The tags and attribute names of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        self.attributes.update(name for name, _ in attrs)


def elements(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    return parser


# --- the API -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_string_is_stored_literally_or_refused_naming_its_field(make_user, client_for):
    api = client_for(make_user("olga"))
    for name, text in {**ACCEPTED, **REFUSED_IN_NAMES}.items():
        created = api.post("/api/chats/", {"title": text}, format="json")
        if name in REFUSED_IN_NAMES:
            assert created.status_code == 400 and "title" in created.json(), name
            continue
        assert created.status_code == 201, (name, created.content)
        chat_id = created.json()["id"]
        assert api.get(f"/api/chats/{chat_id}/").json()["title"] == text, name

        posted = api.post(f"/api/chats/{chat_id}/messages/", {"text": text}, format="json")
        assert posted.status_code == 201, (name, posted.content)
        assert Message.objects.get(pk=posted.json()["id"]).text == text

    chat_id = Chat.objects.first().pk
    for name, text in REFUSED_IN_NAMES.items():  # a message may hold a newline, never NUL
        posted = api.post(f"/api/chats/{chat_id}/messages/", {"text": text}, format="json")
        if "\x00" in text:
            assert posted.status_code == 400 and "text" in posted.json(), name
        else:
            assert posted.status_code == 201 and posted.json()["text"] == text, name


@pytest.mark.django_db
def test_a_username_is_registered_literally_or_refused_naming_the_field(client, settings):
    """Usernames keep Django's characters (letters of any script, digits, @.+-_): spaces made
    underscores, several of the corpus pass, the rest are refused."""
    settings.REGISTER_RATE_LIMIT = ""
    registered = []
    for n, text in enumerate({**ACCEPTED, **REFUSED_IN_NAMES}.values()):
        username = text.replace(" ", "_")[:150]
        answer = client.post(
            "/api/auth/register/",
            {"username": username, "email": f"u{n}@example.com", "password": "a-long-passphrase"},
            content_type="application/json",
        )
        assert answer.status_code in (201, 400), (text, answer.content)
        if answer.status_code == 400:
            assert "username" in answer.json(), text
        else:
            registered.append(User.objects.get(pk=answer.json()["id"]).username)
            assert registered[-1] == username
    assert len(registered) >= 3  # right-to-left, CJK, the longest at least


# --- the admins' emails --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db
def test_admin_emails_carry_hostile_titles_and_names_as_text(settings, smtp, make_user):
    settings.EMAIL_RECIPIENT_LIMIT = ""
    smtp.send_here(settings)
    owner, adam = make_user("olga"), make_user("adam")
    newcomer = make_user("nina_\u0645\u0631\u062d\u0628\u0627")  # a name in two scripts
    for title in ACCEPTED.values():
        chat = services.create_chat(title=title, creator_id=owner.pk)
        services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=adam.pk, role=Role.ADMIN)
        services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=newcomer.pk)
    rows = Notification.objects.filter(recipient_id=adam.pk, event="member_added")
    for row in rows:
        assert send_admin_notification_task.apply(args=[row.pk]).get() == "sent"

    mails = {m.subject: m for m in smtp.inbox.messages()}
    assert len(mails) == len(ACCEPTED)
    for title in ACCEPTED.values():
        mail = mails[f"[{title}] {newcomer.username} joined the chat"]
        assert mail.envelope_to == ["adam@example.com"]
        assert mail.header("Bcc") in (None, "")
        assert f'"{title}"' in mail.text  # the plain text, literally
        found = elements(mail.html)
        assert set(found.tags) <= {"html", "body", "p", "strong", "a", "br"}, title
        assert not {a for a in found.attributes if a.startswith("on")}, title


# --- the pages in Chromium -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("live_worker")
def test_pages_show_hostile_text_as_text_and_run_none_of_it(make_user, open_page, live_server):
    owner = make_user("olga")
    staff = make_user("watcher", is_staff=True)
    chats = {
        name: services.create_chat(title=t, creator_id=owner.pk) for name, t in ACCEPTED.items()
    }
    busiest = ["html_img", "html_script", "tex_dollars", "markdown", "formula_eq"]
    for rank, name in enumerate(busiest):
        for _ in range(len(busiest) - rank + 1):
            services.post_message(chat_id=chats[name].pk, author_id=owner.pk, text="x")
    for text in ACCEPTED.values():
        services.post_message(chat_id=chats["html_img"].pk, author_id=owner.pk, text=text)
    jobs.run_live_stats()
    dialogs: list[str] = []

    page = open_page(owner, f"/chat/?chat={chats['html_img'].pk}")
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.locator("#chat-title", has_text=ACCEPTED["html_img"]).wait_for()
    page.wait_for_function(f"document.querySelectorAll('#messages li').length >= {len(ACCEPTED)}")
    texts = page.locator("#messages .text").all_text_contents()
    assert texts[-len(ACCEPTED) :] == list(ACCEPTED.values())
    assert page.locator("#chat-select option").all_text_contents() == list(ACCEPTED.values())
    assert page.locator("main img, main script, #messages a").count() == 0
    screenshot(page, "hostile-chat-page.png")
    # A message arriving live is text too.
    services.post_message(chat_id=chats["html_img"].pk, author_id=owner.pk, text="<b>bold?</b>")
    page.locator("#messages .text", has_text="<b>bold?</b>").wait_for()
    assert page.locator("#messages b").count() == 0

    live = open_page(staff, "/live/", login="/admin/login/")
    live.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    live.wait_for_selector("body[data-subscribed-stats=yes]")
    top = live.locator("#top-chats li")
    top.first.wait_for()
    shown = top.all_text_contents()
    assert [line.rsplit(":", 1)[0] for line in shown] == [ACCEPTED[n] for n in busiest]
    assert live.locator("main img, #top-chats script").count() == 0
    screenshot(live, "hostile-live-page.png")

    for uid in build.build_all():
        live.goto(f"{live_server.url}/dashboards/{uid}/")
        live.wait_for_load_state("networkidle")
    assert dialogs == []
