"""The engine's identity: the name in log lines and the result's "engine" key."""

import logging
import os
import socket

INSTANCE_ENV = "MURANO_ENGINE_INSTANCE"


def instance_name(environ=None):
    """Return the systemd instance (%i) from $MURANO_ENGINE_INSTANCE, or "-"."""
    environ = os.environ if environ is None else environ
    return environ.get(INSTANCE_ENV) or "-"


def engine_info(environ=None):
    """Return the dict the runner adds to each result as result["engine"]."""
    return {
        "host": socket.gethostname(),
        "instance": instance_name(environ),
        "pid": os.getpid(),
    }


class InstanceFilter(logging.Filter):
    """A handler filter that names the engine instance on every record.

    oslo.log's ContextFormatter prints a record's "instance" attribute through
    the instance_format option (default "[instance: %(uuid)s] ") wherever
    its format strings contain %(instance)s, which both default formats do.
    Records that name an instance themselves keep it.
    """

    def __init__(self, name):
        super().__init__()
        self._instance = {"uuid": name}

    def filter(self, record):
        if not getattr(record, "instance", None) and not getattr(
            record, "instance_uuid", None
        ):
            record.instance = self._instance
        return True


def add_instance_filter(name, logger=None):
    """Add an InstanceFilter to every handler of logger (the root by default).

    A filter on the handlers, not on the logger, also receives records that
    propagate from Murano's and oslo's loggers.
    """
    logger = logging.getLogger() if logger is None else logger
    instance_filter = InstanceFilter(name)
    for handler in logger.handlers:
        handler.addFilter(instance_filter)
    return instance_filter
