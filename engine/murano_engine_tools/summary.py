"""Summarize a run: counts, wall time, throughput, latency and engines."""

import math
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field

from murano_engine_tools.results import engine_label, is_exception
from murano_engine_tools.workloads import FAIL


@dataclass
class Summary:
    """Figures of one run. Times are in seconds."""

    requested: int
    cast: int
    done: int
    succeeded: int
    failed: int
    missing: int
    not_cast: int
    duplicates: int
    stray: int
    wall_seconds: float
    throughput: float
    latency: dict = field(default_factory=dict)
    results_by_engine: dict = field(default_factory=dict)

    def to_dict(self):
        return asdict(self)


def _percentile(sorted_values, fraction):
    """Return the nearest-rank percentile of a sorted, non-empty list."""
    rank = math.ceil(fraction * len(sorted_values))
    return sorted_values[max(rank, 1) - 1]


def latency_figures(latencies):
    """Return min, median, p95 and max of ``latencies``, or {} when empty."""
    if not latencies:
        return {}
    ordered = sorted(latencies)
    return {
        "min": ordered[0],
        "median": statistics.median(ordered),
        "p95": _percentile(ordered, 0.95),
        "max": ordered[-1],
    }


def summarize(records, stray, requested, wall_seconds):
    """Build a Summary from the collector's task records.

    A task is done when it has at least one result, and its first result
    decides whether it succeeded or failed. ``duplicates`` counts tasks with
    more than one result, and ``results_by_engine`` counts every result.
    """
    done = succeeded = failed = duplicates = 0
    latencies = []
    by_engine = Counter()

    for record in records.values():
        for result in record.results:
            by_engine[engine_label(result)] += 1
        if not record.results:
            continue

        done += 1
        latencies.append(record.first_result_at - record.cast_at)
        if is_exception(record.results[0]):
            failed += 1
        else:
            succeeded += 1
        if len(record.results) > 1:
            duplicates += 1

    throughput = done / wall_seconds if wall_seconds > 0 else 0.0
    return Summary(
        requested=requested,
        cast=len(records),
        done=done,
        succeeded=succeeded,
        failed=failed,
        missing=len(records) - done,
        not_cast=requested - len(records),
        duplicates=duplicates,
        stray=stray,
        wall_seconds=wall_seconds,
        throughput=throughput,
        latency=latency_figures(latencies),
        results_by_engine=dict(sorted(by_engine.items())),
    )


def exit_status(summary, workload):
    """Return the process exit status for ``summary``.

    Returns 1 when a task is missing or was never cast. Returns 1 when a task
    failed, except for the fail workload, where every task is expected to
    fail and a success returns 1 instead. Returns 0 otherwise.
    """
    if summary.missing or summary.not_cast:
        return 1
    if workload == FAIL:
        return 1 if summary.succeeded else 0
    return 1 if summary.failed else 0


def format_summary(summary):
    """Return the summary as text lines for a terminal."""
    lines = [
        f"tasks requested:  {summary.requested}",
        f"tasks cast:       {summary.cast}",
        f"tasks done:       {summary.done}",
        f"  succeeded:      {summary.succeeded}",
        f"  failed:         {summary.failed}",
        f"missing:          {summary.missing}",
        f"not cast:         {summary.not_cast}",
        f"duplicates:       {summary.duplicates}",
        f"stray results:    {summary.stray}",
        f"wall time:        {summary.wall_seconds:.2f} s",
        f"throughput:       {summary.throughput:.2f} tasks/s",
    ]
    if summary.latency:
        figures = ", ".join(
            f"{name} {value:.2f}" for name, value in summary.latency.items()
        )
        lines.append(f"latency (s):      {figures}")

    lines.append("")
    lines.append(f"{'engine (host/instance)':<40} {'results':>8}")
    for label, count in summary.results_by_engine.items():
        lines.append(f"{label:<40} {count:>8}")
    if not summary.results_by_engine:
        lines.append(f"{'(no results)':<40} {0:>8}")
    return "\n".join(lines)
