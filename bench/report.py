"""Machine facts, target checks, tables and the JSON report."""

import datetime
import json
import os
import platform
from pathlib import Path

RESULTS_DIR = Path(__file__).with_name("results")


def machine_info():
    """Return the controller's CPU, memory and load; test hosts share them."""
    cpu_model = ""
    with open("/proc/cpuinfo") as stream:
        for line in stream:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    memory_kb = 0
    with open("/proc/meminfo") as stream:
        for line in stream:
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    return {
        "hostname": platform.node(),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model,
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }


def _find(rows, **keys):
    for row in rows:
        if all(row.get(k) == v for k, v in keys.items()):
            return row
    return None


def _target(name, value, limit, met):
    return {"target": name, "value": value, "limit": limit, "met": met}


def _worst(seconds):
    """Return the max of the timings, or None when one of them is missing."""
    return None if None in seconds else max(seconds)


def check_targets(report):
    """Compare the figures with the project's targets; missing figures fail."""
    targets = []
    throughput = report.get("throughput", [])
    ours_two = _find(throughput, design="ours", workers=2)
    forking_two = _find(throughput, design="forking", workers=2)
    if ours_two and ours_two.get("ratio_to_one"):
        ratio = ours_two["ratio_to_one"]
        targets.append(
            _target("ours: 2 instances vs 1 (speedup)", ratio, ">= 1.8", ratio >= 1.8)
        )
    if ours_two and forking_two and forking_two["deployments_per_second"]:
        ratio = (
            ours_two["deployments_per_second"] / forking_two["deployments_per_second"]
        )
        targets.append(
            _target("ours vs forking, 2 workers", ratio, ">= 0.95", ratio >= 0.95)
        )

    recoveries = [
        r
        for r in report.get("recovery", [])
        if r["design"] == "ours" and "error" not in r
    ]
    if recoveries:
        done = [r["held_done_seconds"] for r in recoveries]
        worst_done = _worst(done)
        targets.append(
            _target(
                "ours: held deployment done elsewhere (worst, s)",
                worst_done,
                "<= 2",
                worst_done is not None and worst_done <= 2,
            )
        )
        ready = [r["ready_seconds"] for r in recoveries]
        worst_ready = _worst(ready)
        targets.append(
            _target(
                "ours: killed instance READY again (worst, s)",
                worst_ready,
                "<= 3",
                worst_ready is not None and worst_ready <= 3,
            )
        )

    memory = report.get("memory", [])
    for row in memory:
        if row["design"] != "ours":
            continue
        forking = _find(memory, design="forking", workers=row["workers"])
        if forking:
            ratio = row["total_pss_mb"] / forking["total_pss_mb"]
            targets.append(
                _target(
                    f"memory, {row['workers']} workers: ours / forking",
                    ratio,
                    "<= 1.5",
                    ratio <= 1.5,
                )
            )

    converge = report.get("converge")
    if converge:
        no_change = converge["no_change"]
        changed = sum(no_change["changed"].values())
        targets.append(
            _target(
                "no-change converge (s, changed)",
                f"{no_change['seconds']:.1f}, changed={changed}",
                "< 15, changed=0",
                no_change["seconds"] < 15 and changed == 0,
            )
        )
        scratch = {r["instances"]: r["seconds"] for r in converge["from_scratch"]}
        if 4 in scratch and 16 in scratch:
            ratio = scratch[16] / scratch[4]
            targets.append(
                _target("converge 16 / converge 4", ratio, "<= 2", ratio <= 2)
            )
    return targets


def _format_value(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, list):
        return " ".join(_format_value(v) for v in value)
    return str(value)


def table(title, rows, columns):
    """Return ``rows`` (dicts) as an aligned text table of ``columns``."""
    cells = [[name for name, _ in columns]]
    for row in rows:
        cells.append([_format_value(row.get(key)) for _, key in columns])
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = [title]
    for index, line in enumerate(cells):
        lines.append("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


TABLES = [
    (
        "CPU-bound throughput",
        "throughput",
        [
            ("design", "design"),
            ("workers", "workers"),
            ("tasks", "count"),
            ("done", "done"),
            ("deploys/s", "deployments_per_second"),
            ("x one", "ratio_to_one"),
            ("wall s", "wall_seconds"),
        ],
    ),
    (
        "Waiting deployments, all cast at once",
        "wait",
        [
            ("design", "design"),
            ("workers", "workers"),
            ("tasks", "count"),
            ("wait s", "seconds"),
            ("done", "done"),
            ("missing", "missing"),
            ("deploys/s", "deployments_per_second"),
            ("p95 s", "latency_p95"),
        ],
    ),
    (
        "Memory after deployments (Pss of every engine process)",
        "memory",
        [
            ("design", "design"),
            ("workers", "workers"),
            ("deploys", "deployments"),
            ("procs", "processes"),
            ("total Pss MiB", "total_pss_mb"),
            ("total Rss MiB", "total_rss_mb"),
            ("Pss MiB each", "pss_mb"),
        ],
    ),
    (
        "Recovery after kill -9 of the worker holding a deployment (s after kill)",
        "recovery",
        [
            ("design", "design"),
            ("new process", "process_seconds"),
            ("READY", "ready_seconds"),
            ("connected", "connected_seconds"),
            ("held deployment", "held_deployment"),
            ("done after", "held_done_seconds"),
            ("done by", "held_done_by"),
        ],
    ),
    (
        "Start until READY (forking: until every worker is connected)",
        "start",
        [
            ("design", "design"),
            ("workers", "workers"),
            ("READY s", "ready_seconds"),
            ("systemctl s", "systemctl_seconds"),
            ("connected s", "connected_seconds"),
        ],
    ),
]


def format_report(report):
    parts = []
    machine = report["machine"]
    parts.append(
        f"{report['mode']} run on {machine['nproc']} CPUs ({machine['cpu_model']}), "
        f"{machine['memory_gb']} GB, load average at start "
        f"{' '.join(map(str, machine['load_average_start']))}, at end "
        f"{' '.join(map(str, machine.get('load_average_end', [])))}"
    )
    for title, key, columns in TABLES:
        if report.get(key):
            parts.append(table(title, report[key], columns))
    converge = report.get("converge")
    if converge:
        rows = [{"what": "no change", **converge["no_change"]}]
        rows += [
            {"what": f"{r['instances']} instances from scratch", **r}
            for r in converge["from_scratch"]
        ]
        for row in rows:
            row["changed"] = sum(row["changed"].values())
        parts.append(
            table(
                "Converge of site.yml",
                rows,
                [("converge", "what"), ("seconds", "seconds"), ("changed", "changed")],
            )
        )
    parts.append(
        table(
            "Targets",
            [{**t, "met": "yes" if t["met"] else "NO"} for t in report["targets"]],
            [
                ("target", "target"),
                ("value", "value"),
                ("limit", "limit"),
                ("met", "met"),
            ],
        )
    )
    return "\n\n".join(parts)


def save(report, directory=RESULTS_DIR, partial=False):
    """Write the report as JSON; return its path (the plot goes beside it).

    A partial report has the run's start time in its name, so the final
    report does not overwrite it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    started = datetime.datetime.fromisoformat(report["started_at"])
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    suffix = "-partial" if partial else ""
    path = directory / f"bench-{report['mode']}-{stamp}{suffix}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path
