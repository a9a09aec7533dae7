"""The certificate the TLS proxy serves: a real domain's, or one signed by a local CA made here.

    python -m launchers.tls --dir var/prod/tls localhost 127.0.0.1   # make prod runs it

With TLS_CERT_FILE and TLS_KEY_FILE set (a real domain's certificate, e.g. from certbot), those
are used as they are. Otherwise mkcert (filippo.io/mkcert, built by scripts/prod.sh into
.tools/bin like Centrifugo) makes a local certificate authority in `<dir>/ca` on first run and
signs a certificate for the given names with it; a browser trusts it once the CA is installed
(`CAROOT=<dir>/ca .tools/bin/mkcert -install`, docs/deploy.md). The certificate is signed again
when the names change or it has less than 30 days left; the CA is kept, so nothing needs
trusting again. mkcert rather than hand-written X.509: it is made for exactly this, and the
same tool installs the CA into the system's and the browsers' trust stores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MKCERT = ROOT / ".tools" / "bin" / "mkcert"
RENEW_DAYS = 30


@dataclass(frozen=True)
class Certificate:
    """PEM files the proxy serves, and the CA that signed them (None: not ours to show)."""

    cert_file: Path
    key_file: Path
    ca_file: Path | None


def _expires_soon(cert_file: Path) -> bool:
    """Whether `cert_file` expires within RENEW_DAYS (or cannot be read), by openssl's check."""
    result = subprocess.run(
        ["openssl", "x509", "-noout", "-checkend", str(RENEW_DAYS * 86400), "-in", str(cert_file)],
        capture_output=True,
        check=False,
    )
    return result.returncode != 0


def local_certificate(directory: Path, names: list[str], mkcert: Path = MKCERT) -> Certificate:
    """A certificate for `names` signed by the local CA of `directory`, renewed when due."""
    ca_dir = directory / "ca"
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    stamp = directory / "names.json"
    wanted = sorted(set(names))
    current = json.loads(stamp.read_text()) if stamp.exists() else None
    if current != wanted or not cert_file.exists() or _expires_soon(cert_file):
        if not mkcert.exists():
            raise SystemExit(f"{mkcert} is missing: scripts/prod.sh builds it (make prod)")
        ca_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        subprocess.run(
            [str(mkcert), "-cert-file", str(cert_file), "-key-file", str(key_file), *wanted],
            env={**os.environ, "CAROOT": str(ca_dir)},
            check=True,
            capture_output=True,
        )
        key_file.chmod(0o600)
        stamp.write_text(json.dumps(wanted))
    return Certificate(cert_file, key_file, ca_dir / "rootCA.pem")


def certificate(directory: Path, names: list[str]) -> Certificate:
    """TLS_CERT_FILE/TLS_KEY_FILE when set (both, or neither), else the local one."""
    given = os.environ.get("TLS_CERT_FILE", ""), os.environ.get("TLS_KEY_FILE", "")
    if any(given):
        if not all(given):
            raise SystemExit("set both TLS_CERT_FILE and TLS_KEY_FILE, or neither (a local CA)")
        for path in given:
            if not Path(path).is_file():
                raise SystemExit(f"{path} (TLS_CERT_FILE/TLS_KEY_FILE) does not exist")
        return Certificate(Path(given[0]), Path(given[1]), None)
    return local_certificate(directory, names)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, required=True, help="where the local CA and cert live")
    parser.add_argument("names", nargs="+", help="host names and addresses the certificate names")
    args = parser.parse_args(argv)
    cert = certificate(args.dir, args.names)
    print(json.dumps({key: str(value) for key, value in vars(cert).items() if value}))


if __name__ == "__main__":
    main(sys.argv[1:])
