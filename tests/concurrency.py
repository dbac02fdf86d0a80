"""Start calls at the same moment on their own threads and database connections (PostgreSQL races)."""

import threading

from django.db import connection


def run_together(calls) -> list[tuple[str, object]]:
    """Run every call at once; answers ("ok", result) or ("error", exception) per call, in order."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait(timeout=30)
            outcomes[index] = ("ok", call())
        except Exception as error:  # noqa: BLE001 - recorded and asserted on by the test
            outcomes[index] = ("error", error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker hung (deadlock?)"
    return outcomes


def results_of(outcomes) -> list:
    """The calls' results, after checking none of them raised."""
    errors = [value for status, value in outcomes if status == "error"]
    assert errors == []
    return [value for _, value in outcomes]


def race(count: int, action) -> list:
    """``action`` run ``count`` times at once (e.g. the same HTTP request from many tills)."""
    return results_of(run_together([action] * count))
