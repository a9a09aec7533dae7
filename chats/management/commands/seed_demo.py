"""Seed a small demo (users, chats, members, messages) once, and print the logins."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from chats import services
from chats.models import Role
from core.secrets import require_secret

DEMO_USERS = ["alice", "bob", "carol", "dave"]


class Command(BaseCommand):
    help = "Create demo users, chats and messages unless they exist; print the logins."

    @transaction.atomic  # all or nothing: a half-seeded demo would never be completed
    def handle(self, *args: object, **options: object) -> None:
        User = get_user_model()
        password = settings.DEMO_PASSWORD
        if not settings.DEBUG:  # a real deployment: alice, staff, would log in with it
            try:
                require_secret("DEMO_PASSWORD", password)
            except ImproperlyConfigured as exc:
                raise CommandError(str(exc)) from exc
        if User.objects.filter(username="alice").exists():
            self.stdout.write("Demo data already present: nothing created.")
        else:
            users = {
                name: User.objects.create_user(name, f"{name}@example.com", password)
                for name in DEMO_USERS
            }
            alice = users["alice"]
            alice.is_staff = alice.is_superuser = True
            alice.save(update_fields=["is_staff", "is_superuser"])
            general = services.create_chat(title="General", creator_id=alice.pk)
            services.add_member(
                chat_id=general.pk, actor_id=alice.pk, user_id=users["bob"].pk, role=Role.ADMIN
            )
            for name in ("carol", "dave"):
                services.add_member(chat_id=general.pk, actor_id=alice.pk, user_id=users[name].pk)
            random = services.create_chat(title="Random", creator_id=users["bob"].pk)
            services.add_member(chat_id=random.pk, actor_id=users["bob"].pk, user_id=alice.pk)
            for author, text in [
                ("alice", "Welcome to the demo chat!"),
                ("bob", "Hi all. Open /chat/ in two windows to see messages arrive live."),
                ("carol", "And /live/ shows the statistics as they change."),
            ]:
                services.post_message(chat_id=general.pk, author_id=users[author].pk, text=text)
            self.stdout.write(f"Demo data created: {len(users)} users, 2 chats, 3 messages.")
        self.stdout.write(
            "Demo logins (password from DEMO_PASSWORD in .env): "
            + ", ".join(DEMO_USERS)
            + f" / {password}  (alice is staff: admin and /live/)"
        )
