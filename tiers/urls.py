from django.urls import path

from . import apis

urlpatterns = [
    path("members/<str:member_id>/tier/", apis.MemberTierProgressApi.as_view(), name="pos-member-tier"),
]
