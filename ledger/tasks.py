import logging

from celery import shared_task

from .selectors import ledger_verify_report

logger = logging.getLogger(__name__)


@shared_task(name="ledger.tasks.ledger_verify", acks_late=True)
def ledger_verify() -> dict:
    """Recompute every balance from the entries and the lots; log any drift (read-only, safe to repeat)."""
    report = ledger_verify_report()
    for account in report.accounts:
        logger.error("ledger drift: account %s (member %s): %s", account["account"], account["member"],
                     account["problems"])
    for lot in report.lots:
        logger.error("ledger drift: lot %s (account %s): %s", lot["lot"], lot["account"], lot["problems"])
    summary = {"accounts_checked": report.accounts_checked, "lots_checked": report.lots_checked,
               "accounts_drifted": len(report.accounts), "lots_drifted": len(report.lots)}
    logger.info("ledger verify: %s", summary)
    return summary
