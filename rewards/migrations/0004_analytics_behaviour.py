from django.db import migrations, models

from loyalty.migration_operations import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ('rewards', '0003_reward_restock_on'),
    ]

    operations = [
        AddIndexOnline(
            model_name='redemption',
            index=models.Index(fields=['program', 'issued_at'], name='redemption_program_issued_idx'),
        ),
    ]
