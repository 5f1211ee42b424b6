"""The server's bridge between its event loop and blocking catalogue calls."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from dfc.errors import LFNNotFound
from dfc.server._bridge import Bridge


def _fail() -> None:
    raise LFNNotFound("/nope: no such file or directory")


def _stop() -> None:
    raise StopIteration


def test_calls_run_on_worker_threads_and_raise_what_they_raise() -> None:
    async def main() -> None:
        bridge = Bridge(threads=2, streams=1)
        try:
            loop_thread = threading.get_ident()
            where = await bridge.run(threading.get_ident)
            assert where != loop_thread
            assert await bridge.run(lambda a, b=0: a + b, 2, b=3) == 5
            with pytest.raises(LFNNotFound):
                await bridge.run(_fail)
            with pytest.raises(RuntimeError):
                await bridge.run(_stop)
            results = await asyncio.gather(*(bridge.run(pow, i, 2) for i in range(50)))
            assert results == [i * i for i in range(50)]
        finally:
            bridge.shutdown()

    asyncio.run(main())


def test_abandoned_calls_neither_break_the_loop_nor_run_late() -> None:
    ran: list[int] = []

    def slow(i: int) -> int:
        time.sleep(0.2)
        ran.append(i)
        return i

    async def main() -> None:
        bridge = Bridge(threads=1, streams=1)
        try:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.05):
                    await asyncio.gather(bridge.run(slow, 1), bridge.run(slow, 2))
            # The first call was running and finishes; the queued one was dropped.
            assert await bridge.run(slow, 3) == 3
        finally:
            bridge.shutdown()

    asyncio.run(main())
    assert ran == [1, 3]


def test_config_chooses_processes_threads_and_event_loop() -> None:
    from dfc.errors import ConfigError
    from dfc.server.app import _loop_factory
    from dfc.server.config import ServerConfig

    config = ServerConfig.from_mapping({"catalog": "sqlite:///x.db"})
    assert (config.workers, config.threads, config.loop) == (0, 4, "auto")
    assert config.processes >= 1
    assert ServerConfig.from_mapping({"catalog": "sqlite:///x.db", "workers": 3}).processes == 3
    with pytest.raises(ConfigError, match="loop"):
        ServerConfig.from_mapping({"catalog": "sqlite:///x.db", "loop": "trio"})
    assert _loop_factory("asyncio") is None
    try:
        import uvloop
    except ImportError:
        assert _loop_factory("auto") is None
        with pytest.raises(ConfigError, match="uvloop"):
            _loop_factory("uvloop")
    else:
        assert _loop_factory("auto") is uvloop.new_event_loop
