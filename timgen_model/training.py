"""The training loop: one entry point for CPU, one GPU, or many through Hugging Face Accelerate.

``accelerate launch -m timgen_data train DATASET --out RUN`` runs the same code under DDP.
``train.batch_size`` is the batch of all processes together: every process makes the same
epoch of batches and takes its share of each (``process_share``), and the gradient
all-reduce gives every process the gradient one process would compute on the whole batch,
so a run's figures do not depend on how many processes made them (up to float rounding,
and the random draws of dropout and the latent sample, which each process makes for its
own share). Evaluation splits its batches between the processes and gathers the results.
The main process alone writes the run folder; every process reads the checkpoint to resume.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from timgen_common.output_folder import Protected
from timgen_common.progress import SILENT, Progress
from timgen_model.batches import SplitTensors, epoch_batches, process_share, windows_for_training
from timgen_model.checkpoint import BEST, LAST, Checkpoint, load_checkpoint, save_checkpoint
from timgen_model.class_sets import class_prior_logits
from timgen_model.config import LossConfig, ModelConfig, RunConfig
from timgen_model.encoded_cache import load_encoded
from timgen_model.encoding import EncodedDataset
from timgen_model.errors import CheckpointError, ModelConfigError
from timgen_model.evaluation import evaluate_network
from timgen_model.heap import release_free_heap
from timgen_model.model import DataSpec, TIMGen
from timgen_model.processes import ONE_PROCESS, Processes
from timgen_model.reports import write_run_reports
from timgen_model.review_vectors import attach_review_vectors, review_statistics, wants_review_vectors
from timgen_model.run_folder import claim_run_folder

METRICS_FILE = "metrics.json"
T = TypeVar("T")


@dataclass
class TrainResult:
    run_dir: Path
    metrics: dict[str, Any]
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    plots: dict[str, Path] = field(default_factory=dict)
    timings: list[dict[str, float]] = field(default_factory=list)  # wall seconds per epoch (this process)
    main_process: bool = True  # False in the other processes of a multi-process run (they report nothing)


class TrainingObjective(nn.Module):
    """Wraps the model so that DDP sees the loss computation as ``forward``."""

    def __init__(self, model: TIMGen, weights: LossConfig):
        super().__init__()
        self.model, self.weights = model, weights

    def forward(self, batch, step: int):
        return self.model.loss(batch, self.weights, step)


def data_spec(data: EncodedDataset, config: ModelConfig | None = None) -> DataSpec:
    # The review modality exists where the training split has texts and the config reads them.
    wanted = config is None or config.review_text
    reviews = data.splits["train"].reviews
    if config is not None and wants_review_vectors(config.review_encoder, config.review_text,
                                                   config.masked_modalities):
        if reviews is None or reviews.spec != config.review_encoder:
            raise ModelConfigError(f"model.review_encoder={config.review_encoder} but the dataset's texts were not "
                                   "encoded with it; pass the dataset folder, or attach_review_vectors() first")
        # Like the hashed texts: a train split where nobody wrote gets no review modality.
        with_vectors = len(reviews.vectors) > 0
        return replace(_spec(data, 0), review_dim=reviews.dim if with_vectors else 0,
                       review_encoder=reviews.encoder if with_vectors else "")
    return _spec(data, (config or ModelConfig()).text_buckets
                 if wanted and data.splits["train"].has_texts else 0)


def _spec(data: EncodedDataset, text_buckets: int) -> DataSpec:
    v = data.vocabularies
    return DataSpec(
        num_items=len(v.items), num_actions=len(v.actions), num_devices=len(v.devices),
        num_platforms=len(v.platforms), num_geos=len(v.geos), num_classes=len(v.classes),
        modality_dims=data.catalogue.modality_dims, score_mean=data.score_mean, score_std=data.score_std,
        score_min=data.score_min, score_max=data.score_max, text_buckets=text_buckets,
    )


def load_run_dataset(dataset: str | Path, vocabularies, config: ModelConfig, *, revision: str | None = None,
                     progress: Progress = SILENT) -> EncodedDataset:
    """The dataset encoded for a run (with ``vocabularies``, or its own), its texts also
    through ``config.review_encoder`` where the run reads them so."""
    data = load_encoded(dataset, vocabularies, revision=revision, progress=progress)
    if wants_review_vectors(config.review_encoder, config.review_text, config.masked_modalities):
        data = attach_review_vectors(data, dataset, config.review_encoder, revision=revision, progress=progress)
    return data


def build_network(config: RunConfig, data: EncodedDataset) -> TIMGen:
    catalogue = data.catalogue
    network = TIMGen(
        config.model, data_spec(data, config.model),
        {m: torch.as_tensor(v) for m, v in catalogue.modality_vectors.items()},
        {m: torch.as_tensor(p) for m, p in catalogue.modality_present.items()},
    )
    if catalogue.class_set_offsets is not None:
        network.attach_class_sets(catalogue.class_set_offsets, catalogue.class_set_members)
        if config.model.class_target == "set" and config.loss.classification > 0:
            train = data.splits["train"]
            prior = class_prior_logits(catalogue.class_set_offsets, catalogue.class_set_members, train.items,
                                       train.is_target, network.spec.num_classes)
            if prior is not None:  # a fresh network's start; a checkpoint's weights replace it
                with torch.no_grad():
                    network.class_head.bias.copy_(torch.from_numpy(prior))
    if network.spec.review_dim:
        network.set_review_statistics(*review_statistics(data.splits["train"].reviews))
    return network


def _accelerator(config: RunConfig):
    from accelerate import Accelerator, DistributedDataParallelKwargs  # imported late: slow to import

    device = config.train.device
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelConfigError("train.device=cuda but no CUDA device is visible; use train.device=cpu or auto")
    on_cpu = device == "cpu" or not torch.cuda.is_available()
    precision = config.train.mixed_precision
    if precision == "auto":
        precision = "no" if on_cpu else ("bf16" if torch.cuda.is_bf16_supported() else "fp16")
    elif on_cpu and precision != "no":
        raise ModelConfigError(f"train.mixed_precision={precision} needs a CUDA device; use 'no' or 'auto' on CPU")
    # Variants leave some heads unused (SASRec has no score head loss); DDP must allow that.
    ddp = DistributedDataParallelKwargs(find_unused_parameters=True)
    return Accelerator(cpu=on_cpu, mixed_precision=precision, kwargs_handlers=[ddp])


def _processes(accelerator) -> Processes:
    if accelerator.num_processes == 1:
        return ONE_PROCESS
    from accelerate.utils import gather_object

    return Processes(accelerator.process_index, accelerator.num_processes, lambda value: gather_object([value]))


def _in_turns(load: Callable[[], T], accelerator) -> T:
    """``load()`` in the main process first, then in each other machine's first process, then
    in the rest: the encoded cache is written once (once per machine where they share no
    disk) and the others map it, instead of every process encoding the dataset at once.
    A failure is raised after the turns, so no process is left waiting at a barrier."""
    turns = (accelerator.is_main_process,
             accelerator.is_local_main_process and not accelerator.is_main_process,
             not accelerator.is_local_main_process)
    result, failure = None, None
    for turn, mine in enumerate(turns):
        if mine:
            try:
                result = load()
            except Exception as exc:  # raised below, once every process has passed the barriers
                failure = exc
        if turn < len(turns) - 1:
            accelerator.wait_for_everyone()
    if failure is not None:
        raise failure
    return result


def _rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _restore_rng(rng_state: dict[str, Any], processes: Processes, device: torch.device) -> None:
    """Each process continues its own random stream (a checkpoint of this version keeps every
    process's; an earlier one only the main process's). A process the checkpoint has no
    stream for (more processes than before) keeps the one it was seeded with."""
    streams = rng_state.get("processes") or [rng_state]
    if processes.index >= len(streams):
        return
    mine = streams[processes.index]
    if mine.get("torch") is not None:
        torch.set_rng_state(mine["torch"])
    if mine.get("cuda") is not None and device.type == "cuda":
        torch.cuda.set_rng_state(mine["cuda"], device)


def _epoch_means(processes: Processes, sums: dict[str, float], batches: int) -> dict[str, float]:
    """Each loss part's mean over the epoch's batches, every process's weighted share added."""
    total: dict[str, float] = {}
    for theirs in processes.gather(sums):
        for name, value in theirs.items():
            total[name] = total.get(name, 0.0) + value
    return {name: value / (processes.count * max(1, batches)) for name, value in total.items()}


def _monitor_value(name: str, loss: dict[str, float], metrics: dict[str, Any]) -> float:
    """Lower is better for every monitored figure (NDCG is negated)."""
    if name == "loss":
        return loss.get("loss", math.inf)
    value = metrics.get(name)
    if value is None:
        raise ModelConfigError(f"train.monitor={name} but the model does not produce {name}; monitor 'loss' instead")
    return -value if name.startswith("ndcg") else value


def _epoch_entry(epoch: int, train_parts: dict[str, float], valid) -> dict[str, Any]:
    entry: dict[str, Any] = {"epoch": epoch}
    entry.update({f"train_{k}" if k != "beta" else "beta": v for k, v in train_parts.items()})
    entry.update({f"validation_{k}": v for k, v in valid.loss.items() if k != "beta"})
    for key in ("rmse", "ndcg@10", "hr@10", "accuracy"):
        if valid.metrics.get(key) is not None:
            entry[f"validation_{key}"] = valid.metrics[key]
    return entry


def train(
    dataset: str | Path | EncodedDataset,
    out_dir: Path,
    config: RunConfig | None = None,
    *,
    variant: str = "timgen",
    resume: bool = False,
    overwrite: bool = False,
    protect: Iterable[Protected] | None = None,
    progress: Progress = SILENT,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    revision: str | None = None,
) -> TrainResult:
    """Train on a dataset folder or Hub id; write checkpoints, metrics.json and plots to ``out_dir``.

    The dataset is encoded once into memory-mapped files (see ``timgen_model.encoded_cache``)
    and every batch is gathered from them, so a dataset larger than memory trains.

    An earlier run in ``out_dir`` is continued with ``resume`` or replaced with ``overwrite``
    (only once the new run has finished); without either it is an error, as is a folder
    holding anything but a run, the data dir or the store's folder (``protect``, by default
    as the CLI resolves them).

    Under ``accelerate launch`` with several processes, only the main one reports through
    ``progress`` and ``on_epoch`` and writes ``out_dir``; every process returns the result.

    >>> train("out/ml-100k", Path("runs/ml100k"), load_run_config(None, ["train.epochs=20"]))  # doctest: +SKIP
    """
    out_dir = Path(out_dir)
    run = claim_run_folder(out_dir, resume=resume, overwrite=overwrite, protect=protect)
    previous: Checkpoint | None = None
    if resume:
        previous = load_checkpoint(out_dir / LAST)
        config, variant = previous.config, previous.variant
    config = config or RunConfig()
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    accelerator = _accelerator(config)
    processes = _processes(accelerator)
    if not processes.is_main:
        progress, on_epoch = SILENT, None  # one process reports, as a single one would
    if isinstance(dataset, EncodedDataset):
        data = dataset
    else:
        vocabularies = previous.vocabularies if previous else None
        data = _in_turns(lambda: load_run_dataset(dataset, vocabularies, config.model, revision=revision,
                                                  progress=progress), accelerator)
    if previous and previous.dataset_fingerprint != data.fingerprint:
        raise CheckpointError(
            f"{out_dir} was trained on different data (fingerprint {previous.dataset_fingerprint[:12]}, "
            f"this dataset {data.fingerprint[:12]}); resume with the same dataset or train into a new --out"
        )

    # Each process its own stream for dropout and latent samples; the weights all start as the
    # main process's (DDP copies them to the others).
    torch.manual_seed(config.train.seed + processes.index)
    if processes.is_main:
        run.prepare()
    accelerator.wait_for_everyone()
    try:
        result = _fit(data, run.write_dir, config, variant, previous, accelerator, processes, progress, on_epoch)
        accelerator.wait_for_everyone()  # every process is done with the run folder before it moves
    except BaseException:
        if processes.is_main:
            run.abandon()
        raise
    if processes.is_main:
        run.finish()
    result.plots = {name: out_dir / path.relative_to(run.write_dir) for name, path in result.plots.items()}
    result.run_dir = out_dir
    result.main_process = processes.is_main
    return result


def _fit(data: EncodedDataset, out_dir: Path, config: RunConfig, variant: str, previous: Checkpoint | None,
         accelerator, processes: Processes, progress: Progress,
         on_epoch: Callable[[dict[str, Any]], None] | None) -> TrainResult:
    """The epochs, checkpoints into ``out_dir``, then the best weights' evaluation and reports."""
    model = build_network(config, data)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.train.learning_rate, weight_decay=config.train.weight_decay)
    step, start_epoch, history, best = 0, 1, [], {"value": math.inf, "epoch": 0}
    if previous:
        model.load_state_dict(previous.model_state)
        optimizer.load_state_dict(previous.optimizer_state)
        step, start_epoch, history, best = previous.step, previous.epoch + 1, previous.history, previous.best
    objective = TrainingObjective(model, config.loss)
    objective, optimizer = accelerator.prepare(objective, optimizer)
    device = accelerator.device
    if previous:
        _restore_rng(previous.rng_state, processes, device)

    split = data.splits["train"]
    windows = windows_for_training(split, config.model.max_len, config.train.windows)
    tensors = SplitTensors(split, data.score_mean, data.score_std)

    def snapshot(epoch: int, with_optimizer: bool, streams: list[dict]) -> Checkpoint:
        return Checkpoint(
            config=config, spec=model.spec, vocabularies=data.vocabularies, titles=data.catalogue.titles,
            dataset_source=data.source, dataset_fingerprint=data.fingerprint,
            model_state={k: v.detach().cpu() for k, v in accelerator.unwrap_model(objective).model.state_dict().items()},
            optimizer_state=optimizer.state_dict() if with_optimizer else None,
            step=step, epoch=epoch, history=list(history), best=dict(best), variant=variant,
            rng_state={"torch": streams[0]["torch"], "processes": streams},
        )

    stopped_early = False
    timings: list[dict[str, float]] = []
    progress.start("epochs", total=config.train.epochs)
    progress.advance("epochs", start_epoch - 1)
    for epoch in range(start_epoch, config.train.epochs + 1):
        if epoch - best["epoch"] > config.train.patience and best["epoch"] > 0:
            stopped_early = True
            break
        objective.train()
        batches = epoch_batches(windows, config.train.batch_size, config.train.seed, epoch)
        sums: dict[str, float] = {}
        epoch_started = time.perf_counter()
        progress.start("batches", total=len(batches))
        for indices in batches:
            chunk, weight = process_share(windows, indices, processes.index, processes.count)
            batch = tensors.batch(chunk).to(device)
            with accelerator.autocast():
                loss, report = objective(batch, step)
            if weight != 1.0:
                loss = loss * weight
            optimizer.zero_grad(set_to_none=True)
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(objective.parameters(), config.train.grad_clip)
            optimizer.step()
            release_free_heap()  # else the heap's holes make memory grow with the number of steps
            step += 1
            for name, value in report.items():  # β is the same in every process, not a share
                sums[name] = sums.get(name, 0.0) + value * (1.0 if name == "beta" else weight)
            progress.advance("batches")
        progress.finish("batches")
        train_parts = _epoch_means(processes, sums, len(batches))
        network = accelerator.unwrap_model(objective).model
        train_seconds = time.perf_counter() - epoch_started
        valid = evaluate_network(network, data, "validation", batch_size=config.train.eval_batch_size,
                                 device=device, loss_weights=config.loss, step=step, processes=processes)
        entry = _epoch_entry(epoch, train_parts, valid)
        # Wall times are kept out of the repeatable part of the history (they differ run to run).
        timings.append({"epoch": epoch, "seconds_train": train_seconds,
                        "seconds_validation": time.perf_counter() - epoch_started - train_seconds})
        history.append(entry)
        # The same in every process (computed from the gathered evaluation), so all stop together.
        value = _monitor_value(config.train.monitor, valid.loss, valid.metrics)
        streams = processes.gather(_rng_state(device))
        if value < best["value"]:
            best = {"value": value, "epoch": epoch, "monitor": config.train.monitor}
            if processes.is_main:
                save_checkpoint(snapshot(epoch, False, streams), out_dir / BEST)
        if processes.is_main:
            save_checkpoint(snapshot(epoch, True, streams), out_dir / LAST)
        progress.advance("epochs")
        if on_epoch:
            on_epoch(entry)
    progress.finish("epochs")
    if best["epoch"] == 0:
        raise CheckpointError(f"no epoch was trained in {out_dir}; raise train.epochs or train without --resume")

    accelerator.wait_for_everyone()  # the main process has written the last checkpoint
    best_checkpoint = load_checkpoint(out_dir / BEST)
    best_model = best_checkpoint.build_model().to(device)
    result = finish_run(best_model, data, config, out_dir, variant=variant, history=history,
                        best_epoch=best["epoch"], timings=timings, processes=processes)
    result.stopped_early = stopped_early
    return result


def finish_run(model: TIMGen, data: EncodedDataset, config: RunConfig, out_dir: Path, *, variant: str,
               history: list[dict], best_epoch: int, timings: list[dict] | None = None,
               processes: Processes = ONE_PROCESS) -> TrainResult:
    """Evaluate the best weights on validation and test; write metrics.json and the PNGs (the
    main process)."""
    device = next(model.parameters()).device
    results = {
        name: evaluate_network(model, data, name, batch_size=config.train.eval_batch_size, device=device,
                               loss_weights=config.loss, processes=processes)
        for name in ("validation", "test")
    }
    metrics = {
        "variant": variant,
        "dataset": {"source": data.source, "fingerprint": data.fingerprint},
        "best_epoch": best_epoch,
        "epochs_run": len(history),
        "validation": results["validation"].metrics,
        "test": results["test"].metrics,
        "timings": timings or [],
    }
    plots: dict[str, Path] = {}
    if processes.is_main:
        plots = write_run_reports(model, data, results["test"], history, out_dir)
        # Relative to the run folder, so the record stays true when the folder moves.
        metrics["plots"] = {name: path.relative_to(out_dir).as_posix() for name, path in plots.items()}
        (out_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return TrainResult(out_dir, metrics, history, best_epoch, plots=plots, timings=timings or [])
