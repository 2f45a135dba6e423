"""The ATIS-1000074 §5.3.1 certificate retrieval rules (:class:`FetchPolicy`) and the
special-purpose address test (RFC 6890). Pure: URL text in, a refusal or nothing out."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from urllib.parse import SplitResult, urlsplit

import attrs

from shakenlib.errors import RepositoryError
from shakenlib.fetch.base import NEGATIVE_TTL
from shakenlib.fetch.cache import ATIS_DEFAULT_TTL

__all__ = ["FetchPolicy", "is_special_purpose_address"]

#: The port a URL without one uses.
DEFAULT_PORTS = {"https": 443, "http": 80}


# --------------------------------------------------------------------------- addresses
# IANA IPv4/IPv6 Special-Purpose Address Registries (RFC 6890 and its updates
# RFC 8190, RFC 9637, RFC 9602). ATIS-1000074 §5.3.1 / SSRF: never fetch from these.
_SPECIAL_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # "this network" (RFC 791)
        "10.0.0.0/8",  # private-use (RFC 1918)
        "100.64.0.0/10",  # shared address space / CGNAT (RFC 6598)
        "127.0.0.0/8",  # loopback (RFC 1122)
        "169.254.0.0/16",  # link-local (RFC 3927)
        "172.16.0.0/12",  # private-use (RFC 1918)
        "192.0.0.0/24",  # IETF protocol assignments (RFC 6890)
        "192.0.2.0/24",  # documentation TEST-NET-1 (RFC 5737)
        "192.31.196.0/24",  # AS112-v4 (RFC 7535)
        "192.52.193.0/24",  # AMT (RFC 7450)
        "192.88.99.0/24",  # deprecated 6to4 relay anycast (RFC 7526)
        "192.168.0.0/16",  # private-use (RFC 1918)
        "192.175.48.0/24",  # direct delegation AS112 (RFC 7534)
        "198.18.0.0/15",  # benchmarking (RFC 2544)
        "198.51.100.0/24",  # documentation TEST-NET-2 (RFC 5737)
        "203.0.113.0/24",  # documentation TEST-NET-3 (RFC 5737)
        "224.0.0.0/4",  # multicast (RFC 5771)
        "240.0.0.0/4",  # reserved (RFC 1112), includes 255.255.255.255 limited broadcast
    )
)
_SPECIAL_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/8",  # reserved: unspecified ::, loopback ::1, IPv4-compatible (RFC 4291)
        "::ffff:0:0/96",  # IPv4-mapped (RFC 4291)
        "64:ff9b:1::/48",  # local-use IPv4/IPv6 translation (RFC 8215)
        "100::/64",  # discard-only (RFC 6666)
        "2001::/23",  # IETF protocol assignments incl. Teredo 2001::/32 (RFC 2928, 4380)
        "2001:db8::/32",  # documentation (RFC 3849)
        "2002::/16",  # 6to4 (RFC 3056)
        "3fff::/20",  # documentation (RFC 9637)
        "5f00::/16",  # SRv6 SIDs (RFC 9602)
        "fc00::/7",  # unique-local (RFC 4193)
        "fe80::/10",  # link-local unicast (RFC 4291)
        "fec0::/10",  # deprecated site-local (RFC 3879)
        "ff00::/8",  # multicast (RFC 4291)
    )
)
_NAT64_WKP = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: embeds an IPv4 address


def is_special_purpose_address(address: str) -> bool:
    """Whether ``address`` (an IP literal) is special-purpose and so must not be fetched from.

    Covers the IANA special-purpose registries (RFC 6890 and updates: loopback, RFC 1918,
    link-local, CGNAT, documentation, multicast, reserved, IPv6 ULA/link-local/mapped...)
    and anything Python's :mod:`ipaddress` does not consider globally reachable. An IPv4
    address embedded in the NAT64 prefix ``64:ff9b::/96`` is judged as IPv4. A string
    that is not an IP literal counts as special (refuse what cannot be judged).

    >>> [is_special_purpose_address(a) for a in ("8.8.8.8", "127.0.0.1", "10.1.2.3")]
    [False, True, True]
    >>> [is_special_purpose_address(a) for a in ("::ffff:127.0.0.1", "fe80::1%eth0", "fd00::1")]
    [True, True, True]
    >>> is_special_purpose_address("224.0.0.251"), is_special_purpose_address("100.64.0.1")
    (True, True)
    """
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id is not None:
            ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
        if ip in _NAT64_WKP:
            return is_special_purpose_address(str(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)))
        if any(ip in net for net in _SPECIAL_V6):
            return True
    elif any(ip in net for net in _SPECIAL_V4):
        return True
    return not ip.is_global or ip.is_multicast or ip.is_reserved


# ------------------------------------------------------------------------------ policy
@attrs.frozen
class FetchPolicy:
    """The ATIS-1000074 §5.3.1 certificate retrieval rules, as data.

    Defaults: ``https`` only, port 443 or 8443, no userinfo, query, fragment or path
    parameters, no redirects, no special-purpose addresses, 2 s timeouts, 64 KiB cap,
    24 h default cache lifetime, failures remembered for 60 s. ``ports=None`` allows any
    port. ``verify_tls`` is ``True`` (system trust store) or a CA bundle path.

    >>> FetchPolicy().check_url("https://cert.sticr.att.net:8443/certs/att/abc")
    >>> FetchPolicy().check_url("https://cr.example.com:8080/x.pem")
    Traceback (most recent call last):
    ...
    shakenlib.errors.RepositoryError: x5u_invalid: port 8080 is not allowed (allowed: 443, 8443)
    """

    schemes: frozenset[str] = frozenset({"https"})
    ports: frozenset[int] | None = frozenset({443, 8443})
    allow_userinfo: bool = False
    allow_query: bool = False
    allow_fragment: bool = False
    allow_path_params: bool = False
    follow_redirects: bool = False
    connect_timeout: float = 2.0
    read_timeout: float = 2.0
    #: Deadline (seconds) for the whole exchange: connect, TLS, status line, headers and
    #: body. A server dribbling bytes cannot hold a fetch (or the calls waiting on it).
    total_timeout: float = 5.0
    max_bytes: int = 65536
    verify_tls: bool | str = True
    default_ttl: timedelta = ATIS_DEFAULT_TTL
    negative_ttl: timedelta = NEGATIVE_TTL
    max_ttl: timedelta | None = None
    # Set only by shakenlib.testing.loopback_policy (through _loopback_policy): there is no
    # constructor argument, and attrs.evolve drops it, so production code cannot reach it.
    _loopback: bool = attrs.field(default=False, init=False, repr=False)

    @property
    def allows_special_addresses(self) -> bool:
        """Whether special-purpose addresses (loopback...) may be reached: only a policy
        made by :func:`shakenlib.testing.loopback_policy` for a local test repository."""
        return self._loopback

    def check_url(self, url: str) -> None:
        """Refuse a URL the policy does not allow (``x5u_invalid``; a special-purpose IP
        literal gives ``x5u_address_forbidden``). Names are checked again after
        resolution, at connect time, by :class:`HttpRepository`."""
        parts = split_url(url)
        scheme = parts.scheme.lower()
        if scheme not in self.schemes:
            allowed = ", ".join(sorted(self.schemes))
            raise RepositoryError(
                "x5u_invalid", f"scheme {scheme!r} is not allowed (allowed: {allowed})"
            )
        if "@" in parts.netloc and not self.allow_userinfo:
            raise RepositoryError("x5u_invalid", "userinfo ('user@') in the URL is not allowed")
        port = _port(parts)
        if self.ports is not None and port not in self.ports:
            allowed = ", ".join(str(p) for p in sorted(self.ports))
            raise RepositoryError("x5u_invalid", f"port {port} is not allowed (allowed: {allowed})")
        if "?" in url and not self.allow_query:
            raise RepositoryError("x5u_invalid", "a query ('?...') in the URL is not allowed")
        if "#" in url and not self.allow_fragment:
            raise RepositoryError("x5u_invalid", "a fragment ('#...') in the URL is not allowed")
        if ";" in parts.path and not self.allow_path_params:
            raise RepositoryError(
                "x5u_invalid", "path parameters (';...') in the URL are not allowed"
            )
        host = parts.hostname or ""
        special = _is_ip_literal(host) and is_special_purpose_address(host)
        if special and not self._loopback:
            raise RepositoryError(
                "x5u_address_forbidden", f"host {host} is a special-purpose address (RFC 6890)"
            )


def _loopback_policy(policy: FetchPolicy) -> FetchPolicy:
    """``policy`` allowing special-purpose addresses (for :mod:`shakenlib.testing` only)."""
    relaxed = attrs.evolve(policy)
    object.__setattr__(relaxed, "_loopback", True)
    return relaxed


def split_url(url: str) -> SplitResult:
    # RFC 3986 §3: URI = scheme ":" hier-part [ "?" query ] [ "#" fragment ];
    # hier-part = "//" authority path-abempty; authority = [ userinfo "@" ] host [ ":" port ]
    if not isinstance(url, str) or not url:
        raise RepositoryError("x5u_invalid", "the URL is empty")
    if any(ord(c) <= 0x20 or c in '\x7f<>"\\{}|^`' for c in url):
        raise RepositoryError(
            "x5u_invalid", "the URL contains spaces or characters RFC 3986 forbids"
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise RepositoryError("x5u_invalid", f"the URL does not parse: {exc}") from exc
    if not parts.scheme or not parts.netloc or not parts.hostname:
        raise RepositoryError("x5u_invalid", "the URL is not absolute (scheme://host/path)")
    _check_host(parts.hostname)
    return parts


def _check_host(host: str) -> None:
    # RFC 1035 §2.3.4 and RFC 1123 §2.1: a name is labels of 1 to 63 octets, at most 253
    # octets in all (a trailing dot names the root); RFC 5891: a non-ASCII name must have
    # an IDNA A-label form. The HTTP stack would raise UnicodeError on either.
    if _is_ip_literal(host):
        return
    try:
        name = host.encode("idna")
    except UnicodeError as exc:
        raise RepositoryError("x5u_invalid", f"host {host[:80]!r} is not a valid DNS name") from exc
    labels = name[:-1].split(b".") if name.endswith(b".") else name.split(b".")
    if len(name) > 253 or any(not 1 <= len(label) <= 63 for label in labels):
        raise RepositoryError(
            "x5u_invalid", f"host {host[:80]!r} is not a valid DNS name (empty or long label)"
        )


def _port(parts: SplitResult) -> int:
    if parts.port is not None:
        return parts.port
    return DEFAULT_PORTS.get(parts.scheme.lower(), 0)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
