"""Configuration changes: rolling and all-at-once restarts, rejected files."""

import itertools

import engine_checks as checks

testinfra_hosts = ["ansible://mconfig"]

UNITS = checks.units_for(3)
CONF = "/etc/murano/murano.conf"


def restarted_order(host, since):
    """Return [(unit, stopping, started)] sorted by the time each stopped."""
    events = checks.unit_job_times(host, UNITS, since)
    rows = []
    for unit, unit_events in events.items():
        stopping = [t for kind, t in unit_events if kind == "stopping"]
        started = [t for kind, t in unit_events if kind == "started"]
        assert stopping, f"{unit} was not restarted"
        assert started, f"{unit} did not become ready again"
        rows.append((unit, min(stopping), max(started)))
    return sorted(rows, key=lambda row: row[1])


def test_no_change_restarts_nothing(host):
    before = checks.pids(host, UNITS)
    result = checks.converge()
    assert "changed=0" in result.stdout
    assert checks.pids(host, UNITS) == before


def test_config_change_restarts_one_at_a_time(host):
    before = checks.pids(host, UNITS)
    since = checks.host_now(host)
    checks.converge("-e", '{"murano_engine_config": {"DEFAULT": {"debug": true}}}')
    after = checks.pids(host, UNITS)
    for unit in UNITS:
        assert after[unit] != before[unit], f"{unit} kept PID {before[unit]}"
    assert host.file(CONF).contains("^debug = true$")
    rows = restarted_order(host, since)
    for previous, current in itertools.pairwise(rows):
        # The next instance stops only after the previous one is READY again.
        assert current[1] >= previous[2], (
            f"{current[0]} stopped before {previous[0]} was ready"
        )


def test_batch_of_two_keeps_one_running(host):
    since = checks.host_now(host)
    checks.converge(
        "-e",
        '{"murano_engine_config": {"DEFAULT": {"debug": false}}}',
        "-e",
        "murano_engine_restart_batch=2",
    )
    rows = restarted_order(host, since)
    # Two stop together; the third waits until both are READY again.
    assert rows[2][1] >= max(rows[0][2], rows[1][2])


def test_all_mode_restarts_together(host):
    since = checks.host_now(host)
    checks.converge(
        "-e",
        '{"murano_engine_config": {"DEFAULT": {"debug": true}}}',
        "-e",
        "murano_engine_restart_mode=all",
    )
    rows = restarted_order(host, since)
    last_stop = max(row[1] for row in rows)
    first_ready = min(row[2] for row in rows)
    assert last_stop <= first_ready


def test_unit_change_restarts(host):
    before = checks.pids(host, UNITS)
    checks.converge(
        "-e",
        '{"murano_engine_config": {"DEFAULT": {"debug": true}}}',
        "-e",
        "murano_engine_timeout_stop_sec=95",
    )
    assert checks.show(host, UNITS[0], "TimeoutStopUSec") == "1min 35s"
    after = checks.pids(host, UNITS)
    assert all(after[unit] != before[unit] for unit in UNITS)


def test_invalid_config_rejected(host):
    cases = {
        "unknown option": '{"murano_engine_config": {"engine": {"no_such_option": 1}}}',
        "bad value": '{"murano_engine_config": {"engine": {"engine_workers": "abc"}}}',
        "bad boolean": '{"murano_engine_config": {"engine": {"use_trusts": "maybe"}}}',
    }
    for case, extra in cases.items():
        before = checks.host_snapshot(host)
        result = checks.run_playbook("site.yml", "-e", extra)
        output = result.stdout + result.stderr
        assert result.returncode != 0, case
        assert "murano.conf was rejected" in output, case
        assert checks.host_snapshot(host) == before, case
