from django.urls import path

from . import views

urlpatterns = [
    path("auth/register/", views.RegisterView.as_view(), name="register"),
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("chats/", views.ChatListView.as_view(), name="chat-list"),
    path("chats/<int:chat_id>/", views.ChatDetailView.as_view(), name="chat-detail"),
    path("chats/<int:chat_id>/members/", views.MemberListView.as_view(), name="member-list"),
    path(
        "chats/<int:chat_id>/members/<int:user_id>/",
        views.MemberDetailView.as_view(),
        name="member-detail",
    ),
    path("chats/<int:chat_id>/messages/", views.MessageListView.as_view(), name="message-list"),
    path(
        "chats/<int:chat_id>/messages/<int:message_id>/",
        views.MessageDetailView.as_view(),
        name="message-detail",
    ),
]
