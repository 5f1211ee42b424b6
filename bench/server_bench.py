"""Benchmark: the catalogue server over mutual TLS vs the embedded catalogue, same run.

Builds a throw-away PKI (the test suite's), a catalogue with N files (default 10,000,
two replicas each) owned by alice, and starts ``dfc server`` on 127.0.0.1. Then:

1. ``stat`` rate: C concurrent clients (default 16), each with its own keep-alive TLS
   connection presenting alice's VOMS proxy, send ``POST /api/v1/catalog/stat`` for one
   random LFN per request for D seconds and decode the answer; all C are driven by one
   lean asyncio process (uvloop when installed), because the clients share the machine's
   cores with the server. Against the same C clients calling ``DFC.stat`` on the embedded
   catalogue (same authorisation, in-process; 4 processes x 4 threads). The server's and
   the client's CPU time per request are printed too.
2. Bulk replica lookup: one ``replicas()`` call for 10,000 LFNs through the server
   (``RemoteCatalog``, wire format included) vs ``DFC.replicas`` embedded.

Prints requests/s, LFNs/s and the ratios.

    python bench/server_bench.py                       # SQLite catalogue
    python bench/server_bench.py --catalog postgresql+psycopg://user@host/db
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing as mp
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dfc import DFC, Settings  # noqa: E402
from dfc.api import _wire  # noqa: E402
from dfc.auth import Identity  # noqa: E402
from dfc.auth.tls import client_context  # noqa: E402
from dfc.catalog import AccessControl, Catalog  # noqa: E402
from dfc.models import FileRecord, Replica, SEInfo  # noqa: E402
from dfc.server.config import ServerConfig  # noqa: E402

HOME = "/juno/user/a/alice/bench"
ALICE = "/DC=org/DC=junotest/O=JUNO/CN=Alice Tester"


def lfn(i: int) -> str:
    return f"{HOME}/d{i % 10:02d}/f{i:07d}.root"


def prepare(url: str, nfiles: int, root: Path) -> None:
    cat = Catalog(url)
    cat.upgrade()
    with cat.transaction() as tx:
        acl = AccessControl(tx)
        acl.add_group("juno")
        acl.map_fqan("/juno", "juno")
        acl.add_user("alice", dns=[ALICE, "local:alice"], group="juno")
        tx.add_se(SEInfo("IHEP-DISK", f"file://{root}/ihep"))
        tx.add_se(SEInfo("CNAF-DISK", f"file://{root}/cnaf"))
        reps = (Replica("IHEP-DISK", ""), Replica("CNAF-DISK", ""))
        records = [
            FileRecord(lfn(i), 1000 + i, "00000001", None, "", reps, owner="alice", group="juno")
            for i in range(nfiles)
        ]
        tx.mkdir([HOME], parents=True, owner="alice", group="juno")
        tx.add_files(records, owner="alice", group="juno").raise_first()
    cat.close()


def start_server(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dfc.server", "--config", str(config)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    return proc


def _cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its descendants (Linux)."""
    total, todo = 0.0, [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        one = todo.pop()
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{one}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def wait_healthy(port: int, ca_dir: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPSConnection(
                "localhost", port, context=client_context(ca_dir=ca_dir), timeout=2
            )
            conn.request("GET", "/api/v1/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not start")


# ---------------------------------------------------------------------- stat clients
def _stat_request(name: str) -> bytes:
    body = _wire.dumps({"args": {"lfns": [name]}})
    head = (
        "POST /api/v1/catalog/stat HTTP/1.1\r\nHost: localhost\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _stat_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str) -> bool:
    """One keep-alive ``POST /api/v1/catalog/stat``; True if the entry came back."""
    writer.write(_stat_request(name))
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = -1
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == b"content-length":
            length = int(value)
    if length < 0:
        raise SystemExit("the server answered without Content-Length")
    reply = _wire.loads(await reader.readexactly(length))
    return status == 200 and name in reply["result"].succeeded


async def _remote_clients(
    port: int, ca_dir: str, proxy: str, nfiles: int, clients: int, seconds: float
) -> tuple[int, int]:
    """``clients`` keep-alive mutual-TLS connections, each presenting alice's proxy."""
    ctx = client_context(ca_dir=Path(ca_dir), proxy=Path(proxy))
    conns = [await asyncio.open_connection("localhost", port, ssl=ctx) for _ in range(clients)]
    for reader, writer in conns:  # handshake and first request outside the timing
        await _stat_once(reader, writer, lfn(0))
    counts = [0, 0]
    end = time.perf_counter() + seconds

    async def run(k: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        rng = random.Random(k)
        while time.perf_counter() < end:
            counts[0 if await _stat_once(reader, writer, lfn(rng.randrange(nfiles))) else 1] += 1

    await asyncio.gather(*(run(k, r, w) for k, (r, w) in enumerate(conns)))
    for _, writer in conns:
        writer.close()
    return counts[0], counts[1]


def remote_stat_rate(
    port: int, ca_dir: str, proxy: str, nfiles: int, clients: int, seconds: float
) -> tuple[float, int, float]:
    """Stats/s through the server, errors, and the client's CPU seconds per request.

    One lean client process (asyncio, uvloop when installed) drives all connections so
    that the client steals as little CPU from the server on the shared cores as it can.
    """
    factory = None
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        pass
    cpu = time.process_time()
    with asyncio.Runner(loop_factory=factory) as runner:
        ok, errors = runner.run(_remote_clients(port, ca_dir, proxy, nfiles, clients, seconds))
    cpu = time.process_time() - cpu
    return ok / seconds, errors, cpu / max(ok + errors, 1)


def _embedded_worker(url: str, nfiles: int, threads: int, seconds: float, out: mp.Queue) -> None:
    counts = [0] * threads
    start = threading.Barrier(threads)
    api = DFC(Settings.load(catalog=url), identity=Identity.local("alice", fqans=["/juno"]))
    api.stat([lfn(0)])

    def run(k: int) -> None:
        rng = random.Random(k)
        start.wait()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            if api.stat([lfn(rng.randrange(nfiles))]).ok:
                counts[k] += 1

    workers = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    api.close()
    out.put((sum(counts), 0))


def stat_rate(
    target: object, args: tuple[object, ...], procs: int, seconds: float
) -> tuple[float, int]:
    out: mp.Queue = mp.Queue()
    workers = [mp.Process(target=target, args=(*args, seconds, out)) for _ in range(procs)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    results = [out.get() for _ in workers]
    for w in workers:
        w.join()
    del t0
    ok = sum(r[0] for r in results)
    return ok / seconds, sum(r[1] for r in results)


# ---------------------------------------------------------------------- bulk lookups
def bulk(api: DFC, names: list[str], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        res = api.replicas(names)
        best = min(best, time.perf_counter() - t0)
        assert not res.failed, res.failed
        assert len(res.succeeded) == len(names)
        assert all(len(r) == 2 for r in res.succeeded.values())
    return len(names) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--catalog", help="a database URL (default: a temporary SQLite file)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--processes", type=int, default=4, help="processes of the embedded peer's clients"
    )
    parser.add_argument(
        "--loop",
        choices=["auto", "asyncio", "uvloop"],
        help="the server's event loop (default: the server's)",
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--threads", type=int, default=0, help="server database threads (default: the server's)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="server processes (default: the server's, one per CPU)",
    )
    args = parser.parse_args()

    from tests.auth.pki import build_pki
    from tests.servers._proc import free_port

    with tempfile.TemporaryDirectory(prefix="dfc-server-bench-") as tmp:
        root = Path(tmp)
        pki = build_pki(root / "pki")
        url = args.catalog or f"sqlite:///{root / 'catalog.db'}"
        t0 = time.perf_counter()
        prepare(url, args.files, root)
        print(f"catalogue: {url.split('://')[0]}, {args.files} files, "
              f"prepared in {time.perf_counter() - t0:.1f}s")  # fmt: skip
        proxy = pki.write("bench", pki.proxy("alice", fqans=["/juno"]))
        port = free_port()
        config = root / "server.toml"
        config.write_text(
            f'catalog = "{url}"\nhost = "127.0.0.1"\nport = {port}\n'
            f'hostcert = "{pki.host.cert_path}"\nhostkey = "{pki.host.key_path}"\n'
            f'ca_dir = "{pki.ca_dir}"\nvomsdir = "{pki.vomsdir}"\n'
            + (f"threads = {args.threads}\n" if args.threads else "")
            + f'workers = {args.workers}\nlog_level = "warning"\n'
            + (f'loop = "{args.loop}"\n' if args.loop else "")
        )
        workers = ServerConfig.load(config).processes
        server = start_server(config, root / "server.log")
        try:
            wait_healthy(port, pki.ca_dir)
            per = args.clients // args.processes
            before = _cpu_seconds(server.pid)
            remote_rate, errors, client_cpu = remote_stat_rate(
                port, str(pki.ca_dir), str(proxy), args.files, args.clients, args.seconds
            )
            server_cpu = (_cpu_seconds(server.pid) - before) / max(remote_rate * args.seconds, 1)
            local_rate, _ = stat_rate(
                _embedded_worker, (url, args.files, per), args.processes, args.seconds
            )
            print(f"stat, {args.clients} concurrent clients, {args.seconds:.0f}s each "
                  f"(load average {os.getloadavg()[0]:.1f}):")  # fmt: skip
            print(f"  server (mutual TLS, {workers} process(es)): {remote_rate:8.0f} stats/s"
                  f"  ({errors} errors; CPU per request: server {server_cpu * 1e6:.0f} us, "
                  f"client {client_cpu * 1e6:.0f} us)")  # fmt: skip
            print(f"  embedded (DFC.stat, in-process):  {local_rate:8.0f} stats/s")
            print(f"  ratio server/embedded: {remote_rate / local_rate:.2f}")

            names = [lfn(i) for i in range(min(args.files, 10_000))]
            random.Random(1).shuffle(names)
            os.environ.update(X509_USER_PROXY=str(proxy), X509_CERT_DIR=str(pki.ca_dir))
            with DFC(Settings.load(catalog=f"https://localhost:{port}")) as remote:
                remote_bulk = bulk(remote, names, 5)
            alice = Identity.local("alice", fqans=["/juno"])
            with DFC(Settings.load(catalog=url), identity=alice) as local:
                local_bulk = bulk(local, names, 5)
            print(f"bulk replica lookup of {len(names)} LFNs (best of 5):")
            print(f"  server:   {remote_bulk:9.0f} LFNs/s")
            print(f"  embedded: {local_bulk:9.0f} LFNs/s")
            print(f"  ratio server/embedded: {remote_bulk / local_bulk:.2f}")
            print(json.dumps({
                "stat_per_s_server": round(remote_rate), "stat_per_s_embedded": round(local_rate),
                "bulk_lfns_per_s_server": round(remote_bulk),
                "bulk_lfns_per_s_embedded": round(local_bulk),
            }))  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
