"""The systemd notification protocol (sd_notify), without libsystemd.

systemd passes a socket path in $NOTIFY_SOCKET. Each notification is one
datagram of newline-separated KEY=VALUE lines sent to that AF_UNIX socket.
A path starting with "@" names a socket in the abstract namespace, written
with a leading NUL byte (sd_notify(3), systemd 252).
"""

import logging
import os
import socket
import time

LOG = logging.getLogger(__name__)


def notify_address(path):
    """Return the socket address for a $NOTIFY_SOCKET value."""
    if path.startswith("@"):
        return "\0" + path[1:]
    return path


def format_state(fields):
    """Format notification fields as the datagram sd_notify sends."""
    lines = []
    for key, value in fields.items():
        text = str(value)
        if "\n" in text:
            raise ValueError(f"notification value for {key} contains a newline")
        lines.append(f"{key}={text}")
    return "\n".join(lines).encode("utf-8")


def watchdog_interval(environ=None, pid=None):
    """Return the watchdog timeout in seconds, or None if it is not enabled.

    systemd sets WATCHDOG_USEC when the unit has WatchdogSec=, and
    WATCHDOG_PID to the process that must send the pings. A WATCHDOG_PID of
    another process means the watchdog is not ours.
    """
    environ = os.environ if environ is None else environ
    pid = os.getpid() if pid is None else pid
    usec = environ.get("WATCHDOG_USEC")
    if not usec:
        return None
    watchdog_pid = environ.get("WATCHDOG_PID")
    if watchdog_pid and watchdog_pid != str(pid):
        return None
    try:
        seconds = int(usec) / 1_000_000
    except ValueError:
        LOG.warning("Ignoring invalid WATCHDOG_USEC=%r", usec)
        return None
    return seconds if seconds > 0 else None


class Notifier:
    """A sender of systemd notifications; a no-op outside systemd."""

    def __init__(self, environ=None, clock=time.monotonic):
        environ = os.environ if environ is None else environ
        path = environ.get("NOTIFY_SOCKET")
        self._address = notify_address(path) if path else None
        self._socket = None
        self._clock = clock
        self._interval = watchdog_interval(environ)
        self._last_ping = None
        self._last_status = None
        self._failed = False

    @property
    def enabled(self):
        return self._address is not None

    @property
    def watchdog_timeout(self):
        """Watchdog timeout in seconds, or None."""
        return self._interval

    def send(self, **fields):
        """Send one notification. Return True if it was sent.

        A failed send is logged once and never raised, because losing a
        status line must not stop task processing. A missed watchdog ping
        still lets systemd act.
        """
        if self._address is None or not fields:
            return False
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._socket.sendto(format_state(fields), self._address)
        except OSError as exc:
            if not self._failed:
                LOG.error("Failed to send systemd notification: %s", exc)
                self._failed = True
            return False
        self._failed = False
        return True

    def ready(self, status):
        self.send(READY=1, STATUS=status)
        self._last_status = status

    def status(self, status):
        """Send STATUS= if it differs from the last one sent."""
        if status != self._last_status:
            self.send(STATUS=status)
            self._last_status = status

    def stopping(self, status):
        self.send(STOPPING=1, STATUS=status)
        self._last_status = status

    def ping_watchdog(self):
        """Send WATCHDOG=1 if half the watchdog timeout has passed.

        Call it only from the consumer loop, so pings stop when that loop
        stops making progress.
        """
        if self._interval is None:
            return
        now = self._clock()
        if self._last_ping is None or now - self._last_ping >= self._interval / 2:
            self.send(WATCHDOG=1)
            self._last_ping = now

    def close(self):
        if self._socket is not None:
            self._socket.close()
            self._socket = None
