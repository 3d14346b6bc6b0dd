#!/usr/bin/python3
"""Print the state of every murano-engine@ instance and their slice as JSON.

Run on an engine host by playbooks/status.yml; reads systemd and /proc
only. Memory is systemd's MemoryCurrent where the cgroup memory controller
is available, otherwise the total Pss of the instance's processes from
/proc/PID/smaps_rollup.
"""

import json
import os
import re
import subprocess
import time

TEMPLATE = "murano-engine@"
SLICE = "murano-engine.slice"
PACKAGED_UNIT = "murano-engine.service"
# The runner's status text, for example
# "consuming tasks; 12 done, 0 failed, 1 in hand, 0 rejected, ...".
STATUS_COUNTS = re.compile(r"(\d+) (done|failed|in hand)")
UNSET = ("", "[not set]", "infinity", "18446744073709551615")


def show(unit, *properties):
    output = subprocess.run(
        ["systemctl", "show", "--timestamp=unix", unit]
        + [f"--property={p}" for p in properties],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.partition("=")[::2] for line in output.splitlines())


def instance_units():
    output = subprocess.run(
        [
            "systemctl",
            "list-units",
            "--all",
            "--plain",
            "--no-legend",
            "--type=service",
            f"{TEMPLATE}*.service",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    units = [line.split()[0] for line in output.splitlines() if line.strip()]
    return sorted(units, key=lambda u: int(u[len(TEMPLATE) : -len(".service")]))


def process_tree(root):
    children = {}
    for stat in _proc_stats():
        children.setdefault(stat[1], []).append(stat[0])
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def _proc_stats():
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stream:
                    fields = stream.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            yield int(entry), int(fields[1])


def pss_bytes(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as stream:
                for line in stream:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def unit_memory(values, main_pid):
    current = values.get("MemoryCurrent", "")
    if current not in UNSET:
        return int(current), "cgroup"
    if main_pid:
        return pss_bytes(process_tree(main_pid)), "pss"
    return None, ""


def instance_status(unit, now):
    values = show(
        unit,
        "ActiveState",
        "SubState",
        "MainPID",
        "NRestarts",
        "MemoryCurrent",
        "StatusText",
        "ActiveEnterTimestamp",
    )
    main_pid = int(values.get("MainPID") or 0)
    memory, memory_source = unit_memory(values, main_pid)
    counts = {kind: int(n) for n, kind in STATUS_COUNTS.findall(values["StatusText"])}
    started = values.get("ActiveEnterTimestamp", "").lstrip("@")
    uptime = (
        now - int(started) if started and values["ActiveState"] == "active" else None
    )
    return {
        "unit": unit,
        "state": f"{values['ActiveState']}/{values['SubState']}",
        "pid": main_pid or None,
        "uptime_seconds": uptime,
        "restarts": int(values.get("NRestarts") or 0),
        "memory_bytes": memory,
        "memory_source": memory_source,
        "done": counts.get("done"),
        "failed": counts.get("failed"),
        "in_hand": counts.get("in hand"),
        "status_text": values["StatusText"],
    }


def slice_status(instances):
    values = show(
        SLICE,
        "ActiveState",
        "MemoryCurrent",
        "MemoryHigh",
        "MemoryMax",
        "TasksCurrent",
        "TasksMax",
        "CPUQuotaPerSecUSec",
    )
    memory = values.get("MemoryCurrent", "")
    if memory in UNSET:
        memory = sum(i["memory_bytes"] or 0 for i in instances)
        source = "pss"
    else:
        memory, source = int(memory), "cgroup"
    tasks = values.get("TasksCurrent", "")
    return {
        "state": values.get("ActiveState"),
        "memory_bytes": memory,
        "memory_source": source,
        "memory_high": values.get("MemoryHigh"),
        "memory_max": values.get("MemoryMax"),
        "tasks": None if tasks in UNSET else int(tasks),
        "tasks_max": values.get("TasksMax"),
        "cpu_quota": values.get("CPUQuotaPerSecUSec"),
    }


def human_bytes(value):
    """Format bytes with a binary unit suffix: 103.1M; 'none' for no limit."""
    if value is None:
        return "-"
    if isinstance(value, str):
        if value in UNSET:
            return "none"
        value = int(value)
    for suffix in ("", "K", "M", "G"):
        if value < 1024 or suffix == "G":
            return f"{value:.0f}" if not suffix else f"{value:.1f}{suffix}"
        value /= 1024
    return str(value)


def human_duration(seconds):
    if seconds is None:
        return "-"
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{seconds:02d}s"


def cpu_quota_percent(value):
    """Turn systemd's CPUQuotaPerSecUSec, such as "1.800000s", into "180%"."""
    if value in UNSET:
        return "none"
    if value.endswith("ms"):
        return f"{float(value[:-2]) / 10:.0f}%"
    if value.endswith("s"):
        return f"{float(value[:-1]) * 100:.0f}%"
    return value


def table_lines(instances):
    header = ["instance", "state", "pid", "uptime", "restarts", "memory"]
    header += ["done", "failed", "in hand"]
    rows = [header]
    for item in instances:
        state = item["state"].removesuffix("/running")
        counts = [item[k] for k in ("done", "failed", "in_hand")]
        rows.append(
            [
                item["unit"].removeprefix("murano-").removesuffix(".service"),
                state,
                str(item["pid"] or "-"),
                human_duration(item["uptime_seconds"]),
                str(item["restarts"]),
                human_bytes(item["memory_bytes"]),
            ]
            + ["-" if count is None else str(count) for count in counts]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]


def slice_lines(status):
    memory = human_bytes(status["memory_bytes"])
    tasks = "-" if status["tasks"] is None else str(status["tasks"])
    memory_high = human_bytes(status["memory_high"])
    memory_max = human_bytes(status["memory_max"])
    cpu_quota = cpu_quota_percent(status["cpu_quota"])
    lines = [
        f"{SLICE} {status['state']}",
        f"slice memory {memory} of high {memory_high}, max {memory_max}",
        f"slice tasks {tasks} of max {status['tasks_max']}, CPU quota {cpu_quota}",
    ]
    if status["memory_source"] == "pss":
        lines.append(
            "memory is the total Pss of the processes, as the cgroup reports none"
        )
    if status["tasks"] is None:
        lines.append("the cgroup reports no task count, so slice tasks is -")
    return lines


def main():
    now = int(time.time())
    instances = [instance_status(unit, now) for unit in instance_units()]
    slice_values = slice_status(instances)
    lines = table_lines(instances) if instances else ["no murano-engine@ instances"]
    lines += slice_lines(slice_values)
    packaged = show(PACKAGED_UNIT, "ActiveState", "UnitFileState")
    if packaged.get("ActiveState") == "active":
        lines.append(f"{PACKAGED_UNIT} is also active (the forking design)")
    print(json.dumps({"instances": instances, "slice": slice_values, "lines": lines}))


if __name__ == "__main__":
    main()
