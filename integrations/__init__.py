"""Clients of the external services the apps talk to (Centrifugo); no app imports another's."""
