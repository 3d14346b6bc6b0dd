"""The broker password stays out of output, command lines, journal and files."""

import os
import subprocess
import tempfile
import time
from pathlib import Path

import engine_checks as checks

testinfra_hosts = ["ansible://mvalidate"]

UNITS = checks.units_for(16)


def process_command_lines(host):
    """Return every process's command line on the host, NUL bytes as spaces."""
    return host.check_output(
        "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f 2>/dev/null; echo; done"
    )


def test_converge_hides_password(host):
    """Run site.yml with -v --diff while the role sets the password again.

    The broker password is first changed on the broker, so the role's
    password tasks run with the real password, and ps is sampled meanwhile.
    """
    password = checks.scenario_password()
    host.check_output("rabbitmqctl --quiet change_password murano changed-by-the-test")
    project = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
    environment = dict(os.environ, ANSIBLE_ROLES_PATH=str(project / "roles"))
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    # The output goes to a file: a pipe read only at the end would fill up
    # and block the playbook.
    with tempfile.TemporaryFile("w+") as log:
        with subprocess.Popen(
            ["ansible-playbook", "-i", inventory, "site.yml", "-v", "--diff"],
            cwd=project,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        ) as playbook:
            samples = 0
            while playbook.poll() is None:
                assert password not in process_command_lines(host)
                samples += 1
                time.sleep(0.2)
        log.seek(0)
        output = log.read()
    assert playbook.returncode == 0, output[-4000:]
    assert samples > 10
    assert password not in output
    assert "Set the engines' password" in output
    result = host.run(
        "rabbitmqctl --quiet authenticate_user murano changed-by-the-test"
    )
    assert result.rc != 0, "the role did not set the password again"


def test_check_diff_of_config_change_hides_password(host):
    before = checks.host_snapshot(host)
    result = checks.run_playbook(
        "site.yml",
        "--check",
        "--diff",
        "-v",
        "-e",
        '{"murano_engine_config": {"DEFAULT": {"debug": true}}}',
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert checks.scenario_password() not in output
    assert checks.host_snapshot(host) == before


def test_command_lines_hide_password(host):
    assert checks.scenario_password() not in process_command_lines(host)


def test_journal_hides_password(host):
    journal = host.check_output("journalctl --no-pager -o cat")
    assert len(journal) > 0
    assert checks.scenario_password() not in journal


def test_no_world_readable_file_has_password(host):
    readable = checks.files_containing_password(
        host,
        "/etc /var/lib /usr/lib/murano-engine-tools /run",
        find_filter="-perm -0004",
    )
    assert readable == []
