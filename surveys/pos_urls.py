from django.urls import path

from . import apis

urlpatterns = [
    path("surveys/responses/", apis.SurveyResponseCreateApi.as_view(), name="pos-survey-response-create"),
]
