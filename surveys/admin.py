from django.contrib import admin

from loyalty.admin import ReadOnlyAdmin

from .models import FollowUpCase, Invitation, Response, Survey


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "program", "active", "starts_at", "ends_at", "bonus_points")
    list_filter = ("kind", "active", "program")
    search_fields = ("code", "name")


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ("survey", "member", "trigger", "status", "due_at", "sent_at", "answered_at")
    list_filter = ("status", "trigger", "channel")


@admin.register(Response)
class ResponseAdmin(ReadOnlyAdmin):
    list_display = ("survey", "score", "category", "channel", "answered_at", "incentivised")
    list_filter = ("survey", "category", "channel", "incentivised")


@admin.register(FollowUpCase)
class FollowUpCaseAdmin(admin.ModelAdmin):
    list_display = ("id", "program", "status", "assignee", "due_at", "created_at")
    list_filter = ("status", "program")
    raw_id_fields = ("response", "member")
