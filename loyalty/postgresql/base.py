"""Django's PostgreSQL backend, with a health check that needs no round trip.

With ``CONN_HEALTH_CHECKS`` Django checks a reused connection at the start of every request by sending
``SELECT 1``: one more round trip per POS call, a tenth of a member lookup's. A connection the server
has ended (restart, ``pg_terminate_backend``, idle timeout) has a socket with something to read: the
server's goodbye or the end of the stream. An idle, healthy one has nothing. So a connection is asked
with ``SELECT 1`` only when its socket is readable or it is not idle; otherwise it is usable.
"""

import select

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
        connection = self.connection
        if connection is None or connection.closed:
            return False
        if connection.info.transaction_status == TransactionStatus.IDLE:
            try:
                readable, _, _ = select.select([connection.fileno()], [], [], 0)
            except (OSError, ValueError):
                return False
            if not readable:
                return True
        return super().is_usable()
