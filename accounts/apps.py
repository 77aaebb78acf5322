from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts import tokens
        from accounts.models import ApiToken, User

        # Tokens are cached (accounts/tokens.py): any change to one, or to its user, forgets it.
        post_save.connect(tokens.token_saved, sender=ApiToken, dispatch_uid="api-token-saved")
        post_delete.connect(tokens.token_deleted, sender=ApiToken, dispatch_uid="api-token-deleted")
        post_save.connect(tokens.user_saved, sender=User, dispatch_uid="api-token-user-saved")
