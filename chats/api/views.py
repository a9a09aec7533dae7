"""Thin API views: validate, call a service or selector, serialize."""

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authtoken.models import Token
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chatplatform.errors import DomainError
from chats import selectors, services

from . import serializers as s


def _valid(serializer_class: type, request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=s.RegisterSerializer, responses={201: s.UserSerializer})
    def post(self, request: Request) -> Response:
        user = services.register_user(**_valid(s.RegisterSerializer, request))
        return Response(s.UserSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=s.TokenRequestSerializer, responses={200: s.TokenSerializer})
    def post(self, request: Request) -> Response:
        data = _valid(s.TokenRequestSerializer, request)
        user = authenticate(request, username=data["username"], password=data["password"])
        if user is None:
            raise DomainError("Unable to log in with these credentials.", field="password")
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class ChatListView(APIView):
    @extend_schema(responses={200: s.ChatSerializer(many=True)})
    def get(self, request: Request) -> Response:
        chats = selectors.chats_for_user(request.user.pk)
        return Response(s.ChatSerializer(chats, many=True).data)

    @extend_schema(request=s.ChatSerializer, responses={201: s.ChatSerializer})
    def post(self, request: Request) -> Response:
        data = _valid(s.ChatSerializer, request)
        chat = services.create_chat(title=data["title"], creator_id=request.user.pk)
        return Response(s.ChatSerializer(chat).data, status=status.HTTP_201_CREATED)


class ChatDetailView(APIView):
    @extend_schema(responses={200: s.ChatSerializer})
    def get(self, request: Request, chat_id: int) -> Response:
        chat = selectors.chat_for_member(chat_id, request.user.pk)
        return Response(s.ChatSerializer(chat).data)

    @extend_schema(request=s.ChatSerializer, responses={200: s.ChatSerializer})
    def patch(self, request: Request, chat_id: int) -> Response:
        data = _valid(s.ChatSerializer, request)
        chat = services.update_chat(chat_id=chat_id, actor_id=request.user.pk, title=data["title"])
        return Response(s.ChatSerializer(chat).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, chat_id: int) -> Response:
        services.delete_chat(chat_id=chat_id, actor_id=request.user.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberListView(APIView):
    @extend_schema(responses={200: s.MembershipSerializer(many=True)})
    def get(self, request: Request, chat_id: int) -> Response:
        selectors.chat_for_member(chat_id, request.user.pk)
        return Response(s.MembershipSerializer(selectors.members_of(chat_id), many=True).data)

    @extend_schema(request=s.AddMemberSerializer, responses={201: s.MembershipSerializer})
    def post(self, request: Request, chat_id: int) -> Response:
        data = _valid(s.AddMemberSerializer, request)
        membership = services.add_member(chat_id=chat_id, actor_id=request.user.pk, **data)
        return Response(s.MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetailView(APIView):
    @extend_schema(request=s.MemberSettingsSerializer, responses={200: s.MembershipSerializer})
    def patch(self, request: Request, chat_id: int, user_id: int) -> Response:
        """Turn membership emails on or off for yourself, as an owner or admin of the chat."""
        if user_id != request.user.pk:
            raise DomainError("You can only change your own email settings.", field="user_id")
        data = _valid(s.MemberSettingsSerializer, request)
        membership = services.set_email_notifications(
            chat_id=chat_id, user_id=user_id, enabled=data["email_notifications"]
        )
        return Response(s.MembershipSerializer(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, chat_id: int, user_id: int) -> Response:
        services.remove_member(chat_id=chat_id, actor_id=request.user.pk, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessagePagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class MessageListView(GenericAPIView):
    serializer_class = s.MessageSerializer
    pagination_class = MessagePagination

    @extend_schema(responses={200: s.MessageSerializer(many=True)})
    def get(self, request: Request, chat_id: int) -> Response:
        selectors.chat_for_member(chat_id, request.user.pk)
        page = self.paginate_queryset(selectors.messages_of(chat_id))
        return self.get_paginated_response(s.MessageSerializer(page, many=True).data)

    @extend_schema(request=s.MessageInputSerializer, responses={201: s.MessageSerializer})
    def post(self, request: Request, chat_id: int) -> Response:
        data = _valid(s.MessageInputSerializer, request)
        selectors.chat_for_member(chat_id, request.user.pk)
        message = services.post_message(chat_id=chat_id, author_id=request.user.pk, **data)
        return Response(s.MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class MessageDetailView(APIView):
    @extend_schema(request=s.MessageInputSerializer, responses={200: s.MessageSerializer})
    def patch(self, request: Request, chat_id: int, message_id: int) -> Response:
        data = _valid(s.MessageInputSerializer, request)
        message = services.edit_message(
            chat_id=chat_id, message_id=message_id, actor_id=request.user.pk, **data
        )
        return Response(s.MessageSerializer(message).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, chat_id: int, message_id: int) -> Response:
        services.delete_message(chat_id=chat_id, message_id=message_id, actor_id=request.user.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
