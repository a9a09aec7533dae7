"""Tokens for Centrifugo: who the browser is, and which channels it may read.

Short-lived JWTs signed with the secret Centrifugo shares; the browser's `getToken` callbacks
fetch new ones when they expire. A member removed from a chat is unsubscribed by the server at
once (`chats.live.recording.unsubscribe_after_commit`) and gets 403 here from then on: a 403 to
a refresh makes centrifuge-js drop the subscription, and a client that does not refresh is
unsubscribed by Centrifugo once its token expires (subscription tokens live
CENTRIFUGO_SUBSCRIPTION_TOKEN_TTL_SECONDS).
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chats.live import recording as live
from integrations import centrifugo

from .views import ERROR_BODY


class RealtimeTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="HS256 JWT for Centrifugo.")


class ChannelQuerySerializer(serializers.Serializer):
    channel = serializers.CharField(
        max_length=200, help_text="`chat:<chat id>` (members) or `stats:live` (staff)."
    )


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ERROR_BODY, description=description)


class ConnectionTokenView(APIView):
    @extend_schema(
        operation_id="realtime_token",
        tags=["realtime"],
        responses={200: RealtimeTokenSerializer, 401: _error("Not logged in.")},
    )
    def get(self, request: Request) -> Response:
        """A connection JWT for Centrifugo, valid for CENTRIFUGO_TOKEN_TTL_SECONDS."""
        return Response({"token": centrifugo.connection_token(request.user.pk)})


class SubscriptionTokenView(APIView):
    @extend_schema(
        operation_id="realtime_subscription_token",
        tags=["realtime"],
        parameters=[ChannelQuerySerializer],
        responses={
            200: RealtimeTokenSerializer,
            400: _error("Missing or malformed `channel`."),
            401: _error("Not logged in."),
            403: _error("Not a member of the chat (or not staff, for stats:live)."),
        },
    )
    def get(self, request: Request) -> Response:
        """A subscription JWT for one channel the caller may read, valid for
        CENTRIFUGO_SUBSCRIPTION_TOKEN_TTL_SECONDS; the client asks again to stay subscribed."""
        query = ChannelQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        token = live.subscription_token_for(request.user, query.validated_data["channel"])
        return Response({"token": token})
