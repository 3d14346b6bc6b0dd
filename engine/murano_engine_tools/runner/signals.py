"""Signal handling: record signals now, act on them in the consumer loop.

A handler only appends the signal number to a deque. Logging or touching the
AMQP connection inside a handler could deadlock on a lock that the
interrupted code holds, so the consumer loop calls pop_pending() and acts.

What the runner does with each signal:
  SIGTERM, SIGINT  stop taking tasks, drain the tasks in hand, exit 0.
  SIGHUP           logged and ignored. The configuration is read only at
                   start, and a changed configuration takes a restart.
  SIGUSR1          log a report of the tasks in hand.
  SIGUSR2          logged and ignored.
  SIGPIPE          logged and ignored. The failed write raises its own error.
"""

import collections
import signal

STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})
REPORT_SIGNALS = frozenset({signal.SIGUSR1})
IGNORED_SIGNALS = frozenset({signal.SIGHUP, signal.SIGUSR2, signal.SIGPIPE})
HANDLED_SIGNALS = STOP_SIGNALS | REPORT_SIGNALS | IGNORED_SIGNALS


class SignalRecorder:
    """A queue of received signals, filled by the installed handlers."""

    def __init__(self):
        self._pending = collections.deque()
        self.stop_requested = False
        self._previous = {}

    def handle(self, signum, frame=None):
        """Record a signal. This is the handler installed for each signal."""
        if signum in STOP_SIGNALS:
            self.stop_requested = True
        self._pending.append(signum)

    def install(self, signals=HANDLED_SIGNALS):
        for signum in signals:
            self._previous[signum] = signal.signal(signum, self.handle)

    def restore(self):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def pop_pending(self):
        """Return and forget the signals received since the last call."""
        received = []
        while self._pending:
            received.append(self._pending.popleft())
        return received


def signal_name(signum):
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)
