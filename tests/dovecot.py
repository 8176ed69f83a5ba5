"""A private Dovecot on loopback for IMAP tests: its own config, users and maildirs.

Runs as root with mail delivered as the `mail` user (Dovecot refuses uid 0 for mail).
Needs Debian's dovecot-imapd; .ci/run installs it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from imapclient import IMAPClient

CONFIG = """
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
default_internal_user = dovecot
default_login_user = dovenull
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
"""


class Dovecot:
    def __init__(self, port: int, users: dict[str, str]) -> None:
        if shutil.which("dovecot") is None:
            raise RuntimeError("Dovecot is not installed: apt-get install dovecot-imapd")
        self.port = port
        self.users = users
        self.root = Path(tempfile.mkdtemp(prefix="mailhub-dovecot-"))
        self.root.chmod(0o755)  # the mail user walks into home/
        for sub in ("run", "state", "home"):
            (self.root / sub).mkdir()
        shutil.chown(self.root / "home", "mail", "mail")
        (self.root / "passwd").write_text("".join(f"{u}:{{PLAIN}}{p}\n" for u, p in users.items()))
        self.config = self.root / "dovecot.conf"
        self.config.write_text(CONFIG.format(root=self.root, port=port))

    def start(self) -> None:
        subprocess.run(["dovecot", "-c", str(self.config)], check=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                self.client(next(iter(self.users))).logout()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"Dovecot did not start; see {self.root}/dovecot.log")

    def stop(self) -> None:
        subprocess.run(["doveadm", "-c", str(self.config), "stop"], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def client(self, user: str) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=30)
        client.login(user, self.users[user])
        return client

    def deliver(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        """Put a message in a mailbox the way a mail client or MDA would: IMAP APPEND."""
        client = self.client(user)
        try:
            client.append(folder, raw)
        finally:
            client.logout()

    def count(self, user: str, folder: str) -> int:
        client = self.client(user)
        try:
            if not client.folder_exists(folder):
                return 0
            return int(client.select_folder(folder, readonly=True)[b"EXISTS"])
        finally:
            client.logout()
