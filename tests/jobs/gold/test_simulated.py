"""Gold on simulated sources (simulator -> bronze -> silver -> gold): every original report equals the
independent Spark SQL of test_reports over the silver tables it was built from, row for row."""

from __future__ import annotations

import pytest

from jobs.gold.ref_exchange_rate import read_rates

from .test_reports import REPORTS


@pytest.fixture(scope="module")
def sim(spark, pipeline_lake):
    """The session's simulated lake (tests/conftest.py), built by the runner with the shipped exchange rates."""
    spark.createDataFrame([(r[0], r[1], r[3]) for r in read_rates()],
                          "currency STRING, rate_date DATE, rate DECIMAL(18,8)").createOrReplaceTempView("test_rates")
    yield pipeline_lake.cfg
    spark.catalog.dropTempView("test_rates")


@pytest.mark.parametrize("report", sorted(REPORTS))
def test_report_on_simulated_data_equals_independent_sql(spark, sim, report):
    got = {tuple(r) for r in spark.table(f"{sim.database('gold')}.{report}").collect()}
    expected = {tuple(r) for r in spark.sql(REPORTS[report].format(s=sim.database("silver"))).collect()}
    assert got == expected
    assert len(got) > 1
