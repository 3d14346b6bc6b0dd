"""Task runner for one single-process Murano engine under systemd.

The runner consumes the engine's task queue with manual acknowledgements, so
a task is acknowledged only after Murano has run it and its result has been
reported. A task held by a process that dies is redelivered by the broker.

Run it with ``python3 -m murano_engine_tools.runner --config-file ...``. This
package imports nothing at import time, so the modules that do not need
Murano (config, envelope, backoff, notify, signals) stay importable without it.
"""
