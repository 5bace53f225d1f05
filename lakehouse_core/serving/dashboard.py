"""A single-file HTML dashboard of the gold layer, for people without Power BI.

No network: CSS, charts (inline SVG drawn here in Python) and a few lines of JS are all inside the file,
so it opens from a laptop, a mail attachment or CI artefacts alike. Every plotted number is also in a
`data-value` attribute, exactly as read from the gold tables, so tests (and curious users) can check it.
A table that is not built yet gives a panel saying so, never an error.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import lakedb
from lakedb.model import Table
from lakehouse_core.catalog import qualified, table_names
from lakehouse_core.config import Config

MAX_BARS = 20
AGENT_TOP = 10
CHRONOLOGICAL = re.compile(r"(^|_)(year|date|month|day)($|_)")
NUMERIC = re.compile(r"^(BIGINT|LONG|INT|INTEGER|SMALLINT|SHORT|TINYINT|BYTE|DOUBLE|FLOAT|DECIMAL)")
RATE = re.compile(r"(rate|ratio|share|probability)$")


# --- what is shown (pure data) -----------------------------------------------------------------------------

@dataclass
class Bar:
    label: str
    value: Any  # int, Decimal, float or None, exactly as read


@dataclass
class Series:
    measure: str
    title: str
    bars: list[Bar]


@dataclass
class Chart:
    key: str  # table name
    title: str
    comment: str
    series: list[Series] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing: str | None = None  # why there is nothing to draw


@dataclass
class Kpi:
    key: str
    label: str
    value: Any
    note: str = ""
    rate: bool = False  # a share, shown as a percentage
    metric: bool = False  # a model metric, shown with three decimals


@dataclass
class DashboardData:
    title: str
    generated_at: str
    env: str
    kpis: list[Kpi]
    kpi_notes: list[str]
    charts: list[Chart]
    agents: Chart
    model_metrics: dict[str, Any] | None
    model_note: str
    mermaid: str
    last_run: dict[str, Any] | None
    job_runs: list[dict[str, Any]]


@dataclass(frozen=True)
class ChartSpec:
    labels: tuple[str, ...]
    measures: tuple[str, ...]
    order_by: tuple[str, ...]
    unit: str | None = None  # column holding the unit of the money measures


def is_numeric(spark_type: str) -> bool:
    return bool(NUMERIC.match(spark_type.upper().replace(" ", "")))


def chart_spec(t: Table) -> ChartSpec:
    """How a report table is drawn, from its model: keys, ranks and text label the bars; numbers are bars.

    Rank columns order the bars; a year or date key orders them in time; otherwise the first measure,
    largest first.
    """
    unit = "reporting_currency" if "reporting_currency" in t.column_names else None
    ranks = [c.name for c in t.columns if c.name.endswith("_rank")]
    labels = [c.name for c in t.columns
              if c.name != unit and not c.name.startswith("_")
              and (c.name in ranks or c.name in t.keys or not is_numeric(c.type))]
    measures = [c.name for c in t.columns if is_numeric(c.type) and c.name not in labels
                and not c.name.startswith("_")]
    if ranks:
        order = [f"`{r}` ASC NULLS LAST" for r in ranks]
    elif t.keys and all(CHRONOLOGICAL.search(k) for k in t.keys):
        order = [f"`{k}` ASC NULLS LAST" for k in t.keys]
    else:
        order = [f"`{measures[0]}` DESC NULLS LAST"] if measures else []
    order += [f"`{label}` ASC NULLS LAST" for label in labels if label not in ranks]
    return ChartSpec(tuple(labels), tuple(measures), tuple(order), unit)


def plain(value: Any) -> str:
    """The exact number as text, for data-value attributes (repr of a float round-trips)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)
    return str(value)


def shown(value: Any, rate: bool = False, metric: bool = False) -> str:
    """The number as people read it."""
    if value is None:
        return "n/a"
    if rate:
        return f"{float(value):.1%}"
    if metric:
        return f"{float(value):.3f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def bar_label(row: dict[str, Any], labels: tuple[str, ...]) -> str:
    parts = []
    for name in labels:
        v = row.get(name)
        text = "(none)" if v is None else str(v)
        parts.append(f"#{text}" if name.endswith("_rank") else text)
    return " · ".join(parts)


def series_from_rows(rows: list[dict[str, Any]], spec: ChartSpec) -> tuple[list[Series], list[str]]:
    """One bar series per measure; a measure that is zero or null in every row becomes a note instead."""
    series, notes = [], []
    unit = rows[0].get(spec.unit) if rows and spec.unit else None
    for m in spec.measures:
        values = [r.get(m) for r in rows]
        if all(v in (None, 0) for v in values):
            notes.append(f"{m}: {'0' if any(v == 0 for v in values) else 'null'} in every row shown")
            continue
        title = m + (f" ({unit})" if unit and ("amount" in m or "value" in m) else "")
        series.append(Series(m, title, [Bar(bar_label(r, spec.labels), r.get(m)) for r in rows]))
    return series, notes


# --- reading the lake (thin I/O) ---------------------------------------------------------------------------

class _Lake:
    """Which tables exist, and small queries against them."""

    def __init__(self, spark, cfg: Config):
        self.spark, self.cfg = spark, cfg
        self._tables: dict[str, set[str]] = {}

    def has(self, table_id: str) -> bool:
        if table_id not in lakedb.TABLES_BY_ID:
            return False
        t = lakedb.table(table_id)
        db = self.cfg.database(t.layer)
        if db not in self._tables:
            self._tables[db] = table_names(self.spark, db) if self.spark.catalog.databaseExists(db) else set()
        return t.name in self._tables[db]

    def name(self, table_id: str) -> str:
        return qualified(self.cfg, table_id)

    def rows(self, sql: str) -> list[dict[str, Any]]:
        return [r.asDict() for r in self.spark.sql(sql).collect()]


def _report_chart(lake: _Lake, t: Table) -> Chart:
    chart = Chart(t.name, t.name.removeprefix("rpt_").replace("_", " ").capitalize(), t.comment)
    if not lake.has(t.id):
        chart.missing = f"Not built yet: {t.id} does not exist."
        return chart
    spec = chart_spec(t)
    order = f" ORDER BY {', '.join(spec.order_by)}" if spec.order_by else ""
    rows = lake.rows(f"SELECT * FROM {lake.name(t.id)}{order} LIMIT {MAX_BARS}")
    if not rows:
        chart.missing = f"Nothing to draw: {t.id} is empty."
        return chart
    chart.series, chart.notes = series_from_rows(rows, spec)
    if len(rows) == MAX_BARS:
        # Only then is the total worth a second query (Delta answers COUNT(*) from its file statistics).
        total = lake.spark.table(lake.name(t.id)).count()
        if total > len(rows):
            chart.notes.insert(0, f"showing the first {len(rows)} of {total:,} rows")
    return chart


def _agent_chart(lake: _Lake) -> Chart:
    chart = Chart("agent_performance", f"Agent performance, top {AGENT_TOP} by interactions handled",
                  lakedb.TABLES_BY_ID["gold.agent_performance"].comment
                  if "gold.agent_performance" in lakedb.TABLES_BY_ID else "")
    if not lake.has("gold.agent_performance"):
        chart.missing = "Not built yet: gold.agent_performance does not exist."
        return chart
    spec = ChartSpec(("full_name",), ("interactions_handled", "resolution_rate"),
                     ("`interactions_handled` DESC NULLS LAST", "`full_name` ASC NULLS LAST", "`agent_id` ASC"))
    rows = lake.rows(f"SELECT * FROM {lake.name('gold.agent_performance')} "
                     f"ORDER BY {', '.join(spec.order_by)} LIMIT {AGENT_TOP}")
    if not rows:
        chart.missing = "Nothing to draw: gold.agent_performance is empty."
        return chart
    chart.series, chart.notes = series_from_rows(rows, spec)
    return chart


KPI_QUERIES = {
    "gold.dim_customer": "SELECT COUNT(DISTINCT customer_id) FROM {t} WHERE is_current",
    "gold.fact_transaction": ("SELECT NAMED_STRUCT('n', COUNT(*), 'amount', SUM(amount_reporting), "
                              "'unconverted', COUNT_IF(amount_reporting IS NULL), "
                              "'ccy', MAX(reporting_currency)) FROM {t}"),
    "gold.fact_interaction": "SELECT NAMED_STRUCT('n', COUNT(*), 'resolved', COUNT_IF(is_resolved)) FROM {t}",
}


def _kpis(lake: _Lake) -> tuple[list[Kpi], list[str]]:
    """The headline figures, in one query over the fact and dimension tables that exist."""
    built = {tid: q.format(t=lake.name(tid)) for tid, q in KPI_QUERIES.items() if lake.has(tid)}
    r = {}
    if built:
        (row,) = lake.rows("SELECT " + ", ".join(f"({q}) AS `{tid}`" for tid, q in built.items()))
        r = {tid: (v.asDict() if hasattr(v, "asDict") else v) for tid, v in row.items()}
    kpis, notes = [], []
    if "gold.dim_customer" in r:
        kpis.append(Kpi("customers", "Customers", r["gold.dim_customer"], "current customers"))
    else:
        notes.append("customers (gold.dim_customer)")
    if "gold.fact_transaction" in r:
        tx = r["gold.fact_transaction"]
        kpis.append(Kpi("transactions", "Transactions", tx["n"]))
        note = (f"{tx['unconverted']:,} without an exchange rate left out" if tx["unconverted"]
                else "converted at dated rates")
        kpis.append(Kpi("amount_reporting", f"Amount ({tx['ccy'] or 'reporting currency'})", tx["amount"], note))
    else:
        notes.append("transactions and amount (gold.fact_transaction)")
    if "gold.fact_interaction" in r:
        ix = r["gold.fact_interaction"]
        kpis.append(Kpi("interactions", "Interactions", ix["n"]))
        rate = ix["resolved"] / ix["n"] if ix["n"] else None
        kpis.append(Kpi("resolution_rate", "Resolution rate", rate, "Resolved or Implemented", rate=True))
    else:
        notes.append("interactions and resolution rate (gold.fact_interaction)")
    return kpis, notes


def _churn(lake: _Lake) -> tuple[list[Kpi], tuple[str, str] | None]:
    """Churn tiles from gold.churn_score, and the (model name, version) that scored most of it."""
    if not lake.has("gold.churn_score"):
        return [], None
    (r,) = lake.rows(f"SELECT COUNT(*) AS n, AVG(churn_probability) AS p, COUNT_IF(risk_band = 'high') AS high, "
                     f"MAX_BY(model_name, scored_at) AS model, MAX_BY(model_version, scored_at) AS version "
                     f"FROM {lake.name('gold.churn_score')}")
    if not r["n"]:
        return [], None
    kpis = [Kpi("churn_scored", "Customers scored", r["n"], "active customers with a churn score"),
            Kpi("churn_high_risk", "High churn risk", r["high"], f"{r['high'] / r['n']:.1%} of those scored"),
            Kpi("churn_probability", "Mean churn probability", r["p"], rate=True)]
    return kpis, (r["model"], r["version"])


def mlflow_metrics(cfg: Config, model_name: str, version: str) -> tuple[dict[str, float] | None, str]:
    """Held-out evaluation metrics (`eval_*`) of the MLflow run behind a registered model version.

    Returns (None, reason) when there are none; the dashboard reports that, it never fails on it.
    """
    settings = cfg.section("mlflow")
    uri = settings.get("tracking_uri")
    if not uri:
        return None, "no MLflow tracking URI is configured"
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        return None, f"no MLflow tracking store at {uri}"
    try:
        try:  # the SQLite store needs the project's SQLAlchemy shim (see ml.tracking)
            from ml.tracking import _sqlalchemy_compat

            _sqlalchemy_compat()
        except ImportError:
            pass
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=uri, registry_uri=settings.get("registry_uri") or uri)
        run = client.get_run(client.get_model_version(model_name, version).run_id)
    except Exception as exc:  # noqa: BLE001 - any tracker problem becomes the panel's message
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        return None, f"MLflow has no metrics for {model_name} version {version}: {reason}"
    metrics = run.data.metrics
    held_out = {k.removeprefix("eval_"): v for k, v in metrics.items() if k.startswith("eval_")}
    if not held_out and not metrics:
        return None, f"the MLflow run of {model_name} version {version} logged no metrics"
    what = "held-out evaluation" if held_out else "logged metrics"
    return dict(sorted((held_out or metrics).items())), (
        f"{model_name} version {version}, MLflow run {run.info.run_name or run.info.run_id}: {what}")


def _last_run(lake: _Lake) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    if not lake.has("ops.run_log"):
        return None, []
    runs = lake.rows(f"SELECT * FROM {lake.name('ops.run_log')} ORDER BY started_at DESC NULLS LAST LIMIT 1")
    if not runs:
        return None, []
    jobs = []
    if lake.has("ops.job_run"):
        run_id = runs[0]["run_id"].replace("'", "''")
        jobs = lake.rows(f"SELECT job, layer, status, seconds, rows_read, rows_written, rows_quarantined, error "
                         f"FROM {lake.name('ops.job_run')} WHERE run_id = '{run_id}' "
                         "ORDER BY started_at NULLS LAST, job")
    return runs[0], jobs


def _mermaid() -> str:
    from lakehouse_core.errors import LakehouseError
    from lakehouse_core.manifest import load_manifest

    try:
        return load_manifest().mermaid()
    except LakehouseError as exc:
        return f"(the pipeline manifest could not be read: {exc})"


def collect(spark, cfg: Config) -> DashboardData:
    """Read everything the dashboard shows (a few small queries)."""
    lake = _Lake(spark, cfg)
    kpis, kpi_notes = _kpis(lake)
    reports = [t for t in lakedb.TABLES if t.layer == "gold" and t.name.startswith("rpt_")]
    charts = [_report_chart(lake, t) for t in reports]
    churn_kpis, scored_by = _churn(lake)
    kpis += churn_kpis
    if scored_by:
        metrics, model_note = mlflow_metrics(cfg, *scored_by)
        model_note = model_note if metrics else f"No model metrics: {model_note}"
    else:
        metrics, model_note = None, "Not built yet: gold.churn_score does not exist"
    last_run, jobs = _last_run(lake)
    return DashboardData(
        title="Customer lakehouse", generated_at=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        env=cfg.env, kpis=kpis, kpi_notes=kpi_notes, charts=charts, agents=_agent_chart(lake),
        model_metrics=metrics, model_note=model_note, mermaid=_mermaid(), last_run=last_run, job_runs=jobs)


# --- HTML (pure) -------------------------------------------------------------------------------------------

def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d2330;color:#fff;padding:16px 24px}header h1{margin:0;font-size:20px}header p{margin:4px 0 0;color:#b8c0cc}
main{padding:16px 24px;display:grid;gap:16px}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px}
.kpi{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px #0002}
.kpi .v{font-size:24px;font-weight:600}.kpi .l{color:#5b6475}.kpi .n{color:#8a93a3;font-size:12px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:16px}
section.panel{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 2px #0002;overflow:auto}
section.panel h2{font-size:16px;margin:0 0 4px}.comment{color:#5b6475;font-size:12px;margin:0 0 8px}
.missing{color:#a05a00;font-style:italic}.note{color:#8a93a3;font-size:12px;margin:2px 0}
h3{font-size:13px;margin:8px 0 2px;color:#3b4456}
svg.chart text{font-size:11px;fill:#1d2330}svg.chart rect.bar-rect{fill:#3a6ea5}svg.chart rect.bar-rect.negative{fill:#c0504d}
table{border-collapse:collapse;font-size:12px}td,th{padding:3px 8px;border-bottom:1px solid #e3e6eb;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}pre{background:#f7f8fa;padding:8px;font-size:11px;overflow:auto}
"""

# Runs in the browser after layout: records the drawn size of every chart and bar, so a headless browser
# can prove the charts were laid out, not merely present in the markup.
JS = """
document.querySelectorAll('svg.chart').forEach(function (svg) {
  var box = svg.getBoundingClientRect();
  svg.setAttribute('data-drawn-width', Math.round(box.width));
  svg.querySelectorAll('rect.bar-rect').forEach(function (r) {
    r.setAttribute('data-drawn-width', r.getBoundingClientRect().width.toFixed(2));
  });
});
document.body.setAttribute('data-rendered', 'true');
"""

LABEL_W, BAR_W, VALUE_W, ROW_H = 190, 280, 90, 20


def svg_bars(table: str, s: Series) -> str:
    """A horizontal bar chart; each bar and value label carries the exact number in data-value."""
    rate = bool(RATE.search(s.measure))
    values = [abs(float(b.value)) for b in s.bars if b.value is not None]
    top = max(values) if values else 0.0
    height = ROW_H * len(s.bars) + 4
    out = [f'<svg class="chart" role="img" data-table="{_e(table)}" data-measure="{_e(s.measure)}" '
           f'data-bars="{len(s.bars)}" width="{LABEL_W + BAR_W + VALUE_W}" height="{height}" '
           f'viewBox="0 0 {LABEL_W + BAR_W + VALUE_W} {height}" xmlns="http://www.w3.org/2000/svg">',
           f"<title>{_e(s.title)}</title>"]
    for i, b in enumerate(s.bars):
        y = i * ROW_H + 2
        width = 0.0 if b.value is None or top == 0 else abs(float(b.value)) / top * BAR_W
        if b.value not in (None, 0) and width < 1:
            width = 1.0  # a non-zero value is never invisible
        negative = " negative" if b.value is not None and float(b.value) < 0 else ""
        label = b.label if len(b.label) <= 30 else b.label[:29] + "…"
        v = _e(plain(b.value))
        out.append(
            f'<g class="bar" data-label="{_e(b.label)}" data-value="{v}">'
            f'<text class="label" x="{LABEL_W - 6}" y="{y + 13}" text-anchor="end">{_e(label)}</text>'
            f'<rect class="bar-rect{negative}" data-value="{v}" x="{LABEL_W}" y="{y + 2}" '
            f'width="{width:.2f}" height="{ROW_H - 6}"/>'
            f'<text class="value" data-value="{v}" x="{LABEL_W + width + 4:.2f}" y="{y + 13}">'
            f"{_e(shown(b.value, rate))}</text></g>")
    out.append("</svg>")
    return "".join(out)


def _chart_panel(c: Chart) -> str:
    parts = [f'<section class="panel chart-panel" data-table="{_e(c.key)}">', f"<h2>{_e(c.title)}</h2>",
             f'<p class="comment">{_e(c.comment)}</p>']
    if c.missing:
        parts.append(f'<p class="missing">{_e(c.missing)}</p>')
    for s in c.series:
        parts += [f"<h3>{_e(s.title)}</h3>", svg_bars(c.key, s)]
    parts += [f'<p class="note">{_e(n)}</p>' for n in c.notes]
    parts.append("</section>")
    return "".join(parts)


def _kpi_tile(k: Kpi) -> str:
    return (f'<div class="kpi" data-kpi="{_e(k.key)}" data-value="{_e(plain(k.value))}">'
            f'<div class="l">{_e(k.label)}</div><div class="v">{_e(shown(k.value, k.rate, k.metric))}</div>'
            f'<div class="n">{_e(k.note)}</div></div>')


def _table(rows: list[dict[str, Any]], css_class: str) -> str:
    if not rows:
        return ""
    cols = list(rows[0])
    head = "".join(f"<th>{_e(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="num" data-value="{_e(plain(r[c]))}">{_e(shown(r[c]))}</td>'
            if isinstance(r[c], (int, float, Decimal)) and not isinstance(r[c], bool)
            else f"<td>{_e(r[c])}</td>" for c in cols) + "</tr>"
        for r in rows)
    return f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _model_panel(d: DashboardData) -> str:
    parts = ['<section class="panel" data-panel="model"><h2>Churn model</h2>']
    if d.model_metrics:
        parts.append(f'<p class="comment">{_e(d.model_note)}</p><div class="kpis">')
        parts += [_kpi_tile(Kpi(f"metric_{k}", k, v, metric=True)) for k, v in d.model_metrics.items()]
        parts.append("</div>")
    else:
        parts.append(f'<p class="missing">{_e(d.model_note)}.</p>')
    parts.append("</section>")
    return "".join(parts)


def _run_panel(d: DashboardData) -> str:
    parts = ['<section class="panel" data-panel="last-run"><h2>Last run</h2>']
    if d.last_run is None:
        parts.append('<p class="missing">Not built yet: no run is recorded in ops.run_log.</p>')
    else:
        r = d.last_run
        parts.append(f'<p data-run-id="{_e(r.get("run_id"))}" data-status="{_e(r.get("status"))}">'
                     f'Run <code>{_e(r.get("run_id"))}</code> ({_e(r.get("command"))}) started '
                     f'{_e(r.get("started_at"))}, ended {_e(r.get("ended_at"))}: <b>{_e(r.get("status"))}</b>'
                     + (f" at {_e(r.get('failed_job'))}: {_e(r.get('error'))}" if r.get("failed_job") else "")
                     + "</p>")
        parts.append(_table(d.job_runs, "job-runs"))
    parts.append("</section>")
    return "".join(parts)


def render(d: DashboardData) -> str:
    """The whole HTML page: self-contained, no external resources."""
    kpis = "".join(_kpi_tile(k) for k in d.kpis)
    kpi_notes = "".join(f'<p class="missing">Not built yet: {_e(n)}</p>' for n in d.kpi_notes)
    charts = "".join(_chart_panel(c) for c in d.charts)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{_e(d.title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{_e(d.title)}</h1><p>Gold layer, environment {_e(d.env)}, generated {_e(d.generated_at)}. "
        "Amounts are in the reporting currency, converted at dated rates.</p></header><main>"
        f'<section class="panel" data-panel="kpis"><h2>Key figures</h2><div class="kpis">{kpis}</div>{kpi_notes}'
        "</section>"
        f'<div class="grid">{charts}{_chart_panel(d.agents)}</div>'
        f"{_model_panel(d)}{_run_panel(d)}"
        '<section class="panel" data-panel="data-flow"><h2>Data flow</h2>'
        '<p class="comment">The pipeline manifest as a Mermaid flowchart (paste into any Mermaid viewer).</p>'
        f'<pre class="mermaid-source">{_e(d.mermaid)}</pre></section>'
        f"</main><script>{JS}</script></body></html>\n"
    )


def write_dashboard(spark, cfg: Config, out_path: Path | str | None = None) -> Path:
    """Write the dashboard (default `<reports>/dashboard.html` under the root) and return its path."""
    out = Path(out_path) if out_path else Path(cfg.path("reports")) / "dashboard.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(collect(spark, cfg)), encoding="utf-8")
    return out
