"""Surveys in the Django admin: staff define surveys here until the staff dashboard has pages for them; answers,
invitations and cases are facts, read here and changed only through ``surveys.services``."""

from django import forms
from django.contrib import admin

from loyalty.admin import ReadOnlyAdmin, ReadOnlyInline
from loyalty.errors import DomainError

from .models import FollowUpCase, FollowUpCaseChange, Invitation, Response, Survey, Topic
from .services import extra_questions_check


class SurveyForm(forms.ModelForm):
    class Meta:
        model = Survey
        fields = ["program", "code", "name", "kind", "question_en", "question_de", "follow_up_en", "follow_up_de",
                  "extra_questions", "active", "starts_at", "ends_at", "bonus_points", "on_purchase", "on_redemption",
                  "on_tier_change", "sampling_rate", "delay_minutes", "cooldown_days", "invitation_days",
                  "reply_target_business_days"]

    def clean_extra_questions(self):
        try:
            return extra_questions_check(self.cleaned_data.get("extra_questions") or [])
        except DomainError as error:
            raise forms.ValidationError(error.detail.partition(": ")[2]) from None


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    form = SurveyForm
    list_display = ("code", "name", "kind", "program", "active", "starts_at", "ends_at", "bonus_points")
    list_filter = ("kind", "active", "program")
    list_select_related = ("program",)
    search_fields = ("code", "name")


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ("survey", "member", "trigger", "status", "due_at", "sent_at", "answered_at")
    list_filter = ("status", "trigger", "channel")
    list_select_related = ("survey", "member")


@admin.register(Response)
class ResponseAdmin(ReadOnlyAdmin):
    list_display = ("survey", "score", "category", "channel", "answered_at", "incentivised")
    list_filter = ("survey", "category", "channel", "incentivised")
    list_select_related = ("survey",)


class FollowUpCaseChangeInline(ReadOnlyInline):
    model = FollowUpCaseChange
    fields = ("created_at", "actor_name", "from_status", "to_status", "assignee_name", "note")


@admin.register(FollowUpCase)
class FollowUpCaseAdmin(ReadOnlyAdmin):
    list_display = ("member", "status", "assignee", "due_at", "created_at")
    list_filter = ("status", "program")
    list_select_related = ("member", "assignee")
    inlines = [FollowUpCaseChangeInline]


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ("name", "program", "created_at")
    list_filter = ("program",)
    search_fields = ("name",)
