"""Is a port free to listen on? Checked before a server starts, so a taken port is reported at once.

Example:
    >>> if in_use("127.0.0.1", 8000):
    ...     print(taken("127.0.0.1", 8000, "EKA_API_PORT"))
"""

from __future__ import annotations

import errno
import socket

__all__ = ["in_use", "suggest", "taken"]


def in_use(host: str, port: int) -> bool:
    """Whether another socket already listens on ``host:port`` (binding there fails with EADDRINUSE).

    Other bind errors (a host this machine does not have, a privileged port) are left to the server to
    report: they are not a port conflict.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror:
        return False
    with socket.socket(family, kind, proto) as sock:
        # as servers do (uvicorn, Streamlit): a port whose old connections linger in TIME_WAIT is free
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as err:
            return err.errno == errno.EADDRINUSE
    return False


def suggest(host: str, port: int, avoid: tuple[int, ...] = ()) -> int:
    """A free port near ``port`` to propose instead (``port + 10`` upwards, skipping ``avoid``)."""
    for candidate in range(port + 10, min(port + 110, 65536)):
        if candidate not in avoid and not in_use(host, candidate):
            return candidate
    return port + 10


def taken(host: str, port: int, variable: str, avoid: tuple[int, ...] = ()) -> str:
    """``port 8000 is in use by another program: set EKA_API_PORT=8010 (or stop that program)``."""
    return (
        f"port {port} is in use by another program: set {variable}={suggest(host, port, avoid)} "
        "(or stop that program)"
    )
