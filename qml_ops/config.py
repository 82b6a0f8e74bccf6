"""The one place that reads and validates ``params.yaml``.

Every stage gets its section through :func:`load_params`; nothing else in the
project parses the file. Validation happens before any work: an unknown key, a
wrong type, an out-of-range value or an impossible combination raises
:class:`~qml_ops.errors.ConfigError` whose message names the key, the value and
what is allowed.

Example:
    >>> from qml_ops.config import load_params
    >>> params = load_params("params.yaml")      # doctest: +SKIP
    >>> params.encode.n_qubits                   # doctest: +SKIP
    8
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Optional, Sequence, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from qml_ops.circuits.ansatz import CONV_ANSATZE
from qml_ops.circuits.qcnn import ENCODINGS, N_QUBITS, QCNNSpec
from qml_ops.errors import ConfigError

DEFAULT_PARAMS = "params.yaml"

#: Feature width of the bundled datasets (known before any data is read).
BUILTIN_WIDTHS = {"digits": 64, "mnist": 784}
#: Qubit counts the QCNN layout supports (defined by the circuit: :data:`qml_ops.circuits.qcnn.N_QUBITS`).
QUBIT_COUNTS = N_QUBITS
#: Convolution ansatz ids (defined by the circuit: :data:`qml_ops.circuits.ansatz.CONV_ANSATZE`).
ANSATZ_IDS = tuple(sorted(CONV_ANSATZE))
#: Largest register for noise-aware training and emulated tuning (a 4^n operator, <= 13 emulated qubits).
NOISY_MAX_QUBITS = 8
#: The encodings the circuit can load (:data:`qml_ops.circuits.qcnn.ENCODINGS`).
Encoding = Literal[ENCODINGS]  # type: ignore[valid-type]


def _ids_text(ids: tuple[int, ...]) -> str:
    """``1..9`` for a contiguous range, else the list."""
    contiguous = list(ids) == list(range(ids[0], ids[-1] + 1))
    return f"{ids[0]}..{ids[-1]}" if contiguous else str(list(ids))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True)


class SplitParams(_Section):
    """Fractions of the data for each split; they must sum to 1."""

    train: float = Field(0.65, gt=0, lt=1)
    val: float = Field(0.15, gt=0, lt=1)
    test: float = Field(0.2, gt=0, lt=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> "SplitParams":
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-9:
            raise ValueError(
                f"train + val + test must sum to 1, got {self.train} + {self.val} + {self.test} = {total:g}"
            )
        return self


class PrepareParams(_Section):
    """Stage ``prepare``: which dataset, which two classes, how to split."""

    dataset: Literal["digits", "mnist", "file"] = "digits"
    path: Optional[str] = None
    label_column: str = "label"
    classes: list[Union[int, str]] = Field(default_factory=lambda: [0, 1])
    max_per_class: Optional[int] = Field(None, ge=1)
    split: SplitParams = Field(default_factory=SplitParams)
    seed: int = Field(0, ge=0)

    @field_validator("classes")
    @classmethod
    def _two_distinct(cls, value: list) -> list:
        if len(value) != 2:
            raise ValueError(f"exactly two classes are needed (binary classifier), got {len(value)}")
        if str(value[0]) == str(value[1]):
            raise ValueError(f"the two classes must differ, got {value[0]!r} twice")
        return value

    @model_validator(mode="after")
    def _path_matches_dataset(self) -> "PrepareParams":
        if self.dataset == "file" and not self.path:
            raise ValueError("dataset 'file' needs prepare.path (an .npz, a .csv or a folder of class sub-folders)")
        if self.dataset != "file" and self.path:
            raise ValueError(f"prepare.path is only used with dataset 'file', but dataset is {self.dataset!r}")
        if self.dataset in ("digits", "mnist"):
            for label in self.classes:
                if not (isinstance(label, int) and 0 <= label <= 9):
                    raise ValueError(f"dataset {self.dataset!r} has classes 0..9, got {label!r}")
        return self


class EncodeParams(_Section):
    """Stage ``encode``: the quantum encoding of the prepared samples."""

    method: Encoding = "angle"
    n_qubits: int = 8
    amplitude_mode: Literal["resize", "pad"] = "resize"

    @field_validator("n_qubits")
    @classmethod
    def _supported_qubits(cls, value: int) -> int:
        if value not in QUBIT_COUNTS:
            raise ValueError(f"must be one of {list(QUBIT_COUNTS)} (a power of two the QCNN layout supports)")
        return value

    def n_features(self) -> int:
        """Width of an encoded sample (what the circuit consumes; the ansatz does not change it)."""
        return QCNNSpec(n_qubits=self.n_qubits, ansatz=ANSATZ_IDS[0], encoding=self.method).n_features


class ModelParams(_Section):
    """The QCNN: convolution ansatz (Hur, Kim & Park 2022, Fig. 2: ids 1–9) and read-out/loss."""

    ansatz: int = Field(9, ge=min(ANSATZ_IDS), le=max(ANSATZ_IDS))
    loss: Literal["mse", "cross_entropy"] = "mse"

    @field_validator("ansatz")
    @classmethod
    def _known_ansatz(cls, value: int) -> int:
        if value not in ANSATZ_IDS:
            raise ValueError(f"must be one of the ansatz ids {_ids_text(ANSATZ_IDS)}")
        return value


class TrainParams(_Section):
    """Stage ``train``."""

    optimizer: Literal["adam", "nesterov"] = "adam"
    lr: float = Field(0.01, gt=0, le=1)
    momentum: float = Field(0.9, ge=0, lt=1)
    batch_size: int = Field(32, ge=1, le=100_000)
    epochs: int = Field(30, ge=1, le=10_000)
    patience: int = Field(10, ge=0)
    seed: int = Field(0, ge=0)
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    dtype: Literal["complex64", "complex128"] = "complex64"
    threads: int = Field(0, ge=0)
    use_tuned: bool = True
    registered_model: str = Field("qcnn", min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    noise_model: Optional[str] = Field(None, min_length=1)  # a device id: train through its calibrated noise


class BaselineParams(_Section):
    """Classical baselines trained on the same encoded features."""

    mlp_hidden: Optional[int] = Field(None, ge=1, le=4096)  # None: about the QCNN's parameter count
    max_iter: int = Field(2000, ge=10)


class EvaluateParams(_Section):
    """Stage ``evaluate``: exact and finite-shot accuracy on the test split."""

    shots: int = Field(1024, ge=1, le=1_000_000)
    shot_seeds: int = Field(5, ge=1, le=100)


class FloatRange(_Section):
    """A numeric search range: ``{low, high, log}``."""

    low: float
    high: float
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> "FloatRange":
        if not self.low < self.high:
            raise ValueError(f"low must be < high, got low={self.low:g}, high={self.high:g}")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs low > 0, got low={self.low:g}")
        return self


class TuneSpace(_Section):
    """The search space; a list is categorical, ``{low, high, log}`` a range."""

    ansatz: list[int] = Field(default_factory=lambda: list(ANSATZ_IDS), min_length=1)
    lr: FloatRange = Field(default_factory=lambda: FloatRange(low=0.003, high=0.1, log=True))
    batch_size: list[int] = Field(default_factory=lambda: [16, 32, 64], min_length=1)
    epochs: list[int] = Field(default_factory=lambda: [10, 20], min_length=1)
    optimizer: list[Literal["adam", "nesterov"]] = Field(default_factory=lambda: ["adam"], min_length=1)
    loss: list[Literal["mse", "cross_entropy"]] = Field(default_factory=lambda: ["mse"], min_length=1)

    @field_validator("ansatz")
    @classmethod
    def _ansatz_range(cls, value: list[int]) -> list[int]:
        bad = [a for a in value if a not in ANSATZ_IDS]
        if bad:
            raise ValueError(f"ansatz choices must be in {_ids_text(ANSATZ_IDS)}, got {bad}")
        return value

    @field_validator("batch_size", "epochs")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        bad = [v for v in value if v < 1]
        if bad:
            raise ValueError(f"choices must be >= 1, got {bad}")
        return value


#: Tuning objectives and their directions (``tune.objectives``).
OBJECTIVES: dict[str, str] = {
    "val_accuracy": "maximize",  # best-epoch accuracy on the validation split (simulator)
    "two_qubit_gates": "minimize",  # native two-qubit gates after compiling for the target device
    "emulated_accuracy": "maximize",  # the device's calibrated emulator on (a subsample of) the validation split
    "cost_per_inference_usd": "minimize",  # the device's price of one inference at hardware.shots
}
#: Objectives that are measured on a target device.
DEVICE_OBJECTIVES = ("two_qubit_gates", "emulated_accuracy", "cost_per_inference_usd")
Objective = Literal[tuple(OBJECTIVES)]  # type: ignore[valid-type]


class TuneSelect(_Section):
    """How a multi-objective study picks the trial ``train.use_tuned`` takes.

    Rules (on the Pareto front of the completed trials):

    * ``min_two_qubit_gates``: the fewest two-qubit gates among the trials whose
      validation accuracy is within ``tolerance`` of the best; ties go to the higher
      validation accuracy, then the lower validation loss, then the earlier trial;
    * ``max_val_accuracy``: the highest validation accuracy, ties to the lower
      validation loss (what a single-objective study picks);
    * ``max_emulated_accuracy``: the highest emulated accuracy, ties to fewer
      two-qubit gates, then the higher validation accuracy.
    """

    rule: Literal["min_two_qubit_gates", "max_val_accuracy", "max_emulated_accuracy"] = "min_two_qubit_gates"
    tolerance: float = Field(0.02, ge=0, le=1)


class TuneParams(_Section):
    """Stage ``tune``: Optuna search over the QCNN in simulation, optionally for a QPU."""

    study: str = Field("auto", min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    n_trials: int = Field(20, ge=1, le=100_000)
    timeout_s: Optional[float] = Field(None, gt=0)
    sampler: Literal["tpe", "random", "cmaes"] = "tpe"
    pruner: Literal["median", "hyperband", "none"] = "median"
    objectives: list[Objective] = Field(default_factory=lambda: ["val_accuracy"], min_length=1)
    target_devices: list[str] = Field(default_factory=lambda: ["rigetti-cepheus-1-108q"])
    emulation_samples: int = Field(64, ge=1, le=100_000)
    select: TuneSelect = Field(default_factory=TuneSelect)
    seed: int = Field(0, ge=0)
    storage: Optional[str] = None
    workers: int = Field(1, ge=1, le=256)
    space: TuneSpace = Field(default_factory=TuneSpace)

    @field_validator("storage")
    @classmethod
    def _storage_url(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not value.startswith(("sqlite:///", "postgresql", "mysql")):
            raise ValueError("must be null (a SQLite file under optuna/) or an RDB URL: sqlite:///…, postgresql://…")
        return value

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @model_validator(mode="after")
    def _combinations(self) -> "TuneParams":
        # Checks against the device catalogue (unknown or retired devices, qubits) are in
        # qml_ops.hardware.params_check (run by `qml-ops params check` and the tune stage).
        if len(set(self.objectives)) != len(self.objectives):
            raise _ComboError("tune.objectives", self.objectives, "an objective is listed twice")
        if len(set(self.target_devices)) != len(self.target_devices):
            raise _ComboError("tune.target_devices", self.target_devices, "a device is listed twice")
        if "local" in self.target_devices:
            raise _ComboError("tune.target_devices", self.target_devices,
                              "'local' is the noiseless simulator (no compilation, no noise); list QPUs")
        accuracies = [o for o in self.objectives if o in ("val_accuracy", "emulated_accuracy")]
        if not accuracies:
            raise _ComboError("tune.objectives", self.objectives,
                              "needs val_accuracy or emulated_accuracy (fewer gates or a lower price alone would "
                              "pick a model whatever its accuracy)")
        needs_device = [o for o in self.objectives if o in DEVICE_OBJECTIVES]
        if needs_device and not self.target_devices:
            raise _ComboError("tune.target_devices", self.target_devices,
                              f"objective(s) {needs_device} are measured on a target device: list at least one")
        if "cost_per_inference_usd" in self.objectives and len(self.target_devices) < 2:
            raise _ComboError(
                "tune.objectives", self.objectives,
                "cost_per_inference_usd depends on the device, not on the model: it needs two or more "
                "tune.target_devices (the device is then a tuned choice)",
            )
        if self.multi_objective and self.sampler == "cmaes":
            raise _ComboError("tune.sampler", self.sampler,
                              f"CMA-ES is single-objective; with {len(self.objectives)} objectives use 'tpe' "
                              "(multi-objective TPE) or 'random'")
        if self.select.rule == "max_emulated_accuracy" and "emulated_accuracy" not in self.objectives:
            raise _ComboError("tune.select.rule", self.select.rule,
                              "needs emulated_accuracy in tune.objectives")
        if self.select.rule == "min_two_qubit_gates" and self.multi_objective and not self.target_devices:
            raise _ComboError("tune.select.rule", self.select.rule,
                              "counts two-qubit gates on a target device: list one in tune.target_devices")
        return self


class PriceOverride(_Section):
    per_task: Optional[float] = Field(None, ge=0)
    per_shot: Optional[float] = Field(None, ge=0)


class HardwareGate(_Section):
    """When a device's result promotes the model version, judged on the 95% intervals
    (:mod:`qml_ops.hardware.verdict`): pass, fail or inconclusive."""

    max_gap: float = Field(0.1, ge=0, le=1)
    min_accuracy: float = Field(0.9, ge=0, le=1)
    max_cost_per_inference_usd: float = Field(2.0, ge=0)


class ZneParams(_Section):
    """Zero-noise extrapolation (:mod:`qml_ops.hardware.mitigation`): the compiled circuit
    folded globally to each scale factor, ⟨Z⟩ extrapolated to zero noise. Each factor is one
    more run of every sample (priced: executables and shots × the number of factors)."""

    enabled: bool = False
    scale_factors: list[int] = Field(default_factory=lambda: [1, 3, 5])

    @model_validator(mode="after")
    def _odd_increasing(self) -> "ZneParams":
        f = self.scale_factors
        if (len(f) < 2 or any(v < 1 or v % 2 == 0 for v in f) or f != sorted(set(f))):
            raise _ComboError("hardware.mitigation.zne.scale_factors", f,
                              "at least two odd integers >= 1, strictly increasing (e.g. [1, 3, 5]): "
                              "global folding G(G†G)^k scales the noise by 2k + 1")
        return self


class MitigationParams(_Section):
    """Error mitigation of the device's ⟨Z⟩ (:mod:`qml_ops.hardware.mitigation`)."""

    readout: Literal["profile", "calibration", "none"] = "profile"
    calibration_shots: int = Field(1000, ge=1)
    zne: ZneParams = Field(default_factory=ZneParams)


class HardwareParams(_Section):
    """Stage ``hardware``: the registered model on QPUs, or on calibrated emulators of them."""

    mode: Literal["emulate", "qpu", "off"] = "emulate"
    devices: list[str] = Field(
        default_factory=lambda: ["rigetti-cepheus-1-108q", "iqm-garnet", "iqm-emerald", "ionq-forte-enterprise-1"],
        min_length=1,
    )
    model_alias: str = Field("candidate", min_length=1)
    n_samples: int = Field(72, ge=1, le=100_000)
    shots: int = Field(512, ge=1)
    seed: int = Field(0, ge=0)
    emulator: Literal["torch", "braket"] = "torch"
    emulator_method: Literal["auto", "density_matrix", "trajectories"] = "auto"
    # defaults equal qml_ops.hardware.emulator.settings' (a test keeps them so; config imports no hardware)
    trajectories: int = Field(64, ge=2, le=100_000)
    emulator_device: Literal["auto", "cpu", "cuda"] = "auto"
    emulator_max_qubits: int = Field(22, ge=1, le=40)
    one_task_per_inference: bool = False
    # auto: n_samples and shots from the cheapest plan resolving the accuracy to ±plan_halfwidth
    # (qml_ops.hardware.planner); off: as configured
    plan: Literal["off", "auto"] = "off"
    plan_halfwidth: float = Field(0.05, gt=0, lt=0.5)
    max_budget_usd: float = Field(0.0, ge=0)
    approve_usd: float = Field(0.0, ge=0)
    total_budget_usd: float = Field(0.0, ge=0)
    budget_period: Literal["month", "year", "all"] = "month"
    refuse_outside_window: bool = False
    enforce_spending_limit: bool = False
    prices: dict[str, PriceOverride] = Field(default_factory=dict)
    s3_bucket: Optional[str] = None
    s3_prefix: str = "qml-ops"
    poll_timeout_s: float = Field(600, gt=0)
    max_profile_age_days: int = Field(90, ge=1)
    gate: HardwareGate = Field(default_factory=HardwareGate)
    mitigation: MitigationParams = Field(default_factory=MitigationParams)
    promote_alias: str = Field("hardware-validated", min_length=1)
    emulated_alias: str = Field("emulator-validated", min_length=1)

    @field_validator("mode", "plan", mode="before")
    @classmethod
    def _yaml_off(cls, value: Any) -> Any:
        return "off" if value is False else value  # YAML 1.1 reads a bare `off` as false

    @model_validator(mode="after")
    def _combinations(self) -> "HardwareParams":
        # Checks against the device catalogue (unknown or retired devices, shot ranges) live
        # with the catalogue, in qml_ops.hardware.params_check, so that no stage but
        # `hardware` depends on it; `qml-ops params check` and the hardware stage run them.
        if len(set(self.devices)) != len(self.devices):
            raise _ComboError("hardware.devices", self.devices, "a device is listed twice")
        if "local" in self.devices:
            raise _ComboError(
                "hardware.devices", self.devices,
                "'local' is the noiseless simulator: every device's sim_accuracy and sim_shot_accuracy are its "
                "figures already; list QPUs (their calibrated emulators run offline)",
            )
        if self.emulator == "braket" and self.emulator_method == "trajectories":
            raise _ComboError("hardware.emulator_method", "trajectories",
                              "trajectories are the torch emulator's; hardware.emulator 'braket' is a density matrix")
        if self.mode == "qpu" and not self.s3_bucket:
            raise _ComboError("hardware.s3_bucket", None, "mode 'qpu' needs an S3 bucket for the task results")
        if self.mode == "qpu" and self.mitigation.readout == "calibration":
            raise _ComboError("hardware.mitigation.readout", "calibration",
                              "calibration circuits run on the emulators only in this version; on a QPU use "
                              "'profile' (free: the device document's readout fidelities) or 'none'")
        if self.mode == "qpu" and self.mitigation.zne.enabled:
            raise _ComboError("hardware.mitigation.zne.enabled", True,
                              "zero-noise extrapolation runs on the emulators only in this version "
                              "(its price is in `qml-ops hardware estimate`); set it false for mode 'qpu'")
        return self


class TrackingParams(_Section):
    """MLflow experiment naming (the tracking URI comes from the environment)."""

    experiment: str = Field("qml-ops", min_length=1)


class Params(_Section):
    """The whole ``params.yaml``."""

    prepare: PrepareParams = Field(default_factory=PrepareParams)
    encode: EncodeParams = Field(default_factory=EncodeParams)
    model: ModelParams = Field(default_factory=ModelParams)
    train: TrainParams = Field(default_factory=TrainParams)
    baseline: BaselineParams = Field(default_factory=BaselineParams)
    evaluate: EvaluateParams = Field(default_factory=EvaluateParams)
    tune: TuneParams = Field(default_factory=TuneParams)
    hardware: HardwareParams = Field(default_factory=HardwareParams)
    tracking: TrackingParams = Field(default_factory=TrackingParams)

    @model_validator(mode="after")
    def _combinations(self) -> "Params":
        width = BUILTIN_WIDTHS.get(self.prepare.dataset)
        enc = self.encode
        if width is not None and enc.method == "amplitude" and enc.amplitude_mode == "pad":
            if width > 2**enc.n_qubits:
                raise _ComboError(
                    "encode.amplitude_mode",
                    "pad",
                    f"dataset {self.prepare.dataset!r} has {width} features, more than 2^{enc.n_qubits} = "
                    f"{2**enc.n_qubits} amplitudes; use amplitude_mode 'resize' or more qubits",
                )
        if width is not None and enc.method in ("angle", "dense_angle") and enc.n_features() > width:
            raise _ComboError(
                "encode.n_qubits",
                enc.n_qubits,
                f"{enc.method} encoding needs {enc.n_features()} PCA components but dataset "
                f"{self.prepare.dataset!r} has only {width} features",
            )
        if self.train.noise_model is not None and enc.n_qubits > NOISY_MAX_QUBITS:
            raise _ComboError("train.noise_model", self.train.noise_model,
                              f"noise-aware training supports encode.n_qubits <= {NOISY_MAX_QUBITS} "
                              f"(a 4^n Pauli-basis operator), but encode.n_qubits is {enc.n_qubits}")
        if "emulated_accuracy" in self.tune.objectives and enc.n_qubits > NOISY_MAX_QUBITS:
            raise _ComboError("tune.objectives", self.tune.objectives,
                              f"emulated_accuracy runs the density-matrix emulator, which supports circuits of up "
                              f"to {NOISY_MAX_QUBITS} logical qubits here, but encode.n_qubits is {enc.n_qubits}")
        return self

    def flat(self) -> dict[str, Any]:
        """All params as flat dotted keys (for MLflow ``log_params``)."""
        return flatten(self.model_dump())


class _ComboError(ValueError):
    """An impossible combination, raised with the key it should be blamed on."""

    def __init__(self, key: str, value: Any, allowed: str):
        super().__init__(allowed)
        self.key, self.value, self.allowed = key, value, allowed


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The field names allowed at the parent of ``loc`` (for unknown-key errors)."""
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None) if field else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            break
    return sorted(model.model_fields)


def _describe(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        value = err.get("input")
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _ComboError):
            lines.append(f"{ctx_error.key} = {ctx_error.value!r}: {ctx_error.allowed}")
            continue
        if err["type"] == "extra_forbidden":
            section = ".".join(str(p) for p in loc[:-1]) or "the top level"
            allowed = ", ".join(_allowed_keys(Params, loc))
            lines.append(f"unknown key {key!r} (allowed in {section}: {allowed})")
            continue
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "literal_error":
            message = "must be " + message.removeprefix("Input should be ")
        elif message.startswith("Input should be "):
            message = "must be " + message.removeprefix("Input should be ")
        if isinstance(value, dict) and err["type"] not in ("model_type", "dict_type"):
            lines.append(f"{key}: {message}")
        else:
            lines.append(f"{key} = {value!r}: {message}")
    return _invalid(source, lines)


@dataclass(frozen=True)
class Problem:
    """One invalid value found by a :data:`Check`: the key to blame, its value, what is allowed."""

    key: str
    value: Any
    allowed: str

    def __str__(self) -> str:
        return f"{self.key} = {self.value!r}: {self.allowed}"


#: A check beyond the schema, run on valid params (e.g. against the device catalogue).
Check = Callable[[Params], list[Problem]]


def _invalid(source: str, lines: Sequence[str]) -> str:
    noun = "1 error" if len(lines) == 1 else f"{len(lines)} errors"
    return f"{source}: invalid params ({noun}):\n  - " + "\n  - ".join(lines)


def parse_params(data: Any, source: str = DEFAULT_PARAMS, checks: Sequence[Check] = ()) -> Params:
    """Validate an already-loaded mapping (e.g. from YAML) into :class:`Params`.

    Args:
        data: the mapping.
        source: what it was read from (named in errors).
        checks: further checks to run on the valid params (see :data:`Check`);
            their problems are reported like the schema's.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections, got {type(data).__name__}")
    try:
        params = Params.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None
    problems = [problem for check in checks for problem in check(params)]
    if problems:
        raise ConfigError(_invalid(source, [str(p) for p in problems]))
    return params


def load_params(path: str | Path = DEFAULT_PARAMS, checks: Sequence[Check] = ()) -> Params:
    """Read and validate a params file.

    Args:
        path: the YAML file (default ``params.yaml`` in the working directory).
        checks: further checks on the valid params (:func:`parse_params`).

    Raises:
        ConfigError: missing/unreadable file, bad YAML, or any invalid value.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: params file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read params file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    return parse_params(data, source=str(path), checks=checks)
