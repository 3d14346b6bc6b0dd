"""Cast deploy tasks and print each task's cast and result times as JSON.

Run by bench.submit.TimedTasks as ``python -m bench.timed_tasks``; reads the
transport URL from MURANO_TRANSPORT_URL like murano-engine-submit.
"""

import json
import os
import sys
import time
import warnings

# oslo.messaging imports eventlet, which warns that it is deprecated.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from murano_engine_tools import dispatch, submit
from murano_engine_tools.progress import Progress
from murano_engine_tools.results import engine_label


def main():
    parser = submit.build_parser()
    args = parser.parse_args()
    tasks = submit.build_tasks(args)
    transport = dispatch.open_transport(os.environ["MURANO_TRANSPORT_URL"], True)
    try:
        with open(os.devnull, "w") as null:
            collector, _ = dispatch.cast_and_collect(
                transport,
                tasks,
                args.concurrency,
                args.timeout,
                Progress(len(tasks), null, False),
                clock=time.time,
            )
    finally:
        transport.cleanup()
    records, _ = collector.snapshot()
    json.dump(
        [
            {
                "id": task_id,
                "cast_at": record.cast_at,
                "first_result_at": record.first_result_at,
                "results": [engine_label(r) for r in record.results],
            }
            for task_id, record in records.items()
        ],
        sys.stdout,
    )


if __name__ == "__main__":
    main()
