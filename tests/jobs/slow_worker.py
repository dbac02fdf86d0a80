"""A Celery worker whose expiry batches hold their transaction open a while before committing, so that a
test can kill it with a batch in flight: ``python -m tests.jobs.slow_worker -A loyalty worker …``."""

import sys
import time

from celery.__main__ import main
from celery.signals import worker_ready

HOLD_SECONDS = 2.0


@worker_ready.connect
def _hold_each_expiry_batch_open(**kwargs):
    from ledger import services

    publish = services._expired_publish

    def publish_then_hold(account_ids, *, now):  # the last step inside the batch's transaction
        publish(account_ids, now=now)
        time.sleep(HOLD_SECONDS)

    services._expired_publish = publish_then_hold


if __name__ == "__main__":
    sys.argv[0] = "celery"
    main()
