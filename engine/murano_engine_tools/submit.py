"""murano-engine-submit: cast deploy tasks to Murano engines and count results.

The transport URL comes from the MURANO_TRANSPORT_URL environment variable,
never from the command line, so the password stays out of process lists.
"""

import argparse
import datetime
import json
import logging
import math
import os
import sys
import warnings

from murano_engine_tools import tasks, workloads
from murano_engine_tools.progress import Progress
from murano_engine_tools.summary import exit_status, format_summary, summarize
from murano_engine_tools.transport_url import (
    TRANSPORT_URL_VARIABLE,
    ConfigurationError,
    mask_url,
    transport_url_from_environment,
)

LOG = logging.getLogger(__name__)

PROG = "murano-engine-submit"
EXIT_USAGE = 2


def _parse_number(text, kind):
    try:
        value = kind(text)
    except ValueError:
        expected = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: expected {expected}"
        ) from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: expected a finite number"
        )
    return value


def _positive_int(text):
    value = _parse_number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected 1 or more")
    return value


def _non_negative_int(text):
    value = _parse_number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected 0 or more")
    return value


def _non_negative_float(text):
    value = _parse_number(text, float)
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected 0 or more")
    return value


def _positive_float(text):
    value = _parse_number(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: expected more than 0"
        )
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Cast deploy tasks to Murano engines as murano-api does, collect the "
            "results on the murano-api results topic and print a summary. Reads "
            f"the transport URL from {TRANSPORT_URL_VARIABLE}."
        ),
    )
    parser.add_argument(
        "--count", type=_positive_int, default=1, help="number of tasks (default 1)"
    )
    parser.add_argument(
        "--workload",
        choices=sorted(workloads.WORKLOAD_CLASSES),
        default=workloads.WAIT,
        help="what each application does during deploy (default wait)",
    )
    parser.add_argument(
        "--seconds",
        type=_non_negative_float,
        default=1.0,
        help="wait workload: seconds each application waits (default 1.0)",
    )
    parser.add_argument(
        "--steps",
        type=_non_negative_int,
        default=3000,
        help="cpu workload: loop steps each application runs (default 3000)",
    )
    parser.add_argument(
        "--apps-per-env",
        type=_positive_int,
        default=1,
        help="applications in each task's environment (default 1)",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        default=None,
        help="max tasks cast and still without a result (default: cast all at once)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        default=300.0,
        help="overall limit in seconds, from the first cast (default 300)",
    )
    parser.add_argument(
        "--quorum-queues",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=(
            "declare the exchange and queues as engines with [oslo_messaging_rabbit] "
            "rabbit_quorum_queue = true do (the role's default); use "
            "--no-quorum-queues for engines that use classic queues"
        ),
    )
    parser.add_argument(
        "--json", metavar="FILE", help="write the parameters and figures to FILE"
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log more: -v for info, -vv for debug",
    )
    return parser


def build_tasks(args):
    """Return ``args.count`` deploy tasks, each with a new environment id."""
    class_name = workloads.WORKLOAD_CLASSES[args.workload]
    properties = workloads.application_properties(
        args.workload, seconds=args.seconds, steps=args.steps
    )
    result = []
    for index in range(args.count):
        applications = [
            tasks.build_application(class_name, properties)
            for _ in range(args.apps_per_env)
        ]
        environment = tasks.build_environment(
            tasks.new_object_id(), f"{PROG}-{args.workload}-{index}", applications
        )
        result.append(tasks.build_deploy_task(environment))
    return result


def describe_run(args):
    """Return the run's parameters, as printed and written to the JSON file."""
    parameters = {
        "count": args.count,
        "workload": args.workload,
        "apps_per_env": args.apps_per_env,
        "concurrency": args.concurrency,
        "timeout": args.timeout,
    }
    if args.workload == workloads.WAIT:
        parameters["seconds"] = args.seconds
    if args.workload == workloads.CPU:
        parameters["steps"] = args.steps
    return parameters


def write_json(path, parameters, summary, started_at):
    document = {
        "started_at": started_at,
        "parameters": parameters,
        "summary": summary.to_dict(),
    }
    with open(path, "w", encoding="utf-8") as stream:
        json.dump(document, stream, indent=2)
        stream.write("\n")


def configure_logging(verbosity):
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if verbosity < 2:
        # py-amqp warns about consumer cancellations that arrive while the
        # result server closes its channel at the end of every run.
        logging.getLogger("amqp").setLevel(logging.ERROR)


def main(argv=None):
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)

    # eventlet 0.40 and later warn on import that eventlet is deprecated.
    # oslo.messaging imports it, and the client does not use it, so the
    # filter is set before the first import of oslo.messaging.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    from murano_engine_tools import dispatch

    try:
        url = transport_url_from_environment(os.environ)
        rpc_transport = dispatch.open_transport(url, args.quorum_queues)
    except ConfigurationError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return EXIT_USAGE

    parameters = describe_run(args)
    started_at = datetime.datetime.now(datetime.UTC).isoformat()
    print(
        f"Casting {args.count} {args.workload} tasks to {mask_url(url)} "
        f"({json.dumps(parameters)})",
        file=sys.stderr,
    )
    progress = Progress(args.count, sys.stderr, sys.stderr.isatty())
    server_name = dispatch.new_server_name()
    try:
        collector, wall_seconds = dispatch.cast_and_collect(
            rpc_transport,
            build_tasks(args),
            args.concurrency,
            args.timeout,
            progress,
            server_name=server_name,
        )
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted, no summary written", file=sys.stderr)
        return 130
    except dispatch.BrokerError as e:
        print(
            f"{PROG}: error: {e}\n"
            f"Check that the broker in {TRANSPORT_URL_VARIABLE} "
            f"({mask_url(url)}) is reachable and accepts the user and "
            "password.",
            file=sys.stderr,
        )
        return 1
    finally:
        rpc_transport.cleanup()
        dispatch.delete_result_queue(url, server_name)

    records, stray = collector.snapshot()
    summary = summarize(records, stray, args.count, wall_seconds)
    print(format_summary(summary))
    if args.json:
        write_json(args.json, parameters, summary, started_at)
    return exit_status(summary, args.workload)


if __name__ == "__main__":
    sys.exit(main())
