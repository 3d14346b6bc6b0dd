"""Soak test: short deployments while engine instances are SIGKILLed.

For each engine program, the runner and then Debian's stock murano-engine,
it starts the same number of murano-engine@ instances on one converged test
host, casts deploy tasks of the wait workload as murano-api does, and every
--kill-interval seconds SIGKILLs the main process of one active instance.
It then counts, per engine: tasks cast, tasks with a result, tasks the
runner dead-lettered (kept in the dead-letter queue, not lost), tasks lost,
tasks with more than one result, and kills. It prints the engines side by
side, writes them as JSON under bench/results/, and leaves the host running
what it ran before.

    python -m bench.soak                  # 1,000 tasks per engine
    python -m bench.soak --short          # 60 tasks and 3 kills per engine
    python -m bench.soak --table bench/results/soak-*.json
"""

import argparse
import datetime
import json
import logging
import sys
import threading
import time
import warnings
from pathlib import Path
from urllib.parse import urlsplit

from murano_engine_tools import submit, workloads
from murano_engine_tools.results import ResultCollector
from murano_engine_tools.summary import summarize
from murano_engine_tools.transport_url import kombu_url

from bench import designs
from bench.host import Host, add_host_arguments, default_inventory, first_host

LOG = logging.getLogger("soak")

PROJECT = Path(__file__).resolve().parents[1]
RESULTS_DIR = PROJECT / "bench" / "results"

ENGINES = {"runner": designs.OURS, "stock": designs.OURS_STOCK}
TASKS_QUEUE = "tasks"
DEAD_LETTER_QUEUE = "tasks.dead-letter"
ENVIRONMENT_HEADER = "x-murano-environment-id"

FULL_COUNT = 1000
SHORT_COUNT = 60
SHORT_KILLS = 3

# Picks one active instance at random and SIGKILLs its main process. Prints
# "UNIT PID", or nothing when no instance is active.
KILL_SCRIPT = """
unit=$(systemctl list-units --state=active --plain --no-legend \
    'murano-engine@*.service' | awk '{print $1}' | shuf -n 1)
[ -n "$unit" ] || exit 0
pid=$(systemctl show --value --property=MainPID "$unit")
[ "$pid" -gt 0 ] || exit 0
kill -KILL "$pid" && echo "$unit $pid"
"""

TABLE_COLUMNS = [
    ("engine", "program", "{}"),
    ("instances", "instances", "{}"),
    ("tasks cast", "cast", "{}"),
    ("with result", "done", "{}"),
    ("dead-lettered", "dead_lettered", "{}"),
    ("lost", "lost", "{}"),
    ("duplicates", "duplicates", "{}"),
    ("kills", "kills", "{}"),
    ("wall time (s)", "wall_seconds", "{:.1f}"),
]


class Killer(threading.Thread):
    """A thread that SIGKILLs one active instance every interval seconds."""

    def __init__(self, host, interval, max_kills, clock=time.monotonic):
        super().__init__(name="killer", daemon=True)
        self._host = host
        self._interval = interval
        self._max_kills = max_kills
        self._clock = clock
        self._stop_event = threading.Event()
        self.started_at = None
        self.kills = []
        self.misses = 0

    def stop(self):
        self._stop_event.set()

    def run(self):
        self.started_at = self._clock()
        while not self._stop_event.wait(self._interval):
            if self._max_kills is not None and len(self.kills) >= self._max_kills:
                return
            fields = self._host.run(KILL_SCRIPT, check=False).split()
            if len(fields) != 2:
                self.misses += 1
                LOG.info("No instance was active to kill")
                continue
            at = self._clock() - self.started_at
            self.kills.append({"at": round(at, 3), "unit": fields[0], "pid": fields[1]})
            LOG.info("Killed %s (PID %s) at %.1f s", fields[0], fields[1], at)


def build_tasks(count, seconds):
    args = argparse.Namespace(
        count=count,
        workload=workloads.WAIT,
        seconds=seconds,
        steps=0,
        apps_per_env=1,
    )
    return submit.build_tasks(args)


def take_dead_letters(url, task_ids):
    """Remove this run's tasks from the dead-letter queue and return their ids.

    Other messages in the queue are left there: they are fetched without an
    acknowledgement and return to the queue when the channel closes.
    """
    import kombu

    found = set()
    with kombu.Connection(url) as connection:
        channel = connection.channel()
        try:
            channel.queue_declare(DEAD_LETTER_QUEUE, passive=True)
        except connection.channel_errors:
            return found
        while True:
            message = channel.basic_get(DEAD_LETTER_QUEUE, no_ack=False)
            if message is None:
                break
            task_id = (message.headers or {}).get(ENVIRONMENT_HEADER)
            if task_id in task_ids:
                found.add(task_id)
                message.ack()
    return found


def purge_tasks(url):
    """Empty the tasks queue, so one run's tasks do not reach the next."""
    import kombu

    with kombu.Connection(url) as connection:
        return connection.channel().queue_purge(TASKS_QUEUE) or 0


def cast_and_wait(transport, task_list, killer, options, clock=time.monotonic):
    """Cast every task, then wait for results; return (collector, wall seconds).

    The wait ends when every task has a result and options.grace seconds
    passed without a new result (late duplicates arrive then), or when no
    result arrived for options.idle_timeout seconds: the rest have none.
    The killer stops once every task has a result or no result arrived for
    options.kill_stop_idle seconds, so a run that lost tasks stops killing
    before it gives up on them.
    """
    import oslo_messaging
    from murano_engine_tools import dispatch

    dispatch.check_broker(transport)
    collector = ResultCollector(clock=clock)
    server = dispatch.start_result_server(transport, collector, options.server_name)
    client = oslo_messaging.get_rpc_client(
        transport,
        oslo_messaging.Target(exchange=dispatch.EXCHANGE, topic=dispatch.TASKS_TOPIC),
        timeout=dispatch.CLIENT_TIMEOUT,
        retry=dispatch.CAST_RETRIES,
    )
    started = clock()
    killer.start()
    try:
        for task in task_list:
            collector.add_cast(task["id"])
            client.cast({}, "handle_task", task=task)

        last_change = clock()
        last_results = -1
        while clock() - started < options.timeout:
            time.sleep(0.5)
            records, _ = collector.snapshot()
            results = sum(len(record.results) for record in records.values())
            if results != last_results:
                last_results = results
                last_change = clock()
            idle = clock() - last_change
            if collector.outstanding == 0 or idle > options.kill_stop_idle:
                killer.stop()
            if collector.outstanding == 0 and idle > options.grace:
                break
            if idle > options.idle_timeout:
                LOG.warning(
                    "No result for %.0f s, %d tasks without a result",
                    idle,
                    collector.outstanding,
                )
                break
    finally:
        killer.stop()
        dispatch.stop_result_server(server)
    killer.join()

    records, _ = collector.snapshot()
    first_results = [r.first_result_at for r in records.values() if r.first_result_at]
    wall = (max(first_results) if first_results else clock()) - started
    return collector, wall


def figures(program, instances, summary, dead_lettered, kills):
    """Return the table row of one run."""
    return {
        "program": program,
        "instances": instances,
        "cast": summary.cast,
        "done": summary.done,
        "dead_lettered": dead_lettered,
        "lost": summary.missing - dead_lettered,
        "duplicates": summary.duplicates,
        "kills": kills,
        "wall_seconds": summary.wall_seconds,
    }


def format_table(rows):
    """Return rows of figures as a fixed-width text table."""
    widths = []
    for title, key, fmt in TABLE_COLUMNS:
        cells = [fmt.format(row[key]) for row in rows]
        widths.append(max([len(title), *map(len, cells)]))
    lines = ["  ".join(t.rjust(w) for (t, _, _), w in zip(TABLE_COLUMNS, widths))]
    for row in rows:
        cells = [fmt.format(row[key]) for _, key, fmt in TABLE_COLUMNS]
        lines.append("  ".join(c.rjust(w) for c, w in zip(cells, widths)))
    return "\n".join(lines)


def soak_one(deployment, program, url, options):
    """Run one engine's soak on the deployment and return its JSON document."""
    from murano_engine_tools import dispatch

    broker_url = kombu_url(url)
    LOG.info("Starting %d %s instances", options.workers, program)
    deployment.switch(ENGINES[program], options.workers)
    purge_tasks(broker_url)
    killer = Killer(deployment.host, options.kill_interval, options.max_kills)
    task_list = build_tasks(options.count, options.seconds)
    LOG.info(
        "Casting %d tasks of %.2f s to %d %s instances, killing one every %.1f s",
        options.count,
        options.seconds,
        options.workers,
        program,
        options.kill_interval,
    )
    transport = dispatch.open_transport(url, options.quorum_queues)
    options.server_name = dispatch.new_server_name()
    try:
        collector, wall = cast_and_wait(transport, task_list, killer, options)
    finally:
        transport.cleanup()
        dispatch.delete_result_queue(url, options.server_name)

    records, stray = collector.snapshot()
    summary = summarize(records, stray, options.count, wall)
    missing = {task_id for task_id, record in records.items() if not record.results}
    dead_lettered = take_dead_letters(broker_url, missing)
    left = purge_tasks(broker_url)
    if left:
        LOG.warning("%d tasks were still queued at the end and count as lost", left)
    return {
        "program": program,
        "figures": figures(
            program, options.workers, summary, len(dead_lettered), len(killer.kills)
        ),
        "kills": killer.kills,
        "kill_misses": killer.misses,
        "left_in_queue": left,
        "summary": summary.to_dict(),
    }


def run_soak(options):
    """Soak each engine in options.engines on one host and return the document."""
    # eventlet 0.40 and later warn on import that eventlet is deprecated, and
    # oslo.messaging imports it.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    inventory = options.inventory or default_inventory(PROJECT)
    host_name = options.host or first_host(inventory, "murano_engines")
    document = {
        "started_at": datetime.datetime.now(datetime.UTC).isoformat(),
        "host": host_name,
        "parameters": {
            "count": options.count,
            "seconds": options.seconds,
            "workers": options.workers,
            "kill_interval": options.kill_interval,
            "max_kills": options.max_kills,
        },
        "runs": [],
    }
    host = Host(inventory, host_name)
    try:
        url = designs.transport_url(host)
        deployment = designs.Deployment(host, urlsplit(url).port)
        try:
            for program in options.engines:
                document["runs"].append(soak_one(deployment, program, url, options))
        finally:
            LOG.info("Restoring the converged engines")
            deployment.restore()
    finally:
        host.close()
    document["finished_at"] = datetime.datetime.now(datetime.UTC).isoformat()
    return document


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected 1 or more")
    return value


def _positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected > 0")
    return value


def _engine_list(text):
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ENGINES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"invalid engines {text!r}: use a comma-separated list of "
            + " and ".join(ENGINES)
        )
    return names


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description="Cast short deployments while SIGKILLing one engine instance "
        "at a fixed interval, for the runner and for the stock engine, and "
        "count lost and duplicated tasks. Needs a host converged with site.yml.",
    )
    add_host_arguments(parser)
    parser.add_argument(
        "--engines",
        type=_engine_list,
        default=list(ENGINES),
        help="engines to soak, in order (default: runner,stock)",
    )
    parser.add_argument(
        "--short",
        action="store_true",
        help=f"a quick check: {SHORT_COUNT} tasks and at most {SHORT_KILLS} kills "
        "per engine",
    )
    parser.add_argument(
        "--count",
        type=_positive_int,
        help=f"tasks per engine (default {FULL_COUNT}, {SHORT_COUNT} with --short)",
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=4,
        help="murano-engine@ instances per engine (default 4)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=0.2,
        help="seconds each deployment waits (default 0.2)",
    )
    parser.add_argument(
        "--kill-interval",
        type=_positive_float,
        default=2.0,
        help="seconds between kills (default 2)",
    )
    parser.add_argument(
        "--max-kills", type=_positive_int, help="stop killing after this many kills"
    )
    parser.add_argument(
        "--idle-timeout",
        type=_positive_float,
        default=60.0,
        help="seconds without a new result after which the tasks without one "
        "count as lost (default 60)",
    )
    parser.add_argument(
        "--kill-stop-idle",
        type=_positive_float,
        default=30.0,
        help="seconds without a new result after which kills stop (default 30)",
    )
    parser.add_argument(
        "--grace",
        type=_positive_float,
        default=5.0,
        help="seconds to wait for late duplicates after the last task got a "
        "result (default 5)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        default=3600.0,
        help="limit in seconds for each engine's run (default 3600)",
    )
    parser.add_argument(
        "--quorum-queues",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="match engines with rabbit_quorum_queue = true (the role's default)",
    )
    parser.add_argument(
        "--json",
        metavar="FILE",
        help="where to write the runs (default bench/results/soak-TIME.json)",
    )
    parser.add_argument(
        "--table",
        nargs="+",
        metavar="FILE",
        help="print saved runs as one table and exit",
    )
    return parser


def main(argv=None):
    options = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s soak: %(message)s")
    logging.getLogger("amqp").setLevel(logging.ERROR)

    if options.table:
        rows = [
            run["figures"]
            for path in options.table
            for run in json.loads(Path(path).read_text())["runs"]
        ]
        print(format_table(rows))
        return 0
    if options.count is None:
        options.count = SHORT_COUNT if options.short else FULL_COUNT
    if options.short and options.max_kills is None:
        options.max_kills = SHORT_KILLS

    document = run_soak(options)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = Path(options.json) if options.json else RESULTS_DIR / f"soak-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(format_table([run["figures"] for run in document["runs"]]))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
