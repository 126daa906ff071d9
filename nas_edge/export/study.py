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

from nas_edge._progress import listening
from nas_edge.errors import first_line, mask_credentials
from nas_edge.export._files import check_replaceable, ensure_writable, publish, staging
from nas_edge.export.errors import ExportError, TrialSelectionError
from nas_edge.export.pipeline import ExportOptions, ExportResult
from nas_edge.export.report import EXPORT_SCHEMA_ID, SCHEMA_VERSION, STUDY_SCHEMA_ID
from nas_edge.search.constraints import trial_feasible as feasible
from nas_edge.search.trace import TRACE_ATTR, Trace

Progress = Callable[[str], None]


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
        raise TrialSelectionError(f"no study {study_name!r} in {mask_credentials(str(url))}; studies there: "
                                  f"{', '.join(names) or 'none'}") from None


def objective_names(study: Any) -> list[str]:
    names = study.metric_names or (study.user_attrs.get("nas_edge") or {}).get("objectives")
    return list(names) if names and len(names) == len(study.directions) else [
        f"objective {i}" for i in range(len(study.directions))]


def select_trials(study: Any, *, trial: int | None = None, pareto: bool = False, best: str | None = None,
                  min_accuracy: float | str | None = None, skipped: dict[int, str] | None = None) -> list[Any]:
    """The trials to export: trial number ``trial``, the feasible Pareto front, or the best feasible trial on
    the objective ``best``. With none given: the Pareto front.

    ``min_accuracy`` (see :func:`accuracy_floor`) leaves out trials below it: from the front (their numbers and
    reasons go into ``skipped``), from the candidates of ``best``; a ``trial`` below it is refused."""
    from optuna.trial import TrialState

    if sum(x is not None and x is not False for x in (trial, best, pareto or None)) > 1:
        raise TrialSelectionError("choose one of trial=, pareto=, best=").for_cli(
            "choose one of --trial, --pareto, --best")
    floor = accuracy_floor(study, min_accuracy)
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
        low = below_floor(study, [found], floor)
        if low:
            raise TrialSelectionError(f"trial {trial}: {low[trial]}; pass min_accuracy=0 to export it anyway").for_cli(
                f"trial {trial}: {low[trial]}; pass --min-accuracy 0 to export it anyway")
        return [found]
    done = [t for t in trials if t.state == TrialState.COMPLETE and feasible(t)]
    if not done:
        raise TrialSelectionError(f"study {study.study_name!r} has no completed feasible trial to export")
    low = below_floor(study, done, floor)
    if len(low) == len(done):
        name, limit, why = floor or ("", 0.0, "")
        raise TrialSelectionError(f"no feasible trial of study {study.study_name!r} reaches {name} {limit:.4f} "
                                  f"({why})")
    if best is not None:
        names = objective_names(study)
        if best not in names:
            raise TrialSelectionError(f"study {study.study_name!r} has no objective {best!r}; its objectives: "
                                      f"{', '.join(names)}")
        i = names.index(best)
        sign = 1.0 if study.directions[i].name == "MAXIMIZE" else -1.0
        return [max((t for t in done if t.number not in low), key=lambda t: (sign * t.values[i], -t.number))]
    front = sorted(study.best_trials, key=lambda t: t.number)
    if skipped is not None:
        skipped.update({n: r for n, r in low.items() if n in {t.number for t in front}})
    kept = [t for t in front if t.number not in low]
    if not kept:
        raise TrialSelectionError(f"every trial on the Pareto front of study {study.study_name!r} is below the "
                                  f"accuracy limit: {'; '.join(f'#{n}: {r}' for n, r in low.items())}")
    return kept


CHANCE = "chance"
"""``min_accuracy`` default: refuse models no better than guessing (see :func:`accuracy_floor`)."""
CHANCE_MARGIN = 0.1
"""A model is at chance level below ``chance + CHANCE_MARGIN * (1 - chance)``, chance = 1 / classes (0.19 for
ten classes, 0.55 for two)."""


def accuracy_floor(study: Any, min_accuracy: float | str | None = CHANCE) -> tuple[str, float, str] | None:
    """(objective, limit, why) that exported trials must reach, or ``None`` when nothing is checked.

    The objective is ``accuracy`` (else the study's first ``analog_accuracy*``). ``min_accuracy``:
    :data:`CHANCE` (the default: skipped where the study has no accuracy objective or does not record its
    number of classes), a number in [0, 1], or ``None`` (no limit).
    """
    if min_accuracy is None:
        return None
    names = objective_names(study)
    acc = "accuracy" if "accuracy" in names else next((n for n in names if n.startswith("analog_accuracy")), None)
    if min_accuracy == CHANCE:
        classes = ((study.user_attrs.get("nas_edge") or {}).get("data") or {}).get("num_classes")
        if acc is None or not isinstance(classes, int) or classes < 2:
            return None
        chance = 1.0 / classes
        limit = chance + CHANCE_MARGIN * (1.0 - chance)
        return acc, limit, f"chance level for {classes} classes"
    if isinstance(min_accuracy, str) or not 0.0 <= float(min_accuracy) <= 1.0:
        raise TrialSelectionError(f"min_accuracy must be a number between 0 and 1, got {min_accuracy!r}")
    if acc is None:
        what = f"study {study.study_name!r} has no accuracy objective (its objectives: {', '.join(names)})"
        raise TrialSelectionError(f"min_accuracy: {what}").for_cli(f"--min-accuracy: {what}")
    return acc, float(min_accuracy), "the minimum asked for"


def below_floor(study: Any, trials: Sequence[Any], floor: tuple[str, float, str] | None) -> dict[int, str]:
    """``{trial number: reason}`` for the trials whose accuracy is below ``floor``."""
    if floor is None:
        return {}
    name, limit, why = floor
    i = objective_names(study).index(name)
    return {t.number: f"{name} {t.values[i]:.4f} < {limit:.4f} ({why})" for t in trials
            if t.values is not None and t.values[i] < limit}


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
    supernet: Any | None = None  # the SupernetScorer whose inherited weights the export starts from


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
        return None, [f"the trial's hardware profile could not be loaded ({first_line(exc)}); "
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
        "base_hardware": (study.user_attrs.get("nas_edge") or {}).get("hardware"),
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


def train_config(rb: Rebuilt, epochs: int | None, seed: int, device: str = "auto") -> Any:
    """The search's training options (batch size, learning rate ...) with the export's epochs, seed and device;
    a fine-tuning from a supernet normalises its inputs as the supernet did (its ``max_train_samples``)."""
    from nas_edge.evaluate import TrainConfig

    stored = {k: v for k, v in (rb.training or {}).items()
              if k in ("batch_size", "lr", "weight_decay", "max_train_samples")}
    if rb.supernet is not None:
        stored["max_train_samples"] = rb.supernet.train_limit
    try:
        return TrainConfig(**stored, epochs=epochs or default_epochs(rb.trial), seed=seed, device=device)
    except (TypeError, ValueError) as exc:
        raise ExportError(f"the study's training options cannot be used: {exc}") from None


def attach_supernets(study: Any, rebuilt: Sequence[Rebuilt], path: str | Path | None = None) -> None:
    """Give each trial the search scored with a supernet (``evaluation.mode == "supernet"``) the scorer of that
    supernet — ``path``, else the checkpoint the study recorded — checked against the trial's space and data
    (:class:`ExportError` before any training); each checkpoint is loaded once."""
    from nas_edge.supernet import SupernetError, SupernetScorer

    recorded = ((study.user_attrs.get("nas_edge") or {}).get("evaluator") or {}).get("checkpoint")
    scorers: dict[tuple[str, int], Any] = {}
    for rb in rebuilt:
        evaluation = rb.trial.user_attrs.get("evaluation") or {}
        if evaluation.get("mode") != "supernet":
            continue
        ckpt = str(path or recorded or evaluation.get("supernet"))
        calibration = int(evaluation.get("calibration_samples") or 256)
        try:
            if (ckpt, calibration) not in scorers:
                scorers[ckpt, calibration] = SupernetScorer(ckpt, device="cpu", calibration_samples=calibration,
                                                            threads=None)
            rb.supernet = scorers[ckpt, calibration]
            rb.supernet.check(space=rb.space, data=rb.data)
        except SupernetError as exc:
            raise ExportError(f"trial {rb.trial.number} starts from a supernet's weights: {exc} (give the "
                              "checkpoint with --supernet)") from None


def export_trial(rb: Rebuilt, folder: Path, *, options: ExportOptions, epochs: int | None, seed: int,
                 build: Callable[[Any, Any], Any] | None = None, finetune_epochs: int = 3,
                 device: str = "auto") -> dict[str, Any]:
    """Build (seeded), train and export one rebuilt trial into ``folder``; return its record. A trial with a
    supernet (:func:`attach_supernets`) starts from its inherited weights and trains ``finetune_epochs``."""
    import torch

    from nas_edge.export.pipeline import export_into

    torch.manual_seed(seed)
    start = None
    if rb.supernet is not None:
        model = rb.supernet.subnet(rb.arch, rb.data)
        start = {"from": "supernet", "checkpoint": str(rb.supernet.path),
                 "inherited_accuracy": rb.supernet(rb.arch, rb.data)["accuracy"]}
        epochs = finetune_epochs
    else:
        model = (build or (lambda space, arch: space.build(arch)))(rb.space, rb.arch)
    train = train_config(rb, epochs, seed, device)
    record = export_into(model, rb.data, folder, options=options, train=train, source=rb.source,
                         trial_hardware=rb.profile, analytic_macs=rb.analytic_macs)
    if start is not None:
        record["training"]["start"] = start
    record["warnings"] = list(rb.warnings)
    _mark_cosearched(record["hardware"], rb.trial.user_attrs.get("hardware"), "trial", rb.source.get("base_hardware"))
    return record


def _say(progress: Progress | bool | None) -> Progress:
    if progress is True:
        import sys

        return lambda msg: print(msg, file=sys.stderr, flush=True)
    if not progress:
        return lambda _msg: None
    return progress


def _training_plan(rb: Rebuilt, epochs: int | None, finetune_epochs: int) -> str:
    if rb.supernet is not None:
        return f"fine-tuning {finetune_epochs} epochs from the weights of {rb.supernet.path}"
    return f"training {epochs or default_epochs(rb.trial)} epochs"


@dataclass
class StudyExport:
    """The result of :func:`export_study`: the exports and the study report's files."""

    out: Path
    exports: list[ExportResult]
    report: list[Path]
    skipped: dict[int, str] = field(default_factory=dict)  # trials of the front left out, and why

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
    progress: Progress | bool | None = True,
    build: Callable[[Any, Any], Any] | None = None,
    min_accuracy: float | str | None = CHANCE,
    finetune_epochs: int = 3,
    supernet: str | Path | None = None,
    device: str = "auto",
) -> StudyExport:
    """Export the chosen trials of a study to ``out/trial-N/`` and write the study report ``out/report.*``.

    Everything is checked (study, trials, architectures, supernet checkpoints, output folder) before any
    training. Exports are staged and only moved into place when all of them passed: on any failure nothing new
    appears under ``out``. ``progress``: ``True`` (the default) prints what the command line prints (each trial,
    its epochs, its result) to stderr; a function receives those lines instead; ``False`` / ``None`` is silent.
    ``build(space, arch)`` replaces ``space.build`` (tests, custom modules). ``min_accuracy``: trials below it
    are not exported (default: those at chance level; see :func:`accuracy_floor`); the front's skipped trials
    are named in a warning and in :attr:`StudyExport.skipped`. A trial the search scored with a supernet starts
    from its inherited weights (the checkpoint ``supernet``, default the one the search used) and is fine-tuned
    for ``finetune_epochs``; the others are trained for ``epochs``. Training runs on ``device``.
    """
    from nas_edge.export.report import write_export_report

    options = options or ExportOptions()
    say = _say(progress)
    study = load_study(storage, study_name)
    skipped: dict[int, str] = {}
    chosen = select_trials(study, trial=trial, pareto=pareto, best=best, min_accuracy=min_accuracy,
                           skipped=skipped)
    for n, reason in skipped.items():
        say(f"warning: not exporting trial {n} of the Pareto front: {reason}")
    rebuilt = [rebuild(study, t, data=data) for t in chosen]
    if epochs is not None and epochs < 1:
        raise ExportError(f"epochs must be at least 1, got {epochs}").for_cli(
            f"--epochs must be at least 1, got {epochs}")
    if finetune_epochs < 1:
        raise ExportError(f"finetune_epochs must be at least 1, got {finetune_epochs}").for_cli(
            f"--finetune-epochs must be at least 1, got {finetune_epochs}")
    attach_supernets(study, rebuilt, supernet)
    out = ensure_writable(Path(out))
    for rb in rebuilt:  # a file of the user's in the way is refused before any training
        check_replaceable(out / f"trial-{rb.trial.number}")
    results: list[ExportResult] = []
    with staging(out) as tmp:
        staged = []
        for i, rb in enumerate(rebuilt):
            n = rb.trial.number
            say(f"[{i + 1}/{len(rebuilt)}] trial {n}: {rb.source['architecture_summary']} — "
                f"{_training_plan(rb, epochs, finetune_epochs)}, exporting")
            t0 = time.perf_counter()
            folder = tmp / f"trial-{n}"
            folder.mkdir()
            with listening(lambda step: say(f"      {step}")):  # the training's epochs, as they finish
                record = export_trial(rb, folder, options=options, epochs=epochs, seed=seed, build=build,
                                      finetune_epochs=finetune_epochs, device=device)
            record["name"] = f"trial-{n}"
            record["source"]["storage"] = mask_credentials(str(storage))
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
    return StudyExport(out=out, exports=results, report=paths, skipped=skipped)


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
    from nas_edge.search.hardware_cost import chip_summary
    from nas_edge.search.history import search_history

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
        hw = t.user_attrs.get("hardware")
        trace = Trace.from_attr(t.user_attrs.get(TRACE_ATTR))
        rows.append({"number": t.number, "state": t.state.name, "values": list(t.values) if t.values else [],
                     "feasible": feasible(t), "params": dict(t.params), "architecture_summary": summary,
                     "hardware": hw, "chip": chip_summary(hw) if isinstance(hw, Mapping) else None,
                     "trace": trace and trace.to_attr()})
    export_entries = []
    for r in exports:
        export_entries.append({
            "trial": int(r["source"]["trial"]), "dir": f"trial-{r['source']['trial']}",
            "summary": export_summary(r), "key_figures": summary_rows(r),
            "hardware": [{k: h[k] for k in ("name", "kind", "source", "profile", "totals", "layers", "chip")
                          if k in h} for h in r.get("hardware", [])],
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
        "study": {"name": study.study_name, "storage": mask_credentials(str(storage)), "objectives": names,
                  "directions": [d.name.lower() for d in study.directions], "n_trials": len(trials),
                  "states": dict(Counter(t.state.name for t in trials)),
                  "search": study.user_attrs.get("nas_edge")},
        "trials": rows, "pareto": pareto, "chosen": chosen, "exports": export_entries, "analytic": analytic,
        "history": search_history(study), "out": str(out),
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
    entry = cost_entry(rb.space.layers(rb.arch), profile, "trial (analytic)")
    _mark_cosearched([entry], trial.user_attrs.get("hardware"), "trial (analytic)",
                     (study.user_attrs.get("nas_edge") or {}).get("hardware"))
    return entry


def _mark_cosearched(entries: Sequence[dict[str, Any]], hw: Any, source: str, base: Any) -> None:
    """A co-searched chip's cost entry (``source``) gets its knobs (``chip``, from the trial's ``hardware``
    attribute) and ``base`` profile: the report shows those, not the base profile's description."""
    from nas_edge.search.hardware_cost import chip_summary

    if not isinstance(hw, Mapping) or hw.get("space") != "hardware":
        return
    for e in entries:
        if e.get("source") == source:
            e["chip"], e["base"] = chip_summary(hw), hw.get("base") or base


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
