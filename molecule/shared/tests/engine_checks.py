"""Checks shared by the molecule scenarios' testinfra tests.

They read systemd and RabbitMQ on the test hosts through testinfra's host
objects, and run murano-engine-submit and ansible-playbook on the
controller, as an operator would.
"""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

TEMPLATE = "murano-engine@"
VHOST = "/murano"


def instance_units(host):
    """Return the loaded murano-engine@ units as {unit: active state}."""
    output = host.check_output(
        "systemctl list-units --all --plain --no-legend --type=service "
        "'murano-engine@*.service'"
    )
    units = {}
    for line in output.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            units[fields[0]] = fields[2]
    return units


def enabled_units(host):
    """Return the instance units linked into murano-engine.target.wants."""
    wants = "/etc/systemd/system/murano-engine.target.wants"
    if not host.file(wants).is_directory:
        return []
    return sorted(host.check_output(f"ls {wants}").split())


def show(host, unit, prop):
    """Return one property of a unit, as `systemctl show` prints it."""
    return host.check_output(f"systemctl show --value --property={prop} {unit}")


def main_pid(host, unit):
    return int(show(host, unit, "MainPID"))


def wait_active(host, units, timeout=180):
    """Wait until every unit is active (READY for Type=notify); return states."""
    deadline = time.monotonic() + timeout
    while True:
        states = {u: host.run(f"systemctl is-active {u}").stdout.strip() for u in units}
        if all(state == "active" for state in states.values()):
            return states
        if time.monotonic() > deadline:
            return states
        time.sleep(1)


def rabbitmqctl_json(host, *arguments):
    command = " ".join(["rabbitmqctl", "--quiet", *arguments, "--formatter", "json"])
    return json.loads(host.check_output(command))


def queue_info(broker, name, vhost=VHOST):
    """Return {'messages': n, 'consumers': n} for one queue, or None."""
    queues = rabbitmqctl_json(
        broker, "list_queues", "-p", vhost, "name", "messages", "consumers"
    )
    for queue in queues:
        if queue["name"] == name:
            return queue
    return None


def ephemeral_dir():
    return Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])


def transport_url(port, vhost=VHOST):
    """Build the engines' transport URL from the scenario's stored password."""
    password = (ephemeral_dir() / "rabbitmq_murano_password").read_text().strip()
    return f"rabbit://murano:{password}@127.0.0.1:{port}/{vhost}"


def submit(port, *arguments, timeout=600):
    """Run murano-engine-submit on the controller; return (exit code, figures)."""
    program = shutil.which("murano-engine-submit")
    assert program, "murano-engine-submit is not on PATH: pip install -e engine"
    with tempfile.TemporaryDirectory() as scratch:
        figures_path = Path(scratch) / "figures.json"
        environment = dict(os.environ, MURANO_TRANSPORT_URL=transport_url(port))
        completed = subprocess.run(
            [program, *arguments, "--json", str(figures_path)],
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        print(completed.stdout)
        print(completed.stderr[-4000:])
        figures = (
            json.loads(figures_path.read_text()) if figures_path.exists() else None
        )
    return completed.returncode, figures


def run_playbook(playbook, *extra_arguments, timeout=900):
    """Run ansible-playbook on the scenario's inventory; return the result."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    project = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
    environment = dict(os.environ, ANSIBLE_ROLES_PATH=str(project / "roles"))
    completed = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            inventory,
            str(project / playbook),
            *extra_arguments,
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=project,
    )
    return completed


def host_snapshot(host):
    """Return what a failed play must leave unchanged on an engine host."""
    files = [
        "/etc/murano/murano.conf",
        "/etc/murano/murano-engine-instance.conf",
        "/etc/systemd/system/murano-engine@.service",
        "/etc/systemd/system/murano-engine.slice",
        "/etc/systemd/system/murano-engine.target",
    ]
    checksums = {
        path: host.file(path).sha256sum if host.file(path).exists else None
        for path in files
    }
    units = instance_units(host)
    pids = {unit: main_pid(host, unit) for unit in units}
    return {
        "checksums": checksums,
        "units": units,
        "pids": pids,
        "enabled": enabled_units(host),
    }


def units_for(count):
    return [f"{TEMPLATE}{i}.service" for i in range(1, count + 1)]


def pids(host, units):
    return {unit: main_pid(host, unit) for unit in units}


def converge(*extra_arguments):
    """Run site.yml with extra arguments and fail the test on an error."""
    result = run_playbook("site.yml", *extra_arguments)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    return result


def unit_job_times(host, units, since):
    """Return {unit: [(event, microseconds)]} from systemd's journal.

    Events are "stopping" (systemd began to stop the unit) and "started"
    (the start job finished, which for Type=notify means READY=1).
    """
    output = host.check_output(
        f"journalctl -o json --no-pager _PID=1 --since=@{since:.0f}"
    )
    events = {unit: [] for unit in units}
    for line in output.splitlines():
        entry = json.loads(line)
        unit = entry.get("UNIT")
        if unit not in events:
            continue
        stamp = int(entry["__REALTIME_TIMESTAMP"])
        message = entry.get("MESSAGE", "")
        if message.startswith("Stopping "):
            events[unit].append(("stopping", stamp))
        elif entry.get("JOB_TYPE") == "start" and entry.get("JOB_RESULT") == "done":
            events[unit].append(("started", stamp))
    return events


def host_now(host):
    return float(host.check_output("date +%s.%N"))


def inventory_file():
    return os.environ["MOLECULE_INVENTORY_FILE"]


def scenario_password():
    """Return the broker password from the scenario's credentials file."""
    return (ephemeral_dir() / "rabbitmq_murano_password").read_text().strip()


def files_containing_password(host, paths, find_filter=""):
    """Return the sorted files under ``paths`` that contain the broker password.

    ``find_filter`` narrows the files, such as "-perm -0004" for world-readable
    ones. The password reaches the host base64-encoded in a pattern file, so
    no command line on the host carries it.
    """
    encoded = base64.b64encode(scenario_password().encode()).decode()
    pattern = "/root/.murano-password-pattern"
    result = host.run(
        f"printf %s {encoded} | base64 -d > {pattern}; "
        f"find {paths} -xdev -type f {find_filter} -print0 "
        f"| xargs -0 -r grep -lsF -f {pattern}; rm -f {pattern}"
    )
    return sorted(result.stdout.split())


def active_units(host):
    """Return the sorted instance units that are active.

    systemd may keep a stopped instance loaded (inactive) while the target it
    was part of stays loaded, so counts are taken over active units.
    """
    return sorted(
        unit for unit, state in instance_units(host).items() if state == "active"
    )


def wait_consumers(broker, count, name="tasks", timeout=60):
    """Wait until queue ``name`` has ``count`` consumers; return the last count.

    RabbitMQ updates a quorum queue's consumer count a moment after an
    instance has subscribed, and after a killed consumer's channel closes.
    """
    deadline = time.monotonic() + timeout
    while True:
        queue = queue_info(broker, name)
        consumers = queue["consumers"] if queue else 0
        if consumers == count or time.monotonic() > deadline:
            return consumers
        time.sleep(1)
