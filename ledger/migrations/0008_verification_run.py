from django.contrib.postgres.indexes import BrinIndex
from django.db import migrations, models

from loyalty.migration_operations import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("ledger", "0007_admin_names"),
    ]

    operations = [
        migrations.CreateModel(
            name="VerificationRun",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("trigger", models.CharField(choices=[("task", "Nightly task"), ("command", "Command")],
                                             max_length=16)),
                ("started_at", models.DateTimeField()),
                ("finished_at", models.DateTimeField()),
                ("accounts_checked", models.BigIntegerField(default=0)),
                ("lots_checked", models.BigIntegerField(default=0)),
                ("accounts_drifted", models.IntegerField(default=0)),
                ("lots_drifted", models.IntegerField(default=0)),
                ("programs", models.JSONField(blank=True, default=dict)),
                ("drift", models.JSONField(blank=True, default=list)),
            ],
            options={
                "ordering": ["-finished_at", "-id"],
                "indexes": [models.Index(fields=["-finished_at", "-id"], name="verification_run_latest_idx")],
            },
        ),
        # The ledger's entries by booking time (the staff home's figures per day): a block-range index,
        # built without holding up the tills' inserts.
        AddIndexOnline(
            model_name="ledgerentry",
            index=BrinIndex(fields=["created_at"], name="entry_booked_brin_idx"),
        ),
    ]
