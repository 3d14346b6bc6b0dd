"""Sandbox of the instance units: settings, score, and deployments still run."""

import re

import engine_checks as checks
import pytest

testinfra_hosts = ["ansible://mvalidate"]

PORT = 5811
COUNT = 16
UNITS = checks.units_for(COUNT)
MAX_EXPOSURE = 1.5

# Properties as `systemctl show` prints them for a hardened instance.
PROPERTIES = {
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "DevicePolicy": "closed",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "NoNewPrivileges": "yes",
    "PrivateUsers": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "ProtectProc": "invisible",
    "ProcSubset": "pid",
    "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    # systemd prints the families sorted by name.
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "SystemCallArchitectures": "native",
    "UMask": "0077",
    "RemoveIPC": "yes",
    "KeyringMode": "private",
    "StateDirectory": "murano",
    "CacheDirectory": "murano",
}


@pytest.mark.parametrize(("prop", "expected"), PROPERTIES.items())
def test_instance_sandbox_property(host, prop, expected):
    assert checks.show(host, UNITS[0], prop) == expected


def test_system_call_filter_denies_privileged(host):
    allowed = checks.show(host, UNITS[0], "SystemCallFilter").split()
    # systemd stores the filter as an allow list: @system-service minus the
    # calls of @privileged and @resources. A deny list would start with "~".
    assert allowed, "no system call filter"
    assert allowed[0] != "~", "the filter is a deny list"
    for call in ["setuid", "chroot", "mount", "setrlimit", "sched_setscheduler"]:
        assert call not in allowed, f"{call} is allowed"
    for call in ["read", "socket", "epoll_wait"]:
        assert call in allowed, f"{call} is denied"


def test_security_exposure_is_low(host):
    output = host.check_output(
        "systemd-analyze security --no-pager murano-engine@1.service"
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", output)
    assert match, output[-2000:]
    assert float(match.group(1)) <= MAX_EXPOSURE, output


def test_units_verify_clean(host):
    # The test hosts carry no man pages, so the Documentation= check is off.
    result = host.run(
        "systemd-analyze verify --man=no murano-engine@1.service "
        "murano-engine.slice murano-engine.target"
    )
    assert result.rc == 0
    assert result.stdout.strip() == ""
    assert result.stderr.strip() == ""


def test_instances_active_without_restarts(host):
    states = checks.wait_active(host, UNITS, timeout=60)
    for unit in UNITS:
        assert states[unit] == "active", unit
        assert checks.show(host, unit, "NRestarts") == "0", unit


def test_only_own_paths_writable(host):
    pid = checks.main_pid(host, UNITS[0])
    mounts = host.check_output(f"cat /proc/{pid}/mountinfo")
    writable = set()
    for line in mounts.splitlines():
        fields = line.split()
        mount_point, options = fields[4], fields[5].split(",")
        if "rw" in options:
            writable.add(mount_point)
    for path in ["/", "/usr", "/etc", "/var/lib/murano-engine-packages"]:
        assert path not in writable, f"{path} is writable"
    for path in ["/var/lib/murano", "/var/cache/murano"]:
        assert path in writable, f"{path} is not writable: {sorted(writable)}"


def test_deployments_succeed_in_sandbox(host):
    exit_code, figures = checks.submit(
        PORT,
        "--count",
        "48",
        "--workload",
        "wait",
        "--seconds",
        "1",
        "--timeout",
        "300",
    )
    assert figures is not None, "murano-engine-submit wrote no figures"
    summary = figures["summary"]
    assert summary["done"] == 48
    assert summary["failed"] == 0
    assert summary["missing"] == 0
    assert exit_code == 0


def test_cpu_deployments_succeed_in_sandbox(host):
    exit_code, figures = checks.submit(
        PORT,
        "--count",
        "8",
        "--workload",
        "cpu",
        "--steps",
        "2000",
        "--timeout",
        "300",
    )
    assert figures is not None, "murano-engine-submit wrote no figures"
    assert figures["summary"]["done"] == 8
    assert figures["summary"]["failed"] == 0
    assert exit_code == 0


def test_packages_cache_written(host):
    cache = host.file("/var/cache/murano/packages")
    assert cache.is_directory
    assert cache.user == "murano"
