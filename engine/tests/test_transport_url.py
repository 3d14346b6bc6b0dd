import pytest

from murano_engine_tools.transport_url import (
    TRANSPORT_URL_VARIABLE,
    ConfigurationError,
    kombu_url,
    mask_url,
    transport_url_from_environment,
)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            "rabbit://murano:s3cret@127.0.0.1:5672//murano",
            "rabbit://murano:***@127.0.0.1:5672//murano",
        ),
        (
            "rabbit://a:p1@h1:5672,b:p2@h2:5672/vhost",
            "rabbit://a:***@h1:5672,b:***@h2:5672/vhost",
        ),
        ("rabbit://murano:@127.0.0.1//", "rabbit://murano:***@127.0.0.1//"),
        ("rabbit://127.0.0.1:5672//", "rabbit://127.0.0.1:5672//"),
        ("rabbit://guest@127.0.0.1//", "rabbit://guest@127.0.0.1//"),
        ("kombu+memory:////", "kombu+memory:////"),
    ],
)
def test_mask_url(url, masked):
    assert mask_url(url) == masked


def test_mask_url_hides_password_with_colon():
    masked = mask_url("rabbit://u:pa:ss@h//")

    assert "pa" not in masked
    assert "ss" not in masked


def test_mask_url_hides_password_with_at_sign():
    masked = mask_url("rabbit://murano:Se@Cr/Et@127.0.0.1:5672//murano")

    assert masked == "rabbit://murano:***@127.0.0.1:5672//murano"


def test_url_read_from_environment():
    environ = {TRANSPORT_URL_VARIABLE: " rabbit://u:p@h// "}

    assert transport_url_from_environment(environ) == "rabbit://u:p@h//"


@pytest.mark.parametrize("environ", [{}, {TRANSPORT_URL_VARIABLE: "  "}])
def test_missing_url_names_variable(environ):
    with pytest.raises(ConfigurationError, match=TRANSPORT_URL_VARIABLE):
        transport_url_from_environment(environ)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "rabbit://murano:s3cret@127.0.0.1:5672//murano",
            "amqp://murano:s3cret@127.0.0.1:5672//murano",
        ),
        (
            "rabbit://a:p1@h1:5672,b:p2@h2:5672/",
            "amqp://a:p1@h1:5672/;amqp://b:p2@h2:5672/",
        ),
        ("kombu+memory:////", None),
        ("rabbit:///", None),
    ],
)
def test_kombu_url(url, expected):
    assert kombu_url(url) == expected
