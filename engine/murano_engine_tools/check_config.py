"""Check a murano.conf against the option definitions of what reads it.

Usage: python3 -m murano_engine_tools.check_config FILE
       python3 check_config.py - < FILE

With "-" the file is read from standard input, which lets the role check a
new murano.conf before it writes anything on the host.

The role runs this on the engine host before a new murano.conf replaces the
old one. It loads the options that murano-engine and the runner register
(murano's own `oslo.config.opts` entry point `murano`, and those of the
libraries the engine uses), then rejects options that no library defines
and values that the option's type cannot parse. oslo-config-validator
reports unknown options but does not parse values, so it would let
`engine_workers = abc` through.
"""

import importlib
import os
import sys
import tempfile
from importlib import metadata

# oslo.config.opts entry points whose options may appear in murano.conf.
NAMESPACES = (
    "murano",
    "keystone_authtoken",
    "castellan.config",
    "oslo.messaging",
    "oslo.log",
    "oslo.policy",
    "oslo.db",
    "oslo.middleware",
    "oslo.service.service",
    "oslo.concurrency",
)

# Options of this project's runner, read from [engine_runner]. Before the
# runner is installed on a host its options cannot be loaded, and that
# section is left unchecked.
RUNNER_LIST_OPTS = "murano_engine_tools.runner.config:list_opts"
RUNNER_SECTION = "engine_runner"


def load_option_lists():
    """Return ([(group, [Opt, ...]), ...], whether the runner's were loaded)."""
    entry_points = {
        ep.name: ep for ep in metadata.entry_points(group="oslo.config.opts")
    }
    lists = []
    for name in NAMESPACES:
        entry_point = entry_points.get(name)
        if entry_point is None:
            continue
        lists.extend(entry_point.load()())
    module_name, function_name = RUNNER_LIST_OPTS.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return lists, False
    lists.extend(getattr(module, function_name)())
    return lists, True


def group_name(group):
    if group is None:
        return "DEFAULT"
    return getattr(group, "name", group)


def known_names(option_lists):
    """Return {section: {option names and their deprecated names}}."""
    known = {}
    for group, options in option_lists:
        section = group_name(group)
        names = known.setdefault(section, {})
        for option in options:
            names[option.dest] = (section, option)
            names[option.name] = (section, option)
            for deprecated in option.deprecated_opts:
                old_section = deprecated.group or section
                old_name = (deprecated.name or option.name).replace("-", "_")
                known.setdefault(old_section, {})[old_name] = (section, option)
    return known


def read_sections(path):
    """Parse FILE with oslo.config's parser: {section: {option: [values]}}."""
    from oslo_config import cfg

    sections = {}
    cfg.ConfigParser(path, sections).parse()
    return sections


def check(path):
    """Return a list of error messages for FILE; empty when it is valid."""
    from oslo_config import cfg

    errors = []
    option_lists, runner_loaded = load_option_lists()
    known = known_names(option_lists)
    try:
        sections = read_sections(path)
    except cfg.ParseError as error:
        return [f"cannot parse {path}: {error}"]

    for section, options in sections.items():
        if section == RUNNER_SECTION and not runner_loaded:
            continue
        for name, values in options.items():
            normalized = name.replace("-", "_")
            entry = known.get(section, {}).get(normalized)
            if entry is None:
                errors.append(
                    f"[{section}] {name}: unknown option; no library the engine "
                    "loads defines it (misspelt, or in the wrong section?)"
                )
                continue
            _, option = entry
            for value in values:
                try:
                    option.type(value)
                except (ValueError, TypeError) as error:
                    shown = "****" if option.secret else value
                    errors.append(
                        f"[{section}] {name} = {shown}: invalid value ({error})"
                    )
    return errors


def check_text(text):
    """Check a configuration given as text; the temporary copy is private."""
    descriptor, path = tempfile.mkstemp(prefix="murano-conf-check-", suffix=".conf")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
        return [message.replace(path, "murano.conf") for message in check(path)]
    finally:
        os.unlink(path)


def main(argv=None):
    arguments = sys.argv[1:] if argv is None else argv
    if len(arguments) != 1:
        print(
            "usage: python3 -m murano_engine_tools.check_config FILE", file=sys.stderr
        )
        return 2
    path = arguments[0]
    errors = check_text(sys.stdin.read()) if path == "-" else check(path)
    for message in errors:
        print(message, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
