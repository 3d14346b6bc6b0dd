"""Tools for running Murano engines as single-process services.

The package contains the deploy-task client (``murano-engine-submit``) and the
models it sends. It must import only what Debian bookworm ships, because the
Ansible role copies it onto engine hosts next to the runner.
"""
