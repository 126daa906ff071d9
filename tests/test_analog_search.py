"""The analog objectives inside a search: registration, the start-of-search profile check (the bad-input
rule), a trial that trains and scores on the simulated chip, co-searched ADC bits, and the CLI."""

from __future__ import annotations

import optuna
import pytest

from nas_edge.analog import ANALOG_OBJECTIVES, AnalogConfigError, check_analog_objectives, missing_noise_fields
from nas_edge.analog.objective import AnalogOptions
from nas_edge.hardware import load_profile, profile_from_dict
from nas_edge.search import MODEL_METRICS, OBJECTIVES, Objective, SearchError

optuna.logging.set_verbosity(optuna.logging.WARNING)

SMALL_CNN = {"stages": 2, "max_depth": 1, "widths": [[8], [16]], "stem_widths": [8], "resolutions": [8]}
QUICK = {"epochs": 1, "max_train_samples": 256, "batch_size": 128}


def _pcm_without(*fields: str, name: str = "pcm-partial"):
    base = load_profile("pcm-aihwkit-14nm").model_dump(exclude_unset=True)
    base["noise"] = {k: v for k, v in base["noise"].items() if k not in fields}
    base.update(name=name)
    return profile_from_dict(base)


def test_objectives_are_registered_as_model_metrics():
    for name in ("analog_accuracy", "analog_accuracy_1h", "analog_accuracy_1d", "analog_accuracy_1m"):
        assert name in ANALOG_OBJECTIVES and OBJECTIVES[name] == "maximize" and name in MODEL_METRICS
    assert ANALOG_OBJECTIVES["analog_accuracy_1d"] == 86400.0


def test_profile_without_noise_is_refused_naming_the_missing_fields():
    with pytest.raises(SearchError) as err:
        Objective("cnn", "neurosim-rram-22nm", "digits", objectives=["analog_accuracy_1d", "energy_uj"])
    msg = str(err.value)
    for field in ("noise.programming_noise", "noise.read_noise_sigma", "noise.drift_nu"):
        assert field in msg
    assert "neurosim-rram-22nm" in msg


def test_only_the_fields_an_objective_needs_are_demanded():
    no_drift = _pcm_without("drift_nu", "drift_nu_std")
    assert missing_noise_fields(no_drift, ["analog_accuracy"]) == {}
    assert missing_noise_fields(no_drift, ["analog_accuracy_1h", "analog_accuracy"]) == {
        "analog_accuracy_1h": ["noise.drift_nu"]}
    with pytest.raises(AnalogConfigError, match=r"missing noise\.drift_nu \(analog_accuracy_1m needs"):
        check_analog_objectives(no_drift, ["analog_accuracy", "analog_accuracy_1m"])
    Objective("cnn", no_drift, "digits", objectives=["analog_accuracy", "energy_uj"])  # accepted
    no_read = _pcm_without("read_noise_sigma")
    with pytest.raises(SearchError, match=r"noise\.read_noise_sigma"):
        Objective("cnn", no_read, "digits", objectives=["analog_accuracy"])
    gauss = profile_from_dict({"base": "neurosim-rram-22nm", "name": "g", "provenance": "test",
                               "noise": {"programming_noise": "gaussian", "read_noise_sigma": 0.0}})
    with pytest.raises(SearchError, match=r"noise\.programming_sigma"):
        Objective("cnn", gauss, "digits", objectives=["analog_accuracy"])
    # a digital profile cannot host analog objectives; non-analog objectives need no noise at all
    with pytest.raises(SearchError, match="IMC profile"):
        Objective("cnn", "mobile-cpu-a78", "digits", objectives=["analog_accuracy"])
    Objective("cnn", "neurosim-rram-22nm", "digits", objectives=["accuracy", "energy_uj"])


def test_bad_analog_options_are_search_errors():
    with pytest.raises(SearchError, match="repeats"):
        Objective("cnn", "pcm-aihwkit-14nm", "digits", objectives=["analog_accuracy"], analog={"repeats": 0})
    with pytest.raises(SearchError, match="unknown simulation settings"):
        Objective("cnn", "pcm-aihwkit-14nm", "digits", objectives=["analog_accuracy"], analog={"adc_bitz": 3})
    opts = AnalogOptions.coerce({"hwa": {"noise_scale": 2.0}, "adc_percentile": 99.9, "repeats": 2})
    assert opts.hwa is not None and opts.hwa.noise_scale == 2.0 and opts.overrides == {"adc_percentile": 99.9}


def test_a_trial_trains_once_and_scores_on_the_chip():
    obj = Objective("cnn", "pcm-aihwkit-14nm", "digits", space_options=SMALL_CNN, training=QUICK,
                    objectives=["accuracy", "analog_accuracy", "analog_accuracy_1m", "energy_uj"],
                    analog={"repeats": 2, "hwa": True})
    study = obj.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(obj, n_trials=1)
    t = study.trials[0]
    acc, a1s, a1m, energy = t.values
    rec = t.user_attrs["analog"]
    assert rec["mode"] == "hwa" and rec["repeats"] == 2 and rec["times_s"] == [1.0, 30 * 86400.0]
    assert acc == pytest.approx(rec["digital_accuracy"], abs=1e-6)  # one training serves both objectives
    assert (a1s, a1m) == (pytest.approx(rec["mean"][0], abs=1e-6), pytest.approx(rec["mean"][1], abs=1e-6))
    assert 0.0 <= a1m <= 1.0 and 0.0 <= a1s <= 1.0 and energy > 0
    assert t.user_attrs["evaluation"]["mode"] == "hwa"
    assert obj.describe()["analog"]["hwa"]["noise_scale"] == 1.0


def test_co_searched_adc_bits_reach_the_simulation():
    """With hardware co-search the trial's own profile (its ADC bits) is simulated: 3 bits costs accuracy."""
    from nas_edge.spaces import HardwareSpace

    accs = {}
    for bits in (3, 8):
        space = HardwareSpace(base="pcm-aihwkit-14nm", rows=(256,), cols=(256,), cell_bits=(4,), adc_bits=(bits,),
                              cols_per_adc=(1,), rows_parallel_div=(1,))
        obj = Objective("cnn", "pcm-aihwkit-14nm", "digits", space_options=SMALL_CNN,
                        training={"epochs": 4}, objectives=["analog_accuracy"], hardware_search=space,
                        analog={"repeats": 1, "programming_noise": "none", "read_noise_sigma": 0.0})
        study = obj.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        study.optimize(obj, n_trials=1)
        t = study.trials[0]
        assert t.user_attrs["analog"]["profile"].endswith(f"adc{bits}-m1-p256")
        accs[bits] = t.value
    assert accs[8] > 0.9 and accs[8] > accs[3] + 0.2, accs


def test_cli_refuses_a_profile_without_noise(tmp_path):
    from typer.testing import CliRunner

    from nas_edge.cli import app

    result = CliRunner().invoke(app, ["search", "--hardware", "neurosim-rram-22nm", "--objectives",
                                      "analog_accuracy_1d,energy_uj", "--storage",
                                      f"sqlite:///{tmp_path / 's.db'}", "--trials", "1", "--no-progress"])
    assert result.exit_code == 1
    assert "noise.drift_nu" in result.stderr and "noise.programming_noise" in result.stderr
    assert not (tmp_path / "s.db").exists()  # refused before the study was touched
