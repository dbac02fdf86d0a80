from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        from loyalty.events import domain_event
        from tiers.signals import tier_changes_recorded

        from . import events

        domain_event.connect(events.domain_event_received, dispatch_uid="notifications.domain_event")
        tier_changes_recorded.connect(events.tier_changes_received, dispatch_uid="notifications.tier_changes")
