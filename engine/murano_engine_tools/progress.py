"""Show run progress: a bar on a terminal, periodic lines otherwise."""

import time

BAR_WIDTH = 30


class Progress:
    """Progress display of the tasks with a result out of ``total``.

    On a terminal it redraws one bar line on every update. Elsewhere, such
    as a log file or CI output, it prints a plain line at most every
    ``interval`` seconds.
    """

    def __init__(self, total, stream, is_terminal, interval=5.0, clock=time.monotonic):
        self._total = total
        self._stream = stream
        self._is_terminal = is_terminal
        self._interval = interval
        self._clock = clock
        self._started = clock()
        self._last_line_at = None

    def start(self):
        """Count elapsed time from now, when the first task is cast."""
        self._started = self._clock()

    def update(self, cast, done, failed):
        elapsed = self._clock() - self._started
        if self._is_terminal:
            self._stream.write("\r" + self._bar(cast, done, failed, elapsed))
            self._stream.flush()
            return

        now = self._clock()
        if self._last_line_at is None or now - self._last_line_at >= self._interval:
            self._last_line_at = now
            self._stream.write(self._line(cast, done, failed, elapsed) + "\n")
            self._stream.flush()

    def finish(self, cast, done, failed):
        """Write the final state and end the bar's line."""
        elapsed = self._clock() - self._started
        if self._is_terminal:
            self._stream.write("\r" + self._bar(cast, done, failed, elapsed) + "\n")
        else:
            self._stream.write(self._line(cast, done, failed, elapsed) + "\n")
        self._stream.flush()

    def _bar(self, cast, done, failed, elapsed):
        filled = BAR_WIDTH * done // self._total if self._total else BAR_WIDTH
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        return (
            f"[{bar}] {done}/{self._total} done, {failed} failed, "
            f"{cast} cast, {elapsed:.1f} s"
        )

    def _line(self, cast, done, failed, elapsed):
        return (
            f"progress: {done}/{self._total} done, {failed} failed, "
            f"{cast} cast, {elapsed:.1f} s"
        )
