from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ledger"
    verbose_name = "Points ledger"

    def ready(self):
        from members.signals import member_anonymised, member_enrolled

        from .services import account_forfeit, account_open_new

        # Every member has an account from enrolment on; connected before earning's signup bonus, which needs it.
        member_enrolled.connect(lambda sender, *, member, **kwargs: account_open_new(member=member),
                                dispatch_uid="ledger.account_open", weak=False)
        # A closed account's points lapse with it, in the same transaction as the closing.
        member_anonymised.connect(lambda sender, *, member, **kwargs: account_forfeit(member=member),
                                  dispatch_uid="ledger.account_forfeit", weak=False)
