"""The benchmarks: each returns plain dicts that go into the JSON report."""

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench import designs
from bench.submit import TimedTasks, submit

KIB_PER_MIB = 1024


@dataclass(frozen=True)
class Profile:
    """Sizes of one run. ``short`` runs every benchmark once, small."""

    name: str
    designs: tuple
    memory_workers: tuple
    memory_deployments: int
    throughput_workers: tuple
    cpu_count: int
    cpu_steps: int
    wait_workers: int
    wait_count: int
    wait_seconds: float
    recovery_repeats: int
    recovery_steps: int
    recovery_lost_after: float
    start_workers: tuple
    converge_counts: tuple


FULL = Profile(
    name="full",
    designs=("ours", "forking", "ours-arena2", "ours-stock"),
    memory_workers=(1, 2, 4),
    memory_deployments=200,
    throughput_workers=(1, 2),
    cpu_count=40,
    cpu_steps=3000,
    wait_workers=2,
    wait_count=200,
    wait_seconds=2.0,
    recovery_repeats=3,
    recovery_steps=1500,
    recovery_lost_after=20.0,
    start_workers=(1, 4),
    converge_counts=(4, 16),
)
SHORT = Profile(
    name="short",
    designs=("ours", "forking", "ours-arena2"),
    memory_workers=(2,),
    memory_deployments=10,
    throughput_workers=(1, 2),
    cpu_count=6,
    cpu_steps=1000,
    wait_workers=2,
    wait_count=20,
    wait_seconds=1.0,
    recovery_repeats=1,
    recovery_steps=1500,
    recovery_lost_after=8.0,
    start_workers=(1, 2),
    converge_counts=(),
)

# Designs that the throughput, wait and recovery benchmarks compare. The
# other designs are variants measured for memory and start time only.
COMPARED = ("ours", "forking")


class Session:
    """One design with N workers started on the host, and its measurements."""

    def __init__(self, deployment, url, profile, design, workers):
        self.deployment = deployment
        self.url = url
        self.profile = profile
        self.design = design
        self.workers = workers

    def label(self):
        return {"design": self.design.name, "workers": self.workers}

    def start(self):
        timings = self.deployment.switch(self.design, self.workers)
        return {
            **self.label(),
            "systemctl_seconds": timings["systemctl_seconds"],
            "connected_seconds": timings["connected_seconds"],
            # Type=notify units return from `systemctl start` at READY; the
            # forking design's packaged unit is Type=simple, so only the
            # workers' broker connections show when it takes tasks.
            "ready_seconds": (
                timings["connected_seconds"]
                if self.design.forking
                else timings["systemctl_seconds"]
            ),
        }

    def memory(self):
        count = self.profile.memory_deployments
        summary = submit(
            self.url, count, "wait", timeout=600, concurrency=16, seconds=0.1
        )
        processes = self.deployment.memory()["processes"]
        return {
            **self.label(),
            "deployments": count,
            "done": summary["done"],
            "processes": len(processes),
            "total_pss_mb": sum(p["pss_kb"] for p in processes) / KIB_PER_MIB,
            "total_rss_mb": sum(p["rss_kb"] for p in processes) / KIB_PER_MIB,
            "pss_mb": [round(p["pss_kb"] / KIB_PER_MIB, 1) for p in processes],
        }

    def throughput(self):
        profile = self.profile
        summary = submit(
            self.url,
            profile.cpu_count,
            "cpu",
            timeout=900,
            concurrency=4 * self.workers,
            steps=profile.cpu_steps,
        )
        return {
            **self.label(),
            "workload": "cpu",
            "count": profile.cpu_count,
            "steps": profile.cpu_steps,
            **_run_figures(summary),
        }

    def waiting(self):
        profile = self.profile
        summary = submit(
            self.url,
            profile.wait_count,
            "wait",
            timeout=900,
            seconds=profile.wait_seconds,
        )
        return {
            **self.label(),
            "workload": "wait",
            "count": profile.wait_count,
            "seconds": profile.wait_seconds,
            "concurrency": profile.wait_count,
            "latency_p95": summary["latency"].get("p95"),
            **_run_figures(summary),
        }

    def recovery(self):
        """Kill the worker running a CPU-bound deployment and time what follows."""
        tasks = TimedTasks(
            self.url,
            1,
            "cpu",
            timeout=self.profile.recovery_lost_after,
            steps=self.profile.recovery_steps,
        )
        tasks.start()
        watch = self.deployment.kill_busy_worker(find_timeout=60, watch_timeout=60)
        record = tasks.join()[0]
        figures = {**self.label(), **watch}
        if "error" in watch:
            return figures
        figures["held_deployment"] = "lost"
        figures["held_done_seconds"] = None
        if record["results"]:
            figures["held_deployment"] = "done"
            figures["held_done_seconds"] = (
                record["first_result_at"] - watch["killed_at"]
            )
            figures["held_done_by"] = record["results"][0]
            figures["results"] = len(record["results"])
        # Let the killed worker come back before the next measurement.
        self.deployment.host.python(
            designs.PROBE,
            {
                "action": "wait_connected",
                "units": self.deployment.units(),
                "count": self.workers,
                "port": self.deployment.amqp_port,
                "timeout": 60,
            },
            timeout=90,
        )
        return figures


def _run_figures(summary):
    return {
        "done": summary["done"],
        "failed": summary["failed"],
        "missing": summary["missing"],
        "wall_seconds": summary["wall_seconds"],
        "deployments_per_second": summary["throughput"],
    }


def run_sessions(deployment, url, profile, log):
    """Run every per-design benchmark; return {benchmark: [rows]}."""
    rows = {"start": [], "memory": [], "throughput": [], "wait": [], "recovery": []}
    worker_counts = sorted(
        set(profile.memory_workers)
        | set(profile.throughput_workers)
        | set(profile.start_workers)
        | {profile.wait_workers}
    )
    for name in profile.designs:
        design = designs.DESIGNS[name]
        compared = name in COMPARED
        for workers in worker_counts:
            selected = {
                "start": workers in profile.start_workers,
                "memory": workers in profile.memory_workers,
                "throughput": compared and workers in profile.throughput_workers,
                "wait": compared and workers == profile.wait_workers,
                "recovery": compared and workers == profile.wait_workers,
            }
            if not any(selected.values()):
                continue
            session = Session(deployment, url, profile, design, workers)
            log(f"{name} with {workers} workers: starting")
            rows["start"].append(session.start())
            if selected["memory"]:
                log(f"{name} with {workers} workers: memory")
                rows["memory"].append(session.memory())
            if selected["throughput"]:
                log(f"{name} with {workers} workers: CPU-bound throughput")
                rows["throughput"].append(session.throughput())
            if selected["wait"]:
                log(f"{name} with {workers} workers: waiting deployments")
                rows["wait"].append(session.waiting())
            if selected["recovery"]:
                for repeat in range(profile.recovery_repeats):
                    log(f"{name} with {workers} workers: recovery {repeat + 1}")
                    rows["recovery"].append(session.recovery())
    _add_ratios(rows["throughput"])
    return rows


def _add_ratios(throughput_rows):
    one = {
        row["design"]: row["deployments_per_second"]
        for row in throughput_rows
        if row["workers"] == 1
    }
    for row in throughput_rows:
        base = one.get(row["design"])
        row["ratio_to_one"] = row["deployments_per_second"] / base if base else None


RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+).*failed=(\d+)", re.MULTILINE)


def run_site(project, inventory, *extra, timeout=1800):
    """Run site.yml; return its wall seconds and changed count per host.

    Raises RuntimeError when the play fails.
    """
    started = time.monotonic()
    completed = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), "site.yml", *extra],
        cwd=project,
        # Set in case ANSIBLE_CONFIG names a config without roles_path, as
        # under molecule.
        env=dict(os.environ, ANSIBLE_ROLES_PATH=str(Path(project) / "roles")),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    seconds = time.monotonic() - started
    changed = {m[0]: int(m[2]) for m in RECAP.findall(completed.stdout)}
    changed_tasks = []
    task = ""
    for line in completed.stdout.splitlines():
        if line.startswith("TASK ["):
            task = line[len("TASK [") :].split("]")[0]
        elif line.startswith("changed:"):
            changed_tasks.append(task)
    if completed.returncode != 0:
        raise RuntimeError(
            f"site.yml {' '.join(extra)} failed with exit code "
            f"{completed.returncode}:\n{completed.stdout[-3000:]}"
        )
    return {"seconds": seconds, "changed": changed, "changed_tasks": changed_tasks}


def converge_cost(project, inventory, profile, log):
    """Time a converge that changes nothing, and converges from no instances."""
    log("converge with nothing to change")
    figures = {"no_change": run_site(project, inventory), "from_scratch": []}
    for count in profile.converge_counts:
        log(f"converge of {count} instances from scratch")
        run_site(project, inventory, "-e", "murano_engine_state=absent")
        result = run_site(project, inventory, "-e", f"engine_workers={count}")
        figures["from_scratch"].append({"instances": count, **result})
    if profile.converge_counts:
        log("converge back to the inventory's instances")
        run_site(project, inventory, "-e", "murano_engine_state=absent")
        run_site(project, inventory)
    return figures
