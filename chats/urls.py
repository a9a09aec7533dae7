"""The chat's browser pages and its REST API (the API's own routes are chats/api/urls.py)."""

from django.urls import include, path

from .emails.pages import email_settings_page, unsubscribe_page
from .pages import PageLoginView, chat_page, invitation_page

urlpatterns = [
    path("api/", include("chats.api.urls")),
    path("chat/", chat_page, name="chat-page"),
    path("login/", PageLoginView.as_view(), name="page-login"),
    path("settings/email/", email_settings_page, name="email-settings"),
    path("email/unsubscribe/<str:token>/", unsubscribe_page, name="email-unsubscribe"),
    path("invitations/<str:token>/", invitation_page, name="invitation-answer"),
]
