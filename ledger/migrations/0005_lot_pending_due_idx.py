from django.db import migrations, models

from loyalty.migration_operations import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("ledger", "0004_ledgerentry_public_id_unique"),
    ]

    operations = [
        AddIndexOnline(
            model_name="pointslot",
            index=models.Index(condition=models.Q(("released", False)), fields=["account", "available_at"],
                               name="lot_pending_due_idx"),
        ),
    ]
