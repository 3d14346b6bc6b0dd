"""Every benchmark in bench/ runs in short mode and leaves the host converged."""

import json
import os
import subprocess
import sys
from pathlib import Path

import engine_checks as checks

testinfra_hosts = ["ansible://mbench"]

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).parents[3]))


def run_bench_module(module, *arguments, timeout=600):
    """Run ``python -m module --short`` against mbench; print and return it."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            module,
            "--short",
            "--inventory",
            os.environ["MOLECULE_INVENTORY_FILE"],
            "--host",
            "mbench",
            *arguments,
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    print(completed.stdout)
    print(completed.stderr[-6000:])
    return completed


def test_short_bench(host, tmp_path):
    completed = run_bench_module("bench", "--results-dir", str(tmp_path))
    assert completed.returncode == 0, completed.stderr[-3000:]

    reports = list(tmp_path.glob("bench-short-*.json"))
    assert len(reports) == 1
    report = json.loads(reports[0].read_text())
    assert reports[0].with_suffix(".png").exists()

    for row in report["throughput"]:
        assert row["done"] == row["count"], row
    for row in report["wait"]:
        assert row["done"] == row["count"], row
    assert {row["design"] for row in report["memory"]} >= {"ours", "forking"}
    for row in report["memory"]:
        assert row["processes"] >= row["workers"], row
        assert row["total_pss_mb"] > 0, row

    recoveries = {row["design"]: row for row in report["recovery"]}
    assert "error" not in recoveries["ours"], recoveries["ours"]
    # The runner acknowledges a task only after its result is sent, so the
    # deployment held by the killed instance is done by another one.
    assert recoveries["ours"]["held_deployment"] == "done"
    assert recoveries["ours"]["ready_seconds"] is not None
    assert "error" not in recoveries["forking"], recoveries["forking"]

    assert report["start"], "no start times"
    assert sum(report["converge"]["no_change"]["changed"].values()) == 0
    assert report["targets"], "no target was checked"


def test_short_soak_both_engines(host, tmp_path):
    # 60 tasks per engine while 3 of 4 instances are SIGKILLed.
    output = tmp_path / "soak.json"
    completed = run_bench_module("bench.soak", "--json", str(output), timeout=900)
    assert completed.returncode == 0, completed.stderr[-3000:]
    rows = {
        run["program"]: run["figures"] for run in json.loads(output.read_text())["runs"]
    }
    assert set(rows) == {"runner", "stock"}
    for row in rows.values():
        assert row["cast"] == 60, row
        assert row["kills"] == 3, row
        assert row["done"] + row["dead_lettered"] + row["lost"] == 60, row
    runner = rows["runner"]
    assert runner["lost"] == 0, runner
    assert runner["dead_lettered"] == 0, runner
    # A kill can cut at most max_in_flight (4) tasks short.
    assert runner["duplicates"] <= 3 * 4, runner
    assert "runner" in completed.stdout
    assert "stock" in completed.stdout


def test_converged_state_restored(host):
    units = checks.instance_units(host)
    active = sorted(unit for unit, state in units.items() if state == "active")
    assert active == checks.units_for(2)
    # systemd may keep a stopped instance loaded while the target that
    # lists it is loaded, so the extra instances need only be stopped.
    for unit, state in units.items():
        if unit not in active:
            assert state == "inactive", f"{unit} is {state}"
    assert host.run("systemctl is-enabled murano-engine.service").stdout.strip() == (
        "masked"
    )
    assert not host.file("/run/systemd/system/murano-engine.service.d").exists
