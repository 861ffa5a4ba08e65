"""A worker's database connection, kept from one read request to the next.

A keyed read of a tracker, a tracking page and an embed each take a pooled
connection for one short transaction and give it back. Taking and giving
back (a Connection object, the pool's checkout with its listener, the
checkin with its reset) was a tenth of such a request's CPU, for nothing:
a worker serves one request at a time per thread. So each thread keeps
the connection its last request used, outside any transaction, and the
next request takes it back without the pool.

What the pool did at checkout still happens where it matters: a connection
kept longer than ``tracee.db.ping_after_idle_seconds`` goes back to the
pool, whose checkout pings it (tracee.db.ping_after_idle); one that failed
(invalidated) is dropped; one inherited across a fork is left to the parent.
Threads are expected to live as long as their server (gunicorn's sync
worker, waitress's pool): a thread that ends with a connection kept leaves
it to the garbage collector, which SQLAlchemy then drops with a warning.
"""

import os
import threading
import time


class ConnectionKeeper:
    def __init__(self, engine, idle_seconds: float = 0):
        self.engine = engine
        self.idle_seconds = idle_seconds  # 0: kept however long it sat
        self._local = threading.local()

    def take(self):
        """The kept connection if it may serve, else a new one from the pool."""
        kept = getattr(self._local, "kept", None)
        if kept is not None:
            self._local.kept = None
            connection, pid, since = kept
            if pid != os.getpid():
                pass  # the parent's socket: neither used nor closed here
            elif connection.invalidated or (
                self.idle_seconds and time.monotonic() - since >= self.idle_seconds
            ):
                connection.close()  # back to the pool, which checks it on checkout
            else:
                return connection
        return self.engine.connect()

    def give_back(self, connection) -> None:
        """Keep ``connection`` for the thread's next request, its transaction ended
        (rolled back if still open); close it if it failed or one is kept already."""
        if connection.closed:
            return
        try:
            if connection.in_transaction():
                connection.rollback()
        except BaseException:
            connection.close()
            raise
        if connection.invalidated or getattr(self._local, "kept", None) is not None:
            connection.close()
            return
        self._local.kept = (connection, os.getpid(), time.monotonic())

    def release(self) -> None:
        """Return this thread's kept connection to the pool (before disposing of it)."""
        kept = getattr(self._local, "kept", None)
        self._local.kept = None
        if kept is not None and kept[1] == os.getpid():
            kept[0].close()
