"""An offline repository: a directory in the ``wget --force-directories`` layout."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from shakenlib.errors import RepositoryError
from shakenlib.fetch.base import NEGATIVE_TTL, Fetched, Kind, check_at, check_kind
from shakenlib.fetch.cache import ATIS_DEFAULT_TTL, Cache, through_cache
from shakenlib.fetch.content import make_fetched
from shakenlib.fetch.policy import DEFAULT_PORTS, FetchPolicy, split_url

__all__ = ["MirrorRepository"]


class MirrorRepository:
    """An offline repository: the response for ``https://HOST/PATH`` is ``ROOT/HOST/PATH``.

    This is the layout ``wget --force-directories`` writes: a non-default port becomes
    part of the directory name (``ROOT/HOST:PORT/PATH``), a path ending in ``/`` maps to
    ``index.html``, and percent-escapes are used as they are. URLs that would escape
    ``ROOT`` (``..`` segments) are refused. Without a ``policy`` only the scheme
    (``https``) and userinfo are checked; with one, its full :meth:`FetchPolicy.check_url`.

    Responses are cached like :class:`HttpRepository`'s, in ``cache`` (shared with other
    repositories if you pass one; else the repository's own): a file's body is reused
    until its ``expires_at`` (``default_ttl``, capped at the certificate's ``notAfter``
    or the CRL's ``nextUpdate``), so a file changed in the meantime is seen only after
    that; a failure (missing file, bad content) is remembered for ``negative_ttl``. URL
    refusals (``x5u_invalid``...) are checked on every fetch, before the cache, and never
    cached. ``root`` and ``policy`` are fixed at construction (the URL-to-file mapping
    is remembered per URL).

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> MirrorRepository(root).path_for("https://cr.example.com:8443/a/b.pem").relative_to(root)
    PosixPath('cr.example.com:8443/a/b.pem')
    """

    #: How many URL-to-file mappings a mirror remembers (then it starts over).
    PATH_MEMO_SIZE = 4096

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        policy: FetchPolicy | None = None,
        default_ttl: timedelta = ATIS_DEFAULT_TTL,
        cache: Cache | None = None,
        negative_ttl: timedelta = NEGATIVE_TTL,
    ) -> None:
        self.root = Path(os.path.abspath(root))
        self.policy = policy
        self.default_ttl = default_ttl
        self.cache = cache if cache is not None else Cache()
        self.negative_ttl = negative_ttl
        # path_for is a pure function of the URL (root and policy being fixed); only
        # accepted URLs are remembered, so a refusal is re-checked every time.
        self._paths: dict[str, Path] = {}

    def path_for(self, url: str) -> Path:
        """The file that holds the response for ``url`` (refusing escapes from ROOT)."""
        if self.policy is not None:
            self.policy.check_url(url)
        parts = split_url(url)
        if self.policy is None:
            if parts.scheme.lower() != "https":
                raise RepositoryError("x5u_invalid", f"scheme {parts.scheme!r} is not https")
            if "@" in parts.netloc:
                raise RepositoryError("x5u_invalid", "userinfo ('user@') is not allowed")
        host = (parts.hostname or "").lower()
        if ":" in host:
            host = f"[{host}]"
        if parts.port is not None and parts.port != DEFAULT_PORTS.get(parts.scheme.lower()):
            host = f"{host}:{parts.port}"
        path = parts.path or "/"
        if path.endswith("/"):
            path += "index.html"
        if parts.query:
            path += "?" + parts.query
        segments = [s for s in path.split("/") if s]
        if host in (".", "..") or any(s in (".", "..") for s in segments) or "\x00" in path:
            raise RepositoryError("x5u_invalid", f"{url} would escape the mirror directory")
        target = Path(os.path.normpath(self.root.joinpath(host, *segments)))
        if os.path.commonpath([self.root, target]) != str(self.root) or target == self.root:
            raise RepositoryError("x5u_invalid", f"{url} would escape the mirror directory")
        return target

    def fetch(self, url: str, *, at: datetime, kind: Kind = "certificate") -> Fetched:
        """Read the mirrored response for ``url`` (from the cache when fresh at ``at``);
        a missing file is a 404."""
        check_at(at)
        check_kind(kind)
        target = self._paths.get(url)
        if target is None:
            target = self.path_for(url)  # raises for a refused URL: never cached
            if len(self._paths) >= self.PATH_MEMO_SIZE:
                self._paths.clear()
            self._paths[url] = target
        path = target
        return through_cache(
            self.cache,
            url,
            at=at,
            kind=kind,
            negative_ttl=self.negative_ttl,
            load=lambda: self._read(url, path, at=at, kind=kind),
        )

    def _read(self, url: str, target: Path, *, at: datetime, kind: Kind) -> Fetched:
        limit = self.policy.max_bytes if self.policy is not None else None
        try:
            with target.open("rb") as fh:
                body = fh.read() if limit is None else fh.read(limit + 1)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise RepositoryError(
                "x5u_http_status", f"HTTP 404: no file {target} in the mirror for {url}"
            ) from exc
        except OSError as exc:
            raise RepositoryError("x5u_fetch_failed", f"reading {target}: {exc}") from exc
        if limit is not None and len(body) > limit:
            raise RepositoryError("x5u_too_large", f"{target} exceeds the {limit}-byte cap")
        return make_fetched(
            url,
            body,
            at=at,
            kind=kind,
            content_type=None,
            headers=None,
            default_ttl=self.default_ttl,
            max_ttl=None,
        )
