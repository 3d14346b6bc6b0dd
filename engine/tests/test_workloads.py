import math

import pytest

from murano_engine_tools import workloads


def test_wait_properties():
    assert workloads.application_properties("wait", seconds=2) == {"seconds": 2.0}


def test_wait_properties_zero_seconds():
    assert workloads.application_properties("wait", seconds=0) == {"seconds": 0.0}


def test_cpu_properties():
    assert workloads.application_properties("cpu", steps=3000) == {"steps": 3000}


def test_fail_properties_empty():
    assert workloads.application_properties("fail", seconds=-1, steps=-1) == {}


@pytest.mark.parametrize(
    ("workload", "kwargs", "message"),
    [
        ("wait", {"seconds": -0.5}, "invalid seconds -0.5"),
        ("wait", {"seconds": math.inf}, "invalid seconds inf"),
        ("wait", {"seconds": "1"}, "invalid seconds '1'"),
        ("cpu", {"steps": -1}, "invalid steps -1"),
        ("cpu", {"steps": 1.5}, "invalid steps 1.5"),
        ("cpu", {"steps": True}, "invalid steps True"),
        ("sleep", {}, "unknown workload 'sleep'"),
    ],
)
def test_invalid_properties_rejected(workload, kwargs, message):
    with pytest.raises(ValueError, match=message):
        workloads.application_properties(workload, **kwargs)


def test_every_workload_has_a_class():
    assert set(workloads.WORKLOAD_CLASSES) == {"wait", "cpu", "fail"}
    for class_name in workloads.WORKLOAD_CLASSES.values():
        assert class_name.startswith("engine.workloads.")
