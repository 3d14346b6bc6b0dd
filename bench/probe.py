"""Probe engine processes on a test host; run there by python3, stdlib only.

The controller sends this file to ``python3 -`` with one JSON argument,
{"action": NAME, ...}, and reads one JSON document from stdout. Times are
wall-clock seconds from time.time(): test hosts share the controller's
kernel clock, so they compare directly with times taken on the controller.
"""

import json
import os
import signal
import subprocess
import sys
import time

POLL_SECONDS = 0.02


def systemctl_show(unit, *properties):
    output = subprocess.run(
        ["systemctl", "show", unit, *(f"--property={p}" for p in properties)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    values = {}
    for line in output.splitlines():
        key, _, value = line.partition("=")
        values[key] = value
    return values


def parent_map():
    """Return {pid: parent pid} for every process on the host."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stream:
                fields = stream.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
    return parents


def descendants(root, parents=None):
    """Return ``root`` and every process below it."""
    parents = parents if parents is not None else parent_map()
    children = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def unit_pids(unit, parents=None):
    main = int(systemctl_show(unit, "MainPID")["MainPID"] or 0)
    return descendants(main, parents) if main else []


def connected_pids(arguments):
    """Return the processes of the units that hold an AMQP connection."""
    pids = []
    for unit in arguments["units"]:
        pids += unit_pids(unit)
    return amqp_connected_pids(pids, arguments["port"])


def smaps_rollup(pid):
    """Return {"pss_kb", "rss_kb"} of one process from /proc/PID/smaps_rollup."""
    figures = {}
    with open(f"/proc/{pid}/smaps_rollup") as stream:
        for line in stream:
            key, _, rest = line.partition(":")
            if key in ("Pss", "Rss"):
                figures[key.lower() + "_kb"] = int(rest.split()[0])
    return figures


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as stream:
        fields = stream.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def amqp_connected_pids(pids, port):
    """Return the pids in ``pids`` with an established TCP connection to ``port``.

    NOTE: a connection is a proxy for "takes tasks": the worker declares its
    consumer on that connection a moment later, and nothing here measures
    that moment. It is the only signal for the forking design's workers.
    """
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as stream:
                next(stream)
                for line in stream:
                    fields = line.split()
                    remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                    if remote_port == port and fields[3] == "01":
                        inodes.add(fields[9])
        except OSError:
            continue
    connected = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    connected.add(pid)
                    break
        except OSError:
            continue
    return connected


def memory(arguments):
    """Return per-process Pss and Rss of every process of the given units."""
    parents = parent_map()
    processes = []
    for unit in arguments["units"]:
        for pid in unit_pids(unit, parents):
            try:
                figures = smaps_rollup(pid)
            except OSError:
                continue
            processes.append({"unit": unit, "pid": pid, **figures})
    return {"processes": processes}


def wait_connected(arguments):
    """Wait until ``count`` processes of the units hold an AMQP connection."""
    started = time.time()
    deadline = started + arguments["timeout"]
    while time.time() < deadline:
        connected = connected_pids(arguments)
        if len(connected) >= arguments["count"]:
            return {"connected": sorted(connected), "seconds": time.time() - started}
        time.sleep(0.1)
    return {"connected": [], "seconds": None}


def timed_start(arguments):
    """Start units with systemctl; time READY and AMQP connections of workers."""
    started = time.time()
    subprocess.run(
        ["systemctl", "start", *arguments["units"]],
        check=True,
        timeout=arguments["timeout"],
    )
    returned = time.time() - started
    deadline = started + arguments["timeout"]
    connected_at = None
    while time.time() < deadline:
        # With engine_workers = 1 oslo.service runs the engine in its main
        # process, and with more it forks workers and the main process
        # only watches them, so every connected process is a worker.
        connected = connected_pids(arguments)
        if len(connected) >= arguments["count"]:
            connected_at = time.time() - started
            break
        time.sleep(POLL_SECONDS)
    return {"systemctl_seconds": returned, "connected_seconds": connected_at}


def worker_pids(arguments, parents=None):
    """Return {pid: unit} of the processes that run tasks."""
    parents = parents if parents is not None else parent_map()
    workers = {}
    for unit in arguments["units"]:
        main = int(systemctl_show(unit, "MainPID")["MainPID"] or 0)
        if not main:
            continue
        children = [pid for pid, parent in parents.items() if parent == main]
        if arguments["forking"] and children:
            workers.update(dict.fromkeys(children, unit))
        else:
            workers[main] = unit
    return workers


def find_busy_worker(arguments):
    """Return (pid, unit) of the worker that spends the most CPU, or None."""
    deadline = time.time() + arguments["find_timeout"]
    while time.time() < deadline:
        workers = worker_pids(arguments)
        before = {pid: cpu_ticks(pid) for pid in workers}
        time.sleep(0.25)
        deltas = {}
        for pid, ticks in before.items():
            try:
                deltas[pid] = cpu_ticks(pid) - ticks
            except OSError:
                continue
        if deltas:
            pid = max(deltas, key=deltas.get)
            # 10 of 25 ticks (at 100 Hz) is 40% of a core: a running task.
            if deltas[pid] >= 10:
                return pid, workers[pid]
    return None


def kill_and_watch(arguments):
    """Kill the busy worker with SIGKILL and time its replacement."""
    busy = find_busy_worker(arguments)
    if busy is None:
        return {"error": "no worker was busy with a task"}
    pid, unit = busy
    port = arguments["port"]
    old_workers = set(worker_pids(arguments))
    killed_at = time.time()
    os.kill(pid, signal.SIGKILL)

    replacement = restarted_at = ready_at = connected_at = None
    deadline = killed_at + arguments["watch_timeout"]

    def finished():
        if connected_at is None:
            return False
        return arguments["forking"] or ready_at is not None

    while time.time() < deadline and not finished():
        now = time.time()
        if replacement is None:
            new = set(worker_pids(arguments)) - old_workers
            if new:
                replacement = new.pop()
                restarted_at = now
        if replacement is not None and not arguments["forking"] and ready_at is None:
            state = systemctl_show(unit, "ActiveState", "MainPID")
            if (
                state["ActiveState"] == "active"
                and int(state["MainPID"]) == replacement
            ):
                ready_at = now
        if (
            replacement is not None
            and connected_at is None
            and amqp_connected_pids([replacement], port)
        ):
            connected_at = now
        time.sleep(POLL_SECONDS)

    def since_kill(moment):
        return None if moment is None else moment - killed_at

    return {
        "killed_pid": pid,
        "unit": unit,
        "killed_at": killed_at,
        "replacement_pid": replacement,
        "process_seconds": since_kill(restarted_at),
        "ready_seconds": since_kill(ready_at),
        "connected_seconds": since_kill(connected_at),
        "restarts": int(systemctl_show(unit, "NRestarts")["NRestarts"] or 0),
    }


ACTIONS = {
    "memory": memory,
    "wait_connected": wait_connected,
    "timed_start": timed_start,
    "kill_and_watch": kill_and_watch,
}


if __name__ == "__main__":
    request = json.loads(sys.argv[1])
    json.dump(ACTIONS[request["action"]](request), sys.stdout)
