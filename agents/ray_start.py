"""Starting Ray the one way the project does (benchmark cells and transformer sweeps)."""

from __future__ import annotations

RAY_HINT = "install it with: pip install 'tokenmaze[ray]'  (or: pip install 'ray>=2.9')"


def start_ray(address: str | None, num_cpus: int | None, needed_by: str):
    """Import Ray and, unless it already runs, start it: a cluster at ``address``, else a local
    instance with ``num_cpus``.  Returns ``(ray, started)``; errors name ``needed_by`` (the
    command) and say what to do.  Call it from the main thread: started from another thread,
    Ray's driver later loses its GCS connection and terminates the whole process."""
    try:
        import ray
    except ImportError:
        raise RuntimeError(
            f"{needed_by} needs the 'ray' package, which is not installed; {RAY_HINT}"
        ) from None
    if ray.is_initialized():
        return ray, False
    where = f"the cluster at {address!r}" if address else "a local Ray instance"
    kwargs = {"address": address} if address else {"num_cpus": num_cpus}
    try:
        ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
    except Exception as err:
        raise RuntimeError(
            f"Ray could not start {where}: {err} (a machine with every core busy can stall "
            "Ray's start; retry on an idle machine)"
        ) from err
    return ray, True
