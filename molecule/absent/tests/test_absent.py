"""murano_engine_state: absent removes every object the role made."""

import engine_checks as checks

testinfra_hosts = ["ansible://mabsent"]

UNIT_FILES = [
    "/etc/systemd/system/murano-engine@.service",
    "/etc/systemd/system/murano-engine.slice",
    "/etc/systemd/system/murano-engine.target",
    "/etc/systemd/system/murano-engine.target.wants",
]
OTHER_PATHS = [
    "/etc/murano/murano.conf",
    "/etc/murano/murano-engine-instance.conf",
    "/var/lib/murano-engine-packages",
    "/usr/lib/murano-engine-tools",
]


def test_absent_removes_everything(host):
    assert sorted(checks.instance_units(host)) == checks.units_for(2)
    checks.converge("-e", "murano_engine_state=absent")

    assert checks.active_units(host) == []
    for unit in checks.instance_units(host):
        # systemd may list a removed instance until it unloads it.
        assert checks.show(host, unit, "LoadState") == "not-found", unit
    for path in UNIT_FILES + OTHER_PATHS:
        assert not host.file(path).exists, f"{path} is still there"
    for unit in ("murano-engine.slice", "murano-engine.target"):
        assert checks.show(host, unit, "ActiveState") == "inactive", unit
        assert checks.show(host, unit, "FragmentPath") == "", unit
    assert host.run("pgrep -u murano").stdout.strip() == ""
    # The packaged forking unit stays masked, and the packages stay.
    assert checks.show(host, "murano-engine.service", "LoadState") == "masked"
    assert host.package("murano-engine").is_installed


def test_absent_again_changes_nothing(host):
    result = checks.converge("-e", "murano_engine_state=absent")
    assert "changed=0" in result.stdout


def test_restore_unmasks_packaged_unit(host):
    checks.converge(
        "-e",
        "murano_engine_state=absent",
        "-e",
        "murano_engine_restore_packaged_unit=true",
    )
    assert checks.show(host, "murano-engine.service", "LoadState") == "loaded"
    # Unmasking does not start it: the operator decides.
    assert checks.show(host, "murano-engine.service", "ActiveState") == "inactive"


def test_present_after_absent(host):
    checks.converge()
    units = checks.instance_units(host)
    assert sorted(units) == checks.units_for(2)
    assert set(units.values()) == {"active"}
    assert checks.show(host, "murano-engine.service", "LoadState") == "masked"
