from django.apps import AppConfig


class ProgramsConfig(AppConfig):
    name = "programs"
    verbose_name = "Programs, stores and POS keys"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from .models import Program, Store, StoreApiKey
        from .selectors import api_key_cache_forget, api_key_cache_seconds, api_key_hashes_of_store

        # Cached POS key lookups carry their store and program: a key edited (revoked in the admin,
        # say), a store changed (deactivated) or a program changed (its earn policy) is forgotten
        # at once, however the change was made.
        def key_changed(sender, instance, **kwargs):
            if api_key_cache_seconds():
                api_key_cache_forget(key_hashes=[instance.key_hash])

        def store_changed(sender, instance, **kwargs):
            if api_key_cache_seconds():
                api_key_cache_forget(key_hashes=api_key_hashes_of_store(store_id=instance.pk))

        def program_changed(sender, instance, **kwargs):
            if api_key_cache_seconds():
                api_key_cache_forget(key_hashes=api_key_hashes_of_store(program_id=instance.pk))

        for signal, sender, receiver in ((post_save, StoreApiKey, key_changed), (post_delete, StoreApiKey, key_changed),
                                         (post_save, Store, store_changed), (post_save, Program, program_changed)):
            # weak=False: these functions live only in this method
            signal.connect(receiver, sender=sender, weak=False,
                           dispatch_uid=f"programs.pos_key_cache.{sender.__name__}.{signal is post_save}")
