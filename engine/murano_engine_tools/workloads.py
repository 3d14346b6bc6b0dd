"""MuranoPL workloads from the engine.workloads packages and their properties.

The packages live in the repository's ``muranopl`` folder, and the engine
loads them through ``[engine] load_packages_from``.
"""

import math

WAIT = "wait"
CPU = "cpu"
FAIL = "fail"

#: MuranoPL class name of each workload's application.
WORKLOAD_CLASSES = {
    WAIT: "engine.workloads.Wait",
    CPU: "engine.workloads.Cpu",
    FAIL: "engine.workloads.Fail",
}


def application_properties(workload, *, seconds=0.0, steps=0):
    """Return the model properties for one application of a workload.

    ``seconds`` is the deploy wait of the wait workload and ``steps`` the loop
    length of the cpu workload. Each is checked only for the workload that
    uses it. Raises ValueError naming the bad value.
    """
    if workload == WAIT:
        if not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
            raise ValueError(f"invalid seconds {seconds!r}: expected a number")
        if seconds < 0:
            raise ValueError(f"invalid seconds {seconds!r}: expected 0 or more")
        return {"seconds": float(seconds)}

    if workload == CPU:
        if isinstance(steps, bool) or not isinstance(steps, int):
            raise ValueError(f"invalid steps {steps!r}: expected an integer")
        if steps < 0:
            raise ValueError(f"invalid steps {steps!r}: expected 0 or more")
        return {"steps": steps}

    if workload == FAIL:
        return {}

    known = ", ".join(sorted(WORKLOAD_CLASSES))
    raise ValueError(f"unknown workload {workload!r}: expected one of {known}")
