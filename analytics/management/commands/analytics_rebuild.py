"""Roll up every day of one program, or of all, from the first ledger entry to today."""

from django.core.management.base import BaseCommand

from analytics.services import rollup_rebuild
from programs.models import Program


class Command(BaseCommand):
    help = "Rebuild the analytics daily rollups from the ledger, purchases and enrolments, and check them."

    def add_arguments(self, parser):
        parser.add_argument("--program", help="The program's slug (default: every program).")

    def handle(self, *args, program=None, **options):
        programs = Program.objects.order_by("slug")
        if program:
            programs = programs.filter(slug=program)
            if not programs.exists():
                self.stderr.write(f"No program {program!r}.")
                raise SystemExit(2)
        failed = False
        for each in programs:
            run = rollup_rebuild(program=each)
            state = "agrees with the ledger" if not run.drift else f"DISAGREES for {', '.join(sorted(run.drift))}"
            failed |= bool(run.drift)
            self.stdout.write(f"{each.slug}: {run.first_day} to {run.last_day}, {run.rows} rows in "
                              f"{run.seconds:.2f} s, {state}")
        if failed:
            raise SystemExit(1)
