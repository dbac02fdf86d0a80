from django.apps import AppConfig


class EarningConfig(AppConfig):
    name = "earning"
    verbose_name = "Earning: purchases, returns and rules"
