"""Admin bases for records that are facts: ledger rows, receipts, deliveries, history.

Staff read them in the admin; only services write them (corrections are new records).
"""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return self.fields or ()


def titled(title: str) -> type[admin.FieldListFilter]:
    """A field's usual list filter under a title people read: ``("applies_to", titled("rule type"))``."""

    class TitledFieldListFilter(admin.FieldListFilter):
        def __new__(cls, field, request, params, model, model_admin, field_path):
            list_filter = admin.FieldListFilter.create(field, request, params, model, model_admin, field_path)
            list_filter.title = title
            return list_filter

    return TitledFieldListFilter


def flag_column(field_name: str, heading: str):
    """A yes/no column under a heading people read ("active", not "is active")."""

    @admin.display(description=heading, boolean=True, ordering=field_name)
    def column(obj) -> bool:
        return getattr(obj, field_name)

    column.__name__ = f"{field_name}_column"
    return column


def flag_filter(field_name: str, title: str, yes: str, no: str) -> type[admin.SimpleListFilter]:
    """A yes/no field's list filter that names both sides: "By status: Active / Inactive", not "By is active"."""

    class FlagFilter(admin.SimpleListFilter):
        parameter_name = field_name

        def lookups(self, request, model_admin):
            return [("1", yes), ("0", no)]

        def queryset(self, request, queryset):
            if self.value() in ("1", "0"):
                return queryset.filter(**{field_name: self.value() == "1"})
            return queryset

    FlagFilter.title = title
    return FlagFilter
