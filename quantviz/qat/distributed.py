"""Data-parallel QAT in processes started by ``accelerate launch`` or ``torchrun``.

A launcher starts one process per worker and sets ``WORLD_SIZE``, ``RANK`` and
``LOCAL_RANK`` in each. When ``WORLD_SIZE`` is above 1, :func:`quantviz.qat.run_qat`
trains through :class:`DataParallel`: an ``accelerate.Accelerator`` whose ``prepare``
wraps the model in ``DistributedDataParallel``, which averages the gradients of every
trained parameter, the LSQ scales included, so all processes take the same optimizer
steps. Each process trains on its own share of every step's sequences, and only the
main process (rank 0) writes files and prints. Without a launcher, or with one process,
nothing here is used and QAT runs in-process as before.

The functions that read the environment import nothing heavy, so the CLI can call them
before torch is loaded.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from quantviz.errors import QuantvizError

logger = logging.getLogger(__name__)


def _environment_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise QuantvizError(
            f"the environment variable {name}={value!r} is not an integer; it is set by "
            "accelerate launch or torchrun, so start quantviz with one of them or unset it"
        ) from None


def launched_processes() -> int:
    """Return the number of processes the launcher started (``WORLD_SIZE``), 1 without one."""
    return max(_environment_int("WORLD_SIZE", 1), 1)


def is_main_process() -> bool:
    """Return whether this process writes files and prints: rank 0, or the only process."""
    return launched_processes() == 1 or _environment_int("RANK", 0) == 0


class DataParallel:
    """One process of a data-parallel QAT run, around ``accelerate.Accelerator``.

    Builds the Accelerator on the launcher's process group: gloo on CPU-only machines,
    the accelerator's backend (NCCL on CUDA) otherwise. Raises QuantvizError when
    torch.distributed is unavailable or the process group does not have
    :func:`launched_processes` members.
    """

    def __init__(self) -> None:
        import torch
        import torch.distributed

        if not torch.distributed.is_available():
            raise QuantvizError(
                f"this process was launched as one of {launched_processes()} processes, but "
                "this torch build has no torch.distributed; install a torch build with "
                "distributed support or run QAT in one process"
            )
        from accelerate import Accelerator

        # accelerate sets up a CPU process group only when asked, and launchers started
        # with --multi_gpu on a machine without GPUs give it no other hint.
        cpu = not torch.accelerator.is_available()
        self.accelerator = Accelerator(cpu=cpu)
        self.processes = self.accelerator.num_processes
        self.rank = self.accelerator.process_index
        self.is_main_process = self.accelerator.is_main_process
        if self.processes != launched_processes():
            raise QuantvizError(
                f"the launcher set WORLD_SIZE={launched_processes()}, but accelerate formed a "
                f"process group of {self.processes}; on a machine without GPUs start the "
                "processes with `accelerate launch --multi_gpu --num_processes N` or "
                "`torchrun --nproc_per_node N`, because `accelerate launch --cpu` starts one "
                "process unless it is given an MPI host file"
            )
        logger.info(
            "QAT process %d of %d on %s (%s)",
            self.rank,
            self.processes,
            self.accelerator.device,
            self.accelerator.distributed_type,
        )

    @property
    def device(self) -> Any:
        return self.accelerator.device

    def prepare(self, model: Any, optimizer: Any) -> tuple[Any, Any]:
        """Wrap ``model`` in DistributedDataParallel and ``optimizer`` for it."""
        return self.accelerator.prepare(model, optimizer)

    def backward(self, loss: Any) -> None:
        self.accelerator.backward(loss)

    def mean(self, value: Any) -> float:
        """Return the mean of the scalar tensor ``value`` over all processes."""
        return float(self.accelerator.reduce(value.detach().reshape(1), reduction="mean"))

    def any(self, flag: bool) -> bool:
        """Return whether ``flag`` is True in any process. Every process must call this."""
        import torch

        local = torch.tensor([1.0 if flag else 0.0], device=self.device)
        return bool(self.accelerator.reduce(local, reduction="sum") > 0)

    def check_replicas(self, tensors: dict[str, Any]) -> None:
        """Raise QuantvizError unless ``tensors`` are equal in every process.

        Each process contributes the float64 sum and absolute sum of each tensor, so the
        check moves two numbers per tensor. DistributedDataParallel makes the updates
        bitwise equal, so the sums are compared exactly.
        """
        import torch

        if not tensors:
            return
        names = sorted(tensors)
        local = torch.stack(
            [
                torch.stack([tensors[name].double().sum(), tensors[name].double().abs().sum()])
                for name in names
            ]
        ).to(self.device)
        gathered = self.accelerator.gather(local.unsqueeze(0))
        for rank in range(1, gathered.shape[0]):
            differs = (gathered[rank] != gathered[0]).any(dim=1).nonzero().flatten().tolist()
            if differs:
                raise QuantvizError(
                    f"the trained values of process {rank} differ from those of process 0 in "
                    f"{len(differs)} tensors (first: {names[differs[0]]}); the processes did not "
                    "stay in sync, so their results cannot be used"
                )
        logger.info("%d trained tensors are equal in all %d processes", len(names), self.processes)

    def wait(self) -> None:
        """Block until every process reaches this point."""
        self.accelerator.wait_for_everyone()


def shutdown() -> None:
    """Destroy the process group that :class:`DataParallel` set up, if any."""
    if launched_processes() == 1:
        return
    import torch.distributed

    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
