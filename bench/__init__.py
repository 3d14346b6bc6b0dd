"""Benchmarks of the two ways to run several Murano engines on one host.

"ours" runs N single-process murano-engine@ instances managed by systemd
(the murano_engine role). "forking" runs Debian's packaged
murano-engine.service with [engine] engine_workers = N, so oslo.service
forks N workers. Run ``python -m bench --help`` from the repository root.
"""
