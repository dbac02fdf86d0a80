from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = "Loyalty platform"

    def ready(self):
        from . import checks  # noqa: F401 - registers the system checks
