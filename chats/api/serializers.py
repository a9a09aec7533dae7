"""Input validation and output shapes of the chats API; no business logic here."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from accounts.models import AddPolicy
from chats.models import Chat, Invitation, Membership, Role
from core.validators import validate_visible_text

User = get_user_model()


class RegisterSerializer(serializers.Serializer):
    username = serializers.RegexField(
        r"^[\w.@+-]+\Z", max_length=150, validators=[validate_visible_text]
    )
    email = serializers.EmailField(max_length=254)  # auth_user.email is varchar(254)
    password = serializers.CharField(write_only=True, min_length=8, max_length=128)

    def validate(self, attrs: dict) -> dict:
        """Django's password validators (similar to the username, too common, all digits)."""
        user = User(username=attrs["username"], email=attrs["email"])
        try:
            validate_password(attrs["password"], user)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "email"]


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, write_only=True)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class ChatSerializer(serializers.ModelSerializer):
    title = serializers.CharField(
        max_length=200, allow_blank=False, trim_whitespace=True, validators=[validate_visible_text]
    )

    class Meta:
        model = Chat
        fields = ["id", "title", "created_by", "created_at", "updated_at"]
        read_only_fields = ["id", "created_by", "created_at", "updated_at"]


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["user_id", "username", "role", "email_notifications", "joined_at"]
        read_only_fields = fields


# The roles an add or an invitation grants (the owner is made by creating a chat); its own enum
# in the schema (SPECTACULAR_SETTINGS' ENUM_NAME_OVERRIDES).
GRANTED_ROLES = [(Role.ADMIN.value, Role.ADMIN.label), (Role.MEMBER.value, Role.MEMBER.label)]


class AddMemberSerializer(serializers.Serializer):
    user_id = serializers.IntegerField(min_value=1, max_value=2**53)
    role = serializers.ChoiceField(choices=GRANTED_ROLES, default=Role.MEMBER)


class MemberSettingsSerializer(serializers.Serializer):
    email_notifications = serializers.BooleanField()


class MessageInputSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=settings.MESSAGE_MAX_LENGTH, trim_whitespace=True)


class InvitedSerializer(serializers.Serializer):
    """The answer to an add that became an invitation, the same whether or not the id is an
    account: so it does not tell which ids are."""

    user_id = serializers.IntegerField()
    status = serializers.CharField(default="invited")
    detail = serializers.CharField()


class InvitationSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=GRANTED_ROLES, read_only=True)
    chat_title = serializers.CharField(source="chat.title", read_only=True)
    invited_by = serializers.CharField(source="invited_by.username", default=None, read_only=True)

    class Meta:
        model = Invitation
        fields = ["id", "chat_id", "chat_title", "role", "invited_by", "status", "created_at"]
        read_only_fields = fields


class AccountSerializer(serializers.Serializer):
    """What a user consented to (docs/consent.md); `email_confirmed` is read-only."""

    username = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)
    email_confirmed = serializers.BooleanField(read_only=True)
    who_can_add = serializers.ChoiceField(choices=AddPolicy.choices)
    email_off = serializers.BooleanField()
