import uuid

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("ledger", "0003_ledgerentry_public_id_fill"),
    ]

    operations = [
        migrations.AlterField(
            model_name="ledgerentry",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True,
                                   help_text="The entry's id in the API (public identifiers are UUIDs)."),
        ),
    ]
