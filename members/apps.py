from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = "Members"

    def ready(self):
        from django.db.models import CharField, EmailField
        from django.db.models.functions import Lower

        # `email__lower=` filters go through the functional unique index on LOWER(email).
        CharField.register_lookup(Lower)
        EmailField.register_lookup(Lower)
