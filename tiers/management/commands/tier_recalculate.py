from django.core.management.base import BaseCommand, CommandError

from programs.models import Program
from tiers.tasks import tier_recalculate_program


class Command(BaseCommand):
    help = "Recalculate members' tiers (upgrades and the program's downgrade policy) for one program or all."

    def add_arguments(self, parser):
        parser.add_argument("--program", help="Program slug; all programs when omitted.")

    def handle(self, *args, program=None, **options):
        programs = Program.objects.order_by("slug")
        if program:
            programs = programs.filter(slug=program)
            if not programs.exists():
                raise CommandError(f"No program with slug {program!r}.")
        for item in programs:
            summary = tier_recalculate_program(str(item.pk))
            self.stdout.write(f"{item.slug}: {summary['upgrades']} raised, {summary['downgrades']} downgraded, "
                              f"{summary['updated']} status rows updated in {summary['batches']} batch(es).")
