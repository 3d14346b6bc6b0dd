"""Remote commands on a test host over ssh, with Ansible's connection details."""

import json
import os
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
        details = connection_details(inventory, name)
        self.address = details["host"]
        self.port = int(details["port"])
        self.user = details["user"]
        self.key = details["key"] or None
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


# Ansible renders these, so a key path built with a lookup works as it does
# for ansible-playbook.
CONNECTION_TEMPLATE = (
    "{{ {'host': ansible_host | default(inventory_hostname), "
    "'port': ansible_port | default(22), "
    "'user': ansible_user | default('root'), "
    "'key': ansible_ssh_private_key_file "
    "| default(ansible_private_key_file | default(''))} | to_json }}"
)


def connection_details(inventory, name):
    """Return the host's ssh address, port, user and key as Ansible renders them."""
    completed = subprocess.run(
        [
            "ansible",
            "-i",
            str(inventory),
            name,
            "-m",
            "ansible.builtin.debug",
            "-a",
            f"msg={CONNECTION_TEMPLATE}",
        ],
        env={
            **os.environ,
            # Prints "HOST | SUCCESS => {...}" whatever ansible.cfg or
            # the caller's environment chose.
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.minimal",
            "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    _, _, output = completed.stdout.partition(" => ")
    try:
        return json.loads(json.loads(output)["msg"])
    except (ValueError, KeyError, TypeError):
        raise RemoteError(
            f"cannot read host {name} from inventory {inventory}: "
            f"{(completed.stderr or completed.stdout).strip()[-2000:]}"
        ) from None


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


def add_host_arguments(parser):
    """Add the options that choose the test host: --inventory and --host."""
    parser.add_argument(
        "-i",
        "--inventory",
        type=Path,
        help="Ansible inventory of the test host (default: the one ansible.cfg names)",
    )
    parser.add_argument(
        "--host",
        help="inventory host that runs the broker and the engines "
        "(default: the first host of group murano_engines)",
    )


def default_inventory(project):
    """Return the inventory that ansible.cfg in ``project`` names."""
    for line in (Path(project) / "ansible.cfg").read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "inventory":
            return Path(project) / value.strip()
    return Path(project) / "inventories" / "sandbox"
