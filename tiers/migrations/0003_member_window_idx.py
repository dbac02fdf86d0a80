from django.db import migrations, models

from loyalty.migration_operations import AddIndexOnline, RemoveIndexOnline


class Migration(migrations.Migration):
    atomic = False  # CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("tiers", "0002_lean_indexes"),
    ]

    # The new index first, so a member's window always has one to be summed from.
    operations = [
        AddIndexOnline(
            model_name="qualifyingactivity",
            index=models.Index(fields=["member", "occurred_at"], include=("points", "spend", "credits"),
                               name="qualifying_member_window_idx"),
        ),
        RemoveIndexOnline(model_name="qualifyingactivity", name="qualifying_member_time_idx"),
    ]
