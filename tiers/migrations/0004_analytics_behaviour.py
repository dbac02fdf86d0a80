from django.db import migrations, models

from loyalty.migration_operations import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ('tiers', '0003_member_window_idx'),
    ]

    operations = [
        AddIndexOnline(
            model_name='tierchange',
            index=models.Index(fields=['program', 'created_at'], name='tier_change_program_time_idx'),
        ),
    ]
