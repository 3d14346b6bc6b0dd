"""Soak test: deploy many short tasks while instances are SIGKILLed.

It casts deploy tasks of the wait workload to the engines of one test host,
as murano-api does, and every --kill-interval seconds kills the main process
of one active murano-engine@ instance with SIGKILL over `scripts/testhost
ssh`. At the end it counts tasks cast, results received, tasks lost (no
result), duplicates (tasks with more than one result) and kills, and writes
them as JSON under bench/results/.

The engine program (runner or stock) is whatever the host runs: switch it
with the role's murano_engine_program and converge again. --table prints
the saved runs side by side.

    MURANO_TRANSPORT_URL=rabbit://... python3 bench/soak.py --testhost NAME
    python3 bench/soak.py --table bench/results/soak-*.json
"""

import argparse
import datetime
import json
import logging
import os
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

from murano_engine_tools import submit, workloads
from murano_engine_tools.results import ResultCollector
from murano_engine_tools.summary import summarize
from murano_engine_tools.transport_url import (
    ConfigurationError,
    transport_url_from_environment,
)

LOG = logging.getLogger("soak")

PROJECT = Path(__file__).resolve().parents[1]
TESTHOST = PROJECT / "scripts" / "testhost"
RESULTS_DIR = PROJECT / "bench" / "results"

SHORT_COUNT = 60
SHORT_KILLS = 3

# Picks one active instance at random and SIGKILLs its main process. Prints
# "UNIT PID", or exits 3 when no instance is active.
KILL_SCRIPT = """
unit=$(systemctl list-units --state=active --plain --no-legend \
    'murano-engine@*.service' | awk '{print $1}' | shuf -n 1)
[ -n "$unit" ] || exit 3
pid=$(systemctl show --value --property=MainPID "$unit")
[ "$pid" -gt 0 ] || exit 3
kill -KILL "$pid" && echo "$unit $pid"
"""

TABLE_COLUMNS = [
    ("engine", "program", "{}"),
    ("tasks cast", "cast", "{}"),
    ("results", "results", "{}"),
    ("lost", "lost", "{}"),
    ("duplicates", "duplicates", "{}"),
    ("kills", "kills", "{}"),
    ("wall time (s)", "wall_seconds", "{:.1f}"),
]


def host_command(testhost, script, timeout=30):
    """Run a shell script on the test host as root; return the CompletedProcess."""
    return subprocess.run(
        [str(TESTHOST), "ssh", testhost, script],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def engine_program(testhost):
    """Return "runner" or "stock": the program murano-engine@1 runs."""
    completed = host_command(
        testhost, "systemctl show --value --property=ExecStart murano-engine@1"
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"cannot read murano-engine@1 on {testhost}: {completed.stderr.strip()}"
        )
    if "murano_engine_tools.runner" in completed.stdout:
        return "runner"
    if "/usr/bin/murano-engine" in completed.stdout:
        return "stock"
    return "unknown"


class Killer(threading.Thread):
    """A thread that SIGKILLs one active instance every interval seconds."""

    def __init__(self, testhost, interval, max_kills, clock=time.monotonic):
        super().__init__(name="killer", daemon=True)
        self._testhost = testhost
        self._interval = interval
        self._max_kills = max_kills
        self._clock = clock
        self._stop_event = threading.Event()
        self.started_at = None
        self.kills = []
        self.failures = 0

    def stop(self):
        self._stop_event.set()

    def run(self):
        self.started_at = self._clock()
        while not self._stop_event.wait(self._interval):
            if self._max_kills is not None and len(self.kills) >= self._max_kills:
                return
            completed = host_command(self._testhost, KILL_SCRIPT)
            fields = completed.stdout.split()
            if completed.returncode != 0 or len(fields) != 2:
                self.failures += 1
                LOG.warning(
                    "No instance killed (exit %d): %s",
                    completed.returncode,
                    completed.stderr.strip() or "no active instance",
                )
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


def cast_and_wait(transport, task_list, killer, options, clock=time.monotonic):
    """Cast every task, then wait for results; return (collector, wall seconds).

    The wait ends when every task has a result and options.grace seconds
    passed without a new result (late duplicates arrive then), or when no
    result arrived for options.idle_timeout seconds: the rest are lost.
    The killer stops once every task has a result or no result arrived for
    options.kill_stop_idle seconds, so a run that lost tasks stops killing
    before it gives up on them.
    """
    import oslo_messaging
    from murano_engine_tools import dispatch

    dispatch.check_broker(transport)
    collector = ResultCollector(clock=clock)
    server = dispatch.start_result_server(transport, collector)
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
            if options.concurrency:
                collector.wait_for(
                    lambda c: c.outstanding < options.concurrency, options.timeout
                )
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


def figures(program, summary, killer):
    """Return the table row of one run."""
    return {
        "program": program,
        "cast": summary.cast,
        "results": sum(summary.results_by_engine.values()),
        "lost": summary.missing,
        "duplicates": summary.duplicates,
        "kills": len(killer.kills),
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


def run_soak(options):
    """Run one soak against options.testhost; return the JSON document."""
    # eventlet 0.40 and later warn on import that eventlet is deprecated, and
    # oslo.messaging imports it.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    from murano_engine_tools import dispatch

    url = transport_url_from_environment(os.environ)
    program = engine_program(options.testhost)
    transport = dispatch.open_transport(url, options.quorum_queues)
    killer = Killer(options.testhost, options.kill_interval, options.max_kills)
    started_at = datetime.datetime.now(datetime.UTC).isoformat()
    LOG.info(
        "Casting %d tasks of %.2f s to the %s engines on %s, killing one "
        "instance every %.1f s",
        options.count,
        options.seconds,
        program,
        options.testhost,
        options.kill_interval,
    )
    try:
        collector, wall = cast_and_wait(
            transport, build_tasks(options.count, options.seconds), killer, options
        )
    finally:
        transport.cleanup()

    records, stray = collector.snapshot()
    summary = summarize(records, stray, options.count, wall)
    return {
        "started_at": started_at,
        "program": program,
        "testhost": options.testhost,
        "parameters": {
            "count": options.count,
            "seconds": options.seconds,
            "kill_interval": options.kill_interval,
            "max_kills": options.max_kills,
            "concurrency": options.concurrency,
        },
        "figures": figures(program, summary, killer),
        "kills": killer.kills,
        "kill_failures": killer.failures,
        "summary": summary.to_dict(),
    }


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


def build_parser():
    parser = argparse.ArgumentParser(
        description="Cast short deployments while SIGKILLing one engine instance "
        "at a fixed interval, and count lost and duplicated tasks. Reads the "
        "transport URL from MURANO_TRANSPORT_URL.",
    )
    parser.add_argument("--testhost", help="test host name for scripts/testhost ssh")
    parser.add_argument(
        "--short",
        action="store_true",
        help=f"quick check: {SHORT_COUNT} tasks and at most {SHORT_KILLS} kills",
    )
    parser.add_argument("--count", type=_positive_int, default=1000)
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
        "--concurrency",
        type=_positive_int,
        help="max tasks cast and still without a result (default: cast all)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=_positive_float,
        default=60.0,
        help="seconds without a new result after which the remaining tasks "
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
        help="overall limit in seconds (default 3600)",
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
        help="where to write the run (default bench/results/soak-PROGRAM-TIME.json)",
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
    logging.basicConfig(level=logging.INFO, format="soak: %(message)s")
    logging.getLogger("amqp").setLevel(logging.ERROR)

    if options.table:
        rows = [json.loads(Path(p).read_text())["figures"] for p in options.table]
        print(format_table(rows))
        return 0
    if not options.testhost:
        print("soak: error: --testhost is required for a run", file=sys.stderr)
        return 2
    if options.short:
        options.count = SHORT_COUNT
        options.max_kills = options.max_kills or SHORT_KILLS

    try:
        document = run_soak(options)
    except ConfigurationError as error:
        print(f"soak: error: {error}", file=sys.stderr)
        return 2

    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = (
        Path(options.json)
        if options.json
        else RESULTS_DIR / f"soak-{document['program']}-{stamp}.json"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(format_table([document["figures"]]))
    print(f"soak: wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
