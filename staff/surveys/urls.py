from django.urls import path

from . import campaigns, cases, pages

# /staff/surveys/: the cases come first, so no survey can take their address (surveys are named by id).
urlpatterns = [
    path("", pages.survey_list, name="surveys"),
    path("new/", pages.survey_new, name="survey-new"),
    path("cases/", cases.case_list, name="cases"),
    path("cases/<uuid:case_id>/", cases.case_page, name="case"),
    path("cases/<uuid:case_id>/work/", cases.case_work, name="case-work"),
    path("cases/<uuid:case_id>/goodwill/", cases.case_goodwill, name="case-goodwill"),
    path("cases/<uuid:case_id>/topics/", cases.case_topics, name="case-topics"),
    path("<uuid:survey_id>/", pages.survey_page, name="survey"),
    path("<uuid:survey_id>/edit/", pages.survey_edit, name="survey-edit"),
    path("<uuid:survey_id>/campaign/", campaigns.survey_campaign, name="survey-campaign"),
]
