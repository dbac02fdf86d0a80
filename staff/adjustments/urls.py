from django.urls import path

from . import views

urlpatterns = [
    path("members/<uuid:member_id>/adjust/", views.adjustment_create, name="adjustment-create"),
    path("members/<uuid:member_id>/tier/", views.member_tier, name="member-action-tier"),
    path("members/<uuid:member_id>/status/", views.member_status, name="member-action-status"),
    path("members/<uuid:member_id>/anonymise/", views.member_anonymise, name="member-action-anonymise"),
    path("members/<uuid:member_id>/vouchers/<uuid:redemption_id>/cancel/", views.voucher_cancel,
         name="member-action-voucher-cancel"),
    path("members/<uuid:member_id>/vouchers/<uuid:redemption_id>/resend/", views.voucher_resend,
         name="member-action-voucher-resend"),
    path("approvals/", views.approvals, name="approvals"),
    path("approvals/<int:pk>/approve/", views.approval_approve, name="approval-approve"),
    path("approvals/<int:pk>/reject/", views.approval_reject, name="approval-reject"),
    path("adjustments/bulk/", views.bulk_upload, name="bulk-upload"),
    path("adjustments/bulk/post/", views.bulk_post, name="bulk-post"),
    path("adjustments/bulk/<slug:file_sha256>/", views.bulk_result, name="bulk-result"),
]
