"""Messages are rendered by the worker that sends them: the outbox keeps the templates' context.

The rendered columns keep their names in the database (rows queued before this migration, already
rendered, are sent as they are); only the model's attributes are renamed.
"""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import migrations, models


def _renamed(old: str, new: str, field) -> list:
    return [migrations.RenameField("outbox", old, new), migrations.AlterField("outbox", new, field)]


class Migration(migrations.Migration):
    dependencies = [("notifications", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                *_renamed("subject", "rendered_subject",
                          models.CharField(max_length=300, blank=True, default="", db_column="subject")),
                *_renamed("text", "rendered_text", models.TextField(blank=True, default="", db_column="text")),
                *_renamed("html", "rendered_html", models.TextField(blank=True, default="", db_column="html")),
            ],
            database_operations=[],
        ),
        migrations.AddField("outbox", "context", models.JSONField(default=dict, blank=True, db_default={},
                                                                  encoder=DjangoJSONEncoder)),
    ]
