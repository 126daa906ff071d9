"""The study-driven export: choose trials, rebuild them from their stored attributes, retrain, export, report.

A trial made by :class:`nas_edge.Objective` stores ``arch`` (the architecture), ``hardware`` (profile name and,
with co-search, the chip's knobs) and ``cost`` (the metrics known before training); the study stores
``nas_edge`` (space, space options, hardware, co-search space, data). Before any training, the rebuilt
architecture's analytic MACs and parameters are checked against the stored cost: the exported model is the
one that was searched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas_edge.errors import mask_credentials
from nas_edge.export._files import check_replaceable, ensure_writable, publish, staging
from nas_edge.export.errors import ExportError, TrialSelectionError
from nas_edge.export.pipeline import ExportOptions, ExportResult
from nas_edge.export.report import EXPORT_SCHEMA_ID, SCHEMA_VERSION, STUDY_SCHEMA_ID
from nas_edge.search.constraints import trial_feasible as feasible

Progress = Callable[[str], None]


def redact(url: str) -> str:
    """A storage URL without its password (:func:`nas_edge.errors.mask_credentials`)."""
    return mask_credentials(str(url))


def load_study(storage: str, study_name: str) -> Any:
    """Open an existing study; :class:`TrialSelectionError` for an unknown one (nothing is created)."""
    import optuna

    from nas_edge.search import SearchError, open_storage
    from nas_edge.search.storage import is_journal_url

    url = str(storage)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        db = Path(url.removeprefix("sqlite:///")).expanduser()
        if not db.is_file():
            raise TrialSelectionError(f"no study {study_name!r}: database file {db} does not exist")
    journal = Path(url.removeprefix("journal:"))
    if is_journal_url(url) and not journal.is_file():
        raise TrialSelectionError(f"no study {study_name!r}: journal file {journal} does not exist")
    try:
        store = open_storage(url)
    except SearchError as exc:
        raise TrialSelectionError(str(exc)) from None
    assert store is not None  # a URL always gives a storage
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.load_study(study_name=study_name, storage=store)
    except KeyError:
        names = sorted(s.study_name for s in optuna.get_all_study_summaries(store, include_best_trial=False))
        raise TrialSelectionError(f"no study {study_name!r} in {redact(url)}; studies there: "
                                  f"{', '.join(names) or 'none'}") from None


def objective_names(study: Any) -> list[str]:
    names = study.metric_names or (study.user_attrs.get("nas_edge") or {}).get("objectives")
    return list(names) if names and len(names) == len(study.directions) else [
        f"objective {i}" for i in range(len(study.directions))]


def select_trials(study: Any, *, trial: int | None = None, pareto: bool = False,
                  best: str | None = None) -> list[Any]:
    """The trials to export: trial number ``trial``, the feasible Pareto front, or the best feasible trial on
    the objective ``best``. With none given: the Pareto front."""
    from optuna.trial import TrialState

    if sum(x is not None and x is not False for x in (trial, best, pareto or None)) > 1:
        raise TrialSelectionError("choose one of --trial, --pareto, --best")
    trials = study.get_trials(deepcopy=False)
    if trial is not None:
        found = next((t for t in trials if t.number == trial), None)
        if found is None:
            span = f"trials 0..{max(t.number for t in trials)}" if trials else "no trials"
            raise TrialSelectionError(f"study {study.study_name!r} has no trial {trial} ({span})")
        if found.state == TrialState.FAIL:
            raise TrialSelectionError(f"trial {trial} of study {study.study_name!r} failed: nothing to export")
        if found.state == TrialState.PRUNED:
            raise TrialSelectionError(f"trial {trial} of study {study.study_name!r} was pruned: its training was "
                                      "stopped early, so it is not a result to deploy")
        if found.state != TrialState.COMPLETE:
            raise TrialSelectionError(f"trial {trial} of study {study.study_name!r} has not finished "
                                      f"({found.state.name.lower()})")
        return [found]
    done = [t for t in trials if t.state == TrialState.COMPLETE and feasible(t)]
    if not done:
        raise TrialSelectionError(f"study {study.study_name!r} has no completed feasible trial to export")
    if best is not None:
        names = objective_names(study)
        if best not in names:
            raise TrialSelectionError(f"study {study.study_name!r} has no objective {best!r}; its objectives: "
                                      f"{', '.join(names)}")
        i = names.index(best)
        sign = 1.0 if study.directions[i].name == "MAXIMIZE" else -1.0
        return [max(done, key=lambda t: (sign * t.values[i], -t.number))]
    return sorted(study.best_trials, key=lambda t: t.number)


@dataclass
class Rebuilt:
    """Everything needed to retrain and export one trial, checked before any training."""

    trial: Any
    space: Any
    arch: Any
    data: Any
    profile: Any | None
    source: dict[str, Any]
    analytic_macs: float
    warnings: list[str] = field(default_factory=list)
    training: dict[str, Any] | None = None  # the search's training options (TrainConfig.describe())


def _space_and_data(study: Any, arch_dict: Mapping[str, Any], data_spec: Any | None, *,
                    with_data: bool = True) -> tuple[Any, Any]:
    """The study's space and (``with_data``) its dataset. The dataset recorded in the study is loaded only when it
    is built in or a file: a ``module:function`` there would run code a study file names (``--data`` runs it).
    Without data the space comes from the shapes the study recorded."""
    from nas_edge.evaluate import DataError, load_data
    from nas_edge.spaces import SpaceError, create_space

    meta = study.user_attrs.get("nas_edge") or {}
    data = None
    if with_data or not meta.get("space_config"):
        if data_spec is None and "data" in meta and meta["data"] is None:  # e.g. accuracy from the bench tables
            evaluator = (meta.get("evaluator") or {}).get("name", "train")
            raise ExportError(f"the search used no dataset (its model metrics came from the {evaluator!r} "
                              "evaluator); the export trains the network: pass the data to train it on with --data")
        spec = data_spec if data_spec is not None else (meta.get("data") or {}).get("name", "digits")
        try:
            data = load_data(spec, run_code=data_spec is not None)
        except DataError as exc:
            raise ExportError(f"dataset for the export: {exc}") from None
    name = meta.get("space") or arch_dict.get("space")
    try:
        options = dict(meta.get("space_config") or (data.space_kwargs() if data is not None else {}))
        if options.get("vocab_size") is None:
            options.pop("vocab_size", None)
        space = create_space(str(name), **options)
    except SpaceError as exc:
        raise ExportError(f"cannot recreate the search space: {exc}") from None
    want = tuple(int(v) for v in getattr(space, "input_shape", ()))
    if data is not None and want and tuple(data.input_shape) != want:
        raise ExportError(f"the dataset {data.name!r} has inputs {tuple(data.input_shape)}, the study's space "
                          f"expects {want}; pass the study's dataset with --data")
    return space, data


def _trial_profile(study: Any, trial: Any) -> tuple[Any | None, list[str]]:
    from nas_edge.hardware import load_profile
    from nas_edge.spaces import HardwareChoice, HardwareSpace

    meta = study.user_attrs.get("nas_edge") or {}
    hw = trial.user_attrs.get("hardware") or {}
    try:
        if meta.get("search") and hw.get("space") == "hardware":
            choice = HardwareChoice.from_dict({k: v for k, v in hw.items() if k != "profile"})
            return HardwareSpace(**meta["search"]).profile(choice), []
        ref = meta.get("hardware") or hw.get("profile")
        if not ref:
            return None, ["the trial records no hardware profile; its cost table is missing"]
        profile = load_profile(ref)
        from nas_edge.search.hardware_cost import profile_sha256

        if meta.get("hardware_sha256") not in (None, profile_sha256(profile)):
            return profile, [f"the hardware profile {ref!r} changed since the search: its cost table is of the "
                             "profile as it is now"]
        return profile, []
    except Exception as exc:  # a moved profile file should not stop the export: the other profiles still run
        return None, [f"the trial's hardware profile could not be loaded ({str(exc).splitlines()[0]}); "
                      "its cost table is missing"]


def rebuild(study: Any, trial: Any, *, data: Any | None = None, with_data: bool = True) -> Rebuilt:
    """Architecture, space, dataset (unless ``with_data`` is false: a report needs none) and hardware of
    ``trial``; checks the architecture against the stored cost."""
    from nas_edge.spaces import Architecture, SpaceError

    arch_dict = trial.user_attrs.get("arch")
    if not isinstance(arch_dict, Mapping):
        raise TrialSelectionError(f"trial {trial.number} has no stored architecture (user attribute 'arch'); "
                                  "export works on studies run with nas_edge.Objective / nas-edge search")
    try:
        arch = Architecture.from_dict(arch_dict)
    except SpaceError as exc:
        raise TrialSelectionError(f"trial {trial.number}: stored architecture cannot be read: {exc}") from None
    space, dataset = _space_and_data(study, arch_dict, data, with_data=with_data)
    try:
        workload = space.layers(arch)
    except SpaceError as exc:
        raise TrialSelectionError(f"trial {trial.number}: architecture does not fit the study's space: {exc}") from None
    cost = trial.user_attrs.get("cost") or {}
    checks = {"macs_stored": cost.get("macs"), "macs_rebuilt": workload.total_macs,
              "params_stored": cost.get("params"), "params_rebuilt": workload.total_params}
    for key in ("macs", "params"):
        stored, now = checks[f"{key}_stored"], checks[f"{key}_rebuilt"]
        if stored is not None and abs(float(stored) - now) > 1e-6 * max(1.0, abs(now)):
            raise TrialSelectionError(f"trial {trial.number}: the rebuilt architecture has {now:.0f} {key}, the "
                                      f"search stored {float(stored):.0f}: the space options differ from the search's")
    checks["match"] = True
    profile, warnings = _trial_profile(study, trial)
    names = objective_names(study)
    values = list(trial.values or [])
    analog = {n: v for n, v in zip(names, values, strict=False) if n.startswith("analog")}
    for k, v in trial.user_attrs.items():
        if k.startswith("analog"):
            analog[k] = v
    evaluation = trial.user_attrs.get("evaluation") or {}
    if "skipped" in evaluation:
        warnings.append(f"the search skipped this trial's training ({evaluation['skipped']})")
    if not feasible(trial):
        warnings.append("the trial breaks a constraint of the study (it is not on the feasible front)")
    source = {
        "kind": "trial", "study": study.study_name, "trial": trial.number, "state": trial.state.name,
        "objectives": names, "directions": [d.name.lower() for d in study.directions], "values": values,
        "params": dict(trial.params), "space": space.name, "space_config": space.config(),
        "architecture": dict(arch_dict), "architecture_summary": arch.summary(),
        "hardware": trial.user_attrs.get("hardware"), "hardware_name": getattr(profile, "name", None),
        "cost": cost, "evaluation": evaluation, "feasible": feasible(trial),
        "search_accuracy": values[names.index("accuracy")] if "accuracy" in names and values else None,
        "analog": analog or None, "rebuild_check": checks, "warnings": warnings,
    }
    training = (study.user_attrs.get("nas_edge") or {}).get("training")
    return Rebuilt(trial=trial, space=space, arch=arch, data=dataset, profile=profile, source=source,
                   analytic_macs=workload.total_macs, warnings=warnings,
                   training=dict(training) if isinstance(training, Mapping) else None)


def default_epochs(trial: Any) -> int:
    """The search's epochs for this trial (``evaluation.epochs``), else the training default."""
    from nas_edge.evaluate import TrainConfig

    ev = trial.user_attrs.get("evaluation") or {}
    epochs = ev.get("epochs") if ev.get("mode") == "train" else None
    return int(epochs) if isinstance(epochs, int) and epochs > 0 else TrainConfig().epochs


def train_config(rb: Rebuilt, epochs: int | None, seed: int) -> Any:
    """The search's training options (batch size, learning rate ...) with the export's epochs and seed."""
    from nas_edge.evaluate import TrainConfig

    stored = {k: v for k, v in (rb.training or {}).items()
              if k in ("batch_size", "lr", "weight_decay", "max_train_samples")}
    try:
        return TrainConfig(**stored, epochs=epochs or default_epochs(rb.trial), seed=seed)
    except (TypeError, ValueError) as exc:
        raise ExportError(f"the study's training options cannot be used: {exc}") from None


def export_trial(rb: Rebuilt, folder: Path, *, options: ExportOptions, epochs: int | None, seed: int,
                 build: Callable[[Any, Any], Any] | None = None) -> dict[str, Any]:
    """Build (seeded), train and export one rebuilt trial into ``folder``; return its record."""
    import torch

    from nas_edge.export.pipeline import export_into

    torch.manual_seed(seed)
    model = (build or (lambda space, arch: space.build(arch)))(rb.space, rb.arch)
    train = train_config(rb, epochs, seed)
    record = export_into(model, rb.data, folder, options=options, train=train, source=rb.source,
                         trial_hardware=rb.profile, analytic_macs=rb.analytic_macs)
    record["warnings"] = list(rb.warnings)
    return record


@dataclass
class StudyExport:
    """The result of :func:`export_study`: the exports and the study report's files."""

    out: Path
    exports: list[ExportResult]
    report: list[Path]

    @property
    def html(self) -> Path:
        return self.out / "report.html"


def export_study(
    storage: str,
    study_name: str,
    out: str | Path,
    *,
    trial: int | None = None,
    pareto: bool = False,
    best: str | None = None,
    epochs: int | None = None,
    seed: int = 0,
    data: Any | None = None,
    options: ExportOptions | None = None,
    progress: Progress | None = None,
    build: Callable[[Any, Any], Any] | None = None,
) -> StudyExport:
    """Export the chosen trials of a study to ``out/trial-N/`` and write the study report ``out/report.*``.

    Everything is checked (study, trials, architectures, output folder) before any training. Exports are staged
    and only moved into place when all of them passed: on any failure nothing new appears under ``out``.
    ``build(space, arch)`` replaces ``space.build`` (tests, custom modules).
    """
    from nas_edge.export.report import write_export_report

    options = options or ExportOptions()
    say = progress or (lambda _msg: None)
    study = load_study(storage, study_name)
    chosen = select_trials(study, trial=trial, pareto=pareto, best=best)
    rebuilt = [rebuild(study, t, data=data) for t in chosen]
    if epochs is not None and epochs < 1:
        raise ExportError(f"--epochs must be at least 1, got {epochs}")
    out = ensure_writable(Path(out))
    for rb in rebuilt:  # a file of the user's in the way is refused before any training
        check_replaceable(out / f"trial-{rb.trial.number}")
    results: list[ExportResult] = []
    with staging(out) as tmp:
        staged = []
        for i, rb in enumerate(rebuilt):
            n = rb.trial.number
            say(f"[{i + 1}/{len(rebuilt)}] trial {n}: {rb.source['architecture_summary']} — training "
                f"{epochs or default_epochs(rb.trial)} epochs, exporting")
            t0 = time.perf_counter()
            folder = tmp / f"trial-{n}"
            folder.mkdir()
            record = export_trial(rb, folder, options=options, epochs=epochs, seed=seed, build=build)
            record["name"] = f"trial-{n}"
            record["source"]["storage"] = redact(storage)
            write_export_report(folder, record)
            staged.append((folder, record))
            say(f"      accuracy {record['accuracy']['onnx_fp32']:.4f}, parity "
                f"{record['verification']['parity']['max_abs_diff']:.1e}, ORT p50 "
                f"{record['latency']['ort_fp32']['p50_ms']:.3f} ms ({time.perf_counter() - t0:.1f} s)")
        for folder, record in staged:
            final = publish(folder, out / folder.name)
            results.append(ExportResult(name=folder.name, dir=final, record=record,
                                        files=[f["file"] for f in record["files"]]))
    paths = study_report(storage, study_name, out, study=study, rerender=False)
    return StudyExport(out=out, exports=results, report=paths)


def _existing_exports(out: Path, study_name: str) -> list[dict[str, Any]]:
    import json

    found = []
    for p in sorted(out.glob("trial-*/report.json")):
        try:
            rec = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        src = rec.get("source") or {}
        if rec.get("schema") == EXPORT_SCHEMA_ID and src.get("study") == study_name:
            found.append(rec)
    return sorted(found, key=lambda r: r["source"]["trial"])


def study_record(study: Any, exports: Sequence[Mapping[str, Any]], *, out: Path, storage: str,
                 chosen: Sequence[int] | None = None, hardware: Sequence[Any] = ()) -> dict[str, Any]:
    """The study report's record (schema :data:`~nas_edge.export.report.STUDY_SCHEMA_ID`)."""
    from collections import Counter

    from nas_edge.export.report import export_summary, summary_rows

    names = objective_names(study)
    trials = study.get_trials(deepcopy=False)
    pareto = sorted(t.number for t in study.best_trials) if trials else []
    exported = [int(r["source"]["trial"]) for r in exports]
    chosen = sorted(set(chosen if chosen is not None else exported) | set(exported))
    rows = []
    for t in trials:
        arch = t.user_attrs.get("arch")
        summary = None
        if isinstance(arch, Mapping):
            try:
                from nas_edge.spaces import Architecture

                summary = Architecture.from_dict(arch).summary()
            except Exception:
                summary = None
        rows.append({"number": t.number, "state": t.state.name, "values": list(t.values) if t.values else [],
                     "feasible": feasible(t), "params": dict(t.params), "architecture_summary": summary,
                     "hardware": t.user_attrs.get("hardware")})
    export_entries = []
    for r in exports:
        export_entries.append({
            "trial": int(r["source"]["trial"]), "dir": f"trial-{r['source']['trial']}",
            "summary": export_summary(r), "key_figures": summary_rows(r),
            "hardware": [{k: h[k] for k in ("name", "kind", "source", "profile", "totals", "layers")}
                         for h in r.get("hardware", [])],
        })
    analytic = []
    by_number = {t.number: t for t in trials}
    for n in chosen:
        if n in exported or n not in by_number:
            continue
        entry = _analytic_cost(study, by_number[n], hardware)
        if entry is not None:
            analytic.append({"trial": n, "cost": entry})
    return {
        "schema": STUDY_SCHEMA_ID, "version": SCHEMA_VERSION, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "study": {"name": study.study_name, "storage": redact(storage), "objectives": names,
                  "directions": [d.name.lower() for d in study.directions], "n_trials": len(trials),
                  "states": dict(Counter(t.state.name for t in trials)),
                  "search": study.user_attrs.get("nas_edge")},
        "trials": rows, "pareto": pareto, "chosen": chosen, "exports": export_entries, "analytic": analytic,
        "out": str(out),
    }


def _analytic_cost(study: Any, trial: Any, hardware: Sequence[Any]) -> dict[str, Any] | None:
    """IMC mapping of a trial from the space's analytic workload (no torch), on its own profile."""
    from nas_edge.export.pipeline import cost_entry

    try:
        rb = rebuild(study, trial, with_data=False)
    except ExportError:
        return None
    profile = rb.profile if rb.profile is not None else (hardware[0] if hardware else None)
    if profile is None:
        return None
    return cost_entry(rb.space.layers(rb.arch), profile, "trial (analytic)")


def study_report(
    storage: str,
    study_name: str,
    out: str | Path,
    *,
    chosen: Sequence[int] | None = None,
    hardware: Sequence[Any] = (),
    study: Any | None = None,
    rerender: bool = True,
) -> list[Path]:
    """(Re)generate the study report in ``out`` from the study and the exports found in ``out/trial-*``.

    Trials in ``chosen`` without an export get the analytic per-layer mapping; with ``rerender`` each export's
    ``report.md``/``report.html`` is rendered again from its ``report.json``.
    """
    from nas_edge.export.report import write_export_report, write_study_report

    study = study or load_study(storage, study_name)
    out = ensure_writable(Path(out))
    if chosen is not None:
        known = {t.number for t in study.get_trials(deepcopy=False)}
        missing = sorted(set(chosen) - known)
        if missing:
            raise TrialSelectionError(f"study {study_name!r} has no trial {missing[0]}")
    exports = _existing_exports(out, study_name)
    if rerender:
        for rec in exports:
            write_export_report(out / f"trial-{rec['source']['trial']}", rec)
    if chosen is None and not exports:
        try:
            chosen = [t.number for t in select_trials(study)]
        except TrialSelectionError:  # nothing finished yet: the report still shows the trials
            chosen = []
    record = study_record(study, exports, out=out, storage=storage, chosen=chosen, hardware=hardware)
    return write_study_report(out, record)


__all__ = ["Rebuilt", "StudyExport", "export_study", "load_study", "rebuild", "select_trials", "study_record",
           "study_report"]
