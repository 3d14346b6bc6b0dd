"""Cast deploy tasks as murano-api does and print the run's summary as JSON.

Usage: MURANO_TRANSPORT_URL=... python3 cast_tasks.py TIMEOUT < tasks.json

It runs in its own process, because oslo.messaging's RPC server in the
pytest process stalled the tests' other threads.
"""

import json
import os
import sys
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from murano_engine_tools import dispatch
from murano_engine_tools.progress import Progress
from murano_engine_tools.summary import summarize


def main():
    timeout = float(sys.argv[1])
    task_list = json.load(sys.stdin)
    transport = dispatch.open_transport(os.environ["MURANO_TRANSPORT_URL"])
    try:
        progress = Progress(len(task_list), sys.stderr, False)
        collector, wall = dispatch.cast_and_collect(
            transport, task_list, None, timeout, progress
        )
    finally:
        transport.cleanup()
    records, stray = collector.snapshot()
    summary = summarize(records, stray, len(task_list), wall)
    json.dump(summary.to_dict(), sys.stdout)


if __name__ == "__main__":
    main()
