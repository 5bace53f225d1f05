"""The local session's driver options: the conf's join the package's own, none is lost."""

from __future__ import annotations

from lakehouse_core.config import load_config
from lakehouse_core.session import local_builder


def driver_options(cfg) -> list[str]:
    return local_builder(cfg, "test")._options["spark.driver.extraJavaOptions"].split()


def test_the_confs_driver_options_are_added_to_the_packages_own(tmp_path):
    cfg = load_config("local", str(tmp_path))
    options = driver_options(cfg)
    assert [o.split("=")[0] for o in options] == [
        "-Dlog4j2.configurationFile", "-Dderby.system.home", "-XX:+UseParallelGC"]
    assert options[1] == f"-Dderby.system.home={tmp_path / '_metastore'}"


def test_without_driver_options_in_the_conf_only_the_packages_own_are_set(tmp_path):
    cfg = load_config("local", str(tmp_path))
    del cfg.raw["spark"]["conf"]["spark.driver.extraJavaOptions"]
    assert [o.split("=")[0] for o in driver_options(cfg)] == ["-Dlog4j2.configurationFile", "-Dderby.system.home"]
