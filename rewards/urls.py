from django.urls import path

from . import apis

urlpatterns = [
    path("rewards/", apis.RewardListApi.as_view(), name="pos-reward-list"),
    path("redemptions/", apis.RedemptionCreateApi.as_view(), name="pos-redemption-create"),
    path("redemptions/<str:redemption_id>/cancel/", apis.RedemptionCancelApi.as_view(),
         name="pos-redemption-cancel"),
    path("vouchers/<str:code>/", apis.VoucherDetailApi.as_view(), name="pos-voucher-detail"),
    path("vouchers/<str:code>/use/", apis.VoucherUseApi.as_view(), name="pos-voucher-use"),
]
