"""Check mode on a converged host and on a bare one."""

import os
import re
import tempfile

import engine_checks as checks
import testinfra
import yaml

testinfra_hosts = ["ansible://mvalidate"]


def recap(output, name):
    """Return the PLAY RECAP counters of one host as {name: number}."""
    # molecule forces colour, so the recap carries ANSI escape codes.
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output)
    match = re.search(rf"^{name}\s+:(.*)$", plain, re.MULTILINE)
    assert match, f"no recap for {name}"
    return {
        key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))
    }


def test_check_on_converged_host_changes_nothing(host):
    before = checks.host_snapshot(host)
    result = checks.run_playbook("site.yml", "--check")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    counters = recap(result.stdout, "mvalidate")
    assert counters["changed"] == 0, output[-4000:]
    assert counters["failed"] == 0
    assert checks.host_snapshot(host) == before


def test_check_on_bare_host_succeeds():
    """Run site.yml --check on mfresh, added to the broker and engine groups.

    mfresh stays out of both groups in the scenario's inventory, so converge
    never touches it. An extra inventory adds it for this run only.
    """
    extra = {
        "murano_broker": {"hosts": {"mfresh": None}},
        "murano_engines": {"hosts": {"mfresh": None}},
    }
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as inventory:
        yaml.safe_dump(extra, inventory)
        inventory.flush()
        result = checks.run_playbook(
            "site.yml", "--check", "-i", inventory.name, "--limit", "mfresh"
        )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    counters = recap(result.stdout, "mfresh")
    assert counters["failed"] == 0
    assert counters["unreachable"] == 0
    fresh = testinfra.get_host(
        "ansible://mfresh", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"]
    )
    assert not fresh.package("murano-engine").is_installed
    assert not fresh.package("rabbitmq-server").is_installed
    assert not fresh.file("/etc/systemd/system/murano-engine@.service").exists
