"""Kafka client security options follow the settings (PLAINTEXT locally, SCRAM over TLS on Strimzi)."""

import ssl

from ltc.shared.kafka import kafka_options
from ltc.shared.settings import ServiceSettings


def test_plaintext_by_default():
    assert kafka_options(ServiceSettings()) == {"security_protocol": "PLAINTEXT"}


def test_scram_over_tls_carries_the_user_and_a_tls_context():
    options = kafka_options(ServiceSettings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="ltc-leads",
                                            kafka_sasl_password="s3cret"))
    assert options["security_protocol"] == "SASL_SSL"
    assert (options["sasl_mechanism"], options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "SCRAM-SHA-512", "ltc-leads", "s3cret")
    assert isinstance(options["ssl_context"], ssl.SSLContext)


def test_production_refuses_the_development_secret():
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="LTC_JWT_SECRET"):
        ServiceSettings(env="production")
    assert ServiceSettings(env="production", jwt_secret="a-real-secret").env == "production"
    assert ServiceSettings(env="production", jwt_jwks_url="https://idp.example/jwks").jwt_jwks_url
