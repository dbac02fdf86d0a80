from django.db import migrations, models


def _online(schema_editor) -> dict:
    return {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}


class AddIndexOnline(migrations.AddIndex):
    """``CREATE INDEX CONCURRENTLY`` on PostgreSQL: purchases keep writing lots while a large table's index
    builds (a plain build would hold their inserts for its whole duration). A plain index elsewhere."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.add_index(model, self.index, **_online(schema_editor))

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, **_online(schema_editor))


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
