"""`make prod` as a user runs it: scripts/prod.sh brings the production profile up, every port
moved to a free one and its state in a temporary folder, on the test database; then the pieces
it is made of: the proxy's template, the local CA, gunicorn's settings.

What a browser does over https and wss is tests/test_production_browser.py's.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from launchers.nginx import MAIN, TEMPLATE, proxy_values, render
from launchers.tls import certificate, local_certificate
from testing import django_env, free_port, wait_until

REPO = Path(__file__).resolve().parent.parent


def _get(url: str, ca_file: Path) -> tuple[int, dict[str, str], bytes]:
    context = ssl.create_default_context(cafile=str(ca_file))
    try:
        with urllib.request.urlopen(url, context=context, timeout=5) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_make_prod_serves_the_platform_over_tls_with_debug_off() -> None:
    # Open to other users, as a project folder is: nginx's workers (nobody) read static files.
    # (pytest's tmp_path is not, and its parent is shared with other test runs.)
    tmp_path = Path(tempfile.mkdtemp(prefix="make-prod-"))
    tmp_path.chmod(0o755)
    ports = {
        name: str(free_port())
        for name in (
            "WEB_PORT",
            "CENTRIFUGO_PORT",
            "CENTRIFUGO_INTERNAL_PORT",
            "FLOWER_PORT",
            "PROMETHEUS_PORT",
            "ALERTMANAGER_PORT",
            "EMAIL_PORT",
            "SMTP_WEB_PORT",
            "HTTPS_PORT",
            "HTTP_PORT",
            "JAEGER_OTLP_PORT",
            "JAEGER_QUERY_PORT",
        )
    }
    env = django_env(
        **ports,
        PROD_VAR_DIR=tmp_path / "prod",
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        CELERY_BROKER_URL="",
        WORKER_METRICS_PORT=free_port(),
        DEMO_PASSWORD="a-demo-password-for-this-test",
        PROD_SEED_DEMO="true",
    )
    env.pop("DJANGO_DEBUG", None)  # make test exports true: make prod must turn it off itself
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "JAEGER_QUERY_URL", "OTEL_SDK_DISABLED"):
        env.pop(name, None)  # make prod points its processes at its own Jaeger
    log = (tmp_path / "prod.log").open("wb")
    process = subprocess.Popen(
        ["scripts/prod.sh"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    origin = f"https://localhost:{ports['HTTPS_PORT']}"
    ca_file = tmp_path / "prod" / "tls" / "ca" / "rootCA.pem"
    try:
        try:
            wait_until(
                lambda: process.poll() is None and _get(f"{origin}/healthz", ca_file)[0] == 200,
                timeout=150,
                what=f"make prod to answer on {origin}/healthz",
                interval=1,
            )
        except TimeoutError as timeout:
            raise AssertionError((tmp_path / "prod.log").read_text()[-5000:]) from timeout
        output = (tmp_path / "prod.log").read_text()
        assert f"Chat            {origin}/chat/" in output
        assert f"wss://localhost:{ports['HTTPS_PORT']}/connection/websocket" in output
        assert "System check identified no issues" in output  # check --deploy, no warning

        status, headers, body = _get(f"{origin}/login/", ca_file)
        assert status == 200
        assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
        assert "Secure" in headers["Set-Cookie"]  # the CSRF cookie travels over https only
        # The page's live connection goes through the proxy: same origin, wss.
        status, _, body = _get(f"{origin}/api/docs/", ca_file)
        assert status == 200
        # No debug page: a missing page is a plain 404.
        status, _, body = _get(f"{origin}/no-such-page/", ca_file)
        assert status == 404 and b"URLconf" not in body
        # Static files from nginx itself, cached for a year.
        status, headers, _ = _get(f"{origin}/static/chats/chat.js", ca_file)
        assert status == 200 and "immutable" in headers["Cache-Control"]
        # /metrics is not served through the proxy (Prometheus scrapes gunicorn's port).
        assert _get(f"{origin}/metrics", ca_file)[0] == 404
        # Plain http is sent to https.
        request = urllib.request.Request(f"http://127.0.0.1:{ports['HTTP_PORT']}/chat/")
        opener = urllib.request.build_opener(_NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as redirect:
            opener.open(request, timeout=5)
        assert redirect.value.code == 301
        assert redirect.value.headers["Location"].startswith("https://127.0.0.1:")
        # The web process traced those requests into make prod's Jaeger.
        services = f"http://127.0.0.1:{ports['JAEGER_QUERY_PORT']}/api/services"
        wait_until(
            lambda: "chatplatform-web" in (json.loads(_get(services, ca_file)[2])["data"] or []),
            timeout=20,
            what="the web process's spans in make prod's Jaeger",
        )
        # The pid restore.sh stops it by.
        assert (tmp_path / "prod" / "prod.pid").read_text().strip().isdigit()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        shutil.rmtree(tmp_path, ignore_errors=True)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_the_template_takes_only_its_own_names_and_leaves_nginx_variables() -> None:
    values = proxy_values("/c.pem", "/k.pem", "/static")
    rendered = render(TEMPLATE.read_text(), values)
    assert not re.search(r"\$\{[A-Z]", rendered)
    assert "$host" in rendered and "$remote_addr" in rendered
    with pytest.raises(SystemExit, match="needs WEB_UPSTREAM"):
        render(TEMPLATE.read_text(), {k: v for k, v in values.items() if k != "WEB_UPSTREAM"})


@pytest.mark.slow
def test_nginx_accepts_the_rendered_configuration(tmp_path: Path) -> None:
    cert = local_certificate(tmp_path / "tls", ["localhost"])
    (tmp_path / "chatplatform.conf").write_text(
        render(TEMPLATE.read_text(), proxy_values(str(cert.cert_file), str(cert.key_file), "/s"))
    )
    for folder in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / "tmp" / folder).mkdir(parents=True)
    (tmp_path / "nginx.conf").write_text(MAIN.format(state=tmp_path))
    nginx = ["/usr/sbin/nginx", "-t", "-c", str(tmp_path / "nginx.conf")]
    check = subprocess.run(nginx, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def _openssl(*args: str) -> str:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=True).stdout


@pytest.mark.slow
def test_the_local_ca_signs_a_certificate_for_the_names_and_is_kept(tmp_path: Path) -> None:
    first = local_certificate(tmp_path, ["localhost", "127.0.0.1"])
    verify = subprocess.run(
        ["openssl", "verify", "-CAfile", str(first.ca_file), str(first.cert_file)],
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stderr
    names = _openssl("x509", "-noout", "-ext", "subjectAltName", "-in", str(first.cert_file))
    assert "DNS:localhost" in names and "IP Address:127.0.0.1" in names
    assert oct(first.key_file.stat().st_mode & 0o777) == "0o600"
    ca_before = first.ca_file.read_bytes()
    cert_before = first.cert_file.read_bytes()

    assert local_certificate(tmp_path, ["127.0.0.1", "localhost"]).cert_file.read_bytes() == (
        cert_before
    )  # same names, not due: nothing signed again
    renamed = local_certificate(tmp_path, ["localhost", "chat.internal"])
    assert "DNS:chat.internal" in _openssl(
        "x509", "-noout", "-ext", "subjectAltName", "-in", str(renamed.cert_file)
    )
    assert renamed.ca_file.read_bytes() == ca_before  # nothing to trust again


def test_a_real_certificate_is_used_as_given_and_half_of_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    cert.write_text("cert"), key.write_text("key")
    monkeypatch.setenv("TLS_CERT_FILE", str(cert))
    monkeypatch.setenv("TLS_KEY_FILE", str(key))
    given = certificate(tmp_path / "unused", ["localhost"])
    assert (given.cert_file, given.key_file, given.ca_file) == (cert, key, None)
    assert not (tmp_path / "unused").exists()
    monkeypatch.setenv("TLS_KEY_FILE", "")
    with pytest.raises(SystemExit, match="both TLS_CERT_FILE and TLS_KEY_FILE"):
        certificate(tmp_path, ["localhost"])


def test_gunicorn_is_sized_from_the_cores_and_keeps_database_connections() -> None:
    probe = (
        "import launchers.gunicorn_conf as c, os;"
        "print(c.workers, c.threads, c.raw_env, os.cpu_count())"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEB_", "GUNICORN_"))}
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True, check=True
    ).stdout.split(" ", 2)
    workers, threads, rest = out
    cores = int(rest.rsplit(" ", 1)[1])
    assert int(workers) == 2 * cores + 1 and threads == "1"
    assert re.search(r"DATABASE_CONN_MAX_AGE=600", rest)
