"""The REST API (Django REST framework) and its OpenAPI schema (drf-spectacular)."""

from .base import env, env_or

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.errors.exception_handler",
    # Reverse proxies in front of the web processes: a client is the address the outermost of
    # them saw (X-Forwarded-For), not the proxy's. 0 (or empty): no proxy, REMOTE_ADDR; compose's
    # web defaults to 1, its TLS proxy (docs/security.md).
    "NUM_PROXIES": int(env_or("TRUSTED_PROXY_COUNT", "0")),
}
# Every list endpoint is cursor-paginated (chats/api/pagination.py): this many results per page
# unless the client asks for another `page_size`, and never more than the maximum (docs/api.md).
API_PAGE_SIZE = 50
API_MAX_PAGE_SIZE = 200
SPECTACULAR_SETTINGS = {
    "TITLE": "Chat Platform API",
    "DESCRIPTION": (
        "Chats, members and messages; admins are emailed on membership changes. Every list is"
        " cursor-paginated: `{next, previous, results}`; follow `next` to the last page;"
        f" `page_size` up to {API_MAX_PAGE_SIZE} (default {API_PAGE_SIZE})."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Operation ids and tags without the `api_` prefix, also now that /healthz is documented.
    "SCHEMA_PATH_PREFIX": r"/api/",
    # Served from the sidecar package, not a CDN: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    # Two sets of roles: a membership's, and the two an add or invitation grants.
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "chats.models.Role.choices",
        "GrantedRoleEnum": "chats.api.serializers.GRANTED_ROLES",
    },
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The `<id:...>` path converter of chats/api/urls.py: an integer of at most 18 digits.
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "minimum": 0, "maximum": 999_999_999_999_999_999}
    },
}
MESSAGE_MAX_LENGTH = env.int("MESSAGE_MAX_LENGTH", default=4000)
