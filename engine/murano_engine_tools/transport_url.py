"""Read and mask the oslo.messaging transport URL of the client."""

import re

TRANSPORT_URL_VARIABLE = "MURANO_TRANSPORT_URL"

# The user-info part of each broker host: "scheme://user:password@host" or,
# for more hosts, ",user:password@host".
_CREDENTIALS = re.compile(r"(?P<prefix>(?:://|,)[^:/@,]*):[^@]*@")


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
    return _CREDENTIALS.sub(r"\g<prefix>:***@", url)
