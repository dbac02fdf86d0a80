from django.urls import path

from . import accounts, rewards, views

app_name = "portal"

urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:program_slug>/", views.home, name="home"),
    path("<slug:program_slug>/brand.css", views.brand_css, name="brand-css"),
    path("<slug:program_slug>/logo", views.logo, name="logo"),
    path("<slug:program_slug>/login/", accounts.sign_in, name="login"),
    path("<slug:program_slug>/logout/", accounts.sign_out, name="logout"),
    path("<slug:program_slug>/signup/", accounts.sign_up, name="signup"),
    path("<slug:program_slug>/activity/", views.activity, name="activity"),
    path("<slug:program_slug>/rewards/", rewards.rewards, name="rewards"),
    path("<slug:program_slug>/rewards/<str:code>/image", rewards.reward_image, name="reward-image"),
    path("<slug:program_slug>/rewards/<str:code>/redeem/", rewards.redeem, name="redeem"),
    path("<slug:program_slug>/vouchers/", rewards.vouchers, name="vouchers"),
    path("<slug:program_slug>/vouchers/<str:code>/", rewards.voucher, name="voucher"),
    path("<slug:program_slug>/vouchers/<str:code>/undo/", rewards.voucher_undo, name="voucher-undo"),
]
