from django.urls import path

from . import accounts, give, recovery, rewards, views

app_name = "portal"

urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:program_slug>/", views.home, name="home"),
    path("<slug:program_slug>/brand.css", views.brand_css, name="brand-css"),
    path("<slug:program_slug>/logo", views.logo, name="logo"),
    path("<slug:program_slug>/login/", accounts.sign_in, name="login"),
    path("<slug:program_slug>/logout/", accounts.sign_out, name="logout"),
    path("<slug:program_slug>/signup/", accounts.sign_up, name="signup"),
    path("<slug:program_slug>/password/reset/", recovery.password_reset, name="password-reset"),
    path("<slug:program_slug>/password/reset/sent/", recovery.password_reset_sent, name="password-reset-sent"),
    path("<slug:program_slug>/password/reset/<str:uid>/<str:token>/", recovery.password_reset_confirm,
         name="password-reset-confirm"),
    path("<slug:program_slug>/claim/", recovery.claim, name="claim"),
    path("<slug:program_slug>/claim/sent/", recovery.claim_sent, name="claim-sent"),
    path("<slug:program_slug>/claim/<str:token>/", recovery.claim_confirm, name="claim-confirm"),
    path("<slug:program_slug>/email/confirm/", recovery.email_confirm_send, name="email-confirm-send"),
    path("<slug:program_slug>/email/confirm/<str:token>/", recovery.email_confirm, name="email-confirm"),
    path("<slug:program_slug>/activity/", views.activity, name="activity"),
    path("<slug:program_slug>/rewards/", rewards.rewards, name="rewards"),
    path("<slug:program_slug>/rewards/<str:code>/image", rewards.reward_image, name="reward-image"),
    path("<slug:program_slug>/rewards/<str:code>/redeem/", rewards.redeem, name="redeem"),
    path("<slug:program_slug>/vouchers/", rewards.vouchers, name="vouchers"),
    path("<slug:program_slug>/vouchers/<str:code>/", rewards.voucher, name="voucher"),
    path("<slug:program_slug>/vouchers/<str:code>/undo/", rewards.voucher_undo, name="voucher-undo"),
    path("<slug:program_slug>/give/", give.give, name="give"),
    path("<slug:program_slug>/give/transfer/", give.transfer, name="give-transfer"),
    path("<slug:program_slug>/give/transfer/confirm/", give.transfer_confirm, name="give-transfer-confirm"),
    path("<slug:program_slug>/give/transfer/<uuid:key>/", give.transfer_done, name="give-transfer-done"),
    path("<slug:program_slug>/give/causes/<str:code>/", give.cause, name="give-cause"),
    path("<slug:program_slug>/give/causes/<str:code>/image", give.cause_image, name="give-cause-image"),
    path("<slug:program_slug>/give/claim/", give.claim, name="give-claim"),
    path("<slug:program_slug>/give/claim/<uuid:purchase_id>/", give.claim_done, name="give-claim-done"),
    path("<slug:program_slug>/give/refer/", give.refer, name="give-refer"),
]
