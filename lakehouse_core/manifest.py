"""The pipeline manifest (`conf/pipeline.yml`): jobs, what they read and write, and their order."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

import yaml

import lakedb
from lakedb.sources import SOURCES_BY_NAME
from lakehouse_core.config import conf_dir
from lakehouse_core.errors import ManifestError

LAYER_ORDER = ("bronze", "silver", "gold", "ml", "ops")
_JOB_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


@dataclass(frozen=True)
class Job:
    name: str
    layer: str
    entry: str  # "package.module" exposing run(ctx, **args)
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    depends_on: tuple[str, ...] = ()
    args: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    # Shared resources the job holds alone while it runs (`mlflow`: the tracking store it writes): jobs naming the
    # same one never run at the same time, whatever `--parallel` allows.
    exclusive: tuple[str, ...] = ()

    @property
    def main_file(self) -> str:
        """The spark-submit main file of the job, relative to the project root."""
        return self.entry.replace(".", "/") + ".py"


@dataclass(frozen=True)
class Manifest:
    jobs: dict[str, Job]
    order: tuple[str, ...]
    upstream: dict[str, frozenset[str]]  # direct dependencies

    def downstream_of(self, name: str) -> set[str]:
        out, todo = set(), [name]
        while todo:
            cur = todo.pop()
            for job, deps in self.upstream.items():
                if cur in deps and job not in out:
                    out.add(job)
                    todo.append(job)
        return out

    def upstream_of(self, name: str) -> set[str]:
        out, todo = set(), [name]
        while todo:
            for dep in self.upstream[todo.pop()]:
                if dep not in out:
                    out.add(dep)
                    todo.append(dep)
        return out

    def select(self, spec: str | None) -> list[str]:
        """Jobs matched by a dbt-like selection, in run order.

        `job`, `+job` (with everything upstream), `job+` (with everything downstream), `layer:silver`;
        several selectors separated by spaces or commas are unioned.
        """
        if not spec or not spec.strip():
            return list(self.order)
        chosen: set[str] = set()
        for token in re.split(r"[,\s]+", spec.strip()):
            if not token:
                continue
            if token.startswith("layer:"):
                layer = token.split(":", 1)[1]
                if layer not in LAYER_ORDER:
                    raise ManifestError(f"unknown layer {layer!r} in --select (known: {', '.join(LAYER_ORDER)})")
                chosen |= {n for n, j in self.jobs.items() if j.layer == layer}
                continue
            up, down = token.startswith("+"), token.endswith("+")
            name = token.strip("+")
            if name not in self.jobs:
                raise ManifestError(f"unknown job {name!r} in --select")
            chosen.add(name)
            if up:
                chosen |= self.upstream_of(name)
            if down:
                chosen |= self.downstream_of(name)
        return [n for n in self.order if n in chosen]

    def mermaid(self, selected: list[str] | None = None) -> str:
        """A Mermaid flowchart: sources -> jobs -> tables, tables grouped by layer (bronze, silver, gold, ...)."""
        names = selected or list(self.order)
        refs: list[str] = []
        for name in names:
            for ref in (*self.jobs[name].reads, *self.jobs[name].writes):
                if ref not in refs:
                    refs.append(ref)
        ids = {ref: f"t{i}" for i, ref in enumerate(refs)}
        jid = {name: f"j{i}" for i, name in enumerate(names)}
        lines = ["flowchart LR"]
        groups = [("sources", [r for r in refs if is_external(r) and not r.startswith("model:")])]
        groups += [(layer, [r for r in refs if r.split(".")[0] == layer and not is_external(r)])
                   for layer in LAYER_ORDER]
        groups.append(("models", [r for r in refs if r.startswith("model:")]))
        for title, members in groups:
            if not members:
                continue
            lines.append(f"  subgraph {title}")
            for ref in members:
                shape = ('>"', '"]') if is_external(ref) else ('[("', '")]')
                lines.append(f"    {ids[ref]}{shape[0]}{ref.split(':', 1)[-1]}{shape[1]}")
            lines.append("  end")
        for name in names:
            job = self.jobs[name]
            lines.append(f'  {jid[name]}[["{name}"]]:::job')
            lines += [f"  {ids[r]} --> {jid[name]}" for r in job.reads]
            lines += [f"  {jid[name]} --> {ids[w]}" for w in job.writes]
            # Ordering that no table expresses (depends_on), drawn dotted.
            via_tables = {self._writer(r) for r in job.reads}
            lines += [f"  {jid[d]} -.-> {jid[name]}" for d in sorted(self.upstream[name] - via_tables,
                                                                    key=self.order.index) if d in jid]
        lines.append("  classDef job fill:#eef,stroke:#447")
        return "\n".join(lines) + "\n"

    def _writer(self, ref: str) -> str | None:
        return next((n for n, j in self.jobs.items() if ref in j.writes), None)


def is_external(ref: str) -> bool:
    """Inputs that no job writes: landing folders and other outside sources."""
    return ref.startswith(("landing:", "jdbc:", "model:", "file:"))


def _tuple(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ManifestError(f"{what} must be a list of names")


def load_manifest(path: Path | None = None) -> Manifest:
    path = path or conf_dir() / "pipeline.yml"
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ManifestError(f"no pipeline manifest at {path}") from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("jobs"), dict) or not raw["jobs"]:
        raise ManifestError(f"{path} must have a non-empty mapping `jobs:`")
    return parse_manifest(raw["jobs"])


def parse_manifest(raw_jobs: dict[str, Any]) -> Manifest:
    jobs: dict[str, Job] = {}
    for name, spec in raw_jobs.items():
        if not isinstance(name, str) or not _JOB_NAME.match(name):
            raise ManifestError(f"invalid job name {name!r}: use lower_snake_case")
        if not isinstance(spec, dict):
            raise ManifestError(f"job {name}: expected a mapping")
        unknown = set(spec) - {"layer", "entry", "reads", "writes", "depends_on", "args", "description", "exclusive"}
        if unknown:
            raise ManifestError(f"job {name}: unknown key(s) {', '.join(sorted(unknown))}")
        for key in ("layer", "entry"):
            if not isinstance(spec.get(key), str):
                raise ManifestError(f"job {name}: missing `{key}`")
        if spec["layer"] not in LAYER_ORDER:
            raise ManifestError(f"job {name}: unknown layer {spec['layer']!r}")
        _check_entry(name, spec["entry"])
        args = spec.get("args") or {}
        if not isinstance(args, dict):
            raise ManifestError(f"job {name}: `args` must be a mapping")
        jobs[name] = Job(
            name=name,
            layer=spec["layer"],
            entry=spec["entry"],
            reads=_tuple(spec.get("reads"), f"job {name}: reads"),
            writes=_tuple(spec.get("writes"), f"job {name}: writes"),
            depends_on=_tuple(spec.get("depends_on"), f"job {name}: depends_on"),
            args=args,
            description=str(spec.get("description", "")),
            exclusive=_tuple(spec.get("exclusive"), f"job {name}: exclusive"),
        )
        for resource in jobs[name].exclusive:
            if not _JOB_NAME.match(resource):
                raise ManifestError(f"job {name}: exclusive resource {resource!r} is not a lower_snake_case name")

    writers: dict[str, str] = {}
    for job in jobs.values():
        for t in job.writes:
            _check_table(job.name, t)
            if t in writers and t.split(".")[0] != "ops":
                raise ManifestError(f"table {t} is written by both {writers[t]} and {job.name}")
            writers.setdefault(t, job.name)

    upstream: dict[str, frozenset[str]] = {}
    for job in jobs.values():
        deps = set()
        for d in job.depends_on:
            if d.startswith("layer:"):
                # `layer:silver`: every job of that layer (for jobs such as maintenance that follow a whole layer).
                layer = d.removeprefix("layer:")
                if layer not in LAYER_ORDER:
                    raise ManifestError(f"job {job.name} depends on unknown layer {layer!r}")
                deps |= {n for n, j in jobs.items() if j.layer == layer and n != job.name}
                continue
            if d not in jobs:
                raise ManifestError(f"job {job.name} depends on unknown job {d!r}")
            deps.add(d)
        for t in job.reads:
            if is_external(t):
                if t.startswith("landing:") and t.removeprefix("landing:") not in SOURCES_BY_NAME:
                    raise ManifestError(f"job {job.name} reads unknown source {t!r}")
                continue
            _check_table(job.name, t)
            if t not in writers:
                raise ManifestError(f"job {job.name} reads {t}, which no job in the manifest writes")
            if t.split(".")[0] == "ops":
                # Shared bookkeeping (the file ledger, ...) that many jobs write: a job reads only its own
                # sources' rows there, and its data reads already order it after the jobs that wrote them.
                continue
            if writers[t] != job.name:
                deps.add(writers[t])
        upstream[job.name] = frozenset(deps)

    sorter = TopologicalSorter(upstream)
    try:
        sorter.prepare()
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise ManifestError(f"the manifest has a cycle: {cycle}") from None
    # Deterministic order: among ready jobs, earlier layers first, then manifest order.
    position = {n: i for i, n in enumerate(jobs)}
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=lambda n: (LAYER_ORDER.index(jobs[n].layer), position[n]))
        for n in ready:
            order.append(n)
            sorter.done(n)
    return Manifest(jobs=jobs, order=tuple(order), upstream=upstream)


def _check_entry(job: str, entry: str) -> None:
    """The entry must be an importable module; found without importing it (plan never runs job code)."""
    if not _MODULE.match(entry):
        raise ManifestError(f"job {job}: entry {entry!r} is not a module name like jobs.bronze.ingest")
    try:
        found = importlib.util.find_spec(entry)
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise ManifestError(f"job {job}: entry module {entry!r} not found")


def _check_table(job: str, ref: str) -> None:
    if ref not in lakedb.TABLES_BY_ID:
        raise ManifestError(f"job {job} refers to unknown table {ref!r} (not in lakedb)")
