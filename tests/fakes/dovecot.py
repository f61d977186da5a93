"""A throwaway Dovecot IMAP server for integration tests.

Started in the foreground in its own process group, with every directory
under a fresh temp dir (not pytest's ``tmp_path``: the mail uid cannot enter
it). Any user logs in with ``PASSWORD``. ``stop()``/``start()`` keep the port
and the mail, so a test can kill the server and bring it back.

With ``oauth2_url`` it also offers XOAUTH2 and OAUTHBEARER, whose bearer
tokens it checks at that RFC 7662 introspection endpoint (see
``tests/fakes/oauth_introspect.py``); PLAIN/LOGIN with ``PASSWORD`` keep
working alongside. Without it the configuration is exactly the password-only
one.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.services import free_port, need_binary

PASSWORD = "secret"

_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
info_log_path = {base}/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
mail_location = maildir:{base}/mail/%n
default_internal_user = {internal}
default_internal_group = {group}
default_login_user = {login}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_max_userip_connections = 100
passdb {{
  driver = static
  args = password={password}{static_mechanisms}
}}{oauth2_passdb}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={base}/mail/%n
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
"""

_OAUTH2_PASSDB = """
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {conf}
}}"""

# introspection only (no tokeninfo_url): the endpoint says whether the token
# is active and whose it is; Dovecot refuses a token of another user
_OAUTH2_CONF = """\
introspection_mode = post
introspection_url = {url}
username_attribute = username
active_attribute = active
active_value = true
timeout_msecs = 5000
"""


class Dovecot:
    """One Dovecot instance; ``host``/``port`` to connect, ``PASSWORD`` for all."""

    def __init__(
        self,
        binary: str,
        tls: bool = False,
        oauth2_url: str | None = None,
        password: str = PASSWORD,
    ) -> None:
        self.binary = binary
        self.password = password
        self.host = "127.0.0.1"
        self.port = free_port()
        self.tls_port = free_port() if tls else 0
        self.base = Path(tempfile.mkdtemp(prefix="dengar-dovecot-"))
        self.base.chmod(0o755)
        # with tls: a self-signed certificate for 127.0.0.1; tests trust it
        # through SSL_CERT_FILE=<cert_file>
        self.cert_file = self.base / "cert.pem"
        ssl_conf = "ssl = no"
        if tls:
            key = self.base / "key.pem"
            subprocess.run(
                [
                    "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(self.cert_file),
                ],
                check=True,
                capture_output=True,
            )  # fmt: skip
            ssl_conf = f"ssl = yes\nssl_cert = <{self.cert_file}\nssl_key = <{key}"
        self.proc: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            internal, login = "dovecot", "dovenull"
        else:
            internal = login = pwd.getpwuid(os.geteuid()).pw_name
        entry = pwd.getpwnam(internal)
        self.uid, self.gid = entry.pw_uid, entry.pw_gid
        (self.base / "mail").mkdir()
        os.chown(self.base / "mail", self.uid, self.gid)
        group = grp.getgrgid(self.gid).gr_name
        mechanisms, static_mechanisms, oauth2_passdb = "plain login", "", ""
        if oauth2_url is not None:
            oauth2_conf = self.base / "dovecot-oauth2.conf.ext"
            oauth2_conf.write_text(_OAUTH2_CONF.format(url=oauth2_url))
            mechanisms = "plain login xoauth2 oauthbearer"
            # the password must not be tried as a token, nor a token as one
            static_mechanisms = "\n  mechanisms = plain login"
            oauth2_passdb = _OAUTH2_PASSDB.format(conf=oauth2_conf)
        self.conf = self.base / "dovecot.conf"
        self.conf.write_text(
            _CONF.format(
                base=self.base,
                internal=internal,
                group=group,
                login=login,
                uid=self.uid,
                gid=self.gid,
                password=password,
                port=self.port,
                tls_port=self.tls_port,
                ssl=ssl_conf,
                mechanisms=mechanisms,
                static_mechanisms=static_mechanisms,
                oauth2_passdb=oauth2_passdb,
            )
        )

    def start(self) -> None:
        """Start (or restart) the server and wait until it accepts connections."""
        self.proc = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.conf)],
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read() if self.proc.stderr else b""
                raise RuntimeError(f"dovecot exited: {err.decode(errors='replace')}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), timeout=0.5),
            ):
                return
            time.sleep(0.02)
        raise RuntimeError("dovecot did not start listening within 10 s")

    def stop(self) -> None:
        """Kill the whole process group (master and its imap children)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None
        # the listener must be gone before a restart reuses the port
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    time.sleep(0.05)
            except OSError:
                return

    def cleanup(self) -> None:
        """Stop and remove every file."""
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def client(self, user: str = "citizen") -> object:
        """A logged-in imapclient connection, for a test to APPEND or inspect."""
        from imapclient import IMAPClient

        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        client.login(user, self.password)
        return client


@contextmanager
def running_dovecot(
    tls: bool = False, oauth2_url: str | None = None, password: str = PASSWORD
) -> Iterator[Dovecot]:
    """A started Dovecot, removed afterwards; skips (or fails in CI) without
    the binary. Tests wrap it in a fixture of the scope they need. ``tls``
    adds IMAPS on ``tls_port`` and STARTTLS on ``port``; ``oauth2_url`` adds
    XOAUTH2/OAUTHBEARER checked at that introspection endpoint; ``password``
    replaces ``PASSWORD`` for every user."""
    binary = need_binary("dovecot", "apt-get install dovecot-imapd")
    if tls:
        need_binary("openssl", "apt-get install openssl")
    server = Dovecot(binary, tls=tls, oauth2_url=oauth2_url, password=password)
    server.start()
    try:
        yield server
    finally:
        server.cleanup()
