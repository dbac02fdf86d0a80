from django.core.management.base import BaseCommand, CommandError

from programs.models import Store
from programs.services import api_key_create


class Command(BaseCommand):
    help = "Create a POS API key for a store and print it (it is shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("program", help="Program slug")
        parser.add_argument("store", help="Store code")
        parser.add_argument("--name", default="POS key", help="A label to recognise the key by")

    def handle(self, *args, **options):
        store = Store.objects.filter(program__slug=options["program"], code=options["store"]).first()
        if store is None:
            raise CommandError(f"No store {options['store']!r} in program {options['program']!r}.")
        api_key, raw_key = api_key_create(store=store, name=options["name"])
        self.stdout.write(f"Created key {api_key.prefix}… for {store.code}. Keep it now; it is not stored:")
        self.stdout.write(raw_key)
