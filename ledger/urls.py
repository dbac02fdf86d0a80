from django.urls import path

from . import apis

urlpatterns = [
    path("members/<str:member_id>/activity/", apis.LedgerActivityApi.as_view(), name="pos-member-activity"),
]
