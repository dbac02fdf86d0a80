"""Configuration pages under /staff/settings/: analysts read them, managers change them."""

from django.urls import path

from . import program, rewards, stores, tiers

urlpatterns = [
    path("", program.program_settings, name="settings"),
    path("logo/", program.program_logo, name="settings-logo"),
    path("stores/", stores.store_list, name="settings-stores"),
    path("stores/<uuid:store_id>/", stores.store_detail, name="settings-store"),
    path("stores/<uuid:store_id>/deactivate/", stores.store_activation, {"active": False},
         name="settings-store-deactivate"),
    path("stores/<uuid:store_id>/reactivate/", stores.store_activation, {"active": True},
         name="settings-store-reactivate"),
    path("stores/<uuid:store_id>/keys/", stores.api_key_new, name="settings-key-create"),
    path("stores/<uuid:store_id>/keys/<int:key_id>/revoke/", stores.api_key_revoke_confirm,
         name="settings-key-revoke"),
    path("tiers/", tiers.tier_list, name="settings-tiers"),
    path("tiers/policy/", tiers.tier_policy_change, name="settings-tier-policy"),
    path("tiers/new/", tiers.tier_new, name="settings-tier-create"),
    path("tiers/<int:tier_id>/", tiers.tier_edit, name="settings-tier"),
    path("rewards/", rewards.reward_list, name="settings-rewards"),
    path("rewards/new/", rewards.reward_new, name="settings-reward-create"),
    path("rewards/<uuid:reward_id>/", rewards.reward_edit, name="settings-reward"),
    path("rewards/<uuid:reward_id>/image/", rewards.reward_image, name="settings-reward-image"),
]
