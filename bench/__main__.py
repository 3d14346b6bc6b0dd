"""Run the benchmarks against a converged test host: python -m bench --help."""

import argparse
import dataclasses
import datetime
import logging
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from bench import benchmarks, designs, report
from bench.host import Host, add_host_arguments, default_inventory, first_host

PROJECT = Path(__file__).resolve().parents[1]
LOG = logging.getLogger("bench")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=(
            "Compare murano-engine@ instances (ours) with Debian's forking "
            "murano-engine.service on one converged test host: throughput, "
            "memory, recovery after kill -9, start time and converge cost. "
            "Prints tables and writes JSON and a PNG plot under bench/results/."
        ),
    )
    parser.add_argument(
        "--short",
        action="store_true",
        help="run every benchmark once with small sizes (a test, not a measurement)",
    )
    add_host_arguments(parser)
    parser.add_argument(
        "--skip",
        action="append",
        choices=["sessions", "converge"],
        default=[],
        help="leave out the per-design benchmarks or the converge timings",
    )
    parser.add_argument(
        "--designs",
        help="comma-separated designs to run instead of the profile's: "
        + ", ".join(designs.DESIGNS),
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=report.RESULTS_DIR,
        help="directory for the JSON report and the plot (default: bench/results)",
    )
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    profile = benchmarks.SHORT if args.short else benchmarks.FULL
    if args.designs:
        chosen = tuple(args.designs.split(","))
        unknown = set(chosen) - set(designs.DESIGNS)
        if unknown:
            raise SystemExit(f"unknown design {', '.join(sorted(unknown))}")
        profile = dataclasses.replace(profile, designs=chosen)
    inventory = args.inventory or default_inventory(PROJECT)
    host_name = args.host or first_host(inventory, "murano_engines")

    result = {
        "mode": profile.name,
        "started_at": datetime.datetime.now(datetime.UTC).isoformat(),
        "machine": report.machine_info(),
        "host": host_name,
        "profile": profile.__dict__,
    }
    host = Host(inventory, host_name)
    partial_path = None
    try:
        url = designs.transport_url(host)
        if "sessions" not in args.skip:
            deployment = designs.Deployment(host, urlsplit(url).port)
            try:
                result.update(
                    benchmarks.run_sessions(deployment, url, profile, LOG.info)
                )
            finally:
                LOG.info("restoring the converged engines")
                deployment.restore()
        if "converge" not in args.skip:
            # Save the figures so far, because a failed converge must not
            # lose them.
            partial_path = report.save(result, args.results_dir, partial=True)
            try:
                result["converge"] = benchmarks.converge_cost(
                    PROJECT, inventory, profile, LOG.info
                )
            except RuntimeError as e:
                LOG.error("converge benchmark failed: %s", e)
                result["converge_error"] = str(e)[-3000:]
    finally:
        host.close()

    result["finished_at"] = datetime.datetime.now(datetime.UTC).isoformat()
    result["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["targets"] = report.check_targets(result)
    path = report.save(result, args.results_dir)
    if partial_path is not None:
        partial_path.unlink()

    from bench import plot

    plot.plot(result, path.with_suffix(".png"))
    print(report.format_report(result))
    print(f"\nwrote {path} and {path.with_suffix('.png')}")
    return 1 if "converge_error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
