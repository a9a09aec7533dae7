"""Thin API views: validate, call a service or selector, serialize."""

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import profiles
from chats import selectors, services
from chats.emails import personal, preferences
from chats.shapes import MessageSerializer, message_data
from core.errors import Conflict, DomainError, Forbidden, NotFound
from ratelimits.throttles import (
    AUTH_THROTTLES,
    ConfirmationThrottle,
    RegisterThrottle,
    WriteThrottle,
)

from . import serializers as s
from .pagination import CursorPage, MessagePagination

# Every error body names what was wrong: `{"<field>": ["message", ...]}`, or `{"detail": "..."}`
# when no single field is to blame (not logged in, malformed JSON).
ERROR_BODY = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
    "example": {"text": ["Ensure this field has no more than 4000 characters."]},
}


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The documented error answers of an operation (401 applies to every authenticated one)."""
    described = {
        400: "Invalid input; the body names the field.",
        401: "Missing or invalid `Authorization: Token <token>` header.",
        403: "Not allowed: not an owner/admin of the chat, or not the author.",
        404: "No such chat/member/message, or the caller is not a member of the chat.",
        409: "Conflicts with the current state (duplicate, owner cannot be removed).",
        429: "Too many attempts or writes; `Retry-After` says how many seconds to wait.",
    }
    return {code: OpenApiResponse(ERROR_BODY, description=described[code]) for code in codes}


INVITED = (
    "Invited, if this is an account whose setting asks for invitations: they join when they"
    " accept. Unknown ids get this same answer."
)


def _valid(serializer_class: type, request: Request, partial: bool = False) -> dict:
    serializer = serializer_class(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [RegisterThrottle]

    @extend_schema(
        request=s.RegisterSerializer, responses={201: s.UserSerializer, **_errors(400, 409, 429)}
    )
    def post(self, request: Request) -> Response:
        user = services.register_user(**_valid(s.RegisterSerializer, request))
        return Response(s.UserSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = AUTH_THROTTLES

    @extend_schema(
        request=s.TokenRequestSerializer, responses={200: s.TokenSerializer, **_errors(400, 429)}
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.TokenRequestSerializer, request)
        user = authenticate(request, username=data["username"], password=data["password"])
        if user is None:
            raise DomainError("Unable to log in with these credentials.", field="password")
        return Response({"token": services.issue_token(user_id=user.pk)})


class ChatListView(GenericAPIView):
    serializer_class = s.ChatSerializer
    throttle_classes = [WriteThrottle]  # writes only
    pagination_class = CursorPage

    @extend_schema(responses={200: s.ChatSerializer(many=True), **_errors(400, 401)})
    def get(self, request: Request) -> Response:
        """Your chats, oldest first; follow `next` for the rest."""
        page = self.paginate_queryset(selectors.chats_for_user(request.user.pk))
        return self.get_paginated_response(s.ChatSerializer(page, many=True).data)

    @extend_schema(
        request=s.ChatSerializer, responses={201: s.ChatSerializer, **_errors(400, 401, 429)}
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.ChatSerializer, request)
        chat = services.create_chat(title=data["title"], creator_id=request.user.pk)
        return Response(s.ChatSerializer(chat).data, status=status.HTTP_201_CREATED)


class ChatDetailView(APIView):
    throttle_classes = [WriteThrottle]  # writes only

    @extend_schema(responses={200: s.ChatSerializer, **_errors(401, 404)})
    def get(self, request: Request, chat_id: int) -> Response:
        """Any member reads the chat; outsiders get 404 so they cannot probe chat ids."""
        chat = selectors.chat_for_member(chat_id, request.user.pk)
        return Response(s.ChatSerializer(chat).data)

    @extend_schema(
        request=s.ChatSerializer,
        responses={200: s.ChatSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    def patch(self, request: Request, chat_id: int) -> Response:
        """Rename the chat (owner or admin)."""
        data = _valid(s.ChatSerializer, request, partial=True)
        chat = services.update_chat(
            chat_id=chat_id, actor_id=request.user.pk, title=data.get("title")
        )
        return Response(s.ChatSerializer(chat).data)

    @extend_schema(responses={204: None, **_errors(401, 403, 404, 429)})
    def delete(self, request: Request, chat_id: int) -> Response:
        """Delete the chat (owner only); its other admins are emailed."""
        services.delete_chat(chat_id=chat_id, actor_id=request.user.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberListView(GenericAPIView):
    serializer_class = s.MembershipSerializer
    throttle_classes = [WriteThrottle]  # writes only
    pagination_class = CursorPage

    @extend_schema(responses={200: s.MembershipSerializer(many=True), **_errors(400, 401, 404)})
    def get(self, request: Request, chat_id: int) -> Response:
        """The members of a chat you belong to, in the order they joined; follow `next`."""
        selectors.chat_for_member(chat_id, request.user.pk)
        page = self.paginate_queryset(selectors.members_of(chat_id))
        return self.get_paginated_response(s.MembershipSerializer(page, many=True).data)

    @extend_schema(
        request=s.AddMemberSerializer,
        responses={
            201: s.MembershipSerializer,
            202: OpenApiResponse(s.InvitedSerializer, description=INVITED),
            **_errors(400, 401, 403, 404, 409, 429),
        },
    )
    def post(self, request: Request, chat_id: int) -> Response:
        """Add a user (owner or admin): 201 where their setting allows it (the chat's other
        admins are emailed), else 202: they are invited and join if they accept."""
        data = _valid(s.AddMemberSerializer, request)
        membership = services.add_or_invite(chat_id=chat_id, actor_id=request.user.pk, **data)
        if membership is None:
            body = {"user_id": data["user_id"], "status": "invited", "detail": INVITED}
            return Response(body, status=status.HTTP_202_ACCEPTED)
        return Response(s.MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetailView(APIView):
    throttle_classes = [WriteThrottle]  # writes only

    @extend_schema(
        request=s.MemberSettingsSerializer,
        responses={200: s.MembershipSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    def patch(self, request: Request, chat_id: int, user_id: int) -> Response:
        """Turn membership emails on or off for yourself, as an owner or admin of the chat."""
        if user_id != request.user.pk:
            raise Forbidden("You can only change your own email settings.", field="user_id")
        data = _valid(s.MemberSettingsSerializer, request, partial=True)
        membership = preferences.set_email_notifications(
            chat_id=chat_id, user_id=user_id, enabled=data.get("email_notifications")
        )
        return Response(s.MembershipSerializer(membership).data)

    @extend_schema(responses={204: None, **_errors(401, 403, 404, 409, 429)})
    def delete(self, request: Request, chat_id: int, user_id: int) -> Response:
        """Remove a member (owner or admin), or leave the chat (your own user id)."""
        services.remove_member(chat_id=chat_id, actor_id=request.user.pk, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessageListView(GenericAPIView):
    serializer_class = MessageSerializer
    throttle_classes = [WriteThrottle]  # writes only
    pagination_class = MessagePagination

    @extend_schema(responses={200: MessageSerializer(many=True), **_errors(400, 401, 404)})
    def get(self, request: Request, chat_id: int) -> Response:
        """Messages of a chat you belong to, newest first; follow `next` for older ones."""
        selectors.require_member(chat_id, request.user.pk)
        page = self.paginate_queryset(selectors.messages_of(chat_id))
        # The shared serializer (chats.shapes): a new one would build its fields each request.
        return self.get_paginated_response([message_data(message) for message in page])

    @extend_schema(
        request=s.MessageInputSerializer,
        responses={201: MessageSerializer, **_errors(400, 401, 404, 429)},
    )
    def post(self, request: Request, chat_id: int) -> Response:
        """Post a message in a chat you belong to."""
        data = _valid(s.MessageInputSerializer, request)
        try:
            message = services.post_message(
                chat_id=chat_id, author_id=request.user.pk, author=request.user, **data
            )
        except Forbidden:  # not a member: 404, so outsiders cannot probe chat ids
            raise NotFound("Chat not found.", field="chat_id") from None
        return Response(message_data(message), status=status.HTTP_201_CREATED)


class MessageDetailView(APIView):
    throttle_classes = [WriteThrottle]  # writes only

    @extend_schema(
        request=s.MessageInputSerializer,
        responses={200: MessageSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    def patch(self, request: Request, chat_id: int, message_id: int) -> Response:
        """Edit your own message."""
        data = _valid(s.MessageInputSerializer, request, partial=True)
        message = services.edit_message(
            chat_id=chat_id, message_id=message_id, actor_id=request.user.pk, text=data.get("text")
        )
        return Response(MessageSerializer(message).data)

    @extend_schema(responses={204: None, **_errors(401, 403, 404, 429)})
    def delete(self, request: Request, chat_id: int, message_id: int) -> Response:
        """Delete your own message (soft: it disappears from the list)."""
        services.delete_message(chat_id=chat_id, message_id=message_id, actor_id=request.user.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationListView(GenericAPIView):
    serializer_class = s.InvitationSerializer
    pagination_class = CursorPage

    @extend_schema(responses={200: s.InvitationSerializer(many=True), **_errors(400, 401)})
    def get(self, request: Request) -> Response:
        """Your invitations waiting for an answer, oldest first."""
        page = self.paginate_queryset(selectors.pending_invitations_of(request.user.pk))
        return self.get_paginated_response(s.InvitationSerializer(page, many=True).data)


class InvitationAnswerView(APIView):
    throttle_classes = [WriteThrottle]
    accept = True

    @extend_schema(
        request=None,
        responses={200: s.MembershipSerializer, 204: None, **_errors(401, 404, 409, 429)},
    )
    def post(self, request: Request, invitation_id: int) -> Response:
        """Accept (200, your membership: the chat's admins are emailed) or decline (204)."""
        membership = services.answer_invitation(
            invitation_id=invitation_id, user_id=request.user.pk, accept=self.accept
        )
        if membership is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(s.MembershipSerializer(membership).data)


class AccountView(APIView):
    throttle_classes = [WriteThrottle]  # writes only

    @extend_schema(responses={200: s.AccountSerializer, **_errors(401)})
    def get(self, request: Request) -> Response:
        """Your address's confirmation, who may add you to chats, and all email on or off."""
        return Response(_account(request.user.pk))

    @extend_schema(
        request=s.AccountSerializer, responses={200: s.AccountSerializer, **_errors(400, 401, 429)}
    )
    def patch(self, request: Request) -> Response:
        data = _valid(s.AccountSerializer, request, partial=True)
        if data:
            profiles.update(request.user.pk, **data)
        return Response(_account(request.user.pk))


class ConfirmationView(APIView):
    throttle_classes = [ConfirmationThrottle]

    @extend_schema(request=None, responses={202: None, 409: ERROR_BODY, **_errors(401, 429)})
    def post(self, request: Request) -> Response:
        """Email a new confirmation link (at most EMAIL_CONFIRMATION_LIMIT per mailbox)."""
        if profiles.profile_of(request.user.pk).is_confirmed:
            raise Conflict("Your address is confirmed already.", field="email")
        personal.request_confirmation(user_id=request.user.pk)
        return Response(status=status.HTTP_202_ACCEPTED)


def _account(user_id: int) -> dict:
    profile = profiles.profile_of(user_id)
    return {
        "username": profile.user.username,
        "email": profile.user.email,
        "email_confirmed": profile.is_confirmed,
        "who_can_add": profile.who_can_add,
        "email_off": profile.email_off,
    }
