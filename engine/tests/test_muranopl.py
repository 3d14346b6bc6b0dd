"""Check the MuranoPL workload packages against what the engine loads."""

from pathlib import Path

import pytest
import yaml

from murano_engine_tools.workloads import WORKLOAD_CLASSES

PACKAGES = Path(__file__).resolve().parent.parent / "muranopl"
PACKAGE_DIRS = sorted(path for path in PACKAGES.iterdir() if path.is_dir())


def load(path):
    return yaml.safe_load(path.read_text())


def class_files(package_dir):
    manifest = load(package_dir / "manifest.yaml")
    for class_name, file_name in manifest["Classes"].items():
        yield class_name, package_dir / "Classes" / file_name


def test_one_package_per_workload():
    assert sorted(path.name for path in PACKAGE_DIRS) == sorted(
        WORKLOAD_CLASSES.values()
    )


@pytest.mark.parametrize("package_dir", PACKAGE_DIRS, ids=lambda p: p.name)
def test_manifest(package_dir):
    manifest = load(package_dir / "manifest.yaml")

    assert manifest["Format"] == 1.4
    assert manifest["Type"] == "Application"
    assert manifest["FullName"] == package_dir.name
    assert manifest["Description"].startswith("Workload for tests and benchmarks")
    assert package_dir.name in manifest["Classes"]


@pytest.mark.parametrize("package_dir", PACKAGE_DIRS, ids=lambda p: p.name)
def test_class_files(package_dir):
    for class_name, path in class_files(package_dir):
        text = path.read_text()
        definition = yaml.safe_load(text)
        namespace, _, short_name = class_name.rpartition(".")

        assert text.startswith("Namespaces:")
        assert definition["Namespaces"]["="] == namespace
        assert definition["Namespaces"]["std"] == "io.murano"
        assert definition["Name"] == short_name
        assert definition["Extends"] == "std:Application"
        assert "deploy" in definition["Methods"]
        for name, spec in (definition.get("Properties") or {}).items():
            assert "Contract" in spec, f"{class_name}.{name} has no Contract"


def test_workload_property_names_match_client():
    properties = {
        class_name: set(load(path).get("Properties") or {})
        for package_dir in PACKAGE_DIRS
        for class_name, path in class_files(package_dir)
    }

    assert properties["engine.workloads.Wait"] == {"seconds"}
    assert properties["engine.workloads.Cpu"] == {"steps"}
    assert properties["engine.workloads.Fail"] == {"message"}
