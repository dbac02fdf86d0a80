import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

from loyalty.migration_operations import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction: enrolments go on meanwhile

    dependencies = [
        ("members", "0001_initial"),
    ]

    operations = [
        TrigramExtension(),  # pg_trgm is a trusted extension: the database owner may create it
        AddIndexOnline(
            model_name="member",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.indexes.OpClass(
                    django.db.models.functions.text.Lower(
                        django.db.models.functions.text.Concat("first_name", models.Value(" "), "last_name")),
                    name="gin_trgm_ops"),
                name="member_name_trgm_idx"),
        ),
        AddIndexOnline(
            model_name="member",
            index=models.Index(
                models.F("program"),
                django.contrib.postgres.indexes.OpClass(django.db.models.functions.text.Lower("email"),
                                                        name="text_pattern_ops"),
                name="member_email_prefix_idx"),
        ),
        AddIndexOnline(
            model_name="member",
            index=models.Index(models.F("program"),
                               django.contrib.postgres.indexes.OpClass("card_number", name="text_pattern_ops"),
                               name="member_card_prefix_idx"),
        ),
    ]
