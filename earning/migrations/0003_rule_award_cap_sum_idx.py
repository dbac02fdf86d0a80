from django.db import migrations, models

from loyalty.migration_operations import AddIndexOnline, RemoveIndexOnline


class Migration(migrations.Migration):
    atomic = False  # CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("earning", "0002_earning_rules_events_awards"),
    ]

    # The new index first, so a cap's total always has one to be summed from.
    operations = [
        AddIndexOnline(
            model_name="ruleaward",
            index=models.Index(fields=["rule", "member", "occurred_at"], include=("points",),
                               name="rule_award_cap_sum_idx"),
        ),
        RemoveIndexOnline(model_name="ruleaward", name="rule_award_cap_idx"),
    ]
