"""Unshutter on render farms: chunked, resumable batch jobs.

- :mod:`~unshutter.farm.spec` -- the YAML batch spec (schema ``schemas/batch.schema.json``);
- :mod:`~unshutter.farm.plan` -- shots split into contiguous chunks of source frames;
- :mod:`~unshutter.farm.task` -- one chunk, with the model loaded once per process;
- :mod:`~unshutter.farm.session` -- the per-worker-session model server of OpenJD jobs;
- :mod:`~unshutter.farm.openjd` -- the Open Job Description job bundle (Deadline Cloud);
- :mod:`~unshutter.farm.dask_runner` -- the same chunks on a Dask distributed cluster.

Every chunk is :func:`unshutter.pipeline.run` over its frames, so chunked
output is bit-identical to one run over the whole clip.
"""

from unshutter.farm.plan import Chunk, plan, plan_shot, split
from unshutter.farm.spec import BatchSpec, Shot, SpecError, load_spec

__all__ = ["BatchSpec", "Chunk", "Shot", "SpecError", "load_spec", "plan", "plan_shot", "split"]
