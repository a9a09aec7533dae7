"""Seed the demo (chats.demo: weeks of history, then today's welcome) once; print the logins."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from chats import demo
from core.secrets import require_secret


class Command(BaseCommand):
    help = (
        "Create the demo users, chats and messages (with weeks of history while no real chat "
        "has messages) unless they exist; print the logins."
    )

    @transaction.atomic  # all or nothing: a half-seeded demo would never be completed
    def handle(self, *args: object, **options: object) -> None:
        password = settings.DEMO_PASSWORD
        if not settings.DEBUG:  # a real deployment: alice, staff, would log in with it
            try:
                require_secret("DEMO_PASSWORD", password)
            except ImproperlyConfigured as exc:
                raise CommandError(str(exc)) from exc
        if get_user_model().objects.filter(username="alice").exists():
            self.stdout.write("Demo data already present: nothing created.")
        else:
            summary = demo.seed(timezone.now(), password)
            self.stdout.write(f"Demo data created: {summary.describe()}.")
        self.stdout.write(
            "Demo logins (password from DEMO_PASSWORD in .env): "
            + ", ".join(demo.MAIN_USERS)
            + f" / {password}  (alice is staff: admin and /live/)"
        )
