"""A real pgstac on loopback for the publish tests: PostgreSQL + PostGIS from the Debian
packages (``postgresql``, ``postgresql-<ver>-postgis-3``), migrated by pypgstac, and
stac-fastapi-pgstac served by uvicorn in a subprocess.

:func:`pgstac_server` makes a fresh cluster in a temporary folder (``initdb``, password
authentication over TCP, the unix socket in the folder too), starts it with ``pg_ctl`` on
127.0.0.1 and a free port, creates the database, ``CREATE EXTENSION postgis``, runs
``pypgstac migrate``, starts the API, and tears all of it down on exit. :func:`pg_bin`
finds the binaries (None when they are not installed: the tests skip, saying so).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from rs.sources.local import free_port

USER = "rs"
PASSWORD = "s3cret-pw"  # the tests check that it is never printed
DATABASE = "catalog"


def pg_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<ver>/bin`` with initdb and a PostGIS extension."""
    root = Path("/usr/lib/postgresql")
    if not root.is_dir():
        return None
    for ver in sorted((p.name for p in root.iterdir()), key=lambda v: int(v) if v.isdigit() else 0,
                      reverse=True):
        control = Path(f"/usr/share/postgresql/{ver}/extension/postgis.control")
        if (root / ver / "bin" / "initdb").is_file() and control.is_file():
            return root / ver / "bin"
    return None


@dataclass(frozen=True)
class Pgstac:
    dsn: str  # postgresql://rs:<password>@127.0.0.1:<port>/catalog
    api_url: str  # the STAC API's root, http://127.0.0.1:<port>/


def _run(cmd: list[str], **kw: object) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({done.returncode}): {done.stderr[-2000:]}")


@contextmanager
def pgstac_server(bin_dir: Path) -> Iterator[Pgstac]:
    """A fresh cluster, database, pgstac and STAC API; all stopped and removed on exit."""
    # a folder of its own under the system temp folder: when the tests run as root the
    # server runs as the postgres user, which cannot enter pytest's private tmp folders
    tmp = Path(tempfile.mkdtemp(prefix="rs-pgstac-"))
    data, sock, pwfile = tmp / "pgdata", tmp / "sock", tmp / "pw"
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    as_postgres: dict[str, object] = {}
    api: subprocess.Popen[bytes] | None = None
    stack = ExitStack()
    try:
        sock.mkdir()
        pwfile.write_text(PASSWORD)
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as postgres
            import pwd

            uid = pwd.getpwnam("postgres").pw_uid
            for p in (tmp, sock, pwfile):
                os.chown(p, uid, -1)
            as_postgres = {"user": "postgres", "group": "postgres"}
        _run([str(bin_dir / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={pwfile}",
              "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"],
             env=env, **as_postgres)
        port = free_port()
        opts = (f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={sock} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(tmp / "pg.log"), "-o", opts,
              "-w", "-t", "60", "start"], env=env, **as_postgres)
        _run([str(bin_dir / "createdb"), "-h", str(sock), "-p", str(port), "-U", USER, DATABASE],
             env=env)
        _run([str(bin_dir / "psql"), "-h", str(sock), "-p", str(port), "-U", USER, "-d",
              DATABASE, "-v", "ON_ERROR_STOP=1", "-q", "-c", "CREATE EXTENSION postgis"], env=env)
        dsn = f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{port}/{DATABASE}"
        _run([str(Path(sys.executable).parent / "pypgstac"), "migrate", "--dsn", dsn], env=env)
        api_port = free_port()
        api_env = {**env, "PGUSER": USER, "PGPASSWORD": PASSWORD, "PGHOST": "127.0.0.1",
                   "PGPORT": str(port), "PGDATABASE": DATABASE}
        log = stack.enter_context(open(tmp / "api.log", "wb"))  # noqa: SIM115
        api = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "stac_fastapi.pgstac.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(api_port), "--log-level", "warning"],
            env=api_env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=log,
        )
        api_url = f"http://127.0.0.1:{api_port}/"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(api_url, timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if api.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the STAC API did not start: {(tmp / 'api.log').read_text()}")
            time.sleep(0.2)
        yield Pgstac(dsn, api_url)
    finally:
        if api is not None:
            api.terminate()
            try:
                api.wait(10)
            except subprocess.TimeoutExpired:
                api.kill()
                api.wait()
        if (data / "postmaster.pid").exists():
            subprocess.run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                           capture_output=True, check=False, env=env, **as_postgres)  # type: ignore[call-overload]
        stack.close()
        shutil.rmtree(tmp, ignore_errors=True)
