"""The login file: the server and token `fabric login` stored, in the user's config directory.

`$FABRIC_CONFIG` names the file outright; otherwise it is `login.json` in platformdirs' user config dir for
`datafabric` (`~/.config/datafabric/login.json` on Linux). It holds a token, so it is written with mode 0600
(and its directory 0700), replaced atomically. Environment variables and command-line options win over it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

CONFIG_ENV = "FABRIC_CONFIG"
APP_NAME = "datafabric"


@dataclass(frozen=True, slots=True)
class Login:
    url: str
    token: str | None = None


def login_path() -> Path:
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        return Path(explicit).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False)) / "login.json"


def load_login() -> Login | None:
    """The stored login, or None when there is none (a file that is not ours reads as none)."""
    try:
        data = json.loads(login_path().read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        return None
    token = data.get("token")
    return Login(url=data["url"], token=token if isinstance(token, str) else None)


def save_login(login: Login) -> Path:
    """Write the login file (0600, atomically) and return its path."""
    path = login_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".login-", suffix=".json")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({key: value for key, value in asdict(login).items() if value is not None}, out, indent=2)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def forget_login() -> Path | None:
    """Remove the login file; its path if there was one."""
    path = login_path()
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    return path
