from django.apps import AppConfig


class ChatsConfig(AppConfig):
    name = "chats"
    verbose_name = "Chats"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import pre_delete

        from .signals import forget_deleted_user

        pre_delete.connect(forget_deleted_user, sender=get_user_model(), dispatch_uid="chats")
