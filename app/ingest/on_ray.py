"""Ingestion on a Ray cluster (`longlens ingest --ray ADDRESS`, the optional extra `longlens[ray]`).

Parsing and chunking run as Ray tasks, a bounded number in flight, so a slow embedder never has every parsed
file of a batch waiting in memory; embedding runs on Ray actors that each load the model once (one per GPU
where the cluster has GPUs). The driver keeps what makes ingestion safe: it checks each file, writes each
document through the same store in one transaction, and keeps the indexes, so content-hash idempotency, one
clear error per bad file and resuming after a kill are the same as without Ray. A task whose worker died is
retried by Ray (`TASK_RETRIES`); a file whose task still fails is reported as that file's error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from longlens.ingest.prepare import Prepared, PrepareOptions, prepare_file
from longlens.schema import LongLensError

TASK_RETRIES = 3
"""Times Ray runs a parse task again after its worker process died (a killed or crashed worker)."""


def connect(address: str, num_cpus: int | None = None) -> Any:
    """The `ray` module, connected: "local" starts a cluster in this machine, anything else is the address of a
    running one ("auto", "ray://head:10001")."""
    try:
        import ray
    except ImportError as exc:
        raise LongLensError('--ray needs Ray: pip install "longlens[ray]"') from exc
    if not ray.is_initialized():
        if address == "local":
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    return ray


def prepared_on_ray(ray: Any, paths: list[str], opts: PrepareOptions, ahead: int) -> Iterator[Prepared]:
    """`prepare_file` for each path as Ray tasks, yielded as each finishes, at most `ahead` in flight."""
    task = ray.remote(max_retries=TASK_RETRIES)(prepare_file)
    queue = iter(paths)
    pending: dict[Any, str] = {}

    def submit() -> None:
        for path in queue:
            pending[task.remote(path, opts)] = path
            return

    for _ in range(max(1, ahead)):
        submit()
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        path = pending.pop(done[0])
        submit()
        try:
            yield ray.get(done[0])
        except Exception as exc:  # the task's worker died more times than it is retried
            yield Prepared(path, "", "", None, None, [], [], error=f"parser crashed on a Ray worker: {exc}")


class RayEmbedder:
    """The embedder's interface (`encode`, `dim`, `name`, `path`, `device`) over a pool of Ray actors, each
    holding one copy of the model; `encode_many` spreads a document's batches over all of them."""

    def __init__(self, ray: Any, local: Any, actors: int = 0) -> None:
        """`local`: this process's Embedder (the actors load the same model, stretched the same way);
        `actors`: how many (0: one per GPU of the cluster, one without GPUs)."""
        self._ray = ray
        self.name, self.dim, self.path = local.name, local.dim, local.path
        gpus = int(ray.cluster_resources().get("GPU", 0))
        self.device = "cuda" if gpus else "cpu"
        self.actors = actors or max(1, gpus)
        actor = ray.remote(num_gpus=1 if gpus else 0, max_restarts=TASK_RETRIES,
                           max_task_retries=TASK_RETRIES)(_EmbedActor)
        config = {"model": local.path, "batch_size": local.batch_size, "max_seq_length": local._max_seq_length,
                  "context_extension": local.context_extension, "target_length": local.target_length,
                  "precision": local.requested_precision}
        self._actors = [actor.remote(config) for _ in range(self.actors)]

    def close(self) -> None:
        for actor in self._actors:
            self._ray.kill(actor)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.encode_many([texts])[0]

    def encode_many(self, batches: list[list[str]]) -> list[np.ndarray]:
        """Each batch's vectors, in order; batches go round-robin to the actors and run at the same time."""
        refs = [self._actors[i % len(self._actors)].encode.remote(texts) for i, texts in enumerate(batches)]
        return self._ray.get(refs)


class _EmbedActor:
    """One model copy on a Ray worker (on a GPU when the cluster gave it one)."""

    def __init__(self, config: dict) -> None:
        import os

        import torch

        from longlens.models.embedder import Embedder

        # Ray starts workers with OMP_NUM_THREADS=1 (their CPU reservation); on a CPU the actor is the only heavy
        # user of its machine's cores while it embeds, and one thread made a 60-page ingest 6x slower
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        torch.set_num_threads(max(1, cores or 1))
        self.embedder = Embedder(config.pop("model"), **config)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.embedder.encode(texts, batch_size=len(texts))  # a batch the ingest already sized
