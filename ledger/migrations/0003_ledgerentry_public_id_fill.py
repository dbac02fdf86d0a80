import uuid

from django.db import migrations


def fill_public_ids(apps, schema_editor):
    LedgerEntry = apps.get_model("ledger", "LedgerEntry")
    while True:
        batch = list(LedgerEntry.objects.filter(public_id__isnull=True).only("pk")[:5000])
        if not batch:
            break
        for entry in batch:
            entry.public_id = uuid.uuid4()
        LedgerEntry.objects.bulk_update(batch, ["public_id"])


class Migration(migrations.Migration):

    dependencies = [
        ("ledger", "0002_ledgerentry_public_id"),
    ]

    operations = [
        migrations.RunPython(fill_public_ids, migrations.RunPython.noop),
    ]
