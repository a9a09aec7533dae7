"""Run Debian's nginx as make prod's TLS proxy, in the foreground, from the template compose uses.

    python -m launchers.nginx --state var/prod/nginx --cert C --key K   # scripts/prod.sh runs it

deploy/nginx/chatplatform.conf.template is the one description of the proxy; this fills in its
${NAMES} as the nginx image does in compose (only those names, from `values`), wraps it in a
main configuration that needs no root (pid, temporary files and logs under `--state`), checks it
with `nginx -t`, and becomes nginx. Ports come from .env: HTTPS_PORT (8443), HTTP_PORT (8080,
redirects to https), WEB_PORT (gunicorn), CENTRIFUGO_PORT (its WebSocket).
"""

from __future__ import annotations

import argparse
import os
import pwd
import re
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "nginx" / "chatplatform.conf.template"
NGINX = "/usr/sbin/nginx"

MAIN = """\
# Written by launchers/nginx.py at each start; edit deploy/nginx/chatplatform.conf.template.
worker_processes auto;
pid {state}/nginx.pid;
error_log stderr notice;
events {{
    worker_connections 4096;
}}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    access_log {state}/access.log;
    client_body_temp_path {state}/tmp/body;
    proxy_temp_path {state}/tmp/proxy;
    fastcgi_temp_path {state}/tmp/fastcgi;
    uwsgi_temp_path {state}/tmp/uwsgi;
    scgi_temp_path {state}/tmp/scgi;
    include {state}/chatplatform.conf;
}}
"""


def render(template: str, values: dict[str, str]) -> str:
    """`template` with each ${NAME} of `values` filled in; any other ${UPPER} is an error, so
    a name missing here cannot reach nginx as text. nginx's own $variables are left alone."""
    names = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", template))
    missing = sorted(names - values.keys())
    if missing:
        raise SystemExit(f"{TEMPLATE.name} needs {', '.join(missing)}")
    return re.sub(r"\$\{([A-Z][A-Z0-9_]*)\}", lambda match: values[match[1]], template)


def proxy_values(cert: str, key: str, static_root: str) -> dict[str, str]:
    """The template's names for make prod, from the environment (make prod exports .env)."""
    https_port = os.environ.get("HTTPS_PORT") or "8443"
    return {
        "HTTPS_PORT": https_port,
        "HTTP_PORT": os.environ.get("HTTP_PORT") or "8080",
        "PUBLIC_PORT_SUFFIX": "" if https_port == "443" else f":{https_port}",
        "WEB_UPSTREAM": f"127.0.0.1:{os.environ.get('WEB_PORT') or '8000'}",
        "CENTRIFUGO_UPSTREAM": f"127.0.0.1:{os.environ.get('CENTRIFUGO_PORT') or '8001'}",
        "STATIC_ROOT": static_root,
        "TLS_CERT_FILE": cert,
        "TLS_KEY_FILE": key,
    }


def unreadable_by_others(path: Path) -> Path | None:
    """The first folder from / down to `path` that other users cannot enter (or `path` itself
    if they cannot list it): started as root, nginx's workers run as nobody and read as others."""
    for folder in [*reversed(path.parents), path]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH or (folder == path and not mode & stat.S_IROTH):
            return folder
    return None


def write_config(state: Path, values: dict[str, str]) -> Path:
    """Write nginx.conf and its server part under `state`; return the main file's path."""
    for folder in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (state / "tmp" / folder).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:  # started as root, nginx's workers run as nobody: their folders
            nobody = pwd.getpwnam("nobody")
            os.chown(state / "tmp" / folder, nobody.pw_uid, nobody.pw_gid)
    (state / "chatplatform.conf").write_text(render(TEMPLATE.read_text(), values))
    main = state / "nginx.conf"
    main.write_text(MAIN.format(state=state))
    return main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state", type=Path, required=True, help="folder for config, pid, logs")
    parser.add_argument("--cert", required=True, help="PEM certificate (chain) served")
    parser.add_argument("--key", required=True, help="its private key")
    parser.add_argument("--static-root", required=True, help="collectstatic's folder")
    args = parser.parse_args(argv)
    state = args.state.resolve()
    static_root = Path(args.static_root).resolve()
    if os.geteuid() == 0 and (closed := unreadable_by_others(static_root)):
        raise SystemExit(
            f"nginx's workers (user nobody, as nginx started by root) cannot read {static_root}:"
            f" {closed} is closed to other users. chmod o+rx it, or start as the user who owns"
            " the project"
        )
    config = write_config(state, proxy_values(args.cert, args.key, args.static_root))
    check = subprocess.run([NGINX, "-t", "-q", "-c", str(config)], capture_output=True, text=True)
    if check.returncode:
        raise SystemExit(f"nginx refuses {config}:\n{check.stderr}")
    os.execv(NGINX, [NGINX, "-c", str(config), "-g", "daemon off;"])  # noqa: S606 - fixed path


if __name__ == "__main__":
    main(sys.argv[1:])
