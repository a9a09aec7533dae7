"""`manage.py run_devmail`: the development SMTP server of `make up` and its web inbox.

Every email the platform sends locally lands in `DEV_MAIL_DIR` as an `.eml` file and is listed on
http://127.0.0.1:$SMTP_WEB_PORT/ (from, to, subject, Message-ID; click one to read both parts).
"""

from django.conf import settings
from django.core.management.base import BaseCommand

from chatplatform import devmail


class Command(BaseCommand):
    help = "Run the development SMTP server (EMAIL_PORT) and its web inbox (SMTP_WEB_PORT)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address both servers bind to")
        parser.add_argument("--port", type=int, default=settings.EMAIL_PORT)
        parser.add_argument("--web-port", type=int, default=settings.DEV_SMTP_WEB_PORT)
        parser.add_argument("--dir", default=str(settings.DEV_MAIL_DIR))

    def handle(self, *args: object, host: str, port: int, web_port: int, dir: str, **options):
        self.stdout.write(
            f"Development SMTP on {host}:{port}; inbox http://{host}:{web_port}/ ({dir})"
        )
        devmail.serve(dir, host=host, port=port, web_port=web_port)
