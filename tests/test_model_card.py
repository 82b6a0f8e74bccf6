"""The model card (qml_ops.model_card): what a registry version's description says."""

from qml_ops import model_card

TRAIN = {"model_name": "qcnn", "version": "7", "train_run_id": "abc123",
         "data": {"source": "sklearn:digits", "classes": ["0", "1"],
                  "counts": {"train": {"0": 115, "1": 119}, "val": {"0": 27, "1": 27}, "test": {"0": 36, "1": 36}},
                  "md5": {"data/prepared": "1111.dir", "data/encoded": "2222.dir"}},
         "encoding": "angle", "n_qubits": 8, "ansatz": 9, "n_weights": 51, "loss": "mse", "optimizer": "adam",
         "lr": 0.0115, "batch_size": 16, "best_epoch": 8, "epochs_run": 10, "val_accuracy": 1.0, "used_tuned": True,
         "aliases": {"candidate": "set by the `train` stage: the newest trained version"}}
EVALUATE = {"test_accuracy": 1.0, "test_accuracy_ci_low": 0.9493, "test_accuracy_ci_high": 1.0, "n_test": 72,
            "shots": 1024, "shot_seeds": 5, "test_accuracy_shots_mean": 0.997, "test_accuracy_shots_std": 0.003,
            "baselines": {"logreg": {"test_accuracy": 1.0, "test_accuracy_ci_low": 0.9493,
                                     "test_accuracy_ci_high": 1.0, "n_params": 9}}}


def row(run, backend, verdict, summary=""):
    return {"run": run, "backend": backend, "profile_date": "2026-05-05" if backend != "simulator" else "n/a",
            "accuracy": 0.9861, "accuracy_ci_low": 0.9254, "accuracy_ci_high": 0.9975, "sim2real_gap": 0.0139,
            "sim2real_gap_ci_low": -0.038, "sim2real_gap_ci_high": 0.0746, "cost_per_inference_usd": 0.0097,
            "two_qubit_gates": 67, "depth": 120, "n_samples": 72, "shots": 512, "verdict": verdict,
            "verdict_summary": summary}


HARDWARE = {"mode": "emulate", "n_samples": 72, "shots": 512, "run_id": "hw1",
            "gate_limits": {"max_gap": 0.1, "min_accuracy": 0.9, "max_cost_per_inference_usd": 2.0},
            "rows": [row("simulator", "simulator", "reference"), row("iqm-garnet", "emulator", "pass"),
                     row("ionq-forte-enterprise-1", "emulator", "inconclusive", "inconclusive (more samples "
                         "needed): accuracy 0.9306: its 95% interval [0.8475, 0.9700] straddles min_accuracy 0.9")],
            "aliases": {"emulator-validated": "set by the `hardware` stage (calibrated emulators): iqm-garnet passed"}}


def test_card_holds_data_model_simulator_baselines_devices_and_aliases():
    card = model_card.render({"train": TRAIN, "evaluate": EVALUATE, "hardware": HARDWARE},
                             aliases=["candidate", "emulator-validated"])
    assert card.startswith("# qcnn, version 7\n")
    assert "sklearn:digits, classes 0 vs 1" in card and "train 234, val 54, test 72" in card
    assert "`data/prepared` 1111.dir" in card and "`data/encoded` 2222.dir" in card
    assert "angle on 8 qubits" in card and "convolution ansatz 9" in card and "51 weights" in card
    assert "| QCNN, exact simulator | 1.0000 [0.9493, 1.0000] |" in card
    assert "| logreg (classical, 9 params) | 1.0000 [0.9493, 1.0000] |" in card
    # one table row per run: accuracy [interval], gap [interval], cost, 2q gates, depth, profile date, kind, verdict
    assert ("| iqm-garnet | 0.9861 [0.9254, 0.9975] | +0.0139 [-0.0380, +0.0746] | $0.0097 | 67 | 120 | "
            "2026-05-05 | emulated | pass |") in card
    assert "| simulator | 0.9861" in card and "| ionq-forte-enterprise-1 |" in card
    assert "straddles min_accuracy 0.9" in card  # why it did not pass
    assert "| `candidate` | set by the `train` stage" in card
    assert "| `emulator-validated` | set by the `hardware` stage" in card
    assert len(card) <= model_card.MAX_CHARS


def test_card_before_hardware_and_after_an_alias_moved():
    card = model_card.render({"train": TRAIN, "evaluate": EVALUATE}, aliases=[])
    assert "Not validated yet" in card and "This version holds no alias." in card
    assert "Held before and since moved to another version: `candidate`." in card
    assert "`hand-picked` | set outside the pipeline" in model_card.render({"train": TRAIN}, aliases=["hand-picked"])


def test_card_fits_the_registry_column_with_many_devices():
    rows = [row(f"device-{i:02d}", "emulator", "fail", "fail: " + "x" * 300) for i in range(30)]
    card = model_card.render({"train": TRAIN, "evaluate": EVALUATE, "hardware": {**HARDWARE, "rows": rows}},
                             aliases=["candidate"])
    assert len(card) <= model_card.MAX_CHARS


def test_alias_policy_names_the_three_aliases_in_order():
    policy = model_card.ALIAS_POLICY
    assert policy.index("`candidate`") < policy.index("`emulator-validated`") < policy.index("`hardware-validated`")
    assert "inconclusive" in policy.lower()


def test_card_shows_each_devices_predicted_band_and_whether_the_run_fell_inside():
    banded = {**row("iqm-garnet", "qpu", "pass"), "predicted_accuracy_low": 0.9, "predicted_accuracy_high": 1.0,
              "predicted_gap_low": -0.0139, "predicted_gap_high": 0.0861, "band_covered": 1, "band_coverage_rate": 0.5}
    card = model_card.render({"hardware": {**HARDWARE, "mode": "qpu", "rows": [row("simulator", "simulator",
                                                                                  "reference"), banded]}})
    assert ("- iqm-garnet: accuracy [0.900, 1.000], gap [-0.014, +0.086]; measured inside; QPU coverage so far 0.50"
            in card)
    assert "Predicted before running" not in model_card.render({"hardware": HARDWARE})
