"""Index changes that do not stop writes: ``CREATE``/``DROP INDEX CONCURRENTLY`` on PostgreSQL.

A plain ``CREATE INDEX`` holds every insert into the table for as long as the build takes, minutes on a
ledger of a few million rows, while tills keep posting. The concurrent forms cannot run inside a
transaction: a migration using these operations sets ``atomic = False``.
"""

from django.db import migrations


class _Online:
    def _apply(self, schema_editor, state, app_label: str, method: str, index) -> None:
        model = state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            getattr(schema_editor, method)(model, index, concurrently=True)


class AddIndexOnline(_Online, migrations.AddIndex):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        self._apply(schema_editor, to_state, app_label, "add_index", self.index)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        self._apply(schema_editor, from_state, app_label, "remove_index", self.index)


class RemoveIndexOnline(_Online, migrations.RemoveIndex):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        index = from_state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
        self._apply(schema_editor, from_state, app_label, "remove_index", index)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        index = to_state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
        self._apply(schema_editor, to_state, app_label, "add_index", index)
