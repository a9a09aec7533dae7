"""`{% demo_notice %}`: a page built from the statistics says when they include the demo."""

from django import template
from django.utils.html import format_html

from chats.models import Chat

register = template.Library()


@register.simple_tag
def demo_notice() -> str:
    """A notice while demo chats exist (seed_demo's made-up history): a reader must not take
    those numbers for real use. Empty otherwise."""
    if not Chat.objects.filter(is_demo=True).exists():
        return ""
    return format_html(
        '<p class="demo"><strong>Includes demo data:</strong> {}</p>',
        "the chats marked demo (admin: Chats, filter “is demo”) and their weeks of history "
        "were made up by manage.py seed_demo, not by real use.",
    )
