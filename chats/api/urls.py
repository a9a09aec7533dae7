from django.urls import path, register_converter

from . import realtime_views, views


class IdConverter:
    """A database id: at most 18 digits, so a huge number is a 404, not a bigint overflow (500)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")

urlpatterns = [
    path("auth/register/", views.RegisterView.as_view(), name="register"),
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("chats/", views.ChatListView.as_view(), name="chat-list"),
    path("chats/<id:chat_id>/", views.ChatDetailView.as_view(), name="chat-detail"),
    path("chats/<id:chat_id>/members/", views.MemberListView.as_view(), name="member-list"),
    path(
        "chats/<id:chat_id>/members/<id:user_id>/",
        views.MemberDetailView.as_view(),
        name="member-detail",
    ),
    path("chats/<id:chat_id>/messages/", views.MessageListView.as_view(), name="message-list"),
    path(
        "chats/<id:chat_id>/messages/<id:message_id>/",
        views.MessageDetailView.as_view(),
        name="message-detail",
    ),
    path("invitations/", views.InvitationListView.as_view(), name="invitation-list"),
    path(
        "invitations/<id:invitation_id>/accept/",
        views.InvitationAnswerView.as_view(accept=True),
        name="invitation-accept",
    ),
    path(
        "invitations/<id:invitation_id>/decline/",
        views.InvitationAnswerView.as_view(accept=False),
        name="invitation-decline",
    ),
    path("account/", views.AccountView.as_view(), name="account"),
    path("account/confirmation/", views.ConfirmationView.as_view(), name="account-confirmation"),
    path("realtime/token/", realtime_views.ConnectionTokenView.as_view(), name="realtime-token"),
    path(
        "realtime/subscription-token/",
        realtime_views.SubscriptionTokenView.as_view(),
        name="realtime-subscription-token",
    ),
]
