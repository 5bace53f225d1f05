"""Gold on simulated sources (simulator -> bronze -> silver -> gold): every original report equals the
independent Spark SQL of test_reports over the silver tables it was built from, row for row."""

from __future__ import annotations

from pathlib import Path

import pytest

import lakedb
from jobs.bronze import ingest
from jobs.gold.ref_exchange_rate import read_rates
from jobs.silver import address, agent, customer, customer_phone, interaction, interaction_agent, transaction
from lakedb.sources import SOURCES
from lakehouse_core.catalog import ensure_tables
from lakehouse_core.context import JobContext
from lakehouse_core.simulator import generate

from .story import gold_cfg, run_gold
from .test_reports import REPORTS

SILVER_JOBS = (customer, address, customer_phone, agent, interaction_agent, transaction, interaction)


@pytest.fixture(scope="module")
def sim(spark, tmp_path_factory):
    cfg = gold_cfg(tmp_path_factory.mktemp("gold_sim"), "gsim")
    ml = {t.id for t in lakedb.ml.TABLES}
    ensure_tables(spark, cfg, [t for t in lakedb.TABLES if t.id not in ml])
    generate(Path(cfg.path("landing")), Path(cfg.path("truth")), days=2, scale=0.01, seed=5, defects=0.02)
    for src in SOURCES:
        ingest.run(JobContext(spark=spark, cfg=cfg, run_id="sim", job=f"bronze_{src.bronze_table}",
                              log=lambda m: None), src.name)
    for m in SILVER_JOBS:
        m.run(JobContext(spark=spark, cfg=cfg, run_id="sim", job=m.ENTITY.job, log=lambda m: None))
    run_gold(spark, cfg, "sim")  # the shipped exchange rates
    spark.createDataFrame([(r[0], r[1], r[3]) for r in read_rates()],
                          "currency STRING, rate_date DATE, rate DECIMAL(18,8)").createOrReplaceTempView("test_rates")
    yield cfg
    spark.catalog.dropTempView("test_rates")


@pytest.mark.parametrize("report", sorted(REPORTS))
def test_report_on_simulated_data_equals_independent_sql(spark, sim, report):
    got = {tuple(r) for r in spark.table(f"{sim.database('gold')}.{report}").collect()}
    expected = {tuple(r) for r in spark.sql(REPORTS[report].format(s=sim.database("silver"))).collect()}
    assert got == expected
    assert len(got) > 1
