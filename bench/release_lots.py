"""Benchmark: release 1,000,000 pending lots across 200,000 members, batched, against one set-based statement.

    .venv/bin/python bench/release_lots.py [--members 200000] [--lots-per-member 5] [--batch-size 5000]

The same shape as ``bench/expire_lots.py`` (read its docstring): database ``loyalty_bench_release``, every
lot pending and past its ``available_at`` (none expiring soon, no debt), ``lots_release_due`` against
one data-modifying statement writing the same release transactions, entries, lot flags and balances.
"""

from expire_lots import main

if __name__ == "__main__":
    main("release")
