from django.core.management.base import BaseCommand, CommandError

from loyalty.errors import DomainError
from programs.demo import DEMO_MEMBER_PASSWORD, DEMO_STAFF_PASSWORD, DEMO_STAFF_USERNAME, demo_seed
from programs.demo_history import demo_history_seed


class Command(BaseCommand):
    help = "Create the demo program, store, POS key and members (a second run leaves them as they are)."

    def add_arguments(self, parser):
        parser.add_argument("--api-key", help="Use this POS key for the store (default: generate one, once).")
        parser.add_argument("--program", default="demo", help="Program slug (default: demo).")
        parser.add_argument("--store", default="DEMO-001", help="Store code (default: DEMO-001).")
        parser.add_argument("--history", action="store_true",
                            help="Also give the program fourteen months of members, purchases, redemptions and "
                                 "survey answers (once), so the dashboard and analytics have something to show.")

    def handle(self, *args, **options):
        try:
            result = demo_seed(program_slug=options["program"], store_code=options["store"],
                               api_key=options["api_key"])
        except DomainError as error:
            raise CommandError(error.detail) from None
        out = self.stdout
        verb = "Created" if result.created_program else "Kept"
        out.write(f"{verb} program '{result.program.slug}' ({result.program.currency}), store {result.store.code}.")
        if result.new_key:
            out.write(self.style.WARNING(f"POS API key (shown once, keep it): {result.new_key}"))
        elif options["api_key"]:
            out.write("POS API key: the one given with --api-key.")
        else:
            prefixes = ", ".join(f"{p}…" for p in result.existing_key_prefixes)
            out.write(f"The store already has POS keys ({prefixes}); keys are shown only when created.")
        out.write(f"Demo members (portal login: email + password '{DEMO_MEMBER_PASSWORD}'):")
        for member in result.members:
            out.write(f"  {member.first_name:<8} {member.email:<28} card {member.card_number}")
        out.write(f"Staff dashboard (/staff/): {DEMO_STAFF_USERNAME} / {DEMO_STAFF_PASSWORD} (every program); "
                  f"{result.program.slug}-manager / demo-manager-2026, {result.program.slug}-agent / "
                  f"demo-agent-2026, {result.program.slug}-analyst / demo-analyst-2026")
        if options["history"]:
            told = demo_history_seed(program=result.program, store=result.store)
            if told is None:
                out.write("The program already has its history.")
            else:
                out.write(f"The history: {told.members} members, {told.purchases} purchases (and "
                          f"{told.guest_purchases} by guests), {told.returns} returns, {told.redemptions} redemptions, "
                          f"{told.answers} survey answers.")
