from django.contrib import admin

from loyalty.admin import flag_filter

from .models import Member
from .services import member_consent_set


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ("card_number", "name", "email", "program", "status", "enrolled_at")
    list_filter = ("program", "status",
                   flag_filter("marketing_opt_in", "marketing consent", "Opted in", "Not opted in"))
    list_select_related = ("program",)
    search_fields = ("card_number", "email", "phone", "last_name")
    readonly_fields = ("id", "card_number", "referral_code", "enrolled_at", "marketing_opt_in_at",
                       "marketing_opt_in_source")
    raw_id_fields = ("referred_by", "user", "enrolled_store")

    @admin.display(description="name", ordering="last_name")
    def name(self, member: Member) -> str:
        return member.full_name

    def save_model(self, request, obj, form, change):
        # Consent changed here is given or withdrawn through the team: the service records when and where.
        wanted = obj.marketing_opt_in
        if "marketing_opt_in" in form.changed_data:
            obj.marketing_opt_in = not wanted  # saved as it was, then changed by the service
        super().save_model(request, obj, form, change)
        if obj.marketing_opt_in != wanted:
            member_consent_set(member=obj, marketing_opt_in=wanted, source="staff")
