from django.urls import path

from . import views

# /staff/members/<id>/tier/ is the tier assignment (staff.adjustments): the tier's explanation lives below it.
urlpatterns = [
    path("members/", views.member_search_page, name="members"),
    path("members/<uuid:member_id>/", views.member_detail, name="member"),
    path("members/<uuid:member_id>/purchases/<uuid:purchase_id>/", views.purchase_explain_page,
         name="member-purchase"),
    path("members/<uuid:member_id>/tier/explain/", views.tier_explain_page, name="member-tier-explain"),
    path("members/<uuid:member_id>/statement/<int:transaction_id>/", views.member_statement_entry,
         name="member-statement-entry"),
]
