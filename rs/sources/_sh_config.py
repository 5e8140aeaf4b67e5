"""Sentinel Hub credentials and errors: the ``SHConfig`` of a source, sentinelhub-py's and
oauthlib's exceptions as rs errors, rate-limit warnings, and the secret kept out of logs.

Credentials come from ``SH_CLIENT_ID`` / ``SH_CLIENT_SECRET`` (they win) or sentinelhub's
config file (``config_profile``); with no profile and no file nothing is read or created there.
The secret goes to sentinelhub-py only; rs's messages name the variables, never their values,
and a log filter replaces it in what requests-oauthlib logs at DEBUG (the token request body).
"""

from __future__ import annotations

import contextlib
import logging
import os
import urllib.parse
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rs.errors import RsWarning, SourceError, SourceUnavailableError

if TYPE_CHECKING:
    from sentinelhub import SHConfig

__all__ = ["SentinelHubOptions", "rate_limits", "sh_config", "sh_errors"]

_HINT = (
    "set SH_CLIENT_ID and SH_CLIENT_SECRET to an OAuth client of your Sentinel Hub account, or "
    "give the source a `config_profile` of sentinelhub's config file holding sh_client_id and "
    "sh_client_secret"
)


@dataclass(frozen=True)
class SentinelHubOptions:
    """What a ``kind: sentinelhub`` source asks for (``rs.pipeline.spec.SentinelHubSource``)."""

    collection: str = "sentinel-2-l2a"
    base_url: str | None = None
    token_url: str | None = None
    config_profile: str | None = None
    max_cloud_cover: float | None = None
    tile_size: int = 1000
    retries: int = 4
    retry_wait: float = 5.0
    timeout: float = 120.0
    max_threads: int = 4


def sh_config(opts: SentinelHubOptions) -> SHConfig:
    """The sentinelhub-py configuration of ``opts``: credentials from the environment or the
    config file, URLs, retries and timeout. Raises :class:`SourceError` naming what to set."""
    from sentinelhub import SHConfig

    location = SHConfig.get_config_location()
    profile = opts.config_profile or os.environ.get("SH_PROFILE") or "default-profile"
    if not os.path.exists(location):
        if opts.config_profile is not None:
            raise SourceError(
                f"the source's config_profile {profile!r} needs sentinelhub's config file, "
                f"and there is none at {location}: create it or {_HINT}"
            )
        env = {k: os.environ.get(v, "") for k, v in
               (("sh_client_id", "SH_CLIENT_ID"), ("sh_client_secret", "SH_CLIENT_SECRET"))}
        config = SHConfig(use_defaults=True, **env)  # reads, and creates, no file
    else:
        try:
            config = SHConfig(opts.config_profile)
        except KeyError as e:
            raise SourceError(
                f"sentinelhub's config file {location} has no profile {profile!r}: add it "
                f"(`sentinelhub.config --profile NAME ...`) or {_HINT}"
            ) from e
        except (OSError, ValueError) as e:
            raise SourceError(f"cannot read sentinelhub's config file {location}: {e}") from e
    if opts.base_url:
        config.sh_base_url = opts.base_url.rstrip("/")
    if opts.token_url:
        config.sh_token_url = opts.token_url
    config.max_download_attempts = opts.retries + 1
    config.max_retries = opts.retries + 1  # answers 429 in a row before giving up
    config.download_sleep_time = opts.retry_wait
    config.download_timeout_seconds = opts.timeout
    if not (config.sh_client_id and config.sh_client_secret):
        raise SourceError(f"no Sentinel Hub credentials found: {_HINT}")
    _REDACT.hide(config.sh_client_secret)
    return config


class _Redact(logging.Filter):
    """Replaces secrets in log records: requests-oauthlib logs the token request's body (the
    client secret) at DEBUG, which a caller's logging setup might print or keep."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def hide(self, secret: str) -> None:
        self.secrets |= {secret, urllib.parse.quote_plus(secret), urllib.parse.quote(secret)}
        for name in _OAUTH_LOGGERS:
            logger = logging.getLogger(name)
            if self not in logger.filters:
                logger.addFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if any(s in text for s in self.secrets):
            for s in sorted(self.secrets, key=len, reverse=True):
                text = text.replace(s, "***")
            record.msg, record.args = text, ()
        return True


_OAUTH_LOGGERS = ("requests_oauthlib.oauth2_session", "oauthlib")
_REDACT = _Redact()


@contextlib.contextmanager
def sh_errors(config: SHConfig, what: str) -> Iterator[None]:
    """sentinelhub-py's and oauthlib's exceptions as rs errors saying what to change."""
    from oauthlib.oauth2.rfc6749.errors import OAuth2Error
    from sentinelhub.exceptions import DownloadFailedException, OutOfRequestsException

    try:
        yield
    except OAuth2Error as e:
        raise SourceError(
            f"Sentinel Hub refused to sign in at {config.sh_token_url} ({e.error}): {_HINT}"
        ) from e
    except OutOfRequestsException as e:
        raise SourceUnavailableError(
            f"Sentinel Hub {what}: still rate limited (HTTP 429) after {config.max_retries} "
            "attempts; run again later or raise the source's `retries`"
        ) from e
    except DownloadFailedException as e:
        response = getattr(e.request_exception, "response", None)
        status = getattr(response, "status_code", None)
        if status in (401, 403):
            raise SourceError(
                f"Sentinel Hub {what}: HTTP {status}, the credentials are not accepted: {_HINT}"
            ) from e
        if status is None or status >= 500:
            cause = e.request_exception
            detail = f"HTTP {status}" if status else f"{type(cause).__name__}: {cause}"[:400]
            tls = " (a private certificate: point REQUESTS_CA_BUNDLE at it)" if (
                "CERTIFICATE_VERIFY_FAILED" in detail) else ""
            raise SourceUnavailableError(
                f"Sentinel Hub {what} failed after {config.max_download_attempts} attempts "
                f"({detail}){tls}; check `base_url` / `token_url` and the network, or run again "
                "later"
            ) from e
        raise SourceError(f"Sentinel Hub {what} was refused: {e}") from e


@contextlib.contextmanager
def rate_limits(what: str) -> Iterator[None]:
    """sentinelhub-py's warning per HTTP 429 answer as one :class:`RsWarning` for ``what``
    (other warnings pass through unchanged)."""
    from sentinelhub.exceptions import SHRateLimitWarning

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", SHRateLimitWarning)
        yield
    limited = 0
    for w in seen:
        if issubclass(w.category, SHRateLimitWarning):
            limited += 1
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if limited:
        warnings.warn(
            f"Sentinel Hub {what}: rate limited (HTTP 429) {limited} time(s); rs waited as the "
            "service asked and retried",
            RsWarning,
            stacklevel=3,
        )
