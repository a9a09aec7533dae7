"""Admin emails end to end: API -> notification rows -> real Redis -> real Celery worker -> a real
SMTP server started by the test, whose inbox is what the assertions read.

Each test starts its own SMTP server and worker (so no worker of another test, pointed at another
SMTP server, takes its tasks) and uses a transactional database, so that `on_commit` fires and
the worker process sees the rows.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections import Counter
from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction

import testing
from accounts import profiles
from accounts.models import AddPolicy
from chatplatform.celery import app as celery_app
from chats import services
from chats.emails import delivery as email_delivery
from chats.emails import preferences
from chats.models import Notification, Role
from chats.tasks import requeue_stale_outbox_task
from core.outbox import OutboxStatus

from .support import LiveClient, all_done, message_events, post, tokens

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()


@pytest.fixture(autouse=True)
def empty_queue(redis_service: testing.ManagedProcess) -> None:
    """Tasks left on the broker by an earlier test must not reach this test's worker."""
    celery_app.control.purge()


@pytest.fixture(autouse=True)
def no_email_cap(settings) -> None:
    """These tests count every email of a burst; the cap and its digest: test_email_cap.py."""
    settings.EMAIL_RECIPIENT_LIMIT = ""


def add_via_api(client_for, actor: User, chat_id: int, user: User, role: str = "member") -> None:
    response = client_for(actor).post(
        f"/api/chats/{chat_id}/members/", {"user_id": user.pk, "role": role}, format="json"
    )
    assert response.status_code == 201, response.content


def inbox_for(smtp, notes) -> list:
    """The received emails that carry these notifications' Message-IDs."""
    wanted = {email_delivery.message_id(n.pk) for n in notes}
    return [m for m in smtp.inbox.messages() if m.message_id in wanted]


def sweep_until(check: Callable[[], object], timeout: float, what: str) -> None:
    """Run beat's outbox sweep every 2 s (as beat would, on a short period) until `check`."""

    def swept_then_checked() -> object:
        with contextlib.suppress(Exception):  # Redis may still be coming back
            requeue_stale_outbox_task.delay()
        return check()

    testing.wait_until(swept_then_checked, timeout, what, interval=2)


def assert_no_duplicates(smtp) -> None:
    ids = Counter(m.message_id for m in smtp.inbox.messages())
    assert [mid for mid, n in ids.items() if n > 1] == []


# --- what an admin sees --------------------------------------------------------------------------


@pytest.mark.slow
def test_adding_a_member_emails_the_owner_and_admins_except_the_actor(
    smtp, start_worker, make_user, client_for
):
    owner, admin, quiet_admin, actor, member, newcomer = map(
        make_user, ["olga", "adam", "quinn", "alex", "mona", "nina"]
    )
    chat = services.create_chat(title="Design review", creator_id=owner.pk)
    for user, role in [(admin, Role.ADMIN), (quiet_admin, Role.ADMIN), (actor, Role.ADMIN)]:
        services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=user.pk, role=role)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=member.pk)
    preferences.set_email_notifications(chat_id=chat.pk, user_id=quiet_admin.pk, enabled=False)
    start_worker()
    all_done()  # the emails of the setup above
    before = set(smtp.inbox.names())

    add_via_api(client_for, actor, chat.pk, newcomer)

    all_done()
    new = [m for m in smtp.inbox.messages() if m.name not in before]
    assert sorted(m.envelope_to[0] for m in new) == ["adam@example.com", "olga@example.com"]
    notes = Notification.objects.filter(event="member_added", subject__contains="nina")
    assert {n.status for n in notes} == {OutboxStatus.SENT}
    for mail in new:
        assert mail.to == mail.envelope_to[0]
        assert mail.sender == "Chat Platform <noreply@chatplatform.local>"
        assert mail.subject == "[Design review] nina joined the chat"
        note = notes.get(recipient_email=mail.to)
        assert mail.message_id == f"<notification-{note.pk}@chatplatform.local>"
        assert 'nina was added to the chat "Design review" by alex.' in mail.text
        assert "<strong>nina</strong>" in mail.html
        assert "Design review" in mail.html and "alex" in mail.html
    assert_no_duplicates(smtp)


@pytest.mark.slow
def test_removing_a_member_and_deleting_the_chat_email_the_admins(
    smtp, start_worker, make_user, client_for
):
    owner, admin, member = map(make_user, ["olga", "adam", "mona"])
    chat = services.create_chat(title="Launch", creator_id=owner.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=member.pk)
    start_worker()

    api = client_for(owner)
    assert api.delete(f"/api/chats/{chat.pk}/members/{member.pk}/").status_code == 204
    all_done()
    [removed] = [m for m in smtp.inbox.messages() if "left" in m.subject]
    assert (removed.to, removed.subject) == ("adam@example.com", "[Launch] mona left the chat")
    assert "mona" in removed.text and "Launch" in removed.text and "mona" in removed.html

    assert api.delete(f"/api/chats/{chat.pk}/").status_code == 204
    all_done()
    [deleted] = [m for m in smtp.inbox.messages() if "deleted" in m.subject]
    assert (deleted.to, deleted.subject) == ("adam@example.com", "[Launch] the chat was deleted")
    assert "Launch" in deleted.text and "olga" in deleted.text and "Launch" in deleted.html
    assert not [m for m in smtp.inbox.messages() if "olga@example.com" in m.envelope_to]
    assert_no_duplicates(smtp)


@pytest.mark.slow
def test_a_rolled_back_change_sends_nothing(smtp, start_worker, make_user, client_for):
    owner, admin, ghost, real = map(make_user, ["olga", "adam", "ghost", "rita"])
    chat = services.create_chat(title="Ops", creator_id=owner.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)
    start_worker()

    with pytest.raises(RuntimeError), transaction.atomic():
        services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=ghost.pk)
        raise RuntimeError("something later in the request failed")
    # A later change goes through the same queue: once its email is in, the ghost's would be too.
    add_via_api(client_for, owner, chat.pk, real)
    testing.wait_until(
        lambda: any("rita" in m.subject for m in smtp.inbox.messages()), 20, "rita's email"
    )
    time.sleep(1)
    assert not [m for m in smtp.inbox.messages() if "ghost" in m.subject]
    assert not Notification.objects.filter(subject__contains="ghost").exists()


# --- failures ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_refused_recipient_is_failed_once_and_never_retried(
    smtp, start_worker, make_user, client_for, admin_client
):
    owner, admin, refused, newcomer = map(make_user, ["olga", "adam", "refused", "nina"])
    chat = services.create_chat(title="Ops", creator_id=owner.pk)
    for user in (admin, refused):
        services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=user.pk, role=Role.ADMIN)
    start_worker()
    add_via_api(client_for, owner, chat.pk, newcomer)

    all_done()
    note = Notification.objects.get(subject__contains="nina", recipient_id=refused.pk)
    assert (note.status, note.attempts) == (OutboxStatus.FAILED, 1)
    assert "550" in note.last_error
    assert [m.to for m in smtp.inbox.messages() if "nina" in m.subject] == ["adam@example.com"]
    page = admin_client.get("/admin/chats/notification/?status__exact=failed").content.decode()
    assert "refused@example.com" in page and "550 5.1.1" in page


@pytest.mark.slow
def test_smtp_down_then_back_delivers_every_email_exactly_once(
    smtp, start_worker, make_user, client_for
):
    owner, admin = make_user("olga"), make_user("adam")
    chat = services.create_chat(title="Ops", creator_id=owner.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)
    start_worker()
    all_done()
    smtp.stop()

    newcomers = [make_user(f"late{n}") for n in range(5)]
    for user in newcomers:
        add_via_api(client_for, owner, chat.pk, user)
    notes = Notification.objects.filter(subject__contains="late")
    testing.wait_until(
        lambda: all(n.attempts >= 1 and n.status == OutboxStatus.PENDING for n in notes.all()),
        20,
        "every email to fail against the stopped SMTP server and wait for a retry",
    )
    assert "Connection refused" in notes.first().last_error

    smtp.start()  # same port, same inbox
    requeue_stale_outbox_task.delay()  # what beat does every OUTBOX_SWEEP_SECONDS
    all_done(60, subject__contains="late")
    assert {n.status for n in notes.all()} == {OutboxStatus.SENT}
    received = inbox_for(smtp, notes.all())
    assert sorted(m.subject for m in received) == sorted(
        f"[Ops] late{n} joined the chat" for n in range(5)
    )
    assert_no_duplicates(smtp)


@pytest.mark.slow
def test_a_silent_smtp_server_times_out_and_does_not_block_the_worker(
    smtp, start_worker, make_user, client_for
):
    """A single worker process: were it stuck on the first email, the second would never start."""
    owner, admin, first, second = map(make_user, ["olga", "adam", "first", "second"])
    chat = services.create_chat(title="Ops", creator_id=owner.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)
    start_worker(concurrency=1)
    all_done()
    smtp.stop()
    silent = testing.SmtpProcess(port=smtp.port, silent=True).start()
    try:
        started = time.monotonic()
        add_via_api(client_for, owner, chat.pk, first)
        add_via_api(client_for, owner, chat.pk, second)
        notes = Notification.objects.filter(event="member_added", recipient_id=admin.pk)
        notes = notes.filter(subject__contains="first") | notes.filter(subject__contains="second")
        testing.wait_until(
            lambda: all(n.attempts >= 1 and "timed out" in n.last_error for n in notes.all()),
            20,
            "both emails to time out against the silent server",
        )
        # EMAIL_TIMEOUT=1 s each, far below the task's 30 s soft limit.
        assert time.monotonic() - started < 15
        assert {n.status for n in notes.all()} <= {OutboxStatus.PENDING, OutboxStatus.SENDING}
    finally:
        silent.stop()
    smtp.start()
    requeue_stale_outbox_task.delay()
    all_done(60)
    assert sorted(m.subject for m in inbox_for(smtp, notes.all())) == [
        "[Ops] first joined the chat",
        "[Ops] second joined the chat",
    ]
    assert_no_duplicates(smtp)


@pytest.mark.slow
def test_worker_killed_mid_batch_still_sends_200_emails_per_admin_once(
    smtp, start_worker, make_user
):
    owner, admin1, admin2 = make_user("olga"), make_user("adam"), make_user("anna")
    chat = services.create_chat(title="Big", creator_id=owner.pk)
    for admin in (admin1, admin2):
        services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)
    joiners = User.objects.bulk_create(
        User(username=f"joiner{n}", email=f"joiner{n}@example.com") for n in range(200)
    )
    profiles.confirm_all(joiners, who_can_add=AddPolicy.EVERYONE)  # the owner adds them
    for user in joiners:
        services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=user.pk)
    notes = Notification.objects.filter(subject__contains="joiner")
    assert notes.count() == 400

    worker = start_worker()
    sent = notes.filter(status=OutboxStatus.SENT)
    testing.wait_until(lambda: sent.count() >= 60, 60, "the batch to be under way")
    worker.kill()  # SIGKILL, main process and children, in the middle of the batch
    assert len(inbox_for(smtp, notes)) < 400, "the batch finished before the kill: nothing tested"
    assert notes.filter(status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING]).exists()

    start_worker()
    # Rows the dead worker had claimed wait for their lease to expire (EMAIL_TIMEOUT * 3 + 30 s).
    sweep_until(lambda: not notes.exclude(status=OutboxStatus.SENT).exists(), 120, "all sent")
    received = inbox_for(smtp, notes)
    distinct = {(m.to, m.message_id) for m in received}
    assert Counter(to for to, _ in distinct) == {"adam@example.com": 200, "anna@example.com": 200}
    assert notes.filter(status=OutboxStatus.SENT).count() == 400
    # Exactly-once is impossible over SMTP: a kill that lands between the server's "250 accepted"
    # and the row's update (one short UPDATE; on SQLite it may also wait for a write lock) sends
    # that email again, with the same Message-ID, so the duplicate is visible and a mail client
    # folds it. At most one per worker process killed (concurrency 2); none otherwise.
    assert len(received) - len(distinct) <= 2


def database_sessions() -> int:
    """Sessions PostgreSQL has opened on the test database so far (counted as each one ends)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.mark.slow
def test_a_worker_keeps_its_database_connection_from_task_to_task(smtp, start_worker, make_user):
    """Celery's Django fixup closes the connection around every task (since Celery 5.6); the
    workers keep theirs for WORKER_DATABASE_CONN_MAX_AGE, as a connection costs more than the
    task: 30 emails cost the database a session or two, not 30."""
    if connection.vendor != "postgresql":
        pytest.skip("counts PostgreSQL's sessions")
    owner, admin = make_user(), make_user()
    chat = services.create_chat(title="Thirty joins", creator_id=owner.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)
    start_worker(concurrency=1)
    all_done()
    before = database_sessions()
    last = Notification.objects.order_by("pk").last()
    joiners = User.objects.bulk_create(User(username=f"join{n}") for n in range(30))
    profiles.confirm_all(joiners, who_can_add=AddPolicy.EVERYONE)  # the owner adds them
    for user in joiners:
        services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=user.pk)
    all_done()
    notes = Notification.objects.filter(pk__gt=last.pk if last else 0)
    assert len(inbox_for(smtp, notes)) == notes.count() == 30
    time.sleep(1)  # a session that ended is counted within a second
    assert database_sessions() - before <= 2


@pytest.mark.slow
def test_redis_down_during_the_request_still_delivers_after_it_restarts(
    redis_service, smtp, start_worker, make_user, client_for
):
    owner, admin, newcomer = make_user("olga"), make_user("adam"), make_user("nina")
    chat = services.create_chat(title="Ops", creator_id=owner.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)
    start_worker()
    all_done()

    redis_service.stop()
    try:
        started = time.monotonic()
        add_via_api(client_for, owner, chat.pk, newcomer)  # 201 even though nothing was queued
        assert time.monotonic() - started < 5
        note = Notification.objects.get(subject__contains="nina")
        time.sleep(1)
        note.refresh_from_db()
        assert (note.status, note.attempts) == (OutboxStatus.PENDING, 0)
    finally:
        if not redis_service.running:
            redis_service.start()

    sweep_until(lambda: inbox_for(smtp, [note]), 60, "the email after Redis came back")
    [mail] = inbox_for(smtp, [note])
    assert (mail.to, mail.subject) == ("adam@example.com", "[Ops] nina joined the chat")
    note.refresh_from_db()
    assert (note.status, note.attempts) == (OutboxStatus.SENT, 1)


@pytest.mark.slow
def test_a_frozen_redis_holds_no_request_and_loses_nothing(
    redis_service, centrifugo_service, smtp, start_worker, make_user, client_for, settings
):
    """SIGSTOP is how a hung or black-holed broker looks: it accepts connections, never answers.
    Posting and adding a member still answer within a second, also when Centrifugo is out of the
    web's reach too (so the event must go through the frozen broker); after Redis resumes, the
    live events and the email each arrive once."""
    from integrations import centrifugo

    owner, admin, newcomer = make_user("ora"), make_user("abe"), make_user("nell")
    chat = services.create_chat(title="Frozen", creator_id=owner.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)
    start_worker(**centrifugo_service.django_env)
    all_done()
    channel = centrifugo.chat_channel(chat.pk)
    live = LiveClient(centrifugo_service.ws_url, tokens(client_for(admin), channel)[0]).connect()
    try:
        log = live.subscribe(channel, tokens(client_for(admin), channel)[1])
        redis_service.proc.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            message_id = post(client_for(owner), chat.pk, "through the freeze")
            posted = time.monotonic() - started
            started = time.monotonic()
            add_via_api(client_for, owner, chat.pk, newcomer)
            added = time.monotonic() - started
            assert max(posted, added) < 1.0, (posted, added)
            note = Notification.objects.get(subject__contains="nell")
            assert (note.status, note.attempts) == (OutboxStatus.PENDING, 0)

            settings.CENTRIFUGO_API_URL = f"http://127.0.0.1:{testing.free_port()}/api"
            started = time.monotonic()
            stranded = post(client_for(owner), chat.pk, "neither Centrifugo nor Redis")
            assert time.monotonic() - started < 1.0
            assert not message_events(log, stranded)
        finally:
            redis_service.proc.send_signal(signal.SIGCONT)

        def all_arrived() -> bool:
            return bool(inbox_for(smtp, [note]) and message_events(log, stranded))

        # The worker publishes to the real Centrifugo; the sweeper finds what no one queued.
        sweep_until(all_arrived, 60, "the email and the stranded event after Redis resumed")
        assert message_events(log, message_id)  # published by the web while Redis was frozen
        time.sleep(2)  # room for a duplicate to show up
        assert len(inbox_for(smtp, [note])) == 1
        assert len(message_events(log, message_id)) == 1
        assert len(message_events(log, stranded)) == 1
    finally:
        live.close()
