"""The webhook's TLS: a certificate and key from files, reloaded without closing the listener.

The listening context never changes; for each new connection its SNI callback (which
OpenSSL calls with or without SNI) hands the handshake to the context last loaded. A reload
(SIGHUP, or the files' modification times changing) builds a whole new context first, so a
half-written or mismatched pair is refused with a log line and the old certificate stays.
Connections already open keep the certificate they shook hands with.
"""

import asyncio
import logging
import os
import signal
import ssl
from pathlib import Path

log = logging.getLogger(__name__)


def _context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context


class ReloadingTLS:
    def __init__(self, cert_file: Path, key_file: Path) -> None:
        self._cert_file, self._key_file = cert_file, key_file
        self._current = _context(cert_file, key_file)  # a bad pair refuses start-up
        self._stamp = self._stamps()
        self.listening = _context(cert_file, key_file)
        self.listening.sni_callback = self._choose
        self.reloads = 0

    def _choose(self, connection: ssl.SSLObject, _name: str | None, _: ssl.SSLContext) -> None:
        connection.context = self._current

    def _stamps(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """Inode and modification time of both files: a renewal replaces or rewrites them."""
        cert, key = os.stat(self._cert_file), os.stat(self._key_file)
        return (cert.st_ino, cert.st_mtime_ns), (key.st_ino, key.st_mtime_ns)

    def reload(self) -> bool:
        """Load the files again; True when the new pair is in use (else the old one stays)."""
        try:
            stamp = self._stamps()
        except OSError as exc:
            log.error(
                "TLS certificate not reloaded; the previous one stays", extra={"error": str(exc)}
            )
            return False
        self._stamp = stamp  # a bad pair is tried again when the files change again
        try:
            self._current = _context(self._cert_file, self._key_file)
        except (OSError, ssl.SSLError) as exc:
            log.error(
                "TLS certificate not reloaded; the previous one stays", extra={"error": str(exc)}
            )
            return False
        self.reloads += 1
        log.info("TLS certificate reloaded", extra={"cert_file": str(self._cert_file)})
        return True

    def changed(self) -> bool:
        try:
            return self._stamps() != self._stamp
        except OSError:
            return False  # mid-replacement: look again next time

    async def watch(self, interval: float) -> None:
        """Reload on SIGHUP and whenever the files change (checked every `interval` s)."""
        loop = asyncio.get_running_loop()
        hangup = asyncio.Event()
        loop.add_signal_handler(signal.SIGHUP, hangup.set)
        try:
            while True:
                try:
                    await asyncio.wait_for(hangup.wait(), interval)
                except TimeoutError:
                    pass
                if hangup.is_set() or await asyncio.to_thread(self.changed):
                    hangup.clear()
                    await asyncio.to_thread(self.reload)
        finally:
            loop.remove_signal_handler(signal.SIGHUP)
