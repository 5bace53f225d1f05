"""The HTML dashboard: charts drawn from the model's report tables, rendered in headless Chromium."""

from __future__ import annotations

import datetime as dt
import subprocess
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest

import lakedb
from lakehouse_core.catalog import ensure_databases, qualified
from lakehouse_core.serving.dashboard import (
    MAX_BARS,
    Bar,
    ChartSpec,
    Series,
    chart_spec,
    mlflow_metrics,
    series_from_rows,
    write_dashboard,
)

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
D = dt.date(2025, 1, 1)
TS = dt.datetime(2025, 1, 6, 8, 30)


# --- pure parts ----------------------------------------------------------------------------------------------

def test_report_tables_are_charted_from_their_model():
    got = {name: chart_spec(lakedb.table(f"gold.{name}")) for name in (
        "rpt_customers_by_country", "rpt_customers_by_birth_year", "rpt_transactions_by_method_status",
        "rpt_top_customers")}
    assert got == {
        "rpt_customers_by_country": ChartSpec(
            ("country",), ("customer_count",), ("`customer_count` DESC NULLS LAST", "`country` ASC NULLS LAST")),
        "rpt_customers_by_birth_year": ChartSpec(
            ("birth_year",), ("customer_count",), ("`birth_year` ASC NULLS LAST", "`birth_year` ASC NULLS LAST")),
        "rpt_transactions_by_method_status": ChartSpec(
            ("payment_method", "payment_status"), ("transaction_count", "amount_reporting", "unconverted_count"),
            ("`transaction_count` DESC NULLS LAST", "`payment_method` ASC NULLS LAST",
             "`payment_status` ASC NULLS LAST"), unit="reporting_currency"),
        "rpt_top_customers": ChartSpec(
            ("customer_rank", "customer_id", "first_name", "last_name"),
            ("transaction_count", "amount_reporting", "unconverted_count"),
            ("`customer_rank` ASC NULLS LAST", "`customer_id` ASC NULLS LAST", "`first_name` ASC NULLS LAST",
             "`last_name` ASC NULLS LAST"), unit="reporting_currency"),
    }


def test_bars_are_labelled_by_rank_and_key_columns():
    spec = chart_spec(lakedb.table("gold.rpt_top_customers"))
    rows = [{"customer_rank": 1, "customer_id": 7, "first_name": "Ann", "last_name": None, "transaction_count": 4,
             "amount_reporting": Decimal("400.00"), "reporting_currency": "USD", "unconverted_count": 1}]
    assert series_from_rows(rows, spec) == ([
        Series("transaction_count", "transaction_count", [Bar("#1 · 7 · Ann · (none)", 4)]),
        Series("amount_reporting", "amount_reporting (USD)", [Bar("#1 · 7 · Ann · (none)", Decimal("400.00"))]),
        Series("unconverted_count", "unconverted_count", [Bar("#1 · 7 · Ann · (none)", 1)]),
    ], [])


def test_a_measure_that_is_zero_everywhere_becomes_a_note_not_a_chart():
    spec = ChartSpec(("payment_status",), ("transaction_count", "unconverted_count"), (), "reporting_currency")
    rows = [{"payment_status": "Completed", "transaction_count": 2, "unconverted_count": 0,
             "reporting_currency": "USD"},
            {"payment_status": None, "transaction_count": 1, "unconverted_count": 0, "reporting_currency": "USD"}]
    assert series_from_rows(rows, spec) == (
        [Series("transaction_count", "transaction_count", [Bar("Completed", 2), Bar("(none)", 1)])],
        ["unconverted_count: 0 in every row shown"],
    )


# --- the whole page, in Chromium ------------------------------------------------------------------------------

class Dom(HTMLParser):
    """Every element as (tag, attributes, text inside it), in document order."""

    def __init__(self, text: str):
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], list[str]]] = []
        self._open: list[list[str]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        text: list[str] = []
        self.elements.append((tag, dict((k, v or "") for k, v in attrs), text))
        self._open.append(text)

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict((k, v or "") for k, v in attrs), []))

    def handle_endtag(self, tag):
        if self._open:
            self._open.pop()

    def handle_data(self, data):
        for text in self._open:
            text.append(data)

    def find(self, tag: str | None = None, **attrs: str):
        return [(t, a, "".join(x)) for t, a, x in self.elements
                if (tag is None or t == tag) and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]


def _chromium() -> Path:
    """Debian's Chromium, installed by scripts/chromium.sh if missing; the test fails (never skips) without it."""
    if not CHROMIUM.exists():
        done = subprocess.run(["sh", str(ROOT / "scripts" / "chromium.sh")], capture_output=True, text=True,
                              timeout=900)
        if done.returncode != 0:
            pytest.fail(f"Chromium could not be installed: {done.stderr.strip()[-500:]}")
    return CHROMIUM


def _chromium_run(tmp_path: Path, *args: str) -> str:
    cmd = [str(_chromium()), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'chromium-profile'}", "--virtual-time-budget=5000", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _rows(table_id: str, rows: list[dict]) -> list[tuple]:
    names = lakedb.table(table_id).column_names
    unknown = {k for r in rows for k in r} - set(names)
    assert not unknown, f"{table_id} has no column(s) {unknown}"
    return [tuple(r.get(n) for n in names) for r in rows]


def _write(spark, cfg, table_id: str, rows: list[dict]) -> None:
    t = lakedb.table(table_id)
    spark.createDataFrame(_rows(table_id, rows), t.spark_schema()).write.format("delta") \
        .mode("append").saveAsTable(qualified(cfg, t))


def _tx_report(status, count, amount, unconverted=0):
    return {"payment_status": status, "transaction_count": count, "amount_reporting": amount,
            "reporting_currency": "USD", "unconverted_count": unconverted}


COUNTRIES = [f"Country {i:02d}" for i in range(MAX_BARS + 2)]

GOLD_ROWS = {
    "gold.dim_customer": [
        {"customer_sk": 11, "customer_id": 1, "email": "ann@example.com", "valid_from": D,
         "valid_to": dt.date(2025, 1, 3), "is_current": False},
        {"customer_sk": 12, "customer_id": 1, "valid_from": dt.date(2025, 1, 3), "is_current": True},
        {"customer_sk": 21, "customer_id": 2, "valid_from": D, "is_current": True},
    ],
    "gold.fact_transaction": [
        {"source_system": "payments", "transaction_id": 1, "customer_id": 1, "date_key": 20250101,
         "transaction_date": D, "amount": Decimal("100.00"), "currency": "USD", "reporting_currency": "USD",
         "amount_reporting": Decimal("100.00")},
        {"source_system": "payments", "transaction_id": 2, "customer_id": 2, "date_key": 20250101,
         "transaction_date": D, "amount": Decimal("50.00"), "currency": "EUR", "reporting_currency": "USD",
         "amount_reporting": Decimal("54.25")},
        {"source_system": "payments_v2", "transaction_id": 3, "customer_id": 2, "date_key": 20250101,
         "transaction_date": D, "amount": Decimal("10.00"), "currency": "GBP", "reporting_currency": "USD"},
    ],
    "gold.fact_interaction": [
        {"interaction_id": i, "customer_id": 1, "is_resolved": resolved}
        for i, resolved in ((1, True), (2, True), (3, False))
    ],
    "gold.rpt_transactions_by_status": [
        _tx_report("Pending", 2, Decimal("80.00")), _tx_report(None, 1, Decimal("5.00")),
        _tx_report("Completed", 5, Decimal("1234.50")), _tx_report("Refunded", 1, Decimal("9.99")),
    ],
    "gold.rpt_customers_by_country": [
        {"country": c, "customer_count": 100 - i} for i, c in enumerate(COUNTRIES)
    ],
    "gold.agent_performance": [
        {"agent_sk": 100 + i, "agent_id": i, "full_name": f"Agent {i:02d}", "interactions_handled": i,
         "interactions_resolved": i // 2, "resolution_rate": (i // 2) / i}
        for i in range(1, 13)
    ],
    "gold.churn_score": [
        {"customer_id": c, "churn_probability": p, "risk_band": band, "model_name": "customer_churn",
         "model_version": "1", "scored_at": TS, "features_as_of": D, "run_id": "r-1"}
        for c, p, band in ((1, 0.75, "high"), (2, 0.25, "medium"))
    ],
    "ops.run_log": [
        {"run_id": "r-1", "env": "test", "command": "demo", "full_refresh": False, "planned_jobs": ["a", "b"],
         "started_at": TS, "ended_at": TS + dt.timedelta(minutes=3), "status": "succeeded"},
        {"run_id": "r-0", "env": "test", "command": "run", "started_at": TS - dt.timedelta(days=1),
         "status": "failed", "failed_job": "a", "error": "boom"},
    ],
    "ops.job_run": [
        {"run_id": "r-1", "job": "gold_reports", "layer": "gold", "started_at": TS + dt.timedelta(minutes=1),
         "seconds": 12.5, "status": "succeeded", "rows_read": 40, "rows_written": 11, "rows_quarantined": 0},
        {"run_id": "r-1", "job": "bronze_hr_agent", "layer": "bronze", "started_at": TS, "seconds": 3.0,
         "status": "succeeded", "rows_read": 100, "rows_written": 100, "rows_quarantined": 2},
        {"run_id": "r-0", "job": "a", "layer": "bronze", "started_at": TS - dt.timedelta(days=1),
         "status": "failed"},
    ],
}

CHURN_METRICS = {"eval_roc_auc": 0.8125, "eval_pr_auc": 0.5, "val_roc_auc": 0.79, "train_seconds": 12.0}


def _register_model(uri: str) -> None:
    """A file-store MLflow run with metrics, registered as customer_churn version 1."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    run = client.create_run(client.create_experiment("customer_churn"), run_name="train r-1")
    for key, value in CHURN_METRICS.items():
        client.log_metric(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id)
    client.create_registered_model("customer_churn")
    client.create_model_version("customer_churn", f"runs:/{run.info.run_id}/model", run.info.run_id)


def test_model_metrics_are_the_held_out_evaluation_of_the_scoring_model_version(tmp_path):
    from tests.conftest import make_cfg

    cfg = make_cfg(tmp_path, "mlm")
    uri = (tmp_path / "mlruns").as_uri()
    cfg.raw["mlflow"] = {"tracking_uri": uri}
    _register_model(uri)
    assert mlflow_metrics(cfg, "customer_churn", "1") == (
        {"pr_auc": 0.5, "roc_auc": 0.8125}, "customer_churn version 1, MLflow run train r-1: held-out evaluation")
    assert mlflow_metrics(cfg, "customer_churn", "7") == (
        None, "MLflow has no metrics for customer_churn version 7: Model Version (name=customer_churn, version=7) "
              "not found")
    cfg.raw["mlflow"] = {"tracking_uri": f"sqlite:///{tmp_path}/missing.db"}
    assert mlflow_metrics(cfg, "customer_churn", "1") == (
        None, f"no MLflow tracking store at sqlite:///{tmp_path}/missing.db")


@pytest.mark.services
def test_dashboard_renders_in_chromium_with_the_gold_numbers(spark, lake_cfg, tmp_path):
    uri = (tmp_path / "mlruns").as_uri()
    lake_cfg.raw["mlflow"] = {"tracking_uri": uri}
    _register_model(uri)
    ensure_databases(spark, lake_cfg)
    for table_id, rows in GOLD_ROWS.items():
        _write(spark, lake_cfg, table_id, rows)

    page = write_dashboard(spark, lake_cfg, tmp_path / "out" / "dashboard.html")
    source = page.read_text()
    assert page == tmp_path / "out" / "dashboard.html"
    # Self-contained: nothing is fetched from anywhere.
    assert not any(s in source for s in ("<link", "<script src", "<img", "url(", "@import", "<iframe"))

    dom = Dom(_chromium_run(tmp_path, "--dump-dom", page.as_uri()))
    shot = tmp_path / "dashboard.png"
    _chromium_run(tmp_path, "--hide-scrollbars", "--window-size=1400,2400", f"--screenshot={shot}", page.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    assert dom.find("body", data_rendered="true"), "the page's script did not run"

    kpis = {a["data-kpi"]: (a["data-value"], text) for _, a, text in dom.find("div") if "data-kpi" in a}
    assert {k: v for k, (v, _) in kpis.items()} == {
        "customers": "2", "transactions": "3", "amount_reporting": "154.25", "interactions": "3",
        "resolution_rate": repr(2 / 3), "churn_scored": "2", "churn_high_risk": "1", "churn_probability": "0.5",
        "metric_pr_auc": "0.5", "metric_roc_auc": "0.8125",
    }
    assert "Amount (USD)154.251 without an exchange rate left out" in kpis["amount_reporting"][1]
    assert "Resolution rate66.7%" in kpis["resolution_rate"][1]
    assert "roc_auc0.812" in kpis["metric_roc_auc"][1]

    def chart(table: str, measure: str) -> tuple[list[tuple[str, str, str]], list[float]]:
        """(label, data-value, number shown) per bar, and each bar's width as the browser drew it."""
        (svg,) = dom.find("svg", data_table=table, data_measure=measure)
        assert int(svg[1]["data-drawn-width"]) > 0
        out = []
        in_svg = False
        for tag, a, text in dom.elements:
            if tag == "svg":
                in_svg = a.get("data-table") == table and a.get("data-measure") == measure
            elif in_svg and tag == "g" and a.get("class") == "bar":
                out.append([a["data-label"], a["data-value"]])
            elif in_svg and tag == "text" and a.get("class") == "value":
                out[-1].append("".join(text))
            elif in_svg and tag == "rect" and a.get("class", "").startswith("bar-rect"):
                assert a["data-value"] == out[-1][1]
                out[-1].append(float(a["data-drawn-width"]))
        assert int(svg[1]["data-bars"]) == len(out)
        return [(label, value, shown) for label, value, width, shown in out], [w for _, _, w, _ in out]

    bars, widths = chart("rpt_transactions_by_status", "transaction_count")
    assert bars == [("Completed", "5", "5"), ("Pending", "2", "2"), ("Refunded", "1", "1"), ("(none)", "1", "1")]
    assert widths == [280.0, 112.0, 56.0, 56.0]  # drawn to scale by the browser
    bars, _ = chart("rpt_transactions_by_status", "amount_reporting")
    assert bars == [("Completed", "1234.50", "1,234.50"), ("Pending", "80.00", "80.00"),
                    ("Refunded", "9.99", "9.99"), ("(none)", "5.00", "5.00")]
    assert not dom.find("svg", data_table="rpt_transactions_by_status", data_measure="unconverted_count")
    assert chart("rpt_customers_by_country", "customer_count")[0] == [
        (c, str(100 - i), str(100 - i)) for i, c in enumerate(COUNTRIES[:MAX_BARS])]
    agents, _ = chart("agent_performance", "interactions_handled")
    assert agents == [(f"Agent {i:02d}", str(i), str(i)) for i in range(12, 2, -1)]
    rates, _ = chart("agent_performance", "resolution_rate")
    assert rates == [(f"Agent {i:02d}", repr((i // 2) / i), f"{(i // 2) / i:.1%}") for i in range(12, 2, -1)]

    # Every report table has a panel; the ones not built say so.
    built = {"rpt_transactions_by_status", "rpt_customers_by_country"}
    reports = [t.name for t in lakedb.TABLES if t.layer == "gold" and t.name.startswith("rpt_")]
    panels = {a["data-table"]: text for _, a, text in dom.find("section") if "data-table" in a}
    assert sorted(panels) == sorted([*reports, "agent_performance"])
    assert sorted(n for n, text in panels.items() if "Not built yet" in text) == sorted(set(reports) - built)
    assert "showing the first 20 of 22 rows" in panels["rpt_customers_by_country"]
    assert len(dom.find("svg")) == 2 + 1 + 2  # transactions by status, customers by country, agents

    (_, run_attrs, _), = [e for e in dom.find("p") if "data-run-id" in e[1]]
    assert (run_attrs["data-run-id"], run_attrs["data-status"]) == ("r-1", "succeeded")
    job_table = dom.find("table", **{"class": "job-runs"})
    assert len(job_table) == 1
    cells = ["".join(text) for tag, _, text in dom.elements if tag == "td"]
    assert cells == ["bronze_hr_agent", "bronze", "succeeded", "3.00", "100", "100", "2", "",
                     "gold_reports", "gold", "succeeded", "12.50", "40", "11", "0", ""]
    (_, _, mermaid), = dom.find("pre", **{"class": "mermaid-source"})
    assert mermaid.startswith("flowchart LR\n")
