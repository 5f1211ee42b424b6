"""Benchmark: the catalogue server over mutual TLS vs the embedded catalogue, same run.

Builds a throw-away PKI (the test suite's), a catalogue with N files (default 10,000,
two replicas each) owned by alice, and starts ``dfc server`` on 127.0.0.1. Then:

1. ``stat`` rate: C concurrent clients (default 16: 4 processes x 4 threads), each with
   its own TLS connection presenting alice's VOMS proxy, stat one LFN per request for
   D seconds; against the same C clients calling ``DFC.stat`` on the embedded catalogue
   (same authorisation, in-process).
2. Bulk replica lookup: one ``replicas()`` call for 10,000 LFNs through the server
   (``RemoteCatalog``, wire format included) vs ``DFC.replicas`` embedded.

Prints requests/s, LFNs/s and the ratios.

    python bench/server_bench.py                       # SQLite catalogue
    python bench/server_bench.py --catalog postgresql+psycopg://user@host/db
"""

from __future__ import annotations

import argparse
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
def _remote_worker(
    port: int, ca_dir: str, proxy: str, nfiles: int, threads: int, seconds: float, out: mp.Queue
) -> None:
    counts = [0] * threads
    errors = [0] * threads
    start = threading.Barrier(threads)

    def run(k: int) -> None:
        ctx = client_context(ca_dir=Path(ca_dir), proxy=Path(proxy))
        conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=30)
        rng = random.Random(k)
        headers = {"Content-Type": "application/json"}
        conn.request("POST", "/api/v1/catalog/stat", _wire.dumps({"args": {"lfns": [lfn(0)]}}),
                     headers)  # fmt: skip
        conn.getresponse().read()  # handshake and first request outside the timing
        start.wait()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            body = _wire.dumps({"args": {"lfns": [lfn(rng.randrange(nfiles))]}})
            conn.request("POST", "/api/v1/catalog/stat", body, headers)
            resp = conn.getresponse()
            data = resp.read()
            if resp.status == 200 and b'"Bulk"' in data:
                counts[k] += 1
            else:
                errors[k] += 1
        conn.close()

    workers = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put((sum(counts), sum(errors)))


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
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=8, help="server database threads")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
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
            f'ca_dir = "{pki.ca_dir}"\nvomsdir = "{pki.vomsdir}"\nthreads = {args.threads}\n'
            f"workers = {args.workers}\n"
            f'log_level = "warning"\n'
        )
        server = start_server(config, root / "server.log")
        try:
            wait_healthy(port, pki.ca_dir)
            per = args.clients // args.processes
            remote_rate, errors = stat_rate(
                _remote_worker,
                (port, str(pki.ca_dir), str(proxy), args.files, per),
                args.processes,
                args.seconds,
            )
            local_rate, _ = stat_rate(
                _embedded_worker, (url, args.files, per), args.processes, args.seconds
            )
            print(f"stat, {args.clients} concurrent clients, {args.seconds:.0f}s each:")
            print(f"  server (mutual TLS, {args.workers} process(es)): {remote_rate:8.0f} stats/s"
                  f"  ({errors} errors)")  # fmt: skip
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
