"""Privileges: the engines' user, file modes and who may write what."""

import amqp
import engine_checks as checks
import pytest

testinfra_hosts = ["ansible://mvalidate"]

PORT = 5811
UNITS = checks.units_for(16)

# Code and data the engines execute or load: root's, never murano's.
EXECUTED_PATHS = [
    "/usr/lib/murano-engine-tools",
    "/var/lib/murano-engine-packages",
    "/usr/lib/python3/dist-packages",
    "/usr/bin/murano-engine",
    "/usr/bin/python3",
    "/etc/murano",
    "/etc/systemd/system",
]


def test_murano_is_system_user_without_shell(host):
    user = host.user("murano")
    assert user.exists
    assert user.uid < 1000
    assert user.shell in ("/bin/false", "/usr/sbin/nologin")


@pytest.mark.parametrize("unit", UNITS)
def test_instance_runs_as_murano(host, unit):
    assert checks.show(host, unit, "User") == "murano"
    assert checks.show(host, unit, "Group") == "murano"
    pid = checks.main_pid(host, unit)
    assert pid > 0
    owner = host.check_output(f"ps -o user= -p {pid}").strip()
    assert owner == "murano"


@pytest.mark.parametrize(
    ("path", "mode"),
    [
        ("/etc/murano", 0o750),
        ("/etc/murano/murano.conf", 0o640),
        ("/etc/murano/murano-engine-instance.conf", 0o640),
    ],
)
def test_configuration_is_root_murano(host, path, mode):
    item = host.file(path)
    assert item.user == "root"
    assert item.group == "murano"
    assert item.mode == mode


def test_files_with_password_are_root_murano_0640(host):
    holders = checks.files_containing_password(
        host, "/etc /var/lib /usr/lib/murano-engine-tools /run"
    )
    assert holders == ["/etc/murano/murano.conf"]
    for path in holders:
        item = host.file(path)
        assert (item.user, item.group, item.mode) == ("root", "murano", 0o640), path


@pytest.mark.parametrize("path", EXECUTED_PATHS)
def test_nothing_executed_is_writable_by_murano(host, path):
    writable = host.run(
        # Links are left out: access(2) follows them, and the mask of the
        # packaged unit links to the world-writable /dev/null.
        f"runuser -u murano -- find {path} ! -type l -writable -print -quit"
    ).stdout.strip()
    assert writable == "", f"murano may write {writable}"


def test_murano_cannot_write_its_config(host):
    result = host.run("runuser -u murano -- test -w /etc/murano/murano.conf")
    assert result.rc != 0


def test_guest_user_deleted(host):
    users = checks.rabbitmqctl_json(host, "list_users")
    assert "guest" not in [user["user"] for user in users]


@pytest.mark.parametrize("vhost", ["/", "/murano"])
def test_guest_login_rejected(vhost):
    connection = amqp.Connection(
        host=f"127.0.0.1:{PORT}",
        userid="guest",
        password="guest",
        virtual_host=vhost,
        connect_timeout=10,
    )
    with pytest.raises(amqp.exceptions.AccessRefused):
        connection.connect()
