from django.contrib import admin

from .models import Member


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ("card_number", "email", "first_name", "last_name", "program", "status", "enrolled_at")
    list_filter = ("program", "status", "marketing_opt_in")
    search_fields = ("card_number", "email", "phone", "last_name")
    readonly_fields = ("id", "card_number", "referral_code", "enrolled_at", "marketing_opt_in_at")
    raw_id_fields = ("referred_by", "user", "enrolled_store")
