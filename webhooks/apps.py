from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self):
        from ledger.signals import points_expired
        from loyalty.events import domain_event
        from members.signals import member_anonymised
        from tiers.signals import tier_changes_recorded

        # tasks too: without a broker, work a web request queues runs in this process at once, by task name,
        # and a name Celery has not registered here would be sent to a broker instead.
        from . import events, tasks  # noqa: F401

        domain_event.connect(events.domain_event_received, dispatch_uid="webhooks.domain_event")
        points_expired.connect(events.points_expired_received, dispatch_uid="webhooks.points_expired")
        tier_changes_recorded.connect(events.tier_changes_received, dispatch_uid="webhooks.tier_changes")
        member_anonymised.connect(events.member_anonymised_received, dispatch_uid="webhooks.member_anonymised")
