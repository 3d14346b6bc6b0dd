"""Read and mask the oslo.messaging transport URL of the client."""

import re
from urllib.parse import urlsplit

TRANSPORT_URL_VARIABLE = "MURANO_TRANSPORT_URL"

# The user-info part of each broker host: "scheme://user:password@host" or,
# for more hosts, ",user:password@host".
_CREDENTIALS = re.compile(r"(?P<prefix>(?:://|,)[^:/@,]*):[^@]*@")
# From the first user to the last "@", for a URL with more "@" than hosts:
# a password with an unencoded "@" would otherwise leave its end in view.
_ALL_CREDENTIALS = re.compile(r"(?P<prefix>://[^:/@,]*):.*@")


class ConfigurationError(Exception):
    """Invalid or missing client setting, with a message that names the fix."""


def transport_url_from_environment(environ):
    """Return the transport URL from ``environ``.

    Raises ConfigurationError when the variable is missing or empty.
    """
    url = environ.get(TRANSPORT_URL_VARIABLE, "").strip()
    if not url:
        raise ConfigurationError(
            f"missing transport URL: set {TRANSPORT_URL_VARIABLE}, for example "
            f"{TRANSPORT_URL_VARIABLE}=rabbit://USER:PASSWORD@HOST:5672//VHOST"
        )
    return url


def mask_url(url):
    """Return ``url`` with every password replaced by ``***``."""
    if url.count("@") > url.count(",") + 1:
        return _ALL_CREDENTIALS.sub(r"\g<prefix>:***@", url)
    return _CREDENTIALS.sub(r"\g<prefix>:***@", url)


def kombu_url(url):
    """Return kombu's URL for an oslo.messaging ``rabbit://`` transport URL.

    Several brokers become kombu's failover list, separated by ";". Returns
    None for other schemes.
    """
    parts = urlsplit(url)
    if parts.scheme != "rabbit" or not parts.netloc:
        return None
    return ";".join(f"amqp://{host}{parts.path}" for host in parts.netloc.split(","))
