"""`lakehouse`: the command line users and schedulers script against (see INTERFACE.md)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from lakehouse_core.errors import LakehouseError


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", default=None, help="lakehouse root (default ./lakehouse, or LAKEHOUSE_ROOT)")
    p.add_argument("--env", default=os.environ.get("LAKEHOUSE_ENV", "local"), help="conf/<env>.yml (default local)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lakehouse", description="Customer-data lakehouse on Spark and Delta.")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = sub.add_parser("generate", help="write simulated raw deliveries under <root>/landing")
    _common(p)
    p.add_argument("--days", type=int, default=5)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--defects", type=float, default=0.01)
    p.add_argument("--start", default="2025-01-01", help="first batch day (YYYY-MM-DD)")
    p.add_argument("--out", default=None, help="landing folder (default <root>/landing)")

    for verb, text in (("run", "run the pipeline's jobs in dependency order"),
                       ("plan", "print what `run` would run, in order, without touching data")):
        p = sub.add_parser(verb, help=text)
        _common(p)
        p.add_argument("--select", default=None, help="job, +job, job+, layer:NAME; several with commas")
        if verb == "run":
            p.add_argument("--full-refresh", action="store_true", help="rebuild outputs from their inputs")
            p.add_argument("--resume", action="store_true", help="finish the last failed run")
            p.add_argument("--parallel", type=int, default=None, metavar="N",
                           help="run up to N independent jobs at once, in every layer "
                           "(default: conf runner.parallel_jobs and runner.parallel_jobs_by_layer)")
            p.add_argument("--quiet", action="store_true", help="print only failures and the summary")
            p.add_argument("--log-format", choices=("text", "json"), default="text")
        else:
            p.add_argument("--format", choices=("text", "json", "mermaid"), default="text")

    p = sub.add_parser("sql", help="run a Spark SQL query against the lake database")
    _common(p)
    p.add_argument("query")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")

    p = sub.add_parser("demo", help="generate + run (+ train + score + dashboard) from nothing")
    _common(p)
    p.add_argument("--days", type=int, default=5)
    p.add_argument("--scale", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=42)

    p = sub.add_parser("init", help="create the lake database's databases and tables (idempotent)")
    _common(p)

    p = sub.add_parser("docs", help="write the data dictionary (Markdown + Mermaid ERD) and the pipeline diagram")
    p.add_argument("--out", default="docs/data_dictionary.md")
    p.add_argument("--pipeline-out", default="docs/pipeline.md", help="the manifest's data flow as Mermaid")
    p.add_argument("--readme", default="README.md", help="README whose data-flow diagram block is refreshed")

    p = sub.add_parser("export", help="write scheduler artefacts for the manifest")
    _common(p)
    p.add_argument("target", choices=("synapse", "databricks", "powerbi", "synapse-sql"),
                   help="synapse/databricks: job definitions; powerbi: a PBIP project; synapse-sql: serverless views")
    p.add_argument("--out", required=True)

    p = sub.add_parser("load-postgres", help="load a source's landing files into a PostgreSQL table, batch by batch")
    _common(p)
    p.add_argument("--target", required=True, help="postgres://USER@HOST:PORT/DB (password: LAKEHOUSE_PG_PASSWORD)")
    p.add_argument("--source", default="payments/The_transaction", help="landing source (system/entity)")
    p.add_argument("--table", default='public."The_transaction"', help="schema.table to create and upsert into")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = VERBS[args.verb](args) or 0
    except LakehouseError as exc:
        print(f"lakehouse {args.verb}: {exc}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        print(f"lakehouse {args.verb}: interrupted", file=sys.stderr)
        code = 130
    if argv is None and code:
        # Called as a program: fail the process even where the launcher ignores the return value
        # (a Databricks Python wheel task calls the entry point and discards what it returns).
        raise SystemExit(code)
    return code


def _cfg(args):
    from lakehouse_core.config import load_config

    return load_config(args.env, args.root)


def cmd_generate(args) -> int:
    import datetime as dt

    from lakehouse_core.config import ensure_local_root
    from lakehouse_core.simulator import generate

    cfg = _cfg(args)
    ensure_local_root(cfg)
    out = Path(args.out or cfg.path("landing"))
    summary = generate(out, Path(cfg.path("truth")), days=args.days, scale=args.scale, seed=args.seed,
                       defects=args.defects, start=dt.date.fromisoformat(args.start))
    print(json.dumps(summary, indent=2, default=str))
    return 0


def cmd_plan(args) -> int:
    from lakehouse_core.manifest import load_manifest

    _cfg(args)
    manifest = load_manifest()
    names = manifest.select(args.select)
    if args.format == "mermaid":
        print(manifest.mermaid(names), end="")
    elif args.format == "json":
        print(json.dumps([{"job": n, "layer": manifest.jobs[n].layer, "entry": manifest.jobs[n].entry,
                           "reads": manifest.jobs[n].reads, "writes": manifest.jobs[n].writes} for n in names],
                         indent=2))
    else:
        width = max((len(n) for n in names), default=0)
        for i, n in enumerate(names, 1):
            job = manifest.jobs[n]
            after = sorted(manifest.upstream[n], key=manifest.order.index)
            print(f"{i:>3}. {n:<{width}}  {job.layer:<6} -> {', '.join(job.writes) or '-'}"
                  + (f"  (after {', '.join(after) if len(after) <= 3 else f'{len(after)} jobs'})" if after else ""))
    return 0


def cmd_run(args) -> int:
    from lakehouse_core.manifest import load_manifest
    from lakehouse_core.runner import Reporter, resume_plan, run_jobs, run_lock
    from lakehouse_core.session import get_spark

    cfg = _cfg(args)
    manifest = load_manifest()
    if args.resume and args.select:
        raise LakehouseError("--resume runs what the last run left undone; it takes no --select")
    names = manifest.select(args.select)
    if not names:
        print(f"nothing to run: no job matches --select {args.select!r}", file=sys.stderr)
        return 0
    reporter = Reporter(quiet=args.quiet, fmt=args.log_format)
    with run_lock(cfg):
        spark = get_spark(cfg, "lakehouse run")
        command, selection, full_refresh = "run", args.select, args.full_refresh
        if args.resume:
            import lakedb
            from lakehouse_core.catalog import ensure_tables

            ensure_tables(spark, cfg, [t for t in lakedb.TABLES if t.layer == "ops"])
            plan = resume_plan(spark, cfg, manifest)
            if not plan.jobs:
                print("nothing to resume: the last run succeeded" if plan.run_id is None
                      else f"nothing to resume from run {plan.run_id}", file=sys.stderr)
                return 0
            names, command, selection = plan.jobs, "resume", f"resume:{plan.run_id}"
            full_refresh = full_refresh or plan.full_refresh
        run_jobs(spark, cfg, manifest, names, command=command, selection=selection, full_refresh=full_refresh,
                 reporter=reporter, parallel=args.parallel)
    return 0


def cmd_sql(args) -> int:
    from lakehouse_core.session import get_spark

    cfg = _cfg(args)
    spark = get_spark(cfg, "lakehouse sql")
    try:
        df = spark.sql(args.query)
    except Exception as exc:  # noqa: BLE001 - Spark's analysis errors become one line
        from lakehouse_core.runner import one_line

        raise LakehouseError(one_line(exc)) from None
    rows = df.collect()
    cols = df.columns
    if args.format == "json":
        for r in rows:
            print(json.dumps(r.asDict(recursive=True), default=str))
    elif args.format == "csv":
        import csv

        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(cols)
        w.writerows([["" if v is None else v for v in r] for r in rows])
    else:
        print(format_table(cols, [[_cell(v) for v in r] for r in rows]))
    return 0


def _cell(v) -> str:
    return "NULL" if v is None else str(v)


def format_table(cols: list[str], rows: list[list[str]]) -> str:
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line, "| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)) + " |", line]
    out += ["| " + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) + " |" for r in rows]
    out.append(line)
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def cmd_init(args) -> int:
    from lakehouse_core.catalog import ensure_tables
    from lakehouse_core.session import get_spark

    cfg = _cfg(args)
    created = ensure_tables(get_spark(cfg, "lakehouse init"), cfg)
    print(f"{len(created)} table(s) created" + (": " + ", ".join(created) if created else ""))
    return 0


def cmd_docs(args) -> int:
    from lakedb.docs import data_dictionary
    from lakehouse_core.manifest import load_manifest

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(data_dictionary())
    print(f"wrote {args.out}")
    Path(args.pipeline_out).parent.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest()
    Path(args.pipeline_out).write_text(pipeline_doc(manifest))
    print(f"wrote {args.pipeline_out}")
    readme = Path(args.readme)
    if readme.is_file():
        readme.write_text(readme_with_diagram(readme.read_text(), manifest))
        print(f"refreshed the data-flow diagram in {readme}")
    return 0


README_MARKERS = ("<!-- pipeline-diagram:start (lakehouse docs) -->", "<!-- pipeline-diagram:end -->")


def readme_with_diagram(text: str, manifest) -> str:
    """README.md with the manifest's Mermaid diagram between its markers (unchanged when it has none)."""
    start, end = README_MARKERS
    if start not in text or end not in text:
        return text
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n```mermaid\n{manifest.mermaid()}```\n{end}{tail}"


def pipeline_doc(manifest) -> str:
    """docs/pipeline.md: the data flow drawn from conf/pipeline.yml (`lakehouse plan --format mermaid`)."""
    return ("# Pipeline\n\nGenerated from `conf/pipeline.yml` by `lakehouse docs` (or `make docs`): sources, then "
            "the jobs (double boxes) and the tables they write, by layer. Dotted arrows are ordering that no "
            "table expresses (`depends_on`).\n\n```mermaid\n" + manifest.mermaid() + "```\n")


def cmd_demo(args) -> int:
    import datetime as dt

    from lakehouse_core.manifest import load_manifest
    from lakehouse_core.runner import Reporter, run_jobs, run_lock
    from lakehouse_core.session import get_spark
    from lakehouse_core.simulator import generate

    cfg = _cfg(args)
    manifest = load_manifest()
    t0 = time.perf_counter()
    with run_lock(cfg):
        landing = Path(cfg.path("landing"))
        if not landing.exists() or not any(landing.iterdir()):
            print(f"generating {args.days} daily batches at scale {args.scale} into {landing} ...", file=sys.stderr)
            summary = generate(landing, Path(cfg.path("truth")), days=args.days, scale=args.scale, seed=args.seed,
                               start=dt.date(2025, 1, 1))
            print(f"    {summary.get('seconds', 0):.1f}s", file=sys.stderr)
        spark = get_spark(cfg, "lakehouse demo")
        run_jobs(spark, cfg, manifest, list(manifest.order), command="demo", reporter=Reporter())
        from lakehouse_core.serving.dashboard import write_dashboard

        print(f"dashboard: {write_dashboard(spark, cfg)}", file=sys.stderr)
    print(f"demo finished in {time.perf_counter() - t0:.0f}s; try:\n"
          f"  lakehouse sql --root {cfg.root} \"SHOW TABLES IN {cfg.database('bronze')}\"", file=sys.stderr)
    return 0


def cmd_export(args) -> int:
    from lakehouse_core.export import export

    cfg = _cfg(args)
    if args.target in ("powerbi", "synapse-sql"):
        from lakehouse_core.serving.export import export_bi

        written = export_bi(cfg, Path(args.out), args.target)
    else:
        written = export(args.target, cfg, Path(args.out))
    print(f"wrote {len(written)} file(s) under {args.out}")
    return 0


def cmd_load_postgres(args) -> int:
    from lakedb.sources import source
    from lakehouse_core.errors import ConfigError
    from lakehouse_core.pgload import Target, load_landing

    cfg = _cfg(args)
    target = Target.parse(args.target)
    password = os.environ.get("LAKEHOUSE_PG_PASSWORD")
    if not password:
        raise ConfigError(f"environment variable LAKEHOUSE_PG_PASSWORD is not set (the password of {target})")
    try:
        src = source(args.source)
    except KeyError as exc:
        raise ConfigError(str(exc.args[0])) from None
    summary = load_landing(target, password, Path(cfg.path("landing")), src, args.table)
    print(json.dumps(summary, indent=2))
    return 0


VERBS = {
    "generate": cmd_generate, "plan": cmd_plan, "run": cmd_run, "sql": cmd_sql, "demo": cmd_demo,
    "init": cmd_init, "docs": cmd_docs, "export": cmd_export, "load-postgres": cmd_load_postgres,
}

if __name__ == "__main__":
    sys.exit(main())
