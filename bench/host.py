"""Remote commands on a test host over ssh, with Ansible's connection details."""

import json
import shlex
import subprocess
import tempfile
from pathlib import Path


class RemoteError(Exception):
    """A command on the test host failed or timed out."""


class Host:
    """An inventory host reached by ssh with one shared master connection."""

    def __init__(self, inventory, name):
        self.inventory = inventory
        self.name = name
        variables = inventory_host_vars(inventory, name)
        self.address = variables.get("ansible_host", name)
        self.port = int(variables.get("ansible_port", 22))
        self.user = variables.get("ansible_user", "root")
        self.key = variables.get("ansible_private_key_file")
        self.variables = variables
        self._control_dir = tempfile.mkdtemp(prefix="bench-ssh-")
        self._start_master()

    def _start_master(self):
        # A master started by the first command would keep that command's
        # output pipes open after it exits, so it starts here with none.
        subprocess.run(
            [*self.ssh_command()[:-1], "-M", "-N", "-f", self.destination()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )

    def destination(self):
        return f"{self.user}@{self.address}"

    def ssh_command(self):
        command = [
            "ssh",
            "-p",
            str(self.port),
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "ControlMaster=auto",
            "-o",
            f"ControlPath={self._control_dir}/%C",
            "-o",
            "ControlPersist=300",
        ]
        if self.key:
            command += ["-i", self.key, "-o", "IdentitiesOnly=yes"]
        return [*command, self.destination()]

    def run(self, command, timeout=120, check=True, stdin=None):
        """Run a shell command on the host; return its stdout."""
        try:
            completed = subprocess.run(
                [*self.ssh_command(), command],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as e:
            raise RemoteError(
                f"{self.name}: command timed out after {timeout} s: {command}"
            ) from e
        if check and completed.returncode != 0:
            raise RemoteError(
                f"{self.name}: command failed with exit code "
                f"{completed.returncode}: {command}\n{completed.stderr.strip()}"
            )
        return completed.stdout

    def python(self, script, arguments=None, timeout=120):
        """Run a Python script with python3 on the host; return its JSON output."""
        argument_text = shlex.quote(json.dumps(arguments or {}))
        output = self.run(f"python3 - {argument_text}", timeout=timeout, stdin=script)
        return json.loads(output)

    def close(self):
        subprocess.run(
            [*self.ssh_command()[:-1], "-O", "exit", self.destination()],
            capture_output=True,
            check=False,
        )


def inventory_host_vars(inventory, name):
    completed = subprocess.run(
        ["ansible-inventory", "-i", str(inventory), "--host", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RemoteError(
            f"host {name} not found in inventory {inventory}: "
            f"{completed.stderr.strip()}"
        )
    return json.loads(completed.stdout)


def first_host(inventory, group):
    """Return the first host of ``group`` in the inventory."""
    completed = subprocess.run(
        ["ansible-inventory", "-i", str(inventory), "--list"],
        capture_output=True,
        text=True,
        check=True,
    )
    hosts = json.loads(completed.stdout).get(group, {}).get("hosts", [])
    if not hosts:
        raise RemoteError(f"inventory {inventory} has no host in group {group}")
    return hosts[0]


def default_inventory(project):
    """Return the inventory that ansible.cfg in ``project`` names."""
    for line in (Path(project) / "ansible.cfg").read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "inventory":
            return Path(project) / value.strip()
    return Path(project) / "inventories" / "sandbox"
