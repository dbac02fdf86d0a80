from django.urls import path

from . import views

urlpatterns = [
    path("surveys/", views.survey_scores, name="surveys"),
    path("cases/", views.cases, name="cases"),
    path("cases/<uuid:pk>/", views.case_detail, name="case"),
    path("cases/<uuid:pk>/topics/", views.case_topics, name="case-topics"),
]
