from django.urls import path

from . import apis

urlpatterns = [
    path("members/", apis.MemberEnrolApi.as_view(), name="pos-member-enrol"),
    path("members/lookup/", apis.MemberLookupApi.as_view(), name="pos-member-lookup"),
    path("members/<str:member_id>/", apis.MemberDetailApi.as_view(), name="pos-member-detail"),
]
