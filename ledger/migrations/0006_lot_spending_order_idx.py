from django.db import migrations, models

from loyalty.migration_operations import AddIndexOnline, RemoveIndexOnline


class Migration(migrations.Migration):
    atomic = False  # CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("ledger", "0005_lot_pending_due_idx"),
    ]

    # The new index first, so spends and due-lot reads always have one to range over.
    operations = [
        AddIndexOnline(
            model_name="pointslot",
            index=models.Index(condition=models.Q(("remaining__gt", 0)),
                               fields=["account", "expires_at", "earned_at", "id"], name="lot_spending_order_idx"),
        ),
        RemoveIndexOnline(model_name="pointslot", name="lot_spend_order_idx"),
    ]
