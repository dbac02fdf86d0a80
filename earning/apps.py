from django.apps import AppConfig


class EarningConfig(AppConfig):
    name = "earning"
    verbose_name = "Earning: purchases, returns and rules"

    def ready(self):
        from members.signals import member_enrolled

        from .services import signup_bonus_grant

        member_enrolled.connect(lambda sender, *, member, **kwargs: signup_bonus_grant(member=member),
                                dispatch_uid="earning.signup_bonus", weak=False)
