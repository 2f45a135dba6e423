"""Public test helpers: a STIR/SHAKEN test PKI (:mod:`shakenlib.testing.pki`) and a local
HTTPS certificate repository server (:mod:`shakenlib.testing.server`)."""
