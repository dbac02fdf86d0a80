from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "surveys"
    verbose_name = "Surveys: NPS, CSAT and CES"

    def ready(self):
        from loyalty.events import domain_event
        from members.signals import member_anonymised
        from tiers.signals import tier_changes_recorded

        # tasks too: without a broker, work a web request queues runs in this process at once, by task name.
        from . import events, tasks  # noqa: F401

        domain_event.connect(events.domain_event_received, dispatch_uid="surveys.domain_event")
        tier_changes_recorded.connect(events.tier_changes_received, dispatch_uid="surveys.tier_changes")
        member_anonymised.connect(events.member_anonymised_received, dispatch_uid="surveys.member_anonymised")
