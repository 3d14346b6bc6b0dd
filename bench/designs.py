"""Put a test host into one design with N workers, and back.

Every change here is runtime state (units started or stopped, drop-ins
under /run/systemd/system, the packaged unit unmasked), so restore() brings
back what the murano_engine role converged and a later converge changes
nothing.
"""

import shlex
from dataclasses import dataclass
from pathlib import Path

PROBE = (Path(__file__).with_name("probe.py")).read_text()

TEMPLATE = "murano-engine@"
PACKAGED_UNIT = "murano-engine.service"
CONF = "/etc/murano/murano.conf"
INSTANCE_CONF = "/etc/murano/murano-engine-instance.conf"
RUNTIME_UNITS = "/run/systemd/system"
BENCH_CONF_DIR = "/run/murano-bench"
WORKERS_CONF = f"{BENCH_CONF_DIR}/engine-workers.conf"
DROPIN_NAME = "bench.conf"
START_TIMEOUT = 300


@dataclass(frozen=True)
class Design:
    """One way to run N engine workers on a host.

    A ``forking`` design runs the packaged unit with engine_workers = N.
    The others run instances 1..N of the role's template unit, changed by
    ``dropin`` (a [Service] section) when it is set.
    """

    name: str
    forking: bool = False
    dropin: str = ""
    description: str = ""


OURS = Design(
    "ours",
    description="murano-engine@1..N, the role's runner program",
)
OURS_ARENAS = Design(
    "ours-arena2",
    dropin="[Service]\nEnvironment=MALLOC_ARENA_MAX=2\n",
    description="as ours, with glibc's MALLOC_ARENA_MAX=2 in each instance",
)
OURS_STOCK = Design(
    "ours-stock",
    dropin=(
        "[Service]\n"
        "ExecStart=\n"
        f"ExecStart=/usr/bin/murano-engine --config-file={CONF} "
        f"--config-file={INSTANCE_CONF}\n"
        # The stock engine does not ping systemd's watchdog.
        "WatchdogSec=0\n"
    ),
    description="murano-engine@1..N running Debian's /usr/bin/murano-engine",
)
FORKING = Design(
    "forking",
    forking=True,
    description="Debian's murano-engine.service, engine_workers = N (oslo.service)",
)
DESIGNS = {d.name: d for d in (OURS, FORKING, OURS_STOCK, OURS_ARENAS)}


def transport_url(host):
    """Return the engines' transport URL from murano.conf on the host."""
    for line in host.run(f"cat {CONF}").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "transport_url":
            return value.strip()
    raise SystemExit(
        f"no transport_url in {CONF} on {host.name}: converge site.yml first"
    )


def instance_units(count):
    return [f"{TEMPLATE}{i}.service" for i in range(1, count + 1)]


class Deployment:
    """Switches the engines of one host between designs and worker counts."""

    def __init__(self, host, amqp_port):
        self.host = host
        self.amqp_port = amqp_port
        self.initial_active = self.active_instances()
        self.initial_packaged = self.host.run(
            f"systemctl is-enabled {PACKAGED_UNIT} || true"
        ).strip()
        self.design = None
        self.workers = 0

    def active_instances(self):
        output = self.host.run(
            "systemctl list-units --plain --no-legend --state=active "
            f"--type=service '{TEMPLATE}*.service'"
        )
        return sorted(line.split()[0] for line in output.splitlines() if line)

    def units(self):
        """Return the units that run the current design's workers."""
        if self.design.forking:
            return [PACKAGED_UNIT]
        return instance_units(self.workers)

    def stop_all(self):
        # The pattern matches every loaded instance, so it also stops one
        # that a kill left waiting for its automatic restart, which is not
        # active and would come back after the stop.
        self.host.run(
            f"systemctl stop {PACKAGED_UNIT} '{TEMPLATE}*.service'",
            timeout=START_TIMEOUT,
        )

    def configure(self, design, workers):
        """Write the runtime drop-ins of ``design`` without starting anything."""
        instance_dropin = f"{RUNTIME_UNITS}/{TEMPLATE}.service.d/{DROPIN_NAME}"
        packaged_dropin = f"{RUNTIME_UNITS}/{PACKAGED_UNIT}.d/{DROPIN_NAME}"
        commands = [f"rm -f {instance_dropin} {packaged_dropin}"]
        if design.dropin:
            commands += [
                f"mkdir -p {Path(instance_dropin).parent}",
                f"printf %s {shlex.quote(design.dropin)} > {instance_dropin}",
            ]
        if design.forking:
            # The packaged ExecStart is an init script that reads only
            # murano.conf, so the drop-in runs the same program with the
            # worker count in a second config file.
            packaged = (
                "[Service]\n"
                "ExecStart=\n"
                f"ExecStart=/usr/bin/murano-engine --config-file={CONF} "
                f"--config-file={WORKERS_CONF}\n"
            )
            workers_conf = f"[engine]\nengine_workers = {workers}\n"
            commands += [
                f"systemctl unmask {PACKAGED_UNIT}",
                f"install -d -m 0755 {BENCH_CONF_DIR} {Path(packaged_dropin).parent}",
                f"printf %s {shlex.quote(workers_conf)} > {WORKERS_CONF}",
                f"chmod 0644 {WORKERS_CONF}",
                f"printf %s {shlex.quote(packaged)} > {packaged_dropin}",
            ]
        commands.append("systemctl daemon-reload")
        self.host.run(" && ".join(commands))
        self.design = design
        self.workers = workers

    def start(self):
        """Start the configured workers; return the probe's start timings."""
        return self.host.python(
            PROBE,
            {
                "action": "timed_start",
                "units": self.units(),
                "forking": self.design.forking,
                "count": self.workers,
                "port": self.amqp_port,
                "timeout": START_TIMEOUT,
            },
            timeout=START_TIMEOUT + 30,
        )

    def switch(self, design, workers):
        """Stop every engine, then start ``workers`` workers of ``design``."""
        self.stop_all()
        self.configure(design, workers)
        timings = self.start()
        if timings["connected_seconds"] is None:
            raise RuntimeError(
                f"{design.name} with {workers} workers: not every worker "
                f"connected to the broker within {START_TIMEOUT} s"
            )
        return timings

    def memory(self):
        return self.host.python(PROBE, {"action": "memory", "units": self.units()})

    def kill_busy_worker(self, find_timeout, watch_timeout):
        return self.host.python(
            PROBE,
            {
                "action": "kill_and_watch",
                "units": self.units(),
                "forking": self.design.forking,
                "port": self.amqp_port,
                "find_timeout": find_timeout,
                "watch_timeout": watch_timeout,
            },
            timeout=find_timeout + watch_timeout + 30,
        )

    def restore(self):
        """Stop the benchmark's engines and start what ran before."""
        self.stop_all()
        removed = (
            f"{RUNTIME_UNITS}/{TEMPLATE}.service.d/{DROPIN_NAME}",
            f"{RUNTIME_UNITS}/{PACKAGED_UNIT}.d",
            BENCH_CONF_DIR,
        )
        commands = ["rm -rf " + " ".join(removed)]
        if self.initial_packaged == "masked":
            commands.append(f"systemctl mask {PACKAGED_UNIT}")
        commands.append("systemctl daemon-reload")
        if self.initial_active:
            commands.append("systemctl start " + " ".join(self.initial_active))
        self.host.run(" && ".join(commands), timeout=START_TIMEOUT)
        self.design = None
