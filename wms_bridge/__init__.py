"""wms_bridge: data staging for grid jobs, and task splitting and submission.

The bridge between dfc and a batch system, in the spirit of JUNO's JSUB: a task
file describes a program, its input files (LFNs, a directory, a dataset, a
metadata query), how to split them into jobs, and where the outputs go; each
job runs a generated wrapper that stages its inputs in from the closest good
replica, runs the program and stages the outputs out (uploaded, registered,
with metadata and ancestry). Jobs run on this host (``local``) or on Slurm.

wms_bridge uses only the public :mod:`dfc` API. The command line is
``dfc-job`` (:mod:`wms_bridge.cli`); the library entry points are
:class:`wms_bridge.control.Jobs` (tasks) and :mod:`wms_bridge.stage` (staging).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
