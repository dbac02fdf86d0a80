from django.core.management.base import BaseCommand

from rewards.services import vouchers_expire_due


class Command(BaseCommand):
    help = "Expire issued vouchers past their validity (refunding points where the reward says so)."

    def handle(self, *args, **options):
        self.stdout.write(f"Expired {vouchers_expire_due()} voucher(s).")
