"""Short-lived per-process memos of a program's configuration, read by every POS request.

A ``ProgramMemo`` keeps what its loader answered for a program for ``PROGRAM_CONFIG_CACHE_SECONDS``
(default 5; 0 turns memos off). Saving or deleting one of the models it is built from forgets the
program's entry in this process at once, and again when that transaction commits (so a request that
read the old rows in between does not keep them). Other processes learn of a change when their entry
expires: **a committed configuration change reaches every process within that many seconds.**

Callers only use a memo where being that many seconds late is harmless or is checked against the
database before it matters (see each memo's use).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save

DEFAULT_SECONDS = 5


def memo_seconds() -> float:
    return getattr(settings, "PROGRAM_CONFIG_CACHE_SECONDS", DEFAULT_SECONDS)


class ProgramMemo:
    def __init__(self, name: str, load: Callable, models: tuple, program_id_of: Callable = lambda row: row.program_id):
        self.name = name
        self._load = load
        self._entries: dict = {}
        self._lock = threading.Lock()
        self._program_id_of = program_id_of
        for model in models:
            post_save.connect(self._changed, sender=model, weak=False, dispatch_uid=f"memo:{name}:{model.__name__}:s")
            post_delete.connect(self._changed, sender=model, weak=False,
                                dispatch_uid=f"memo:{name}:{model.__name__}:d")

    def get(self, program_id):
        seconds = memo_seconds()
        if seconds <= 0:
            return self._load(program_id)
        now = time.monotonic()
        entry = self._entries.get(program_id)
        if entry is not None and entry[0] > now:
            return entry[1]
        value = self._load(program_id)
        with self._lock:
            self._entries[program_id] = (now + seconds, value)
        return value

    def forget(self, program_id=None) -> None:
        with self._lock:
            if program_id is None:
                self._entries.clear()
            else:
                self._entries.pop(program_id, None)

    def _changed(self, sender, instance, **kwargs):
        program_id = self._program_id_of(instance)
        self.forget(program_id)
        transaction.on_commit(lambda: self.forget(program_id), using=kwargs.get("using"))
