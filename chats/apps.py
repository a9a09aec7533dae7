from django.apps import AppConfig


class ChatsConfig(AppConfig):
    name = "chats"
    verbose_name = "Chats"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save, pre_delete

        from .models import Chat
        from .signals import forget_deleted_user, tally_created, tally_deleted

        pre_delete.connect(forget_deleted_user, sender=get_user_model(), dispatch_uid="chats")
        for model in (get_user_model(), Chat):
            post_save.connect(tally_created, sender=model, dispatch_uid=f"count-{model}")
            post_delete.connect(tally_deleted, sender=model, dispatch_uid=f"count-{model}")
