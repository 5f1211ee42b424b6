"""The bulk transfer engine (FTS): persistent, asynchronous, verified replication.

Modules:

- :mod:`dfc.fts.job`: file and job states, the claimed :class:`~dfc.fts.job.Task`
  and its :class:`~dfc.fts.job.Outcome`;
- :mod:`dfc.fts.engine`: the asyncio scheduler loop (claim, copy, settle);
- :mod:`dfc.fts.scheduler`: caps, per-link limits, priorities and fair shares;
- :mod:`dfc.fts.optimizer`: the FTS3-style per-link concurrency optimizer;
- :mod:`dfc.fts.retry`: error classification and backoff;
- :mod:`dfc.fts.copy` and :mod:`dfc.fts.localcopy`: one verified try of one file;
- :mod:`dfc.fts.sources`: source choice and SE clients;
- :mod:`dfc.fts.agent`: agents (heartbeat, the SQLite one-agent lock, signals);
- :mod:`dfc.fts.replicate`: the queue over the catalogue (the only module here
  that touches :mod:`dfc.catalog`);
- :mod:`dfc.fts.config`: the ``[transfers]`` settings.

The public entry points are the ``fts_*`` methods and ``replicate`` of
:class:`dfc.DFC`, and the ``dfc fts`` commands.
"""

from __future__ import annotations
