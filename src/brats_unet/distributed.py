"""Several processes under ``torchrun``: the process group, who writes, and decisions all ranks share.

``torchrun --nproc_per_node N -m brats_unet train ...`` starts N copies with ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK`` and the rendezvous address in the environment; :func:`setup` joins them into one process
group (NCCL on CUDA, gloo on CPU) and pins each CUDA process to its local GPU. Nothing here starts
processes or assumes one node: torchrun (or SLURM's ``srun`` running torchrun) does that.
"""

from __future__ import annotations

import datetime
import os
import sys
from dataclasses import dataclass
from typing import Any, NoReturn, Optional

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Context:
    """This process's place in the job. ``world == 1`` is the plain single-process run."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        """True when gradients and decisions must be shared with other processes."""
        return self.world > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes the run folder, checkpoints, figures and progress."""
        return self.rank == 0


SINGLE = Context()
# Ranks wait for each other while rank 0 builds the cache or, in a study, while another rank trains a
# variant: minutes to hours. torchrun ends every rank when one fails, so a long wait hides no crash.
WAIT = datetime.timedelta(hours=12)


def launched() -> bool:
    """True when started by torchrun (or anything that sets ``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_rank0() -> bool:
    """False only in a torchrun process of rank > 0; readable before (or without) joining the group."""
    return os.environ.get("RANK", "0") == "0"


def setup(device_type: str) -> Context:
    """Join the process group torchrun describes (idempotent); a single process gets :data:`SINGLE`."""
    if not launched():
        return SINGLE
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_type == "cuda":
        torch.cuda.set_device(local_rank)  # before the group: NCCL binds to the current device
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo", timeout=WAIT)
    return Context(dist.get_rank(), dist.get_world_size(), local_rank)


def teardown() -> bool:
    """Leave the process group (at the end of a command), if one was joined; True if one was.

    A process that left a group must end with :func:`exit_now`, not through the interpreter's shutdown:
    gloo's worker threads outlive ``destroy_process_group`` and drop their last references to finished
    collectives' tensors a moment after the collective returns; a tensor created in Python needs the GIL
    to die, and a thread that asks for the GIL while the interpreter finalises is ended by
    ``pthread_exit`` inside C++ code: "terminate called without an active exception", SIGABRT
    (seen in 2 runs in 36 of a 2-process time-budget run under load; core dump: ``~AsyncWork`` ->
    ``decref_pyobject`` -> ``take_gil`` -> ``pthread_exit``; the same race as pytorch/pytorch#179291).
    """
    if not (dist.is_available() and dist.is_initialized()):
        return False
    dist.barrier()  # no rank leaves while a peer still talks to it (gloo aborts on a closed peer)
    dist.destroy_process_group()
    return True


def exit_now(code: int) -> NoReturn:
    """End this process with ``code`` without the interpreter's shutdown (see :func:`teardown`).

    Everything a command writes is closed by then (run files are renamed into place, sinks closed);
    only the standard streams are still buffered, so they are flushed first.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing more can reach it
            pass
    os._exit(code)


def barrier(ctx: Context) -> None:
    """Wait for every rank (no-op alone)."""
    if ctx.active:
        dist.barrier()


def rank0_decides(ctx: Context, flag: bool) -> bool:
    """Rank 0's boolean, sent to every rank, so all stop (time budget, early stopping) at the same step."""
    if not ctx.active:
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=_comm_device())
    dist.broadcast(t, src=0)
    return bool(t.item())


def all_sum(ctx: Context, values: torch.Tensor) -> torch.Tensor:
    """Element-wise sum over ranks (a copy; the input is left as it is)."""
    if not ctx.active:
        return values.clone()
    t = values.detach().to(_comm_device(), copy=True)
    dist.all_reduce(t)
    return t.to(values.device)


def all_gather(ctx: Context, obj: Any) -> list[Any]:
    """Every rank's picklable ``obj``, in rank order (``[obj]`` alone)."""
    if not ctx.active:
        return [obj]
    out: list[Optional[Any]] = [None] * ctx.world
    dist.all_gather_object(out, obj)
    return out


def share(items: list[Any], ctx: Context) -> list[Any]:
    """This rank's disjoint share of ``items`` (every ``world``-th, starting at ``rank``)."""
    return items[ctx.rank :: ctx.world]


def _comm_device() -> torch.device:
    """NCCL talks through the current GPU; gloo through the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")
