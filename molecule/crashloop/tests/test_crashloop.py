"""Instances that keep exiting are retried forever; SIGKILLs are survived."""

import time

import engine_checks as checks

testinfra_hosts = ["ansible://mcrash"]

UNITS = checks.units_for(2)
# oslo.log cannot open a log file in a directory that does not exist, so the
# engine exits at start; the option values themselves are valid.
BROKEN = '{"murano_engine_config": {"DEFAULT": {"log_dir": "/nonexistent/murano", "log_file": "engine.log"}}}'


def test_exiting_engine_is_retried_for_a_minute(host):
    result = checks.run_playbook(
        "site.yml",
        "-e",
        BROKEN,
        "-e",
        "murano_engine_restart_mode=all",
        "-e",
        "murano_engine_ready_timeout=20",
    )
    assert result.returncode != 0, (
        "the play should report instances that never became ready"
    )
    output = " ".join((result.stdout + result.stderr).split())
    assert "did not report READY within murano_engine_ready_timeout (20 s)" in output
    restarts_before = {
        unit: int(checks.show(host, unit, "NRestarts")) for unit in UNITS
    }
    time.sleep(60)
    for unit in UNITS:
        state = checks.show(host, unit, "ActiveState")
        assert state in ("activating", "inactive", "deactivating"), f"{unit} is {state}"
        assert state != "failed"
        restarts = int(checks.show(host, unit, "NRestarts"))
        # RestartSec is 1 s and a failing start takes a few seconds, so a
        # minute brings several more attempts, even on a loaded machine.
        assert restarts >= restarts_before[unit] + 5, (
            f"{unit} restarted {restarts} times"
        )


def test_fixed_config_brings_all_ready(host):
    checks.converge()
    states = checks.wait_active(host, UNITS, timeout=120)
    assert set(states.values()) == {"active"}


def test_repeated_kill_of_every_instance(host):
    for _ in range(3):
        old = checks.pids(host, UNITS)
        for pid in old.values():
            host.run(f"kill -9 {pid}")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            new = checks.pids(host, UNITS)
            if all(new[u] not in (0, old[u]) for u in UNITS):
                break
            time.sleep(0.5)
        states = checks.wait_active(host, UNITS, timeout=120)
        assert set(states.values()) == {"active"}
        new = checks.pids(host, UNITS)
        assert all(new[u] != old[u] for u in UNITS)
    assert checks.wait_consumers(host, 2) == 2
