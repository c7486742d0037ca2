"""Ray, imported only when asked for: join a cluster or start one here, run tasks, and
hand their results back as they finish.

Every path a task reads or writes must be one every node sees: the tasks run in the
driver's working directory (:func:`in_directory`), so on a cluster the project folder,
the clips and the run folders sit on shared storage (NFS or the like).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

#: what to type when Ray is missing (one line, printed by the commands)
INSTALL_HINT = "pip install 'lfo[ray]' (or: pip install ray)"


class RayMissing(RuntimeError):
    """``--executor ray`` without Ray installed."""


def import_ray():
    """The ``ray`` module, or :class:`RayMissing` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise RayMissing(f"--executor ray needs Ray, which is not installed: "
                         f"{INSTALL_HINT}") from None
    return ray


@contextlib.contextmanager
def ray_session(address: str | None = None) -> Iterator[Any]:
    """Connected to Ray for the duration: the cluster at ``address`` (``auto``, or
    ``host:port`` of a head started with ``ray start --head``), else a new one on every
    core of this machine, shut down on exit.

    Usage statistics are off and no dashboard is started (nothing here reaches the
    internet)."""
    ray = import_ray()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if ray.is_initialized():  # a caller (or a test) already connected: use that
        yield ray
        return
    ray.init(address=address, include_dashboard=False, log_to_driver=True)
    try:
        yield ray
    finally:
        ray.shutdown()


@dataclass
class TaskResult:
    """What one task gave back: its key, its value, or the error it raised."""

    key: Any
    value: Any = None
    error: BaseException | None = None
    node: str | None = None
    """The Ray node that ran it."""


def in_directory(directory: str, fn: Callable[..., Any], *args: Any) -> tuple[Any, str]:
    """Run ``fn(*args)`` in ``directory`` (the driver's working directory) and return its
    value with the id of the node it ran on. Runs inside a Ray worker."""
    import ray

    if not os.path.isdir(directory):
        node = ray.get_runtime_context().get_node_id()
        raise FileNotFoundError(
            f"node {node[:8]} cannot see {directory}: the project folder, the clips and the "
            "run folders must be on storage every node of the cluster mounts at the same path")
    previous = os.getcwd()
    os.chdir(directory)
    try:
        return fn(*args), ray.get_runtime_context().get_node_id()
    finally:
        os.chdir(previous)


def run_tasks(
    ray: Any, fn: Callable[..., Any], jobs: Sequence[tuple[Any, tuple]], *,
    num_cpus: float = 1, num_gpus: float = 0,
) -> Iterator[TaskResult]:
    """Submit ``fn(*args)`` for each ``(key, args)`` in ``jobs`` as a Ray task with the
    given resources, in the driver's working directory; yield each result as it finishes
    (an error is yielded, not raised, so the other tasks go on)."""
    remote = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=0)(in_directory)
    cwd = os.getcwd()
    pending = {remote.remote(cwd, fn, *args): key for key, args in jobs}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        key = pending.pop(done[0])
        try:
            value, node = ray.get(done[0])
            yield TaskResult(key, value, node=node)
        except Exception as exc:  # RayTaskError wraps the task's own exception
            cause = getattr(exc, "cause", None)
            yield TaskResult(key, error=cause if isinstance(cause, BaseException) else exc)
