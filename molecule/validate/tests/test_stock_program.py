"""Debian's own murano-engine runs in the same sandbox.

Runs last (file order): it leaves the host on the stock program.
"""

import engine_checks as checks

testinfra_hosts = ["ansible://mvalidate"]

PORT = 5811
UNITS = checks.units_for(2)


def test_stock_engine_deploys_in_sandbox(host):
    checks.converge("-e", "murano_engine_program=stock", "-e", "engine_workers=2")
    assert checks.enabled_units(host) == UNITS
    states = checks.wait_active(host, UNITS, timeout=60)
    for unit in UNITS:
        assert states[unit] == "active", unit
        assert checks.show(host, unit, "ExecStart").count("/usr/bin/murano-engine") > 0
        assert checks.show(host, unit, "ProtectSystem") == "strict"
        assert checks.show(host, unit, "NRestarts") == "0"
    exit_code, figures = checks.submit(
        PORT, "--count", "6", "--workload", "wait", "--seconds", "1", "--timeout", "300"
    )
    assert figures is not None, "murano-engine-submit wrote no figures"
    assert figures["summary"]["done"] == 6
    assert figures["summary"]["failed"] == 0
    assert exit_code == 0
