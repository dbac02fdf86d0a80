from django.urls import path

from . import apis

# The member object's endpoints are served here, not by members: see tiers/apis.py. Lookup before detail,
# which would take "lookup" for an id.
urlpatterns = [
    path("members/", apis.MemberEnrolApi.as_view(), name="pos-member-enrol"),
    path("members/lookup/", apis.MemberLookupApi.as_view(), name="pos-member-lookup"),
    path("members/<str:member_id>/", apis.MemberDetailApi.as_view(), name="pos-member-detail"),
    path("members/<str:member_id>/tier/", apis.MemberTierProgressApi.as_view(), name="pos-member-tier"),
]
