"""`manage.py run_devmail`: the development SMTP server of `make up` and its web inbox.

Every email the platform sends locally lands in `DEV_MAIL_DIR` as an `.eml` file and is listed on
http://127.0.0.1:$SMTP_WEB_PORT/ (from, to, subject, Message-ID; click one to read both parts).
The options are `python -m chatplatform.devmail`'s, with the defaults taken from the settings.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from chatplatform import devmail


class Command(BaseCommand):
    help = "Run the development SMTP server (EMAIL_PORT) and its web inbox (SMTP_WEB_PORT)."

    def add_arguments(self, parser: CommandParser) -> None:
        devmail.add_arguments(
            parser,
            port=settings.EMAIL_PORT,
            web_port=settings.DEV_SMTP_WEB_PORT,
            mail_dir=str(settings.DEV_MAIL_DIR),
        )

    def handle(self, *args: object, **options: object) -> None:
        devmail.serve_options(options)  # prints where the SMTP server and the inbox listen
